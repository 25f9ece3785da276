//! Sender checks with the real binary: allow and block lists (and `spamfilt list`), allow
//! entries that require authentication, honeypots (spam, queued for learning, IP recorded),
//! training feeding the IP reputation database and known correspondents (`spamfilt ip`), and
//! DNS blocklists and reverse lookups against a DNS server this test runs on a loopback port.

mod common;

use common::dns::{DnsServer, Reply};
use common::Env;

use std::fs;
use std::net::UdpSocket;
use std::process::Command;

/// What these tests add to a home.
impl Env {
    /// Filters a message; returns its X-Spam-Status value and the whole output.
    fn filter(&self, msg: &str) -> (String, String) {
        let o = self.run(&[], msg.as_bytes());
        assert!(o.status.success());
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let status = out
            .lines()
            .skip_while(|l| !l.starts_with("X-Spam-Status:"))
            .take_while(|l| !l.is_empty())
            .enumerate()
            .take_while(|(i, l)| *i == 0 || l.starts_with('\t') || l.starts_with(' '))
            .map(|(_, l)| l.trim())
            .collect::<Vec<_>>()
            .join(" ")
            .trim_start_matches("X-Spam-Status:")
            .trim()
            .to_string();
        assert!(!status.is_empty(), "no X-Spam-Status in\n{out}\nstderr: {}", String::from_utf8_lossy(&o.stderr));
        (status, out)
    }
}

fn tests_of(status: &str) -> Vec<String> {
    // Folded lists continue after a comma: join them back.
    let rest = status.split("tests=").nth(1).unwrap().replace(", ", ",");
    let t = rest.split_whitespace().next().unwrap();
    t.split(',').map(str::to_string).collect()
}

fn msg(headers: &str, body: &str) -> String {
    format!(
        "{headers}Subject: a note\nDate: Mon, 23 Nov 2026 10:00:00 +0100\nMessage-ID: <{}@test>\n\n{body}\n",
        body.len() * 7 + headers.len()
    )
}

fn received(helo: &str, rdns: &str, ip: &str) -> String {
    format!("Received: from {helo} ({rdns} [{ip}]) by mx.mijndomein.be (Postfix) with ESMTP id 1; Mon, 23 Nov 2026 10:00:00 +0100\n")
}

/// A message with `headers` and `body` that came from the relay `host` at `ip` (its Received
/// field) and was delivered to ik@mijn.be.
fn delivered_via(host: &str, ip: &str, headers: &str, body: &str) -> String {
    format!("{}Delivered-To: ik@mijn.be\n{}", received(host, host, ip), msg(headers, body))
}

/// Edits at once (a script adding in parallel, two shells) each write the whole file: without a
/// lock each wrote what it read and most entries were lost (the admin's pass: 4 of 20 survived,
/// every run exit 0). Both lists and all 40 entries must be there.
#[test]
fn list_edits_at_once_lose_no_entry() {
    let env = Env::new("");
    let children: Vec<_> = (0..20)
        .flat_map(|i| {
            let kind = if i % 2 == 0 { "allow" } else { "block" };
            [format!("x{i}@par.example"), format!("y{i}@par.example")].map(|e| {
                env.cmd()
                    .args(["-q", "list", kind, "add", &e])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let allow = env.ok(&["list", "allow", "show"]);
    let block = env.ok(&["list", "block", "show"]);
    assert_eq!((allow.lines().count(), block.lines().count()), (20, 20), "allow:\n{allow}\nblock:\n{block}");
    // No lock file is left beside the lists.
    let mut names: Vec<_> = fs::read_dir(env.config.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["allow.txt", "block.txt", "config.toml"]);
}

/// A resolver that never answers (dead, firewalled) costs a delivery its timeout; the message is
/// still scored and delivered, and says so: X-Spam-Degraded names the resolver and why, and
/// SPAMFILT_DEGRADED is among the tests (the admin's pass found every delivery silent about it).
/// `check` asks nobody (cached answers only): not degraded.
#[test]
fn a_resolver_that_never_answers_is_said_in_the_message() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let env = Env::new(&format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 200, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n",
        silent.local_addr().unwrap()
    ));
    let m = msg(
        &format!(
            "{}From: someone@example.org\nTo: ik@mijndomein.be\n",
            received("mail.example.org", "mail.example.org", "198.51.100.9")
        ),
        "See http://links.example.com/x for the minutes.",
    );
    let (status, out) = env.filter(&m);
    assert!(tests_of(&status).contains(&"SPAMFILT_DEGRADED".to_string()), "{status}");
    let degraded: String =
        out.lines().skip_while(|l| !l.starts_with("X-Spam-Degraded:")).take(3).collect::<Vec<_>>().join(" ");
    assert!(
        degraded.contains("DNS: 2 of 2 lookups got no answer from 127.0.0.1:") && degraded.contains("timed out"),
        "{out}"
    );
    let o = env.run(&["check", "-"], m.as_bytes());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("DEGRADED"), "{}", String::from_utf8_lossy(&o.stdout));
}

/// What a delivery's X-Spam-Degraded field says, its folded lines joined.
fn degraded_field(out: &str) -> String {
    out.lines()
        .skip_while(|l| !l.starts_with("X-Spam-Degraded:"))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || l.starts_with('\t') || l.starts_with(' '))
        .map(|(_, l)| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A DNS server on a loopback port whose answers the test switches: none at all (a dead
/// resolver), NXDOMAIN for every query, or NXDOMAIN for the `zen.test` queries only. Counts
/// the queries it receives.
struct Switchable {
    addr: std::net::SocketAddr,
    mode: std::sync::Arc<std::sync::atomic::AtomicU8>,
    received: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

const SILENT: u8 = 0;
const ANSWER_ALL: u8 = 1;
const ANSWER_ZEN: u8 = 2;

impl Switchable {
    fn start() -> Switchable {
        use std::sync::atomic::Ordering;
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let mode = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(SILENT));
        let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (m, r) = (mode.clone(), received.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf) else { return };
                r.fetch_add(1, Ordering::SeqCst);
                let (name, _) = common::dns::read_name(&buf[..n], 12);
                let answer = match m.load(Ordering::SeqCst) {
                    ANSWER_ALL => true,
                    ANSWER_ZEN => name.ends_with(".zen.test"),
                    _ => false,
                };
                if answer {
                    let mut p = buf[..2].to_vec();
                    p.extend_from_slice(&[0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0]);
                    p.extend_from_slice(&buf[12..n]);
                    let _ = sock.send_to(&p, from);
                }
            }
        });
        Switchable { addr, mode, received }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    /// The queries received since the last call.
    fn take(&self) -> usize {
        self.received.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

/// A dead resolver cost every delivery its whole `timeout_ms` (1.5 s by default): there was no
/// memory between deliveries. Now a delivery whose queries all went unanswered records it
/// (`dns-resolver.state` in the database directory); for the back-off that follows (60 s,
/// doubling to 15 min while it stays silent) deliveries ask nothing and say so in
/// X-Spam-Degraded; the first one after it asks again, and any answer clears the record.
/// Partial answers are not silence. Counted in queries the server received, not timed.
#[test]
fn a_silent_resolver_is_not_asked_again_until_its_backoff_is_over() {
    let server = Switchable::start();
    let env = Env::new(&format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 200, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n",
        server.addr
    ));
    let state = env.db.join("dns-resolver.state");
    // Each message has its own relay and link domain, so no answer the cache holds is reused.
    let mut n = 0;
    let mut deliver = || {
        n += 1;
        let m = msg(
            &format!(
                "{}From: someone@example.org\nTo: ik@mijndomein.be\n",
                received("mail.example.org", "mail.example.org", &format!("198.51.100.{n}"))
            ),
            &format!("See http://www.shop{n}.test/x for the minutes."),
        );
        let (status, out) = env.filter(&m);
        (tests_of(&status), degraded_field(&out))
    };
    let backoff_ends_now = || {
        let text = fs::read_to_string(&state).unwrap();
        let until: String =
            text.lines().map(|l| if l.starts_with("until ") { "until 1" } else { l }).collect::<Vec<_>>().join("\n");
        fs::write(&state, until + "\n").unwrap();
    };
    let asked_nothing = |d: &str| {
        d.contains(&format!("DNS: resolver {} gave no answer at ", server.addr))
            && d.contains("Z; not asked again until ")
            && d.contains("(2 lookups skipped); scored without them")
    };

    // Silent: asked, said, and remembered.
    let (tests, d) = deliver();
    assert!(tests.contains(&"SPAMFILT_DEGRADED".to_string()), "{tests:?}");
    assert!(d.contains("DNS: 2 of 2 lookups got no answer from 127.0.0.1:") && d.contains("timed out"), "{d}");
    assert!(server.take() >= 2);
    // Within the back-off: nothing asked, and the message says so.
    for _ in 0..3 {
        let (tests, d) = deliver();
        assert!(tests.contains(&"SPAMFILT_DEGRADED".to_string()) && asked_nothing(&d), "{d}");
        assert_eq!(server.take(), 0, "a delivery asked the silent resolver within its back-off");
    }
    let text = fs::read_to_string(&state).unwrap();
    assert!(text.contains(&format!("resolver {}", server.addr)) && text.contains("backoff 60"), "{text}");
    // The back-off over: one delivery asks again; still silent, so the back-off doubles.
    backoff_ends_now();
    let (_, d) = deliver();
    assert!(d.contains("DNS: 2 of 2 lookups got no answer"), "{d}");
    assert!(server.take() >= 2);
    assert!(fs::read_to_string(&state).unwrap().contains("backoff 120"));
    let (_, d) = deliver();
    assert!(asked_nothing(&d), "{d}");
    assert_eq!(server.take(), 0);
    // It answers again: the next delivery after the back-off asks, gets answers, and the record
    // is gone; the one after asks as usual.
    server.set(ANSWER_ALL);
    backoff_ends_now();
    for _ in 0..2 {
        let (tests, d) = deliver();
        assert!(!tests.contains(&"SPAMFILT_DEGRADED".to_string()), "{tests:?} {d}");
        assert_eq!(server.take(), 3, "the two lookups and the canary (the root's NS)");
        assert!(!state.exists());
    }
    // Partial answers (the blocklist answers, the URI list and the canary do not) are a
    // resolver that is there: said, but not remembered, and the next delivery asks again. (So
    // is one blocklist timing out while the canary is answered: dns_blocklists_reverse_lookups
    // _and_the_cache.)
    server.set(ANSWER_ZEN);
    for _ in 0..2 {
        let (_, d) = deliver();
        assert!(d.contains("DNS: 1 of 2 lookups got no answer"), "{d}");
        assert!(server.take() >= 2);
        assert!(!state.exists());
    }
}

/// `lint` said nothing of a resolver backed off after it gave no answer, though for the
/// back-off every delivery and the policy service skip the DNS checks (before, it exited 0).
/// Now a record in force is a problem (exit 1) naming the resolver, since when, until when and
/// what is skipped; one whose back-off is over is not (the next delivery asks again).
#[test]
fn lint_reports_a_resolver_that_is_backed_off() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let env = Env::new(&format!(
        "dns = {{ resolver = \"{addr}\", timeout_ms = 200, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n"
    ));
    let ham = env.dir().join("ham.eml");
    fs::write(&ham, msg("From: someone@example.org\n", "the minutes")).unwrap();
    env.ok(&["train", "--ham", ham.to_str().unwrap()]);
    let o = env.run(&["lint"], b"");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // A delivery finds the resolver silent: the record is written.
    let m = msg(
        &format!("{}From: someone@example.org\n", received("mail.example.org", "mail.example.org", "198.51.100.9")),
        "See http://www.shop.test/x for the minutes.",
    );
    let (_, out) = env.filter(&m);
    assert!(degraded_field(&out).contains("lookups got no answer"), "{out}");
    let state = env.db.join("dns-resolver.state");
    let o = env.run(&["lint"], b"");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&o.stderr));
    let line = text.lines().find(|l| l.starts_with(&format!("{}: ", state.display()))).unwrap_or_default();
    for says in [
        &format!("the DNS resolver {addr} is backed off: it gave no answer at 20") as &str,
        " UTC, and is not asked again until 20",
        "(back-off 60 s, doubling to 15 min while it stays silent)",
        "the DNS blocklists of the relay (dnsbl) and of the policy service, the URI blocklists (uribl) and the \
         PTR (reverse name) lookups are skipped",
        &format!("(dig @127.0.0.1 -p {} . NS)", addr.port()),
    ] {
        assert!(line.contains(says), "{says:?} not in {text}");
    }
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 problem"), "{}", String::from_utf8_lossy(&o.stderr));
    // After more silent probes it says how long it has been silent at least.
    let record = fs::read_to_string(&state).unwrap();
    let longer: String = record
        .lines()
        .map(|l| if l.starts_with("backoff ") { "backoff 900\n".into() } else { format!("{l}\n") })
        .collect();
    fs::write(&state, longer).unwrap();
    let text = String::from_utf8_lossy(&env.run(&["lint"], b"").stdout).into_owned();
    assert!(
        text.contains("it gave no answer at every probe since 20") && text.contains("or earlier (the last at 20"),
        "{text}"
    );
    // The back-off over: no problem; the next delivery asks again.
    let over: String =
        record.lines().map(|l| if l.starts_with("until ") { "until 1\n".into() } else { format!("{l}\n") }).collect();
    fs::write(&state, over).unwrap();
    let o = env.run(&["lint"], b"");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
    // A record that is not one is named.
    fs::write(&state, "garbage\n").unwrap();
    let o = env.run(&["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("is not spamfilt's DNS resolver state"));
    drop(silent);
}

#[test]
fn allow_and_block_lists_override_everything() {
    let env = Env::new("");
    // An allowed sender with a spammy body is ham; a blocked domain with a plain body is spam.
    let out = env.ok(&["list", "allow", "add", "vriend@klant.be", "*.school.be"]);
    assert!(out.contains("added 2 entries"), "{out}");
    env.ok(&["list", "block", "add", "@spammer.example"]);
    let o = env.run(&["list", "allow", "add", "vriend@klant.be"], b"");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already in the allow list"));
    assert_eq!(env.ok(&["list", "allow", "show"]), "vriend@klant.be\n*.school.be\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(env.config.parent().unwrap().join("allow.txt")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "a new list is private to its user");

    let spammy = "VIAGRA CHEAP PILLS!!! Click here http://192.0.2.1/buy now, 100% FREE, act now!";
    let (status, _) = env.filter(&msg("From: vriend@klant.be\nTo: ik@mijndomein.be\n", spammy));
    assert!(status.starts_with("No, score=-100"), "{status}");
    assert_eq!(tests_of(&status), vec!["ALLOWLIST"]);
    let (status, _) = env.filter(&msg("From: juf@lager.school.be\n", spammy));
    assert_eq!(tests_of(&status), vec!["ALLOWLIST"]);
    let (status, out) = env.filter(&msg("From: Verkoop <info@spammer.example>\n", "See you at the meeting."));
    assert!(status.starts_with("Yes, score=100"), "{status}");
    assert_eq!(tests_of(&status), vec!["BLOCKLIST"]);
    assert!(out.contains("X-Spam-Flag: YES"));
    // A relative --config path finds the lists beside the file too (they were looked for in
    // conf/conf/ once).
    let mut c = Command::new(env!("CARGO_BIN_EXE_spamfilt"));
    c.current_dir(env.dir())
        .env_remove("SPAMFILT_DB")
        .env_remove("SPAMFILT_CONFIG")
        .env("HOME", "/nonexistent-home")
        .arg("--db")
        .arg(&env.db)
        .args(["--config", "conf/config.toml"]);
    let o = common::run_with_stdin(
        &mut c,
        msg(
            "From: info@spammer.example
",
            "See you.",
        )
        .as_bytes(),
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("tests=BLOCKLIST"), "{}", String::from_utf8_lossy(&o.stderr));
    // The envelope sender counts too.
    let (status, _) = env.filter(&msg("Return-Path: <bounce@spammer.example>\nFrom: a@b.example\n", "hi"));
    assert_eq!(tests_of(&status), vec!["BLOCKLIST"]);

    // Removing works and keeps the user's comments.
    let allow = env.config.parent().unwrap().join("allow.txt");
    let text = fs::read_to_string(&allow).unwrap();
    fs::write(&allow, format!("# my friends\n{text}")).unwrap();
    env.ok(&["list", "allow", "remove", "*.school.be"]);
    assert_eq!(fs::read_to_string(&allow).unwrap(), "# my friends\nvriend@klant.be\n");
    // An entry that is not there: named, exit status 1 as for ip remove and address remove (on
    // fbb856a: 0); the others named are removed. Adding one already there stays 0.
    env.ok(&["list", "allow", "add", "tweede@klant.be"]);
    let o = env.run(&["list", "allow", "remove", "nobody@klant.be", "tweede@klant.be"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nobody@klant.be is not in the allow list"));
    assert_eq!(fs::read_to_string(&allow).unwrap(), "# my friends\nvriend@klant.be\n");
    env.ok(&["list", "allow", "add", "vriend@klant.be"]);
    let (status, _) = env.filter(&msg("From: juf@lager.school.be\n", spammy));
    assert!(!tests_of(&status).contains(&"ALLOWLIST".to_string()));

    // A malformed line: `list show` names it and shows the others; the filter uses the other
    // entries and says so.
    fs::write(&allow, "vriend@klant.be\nthis is not an address\n").unwrap();
    let o = env.run(&["list", "allow", "show"], b"");
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "vriend@klant.be\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: ") && err.contains("allow.txt:2: "), "{err}");
    let m = msg("From: vriend@klant.be\n", "hello");
    let o = env.run(&[], m.as_bytes());
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ALLOWLIST") && out.contains("SPAMFILT_DEGRADED"), "{out}");
    assert!(out.contains("X-Spam-Degraded: allow.txt line 2: "), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("allow.txt:2:"));
    // And a bad entry on the command line changes nothing.
    let o = env.run(&["list", "block", "add", "not-an-entry"], b"");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an address"));
}

#[test]
fn allow_entries_can_require_authentication() {
    let env = Env::new("allow_requires_auth = true\nauthserv_id = \"mx.mijndomein.be\"\n");
    env.ok(&["list", "allow", "add", "@bank.example"]);
    let forged = msg("From: service@bank.example\n", "Please confirm your account.");
    let (status, _) = env.filter(&forged);
    assert!(!tests_of(&status).contains(&"ALLOWLIST".to_string()), "{status}");
    // A pass written by some other server is not believed.
    let other =
        msg("Authentication-Results: evil.example; dkim=pass header.d=bank.example\nFrom: service@bank.example\n", "x");
    assert!(!tests_of(&env.filter(&other).0).contains(&"ALLOWLIST".to_string()));
    let real = msg(
        "Authentication-Results: mx.mijndomein.be; dkim=pass header.d=bank.example header.s=s1; spf=pass smtp.mailfrom=bounce@bank.example\nFrom: service@bank.example\n",
        "Your statement is ready.",
    );
    assert_eq!(tests_of(&env.filter(&real).0), vec!["ALLOWLIST"]);
}

#[test]
fn honeypots_are_spam_and_teach_the_databases() {
    let env = Env::new("honeypots = [\"oud@mijndomein.be\", \"@lokaas.be\"]\n");
    let m = format!(
        "{}{}",
        received("spambot", "unknown", "198.51.100.23"),
        msg("From: someone@elsewhere.example\nTo: oud@mijndomein.be\n", "An ordinary looking note.")
    );
    let (status, out) = env.filter(&m);
    assert!(status.starts_with("Yes,"), "{status}");
    assert!(tests_of(&status).contains(&"HONEYPOT".to_string()));
    assert!(out.contains("X-Spam-Flag: YES"));
    // The sending IP is in the reputation database at once; the message waits in the queue.
    let show = env.ok(&["ip", "show", "198.51.100.23"]);
    assert!(show.contains("honeypot:     1 hits"), "{show}");
    assert_eq!(fs::read_dir(env.db.join("queue")).unwrap().count(), 1);
    // The next training run learns it as spam and empties the queue.
    let o = env.run(&["train", "--queued"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("learned 1 queued messages"));
    assert_eq!(fs::read_dir(env.db.join("queue")).unwrap().count(), 0);
    assert!(env.ok(&["db", "stats"]).contains("0 ham, 1 spam"));
    assert!(env.ok(&["ip", "show", "198.51.100.23"]).contains("learned:      1 spam, 0 ham"));
    // Another message from that IP to an ordinary address now carries IP_SPAM_SOURCE.
    let next = format!("{}{}", received("spambot", "unknown", "198.51.100.23"), msg("To: ik@mijndomein.be\n", "hello"));
    assert!(tests_of(&env.filter(&next).0).contains(&"IP_SPAM_SOURCE".to_string()));
    // A whole honeypot domain, via Delivered-To.
    let (status, _) = env.filter(&msg("Delivered-To: wie@lokaas.be\n", "hello"));
    assert!(tests_of(&status).contains(&"HONEYPOT".to_string()));
}

/// The user's own address never becomes a known correspondent: mail delivered to the user with
/// only local hops (a feed or cron mailer on the user's machine) is not mail the user wrote, nor
/// is list or auto-submitted mail; the From of mail the user wrote is recorded as the user's
/// own, and a From this message was delivered to is the user's too.
#[test]
fn own_addresses_and_local_mail_make_no_correspondents() {
    let env = Env::new("");
    let inbox = env.dir().join("inbox");
    let sent = env.dir().join("sent");
    fs::create_dir_all(&inbox).unwrap();
    fs::create_dir_all(&sent).unwrap();
    let local = "Received: from localhost (localhost [127.0.0.1]) by mijn.be (Postfix) with ESMTP id 1; Mon, 23 Nov 2026 10:00:00 +0100\n";
    // A feed mailer on the user's own machine, delivered to the user.
    fs::write(
        inbox.join("feed.eml"),
        format!("Delivered-To: ik@mijn.be\n{local}{}", msg("From: feeds@mijn.be\nTo: ik@mijn.be\n", "News today")),
    )
    .unwrap();
    // Machine-written local mail without a delivery field: a list digest, an auto-reply.
    fs::write(
        inbox.join("list.eml"),
        format!("{local}{}", msg("From: a@x.example\nTo: lijst@lists.example\nList-Id: <l.lists.example>\n", "Digest")),
    )
    .unwrap();
    fs::write(
        inbox.join("auto.eml"),
        format!("{local}{}", msg("From: b@x.example\nTo: robot@x.example\nAuto-Submitted: auto-replied\n", "Away")),
    )
    .unwrap();
    // Sent mail, one of it a copy to the user's other address.
    fs::write(sent.join("1.eml"), msg("From: Ik <Ik@Mijn.be>\nTo: jan@klant.be\nBcc: ik@mijn.be\n", "Verslag"))
        .unwrap();
    fs::write(sent.join("2.eml"), msg("From: ik@thuis.example\nTo: ik@mijn.be\n", "Notitie")).unwrap();
    env.ok(&["train", "--ham", inbox.to_str().unwrap(), sent.to_str().unwrap()]);
    let dump = env.ok(&["db", "dump"]);
    let records: Vec<&str> =
        dump.lines().filter(|l| l.starts_with("correspondent ") || l.starts_with("own ")).collect();
    let mut sorted: Vec<String> = records.iter().map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect();
    sorted.sort();
    assert_eq!(sorted, ["correspondent jan@klant.be", "own ik@mijn.be", "own ik@thuis.example"], "{dump}");

    // Spam forged from the user's own address gets no KNOWN_CORRESPONDENT; jan does.
    let forged = msg("From: ik@mijn.be\nTo: ik@mijn.be\n", "Cheap loans");
    let (status, _) = env.filter(&forged);
    assert!(!tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "{status}");
    let (status, _) = env.filter(&msg("From: jan@klant.be\nTo: ik@mijn.be\n", "Dank je"));
    assert!(tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "{status}");
}

/// A database trained before: its correspondents include the user's own address. Training the
/// Sent folder again (already learned) marks it as the user's own, and a From the message was
/// delivered to never counts, whatever the database says.
#[test]
fn an_older_database_with_the_own_address_as_correspondent_is_repaired() {
    let env = Env::new("");
    let load = "spamfilt-dump 2\n[tokens]\nmessages 0 0\n[reputation]\ncorrespondent ik@mijn.be 13 1000\ncorrespondent jan@klant.be 1 1000\n";
    let file = env.dir().join("old.dump");
    fs::write(&file, load).unwrap();
    env.ok(&["db", "load", file.to_str().unwrap()]);
    let forged = msg("Delivered-To: ik@mijn.be\nFrom: ik@mijn.be\nTo: someone@else.example\n", "Cheap loans");
    let (status, _) = env.filter(&forged);
    assert!(!tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "{status}");
    let forged = msg("From: ik@mijn.be\nTo: someone@else.example\n", "Cheap loans");
    let (status, _) = env.filter(&forged);
    assert!(tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "before the repair: {status}");
    let sent = env.dir().join("sent.eml");
    fs::write(&sent, msg("From: ik@mijn.be\nTo: jan@klant.be\n", "Verslag")).unwrap();
    env.ok(&["train", "--ham", sent.to_str().unwrap()]);
    let again = env.ok(&["train", "--ham", sent.to_str().unwrap()]);
    assert!(again.contains("1 already known"), "{again}");
    let (status, _) = env.filter(&forged);
    assert!(!tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "{status}");
    let o = env.run(&["check", "--report", "-"], forged.as_bytes());
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("sender: From ik@mijn.be is your own address: not a known correspondent"), "{report}");
    let dump = env.ok(&["db", "dump"]);
    assert!(dump.contains("\nown ik@mijn.be ") && !dump.contains("correspondent ik@mijn.be"), "{dump}");
    assert!(dump.contains("\ncorrespondent jan@klant.be 2 "), "{dump}");
}

/// `address` and `ip remove` drop one record each, after `--dry-run` says what would go; an
/// address or IP that is not there is named and the exit status is 1, the others are removed.
#[test]
fn one_reputation_record_is_shown_and_removed_by_hand() {
    let env = Env::new("");
    let load = "spamfilt-dump 2\n[tokens]\nmessages 0 0\n[reputation]\ncorrespondent ik@mijn.be 13 1000\n\
                correspondent jan@klant.be 1 1000\nown ik@thuis.example 2000\nip 198.51.100.50 1 2 2 3 0 1 -\n";
    let file = env.dir().join("old.dump");
    fs::write(&file, load).unwrap();
    env.ok(&["db", "load", file.to_str().unwrap()]);
    let records = || -> Vec<String> {
        let dump = env.ok(&["db", "dump"]);
        let kinds = ["correspondent ", "own ", "ip "];
        dump.lines().filter(|l| kinds.iter().any(|k| l.starts_with(k))).map(String::from).collect()
    };
    let all = records();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        env.ok(&["address", "list"]),
        "ik@mijn.be\tcorrespondent\tmessages=13\tlast=1970-01-01 00:16:40 UTC\n\
         ik@thuis.example\town\tlast=1970-01-01 00:33:20 UTC\n\
         jan@klant.be\tcorrespondent\tmessages=1\tlast=1970-01-01 00:16:40 UTC\n"
    );
    assert_eq!(env.ok(&["address", "list", "--own"]).lines().count(), 1);
    assert_eq!(env.ok(&["address", "list", "--correspondents"]).lines().count(), 2);
    let show = env.ok(&["address", "show", "<Jan@Klant.be>"]);
    assert_eq!(show, "jan@klant.be: known correspondent: 1 message written to it, last 1970-01-01 00:16:40 UTC\n");

    // Mail from a correspondent gets the nudge until the record goes.
    let from_jan = msg("From: jan@klant.be\nTo: ik@mijn.be\n", "Dank je");
    assert!(tests_of(&env.filter(&from_jan).0).contains(&"KNOWN_CORRESPONDENT".to_string()));

    // A dry run says what would go and changes nothing.
    let dry = env.ok(&["address", "remove", "--dry-run", "IK@mijn.be", "jan@klant.be"]);
    assert_eq!(
        dry,
        "would remove ik@mijn.be (known correspondent: 13 messages written to it, last 1970-01-01 00:16:40 UTC)\n\
         would remove jan@klant.be (known correspondent: 1 message written to it, last 1970-01-01 00:16:40 UTC)\n"
    );
    assert_eq!(records(), all);

    // Removing: what is there goes, what is not is named (status 1).
    let o = env.run(&["address", "remove", "jan@klant.be", "nobody@klant.be", "ik@thuis.example"], b"");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(out.starts_with("removed jan@klant.be (known correspondent: 1 message"), "{out}");
    assert!(out.contains("removed ik@thuis.example (your own address: mail from it last learned 1970-01-01"), "{out}");
    assert!(
        err.contains(
            "nobody@klant.be is neither a known correspondent nor one of your own addresses nor a learned sender in "
        ) && err.contains("reputation.db"),
        "{err}"
    );
    let left = records();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].starts_with("ip 198.51.100.50 ") && left[1].starts_with("correspondent ik@mijn.be 13 "),
        "{left:?}"
    );
    assert!(!tests_of(&env.filter(&from_jan).0).contains(&"KNOWN_CORRESPONDENT".to_string()));
    assert_eq!(env.run(&["address", "show", "jan@klant.be"], b"").status.code(), Some(1));
    let o = env.run(&["address", "remove", "not an address"], b"");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("is not a mail address"));

    // The same for an IP record.
    let dry = env.ok(&["ip", "remove", "--dry-run", "198.51.100.50"]);
    assert!(dry.starts_with("would remove 198.51.100.50 (spam=3 ham=0 honeypot=1, last seen 1970-01-01"), "{dry}");
    assert_eq!(records(), left);
    let o = env.run(&["ip", "remove", "198.51.100.50", "192.0.2.9"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("removed 198.51.100.50 (spam=3"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("192.0.2.9 is not in the reputation database"));
    assert_eq!(records(), ["correspondent ik@mijn.be 13 1000"]);
}

/// When the policy service's records (here an unknown-recipient count) are all there is of an
/// address, `ip remove --dry-run` says what the real run then does, with its status (review: the
/// dry run said "is not in the reputation database", exit 1, and the real run removed them).
#[test]
fn ip_remove_dry_run_names_the_policy_services_records_as_the_real_run_does() {
    let env = Env::new("");
    let count = env.db.join("policy").join("unknown").join("198.51.100.9");
    fs::create_dir_all(count.parent().unwrap()).unwrap();
    fs::write(&count, "1796240000\n").unwrap();
    for (args, said) in [
        (&["ip", "remove", "--dry-run", "198.51.100.9"][..], "would remove"),
        (&["ip", "remove", "198.51.100.9"][..], "removed"),
    ] {
        let o = env.run(args, b"");
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {out}{err}");
        assert_eq!(out, format!("{said} 198.51.100.9 (the policy service's records of it)\n"), "{args:?}");
        assert_eq!(err, "", "{args:?}");
        assert_eq!(count.exists(), said == "would remove", "{args:?}");
    }
    let o = env.run(&["ip", "remove", "--dry-run", "198.51.100.9"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("198.51.100.9 is not in the reputation database"));
}

/// `address remove` and `ip remove` with a `--db` directory that does not exist (a typo) refuse,
/// naming it, and create nothing, as `show`, `list` and `--dry-run` do (review: they made the
/// directory, its lock and reputation.db, then said the record was not there).
#[test]
fn removing_from_a_database_directory_that_does_not_exist_creates_nothing() {
    let env = Env::new("");
    for args in [
        &["address", "remove", "jan@klant.be"][..],
        &["address", "remove", "--dry-run", "jan@klant.be"][..],
        &["ip", "remove", "198.51.100.9"][..],
        &["ip", "remove", "--dry-run", "198.51.100.9"][..],
    ] {
        let o = env.run(args, b"");
        let err = String::from_utf8_lossy(&o.stderr);
        let dry = args.contains(&"--dry-run");
        assert_eq!(o.status.code(), Some(if dry { 1 } else { 2 }), "{args:?}: {err}");
        if !dry {
            assert!(
                err.contains(&format!("{}: no such database directory", env.db.display()))
                    && err.contains("nothing removed"),
                "{args:?}: {err}"
            );
        }
        assert!(!env.db.exists(), "{args:?} created {}", env.db.display());
    }
}

#[test]
fn training_feeds_the_ip_database_and_correspondents() {
    let env = Env::new("trusted_networks = [\"203.0.113.0/24\"]\n");
    let junk = env.dir().join("junk");
    let sent = env.dir().join("sent");
    fs::create_dir_all(&junk).unwrap();
    fs::create_dir_all(&sent).unwrap();
    // Two spams relayed through the user's own MX (trusted) from 198.51.100.50.
    for i in 0..2 {
        let m = format!(
            "{}{}{}",
            received("mx-in", "mx.mijndomein.be", "203.0.113.2"),
            received("bulk", "bulk.mailer.example", "198.51.100.50"),
            msg("From: offers@mailer.example\n", &format!("Offer number {i} for you"))
        );
        fs::write(junk.join(format!("{i}.eml")), m).unwrap();
    }
    // Sent mail: written by the user's client, no Received chain.
    fs::write(
        sent.join("1.eml"),
        msg(
            "From: ik@mijndomein.be\nTo: Collega <collega@partner.example>\nCc: baas@partner.example\n",
            "Hier is het verslag.",
        ),
    )
    .unwrap();
    let out = env.ok(&["train", "--spam", junk.to_str().unwrap(), "--ham", sent.to_str().unwrap()]);
    assert!(out.contains("learned 1 ham and 2 spam"), "{out}");
    let show = env.ok(&["ip", "show", "198.51.100.50"]);
    assert!(show.contains("learned:      2 spam, 0 ham"), "{show}");
    assert!(env.run(&["ip", "show", "203.0.113.2"], b"").status.code() == Some(1), "the trusted MX is not recorded");
    let list = env.ok(&["ip", "list", "--spam"]);
    assert!(list.starts_with("198.51.100.50\tspam=2\tham=0"), "{list}");

    let from_bulk = format!(
        "{}{}",
        received("bulk", "bulk.mailer.example", "198.51.100.50"),
        msg("From: x@mailer.example\n", "hi")
    );
    let (status, _) = env.filter(&from_bulk);
    assert!(tests_of(&status).contains(&"IP_SPAM_SOURCE".to_string()), "{status}");
    let from_colleague = msg("From: Collega <Collega@Partner.example>\n", "Dank je!");
    let (status, _) = env.filter(&from_colleague);
    assert!(tests_of(&status).contains(&"KNOWN_CORRESPONDENT".to_string()), "{status}");

    // Moving one spam to ham takes its count back; forget takes the other.
    let one = junk.join("0.eml");
    env.ok(&["train", "--ham", one.to_str().unwrap()]);
    assert!(env.ok(&["ip", "show", "198.51.100.50"]).contains("learned:      1 spam, 1 ham"));
    env.ok(&["forget", junk.join("1.eml").to_str().unwrap()]);
    assert!(env.ok(&["ip", "show", "198.51.100.50"]).contains("learned:      0 spam, 1 ham"));
    let (status, _) = env.filter(&from_bulk);
    assert!(!tests_of(&status).contains(&"IP_SPAM_SOURCE".to_string()), "{status}");

    // By hand.
    env.ok(&["ip", "add", "192.0.2.66", "2001:db8::66"]);
    assert!(env.ok(&["ip", "show", "2001:db8::66"]).contains("manual:       yes"));
    let (status, _) = env.filter(&format!("{}{}", received("x", "x.example", "IPv6:2001:db8::66"), msg("", "hi")));
    assert!(tests_of(&status).contains(&"IP_SPAM_SOURCE".to_string()), "{status}");
    env.ok(&["ip", "remove", "2001:db8::66"]);
    assert_eq!(env.run(&["ip", "show", "2001:db8::66"], b"").status.code(), Some(1));
    let o = env.run(&["ip", "add", "not-an-ip"], b"");
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not an IPv4 or IPv6 address"));
    let out = env.ok(&["ip", "expire"]);
    assert!(out.contains("dropped 0 records"), "{out}");

    // The cron purge learns old Junk as spam, and that feeds the IP database too.
    let maildir = env.dir().join("Maildir/.Junk");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let old =
        format!("{}{}", received("bulk2", "unknown", "198.51.100.51"), msg("From: z@mailer.example\n", "Old junk"));
    fs::write(maildir.join("cur/1000000000.M1P1.host:2,S"), old).unwrap();
    // Old by its name alone (the file's ctime is now): the test switch.
    let o = env
        .cmd()
        .env("SPAMFILT_TEST_AGE_FROM_NAME", "1")
        .args(["purge", "--older-than", "10d"])
        .arg(&maildir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("learned 1 as spam"), "{out}");
    assert!(env.ok(&["ip", "show", "198.51.100.51"]).contains("learned:      1 spam, 0 ham"));
}

/// Attack report F15: a real message to the user that also Cc's a honeypot (an old address in a
/// correspondent's address book) is no trap hit: `HONEYPOT_CC` (a few points), nothing queued,
/// no hit recorded for the correspondent's server. A copy delivered to the honeypot is one;
/// unless an authenticated known correspondent sent it or it was also written to the user.
#[test]
fn a_honeypot_named_beside_the_user_is_no_trap_hit() {
    let env = Env::new("honeypots = [\"oud@mijn.example\"]\nauthserv_id = \"mx.mijn.example\"\n");
    let rcvd = "Received: from mail.klant.example (mail.klant.example [198.51.100.20])\n\tby mx.mijn.example (Postfix) with ESMTP id X1; Thu,  3 Dec 2026 03:00:00 +0100\n";
    // The report's message, exactly.
    let cc = format!("{rcvd}Delivered-To: jan@mijn.example\nFrom: Piet <piet@klant.example>\nTo: Jan <jan@mijn.example>\nCc: Jan (old) <oud@mijn.example>\nSubject: Re: offerte\nDate: Thu, 3 Dec 2026 02:59:50 +0100\nMessage-ID: <p1@klant.example>\n\nHoi Jan, hierbij de offerte. Groeten, Piet\n");
    let (status, _) = env.filter(&cc);
    let t = tests_of(&status);
    assert!(t.contains(&"HONEYPOT_CC".to_string()) && !t.contains(&"HONEYPOT".to_string()), "{status}");
    assert!(!env.db.join("queue").exists() || fs::read_dir(env.db.join("queue")).unwrap().count() == 0);
    assert_eq!(env.run(&["ip", "show", "198.51.100.20"], b"").status.code(), Some(1));
    // Delivered by the user's Postfix to jan (Delivered-To at the top), the same.
    let (status, _) = env.filter(&format!("Delivered-To: jan@mijn.example\n{cc}"));
    assert!(!tests_of(&status).contains(&"HONEYPOT".to_string()), "{status}");
    // The copy the user's server delivered to the honeypot (envelope: X-Original-To, or the
    // `for` of its Received field) is a trap hit.
    let to_trap = |top: &str, rcvd: &str, from: &str, to: &str| {
        format!("{top}{rcvd}{}", msg(&format!("From: {from}\nTo: {to}\n"), "buy cheap pills now"))
    };
    let spam_rcvd = "Received: from mail.spam.example (mail.spam.example [198.51.100.21])\n\tby mx.mijn.example (Postfix) with ESMTP id X2; Thu,  3 Dec 2026 03:00:00 +0100\n";
    let (status, _) =
        env.filter(&to_trap("X-Original-To: oud@mijn.example\n", spam_rcvd, "x@spam.example", "list@spam.example"));
    assert!(tests_of(&status).contains(&"HONEYPOT".to_string()), "{status}");
    let for_trap = "Received: from mail.spam.example (mail.spam.example [198.51.100.21])\n\tby mx.mijn.example (Postfix) with ESMTP id X2\n\tfor <oud@mijn.example>; Thu,  3 Dec 2026 03:00:00 +0100\n";
    let (status, _) = env.filter(&to_trap("", for_trap, "x@spam.example", "list@spam.example"));
    assert!(tests_of(&status).contains(&"HONEYPOT".to_string()), "{status}");
    assert!(env.ok(&["ip", "show", "198.51.100.21"]).contains("honeypot:     2 hits"));
    // A Delivered-To the sender wrote below the user's server's field is not the envelope.
    let forged =
        format!("{rcvd}Delivered-To: oud@mijn.example\n{}", msg("From: a@b.example\nTo: jan@mijn.example\n", "hi"));
    assert!(!tests_of(&env.filter(&forged).0).contains(&"HONEYPOT".to_string()));

    // Jan writes to Piet: Piet is a known correspondent, jan@mijn.example the user's own.
    let sent = env.dir().join("sent");
    fs::create_dir_all(&sent).unwrap();
    fs::write(sent.join("1.eml"), msg("From: jan@mijn.example\nTo: piet@klant.example\n", "Offerte")).unwrap();
    env.ok(&["train", "--ham", sent.to_str().unwrap()]);
    // Piet writing to the old address only (envelope the honeypot): no trap for a correspondent
    // the user's server authenticated...
    let auth = "Authentication-Results: mx.mijn.example; dkim=pass header.d=klant.example\n";
    let (status, _) = env.filter(&to_trap(
        &format!("X-Original-To: oud@mijn.example\n{auth}"),
        rcvd,
        "piet@klant.example",
        "oud@mijn.example",
    ));
    let t = tests_of(&status);
    assert!(t.contains(&"HONEYPOT_CC".to_string()) && !t.contains(&"HONEYPOT".to_string()), "{status}");
    // ...but a From is easily forged (review R8): spam to the honeypot with a known
    // correspondent's From and nothing to authenticate it is a trap hit.
    let spam_rcvd3 = spam_rcvd.replace("198.51.100.21", "198.51.100.23");
    let (status, _) = env.filter(&to_trap(
        "X-Original-To: oud@mijn.example\n",
        &spam_rcvd3,
        "piet@klant.example",
        "oud@mijn.example",
    ));
    assert!(tests_of(&status).contains(&"HONEYPOT".to_string()), "{status}");
    assert!(env.ok(&["ip", "show", "198.51.100.23"]).contains("honeypot:     1 hits"));
    // Someone else writing to both of the user's addresses (the honeypot an alias of jan's
    // mailbox, so the copy's envelope is the honeypot): no trap either.
    let (status, _) = env.filter(&to_trap(
        "X-Original-To: oud@mijn.example\n",
        rcvd,
        "ann@elders.example",
        "jan@mijn.example, oud@mijn.example",
    ));
    let t = tests_of(&status);
    assert!(t.contains(&"HONEYPOT_CC".to_string()) && !t.contains(&"HONEYPOT".to_string()), "{status}");
    assert_eq!(env.run(&["ip", "show", "198.51.100.20"], b"").status.code(), Some(1));
}

/// Review R2b, R9 and R8, with the headers real Postfix 3.7 and Dovecot 2.3 write (the
/// reviewer's reproductions), on a fresh database (no Sent folder learned).
#[test]
fn the_trap_rule_with_aliases_lmtp_and_spam_naming_the_user() {
    let env = Env::new("honeypots = [\"oud@mijndomein.test\"]\n");
    let hit = |status: &str| tests_of(status).contains(&"HONEYPOT".to_string());
    let cc = |status: &str| tests_of(status).contains(&"HONEYPOT_CC".to_string());
    // R2b: Postfix local(8), the honeypot an alias of jan's mailbox: Piet's message To: jan,
    // Cc: oud reaches jan twice; the copy through the alias has the honeypot as its envelope.
    let piet = "Received: from mail.klant.example (mail.klant.example [198.51.100.20])\n\tby mx.mijndomein.test (Postfix) with ESMTP id 4F1A2A4612C;\n\tThu,  3 Dec 2026 07:20:00 +0000 (UTC)\nFrom: Piet <piet@klant.example>\nTo: Jan <jan@mijndomein.test>\nCc: Jan (old) <oud@mijndomein.test>\nSubject: Re: offerte\nDate: Thu, 3 Dec 2026 07:19:50 +0000\nMessage-ID: <p1@klant.example>\n\nHoi Jan, hierbij de offerte. Groeten, Piet\n";
    let alias_copy =
        format!("Delivered-To: oud@mijndomein.test\nX-Original-To: oud@mijndomein.test\nReturn-Path: <piet@klant.example>\n{piet}");
    let (status, _) = env.filter(&alias_copy);
    assert!(cc(&status) && !hit(&status), "{status}");
    let jan_copy =
        format!("Delivered-To: jan@mijndomein.test\nX-Original-To: jan@mijndomein.test\nReturn-Path: <piet@klant.example>\n{piet}");
    let (status, _) = env.filter(&jan_copy);
    assert!(cc(&status) && !hit(&status), "{status}");
    assert_eq!(env.run(&["ip", "show", "198.51.100.20"], b"").status.code(), Some(1), "a hit was recorded");
    // R9: the honeypot a virtual alias, delivered by LMTP to Dovecot in a transaction of its
    // own: the envelope names jan only; every To/Cc address is the honeypot: a trap hit.
    let lmtp = "Return-Path: <a@evil.example>\nDelivered-To: jan@mijndomein.test\nReceived: from mx.mijndomein.test ([127.0.0.1])\n\tby vm with LMTP\n\tid eLVGDhQcEWumIAAAg+zDdQ\n\t(envelope-from <a@evil.example>)\n\tfor <jan@mijndomein.test>; Thu, 03 Dec 2026 07:36:52 +0000\nReceived: from mail.spam.example (unknown [203.0.113.50])\n\tby mx.mijndomein.test (Postfix) with ESMTP id 2C1A6A47F1E;\n\tThu,  3 Dec 2026 07:36:52 +0000 (UTC)\nFrom: deals@evil.example\nTo: oud@mijndomein.test\nSubject: cheap pills\n\nbuy cheap pills now click here\n";
    let (status, _) = env.filter(lmtp);
    assert!(hit(&status), "{status}");
    assert!(env.ok(&["ip", "show", "203.0.113.50"]).contains("honeypot:     1 hits"));
    // R8: spam to the honeypot that also names the user (To: oud, jan): the same shape as a
    // real message Cc'ing the old address, so no trap hit (the trade-off the README states).
    let both = "Delivered-To: jan@mijndomein.test\nX-Original-To: oud@mijndomein.test\nReceived: from x (x [203.0.113.99])\n\tby mx.mijndomein.test (Postfix) with ESMTP id 1A2B3C4D5E6;\n\tThu,  3 Dec 2026 07:40:00 +0000 (UTC)\nFrom: deals@evil.example\nTo: oud@mijndomein.test, jan@mijndomein.test\nSubject: cheap pills\n\nbuy cheap pills now click here\n";
    let (status, _) = env.filter(both);
    assert!(cc(&status) && !hit(&status), "{status}");
    // Named beside addresses of other domains only (a spam list): a trap hit.
    let list = both.replace("jan@mijndomein.test\nSubject", "kees@elders.example\nSubject");
    let (status, _) = env.filter(&list);
    assert!(hit(&status), "{status}");
}

/// Attack report F14: one message learned as ham made its IP immune for good (2 spam and 2
/// honeypot hits later: spam weight 0.00, never refused). More honeypot hits than ham now count.
#[test]
fn one_learned_ham_does_not_make_a_trap_sender_immune() {
    let env = Env::new("honeypots = [\"oud@mijn.example\"]\n[policy]\nmode = \"enforce\"\n");
    let mk = |id: &str, to: &str, subject: &str, body: &str| {
        format!("Received: from mx.evil.example (mx.evil.example [203.0.113.77])\n\tby mx.mijn.example (Postfix) with ESMTP id {id}; Thu,  3 Dec 2026 03:00:00 +0100\nDelivered-To: {to}\nFrom: news@evil.example\nTo: {to}\nSubject: {subject}\nDate: Thu, 3 Dec 2026 02:59:50 +0100\nMessage-ID: <{id}@evil.example>\n\n{body}\n")
    };
    let dir = env.dir().join("warm");
    fs::create_dir_all(&dir).unwrap();
    let warm = dir.join("warm.eml");
    fs::write(
        &warm,
        mk("w1", "jan@mijn.example", "meeting notes", "Hi Jan, the notes from tuesday are attached. Regards"),
    )
    .unwrap();
    env.ok(&["train", "--ham", warm.to_str().unwrap()]);
    let policy = |rcpt: &str| {
        let req = format!("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=203.0.113.77\nrecipient={rcpt}\nsender=news@evil.example\n\n");
        String::from_utf8_lossy(&env.run(&["policy"], req.as_bytes()).stdout).into_owned()
    };
    // One ham, nothing else: a relay that carried good mail is not refused.
    assert!(policy("jan@mijn.example").starts_with("action=DUNNO"), "{}", policy("jan@mijn.example"));
    env.filter(&mk("h1", "oud@mijn.example", "cheap pills", "buy cheap pills now click here"));
    env.filter(&mk("h2", "oud@mijn.example", "cheap pills", "buy cheap pills now click here again"));
    env.ok(&["train", "--queued"]);
    let show = env.ok(&["ip", "show", "203.0.113.77"]);
    assert!(show.contains("learned:      2 spam, 1 ham") && show.contains("honeypot:     2 hits"), "{show}");
    assert!(show.contains("spam weight:  1.00") && show.contains("policy:       refused since"), "{show}");
    assert!(policy("jan@mijn.example").starts_with("action=REJECT"), "{}", policy("jan@mijn.example"));
    assert!(policy("oud@mijn.example").starts_with("action=REJECT"), "{}", policy("oud@mijn.example"));
}

#[test]
fn check_report_shows_sender_hits() {
    let env = Env::new("honeypots = [\"oud@mijndomein.be\"]\n");
    let m = format!("{}{}", received("WIN-X", "unknown", "198.51.100.9"), msg("To: oud@mijndomein.be\n", "hi"));
    let o = env.run(&["check", "--report", "-"], m.as_bytes());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("HONEYPOT") && out.contains("RDNS_NONE") && out.contains("HELO_NOT_FQDN"), "{out}");
    // check changes nothing: no queue, no IP record.
    assert!(!env.db.join("queue").exists());
    assert_eq!(env.run(&["ip", "show", "198.51.100.9"], b"").status.code(), Some(1));
}

fn exchange_received(name: &str, ip: &str) -> String {
    format!("Received: from {name} ({ip}) by mx.mijndomein.be (Microsoft SMTP Server) id 15.2; Mon, 23 Nov 2026 10:00:00 +0100\n")
}

#[test]
fn dns_blocklists_reverse_lookups_and_the_cache() {
    let table = [
        ("2.2.0.192.zen.test", Reply::A([127, 0, 0, 2], 600)),
        ("3.2.0.192.zen.test", Reply::NxDomain),
        ("4.2.0.192.zen.test", Reply::Silent),
        ("5.2.0.192.zen.test", Reply::ServFail),
        ("6.2.0.192.zen.test", Reply::A([127, 255, 255, 254], 600)),
        ("2.2.0.192.in-addr.arpa", Reply::Ptr("192-0-2-2.dyn.isp.test")),
        ("3.2.0.192.in-addr.arpa", Reply::Ptr("mail.klant.test")),
        ("bad-links.test.uribl.test", Reply::A([127, 0, 0, 2], 600)),
    ];
    let server = DnsServer::start(&table);
    let env = Env::new(&format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 400, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n",
        server.addr
    ));
    let from = |ip: &str, body: &str| format!("{}{}", exchange_received("sender", ip), msg("", body));

    // Listed: RCVD_IN_DNSBL; the reverse name, not in the Received line, was looked up: dynamic.
    let (status, _) = env.filter(&from("192.0.2.2", "hello"));
    let t = tests_of(&status);
    assert!(t.contains(&"RCVD_IN_DNSBL".to_string()) && t.contains(&"RDNS_DYNAMIC".to_string()), "{status}");
    assert_eq!(server.asked("2.2.0.192.zen.test"), 1);
    // The second message from that address asks nothing: the answers are cached.
    let (status, _) = env.filter(&from("192.0.2.2", "hello again"));
    assert!(tests_of(&status).contains(&"RCVD_IN_DNSBL".to_string()), "{status}");
    assert_eq!(server.asked("2.2.0.192.zen.test"), 1, "the cached answer was not used");
    assert_eq!(server.asked("2.2.0.192.in-addr.arpa"), 1);
    let show = env.ok(&["ip", "show", "192.0.2.2"]);
    assert!(show.contains("zen.test: listed") && show.contains("192-0-2-2.dyn.isp.test"), "{show}");
    // check and rules --stats on the same message see the cached answers as the filter did
    // (they once skipped DNS rules altogether) and ask nothing.
    let mail = env.dir().join("listed.eml");
    fs::write(&mail, from("192.0.2.2", "hello")).unwrap();
    let report = env.ok(&["check", "--report", mail.to_str().unwrap()]);
    assert!(report.contains("RCVD_IN_DNSBL") && report.contains("RDNS_DYNAMIC"), "{report}");
    let line = env.ok(&["check", mail.to_str().unwrap()]);
    let filtered = tests_of(&env.filter(&from("192.0.2.2", "hello")).0);
    let checked: Vec<String> = line.trim_end().rsplit('\t').next().unwrap().split(',').map(str::to_string).collect();
    assert_eq!(checked, filtered, "check and the filter disagree on the same message: {line}");
    let stats = env.ok(&["rules", "--stats", "--spam", mail.to_str().unwrap()]);
    let count = |rule: &str| stats.lines().find(|l| l.starts_with(rule)).map(|l| l.split_whitespace().nth(3).unwrap());
    assert_eq!(count("RCVD_IN_DNSBL"), Some("1"), "{stats}");
    assert_eq!(count("RDNS_DYNAMIC"), Some("1"), "{stats}");
    assert_eq!(server.asked("2.2.0.192.zen.test"), 1, "check or rules asked the DNS server");
    assert_eq!(server.asked("2.2.0.192.in-addr.arpa"), 1);

    // Not listed (NXDOMAIN): no hit, and cached as such.
    let (status, _) = env.filter(&from("192.0.2.3", "hello"));
    assert!(!tests_of(&status).iter().any(|t| t == "RCVD_IN_DNSBL" || t.starts_with("RDNS")), "{status}");
    env.filter(&from("192.0.2.3", "hello again"));
    assert_eq!(server.asked("3.2.0.192.zen.test"), 1);

    // A silent server: the message is delivered within the timeout, nothing counts, nothing cached.
    let t0 = std::time::Instant::now();
    let (status, _) = env.filter(&from("192.0.2.4", "hello"));
    assert!(t0.elapsed() < std::time::Duration::from_secs(5), "a dead resolver held the delivery");
    assert!(!tests_of(&status).contains(&"RCVD_IN_DNSBL".to_string()));
    env.filter(&from("192.0.2.4", "hello again"));
    assert!(server.asked("4.2.0.192.zen.test") >= 2, "a timeout must not be cached");
    // SERVFAIL and the lists' error codes are not evidence either, and not cached.
    for (ip, name) in [("192.0.2.5", "5.2.0.192.zen.test"), ("192.0.2.6", "6.2.0.192.zen.test")] {
        let (status, _) = env.filter(&from(ip, "hello"));
        assert!(!tests_of(&status).contains(&"RCVD_IN_DNSBL".to_string()), "{status}");
        env.filter(&from(ip, "again"));
        assert_eq!(server.asked(name), 2, "{name} was cached");
    }

    // Link domains against the URI blocklist.
    let (status, _) = env.filter(&msg("", "Look at http://www.bad-links.test/offer and http://good.test/"));
    assert!(tests_of(&status).contains(&"URI_IN_DNSBL".to_string()), "{status}");
    assert_eq!(server.asked("good.test.uribl.test"), 1);

    // A dead resolver port: mail still flows.
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let env2 = Env::new(&format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 200, dnsbl = [\"zen.test\"] }}\n",
        dead.local_addr().unwrap()
    ));
    let (status, _) = env2.filter(&from("192.0.2.2", "hello"));
    assert!(!tests_of(&status).contains(&"RCVD_IN_DNSBL".to_string()));
}

/// A learned sender: ham trained from a From address through a relay makes later mail from that
/// address through the same /24 `LEARNED_SENDER` (tests=, `check --report`, `db dump`, `db
/// stats`); the same From through another relay, a From that is the user's own, a key learned
/// as spam too, `forget` of the ham and `learned_senders = false` do not.
#[test]
fn ham_learned_from_a_sender_through_a_relay_is_evidence_for_that_sender_there_only() {
    let env = Env::new("");
    let relay = "mail.nieuwsbrief.example";
    let letter = |ip: &str, n: u32| {
        delivered_via(
            relay,
            ip,
            "From: Nieuws <Nieuws@Winkel.example>\nTo: ik@mijn.be\n",
            &format!("Aanbieding nummer {n}"),
        )
    };
    let trained = env.dir().join("ham.eml");
    fs::write(&trained, letter("198.51.100.7", 1)).unwrap();
    // The user's own address, forged by spam that came the same way, is never a learned sender.
    let own = env.dir().join("own.eml");
    fs::write(&own, delivered_via(relay, "198.51.100.7", "From: ik@mijn.be\n", "Hallo")).unwrap();
    env.ok(&["train", "--ham", trained.to_str().unwrap(), own.to_str().unwrap()]);
    let has = |m: &str| tests_of(&env.filter(m).0).contains(&"LEARNED_SENDER".to_string());
    // The same sender through another machine of the same /24: yes; through another /24: no.
    assert!(has(&letter("198.51.100.200", 2)), "{}", env.filter(&letter("198.51.100.200", 2)).0);
    assert!(!has(&letter("203.0.113.7", 3)));
    let forged = delivered_via(relay, "198.51.100.7", "From: ik@mijn.be\n", "Loans");
    assert!(!has(&forged));
    let dump = env.ok(&["db", "dump"]);
    let senders: Vec<&str> = dump.lines().filter(|l| l.starts_with("sender ")).collect();
    assert_eq!(senders.len(), 1, "{dump}");
    assert!(senders[0].starts_with("sender nieuws@winkel.example 198.51.100.0/24 1 0 "), "{dump}");
    let o = env.run(&["check", "--report", "-"], letter("198.51.100.9", 4).as_bytes());
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("LEARNED_SENDER"), "{report}");
    assert!(
        report.contains(
            "sender: From nieuws@winkel.example through 198.51.100.0/24 learned as ham 1, as spam 0: LEARNED_SENDER counts 50% of its points"
        ),
        "{report}"
    );
    assert!(env.ok(&["db", "stats"]).contains("senders:      1 learned, 1 as ham only (LEARNED_SENDER)"));
    // Turned off in the config: nothing, though the record stays.
    let off = Env::new("learned_senders = false\n");
    off.ok(&["train", "--ham", trained.to_str().unwrap()]);
    assert!(!tests_of(&off.filter(&letter("198.51.100.7", 5)).0).contains(&"LEARNED_SENDER".to_string()));
    assert!(off.ok(&["db", "dump"]).contains("\nsender nieuws@winkel.example 198.51.100.0/24 1 0 "));
    // Spam learned from the same key: no ham evidence.
    let spam = env.dir().join("spam.eml");
    fs::write(&spam, letter("198.51.100.66", 6)).unwrap();
    env.ok(&["train", "--spam", spam.to_str().unwrap()]);
    assert!(!has(&letter("198.51.100.7", 7)));
    let o = env.run(&["check", "--report", "-"], letter("198.51.100.9", 8).as_bytes());
    assert!(String::from_utf8_lossy(&o.stdout).contains("learned as ham 1, as spam 1: learned as spam too"));
    // Forgetting both messages takes the record back with them.
    env.ok(&["forget", spam.to_str().unwrap(), trained.to_str().unwrap()]);
    assert!(!env.ok(&["db", "dump"]).contains("\nsender "));
    assert!(!has(&letter("198.51.100.7", 9)));
    // A move (ham learned, then trained as spam) leaves the key learned as spam only.
    env.ok(&["train", "--ham", trained.to_str().unwrap()]);
    assert!(has(&letter("198.51.100.7", 10)));
    env.ok(&["train", "--spam", trained.to_str().unwrap()]);
    assert!(env.ok(&["db", "dump"]).contains("\nsender nieuws@winkel.example 198.51.100.0/24 0 1 "));
    assert!(!has(&letter("198.51.100.7", 11)));
}

/// A learned sender could not be removed: a user who learned a forged or compromised
/// correspondent's mail as ham had no way back but `forget` of each message (`address show`
/// and `address remove` saw only correspondents and own addresses: `address show` of a
/// learned sender exited 1 and `address remove` removed nothing). Now `address show`
/// lists an address's learned senders, `address list --senders` lists them all, and `address
/// remove` drops them with the address's other records, and LEARNED_SENDER with them.
#[test]
fn learned_senders_are_shown_and_removed_with_their_address() {
    let env = Env::new("");
    let letter = |ip: &str, n: u32| {
        delivered_via(
            "mail.klant.example",
            ip,
            "From: Piet <Piet@Klant.example>\nTo: ik@mijn.be\n",
            &format!("Factuur nummer {n}"),
        )
    };
    let mut files = Vec::new();
    for (n, ip) in [(1, "198.51.100.7"), (2, "198.51.100.8"), (3, "2001:db8:1:2::5")] {
        let f = env.dir().join(format!("ham{n}.eml"));
        fs::write(&f, letter(ip, n)).unwrap();
        files.push(f.to_str().unwrap().to_string());
    }
    let mut args = vec!["train", "--ham"];
    args.extend(files.iter().map(String::as_str));
    env.ok(&args);
    let has = |m: &str| tests_of(&env.filter(m).0).contains(&"LEARNED_SENDER".to_string());
    assert!(has(&letter("198.51.100.9", 4)));

    let show = env.ok(&["address", "show", "<PIET@klant.example>"]);
    let lines: Vec<&str> = show.lines().collect();
    assert_eq!(lines.len(), 2, "{show}");
    assert!(
        lines[0].starts_with(
            "piet@klant.example: learned sender through 198.51.100.0/24: learned as ham 2, as spam 0, last "
        ) && lines[0].ends_with(" UTC: LEARNED_SENDER counts 67% of its points"),
        "{show}"
    );
    assert!(
        lines[1].starts_with("piet@klant.example: learned sender through 2001:db8:1::/48: learned as ham 1,"),
        "{show}"
    );
    let list = env.ok(&["address", "list", "--senders"]);
    assert!(list.starts_with("piet@klant.example\tsender\tblock=198.51.100.0/24\tham=2\tspam=0\tlast="), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");
    assert_eq!(env.ok(&["address", "list"]).lines().filter(|l| l.contains("\tsender\t")).count(), 2);
    assert_eq!(env.ok(&["address", "list", "--own"]).lines().filter(|l| l.contains("\tsender\t")).count(), 0);

    // A dry run says what would go and changes nothing.
    let dry = env.ok(&["address", "remove", "--dry-run", "piet@klant.example"]);
    assert_eq!(dry.lines().count(), 2, "{dry}");
    assert!(
        dry.starts_with("would remove piet@klant.example (learned sender through 198.51.100.0/24: learned as ham 2"),
        "{dry}"
    );
    assert!(has(&letter("198.51.100.9", 5)));
    let senders = || env.ok(&["db", "dump"]).lines().filter(|l| l.starts_with("sender ")).count();
    assert_eq!(senders(), 2);

    let out = env.ok(&["address", "remove", "piet@klant.example"]);
    assert!(
        out.contains("removed piet@klant.example (learned sender through 2001:db8:1::/48: learned as ham 1"),
        "{out}"
    );
    assert_eq!(senders(), 0);
    assert!(!has(&letter("198.51.100.9", 6)));
    let o = env.run(&["check", "--report", "-"], letter("198.51.100.9", 7).as_bytes());
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("sender: From piet@"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = env.run(&["address", "show", "piet@klant.example"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nor a learned sender in "),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Forgetting a message whose sender record is gone is no error and brings nothing back.
    env.ok(&["forget", &files[0]]);
    assert_eq!(senders(), 0);
    // New mail from it trained as ham records it again.
    let again = env.dir().join("ham8.eml");
    fs::write(&again, letter("198.51.100.7", 8)).unwrap();
    env.ok(&["train", "--ham", again.to_str().unwrap()]);
    assert_eq!(senders(), 1);
}

/// Attack report F11: ten harmless (hidden) links before the real one kept it from the URI
/// blocklist lookups, which asked the first ten link domains in document order. The links a
/// reader sees come first, taken from both ends: padding before (or after) the real link does
/// not push it out.
#[test]
fn padding_links_do_not_keep_the_real_one_from_the_uri_blocklist() {
    let server = DnsServer::start(&[("evil.test.uribl.test", Reply::A([127, 0, 0, 2], 600))]);
    let env = Env::new(&format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 400, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n",
        server.addr
    ));
    let links = |n: std::ops::Range<u32>, style: &str| -> String {
        n.map(|i| format!("<a href=\"http://site{i}.test/\"{style}>site {i}</a> ")).collect()
    };
    let real = "<p>Great deal: <a href=\"http://evil.test/buy\">buy now</a></p>";
    let html = "Content-Type: text/html\n";
    for body in [
        format!("<div style=\"display:none\">{}</div>{real}", links(0..30, "")),
        format!("{}{real}", links(0..30, " style=\"display:none\"")),
        format!("<p>{}</p>{real}", links(0..30, "")),
        format!("{real}<p>{}</p>", links(0..30, "")),
        format!("<img src=\"http://img0.test/a.png\">{}{real}", links(1..30, " style=\"visibility:hidden\"")),
        // Review R3: padding at both ends, hidden in ways the link's `hidden` does not see (a CSS
        // class, white on white), or not hidden at all; and padding placed unevenly.
        format!(
            "<style>.h{{display:none}}</style>{}{real}{}",
            links(0..10, " class=\"h\""),
            links(10..20, " class=\"h\"")
        ),
        format!(
            "<body bgcolor=\"#ffffff\">{}{real}{}</body>",
            links(0..10, "><font color=\"#ffffff\">.</font></a><a href=\"http://x.test/\""),
            links(10..20, "")
        ),
        format!("<p>{}</p>{real}<p>{}</p>", links(0..30, ""), links(30..60, "")),
        format!("<p>{}</p>{real}<p>{}</p>", links(0..5, ""), links(5..30, "")),
        format!("<p>{}</p>{real}<p>{}</p>", links(0..25, ""), links(25..30, "")),
    ] {
        let (status, _) = env.filter(&msg(html, &body));
        assert!(tests_of(&status).contains(&"URI_IN_DNSBL".to_string()), "{status}\n{body}");
    }
}
