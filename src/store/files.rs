//! The one place that opens, creates, replaces and removes files in spamfilt's directories (the
//! database directory, its `queue/`, the list files beside the config file). Everything else
//! goes through these helpers, so the rules hold everywhere:
//!
//! * **No symbolic link is followed** inside our directories: files are opened with
//!   `O_NOFOLLOW` (a link is refused with an error naming it), new files with `O_EXCL` under an
//!   unpredictable name (`NAME.tmp-` and 16 random hex digits from the kernel's `getrandom`), and
//!   replaced by `rename`, which replaces a link itself, never its target. A FIFO or device in
//!   place of a file is refused too (opened `O_NONBLOCK`, so it cannot hang a delivery).
//! * **A directory or file that others can write, or that belongs to another user, is refused**
//!   (as ssh does for its files): such a directory lets another account swap our files for
//!   links or forged databases. The error names the path and the fix (`chmod go-w PATH`).
//!   Root's own files and directories are trusted, as ssh trusts them. The checks look at the
//!   owner and mode bits, not at what the kernel would allow, so they hold for root too.
//!   The directory itself may be a symbolic link (a user who keeps the database elsewhere);
//!   what it points to is checked.
//! * **Root creates nothing under a directory another user owns** ([`create_dirs`]): run with
//!   a user's `HOME`, it would leave that user a database directory the user cannot use.
//! * **A file is written aside and renamed over** ([`TempFile`], [`write_atomic`]): fsynced,
//!   renamed, the directory fsynced; a failure or a drop removes the temporary file.
//!
//! * **Configuration and message files are read bounded** ([`read_capped`]): the config file,
//!   the allow and block lists, the URI blocklist, the recipients and password files (a link
//!   followed, to a regular file only) and message files in folders (no link followed) are
//!   opened `O_NONBLOCK`, must be regular files, and are read up to a bound per kind: a FIFO
//!   cannot hang a delivery, a device or a huge file cannot eat its memory.
//!
//! Checking costs one `stat` of the directory and one `fstat` of each opened file (about a
//! microsecond each on a delivery).

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A file of ours that could not be opened or read: permission denied, a symbolic link, not a
/// regular file, another user's, writable by others, an I/O error. It was not read, so it is
/// not known to be damaged: `--force` never moves such a file aside (see `Database::recover`);
/// the message says what to do instead.
#[derive(Debug)]
pub struct CannotUse(pub String);

impl std::fmt::Display for CannotUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CannotUse {}

/// Whether `e` is (or was caused by) a file that could not be opened or read ([`CannotUse`]),
/// whatever context was added to it since.
pub fn cannot_use(e: &anyhow::Error) -> bool {
    e.downcast_ref::<CannotUse>().is_some()
}

/// Whether `e` comes from the file's permissions (EACCES, EPERM).
pub fn permission_denied(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied))
}

/// What to do about a [`CannotUse`] error `e` of `path`, to follow its message: for a
/// permission problem the fix (the other causes' messages say theirs); empty otherwise.
pub fn fix_for(e: &anyhow::Error, path: &Path) -> String {
    if permission_denied(e) {
        format!(
            "give yourself permission to read and write it (chmod u+rw {}; `ls -l` shows its owner and mode)",
            path.display()
        )
    } else {
        String::new()
    }
}

fn cannot(text: String) -> anyhow::Error {
    anyhow::Error::new(CannotUse(text))
}

/// `e` as a [`CannotUse`] saying `text`; the I/O error stays its cause (the filter's
/// `X-Spam-Degraded` shows just that: "tokens.db: Permission denied").
pub(crate) fn cannot_io(e: std::io::Error, text: String) -> anyhow::Error {
    anyhow::Error::new(e).context(CannotUse(text))
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

/// The login name of user id `uid`, if /etc/passwd has one.
pub fn user_name(uid: u32) -> Option<String> {
    passwd_entry(uid).map(|e| e.name).filter(|n| !n.is_empty())
}

/// One line of /etc/passwd: the login name and the home directory.
pub struct PasswdEntry {
    pub name: String,
    pub home: PathBuf,
}

/// The first line of /etc/passwd for user id `uid`, read as a file (at most 16 MiB of it).
///
/// Not `getpwuid`: the release binary is linked statically, and static glibc goes on to the next
/// NSS source of /etc/nsswitch.conf (`systemd`, `sss`, `ldap`) for a user /etc/passwd does not
/// list, which needs `dlopen`: the process died of SIGSEGV (attack report F19).
pub fn passwd_entry(uid: u32) -> Option<PasswdEntry> {
    use std::os::unix::ffi::OsStrExt;
    let mut text = Vec::new();
    File::open("/etc/passwd").ok()?.take(16 << 20).read_to_end(&mut text).ok()?;
    text.split(|&b| b == b'\n').find_map(|line| {
        let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let id = std::str::from_utf8(f.get(2)?).ok()?.parse::<u32>().ok()?;
        (id == uid).then(|| PasswdEntry {
            name: String::from_utf8_lossy(f[0]).into_owned(),
            home: PathBuf::from(std::ffi::OsStr::from_bytes(f.get(5).copied().unwrap_or_default())),
        })
    })
}

/// "user NAME (user id N)", or "user id N" when the id has no name.
fn user(uid: u32) -> String {
    match user_name(uid) {
        Some(name) => format!("user {name} (user id {uid})"),
        None => format!("user id {uid}"),
    }
}

/// What root should do instead of using or creating something of user `uid`'s: run as that
/// user.
fn run_as(uid: u32) -> String {
    let who = user_name(uid).unwrap_or_else(|| uid.to_string());
    format!("run spamfilt as that user (e.g. runuser -u {who} -- spamfilt …, or sudo -u {who})")
}

/// Why `meta` (of `path`, a `what`) must not be trusted, if it must not: another user owns it,
/// or others can write it.
fn untrusted(meta: &Metadata, path: &Path, what: &str) -> Option<String> {
    untrusted_as(meta, path, what, "a database directory", "--db")
}

/// [`untrusted`], advising `own` given with `flag` instead of a database directory (`--db`).
fn untrusted_as(meta: &Metadata, path: &Path, what: &str, own: &str, flag: &str) -> Option<String> {
    let me = euid();
    if meta.uid() != me && meta.uid() != 0 {
        let fix = if me == 0 {
            format!("{}, or use {own} of root's own ({flag})", run_as(meta.uid()))
        } else {
            format!("use {own} of your own ({flag}) or fix the owner (chown)")
        };
        return Some(format!(
            "refusing to use the {what} {}: it belongs to user id {}, not to you (user id {me}); {fix}",
            path.display(),
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "refusing to use the {what} {}: other users can write it (mode {:04o}); fix it with: chmod go-w {}",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        ));
    }
    None
}

/// Checks that `dir` (following a link to it) is a directory owned by us (or root) that
/// nobody else can write. `Ok(false)` when it does not exist.
pub fn check_dir(dir: &Path) -> Result<bool> {
    check_dir_as(dir, "a database directory", "--db")
}

/// [`check_dir`] for the directory of the config file and its lists (`list`, `import-sa` write
/// there): the advice names `--config`, not `--db`.
pub fn check_config_dir(dir: &Path) -> Result<bool> {
    check_dir_as(dir, "a config file", "--config FILE; its lists are beside it")
}

/// [`check_dir`], advising `own` given with `flag` (see [`untrusted_as`]).
fn check_dir_as(dir: &Path, own: &str, flag: &str) -> Result<bool> {
    let meta = match fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot read the directory {}", dir.display())),
    };
    if !meta.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    if let Some(why) = untrusted_as(&meta, dir, "directory", own, flag) {
        bail!(why);
    }
    Ok(true)
}

/// Creates `dir` (and its parents) private to the user (0700) if it is missing, then checks it
/// as [`check_dir`] does.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if !check_dir(dir)? {
        create_dirs(dir)?;
        check_dir(dir)?;
    }
    Ok(())
}

/// Creates the missing directory `dir` and its missing parents, private (0700). Root refuses
/// when the nearest existing one belongs to another user (root with a user's `HOME`: a cron
/// job, `sudo` without `-u`): what it made there would be root's, and that user's deliveries
/// and training could then neither read nor write their database. Nothing is created then.
///
/// Refused rather than made and handed over with `chown`: spamfilt run as root refuses a
/// directory of another user's anyway (see [`untrusted`]), so root could not use what it had
/// just made, and root changing owners in a tree another user can write races with that user
/// swapping a path for a link.
pub fn create_dirs(dir: &Path) -> Result<()> {
    if euid() == 0 {
        if let Some((ancestor, uid)) = nearest_existing_owner(dir) {
            if uid != 0 {
                bail!(
                    "refusing to create {} as root: {} belongs to {}, who could then neither read nor write \
                     what root made there; {}, or as root with a directory of root's own (--db DIR, --config FILE)",
                    dir.display(),
                    ancestor.display(),
                    user(uid),
                    run_as(uid)
                );
            }
        }
    }
    match fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create the directory {}", dir.display())),
    }
}

/// The nearest existing directory at or above `dir` (a relative path is taken from the
/// current directory) and its owner.
fn nearest_existing_owner(dir: &Path) -> Option<(PathBuf, u32)> {
    let abs = if dir.is_absolute() { dir.to_path_buf() } else { std::env::current_dir().ok()?.join(dir) };
    abs.ancestors().find_map(|a| fs::metadata(a).ok().map(|m| (a.to_path_buf(), m.uid())))
}

/// Creates `dir/name` as a private directory (0700) if it is missing and checks it: it must be
/// a real directory (a symbolic link is refused), ours, not writable by others.
pub fn ensure_subdir(dir: &Path, name: &str) -> Result<PathBuf> {
    let sub = dir.join(name);
    match fs::DirBuilder::new().mode(0o700).create(&sub) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("cannot create the directory {}", sub.display())),
    }
    if !check_subdir(&sub)? {
        bail!("cannot create the directory {}", sub.display());
    }
    Ok(sub)
}

/// Checks an existing `dir/name`-style directory without following a link: `Ok(false)` when
/// it does not exist; an error when it is a link, not a directory, another user's or writable
/// by others.
pub fn check_subdir(sub: &Path) -> Result<bool> {
    let meta = match fs::symlink_metadata(sub) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", sub.display())),
    };
    if meta.file_type().is_symlink() {
        bail!(
            "refusing to use {}: it is a symbolic link (spamfilt never follows links in its database directory; remove it)",
            sub.display()
        );
    }
    if !meta.is_dir() {
        bail!("{} is not a directory", sub.display());
    }
    if let Some(why) = untrusted(&meta, sub, "directory") {
        bail!(why);
    }
    Ok(true)
}

/// An open error ([`CannotUse`]), made clear when it comes from a symbolic link (`O_NOFOLLOW`
/// gives ELOOP).
fn open_error(e: std::io::Error, path: &Path, what: &str) -> anyhow::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        cannot(format!(
            "refusing to open the {what} {}: it is a symbolic link (spamfilt never follows links in its \
             database directory): remove the link, or put the file it points to in its place",
            path.display()
        ))
    } else {
        cannot_io(e, format!("cannot open the {what} {}", path.display()))
    }
}

/// Checks an opened file: a regular file, ours (or root's), not writable by others.
fn check_opened(file: &File, path: &Path, what: &str) -> Result<Metadata> {
    let meta = file.metadata().map_err(|e| cannot_io(e, format!("cannot read the {what} {}", path.display())))?;
    if !meta.is_file() {
        return Err(cannot(format!(
            "refusing to use the {what} {}: it is not a regular file; remove it or move it away",
            path.display()
        )));
    }
    if let Some(why) = untrusted(&meta, path, what) {
        return Err(cannot(why));
    }
    Ok(meta)
}

/// Opens an existing file of ours for reading: no link followed, not a FIFO or device, ours
/// and not writable by others. `Ok(None)` when it does not exist.
pub fn open_read(path: &Path, what: &str) -> Result<Option<(File, Metadata)>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_error(e, path, what)),
    };
    let meta = check_opened(&file, path, what)?;
    Ok(Some((file, meta)))
}

/// Reads a whole file of ours (see [`open_read`]) into memory: unlike a map, a file changed or
/// truncated meanwhile can never fault. `Ok(None)` when it does not exist.
pub fn read(path: &Path, what: &str) -> Result<Option<Vec<u8>>> {
    let Some((mut file, meta)) = open_read(path, what)? else { return Ok(None) };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(|e| cannot_io(e, format!("cannot read the {what} {}", path.display())))?;
    Ok(Some(bytes))
}

/// Maps a file of ours read-only (see [`open_read`]). `Ok(None)` when it does not exist; an
/// error when it is empty.
///
/// A map faults (SIGBUS) if the file is truncated in place while mapped (`cp backup FILE`);
/// spamfilt never does that itself, and the binary's SIGBUS handler (src/main.rs) turns it
/// into a pass-through of the message for the filter and a clear error for other commands.
pub fn map(path: &Path, what: &str) -> Result<Option<memmap2::Mmap>> {
    let Some((file, meta)) = open_read(path, what)? else { return Ok(None) };
    if meta.len() == 0 {
        bail!("the {what} {} is corrupt: it is empty", path.display());
    }
    // SAFETY: a read-only private view; writers never modify our files in place (they replace
    // them by rename). A file truncated by someone else faults on access, which the binary's
    // SIGBUS handler turns into a pass-through or a clear error (see above).
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| cannot_io(e, format!("cannot map the {what} {}", path.display())))?;
    Ok(Some(map))
}

/// The most spamfilt reads of a config file (`config.toml`, the site-wide one): 1 MiB. A real
/// one, with hundreds of custom rules, is a few KiB; a bound keeps a planted huge file (or a
/// link to a device) from costing every delivery its time and memory.
pub const CONFIG_CAP: u64 = 1 << 20;
/// The most spamfilt reads of an allow or block list, a URI blocklist or the policy service's
/// recipients file: 32 MiB (a million entries of 30 bytes; a 100,000-entry list is 3 MB).
pub const LIST_CAP: u64 = 32 << 20;
/// The most spamfilt reads of a password file (`[store] password_file`): 64 KiB.
pub const SECRET_CAP: u64 = 64 << 10;
/// The most spamfilt reads of one message file when training or purging: 256 MiB, above any
/// mail server's message size limit (Postfix's `message_size_limit` is 10 MB by default, the
/// large providers' 25-50 MB); the filter itself reads what it is given on standard input.
pub const MESSAGE_CAP: u64 = 256 << 20;
/// The most read from a pipe named on the command line (an mbox through `<(zcat ...)`): held
/// in memory whole, as an mbox file is.
pub const PIPE_CAP: u64 = 1 << 30;

/// Whether [`read_capped`] follows a symbolic link at `path`'s last component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed (a config or list file kept elsewhere by a dotfile manager); what it points to
    /// is checked as the file itself would be.
    Follow,
    /// Refused: a message file inside a folder spamfilt listed.
    Refuse,
}

/// The kind of a file that is not a regular one, for messages.
fn kind(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// "1 MiB", "64 KiB": a cap for messages.
pub fn size_text(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A file opened as [`read_capped`] opens it: without blocking (`O_NONBLOCK`, cleared once
/// the file is known to be a regular one), a link at the last component followed or refused
/// as `links` says, and checked with `fstat` to be a regular file of at most `cap` bytes. The
/// error keeps the I/O error's kind (`NotFound` for a missing file) and otherwise says what is
/// wrong: "not a regular file (a FIFO)", "a symbolic link", "larger than 1 MiB".
pub fn open_capped(path: &Path, cap: u64, links: Links) -> std::io::Result<(File, Metadata)> {
    use std::io::{Error, ErrorKind};
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(f) => f,
        Err(e) if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::other("it is a symbolic link (not followed here)"))
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    // `/dev/null` (or a link to it) reads as an empty file: `--config /dev/null` for none.
    let null = {
        use std::os::unix::fs::FileTypeExt;
        meta.file_type().is_char_device() && meta.rdev() == libc::makedev(1, 3)
    };
    if !meta.is_file() && !null {
        return Err(Error::other(format!("not a regular file ({})", kind(&meta))));
    }
    if meta.len() > cap {
        return Err(Error::new(
            ErrorKind::FileTooLarge,
            format!("too large: {} bytes, more than the {} spamfilt reads of such a file", meta.len(), size_text(cap)),
        ));
    }
    // Blocking reads again: a regular file never blocks, but some file systems refuse a
    // non-blocking read under a lock instead of waiting for it.
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    #[allow(unsafe_code)]
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok((file, meta))
}

/// Reads the whole file at `path` if it is a regular file of at most `cap` bytes (see
/// [`open_capped`]): never blocks on a FIFO, never reads a device, and reads at most `cap`
/// bytes even from a file that grows meanwhile. What every config, list and message file
/// spamfilt reads goes through.
pub fn read_capped(path: &Path, cap: u64, links: Links) -> std::io::Result<Vec<u8>> {
    let (file, meta) = open_capped(path, cap, links)?;
    read_opened(file, meta.len(), cap)
}

/// Reads an opened file of `len` bytes (as its `fstat` said), at most `cap`: one more byte is
/// a "too large" error.
pub fn read_opened(file: File, len: u64, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(cap)).unwrap_or(0).saturating_add(1));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("too large: it grew past the {} spamfilt reads of such a file", size_text(cap)),
        ));
    }
    Ok(bytes)
}

/// Reads a message file listed in a folder as `listed` (its `lstat` then): no link followed, a
/// regular file, at most [`MESSAGE_CAP`] bytes, and still the file that was listed (device and
/// inode). `Ok(None)` when it is gone or another regular file was put in its place meanwhile;
/// an error naming what it is when it is anything else (a link, a FIFO, a device: never
/// waited on, never read) or too large. What was read is the file `listed`, so
/// [`remove_if_same`]`(path, listed)` deletes exactly that file.
pub fn read_listed(path: &Path, listed: &Metadata) -> std::io::Result<Option<Vec<u8>>> {
    let (file, meta) = match open_capped(path, MESSAGE_CAP, Links::Refuse) {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if meta.dev() != listed.dev() || meta.ino() != listed.ino() {
        return Ok(None);
    }
    read_opened(file, meta.len(), MESSAGE_CAP).map(Some)
}

/// [`read_capped`] as UTF-8 text, following a link: files whose mode says nothing of how mail is
/// filtered (an @LIST of paths, SpamAssassin's files read by `import-sa`, a list `list` edits);
/// what the filter reads as its settings goes through [`read_setting`].
pub fn read_text(path: &Path, cap: u64) -> std::io::Result<String> {
    let bytes = read_capped(path, cap, Links::Follow)?;
    utf8(bytes)
}

fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// [`read_text`] of a file that says how mail is filtered (the config file, the allow and
/// block lists, the URI blocklist, the Redis password file, the policy service's recipients):
/// refused when every user can write it (the file a link leads to, as `fstat` sees it). Anyone
/// on the machine could otherwise allow their own spam, block a correspondent or change the
/// threshold; procmail refuses a world-writable rcfile for the same reason. So is one in a
/// directory every user can write that is not sticky ([`replaceable_dir`]): anyone could
/// replace it there. Group-writable is allowed: a shared configuration kept by a group of
/// admins.
pub fn read_setting(path: &Path, cap: u64) -> std::io::Result<String> {
    let (file, meta) = open_capped(path, cap, Links::Follow)?;
    if meta.is_file() && meta.mode() & 0o002 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "every user can write it (mode {:04o}), so anyone on this machine could change how your mail is \
                 filtered; fix it with: chmod o-w {}",
                meta.mode() & 0o7777,
                path.display()
            ),
        ));
    }
    if let Some((dir, mode)) = replaceable_dir(path) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "every user can write the directory that holds it, {} (mode {mode:04o}), so anyone on this machine \
                 could put a file of their own in its place and change how your mail is filtered; fix it with: \
                 chmod o-w {}",
                dir.display(),
                dir.display()
            ),
        ));
    }
    utf8(read_opened(file, meta.len(), cap)?)
}

/// The directory holding `path` (as named, or the file a link leads to) in which every user
/// may replace it, with its mode: writable by others and not sticky (a sticky one, as /tmp,
/// lets others remove only their own files). A config directory at mode 0777 (an archive
/// unpacked at `umask 0` leaves its directories so, as it leaves its files 0666) let anyone
/// put an `allow.txt` of their own at mode 0644 there: the file's mode alone said nothing.
fn replaceable_dir(path: &Path) -> Option<(PathBuf, u32)> {
    let named = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Where a link leads (a file that is no link is in `named`, whatever links lead to that).
    let link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = link.then(|| fs::canonicalize(path).ok()?.parent().map(Path::to_path_buf)).flatten();
    std::iter::once(named).chain(target).find_map(|dir| {
        let mode = fs::metadata(&dir).ok()?.mode();
        (mode & 0o1002 == 0o002).then_some((dir, mode & 0o7777))
    })
}

/// Opens (creating, 0600) a file that is written in place: a lock file, or an append-only log
/// (`append`). No link followed; it must be ours and private.
pub fn open_write(path: &Path, what: &str, append: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(false);
    }
    let file = o.open(path).map_err(|e| open_error(e, path, what))?;
    check_opened(&file, path, what)?;
    Ok(file)
}

/// 16 hex digits from the kernel's random source: temporary names nobody can guess.
pub fn random_suffix() -> String {
    let n = getrandom::u64().unwrap_or_else(|_| {
        // No getrandom (a very old kernel): hash what differs between runs with std's
        // randomly keyed hasher.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.finish()
    });
    format!("{n:016x}")
}

/// A new file written aside (`NAME.tmp-RANDOM` in the target's directory, created exclusively,
/// 0600, no link followed) and renamed over `NAME` by [`TempFile::commit`]. Dropped without a
/// commit, it is removed.
pub struct TempFile {
    file: File,
    path: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates the temporary file for `dir/name`. The caller has checked `dir`.
    pub fn new(dir: &Path, name: impl AsRef<std::ffi::OsStr>) -> Result<TempFile> {
        let name = name.as_ref();
        let target = dir.join(name);
        for _ in 0..8 {
            let mut tmp_name = name.to_os_string();
            tmp_name.push(format!(".tmp-{}", random_suffix()));
            let path = dir.join(tmp_name);
            // Readable too: a writer may read back what it wrote (`reputation::stream`).
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(file) => return Ok(TempFile { file, path, target, dir: dir.to_path_buf(), committed: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        }
        bail!("cannot create a temporary file for {}: every name tried exists", target.display())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Flushes and fsyncs the file (not yet renamed).
    pub fn sync(&mut self) -> Result<()> {
        self.file.flush().with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.sync_all().with_context(|| format!("cannot sync {}", self.path.display()))
    }

    /// Leaves the file where it is, not renamed and no longer removed when dropped: a commit
    /// record names it now (see `store::commit`).
    pub fn keep(mut self) -> PathBuf {
        self.committed = true;
        std::mem::take(&mut self.path)
    }

    /// fsyncs the file, renames it over the target (a link there is replaced, not followed) and
    /// fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        self.sync()?;
        #[cfg(test)]
        let fail = FAIL_COMMIT.with(|f| f.get()).filter(|(n, _)| self.target.file_name() == Some(n.as_ref()));
        #[cfg(test)]
        if let Some((_, false)) = fail {
            FAIL_COMMIT.with(|f| f.set(None));
            bail!("test: cannot replace {}", self.target.display());
        }
        fs::rename(&self.path, &self.target).with_context(|| format!("cannot replace {}", self.target.display()))?;
        self.committed = true;
        #[cfg(test)]
        if fail.is_some() {
            FAIL_COMMIT.with(|f| f.set(None));
            bail!("test: cannot sync the directory {}", self.dir.display());
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync the directory {}", self.dir.display()))?;
        Ok(())
    }
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
thread_local! {
    /// For the unit tests: the next [`TempFile::commit`] on this thread of a file of this name
    /// fails before its rename (`false`) or after it (`true`, as the directory's fsync failing
    /// there, an I/O error, would).
    pub(crate) static FAIL_COMMIT: std::cell::Cell<Option<(&'static str, bool)>> =
        const { std::cell::Cell::new(None) };
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `dir/name` atomically: aside ([`TempFile`]), fsync, rename over, fsync the
/// directory. The directory is checked first (see [`check_dir`]). On failure the old file is
/// untouched and the temporary file removed.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    write_atomic_parts(dir, name, &[bytes])
}

/// [`write_atomic`] of a file made of `parts`, one after the other.
pub fn write_atomic_parts(dir: &Path, name: &str, parts: &[&[u8]]) -> Result<()> {
    check_dir(dir)?;
    let mut tmp = TempFile::new(dir, name)?;
    let path = tmp.path().to_path_buf();
    for part in parts {
        tmp.file().write_all(part).with_context(|| format!("cannot write {}", path.display()))?;
    }
    tmp.commit()
}

/// Removes `path` if it is still the file described by `created` (same device and inode, a
/// regular file, not a link): only ever what spamfilt itself created and checked. `Ok(false)`
/// when it is gone or was replaced (then it is left alone).
pub fn remove_if_same(path: &Path, created: &Metadata) -> Result<bool> {
    let now = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !now.file_type().is_file() || now.dev() != created.dev() || now.ino() != created.ino() {
        return Ok(false);
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}

/// A temporary directory private to the user (mode 0700), as the checks here want the database
/// directory: for the tests of the store's files.
#[cfg(test)]
pub(crate) fn private_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

/// The largest file a [`Replaced`] maps; a larger one is read with `pread`.
pub const MAP_AT_MOST: u64 = 16 << 20;

/// A database file a writer replaces (`tokens.db`, `reputation.db`), open where its records
/// are, not loaded: a run reads what it touches, and streams the rest into the new file.
///
/// A small file is mapped: a run of many messages looks up many records, and a lookup in a map
/// costs no system call. A large one (over [`MAP_AT_MOST`]) is read with `pread`: a map takes
/// address space as large as the file (a process limit such as Dovecot's `vsz_limit` then
/// leaves less for the rest: on a 122 MB `tokens.db` under 180 MB the run failed where `pread`
/// needs 16 MB), and the pages its lookups touch (and the kernel maps around them) count in the
/// resident size: 60 MB for one message on that file.
pub struct Replaced {
    pub path: PathBuf,
    pub file: File,
    /// The file mapped when it is small (`None`: each read is a `pread`).
    pub(crate) map: Option<memmap2::Mmap>,
    /// What the file is, for errors ("token database").
    what: &'static str,
}

impl Replaced {
    /// `file` (opened by [`open_read`], `len` bytes long) at `path`, mapped if small.
    pub fn new(path: &Path, file: File, len: u64, what: &'static str) -> Replaced {
        let map = if len <= MAP_AT_MOST && len > 0 {
            // SAFETY: a read-only view; writers never modify the file in place (they replace
            // it by rename, and this one holds the lock). A file truncated by someone else
            // faults on access, which the binary's SIGBUS handler turns into a clear error.
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file) };
            map.ok().filter(|m| m.len() as u64 == len)
        } else {
            None
        };
        Replaced { path: path.to_path_buf(), file, map, what }
    }

    /// `cannot read the token database PATH: …`.
    pub fn read_error(&self, e: std::io::Error) -> anyhow::Error {
        cannot_io(e, format!("cannot read the {} {}", self.what, self.path.display()))
    }

    /// Exactly `buf.len()` bytes at `offset`, from the map or with `pread`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        use std::os::unix::fs::FileExt;
        if let Some(m) = &self.map {
            let at = usize::try_from(offset).unwrap_or(usize::MAX);
            match at.checked_add(buf.len()).and_then(|end| m.get(at..end)) {
                Some(b) => buf.copy_from_slice(b),
                None => anyhow::bail!("the {} {} is shorter than its header says", self.what, self.path.display()),
            }
            return Ok(());
        }
        self.file.read_exact_at(buf, offset).map_err(|e| self.read_error(e))
    }

    /// A buffered reader of the file from `offset` (positional reads: several can read the one
    /// file at once).
    pub fn reader(&self, offset: u64) -> std::io::BufReader<Positioned<'_>> {
        std::io::BufReader::with_capacity(1 << 20, Positioned::new(&self.file, offset))
    }
}

/// Reads a file from a position of its own (`pread`), not the file's shared offset.
pub struct Positioned<'a> {
    file: &'a File,
    pos: u64,
}

impl<'a> Positioned<'a> {
    pub fn new(file: &'a File, pos: u64) -> Positioned<'a> {
        Positioned { file, pos }
    }
}

impl Read for Positioned<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, PermissionsExt};

    use super::*;

    #[test]
    fn links_are_never_followed() {
        let d = private_dir();
        let victim = d.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).unwrap();
        let link = d.path().join("tokens.db");
        symlink(&victim, &link).unwrap();
        let err = format!("{:#}", open_read(&link, "token database").unwrap_err());
        assert!(err.contains("symbolic link"), "{err}");
        assert!(format!("{:#}", map(&link, "x").unwrap_err()).contains("symbolic link"));
        assert!(format!("{:#}", open_write(&link, "lock file", false).unwrap_err()).contains("symbolic link"));
        assert!(format!("{:#}", open_write(&link, "journal", true).unwrap_err()).contains("symbolic link"));
        // Replacing the link replaces the link, not its target.
        write_atomic(d.path(), "tokens.db", b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(!fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&link).unwrap(), b"new");
        // A linked subdirectory is refused.
        let elsewhere = private_dir();
        symlink(elsewhere.path(), d.path().join("queue")).unwrap();
        assert!(format!("{:#}", ensure_subdir(d.path(), "queue").unwrap_err()).contains("symbolic link"));
    }

    #[test]
    fn files_that_cannot_be_opened_are_told_from_damaged_ones() {
        let d = private_dir();
        let link = d.path().join("tokens.db");
        symlink(d.path().join("elsewhere"), &link).unwrap();
        // Still known as such under the contexts a caller adds.
        let e = open_read(&link, "token database").unwrap_err().context("training failed").context("outer");
        assert!(cannot_use(&e) && !permission_denied(&e), "{e:#}");
        fs::remove_file(&link).unwrap();
        fs::create_dir(&link).unwrap();
        assert!(cannot_use(&read(&link, "token database").unwrap_err()));
        let io = std::io::Error::from_raw_os_error(libc::EACCES);
        let e = open_error(io, &link, "token database").context("outer");
        assert!(cannot_use(&e) && permission_denied(&e));
        assert!(fix_for(&e, &link).contains(&format!("chmod u+rw {}", link.display())));
        // The filter's X-Spam-Degraded shows the cause alone, as before.
        assert_eq!(e.root_cause().to_string(), "Permission denied (os error 13)");
        // An empty file was read and found to be no database: damage, not this.
        let empty = d.path().join("empty");
        fs::write(&empty, b"").unwrap();
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!cannot_use(&map(&empty, "token database").unwrap_err()));
    }

    #[test]
    fn temporary_names_are_unpredictable_and_exclusive() {
        let d = private_dir();
        let a = TempFile::new(d.path(), "tokens.db").unwrap();
        let b = TempFile::new(d.path(), "tokens.db").unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        let suffix = name.strip_prefix("tokens.db.tmp-").unwrap();
        assert_eq!(suffix.len(), 16);
        assert_ne!(suffix, format!("{:016x}", std::process::id()));
        let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
        drop(a);
        assert!(!pa.exists(), "an uncommitted temporary file is removed");
        b.commit().unwrap();
        assert!(!pb.exists());
        assert_eq!(fs::metadata(d.path().join("tokens.db")).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn directories_and_files_others_can_write_are_refused() {
        // The checks look at mode bits, so they hold when the tests run as root too.
        let d = private_dir();
        assert!(check_dir(d.path()).unwrap());
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let err = format!("{:#}", check_dir(d.path()).unwrap_err());
        assert!(err.contains("chmod go-w") && err.contains(&d.path().display().to_string()), "{err}");
        assert!(write_atomic(d.path(), "x", b"x").is_err());
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_dir(d.path()).unwrap());
        let f = d.path().join("tokens.db");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(format!("{:#}", open_read(&f, "token database").unwrap_err()).contains("chmod go-w"));
        assert!(!check_dir(&d.path().join("missing")).unwrap());
        assert!(open_read(&d.path().join("missing"), "x").unwrap().is_none());
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let d = private_dir();
        let fifo = d.path().join("tokens.db");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !status.is_ok_and(|s| s.success()) {
            return; // no mkfifo here
        }
        fs::set_permissions(&fifo, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(format!("{:#}", open_read(&fifo, "token database").unwrap_err()).contains("not a regular file"));
    }

    #[test]
    fn only_the_file_we_made_is_removed() {
        let d = private_dir();
        let p = d.path().join("spam-1");
        fs::write(&p, b"a").unwrap();
        let meta = fs::symlink_metadata(&p).unwrap();
        fs::remove_file(&p).unwrap();
        fs::write(d.path().join("other"), b"b").unwrap();
        symlink(d.path().join("other"), &p).unwrap();
        assert!(!remove_if_same(&p, &meta).unwrap());
        assert!(d.path().join("other").exists());
        fs::remove_file(&p).unwrap();
        fs::write(&p, b"a").unwrap();
        let meta = fs::symlink_metadata(&p).unwrap();
        assert!(remove_if_same(&p, &meta).unwrap());
        assert!(!remove_if_same(&p, &meta).unwrap());
    }
}
