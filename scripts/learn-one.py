#!/usr/bin/env python3
"""Learning ONE message into a large database: wall time and peak RSS, one binary against another.

    scripts/learn-one.py --spamfilt NEW [--baseline OLD] [--ips 300000] [--tokens 0] [--rounds 3]
                         [--vsz-limit 262144] [--corpus DIR] [--keep DIR]

With --keep DIR the database is built in DIR/template and kept; a DIR/template that exists is used as it is (a
database of your own: put it in DIR/template/.local/share/spamfilt, e.g. with `HOME=DIR/template spamfilt db load
DUMP`).

What it builds (attack report F6; docs/benchmarks.md): a database trained on 200 ham (easy-ham-1) and 200 spam
(spam-1) of the corpus with the first binary given, dumped (`db dump`), with IPS generated `ip` lines
(10.x.y.z, seen now, one spam each) and TOKENS random `token` lines added and the end line's counts fixed, then
loaded (`db load`) into a template directory. Each round copies the template afresh for each binary, alternating
them, and runs what Dovecot's IMAPSieve learn runs, `HOME=COPY spamfilt -q train --spam - < spam-2/00122...`,
under GNU time (wall, user CPU, peak RSS), and once more under `ulimit -v VSZ_LIMIT` (KiB; Dovecot's default
vsz_limit is 256 MiB) to say whether it learned. The median of the rounds is printed per binary, with what
`reputation.db` and `tokens.db` weigh. Needs GNU time (/usr/bin/time).

That a one-message learn's memory does not grow with the database is a measurement, not a test: run it with two
sizes (--ips 30000, --ips 300000) and compare.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_template(binary, corpus, ips, tokens, where):
    home = os.path.join(where, "seed")
    os.makedirs(home)
    env = dict(os.environ, HOME=home)
    env.pop("SPAMFILT_DB", None)
    ham = sorted(f for f in os.listdir(os.path.join(corpus, "easy-ham-1")) if f.endswith(".txt"))[:200]
    spam = sorted(f for f in os.listdir(os.path.join(corpus, "spam-1")) if f.endswith(".txt"))[:200]
    cmd = [binary, "-q", "train", "--no-progress", "--ham"] + [os.path.join(corpus, "easy-ham-1", f) for f in ham]
    cmd += ["--spam"] + [os.path.join(corpus, "spam-1", f) for f in spam]
    subprocess.run(cmd, env=env, check=True)
    dump = os.path.join(where, "seed.txt")
    subprocess.run([binary, "-q", "db", "dump", dump], env=env, check=True)
    lines = open(dump).read().splitlines()
    assert lines[-1].startswith("end "), "a version 3 or later dump ends with its end line"
    counts = dict(kv.split("=") for kv in lines[-1].split()[1:])
    body = lines[:-1]
    rng = random.Random(7)
    now = int(time.time())
    out = []
    for line in body:
        out.append(line)
        if line == "[reputation]":
            for i in range(ips):
                out.append(f"ip 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255} {now} {now} {now} 1 0 0 -")
    if tokens:
        # Token lines must be sorted by hash with no duplicates: merge the generated ones in.
        start = out.index("[tokens]") + 1
        end = next(i for i in range(start, len(out)) if out[i].startswith("["))
        section_lines = out[start:end]
        kept = [l for l in section_lines if not l.startswith("token ")]
        toks = {l.split()[1]: l for l in section_lines if l.startswith("token ")}
        day = now // 86400
        while len(toks) < tokens + sum(1 for l in section_lines if l.startswith("token ")):
            h = f"{rng.getrandbits(64):016x}"
            toks.setdefault(h, f"token {h} 1 1 {day}")
        ordered = [toks[h] for h in sorted(toks)]
        messages = [l for l in kept if l.startswith("messages ")]
        others = [l for l in kept if not l.startswith("messages ")]
        out[start:end] = messages + ordered + others
        counts["tokens"] = str(counts_of(out, "[tokens]"))
    counts["reputation"] = str(counts_of(out, "[reputation]"))
    out.append("end " + " ".join(f"{k}={v}" for k, v in counts.items()))
    big = os.path.join(where, "big.txt")
    with open(big, "w") as f:
        f.write("\n".join(out) + "\n")
    template = os.path.join(where, "template")
    os.makedirs(template)
    subprocess.run([binary, "-q", "db", "load", big], env=dict(env, HOME=template), check=True)
    os.remove(dump)
    return template


def counts_of(lines, name):
    n, inside = 0, False
    for l in lines:
        if l.startswith("["):
            inside = l == name
            continue
        if inside and l and not l.startswith("#"):
            n += 1
    return n


def learn(binary, template, message, where, limit=None):
    home = os.path.join(where, "run")
    if os.path.exists(home):
        shutil.rmtree(home)
    shutil.copytree(template, home, symlinks=True)
    env = dict(os.environ, HOME=home)
    env.pop("SPAMFILT_DB", None)
    env.pop("RUST_BACKTRACE", None)
    if limit:
        cmd = ["sh", "-c", f'ulimit -v {limit}; exec "$0" -q train --spam -', binary]
        with open(message, "rb") as m:
            p = subprocess.run(cmd, env=env, stdin=m, capture_output=True)
        return p.returncode, p.stderr.decode(errors="replace").strip()
    cmd = ["/usr/bin/time", "-f", "%e %U %M", binary, "-q", "train", "--spam", "-"]
    with open(message, "rb") as m:
        p = subprocess.run(cmd, env=env, stdin=m, capture_output=True, check=True)
    wall, user, rss = p.stderr.decode().strip().splitlines()[-1].split()
    return float(wall), float(user), int(rss) / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spamfilt", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--ips", type=int, default=300_000)
    ap.add_argument("--tokens", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--vsz-limit", type=int, default=262_144)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus", "package", "data"))
    ap.add_argument("--keep", help="build the template here and keep it")
    a = ap.parse_args()
    bins = {"new": os.path.abspath(a.spamfilt)}
    if a.baseline:
        bins["old"] = os.path.abspath(a.baseline)
    where = a.keep or tempfile.mkdtemp(prefix="learn-one-")
    os.makedirs(where, exist_ok=True)
    template = os.path.join(where, "template")
    if os.path.exists(template):
        made = f"the database in {template} (HOME)"
    else:
        # The baseline builds it when there is one: the older binary writes what both read.
        template = build_template(bins.get("old", bins["new"]), a.corpus, a.ips, a.tokens, where)
        made = f"200 ham + 200 spam learned, {a.ips} IP records and {a.tokens} tokens added"
    db = os.path.join(template, ".local", "share", "spamfilt")
    sizes = {f: os.path.getsize(os.path.join(db, f)) for f in ("tokens.db", "reputation.db") if os.path.exists(os.path.join(db, f))}
    message = os.path.join(a.corpus, "spam-2", sorted(f for f in os.listdir(os.path.join(a.corpus, "spam-2")) if f.endswith(".txt"))[121])
    print(f"database: {made}; " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))
    print(f"message: {os.path.relpath(message, a.corpus)}; {a.rounds} rounds, binaries alternating; load {os.getloadavg()[0]:.1f}")
    results = {k: [] for k in bins}
    for r in range(a.rounds):
        for name, b in (list(bins.items()) if r % 2 == 0 else list(bins.items())[::-1]):
            results[name].append(learn(b, template, message, where))
    for name, b in bins.items():
        runs = results[name]
        wall = statistics.median(x[0] for x in runs)
        user = statistics.median(x[1] for x in runs)
        rss = statistics.median(x[2] for x in runs)
        rc, err = learn(b, template, message, where, a.vsz_limit)
        under = "learned" if rc == 0 else f"exit {rc}: {err.splitlines()[-1] if err else ''}"
        print(f"{name} ({b}): wall {wall:.2f} s, user {user:.2f} s, peak RSS {rss:.1f} MB (median of {len(runs)}: "
              + ", ".join(f"{x[0]:.2f} s/{x[2]:.1f} MB" for x in runs) + f"); under ulimit -v {a.vsz_limit}: {under}")
    if not a.keep:
        shutil.rmtree(where)


if __name__ == "__main__":
    sys.exit(main())
