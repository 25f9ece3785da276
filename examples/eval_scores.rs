//! The metrics of `spamfilt eval` (src/eval/mod.rs) on scores made elsewhere: one message a
//! line, `SCORE<TAB>spam|ham`. Used to check that scripts/generalise.py computes the same
//! 1-ROCA and recall figures as the Rust code (`scripts/generalise.py --scores DIR` writes such
//! files).
//!
//!     cargo run --release --example eval_scores -- FILE...
fn main() {
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let samples: Vec<spamfilt::eval::Sample> = text
            .lines()
            .map(|l| {
                let (score, class) = l.split_once('\t').unwrap_or_else(|| panic!("{path}: bad line {l:?}"));
                spamfilt::eval::Sample { score: score.parse().expect("a number"), is_spam: class == "spam" }
            })
            .collect();
        println!(
            "{path}\t{:.6}\t{:.6}\t{:.6}",
            spamfilt::eval::one_minus_roca_percent(&samples),
            spamfilt::eval::recall_at_fp_rate(&samples, 0.001),
            spamfilt::eval::recall_at_fp_rate(&samples, 0.01)
        );
    }
}
