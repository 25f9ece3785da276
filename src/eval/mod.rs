//! Evaluation: how well scores separate ham from spam. Pure functions over (score, is_spam)
//! pairs: confusion counts at a threshold, the ROC curve and the area above it (1-ROCA%),
//! spam recall at a fixed false-positive rate, and the threshold that gives that rate.
//!
//! Used by `spamfilt eval` (k-fold cross-validation) and by the benchmark scripts' numbers,
//! so every tool reports the same figures computed the same way.

pub mod crossval;
pub mod plot;

/// One scored message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub score: f64,
    pub is_spam: bool,
}

/// Confusion counts at a threshold (score ≥ threshold is spam).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub ham: usize,
    pub spam: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
}

impl Confusion {
    pub fn at(samples: &[Sample], threshold: f64) -> Confusion {
        let mut c = Confusion::default();
        for s in samples {
            let flagged = s.score >= threshold;
            if s.is_spam {
                c.spam += 1;
                c.false_negatives += usize::from(!flagged);
            } else {
                c.ham += 1;
                c.false_positives += usize::from(flagged);
            }
        }
        c
    }

    pub fn fp_percent(&self) -> f64 {
        percent(self.false_positives, self.ham)
    }

    pub fn fn_percent(&self) -> f64 {
        percent(self.false_negatives, self.spam)
    }
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// The area above the ROC curve in percent (0 is perfect, 50 is chance): the probability that
/// a random ham scores at least as high as a random spam, ties counting half.
pub fn one_minus_roca_percent(samples: &[Sample]) -> f64 {
    let mut sorted: Vec<Sample> = samples.to_vec();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    let n_ham = sorted.iter().filter(|s| !s.is_spam).count();
    let n_spam = sorted.len() - n_ham;
    if n_ham == 0 || n_spam == 0 {
        return 0.0;
    }
    // Walk groups of equal scores from low to high; for each spam, count the ham above it.
    let mut bad = 0.0f64; // (ham, spam) pairs ordered wrongly; ties count half
    let mut ham_below = 0usize;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        let (mut h, mut s) = (0usize, 0usize);
        while j < sorted.len() && sorted[j].score == sorted[i].score {
            if sorted[j].is_spam {
                s += 1;
            } else {
                h += 1;
            }
            j += 1;
        }
        let ham_above = n_ham - ham_below - h;
        bad += s as f64 * (ham_above as f64 + 0.5 * h as f64);
        ham_below += h;
        i = j;
    }
    100.0 * bad / (n_ham as f64 * n_spam as f64)
}

/// The lowest threshold at which at most `fp_rate` (a fraction) of the ham would be flagged.
/// `None` without ham.
pub fn threshold_for_fp_rate(samples: &[Sample], fp_rate: f64) -> Option<f64> {
    let mut ham: Vec<f64> = samples.iter().filter(|s| !s.is_spam).map(|s| s.score).collect();
    if ham.is_empty() {
        return None;
    }
    ham.sort_by(|a, b| b.total_cmp(a)); // highest first
    let allowed = (fp_rate * ham.len() as f64).floor() as usize;
    // Flagging is `score >= t`: t must be above the ham at rank `allowed` (0-based).
    let boundary = ham.get(allowed).copied().unwrap_or(f64::NEG_INFINITY);
    Some(next_up(boundary))
}

/// Spam recall (fraction, 0..1) at the threshold that keeps false positives at most `fp_rate`.
pub fn recall_at_fp_rate(samples: &[Sample], fp_rate: f64) -> f64 {
    let Some(t) = threshold_for_fp_rate(samples, fp_rate) else { return 0.0 };
    let spam: Vec<&Sample> = samples.iter().filter(|s| s.is_spam).collect();
    if spam.is_empty() {
        return 0.0;
    }
    spam.iter().filter(|s| s.score >= t).count() as f64 / spam.len() as f64
}

/// The ROC curve as (false-positive rate, true-positive rate) points, from (0,0) to (1,1).
pub fn roc_curve(samples: &[Sample]) -> Vec<(f64, f64)> {
    let mut sorted: Vec<Sample> = samples.to_vec();
    sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
    let n_ham = sorted.iter().filter(|s| !s.is_spam).count().max(1) as f64;
    let n_spam = sorted.iter().filter(|s| s.is_spam).count().max(1) as f64;
    let mut points = vec![(0.0, 0.0)];
    let (mut fp, mut tp) = (0usize, 0usize);
    let mut i = 0;
    while i < sorted.len() {
        let score = sorted[i].score;
        while i < sorted.len() && sorted[i].score == score {
            if sorted[i].is_spam {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        points.push((fp as f64 / n_ham, tp as f64 / n_spam));
    }
    points
}

/// The smallest f64 greater than `x`.
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == f64::NEG_INFINITY {
        return f64::MIN;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// Parses a rate written as `0.1%` or `0.001`.
pub fn parse_rate(s: &str) -> anyhow::Result<f64> {
    let s = s.trim();
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| anyhow::anyhow!("bad rate {s:?}: write e.g. 0.1% or 0.001"))?;
    anyhow::ensure!((0.0..=1.0).contains(&v), "bad rate {s:?}: must be between 0% and 100%");
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(score: f64, is_spam: bool) -> Sample {
        Sample { score, is_spam }
    }

    #[test]
    fn perfect_and_inverted_separation() {
        let perfect = [s(-1.0, false), s(0.0, false), s(5.0, true), s(9.0, true)];
        assert_eq!(one_minus_roca_percent(&perfect), 0.0);
        let inverted = [s(9.0, false), s(5.0, false), s(0.0, true), s(-1.0, true)];
        assert_eq!(one_minus_roca_percent(&inverted), 100.0);
        let tied = [s(1.0, false), s(1.0, true)];
        assert_eq!(one_minus_roca_percent(&tied), 50.0);
    }

    #[test]
    fn one_wrong_pair_of_four() {
        // ham 0, 6; spam 5, 9: the pair (ham 6, spam 5) is wrong: 1 of 4 pairs.
        let v = [s(0.0, false), s(6.0, false), s(5.0, true), s(9.0, true)];
        assert_eq!(one_minus_roca_percent(&v), 25.0);
    }

    #[test]
    fn confusion_and_rates() {
        let v = [s(0.0, false), s(6.0, false), s(5.0, true), s(9.0, true), s(1.0, true)];
        let c = Confusion::at(&v, 5.0);
        assert_eq!(c, Confusion { ham: 2, spam: 3, false_positives: 1, false_negatives: 1 });
        assert_eq!(c.fp_percent(), 50.0);
        // With no false positive allowed the threshold must be above the highest ham (6).
        let t = threshold_for_fp_rate(&v, 0.0).unwrap();
        assert!(t > 6.0 && t < 6.000001);
        assert!((recall_at_fp_rate(&v, 0.0) - 1.0 / 3.0).abs() < 1e-12);
        // Allowing one of the two ham puts the threshold just above the lower ham (0): all spam.
        assert_eq!(recall_at_fp_rate(&v, 0.5), 1.0);
    }

    #[test]
    fn roc_goes_corner_to_corner() {
        let v = [s(0.0, false), s(6.0, false), s(5.0, true), s(9.0, true)];
        let roc = roc_curve(&v);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(roc.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1));
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("0.1%").unwrap(), 0.001);
        assert_eq!(parse_rate("0.01").unwrap(), 0.01);
        assert!(parse_rate("150%").is_err());
        assert!(parse_rate("abc").is_err());
    }
}
