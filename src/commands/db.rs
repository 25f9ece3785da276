//! `spamfilt db …`: stats, dump, load, expire.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{DbCommand, GlobalArgs};
use crate::config::Settings;
use crate::store::Database;

pub fn run(settings: &Settings, g: &GlobalArgs, cmd: &DbCommand) -> Result<ExitCode> {
    let db = settings.database();
    match cmd {
        DbCommand::Stats => {
            let s = db.stats().with_context(|| format!("cannot read the database in {}", settings.db_dir.display()))?;
            println!("backend:      {}", if db.redis().is_some() { "redis" } else { "files" });
            // A database that is not there is no error (a new user's first delivery), but it is
            // also what a wrong HOME or --db gives: said here, where an admin looks to check what
            // a delivery sees, not only by the zero counts below.
            let absent = db.redis().is_none()
                && std::fs::symlink_metadata(db.file_path()).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            println!(
                "database:     {}{}",
                db.location(),
                if !absent {
                    ""
                } else if settings.db_dir.is_dir() {
                    " (not there: nothing was learned in this directory yet)"
                } else {
                    " (not there: the directory does not exist, so nothing was learned here)"
                }
            );
            if let Some(record) = db.interrupted_write() {
                println!("interrupted:  {}: {}", record.display(), super::lint::INTERRUPTED);
            }
            println!("messages:     {} ham, {} spam", s.totals.ham, s.totals.spam);
            println!("tokens:       {}", s.tokens);
            println!("ledger:       {} messages", s.ledger_entries);
            if db.redis().is_none() {
                println!("file size:    {}", human_size(s.file_size));
            }
            println!(
                "last update:  {}",
                if s.last_update == 0 { "never".to_string() } else { crate::store::format_utc(s.last_update) }
            );
            let sc = &settings.scoring;
            match s.lr {
                Some(lr) if lr.current => println!(
                    "lr weights:   {} ham, {} spam learned; 2^{} weights, {} ({})",
                    lr.ham,
                    lr.spam,
                    lr.bits,
                    human_size(lr.file_size),
                    if db.redis().is_some() { "in Redis".to_string() } else { db.lr_path().display().to_string() }
                ),
                Some(_) => println!(
                    "lr weights:   made by another version's features: not used; the next training starts them afresh"
                ),
                None => println!("lr weights:   none yet (the next training makes them)"),
            }
            let starter = crate::starter::Starter::embedded().filter(|_| sc.use_starter);
            let weight = starter.map_or(0.0, |_| crate::starter::Starter::weight(s.totals, sc.starter_fade));
            match starter {
                Some(st) if weight > 0.0 => println!(
                    "starter table: in use, weight {weight:.2} ({} tokens built in; fades out at {} ham and {} spam learned)",
                    st.len(),
                    sc.starter_fade,
                    sc.starter_fade
                ),
                Some(_) => println!("starter table: no longer used (your own database is large enough)"),
                None if !sc.use_starter => println!("starter table: off (use_starter = false)"),
                None => println!("starter table: none built into this binary"),
            }
            let min = sc.bayes.min_learned;
            if weight == 0.0 && (s.totals.ham < min || s.totals.spam < min) {
                println!("bayes:        not used yet (needs {min} ham and {min} spam learned)");
            } else {
                println!("bayes:        in use");
            }
            // Learned senders (LEARNED_SENDER): From addresses through a relay block.
            let mut notes = crate::store::Notes::new();
            match db.load_reputation(&mut notes) {
                Ok(rep) => {
                    let (all, ham_only) =
                        rep.learned_senders().fold((0u64, 0u64), |(a, h), l| (a + 1, h + (l.weight() > 0.0) as u64));
                    println!(
                        "senders:      {all} learned, {ham_only} as ham only (LEARNED_SENDER){}",
                        if settings.sender.no_learned_senders { "; not used (learned_senders = false)" } else { "" }
                    );
                }
                Err(e) => println!("senders:      cannot read the reputation database: {e:#}"),
            }
        }
        DbCommand::Dump { file } => match file {
            // A file is private like the database (0600) and written aside and renamed over, so a
            // failed dump never leaves half a backup; a device or pipe is written directly.
            Some(p) if !std::fs::metadata(p).is_ok_and(|m| !m.is_file()) => {
                let dir = match p.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => std::path::Path::new("."),
                };
                let name = p.file_name().with_context(|| format!("{} is not a file name", p.display()))?;
                let failed = || format!("the dump {} is not written", p.display());
                let mut tmp = crate::store::files::TempFile::new(dir, name).with_context(failed)?;
                let mut out = std::io::BufWriter::new(&mut tmp);
                dump(&db, &mut out).with_context(failed)?;
                out.flush().with_context(failed)?;
                drop(out);
                tmp.commit().with_context(failed)?;
            }
            // Every error names where the dump was going (on fbb856a `db dump /dev/full` said
            // only "No space left on device").
            Some(p) => {
                let failed = || format!("the dump to {} is not written whole", p.display());
                let f = std::fs::OpenOptions::new().write(true).open(p).with_context(failed)?;
                let mut out = std::io::BufWriter::new(f);
                dump(&db, &mut out).with_context(failed)?;
                out.flush().with_context(failed)?;
            }
            None => {
                let failed = || "the dump to standard output is not written whole".to_string();
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                dump(&db, &mut out).with_context(failed)?;
                out.flush().with_context(failed)?;
            }
        },
        DbCommand::Load { file } => {
            let input: Box<dyn std::io::BufRead> =
                if file.as_os_str() == "-" {
                    Box::new(std::io::stdin().lock())
                } else {
                    Box::new(std::io::BufReader::new(std::fs::File::open(file).with_context(|| {
                        format!("cannot open the dump {}; the database is unchanged", file.display())
                    })?))
                };
            let name = if file.as_os_str() == "-" { "standard input".to_string() } else { file.display().to_string() };
            // The whole dump is read and checked before anything is replaced.
            let loaded = crate::store::dump::read(input)
                .with_context(|| format!("{name} is not loaded; the database is unchanged"))?;
            let mut notes = crate::store::Notes::new();
            let restored = db.restore_loaded(loaded, &mut notes);
            super::print_notes(&notes);
            let r = restored?;
            if !r.checked {
                // Said even with -q: it is what a restore from a backup must not hide.
                eprintln!(
                    "spamfilt: warning: {name} is a version {} dump, from before dumps had an end line: whether it \
                     is complete cannot be checked (one cut short loads as if it were whole); compare `spamfilt db \
                     stats` with what you expect",
                    r.version
                );
            }
            let s = r.stats;
            if !g.quiet {
                println!("loaded {} tokens, {} ham and {} spam messages", s.tokens, s.totals.ham, s.totals.spam);
                match r.reputation {
                    Some(n) => println!(
                        "loaded {n} reputation records (IP addresses, DNS answers, correspondents, own addresses, learned senders)"
                    ),
                    None => println!(
                        "the dump has no reputation section (version {}): reputation.db is left as it is",
                        r.version
                    ),
                }
            }
        }
        DbCommand::Salvage => return salvage(settings, g),
        DbCommand::Migrate { to, to_files, prefix, force } => {
            let target = match (to, to_files) {
                (Some(url), _) => {
                    let prefix = prefix
                        .clone()
                        .or_else(|| settings.redis.as_ref().map(|r| r.prefix.clone()))
                        .unwrap_or_else(crate::config::login_name);
                    crate::store::redis::check_prefix(&prefix).map_err(|e| anyhow::anyhow!("--prefix: {e}"))?;
                    let cfg =
                        crate::store::RedisConfig::parse(url, &prefix).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
                    Database::with_store(&settings.db_dir, Some(&cfg))
                }
                (None, Some(dir)) => Database::at(dir),
                (None, None) => anyhow::bail!("say where to: --to redis://HOST:PORT/DB or --to-files DIR"),
            };
            if target.location() == db.location() {
                anyhow::bail!("{} is where the database is already", target.location());
            }
            let mut snap = db.snapshot().with_context(|| format!("cannot read {}", db.location()))?;
            let there = target.stats().with_context(|| format!("cannot read {}", target.location()))?;
            if !force && (there.totals.ham + there.totals.spam > 0 || there.tokens > 0 || there.ledger_entries > 0) {
                anyhow::bail!(
                    "{} already holds {} ham and {} spam learned; --force replaces them",
                    target.location(),
                    there.totals.ham,
                    there.totals.spam
                );
            }
            snap.lr_dirty = true;
            let mut notes = crate::store::Notes::new();
            let rep = db.load_reputation(&mut notes).with_context(|| format!("cannot read {}", db.location()));
            super::print_notes(&notes);
            let rep = rep?;
            notes.clear();
            let _lock = target.lock()?;
            let done = target.replace_tokens(&snap, Some(&rep), &mut notes);
            super::print_notes(&notes);
            done.with_context(|| format!("cannot write {} (nothing was changed)", target.location()))?;
            if !g.quiet {
                println!(
                    "copied {} ham and {} spam learned, {} tokens, {} ledger entries{}, {} reputation records from {} to {}",
                    snap.totals.ham,
                    snap.totals.spam,
                    snap.tokens.len(),
                    snap.ledger.len(),
                    if snap.lr.is_some() { " and the LR weights" } else { "" },
                    rep.records.len(),
                    db.location(),
                    target.location()
                );
            }
        }
        DbCommand::Expire { days, max_count } => {
            let dropped = db.expire(*days, *max_count)?;
            if !g.quiet {
                println!("dropped {dropped} tokens seen at most {max_count} times and not for {days} days");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `db salvage`: rebuilds a damaged token database from what verifies. Runs with a broken
/// config file too (it needs only the database directory).
pub fn salvage(settings: &Settings, g: &GlobalArgs) -> Result<ExitCode> {
    if let Some(r) = settings.redis.as_ref() {
        // Only a file can be salvaged record by record; Redis entries are checked one by one.
        println!(
            "the token store is in Redis ({}): salvage rebuilds a damaged tokens.db only; `spamfilt lint` checks the \
             Redis store and `spamfilt train --force` drops its damaged entries",
            r.shown()
        );
    }
    let db = Database::at(&settings.db_dir);
    let path = db.file_path();
    match db.salvage()? {
        None if !path.exists() => println!("{}: no token database, nothing to salvage", path.display()),
        None => println!("{}: intact, nothing to salvage", path.display()),
        Some(s) => {
            println!(
                "salvaged {}: kept {} token records and {} ledger entries, dropped {} records and {} ledger entries",
                path.display(),
                s.records_kept,
                s.ledger_kept,
                s.records_dropped,
                s.ledger_dropped
            );
            println!(
                "messages learned: {} ham, {} spam ({})",
                s.totals.ham,
                s.totals.spam,
                if s.header_intact { "from the header" } else { "the header was damaged: counted from the ledger" }
            );
            if !g.quiet {
                println!("the damaged file is kept as {}", s.aside.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `1.5 MiB`, `812 KiB`, `120 B`.
/// Writes the dump, then shows what reading the databases noted.
fn dump(db: &Database, out: &mut dyn Write) -> Result<()> {
    let mut notes = crate::store::Notes::new();
    let done = db.dump(out, &mut notes);
    super::print_notes(&notes);
    done
}

pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human_size(100), "100 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
