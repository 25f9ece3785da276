//! Features: the tokens Bayes counts, extracted from the parsed message. Pure functions.
//!
//! PLACEHOLDER: whitespace words of the subject and text parts. Replaced by the real tokenizer.

use std::collections::HashSet;

use serde::Deserialize;

use crate::message::{Body, Message};

/// Tokenizer settings (config file section `[tokenizer]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenizerSettings {
    /// At most this many bytes of each text part are tokenized.
    pub max_part_bytes: usize,
}

impl Default for TokenizerSettings {
    fn default() -> Self {
        TokenizerSettings { max_part_bytes: 64 * 1024 }
    }
}

/// The de-duplicated tokens of a message, in first-seen order.
pub fn tokenize(msg: &Message, s: &TokenizerSettings) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut push = |t: String| {
        if seen.insert(t.clone()) {
            out.push(t);
        }
    };
    if let Some(subj) = msg.header("subject") {
        for w in subj.split_whitespace() {
            push(format!("subj:{w}"));
        }
    }
    for part in &msg.parts {
        if let Body::Text(t) | Body::Html(t) = &part.body {
            let t = &t[..t.floor_char_boundary(s.max_part_bytes.min(t.len()))];
            for w in t.split_whitespace().filter(|w| (3..=40).contains(&w.len())) {
                push(w.to_lowercase());
            }
        }
    }
    out
}
