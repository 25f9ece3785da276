#!/usr/bin/env python3
"""How much better could any weighting of the three parts rank? (issue 14; docs/benchmarks.md,
"What no weighting of the parts can reach").

    R_INNER=5 R_HITS=1 F_SEEDS=5 cargo run --release --example fusion_dump -- corpus/package/data parts.tsv
    scripts/fusion-headroom.py parts.tsv [--bogofilter corpus/package/data]

For every split of examples/fusion_dump.rs's rows it prints three scores' 1-ROCA % and spam caught
at 0.1% FP:

- shipped: the fused score as src/verdict.rs makes it (scripts/fusion.py's "fused");
- stacked: a logistic regression of the label on the parts, fitted on the split's `.inner` rows
  (each training message scored by models of the other folds of the training set: what `train`
  could know) and applied to the test rows: Lynam and Cormack's on-line fusion, done in batch;
- oracle: the same regression fitted on the test rows themselves. No weighting of these parts
  ranks the test mail better than this (up to the regularisation): it bounds what retuning the
  fusion can reach.

The parts (each a column of the regression, with a bias): the content rules' points, Bayes's
points (4 per decade, knees 8 and 2: as shipped), LR's points on the ham side and on the spam side (as
shipped, knees 8 and 1, times LR's voice) and LR's spam-side log-odds in decades unbounded (so the
fit can undo the spam side's knee). On `year` and `reverse` hard-ham-1 is left out, as
scripts/fusion.py leaves it out of the 1-ROCA. Pure Python (Newton's method on the logistic loss
with a small L2 penalty); seconds.

The oracle minimises the logistic loss, not the 1-ROCA, so it is not a strict bound; it is what a
weighting fitted to the very mail it is judged on reaches, which no fixed or learned weighting can
expect to beat by much.

With --bogofilter DATA (the corpus's data directory; rows written with R_HITS=1, which name each
message's file and its run), bogofilter 1.2.5 (`bogofilter -C`, its defaults) is trained and scored
on exactly the same splits (the test rows of each run; the rest of the corpus trains, or the 2002
or 2003 folders for year and reverse; the time-ordered splits are left out), as
scripts/generalise.py runs it, so the ratios are against the same messages.

With --worst N as well, it then lists the N messages of the random splits that the shipped score
mis-ranks most (summed over the seeds: for a ham, the spam scored at or below it; for a spam, the
ham scored at or above it; a tie counts half, as in the 1-ROCA), with bogofilter's count for the
same message beside it, and the share of the shipped score's mis-ranked pairs that fall on
messages bogofilter mis-ranks at least half as badly (docs/benchmarks.md, "Which mail the random
splits' 1-ROCA is made of").
"""
import argparse
import collections
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generalise import one_minus_roca_percent, recall_at_fp_rate  # noqa: E402

# fusion.py's name has no dash to import by; load it by path.
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("fusion", os.path.join(os.path.dirname(os.path.abspath(__file__)), "fusion.py"))
fusion = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fusion)

LN10 = math.log(10)


def parts(rules, bayes, lr, voice):
    """The regression's columns for one message (see the module's doc), bias last."""
    ham_side = voice * fusion.points(lr, 1.0, 8.0) if lr < 0 else 0.0
    spam_side = voice * fusion.points(lr, 1.0, 1.0) if lr >= 0 else 0.0
    bayes_points = fusion.points(bayes, 4.0, 8.0 if bayes >= 0 else 2.0)
    return [rules, bayes_points, ham_side, spam_side, voice * max(lr, 0.0) / LN10, 1.0]


def shipped(x):
    return x[0] + x[1] + x[2] + x[3]


def solve(a, b):
    """Solves a x = b (a small dense system) by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        if abs(m[c][c]) < 1e-300:
            continue
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            if f:
                for k in range(c, n + 1):
                    m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        s = m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))
        x[r] = s / m[r][r] if abs(m[r][r]) > 1e-300 else 0.0
    return x


def fit(rows, l2=0.01, iterations=30):
    """Logistic regression of y on x by Newton's method: rows are (x, y) with y 0 or 1.

    >>> w = fit([([0.0, 1.0], 0), ([1.0, 1.0], 1), ([0.2, 1.0], 0), ([0.9, 1.0], 1), ([0.6, 1.0], 0), ([0.5, 1.0], 1)])
    >>> w[0] > 0
    True
    """
    n = len(rows[0][0])
    w = [0.0] * n
    for _ in range(iterations):
        g = [l2 * wi for wi in w]
        h = [[l2 if i == j else 0.0 for j in range(n)] for i in range(n)]
        for x, y in rows:
            z = sum(wi * xi for wi, xi in zip(w, x))
            p = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
            d = p - y
            v = p * (1.0 - p)
            for i in range(n):
                g[i] += d * x[i]
                vi = v * x[i]
                if vi:
                    hi = h[i]
                    for j in range(i, n):
                        hi[j] += vi * x[j]
        for i in range(n):
            for j in range(i):
                h[i][j] = h[j][i]
        step = solve(h, g)
        w = [wi - si for wi, si in zip(w, step)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return w


def score(w, x):
    return sum(wi * xi for wi, xi in zip(w, x))


def bogofilter_scores(data, split, test_rows):
    """bogofilter's spamicity for each (folder, file) of `test_rows` ({run: [(folder, file)]}),
    trained as the split was; None for the splits it cannot be trained for here."""
    import subprocess
    import tempfile

    folders = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
    every = [(f, n) for f in folders for n in sorted(os.listdir(os.path.join(data, f))) if n.endswith(".txt")]
    out = {}
    for run, test in test_rows.items():
        if split == "year":
            train = [m for m in every if m[0] in ("easy-ham-1", "spam-1")]
        elif split == "reverse":
            train = [m for m in every if m[0] in ("easy-ham-2", "spam-2")]
        elif split.startswith("random") or split == "fold10":
            held = set(test)
            train = [m for m in every if m not in held]
        else:
            return None
        with tempfile.TemporaryDirectory() as db:
            for flag, spam in (("-n", False), ("-s", True)):
                files = [os.path.join(data, f, n) for f, n in train if f.startswith("spam") == spam]
                subprocess.run(["bogofilter", "-C", "-d", db, flag, "-B", *files], check=True, capture_output=True)
            files = [os.path.join(data, f, n) for f, n in test]
            r = subprocess.run(["bogofilter", "-C", "-d", db, "-TT", "-B", *files], capture_output=True, text=True)
            if r.returncode > 2:
                sys.exit(f"fusion-headroom: bogofilter failed: {r.stderr[:300]}")
            for line in r.stdout.splitlines():
                path, sc = line.rsplit(" ", 1)
                out[(os.path.basename(os.path.dirname(path)), os.path.basename(path))] = float(sc)
    return out


def misranked(scored):
    """{key: mis-ordered pairs} for (score, is_spam, key) rows: for a ham, the spam scored at or
    below it; for a spam, the ham at or above it; a tie counts half (the 1-ROCA's convention, so
    the pairs summed over one class, over ham x spam, are its 1-ROCA as a fraction).

    >>> sorted(misranked([(1.0, True, "s1"), (2.0, False, "h1"), (0.0, False, "h2"), (2.0, True, "s2")]).items())
    [('h1', 1.5), ('h2', 0.0), ('s1', 1.0), ('s2', 0.5)]
    """
    import bisect

    spam = sorted(sc for sc, y, _ in scored if y)
    ham = sorted(sc for sc, y, _ in scored if not y)
    out = {}
    for sc, y, key in scored:
        if y:
            below, at = bisect.bisect_left(ham, sc), bisect.bisect_right(ham, sc)
            out[key] = (len(ham) - at) + 0.5 * (at - below)
        else:
            below, at = bisect.bisect_left(spam, sc), bisect.bisect_right(spam, sc)
            out[key] = below + 0.5 * (at - below)
    return out


def worst(shipped_pairs, bogo_pairs, n):
    """Prints the `n` messages with the most shipped mis-ordered pairs and bogofilter's beside."""
    total = sum(shipped_pairs.values())
    print(f"\nthe random splits' most mis-ranked messages (pairs summed over the seeds; {total:.0f} shipped, "
          f"{sum(bogo_pairs.values()):.0f} bogofilter, both classes counted)")
    print("shipped\tbogofilter\tmessage")
    for key, v in sorted(shipped_pairs.items(), key=lambda kv: -kv[1])[:n]:
        print(f"{v:.1f}\t{bogo_pairs.get(key, 0):.1f}\t{key[0]}/{key[1]}")
    shared = sum(v for k, v in shipped_pairs.items() if bogo_pairs.get(k, 0) >= 0.5 * v)
    top = sum(sorted(shipped_pairs.values(), reverse=True)[:10])
    if total:
        print(f"share of the shipped pairs on messages bogofilter mis-ranks at least half as badly: {shared / total:.0%}; "
              f"on the ten worst: {top / total:.0%}")


def metrics(scored):
    return f"{one_minus_roca_percent(scored):.4f}; {100 * recall_at_fp_rate(scored, 0.001):.2f}%"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tsv")
    ap.add_argument("--bogofilter", metavar="DATA", help="run bogofilter on the same splits (rows from R_HITS=1)")
    ap.add_argument("--worst", type=int, metavar="N", help="with --bogofilter: the N messages the random splits mis-rank most")
    a = ap.parse_args()
    if a.worst and not a.bogofilter:
        ap.error("--worst needs --bogofilter")
    pairs_shipped, pairs_bogo = collections.Counter(), collections.Counter()
    learned = fusion.learned_counts(a.tsv)
    test, inner = collections.defaultdict(list), collections.defaultdict(list)
    files = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(a.tsv) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            split, folder, spam, rules, bayes, lr = cols[:6]
            is_inner = split.endswith(".inner")
            split = split[: -len(".inner")] if is_inner else split
            if not is_inner and len(cols) >= 8:
                files[split][cols[6]].append((folder, cols[7]))
            if split in ("year", "reverse") and folder == "hard-ham-1":
                continue
            n = learned.get(split, fusion.TRAINED.get(split, 200))
            voice = min(n / 200.0, 1.0)
            row = (parts(float(rules), float(bayes), float(lr), voice), 1 if spam == "1" else 0, (folder, cols[7] if len(cols) >= 8 else None))
            (inner if is_inner else test)[split].append(row)
    head = "split\tshipped\tstacked (fitted on the training mail)\toracle (fitted on the test mail)\toracle's weights"
    print(head + ("\tbogofilter\tshipped / bogofilter\toracle / bogofilter" if a.bogofilter else ""))
    for split, rows in test.items():
        fitted = [(x, y) for x, y, _ in rows]
        ship = [(shipped(x), y == 1) for x, y, _ in rows]
        oracle_w = fit(fitted)
        oracle = [(score(oracle_w, x), y == 1) for x, y, _ in rows]
        if inner.get(split):
            stack_w = fit([(x, y) for x, y, _ in inner[split]])
            stacked = metrics([(score(stack_w, x), y == 1) for x, y, _ in rows])
        else:
            stacked = "-"
        weights = " ".join(f"{w:.2f}" for w in oracle_w)
        line = f"{split}\t{metrics(ship)}\t{stacked}\t{metrics(oracle)}\t{weights}"
        if a.bogofilter:
            bogo = bogofilter_scores(a.bogofilter, split, files[split]) if files.get(split) else None
            if bogo is None:
                line += "\t-\t-\t-"
            else:
                b = one_minus_roca_percent([(bogo[key], y == 1) for _, y, key in rows])
                r = lambda s: f"{one_minus_roca_percent(s) / b:.2f}x" if b else "-"
                line += f"\t{metrics([(bogo[key], y == 1) for _, y, key in rows])}\t{r(ship)}\t{r(oracle)}"
                if a.worst and split.startswith("random"):
                    pairs_shipped.update(misranked([(shipped(x), y == 1, key) for x, y, key in rows]))
                    pairs_bogo.update(misranked([(bogo[key], y == 1, key) for _, y, key in rows]))
        print(line, flush=True)
    if a.worst:
        worst(pairs_shipped, pairs_bogo, a.worst)


if __name__ == "__main__":
    main()
