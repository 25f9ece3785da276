//! Helpers shared by the integration tests.
// Each test crate uses part of this module.
#![allow(dead_code)]

pub mod dns;

/// Skips a test that needs what this machine does not give (root, a mount): says so on stderr,
/// and fails under CI (`CI` set), where a skipped test would pass without having run.
pub fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "cannot run under CI: {why}");
    eprintln!("skipped: {why}");
}

/// The binary with `--db DB --config CONFIG`, and nothing in its environment that would point it
/// elsewhere (`SPAMFILT_DB`, `SPAMFILT_CONFIG`, the user's HOME).
pub fn spamfilt_at(db: &std::path::Path, config: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.env_remove("SPAMFILT_DB")
        .env_remove("SPAMFILT_CONFIG")
        .env("HOME", "/nonexistent-home")
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(config);
    c
}

/// A home for the binary in a temporary directory (removed on drop): the configuration in
/// `conf/config.toml` (lists and tables named in it go beside it, in `conf/`) and the database in
/// `db` (not created: the binary makes it). What a test file adds (another file in `conf/`,
/// methods of its own) it adds in an `impl Env` block of its own.
pub struct Env {
    tmp: tempfile::TempDir,
    pub db: std::path::PathBuf,
    pub config: std::path::PathBuf,
}

impl Env {
    pub fn new(config: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("db");
        let config_path = tmp.path().join("conf").join("config.toml");
        std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
        std::fs::write(&config_path, config).unwrap();
        Env { tmp, db, config: config_path }
    }

    /// The temporary directory, for whatever else the test puts there.
    pub fn dir(&self) -> &std::path::Path {
        self.tmp.path()
    }

    /// The binary with this home's `--db` and `--config` (see [`spamfilt_at`]).
    pub fn cmd(&self) -> std::process::Command {
        spamfilt_at(&self.db, &self.config)
    }

    /// Runs the binary with `args` and `stdin`, capturing its output.
    pub fn run(&self, args: &[&str], stdin: &[u8]) -> std::process::Output {
        run_with_stdin(self.cmd().args(args), stdin)
    }

    /// Runs the binary with `args` and no input; asserts it succeeds and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, b"");
        assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

/// Removes every `X-Spam-*` field (with continuation lines) from the header block.
pub fn strip_spam_fields(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    let mut skipping = false;
    for (i, line) in msg.split_inclusive(|&b| b == b'\n').enumerate() {
        if in_header {
            if i == 0 && line.starts_with(b"From ") {
                out.extend_from_slice(line);
                continue;
            }
            if line == b"\n" || line == b"\r\n" {
                in_header = false;
                skipping = false;
            } else if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                skipping = line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"x-spam-");
                if skipping {
                    continue;
                }
            }
        }
        out.extend_from_slice(line);
    }
    out
}

/// Runs a command with `stdin` fed from a thread (so a large input cannot deadlock against a
/// full stdout pipe), capturing stdout and stderr.
pub fn run_with_stdin(cmd: &mut std::process::Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let mut sin = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    out
}

/// Standard base64 of `b` (no line breaks), for building encoded test messages.
pub fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            s.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    s
}

/// Stops a daemon the test started with its own configuration (`/usr/sbin/postfix -c CONF stop`,
/// the same for Dovecot), ignoring failure: for `Drop`, where the test may already be failing.
pub fn stop_daemon(program: &str, conf: &std::path::Path) {
    let _ = std::process::Command::new(program)
        .arg("-c")
        .arg(conf)
        .arg("stop")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
