"""Formulas over a batch: ``dW^{[2]} = \\frac{1}{m} dZ^{[2]} A^{[1]T}``, ``db = \\frac{1}{m}
np.sum(dZ, axis=1, keepdims=True)``, ``dW1 = (1 / m) * np.dot(dZ1, X.T)``.

The batch matrices (A, Z, X, Y, dZ: one column an example) are read, name by name, as
one example's vectors; a formula that reduces over the examples (a product with a
transposed batch matrix, ``np.sum(…, axis=1)``) is then the sum over the batch of its
reading for each example.  So the formula is checked at a batch: the spec's examples
when it has several, else generated batches of m = 2 and m = 3 examples (the spec's
parameters, inputs and targets drawn around its own), against the batch's loss or
gradient as the spec reduces it (the mean over the examples, or the sum).  A missing
1/m is caught there and named; a bias gradient whose formula does not reduce over the
examples (``db = \\frac{1}{m} dZ``) is a 1×m row where a number belongs.
"""
from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import sympy as sp

from ..formula.examples import example_sum
from ..formula.names import LOSS, with_definitions
from ..formula.ops import Partial
from .context import Context
from .mistakes import mistakes, mutated
from .points import close, forward_point, spec_inputs, values
from .verdict import Verdict

M = sp.Symbol("m_batch", positive=True)        # the batch size m, as a claim writes it

# what marks a formula as one about a whole batch: its matrices (A, Z, X, Y, dZ with the
# examples as columns; CS231n's H_l with them as rows), 1/m or 1/n (a sum over the examples, Σ_i, is the reader's)
MARKS = re.compile(r"(?<![A-Za-z\\])d?[AZXYH](?![a-z])|\\frac\{1\}\{2?[mnN]\}|"
                   r"/\s*\(?\s*[mnN]\b")
# what reduces over the examples: a transposed batch matrix (A^{[1]T}, X^T, A1.T,
# h^{(1)\top}), np.sum (not over axis 0)
REDUCES = re.compile(r"(?<![A-Za-z\\])[AZXYH][^=]{0,20}?(?:\^\s*\{?[^}]*(?:T|\\top)|\.T\b)|"
                     r"np\.sum\((?![^()]*axis\s*=\s*0)")
SIZES = (2, 3)                                   # generated batches for a one-example spec


def marked(text: str) -> bool:
    return MARKS.search(text) is not None or example_sum(text)


def with_m(ctx: Context) -> Context:
    """``ctx`` whose scope reads ``m`` (Nielsen's ``n``, CS231n's ``N``) as the batch size, unless the
    network has names m or n."""
    sizes = {(letter, "", ""): M for letter in ("m", "n", "N") if (letter, "", "") not in ctx.scope.keys}
    return replace(ctx, scope=with_definitions(ctx.scope, sizes)) if sizes else ctx


def reduced(ctx: Context, written) -> bool:
    """Is ``written`` the loss or ∂(loss)/∂(parameter) (or a matrix of them)?"""
    entries = list(written) if isinstance(written, sp.MatrixBase) else [written]
    return bool(entries) and all(_reduced(ctx, e) for e in entries)


def _reduced(ctx: Context, e) -> bool:
    if e == LOSS:
        return True
    if isinstance(e, Partial) and e.args[0] == LOSS:
        node = ctx.truth.nodes.get(e.args[1])
        return node is not None and node.kind in ("W", "b")
    return False


_BATCHES: dict = {}


def batches(ctx: Context) -> list[tuple]:
    """The batches a batch formula is checked at (each a tuple of example points)."""
    if ctx.examples:
        return [ctx.examples]
    key = id(ctx)
    if key not in _BATCHES:
        _BATCHES[key] = (ctx, [generated(ctx, m, seed=m) for m in SIZES])
    return _BATCHES[key][1]


def generated(ctx: Context, m: int, seed: int = 0) -> tuple:
    """``m`` examples sharing the spec's parameters: inputs and targets drawn around the
    spec's own (targets in the loss's domain), each a consistent forward pass."""
    model = ctx.model
    d, net = model.derivation, model.network
    base = spec_inputs(model) or dict(ctx.network_points.points[0])
    rng = np.random.default_rng(seed)
    params = {s: base[s] for s in net.parameters}
    out = []
    for _ in range(m):
        point = dict(params)
        for s in net.x:
            c = float(base[s])
            point[s] = sp.Float(c + rng.normal(0, 0.3 * max(abs(c), 0.3)), 30)
        for s, t in zip(net.y, _targets(net, rng, [float(base[s]) for s in net.y])):
            point[s] = sp.Float(t, 30)
        out.append(forward_point(d, point))
    return tuple(out)


def _targets(net, rng, given) -> list[float]:
    n, loss = len(net.y), net.loss.name
    if loss == "cross_entropy":
        return list(rng.dirichlet(np.ones(n))) if n > 1 else [float(rng.uniform(0.05, 0.95))]
    if loss == "binary_cross_entropy":
        return list(rng.uniform(0.05, 0.95, n))
    return list(np.array(given) + rng.normal(0, 0.5, n))


def check_batch(ctx: Context, claim, text: str, line: int) -> list[Verdict] | None:
    """The verdict of the batch formula ``claim`` (its first side the loss or a gradient),
    or None when it is not one (more than two sides, numbers, no batch marks)."""
    if len(claim.sides) != 2 or not reduced(ctx, claim.sides[0].expr):
        return None
    A, B = claim.sides
    base = dict(line=line, text=text, lhs=A.text, rhs=B.text,
                relation=text[A.end:B.start].strip() or "=")
    ta, tb = ctx.truth.resolve(A.expr), ctx.truth.resolve(B.expr)
    ta_shape = ta.shape if isinstance(ta, sp.MatrixBase) else ()
    tb_shape = tb.shape if isinstance(tb, sp.MatrixBase) else ()
    sums = REDUCES.search(text) is not None or example_sum(text)
    what = "the spec's examples" if ctx.examples else "generated batches of m = 2 and 3 examples"
    if not sums or ta_shape != tb_shape:
        diag = _shape_diagnosis(ctx, A.expr, text, sums, ta_shape == tb_shape)
        if diag is None and ta_shape == tb_shape:
            return [Verdict(verdict="unparseable", message=UNSURE, **base)]
        return [Verdict(verdict="incorrect", diagnosis=diag, method="shapes differ",
                        expected=_expected(ctx), **base)]
    for batch in batches(ctx):
        m = len(batch)
        true = _reduce(ctx, [values(ta, p) for p in batch], m)
        each = [values(tb.xreplace({M: m}) if _has_m(tb) else tb, p) for p in batch]
        if true is None or any(v is None for v in each):
            return None
        claimed = _reduce(ctx, each, m, how="sum")
        if carries_mean(ctx, B.text):      # CS231n: dscores already holds the 1/N
            claimed = claimed / m
        if not close(true, claimed):
            diag = _diagnosis(ctx, true, claimed, m) or _mistaken(ctx, A.expr, batch, claimed, m)
            return [Verdict(verdict="incorrect", diagnosis=diag,
                            expected=_expected(ctx),
                            counterexample={"at": f"a batch of m = {m} examples",
                                            "lhs": _plain(true), "rhs": _plain(claimed)},
                            method=f"numeric: at a batch of m = {m} examples", **base)]
    return [Verdict(verdict="correct", method=f"numeric: at {what}", **base)]


# a d-prefixed gradient name (dscores, dhidden, dH_1, dW), not \delta, d/dx or the
# notation's per-example error dz^l (CS231n's preset writes δ^l as dz^l: no 1/N)
D_NAME = re.compile(r"(?<![A-Za-z\\])d(?!elta|x\b|t\b|z(?![A-Za-z]))[A-Za-z]")


def per_example_with_mean(ctx: Context, text: str) -> str | None:
    """Why a CS231n line is not judged example by example: its d-names hold the batch's
    1/N, so a formula of one example that writes 1/N (dscores = (probs − Y)/N) or sums a
    subscript i that may be the example or the class (Σ_i dscores_i) has two readings."""
    if not carries_mean(ctx, text):
        return None
    if re.search(r"\\frac\{1\}\{N\}|/\s*\(?\s*N\b", text):
        return ("CS231n's gradient names (dscores, dH) hold the batch's 1/N: a formula that "
                "writes the 1/N again is read as the batch's matrix only in a batch formula "
                "(dW = H^T dscores); as one example's formula it is not judged")
    if re.search(r"\\sum\s*_\s*\{?\s*i\b", text):
        return ("a sum over i of a CS231n gradient name: i may be the example (a row) or the "
                "class; write np.sum(dscores, axis=0) or the entries' names")
    return None


def carries_mean(ctx: Context, text: str) -> bool:
    """In CS231n's notation the gradient names hold the batch's 1/N (dscores =
    (probs − Y)/N, so dW2 = hidden_layer.T · dscores is already the mean): a batch formula
    built from them is summed over the examples as written, without another 1/N."""
    preset = getattr(getattr(ctx.model, "notation", None), "preset", None)
    return preset == "cs231n" and ctx.reduction == "mean" and D_NAME.search(text) is not None


UNSURE = ("a formula over a batch whose reduction over the examples cannot be told (no "
          "product with a transposed batch matrix, np.sum or sum over i): write the sum over "
          "the examples, or the formula for one example")


def _shape_diagnosis(ctx: Context, written, text: str, sums: bool, same: bool) -> str | None:
    """Why a batch formula's shape is wrong: summed over the units (axis=0), not summed
    over the examples (a bias), or a batch matrix not transposed (a weight)."""
    entries = list(written) if isinstance(written, sp.MatrixBase) else [written]
    kinds = {getattr(ctx.truth.nodes.get(e.args[1]), "kind", None)
             for e in entries if isinstance(e, Partial)}
    if re.search(r"axis\s*=\s*0", text):
        return ("not summed over the batch: np.sum(…, axis=0) sums each example's units; "
                "the examples are the columns (axis=1)")
    if not sums and kinds == {"b"} and same:
        return ("not summed over the batch: the formula keeps one column an example (1×m), "
                "where the bias gradient sums them (np.sum(…, axis=1, keepdims=True))")
    if not sums and kinds == {"W"}:
        return ("transpose missing: a weight gradient pairs the examples only with the "
                "batch matrix transposed (X.T, A^{[l−1]T})")
    return None


def _has_m(e) -> bool:
    entries = list(e) if isinstance(e, sp.MatrixBase) else [e]
    return any(x.has(M) for x in entries)


def _reduce(ctx: Context, each, m: int, how: str | None = None):
    if any(v is None for v in each):
        return None
    total = each[0]
    for v in each[1:]:
        total = total + v
    return total / m if (how or ctx.reduction) == "mean" else total


def _diagnosis(ctx: Context, true, claimed, m: int) -> str | None:
    if close(true, claimed / m if ctx.reduction == "mean" else claimed * m):
        return (f"missing 1/m: the formula sums the batch's m = {m} examples, where the "
                "spec's batch loss (and its gradient) takes their mean" if ctx.reduction == "mean"
                else f"divided by m = {m}: the spec's batch sums its examples")
    return None


def _mistaken(ctx: Context, written, batch, claimed, m: int) -> str | None:
    """The sign flipped, or a catalogued mistake (f' left out, …) made example by example:
    the batch formula's value is the batch's reduction of that mistake's truth."""
    true = _reduce(ctx, [values(ctx.truth.resolve(written), p) for p in batch], m)
    if true is not None and close(-true, claimed):
        return "sign flipped: the formula is the negative of the batch's gradient"
    for mistake in mistakes(ctx.d)[:MAX_MISTAKES]:
        wrong = mutated(ctx, written, mistake)
        if wrong is None:
            continue
        each = [values(wrong, p) for p in batch]
        if any(v is None for v in each):
            continue
        if close(_reduce(ctx, each, m), claimed):
            return mistake.label
    return None


MAX_MISTAKES = 40        # the catalogue's first (most specific) mistakes tried on a batch


def _expected(ctx: Context) -> str:
    how = "the mean" if ctx.reduction == "mean" else "the sum"
    return f"{how} over the batch's examples of each example's gradient"


def _plain(v):
    if isinstance(v, sp.MatrixBase):
        return [[float(e) for e in v.row(i)] for i in range(v.rows)]
    return float(v)
