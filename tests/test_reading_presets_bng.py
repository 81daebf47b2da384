"""Claims in Bishop's, Nielsen's and Goodfellow's own letters (issue #14's reading bars).

Each claim's truth is worked out here with NumPy (a forward/backward pass written for
the test), never taken from symbackprop: a right claim must be judged correct, a wrong
one incorrect, and a claim with no sure reading unparseable (never incorrect).
"""
from __future__ import annotations

import numpy as np
import pytest

from symbackprop import check, prepare

X = np.array([0.4, -0.9])
T = np.array([0.3])
W1 = np.array([[0.5, -0.3], [0.2, 0.8]])
B1 = np.array([0.1, -0.2])
W2 = np.array([[0.7, -0.6]])
B2 = np.array([0.05])
ETA = 0.25


def _spec(preset: str, hidden: str, out: str, loss: str) -> str:
    return (f'name = "bng_{preset}"\ninputs = 2\nloss = "{loss}"\n'
            f'[[layer]]\nsize = 2\nactivation = "{hidden}"\n'
            f'[[layer]]\nsize = 1\nactivation = "{out}"\n'
            f"[notation]\npreset = \"{preset}\"\n[values]\nx = {X.tolist()}\ny = {T.tolist()}\n"
            f"learning_rate = {ETA}\nW1 = {W1.tolist()}\nb1 = {B1.tolist()}\n"
            f"W2 = {W2.tolist()}\nb2 = {B2.tolist()}\n")


def _model(tmp_path_factory, preset, hidden="tanh", out="identity", loss="half_sse"):
    path = tmp_path_factory.mktemp(preset) / "net.toml"
    path.write_text(_spec(preset, hidden, out, loss))
    return prepare(path)


def verdicts(model, *lines: str) -> list[str]:
    text = "\n".join(lines) + "\n"
    kind = "markup" if "$" in text else "text"
    got = check(model, text, kind=kind, isolate=False)
    assert len(got) == len(lines), [(v.line, v.text) for v in got]
    return [v.verdict for v in got]


def diagnoses(model, line: str) -> list[str]:
    return [v.diagnosis or "" for v in check(model, line + "\n", kind="markup", isolate=False)]


# ---- a NumPy pass (tanh hidden layer, linear output, ½‖y − t‖²) -----------------
A1 = W1 @ X + B1                 # Bishop's a_j
Z1 = np.tanh(A1)                 # z_j = h(a_j)
Y = W2 @ Z1 + B2                 # y_k = a_k (linear outputs)
E = 0.5 * np.sum((Y - T) ** 2)
D2 = Y - T                       # δ_k = y_k − t_k  (5.54)
D1 = (1 - Z1 ** 2) * (W2.T @ D2)  # δ_j = h'(a_j) Σ_k w_kj δ_k  (5.56)
G1 = np.outer(D1, X)             # ∂E_n/∂w^{(1)}_{ji} = δ_j x_i
G2 = np.outer(D2, Z1)


@pytest.fixture(scope="module")
def bishop(tmp_path_factory):
    return _model(tmp_path_factory, "bishop")


def f4(v: float) -> str:
    return f"{v:.4f}"


def test_bishop_one_examples_error_E_n(bishop):
    right = [r"$E_n = \frac{1}{2} \sum_k (y_k - t_k)^2$", f"$E_n = {f4(E)}$",
             r"$\frac{\partial E_n}{\partial w^{(1)}_{21}} = " + f"{G1[1, 0]:.5f}$",
             r"$\frac{\partial E_n}{\partial w_{ji}} = \delta_j z_i$"]
    assert verdicts(bishop, *right) == ["correct"] * 4
    assert verdicts(bishop, f"$E_n = {f4(2 * E)}$",
                    r"$\frac{\partial E_n}{\partial w^{(2)}_{11}} = " + f"{-G2[0, 0]:.4f}$") \
        == ["incorrect"] * 2


def test_bishop_h_is_the_hidden_units_activation(bishop):
    # h is tanh here (the output is linear): h(a_j) for z_j, h'(a_j) = 1 − tanh²(a_j)
    assert np.allclose(D1, (1 - np.tanh(A1) ** 2) * (W2.T @ D2))
    assert verdicts(bishop, r"$z_j = h(a_j)$", r"$\delta_j = h'(a_j) \sum_k w_{kj} \delta_k$",
                    r"$h(a) \equiv \tanh(a)$", r"$h'(a) = 1 - h(a)^2$") == ["correct"] * 4
    assert verdicts(bishop, r"$h'(a) = 1 - h(a)$", r"$z_j = h'(a_j)$") == ["incorrect"] * 2


def test_bishop_plain_square_on_a_unit_is_a_power(bishop):
    # with layers written w^{(2)}, the 2 of z_j^2 is a square: (1 − z_j²) is tanh'
    assert verdicts(bishop, r"$\delta_j = (1 - z_j^2) \sum_{k=1}^{K} w_{kj} \delta_k$",
                    r"$\delta^{(1)}_2 = (1 - (z^{(1)}_2)^2) w^{(2)}_{12} \delta^{(2)}_1$",
                    f"$\\delta^{{(1)}}_1 = {D1[0]:.5f}$") == ["correct"] * 3
    assert verdicts(bishop, r"$\delta_j = (1 - z_j) \sum_{k=1}^{K} w_{kj} \delta_k$",
                    r"$\delta_j = (1 - z_j^3) \sum_{k} w_{kj} \delta_k$") == ["incorrect"] * 2


def test_bishop_digit_subscript_is_a_unit_not_a_layer(bishop):
    # z_2 is hidden unit 2's output (the only hidden layer), never "layer 2"
    assert verdicts(bishop, f"$z_2 = {f4(Z1[1])}$", f"$z_1 = {f4(Z1[0])}$") == ["correct"] * 2
    assert verdicts(bishop, f"$z_2 = {f4(Z1[0])}$") == ["incorrect"]
    # a_2, δ_1, w_{21}: hidden or output unit? refused, not guessed
    assert verdicts(bishop, f"$a_2 = {f4(A1[1])}$", f"$\\delta_1 = {f4(D2[0])}$",
                    f"$w_{{21}} = {W1[1, 0]}$") == ["unparseable"] * 3


def test_bishop_z_unit_over_two_hidden_layers_is_refused(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text('name = "deep"\ninputs = 2\nloss = "half_sse"\n'
                    + '[[layer]]\nsize = 2\nactivation = "tanh"\n' * 2
                    + '[[layer]]\nsize = 1\nactivation = "identity"\n[notation]\npreset = "bishop"\n')
    assert verdicts(prepare(path), "$z_2 = 0.5$") == ["unparseable"]


# ---- Nielsen: the SGD arrow, δ of the wrong layer ---------------------------------
SIG = lambda v: 1 / (1 + np.exp(-v))       # noqa: E731
NZ2 = W1 @ X + B1                          # Nielsen's z^2 (the input is layer 1)
NA2 = SIG(NZ2)
NA3 = SIG(W2 @ NA2 + B2)                   # a^3 = a^L
ND3 = (NA3 - T) * NA3 * (1 - NA3)          # BP1 (quadratic cost)
ND2 = (W2.T @ ND3) * NA2 * (1 - NA2)       # BP2


@pytest.fixture(scope="module")
def nielsen(tmp_path_factory):
    return _model(tmp_path_factory, "nielsen", hidden="sigmoid", out="sigmoid")


def test_nielsen_update_arrow(nielsen):
    new_b = B2[0] - ETA * ND3[0]
    new_w = W1[1, 0] - ETA * ND2[1] * X[0]
    assert verdicts(nielsen, r"$w^l \rightarrow w^l - \eta \delta^l (a^{l-1})^T$",
                    r"$b^l \rightarrow b^l - \eta \delta^l$", f"$b^3_1 \\rightarrow {new_b:.4f}$",
                    f"$w^2_{{21}} \\to {new_w:.4f}$",
                    r"$w^2_{21} \rightarrow w^2_{21}' = w^2_{21} - \eta \frac{\partial C}"
                    r"{\partial w^2_{21}}$") == ["correct"] * 5
    assert verdicts(nielsen, r"$b^l \rightarrow b^l + \eta \delta^l$",
                    f"$b^3_1 \\rightarrow {new_b + 0.01:.4f}$",
                    r"$w^l \rightarrow w^l - \delta^l (a^{l-1})^T$") == ["incorrect"] * 3
    # an arrow after anything but a parameter is no claim (a limit, a mapping)
    got = check(nielsen, "$x \\to 0$ and $z \\rightarrow 1$\n", kind="markup", isolate=False)
    assert got == []


def test_nielsen_delta_of_the_next_layer_is_a_wrong_layer(nielsen):
    assert np.isclose(ND2[0], (W2[0, 0] * ND3[0]) * NA2[0] * (1 - NA2[0]))
    assert verdicts(nielsen, r"$\frac{\partial C}{\partial b^l_j} = \delta^l_j$") == ["correct"]
    (d,) = diagnoses(nielsen, r"$\frac{\partial C}{\partial b^l_j} = \delta^{l+1}_j$")
    assert "wrong layer" in d and "l+1" in d
    (d,) = diagnoses(nielsen, r"$\frac{\partial C}{\partial w^3_{12}} = \delta^2_1 a^2_2$")
    assert "wrong layer" in d


# ---- Goodfellow: ε the learning rate, a matrix of numbers without the ReLU gate --------
@pytest.fixture(scope="module")
def goodfellow(tmp_path_factory):
    return _model(tmp_path_factory, "goodfellow", hidden="relu", out="sigmoid")


def test_goodfellow_epsilon_is_the_rate_and_the_missing_gate_is_named(goodfellow):
    ha = W1 @ X + B1
    h = np.maximum(ha, 0)
    yhat = SIG(W2 @ h + B2)
    g2 = (yhat - T) * yhat * (1 - yhat)
    gh = W2.T @ g2                          # ∇_{h^{(1)}} J
    gb1 = gh * (ha > 0)                     # ∇_{b^{(1)}} J = g ⊙ f'(a^{(1)})
    assert (ha > 0).tolist() == [True, False]          # unit 2 off: the gate matters
    assert verdicts(goodfellow, r"$b^{(1)} \leftarrow b^{(1)} - \epsilon \nabla_{b^{(1)}} J$",
                    r"$W^{(2)} \leftarrow W^{(2)} - \varepsilon \nabla_{W^{(2)}} J$",
                    f"$\\nabla_{{b^{{(1)}}}} J = \\begin{{bmatrix}} {gb1[0]:.5f} \\\\ 0 "
                    "\\end{bmatrix}$") == ["correct"] * 3
    assert verdicts(goodfellow, r"$b^{(1)} \leftarrow b^{(1)} + \epsilon \nabla_{b^{(1)}} J$") \
        == ["incorrect"]
    (d,) = diagnoses(goodfellow, f"$\\nabla_{{b^{{(1)}}}} J = \\begin{{bmatrix}} {gh[0]:.5f} "
                     f"\\\\ {gh[1]:.5f} \\end{{bmatrix}}$")
    assert "missing activation derivative" in d and "0E" not in d
    # a plain wrong entry names the entry and its true value, zero written as 0
    (d,) = diagnoses(goodfellow, f"$\\nabla_{{b^{{(1)}}}} J = \\begin{{bmatrix}} {gb1[0]:.5f} "
                     "\\\\ 0.5 \\end{bmatrix}$")
    assert d.startswith("entry (2, 1)") and "true value is 0" in d and "0E" not in d


def test_epsilon_is_no_rate_outside_goodfellow(nielsen):
    assert verdicts(nielsen, r"$b^3_1 \leftarrow b^3_1 - \epsilon \delta^3_1$") == ["unparseable"]


# ---- shapes that fit in no reading: one edit that makes the claim right -----------------
def test_bp2_without_the_transpose_is_incorrect_naming_the_shapes(nielsen):
    # w^3 is 1×2 (Nielsen's w^l_{jk}: row j in layer l), δ^3 is 1×1: w^3 δ^3 is 1×2, and
    # ⊙ σ'(z^2) (2×1) has no shape
    assert W2.shape == (1, 2) and NZ2.shape == (2,)
    (v,) = check(nielsen, "$\\delta^l = (w^{l+1} \\delta^{l+1}) \\odot \\sigma'(z^l)$\n",
                 kind="markup", isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("transpose missing")
    assert "1×2" in v.diagnosis and "2×1" in v.diagnosis
    # right with the transpose, BP2 itself
    assert np.allclose(ND2, (W2.T @ ND3) * NA2 * (1 - NA2))
    assert verdicts(nielsen, r"$\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)$") \
        == ["correct"]


def test_a_layer_one_off_that_breaks_the_shapes_is_a_wrong_layer(nielsen):
    (v,) = check(nielsen, "$\\delta^2 = ((w^2)^T \\delta^3) \\odot \\sigma'(z^2)$\n",
                 kind="markup", isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("wrong layer")
    assert "w^{3} in place of w^2" in v.diagnosis


def test_two_mistakes_and_no_shape_stay_unparseable(nielsen):
    # no transpose and σ for σ': no single edit makes it right, so it is not judged
    assert verdicts(nielsen, r"$\delta^l = (w^{l+1} \delta^{l+1}) \odot \sigma(z^l)$") \
        == ["unparseable"]


def test_a_linear_output_given_sigmas_derivative_is_an_extra_derivative(bishop):
    assert np.allclose(D2, Y - T)            # linear output: δ_k = y_k − t_k, no f'
    (d,) = diagnoses(bishop, r"$\delta_k = (y_k - t_k) \, y_k (1 - y_k)$")
    assert d.startswith("extra activation derivative")


def test_bishop_weight_written_backwards_is_indices_swapped(bishop):
    # Σ_k w_{kj} δ_k is (W^{(2)T} δ^{(2)})_j; w_{jk} runs from the output k back to j: no weight
    assert np.allclose(D1, (1 - Z1 ** 2) * np.array([W2[0, j] * D2[0] for j in range(2)]))
    (v,) = check(bishop, "$\\delta_j = h'(a_j) \\sum_k w_{jk} \\delta_k$\n", kind="markup",
                 isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("indices swapped")
    assert "w_{kj} in place of w_{jk}" in v.diagnosis
    (v,) = check(bishop, "$\\frac{\\partial E_n}{\\partial w_{ji}} = \\delta_i z_j$\n",
                 kind="markup", isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("indices swapped")
    # one name alone with no reading stays unparseable (nothing to compare it with)
    assert verdicts(bishop, "$\\delta_i = 0.3$", "$w_{jk} = 0.5$") == ["unparseable"] * 2
