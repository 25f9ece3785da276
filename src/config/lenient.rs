//! The lenient reading of a config file: each top-level key, each `[scores]` entry and each
//! `[[rule]]` is applied on its own, and a bad one is left at its default and reported with its
//! line (see `problems`). A table (`[bayes]`, `[lr]`, `[dns]`) that is bad as a whole is
//! applied key by key, so that only its bad keys fall back to their defaults.

use std::path::{Path, PathBuf};

use super::Settings;
use crate::problems::{split_position, toml_error, Problem};

/// One separately applicable part of a config file.
#[derive(Debug, Clone)]
enum Piece {
    Key(String, toml::Value),
    /// One key of a table (`bayes`, `min_dev`), when the table as a whole did not apply.
    Sub(String, String, toml::Value),
    Score(String, toml::Value),
    Rule(usize, toml::Value),
}

impl Piece {
    fn name(&self) -> String {
        match self {
            Piece::Key(k, _) => k.clone(),
            Piece::Sub(t, k, _) => format!("{t}.{k}"),
            Piece::Score(k, _) => format!("scores.{k}"),
            Piece::Rule(i, v) => match v.get("name").and_then(|n| n.as_str()) {
                Some(n) => format!("rule {n}"),
                None => format!("rule #{}", i + 1),
            },
        }
    }

    /// The line where the piece is written (found by a plain scan; `None` if not found).
    fn line(&self, text: &str) -> Option<usize> {
        scan(text).into_iter().find_map(|l| {
            let hit = match (&l.kind, self) {
                (Kind::Header { array: true }, Piece::Rule(n, _)) => l.section == "rule" && l.rules_seen == n + 1,
                (Kind::Header { .. }, Piece::Key(k, _)) => *k == l.section,
                (Kind::Header { .. }, _) => false,
                (Kind::Key { key, .. }, Piece::Key(k, _)) => {
                    l.section.is_empty() && (key == k || key.starts_with(&format!("{k}.")))
                }
                (Kind::Key { key, .. }, Piece::Score(k, _)) => l.section == "scores" && key == k,
                // In its table, or written at the top (`bayes.min_dev = 0.2`, `bayes = { ... }`).
                (Kind::Key { key, .. }, Piece::Sub(t, k, _)) => {
                    (l.section == *t && key == k) || (l.section.is_empty() && (*key == format!("{t}.{k}") || key == t))
                }
                (Kind::Key { .. }, Piece::Rule(..)) => false,
            };
            hit.then_some(l.no)
        })
    }
}

fn table_of(pieces: &[Piece]) -> toml::Table {
    let mut t = toml::Table::new();
    for p in pieces {
        match p {
            Piece::Key(k, v) => {
                t.insert(k.clone(), v.clone());
            }
            Piece::Sub(table, k, v) => {
                let sub = t.entry(table.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let Some(s) = sub.as_table_mut() {
                    s.insert(k.clone(), v.clone());
                }
            }
            Piece::Score(k, v) => {
                let scores = t.entry("scores").or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let Some(s) = scores.as_table_mut() {
                    s.insert(k.clone(), v.clone());
                }
            }
            Piece::Rule(_, v) => {
                let rules = t.entry("rule").or_insert_with(|| toml::Value::Array(Vec::new()));
                if let Some(r) = rules.as_array_mut() {
                    r.push(v.clone());
                }
            }
        }
    }
    t
}

/// A config file's text applied as far as it can be: the settings with every good piece, and
/// each bad piece as a problem (without what the filter does about it). `whole` is set when the
/// file is not TOML at all (nothing of it applies).
struct Applied {
    settings: Settings,
    named: Option<PathBuf>,
    problems: Vec<Problem>,
    whole: bool,
}

/// Applies a config file's text to `settings` as far as it can: a file that is not TOML at all
/// leaves every default; otherwise each key, score and custom rule that is wrong on its own (or
/// together with the ones already accepted) keeps its default and is reported. Returns the URI
/// blocklist file the config names, if that key was accepted.
pub fn apply_lenient(settings: &mut Settings, text: &str, file: &Path, problems: &mut Vec<Problem>) -> Option<PathBuf> {
    let a = apply_pieces(settings, text, file);
    let effect =
        if a.whole { " (the whole file is ignored: defaults are used)" } else { " (ignored: the default is used)" };
    problems.extend(a.problems.into_iter().map(|mut p| {
        p.message.push_str(effect);
        p
    }));
    *settings = a.settings;
    a.named
}

/// Applies a config file's text to `settings` strictly: every problem in it (not only the
/// first) is the error, each with its line and column, as `lint` lists them.
pub fn apply_strict(settings: &mut Settings, text: &str, file: &Path) -> anyhow::Result<Option<PathBuf>> {
    let a = apply_pieces(settings, text, file);
    match a.problems.len() {
        0 => {
            *settings = a.settings;
            Ok(a.named)
        }
        1 => anyhow::bail!("bad config file {}", a.problems[0]),
        n => {
            let all: Vec<String> = a.problems.iter().map(|p| format!("  {p}")).collect();
            anyhow::bail!("bad config file {} ({n} problems):\n{}", file.display(), all.join("\n"))
        }
    }
}

/// serde's "unknown field `requred_score`, expected one of `required_score`, `scan_limit`, …"
/// with the nearest known key put first: "unknown field `requred_score` (did you mean
/// `required_score`?), expected one of …" (a newcomer's typo was hard to see in a list of 27).
/// The list stays for the terminal; the header's short form drops it (`Problem::short`).
fn did_you_mean(msg: &str) -> String {
    const UNKNOWN: &str = "unknown field `";
    const EXPECTED: &str = "`, expected one of ";
    let Some(start) = msg.find(UNKNOWN).map(|i| i + UNKNOWN.len()) else { return msg.to_string() };
    let Some(end) = msg[start..].find(EXPECTED).map(|i| start + i) else { return msg.to_string() };
    let typo = &msg[start..end];
    let list = &msg[end + EXPECTED.len()..];
    let known = list.split(", ").filter_map(|k| k.strip_prefix('`')?.split('`').next());
    let lower = typo.to_ascii_lowercase();
    let best = known
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|&(d, k)| {
            d <= (typo.chars().count() / 3).max(1)
                || (typo.len() >= 4
                    && (k.starts_with(typo) || typo.starts_with(k))
                    && k.len().abs_diff(typo.len()) <= 4)
        })
        .min_by_key(|&(d, _)| d);
    match best {
        Some((_, k)) => format!("{}` (did you mean `{k}`?){}", &msg[..end], &msg[end + 1..]),
        None => msg.to_string(),
    }
}

/// Edit distance between two short strings (key names), a swap of two neighbours counting as
/// one edit (`bayse`, `bayes`): the optimal string alignment distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn apply_pieces(settings: &Settings, text: &str, file: &Path) -> Applied {
    let base = settings.clone();
    // The common case: the whole file is fine.
    let mut whole = base.clone();
    if let Ok(named) = whole.apply(text) {
        return Applied { settings: whole, named, problems: Vec::new(), whole: false };
    }
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let (line, column, msg) = split_position(&toml_error(text, &e));
            let problems = vec![Problem::at(file, line, column, msg)];
            return Applied { settings: base, named: None, problems, whole: true };
        }
    };
    let mut pieces = Vec::new();
    for (k, v) in table {
        match (k.as_str(), v) {
            ("scores", toml::Value::Table(t)) => pieces.extend(t.into_iter().map(|(k, v)| Piece::Score(k, v))),
            ("rule", toml::Value::Array(a)) => pieces.extend(a.into_iter().enumerate().map(|(i, v)| Piece::Rule(i, v))),
            (_, v) => pieces.push(Piece::Key(k, v)),
        }
    }
    // Two passes, so that a key that needs another (allow_requires_auth needs authserv_id) is
    // accepted whatever their order.
    let mut accepted: Vec<Piece> = Vec::new();
    let mut failed: Vec<(Piece, String, String)> = Vec::new();
    for pass in 0..2 {
        let todo: Vec<Piece> =
            if pass == 0 { std::mem::take(&mut pieces) } else { failed.drain(..).map(|(p, _, _)| p).collect() };
        let mut todo = std::collections::VecDeque::from(todo);
        while let Some(piece) = todo.pop_front() {
            let mut candidate = accepted.clone();
            candidate.push(piece.clone());
            let made = toml::to_string(&table_of(&candidate)).unwrap_or_default();
            match (base.clone().apply(&made), piece) {
                (Ok(_), piece) => accepted.push(piece),
                // A table that is bad as a whole: its keys one by one (a key another key of the
                // table needs, as `[dns]`'s resolver, is taken in either pass).
                (Err(_), Piece::Key(k, toml::Value::Table(t))) if !t.is_empty() => {
                    todo.extend(t.into_iter().map(|(sub, v)| Piece::Sub(k.clone(), sub, v)))
                }
                (Err(e), piece) => failed.push((piece, format!("{e:#}"), made)),
            }
        }
    }
    let mut problems: Vec<Problem> = failed
        .into_iter()
        .map(|(piece, err, made)| {
            let (line, column, name, msg) = locate(&piece, &err, &made, text);
            let msg = msg.strip_prefix("[scores]: ").map(str::to_string).unwrap_or(msg);
            let msg = if msg.starts_with(&format!("{name}:")) || msg.starts_with(&format!("{name} ")) {
                msg
            } else {
                format!("{name}: {msg}")
            };
            Problem::at(file, line, column, did_you_mean(&msg))
        })
        .collect();
    problems.sort_by_key(|p| (p.line.unwrap_or(usize::MAX), p.column));
    let made = toml::to_string(&table_of(&accepted)).unwrap_or_default();
    let mut s = base.clone();
    match s.apply(&made) {
        Ok(named) => Applied { settings: s, named, problems, whole: false },
        // Cannot happen (each accepted piece was applied with the ones before it); keep defaults.
        Err(e) => {
            problems.push(Problem::new(file, None, format!("{e:#}")));
            Applied { settings: base, named: None, problems, whole: true }
        }
    }
}

/// One line of a config text that is a table header or holds a key, found by a plain scan.
struct Scanned {
    /// 1-based.
    no: usize,
    /// The table it is in (`bayes`, `rule`; empty at the top); a header's own name.
    section: String,
    /// How many `[[rule]]` headers came before it, its own included.
    rules_seen: usize,
    kind: Kind,
}

enum Kind {
    /// `[table]`, or `[[array]]` when `array`.
    Header { array: bool },
    /// `key = value`, with the columns (1-based) where the key and the value start.
    Key { key: String, key_col: usize, value_col: usize },
}

/// The header and key lines of a config text, each with the table it is in.
fn scan(text: &str) -> Vec<Scanned> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut rules_seen = 0;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        let header = match l.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
            Some(h) => Some((h, true)),
            None => l.strip_prefix('[').and_then(|h| h.split(']').next()).map(|h| (h, false)),
        };
        if let Some((h, array)) = header {
            section = h.trim().to_string();
            if array && section == "rule" {
                rules_seen += 1;
            }
            out.push(Scanned { no: i + 1, section: section.clone(), rules_seen, kind: Kind::Header { array } });
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        let Some((k, _)) = raw.split_once('=') else { continue };
        let key = k.trim().trim_matches(|c| c == '"' || c == '\'');
        if key.is_empty() {
            continue;
        }
        let key_col = raw.chars().take_while(|c| c.is_whitespace()).count() + 1;
        let after = &raw[k.len() + 1..];
        let value_col = k.chars().count() + 1 + after.chars().take_while(|c| c.is_whitespace()).count() + 1;
        let kind = Kind::Key { key: key.to_string(), key_col, value_col };
        out.push(Scanned { no: i + 1, section: section.clone(), rules_seen, kind });
    }
    out
}

/// The key lines of a config text: (line, section, rules seen, key, key column, value column).
fn keyed_lines(text: &str) -> Vec<(usize, String, usize, String, usize, usize)> {
    scan(text)
        .into_iter()
        .filter_map(|l| match l.kind {
            Kind::Key { key, key_col, value_col } => Some((l.no, l.section, l.rules_seen, key, key_col, value_col)),
            Kind::Header { .. } => None,
        })
        .collect()
}

/// Where a piece's error is in the file (line, column), the name it goes by (`bayes.min_dev`,
/// `scores.NO_SUCH`, `rule BAD`) and the message without the made text's position: from the
/// key the error names in the text made for the piece (`made`), or a `key.sub` the message
/// names, found in the same section of the file; else the piece's own line.
fn locate(piece: &Piece, err: &str, made: &str, text: &str) -> (Option<usize>, Option<usize>, String, String) {
    let (made_line, made_col, msg) = split_position(err);
    let name = piece.name();
    let file_lines = keyed_lines(text);
    // The section and key the error is at in the made text, and whether at the key or its value.
    let target: Option<(String, String, bool)> = match made_line {
        Some(n) => keyed_lines(made)
            .into_iter()
            .find(|l| l.0 == n)
            .map(|(_, section, _, key, _, value_col)| (section, key, made_col.is_some_and(|c| c < value_col))),
        None => None,
    }
    .or_else(|| match piece {
        // A semantic check names `bayes.min_dev`, `dns.timeout_ms`.
        Piece::Key(k, toml::Value::Table(t)) => t
            .keys()
            .find(|sub| msg.contains(&format!("{k}.{sub}")) || msg.starts_with(&format!("{sub}:")))
            .map(|sub| (k.clone(), sub.clone(), false)),
        Piece::Score(k, _) => Some(("scores".into(), k.clone(), false)),
        Piece::Sub(t, k, _) => Some((t.clone(), k.clone(), false)),
        Piece::Key(k, _) => Some((String::new(), k.clone(), false)),
        Piece::Rule(..) => None,
    });
    let rule_no = match piece {
        Piece::Rule(i, _) => Some(i + 1),
        _ => None,
    };
    if let Some((section, key, at_key)) = target {
        let found = file_lines.iter().find(|(_, s, r, k, _, _)| {
            *k == key
                && match (piece, rule_no) {
                    (_, Some(n)) => s == "rule" && *r == n,
                    (Piece::Key(top, _), _) if section.is_empty() => {
                        s.is_empty() && (k == top || k.starts_with(&format!("{top}.")))
                    }
                    (Piece::Sub(top, sub, _), _) if section == *top => {
                        s == top || (s.is_empty() && *k == format!("{top}.{sub}"))
                    }
                    _ => *s == section,
                }
        });
        let named = match (piece, section.as_str()) {
            (Piece::Key(top, toml::Value::Table(_)), s) if s == top => format!("{top}.{key}"),
            _ => name.clone(),
        };
        let msg = msg.strip_prefix(&format!("{key}: ")).map(str::to_string).unwrap_or(msg.clone());
        if let Some((line, _, _, _, key_col, value_col)) = found {
            return (Some(*line), Some(if at_key { *key_col } else { *value_col }), named, msg);
        }
        // Written inline (`dns = { timeout_ms = 0 }`): the line of the piece.
        return (piece.line(text), None, named, msg);
    }
    (piece.line(text), None, name, msg)
}
#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        Settings::load(Some(Path::new("/nonexistent")), Some(Path::new("/dev/null"))).unwrap()
    }

    #[test]
    fn each_bad_piece_keeps_its_default_and_is_reported_at_its_line() {
        let text = "allow_requires_auth = true\nrequired_score = \"high\"\nscan_limit = 8192\n\
                    authserv_id = \"mx.example\"\n[scores]\nHTML_SCRIPT = 0\nNO_SUCH = 1\n\
                    [[rule]]\nname = \"OK\"\nscore = 1\nbody = 'fine'\n[[rule]]\nname = \"BAD\"\nscore = 1\nbody = '(x'\n";
        let mut s = base();
        let mut p = Vec::new();
        apply_lenient(&mut s, text, Path::new("c.toml"), &mut p);
        // Good keys count, whatever their order (allow_requires_auth needs authserv_id below it).
        assert!(s.sender.allow_requires_auth);
        assert_eq!(s.scoring.scan_limit, 8192);
        assert_eq!(s.scoring.required_score, 5.0);
        assert_eq!(s.rules.scores.get("HTML_SCRIPT"), Some(&0.0));
        assert_eq!(s.rules.custom.len(), 1);
        let lines: Vec<(Option<usize>, bool)> =
            p.iter().map(|x| (x.line, x.message.contains("default is used"))).collect();
        assert_eq!(lines, vec![(Some(2), true), (Some(7), true), (Some(12), true)], "{p:?}");
        assert!(p[0].to_string().starts_with("c.toml:2:18: required_score: "), "{}", p[0]);
        assert!(p[2].short().starts_with("c.toml line 12: rule BAD: "), "{}", p[2].short());
        assert_eq!(p[1].to_string(), "c.toml:7:11: scores.NO_SUCH: there is no rule called NO_SUCH (see `spamfilt rules`) (ignored: the default is used)");
    }

    /// Newcomer's pass: an unknown key was followed by the list of every key (27 at the top
    /// level), with no hint which one was meant. The nearest is now named first.
    #[test]
    fn an_unknown_key_names_the_nearest_known_one() {
        let text =
            "requred_score = 5\n[bayse]\nstrength = 0.2\n[dns]\nresolver = \"127.0.0.1:53\"\ntimeout = 100\nfoo = 1\n";
        let mut p = Vec::new();
        apply_lenient(&mut base(), text, Path::new("c.toml"), &mut p);
        let m: Vec<String> = p.iter().map(|x| x.to_string()).collect();
        assert!(m[0].starts_with("c.toml:1:1: requred_score: unknown field `requred_score` (did you mean `required_score`?), expected one of `required_score`"), "{m:?}");
        assert!(m[1].contains("unknown field `bayse` (did you mean `bayes`?)"), "{m:?}");
        assert!(m[2].contains("unknown field `timeout` (did you mean `timeout_ms`?)"), "{m:?}");
        assert!(m[3].contains("unknown field `foo`, expected one of"), "{m:?}");
        // The header's short form: the suggestion, not the list.
        assert_eq!(
            p[0].short(),
            "c.toml line 1: requred_score: unknown field `requred_score` (did you mean `required_score`?)"
        );
        assert_eq!((edit_distance("kitten", "sitting"), edit_distance("bayse", "bayes")), (3, 1));
    }

    /// A key inside a table is reported at its own line and column, not the table's header,
    /// by the lenient reading (lint, the filter) and the strict one (train, check) alike, and
    /// the strict one reports every problem, not only one.
    #[test]
    fn a_key_in_a_table_is_reported_at_its_line_strictly_and_leniently() {
        let text = "requred_score = 5\n[bayes]\n\nmin_dev = \"x\"\n[lr]\n  points_knee = -1\n";
        let mut p = Vec::new();
        apply_lenient(&mut base(), text, Path::new("c.toml"), &mut p);
        let at: Vec<String> = p.iter().map(|x| x.to_string().split(": ").next().unwrap().to_string()).collect();
        assert_eq!(at, ["c.toml:1:1", "c.toml:4:11", "c.toml:6:17"], "{p:?}");
        assert!(p[1].message.starts_with("bayes.min_dev: invalid type"), "{}", p[1]);
        assert!(p[2].message.starts_with("lr.points_knee must be positive"), "{}", p[2]);
        let err = format!("{:#}", apply_strict(&mut base(), text, Path::new("c.toml")).unwrap_err());
        assert!(
            err.starts_with("bad config file c.toml (3 problems):\n  c.toml:1:1: requred_score: unknown field"),
            "{err}"
        );
        assert!(err.contains("\n  c.toml:4:11: bayes.min_dev: invalid type: string \"x\", expected f64\n"), "{err}");
        assert!(err.ends_with("\n  c.toml:6:17: lr.points_knee must be positive"), "{err}");
        let err =
            format!("{:#}", apply_strict(&mut base(), "[scores]\nBAYES_99 = 1\n", Path::new("c.toml")).unwrap_err());
        assert_eq!(
            err,
            "bad config file c.toml:2:12: scores.BAYES_99: there is no rule called BAYES_99 (see `spamfilt rules`); \
             BAYES_* in tests= names the band Bayes's spam probability fell in: its weight in the score is \
             bayes_points_per_decade (and the knees bayes_points_knee, bayes_ham_points_knee)"
        );
    }

    /// A bad key in a table falls back alone: the table's good keys still count, by the
    /// lenient reading; the strict one still refuses the file.
    #[test]
    fn a_bad_key_in_a_table_leaves_the_others_applied() {
        let text = "[bayes]\nmin_learned = 1000\nmin_dev = \"x\"\n[lr]\npoints_knee = -1\npoints_per_decade = 3.5\n";
        let mut s = base();
        let mut p = Vec::new();
        apply_lenient(&mut s, text, Path::new("c.toml"), &mut p);
        assert_eq!(s.scoring.bayes.min_learned, 1000);
        assert_eq!(s.scoring.bayes.min_dev, base().scoring.bayes.min_dev);
        assert_eq!(s.scoring.lr.points_per_decade, 3.5);
        assert_eq!(s.scoring.lr.points_knee, base().scoring.lr.points_knee);
        let shown: Vec<String> = p.iter().map(|x| x.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(shown[0].starts_with("c.toml:3:11: bayes.min_dev: invalid type"), "{shown:?}");
        assert!(shown[1].starts_with("c.toml:5:"), "{shown:?}");
        assert!(shown[1].contains("lr.points_knee must be positive (ignored: the default is used)"), "{shown:?}");
        assert!(apply_strict(&mut base(), text, Path::new("c.toml")).is_err());
        // A key the others need ([dns]'s resolver) is taken whatever the order, a bad one beside it alone ignored.
        let mut s = base();
        let mut p = Vec::new();
        let dns = "[dns]\ndnsbl = [\"zen.example\"]\ntimeout_ms = \"slow\"\nresolver = \"127.0.0.1:53\"\n";
        apply_lenient(&mut s, dns, Path::new("c.toml"), &mut p);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].to_string().starts_with("c.toml:3:14: dns.timeout_ms: "), "{}", p[0]);
        let d = s.sender.dns.as_ref().expect("dns is on");
        assert_eq!(d.dnsbl, ["zen.example"]);
    }

    #[test]
    fn text_that_is_not_toml_leaves_every_default() {
        let mut s = base();
        let mut p = Vec::new();
        assert_eq!(apply_lenient(&mut s, "scan_limit = 8192\nx = [\n", Path::new("c.toml"), &mut p), None);
        assert_eq!(s.scoring.scan_limit, base().scoring.scan_limit);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, Some(2));
    }
}
