"""Numbers against independent oracles: central finite differences and a
hand-written NumPy backprop (tests/oracles.py)."""
import numpy as np
import pytest

from conftest import spec_text
from oracles import central_differences, np_backprop
from symbackprop.core.functions import ACTIVATIONS, LOSSES
from symbackprop.numeric.vectorised import evaluate, update
from symbackprop.core.parameters import initial_parameters
from symbackprop.api import example_path, prepare

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
PAIRS = [(out, loss) for out in ACTIVATIONS for loss, spec in LOSSES.items()
         if spec.outputs is None or out in spec.outputs]


def random_case(sizes, acts, loss, seed, batch=1, mode="mean"):
    extra = f'[network]\nbatch = "{mode}"\n'
    model = prepare(spec_text(sizes, acts, loss, extra))
    rng = np.random.default_rng(seed)
    params = initial_parameters(model.spec, seed)
    X = rng.normal(size=(sizes[0], batch))
    if loss == "cross_entropy" and acts[-1] == "softmax":
        Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], batch)]
    else:
        Y = rng.uniform(0.05, 0.95, size=(sizes[-1], batch))
    return model, params, X, Y


def rel(a, b):
    num = sum(np.sum((a[k] - b[k]) ** 2) for k in a)
    den = sum(np.sum(b[k] ** 2) for k in b)
    return np.sqrt(num / max(den, 1e-300))


@pytest.mark.parametrize("out,loss", PAIRS)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_match_oracles(out, loss, seed):
    hidden = [HIDDEN[(seed + i + PAIRS.index((out, loss))) % len(HIDDEN)] for i in range(2)]
    acts = hidden + [out]
    sizes = [3, 4, 3, 2 if out != "softmax" else 3]
    model, params, X, Y = random_case(sizes, acts, loss, seed, batch=3)
    ev = evaluate(model.compiled, params, X, Y, "mean")
    loss_ref, grads_ref = np_backprop(acts, loss, params, X, Y, mean=True)
    assert abs(ev.loss - loss_ref) <= 1e-12 * abs(loss_ref)
    assert rel(ev.gradients, grads_ref) <= 1e-12
    fd = central_differences(lambda p: evaluate(model.compiled, p, X, Y).loss, params)
    assert rel(ev.gradients, fd) <= 1e-6


def test_batch_sum_is_n_times_mean():
    model, params, X, Y = random_case([2, 3, 2], ["tanh", "sigmoid"], "mse", 3, batch=5)
    mean = evaluate(model.compiled, params, X, Y, "mean")
    total = evaluate(model.compiled, params, X, Y, "sum")
    loss_ref, grads_ref = np_backprop(["tanh", "sigmoid"], "mse", params, X, Y, mean=False)
    assert np.isclose(total.loss, 5 * mean.loss, rtol=1e-13)
    assert rel(total.gradients, grads_ref) <= 1e-12


def test_stable_for_huge_preactivations():
    model, params, X, Y = random_case([2, 3], ["softmax"], "cross_entropy", 0)
    params = {k: v * 1e4 for k, v in params.items()}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ev = evaluate(model.compiled, params, X * 100, Y)
    assert np.isfinite(ev.loss) and all(np.isfinite(g).all() for g in ev.gradients.values())
    model, params, X, Y = random_case([2, 1], ["sigmoid"], "binary_cross_entropy", 0)
    params = {k: v * 1e4 for k, v in params.items()}
    with np.errstate(over="raise"):
        ev = evaluate(model.compiled, params, X * 100, Y)
    assert np.isfinite(ev.loss)


def test_update_is_one_descent_step():
    model, params, X, Y = random_case([2, 2, 1], ["relu", "sigmoid"], "half_sse", 5)
    ev = evaluate(model.compiled, params, X, Y)
    new = update(params, ev.gradients, 0.5)
    for k in params:
        np.testing.assert_allclose(new[k], params[k] - 0.5 * ev.gradients[k], rtol=0, atol=0)
    # a small enough step lowers the loss
    assert evaluate(model.compiled, update(params, ev.gradients, 1e-3), X, Y).loss < ev.loss


def test_worked_example_numbers():
    """The 2-3-3-1 post's network, computed independently by hand here."""
    model = prepare(example_path("worked_2331"))
    params, ev, new, lr = model.step()
    x = np.array([0.23, 0.55])
    relu = lambda v: np.maximum(v, 0)
    h1 = relu(np.array([[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]]) @ x + [0.1, -0.4, 0.3])
    assert np.allclose(h1, [0.343, 0, 0.699])
    h2 = relu(np.array([[0.7, 0.1, 0.4], [0.8, 0.2, 0.5], [0.9, 0.3, 0.6]]) @ h1 + [-0.5, 0.5, 0.6])
    assert np.allclose(h2, [0.0197, 1.1239, 1.3281])
    out = 1 / (1 + np.exp(-(np.dot([0.7, 0.8, 0.9], h2) - 0.7)))
    assert np.isclose(ev.outputs[0, 0], out) and abs(out - 0.8035) < 5e-5
    assert np.isclose(ev.loss, 0.5 * (out - 0.01) ** 2)      # 0.3148, the post rounds to 0.315
    d_out = (out - 0.01) * out * (1 - out)
    assert np.isclose(ev.gradients["W3"][0, 0], d_out * 0.0197)   # ∂E/∂w16 ≈ 0.0025
    assert np.isclose(ev.gradients["W2"][0, 0], d_out * 0.7 * 0.343)  # ∂E/∂w7 ≈ 0.03008
    # ∂E/∂w1 sums three paths (the post keeps only the one through n6)
    assert np.isclose(ev.gradients["W1"][0, 0], d_out * (0.7 * 0.7 + 0.8 * 0.8 + 0.9 * 0.9) * 0.23)
    assert np.isclose(new["W3"][0, 0], 0.7 - 0.01 * d_out * 0.0197)
