//! `spamfilt train` and `spamfilt forget`: learn and unlearn messages, with the ledger.

use std::collections::HashSet;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{ForgetArgs, GlobalArgs, TrainArgs};
use crate::config::Settings;
use crate::learn::{self, Outcome};
use crate::mailbox::Entry;
use crate::store::queue::Queued;
use crate::store::reputation::{Key, Record, Reputation, ReputationLookup};
use crate::store::{self, Class, Learned, TokenRecord};

/// Counts for the one-line summary.
#[derive(Debug, Default)]
pub struct Tally {
    pub learned_ham: u64,
    pub learned_spam: u64,
    pub known: u64,
    pub moved: u64,
    pub forgotten: u64,
    pub not_known: u64,
    pub unreadable: u64,
    /// Files that are not mail (no header block), not learned.
    pub skipped: u64,
    /// Messages given as both ham and spam in one run: not learned (left as they were).
    pub ambiguous: u64,
}

impl Tally {
    pub fn add(&mut self, class: Class, o: Outcome) {
        match (o, class) {
            (Outcome::Learned, Class::Ham) => self.learned_ham += 1,
            (Outcome::Learned, Class::Spam) => self.learned_spam += 1,
            (Outcome::AlreadyKnown, _) => self.known += 1,
            (Outcome::Moved, _) => self.moved += 1,
            (Outcome::Forgotten, _) => self.forgotten += 1,
            (Outcome::NotKnown, _) => self.not_known += 1,
        }
    }

    /// A message that could not be read: says why (above the progress bar `bar`) and counts it
    /// as skipped when the file is not mail, else as unreadable.
    fn not_read(&mut self, e: &anyhow::Error, bar: &indicatif::ProgressBar) {
        bar.suspend(|| eprintln!("spamfilt: {}", crate::problems::error_text(e)));
        if super::is_not_mail(e) {
            self.skipped += 1;
        } else {
            self.unreadable += 1;
        }
    }

    /// Takes back what `add` counted.
    fn take(&mut self, class: Class, o: Outcome) {
        let n = match (o, class) {
            (Outcome::Learned, Class::Ham) => &mut self.learned_ham,
            (Outcome::Learned, Class::Spam) => &mut self.learned_spam,
            (Outcome::AlreadyKnown, _) => &mut self.known,
            (Outcome::Moved, _) => &mut self.moved,
            (Outcome::Forgotten, _) => &mut self.forgotten,
            (Outcome::NotKnown, _) => &mut self.not_known,
        };
        *n = n.saturating_sub(1);
    }
}

/// What this run did with a message learned as ham, by digest: so that the same message given
/// as spam too (the same file, or a copy) is recognised and put back as it was.
struct FirstSeen {
    name: String,
    before: Option<Class>,
    outcome: Outcome,
    /// The reputation records the message could change (`learn::sender_keys`), as they were
    /// before it was learned as ham and as it left them: put back exactly when nothing else
    /// changed them since.
    records: Vec<(Key, Option<Record>, Option<Record>)>,
    /// The same for the ham copies' Received words: with the gate's marker, the only tokens in
    /// which copies of one message differ, so the only ones the reverse learn through the spam
    /// copy may not put back.
    trace: Vec<(u64, Option<TokenRecord>, Option<TokenRecord>)>,
    /// The ledger entry before the run, with its Received flag (the reverse learn writes the
    /// spam copy's).
    learned: Option<Learned>,
    /// How much the ham learns of this message changed the gate's marker (spam, ham): every
    /// message with Received fields counts it, so it is taken back by difference.
    marker: (i64, i64),
}

/// The gate's marker's counts (spam, ham).
fn marker_counts(snap: &store::Snapshot) -> (i64, i64) {
    let r = snap.token(learn::trace_marker()).unwrap_or_default();
    (i64::from(r.spam), i64::from(r.ham))
}

/// The note for mail of another user's trained into a database that user's deliveries do not
/// read. Newcomer's pass: root (`sudo -i`, HOME=/root) trained `/home/jan/Maildir/.Junk` into
/// /root/.local/share/spamfilt, silently, and jan's deliveries went on with their own empty
/// database. The first PATH named (not `-` or `@LIST`) owned by someone else, not root, whose
/// user does not own the database directory either; `None` with a Redis store (its prefix is
/// a choice).
fn others_mail<'a>(settings: &Settings, paths: impl Iterator<Item = &'a String>) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    if settings.redis.is_some() {
        return None;
    }
    let me = store::files::euid();
    // The database directory's owner, or (not made yet) ours: the run makes it.
    let db_owner = std::fs::metadata(&settings.db_dir).map_or(me, |m| m.uid());
    let (path, owner) = paths
        .filter(|p| *p != "-" && !p.starts_with('@'))
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| (p, m.uid())))
        .find(|&(_, owner)| owner != me && owner != 0 && owner != db_owner)?;
    let name = store::files::user_name(owner);
    let who = name.as_ref().map_or_else(|| format!("user id {owner}"), |n| format!("user {n} (user id {owner})"));
    let runas = name.unwrap_or_else(|| owner.to_string());
    let holder = store::files::user_name(db_owner).unwrap_or_else(|| format!("user id {db_owner}"));
    Some(format!(
        "{path} belongs to {who}, but this run learns into {} ({holder}'s database), which {runas}'s deliveries do \
         not read: to train theirs, run spamfilt as that user (e.g. runuser -u {runas} -- spamfilt train …), with the \
         HOME or --db their deliveries have",
        settings.db_dir.display()
    ))
}

pub fn run_train(settings: &Settings, g: &GlobalArgs, args: &TrainArgs) -> Result<ExitCode> {
    let age = args.older_than.as_deref().map(|a| super::purge::parse_age(a).map(|d| (d, a))).transpose()?;
    let rules = super::kept::Rules { older_than: age, below: args.below, balanced: args.balanced };
    // A path that cannot be read is an entry whose read fails: named and counted as unreadable
    // below, as an unreadable file in a folder is; the rest is learned (admin report M9).
    let mut work: Vec<(Entry, Class)> = Vec::new();
    let mut notes = Vec::new();
    let ham = crate::mailbox::expand_noting(&args.ham, &mut notes)?;
    let spam = crate::mailbox::expand_noting(&args.spam, &mut notes)?;
    // `--older-than`, `--below`: only the messages old enough (and scoring low enough) are learned.
    // Then an empty folder is no error (a nightly run over an inbox that has nothing yet).
    let selective = rules.older_than.is_some() || rules.below.is_some();
    let nothing = ham.is_empty() && spam.is_empty() && !(args.ham.is_empty() && args.spam.is_empty()) && !selective;
    if !g.quiet {
        // When nothing at all was found, the error below says where (once).
        for n in notes.iter().filter(|n| !(nothing && n.starts_with("no messages found in "))) {
            eprintln!("spamfilt: {n}");
        }
    }
    if !g.quiet {
        if let Some(note) = others_mail(settings, args.ham.iter().chain(&args.spam)) {
            eprintln!("spamfilt: note: {note}");
        }
    }
    if nothing {
        let all: Vec<&str> = args.ham.iter().chain(&args.spam).map(String::as_str).collect();
        if notes.iter().any(|n| crate::mailbox::is_skip_note(n)) {
            anyhow::bail!("nothing to learn in {}: every file there was skipped (said above)", all.join(", "));
        }
        anyhow::bail!("no messages found in {}; nothing learned", all.join(", "));
    }
    if selective {
        super::kept::check_entries(&ham, &rules)?;
        super::kept::check_entries(&spam, &rules)?;
    }
    for (entries, class) in [(ham, Class::Ham), (spam, Class::Spam)] {
        if !selective || entries.is_empty() {
            work.extend(entries.into_iter().map(|e| (e, class)));
            continue;
        }
        let class_rules = match class {
            Class::Ham => rules,
            Class::Spam => super::kept::Rules { below: None, balanced: None, ..rules },
        };
        let (chosen, skipped) = super::kept::select(settings, g, entries, &class_rules)?;
        if !g.quiet {
            println!("{}", super::kept::summary(&skipped, &class_rules, class));
        }
        work.extend(chosen.into_iter().map(|e| (e, class)));
    }
    let bar = super::progress(g, args.no_progress, work.len() as u64, "learning");
    let db = settings.database();
    let today = store::today();
    let now = store::now_secs();
    let mut notes = store::Notes::new();
    let mut queued_note = None;
    let tally = db
        .update_all(args.force, &mut notes, |snap, rep, queued| {
            queued_note = learn_queued(settings, g, snap, rep, queued);
            let mut tally = Tally::default();
            // The ham come first (`work`): each one's digest, until a spam is the same message.
            let mut as_ham: std::collections::HashMap<store::Digest, FirstSeen> = Default::default();
            let mut ambiguous: HashSet<store::Digest> = Default::default();
            super::prepare_each(
                &work,
                |(e, _)| e,
                settings,
                |(entry, class), prepared| {
                    bar.inc(1);
                    match prepared {
                        Ok(m) if ambiguous.contains(&m.digest) => {
                            bar.suspend(|| {
                                eprintln!("spamfilt: {}: given as ham and as spam: not learned", entry.name)
                            });
                        }
                        Ok(m) if *class == Class::Spam && as_ham.contains_key(&m.digest) => {
                            // Ambiguous: put the message back as it was before this run.
                            let first = as_ham.remove(&m.digest).expect("just checked");
                            // The spam copy may name records and Received words the ham copies
                            // did not (a ham copy without Received fields counted no relay and no
                            // Received word). The ham learn left those as they were, so the
                            // reverse learn through this copy must too: they are put back as they
                            // are now. The ham copies' Received words, like their records, are put
                            // back as they were when nothing else changed them since; the gate's
                            // marker by difference; the ledger entry as it was, flag included.
                            let recorded: HashSet<Key> = first.records.iter().map(|(k, _, _)| *k).collect();
                            let traced: HashSet<u64> = first.trace.iter().map(|(h, _, _)| *h).collect();
                            let spam_copy: Vec<(Key, Option<Record>)> = learn::sender_keys(&m)
                                .into_iter()
                                .filter(|k| !recorded.contains(k))
                                .map(|k| (k, rep.get(&k)))
                                .collect();
                            let marker = learn::trace_marker();
                            let marker_before = marker_counts(snap);
                            let spam_words: Vec<(u64, Option<TokenRecord>)> = m.hashes[m.trace..]
                                .iter()
                                .filter(|h| **h != marker && !traced.contains(h))
                                .map(|&h| (h, snap.token(h)))
                                .collect();
                            let untouched_words: Vec<(u64, Option<TokenRecord>)> = first
                                .trace
                                .into_iter()
                                .filter(|(h, _, after)| snap.token(*h) == *after)
                                .map(|(h, before, _)| (h, before))
                                .collect();
                            let untouched: Vec<(Key, Option<Record>)> = first
                                .records
                                .into_iter()
                                .filter(|(k, _, after)| rep.get(k) == *after)
                                .map(|(k, before, _)| (k, before))
                                .collect();
                            match first.before {
                                None => {
                                    learn::forget_with_sender(snap, rep, &m, now);
                                }
                                Some(c) => {
                                    learn::learn_with_sender(snap, rep, &m, c, today, now);
                                }
                            }
                            // The reverse learn takes back the counts; the records no other
                            // message changed since are put back as they were (own addresses,
                            // times), so the reputation is exactly as before the run.
                            for (k, before) in untouched.into_iter().chain(spam_copy) {
                                rep.set(k, before);
                            }
                            for (h, before) in untouched_words.into_iter().chain(spam_words) {
                                snap.set_token(h, before);
                            }
                            // The marker: by what this message's learns changed, so what other
                            // messages did to it meanwhile stays.
                            let now_counts = marker_counts(snap);
                            let (spam_back, ham_back) = (
                                first.marker.0 + now_counts.0 - marker_before.0,
                                first.marker.1 + now_counts.1 - marker_before.1,
                            );
                            if (spam_back, ham_back) != (0, 0) {
                                let mut r = snap.token(marker).unwrap_or_default();
                                r.spam = u32::try_from(i64::from(r.spam) - spam_back).unwrap_or(0);
                                r.ham = u32::try_from(i64::from(r.ham) - ham_back).unwrap_or(0);
                                if r.last_day == 0 {
                                    // It was not there: put back as learned today.
                                    r.last_day = today;
                                }
                                snap.set_token(marker, Some(r));
                            }
                            snap.set_ledger(m.digest, first.learned);
                            snap.drop_queued_lr(&m.digest);
                            tally.take(Class::Ham, first.outcome);
                            tally.ambiguous += 1;
                            ambiguous.insert(m.digest);
                            let same = if first.name == entry.name {
                                format!("{}: given", entry.name)
                            } else {
                                format!("{} (the same message as {}): given", entry.name, first.name)
                            };
                            let kept = match first.before {
                                None => "not learned".to_string(),
                                Some(c) => format!("it stays learned as {}", c.name()),
                            };
                            bar.suspend(|| eprintln!("spamfilt: {same} as ham and as spam: {kept}"));
                        }
                        Ok(m) if rules.below.is_some() && snap.ledger(&m.digest) == Some(Class::Spam) => {
                            // Learned as spam since it was chosen (the user's word wins).
                            tally.known += 1;
                            if g.verbose > 0 {
                                bar.suspend(|| {
                                    eprintln!("spamfilt: {}: learned as spam meanwhile; left as spam", entry.name)
                                });
                            }
                        }
                        Ok(m) => {
                            let before = snap.ledger(&m.digest);
                            let keys = if *class == Class::Ham { learn::sender_keys(&m) } else { Vec::new() };
                            let records_before: Vec<Option<Record>> = keys.iter().map(|k| rep.get(k)).collect();
                            // The marker is taken back by difference (`FirstSeen::marker`).
                            let marker = learn::trace_marker();
                            let trace: Vec<u64> = match class {
                                Class::Ham => m.hashes[m.trace..].iter().copied().filter(|h| *h != marker).collect(),
                                Class::Spam => Vec::new(),
                            };
                            let learned = snap.learned(&m.digest);
                            let marker_before = marker_counts(snap);
                            let trace_before: Vec<Option<TokenRecord>> = trace.iter().map(|h| snap.token(*h)).collect();
                            let o = learn::learn_with_sender(snap, rep, &m, *class, today, now);
                            if g.verbose > 1 {
                                bar.suspend(|| eprintln!("{}\t{}\t{:?}", entry.name, class.name(), o));
                            }
                            if *class == Class::Ham {
                                let first = as_ham.entry(m.digest).or_insert(FirstSeen {
                                    name: entry.name.clone(),
                                    before,
                                    outcome: o,
                                    records: Vec::new(),
                                    trace: Vec::new(),
                                    learned,
                                    marker: (0, 0),
                                });
                                let marker_after = marker_counts(snap);
                                first.marker.0 += marker_after.0 - marker_before.0;
                                first.marker.1 += marker_after.1 - marker_before.1;
                                // A copy may name other records (its Received fields). A set,
                                // not a scan per key: a sent message may name thousands.
                                let known: HashSet<Key> = first.records.iter().map(|(k, _, _)| *k).collect();
                                for (k, b) in keys.into_iter().zip(records_before) {
                                    if !known.contains(&k) {
                                        first.records.push((k, b, None));
                                    }
                                }
                                let known: HashSet<u64> = first.trace.iter().map(|(h, _, _)| *h).collect();
                                for (h, b) in trace.into_iter().zip(trace_before) {
                                    if !known.contains(&h) {
                                        first.trace.push((h, b, None));
                                    }
                                }
                                // As this message (and its copies) left them.
                                for (k, _, after) in &mut first.records {
                                    *after = rep.get(k);
                                }
                                for (h, _, after) in &mut first.trace {
                                    *after = snap.token(*h);
                                }
                            }
                            tally.add(*class, o);
                        }
                        Err(e) => tally.not_read(&e, &bar),
                    }
                },
            );
            Ok(tally)
        })
        .map_err(|e| store::failed(e, "training failed", &db.place()));
    bar.finish_and_clear();
    super::print_notes(&notes);
    let tally = tally?;
    say_queued(queued_note);
    if !g.quiet {
        let ambiguous = match tally.ambiguous {
            0 => String::new(),
            n => format!(", {n} given as both ham and spam (not learned)"),
        };
        println!(
            "learned {} ham and {} spam; {} already known, {} moved to the other class, {} unreadable{}{ambiguous}",
            tally.learned_ham,
            tally.learned_spam,
            tally.known,
            tally.moved,
            tally.unreadable,
            skipped_note(&tally)
        );
    }
    // No message read at all (every path was unreadable, missing or not mail): an error, as a
    // path with no message in it is.
    let read = tally.learned_ham + tally.learned_spam + tally.known + tally.moved + tally.ambiguous;
    if tally.skipped + tally.unreadable > 0 && read == 0 {
        eprintln!("spamfilt: no mail messages found: nothing learned");
        return Ok(ExitCode::from(2));
    }
    Ok(if tally.unreadable + tally.skipped + tally.ambiguous > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// ", 2 skipped (not mail)" when files that are not mail were skipped; nothing otherwise.
fn skipped_note(t: &Tally) -> String {
    if t.skipped > 0 {
        format!(", {} skipped (not mail)", t.skipped)
    } else {
        String::new()
    }
}

/// Learns the messages the filter queued (honeypot hits), before the run's own work. Returns
/// what to say of them (unless quiet), for the caller to print once the run's write succeeded:
/// said before, "learned 3 queued messages" stood above "training failed; the database is
/// unchanged" on a full disk (the queue is kept then, for the next run).
pub fn learn_queued(
    settings: &Settings,
    g: &GlobalArgs,
    snap: &mut store::Snapshot,
    rep: &mut Reputation,
    queued: Vec<Queued>,
) -> Option<String> {
    // What the filter could not queue because the queue was full: said, not silently lost.
    match store::queue::take_dropped(&settings.db_dir) {
        Ok((0, _)) => {}
        Ok((n, bytes)) => eprintln!(
            "spamfilt: {n} honeypot messages ({bytes} bytes) were not queued for learning since the last training run: \
             the learning queue was full ([queue] max_messages = {}, max_bytes = {} in the config file)",
            settings.sender.queue.max_messages, settings.sender.queue.max_bytes
        ),
        Err(e) => eprintln!("spamfilt: {}", crate::problems::error_text(&e)),
    }
    // Unfinished queue files a filter stopped by a signal left behind.
    match store::queue::remove_stale_temporaries(&settings.db_dir) {
        Ok(0) => {}
        Ok(_) if g.quiet => {}
        Ok(n) => eprintln!(
            "spamfilt: removed {} older than an hour from the learning queue (a filter was stopped while queueing)",
            super::plural(n, "unfinished file", "unfinished files")
        ),
        Err(e) => eprintln!("spamfilt: {}", crate::problems::error_text(&e)),
    }
    if queued.is_empty() {
        return None;
    }
    let (today, now) = (store::today(), store::now_secs());
    let mut tally = Tally::default();
    // One message in memory at a time, whatever the size of the queue.
    for q in &queued {
        let bytes = match q.read() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("spamfilt: {}", crate::problems::error_text(&e));
                tally.unreadable += 1;
                continue;
            }
        };
        let m = learn::prepare(&bytes, settings.scoring.scan_limit, &settings.tokenizer, &settings.sender.trusted);
        tally.add(q.class, learn::learn_with_sender(snap, rep, &m, q.class, today, now));
    }
    (!g.quiet).then(|| {
        format!(
            "learned {} queued messages (honeypot hits): {} new spam, {} already known, {} moved",
            queued.len(),
            tally.learned_spam,
            tally.known,
            tally.moved
        )
    })
}

/// Says what [`learn_queued`] learned, once the run that learned it was written.
pub fn say_queued(note: Option<String>) {
    if let Some(n) = note {
        eprintln!("spamfilt: {n}");
    }
}

pub fn run_forget(settings: &Settings, g: &GlobalArgs, args: &ForgetArgs) -> Result<ExitCode> {
    let mut notes = Vec::new();
    let work = crate::mailbox::expand_noting(&args.paths, &mut notes)?;
    // As `train`: no message found in any path named is an error (exit status 2), said once.
    let nothing = work.is_empty() && !args.paths.is_empty();
    if !g.quiet {
        for n in notes.iter().filter(|n| !(nothing && n.starts_with("no messages found in "))) {
            eprintln!("spamfilt: {n}");
        }
    }
    if nothing {
        if notes.iter().any(|n| crate::mailbox::is_skip_note(n)) {
            anyhow::bail!("nothing to forget in {}: every file there was skipped (said above)", args.paths.join(", "));
        }
        anyhow::bail!("no messages found in {}; nothing forgotten", args.paths.join(", "));
    }
    let bar = super::progress(g, args.no_progress, work.len() as u64, "forgetting");
    let db = settings.database();
    let now = store::now_secs();
    let mut notes = store::Notes::new();
    let mut queued_note = None;
    let tally = db
        .update_all(false, &mut notes, |snap, rep, queued| {
            queued_note = learn_queued(settings, g, snap, rep, queued);
            let mut tally = Tally::default();
            super::prepare_each(
                &work,
                |e| e,
                settings,
                |_, prepared| {
                    bar.inc(1);
                    match prepared {
                        Ok(m) => tally.add(Class::Ham, learn::forget_with_sender(snap, rep, &m, now)),
                        Err(e) => tally.not_read(&e, &bar),
                    }
                },
            );
            Ok(tally)
        })
        .map_err(|e| store::failed(e, "forgetting failed", &db.place()));
    bar.finish_and_clear();
    super::print_notes(&notes);
    let tally = tally?;
    say_queued(queued_note);
    if !g.quiet {
        let never = match tally.not_known {
            1 => "1 was never learned".to_string(),
            n => format!("{n} were never learned"),
        };
        println!(
            "forgot {}; {never}, {} unreadable{}",
            super::plural(tally.forgotten, "message", "messages"),
            tally.unreadable,
            skipped_note(&tally)
        );
    }
    // As `train`: no message read at all (every path unreadable, missing or not mail) is exit
    // status 2, some of them 1.
    if tally.skipped + tally.unreadable > 0 && tally.forgotten + tally.not_known == 0 {
        eprintln!("spamfilt: no mail messages found: nothing forgotten");
        return Ok(ExitCode::from(2));
    }
    Ok(if tally.unreadable + tally.skipped > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
