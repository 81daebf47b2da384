"""check reads a file's own names for network quantities (issue #13): CS231n's scores
``s = Wx + b`` / ``f = Wx + b`` and probabilities ``q_j = e^{s_j}/\\sum_k e^{s_k}`` as
aliases of z and a (entries with generic indices, sums over them), ``y_i`` as the index
of the correct class (``s_{y_i}``, ``\\mathbb{1}(y_i = k)``, ``q_{y_i}``, one-hot targets
only), ``W_{12}`` on a one-layer network as an entry.

Every number below comes from the NumPy forward/backward pass written in this file;
every formula is the textbook's (CS231n "Linear classification", "Neural network case
study"; Goodfellow 6.2.2.3), worked by hand."""
from pathlib import Path

import numpy as np
import pytest

from symbackprop.api import check, prepare

# A softmax classifier of our own: 2 inputs, 3 classes, the correct class is 1.
SOFTMAX = """
name = "aliases_softmax"
inputs = 2
loss = "cross_entropy"
[[layer]]
size = 3
activation = "softmax"
[values]
x = [0.7, -1.1]
y = {y}
W1 = [[0.3, -0.2], [0.5, 0.4], [-0.6, 0.1]]
b1 = [0.05, -0.1, 0.2]
"""
X = np.array([0.7, -1.1])
W = np.array([[0.3, -0.2], [0.5, 0.4], [-0.6, 0.1]])
B = np.array([0.05, -0.1, 0.2])
CLASS = 0                                      # y = e_1


def _hand():
    """Scores, probabilities, loss and gradients by hand (NumPy)."""
    s = W @ X + B
    q = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    y = np.eye(3)[CLASS]
    loss = -np.log(q[CLASS])
    ds = q - y                                  # ∂L/∂s_k = q_k − 1(y_i = k)
    return dict(s=s, q=q, loss=loss, ds=ds, dW=np.outer(ds, X), db=ds)


@pytest.fixture(scope="module")
def softmax():
    return prepare(SOFTMAX.format(y="[1, 0, 0]"))


def _verdicts(model, lines):
    text = "\n\n".join(f"${line}$" for line in lines) + "\n"
    found = check(model, text, kind="markup", isolate=False)
    return [v.verdict for v in found], found


def test_scores_and_probabilities_defined_by_the_file_read_as_z_and_a(softmax):
    h = _hand()
    lines = [
        r"s = Wx + b",                                                    # defined
        r"q_j = \frac{e^{s_j}}{\sum_k e^{s_k}}",                          # defined
        r"\sum_j q_j = 1",
        r"\frac{\partial q_i}{\partial s_j} = q_i(\delta_{ij} - q_j)",
        r"\frac{\partial q_i}{\partial s_j} = q_i(1 - q_i)\,\delta_{ij}",  # wrong: diagonal
        r"\frac{\partial L}{\partial s_k} = q_k - y_k",
        r"\frac{\partial L}{\partial s_k} = q_k",                          # wrong
        f"s_2 = {h['s'][1]:.4f}",
        f"q_3 = {h['q'][2]:.4f}",
        f"q_3 = {h['q'][2] + 0.01:.4f}",                                   # wrong digits
    ]
    got, _ = _verdicts(softmax, lines)
    assert got == ["defined", "defined", "correct", "correct", "incorrect", "correct",
                   "incorrect", "correct", "correct", "incorrect"]


def test_y_i_is_the_correct_class_on_a_one_hot_target(softmax):
    h = _hand()
    lines = [
        r"f = Wx + b",
        r"P_k = \frac{e^{f_k}}{\sum_j e^{f_j}}",
        r"L_i = -f_{y_i} + \log\sum_j e^{f_j}",
        r"L_i = -\log\left(\frac{e^{f_{y_i}}}{\sum_j e^{f_j}}\right)",
        r"L_i = -\log P_{y_i}",            # right only for a one-hot y: checked at such points
        r"L_i = -\log_{10} P_{y_i}",       # wrong base
        f"L_i = {h['loss']:.4f}",
        f"P_{{y_i}} = {h['q'][CLASS]:.4f}",
        r"\frac{\partial L_i}{\partial f_k} = P_k - \mathbb{1}(y_i = k)",
        r"\frac{\partial L_i}{\partial f_k} = P_k - \mathbb{1}(k = y_i)",
        r"\frac{\partial L_i}{\partial f_k} = \mathbb{1}(y_i = k) - P_k",   # wrong sign
        r"\frac{\partial L_i}{\partial W_{kj}} = (P_k - \mathbb{1}(y_i = k))\, x_j",
        r"\frac{\partial L_i}{\partial W_{kj}} = (P_k - \mathbb{1}(y_i = k))\, x_k",  # wrong
        f"\\frac{{\\partial L_i}}{{\\partial W_{{12}}}} = {h['dW'][0, 1]:.4f}",
        f"\\frac{{\\partial L_i}}{{\\partial W_{{31}}}} = {h['dW'][2, 0]:.4f}",
        f"\\frac{{\\partial L_i}}{{\\partial b_3}} = {h['db'][2]:.4f}",
        f"\\frac{{\\partial L_i}}{{\\partial f_1}} = {h['q'][0]:.4f}",      # wrong: no −1
    ]
    got, found = _verdicts(softmax, lines)
    assert got == ["defined", "defined", "correct", "correct", "correct", "incorrect",
                   "correct", "correct", "correct", "correct", "incorrect", "correct",
                   "incorrect", "correct", "correct", "correct", "incorrect"], \
        [(v.text, v.verdict, v.message) for v in found]


def test_y_i_on_a_target_that_is_not_one_hot_is_unparseable_naming_why():
    model = prepare(SOFTMAX.format(y="[0.2, 0.5, 0.3]"))
    got, found = _verdicts(model, [r"f = Wx + b", r"L_i = -f_{y_i} + \log\sum_j e^{f_j}",
                                   r"\frac{\partial L}{\partial f_k} = a_k - \mathbb{1}(y_i = k)"])
    assert got == ["defined", "unparseable", "unparseable"]
    for v in found[1:]:
        assert "y_i" in v.message and "one-hot" in v.message


def test_a_name_defined_as_something_else_is_not_an_alias(softmax):
    # r = 2 s is no quantity of the network: r_k stands for its value 2 z_k
    got, _ = _verdicts(softmax, [r"s = Wx + b", r"r = 2(Wx + b)", r"r_k = 2 s_k",
                                 r"r_k = s_k"])
    assert got == ["defined", "defined", "correct", "incorrect"]


TWO_LAYER = """
name = "aliases_two_layer"
inputs = 2
loss = "cross_entropy"
[[layer]]
size = 2
activation = "tanh"
[[layer]]
size = 3
activation = "softmax"
"""


def test_a_file_defining_f_or_g_overrides_the_activation_letter():
    # f(z) = tanh(z) is the hidden activation (f is the layer's function); after
    # g = W^2 a^1 + b^2 the letter g is the output's pre-activation z^2, not a function
    model = prepare(TWO_LAYER)
    got, _ = _verdicts(model, [r"f_1'(z^1_1) = 1 - (a^1_1)^2", r"g = W^{2} a^{1} + b^{2}",
                               r"\frac{\partial L}{\partial g_k} = a^2_k - y_k",
                               r"\frac{\partial L}{\partial g_k} = a^2_k",
                               r"g_2 = \sum_j w^2_{2j} a^1_j + b^2_2"])
    assert got == ["correct", "defined", "correct", "incorrect", "correct"]


# ---- free-standing calculus over a vector with indices ---------------------------
def _softmax_jacobian(z):
    """∂softmax(z)_i/∂z_j by central differences (NumPy), the oracle of the claims below."""
    sm = lambda v: np.exp(v - v.max()) / np.exp(v - v.max()).sum()   # noqa: E731
    h, n = 1e-6, len(z)
    return np.array([(sm(z + h * np.eye(n)[j]) - sm(z - h * np.eye(n)[j])) / (2 * h)
                     for j in range(n)]).T


def test_the_hand_forms_of_the_softmax_jacobian_agree_with_finite_differences():
    # the oracle for the verdicts below: s_i(δ_ij − s_j) is the Jacobian, its diagonal
    # s_i(1 − s_i)δ_ij is not, and ∂/∂z_i log Σ_j e^{z_j} = s_i, not e^{z_i}
    z = np.array([0.3, -1.2, 0.8])
    s = np.exp(z) / np.exp(z).sum()
    J = _softmax_jacobian(z)
    assert np.allclose(J, np.diag(s) - np.outer(s, s), atol=1e-8)
    assert not np.allclose(J, np.diag(s * (1 - s)), atol=1e-3)
    grad = np.array([(np.log(np.exp(z + 1e-6 * e).sum()) - np.log(np.exp(z - 1e-6 * e).sum()))
                     / 2e-6 for e in np.eye(3)])
    assert np.allclose(grad, s, atol=1e-8) and not np.allclose(grad, np.exp(z), atol=1e-3)


@pytest.mark.parametrize("claim, verdict", [
    (r"\frac{\partial \operatorname{softmax}(a)_k}{\partial a_j} = "
     r"\operatorname{softmax}(a)_k(\delta_{kj} - \operatorname{softmax}(a)_j)", "correct"),
    (r"\frac{\partial \operatorname{softmax}(a)_k}{\partial a_j} = "
     r"\operatorname{softmax}(a)_k(1 - \operatorname{softmax}(a)_k)\delta_{kj}", "incorrect"),
    (r"\frac{\partial}{\partial x_k} \log \sum_i e^{x_i} = \frac{e^{x_k}}{\sum_j e^{x_j}}",
     "correct"),
    (r"\frac{\partial}{\partial x_k} \log \sum_i e^{x_i} = e^{x_k}", "incorrect"),
    (r"\sum_j \mathrm{softmax}(z)_j = 1", "correct"),
    (r"\frac{\partial x_i}{\partial x_j} = \delta_{ij}", "correct"),
    (r"\frac{\partial}{\partial z_j} \sum_k z_k^2 = 2 z_j", "correct"),
    (r"\frac{\partial}{\partial z_j} \sum_k z_k^2 = 2 z_k", "incorrect"),  # for all j, k: no
    (r"\frac{\partial}{\partial w_i} w^T x = x_i", "correct"),     # w, x vectors: w_i, x_i entries
    (r"\frac{\partial}{\partial w_i} w^T x = w_i", "incorrect"),
    (r"\frac{\partial}{\partial z_i} \frac{1}{2}\|z - y\|^2 = z_i - y_i", "correct"),
])
def test_free_standing_vectors_are_checked_at_several_sizes(claim, verdict):
    found = check(None, f"${claim}$\n", kind="markup", isolate=False)
    assert [v.verdict for v in found] == [verdict], [(v.verdict, v.message) for v in found]
    if verdict == "correct":
        assert any("n = 2, 3, 4" in note for note in found[0].notes)


def test_equiv_is_a_relation_and_a_true_definition_of_a_network_name_is_correct():
    model = prepare(TWO_LAYER)
    got, _ = _verdicts(model, [r"\delta^l_j \equiv \frac{\partial L}{\partial z^l_j}",
                               r"\delta^2_j \equiv \frac{\partial L}{\partial a^2_j}"])
    # δ^2_j = a^2_j − y_j, while ∂L/∂a^2_j = −y_j / a^2_j (cross-entropy)
    assert got == ["correct", "incorrect"]


def test_a_minus_sign_before_a_function_without_parentheses():
    # −log x is −(log x), not (−log)·x; −σ x is −σ(x)
    got = [v.verdict for v in check(None, "$-\\log x = \\log \\frac{1}{x}$\n\n$-\\ln x = \\ln x$\n\n"
                                    "$-\\sigma x = -\\frac{1}{1 + e^{-x}}$\n", kind="markup",
                                    isolate=False)]
    assert got == ["correct", "incorrect", "correct"]


# ---- NumPy claims in the row layout the spec does not state (CS231n's X·W1) ----------
CS231N_TWO_LAYER = Path(__file__).resolve().parent / "corpus" / "cs231n" / "twolayer.toml"


def test_the_row_layout_gradients_are_the_transposes_of_the_column_ones():
    # the oracle: with rows (h 1×H, dscores 1×C, W2 as H×C) CS231n's dW2 = h.T·dscores is
    # the transpose of the column layout's dscores·hᵀ, and db2 = Σ over axis 0 the same row
    rng = np.random.default_rng(3)
    h, ds = rng.normal(size=3), rng.normal(size=3)
    assert np.allclose(np.dot(h[None, :].T, ds[None, :]), np.outer(ds, h).T)
    assert np.allclose(np.sum(ds[None, :], axis=0, keepdims=True), ds[:, None].T)


def test_a_numpy_claim_right_only_in_the_row_layout_is_unparseable_naming_the_layout():
    model = prepare(CS231N_TWO_LAYER)
    text = "\n".join([
        "hidden = np.maximum(0, np.dot(W1, x) + b1)",
        "scores = np.dot(W2, hidden) + b2",
        "probs = np.exp(scores) / np.sum(np.exp(scores))",
        "dscores = probs - y",
        "dW2 = np.dot(hidden.T, dscores)",            # rows: CS231n's own line
        "dW2 = hidden.T @ dscores",                   # rows
        "dW2 = dscores @ hidden.T",                   # columns: right
        "dW2 = np.dot(hidden, dscores.T)",            # wrong in both layouts
        "db2 = np.sum(dscores, axis=0, keepdims=True)",   # rows: summed over the examples
        "dhidden = np.dot(W2.T, dscores)",            # columns: right
        "dhidden = np.dot(dscores, W2.T)",            # rows: CS231n's own line
        "dhidden = np.dot(W2, dscores)",              # wrong in both
    ]) + "\n"
    found = check(model, text, isolate=False)
    got = [v.verdict for v in found]
    assert got == ["defined", "defined", "defined", "correct", "unparseable", "unparseable",
                   "correct", "incorrect", "unparseable", "correct", "unparseable",
                   "incorrect"], [(v.text, v.verdict, v.message) for v in found]
    for v in found:
        if v.verdict == "unparseable":
            assert "[notation] layout" in v.message


# ---- a weight named by two neuron families (Mazur's w_{ho}) --------------------------
MAZUR = """
name = "aliases_mazur"
inputs = 2
loss = "half_sse"
[[layer]]
size = 2
activation = "sigmoid"
[[layer]]
size = 2
activation = "sigmoid"
[notation]
style = "numbered"
[names]
neurons = [["i1", "i2"], ["h1", "h2"], ["o1", "o2"]]
W1 = [["w1", "w2"], ["w3", "w4"]]
W2 = [["w5", "w6"], ["w7", "w8"]]
b1 = ["b1", "b1"]
b2 = ["b2", "b2"]
"""


def test_a_weight_between_two_neuron_families_inside_a_sum():
    model = prepare(MAZUR)
    got, found = _verdicts(model, [
        r"\delta_{h2} = \left(\sum_{o} \delta_{o} w_{ho}\right) out_{h2}(1 - out_{h2})",
        r"\delta_{h2} = \left(\sum_{o} \delta_{o} w_{oh}\right) out_{h2}(1 - out_{h2})",
        r"\frac{\partial E_{total}}{\partial out_{h1}} = \sum_o \delta_o w_{ho}",
        r"\delta_{h2} = \left(\sum_{o} \delta_{o} w_{ho}\right) out_{h1}(1 - out_{h1})",
        r"\frac{\partial E_{total}}{\partial out_{h1}} = \sum_o \delta_o w_{h2o}",  # no such
    ])
    # δ_h2 = (δ_o1 w6 + δ_o2 w8) out_h2(1 − out_h2) (h2 feeds o1 by w6, o2 by w8);
    # the fourth names both h1 and h2, so w_{ho}'s h is not settled
    assert got == ["correct", "correct", "correct", "unparseable", "unparseable"]
    assert "h1, h2" in found[3].message


def test_a_stated_layout_decides_the_numpy_claims():
    # [notation] layout = "rows": CS231n's own lines are right (X·W1, W2 stored H×C);
    # "columns": the same lines are wrong (a shape error or a wrong formula), never "layout"
    text = "\n".join([
        "hidden = np.maximum(0, np.dot(x, W1) + b1)",
        "scores = np.dot(hidden, W2) + b2",
        "dscores = np.exp(scores) / np.sum(np.exp(scores)) - y",
        "dW2 = np.dot(hidden.T, dscores)",
        "db2 = np.sum(dscores, axis=0, keepdims=True)",
        "dhidden = np.dot(dscores, W2.T)",
        "dW2 = np.dot(dscores, hidden.T)",          # code in the stated rows: 1×C · H×1 fails
        "dW2 = np.dot(hidden, dscores.T)",          # wrong: 1×1 as rows, the transpose as columns
    ]) + "\n"
    spec = CS231N_TWO_LAYER.read_text()
    rows = prepare(spec.replace('loss = "L"', 'loss = "L"\nlayout = "rows"'))
    got = [v.verdict for v in check(rows, text, isolate=False)]
    assert got == ["defined", "defined", "correct", "correct", "correct", "correct",
                   "incorrect", "incorrect"], got
    columns = prepare(spec.replace('loss = "L"', 'loss = "L"\nlayout = "columns"'))
    found = check(columns, text.replace("np.dot(x, W1)", "np.dot(W1, x)")
                  .replace("np.dot(hidden, W2)", "np.dot(W2, hidden)"), isolate=False)
    assert [v.verdict for v in found][3:6] == ["incorrect", "incorrect", "unparseable"]
    assert not any("layout" in (v.message or "") for v in found)


def test_a_derivative_with_respect_to_the_correct_class_score(softmax):
    # ∂L_i/∂f_{y_i} = p_{y_i} − 1 and ∂p_{y_i}/∂f_{y_i} = p_{y_i}(1 − p_{y_i}) (the Jacobian's
    # diagonal entry: here it is right, as the class's own entry); hand: L = −f_c + log Σ e^f
    h = _hand()
    got, _ = _verdicts(softmax, [r"f = Wx + b", r"p_k = \frac{e^{f_k}}{\sum_j e^{f_j}}",
                                 r"\frac{\partial L_i}{\partial f_{y_i}} = p_{y_i} - 1",
                                 r"\frac{\partial L_i}{\partial f_{y_i}} = p_{y_i}",
                                 r"\frac{\partial p_{y_i}}{\partial f_{y_i}} = p_{y_i}(1 - p_{y_i})",
                                 f"\\frac{{\\partial L_i}}{{\\partial f_{{y_i}}}} = {h['ds'][CLASS]:.4f}"])
    assert got == ["defined", "defined", "correct", "incorrect", "correct", "correct"]
