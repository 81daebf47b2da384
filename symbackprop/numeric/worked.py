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

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify   # strict: numbers and SymPy objects only, never text

from ..core.defaults import LEARNING_RATE
from ..core.derive import Derivation
from ..core.notation import Notation
from .vectorised import Evaluation

PRECISION = 50


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

    def value(self, expr):
        """An expression of network symbols, evaluated at the example's numbers."""
        v = _sympify(expr).xreplace(self.numbers)
        return settle(v) if self.exact else float(v)


def settle(v: sp.Expr) -> sp.Expr:
    """Keep a rational number exact; evaluate anything else to PRECISION digits."""
    v = _sympify(v)
    if v.is_Rational:
        return v
    return sp.Float(v.rewrite(sp.exp).evalf(PRECISION), PRECISION)


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
        numbers.update(zip(layer.W, params[f"W{l}"].ravel()))
        numbers.update(zip(layer.b, params[f"b{l}"]))
        numbers.update(zip(layer.z, evaluation.z[l - 1][:, 0]))
        numbers.update(zip(layer.a, evaluation.a[l][:, 0]))
        numbers.update(zip(layer.delta, evaluation.delta[l - 1][:, 0]))
    numbers = {k: float(v) for k, v in numbers.items()}
    nt = nt or Notation("layered", {}, {})
    w = Worked(numbers, {}, float(evaluation.losses[0]), float(lr),
               float(np.asarray(Y, float)[:, 0].sum()), frozen=tuple(frozen))
    grads = tied_gradients(d, nt, w.value)
    return Worked(numbers, _update(d, nt, numbers, grads, float(lr), frozen), w.loss, w.learning_rate,
                  w.target_sum, frozen=tuple(frozen))


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
    for layer in net.layers:
        env.update({s: q(v) for s, v in zip(layer.W, np.asarray(params[f"W{layer.index}"], object).ravel())})
        env.update({s: q(v) for s, v in zip(layer.b, params[f"b{layer.index}"])})
    for layer in net.layers:
        zs = [settle(d.forward(layer, j)[0].xreplace(env)) for j in range(layer.n_out)]
        env.update(zip(layer.z, zs))
        env.update(zip(layer.a, [settle(a) for a in layer.outputs_of(zs)]))
    for layer in reversed(net.layers):
        env.update({layer.delta[j]: settle(d.delta(layer, j).xreplace(env)) for j in range(layer.n_out)})
    w = Worked(env, {}, settle(d.loss.xreplace(env)), q(lr), float(sum(env[s] for s in net.y)),
               exact=True, frozen=tuple(frozen))
    grads = tied_gradients(d, nt, w.value)
    updated = {p: settle(v) for p, v in _update(d, nt, env, grads, q(lr), frozen).items()}
    return Worked(env, updated, w.loss, w.learning_rate, w.target_sum, exact=True, frozen=tuple(frozen))
