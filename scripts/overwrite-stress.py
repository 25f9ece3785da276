#!/usr/bin/env python3
"""Deliveries while tokens.db is overwritten in place (issue 15, item 2).

    scripts/overwrite-stress.py [--spamfilt PATH] [--runs 1000] [--parallel 4]

Trains a database on the corpus's easy-ham-1 and spam-1 folders, keeps a copy of it, and then
runs RUNS deliveries (`spamfilt` as a pipe filter, PARALLEL at a time, messages from
easy-ham-2 and spam-2 in turn) while another process overwrites tokens.db in place in a loop,
the ways a user would restore a backup: `cp backup tokens.db` (truncate, then write),
`rsync --inplace` when installed, and `truncate -s 0` followed by `cp`. Each delivery must exit
0 without a signal, and its output must be the input, or the input with X-Spam-* fields added
to the header block and nothing else changed. Prints one line of counts; exit 1 on any failure.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def strip_ours(msg: bytes) -> bytes:
    out, in_header, skipping = [], True, False
    for i, line in enumerate(msg.splitlines(keepends=True)):
        if in_header:
            if i == 0 and line.startswith(b"From "):
                out.append(line)
                continue
            if line in (b"\n", b"\r\n"):
                in_header, skipping = False, False
            elif line[:1] in (b" ", b"\t"):
                if skipping:
                    continue
            else:
                skipping = line[:7].lower() == b"x-spam-"
                if skipping:
                    continue
        out.append(line)
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spamfilt", default=os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release/spamfilt"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus/package/data"))
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--parallel", type=int, default=4)
    args = ap.parse_args()
    sf = os.path.abspath(args.spamfilt)
    tmp = tempfile.mkdtemp(prefix="spamfilt-overwrite-")
    db = os.path.join(tmp, "db")
    cfg = os.path.join(tmp, "empty.toml")
    open(cfg, "w").close()
    base = [sf, "--config", cfg, "--db", db]
    subprocess.run([*base, "-q", "train", "--no-progress", "--ham", os.path.join(args.corpus, "easy-ham-1"),
                    "--spam", os.path.join(args.corpus, "spam-1")], check=True)
    tokens = os.path.join(db, "tokens.db")
    backup = os.path.join(tmp, "backup.db")
    shutil.copyfile(tokens, backup)
    msgs = sorted(glob.glob(os.path.join(args.corpus, "easy-ham-2", "*.txt"))) + sorted(glob.glob(os.path.join(args.corpus, "spam-2", "*.txt")))
    msgs = [open(p, "rb").read() for p in msgs[:: max(1, len(msgs) // 400)]]
    stop = threading.Event()
    overwrites = {"cp": 0, "rsync --inplace": 0, "truncate + cp": 0}
    rsync = shutil.which("rsync")

    def overwrite():
        i = 0
        while not stop.is_set():
            kind = ["cp", "rsync --inplace", "truncate + cp"][i % 3]
            i += 1
            if kind == "cp":
                subprocess.run(["cp", backup, tokens])
            elif kind == "rsync --inplace":
                if not rsync:
                    continue
                # A different-looking file of the same name first, so rsync really rewrites it.
                subprocess.run([rsync, "--inplace", "--no-whole-file", "-I", backup, tokens])
            else:
                subprocess.run(["truncate", "-s", "0", tokens])
                subprocess.run(["cp", backup, tokens])
            overwrites[kind] += 1

    results = {"ok_scored": 0, "ok_passed_through": 0, "sigbus_passed_through": 0, "signal_deaths": 0,
               "bad_status": 0, "changed": 0}
    lock = threading.Lock()

    def deliver(n):
        msg = msgs[n % len(msgs)]
        r = subprocess.run(base, input=msg, capture_output=True)
        with lock:
            if r.returncode < 0:
                results["signal_deaths"] += 1
                print(f"delivery {n}: killed by signal {-r.returncode}", file=sys.stderr)
            elif r.returncode != 0:
                results["bad_status"] += 1
                print(f"delivery {n}: exit {r.returncode}: {r.stderr[:300]!r}", file=sys.stderr)
            elif r.stdout == msg:
                key = "sigbus_passed_through" if b"SIGBUS" in r.stderr else "ok_passed_through"
                results[key] += 1
            elif strip_ours(r.stdout) == strip_ours(msg) and b"X-Spam-Status: " in r.stdout:
                results["ok_scored"] += 1
            else:
                results["changed"] += 1
                print(f"delivery {n}: output changed", file=sys.stderr)

    t = threading.Thread(target=overwrite)
    t.start()
    try:
        with ThreadPoolExecutor(args.parallel) as ex:
            list(ex.map(deliver, range(args.runs)))
    finally:
        stop.set()
        t.join()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.runs} deliveries ({args.parallel} at a time) with {sf}; tokens.db overwritten in place "
          + ", ".join(f"{v}x by {k}" for k, v in overwrites.items()) + " meanwhile")
    print("  " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in results.items()))
    bad = results["signal_deaths"] + results["bad_status"] + results["changed"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
