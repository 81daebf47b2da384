"""Small rewrites of a true formula: the slips of writing a known formula down.

Each rewrite changes one thing in the truth and says what (issue #13): the sign of
one term (−y/a − (1 − y)/(1 − a) for −y/a + (1 − y)/(1 − a)), a power dropped
(1 − a for 1 − a²), the argument's sign (σ(−x) for σ(x), the ReLU gate 1(z < 0)
for 1(z > 0)), a factor of a product left out, the chain rule's inner derivative
left out (1/σ(x) for d/dx log σ(x) = σ'(x)/σ(x)).  The checker evaluates each rewritten truth at the
claim's test points and names the first that equals the claim; a rewrite that
leaves the truth unchanged is never a diagnosis (the caller tests that too).

A matrix is rewritten entry by entry, the same rewrite at the same place of each
entry (its entries share one structure: 1 − tanh(z_j)² for every j); entries of
different structures are not rewritten.
"""
from __future__ import annotations

from typing import Callable, Iterator, NamedTuple

import sympy as sp

from ..core.functions import sigmoid, softplus

MAX_REWRITES = 24                    # per rewrite kind and formula
MAX_NODES = 400                      # larger formulas are not rewritten (cost)
NEGATABLE = (sigmoid, softplus, sp.tanh, sp.exp, sp.Heaviside)
INNER = (sigmoid, softplus, sp.tanh, sp.exp, sp.log)


class Rewrite(NamedTuple):
    kind: str            # term_sign | power | argument | factor | inner
    what: sp.Expr        # the part rewritten (in the first entry of a matrix)
    into: sp.Expr        # what it became
    form: object         # the rewritten formula (a matrix for a matrix)


def _small(e) -> bool:
    return sum(1 for _ in zip(sp.preorder_traversal(e), range(MAX_NODES + 1))) <= MAX_NODES


def _sites(e, test: Callable) -> list:
    """The distinct subexpressions of ``e`` passing ``test``, in a fixed order."""
    return list(dict.fromkeys(s for s in sp.preorder_traversal(e) if test(s)))[:MAX_REWRITES]


def _term_signs(e) -> Iterator[tuple]:
    """One term of one sum with its sign flipped (each sum of ``e``, each term)."""
    for add in _sites(e, lambda s: s.is_Add):
        for t in add.args:
            yield "term_sign", t, -t, {add: sp.Add(*[-u if u is t else u for u in add.args])}


def _powers(e) -> Iterator[tuple]:
    """A power u^n (integer n ≥ 2) written u."""
    for p in _sites(e, lambda s: s.is_Pow and s.exp.is_Integer and s.exp >= 2):
        yield "power", p, p.base, {p: p.base}


def _arguments(e) -> Iterator[tuple]:
    """A function's argument with its sign flipped: f(−u) for f(u); a Piecewise (ReLU')
    in one variable: its conditions on −u (the gate inverted)."""
    for c in _sites(e, lambda s: isinstance(s, NEGATABLE)):
        flipped = c.func(-c.args[0], *c.args[1:])      # Heaviside(x, ½): its value at 0 kept
        yield "argument", c, flipped, {c: flipped}
    for pw in _sites(e, lambda s: isinstance(s, sp.Piecewise) and len(s.free_symbols) == 1):
        u = next(iter(pw.free_symbols))
        yield "argument", pw, pw.xreplace({u: -u}), {pw: pw.xreplace({u: -u})}


def _factors(e) -> Iterator[tuple]:
    """One factor of the formula's product left out (a chain rule missing its outer or
    inner derivative: e^{z_i} for ∂/∂z_i log Σ_j e^{z_j} = e^{z_i} / Σ_j e^{z_j}); a
    number is not a factor here (signs and factors 2 are their own diagnoses)."""
    if not e.is_Mul:
        return
    for f in list(dict.fromkeys(a for a in e.args if not a.is_Number))[:MAX_REWRITES]:
        yield "factor", f, sp.S.One, {f: sp.S.One}


def _inner(e) -> Iterator[tuple]:
    """d/du F(g(u)) = F'(g(u)) g'(u) written without g'(u): the truth divided by the
    derivative of one of its calls g(u), in a formula of one variable u (free-standing
    calculus), where g'(u) is not a constant (a constant factor is ``inner_mutations``')."""
    syms = e.free_symbols
    if len(syms) != 1:
        return
    u = next(iter(syms))
    for c in _sites(e, lambda s: isinstance(s, INNER)):
        inner = sp.diff(c, u)
        if inner.free_symbols and inner != e:
            yield "inner", c, inner, None


def rewrites(true, kinds=("term_sign", "power", "argument", "inner", "factor")) -> list[Rewrite]:
    """Every rewrite of ``true`` (a formula or a matrix of formulas of one structure)."""
    entries = list(true) if isinstance(true, sp.MatrixBase) else [true]
    if not entries or not all(isinstance(x, sp.Expr) and _small(x) for x in entries):
        return []
    makers = {"term_sign": _term_signs, "power": _powers, "argument": _arguments,
              "factor": _factors, "inner": _inner}
    out = []
    for kind in kinds:
        per_entry = [list(makers[kind](x)) for x in entries]
        if len({len(p) for p in per_entry}) != 1:
            continue                  # entries of different structures
        for n, first in enumerate(per_entry[0]):
            forms = [_apply(x, p[n]) for x, p in zip(entries, per_entry)]
            form = sp.ImmutableMatrix(true.rows, true.cols, forms) \
                if isinstance(true, sp.MatrixBase) else forms[0]
            out.append(Rewrite(kind, first[1], first[2], form))
    return out


def _apply(e, site: tuple):
    kind, what, into, swap = site
    if kind == "inner":
        return e / into
    if kind == "factor":
        return sp.Mul(*[a for a in e.args if a != what])
    return e.xreplace(swap)
