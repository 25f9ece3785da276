//! Builds a reputation database of N random IPv4 addresses for benchmarks (scripts/bench-policy.py),
//! the way training would: each address has 1 to 4 spam learned within the last 20 days, one in
//! ten also ham, one in fifty a honeypot hit, one in a hundred added by hand. Prints a sample of
//! the addresses it stored (one in a hundred), one per line.
//!
//!     cargo run --release --example build_reputation -- DB_DIR N > sample.txt
use std::net::{IpAddr, Ipv4Addr};

use spamfilt::store::reputation::ReputationLookup as _;

fn main() {
    let dir = std::env::args().nth(1).expect("DB_DIR");
    let n: u64 = std::env::args().nth(2).expect("N").parse().expect("N is a number");
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    let now = spamfilt::store::now_secs();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut rep = spamfilt::store::reputation::Reputation::default();
    let mut sample = String::new();
    let mut stored = 0u64;
    while stored < n {
        let x = next();
        // Public-looking addresses only (1.0.0.0 – 223.255.255.255, not 10/8, 127/8 or 192.168/16).
        let a = (x >> 32) as u32;
        let o = a.to_be_bytes();
        if o[0] == 0 || o[0] >= 224 || o[0] == 10 || o[0] == 127 || (o[0] == 192 && o[1] == 168) {
            continue;
        }
        let ip = IpAddr::V4(Ipv4Addr::from(a));
        if rep.ip(ip).is_some() {
            continue;
        }
        let when = now - (x % (20 * 86_400));
        for _ in 0..=(x >> 8) % 4 {
            rep.count_learned(ip, true, 1, when);
        }
        if (x >> 16) % 10 == 0 {
            rep.count_learned(ip, false, 1, when);
        }
        if (x >> 20) % 50 == 0 {
            rep.honeypot_hit(ip, when);
        }
        if (x >> 24) % 100 == 0 {
            rep.ip_mut(ip, when).manual = true;
        }
        if stored.is_multiple_of(100) {
            sample.push_str(&format!("{ip}\n"));
        }
        stored += 1;
    }
    rep.save(dir, &mut Vec::new()).unwrap();
    print!("{sample}");
}
