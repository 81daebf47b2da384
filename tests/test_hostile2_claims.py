"""Issue #23, limits that bound what they claim: claim extraction is linear, the time
limit is per claim (not per link), a whole `check` run has a deadline, and killing
`check` leaves no child running."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import alive
from hypothesis import given, settings, strategies as st

from symbackprop.checker.isolate import Deadline, run
from symbackprop.checker.verdict import Verdict
from symbackprop.formula.claims import (EQUATION, ClaimText, _clean, _top_level_rows, extract,
                                        split_equations)

# ---- extraction: the old regular-expression reader, as the reference --------------
MATH = re.compile(
    r"\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\begin\{(?P<env>equation|align|gather|multline|eqnarray)(?P<star>\*?)\}(?P<body>.+?)"
    r"\\end\{(?P=env)(?P=star)\}"
    r"|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$",
    re.DOTALL)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)


def regex_markup(text):
    text = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    out = []
    for m in MATH.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group("body") is not None:
            body = m.group("body")
            for pos, row in _top_level_rows(body):
                start = line + body.count("\n", 0, pos) + (len(row) - len(row.lstrip("\n")))
                out += [ClaimText(start, c) for c in split_equations(_clean(row))
                        if EQUATION.search(c)]
            continue
        group = next(g for g in ("display", "bracket", "inline") if m.group(g))
        body = m.group(group)
        line = text.count("\n", 0, m.start(group) + len(body) - len(body.lstrip())) + 1
        out += [ClaimText(line, c) for c in split_equations(_clean(body)) if EQUATION.search(c)]
    return out


TOKENS = ["$", "$$", "\\[", "\\]", "\\begin{align}", "\\end{align}", "\\begin{equation*}",
          "\\end{equation*}", "\\end{equation}", "\\begin{alignat}", "```", "~~~", "\n", "a",
          "=", " ", "\\", "&", "\\\\", "\\quad", "x", "\\$"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30))
def test_the_one_pass_reader_finds_what_the_regular_expression_found(tokens):
    text = "".join(tokens)
    assert extract(text, "markup") == regex_markup(text)


@pytest.mark.parametrize("text", [
    "$x$ " * 80_000,                       # 0.32 MB: 27 s before
    "\\[" * 240_000,                       # 480 KB: 15 s for 48 KB before
    "$$" * 240_000,
    "\\begin{equation}" * 30_000,
    "```\n" + "~~~x\n" * 100_000,
    "\\begin{align}" + "a &= b \\\\\n" * 20_000 + "\\end{align}",
], ids=["inline", "bracket", "display", "environment", "fence", "align-rows"])
def test_extraction_is_linear(text):
    start = time.process_time()
    extract(text, "markup")
    assert time.process_time() - start < 3.0       # linear: well under a second here


def test_ten_thousand_claims_are_extracted_and_checked_once_each_text():
    text = "".join(f"$w_{{{i % 3}}} = {i % 7}$\n" for i in range(10_000))
    start = time.process_time()
    claims = extract(text, "markup")
    assert len(claims) == 10_000 and claims[-1].line == 10_000
    calls = []

    def check(claim):
        calls.append(claim.text)
        return [Verdict(claim.line, claim.text, "correct")]

    results = run(check, claims, isolate=False)
    assert len(calls) == 21 and [v.line for v in results[9_999]] == [10_000]
    assert time.process_time() - start < 5.0


def test_byte_order_mark_before_a_claim():
    assert extract("\ufeffdE/dz = a - y\n") == [ClaimText(1, "dE/dz = a - y")]
    assert extract("\ufeff$a = b$", "markup") == [ClaimText(1, "a = b")]


# ---- time limits ------------------------------------------------------------------
def sleepy(claim):
    """A check that takes 0.3 s a link (sleeping: no CPU)."""
    time.sleep(0.3 * claim.text.count("="))
    return []


def test_the_time_limit_is_per_claim_not_per_link():
    claim = ClaimText(1, " = ".join(["a"] * 31))           # 30 links: 9 s of work
    start = time.monotonic()
    [verdicts] = run(sleepy, [claim], timeout=1.0)
    assert time.monotonic() - start < 6.0                 # 1 s and a fork (was 9 s: all links)
    assert verdicts[0].verdict == "undecided" and "1 s" in verdicts[0].message


def test_a_whole_run_stops_at_its_deadline():
    claims = [ClaimText(i, f"a{i} = b = c") for i in range(1, 11)]   # 0.6 s each: 6 s in all
    start = time.monotonic()
    out = run(sleepy, claims, timeout=5.0, deadline=Deadline.after(2.0))
    assert time.monotonic() - start < 5.0
    assert out[0] == []
    assert all(v[0].verdict == "undecided" and "whole run (2 s)" in v[0].message
               for v in out[4:])


CHECKS = """
import os, sys, time
from symbackprop.checker.isolate import run
from symbackprop.formula.claims import ClaimText
def stuck(claim):
    os.write(1, f"{os.getppid()} {os.getpid()}\\n".encode())   # one write: three workers share the pipe
    time.sleep(120)
for _ in range(3):
    if os.fork() == 0:
        try:
            run(stuck, [ClaimText(1, "a = b")], timeout=300)
        finally:
            os._exit(0)                                # no atexit clean-up: the kernel's job
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_check_leaves_no_child_running():
    """SIGKILL, SIGTERM and Ctrl-C (SIGINT) of a checking process end its worker too
    (before: a worker alive 40 s after kill -9)."""
    main = subprocess.Popen([sys.executable, "-c", CHECKS], stdout=subprocess.PIPE, text=True)
    try:
        pairs = [tuple(map(int, main.stdout.readline().split())) for _ in range(3)]
        for (parent, worker), sig in zip(pairs, (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)):
            assert alive(worker)
            os.kill(parent, sig)
            until = time.monotonic() + 10
            while alive(worker) and time.monotonic() < until:
                time.sleep(0.05)
            assert not alive(worker), f"worker {worker} outlived its parent ({sig.name})"
    finally:
        main.kill()
        main.wait()
