#!/usr/bin/env python3
"""Benchmarks spamfilt against bogofilter on the public SpamAssassin corpus, in one run.

    scripts/bench.py [--quick] [--only latency,throughput,train,accuracy,scale] [--spamfilt PATH]

Method (issue 2): per class, messages are sorted by the sha1 of their path relative to
data/; the first half trains, the second half is tested. Both filters are trained and tested
the same way in the same run, and every speed figure is quoted as a ratio against bogofilter.

  latency     whole-process time of the pipe filter, median over 30 test messages (15 ham,
              15 spam, the ones nearest the median size), each run REPEAT times after a warm-up,
              the filters interleaved run by run so load on a shared machine hits them alike;
              started by scripts/spawnlat.c (posix_spawn, stdin from the message file), whose
              floor (/bin/true) is reported beside them
  throughput  `spamfilt check @list` vs `bogofilter -T -B files...`, one process, test half, five
              rounds in turn (ROUNDS), the median of each
  train       `spamfilt train --ham @list --spam @list` vs `bogofilter -n/-s -B files...`, five
              rounds in turn into fresh databases, the median of each (with --baseline, that binary
              too, in the same rounds)
  accuracy    1-ROCA% from the per-message scores (spamfilt's score, bogofilter's spamicity),
              spam recall at 0.1% and 1% false positives, FP and FN at each default threshold
  scale       filter latency with a 1,000,000-token database vs a 10,000-token one, and
              peak RSS (GNU time)
  redis       (when redis-server is installed; --no-redis skips it) the same latency, check and train
              runs with the token store in Redis ([store] redis) on a loopback port, started here
              with --save '' --appendonly no, interleaved with the file store and bogofilter; the
              check output must equal the file store's

Needs: python3, npm (to fetch the corpus), cargo, a C compiler, bogofilter and GNU time (installed with
apt-get when missing and running as root). Writes a Markdown table to stdout and JSON to
bench-results/.
"""

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Train and check are timed this many times each, the filters in turn, and the median counts:
# on a shared machine one pair of runs moved the ratio by a third, three rounds by a tenth.
ROUNDS = 5


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_tools():
    missing = [p for p, exe in [("bogofilter", "bogofilter"), ("time", "/usr/bin/time")] if not shutil.which(exe)]
    if missing:
        if os.geteuid() != 0:
            sys.exit(f"bench: please install {' '.join(missing)} (Debian packages)")
        sh(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL)
        sh(["apt-get", "install", "-y", "-qq", *missing], stdout=subprocess.DEVNULL)


def corpus(args):
    sh([os.path.join(ROOT, "scripts/fetch-corpus.sh"), args.corpus], stdout=subprocess.DEVNULL)
    data = os.path.join(args.corpus, "package", "data")
    split = {}
    for cls, prefixes in [("ham", ("easy-ham-", "hard-ham-")), ("spam", ("spam-",))]:
        paths = []
        for d in sorted(os.listdir(data)):
            if d.startswith(prefixes):
                paths += [os.path.join(data, d, f) for f in os.listdir(os.path.join(data, d)) if f.endswith(".txt")]
        paths.sort(key=lambda p: hashlib.sha1(os.path.relpath(p, data).encode()).hexdigest())
        if args.quick:
            paths = paths[: len(paths) // 4]
        half = len(paths) // 2
        split[cls] = (paths[:half], paths[half:])
    return split


def release_binary(build=True):
    """Builds the release binary (unless told not to) and returns its path, wherever the cargo
    configuration puts it (target/<host triple>/release/ with .cargo/config.toml's static link)."""
    cmd = ["cargo", "build", "--release", "--message-format=json-render-diagnostics"]
    if not build:
        cmd.append("--offline")
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "spamfilt":
            return m["executable"]
    sys.exit("bench: cargo built no spamfilt binary")


def write_list(path, items):
    with open(path, "w") as f:
        f.write("\n".join(items) + "\n")
    return path


def timed(cmd, check=True, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, check=check, **kw)
    return time.perf_counter() - t, r


def roc_metrics(samples):
    """samples: list of (score, is_spam). Returns 1-ROCA%, recall at 0.1% and 1% FP."""
    s = sorted(samples)
    n_ham = sum(1 for _, sp in s if not sp)
    n_spam = len(s) - n_ham
    bad, ham_below, i = 0.0, 0, 0
    while i < len(s):
        j, h, sp = i, 0, 0
        while j < len(s) and s[j][0] == s[i][0]:
            if s[j][1]:
                sp += 1
            else:
                h += 1
            j += 1
        bad += sp * ((n_ham - ham_below - h) + 0.5 * h)
        ham_below += h
        i = j
    roca = 100.0 * bad / (n_ham * n_spam)
    ham_scores = sorted((sc for sc, sp in samples if not sp), reverse=True)
    spam_scores = [sc for sc, sp in samples if sp]

    def recall(rate):
        k = int(rate * len(ham_scores))
        boundary = ham_scores[k] if k < len(ham_scores) else float("-inf")
        return sum(1 for sc in spam_scores if sc > boundary) / len(spam_scores)

    return roca, recall(0.001), recall(0.01)


def spawn_harness(tmp):
    """Compiles scripts/spawnlat.c (see there) into tmp; returns its path."""
    exe = os.path.join(tmp, "spawnlat")
    sh(["cc", "-O2", "-o", exe, os.path.join(ROOT, "scripts", "spawnlat.c")])
    return exe


def paired_latency(harness, cmds, messages, repeat):
    """Whole-process latency of several filters, interleaved: for each message and each repeat
    every command runs in turn (spawnlat), so a burst of load on this shared machine hits them
    all alike. Returns {name: (median ms, p90 ms)} over the messages' medians."""
    per_msg = {name: [] for name in cmds}
    names = list(cmds)
    for m in messages:
        argv = [harness, str(repeat), m]
        for name in names:
            argv += ["--", *cmds[name](m)]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.split()
        for name, ns in zip(names, out):
            per_msg[name].append(int(ns) / 1e9)
    return {
        name: (statistics.median(v) * 1000, sorted(v)[int(len(v) * 0.9) - 1] * 1000) for name, v in per_msg.items()
    }


def peak_rss_kb(cmd, stdin_path):
    with open(stdin_path, "rb") as f:
        r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return int(r.stderr.strip().splitlines()[-1])


class RedisServer:
    """A redis-server of the benchmark's own on a free loopback port (no persistence)."""

    def __init__(self, tmp):
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                self.command("PING")
                return
            except OSError:
                time.sleep(0.05)
        sys.exit("bench: redis-server did not start")

    def command(self, *args):
        import socket
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"".join([f"*{len(args)}\r\n".encode()] + [f"${len(a)}\r\n{a}\r\n".encode() for a in args]))
            return sock.recv(4096)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def make_dump(path, n, seed):
    rng = random.Random(seed)
    hashes = sorted({rng.getrandbits(64) for _ in range(n)})
    with open(path, "w") as f:
        f.write("spamfilt-dump 1\nmessages 5000 5000\n")
        for h in hashes:
            f.write(f"token {h:016x} {rng.randint(0, 40)} {rng.randint(0, 40)} 20000\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spamfilt", help="the binary to measure (default: the release build of this checkout)")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus"))
    ap.add_argument("--quick", action="store_true", help="a quarter of the corpus, fewer repeats")
    ap.add_argument("--only", default="latency,throughput,train,accuracy,scale")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--baseline", help="another spamfilt binary (e.g. an older build) timed in the same latency and train runs")
    ap.add_argument("--no-redis", action="store_true", help="skip the Redis store rows (skipped anyway without redis-server)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    ensure_tools()
    sf = os.path.abspath(args.spamfilt) if args.spamfilt else release_binary(build=not args.no_build)
    split = corpus(args)
    tmp = tempfile.mkdtemp(prefix="spamfilt-bench-")
    harness = spawn_harness(tmp)
    sf_db, bf_db = os.path.join(tmp, "sf-db"), os.path.join(tmp, "bf-db")
    os.makedirs(bf_db)
    cfg = write_list(os.path.join(tmp, "empty.toml"), [])  # defaults only, whatever ~/.config holds
    sfc = [sf, "--config", cfg, "--db", sf_db]
    # The Redis store on loopback, when redis-server is there (the same binary, [store] redis).
    redis = None
    if not args.no_redis and shutil.which("redis-server"):
        redis = RedisServer(tmp)
        rcfg = write_list(os.path.join(tmp, "redis.toml"), ["[store]", f'redis = "redis://127.0.0.1:{redis.port}/0"', 'prefix = "bench"'])
        rd_db = os.path.join(tmp, "redis-db")
        rdc = [sf, "--config", rcfg, "--db", rd_db]
    elif not args.no_redis:
        print("bench: redis-server is not installed: no Redis rows", file=sys.stderr)
    ham_train, ham_test = split["ham"]
    spam_train, spam_test = split["spam"]
    tests = ham_test + spam_test
    res = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "train": {"ham": len(ham_train), "spam": len(spam_train)},
        "test": {"ham": len(ham_test), "spam": len(spam_test)},
    }
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
        res["machine"] = f"{os.cpu_count()} cores, {model}"
    except OSError:
        pass

    # Training (always: the other measurements need trained databases).
    hl, sl = write_list(os.path.join(tmp, "ham-train"), ham_train), write_list(os.path.join(tmp, "spam-train"), spam_train)
    # ROUNDS rounds, the two filters in turn, each into a fresh database; the median round counts
    # (this machine is shared, and one run of each moved the ratio by a third). The last round's
    # databases are the ones the other measurements use.
    # With --baseline, that binary trains too, in the same rounds, into a database of its own.
    sf_times, bf_times, rd_times, bl_times = [], [], [], []
    bl_db = os.path.join(tmp, "baseline-db")
    for _ in range(ROUNDS):
        shutil.rmtree(sf_db, ignore_errors=True)
        shutil.rmtree(bf_db, ignore_errors=True)
        os.makedirs(bf_db)
        t_sf, _ = timed([*sfc, "-q", "train", "--no-progress", "--ham", "@" + hl, "--spam", "@" + sl])
        t_bf_h, _ = timed(["bogofilter", "-d", bf_db, "-n", "-B", *ham_train])
        t_bf_s, _ = timed(["bogofilter", "-d", bf_db, "-s", "-B", *spam_train])
        sf_times.append(t_sf)
        bf_times.append(t_bf_h + t_bf_s)
        if args.baseline:
            shutil.rmtree(bl_db, ignore_errors=True)
            blc = [os.path.abspath(args.baseline), "--config", cfg, "--db", bl_db]
            t_bl, _ = timed([*blc, "-q", "train", "--no-progress", "--ham", "@" + hl, "--spam", "@" + sl])
            bl_times.append(t_bl)
        if redis:
            redis.command("FLUSHALL")
            shutil.rmtree(rd_db, ignore_errors=True)
            t_rd, _ = timed([*rdc, "-q", "train", "--no-progress", "--ham", "@" + hl, "--spam", "@" + sl])
            rd_times.append(t_rd)
    n_train = len(ham_train) + len(spam_train)
    res["train_msgs_per_s"] = {"spamfilt": n_train / statistics.median(sf_times), "bogofilter": n_train / statistics.median(bf_times)}
    if redis:
        res["train_msgs_per_s"]["spamfilt_redis"] = n_train / statistics.median(rd_times)
    if bl_times:
        res["train_msgs_per_s"]["spamfilt_baseline"] = n_train / statistics.median(bl_times)

    # Scores for the whole test half, one process each (this is also the throughput run).
    tl = write_list(os.path.join(tmp, "test"), tests)
    # ROUNDS rounds in turn, the median of each (see training).
    sf_times, bf_times, rd_times = [], [], []
    for _ in range(ROUNDS):
        t_sf, r = timed([*sfc, "-q", "check", "@" + tl], capture_output=True, text=True)
        sf_lines = [l.split("\t") for l in r.stdout.splitlines()]
        if redis:
            t_rd, rr = timed([*rdc, "-q", "check", "@" + tl], capture_output=True, text=True)
            if rr.stdout != r.stdout:
                sys.exit("bench: check with the Redis store scored differently from the file store")
            rd_times.append(t_rd)
        # bogofilter's exit status is the class of the last message (0 spam, 1 ham, 2 unsure).
        t_bf, r = timed(["bogofilter", "-d", bf_db, "-T", "-B", *tests], check=False, capture_output=True, text=True)
        if r.returncode > 2:
            sys.exit(f"bench: bogofilter failed: {r.stderr[:500]}")
        bf_lines = [l.rsplit(" ", 2) for l in r.stdout.splitlines()]
        sf_times.append(t_sf)
        bf_times.append(t_bf)
    res["check_msgs_per_s"] = {"spamfilt": len(tests) / statistics.median(sf_times), "bogofilter": len(tests) / statistics.median(bf_times)}
    if redis:
        res["check_msgs_per_s"]["spamfilt_redis"] = len(tests) / statistics.median(rd_times)
    is_spam = {p: False for p in ham_test} | {p: True for p in spam_test}
    acc = {}
    for name, rows, score_of, flagged in [
        ("spamfilt", sf_lines, lambda r: float(r[2]), lambda r: r[1] == "spam"),
        ("bogofilter", bf_lines, lambda r: float(r[2]), lambda r: r[1] == "S"),
    ]:
        samples = [(score_of(r), is_spam[r[0]]) for r in rows]
        roca, r01, r1 = roc_metrics(samples)
        fp = sum(1 for r in rows if flagged(r) and not is_spam[r[0]])
        fn = sum(1 for r in rows if not flagged(r) and is_spam[r[0]])
        acc[name] = {
            "one_minus_roca_percent": roca,
            "recall_at_0.1pct_fp": r01,
            "recall_at_1pct_fp": r1,
            "fp": fp,
            "fp_percent": 100 * fp / len(ham_test),
            "fn": fn,
            "fn_percent": 100 * fn / len(spam_test),
        }
    # The same split scored with Bayes only (--no-rules) and with the rules only (--no-bayes,
    # no database: what a fresh install without the starter table does).
    for label, extra, db in [("spamfilt --no-rules", ["--no-rules"], sf_db), ("spamfilt rules only", ["--no-bayes"], os.path.join(tmp, "none"))]:
        r = subprocess.run([sf, "--config", cfg, "--db", db, *extra, "-q", "check", "@" + tl], capture_output=True, text=True, check=True)
        rows = [l.split("\t") for l in r.stdout.splitlines()]
        samples = [(float(x[2]), is_spam[x[0]]) for x in rows]
        roca, r01, r1 = roc_metrics(samples)
        fp = sum(1 for x in rows if x[1] == "spam" and not is_spam[x[0]])
        fn = sum(1 for x in rows if x[1] != "spam" and is_spam[x[0]])
        acc[label] = {"one_minus_roca_percent": roca, "recall_at_0.1pct_fp": r01, "recall_at_1pct_fp": r1, "fp": fp,
                      "fp_percent": 100 * fp / len(ham_test), "fn": fn, "fn_percent": 100 * fn / len(spam_test)}
    res["accuracy"] = acc

    repeat = 5 if args.quick else 15
    by_size = lambda ps: sorted(ps, key=os.path.getsize)
    mid = lambda ps: by_size(ps)[len(ps) // 2 - 7 : len(ps) // 2 + 8]
    typical = mid(ham_test) + mid(spam_test)
    if "latency" in only:
        help_text = subprocess.run([sf, "--help"], capture_output=True, text=True).stdout
        cmds = {"spamfilt": lambda m: sfc, "bogofilter": lambda m: ["bogofilter", "-d", bf_db, "-p", "-e"]}
        if "--no-rules" in help_text:
            cmds["spamfilt_no_rules"] = lambda m: [*sfc, "--no-rules"]
        rep_bytes = None
        if " ip " in help_text.replace("\n", " "):
            # Sender checks on, DNS off (issue 4): allow and block lists of 200 entries each, a
            # honeypot, and 100,000 addresses in the reputation database.
            sdir = os.path.join(tmp, "sender")
            os.makedirs(sdir)
            scfg = write_list(os.path.join(sdir, "config.toml"), ['honeypots = ["trap@example.invalid", "@trap.invalid"]'])
            write_list(os.path.join(sdir, "allow.txt"), [f"friend{i}@allowed{i % 40}.example" for i in range(200)])
            write_list(os.path.join(sdir, "block.txt"), [f"@blocked{i}.example" for i in range(200)])
            rng = random.Random(4)
            ips = sorted({f"{rng.randint(1, 99)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(100_000)})
            sender_db = os.path.join(tmp, "sender-db")
            shutil.copytree(sf_db, sender_db)
            for i in range(0, len(ips), 10_000):
                sh([sf, "--config", scfg, "--db", sender_db, "-q", "ip", "add", *ips[i : i + 10_000]])
            rep_bytes = os.path.getsize(os.path.join(sender_db, "reputation.db"))
            cmds["spamfilt_sender"] = lambda m: [sf, "--config", scfg, "--db", sender_db]
        if args.baseline:
            # The baseline delivers from the database it trained itself: a binary older than a
            # format change (reputation.db format 2, 2026-12-03) would otherwise skip the file it
            # cannot read and be timed doing less work.
            cmds["spamfilt_baseline"] = lambda m: [os.path.abspath(args.baseline), "--config", cfg, "--db", bl_db]
        if redis:
            cmds["spamfilt_redis"] = lambda m: rdc
            if args.baseline:
                # The baseline binary on the same Redis store, in the same interleaved run.
                cmds["spamfilt_redis_baseline"] = lambda m: [os.path.abspath(args.baseline), *rdc[1:]]
        # The floor: a process that does nothing, started the same way.
        cmds["no-op"] = lambda m: ["/bin/true"]
        lat = paired_latency(harness, cmds, typical, repeat)
        res["latency_ms"] = {"spamfilt": lat["spamfilt"][0], "spamfilt_p90": lat["spamfilt"][1],
                             "bogofilter": lat["bogofilter"][0], "bogofilter_p90": lat["bogofilter"][1],
                             "noop": lat["no-op"][0]}
        for k in ("spamfilt_no_rules", "spamfilt_sender", "spamfilt_baseline", "spamfilt_redis", "spamfilt_redis_baseline"):
            if k in lat:
                res["latency_ms"][k] = lat[k][0]
        if "spamfilt_redis" in lat:
            res["latency_ms"]["spamfilt_redis_p90"] = lat["spamfilt_redis"][1]
        if rep_bytes:
            res["latency_ms"]["reputation_db_bytes"] = rep_bytes
    if "scale" in only:
        lat, dbs = {}, {}
        for n, name in [(10_000, "10k"), (1_000_000, "1M")]:
            db = dbs[name] = os.path.join(tmp, f"db-{name}")
            dump = os.path.join(tmp, f"{name}.dump")
            make_dump(dump, n, n)
            sh([sf, "--db", db, "-q", "db", "load", dump])
            lat[f"rss_kb_{name}"] = peak_rss_kb([sf, "--config", cfg, "--db", db], typical[0])
            lat[f"db_bytes_{name}"] = os.path.getsize(os.path.join(db, "tokens.db"))
        paired = paired_latency(harness, {name: (lambda m, db=db: [sf, "--config", cfg, "--db", db]) for name, db in dbs.items()}, typical, repeat)
        for name in dbs:
            lat[name] = paired[name][0]
        lat["bogofilter_rss_kb"] = peak_rss_kb(["bogofilter", "-d", bf_db, "-p", "-e"], typical[0])
        res["scale"] = lat
    if redis:
        redis.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    os.makedirs(os.path.join(ROOT, "bench-results"), exist_ok=True)
    out = os.path.join(ROOT, "bench-results", f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=2)
    print(report(res))
    print(f"\n(JSON: {out})")


def report(r):
    a = r["accuracy"]
    lines = [
        f"Measured {r['date']} on {r['machine']}, commit {r['commit']}; train {r['train']['ham']} ham + {r['train']['spam']} spam, "
        f"test {r['test']['ham']} ham + {r['test']['spam']} spam.",
        "",
        "| measure | spamfilt | bogofilter | spamfilt vs bogofilter |",
        "| --- | --- | --- | --- |",
    ]
    if "latency_ms" in r:
        l = r["latency_ms"]
        lines.append(f"| filter latency, median of 30 (ms) | {l['spamfilt']:.2f} | {l['bogofilter']:.2f} | {l['spamfilt'] / l['bogofilter']:.2f}× the time |")
        lines.append(f"| filter latency, p90 (ms) | {l['spamfilt_p90']:.2f} | {l['bogofilter_p90']:.2f} | {l['spamfilt_p90'] / l['bogofilter_p90']:.2f}× |")
        if "spamfilt_baseline" in l:
            lines.append(f"| filter latency, baseline binary `--baseline` (ms) | {l['spamfilt_baseline']:.2f} | | {l['spamfilt_baseline'] / l['bogofilter']:.2f}× the time |")
        if "spamfilt_no_rules" in l:
            lines.append(f"| filter latency, `--no-rules` (ms) | {l['spamfilt_no_rules']:.2f} | | {l['spamfilt_no_rules'] / l['bogofilter']:.2f}× |")
        if "noop" in l:
            lines.append(f"| the same harness starting /bin/true (ms, the floor) | {l['noop']:.2f} | {l['noop']:.2f} | |")
        if "spamfilt_sender" in l:
            lines.append(f"| filter latency, lists + honeypots + 100,000-IP reputation DB ({l['reputation_db_bytes'] / 1e6:.1f} MB), DNS off (ms) "
                         f"| {l['spamfilt_sender']:.2f} | | {l['spamfilt_sender'] / l['bogofilter']:.2f}× |")
        if "spamfilt_redis" in l:
            lines.append(f"| filter latency, Redis store on loopback (ms) | {l['spamfilt_redis']:.2f} | | {l['spamfilt_redis'] / l['bogofilter']:.2f}× the time; "
                         f"{l['spamfilt_redis'] / l['spamfilt']:.2f}× the file store's |")
            lines.append(f"| filter latency, Redis store, p90 (ms) | {l['spamfilt_redis_p90']:.2f} | | {l['spamfilt_redis_p90'] / l['bogofilter_p90']:.2f}× |")
        if "spamfilt_redis_baseline" in l:
            lines.append(f"| filter latency, Redis store, baseline binary `--baseline` (ms) | {l['spamfilt_redis_baseline']:.2f} | | "
                         f"{l['spamfilt_redis_baseline'] / l['bogofilter']:.2f}× the time |")
    c, t = r["check_msgs_per_s"], r["train_msgs_per_s"]
    lines.append(f"| check throughput (msg/s, one process) | {c['spamfilt']:.0f} | {c['bogofilter']:.0f} | {c['spamfilt'] / c['bogofilter']:.2f}× faster |")
    if "spamfilt_redis" in c:
        lines.append(f"| check throughput, Redis store on loopback (msg/s) | {c['spamfilt_redis']:.0f} | | {c['spamfilt_redis'] / c['bogofilter']:.2f}× faster; "
                     f"{c['spamfilt_redis'] / c['spamfilt']:.2f}× the file store's |")
    lines.append(f"| train throughput (msg/s) | {t['spamfilt']:.0f} | {t['bogofilter']:.0f} | {t['spamfilt'] / t['bogofilter']:.2f}× faster |")
    if "spamfilt_baseline" in t:
        lines.append(f"| train throughput, baseline binary `--baseline` (msg/s) | {t['spamfilt_baseline']:.0f} | | "
                     f"{t['spamfilt_baseline'] / t['bogofilter']:.2f}× faster; `--spamfilt` takes {t['spamfilt_baseline'] / t['spamfilt']:.2f}× its time |")
    if "spamfilt_redis" in t:
        lines.append(f"| train throughput, Redis store on loopback (msg/s) | {t['spamfilt_redis']:.0f} | | {t['spamfilt_redis'] / t['bogofilter']:.2f}× faster; "
                     f"{t['spamfilt_redis'] / t['spamfilt']:.2f}× the file store's |")
    s, b = a["spamfilt"], a["bogofilter"]
    lines.append(f"| 1-ROCA % | {s['one_minus_roca_percent']:.4f} | {b['one_minus_roca_percent']:.4f} | |")
    lines.append(f"| spam recall at 0.1% FP | {100 * s['recall_at_0.1pct_fp']:.2f}% | {100 * b['recall_at_0.1pct_fp']:.2f}% | |")
    lines.append(f"| spam recall at 1% FP | {100 * s['recall_at_1pct_fp']:.2f}% | {100 * b['recall_at_1pct_fp']:.2f}% | |")
    lines.append(f"| false positives at default threshold | {s['fp']} ({s['fp_percent']:.2f}%) | {b['fp']} ({b['fp_percent']:.2f}%) | |")
    lines.append(f"| false negatives at default threshold | {s['fn']} ({s['fn_percent']:.2f}%) | {b['fn']} ({b['fn_percent']:.2f}%) | |")
    for label in ("spamfilt --no-rules", "spamfilt rules only"):
        if label in a:
            x = a[label]
            lines.append(f"| {label}: 1-ROCA %, recall at 0.1% FP, FP, FN | {x['one_minus_roca_percent']:.4f}, {100 * x['recall_at_0.1pct_fp']:.2f}%, "
                         f"{x['fp']} ({x['fp_percent']:.2f}%), {x['fn']} ({x['fn_percent']:.2f}%) | | |")
    if "scale" in r:
        sc = r["scale"]
        lines.append(f"| filter latency, 10k-token DB (ms) | {sc['10k']:.2f} | | |")
        lines.append(f"| filter latency, 1M-token DB (ms) | {sc['1M']:.2f} | | {sc['1M'] / sc['10k']:.2f}× the 10k time |")
        lines.append(f"| peak RSS, filter on 1M-token DB (MB) | {sc['rss_kb_1M'] / 1024:.1f} | {sc['bogofilter_rss_kb'] / 1024:.1f} | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
