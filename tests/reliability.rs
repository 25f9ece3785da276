//! Never lose mail, never corrupt the database: hostile inputs through the real filter, forged
//! verdict headers, concurrent filters and trainers on one database, and trainers killed with
//! SIGKILL mid-run. Bounds and figures are in docs/reliability.md.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every hostile input must be filtered within this (debug build, loaded CI machine).
const BOUND: Duration = Duration::from_secs(20);

fn spamfilt(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.env_remove("SPAMFILT_CONFIG").env("HOME", "/nonexistent-home").arg("--db").arg(db);
    c
}

fn filter(db: &Path, input: &[u8]) -> (std::process::ExitStatus, Vec<u8>, Duration) {
    let started = Instant::now();
    let out = common::run_with_stdin(&mut spamfilt(db), input);
    (out.status, out.stdout, started.elapsed())
}

/// The output is the input, or the input with X-Spam-* fields added at the end of its header
/// block (and nothing else changed).
fn assert_preserved(name: &str, input: &[u8], output: &[u8]) {
    if output == input {
        return;
    }
    let pos = (0..output.len())
        .find(|&i| output[i..].starts_with(b"X-Spam-Status: ") && (i == 0 || output[i - 1] == b'\n'))
        .unwrap_or_else(|| panic!("{name}: output differs from the input and has no X-Spam-Status"));
    let mut end = pos;
    // Our fields: X-Spam-Status (maybe folded), X-Spam-Level, maybe X-Spam-Flag.
    let mut lines = output[pos..].split_inclusive(|&b| b == b'\n');
    for line in lines.by_ref() {
        if line.starts_with(b"X-Spam-") || line.starts_with(b"\t") || line.starts_with(b" ") {
            end += line.len();
        } else {
            break;
        }
    }
    let mut rebuilt = output[..pos].to_vec();
    rebuilt.extend_from_slice(&output[end..]);
    assert!(
        rebuilt == input || rebuilt == common::strip_spam_fields(input),
        "{name}: bytes other than the X-Spam-* fields changed"
    );
}

fn hostile_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("only headers", b"Subject: hi\nFrom: a@b.example\n".to_vec()),
        ("no blank line, body-like", b"Subject: hi\nthis is not a header\nnor this\n".to_vec()),
        ("NUL bytes", b"Subject: a\x00b\nFrom: x@y.example\n\nbody\x00\x00with NULs\n".to_vec()),
        ("invalid UTF-8", b"Subject: \xff\xfe\xc3\x28\nFrom: \xe2\x82\n\n\xf0\x28\x8c\xbc body\n".to_vec()),
        ("binary junk", (0..=255u8).cycle().take(100_000).collect()),
        ("bad base64", b"Subject: x\nContent-Transfer-Encoding: base64\n\n!!!!####****\n====\n".to_vec()),
        ("bad quoted-printable", b"Subject: x\nContent-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=4\n".to_vec()),
        ("unknown charset word", b"Subject: =?x-klingon?B?SGVsbG8=?= =?utf-8?Q?=ZZ?=\n\nhi\n".to_vec()),
        ("missing boundary", b"Subject: x\nContent-Type: multipart/mixed\n\n--a\n\nx\n--a--\n".to_vec()),
    ];
    v.push(("CRLF with forged verdicts", b"X-Spam-Flag: YES\r\nx-spam-status: Yes, score=99\r\nSubject: hi\r\nX-SPAM-LEVEL: ****\r\n\tfolded\r\n\r\nhello\r\n".to_vec()));
    let mut long_line = b"Subject: long\n\n".to_vec();
    long_line.extend(std::iter::repeat_n(b'a', 1 << 20));
    long_line.push(b'\n');
    v.push(("a 1 MB line", long_line));
    let mut big = b"Subject: big\nContent-Type: text/plain\n\n".to_vec();
    while big.len() < 50 << 20 {
        big.extend_from_slice(b"lorem ipsum dolor sit amet, gratis lening klik hier http://192.0.2.1/\n");
    }
    v.push(("50 MB message", big));
    let mut parts = b"Subject: parts\nContent-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for i in 0..10_000 {
        parts.extend_from_slice(format!("--b\nContent-Type: text/plain\n\npart {i}\n").as_bytes());
    }
    parts.extend_from_slice(b"--b--\n");
    v.push(("10,000 MIME parts", parts));
    let mut nested = b"Subject: nested\nContent-Type: multipart/mixed; boundary=b0\n\n".to_vec();
    for i in 0..1000 {
        nested.extend_from_slice(format!("--b{i}\nContent-Type: multipart/mixed; boundary=b{}\n\n", i + 1).as_bytes());
    }
    nested.extend_from_slice(b"--b1000\nContent-Type: text/plain\n\ndeep\n");
    v.push(("multipart nested 1,000 deep", nested));
    let mut tags = b"Subject: tags\nContent-Type: text/html\n\n".to_vec();
    for _ in 0..100_000 {
        tags.extend_from_slice(b"<div><b><i>x");
    }
    v.push(("100,000 unclosed tags", tags));
    let mut headers = Vec::new();
    for i in 0..100_000 {
        headers.extend_from_slice(format!("X-Header-{i}: value {i}\n").as_bytes());
    }
    headers.extend_from_slice(b"\nbody\n");
    v.push(("100,000 header lines", headers));
    v
}

#[test]
fn hostile_inputs_pass_through_exit_0_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    for (name, input) in hostile_inputs() {
        let (status, output, took) = filter(&db, &input);
        assert!(status.success(), "{name}: exit status {status}");
        assert!(took < BOUND, "{name}: took {took:?}");
        assert_preserved(name, &input, &output);
    }
}

#[test]
fn forged_verdict_headers_never_survive_or_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let clean = b"Subject: Lunch\nFrom: Jan <jan@klant.be>\nTo: p@example.nl\nDate: Mon, 23 Nov 2026 10:00:00 +0100\nMessage-ID: <1@klant.be>\n\nSee you at noon.\n";
    let (_, plain, _) = filter(&db, clean);
    let plain_status =
        String::from_utf8_lossy(&plain).lines().find(|l| l.starts_with("X-Spam-Status")).unwrap().to_string();
    for forged in [
        "X-Spam-Flag: YES\n",
        "x-spam-flag: yes\n",
        "X-SPAM-STATUS: Yes, score=1000.0 required=5.0\n\ttests=FORGED\n",
        "X-Spam-Level: **************\nX-Spam-Flag: YES\nX-Spam-Flag: YES\n",
        "X-Spam-Report: \n folded\n  more\n",
    ] {
        // In the middle of the header block.
        let text = String::from_utf8_lossy(clean).replacen("From:", &format!("{forged}From:"), 1);
        let (status, out, _) = filter(&db, text.as_bytes());
        assert!(status.success());
        let out = String::from_utf8_lossy(&out);
        let head = out.split("\n\n").next().unwrap();
        let ours: Vec<&str> = head.lines().filter(|l| l.to_ascii_lowercase().starts_with("x-spam-")).collect();
        assert_eq!(ours.len(), 2, "only our X-Spam-Status and X-Spam-Level remain: {head}");
        assert!(head.contains(&plain_status), "the forged fields changed the score: {head}");
        assert!(!head.contains("FORGED") && !head.contains("1000") && !head.contains("folded"));
    }
}

fn write_msgs(dir: &Path, n: usize, tag: &str) -> Vec<String> {
    fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("{tag}{i}.eml"));
            fs::write(
                &p,
                format!("Subject: {tag} {i}\nFrom: {tag}{i}@example.org\nMessage-ID: <{tag}.{i}@example.org>\n\n{tag} words number {i} lorem ipsum {tag}{i}\n"),
            )
            .unwrap();
            p.to_string_lossy().into_owned()
        })
        .collect()
}

fn stats(db: &Path) -> String {
    String::from_utf8_lossy(&spamfilt(db).args(["db", "stats"]).output().unwrap().stdout).into_owned()
}

#[test]
fn twenty_filters_two_trainers_and_a_purge_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let hams = write_msgs(&dir.path().join("ham"), 60, "ham");
    let spams = write_msgs(&dir.path().join("spam"), 60, "spam");
    // An empty Junk Maildir for the purge to walk.
    for d in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.path().join("Junk").join(d)).unwrap();
    }
    for round in 0..3 {
        let mut trainers = Vec::new();
        for (class, set) in [("--ham", &hams), ("--spam", &spams)] {
            let part: Vec<String> = set[round * 20..round * 20 + 20].to_vec();
            let mut c = spamfilt(&db);
            c.args(["-q", "train", "--no-progress", class]).args(&part).stdout(Stdio::null());
            trainers.push(c.spawn().unwrap());
        }
        let mut purge = spamfilt(&db);
        purge.arg("-q").arg("purge").arg(dir.path().join("Junk")).stdout(Stdio::null());
        let purge = purge.spawn().unwrap();
        let msg = fs::read(&hams[0]).unwrap();
        let filters: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                let msg = msg.clone();
                std::thread::spawn(move || filter(&db, &msg))
            })
            .collect();
        for f in filters {
            let (status, out, _) = f.join().unwrap();
            assert!(status.success());
            assert_preserved("concurrent filter", &msg, &out);
        }
        for mut t in trainers {
            assert!(t.wait().unwrap().success());
        }
        assert!(purge.wait_with_output().unwrap().status.success());
        let want = format!("messages:     {} ham, {} spam", (round + 1) * 20, (round + 1) * 20);
        assert!(stats(&db).contains(&want), "after round {round}: {}", stats(&db));
    }
}

#[test]
fn trainers_killed_at_random_moments_leave_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let msgs = write_msgs(&dir.path().join("m"), 300, "msg");
    let list = dir.path().join("list");
    fs::write(&list, msgs.join("\n")).unwrap();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut learned_runs = 0;
    for i in 0..50 {
        let before = stats(&db);
        let class = if i % 2 == 0 { "--spam" } else { "--ham" };
        let mut child = spamfilt(&db)
            .args(["-q", "train", "--no-progress", class, &format!("@{}", list.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 60_000));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let after = stats(&db);
        assert!(
            spamfilt(&db).args(["db", "stats"]).output().unwrap().status.success(),
            "run {i}: database does not open"
        );
        let counts = |s: &str| s.lines().find(|l| l.starts_with("messages:")).map(str::to_string);
        if status.success() {
            learned_runs += 1;
        } else if counts(&before) != counts(&after) {
            // Killed: either nothing changed or the whole run landed (all 300 in one class).
            assert!(
                after.contains("messages:     300 ham, 0 spam") || after.contains("messages:     0 ham, 300 spam"),
                "run {i}: partial state\nbefore: {before}\nafter: {after}"
            );
        }
    }
    // No stale lock: a normal run still works.
    let out = spamfilt(&db).args(["-q", "train", "--no-progress", "--ham", &msgs[0]]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{learned_runs} of 50 training runs finished before the kill");
}

/// Messages from relays of their own (the first untrusted relay is what the IP reputation counts).
fn relayed_msgs(dir: &Path, n: usize) -> Vec<String> {
    fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let p = dir.join(format!("r{i}.eml"));
            fs::write(
                &p,
                format!(
                    "Received: from mail{i}.example (mail{i}.example [198.51.100.{i}]) by mx.example.org (Postfix) \
                     with ESMTP id {i}; Thu,  3 Dec 2026 03:00:00 +0100\nFrom: a{i}@example.net\nTo: me@example.org\n\
                     Subject: offer {i}\nMessage-ID: <r{i}@example.net>\n\ncheap pills number {i}\n"
                ),
            )
            .unwrap();
            p.to_string_lossy().into_owned()
        })
        .collect()
}

/// `db dump` with the times (Unix seconds) masked: the runs compared ran seconds apart.
fn dump_masked(db: &Path) -> String {
    let out = spamfilt(db).args(["db", "dump"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    fn mask(w: &str) -> &str {
        if w.len() == 10 && w.bytes().all(|b| b.is_ascii_digit()) {
            "T"
        } else {
            w
        }
    }
    text.lines().map(|l| l.split(' ').map(mask).collect::<Vec<_>>().join(" ") + "\n").collect()
}

/// A `train` killed with SIGKILL after each rename of its commit (the test hook
/// `SPAMFILT_TEST_FAULT=kill-after-rename-N`: 1 the weights, 2 the counts and the ledger, 3 the
/// reputation): the next command that writes completes it, and the database then holds what one
/// whole run learns (the `db dump` of a run never killed), the IP reputation counted once; the
/// same `train` again learns nothing. Before the commit record, a kill after the counts' rename
/// left the IP reputation unlearned for good.
#[test]
fn a_train_killed_between_its_renames_is_completed_by_the_next_writer() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let msgs = relayed_msgs(&dir.path().join("m"), 5);
    let train = |db: &Path, fault: Option<String>| {
        let mut c = spamfilt(db);
        c.args(["train", "--no-progress", "--spam"]).args(&msgs);
        if let Some(f) = fault {
            c.env("SPAMFILT_TEST_FAULT", f);
        }
        c.output().unwrap()
    };
    let whole = dir.path().join("whole");
    assert!(train(&whole, None).status.success());
    let want = dump_masked(&whole);
    assert!(want.contains("\nip 198.51.100.3 T T T 1 0 0 -\n"), "{want}");
    for n in 1..=3 {
        let db = dir.path().join(format!("killed-{n}"));
        let killed = train(&db, Some(format!("kill-after-rename-{n}")));
        assert_eq!(killed.status.signal(), Some(9), "{}", String::from_utf8_lossy(&killed.stderr));
        // Said by `db stats` and `lint` (exit 1) until the next writer completes it.
        let record = db.join("commit").display().to_string();
        assert!(
            stats(&db).contains(&format!("interrupted:  {record}: a write of the database was interrupted")),
            "{}",
            stats(&db)
        );
        let lint = spamfilt(&db).arg("lint").output().unwrap();
        let said = String::from_utf8_lossy(&lint.stdout);
        assert!(
            lint.status.code() == Some(1)
                && said.contains(&format!("{record}: a write of the database was interrupted")),
            "{said}"
        );
        let again = train(&db, None);
        let said = String::from_utf8_lossy(&again.stdout);
        assert!(again.status.success() && said.contains("learned 0 ham and 0 spam; 5 already known"), "{said}");
        assert_eq!(dump_masked(&db), want, "killed after rename {n}");
        let left: Vec<_> = fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-") || n == "commit")
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(!stats(&db).contains("interrupted"), "{}", stats(&db));
        let lint = String::from_utf8_lossy(&spamfilt(&db).arg("lint").output().unwrap().stdout).into_owned();
        assert!(!lint.contains("interrupted"), "{lint}");
    }
}

/// `db load` of a dump without LR weights over a database that has them, killed with SIGKILL
/// after each step of its commit (`SPAMFILT_TEST_FAULT=kill-after-rename-N`: 1 the old weights'
/// removal, 2 the counts and the ledger, 3 the reputation): the next command that writes (here
/// `ip expire`) completes it, and the database is then what a load never killed leaves: the
/// dump's counts and reputation, and no weights. The weights' removal was done after the commit
/// record, outside it: a kill after the counts' rename left the old weights beside the new
/// counts for good (and the load had only two steps, so the kill after a third never came).
#[test]
fn a_load_without_weights_killed_between_its_steps_leaves_no_old_weights() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let msgs = relayed_msgs(&dir.path().join("m"), 5);
    let ham = write_msgs(&dir.path().join("h"), 5, "ham");
    let ok = |c: &mut Command| {
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    // The dump: a database's, with its [lr] section taken out (as one written with LR off).
    let src = dir.path().join("src");
    ok(spamfilt(&src).args(["-q", "train", "--no-progress", "--spam"]).args(&msgs));
    let full = ok(spamfilt(&src).args(["db", "dump"]));
    let (head, tail) = full.split_once("[lr]\n").expect("the source has weights");
    let end = &tail[tail.find("\nend ").unwrap() + 1..];
    let lr_lines = end.split(' ').find_map(|w| w.strip_prefix("lr=")).unwrap().trim();
    let dump = format!("{head}{}", end.replace(&format!("lr={lr_lines}"), "lr=0"));
    let file = dir.path().join("dump.txt");
    fs::write(&file, &dump).unwrap();
    // A database with weights of its own, which the load must not leave behind.
    let with_weights = |db: &Path| {
        ok(spamfilt(db).args(["-q", "train", "--no-progress", "--ham"]).args(&ham));
        assert!(db.join("lr.weights").exists());
    };
    let whole = dir.path().join("whole");
    with_weights(&whole);
    ok(spamfilt(&whole).args(["db", "load", file.to_str().unwrap()]));
    ok(spamfilt(&whole).args(["ip", "expire"]));
    assert!(!whole.join("lr.weights").exists());
    let want = dump_masked(&whole);
    assert!(!want.contains("[lr]") && want.contains("\nip 198.51.100.3 T T T 1 0 0 -\n"), "{want}");
    for n in 1..=3 {
        let db = dir.path().join(format!("killed-{n}"));
        with_weights(&db);
        let killed = spamfilt(&db)
            .args(["db", "load", file.to_str().unwrap()])
            .env("SPAMFILT_TEST_FAULT", format!("kill-after-rename-{n}"))
            .output()
            .unwrap();
        assert_eq!(killed.status.signal(), Some(9), "step {n}: {}", String::from_utf8_lossy(&killed.stderr));
        assert!(stats(&db).contains("interrupted:"), "step {n}: {}", stats(&db));
        ok(spamfilt(&db).args(["ip", "expire"]));
        assert!(!db.join("lr.weights").exists(), "killed after step {n}: the old weights are still there");
        assert_eq!(dump_masked(&db), want, "killed after step {n}");
        let left: Vec<_> = fs::read_dir(&db)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-") || n == "commit")
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// The binary sets up its own process state (src/main.rs): closed standard descriptors change
/// nothing (they are reopened on /dev/null), and a reader that stops reading is an ordinary end,
/// not a death by SIGPIPE (this part fails if main.rs stops ignoring SIGPIPE).
#[test]
fn closed_standard_descriptors_and_a_reader_that_stops() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let msgs = write_msgs(&dir.path().join("m"), 3000, "h");
    let sh = |script: &str| {
        let bin = env!("CARGO_BIN_EXE_spamfilt");
        let out = Command::new("sh").arg("-c").arg(script).arg(bin).arg(&db).arg(&msgs[0]).output().unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Training with standard output and input closed: the ledger and token files get their own
    // descriptors, the summary goes nowhere, and the database is whole.
    let (out, err) = sh(r#""$0" --db "$1" --config /dev/null train --ham "$2" <&- >&-; echo "rc=$?""#);
    assert_eq!(out.trim(), "rc=0", "{err}");
    assert!(stats(&db).contains("1 ham"), "{}", stats(&db));
    // The filter with standard input closed reads an empty message: passed through, exit 0.
    let (out, err) = sh(r#""$0" --db "$1" --config /dev/null <&-; echo "rc=$?""#);
    assert_eq!(out.trim(), "rc=0");
    assert!(err.contains("empty"), "{err}");
    // With standard error closed too, a scored message still comes out whole.
    let (out, _) = sh(r#""$0" --db "$1" --config /dev/null < "$2" 2>&-"#);
    assert!(out.contains("X-Spam-Status: ") && out.contains("lorem ipsum"), "{out}");

    // `check` into a pipe whose reader stops after one line (much more than a pipe buffer of
    // output is pending): exit 0, nothing on stderr.
    let mut child = spamfilt(&db)
        .args(["--config", "/dev/null", "check", &dir.path().join("m").to_string_lossy()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn read_only_database_fails_training_clearly_and_filter_passes_through() {
    if Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false) {
        eprintln!("skipped: root ignores directory permissions");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let m = write_msgs(&dir.path().join("m"), 2, "ro");
    assert!(spamfilt(&db).args(["-q", "train", "--ham", &m[0]]).status().unwrap().success());
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&db, fs::Permissions::from_mode(0o500)).unwrap();
    let out = spamfilt(&db).args(["train", "--spam", &m[1]]).output().unwrap();
    fs::set_permissions(&db, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    assert!(stats(&db).contains("messages:     1 ham, 0 spam"));
}

/// Every input that ever crashed the fuzz target (scripts/fuzz.sh) is kept in
/// tests/fixtures/fuzz/ and must pass through, scored, with nothing else changed.
#[test]
fn fuzz_regressions_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut n = 0;
    for entry in fs::read_dir(&fixtures).unwrap() {
        let path = entry.unwrap().path();
        let input = fs::read(&path).unwrap();
        let (status, output, _) = filter(&db, &input);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(status.success(), "{name}: exit {status:?}");
        assert!(output.windows(15).any(|w| w == b"X-Spam-Status: "), "{name} was not scored");
        assert_preserved(&name, &input, &output);
        n += 1;
    }
    assert!(n >= 1, "no fuzz regression inputs in {}", fixtures.display());
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A 4 MiB tmpfs mounted at DIR/small, and its path; `None` (the test said it is skipped)
/// where it cannot be mounted.
fn small_disk(dir: &Path) -> Option<(Tmpfs, std::path::PathBuf)> {
    let mnt = dir.join("small");
    match if is_root() { Tmpfs::mount(&mnt, "4m") } else { None } {
        Some(guard) => Some((guard, mnt)),
        None => {
            common::skip("cannot mount a small tmpfs here (needs root and permission to mount)");
            None
        }
    }
}

/// Fills the rest of the file system at `mnt` with the file `filler`.
fn fill(mnt: &Path) {
    let mut filler = fs::File::create(mnt.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.sync_all();
}

#[test]
fn disk_full_fails_training_clearly_and_filter_passes_through() {
    let dir = tempfile::tempdir().unwrap();
    let Some((fs_guard, mnt)) = small_disk(dir.path()) else { return };
    let db = mnt.join("db");
    let msgs = write_msgs(&dir.path().join("m"), 40, "full");
    assert!(spamfilt(&db).args(["-q", "train", "--ham", &msgs[0], "--spam", &msgs[1]]).status().unwrap().success());
    let before = stats(&db);
    let db_bytes = fs::read(db.join("tokens.db")).unwrap();
    let lr_bytes = fs::read(db.join("lr.weights")).unwrap();
    fill(&mnt);
    let out = spamfilt(&db).args(["train", "--spam"]).args(&msgs[2..]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "training on a full disk succeeded?");
    assert!(err.contains("No space left on device") && err.contains("unchanged"), "unclear error: {err}");
    // Nothing lost or half-written: the same database, no temporary files left.
    assert_eq!(fs::read(db.join("tokens.db")).unwrap(), db_bytes);
    assert_eq!(fs::read(db.join("lr.weights")).unwrap(), lr_bytes);
    assert_eq!(stats(&db), before);
    let leftovers: Vec<_> = fs::read_dir(&db)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // The filter only reads: mail flows, scored.
    let input = fs::read(&msgs[3]).unwrap();
    let (status, output, _) = filter(&db, &input);
    assert!(status.success());
    assert_preserved("full disk", &input, &output);
    assert!(output.windows(15).any(|w| w == b"X-Spam-Status: "));
    // Space again: training works again.
    fs::remove_file(mnt.join("filler")).unwrap();
    assert!(spamfilt(&db).args(["-q", "train", "--spam"]).args(&msgs[2..]).status().unwrap().success());
    drop(fs_guard);
}

/// `train --queued` on a full disk says only what happened: on fbb856a it printed "learned 3
/// queued messages (honeypot hits): 3 new spam" and then "training failed; the database ... is
/// unchanged: ... No space left on device". Now the summary comes only after the write; the
/// queue stays for the next run, which learns it.
#[test]
fn disk_full_train_queued_does_not_claim_to_have_learned() {
    let dir = tempfile::tempdir().unwrap();
    let Some((fs_guard, mnt)) = small_disk(dir.path()) else { return };
    let db = mnt.join("db");
    let config = dir.path().join("config.toml");
    fs::write(&config, "honeypots = [\"trap@mijn.be\"]\n").unwrap();
    let run = |args: &[&str]| spamfilt(&db).arg("--config").arg(&config).args(args).output().unwrap();
    for i in 1..=3 {
        let msg = format!(
            "Received: from x (x [198.51.100.{i}]) by mx.mijn.be with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\n\
             From: a{i}@spam.example\nTo: trap@mijn.be\nSubject: win {i}\nMessage-ID: <{i}@spam.example>\n\n\
             lottery casino {i}\n"
        );
        let o = common::run_with_stdin(spamfilt(&db).arg("--config").arg(&config), msg.as_bytes());
        assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("HONEYPOT"), "{o:?}");
    }
    let queued = || fs::read_dir(db.join("queue")).unwrap().count();
    assert_eq!(queued(), 3);
    fill(&mnt);
    let o = run(&["train", "--queued"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("No space left on device") && err.contains("unchanged"), "{err}");
    assert!(!err.contains("learned 3 queued") && o.stdout.is_empty(), "{o:?}");
    assert_eq!(queued(), 3, "the queue is kept");
    // Space again: the next run learns them and says so.
    fs::remove_file(mnt.join("filler")).unwrap();
    let o = run(&["train", "--queued"]);
    assert!(o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("learned 3 queued messages (honeypot hits): 3 new spam"),
        "{o:?}"
    );
    assert_eq!(queued(), 0);
    drop(fs_guard);
}

#[test]
fn database_of_another_user_is_a_clear_error_for_train_and_a_degraded_score_for_the_filter() {
    let have_setpriv = Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !is_root() || !have_setpriv {
        common::skip("needs root and setpriv to run as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("db");
    let msgs = write_msgs(&dir.path().join("m"), 4, "other");
    for m in &msgs {
        fs::set_permissions(m, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(dir.path().join("m"), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(spamfilt(&db).args(["-q", "train", "--ham", &msgs[0]]).status().unwrap().success());
    // Created private to its owner (root).
    assert_eq!(fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(fs::metadata(db.join("tokens.db")).unwrap().permissions().mode() & 0o777, 0o600);
    let before = stats(&db);
    let as_nobody = |args: &[&str], stdin: &[u8]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_spamfilt")])
            .env_remove("SPAMFILT_CONFIG")
            .env("HOME", "/nonexistent-home")
            .arg("--db")
            .arg(&db)
            .args(args);
        common::run_with_stdin(&mut c, stdin)
    };
    let out = as_nobody(&["train", "--spam", &msgs[1]], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Permission denied") && err.contains(&db.display().to_string()), "unclear error: {err}");
    assert_eq!(stats(&db), before);
    // The filter, as that user: the message is scored without the database and says so (in
    // the message and on stderr), exit 0, nothing else changed.
    let input = fs::read(&msgs[2]).unwrap();
    let out = as_nobody(&[], &input);
    assert!(out.status.success());
    assert_eq!(common::strip_spam_fields(&out.stdout), input);
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(
        head.contains("SPAMFILT_DEGRADED") && head.contains("X-Spam-Degraded: tokens.db: Permission denied"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
}

/// A token database of `n` random tokens and 1000 messages of each class, written by `db load`.
fn big_database(db: &Path, n: usize) {
    let mut next = {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    };
    let mut dump = String::from("spamfilt-dump 1\nmessages 1000 1000\n");
    for _ in 0..n {
        let (h, c) = (next(), next());
        dump.push_str(&format!("token {h:016x} {} {} 20000\n", c % 50, (c >> 8) % 50));
    }
    let dumpfile = db.with_extension("dump");
    fs::write(&dumpfile, dump).unwrap();
    let out = spamfilt(db).args(["db", "load"]).arg(&dumpfile).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A message of `words` distinct words (many token lookups, and parsing it takes a while).
fn wordy_message(words: usize) -> Vec<u8> {
    let mut m = b"From: a@example.com\nTo: b@example.org\nSubject: a long letter\n\n".to_vec();
    for i in 0..words {
        m.extend_from_slice(format!("word{i}x{} ", i * 7919 % 10007).as_bytes());
        if i % 12 == 11 {
            m.push(b'\n');
        }
    }
    m.push(b'\n');
    m
}

/// Runs the filter on `input`; `during(pid)` runs while it does. Returns status, stdout, stderr.
fn filter_while(db: &Path, input: &[u8], during: impl FnOnce(u32)) -> (std::process::ExitStatus, Vec<u8>, String) {
    use std::io::Read;
    let mut child = spamfilt(db).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut sin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = sin.write_all(&data);
    });
    let mut sout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = sout.read_to_end(&mut v);
        v
    });
    let mut serr = child.stderr.take().unwrap();
    let ereader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = serr.read_to_end(&mut v);
        v
    });
    during(child.id());
    let status = child.wait().unwrap();
    writer.join().unwrap();
    (status, reader.join().unwrap(), String::from_utf8_lossy(&ereader.join().unwrap()).into_owned())
}

/// Issue 15: `cp backup tokens.db` (or `rsync --inplace`, `truncate`) while a delivery has the
/// database mapped made the filter die of SIGBUS with no output. Here the database is truncated
/// in place the moment the filter has mapped it (seen in /proc/PID/maps), long before a message
/// this size is tokenized and looked up: the filter must exit 0 with the message whole.
#[test]
fn a_database_truncated_in_place_mid_delivery_never_kills_the_filter() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    big_database(&db, 200_000);
    let tokens = db.join("tokens.db");
    let full = fs::read(&tokens).unwrap();
    let msg = wordy_message(30_000);
    let mut caught = 0;
    for attempt in 0..6 {
        fs::write(&tokens, &full).unwrap();
        let (status, out, err) = filter_while(&db, &msg, |pid| {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                let Ok(maps) = fs::read_to_string(format!("/proc/{pid}/maps")) else { return };
                if maps.contains("tokens.db") {
                    fs::OpenOptions::new().write(true).open(&tokens).unwrap().set_len(80).unwrap();
                    return;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        assert_eq!(status.signal(), None, "attempt {attempt}: the filter died of a signal; stderr: {err}");
        assert_eq!(status.code(), Some(0), "attempt {attempt}: {err}");
        assert_preserved("truncated database", &msg, &out);
        if err.contains("SIGBUS") {
            assert_eq!(out, msg, "after SIGBUS the message passes through unchanged");
            caught += 1;
            if caught == 2 {
                break;
            }
        }
    }
    assert!(caught >= 1, "the truncation never reached the filter's lookups: the test proved nothing");
    // Another command stops with a clear error instead of dying of the signal.
    fs::write(&tokens, &full).unwrap();
    let file = dir.path().join("m.eml");
    fs::write(&file, &msg).unwrap();
    let child = spamfilt(&db).arg("check").arg(&file).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        match fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(maps) if maps.contains("tokens.db") => {
                fs::OpenOptions::new().write(true).open(&tokens).unwrap().set_len(80).unwrap();
                break;
            }
            Ok(_) => std::thread::sleep(Duration::from_micros(200)),
            Err(_) => break,
        }
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.signal(), None, "check died of a signal");
    if String::from_utf8_lossy(&o.stderr).contains("SIGBUS") {
        assert_eq!(o.status.code(), Some(2));
    }
}

/// The same in the large (scripts/overwrite-stress.py runs 1,000 with the release binary):
/// deliveries while another process keeps overwriting tokens.db in place, as `cp` does
/// (truncate, then write). None may die of a signal; each message comes out whole.
#[test]
fn deliveries_while_the_database_is_overwritten_in_place_in_a_loop() {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    big_database(&db, 100_000);
    let tokens = db.join("tokens.db");
    let full = fs::read(&tokens).unwrap();
    let stop = AtomicBool::new(false);
    let msg = wordy_message(3_000);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&tokens).unwrap();
                for chunk in full.chunks(128 * 1024) {
                    f.write_all(chunk).unwrap();
                }
            }
        });
        // Stops the writer however this ends (a failed assertion too), so the scope can end.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        for i in 0..40 {
            let (status, out, err) = filter_while(&db, &msg, |_| {});
            assert_eq!(status.signal(), None, "delivery {i} died of a signal; stderr: {err}");
            assert_eq!(status.code(), Some(0), "delivery {i}: {err}");
            assert_preserved("overwritten database", &msg, &out);
        }
    });
}

/// Starts the filter on `msg` with `SPAMFILT_TEST_FAULT=fault` (src/in_hand.rs), waits until it
/// says on stderr that it reached the stage the fault names, sends `sig` and returns what it
/// wrote, its status and its stderr. No timing: the filter waits at that stage for the signal.
fn signal_at(
    db: &Path,
    args: &[&str],
    fault: &str,
    sig: i32,
    msg: &[u8],
) -> (std::process::ExitStatus, Vec<u8>, String) {
    use std::io::{BufRead, Read};
    let mut child = spamfilt(db)
        .args(args)
        .env("SPAMFILT_TEST_FAULT", fault)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(msg).unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut err = String::new();
    while !err.contains("spamfilt: test: ") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("{fault}: the filter ended before the test stage; stderr: {err}");
        }
        err.push_str(&line);
    }
    // SAFETY: kill(2) on our own child, which has not been waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    stderr.read_to_string(&mut err).unwrap();
    (child.wait().unwrap(), out, err)
}

/// Attack report F1: SIGTERM (procmail's TIMEOUT, Dovecot's program-client timeouts), SIGHUP,
/// SIGXCPU (a CPU limit), SIGALRM, SIGUSR1... ended the filter with the whole message in hand and
/// nothing written. Now, while it holds the message, each of them writes the message unchanged
/// and exits 0; while it writes the scored message they wait until it is written whole (exit
/// 0, or 1 for spam with --exit-code as without the signal). `SPAMFILT_TEST_FAULT=hold` and
/// `=write` make the filter wait at those two points for the signal (src/in_hand.rs).
#[test]
fn termination_signals_never_kill_a_delivery_with_the_message_in_hand() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let msg = b"From: a@b.example\nTo: c@d.example\nSubject: held\n\nhello there\n".to_vec();
    let scored = common::run_with_stdin(&mut spamfilt(&db), &msg).stdout;
    assert!(String::from_utf8_lossy(&scored).contains("X-Spam-Status:"));
    let signals = [
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGXCPU,
        libc::SIGALRM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGRTMIN(),
    ];
    for sig in signals {
        let (status, out, err) = signal_at(&db, &[], "hold", sig, &msg);
        assert_eq!(status.signal(), None, "signal {sig} while holding killed the filter; stderr: {err}");
        assert_eq!(status.code(), Some(0), "signal {sig}: {err}");
        assert_eq!(out, msg, "signal {sig} while holding: the message passes through unchanged");
        assert!(err.contains(&format!("stopped by signal {sig}; passing the message through")), "{err}");

        let (status, out, err) = signal_at(&db, &["filter"], "write", sig, &msg);
        assert_eq!(status.signal(), None, "signal {sig} while writing killed the filter; stderr: {err}");
        assert_eq!(status.code(), Some(0), "signal {sig} while writing: {err}");
        assert_eq!(out, scored, "signal {sig} while writing: the scored message is written whole");
    }
}

/// Attack report F1: under a file size limit (RLIMIT_FSIZE) a write past it raised SIGXFSZ,
/// which ended the filter with a truncated message behind it. SIGXFSZ is ignored: the write
/// fails (EFBIG) and the filter exits 75, so the delivery agent keeps its copy.
#[test]
fn a_file_size_limit_is_a_failed_write_not_a_death() {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut msg = b"From: a@b.example\nSubject: big\n\n".to_vec();
    msg.extend(std::iter::repeat_n(b"0123456789 abcdefghij\n".as_slice(), 500).flatten());
    let out_path = dir.path().join("out.eml");
    let mut cmd = spamfilt(&db);
    cmd.stdin(Stdio::piped()).stdout(fs::File::create(&out_path).unwrap()).stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&msg).unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), None, "the filter died of a signal; stderr: {err}");
    assert_eq!(o.status.code(), Some(75), "{err}");
    assert!(err.contains("cannot write the message to standard output"), "{err}");
}

/// Issue 15: a stack overflow (SIGSEGV) killed a delivery with no output. The handler runs on a
/// signal stack of its own, so it runs after the main thread's stack overflowed, and passes the
/// message in hand through (exit 0), as for SIGBUS. `SPAMFILT_TEST_FAULT=stack-overflow` makes
/// the filter recurse without end while it holds the message (src/in_hand.rs). Other commands
/// keep the default action: a note, then death by SIGSEGV, as before the handler.
#[test]
fn a_stack_overflow_passes_the_message_through() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let msg = b"From: a@b.example\nSubject: deep\n\nhello\n".to_vec();
    for args in [&[][..], &["filter"][..], &["filter", "--exit-code"][..]] {
        let out = common::run_with_stdin(spamfilt(&db).args(args).env("SPAMFILT_TEST_FAULT", "stack-overflow"), &msg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "{args:?}: the filter died of a signal; stderr: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(out.stdout, msg, "{args:?}: the message passes through unchanged");
        assert!(err.contains("SIGSEGV"), "{args:?}: {err}");
    }
    // Without the switch the same delivery is scored: the switch, not the message, overflowed.
    let out = common::run_with_stdin(&mut spamfilt(&db), &msg);
    assert!(String::from_utf8_lossy(&out.stdout).contains("X-Spam-Status:"));
    // Another command: a note, then the default action (a signal, never a false success).
    let file = dir.path().join("m.eml");
    fs::write(&file, &msg).unwrap();
    let o = spamfilt(&db).arg("check").arg(&file).env("SPAMFILT_TEST_FAULT", "stack-overflow").output().unwrap();
    assert_eq!(o.status.signal(), Some(libc::SIGSEGV), "check: {:?}", o.status);
    assert!(String::from_utf8_lossy(&o.stderr).contains("SIGSEGV"));
    assert!(o.stdout.is_empty());
}

/// Issue 15: 486 KB of base64 holding 12,000 nested message/rfc822 parts made mail-parser
/// recurse past the 8 MiB stack and the delivery died of SIGSEGV; a smaller stack limit needed
/// less (`ulimit -s 1024` and 50,000 plain nested parts). Both are delivered, scored, under a
/// 1 MiB stack limit now.
#[test]
fn deeply_nested_messages_are_scored_under_a_small_stack() {
    use std::os::unix::process::CommandExt;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let level = b"Content-Type: message/rfc822\n\n";
    let mut plain = b"Subject: x\nMIME-Version: 1.0\n".to_vec();
    plain.extend_from_slice(&level.repeat(50_000));
    plain.extend_from_slice(b"Subject: in\n\nhi\n");
    let mut inner = b"Subject: y\nMIME-Version: 1.0\n".to_vec();
    inner.extend_from_slice(&level.repeat(12_000));
    inner.extend_from_slice(b"Subject: in\n\nhi\n");
    let mut encoded =
        b"Subject: x\nMIME-Version: 1.0\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n".to_vec();
    for chunk in inner.chunks(57) {
        encoded.extend_from_slice(common::base64(chunk).as_bytes());
        encoded.push(b'\n');
    }
    for (name, msg) in [("plain", &plain), ("base64", &encoded)] {
        let mut cmd = spamfilt(&db);
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let lim = libc::rlimit { rlim_cur: 1 << 20, rlim_max: libc::RLIM_INFINITY };
                if libc::setrlimit(libc::RLIMIT_STACK, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let out = common::run_with_stdin(&mut cmd, msg);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), None, "{name}: died of a signal; stderr: {err}");
        assert_eq!(out.status.code(), Some(0), "{name}: {err}");
        assert!(!err.contains("SIGSEGV"), "{name}: scored, not rescued by the handler: {err}");
        assert_preserved(name, msg, &out.stdout);
        assert!(out.stdout.len() > msg.len(), "{name}: scored");
    }
}
