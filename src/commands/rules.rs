//! `spamfilt rules`: list the content rules, or count their hits on labelled mail.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{GlobalArgs, RulesArgs};
use crate::config::Settings;
use crate::features::Content;
use crate::message::Message;
use crate::rules::{Context, RuleSet};

pub fn run(settings: &Settings, g: &GlobalArgs, args: &RulesArgs) -> Result<ExitCode> {
    let rs = RuleSet::load(&settings.rules)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.stats {
        // The rules whose points for spam give way to what the user trained
        // (`verdict::content_rules_weight`) are marked; none while the weight is 1.
        let weight = settings.scoring.rules_trained_weight;
        let gives_way = |r: &crate::rules::Rule| r.weighed && weight < 1.0;
        // The score column is as wide as its widest score (`-100.0` of ALLOWLIST, a custom score),
        // right-aligned, so the marks and descriptions after it line up.
        let width = rs.rules.iter().map(|r| crate::verdict::format_score(r.score).len()).max().unwrap_or(0).max(5);
        for r in &rs.rules {
            if args.json {
                let obj = serde_json::json!({
                    "name": r.name, "family": r.family.as_str(), "score": r.score,
                    "default_score": r.default_score, "kind": r.kind(), "description": r.description,
                    "gives_way_to_training": gives_way(r),
                });
                writeln!(out, "{obj}")?;
            } else {
                writeln!(
                    out,
                    "{:<28} {:<12} {:>width$}{} {}",
                    r.name,
                    r.family.as_str(),
                    crate::verdict::format_score(r.score),
                    if gives_way(r) { "*" } else { " " },
                    r.description
                )?;
            }
        }
        if !args.json && rs.rules.iter().any(gives_way) {
            writeln!(
                out,
                "* gives way to training: its points for spam count {} of themselves once {} ham and {} spam are \
                 learned, linearly from nothing learned (rules_trained_weight; check --report shows the weight)",
                crate::verdict::format_score(weight),
                settings.scoring.starter_fade,
                settings.scoring.starter_fade
            )?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let ham = count_hits(settings, g, &rs, &args.ham)?;
    let spam = count_hits(settings, g, &rs, &args.spam)?;
    if !args.json {
        writeln!(out, "{} ham, {} spam", ham.1, spam.1)?;
        writeln!(
            out,
            "{:<28} {:>6} {:>7} {:>6} {:>7} {:>9} {:>6}",
            "RULE", "HAM", "HAM%", "SPAM", "SPAM%", "PRECISION", "SCORE"
        )?;
    }
    for (i, r) in rs.rules.iter().enumerate() {
        let (h, s) = (ham.0[i], spam.0[i]);
        let hr = if ham.1 > 0 { h as f64 / ham.1 as f64 } else { 0.0 };
        let sr = if spam.1 > 0 { s as f64 / spam.1 as f64 } else { 0.0 };
        // Precision with the classes weighted equally (independent of the ham:spam ratio).
        let precision = if hr + sr > 0.0 { Some(sr / (hr + sr)) } else { None };
        if args.json {
            let obj = serde_json::json!({
                "name": r.name, "score": r.score, "ham_hits": h, "spam_hits": s,
                // Percent (0 to 100), as every `_percent` field of --json; precision is 0 to 1.
                "ham_percent": 100.0 * hr, "spam_percent": 100.0 * sr, "precision": precision,
            });
            writeln!(out, "{obj}")?;
        } else {
            writeln!(
                out,
                "{:<28} {:>6} {:>6.2}% {:>6} {:>6.2}% {:>9} {:>6}",
                r.name,
                h,
                100.0 * hr,
                s,
                100.0 * sr,
                precision.map_or("-".to_string(), |p| format!("{p:.3}")),
                crate::verdict::format_score(r.score)
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Hits per rule and the number of messages read.
fn count_hits(settings: &Settings, g: &GlobalArgs, rs: &RuleSet, paths: &[String]) -> Result<(Vec<u64>, u64)> {
    let mut counts = vec![0u64; rs.rules.len()];
    let mut n = 0;
    if paths.is_empty() {
        return Ok((counts, 0));
    }
    let reader = super::reputation_reader(settings, g);
    let local = reader.as_ref().map(|r| r as &dyn crate::store::reputation::ReputationLookup);
    // With the Redis store, each message's records and cached answers are the shared ones.
    let db = settings.database();
    let now = crate::store::now_secs();
    for entry in super::expand_paths(g, paths)? {
        let raw = match entry.read() {
            Ok(r) => r,
            Err(e) => {
                if !g.quiet {
                    eprintln!("spamfilt: {}", crate::problems::error_text(&e));
                }
                continue;
            }
        };
        n += 1;
        let msg = Message::parse(&raw, settings.scoring.scan_limit);
        let content = Content::extract(&msg, &settings.tokenizer);
        // Sender facts as the filter gathers them, from the lists and the Received chain, with the
        // reputation database as it is now and no DNS queries (cached answers only).
        let cx = Context::new(&msg, &content);
        let links = cx.link_domains();
        let shared = match db.redis() {
            Some(r) => Some(
                r.fetch_reputation(&crate::sender::lookups(&msg, &links, &settings.sender))
                    .map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let reputation = match &shared {
            Some(s) => Some(s as &dyn crate::store::reputation::ReputationLookup),
            None => local,
        };
        let mut facts = crate::sender::gather(&msg, &links, &settings.sender, reputation, &crate::dns::CacheOnly, now);
        facts.list = crate::sender::list_verdict(&msg, &settings.sender);
        for hit in rs.evaluate(&cx.with_sender(&facts)) {
            if let Some(i) = rs.rules.iter().position(|r| r.name == hit.name) {
                counts[i] += 1;
            }
        }
    }
    Ok((counts, n))
}
