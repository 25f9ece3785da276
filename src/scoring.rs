//! Scoring one message: the hot path, parse → tokens → Bayes (+ rules) → verdict.
//!
//! Knows nothing of paths, flags or the terminal: it is handed settings and a token source.

use crate::bayes::{self, BayesResult};
use crate::config::ScoringSettings;
use crate::features::{self, TokenizerSettings};
use crate::message::Message;
use crate::store::{token_hash, TokenLookup};
use crate::verdict::{Hit, Verdict};

/// What scoring needs, borrowed for the length of a run.
pub struct Scorer<'a> {
    pub scoring: &'a ScoringSettings,
    pub tokenizer: &'a TokenizerSettings,
    /// The token database; `None` when there is none yet (Bayes then says nothing).
    pub db: Option<&'a dyn TokenLookup>,
}

/// A verdict and what it was made from (for explanations).
pub struct Scored {
    pub verdict: Verdict,
    pub tokens: Vec<String>,
}

impl Scorer<'_> {
    /// Scores raw message bytes. Never fails: what cannot be parsed scores on what is there.
    pub fn score(&self, raw: &[u8]) -> Scored {
        let msg = Message::parse(raw, self.scoring.scan_limit);
        let tokens = features::tokenize(&msg, self.tokenizer);
        let hits: Vec<Hit> = Vec::new();
        let bayes = self.bayes(&tokens);
        Scored { verdict: Verdict::new(hits, bayes, self.scoring), tokens }
    }

    fn bayes(&self, tokens: &[String]) -> Option<BayesResult> {
        let db = self.db?;
        let totals = db.totals();
        let min = self.scoring.bayes.min_learned;
        if totals.spam < min || totals.ham < min {
            return None;
        }
        let hashes: Vec<u64> = tokens.iter().map(|t| token_hash(t)).collect();
        let counts = db.lookup(&hashes);
        Some(bayes::classify(&counts, totals, &self.scoring.bayes))
    }
}
