//! `spamfilt list allow|block show|add|remove`: the allow and block list files.
//!
//! The files are the user's too (plain text, `#` comments): edits keep comments and order,
//! are written atomically, and refuse to touch a file that does not parse.

use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, ListAction, ListCommand};
use crate::config::{self, Settings};
use crate::lists::{self, Entry};

pub fn run(settings: &Settings, g: &GlobalArgs, cmd: &ListCommand) -> Result<ExitCode> {
    let (action, path, name) = match cmd {
        ListCommand::Allow(a) => (a, &settings.allow_list, "allow list"),
        ListCommand::Block(a) => (a, &settings.block_list, "block list"),
    };
    match action {
        ListAction::Show => {
            // A bad line was named as a warning when the settings were read: the others are shown.
            let l = match config::load_list(path, name) {
                Ok(l) => l,
                Err(_) => {
                    let text = crate::store::files::read_text(path, crate::store::files::LIST_CAP)
                        .with_context(|| format!("cannot read the {name} {}", path.display()))?;
                    lists::AddressList::parse_lenient(&text).0
                }
            };
            if !g.quiet {
                eprintln!("{} ({})", path.display(), entries_text(l.entries.len()));
            }
            for e in &l.entries {
                println!("{e}");
            }
            Ok(ExitCode::SUCCESS)
        }
        ListAction::Add { entries } | ListAction::Remove { entries } => {
            let parsed: Vec<Entry> = entries.iter().map(|e| Entry::parse(e)).collect::<Result<_>>()?;
            let _edit = lock_edits(path).with_context(|| format!("cannot lock the {name} {}", path.display()))?;
            let text = match crate::store::files::read_text(path, crate::store::files::LIST_CAP) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(e).with_context(|| format!("cannot read the {name} {}", path.display())),
            };
            let adding = matches!(action, ListAction::Add { .. });
            let (new_text, unchanged) =
                if adding { lists::add_to_text(&text, &parsed) } else { lists::remove_from_text(&text, &parsed) }
                    .with_context(|| format!("bad {name} {}; fix it by hand first", path.display()))?;
            if new_text != text {
                write_file(path, &new_text).with_context(|| format!("cannot write the {name} {}", path.display()))?;
            }
            for e in &unchanged {
                let why = if adding { "already in" } else { "not in" };
                eprintln!("spamfilt: {e} is {why} the {name}");
            }
            if !g.quiet {
                let n = parsed.len() - unchanged.len();
                println!(
                    "{} {} {} the {name} {}",
                    if adding { "added" } else { "removed" },
                    super::plural(n as u64, "entry", "entries"),
                    if adding { "to" } else { "from" },
                    path.display()
                );
            }
            // As `ip remove` and `address remove`: an entry named that was not there is exit
            // status 1 (the others were removed); adding one already there is not (it is there).
            Ok(if !adding && !unchanged.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}

fn entries_text(n: usize) -> String {
    if n == 1 {
        "1 entry".to_string()
    } else {
        format!("{n} entries")
    }
}

/// Held while a list (or the config file) is read, edited and written again: an exclusive lock
/// on the directory the file is in (flock(2) on the directory itself, so no lock file is left
/// beside the user's files), created private (0700) when missing. Every edit writes the whole
/// file, so two edits at once (`list allow add` from two shells, a script adding in parallel)
/// would otherwise each write what it read and lose the other's entries. Readers (the filter)
/// need no lock: the file is replaced by a rename.
pub(crate) fn lock_edits(path: &std::path::Path) -> Result<std::fs::File> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        crate::store::files::create_dirs(dir)?;
    }
    let d = std::fs::File::open(dir)?;
    d.lock()?;
    Ok(d)
}

/// Writes a small file of the user's atomically, creating its directory, keeping its
/// permissions (0600 when new).
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        crate::store::files::create_dirs(dir)?;
    }
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o600);
    let name = path.file_name().context("a list path needs a file name")?.to_string_lossy().into_owned();
    crate::store::write_atomic(dir, &name, text.as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
