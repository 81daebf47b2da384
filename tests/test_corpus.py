"""The reading corpus (tests/corpus, issue #13): every claim checked once, in one process,
against its expected verdict worked out by hand.

The issue's bars are 0 false incorrect, 0 false correct, ≥ 95 % of verdicts right,
≥ 90 % of the wrong claims with the right diagnosis and ≤ 5 % unparseable.  Asserted here
is what holds today: no right claim is judged incorrect and no wrong one correct
(``benchmarks/corpus_score.py`` prints the rest, with the misses).
"""
from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def _scorer():
    spec = importlib.util.spec_from_file_location("corpus_score",
                                                  ROOT / "benchmarks" / "corpus_score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SCORE = _scorer()


@pytest.fixture(scope="module")
def outcomes():
    results = SCORE.score()
    return [o for outs in results.values() for o in outs]


def _listed(misses) -> str:
    return "\n".join(f"{o.style}#{o.index + 1} {o.expect} → {o.verdict}: {o.claim['text']}"
                     for o in misses)


def test_the_corpus_has_thirty_claims_of_every_style_each_with_a_reason():
    for style in SCORE.STYLES:
        claims = SCORE.load(style)
        assert len(claims) >= 30, style
        for c in claims:
            assert c["expect"] in ("correct", "incorrect", "defined", "unparseable"), c
            assert c["source"] and c["why"], c
            assert ("mistake" in c) == (c["expect"] == "incorrect"), c
            assert c.get("mistake", "missing_fprime") in SCORE.DIAGNOSES, c
            if c["spec"] != "none":
                with open(CORPUS / style / c["spec"], "rb") as fh:
                    tomllib.load(fh)
    every = [c for s in SCORE.STYLES for c in SCORE.load(s)]
    unreadable = sum(c["expect"] == "unparseable" for c in every)
    wrong = sum(c["expect"] == "incorrect" for c in every)
    assert unreadable <= 0.05 * len(every) and 0.25 * len(every) <= wrong <= 0.5 * len(every)


def test_the_corpus_verdicts(outcomes):
    """One test over the corpus run (the run is 20 s; under xdist each test would redo it):
    no right claim judged incorrect, no wrong one correct, and a definition is never
    checked as a claim (incorrect) nor silently correct."""
    false = [o for o in outcomes if o.verdict == "incorrect" and o.expect in ("correct", "defined")]
    assert not false, "right claims judged incorrect:\n" + _listed(false)
    false = [o for o in outcomes
             if o.verdict in ("correct", "defined") and o.expect in ("incorrect", "unparseable")]
    assert not false, "wrong claims judged correct:\n" + _listed(false)
    lines = [o for o in outcomes if o.expect == "defined"]
    assert lines and all(o.verdict in ("defined", "unparseable") for o in lines), \
        _listed([o for o in lines if o.verdict not in ("defined", "unparseable")])
    assert sum(o.verdict == "defined" for o in lines) >= len(lines) // 2
