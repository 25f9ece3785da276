//! Header surgery on the original bytes: drop every incoming `X-Spam-*` field, add ours.
//!
//! This works on the raw buffer by offset and never re-serializes the message, so everything
//! else (an mbox `From ` line, CRLF or LF line ends, 8-bit bytes, NULs, the body) stays byte
//! for byte. Our fields go at the end of the header block, in the message's own line-end style.

/// The prefix (lower case) of the fields we own: incoming ones are forged or stale.
const OWN_PREFIX: &[u8] = b"x-spam-";

/// Longest header line we write before folding (RFC 5322 recommends 78).
const FOLD_AT: usize = 78;

/// The message with every incoming `X-Spam-*` field removed and `add` inserted at the end of
/// the header block. Values are sanitized: they can never contain a line break of their own.
pub fn rewrite(raw: &[u8], add: &[(&str, String)]) -> Vec<u8> {
    let layout = HeaderLayout::scan(raw);
    let mut out = Vec::with_capacity(raw.len() + 256);
    out.extend_from_slice(&raw[..layout.start]);
    for field in &layout.fields {
        if !field.is_own {
            out.extend_from_slice(&raw[field.start..field.end]);
        }
    }
    // A header block that ends without a line end (no body, no final newline) needs one before
    // our fields are appended, or the last field would swallow ours.
    if !out.is_empty() && layout.fields.last().is_some_and(|f| !f.is_own) && !out.ends_with(b"\n") {
        out.extend_from_slice(layout.eol);
    }
    for (name, value) in add {
        write_field(&mut out, name, value, layout.eol);
    }
    out.extend_from_slice(&raw[layout.end..]);
    out
}

/// The byte ranges of the header fields of a message.
struct HeaderLayout {
    /// Where the header block starts (after an mbox `From ` line).
    start: usize,
    /// Where the header block ends: the blank line (kept in the output) or the end of input.
    end: usize,
    fields: Vec<FieldSpan>,
    eol: &'static [u8],
}

struct FieldSpan {
    start: usize,
    end: usize,
    is_own: bool,
}

impl HeaderLayout {
    fn scan(raw: &[u8]) -> HeaderLayout {
        let start = crate::message::mbox_from_line_len(raw);
        let mut fields: Vec<FieldSpan> = Vec::new();
        let mut pos = start;
        let mut eol: &'static [u8] = b"\n";
        let mut first_line = true;
        while pos < raw.len() {
            let line_end = match raw[pos..].iter().position(|&b| b == b'\n') {
                Some(nl) => pos + nl + 1,
                None => raw.len(),
            };
            let line = &raw[pos..line_end];
            if first_line && line.ends_with(b"\r\n") {
                eol = b"\r\n";
            }
            first_line = false;
            if line == b"\n" || line == b"\r\n" {
                break; // the blank line that ends the header block
            }
            let continuation = line[0] == b' ' || line[0] == b'\t';
            match fields.last_mut() {
                Some(last) if continuation => last.end = line_end,
                _ => fields.push(FieldSpan { start: pos, end: line_end, is_own: is_own_field(line) }),
            }
            pos = line_end;
        }
        HeaderLayout { start, end: pos, fields, eol }
    }
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

/// Writes `name: value` folded at spaces near [`FOLD_AT`]; control characters in the value
/// (CR, LF and the rest) become spaces, so no value can start a field of its own.
fn write_field(out: &mut Vec<u8>, name: &str, value: &str, eol: &[u8]) {
    let clean: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
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
}
