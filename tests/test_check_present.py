"""How a verdict shows the truth (present.py, notation's plain names) and operator-form
claims (diagnose.py), against oracles written here: the worked 2-3-3-1 example's
forward and backward pass by hand, formulas written by hand in textbook notation and
read by the claim parser, and the diagnosis of the same mistake written as dE/dw."""
from __future__ import annotations

import itertools
import math

import pytest
import sympy as sp

from symbackprop.checker.context import make_context
from symbackprop.checker.engine import check_claims, check_text
from symbackprop.api import report_text
from symbackprop.formula.reader import parse_claim
from symbackprop.formula.names import build_scope
from symbackprop.api import example_path, prepare

from conftest import spec_text


# ---- the worked example by hand (layered: W[target][source], ReLU, ReLU, sigmoid) ----
X, Y, LR = [0.23, 0.55], 0.01, 0.01
W1 = [[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]
B1 = [0.1, -0.4, 0.3]
W2 = [[0.7, 0.1, 0.4], [0.8, 0.2, 0.5], [0.9, 0.3, 0.6]]
B2 = [-0.5, 0.5, 0.6]
W3 = [0.7, 0.8, 0.9]
B3 = -0.7


def by_hand():
    """z, a, δ of every layer at the spec's values, from the textbook definitions."""
    relu = lambda v: max(v, 0.0)                                      # noqa: E731
    z1 = [sum(w * x for w, x in zip(row, X)) + b for row, b in zip(W1, B1)]
    a1 = [relu(v) for v in z1]
    z2 = [sum(w * a for w, a in zip(row, a1)) + b for row, b in zip(W2, B2)]
    a2 = [relu(v) for v in z2]
    z3 = sum(w * a for w, a in zip(W3, a2)) + B3
    a3 = 1 / (1 + math.exp(-z3))
    d3 = (a3 - Y) * a3 * (1 - a3)
    d2 = [W3[j] * d3 * (z2[j] > 0) for j in range(3)]
    d1 = [sum(W2[k][j] * d2[k] for k in range(3)) * (z1[j] > 0) for j in range(3)]
    return dict(z1=z1, a1=a1, z2=z2, a2=a2, z3=z3, a3=a3, d1=d1, d2=d2, d3=d3)


def test_hand_values_match_the_published_numbers():
    h = by_hand()        # the post: net_n3 = 0.343, net_n4 = −0.079, net_n6 = 0.0197, out = 0.8035
    assert h["z1"] == pytest.approx([0.343, -0.079, 0.699])
    assert h["z2"][0] == pytest.approx(0.0197) and round(h["a3"], 4) == 0.8035


@pytest.fixture(scope="module")
def layered():
    return make_context(prepare(example_path("worked_2331")))


@pytest.fixture(scope="module")
def numbered():
    return make_context(prepare(example_path("worked_2331_numbered")))


def one(checker, text):
    [v] = check_text(checker, text)
    return v


def read(checker, text):
    """A formula in the spec's notation, read by the claim parser."""
    return parse_claim(f"{text} = 0", checker.scope).sides[0].expr


def entries(matrix_text: str) -> list[list[str]]:
    """The rows and entries of a plain-text matrix ``[a, b; c, d]``."""
    assert matrix_text.startswith("[") and matrix_text.endswith("]")
    return [[e.strip() for e in row.split(",")] for row in matrix_text[1:-1].split(";")]


def flat(rows) -> list[float]:
    return [float(e) for row in rows for e in row]


def same(a, b) -> bool:
    return sp.simplify(a - b) == 0


# ---- 1. matrices: readable text, LaTeX bmatrix, counterexample values -----------------
def test_vector_expected_reads_row_by_row_and_each_entry_is_the_definition(layered):
    # z^2 = W^2 a^1 leaves out the bias: expected z^2_j = Σ_k w^2_jk a^1_k + b^2_j
    v = one(layered, "z2 = W2 @ a1")
    assert v.verdict == "incorrect" and "Matrix" not in v.expected
    rows = entries(v.expected)
    assert [len(r) for r in rows] == [1, 1, 1]                   # a column: one entry a row
    for j, [entry] in enumerate(rows, start=1):
        hand = read(layered, f"w^2_{{{j}1}} a^1_1 + w^2_{{{j}2}} a^1_2 + w^2_{{{j}3}} a^1_3 + b^2_{j}")
        assert same(read(layered, entry), hand)
    tex = v.expected_tex
    assert tex.startswith(r"\begin{bmatrix}") and tex.endswith(r"\end{bmatrix}")
    assert tex.count(r"\\") == 2 and "&" not in tex                # 3 rows, 1 column


def test_delta_vector_expected_is_the_recursion_not_the_symbols(layered):
    # δ^1 = (W^2)^T δ^2 without ReLU': expected δ^1_j = (Σ_k w^2_kj δ^2_k) [z^1_j > 0]
    v = one(layered, "delta1 = W2.T @ delta2")
    assert v.diagnosis.startswith("missing activation derivative")
    rows = entries(v.expected)
    assert len(rows) == 3
    for j, [entry] in enumerate(rows, start=1):
        hand = read(layered, f"(w^2_{{1{j}}} δ^2_1 + w^2_{{2{j}}} δ^2_2 + w^2_{{3{j}}} δ^2_3)"
                             f" [z^1_{j} > 0]")
        assert same(read(layered, entry), hand)
    # the counterexample is the spec's point: both sides are the hand values there
    h = by_hand()
    cx = v.counterexample
    assert flat(cx["lhs"]) == pytest.approx(h["d1"], rel=1e-9)
    back = [sum(W2[k][j] * h["d2"][k] for k in range(3)) for j in range(3)]
    assert [len(row) for row in cx["rhs"]] == [1, 1, 1]
    assert flat(cx["rhs"]) == pytest.approx(back, rel=1e-9)


UPDATE_ASCENT = r"W^{(2)} := W^{(2)} + \eta \cdot \delta^{(2)} \left(a^{(1)}\right)^{T}"


def test_matrix_expected_of_an_update_line(layered):
    v = one(layered, UPDATE_ASCENT)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("sign flipped")
    rows = entries(v.expected)
    assert [len(r) for r in rows] == [3, 3, 3]
    assert v.expected.count("\n") == 2                            # long: a row a line
    for (j, k) in itertools.product(range(1, 4), repeat=2):
        hand = read(layered, rf"w^2_{{{j}{k}}} - \eta \delta^2_{j} a^1_{k}")
        assert same(read(layered, rows[j - 1][k - 1]), hand)
    tex = v.expected_tex
    assert tex.startswith(r"\begin{bmatrix}") and tex.count("&") == 6 and tex.count(r"\\") == 2
    assert r"\eta" in tex and r"\delta^{2}_{1}" in tex


def test_matrix_counterexample_in_the_text_report(layered):
    report = check_claims(layered.model, UPDATE_ASCENT + "\n", isolate=False, checker=layered)
    text = report_text([report], layered.model)
    assert "[[" not in text and "Matrix" not in text
    [left] = [line for line in text.splitlines() if line.strip().startswith("left side")]
    [right] = [line for line in text.splitlines() if line.strip().startswith("right side")]
    h = by_hand()
    grad = [[h["d2"][j] * h["a1"][k] for k in range(3)] for j in range(3)]
    true = [[W2[j][k] - LR * grad[j][k] for k in range(3)] for j in range(3)]
    claimed = [[W2[j][k] + LR * grad[j][k] for k in range(3)] for j in range(3)]
    for line, want in ((left, true), (right, claimed)):
        got = entries(line.split(" side")[1].strip())
        assert [len(row) for row in got] == [3, 3, 3]
        assert flat(got) == pytest.approx(flat(want), rel=1e-5)


def test_a_number_for_a_matrix_expects_the_matrix_of_values(layered):
    v = one(layered, "dE/dW2 = 0.5")
    assert v.verdict == "incorrect" and "3×3" in v.diagnosis
    h = by_hand()
    got = entries(v.expected.replace("\n", " "))
    assert [len(row) for row in got] == [3, 3, 3]
    want = [[h["d2"][j] * h["a1"][k] for k in range(3)] for j in range(3)]
    assert flat(got) == pytest.approx(flat(want), rel=1e-5)


# ---- 2. plain-text names: no TeX, read back by the parser, unambiguous -----------------
def test_counterexample_names_are_plain_and_name_the_values_shown(layered):
    v = one(layered, r"\delta^1_1 = (w^2_{11} \delta^2_1 + w^2_{21} \delta^2_2 + "
                     r"w^2_{31} \delta^2_3) \sigma'(z^1_1)")
    assert v.verdict == "incorrect"
    at = v.counterexample["at"]
    assert not any("\\" in name for name in at)
    assert "δ^1_1" in at and "δ^2_1" in at
    h = by_hand()
    hand = {r"\delta^{1}_{1}": h["d1"][0], r"\delta^{2}_{1}": h["d2"][0],
            r"\delta^{2}_{2}": h["d2"][1], r"\delta^{2}_{3}": h["d2"][2],
            r"z^{1}_{1}": h["z1"][0], "w^{2}_{11}": 0.7, "w^{2}_{21}": 0.8, "w^{2}_{31}": 0.9,
            "x_{1}": 0.23, "x_{2}": 0.55, "y": 0.01}
    by_symbol = {read(layered, name): value for name, value in hand.items()}
    assert {read(layered, name) for name in at} == set(by_symbol)
    for name, value in at.items():
        assert value == pytest.approx(by_symbol[read(layered, name)], rel=1e-9)
    assert "\\" not in v.expected and "δ^2_1" in v.expected


BIG = "[notation]\nstyle = \"{style}\"\nindex_base = {base}\nbias = \"{bias}\"\n"


@pytest.mark.parametrize("style, base, bias", list(itertools.product(
    ["layered", "ij", "numbered"], [0, 1], ["separate", "extra_weight"])))
def test_every_plain_name_is_read_back_as_itself(style, base, bias):
    # 12 inputs and 11 hidden neurons: two-digit indices on both sides of the weights
    model = prepare(spec_text([12, 11, 2], ["relu", "sigmoid"], "half_sse",
                              BIG.format(style=style, base=base, bias=bias)))
    scope = build_scope(model)
    names = model.notation.names
    for sym, name in model.notation.text.items():
        assert "\\" not in name
        got = parse_claim(f"{name} = 0", scope).sides[0].expr
        assert got == sym or (sym in names and names.get(got) == names[sym]), name


def test_two_digit_weight_indices_keep_their_comma():
    model = prepare(spec_text([12, 11, 2], ["relu", "sigmoid"], "half_sse"))
    text, W = model.notation.text, model.network.layers[0].W
    # w^1_{jk}: to neuron j of layer 1 from input k
    assert text[W[0, 10]] == "w^1_{1,11}" and text[W[10, 0]] == "w^1_{11,1}"
    assert text[W[0, 0]] == "w^1_11" and text[W[1, 2]] == "w^1_23"
    scope = build_scope(model)
    for j, k in ((0, 10), (10, 0), (0, 0), (1, 2)):
        assert parse_claim(f"{text[W[j, k]]} = 0", scope).sides[0].expr == W[j, k]


def test_ij_style_plain_names():
    model = prepare(example_path("worked_2331").read_text().replace(
        "[values]", '[notation]\nstyle = "ij"\n\n[values]'))
    nt, layer = model.notation, model.network.layers[1]
    # ij: w^{(l)}_{ij} from neuron i to neuron j
    assert nt.text[layer.W[0, 2]] == "w^(2)_31" and nt.text[layer.delta[0]] == "δ^(2)_1"


# ---- 3. operator-form left sides get the mistakes' diagnoses ------------------------
OPERATOR = r"\frac{\partial}{\partial w_{16}}\left(\frac12 (y - out_{n_9})^2\right)"
FRACTION = r"\frac{\partial E_{total}}{\partial w_{16}}"


@pytest.mark.parametrize("rhs, kind", [
    (r"(y - out_{n_9}) out_{n_9} (1 - out_{n_9}) out_{n_6}", "sign flipped: y − a"),
    (r"(out_{n_9} - y) out_{n_6}", "missing activation derivative"),
    (r"2 (out_{n_9} - y) out_{n_9} (1 - out_{n_9}) out_{n_6}", "factor of 2: the ½ of the loss"),
])
def test_operator_form_gets_the_diagnosis_of_the_fraction_form(numbered, rhs, kind):
    op, frac = one(numbered, f"{OPERATOR} = {rhs}"), one(numbered, f"{FRACTION} = {rhs}")
    assert op.verdict == frac.verdict == "incorrect"
    assert frac.diagnosis.startswith(kind)
    assert op.diagnosis == frac.diagnosis
    # the expected formula is the textbook one: (out_n9 − y) out_n9 (1 − out_n9) out_n6
    assert op.expected == frac.expected
    hand = read(numbered, r"(out_{n_9} - y) out_{n_9} (1 - out_{n_9}) out_{n_6}")
    assert same(read(numbered, op.expected), hand)


def test_operator_form_of_a_hidden_weight_and_the_right_claim(numbered):
    right = r"(out_{n_9} - y) out_{n_9} (1 - out_{n_9}) out_{n_6}"
    assert one(numbered, f"{OPERATOR} = {right}").ok
    # ∂/∂w7 of the loss, with the ½ doubled: the same diagnosis as ∂E/∂w7
    rhs = r"2 (out_{n_9} - y) out_{n_9} (1 - out_{n_9}) w_{16} out_{n_3}"
    op = one(numbered, r"\frac{\partial}{\partial w_{7}}\left(\frac12 (y - out_{n_9})^2\right)"
                       f" = {rhs}")
    frac = one(numbered, rf"\frac{{\partial E_{{total}}}}{{\partial w_{{7}}}} = {rhs}")
    assert frac.diagnosis.startswith("factor of 2: the ½ of the loss")
    assert op.diagnosis == frac.diagnosis


def test_operator_form_on_a_neuron_output(numbered):
    # ∂/∂w16 (net_n9) = out_n9 names the wrong layer's activation (true: out_n6)
    op = one(numbered, r"\frac{\partial}{\partial w_{16}} net_{n_9} = out_{n_9}")
    frac = one(numbered, r"\frac{\partial net_{n_9}}{\partial w_{16}} = out_{n_9}")
    assert op.verdict == frac.verdict == "incorrect"
    assert op.diagnosis == frac.diagnosis and op.diagnosis.startswith("wrong layer index")


def test_network_picture_labels_split_the_comma_subscript():
    from symbackprop.render.drawing import layout
    model = prepare(spec_text([12, 11, 2], ["relu", "sigmoid"], "half_sse"))
    pic = layout(model.network, model.notation)
    subs = {(e.label.base, e.label.sup, e.label.sub) for e in pic.edges if e.label}
    # the last drawn hidden neuron (11) from input 1: w^1_{11,1}, drawn as w, 1, 11,1
    assert ("w", "1", "11,1") in subs and not any("{" in s for _, _, s in subs)
