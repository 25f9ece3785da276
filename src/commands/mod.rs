//! The commands: the only layer that knows about paths, the environment, the config file and
//! the terminal. Each file wires one subcommand to the library.

pub mod check;
pub mod db;
pub mod eval;
pub mod filter;
pub mod purge;
pub mod train;

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command, FilterArgs, GlobalArgs};
use crate::config::Settings;

/// Runs the command line; returns the exit status.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        None => Ok(filter::run(g, &FilterArgs::default())),
        Some(Command::Filter(a)) => Ok(filter::run(g, &a)),
        Some(Command::Check(a)) => check::run(&load(g)?, g, &a),
        Some(Command::Train(a)) => train::run_train(&load(g)?, g, &a),
        Some(Command::Forget(a)) => train::run_forget(&load(g)?, g, &a),
        Some(Command::Purge(a)) => purge::run(&load(g)?, g, &a),
        Some(Command::Db(c)) => db::run(&load(g)?, g, &c),
        Some(Command::Eval(a)) => eval::run(&load(g)?, g, &a),
    }
}

/// Settings from the global flags.
pub fn load(g: &GlobalArgs) -> Result<Settings> {
    Settings::load(g.db.as_deref(), g.config.as_deref())
}

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet.
pub fn progress(g: &GlobalArgs, disabled: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if g.quiet || disabled || !std::io::stderr().is_terminal() || len < 20 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}
