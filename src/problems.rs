//! Problems with the user's files (config, lists, databases) that the filter works around.
//!
//! A typo in config.toml or one bad line in allow.txt must not switch filtering off: the
//! filter scores with what still works (the default for a bad key, the other list entries, the
//! rules and the starter table without a usable database) and says so in the message
//! (`SPAMFILT_DEGRADED`, `X-Spam-Degraded`) and on stderr. `spamfilt lint` prints the same
//! problems as `FILE:LINE: message`; `train`, `purge` and the other commands that change something keep
//! refusing, while the ones that only show what the config and lists say (`rules`, `list show`) warn
//! (`commands::load_to_inspect`).

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based, when the problem is on a line.
    pub line: Option<usize>,
    /// 1-based (characters), when the problem is known to start at a place in its line.
    pub column: Option<usize>,
    pub message: String,
}

impl Problem {
    pub fn new(file: &Path, line: Option<usize>, message: impl Into<String>) -> Problem {
        Problem { file: file.to_path_buf(), line, column: None, message: message.into() }
    }

    /// A problem at a line and column.
    pub fn at(file: &Path, line: Option<usize>, column: Option<usize>, message: impl Into<String>) -> Problem {
        Problem { column: column.filter(|_| line.is_some()), ..Problem::new(file, line, message) }
    }

    /// The short form for the message header: the file's name (not its directory), the line
    /// and the message, cut to a readable length.
    ///
    /// A header value is plain ASCII (RFC 5322): the text goes through [`header_text`], and the
    /// file is named by its name wherever the message names it by its path (the path, and the
    /// directory of a file beside it, stay on standard error and in `lint`).
    pub fn short(&self) -> String {
        let name =
            self.file.file_name().map_or_else(|| self.file.display().to_string(), |n| n.to_string_lossy().into());
        // serde's list of every valid key is for the terminal, not for a header.
        let mut message = self.message.split(", expected one of").next().unwrap_or_default().to_string();
        let path = self.file.display().to_string();
        if !path.is_empty() && path != name {
            message = replace_path(&message, &path, &name);
            // Another file in the same directory (`tokens.db.corrupt-…`, `lr.weights`) by its name too.
            if let Some(dir) = self.file.parent().map(|d| d.display().to_string()).filter(|d| !d.is_empty()) {
                message = replace_path(&message, &format!("{dir}/"), "");
            }
        }
        let mut msg = header_text(&message.chars().take(160).collect::<String>());
        if message.chars().count() > 160 {
            msg.push_str("...");
        }
        match self.line {
            Some(l) => format!("{name} line {l}: {msg}"),
            None => format!("{name}: {msg}"),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            (None, _) => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// `text` with `path` replaced by `with` where `path` starts a word (at the start, or after a
/// space, quote or bracket): a relative `--db db` must not turn `otherdb/x` into `otherx`.
fn replace_path(text: &str, path: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(path) {
        // The character before the match, in what was already written or in what is left.
        let before = rest[..i].chars().next_back().or_else(|| out.chars().next_back());
        let starts_word = before.is_none_or(|c| c.is_whitespace() || "`'\"([<".contains(c));
        out.push_str(&rest[..i]);
        out.push_str(if starts_word { with } else { path });
        rest = &rest[i + path.len()..];
    }
    out.push_str(rest);
    out
}

/// `text` as a header value may hold it: plain ASCII (RFC 5322 allows nothing else unencoded),
/// with no control characters. An ellipsis becomes `...`, a control character (a line break) a
/// space, and any other character outside ASCII `?`.
pub fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2026}' => out.push_str("..."),
            c if c.is_control() => out.push(' '),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Splits a "line N: rest" message (as list and config parsers write them) into its parts.
pub fn split_line(message: &str) -> (Option<usize>, String) {
    if let Some(rest) = message.strip_prefix("line ") {
        if let Some((n, msg)) = rest.split_once(": ") {
            if let Ok(n) = n.parse() {
                return (Some(n), msg.to_string());
            }
        }
    }
    (None, message.to_string())
}

/// A TOML error as "line N, column C: message" for the text it came from (`split_position`
/// takes it apart).
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let n = line_of(text, span.start);
            let start = text[..span.start.min(text.len())].rfind('\n').map_or(0, |p| p + 1);
            let col = text.get(start..span.start.min(text.len())).map_or(0, |t| t.chars().count()) + 1;
            // Name the key when the line holds one (`dns = { resolver = "x" }` → `dns`).
            let line = text.lines().nth(n - 1).unwrap_or("");
            match line.split_once('=').map(|(k, _)| k.trim()).filter(|k| !k.is_empty() && !k.starts_with('[')) {
                Some(key) if !msg.contains(&format!("`{key}`")) => format!("line {n}, column {col}: {key}: {msg}"),
                _ => format!("line {n}, column {col}: {msg}"),
            }
        }
        None => msg,
    }
}

/// Splits a "line N, column C: rest" or "line N: rest" message into its parts.
pub fn split_position(message: &str) -> (Option<usize>, Option<usize>, String) {
    let (line, rest) = split_line(message);
    if line.is_some() {
        return (line, None, rest);
    }
    if let Some(rest) = message.strip_prefix("line ") {
        if let Some((pos, msg)) = rest.split_once(": ") {
            if let Some((n, c)) = pos.split_once(", column ") {
                if let (Ok(n), Ok(c)) = (n.parse(), c.parse()) {
                    return (Some(n), Some(c), msg.to_string());
                }
            }
        }
    }
    (None, None, message.to_string())
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// An error's text as `{:#}` writes it (each cause after the last, ": " between), but each I/O
/// error without the " (os error 2)" that Rust puts after the system's own words: "No such file
/// or directory" says it to the user; the number says nothing more. Only the I/O error's own text
/// loses it: a file name or any other cause that happens to contain "(os error 2)" is kept.
pub fn error_text(err: &anyhow::Error) -> String {
    err.chain().map(cause_text).collect::<Vec<_>>().join(": ")
}

/// The innermost cause alone, as [`error_text`] words it (`Permission denied`): for a message
/// that names the path itself.
pub fn root_cause_text(err: &anyhow::Error) -> String {
    cause_text(err.root_cause())
}

fn cause_text(e: &(dyn std::error::Error + 'static)) -> String {
    let text = e.to_string();
    if let Some(code) = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::raw_os_error) {
        if let Some(words) = text.strip_suffix(&format!(" (os error {code})")) {
            return words.to_string();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::Problem;

    /// A header value names the file alone and is plain ASCII: on fbb856a a lr.weights that was
    /// a directory gave `X-Spam-Degraded: lr.weights: refusing to use the LR weight file
    /// /home/jan/.local/share/spamfilt/lr.weights: ...`, and a long cause ended in `…`.
    #[test]
    fn the_short_form_is_ascii_and_names_files_by_name() {
        let p = Problem::new(
            Path::new("/home/jan/.local/share/spamfilt/lr.weights"),
            None,
            "refusing to use the LR weight file /home/jan/.local/share/spamfilt/lr.weights: it is not a regular \
             file; see /home/jan/.local/share/spamfilt/tokens.db too",
        );
        assert_eq!(
            p.short(),
            "lr.weights: refusing to use the LR weight file lr.weights: it is not a regular file; see tokens.db too"
        );
        let p = Problem::new(Path::new("/etc/c.toml"), Some(1), format!("required_scor\u{e9}: {}", "x".repeat(200)));
        let s = p.short();
        assert!(s.is_ascii() && s.starts_with("c.toml line 1: required_scor?: xxx") && s.ends_with("x..."), "{s}");
        assert_eq!(super::header_text("a\u{2026}\nb\u{e9}"), "a... b?");
        // A relative directory is replaced only where a path starts.
        let p = Problem::new(Path::new("db/lr.weights"), None, "db/lr.weights is not otherdb/lr.weights ('db/x')");
        assert_eq!(p.short(), "lr.weights: lr.weights is not otherdb/lr.weights ('x')");
    }

    #[test]
    fn os_error_numbers_are_left_out() {
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(2)).context("cannot read /x");
        assert_eq!(format!("{e:#}"), "cannot read /x: No such file or directory (os error 2)");
        assert_eq!(super::error_text(&e), "cannot read /x: No such file or directory");
        // Only the I/O error's own words lose it, not a file name.
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(2)).context("cannot open a (os error 2).eml");
        assert_eq!(super::error_text(&e), "cannot open a (os error 2).eml: No such file or directory");
        let e = anyhow::anyhow!("not I/O (os error 2)");
        assert_eq!(super::error_text(&e), "not I/O (os error 2)");
    }
}
