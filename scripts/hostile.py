#!/usr/bin/env python3
"""Hostile shapes: does any message cost more than its size says? (issue 15, docs/reliability.md)

    scripts/hostile.py [--spamfilt PATH] [--base 32000] [--repeat 3] [--only NAME,...] [--mode filter|check]
                       [--valgrind] [--json FILE]

Builds each hostile shape (URLs, comments, tags, MIME parts, encoded words, long headers, many
Received lines, split words, long lines, deep nesting, attachments, base64/QP edge cases, ...) at
1x, 4x and 16x of --base bytes (16x = 512,000 bytes: just under the 512 KiB scan limit, so all of
it is parsed), runs the release binary's filter (a delivery: `spamfilt --db EMPTY --config CFG`
with the message on stdin) on each, and reports the CPU time (user + system of the child, the
median of --repeat runs: less sensitive to other load on a shared machine than wall time) and the
growth ratios of the time above a one-line message's. Linear growth is about 4x per 4x; a scan
restarted at every step shows 16x. The target: no 512 KB input above 50 ms, no ratio near 16.

--valgrind counts the instructions each run executes (callgrind: an operation count, exactly
repeatable, independent of load) instead of timing; slow (about 50x), so use it with --only.

Writes a Markdown table to stdout; --json also writes the figures.
"""

import argparse
import base64
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fill(unit, n):
    """`unit` repeated to about n bytes."""
    if isinstance(unit, str):
        unit = unit.encode()
    return unit * max(1, n // len(unit))


def msg(headers, body, ctype=b"text/plain"):
    return b"From: a@b.example\nSubject: x\nMIME-Version: 1.0\nContent-Type: " + ctype + b"\n" + headers + b"\n" + body + b"\n"


def multipart(parts):
    out = b"From: a@b.example\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=z\n\n"
    for p in parts:
        out += b"--z\n" + p
    return out + b"--z--\n"


def html_parts(unit, n, count=2):
    """The issue's recipe: `count` HTML parts of `unit` repeated, n bytes in all."""
    return multipart([b"Content-Type: text/html\n\n" + fill(unit, n // count) + b"\n"] * count)


def text_parts(unit, n, count=8):
    return multipart([b"Content-Type: text/plain\n\n" + fill(unit, n // count) + b"\n"] * count)


def nested(n):
    depth = max(1, n // 60)
    head = b"".join(b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(depth))
    tail = b"".join(b"--b%d--\n" % i for i in reversed(range(depth + 1)))
    return b"From: a@b.example\nSubject: x\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b0\n\n" + head + b"--b%d\nContent-Type: text/plain\n\nhi\n" % depth + tail


def attachments(n):
    one = b'Content-Type: application/octet-stream; name="a.pdf.exe"\nContent-Disposition: attachment; filename="a.pdf.exe"\nContent-Transfer-Encoding: base64\n\nQUFBQUFB\n'
    return multipart([one] * max(1, n // (len(one) + 4)))


def tiny_parts(n):
    one = b"Content-Type: text/plain\n\nx www.a.example\n"
    return multipart([one] * max(1, n // (len(one) + 4)))


def html_tags_deep(n):
    half = n // 2
    return msg(b"", fill("<div>", half) + fill("</x>", half), b"text/html")


SHAPES = {
    # find_urls: '://' with no scheme, again and again (the recipe), in HTML and text parts
    "url-colon-slash-html": lambda n: html_parts(" ://", n),
    "url-colon-slash-text": lambda n: text_parts(" ://", n),
    "url-www-in-word": lambda n: text_parts("xwww.", n),
    "url-many-links-text": lambda n: text_parts(" http://a.example/x", n),
    "url-one-long-url": lambda n: msg(b"", b"http://a.example/" + fill("a.php?", n)),
    "url-php-id": lambda n: msg(b"", b"<a href=\"http://a.example/" + fill(".php?", n) + b"\">x</a>", b"text/html"),
    "url-distinct-domains": lambda n: msg(b"", b"".join(b'<a href="http://d%d.example/">l</a> http://e%d.example/ ' % (i, i) for i in range(n // 60)), b"text/html"),
    # the HTML rules: a comment splitting a word, an empty tag splitting a word, font size
    "html-comment-in-word": lambda n: html_parts("a<!--", n),
    "html-comment-unclosed": lambda n: msg(b"", b"<!--" + fill("a-", n), b"text/html"),
    "html-empty-tag": lambda n: html_parts("ab<b ", n),
    "html-font-size": lambda n: msg(b"", fill("font-size: ", n), b"text/html"),
    "html-many-tags": lambda n: msg(b"", fill("<b>x", n), b"text/html"),
    "html-unclosed-tags": lambda n: msg(b"", fill("<a href=", n), b"text/html"),
    "html-unclosed-quote": lambda n: msg(b"", b"<a href=\"" + fill("x ", n), b"text/html"),
    "html-deep-then-close": html_tags_deep,
    "html-entities": lambda n: msg(b"", fill("&#105;&amp", n), b"text/html"),
    "html-lone-lt": lambda n: msg(b"", fill("a<", n), b"text/html"),
    "html-script-unclosed": lambda n: msg(b"", fill("<script><", n), b"text/html"),
    "html-style-urls": lambda n: msg(b"", b"<style>" + fill("url(x) ", n) + b"</style>", b"text/html"),
    "html-hidden-nesting": lambda n: msg(b"", fill('<span style="display:none">', n), b"text/html"),
    # text rules and the tokenizer
    "split-words": lambda n: text_parts("v.i.a.g.r.a ", n),
    "split-one-run": lambda n: msg(b"", fill("a.", n)),
    "spaced-letters": lambda n: msg(b"", fill("a ", n)),
    "long-line-no-space": lambda n: msg(b"", fill("a", n)),
    "long-line-punct": lambda n: msg(b"", fill(".-'", n)),
    "exclamations": lambda n: msg(b"", fill("!", n)),
    "mixed-script": lambda n: msg(b"Content-Transfer-Encoding: 8bit\n", fill("a\xd0\xb0b ", n), b"text/plain; charset=utf-8"),
    "mixed-script-one-word": lambda n: msg(b"Content-Transfer-Encoding: 8bit\n", fill("a\xd0\xb0", n), b"text/plain; charset=utf-8"),
    "zero-width": lambda n: msg(b"Content-Transfer-Encoding: 8bit\n", fill("a\xe2\x80\x8b", n), b"text/plain; charset=utf-8"),
    "cjk": lambda n: msg(b"Content-Transfer-Encoding: 8bit\n", fill("\xe4\xb8\xad\xe6\x96\x87", n), b"text/plain; charset=utf-8"),
    "money": lambda n: msg(b"", fill("$1 ", n)),
    "phrases": lambda n: msg(b"", fill("klik hier ", n)),
    "email-words": lambda n: msg(b"", fill("a@b.c ", n)),
    # MIME structure
    "mime-many-parts": tiny_parts,
    "mime-attachments": attachments,
    "mime-nested": nested,
    "mime-boundary-lookalikes": lambda n: multipart([b"Content-Type: text/plain\n\n" + fill("--z-\n", n) + b"\n"]),
    "base64-garbage": lambda n: msg(b"Content-Transfer-Encoding: base64\n", fill("!@#$", n)),
    "base64-text": lambda n: msg(b"Content-Transfer-Encoding: base64\n", base64.encodebytes(fill("hello world ", n * 3 // 4))),
    "qp-soft-breaks": lambda n: msg(b"Content-Transfer-Encoding: quoted-printable\n", fill("=\n", n)),
    "qp-escapes": lambda n: msg(b"Content-Transfer-Encoding: quoted-printable\n", fill("=3D=", n)),
    # headers
    "header-one-long": lambda n: b"From: a@b.example\nSubject: " + fill("x ", n) + b"\n\nhi\n",
    "header-many-lines": lambda n: fill("X-A: b\n", n) + b"From: a@b.example\n\nhi\n",
    "header-many-folds": lambda n: b"Subject: x\n" + fill(" y\n", n) + b"\nhi\n",
    "header-encoded-words": lambda n: b"From: a@b.example\nSubject: " + fill("=?utf-8?b?QUFB?= ", n) + b"\n\nhi\n",
    "header-encoded-unclosed": lambda n: b"From: a@b.example\nSubject: " + fill("=?utf-8?q?", n) + b"\n\nhi\n",
    "header-from-angles": lambda n: b"From: " + fill("<a@b ", n) + b"\nSubject: x\n\nhi\n",
    "header-to-many": lambda n: b"From: a@b.example\nTo: " + fill("a@b.example, ", n) + b"\nSubject: x\n\nhi\n",
    "header-xspam-forged": lambda n: fill("X-Spam-Flag: YES\n", n) + b"Subject: x\n\nhi\n",
    "received-many": lambda n: fill("Received: from a.example (a.example [203.0.113.5]) by mx.example with ESMTP id 1; Mon, 1 Jan 2024 00:00:00 +0000\n", n) + b"From: a@b.example\nSubject: x\n\nhi\n",
    "received-one-long": lambda n: b"Received: from " + fill("(a [", n) + b"\nFrom: a@b.example\n\nhi\n",
    "received-brackets": lambda n: b"Received: " + fill("[1.2.3.4] ", n) + b"\nFrom: a@b.example\n\nhi\n",
    # a `"` outside a quoted part is ordinary, inside one `\` escapes it: every `"` scanned to the end
    "received-quote-escapes": lambda n: b"Received: from x " + fill('"\\', n) + b" by mx.example with ESMTP; d\nFrom: a@b.example\n\nhi\n",
    # a run of letters and separators that is no split word (a digit after it), in the text and the Subject
    "split-run-then-digit": lambda n: msg(b"", fill("a.", min(n, 120_000)) + b"a1"),
    "subject-split-run": lambda n: b"From: a@b.example\nSubject: " + fill("a.", n) + b"a1\n\nhi\n",
    # RFC 2231: quotes of an encoded value after many parameters; many continuations
    "rfc2231-quotes": lambda n: b"From: a@b.example\nMIME-Version: 1.0\nContent-Type: text/plain; " + fill("a=x; ", n // 2) + b"name*=utf-8'en'" + fill("x'", n // 2) + b"\n\nhi\n",
    "rfc2231-continuations": lambda n: multipart([b"Content-Disposition: attachment; " + fill("f*1=a; ", n) + b"\n\nx\n"]),
    # mail-parser reads to the end for each multipart part whose boundary never comes (found by examples/fuzz_slow.rs)
    "multipart-boundary-never-used": lambda n: multipart([b"Content-Type: multipart/mixed; boundary=never\n\n"] * (n // 50)),
    # the same with the type on a folded line, which the first guard did not see (4.3 s at 512 KB)
    "multipart-boundary-never-used-folded": lambda n: multipart([b"Content-Type:\n multipart/mixed;\n boundary=never\n\n"] * (n // 50)),
    "no-body-separator": lambda n: fill("X-A: b\n", n),
    "crlf-blank-lines": lambda n: b"Subject: x\r\n\r\n" + fill("\r\n", n),
    "binary-junk": lambda n: b"Subject: x\n\n" + bytes((i * 7919) % 256 for i in range(n)),
}


def build(name, n):
    return SHAPES[name](n)


def cpu_run(argv, path):
    """CPU seconds (user + system) of one run of argv with path on stdin."""
    with open(path, "rb") as f:
        p = subprocess.Popen(argv, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"hostile: {argv} on {path} exited with {status}")
    return ru.ru_utime + ru.ru_stime


def instructions(argv, path):
    with open(path, "rb") as f:
        r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], stdin=f,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if not m:
        sys.exit(f"hostile: no instruction count from valgrind:\n{r.stderr[-2000:]}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spamfilt", help="the binary (default: the release build of this checkout)")
    ap.add_argument("--base", type=int, default=32000, help="bytes at 1x (16x must stay under the 512 KiB scan limit)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated shape names")
    ap.add_argument("--mode", choices=["filter", "check"], default="filter")
    ap.add_argument("--valgrind", action="store_true", help="count instructions instead of timing")
    ap.add_argument("--json")
    args = ap.parse_args()
    if args.spamfilt:
        sf = os.path.abspath(args.spamfilt)
    else:
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        from bench import release_binary

        sf = release_binary()
    names = args.only.split(",") if args.only else list(SHAPES)
    tmp = tempfile.mkdtemp(prefix="spamfilt-hostile-")
    db, cfg = os.path.join(tmp, "db"), os.path.join(tmp, "config.toml")
    os.mkdir(db, 0o700)
    open(cfg, "w").close()
    argv = [sf, "--db", db, "--config", cfg] + (["-q", "check", "-"] if args.mode == "check" else [])
    measure = (lambda p: instructions(argv, p)) if args.valgrind else (
        lambda p: statistics.median(cpu_run(argv, p) for _ in range(args.repeat)))
    unit = "instructions" if args.valgrind else "ms"
    scale = 1 if args.valgrind else 1000
    base_path = os.path.join(tmp, "base.eml")
    with open(base_path, "wb") as f:
        f.write(b"From: a@b.example\nSubject: x\n\nhi\n")
    base = measure(base_path)
    rows, results = [], {"unit": unit, "baseline": base * scale, "shapes": {}}
    print(f"| shape | bytes at 16x | {unit} at 1x | 4x | 16x | 4x/1x | 16x/4x |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        figures, sizes = [], []
        for k in (1, 4, 16):
            data = build(name, args.base * k)
            path = os.path.join(tmp, f"{name}-{k}.eml")
            with open(path, "wb") as f:
                f.write(data)
            sizes.append(len(data))
            figures.append(measure(path))
        above = [max(v - base, 1e-9 if not args.valgrind else 1) for v in figures]
        r1, r2 = above[1] / above[0], above[2] / above[1]
        results["shapes"][name] = {"bytes": sizes, unit: [v * scale for v in figures], "ratios": [r1, r2]}
        fmt = (lambda v: f"{v:,}") if args.valgrind else (lambda v: f"{v * scale:.1f}")
        line = f"| {name} | {sizes[2]:,} | {fmt(figures[0])} | {fmt(figures[1])} | {fmt(figures[2])} | {r1:.1f} | {r2:.1f} |"
        print(line, flush=True)
        rows.append(line)
    print(f"\nbaseline (a one-line message): {base * scale:,.1f} {unit}; ratios are of the {unit} above it")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
