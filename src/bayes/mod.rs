//! Bayes: Robinson's per-token probability f(w) and Fisher's chi-square combining.
//!
//! Pure functions of token counts; no I/O. The method is Gary Robinson's ("A Statistical
//! Approach to the Spam Problem", Linux Journal 2003) as used by SpamBayes and bogofilter:
//!
//! * per token: `p = (s/NS) / (s/NS + h/NH)`, shrunk towards `x` by the strength `s`:
//!   `f = (s·x + n·p) / (s + n)` where `n = spam + ham` count of the token;
//! * the tokens with `|f − 0.5| ≥ min_dev` (at most `max_clues`, most extreme first) are
//!   combined with Fisher's method twice, once for spamminess and once for hamminess, and
//!   `prob = (S − H + 1) / 2`.
//!
//! Everything is computed in the log domain so that the result keeps ranking messages even
//! when `prob` is 1 − 10⁻³⁰: [`BayesResult::log_odds`] is continuous where `prob` is not.

use serde::Deserialize;

/// Token counts as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub spam: u32,
    pub ham: u32,
}

/// How many messages of each class the database has learned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub spam: u64,
    pub ham: u64,
}

/// Counts as evidence: possibly fractional, when the built-in starter table is blended in with
/// a weight (see `starter`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evidence {
    pub spam: f64,
    pub ham: f64,
}

impl From<Counts> for Evidence {
    fn from(c: Counts) -> Evidence {
        Evidence { spam: c.spam as f64, ham: c.ham as f64 }
    }
}

impl From<Totals> for Evidence {
    fn from(t: Totals) -> Evidence {
        Evidence { spam: t.spam as f64, ham: t.ham as f64 }
    }
}

/// Tunable parameters (config file section `[bayes]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BayesParams {
    /// Robinson's s: how strongly an unknown or rare token is pulled towards `x`.
    pub strength: f64,
    /// Robinson's x: the probability assumed for a token never seen.
    pub unknown_prob: f64,
    /// Tokens with `|f − 0.5|` below this are ignored.
    pub min_dev: f64,
    /// At most this many tokens (the most extreme) are combined.
    pub max_clues: usize,
    /// Bayes is not used until at least this many ham and this many spam messages are learned.
    pub min_learned: u64,
    /// The Received words count only while at least this share of the ham learned, and of the
    /// spam learned, had Received fields (see [`TraceGate`]).
    pub trace_min_share: f64,
    /// ...and at least this many of each.
    pub trace_min_learned: u64,
}

impl Default for BayesParams {
    fn default() -> Self {
        BayesParams {
            strength: 0.1,
            unknown_prob: 0.5,
            min_dev: 0.2,
            max_clues: 150,
            min_learned: 10,
            trace_min_share: 0.5,
            trace_min_learned: 100,
        }
    }
}

/// Whether a message's Received words (`features::TRACE_PREFIX`) count, decided from the
/// database's count of the marker (`features::TRACE_MARKER`): how many ham and spam were
/// learned with a Received field. Ham learned from a Sent folder has none, so its Received words
/// would be learned from spam only and count against every ham that arrives; the gate opens only
/// when, in both classes, at least `trace_min_share` of what was learned and at least
/// `trace_min_learned` messages had them. While it is open each Received word's frequency is
/// taken over the messages that had Received fields (its counts scaled by learned / received in
/// each class), so the part learned without them does not bias it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceGate {
    /// Messages learned with a Received field (the marker's counts).
    pub received: Counts,
    /// All messages learned.
    pub learned: Totals,
    pub open: bool,
    /// What the Received words' counts were multiplied by (`scales`), when the gate is open:
    /// a report divides by it to show how many messages had the word.
    pub scale: Option<Evidence>,
}

impl TraceGate {
    pub fn decide(received: Counts, learned: Totals, p: &BayesParams) -> TraceGate {
        let enough = |r: u32, all: u64| r as u64 >= p.trace_min_learned && r as f64 >= p.trace_min_share * all as f64;
        let open = enough(received.ham, learned.ham) && enough(received.spam, learned.spam);
        TraceGate { received, learned, open, scale: None }
    }

    /// What a Received word's counts are multiplied by when the gate is open, so that its
    /// frequency in each class is taken over the messages learned with a Received field:
    /// `totals` (what the other tokens' frequencies are taken over: the messages learned, and
    /// the starter table's share while it is blended in) over the marker's count. `None` when
    /// the gate is closed (the words do not count).
    pub fn scales(&self, totals: Evidence) -> Option<Evidence> {
        let k = |r: u32, all: f64| if r == 0 { 1.0 } else { all / r as f64 };
        self.open.then(|| Evidence { spam: k(self.received.spam, totals.spam), ham: k(self.received.ham, totals.ham) })
    }
}

/// One token's contribution, for explanations.
#[derive(Debug, Clone, PartialEq)]
pub struct Clue {
    /// Index into the token list given to [`classify`].
    pub token: usize,
    pub prob: f64,
    /// The token's (possibly blended) counts.
    pub evidence: Evidence,
}

/// The outcome of combining.
#[derive(Debug, Clone, PartialEq)]
pub struct BayesResult {
    /// Spam probability in [0, 1] (0.5 when nothing could be said).
    pub prob: f64,
    /// `ln(prob / (1 − prob))`, computed without rounding to 0 or 1.
    pub log_odds: f64,
    /// The tokens that were combined, most extreme first.
    pub clues: Vec<Clue>,
    /// Whether the message's Received words counted (`None`: it has no Received field).
    pub trace: Option<TraceGate>,
    /// How much its points count, 0 to 1: 1 while the starter table is in use; without it
    /// (`use_starter = false`), `min(ham, spam learned)/starter_fade`, as LR's voice grows, so that
    /// a few dozen messages learned cannot flag a quarter of the ham (set by the scorer).
    pub voice: f64,
}

impl BayesResult {
    pub fn neutral() -> BayesResult {
        BayesResult { prob: 0.5, log_odds: 0.0, clues: Vec::new(), trace: None, voice: 1.0 }
    }
}

/// Robinson's f(w) for one token.
pub fn token_prob(c: Counts, totals: Totals, p: &BayesParams) -> f64 {
    evidence_prob(c.into(), totals.into(), p)
}

/// Robinson's f(w) for one token, on (possibly fractional) evidence.
pub fn evidence_prob(c: Evidence, totals: Evidence, p: &BayesParams) -> f64 {
    let ns = totals.spam.max(1.0);
    let nh = totals.ham.max(1.0);
    let spam_ratio = c.spam / ns;
    let ham_ratio = c.ham / nh;
    let n = c.spam + c.ham;
    if n == 0.0 || spam_ratio + ham_ratio == 0.0 {
        return p.unknown_prob;
    }
    let pw = spam_ratio / (spam_ratio + ham_ratio);
    (p.strength * p.unknown_prob + n * pw) / (p.strength + n)
}

/// Combines the counts of a message's (de-duplicated) tokens. `counts[i]` belongs to token `i`.
pub fn classify(counts: &[Counts], totals: Totals, p: &BayesParams) -> BayesResult {
    let evidence: Vec<Evidence> = counts.iter().map(|&c| c.into()).collect();
    classify_evidence(&evidence, totals.into(), p)
}

/// [`classify`] on (possibly fractional) evidence.
pub fn classify_evidence(evidence: &[Evidence], totals: Evidence, p: &BayesParams) -> BayesResult {
    let mut clues: Vec<Clue> = evidence
        .iter()
        .enumerate()
        .filter(|(_, c)| c.spam > 0.0 || c.ham > 0.0)
        .map(|(i, &c)| Clue { token: i, prob: evidence_prob(c, totals, p), evidence: c })
        .filter(|c| (c.prob - 0.5).abs() >= p.min_dev)
        .collect();
    // Most extreme first; ties broken by index, so the order is total and an unstable sort
    // (no buffer to allocate) gives the one result.
    clues.sort_unstable_by(|a, b| {
        let da = (a.prob - 0.5).abs();
        let db = (b.prob - 0.5).abs();
        db.total_cmp(&da).then(a.token.cmp(&b.token))
    });
    clues.truncate(p.max_clues);
    if clues.is_empty() {
        return BayesResult::neutral();
    }
    // Keep probabilities away from exactly 0 and 1 so the logs stay finite.
    const EPS: f64 = 1e-9;
    let mut sum_ln_p = 0.0;
    let mut sum_ln_not_p = 0.0;
    for c in &clues {
        let f = c.prob.clamp(EPS, 1.0 - EPS);
        sum_ln_p += f.ln();
        sum_ln_not_p += (1.0 - f).ln();
    }
    let dof = 2 * clues.len();
    // Spam test: small upper tail means the product of (1 − f) is improbably small.
    let x_spam = -2.0 * sum_ln_not_p;
    let x_ham = -2.0 * sum_ln_p;
    let ln_q_spam = ln_chi2_upper(x_spam, dof);
    let ln_p_spam = ln_chi2_lower(x_spam, dof);
    let ln_q_ham = ln_chi2_upper(x_ham, dof);
    let ln_p_ham = ln_chi2_lower(x_ham, dof);
    // prob = (S − H + 1)/2 with S = P_spam (lower tail) and H = P_ham:
    //   prob     = (Q_ham + P_spam) / 2
    //   1 − prob = (Q_spam + P_ham) / 2
    let ln_prob = ln_add(ln_q_ham, ln_p_spam) - std::f64::consts::LN_2;
    let ln_not_prob = ln_add(ln_q_spam, ln_p_ham) - std::f64::consts::LN_2;
    let log_odds = ln_prob - ln_not_prob;
    BayesResult { prob: ln_prob.exp().clamp(0.0, 1.0), log_odds, clues, trace: None, voice: 1.0 }
}

/// Which of the ten SpamAssassin-style bands (00, 05, 20, 40, 50, 60, 80, 95, 99, 999) a
/// probability falls in; Bayes and LR name their bands from it.
pub fn band_index(prob: f64) -> usize {
    const UPPER: [f64; 9] = [0.01, 0.05, 0.20, 0.40, 0.60, 0.80, 0.95, 0.99, 0.999];
    UPPER.iter().position(|&u| prob < u).unwrap_or(UPPER.len())
}

/// SpamAssassin-style band name for a probability: BAYES_00 … BAYES_99, BAYES_999.
pub fn band(prob: f64) -> &'static str {
    const NAMES: [&str; 10] = [
        "BAYES_00",
        "BAYES_05",
        "BAYES_20",
        "BAYES_40",
        "BAYES_50",
        "BAYES_60",
        "BAYES_80",
        "BAYES_95",
        "BAYES_99",
        "BAYES_999",
    ];
    NAMES[band_index(prob)]
}

/// ln(e^a + e^b) without overflow.
fn ln_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// ln of the upper tail Q(x; dof) of the chi-square distribution, for even `dof`:
/// `Q = e^(−m) · Σ_{i<k} mⁱ/i!` with `m = x/2`, `k = dof/2`.
fn ln_chi2_upper(x: f64, dof: usize) -> f64 {
    let m = (x / 2.0).max(0.0);
    let k = dof / 2;
    if m == 0.0 {
        return 0.0;
    }
    if k == 0 {
        return f64::NEG_INFINITY;
    }
    (ln_poisson_sum(m, 0, Some(k - 1)) - m).min(0.0)
}

/// ln of the lower tail P(x; dof) = 1 − Q, summed directly (`e^(−m) · Σ_{i≥k} mⁱ/i!`) so that
/// it stays exact when it is tiny.
fn ln_chi2_lower(x: f64, dof: usize) -> f64 {
    let m = (x / 2.0).max(0.0);
    let k = dof / 2;
    if m == 0.0 {
        return if k == 0 { 0.0 } else { f64::NEG_INFINITY };
    }
    (ln_poisson_sum(m, k, None) - m).min(0.0)
}

/// `ln Σ_{i=from}^{to} mⁱ/i!` (`to = None`: to infinity) for `m > 0`. The terms rise until
/// `i ≈ m` and fall after, so the sum starts at the largest term in range and walks outwards
/// multiplying by the ratio of neighbours (`m/i` up, `i/m` down) until the terms no longer
/// count: one multiplication per term, no logarithm or exponential but the two at the end.
fn ln_poisson_sum(m: f64, from: usize, to: Option<usize>) -> f64 {
    let mode = (m.floor() as usize).max(from).min(to.unwrap_or(usize::MAX));
    let ln_top = mode as f64 * m.ln() - ln_factorial(mode);
    let (mut sum, mut term) = (1.0f64, 1.0f64);
    for i in (from..mode).rev() {
        term *= (i + 1) as f64 / m;
        sum += term;
        if term < sum * 1e-18 {
            break;
        }
    }
    term = 1.0;
    let mut i = mode;
    while to.is_none_or(|t| i < t) {
        i += 1;
        term *= m / i as f64;
        sum += term;
        if term < sum * 1e-18 {
            break;
        }
    }
    ln_top + sum.ln()
}

/// `ln n!`: summed exactly for small `n`, Stirling's series (error below 1e-15) above.
fn ln_factorial(n: usize) -> f64 {
    if n < 20 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    let (x2, ln_2pi) = (x * x, (2.0 * std::f64::consts::PI).ln());
    x * x.ln() - x + 0.5 * (ln_2pi + x.ln()) + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bands_split_where_spamassassin_splits() {
        let cases = [
            (0.0, "BAYES_00"),
            (0.0099, "BAYES_00"),
            (0.01, "BAYES_05"),
            (0.05, "BAYES_20"),
            (0.2, "BAYES_40"),
            (0.4, "BAYES_50"),
            (0.6, "BAYES_60"),
            (0.8, "BAYES_80"),
            (0.95, "BAYES_95"),
            (0.99, "BAYES_99"),
            (0.999, "BAYES_999"),
            (1.0, "BAYES_999"),
        ];
        for (p, name) in cases {
            assert_eq!(band(p), name, "{p}");
            assert_eq!(crate::lr::band(p), name.replace("BAYES", "LR"), "{p}");
        }
    }

    use super::*;

    #[test]
    fn the_trace_gate_needs_both_classes_mostly_received() {
        let p = BayesParams::default();
        let gate = |rh: u32, h: u64, rs: u32, s: u64| {
            TraceGate::decide(Counts { ham: rh, spam: rs }, Totals { ham: h, spam: s }, &p).open
        };
        assert!(gate(100, 200, 100, 200));
        assert!(gate(1000, 1000, 800, 800));
        assert!(!gate(99, 99, 100, 100), "fewer than 100 received ham");
        assert!(!gate(100, 201, 100, 200), "under half the ham received (a Sent folder)");
        assert!(!gate(0, 500, 500, 500), "ham from a Sent folder only");
        assert!(!gate(500, 500, 100, 500), "spam learned without its Received fields");
        // Open: the words' frequencies are taken over the messages that had them.
        let g = TraceGate::decide(Counts { ham: 120, spam: 190 }, Totals { ham: 200, spam: 190 }, &p);
        let k = g.scales(Evidence { ham: 200.0, spam: 190.0 }).unwrap();
        assert_eq!((k.ham, k.spam), (200.0 / 120.0, 1.0));
        assert_eq!(
            TraceGate::decide(Counts::default(), Totals { ham: 100, spam: 90 }, &p).scales(Evidence::default()),
            None
        );
    }

    /// The chi-square tails as they were first written: every term in log space. The faster
    /// sums above must agree with them.
    fn reference_tails(x: f64, dof: usize) -> (f64, f64) {
        let m = (x / 2.0).max(0.0);
        let k = dof / 2;
        if m == 0.0 {
            return (0.0, f64::NEG_INFINITY);
        }
        let ln_m = m.ln();
        let mut upper = f64::NEG_INFINITY;
        let mut ln_term = 0.0;
        for i in 0..k {
            if i > 0 {
                ln_term += ln_m - (i as f64).ln();
            }
            upper = ln_add(upper, ln_term);
        }
        let mut ln_term = (k as f64) * ln_m - (2..=k).map(|i| (i as f64).ln()).sum::<f64>();
        let mut lower = f64::NEG_INFINITY;
        let mut i = k;
        loop {
            lower = ln_add(lower, ln_term);
            i += 1;
            ln_term += ln_m - (i as f64).ln();
            if (i as f64) > m && ln_term < lower - 40.0 {
                break;
            }
        }
        ((upper - m).min(0.0), (lower - m).min(0.0))
    }

    #[test]
    fn chi_square_tails_agree_with_the_log_space_sums() {
        for dof in [2usize, 4, 10, 50, 150, 300] {
            for x in [1e-6, 0.01, 0.5, 1.0, 3.0, 10.0, 50.0, 150.0, 299.0, 300.0, 301.0, 700.0, 1500.0, 6000.0] {
                let (u, l) = reference_tails(x, dof);
                let (fu, fl) = (ln_chi2_upper(x, dof), ln_chi2_lower(x, dof));
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
                assert!(close(u, fu), "upper x={x} dof={dof}: {u} vs {fu}");
                assert!(close(l, fl), "lower x={x} dof={dof}: {l} vs {fl}");
            }
        }
        for n in [0usize, 1, 2, 19, 20, 21, 100, 1000] {
            let exact: f64 = (2..=n).map(|i| (i as f64).ln()).sum();
            assert!((ln_factorial(n) - exact).abs() <= 1e-12 * (1.0 + exact), "{n}");
        }
    }

    fn totals() -> Totals {
        Totals { spam: 100, ham: 100 }
    }

    #[test]
    fn unknown_token_is_neutral() {
        let p = BayesParams::default();
        assert_eq!(token_prob(Counts::default(), totals(), &p), 0.5);
    }

    #[test]
    fn token_prob_follows_counts() {
        let p = BayesParams::default();
        let spammy = token_prob(Counts { spam: 50, ham: 0 }, totals(), &p);
        let hammy = token_prob(Counts { spam: 0, ham: 50 }, totals(), &p);
        assert!(spammy > 0.99 && hammy < 0.01, "{spammy} {hammy}");
        // Rare tokens are pulled towards 0.5.
        let rare = token_prob(Counts { spam: 1, ham: 0 }, totals(), &p);
        assert!(rare > 0.5 && rare < spammy);
    }

    #[test]
    fn chi2_tails_add_up_to_one() {
        for &(x, dof) in &[(1.0, 2), (10.0, 10), (50.0, 40), (300.0, 300), (3.0, 100)] {
            let q = ln_chi2_upper(x, dof).exp();
            let p = ln_chi2_lower(x, dof).exp();
            assert!((p + q - 1.0).abs() < 1e-9, "x={x} dof={dof} p={p} q={q}");
        }
        // dof 2: Q = e^(-x/2)
        assert!((ln_chi2_upper(4.0, 2) - (-2.0)).abs() < 1e-12);
    }

    #[test]
    fn combining_separates_and_stays_continuous() {
        let p = BayesParams::default();
        let spam = vec![Counts { spam: 90, ham: 1 }; 40];
        let ham = vec![Counts { spam: 1, ham: 90 }; 40];
        let rs = classify(&spam, totals(), &p);
        let rh = classify(&ham, totals(), &p);
        assert!(rs.prob > 0.99 && rh.prob < 0.01, "{} {}", rs.prob, rh.prob);
        assert!((rs.log_odds + rh.log_odds).abs() < 1e-6, "symmetric: {} {}", rs.log_odds, rh.log_odds);
        // More evidence gives higher odds even where prob has rounded to 1.
        let more = classify(&vec![Counts { spam: 90, ham: 1 }; 80], totals(), &p);
        assert!(more.log_odds > rs.log_odds);
        assert_eq!(classify(&[], totals(), &p), BayesResult::neutral());
    }

    #[test]
    fn mixed_evidence_is_unsure() {
        let p = BayesParams::default();
        let mut counts = vec![Counts { spam: 90, ham: 1 }; 20];
        counts.extend(vec![Counts { spam: 1, ham: 90 }; 20]);
        let r = classify(&counts, totals(), &p);
        assert!((r.prob - 0.5).abs() < 0.05, "{}", r.prob);
    }

    #[test]
    fn bands() {
        assert_eq!(band(0.0), "BAYES_00");
        assert_eq!(band(0.5), "BAYES_50");
        assert_eq!(band(0.995), "BAYES_99");
        assert_eq!(band(1.0), "BAYES_999");
    }
}
