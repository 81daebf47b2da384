"""Fuzzing the checker end to end: random, malformed and hostile claims.

Every claim gets verdicts from the allowed four (no exception escapes, no
hang: the isolated run kills a claim that runs over and goes on).  The
parser's own fuzzing is in test_formula_fuzz.py; this drives the same
inputs through resolution, test points, diagnoses and the child process.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.check import Checker
from symbackprop.claims import ClaimText
from symbackprop.isolate import run
from symbackprop.pipeline import example_path, prepare
from symbackprop.verdict import VERDICTS

from test_formula_fuzz import HOSTILE, SEEDS, TOKENS, mutated

CHECKERS = {"free": Checker(None),
            "numbered": Checker(prepare(example_path("worked_2331_numbered"))),
            "softmax": Checker(prepare(example_path("softmax_classifier")))}
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def assert_verdicts(vs, text):
    assert vs and all(v.verdict in VERDICTS for v in vs)
    assert all(v.text == text or v.verdict == "unparseable" for v in vs)
    for v in vs:
        if v.verdict == "unparseable":
            assert v.position is not None and v.expected


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=24), st.sampled_from(sorted(CHECKERS)))
def test_token_soup_gets_verdicts(tokens, which):
    text = " ".join(tokens)
    assert_verdicts(CHECKERS[which].check_text(text), text)


@FUZZ
@given(mutated(), st.sampled_from(sorted(CHECKERS)))
def test_mutated_seed_formulas_get_verdicts(text, which):
    assert_verdicts(CHECKERS[which].check_text(text), text)


@pytest.mark.parametrize("which", ["free", "numbered"])
def test_hostile_and_seed_claims_isolated(which, tmp_path):
    """Hostile inputs and the seeds, each claim in the killable child process."""
    marker = tmp_path / "marker"
    texts = [h.replace("{marker}", str(marker)) for h in HOSTILE] + SEEDS
    claims = [ClaimText(i + 1, t[:10_000]) for i, t in enumerate(texts)]
    vs = run(CHECKERS[which], claims, timeout=5.0)
    assert {v.line for v in vs} == {c.line for c in claims}
    assert all(v.verdict in VERDICTS for v in vs)
    assert not any((v.message or "").startswith("internal error") for v in vs)
    assert not marker.exists()
