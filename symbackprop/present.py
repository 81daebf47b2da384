"""How a verdict shows the truth: the expected formula in the spec's notation
(text and LaTeX, written out when short) and the counterexample point.
``Presenter`` is mixed into ``check.Checker`` (it reads ``d``, ``nt``, ``truth``).
"""
from __future__ import annotations

import sympy as sp

from .formula_names import LR
from .mistakes import Mistake
from .truth import loss_symbol

MAX_SHOWN_OPS = 80


class Presenter:
    """The presentation methods of the checker."""

    def expected(self, written, true) -> tuple[str, str]:
        """The true formula in the textbook form (written out when short), text and LaTeX."""
        form = None
        if self.d is not None:
            form = self.mutated(written, Mistake("the truth"))
            if form is None and isinstance(written, sp.Symbol):
                form = self.definition(written)
            if form is not None and _ops(form) > MAX_SHOWN_OPS:
                form = None
        form = true if form is None else form
        return self.text(form), self.tex(form)

    def definition(self, sym):
        node = self.truth.nodes.get(sym)
        if node is None or node.kind not in ("z", "a"):
            return None
        z, a = self.d.forward(self.d.layers[node.layer - 1], node.j)
        return z if node.kind == "z" else a

    def text(self, expr) -> str:
        # ReLU' reads as the Iverson bracket [z > 0] rather than a Piecewise
        expr = expr.replace(_is_step, lambda e: sp.Symbol("[" + self.text(e.args[0].cond.lhs) + " > 0]"))
        if self.nt is not None:
            names = {s: sp.Symbol(self.nt.text.get(s, str(s))) for s in _symbols(expr)}
            names[loss_symbol()] = sp.Symbol("E")
            names[LR] = sp.Symbol("η")
            expr = expr.xreplace(names)
        return sp.sstr(expr)

    def tex(self, expr) -> str:
        expr = expr.xreplace({LR: sp.Symbol("eta")})        # the learning rate: \eta
        if self.nt is not None:
            return self.nt.tex(expr)
        return sp.latex(expr)

    def counterexample(self, point, u, v, *exprs) -> dict:
        syms = sorted(set().union(*[_symbols(e) for e in exprs]) - {loss_symbol()}, key=str)
        if self.d is not None:
            syms = list(dict.fromkeys(list(self.d.network.x) + list(self.d.network.y) + syms))
        named = self.truth.name if self.d is not None else str
        name = lambda s: "η" if s == LR else named(s)          # noqa: E731
        at = {name(s): float(point[s]) for s in syms[:24] if s in point}
        return {"at": at, "lhs": _plain(u), "rhs": _plain(v)}



def _is_step(e) -> bool:
    """ReLU' as SymPy writes it: Piecewise((0, z <= 0), (1, True))."""
    return (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0].expr == 0
            and e.args[1].expr == 1 and isinstance(e.args[0].cond, sp.LessThan)
            and e.args[0].cond.rhs == 0)


def _ops(e) -> int:
    return sum(sp.count_ops(x) for x in e) if isinstance(e, sp.MatrixBase) else sp.count_ops(e)


def _plain(v):
    if v is None:
        return None
    if isinstance(v, sp.MatrixBase):
        return [[float(x) for x in v.row(i)] for i in range(v.rows)]
    return float(v)


def _symbols(e):
    return set().union(*[x.free_symbols for x in e]) if isinstance(e, sp.MatrixBase) \
        else e.free_symbols
