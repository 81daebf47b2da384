"""The numbers of the worked example, keyed by network symbol.

Two routes to the same table: from a float64 ``Evaluation`` (the default),
or ``exact``: the derivation's own per-neuron expressions evaluated with
SymPy Rationals made from the decimals as written in the spec.  Rational
stays rational (sums, products, ReLU); a transcendental value (σ, tanh, exp)
is kept to ``PRECISION`` significant digits so the expressions stay small.

The update of the worked example honours ties (a shared parameter moves by
the sum of its occurrences' partial derivatives) and frozen parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import mpmath
import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify   # strict: numbers and SymPy objects only, never text

from ..core.defaults import LEARNING_RATE
from ..core.derive import Derivation
from ..core.errors import SpecError
from ..core.limits import LimitError, run_bounded
from ..core.notation import Notation
from . import precise
from .vectorised import Evaluation

PRECISION = 50
EDGE = 1e-6       # an activation this close to 0 or ±1 has lost digits in float64


class Unrepresentable(float):
    """A value of the worked example that float64 cannot hold: ±inf (too large), 0 (too
    small, not zero) or nan (not pinned down) as a float, with its true value
    (``magnitude``, a SymPy Float) when it is known."""

    def __new__(cls, x: float, magnitude: sp.Float | None = None):
        obj = super().__new__(cls, x)
        obj.magnitude = magnitude
        return obj

    def __reduce__(self):
        return (Unrepresentable, (float(self), self.magnitude))


@dataclass(frozen=True)
class Worked:
    """The first example's numbers: x, y, parameters, z, a, δ; the loss; the update."""

    numbers: dict[sp.Symbol, Any]
    updated_numbers: dict[sp.Symbol, Any]
    loss: Any
    learning_rate: Any
    target_sum: float
    exact: bool = False
    frozen: tuple[str, ...] = ()
    # each activation symbol → its formula of the pre-activations (a = σ(z), …): formulas
    # whose float64 value has lost its digits are evaluated from z instead
    definitions: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)
    # derive --steps k: the first k optimiser steps (a numeric.steps.Steps), else None
    steps: Any = None

    def value(self, expr):
        """An expression of network symbols, evaluated at the example's numbers.

        float64: the direct evaluation, unless an activation in ``expr`` is saturated
        (within EDGE of 0 or ±1, as σ(40) = 1.0) or the result is not a finite number;
        then ``precise`` evaluates it from the pre-activations.  A value float64 cannot
        hold is an ``Unrepresentable`` (printed as such)."""
        expr = _sympify(expr)
        v = expr.xreplace(self.numbers)
        if self.exact:
            if self._saturated(expr) or not (v.is_real and v.is_finite):
                v = self._from_z(expr)
            return v if v.is_Rational else settle(v)
        number = _float(v)
        if number is not None and math.isfinite(number) and not self._saturated(expr) \
                and not (number == 0 and _transcendental(expr)):
            return number
        if expr not in self._precise:
            self._precise[expr] = precise_float(self._from_z(expr), number)
        return self._precise[expr]

    @cached_property
    def _precise(self) -> dict:
        return {}

    def _from_z(self, expr):
        """``expr`` with the activations written out and every number as an exact
        rational (a Float would make SymPy round e^{-40} away in 1 − 1/(1 + e^{-40}))."""
        return expr.xreplace(self.definitions).xreplace(self._rationals)

    @cached_property
    def _rationals(self) -> dict:
        return _rationals(self.numbers)

    def _saturated(self, expr) -> bool:
        return any(s in self.definitions and _near_edge(self.numbers.get(s))
                   for s in expr.free_symbols)


def _rationals(numbers: dict) -> dict:
    """Each finite number as the rational it is exactly (a float's binary value)."""
    out = {}
    for k, v in numbers.items():
        if isinstance(v, sp.Rational):
            out[k] = v
        elif isinstance(v, (float, sp.Float)) and math.isfinite(float(v)):
            out[k] = sp.Rational(v)
        else:
            out[k] = v
    return out


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError):
        return None           # complex, zoo, nan as SymPy, a symbol left


def _transcendental(expr) -> bool:
    """exp, log or an activation function in ``expr`` (a 0 from it may be an underflow)."""
    return any(not f.is_Piecewise for f in expr.atoms(sp.Function))


def _near_edge(v) -> bool:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return False
    return v == 0 or abs(abs(v) - 1) < EDGE or not 1e-300 < abs(v) < 1e300


def precise_float(v: sp.Expr, fallback: float | None = None) -> float:
    """``v`` (no symbols) as the nearest float64, from interval arithmetic; an
    ``Unrepresentable`` when it is beyond float64 or cannot be pinned down."""
    try:
        r = precise.evaluate(v, 53)
    except precise.Unsupported:
        if fallback is not None and math.isfinite(fallback):
            return fallback
        r = None
    if isinstance(r, tuple):             # only bounds: decided when float64 holds neither
        lo, hi = r
        if max(abs(lo), abs(hi)) < precise.FLOAT64_TINY:
            return Unrepresentable(0.0)  # below float64: it rounds to 0
        if min(abs(lo), abs(hi)) > precise.FLOAT64_MAX and lo * hi > 0:
            return Unrepresentable(math.copysign(math.inf, lo))
        r = None
    if r is None:
        return Unrepresentable(math.nan)
    if precise.beyond_float64(r):
        rounded = math.copysign(math.inf if abs(r) > 1 else 0.0, r)
        return Unrepresentable(rounded, sp.Float(r, 17))
    return float(r)


def settle(v: sp.Expr) -> sp.Expr:
    """Keep a rational number exact; evaluate anything else to PRECISION correct digits
    (interval arithmetic: 1 − σ(1000) = 5.07…e-435, not 0)."""
    v = _sympify(v)
    if v.is_Rational:
        return v
    try:
        r = precise.value(v, int(PRECISION * 3.33) + 8)
    except precise.Unsupported:
        r = v.rewrite(sp.exp).evalf(PRECISION)
        if not (r.is_real and r.is_finite):
            raise SpecError(f"--exact: a value of the worked example is {r}; it has no "
                            "finite real value.") from None
        return sp.Float(r, PRECISION)
    if r is None:
        raise SpecError(f"--exact: a value of the worked example cannot be pinned down to "
                        f"{PRECISION} digits even at {precise.MAX_BITS} bits of working "
                        "precision (pre-activations of magnitude beyond about 10,000?); "
                        "the float64 worked example (without --exact) states such values.")
    with mpmath.workprec(int(PRECISION * 3.33) + 16):
        return sp.Float(mpmath.nstr(r, PRECISION + 5), PRECISION)


def definitions(d: Derivation) -> dict[sp.Symbol, sp.Expr]:
    """Each activation symbol a^l_j → f_l(z^l_j) (softmax: of the layer's z)."""
    return {a: expr.rewrite(sp.exp) for layer in d.network.layers
            for a, expr in zip(layer.a, layer.outputs_of(list(layer.z)))}


def tied_gradients(d: Derivation, nt: Notation, value) -> dict[sp.Symbol, Any]:
    """∂E/∂θ for every parameter symbol; a tied name's symbols all get the sum
    of its occurrences' partial derivatives (the total derivative)."""
    grads = {p: value(d.gradient(p)) for p in d.network.parameters}
    for name, syms in _groups(nt).items():
        if len(syms) > 1:
            total = sum((grads[s] for s in syms[1:]), grads[syms[0]])
            grads.update({s: total for s in syms})
    return grads


def _groups(nt: Notation) -> dict[str, list[sp.Symbol]]:
    groups: dict[str, list[sp.Symbol]] = {}
    for sym, name in nt.names.items():
        groups.setdefault(name, []).append(sym)
    return groups


def _update(d, nt, numbers, grads, lr, frozen) -> dict[sp.Symbol, Any]:
    """θ ← θ − η ∂E/∂θ, frozen names unchanged."""
    return {p: numbers[p] if nt.names.get(p) in frozen else numbers[p] - lr * grads[p]
            for p in d.network.parameters}


def worked_example(d: Derivation, params, evaluation: Evaluation, Y, lr=LEARNING_RATE,
                   nt: Notation | None = None, frozen: tuple[str, ...] = ()) -> Worked:
    """The float64 numbers of the first example (column 0 of ``evaluation``); the
    update is this example's step, with ties summed and frozen names kept."""
    net = d.network
    numbers: dict[sp.Symbol, float] = {}
    numbers.update(zip(net.x, evaluation.a[0][:, 0]))
    numbers.update(zip(net.y, np.asarray(Y, float)[:, 0]))
    for layer in net.layers:
        l = layer.index
        if layer.dense:                  # add, flatten: no parameters
            numbers.update(zip(layer.W, params[f"W{l}"].ravel()))
            numbers.update(zip(layer.b, params[f"b{l}"]))
        numbers.update(zip(layer.z, evaluation.z[l - 1][:, 0]))
        numbers.update(zip(layer.a, evaluation.a[l][:, 0]))
        numbers.update(zip(layer.delta, evaluation.delta[l - 1][:, 0]))
    numbers = {k: float(v) for k, v in numbers.items()}
    nt = nt or Notation("layered", {}, {})
    defs = definitions(d)
    loss = float(evaluation.losses[0])
    w = Worked(numbers, {}, loss, float(lr), float(np.asarray(Y, float)[:, 0].sum()),
               frozen=tuple(frozen), definitions=defs)
    if not math.isfinite(loss):        # beyond float64: say so, with its magnitude
        loss = w.value(d.loss)
    grads = tied_gradients(d, nt, w.value)
    return Worked(numbers, _update(d, nt, numbers, grads, float(lr), frozen), loss, w.learning_rate,
                  w.target_sum, frozen=tuple(frozen), definitions=defs)


EXACT_SECONDS = 60         # --exact: the exact worked example's time …
EXACT_MEMORY_MB = 2048     # … and the memory it may take beyond what the process has


def bounded_exact_worked(d: Derivation, nt: Notation, params, x, y, lr,
                         frozen: tuple[str, ...] = ()) -> Worked:
    """``exact_worked`` in a child process within EXACT_SECONDS and EXACT_MEMORY_MB:
    numbers with many digits or extreme exponents can make exact arithmetic slow."""
    try:
        return run_bounded(exact_worked, (d, nt, params, x, y, lr, frozen), seconds=EXACT_SECONDS,
                           memory_mb=EXACT_MEMORY_MB,
                           describe=lambda exc: str(exc) if isinstance(exc, SpecError) else
                           f"{type(exc).__name__}: {exc}")
    except LimitError as exc:
        text = str(exc)
        if text.startswith("--exact"):
            raise SpecError(text) from None
        raise SpecError(f"--exact: the exact worked example {text} (numbers with many digits "
                        "or extreme exponents make exact arithmetic slow); the float64 worked "
                        "example (without --exact) has no such cost.") from None


def exact_worked(d: Derivation, nt: Notation, params, x, y, lr, frozen: tuple[str, ...] = ()) -> Worked:
    """The first example in exact arithmetic from Decimal ``params``, ``x``, ``y``, ``lr``.

    >>> from decimal import Decimal as D
    >>> from symbackprop import prepare
    >>> m = prepare('inputs = 1\\nloss = "half_sse"\\n[[layer]]\\nsize = 1\\nactivation = "identity"')
    >>> w = exact_worked(m.derivation, m.notation, {"W1": [[D("0.1")]], "b1": [D("0.2")]},
    ...                  [D("3")], [D("1")], D("0.1"))
    >>> w.loss, w.updated_numbers[m.network.parameters[0]]
    (1/8, 1/4)
    """
    q = lambda v: sp.Rational(str(v))
    net = d.network
    env: dict[sp.Symbol, sp.Expr] = {s: q(v) for s, v in zip(net.x, x)}
    env.update({s: q(v) for s, v in zip(net.y, y)})
    for layer in net.dense_layers:
        env.update({s: q(v) for s, v in zip(layer.W, np.asarray(params[f"W{layer.index}"], object).ravel())})
        env.update({s: q(v) for s, v in zip(layer.b, params[f"b{layer.index}"])})
    defs = definitions(d)        # formulas of a are evaluated from z: no cancellation in 1 − a
    at = lambda expr: settle(expr.xreplace(defs).xreplace(_rationals(env)))  # noqa: E731
    d.symbolic.substitute(env, settle=settle, delta_value=at)    # z, a, then δ: the program's order
    w = Worked(env, {}, at(d.loss), q(lr), float(sum(env[s] for s in net.y)),
               exact=True, frozen=tuple(frozen), definitions=defs)
    grads = tied_gradients(d, nt, w.value)
    updated = {p: settle(v) for p, v in _update(d, nt, env, grads, q(lr), frozen).items()}
    return Worked(env, updated, w.loss, w.learning_rate, w.target_sum, exact=True, frozen=tuple(frozen),
                  definitions=defs)
