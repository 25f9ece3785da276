//! Verdict: rule hits plus the Bayes result against the threshold, and the header values that
//! say so in SpamAssassin's format.

use std::borrow::Cow;

use serde::Deserialize;

use crate::bayes::{self, BayesParams, BayesResult};
use crate::lr::{self, LrResult};

/// One rule that fired (built-in rules' names and descriptions are static: no copy per hit).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub name: Cow<'static, str>,
    pub score: f64,
    pub description: Cow<'static, str>,
}

/// The decision about one message.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub score: f64,
    pub required: f64,
    pub is_spam: bool,
    /// Rule hits, then the Bayes band (when Bayes was used).
    pub hits: Vec<Hit>,
    /// Bayes, when the database was used.
    pub bayes: Option<BayesResult>,
    /// Logistic regression, when its weights were used.
    pub lr: Option<LrResult>,
    /// What did not work and was scored without (see `problems`); written as `X-Spam-Degraded`.
    pub degraded: Vec<String>,
    /// What the built-in content rules' points for spam were multiplied by
    /// ([`content_rules_weight`]; 1 when not weighed).
    pub content_weight: f64,
}

/// What decides a verdict (config file top level and `[bayes]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringSettings {
    /// Messages scoring at least this are spam.
    pub required_score: f64,
    /// Only this many bytes of a message are parsed and scored; the rest passes through.
    pub scan_limit: usize,
    /// Points Bayes adds per factor of ten in the spam odds (a message Bayes finds 99% spam,
    /// odds 99:1, gets about 2 × this). 4.0 puts the default threshold at odds of about 18:1,
    /// which gave 0.1% false positives in cross-validation on the SpamAssassin corpus.
    pub bayes_points_per_decade: f64,
    /// Bayes points for spam beyond this grow only logarithmically (keeps scores readable).
    pub bayes_points_knee: f64,
    /// Bayes points for ham beyond − this grow only logarithmically. Smaller than
    /// `bayes_points_knee`: Bayes sure a message is ham must not bury what the rules and LR see
    /// in spam written to look like ham (docs/benchmarks.md, "Bayes's ham side").
    pub bayes_ham_points_knee: f64,
    /// Use the starter table built into the binary while the user's own database is small.
    pub use_starter: bool,
    /// The starter table fades out as the user learns this many ham and spam (see `starter`).
    pub starter_fade: u64,
    /// What the built-in content rules' points for spam are multiplied by once the user has
    /// trained `starter_fade` ham and spam (from 1 with nothing trained, linearly): see
    /// [`content_rules_weight`]. 1 keeps them at full weight.
    pub rules_trained_weight: f64,
    pub bayes: BayesParams,
    /// How LR enters the score (`[lr]`).
    pub lr: crate::lr::LrSettings,
}

impl Default for ScoringSettings {
    fn default() -> Self {
        ScoringSettings {
            required_score: 5.0,
            scan_limit: 512 * 1024,
            bayes_points_per_decade: 4.0,
            bayes_points_knee: 8.0,
            bayes_ham_points_knee: 2.0,
            use_starter: true,
            starter_fade: 200,
            rules_trained_weight: 0.7,
            bayes: BayesParams::default(),
            lr: crate::lr::LrSettings::default(),
        }
    }
}

/// The test that says the filter scored without something that is broken.
pub const DEGRADED: &str = "SPAMFILT_DEGRADED";
/// Its points: informational, as SpamAssassin's 0.001 rules.
pub const DEGRADED_SCORE: f64 = 0.001;

/// Points for log-odds: `per_decade` points per factor of ten in the odds (for Bayes, with the
/// default 4.0, odds of 18:1 give +5.0, the default threshold). Beyond ±`knee` the points grow only
/// logarithmically, so the score stays readable but keeps ranking messages.
pub fn bayes_points(log_odds: f64, per_decade: f64, knee: f64) -> f64 {
    let linear = per_decade * log_odds / std::f64::consts::LN_10;
    if linear.abs() <= knee {
        linear
    } else {
        linear.signum() * (knee + (linear.abs() - knee).ln_1p())
    }
}

/// The points a Bayes result adds: [`bayes_points`] with Bayes's scale and a knee on each side
/// (`bayes_ham_points_knee` below zero, `bayes_points_knee` above). The ham side's knee is the
/// smaller: beyond it a ham verdict adds little, so spam that Bayes takes for ham (written with
/// the words of ham, as spammers do to poison Bayes filters) keeps what the rules and LR give
/// it, and ranks above the ham Bayes is unsure of; measured in docs/benchmarks.md ("Bayes's ham
/// side").
pub fn bayes_result_points(log_odds: f64, s: &ScoringSettings) -> f64 {
    let knee = if log_odds < 0.0 { s.bayes_ham_points_knee } else { s.bayes_points_knee };
    bayes_points(log_odds, s.bayes_points_per_decade, knee)
}

/// What the built-in content rules' points for spam count for, given what the user has trained
/// (`user`): 1 with nothing trained, `rules_trained_weight` from `starter_fade` ham and spam on,
/// linear between (the voice LR's points and the starter table's fading use). The rule scores
/// were fitted on the SpamAssassin corpus, not on the user's mail; Bayes and LR learn the user's
/// own, so once they have, the rules give way to them, as SpamAssassin's score sets lower rule
/// scores when Bayes is on. Measured in docs/benchmarks.md ("The content rules give way to
/// training"): on every split fewer ham at 5.0 (hard ham above all), more spam below it.
pub fn content_rules_weight(user: bayes::Totals, s: &ScoringSettings) -> f64 {
    let voice = lr::voice(user.ham, user.spam, s.starter_fade);
    1.0 - (1.0 - s.rules_trained_weight.clamp(0.0, 1.0)) * voice
}

/// Points that an LR result adds: like [`bayes_points`] with LR's own scale and a knee of its
/// own on each side (`ham_points_knee` below zero, `points_knee` above), times its voice (which
/// grows with what the user has trained).
pub fn lr_points(r: &LrResult, s: &lr::LrSettings) -> f64 {
    let knee = if r.logit < 0.0 { s.ham_points_knee } else { s.points_knee };
    r.voice * bayes_points(r.logit, s.points_per_decade, knee)
}

impl Verdict {
    /// Combines rule hits and optional Bayes and LR results.
    pub fn new(mut hits: Vec<Hit>, bayes: Option<BayesResult>, lr: Option<LrResult>, s: &ScoringSettings) -> Verdict {
        let mut score: f64 = hits.iter().map(|h| h.score).sum();
        if let Some(b) = &bayes {
            let points = b.voice * bayes_result_points(b.log_odds, s);
            score += points;
            let description = if b.voice < 1.0 {
                format!("Bayes spam probability is {:.4}, at {:.0}% voice", b.prob, 100.0 * b.voice)
            } else {
                format!("Bayes spam probability is {:.4}", b.prob)
            };
            hits.push(Hit {
                name: Cow::Borrowed(bayes::band(b.prob)),
                score: points,
                description: Cow::Owned(description),
            });
        }
        if let Some(r) = &lr {
            let points = lr_points(r, &s.lr);
            score += points;
            hits.push(Hit {
                name: Cow::Borrowed(lr::band(r.prob())),
                score: points,
                description: Cow::Owned(format!(
                    "LR spam probability is {:.4} (log-odds {:.2}), at {:.0}% voice",
                    r.prob(),
                    r.logit,
                    100.0 * r.voice
                )),
            });
        }
        // Round once, here, so the header, `check` and the verdict agree exactly.
        let score = (score * 1000.0).round() / 1000.0;
        Verdict {
            score,
            required: s.required_score,
            is_spam: score >= s.required_score,
            hits,
            bayes,
            lr,
            degraded: vec![],
            content_weight: 1.0,
        }
    }

    /// Records that the message was scored without something broken: adds the
    /// `SPAMFILT_DEGRADED` test (once) and the cause, shown in `X-Spam-Degraded`.
    pub fn degrade(&mut self, cause: String) {
        if !self.hits.iter().any(|h| h.name == DEGRADED) {
            self.hits.push(Hit {
                name: Cow::Borrowed(DEGRADED),
                score: DEGRADED_SCORE,
                description: Cow::Borrowed("spamfilt scored without something that is broken (see X-Spam-Degraded)"),
            });
            self.score = ((self.score + DEGRADED_SCORE) * 1000.0).round() / 1000.0;
            self.is_spam = self.score >= self.required;
        }
        if !self.degraded.contains(&cause) {
            self.degraded.push(cause);
        }
    }

    /// The comma list of test names, in a stable order (by name).
    /// The names of the rules that fired, sorted, each once: the order of `tests=` in the
    /// header and of `check --json`'s `tests`.
    pub fn test_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.hits.iter().map(|h| h.name.as_ref()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn tests(&self) -> String {
        let names = self.test_names();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(",")
        }
    }

    /// The score as written in headers and by `check`.
    pub fn score_text(&self) -> String {
        format_score(self.score)
    }

    /// `X-Spam-Status`, `X-Spam-Level` and, on spam, `X-Spam-Flag`, in that order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (
                "X-Spam-Status",
                format!(
                    "{}, score={} required={:.1} tests={} version=spamfilt-{}",
                    if self.is_spam { "Yes" } else { "No" },
                    header_score(self.score, self.required, self.is_spam),
                    self.required,
                    self.tests(),
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            ("X-Spam-Level", "*".repeat(self.score.clamp(0.0, 50.0) as usize)),
        ];
        if self.is_spam {
            out.push(("X-Spam-Flag", "YES".to_string()));
        }
        if !self.degraded.is_empty() {
            // Values are sanitized by the rewrite (control characters become spaces).
            out.push(("X-Spam-Degraded", self.degraded.join("; ")));
        }
        out
    }
}

/// The score as SpamAssassin writes it in X-Spam-Status (`_SCORE_`: PerMsgStatus.pm
/// `_get_tag_value_for_score`, Util.pm `get_tag_value_for_score`): `sprintf("%2.1f")`, one
/// decimal (`-1.9`, `22.1`, `-0.0`); for ham whose score rounds up to the threshold or above,
/// the threshold less 0.1 (`4.9`, never `5.0` on a `No`), printed as Perl prints a number (`1`
/// for 1.1 - 0.1). The threshold itself is `%2.1f` too. `check` keeps three decimals.
pub fn header_score(score: f64, required: f64, is_spam: bool) -> String {
    // A sum of nothing is 0 (SpamAssassin's starts at 0), not the -0.0 float sums can give.
    let score = if score == 0.0 { 0.0 } else { score };
    let s = format!("{score:.1}");
    let r = format!("{required:.1}");
    // Perl compares the two strings as numbers.
    let (sv, rv): (f64, f64) = (s.parse().unwrap_or(score), r.parse().unwrap_or(required));
    if is_spam || sv < rv {
        return s;
    }
    // `$rscore - 0.1` printed with Perl's %.15g: a tenth, without a trailing ".0".
    let t = format!("{:.1}", rv - 0.1);
    match t.strip_suffix(".0") {
        Some(whole) if whole != "-0" => whole.to_string(),
        Some(_) => "0".to_string(),
        None => t,
    }
}

/// Scores are written with up to three decimals, trailing zeros dropped but at least one kept
/// (`5.0`, `7.25`, `-1.125`), as SpamAssassin recipes expect a decimal point.
pub fn format_score(score: f64) -> String {
    let mut s = format!("{score:.3}");
    while s.ends_with('0') && !s.ends_with(".0") {
        s.pop();
    }
    if s == "-0.0" {
        s = "0.0".to_string();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_format() {
        assert_eq!(format_score(5.0), "5.0");
        assert_eq!(format_score(7.25), "7.25");
        assert_eq!(format_score(-1.1254), "-1.125");
        assert_eq!(format_score(-0.0001), "0.0");
    }

    #[test]
    fn lr_points_clear_ham_further_than_they_condemn_spam() {
        let s = lr::LrSettings::default();
        let at = |logit: f64| lr_points(&LrResult { logit, voice: 1.0 }, &s);
        // One point per decade on both sides near zero, and continuous through it.
        assert!((at(std::f64::consts::LN_10) - 1.0).abs() < 1e-9);
        assert!((at(-std::f64::consts::LN_10) + 1.0).abs() < 1e-9);
        assert!(at(1e-9).abs() < 1e-6 && at(-1e-9).abs() < 1e-6);
        // Ten decades: the spam side is past its knee of 1, the ham side still below its 8.
        assert!((at(-10.0 * std::f64::consts::LN_10) + (8.0 + 2f64.ln_1p())).abs() < 1e-9);
        assert!((at(10.0 * std::f64::consts::LN_10) - (1.0 + 9f64.ln_1p())).abs() < 1e-9);
        let mut last = f64::NEG_INFINITY;
        for i in -1000..1000 {
            let v = at(i as f64 / 10.0);
            assert!(v > last, "monotone at {i}");
            last = v;
        }
        // The voice scales both sides.
        assert_eq!(lr_points(&LrResult { logit: -5.0, voice: 0.5 }, &s), 0.5 * at(-5.0));
    }

    #[test]
    fn bayes_sure_of_ham_buries_less_than_bayes_sure_of_spam_condemns() {
        let s = ScoringSettings::default();
        let at = |log_odds: f64| bayes_result_points(log_odds, &s);
        // Four points per decade on both sides near zero, and continuous through it.
        assert!((at(std::f64::consts::LN_10) - 4.0).abs() < 1e-9);
        assert!((at(-0.1 * std::f64::consts::LN_10) + 0.4).abs() < 1e-9);
        assert!(at(1e-9).abs() < 1e-6 && at(-1e-9).abs() < 1e-6);
        // Ten decades: 40 points linear; the spam side is past its knee of 8, the ham side past 2.
        assert!((at(10.0 * std::f64::consts::LN_10) - (8.0 + 32f64.ln_1p())).abs() < 1e-9);
        assert!((at(-10.0 * std::f64::consts::LN_10) + (2.0 + 38f64.ln_1p())).abs() < 1e-9);
        // So spam that Bayes is sure is ham (log-odds -42, as a message written with ham's words
        // gets) keeps what the rules give it: -6.3 points, not the -12.2 of a knee of 8.
        assert!(at(-42.0) > -6.5 && at(-42.0) < -6.0, "{}", at(-42.0));
        assert!(bayes_points(-42.0, 4.0, 8.0) < -12.0);
        let mut last = f64::NEG_INFINITY;
        for i in -1000..1000 {
            let v = at(i as f64 / 5.0);
            assert!(v > last, "monotone at {i}");
            last = v;
        }
        // The verdict adds exactly these points.
        let b = BayesResult { prob: 0.0, log_odds: -42.0, clues: vec![], trace: None, voice: 1.0 };
        assert_eq!(Verdict::new(vec![], Some(b), None, &s).score, (at(-42.0) * 1000.0).round() / 1000.0);
    }

    #[test]
    fn bayes_points_are_monotone_and_hit_threshold_at_99_to_1() {
        let p99 = bayes_points((99.0f64).ln(), 2.5, 8.0);
        assert!((p99 - 4.989).abs() < 0.01, "{p99}");
        let mut last = f64::NEG_INFINITY;
        for i in -1000..1000 {
            let v = bayes_points(i as f64 / 5.0, 2.5, 8.0);
            assert!(v > last);
            last = v;
        }
        assert!(bayes_points(700.0, 2.5, 8.0) < 16.0);
    }

    /// As SpamAssassin's get_tag_value_for_score (Util.pm) prints them.
    #[test]
    fn header_score_is_spamassassins() {
        assert_eq!(header_score(22.143, 5.0, true), "22.1");
        assert_eq!(header_score(-1.94, 5.0, false), "-1.9");
        assert_eq!(header_score(-0.04, 5.0, false), "-0.0");
        assert_eq!(header_score(0.0, 5.0, false), "0.0");
        assert_eq!(header_score(-0.0, 5.0, false), "0.0");
        assert_eq!(header_score(100.001, 5.0, true), "100.0");
        // Ham that would round to the threshold: the threshold less 0.1.
        assert_eq!(header_score(4.96, 5.0, false), "4.9");
        assert_eq!(header_score(4.94, 5.0, false), "4.9");
        assert_eq!(header_score(1.06, 1.1, false), "1");
        assert_eq!(header_score(0.06, 0.1, false), "0");
        assert_eq!(header_score(5.0, 5.0, true), "5.0");
    }

    #[test]
    fn headers_format() {
        let s = ScoringSettings::default();
        let hits = vec![
            Hit { name: "B_RULE".into(), score: 3.0, description: "".into() },
            Hit { name: "A_RULE".into(), score: 2.5, description: "".into() },
        ];
        let v = Verdict::new(hits, None, None, &s);
        let h = v.headers();
        assert!(v.is_spam);
        assert_eq!(
            h[0].1,
            format!("Yes, score=5.5 required=5.0 tests=A_RULE,B_RULE version=spamfilt-{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(h[1].1, "*****");
        assert_eq!(h[2], ("X-Spam-Flag", "YES".to_string()));
        let v = Verdict::new(vec![], None, None, &s);
        assert_eq!(v.headers().len(), 2);
        assert!(v.headers()[0].1.starts_with("No, score=0.0 required=5.0 tests=none"), "{:?}", v.headers());
    }
}
