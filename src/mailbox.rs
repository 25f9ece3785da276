//! Where messages come from: a message file, a directory (Maildir, MH or plain), an mbox file,
//! standard input, or an `@LIST` file naming more paths.
//!
//! A path that cannot be read (missing, no permission, a folder that cannot be listed, an @LIST
//! that cannot be read) is not an error for the whole run: it becomes one entry whose `read`
//! fails, named and counted as "unreadable" as an unreadable file inside a folder is, and the
//! other paths are processed (admin report M9). Reading a single message later may fail too.

use std::borrow::Cow;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::store::files::{self, Links};

/// One message to read.
#[derive(Debug, Clone)]
pub struct Entry {
    /// How the message is named in output: the path, `FILE:N` for mbox messages, `-` for stdin.
    pub name: String,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Stdin,
    /// A file named on the command line or in an @LIST (a symbolic link to it is followed).
    File(PathBuf),
    /// A message file listed in a folder: a link there is not followed (as `purge` does not),
    /// and what is put in its place between listing and reading is read only if it is a
    /// regular file.
    InFolder(PathBuf),
    /// A message file already read during expansion.
    Kept {
        path: PathBuf,
        data: Arc<Vec<u8>>,
    },
    /// A message of an mbox held in memory (a small mbox file, or one read from a pipe).
    Mbox {
        data: Arc<Vec<u8>>,
        start: usize,
        end: usize,
    },
    /// A message of an mbox file too large to hold: its byte range, read when the message is
    /// (see [`MboxFile`]).
    MboxFile {
        file: Arc<MboxFile>,
        start: u64,
        end: u64,
    },
    /// A named path that could not be read during expansion: why (the error's text).
    Unreadable(String),
}

/// A file (or standard input) that is not a mail message: `train`, `check` and the others skip
/// it with this error rather than learn or score it.
#[derive(Debug)]
pub struct NotMail {
    pub name: String,
    pub why: &'static str,
}

impl std::fmt::Display for NotMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if self.name == "-" { "standard input" } else { &self.name };
        write!(f, "{name}: not a mail message ({}); skipped", self.why)
    }
}

impl std::error::Error for NotMail {}

/// Why `raw` is not a mail message, if it is not: it must start (after an mbox `From ` line)
/// with a header block — `Name: value` fields and their continuation lines up to a blank line
/// or the end — that has at least one field every message has (From, To, Subject, Date,
/// Message-ID, Received…). Text notes, images and empty input fail. Reads the header block only.
pub fn not_mail(raw: &[u8]) -> Option<&'static str> {
    // A compressed file is never mail either; said as such, with what to do (newcomer's pass: a
    // gzipped mbox was only "not a header block of Name: value fields").
    not_mail_header(raw).map(|why| compressed(raw).unwrap_or(why))
}

/// What compression `raw` is in, by its magic number, worded as [`not_mail`]'s reason.
fn compressed(raw: &[u8]) -> Option<&'static str> {
    const KINDS: [(&[u8], &str); 5] = [
        (b"\x1f\x8b", "it is gzip-compressed: decompress it first, e.g. give <(zcat FILE) instead of FILE"),
        (b"BZh", "it is bzip2-compressed: decompress it first, e.g. give <(bzcat FILE) instead of FILE"),
        (b"\xfd7zXZ\x00", "it is xz-compressed: decompress it first, e.g. give <(xzcat FILE) instead of FILE"),
        (b"\x28\xb5\x2f\xfd", "it is zstd-compressed: decompress it first, e.g. give <(zstdcat FILE) instead of FILE"),
        (b"PK\x03\x04", "it is a zip archive: unpack it first and give the files or folder it holds"),
    ];
    KINDS.iter().find(|(magic, _)| raw.starts_with(magic)).map(|(_, why)| *why)
}

fn not_mail_header(raw: &[u8]) -> Option<&'static str> {
    const KNOWN: [&[u8]; 12] = [
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"received",
        b"return-path",
        b"delivered-to",
        b"sender",
        b"mime-version",
        b"content-type",
    ];
    let rest = &raw[crate::message::mbox_from_line_len(raw)..];
    if rest.iter().all(u8::is_ascii_whitespace) {
        return Some("it is empty");
    }
    let mut known = false;
    for (i, line) in rest.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if i == 0 {
                return Some("it does not start with a header field");
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Some("it does not start with a header block of Name: value fields");
        };
        let name = line[..colon].trim_ascii_end();
        if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
            return Some("it does not start with a header block of Name: value fields");
        }
        known |= KNOWN.iter().any(|k| name.eq_ignore_ascii_case(k));
    }
    if known {
        None
    } else {
        Some("its header block has none of From, To, Subject, Date, Message-ID, Received")
    }
}

impl Entry {
    /// The message bytes (borrowed when expansion already read them). Input that is not a mail
    /// message (see `not_mail`) is a `NotMail` error.
    pub fn read(&self) -> Result<Cow<'_, [u8]>> {
        let raw = self.read_bytes()?;
        match not_mail(&raw) {
            Some(why) => Err(NotMail { name: self.name.clone(), why }.into()),
            None => Ok(raw),
        }
    }

    fn read_bytes(&self) -> Result<Cow<'_, [u8]>> {
        match &self.source {
            Source::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin().lock().read_to_end(&mut buf).context("cannot read standard input")?;
                Ok(Cow::Owned(buf))
            }
            Source::File(p) => read_message_file(p, Links::Follow).map(Cow::Owned),
            Source::InFolder(p) => read_message_file(p, Links::Refuse).map(Cow::Owned),
            Source::Kept { data, .. } => Ok(Cow::Borrowed(data)),
            Source::Mbox { data, start, end } => Ok(Cow::Borrowed(&data[*start..*end])),
            Source::MboxFile { file, start, end } => file.read(&self.name, *start, *end).map(Cow::Owned),
            Source::Unreadable(why) => Err(anyhow::Error::msg(why.clone())),
        }
    }

    /// The file this message is, when it is a file of its own (not in an mbox, not stdin).
    /// A named path that could not be opened or listed: reading it says why.
    pub fn is_unreadable(&self) -> bool {
        matches!(self.source, Source::Unreadable(_))
    }

    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            Source::File(p) | Source::InFolder(p) | Source::Kept { path: p, .. } => Some(p),
            _ => None,
        }
    }
}

/// A named path that cannot be read, as an entry whose `read` says why.
fn unreadable(p: &str, e: &anyhow::Error) -> Entry {
    Entry { name: p.to_string(), source: Source::Unreadable(crate::problems::error_text(e)) }
}

/// Expands command-line PATH arguments into messages, in order. A path that cannot be read is
/// an entry whose `read` fails (see the module's note); the errors left are misuse (standard
/// input named twice).
pub fn expand(paths: &[String]) -> Result<Vec<Entry>> {
    expand_noting(paths, &mut Vec::new())
}

/// `expand`, adding to `notes` what the user should hear: a path where no message was found,
/// and subdirectories that look like mail folders but are not read (a Maildir's Maildir++
/// `.Folder`s, a Maildir or MH folder inside a plain directory).
pub fn expand_noting(paths: &[String], notes: &mut Vec<String>) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut stdin_used = false;
    for p in paths {
        let before = (out.len(), notes.len());
        expand_one(p, &mut out, notes, &mut stdin_used)?;
        // A folder whose files were all skipped says so (review R10), not "no messages found".
        let skipped = notes[before.1..].iter().any(|n| is_skip_note(n));
        if out.len() == before.0 && p != "-" && !skipped {
            notes.push(format!("no messages found in {p}"));
        }
    }
    Ok(out)
}

/// Whether a note of [`expand_noting`] says that entries of a folder were skipped.
pub fn is_skip_note(note: &str) -> bool {
    note.contains(" skipped in ")
}

/// Subdirectories of `dir` that look like mail folders (they are not read).
fn nested_folders(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    let maildir = is_maildir(dir);
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .filter(|p| {
            let name = file_name(p);
            if maildir {
                // Maildir++: `.Sent`, `.Junk`, `.Archief.2024` beside cur/ new/ tmp/.
                name.starts_with('.') && name.len() > 1 && is_maildir(p)
            } else {
                !name.starts_with('.') && (is_maildir(p) || p.join(".mh_sequences").exists())
                    || name.starts_with('.') && name.len() > 1 && is_maildir(p)
            }
        })
        .collect();
    out.sort();
    out
}

fn expand_one(p: &str, out: &mut Vec<Entry>, notes: &mut Vec<String>, stdin_used: &mut bool) -> Result<()> {
    {
        if let Some(list) = p.strip_prefix('@') {
            let text = if list == "-" {
                if std::mem::replace(stdin_used, true) {
                    bail!("standard input can be used only once");
                }
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).context("cannot read the path list from standard input")?;
                s
            } else {
                match files::read_text(Path::new(list), files::LIST_CAP)
                    .with_context(|| format!("cannot read path list {list}"))
                {
                    Ok(text) => text,
                    Err(e) => {
                        out.push(unreadable(p, &e));
                        return Ok(());
                    }
                }
            };
            // Listed paths are checked (and mbox files split) on all cores: a list of thousands of
            // files costs a stat and an open each, which is worth spreading.
            let lines: Vec<&str> =
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
            crate::parallel::map_ordered(
                &lines,
                |line| {
                    let (mut entries, mut said) = (Vec::new(), Vec::new());
                    match expand_path(line, &mut entries, false, &mut said) {
                        Ok(()) => (entries, said),
                        Err(e) => (vec![unreadable(line, &e)], said),
                    }
                },
                |_, (entries, said)| {
                    out.extend(entries);
                    notes.extend(said);
                },
            );
        } else if p == "-" {
            if std::mem::replace(stdin_used, true) {
                bail!("standard input can be used only once");
            }
            out.push(Entry { name: "-".into(), source: Source::Stdin });
        } else {
            if let Err(e) = expand_path(p, out, true, notes) {
                out.push(unreadable(p, &e));
                return Ok(());
            }
            let path = Path::new(p);
            if path.is_dir() {
                for sub in nested_folders(path) {
                    notes.push(format!(
                        "{} looks like a mail folder and is not read (only {} itself is); name it to include it",
                        sub.display(),
                        p
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Expands one path: a folder, a message or mbox file, or (`named` on the command line, not in an
/// @LIST) a pipe, read to its end at once (`<(zcat spam.mbox.gz)`, `/dev/stdin`; review R6).
fn expand_path(p: &str, out: &mut Vec<Entry>, named: bool, notes: &mut Vec<String>) -> Result<()> {
    let path = Path::new(p);
    // One open (a folder opens too) and what it says, rather than a look-up of the path for
    // its metadata and another to read it: a list of thousands of files pays each per file.
    // Without blocking: a FIFO listed in an @LIST (or met in a folder) is refused, not waited on.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("cannot open {p}"))?;
    let meta = file.metadata().with_context(|| format!("cannot open {p}"))?;
    if named && meta.file_type().is_fifo() {
        drop(file);
        let data = read_named_pipe(path).with_context(|| format!("cannot read {p}"))?;
        push_messages(p, Arc::new(data), out);
        return Ok(());
    }
    if !meta.is_dir() && !meta.is_file() {
        if meta.file_type().is_fifo() {
            bail!("cannot read {p}: a FIFO is read only when named on the command line, not in an @LIST");
        }
        bail!("cannot read {p}: not a regular file, folder or pipe");
    }
    if meta.is_dir() {
        drop(file);
        let mut listing = list_dir(path)?;
        notes.extend(listing.skipped_notes(p));
        for (file, linked) in std::mem::take(&mut listing.files) {
            // A link listed in a folder the user named is followed, to a regular file only (mu's
            // and mairix's search results are folders of links: review R10); what was a regular
            // file when listed is read without following one (attack report F3).
            let source = if linked { Source::File(file.clone()) } else { Source::InFolder(file.clone()) };
            out.push(Entry { name: file.display().to_string(), source });
        }
    } else if let Some(mbox) = read_if_mbox(file, &meta, path)? {
        let data = match mbox {
            Mbox::Held(data) => Arc::new(data),
            Mbox::Scanned(file, starts) => {
                if starts.len() > 1 {
                    let file = Arc::new(file);
                    let ends = starts.iter().skip(1).copied().chain(std::iter::once(file.len));
                    for (i, (&start, end)) in starts.iter().zip(ends).enumerate() {
                        let source = Source::MboxFile { file: file.clone(), start, end };
                        out.push(Entry { name: format!("{p}:{}", i + 1), source });
                    }
                } else {
                    // One message with an mbox `From ` envelope line, too large to keep: a
                    // message file, named as such.
                    out.push(Entry { name: p.to_string(), source: Source::File(path.to_path_buf()) });
                }
                return Ok(());
            }
        };
        let ranges = split_mbox(&data);
        if ranges.len() > 1 {
            push_messages(p, data, out);
            return Ok(());
        }
        {
            // One message with an mbox `From ` envelope line: a message file, named as such. What
            // was just read is kept rather than read again (it is small: `keep_in_memory`).
            out.push(Entry { name: p.to_string(), source: Source::Kept { path: path.to_path_buf(), data } });
        }
    } else {
        out.push(Entry { name: p.to_string(), source: Source::File(path.to_path_buf()) });
    }
    Ok(())
}

/// The messages of `data` read from `p`: an mbox split into its messages (`P:1`, `P:2`...), else
/// one message named `p`.
fn push_messages(p: &str, data: Arc<Vec<u8>>, out: &mut Vec<Entry>) {
    let ranges = split_mbox(&data);
    if ranges.len() <= 1 {
        let end = data.len();
        out.push(Entry { name: p.to_string(), source: Source::Mbox { data, start: 0, end } });
        return;
    }
    for (i, (start, end)) in ranges.into_iter().enumerate() {
        out.push(Entry { name: format!("{p}:{}", i + 1), source: Source::Mbox { data: data.clone(), start, end } });
    }
}

/// Reads a pipe the user named on the command line to its end, at most [`files::PIPE_CAP`]
/// bytes. Opened again blocking, as `cat` opens it: a FIFO with no writer yet is waited for (the
/// user named it), and what comes through is read whole rather than cut short by an empty
/// non-blocking read.
fn read_named_pipe(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY).open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_fifo() {
        return Err(std::io::Error::other("it changed while being opened (it is no longer a pipe)"));
    }
    files::read_opened(file, 0, files::PIPE_CAP).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            std::io::Error::new(
                e.kind(),
                format!(
                    "more than the {} spamfilt reads from a pipe; write it to a file and name the file",
                    files::size_text(files::PIPE_CAP)
                ),
            )
        } else {
            e
        }
    })
}

/// Whether `dir` is a Maildir (has `cur/` and `new/`).
pub fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() && dir.join("new").is_dir()
}

/// What [`list_dir`] found in a folder.
#[derive(Debug, Default)]
pub struct Listing {
    /// The message files, sorted, each with whether it is a symbolic link (to a regular file).
    pub files: Vec<(PathBuf, bool)>,
    /// Symbolic links that lead to no regular file (missing, a folder, a FIFO, a device).
    pub bad_links: Vec<PathBuf>,
    /// Entries that are neither a regular file, a link nor a folder: FIFOs, devices, sockets.
    pub others: Vec<PathBuf>,
}

impl Listing {
    /// What was skipped in folder `p`, as notes for the user (each [`is_skip_note`]).
    pub fn skipped_notes(&self, p: &str) -> Vec<String> {
        let names = |v: &[PathBuf]| {
            let mut shown: Vec<String> = v.iter().take(3).map(|f| file_name(f)).collect();
            if v.len() > 3 {
                shown.push(format!("and {} more", v.len() - 3));
            }
            shown.join(", ")
        };
        let mut out = Vec::new();
        if !self.bad_links.is_empty() {
            out.push(format!(
                "{} skipped in {p}: {} (they lead to no regular file)",
                count(self.bad_links.len(), "symbolic link", "symbolic links"),
                names(&self.bad_links)
            ));
        }
        if !self.others.is_empty() {
            out.push(format!(
                "{} skipped in {p}: {} (FIFOs, devices and sockets in a folder are never read)",
                count(self.others.len(), "file", "files"),
                names(&self.others)
            ));
        }
        out
    }
}

/// "1 file", "2 files" (`commands::plural`, which this module cannot use).
fn count(n: usize, one: &str, more: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { more })
}

/// The message files of a directory: `new/` and `cur/` of a Maildir, the numbered files of an
/// MH folder, or every regular, non-hidden file of a plain directory; sorted by name.
/// Symbolic links to regular files are listed (marked), others skipped.
pub fn list_dir(dir: &Path) -> Result<Listing> {
    let mut listing = Listing::default();
    if is_maildir(dir) {
        for sub in ["new", "cur"] {
            regular_files(&dir.join(sub), &mut listing)?;
        }
    } else {
        regular_files(dir, &mut listing)?;
        let all = &listing.files;
        let is_mh = dir.join(".mh_sequences").exists()
            || (!all.is_empty() && all.iter().all(|(f, _)| file_name(f).bytes().all(|b| b.is_ascii_digit())));
        if is_mh {
            let mut numbered: Vec<(u64, (PathBuf, bool))> = std::mem::take(&mut listing.files)
                .into_iter()
                .filter_map(|f| file_name(&f.0).parse().ok().map(|n| (n, f)))
                .collect();
            numbered.sort();
            listing.files = numbered.into_iter().map(|(_, f)| f).collect();
        }
    }
    Ok(listing)
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Adds the entries of `dir` to `listing`, each part sorted by name.
fn regular_files(dir: &Path, listing: &mut Listing) -> Result<()> {
    let mut files = Vec::new();
    let rd = fs::read_dir(dir).with_context(|| format!("cannot read folder {}", dir.display()))?;
    for entry in rd {
        let entry = entry.with_context(|| format!("cannot read folder {}", dir.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        // DirEntry::file_type does not follow a link.
        let Ok(t) = entry.file_type() else { continue };
        if t.is_file() {
            files.push((entry.path(), false));
        } else if t.is_symlink() {
            if fs::metadata(entry.path()).is_ok_and(|m| m.is_file()) {
                files.push((entry.path(), true));
            } else {
                listing.bad_links.push(entry.path());
            }
        } else if !t.is_dir() {
            listing.others.push(entry.path());
        }
    }
    files.sort();
    listing.files.extend(files);
    listing.bad_links.sort();
    listing.others.sort();
    Ok(())
}

/// Reads a message file (see `files::read_capped`): never blocks on a FIFO, reads no device,
/// at most `files::MESSAGE_CAP` bytes.
fn read_message_file(p: &Path, links: Links) -> Result<Vec<u8>> {
    files::read_capped(p, files::MESSAGE_CAP, links).with_context(|| format!("cannot read {}", p.display()))
}

/// Whether a message or mbox file of `len` bytes read during expansion is kept for later (at most
/// 1 MiB each, 64 MiB in all) instead of being read a second time. A larger mbox is split as it is
/// read and its messages read again one by one (see [`MboxFile`]), so that no file is held whole.
fn keep_in_memory(len: usize) -> bool {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static KEPT: AtomicUsize = AtomicUsize::new(0);
    len <= 1 << 20 && KEPT.fetch_add(len, Ordering::Relaxed) + len <= 64 << 20
}

/// The delivery time a Maildir message file's name carries: the seconds before the first dot
/// (`1700000000.M1P2.host:2,S`), as every Maildir deliverer writes it. `None` when `name` is not
/// a Maildir message file name. `purge --older-than` and `train --older-than` read it through
/// `maildir_entered`.
pub fn maildir_delivery(name: &str) -> Option<std::time::SystemTime> {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 12 || name.len() <= digits + 1 || name.as_bytes()[digits] != b'.' {
        return None;
    }
    let secs: u64 = name[..digits].parse().ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// Since when a Maildir message file has been where it is, for `purge --older-than` and `train
/// --older-than`: the later of its name's delivery time (`maildir_delivery`) and its ctime (`meta`
/// of the file itself). A move into the folder (`mv`, an IMAP MOVE or COPY, which can keep the
/// old name: Dovecot's `maildir_copy_preserve_filename = yes`, a hard link) sets the ctime, so
/// what came into the folder today under an old name is not old (attack report F18). So does a
/// flag change (a rename to `:2,FS`) and the client's move from `new/` to `cur/`: the age then
/// counts from that, later, never earlier. `None` when the name carries no delivery time.
///
/// `SPAMFILT_TEST_AGE_FROM_NAME=1` (a test switch, docs/reliability.md) leaves the ctime out,
/// for the tests and `scripts/months.py --clock rename` that age files by their name alone.
pub fn maildir_entered(name: &str, meta: &fs::Metadata) -> Option<std::time::SystemTime> {
    use std::os::unix::fs::MetadataExt;
    let named = maildir_delivery(name)?;
    if age_from_name_only() {
        return Some(named);
    }
    let ctime = u64::try_from(meta.ctime())
        .ok()
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::new(s, u32::try_from(meta.ctime_nsec()).unwrap_or(0)));
    Some(ctime.map_or(named, |c| c.max(named)))
}

fn age_from_name_only() -> bool {
    static ONLY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ONLY.get_or_init(|| std::env::var_os("SPAMFILT_TEST_AGE_FROM_NAME").is_some_and(|v| v == "1"))
}

/// An mbox file, as [`read_if_mbox`] found it.
enum Mbox {
    /// Small enough to keep (see [`keep_in_memory`]): the whole file.
    Held(Vec<u8>),
    /// Larger: where its messages start (the first at 0), found by reading it through once
    /// without keeping it; each message is read again when it is learned or scored.
    Scanned(MboxFile, Vec<u64>),
}

/// An mbox file too large to hold in memory (attack report, mbox read unbounded): `train` and
/// `check` on a multi-GB archive hold the messages' places, not the file. Each message is read
/// (`pread`) when it is used, from the file that was split: opened again by its path, it must be
/// the same file (device and inode) and the message must still start with its From_ line, or
/// reading it fails and says so.
#[derive(Debug)]
pub struct MboxFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// The length that was split: the last message ends here.
    len: u64,
}

impl MboxFile {
    /// The message of `start..end`, named `name` in errors: at most `files::MESSAGE_CAP` bytes,
    /// as for a message file.
    fn read(&self, name: &str, start: u64, end: u64) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let len = end - start;
        if len > files::MESSAGE_CAP {
            bail!(
                "cannot read {name}: too large: {len} bytes, more than the {} spamfilt reads of a message",
                files::size_text(files::MESSAGE_CAP)
            );
        }
        let file = self.open().with_context(|| format!("cannot read {name}"))?;
        let mut data = vec![0u8; usize::try_from(len).context("a message larger than memory")?];
        let changed = || {
            format!(
                "cannot read {name}: {} changed while it was being read (the message is no longer where it was); \
                 read it again once nothing writes to it",
                self.path.display()
            )
        };
        match file.read_exact_at(&mut data, start) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => bail!("{}", changed()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
        }
        if !data.starts_with(b"From ") {
            bail!("{}", changed());
        }
        Ok(data)
    }

    /// The file, open: the one the last read of any mbox used when it is this one, else opened
    /// again (one descriptor for all the mbox files of a run, however many an @LIST names).
    fn open(&self) -> std::io::Result<Arc<fs::File>> {
        use std::os::unix::fs::MetadataExt;
        static OPEN: std::sync::Mutex<Option<(u64, u64, Arc<fs::File>)>> = std::sync::Mutex::new(None);
        let mut open = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((dev, ino, file)) = open.as_ref() {
            if (*dev, *ino) == (self.dev, self.ino) {
                return Ok(file.clone());
            }
        }
        let (file, meta) = files::open_capped(&self.path, u64::MAX, Links::Follow)?;
        if (meta.dev(), meta.ino()) != (self.dev, self.ino) {
            return Err(std::io::Error::other(format!(
                "{} was replaced by another file while it was being read",
                self.path.display()
            )));
        }
        let file = Arc::new(file);
        *open = Some((self.dev, self.ino, file.clone()));
        Ok(file)
    }
}

/// The file when it starts like an mbox (`From `), read through one open: whole when it is small
/// enough to keep, else split as it is read (see [`Mbox`]).
fn read_if_mbox(mut f: fs::File, meta: &fs::Metadata, path: &Path) -> Result<Option<Mbox>> {
    use std::os::unix::fs::MetadataExt;
    let cannot = || format!("cannot read {}", path.display());
    let mut head = [0u8; 5];
    let mut n = 0;
    while n < 5 {
        match f.read(&mut head[n..]).with_context(cannot)? {
            0 => return Ok(None),
            k => n += k,
        }
    }
    if &head != b"From " {
        return Ok(None);
    }
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if !keep_in_memory(len) {
        let (starts, len) = scan_mbox(&mut f, &head, SCAN_CHUNK).with_context(cannot)?;
        let file = MboxFile { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino(), len };
        return Ok(Some(Mbox::Scanned(file, starts)));
    }
    // Room for the whole file as its metadata gave it (and one byte to see the end), so that
    // reading it asks for nothing more; a file that grew meanwhile is still read to its end.
    let mut data = Vec::with_capacity(len.saturating_add(1).min(1 << 30));
    data.extend_from_slice(&head);
    f.by_ref().take(u64::MAX).read_to_end(&mut data).with_context(cannot)?;
    Ok(Some(Mbox::Held(data)))
}

/// How much of an mbox [`scan_mbox`] reads at a time.
const SCAN_CHUNK: usize = 1 << 20;
/// The most of a line starting with `From ` that [`scan_mbox`] looks at to tell whether it is a
/// From_ line: [`is_from_line`] decides on its first words, which a real From_ line has within
/// a few hundred bytes.
const FROM_LINE_CAP: usize = 64 << 10;

/// Where the messages of the mbox read from `r` start (`head`, its first bytes, already read),
/// and its length: the places [`split_mbox`] finds, read `chunk` bytes at a time and holding at
/// most a chunk and a From_ line's [`FROM_LINE_CAP`] of it. A candidate line longer than that is
/// judged on its first `FROM_LINE_CAP` bytes.
fn scan_mbox(r: &mut impl Read, head: &[u8], chunk: usize) -> std::io::Result<(Vec<u64>, u64)> {
    let finder = memchr::memmem::Finder::new(b"\nFrom ");
    let mut starts = vec![0u64];
    let mut buf = head.to_vec();
    // The file offset of buf[0], where the next search starts in buf, whether the end is read.
    let (mut base, mut from, mut eof) = (0u64, 0usize, false);
    loop {
        if let Some(i) = finder.find(&buf[from..]) {
            let mut s = from + i + 1;
            while !eof && memchr::memchr(b'\n', &buf[s..]).is_none() && buf.len() - s < FROM_LINE_CAP {
                buf.drain(..s);
                base += s as u64;
                s = 0;
                eof = fill(r, &mut buf, chunk)?;
            }
            let line = &buf[s..];
            let end = memchr::memchr(b'\n', line).unwrap_or(line.len()).min(FROM_LINE_CAP);
            if is_from_line(&line[..end]) {
                starts.push(base + s as u64);
            }
            from = s;
        } else {
            // Keep what could be the start of a `\nFrom ` cut by the chunk's end.
            let keep = buf.len().saturating_sub(5).max(from);
            if eof {
                return Ok((starts, base + buf.len() as u64));
            }
            buf.drain(..keep);
            base += keep as u64;
            from = 0;
            eof = fill(r, &mut buf, chunk)?;
        }
    }
}

/// Appends up to `chunk` bytes read from `r` to `buf`; whether the end was reached.
fn fill(r: &mut impl Read, buf: &mut Vec<u8>, chunk: usize) -> std::io::Result<bool> {
    let old = buf.len();
    buf.resize(old + chunk, 0);
    let n = loop {
        match r.read(&mut buf[old..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        }
    };
    buf.truncate(old + n);
    Ok(n == 0)
}

/// Byte ranges of the messages of an mbox: each starts at the start of the file or at a From_
/// line after a line end (`is_from_line`; the separator line is kept, `rewrite` and `message`
/// skip it). A body line that merely starts with `From ` ("From my point of view...", unescaped
/// in mboxo) does not split a message.
pub fn split_mbox(data: &[u8]) -> Vec<(usize, usize)> {
    let mut starts = vec![0];
    starts.extend(memchr::memmem::find_iter(data, b"\nFrom ").map(|i| i + 1).filter(|&s| {
        let end = memchr::memchr(b'\n', &data[s..]).map_or(data.len(), |n| s + n);
        is_from_line(&data[s..end])
    }));
    let mut ranges = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(data.len());
        ranges.push((s, e));
    }
    ranges
}

/// Whether `line` (without its `\n`; a `\r` is allowed) is an mbox From_ line, as mutt and
/// mailutils recognise one: `From `, the envelope sender, then a ctime(3) date: weekday, month,
/// day, `HH:MM[:SS]` and a four-digit year, with a time zone (`+0100`, `CEST`) before or after
/// the year; anything may follow the year (UUCP's `remote from HOST`). Spaces may be doubled
/// (`Jan  1`). The sender is `MAILER-DAEMON`, an address, or what writers make of one: none at
/// all, a quoted local part with spaces, pipermail's `jan at klant.be`, a `[tag]` after it; up to
/// four words. The date is what tells a From_ line from a body line that starts with `From `.
/// Looks at the first 16 words only.
pub fn is_from_line(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else { return false };
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    let words: Vec<&[u8]> = rest.split(|&b| b == b' ' || b == b'\t').filter(|w| !w.is_empty()).take(16).collect();
    (0..=4.min(words.len())).any(|sender| is_ctime(&words[sender..]))
}

/// `DAY MON DD HH:MM[:SS] [ZONE...] YYYY [anything]`, as in a From_ line (see `is_from_line`).
fn is_ctime(t: &[&[u8]]) -> bool {
    const DAYS: [&[u8]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
    const MONTHS: [&[u8]; 12] =
        [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    let digits = |s: &[u8], min: usize, max: usize| (min..=max).contains(&s.len()) && s.iter().all(u8::is_ascii_digit);
    let number = |s: &[u8]| s.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let named = |s: &[u8], names: &[&[u8]]| names.iter().any(|n| s.eq_ignore_ascii_case(n));
    if t.len() < 5 || !named(t[0], &DAYS) || !named(t[1], &MONTHS) {
        return false;
    }
    if !digits(t[2], 1, 2) || !(1..=31).contains(&number(t[2])) {
        return false;
    }
    let hms: Vec<&[u8]> = t[3].split(|&b| b == b':').collect();
    if !(2..=3).contains(&hms.len())
        || !digits(hms[0], 1, 2)
        || number(hms[0]) > 23
        || hms[1..].iter().any(|p| !digits(p, 2, 2) || number(p) > 60)
    {
        return false;
    }
    // The year, after at most two time-zone words (`+0100`; `CEST`, upper case as zones are
    // written, so that a sentence's words are not taken for one).
    let zone = |s: &[u8]| {
        (s.len() == 5 && (s[0] == b'+' || s[0] == b'-') && digits(&s[1..], 4, 4))
            || ((1..=5).contains(&s.len()) && s.iter().all(u8::is_ascii_uppercase))
    };
    for &w in t[4..].iter().take(3) {
        if digits(w, 4, 4) {
            return true;
        }
        if !zone(w) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_mail_from_other_files() {
        for ok in [
            &b"Subject: hi\n\nbody"[..],
            b"From a@b Mon Jan 1\nFrom: a@b\n\n",
            b"Received: from x\n\tby y\nX-Other: 1\r\nTo: a@b\r\n\r\nbody",
            b"Subject: only headers",
        ] {
            assert_eq!(not_mail(ok), None, "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b" \n\n",
            b"TODO: buy milk\nand bread\n",
            b"Meeting notes\n\ntext",
            b"\x89PNG\r\n\x1a\n",
            b" folded: first\n",
            b"X-Only: custom\n\nbody",
        ] {
            assert!(not_mail(bad).is_some(), "{}", String::from_utf8_lossy(bad));
        }
        // Compressed files are said to be, with the way to read them.
        assert_eq!(
            not_mail(b"\x1f\x8b\x08\x00rest").map(|w| w.contains("gzip-compressed") && w.contains("zcat")),
            Some(true)
        );
        assert!(not_mail(b"BZh91AY&SY\x00\x01").is_some_and(|w| w.contains("bzcat")));
        assert!(not_mail(b"\xfd7zXZ\x00\x00").is_some_and(|w| w.contains("xzcat")));
        // Mail that happens to start with such bytes does not exist, but the reason is only a
        // refinement: what is mail stays mail.
        assert_eq!(not_mail(b"BZh: x\nSubject: hi\n\nbody"), None);
    }

    #[test]
    fn maildir_names() {
        let secs = |n: &str| maildir_delivery(n).map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(secs("1700000000.M1P2.host:2,S"), Some(1_700_000_000));
        assert_eq!(secs("1700000000.12345_0.host"), Some(1_700_000_000));
        for bad in ["notes.txt", "1700000000", "1700000000.", ".1700000000.x", "x1700000000.y", "99999999999999.x"] {
            assert_eq!(maildir_delivery(bad), None, "{bad}");
        }
    }

    /// Attack report F18: the later of the name's time and the ctime.
    #[test]
    fn a_file_came_into_its_folder_at_the_later_of_its_name_and_its_ctime() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        let meta = fs::metadata(&f).unwrap();
        let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // An old name moved in now: the ctime.
        assert_eq!(maildir_entered("1700000001.M1P1.host:2,S", &meta).map(secs), Some(meta.ctime() as u64));
        // A name later than the ctime (a clock that was ahead): the name.
        let ahead = meta.ctime() + 86_400;
        assert_eq!(maildir_entered(&format!("{ahead}.M1P1.host"), &meta).map(secs), Some(ahead as u64));
        assert_eq!(maildir_entered("notes.txt", &meta), None);
    }

    #[test]
    fn splits_mbox() {
        let data = b"From a Mon Nov 16 10:00:00 2026\nSubject: 1\n\nx\n>From quoted\nFrom here on, unquoted\n\n\
From b Tue Nov 17 10:00:00 2026\nSubject: 2\n\ny\n";
        let r = split_mbox(data);
        assert_eq!(r.len(), 2);
        assert!(data[r[0].0..r[0].1].ends_with(b">From quoted\nFrom here on, unquoted\n\n"));
        assert!(data[r[1].0..r[1].1].starts_with(b"From b Tue Nov 17 10:00:00 2026\n"));
    }

    /// The mbox split as it is read gives the places `split_mbox` finds in the whole file,
    /// whatever the chunk size cuts: a From_ line, a `\nFrom ` or a line end.
    #[test]
    fn scanning_an_mbox_in_chunks_splits_it_as_the_whole_file() {
        let mut data = Vec::new();
        for i in 0..40 {
            data.extend_from_slice(format!("From a{i}@b.example Mon Nov 16 10:00:{:02} 2026\n", i % 60).as_bytes());
            data.extend_from_slice(b"Subject: x\r\n\r\nbody\nFrom my point of view\n>From quoted\n");
            data.extend(std::iter::repeat_n(b'y', i * 37));
            data.extend_from_slice(b"\nFrom a@b Mon Jan 1\n\n");
            if i % 7 == 3 {
                // A From_ line cut off by the end of a long line.
                data.extend_from_slice(b"From x Mon Jan  1 00:00:00 ");
                data.extend(std::iter::repeat_n(b'z', 300));
                data.push(b'\n');
            }
        }
        data.extend_from_slice(b"From z Tue Nov 17 10:00:00 2026");
        let whole: Vec<u64> = split_mbox(&data).iter().map(|r| r.0 as u64).collect();
        assert_eq!(whole.len(), 41);
        for chunk in [1, 2, 3, 5, 6, 7, 64, 100, 4096, 1 << 20] {
            for head in [0, 5] {
                let (starts, len) = scan_mbox(&mut &data[head..], &data[..head], chunk).unwrap();
                assert_eq!((starts.as_slice(), len), (whole.as_slice(), data.len() as u64), "chunk {chunk}");
            }
        }
    }

    /// A large mbox is held as places, each message read again from the file: the same bytes as
    /// the whole file split, and a file changed meanwhile is an error naming the message.
    #[test]
    fn a_large_mbox_is_read_message_by_message() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("big.mbox");
        let mut data = Vec::new();
        for i in 0..300 {
            data.extend_from_slice(format!("From a@b Mon Nov 16 10:00:00 2026\nSubject: {i}\n\n").as_bytes());
            data.extend(std::iter::repeat_n(b'x', 5000));
            data.extend_from_slice(b"\nFrom here on\n");
        }
        assert!(data.len() > 1 << 20);
        fs::write(&path, &data).unwrap();
        let name = path.display().to_string();
        let entries = expand(std::slice::from_ref(&name)).unwrap();
        assert_eq!(entries.len(), 300);
        assert!(entries.iter().all(|e| matches!(e.source, Source::MboxFile { .. })));
        for (e, (s, end)) in entries.iter().zip(split_mbox(&data)) {
            assert_eq!(&*e.read().unwrap(), &data[s..end], "{}", e.name);
        }
        assert_eq!(entries[41].name, format!("{name}:42"));
        // Rewritten shorter (a mail client's expunge): the later messages are no longer there.
        fs::write(&path, &data[..data.len() / 2]).unwrap();
        let e = entries[250].read().unwrap_err();
        assert_eq!(
            crate::problems::error_text(&e),
            format!(
                "cannot read {name}:251: {name} changed while it was being read (the message is no longer where \
                 it was); read it again once nothing writes to it"
            )
        );
        // Another file in its place (another inode): refused.
        let Source::MboxFile { file, .. } = &entries[0].source else { unreachable!() };
        let other = MboxFile { path: path.clone(), dev: file.dev, ino: file.ino + 1, len: file.len };
        let e = crate::problems::error_text(&other.read("x:1", 0, 10).unwrap_err());
        assert_eq!(e, format!("cannot read x:1: {name} was replaced by another file while it was being read"));
    }

    /// The From_ line as mbox writers spell it (and mutt and mailutils read it), and body lines
    /// that only start with `From `.
    #[test]
    fn tells_from_lines_from_body_lines() {
        for yes in [
            "From a@b Mon Jan  1 00:00:00 2024",
            "From a@b Mon Jan 1 00:00:00 2024",
            "From MAILER-DAEMON Fri Jul  8 12:08:34 2011",
            "From jan@klant.be  Tue Nov 17 09:12:44 2026\r",
            "From root Sat Jan  3 01:05:34 1996",
            "From a@b Sat Jan  3 01:05 1996",
            "From a@b Sat Jan  3 01:05:34 1996 -0700",
            "From a@b Sat Jan  3 01:05:34 PST 1996",
            "From 1614896548345386765@xxx Wed Oct 14 12:57:52 +0000 2020",
            "From a@b Sat Jan 03 01:05:34 1996 remote from gateway",
            "From \"jan peeters\"@klant.be Tue Nov 17 09:12:44 2026",
            "From Tue Nov 17 09:12:44 2026",
            "From jan at klant.be  Tue Nov 17 09:12:44 2026",
            "From zvfjenphuq@[192.0.2.1] [ufa]  Sun Aug  5 09:51:15 2001",
            "From x@y\tTUE NOV 17 09:12:44 2026",
        ] {
            assert!(is_from_line(yes.as_bytes()), "{yes:?}");
        }
        for no in [
            "From my point of view the meeting went well.",
            "From now on we meet on Tuesdays.",
            "From a@b",
            "From a@b Mon",
            "From a@b Mon Jan 1",
            "From a@b Mon Jan 1 00:00:00",
            "From a@b Mon Jan 32 00:00:00 2024",
            "From a@b Mon Foo 1 00:00:00 2024",
            "From a@b Mon, 1 Jan 2024 00:00:00 +0000",
            "From a@b Mon Jan 1 25:00:00 2024",
            "From a@b Mon Jan 1 00:00:00 in 2024",
            "From Monday to Friday we are open 9:00 to 17:00 in 2024",
            "From: a@b.example",
            ">From a@b Mon Jan  1 00:00:00 2024",
        ] {
            assert!(!is_from_line(no.as_bytes()), "{no:?}");
        }
    }

    #[test]
    fn expands_maildir_mh_plain_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path().join("md");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(md.join(sub)).unwrap();
        }
        fs::write(md.join("new/1.a"), "Subject: a\n\n").unwrap();
        fs::write(md.join("cur/2.b:2,S"), "Subject: b\n\n").unwrap();
        fs::write(md.join("tmp/3.c"), "Subject: c\n\n").unwrap();
        let mh = tmp.path().join("mh");
        fs::create_dir_all(&mh).unwrap();
        for n in [10, 9, 1] {
            fs::write(mh.join(n.to_string()), "Subject: x\n\n").unwrap();
        }
        let list = tmp.path().join("list");
        fs::write(&list, format!("{}\n# comment\n\n{}\n", md.display(), mh.display())).unwrap();
        let entries = expand(&[format!("@{}", list.display())]).unwrap();
        let names: Vec<String> =
            entries.iter().map(|e| Path::new(&e.name).file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["1.a", "2.b:2,S", "1", "9", "10"]);
        // A path that cannot be read is an entry that says why when read.
        let missing = expand(&["/nonexistent/x".to_string()]).unwrap();
        assert_eq!(missing.len(), 1);
        let e = missing[0].read().unwrap_err();
        assert_eq!(crate::problems::error_text(&e), "cannot open /nonexistent/x: No such file or directory");
    }
}
