"""Issue #23, numbers at the extremes: for every output activation / loss pairing, the
loss and δ^L = ∂E/∂z computed by `eval`/`train` (numeric.vectorised) and by the module
`codegen` writes agree with a 60-digit mpmath reference for |z| from 0 to 1e308.

The reference is written here from the definitions, in cancellation-free forms
(1 − σ(z) = σ(−z), tanh' = sech², log σ(z) = −log1p(e^{−z})), with mpmath's unbounded
exponent range, and shares no code with the package.  A value the reference puts
beyond float64 must come out as inf of the right sign (`eval` then reports it as an
error naming where it arose); every other value must agree to 1e-13 relative, or
1e-15 absolute (the resolution of an O(1) quantity computed from a rounded output).
"""
import importlib.util
import json
import math

import mpmath as mp
import numpy as np
import pytest

from conftest import spec_text
from symbackprop.api import NonFinite, prepare
from symbackprop.cli import main
from symbackprop.core.functions import ACTIVATIONS, LOSSES
from symbackprop.numeric.codegen import generate
from symbackprop.numeric.vectorised import evaluate

mp.mp.dps = 60
ZS = [0.0, 1e-300, 1.0, 20.0, 30.0, 40.0, 100.0, 709.0, 740.0, 745.0, 1000.0, 1e10, 1e154, 1e200,
      1e308]
ZS = sorted({s * z for z in ZS for s in (1.0, -1.0)})
PAIRS = [(act, loss) for act in ACTIVATIONS for loss, spec in LOSSES.items()
         if spec.outputs is None or act in spec.outputs]
ALPHA = {"leaky_relu": mp.mpf("0.01"), "elu": mp.mpf(1)}


def sig(z):
    return 1 / (1 + mp.exp(-z))


def f_and_prime(act, z):
    """(f(z), f'(z), log f(z) or None) at 60 digits, without cancellation."""
    if act == "identity":
        return z, mp.mpf(1), None
    if act == "sigmoid":
        return sig(z), sig(z) * sig(-z), -mp.log1p(mp.exp(-z))
    if act == "tanh":
        return mp.tanh(z), mp.sech(z) ** 2, None
    if act == "relu":
        return (z, mp.mpf(1), None) if z > 0 else (mp.mpf(0), mp.mpf(0), None)
    if act == "leaky_relu":
        return (z, mp.mpf(1), None) if z > 0 else (ALPHA[act] * z, ALPHA[act], None)
    if act == "elu":
        return (z, mp.mpf(1), None) if z > 0 else (mp.expm1(z), mp.exp(z), None)
    if act == "softplus":
        sp = mp.log1p(mp.exp(z))
        return sp, sig(z), mp.log(sp)
    raise AssertionError(act)


def reference(act, loss, z, y):
    """(E, [δ_j]) at 60 digits for one example: z and y are lists of mpf."""
    m = len(z)
    if act == "softmax":
        lse = mp.log(mp.fsum(mp.exp(zi) for zi in z))
        loga = [zi - lse for zi in z]
        a = [mp.exp(l) for l in loga]
    else:
        parts = [f_and_prime(act, zi) for zi in z]
        a = [p[0] for p in parts]
        loga = [p[2] for p in parts]
    if loss in ("half_sse", "sse", "mse"):
        c = {"half_sse": mp.mpf(1) / 2, "sse": mp.mpf(1), "mse": mp.mpf(1) / m}[loss]
        E = c * mp.fsum((ai - yi) ** 2 for ai, yi in zip(a, y))
        g = [2 * c * (ai - yi) for ai, yi in zip(a, y)]
        if act == "softmax":
            ag = mp.fsum(ai * gi for ai, gi in zip(a, g))
            return E, [ai * (gi - ag) for ai, gi in zip(a, g)]
        return E, [gi * p[1] for gi, p in zip(g, parts)]
    if loss == "cross_entropy":
        E = -mp.fsum(yi * li for yi, li in zip(y, loga) if yi != 0)     # 0 · log 0 = 0
        if act == "softmax":
            return E, [ai * mp.fsum(y) - yi for ai, yi in zip(a, y)]
        if act == "sigmoid":
            return E, [-yi * sig(-zi) for yi, zi in zip(y, z)]
        return E, [-yi * sig(zi) / ai for yi, zi, ai in zip(y, z, a)]        # softplus
    if loss == "binary_cross_entropy":                                        # sigmoid
        E = mp.fsum(-(yi * (-mp.log1p(mp.exp(-zi))) if yi != 0 else 0)
                    - ((1 - yi) * (-mp.log1p(mp.exp(zi))) if yi != 1 else 0)
                    for yi, zi in zip(y, z))
        return E, [(1 - yi) * sig(zi) - yi * sig(-zi) for yi, zi in zip(y, z)]
    raise AssertionError(loss)


def agrees(got: float, ref) -> bool:
    want = float(ref)
    if math.isinf(want):
        return got == want                 # beyond float64: inf of the right sign
    return math.isfinite(got) and abs(got - want) <= 1e-13 * abs(want) + 1e-15


def cases(act):
    """(W, b, Y-columns) for a batch whose example k has z = t_k (two ways for softmax)."""
    if act == "softmax":
        return [(W, Y) for W in ([[1.0], [-1.0]], [[1.0], [0.0]])
                for Y in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5])]
    return [([[1.0]], [y]) for y in (0.0, 0.25, 1.0)]


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("act,loss", PAIRS)
def test_loss_and_output_delta_match_the_60_digit_reference(act, loss, tmp_path):
    n = 2 if act == "softmax" else 1
    model = prepare(spec_text([1, n], [act], loss))
    path = tmp_path / "g.py"
    path.write_text(generate(model.derivation))
    module = load(path, f"extreme_{act}_{loss}")
    X = np.array([ZS])
    bad = []
    for W, y in cases(act):
        W = np.array(W)
        params = {"W1": W, "b1": np.zeros(n)}
        Y = np.repeat(np.array(y)[:, None], len(ZS), axis=1)
        with np.errstate(all="ignore"):
            ev = evaluate(model.compiled, params, X, Y, "sum")
        for k, t in enumerate(ZS):
            z = [mp.mpf(t) * mp.mpf(w) for w in W[:, 0]]
            E, delta = reference(act, loss, z, [mp.mpf(v) for v in y])
            with np.errstate(all="ignore"):
                E_gen, grads = module.gradients(params, X[:, k:k + 1], Y[:, k:k + 1])
            for where, got, want in [("loss", ev.losses[k], E), ("codegen loss", E_gen, E)] + [
                    (f"delta_{j}", ev.delta[-1][j, k], d) for j, d in enumerate(delta)] + [
                    (f"codegen delta_{j}", grads["b1"][j], d) for j, d in enumerate(delta)]:
                if not agrees(float(got), want):
                    bad.append(f"z={[float(v) for v in z]} y={y} {where}: {got!r}, "
                               f"true {mp.nstr(want, 17)}")
    assert not bad, "\n".join(bad[:20])


def test_the_issue_examples_through_eval_train_and_the_document(tmp_path, capsys):
    """Cross-entropy after softplus at z = −1000 and −745, softmax at ±1e308."""
    for z, loss in (("-1000", 1000.0), ("-745", 745.0)):
        spec = tmp_path / "sp.toml"
        spec.write_text(spec_text([1, 1], ["softplus"], "cross_entropy",
                                  f"[values]\nx = [1]\ny = [1]\nW1 = [[{z}]]\nb1 = [0]\n"))
        assert main(["eval", str(spec), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["loss"] == loss and out["gradients"]["b1"] == [-1.0]
        assert prepare(spec).worked().loss == loss
        assert main(["train", str(spec), "--steps", "3", "--lr", "0.5", "--json"]) == 0
        history = json.loads(capsys.readouterr().out)["loss_history"]
        # W and b each move by 0.5 a step (∂E/∂W = ∂E/∂b = −1): z grows by 1 a step
        assert history[0] == loss and history[-1] == loss - 3
    spec.write_text(spec_text([1, 2], ["softmax"], "cross_entropy",
                              "[values]\nx = [1e308]\ny = [1, 0]\nW1 = [[1], [-1]]\nb1 = [0, 0]\n"))
    assert main(["eval", str(spec), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == 0.0


def test_an_overflowing_result_is_an_error_naming_where(tmp_path, capsys):
    spec = tmp_path / "big.toml"
    spec.write_text(spec_text([1, 1], ["identity"], "half_sse",
                              "[values]\nx = [1e200]\ny = [1]\nW1 = [[1]]\nb1 = [0]\n"))
    assert main(["eval", str(spec), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the loss (losses[0] in --json) is inf" in captured.err
    spec.write_text(spec_text([1, 1], ["identity"], "half_sse",
                              "[values]\nx = [1e300]\ny = [1]\nW1 = [[1e10]]\nb1 = [0]\n"))
    with pytest.raises(NonFinite, match=r"z\^1_1 \(layers\[0\]\.z\[0\] in --json\) is inf"):
        prepare(spec).step()


def test_json_output_is_strict():
    from symbackprop.cli.commands import dumps, finite_or_null
    with pytest.raises(ValueError):
        dumps({"loss": float("nan")})
    report = finite_or_null({"claims": [{"counterexample": {"true": float("inf")}, "notes": []}]})
    entry = report["claims"][0]
    assert entry["counterexample"]["true"] is None
    assert entry["notes"] == ["claims[0].counterexample.true is inf (not a JSON number), written as null"]
