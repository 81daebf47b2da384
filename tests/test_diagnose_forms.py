"""Diagnoses reach the forms people write (issue #13): the softmax Jacobian taken as its
diagonal, an extra f' in BP1–BP4, f written for f', the bias gradient with an input
factor, swapped indices in index form (formula and number), the f' left out of
∂z^{l+1}/∂z^l, another activation's output form in free-standing calculus.

Each wrong claim is a hand-written slip of a textbook formula; the right formula next to
it is ``correct`` (so the diagnosis is not just "anything wrong")."""
import numpy as np
import pytest

from symbackprop.api import check, prepare

NET = """
name = "bp"
inputs = 2
loss = "half_sse"
[[layer]]
size = 2
activation = "sigmoid"
[[layer]]
size = 2
activation = "sigmoid"
[values]
x = [0.4, -0.6]
y = [0.0, 1.0]
W1 = [[0.3, -0.8], [0.5, 0.2]]
b1 = [-0.1, 0.2]
W2 = [[0.9, -0.4], [-0.3, 0.6]]
b2 = [0.1, -0.2]
"""


@pytest.fixture(scope="module")
def net():
    return prepare(NET)


@pytest.fixture(scope="module")
def softmax():
    return prepare("softmax_classifier")


def one(model, text):
    found = check(model, text, isolate=False)
    return next((v for v in found if v.verdict != "correct"), found[0])


def numpy_gradients():
    """Hand-written backprop of NET (σ everywhere, ½ squared error)."""
    s = lambda z: 1 / (1 + np.exp(-z))                      # noqa: E731
    x, y = np.array([0.4, -0.6]), np.array([0.0, 1.0])
    W1, b1 = np.array([[0.3, -0.8], [0.5, 0.2]]), np.array([-0.1, 0.2])
    W2, b2 = np.array([[0.9, -0.4], [-0.3, 0.6]]), np.array([0.1, -0.2])
    a1 = s(W1 @ x + b1)
    a2 = s(W2 @ a1 + b2)
    d2 = (a2 - y) * a2 * (1 - a2)
    d1 = (W2.T @ d2) * a1 * (1 - a1)
    return {"dW2": np.outer(d2, a1), "dW1": np.outer(d1, x), "d1": d1}


@pytest.mark.parametrize("right, wrong, label", [
    (r"\delta^L_j = (a^L_j - y_j) \sigma'(z^L_j)",
     r"\delta^L_j = (a^L_j - y_j) \sigma'(z^L_j) \sigma'(z^L_j)", "appears twice in δ^L (BP1)"),
    (r"\delta^1_j = \sum_k w^2_{kj} \delta^2_k \sigma'(z^1_j)",
     r"\delta^1_j = \sum_k w^2_{kj} \delta^2_k \sigma'(z^1_j) \sigma'(z^1_j)",
     "appears twice in δ^1 (BP2)"),
    (r"\frac{\partial C}{\partial b^1_j} = \delta^1_j",
     r"\frac{\partial C}{\partial b^1_j} = \delta^1_j \sigma'(z^1_j)", "(BP3)"),
    (r"\frac{\partial C}{\partial w^2_{jk}} = a^1_k \delta^2_j",
     r"\frac{\partial C}{\partial w^2_{jk}} = a^1_k \delta^2_j \sigma'(z^2_j)", "(BP4)"),
    (r"\delta^L_j = (a^L_j - y_j) \sigma'(z^L_j)",
     r"\delta^L_j = (a^L_j - y_j) \sigma(z^L_j)", "the activation written for its derivative"),
    (r"\frac{\partial C}{\partial b^l_j} = \delta^l_j",
     r"\frac{\partial C}{\partial b^l_j} = \delta^l_j a^{l-1}_j", "bias gradient given an input"),
    (r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j",
     r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_j \delta^l_k", "indices swapped"),
    (r"\delta^l_j = \sum_k w^{l+1}_{kj} \delta^{l+1}_k \sigma'(z^l_j)",
     r"\delta^l_j = \sum_k w^{l+1}_{jk} \delta^{l+1}_k \sigma'(z^l_j)", "indices swapped"),
    (r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = w^{l+1}_{kj} \sigma'(z^l_j)",
     r"\frac{\partial z^{l+1}_k}{\partial z^l_j} = w^{l+1}_{kj}", "missing activation derivative"),
    (r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l)",
     r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^{l+1})", "wrong layer"),
])
def test_backprop_slips_named(net, right, wrong, label):
    assert one(net, right).verdict == "correct", one(net, right).message
    v = one(net, wrong)
    assert v.verdict == "incorrect" and label in (v.diagnosis or ""), v.diagnosis


def test_swapped_indices_as_a_number(net):
    """∂C/∂w^2_{12} written as the value of the swapped index (w^2_{21}'s gradient)."""
    g = numpy_gradients()
    [v] = check(net, f"\\frac{{\\partial C}}{{\\partial w^2_{{12}}}} = {g['dW2'][0, 1]:.6f}",
                isolate=False)
    assert v.verdict == "correct"
    swapped = g["dW2"][1, 0]
    [v] = check(net, f"\\frac{{\\partial C}}{{\\partial w^2_{{12}}}} = {swapped:.6f}",
                isolate=False)
    assert v.verdict == "incorrect" and "swapped" in (v.diagnosis or "")


@pytest.mark.parametrize("text", [
    r"\frac{\partial a^2_i}{\partial z^2_j} = a^2_i(1 - a^2_i)\delta_{ij}",
    r"\frac{\partial a^L_i}{\partial z^L_j} = \delta_{ij} a^L_i (1 - a^L_j)",
])
def test_softmax_jacobian_as_its_diagonal(softmax, text):
    v = one(softmax, text)
    assert v.verdict == "incorrect" and "diagonal" in (v.diagnosis or ""), v.diagnosis
    right = r"\frac{\partial a^2_i}{\partial z^2_j} = a^2_i(\delta_{ij} - a^2_j)"
    assert one(softmax, right).verdict == "correct"


@pytest.mark.parametrize("text, label", [
    (r"\frac{d}{dx}\tanh(x) = \tanh(x)(1 - \tanh(x))", "sigmoid's σ(1 − σ) used for tanh'"),
    (r"\tanh'(x) = \tanh(x)(1 - \tanh(x))", "sigmoid's σ(1 − σ) used for tanh'"),
    (r"\sigma'(x) = 1 - \sigma(x)^2", "tanh's 1 − tanh² used for sigmoid'"),
    (r"\frac{d}{dz}\sigma(2z) = \sigma(2z)(1 - \sigma(2z))", "inner derivative"),
])
def test_free_standing_wrong_activation(text, label):
    [v] = check(None, text, isolate=False)
    assert v.verdict == "incorrect" and label in (v.diagnosis or ""), v.diagnosis


@pytest.mark.parametrize("text", [
    r"\sigma'(x) = \sigma(x)(1 + \sigma(x))",
    r"\frac{d}{dx}\tanh(x) = 1 - \tanh(x)",
])
def test_free_standing_wrong_derivative(text):
    [v] = check(None, text, isolate=False)
    assert v.verdict == "incorrect" and "wrong derivative" in (v.diagnosis or ""), v.diagnosis


def test_network_wrong_derivative(net):
    v = one(net, r"\frac{\partial a^2_1}{\partial z^2_1} = a^2_1(1 + a^2_1)")
    assert v.verdict == "incorrect" and "wrong derivative" in (v.diagnosis or ""), v.diagnosis


@pytest.fixture(scope="module")
def relu_net():
    return prepare("worked_2331")


@pytest.mark.parametrize("text, label", [
    # only the top layer's indices are swapped (the next layers are not square)
    (r"\delta^l_j = (\sum_k w^{l+1}_{jk} \delta^{l+1}_k) relu'(z^l_j)", "indices swapped"),
    (r"\frac{\partial E}{\partial a^1_j} = \sum_k w^2_{jk} \delta^2_k", "indices swapped"),
    # at the spec's ReLU region a dead neuron makes several slips agree at the points;
    # the written formula decides (δ^l_k a^{l-1}_j, not a^l used for a^{l-1})
    (r"\frac{\partial E}{\partial w^l_{jk}} = a^{l-1}_j \delta^l_k", "indices swapped"),
    (r"\delta^l = ((W^{l+1})^T \delta^{l+1}) \odot relu'(z^{l+1})", "wrong layer"),
])
def test_relu_network_slips(relu_net, text, label):
    v = one(relu_net, text)
    assert v.verdict == "incorrect" and label in (v.diagnosis or ""), v.diagnosis


def test_generic_index_claim_with_a_slip_is_decided_quickly(relu_net):
    """Every instance of a wrong generic claim is diagnosed; the mutated formulas are
    built once for all of them (was 3 s on this network)."""
    import time
    start = time.process_time()
    v = one(relu_net, r"\frac{\partial E}{\partial w^l_{jk}} = a^{l}_k \delta^l_j")
    assert v.verdict == "incorrect" and "layer" in v.diagnosis
    assert time.process_time() - start < 2.5
