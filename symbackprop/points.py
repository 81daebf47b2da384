"""Test points for equivalence: consistent forward passes of the network.

Symbols are tied through the network (a = f(z), z = W a_prev + b), so a
test point gives random values to the inputs, targets and parameters and
computes every z, a and δ from them.  When the spec has ``[values]`` the
points are perturbations of those values that keep every ReLU gate as it is
there (the region the worked example lives in); otherwise parameters and
inputs are drawn freely.  Values are SymPy Floats with 30 digits, so true
identities agree to ~25 digits and a real mismatch is never lost in rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import sympy as sp

from .derive import Derivation

DIGITS = 30
GATED = ("relu", "leaky_relu")


@dataclass(frozen=True)
class PointSet:
    """The points a claim is tested at; ``base`` is the spec's [values] (or None)."""

    points: tuple[dict, ...]
    base: dict | None
    region: str | None         # which ReLU region was tested, in words


def _num(v) -> sp.Float:
    return sp.Float(str(v) if isinstance(v, Decimal) else float(v), DIGITS)


def forward_point(d: Derivation, inputs: dict) -> dict:
    """``inputs`` (x, y, parameters → numbers) completed with every z, a, δ."""
    env = dict(inputs)
    for layer in d.layers:
        zs = [sp.N(d.forward(layer, j)[0].xreplace(env), DIGITS) for j in range(layer.n_out)]
        env.update(zip(layer.z, zs))
        env.update((s, sp.N(v, DIGITS)) for s, v in zip(layer.a, layer.outputs_of(zs)))
    for layer in reversed(d.layers):
        for j in range(layer.n_out):
            env[layer.delta[j]] = sp.N(d.delta(layer, j).xreplace(env), DIGITS)
    return env


def spec_inputs(model) -> dict | None:
    """x, y and every parameter at the spec's [values] (first example), or None."""
    spec = model.spec
    if spec.values is None or not spec.values.samples:
        return None
    from .parameters import parameters_from_spec
    try:
        params = parameters_from_spec(spec, None, names=model.notation.slots, exact=True)
    except ValueError:
        return None
    net, sample = model.network, spec.values.samples[0]
    values = {s: _num(v) for s, v in zip(net.x, sample.x)}
    values.update({s: _num(v) for s, v in zip(net.y, sample.y)})
    for layer in net.layers:
        W, b = params[f"W{layer.index}"], params[f"b{layer.index}"]
        for j in range(layer.n_out):
            values[layer.b[j]] = _num(b[j])
            for k in range(layer.n_in):
                values[layer.W[j, k]] = _num(W[j, k])
    return values


def gates(d: Derivation, point: dict) -> dict:
    """z > 0 of every ReLU-type neuron at ``point``."""
    return {z: bool(point[z] > 0) for layer in d.layers if layer.activation.name in GATED
            for z in layer.z}


def _targets(d: Derivation, rng, given=None) -> list[float]:
    """Targets in the loss's domain: on the simplex for cross-entropy (Σ y = 1)."""
    n, loss = len(d.network.y), d.network.loss.name
    if loss == "cross_entropy":
        return list(rng.dirichlet(np.ones(n))) if n > 1 else [float(rng.uniform(0.05, 0.95))]
    if loss == "binary_cross_entropy":
        return list(rng.uniform(0.05, 0.95, n))
    base = np.zeros(n) if given is None else np.array(given, dtype=float)
    return list(base + rng.normal(0, 0.5, n))


def _draw(model, rng, base: dict | None, scale: float) -> dict:
    d = model.derivation
    net = d.network
    ties = {s: model.notation.names.get(s) for s in net.parameters}
    drawn, by_name = {}, {}
    for s in list(net.x) + list(net.parameters):
        if ties.get(s) in by_name:
            drawn[s] = by_name[ties[s]]
            continue
        centre = float(base[s]) if base else 0.0
        spread = scale * max(abs(centre), 0.3) if base else 1.0
        drawn[s] = _num(centre + rng.normal(0, spread))
        if ties.get(s) is not None:
            by_name[ties[s]] = drawn[s]
    given = [float(base[s]) for s in net.y] if base else None
    drawn.update(zip(net.y, map(_num, _targets(d, rng, given))))
    return drawn


def network_points(model, n: int = 12, seed: int = 0) -> PointSet:
    """The spec point (if any) and ``n`` random consistent forward passes."""
    d = model.derivation
    rng = np.random.default_rng(seed)
    inputs = spec_inputs(model)
    base = forward_point(d, inputs) if inputs else None
    want = gates(d, base) if base else {}
    points, tries, scale = ([base] if base else []), 0, 0.3
    while len(points) < n + (1 if base else 0) and tries < 40 * n:
        tries += 1
        p = forward_point(d, _draw(model, rng, inputs, scale))
        if gates(d, p) == want or not want:
            points.append(p)
        elif tries % 10 == 0:
            scale /= 2                     # stay closer to the spec's region
    return PointSet(tuple(points), base, _region(model, want))


def _region(model, want: dict) -> str | None:
    if not want:
        return None
    nt = model.notation
    on = [nt.name(z) for z, g in want.items() if g]
    off = [nt.name(z) for z, g in want.items() if not g]
    parts = ([", ".join(on) + " > 0"] if on else []) + ([", ".join(off) + " ≤ 0"] if off else [])
    return "the ReLU region of the spec's [values]: " + "; ".join(parts)


def free_points(symbols, n: int = 16, seed: int = 0) -> PointSet:
    """Random values for free-standing claims: half anywhere in [−2.5, 2.5], half positive."""
    rng = np.random.default_rng(seed)
    syms = sorted(symbols, key=str)
    points = []
    for i in range(n):
        low = -2.5 if i % 2 == 0 else 0.05
        points.append({s: _num(rng.uniform(low, 2.5)) for s in syms})
    return PointSet(tuple(points), None, None)


# ---- evaluating and comparing -----------------------------------------------
def value(expr, point: dict):
    """A number (complex allowed) or None where ``expr`` is undefined at ``point``."""
    try:
        v = sp.N(expr.xreplace(point), DIGITS)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError):
        return None
    if v.has(sp.zoo, sp.nan, sp.oo, sp.S.NegativeInfinity) or not v.is_number:
        return None
    try:
        c = complex(v)
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(c.real) and np.isfinite(c.imag)):
        return None
    if abs(c.imag) > 1e-20 * max(1.0, abs(c.real)):
        return None                        # complex: undefined over the reals
    return v if v.is_real else sp.re(v)


def values(expr, point: dict):
    """``value`` elementwise for a matrix (None if any entry is undefined)."""
    if isinstance(expr, sp.MatrixBase):
        out = [value(e, point) for e in expr]
        return None if any(v is None for v in out) else sp.ImmutableMatrix(expr.rows, expr.cols, out)
    return value(expr, point)


def close(u, v, rtol: float = 1e-9) -> bool:
    """Equal to a relative tolerance (matrices: same shape, every entry)."""
    if isinstance(u, sp.MatrixBase) or isinstance(v, sp.MatrixBase):
        if not (isinstance(u, sp.MatrixBase) and isinstance(v, sp.MatrixBase)) or u.shape != v.shape:
            return False
        return all(close(a, b, rtol) for a, b in zip(u, v))
    u, v = float(u), float(v)
    return abs(u - v) <= rtol * max(abs(u), abs(v)) + 1e-15
