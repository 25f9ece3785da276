//! Helpers shared by the integration tests.

/// Removes every `X-Spam-*` field (with continuation lines) from the header block.
pub fn strip_spam_fields(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    let mut skipping = false;
    for (i, line) in msg.split_inclusive(|&b| b == b'\n').enumerate() {
        if in_header {
            if i == 0 && line.starts_with(b"From ") {
                out.extend_from_slice(line);
                continue;
            }
            if line == b"\n" || line == b"\r\n" {
                in_header = false;
                skipping = false;
            } else if line[0] == b' ' || line[0] == b'\t' {
                if skipping {
                    continue;
                }
            } else {
                skipping = line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"x-spam-");
                if skipping {
                    continue;
                }
            }
        }
        out.extend_from_slice(line);
    }
    out
}
