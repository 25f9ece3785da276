//! The filter proper, free of the environment: one message in, the same message with our
//! headers out (or passed through when it is not a message). No settings are read and nothing
//! is printed here: `commands/filter.rs` sets up the `Scorer`, reports, and writes; the fuzz
//! target (fuzz/) drives `process`.

use std::io::Write;

use crate::rewrite;
use crate::scoring::Scorer;
use crate::sender::SenderFacts;
use crate::verdict::Verdict;

/// What the filter makes of one message.
pub struct Filtered {
    /// The fields to write into the message; `None` to pass the input through as it is.
    pub fields: Option<Vec<(&'static str, String)>>,
    pub is_spam: bool,
    pub verdict: Option<Verdict>,
    /// What was found out about the sender (to cache and act on).
    pub sender: Option<SenderFacts>,
    /// Put before the Subject when written (`subject_tag`, for spam only: see `tag_subject`).
    pub subject_tag: Option<String>,
}

impl Filtered {
    /// Input passed through as it is, unscored.
    pub fn pass_through() -> Filtered {
        Filtered { fields: None, is_spam: false, verdict: None, sender: None, subject_tag: None }
    }

    /// Tags the Subject of spam with `tag` when written (SpamAssassin's `rewrite_header
    /// Subject`); ham and unscored input are left alone.
    pub fn tag_subject(&mut self, tag: Option<&str>) {
        self.subject_tag = tag.filter(|_| self.is_spam && self.fields.is_some()).map(str::to_string);
    }

    /// Writes what the filter delivers: `input` with our fields (every incoming `X-Spam-*` field
    /// removed), or `input` unchanged. Nothing the size of the message is allocated (issue 15:
    /// the filter holds one copy of the message, the input).
    pub fn write_to(&self, input: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        match &self.fields {
            Some(fields) => rewrite::write_rewritten(input, fields, self.subject_tag.as_deref(), out),
            None => out.write_all(input),
        }
    }

    /// The rewritten message in memory (`None`: the input passes through unchanged).
    pub fn output(&self, input: &[u8]) -> Option<Vec<u8>> {
        self.fields.as_ref().map(|f| rewrite::rewrite_tagged(input, f, self.subject_tag.as_deref()))
    }
}

/// Scores `input` and returns it with our headers. Input that is not a message at all (empty, binary, no header field first) comes back as
/// `fields: None` (pass it through unchanged). The fuzz target (fuzz/) drives this function.
pub fn process(scorer: &Scorer, input: &[u8]) -> Filtered {
    match not_a_message(input) {
        Some(_) => Filtered::pass_through(),
        None => score_message(scorer, input, &[]),
    }
}

/// `process` for input known to be a message (`not_a_message` said so), scored without what
/// `degraded` names (each one a short cause, see `Problem::short`): the verdict then carries
/// `SPAMFILT_DEGRADED` and `X-Spam-Degraded`.
pub fn score_message(scorer: &Scorer, input: &[u8], degraded: &[String]) -> Filtered {
    let scored = scorer.score(input);
    let mut v = scored.verdict;
    for cause in degraded {
        v.degrade(cause.clone());
    }
    Filtered {
        fields: Some(v.headers()),
        is_spam: v.is_spam,
        verdict: Some(v),
        sender: scored.sender,
        subject_tag: None,
    }
}

/// Why the input is not something we should add headers to, if it is not.
pub fn not_a_message(input: &[u8]) -> Option<&'static str> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Some("the input is empty");
    }
    let rest = &input[crate::message::mbox_from_line_len(input)..];
    let first_line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(colon) = first_line.iter().position(|&b| b == b':') else {
        return Some("the input does not start with a header field");
    };
    let name = first_line[..colon].trim_ascii_end();
    if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b)) {
        return Some("the input does not start with a header field");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_non_messages() {
        assert!(not_a_message(b"").is_some());
        assert!(not_a_message(b"\n\n").is_some());
        assert!(not_a_message(b"\x00\x01\x02binary").is_some());
        assert!(not_a_message(b"hello world\n").is_some());
        assert!(not_a_message(b"Subject: hi\n\nbody").is_none());
        assert!(not_a_message(b"From a@b Mon Jan 1\nSubject: hi\n\n").is_none());
    }
}
