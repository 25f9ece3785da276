//! Input that is not mail is never learned or scored as mail: text notes, images, empty stdin,
//! empty and nested directories; and mail folders inside a named folder are pointed out.
//! Through the real binary.

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.env_remove("SPAMFILT_CONFIG").env("HOME", "/nonexistent-home").arg("--db").arg(dir.join("db")).args(args);
    common::run_with_stdin(&mut c, stdin)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const MAIL: &str = "From: jan@klant.be\nSubject: offerte\nMessage-ID: <1@klant.be>\n\nDe offerte voor dinsdag.\n";

#[test]
fn files_that_are_not_mail_are_skipped_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let notes = tmp.path().join("notes");
    fs::create_dir_all(&notes).unwrap();
    fs::write(notes.join("todo.txt"), "TODO: buy milk\nand bread\n").unwrap();
    fs::write(notes.join("minutes.txt"), "Meeting notes, 3 May\n\nWe agreed on the plan.\n").unwrap();
    fs::write(notes.join("logo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let d = notes.to_str().unwrap();
    let o = run(tmp.path(), &["train", "--spam", d], b"");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(out(&o).contains("learned 0 ham and 0 spam") && out(&o).contains("3 skipped (not mail)"), "{}", out(&o));
    for f in ["todo.txt", "minutes.txt", "logo.png"] {
        assert!(err(&o).contains(&format!("{f}: not a mail message")), "{}", err(&o));
    }
    assert!(err(&o).contains("no mail messages found"), "{}", err(&o));
    // Nothing was learned.
    assert!(out(&run(tmp.path(), &["db", "stats"], b"")).contains("messages:     0 ham, 0 spam"));
    // Mixed with real mail: the mail is learned, the rest skipped, exit 1.
    let mail = tmp.path().join("mail.eml");
    fs::write(&mail, MAIL).unwrap();
    let o = run(tmp.path(), &["train", "--ham", mail.to_str().unwrap(), d], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("learned 1 ham and 0 spam") && out(&o).contains("3 skipped (not mail)"), "{}", out(&o));
    // check does not score a note: it says why and fails.
    let o = run(tmp.path(), &["check", notes.join("todo.txt").to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).is_empty(), "{}", out(&o));
    assert!(err(&o).contains("todo.txt: not a mail message"), "{}", err(&o));
}

#[test]
fn empty_stdin_is_not_learned() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(tmp.path(), &["train", "--spam", "-"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("standard input: not a mail message (it is empty)"), "{}", err(&o));
    assert!(out(&run(tmp.path(), &["db", "stats"], b"")).contains("messages:     0 ham, 0 spam"));
}

#[test]
fn empty_and_nested_folders_say_where_nothing_was_found() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = run(tmp.path(), &["train", "--spam", empty.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(&format!("no messages found in {}", empty.display())), "{}", err(&o));
    // A folder holding only a Maildir: pointed out, nothing learned.
    let nested = tmp.path().join("archive");
    for sub in ["2024/cur", "2024/new", "2024/tmp"] {
        fs::create_dir_all(nested.join(sub)).unwrap();
    }
    fs::write(nested.join("2024/cur/1:2,S"), MAIL).unwrap();
    let o = run(tmp.path(), &["train", "--ham", nested.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(&format!("{} looks like a mail folder", nested.join("2024").display())), "{}", err(&o));
    // A Maildir with a Maildir++ subfolder: the inbox is learned, the subfolder pointed out.
    let md = tmp.path().join("Maildir");
    for sub in ["cur", "new", "tmp", ".Junk/cur", ".Junk/new", ".Junk/tmp"] {
        fs::create_dir_all(md.join(sub)).unwrap();
    }
    fs::write(md.join("cur/1:2,S"), MAIL).unwrap();
    let o = run(tmp.path(), &["train", "--ham", md.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("learned 1 ham"));
    assert!(err(&o).contains(&format!("{} looks like a mail folder", md.join(".Junk").display())), "{}", err(&o));
    // -q keeps it quiet.
    let o = run(tmp.path(), &["-q", "train", "--ham", md.to_str().unwrap()], b"");
    assert!(err(&o).is_empty(), "{}", err(&o));
}

const SPAM: &str = "From: win@prize.example\nTo: you@example.net\nSubject: GRATIS LENING, U HEEFT GEWONNEN\n\
Message-ID: <2@prize.example>\n\nKlik hier voor uw prijs: http://192.0.2.7/claim\n";

/// A PATH named on the command line (or in an @LIST) that cannot be read is what an unreadable
/// file inside a folder is: named in an error line, counted as unreadable, and the rest is
/// processed (admin report M9). On 7627532 it stopped the whole run with status 2, before
/// anything was scored or learned. `train` still exits 2 when it read no message at all.
#[test]
fn a_path_that_cannot_be_read_is_counted_and_the_rest_processed() {
    let tmp = tempfile::tempdir().unwrap();
    let ham = tmp.path().join("ham.eml");
    let spam = tmp.path().join("spam.eml");
    fs::write(&ham, MAIL).unwrap();
    fs::write(&spam, SPAM).unwrap();
    let (ham, spam) = (ham.to_str().unwrap(), spam.to_str().unwrap());
    let missing = tmp.path().join("missing.eml");
    let missing = missing.to_str().unwrap();
    // A path through a file: not a folder, cannot be opened (root can read a mode-000 file).
    let through = format!("{ham}/x");

    let o = run(tmp.path(), &["train", "--ham", ham, missing, "--spam", &through, spam], b"");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).contains("learned 1 ham and 1 spam;") && out(&o).contains(" 2 unreadable"), "{}", out(&o));
    assert!(err(&o).contains(&format!("spamfilt: cannot open {missing}: No such file or directory")), "{}", err(&o));
    assert!(err(&o).contains(&format!("spamfilt: cannot open {through}: Not a directory")), "{}", err(&o));
    assert!(out(&run(tmp.path(), &["db", "stats"], b"")).contains("messages:     1 ham, 1 spam"));

    // check scores the others, names the path, exits 2 (as for an unreadable file in a folder).
    let o = run(tmp.path(), &["check", spam, missing, ham], b"");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    let lines: Vec<String> = out(&o).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert_eq!(lines, [spam, ham], "{}", out(&o));
    assert!(err(&o).contains(&format!("cannot open {missing}")), "{}", err(&o));

    // In an @LIST too, and a list that cannot be read is one unreadable path.
    let list = tmp.path().join("list");
    fs::write(&list, format!("{ham}\n{missing}\n")).unwrap();
    let o = run(tmp.path(), &["forget", &format!("@{}", list.display()), "@/nonexistent.list"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(out(&o).starts_with("forgot 1 message;") && out(&o).contains(" 2 unreadable"), "{}", out(&o));
    assert!(err(&o).contains("cannot read path list /nonexistent.list"), "{}", err(&o));

    // Nothing read at all: train exits 2 and learns nothing.
    let o = run(tmp.path(), &["train", "--spam", missing], b"");
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains(&format!("cannot open {missing}")), "{}", err(&o));
    assert!(out(&run(tmp.path(), &["db", "stats"], b"")).contains("messages:     0 ham, 1 spam"));

    // forget follows the same rule (on fbb856a it exited 1 for only unreadable or non-mail paths
    // and 0 for a folder with no message, where train exits 2).
    let note = tmp.path().join("note.txt");
    fs::write(&note, "just a note\n").unwrap();
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    for path in [missing, note.to_str().unwrap(), empty.to_str().unwrap()] {
        let o = run(tmp.path(), &["forget", path], b"");
        assert_eq!(o.status.code(), Some(2), "forget {path}: {}", err(&o));
        assert!(err(&o).contains("nothing forgotten"), "{}", err(&o));
        let o = run(tmp.path(), &["train", "--ham", path], b"");
        assert_eq!(o.status.code(), Some(2), "train {path}: {}", err(&o));
    }
    assert!(out(&run(tmp.path(), &["db", "stats"], b"")).contains("messages:     0 ham, 1 spam"));
}

/// A message file that starts with an mbox From_ line is one message, whatever its body lines
/// start with: on 7627532 it was split at every body line starting with `From ` ("m.eml:2: not a
/// mail message", rc 2; train learned a truncated message; admin report M10). An mbox is split
/// only at real From_ lines (`From SENDER DAY MON DD HH:MM:SS YYYY` and its common variants).
#[test]
fn body_lines_starting_with_from_do_not_split_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m.eml");
    let msg = "From a@b Mon Jan  1 00:00:00 2024\nFrom: a@b.example\nTo: c@d.example\nSubject: minutes\n\
Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <m1@b.example>\n\nHello,\n\n\
From my point of view the meeting went well.\nFrom now on we meet on Tuesdays.\n";
    fs::write(&m, msg).unwrap();
    let m = m.to_str().unwrap();
    let o = run(tmp.path(), &["check", m], b"");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(lines, [m], "{text}{}", err(&o));
    let o = run(tmp.path(), &["train", "--ham", m], b"");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).starts_with("learned 1 ham and 0 spam; 0 already known"), "{}", out(&o));

    // An mbox of three, in the From_ line's usual spellings (MAILER-DAEMON, a time zone before
    // the year as Gmail's export writes it, CRLF), whose bodies hold `From ` lines too.
    let mbox = tmp.path().join("inbox.mbox");
    let one = |from: &str, id: u32, eol: &str| {
        format!(
            "{from}{eol}From: x{id}@klant.be{eol}Subject: {id}{eol}Message-ID: <{id}@klant.be>{eol}{eol}\
             From what I hear, number {id}.{eol}From 12 to 14 h.{eol}{eol}"
        )
    };
    let text = one("From MAILER-DAEMON Fri Jul  8 12:08:34 2011", 1, "\n")
        + &one("From 1614896548345386765@xxx Wed Oct 14 12:57:52 +0000 2020", 2, "\n")
        + &one("From jan@klant.be  Tue Nov 17 09:12:44 2026", 3, "\r\n");
    fs::write(&mbox, text).unwrap();
    let o = run(tmp.path(), &["check", mbox.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let names: Vec<String> = out(&o).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    let d = mbox.display();
    assert_eq!(names, [format!("{d}:1"), format!("{d}:2"), format!("{d}:3")], "{}", out(&o));
}
