"""Definition lines (``defined``), batch numbers, and true identities in every spelling
(issue #13).  Expected values are worked by hand (tests/corpus/hand_values.py has the
NumPy forward/backward passes they come from)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import check, prepare
from symbackprop.api import report_text
from symbackprop.checker.engine import check_claims
from symbackprop.checker.report import report_json
from symbackprop.checker.verdict import VERDICTS

CORPUS = Path(__file__).resolve().parent / "corpus"
TWO_LAYER = CORPUS / "cs231n" / "twolayer.toml"     # 2-3(relu)-3(softmax), class 2
GOODFELLOW = CORPUS / "goodfellow" / "network.toml"  # 2-2(softplus)-2(sigmoid), ½‖ŷ − y‖²
BATCH = CORPUS / "dlai" / "batch.toml"               # 3-3(tanh)-1(sigmoid), BCE, m = 3


@pytest.fixture(scope="module")
def two_layer():
    return prepare(TWO_LAYER)


def _verdicts(model, text, kind="text"):
    return [(v.line, v.verdict) for v in check(model, text, kind=kind, isolate=False)]


NUMPY_FILE = """hidden_layer = np.maximum(0, np.dot(W1, x) + b1)
scores = np.dot(W2, hidden_layer) + b2
probs = np.exp(scores) / np.sum(np.exp(scores))
dscores = probs - y
dhidden = np.dot(W2.T, dscores)
dhidden = np.dot(W2, dscores)
L = -np.sum(y * np.log(probs))
"""


def test_numpy_definitions_define_their_names_for_the_lines_after_them(two_layer):
    found = check(two_layer, NUMPY_FILE, isolate=False)
    got = {v.line: v for v in found}
    assert [got[k].verdict for k in (1, 2, 3)] == ["defined"] * 3
    # probs is the softmax output a^2, so dscores is ∂L/∂scores = ∂L/∂z^2 = p − y
    assert got[4].verdict == "correct" and got[5].verdict == "correct" and got[7].verdict == "correct"
    # W2 (not W2ᵀ) times dscores: entry 1 is 0.5·0.381224 − 0.2·(−0.644549) + 0.3·0.263325
    # = 0.398911, while ∂L/∂h_1 = 0.630006 (hand_values.py, cs231n_twolayer)
    assert got[6].verdict == "incorrect"
    assert "scores" in got[2].notes[0] and "pre-activation" in got[2].notes[0]


def test_a_definition_is_reported_as_defined_in_json_text_and_summary(two_layer):
    report = check_claims(two_layer, NUMPY_FILE, isolate=False)
    data = report_json([report])
    assert "defined" in VERDICTS and data["summary"]["defined"] == 3
    assert {c["verdict"] for c in data["claims"] if c["line"] <= 3} == {"defined"}
    assert report.ok is False                   # line 6 is wrong; definitions are not
    text = report_text([report], two_layer)
    assert "line 1: def " in text and "3 defined" in text and "value:" in text
    assert check_claims(two_layer, NUMPY_FILE.splitlines()[0] + "\n", isolate=False).ok


def test_a_name_of_the_network_family_is_not_defined_by_a_typo():
    """out_{o3} (no such neuron) and w19 stay unreadable, never `defined`."""
    model = prepare(CORPUS / "mazur" / "network.toml")
    assert [v for _, v in _verdicts(model, "out_{o3} = 0.5\nw19 = 0.3\n")] == \
        ["unparseable", "unparseable"]


def test_an_update_of_a_parameter_stays_an_update():
    model = prepare(CORPUS / "mazur" / "network.toml")
    # w5 − η ∂E/∂w5 = 0.4 − 0.5·0.082167041 = 0.35891648 (the post's value)
    assert _verdicts(model, "w5 := 0.35891648\n") == [(1, "correct")]
    assert _verdicts(model, "w5 := 0.44108352\n") == [(1, "incorrect")]


def test_goodfellow_pre_activation_is_defined_and_read_as_z():
    model = prepare(GOODFELLOW)
    text = (r"$a^{(k)} = b^{(k)} + W^{(k)} h^{(k-1)}$" "\n\n"
            r"$\nabla_{a^{(2)}} J = (h^{(2)} - y) \odot \sigma'(a^{(2)})$" "\n\n"
            r"$\nabla_{a^{(2)}} J = h^{(2)} - y$" "\n\n"
            r"$\frac{\partial J}{\partial a^{(2)}_1} = 0.1480$" "\n")
    # ∂J/∂a^{(2)}_1 = (0.654641 − 0)·0.654641·0.345359 = 0.148005 (hand_values.py)
    assert _verdicts(model, text, "markup") == [(1, "defined"), (3, "correct"),
                                                (5, "incorrect"), (7, "correct")]


def test_a_line_about_a_in_a_spec_whose_letters_are_z_and_h_defines_a():
    """h is this spec's activation letter and z its pre-activation: a is the activation in
    Nielsen and the pre-activation in Goodfellow, so it is no name of the spec.  a^{(1)} =
    ζ(z^{(1)}) defines it (as the activation h^{(1)}, which it equals), and a line using a
    without a definition is unparseable naming both readings."""
    model = prepare(GOODFELLOW)
    text = (r"$a^{(1)} = \log(1 + e^{z^{(1)}})$" "\n\n"
            r"$\frac{\partial J}{\partial a^{(1)}_1} = \frac{\partial J}{\partial h^{(1)}_1}$" "\n")
    assert _verdicts(model, text, "markup") == [(1, "defined"), (3, "correct")]
    found = check(model, r"$\nabla_{a^{(2)}} J = \hat{y} - y$" "\n", kind="markup", isolate=False)
    assert [v.verdict for v in found] == ["unparseable"]
    assert "pre-activation" in found[0].message and "Goodfellow" in found[0].message


def test_a_leftarrow_definition_of_a_new_name_then_redefined():
    model = prepare(TWO_LAYER)
    text = "g \\leftarrow a^2 - y\ndW2 = np.dot(g, (a^1).T)\ng \\leftarrow np.dot(W2.T, g)\n" \
           "dz1 = g * (z^1 > 0)\n"
    assert _verdicts(model, text) == [(1, "defined"), (2, "correct"), (3, "defined"),
                                      (4, "correct")]


# ---- batch numbers ---------------------------------------------------------------
def _bce(a, y):
    return -(y * math.log(a) + (1 - y) * math.log(1 - a))


def test_a_batch_number_is_the_batch_not_the_first_example():
    # per-example outputs of hand_values.py (dlai, batch of m = 3)
    losses = [_bce(0.730233166658, 1), _bce(0.64371812345, 0), _bce(0.334902978993, 1)]
    J = sum(losses) / 3
    assert round(J, 4) == 0.8134 and round(losses[0], 4) == 0.3144 and round(3 * J, 4) == 2.4403
    model = prepare(BATCH)
    found = check(model, "J = 0.8134\nJ = 0.3144\nJ = 2.4403\ndJ/db2 = -0.0970\n",
                  isolate=False)
    assert [v.verdict for v in found] == ["correct", "incorrect", "incorrect", "correct"]
    assert "first example" in found[1].diagnosis and "1/m" in found[2].diagnosis


def test_a_sum_batch_is_summed():
    text = BATCH.read_text().replace("[notation]", '[network]\nbatch = "sum"\n\n[notation]')
    model = prepare(text)
    found = check(model, "J = 2.4403\nJ = 0.8134\n", isolate=False)
    assert [v.verdict for v in found] == ["correct", "incorrect"]
    assert "sums" in found[1].diagnosis


BATCH_FORMULAS = (r"$dW^{[2]} = \frac{1}{m}dZ^{[2]}A^{[1]T}$" "\n\n"
                  r"$dW^{[2]} = dZ^{[2]}A^{[1]T}$" "\n\n"
                  r"$db^{[2]} = \frac{1}{m}np.sum(dZ^{[2]}, axis=1, keepdims=True)$" "\n\n"
                  r"$db^{[2]} = \frac{1}{m}dZ^{[2]}$" "\n\n"
                  "db1 = (1 / m) * np.sum(dZ1, axis=0, keepdims=True)\n\n"
                  "dW1 = (1 / m) * np.dot(dZ1, X.T)\n")


@pytest.mark.parametrize("spec", [BATCH, CORPUS / "dlai" / "single.toml"])
def test_batch_formulas_are_checked_at_a_batch(spec):
    """At the spec's m = 3 examples, or at generated batches of 2 and 3 for a one-example
    spec: 1/m dZ Aᵀ is the gradient of the mean loss; without 1/m it is m times it (by
    hand, at the spec's batch: dZ^{[2]} A^{[1]T} = (0.5519, −0.0635, 0.5215) against
    3·(0.1840, −0.0212, 0.1738), hand_values.py); 1/m dZ is a row of m where db is one
    number; axis=0 sums the units, not the examples."""
    found = check(prepare(spec), BATCH_FORMULAS, kind="markup", isolate=False) + \
        check(prepare(spec), BATCH_FORMULAS.split("\n\n", 4)[4], isolate=False)
    got = [(v.verdict, v.diagnosis or "") for v in found]
    assert [v for v, _ in got] == ["correct", "incorrect", "correct", "incorrect",
                                   "incorrect", "correct"]
    assert "1/m" in got[1][1] and "not summed" in got[3][1] and "axis=0" in got[4][1]


def test_a_batch_formula_of_a_sum_batch_has_no_one_over_m():
    text = BATCH.read_text().replace("[notation]", '[network]\nbatch = "sum"\n\n[notation]')
    found = check(prepare(text), r"$dW^{[2]} = dZ^{[2]}A^{[1]T}$" "\n\n"
                  r"$dW^{[2]} = \frac{1}{m}dZ^{[2]}A^{[1]T}$", kind="markup", isolate=False)
    assert [v.verdict for v in found] == ["correct", "incorrect"]
    assert "divided by m" in found[1].diagnosis


# ---- true identities in every spelling -------------------------------------------
NIELSEN = prepare(CORPUS / "nielsen" / "network.toml")
NET = NIELSEN.network
PARAMS = [p for layer in NET.layers for p in list(layer.W) + list(layer.b)]


def _plain(expr) -> str:
    names = {s: sp.Symbol(NIELSEN.notation.name(s)) for s in expr.free_symbols}
    return sp.sstr(expr.xreplace(names)).replace("**", "^")


LHS = {   # the loss C under the spellings the checker reads; {p}/{t}: plain / LaTeX name
    "frac": r"\frac{{\partial C}}{{\partial {t}}}",
    "d/d": "dC/d{p}",
    "partial": "∂C/∂{p}",
    "E frac": r"\frac{{\partial E}}{{\partial {t}}}",
}


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(param=st.sampled_from(PARAMS), lhs=st.sampled_from(sorted(LHS)),
       rhs=st.sampled_from(["tex", "plain"]), markup=st.booleans())
def test_true_gradients_in_every_spelling_are_never_incorrect(param, lhs, rhs, markup):
    d, nt = NIELSEN.derivation, NIELSEN.notation
    truth = d.gradient(param)
    written = LHS[lhs].format(p=nt.name(param), t=nt.tex(param))
    right = nt.tex(truth) if rhs == "tex" else _plain(truth)
    text = f"${written} = {right}$" if markup else f"{written} = {right}"
    found = check(NIELSEN, text + "\n", kind="markup" if markup else "text", isolate=False)
    assert found and all(v.verdict != "incorrect" for v in found), (text, found)
    assert any(v.verdict == "correct" for v in found), (text, [v.message for v in found])
