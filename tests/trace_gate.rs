//! The Received words and their gate, through the real binary: learned always, used only while
//! the ham and spam learned mostly had Received fields (a Sent folder has none), as the gate's
//! marker counts them; `forget`, moves and `db dump`/`db load` keep that count right.

mod common;

use std::fs;
use std::path::Path;

use common::Env;

/// The gate opens at 5 of each here (100 by default), to keep the test small.
const CONFIG: &str = "[bayes]\ntrace_min_learned = 5\n";

fn sent(i: usize) -> String {
    format!(
        "From: jan@mijn.be\nTo: piet{i}@klant.be\nSubject: offerte {i}\nMessage-ID: <sent{i}@mijn.be>\n\n\
         De offerte voor het project, planning dinsdag.\n"
    )
}

fn received(i: usize) -> String {
    format!(
        "Received: from mail.klant.be (mail.klant.be [192.0.2.10])\n\tby mx.mijn.be with ESMTP id H{i}; \
         Tue, 1 Dec 2026 10:00:00 +0100\nFrom: piet{i}@klant.be\nTo: jan@mijn.be\nSubject: planning {i}\n\
         Message-ID: <in{i}@klant.be>\n\nDe vergadering over het project, dinsdag.\n"
    )
}

fn spam(i: usize) -> String {
    format!(
        "Received: from bulk.deals.example (unknown [198.51.100.7])\n\tby mx.mijn.be with SMTP id S{i}; \
         Tue, 1 Dec 2026 10:00:00 +0100\nFrom: promo{i}@deals.example\nTo: jan@mijn.be\nSubject: winner {i}\n\
         Message-ID: <s{i}@deals.example>\n\ncasino lottery project cheap pills\n"
    )
}

/// Writes messages `from..to` made by `make` into `dir/name`, returning the folder.
fn folder(dir: &Path, name: &str, range: std::ops::Range<usize>, make: fn(usize) -> String) -> String {
    let d = dir.join(name);
    fs::create_dir_all(&d).unwrap();
    for i in range {
        fs::write(d.join(format!("{i}.eml")), make(i)).unwrap();
    }
    d.to_str().unwrap().to_string()
}

/// The gate's line of `check --report` for `path`.
fn gate_line(env: &Env, path: &str) -> String {
    let report = env.ok(&["check", "--report", path]);
    report
        .lines()
        .find(|l| l.trim_start().starts_with("Received words:"))
        .unwrap_or_else(|| panic!("{report}"))
        .trim()
        .to_string()
}

/// `check --no-rules` score of a file (Bayes and LR; LR never reads Received fields).
fn score(env: &Env, path: &str) -> String {
    env.ok(&["check", "--no-rules", path]).split('\t').nth(2).unwrap().to_string()
}

#[test]
fn received_words_count_only_while_the_ham_learned_had_them() {
    let env = Env::new(CONFIG);
    let dir = env.dir();
    let (s, j) = (folder(dir, "sent", 0..10, sent), folder(dir, "junk", 0..10, spam));
    env.ok(&["train", "--ham", &s, "--spam", &j]);
    // The probe: a received ham, and the same message without its Received field.
    let probe = dir.join("probe.eml");
    fs::write(&probe, received(99)).unwrap();
    let bare = dir.join("bare.eml");
    fs::write(&bare, received(99).split_once("0100\n").unwrap().1).unwrap();
    let (probe, bare) = (probe.to_str().unwrap(), bare.to_str().unwrap());
    // Ham from a Sent folder only: the Received words were learned from spam alone, and are
    // not used: the message scores as it would without its Received field.
    assert_eq!(
        gate_line(&env, probe),
        "Received words: not used (learned with Received fields: 0 of 10 ham, 10 of 10 spam)"
    );
    assert_eq!(score(&env, probe), score(&env, bare));
    // The report on a message without Received fields says nothing of them.
    assert!(!env.ok(&["check", "--report", bare]).contains("Received words"));

    // Received ham learned: 30 of 40 ham had Received fields, so they count.
    let inbox = folder(dir, "inbox", 0..30, received);
    env.ok(&["train", "--ham", &inbox]);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: used (learned with Received fields: 30 of 40 ham, 10 of 10 spam)"
    );
    assert_ne!(score(&env, probe), score(&env, bare));
    // A Received word's counts in the report are the messages that had it (30 ham had these),
    // not its counts scaled by learned / learned with Received fields (40 / 30).
    let report = env.ok(&["check", "--report", probe]);
    let ham: Vec<u32> = report
        .match_indices("rcvd:")
        .filter_map(|(i, _)| {
            let rest = &report[i..];
            let counts = rest[..rest.find(" ham)")?].rsplit(", ").next()?;
            counts.split_once(" spam/")?.1.parse().ok()
        })
        .collect();
    assert!(ham.contains(&30) && ham.iter().all(|&h| h <= 30), "{ham:?}\n{report}");

    // Forgetting received ham lowers the count, down to where the gate closes (under half).
    let forget: Vec<String> = (0..20).map(|i| format!("{inbox}/{i}.eml")).collect();
    let args: Vec<&str> = std::iter::once("forget").chain(forget.iter().map(String::as_str)).collect();
    env.ok(&args);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: used (learned with Received fields: 10 of 20 ham, 10 of 10 spam)"
    );
    env.ok(&["forget", &format!("{inbox}/20.eml")]);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: not used (learned with Received fields: 9 of 19 ham, 10 of 10 spam)"
    );
    assert_eq!(score(&env, probe), score(&env, bare));

    // A move takes the marker to the other class with the message.
    env.ok(&["train", "--ham", &format!("{j}/0.eml")]);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: used (learned with Received fields: 10 of 20 ham, 9 of 9 spam)"
    );

    // A dump holds the marker like any token: loaded elsewhere, the gate and scores agree.
    let dump = dir.join("dump.txt");
    env.ok(&["db", "dump", dump.to_str().unwrap()]);
    let other = Env::new(CONFIG);
    other.ok(&["db", "load", dump.to_str().unwrap()]);
    assert_eq!(gate_line(&other, probe), gate_line(&env, probe));
    assert_eq!(other.ok(&["check", "--report", probe]), env.ok(&["check", "--report", probe]));
}

#[test]
fn the_gate_needs_a_hundred_of_each_by_default() {
    let env = Env::new("");
    let dir = env.dir();
    let probe = dir.join("probe.eml");
    fs::write(&probe, received(99)).unwrap();
    let probe = probe.to_str().unwrap();
    let (h, j) = (folder(dir, "inbox", 0..99, received), folder(dir, "junk", 0..120, spam));
    env.ok(&["train", "--ham", &h, "--spam", &j]);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: not used (learned with Received fields: 99 of 99 ham, 120 of 120 spam)"
    );
    env.ok(&["train", "--ham", &folder(dir, "more", 99..100, received)]);
    assert_eq!(
        gate_line(&env, probe),
        "Received words: used (learned with Received fields: 100 of 100 ham, 120 of 120 spam)"
    );
}

/// `msg` without its Received field (the copy in a Sent folder, or one saved without it).
fn bare(msg: &str) -> String {
    msg.split_once("0100\n").expect("a Received field").1.to_string()
}

/// `msg` with the Received field of `received(i)` on top (the copy that came back to the user).
fn with_received(msg: &str, i: usize) -> String {
    let r = received(i);
    format!("{}0100\n{msg}", r.split_once("0100\n").unwrap().0)
}

/// The `[tokens]` section of `db dump`: every count, the totals and the ledger.
fn tokens_section(env: &Env) -> String {
    let dump = env.ok(&["db", "dump"]);
    let start = dump.find("[tokens]\n").expect("a [tokens] section");
    let rest = &dump[start..];
    rest[..rest.find("\n[").map_or(rest.len(), |e| e + 1)].to_string()
}

#[test]
fn forget_and_moves_take_back_the_marker_the_message_was_learned_with() {
    let env = Env::new(CONFIG);
    let dir = env.dir();
    let (s, j) = (folder(dir, "sent", 0..10, sent), folder(dir, "junk", 0..10, spam));
    let inbox = folder(dir, "inbox", 0..6, received);
    env.ok(&["train", "--ham", &s, "--ham", &inbox, "--spam", &j]);
    let probe = dir.join("probe.eml");
    fs::write(&probe, received(99)).unwrap();
    let probe = probe.to_str().unwrap();
    // The marker's counts (the gate is closed here: under half the ham had Received fields).
    let line = |ham: &str, spam: &str| {
        format!("Received words: not used (learned with Received fields: {ham} ham, {spam} spam)")
    };
    assert_eq!(gate_line(&env, probe), line("6 of 16", "10 of 10"));
    let copy = |name: &str, text: String| {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };

    // Learned with its Received field, forgotten through a copy without it: the marker goes
    // with the message, as if it had never been learned (6 of 16 before it was: 5 of 15).
    env.ok(&["forget", &copy("bare0.eml", bare(&received(0)))]);
    assert_eq!(gate_line(&env, probe), line("5 of 15", "10 of 10"));
    // Moved through such a copy: the marker leaves ham, and the spam learned has none.
    env.ok(&["train", "--spam", &copy("bare1.eml", bare(&received(1)))]);
    assert_eq!(gate_line(&env, probe), line("4 of 14", "10 of 11"));

    // Learned from the Sent folder (no Received field), forgotten through the copy that came
    // back with one: nothing of that copy's Received fields is taken back. Every count, the
    // totals and the ledger are what they were before the message was learned.
    let before = tokens_section(&env);
    let relay =
        || env.ok(&["ip", "show", "192.0.2.10"]).lines().find(|l| l.starts_with("learned:")).unwrap().to_string();
    let relay_before = relay();
    env.ok(&["train", "--ham", &copy("sent50.eml", sent(50))]);
    assert_eq!(gate_line(&env, probe), line("4 of 15", "10 of 11"));
    env.ok(&["forget", &copy("back50.eml", with_received(&sent(50), 50))]);
    assert_eq!(gate_line(&env, probe), line("4 of 14", "10 of 11"));
    assert_eq!(tokens_section(&env), before);
    // Nor is the relay of that copy's Received field: it counted none of this message.
    assert_eq!(relay(), relay_before);
    // Moved through that copy: ham keeps its marker count; spam learns the copy in hand, with
    // its Received field.
    env.ok(&["train", "--ham", &copy("sent51.eml", sent(51))]);
    env.ok(&["train", "--spam", &copy("back51.eml", with_received(&sent(51), 51))]);
    assert_eq!(gate_line(&env, probe), line("4 of 14", "11 of 12"));
    // ...and back through the Sent copy: the spam marker goes with it.
    env.ok(&["train", "--ham", &dir.join("sent51.eml").to_string_lossy()]);
    assert_eq!(gate_line(&env, probe), line("4 of 15", "10 of 11"));

    // The dump says how each message was learned, and a database loaded from it undoes the same.
    let dump = env.ok(&["db", "dump"]);
    assert!(dump.lines().any(|l| l.starts_with("ledger ") && l.ends_with(" ham received")), "{dump}");
    assert!(dump.lines().any(|l| l.starts_with("ledger ") && l.ends_with(" ham no-received")), "{dump}");
    let file = dir.join("dump.txt");
    fs::write(&file, &dump).unwrap();
    let other = Env::new(CONFIG);
    other.ok(&["db", "load", file.to_str().unwrap()]);
    other.ok(&["forget", &copy("bare2.eml", bare(&received(2)))]);
    assert_eq!(gate_line(&other, probe), line("3 of 14", "10 of 11"));
}
