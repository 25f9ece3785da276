//! What LR costs one delivery, phase by phase, in a fresh process (docs/benchmarks.md, "LR's
//! cost"): the filter maps the weight file afresh for every message, so what a delivery pays
//! is what a new process pays (page faults, cold caches), which an in-process loop would hide.
//!
//!     cargo run --release --example lr_cost -- DB_DIR MESSAGE [sorted]
//!
//! Prints one line: microseconds to open the weights (`Database::lr_reader`: map the file,
//! check the header), to build the message's view, to hash its features (in the order scoring
//! uses, or with `sorted` in training's order), to read their weights, and the number of
//! features. Run it many times, alternating databases (a version 1 and a version 2 weight
//! file, say), and compare medians.
use std::time::Instant;

use spamfilt::lr::{self, Shape, Table};

fn main() {
    let mut args = std::env::args().skip(1);
    let (db, msg) = (args.next().expect("DB_DIR"), args.next().expect("MESSAGE"));
    let sorted = args.next().is_some_and(|a| a == "sorted");
    let raw = std::fs::read(&msg).expect("message");
    let m = spamfilt::message::Message::parse(&raw, 512 * 1024);
    let headers = spamfilt::features::TokenizerSettings::default().headers;
    let shape = Shape::default();
    let t0 = Instant::now();
    let r = spamfilt::store::Database::at(std::path::Path::new(&db)).lr_reader().expect("weights").expect("weights");
    let t1 = Instant::now();
    let v = lr::view(&m, &headers, &shape);
    let t2 = Instant::now();
    let f = if sorted { lr::features(&v, &shape) } else { lr::features_unordered(&v, &shape) };
    let t3 = Instant::now();
    let logit = r.logit(&f);
    let t4 = Instant::now();
    let us = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e6;
    println!("{:.1} {:.1} {:.1} {:.1} {} {logit:.4}", us(t0, t1), us(t1, t2), us(t2, t3), us(t3, t4), f.len());
}
