//! What each corpus message says about its sender and the way it came, for measuring a
//! learned-sender signal (docs/benchmarks.md, "Learned senders").
//!
//!     cargo run --release --example sender_keys -- CORPUS_DATA_DIR > keys.tsv
//!
//! One row per message: `folder name date from from_domain relay_ip rdns helo return_path
//! list_id dkim_d via_list delivered_to` (`-` for none; addresses lower-cased; domains are
//! registrable domains; the relay is `received::first_untrusted` with the built-in trusted
//! networks, as the sender checks read it; `rdns` is the reverse name the receiving server
//! recorded, `?` when the format does not say, `!` when it found none).
use std::path::Path;

use spamfilt::message::Message;

/// src/domain.rs's `registrable` (private to the library).
fn registrable(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

fn main() {
    let dir = std::env::args().nth(1).expect("corpus data dir");
    let settings = spamfilt::sender::SenderSettings::default();
    let dash = |s: Option<String>| s.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into());
    for folder in ["easy-ham-1", "spam-1", "easy-ham-2", "spam-2", "hard-ham-1"] {
        let mut files: Vec<_> = std::fs::read_dir(Path::new(&dir).join(folder))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for p in files {
            let raw = std::fs::read(&p).unwrap();
            let m = Message::parse(&raw, 512 * 1024);
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let from = m.first_address("from").map(str::to_ascii_lowercase);
            let domain_of = |a: &str| a.rsplit_once('@').map(|(_, d)| registrable(d).to_string());
            let from_domain = from.as_deref().and_then(domain_of);
            // The first untrusted relay as the sender checks read it (no database, no DNS).
            let facts = spamfilt::sender::gather(&m, &[], &settings, None, &spamfilt::dns::CacheOnly, 0);
            let (ip, rdns, helo) = match &facts.relay {
                Some(r) => {
                    // `Rdns` is private to the library: its Debug form is `Name("…")`, `Missing`, `NotRecorded`.
                    let d = format!("{:?}", r.rdns);
                    let rdns = match d.strip_prefix("Name(\"").and_then(|n| n.strip_suffix("\")")) {
                        Some(n) => n.to_ascii_lowercase(),
                        None if d == "Missing" => "!".into(),
                        None => "?".into(),
                    };
                    (Some(r.ip.to_string()), Some(rdns), r.helo.clone().map(|h| h.to_ascii_lowercase()))
                }
                None => (None, None, None),
            };
            let rp = m.first_field_mailboxes("return-path").map(|b| b.address.to_ascii_lowercase()).next();
            let list_id = m.header("list-id").map(|v| {
                let v = v.trim();
                let inner = v.rsplit_once('<').map_or(v, |(_, r)| r.trim_end_matches('>'));
                inner.trim().to_ascii_lowercase()
            });
            let dkim = m.headers_named("dkim-signature").chain(m.headers_named("domainkey-signature")).find_map(|h| {
                h.text.split(';').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k.trim() == "d").then(|| v.trim().to_ascii_lowercase())
                })
            });
            let via_list = spamfilt::learn::via_mailing_list(&m);
            let delivered = spamfilt::lists::delivered_to(&m).join(",");
            println!(
                "{folder}\t{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                m.date.unwrap_or(0),
                dash(from),
                dash(from_domain),
                dash(ip),
                dash(rdns),
                dash(helo),
                dash(rp),
                dash(list_id),
                dash(dkim),
                via_list as u8,
                dash(Some(delivered)),
            );
        }
    }
}
