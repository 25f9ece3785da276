//! The commands: the only layer that knows about paths, the environment, the config file and
//! the terminal. Each file wires one subcommand to the library.

pub mod address;
pub mod check;
pub mod completions;
pub mod db;
pub mod eval;
pub mod filter;
pub mod import_sa;
pub mod ip;
pub mod kept;
pub mod lint;
pub mod list;
pub mod policy;
pub mod purge;
pub mod resolver;
pub mod rules;
pub mod train;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, FilterArgs, GlobalArgs};
use crate::config::Settings;

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> Result<ExitCode> {
    // The store says at once when it waits (the Redis trainer lock); only commands print.
    let _ = crate::store::WAITING.set(|m| eprintln!("spamfilt: {m}"));
    let g = &cli.global;
    if !matches!(cli.command, None | Some(Command::Filter(_))) {
        crate::in_hand::test_fault(crate::in_hand::Stage::Holding);
    }
    match cli.command {
        None => Ok(filter::run(g, &FilterArgs::default())),
        Some(Command::Filter(a)) => Ok(filter::run(g, &a)),
        Some(Command::Check(a)) => check::run(&load(g)?, g, &a),
        Some(Command::Train(a)) => train::run_train(&load(g)?, g, &a),
        Some(Command::Forget(a)) => train::run_forget(&load(g)?, g, &a),
        Some(Command::Purge(a)) => purge::run(&load(g)?, g, &a),
        Some(Command::Db(crate::cli::DbCommand::Salvage)) => {
            db::salvage(&Settings::load_degraded(g.db.as_deref(), g.config.as_deref())?.0, g)
        }
        Some(Command::Db(c)) => db::run(&load(g)?, g, &c),
        Some(Command::Eval(a)) => eval::run(&load(g)?, g, &a),
        Some(Command::Rules(a)) => rules::run(&load_to_inspect(g)?, g, &a),
        Some(Command::List(c)) => list::run(&load_for_list(g, &c)?, g, &c),
        Some(Command::Ip(c)) => ip::run(&load(g)?, g, &c),
        Some(Command::Address(c)) => address::run(&load(g)?, g, &c),
        Some(Command::Lint) => lint::run(g),
        Some(Command::Policy(a)) => policy::run(g, &a),
        Some(Command::Completions(a)) => completions::run(&a),
        Some(Command::ImportSa(a)) => {
            import_sa::run(&Settings::load_to_write(g.db.as_deref(), g.config.as_deref())?, g, &a)
        }
    }
}

/// The content rules, unless `--no-rules`.
pub fn rule_set(settings: &Settings, g: &GlobalArgs) -> Result<Option<crate::rules::RuleSet>> {
    if g.no_rules {
        return Ok(None);
    }
    crate::rules::RuleSet::load(&settings.rules).map(Some)
}

/// Expands PATH arguments (see `mailbox::expand`), saying on stderr where no message was found
/// and which subfolders that look like mail folders are not read (unless quiet).
pub fn expand_paths(g: &GlobalArgs, paths: &[String]) -> Result<Vec<crate::mailbox::Entry>> {
    let mut notes = Vec::new();
    let entries = crate::mailbox::expand_noting(paths, &mut notes)?;
    if !g.quiet {
        for n in notes {
            eprintln!("spamfilt: {n}");
        }
    }
    Ok(entries)
}

/// Whether an error is a file that is not mail (counted as skipped, not as unreadable).
pub fn is_not_mail(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::mailbox::NotMail>().is_some()
}

/// "1 message", "2 messages".
pub fn plural(n: u64, one: &str, more: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { more })
}

/// Settings from the global flags.
pub fn load(g: &GlobalArgs) -> Result<Settings> {
    Settings::load(g.db.as_deref(), g.config.as_deref())
}

/// Settings for a command that shows what the config file and the lists say (`rules`, `list show`):
/// a problem in those files is a warning naming it (the default is used, the bad line left out,
/// as the filter does), not a refusal, so that the commands an error points to (`see spamfilt
/// rules`) still run. Not for the database commands: a bad `[store]` would show another store.
pub fn load_to_inspect(g: &GlobalArgs) -> Result<Settings> {
    let (settings, problems) = Settings::load_degraded(g.db.as_deref(), g.config.as_deref())?;
    for p in &problems {
        eprintln!("spamfilt: warning: {p}");
    }
    Ok(settings)
}

/// Settings for `list`: `show` inspects (`load_to_inspect`); `add` and `remove` write, so a bad
/// config file is refused as every writing command refuses it (with it ignored, the list's path
/// would be the default one: an edit would go to another file than the one the filter reads).
/// A bad line in a list file is only a warning here: `list::run` refuses to edit a list it
/// cannot parse, and the other list can still be edited.
fn load_for_list(g: &GlobalArgs, cmd: &crate::cli::ListCommand) -> Result<Settings> {
    use crate::cli::{ListAction, ListCommand};
    let (ListCommand::Allow(action) | ListCommand::Block(action)) = cmd;
    if matches!(action, ListAction::Show) {
        return load_to_inspect(g);
    }
    let (settings, problems) = Settings::load_degraded(g.db.as_deref(), g.config.as_deref())?;
    let in_a_list = |p: &crate::problems::Problem| p.file == settings.allow_list || p.file == settings.block_list;
    if problems.iter().any(|p| !in_a_list(p)) {
        // The strict reading's own error names the problem.
        return load(g);
    }
    for p in &problems {
        eprintln!("spamfilt: warning: {p}");
    }
    Ok(settings)
}

/// Reads and prepares (tokenizes) messages on all cores, in batches, calling `apply` for each in
/// the original order. Memory stays bounded by the batch, whatever the number of messages.
pub fn prepare_each<T: Sync>(
    work: &[T],
    entry: impl Fn(&T) -> &crate::mailbox::Entry + Sync,
    settings: &Settings,
    apply: impl FnMut(&T, Result<crate::learn::Prepared>),
) {
    map_ordered(
        work,
        |w| {
            entry(w).read().map(|raw| {
                crate::learn::prepare(&raw, settings.scoring.scan_limit, &settings.tokenizer, &settings.sender.trusted)
            })
        },
        apply,
    );
}

pub use crate::parallel::map_ordered;

/// Shows what a storage operation noted for the user (see `store::Notes`), one line each.
pub fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("spamfilt: {n}");
    }
}

/// Removes reputation records by hand (`address remove`, `ip remove`): `edit` finds and, unless
/// `dry_run`, removes them, and says what; a dry run only reads. The real run refuses a database
/// directory that does not exist (a mistyped `--db`: writing would create it, its lock and an
/// empty reputation.db, only to say the record is not there; with Redis the records are there,
/// and the directory only this host's), and runs `local` on this host's own reputation.db when
/// the records are in Redis (see `Database::update_reputation`).
pub fn remove_reputation<T>(
    db: &crate::store::Database,
    notes: &mut crate::store::Notes,
    dry_run: bool,
    edit: impl FnOnce(&mut crate::store::reputation::Reputation) -> Result<T>,
    local: impl FnOnce(&mut crate::store::reputation::Reputation),
) -> Result<T> {
    if dry_run {
        return edit(&mut db.load_reputation(notes)?);
    }
    if db.redis().is_none() && std::fs::symlink_metadata(db.dir()).is_err() {
        anyhow::bail!("{}: no such database directory (see --db); nothing removed", db.dir().display());
    }
    db.update_reputation(notes, edit, local)
}

/// The reputation database for reading; `None` (with a warning unless quiet) when it is
/// missing or unreadable: sender checks then run without it.
pub fn reputation_reader(settings: &Settings, g: &GlobalArgs) -> Option<crate::store::reputation::Reader> {
    if settings.redis.is_some() {
        // The records and the cached DNS answers are in Redis (fetched with each message).
        return None;
    }
    match crate::store::reputation::Reader::open(&settings.db_dir) {
        Ok(r) => r,
        Err(e) => {
            if !g.quiet {
                eprintln!("spamfilt: {e:#}; sender reputation is not used");
            }
            None
        }
    }
}

/// The LR weights for reading, unless `--no-lr` or `[lr] enabled = false`; `None` (with a
/// warning unless quiet) when they are unreadable: scoring then runs without LR.
pub fn lr_reader(settings: &Settings, g: &GlobalArgs) -> Option<crate::store::LrReader> {
    if g.no_lr || !settings.scoring.lr.enabled {
        return None;
    }
    match settings.database().lr_reader() {
        Ok(r) => r,
        Err(e) => {
            if !g.quiet {
                eprintln!("spamfilt: {e:#}; LR is not used");
            }
            None
        }
    }
}

/// How long a job runs before its progress bar appears: a job shorter than this shows none
/// (no bar flashes up and away). `SPAMFILT_PROGRESS_DELAY_MS` changes it (the tests use it).
const PROGRESS_DELAY_MS: u64 = 1000;

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet. It
/// appears once the job has run for a second, with the rate in messages per second.
pub fn progress(g: &GlobalArgs, disabled: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if g.quiet || disabled || !std::io::stderr().is_terminal() || len < 20 {
        return indicatif::ProgressBar::hidden();
    }
    // Counted from the start, drawn only after the delay (a hidden bar still keeps its rate).
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {rate} eta {eta}")
            .expect("static template")
            .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let r = state.per_sec();
                let _ = if r < 10.0 { write!(w, "{r:.1} msg/s") } else { write!(w, "{r:.0} msg/s") };
            })
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    let delay =
        std::env::var("SPAMFILT_PROGRESS_DELAY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(PROGRESS_DELAY_MS);
    if delay == 0 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        return bar;
    }
    let shown = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(delay));
        if !shown.is_finished() {
            shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    });
    bar
}

/// Text that came from mail, DNS or the file system, made safe for a terminal or a
/// line-per-record output: control characters (C0, DEL, C1: a terminal escape, a newline or a
/// tab that would start a new record) are shown as `\xNN` or `\u{NN}`, and a backslash as `\\`,
/// so what is printed cannot move the cursor, rewrite the screen or forge a line of output.
pub struct Shown<'a>(pub &'a str);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        let s = self.0;
        if !s.chars().any(|c| c.is_control() || c == '\\') {
            return f.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                c if (c as u32) < 0x80 && c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A path as `Shown` prints it (not UTF-8 bytes as U+FFFD).
pub fn shown_path(p: &std::path::Path) -> String {
    Shown(&p.to_string_lossy()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(Shown("plain name.eml").to_string(), "plain name.eml");
        assert_eq!(Shown("a\x1b[2Jb\nc\td\\e\u{9b}f").to_string(), "a\\x1b[2Jb\\x0ac\\x09d\\\\e\\u{9b}f");
        assert_eq!(shown_path(std::path::Path::new("cur/1.M2\rX")), "cur/1.M2\\x0dX");
        assert_eq!(Shown("héllo €").to_string(), "héllo €");
    }
}
