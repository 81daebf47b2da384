"""How a verdict shows the truth: the expected formula in the spec's notation
(text and LaTeX, written out when short) and the counterexample point.
``Presenter`` is mixed into ``check.Checker`` (it reads ``d``, ``nt``, ``truth``).
"""
from __future__ import annotations

import sympy as sp

from ..formula.names import LR
from .mistakes import Mistake
from .truth import loss_symbol

MAX_SHOWN_OPS = 80
MAX_PRINTED = 20_000      # nodes: a longer expected formula is described, not printed
MATRIX_LINE = 72          # a longer plain-text matrix is written a row a line


class Presenter:
    """The presentation methods of the checker."""

    def expected(self, written, true) -> tuple[str, str]:
        """The true formula in the textbook form (written out when short), text and LaTeX;
        a matrix entry by entry."""
        if isinstance(written, sp.MatrixBase) and isinstance(true, sp.MatrixBase) \
                and written.shape == true.shape:
            form = sp.ImmutableMatrix(written.rows, written.cols,
                                      [self.shown(w, t) for w, t in zip(written, true)])
        else:
            form = self.shown(written, true)
        size = tree_size(form)
        if size > MAX_PRINTED:
            note = (f"(a formula of {size} terms written out, too long to show; the "
                    "counterexample gives its value)")
            return note, r"\text{" + note + "}"
        return self.text(form), self.tex(form)

    def shown(self, written, true):
        """The form of one quantity shown as expected: a named z, a or δ by its one-step
        definition (z = Σ w a + b, a = f(z), δ from the next layer's δ), anything else
        by its textbook formula when short, else the truth."""
        if self.d is None or isinstance(written, sp.MatrixBase):
            return true
        forms = [self.definition(written)] if isinstance(written, sp.Symbol) else []
        forms.append(self.mutated(written, Mistake("the truth")))
        return next((f for f in forms if f is not None and _ops(f) <= MAX_SHOWN_OPS), true)

    def definition(self, sym):
        node = self.truth.nodes.get(sym)
        if node is None or node.kind not in ("z", "a", "delta"):
            return None
        layer = self.d.layers[node.layer - 1]
        if node.kind == "delta":
            return self.d.delta(layer, node.j)
        z, a = self.d.forward(layer, node.j)
        return z if node.kind == "z" else a

    def text(self, expr) -> str:
        """Plain text in the spec's notation; a matrix row by row, ``[a, b; c, d]``
        (one line when short, else a row a line), numbers to 6 significant digits."""
        if isinstance(expr, sp.MatrixBase):
            rows = [", ".join(self.text(e) for e in expr.row(i)) for i in range(expr.rows)]
            flat = "[" + "; ".join(rows) + "]"
            return flat if len(flat) <= MATRIX_LINE else "[" + ";\n ".join(rows) + "]"
        if isinstance(expr, sp.Float):
            return f"{float(expr):.6g}"
        # ReLU' reads as the Iverson bracket [z > 0] rather than a Piecewise
        expr = expr.replace(_is_step, lambda e: sp.Symbol("[" + self.text(e.args[0].cond.lhs) + " > 0]"))
        if self.nt is not None:
            names = {s: sp.Symbol(self.nt.text.get(s, str(s))) for s in symbols_of(expr)}
            names[loss_symbol()] = sp.Symbol("E")
            names[LR] = sp.Symbol("η")
            expr = expr.xreplace(names)
        return sp.sstr(expr)

    def tex(self, expr) -> str:
        """LaTeX in the spec's notation; a matrix as a ``bmatrix``."""
        expr = expr.xreplace({LR: sp.Symbol("eta")})        # the learning rate: \eta
        opts = dict(mat_str="bmatrix", mat_delim="") if isinstance(expr, sp.MatrixBase) else {}
        if self.nt is not None:
            return self.nt.tex(expr, **opts)
        return sp.latex(expr, **opts)

    def counterexample(self, point, u, v, *exprs) -> dict:
        syms = sorted(set().union(*[symbols_of(e) for e in exprs]) - {loss_symbol()}, key=str)
        if self.d is not None:
            syms = list(dict.fromkeys(list(self.d.network.x) + list(self.d.network.y) + syms))
        named = self.truth.name if self.d is not None else str
        name = lambda s: "η" if s == LR else named(s)          # noqa: E731
        at = {name(s): float(point[s]) for s in syms[:24] if s in point}
        return {"at": at, "lhs": plain(u), "rhs": plain(v)}



def _is_step(e) -> bool:
    """ReLU' as SymPy writes it: Piecewise((0, z <= 0), (1, True))."""
    return (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0].expr == 0
            and e.args[1].expr == 1 and isinstance(e.args[0].cond, sp.LessThan)
            and e.args[0].cond.rhs == 0)


def _ops(e) -> int:
    """Operations in ``e`` (a big tree is not counted exactly: more than the cap)."""
    if tree_size(e) > 8 * MAX_SHOWN_OPS:
        return tree_size(e)
    return sum(sp.count_ops(x) for x in e) if isinstance(e, sp.MatrixBase) else sp.count_ops(e)


def tree_size(e) -> int:
    """Nodes of ``e`` written out as a tree, counted over its shared subexpressions
    (so a chain-rule result with 12⁵ paths is sized without being expanded)."""
    if isinstance(e, sp.MatrixBase):
        return sum(tree_size(x) for x in e)
    sizes: dict = {}
    stack = [(e, False)]
    while stack:
        node, done = stack.pop()
        if node in sizes:
            continue
        if done or not node.args:
            sizes[node] = 1 + sum(sizes[a] for a in node.args)
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in sizes)
    return sizes[e]


def plain(v):
    """A number or matrix as JSON-ready floats (lists of rows)."""
    if v is None:
        return None
    if isinstance(v, sp.MatrixBase):
        return [[float(x) for x in v.row(i)] for i in range(v.rows)]
    return float(v)


def symbols_of(e):
    """The free symbols of an expression or of every entry of a matrix."""
    return set().union(*[x.free_symbols for x in e]) if isinstance(e, sp.MatrixBase) \
        else e.free_symbols
