//! `spamfilt` / `spamfilt filter`: one message from stdin to stdout with our headers.
//!
//! The one rule here is that no mail is ever lost: the whole input is read first, and if
//! anything at all goes wrong after that (bad config, unreadable or corrupt database, a panic
//! anywhere in scoring) the original bytes are written back unchanged, the reason goes to
//! stderr, and the exit status is 0.

use std::io::{Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{FilterArgs, GlobalArgs};
use crate::config::Settings;
use crate::filter::{self, Filtered};
use crate::problems::Problem;
use crate::scoring::{Scorer, SenderContext};
use crate::sender::SenderFacts;
use crate::store::reputation::{self, JournalEntry, ReputationLookup};
use crate::store::Database;

/// Exit status when the message could not be read or written whole (EX_TEMPFAIL): the caller
/// must keep its own copy. procmail (`f` flag), maildrop and Dovecot all do on a non-zero status.
const EX_TEMPFAIL: u8 = 75;

/// Runs the filter. Never returns an error: every failure is a pass-through.
pub fn run(g: &GlobalArgs, args: &FilterArgs) -> ExitCode {
    crate::in_hand::reading();
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut input) {
        // We cannot pass through what we could not read; say so and let the caller keep it.
        eprintln!("spamfilt: cannot read the message from standard input: {e}");
        let _ = std::io::stdout().write_all(&input);
        return ExitCode::from(EX_TEMPFAIL);
    }

    // From here until output starts, a SIGBUS (a database file truncated or overwritten in place
    // while mapped), a SIGSEGV (a stack overflow) or a termination signal (a delivery agent's
    // timeout, a CPU limit, `kill`) passes this message through (src/in_hand.rs, src/main.rs).
    // Before this point a signal has its default action: nothing is in hand, the agent keeps it.
    let held = crate::in_hand::hold(&input);
    crate::in_hand::catch_termination_signals();
    crate::in_hand::test_fault(crate::in_hand::Stage::Holding);
    // Scoring runs behind catch_unwind: a panic is a bug, and still must not lose the message.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        if !crate::message::in_parser() {
            eprintln!("spamfilt: internal error: {info}")
        }
    }));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| filter_message(g, &input)));
    panic::set_hook(previous_hook);

    let filtered = match outcome {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            eprintln!("spamfilt: passing the message through unchanged: {e:#}");
            Filtered::pass_through()
        }
        Err(_) => {
            eprintln!("spamfilt: passing the message through unchanged after an internal error");
            Filtered::pass_through()
        }
    };
    // Termination signals are blocked from here on: the output is written whole and the run
    // exits with its own status.
    held.writing();
    crate::in_hand::test_fault(crate::in_hand::Stage::Writing);
    // Written straight from the input: no second copy of the message is made (issue 15).
    let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if let Err(e) = filtered.write_to(&input, &mut stdout).and_then(|_| stdout.flush()) {
        eprintln!("spamfilt: cannot write the message to standard output: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    if args.exit_code && filtered.is_spam {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn filter_message(g: &GlobalArgs, input: &[u8]) -> Result<Filtered> {
    // Checked once, before any set-up: input that is not a message is passed through.
    if let Some(why) = filter::not_a_message(input) {
        eprintln!("spamfilt: passing the input through unchanged: {why}");
        return Ok(Filtered::pass_through());
    }
    // Whatever is broken (a config key, a list line, a database) is scored without and said so:
    // in the message (SPAMFILT_DEGRADED, X-Spam-Degraded) and here on stderr.
    let (settings, mut problems) = Settings::load_for_delivery(g.db.as_deref(), g.config.as_deref())?;
    let rules = match super::rule_set(&settings, g) {
        Ok(r) => r,
        Err(e) => {
            let file = settings.config_file.clone().unwrap_or_default();
            problems.push(Problem::new(&file, None, format!("{e:#} (the custom rules and [scores] are not used)")));
            let defaults = crate::rules::RuleSettings {
                uri_blocklist: settings.rules.uri_blocklist.clone(),
                ..Default::default()
            };
            if g.no_rules {
                None
            } else {
                Some(crate::rules::RuleSet::load(&defaults)?)
            }
        }
    };
    let db = settings.database();
    // No database directory (no --db and no home directory): the rules and the starter table
    // only, nothing remembered; `load_for_delivery` put the cause in `problems`.
    let has_db = settings.has_db_dir();
    let lr_on = !g.no_lr && settings.scoring.lr.enabled && has_db;
    let reader = match if has_db { db.reader() } else { Ok(None) } {
        Ok(r) => r.map(|r| r.with_lr(lr_on)),
        Err(e) => {
            problems.push(Problem::new(&db.file_path(), None, format!("{} (scored without it)", e.root_cause())));
            None
        }
    };
    if reader.is_none() && problems.is_empty() && g.verbose > 0 {
        eprintln!("spamfilt: no token database in {} yet; scoring with the starter table", settings.db_dir.display());
    }
    // With the Redis store the records and the cached DNS answers come with the message's
    // lookups (`TokenLookup::fetch`); the host's own reputation.db is not read.
    let local_reputation = if settings.redis.is_some() || !has_db {
        Ok(None)
    } else {
        crate::store::reputation::Reader::open(&settings.db_dir)
    };
    let reputation = match local_reputation {
        Ok(r) => r,
        Err(e) => {
            let file = settings.db_dir.join(reputation::FILE);
            problems.push(Problem::new(&file, None, format!("{} (scored without it)", e.root_cause())));
            None
        }
    };
    let lr = if !lr_on {
        None
    } else {
        match db.lr_reader() {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem::new(&db.lr_path(), None, format!("{} (scored without it)", e.root_cause())));
                None
            }
        }
    };
    for p in &problems {
        eprintln!("spamfilt: degraded: {p}");
    }
    // At most five causes in the header; `spamfilt lint` lists them all.
    let mut degraded: Vec<String> = problems.iter().take(5).map(Problem::short).collect();
    if problems.len() > 5 {
        degraded.push(format!("{} more (run spamfilt lint)", problems.len() - 5));
    }
    let now = crate::store::now_secs();
    let resolver = settings.sender.dns.as_ref().filter(|_| has_db).map(|d| super::resolver::Remembering {
        server: d.resolver,
        dir: &settings.db_dir,
        tell: &super::resolver::tell_stderr,
        memo: None,
        canary_after: false,
    });
    let scorer = Scorer {
        scoring: &settings.scoring,
        tokenizer: &settings.tokenizer,
        db: reader.as_ref().map(|r| r as &dyn crate::store::TokenLookup),
        starter: crate::starter::Starter::embedded(),
        rules: rules.as_ref(),
        use_bayes: !g.no_bayes,
        lr: lr.as_ref().map(|r| r as &dyn crate::lr::Table),
        sender: Some(SenderContext {
            settings: &settings.sender,
            reputation: reputation.as_ref().map(|r| r as &dyn ReputationLookup),
            resolver: match &resolver {
                Some(udp) => udp,
                None => &crate::dns::CacheOnly,
            },
            now,
        }),
    };
    let mut filtered = filter::score_message(&scorer, input, &degraded);
    filtered.tag_subject(settings.subject_tag.as_deref());
    if let Some(v) = &filtered.verdict {
        if v.degraded.len() > degraded.len() {
            eprintln!("spamfilt: degraded: {}", v.degraded[degraded.len()..].join("; "));
        }
        if g.verbose > 0 {
            eprintln!(
                "spamfilt: {} score={} tests={}",
                if v.is_spam { "spam" } else { "ham" },
                v.score_text(),
                v.tests()
            );
        }
    }
    if let Some(facts) = filtered.sender.as_ref().filter(|_| has_db) {
        // Remembering what was learned must never cost the message: failures are only reported.
        if let Err(e) = remember(&settings, &db, input, facts, now) {
            eprintln!("spamfilt: the message is delivered, but {e:#}");
        }
    }
    Ok(filtered)
}

/// After scoring: caches new DNS answers, and for a honeypot hit records the sending IP and
/// queues the message to be learned as spam by the next training run. The filter never rewrites
/// a database: it appends to the reputation journal and the queue, or with the Redis store
/// sends all of it in one round trip.
fn remember(settings: &Settings, db: &Database, input: &[u8], facts: &SenderFacts, now: u64) -> Result<()> {
    use crate::store::queue;
    let honeypot_ip = facts.honeypot.as_ref().and(facts.relay.as_ref()).map(|r| r.ip);
    let limits = &settings.sender.queue;
    let (class, limit) = (crate::store::Class::Spam, settings.scoring.scan_limit);
    let body = &input[..input.len().min(limit)];
    let to_queue = facts.honeypot.as_ref().map(|_| (class, body, limits));
    // With the Redis store, shared at once: the sending IP's hit (every host's next message and
    // policy request from it sees it), the message in the shared queue (the next training run
    // on any host learns it) and the new DNS answers (each with its TTL). When Redis does not
    // answer, the message is queued on this host instead (this host's next training run learns
    // it and counts it for its IP); the DNS answers are asked again next time.
    if let Some(redis) = db.redis() {
        match redis.record(honeypot_ip, to_queue, &facts.new_dns, now) {
            Ok(added) => {
                report_queue(added, limits);
                return Ok(());
            }
            Err(_) if to_queue.is_none() => return Ok(()),
            Err(e) => {
                let ip = honeypot_ip.map(|ip| format!(" from {ip}")).unwrap_or_default();
                eprintln!(
                    "spamfilt: the message is delivered, but the honeypot hit{ip} is not recorded: {e}; the message \
                     is queued on this host instead"
                );
            }
        }
    }
    if to_queue.is_some() {
        let mut notes = crate::store::Notes::new();
        let added = queue::add(db.dir(), class, input, limit, limits, &mut notes);
        super::print_notes(&notes);
        report_queue(Some(added?), limits);
    }
    if db.redis().is_some() {
        return Ok(());
    }
    // One small append to the reputation journal, whatever the size of the database. If a
    // trainer is folding the journal in right now and does not finish within the wait, the
    // entry is dropped: DNS answers are asked again next time, and the queued honeypot message
    // still counts for its IP when it is learned.
    let entry = JournalEntry::new(&facts.new_dns, honeypot_ip, now);
    reputation::append_journal(db.dir(), &entry, std::time::Duration::from_millis(200))?;
    Ok(())
}

/// Says on stderr when a honeypot message was not queued because the queue was full.
fn report_queue(added: Option<crate::store::queue::Added>, limits: &crate::store::queue::QueueLimits) {
    if let Some(crate::store::queue::Added::Dropped { messages, bytes }) = added {
        eprintln!(
            "spamfilt: the message is delivered, but the learning queue is full ({messages} messages, {bytes} bytes; \
             [queue] max_messages = {}, max_bytes = {}): this honeypot hit is not queued for learning (its sending IP \
             is still recorded; the next training run reports the drops)",
            limits.max_messages, limits.max_bytes
        );
    }
}
