"""core/program: one backward program, compiled by every consumer.

A program built by hand with a branching node (node 1 feeds nodes 2 and 3, which
share the weight array V, joined by an ``add`` node 4, plus a skip connection
from x into the output) is run by the float64 interpreter (numeric.vectorised),
the 30-digit test points (checker.points) and the generated module
(numeric.codegen); each is compared with central differences of a loss written
here in plain NumPy, independently of the program.
"""
import importlib.util

import numpy as np
import pytest
import sympy as sp

from oracles import central_differences
from symbackprop.api import prepare
from symbackprop.checker.points import DIGITS, point_function
from symbackprop.core.functions import ACTIVATIONS, LOSSES
from symbackprop.core.program import (Edge, Node, NoSuchEntry, Symbolic, build_program,
                                      symbols_of, untransposed, with_dEda, with_fprime)
from symbackprop.numeric.codegen import generate_program
from symbackprop.numeric.vectorised import compile_program, run

ACT = ACTIVATIONS


def branching(output="sigmoid", loss="half_sse"):
    """x(3) → 1 tanh(4) → {2 sigmoid(2), 3 softplus(2)} (both through V) → 4 = a2 + a3
    → 5 (output, 2) = W5 a4 + U5 x + b5."""
    nodes = [Node(1, 4, (Edge(0, "W1"),), "b1", ACT["tanh"]),
             Node(2, 2, (Edge(1, "V"),), "b2", ACT["sigmoid"]),
             Node(3, 2, (Edge(1, "V"),), "b3", ACT["softplus"]),
             Node(4, 2, (Edge(2), Edge(3)), None, ACT["identity"]),
             Node(5, 2, (Edge(4, "W5"), Edge(0, "U5")), "b5", ACT[output])]
    return build_program(3, nodes, LOSSES[loss])


def params_for(p, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(0, 0.7, shape) for name, shape in p.params}


def softplus(z):
    return np.logaddexp(0, z)


def hand_loss(P, X, Y, output, loss, batch="mean"):
    """The branching network's loss written directly in NumPy (the oracle's forward)."""
    a1 = np.tanh(P["W1"] @ X + P["b1"][:, None])
    a2 = 1 / (1 + np.exp(-(P["V"] @ a1 + P["b2"][:, None])))
    a3 = softplus(P["V"] @ a1 + P["b3"][:, None])
    z5 = P["W5"] @ (a2 + a3) + P["U5"] @ X + P["b5"][:, None]
    if output == "softmax":
        e = np.exp(z5 - z5.max(axis=0))
        per = -(Y * np.log(e / e.sum(axis=0))).sum(axis=0)
    else:
        per = (0.5 * (1 / (1 + np.exp(-z5)) - Y) ** 2).sum(axis=0)
    return per.mean() if batch == "mean" else per.sum()


CASES = [("sigmoid", "half_sse"), ("softmax", "cross_entropy")]


def batch_of(output, n, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, n))
    Y = rng.dirichlet(np.ones(2), n).T if output == "softmax" else rng.uniform(size=(2, n))
    return X, Y


def test_the_program_reads_as_its_equations():
    p = branching()
    text = str(p)
    assert "g1 = back Vᵀ·d2 + Vᵀ·d3" in text           # node 1 feeds two nodes
    assert "g2 = back d4" in text and "z4 = affine a2 + a3" in text
    assert "V = grad d2·a1ᵀ + d3·a1ᵀ" in text           # a parameter used twice
    assert "U5 = grad d5·a0ᵀ" in text
    with pytest.raises(ValueError, match="earlier nodes"):
        build_program(1, [Node(1, 1, (Edge(1, "W"),), None, ACT["tanh"])], LOSSES["sse"])
    with pytest.raises(ValueError, match="shapes"):
        build_program(1, [Node(1, 2, (Edge(0, "W"),), None, ACT["tanh"]),
                          Node(2, 1, (Edge(1, "W"),), None, ACT["tanh"])], LOSSES["sse"])


@pytest.mark.parametrize("output, loss", CASES)
@pytest.mark.parametrize("batch", ["mean", "sum"])
def test_float64_interpreter_matches_central_differences(output, loss, batch):
    p = branching(output, loss)
    P = params_for(p)
    X, Y = batch_of(output, 5)
    env, losses, grads = run(compile_program(p), P, X, Y, batch)
    assert (losses.mean() if batch == "mean" else losses.sum()) == pytest.approx(
        hand_loss(P, X, Y, output, loss, batch), rel=1e-12)
    cd = central_differences(lambda q: hand_loss(q, X, Y, output, loss, batch), P)
    assert set(grads) == set(cd)
    for name in cd:
        np.testing.assert_allclose(grads[name], cd[name], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("output, loss", CASES)
def test_high_precision_points_match_float64_and_central_differences(output, loss):
    p = branching(output, loss)
    P = params_for(p, seed=2)
    X, Y = batch_of(output, 1, seed=3)
    sym = Symbolic(p, symbols_of(p))
    table = sym.sym
    inputs = {s: sp.Float(float(v), DIGITS) for s, v in zip(table["a0"], X[:, 0])}
    inputs.update({s: sp.Float(float(v), DIGITS) for s, v in zip(table["y"], Y[:, 0])})
    for name, value in P.items():
        inputs.update({s: sp.Float(float(v), DIGITS) for s, v in zip(table[name], value.ravel())})
    point = point_function(sym)(inputs)
    env, _, grads = run(compile_program(p), P, X, Y)
    for n in p.nodes:                      # every z, a, δ agrees with float64
        for var in (f"z{n.index}", f"a{n.index}", f"d{n.index}"):
            got = np.array([float(point[s]) for s in table[var]])
            np.testing.assert_allclose(got, env[var][:, 0], rtol=1e-12, atol=1e-15)
    cd = central_differences(lambda q: hand_loss(q, X, Y, output, loss), P)
    for name, shape in p.params:
        for index in np.ndindex(shape):
            exact = sym.gradient(name, *index).xreplace(point)
            assert exact.is_Number
            assert float(exact) == pytest.approx(cd[name][index], rel=1e-6, abs=1e-9)
            assert float(exact) == pytest.approx(grads[name][index], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("output, loss", CASES)
def test_generated_module_matches_central_differences(output, loss, tmp_path):
    p = branching(output, loss)
    path = tmp_path / f"branching_{output}.py"
    path.write_text(generate_program(p, "branching"))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    P = params_for(p, seed=4)
    X, Y = batch_of(output, 4, seed=5)
    E, grads = module.gradients(P, X, Y)
    assert E == pytest.approx(hand_loss(P, X, Y, output, loss), rel=1e-12)
    cd = central_differences(lambda q: hand_loss(q, X, Y, output, loss), P)
    for name in cd:
        np.testing.assert_allclose(grads[name], cd[name], rtol=1e-6, atol=1e-9)
    text = path.read_text()
    assert 'd1 = (params["V"].T @ d2 + params["V"].T @ d3) * fprime1(z1, a1)' in text
    assert '"V": (d2 @ a1.T + d3 @ a1.T) * scale' in text


def test_the_symbolic_delta_is_the_recursion_over_both_branches():
    p = branching()
    sym = Symbolic(p, symbols_of(p))
    t = sym.sym
    V, d2, d3 = t["V"], t["d2"], t["d3"]
    back = sum(V[k, 0] * d2[k] + V[k, 0] * d3[k] for k in range(2))
    a1 = t["a1"][0]
    assert sp.expand(sym.delta(1, 0) - back * (1 - a1 ** 2)) == 0
    assert sym.delta(2, 1) == t["d4"][1] * t["a2"][1] * (1 - t["a2"][1])
    assert sym.delta(4, 0) == t["W5"][0, 0] * t["d5"][0] + t["W5"][1, 0] * t["d5"][1]


def test_rewrites_change_only_the_recursion_they_name():
    """The mistakes as programs: f' left out at node 2, W for Wᵀ, a dropped ½ (∂E/∂a doubled)."""
    p = build_program(2, [Node(1, 2, (Edge(0, "W1"),), "b1", ACT["sigmoid"]),
                          Node(2, 2, (Edge(1, "W2"),), "b2", ACT["sigmoid"])], LOSSES["half_sse"])
    t = symbols_of(p)
    W2, d2, a1, a2, y = t["W2"], t["d2"], t["a1"], t["a2"], t["y"]
    true = Symbolic(p, t)
    missing = Symbolic(with_fprime(p, slope=sp.S.One, at=1), t)
    assert missing.delta(1, 0) == W2[0, 0] * d2[0] + W2[1, 0] * d2[1]
    assert missing.delta(2, 0) == true.delta(2, 0)
    swapped = Symbolic(untransposed(p), t)
    assert sp.expand(swapped.delta(1, 0) - (W2[0, 0] * d2[0] + W2[0, 1] * d2[1])
                     * a1[0] * (1 - a1[0])) == 0
    doubled = Symbolic(with_dEda(p, factor=sp.S(2)), t)
    assert sp.expand(doubled.delta(2, 0) - 2 * (a2[0] - y[0]) * a2[0] * (1 - a2[0])) == 0
    expanded = Symbolic(with_dEda(p, factor=sp.S(2)), t, expand=True).delta(1, 0)
    assert not expanded.free_symbols & set(d2)
    assert sp.expand(expanded - doubled.delta(1, 0).xreplace({d2[k]: doubled.delta(2, k)
                                                              for k in range(2)})) == 0
    wide = build_program(1, [Node(1, 3, (Edge(0, "W1"),), None, ACT["tanh"]),
                             Node(2, 1, (Edge(1, "W2"),), None, ACT["identity"])], LOSSES["sse"])
    with pytest.raises(NoSuchEntry):
        Symbolic(untransposed(wide), symbols_of(wide)).delta(1, 2)


def test_a_spec_network_is_a_chain_program():
    """derive builds the program; its formulas are the network's own symbols."""
    model = prepare('inputs = 2\nloss = "sse"\n[[layer]]\nsize = 3\nactivation = "relu"\n'
                    '[[layer]]\nsize = 1\nactivation = "identity"\n')
    d = model.derivation
    assert [e.op for e in d.program.backward] == ["output_delta", "back", "delta", "back"]
    layer1, layer2 = d.layers
    assert d.delta(layer1, 0) == layer2.W[0, 0] * layer2.delta[0] * d.fprime(layer1, 0)
    assert d.gradient(layer1.W[1, 0]) == layer1.delta[1] * model.network.x[0]
