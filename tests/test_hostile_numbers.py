"""Issue #15: numerically extreme but valid specs give finite, correct numbers in the
worked example of `derive`, or say where float64 cannot hold a value.

Each number is compared with a stable hand computation (σ(z) from e^{-|z|}, 1 − σ(z)
as σ(−z), logs through log1p), never with the float64 formula that lost its digits.
"""
import math

import pytest
import sympy as sp

from symbackprop.api import prepare
from symbackprop.render.documents import make_documents


def spec(loss, act, n_out, w, b, y, x=1.0):
    rows = ", ".join(f"[{v!r}]" for v in w)
    return (f'name = "e"\ninputs = 1\nloss = "{loss}"\n[[layer]]\nsize = {n_out}\n'
            f'activation = "{act}"\n[values]\nx = [{x!r}]\ny = {list(y)!r}\nW1 = [{rows}]\n'
            f"b1 = {list(b)!r}\n")


def sigma(z):                      # stable both ways
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def factors(model, worked):
    """Each chain-rule factor's value for the last parameter (b of the output layer)."""
    p = model.network.parameters[-1]
    return [worked.value(f.value) for path in model.derivation.chain(p).paths for f in path]


def document(model, worked) -> str:
    md = make_documents(model, ["md"], "e", worked)["e.md"]
    for bad in ("nan", "zoo", "inf ", "\\infty"):
        assert bad not in md
    return md


@pytest.mark.parametrize("z, y", [(40.0, 0.0), (40.0, 1.0), (-40.0, 1.0), (-40.0, 0.0),
                                  (700.0, 0.0)])
def test_sigmoid_bce_saturated(z, y):
    model = prepare(spec("binary_cross_entropy", "sigmoid", 1, [z], [0.0], [y]))
    w = model.worked()
    de_da, da_dz, dz_db = factors(model, w)
    s, s_neg = sigma(z), sigma(-z)          # 1 − σ(z) = σ(−z), no cancellation
    # ∂E/∂a = (a − y)/(a(1 − a)); with y ∈ {0, 1}: 1/(1 − a) or −1/a
    expect = 1 / s_neg if y == 0 else -1 / s
    assert de_da == pytest.approx(expect, rel=1e-13)
    assert da_dz == pytest.approx(s * s_neg, rel=1e-13)       # a(1 − a) = σ(z)σ(−z)
    assert dz_db == 1.0
    assert w.numbers[model.network.layers[0].delta[0]] == pytest.approx(s - y, rel=1e-13, abs=1e-300)
    document(model, w)


def test_sigmoid_bce_beyond_float64_is_said():
    """z = 800: ∂E/∂a = 1 + e^{800} is beyond float64 and a(1 − a) ≈ e^{-800} below it;
    the document gives both magnitudes and says so."""
    model = prepare(spec("binary_cross_entropy", "sigmoid", 1, [800.0], [0.0], [0.0]))
    w = model.worked()
    de_da, da_dz, _ = factors(model, w)
    assert math.isinf(de_da) and float(sp.log(de_da.magnitude)) == pytest.approx(800, rel=1e-12)
    assert da_dz == 0.0 and float(sp.log(da_dz.magnitude)) == pytest.approx(-800, rel=1e-12)
    md = document(model, w)
    assert r"\ (\text{beyond float64})" in md and r"\ (\text{below float64})" in md
    assert w.numbers[model.network.layers[0].delta[0]] == 1.0      # δ = a − y stays exact


def test_softmax_cross_entropy_at_plus_minus_1000():
    model = prepare(spec("cross_entropy", "softmax", 2, [1000.0, -1000.0], [0.0, 0.0], [0.0, 1.0]))
    w = model.worked()
    layer = model.network.layers[0]
    # δ = a − y, a = softmax(±1000) = (1 − e^{-2000}, e^{-2000}) → (1, 0) in float64
    assert [w.numbers[d] for d in layer.delta] == [1.0, -1.0]
    assert w.loss == pytest.approx(2000.0, rel=1e-15)        # −log a_2 = 2000 + log1p(e^-2000)
    for v in factors(model, w):
        assert not math.isnan(v)
    assert "beyond float64" in document(model, w)          # ∂E/∂a_2 = −(1 + e^{2000})


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # float64 eval of 1e310
def test_mse_at_1e154_and_beyond():
    model = prepare(spec("mse", "identity", 1, [1e154], [0.0], [0.0]))
    w = model.worked()
    assert w.loss == pytest.approx(1e308, rel=1e-15)
    assert factors(model, w) == [pytest.approx(2e154, rel=1e-15), 1.0, 1.0]
    document(model, w)
    model = prepare(spec("mse", "identity", 1, [1e155], [0.0], [0.0]))
    w = model.worked()
    assert math.isinf(w.loss) and float(w.loss.magnitude) == pytest.approx(1e310, rel=1e-12)
    assert r"1.0 \times 10^{310}\ (\text{beyond float64})" in document(model, w)


def test_softplus_cross_entropy_underflow():
    """softplus(−800) = log1p(e^{-800}) ≈ 3.67e-348 underflows; σ/softplus stays 1."""
    model = prepare(spec("cross_entropy", "softplus", 1, [-800.0], [0.0], [1.0]))
    w = model.worked()
    de_da, da_dz, _ = factors(model, w)
    assert math.isinf(de_da) and de_da < 0                  # −y/a = −e^{800}: beyond float64
    assert da_dz == 0.0 and getattr(da_dz, "magnitude", None) is not None   # σ(−800) below
    document(model, w)


def test_exact_worked_example_keeps_the_digits():
    """--exact: 1 − σ(40) is 4.2483542552915889592e-18 to 20 digits, ∂E/∂a = 1 + e^{40}
    (not 0 and not a division by zero), the loss log(1 + e^{40}) = 40 + 4.248e-18."""
    model = prepare(spec("binary_cross_entropy", "sigmoid", 1, [40.0], [0.0], [0.0]))
    w = model.worked(exact=True)
    de_da, da_dz, _ = factors(model, w)
    assert float(de_da) == pytest.approx(1 + math.exp(40), rel=1e-15)
    assert float(da_dz) == pytest.approx(sigma(40) * sigma(-40), rel=1e-15)
    assert str(w.loss).startswith("40.00000000000000000424835")
    md = make_documents(model, ["md"], "e", w, digits=20)["e.md"]
    assert "235385266837019986.41" in md and "E = 40.000000000000000004" in md
