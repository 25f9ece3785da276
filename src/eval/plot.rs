//! One SVG a user can read at a glance: the score histograms of ham and spam with the threshold
//! marked (left) and the ROC curve on a logarithmic false-positive axis (right).
//! Hand-written SVG: no plotting dependency for one picture.

use std::fmt::Write as _;

use super::{roc_curve, Sample};

const W: f64 = 960.0;
const H: f64 = 420.0;
const HAM: &str = "#2b7bba";
const SPAM: &str = "#d7301f";
const GRID: &str = "#dddddd";
const AXIS: &str = "#888888";

/// Renders the plot. `title` goes on top (e.g. the corpus and the 1-ROCA figure).
pub fn render(samples: &[Sample], threshold: f64, title: &str) -> String {
    let mut svg = String::new();
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    )
    .unwrap();
    writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#).unwrap();
    writeln!(svg, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, W / 2.0, escape(title))
        .unwrap();
    histogram(&mut svg, samples, threshold, 60.0, 50.0, 520.0, 310.0);
    roc(&mut svg, samples, 660.0, 50.0, 270.0, 310.0);
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[allow(clippy::too_many_arguments)]
fn histogram(svg: &mut String, samples: &[Sample], threshold: f64, x0: f64, y0: f64, w: f64, h: f64) {
    // Score range: clip the long tails so the middle, where mistakes happen, is readable.
    let (lo, hi) = (-15.0f64, 25.0f64);
    let bins = 80usize;
    let bin_w = (hi - lo) / bins as f64;
    let mut ham = vec![0usize; bins];
    let mut spam = vec![0usize; bins];
    for s in samples {
        let b = (((s.score.clamp(lo, hi - 1e-9) - lo) / bin_w) as usize).min(bins - 1);
        if s.is_spam {
            spam[b] += 1;
        } else {
            ham[b] += 1;
        }
    }
    // Counts on a square-root scale so a handful of mistakes still show beside thousands.
    let max = ham.iter().chain(&spam).copied().max().unwrap_or(1).max(1) as f64;
    let y_of = |n: usize| y0 + h - h * (n as f64).sqrt() / max.sqrt();
    let x_of = |score: f64| x0 + w * (score - lo) / (hi - lo);
    axes(svg, x0, y0, w, h);
    for (counts, color) in [(&ham, HAM), (&spam, SPAM)] {
        for (b, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let x = x_of(lo + b as f64 * bin_w);
            let y = y_of(n);
            writeln!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{color}" fill-opacity="0.55"/>"#,
                w / bins as f64,
                y0 + h - y
            )
            .unwrap();
        }
    }
    let tx = x_of(threshold.clamp(lo, hi));
    writeln!(
        svg,
        r#"<line x1="{tx:.1}" y1="{y0}" x2="{tx:.1}" y2="{}" stroke="black" stroke-dasharray="5,3"/>"#,
        y0 + h
    )
    .unwrap();
    writeln!(
        svg,
        r#"<text x="{:.1}" y="{}" font-size="11">threshold {}</text>"#,
        tx + 4.0,
        y0 + 12.0,
        crate::verdict::format_score(threshold)
    )
    .unwrap();
    for score in (lo as i64..=hi as i64).step_by(5) {
        let x = x_of(score as f64);
        writeln!(svg, r#"<text x="{x:.1}" y="{}" text-anchor="middle">{score}</text>"#, y0 + h + 16.0).unwrap();
    }
    for frac in [0.25, 0.5, 1.0] {
        let n = (max * frac * frac).round() as usize;
        let y = y_of(n);
        writeln!(svg, r#"<text x="{}" y="{y:.1}" text-anchor="end">{n}</text>"#, x0 - 6.0).unwrap();
    }
    writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">score (tails clipped to {lo}..{hi})</text>"#,
        x0 + w / 2.0,
        y0 + h + 34.0
    )
    .unwrap();
    writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">messages (√ scale)</text>"#,
        x0 - 40.0,
        y0 + h / 2.0,
        x0 - 40.0,
        y0 + h / 2.0
    )
    .unwrap();
    let n_ham = samples.iter().filter(|s| !s.is_spam).count();
    let n_spam = samples.len() - n_ham;
    writeln!(svg, r#"<rect x="{}" y="{}" width="12" height="12" fill="{HAM}" fill-opacity="0.55"/><text x="{}" y="{}">ham ({n_ham})</text>"#, x0 + w - 110.0, y0 + 6.0, x0 + w - 92.0, y0 + 16.0).unwrap();
    writeln!(svg, r#"<rect x="{}" y="{}" width="12" height="12" fill="{SPAM}" fill-opacity="0.55"/><text x="{}" y="{}">spam ({n_spam})</text>"#, x0 + w - 110.0, y0 + 24.0, x0 + w - 92.0, y0 + 34.0).unwrap();
}

fn roc(svg: &mut String, samples: &[Sample], x0: f64, y0: f64, w: f64, h: f64) {
    // x: false-positive rate, log scale from 0.01% to 100%; y: spam recall, 0 to 100%.
    let (lmin, lmax) = (-4.0f64, 0.0f64);
    let x_of = |fpr: f64| x0 + w * ((fpr.max(1e-4).log10() - lmin) / (lmax - lmin)).clamp(0.0, 1.0);
    let y_of = |tpr: f64| y0 + h - h * tpr;
    axes(svg, x0, y0, w, h);
    let mut path = String::new();
    for (i, (fpr, tpr)) in roc_curve(samples).into_iter().enumerate() {
        write!(path, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x_of(fpr), y_of(tpr)).unwrap();
    }
    writeln!(svg, r#"<path d="{path}" fill="none" stroke="{SPAM}" stroke-width="2"/>"#).unwrap();
    for (k, label) in ["0.01%", "0.1%", "1%", "10%", "100%"].iter().enumerate() {
        let x = x0 + w * k as f64 / 4.0;
        writeln!(svg, r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="{GRID}"/>"#, y0 + h).unwrap();
        writeln!(svg, r#"<text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"#, y0 + h + 16.0).unwrap();
    }
    for k in 0..=4 {
        let y = y_of(k as f64 / 4.0);
        writeln!(svg, r#"<text x="{}" y="{:.1}" text-anchor="end">{}%</text>"#, x0 - 6.0, y + 4.0, k * 25).unwrap();
    }
    writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">false positives (log scale)</text>"#,
        x0 + w / 2.0,
        y0 + h + 34.0
    )
    .unwrap();
    writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">spam caught (ROC)</text>"#,
        x0 - 40.0,
        y0 + h / 2.0,
        x0 - 40.0,
        y0 + h / 2.0
    )
    .unwrap();
}

fn axes(svg: &mut String, x0: f64, y0: f64, w: f64, h: f64) {
    writeln!(svg, r#"<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="{AXIS}"/>"#).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_well_formed_svg() {
        let samples: Vec<Sample> = (0..100).map(|i| Sample { score: i as f64 / 5.0 - 5.0, is_spam: i >= 50 }).collect();
        let svg = render(&samples, 5.0, "test <corpus> & more");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("test &lt;corpus&gt; &amp; more"));
        assert!(svg.contains("threshold 5.0"));
        assert_eq!(svg.matches("<path").count(), 1);
    }
}
