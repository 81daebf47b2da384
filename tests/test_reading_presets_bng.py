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
