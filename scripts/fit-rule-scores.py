#!/usr/bin/env python3
"""Fits the default rule scores in data/rules.toml from labelled mail.

Runs `spamfilt check --no-bayes --json` over the training ham and spam, then fits one weight per
rule by L2-regularised logistic regression (pulled towards the rule's current score, so a rule
with little evidence keeps its prior), weights kept in [0, MAX]. Ham errors cost COST times spam
errors, because a lost ham costs the user more than a missed spam. Scores are written back in
points (POINTS_PER_NAT points per nat of log-odds, the same scale as Bayes points with
bayes_points_per_decade = 4.0), rounded to 0.1.

Usage: scripts/fit-rule-scores.py --ham @h1.list --spam @s1.list [--write]
       (prints per-rule hit rates and the fitted scores; --write updates data/rules.toml)
"""
import argparse, json, math, os, re, subprocess, sys

POINTS_PER_NAT = 4.0 / math.log(10)  # 1.737
COST = 10.0
MAX_POINTS = 5.0
LAMBDA = 2.0

ap = argparse.ArgumentParser()
ap.add_argument("--ham", nargs="+", required=True)
ap.add_argument("--spam", nargs="+", required=True)
ap.add_argument("--bin", help="the spamfilt binary (default: build this checkout's release binary)")
ap.add_argument("--write", action="store_true")
a = ap.parse_args()
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
if not a.bin:
    # Where cargo puts the release binary depends on .cargo/config.toml (target/<host triple>/release/).
    out = subprocess.run(["cargo", "build", "--release", "--message-format=json-render-diagnostics"], cwd=root,
                         check=True, capture_output=True, text=True).stdout
    a.bin = next(m["executable"] for m in map(json.loads, out.splitlines())
                 if m.get("executable") and m["target"]["name"] == "spamfilt")
rules_path = os.path.join(root, "data", "rules.toml")
text = open(rules_path).read()
blocks = re.split(r"(?m)^(?=\[\[rule\]\])", text)
prior = {}
for b in blocks:
    m = re.search(r'(?m)^name = "([A-Z0-9_]+)"', b)
    s = re.search(r"(?m)^score = (-?[0-9.]+)", b)
    if m and s:
        prior[m.group(1)] = float(s.group(1))
names = sorted(prior)
idx = {n: i for i, n in enumerate(names)}

def hits(paths):
    env = dict(os.environ, SPAMFILT_DB="/nonexistent-spamfilt-fit", SPAMFILT_CONFIG="/dev/null")
    out = subprocess.run([a.bin, "-q", "check", "--no-bayes", "--json", *paths], capture_output=True, text=True, env=env, check=False).stdout
    return [[idx[t] for t in json.loads(l)["tests"] if t in idx] for l in out.splitlines()]

H, S = hits(a.ham), hits(a.spam)
X = H + S
y = [0] * len(H) + [1] * len(S)
wt = [COST / len(H)] * len(H) + [1.0 / len(S)] * len(S)
w0 = [prior[n] / POINTS_PER_NAT for n in names]
w = list(w0)
b = -3.0
lr = 0.5
for it in range(3000):
    gw = [2 * LAMBDA * (w[i] - w0[i]) / len(y) for i in range(len(w))]
    gb = 0.0
    for xi, yi, ci in zip(X, y, wt):
        z = b + sum(w[j] for j in xi)
        p = 1 / (1 + math.exp(-max(-30, min(30, z))))
        g = ci * (p - yi)
        gb += g
        for j in xi:
            gw[j] += g
    b -= lr * gb
    for i in range(len(w)):
        w[i] = min(MAX_POINTS / POINTS_PER_NAT, max(0.0, w[i] - lr * gw[i]))
# Scale so that the default threshold 5.0 gives at most TARGET_FP false positives on the
# training ham (rules alone), and never scale up.
TARGET_FP = 0.003
raw = [sum(w[j] for j in xi) * POINTS_PER_NAT for xi in H]
raw.sort(reverse=True)
allowed = int(TARGET_FP * len(H))
t = raw[allowed] if allowed < len(raw) else 0.0
scale = min(1.0, 5.0 / t) if t > 0 else 1.0
print(f"intercept {b:.2f} nats; ham score at {100*TARGET_FP}% FP before scaling {t:.2f}; scale {scale:.3f}")
new = {n: round(w[idx[n]] * POINTS_PER_NAT * scale, 1) for n in names}
hc = [0] * len(names); sc = [0] * len(names)
for xi in H:
    for j in xi: hc[j] += 1
for xi in S:
    for j in xi: sc[j] += 1
print(f"{'rule':28s} {'ham':>6s} {'spam':>6s} {'prec':>6s} {'prior':>6s} {'fitted':>6s}")
for n in sorted(names, key=lambda n: -new[n]):
    i = idx[n]
    prec = sc[i] / len(S) / max(1e-9, sc[i] / len(S) + hc[i] / len(H))
    print(f"{n:28s} {hc[i]:6d} {sc[i]:6d} {prec:6.3f} {prior[n]:6.1f} {new[n]:6.1f}")
def score(xi, sc): return sum(sc[names[j]] for j in xi)
for label, sc_ in (("prior", prior), ("fitted", new)):
    fp = sum(score(x, sc_) >= 5 for x in H); tp = sum(score(x, sc_) >= 5 for x in S)
    print(f"{label}: at 5.0 on the training mail: FP {fp}/{len(H)} ({100*fp/len(H):.2f}%), spam caught {tp}/{len(S)} ({100*tp/len(S):.1f}%)")
if a.write:
    out = []
    for bl in blocks:
        m = re.search(r'(?m)^name = "([A-Z0-9_]+)"', bl)
        if m and m.group(1) in new:
            n = m.group(1)
            # Rules the training mail never fires keep their prior.
            val = new[n] if hc[idx[n]] + sc[idx[n]] > 0 else prior[n]
            # A rule the fit gives nothing stays informational (shows in tests=, adds 0.001),
            # as SpamAssassin does; 0 would disable it.
            val = max(val, 0.001)
            bl = re.sub(r"(?m)^score = (-?[0-9.]+)", f"score = {val}", bl, count=1)
        out.append(bl)
    open(rules_path, "w").write("".join(out))
    print("wrote", rules_path)
