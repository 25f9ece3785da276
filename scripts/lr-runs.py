#!/usr/bin/env python3
"""How LR's model depends on how training is split into runs, with the real binary.

    scripts/lr-runs.py --spamfilt target/x86_64-unknown-linux-gnu/release/spamfilt [--corpus corpus/package/data]

Users train in runs of one class: the README's Quick start trained the Sent folder, then the Junk
folder; the nightly `purge` learns spam only; IMAPSieve learns one message at a time. Each
scenario trains a fresh database through `spamfilt train` (one process per run, as a user
would) and scores the same held-out mail with `spamfilt check --json` after the steps marked:

- training mail: easy-ham-1's first 2,000 files (sorted by name) as ham, spam-1 (500) as spam;
- the "nightly" batches: spam-2's first 500 files in 5 batches of 100 (a `purge`), easy-ham-1's
  last 500 in 5 batches of 100, spam-2's files 501-550 one process each (IMAPSieve);
- held-out: easy-ham-2 (1,400 ham), spam-2 from the 501st file (896 spam), hard-ham-1 (250 ham
  unlike any trained, scored apart).

Scenarios: `one` (one run, both classes), `ham-spam` (a ham run, then a spam run: the old Quick
start), `spam-ham`, `nightly` (one run, then the spam batches, then the ham batches), `single`
(one run, then 50 spam learned one message per process).

Printed per state: held-out ham at or above 5.0, spam caught at 5.0, hard ham at 5.0, 1-ROCA %
of LR alone and of the fused score (easy-ham-2 against the held-out spam; LR's log-odds from the
probability `check --json` prints, spam above 36 log-odds tie), the share of ham at LR_00 and of
spam at LR_99 or LR_999, and the LR bands of all held-out ham and spam. `--md` prints the table
rows as markdown. The metrics are generalise.py's.
"""
import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generalise import one_minus_roca_percent  # noqa: E402

BANDS = ["LR_00", "LR_05", "LR_20", "LR_40", "LR_50", "LR_60", "LR_80", "LR_95", "LR_99", "LR_999"]


def files(corpus, folder):
    d = os.path.join(corpus, folder)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".txt"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spamfilt", required=True)
    ap.add_argument("--corpus", default="corpus/package/data")
    ap.add_argument("--scenarios", default="one,ham-spam,spam-ham,nightly,single")
    ap.add_argument("--label", default="", help="a name for the binary in the table")
    ap.add_argument("--md", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lr-runs-")
    try:
        run_all(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_all(a, work):
    binary = os.path.abspath(a.spamfilt)
    ham1 = files(a.corpus, "easy-ham-1")
    spam1 = files(a.corpus, "spam-1")
    spam2 = files(a.corpus, "spam-2")
    test_ham = files(a.corpus, "easy-ham-2")
    test_spam = spam2[500:]
    hard = files(a.corpus, "hard-ham-1")
    base_ham, extra_ham = ham1[:2000], ham1[2000:]
    spam_batches = [spam2[i * 100:(i + 1) * 100] for i in range(5)]
    ham_batches = [extra_ham[i * 100:(i + 1) * 100] for i in range(5)]
    singles = spam2[:50]  # the first purge batch's mail, learned one message at a time
    cfg = os.path.join(work, "config.toml")
    open(cfg, "w").close()
    env = dict(os.environ, SPAMFILT_CONFIG=cfg, SPAMFILT_SITE_CONFIG="", HOME=work)

    def listfile(name, paths):
        p = os.path.join(work, name + ".lst")
        with open(p, "w") as f:
            f.write("".join(x + "\n" for x in paths))
        return "@" + p

    test_list = listfile("test", test_ham + test_spam + hard)
    kind = {p: "ham" for p in test_ham}
    kind.update({p: "spam" for p in test_spam})
    kind.update({p: "hard" for p in hard})

    def run(db, *args):
        cmd = ["nice", binary, "--db", db, "-q"] + list(args)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode not in (0, 1):
            sys.exit(f"{' '.join(cmd[:6])}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    def train(db, ham=(), spam=(), name="x"):
        args = ["train", "--no-progress"]
        if ham:
            args += ["--ham", listfile(name + "-h", ham)]
        if spam:
            args += ["--spam", listfile(name + "-s", spam)]
        run(db, *args)

    def measure(db):
        # The same database without LR's points: what the rest of the score flags.
        no_lr = {}
        for line in run(db, "check", "--json", "--no-lr", test_list).splitlines():
            j = json.loads(line)
            no_lr[j["path"]] = j["score"]
        rows = collections.defaultdict(list)
        for line in run(db, "check", "--json", test_list).splitlines():
            j = json.loads(line)
            p = j.get("lr")
            if p is None:
                lg = 0.0
            elif p >= 1.0:
                lg = 40.0
            elif p <= 0.0:
                lg = -800.0
            else:
                lg = math.log(p) - math.log1p(-p)
            band = next((t for t in j["tests"] if t.startswith("LR_")), "none")
            rows[kind[j["path"]]].append((j["score"], lg, band))
        ham, spam, hard_ = rows["ham"], rows["spam"], rows["hard"]
        out = {
            "ham_flagged": sum(s >= 5.0 for s, _, _ in ham),
            "n_ham": len(ham),
            "spam_caught": sum(s >= 5.0 for s, _, _ in spam),
            "n_spam": len(spam),
            "hard_flagged": sum(s >= 5.0 for s, _, _ in hard_),
            "n_hard": len(hard_),
            "hard_flagged_no_lr": sum(no_lr[p] >= 5.0 for p in hard),
            "spam_caught_no_lr": sum(no_lr[p] >= 5.0 for p in test_spam),
            "roca_lr": one_minus_roca_percent([(l, False) for _, l, _ in ham] + [(l, True) for _, l, _ in spam]),
            "roca_fused": one_minus_roca_percent([(s, False) for s, _, _ in ham] + [(s, True) for s, _, _ in spam]),
            "ham_bands": collections.Counter(b for _, _, b in ham),
            "spam_bands": collections.Counter(b for _, _, b in spam),
            "hard_bands": collections.Counter(b for _, _, b in hard_),
        }
        return out

    scenarios = {
        "one": [("one run --ham 2000 --spam 500", dict(ham=base_ham, spam=spam1), True)],
        "ham-spam": [
            ("ham run (2000)", dict(ham=base_ham), False),
            ("ham run, then spam run (500)", dict(spam=spam1), True),
        ],
        "spam-ham": [
            ("spam run (500)", dict(spam=spam1), False),
            ("spam run, then ham run (2000)", dict(ham=base_ham), True),
        ],
        "nightly": [("one run", dict(ham=base_ham, spam=spam1), False)]
        + [(f"one run + {i + 1} spam batch(es) of 100", dict(spam=b), i in (0, 4)) for i, b in enumerate(spam_batches)]
        + [(f"... + {i + 1} ham batch(es) of 100", dict(ham=b), i == 4) for i, b in enumerate(ham_batches)],
        "single": [("one run", dict(ham=base_ham, spam=spam1), False)]
        + [("one run + 50 spam, one per process", dict(spam=[m]), i == len(singles) - 1) for i, m in enumerate(singles)],
    }
    for name in a.scenarios.split(","):
        db = tempfile.mkdtemp(prefix=name + "-", dir=work)
        for i, (label, kw, show) in enumerate(scenarios[name]):
            train(db, name=f"{name}{i}", **kw)
            if not show:
                continue
            m = measure(db)
            hb, sb = m["ham_bands"], m["spam_bands"]
            ham00 = 100.0 * hb["LR_00"] / max(1, m["n_ham"])
            spam99 = 100.0 * (sb["LR_99"] + sb["LR_999"]) / max(1, m["n_spam"])
            if a.md:
                print(
                    f"| {label} | {a.label} | {m['ham_flagged']} | {m['spam_caught']} ({m['spam_caught_no_lr']}) | "
                    f"{m['hard_flagged']} ({m['hard_flagged_no_lr']}) | "
                    f"{m['roca_lr']:.4f} | {m['roca_fused']:.4f} | {ham00:.0f}% | {spam99:.0f}% |"
                )
            else:
                print(
                    f"{name}\t{label}\tham flagged {m['ham_flagged']}/{m['n_ham']}\tspam caught {m['spam_caught']}/{m['n_spam']}"
                    f"\thard flagged {m['hard_flagged']}/{m['n_hard']} (no LR: spam {m['spam_caught_no_lr']}, hard {m['hard_flagged_no_lr']})\t1-ROCA LR {m['roca_lr']:.4f}\tfused {m['roca_fused']:.4f}"
                    f"\tham LR_00 {ham00:.0f}%\tspam LR_99+ {spam99:.0f}%"
                )
                for k in ("ham_bands", "spam_bands", "hard_bands"):
                    print("\t" + k + " " + " ".join(f"{b}:{m[k][b]}" for b in BANDS + ["none"] if m[k][b]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
