//! The text dump: a line-based, versioned format for backup and migration (see
//! docs/db-format.md). Stable across releases of the binary format.
//!
//! ```text
//! spamfilt-dump 1
//! messages HAM SPAM
//! token HASH SPAM HAM LASTDAY        (HASH: 16 hex digits; LASTDAY: days since 1970-01-01)
//! ledger DIGEST CLASS                (DIGEST: 32 hex digits; CLASS: ham or spam)
//! ```
//! Lines starting with `#` and blank lines are ignored. Tokens are written sorted by hash.

use std::io::{BufRead, Write};

use anyhow::{bail, Context, Result};

use super::{Class, Snapshot, TokenRecord, Totals};

const FIRST_LINE: &str = "spamfilt-dump 1";

pub fn write(snap: &Snapshot, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "{FIRST_LINE}")?;
    writeln!(out, "# spamfilt {} token database dump; load with 'spamfilt db load FILE'", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "messages {} {}", snap.totals.ham, snap.totals.spam)?;
    let mut tokens: Vec<(&u64, &TokenRecord)> = snap.tokens.iter().collect();
    tokens.sort_unstable_by_key(|t| *t.0);
    for (h, r) in tokens {
        writeln!(out, "token {h:016x} {} {} {}", r.spam, r.ham, r.last_day)?;
    }
    let mut ledger: Vec<_> = snap.ledger.iter().collect();
    ledger.sort_unstable();
    for (d, c) in ledger {
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(out, "ledger {hex} {}", c.name())?;
    }
    Ok(())
}

pub fn read(input: Box<dyn BufRead + '_>) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    let mut seen_header = false;
    let mut seen_messages = false;
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.with_context(|| format!("cannot read the dump at line {n}"))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !seen_header {
            if line != FIRST_LINE {
                bail!("line {n}: not a spamfilt dump (expected '{FIRST_LINE}')");
            }
            seen_header = true;
            continue;
        }
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let bad = || anyhow::anyhow!("line {n}: malformed: {line:?}");
        match f.as_slice() {
            ["messages", ham, spam] => {
                snap.totals = Totals { ham: ham.parse().map_err(|_| bad())?, spam: spam.parse().map_err(|_| bad())? };
                seen_messages = true;
            }
            ["token", h, s, hm, day] if h.len() == 16 => {
                let hash = u64::from_str_radix(h, 16).map_err(|_| bad())?;
                let r = TokenRecord {
                    spam: s.parse().map_err(|_| bad())?,
                    ham: hm.parse().map_err(|_| bad())?,
                    last_day: day.parse().map_err(|_| bad())?,
                };
                if snap.tokens.insert(hash, r).is_some() {
                    bail!("line {n}: token {h} appears twice");
                }
            }
            ["ledger", d, c] if d.len() == 32 => {
                let mut digest = [0u8; 16];
                for (k, b) in digest.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&d[2 * k..2 * k + 2], 16).map_err(|_| bad())?;
                }
                let class = match *c {
                    "ham" => Class::Ham,
                    "spam" => Class::Spam,
                    _ => return Err(bad()),
                };
                snap.ledger.insert(digest, class);
            }
            _ => return Err(bad()),
        }
    }
    if !seen_header {
        bail!("empty input: not a spamfilt dump");
    }
    if !seen_messages {
        bail!("the dump has no 'messages' line");
    }
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut snap = Snapshot::default();
        snap.learn(&[1, 2, u64::MAX], Class::Spam, 20_000);
        snap.learn(&[2, 3], Class::Ham, 20_001);
        snap.set_ledger([0xab; 16], Some(Class::Spam));
        let mut out = Vec::new();
        write(&snap, &mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("spamfilt-dump 1\n"));
        assert!(text.contains("token ffffffffffffffff 1 0 20000\n"), "{text}");
        let back = read(Box::new(out.as_slice())).unwrap();
        assert_eq!(back.totals, snap.totals);
        assert_eq!(back.tokens, snap.tokens);
        assert_eq!(back.ledger, snap.ledger);
    }

    #[test]
    fn errors_name_the_line() {
        let err = read(Box::new(&b"spamfilt-dump 1\nmessages 1 2\ntoken zz 1 2 3\n"[..])).unwrap_err();
        assert!(err.to_string().starts_with("line 3: malformed"), "{err}");
        assert!(read(Box::new(&b"hello\n"[..])).is_err());
        assert!(read(Box::new(&b""[..])).is_err());
        assert!(read(Box::new(&b"spamfilt-dump 1\n"[..])).unwrap_err().to_string().contains("messages"));
    }
}
