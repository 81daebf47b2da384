"""Scale: gradients of random deep/wide networks against an established autodiff
library (autograd, written here from the textbook definitions), the derivation's
size staying linear in the parameters, and a 784-30-10 network end to end.

Timings are measured in benchmarks/bench.py, never asserted here.
"""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp

from oracles import np_backprop
from symbackprop.numeric.codegen import generate
from symbackprop.core.derive import derive
from symbackprop.core.functions import ACTIVATIONS, LOSSES
from symbackprop.core.network import build_network
from symbackprop.numeric.vectorised import evaluate
from symbackprop.core.parameters import initial_parameters
from symbackprop.api import prepare
from symbackprop.render.environment import render_markdown
from symbackprop.core.spec import parse_spec

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
PAIRS = [(out, loss) for out in ACTIVATIONS for loss, spec in LOSSES.items()
         if spec.outputs is None or out in spec.outputs]


def spec_text(sizes, acts, loss, alpha=None, batch="mean"):
    lines = [f"inputs = {sizes[0]}", f'loss = "{loss}"', "[network]", f'batch = "{batch}"']
    for size, act in zip(sizes[1:], acts):
        lines += ["[[layer]]", f"size = {size}", f'activation = "{act}"']
        if act == "leaky_relu" and alpha is not None:
            lines.append(f"alpha = {alpha}")
    return "\n".join(lines) + "\n"


# ---- the autograd oracle: forward pass and loss from the definitions --------------

def ag_activation(name, z, alpha):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "tanh":
        return anp.tanh(z)
    if name == "relu":
        return anp.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return anp.where(z > 0, z, alpha * z)
    if name == "elu":     # the spec's default α = 1 (spec_text writes alpha for leaky_relu only)
        return anp.where(z > 0, z, anp.exp(anp.minimum(z, 0.0)) - 1.0)
    if name == "softplus":
        return anp.logaddexp(0.0, z)
    if name == "softmax":
        e = anp.exp(z - anp.max(z, axis=0, keepdims=True))
        return e / anp.sum(e, axis=0, keepdims=True)
    raise KeyError(name)


def ag_loss(name, a, y):
    """Per-example loss."""
    if name == "half_sse":
        return 0.5 * anp.sum((a - y) ** 2, axis=0)
    if name == "sse":
        return anp.sum((a - y) ** 2, axis=0)
    if name == "mse":
        return anp.mean((a - y) ** 2, axis=0)
    if name == "cross_entropy":
        return -anp.sum(y * anp.log(a), axis=0)
    if name == "binary_cross_entropy":
        return -anp.sum(y * anp.log(a) + (1 - y) * anp.log(1 - a), axis=0)
    raise KeyError(name)


def ag_gradients(acts, loss, params, X, Y, alpha=0.01, batch="mean"):
    def E(p):
        a = X
        for l, act in enumerate(acts, start=1):
            a = ag_activation(act, anp.dot(p[f"W{l}"], a) + p[f"b{l}"][:, None], alpha)
        per = ag_loss(loss, a, Y)
        return anp.mean(per) if batch == "mean" else anp.sum(per)
    return E(params), autograd.grad(E)(params)


def rel(a, b):
    num = sum(np.sum((a[k] - b[k]) ** 2) for k in b)
    return np.sqrt(num / max(sum(np.sum(b[k] ** 2) for k in b), 1e-300))


def random_case(i, depth, width, out, loss, batch=5):
    rng = np.random.default_rng(100 + i)
    acts = [HIDDEN[(i + h) % len(HIDDEN)] for h in range(depth)] + [out]
    sizes = [int(rng.integers(2, width + 1)) for _ in range(depth + 1)]
    sizes.append(3 if out == "softmax" else int(rng.integers(1, 4)))
    X = rng.normal(size=(sizes[0], batch))
    if out == "softmax" and loss == "cross_entropy":
        Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], batch)]
    else:
        Y = rng.uniform(0.05, 0.95, size=(sizes[-1], batch))
    return sizes, acts, X, Y


@pytest.mark.parametrize("out,loss", PAIRS)
def test_random_networks_match_autograd(out, loss):
    i = PAIRS.index((out, loss))
    for depth, width, alpha, batch in [(1, 4, None, "mean"), (3, 7, "0.2", "sum")]:
        sizes, acts, X, Y = random_case(i + depth, depth, width, out, loss)
        model = prepare(spec_text(sizes, acts, loss, alpha, batch))
        params = initial_parameters(model.spec, i)
        ev = evaluate(model.compiled, params, X, Y, batch)
        E, grads = ag_gradients(acts, loss, params, X, Y, float(alpha or 0.01), batch)
        assert abs(ev.loss - E) <= 1e-12 * abs(E), (sizes, acts)
        assert rel(ev.gradients, grads) <= 1e-10, (sizes, acts)


def test_deep_wide_network_and_generated_module_match_autograd(tmp_path):
    import importlib.util
    acts = ["tanh", "relu", "sigmoid", "leaky_relu", "softplus", "tanh", "identity", "softmax"]
    sizes = [12, 24, 20, 24, 16, 20, 24, 16, 10]
    model = prepare(spec_text(sizes, acts, "cross_entropy"))
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(12, 32)), np.eye(10)[:, rng.integers(0, 10, 32)]
    params = initial_parameters(model.spec, 3)
    E, grads = ag_gradients(acts, "cross_entropy", params, X, Y)
    ev = evaluate(model.compiled, params, X, Y)
    assert abs(ev.loss - E) <= 1e-12 * E and rel(ev.gradients, grads) <= 1e-10
    (tmp_path / "deep_grads.py").write_text(generate(model.derivation))
    spec = importlib.util.spec_from_file_location("deep_grads", tmp_path / "deep_grads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    E_gen, g_gen = module.gradients(params, X, Y)
    assert abs(E_gen - E) <= 1e-12 * E and rel(g_gen, grads) <= 1e-10


# ---- the derivation stays linear: no expression swell with depth ------------------

def derived_ops(sizes):
    net = build_network(parse_spec(spec_text(sizes, ["sigmoid"] * (len(sizes) - 1), "half_sse")))
    d = derive(net)
    deltas = [sp.count_ops(d.delta(layer, j)) for layer in d.layers for j in range(layer.n_out)]
    grads = [sp.count_ops(d.gradient(p)) for p in net.parameters]
    return len(net.parameters), sum(deltas) + sum(grads), d


def test_derived_size_is_linear_in_parameters():
    for width in (2, 5, 16):
        for depth in (1, 2, 6):
            P, ops, _ = derived_ops([width] * (depth + 2))
            neurons = width * (depth + 1)
            # δ^l_j: n_{l+1} products, n_{l+1} − 1 sums, times f' (2 ops): ≤ 2 ops per weight of
            # layer l+1 plus a constant per neuron; ∂E/∂w = δ a is 1 op, ∂E/∂b = δ is 0.
            assert ops <= 3 * P + 4 * neurons, (width, depth, P, ops)


def test_first_layer_delta_does_not_grow_with_depth():
    _, _, shallow = derived_ops([8, 8, 8, 1])
    _, _, deep = derived_ops([8] + [8] * 12 + [1])
    first = [sp.count_ops(d.delta(d.layers[0], 0)) for d in (shallow, deep)]
    assert first[0] == first[1]
    symbols = deep.delta(deep.layers[0], 0).free_symbols
    assert all(s.name.startswith(("W2_", "delta2_", "a1_")) for s in symbols)   # named intermediates


# ---- 784-30-10 end to end -----------------------------------------------------------

def test_mnist_sized_network_end_to_end():
    sizes, acts = [784, 30, 10], ["sigmoid", "sigmoid"]
    rng = np.random.default_rng(5)
    x = rng.random(784).round(3)
    values = f"[values]\nx = {x.tolist()}\ny = {[0.0] * 3 + [1.0] + [0.0] * 6}\n"
    model = prepare(spec_text(sizes, acts, "half_sse") + values)
    params = initial_parameters(model.spec, 0)
    X, Y = rng.random((784, 16)), rng.random((10, 16))
    ev = evaluate(model.compiled, params, X, Y)
    loss, grads = np_backprop(acts, "half_sse", params, X, Y)
    assert abs(ev.loss - loss) <= 1e-12 * loss and rel(ev.gradients, grads) <= 1e-12
    doc = render_markdown(model.derivation, model.notation, model.worked(0))
    assert "23860 parameters" in doc
    # one representative per layer: the 784-term sum z^1_1 = Σ_k w^1_{1k} x_k is not written
    # out, and neither is the 784-entry input vector of the worked example
    assert "x_{784}" in doc and "w^{1}_{1,784}" not in doc
    worked_line = next(line for line in doc.splitlines() if line.startswith("Input $x"))
    assert r"\dots, x_{784}" in worked_line and "x_{400}" not in worked_line
