//! Scoring one message: the hot path, parse → tokens → Bayes (+ rules) → verdict.
//!
//! Knows nothing of paths, flags or the terminal: it is handed settings and a token source.

use crate::bayes::{self, BayesResult, Evidence};
use crate::dns::Resolver;
use crate::features::{self, Content, TokenizerSettings};
use crate::message::Message;
use crate::rules::{self, RuleSet};
use crate::sender::{self, ListVerdict, SenderFacts, SenderSettings};
use crate::starter::Starter;
use crate::store::reputation::ReputationLookup;
use crate::store::TokenLookup;
use crate::verdict::{Hit, ScoringSettings, Verdict};

/// Of the tokens found only in text the reader is not shown (`features::Tokens::unseen`: hidden
/// text, the `<title>`, an alternative not shown, an attachment), at most this many that lean to
/// ham count for Bayes (the strongest); every one that leans to spam counts. They may accuse but
/// hardly excuse: 1,000 common words nobody sees turned 8 of 8 HTML spam into ham (attack report
/// F12), and with 5 they stay spam with 10 points or more to spare, while ham whose own words are
/// partly unseen (a newsletter's text on a coloured cell, its text alternative) keeps its
/// strongest. 0 ranked the corpus's hard ham worse; with 10 the lowest of those spam scored 5.02,
/// with 20, 25 of 51 were ham (docs/benchmarks.md, "Words the reader never sees").
pub const UNSEEN_HAM_CLUES: usize = 5;

/// What scoring needs, borrowed for the length of a run.
pub struct Scorer<'a> {
    pub scoring: &'a ScoringSettings,
    pub tokenizer: &'a TokenizerSettings,
    /// The token database; `None` when there is none yet (Bayes then says nothing).
    pub db: Option<&'a dyn TokenLookup>,
    /// The built-in starter table, blended in while the user's database is small.
    pub starter: Option<Starter<'a>>,
    /// The content rules; `None` scores with Bayes only (`--no-rules`).
    pub rules: Option<&'a RuleSet>,
    /// Whether Bayes is used at all (`--no-bayes` scores with the rules only).
    pub use_bayes: bool,
    /// Sender checks (lists, honeypots, relay reputation, DNS); `None` turns them off.
    pub sender: Option<SenderContext<'a>>,
    /// The LR weights; `None` when there are none yet or LR is off (`--no-lr`).
    pub lr: Option<&'a dyn crate::lr::Table>,
}

/// What the sender checks need: settings, the reputation database, a DNS resolver and the time.
#[derive(Clone, Copy)]
pub struct SenderContext<'a> {
    pub settings: &'a SenderSettings,
    pub reputation: Option<&'a dyn ReputationLookup>,
    /// Asked for the DNS answers the reputation database has not cached (live in the filter,
    /// `dns::CacheOnly` where nothing may be asked).
    pub resolver: &'a dyn Resolver,
    /// Unix seconds.
    pub now: u64,
}

/// A verdict and what it was made from (for explanations).
pub struct Scored {
    pub verdict: Verdict,
    pub tokens: features::Tokens,
    /// What was found out about the sender (when sender checks ran).
    pub sender: Option<SenderFacts>,
    /// The rules' points with the content rules in full: what they score alone (as with
    /// `--no-bayes --no-lr`), where the verdict's hits carry them weighed
    /// (`verdict.content_weight`). `spamfilt eval`'s rules column.
    pub rules_in_full: f64,
}

impl Scorer<'_> {
    /// Scores raw message bytes. Never fails: what cannot be parsed scores on what is there.
    pub fn score(&self, raw: &[u8]) -> Scored {
        let msg = Message::parse(raw, self.scoring.scan_limit);
        // The user's allow and block lists decide alone: nothing else is looked at.
        if let Some(sc) = &self.sender {
            if let Some(list) = sender::list_verdict(&msg, sc.settings) {
                let name = match list {
                    ListVerdict::Allow { .. } => "ALLOWLIST",
                    ListVerdict::Block { .. } => "BLOCKLIST",
                };
                let hit = match self.rules {
                    Some(rs) => rs.hit_named(name),
                    None => rules::default_hit(name),
                };
                if let Some(hit) = hit {
                    let facts = SenderFacts { list: Some(list), ..SenderFacts::default() };
                    return Scored {
                        rules_in_full: hit.score,
                        verdict: Verdict::new(vec![hit], None, None, self.scoring),
                        tokens: Default::default(),
                        sender: Some(facts),
                    };
                }
            }
        }
        let content = Content::extract(&msg, self.tokenizer);
        let tokens = if self.use_bayes { features::tokens(&msg, &content, self.tokenizer) } else { Default::default() };
        let cx = self.rules.map(|_| rules::Context::new(&msg, &content));
        let sender = self.sender.as_ref().filter(|_| cx.is_some());
        // A store across a network (Redis) answers the counts, the LR table and the sender's
        // reputation records in one round trip.
        let links = cx.as_ref().filter(|_| sender.is_some()).map(|cx| cx.link_domains()).unwrap_or_default();
        let wanted = sender.map(|sc| sender::lookups(&msg, &links, sc.settings)).unwrap_or_default();
        let mut fetched = self.db.and_then(|db| db.fetch(tokens.hashes(), &wanted));
        let shared = match &mut fetched {
            Some(Ok(f)) => f.rep.take(),
            _ => None,
        };
        let reputation: Option<&dyn ReputationLookup> = match (&fetched, sender, &shared) {
            // The shared store did not answer: no reputation either (the message is degraded).
            (Some(Err(_)), _, _) => None,
            (_, Some(_), Some(shared)) => Some(shared),
            (_, Some(sc), None) => sc.reputation,
            (_, None, _) => None,
        };
        let learned = match &fetched {
            Some(Ok(f)) => Some(f.totals),
            Some(Err(_)) => None,
            None => self.db.map(|db| db.totals()),
        };
        let classify = |t: &dyn crate::lr::Table| {
            Some(t)
                .filter(|_| self.scoring.lr.enabled)
                .and_then(|t| crate::lr::classify(t, &msg, &self.tokenizer.headers, &self.scoring.lr))
        };
        let (bayes, damaged, lr) = match fetched {
            None => {
                let (bayes, damaged) = if self.use_bayes { self.bayes(&tokens) } else { (None, None) };
                let damaged = damaged.map(|why| format!("tokens.db: {why} (scored without it; run spamfilt lint)"));
                (bayes, damaged, self.lr.and_then(classify))
            }
            Some(Ok(f)) => {
                let bayes = if self.use_bayes { self.bayes_with(&tokens, Some((f.totals, f.counts))) } else { None };
                let lr = f.lr.as_ref().and_then(|t| classify(t));
                (bayes, f.degraded, lr)
            }
            Some(Err(why)) => (if self.use_bayes { self.bayes_with(&tokens, None) } else { None }, Some(why), None),
        };
        // The content rules give way to what the user trained (`verdict::content_rules_weight`),
        // only while Bayes (with the user's counts readable) or LR scores with it: not with both
        // off or untrained, nor with the token counts unreadable and LR not scoring.
        let learning = (bayes.is_some() && damaged.is_none()) || lr.is_some();
        let weight =
            learned.filter(|_| learning).map_or(1.0, |t| crate::verdict::content_rules_weight(t, self.scoring));
        let mut facts = None;
        let (hits, rules_in_full): (Vec<Hit>, f64) = match (self.rules, cx) {
            (Some(rs), Some(cx)) => match sender {
                Some(sc) => {
                    let f = sender::gather(&msg, &links, sc.settings, reputation, sc.resolver, sc.now);
                    let hits = rs.evaluate_weighted_and_full(&cx.with_sender(&f), weight);
                    facts = Some(f);
                    hits
                }
                None => rs.evaluate_weighted_and_full(&cx, weight),
            },
            _ => (Vec::new(), 0.0),
        };
        let mut verdict = Verdict::new(hits, bayes, lr, self.scoring);
        if self.rules.is_some() {
            verdict.content_weight = weight;
        }
        if let Some(why) = damaged {
            verdict.degrade(why);
        }
        if let Some(why) = facts.as_ref().and_then(|f| f.dns_failed.clone()) {
            verdict.degrade(why);
        }
        Scored { verdict, tokens, sender: facts, rules_in_full }
    }

    /// Bayes on the user's counts, blended with the starter table while the user's database is
    /// small (see `starter` for the rule). `None` when there is too little of either. When a
    /// record the message needs turns out damaged, Bayes runs without the user's database and
    /// the second value says why.
    fn bayes(&self, tokens: &features::Tokens) -> (Option<BayesResult>, Option<String>) {
        let counts = match self.db.map(|db| db.lookup_checked(tokens.hashes())) {
            None => None,
            Some(Ok(counts)) => self.db.map(|db| (db.totals(), counts)),
            Some(Err(why)) => return (self.bayes_with(tokens, None), Some(why)),
        };
        (self.bayes_with(tokens, counts), None)
    }

    /// Bayes with the user's totals and the counts of the message's tokens, if any.
    fn bayes_with(
        &self,
        tokens: &features::Tokens,
        db: Option<(crate::store::Totals, Vec<crate::store::Counts>)>,
    ) -> Option<BayesResult> {
        let user = db.as_ref().map(|d| d.0).unwrap_or_default();
        let fade = self.scoring.starter_fade;
        let starter = self.starter.filter(|_| self.scoring.use_starter).map(|st| (st, Starter::weight(user, fade)));
        let scales = starter.map(|(st, w)| st.scales(w, fade)).unwrap_or_default();
        let totals = Evidence {
            spam: user.spam as f64 + scales.spam * starter.map_or(0.0, |(st, _)| st.totals.spam as f64),
            ham: user.ham as f64 + scales.ham * starter.map_or(0.0, |(st, _)| st.totals.ham as f64),
        };
        let min = self.scoring.bayes.min_learned as f64;
        if totals.spam < min || totals.ham < min {
            return None;
        }
        let hashes = tokens.hashes();
        // The marker's counts in the user's own database (the starter table has no trace tokens).
        let marker = tokens.marker().and_then(|m| db.as_ref().map(|(_, counts)| counts[m]));
        let mut evidence: Vec<Evidence> = match db {
            Some((_, counts)) => counts.into_iter().map(Evidence::from).collect(),
            None => vec![Evidence::default(); hashes.len()],
        };
        if let Some((st, _)) = starter.filter(|(_, w)| *w > 0.0) {
            for (e, &h) in evidence.iter_mut().zip(hashes).take(tokens.trace_start()) {
                let (s, hm) = st.counts(h);
                e.spam += scales.spam * s as f64;
                e.ham += scales.ham * hm as f64;
            }
        }
        // What the reader is not shown may accuse but not excuse (attack report F12): of its
        // tokens that lean to ham, only the `UNSEEN_HAM_CLUES` strongest count.
        let mut hammy: Vec<(f64, usize)> = tokens
            .unseen()
            .map(|i| (bayes::evidence_prob(evidence[i], totals, &self.scoring.bayes), i))
            .filter(|&(p, _)| p < 0.5)
            .collect();
        if hammy.len() > UNSEEN_HAM_CLUES {
            hammy.select_nth_unstable_by(UNSEEN_HAM_CLUES, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(_, i) in &hammy[UNSEEN_HAM_CLUES..] {
                evidence[i] = Evidence::default();
            }
        }
        // The Received words count only while the gate is open; the marker never does.
        let gate = tokens.marker().map(|m| {
            let mut gate = bayes::TraceGate::decide(marker.unwrap_or_default(), user, &self.scoring.bayes);
            let k = gate.scales(totals);
            gate.scale = k;
            evidence[m] = Evidence::default();
            for e in &mut evidence[m + 1..] {
                match k {
                    Some(k) => *e = Evidence { spam: e.spam * k.spam, ham: e.ham * k.ham },
                    None => *e = Evidence::default(),
                }
            }
            gate
        });
        let mut result = bayes::classify_evidence(&evidence, totals, &self.scoring.bayes);
        result.trace = gate;
        // Without the starter table, Bayes's voice grows with what the user learned, as LR's
        // does: trained on 20 or 50 of each, it flagged 23-26% of the ham of the time-ordered
        // learning curve at 5.0 (docs/benchmarks.md, "Bayes's voice without the starter table").
        if starter.is_none() {
            result.voice = crate::lr::voice(user.ham, user.spam, fade);
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn ham(i: usize, received: bool) -> String {
        let trace = if received {
            format!("Received: from mail{}.klant.be (mail.klant.be [192.0.2.10])\n\tby mx.mijn.be with ESMTP id H{i}; Tue, 1 Dec 2026 10:00:00 +0100\n", i % 3)
        } else {
            String::new()
        };
        format!("{trace}From: collega{i}@klant.be\nSubject: planning {i}\nMessage-ID: <h{i}@klant.be>\n\nvergadering offerte dinsdag project\n")
    }

    fn spam(i: usize, received: bool) -> String {
        let trace = if received {
            format!("Received: from bulk{}.deals.example (unknown [198.51.100.7])\n\tby mx.mijn.be with SMTP id S{i}; Tue, 1 Dec 2026 10:00:00 +0100\n", i % 3)
        } else {
            String::new()
        };
        format!("{trace}From: promo{i}@deals.example\nSubject: winner {i}\nMessage-ID: <s{i}@deals.example>\n\ncasino lottery offerte cheap pills\n")
    }

    /// A database of `n` ham and `n` spam, the ham with or without Received fields.
    fn store(n: usize, ham_received: bool) -> MemoryStore {
        let mut st = MemoryStore { totals: Default::default(), tokens: Default::default() };
        let tok = TokenizerSettings::default();
        for i in 0..n {
            for (raw, is_spam) in [(ham(i, ham_received), false), (spam(i, true), true)] {
                let m = crate::learn::prepare(raw.as_bytes(), 1 << 20, &tok, &Default::default());
                for h in m.hashes {
                    let c = st.tokens.entry(h).or_default();
                    if is_spam {
                        c.spam += 1
                    } else {
                        c.ham += 1
                    }
                }
                if is_spam {
                    st.totals.spam += 1
                } else {
                    st.totals.ham += 1
                }
            }
        }
        st
    }

    fn bayes(st: &MemoryStore, raw: &str, min: u64) -> (BayesResult, features::Tokens) {
        let mut scoring = ScoringSettings::default();
        scoring.bayes.trace_min_learned = min;
        let tok = TokenizerSettings::default();
        let sc = Scorer {
            scoring: &scoring,
            tokenizer: &tok,
            db: Some(st),
            starter: None,
            rules: None,
            use_bayes: true,
            sender: None,
            lr: None,
        };
        let s = sc.score(raw.as_bytes());
        (s.verdict.bayes.expect("Bayes is used"), s.tokens)
    }

    /// The ham probed (learned too: its tokens have counts).
    const PROBE: usize = 7;

    #[test]
    fn received_words_do_not_count_when_the_ham_was_learned_without_them() {
        let st = store(60, false);
        let (with, tokens) = bayes(&st, &ham(PROBE, true), 50);
        let (without, _) = bayes(&st, &ham(PROBE, false), 50);
        let gate = with.trace.expect("the message has Received fields");
        assert!(!gate.open);
        assert_eq!((gate.received.ham, gate.received.spam, gate.learned.ham), (0, 60, 60));
        // Exactly what the message scores without its Received fields: no trace token is a clue.
        assert_eq!(with.log_odds, without.log_odds);
        assert_eq!(with.clues, without.clues);
        assert!(with.clues.iter().all(|c| !tokens.is_trace(c.token)));
        assert_eq!(without.trace, None);
    }

    #[test]
    fn received_words_count_once_enough_ham_and_spam_had_them_and_the_marker_never() {
        let st = store(60, true);
        let (with, tokens) = bayes(&st, &ham(PROBE, true), 50);
        let (without, _) = bayes(&st, &ham(PROBE, false), 50);
        let gate = with.trace.expect("the message has Received fields");
        assert!(gate.open);
        assert_eq!((gate.received.ham, gate.received.spam), (60, 60));
        let m = tokens.marker().expect("a marker");
        assert!(with.clues.iter().any(|c| c.token > m), "a Received word is a clue");
        assert!(with.clues.iter().all(|c| c.token != m), "the marker is never a clue");
        assert!(with.log_odds < without.log_odds, "the ham relay's words say ham");
        // The same database with the gate's minimum above what was learned: closed again.
        let (closed, _) = bayes(&st, &ham(PROBE, true), 61);
        assert!(!closed.trace.unwrap().open);
        assert_eq!(closed.log_odds, without.log_odds);
    }
    /// The fitted content rules give way as the user trains: full points with nothing learned,
    /// `rules_trained_weight` of them from `starter_fade` of each class on, half-way between at
    /// half of that; not while neither Bayes nor LR scores, and with LR alone as with Bayes.
    #[test]
    fn the_content_rules_give_way_to_what_the_user_trained() {
        let scoring = ScoringSettings::default();
        let tok = TokenizerSettings::default();
        let rules = RuleSet::load(&Default::default()).unwrap();
        let raw = b"From: a@b.example\nSubject: x\n\nPlease click here\n";
        let mut model = crate::lr::Model::new(crate::lr::Shape::default());
        (model.ham, model.spam) = (scoring.starter_fade, scoring.starter_fade + 50);
        let table = crate::lr::Quantised::of(&model);
        let score = |st: &MemoryStore, use_bayes: bool, lr: Option<&dyn crate::lr::Table>| {
            let sc = Scorer {
                scoring: &scoring,
                tokenizer: &tok,
                db: Some(st),
                starter: None,
                rules: Some(&rules),
                use_bayes,
                sender: None,
                lr,
            };
            let scored = sc.score(raw);
            // Whatever the weight, `rules_in_full` is what the rules score alone (--no-bayes --no-lr).
            let alone = Scorer { use_bayes: false, lr: None, ..sc }.score(raw).verdict;
            assert!(alone.bayes.is_none() && alone.lr.is_none() && alone.content_weight == 1.0);
            assert_eq!(scored.rules_in_full, alone.hits.iter().map(|h| h.score).sum::<f64>());
            let v = scored.verdict;
            let points = v.hits.iter().find(|h| h.name == "BODY_EN_CLICK").expect("BODY_EN_CLICK fires").score;
            (v.content_weight, points)
        };
        let full = rules.hit_named("BODY_EN_CLICK").unwrap().score;
        let at =
            |n: u64| MemoryStore { totals: crate::store::Totals { ham: n, spam: n + 50 }, tokens: Default::default() };
        assert_eq!(score(&at(0), true, None), (1.0, full));
        let w = scoring.rules_trained_weight;
        assert!(w < 1.0);
        let (half, _) = score(&at(scoring.starter_fade / 2), true, None);
        assert!((half - (1.0 + w) / 2.0).abs() < 1e-9, "{half}");
        let (trained, points) = score(&at(scoring.starter_fade), true, None);
        assert_eq!(trained, w);
        assert_eq!(points, (full * w * 1000.0).round() / 1000.0);
        assert_eq!(score(&at(10 * scoring.starter_fade), true, None).0, w, "no further than the weight");
        // Neither Bayes (--no-bayes) nor LR (no table): the rules decide alone, at full weight.
        assert_eq!(score(&at(scoring.starter_fade), false, None), (1.0, full));
        // LR alone (--no-bayes) scores with what was trained: the rules give way as with Bayes.
        assert_eq!(score(&at(scoring.starter_fade), false, Some(&table)).0, w);
    }
}
