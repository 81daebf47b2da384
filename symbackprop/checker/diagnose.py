"""Diagnoses: name the mistake of a wrong claim, not just "wrong".

An incomplete chain rule is recognised first, from the structure of the
written product (which paths of the network's dependency graph it
follows); then the classic mistakes of ``mistakes`` are tried as mutations
of the true formula, evaluated at the claim's test points; for numbers,
digits first (right to fewer places than shown), then the same mutations.
A derivative written as an operator on a body (``∂/∂w (½(y − out)²)``) is
diagnosed as the ``∂q/∂w`` of the quantity q the body equals (the loss here).
``Diagnoser`` is mixed into ``check.Checker`` (it reads ``d``, ``truth``,
``agrees``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from .mistakes import Forms, Mistake, NotApplicable, derivative_mutations, free_mutations, mistakes
from .literals import digits_diagnosis
from .points import values
from .truth import Unsupported, loss_symbol, partial_class
from .updates import ASCENT, NO_RATE, NO_THETA, is_update, update_mutations

UPDATE_SLIPS = (ASCENT, NO_RATE, NO_THETA)


def first_mismatch(ta, tb, points):
    """(point, u, v) where the sides differ or one is undefined; and the number of agreeing points."""
    from .points import close, values as vals
    n = 0
    for p in points:
        u, v = vals(ta, p), vals(tb, p)
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

DIAGNOSIS_POINTS = 6


class Diagnoser:
    """The diagnosis methods of the checker."""

    def number_diagnosis(self, written, ts, claimed, C, point, true) -> str | None:
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
        for label, form in self.mutations(written, ts):
            if update and not label.startswith(UPDATE_SLIPS):
                continue
            v = values(form, point)
            if v is not None and not isinstance(v, sp.MatrixBase) and self.agrees(v, claimed, C):
                return label
        if update:
            return None         # the caller names the gradient the step implies
        return digits_diagnosis(true, claimed, C.decimals) if C.decimals is not None else None

    def diagnose(self, A, B, ta, tb, points) -> str | None:
        written = self.operator_target(A.expr) or A.expr
        chain = self.chain_diagnosis(written, B.expr)
        if chain is not None and chain.startswith("incomplete chain"):
            return chain
        pts = points[:DIAGNOSIS_POINTS]
        tied = self.tied_diagnosis(written, tb, pts)
        if tied:
            return tied
        for label, form in self.mutations(written, ta):
            if matches(form, tb, pts) and not matches(form, ta, pts):
                return label
        if isinstance(ta, sp.MatrixBase) and ta.shape == tb.shape and ta.rows == ta.cols \
                and matches(ta.T, tb, pts):
            return "transpose missing or indices swapped: the right side is the transpose"
        return chain

    def tied_diagnosis(self, written, tb, pts) -> str | None:
        """∂E/∂(shared parameter) is the sum over its places; one place alone is a mistake."""
        Partial = partial_class()
        if self.d is None or not isinstance(written, Partial) or isinstance(tb, sp.MatrixBase):
            return None
        places = self.truth.tied(written.args[1])
        if len(places) < 2:
            return None
        for s in places:
            if matches(self.truth._partial(written.args[0], s), tb, pts):
                return (f"a shared (tied) parameter: its gradient is the sum over its "
                        f"{len(places)} places, the claim counts only one")
        return None

    def mutations(self, written, true):
        """(label, mutated true formula) for every candidate mistake."""
        Partial = partial_class()
        if self.d is not None and is_update(written):
            yield from update_mutations(self, written)
            return
        if self.d is not None:
            written = self.operator_target(written) or written
            yield from self.path_mutations(written)
            for m in mistakes(self.d):
                form = self.mutated(written, m)
                if form is not None:
                    yield m.label, form
        elif isinstance(written, (Partial, sp.Derivative)):
            of, wrt = written.args[0], written.args[1]
            wrt = wrt[0] if isinstance(wrt, sp.Tuple) else wrt
            yield from free_mutations(self.truth.resolve(of), wrt)
        elif not isinstance(true, sp.MatrixBase):
            yield from derivative_mutations(true)
        if not isinstance(true, sp.MatrixBase):
            if true.has(sp.log):
                yield ("log base 10 used where the natural log belongs",
                       true.replace(sp.log, lambda u: sp.log(u) / sp.log(10)))
            yield from (("sign flipped", -true), ("factor of 2: off by a factor 2", 2 * true),
                        ("factor of 2: off by a factor ½", true / 2))

    def path_mutations(self, written):
        """∂of/∂wrt along one path of several: the incomplete chain written out as a
        formula or a number (the post's ∂E/∂w1 = (out − y) out(1 − out) w16 w7 x1)."""
        Partial = partial_class()
        if not isinstance(written, Partial) or len(self.truth.tied(written.args[1])) != 1:
            return
        of, wrt = written.args
        if wrt not in self.truth.nodes:
            return
        try:
            paths = self.truth.paths(of, wrt)
        except Unsupported:
            return
        if not 2 <= len(paths) <= MAX_PATH_MUTATIONS:
            return
        n = self.truth.name
        for path in paths:
            term = sp.Mul(*[self.truth._partial(a, b) for a, b in zip(path, path[1:])])
            others = {x for p in paths if p != path for x in p} - set(path)
            names = ", ".join(sorted((n(x) for x in others), key=_natural))
            through = ", ".join(n(x) for x in path[1:-1])
            yield (f"incomplete chain: the formula follows 1 of the {len(paths)} paths from "
                   f"{n(of)} to {n(wrt)} (through {through}); it leaves out the paths through "
                   f"{names}", term)

    def mutated(self, written, m: Mistake):
        """The mutated truth of a Partial, a named quantity, or a matrix of them."""
        if isinstance(written, sp.MatrixBase):
            entries = [self.mutated(e, m) for e in written]
            return None if any(e is None for e in entries) else \
                sp.ImmutableMatrix(written.rows, written.cols, entries)
        if isinstance(written, sp.Derivative):
            written = self.operator_target(written)
            if written is None:
                return None
        forms = Forms(self.d, m)
        try:
            if isinstance(written, partial_class()):
                of, wrt = written.args
                parts = [forms.target(of, s) for s in self.truth.tied(wrt)]
                return None if any(p is None for p in parts) else sp.Add(*parts)
            if isinstance(written, sp.Symbol):
                return forms.target(written, None)
        except NotApplicable:
            pass
        return None

    def operator_target(self, written):
        """``∂/∂w (½(y − out)²)`` (an operator on a body) as the Partial it stands for,
        ``∂E/∂w``: the network quantity the body equals at the test points (the loss,
        or a z or a of the body, or the a of a z in it), or None.  The body must be
        a function of the forward pass alone (no δ, no η), so that equal bodies have
        equal derivatives."""
        if self.d is None or not isinstance(written, sp.Derivative) \
                or written.variable_count != ((written.variables[0], 1),):
            return None
        body, wrt, nodes = written.expr, written.variables[0], self.truth.nodes
        syms = body.free_symbols - {loss_symbol()}
        if wrt not in nodes or body.has(sp.Derivative, partial_class()) or \
                any(s not in nodes or nodes[s].kind == "delta" for s in syms):
            return None
        candidates = [loss_symbol()]
        for s in sorted(syms, key=str):
            node = nodes[s]
            if node.kind in ("z", "a"):
                candidates.append(s)
            if node.kind == "z":
                candidates.append(self.d.layers[node.layer - 1].a[node.j])
        resolved = self.truth.resolve(body)
        pts = self.points_for(resolved).points[:DIAGNOSIS_POINTS]
        Partial = partial_class()
        return next((Partial(q, wrt) for q in dict.fromkeys(candidates)
                     if matches(self.truth.resolve(q), resolved, pts)), None)

    def chain_diagnosis(self, lhs, rhs) -> str | None:
        """A chain rule written factor by factor: does it cover every path?"""
        Partial = partial_class()
        if self.d is None or not isinstance(lhs, Partial) or isinstance(rhs, sp.MatrixBase):
            return None
        of, wrt = lhs.args
        chains = []
        for term in sp.Add.make_args(rhs):
            parts = [f for f in sp.Mul.make_args(term) if isinstance(f, Partial)]
            if not parts:
                return None
            seq = telescope(of, wrt, parts)
            if isinstance(seq, Broken):
                where = ("some factors are off the way down" if seq.at is None else
                         f"no factor ∂{self.truth.name(seq.at)}/∂… follows ∂…/∂{self.truth.name(seq.at)}")
                return (f"the chain-rule factors do not connect from {self.truth.name(of)} down "
                        f"to {self.truth.name(wrt)}: {where}")
            chains.append(seq)
        try:
            paths = self.truth.paths(of, wrt)
        except Unsupported:             # too many to list: count them (one product only)
            if len(chains) != 1:
                return None
            return self.counted_chain(of, wrt, chains[0])
        covered = [p for p in paths if any(subsequence(c, p) for c in chains)]
        if len(covered) == len(paths):
            return None
        left_out = {n for p in paths if p not in covered for n in p} - {n for p in covered for n in p}
        return self.incomplete(of, wrt, len(covered), len(paths), left_out)

    def incomplete(self, of, wrt, covered: int, total: int, left_out) -> str:
        n = self.truth.name
        names = sorted((n(x) for x in left_out), key=_natural)
        shown = ", ".join(names[:MAX_NAMED]) + (f", … ({len(names) - MAX_NAMED} more)"
                                                 if len(names) > MAX_NAMED else "")
        return (f"incomplete chain: the product follows {covered} of the {total} "
                f"paths from {n(of)} to {n(wrt)}; it leaves out the paths through {shown}")

    def counted_chain(self, of, wrt, chain) -> str | None:
        """The incomplete-chain diagnosis by counting paths (big networks): the product
        ∂c0/∂c1 ⋯ follows Π paths(c_i ← c_{i+1}) of the paths(of ← wrt)."""
        graph = PathCounter(self.truth)
        total = graph.count(wrt, of)
        covered = 1
        for top, bottom in zip(chain, chain[1:]):
            covered *= graph.count(bottom, top)
        if covered >= total:
            return None
        on_chain = set().union(*[graph.between(b, t) for t, b in zip(chain, chain[1:])])
        return self.incomplete(of, wrt, covered, total, graph.between(wrt, of) - on_chain)


MAX_NAMED = 12
MAX_PATH_MUTATIONS = 24


def _natural(name: str):
    """a^1_2 before a^1_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class PathCounter:
    """Paths in the network's dependency graph, counted (not listed)."""

    def __init__(self, truth):
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
