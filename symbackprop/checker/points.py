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
from functools import lru_cache
from typing import Callable

import mpmath
from mpmath.libmp import (dps_to_prec, from_float, from_str, mpf_abs, mpf_le, mpf_mul, mpf_sum,
                          round_nearest)
import numpy as np
import sympy as sp

from ..core.derive import Derivation
from ..core.program import Symbolic, activate
from ..core.parameters import parameters_from_spec

DIGITS = 30
PREC = dps_to_prec(DIGITS)                      # bits of a DIGITS-digit Float
_NOISE = from_str(f"1e{1 - DIGITS}", 64, round_nearest)  # a sum this small relative to its terms is 0
GATED = ("relu", "leaky_relu", "elu")   # piecewise at z = 0: the spec's side is kept
DIAGNOSIS_POINTS = 6                    # the test points a diagnosis tries its candidates at


@dataclass(frozen=True)
class PointSet:
    """The points a claim is tested at; ``base`` is the spec's [values] (or None)."""

    points: tuple[dict, ...]
    base: dict | None
    region: str | None         # which ReLU region was tested, in words


def _num(v) -> sp.Float:
    if isinstance(v, Decimal):
        return sp.Float(str(v), DIGITS)
    # sp.Float(float(v), DIGITS) without its argument checks (a point has 24k of them on 784-30-10)
    return sp.Float._new(from_float(float(v), PREC, round_nearest), PREC)


def forward_point(d: Derivation, inputs: dict) -> dict:
    """``inputs`` (x, y, parameters → numbers) completed with every z, a, δ.

    The weighted sums (z^l = W^l a^{l−1} + b^l and the δ recursion's
    (W^{l+1})ᵀ δ^{l+1}) are exact dot products (``weighted_sum``):
    a 784-30-10 point takes a tenth of a second where substituting into the
    SymPy sums took seconds.  Activations, f' and the output δ are the
    derivation's own SymPy formulas, evaluated with ``sp.N``.
    """
    return point_function(d.symbolic)(inputs)


@lru_cache(maxsize=32)
def point_function(sym: Symbolic) -> Callable[[dict], dict]:
    """The program of ``sym`` compiled once into 30-digit steps: inputs → every z, a, δ.
    Each equation's sums become lists of symbols to look up, its f' and output δ the
    formulas of ``sym`` to substitute into."""
    p, rows = sym.p, {}
    steps = [_point_step(sym, e, rows) for e in p.forward + p.backward
             if e.op in ("affine", "activate", "output_delta", "delta")]

    def run(inputs: dict) -> dict:
        env = dict(inputs)
        for step in steps:
            step(env)
        return env
    return run


def _point_step(sym: Symbolic, e, cache: dict) -> Callable[[dict], None]:
    i = e.node
    if e.op == "affine":
        rows = _sums(sym, e.terms, sym.p.size(i), False, cache)
        bias = [sym.sym[e.bias][j] if e.bias else None for j in range(sym.p.size(i))]
        out = list(sym.sym[e.out])
        return lambda env: env.update(zip(out, [weighted_sum(ws, xs, _get(env, b))
                                                for (ws, xs), b in zip(rows(env), bias)]))
    if e.op == "activate":
        node, zs, out = sym.p.node(i), list(sym.sym[f"z{i}"]), list(sym.sym[e.out])
        return lambda env: env.update((s, _n(v)) for s, v in zip(out, activate(node, [env[z] for z in zs])))
    out = list(sym.sym[e.out])
    if e.op == "output_delta":
        # δ at the output: the derivation's own formula of each δ_j, substituted
        forms = [sym.delta(i, j) for j in range(len(out))]
        return lambda env: env.update((s, _n(f.xreplace(env))) for s, f in zip(out, forms))
    # δ_j = (Σ over the nodes fed of w_kj δ_k) f'(z_j), as Derivation.delta writes it
    rows = _sums(sym, sym.eqn[e.terms[0].var].terms, len(out), True, cache)
    slopes = [sym.fprime(i, j) for j in range(len(out))]
    return lambda env: env.update(
        (s, _n(weighted_sum(ws, xs) * f.xreplace(env)))
        for s, (ws, xs), f in zip(out, rows(env), slopes))


def _sums(sym: Symbolic, terms, n: int, transposed: bool, cache: dict):
    """env → [(weights, values)] of the n entries of Σ W·v (Σ Wᵀ·v): the numbers each
    entry's exact dot product takes.  With weights alone (a layer) the values are one list."""
    rows = [_row(sym, terms, j, transposed, cache) for j in range(n)]
    if all(w is not None for w, _ in terms):
        xs = rows[0][1] if rows else []
        return lambda env: [([env[w] for w in ws], shared)
                            for shared in ([env[x] for x in xs],) for ws, _ in rows]
    return lambda env: [_look(env, ws, xs) for ws, xs in rows]


def _row(sym: Symbolic, terms, j: int, transposed: bool, cache: dict) -> tuple[list, list]:
    """Entry j of Σ W·v (or Σ Wᵀ·v) as (weights, values): symbols, None for a weight of 1."""
    ws, xs = [], []
    for w, var in terms:
        v = sym.sym[var]
        if w is None:
            ws.append(None)
            xs.append(v[j])
        else:
            # indexing a SymPy matrix entry by entry is slow: its rows as lists, once
            if (w, transposed) not in cache:
                W = sym.sym[w]
                cache[w, transposed] = (W.T if transposed else W).tolist()
            ws += cache[w, transposed][j]
            xs += list(v)
    return ws, xs


_ONE = sp.Float(1, DIGITS)


def _look(env: dict, ws: list, xs: list) -> tuple[list, list]:
    return [_ONE if w is None else env[w] for w in ws], [env[x] for x in xs]


def _get(env: dict, b):
    return 0 if b is None else env[b]


def weighted_sum(ws, xs, bias=0) -> sp.Float:
    """Σ_k w_k x_k + bias, exact (mpmath's integer-mantissa sum), rounded once to ``DIGITS``.

    A sum that cancels below the rounding of its terms (|Σ| ≤ 10^{1−DIGITS}
    Σ|terms|) is 0: the spec's 0.6·1 + 0.2·(−0.5) − 0.2·2 − 0.1 is exactly 0
    in decimals, and its ReLU gate must be closed, not decided by the binary
    representation error of 0.6 and 0.2.
    """
    terms = [mpf_mul(_raw(w), _raw(x)) for w, x in zip(ws, xs)] + [_raw(bias)]
    total = mpf_sum(terms)                                  # prec 0: no rounding at all
    size = mpf_sum(terms, 64, absolute=True)
    if mpf_le(mpf_abs(total), mpf_mul(size, _NOISE, 64)):
        return sp.Float(0, DIGITS)
    with mpmath.workprec(PREC):
        return sp.Float(mpmath.mpf(total), DIGITS)


def _raw(v) -> tuple:
    """A point's number as an mpmath tuple (a SymPy Float's own; others at DIGITS + 10)."""
    return (v if isinstance(v, sp.Float) else sp.Float(v, DIGITS + 10))._mpf_


def _n(expr) -> sp.Expr:
    """``expr`` evaluated to DIGITS; functions mpmath does not know (softplus) through exp."""
    v = sp.N(expr, DIGITS)
    return v if v.is_Number else sp.N(expr.rewrite(sp.exp), DIGITS)


def spec_inputs(model) -> dict | None:
    """x, y and every parameter at the spec's [values] (first example), or None."""
    spec = model.spec
    if spec.values is None or not spec.values.samples:
        return None
    try:
        params = parameters_from_spec(spec, None, names=model.notation.slots, exact=True)
    except ValueError:
        return None
    net, sample = model.network, spec.values.samples[0]
    values = {s: _num(v) for s, v in zip(net.x, sample.x)}
    values.update({s: _num(v) for s, v in zip(net.y, sample.y)})
    for layer in net.dense_layers:           # add, flatten: no parameters
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
    names = model.notation.names
    fresh, first = [], {}                   # the symbols drawn (a tied name: once)
    for s in list(net.x) + list(net.parameters):
        name = names.get(s) if s in net.location else None
        if name is None or name not in first:
            fresh.append(s)
            if name is not None:
                first[name] = s
    centre = np.array([float(base[s]) for s in fresh]) if base else np.zeros(len(fresh))
    spread = scale * np.maximum(np.abs(centre), 0.3) if base else \
        np.array([_free_spread(net, s) for s in fresh])
    # one vectorised draw: the same numbers, in the same order, as one draw per symbol
    drawn = dict(zip(fresh, map(_num, centre + rng.normal(0, spread))))
    for s in net.parameters:
        if s not in drawn:
            drawn[s] = drawn[first[names[s]]]
    given = [float(base[s]) for s in net.y] if base else None
    drawn.update(zip(net.y, map(_num, _targets(d, rng, given))))
    return drawn


def _free_spread(net, s) -> float:
    """The spread of a freely drawn value: 1, and 2/√(fan-in) for the weights of a
    layer with more than 4 inputs, so that z stays of order 1 (on 784-30-10 with
    unit weights every sigmoid saturates and every derivative is below 1e-12)."""
    where = net.location.get(s)
    if where is None or where[0] != "W":
        return 1.0
    return min(1.0, 2.0 / np.sqrt(net.layers[where[1] - 1].n_in))


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
        v = sp.N(substitute(expr, point), DIGITS)
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


def substitute(expr, point: dict):
    """``expr.xreplace(point)``, visiting each distinct subexpression once.

    A chain-rule derivative (``truth.TruthChain``) shares its sub-derivatives: as a
    tree it has one copy per path (10^5 on a 4-12-12-12-12-12-2 network), as a
    DAG a few per edge; ``xreplace`` walks the tree, this walks the DAG.
    """
    memo: dict = {}

    def walk(e):
        found = memo.get(e)
        if found is None:
            if e in point:
                found = point[e]
            elif not e.args:
                found = e
            else:
                args = [walk(a) for a in e.args]
                found = e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)
            memo[e] = found
        return found
    return walk(expr)


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


def first_mismatch(ta, tb, points):
    """(point, u, v) where the sides differ or one is undefined; and the number of agreeing points."""
    n = 0
    for p in points:
        u, v = values(ta, p), values(tb, p)
        if u is None and v is None:
            continue
        if u is None or v is None or not close(u, v):
            return (p, u, v), n
        n += 1
    return None, n


def matches(form, tb, points) -> bool:
    """``form`` equals ``tb`` at every point where either is defined (and at one at least)."""
    bad, n = first_mismatch(form, tb, points)
    return bad is None and n > 0
