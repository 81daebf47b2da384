"""How a verdict shows the truth: the expected formula in the spec's notation
(text and LaTeX, written out when short) and the counterexample point, as
functions of the checker's ``Context``.
"""
from __future__ import annotations

import sympy as sp

from ..core.formatting import fmt
from ..formula.names import LOSS, LR
from .context import Context
from .mistakes import Mistake, mutated

MAX_SHOWN_OPS = 80
MAX_PRINTED = 20_000      # nodes: a longer expected formula is described, not printed
MATRIX_LINE = 72          # a longer plain-text matrix is written a row a line


def expected(ctx: Context, written, true) -> tuple[str, str]:
    """The true formula in the textbook form (written out when short), text and LaTeX;
    a matrix entry by entry."""
    if isinstance(written, sp.MatrixBase) and isinstance(true, sp.MatrixBase) \
            and written.shape == true.shape:
        form = sp.ImmutableMatrix(written.rows, written.cols,
                                  [shown(ctx, w, t) for w, t in zip(written, true)])
    else:
        form = shown(ctx, written, true)
    size = tree_size(form)
    if size > MAX_PRINTED:
        note = (f"(a formula of {size} terms written out, too long to show; the "
                "counterexample gives its value)")
        return note, r"\text{" + note + "}"
    return text_of(ctx, form), tex_of(ctx, form)


def shown(ctx: Context, written, true):
    """The form of one quantity shown as expected: a named z, a or δ by its one-step
    definition (z = Σ w a + b, a = f(z), δ from the next layer's δ), anything else
    by its textbook formula when short, else the truth."""
    if ctx.d is None or isinstance(written, sp.MatrixBase):
        return true
    forms = [definition(ctx, written)] if isinstance(written, sp.Symbol) else []
    forms.append(mutated(ctx, written, Mistake("the truth")))
    return next((f for f in forms if f is not None and _ops(f) <= MAX_SHOWN_OPS), true)


def definition(ctx: Context, sym):
    """The one-step definition of a named z, a or δ (None for any other symbol)."""
    node = ctx.truth.nodes.get(sym)
    if node is None or node.kind not in ("z", "a", "delta"):
        return None
    layer = ctx.d.layers[node.layer - 1]
    if node.kind == "delta":
        return ctx.d.delta(layer, node.j)
    z, a = ctx.d.forward(layer, node.j)
    return z if node.kind == "z" else a


def text_of(ctx: Context, expr) -> str:
    """Plain text in the spec's notation; a matrix row by row, ``[a, b; c, d]``
    (one line when short, else a row a line), numbers to 6 significant digits."""
    if isinstance(expr, sp.MatrixBase):
        rows = [", ".join(text_of(ctx, e) for e in expr.row(i)) for i in range(expr.rows)]
        flat = "[" + "; ".join(rows) + "]"
        return flat if len(flat) <= MATRIX_LINE else "[" + ";\n ".join(rows) + "]"
    if isinstance(expr, sp.Float):
        return fmt(expr, 6, tex=False)
    # ReLU' reads as the Iverson bracket [z > 0] rather than a Piecewise
    expr = expr.replace(_is_step,
                        lambda e: sp.Symbol("[" + text_of(ctx, e.args[0].cond.lhs) + " > 0]"))
    if ctx.nt is not None:
        names = {s: sp.Symbol(ctx.nt.text.get(s, str(s))) for s in symbols_of(expr)}
        names[LOSS] = sp.Symbol("E")
        names[LR] = sp.Symbol("η")
        expr = expr.xreplace(names)
    return sp.sstr(expr)


def tex_of(ctx: Context, expr) -> str:
    """LaTeX in the spec's notation; a matrix as a ``bmatrix``."""
    expr = expr.xreplace({LR: sp.Symbol("eta")})        # the learning rate: \eta
    opts = dict(mat_str="bmatrix", mat_delim="") if isinstance(expr, sp.MatrixBase) else {}
    if ctx.nt is not None:
        return ctx.nt.tex(expr, **opts)
    return sp.latex(expr, **opts)


def counterexample(ctx: Context, point, u, v, *exprs) -> dict:
    """The point where the sides differ (inputs and targets first, then the claim's
    symbols; at most 24) with both sides' values."""
    syms = sorted(set().union(*[symbols_of(e) for e in exprs]) - {LOSS}, key=str)
    if ctx.d is not None:
        syms = list(dict.fromkeys(list(ctx.d.network.x) + list(ctx.d.network.y) + syms))
    named = ctx.truth.name if ctx.d is not None else str
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
