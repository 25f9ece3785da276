//! `spamfilt lint`: every problem the filter would work around, as `FILE:LINE: message`.
//!
//! Checks the config file (each key, score and custom rule), the allow and block lists, the URI
//! blocklist, the token database (header, checksum, ledger and every record; with `[store] redis`
//! that the Redis store answers and holds only well-formed entries) and the reputation database
//! (checksum and every record), and whether the DNS resolver is backed off after it gave no
//! answer (`dns-resolver.state`: the DNS checks are skipped meanwhile). Exit status 1 when
//! anything is wrong, 0 otherwise.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::GlobalArgs;
use crate::config::Settings;
use crate::problems::Problem;
use crate::store::{format_utc, lint_told, Database};

pub fn run(g: &GlobalArgs) -> Result<ExitCode> {
    let (settings, mut problems) = Settings::load_degraded(g.db.as_deref(), g.config.as_deref())?;
    problems.extend(database_problems(&settings));
    for p in &problems {
        println!("{p}");
    }
    // Suggestions, not problems: they do not change the exit status. Printed with -q too, once
    // per address: lint runs weekly from cron with -q, and the admin must hear of an address
    // that looks like an own relay (trusted_networks), but not every Sunday for ever
    // (`store::lint_told`). Without -q every note is printed.
    let notes = notes(&settings);
    let told = lint_told::read(&settings.db_dir);
    for (ip, note) in &notes {
        if !g.quiet || !told.contains(ip) {
            println!("{note}");
        }
    }
    let noted: BTreeSet<String> = notes.into_iter().map(|(ip, _)| ip).collect();
    if noted != told {
        // Not remembered (a read-only directory, another user's): told again next time.
        let _ = lint_told::write(&settings.db_dir, &noted);
    }
    if problems.is_empty() {
        if !g.quiet {
            let config =
                settings.config_file.as_ref().map_or("no config file".to_string(), |p| p.display().to_string());
            eprintln!(
                "spamfilt lint: no problems ({config}, {}, {})",
                settings.allow_list.display(),
                settings.db_dir.display()
            );
        }
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("spamfilt lint: {} problem{}", problems.len(), if problems.len() == 1 { "" } else { "s" });
        Ok(ExitCode::from(1))
    }
}

/// Your own database directory that you cannot write (mode 0500: a `chmod -R a-w` of the home,
/// a restored backup): deliveries still score from it, but every training run, the nightly
/// purge and kept-ham lines among them, fails. Newcomer's pass: lint said "no problems". A
/// directory of root's (a shared, read-only database) is not yours to write and not said.
fn not_writable(meta: &std::fs::Metadata, dir: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = crate::store::files::euid();
    (me != 0 && meta.uid() == me && meta.mode() & 0o300 != 0o300).then(|| {
        format!(
            "you cannot write your database directory (mode {:04o}): deliveries score from it, but train, forget, \
             purge and the crontab's nightly lines fail; give yourself the right with: chmod u+rwx {}",
            meta.mode() & 0o7777,
            dir.display()
        )
    })
}

/// What is wrong with the databases, if anything.
pub fn database_problems(settings: &Settings) -> Vec<Problem> {
    let mut out = Vec::new();
    let db = Database::at(&settings.db_dir);
    // Nothing trained where this user's commands (and deliveries) look: a fresh install, or a
    // database trained under another HOME or --db (Dovecot's virtual users: their HOME is the
    // userdb's). The filter scores with the starter table and the rules either way, unmarked
    // (see README, "Which database a delivery uses"); lint says where it looked.
    let dir = &settings.db_dir;
    if settings.redis.is_none() {
        // The directory itself first: one that is a file or cannot be read is named as such, not
        // as "no database here" (on fbb856a a directory of mode 000 was "tokens.db does not exist",
        // and `--db /etc/passwd` "the directory does not exist").
        let unusable = match std::fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!(
                "cannot use the database directory: {}: give yourself permission to read it (chmod u+rwx {}; \
                 `ls -ld` shows its owner and mode)",
                crate::problems::error_text(&e.into()),
                dir.display()
            )),
            Ok(m) if !m.is_dir() => Some(
                "this is a file, not a directory: --db (or SPAMFILT_DB) names the database directory, in which \
                 tokens.db, lr.weights and reputation.db are"
                    .to_string(),
            ),
            Ok(m) => match std::fs::read_dir(dir) {
                Err(e) => Some(format!(
                    "cannot list the database directory: {}: give yourself permission to read it (chmod u+rwx {}; \
                     `ls -ld` shows its owner and mode)",
                    crate::problems::error_text(&e.into()),
                    dir.display()
                )),
                // Readable but not writable: said, and the files are checked as usual.
                Ok(_) => {
                    out.extend(not_writable(&m, dir).map(|why| Problem::new(dir, None, why)));
                    None
                }
            },
        };
        if let Some(why) = unusable {
            // Every file in it would fail for the same reason: said once.
            out.push(Problem::new(dir, None, why));
            return out;
        }
    }
    let tokens_missing =
        std::fs::symlink_metadata(db.file_path()).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
    if settings.redis.is_none() && tokens_missing {
        let what = if settings.db_dir.is_dir() {
            format!("no database here: {} does not exist", db.file_path().display())
        } else {
            "no database here: the directory does not exist".to_string()
        };
        out.push(Problem::new(
            &settings.db_dir,
            None,
            format!(
                "{what}, so nothing learned is used (the starter table and the rules score alone); \
                 create it by training (spamfilt train --ham ~/Maildir/.Sent ~/Maildir/cur --spam ~/Maildir/.Junk), or point \
                 --db or SPAMFILT_DB (for a delivery: its HOME) at the database you trained"
            ),
        ));
    }
    // The subdirectories the service and the queue write in: a link or another user's directory
    // there is refused when used (attack report F2); lint says so beforehand.
    if settings.redis.is_none() {
        let policy = dir.join(crate::policy::state::DIR);
        let subs = [dir.join("queue"), policy.clone()].into_iter().chain(
            ["unknown", "refused", "probed"]
                .iter()
                .map(|s| policy.join(s))
                .filter(|_| policy.is_dir() && !policy.is_symlink()),
        );
        for sub in subs {
            if let Err(e) = crate::store::files::check_subdir(&sub) {
                out.push(Problem::new(&sub, None, format!("{e:#}")));
            }
        }
    }
    if let Some(record) = db.interrupted_write() {
        out.push(Problem::new(&record, None, INTERRUPTED));
    }
    match db.verify() {
        Ok(None) => {}
        Ok(Some(why)) => out.push(Problem::new(&db.file_path(), None, why)),
        Err(e) => out.push(Problem::new(&db.file_path(), None, format!("{e:#}"))),
    }
    // The Redis store ([store] redis): reachable, and every entry well-formed.
    let store = settings.database();
    if store.redis().is_some() {
        if let Err(e) = store.snapshot() {
            out.push(Problem::new(std::path::Path::new(&store.location()), None, format!("{e:#}")));
        }
        if let Err(e) = store.redis().map_or(Ok(()), |r| r.reputation().map(drop)) {
            out.push(Problem::new(std::path::Path::new(&store.location()), None, format!("{e:#}")));
        }
        if let Some(risk) = store.redis().and_then(|r| r.eviction_risk()) {
            out.push(Problem::new(std::path::Path::new(&store.location()), None, risk));
        }
    }
    // The LR weights beside tokens.db: readable, the version and size their header says, every
    // weight finite (what training reads; the filter checks only the header).
    if settings.redis.is_none() {
        if let Err(e) = db.verify_lr() {
            let what = match crate::store::files::fix_for(&e, &db.lr_path()) {
                f if f.is_empty() => crate::problems::error_text(&e),
                f => format!("{}: {f}", crate::problems::error_text(&e)),
            };
            out.push(Problem::new(&db.lr_path(), None, what));
        }
    }
    out.extend(resolver_problem(settings, crate::store::now_secs()));
    let rep = settings.db_dir.join(crate::store::reputation::FILE);
    let mut notes = crate::store::Notes::new();
    let loaded = crate::store::reputation::Reputation::load(&settings.db_dir, &mut notes);
    super::print_notes(&notes);
    if let Err(e) = loaded {
        // --force only for a file read and found damaged; one that could not be read (see
        // files::CannotUse) is said as such, with the fix.
        let what = if crate::store::files::cannot_use(&e) {
            match crate::store::files::fix_for(&e, &rep) {
                f if f.is_empty() => crate::problems::error_text(&e),
                f => format!("{}: {f}", crate::problems::error_text(&e)),
            }
        } else {
            format!("{} (train --force moves it aside and starts it afresh)", e.root_cause())
        };
        out.push(Problem::new(&rep, None, what));
    }
    out
}

/// What `lint` and `db stats` say of a commit record left by a killed writer (`lint` puts the
/// record's path before it, `db stats` after it).
pub const INTERRUPTED: &str = "a write of the database was interrupted (a process was killed while it replaced the \
     files this commit record names); the next command that writes the database completes it (the nightly purge, \
     spamfilt train, spamfilt ip expire); until then deliveries may score with part of that write";

/// The DNS resolver backed off after it gave no answer (`dns-resolver.state`, see
/// `commands::resolver`): while the back-off lasts deliveries and the policy service ask it
/// nothing, so the DNS checks are off without anything else saying so but X-Spam-Degraded.
/// A record whose back-off is over is no problem: the next delivery asks again.
fn resolver_problem(settings: &Settings, now: u64) -> Option<Problem> {
    use crate::store::resolver;
    let d = settings.sender.dns.as_ref()?;
    let file = settings.db_dir.join(resolver::FILE);
    let s = match resolver::read(&settings.db_dir, d.resolver) {
        Ok(s) => s?,
        Err(e) => return Some(Problem::new(&file, None, format!("{e:#}"))),
    };
    if now >= s.until {
        return None;
    }
    let since = s.silent_since();
    let since = if since < s.at {
        format!("at every probe since {} or earlier (the last at {})", format_utc(since), format_utc(s.at))
    } else {
        format!("at {}", format_utc(s.at))
    };
    let mut skipped = Vec::new();
    if !d.dnsbl.is_empty() {
        skipped.push("the DNS blocklists of the relay (dnsbl) and of the policy service");
    }
    if !d.uribl.is_empty() {
        skipped.push("the URI blocklists (uribl)");
    }
    if d.ptr {
        skipped.push("the PTR (reverse name) lookups");
    }
    let skipped = match skipped.split_last() {
        None => "its lookups".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    Some(Problem::new(
        &file,
        None,
        format!(
            "the DNS resolver {r} is backed off: it gave no answer {since}, and is not asked again until {until} \
             (back-off {b} s, doubling to {max} min while it stays silent). Until then {skipped} are skipped: mail \
             is scored and answered without them (X-Spam-Degraded says so). Check that it runs and answers \
             (dig @{ip} -p {port} . NS); the first delivery after the back-off asks it again, and an answer removes \
             this file",
            r = s.resolver,
            until = format_utc(s.until),
            b = s.backoff,
            max = resolver::MAX_BACKOFF / 60,
            ip = s.resolver.ip(),
            port = s.resolver.port(),
        ),
    ))
}

/// Suggestions: addresses that look like the user's own relays (see `ip list`), each with its
/// label (`reputation::ip_label`).
pub fn notes(settings: &Settings) -> Vec<(String, Problem)> {
    use crate::store::reputation::ReputationLookup;
    // What loading notes was shown by `database_problems`, which loaded it first.
    let Ok(rep) = settings.database().load_reputation(&mut crate::store::Notes::new()) else { return Vec::new() };
    let relayed = rep.relayed();
    let file = settings.db_dir.join(crate::store::reputation::FILE);
    rep.ips()
        // Once in trusted_networks, as the note says, it is said no more (newcomer's pass: lint
        // and ip list went on telling it).
        .filter(|(ip, r)| r.looks_like_own_relay(relayed) && !settings.sender.trusted.contains(*ip))
        .map(|(ip, r)| {
            let note = format!("note: {}", super::ip::own_relay_note(ip, r.share(relayed), settings));
            (crate::store::reputation::ip_label(ip), Problem::new(&file, None, note))
        })
        .collect()
}
