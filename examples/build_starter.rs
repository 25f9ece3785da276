//! Builds the starter table (data/starter.bin) from labelled mail; run by
//! scripts/build-starter.sh. Tokens are those of the current tokenizer with default settings;
//! only tokens seen at least `--min-count` times that Bayes would use (|f(w) − 0.5| ≥ min_dev)
//! are kept, to keep the binary small.
//!
//!     cargo run --release --example build_starter -- --ham @ham.list --spam @spam.list --out data/starter.bin

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use spamfilt::bayes::{self, BayesParams, Counts, Totals};
use spamfilt::features::{self, TokenizerSettings};
use spamfilt::message::Message;
use spamfilt::{mailbox, starter};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut ham, mut spam, mut out, mut min_count) = (Vec::new(), Vec::new(), None, 3u32);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ham" => ham.push(args.next().context("--ham needs a PATH")?),
            "--spam" => spam.push(args.next().context("--spam needs a PATH")?),
            "--out" => out = Some(args.next().context("--out needs a FILE")?),
            "--min-count" => min_count = args.next().context("--min-count needs N")?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let out = out.context("--out FILE is required")?;
    let tok = TokenizerSettings::default();
    let mut counts: HashMap<u64, Counts> = HashMap::new();
    let mut totals = Totals::default();
    for (paths, is_spam) in [(&ham, false), (&spam, true)] {
        for entry in mailbox::expand(paths)? {
            let raw = entry.read()?;
            // The tokens `train` learns, less the trace tokens (the gate's marker and the
            // Received words): the starter table has none, so they count only from the user's own
            // training and the gate reads the user's own marker count.
            let tokens = features::tokenize(&Message::parse(&raw, 512 * 1024), &tok);
            for &h in &tokens.hashes()[..tokens.trace_start()] {
                let c = counts.entry(h).or_default();
                if is_spam {
                    c.spam += 1;
                } else {
                    c.ham += 1;
                }
            }
            if is_spam {
                totals.spam += 1;
            } else {
                totals.ham += 1;
            }
        }
    }
    let p = BayesParams::default();
    let records: Vec<(u64, u32, u32)> = counts
        .iter()
        .filter(|(_, c)| c.spam + c.ham >= min_count)
        .filter(|(_, c)| (bayes::token_prob(**c, totals, &p) - 0.5).abs() >= p.min_dev)
        .map(|(&h, c)| (h, c.spam, c.ham))
        .collect();
    let bytes = starter::Starter::build(starter::tokenizer_fingerprint(), totals, records);
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {out}"))?;
    let kept = (bytes.len() - 40) / 12;
    eprintln!(
        "{out}: {} ham and {} spam messages, {} distinct tokens, kept {kept} ({} bytes)",
        totals.ham,
        totals.spam,
        counts.len(),
        bytes.len()
    );
    Ok(())
}
