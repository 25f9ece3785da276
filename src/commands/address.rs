//! `spamfilt address show|list|remove`: the mail addresses training recorded in the reputation
//! database, known correspondents and the user's own addresses (see `learn::Prepared`).
//!
//! A record is keyed by a hash of the lower-cased address (`reputation::address_key`) and holds
//! the address, so one is found by its address and every one can be listed.

use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::cli::{AddressCommand, GlobalArgs};
use crate::config::Settings;
use crate::store::reputation::{address_key, Record, Reputation};
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

/// Where the reputation records are, for messages.
fn place(settings: &Settings) -> String {
    let db = settings.database();
    match db.redis() {
        Some(r) => format!("{} (keys {{{}}}:rep)", r.cfg.shown(), r.cfg.prefix),
        None => Reputation::path(db.dir()).display().to_string(),
    }
}

fn not_there(address: &str, settings: &Settings) -> String {
    format!("spamfilt: {address} is neither a known correspondent nor one of your own addresses in {}", place(settings))
}

fn run_noting(settings: &Settings, g: &GlobalArgs, cmd: &AddressCommand, notes: &mut Notes) -> Result<ExitCode> {
    let db = settings.database();
    match cmd {
        AddressCommand::Show { address } => {
            let a = parse(address)?;
            let rep = db.load_reputation(notes)?;
            match rep.records.get(&address_key(&a)).and_then(describe) {
                Some((shown, what)) => {
                    println!("{shown}: {what}");
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("{}", not_there(&a, settings));
                    Ok(ExitCode::from(1))
                }
            }
        }
        AddressCommand::List { own, correspondents } => {
            let rep = db.load_reputation(notes)?;
            let mut rows: Vec<(String, &'static str, String)> = rep
                .records
                .values()
                .filter_map(|r| match r {
                    Record::Correspondent(c) if !own => Some((
                        c.address.clone(),
                        "correspondent",
                        format!("messages={}\tlast={}", c.messages, format_utc(c.last)),
                    )),
                    Record::Own(o) if !correspondents => {
                        Some((o.address.clone(), "own", format!("last={}", format_utc(o.last))))
                    }
                    _ => None,
                })
                .collect();
            rows.sort();
            if rows.is_empty() && !g.quiet {
                let what = match (own, correspondents) {
                    (true, _) => "own addresses",
                    (_, true) => "known correspondents",
                    _ => "known correspondents or own addresses",
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
                    let key = address_key(a);
                    match rep.records.get(&key).and_then(describe) {
                        Some((shown, what)) => {
                            if !dry_run {
                                rep.records.remove(&key);
                            }
                            said.push(format!("{verb} {shown} ({what})"));
                        }
                        None => missing.push(a.clone()),
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
