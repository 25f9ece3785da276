#!/usr/bin/env python3
"""Benchmarks `spamfilt policy` (the Postfix policy service) on one core.

    scripts/bench-policy.py [--addresses 1000000] [--requests 20000] [--spamfilt PATH]

Method: a reputation database of N random IPv4 addresses is built as training would
(examples/build_reputation.rs: 1-4 spam each within 20 days, one in ten also ham, one in fifty a
honeypot hit, one in a hundred added by hand), and the same requests are sent, as Postfix sends
them at RCPT time, to one spawn-mode service process (stdin/stdout pipes) pinned to CPU 0 with
taskset, for:

  big         the database of N addresses (1,000,000)
  small       a database of the first 10,000 of the same addresses: the same requests get the
              same answers, so the ratio big/small is what the size of the database costs
  empty       no database at all (nobody is refused; more unknown recipients are counted)
  floor       a config file the service cannot load: it answers DUNNO to everything without
              looking at anything (what the protocol, the pipes and this script cost)

Requests: half from addresses in the database (a sample of 100 of the small one's; most are
refused as spam sources), half from random addresses that are in neither; 9 in 10 to a valid recipient, 1 in 10 to an unknown one (which appends to
that address's harvest count: a file operation); no DNS (the `dns` table is not set). The policy
is in enforce mode with the default checks.

  latency     one request at a time (write it, wait for the answer): median, p90, p99 of the round
              trip as this script sees it, over REQUESTS requests
  throughput  all REQUESTS requests written at once by one thread and the answers read by another
              (Postfix's smtpd processes each keep their own connection; this is one of them at
              full speed): requests per second

The variants run in turn, three rounds, the median of each is reported with the ratio to `small`. Writes a Markdown table to stdout and JSON to bench-results/.
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def host_triple():
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(l.split(": ")[1] for l in out.splitlines() if l.startswith("host: "))


def request(client, rcpt):
    return (
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
        f"client_address={client}\nclient_name=mail.example.test\nreverse_client_name=mail.example.test\n"
        f"helo_name=mail.example.test\nsender=someone@example.test\nrecipient={rcpt}\n"
        "recipient_count=0\nqueue_id=\ninstance=1.2.3\nsize=0\nsasl_method=\nsasl_username=\n\n"
    ).encode()


def make_requests(sample, n, rng):
    out = []
    for i in range(n):
        if i % 2 == 0:
            client = rng.choice(sample)
        else:
            client = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        rcpt = f"user{rng.randint(0, 999)}@mijndomein.test" if rng.random() < 0.9 else f"nobody{i}@mijndomein.test"
        out.append(request(client, rcpt))
    return out


def start(spamfilt, db, config):
    return subprocess.Popen(
        ["taskset", "-c", "0", spamfilt, "--db", db, "--config", config, "policy", "--log", "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=0,
    )


def read_answer(out):
    line = out.readline()
    empty = out.readline()
    assert line.startswith(b"action=") and empty == b"\n", (line, empty)
    return line


def latency(spamfilt, db, config, reqs):
    p = start(spamfilt, db, config)
    out = p.stdout
    times = []
    refused = 0
    for r in reqs:
        t = time.perf_counter_ns()
        p.stdin.write(r)
        a = read_answer(out)
        times.append(time.perf_counter_ns() - t)
        refused += a.startswith(b"action=REJECT") or a.startswith(b"action=DEFER")
    p.stdin.close()
    p.wait()
    times.sort()
    q = lambda f: times[min(len(times) - 1, int(len(times) * f))] / 1000.0
    return {"p50_us": q(0.5), "p90_us": q(0.9), "p99_us": q(0.99), "refused": refused}


def throughput(spamfilt, db, config, reqs):
    p = start(spamfilt, db, config)
    blob = b"".join(reqs)

    def write():
        p.stdin.write(blob)
        p.stdin.close()

    t = time.perf_counter()
    w = threading.Thread(target=write)
    w.start()
    n = 0
    for line in p.stdout:
        if line.startswith(b"action="):
            n += 1
    w.join()
    p.wait()
    elapsed = time.perf_counter() - t
    assert n == len(reqs), (n, len(reqs))
    return {"requests_per_s": len(reqs) / elapsed}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addresses", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--spamfilt")
    args = ap.parse_args()
    if not shutil.which("taskset"):
        sys.exit("needs taskset (util-linux)")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "spamfilt", "--example", "build_reputation"], cwd=ROOT, check=True)
    release = os.path.join(ROOT, "target", host_triple(), "release")
    spamfilt = args.spamfilt or os.path.join(release, "spamfilt")
    work = tempfile.mkdtemp(prefix="bench-policy-")
    try:
        db_full = os.path.join(work, "db-full")
        db_small = os.path.join(work, "db-small")
        db_empty = os.path.join(work, "db-empty")
        os.makedirs(db_empty, mode=0o700)
        build = os.path.join(release, "examples", "build_reputation")
        # The generator is deterministic: the small database's addresses are the first of the
        # big one's, so the sample (taken from the small one) is in both and both answer alike.
        sample = subprocess.run([build, db_small, str(args.small)], capture_output=True, text=True, check=True).stdout.split()
        t = time.perf_counter()
        subprocess.run([build, db_full, str(args.addresses)], capture_output=True, check=True)
        build_s = time.perf_counter() - t
        db_size = os.path.getsize(os.path.join(db_full, "reputation.db"))
        conf = os.path.join(work, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "valid-rcpt.txt"), "w") as f:
            f.writelines(f"user{i}@mijndomein.test\n" for i in range(1000))
        config = os.path.join(conf, "config.toml")
        with open(config, "w") as f:
            f.write('honeypots = ["oud@mijndomein.test"]\n[policy]\nmode = "enforce"\nrecipients = "valid-rcpt.txt"\n')
        broken = os.path.join(conf, "broken.toml")
        with open(broken, "w") as f:
            f.write("[policy]\nno_such_key = 1\n")
        rng = random.Random(1)
        reqs = make_requests(sample, args.requests, rng)
        variants = [
            ("big", db_full, config),
            ("small", db_small, config),
            ("empty", db_empty, config),
            ("floor", db_empty, broken),
        ]
        results = {name: {"latency": [], "throughput": []} for name, _, _ in variants}
        for _ in range(args.rounds):
            for name, db, cfg in variants:
                # Fresh harvest counts each time: every variant sees the same requests the same way.
                shutil.rmtree(os.path.join(db, "policy"), ignore_errors=True)
                results[name]["latency"].append(latency(spamfilt, db, cfg, reqs))
                shutil.rmtree(os.path.join(db, "policy"), ignore_errors=True)
                results[name]["throughput"].append(throughput(spamfilt, db, cfg, reqs))
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        summary = {}
        for name, _, _ in variants:
            r = results[name]
            summary[name] = {
                "p50_us": med(r["latency"], "p50_us"),
                "p90_us": med(r["latency"], "p90_us"),
                "p99_us": med(r["latency"], "p99_us"),
                "requests_per_s": med(r["throughput"], "requests_per_s"),
                "refused": r["latency"][0]["refused"],
            }
        e = summary["small"]
        print(f"spamfilt policy, one core (taskset -c 0), {args.requests} requests, {args.rounds} rounds, medians")
        print(f"reputation database: {args.addresses} addresses, {db_size / 1e6:.1f} MB, built in {build_s:.1f} s\n")
        print(f"big: {args.addresses} addresses; small: {args.small}, the first of the same sequence\n")
        print("| variant | requests/s | vs small | latency p50 | p90 | p99 | refused |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, _, _ in variants:
            s = summary[name]
            print(
                f"| {name} | {s['requests_per_s']:.0f} | {s['requests_per_s'] / e['requests_per_s']:.2f}x | "
                f"{s['p50_us']:.0f} µs | {s['p90_us']:.0f} µs | {s['p99_us']:.0f} µs | {s['refused']} |"
            )
        os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
        out = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "addresses": args.addresses,
            "db_bytes": db_size,
            "build_seconds": build_s,
            "requests": args.requests,
            "summary": summary,
            "raw": results,
        }
        path = os.path.join(ROOT, "bench-results", f"policy-{int(time.time())}.json")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
        print(f"\n(JSON: {os.path.relpath(path, ROOT)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
