//! Header surgery on the original bytes: drop every incoming `X-Spam-*` field, add ours.
//!
//! This works on the raw buffer by offset and never re-serializes the message, so everything
//! else (an mbox `From ` line, CRLF or LF line ends, 8-bit bytes, NULs, the body) stays byte
//! for byte. Our fields go at the end of the header block, in the message's own line-end style.

use std::io::Write;

/// The prefix (lower case) of the fields we own: incoming ones are forged or stale.
const OWN_PREFIX: &[u8] = b"x-spam-";

/// Longest header line we write before folding (RFC 5322 recommends 78).
const FOLD_AT: usize = 78;

/// The message with every incoming `X-Spam-*` field removed and `add` inserted at the end of
/// the header block. Values are sanitized: they can never contain a line break of their own.
#[cfg(test)]
pub fn rewrite(raw: &[u8], add: &[(&str, String)]) -> Vec<u8> {
    rewrite_tagged(raw, add, None)
}

/// [`rewrite`], with `subject_tag` (`[SPAM]`) put before the Subject's text (see
/// [`write_rewritten`]).
pub fn rewrite_tagged(raw: &[u8], add: &[(&str, String)], subject_tag: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 256);
    write_rewritten(raw, add, subject_tag, &mut out).expect("writing to memory cannot fail");
    out
}

/// [`rewrite`], written to `out` as it is worked out: the parts of `raw` that stay are written
/// from `raw` itself, so the only memory this takes is a few counters, whatever the size of the
/// message or the number of its header lines (issue 15: a list of every header field's span
/// took 14 times a message of one-line headers, and a 20 MB message under Dovecot's 256 MiB
/// limit died of it). One pass over the header block; the body is written in one piece.
///
/// With `subject_tag` (SpamAssassin's `rewrite_header Subject`), the tag and a space are put
/// after the colon of the first `Subject:` field, unless its text already starts with the tag
/// (a message filtered twice); a message without a Subject gets `Subject: TAG` among our
/// fields. Nothing else of the field changes (an encoded word, folding, the line end).
pub fn write_rewritten(
    raw: &[u8],
    add: &[(&str, String)],
    subject_tag: Option<&str>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    // The tag is written as it is given: keep it to printable ASCII without line breaks.
    let mut tag =
        subject_tag.map(|t| t.trim()).filter(|t| !t.is_empty() && t.bytes().all(|b| (b' '..=b'~').contains(&b)));
    let start = crate::message::mbox_from_line_len(raw);
    out.write_all(&raw[..start])?;
    // Our fields follow the header block's line ends: its first line's.
    let first_end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |nl| start + nl + 1);
    let eol: &[u8] = if raw[start..first_end].ends_with(b"\r\n") { b"\r\n" } else { b"\n" };
    // `run` is where the bytes to keep since the last own field begin; `own` says whether the
    // field being walked is one of ours (its continuation lines go with it).
    let (mut pos, mut run, mut own) = (start, start, false);
    let mut last_kept_ends_line = true;
    let mut any_field = false;
    while pos < raw.len() {
        crate::work::add(1);
        let line_end = memchr::memchr(b'\n', &raw[pos..]).map_or(raw.len(), |nl| pos + nl + 1);
        let line = &raw[pos..line_end];
        if line == b"\n" || line == b"\r\n" {
            break; // the blank line that ends the header block
        }
        let continuation = any_field && (line[0] == b' ' || line[0] == b'\t');
        if !continuation {
            any_field = true;
            let is_own = is_own_field(line);
            if is_own && !own {
                out.write_all(&raw[run..pos])?;
            } else if !is_own && own {
                run = pos;
            }
            own = is_own;
            if let (false, Some(t)) = (own, tag) {
                if let Some(colon) = subject_colon(line) {
                    let text = line[colon + 1..].trim_ascii_start();
                    let already = text.len() >= t.len() && text[..t.len()].eq_ignore_ascii_case(t.as_bytes());
                    if !already {
                        out.write_all(&raw[run..pos + colon + 1])?;
                        out.write_all(b" ")?;
                        out.write_all(t.as_bytes())?;
                        if !line[colon + 1..].first().is_some_and(|b| b.is_ascii_whitespace()) {
                            out.write_all(b" ")?;
                        }
                        run = pos + colon + 1;
                    }
                    tag = None;
                }
            }
        }
        if !own {
            last_kept_ends_line = line.ends_with(b"\n");
        }
        pos = line_end;
    }
    if !own {
        out.write_all(&raw[run..pos])?;
    }
    // A header block that ends without a line end (no body, no final newline) needs one before
    // our fields are appended, or the last field would swallow ours.
    if pos > start && !last_kept_ends_line {
        out.write_all(eol)?;
    }
    let mut fields = Vec::with_capacity(256);
    if let Some(t) = tag {
        // No Subject field at all: the tag is the subject.
        write_field(&mut fields, "Subject", t, eol);
    }
    for (name, value) in add {
        write_field(&mut fields, name, value, eol);
    }
    out.write_all(&fields)?;
    // In a header block of LF lines, a line of just CR LF ends it for us, maildrop, Dovecot and
    // the scorer, but not for procmail, whose header runs to the first empty LF line: forged
    // `X-Spam-*` fields after such a line were header fields to a procmail recipe (attack report
    // F8). An empty LF line written here ends procmail's header where everyone else's ends, so
    // nothing after it is header to anyone and nothing after it is changed: the CR LF line and
    // the body follow byte for byte (they are what every reader sees as the body, one blank line
    // at its top; review R5: removing the forged fields there instead deleted quoted lines from
    // a CR LF body).
    if eol == b"\n" && raw[pos..].starts_with(b"\r\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(&raw[pos..])
}

/// Whether a header line starts a field whose name begins `X-Spam-` (any case; whitespace
/// before the colon, as obsolete syntax allows, is tolerated).
fn is_own_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    name.len() > OWN_PREFIX.len() && name[..OWN_PREFIX.len()].eq_ignore_ascii_case(OWN_PREFIX)
}

/// The position of the colon when the header line starts a `Subject:` field (any case).
fn subject_colon(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    line[..colon].trim_ascii_end().eq_ignore_ascii_case(b"subject").then_some(colon)
}

/// Writes `name: value` folded at spaces near [`FOLD_AT`]; control characters in the value
/// (CR, LF and the rest) become spaces, so no value can start a field of its own, and the value
/// is plain ASCII ([`crate::problems::header_text`]), as RFC 5322 requires of a field not
/// encoded by RFC 2047.
fn write_field(out: &mut Vec<u8>, name: &str, value: &str, eol: &[u8]) {
    let clean = crate::problems::header_text(value);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    let mut line_len = name.len() + 1;
    for (i, word) in clean.split(' ').filter(|w| !w.is_empty()).enumerate() {
        if i > 0 && line_len + 1 + word.len() > FOLD_AT {
            out.extend_from_slice(eol);
            out.push(b'\t');
            line_len = 8;
        } else {
            out.push(b' ');
            line_len += 1;
        }
        // Very long words (a long tests= list without spaces) fold after commas.
        let mut rest = word;
        while line_len + rest.len() > FOLD_AT && rest.len() > FOLD_AT / 2 {
            let room = FOLD_AT.saturating_sub(line_len).max(1);
            let cut = rest[..room.min(rest.len())].rfind(',').map(|c| c + 1);
            let Some(cut) = cut.filter(|&c| c > 0 && c < rest.len()) else { break };
            out.extend_from_slice(&rest.as_bytes()[..cut]);
            out.extend_from_slice(eol);
            out.push(b'\t');
            line_len = 8;
            rest = &rest[cut..];
        }
        out.extend_from_slice(rest.as_bytes());
        line_len += rest.len();
    }
    out.extend_from_slice(eol);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add() -> Vec<(&'static str, String)> {
        vec![("X-Spam-Status", "No, score=0.1".to_string())]
    }

    #[test]
    fn inserts_at_end_of_header_block_lf() {
        let out = rewrite(b"Subject: hi\nFrom: a@b\n\nbody\n", &add());
        assert_eq!(out, b"Subject: hi\nFrom: a@b\nX-Spam-Status: No, score=0.1\n\nbody\n");
    }

    #[test]
    fn keeps_crlf_and_mbox_line() {
        let raw = b"From a@b Mon Jan 1 00:00:00 2024\r\nSubject: hi\r\n\r\nbody\r\n\x00\xff";
        let out = rewrite(raw, &add());
        assert_eq!(
            out,
            b"From a@b Mon Jan 1 00:00:00 2024\r\nSubject: hi\r\nX-Spam-Status: No, score=0.1\r\n\r\nbody\r\n\x00\xff"
        );
    }

    /// Attack report F8: procmail's header block runs to the first empty LF line, past a line of
    /// just CR LF that ends it for everyone else; an empty LF line before the CR LF line ends it
    /// there for procmail too, and what follows is left as it came (review R5).
    #[test]
    fn ends_procmails_header_before_a_lone_crlf_line() {
        let raw = b"Subject: hi\nX-Spam-Flag: YES\n\r\nX-Spam-Flag: NO\nX-Spam-Status: No,\n score=-5.0\nX-Other: kept\n\nX-Spam-Flag: NO in the body\n";
        let out = rewrite(raw, &add());
        assert_eq!(
            out,
            b"Subject: hi\nX-Spam-Status: No, score=0.1\n\n\r\nX-Spam-Flag: NO\nX-Spam-Status: No,\n score=-5.0\nX-Other: kept\n\nX-Spam-Flag: NO in the body\n"
        );
        // No empty LF line at all.
        let out = rewrite(b"Subject: hi\n\r\nX-Spam-Flag: NO\n", &add());
        assert_eq!(out, b"Subject: hi\nX-Spam-Status: No, score=0.1\n\n\r\nX-Spam-Flag: NO\n");
        // A CRLF header block is left as it was.
        let raw = b"Subject: hi\r\n\r\nX-Spam-Flag: NO\r\n";
        assert_eq!(rewrite(raw, &add()), b"Subject: hi\r\nX-Spam-Status: No, score=0.1\r\n\r\nX-Spam-Flag: NO\r\n");
    }

    /// Review R5: LF fields added on top of a CR LF message (its own fields, blank line and body
    /// CR LF). Every reader but procmail takes the CR LF blank line as the end of the header; the
    /// body, quoted X-Spam-* lines included, comes through byte for byte.
    #[test]
    fn never_changes_a_cr_lf_body_under_lf_fields() {
        let head = b"Received: from mail.klant.example\n\tby mx.mijn.example; Thu, 3 Dec 2026\nDelivered-To: jan@mijn.example\nFrom: Piet <piet@klant.example>\r\nSubject: why?\r\n";
        let body = b"\r\nHi Jan,\r\n\r\nits header said:\r\n\r\nX-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=7.1 tests=BAYES_99,\r\n\tHTML_MESSAGE\r\n\r\nCan you whitelist me?\r\n";
        let out = rewrite(&[&head[..], &body[..]].concat(), &add());
        assert_eq!(out, [&head[..], b"X-Spam-Status: No, score=0.1\n\n", &body[..]].concat());
    }

    #[test]
    fn removes_forged_fields_in_any_case_folded_and_repeated() {
        let raw = b"X-SPAM-FLAG: YES\nSubject: hi\nx-spam-status: Yes,\n  score=99\nX-Spam-Level : ***\nX-Spamming: keep\n\nX-Spam-Flag: YES in body\n";
        let out = rewrite(raw, &add());
        assert_eq!(out, b"Subject: hi\nX-Spamming: keep\nX-Spam-Status: No, score=0.1\n\nX-Spam-Flag: YES in body\n");
    }

    #[test]
    fn header_only_message_without_final_newline() {
        let out = rewrite(b"Subject: hi", &add());
        assert_eq!(out, b"Subject: hi\nX-Spam-Status: No, score=0.1\n");
    }

    #[test]
    fn empty_input() {
        let out = rewrite(b"", &add());
        assert_eq!(out, b"X-Spam-Status: No, score=0.1\n");
    }

    #[test]
    fn values_cannot_inject_fields() {
        let out = rewrite(b"Subject: x\n\n", &[("X-Spam-Status", "No\r\nX-Spam-Flag: YES".to_string())]);
        assert_eq!(out, b"Subject: x\nX-Spam-Status: No X-Spam-Flag: YES\n\n");
    }

    #[test]
    fn values_are_plain_ascii() {
        let out =
            rewrite(b"Subject: x\n\n", &[("X-Spam-Degraded", "c.toml: bad key r\u{e9}quired\u{2026}".to_string())]);
        assert_eq!(out, b"Subject: x\nX-Spam-Degraded: c.toml: bad key r?quired...\n\n");
    }

    #[test]
    fn folds_long_values() {
        let tests: Vec<String> = (0..30).map(|i| format!("RULE_NUMBER_{i}")).collect();
        let value = format!("Yes, score=9.0 required=5.0 tests={} version=spamfilt-0.1.0", tests.join(","));
        let out = rewrite(b"Subject: x\n\n", &[("X-Spam-Status", value.clone())]);
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.len() <= FOLD_AT + 1, "{line:?}");
        }
        let unfolded = text.replace("\n\t", "").replace("\n\t", " ");
        assert!(unfolded.contains(&tests.join(",")), "{unfolded}");
    }

    /// The streaming rewrite writes what the old one, which listed every field's span first,
    /// built (3fefb83's algorithm, kept here as the oracle), on random header blocks.
    #[test]
    fn streaming_agrees_with_listing_the_fields_first() {
        fn old(raw: &[u8], add: &[(&str, String)]) -> Vec<u8> {
            let start = crate::message::mbox_from_line_len(raw);
            let mut fields: Vec<(usize, usize, bool)> = Vec::new();
            let (mut pos, mut eol, mut first_line): (usize, &[u8], bool) = (start, b"\n", true);
            while pos < raw.len() {
                let line_end = raw[pos..].iter().position(|&b| b == b'\n').map_or(raw.len(), |nl| pos + nl + 1);
                let line = &raw[pos..line_end];
                if first_line && line.ends_with(b"\r\n") {
                    eol = b"\r\n";
                }
                first_line = false;
                if line == b"\n" || line == b"\r\n" {
                    break;
                }
                match fields.last_mut() {
                    Some(last) if line[0] == b' ' || line[0] == b'\t' => last.1 = line_end,
                    _ => fields.push((pos, line_end, is_own_field(line))),
                }
                pos = line_end;
            }
            let mut out = raw[..start].to_vec();
            for &(s, e, own) in &fields {
                if !own {
                    out.extend_from_slice(&raw[s..e]);
                }
            }
            if !out.is_empty() && fields.last().is_some_and(|f| !f.2) && !out.ends_with(b"\n") {
                out.extend_from_slice(eol);
            }
            for (name, value) in add {
                write_field(&mut out, name, value, eol);
            }
            // A lone CR LF line ends an LF header block: an empty LF line before it (F8, R5).
            if eol == b"\n" && raw[pos..].starts_with(b"\r\n") {
                out.push(b'\n');
            }
            out.extend_from_slice(&raw[pos..]);
            out
        }
        let pieces: [&[u8]; 16] = [
            b"Subject: x",
            b"X-Spam-Flag: YES",
            b"x-spam-status : y",
            b"From a@b Mon",
            b"\n",
            b"\r\n",
            b" folded",
            b"\tfolded",
            b"X-Spamming: keep",
            b"body",
            b"\x00\xff",
            b":",
            b"X-SPAM-",
            b"a:",
            b" ",
            b"\r",
        ];
        let mut next = crate::test_rng::xorshift(0xfeed);
        for _ in 0..20_000 {
            let raw: Vec<u8> = (0..next() % 14).flat_map(|_| pieces[next() as usize % pieces.len()].to_vec()).collect();
            assert_eq!(rewrite(&raw, &add()), old(&raw, &add()), "{:?}", String::from_utf8_lossy(&raw));
            assert_eq!(rewrite(&raw, &[]), old(&raw, &[]), "{:?}", String::from_utf8_lossy(&raw));
        }
    }

    /// One pass over the header block, whatever its shape.
    #[test]
    fn rewriting_is_linear() {
        for unit in ["a:\n", "X-Spam-Flag: YES\n", " folded\n", "X-Spam-A: 1\nB: 2\n"] {
            crate::work::assert_linear(
                unit,
                30_000,
                |n| unit.repeat(n / unit.len()).into_bytes(),
                |m| {
                    rewrite(m, &add());
                },
            );
        }
    }

    /// SpamAssassin's `rewrite_header Subject [SPAM]`: the tag goes before the text of the
    /// first Subject, once; the rest of the message stays byte for byte.
    #[test]
    fn subject_tag() {
        let t = |raw: &[u8]| rewrite_tagged(raw, &add(), Some("[SPAM]"));
        assert_eq!(
            t(b"From: a@b\r\nSubject: cheap pills\r\n\r\nbody\r\n"),
            b"From: a@b\r\nSubject: [SPAM] cheap pills\r\nX-Spam-Status: No, score=0.1\r\n\r\nbody\r\n"
        );
        // Any case, no space after the colon, folded, encoded: only the tag is added.
        assert_eq!(t(b"SUBJECT:x\n\ty\n\nb"), b"SUBJECT: [SPAM] x\n\ty\nX-Spam-Status: No, score=0.1\n\nb");
        assert_eq!(
            t(b"Subject:\n =?utf-8?B?w6k=?=\n\n"),
            b"Subject: [SPAM]\n =?utf-8?B?w6k=?=\nX-Spam-Status: No, score=0.1\n\n"
        );
        // Already tagged (filtered twice): unchanged; only the first Subject is tagged.
        assert_eq!(
            t(b"Subject: [spam] x\nSubject: y\n\n"),
            b"Subject: [spam] x\nSubject: y\nX-Spam-Status: No, score=0.1\n\n"
        );
        // No Subject: the tag is one. A Subject in the body or after an incoming X-Spam field.
        assert_eq!(
            t(b"From: a\n\nSubject: z\n"),
            b"From: a\nSubject: [SPAM]\nX-Spam-Status: No, score=0.1\n\nSubject: z\n"
        );
        assert_eq!(t(b"X-Spam-Flag: YES\n x\nSubject: s\n\n"), b"Subject: [SPAM] s\nX-Spam-Status: No, score=0.1\n\n");
        // A tag with a line break or a control character is not written at all.
        assert_eq!(rewrite_tagged(b"Subject: s\n\n", &[], Some("[SPAM]\nBcc: x")), b"Subject: s\n\n");
        assert_eq!(rewrite_tagged(b"Subject: s\n\n", &[], None), b"Subject: s\n\n");
    }
}
