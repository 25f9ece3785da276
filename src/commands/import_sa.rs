//! `spamfilt import-sa FILE…`: a SpamAssassin `user_prefs` or `local.cf` into spamfilt's config
//! and lists, with every line that was not imported named as `FILE:LINE`.
//!
//! Mapped: whitelist_from / welcomelist_from (allow list), blacklist_from / blocklist_from
//! (block list), required_score / required_hits, rewrite_header Subject (subject_tag), score
//! lines for rules that exist here ([scores]), trusted_networks / internal_networks. What a
//! user's own config already sets is kept. Directives that need nothing here (report_safe,
//! use_bayes…) are notes; everything else is "not imported" and makes the exit status 1.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, ImportSaArgs};
use crate::config::{self, Settings};
use crate::lists::{self, Entry};
use crate::store::files;

/// What one file's lines turned into.
#[derive(Debug, Default, PartialEq)]
pub struct Conversion {
    pub allow: Vec<(usize, Entry)>,
    pub block: Vec<(usize, Entry)>,
    /// Top-level config keys with their TOML values (`required_score`, `subject_tag`,
    /// `trusted_networks`), the line they came from.
    pub keys: Vec<(usize, &'static str, toml::Value)>,
    pub scores: Vec<(usize, String, f64)>,
    /// Lines that need nothing here, with why.
    pub notes: Vec<(usize, String)>,
    /// Lines that were not imported, with why.
    pub not_imported: Vec<(usize, String)>,
}

/// Directives that have nothing to import, and why.
const NOTHING_TO_DO: &[(&str, &str)] = &[
    ("report_safe", "spamfilt never wraps a message: it only adds X-Spam-* fields (as report_safe 0)"),
    ("use_bayes", "spamfilt always uses its Bayes database once trained (--no-bayes turns it off per run)"),
    (
        "bayes_auto_learn",
        "spamfilt learns only what you train (the nightly purge learns old Junk: see contrib/crontab)",
    ),
    ("bayes_path", "spamfilt's database is --db (default ~/.local/share/spamfilt); retrain from your folders"),
    ("bayes_file_mode", "spamfilt's files are private to their owner"),
    ("lock_method", "spamfilt locks its own database"),
    ("fold_headers", "spamfilt folds its fields at 78 columns"),
    ("add_header", "spamfilt writes X-Spam-Status, X-Spam-Level and X-Spam-Flag, as SpamAssassin does by default"),
    ("remove_header", "spamfilt writes X-Spam-Status, X-Spam-Level and X-Spam-Flag, as SpamAssassin does by default"),
    ("skip_rbl_checks", "DNS checks are off unless `dns` is set in config.toml"),
    ("use_razor2", "spamfilt has no Razor, Pyzor or DCC checks"),
    ("use_pyzor", "spamfilt has no Razor, Pyzor or DCC checks"),
    ("use_dcc", "spamfilt has no Razor, Pyzor or DCC checks"),
];

/// Reads the text of a SpamAssassin config file. `known_rule` says whether spamfilt has a rule
/// of that name.
pub fn convert(text: &str, known_rule: &dyn Fn(&str) -> bool) -> Conversion {
    let mut c = Conversion::default();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (directive, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        let directive = directive.to_ascii_lowercase();
        let args: Vec<&str> = rest.split_whitespace().collect();
        match directive.as_str() {
            "whitelist_from" | "welcomelist_from" | "blacklist_from" | "blocklist_from" => {
                let allow = directive.starts_with('w');
                for a in &args {
                    match Entry::parse(a) {
                        Ok(e) if allow => c.allow.push((n, e)),
                        Ok(e) => c.block.push((n, e)),
                        Err(e) => c.not_imported.push((n, format!("{directive} {a}: {e:#}"))),
                    }
                }
                if args.is_empty() {
                    c.not_imported.push((n, format!("{directive}: no address")));
                }
            }
            "whitelist_from_rcvd"
            | "welcomelist_from_rcvd"
            | "def_whitelist_from_rcvd"
            | "whitelist_auth"
            | "welcomelist_auth"
            | "whitelist_from_spf"
            | "whitelist_from_dkim" => c.not_imported.push((
                n,
                format!(
                    "{line}: an allow entry here has no relay or authentication condition of its own; add the \
                     address with `spamfilt list allow add` and set allow_requires_auth = true (DKIM or SPF must pass)"
                ),
            )),
            "required_score" | "required_hits" => match one_number(&args) {
                Some(v) => c.keys.push((n, "required_score", toml::Value::Float(v))),
                None => c.not_imported.push((n, format!("{line}: not a number"))),
            },
            "rewrite_header" => match rest.split_once(char::is_whitespace) {
                Some((h, tag)) if h.eq_ignore_ascii_case("subject") => {
                    let tag = tag.trim();
                    if tag.contains("_SCORE") || tag.contains("_REQD_") || tag.contains("_HITS_") {
                        c.not_imported.push((n, format!("{line}: templates such as _SCORE_ are not supported")));
                    } else if tag.is_empty() || tag.len() > 64 || !tag.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                        c.not_imported.push((n, format!("{line}: the tag must be 1 to 64 printable ASCII characters")));
                    } else {
                        c.keys.push((n, "subject_tag", toml::Value::String(tag.to_string())));
                    }
                }
                _ => c.not_imported.push((n, format!("{line}: only the Subject can be tagged (subject_tag)"))),
            },
            "score" => {
                let Some((name, values)) = args.split_first() else {
                    c.not_imported.push((n, format!("{line}: no rule name")));
                    continue;
                };
                // SpamAssassin's four scores are for (no Bayes, no network), (network), (Bayes),
                // (Bayes + network): spamfilt scores with Bayes, so the third when given.
                let v = match values.len() {
                    1 => values[0].parse::<f64>().ok(),
                    4 => values[2].parse::<f64>().ok(),
                    _ => None,
                };
                match v.filter(|v| v.is_finite()) {
                    None => c.not_imported.push((n, format!("{line}: expected one or four numbers"))),
                    Some(_) if !known_rule(name) => c.not_imported.push((
                        n,
                        format!(
                            "{line}: spamfilt has no rule {name} (`spamfilt rules` lists them){}",
                            crate::rules::not_a_rule(name)
                        ),
                    )),
                    Some(v) => c.scores.push((n, name.to_string(), v)),
                }
            }
            "trusted_networks" | "internal_networks" => {
                let mut nets = Vec::new();
                for a in &args {
                    let cidr = partial_network(a);
                    match crate::received::Networks::default().add(&cidr) {
                        Ok(()) if !a.starts_with('!') => nets.push(toml::Value::String(cidr)),
                        _ => c
                            .not_imported
                            .push((n, format!("{directive} {a}: not an address or network spamfilt reads"))),
                    }
                }
                if !nets.is_empty() {
                    c.keys.push((n, "trusted_networks", toml::Value::Array(nets)));
                }
            }
            d => match NOTHING_TO_DO.iter().find(|(k, _)| *k == d) {
                Some((_, why)) => c.notes.push((n, format!("{line}: {why}"))),
                None => c.not_imported.push((n, format!("{line}: not understood"))),
            },
        }
    }
    c
}

/// The line without its comment (`#` to the end, unless escaped as `\#`).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'#' && (i == 0 || b[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}

fn one_number(args: &[&str]) -> Option<f64> {
    match args {
        [v] => v.parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// SpamAssassin's partial networks (`10.`, `192.168.1.`) as CIDR blocks.
fn partial_network(a: &str) -> String {
    match a.strip_suffix('.') {
        Some(p) if !a.contains('/') && p.split('.').all(|o| o.parse::<u8>().is_ok()) => {
            let octets: Vec<&str> = p.split('.').collect();
            let mut full = octets.clone();
            full.resize(4, "0");
            format!("{}/{}", full.join("."), octets.len() * 8)
        }
        _ => a.to_string(),
    }
}

/// Whether `line` is the `[scores]` table's header, however it is spaced or quoted
/// (`[scores]`, `[ scores ]  # mine`, `["scores"]`).
fn is_scores_header(line: &str) -> bool {
    let t = strip_comment(line).trim();
    match t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        Some(inner) if !t.starts_with("[[") => {
            let name = inner.trim();
            name == "scores" || name == "\"scores\"" || name == "'scores'"
        }
        _ => false,
    }
}

/// `text` (a config file, maybe empty) with `keys` put at the top and `scores` in its
/// `[scores]` table, comments and layout kept. Without a `[scores]` table the scores are written
/// as dotted keys (`scores.HTML_SCRIPT = 2.5`) among the keys at the top, never as a table at the
/// end: top-level keys written there later (by hand, as the README shows them) would land in it,
/// and a file that already sets `scores.X` as a dotted key cannot have a `[scores]` table too.
pub fn edit_config(text: &str, origin: &str, keys: &[(&str, toml::Value)], scores: &[(String, f64)]) -> String {
    let score_lines: String = scores.iter().map(|(k, v)| format!("{k} = {}\n", toml::Value::Float(*v))).collect();
    let mut body = text.to_string();
    let mut header_end = None;
    if !score_lines.is_empty() {
        let mut offset = 0;
        for l in body.split_inclusive('\n') {
            offset += l.len();
            if is_scores_header(l) {
                header_end = Some(offset);
                break;
            }
        }
    }
    let dotted: Vec<String> = if header_end.is_none() {
        scores.iter().map(|(k, v)| format!("scores.{k} = {}", toml::Value::Float(*v))).collect()
    } else {
        Vec::new()
    };
    let mut top = String::new();
    if !keys.is_empty() || !dotted.is_empty() {
        writeln!(top, "# imported from {origin} by spamfilt import-sa").unwrap();
        for (k, v) in keys {
            writeln!(top, "{k} = {v}").unwrap();
        }
        for d in &dotted {
            writeln!(top, "{d}").unwrap();
        }
        if !text.trim().is_empty() {
            top.push('\n');
        }
    }
    if !score_lines.is_empty() {
        if let Some(mut end) = header_end {
            if !body[..end].ends_with('\n') {
                body.insert(end, '\n');
                end += 1;
            }
            body.insert_str(end, &score_lines);
        }
    }
    top + &body
}

/// Two config values that say the same (`6` and `6.0` are one threshold).
fn same_value(a: &toml::Value, b: &toml::Value) -> bool {
    let num = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

pub fn run(settings: &Settings, g: &GlobalArgs, args: &ImportSaArgs) -> Result<ExitCode> {
    let rules = crate::rules::RuleSet::load(&settings.rules)?;
    let known = |name: &str| rules.rules.iter().any(|r| r.name == name);
    let config_path: PathBuf = match (&g.config, config::default_config_file()) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p,
        (None, None) => anyhow::bail!("cannot find the home directory for config.toml; use --config FILE"),
    };
    let config_text = match files::read_text(&config_path, files::CONFIG_CAP) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read config file {}", config_path.display())),
    };
    let existing: toml::Table = toml::from_str(&config_text).unwrap_or_default();
    let existing_scores = existing.get("scores").and_then(|s| s.as_table()).cloned().unwrap_or_default();

    // The lists as they are, to tell an entry already there from one imported.
    let list_text = |path: &std::path::Path, name: &str| match files::read_text(path, files::LIST_CAP) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read the {name} {}", path.display())),
    };
    let listed =
        |text: &str, e: &Entry| lists::add_to_text(text, std::slice::from_ref(e)).is_ok_and(|(_, a)| !a.is_empty());
    let (allow_text, block_text) =
        (list_text(&settings.allow_list, "allow list")?, list_text(&settings.block_list, "block list")?);

    let (mut keys, mut scores, mut allow, mut block) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut report = Vec::new();
    // Lines not imported (exit status 1), settings imported, settings that were there already
    // (with the same value: a second run says so and changes nothing).
    let (mut not_imported, mut imported, mut already) = (0usize, 0usize, 0usize);
    let config_name = config_path.display().to_string();
    for file in &args.files {
        let text =
            files::read_text(file, files::CONFIG_CAP).with_context(|| format!("cannot read {}", file.display()))?;
        let c = convert(&text, &known);
        let at = |n: usize| format!("{}:{n}", file.display());
        for (entries, list, name, text) in
            [(&mut allow, &c.allow, "allow list", &allow_text), (&mut block, &c.block, "block list", &block_text)]
        {
            for (n, e) in list {
                if listed(text, e) {
                    report.push((at(*n), format!("already in the {name}: {e}")));
                    already += 1;
                } else {
                    report.push((at(*n), format!("{name}: {e}")));
                    entries.push(e.clone());
                }
            }
        }
        for (n, k, v) in c.keys {
            if let Some(old) = existing.get(k) {
                if same_value(old, &v) {
                    report.push((at(n), format!("already set: {k} = {v} in {config_name}")));
                    already += 1;
                } else {
                    report.push((
                        at(n),
                        format!("not imported: {k} = {v}: {config_name} sets {k} = {old} (kept; change it there)"),
                    ));
                    not_imported += 1;
                }
                continue;
            }
            match keys.iter_mut().find(|(key, _)| *key == k) {
                // Networks add up; a later value of another key wins, as in SpamAssassin.
                Some((_, toml::Value::Array(old))) if k == "trusted_networks" => {
                    old.extend(v.as_array().cloned().unwrap_or_default())
                }
                Some((_, old)) => *old = v.clone(),
                None => keys.push((k, v.clone())),
            }
            report.push((at(n), format!("config: {k} = {v}")));
        }
        for (n, name, v) in c.scores {
            if let Some(old) = existing_scores.get(&name) {
                let new = toml::Value::Float(v);
                if same_value(old, &new) {
                    report.push((at(n), format!("already set: [scores] {name} = {new} in {config_name}")));
                    already += 1;
                } else {
                    report.push((
                        at(n),
                        format!(
                            "not imported: score {name} {v}: {config_name} sets [scores] {name} = {old} (kept; change \
                             it there)"
                        ),
                    ));
                    not_imported += 1;
                }
                continue;
            }
            scores.retain(|(k, _): &(String, f64)| *k != name);
            report.push((at(n), format!("config: [scores] {name} = {v}")));
            scores.push((name, v));
        }
        for (n, why) in c.notes {
            report.push((at(n), format!("nothing to import: {why}")));
        }
        not_imported += c.not_imported.len();
        for (n, why) in c.not_imported {
            report.push((at(n), format!("not imported: {why}")));
        }
    }
    report.sort_by_key(|a| line_key(&a.0));

    let origin = args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ");
    let new_config = edit_config(&config_text, &origin, &keys, &scores);
    // What is written must read back: check it as the filter will, before saying what was
    // imported (a refused import names nothing as imported).
    settings.clone().apply(&new_config).with_context(|| {
        format!("nothing imported: the imported settings would not make {config_name} a valid config file")
    })?;
    for (at, what) in &report {
        println!("{}: {}", super::Shown(at), super::Shown(what));
    }
    let mut written = Vec::new();
    if new_config != config_text {
        imported += keys.len() + scores.len();
        if !args.dry_run {
            super::list::write_file(&config_path, &new_config)
                .with_context(|| format!("cannot write {}", config_path.display()))?;
        }
        written.push(config_path.display().to_string());
    }
    for (entries, path, name) in
        [(&allow, &settings.allow_list, "allow list"), (&block, &settings.block_list, "block list")]
    {
        if entries.is_empty() {
            continue;
        }
        let _edit = (!args.dry_run)
            .then(|| super::list::lock_edits(path))
            .transpose()
            .with_context(|| format!("cannot lock the {name} {}", path.display()))?;
        let text = list_text(path, name)?;
        let (new_text, there) = lists::add_to_text(&text, entries)?;
        imported += entries.len() - there.len();
        if new_text != text {
            if !args.dry_run {
                super::list::write_file(path, &new_text).with_context(|| format!("cannot write {}", path.display()))?;
            }
            written.push(path.display().to_string());
        }
    }
    if !g.quiet {
        let verb = if args.dry_run { "would write" } else { "wrote" };
        let to =
            if written.is_empty() { "nothing to write".to_string() } else { format!("{verb} {}", written.join(", ")) };
        eprintln!(
            "spamfilt import-sa: {imported} setting{} imported, {already} already there, {not_imported} line{} not \
             imported; {to}",
            if imported == 1 { "" } else { "s" },
            if not_imported == 1 { "" } else { "s" },
        );
    }
    Ok(if not_imported > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Sorts `FILE:LINE` by file, then by line number.
fn line_key(at: &str) -> (String, usize) {
    match at.rsplit_once(':') {
        Some((f, n)) => (f.to_string(), n.parse().unwrap_or(0)),
        None => (at.to_string(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFS: &str = "# SpamAssassin user preferences file\n\
required_score 6.5\n\
rewrite_header Subject [SPAM]\n\
whitelist_from *@klant.be jan@vriend.be   # colleagues\n\
blacklist_from *@*.deals.example\n\
score HTML_SCRIPT 2.5\n\
score MISSING_DATE 0 0 1.5 1.2\n\
score URIBL_BLACK 3.5\n\
trusted_networks 192.168.1. 203.0.113.0/24 !10.0.0.1\n\
report_safe 0\n\
whitelist_from_rcvd jan@klant.be klant.be\n\
ok_locales en\n";

    #[test]
    fn a_user_prefs_file() {
        let c = convert(PREFS, &|n: &str| n == "HTML_SCRIPT" || n == "MISSING_DATE");
        let allow: Vec<(usize, String)> = c.allow.iter().map(|(n, e)| (*n, e.to_string())).collect();
        assert_eq!(allow, vec![(4, "@klant.be".into()), (4, "jan@vriend.be".into())]);
        assert_eq!(
            c.block.iter().map(|(n, e)| (*n, e.to_string())).collect::<Vec<_>>(),
            vec![(5, "*.deals.example".into())]
        );
        let keys: Vec<String> = c.keys.iter().map(|(n, k, v)| format!("{n}:{k}={v}")).collect();
        assert_eq!(
            keys,
            vec![
                "2:required_score=6.5",
                "3:subject_tag=\"[SPAM]\"",
                "9:trusted_networks=[\"192.168.1.0/24\", \"203.0.113.0/24\"]"
            ]
        );
        assert_eq!(c.scores, vec![(6, "HTML_SCRIPT".into(), 2.5), (7, "MISSING_DATE".into(), 1.5)]);
        assert_eq!(c.notes.iter().map(|x| x.0).collect::<Vec<_>>(), vec![10]);
        let lines: Vec<usize> = c.not_imported.iter().map(|x| x.0).collect();
        assert_eq!(lines, vec![8, 9, 11, 12], "{:?}", c.not_imported);
        assert!(c.not_imported[0].1.contains("no rule URIBL_BLACK"));
        assert!(!c.not_imported[0].1.contains("band"), "{}", c.not_imported[0].1);
        // Bayes's band is no rule: where its weight is, is said (newcomer's pass).
        let bayes = convert("score BAYES_99 0 0 3.5 3.5\n", &|_| false);
        assert!(
            bayes.not_imported[0].1.ends_with(
                "spamfilt has no rule BAYES_99 (`spamfilt rules` lists them); BAYES_* in tests= names the band \
                 Bayes's spam probability fell in: its weight in the score is bayes_points_per_decade (and the knees \
                 bayes_points_knee, bayes_ham_points_knee)"
            ),
            "{}",
            bayes.not_imported[0].1
        );
        assert!(c.not_imported[3].1.contains("not understood"));
    }

    #[test]
    fn templates_and_odd_lines_are_not_imported() {
        let c = convert("rewrite_header Subject *****SPAM***** _SCORE_\nrewrite_header From spam\nrequired_score high\nscore X 1 2\n", &|_| true);
        assert!(c.keys.is_empty() && c.not_imported.len() == 4, "{c:?}");
        // An escaped # is not a comment.
        assert_eq!(strip_comment(r"rewrite_header Subject \#spam # tag"), r"rewrite_header Subject \#spam ");
    }

    #[test]
    fn config_edits_keep_what_is_there() {
        let keys = [("required_score", toml::Value::Float(6.5))];
        let scores = [("HTML_SCRIPT".to_string(), 2.5)];
        // Without a [scores] table: dotted keys at the top, never a table at the end (keys added
        // at the end of the file later would land in it; on fbb856a `[ scores ]` or a dotted
        // `scores.X` already there made the import fail with "duplicate key").
        assert_eq!(
            edit_config("", "up", &keys, &scores),
            "# imported from up by spamfilt import-sa\nrequired_score = 6.5\nscores.HTML_SCRIPT = 2.5\n"
        );
        for text in ["[ scores ]  # mine\nMISSING_DATE = 1.0\n", "scores.MISSING_DATE = 1.0\n[bayes]\nmax_clues = 50\n"]
        {
            let out = edit_config(text, "up", &keys, &scores);
            let t: toml::Table = toml::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
            assert_eq!(t["scores"]["HTML_SCRIPT"].as_float(), Some(2.5), "{out}");
            assert_eq!(t["scores"]["MISSING_DATE"].as_float(), Some(1.0), "{out}");
            assert!(!t.contains_key("HTML_SCRIPT") && t["required_score"].as_float() == Some(6.5), "{out}");
        }
        // A file that ends in a table: the imported keys stay top-level.
        let out = edit_config("[bayes]\nmax_clues = 50\n", "up", &keys, &scores);
        let t: toml::Table = toml::from_str(&out).unwrap();
        assert!(t["required_score"].as_float() == Some(6.5) && t["scores"]["HTML_SCRIPT"].as_float() == Some(2.5));
        assert!(!t["bayes"].as_table().unwrap().contains_key("HTML_SCRIPT"), "{out}");
        let text = "# mine\nscan_limit = 8192\n\n[scores]\nMISSING_DATE = 1.0\n\n[bayes]\nmax_clues = 50";
        let out = edit_config(text, "up", &keys, &scores);
        assert_eq!(
            out,
            "# imported from up by spamfilt import-sa\nrequired_score = 6.5\n\n# mine\nscan_limit = 8192\n\n[scores]\nHTML_SCRIPT = 2.5\nMISSING_DATE = 1.0\n\n[bayes]\nmax_clues = 50"
        );
        let t: toml::Table = toml::from_str(&out).unwrap();
        assert_eq!(t["scores"]["HTML_SCRIPT"].as_float(), Some(2.5));
        assert_eq!(t["bayes"]["max_clues"].as_integer(), Some(50));
        assert_eq!(partial_network("10."), "10.0.0.0/8");
        assert_eq!(partial_network("192.168.1."), "192.168.1.0/24");
    }
}
