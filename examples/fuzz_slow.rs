//! A deterministic mutation fuzzer on stable Rust that looks for the *slowest* inputs (issue 15):
//! it mutates real messages into hostile shapes, runs each through `filter::process` (what
//! `spamfilt filter` runs, with the default rules, the built-in starter table, allow/block
//! lists, a honeypot and an in-memory reputation database; no DNS), and records for every input
//! its CPU time, its size and the work counter of `src/work.rs`. It keeps mutating the slowest
//! inputs it has found (a hill climb on time per kilobyte), checks on every input that nothing
//! panics and that the output is the input plus our fields (the same check as the libFuzzer
//! target, fuzz/fuzz_targets/filter.rs), and at the end writes the slowest inputs and a report.
//!
//!     cargo run --release --features work-count --example fuzz_slow -- \
//!         [--seconds 600] [--seed 1] [--top 20] [--out target/fuzz-slow] SEED_FILE_OR_DIR...
//!
//! Without `--features work-count` the work column is empty. Every input that panics or breaks
//! the pass-through property is written to OUT/crash-*.eml: copy it into tests/fixtures/fuzz/,
//! which tests/reliability.rs replays through the real binary on every test run. The same seed
//! and seed files give the same sequence of inputs (times differ from run to run).
//! docs/reliability.md says how it was run and what it found.

use std::collections::BinaryHeap;
use std::path::PathBuf;

use spamfilt::features::TokenizerSettings;
use spamfilt::lists::AddressList;
use spamfilt::rules::{RuleSet, RuleSettings};
use spamfilt::scoring::{Scorer, SenderContext};
use spamfilt::sender::SenderSettings;
use spamfilt::store::reputation::Reputation;
use spamfilt::verdict::ScoringSettings;

const NOW: u64 = 1_800_000_000;
/// Inputs are kept to at most this (the filter scans 512 KiB; a little more tests the cut).
const MAX_LEN: usize = 600 * 1024;
/// Below this size a time per kilobyte says little (process noise dominates).
const MIN_RANKED: usize = 2048;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// A size skewed towards small numbers but reaching `max`: 2^(uniform) - 1.
    fn size(&mut self, max: usize) -> usize {
        let bits = (usize::BITS - max.leading_zeros()) as usize;
        let b = self.below(bits + 1);
        self.below((1usize << b).min(max) + 1)
    }
}

/// The thread's CPU time in nanoseconds (not wall time: the machine is shared).
fn cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(feature = "work-count")]
fn measured<R>(f: impl FnOnce() -> R) -> (R, u64) {
    spamfilt::work::measure(f)
}

#[cfg(not(feature = "work-count"))]
fn measured<R>(f: impl FnOnce() -> R) -> (R, u64) {
    (f(), 0)
}

const HEADER_UNITS: &[&[u8]] = &[
    b"X-A: b\n",
    b"Received: from a.example (a.example [192.0.2.1]) by mx.example with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\n",
    b"To: a@b.example, \"x\" <c@d.example>,\n",
    b"Subject: =?utf-8?b?dmlhZ3Jh?= =?iso-8859-1?q?=E9t=E9?=\n",
    b"X-Spam-Flag: YES\n",
    b"Content-Type: multipart/mixed; boundary=\"q\"\n",
    b" folded continuation\n",
    b"From: (((a@b.example\n",
];

const BODY_UNITS: &[&[u8]] = &[
    b" ://",
    b"xwww.",
    b"http://a.example/.php?",
    b"<b>x",
    b"a<!--",
    b"ab<b ",
    b"<div>",
    b"</x>",
    b"<a href=\"http://x",
    b"<img src=\"http://a.example/1.gif\" width=1 height=1>",
    b"<style>url(x)",
    b"v.i.a.g.r.a ",
    b"=\n",
    b"=3D=",
    b"&#x41;&amp",
    b"\xd0\xb0a\xce\xb1 ",
    b"\xe4\xb8\xad\xe6\x96\x87",
    b"AAAA",
    b"====",
    b"--z\n",
    b"\r\n",
    b"\x00",
    b"=?utf-8?q?a?=",
    b"www.a.example/",
    b"mailto:a@",
    b"[192.0.2.1]",
];

fn pick<'a>(rng: &mut Rng, units: &[&'a [u8]]) -> &'a [u8] {
    units[rng.below(units.len())]
}

/// The offsets of the line starts of `b` (at most the first 100,000).
fn line_starts(b: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(memchr::memchr_iter(b'\n', b).map(|i| i + 1).filter(|&i| i < b.len()).take(100_000));
    v
}

/// Where the header block ends (the offset of its blank line), or the end.
fn header_end(b: &[u8]) -> usize {
    memchr::memmem::find(b, b"\n\n").map_or(b.len(), |i| i + 1)
}

fn repeated(unit: &[u8], n: usize) -> Vec<u8> {
    let n = n.min(MAX_LEN / unit.len().max(1));
    unit.repeat(n.max(1))
}

/// One mutation of `m`, named (for the report).
fn mutate(rng: &mut Rng, m: &[u8], other: &[u8]) -> (Vec<u8>, &'static str) {
    let mut out = m.to_vec();
    let name = match rng.below(14) {
        0 => {
            for _ in 0..=rng.size(64) {
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    out[i] = rng.next() as u8;
                }
            }
            "byte flips"
        }
        1 => {
            // Duplicate one header line many times.
            let he = header_end(&out);
            let starts: Vec<usize> = line_starts(&out[..he]);
            let s = starts[rng.below(starts.len())];
            let e = memchr::memchr(b'\n', &out[s..]).map_or(out.len(), |i| s + i + 1);
            let line = out[s..e].to_vec();
            let copies = repeated(&line, rng.size(80_000));
            out.splice(e..e, copies);
            "duplicated header line"
        }
        2 => {
            // A hostile header unit, many times.
            let unit = pick(rng, HEADER_UNITS);
            let ins = repeated(unit, rng.size(80_000));
            let at = if out.starts_with(b"From ") { memchr::memchr(b'\n', &out).map_or(0, |i| i + 1) } else { 0 };
            out.splice(at..at, ins);
            "header flood"
        }
        3 => {
            // Deep MIME nesting around the body.
            let depth = rng.size(20_000).max(1);
            let rfc822 = rng.below(2) == 0;
            let mut head = Vec::new();
            for i in 0..depth {
                if rfc822 {
                    head.extend_from_slice(b"Content-Type: message/rfc822\n\n");
                } else {
                    head.extend_from_slice(
                        format!("Content-Type: multipart/mixed; boundary=b{i}\n\n--b{i}\n").as_bytes(),
                    );
                }
            }
            let he = header_end(&out);
            let body = out[he..].to_vec();
            out.truncate(he);
            out.extend_from_slice(b"MIME-Version: 1.0\n");
            out.extend_from_slice(&head);
            out.extend_from_slice(b"Content-Type: text/html\n");
            out.extend_from_slice(&body);
            "deep nesting"
        }
        4 => {
            // One huge line.
            let at = rng.below(out.len() + 1);
            let c = if rng.below(2) == 0 { b'a' } else { rng.next() as u8 };
            out.splice(at..at, std::iter::repeat_n(c, rng.size(MAX_LEN)));
            "huge line"
        }
        5 => {
            // Many small parts.
            let n = rng.size(20_000).max(1);
            let part: &[u8] = match rng.below(3) {
                0 => b"--z\nContent-Type: text/plain\n\nx\n",
                1 => b"--z\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nQUJD\n",
                _ => b"--z\nContent-Type: text/html\n\n<a href=\"http://a.example/\">x</a>\n",
            };
            let he = header_end(&out);
            out.truncate(he);
            out.extend_from_slice(b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n");
            out.extend_from_slice(&repeated(part, n));
            out.extend_from_slice(b"--z--\n");
            "many parts"
        }
        6 => {
            // A body in base64 or quoted-printable junk.
            let qp = rng.below(2) == 0;
            let n = rng.size(MAX_LEN / 2);
            let mut junk = Vec::with_capacity(n);
            let alphabet: &[u8] = if qp {
                b"=3D=\n=A0=ZZabc =\r\n"
            } else {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n!"
            };
            for _ in 0..n {
                junk.push(alphabet[rng.below(alphabet.len())]);
            }
            let he = header_end(&out);
            out.truncate(he);
            out.extend_from_slice(if qp {
                &b"Content-Transfer-Encoding: quoted-printable\nContent-Type: text/html\n\n"[..]
            } else {
                &b"Content-Transfer-Encoding: base64\nContent-Type: text/plain\n\n"[..]
            });
            out.extend_from_slice(&junk);
            "base64/QP junk"
        }
        7 | 8 => {
            // A body unit (tags, links, comments, split words...) repeated, as HTML or text.
            let unit = pick(rng, BODY_UNITS);
            let n = rng.size(MAX_LEN / unit.len());
            let he = header_end(&out);
            let at = he + rng.below(out.len() - he + 1);
            out.splice(at..at, repeated(unit, n));
            if rng.below(2) == 0 {
                out.splice(0..0, b"Content-Type: text/html\n".iter().copied());
            }
            "body unit flood"
        }
        9 => {
            // Repeat a random slice of the message.
            let s = rng.below(out.len());
            let e = (s + 1 + rng.size(4096)).min(out.len());
            let chunk = out[s..e].to_vec();
            out.splice(e..e, repeated(&chunk, rng.size(MAX_LEN / chunk.len().max(1))));
            "repeated chunk"
        }
        10 => {
            // Splice with another seed.
            let a = rng.below(out.len() + 1);
            let b = rng.below(other.len() + 1);
            out.truncate(a);
            out.extend_from_slice(&other[b..]);
            "splice"
        }
        11 => {
            // Delete a range.
            let s = rng.below(out.len());
            let e = (s + rng.size(out.len() - s)).min(out.len());
            out.drain(s..e);
            "delete"
        }
        12 => {
            // CRLF everywhere, or LF everywhere.
            if rng.below(2) == 0 {
                let mut v = Vec::with_capacity(out.len() * 2);
                for &b in &out {
                    if b == b'\n' {
                        v.push(b'\r');
                    }
                    v.push(b);
                }
                out = v;
                "to CRLF"
            } else {
                out.retain(|&b| b != b'\r');
                "to LF"
            }
        }
        _ => {
            // Encoded words in the Subject and From.
            let n = rng.size(40_000);
            let mut h = b"Subject: ".to_vec();
            h.extend_from_slice(&repeated(b"=?utf-8?b?dmlh?= =?x-unknown?q?=FF?=", n));
            h.extend_from_slice(b"\nFrom: ");
            h.extend_from_slice(&repeated(b"=?utf-8?q?a?= <a@b.example>, ", n / 4));
            h.push(b'\n');
            out.splice(0..0, h);
            "encoded words"
        }
    };
    out.truncate(MAX_LEN);
    (out, name)
}

// -- the pass-through check, independent of src/rewrite.rs (as in the libFuzzer target) --

fn header_lines(msg: &[u8]) -> impl Iterator<Item = (usize, &[u8], bool)> {
    let mut in_header = true;
    msg.split_inclusive(|&b| b == b'\n').enumerate().map(move |(i, line)| {
        let was = in_header;
        if in_header && (line == b"\n" || line == b"\r\n") {
            in_header = false;
        }
        (i, line, was && in_header)
    })
}

fn is_spam_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
    let name = line[..colon].trim_ascii_end();
    name.len() > 7 && name[..7].eq_ignore_ascii_case(b"x-spam-")
}

fn strip_spam_fields(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len());
    let mut skipping = false;
    for (i, line, header) in header_lines(msg) {
        if header && !(i == 0 && line.starts_with(b"From ")) {
            if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                skipping = is_spam_field(line);
                if skipping {
                    continue;
                }
            }
        } else if !header {
            skipping = false;
        }
        out.extend_from_slice(line);
    }
    out
}

fn first_line(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == b'\n').map_or(raw.len(), |i| i + 1);
    &raw[..end]
}

/// Whether `got` is `expected` with one empty LF line put before a CR LF line that ends a
/// header block of LF lines: what the filter writes there so that procmail's header ends where
/// everyone else's does (attack report F8, docs/reliability.md: "one blank line at the top of the
/// body being the only change").
fn lf_line_before_crlf_line(expected: &[u8], got: &[u8]) -> bool {
    if got.len() != expected.len() + 1 {
        return false;
    }
    let k = expected.iter().zip(got).position(|(a, b)| a != b).unwrap_or(expected.len());
    k > 0
        && expected[k - 1] == b'\n'
        && got[k] == b'\n'
        && expected[k..].starts_with(b"\r\n")
        && got[..k] == expected[..k]
        && got[k + 1..] == expected[k..]
}

/// Why the output is not the input plus our fields, if it is not.
fn pass_through_problem(input: &[u8], output: &[u8]) -> Option<&'static str> {
    let expected = strip_spam_fields(input);
    let got = strip_spam_fields(output);
    if got != expected {
        let headers = if input.starts_with(b"From ") { &input[first_line(input).len()..] } else { input };
        let eol: &[u8] = if first_line(headers).ends_with(b"\r\n") { b"\r\n" } else { b"\n" };
        let mut at_end = expected.clone();
        at_end.extend_from_slice(eol);
        if got != at_end && !lf_line_before_crlf_line(&expected, &got) {
            return Some("the output is not the input plus our fields");
        }
    }
    let added =
        header_lines(output).filter(|(i, l, h)| *h && !(*i == 0 && l.starts_with(b"From ")) && is_spam_field(l));
    if added.count() < 2 {
        return Some("X-Spam-Status or X-Spam-Level is missing");
    }
    None
}

/// One input as ranked: its CPU time per kilobyte.
#[derive(Clone)]
struct Slow {
    ns_per_kb: u64,
    ns: u64,
    work: u64,
    len: usize,
    how: String,
    input: Vec<u8>,
}

impl PartialEq for Slow {
    fn eq(&self, o: &Self) -> bool {
        self.ns_per_kb == o.ns_per_kb
    }
}
impl Eq for Slow {}
impl PartialOrd for Slow {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Slow {
    // Reversed: the heap's top is the *fastest* of the kept, the one to drop.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.ns_per_kb.cmp(&self.ns_per_kb)
    }
}

fn seeds(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> =
                std::fs::read_dir(p).expect("seed directory").filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            files.extend(entries.into_iter().filter(|p| p.is_file()));
        } else {
            files.push(p.clone());
        }
    }
    files.iter().filter_map(|f| std::fs::read(f).ok()).filter(|b| !b.is_empty()).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seconds, mut seed, mut top, mut out) = (600u64, 1u64, 20usize, PathBuf::from("target/fuzz-slow"));
    let mut paths = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|s| s.parse().ok()).expect("--seconds N"),
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).expect("--seed N"),
            "--top" => top = args.next().and_then(|s| s.parse().ok()).expect("--top N"),
            "--out" => out = args.next().map(PathBuf::from).expect("--out DIR"),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("tests/fixtures"));
    }
    // The delivery's malloc settings (src/main.rs), so that times here are the filter's.
    // SAFETY: mallopt only sets glibc's malloc parameters; no other thread exists yet.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
    let corpus = seeds(&paths);
    assert!(!corpus.is_empty(), "no seed messages in {paths:?}");
    std::fs::create_dir_all(&out).expect("output directory");

    let scoring = ScoringSettings::default();
    let tokenizer = TokenizerSettings::default();
    let rules = RuleSet::load(&RuleSettings::default()).expect("default rules load");
    let sender = SenderSettings {
        allow: AddressList::parse("friend@example.org\n*.school.example\n").unwrap(),
        block: AddressList::parse("@spammer.example\n").unwrap(),
        honeypots: AddressList::parse("trap@example.net\n").unwrap(),
        ip_expire_days: 30,
        ..SenderSettings::default()
    };
    let mut reputation = Reputation::default();
    reputation.count_learned("192.0.2.1".parse().unwrap(), true, 1, NOW);
    reputation.add_correspondent("colleague@example.com", NOW);
    let scorer = Scorer {
        scoring: &scoring,
        tokenizer: &tokenizer,
        db: None,
        starter: spamfilt::starter::Starter::embedded(),
        rules: Some(&rules),
        use_bayes: true,
        lr: None,
        sender: Some(SenderContext {
            settings: &sender,
            reputation: Some(&reputation),
            resolver: &spamfilt::dns::CacheOnly,
            now: NOW,
        }),
    };
    // A mail-parser panic is caught inside and expected (message.rs); say nothing about those.
    std::panic::set_hook(Box::new(|info| {
        if !spamfilt::message::in_parser() {
            eprintln!("panic: {info}");
        }
    }));

    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut kept: BinaryHeap<Slow> = BinaryHeap::new();
    let start = std::time::Instant::now();
    let (mut runs, mut crashes, mut bytes) = (0u64, 0usize, 0u64);
    let mut worst_ns = 0u64;
    let mut by_mutation: std::collections::BTreeMap<&str, (u64, u64, u64)> = Default::default();
    while start.elapsed().as_secs() < seconds {
        // Mutate a seed, or (half the time, once there are some) one of the slowest so far.
        let base: Vec<u8> = if !kept.is_empty() && rng.below(2) == 0 {
            let v: Vec<&Slow> = kept.iter().collect();
            v[rng.below(v.len())].input.clone()
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        let other = &corpus[rng.below(corpus.len())];
        let (mut input, mut how) = mutate(&mut rng, &base, other);
        if rng.below(3) == 0 {
            let (again, how2) = mutate(&mut rng, &input, other);
            input = again;
            how = if how == how2 { how } else { "two mutations" };
        }
        let t0 = cpu_ns();
        let (result, work) = measured(|| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let f = spamfilt::filter::process(&scorer, &input);
                f.output(&input)
            }))
        });
        let ns = cpu_ns() - t0;
        runs += 1;
        bytes += input.len() as u64;
        worst_ns = worst_ns.max(ns);
        let e = by_mutation.entry(how).or_default();
        e.0 += 1;
        e.1 += ns;
        e.2 = e.2.max(ns);
        let problem = match &result {
            Err(_) => Some("panic"),
            Ok(Some(output)) => pass_through_problem(&input, output),
            Ok(None) => None,
        };
        if let Some(why) = problem {
            crashes += 1;
            let path = out.join(format!("crash-{crashes:03}.eml"));
            std::fs::write(&path, &input).expect("write crash");
            eprintln!("{}: {why} ({how}, {} bytes)", path.display(), input.len());
        }
        if input.len() >= MIN_RANKED {
            let ns_per_kb = ns * 1024 / input.len() as u64;
            if kept.len() < top || kept.peek().is_some_and(|s| s.ns_per_kb < ns_per_kb) {
                kept.push(Slow { ns_per_kb, ns, work, len: input.len(), how: how.to_string(), input });
                if kept.len() > top {
                    kept.pop();
                }
            }
        }
    }

    let mut slow = kept.into_sorted_vec(); // slowest first (the order is reversed)
    slow.truncate(top);
    let mut report = format!(
        "# fuzz_slow: seed {seed}, {} seed messages, {seconds} s, {runs} inputs, {} MB in all, {crashes} crashes; \
         slowest input {:.1} ms\n",
        corpus.len(),
        bytes / 1_000_000,
        worst_ns as f64 / 1e6
    );
    report.push_str("# per mutation: name, inputs, mean ms, max ms\n");
    for (name, (n, total, max)) in &by_mutation {
        report.push_str(&format!(
            "#   {name}\t{n}\t{:.2}\t{:.1}\n",
            *total as f64 / *n as f64 / 1e6,
            *max as f64 / 1e6
        ));
    }
    report.push_str("rank\tfile\tbytes\tms\tus_per_KB\twork\twork_per_byte\tmutation\n");
    for (i, s) in slow.iter().enumerate() {
        let name = format!("slow-{:02}.eml", i + 1);
        std::fs::write(out.join(&name), &s.input).expect("write slow input");
        report.push_str(&format!(
            "{}\t{name}\t{}\t{:.2}\t{:.1}\t{}\t{:.2}\t{}\n",
            i + 1,
            s.len,
            s.ns as f64 / 1e6,
            s.ns_per_kb as f64 / 1e3,
            s.work,
            s.work as f64 / s.len as f64,
            s.how
        ));
    }
    std::fs::write(out.join("report.tsv"), &report).expect("write report");
    print!("{report}");
}
