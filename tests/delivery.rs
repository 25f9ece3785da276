//! The real delivery agents, end to end, with the files in contrib/ (the ones users copy):
//! procmail, maildrop (headers and --exit-code), Dovecot LDA with a Sieve `filter`, IMAPSieve
//! training through a real IMAP session, and the nightly purge from the crontab line.
//!
//! Each test needs its program (Debian packages procmail, maildrop, dovecot-imapd,
//! dovecot-sieve; .ci/install-deps.sh installs them). Without it the test says so and passes,
//! except under CI (env CI set), where a missing program is a failure. The Dovecot tests need
//! root (Dovecot's master process and a mail user other than root).

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HAM: &str = "From: Jan Peeters <jan@klant.be>\nTo: piet@example.nl\nSubject: Vergadering dinsdag\n\
Date: Mon, 23 Nov 2026 10:00:00 +0100\nMessage-ID: <20261123.1@klant.be>\nMIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\n\nDag Piet,\n\nKunnen we dinsdag om tien uur afspreken over de offerte?\n\nGroeten,\nJan\n";

const SPAM: &str = "From: \"service@bank.example\" <win@prize.example>\nTo: undisclosed-recipients:;\n\
Subject: GRATIS LENING, U HEEFT GEWONNEN!!!\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
Gefeliciteerd, u bent de winnaar van onze loterij! Klik hier: http://192.0.2.7/claim\n\
Een lening tegen lage rente, zonder BKR. 100% guaranteed, risk free, act now, limited time.\n";

fn have(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/lib/dovecot")])
                .any(|d| d.join(program).is_file())
        })
        .unwrap_or(false);
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{program} is not installed (run .ci/install-deps.sh)");
        eprintln!("skipped: {program} is not installed (run .ci/install-deps.sh)");
    }
    found
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib").join(rel)
}

/// A home directory with an empty Maildir and spamfilt installed where `cargo install` puts it.
fn home(root: &Path) -> PathBuf {
    let home = root.join("home");
    for d in ["Maildir/cur", "Maildir/new", "Maildir/tmp", ".cargo/bin"] {
        fs::create_dir_all(home.join(d)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_spamfilt"), home.join(".cargo/bin/spamfilt")).unwrap();
    home
}

fn deliver(cmd: &mut Command, msg: &str) -> std::process::Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(msg.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Delivers `msg` with procmail and the rc file `rc`. As root procmail takes HOME from the
/// password file; it is given on the command line.
fn procmail(home: &Path, rc: &Path, msg: &str) -> std::process::Output {
    deliver(
        Command::new("procmail")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("-m")
            .arg(format!("HOME={}", home.display()))
            .arg(rc),
        msg,
    )
}

/// A home for maildrop (`home`) with a Junk folder and the contrib file `file` as its
/// `.mailfilter`; returns the home and the rc file.
fn maildrop_home(root: &Path, file: &str) -> (PathBuf, PathBuf) {
    let home = home(root);
    // maildrop delivers only into folders that exist (an IMAP server creates Junk).
    for d in ["cur", "new", "tmp"] {
        fs::create_dir_all(home.join("Maildir/.Junk").join(d)).unwrap();
    }
    // maildrop sets HOME from the password file; the test points it at its own home by
    // putting one assignment before the file users copy.
    let rc = home.join(".mailfilter");
    let text = format!("HOME=\"{}\"\n{}", home.display(), fs::read_to_string(contrib(file)).unwrap());
    fs::write(&rc, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&rc, fs::Permissions::from_mode(0o600)).unwrap();
    (home, rc)
}

/// Delivers `msg` with maildrop and the rc file `rc`.
fn maildrop(rc: &Path, msg: &str) -> std::process::Output {
    deliver(Command::new("maildrop").env_clear().env("PATH", "/usr/bin:/bin").arg(rc), msg)
}

/// The files in a Maildir folder's new/ and cur/.
fn messages(folder: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = fs::read_dir(folder.join(sub)) {
            for e in rd.flatten() {
                out.push(fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

/// What was delivered, without our X-Spam-* fields and without the one blank line procmail
/// appends to a message (procmail's own behaviour, documented in procmail(1)).
fn delivered_text(m: &[u8]) -> String {
    let t = String::from_utf8_lossy(&common::strip_spam_fields(m)).into_owned();
    match t.strip_suffix("\n\n") {
        Some(x) => format!("{x}\n"),
        None => t,
    }
}

fn assert_arrived(folder: &Path, original: &str, flagged: bool) {
    let msgs = messages(folder);
    assert_eq!(msgs.len(), 1, "expected one message in {}", folder.display());
    assert_eq!(delivered_text(&msgs[0]), original, "message changed apart from X-Spam-* fields");
    let text = String::from_utf8_lossy(&msgs[0]);
    assert_eq!(text.contains("\nX-Spam-Flag: YES\n"), flagged, "{text}");
}

#[test]
fn procmail_files_spam_into_junk_and_never_loses_mail() {
    if !have("procmail") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let home = home(root.path());
    fs::copy(contrib("procmailrc"), home.join(".procmailrc")).unwrap();
    let procmail = |msg: &str| {
        let out = procmail(&home, &home.join(".procmailrc"), msg);
        assert!(out.status.success(), "procmail failed: {}", String::from_utf8_lossy(&out.stderr));
    };
    procmail(HAM);
    procmail(SPAM);
    assert_arrived(&home.join("Maildir"), HAM, false);
    assert_arrived(&home.join("Maildir/.Junk"), SPAM, true);
    let inbox_status = String::from_utf8_lossy(&messages(&home.join("Maildir"))[0]).into_owned();
    assert!(inbox_status.contains("X-Spam-Status: No, score="), "{inbox_status}");

    // A corrupt database: the message is still scored (rules and the starter table), filed, and
    // marked as scored without the database.
    let db = home.join(".local/share/spamfilt");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("tokens.db"), b"this is not a token database").unwrap();
    for d in ["Maildir/new", "Maildir/.Junk/new"] {
        for e in fs::read_dir(home.join(d)).unwrap().flatten() {
            fs::remove_file(e.path()).unwrap();
        }
    }
    procmail(SPAM);
    assert!(messages(&home.join("Maildir")).is_empty());
    let msgs = messages(&home.join("Maildir/.Junk"));
    assert_eq!(msgs.len(), 1);
    assert_eq!(delivered_text(&msgs[0]), SPAM, "with a corrupt database nothing but our fields is added");
    let text = String::from_utf8_lossy(&msgs[0]).into_owned();
    assert!(text.contains("SPAMFILT_DEGRADED") && text.contains("X-Spam-Degraded: tokens.db: "), "{text}");

    // The database directory is a file (unreadable): still delivered.
    fs::remove_dir_all(home.join(".local/share/spamfilt")).unwrap();
    fs::write(home.join(".local/share/spamfilt"), b"").unwrap();
    procmail(HAM);
    let msgs = messages(&home.join("Maildir"));
    assert_eq!(msgs.len(), 1);
    assert_eq!(delivered_text(&msgs[0]), HAM);
    assert!(String::from_utf8_lossy(&msgs[0]).contains("SPAMFILT_DEGRADED"));
}

#[test]
fn maildrop_with_headers_and_with_exit_code() {
    if !have("maildrop") {
        return;
    }
    for (file, adds_headers) in [("mailfilter", true), ("mailfilter-exit-code", false)] {
        let root = tempfile::tempdir().unwrap();
        let (home, rc) = maildrop_home(root.path(), file);
        for msg in [HAM, SPAM] {
            let out = maildrop(&rc, msg);
            assert!(out.status.success(), "maildrop {file} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        if adds_headers {
            assert_arrived(&home.join("Maildir"), HAM, false);
            assert_arrived(&home.join("Maildir/.Junk"), SPAM, true);
        } else {
            assert_eq!(messages(&home.join("Maildir")), vec![HAM.as_bytes().to_vec()]);
            assert_eq!(messages(&home.join("Maildir/.Junk")), vec![SPAM.as_bytes().to_vec()]);
        }
    }
}

#[test]
fn cron_purge_learns_old_junk_as_spam_and_deletes_it() {
    let root = tempfile::tempdir().unwrap();
    let home = home(root.path());
    let junk = home.join("Maildir/.Junk");
    for d in ["cur", "new", "tmp"] {
        fs::create_dir_all(junk.join(d)).unwrap();
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let old = now - 20 * 86400;
    let spam2 = SPAM.replace("GEWONNEN", "GEWONNEN NOG EENS");
    fs::write(junk.join(format!("cur/{old}.M1P1.host:2,S")), SPAM).unwrap();
    fs::write(junk.join(format!("cur/{}.M2P2.host:2,S", old + 1)), &spam2).unwrap();
    fs::write(junk.join(format!("cur/{}.M3P3.host:2,S", old + 2)), HAM).unwrap();
    fs::write(junk.join(format!("new/{}.M4P4.host", now - 3600)), SPAM.replace("lening", "krediet")).unwrap();
    let spamfilt = |args: &[&str]| {
        Command::new(home.join(".cargo/bin/spamfilt")).env_clear().env("HOME", &home).args(args).output().unwrap()
    };
    // The user once moved the third message out of Junk and it was learned as ham.
    let ham_path = junk.join(format!("cur/{}.M3P3.host:2,S", old + 2));
    assert!(spamfilt(&["-q", "train", "--ham", ham_path.to_str().unwrap()]).status.success());

    // The crontab, run the way cron runs it: a job is `sh -c COMMAND` in an environment of
    // cron's own (HOME, LOGNAME, SHELL=/bin/sh and PATH=/usr/bin:/bin) plus the crontab's
    // NAME=value lines, taken verbatim (cron expands nothing in them); nothing is inherited.
    let crontab = fs::read_to_string(contrib("crontab")).unwrap();
    let mut env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        ("LOGNAME".into(), "jan".into()),
        ("SHELL".into(), "/bin/sh".into()),
        ("PATH".into(), "/usr/bin:/bin".into()),
        // Not cron's: the files above were written now (their ctime), so only their names can
        // make them old (the test switch; the ctime rule: tests/cli.rs, F18).
        ("SPAMFILT_TEST_AGE_FROM_NAME".into(), "1".into()),
    ];
    let mut jobs = Vec::new();
    for line in crontab.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let first = line.split_whitespace().next().unwrap();
        match first.split_once('=') {
            Some((name, _)) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                let (name, value) = line.split_once('=').unwrap();
                env.retain(|(n, _)| n != name.trim());
                env.push((name.trim().into(), value.trim().trim_matches('"').into()));
            }
            _ => jobs.push(line.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")),
        }
    }
    assert!(jobs.len() >= 2, "the purge and the IP expiry");
    for command in jobs {
        assert!(!command.contains('%'), "cron turns % into a newline: {command}");
        let out = Command::new("/usr/bin/env")
            .arg("-i")
            .args(env.iter().map(|(n, v)| format!("{n}={v}")))
            .args(["sh", "-c", &command])
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.stdout.is_empty(),
            "{command} printed (cron would mail it): {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let left: Vec<String> = ["cur", "new"]
        .iter()
        .flat_map(|d| {
            fs::read_dir(junk.join(d)).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(left.len(), 2, "the ham-trained old message and the new one stay: {left:?}");
    assert!(left.iter().any(|n| n.contains("M3P3")) && left.iter().any(|n| n.contains("M4P4")));
    let stats = String::from_utf8_lossy(&spamfilt(&["db", "stats"]).stdout).into_owned();
    assert!(stats.contains("messages:     1 ham, 2 spam"), "{stats}");
}

/// A Dovecot instance on a loopback port in a temporary directory, stopped on drop.
struct Dovecot {
    root: tempfile::TempDir,
    conf: PathBuf,
    port: u16,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        common::stop_daemon("/usr/sbin/dovecot", &self.conf);
    }
}

fn start_dovecot() -> Option<Dovecot> {
    start_dovecot_with("")
}

/// `start_dovecot` with `extra` lines in dovecot.conf.
fn start_dovecot_with(extra: &str) -> Option<Dovecot> {
    if !have("dovecot") || !have("sievec") || !have("dovecot-lda") {
        return None;
    }
    if !is_root() {
        common::skip("the Dovecot tests need root");
        return None;
    }
    let root = tempfile::tempdir().unwrap();
    let t = root.path();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(t, fs::Permissions::from_mode(0o755)).unwrap();
    let home = home(t);
    let etc = t.join("etc");
    for d in ["sieve", "sieve-filter", "sieve-pipe", "run", "state"] {
        fs::create_dir_all(etc.join(d)).unwrap();
    }
    let etc_s = format!("{}/", etc.display());
    for conf in ["90-spamfilt-filter.conf", "91-spamfilt-imapsieve.conf"] {
        let text = fs::read_to_string(contrib(&format!("dovecot/{conf}"))).unwrap().replace("/etc/dovecot/", &etc_s);
        fs::write(etc.join(conf), text).unwrap();
    }
    for s in ["spamfilt.sieve", "report-spam.sieve", "report-ham.sieve"] {
        fs::copy(contrib(&format!("dovecot/sieve/{s}")), etc.join("sieve").join(s)).unwrap();
    }
    fs::copy(contrib("dovecot/bin/spamfilt-filter"), etc.join("sieve-filter/spamfilt-filter")).unwrap();
    fs::copy(contrib("dovecot/bin/spamfilt-learn"), etc.join("sieve-pipe/spamfilt-learn")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = t.join("dovecot.conf");
    fs::write(
        &conf,
        format!(
            "base_dir = {t}/etc/run\nstate_dir = {t}/etc/state\nlog_path = {t}/dovecot.log\n\
             mail_location = maildir:~/Maildir\nprotocols = imap\nlisten = 127.0.0.1\nssl = no\n\
             auth_mechanisms = plain\ndisable_plaintext_auth = no\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             passdb {{\n  driver = static\n  args = password=secret\n}}\n\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={home}\n}}\n\
             namespace inbox {{\n  inbox = yes\n  mailbox Junk {{\n    special_use = \\Junk\n  }}\n  mailbox Trash {{\n    special_use = \\Trash\n  }}\n  mailbox \"Deleted Messages\" {{\n    special_use = \\Trash\n  }}\n  mailbox Afval {{\n    special_use = \\Trash\n  }}\n}}\n\
             !include {t}/etc/90-spamfilt-filter.conf\n!include {t}/etc/91-spamfilt-imapsieve.conf\n{extra}",
            t = t.display(),
            home = home.display(),
        ),
    )
    .unwrap();
    // Global Sieve scripts are compiled by the administrator (the mail user cannot write there).
    for s in ["spamfilt.sieve", "report-spam.sieve", "report-ham.sieve"] {
        let out = Command::new("sievec").arg("-c").arg(&conf).arg(etc.join("sieve").join(s)).output().unwrap();
        assert!(out.status.success(), "sievec {s}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Command::new("chown").arg("-R").arg("65534:65534").arg(&home).status().unwrap();
    // The daemon keeps any pipe it inherits open: give it none.
    let status = Command::new("/usr/sbin/dovecot")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "dovecot did not start; see {}/dovecot.log", t.display());
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(Dovecot { root, conf, port })
}

fn lda(dc: &Dovecot, msg: &str) {
    let out = deliver(
        Command::new("/usr/lib/dovecot/dovecot-lda")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .arg("-c")
            .arg(&dc.conf)
            .args(["-d", "tester", "-f", "sender@example.org"]),
        msg,
    );
    let log = fs::read_to_string(dc.root.path().join("dovecot.log")).unwrap_or_default();
    assert!(out.status.success(), "dovecot-lda: {}\n{log}", String::from_utf8_lossy(&out.stderr));
}

fn stats(dc: &Dovecot) -> String {
    let home = dc.root.path().join("home");
    // As the mail user: spamfilt refuses a database directory that belongs to someone else,
    // root included (docs/reliability.md).
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_spamfilt")])
        .env_clear()
        .env("HOME", &home)
        .args(["db", "stats"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a Python imaplib script against the test server (login already done as `m`).
fn imap(dc: &Dovecot, script: &str) -> String {
    let code = format!(
        "import imaplib\nm = imaplib.IMAP4('127.0.0.1', {})\nm.login('tester', 'secret')\n{script}\nm.logout()\n",
        dc.port
    );
    let out = Command::new("python3").arg("-c").arg(&code).output().expect("python3");
    assert!(out.status.success(), "imap script failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dovecot_sieve_filter_and_imapsieve_training() {
    let Some(dc) = start_dovecot() else { return };
    let home = dc.root.path().join("home");
    lda(&dc, HAM);
    lda(&dc, SPAM);
    assert_arrived(&home.join("Maildir"), HAM, false);
    assert_arrived(&home.join("Maildir/.Junk"), SPAM, true);

    // Moving the ham into Junk learns it as spam...
    imap(&dc, "m.select('INBOX')\nm.copy('1', 'Junk')\nm.store('1', '+FLAGS', '\\\\Deleted')\nm.expunge()");
    let s = stats(&dc);
    assert!(s.contains("messages:     0 ham, 1 spam"), "{s}");
    // ...and moving it back out moves it to the ham class.
    imap(&dc, "m.select('Junk')\ntyp, d = m.search(None, 'HEADER', 'Subject', 'Vergadering')\nm.copy(d[0].split()[-1], 'INBOX')");
    let s = stats(&dc);
    assert!(s.contains("messages:     1 ham, 0 spam"), "{s}");
    // Deleting from Junk into a trash folder is not a verdict, whatever the folder is called
    // (admin report M4: only one named exactly "Trash" was left out): told by its special-use
    // attribute (\\Trash in the namespace: "Deleted Messages", and "Afval", a name no list
    // holds), or without one by its usual name ("Bin", "INBOX.Trash", "Papierkorb").
    for trash in ["Trash", "\\\"Deleted Messages\\\"", "Afval", "Bin", "INBOX.Trash", "Papierkorb"] {
        imap(
            &dc,
            &format!(
                "m.create('{trash}')\nm.select('Junk')\ntyp, d = m.search(None, 'HEADER', 'Subject', 'GRATIS')\n\
                 typ, r = m.copy(d[0].split()[0], '{trash}')\nassert typ == 'OK', r"
            ),
        );
        let s = stats(&dc);
        assert!(s.contains("messages:     1 ham, 0 spam"), "moved to {trash}: {s}");
    }
    // (The server does give those two the attribute.)
    let listed = imap(&dc, "print(m.list('\"\"', '*'))");
    assert!(listed.contains("\\\\Trash) \".\" Afval"), "{listed}");
    // A move to INBOX after all that still learns ham.
    imap(
        &dc,
        "m.select('Junk')\ntyp, d = m.search(None, 'HEADER', 'Subject', 'GRATIS')\nm.copy(d[0].split()[0], 'INBOX')",
    );
    let s = stats(&dc);
    assert!(s.contains("messages:     2 ham, 0 spam"), "{s}");
}

/// Attack report F18 with a real Dovecot: with `maildir_copy_preserve_filename = yes` an IMAP
/// move keeps the file's name, so an old message moved into Junk today carries its old delivery
/// time there. The nightly purge learned it as spam and deleted it that night (on f1ef768);
/// now the move's ctime counts, and it stays its 10 days.
#[test]
fn dovecot_old_mail_moved_into_junk_today_stays_its_days() {
    let Some(dc) = start_dovecot_with("maildir_copy_preserve_filename = yes\n") else { return };
    let home = dc.root.path().join("home");
    let old = "1700000001.M1P1.host";
    fs::create_dir_all(home.join("Maildir/cur")).unwrap();
    fs::create_dir_all(home.join("Maildir/new")).unwrap();
    fs::write(home.join(format!("Maildir/cur/{old}:2,S")), HAM).unwrap();
    lda(&dc, SPAM); // creates Junk
    Command::new("chown").arg("-R").arg("65534:65534").arg(&home).status().unwrap();
    imap(
        &dc,
        "m.select('INBOX')\ntyp, d = m.search(None, 'HEADER', 'Subject', 'Vergadering')\n\
         m.copy(d[0].split()[0], 'Junk')\nm.store(d[0].split()[0], '+FLAGS', '\\\\Deleted')\nm.expunge()",
    );
    let junk = home.join("Maildir/.Junk/cur");
    let moved: Vec<String> = fs::read_dir(&junk)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(old))
        .collect();
    assert_eq!(moved.len(), 1, "Dovecot kept the name: {:?}", fs::read_dir(&junk).unwrap().collect::<Vec<_>>());
    let purge = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_spamfilt")])
        .env_clear()
        .env("HOME", &home)
        .args(["purge", "--older-than", "10d"])
        .arg(home.join("Maildir/.Junk"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&purge.stdout);
    assert!(purge.status.success(), "{out}{}", String::from_utf8_lossy(&purge.stderr));
    assert!(out.contains("deleted 0 messages older than 10d"), "{out}");
    assert!(junk.join(&moved[0]).exists(), "the purge deleted what came into Junk today");
}

/// procmail exports every variable a recipe assigns, so `SPAMFILT_DB=$SPAMDB` with SPAMDB unset
/// gives spamfilt an empty SPAMFILT_DB. On 7627532 clap refused it ("a value is required for
/// '--db <DIR>'") and every message was delivered without any X-Spam-* field (admin report H2).
/// An empty SPAMFILT_* variable counts as unset: the message is scored with the default
/// database and config.
#[test]
fn procmail_with_empty_spamfilt_variables_still_scores() {
    if !have("procmail") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let home = home(root.path());
    let rc = home.join(".procmailrc");
    let text = format!(
        "SPAMFILT_DB=$SPAMDB\nSPAMFILT_CONFIG=$SPAMCONF\n{}",
        fs::read_to_string(contrib("procmailrc")).unwrap()
    );
    fs::write(&rc, text).unwrap();
    for msg in [HAM, SPAM] {
        let out = procmail(&home, &rc, msg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "procmail failed: {err}");
        assert!(!err.contains("error"), "{err}");
    }
    assert_arrived(&home.join("Maildir"), HAM, false);
    assert_arrived(&home.join("Maildir/.Junk"), SPAM, true);
    let inbox = String::from_utf8_lossy(&messages(&home.join("Maildir"))[0]).into_owned();
    assert!(inbox.contains("X-Spam-Status: No, score="), "{inbox}");
    assert!(!inbox.contains("SPAMFILT_DEGRADED"), "{inbox}");
}

/// Attack report F8: a line of just CR LF in an LF header block ends the header for spamfilt,
/// maildrop and Dovecot, but procmail's header runs to the first empty LF line; forged
/// `X-Spam-*` fields after that line survived, and a procmail recipe matched them as header
/// fields. They are removed there too: the real procmailrc files the spam into Junk, and a
/// recipe that matches the forged verdict never fires.
#[test]
fn procmail_never_sees_forged_fields_after_a_lone_crlf_line() {
    if !have("procmail") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let home = home(root.path());
    let rc = home.join(".procmailrc");
    let text = fs::read_to_string(contrib("procmailrc"))
        .unwrap()
        .replace(":0\n* ^X-Spam-Flag: YES", ":0\n* ^X-Spam-(Status: No|Flag: NO)\n.Forged/\n\n:0\n* ^X-Spam-Flag: YES");
    assert!(text.contains(".Forged/"), "contrib/procmailrc changed: {text}");
    fs::write(&rc, text).unwrap();
    let (head, body) = SPAM.split_once("\n\n").unwrap();
    let forged = format!("{head}\n\r\nX-Spam-Flag: NO\nX-Spam-Status: No, score=-5.0\n\n{body}");
    let out = procmail(&home, &rc, &forged);
    assert!(out.status.success(), "procmail failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(messages(&home.join("Maildir/.Forged")).is_empty(), "procmail matched a forged X-Spam-* field");
    let junk = messages(&home.join("Maildir/.Junk"));
    assert_eq!(junk.len(), 1, "the spam is not in Junk");
    let text = String::from_utf8_lossy(&junk[0]).into_owned();
    // procmail's header ends at the first empty LF line: none of the forged fields is in it, and
    // what every other reader took as the body follows as it came (review R5).
    let (header, rest) = text.split_once("\n\n").unwrap();
    assert!(!header.contains("X-Spam-Flag: NO") && !header.contains("score=-5.0"), "{text}");
    assert!(rest.starts_with(&format!("\r\nX-Spam-Flag: NO\nX-Spam-Status: No, score=-5.0\n\n{body}")), "{text}");
}

/// Review R5: LF fields on top of a message whose own fields, blank line and body are CR LF
/// (what an MDA that adds LF fields to a CR LF file writes). The CR LF blank line ends the header
/// for maildrop, Dovecot and every mail reader; the F8 fix deleted the body's quoted `X-Spam-*`
/// lines. Through procmail and maildrop with the files users copy, the message arrives in the
/// inbox (the quoted `X-Spam-Flag: YES` is no header field to either) and its body is whole.
#[test]
fn a_cr_lf_body_under_lf_fields_arrives_whole() {
    let msg = "Received: from mail.klant.example (mail.klant.example [198.51.100.10])\n\
\tby mx.mijn.example (Postfix) with ESMTP id X1; Thu, 3 Dec 2026 07:00:00 +0000 (UTC)\n\
Delivered-To: jan@mijn.example\nFrom: Piet <piet@klant.example>\r\nTo: jan@mijn.example\r\n\
Subject: why was this marked as spam?\r\nDate: Thu, 3 Dec 2026 07:59:58 +0100\r\nMessage-ID: <q1@klant.example>\r\n";
    let body = "\r\nHi Jan,\r\n\r\nyour filter marked my mail as spam; its header said:\r\n\r\n\
X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=7.1 required=5.0 tests=BAYES_99,\r\n\tHTML_MESSAGE\r\n\r\n\
Can you whitelist me?\r\nPiet\r\n";
    let whole = format!("{msg}{body}");
    let check = |delivered: &[u8], appended: &str| {
        let text = String::from_utf8_lossy(delivered).into_owned();
        assert!(text.starts_with(msg), "{text}");
        // Our fields, the empty LF line that ends procmail's header, then the body as it came.
        assert!(text.ends_with(&format!("\n\n{body}{appended}")), "the body changed: {text:?}");
        let (header, _) = text.split_once("\n\n").unwrap();
        assert!(header.contains("\nX-Spam-Status: No, score=") && !header.contains("X-Spam-Flag"), "{text}");
    };
    if have("procmail") {
        let root = tempfile::tempdir().unwrap();
        let home = home(root.path());
        fs::copy(contrib("procmailrc"), home.join(".procmailrc")).unwrap();
        let out = procmail(&home, &home.join(".procmailrc"), &whole);
        assert!(out.status.success(), "procmail failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(messages(&home.join("Maildir/.Junk")).is_empty(), "procmail filed it as spam");
        let inbox = messages(&home.join("Maildir"));
        assert_eq!(inbox.len(), 1);
        // procmail appends a blank line to a message (procmail(1)).
        check(&inbox[0], "\n");
    }
    if have("maildrop") {
        let root = tempfile::tempdir().unwrap();
        let (home, rc) = maildrop_home(root.path(), "mailfilter");
        let out = maildrop(&rc, &whole);
        assert!(out.status.success(), "maildrop failed: {}", String::from_utf8_lossy(&out.stderr));
        assert!(messages(&home.join("Maildir/.Junk")).is_empty(), "maildrop filed it as spam");
        let inbox = messages(&home.join("Maildir"));
        assert_eq!(inbox.len(), 1);
        check(&inbox[0], "");
    }
}

/// IMAPSieve training fed a message that is not mail (an APPEND of a note into Junk): the
/// failure reaches Dovecot's log, with spamfilt's reason and the script's exit status. Dovecot
/// 2.3 logs what a pipe program writes on standard error ("imap: Error: spamfilt: standard
/// input: not a mail message ..."), so spamfilt-learn must keep writing its errors there (-q
/// leaves out only the summary of a run that worked).
#[test]
fn imapsieve_training_of_non_mail_is_logged() {
    let Some(dc) = start_dovecot() else { return };
    imap(&dc, "m.create('Junk')\nm.append('Junk', None, None, b'just a note, no header at all\\r\\n')");
    let log = fs::read_to_string(dc.root.path().join("dovecot.log")).unwrap_or_default();
    assert!(log.contains("spamfilt: standard input: not a mail message"), "{log}");
    assert!(log.contains("spamfilt-learn") && log.contains("non-zero exit code 2"), "{log}");
    let s = stats(&dc);
    assert!(s.contains("messages:     0 ham, 0 spam"), "{s}");
}
