#!/usr/bin/env python3
"""Months of unattended use, simulated with the real binary, procmail and the crontab.

    scripts/months.py --spamfilt BINARY [--corpus corpus/package/data] [--days 120] [--json out.json]
                      [--retrain-inbox] [--kept | --no-kept] [--kept-below SCORE] [--kept-balanced RATIO|off] [--clock auto|faketime|rename] [--keep DIR]

Needs python3, procmail, and for the simulated clock libfaketime (apt-get install procmail faketime).

One user, one scratch HOME with a real Maildir (cur/new/tmp, .Junk, .Sent), set up as the README
says: the binary at ~/.cargo/bin/spamfilt (where `cargo install` puts it), contrib/procmailrc as
~/.procmailrc, the Quick start's `train --ham ~/Maildir/.Sent ~/Maildir/cur --spam ~/Maildir/.Junk`.
Then, for every simulated day:

- deliveries: that day's mail, each message through `procmail -m HOME=... ~/.procmailrc` (the
  delivery path of tests/delivery.rs: `:0fw | spamfilt`, X-Spam-Flag: YES into .Junk/);
- the user, in the evening: reads the inbox and Junk (new/ -> cur/ with the S flag); a spam
  found in the inbox is moved to .Junk (noticed 4 times in 5; half of those also
  `spamfilt train --spam FILE`); a ham found in Junk (noticed 9 times in 10, 0-6 days after
  delivery) is either moved to the inbox and trained (`train --ham FILE`, 3 in 5) or trained
  where it is, in Junk (the README's own example, 2 in 5; the purge must keep it);
- at night, every line of contrib/crontab whose day matches (the nightly purge and kept-ham
  line, Sunday's `ip expire` and `lint`), each run as cron runs it: `sh -c LINE` with only HOME,
  LOGNAME, SHELL=/bin/sh and PATH=/usr/bin:/bin. What a line prints is cron mail. `--kept` adds
  the README's kept-ham line when contrib/crontab has none, `--no-kept` leaves out the kept-ham line (`train ... --older-than ... --below ...`: the crontab before it),
  `--kept-below SCORE` runs it with another bound, `--kept-balanced RATIO|off` with
  `--balanced RATIO` or without it.

The mail: the SpamAssassin corpus's five folders (`*.txt`), each class in the order of its Date
header: the oldest --initial-ham / --initial-spam train, one ham and one spam (the median size
of the rest) are the fixed probes, and the rest is spread evenly over the days.

The clock: with a dynamically linked binary and libfaketime (Debian's faketime), every process
(procmail, spamfilt, the cron lines) runs at the simulated time (`FAKETIME=@...`, monotonic
clocks left real), so the purge's age, the token days, `ip expire` and the reputation's fading
all see the months pass. procmail removes LD_ variables from what it runs, so then
~/.cargo/bin/spamfilt is a two-line wrapper that puts the clock back (a shell start more per
delivery and cron line); procmail names the files it delivers by the real time whatever the
clock, so each delivered file is renamed to the name it would have had. A static binary (the default release build) cannot be given another
clock: then `--clock rename` ages the Maildir instead (every message file's name, whose leading
number is what `purge` reads as the delivery time, is moved back a day each night), and the
database sees one real day. Build a dynamic binary with
`RUSTFLAGS= cargo build --release --locked --target-dir target-dyn --bin spamfilt`.

Measured per day: the database directory (every file and its size), `db stats` (tokens, ledger,
messages per class), reputation records (`ip list`), the latency of `spamfilt check PROBE` and
of the filter on the probe (median of --probe-runs each; wall time, compare the trend, not the
figures), the day's verdicts (ham filed in Junk, spam in the inbox), X-Spam-Degraded or
SPAMFILT_DEGRADED on delivered mail, what every command printed, what the purge deleted (by
truth: spam, ham the user never rescued, ham the user trained), and the lock and temporary
files left in the database directory and the Maildir's tmp/. Every week: --heldout ham and spam,
spread over the months and never delivered, scored with `check --json` (drift). At the end: the
probes' latency with a copy of the day-0 database against the last one, --latency-rounds runs
interleaved so load hits both alike; every delivered
message is in exactly one folder or was purged, and every purged message is known as spam to
the database (checked by `train --spam` of the purged copies into a copy of the database), and
how many of the spam left in the inbox the database knows as ham (what the kept-ham line learned
wrongly: `train --spam` of them into another copy, counted "moved").
"""
import argparse
import collections
import datetime
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generalise import message_time, one_minus_roca_percent  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"]
DAY = 86400
# The first simulated day, a Monday (cron's day 1); the Sunday lines run on days 6, 13, ...
START = datetime.datetime(2027, 1, 4, tzinfo=datetime.timezone.utc)


def is_static(binary):
    with open(binary, "rb") as f:
        head = f.read(1 << 16)
    return b"/ld-linux" not in head and b"ld.so" not in head


class Clock:
    """The simulated time every command runs at (faketime), or none (rename)."""

    def __init__(self, mode, file):
        self.mode = mode
        self.file = file
        self.lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
        self.day = 0
        self.secs = 0  # into the day

    def at(self, day, secs):
        self.day, self.secs = day, secs
        if self.mode == "faketime":
            with open(self.file, "w") as f:
                f.write(self.env()["FAKETIME"] + "\n")

    def now(self):
        return START + datetime.timedelta(days=self.day, seconds=self.secs)

    def env(self):
        # The simulation ages files by their name: purge and the kept-ham line take the later of
        # the name's time and the file's ctime for the time a message came into its folder
        # (attack report F18), and the ctime is the real clock's (set by every rename, the
        # nightly ones of --clock rename included), so the test switch makes them read the
        # name's time alone, as before. The ctime rule itself is tested in tests/cli.rs.
        by_name = {"SPAMFILT_TEST_AGE_FROM_NAME": "1"}
        if self.mode != "faketime":
            return by_name
        return {
            "LD_PRELOAD": self.lib,
            "FAKETIME": "@" + self.now().strftime("%Y-%m-%d %H:%M:%S"),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            **by_name,
        }


class Sim:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.home = os.path.join(work, "home")
        self.md = os.path.join(self.home, "Maildir")
        self.junk = os.path.join(self.md, ".Junk")
        self.sent = os.path.join(self.md, ".Sent")
        self.db = os.path.join(self.home, ".local/share/spamfilt")
        self.bin = os.path.join(self.home, ".cargo/bin/spamfilt")
        self.purged_dir = os.path.join(work, "purged")
        self.clock = Clock(a.clock, os.path.join(work, "clock"))
        self.real_bin = os.path.abspath(a.spamfilt)
        self.rng = random.Random(a.seed)
        self.where = {}  # message id -> its file now
        self.by_path = {}  # its file now -> message id
        self.truth = {}  # message id -> True for spam
        self.purged = {}  # message id -> (day, what the user had done with it)
        self.user_ham = set()  # ids the user trained as ham
        self.user_spam = set()  # ids the user trained as spam
        self.left_in_junk = set()  # trained as ham and left in Junk
        self.fp_plan = {}  # id -> day the user notices it (ham in Junk)
        self.log = collections.defaultdict(list)  # what commands printed, by kind
        self.days = []

    # -- processes ------------------------------------------------------------------------------

    def user_env(self):
        env = {"HOME": self.home, "PATH": os.path.dirname(self.bin) + ":/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        env.update(self.clock.env())
        return env

    def run(self, argv, kind, env=None, stdin=None, check=True):
        t = time.perf_counter()
        p = subprocess.run(argv, env=env or self.user_env(), input=stdin, capture_output=True)
        dt = time.perf_counter() - t
        if check and p.returncode != 0:
            self.log["failed"].append(dict(day=self.clock.day, kind=kind, argv=argv, rc=p.returncode, stderr=p.stderr.decode(errors="replace")[-2000:]))
        return p, dt

    def spamfilt(self, *args, kind="user", check=True):
        return self.run([self.real_bin, *args], kind, check=check)

    # -- setup ----------------------------------------------------------------------------------

    def setup(self, initial_ham, initial_spam):
        for folder in (self.md, self.junk, self.sent):
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(folder, sub), exist_ok=True)
        os.makedirs(os.path.dirname(self.bin))
        os.symlink(os.path.abspath(self.a.spamfilt), self.bin)
        shutil.copy(os.path.join(ROOT, "contrib/procmailrc"), os.path.join(self.home, ".procmailrc"))
        if self.a.honeypots:
            conf = os.path.join(self.home, ".config/spamfilt")
            os.makedirs(conf)
            with open(os.path.join(conf, "config.toml"), "w") as f:
                f.write("honeypots = [" + ", ".join(json.dumps(h) for h in self.a.honeypots.split(",")) + "]\n")
        os.makedirs(self.purged_dir)
        self.procmail = shutil.which("procmail")
        purge = [j for j in self.crontab() if " purge " in j["command"]]
        self.purge_at = purge[0]["hour"] * 3600 + purge[0]["minute"] * 60 if purge else 0
        if self.clock.mode == "faketime":
            # procmail removes LD_PRELOAD (and the other LD_ variables) from the environment of
            # what it runs, so spamfilt under it would run at the real time while every other
            # command runs at the simulated one. ~/.cargo/bin/spamfilt is then a wrapper that
            # puts the simulated clock (written to a file before each command) back; it costs a
            # shell's start per delivery and per cron line.
            os.remove(self.bin)
            with open(self.bin, "w") as f:
                f.write(
                    "#!/bin/sh\n"
                    f"read -r FAKETIME < '{self.clock.file}'\n"
                    f"LD_PRELOAD='{self.clock.lib}' FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME=\"$FAKETIME\" exec '{self.real_bin}' \"$@\"\n"
                )
            os.chmod(self.bin, 0o755)
        # The mail the user had before: kept ham in the inbox, a Sent folder of replies to some of
        # it, spam in Junk, all delivered in the 30 days before day 0 (Junk is purged on day 0).
        t0 = int(START.timestamp()) if self.clock.mode == "faketime" else int(time.time())
        for i, m in enumerate(initial_ham):
            self.place(m, self.md, t0 - DAY * 30 + i * 60)
        for i, m in enumerate(initial_spam):
            self.place(m, self.junk, t0 - DAY * 30 + i * 60)
        for i, m in enumerate(initial_ham[: self.a.sent]):
            self.write_sent(m, t0 - DAY * 29 + i * 60, i)
        self.clock.at(-1, 20 * 3600)
        p, dt = self.spamfilt("train", "--no-progress", "--ham", self.sent, os.path.join(self.md, "cur"), "--spam", self.junk, kind="train")
        shutil.copytree(self.db, os.path.join(self.work, "db-day0"))
        self.quick_start = dict(stdout=p.stdout.decode(errors="replace"), stderr=p.stderr.decode(errors="replace"), rc=p.returncode, secs=round(dt, 2))

    def place(self, m, folder, secs):
        mid = m["id"]
        name = f"{secs}.M{len(self.where)}P1.sim:2,S"
        path = os.path.join(folder, "cur", name)
        shutil.copy(m["path"], path)
        self.put(mid, path)
        self.truth[mid] = m["spam"]

    def write_sent(self, m, secs, i):
        with open(m["path"], "rb") as f:
            head = f.read(65536).split(b"\n\n", 1)[0].decode("latin-1")
        frm = re.search(r"^From:\s*(.*(?:\n[ \t].*)*)", head, re.M | re.I)
        subj = re.search(r"^Subject:\s*(.*)", head, re.M | re.I)
        to = " ".join(frm.group(1).split()) if frm else "someone@example.com"
        date = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
        text = (
            f"From: Pat User <pat@example.org>\nTo: {to}\nSubject: Re: {subj.group(1).strip() if subj else 'your mail'}\n"
            f"Date: {date}\nMessage-ID: <sent{i}.{secs}@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            f"Thanks, I read it. Let us talk about this on the list next week.\n\nPat\n"
        )
        with open(os.path.join(self.sent, "cur", f"{secs}.M{i}P2.sim:2,S"), "w") as f:
            f.write(text)

    # -- the day --------------------------------------------------------------------------------

    def listing(self, folder, sub):
        try:
            return set(os.listdir(os.path.join(folder, sub)))
        except FileNotFoundError:
            return set()

    def deliver(self, m, day_rec):
        mid = m["id"]
        before = {f: self.listing(f, "new") for f in (self.md, self.junk)}
        with open(m["path"], "rb") as f:
            raw = f.read()
        env = {"PATH": "/usr/bin:/bin"}
        env.update(self.clock.env())
        p, dt = self.run([self.procmail, "-m", f"HOME={self.home}", os.path.join(self.home, ".procmailrc")], "procmail", env=env, stdin=raw)
        day_rec["delivery_ms"].append(dt * 1000)
        if p.stderr.strip():
            self.log["delivery_stderr"].append(dict(day=self.clock.day, id=mid, text=p.stderr.decode(errors="replace")[:500]))
        got = []
        for f in (self.md, self.junk):
            for name in self.listing(f, "new") - before[f]:
                got.append(os.path.join(f, "new", name))
        self.truth[mid] = m["spam"]
        if len(got) != 1:
            self.log["delivery_lost_or_doubled"].append(dict(day=self.clock.day, id=mid, files=got, rc=p.returncode))
            if not got:
                return
        path = got[0]
        # procmail names the file with the real time whatever libfaketime says: with the simulated
        # clock, the name it would have written then (and that time as the file's mtime). With
        # --clock rename, the real time moved by the hour of the day the message came (the nightly
        # renames age it a whole day each), so that at the purge it is as old as it would be then.
        if self.clock.mode == "faketime":
            now = int(self.clock.now().timestamp())
        else:
            now = int(time.time()) + self.clock.secs - self.purge_at
        named = os.path.join(os.path.dirname(path), re.sub(r"^\d+", str(now), os.path.basename(path)))
        os.rename(path, named)
        os.utime(named, (now, now))
        path = named
        self.put(mid, path)
        in_junk = path.startswith(self.junk + "/")
        with open(path, "rb") as f:
            head = f.read(1 << 20).split(b"\n\n", 1)[0].decode("latin-1").replace("\n\t", " ").replace("\n ", " ")
        status = re.search(r"^X-Spam-Status:\s*(.*)$", head, re.M)
        if not status:
            day_rec["unscored"] += 1
        elif "SPAMFILT_DEGRADED" in status.group(1) or re.search(r"^X-Spam-Degraded:", head, re.M):
            day_rec["degraded"] += 1
            deg = re.search(r"^X-Spam-Degraded:\s*(.*)$", head, re.M)
            self.log["degraded"].append(dict(day=self.clock.day, id=mid, field=deg.group(1) if deg else status.group(1)))
        if m["spam"]:
            day_rec["spam"] += 1
            if not in_junk:
                day_rec["fn"] += 1
                if self.rng.random() < self.a.notice_fn:
                    day_rec["_fn_noticed"].append(mid)
        else:
            day_rec["ham"] += 1
            if in_junk:
                day_rec["fp"] += 1
                if m["hard"]:
                    day_rec["fp_hard"] += 1
                if self.rng.random() < self.a.notice_fp:
                    self.fp_plan[mid] = self.clock.day + self.rng.randint(0, 6)

    def read_new(self):
        """The mail client shows new mail: new/NAME -> cur/NAME:2,S."""
        for folder in (self.md, self.junk):
            for name in self.listing(folder, "new"):
                src = os.path.join(folder, "new", name)
                dst = os.path.join(folder, "cur", name + ":2,S")
                os.rename(src, dst)
                self.moved(src, dst)

    def moved(self, src, dst):
        mid = self.by_path.pop(src, None)
        if mid is not None:
            self.put(mid, dst)

    def put(self, mid, path):
        old = self.where.get(mid)
        if old is not None:
            self.by_path.pop(old, None)
        self.where[mid] = path
        self.by_path[path] = mid

    def move(self, mid, folder):
        src = self.where[mid]
        dst = os.path.join(folder, "cur", os.path.basename(src))
        os.rename(src, dst)
        self.put(mid, dst)
        return dst

    def user_fixes(self, day_rec):
        for i, mid in enumerate(day_rec.pop("_fn_noticed")):
            dst = self.move(mid, self.junk)
            day_rec["user_moved_spam"] += 1
            if i % 2 == 0:
                p, _ = self.spamfilt("train", "--no-progress", "--spam", dst, kind="train-spam")
                self.user_spam.add(mid)
                day_rec["user_trained_spam"] += 1
                self.note_output("train-spam", p)
        for mid, when in sorted(self.fp_plan.items()):
            if when != self.clock.day:
                continue
            del self.fp_plan[mid]
            if mid in self.purged:
                day_rec["fp_noticed_too_late"] += 1
                continue
            if self.rng.random() < 0.6:
                dst = self.move(mid, self.md)
                p, _ = self.spamfilt("train", "--no-progress", "--ham", dst, kind="train-ham")
                day_rec["user_rescued_ham"] += 1
            else:
                p, _ = self.spamfilt("train", "--no-progress", "--ham", self.where[mid], kind="train-ham")
                self.left_in_junk.add(mid)
                day_rec["user_trained_ham_in_junk"] += 1
            self.user_ham.add(mid)
            self.note_output("train-ham", p)

    def note_output(self, kind, p):
        text = (p.stdout + p.stderr).decode(errors="replace")
        for line in text.splitlines():
            if not re.match(r"learned \d+ ham and \d+ spam; \d+ already known, \d+ moved to the other class, 0 unreadable$", line):
                self.log[kind + "_other_lines"].append(dict(day=self.clock.day, line=line[:300]))

    # -- cron -----------------------------------------------------------------------------------

    def crontab(self):
        lines = []
        with open(os.path.join(ROOT, "contrib/crontab")) as f:
            text = f.read().splitlines()
        if self.a.kept and not any(is_kept_line(x) for x in text if not x.lstrip().startswith("#")):
            text.append(KEPT_LINE)
        for line in text:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if re.match(r"^\w+=", line):
                continue
            fields = line.split(None, 5)
            command = fields[5]
            if is_kept_line(command):
                if self.a.no_kept:
                    continue
                if self.a.kept_below is not None:
                    command = re.sub(r"--below\s+\S+", f"--below {self.a.kept_below}", command)
                if self.a.kept_balanced is not None:
                    command = re.sub(r" --balanced(?:[ =][0-9.]+)?", "", command)
                    if self.a.kept_balanced != "off":
                        command += f" --balanced {self.a.kept_balanced}"
            lines.append(dict(minute=int(fields[0]), hour=int(fields[1]), dow=fields[4], command=command))
        return lines

    def age_junk(self):
        """--clock rename: one more day passed for every message file (its name's time)."""
        for folder in (self.md, self.junk, self.sent):
            for sub in ("new", "cur"):
                for name in self.listing(folder, sub):
                    m = re.match(r"^(\d+)(\..*)$", name)
                    if not m:
                        continue
                    src = os.path.join(folder, sub, name)
                    dst = os.path.join(folder, sub, f"{int(m.group(1)) - DAY}{m.group(2)}")
                    os.rename(src, dst)
                    self.moved(src, dst)

    def night(self, day, day_rec):
        """The night after `day`: cron's lines at their times on day + 1."""
        if self.clock.mode == "rename":
            self.age_junk()
        cron_day = day + 1
        dow = (START + datetime.timedelta(days=cron_day)).isoweekday() % 7
        junk_before = {mid for mid, p in self.where.items() if p.startswith(self.junk + "/")}
        # What the purge will see as old: keep a copy of each to check, at the end, that the
        # database knows it as spam.
        self.clock.at(cron_day, 3 * 3600 + 16 * 60)
        p, _ = self.spamfilt("purge", "--dry-run", "--older-than", "10d", self.junk, kind="purge-dry-run", check=False)
        day_rec["purge_dry_run"] = (p.stdout + p.stderr).decode(errors="replace").strip()
        for mid in junk_before:
            src = self.where[mid]
            shutil.copy(src, os.path.join(self.purged_dir, f"{mid.replace('/', '_')}"))
        for job in self.crontab():
            if job["dow"] != "*" and int(job["dow"]) != dow:
                continue
            skew = self.a.clock_jump[1] if self.a.clock_jump and self.a.clock_jump[0] == day else 0
            self.clock.at(cron_day + skew, job["hour"] * 3600 + job["minute"] * 60)
            env = {"HOME": self.home, "LOGNAME": "user", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
            env.update(self.clock.env())
            p, dt = self.run(["/bin/sh", "-c", job["command"]], "cron", env=env, check=False)
            out = (p.stdout + p.stderr).decode(errors="replace")
            m = re.search(r"spamfilt\"?\s+(?:-\S+\s+)*(\w+(?: \w+)?)", job["command"])
            name = m.group(1) if m else job["command"]
            day_rec["cron"].append(dict(job=name, rc=p.returncode, secs=round(dt, 3), mail=out[:2000]))
            if out.strip() or p.returncode != 0:
                self.log["cron_mail"].append(dict(day=cron_day, job=name, rc=p.returncode, text=out[:2000]))
        gone = [mid for mid in junk_before if not os.path.exists(self.where[mid])]
        for mid in gone:
            what = "spam" if self.truth[mid] else ("ham-trained" if mid in self.user_ham else "ham")
            self.purged[mid] = (cron_day, what)
            day_rec["purged_" + what.replace("-", "_")] += 1
            self.by_path.pop(self.where.pop(mid), None)
        kept = set(junk_before) - set(gone)
        for mid in kept:
            cp = os.path.join(self.purged_dir, mid.replace("/", "_"))
            if os.path.exists(cp):
                os.remove(cp)

    # -- measures -------------------------------------------------------------------------------

    def measure(self, day_rec, probes):
        files = {}
        for root, dirs, names in os.walk(self.db):
            for n in names:
                p = os.path.join(root, n)
                files[os.path.relpath(p, self.db)] = os.lstat(p).st_size
        day_rec["db_files"] = files
        p, _ = self.spamfilt("db", "stats", kind="stats")
        stats = p.stdout.decode(errors="replace")
        m = re.search(r"messages:\s+(\d+) ham, (\d+) spam", stats)
        day_rec["learned_ham"], day_rec["learned_spam"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        m = re.search(r"tokens:\s+(\d+)", stats)
        day_rec["tokens"] = int(m.group(1)) if m else None
        m = re.search(r"ledger:\s+(\d+)", stats)
        day_rec["ledger"] = int(m.group(1)) if m else None
        p, _ = self.spamfilt("ip", "list", kind="ip-list")
        day_rec["ip_records"] = len([x for x in p.stdout.decode(errors="replace").splitlines() if x.strip()])
        for kind, path in probes.items():
            checks, filters = [], []
            with open(path, "rb") as f:
                raw = f.read()
            for _ in range(self.a.probe_runs):
                _, dt = self.spamfilt("check", path, kind="probe")
                checks.append(dt * 1000)
                _, dt = self.run([self.real_bin], "probe", stdin=raw)
                filters.append(dt * 1000)
            p, _ = self.spamfilt("check", "--json", path, kind="probe")
            j = json.loads(p.stdout.decode(errors="replace") or "{}")
            day_rec[f"probe_{kind}_check_ms"] = round(statistics.median(checks), 2)
            day_rec[f"probe_{kind}_filter_ms"] = round(statistics.median(filters), 2)
            day_rec[f"probe_{kind}_score"] = j.get("score")
            day_rec[f"probe_{kind}_bayes"] = j.get("bayes")
            day_rec[f"probe_{kind}_lr"] = j.get("lr")
        day_rec["leftovers"] = sorted(
            [f for f in files if re.search(r"tmp|\.corrupt|~$|\.bak|\.old", f)]
            + [os.path.join(d, "tmp", n) for d in (self.md, self.junk, self.sent) for n in self.listing(d, "tmp")]
        )
        day_rec["junk_files"] = sum(len(self.listing(self.junk, s)) for s in ("cur", "new"))
        day_rec["inbox_files"] = sum(len(self.listing(self.md, s)) for s in ("cur", "new"))

    def score_heldout(self, heldout):
        listfile = os.path.join(self.work, "heldout.list")
        with open(listfile, "w") as f:
            f.write("".join(m["path"] + "\n" for m in heldout))
        p, _ = self.spamfilt("check", "--json", "@" + listfile, kind="heldout")
        spam_of = {m["path"]: m["spam"] for m in heldout}
        ham, spam = [], []
        for line in p.stdout.decode(errors="replace").splitlines():
            j = json.loads(line)
            (spam if spam_of.get(j["path"]) else ham).append(j)
        mean = lambda xs, k: round(statistics.mean(x[k] for x in xs if x.get(k) is not None), 3) if xs else None
        return dict(
            ham=len(ham), spam=len(spam),
            ham_flagged=sum(1 for x in ham if x["verdict"] == "spam"),
            spam_missed=sum(1 for x in spam if x["verdict"] != "spam"),
            ham_mean_score=mean(ham, "score"), spam_mean_score=mean(spam, "score"),
            ham_median_score=round(statistics.median(x["score"] for x in ham), 3) if ham else None,
            ham_mean_bayes=mean(ham, "bayes"), ham_mean_lr=mean(ham, "lr"),
            spam_mean_bayes=mean(spam, "bayes"), spam_mean_lr=mean(spam, "lr"),
            one_minus_roca_percent=round(one_minus_roca_percent([(x["score"], False) for x in ham] + [(x["score"], True) for x in spam]), 4),
        )

    def latency_first_vs_last(self, probes, rounds):
        """The probes' latency with the day-0 database against the last day's, interleaved run by
        run in the same minutes, so the machine's load hits both alike."""
        out = {}
        dbs = {"day0": os.path.join(self.work, "db-day0"), "last": self.db}
        for kind, path in probes.items():
            with open(path, "rb") as f:
                raw = f.read()
            t = collections.defaultdict(list)
            for _ in range(rounds):
                for name, db in dbs.items():
                    _, dt = self.run([self.real_bin, "--db", db], "latency", stdin=raw)
                    t[f"filter_{name}"].append(dt * 1000)
                    _, dt = self.run([self.real_bin, "--db", db, "check", path], "latency")
                    t[f"check_{name}"].append(dt * 1000)
            med = {k: round(statistics.median(v), 3) for k, v in t.items()}
            med["filter_ratio"] = round(med["filter_last"] / med["filter_day0"], 3)
            med["check_ratio"] = round(med["check_last"] / med["check_day0"], 3)
            out[kind] = med
        return out

    # -- the end --------------------------------------------------------------------------------

    def account(self, delivered_ids):
        """Every message in exactly one place or purged; purged ones known as spam."""
        seen = collections.Counter()
        files_now = {}
        for folder, label in ((self.md, "inbox"), (self.junk, "junk")):
            for sub in ("cur", "new"):
                for name in self.listing(folder, sub):
                    files_now[os.path.join(folder, sub, name)] = label
        by_path = self.by_path
        out = dict(delivered=len(delivered_ids), inbox=0, junk=0, purged=0, missing=[], doubled=[], strays=[])
        for mid in delivered_ids:
            if mid in self.purged:
                out["purged"] += 1
                seen[mid] += 1
            if mid in self.where:
                p = self.where[mid]
                if p in files_now:
                    out[files_now[p]] += 1
                    seen[mid] += 1
                else:
                    out["missing"].append(mid)
            elif mid not in self.purged:
                out["missing"].append(mid)
        out["doubled"] = [m for m, n in seen.items() if n > 1]
        out["strays"] = [p for p in files_now if p not in by_path]
        # Every purged message known as spam: learn the purged copies as spam into a copy of the
        # database; nothing may be new to it.
        copy = os.path.join(self.work, "db-copy")
        shutil.copytree(self.db, copy)
        names = sorted(os.listdir(self.purged_dir))
        if names:
            listfile = os.path.join(self.work, "purged.list")
            with open(listfile, "w") as f:
                f.write("".join(os.path.join(self.purged_dir, n) + "\n" for n in names))
            p, _ = self.run([self.real_bin, "--db", copy, "train", "--no-progress", "--spam", "@" + listfile], "verify", check=False)
            out["purged_copies"] = len(names)
            out["train_purged_again"] = (p.stdout + p.stderr).decode(errors="replace").strip()
        # The spam left in the inbox that the database knows as ham: only the kept-ham line learns
        # inbox mail as ham unasked (the user trains as ham only the ham rescued from Junk).
        inbox_spam = [p for p, label in files_now.items() if label == "inbox" and self.truth.get(by_path.get(p))]
        out["spam_in_inbox_at_end"] = len(inbox_spam)
        if inbox_spam:
            copy2 = os.path.join(self.work, "db-copy2")
            shutil.copytree(self.db, copy2)
            listfile = os.path.join(self.work, "inbox-spam.list")
            with open(listfile, "w") as f:
                f.write("".join(p + "\n" for p in sorted(inbox_spam)))
            p, _ = self.run([self.real_bin, "--db", copy2, "train", "--no-progress", "--spam", "@" + listfile], "verify", check=False)
            text = (p.stdout + p.stderr).decode(errors="replace").strip()
            m = re.search(r"(\d+) moved to the other class", text)
            out["inbox_spam_learned_as_ham"] = int(m.group(1)) if m else None
            out["train_inbox_spam"] = text
        return out


# The kept-ham line of the README (`--kept` adds it when contrib/crontab has none).
KEPT_LINE = '27 3 * * *  "$HOME/.cargo/bin/spamfilt" -q train --ham "$HOME/Maildir/cur" --older-than 10d --below 0 --balanced 0.4'


def is_kept_line(command):
    """The kept-ham line: `train` of the inbox with --older-than and --below."""
    return " train " in command and "--older-than" in command and "--below" in command


def load(corpus):
    msgs = []
    for folder in sorted(os.listdir(corpus)):
        d = os.path.join(corpus, folder)
        if not os.path.isdir(d):
            continue
        spam = "spam" in folder
        for name in sorted(os.listdir(d)):
            if not name.endswith(".txt"):
                continue
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                when, _ = message_time(f.read(65536))
            msgs.append(dict(id=f"{folder}/{name}", path=path, spam=spam, hard="hard" in folder, when=when or 0, size=os.path.getsize(path)))
    return msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spamfilt", required=True, help="the binary under test")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus/package/data"))
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--initial-ham", type=int, default=300)
    ap.add_argument("--initial-spam", type=int, default=300)
    ap.add_argument("--sent", type=int, default=40, help="replies written into .Sent before day 0")
    ap.add_argument("--notice-fn", type=float, default=0.8)
    ap.add_argument("--notice-fp", type=float, default=0.9)
    ap.add_argument("--probe-runs", type=int, default=7)
    ap.add_argument("--latency-rounds", type=int, default=31, help="interleaved runs at the end, day-0 database against the last")
    ap.add_argument("--heldout", type=int, default=150, help="ham and spam each, never delivered, scored weekly")
    ap.add_argument(
        "--retrain-inbox",
        action="store_true",
        help="a variant: every Sunday night the user trains the inbox's cur/ as ham (unnoticed spam in it too)",
    )
    kept = ap.add_mutually_exclusive_group()
    kept.add_argument("--kept", action="store_true", help="add the README's kept-ham line when contrib/crontab has none")
    kept.add_argument("--no-kept", action="store_true", help="leave out contrib/crontab's kept-ham line (the crontab before it)")
    ap.add_argument("--kept-below", type=float, help="run the kept-ham line with this --below instead of the crontab's")
    ap.add_argument("--kept-balanced", metavar="RATIO|off", help="run the kept-ham line with --balanced RATIO, or without --balanced")
    ap.add_argument("--clock", choices=["auto", "faketime", "rename"], default="auto")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--honeypots",
        help="comma-separated honeypot addresses for config.toml (e.g. recipients@netnoteinc.com, "
        "which 26 of the corpus's spam and none of its ham are addressed to)",
    )
    ap.add_argument(
        "--clock-jump",
        metavar="NIGHT:DAYS",
        type=lambda v: tuple(int(x) for x in v.split(":")),
        help="the cron lines of the night after day NIGHT run with the clock DAYS ahead (faketime only)",
    )
    ap.add_argument("--json", help="write every day's record here")
    ap.add_argument("--keep", help="keep the scratch HOME in this directory (must not exist)")
    a = ap.parse_args()
    if not shutil.which("procmail"):
        sys.exit("procmail is needed (apt-get install procmail)")
    static = is_static(a.spamfilt)
    lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
    if a.clock == "auto":
        a.clock = "faketime" if (lib and not static) else "rename"
    if a.clock == "faketime" and (static or not lib):
        sys.exit("--clock faketime needs a dynamically linked binary and libfaketime (apt-get install faketime)")
    print(f"clock: {a.clock}{' (the binary is static)' if static else ''}", file=sys.stderr)

    msgs = load(a.corpus)
    ham = sorted((m for m in msgs if not m["spam"]), key=lambda m: (m["when"], m["id"]))
    spam = sorted((m for m in msgs if m["spam"]), key=lambda m: (m["when"], m["id"]))
    init_ham, ham = ham[: a.initial_ham], ham[a.initial_ham :]
    init_spam, spam = spam[: a.initial_spam], spam[a.initial_spam :]

    def take_probe(ms):
        by_size = sorted(ms, key=lambda m: (m["size"], m["id"]))
        p = by_size[len(by_size) // 2]
        ms.remove(p)
        return p["path"]

    probes = {"ham": take_probe(ham), "spam": take_probe(spam)}
    # Held out, spread over the months, never delivered: scored every week to see drift.
    heldout = []
    for cls in (ham, spam):
        step = max(1, len(cls) // a.heldout)
        picked = cls[step // 2 :: step][: a.heldout]
        heldout += picked
        for m in picked:
            cls.remove(m)
    per_day = collections.defaultdict(list)
    for cls in (ham, spam):
        for i, m in enumerate(cls):
            per_day[i * a.days // len(cls)].append(m)
    work = a.keep or tempfile.mkdtemp(prefix="months-")
    if a.keep:
        os.makedirs(work)
    sim = Sim(a, work)
    load_start = os.getloadavg()
    t_start = time.time()
    sim.setup(init_ham, init_spam)
    delivered = []
    for day in range(a.days):
        rec = collections.defaultdict(int)
        rec.update(day=day, date=(START + datetime.timedelta(days=day)).strftime("%Y-%m-%d"), delivery_ms=[], cron=[], _fn_noticed=[])
        todays = per_day[day]
        # Deliveries between 08:00 and 22:00, interleaved as they come (the two classes merged by order).
        rng = random.Random(a.seed * 1000 + day)
        rng.shuffle(todays)
        for i, m in enumerate(todays):
            sim.clock.at(day, 8 * 3600 + i * (14 * 3600 // max(1, len(todays))))
            sim.deliver(m, rec)
            delivered.append(m["id"])
        sim.clock.at(day, 22 * 3600 + 30 * 60)
        sim.read_new()
        sim.user_fixes(rec)
        sim.measure(rec, probes)
        if day % 7 == 0 or day == a.days - 1:
            rec["heldout"] = sim.score_heldout(heldout)
        if a.retrain_inbox and day % 7 == 6:
            sim.clock.at(day, 23 * 3600)
            p, _ = sim.spamfilt("train", "--no-progress", "--ham", os.path.join(sim.md, "cur"), kind="retrain-inbox")
            rec["retrain_inbox"] = (p.stdout + p.stderr).decode(errors="replace").strip()
        sim.night(day, rec)
        d = rec.pop("delivery_ms")
        rec["delivery_median_ms"] = round(statistics.median(d), 2) if d else None
        rec["deliveries"] = len(d)
        for k in ("ham", "spam", "fp", "fn", "fp_hard", "degraded", "unscored", "purged_spam", "purged_ham", "purged_ham_trained"):
            rec[k] += 0
        sim.days.append(dict(rec))
        r = sim.days[-1]
        print(
            f"day {day:3d} {r['date']}: {r['ham']:3d} ham {r['spam']:3d} spam  fp {r['fp']:2d} fn {r['fn']:2d}  "
            f"learned {r['learned_ham']}/{r['learned_spam']} tokens {r['tokens']} ledger {r['ledger']} ip {r['ip_records']}  "
            f"check {r['probe_ham_check_ms']:.1f} ms filter {r['probe_ham_filter_ms']:.1f} ms deliver {r['delivery_median_ms']} ms  "
            f"junk {r['junk_files']} purged {r.get('purged_spam', 0)}+{r.get('purged_ham', 0)}+{r.get('purged_ham_trained', 0)}",
            file=sys.stderr,
            flush=True,
        )
    acct = sim.account(delivered)
    latency = sim.latency_first_vs_last(probes, a.latency_rounds)
    result = dict(
        binary=os.path.abspath(a.spamfilt),
        clock=a.clock,
        days=a.days,
        seconds=round(time.time() - t_start, 1),
        load_start=load_start,
        load_end=os.getloadavg(),
        quick_start=sim.quick_start,
        crontab=[f"{j['minute']} {j['hour']} * * {j['dow']}  {j['command']}" for j in sim.crontab()],
        accounting=acct,
        latency_day0_vs_last=latency,
        log={k: v for k, v in sim.log.items()},
        daily=sim.days,
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    summary(result)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


def summary(r):
    days = r["daily"]
    print(f"# months.py: {r['days']} days, clock {r['clock']}, {r['seconds']} s, load {r['load_start'][0]:.2f} -> {r['load_end'][0]:.2f}")
    print(f"quick start: {r['quick_start']['stdout'].strip()} ({r['quick_start']['secs']} s)")
    for line in r["crontab"]:
        print(f"crontab: {line}")
    print()
    print("| week | ham | spam | ham in Junk | spam in inbox | learned ham/spam | tokens | ledger | ip records | tokens.db KiB | DB dir KiB | files | check ms (ham probe) | filter ms | delivery ms | purged spam/ham/trained-ham | cron mails |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w in range(0, len(days), 7):
        wk = days[w : w + 7]
        last = wk[-1]
        s = lambda k: sum(d.get(k, 0) for d in wk)
        med = lambda k: statistics.median([d[k] for d in wk if d.get(k) is not None])
        mails = sum(1 for d in wk for c in d["cron"] if c["mail"].strip() or c["rc"])
        print(
            f"| {w // 7 + 1} | {s('ham')} | {s('spam')} | {s('fp')} ({100 * s('fp') / max(1, s('ham')):.1f}%) | {s('fn')} ({100 * s('fn') / max(1, s('spam')):.1f}%) | "
            f"{last['learned_ham']}/{last['learned_spam']} | {last['tokens']} | {last['ledger']} | {last['ip_records']} | "
            f"{last['db_files'].get('tokens.db', 0) // 1024} | {sum(last['db_files'].values()) // 1024} | {len(last['db_files'])} | "
            f"{med('probe_ham_check_ms'):.2f} | {med('probe_ham_filter_ms'):.2f} | {med('delivery_median_ms'):.2f} | "
            f"{s('purged_spam')}/{s('purged_ham')}/{s('purged_ham_trained')} | {mails} |"
        )
    print()
    print("Held-out mail (never delivered), scored weekly:")
    print()
    print("| day | learned ham/spam | ham flagged | spam missed | ham mean / median score | ham mean Bayes / LR | spam mean score | 1-ROCA % | ham probe score (Bayes, LR) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for d in days:
        h = d.get("heldout")
        if not h:
            continue
        print(
            f"| {d['day']} | {d['learned_ham']}/{d['learned_spam']} | {h['ham_flagged']} of {h['ham']} | {h['spam_missed']} of {h['spam']} | "
            f"{h['ham_mean_score']} / {h['ham_median_score']} | {h['ham_mean_bayes']} / {h['ham_mean_lr']} | {h['spam_mean_score']} | {h['one_minus_roca_percent']} | "
            f"{d['probe_ham_score']} ({d['probe_ham_bayes']:.3f}, {d['probe_ham_lr']:.3f}) |"
        )
    print()
    for kind, m in r["latency_day0_vs_last"].items():
        print(
            f"{kind} probe, day-0 database against the last (median ms, interleaved): filter {m['filter_day0']} -> {m['filter_last']} "
            f"({m['filter_ratio']}x), check {m['check_day0']} -> {m['check_last']} ({m['check_ratio']}x)"
        )
    a = r["accounting"]
    print()
    print(f"accounting: delivered {a['delivered']}, inbox {a['inbox']}, junk {a['junk']}, purged {a['purged']}, missing {len(a['missing'])}, in two places {len(a['doubled'])}, stray files {len(a['strays'])}")
    print(f"purged copies learned again as spam into a copy of the database: {a.get('train_purged_again')}")
    print(f"spam in the inbox at the end: {a.get('spam_in_inbox_at_end')}, known as ham to the database: {a.get('inbox_spam_learned_as_ham')}")
    ham = sum(d["ham"] for d in days)
    spam = sum(d["spam"] for d in days)
    fp = sum(d["fp"] for d in days)
    fn = sum(d["fn"] for d in days)
    print(f"deliveries: ham in Junk {fp} of {ham} ({100 * fp / max(1, ham):.2f}%), spam in the inbox {fn} of {spam} ({100 * fn / max(1, spam):.2f}%)")
    jobs = collections.defaultdict(list)
    for d in days:
        for c in d["cron"]:
            jobs[c["job"]].append(c["secs"])
    for job, secs in jobs.items():
        print(f"cron {job}: {len(secs)} runs, median {statistics.median(secs):.3f} s, max {max(secs):.3f} s, last {secs[-1]:.3f} s")
    for k, v in r["log"].items():
        print(f"{k}: {len(v)}" + (f"  e.g. {json.dumps(v[0])[:400]}" if v else ""))
    last = days[-1]
    print(f"database directory at the end: {json.dumps(last['db_files'])}")
    print(f"leftovers at the end: {last['leftovers']}")


if __name__ == "__main__":
    main()
