"""The checker's exact chain rule (truth.TruthChain) and its test points at any size.

Oracles, none sharing code with truth.py or points.py:
- small networks: sympy.diff of the fully expanded forward pass, built here
  from the textbook definitions (oracles.sym_activation / sym_loss);
- networks with more than 60 neurons: central finite differences of a NumPy
  forward pass (and of NumPy backprop's δ), written here;
- test points: exact rational arithmetic and a NumPy forward pass;
- verdicts: claims written by hand (the softmax Jacobian a_i([i = k] − a_k)).
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from conftest import spec_text
from oracles import np_act, sym_activation, sym_loss
from symbackprop.checker.context import make_context
from symbackprop.checker.diagnose import chain_diagnosis, counted_chain, telescope
from symbackprop.checker.engine import check_claims
from symbackprop.formula.reader import LOSS
from symbackprop.api import prepare
from symbackprop.checker.points import DIGITS, forward_point, value, weighted_sum
from symbackprop.checker.truth import Truth, Unsupported


# ---- oracle 1: the expanded forward pass, differentiated by sympy ------------------

def expanded(model, free=None):
    """Every z, a (and the loss) as expressions of x, W, b, y from the textbook
    definitions; ``free`` = a z or a symbol kept as an independent variable (the
    layers below it are not substituted into it)."""
    net, env = model.network, {}
    prev = list(net.x)
    for layer in net.layers:
        zs = [sp.Add(*[layer.W[j, k] * prev[k] for k in range(layer.n_in)], layer.b[j])
              for j in range(layer.n_out)]
        zs = [layer.z[j] if layer.z[j] == free else zs[j] for j in range(layer.n_out)]
        acts = sym_activation(layer.activation.name, zs, layer.alpha)
        acts = [layer.a[j] if layer.a[j] == free else acts[j] for j in range(layer.n_out)]
        env.update(zip(layer.z, zs))
        env.update(zip(layer.a, acts))
        prev = acts
    env[LOSS] = sym_loss(net.loss.name, prev, list(net.y))
    return env


def expanded_delta(model, l, j):
    """δ^l_j = ∂E/∂z^l_j, by sympy.diff of the loss expanded from z^l_j up."""
    z = model.network.layers[l - 1].z[j]
    return sp.diff(expanded(model, free=z)[LOSS], z).xreplace({z: expanded(model)[z]})


def oracle_partial(model, of, wrt, places=None):
    """sympy.diff of the expanded ``of`` (tied places: all replaced by one symbol)."""
    node = Truth(model.derivation).nodes[of] if of != LOSS else None
    if node is not None and node.kind == "delta":
        target = expanded_delta(model, node.layer, node.j)
    else:
        target = expanded(model, free=wrt)[of]
    if places:
        t = sp.Symbol("tied")
        return sp.diff(target.xreplace({p: t for p in places}), t).xreplace({t: wrt})
    return sp.diff(target, wrt)


def random_inputs(model, seed):
    rng = np.random.default_rng(seed)
    net = model.network
    syms = list(net.x) + list(net.parameters)
    vals = {s: sp.Float(float(v), DIGITS) for s, v in zip(syms, rng.uniform(-1.2, 1.2, len(syms)))}
    ys = rng.dirichlet(np.ones(len(net.y))) if net.loss.name == "cross_entropy" \
        else rng.uniform(0.1, 0.9, len(net.y))
    vals.update({s: sp.Float(float(v), DIGITS) for s, v in zip(net.y, ys)})
    return vals


def exact_point(model, inputs, free=None):
    """Every network symbol's value from the expanded definitions (δ by sympy.diff)."""
    env, point = expanded(model), dict(inputs)
    for layer in model.network.layers:
        for j in range(layer.n_out):
            point[layer.z[j]] = sp.N(env[layer.z[j]].xreplace(inputs), 40)
            point[layer.a[j]] = sp.N(env[layer.a[j]].xreplace(inputs).rewrite(sp.exp), 40)
            point[layer.delta[j]] = sp.N(
                expanded_delta(model, layer.index, j).xreplace(inputs).rewrite(sp.exp), 40)
    return point


SMALL = [([2, 3, 2], ["tanh", "sigmoid"], "half_sse"),
         ([2, 3, 3], ["sigmoid", "softmax"], "cross_entropy"),
         ([2, 2, 2, 2], ["softplus", "tanh", "sigmoid"], "binary_cross_entropy")]


def pairs(model):
    """(of, wrt): outputs, hidden quantities, δ and the loss against parameters,
    inputs and intermediates below them."""
    L = model.network.layers
    first, last = L[0], L[-1]
    ofs = [last.a[0], last.a[-1], last.z[0], L[1].a[1], first.delta[0], L[-2].delta[1], LOSS]
    wrts = [first.W[0, 0], first.W[1, 1], first.b[1], model.network.x[0], first.z[1],
            first.a[0], L[1].W[1, 0], L[1].b[0]]
    return [(o, w) for o in ofs for w in wrts]


@pytest.mark.parametrize("sizes,acts,loss", SMALL)
def test_chain_rule_equals_diff_of_the_expanded_forward_pass(sizes, acts, loss):
    model = prepare(spec_text(sizes, acts, loss))
    truth = Truth(model.derivation, model.notation)
    point = exact_point(model, random_inputs(model, seed=sum(sizes)))
    inputs = {s: point[s] for s in list(model.network.x) + list(model.network.y)
              + list(model.network.parameters)}
    checked = 0
    for of, wrt in pairs(model):
        kind = truth.nodes[wrt].kind
        if kind in ("z", "a") and (of != LOSS and truth.nodes[of].kind == "delta"):
            continue            # ∂δ/∂(intermediate): δ's own f' form decides; not a textbook quantity
        ours = truth.partial(of, wrt)
        oracle = oracle_partial(model, of, wrt)
        if kind in ("z", "a"):   # the oracle keeps wrt free: evaluate at its forward value
            oracle = oracle.xreplace({wrt: point[wrt]})
        want = sp.N(oracle.xreplace(inputs).rewrite(sp.exp), 40)
        got = sp.N(ours.xreplace(point).rewrite(sp.exp), 40)
        assert abs(got - want) <= 1e-25 * max(1, abs(want)), (of, wrt, got, want)
        checked += 1
    assert checked >= 40


def test_operator_applied_to_an_expression_equals_diff_of_the_expansion():
    model = prepare(spec_text([2, 3, 2], ["tanh", "sigmoid"], "half_sse"))
    net, truth = model.network, Truth(model.derivation, model.notation)
    out, hidden = net.layers[1], net.layers[0]
    body = (net.y[0] - out.a[0]) ** 2 / 2 + out.z[1] * hidden.a[2]
    point = exact_point(model, random_inputs(model, seed=3))
    env = expanded(model)
    for wrt in (hidden.W[2, 1], out.W[0, 2], net.x[1]):
        got = truth.resolve(sp.Derivative(body, wrt))
        want = sp.diff(body.xreplace(env), wrt)
        assert sp.N((got.xreplace(point) - want.xreplace(point)).rewrite(sp.exp), 40) == \
            pytest.approx(0, abs=1e-25)


def test_tied_parameter_sums_its_places():
    model = prepare(spec_text([2, 2, 1], ["tanh", "sigmoid"], "half_sse",
                              '[names]\nW1 = [["u", "v"], ["v", "u"]]\n'))
    truth = Truth(model.derivation, model.notation)
    W = model.network.layers[0].W
    assert set(truth.tied(W[0, 0])) == {W[0, 0], W[1, 1]}
    inputs = random_inputs(model, seed=5)
    inputs[W[1, 1]], inputs[W[1, 0]] = inputs[W[0, 0]], inputs[W[0, 1]]     # one value a name
    point = exact_point(model, inputs)
    a_out = model.network.layers[1].a[0]
    want = oracle_partial(model, a_out, W[0, 0], places=[W[0, 0], W[1, 1]])
    got = truth.partial(a_out, W[0, 0])
    assert sp.N((got.xreplace(point) - want.xreplace(point)).rewrite(sp.exp), 40) == \
        pytest.approx(0, abs=1e-25)


def test_unsupported_derivatives_keep_their_messages():
    model = prepare(spec_text([2, 3, 2], ["tanh", "sigmoid"], "half_sse"))
    truth, net = Truth(model.derivation, model.notation), model.network
    with pytest.raises(Unsupported, match="with respect to the loss"):
        truth.partial(net.layers[1].a[0], LOSS)
    for wrt in (net.layers[0].delta[0], net.y[0]):
        with pytest.raises(Unsupported, match="derivatives with respect to"):
            truth.partial(net.layers[1].a[0], wrt)
    with pytest.raises(Unsupported, match="not a quantity of the network"):
        truth.partial(LOSS, sp.Symbol("q"))


# ---- oracle 2: NumPy finite differences on networks with more than 60 neurons -------

def np_forward(acts, params, x):
    """zs, as (float64) from the textbook definitions."""
    zs, As, a = [], [x], x
    for l, act in enumerate(acts, start=1):
        z = params[f"W{l}"] @ a + params[f"b{l}"]
        if act == "softmax":
            e = np.exp(z - z.max())
            a = e / e.sum()
        else:
            a = np_act(act, z)[0]
        zs.append(z)
        As.append(a)
    return zs, As


def np_deltas(acts, params, x, y):
    """δ^l for half squared error (sigmoid/tanh hidden layers), by textbook backprop."""
    zs, As = np_forward(acts, params, x)
    delta = (As[-1] - y) * np_act(acts[-1], zs[-1])[1]
    out = [delta]
    for l in range(len(acts) - 1, 0, -1):
        delta = (params[f"W{l + 1}"].T @ delta) * np_act(acts[l - 1], zs[l - 1])[1]
        out.insert(0, delta)
    return out


def np_point(model, params, x, y):
    """The network's symbols at a NumPy forward pass (δ only for half_sse)."""
    acts = [layer.activation.name for layer in model.network.layers]
    zs, As = np_forward(acts, params, x)
    net, point = model.network, {}
    F = lambda v: sp.Float(float(v), DIGITS)        # noqa: E731
    point.update(zip(net.x, map(F, x)))
    point.update(zip(net.y, map(F, y)))
    deltas = np_deltas(acts, params, x, y) if net.loss.name == "half_sse" else None
    for l, layer in enumerate(net.layers, start=1):
        for j in range(layer.n_out):
            point[layer.z[j]], point[layer.a[j]] = F(zs[l - 1][j]), F(As[l][j])
            point[layer.b[j]] = F(params[f"b{l}"][j])
            if deltas is not None:
                point[layer.delta[j]] = F(deltas[l - 1][j])
            for k in range(layer.n_in):
                point[layer.W[j, k]] = F(params[f"W{l}"][j, k])
    return point


def central(f, params, key, index, h=1e-6):
    plus = {k: v.copy() for k, v in params.items()}
    minus = {k: v.copy() for k, v in params.items()}
    plus[key][index] += h
    minus[key][index] -= h
    return (f(plus) - f(minus)) / (2 * h)


def random_params(sizes, seed):
    rng = np.random.default_rng(seed)
    params = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{l}"] = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
        params[f"b{l}"] = rng.normal(0, 0.3, n_out)
    return params, rng.normal(0, 1, sizes[0]), rng.uniform(0.1, 0.9, sizes[-1])


@pytest.mark.parametrize("sizes,acts", [([40, 20, 5], ["tanh", "sigmoid"]),
                                        ([30, 16, 12, 6], ["sigmoid", "tanh", "sigmoid"])])
def test_chain_rule_on_big_networks_equals_finite_differences(sizes, acts):
    assert sum(sizes) > 60
    model = prepare(spec_text(sizes, acts, "half_sse"))
    truth, net = Truth(model.derivation, model.notation), model.network
    params, x, y = random_params(sizes, seed=len(sizes))
    point = np_point(model, params, x, y)
    L = len(acts)
    outputs = {
        "a^L_1": (net.layers[-1].a[0], lambda p: np_forward(acts, p, x)[1][-1][0]),
        "z^L_2": (net.layers[-1].z[1], lambda p: np_forward(acts, p, x)[0][-1][1]),
        "δ^1_3": (net.layers[0].delta[2], lambda p: np_deltas(acts, p, x, y)[0][2]),
        "δ^{L-1}_1": (net.layers[-2].delta[0], lambda p: np_deltas(acts, p, x, y)[-2][0]),
    }
    wrts = [(net.layers[0].W[2, 3], "W1", (2, 3)), (net.layers[0].b[2], "b1", (2,)),
            (net.layers[1].W[0, 2], "W2", (0, 2)), (net.layers[L - 1].W[0, 1], f"W{L}", (0, 1))]
    for name, (of, f) in outputs.items():
        for wrt, key, index in wrts:
            got = float(value(truth.partial(of, wrt), point))
            want = central(f, params, key, index)
            assert got == pytest.approx(want, rel=1e-6, abs=1e-9), (name, wrt)
    # ∂a^L_1/∂x_1 through every path, and ∂z^L_1/∂a^1_2 (an intermediate)
    fx = lambda v: np_forward(acts, params, v)[1][-1][0]        # noqa: E731
    e = np.eye(sizes[0])[0] * 1e-6
    got = float(value(truth.partial(net.layers[-1].a[0], net.x[0]), point))
    assert got == pytest.approx((fx(x + e) - fx(x - e)) / 2e-6, rel=1e-6)


def test_deep_network_derivative_is_evaluated_on_its_dag():
    """4-12-12-12-12-12-2: ∂a^6_1/∂x_1 has 12^5 paths; the value still comes quickly
    (the substitution walks the shared sub-derivatives once) and is right."""
    sizes, acts = [4, 12, 12, 12, 12, 12, 2], ["tanh"] * 5 + ["sigmoid"]
    model = prepare(spec_text(sizes, acts, "half_sse"))
    truth, net = Truth(model.derivation, model.notation), model.network
    params, x, y = random_params(sizes, seed=11)
    point = np_point(model, params, x, y)
    got = float(value(truth.partial(net.layers[-1].a[0], net.x[0]), point))
    f = lambda v: np_forward(acts, params, v)[1][-1][0]          # noqa: E731
    e = np.eye(4)[0] * 1e-6
    assert got == pytest.approx((f(x + e) - f(x - e)) / 2e-6, rel=1e-6)


# ---- test points ---------------------------------------------------------------------

def test_weighted_sum_is_the_exact_sum_rounded():
    rng = np.random.default_rng(7)
    for n in (1, 5, 300):
        ws = [sp.Float(float(v), DIGITS) for v in rng.normal(0, 1, n)]
        xs = [sp.Float(float(v), DIGITS) for v in rng.normal(0, 1, n)]
        b = sp.Float(float(rng.normal()), DIGITS)
        exact = sum((sp.Rational(w) * sp.Rational(v) for w, v in zip(ws, xs)), sp.Rational(b))
        got = weighted_sum(ws, xs, b)
        assert abs(sp.Rational(got) - exact) <= abs(exact) * sp.Rational(1, 10**29)


def test_a_sum_that_is_zero_in_decimals_is_zero():
    # the softmax example's z^1_3 = 0.6·1 + 0.2·(−0.5) − 0.2·2 − 0.1 = 0 exactly:
    # ReLU'(0) = 0, so the spec's region has that gate closed
    F = lambda s: sp.Float(s, DIGITS)       # noqa: E731
    assert weighted_sum([F("0.6"), F("0.2"), F("-0.2")], [F("1.0"), F("-0.5"), F("2.0")],
                        F("-0.1")).is_zero
    c = make_context(prepare(spec_text([3, 4, 3], ["relu", "softmax"], "cross_entropy", """
[values]
x = [1.0, -0.5, 2.0]
y = [0, 1, 0]
W1 = [[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1], [0.6, 0.2, -0.2], [0.1, 0.1, 0.3]]
b1 = [0.0, 0.1, -0.1, 0.05]
W2 = [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, -0.1], [0.2, 0.1, -0.3, 0.4]]
b2 = [0.0, 0.0, 0.0]
""")))
    assert "z^1_2, z^1_3 ≤ 0" in c.network_points.region


def test_forward_point_equals_numpy_and_holds_numbers():
    """Every z, a, δ is a number (softplus included), equal to a NumPy forward pass."""
    sizes, acts = [3, 4, 2], ["softplus", "sigmoid"]
    model = prepare(spec_text(sizes, acts, "half_sse"))
    params, x, y = random_params(sizes, seed=2)
    oracle = np_point(model, params, x, y)
    inputs = {s: oracle[s] for s in list(model.network.x) + list(model.network.y)
              + list(model.network.parameters)}
    point = forward_point(model.derivation, inputs)
    for s, v in point.items():
        assert v.is_Number, s
        assert float(v) == pytest.approx(float(oracle[s]), rel=1e-12, abs=1e-14), s


# ---- end to end: verdicts on a 784-30-10 network ---------------------------------------

MNIST = spec_text([784, 30, 10], ["sigmoid", "softmax"], "cross_entropy")
# ∂a^2_1/∂w^1_{11} = Σ_k a^2_1([1 = k] − a^2_k) w^2_{k1} σ'(z^1_1) x_1, written by hand
JACOBIAN = (r"\frac{\partial a^2_1}{\partial w^1_{1,1}} = a^2_1 \left(w^2_{1,1} - \sum_k a^2_k "
            r"w^2_{k,1}\right) a^1_1 (1 - a^1_1) x_1")
ELEMENTWISE = (r"\frac{\partial a^2_1}{\partial w^1_{1,1}} = a^2_1 (1 - a^2_1) w^2_{1,1} "
               r"a^1_1 (1 - a^1_1) x_1")


def test_check_verdicts_on_a_784_30_10_network():
    model = prepare(MNIST)
    assert sum(model.network.sizes) > 60
    claims = "\n".join([JACOBIAN, ELEMENTWISE, r"dE/dw^1_{1,1} = \delta^1_1 x_1",
                        r"dE/dw^1_{1,1} = \delta^1_1 x_2", r"dz^2_3/dx_5 = \sum_k w^2_{3,k} "
                        r"a^1_k (1 - a^1_k) w^1_{k,5}"])
    report = check_claims(model, claims, timeout=5.0)
    verdicts = [v.verdict for v in report.verdicts]
    assert verdicts == ["correct", "incorrect", "correct", "incorrect", "correct"], \
        [(v.verdict, v.message) for v in report.verdicts]
    wrong = report.verdicts[1]
    cx = wrong.counterexample
    assert cx is not None and cx["lhs"] != pytest.approx(cx["rhs"], rel=1e-6)
    # free draws keep the 784-input sigmoids out of saturation (weights ~ 2/√784), so
    # the values compared are not lost below the comparison's absolute tolerance
    assert min(abs(cx["lhs"]), abs(cx["rhs"])) > 1e-6


def test_incomplete_chain_counted_on_a_network_with_too_many_paths_to_list():
    """5-100-100-10: ∂E/∂x_1 has 100 · 100 · 10 = 100000 paths (by hand); a product
    of factors along one of them is an incomplete chain, diagnosed by counting."""
    model = prepare(spec_text([5, 100, 100, 10], ["sigmoid", "sigmoid", "sigmoid"], "half_sse"))
    claim = (r"dE/dx_1 = dE/da^3_1 * da^3_1/dz^3_1 * dz^3_1/da^2_1 * da^2_1/dz^2_1 * "
             r"dz^2_1/da^1_1 * da^1_1/dz^1_1 * dz^1_1/dx_1")
    [v] = check_claims(model, claim, timeout=60.0).verdicts
    assert v.verdict == "incorrect"
    assert "incomplete chain: the product follows 1 of the 100000 paths" in v.diagnosis
    # the neurons left out: the 99 + 99 + 9 others of each layer, plus their z's
    assert "(402 more)" in v.diagnosis and "a^1_2, " in v.diagnosis


def test_counted_and_listed_paths_agree_on_a_small_network():
    from symbackprop.formula.reader import parse_claim
    from symbackprop.api import example_path
    checker = make_context(prepare(example_path("worked_2331")))
    claim = parse_claim(r"dE/dw^1_{11} = dE/da^3_1 * da^3_1/dz^3_1 * dz^3_1/da^2_2 * "
                        r"da^2_2/dz^2_2 * dz^2_2/da^1_1 * da^1_1/dz^1_1 * dz^1_1/dw^1_{11}",
                        checker.scope)
    lhs, rhs = (s.expr for s in claim.sides)
    listed = chain_diagnosis(checker, lhs, rhs)
    chain = telescope(*lhs.args, list(rhs.args))
    assert listed == counted_chain(checker, *lhs.args, chain)
    assert "follows 1 of the 3 paths" in listed     # a^1_1 feeds the 3 neurons of layer 2


def test_a_huge_expected_formula_is_described_not_printed():
    """4-12-12-12-12-2: ∂a^5_1/∂x_1 written out has 12⁴ · … terms; the verdict says
    so instead of printing hundreds of thousands of characters."""
    model = prepare(spec_text([4, 12, 12, 12, 12, 2], ["tanh"] * 4 + ["sigmoid"], "half_sse"))
    [v] = check_claims(model, r"\frac{\partial a^5_1}{\partial x_1} = a^5_1 (1 - a^5_1) w^5_{11}",
                       timeout=60.0).verdicts
    assert v.verdict == "incorrect"
    assert v.expected.startswith("(a formula of ") and "too long to show" in v.expected
    assert len(v.expected_tex) < 200
