//! The Redis store, for real: each test starts its own `redis-server` on a free loopback port
//! (`--save '' --appendonly no` unless it needs a restart to keep data; never a system
//! service) and runs the real binary as two "hosts" (two configs, two database directories,
//! one Redis). Without redis-server a test says "skipped", except under CI (env CI set), where
//! that is a failure (.ci/install-deps.sh installs Debian's `redis-server`).

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const REDIS: &str = "redis-server";

/// A redis-server of the test's own.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
}

impl Server {
    /// Starts one in `dir` (its working directory), with `extra` arguments; `None` (skipped)
    /// when redis-server is not installed.
    fn start(dir: &Path, extra: &[&str]) -> Option<Server> {
        if Command::new(REDIS).arg("--version").output().is_err() {
            common::skip("redis-server is not installed (run .ci/install-deps.sh)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut args: Vec<String> =
            ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"].iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut s = Server { child: spawn_server(dir, port, &args), port, dir: dir.to_path_buf(), args };
        s.wait_ready();
        Some(s)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            // PONG, or NOAUTH from a server with a password: it is listening. LOADING (a restart
            // reading its append-only file back) is not ready yet: commands fail until it is done.
            if let Ok(Some(reply)) = self.ask(&["PING"]) {
                if !reply.starts_with("LOADING") {
                    return;
                }
            }
            assert!(start.elapsed() < Duration::from_secs(20), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One command through a plain socket; the reply's first line without its type byte.
    fn ask(&self, args: &[&str]) -> std::io::Result<Option<String>> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(out.as_bytes())?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line)?;
        let line = line.trim_end().to_string();
        if let Some(n) = line.strip_prefix('$') {
            if n == "-1" {
                return Ok(None);
            }
            let mut v = String::new();
            r.read_line(&mut v)?;
            return Ok(Some(v.trim_end().to_string()));
        }
        Ok(Some(line.get(1..).unwrap_or("").to_string()))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and directory (what it saved is loaded).
    fn restart(&mut self) {
        self.kill();
        self.child = spawn_server(&self.dir, self.port, &self.args);
        self.wait_ready();
    }
}

fn spawn_server(dir: &Path, port: u16, args: &[String]) -> Child {
    Command::new(REDIS)
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server")
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A "host": its own config file and database directory.
struct Host {
    dir: PathBuf,
}

impl Host {
    fn new(root: &Path, name: &str, store: &str) -> Host {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.toml"), store).unwrap();
        Host { dir }
    }

    /// The binary with this host's database and config, and the host's directory as HOME.
    fn cmd(&self) -> Command {
        let mut c = common::spamfilt_at(&self.dir.join("db"), &self.dir.join("config.toml"));
        c.env("HOME", &self.dir);
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        common::run_with_stdin(self.cmd().args(args), stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args, b"");
        assert!(o.status.success(), "{args:?}: {}{}", text(&o.stdout), text(&o.stderr));
        text(&o.stdout)
    }

    fn messages_line(&self) -> String {
        let stats = self.ok(&["db", "stats"]);
        stats.lines().find(|l| l.starts_with("messages:")).expect("a messages: line").to_string()
    }
}

/// The config of a host using `url`. Deliveries wait up to 3 s for Redis here, not the default
/// 200 ms: these tests run debug builds on machines that may be busy, and what they check is
/// what is shared and that nothing is lost, not how fast (scripts/bench.py measures that). The
/// bounded wait itself is tested with a server that never answers.
fn store(url: &str) -> String {
    format!("[store]\nredis = \"{url}\"\nprefix = \"test\"\ntimeout_ms = 3000\n")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ham(i: usize) -> String {
    format!(
        "From: Jan Peeters <jan{i}@klant.be>\nTo: me@example.org\nSubject: project meeting notes {i}\n\
         Message-ID: <h{i}@klant.be>\nDate: Mon, 1 Dec 2025 10:00:00 +0000\n\n\
         Hello,\n\nthe quarterly report draft is attached; let us review the budget figures and the\n\
         planning at the meeting on thursday. regards, Jan {i}\n"
    )
}

fn spam(i: usize) -> String {
    format!(
        "From: Best Pharmacy <deals{i}@cheap-pills.example>\nTo: me@example.org\n\
         Subject: cheap pills discount winner {i}\nMessage-ID: <s{i}@cheap-pills.example>\n\
         Date: Mon, 1 Dec 2025 10:00:00 +0000\n\n\
         Buy cheap viagra and cialis pills now, huge discount for the lottery winner, casino bonus,\n\
         click here to claim your prize {i}\n"
    )
}

/// Writes messages `from..to` of each class into `root/NAME/{ham,spam}`.
fn folders(root: &Path, name: &str, from: usize, to: usize) -> (String, String) {
    let (h, s) = (root.join(name).join("ham"), root.join(name).join("spam"));
    fs::create_dir_all(&h).unwrap();
    fs::create_dir_all(&s).unwrap();
    for i in from..to {
        fs::write(h.join(format!("{i}.eml")), ham(i)).unwrap();
        fs::write(s.join(format!("{i}.eml")), spam(i)).unwrap();
    }
    (h.to_str().unwrap().to_string(), s.to_str().unwrap().to_string())
}

/// A host `name` on `server` (the usual [store] section), trained on messages `0..n` of each
/// class written into `root/base`.
fn trained_host(root: &Path, name: &str, server: &Server, n: usize) -> Host {
    let host = Host::new(root, name, &store(&server.url()));
    let (h, s) = folders(root, "base", 0, n);
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    host
}

/// The value of one of our fields (unfolded) in a filtered message.
fn field(out: &[u8], name: &str) -> Option<String> {
    let s = text(out);
    let head = s.split("\n\n").next().unwrap_or("").replace("\n\t", " ").replace("\n ", " ");
    head.lines().find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
}

#[test]
fn two_hosts_share_what_is_learned() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let a = Host::new(tmp.path(), "a", &store(&server.url()));
    let b = Host::new(tmp.path(), "b", &store(&server.url()));
    let probe = spam(999);
    let before = b.run(&["filter"], probe.as_bytes());
    let status_before = field(&before.stdout, "X-Spam-Status").unwrap();
    assert!(!status_before.contains("SPAMFILT_DEGRADED"), "{status_before}");

    let (h, s) = folders(tmp.path(), "mail", 0, 15);
    let out = a.ok(&["train", "--ham", &h, "--spam", &s]);
    assert!(out.contains("learned 15 ham and 15 spam"), "{out}");
    // Nothing of it is in host A's own directory: the counts are in Redis.
    assert!(!a.dir.join("db").join("tokens.db").exists());
    assert!(!a.dir.join("db").join("lr.weights").exists());

    // Host B sees it: db stats, the filter, check.
    let stats = b.ok(&["db", "stats"]);
    assert!(stats.contains("backend:      redis"), "{stats}");
    assert!(stats.contains("messages:     15 ham, 15 spam"), "{stats}");
    assert!(stats.contains("lr weights:   15 ham, 15 spam learned"), "{stats}");
    let after = b.run(&["filter"], probe.as_bytes());
    assert_eq!(after.status.code(), Some(0));
    let status = field(&after.stdout, "X-Spam-Status").unwrap();
    assert!(status.starts_with("Yes,"), "{status}");
    assert!(status.contains("BAYES_99") && status.contains("LR_"), "{status}");
    assert!(!status.contains("SPAMFILT_DEGRADED"), "{status}");
    assert_eq!(common::strip_spam_fields(&after.stdout), probe.as_bytes());
    let probe_file = tmp.path().join("probe.eml");
    fs::write(&probe_file, &probe).unwrap();
    let check_a = a.ok(&["check", probe_file.to_str().unwrap()]);
    let check_b = b.ok(&["check", probe_file.to_str().unwrap()]);
    assert_eq!(check_a, check_b);
    assert!(check_b.contains("\tspam\t") && check_b.contains("BAYES_99"), "{check_b}");
    // The scores agree with the filter's (which writes one decimal, as SpamAssassin does).
    let score = status.split("score=").nth(1).unwrap().split(' ').next().unwrap();
    assert!(agrees(&check_b, score), "{check_b} vs {status}");

    // The ledger is shared too: B re-learning A's messages changes nothing, and a correction
    // on B moves a message A learned.
    let out = b.ok(&["train", "--ham", &h, "--spam", &s]);
    assert!(out.contains("learned 0 ham and 0 spam; 30 already known"), "{out}");
    let one = tmp.path().join("mail/spam/3.eml");
    let out = b.ok(&["train", "--ham", one.to_str().unwrap()]);
    assert!(out.contains("1 moved"), "{out}");
    assert_eq!(a.messages_line(), "messages:     16 ham, 14 spam");
    let out = a.ok(&["forget", one.to_str().unwrap()]);
    assert!(out.contains("forgot 1"), "{out}");
    assert_eq!(b.messages_line(), "messages:     15 ham, 14 spam");

    // Host B keeps a local copy of the LR table (fetched once per training run, not per
    // message); after A's forget changed the weights, B's filter uses the new ones.
    assert!(b.dir.join("db").join("lr.redis-cache").exists());
    let again = b.run(&["filter"], probe.as_bytes());
    let status = field(&again.stdout, "X-Spam-Status").unwrap();
    let score = status.split("score=").nth(1).unwrap().split(' ').next().unwrap();
    let check_a = a.ok(&["check", probe_file.to_str().unwrap()]);
    assert!(agrees(&check_a, score), "{check_a} vs {status}");
    fs::write(b.dir.join("db").join("lr.redis-cache"), b"garbage").unwrap();
    let again = b.run(&["filter"], probe.as_bytes());
    assert_eq!(field(&again.stdout, "X-Spam-Status").unwrap(), status, "a damaged local copy is fetched again");

    // Another prefix is another user: nothing shared.
    let c = Host::new(tmp.path(), "c", &format!("[store]\nredis = \"{}\"\nprefix = \"other\"\n", server.url()));
    assert_eq!(c.messages_line(), "messages:     0 ham, 0 spam");

    // A dump from Redis loads into files and gives the same counts and scores.
    let dump = tmp.path().join("dump.txt");
    a.ok(&["db", "dump", dump.to_str().unwrap()]);
    let f = Host::new(tmp.path(), "files", "");
    f.ok(&["db", "load", dump.to_str().unwrap()]);
    assert_eq!(f.messages_line(), "messages:     15 ham, 14 spam");
    assert!(f.ok(&["db", "stats"]).contains("backend:      files"));
    assert_eq!(f.ok(&["check", probe_file.to_str().unwrap()]), a.ok(&["check", probe_file.to_str().unwrap()]));
}

#[test]
fn concurrent_filters_and_trainers_lose_no_count() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    // This test is about counts, not latency: 22 processes of a debug build on a busy machine
    // can take longer than the 200 ms a delivery waits by default.
    let config = store(&server.url()).replace("timeout_ms = 3000", "timeout_ms = 5000");
    let hosts = [Host::new(tmp.path(), "a", &config), Host::new(tmp.path(), "b", &config)];
    let (h0, s0) = folders(tmp.path(), "base", 0, 12);
    hosts[0].ok(&["train", "--ham", &h0, "--spam", &s0]);
    for round in 0..2 {
        // Two trainers (one per host) on different messages, and 20 filters (ten per host).
        let sets: Vec<(String, String)> = (0..2)
            .map(|t| {
                folders(tmp.path(), &format!("r{round}t{t}"), 100 * (round * 2 + t + 1), 100 * (round * 2 + t + 1) + 20)
            })
            .collect();
        std::thread::scope(|scope| {
            let mut jobs = Vec::new();
            for (t, (h, s)) in sets.iter().enumerate() {
                let host = &hosts[t];
                jobs.push(scope.spawn(move || {
                    let o = host.run(&["train", "--ham", h, "--spam", s], b"");
                    assert!(o.status.success(), "{}", text(&o.stderr));
                }));
            }
            for i in 0..20 {
                let host = &hosts[i % 2];
                jobs.push(scope.spawn(move || {
                    let msg = if i % 3 == 0 { ham(5000 + i) } else { spam(5000 + i) };
                    let o = host.run(&["filter"], msg.as_bytes());
                    assert_eq!(o.status.code(), Some(0));
                    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
                    let status = field(&o.stdout, "X-Spam-Status").unwrap();
                    assert!(!status.contains("SPAMFILT_DEGRADED"), "{status}\n{}", text(&o.stderr));
                }));
            }
            for j in jobs {
                j.join().unwrap();
            }
        });
        let n = 12 + 40 * (round + 1);
        assert_eq!(hosts[1].messages_line(), format!("messages:     {n} ham, {n} spam"));
    }
    let stats = hosts[0].ok(&["db", "stats"]);
    assert!(stats.contains("ledger:       184 messages"), "{stats}");
    assert!(stats.contains("lr weights:   92 ham, 92 spam learned"), "{stats}");
}

#[test]
fn redis_killed_during_training_leaves_the_counts_from_before_or_after() {
    let tmp = tempfile::tempdir().unwrap();
    // This one keeps its data across a restart: an append-only file synced on every write.
    let Some(mut server) = Server::start(tmp.path(), &["--appendonly", "yes", "--appendfsync", "always"]) else {
        return;
    };
    let host = Host::new(tmp.path(), "a", &store(&server.url()));
    let (h, s) = folders(tmp.path(), "base", 0, 10);
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    let mut learned = 10;
    let mut outcomes = (0, 0);
    for (round, delay) in [30u64, 120, 250, 400, 700, 1200].into_iter().enumerate() {
        let (h, s) = folders(tmp.path(), &format!("run{round}"), 1000 * (round + 1), 1000 * (round + 1) + 150);
        let child = host
            .cmd()
            .args(["train", "--ham", &h, "--spam", &s])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        server.kill();
        let o = child.wait_with_output().unwrap();
        server.restart();
        // The cut run could not release its lock (Redis was gone): the next run on this host
        // takes it over (its process is gone), not waiting for it to expire.
        let line = host.messages_line();
        if o.status.success() {
            // The run finished before Redis died.
            learned += 150;
            outcomes.1 += 1;
        } else {
            let err = text(&o.stderr);
            assert!(err.contains("training failed") && err.contains("Redis store"), "{err}");
            if line != format!("messages:     {learned} ham, {learned} spam") {
                // Killed after the commit reached Redis, before the answer came back.
                learned += 150;
            }
            outcomes.0 += 1;
        }
        assert_eq!(
            line,
            format!("messages:     {learned} ham, {learned} spam"),
            "round {round}: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        // The ledger agrees with the totals: nothing half-way.
        let stats = host.ok(&["db", "stats"]);
        assert!(stats.contains(&format!("ledger:       {} messages", 2 * learned)), "{stats}");
    }
    eprintln!("runs cut by the kill: {}, runs that finished first: {}", outcomes.0, outcomes.1);
}

#[test]
fn deliveries_go_on_when_redis_stops_hangs_or_answers_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut server) = Server::start(tmp.path(), &[]) else { return };
    let host = Host::new(tmp.path(), "a", &store(&server.url()));
    let (h, s) = folders(tmp.path(), "base", 0, 12);
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    let deliver = |i: usize| {
        let msg = spam(7000 + i);
        let o = host.run(&["filter"], msg.as_bytes());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes(), "delivered whole");
        (field(&o.stdout, "X-Spam-Status").unwrap(), field(&o.stdout, "X-Spam-Degraded"), text(&o.stderr))
    };
    // Redis stopped in the middle of a stream of deliveries.
    let mut degraded = 0;
    for i in 0..30 {
        if i == 10 {
            server.kill();
        }
        let (status, why, err) = deliver(i);
        if i < 10 {
            assert!(!status.contains("SPAMFILT_DEGRADED"), "{status}");
            assert!(status.contains("BAYES_99"), "{status}");
        } else {
            assert!(status.contains("SPAMFILT_DEGRADED"), "{status}");
            assert!(why.as_deref().unwrap_or("").contains("Redis store"), "{why:?}");
            assert!(err.contains("degraded: the Redis store"), "{err}");
            degraded += 1;
        }
    }
    assert_eq!(degraded, 20);
    // Back up: scored with the shared counts again (the data is gone with --save '': retrain).
    server.restart();
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    assert!(deliver(100).0.contains("BAYES_99"));

    // A server that hangs (stopped with SIGSTOP): the delivery waits its bounded time.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    let (status, why, _) = deliver(101);
    assert!(status.contains("SPAMFILT_DEGRADED"), "{status}");
    assert!(why.unwrap_or_default().contains("no answer in time"));
    // A honeypot hit then is not sent to the hung server a second time: queued on the host.
    let trap = Host::new(tmp.path(), "trap", &format!("honeypots = [\"trap@example.org\"]\n{}", store(&server.url())));
    let msg = relayed("198.51.100.7", "trap@example.org", 1);
    let o = trap.run(&["filter"], msg.as_bytes());
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    let err = text(&o.stderr);
    assert!(err.contains("not recorded") && err.contains("did not answer a moment ago"), "{err}");
    assert_eq!(fs::read_dir(trap.dir.join("db/queue")).unwrap().count(), 1);
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    // Training fails clearly and changes nothing while the server is unreachable.
    let before = host.messages_line();
    server.kill();
    let (h2, s2) = folders(tmp.path(), "more", 50, 55);
    let o = host.run(&["train", "--ham", &h2, "--spam", &s2], b"");
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("training failed") && err.contains("Connection refused"), "{err}");
    server.restart();
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    assert_eq!(host.messages_line(), before);

    // A server that answers garbage.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            let mut c = c;
            let mut buf = [0u8; 65536];
            let _ = std::io::Read::read(&mut c, &mut buf);
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let bad = Host::new(tmp.path(), "bad", &store(&format!("redis://127.0.0.1:{port}/0")));
    let msg = spam(1);
    let o = bad.run(&["filter"], msg.as_bytes());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    let why = field(&o.stdout, "X-Spam-Degraded").unwrap_or_default();
    assert!(why.contains("not a RESP reply"), "{why}");
    let o = bad.run(&["train", "--spam", &s], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("not a RESP reply"), "{}", text(&o.stderr));
}

#[test]
fn a_password_and_a_unix_socket() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("redis.sock");
    let Some(server) = Server::start(
        tmp.path(),
        &["--requirepass", "s3cret@pw", "--unixsocket", sock.to_str().unwrap(), "--unixsocketperm", "700"],
    ) else {
        return;
    };
    fs::write(tmp.path().join("pw"), "s3cret@pw\n").unwrap();
    let unix = Host::new(
        tmp.path(),
        "unix",
        &format!("[store]\nredis = \"unix://{}?db=2\"\npassword_file = \"../pw\"\nprefix = \"jan\"\n", sock.display()),
    );
    let tcp = Host::new(
        tmp.path(),
        "tcp",
        &format!("[store]\nredis = \"redis://:s3cret%40pw@127.0.0.1:{}/2\"\nprefix = \"jan\"\n", server.port),
    );
    let (h, s) = folders(tmp.path(), "m", 0, 3);
    unix.ok(&["train", "--ham", &h, "--spam", &s]);
    assert_eq!(tcp.messages_line(), "messages:     3 ham, 3 spam");
    let stats = tcp.ok(&["db", "stats"]);
    assert!(!stats.contains("s3cret"), "the password is never shown: {stats}");
    // A wrong password: training refuses, the filter delivers degraded.
    let wrong =
        Host::new(tmp.path(), "wrong", &format!("[store]\nredis = \"redis://:nope@127.0.0.1:{}/2\"\n", server.port));
    let o = wrong.run(&["train", "--spam", &s], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("refused"), "{}", text(&o.stderr));
    let o = wrong.run(&["filter"], spam(1).as_bytes());
    assert_eq!(o.status.code(), Some(0));
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("SPAMFILT_DEGRADED"));
    // lint says so (exit 1), and is content with the right password.
    let o = wrong.run(&["lint"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("redis://:***@127.0.0.1") && text(&o.stdout).contains("refused"),
        "{}",
        text(&o.stdout)
    );
    let o = tcp.run(&["lint"], b"");
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    // A bad URL in the config: the filter uses the defaults for it (local files) and says so;
    // other commands refuse.
    let typo = Host::new(tmp.path(), "typo", "[store]\nredis = \"redis:/127.0.0.1\"\n");
    let o = typo.run(&["filter"], spam(1).as_bytes());
    assert_eq!(o.status.code(), Some(0));
    assert!(field(&o.stdout, "X-Spam-Degraded").unwrap_or_default().contains("store"), "{}", text(&o.stdout));
    let o = typo.run(&["db", "stats"], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("store.redis"), "{}", text(&o.stderr));
}

/// Runs `host` with `args` and `stdin`, and fails the test when it has not ended after `bound`
/// (a generous bound that only tells "ended" from "hung"; the process is killed then).
fn run_bounded(host: &Host, args: &[&str], stdin: &[u8], bound: Duration) -> Output {
    let mut child =
        host.cmd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spamfilt {args:?} did not end within {bound:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

#[test]
fn a_hung_redis_on_a_unix_socket_does_not_hang_deliveries_once_its_backlog_is_full() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("redis.sock");
    let Some(server) = Server::start(tmp.path(), &["--unixsocket", sock.to_str().unwrap(), "--tcp-backlog", "4"])
    else {
        return;
    };
    let host = Host::new(
        tmp.path(),
        "a",
        &format!("[store]\nredis = \"unix://{}\"\nprefix = \"test\"\ntimeout_ms = 300\n", sock.display()),
    );
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    // Each delivery leaves its connection in the stopped server's listen backlog: from the
    // sixth on, the backlog is full and a blocking connect would wait forever.
    for i in 0..10 {
        let msg = spam(i);
        let o = run_bounded(&host, &["filter"], msg.as_bytes(), Duration::from_secs(10));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes(), "delivered whole");
        let status = field(&o.stdout, "X-Spam-Status").unwrap();
        assert!(status.contains("SPAMFILT_DEGRADED"), "delivery {i}: {status}");
        assert!(field(&o.stdout, "X-Spam-Degraded").unwrap_or_default().contains("in time"), "delivery {i}");
    }
    // The policy service too (a hang there holds Postfix's RCPT): it answers DUNNO in time.
    let req = "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.100.7\n\
               sender=someone@sender.test\nrecipient=me@example.org\n\n";
    let o = run_bounded(&host, &["policy"], req.as_bytes(), Duration::from_secs(10));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("action=DUNNO"), "{}", text(&o.stdout));
    assert!(Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
}

/// A fake Redis that answers every connection with `answer` and then keeps it open, silent.
fn fake_redis(answer: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let mut buf = [0u8; 65536];
                let _ = std::io::Read::read(&mut c, &mut buf);
                let _ = c.write_all(answer);
                std::thread::sleep(Duration::from_secs(5));
            });
        }
    });
    port
}

#[test]
fn a_server_announcing_huge_replies_under_a_memory_limit_gives_a_degraded_scored_delivery() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    // The totals (four nils), then a 512 MB string or a 64M-element array announced, and
    // nothing more: under Dovecot's usual address-space limit, allocating what was announced
    // fails, and the filter fell back to passing the message on with no X-Spam fields at all.
    for (name, answer) in [
        ("bulk", &b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$536870000\r\n"[..]),
        ("array", b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n*67108864\r\n:1\r\n:1\r\n:1\r\n"),
    ] {
        let port = fake_redis(answer);
        let host = Host::new(
            tmp.path(),
            name,
            &format!("[store]\nredis = \"redis://127.0.0.1:{port}/0\"\nprefix = \"test\"\ntimeout_ms = 1000\n"),
        );
        let msg = spam(1);
        let mut cmd = host.cmd();
        cmd.arg("filter");
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let l = libc::rlimit { rlim_cur: 400_000 << 10, rlim_max: 400_000 << 10 };
                if libc::setrlimit(libc::RLIMIT_AS, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = common::run_with_stdin(&mut cmd, msg.as_bytes());
        assert_eq!(o.status.code(), Some(0), "{name}: {}", text(&o.stderr));
        assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes(), "{name}: delivered whole");
        let status = field(&o.stdout, "X-Spam-Status").unwrap_or_else(|| panic!("{name}: no X-Spam-Status"));
        assert!(status.contains("SPAMFILT_DEGRADED"), "{name}: {status}");
        let why = field(&o.stdout, "X-Spam-Degraded").unwrap_or_default();
        assert!(why.contains("Redis store"), "{name}: {why}");
    }
}

/// Each string of a delivery's answer was bounded alone (by the LR table's size): token values
/// another writer made 1 MB each were read whole, 1 MB per token of the message, before they were
/// found damaged (2,000 of them in a store: 2 GB in one delivery's time). A round trip's strings
/// are now bounded together too.
#[test]
fn a_delivery_reads_a_bounded_answer_however_many_huge_values_it_holds() {
    let tmp = tempfile::tempdir().unwrap();
    // The totals (four nils), then eight token values of 1 MB each.
    let mut answer = b"*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n*8\r\n".to_vec();
    for _ in 0..8 {
        answer.extend_from_slice(b"$1000000\r\n");
        answer.extend_from_slice(&[b'x'; 1_000_000]);
        answer.extend_from_slice(b"\r\n");
    }
    let port = fake_redis(Box::leak(answer.into_boxed_slice()));
    let host = Host::new(
        tmp.path(),
        "a",
        &format!("[store]\nredis = \"redis://127.0.0.1:{port}/0\"\nprefix = \"test\"\ntimeout_ms = 5000\n"),
    );
    let msg = spam(1);
    let o = run_bounded(&host, &["filter"], msg.as_bytes(), Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes(), "delivered whole");
    let why = field(&o.stdout, "X-Spam-Degraded").unwrap_or_default();
    assert!(why.contains("the replies are too long"), "{why}");
}

#[test]
fn a_bad_url_with_a_password_never_shows_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, url) in
        [("port", "redis://:hunter2pw@127.0.0.1:noport/0"), ("unix", "unix://relative.sock?password=hunter2pw")]
    {
        let host = Host::new(tmp.path(), name, &format!("[store]\nredis = \"{url}\"\n"));
        let msg = spam(1);
        let o = host.run(&["filter"], msg.as_bytes());
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
        let why = field(&o.stdout, "X-Spam-Degraded").unwrap_or_default();
        assert!(why.contains("store") && why.contains("***"), "{why}");
        for (what, out) in [("the message", &o.stdout), ("stderr", &o.stderr)] {
            assert!(!text(out).contains("hunter2pw"), "{name}: the password in {what}: {}", text(out));
        }
        let (h, s) = folders(tmp.path(), name, 0, 1);
        for args in [&["train", "--ham", &h, "--spam", &s][..], &["lint"], &["db", "stats"]] {
            let o = host.run(args, b"");
            assert!(!o.status.success(), "{args:?}");
            let all = text(&o.stdout) + &text(&o.stderr);
            assert!(!all.contains("hunter2pw") && all.contains("***"), "{name} {args:?}: {all}");
        }
    }
}

/// A proxy to the server on `port` that relays everything until a client sends `trigger`, then
/// does what `Cut` says. Returns the proxy's port.
#[derive(Clone)]
enum Cut {
    /// Forward the trigger, then close the client's connection (its answer is lost).
    Close,
    /// Keep the trigger and the connection, silent (a stalled link).
    Stall,
    /// Run this (once) before forwarding the trigger, and go on relaying.
    Run(std::sync::Arc<dyn Fn() + Send + Sync>),
}

fn proxy(port: u16, trigger: &'static [u8], cut: Cut) -> u16 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let lport = listener.local_addr().unwrap().port();
    let ran = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else { continue };
            let cut_now = Arc::new(AtomicBool::new(false));
            let (mut from_server, mut to_client) = (server.try_clone().unwrap(), client.try_clone().unwrap());
            let seen = cut_now.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = std::io::Read::read(&mut from_server, &mut buf) {
                    if n == 0 || seen.load(Ordering::SeqCst) || to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut from_client, mut to_server) = (client, server);
            let (cut, ran) = (cut.clone(), ran.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let mut tail = Vec::new();
                while let Ok(n) = std::io::Read::read(&mut from_client, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&buf[..n]);
                    let found = tail.windows(trigger.len()).any(|w| w == trigger);
                    tail.drain(..tail.len().saturating_sub(trigger.len()));
                    match &cut {
                        Cut::Run(f) if found && !ran.swap(true, Ordering::SeqCst) => f(),
                        Cut::Run(_) => {}
                        Cut::Stall if found => {
                            cut_now.store(true, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_secs(30));
                            break;
                        }
                        Cut::Stall => {}
                        Cut::Close if found => cut_now.store(true, Ordering::SeqCst),
                        Cut::Close => {}
                    }
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    if found && matches!(cut, Cut::Close) {
                        std::thread::sleep(Duration::from_millis(500));
                        let _ = from_client.shutdown(std::net::Shutdown::Both);
                        break;
                    }
                }
            });
        }
    });
    lport
}

#[test]
fn an_lr_table_that_does_not_arrive_costs_lr_not_the_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let direct = trained_host(tmp.path(), "direct", &server, 12);
    assert_eq!(server.ask(&["EXISTS", "{test}:lr"]).unwrap().as_deref(), Some("1"));
    // The first round trip (counts, totals, the table's header) passes; the GET of the table
    // itself stalls.
    let port = proxy(server.port, b"\r\n$3\r\nGET\r\n$9\r\n{test}:lr\r\n", Cut::Stall);
    let host = Host::new(
        tmp.path(),
        "a",
        &format!("[store]\nredis = \"redis://127.0.0.1:{port}/0\"\nprefix = \"test\"\ntimeout_ms = 1000\n"),
    );
    let msg = ham(500);
    let o = run_bounded(&host, &["filter"], msg.as_bytes(), Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    let status = field(&o.stdout, "X-Spam-Status").unwrap();
    let why = field(&o.stdout, "X-Spam-Degraded").unwrap_or_default();
    assert!(status.contains("SPAMFILT_DEGRADED") && why.contains("LR table"), "{status} / {why}");
    // Scored with the shared counts, as the same message is by the direct host (less LR).
    let direct_status = field(&direct.run(&["filter"], msg.as_bytes()).stdout, "X-Spam-Status").unwrap();
    let bayes = |s: &str| s.split([',', ' ', '=']).find(|t| t.starts_with("BAYES_")).map(str::to_string);
    assert!(bayes(&direct_status).is_some(), "{direct_status}");
    assert_eq!(bayes(&status), bayes(&direct_status), "{status} / {direct_status}");
}

#[test]
fn a_connection_lost_after_exec_is_not_reported_as_nothing_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let direct = trained_host(tmp.path(), "direct", &server, 3);
    let proxy = proxy(server.port, b"\r\nEXEC\r\n", Cut::Close);
    let host = Host::new(tmp.path(), "a", &store(&format!("redis://127.0.0.1:{proxy}/0")));
    let (h2, s2) = folders(tmp.path(), "more", 10, 12);
    let o = host.run(&["train", "--ham", &h2, "--spam", &s2], b"");
    // Redis applied it: the generation says so, and the run succeeded.
    assert_eq!(direct.messages_line(), "messages:     5 ham, 5 spam");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("unchanged") && !err.contains("nothing was changed"), "{err}");
}

/// Redis checks a transaction's commands when they are queued, not what they find when they run:
/// one that fails then (a key of the wrong type, a count that cannot be incremented) is one error
/// in EXEC's answer, and the others are applied all the same (Redis undoes nothing). Such a
/// commit was reported as "refused a write" and by `train` as "the database ... is unchanged",
/// though the counts had changed.
#[test]
fn a_commit_redis_applies_in_part_is_said_so_and_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = trained_host(tmp.path(), "a", &server, 3);
    assert_eq!(host.messages_line(), "messages:     3 ham, 3 spam");
    // The generation at the largest integer Redis keeps: the commit's INCR fails as it runs.
    server.ask(&["SET", "{test}:gen", "9223372036854775807"]).unwrap();
    let (h, s) = folders(tmp.path(), "more", 10, 12);
    let o = host.run(&["train", "--ham", &h, "--spam", &s], b"");
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(!err.contains("unchanged") && !err.contains("nothing was changed"), "{err}");
    assert!(err.contains("changed in part") && err.contains("INCR {test}:gen") && err.contains("overflow"), "{err}");
    // What it said: the rest was applied.
    assert_eq!(host.messages_line(), "messages:     5 ham, 5 spam");
    // `ip add` (the reputation alone) with totals that are not a hash: its records are written,
    // the totals' HSET fails.
    server.ask(&["SET", "{test}:gen", "7"]).unwrap();
    let rep_before: i64 = server.ask(&["HLEN", "{test}:rep"]).unwrap().unwrap().parse().unwrap();
    server.ask(&["DEL", "{test}:totals"]).unwrap();
    server.ask(&["SET", "{test}:totals", "x"]).unwrap();
    let o = host.run(&["ip", "add", "192.0.2.5"], b"");
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("HSET {test}:totals: WRONGTYPE") && err.contains("applied the other"), "{err}");
    let records = |n: i64| n.to_string();
    assert_eq!(server.ask(&["HLEN", "{test}:rep"]).unwrap(), Some(records(rep_before + 1)), "the record was written");
}

/// One Redis serves many users; with `maxmemory` and an `allkeys-*` policy it evicts any key
/// when full, and other users' training evicted every key of this one's (`db stats` 0 messages,
/// `lint` content, deliveries scored with nothing learned, nothing said). Training warns and
/// `lint` reports it; `volatile-*` (only keys with a time to live) and `noeviction` are fine.
#[test]
fn a_redis_that_evicts_any_key_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &["--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru"]) else {
        return;
    };
    let host = Host::new(tmp.path(), "a", &store(&server.url()));
    let (h, s) = folders(tmp.path(), "base", 0, 3);
    let o = host.run(&["train", "--ham", &h, "--spam", &s], b"");
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning:") && err.contains("maxmemory-policy allkeys-lru"), "{err}");
    let o = host.run(&["lint"], b"");
    let out = text(&o.stdout) + &text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("evicts keys of any kind") && out.contains("noeviction"), "{out}");
    for policy in ["volatile-lru", "noeviction"] {
        server.ask(&["CONFIG", "SET", "maxmemory-policy", policy]).unwrap();
        let o = host.run(&["lint"], b"");
        let out = text(&o.stdout) + &text(&o.stderr);
        assert!(o.status.success() && !out.contains("evicts"), "{policy}: {out}");
        let o = host.run(&["train", "--ham", &h], b"");
        assert!(o.status.success() && !text(&o.stderr).contains("evicts"), "{policy}: {}", text(&o.stderr));
    }
}

#[test]
fn dump_and_migrate_copy_one_state_when_a_training_run_commits_during_their_read() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    // Something to read: trained through a host of its own.
    trained_host(tmp.path(), "direct", &server, 3);
    // While the reader scans the token hash, a "training run" commits: new totals and a new
    // generation (the totals were read before the scan).
    let port = server.port;
    let commit = move || {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"*1\r\n$5\r\nMULTI\r\n*4\r\n$4\r\nHSET\r\n$13\r\n{test}:totals\r\n$3\r\nham\r\n$3\r\n999\r\n")
            .unwrap();
        c.write_all(b"*2\r\n$4\r\nINCR\r\n$10\r\n{test}:gen\r\n*1\r\n$4\r\nEXEC\r\n").unwrap();
        let mut r = BufReader::new(c);
        let mut line = String::new();
        while !line.starts_with('*') {
            line.clear();
            r.read_line(&mut line).unwrap();
        }
    };
    let port = proxy(server.port, b"HSCAN", Cut::Run(std::sync::Arc::new(commit)));
    let host = Host::new(tmp.path(), "a", &store(&format!("redis://127.0.0.1:{port}/0")));
    let copy = Host::new(tmp.path(), "copy", "");
    host.ok(&["db", "migrate", "--to-files", copy.dir.join("db").to_str().unwrap()]);
    let line = copy.messages_line();
    assert!(line.contains("999 ham"), "the state after the commit, not half of it: {line}");
}

/// A received message of either class: its Received field names the class's relay.
fn via_relay(i: usize, is_spam: bool) -> String {
    let (relay, body) = if is_spam { ("bulk.deals.example", spam(i)) } else { ("mail.klant.be", ham(i)) };
    format!("Received: from {relay} (unknown [198.51.100.7])\n\tby mx.mijn.be with ESMTP id R{i}; Mon, 1 Dec 2025 10:00:00 +0000\n{body}")
}

#[test]
fn the_received_words_gate_counts_in_redis_as_in_files() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let gate = "[bayes]\ntrace_min_learned = 5\n";
    let a = Host::new(tmp.path(), "a", &format!("{}{gate}", store(&server.url())));
    let (h, s) = (tmp.path().join("in/ham"), tmp.path().join("in/spam"));
    fs::create_dir_all(&h).unwrap();
    fs::create_dir_all(&s).unwrap();
    for i in 0..8 {
        fs::write(h.join(format!("{i}.eml")), via_relay(i, false)).unwrap();
        fs::write(s.join(format!("{i}.eml")), via_relay(i, true)).unwrap();
    }
    a.ok(&["train", "--ham", h.to_str().unwrap(), "--spam", s.to_str().unwrap()]);
    let probe = tmp.path().join("probe.eml");
    fs::write(&probe, via_relay(99, false)).unwrap();
    let probe = probe.to_str().unwrap();
    let line = |host: &Host| {
        let r = host.ok(&["check", "--report", probe]);
        r.lines().find(|l| l.contains("Received words:")).unwrap_or_else(|| panic!("{r}")).trim().to_string()
    };
    assert_eq!(line(&a), "Received words: used (learned with Received fields: 8 of 8 ham, 8 of 8 spam)");
    // Sent-folder ham (no Received field) counts in the totals but not in the marker.
    let sent = tmp.path().join("sent.eml");
    fs::write(&sent, ham(50)).unwrap();
    a.ok(&["train", "--ham", sent.to_str().unwrap()]);
    assert_eq!(line(&a), "Received words: used (learned with Received fields: 8 of 9 ham, 8 of 8 spam)");
    // Forgetting lowers the marker's count; the gate closes under 5 received ham.
    for i in 0..4 {
        a.ok(&["forget", h.join(format!("{i}.eml")).to_str().unwrap()]);
    }
    assert_eq!(line(&a), "Received words: not used (learned with Received fields: 4 of 5 ham, 8 of 8 spam)");
    // Each ledger entry says whether the message had Received fields (in a hash of its own, which
    // binaries from before it leave alone), so a forget through a copy without them (ham(4) is
    // via_relay(4)'s message without its field) takes the marker back too.
    let flags = || server.ask(&["HLEN", "{test}:ledger-received"]).unwrap().unwrap();
    assert_eq!(flags(), server.ask(&["HLEN", "{test}:ledger"]).unwrap().unwrap());
    assert_eq!(flags(), "13");
    let bare = tmp.path().join("bare.eml");
    fs::write(&bare, ham(4)).unwrap();
    a.ok(&["forget", bare.to_str().unwrap()]);
    assert_eq!(line(&a), "Received words: not used (learned with Received fields: 3 of 4 ham, 8 of 8 spam)");
    assert_eq!(flags(), "12");
    // A flag without its ledger entry (the message forgotten by an older binary) is dropped by
    // the next training run.
    assert_eq!(server.ask(&["HSET", "{test}:ledger-received", "0123456789abcdef", "hr"]).unwrap().unwrap(), "1");
    a.ok(&["train", "--ham", sent.to_str().unwrap()]);
    assert_eq!(flags(), "12");
    // A dump of the Redis store loads into files with the same gate and the same report.
    let dump = tmp.path().join("gate-dump.txt");
    a.ok(&["db", "dump", dump.to_str().unwrap()]);
    let f = Host::new(tmp.path(), "files", gate);
    f.ok(&["db", "load", dump.to_str().unwrap()]);
    assert_eq!(f.ok(&["check", "--report", probe]), a.ok(&["check", "--report", probe]));
}

#[test]
fn migrate_moves_a_store_either_way() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let files = Host::new(tmp.path(), "files", "");
    let (h, s) = folders(tmp.path(), "m", 0, 14);
    files.ok(&["train", "--ham", &h, "--spam", &s]);
    let probe = tmp.path().join("probe.eml");
    fs::write(&probe, spam(999)).unwrap();
    let probe2 = tmp.path().join("probe2.eml");
    fs::write(&probe2, ham(998)).unwrap();
    let scores = |host: &Host| host.ok(&["check", probe.to_str().unwrap(), probe2.to_str().unwrap()]);
    let lines = |host: &Host| -> Vec<String> {
        host.ok(&["db", "stats"])
            .lines()
            .filter(|l| ["messages:", "tokens:", "ledger:", "lr weights:"].iter().any(|p| l.starts_with(p)))
            .map(|l| l.split(" (").next().unwrap().to_string())
            .collect()
    };
    files.ok(&["ip", "add", "192.0.2.9"]);
    let url = format!("redis://127.0.0.1:{}/1", server.port);
    // A prefix that is no hash tag is refused as the config's is, before anything is written.
    for bad in ["a}b", "", "two words", "{x"] {
        let o = files.run(&["db", "migrate", "--to", &url, "--prefix", bad], b"");
        let err = text(&o.stderr);
        assert!(!o.status.success() && err.contains("--prefix") && err.contains("without braces"), "{bad:?}: {err}");
    }
    assert_eq!(server.ask(&["DBSIZE"]).unwrap().as_deref(), Some("0"));
    let out = files.ok(&["db", "migrate", "--to", &url, "--prefix", "moved"]);
    assert!(out.contains("copied 14 ham and 14 spam learned"), "{out}");
    // (the address, the one correspondent the ham, written by the user (no Received chain), was
    // sent to, and the 14 addresses it was written from, the user's own)
    assert!(out.contains(", 16 reputation records from"), "{out}");
    assert!(out.contains("and the LR weights"), "{out}");
    let redis =
        Host::new(tmp.path(), "redis", &format!("[store]\nredis = \"{url}\"\nprefix = \"moved\"\ntimeout_ms = 3000\n"));
    assert_eq!(lines(&redis), lines(&files));
    assert_eq!(scores(&redis), scores(&files));
    // The reputation moved too (what `ip show` prints, apart from the policy line, is the same).
    let shown = |host: &Host| host.ok(&["ip", "show", "192.0.2.9"]);
    assert!(shown(&redis).contains("manual:       yes"), "{}", shown(&redis));
    assert_eq!(shown(&redis), shown(&files));
    // A target that holds something is refused without --force.
    let o = files.run(&["db", "migrate", "--to", &url, "--prefix", "moved"], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    // Learn more in Redis, then move it back to files.
    let (h2, s2) = folders(tmp.path(), "m2", 100, 103);
    redis.ok(&["train", "--ham", &h2, "--spam", &s2]);
    let files2 = Host::new(tmp.path(), "files2", "");
    let back = files2.dir.join("db");
    let out = redis.ok(&["db", "migrate", "--to-files", back.to_str().unwrap()]);
    assert!(out.contains("copied 17 ham and 17 spam learned"), "{out}");
    assert!(back.join("tokens.db").exists() && back.join("lr.weights").exists());
    assert_eq!(lines(&files2), lines(&redis));
    assert_eq!(scores(&files2), scores(&redis));
    assert_eq!(shown(&files2), shown(&redis));
}

#[test]
fn damaged_entries_are_reported_and_force_drops_them() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = trained_host(tmp.path(), "a", &server, 12);
    assert_eq!(host.run(&["lint"], b"").status.code(), Some(0));
    // Something else wrote into the user's token hash.
    assert_eq!(server.ask(&["HSET", "{test}:tokens", "short", "x"]).unwrap().as_deref(), Some("1"));
    let o = host.run(&["lint"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("a token record is damaged"), "{}", text(&o.stdout));
    let (h2, s2) = folders(tmp.path(), "more", 50, 52);
    let o = host.run(&["train", "--ham", &h2, "--spam", &s2], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    assert_eq!(host.messages_line(), "messages:     12 ham, 12 spam");
    let o = host.run(&["train", "--force", "--ham", &h2, "--spam", &s2], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("dropping 1 damaged entries"), "{}", text(&o.stderr));
    assert_eq!(host.messages_line(), "messages:     14 ham, 14 spam");
    assert_eq!(server.ask(&["HEXISTS", "{test}:tokens", "short"]).unwrap().as_deref(), Some("0"));
    assert_eq!(host.run(&["lint"], b"").status.code(), Some(0));
    // A reputation record that is not spamfilt's: the same.
    assert_eq!(server.ask(&["HSET", "{test}:rep", "0123456789abcdef", "x"]).unwrap().as_deref(), Some("1"));
    let o = host.run(&["lint"], b"");
    assert!(text(&o.stdout).contains("a reputation record is damaged"), "{}", text(&o.stdout));
    let o = host.run(&["train", "--ham", &h2], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("--force"), "{}", text(&o.stderr));
    let o = host.run(&["train", "--force", "--ham", &h2], b"");
    assert!(text(&o.stderr).contains("dropping 1 damaged entries"), "{}", text(&o.stderr));
    assert_eq!(server.ask(&["HEXISTS", "{test}:rep", "0123456789abcdef"]).unwrap().as_deref(), Some("0"));
    assert_eq!(host.run(&["lint"], b"").status.code(), Some(0));
    // salvage says it works on files only.
    assert!(host.ok(&["db", "salvage"]).contains("the token store is in Redis"));
}

/// A message relayed to us by `ip` (an untrusted hop), to `to`.
fn relayed(ip: &str, to: &str, i: usize) -> String {
    format!(
        "Received: from mail.sender.test (mail.sender.test [{ip}])\n\tby mx.example.org (Postfix) with ESMTP id A{i}\n\t\
         for <{to}>; Mon, 1 Dec 2025 10:00:00 +0000\nFrom: Someone <someone{i}@sender.test>\nTo: {to}\n\
         Subject: a note {i}\nMessage-ID: <r{i}@sender.test>\nDate: Mon, 1 Dec 2025 10:00:00 +0000\n\n\
         Hello, here is the note about the meeting {i}.\n"
    )
}

/// One spawn-mode policy request for a client at RCPT time; the action.
fn policy_action(host: &Host, client: &str, rcpt: &str) -> String {
    let req = format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address={client}\n\
         client_name=mail.sender.test\nreverse_client_name=mail.sender.test\nhelo_name=mail.sender.test\n\
         sender=someone@sender.test\nrecipient={rcpt}\nsasl_username=\n\n"
    );
    let log = host.dir.join("policy.log");
    let o = host.run(&["policy", "--log", log.to_str().unwrap()], req.as_bytes());
    assert!(o.status.success() && o.stderr.is_empty(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    out.lines().next().and_then(|l| l.strip_prefix("action=")).unwrap_or_else(|| panic!("{out:?}")).to_string()
}

#[test]
fn a_honeypot_hit_on_one_host_is_an_ip_hit_on_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mut server) = Server::start(tmp.path(), &[]) else { return };
    let config = format!(
        "honeypots = [\"trap@example.org\"]\n{}\n[policy]\nmode = \"enforce\"\n[queue]\nmax_messages = 2\n",
        store(&server.url())
    );
    let a = Host::new(tmp.path(), "a", &config);
    let b = Host::new(tmp.path(), "b", &config);
    let ip = "198.51.100.77";
    let other = relayed(ip, "me@example.org", 2);
    let other_file = tmp.path().join("other.eml");
    fs::write(&other_file, &other).unwrap();

    // Before: B knows nothing of the address.
    assert_eq!(b.run(&["ip", "show", ip], b"").status.code(), Some(1));
    assert_eq!(policy_action(&b, ip, "me@example.org"), "DUNNO");
    let status = field(&b.run(&["filter"], other.as_bytes()).stdout, "X-Spam-Status").unwrap();
    assert!(!status.contains("IP_SPAM_SOURCE") && !status.contains("SPAMFILT_DEGRADED"), "{status}");

    // A honeypot hit delivered on host A...
    let trap = relayed(ip, "trap@example.org", 1);
    let out = a.run(&["filter"], trap.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let status = field(&out.stdout, "X-Spam-Status").unwrap();
    assert!(status.contains("HONEYPOT") && !status.contains("SPAMFILT_DEGRADED"), "{status}");
    assert_eq!(common::strip_spam_fields(&out.stdout), trap.as_bytes());
    // ...is recorded in Redis, not in A's own directory (the message is in the shared queue)...
    assert!(!a.dir.join("db/reputation.journal").exists() && !a.dir.join("db/reputation.db").exists());
    assert!(!a.dir.join("db/queue").exists());
    assert_eq!(server.ask(&["HLEN", "{test}:queue"]).unwrap().as_deref(), Some("1"));

    // ...and host B's filter, check --report, ip show and policy service see the address.
    let out = b.run(&["filter"], other.as_bytes());
    let status = field(&out.stdout, "X-Spam-Status").unwrap();
    assert!(status.contains("IP_SPAM_SOURCE") && !status.contains("SPAMFILT_DEGRADED"), "{status}");
    let report = b.ok(&["check", "--report", other_file.to_str().unwrap()]);
    assert!(report.contains("IP_SPAM_SOURCE"), "{report}");
    let stats = b.ok(&["rules", "--stats", "--spam", other_file.to_str().unwrap()]);
    let line = stats.lines().find(|l| l.starts_with("IP_SPAM_SOURCE")).unwrap_or_default();
    assert_eq!(line.split_whitespace().nth(3), Some("1"), "{stats}");
    // The host's own reputation.db is not read with Redis: a damaged one degrades nothing.
    fs::create_dir_all(b.dir.join("db")).unwrap();
    fs::write(b.dir.join("db/reputation.db"), b"garbage").unwrap();
    let status = field(&b.run(&["filter"], other.as_bytes()).stdout, "X-Spam-Status").unwrap();
    assert!(status.contains("IP_SPAM_SOURCE") && !status.contains("SPAMFILT_DEGRADED"), "{status}");
    // (ip add writes the shared records; the damaged local file only costs a note.)
    let o = b.run(&["ip", "add", "192.0.2.201"], b"");
    assert!(o.status.success() && text(&o.stderr).contains("left as it is"), "{}", text(&o.stderr));
    assert!(a.ok(&["ip", "show", "192.0.2.201"]).contains("manual:       yes"));
    fs::remove_file(b.dir.join("db/reputation.db")).unwrap();
    a.ok(&["ip", "remove", "192.0.2.201"]);
    let shown = b.ok(&["ip", "show", ip]);
    assert!(shown.contains("honeypot:     1 hits") && shown.contains("learned:      0 spam, 0 ham"), "{shown}");
    let action = policy_action(&b, ip, "me@example.org");
    assert!(action.starts_with("REJECT") && action.contains("198.51.100.77"), "{action}");
    // A honeypot hit at B's policy service is shared the same way: A sees two now.
    let action = policy_action(&b, "198.51.100.78", "trap@example.org");
    assert!(action.starts_with("REJECT"), "{action}");
    assert!(a.ok(&["ip", "show", "198.51.100.78"]).contains("honeypot:     1 hits"));

    // Training on B learns the message A queued: the address's learned spam is counted and its
    // hit folded into the record, not counted twice; the message leaves the queue.
    let out = b.run(&["train", "--queued"], b"");
    let said = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success() && said.contains("learned 1 queued messages"), "{said}");
    assert_eq!(a.messages_line(), "messages:     0 ham, 1 spam");
    assert_eq!(server.ask(&["HLEN", "{test}:queue"]).unwrap().as_deref(), Some("0"));
    let shown = b.ok(&["ip", "show", ip]);
    assert!(shown.contains("honeypot:     1 hits") && shown.contains("learned:      1 spam, 0 ham"), "{shown}");
    // Every pending hit was folded into its record (198.51.100.78's too), none is left over.
    assert_eq!(server.ask(&["HLEN", "{test}:hits"]).unwrap().as_deref(), Some("0"));
    assert!(b.ok(&["ip", "show", "198.51.100.78"]).contains("honeypot:     1 hits"));
    let list = b.ok(&["ip", "list", "--spam"]);
    assert_eq!(list.lines().count(), 2, "{list}");
    // The dump holds the shared records.
    let dump = b.ok(&["db", "dump"]);
    assert!(dump.contains(&format!("ip {ip} ")), "{dump}");

    // `ip remove` on B lifts it everywhere; `ip add` on A marks another everywhere.
    b.ok(&["ip", "remove", ip]);
    assert_eq!(a.run(&["ip", "show", ip], b"").status.code(), Some(1));
    assert_eq!(policy_action(&a, ip, "me@example.org"), "DUNNO");
    a.ok(&["ip", "add", "192.0.2.200"]);
    assert!(policy_action(&b, "192.0.2.200", "me@example.org").starts_with("REJECT"));

    // The shared queue holds at most [queue] max_messages (2), whichever host queues; a drop
    // is said at once and by the next training run, on any host, once.
    let mut full = 0;
    for i in 10..13 {
        let host = if i % 2 == 0 { &a } else { &b };
        let o = host.run(&["filter"], relayed("198.51.100.90", "trap@example.org", i).as_bytes());
        assert!(o.status.success() && field(&o.stdout, "X-Spam-Status").unwrap().contains("HONEYPOT"));
        full += text(&o.stderr).contains("the learning queue is full") as usize;
    }
    assert_eq!(full, 1);
    let o = a.run(&["train", "--queued"], b"");
    let said = text(&o.stderr);
    assert!(said.contains("learned 2 queued messages") && said.contains("1 honeypot messages ("), "{said}");
    assert!(b.ok(&["ip", "show", "198.51.100.90"]).contains("honeypot:     3 hits"));
    let said = text(&b.run(&["train", "--queued"], b"").stderr);
    assert!(!said.contains("not queued") && !said.contains("learned"), "{said}");

    // Redis gone: the policy service answers DUNNO, the filter delivers (degraded), a hit is
    // reported, not lost silently, and nothing is written locally instead.
    server.kill();
    assert_eq!(policy_action(&b, "192.0.2.200", "me@example.org"), "DUNNO");
    let out = a.run(&["filter"], trap.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(common::strip_spam_fields(&out.stdout), trap.as_bytes());
    let status = field(&out.stdout, "X-Spam-Status").unwrap();
    assert!(status.contains("HONEYPOT") && status.contains("SPAMFILT_DEGRADED"), "{status}");
    assert!(text(&out.stderr).contains("honeypot hit from 198.51.100.77 is not recorded"), "{}", text(&out.stderr));
    // The message waits in A's own queue; A's next training run (Redis back) learns it.
    assert_eq!(fs::read_dir(a.dir.join("db/queue")).unwrap().count(), 1);
    server.restart();
    let said = text(&a.run(&["train", "--queued"], b"").stderr);
    assert!(said.contains("learned 1 queued messages"), "{said}");
    assert_eq!(fs::read_dir(a.dir.join("db/queue")).unwrap().count(), 0);
    assert!(b.ok(&["ip", "show", ip]).contains("learned:      1 spam, 0 ham"));
}

/// One command with binary arguments through a plain socket; the reply's first line.
fn ask_raw(port: u16, args: &[&[u8]]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    s.write_all(&out).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

/// A pending honeypot count (and its time) that is not a number, written by something other
/// than spamfilt: training and `lint` leave such a field alone, but a delivery took it as a
/// damaged store, so every message from that address was scored without the store, and nothing
/// repaired it. Now it is no hit there either.
#[test]
fn a_hit_count_that_is_not_a_number_is_no_hit_and_no_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = trained_host(tmp.path(), "a", &server, 3);
    // 198.51.100.44 as the store keys it (IPv4 mapped), and its time field.
    let mut key = vec![0u8; 10];
    key.extend_from_slice(&[0xff, 0xff, 198, 51, 100, 44]);
    let mut time = key.clone();
    time.push(b't');
    assert_eq!(ask_raw(server.port, &[b"HSET", b"{test}:hits", &key, b"many", &time, b"soon"]), ":2");
    let msg = relayed("198.51.100.44", "u@example.org", 1);
    let o = host.run(&["filter"], msg.as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    let status = field(&o.stdout, "X-Spam-Status").unwrap();
    let why = field(&o.stdout, "X-Spam-Degraded");
    assert!(!status.contains("SPAMFILT_DEGRADED") && why.is_none(), "{status} / {why:?}");
    assert!(!status.contains("IP_SPAM_SOURCE"), "{status}");
    // Training leaves it alone, as before.
    let (h, s) = folders(tmp.path(), "more", 10, 11);
    host.ok(&["train", "--ham", &h, "--spam", &s]);
    assert_eq!(ask_raw(server.port, &[b"HGET", b"{test}:hits", &key]), "$4");
}

#[test]
fn dns_answers_are_cached_in_redis_for_every_host_with_their_ttl() {
    use common::dns::{DnsServer, Reply};
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let table = [
        ("2.2.0.192.zen.test", Reply::A([127, 0, 0, 2], 600)),
        ("3.2.0.192.zen.test", Reply::NxDomain),
        ("5.2.0.192.zen.test", Reply::ServFail),
        ("2.2.0.192.in-addr.arpa", Reply::Ptr("192-0-2-2.dyn.isp.test")),
        ("bad-links.test.uribl.test", Reply::A([127, 0, 0, 2], 600)),
    ];
    let dns = DnsServer::start(&table);
    let config = format!(
        "dns = {{ resolver = \"{}\", timeout_ms = 1000, dnsbl = [\"zen.test\"], uribl = [\"uribl.test\"] }}\n{}\n\
         [policy]\nmode = \"enforce\"\n",
        dns.addr,
        store(&server.url())
    );
    let a = Host::new(tmp.path(), "a", &config);
    let b = Host::new(tmp.path(), "b", &config);
    // The relay's reverse name is not in the Received line (Exchange's format): it is looked up.
    let from = |ip: &str, i: usize| {
        format!(
            "Received: from sender ({ip}) by mx.example.org (Microsoft SMTP Server) id 15.2; Mon, 1 Dec 2025 \
             10:00:00 +0000\nFrom: someone{i}@sender.test\nTo: me@example.org\nSubject: note {i}\n\
             Message-ID: <d{i}@sender.test>\nDate: Mon, 1 Dec 2025 10:00:00 +0000\n\n\
             See http://bad-links.test/offer and the rest {i}.\n"
        )
    };
    let tests_of = |host: &Host, msg: &str| {
        let o = host.run(&["filter"], msg.as_bytes());
        assert!(o.status.success(), "{}", text(&o.stderr));
        field(&o.stdout, "X-Spam-Status").unwrap()
    };
    let s = tests_of(&a, &from("192.0.2.2", 1));
    for rule in ["RCVD_IN_DNSBL", "RDNS_DYNAMIC", "URI_IN_DNSBL"] {
        assert!(s.contains(rule), "{rule}: {s}");
    }
    assert!(!s.contains("SPAMFILT_DEGRADED"), "{s}");
    let asked = || ["2.2.0.192.zen.test", "2.2.0.192.in-addr.arpa", "bad-links.test.uribl.test"].map(|n| dns.asked(n));
    assert_eq!(asked(), [1, 1, 1]);
    // Host B's filter, check and policy service use A's answers: nothing is asked again.
    let s = tests_of(&b, &from("192.0.2.2", 2));
    for rule in ["RCVD_IN_DNSBL", "RDNS_DYNAMIC", "URI_IN_DNSBL"] {
        assert!(s.contains(rule), "{rule}: {s}");
    }
    let mail = tmp.path().join("listed.eml");
    fs::write(&mail, from("192.0.2.2", 3)).unwrap();
    let report = b.ok(&["check", "--report", mail.to_str().unwrap()]);
    assert!(report.contains("RCVD_IN_DNSBL") && report.contains("URI_IN_DNSBL"), "{report}");
    let action = policy_action(&b, "192.0.2.2", "me@example.org");
    assert!(action.starts_with("REJECT") && action.contains("zen.test"), "{action}");
    assert_eq!(asked(), [1, 1, 1], "a host asked the DNS server for a cached answer");
    let shown = b.ok(&["ip", "show", "192.0.2.2"]);
    assert!(shown.contains("zen.test: listed") && shown.contains("192-0-2-2.dyn.isp.test"), "{shown}");
    // In Redis, each answer under its own key with the DNS answer's time to live.
    for key in ["{test}:dns:bl:zen.test:192.0.2.2", "{test}:dns:uri:uribl.test:bad-links.test"] {
        let ttl: i64 = server.ask(&["TTL", key]).unwrap().unwrap().parse().unwrap();
        assert!((1..=600).contains(&ttl), "{key}: {ttl}");
    }
    // The reverse name's TTL (3600 from the test server) is cut to the cache's day at most.
    let ttl: i64 = server.ask(&["TTL", "{test}:dns:ptr:192.0.2.2"]).unwrap().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&ttl), "{ttl}");
    // Not listed is an answer too (cached); a failure is not.
    tests_of(&a, &from("192.0.2.3", 4));
    tests_of(&b, &from("192.0.2.3", 5));
    assert_eq!(dns.asked("3.2.0.192.zen.test"), 1);
    tests_of(&a, &from("192.0.2.5", 6));
    tests_of(&b, &from("192.0.2.5", 7));
    assert!(dns.asked("5.2.0.192.zen.test") >= 2, "a SERVFAIL was cached");
    // Nothing of it is on the hosts.
    for h in [&a, &b] {
        assert!(!h.dir.join("db/reputation.journal").exists() && !h.dir.join("db/reputation.db").exists());
    }
}

/// This machine's name, as the lock's value names it.
fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// This machine as the lock's value names it: its name, boot id and PID namespace.
fn host_id() -> String {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = fs::read_link("/proc/self/ns/pid").unwrap();
    let ns: String = ns.to_str().unwrap().chars().filter(char::is_ascii_digit).collect();
    format!("{}/{}/{ns}", hostname(), boot.trim())
}

#[test]
fn a_dead_trainers_lock_is_taken_over_on_its_host_and_waited_for_from_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = Host::new(tmp.path(), "a", &store(&server.url()));
    let (h, s) = folders(tmp.path(), "base", 0, 3);
    // A process of this host that no longer runs holds the lock, for 10 minutes.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let dead = format!("{} {pid} 0123456789abcdef", host_id());
    assert_eq!(server.ask(&["SET", "{test}:lock", &dead, "PX", "600000"]).unwrap().as_deref(), Some("OK"));
    let o = host.run(&["train", "--ham", &h, "--spam", &s], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("took over the trainer lock") && err.contains(&format!("process {pid} on this host")),
        "{err}"
    );
    assert!(!err.contains("waited"), "{err}");
    assert_eq!(server.ask(&["EXISTS", "{test}:lock"]).unwrap().as_deref(), Some("0"), "released at the end");
    // A live process of this host (this test), or any process of another host: waited for
    // until it ends or its lease runs out (here 1.5 s), never taken over. So is a process of a
    // host of the same name (a cloned VM, a container: not this boot) or of another PID
    // namespace of this machine, whose process id means nothing here: a lock naming the host
    // by its name alone (as before the boot and namespace were in it) was taken over at once
    // when that process id did not run here, and one of the two runs failed.
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    for holder in [
        format!("{} {} 0123456789abcdef", host_id(), std::process::id()),
        "other-host.test 1 0123456789abcdef".to_string(),
        format!("{} {pid} 0123456789abcdef", hostname()),
        format!("{}/{}/1 {pid} 0123456789abcdef", hostname(), boot.trim()),
        format!(
            "{}/0b0e7ed0-0000-4000-8000-000000000000/{} {pid} 0123456789abcdef",
            hostname(),
            host_id().rsplit('/').next().unwrap()
        ),
    ] {
        assert_eq!(server.ask(&["SET", "{test}:lock", &holder, "PX", "1500"]).unwrap().as_deref(), Some("OK"));
        let o = host.run(&["train", "--ham", &h], b"");
        assert!(o.status.success(), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("waited for another trainer") && !err.contains("took over"), "{holder}: {err}");
    }
}

#[test]
fn a_lock_with_no_expiry_is_waited_for_a_bounded_time_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = trained_host(tmp.path(), "a", &server, 3);
    let before = host.messages_line();
    // Set by hand (or by an old version): no expiry, no trainer renewing it.
    assert_eq!(server.ask(&["SET", "{test}:lock", "stuck"]).unwrap().as_deref(), Some("OK"));
    let (h2, s2) = folders(tmp.path(), "more", 10, 12);
    let o = run_bounded(&host, &["train", "--ham", &h2, "--spam", &s2], b"", Duration::from_secs(120));
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("waiting for the trainer lock {test}:lock") && err.contains("\"stuck\""), "{err}");
    assert!(err.contains("no expiry") && err.contains("DEL '{test}:lock'"), "{err}");
    assert_eq!(server.ask(&["GET", "{test}:lock"]).unwrap().as_deref(), Some("stuck"), "not removed");
    assert_eq!(host.messages_line(), before);
    // Removed as the message says: training goes on.
    server.ask(&["DEL", "{test}:lock"]).unwrap();
    host.ok(&["train", "--ham", &h2, "--spam", &s2]);
}

#[test]
fn a_redis_host_name_that_does_not_resolve_is_a_degraded_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::new(
        tmp.path(),
        "a",
        "[store]\nredis = \"redis://spamfilt-test.invalid:6379/0\"\nprefix = \"test\"\ntimeout_ms = 300\n",
    );
    let msg = spam(1);
    let o = host.run(&["filter"], msg.as_bytes());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    assert!(field(&o.stdout, "X-Spam-Status").unwrap().contains("SPAMFILT_DEGRADED"));
    let why = field(&o.stdout, "X-Spam-Degraded").unwrap();
    assert!(why.contains("spamfilt-test.invalid"), "{why}");
    let (h, s) = folders(tmp.path(), "m", 0, 2);
    let o = host.run(&["train", "--ham", &h, "--spam", &s], b"");
    assert!(!o.status.success() && text(&o.stderr).contains("spamfilt-test.invalid"), "{}", text(&o.stderr));

    // A resolver that never answers (the name lookup has no timeout of its own: glibc's retries
    // held a delivery 10 s here) is given up after timeout_ms. Needs root: a mount namespace
    // whose /etc/resolv.conf names a loopback address where nothing answers.
    // (Skipped, not failed, where that cannot be done, CI included: a container may not allow
    // mount namespaces.)
    let Ok(silent) = std::net::UdpSocket::bind("127.0.0.77:53") else {
        eprintln!("skipped: cannot bind 127.0.0.77:53 (needs root) for a resolver that never answers");
        return;
    };
    let resolv = tmp.path().join("resolv.conf");
    fs::write(&resolv, "nameserver 127.0.0.77\n").unwrap();
    fs::write(host.dir.join("config.toml"), store("redis://redis.example.test:6379/0").replace("3000", "300")).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\""]).arg(&resolv);
    let inner = host.cmd();
    cmd.arg(inner.get_program()).args(inner.get_args()).arg("filter");
    cmd.env("HOME", &host.dir).env_remove("SPAMFILT_DB").env_remove("SPAMFILT_CONFIG");
    let o = common::run_with_stdin(&mut cmd, msg.as_bytes());
    if o.status.code() != Some(0) || o.stdout.is_empty() {
        eprintln!("skipped: unshare -m did not run it: {}", text(&o.stderr));
        return;
    }
    assert_eq!(common::strip_spam_fields(&o.stdout), msg.as_bytes());
    let why = field(&o.stdout, "X-Spam-Degraded").unwrap();
    assert!(why.contains("cannot resolve redis.example.test within 300 ms"), "{why}");
    drop(silent);
}

#[test]
fn concurrent_honeypot_hits_and_trainers_count_each_hit_and_message_once() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    // About counts, not latency (see concurrent_filters_and_trainers_lose_no_count).
    let config = format!(
        "honeypots = [\"trap@example.org\"]\n{}",
        store(&server.url()).replace("timeout_ms = 3000", "timeout_ms = 5000")
    );
    let hosts = [Host::new(tmp.path(), "a", &config), Host::new(tmp.path(), "b", &config)];
    let ip = "203.0.113.99";
    // 20 honeypot hits (ten per host, spread over a second or so) while both hosts train, three
    // runs each of 60 messages (which learn the queue too): a hit recorded while a run folds the
    // hits in, or a message queued while it learns the queue, stays for the next run.
    let sets: Vec<(String, String)> =
        (0..6).map(|r| folders(tmp.path(), &format!("r{r}"), 1000 * (r + 1), 1000 * (r + 1) + 30)).collect();
    std::thread::scope(|scope| {
        let mut jobs = Vec::new();
        for (t, host) in hosts.iter().enumerate() {
            let sets = &sets;
            jobs.push(scope.spawn(move || {
                for (h, s) in sets.iter().skip(t).step_by(2) {
                    let o = host.run(&["train", "--ham", h, "--spam", s], b"");
                    assert!(o.status.success(), "{}", text(&o.stderr));
                }
            }));
        }
        for i in 0..20 {
            let host = &hosts[i % 2];
            jobs.push(scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(60 * i as u64));
                let msg = relayed(ip, "trap@example.org", 100 + i);
                let o = host.run(&["filter"], msg.as_bytes());
                assert_eq!(o.status.code(), Some(0));
                let status = field(&o.stdout, "X-Spam-Status").unwrap();
                assert!(status.contains("HONEYPOT") && !status.contains("SPAMFILT_DEGRADED"), "{status}");
                assert!(!text(&o.stderr).contains("not recorded"), "{}", text(&o.stderr));
            }));
        }
        for j in jobs {
            j.join().unwrap();
        }
    });
    // What is left is learned by one more run; then every hit and every message counted once.
    hosts[1].ok(&["train", "--queued"]);
    let shown = hosts[0].ok(&["ip", "show", ip]);
    assert!(shown.contains("honeypot:     20 hits") && shown.contains("learned:      20 spam, 0 ham"), "{shown}");
    assert_eq!(hosts[0].messages_line(), "messages:     180 ham, 200 spam");
    assert_eq!(server.ask(&["HLEN", "{test}:hits"]).unwrap().as_deref(), Some("0"));
    assert_eq!(server.ask(&["HLEN", "{test}:queue"]).unwrap().as_deref(), Some("0"));
}

#[test]
fn an_address_record_removed_on_one_host_is_gone_for_every_host() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let a = Host::new(tmp.path(), "a", &store(&server.url()));
    let b = Host::new(tmp.path(), "b", &store(&server.url()));
    // ham(0) has no Received field: mail the user wrote, from jan0@klant.be to me@example.org.
    let sent = tmp.path().join("sent.eml");
    fs::write(&sent, ham(0)).unwrap();
    a.ok(&["train", "--ham", sent.to_str().unwrap()]);
    let listed = "jan0@klant.be\town\tlast=";
    assert!(b.ok(&["address", "list"]).contains(listed), "{}", b.ok(&["address", "list"]));
    assert!(b.ok(&["address", "list", "--correspondents"]).starts_with("me@example.org\tcorrespondent\tmessages=1\t"));
    let dry = b.ok(&["address", "remove", "--dry-run", "me@example.org"]);
    assert!(dry.starts_with("would remove me@example.org (known correspondent: 1 message"), "{dry}");
    assert!(a.ok(&["address", "list"]).contains("me@example.org\tcorrespondent"));
    let out = b.ok(&["address", "remove", "me@example.org"]);
    assert!(out.starts_with("removed me@example.org (known correspondent"), "{out}");
    let list = a.ok(&["address", "list"]);
    assert!(!list.contains("me@example.org") && list.contains(listed), "{list}");
    let o = a.run(&["address", "remove", "me@example.org"], b"");
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("me@example.org is neither a known correspondent") && err.contains("{test}:rep"), "{err}");
    // A learned sender (mail from jan1@klant.be through a relay, learned as ham on one host):
    // shown and removed on another, gone for every host.
    let relayed = tmp.path().join("relayed.eml");
    let via =
        "Received: from mail.klant.be (mail.klant.be [198.51.100.7]) by mx.example.org (Postfix) with ESMTP id 1; \
               Mon, 1 Dec 2025 10:00:00 +0000\nDelivered-To: me@example.org\n";
    fs::write(&relayed, format!("{via}{}", ham(1))).unwrap();
    a.ok(&["train", "--ham", relayed.to_str().unwrap()]);
    let show = b.ok(&["address", "show", "jan1@klant.be"]);
    assert!(show.starts_with("jan1@klant.be: learned sender through 198.51.100.0/24: learned as ham 1,"), "{show}");
    let out = b.ok(&["address", "remove", "jan1@klant.be"]);
    assert!(out.starts_with("removed jan1@klant.be (learned sender through 198.51.100.0/24"), "{out}");
    assert!(!a.ok(&["db", "dump"]).contains("\nsender "), "{}", a.ok(&["db", "dump"]));
}

/// A trainer whose clock was 30 days ahead wrote the store (every token's day and the totals'
/// update time in this host's future; done here with a Lua script), or a dump from such a host
/// was loaded: a delivery here scores with the counts, not "a token record is damaged" and
/// SPAMFILT_DEGRADED as before, and the next training run dates the records no later than today.
#[test]
fn token_days_ahead_of_this_hosts_clock_are_not_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let a = trained_host(tmp.path(), "a", &server, 15);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ahead = now / 86_400 + 30;
    let script = "local t = redis.call('HGETALL', KEYS[1]) \
                  for i = 1, #t, 2 do \
                    redis.call('HSET', KEYS[1], t[i], string.sub(t[i + 1], 1, 8) .. struct.pack('<I4', tonumber(ARGV[1]))) \
                  end \
                  redis.call('HSET', KEYS[2], 'updated', ARGV[2]) \
                  return #t / 2";
    let lua = tmp.path().join("ahead.lua");
    fs::write(&lua, script).unwrap();
    let o = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "--eval", lua.to_str().unwrap(), "{test}:tokens", "{test}:totals", ","])
        .arg(ahead.to_string())
        .arg((ahead * 86_400).to_string())
        .output()
        .expect("redis-cli (Debian's redis-tools, beside redis-server)");
    let rewritten: u64 =
        text(&o.stdout).trim().parse().unwrap_or_else(|_| panic!("{}{}", text(&o.stdout), text(&o.stderr)));
    assert!(rewritten > 50, "{rewritten}");
    let b = Host::new(tmp.path(), "b", &store(&server.url()));
    let probe = spam(999);
    let status = field(&b.run(&["filter"], probe.as_bytes()).stdout, "X-Spam-Status").unwrap();
    assert!(!status.contains("SPAMFILT_DEGRADED") && status.contains("BAYES_"), "{status}");
    // Training with this host's clock brings the days back to today's: a host whose clock is
    // behind both reads them as intact too.
    let (h, s) = folders(tmp.path(), "more", 100, 102);
    a.ok(&["train", "--ham", &h, "--spam", &s]);
    let days = Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "EVAL"])
        .arg(
            "local t = redis.call('HVALS', KEYS[1]) local m = 0 \
             for i = 1, #t do local d = struct.unpack('<I4', string.sub(t[i], 9, 12)) if d > m then m = d end end return m",
        )
        .args(["1", "{test}:tokens"])
        .output()
        .unwrap();
    assert_eq!(text(&days.stdout).trim(), (now / 86_400).to_string(), "{}", text(&days.stderr));
    let status = field(&b.run(&["filter"], probe.as_bytes()).stdout, "X-Spam-Status").unwrap();
    assert!(!status.contains("SPAMFILT_DEGRADED"), "{status}");
}

/// An ambiguous run leaves the store exactly as it was in Redis too, with copies that differ
/// in their Received field: the relay and Received words only the spam copy names were counted
/// once more every run before.
#[test]
fn an_ambiguous_run_with_a_copy_without_received_fields_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let host = trained_host(tmp.path(), "a", &server, 15);
    let (inbox, bare) = (tmp.path().join("inbox.eml"), tmp.path().join("inbox-bare.eml"));
    fs::write(&inbox, via_relay(90, true)).unwrap();
    fs::write(&bare, spam(90)).unwrap();
    let (inbox, bare) = (inbox.to_str().unwrap(), bare.to_str().unwrap());
    host.ok(&["train", "--spam", inbox]);
    let before = host.ok(&["db", "dump"]);
    assert!(before.contains("\nip 198.51.100.7 "), "{before}");
    for (ham, spam) in [(bare, inbox), (bare, inbox), (inbox, bare)] {
        std::thread::sleep(Duration::from_millis(1100));
        let o = host.run(&["train", "--ham", ham, "--spam", spam], b"");
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        assert_eq!(host.ok(&["db", "dump"]), before, "--ham {ham} --spam {spam}");
    }
}

/// Whether `check`'s line (its score with three decimals in the third column) is the score the
/// filter wrote in X-Spam-Status with one (`header`, spam here: no threshold rule applies).
fn agrees(check: &str, header: &str) -> bool {
    let score: f64 = check.split('\t').nth(2).and_then(|s| s.trim().parse().ok()).unwrap_or(f64::NAN);
    format!("{score:.1}") == header
}

/// Learned senders (`LEARNED_SENDER`) are shared like the rest: ham one host learned from a
/// sender through a relay counts for another host's deliveries from that sender through the
/// same /24, and a forget on the other host takes it back.
#[test]
fn learned_senders_are_shared_through_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = Server::start(tmp.path(), &[]) else { return };
    let a = Host::new(tmp.path(), "a", &store(&server.url()));
    let b = Host::new(tmp.path(), "b", &store(&server.url()));
    let learned = tmp.path().join("learned.eml");
    fs::write(&learned, via_relay(1, false)).unwrap();
    a.ok(&["train", "--ham", learned.to_str().unwrap()]);
    // Another message from jan1@klant.be, through another machine of the same /24.
    let later = via_relay(1, false).replace("[198.51.100.7]", "[198.51.100.9]").replace("<h1@", "<h1-later@");
    let status = |host: &Host| field(&host.run(&["filter"], later.as_bytes()).stdout, "X-Spam-Status").unwrap();
    assert!(status(&b).contains("LEARNED_SENDER"), "{}", status(&b));
    assert!(b.ok(&["db", "dump"]).contains("\nsender jan1@klant.be 198.51.100.0/24 1 0 "));
    b.ok(&["forget", learned.to_str().unwrap()]);
    assert!(!status(&a).contains("LEARNED_SENDER"), "{}", status(&a));
    assert!(!a.ok(&["db", "dump"]).contains("\nsender "));
}
