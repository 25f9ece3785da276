//! `spamfilt check`: score messages without changing anything, one line per message.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{CheckArgs, GlobalArgs};
use crate::config::Settings;
use crate::mailbox;
use crate::scoring::Scorer;
use crate::store::{Database, TokenLookup};

pub fn run(settings: &Settings, g: &GlobalArgs, args: &CheckArgs) -> Result<ExitCode> {
    let entries = mailbox::expand(&args.paths)?;
    let reader = Database::at(&settings.db_dir).reader()?;
    if reader.is_none() && !g.quiet {
        eprintln!("spamfilt: no token database in {} yet; scoring without Bayes", settings.db_dir.display());
    }
    let scorer = Scorer {
        scoring: &settings.scoring,
        tokenizer: &settings.tokenizer,
        db: reader.as_ref().map(|r| r as &dyn TokenLookup),
        starter: crate::starter::Starter::embedded(),
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    for entry in &entries {
        let raw = match entry.read() {
            Ok(raw) => raw,
            Err(e) => {
                eprintln!("spamfilt: {e:#}");
                failed = true;
                continue;
            }
        };
        let v = scorer.score(&raw).verdict;
        let verdict = if v.is_spam { "spam" } else { "ham" };
        if args.json {
            let tests: Vec<&str> = v.hits.iter().map(|h| h.name.as_str()).collect();
            let obj = serde_json::json!({
                "path": entry.name,
                "verdict": verdict,
                "score": v.score,
                "required": v.required,
                "tests": tests,
                "bayes": v.bayes.as_ref().map(|b| b.prob),
            });
            writeln!(out, "{obj}")?;
        } else {
            writeln!(out, "{}\t{}\t{}\t{}", entry.name, verdict, v.score_text(), v.tests())?;
        }
    }
    out.flush()?;
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
