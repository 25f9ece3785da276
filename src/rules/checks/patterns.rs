//! Checks that were regex rules; as code they cost nothing to set up on each delivery
//! (compiling the six regexes cost more than scoring a message; docs/benchmarks.md). A unit test in checks.rs runs
//! each against its old regex as the oracle.

use super::*;

/// Positions where `needle` (ASCII, lower case) occurs in `hay`, ignoring ASCII case.
pub(super) fn find_ci<'h>(hay: &'h str, needle: &'static str) -> impl Iterator<Item = usize> + 'h {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let first = n[0];
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), h)
        .filter(move |&i| h.len() - i >= n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

pub(super) fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

pub(super) fn ascii_letter_at(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(|b| b.is_ascii_alphabetic())
}

/// `\.(php|asp|cgi|pl)\?[^ ]*=[a-z0-9]{20,}`: a script link carrying a long per-recipient id.
///
/// One pass: after a `.php?` (or the others) and until the next space, each `=` is looked at
/// once (up to 20 bytes after it), so a link of `.php?` repeated costs what its length does.
pub(super) fn script_with_long_id(url: &str) -> bool {
    let b = url.as_bytes();
    let mut armed = false;
    for p in 0..b.len() {
        crate::work::add(1);
        match b[p] {
            b' ' => armed = false,
            b'=' if armed => {
                crate::work::add(20);
                if b[p + 1..].iter().take_while(|c| c.is_ascii_alphanumeric()).take(20).count() == 20 {
                    return true;
                }
            }
            b'.' => armed |= [".php?", ".asp?", ".cgi?", ".pl?"].iter().any(|ext| starts_with_ci(&url[p..], ext)),
            _ => {}
        }
    }
    false
}

/// `\.(exe|scr|bat|cmd|vbs|js|jar|msi|apk|hta)(\?|$)`: a link straight to a program.
pub(super) fn links_executable(url: &str) -> bool {
    const EXTS: [&str; 10] = ["exe", "scr", "bat", "cmd", "vbs", "js", "jar", "msi", "apk", "hta"];
    url.match_indices('.').any(|(i, _)| {
        let rest = &url[i + 1..];
        EXTS.iter().any(|e| starts_with_ci(rest, e) && matches!(rest.as_bytes().get(e.len()), None | Some(b'?')))
    })
}

/// `(mass ?mail|bulk ?mail|group ?mail|send-?safe|atlas ?mailer|massmailer|emailer platinum|
/// stealth ?mail|dynamic mail|advanced mass sender|aureate|floodgate|extractor)` in X-Mailer.
pub(super) const BULK_MAILERS: &[&str] = &[
    "mass mail",
    "massmail",
    "bulk mail",
    "bulkmail",
    "group mail",
    "groupmail",
    "send-safe",
    "sendsafe",
    "atlas mailer",
    "atlasmailer",
    "emailer platinum",
    "stealth mail",
    "stealthmail",
    "dynamic mail",
    "advanced mass sender",
    "aureate",
    "floodgate",
    "extractor",
];

/// An X-Mailer of a bulk-mailing program.
pub(super) fn bulk_mailer(c: &Context) -> bool {
    c.msg.headers_named("X-Mailer").any(|h| bulk_mailer_name(&h.text))
}

pub(super) fn bulk_mailer_name(mailer: &str) -> bool {
    BULK_MAILERS.iter().any(|n| find_ci(mailer, n).next().is_some())
}

/// `font-size:\s*(0(px|pt|em)?|1px|0?\.\d+(px|em|pt)?)\s*[;"]`: text too small to see.
pub(super) fn font_size_zero(html: &str) -> bool {
    fn ends(s: &str) -> bool {
        matches!(s.trim_start().as_bytes().first(), Some(b';' | b'"'))
    }
    fn unit_then_end(s: &str, units: &[&str]) -> bool {
        ends(s) || units.iter().any(|u| starts_with_ci(s, u) && ends(&s[u.len()..]))
    }
    find_ci(html, "font-size:").any(|i| {
        let v = html[i + "font-size:".len()..].trim_start();
        let zero = v.strip_prefix('0').is_some_and(|r| unit_then_end(r, &["px", "pt", "em"]));
        let one_px = starts_with_ci(v, "1px") && ends(&v[3..]);
        let fraction = {
            let f = if v.starts_with("0.") { &v[1..] } else { v };
            f.strip_prefix('.').is_some_and(|r| {
                let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                digits > 0 && unit_then_end(&r[digits..], &["px", "em", "pt"])
            })
        };
        zero || one_px || fraction
    })
}

/// `[a-z]<!--[^>]{0,40}-->[a-z]`: an HTML comment splitting a word.
///
/// The `>` that closes the comment is looked for only as far as 40 characters can reach (160
/// bytes), so each `<!--` costs a bounded amount whatever follows it.
pub(super) fn comment_in_word(html: &str) -> bool {
    const REACH: usize = 40 * 4 + 2;
    let b = html.as_bytes();
    find_ci(html, "<!--").any(|i| {
        let inner = i + 4;
        let window = &b[inner..b.len().min(inner + REACH + 1)];
        crate::work::add(1 + window.len());
        i > 0
            && ascii_letter_at(html, i - 1)
            && memchr::memchr(b'>', window).is_some_and(|g| {
                let close = inner + g;
                close >= inner + 2
                    && html[..close].ends_with("--")
                    && html[inner..close - 2].chars().count() <= 40
                    && ascii_letter_at(html, close + 1)
            })
    })
}

/// `[a-z]{2}<(b|i|u|s|em|font|span|strong|small)( [^>]{0,20})?></(same list)>[a-z]{2}`: an
/// empty formatting element splitting a word.
///
/// The `>` after the attributes is looked for only as far as 20 characters can reach (80
/// bytes), so each `<` costs a bounded amount whatever follows it.
pub(super) fn empty_tag_in_word(html: &str) -> bool {
    const TAGS: [&str; 9] = ["b", "i", "u", "s", "em", "font", "span", "strong", "small"];
    const REACH: usize = 20 * 4;
    let tag_then = |s: &str, after: u8| -> Option<usize> {
        TAGS.iter().find(|t| starts_with_ci(s, t) && s.as_bytes().get(t.len()) == Some(&after)).map(|t| t.len() + 1)
    };
    memchr::memchr_iter(b'<', html.as_bytes()).any(|i| {
        crate::work::add(1);
        if i < 2 || !ascii_letter_at(html, i - 2) || !ascii_letter_at(html, i - 1) {
            return false;
        }
        let open = &html[i + 1..];
        // "s" is a prefix of "span", "strong" and "small": try every name that fits.
        TAGS.iter().filter(|t| starts_with_ci(open, t)).any(|t| {
            let after_name = &open[t.len()..];
            // `>` at once, or a space and at most 20 characters that are not `>`.
            let gt = match after_name.as_bytes().first() {
                Some(b'>') => 0,
                Some(b' ') => {
                    let window = &after_name.as_bytes()[1..after_name.len().min(1 + REACH + 1)];
                    crate::work::add(window.len());
                    match memchr::memchr(b'>', window) {
                        Some(g) if after_name[1..1 + g].chars().count() <= 20 => 1 + g,
                        _ => return false,
                    }
                }
                _ => return false,
            };
            let close = &after_name[gt + 1..];
            close.strip_prefix("</").and_then(|c| tag_then(c, b'>')).is_some_and(|n| {
                let end = &close[2 + n..];
                ascii_letter_at(end, 0) && ascii_letter_at(end, 1)
            })
        })
    })
}
