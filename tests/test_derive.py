"""The δ-form gradients equal sympy.diff of the fully expanded loss, built
here from the textbook definitions (tests/oracles.py), for every
activation/loss pairing: a symbolic proof, not a numeric spot check."""
import itertools
import random

import pytest
import sympy as sp

from conftest import spec_text
from oracles import sym_activation, sym_loss
from symbackprop.core.derive import _softmax_output_delta, softmax_jacobian
from symbackprop.core.functions import ACTIVATIONS, LOSSES, expand_custom
from symbackprop.core.symbols import A, A_I, A_J, KD, S, Y, Z
from symbackprop.api import prepare

HIDDEN = [a for a in ACTIVATIONS if a not in ("softmax", "elu")]  # elu: tests/test_elu.py (exp gates are slow here)
PAIRS = [(out, loss) for out in ACTIVATIONS for loss, spec in LOSSES.items()
         if spec.outputs is None or out in spec.outputs]


def is_zero(e, rewritten=False):
    """Exactly zero: every ReLU region separately, then as a rational
    function of exponentials (the relational atoms are the ReLU gates).

    The regions are split one gate at a time, the simplest first, and only on the gates
    still in the formula: once the hidden gates are decided, the output's gate appears
    in one form, not in the four it has across the hidden regions, so a 1-2-2 leaky ReLU
    network needs 16 regions where all 2^10 assignments of its 10 gate atoms took 1024
    (the same proof: a gate no longer in the formula cannot change its value)."""
    if not rewritten:
        e = e.rewrite(sp.exp)   # both sides' gates in one form
    atoms = e.atoms(sp.core.relational.Relational)
    if atoms:
        gate = min(atoms, key=lambda a: (sp.count_ops(a), str(a)))
        return all(is_zero(e.xreplace({gate: v}), True) for v in (sp.true, sp.false))
    if nonzero_somewhere(e):
        return False
    e = sp.expand(e, power_exp=True, mul=False, multinomial=False, log=False)
    # The exponentials as independent symbols first: a rational function of them that
    # is zero is zero whatever their values (a proof, and 10-30x faster than cancel over
    # the exp generators); only if it is not, their relations (e^{2u} = (e^u)^2, and
    # log e^u = u when a log is left: softplus, cross-entropy) are used.
    exps = {g: sp.Dummy(positive=True) for g in e.atoms(sp.exp)}
    if exps and not e.has(sp.log) and sp.cancel(sp.together(e.xreplace(exps))) == 0:
        return True
    return sp.cancel(sp.together(e)) == 0


def nonzero_somewhere(e, n=2) -> bool:
    """A value clearly off zero (30 digits) at a random point: then e is not identically
    zero, and cancel need not try (on a wrong identity it can take minutes).  A true zero
    evaluates to ~1e-28 here, far below the threshold."""
    rng = random.Random(str(e)[:200])
    syms = sorted(e.free_symbols, key=str)
    for _ in range(n):
        point = {s: sp.Float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.7), 30) for s in syms}
        try:
            v = complex(sp.N(e.xreplace(point), 30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(v) > 1e-12:
            return True
    return False


def expanded_loss(model):
    net = model.network
    a = list(net.x)
    for layer in net.layers:
        z = [sum(layer.W[j, k] * a[k] for k in range(layer.n_in)) + layer.b[j]
             for j in range(layer.n_out)]
        a = sym_activation(layer.activation.name, z)
    return sym_loss(net.loss.name, a, list(net.y))


def assert_gradients_exact(model, params=None):
    E = expanded_loss(model)
    d = model.derivation
    for p in params or model.network.parameters:
        ours = expand_custom(d.gradient(p).xreplace(d.values_of))
        assert is_zero(ours - sp.diff(E, p)), p


@pytest.mark.parametrize("out,loss", PAIRS)
def test_delta_form_equals_diff_of_expanded_loss(out, loss):
    pairs = [p for p in PAIRS if p[0] != "elu"] if out != "elu" else PAIRS  # the pairings before elu
    hidden = HIDDEN[pairs.index((out, loss)) % len(HIDDEN)]
    model = prepare(spec_text([1, 2, 2], [hidden, out], loss))
    assert_gradients_exact(model)


@pytest.mark.parametrize("acts", [("relu", "tanh", "sigmoid"), ("softplus", "leaky_relu", "softmax")])
def test_three_layers(acts):
    loss = "cross_entropy" if acts[-1] == "softmax" else "half_sse"
    model = prepare(spec_text([1, 2, 2, 2], list(acts), loss))
    first = model.network.layers[0]
    assert_gradients_exact(model, [first.W[0, 0], first.b[1], model.network.layers[1].W[1, 0]])


@pytest.mark.parametrize("out,loss", [("sigmoid", "half_sse"), ("softmax", "cross_entropy"),
                                      ("softmax", "mse")])
def test_chain_paths_sum_to_gradient(out, loss):
    model = prepare(spec_text([2, 2, 2], ["relu", out], loss))
    d = model.derivation
    for p in model.network.parameters:
        chain = d.chain(p)
        assert len(chain.paths) == d.n_paths(p)
        diff = chain.total - d.gradient(p)
        assert is_zero(expand_custom(diff.xreplace(d.values_of))), p


def test_chain_counts_every_path():
    # w^1_11 of a 2-3-3-1 network reaches the loss through 3 second-layer neurons
    model = prepare(spec_text([2, 3, 3, 1], ["relu", "relu", "sigmoid"], "half_sse"))
    w = model.network.layers[0].W[0, 0]
    assert len(model.derivation.chain(w).paths) == 3


def test_softmax_cross_entropy_simplifies():
    model = prepare(spec_text([2, 3], ["softmax"], "cross_entropy"))
    d = model.derivation
    A, Y, S = sp.symbols("a y S", real=True)
    assert sp.expand(d.delta_output - (A * S - Y)) == 0
    assert sp.expand(d.delta_output_normalised - (A - Y)) == 0


def test_sigmoid_bce_output_error_is_a_minus_y():
    d = prepare(spec_text([2, 1], ["sigmoid"], "binary_cross_entropy")).derivation
    A, Y = sp.symbols("a y", real=True)
    assert sp.expand(d.delta_output - (A - Y)) == 0


def test_relu_derivative_at_zero_is_zero():
    d = prepare(spec_text([1, 1], ["relu"], "sse")).derivation
    z = sp.Symbol("z", real=True)
    assert d.local[0].fprime.subs(z, 0) == 0
    assert d.local[0].fprime.subs(z, sp.Rational(1, 10**9)) == 1


# ---- the textbook forms derive states, proved here (derive itself proves nothing) ----
# Each form is checked against sympy.diff of the textbook definition in tests/oracles.py,
# not against anything derive computes.

ALPHA = sp.Symbol("alpha", positive=True)
ELEMENTWISE = [name for name, act in ACTIVATIONS.items() if not act.layerwise]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_builder_is_the_textbook_function(name):
    act = ACTIVATIONS[name]
    ours = expand_custom(act.build(Z, ALPHA))
    assert is_zero(ours - sym_activation(name, [Z], ALPHA)[0])


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if ACTIVATIONS[n].in_terms_of_output])
def test_derivative_in_terms_of_the_output_is_sympy_diff(name):
    """σ' = a(1 − a), tanh' = 1 − a²: the table's output form at a = f(z) is d f/dz."""
    f = sym_activation(name, [Z])[0]
    form = ACTIVATIONS[name].in_terms_of_output(A)
    assert sp.simplify(form.subs(A, f) - sp.diff(f, Z)) == 0


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_local_derivative_derive_uses_is_sympy_diff(name):
    """The f' derive hands on (the output form where the table has one), at the spec's α."""
    model = prepare(spec_text([1, 1], [name], "sse"))
    ld = model.derivation.local[0]
    alpha = model.network.layers[0].alpha
    f = sym_activation(name, [Z], alpha)[0]
    used = ld.fprime if ld.fprime_output is None else ld.fprime_output.subs(A, ld.f)
    assert is_zero(expand_custom(used) - sp.diff(f, Z))


@pytest.mark.parametrize("n", [2, 3])
def test_softmax_jacobian_is_sympy_diff(n):
    """∂a_i/∂z_j = a_i([i = j] − a_j) for every i, j."""
    z = sp.symbols(f"z1:{n + 1}", real=True)
    a = sym_activation("softmax", z)
    jac = softmax_jacobian()
    for i, j in itertools.product(range(n), repeat=2):
        form = jac.subs({A_I: a[i], A_J: a[j], KD: int(i == j)})
        assert sp.simplify(sp.diff(a[i], z[j]) - form) == 0, (i, j)


def test_softmax_cross_entropy_output_delta_is_sympy_diff():
    """δ^L_j = ∂E/∂z_j of E = −Σ y_i log softmax(z)_i is a_j Σ_i y_i − y_j, and a_j − y_j
    when Σ y = 1: the two forms derive returns for softmax + cross-entropy."""
    n = 3
    z = sp.symbols(f"z1:{n + 1}", real=True)
    y = sp.symbols(f"y1:{n + 1}", real=True)
    a = sym_activation("softmax", z)
    E = sym_loss("cross_entropy", a, list(y))
    general, normalised = _softmax_output_delta("cross_entropy")
    one_hot = {y[-1]: 1 - sum(y[:-1])}
    for j in range(n):
        dE = sp.diff(E, z[j])
        assert sp.simplify(dE - general.subs({A: a[j], Y: y[j], S: sum(y)})) == 0, j
        assert sp.simplify((dE - normalised.subs({A: a[j], Y: y[j]})).subs(one_hot)) == 0, j


@pytest.mark.parametrize("out,loss", [(o, l) for o, l in PAIRS if not ACTIVATIONS[o].layerwise])
def test_output_delta_form_is_sympy_diff(out, loss):
    """δ^L as derive writes it (∂ℓ/∂a · f', cancelled where shorter: sigmoid + BCE a − y),
    at a = f(z), is d/dz of the textbook loss of the textbook activation."""
    model = prepare(spec_text([1, 2], [out], loss))
    d = model.derivation
    z, y = sp.symbols("z1:3", real=True), sp.symbols("y1:3", real=True)
    alpha = model.network.layers[0].alpha
    E = sym_loss(loss, sym_activation(out, z, alpha), list(y))
    f = sym_activation(out, [Z], alpha)[0]
    ours = d.delta_output.subs(A, f).subs({Z: z[0], Y: y[0]})
    assert is_zero(expand_custom(ours) - sp.diff(E, z[0]))


def test_the_proof_refutes_a_wrong_gradient():
    """is_zero's shortcuts (gates split only where present, exponentials as symbols)
    never prove a wrong identity: a gradient off by 1 % or missing a gate fails."""
    model = prepare(spec_text([1, 2, 1], ["leaky_relu", "sigmoid"], "half_sse"))
    E, d = expanded_loss(model), model.derivation
    w = model.network.layers[0].W[0, 0]
    ours = expand_custom(d.gradient(w).xreplace(d.values_of))
    assert is_zero(ours - sp.diff(E, w))
    assert not is_zero(ours * sp.Rational(101, 100) - sp.diff(E, w))
    ungated = ours.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[-1][0])
    assert not is_zero(ungated - sp.diff(E, w))
