#!/usr/bin/env python3
"""Metrics of candidate fusions from the rows examples/fusion_dump.rs writes.

    cargo run --release --example fusion_dump -- corpus/package/data parts.tsv
    scripts/fusion.py parts.tsv [--bayes-points 4] [--bayes-knee 8] [--bayes-ham-knee 2]
                                [--lr-points 1] [--lr-knee 1] [--lr-ham-knee 8]
                                [--lr-ham-growth 0.5] [--lr-ham-growth-max 3]   # a design not taken

Each row is `split folder spam rules bayes_log_odds lr_logit` (columns after these are ignored,
and so are `SPLIT.inner` rows). For every split it prints the rules alone, Bayes alone, LR alone
and the fused score as src/verdict.rs makes it (rules + Bayes points + LR points times LR's voice,
min(ham, spam learned)/200 from the counts fusion_dump writes to parts.tsv.trained): 1-ROCA %, spam caught at 0.1% false positives, ham at or above 5.0,
spam below 5.0 (for the rules alone and the fused score, the two in points). On `year` and `reverse` hard-ham-1 is scored
apart (the last column); elsewhere it is part of the test ham. The metrics are generalise.py's
(the same definitions as src/eval, doctested there). --lr-ham-growth G grows the ham side's points
per decade past full voice, × min(1 + G log2(min(ham, spam)/fade), --lr-ham-growth-max): measured
and not taken (docs/benchmarks.md, "LR's voice past 200"); 0, the default, is the shipped scoring.
"""
import argparse
import collections
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generalise import one_minus_roca_percent, recall_at_fp_rate  # noqa: E402

# How many of each class the learning-curve splits train (LR's voice grows with it); other
# `curveN` splits (fusion_dump's F_CURVE) train N.
TRAINED = {"curve50": 50, "curve200": 200, "curve1000": 1000}


def points(log_odds, per_decade, knee):
    """src/verdict.rs's bayes_points: per_decade points per factor of ten, logarithmic past knee."""
    linear = per_decade * log_odds / math.log(10)
    if abs(linear) <= knee:
        return linear
    return math.copysign(knee + math.log1p(abs(linear) - knee), linear)


def ham_scale(learned, fade, growth, most):
    """The ham side's factor: 1 up to `fade` of each class, then 1 + growth x log2(learned/fade), at most `most`.

    >>> [ham_scale(n, 200, 0.5, 3.0) for n in (0, 200, 400, 800, 3200, 10**6)]
    [1.0, 1.0, 1.5, 2.0, 3.0, 3.0]
    """
    fade = max(fade, 1)
    if learned <= fade:
        return 1.0
    return max(min(1.0 + growth * math.log2(learned / fade), most), 1.0)


def learned_counts(tsv):
    """min(ham, spam) trained per split, the mean over the split's runs, from fusion_dump's TSV.trained."""
    runs = collections.defaultdict(list)
    if os.path.exists(tsv + ".trained"):
        with open(tsv + ".trained") as f:
            for line in f:
                split, ham, spam = line.split()
                runs[split].append(min(int(ham), int(spam)))
    else:
        print(f"{tsv}.trained missing: LR at full voice and no ham-side growth outside the curve", file=sys.stderr)
    return {split: sum(v) / len(v) for split, v in runs.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tsv")
    ap.add_argument("--bayes-points", type=float, default=4.0)
    ap.add_argument("--bayes-knee", type=float, default=8.0, help="the knee on the spam side (bayes_points_knee)")
    ap.add_argument("--bayes-ham-knee", type=float, default=2.0, help="the knee on the ham side (bayes_ham_points_knee)")
    ap.add_argument("--lr-points", type=float, default=1.0)
    ap.add_argument("--lr-knee", type=float, default=1.0, help="the knee on the spam side ([lr] points_knee)")
    ap.add_argument("--lr-ham-knee", type=float, default=8.0, help="the knee on the ham side ([lr] ham_points_knee)")
    ap.add_argument("--lr-ham-growth", type=float, default=0.0, help="grow the ham side past full voice (not taken)")
    ap.add_argument("--lr-ham-growth-max", type=float, default=3.0, help="the most the ham side grows to, × --lr-points")
    ap.add_argument("--lr-fade", type=float, default=200, help="[lr] fade")
    a = ap.parse_args()
    learned = learned_counts(a.tsv)
    splits = collections.defaultdict(list)
    with open(a.tsv) as f:
        for line in f:
            # R_HITS=1 adds columns after the sixth; R_INNER's `.inner` rows score training mail.
            split, folder, spam, rules, bayes, lr = line.rstrip("\n").split("\t")[:6]
            if split.endswith(".inner"):
                continue
            splits[split].append((folder, spam == "1", float(rules), float(bayes), float(lr)))
    variants = {
        "rules": lambda r, b, l, voice: r,
        "Bayes": lambda r, b, l, voice: b,
        "LR": lambda r, b, l, voice: l,
        "fused": lambda r, b, l, voice: r
        + points(b, a.bayes_points, a.bayes_knee if b >= 0 else a.bayes_ham_knee)
        + voice[0]
        * (points(l, a.lr_points, a.lr_knee) if l >= 0 else points(l, a.lr_points * voice[1], a.lr_ham_knee)),
    }
    print("split\tscore\t1-ROCA %\tcaught at 0.1% FP\tFP at 5.0\tFN at 5.0\thard ham at 5.0")
    for split, rows in splits.items():
        curve_n = TRAINED.get(split, int(split[5:]) if split.startswith("curve") and split[5:].isdigit() else None)
        n = learned.get(split, curve_n if curve_n is not None else a.lr_fade)
        voice = (min(n / a.lr_fade, 1.0), ham_scale(n, a.lr_fade, a.lr_ham_growth, a.lr_ham_growth_max))
        apart = split in ("year", "reverse")
        for name, f in variants.items():
            scored = [(folder, spam, f(r, b, l, voice)) for folder, spam, r, b, l in rows]
            test = [(sc, spam) for folder, spam, sc in scored if not (apart and folder == "hard-ham-1")]
            hard = [sc for folder, _, sc in scored if folder == "hard-ham-1"]
            # The threshold means something only in points (Bayes and LR alone are log-odds).
            in_points = name in ("rules", "fused")
            at = (lambda pred: str(sum(1 for sc, spam in test if pred(sc, spam)))) if in_points else (lambda pred: "-")
            fp = at(lambda sc, spam: not spam and sc >= 5.0)
            fn = at(lambda sc, spam: spam and sc < 5.0)
            hard_fp = str(sum(1 for sc in hard if sc >= 5.0)) if in_points else "-"
            n_ham = sum(1 for _, spam in test if not spam)
            n_spam = len(test) - n_ham
            print(
                f"{split}\t{name}\t{one_minus_roca_percent(test):.4f}\t{100 * recall_at_fp_rate(test, 0.001):.2f}%"
                f"\t{fp}/{n_ham}\t{fn}/{n_spam}\t{hard_fp}/{len(hard)}"
            )


if __name__ == "__main__":
    main()
