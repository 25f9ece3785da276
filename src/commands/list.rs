//! `spamfilt list allow|block show|add|remove`: the allow and block list files.
//!
//! The files are the user's too (plain text, `#` comments): edits keep comments and order,
//! are written atomically, and refuse to touch a file that does not parse.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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
            edit_path(path).with_context(|| format!("cannot edit the {name}"))?;
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
                let shown = match edit_path(path) {
                    Ok(target) if target != *path => format!("{} (a link to {})", path.display(), target.display()),
                    _ => path.display().to_string(),
                };
                println!(
                    "{} {} {} the {name} {shown}",
                    if adding { "added" } else { "removed" },
                    super::plural(n as u64, "entry", "entries"),
                    if adding { "to" } else { "from" },
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

/// The file an edit of `path` (a list or the config file) writes: `path` itself, or when it is
/// a symbolic link (a list kept in a shared or managed place, a config file of a dotfile
/// manager), the regular file it leads to, which is then replaced atomically in its own
/// directory and the link left as it was (it was replaced by a copy of the file: the link, and
/// whatever else read the target, no longer saw the edits). Followed only to a regular file of
/// the user's own in a directory that passes what the database directory must (owned by the user
/// or root, nobody else can write it: see `store::files::check_dir`), so that an edit never
/// writes where another user could have pointed it; anything else is refused, naming the link
/// and where it leads, and nothing is written.
pub(crate) fn edit_path(path: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {}
        Ok(_) => return Ok(path.to_path_buf()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let shown = std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
    let refuse =
        |why: String| anyhow::anyhow!("{} is a symbolic link to {shown}: {why}; nothing written", path.display());
    let own = "replace the link with a file of your own, or edit the file by hand";
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refuse("it leads to no file (create the file first, or remove the link)".into()))
        }
        Err(e) => return Err(refuse(format!("cannot follow it: {}", crate::problems::error_text(&e.into())))),
    };
    let meta = std::fs::metadata(&target).map_err(|e| refuse(crate::problems::error_text(&e.into())))?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a regular file ({own})", target.display())));
    }
    let me = crate::store::files::euid();
    if meta.uid() != me {
        return Err(refuse(format!(
            "{} belongs to user id {}, not to you (user id {me}): {own}",
            target.display(),
            meta.uid()
        )));
    }
    let dir = target.parent().unwrap_or(Path::new("/"));
    crate::store::files::check_dir(dir).map_err(|e| refuse(format!("{} ({own})", crate::problems::error_text(&e))))?;
    Ok(target)
}

/// Held while a list (or the config file) is read, edited and written again: an exclusive lock
/// on the directory the file is in (flock(2) on the directory itself, so no lock file is left
/// beside the user's files), created private (0700) when missing; for a list that is a symbolic
/// link, the directory of the file it leads to ([`edit_path`]). Every edit writes the whole
/// file, so two edits at once (`list allow add` from two shells, a script adding in parallel)
/// would otherwise each write what it read and lose the other's entries. Readers (the filter)
/// need no lock: the file is replaced by a rename.
pub(crate) fn lock_edits(path: &Path) -> Result<std::fs::File> {
    let path = edit_path(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        crate::store::files::create_dirs(dir)?;
    }
    let d = std::fs::File::open(dir)?;
    d.lock()?;
    Ok(d)
}

/// Writes a small file of the user's atomically, creating its directory, keeping its
/// permissions (0600 when new). A symbolic link is written through to the file it leads to,
/// or refused ([`edit_path`]); the link stays.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    let path = &edit_path(path)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        crate::store::files::create_dirs(dir)?;
    }
    crate::store::files::check_config_dir(dir)?;
    let mode = std::fs::symlink_metadata(path).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o600);
    let name = path.file_name().context("a list path needs a file name")?.to_string_lossy().into_owned();
    crate::store::write_atomic(dir, &name, text.as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}
