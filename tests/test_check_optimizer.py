r"""check on optimiser update lines (issue #20): m_t, v_t, \hat m_t, \hat v_t, s_t, v,
θ_{t+1} and w_{t+1} in vector and per-parameter form, at the spec's [optimizer].

Every right line must be `correct`; every classic mistake is `incorrect` with its
diagnosis, and its counterexample (the first weight w1 at step 1 of the spec's run) is
compared with the values worked out here: the gradient from torch autograd (float64) of
the blog's 2-2-2 network, the update by hand in NumPy.  Nothing here uses symbackprop's
optimiser code for an expected value.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from symbackprop.api import check, example_path, prepare

MAZUR = Path(example_path("mazur_adam")).read_text()
ADAM = MAZUR.split("[optimizer]")[0] + "{optimizer}\n[values]" + MAZUR.split("[values]")[1]
X2 = "\n[[values.samples]]\nx = [0.05, 0.10]\ny = [0.01, 0.99]\n" \
     "[[values.samples]]\nx = [0.20, -0.30]\ny = [0.50, 0.20]\n"


def spec(optimizer: str, samples: str = "") -> str:
    text = ADAM.format(optimizer="[optimizer]\n" + optimizer)
    if samples:                       # two examples instead of the post's one
        text = text.replace("x = [0.05, 0.10]\ny = [0.01, 0.99]\n", "") + samples
    return text


def w1_gradient(samples=((0.05, 0.10, 0.01, 0.99),)) -> float:
    """∂E/∂w1 at the post's parameters by torch autograd, the batch mean of half SSE."""
    W1 = torch.tensor([[0.15, 0.20], [0.25, 0.30]], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[0.40, 0.45], [0.50, 0.55]], dtype=torch.float64)
    b1 = torch.tensor([0.35, 0.35], dtype=torch.float64)
    b2 = torch.tensor([0.60, 0.60], dtype=torch.float64)
    losses = []
    for x1, x2, y1, y2 in samples:
        x = torch.tensor([x1, x2], dtype=torch.float64)
        y = torch.tensor([y1, y2], dtype=torch.float64)
        out = torch.sigmoid(W2 @ torch.sigmoid(W1 @ x + b1) + b2)
        losses.append(0.5 * ((out - y) ** 2).sum())
    torch.stack(losses).mean().backward()
    return float(W1.grad[0, 0])


def verdicts(text: str, claims: str):
    return check(prepare(text), claims, isolate=False)


# ---- right lines ---------------------------------------------------------------------

ADAM_RIGHT = [
    r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t",
    r"v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2",
    r"\hat m_t = \frac{m_t}{1-\beta_1^t}",
    r"\hat{v}_t = v_t / (1 - \beta_2^t)",
    r"w_{t+1} = w_t - \eta \hat m_t/(\sqrt{\hat v_t}+\epsilon)",
    r"\theta_{t+1} = \theta_t - \eta \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}",
    r"\theta_t \leftarrow \theta_{t-1} - \alpha \cdot \hat m_t / (\sqrt{\hat v_t} + \epsilon)",
    r"m_{t+1} = \beta_1 m_t + (1 - \beta_1) g_{t+1}",
    "m = beta1*m + (1 - beta1)*g",
    r"g_t = \nabla_\theta f_t(\theta_{t-1})",
]


@pytest.mark.parametrize("claim", ADAM_RIGHT)
def test_right_adam_lines_are_correct(claim):
    v = verdicts(MAZUR, claim)
    assert [x.verdict for x in v] == ["correct"], (claim, v)


MOMENTUM_RIGHT = [  # each file's lines together: a velocity line fixes the convention
    (r"v_t = \mu v_{t-1} + g_t" "\n" r"\theta_{t+1} = \theta_t - \eta v_t"),
    ("v = \\mu v - \\eta g\n\\theta = \\theta + v"),
    ("v \\leftarrow \\mu v + \\eta \\nabla L\n\\theta \\leftarrow \\theta - v"),
]


@pytest.mark.parametrize("claims", MOMENTUM_RIGHT)
def test_every_velocity_convention_is_read(claims):
    v = verdicts(spec('name = "momentum"\nlr = 0.5\nmomentum = 0.9'), claims)
    assert [x.verdict for x in v] == ["correct", "correct"], v


def test_nesterov_and_rmsprop_and_adamw_right_lines():
    assert all(x.verdict == "correct" for x in verdicts(
        spec('name = "nesterov"\nlr = 0.5\nmomentum = 0.9'),
        "v_t = \\mu v_{t-1} + g_t\n\\theta_{t+1} = \\theta_t - \\eta (g_t + \\mu v_t)"))
    assert all(x.verdict == "correct" for x in verdicts(
        spec('name = "rmsprop"\nlr = 0.01'),
        "s_t = \\alpha s_{t-1} + (1-\\alpha) g_t^2\n"
        "\\theta_{t+1} = \\theta_t - \\frac{\\eta}{\\sqrt{s_t} + \\epsilon} g_t"))
    assert all(x.verdict == "correct" for x in verdicts(
        spec('name = "adamw"\nlr = 0.01\nweight_decay = 0.1'),
        "w_t = w_{t-1} - \\eta (\\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon) + \\lambda w_{t-1})\n"
        "b_t = b_{t-1} - \\eta \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)"))


# ---- the classic mistakes, each with its counterexample worked out here -------------------

def adam_step1(g, lr=0.01, b1=0.9, b2=0.999, eps=1e-8, theta=0.15):
    m, v = (1 - b1) * g, (1 - b2) * g * g
    return theta - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps), m, v


def case_no_bias_correction():
    g = w1_gradient()
    true, m, v = adam_step1(g)
    return MAZUR, r"\theta_{t+1} = \theta_t - \eta m_t / (\sqrt{v_t} + \epsilon)", \
        "missing bias correction", true, 0.15 - 0.01 * m / (np.sqrt(v) + 1e-8)


def case_t_from_zero():
    g = w1_gradient()
    return MAZUR, r"\hat m_t = \frac{m_t}{1-\beta_1^{t-1}}", "β^t counted from 0", \
        (1 - 0.9) * g / (1 - 0.9), None          # 1 − β⁰ = 0 at the first step


def case_eps_inside():
    g = w1_gradient()
    true, m, v = adam_step1(g)
    return MAZUR, r"\theta_{t+1} = \theta_t - \eta \hat m_t / \sqrt{\hat v_t + \epsilon}", \
        "ε inside the square root", true, 0.15 - 0.01 * (m / 0.1) / np.sqrt(v / 0.001 + 1e-8)


def case_momentum_sign():
    g = w1_gradient()
    v = -0.5 * g                                 # the textbook velocity μ·0 − ηg, η = 0.5
    return spec('name = "momentum"\nlr = 0.5\nmomentum = 0.9'), \
        "v = \\mu v - \\eta g\n\\theta = \\theta - v", "wrong momentum sign", 0.15 + v, 0.15 - v


def case_nesterov():
    g = w1_gradient()
    return spec('name = "nesterov"\nlr = 0.5\nmomentum = 0.9'), \
        r"\theta_{t+1} = \theta_t - \eta v_t", "Nesterov look-ahead missing", \
        0.15 - 0.5 * (g + 0.9 * g), 0.15 - 0.5 * g


def case_rmsprop_root():
    g = w1_gradient()
    s = 0.01 * g * g
    return spec('name = "rmsprop"\nlr = 0.01'), \
        r"\theta_{t+1} = \theta_t - \frac{\eta}{s_t + \epsilon} g_t", "no square root", \
        0.15 - 0.01 * g / (np.sqrt(s) + 1e-8), 0.15 - 0.01 * g / (s + 1e-8)


def case_bias_decay():
    # b1's gradient: δ of the hidden layer summed into b^1_1 (autograd below)
    W1 = torch.tensor([[0.15, 0.20], [0.25, 0.30]], dtype=torch.float64)
    b1 = torch.tensor([0.35, 0.35], dtype=torch.float64, requires_grad=True)
    W2 = torch.tensor([[0.40, 0.45], [0.50, 0.55]], dtype=torch.float64)
    b2 = torch.tensor([0.60, 0.60], dtype=torch.float64)
    x = torch.tensor([0.05, 0.10], dtype=torch.float64)
    y = torch.tensor([0.01, 0.99], dtype=torch.float64)
    (0.5 * ((torch.sigmoid(W2 @ torch.sigmoid(W1 @ x + b1) + b2) - y) ** 2).sum()).backward()
    gb = float(b1.grad[0])
    return spec('name = "sgd"\nlr = 0.5\nweight_decay = 0.1'), \
        r"\theta_{t+1} = \theta_t - \eta (\nabla E + \lambda \theta_t)", "decay applied to biases", \
        0.35 - 0.5 * gb, 0.35 - 0.5 * (gb + 0.1 * 0.35)


def case_l2_in_adamw():
    g = w1_gradient()
    return spec('name = "adamw"\nlr = 0.01\nweight_decay = 0.1'), \
        r"g_t = \nabla L(w_{t-1}) + \lambda w_{t-1}", "L2 confused with decoupled decay", \
        g, g + 0.1 * 0.15


def case_decoupled_in_adam():
    g = w1_gradient() + 0.1 * 0.15               # Adam's weight_decay: L2 in the gradient
    true, _, _ = adam_step1(g)
    # the line as written, with the step's own m̂ and v̂ (of g + λw): decayed twice
    decoupled, _, _ = adam_step1(g, theta=0.15 * (1 - 0.01 * 0.1))
    return spec('name = "adam"\nlr = 0.01\nweight_decay = 0.1'), \
        r"w_t = w_{t-1} (1 - \eta \lambda) - \eta \hat m_t / (\sqrt{\hat v_t} + \epsilon)", \
        "L2 confused with decoupled decay", true, decoupled


def case_mean_vs_sum():
    samples = ((0.05, 0.10, 0.01, 0.99), (0.20, -0.30, 0.50, 0.20))
    g = w1_gradient(samples)                     # the mean over the two examples
    return spec('name = "sgd"\nlr = 0.5\nbatch_size = 2', X2), r"g_t = \sum_{i} \nabla \ell_i", \
        "mean vs sum over the mini-batch", g, 2 * g


CASES = [case_no_bias_correction, case_t_from_zero, case_eps_inside, case_momentum_sign,
         case_nesterov, case_rmsprop_root, case_bias_decay, case_l2_in_adamw,
         case_decoupled_in_adam, case_mean_vs_sum]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_each_mistake_is_named_with_its_counterexample(case):
    text, claims, diagnosis, true, claimed = case()
    v = verdicts(text, claims)[-1]
    assert v.verdict == "incorrect" and v.diagnosis and v.diagnosis.startswith(diagnosis), v
    assert "step 1 of the spec's run" in v.message
    assert v.counterexample["lhs"] == pytest.approx(true, rel=1e-12, abs=1e-15)
    if claimed is None:
        assert v.counterexample["rhs"] is None
    else:
        assert v.counterexample["rhs"] == pytest.approx(claimed, rel=1e-12, abs=1e-15)


def test_a_wrong_line_without_a_known_mistake_still_gets_a_counterexample():
    v = verdicts(MAZUR, r"m_t = \beta_1 m_{t-1} + \beta_1 g_t")[0]
    g = w1_gradient()
    assert v.verdict == "incorrect" and v.diagnosis is None
    assert v.counterexample["lhs"] == pytest.approx(0.1 * g, rel=1e-12)
    assert v.counterexample["rhs"] == pytest.approx(0.9 * g, rel=1e-12)


@pytest.mark.parametrize("text, claim, message", [
    (MAZUR, r"\theta_{t+1} = \theta_t - \gamma \hat m_t", "γ is the momentum"),
    (MAZUR, r"m_t = \beta m_{t-1} + (1 - \beta) g_t", "not a hyper-parameter of adam"),
    (MAZUR, r"m_t = \beta_1 m_t + (1 - \beta_1) g_t", "on both sides at the same step"),
    (spec('name = "rmsprop"\nmomentum = 0.5'), r"\theta_{t+1} = \theta_t - \eta b_t", "RMSProp with momentum"),
])
def test_doubtful_readings_are_unparseable(text, claim, message):
    v = verdicts(text, claim)[0]
    assert v.verdict == "unparseable" and message in v.message, v


def test_plain_update_lines_keep_their_reader():
    """w ← w − η ∂E/∂w is still the gradient-descent update of checker/updates.py."""
    v = verdicts(MAZUR.replace('name = "adam"', 'name = "sgd"'),
                 r"w_1^{new} = w_1 - \eta \frac{\partial E}{\partial w_1}")[0]
    assert v.verdict == "correct"


def test_a_numeric_update_takes_eta_from_the_optimizer_table():
    """η of a checked number is [optimizer].lr when [values] has none (train's precedence):
    w1 − 0.01 · ∂E/∂w1, the gradient by torch autograd."""
    new = 0.15 - 0.01 * w1_gradient()
    v = verdicts(MAZUR, f"w_1^{{new}} = w_1 - \\eta \\frac{{\\partial E}}{{\\partial w_1}} = {new:.9f}")
    assert [x.verdict for x in v] == ["correct", "correct"], v
    wrong = verdicts(MAZUR, f"w_1^{{new}} = {0.15 - 0.5 * w1_gradient():.9f}")[0]
    assert wrong.verdict == "incorrect"


def test_the_torch_documentations_lines():
    """torch.optim's algorithm boxes: g_t ← g_t + λθ_{t−1} (in place) is right; its
    momentum buffer b_t ← μ b_{t−1} + g_t is no update of the biases (unparseable)."""
    text = spec('name = "sgd"\nlr = 0.5\nweight_decay = 0.1')
    v = verdicts(text, r"g_t \leftarrow g_t + \lambda w_{t-1}")[0]
    assert v.verdict == "correct", v
    v = verdicts(spec('name = "momentum"\nlr = 0.5'), r"b_t \leftarrow \mu b_{t-1} + g_t")[0]
    assert v.verdict == "unparseable" and "momentum buffer b" in v.message, v
