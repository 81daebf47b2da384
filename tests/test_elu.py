"""ELU, f(z) = z for z > 0 and α(e^z − 1) otherwise, with f'(0) = α (the z ≤ 0 side, as
PyTorch's autograd): against oracles written here from the definition — sympy.diff of
the fully expanded loss, central finite differences and autograd — never against itself."""
import importlib.util

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import sympy as sp

from oracles import central_differences
from symbackprop import check, prepare
from symbackprop.core.errors import SpecError
from symbackprop.core.functions import expand_custom
from symbackprop.core.parameters import initial_parameters
from symbackprop.numeric.codegen import generate
from symbackprop.numeric.vectorised import evaluate
from symbackprop.render.environment import render_markdown


def spec(sizes, alphas, loss="half_sse", out="elu", batch="mean"):
    """Hidden layers elu with the given α (None: the default), the output ``out``."""
    lines = [f"inputs = {sizes[0]}", f'loss = "{loss}"', "[network]", f'batch = "{batch}"']
    for size, alpha in zip(sizes[1:-1], alphas):
        lines += ["[[layer]]", f"size = {size}", 'activation = "elu"']
        lines += [] if alpha is None else [f"alpha = {alpha}"]
    lines += ["[[layer]]", f"size = {sizes[-1]}", f'activation = "{out}"']
    return "\n".join(lines) + "\n"


# ---- the definition, written independently -----------------------------------------

def sym_elu(z, alpha):
    return sp.Piecewise((alpha * (sp.exp(z) - 1), z <= 0), (z, True))


def ag_elu(z, alpha):
    return anp.where(z > 0, z, alpha * (anp.exp(anp.minimum(z, 0.0)) - 1.0))


def ag_act(name, z, alpha):
    if name == "elu":
        return ag_elu(z, alpha)
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "identity":
        return z
    raise KeyError(name)


def ag_loss_and_grads(acts, alphas, loss, params, X, Y, batch="mean"):
    def E(p):
        a = X
        for l, (act, alpha) in enumerate(zip(acts, alphas), start=1):
            a = ag_act(act, anp.dot(p[f"W{l}"], a) + p[f"b{l}"][:, None], alpha)
        if loss == "half_sse":
            per = 0.5 * anp.sum((a - Y) ** 2, axis=0)
        else:
            per = -anp.sum(Y * anp.log(a) + (1 - Y) * anp.log(1 - a), axis=0)
        return anp.mean(per) if batch == "mean" else anp.sum(per)
    return E(params), autograd.grad(E)(params)


def rel(a, b):
    num = sum(np.sum((np.asarray(a[k]) - b[k]) ** 2) for k in b)
    return np.sqrt(num / max(sum(np.sum(b[k] ** 2) for k in b), 1e-300))


# ---- symbolic: δ-form gradients = sympy.diff of the expanded loss ------------------

def is_zero(e):
    """Zero in every combination of the gates z ≤ 0 (one form on both sides)."""
    atoms = sorted(e.atoms(sp.core.relational.Relational), key=str)
    if atoms:
        return all(is_zero(e.xreplace({atoms[0]: v})) for v in (sp.true, sp.false))
    return sp.simplify(e) == 0


def test_gradients_equal_diff_of_expanded_loss():
    model = prepare(spec([1, 2, 1], ["0.5"]))
    net, d = model.network, model.derivation
    x, y = net.x[0], net.y[0]
    L1, L2 = net.layers
    a1 = [sym_elu(L1.W[j, 0] * x + L1.b[j], sp.Rational(1, 2)) for j in range(2)]
    a2 = sym_elu(L2.W[0, 0] * a1[0] + L2.W[0, 1] * a1[1] + L2.b[0], 1)
    E = (a2 - y) ** 2 / 2
    for p in net.parameters:
        ours = expand_custom(d.gradient(p).xreplace(d.values_of))
        assert is_zero(ours - sp.diff(E, p)), p


def test_local_derivative_and_the_convention_at_zero():
    model = prepare(spec([1, 1, 1], ["0.3"]))
    ld = model.derivation.local[0]
    z = sp.Symbol("z", real=True)
    alpha = sp.Rational(3, 10)
    assert sp.simplify(ld.f.rewrite(sp.exp) - sym_elu(z, alpha)) == 0
    # f'(0) = α·e^0 = α: the left-hand value, PyTorch's elu_backward (x <= 0 branch)
    assert ld.fprime.subs(z, 0) == alpha
    assert ld.fprime.subs(z, sp.Rational(1, 10**9)) == 1
    layer = model.compiled.layers[0]
    assert layer.fprime(np.array([0.0]), None)[0] == pytest.approx(0.3, abs=0, rel=1e-15)
    assert model.spec.layers[1].alpha == 1        # the output layer: the default α = 1.0


# ---- numbers: finite differences and autograd --------------------------------------

@pytest.mark.parametrize("batch", ["mean", "sum"])
def test_random_network_matches_autograd_and_finite_differences(batch):
    rng = np.random.default_rng(11)
    sizes, alphas = [3, 5, 4, 2], [0.7, 1.8]
    model = prepare(spec(sizes, alphas, batch=batch))
    params = initial_parameters(model.spec, 4)
    X, Y = rng.normal(size=(3, 6)) * 2, rng.uniform(0.05, 0.95, size=(2, 6))
    ev = evaluate(model.compiled, params, X, Y, batch)
    E, grads = ag_loss_and_grads(["elu", "elu", "elu"], alphas + [1.0], "half_sse",
                                 params, X, Y, batch)
    assert (np.concatenate([z.ravel() for z in ev.z]) < 0).any()   # both branches used
    assert (np.concatenate([z.ravel() for z in ev.z]) > 0).any()
    assert abs(ev.loss - E) <= 1e-12 * abs(E)
    assert rel(ev.gradients, grads) <= 1e-10
    fd = central_differences(lambda p: evaluate(model.compiled, p, X, Y, batch).loss, params)
    assert rel(ev.gradients, fd) <= 1e-6


def test_elu_hidden_sigmoid_output_with_cross_entropy():
    rng = np.random.default_rng(2)
    model = prepare(spec([2, 3, 1], ["2"], loss="binary_cross_entropy", out="sigmoid"))
    params = initial_parameters(model.spec, 1)
    X, Y = rng.normal(size=(2, 4)), rng.uniform(0.1, 0.9, size=(1, 4))
    ev = evaluate(model.compiled, params, X, Y)
    E, grads = ag_loss_and_grads(["elu", "sigmoid"], [2.0, None], "binary_cross_entropy",
                                 params, X, Y)
    assert abs(ev.loss - E) <= 1e-12 * abs(E) and rel(ev.gradients, grads) <= 1e-10


def test_stable_far_from_zero_and_exact_near_zero():
    model = prepare(spec([1, 1, 1], ["0.5"]))
    f, fp = model.compiled.layers[0].f, model.compiled.layers[0].fprime
    z = np.array([-1e-12, -1e-300, 0.0, 1e-12, 800.0, -800.0, 1e308])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a, g = f(z), fp(z, None)
    # α(e^z − 1) at z = −1e−12 is −5e−13 to rounding (e^z − 1 computed naively loses 4 digits)
    assert a[0] == pytest.approx(-5e-13, rel=1e-12, abs=0)
    np.testing.assert_array_equal(a[2:], [0.0, 1e-12, 800.0, -0.5, 1e308])
    np.testing.assert_array_equal(g[2:], [0.5, 1.0, 1.0, 0.0, 1.0])
    params = {k: v * 1e4 for k, v in initial_parameters(model.spec, 0).items()}
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ev = evaluate(model.compiled, params, np.array([[100.0, -100.0]]), np.array([[0.1, 0.2]]))
    assert np.isfinite(ev.loss) and all(np.isfinite(g).all() for g in ev.gradients.values())


def test_generated_module_matches_autograd(tmp_path):
    rng = np.random.default_rng(5)
    model = prepare(spec([2, 4, 2], ["0.25"]))
    params = initial_parameters(model.spec, 2)
    X, Y = rng.normal(size=(2, 5)), rng.uniform(size=(2, 5))
    path = tmp_path / "elu_grads.py"
    path.write_text(generate(model.derivation))
    text = path.read_text()
    assert "np.expm1(np.minimum(0, z))" in text and "functools" not in text
    module_spec = importlib.util.spec_from_file_location("elu_grads", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    E, grads = ag_loss_and_grads(["elu", "elu"], [0.25, 1.0], "half_sse", params, X, Y)
    with np.errstate(over="raise", invalid="raise"):
        E_gen, g_gen = module.gradients(params, X, Y)
    assert abs(E_gen - E) <= 1e-12 * abs(E) and rel(g_gen, grads) <= 1e-10


# ---- the spec, the documents and the checker ---------------------------------------

def test_spec_alpha():
    with pytest.raises(SpecError, match="only leaky_relu and elu take alpha"):
        prepare('inputs = 1\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "relu"\nalpha = 1\n')
    with pytest.raises(SpecError, match="alpha"):
        prepare('inputs = 1\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "elu"\nalpha = "x"\n')
    with pytest.raises(SpecError, match="reserved"):
        prepare('inputs = 1\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "elu"\n'
                '[names]\nb1 = ["elu"]\n')


def test_document_shows_the_definition_and_the_kink():
    model = prepare(spec([1, 1, 1], ["0.5"]))
    text = render_markdown(model.derivation, model.notation)
    assert r"e^{z} - 1 & \text{for}\: z \leq 0" in text                # the α = 1 output
    assert r"\frac{e^{z}}{2} - \frac{1}{2}" in text                  # α = 1/2
    assert text.count("The kink at $z = 0$") == 1                     # only where α ≠ 1
    assert r"($\alpha e^{0} = \alpha$)" in text


def test_checker_reads_elu():
    source = spec([1, 1, 1], ["0.5"]) + "[values]\nx = [-1.0]\ny = [0.5]\nW1 = [[1.0]]\nb1 = [0.2]\n" \
        "W2 = [[2.0]]\nb2 = [0.1]\n"
    # z1 = −0.8 (the α e^z side), z2 = 2·0.5(e^{−0.8} − 1) + 0.1 < 0
    claims = ["dE/db^2_1 = (a^2_1 - y) * elu'(z^2_1, 1)",
              "dE/db^1_1 = delta^2_1 * w^2_11 * elu'(z^1_1, 0.5)",
              "dE/db^1_1 = delta^2_1 * w^2_11 * (a^1_1 + 0.5)",
              "a^1_1 = elu(z^1_1, 0.5)",
              "dE/db^1_1 = delta^2_1 * w^2_11"]
    verdicts = [v.verdict for c in claims for v in check(source, c, isolate=False)]
    assert verdicts == ["correct", "correct", "correct", "correct", "incorrect"]
    assert [v.verdict for v in check(None, "elu(0, 2) = 0", isolate=False)] == ["correct"]
