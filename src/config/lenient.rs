//! The lenient reading of a config file: each top-level key, each `[scores]` entry and each
//! `[[rule]]` is applied on its own, and a bad one is left at its default and reported with its
//! line (see `problems`).

use std::path::{Path, PathBuf};

use super::Settings;
use crate::problems::{split_line, toml_error, Problem};

/// One separately applicable part of a config file.
#[derive(Debug, Clone)]
enum Piece {
    Key(String, toml::Value),
    Score(String, toml::Value),
    Rule(usize, toml::Value),
}

impl Piece {
    fn name(&self) -> String {
        match self {
            Piece::Key(k, _) => k.clone(),
            Piece::Score(k, _) => format!("scores.{k}"),
            Piece::Rule(i, v) => match v.get("name").and_then(|n| n.as_str()) {
                Some(n) => format!("rule {n}"),
                None => format!("rule #{}", i + 1),
            },
        }
    }

    /// The line where the piece is written (found by a plain scan; `None` if not found).
    fn line(&self, text: &str) -> Option<usize> {
        let mut section = String::new();
        let mut rules_seen = 0;
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if let Some(h) = l.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
                section = h.trim().to_string();
                if section == "rule" {
                    if matches!(self, Piece::Rule(n, _) if *n == rules_seen) {
                        return Some(i + 1);
                    }
                    rules_seen += 1;
                }
                if matches!(self, Piece::Key(k, _) if *k == section) {
                    return Some(i + 1);
                }
                continue;
            }
            if let Some(h) = l.strip_prefix('[').and_then(|h| h.split(']').next()) {
                section = h.trim().to_string();
                if matches!(self, Piece::Key(k, _) if *k == section) {
                    return Some(i + 1);
                }
                continue;
            }
            let key = l.split('=').next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'');
            if key.is_empty() || !l.contains('=') {
                continue;
            }
            match self {
                Piece::Key(k, _) if section.is_empty() && (key == k || key.starts_with(&format!("{k}."))) => {
                    return Some(i + 1)
                }
                Piece::Score(k, _) if section == "scores" && key == k => return Some(i + 1),
                _ => {}
            }
        }
        None
    }
}

fn table_of(pieces: &[Piece]) -> toml::Table {
    let mut t = toml::Table::new();
    for p in pieces {
        match p {
            Piece::Key(k, v) => {
                t.insert(k.clone(), v.clone());
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

/// Applies a config file's text to `settings` as far as it can: a file that is not TOML at all
/// leaves every default; otherwise each key, score and custom rule that is wrong on its own (or
/// together with the ones already accepted) keeps its default and is reported. Returns the URI
/// blocklist file the config names, if that key was accepted.
pub fn apply_lenient(settings: &mut Settings, text: &str, file: &Path, problems: &mut Vec<Problem>) -> Option<PathBuf> {
    let base = settings.clone();
    // The common case: the whole file is fine.
    let mut whole = base.clone();
    if let Ok(named) = whole.apply(text) {
        *settings = whole;
        return named;
    }
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let (line, msg) = split_line(&toml_error(text, &e));
            problems.push(Problem::new(file, line, format!("{msg} (the whole file is ignored: defaults are used)")));
            return None;
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
    let mut failed: Vec<(Piece, String)> = Vec::new();
    for pass in 0..2 {
        let todo: Vec<Piece> =
            if pass == 0 { std::mem::take(&mut pieces) } else { failed.drain(..).map(|(p, _)| p).collect() };
        for piece in todo {
            let mut candidate = accepted.clone();
            candidate.push(piece.clone());
            let text = toml::to_string(&table_of(&candidate)).unwrap_or_default();
            match base.clone().apply(&text) {
                Ok(_) => accepted.push(piece),
                Err(e) => failed.push((piece, format!("{e:#}"))),
            }
        }
    }
    failed.sort_by_key(|(piece, _)| piece.line(text));
    for (piece, err) in failed {
        // The error's own line refers to the one-piece text we made, not to the file.
        let (_, msg) = split_line(&err);
        let name = piece.name();
        let msg = if msg.starts_with(&format!("{name}:")) { msg } else { format!("{name}: {msg}") };
        problems.push(Problem::new(file, piece.line(text), format!("{msg} (ignored: the default is used)")));
    }
    let text = toml::to_string(&table_of(&accepted)).unwrap_or_default();
    let mut s = base.clone();
    match s.apply(&text) {
        Ok(named) => {
            *settings = s;
            named
        }
        // Cannot happen (each accepted piece was applied with the ones before it); keep defaults.
        Err(e) => {
            problems.push(Problem::new(file, None, format!("{e:#} (the whole file is ignored: defaults are used)")));
            None
        }
    }
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
        assert!(p[0].to_string().starts_with("c.toml:2: required_score: "), "{}", p[0]);
        assert!(p[2].short().starts_with("c.toml line 12: rule BAD: "), "{}", p[2].short());
        assert!(p[1].to_string().starts_with("c.toml:7: scores.NO_SUCH: "), "{}", p[1]);
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
