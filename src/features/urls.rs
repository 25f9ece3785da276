//! URLs: found in plain text, parsed, normalized, and cracked into the pieces that identify
//! where a link really goes. Hand-written scanner, no regex. Used by the tokenizer (`url:`
//! tokens) and the content rules (blocklisted domains, IP literals, `user@host` tricks, encoded
//! hosts, shorteners).

/// Where a URL was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    /// Written in a text part, or in an HTML part's visible text without a link around it.
    Text,
    /// An HTML link's href.
    Link,
    /// An image's src.
    Image,
    /// A CSS `url(...)`.
    Css,
}

/// A URL in the message, where it was found.
#[derive(Debug, Clone)]
pub struct FoundUrl {
    pub url: Url,
    pub source: UrlSource,
    /// For HTML links: the text the reader sees.
    pub link_text: Option<String>,
    /// An HTML link or image styled invisible (or inside an invisible element).
    pub hidden: bool,
}

/// A parsed URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Url {
    /// As found (trimmed of trailing punctuation).
    pub raw: String,
    /// Lower case: `http`, `https`, `mailto`, `javascript`, `data`, … (`http` for bare `www.`).
    pub scheme: String,
    /// Lower case, percent-decoded, trailing dot removed.
    pub host: String,
    /// The registrable domain (`a.b.evil.example` → `evil.example`, `x.co.uk` → keeps 3 labels:
    /// see `domain::registrable`).
    pub domain: String,
    pub path: String,
    pub query: String,
    /// The authority had a `user@` part (`http://www.bank.example@evil.example/`).
    pub has_userinfo: bool,
    /// The host is an IP literal (dotted quad, a bare 32-bit number, hex, or IPv6 in brackets).
    pub host_is_ip: bool,
    /// The host contained `%XX` escapes.
    pub host_was_encoded: bool,
    pub port: Option<u16>,
}

/// Parses one URL (with a scheme, or starting `www.`).
pub fn parse_url(s: &str) -> Option<Url> {
    let raw = s.trim().trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '>', '"', '\'']);
    let lower = raw.to_ascii_lowercase();
    let (scheme, rest) = if let Some(p) = lower.find("://") {
        let scheme = &lower[..p];
        if scheme.is_empty()
            || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        {
            return None;
        }
        (scheme.to_string(), &raw[p + 3..])
    } else if lower.starts_with("www.") {
        ("http".to_string(), raw)
    } else if let Some(p) = lower.find(':') {
        // mailto:, javascript:, data:
        let scheme = &lower[..p];
        if !matches!(scheme, "mailto" | "javascript" | "data" | "tel" | "cid") {
            return None;
        }
        let mut u = Url { raw: raw.to_string(), scheme: scheme.to_string(), ..Url::default() };
        if scheme == "mailto" {
            let addr = &raw[p + 1..];
            let host = addr.split(['?', '>']).next().unwrap_or("").rsplit('@').next().unwrap_or("");
            u.host = host.to_ascii_lowercase();
            u.domain = crate::domain::registrable(&u.host).to_string();
        }
        return Some(u);
    } else {
        return None;
    };
    let auth_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let after = &rest[auth_end..];
    let (has_userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (true, &authority[at + 1..]),
        None => (false, authority),
    };
    let (host_raw, port) = if hostport.starts_with('[') {
        match hostport.find(']') {
            Some(e) => (&hostport[..=e], hostport[e + 1..].strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (hostport, None),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, p.parse().ok()),
            _ => (hostport, None),
        }
    };
    let host_was_encoded = host_raw.contains('%');
    let host = percent_decode(host_raw).to_ascii_lowercase().trim_end_matches('.').to_string();
    if host.is_empty() {
        return None;
    }
    let (path, query) = match after.split_once('?') {
        Some((p, q)) => (p.to_string(), q.split('#').next().unwrap_or("").to_string()),
        None => (after.split('#').next().unwrap_or("").to_string(), String::new()),
    };
    let host_is_ip = is_ip_literal(&host);
    Url {
        raw: raw.to_string(),
        scheme,
        domain: if host_is_ip { host.clone() } else { crate::domain::registrable(&host).to_string() },
        host,
        path,
        query,
        has_userinfo,
        host_is_ip,
        host_was_encoded,
        port,
    }
    .into()
}

/// Dotted quad, IPv6 in brackets, or the decimal/hex/octal single-number forms browsers accept.
fn is_ip_literal(host: &str) -> bool {
    if host.starts_with('[') {
        return true;
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    !parts.is_empty()
        && parts.len() <= 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && (p.bytes().all(|b| b.is_ascii_digit())
                    || p.strip_prefix("0x").is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit())))
        })
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds URLs in plain text: `scheme://…` for any scheme, and bare `www.…` names.
///
/// Linear in the text: the candidate starts (`:` of `://`, `w` of `www.`) come from one forward
/// pass, each URL's end is found from its start and scanning resumes there, and the walk back
/// over a scheme stops at the characters that end a URL, so no byte is looked at more than a
/// few times (issue 15: the old loop searched the whole rest of the text again at every step).
pub fn find_urls(text: &str) -> Vec<Url> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    for at in memchr::memchr3_iter(b':', b'w', b'W', b) {
        if out.len() >= 500 {
            break;
        }
        if at < i {
            continue;
        }
        crate::work::add(1);
        let scheme = b[at..].starts_with(b"://");
        let www = b.len() - at >= 4 && b[at..at + 4].eq_ignore_ascii_case(b"www.");
        if !scheme && !www {
            continue;
        }
        let start = if scheme {
            let mut s = at;
            while s > 0
                && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'+' || b[s - 1] == b'-' || b[s - 1] == b'.')
            {
                s -= 1;
            }
            crate::work::add(at - s);
            s
        } else {
            if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'.' || b[at - 1] == b'/') {
                i = at + 4;
                continue;
            }
            at
        };
        let end = text[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '|' | '^' | '{' | '}'))
            .map_or(text.len(), |e| at + e);
        crate::work::add(end - at);
        if start < at || b[at..].starts_with(b"www.") || b[at..].starts_with(b"WWW.") {
            if let Some(u) = parse_url(&text[start..end]) {
                out.push(u);
            }
        }
        i = end.max(at + 3);
        while i < text.len() && !text.is_char_boundary(i) {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let u = parse_url("HTTP://WWW.Bank.Example@%65vil.example:8080/login/verify?id=42&x=1#top").unwrap();
        assert_eq!(u.scheme, "http");
        assert_eq!(u.host, "evil.example");
        assert_eq!(u.domain, "evil.example");
        assert!(u.has_userinfo && u.host_was_encoded && !u.host_is_ip);
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path, "/login/verify");
        assert_eq!(u.query, "id=42&x=1");
        let ip = parse_url("http://3232235777/x").unwrap();
        assert!(ip.host_is_ip);
        assert!(parse_url("http://0x7f.0x0.0x0.0x1/").unwrap().host_is_ip);
        assert!(parse_url("http://192.168.1.1/").unwrap().host_is_ip);
        assert_eq!(parse_url("mailto:jan@klant.be?subject=x").unwrap().domain, "klant.be");
        assert_eq!(parse_url("javascript:alert(1)").unwrap().scheme, "javascript");
        assert!(parse_url("not a url").is_none());
    }

    #[test]
    fn finds_urls_in_text() {
        let t = "Bezoek https://www.klant.be/offerte, of www.voorbeeld.nl. Zie ook (http://1.2.3.4/x) en café.";
        let hosts: Vec<String> = find_urls(t).into_iter().map(|u| u.host).collect();
        assert_eq!(hosts, ["www.klant.be", "www.voorbeeld.nl", "1.2.3.4"]);
        assert!(find_urls("no links here: 3://").is_empty());
        let _ = find_urls("www.");
        let _ = find_urls("://://");
        let _ = find_urls("é://ü www.é");
    }

    /// Issue 15: `://` with no scheme again and again (500 KB of it cost 9 s), `www.` inside
    /// words, and real URLs: the work grows as the text does.
    #[test]
    fn finding_urls_is_linear() {
        for unit in [" ://", "xwww.", "://", "a://b ", " www.x.example", "http://a.example/x\n", "w", "WwW.", "é://"] {
            crate::work::assert_linear(
                unit,
                20_000,
                |n| unit.repeat(n / unit.len()),
                |t| {
                    find_urls(t);
                },
            );
        }
    }

    /// The candidates come from one forward pass now; what is found is what the old loop found.
    #[test]
    fn finds_what_the_old_loop_found() {
        fn old(text: &str) -> Vec<Url> {
            let find_ci = |hay: &str, needle: &str| {
                hay.as_bytes().windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            };
            let mut out = Vec::new();
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() && out.len() < 500 {
                let rest = &text[i..];
                let next = [rest.find("://"), find_ci(rest, "www.")].into_iter().flatten().min();
                let Some(p) = next else { break };
                let at = i + p;
                let start = if text[at..].starts_with("://") {
                    let mut s = at;
                    while s > 0
                        && (b[s - 1].is_ascii_alphanumeric()
                            || b[s - 1] == b'+'
                            || b[s - 1] == b'-'
                            || b[s - 1] == b'.')
                    {
                        s -= 1;
                    }
                    s
                } else {
                    if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'.' || b[at - 1] == b'/') {
                        i = at + 4;
                        continue;
                    }
                    at
                };
                let end = text[at..]
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`' | '|' | '^' | '{' | '}')
                    })
                    .map_or(text.len(), |e| at + e);
                if start < at || text[at..].starts_with("www.") || text[at..].starts_with("WWW.") {
                    if let Some(u) = parse_url(&text[start..end]) {
                        out.push(u);
                    }
                }
                i = end.max(at + 3);
                while i < text.len() && !text.is_char_boundary(i) {
                    i += 1;
                }
            }
            out
        }
        let pieces = [
            "http://a.example/x",
            "www.b.example",
            "WWW.C.EXAMPLE",
            "wWw.d.example",
            "xwww.e.example",
            ".www.f",
            "/www.g",
            "://",
            "h+t-t.p://i.example",
            "é",
            "ü://j",
            " ",
            "\n",
            "<",
            ">",
            "\"",
            "mailto:k@l.example",
            "w",
            "ww",
            "www",
            ":",
            "//",
            "a",
            "1.2.3.4",
            "(",
            ")",
            "https://m.example/p?q=1#f",
            "|",
            "{",
            "\u{3000}",
        ];
        let mut next = crate::test_rng::xorshift(0x5eed_u64);
        for _ in 0..3000 {
            let t: String = (0..next() % 12).map(|_| pieces[next() as usize % pieces.len()]).collect();
            assert_eq!(find_urls(&t), old(&t), "{t:?}");
        }
        let many: String = (0..700).map(|i| format!("http://h{i}.example/ ")).collect();
        assert_eq!(find_urls(&many), old(&many));
        assert_eq!(find_urls(&many).len(), 500);
    }
}
