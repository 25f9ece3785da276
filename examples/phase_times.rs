//! Where a message's scoring time goes, phase by phase, averaged over a list of messages (one
//! thread, everything read into memory first, the database already open).
//!
//!     cargo run --release --example phase_times -- LIST_OF_MESSAGE_PATHS DB_DIR
//!
//! Used to decide what to make faster (docs/benchmarks.md); the speed claims come from
//! scripts/bench.py, which times whole processes against bogofilter.
use std::time::{Duration, Instant};
fn main() {
    let list = std::env::args().nth(1).unwrap();
    let db = std::env::args().nth(2).unwrap();
    let paths: Vec<String> = std::fs::read_to_string(list).unwrap().lines().map(String::from).collect();
    let raws: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let rules = spamfilt::rules::RuleSet::load(&Default::default()).unwrap();
    let tok = spamfilt::features::TokenizerSettings::default();
    let dbase = spamfilt::store::Database::at(std::path::Path::new(&db));
    let reader = dbase.reader().unwrap().unwrap();
    let mut t = [Duration::ZERO; 6];
    let mut n = 0usize;
    for raw in &raws {
        let a = Instant::now();
        let msg = spamfilt::message::Message::parse(raw, 1 << 20);
        let b = Instant::now();
        let content = spamfilt::features::Content::extract(&msg, &tok);
        let c = Instant::now();
        let cx = spamfilt::rules::Context::new(&msg, &content);
        let d = Instant::now();
        let hits = rules.evaluate(&cx);
        let e = Instant::now();
        let tokens = spamfilt::features::tokens(&msg, &content, &tok);
        let f = Instant::now();
        let counts = spamfilt::store::TokenLookup::lookup(&reader, tokens.hashes());
        let g = Instant::now();
        n += hits.len() + counts.len();
        for (i, (x, y)) in [(a, b), (b, c), (c, d), (d, e), (e, f), (f, g)].iter().enumerate() {
            t[i] += *y - *x;
        }
    }
    let names = ["parse", "extract", "context", "rules", "tokens", "lookup"];
    let total: Duration = t.iter().sum();
    for (name, d) in names.iter().zip(t) {
        println!(
            "{name:8} {:7.1} us/msg {:4.1}%",
            d.as_secs_f64() * 1e6 / raws.len() as f64,
            100.0 * d.as_secs_f64() / total.as_secs_f64()
        );
    }
    println!("total    {:7.1} us/msg ({n})", total.as_secs_f64() * 1e6 / raws.len() as f64);
}
