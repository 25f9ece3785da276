//! `spamfilt address show|list|remove`: the mail addresses training recorded in the reputation
//! database: known correspondents and the user's own addresses (see `learn::Prepared`), and
//! learned senders (a From address through a relay block, `LEARNED_SENDER`).
//!
//! A correspondent or own-address record is keyed by a hash of the lower-cased address
//! (`reputation::address_key`) and holds the address, so one is found by its address and every
//! one can be listed. A learned sender is keyed by the address and the block
//! (`reputation::sender_key`), so an address's learned senders are found by reading every
//! record (as `list` does): an admin command, not the filter's path.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::{AddressCommand, GlobalArgs};
use crate::config::Settings;
use crate::store::reputation::{address_key, Key, LearnedSender, Record, Reputation};
use crate::store::{format_utc, Notes};

pub fn run(settings: &Settings, g: &GlobalArgs, cmd: &AddressCommand) -> Result<ExitCode> {
    let mut notes = Notes::new();
    let done = run_noting(settings, g, cmd, &mut notes);
    super::print_notes(&notes);
    done
}

/// An address as given: `<jan@klant.be>` and `jan@klant.be` are the same.
fn parse(s: &str) -> Result<String> {
    let a = s.trim().trim_start_matches('<').trim_end_matches('>').trim();
    if a.is_empty() || a.chars().any(char::is_whitespace) {
        bail!("`{s}` is not a mail address");
    }
    Ok(a.to_ascii_lowercase())
}

/// One record as `list`, `show` and `remove` describe it; `None` when it is not an address's.
fn describe(r: &Record) -> Option<(String, String)> {
    match r {
        Record::Correspondent(c) => Some((
            c.address.clone(),
            format!(
                "known correspondent: {} written to it, last {}",
                super::plural(c.messages as u64, "message", "messages"),
                format_utc(c.last)
            ),
        )),
        Record::Own(o) => {
            Some((o.address.clone(), format!("your own address: mail from it last learned {}", format_utc(o.last))))
        }
        Record::Ip(_) | Record::Domain(_) | Record::Sender(_) => None,
    }
}

/// One learned sender as `show` and `remove` describe it (as `check --report` does).
fn describe_sender(l: &LearnedSender, correspondent: bool, settings: &Settings) -> String {
    let effect = if settings.sender.no_learned_senders {
        "not used (learned_senders = false)".to_string()
    } else if l.spam > 0 {
        "learned as spam too: no ham evidence".to_string()
    } else if correspondent {
        "a known correspondent already: LEARNED_SENDER does not add to it".to_string()
    } else {
        format!("LEARNED_SENDER counts {:.0}% of its points", 100.0 * l.weight())
    };
    format!(
        "learned sender through {}: learned as ham {}, as spam {}, last {}: {effect}",
        l.block,
        l.ham,
        l.spam,
        format_utc(l.last)
    )
}

/// The learned senders of `address` (lower case), sorted by block, with their keys.
fn senders_of<'a>(rep: &'a Reputation, address: &str) -> Vec<(Key, &'a LearnedSender)> {
    let mut out: Vec<(Key, &LearnedSender)> = rep
        .records
        .iter()
        .filter_map(|(k, r)| match r {
            Record::Sender(l) if l.address == address => Some((*k, l)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.1.block.cmp(&b.1.block));
    out
}

/// What `show` and `remove` say of `address`: its own record's description first, then one
/// per learned sender; with the keys of the records.
fn everything(rep: &Reputation, address: &str, settings: &Settings) -> Vec<(Key, String, String)> {
    let mut out = Vec::new();
    let own = rep.records.get(&address_key(address)).and_then(describe);
    let correspondent = matches!(rep.records.get(&address_key(address)), Some(Record::Correspondent(_)));
    if let Some((shown, what)) = own {
        out.push((address_key(address), shown, what));
    }
    for (key, l) in senders_of(rep, address) {
        out.push((key, l.address.clone(), describe_sender(l, correspondent, settings)));
    }
    out
}

/// Where the reputation records are, for messages.
fn place(settings: &Settings) -> String {
    let db = settings.database();
    match db.redis() {
        Some(r) => format!("{} (keys {{{}}}:rep)", r.cfg.shown(), r.cfg.prefix),
        None => Reputation::path(db.dir()).display().to_string(),
    }
}

fn not_there(address: &str, settings: &Settings) -> String {
    format!(
        "spamfilt: {address} is neither a known correspondent nor one of your own addresses nor a learned sender in {}",
        place(settings)
    )
}

fn run_noting(settings: &Settings, g: &GlobalArgs, cmd: &AddressCommand, notes: &mut Notes) -> Result<ExitCode> {
    let db = settings.database();
    match cmd {
        AddressCommand::Show { address } => {
            let a = parse(address)?;
            let rep = db.load_reputation(notes)?;
            let found = everything(&rep, &a, settings);
            if found.is_empty() {
                eprintln!("{}", not_there(&a, settings));
                return Ok(ExitCode::from(1));
            }
            for (_, shown, what) in found {
                println!("{shown}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AddressCommand::List { own, correspondents, senders } => {
            let all = !(*own || *correspondents || *senders);
            let rep = db.load_reputation(notes)?;
            let mut rows: Vec<(String, &'static str, String)> = rep
                .records
                .values()
                .filter_map(|r| match r {
                    Record::Correspondent(c) if all || *correspondents => Some((
                        c.address.clone(),
                        "correspondent",
                        format!("messages={}\tlast={}", c.messages, format_utc(c.last)),
                    )),
                    Record::Own(o) if all || *own => {
                        Some((o.address.clone(), "own", format!("last={}", format_utc(o.last))))
                    }
                    Record::Sender(l) if all || *senders => Some((
                        l.address.clone(),
                        "sender",
                        format!("block={}\tham={}\tspam={}\tlast={}", l.block, l.ham, l.spam, format_utc(l.last)),
                    )),
                    _ => None,
                })
                .collect();
            rows.sort();
            if rows.is_empty() && !g.quiet {
                let what = match (own, correspondents, senders) {
                    (true, _, _) => "own addresses",
                    (_, true, _) => "known correspondents",
                    (_, _, true) => "learned senders",
                    _ => "known correspondents, own addresses or learned senders",
                };
                eprintln!("spamfilt: no {what} in {}", place(settings));
            }
            for (address, kind, rest) in rows {
                println!("{address}\t{kind}\t{rest}");
            }
            Ok(ExitCode::SUCCESS)
        }
        AddressCommand::Remove { dry_run, addresses } => {
            let wanted: Vec<String> = addresses.iter().map(|a| parse(a)).collect::<Result<_>>()?;
            // Each address once, whatever the case it was given in.
            let mut seen = std::collections::HashSet::new();
            let wanted: Vec<String> = wanted.into_iter().filter(|a| seen.insert(a.clone())).collect();
            let verb = if *dry_run { "would remove" } else { "removed" };
            // What is found is said as it is removed, under the lock: what another run changed
            // meanwhile is what is removed.
            let edit = |rep: &mut Reputation| -> Result<(Vec<String>, Vec<String>)> {
                let (mut said, mut missing) = (Vec::new(), Vec::new());
                for a in &wanted {
                    let found = everything(rep, a, settings);
                    if found.is_empty() {
                        missing.push(a.clone());
                    }
                    for (key, shown, what) in found {
                        if !dry_run {
                            rep.records.remove(&key);
                        }
                        said.push(format!("{verb} {shown} ({what})"));
                    }
                }
                Ok((said, missing))
            };
            // With Redis, this host's old reputation.db may hold a copy (not used): it goes too.
            let local = |rep: &mut Reputation| {
                for a in &wanted {
                    if matches!(rep.records.get(&address_key(a)), Some(Record::Correspondent(_) | Record::Own(_))) {
                        rep.records.remove(&address_key(a));
                    }
                    for key in senders_of(rep, a).into_iter().map(|(k, _)| k).collect::<Vec<_>>() {
                        rep.records.remove(&key);
                    }
                }
            };
            let (said, missing) = super::remove_reputation(&db, notes, *dry_run, edit, local)?;
            if !g.quiet {
                for s in &said {
                    println!("{s}");
                }
            }
            for a in &missing {
                eprintln!("{}", not_there(a, settings));
            }
            Ok(if missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
