#!/usr/bin/env python3
"""A learned-sender signal measured on fusion_dump's splits (docs/benchmarks.md, "Learned senders").

    R_HITS=1 F_SEEDS=5 cargo run --release --example fusion_dump -- corpus/package/data parts.tsv
    cargo run --release --example sender_keys -- corpus/package/data > keys.tsv
    scripts/learned-sender.py parts.tsv keys.tsv [--keys K1,K2] [--weights 0,1,2,3]

For every split of the rows (R_HITS=1: each names its message's file and run) the training set is
rebuilt (year: the 2002 folders, reverse: the 2003 ones, time: every dated message not tested,
randomS and each fold10 run: every message not tested; the learning curve is left out), and for
each key choice the ham and spam learned with each key are counted. A test message whose key was
learned as ham gets the part `-points x weight(ham, spam)`; the fused score is scripts/fusion.py's
plus that part. Printed per split: how many test ham and spam had a key learned as ham (and only
as ham), how many of the ham at or above 5.0 and of the spam below the top ham's score it touches,
and 1-ROCA %, spam caught at 0.1% FP, FP and FN at 5.0 and hard-ham-1 at 5.0 at each weight.

Key choices (`-` in any part: the message has no key):
  addr      the From address alone (no tie to the way it came: the forgery case)
  addr24    From address + the first untrusted relay's /24 (IPv6: /48)
  addr16    From address + the relay's /16 (SpamAssassin AWL's default mask)
  addrorg   From address + the relay's reverse name's registrable domain (its /24 without one)
  dom24     From address's registrable domain + relay /24
  domorg    From domain + relay's rDNS registrable domain (its /24 without one)
The user's own addresses (a From equal to an address the message was delivered to, as
`lists::delivered_to` reads them) are never a key.
"""
import argparse
import collections
import importlib.util
import ipaddress
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from generalise import one_minus_roca_percent, recall_at_fp_rate  # noqa: E402

_spec = importlib.util.spec_from_file_location("fusion", os.path.join(HERE, "fusion.py"))
fusion = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fusion)

COLS = "folder name date from from_domain relay rdns helo return_path list_id dkim via_list delivered".split()


def block(ip, v4, v6):
    a = ipaddress.ip_address(ip)
    n = ipaddress.ip_network(f"{ip}/{v4 if a.version == 4 else v6}", strict=False)
    return str(n)


def registrable(host):
    """A crude registrable domain (the last two labels, three under a two-letter country code's
    second-level like co.uk) for reverse names; the From domain comes already reduced."""
    labels = host.rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "net", "org", "ac", "edu", "gov", "ne", "or"):
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def key(kind, k):
    f, d, ip, rdns = k["from"], k["from_domain"], k["relay"], k["rdns"]
    if f == "-" or (k["delivered"] != "-" and f in k["delivered"].split(",")):
        return None
    if kind == "addr":
        return f
    if ip == "-":
        return None
    org = registrable(rdns) if rdns not in ("-", "!", "?") else block(ip, 24, 48)
    if kind == "addr24":
        return (f, block(ip, 24, 48))
    if kind == "addr16":
        return (f, block(ip, 16, 32))
    if kind == "addrorg":
        return (f, org)
    if kind == "dom24":
        return (d, block(ip, 24, 48))
    if kind == "domorg":
        return (d, org)
    raise SystemExit(f"unknown key {kind}")


def weight(ham, spam, form):
    """How much of the part's points a key learned `ham` times as ham and `spam` as spam earns:
    nothing once any spam was learned with it."""
    if ham <= 0 or spam > 0:
        return 0.0
    if form == "any":  # all of it from the first ham
        return 1.0
    if form == "sat":  # ham / (ham + 1): half at 1, two thirds at 2, 0.8 at 4
        return ham / (ham + 1.0)
    if form == "log":  # log2(1 + ham) / 3, at most 1 (full from 7 ham)
        return min(math.log2(1 + ham) / 3.0, 1.0)
    raise SystemExit(f"unknown form {form}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tsv")
    ap.add_argument("keys")
    ap.add_argument("--keys", default="addr,addr24,addr16,addrorg,dom24,domorg", dest="kinds")
    ap.add_argument("--weights", default="0,1,2,3,5")
    ap.add_argument("--form", default="sat", help="any, sat or log (see weight())")
    ap.add_argument("--splits", default="")
    a = ap.parse_args()
    keys = {}
    with open(a.keys) as f:
        for line in f:
            k = dict(zip(COLS, line.rstrip("\n").split("\t")))
            keys[(k["folder"], k["name"])] = k
    learned = fusion.learned_counts(a.tsv)
    rows = collections.defaultdict(list)  # split -> [(run, folder, name, spam, rules, bayes, lr)]
    with open(a.tsv) as f:
        for line in f:
            c = line.rstrip("\n").split("\t")
            if c[0].endswith(".inner") or c[0].startswith("curve"):
                continue
            if a.splits and c[0] not in a.splits.split(","):
                continue
            rows[c[0]].append((c[6], c[1], c[7], c[2] == "1", float(c[3]), float(c[4]), float(c[5])))
    every = list(keys)
    spam_of = lambda fk: fk[0].startswith("spam")  # noqa: E731
    kinds = a.kinds.split(",")
    weights = [float(w) for w in a.weights.split(",")]
    summary = collections.defaultdict(dict)
    for split, rs in rows.items():
        n = learned.get(split, 200)
        voice = min(n / 200.0, 1.0)
        runs = collections.defaultdict(list)
        for r in rs:
            runs[r[0]].append(r)
        apart = split in ("year", "reverse")
        for kind in kinds:
            scored = []  # (folder, spam, shipped, ham_count, spam_count)
            for run, test in runs.items():
                tested = {(r[1], r[2]) for r in test}
                if split == "year":
                    train = [m for m in every if m[0] in ("easy-ham-1", "spam-1")]
                elif split == "reverse":
                    train = [m for m in every if m[0] in ("easy-ham-2", "spam-2")]
                elif split == "time":
                    train = [m for m in every if keys[m]["date"] != "0" and m not in tested]
                else:
                    train = [m for m in every if m not in tested]
                counts = collections.defaultdict(lambda: [0, 0])
                ham_ips = collections.defaultdict(set)  # the relays the ham of each key came by
                for m in train:
                    kk = key(kind, keys[m])
                    if kk is not None:
                        counts[kk][spam_of(m)] += 1
                        if not spam_of(m):
                            ham_ips[kk].add(keys[m]["relay"])
                for _, folder, name, spam, rules, bayes, lr in test:
                    kk = key(kind, keys[(folder, name)])
                    h, s = counts[kk] if kk is not None and kk in counts else (0, 0)
                    if spam and weight(h, s, a.form) > 0:
                        k = keys[(folder, name)]
                        same = k["relay"] in ham_ips[kk]
                        print(
                            f"#spam-with-ham-evidence\t{split}\t{run}\t{kind}\t{folder}/{name}\t{kk}\tham {h}"
                            f"\trelay {k['relay']} {'same relay as a ham' if same else 'OTHER RELAY'}"
                            f"\tlist {k['list_id']}\tshipped {rules:.1f}/{bayes:.1f}/{lr:.1f}"
                        )
                    shipped = (
                        rules
                        + fusion.points(bayes, 4.0, 8.0 if bayes >= 0 else 2.0)
                        + voice * (fusion.points(lr, 1.0, 1.0) if lr >= 0 else fusion.points(lr, 1.0, 8.0))
                    )
                    scored.append((folder, spam, shipped, h, s))
            main_rows = [x for x in scored if not (apart and x[0] == "hard-ham-1")]
            ham = [x for x in main_rows if not x[1]]
            spm = [x for x in main_rows if x[1]]
            hard = [x for x in scored if x[0] == "hard-ham-1"]
            top_ham = sorted((x[2] for x in ham), reverse=True)
            bound = top_ham[math.floor(0.001 * len(ham))] if ham else 0
            fp = [x for x in ham if x[2] >= 5.0]
            top10 = sorted(ham, key=lambda x: -x[2])[:10]
            low_spam = [x for x in spm if x[2] <= bound]
            with_ham = lambda xs: sum(1 for x in xs if x[3] > 0)  # noqa: E731
            only_ham = lambda xs: sum(1 for x in xs if x[3] > 0 and x[4] == 0)  # noqa: E731
            print(
                f"{split}\t{kind}\tham {with_ham(ham)}/{len(ham)} (only ham {only_ham(ham)})"
                f"\tspam {with_ham(spm)}/{len(spm)} (only ham {only_ham(spm)}, weight>0 {sum(1 for x in spm if weight(x[3], x[4], a.form) > 0)})"
                f"\ttop-10 ham touched {with_ham(top10)}\tFP@5 touched {with_ham(fp)}/{len(fp)}\tspam<=top-0.1%-ham touched {with_ham(low_spam)}/{len(low_spam)}"
                + (f"\thard {with_ham(hard)}/{len(hard)}" if hard else "")
            )
            for wt in weights:
                fused = [(x[0], x[1], x[2] - wt * weight(x[3], x[4], a.form)) for x in scored]
                test = [(sc, sp) for fo, sp, sc in fused if not (apart and fo == "hard-ham-1")]
                fpn = sum(1 for sc, sp in test if not sp and sc >= 5.0)
                fnn = sum(1 for sc, sp in test if sp and sc < 5.0)
                hardn = sum(1 for fo, sp, sc in fused if fo == "hard-ham-1" and sc >= 5.0)
                roca = one_minus_roca_percent(test)
                summary[(kind, wt)][split] = (roca, fpn, hardn)
                print(
                    f"{split}\t{kind}\tw={wt:g}\t{roca:.4f}\t{100 * recall_at_fp_rate(test, 0.001):.2f}%"
                    f"\tFP {fpn}\tFN {fnn}" + (f"\thard {hardn}" if apart else ""),
                    flush=True,
                )
    print("\nsummary: key, points: 1-ROCA per split (FP at 5.0; hard ham)")
    for (kind, wt), per in summary.items():
        base = summary[(kind, weights[0])]
        ratios = [per[s][0] / base[s][0] for s in per if base[s][0] > 0]
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else 1.0
        cells = " ".join(f"{s}={v[0]:.4f}({v[1]};{v[2]})" for s, v in per.items())
        print(f"{kind}\t{wt:g}\tgeo-mean ratio {gm:.3f}\t{cells}")


if __name__ == "__main__":
    main()
