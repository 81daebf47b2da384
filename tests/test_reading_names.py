"""check reads the names textbooks write (issue #13): targets, per-output errors,
course-style gradient names, superscripts with transposes and example indices,
g/f/φ for the activation, the Kronecker delta, new values of an update.

Every right claim below is hand-derived (the formulas of the sources, or numbers from
the step-by-step post / a NumPy backprop written here); every wrong variant is
``incorrect`` so that a reading which silently dropped a term would fail."""
import numpy as np
import pytest

from symbackprop.api import check, prepare

# Matt Mazur's step-by-step network (i1, i2 → h1, h2 → o1, o2; one bias per layer).
MAZUR = """
name = "mazur"
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
[values]
x = [0.05, 0.10]
y = [0.01, 0.99]
learning_rate = 0.5
w1 = 0.15
w2 = 0.20
w3 = 0.25
w4 = 0.30
w5 = 0.40
w6 = 0.45
w7 = 0.50
w8 = 0.55
b1 = 0.35
b2 = 0.60
"""

# A course-style network: tanh hidden layer, sigmoid output, binary cross-entropy.
COURSE = """
name = "course"
inputs = 3
loss = "binary_cross_entropy"
[[layer]]
size = 4
activation = "tanh"
[[layer]]
size = 1
activation = "sigmoid"
[values]
x = [0.5, -1.0, 2.0]
y = [1.0]
W1 = [[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.3, 0.2, 0.1], [0.2, 0.2, -0.1]]
b1 = [0.1, -0.1, 0.0, 0.2]
W2 = [[0.5, -0.4, 0.3, 0.2]]
b2 = [-0.1]
"""


@pytest.fixture(scope="module")
def mazur():
    return prepare(MAZUR)


@pytest.fixture(scope="module")
def course():
    return prepare(COURSE)


def verdicts(model, text):
    return check(model, text, isolate=False)


def verdict(model, text):
    found = verdicts(model, text)
    bad = next((v for v in found if v.verdict != "correct"), found[0])
    return bad


def course_numbers():
    """Hand-written NumPy backprop of COURSE (shares no code with symbackprop)."""
    x = np.array([0.5, -1.0, 2.0])
    y = 1.0
    W1 = np.array([[0.1, -0.2, 0.3], [0.4, 0.1, -0.5], [-0.3, 0.2, 0.1], [0.2, 0.2, -0.1]])
    b1 = np.array([0.1, -0.1, 0.0, 0.2])
    W2 = np.array([[0.5, -0.4, 0.3, 0.2]])
    b2 = np.array([-0.1])
    a1 = np.tanh(W1 @ x + b1)
    a2 = 1 / (1 + np.exp(-(W2 @ a1 + b2)))
    dz2 = a2 - y                                  # σ output with BCE
    dW2 = np.outer(dz2, a1)
    dz1 = (W2.T @ dz2) * (1 - a1 ** 2)
    dW1 = np.outer(dz1, x)
    return {"dz2": dz2, "dW2": dW2, "dz1": dz1, "dW1": dW1, "db1": dz1}


# ---- Mazur: targets, per-output errors, neuron families, new values -----------------
MAZUR_RIGHT = [
    r"E_{total} = E_{o1} + E_{o2}",
    r"E_{total} = \sum_o E_o",
    r"E_{total} = \sum \frac{1}{2}(target - output)^2",
    r"E_{o1} = \frac{1}{2}(target_{o1} - out_{o1})^2",
    r"E_o = \frac12 (target_o - out_o)^2",
    r"\frac{\partial E_{total}}{\partial out_{o1}} = -(target_{o1} - out_{o1})",
    r"\frac{\partial E_{total}}{\partial out_{o1}} = -(t_{o1} - out_{o1})",
    r"\frac{\partial E_{total}}{\partial out_{o2}} = out_{o2} - y_{o2}",
    r"\frac{\partial E_{o1}}{\partial out_{o1}} = -(target_{o1} - out_{o1})",
    r"\frac{\partial E_{o2}}{\partial out_{o1}} = 0",
    r"\frac{\partial E_{total}}{\partial out_{h1}} = \frac{\partial E_{o1}}{\partial out_{h1}} "
    r"+ \frac{\partial E_{o2}}{\partial out_{h1}}",
    r"\frac{\partial E_{o1}}{\partial net_{o1}} = \frac{\partial E_{o1}}{\partial out_{o1}} "
    r"\frac{\partial out_{o1}}{\partial net_{o1}}",
    r"\delta_{o1} = -(target_{o1} - out_{o1}) * out_{o1}(1 - out_{o1})",
    r"\frac{\partial E_{total}}{\partial w_{1}} = \left(\sum_{o}{\frac{\partial E_{total}}"
    r"{\partial out_{o}} * \frac{\partial out_{o}}{\partial net_{o}} * \frac{\partial net_{o}}"
    r"{\partial out_{h1}}}\right) * \frac{\partial out_{h1}}{\partial net_{h1}} * "
    r"\frac{\partial net_{h1}}{\partial w_{1}}",
    # the post's numbers (Mazur 2015, 'The Backwards Pass')
    r"\frac{\partial E_{total}}{\partial w_5} = 0.082167041",
    r"\frac{\partial E_{total}}{\partial w_1} = 0.000438568",
    r"w_5^{+} = w_5 - \eta \frac{\partial E_{total}}{\partial w_5}",
    r"w_5^{+} = 0.35891648",
    "w5+ = w5 - eta * dE_total/dw5",
    "w6+ = 0.408666186",
    r"w_5' = w_5 - \eta \frac{\partial E_{total}}{\partial w_5}",
    r"w_1^{+} = w_1 - \eta * \frac{\partial E_{total}}{\partial w_{1}} = 0.149780716",
]


@pytest.mark.parametrize("text", MAZUR_RIGHT)
def test_mazur_spellings_right(mazur, text):
    found = verdicts(mazur, text)
    assert [v.verdict for v in found] == ["correct"] * len(found), found[0].message


@pytest.mark.parametrize("text, diagnosis", [
    (r"E_{o1} = (target_{o1} - out_{o1})^2", "factor of 2"),
    (r"E_o = (target_o - out_o)^2", "factor of 2"),
    (r"\frac{\partial E_{total}}{\partial out_{o1}} = target_{o1} - out_{o1}", "sign flipped"),
    (r"E_{total} = E_{o1}", None),
    (r"\frac{\partial E_{o1}}{\partial out_{o2}} = -(target_{o2} - out_{o2})", None),
    (r"w_5^{+} = w_5 + \eta \frac{\partial E_{total}}{\partial w_5}", "gradient-ascent"),
    ("w5+ = 0.44108352", "gradient-ascent"),
    (r"w_5' = w_5 - \frac{\partial E_{total}}{\partial w_5}", None),
])
def test_mazur_spellings_wrong(mazur, text, diagnosis):
    v = verdict(mazur, text)
    assert v.verdict == "incorrect", v.message
    if diagnosis:
        assert diagnosis in (v.diagnosis or "")


def test_prime_elsewhere_is_a_derivative(mazur):
    """w_5' is the new value only right before the relation; σ'(z) stays a derivative."""
    [v] = verdicts(mazur, r"\sigma'(net_{o1}) = out_{o1}(1 - out_{o1})")
    assert v.verdict == "correct"


# ---- course style: dZ, dW, db, capitals, bracket superscripts, transposes -----------------
COURSE_RIGHT = [
    r"dZ^{[2]} = A^{[2]} - Y",
    r"dz^{[2]} = a^{[2]} - y",
    r"dW^{[2]} = dz^{[2]} a^{[1]T}",
    r"dZ^{[1]} = W^{[2]T} dZ^{[2]} * (1 - A^{[1]}^2)",
    r"dz^{[1]} = W^{[2]T} dz^{[2]} * g^{[1]\prime}(z^{[1]})",
    r"dW^{[1]} = dz^{[1]} x^{\top}",
    r"da^{[1]} = W^{[2]T} dz^{[2]}",
    r"dA^{[1]} = W^{[2]\mathsf T} dZ^{[2]}",
    r"dz^{[2]}_1 = a^{[2]}_1 - y_1",
    r"Z^{[1]} = W^{[1]} X + b^{[1]}",
    r"A^{[1]} = g^{[1]}(Z^{[1]})",
    r"\hat{y}_i = a^{[2]}_i",
    r"\hat{y} = \sigma(z^{[2]})",
    r"\nabla_{W^{(2)}} J = \delta^{(2)} a^{(1)T}",
    r"\nabla_{b^{(2)}} J = \delta^{(2)}",
    r"\nabla_{W^{(2)}} J = \nabla_{z^{(2)}} J \, a^{(1)\top}",     # (∇_z J) a^T, not ∇_z(J a^T)
    r"\nabla_{z^{(1)}} J = ((W^{(2)})^T \nabla_{z^{(2)}} J) \odot (1 - (a^{(1)})^2)",
    r"W^{[2]T} = (W^{[2]})^T",
    r"h^{(1)\top} = (a^{(1)})^T",
    r"W^{[2]\mathsf{T}} = (W^{[2]})^{\top}",
    r"\delta^{(1)} = (W^{(2)})^T \delta^{(2)} \odot \phi^{(1)\prime}(z^{(1)})",
    r"a^{[2](i)} = \sigma(z^{[2](i)})",
    r"dz^{[2](i)} = a^{[2](i)} - y^{(i)}",
    r"\frac{dE}{dw^1_{12}} = \delta^1_1 x_2",          # dE/dw stays a derivative
]


@pytest.mark.parametrize("text", COURSE_RIGHT)
def test_course_spellings_right(course, text):
    found = verdicts(course, text)
    assert [v.verdict for v in found] == ["correct"] * len(found), found[0].message


@pytest.mark.parametrize("text, diagnosis", [
    (r"dZ^{[2]} = A^{[2]} + Y", None),
    (r"dW^{[2]} = dz^{[2]} a^{[1]}", "transpose"),
    (r"dZ^{[1]} = W^{[2]T} dZ^{[2]}", "missing activation derivative"),
    (r"\hat{y}_i = a^{[1]}_i", None),
    (r"A^{[1]} = \sigma(Z^{[1]})", None),
    (r"a^{[2](i)} = \tanh(z^{[2](i)})", None),
    (r"W^{[2]T} = W^{[2]}", "transpose"),
    (r"\nabla_{W^{(2)}} J = \nabla_{z^{(2)}} J \, a^{(1)}", "transpose"),
    (r"\nabla_{W^{(1)}} J = \nabla_{z^{(1)}} J \, x^{\top} \cdot 2", "factor of 2"),
])
def test_course_spellings_wrong(course, text, diagnosis):
    v = verdict(course, text)
    assert v.verdict == "incorrect", v.message
    if diagnosis:
        assert diagnosis in (v.diagnosis or "")


@pytest.mark.parametrize("text", [
    r"dW^{[2]} = dZ^{[2]} A^{[1]T}", r"db^{[2]} = dZ^{[2]}", r"dW^{[1]} = dZ^{[1]} X^T",
])
def test_batch_matrices_without_the_mean_are_never_correct(course, text):
    """Capital dZ, A, X hold a batch (one column an example): dW = dZ A^T lacks the 1/m
    (deeplearning.ai writes dW = (1/m) dZ A^T), so it is not judged correct."""
    assert all(v.verdict != "correct" for v in verdicts(course, text))


def test_course_numbers_against_numpy(course):
    """dW^{[1]}_{jk}, db^{[1]}_j, dz^{[2]} as numbers: a hand-written NumPy backprop."""
    n = course_numbers()
    for text in (f"dW^{{[1]}}_{{23}} = {n['dW1'][1, 2]:.10f}",
                 f"db^{{[1]}}_{{4}} = {n['db1'][3]:.10f}",
                 f"dz^{{[2]}} = {n['dz2'][0]:.10f}",
                 f"dW^{{[2]}}_{{13}} = {n['dW2'][0, 2]:.10f}"):
        [v] = verdicts(course, text)
        assert v.verdict == "correct", (text, v.message, v.expected)
    [v] = verdicts(course, f"dW^{{[1]}}_{{23}} = {n['dW1'][2, 1]:.10f}")   # swapped indices
    assert v.verdict == "incorrect"


# ---- the example index (i) and the [notation] key that settles it -------------------
def test_paren_superscript_ambiguous_names_the_key(course):
    [v] = verdicts(course, r"a^{(i)} = \sigma(z^{(i)})")
    assert v.verdict == "unparseable"
    assert "paren_superscript" in v.message and "example" in v.message and "layer" in v.message


def test_paren_superscript_key():
    example = prepare(COURSE + '[notation]\nparen_superscript = "example"\n')
    [v] = check(example, r"a^{(i)} = \sigma(z^{(i)})", isolate=False)
    assert v.verdict == "unparseable"          # a^{(i)}: which layer? no layer left
    [v] = check(example, r"a^{[2](i)} = \sigma(z^{[2](i)})", isolate=False)
    assert v.verdict == "correct"
    layer = prepare(COURSE + '[notation]\nparen_superscript = "layer"\n')
    [v] = check(layer, r"a^{(2)} = \sigma(z^{(2)})", isolate=False)
    assert v.verdict == "correct"
    [v] = check(layer, r"a^{(1)} = \sigma(z^{(1)})", isolate=False)
    assert v.verdict == "incorrect"            # layer 1 is tanh


def test_example_index_refuses_a_numbered_example_and_a_batch_sum(course):
    [v] = verdicts(course, r"a^{[2](1)} = \sigma(z^{[2](1)})")
    assert v.verdict == "unparseable" and "example" in v.message
    [v] = verdicts(course, r"J = \frac{1}{2}\sum_i L^{(i)}")
    assert v.verdict == "unparseable"


def test_x_with_example_index(course):
    [v] = verdicts(course, r"z^{[1](i)} = W^{[1]} x^{(i)} + b^{[1]}")
    assert v.verdict == "correct"


# ---- g, f, φ: the layer's activation; ambiguous without a layer -----------------------
def test_activation_letter_with_its_layer(course):
    [v] = verdicts(course, r"dz^{[1]} = W^{[2]T} dz^{[2]} * g^{[2]\prime}(z^{[1]})")
    assert v.verdict == "incorrect"          # layer 2's σ' where layer 1's tanh' belongs
    [v] = verdicts(course, r"dz^{[1]} = W^{[2]T} dz^{[2]} * g^{[3]\prime}(z^{[1]})")
    assert v.verdict == "unparseable"


def test_activation_letter_without_a_layer_is_not_guessed(course):
    """g alone, not applied to a layer's z, in a network of two activations: refused,
    naming the layers and the spelling that settles it."""
    [v] = verdicts(course, r"dz^{[1]} = W^{[2]T} dz^{[2]} * g")
    assert v.verdict == "unparseable" and "g^{[1]}" in v.message and "tanh" in v.message


def test_activation_letter_of_a_one_activation_network():
    model = prepare("inputs = 2\nloss = \"half_sse\"\n[[layer]]\nsize = 2\nactivation = "
                    "\"sigmoid\"\n[[layer]]\nsize = 1\nactivation = \"sigmoid\"\n")
    for text in (r"\delta^L = (a^L - y) \odot f'(z^L)", r"a^1 = \phi(z^1)",
                 r"\delta^1 = ((W^2)^T \delta^2) \odot g'(z^1)"):
        [v] = check(model, text, isolate=False)
        assert v.verdict == "correct", (text, v.message)
    [v] = check(model, r"\delta^L = (a^L - y) \odot f(z^L)", isolate=False)
    assert v.verdict == "incorrect"


# ---- the Kronecker delta in a softmax Jacobian ----------------------------------------
@pytest.fixture(scope="module")
def softmax():
    return prepare("softmax_classifier")


@pytest.mark.parametrize("text", [
    r"\frac{\partial a^L_i}{\partial z^L_j} = a^L_i(\delta_{ij} - a^L_j)",
    r"\frac{\partial a^2_i}{\partial z^2_j} = a^2_i \delta_{ij} - a^2_i a^2_j",
])
def test_kronecker_right(softmax, text):
    found = verdicts(softmax, text)
    assert [v.verdict for v in found] == ["correct"], found[0].message


@pytest.mark.parametrize("text", [
    r"\frac{\partial a^L_i}{\partial z^L_j} = a^L_i(1 - a^L_j)",
    r"\frac{\partial a^L_i}{\partial z^L_j} = a^L_i(\delta_{ij} - a^L_i)",
    r"\frac{\partial a^L_i}{\partial z^L_j} = a^L_j(\delta_{ij} - a^L_i) + \delta_{ij}",
])
def test_kronecker_wrong(softmax, text):
    assert verdict(softmax, text).verdict == "incorrect"


def test_kronecker_is_exactly_the_identity(softmax):
    """δ_{ij} for i = j is 1 and otherwise 0: Σ_j δ_{ij} a_j = a_i."""
    [v] = verdicts(softmax, r"\sum_j \delta_{ij} a^2_j = a^2_i")
    assert v.verdict == "correct"
    [v] = verdicts(softmax, r"\sum_j \delta_{ij} a^2_j = a^2_1")
    assert v.verdict == "incorrect"


# ---- CS231n's one-layer softmax: Wx, W_{kj}, b_k, L_i ---------------------------------
SOFTMAX_ONE_LAYER = """
inputs = 3
loss = "cross_entropy"
[[layer]]
size = 3
activation = "softmax"
[notation]
loss = "L"
[values]
x = [1.2, -0.8, 0.5]
y = [0, 0, 1]
W1 = [[0.2, -0.5, 0.1], [1.5, 1.3, 2.1], [0.0, 0.25, 0.2]]
b1 = [1.1, 3.2, -1.2]
"""


@pytest.fixture(scope="module")
def one_layer():
    return prepare(SOFTMAX_ONE_LAYER)


@pytest.mark.parametrize("text", [
    r"z^1 = Wx + b",                                          # W·x, the only layer's W and b
    r"\frac{\partial L}{\partial W_{kj}} = (a^1_k - y_k) x_j",  # softmax + cross-entropy
    r"\frac{\partial L}{\partial b_k} = a^1_k - y_k",
    r"\frac{\partial L_i}{\partial b_k} = a^1_k - y_k",       # L_i: the one example's loss
    r"L_i = -\sum_k y_k \log a^1_k",
])
def test_one_layer_spellings_right(one_layer, text):
    found = verdicts(one_layer, text)
    assert [v.verdict for v in found] == ["correct"], found[0].message


@pytest.mark.parametrize("text", [
    r"z^1 = Wx",
    r"\frac{\partial L}{\partial W_{kj}} = (a^1_k - y_k) x_k",
    r"\frac{\partial L}{\partial b_k} = y_k - a^1_k",
])
def test_one_layer_spellings_wrong(one_layer, text):
    assert verdict(one_layer, text).verdict == "incorrect"


def test_example_loss_over_a_batch_is_any_one_examples():
    """L_i on a batch spec: a formula of any one example's loss holds example by example
    (CS231n's L_i = −log p_{y_i}); a number for L_i names no example (unparseable)."""
    batch = prepare(SOFTMAX_ONE_LAYER + "[[values.samples]]\nx = [0.1, 0.2, 0.3]\ny = [1, 0, 0]\n")
    [v] = check(batch, r"L_i = -\sum_k y_k \log a^1_k", isolate=False)
    assert v.verdict == "correct"
    [v] = check(batch, r"L_i = -\sum_k y_k \log_{10} a^1_k", isolate=False)
    assert v.verdict == "incorrect"
    [v] = check(batch, r"L_i = 0.25", isolate=False)
    assert v.verdict == "unparseable" and "one of them" in v.message


def test_two_layer_network_keeps_sub_only_layer_reading(course):
    """W_2 / b_2 name layer 2 in a network of several layers (unchanged)."""
    [v] = verdicts(course, r"z^2 = W_2 a^1 + b_2")
    assert v.verdict == "correct"
