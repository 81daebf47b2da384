"""The checker against independent oracles: hand computation of the worked
example, sympy.diff of expanded expressions, and mistakes built by hand."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import sympy as sp

from symbackprop.checker.context import make_context
from symbackprop.checker.engine import check_claims, check_text
from symbackprop.checker.isolate import run
from symbackprop.checker.verdict import Verdict
from symbackprop.formula.claims import ClaimText, extract
from symbackprop.cli import main
from symbackprop.api import EXAMPLES, example_path, prepare

from conftest import spec_text

CLAIMS = EXAMPLES / "claims"


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


def worked_by_hand():
    """The worked example's forward pass and ∂E/∂w1 written out from the post's
    definitions (source-major numbering; ReLU hidden, sigmoid output, ½ SE)."""
    x1, x2, y = 0.23, 0.55, 0.01
    w = {i: v for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
                                     0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], start=1)}
    b = {1: 0.1, 2: -0.4, 3: 0.3, 4: -0.5, 5: 0.5, 6: 0.6, 7: -0.7}
    relu = lambda v: max(0.0, v)
    net3, net4, net5 = (w[1] * x1 + w[4] * x2 + b[1], w[2] * x1 + w[5] * x2 + b[2],
                        w[3] * x1 + w[6] * x2 + b[3])
    o3, o4, o5 = relu(net3), relu(net4), relu(net5)
    net6 = w[7] * o3 + w[10] * o4 + w[13] * o5 + b[4]
    net7 = w[8] * o3 + w[11] * o4 + w[14] * o5 + b[5]
    net8 = w[9] * o3 + w[12] * o4 + w[15] * o5 + b[6]
    o6, o7, o8 = relu(net6), relu(net7), relu(net8)
    o9 = sig(w[16] * o6 + w[17] * o7 + w[18] * o8 + b[7])
    top = (o9 - y) * o9 * (1 - o9)
    # all three paths from w1 (all of n3, n6, n7, n8 are active here) and the post's one
    full = top * (w[16] * w[7] + w[17] * w[8] + w[18] * w[9]) * x1
    one_path = top * w[16] * w[7] * x1
    return dict(E=0.5 * (y - o9) ** 2, o9=o9, o6=o6, dw1=full, dw1_post=one_path,
                dw17=top * o7, dw16=top * o6)


@pytest.fixture(scope="module")
def numbered():
    return make_context(prepare(example_path("worked_2331_numbered")))


@pytest.fixture(scope="module")
def free():
    return make_context(None)


def one(checker, text):
    [v] = check_text(checker, text)
    return v


W1_CHAIN = (r"\frac{\partial E_{total}}{\partial w_{1}} = \frac{\partial E_{total}}{\partial out_{n_9}}"
            r" \cdot \frac{\partial out_{n_9}}{\partial net_{n_9}} \cdot \frac{\partial net_{n_9}}"
            r"{\partial out_{n_6}} \cdot \frac{\partial out_{n_6}}{\partial net_{n_6}} \cdot "
            r"\frac{\partial net_{n_6}}{\partial out_{n_3}} \cdot \frac{\partial out_{n_3}}"
            r"{\partial net_{n_3}} \cdot \frac{\partial net_{n_3}}{\partial w_{1}}")


def test_incomplete_chain_of_the_worked_example(numbered):
    hand = worked_by_hand()
    v = one(numbered, W1_CHAIN)
    assert v.verdict == "incorrect"
    assert v.diagnosis.startswith("incomplete chain") and "1 of the 3 paths" in v.diagnosis
    assert "out_n7" in v.diagnosis and "out_n8" in v.diagnosis
    cx = v.counterexample
    # the spec's own point is tested first: both sides are the hand values there
    assert cx["at"]["w1"] == pytest.approx(0.1)
    assert cx["lhs"] == pytest.approx(hand["dw1"], rel=1e-9)
    assert cx["rhs"] == pytest.approx(hand["dw1_post"], rel=1e-9)


def test_complete_chain_and_expanded_formula_are_accepted(numbered):
    assert one(numbered, r"dE_total/dw16 = (out_n9 - y)*out_n9*(1 - out_n9)*out_n6").ok
    chain = (r"\frac{\partial E_{total}}{\partial w_{16}} = \frac{\partial E_{total}}{\partial out_{n_9}}"
             r" \cdot \frac{\partial out_{n_9}}{\partial net_{n_9}} \cdot "
             r"\frac{\partial net_{n_9}}{\partial w_{16}}")
    assert one(numbered, chain).ok
    # out(1 − out) and σ'(net) written as exponentials are the same function of the network
    assert one(numbered, r"\frac{\partial out_{n_9}}{\partial net_{n_9}} = "
                         r"e^{-net_{n_9}}/(1 + e^{-net_{n_9}})^2").ok


def test_relu_derivative_one_in_the_spec_region(numbered):
    v = one(numbered, r"\frac{\partial out_{n_6}}{\partial net_{n_6}} = 1")
    assert v.ok and "net_n6" in v.region and "net_n4 ≤ 0" in v.region
    # n4 is dead at the spec's values (net_n4 = −0.079 by hand): ReLU' is 0 there, not 1
    v = one(numbered, r"\frac{\partial out_{n_4}}{\partial net_{n_4}} = 1")
    assert v.verdict == "incorrect"


@pytest.mark.parametrize("rhs, diagnosis", [
    ("(y - out_n9)*out_n9*(1 - out_n9)*out_n6", "sign flipped"),
    ("(out_n9 - y)*out_n6", "missing activation derivative"),
    ("2*(out_n9 - y)*out_n9*(1 - out_n9)*out_n6", "factor of 2"),
    ("(out_n9 - y)*sigma(out_n9)*(1 - sigma(out_n9))*out_n6", "wrong argument"),
    ("(out_n9 - y)*out_n9*(1 - out_n9)*out_n3", "wrong layer index"),
])
def test_classic_mistakes_are_named(numbered, rhs, diagnosis):
    v = one(numbered, "dE_total/dw16 = " + rhs)
    assert v.verdict == "incorrect"
    assert diagnosis in v.diagnosis
    # the expected formula is the hand-derived one: evaluate it at the spec point
    assert "out_n6" in v.expected and "out_n9 - y" in v.expected


def test_numbers_at_the_spec_values(numbered):
    hand = worked_by_hand()
    assert one(numbered, "E_total = 0.315").ok
    assert round(hand["E"], 3) == 0.315
    v = one(numbered, "dE_total/dw17 = 0.0850")
    assert v.verdict == "incorrect" and v.expected == f"{hand['dw17']:.4f}"
    assert v.counterexample["true"] == pytest.approx(hand["dw17"], rel=1e-9)
    # 0.0025 is ∂E/∂w16 = 0.002468… rounded to 4 places; 0.00247 would be right too
    assert round(hand["dw16"], 4) == 0.0025
    assert one(numbered, "dE_total/dw16 = 0.0025").ok
    assert one(numbered, "dE_total/dw16 = 0.00247").ok
    assert one(numbered, "dE_total/dw16 = 0.00246").verdict == "incorrect"


def test_arithmetic_rounding_and_digits(numbered):
    v = one(numbered, r"0.7 - 0.01 \cdot 0.03008 = 0.699")      # 0.6996992
    assert v.verdict == "incorrect" and "fewer digits" in v.diagnosis
    v = one(numbered, r"0.8 - 0.01 \cdot 0.0850 = 0.798592")    # 0.79915
    assert v.verdict == "incorrect" and "wrong number" in v.diagnosis
    # arithmetic on rounded numbers is right within their rounding error
    out9 = worked_by_hand()["o9"]
    assert abs(0.8035 * (1 - 0.8035) - out9 * (1 - out9)) > 1e-6
    assert one(numbered, r"out_{n_9}(1 - out_{n_9}) = 0.8035 \cdot (1 - 0.8035)").ok
    assert one(numbered, r"out_{n_9}(1 - out_{n_9}) = 0.8135 \cdot (1 - 0.8135)").verdict == "incorrect"


def test_free_standing_identities(free):
    assert one(free, "d/dz tanh(z) = 1 - tanh(z)^2").ok
    vs = check_text(free, r"d/da sigma(a) = e^{-a}/(1+e^{-a})^2 = sigma(a)*(1-sigma(a))")
    assert [v.verdict for v in vs] == ["correct", "correct"]
    v = one(free, "d/dz tanh(z) = sigma(z)*(1 - sigma(z))")
    assert v.verdict == "incorrect" and "wrong activation" in v.diagnosis
    v = one(free, "log(x^2) = 2 log(x)")      # defined for x < 0 on the left only
    assert v.verdict == "incorrect"
    assert v.counterexample["at"]["x"] < 0 and v.counterexample["rhs"] is None


def test_tanh_chain_with_a_wrong_middle_link(free):
    text = (r"\frac{d}{da} \tanh(a) = 4\sigma(2a)(1-\sigma(2a)) = 4 \cdot \frac{\tanh(a)+1}{2}"
            r" \cdot \left(1-\frac{\tanh(a)-1}{2}\right) = 1-\tanh^{2}(a)")
    vs = check_text(free, text)
    assert [v.verdict for v in vs] == ["correct", "incorrect", "incorrect"]
    assert all("wrong step" in v.diagnosis and "tanh(a)-1" in v.diagnosis for v in vs[1:])
    # oracle: the middle side differs from 1 − tanh² where tanh ≠ ±1
    t = math.tanh(0.5)
    assert abs(4 * (t + 1) / 2 * (1 - (t - 1) / 2) - (1 - t * t)) > 0.1


def test_cross_entropy_log10_and_softmax_digits(free):
    # −ln 0.9 = 0.105…, −log10 0.9 = 0.0458 → the post's 0.046
    assert round(-math.log10(0.9), 3) == 0.046
    v = one(free, r"-(1 \cdot \log(0.9) + 0 \cdot \log(0.1)) = 0.046")
    assert v.verdict == "incorrect" and "log base 10" in v.diagnosis
    # e^0.3/(e^0.3 + e^0.6) = 0.425557…: the post's 0.4255 is truncated
    assert round(math.exp(0.3) / (math.exp(0.3) + math.exp(0.6)), 4) == 0.4256
    v = one(free, r"\frac{e^{0.3}}{e^{0.3}+e^{0.6}}=0.4255")
    assert v.verdict == "incorrect" and "fewer digits" in v.diagnosis


def test_layered_mistakes_tanh_net():
    c = make_context(prepare(example_path("tanh_net")))
    # δ^1_1 = (w^2_11 δ^2_1 + w^2_21 δ^2_2)(1 − (a^1_1)²), by hand from the definitions
    assert one(c, r"\delta^1_1 = (w^2_{11} \delta^2_1 + w^2_{21} \delta^2_2)(1 - (a^1_1)^2)").ok
    v = one(c, r"\delta^1_1 = (w^2_{11} \delta^2_1 + w^2_{12} \delta^2_2)(1 - (a^1_1)^2)")
    assert v.verdict == "incorrect" and "transpose" in v.diagnosis
    v = one(c, r"\delta^1_1 = (w^2_{11} \delta^2_1 + w^2_{21} \delta^2_2) a^1_1 (1 - a^1_1)")
    assert v.verdict == "incorrect" and "wrong activation" in v.diagnosis


def test_softmax_treated_as_elementwise():
    c = make_context(prepare(example_path("softmax_classifier")))
    # true δ^2_1 = a_1 Σy − y_1 = a_1 − y_1; elementwise: (−y_1/a_1)·a_1(1 − a_1)
    assert one(c, r"\delta^2_1 = a^2_1 - y_1").ok
    v = one(c, r"\delta^2_1 = -y_1 (1 - a^2_1)")
    assert v.verdict == "incorrect" and "elementwise" in v.diagnosis


def test_generic_indices_every_neuron():
    c = make_context(prepare(spec_text([2, 3, 2], ["sigmoid", "sigmoid"], "half_sse")))
    [v] = check_text(c, r"\delta^l_j = (\sum_k w^{l+1}_{kj} \delta^{l+1}_k) \sigma'(z^l_j)")
    assert v.ok and "all 3 index values" in v.notes[0]
    [v] = check_text(c, r"\delta^l_j = (\sum_k w^{l+1}_{jk} \delta^{l+1}_k) \sigma'(z^l_j)")
    assert v.verdict == "incorrect"


def test_expected_formula_against_sympy_diff():
    """The expected formula is ∂E/∂w, by sympy.diff of the fully expanded loss."""
    model = prepare(spec_text([1, 1, 1], ["tanh", "sigmoid"], "half_sse"))
    c = make_context(model)
    assert one(c, r"dE/db^1_1 = \delta^1_1").ok          # the δ forms
    assert one(c, r"dE/dw^1_{11} = \delta^1_1").verdict == "incorrect"
    v = one(c, r"dE/dw^1_{11} = \delta^1_1 x")
    assert v.ok
    v = one(c, r"dE/dw^1_{11} = \delta^2_1 x")
    assert v.verdict == "incorrect"
    x, y, w1, b1, w2, b2 = sp.symbols("x y w1 b1 w2 b2")
    E = (1 / (1 + sp.exp(-(w2 * sp.tanh(w1 * x + b1) + b2))) - y) ** 2 / 2
    vals = {x: 0.3, y: 0.2, w1: 0.5, b1: -0.1, w2: 0.8, b2: 0.05}
    oracle = float(sp.diff(E, w1).subs(vals))
    point = {s: sp.Float(vals[k]) for s, k in zip(
        [model.network.x[0], model.network.y[0], model.network.layers[0].W[0, 0],
         model.network.layers[0].b[0], model.network.layers[1].W[0, 0],
         model.network.layers[1].b[0]], [x, y, w1, b1, w2, b2])}
    from symbackprop.checker.points import forward_point, value
    from symbackprop.checker.truth import Truth
    from symbackprop.formula.reader import LOSS, Partial
    truth = Truth(model.derivation, model.notation)
    got = value(truth.resolve(Partial(LOSS, model.network.layers[0].W[0, 0])),
                forward_point(model.derivation, point))
    assert float(got) == pytest.approx(oracle, rel=1e-12)


def test_unparseable_has_a_position(numbered):
    v = one(numbered, "dE/dw7 = foo + 1")
    assert v.verdict == "unparseable" and v.position == 9 and v.expected


# ---- files, isolation, the CLI -----------------------------------------------
def test_extract_claims_from_markup_and_text():
    md = "Intro $a = b$ and $x$.\n\n$$\nc = d\n$$\n\\begin{align}\ne &= f \\\\\ng &= h\n\\end{align}\n"
    assert extract(md, "markup") == [ClaimText(1, "a = b"), ClaimText(4, "c = d"),
                                     ClaimText(7, "e = f"), ClaimText(8, "g = h")]
    assert extract("a = b # why\n\n# note\nc = d\n") == [ClaimText(1, "a = b"), ClaimText(4, "c = d")]


def slow_check(claim):
    """Stands in for the checker: one claim sleeps, one eats memory, the rest are quick."""
    if claim.text == "slow":
        time.sleep(60)
    if claim.text == "huge":
        _ = bytearray(8 * 2**30)
    return [Verdict(claim.line, claim.text, "correct")]


def test_time_and_memory_limits_keep_the_rest_of_the_file():
    claims = [ClaimText(1, "a"), ClaimText(2, "slow"), ClaimText(3, "b"), ClaimText(4, "huge"),
              ClaimText(5, "c")]
    start = time.monotonic()
    vs = [v for r in run(slow_check, claims, timeout=1.0, memory_mb=256) for v in r]
    assert time.monotonic() - start < 30
    assert [v.verdict for v in vs] == ["correct", "undecided", "correct", "undecided", "correct"]
    assert "time limit" in vs[1].message and "memory" in vs[3].message


def test_cli_worked_example_file(capsys):
    path = CLAIMS / "worked_2331_numbered.md"
    assert main(["check", "worked_2331_numbered", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    claims = data["claims"]
    assert {"line", "text", "verdict", "expected", "diagnosis", "counterexample"} <= set(claims[0])
    wrong = {c["line"]: c for c in claims if c["verdict"] != "correct"}
    lines = [c["line"] for c in claims]
    assert lines == sorted(lines)
    assert all(c["verdict"] == "incorrect" for c in wrong.values())
    assert any(c["diagnosis"].startswith("incomplete chain") for c in wrong.values())
    assert data["summary"]["correct"] >= 20 and data["summary"]["unparseable"] == 0


def test_cli_exit_status_and_several_files(tmp_path, capsys):
    good = tmp_path / "good.txt"
    good.write_text("d/dz tanh(z) = 1 - tanh(z)^2   # right\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("d/dz tanh(z) = 1 + tanh(z)^2\n")
    assert main(["check", "--no-spec", str(good)]) == 0
    assert main(["check", "--no-spec", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "good.txt" in out and "bad.txt" in out and "total" in out
    assert main(["check", "worked_2331_numbered", str(tmp_path / "missing.txt")]) == 2
    assert main(["check", str(tmp_path / "nope.toml"), str(good)]) == 2


def test_python_api():
    import symbackprop
    vs = symbackprop.check(example_path("worked_2331_numbered"),
                           "dE_total/dw16 = (out_n9 - y)*out_n9*(1 - out_n9)*out_n6\n"
                           "dE_total/dw16 = (out_n9 - y)*out_n6")
    assert [v.verdict for v in vs] == ["correct", "incorrect"]
    assert [v.line for v in vs] == [1, 2]


# ---- the shipped example claims: the seeds' real mistakes are caught -----------
def verdicts_of(spec, name):
    from symbackprop.formula.claims import kind_of
    path = CLAIMS / name
    model = prepare(spec) if spec else None
    report = check_claims(model, path.read_text(), kind_of(path), isolate=False)
    return [(v.line, v.link, v.verdict, v.diagnosis or "") for v in report.verdicts]


def wrong(rows):
    return {(line, link): diag for line, link, verdict, diag in rows if verdict != "correct"}


def test_example_worked_numbered():
    rows = verdicts_of(example_path("worked_2331_numbered"), "worked_2331_numbered.md")
    bad = wrong(rows)
    # by hand: ∂E/∂w17 = 0.1408 and ∂E/∂w18 = 0.1664 (not 0.0850, 0.1003); 0.8 − 0.00085 =
    # 0.79915 and 0.9 − 0.001003 = 0.898997; 0.7 − 0.0003008 = 0.6996992 (not 0.699);
    # ∂E/∂w1 follows one path of three.  Everything else in the file is right.
    # The update lines (η = 0.01): w17_new = 0.8 − 0.01 · 0.1408 = 0.798592 and w18_new =
    # 0.9 − 0.01 · 0.1664 = 0.898336 (the post's results, not its arithmetic on 0.0850 and
    # 0.1003); w7_new = 0.6996992; the last line steps up the gradient.
    assert sorted(bad) == [(31, 0), (33, 0), (35, 0), (37, 0), (52, 0), (57, 0), (67, 0), (67, 1),
                           (69, 0), (69, 1), (75, 1), (79, 0)]
    assert "fewer digits" in bad[(52, 0)] and "incomplete chain" in bad[(57, 0)]
    assert all("wrong number" in bad[k] for k in [(31, 0), (33, 0), (35, 0), (37, 0)])
    assert "fewer digits" in bad[(75, 1)] and "gradient-ascent" in bad[(79, 0)]


def test_example_calculus():
    bad = wrong(verdicts_of(None, "calculus.txt"))
    # by hand: the tanh chain's third side is wrong (both links touching it fail);
    # softmax 0.425557/0.574443; cross-entropy −ln 0.9 = 0.105, −ln 0.1 = 2.303
    assert sorted(bad) == [(13, 1), (13, 2), (17, 0), (18, 0), (22, 0), (23, 0)]
    assert "wrong step" in bad[(13, 1)] and "fewer digits" in bad[(17, 0)]
    assert "log base 10" in bad[(22, 0)] and "log base 10" in bad[(23, 0)]


def test_example_one_hidden_ij():
    bad = wrong(verdicts_of(example_path("one_hidden_ij"), "one_hidden_ij.md"))
    assert sorted(bad) == [(20, 0), (22, 0), (24, 0), (29, 0)]
    assert "missing activation derivative" in bad[(20, 0)]
    assert "update written as an equation" in bad[(29, 0)]
    assert "sign flipped" in bad[(22, 0)] and "wrong layer index" in bad[(24, 0)]


def test_example_relu_softmax():
    bad = wrong(verdicts_of(example_path("softmax_classifier"), "relu_softmax.md"))
    assert sorted(bad) == [(18, 0), (22, 0), (26, 0)]
    assert "elementwise" in bad[(18, 0)] and "transpose" in bad[(22, 0)]
    assert "missing activation derivative" in bad[(26, 0)]


TIED = '''inputs = 1
loss = "half_sse"
[[layer]]
size = 2
activation = "tanh"
[[layer]]
size = 1
activation = "sigmoid"
[names]
W1 = [["u"], ["u"]]
[values]
x = [0.5]
y = [0.2]
u = 0.3
b1 = [0.1, -0.1]
W2 = [[0.4, -0.6]]
b2 = [0.0]
'''


def test_tied_parameter_sums_its_places():
    c = make_context(prepare(TIED))
    assert one(c, r"dE/du = \delta^1_1 x + \delta^1_2 x").ok
    v = one(c, r"dE/du = \delta^1_1 x")
    assert v.verdict == "incorrect" and "shared (tied) parameter" in v.diagnosis
    # by hand: a1 = tanh(0.3·0.5 ± 0.1), out = σ(0.4 a1_1 − 0.6 a1_2), both places summed
    a11, a12 = math.tanh(0.25), math.tanh(0.05)
    out = sig(0.4 * a11 - 0.6 * a12)
    top = (out - 0.2) * out * (1 - out)
    grad = top * (0.4 * (1 - a11 ** 2) - 0.6 * (1 - a12 ** 2)) * 0.5
    assert one(c, f"dE/du = {grad:.4f}").ok
    # the opposite sign is not "right to fewer digits": the sign flip is named
    v = one(c, f"dE/du = {-grad:.4f}")
    assert v.verdict == "incorrect" and "sign flipped" in v.diagnosis


def test_example_four_equations():
    rows = verdicts_of(example_path("bias_extra_weight"), "four_equations.md")
    bad = wrong(rows)
    assert sorted(bad) == [(20, 0), (22, 0), (24, 0), (26, 0), (34, 0)]
    assert "gradient-ascent" in bad[(34, 0)]
    assert "sign flipped" in bad[(20, 0)] and "wrong argument" in bad[(22, 0)]
    assert "wrong layer index" in bad[(24, 0)] and "factor of 2" in bad[(26, 0)]
