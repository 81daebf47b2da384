"""Fuzzing the checker end to end: random, malformed and hostile claims.

Every claim gets verdicts from the allowed four (no exception escapes, no
hang: the isolated run kills a claim that runs over and goes on).  The
parser's own fuzzing is in test_formula_fuzz.py; this drives the same
inputs through resolution, test points, diagnoses and the child process.
"""
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.checker.context import make_context
from symbackprop.checker.engine import check_claim, check_text
from symbackprop.formula.claims import ClaimText
from symbackprop.checker.isolate import run
from symbackprop.api import example_path, prepare
from symbackprop.checker.verdict import VERDICTS

from test_formula_fuzz import HOSTILE, SEEDS, TOKENS, mutated

CHECKERS = {"free": make_context(None),
            "numbered": make_context(prepare(example_path("worked_2331_numbered"))),
            "softmax": make_context(prepare(example_path("softmax_classifier")))}
FUZZ = settings(max_examples=300, deadline=None,
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
    assert_verdicts(check_text(CHECKERS[which], text), text)


ATOMS = {"free": ["x", "z", "a", "2", "0.5", "1", "e^{-z}", r"\sigma(z)", "tanh(a)", r"\ln(x)"],
         "numbered": ["out_n9", "net_n9", "out_n6", "net_n6", "w16", "w7", "y", "x1", "0.5", "2",
                      "E_total", "dE_total/dw16", "dout_n9/dnet_n9", "dE_total/dw1",
                      "relu'(net_n6)", "delta_n9", "0.7935"],
         "softmax": ["a^2_1", "a^2_2", "y_1", "z^2_1", r"\delta^2_1", "w^2_{11}", "x_1",
                     "dE/dz^2_1", "dE/dw^2_{11}", "dE/da^1_1", "1", "0.25"]}


@st.composite
def well_formed(draw):
    """A claim the parser reads, so resolution, points and diagnoses all run."""
    which = draw(st.sampled_from(sorted(ATOMS)))
    expr = st.recursive(
        st.sampled_from(ATOMS[which]),
        lambda inner: st.one_of(
            st.builds(lambda f, e: f.format(e),
                      st.sampled_from([r"\sigma({})", "tanh({})", "exp({})", "log({})", "({})^2",
                                       "1 - {}", "-{}"]), inner),
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner,
                      st.sampled_from(["+", "-", "*", "/"]), inner)),
        max_leaves=6)
    sides = draw(st.lists(expr, min_size=2, max_size=3))
    return which, " = ".join(sides)


@FUZZ
@given(well_formed())
def test_well_formed_claims_get_verdicts(case):
    which, text = case
    vs = check_text(CHECKERS[which], text)
    assert_verdicts(vs, text)
    assert len(vs) == text.count("=") or vs[0].verdict == "unparseable"


@FUZZ
@given(mutated(), st.sampled_from(sorted(CHECKERS)))
def test_mutated_seed_formulas_get_verdicts(text, which):
    assert_verdicts(check_text(CHECKERS[which], text), text)


@pytest.mark.parametrize("which", ["free", "numbered"])
def test_hostile_and_seed_claims_isolated(which, tmp_path):
    """Hostile inputs and the seeds, each claim in the killable child process."""
    marker = tmp_path / "marker"
    texts = [h.replace("{marker}", str(marker)) for h in HOSTILE] + SEEDS
    claims = [ClaimText(i + 1, t[:10_000]) for i, t in enumerate(texts)]
    vs = [v for r in run(partial(check_claim, CHECKERS[which]), claims, timeout=5.0) for v in r]
    assert {v.line for v in vs} == {c.line for c in claims}
    assert all(v.verdict in VERDICTS for v in vs)
    assert not any((v.message or "").startswith("internal error") for v in vs)
    assert not marker.exists()
