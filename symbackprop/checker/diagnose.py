"""Diagnoses: name the mistake of a wrong claim, not just "wrong".

An incomplete chain rule is recognised first, from the structure of the
written product (which paths of the network's dependency graph it
follows); then the classic mistakes of ``mistakes`` are tried as mutations
of the true formula, evaluated at the claim's test points; for numbers,
digits first (right to fewer places than shown), then the same mutations.
A derivative written as an operator on a body (``∂/∂w (½(y − out)²)``) is
diagnosed as the ``∂q/∂w`` of the quantity q the body equals (the loss here).
Every diagnosis is a function of the checker's ``Context``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..formula.ops import Partial
from .context import Context, agrees
from .literals import digits_diagnosis
from .mistakes import derivative_mutations, free_mutations, mistakes, mutated, operator_target
from .points import DIAGNOSIS_POINTS, matches, values
from .truth import Truth, Unsupported
from .updates import ASCENT, NO_RATE, NO_THETA, is_update, update_mutations

UPDATE_SLIPS = (ASCENT, NO_RATE, NO_THETA)
MAX_NAMED = 12
MAX_PATH_MUTATIONS = 24


def number_diagnosis(ctx: Context, written, ts, claimed, C, point, true) -> str | None:
    """Digits first, then the mistakes (log base 10, ½, sign …) evaluated at ``point``.
    A new value θ^{new} differs from θ by a small step, so its leading digits say
    little: a truncation first, then the update's own slips (ascent, no η, no θ);
    the gradient mutations are too fine for its rounding (None: the caller names
    the gradient the step implies)."""
    update = is_update(written)
    if C.decimals is not None:
        digits = digits_diagnosis(true, claimed, C.decimals)
        if "fewer digits" in digits and (not update or "truncated" in digits):
            return digits
    for label, form in mutations(ctx, written, ts):
        if update and not label.startswith(UPDATE_SLIPS):
            continue
        v = values(form, point)
        if v is not None and not isinstance(v, sp.MatrixBase) and agrees(ctx, v, claimed, C):
            return label
    if update:
        return None         # the caller names the gradient the step implies
    return digits_diagnosis(true, claimed, C.decimals) if C.decimals is not None else None


def diagnose(ctx: Context, A, B, ta, tb, points) -> str | None:
    """The mistake of the wrong link ``A = B`` (``ta``, ``tb``: the sides' truths), or None."""
    written = operator_target(ctx, A.expr) or A.expr
    chain = chain_diagnosis(ctx, written, B.expr)
    if chain is not None and chain.startswith("incomplete chain"):
        return chain
    pts = points[:DIAGNOSIS_POINTS]
    tied = tied_diagnosis(ctx, written, tb, pts)
    if tied:
        return tied
    for label, form in mutations(ctx, written, ta):
        if matches(form, tb, pts) and not matches(form, ta, pts):
            return label
    if isinstance(ta, sp.MatrixBase) and ta.shape == tb.shape and ta.rows == ta.cols \
            and matches(ta.T, tb, pts):
        return "transpose missing or indices swapped: the right side is the transpose"
    return chain


def tied_diagnosis(ctx: Context, written, tb, pts) -> str | None:
    """∂E/∂(shared parameter) is the sum over its places; one place alone is a mistake."""
    if ctx.d is None or not isinstance(written, Partial) or isinstance(tb, sp.MatrixBase):
        return None
    places = ctx.truth.tied(written.args[1])
    if len(places) < 2:
        return None
    for s in places:
        if matches(ctx.truth.place_partial(written.args[0], s), tb, pts):
            return (f"a shared (tied) parameter: its gradient is the sum over its "
                    f"{len(places)} places, the claim counts only one")
    return None


def mutations(ctx: Context, written, true):
    """(label, mutated true formula) for every candidate mistake."""
    if ctx.d is not None and is_update(written):
        yield from update_mutations(ctx, written)
        return
    if ctx.d is not None:
        written = operator_target(ctx, written) or written
        yield from path_mutations(ctx, written)
        for m in mistakes(ctx.d):
            form = mutated(ctx, written, m)
            if form is not None:
                yield m.label, form
    elif isinstance(written, (Partial, sp.Derivative)):
        of, wrt = written.args[0], written.args[1]
        wrt = wrt[0] if isinstance(wrt, sp.Tuple) else wrt
        yield from free_mutations(ctx.truth.resolve(of), wrt)
    elif not isinstance(true, sp.MatrixBase):
        yield from derivative_mutations(true)
    if not isinstance(true, sp.MatrixBase):
        if true.has(sp.log):
            yield ("log base 10 used where the natural log belongs",
                   true.replace(sp.log, lambda u: sp.log(u) / sp.log(10)))
        yield from (("sign flipped", -true), ("factor of 2: off by a factor 2", 2 * true),
                    ("factor of 2: off by a factor ½", true / 2))


def path_mutations(ctx: Context, written):
    """∂of/∂wrt along one path of several: the incomplete chain written out as a
    formula or a number (the post's ∂E/∂w1 = (out − y) out(1 − out) w16 w7 x1)."""
    truth = ctx.truth
    if not isinstance(written, Partial) or len(truth.tied(written.args[1])) != 1:
        return
    of, wrt = written.args
    if wrt not in truth.nodes:
        return
    try:
        paths = truth.paths(of, wrt)
    except Unsupported:
        return
    if not 2 <= len(paths) <= MAX_PATH_MUTATIONS:
        return
    n = truth.name
    for path in paths:
        term = sp.Mul(*[truth.place_partial(a, b) for a, b in zip(path, path[1:])])
        others = {x for p in paths if p != path for x in p} - set(path)
        names = ", ".join(sorted((n(x) for x in others), key=_natural))
        through = ", ".join(n(x) for x in path[1:-1])
        yield (f"incomplete chain: the formula follows 1 of the {len(paths)} paths from "
               f"{n(of)} to {n(wrt)} (through {through}); it leaves out the paths through "
               f"{names}", term)


def chain_diagnosis(ctx: Context, lhs, rhs) -> str | None:
    """A chain rule written factor by factor: does it cover every path?"""
    if ctx.d is None or not isinstance(lhs, Partial) or isinstance(rhs, sp.MatrixBase):
        return None
    name = ctx.truth.name
    of, wrt = lhs.args
    chains = []
    for term in sp.Add.make_args(rhs):
        parts = [f for f in sp.Mul.make_args(term) if isinstance(f, Partial)]
        if not parts:
            return None
        seq = telescope(of, wrt, parts)
        if isinstance(seq, Broken):
            where = ("some factors are off the way down" if seq.at is None else
                     f"no factor ∂{name(seq.at)}/∂… follows ∂…/∂{name(seq.at)}")
            return (f"the chain-rule factors do not connect from {name(of)} down "
                    f"to {name(wrt)}: {where}")
        chains.append(seq)
    try:
        paths = ctx.truth.paths(of, wrt)
    except Unsupported:             # too many to list: count them (one product only)
        if len(chains) != 1:
            return None
        return counted_chain(ctx, of, wrt, chains[0])
    covered = [p for p in paths if any(subsequence(c, p) for c in chains)]
    if len(covered) == len(paths):
        return None
    left_out = {n for p in paths if p not in covered for n in p} - {n for p in covered for n in p}
    return incomplete(ctx, of, wrt, len(covered), len(paths), left_out)


def incomplete(ctx: Context, of, wrt, covered: int, total: int, left_out) -> str:
    n = ctx.truth.name
    names = sorted((n(x) for x in left_out), key=_natural)
    shown = ", ".join(names[:MAX_NAMED]) + (f", … ({len(names) - MAX_NAMED} more)"
                                             if len(names) > MAX_NAMED else "")
    return (f"incomplete chain: the product follows {covered} of the {total} "
            f"paths from {n(of)} to {n(wrt)}; it leaves out the paths through {shown}")


def counted_chain(ctx: Context, of, wrt, chain) -> str | None:
    """The incomplete-chain diagnosis by counting paths (big networks): the product
    ∂c0/∂c1 ⋯ follows Π paths(c_i ← c_{i+1}) of the paths(of ← wrt)."""
    graph = PathCounter(ctx.truth)
    total = graph.count(wrt, of)
    covered = 1
    for top, bottom in zip(chain, chain[1:]):
        covered *= graph.count(bottom, top)
    if covered >= total:
        return None
    on_chain = set().union(*[graph.between(b, t) for t, b in zip(chain, chain[1:])])
    return incomplete(ctx, of, wrt, covered, total, graph.between(wrt, of) - on_chain)


def _natural(name: str):
    """a^1_2 before a^1_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class PathCounter:
    """Paths in the network's dependency graph, counted (not listed)."""

    def __init__(self, truth: Truth):
        self.truth = truth
        self.memo: dict = {}

    def count(self, bottom, top) -> int:
        """How many paths lead from ``bottom`` up to ``top`` (memoised, iterative)."""
        stack = [(bottom, False)]
        while stack:
            node, expanded = stack.pop()
            if (node, top) in self.memo:
                continue
            if node == top:
                self.memo[(node, top)] = 1
                continue
            above = self.truth.successors(node)
            if expanded:             # a DAG: every successor is counted by now
                self.memo[(node, top)] = sum(self.memo[(s, top)] for s in above)
            else:
                stack.append((node, True))
                stack.extend((s, False) for s in above if (s, top) not in self.memo)
        return self.memo[(bottom, top)]

    def between(self, bottom, top) -> set:
        """The nodes on some path from ``bottom`` up to ``top`` (both included)."""
        self.count(bottom, top)
        reach = [n for (n, t), c in self.memo.items() if t == top and c > 0]
        above = set(reach)
        out, stack = set(), [bottom] if bottom in above else []
        while stack:
            node = stack.pop()
            if node in out:
                continue
            out.add(node)
            stack.extend(s for s in self.truth.successors(node) if s in above)
        return out


def telescope(of, wrt, parts):
    """The nodes of a chain ∂of/∂u1 · ∂u1/∂u2 ⋯ ∂un/∂wrt, or the node where it breaks."""
    seq, rest, cur = [of], list(parts), of
    while cur != wrt:
        nxt = next((p for p in rest if p.args[0] == cur), None)
        if nxt is None:
            return Broken(cur)
        rest.remove(nxt)
        cur = nxt.args[1]
        seq.append(cur)
    return Broken(None) if rest else tuple(seq)


@dataclass(frozen=True)
class Broken:
    at: object          # the node no factor continues from (None: factors left over)


def subsequence(chain, path) -> bool:
    it = iter(path)
    return all(node in it for node in chain)
