"""Update lines (w^{new} = w − η ∂E/∂w) and numbers the spec has no values for.

Oracles: the worked example's forward pass and gradients written out by
hand (test_check.worked_by_hand) with the post's η = 0.01, and the sign /
rate / gradient mistakes built by hand.
"""
from __future__ import annotations

import json

import pytest

from symbackprop import check
from symbackprop.checker.context import make_context
from symbackprop.checker.engine import check_text
from symbackprop.cli import main
from symbackprop.core.errors import SpecError
from symbackprop.formula.reader import FormulaError, build_scope, parse_claim
from symbackprop.formula.ops import Updated
from symbackprop.api import EXAMPLES, example_path, prepare

from conftest import spec_text
from test_check import worked_by_hand

ETA = 0.01


@pytest.fixture(scope="module")
def numbered():
    return make_context(prepare(example_path("worked_2331_numbered")))


@pytest.fixture(scope="module")
def layered():
    return make_context(prepare(example_path("worked_2331")))


def verdicts(checker, text):
    return check_text(checker, text)


@pytest.mark.parametrize("written", [r"w_{16}^{new}", r"w_{16}^{\text{new}}", "w16_new",
                                     r"w^{new}_{16}", r"w_{16}^{(t+1)}", r"w_{16}^{\mathrm{new}}"])
def test_new_value_names_read_as_the_update(numbered, written):
    claim = parse_claim(f"{written} = 0", numbered.scope)
    w16 = numbered.nt.symbol("w16")
    assert claim.sides[0].expr == Updated(w16)


def test_old_value_is_the_parameter_and_only_parameters_update(numbered):
    w16 = numbered.nt.symbol("w16")
    assert parse_claim(r"w_{16}^{old} = 0", numbered.scope).sides[0].expr == w16
    with pytest.raises(FormulaError, match="only a weight or a bias"):
        parse_claim(r"out_{n_9}^{new} = 0", numbered.scope)
    with pytest.raises(FormulaError, match="needs a network"):
        parse_claim(r"z := z - 1", build_scope())


@pytest.mark.parametrize("text", [
    r"w_{16}^{new} = w_{16}^{old} - \eta \frac{\partial E_{total}}{\partial w_{16}}",
    r"w_{16} := w_{16} - \eta \cdot \frac{\partial E_{total}}{\partial w_{16}}",
    r"w_{16} \leftarrow w_{16} - \eta (out_{n_9} - y) out_{n_9} (1 - out_{n_9}) out_{n_6}",
    r"b7_new = b7 - learning_rate * (out_n9 - y)*out_n9*(1 - out_n9)",
])
def test_right_update_formulas(numbered, text):
    assert [v.verdict for v in verdicts(numbered, text)] == ["correct"]


@pytest.mark.parametrize("text, diagnosis", [
    (r"w_{16}^{new} = w_{16} + \eta \frac{\partial E_{total}}{\partial w_{16}}", "gradient-ascent"),
    (r"w_{16}^{new} = w_{16} - \frac{\partial E_{total}}{\partial w_{16}}", "learning rate η is missing"),
    (r"w_{16}^{new} = - \eta \frac{\partial E_{total}}{\partial w_{16}}", "old value is missing"),
    (r"w_{16}^{new} = w_{16} - \eta (out_{n_9} - y) out_{n_6}", "missing activation derivative"),
    (r"w_{16}^{new} = w_{16} - \eta (out_{n_9} - y) out_{n_9} (1 - out_{n_9}) out_{n_9}",
     "wrong layer index"),
])
def test_wrong_update_formulas_are_diagnosed(numbered, text, diagnosis):
    [v] = verdicts(numbered, text)
    assert v.verdict == "incorrect" and diagnosis in v.diagnosis
    assert "η" in v.expected and "w16" in v.expected
    # the counterexample: both sides evaluated at one consistent point
    assert v.counterexample["lhs"] != pytest.approx(v.counterexample["rhs"])


def test_layer_level_updates_and_the_seed_003_sign(layered):
    """Seed 003 writes W := W + η Δ Z^T with its δ = −∂L/∂z; with δ = ∂E/∂z (this
    spec) that is gradient ascent, and the descent form is right."""
    ok = r"W^{(2)} := W^{(2)} - \eta \cdot \delta^{(2)} \left(a^{(1)}\right)^{T}"
    bad = r"W^{(2)}:=W^{(2)}+\eta\cdot\delta^{(2)}\cdot\left(a^{(1)}\right)^{T}"
    assert [v.verdict for v in verdicts(layered, ok)] == ["correct"]
    [v] = verdicts(layered, bad)
    assert v.verdict == "incorrect" and "gradient-ascent" in v.diagnosis
    assert "with δ defined as −∂E/∂z, + would be right" in v.diagnosis    # the convention
    seed001 = r"W^l_{new} = W^l_{old} - learningRate* \delta C_0/ \delta w^l"
    assert {v.verdict for v in verdicts(layered, seed001)} == {"correct"}


def test_numeric_updates_of_the_worked_example(numbered):
    """The post's update lines at η = 0.01 ([values].learning_rate), by hand."""
    h = worked_by_hand()
    w16_new, w17_new = 0.7 - ETA * h["dw16"], 0.8 - ETA * h["dw17"]
    right = f"w_{{16}}^{{new}} = {w16_new:.6f}"
    assert [v.verdict for v in verdicts(numbered, right)] == ["correct"]
    # the post: 0.7 − 0.01 · 0.0025 = 0.699975 — both links right (0.0025 is ∂E/∂w16 rounded)
    post16 = r"w_{16}^{\text{new}} = 0.7 - 0.01 \cdot 0.0025 = 0.699975"
    assert [v.verdict for v in verdicts(numbered, post16)] == ["correct", "correct"]
    # the post's w17 uses ∂E/∂w17 = 0.0850; the truth is h["dw17"] ≈ 0.1408
    assert abs(h["dw17"] - 0.1408) < 5e-5
    post17 = r"w_{17}^{\text{new}} = 0.8 - 0.01 \cdot 0.0850"
    [v] = verdicts(numbered, post17)
    assert v.verdict == "incorrect" and v.expected == f"{w17_new:.6f}"
    # given numbers (0.8, 0.01) are exact: a flipped sign is not hidden in their rounding
    [v] = verdicts(numbered, r"w17_new = 0.8 + 0.01*0.1408")
    assert v.verdict == "incorrect" and "gradient-ascent" in v.diagnosis
    [v] = verdicts(numbered, r"w17_new = 0.8 - 0.1408")
    assert v.verdict == "incorrect" and "learning rate" in v.diagnosis


def test_learning_rate_claim(numbered):
    assert [v.verdict for v in verdicts(numbered, r"\eta = 0.01")] == ["correct"]
    assert [v.verdict for v in verdicts(numbered, r"\eta = 0.1")] == ["incorrect"]


NO_VALUES = spec_text([2, 2, 1], ["sigmoid", "sigmoid"], "half_sse")
NO_RATE = NO_VALUES + "[values]\nx = [0.5, -0.2]\ny = [1.0]\nW1 = [[0.1, 0.2], [0.3, 0.4]]\n" \
                      "b1 = [0.0, 0.1]\nW2 = [[0.5, -0.5]]\nb2 = [0.2]\n"


def test_numbers_without_values_are_a_spec_error(tmp_path, capsys):
    spec = tmp_path / "net.toml"
    spec.write_text(NO_VALUES)
    claims = tmp_path / "claims.txt"
    claims.write_text("dE/da^2_1 = a^2_1 - y_1\n# the value\ndE/da^2_1 = 0.25\n")
    assert main(["check", str(spec), str(claims)]) == 2
    err = capsys.readouterr().err
    assert "claims.txt: line 3" in err and "[values]" in err and "Traceback" not in err
    with pytest.raises(SpecError, match="line 1"):
        check(prepare(NO_VALUES), "dE/da^2_1 = 0.25")
    # formulas alone need no values
    assert [v.verdict for v in check(prepare(NO_VALUES), "dE/da^2_1 = a^2_1 - y_1")] == ["correct"]


def test_numeric_update_without_learning_rate_is_a_spec_error(tmp_path, capsys):
    model = prepare(NO_RATE)
    with pytest.raises(SpecError, match="learning_rate"):
        check(model, "b^2_1 := 0.2")
    # without η in it, a number is checked at the values as usual: E = ½(1 − σ(z))² by hand
    import math
    h = [1 / (1 + math.exp(-z)) for z in (0.1 * 0.5 + 0.2 * -0.2, 0.3 * 0.5 + 0.4 * -0.2 + 0.1)]
    out = 1 / (1 + math.exp(-(0.5 * h[0] - 0.5 * h[1] + 0.2)))
    assert [v.verdict for v in check(model, f"E = {0.5 * (1 - out) ** 2:.5f}")] == ["correct"]


def test_markdown_update_lines_without_equals_are_claims(tmp_path, capsys):
    md = tmp_path / "post.md"
    md.write_text("The update:\n\n$$w_{16} \\leftarrow w_{16} + \\eta\\, "
                  "\\frac{\\partial E_{total}}{\\partial w_{16}}$$\n")
    assert main(["check", "worked_2331_numbered", str(md), "--json"]) == 1
    [entry] = json.loads(capsys.readouterr().out)["claims"]
    assert entry["line"] == 3 and entry["verdict"] == "incorrect"
    assert "gradient-ascent" in entry["diagnosis"]


def test_expected_update_is_written_with_eta(numbered):
    [v] = verdicts(numbered, r"w_{16}^{new} = w_{16}")
    assert v.verdict == "incorrect"
    assert r"\eta" in v.expected_tex and "η" in v.expected


# ---- free-standing calculus lines in a file checked against a spec ---------------
@pytest.mark.parametrize("spec", ["worked_2331", "worked_2331_numbered"])
def test_calculus_lines_in_a_specd_file(spec):
    import math
    right = check(spec, r"\sigma'(z) = \sigma(z)(1-\sigma(z))", isolate=False)
    assert [v.verdict for v in right] == ["correct"] and "free-standing" in right[0].notes[0]
    [v] = check(spec, r"\sigma'(t) = \sigma(t)^2", isolate=False)
    assert v.verdict == "incorrect"
    [t] = v.counterexample["at"].values()
    s = 1 / (1 + math.exp(-t))
    assert v.counterexample["lhs"] == pytest.approx(s * (1 - s))
    assert v.counterexample["rhs"] == pytest.approx(s * s)
    # a derivative of a plain name the network lacks stays an unknown name
    [v] = check(spec, "dE/dw = a - y", isolate=False)
    assert v.verdict == "unparseable" and "unknown name 'w'" in v.message


# ---- "undecided" is kept for the time (and memory) limit ---------------------------
def test_claims_the_network_cannot_state_are_unparseable_not_undecided():
    """∂ with respect to δ (not an independent variable) is refused with the reason."""
    [v] = check("worked_2331_numbered", "dE/ddelta_n9 = 1", isolate=False)
    assert v.verdict == "unparseable" and "delta_n9" in v.message and v.expected


def test_a_number_for_a_matrix_is_incorrect():
    [v] = check("worked_2331", "W^2 = 0.5", isolate=False)
    assert v.verdict == "incorrect" and "3×3 matrix" in v.diagnosis


def test_generic_indices_cover_the_bias_row_of_extra_weight_notation():
    """Seed 000: W^{(1)} is 3×2 with the bias as the third row; the update rule over
    i, j, k is checked for all 6 + 3 weights, including the bias rows."""
    spec = EXAMPLES / "one_hidden_ij.toml"
    [v] = check(spec, r"W_{ij}^{(k)} := W_{ij}^{(k)} - \alpha \frac{\partial E}{\partial "
                      r"W_{ij}^{(k)}}", isolate=False)
    assert v.verdict == "correct" and "all 9 index values" in v.notes[0]


def test_a_star_marks_the_new_value_as_in_seed_000():
    """Seed 000 writes the update W_{ij}^{(k)}* = W_{ij}^{(k)} − α ∂E/∂W_{ij}^{(k)}."""
    spec = EXAMPLES / "one_hidden_ij.toml"
    [v] = check(spec, r"W_{ij}^{(k)}* = W_{ij}^{(k)} - \alpha \frac{\partial E}{\partial "
                      r"W_{ij}^{(k)}}", isolate=False)
    assert v.verdict == "correct"
    [v] = check(spec, r"W_{ij}^{(k)}* = W_{ij}^{(k)} + \alpha \frac{\partial E}{\partial "
                      r"W_{ij}^{(k)}}", isolate=False)
    assert v.verdict == "incorrect" and "gradient-ascent" in v.diagnosis
    # a star between factors is still a product: w^{(1)}_{11} = 0.2 in the spec
    assert [v.verdict for v in check(spec, "w^(1)_11 * 2 = 0.4", isolate=False)] == ["correct"]


def test_several_equations_in_one_display_are_separate_claims():
    """Seed 003 writes σ(a) = … \\quad\\textrm{or}\\quad σ(a) = …; each is a claim."""
    from symbackprop.checker.engine import check_claims
    md = (r"$$\sigma'(z) = \sigma(z)(1-\sigma(z)) \quad\text{and}\quad "
          r"\tanh'(z) = 1 + \tanh(z)^2 \quad \text{for all } z$$")
    report = check_claims(None, md, "markup", isolate=False)
    assert [(v.line, v.text, v.verdict) for v in report.verdicts] == [
        (1, r"\sigma'(z) = \sigma(z)(1-\sigma(z))", "correct"),
        (1, r"\tanh'(z) = 1 + \tanh(z)^2", "incorrect")]


def test_a_matrix_inside_an_align_row_stays_whole():
    from symbackprop.formula.claims import extract
    md = ("\\begin{align}\n"
          "z^1 &= \\begin{bmatrix} 1.05 \\\\ -0.25 \\\\ 0 \\\\ 0.7 \\end{bmatrix} \\\\\n"
          "E &= 0.5\n"
          "\\end{align}\n")
    claims = extract(md, "markup")
    assert [(c.line, c.text) for c in claims] == [
        (2, r"z^1 = \begin{bmatrix} 1.05 \\ -0.25 \\ 0 \\ 0.7 \end{bmatrix}"), (3, "E = 0.5")]
    # z^1 by hand at softmax_classifier's values (tests/test_formula_matrix.py)
    assert check("softmax_classifier", claims[0].text, isolate=False)[0].verdict == "correct"


def test_the_calculus_example_file_against_a_spec():
    """calculus.txt (free-standing) checked against a spec gives the same verdicts as
    with --no-spec: d/dx of the network's input vector x is read as calculus."""
    from symbackprop.checker.engine import check_claims
    text = (EXAMPLES / "claims" / "calculus.txt").read_text()
    free = [(v.line, v.link, v.verdict) for v in check_claims(None, text, isolate=False).verdicts]
    model = prepare(example_path("worked_2331"))
    specd = [(v.line, v.link, v.verdict)
             for v in check_claims(model, text, isolate=False).verdicts]
    assert specd == free and ("unparseable" not in {v for _, _, v in free})


def test_wrong_update_numbers_are_diagnosed_on_the_step(numbered):
    """θ^new differs from θ by η·∂E/∂θ ≈ 0.0014 for w17: its mistakes are read off the
    step.  By hand: ∂E/∂w17 = 0.1408, η = 0.01, so w17_new = 0.798592."""
    h = worked_by_hand()
    ascent, no_rate = 0.8 + ETA * h["dw17"], 0.8 - h["dw17"]
    [v] = verdicts(numbered, f"w17_new = {ascent:.4f}")
    assert "gradient-ascent" in v.diagnosis
    [v] = verdicts(numbered, f"w17_new = {no_rate:.4f}")
    assert "learning rate η is missing" in v.diagnosis
    # the post: 0.8 − 0.01 · 0.0850 — the step used 0.085 for ∂E/∂w17 = 0.1408
    [v] = verdicts(numbered, r"w_{17}^{\text{new}} = 0.8 - 0.01 \cdot 0.0850")
    assert v.diagnosis.startswith("the step uses ∂E/∂θ = 0.085 ")
    assert f"{h['dw17']:.6g}" in v.diagnosis
    # the post's w7 result 0.699 is 0.6996992 truncated
    [v] = verdicts(numbered, r"w_{7}^{\text{new}} = 0.699")
    assert "truncated" in v.diagnosis


# ---- an incomplete chain written out as a formula or a number ------------------------
def test_one_path_written_out_is_an_incomplete_chain(numbered):
    """Seed 004's ∂E/∂w1 follows the path through n6 only: as a formula, and as its
    number 0.0141 (by hand: one path 0.01412, all three 0.05590)."""
    h = worked_by_hand()
    assert abs(h["dw1_post"] - 0.0141) < 5e-5 and abs(h["dw1"] - 0.0559) < 5e-5
    for claim in ("dE/dw1 = (out_n9 - y)*out_n9*(1-out_n9)*w16*w7*x1", "dE/dw1 = 0.0141"):
        [v] = verdicts(numbered, claim)
        assert v.verdict == "incorrect"
        assert v.diagnosis.startswith("incomplete chain: the formula follows 1 of the 3 paths")
        assert "(through out_n9, net_n9, out_n6, net_n6, out_n3, net_n3)" in v.diagnosis
    [v] = verdicts(numbered, "dE/dw1 = (out_n9 - y)*out_n9*(1-out_n9)*w17*w8*x1")
    assert "through out_n9, net_n9, out_n7" in v.diagnosis
