"""check on recurrent specs (issue #19): BPTT claims read in matrix form and judged.

The oracle is the hand derivation of BPTT (δ_t = (Uᵀδ_{t+1} + Vᵀδ^y_t) ⊙ f′(z_t),
∂E/∂U = Σ_t δ_t h_{t−1}ᵀ, …): right claims, written as the textbooks write them, must be
judged correct; each classic mistake incorrect with its diagnosis; anything the checker
cannot read with certainty unparseable, never incorrect (also every equation of the
documents symbackprop writes for rnn specs).
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop.api import prepare
from symbackprop.checker.recurrent import check_recurrent
from symbackprop.render.recurrent import make_recurrent_documents

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "symbackprop" / "examples" / "recurrent" / "rnn_tiny.toml"
LAST = """inputs = 2
loss = "cross_entropy"
[network]
time = "mean"
[[layer]]
type = "rnn"
size = 3
activation = "sigmoid"
truncate = 2
[[layer]]
size = 3
activation = "softmax"
"""

RIGHT = [
    r"\delta_t = (U^T \delta_{t+1} + V^\top \delta^y_t) \odot f'(z_t)",
    r"\delta_t = \left(W_{hh}^{\top} \delta_{t+1} + W_{hy}^{\top} \delta^{y}_t\right) \odot (1 - h_t^2)",
    r"\delta_t = \mathrm{diag}(1 - h_t^2) (W_{hh}^T \delta_{t+1} + V^T \delta^y_t)",
    r"\frac{\partial E}{\partial h_t} = U^T \delta_{t+1} + V^T \delta^y_t",
    r"\frac{\partial E}{\partial z_t} = \frac{\partial E}{\partial h_t} \odot (1 - h_t \odot h_t)",
    r"\frac{\partial E}{\partial U} = \sum_{t=1}^{T} \delta_t h_{t-1}^T",
    r"\frac{\partial E}{\partial W_{hh}} = \sum_t \delta_t h_{t-1}^{\top}",
    r"\frac{\partial E}{\partial W_{xh}} = \sum_{t=1}^{T} \delta_t x_t^T",
    r"\frac{\partial E}{\partial b} = \sum_{t=1}^{T} \delta_t",
    r"\frac{\partial E}{\partial V} = \sum_{t=1}^{T} \delta^y_t h_t^T",
    r"\frac{\partial E}{\partial c} = \sum_t \delta^y_t",
    r"h_t = \tanh(W x_t + U h_{t-1} + b)",
    r"h^{(t)} = \tanh(W_{xh} x^{(t)} + W_{hh} h^{(t-1)} + b_h)",
    r"z_t = W x_t + U h_{t-1} + b",
    r"\delta_T = V^T \delta^y_T \odot (1 - h_T^2)",
    r"\delta^{y}_t = \hat{y}_t \odot (1 - \hat y_t) \odot (\hat{y}_t - y_t)",
    r"dE/dU = \sum_{t=1}^{T} \delta_t h_{t-1}^T",
]

WRONG = [  # (claim, the diagnosis's words)
    (r"\frac{\partial E}{\partial U} = \delta_T h_{T-1}^T", "cut to one step"),
    (r"\frac{\partial E}{\partial W} = \delta_t x_t^T", "cut to one step"),
    (r"\delta_t = V^T \delta^y_t \odot f'(z_t)", "recurrent term U^T δ_{t+1} is missing"),
    (r"\frac{\partial E}{\partial W_{hh}} = \sum_{t=1}^{T} \delta_t h_t^T", "off by one"),
    (r"\frac{\partial E}{\partial W} = \sum_{t=2}^{T} \delta_t x_{t-1}^T", None),
    (r"h_t = \tanh(W x_t + U h_t + b)", "off by one"),
    (r"\delta_t = (U^T \delta_{t+1} + V^T \delta^y_t) \odot f'(z_{t+1})", "f′ at the wrong step"),
    (r"\delta_t = (U^T \delta_{t+1} + V^T \delta^y_t) \odot (1 - h_{t-1}^2)", "f′ at the wrong step"),
    (r"\delta_t = (U \delta_{t+1} + V^T \delta^y_t) \odot f'(z_t)", "U written for U^T"),
]


@pytest.fixture(scope="module")
def tiny():
    return prepare(TINY)


def verdicts(model, text, kind="text"):
    return check_recurrent(model, text, kind)


def test_right_claims_are_correct(tiny):
    for claim in RIGHT:
        v, = verdicts(tiny, claim)
        assert v.verdict == "correct", (claim, v)


@pytest.mark.parametrize("claim, words", WRONG)
def test_each_mistake_is_incorrect_and_named(tiny, claim, words):
    v, = verdicts(tiny, claim)
    assert v.verdict == "incorrect", (claim, v)
    assert v.counterexample and "random network" in v.counterexample
    if words is not None:
        assert v.diagnosis and words in v.diagnosis, (claim, v.diagnosis)


def test_last_step_softmax_spec():
    model = prepare(LAST)
    right = [r"\delta_t = (U^T \delta_{t+1} + V^T \delta^y_t) \odot f'(z_t)",
             r"\frac{\partial E}{\partial V} = \delta^y_T h_T^T",
             r"\delta^y_T = \hat{y}_T - y_T",          # softmax + CE, one output (mean over 1)
             r"\delta_t = (U^T \delta_{t+1} + V^T \delta^y_t) \odot \sigma(z_t) \odot (1 - h_t)"]
    for claim in right:
        v, = verdicts(model, claim)
        assert v.verdict == "correct", (claim, v)
    v, = verdicts(model, r"\delta_t = U^T \delta_{t+1} \odot f'(z_t)")     # wrong at t = T
    assert v.verdict == "incorrect" and "output term" in v.diagnosis


UNREAD = [
    r"\frac{\partial E}{\partial W} = \sum_{t=1}^{T} x_t \delta_t^T",    # the transposed layout
    r"c = [0.1]",                                                        # a value of the spec
    r"\frac{\partial E}{\partial U_{11}} = 0.5",                         # an entry
    r"a^{(t)} = b + W h^{(t-1)} + U x^{(t)}",                            # Goodfellow's letters
    r"dE/dU = sum_t delta_t h_{t-1}^T",                                  # a plain-text sum
    r"\delta_t = U^T \delta_{t+1} + W",                                   # shapes that do not fit
    r"\delta_t = (U^T \delta_{t+1}",                                     # not a formula
    r"h_t = h_t \cdot 1e400 / 1e400",                                    # beyond float64
    r"\frac{\partial E}{\partial b} = " + "\\sum_{t=1}^{T} " * 12 + r"\delta_t",  # work bounded
    r"\delta_t = \delta_{t+99999}",                                      # no such step
]


@pytest.mark.parametrize("claim", UNREAD)
def test_what_cannot_be_read_is_unparseable(tiny, claim):
    v, = verdicts(tiny, claim)
    assert v.verdict == "unparseable" and v.reason, (claim, v)


@pytest.mark.parametrize("source", ["tiny", "last"])
def test_the_documents_have_no_incorrect_equation(source):
    model = prepare(TINY if source == "tiny" else LAST + "[values]\nx = [[1, 0], [0, 1], [1, 1]]\n"
                    "y = [0, 1, 0]\n")
    params = model.parameters(4)
    files = make_recurrent_documents(model, ["md"], "d", (params, model.evaluate(params=params)))
    found = verdicts(model, files["d.md"], "markup")
    assert not [v for v in found if v.verdict == "incorrect"]
    assert sum(v.verdict == "correct" for v in found) >= 9


def test_check_command_exit_status_and_json(tmp_path):
    right, wrong = tmp_path / "right.txt", tmp_path / "wrong.txt"
    right.write_text("\n".join(RIGHT[:4]) + "\n")
    wrong.write_text(WRONG[0][0] + "\n")
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "symbackprop", "check", str(TINY), str(right)],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0 and "4 correct, 0 incorrect" in run.stdout, run.stdout + run.stderr
    run = subprocess.run([sys.executable, "-m", "symbackprop", "check", str(TINY), str(wrong), "--json"],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 1, run.stderr
    out = json.loads(run.stdout)
    assert out["summary"]["incorrect"] == 1 and "cut to one step" in out["claims"][0]["diagnosis"]
