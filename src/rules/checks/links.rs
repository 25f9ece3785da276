//! Helpers of the link checks: URL anatomy, redirectors, tracking queries, link text that
//! names another host.

use super::*;

/// Whether `host` or a parent domain of it is on the URI blocklist. Only the names no longer
/// than its longest entry (`RuleSet::uri_blocklist_longest`) are looked up: looking up every
/// parent of a host of thousands of labels hashed each, quadratic in the host's length (a
/// 256 KB link cost 6.4 s).
pub(super) fn blocklisted(host: &str, rs: &RuleSet) -> bool {
    let longest = rs.uri_blocklist_longest;
    if rs.uri_blocklist.is_empty() {
        return false;
    }
    // The host and every parent domain: a.b.evil.example hits evil.example.
    let mut h = host;
    loop {
        crate::work::add(1);
        if h.len() <= longest && {
            crate::work::add(h.len());
            rs.uri_blocklist.contains(h)
        } {
            return true;
        }
        match h.split_once('.') {
            Some((_, rest)) if rest.contains('.') => h = rest,
            _ => return false,
        }
    }
}

pub(super) fn is_dotted_quad(h: &str) -> bool {
    h.parse::<std::net::Ipv4Addr>().is_ok() || (h.starts_with('[') && h.ends_with(']'))
}

pub(super) fn digit_heavy_host(h: &str) -> bool {
    h.split('.').any(|l| l.len() >= 6 && l.bytes().filter(u8::is_ascii_digit).count() * 2 >= l.len())
}

pub(super) fn encoded_letters(raw: &str) -> usize {
    let b = raw.as_bytes();
    let mut n = 0;
    for i in 0..b.len().saturating_sub(2) {
        if b[i] == b'%' {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                if v.is_ascii_alphanumeric() {
                    n += 1;
                }
            }
        }
    }
    n
}

/// Whether a host is on a free web host: one of `FREE_HOSTING` or a name under it. Under, not
/// by registrable domain: most of them are public suffixes (`x.blogspot.com` is registered as
/// itself), and `sites.google.com` is a host, not a domain.
pub(super) fn free_hosting(host: &str) -> bool {
    FREE_HOSTING.iter().any(|h| host.strip_suffix(h).is_some_and(|rest| rest.is_empty() || rest.ends_with('.')))
}

pub(super) fn redirector(u: &urls::Url) -> bool {
    let q = u.query.to_ascii_lowercase();
    let p = u.path.to_ascii_lowercase();
    q.contains("=http")
        || q.contains("=https%3a")
        || q.contains("=http%3a")
        || p.contains("/http://")
        || p.contains("/https://")
}

pub(super) fn tracking_query(u: &urls::Url) -> bool {
    let all = format!("{}?{}", u.path, u.query).to_ascii_lowercase();
    ["track", "pixel", "open.", "beacon", "/o.gif", "/t.gif", "spacer.gif", "clear.gif", "blank.gif", "1x1"]
        .iter()
        .any(|k| all.contains(k))
        || u.query.split('&').any(|kv| {
            let v = kv.split_once('=').map_or(kv, |(_, v)| v);
            v.len() >= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

pub(super) fn link_text_mismatch(u: &crate::rules::context::FoundUrl) -> bool {
    let Some(text) = &u.link_text else { return false };
    if !u.url.scheme.starts_with("http") || u.url.domain.is_empty() {
        return false;
    }
    // The link text itself looks like a URL or a host name: compare registrable domains.
    let t = text.trim();
    if t.contains(' ') || !t.contains('.') {
        return false;
    }
    let shown = if t.contains("://") || t.to_ascii_lowercase().starts_with("www.") {
        urls::parse_url(t)
    } else if t.split('.').count() >= 2
        && t.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/'))
        && !t.contains('@')
    {
        urls::parse_url(&format!("http://{t}"))
    } else {
        None
    };
    match shown {
        Some(s) if !s.domain.is_empty() && s.host.contains('.') => s.domain != u.url.domain,
        _ => false,
    }
}

pub(super) fn uri_many_domains(c: &Context, _: &RuleSet) -> bool {
    let domains: HashSet<&str> = c
        .urls
        .iter()
        .filter(|u| u.url.scheme.starts_with("http") && !u.url.domain.is_empty())
        .map(|u| u.url.domain.as_str())
        .collect();
    domains.len() >= 8 && c.word_count_up_to(300) < 300
}

#[cfg(test)]
mod tests {
    use super::{blocklisted, free_hosting};
    use crate::rules::{RuleSet, RuleSettings};

    /// Only the parent domains as short as the longest entry are looked up: a host of
    /// thousands of labels costs its length, not its length squared. What is found is the same.
    #[test]
    fn blocklisted_hosts_and_parents_at_linear_cost() {
        let settings = RuleSettings {
            uri_blocklist: ["evil.example".to_string(), "b.bad.example".to_string()].into(),
            ..Default::default()
        };
        let rs = RuleSet::load(&settings).unwrap();
        assert_eq!(rs.uri_blocklist_longest, "b.bad.example".len());
        for (host, hit) in [
            ("evil.example", true),
            ("a.b.evil.example", true),
            ("b.bad.example", true),
            ("a.b.bad.example", true),
            ("bad.example", false),
            ("notevil.example", false),
            ("evil.example.org", false),
        ] {
            assert_eq!(blocklisted(host, &rs), hit, "{host}");
        }
        crate::work::assert_linear(
            "blocklisted",
            20_000,
            |n| format!("{}evil.example", "a.".repeat(n / 2)),
            |h| {
                assert!(blocklisted(h, &rs));
            },
        );
    }

    #[test]
    fn free_hosts_and_names_under_them() {
        for host in ["geocities.com", "spam.blogspot.com", "a.b.netlify.app", "sites.google.com"] {
            assert!(free_hosting(host), "{host}");
        }
        for host in ["notblogspot.com", "google.com", "blogspot.com.evil.example", "mail.klant.be"] {
            assert!(!free_hosting(host), "{host}");
        }
    }
}
