"""Claims a first reading judged wrong although they are right (found by
benchmarks/heldout): a single neuron's weights written w, w_j (logistic regression, the
deeplearning.ai course's week 2), a batch formula with a generic layer index or followed by
its number, and a side that has no value anywhere.  Numbers from NumPy here."""
import numpy as np
import pytest

import symbackprop

LOGREG = """
inputs = 3
loss = "binary_cross_entropy"
[[layer]]
size = 1
activation = "sigmoid"
[notation]
loss = "L"
[values]
x = [0.5, -1.0, 2.0]
y = [0.0]
learning_rate = 0.1
W1 = [[0.2, 0.4, -0.3]]
b1 = [0.05]
"""

LSTACK = """
inputs = 2
loss = "binary_cross_entropy"
[[layer]]
size = 3
activation = "relu"
[[layer]]
size = 1
activation = "sigmoid"
[notation]
loss = "J"
[values]
learning_rate = 0.1
W1 = [[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]
b1 = [0.1, 0.2, 0.3]
W2 = [[0.9, -0.8, 0.4]]
b2 = [-0.1]
[[values.samples]]
x = [1.0, 0.5]
y = [1.0]
[[values.samples]]
x = [0.4, 1.2]
y = [0.0]
"""


def _verdicts(spec, text):
    model = symbackprop.prepare(spec)
    return [v.verdict for v in symbackprop.check(model, text + "\n", kind="markup", isolate=False)]


def _logreg_numbers():
    x, w, b = np.array([0.5, -1.0, 2.0]), np.array([0.2, 0.4, -0.3]), 0.05
    a = 1 / (1 + np.exp(-(w @ x + b)))
    dz = a - 0.0
    return a, dz, x * dz, w - 0.1 * x * dz


@pytest.mark.parametrize("text, verdict", [
    (r"$\hat{y} = \sigma(w^T x + b)$", "correct"),
    (r"$z = w^T x + b$", "correct"),
    (r"$\hat{y} = \sigma(w x + b)$", "correct"),        # w as the row W^1: also fits
    (r"$dw_1 = x_1\,dz$", "correct"),
    (r"$dw_3 = x_3\,dz$", "correct"),
    (r"$dw = x\,dz$", "correct"),
    (r"$dw_2 = x_1\,dz$", "incorrect"),
])
def test_one_neurons_weights_as_the_course_writes_them(text, verdict):
    assert _verdicts(LOGREG, text) == [verdict]


def test_one_neurons_numbers():
    a, dz, dw, w_new = _logreg_numbers()
    assert _verdicts(LOGREG, rf"$dw_3 = {dw[2]:.4f}$") == ["correct"]
    assert _verdicts(LOGREG, rf"$w_1 := w_1 - \alpha\, dw_1 = {w_new[0]:.4f}$") == ["correct"] * 2
    assert _verdicts(LOGREG, rf"$w_1 := w_1 - \alpha\, dw_1 = {w_new[0] + 0.01:.4f}$")[-1] == \
        "incorrect"


def _lstack_dW2():
    X = np.array([[1.0, 0.4], [0.5, 1.2]]); Y = np.array([[1.0, 0.0]])
    W1 = np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]); b1 = np.array([[0.1], [0.2], [0.3]])
    W2 = np.array([[0.9, -0.8, 0.4]]); b2 = np.array([[-0.1]])
    A1 = np.maximum(0, W1 @ X + b1); A2 = 1 / (1 + np.exp(-(W2 @ A1 + b2)))
    return (A2 - Y) @ A1.T / 2


def test_batch_formula_for_every_layer_and_in_a_chain_with_its_number():
    assert _verdicts(LSTACK, r"$dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}$") == ["correct"]
    assert _verdicts(LSTACK, r"$dW^{[l]} = dZ^{[l]} A^{[l-1]T}$") == ["incorrect"]
    assert _verdicts(LSTACK, r"$db^{[l]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[l](i)}$") == ["correct"]
    dW2 = _lstack_dW2()[0]
    row = " & ".join(f"{v:.4f}" for v in dW2)
    chain = rf"$dW^{{[2]}} = \frac{{1}}{{m}} dZ^{{[2]}} A^{{[1]T}} = \begin{{bmatrix}} {row} \end{{bmatrix}}$"
    assert _verdicts(LSTACK, chain) == ["correct", "correct"]
    off = row.replace(f"{dW2[0]:.4f}", f"{dW2[0] + 0.01:.4f}")
    assert _verdicts(LSTACK, chain.replace(row, off)) == ["correct", "incorrect"]


def test_one_examples_loss_or_a_power_of_the_batch_loss_is_not_guessed():
    """On a batch spec, J^{(1)} (example 1's loss as the course writes it, or J to the power
    1?) and J² or 2 ∂J/∂b (evaluated at the first example before: a right J² was wrong) are
    unparseable; the loss and its gradient alone are checked over the batch."""
    X = np.array([[1.0, 0.4], [0.5, 1.2]]); Y = np.array([1.0, 0.0])
    W1 = np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]); b1 = np.array([[0.1], [0.2], [0.3]])
    W2 = np.array([[0.9, -0.8, 0.4]]); b2 = np.array([[-0.1]])
    A2 = (1 / (1 + np.exp(-(W2 @ np.maximum(0, W1 @ X + b1) + b2))))[0]
    losses = -(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    J, db2 = losses.mean(), (A2 - Y).mean()
    assert _verdicts(LSTACK, f"$J = {J:.4f}$") == ["correct"]
    assert _verdicts(LSTACK, rf"$\frac{{\partial J}}{{\partial b^{{[2]}}_1}} = {db2:.4f}$") == ["correct"]
    for text in (f"$J^{{(1)}} = {losses[0]:.4f}$", f"$J^{{(2)}} = {losses[1]:.4f}$",
                 f"$J^2 = {J * J:.4f}$", rf"$2\frac{{\partial J}}{{\partial b^{{[2]}}_1}} = {2 * db2:.4f}$"):
        assert _verdicts(LSTACK, text) == ["unparseable"], text


def test_a_chain_of_batch_formulas_is_checked_at_the_batch_link_by_link():
    sides = r"dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}"
    assert _verdicts(LSTACK, f"${sides} = \\frac{{1}}{{m}} dZ^{{[2]}} A^{{[1]T}}$") == ["correct"] * 2
    assert _verdicts(LSTACK, f"${sides} = dZ^{{[2]}} A^{{[1]T}}$") == ["correct", "incorrect"]
