#!/usr/bin/env python3
"""Where bogofilter's ranking on the random splits comes from: its combining, reimplemented over
its own tokens (`bogolexer -p`), then with classes of tokens left out (issue 14; docs/benchmarks.md,
"What no weighting of the parts can reach").

    scripts/bogofilter-tokens.py [corpus/package/data]

Needs bogofilter 1.2.5 (Debian's bogofilter: bogolexer and bogofilter). The splits are
scripts/generalise.py's five random 50/50 splits per class (seeds 1-5). The combining is
bogofilter's with its defaults (`bogofilter -C -Q`: robs 0.0178, robx 0.52, min_dev 0.375, every
token that deviates enough, each counted once per message, Fisher's chi-square both ways); the
first row checks the reimplementation against bogofilter itself on the same splits. The rows after
it leave out the tokens bogolexer tags `rcvd:` (the Received fields), `head:` (every header field
it has no tag of its own for: Delivered-To, Date, Message-ID, X-*, the MIME fields, ...), both, or
every tagged token (the body alone). About a minute.
"""
import collections
import hashlib
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generalise import FOLDERS, SEEDS, one_minus_roca_percent  # noqa: E402

ROBS, ROBX, MIN_DEV = 0.0178, 0.52, 0.375


def chi2q(x2, dof):
    """Upper tail of the chi-square distribution for even `dof` (bogofilter's prbf).

    >>> round(chi2q(4.0, 2), 6) == round(math.exp(-2.0), 6)
    True
    """
    m = x2 / 2.0
    term = total = math.exp(-m)
    for i in range(1, dof // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def spamicity(counts, n_ham, n_spam, tokens):
    """bogofilter's score of a message's (distinct) tokens given per-token (ham, spam) counts."""
    fs = []
    for t in tokens:
        good, bad = counts.get(t, (0, 0))
        n = good + bad
        if n == 0:
            f = ROBX
        else:
            p = (bad / n_spam) / ((bad / n_spam) + (good / n_ham))
            f = (ROBS * ROBX + n * p) / (ROBS + n)
        if abs(f - 0.5) >= MIN_DEV:
            fs.append(f)
    if not fs:
        return 0.5
    ham_test = chi2q(-2.0 * sum(math.log(f) for f in fs), 2 * len(fs))
    spam_test = chi2q(-2.0 * sum(math.log(1.0 - f) for f in fs), 2 * len(fs))
    return (1.0 + ham_test - spam_test) / 2.0


def split(msgs, seed):
    train, test = [], []
    for cls in (False, True):
        ordered = sorted((m for m in msgs if m[1] == cls), key=lambda m: hashlib.sha1(f"{seed}:{m[0]}".encode()).hexdigest())
        half = len(ordered) // 2
        train += ordered[:half]
        test += ordered[half:]
    return train, test


def ranking(msgs, tokens, seed, keep):
    train, test = split(msgs, seed)
    counts = collections.defaultdict(lambda: [0, 0])
    n = [0, 0]
    for rel, spam in train:
        n[spam] += 1
        for t in {t for t in tokens[rel] if keep(t)}:
            counts[t][spam] += 1
    counts = {t: tuple(c) for t, c in counts.items()}
    return one_minus_roca_percent(
        [(spamicity(counts, n[0], n[1], {t for t in tokens[rel] if keep(t)}), spam) for rel, spam in test]
    )


def bogofilter_itself(data, msgs, seed):
    train, test = split(msgs, seed)
    with tempfile.TemporaryDirectory() as db:
        for flag, cls in (("-n", False), ("-s", True)):
            files = [os.path.join(data, rel) for rel, spam in train if spam == cls]
            subprocess.run(["bogofilter", "-C", "-d", db, flag, "-B", *files], check=True, capture_output=True)
        r = subprocess.run(["bogofilter", "-C", "-d", db, "-TT", "-B", *[os.path.join(data, rel) for rel, _ in test]],
                           capture_output=True, text=True)
        score = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in r.stdout.splitlines()}
    return one_minus_roca_percent([(score[os.path.join(data, rel)], spam) for rel, spam in test])


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "corpus/package/data"
    msgs = [(f"{folder}/{name}", spam) for folder, spam in FOLDERS.items()
            for name in sorted(os.listdir(os.path.join(data, folder))) if name.endswith(".txt")]

    def lex(rel):
        with open(os.path.join(data, rel), "rb") as f:
            out = subprocess.run(["bogolexer", "-C", "-p"], stdin=f, capture_output=True, check=True).stdout
        return rel, [t for t in out.decode("utf-8", "replace").split("\n") if t]

    with ThreadPoolExecutor(4) as ex:
        tokens = dict(ex.map(lex, [rel for rel, _ in msgs]))
    rows = [
        ("bogofilter itself (`bogofilter -C`)", None),
        ("reimplemented, every token", lambda t: True),
        ("without `rcvd:` (Received)", lambda t: not t.startswith("rcvd:")),
        ("without `head:` (the other header fields)", lambda t: not t.startswith("head:")),
        ("without `rcvd:` and `head:`", lambda t: not t.startswith(("rcvd:", "head:"))),
        ("the body alone (no token that starts `word:`)", lambda t: not re.match(r"^[a-z]+:", t)),
    ]
    print("| tokens | 1-ROCA %, mean of 5 | seeds 1-5 |")
    print("| --- | --- | --- |")
    for label, keep in rows:
        if keep is None:
            r = [bogofilter_itself(data, msgs, s) for s in SEEDS]
        else:
            r = [ranking(msgs, tokens, s, keep) for s in SEEDS]
        print(f"| {label} | {statistics.mean(r):.4f} | {' / '.join(f'{x:.4f}' for x in r)} |", flush=True)


if __name__ == "__main__":
    main()
