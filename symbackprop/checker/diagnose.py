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
import weakref
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..core.functions import ACTIVATIONS, sigmoid, softplus
from ..core.spec import ALPHA_DEFAULTS
from ..core.symbols import Z as Z_
from ..formula.ops import Partial
from .context import Context, agrees
from .literals import digits_diagnosis, rounds_to
from .mistakes import (Forms, Mistake, NotApplicable, derivative_mutations, free_mutations,
                       mistakes, operator_target, truth_under)
from .points import DIAGNOSIS_POINTS, close, matches, value, values
from .present import text_of
from .rewrites import rewrites
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
    for label, v in _mutated_values(ctx, written, ts, point):
        if update and not label.startswith(UPDATE_SLIPS):
            continue
        if v is not None and not isinstance(v, sp.MatrixBase) and agrees(ctx, v, claimed, C):
            return label
    if update:
        return None         # the caller names the gradient the step implies
    return digits_diagnosis(true, claimed, C.decimals) if C.decimals is not None else None


def matrix_diagnosis(ctx: Context, written, ts, claimed, places, point) -> str | None:
    """The mistake whose matrix at ``point`` rounds, entry by entry, to the claimed matrix
    of numbers (∇_{b^{(1)}} J written as ∇_{h^{(1)}} J: the f' gate left out), or None."""
    if ctx.d is None or written is None:
        return None
    for label, v in _mutated_values(ctx, written, ts, point):
        if isinstance(v, sp.MatrixBase) and v.shape == ts.shape and all(
                rounds_to(t, c, p) for t, c, p in zip(v, claimed, places)):
            return label
    return None


_MUTATED: "weakref.WeakKeyDictionary[Context, dict]" = weakref.WeakKeyDictionary()


def _mutated_values(ctx: Context, written, ts, point) -> list:
    """(label, value at ``point``) of every mutation of ``written``'s truth ``ts``, built
    once per context: a class's files claim the same few quantities many times, and
    building and evaluating the mutations is most of the cost of a wrong number."""
    cache = _MUTATED.setdefault(ctx, {})
    key = (written, ts, id(point))
    try:
        hit = cache.get(key)
    except TypeError:                              # a mutable matrix: not cached
        return [(label, values(form, point)) for label, form in mutations(ctx, written, ts)]
    if hit is None or hit[0] is not point:         # (the point is kept: its id stays its own)
        hit = (point, [(label, values(form, point)) for label, form in mutations(ctx, written, ts)])
        cache[key] = hit
    return hit[1]


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
    same = Matcher(pts)
    found = []
    for label, form in mutations(ctx, written, ta):
        if same(form, tb) and not same(form, ta):
            found.append((label, form))
            if len(found) == MAX_CANDIDATES:
                break
    if found:
        return exact_choice(ctx, found, tb)
    if isinstance(ta, sp.MatrixBase) and ta.shape == tb.shape and ta.rows == ta.cols \
            and matches(ta.T, tb, pts):
        return "transpose missing or indices swapped: the right side is the transpose"
    return chain or wrong_derivative(ctx, written, ta, pts)


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
        yield from diagonal_mutations(ctx, written)     # before the paths: it names softmax
        yield from path_mutations(ctx, written)
        for m in mistakes(ctx.d):
            form = truth_under(ctx, written, forms_of(ctx.d, m))
            if form is not None:
                yield m.label, form
        yield from slip_mutations(ctx, written)
    elif isinstance(written, (Partial, sp.Derivative)):
        of, wrt = written.args[0], written.args[1]
        wrt = wrt[0] if isinstance(wrt, sp.Tuple) else wrt
        of = ctx.truth.resolve(of)
        yield from free_mutations(of, wrt)
        yield from output_form_mutations(of, wrt)
    elif not isinstance(true, sp.MatrixBase):
        yield from inner_mutations(true)
        yield from derivative_mutations(true)
        yield from output_form_mutations(true, None)
    if true.has(sp.log):
        yield ("log base 10 used where the natural log belongs",
               true.replace(sp.log, lambda u: sp.log(u) / sp.log(10)))
    yield from (("sign flipped", -true), ("factor of 2: off by a factor 2", 2 * true),
                ("factor of 2: off by a factor ½", true / 2))
    yield from rewrite_mutations(ctx, true)


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
        factors = sp.Mul.make_args(term)
        parts = [f for f in factors if isinstance(f, Partial)]
        if not parts or any(not isinstance(f, Partial) and f.free_symbols for f in factors):
            return None          # a chain partly written out (∂E/∂a · 1(z > 0)): not telescoped
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


# ---- the slips mistakes.py has no hook for (issue #13) ---------------------------
def diagonal_mutations(ctx: Context, written):
    """The softmax Jacobian taken as its diagonal: ∂a_i/∂z_j = a_i(1 − a_i) δ_{ij}
    (zero off the diagonal), in δ^L and in the Jacobian's entries alike."""
    for l, layer in enumerate(ctx.d.layers, start=1):
        if layer.activation.layerwise:
            m = Mistake(f"softmax treated as elementwise: its Jacobian taken as its diagonal "
                        f"in layer {l}, ∂a_i/∂z_j = a_i(1 − a_i) for i = j and 0 otherwise; "
                        "the off-diagonal entries −a_i a_j are left out", fprime="elementwise",
                        at_layer=l)
            form = truth_under(ctx, written, forms_of(ctx.d, m))
            if form is not None:
                yield m.label, form


MAX_CANDIDATES = 8
MAX_EXACT_OPS = 300


def exact_choice(ctx: Context, found, tb) -> str:
    """The first mutation equal to the claim as a formula, when several agree with it at
    the test points (a dead ReLU makes δ^l_k a^{l−1}_j and δ^l_j a^l_k both 0 there):
    the written formula decides between them; else the first, in the order tried."""
    if len(found) == 1 or ctx.d is None:
        return found[0][0]
    env = ctx.truth.expansions if len(ctx.truth.nodes) <= 400 else None
    targets = list(tb) if isinstance(tb, sp.MatrixBase) else [tb]
    for label, form in found:
        forms = list(form) if isinstance(form, sp.MatrixBase) else [form]
        if len(forms) != len(targets) or \
                sum(sp.count_ops(f) + sp.count_ops(t) for f, t in zip(forms, targets)) > MAX_EXACT_OPS:
            continue
        if all(_vanishes(_expanded(f - t, env)) for f, t in zip(forms, targets)):
            return label
    return found[0][0]


IDENTITY_POINTS = 8


def _vanishes(e) -> bool:
    """e = 0 as a formula: by expansion, else at random values of all its symbols drawn
    independently (no forward pass ties them, so gates of different z differ there, and
    the textbook ∂E/∂a · f' of a rewritten δ^L equals its closed form a − y); only used
    to choose between mutations that all agree with the claim at the test points."""
    e = _steps(sp.expand(e))
    if e == 0:
        return True
    rng = np.random.default_rng(1)
    syms = sorted(e.free_symbols, key=str)
    seen = 0
    for _ in range(IDENTITY_POINTS):
        point = {s: sp.Float(rng.choice([-1, 1]) * rng.uniform(0.2, 1.8), 30) for s in syms}
        v = value(e.replace(lambda x: x.func == _H, lambda x: sp.Heaviside(x.args[0])), point)
        if v is None:
            continue
        if abs(v) > 1e-12:
            return False
        seen += 1
    return seen >= IDENTITY_POINTS // 2


def _expanded(e, env):
    return _steps(e if env is None else e.xreplace(env))


def _steps(e):
    """Gates written either way as one form: a two-branch Piecewise of constants on u ≷ 0
    (ReLU' as Piecewise((0, u ≤ 0), (1, True)), the claim's 1(u > 0), its inverse 1(u < 0))
    becomes c₋ + (c₊ − c₋)·H(u), H an undefined function (the value at 0 aside)."""
    if not e.has(sp.Piecewise):
        return e
    return e.replace(lambda x: isinstance(x, sp.Piecewise) and _step_sides(x) is not None,
                     lambda x: _step_sides(x)[0] + (_step_sides(x)[1] - _step_sides(x)[0])
                     * _H(_step_sides(x)[2]))


_H = sp.Function("H")


def _step_sides(pw):
    """(value for u < 0, value for u > 0, u) of a two-branch Piecewise gate, or None."""
    if len(pw.args) != 2 or pw.args[1].cond != sp.true:
        return None
    (c1, cond), (c2, _) = pw.args
    if not (c1.is_Number and c2.is_Number and isinstance(cond, sp.core.relational.Relational)):
        return None
    u = cond.lhs - cond.rhs
    if len(u.free_symbols) != 1:
        return None
    if isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)):
        return c2, c1, u
    if isinstance(cond, (sp.StrictLessThan, sp.LessThan)):
        return c1, c2, u
    return None


class Matcher:
    """``points.matches`` with the values of the sides computed once for all the
    mutations tried against them."""

    def __init__(self, pts):
        self.pts, self.memo = pts, {}

    def known(self, expr) -> list:
        if expr not in self.memo:
            self.memo[expr] = [values(expr, p) for p in self.pts]
        return self.memo[expr]

    def __call__(self, form, target) -> bool:
        n = 0
        for p, v in zip(self.pts, self.known(target)):
            u = values(form, p)
            if u is None and v is None:
                continue
            if u is None or v is None or not close(u, v):
                return False
            n += 1
        return n > 0


_FORMS: dict = {}        # (id(derivation), mistake or slip) → its Forms, whose δ memo is shared


def forms_of(d, m) -> Forms:
    """The Forms of ``d`` with mistake ``m`` (a Mistake or a (slip, layer) pair), built once:
    every instance of a claim with generic indices reuses its memoised δ."""
    key = (id(d), m)
    hit = _FORMS.get(key)
    if hit is not None and hit[0]() is d:
        return hit[1]
    forms = SlipForms(d, *m) if isinstance(m, tuple) else Forms(d, m)
    if not any(k[0] == id(d) for k in _FORMS):
        weakref.finalize(d, _forget, id(d))
    _FORMS[key] = (weakref.ref(d), forms)
    return forms


def _forget(ident: int) -> None:
    for key in [k for k in _FORMS if k[0] == ident]:
        _FORMS.pop(key, None)


class SlipForms(Forms):
    """The textbook formulas with one slip that the Mistake hooks do not cover:
    ``twice`` (f' twice in δ^l: BP1/BP2), ``extra`` (an f' factor on a gradient: BP3/BP4),
    ``itself`` (f(z) written for f'(z)), ``bias_input`` (the bias gradient times
    a^{l−1}_j), ``swapped`` (δ^l_k a^{l−1}_j for ∂E/∂w^l_{jk})."""

    def __init__(self, d, slip: str, layer: int):
        super().__init__(d, Mistake(slip))
        self.slip, self.layer = slip, layer

    def fprime(self, l: int, j: int) -> sp.Expr:
        true = self.d.fprime(self.d.layers[l - 1], j)
        if l != self.layer:
            return true
        if self.slip == "twice":
            return true * true
        if self.slip == "itself":
            return self.d.layers[l - 1].a[j]          # f(z^l_j) = a^l_j
        if self.slip == "extra_sigma":                # a linear layer given σ' = a(1 − a)
            a = self.d.layers[l - 1].a[j]
            return true * a * (1 - a)
        if self.slip == "next":                       # f'(z^{l+1}_j) for f'(z^l_j)
            nxt = self.d.layers[l]
            if j >= nxt.n_out or nxt.activation.layerwise:
                raise NotApplicable("no neuron j in the next layer")
            return self.d.fprime(nxt, j)
        if self.slip == "next_own":                   # f_l'(z^{l+1}_j): this layer's gate, at
            nxt = self.d.layers[l]                    # the next layer's z (scores > 0)
            if j >= nxt.n_out:
                raise NotApplicable("no neuron j in the next layer")
            return self.d.local[l - 1].fprime.subs(Z_, nxt.z[j])
        return true

    def back(self, i: int, j: int) -> sp.Expr:
        """(Wᵀ δ)_j, with w_{jk} for w_{kj} in layer ``layer``'s recursion alone (swapped_delta)."""
        if self.slip != "swapped_delta" or i != self.layer:
            return super().back(i, j)
        e, parts = self.eqn[f"g{i}"], []
        for w, var in e.terms:
            c = int(var[1:])
            if w is None:
                parts.append(self._delta_ref(c, j))
            else:
                parts += [self.weight(w, k, j, not e.transpose) * self._delta_ref(c, k)
                          for k in range(self.p.size(c))]
        return sp.Add(*parts)

    def loss_partial(self, wrt) -> sp.Expr | None:
        node = self.truth.nodes.get(wrt)
        if node is None or node.kind not in ("W", "b") or node.layer != self.layer or \
                self.slip not in ("extra", "bias_input", "swapped", "same_input", "same_delta"):
            return super().loss_partial(wrt)
        layer = self.d.layers[node.layer - 1]
        delta = self.delta(node.layer, node.j)
        if self.slip == "extra":
            if layer.activation.layerwise:
                raise NotApplicable("a Jacobian, not a factor")
            grad = delta * (layer.a_prev[node.k] if node.kind == "W" else 1)
            return grad * self.d.fprime(layer, node.j)
        if self.slip == "bias_input":
            if node.kind != "b" or node.j >= layer.n_in:
                raise NotApplicable("no input with the bias's index")
            return delta * layer.a_prev[node.j]
        if node.kind != "W":
            raise NotApplicable("not a weight")
        if self.slip == "same_input":                 # δ_j a_j: the input at the target's index
            if node.j >= layer.n_in or node.j == node.k:
                raise NotApplicable("no input with the target's index")
            return delta * layer.a_prev[node.j]
        if self.slip == "same_delta":                 # δ_k a_k: δ at the source's index
            if node.k >= layer.n_out or node.j == node.k:
                raise NotApplicable("no neuron with the source's index")
            return self.delta(node.layer, node.k) * layer.a_prev[node.k]
        if node.k >= layer.n_out or node.j >= layer.n_in:
            raise NotApplicable("no swapped weight")
        return self.delta(node.layer, node.k) * layer.a_prev[node.j]


def _slips(d):
    """(label, slip, layer) for every slip of ``d``'s network."""
    n = len(d.layers)
    for l, layer in enumerate(d.layers, start=1):
        name = layer.activation.name
        if name == "identity":
            yield (f"extra activation derivative: layer {l} is linear (f'(z) = 1), and the "
                   f"claim multiplies by a(1 − a), a sigmoid's derivative, in δ^{l}",
                   "extra_sigma", l)
        if layer.activation.layerwise or name == "identity":
            continue
        which = "δ^L (BP1)" if l == n else f"δ^{l} (BP2)"
        yield (f"extra activation derivative: ∂E/∂w^{l}_{{jk}} is δ^{l}_j a^{l - 1}_k (BP4) and "
               f"∂E/∂b^{l}_j is δ^{l}_j (BP3); the claim multiplies it by {name}'(z^{l}_j) "
               "again", "extra", l)
        yield (f"extra activation derivative: {name}'(z^{l}) appears twice in {which}",
               "twice", l)
        yield (f"the activation written for its derivative: {name}(z) where {name}'(z) "
               f"belongs in layer {l}", "itself", l)
        if l < n:
            yield (f"wrong layer: f'(z^{l + 1}) used for {name}'(z^{l}) in δ^{l} (BP2)",
                   "next", l)
            if d.layers[l].activation.name != name:
                yield (f"wrong layer: {name}'(z^{l + 1}) (at the next layer's z) used for "
                       f"{name}'(z^{l}) in δ^{l} (BP2)", "next_own", l)
    for l in range(1, n):
        yield (f"indices swapped: w^{l + 1}_{{jk}} written for w^{l + 1}_{{kj}} in "
               f"δ^{l}_j = Σ_k w^{l + 1}_{{kj}} δ^{l + 1}_k f'(z^{l}_j) (BP2)", "swapped_delta", l)
    for l in range(1, n + 1):
        yield (f"the bias gradient given an input factor: ∂E/∂b^{l}_j is δ^{l}_j (BP3), "
               f"not δ^{l}_j a^{l - 1}_j", "bias_input", l)
        yield (f"indices swapped: ∂E/∂w^{l}_{{jk}} is δ^{l}_j a^{l - 1}_k (BP4); the claim has "
               f"δ^{l}_k a^{l - 1}_j", "swapped", l)
        yield (f"indices swapped: ∂E/∂w^{l}_{{jk}} is δ^{l}_j a^{l - 1}_k (BP4); the claim takes "
               f"the input at the weight's target index, δ^{l}_j a^{l - 1}_j", "same_input", l)
        yield (f"indices swapped: ∂E/∂w^{l}_{{jk}} is δ^{l}_j a^{l - 1}_k (BP4); the claim takes "
               f"δ at the weight's source index, δ^{l}_k a^{l - 1}_k", "same_delta", l)


def slip_mutations(ctx: Context, written):
    """(label, the truth of ``written`` with the slip made) for every slip that applies."""
    for label, slip, l in _slips(ctx.d):
        form = truth_under(ctx, written, forms_of(ctx.d, (slip, l)))
        if form is not None:
            yield label, form
    yield from local_fprime_mutations(ctx, written)


def local_fprime_mutations(ctx: Context, written):
    """∂z^{l+1}_k/∂z^l_j = w^{l+1}_{kj} f'(z^l_j) written without its f' factor."""
    if not isinstance(written, Partial):
        return
    nodes = ctx.truth.nodes
    a, b = nodes.get(written.args[0]), nodes.get(written.args[1])
    if a is None or b is None or a.kind != "z" or b.kind != "z" or a.layer != b.layer + 1:
        return
    layer = ctx.d.layers[b.layer - 1]
    if layer.activation.layerwise:
        return
    yield (f"missing activation derivative: ∂z^{a.layer}_k/∂z^{b.layer}_j is "
           f"w^{a.layer}_{{kj}} {layer.activation.name}'(z^{b.layer}_j); the f' factor is "
           "left out", ctx.d.layers[a.layer - 1].W[a.j, b.j])


OUTPUT_FORMS = {"sigmoid": ("σ(1 − σ)", lambda c: c * (1 - c)),
                "tanh": ("1 − tanh²", lambda c: 1 - c ** 2)}


def output_form_mutations(expr, wrt):
    """Free-standing calculus: another activation's derivative in output form applied to
    this one (d/dx tanh(x) = tanh(x)(1 − tanh(x)), the sigmoid's form).  ``wrt`` None:
    ``expr`` is already the derivative (tanh'(x) written out)."""
    calls = sorted(expr.atoms(sigmoid, sp.tanh, softplus), key=str)
    for call in calls:
        name = {sigmoid: "sigmoid", sp.tanh: "tanh", softplus: "softplus"}[call.func]
        arg = call.args[0]
        for other, (shown, form) in OUTPUT_FORMS.items():
            if other == name:
                continue
            label = (f"derivative of the wrong activation: the {other}'s {shown} used for "
                     f"{name}'")
            if wrt is None:
                u = sp.Dummy("u")
                own = ACTIVATIONS[name].in_terms_of_output
                if expr in (own(call) if own else None, sp.diff(call.func(u), u).subs(u, arg)):
                    yield label, form(call)
            elif expr == call:
                yield label, form(call) * sp.diff(arg, wrt)
        if wrt is None and name == "sigmoid" and expr == call:     # ζ' = σ: ζ(1 − ζ) written
            yield ("derivative of the wrong activation: the sigmoid's σ(1 − σ) applied to "
                   "softplus (ζ' = σ)", softplus(arg) * (1 - softplus(arg)))


def inner_mutations(true):
    """Free-standing: the chain rule's inner derivative left out (d/dz σ(2z) written
    σ(2z)(1 − σ(2z)), without the 2)."""
    syms = sorted(true.free_symbols, key=str)
    if len(syms) != 1:
        return
    u = syms[0]
    for call in sorted(true.atoms(sigmoid, sp.tanh, sp.exp, sp.log), key=str):
        arg = call.args[0]
        inner = sp.diff(arg, u)
        if arg != u and inner.free_symbols == set() and inner not in (0, 1):
            yield (f"incomplete chain: the inner derivative d({arg})/d{u} = {inner} is left "
                   "out", true / inner)
            return


ACTIVATION_CALLS = {"sigmoid": sigmoid, "tanh": sp.tanh}


def wrong_derivative(ctx: Context, written, ta, pts) -> str | None:
    """The last resort for a wrong derivative of one activation that no mutation
    explains: name the derivative it should be (∂a/∂z in a network, f'(u) free-standing)."""
    if isinstance(ta, sp.MatrixBase):
        return None
    if ctx.d is not None:
        if not isinstance(written, Partial):
            return None
        a, b = (ctx.truth.nodes.get(s) for s in written.args)
        if a is None or b is None or (a.kind, b.kind) != ("a", "z") or a.layer != b.layer \
                or a.j != b.j:
            return None
        layer = ctx.d.layers[a.layer - 1]
        n = ctx.truth.name
        return (f"wrong derivative: ∂{n(written.args[0])}/∂{n(written.args[1])} is "
                f"{layer.activation.name}'({n(written.args[1])}) = {text_of(ctx, ta)}")
    syms = sorted(ta.free_symbols, key=str)
    if len(syms) != 1:
        return None
    u = syms[0]
    for name, f in ACTIVATION_CALLS.items():
        if sp.simplify(ta - sp.diff(f(u), u)) == 0:
            return f"wrong derivative: the derivative of {name}({u}) is {text_of(ctx, ta)}"
    return None


# ---- slips in writing a known formula down (checker.rewrites) -------------------
PROBES = (-1.7, -0.45, 0.35, 1.3, 2.2)     # z values at which f' is compared (not 0: a kink)


def rewrite_mutations(ctx: Context, true):
    """(label, the truth with one slip of writing it down): the sign of one term, a power
    dropped, the argument's sign, the chain rule's inner derivative left out.  When the
    truth is an activation's derivative (in every entry), the label says so."""
    true = forward_definition(ctx, true)
    if isinstance(true, sp.MatrixBase) and not true.free_symbols:
        return
    if not isinstance(true, sp.MatrixBase) and (not isinstance(true, sp.Expr) or true.is_Atom):
        return
    first = true[0] if isinstance(true, sp.MatrixBase) else true
    of = activation_derivative(ctx, first)
    show = lambda e: text_of(ctx, e).replace("**2", "²").replace("*", "·")      # noqa: E731
    each = " (in each entry)" if isinstance(true, sp.MatrixBase) and len(true) > 1 else ""
    if ctx.d is None and not isinstance(true, sp.MatrixBase):
        yield from free_diagonal(true)
    for r in rewrites(true):
        if r.kind == "inner":
            yield (f"incomplete chain: the inner derivative d/d{show(*r.what.free_symbols)} "
                   f"{show(r.what)} = {show(r.into)} is left out", r.form)
            continue
        slip = {"term_sign": f"the sign of one term flipped: {show(r.into)} for {show(r.what)}",
                "power": f"a power dropped: {show(r.into)} for {show(r.what)}",
                "argument": f"the argument's sign flipped: {show(r.into)} for {show(r.what)}"
                            + (" (the gate inverted)" if r.what.has(sp.Piecewise, sp.Heaviside)
                               else ""),
                "factor": f"incomplete chain: the factor {show(r.what)} of the derivative "
                          f"{show(first)} is left out"}[r.kind]
        yield ((f"wrong derivative: {of} is {show(first)}; {slip}" if of else slip) + each, r.form)


def forward_definition(ctx: Context, true):
    """A z or a of the network (or a matrix of them) as its forward definition,
    Σ_k w_{jk} a_k + b_j or f(z), where a written-down slip is made; else ``true``."""
    if ctx.d is None:
        return true
    entries = list(true) if isinstance(true, sp.MatrixBase) else [true]
    nodes = [ctx.truth.nodes.get(e) if isinstance(e, sp.Symbol) else None for e in entries]
    if not entries or any(n is None or n.kind not in ("z", "a") for n in nodes):
        return true
    defs = [ctx.d.forward(ctx.d.layers[n.layer - 1], n.j)[0 if n.kind == "z" else 1]
            for n in nodes]
    return sp.ImmutableMatrix(true.rows, true.cols, defs) if isinstance(true, sp.MatrixBase) \
        else defs[0]


MAX_SOFTMAX = 10


def free_diagonal(true):
    """Free-standing: the softmax Jacobian taken as its diagonal, so 0 off the diagonal,
    where ∂s_i/∂z_j = −s_i s_j = −e^{z_i} e^{z_j} / (Σ_k e^{z_k})² (i ≠ j) is the truth."""
    exps = sorted((e for e in true.atoms(sp.exp) if e.args[0].is_Symbol), key=str)
    if not 2 <= len(exps) <= MAX_SOFTMAX or sp.count_ops(true) > MAX_EXACT_OPS:
        return
    total = sp.Add(*exps)
    for i, a in enumerate(exps):
        for b in exps[i + 1:]:
            if sp.cancel(true + a * b / total ** 2) == 0:
                yield ("softmax treated as elementwise: its Jacobian taken as its diagonal, "
                       "∂s_i/∂z_j = s_i(1 − s_i) for i = j and 0 otherwise; the off-diagonal "
                       "entry −s_i s_j is left out", sp.S.Zero)
                return


def activation_derivative(ctx: Context, e) -> str | None:
    """"f'(u)" when ``e`` is the derivative of an activation f at u (a neuron's z in a
    network, the one variable free-standing), compared at a few values of u; else None."""
    syms = e.free_symbols
    if ctx.d is not None:
        nodes = [ctx.truth.nodes.get(s) for s in syms]
        if not nodes or any(n is None or n.kind not in ("z", "a") for n in nodes) or \
                len({(n.layer, n.j) for n in nodes}) != 1:
            return None
        layer = ctx.d.layers[nodes[0].layer - 1]
        if layer.activation.layerwise:
            return None
        z, a = layer.z[nodes[0].j], layer.a[nodes[0].j]
        f = ctx.d.local[layer.index - 1]
        own = e.xreplace({a: f.f.subs(Z_, z)})
        return (f"{layer.activation.name}'({ctx.truth.name(z)})"
                if _same_function(own, f.fprime.subs(Z_, z), z) else None)
    if len(syms) != 1:
        return None
    u = next(iter(syms))
    for name, act in ACTIVATIONS.items():
        if act.layerwise:
            continue
        alpha = ALPHA_DEFAULTS.get(name)
        f = act.build(u, None if alpha is None else sp.Rational(str(alpha)))
        if _same_function(e, sp.diff(f, u), u):
            return f"{name}'({u})"
    return None


def _same_function(e, g, u) -> bool:
    """e = g as functions of u at the probe values (a heuristic for the wording only:
    anything SymPy cannot evaluate there is "not the same")."""
    try:
        e, g = e.rewrite(sp.exp), g.rewrite(sp.exp)
        for v in PROBES:
            point = {u: sp.Float(v, 30)}
            a, b = value(e, point), value(g, point)
            if a is None or b is None or not close(a, b):
                return False
    except Exception:             # noqa: BLE001 — SymPy raises many kinds on odd formulas
        return False
    return True
