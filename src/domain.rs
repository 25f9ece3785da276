//! Registrable domains, from the Public Suffix List: the one answer to "which part of this host
//! name did somebody register" that the tokenizer (`url:d:`, `from:d:` … tokens), the link rules,
//! the URI blocklists and the `Received:` checks (HELO against reverse DNS) share.
//!
//! The `psl` crate compiles the list into code (a `match` per label), so nothing is parsed,
//! allocated or relocated when a delivery starts; the list is as current as the crate's version in
//! Cargo.lock. The list's private section counts too: `spam.github.io` and `x.blogspot.com` are
//! registrations of their own, as `www.spam.co.at` is `spam.co.at`.

/// The registrable domain of a lower-case host name: the public suffix and one label more
/// (`a.b.evil.example` → `evil.example`, `www.bbc.co.uk` → `bbc.co.uk`). A trailing dot is
/// ignored. The host itself when there is no such part: an IP address, a single label, a public
/// suffix itself (`co.uk`).
pub fn registrable(host: &str) -> &str {
    let host = host.trim_end_matches('.');
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    psl::domain_str(host).unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::registrable;

    #[test]
    fn registrable_domains() {
        for (host, domain) in [
            ("a.b.evil.example", "evil.example"),
            ("evil.example", "evil.example"),
            ("www.bbc.co.uk", "bbc.co.uk"),
            ("mail.klant.co.uk", "klant.co.uk"),
            ("a.b.klant.be", "klant.be"),
            ("klant.be.", "klant.be"),
            // What the two heuristics this replaced got wrong: a suffix they did not know, and
            // the list's private section.
            ("www.spam.co.at", "spam.co.at"),
            ("spam.github.io", "spam.github.io"),
            ("x.spam.blogspot.com", "spam.blogspot.com"),
            ("shop.example.com.au", "example.com.au"),
            // No registrable part: the host itself.
            ("localhost", "localhost"),
            ("co.uk", "co.uk"),
            ("1.2.3.4", "1.2.3.4"),
            ("2001:db8::1", "2001:db8::1"),
            ("", ""),
        ] {
            assert_eq!(registrable(host), domain, "{host}");
        }
    }
}
