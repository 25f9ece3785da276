//! One dump, everything: `db dump` holds the token database, its ledger and the reputation
//! database (IP reputation, manual entries, cached DNS answers, known correspondents), and
//! `db load` restores all of it; version 1 dumps still load. Through the real binary.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

fn run(db: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.env_remove("SPAMFILT_CONFIG").env("HOME", "/nonexistent-home").arg("--db").arg(db).args(args);
    common::run_with_stdin(&mut c, stdin)
}

fn ok(db: &Path, args: &[&str], stdin: &[u8]) -> String {
    let o = run(db, args, stdin);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn spam(i: usize) -> String {
    format!(
        "Received: from relay.example.net (relay.example.net [198.51.100.{i}])\n\tby mx.mijn.be with ESMTP id X{i}; Mon, 1 Jan 2024 10:00:00 +0000\n\
         From: promo{i}@deals.example\nTo: jan@mijn.be\nSubject: winner {i}\nMessage-ID: <s{i}@deals.example>\n\n\
         lottery casino cheap pills {i}\n"
    )
}

const SENT: &str =
    "From: jan@mijn.be\nTo: piet@klant.be\nSubject: offerte\nMessage-ID: <sent1@mijn.be>\n\nDe offerte.\n";

/// Learns `spams` spam messages (`spam(1)` on) and the sent message `SENT` as ham into `db`.
fn learn(db: &Path, spams: usize) {
    for i in 1..=spams {
        ok(db, &["train", "--spam", "-"], spam(i).as_bytes());
    }
    ok(db, &["train", "--ham", "-"], SENT.as_bytes());
}

#[test]
fn dump_and_load_keep_reputation_and_correspondents() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    learn(&a, 3);
    ok(&a, &["ip", "add", "203.0.113.7"], b"");
    let list_a = ok(&a, &["ip", "list"], b"");
    assert!(list_a.contains("198.51.100.1") && list_a.contains("203.0.113.7"), "{list_a}");
    let dump = ok(&a, &["db", "dump"], b"");
    assert!(dump.starts_with("spamfilt-dump 4\n") && dump.contains("\nend tokens="), "{dump}");
    assert!(dump.contains("\n[reputation]\n") && dump.contains("\nip 198.51.100.2 "), "{dump}");
    assert!(dump.contains("\nip 203.0.113.7 ") && dump.contains(" manual\n"), "{dump}");
    assert!(dump.contains("\ncorrespondent piet@klant.be 1 "), "{dump}");
    assert!(dump.contains("\nown jan@mijn.be "), "{dump}");
    // Each spam's From through its relay's /24: a learned sender, learned as spam.
    assert!(dump.contains("\nsender promo2@deals.example 198.51.100.0/24 0 1 "), "{dump}");

    let b = tmp.path().join("b");
    let out = ok(&b, &["db", "load", "-"], dump.as_bytes());
    assert!(out.contains("loaded 9 reputation records"), "{out}");
    // Everything came back: the same dump, the same IP list, and the correspondent still counts.
    assert_eq!(ok(&b, &["db", "dump"], b""), dump);
    assert_eq!(ok(&b, &["ip", "list"], b""), list_a);
    let reply = "From: piet@klant.be\nTo: jan@mijn.be\nSubject: re: offerte\nMessage-ID: <r1@klant.be>\n\nPrima.\n";
    assert!(ok(&b, &["check", "-"], reply.as_bytes()).contains("KNOWN_CORRESPONDENT"));

    // A version 1 dump (tokens only) still loads and leaves reputation.db as it was.
    let v1 = "spamfilt-dump 1\nmessages 1 0\ntoken 0000000000000001 0 1 20000\n";
    let out = ok(&b, &["db", "load", "-"], v1.as_bytes());
    assert!(out.contains("no reputation section"), "{out}");
    assert_eq!(ok(&b, &["ip", "list"], b""), list_a);
    assert!(ok(&b, &["db", "stats"], b"").contains("messages:     1 ham, 0 spam"));

    // A section this version does not know is refused, and nothing changes.
    let future = dump.replace("[reputation]", "[weights]\nw 1 2\n[reputation]");
    let o = run(&b, &["db", "load", "-"], future.as_bytes());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown section [weights]"));
    assert!(ok(&b, &["db", "stats"], b"").contains("messages:     1 ham, 0 spam"));
    let _ = fs::remove_dir_all(&b);
}

/// A dump from a host whose clock was ahead (or a training run while this host's clock was):
/// its token days are in this host's future. Loaded, they are not damage: the filter scores
/// with them (before, every delivery said "token record N is damaged", scored without the
/// database and was marked SPAMFILT_DEGRADED, lint failed and `db salvage` would have dropped
/// every such record), and lint finds nothing.
#[test]
fn token_days_ahead_of_the_clock_are_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    learn(&a, 3);
    let today = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    let dump: String = ok(&a, &["db", "dump"], b"")
        .lines()
        .map(|l| match l.strip_prefix("token ") {
            Some(rest) => {
                let f: Vec<&str> = rest.split(' ').collect();
                format!("token {} {} {} {}\n", f[0], f[1], f[2], today + 30)
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert!(dump.contains(&format!(" {}\n", today + 30)), "{dump}");
    let b = tmp.path().join("b");
    ok(&b, &["db", "load", "-"], dump.as_bytes());
    let o = run(&b, &["filter"], spam(4).as_bytes());
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && err.is_empty(), "{err}");
    assert!(!out.contains("SPAMFILT_DEGRADED") && !out.contains("X-Spam-Degraded"), "{out}");
    let lint = run(&b, &["lint"], b"");
    assert!(!String::from_utf8_lossy(&lint.stdout).contains("damaged"), "{}", String::from_utf8_lossy(&lint.stdout));
}

/// The files of a database directory, by name (what `db load` must leave as it was).
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != "lock")
        .map(|e| (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

/// Admin report M1: `db load` of a dump cut short replaced the database with what was left
/// (exit 0; cut inside `[lr]`, even `lint` found nothing wrong after). Now a dump ends with
/// its end line and counts: a dump cut at any of ~120 offsets (spread over it, and at each
/// section's start and its end line) is refused with the file and the line named, and the
/// database it was to replace is left byte for byte as it was. Older dumps, which have no end
/// line, still load, with a warning that their completeness cannot be checked.
#[test]
fn a_dump_cut_short_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    learn(&a, 6);
    ok(&a, &["ip", "add", "203.0.113.7"], b"");
    let whole = ok(&a, &["db", "dump"], b"");
    for part in ["\n[reputation]\n", "\n[lr]\n", "\nlrw "] {
        assert!(whole.contains(part), "{part}: {whole}");
    }
    // The database the dumps would replace: something else learned.
    let b = tmp.path().join("b");
    ok(&b, &["train", "--ham", "-"], SENT.as_bytes());
    ok(&b, &["ip", "add", "192.0.2.9"], b"");
    let before = files_of(&b);
    assert!(before.iter().any(|(n, _)| n == "tokens.db") && before.iter().any(|(n, _)| n == "lr.weights"));
    let len = whole.len();
    let mut cuts: Vec<usize> = (0..100).map(|k| k * len / 100).collect();
    for part in ["\n[reputation]\n", "\n[lr]\n", "\nend "] {
        if let Some(at) = whole.find(part) {
            cuts.extend([at, at + 1, at + part.len(), at + part.len() + 3]);
        }
    }
    cuts.extend([len - 10, len - 2, len - 1]);
    cuts.sort_unstable();
    cuts.dedup();
    let file = tmp.path().join("cut.txt");
    let mut said = Vec::new();
    for &cut in &cuts {
        fs::write(&file, &whole.as_bytes()[..cut]).unwrap();
        let o = run(&b, &["db", "load", file.to_str().unwrap()], b"");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "cut at {cut} of {len} was loaded: {err}");
        assert!(files_of(&b) == before, "cut at {cut} of {len} changed the database");
        said.push((cut, err));
    }
    for (cut, err) in said.iter().filter(|(cut, _)| *cut > 0) {
        let named = format!("{} is not loaded; the database is unchanged: line ", file.display());
        assert!(err.contains(&named), "cut at {cut}: {err}");
    }
    // Cut between lines: said as such, with the last line's number.
    let at = whole.find("\n[lr]\n").unwrap() + 1;
    fs::write(&file, &whole.as_bytes()[..at]).unwrap();
    let err = String::from_utf8_lossy(&run(&b, &["db", "load", file.to_str().unwrap()], b"").stderr).into_owned();
    let line = whole[..at].lines().count();
    assert!(err.contains(&format!(": line {line}: the dump ends here without its end line")), "{err}");
    // From standard input the same, named as such.
    let o = run(&b, &["db", "load", "-"], &whole.as_bytes()[..at]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("standard input is not loaded; the database is unchanged"));
    assert!(files_of(&b) == before);

    // The whole dump loads, checked, without a warning.
    let o = run(&b, &["db", "load", "-"], whole.as_bytes());
    assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(ok(&b, &["db", "dump"], b""), whole);
    // A version 2 dump (no end line) still loads, with the warning, also with -q.
    let v2 = whole.replacen("spamfilt-dump 4\n", "spamfilt-dump 2\n", 1);
    let v2 = &v2[..v2.rfind("end ").unwrap()];
    let c = tmp.path().join("c");
    let o = run(&c, &["-q", "db", "load", "-"], v2.as_bytes());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning: standard input is a version 2 dump") && err.contains("cannot be checked"), "{err}");
    assert_eq!(ok(&c, &["db", "dump"], b""), whole);
}

/// Every error of `db dump` and `db load` names the file it was writing or reading, and a bad
/// line its number. On fbb856a `db dump /dev/full` said only "No space left on device", and a
/// dump to a directory "cannot open DIR".
#[test]
fn dump_and_load_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    ok(&a, &["train", "--spam", "-"], spam(1).as_bytes());
    let err = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    if Path::new("/dev/full").exists() {
        let o = run(&a, &["db", "dump", "/dev/full"], b"");
        assert_eq!(o.status.code(), Some(2));
        assert!(err(&o).contains("the dump to /dev/full is not written whole: No space left on device"), "{}", err(&o));
    }
    let o = run(&a, &["db", "dump", tmp.path().to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(&format!("the dump to {} is not written whole", tmp.path().display())), "{}", err(&o));
    let missing = tmp.path().join("no/such/dir/backup.txt");
    let o = run(&a, &["db", "dump", missing.to_str().unwrap()], b"");
    assert!(err(&o).contains(&format!("the dump {} is not written", missing.display())), "{}", err(&o));
    // Loading: the file, and the line of a parse error.
    let o = run(&a, &["db", "load", missing.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(&format!("cannot open the dump {}", missing.display())), "{}", err(&o));
    let dump = tmp.path().join("d.txt");
    ok(&a, &["db", "dump", dump.to_str().unwrap()], b"");
    let text = fs::read_to_string(&dump).unwrap();
    let bad = tmp.path().join("bad.txt");
    fs::write(&bad, text.replacen("messages ", "messages x", 1)).unwrap();
    let o = run(&tmp.path().join("b"), &["db", "load", bad.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("{} is not loaded; the database is unchanged: line 4: ", bad.display())),
        "{}",
        err(&o)
    );
}
