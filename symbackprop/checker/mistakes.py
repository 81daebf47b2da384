"""The classic backpropagation mistakes, as mutations of the true formula.

``Forms`` writes the textbook formula of a target (∂E/∂w, δ, ∂E/∂a, z, a,
the loss) with hooks where students go wrong; a ``Mistake`` switches one
hook.  The mistakes in the recursion (f' left out, at the wrong argument or of the
wrong activation; Wᵀ written W; ∂E/∂a with a dropped ½, a flipped sign or log base
10) are rewrites of the derivation's program (``rewritten``, core.program), whose
δ's ``Forms`` expands; the others (a^{l−1} of another layer, the whole formula
scaled) stay rewrites of the formula.  The checker evaluates every mutation at the claim's test points and
names the first one that matches the claim (``mutated``: the mutated truth of a
written quantity).  Free-standing derivatives of an activation get the
activation-level mutations from ``free_mutations``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..core.derive import Derivation, network_symbols
from ..core.functions import ACTIVATIONS, sigmoid
from ..core.program import (LocalDerivative, NoSuchEntry, Program, Symbolic, unclosed,
                            untransposed, with_dEda, with_fprime, without_edge)
from ..core.symbols import A, A_I, KD, S, Y, Z
from ..formula.names import LOSS
from ..formula.ops import Partial
from .context import Context, points_for
from .points import DIAGNOSIS_POINTS, matches
from .rewrites import Rewrite, rewrites
from .truth import Truth

OTHER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")


# The mistake cannot be made on this target (e.g. no such swapped index).
NotApplicable = NoSuchEntry


@dataclass(frozen=True)
class Mistake:
    """One hook switched away from the truth."""

    label: str                       # the diagnosis, in words
    fprime: str = "ok"               # missing | argument | wrong:<name> | elementwise |
                                     # negated (f'(−z)) | formula:<n> (rewrite n of f'(a))
    at_layer: int | None = None      # the layer of the f' mistake (None: every layer)
    dEda: str = "ok"                 # flip | double | half | log10
    transpose: bool = False
    prev_shift: int = 0              # a^{l−1+shift} for a^{l−1}
    delta_shift: int = 0             # δ^{l+shift} for δ^l in ∂E/∂w^l, ∂E/∂b^l, ∂E/∂z^l
    scale: sp.Expr = sp.S.One        # the whole formula times this
    target: bool = False             # δ^L with its target term −y_j left out (a_j for a_j − y_j)
    dropped: tuple[int, int] | None = None   # (source, consumer): a skip edge left out of δ


DEDA_FACTORS = {"flip": sp.S.NegativeOne, "double": sp.S(2), "half": sp.Rational(1, 2)}


def rewritten(d: Derivation, m: Mistake) -> Program:
    """The derivation's program with the mistake's changes to the recursion made: f'
    (left out, at a, another activation's, softmax's Jacobian as its diagonal), Wᵀ
    written W, ∂E/∂a doubled, halved, negated or in log base 10.  δ at the output is the
    textbook chain ∂E/∂a ⊙ f', where these mistakes are made."""
    p = unclosed(d.program)
    if m.fprime != "ok":
        p = with_fprime(p, *_slope(d, m), at=m.at_layer)
    if m.transpose:
        p = untransposed(p)
    if m.dropped is not None:                      # a skip path dropped (issue #17)
        p = without_edge(p, *m.dropped)
    if m.dEda != "ok":
        p = with_dEda(p, log_base=sp.S(10)) if m.dEda == "log10" else \
            with_dEda(p, factor=DEDA_FACTORS[m.dEda])
    return p


def _slope(d: Derivation, m: Mistake) -> tuple[sp.Expr | None, sp.Expr | None]:
    """(f' of an elementwise node in Z and A, ∂a_i/∂z_j of a softmax node) as mistaken."""
    if m.fprime == "missing":
        return sp.S.One, KD
    if m.fprime == "elementwise":                  # softmax as if elementwise: diagonal only
        return None, A_I * (1 - A_I) * KD
    layer = d.layers[m.at_layer - 1]
    if m.fprime == "negated":                      # f'(−z): the ReLU gate inverted
        return d.local[m.at_layer - 1].fprime.subs(Z, -Z), None
    if m.fprime.startswith("formula:"):            # a slip in writing f' in the output a
        return slope_rewrites(d.local[m.at_layer - 1])[int(m.fprime[8:])].form, None
    if m.fprime == "argument":                     # f'(a) written for f'(z)
        return d.local[m.at_layer - 1].fprime.subs(Z, A), None
    how, name = m.fprime.split(":")
    other = ACTIVATIONS[name]
    if how == "wrong_out":                         # its output form at this layer's a: a(1 − a)
        return other.in_terms_of_output(A), None
    return sp.diff(other.build(Z, layer.alpha), Z), None


class Forms(Symbolic):
    """Textbook formulas of one network with one mistake switched on: the recursion
    (δ, f', ∂a/∂z, ∂E/∂a) is that of the rewritten program, expanded; the formula
    hooks (a^{l−1} of another layer, a scale, z with W's indices swapped) are here."""

    def __init__(self, d: Derivation, m: Mistake):
        super().__init__(rewritten(d, m), network_symbols(d.network), expand=True)
        self.d, self.m = d, m
        self.truth = Truth(d)

    def _output_delta(self, j: int) -> sp.Expr:
        """δ^L_j; with the ``target`` mistake, the closed form with its target term left
        out (softmax + cross-entropy: a_j Σ_i y_i for a_j Σ_i y_i − y_j, the one-hot
        target's indicator 1(y = j) missing)."""
        if not self.m.target:
            return super()._output_delta(j)
        closed = self.d.program.output_delta.closed
        if closed is None or not closed.has(Y) or sp.degree(closed, Y) != 1:
            raise NotApplicable("no target term in δ^L")
        dropped = closed.xreplace({Y: 0})
        if dropped == 0:
            raise NotApplicable("δ^L is the target term alone")
        i = self.p.output.index
        subs = {A: self.sym[f"a{i}"][j], Z: self.sym[f"z{i}"][j], S: sp.Add(*self.sym["y"])}
        return dropped.xreplace(subs)

    def applies(self, l: int) -> bool:
        """Is the activation-derivative mistake switched on in layer ``l``?"""
        return self.m.fprime != "ok" and self.m.at_layer in (None, l)

    def prev(self, l: int, k: int) -> sp.Expr | None:
        """a^{l−1}_k, or the mistaken layer's activation."""
        src = l - 1 + self.m.prev_shift
        if src < 0 or src > len(self.d.layers):
            return None
        size = self.d.network.sizes[src]
        return self.truth.activation_of(src, k) if k < size else None

    def loss_partial(self, wrt) -> sp.Expr | None:
        """The mutated ∂E/∂wrt for a parameter, z, or a; None if the hook does not apply."""
        node = self.truth.nodes.get(wrt)
        if node is None:
            return None
        if node.kind in ("W", "b", "z"):
            l = node.layer + self.m.delta_shift           # δ of another layer (BP3: δ^{l+1}_j)
            if not 1 <= l <= len(self.d.layers) or node.j >= self.d.network.sizes[l]:
                return None
            a_prev = self.prev(node.layer, node.k) if node.kind == "W" else sp.S.One
            return None if a_prev is None else self.delta(l, node.j) * a_prev
        if node.kind == "a" and node.layer == len(self.d.layers):
            return self.dE_da(node.j)
        if node.kind in ("a", "x"):
            return self.back(node.layer, node.j)
        return None

    def target(self, of, wrt) -> sp.Expr | None:
        """The mutated ∂of/∂wrt (wrt None: the named quantity ``of`` itself)."""
        if wrt is None:
            return self.quantity(of)
        if of == LOSS:
            found = self.loss_partial(wrt)
        else:
            a, b = self.truth.nodes.get(of), self.truth.nodes.get(wrt)
            found = None
            if a and b and a.kind == "a" and b.kind == "z" and a.layer == b.layer:
                found = self.dadz(a.layer, a.j, b.j)
            elif a and b and a.kind == "z" and b.kind == "W" and a.layer == b.layer and a.j == b.j:
                found = self.prev(b.layer, b.k)
        return None if found is None else self.m.scale * found

    def quantity(self, sym) -> sp.Expr | None:
        """Mutated definitions of named quantities: δ, the loss, a = f(z), z."""
        node = self.truth.nodes.get(sym)
        if sym == LOSS:
            loss = self.d.loss
            if self.m.dEda == "log10":
                loss = loss.replace(sp.log, lambda u: sp.log(u) / sp.log(10))
            return self.m.scale * loss
        if node is None:
            return None
        if node.kind == "delta":
            return self.m.scale * self.delta(node.layer, node.j)
        if node.kind == "z" and self.m.transpose:
            layer = self.d.layers[node.layer - 1]
            if node.j < layer.n_in and layer.n_in <= layer.n_out:
                return sp.Add(*[layer.W[k, node.j] * layer.a_prev[k] for k in range(layer.n_in)],
                              layer.b[node.j])
        return None


def mistakes(d: Derivation) -> list[Mistake]:
    """Candidate mistakes for ``d``'s network, most specific first."""
    out = [Mistake("missing activation derivative: the f'(z) factor is left out", fprime="missing")]
    for l, layer in enumerate(d.layers, start=1):
        name = layer.activation.name
        out.append(Mistake(f"missing activation derivative: the {name}' factor of layer {l} "
                           "is left out", fprime="missing", at_layer=l))
        if not layer.activation.layerwise and name != "identity":
            out.append(Mistake(f"activation derivative at the wrong argument: {name}'(a) "
                               f"written for {name}'(z) in layer {l}", fprime="argument", at_layer=l))
            for other in OTHER_ACTIVATIONS:
                if other != name:
                    out.append(Mistake(f"derivative of the wrong activation: {other}' used in "
                                       f"layer {l}, whose activation is {name}",
                                       fprime=f"wrong:{other}", at_layer=l))
                    if ACTIVATIONS[other].in_terms_of_output is not None:
                        form = ACTIVATIONS[other].in_terms_of_output(A)
                        out.append(Mistake(f"derivative of the wrong activation: {other}' "
                                           f"({form}) used in layer {l}, whose activation is "
                                           f"{name}", fprime=f"wrong_out:{other}", at_layer=l))
            out += fprime_slips(d, l)
        elif layer.activation.layerwise:
            out.append(Mistake("softmax treated as elementwise: a_j(1 − a_j) used for the "
                               "softmax Jacobian", fprime="elementwise", at_layer=l))
    out += target_slips(d)
    out += skip_slips(d)
    out += [Mistake("sign flipped: y − a written for a − y (∂E/∂a has the wrong sign)", dEda="flip"),
            Mistake("sign flipped: the whole formula has the wrong sign", scale=sp.S.NegativeOne),
            Mistake("factor of 2: the ½ of the loss is missing from the derivative (2(a − y))",
                    dEda="double"),
            Mistake("factor of 2: an extra ½ (the derivative of ½(a − y)² is a − y)", dEda="half"),
            Mistake("factor of 2: the whole formula is off by a factor 2", scale=sp.S(2)),
            Mistake("factor of 2: the whole formula is off by a factor ½", scale=sp.Rational(1, 2)),
            Mistake("wrong layer index: a^{l} used for a^{l−1}", prev_shift=1),
            Mistake("wrong layer index: a^{l−2} used for a^{l−1}", prev_shift=-1),
            Mistake("wrong layer: δ^{l+1} (the next layer's δ) used for δ^{l}", delta_shift=1),
            Mistake("wrong layer: δ^{l−1} (the previous layer's δ) used for δ^{l}", delta_shift=-1),
            Mistake("transpose missing or indices swapped: w_{jk} written for w_{kj}", transpose=True)]
    if d.loss.has(sp.log):
        out.append(Mistake("log base 10 used where the natural log belongs", dEda="log10"))
    return out


@lru_cache(maxsize=64)
def slope_rewrites(local: LocalDerivative) -> tuple[Rewrite, ...]:
    """The slips of writing f' in the output a (σ: a(1 + a) for a(1 − a); tanh: 1 − a
    for 1 − a²): term signs and powers (``rewrites``), those that change f'."""
    if local.fprime_output is None:
        return ()
    true = local.fprime_output
    return tuple(r for r in rewrites(true, kinds=("term_sign", "power"))
                 if sp.expand(r.form - true) != 0)


@lru_cache(maxsize=64)
def _odd_slope(local: LocalDerivative) -> bool:
    """Does f'(−z) differ from f'(z)?  (σ' and tanh' are even: no mistake there.)
    Compared at a few z (away from a kink at 0)."""
    fp = local.fprime.rewrite(sp.exp)
    return any(abs(sp.N(fp.subs(Z, -v) - fp.subs(Z, v))) > 1e-12 for v in (0.37, 1.3, 2.9))


def target_slips(d: Derivation) -> list[Mistake]:
    """δ^L with its target term left out, when δ^L's closed form is linear in the target
    (a − y with sigmoid + binary cross-entropy or softmax + cross-entropy, (a − y) f'
    with a squared error)."""
    closed = d.program.output_delta.closed
    if closed is None or not closed.has(Y) or sp.degree(closed, Y) != 1 or \
            closed.xreplace({Y: 0}) == 0:
        return []
    shown = closed.xreplace({S: 1}) if d.program.delta_output_normalised is not None else closed
    why = ("the indicator 1(y = j) of a one-hot target is missing"
           if "cross_entropy" in d.network.loss.name else "the target y_j is left out")
    return [Mistake(f"the target term left out of δ^L: {_plain(shown.xreplace({Y: 0}))} written "
                    f"for {_plain(shown)} ({why})", target=True)]


def skip_slips(d: Derivation) -> list[Mistake]:
    """δ of a layer without what flows back along a skip edge (an edge into a layer
    that is not the next one): the skip connection's path left out of the chain rule."""
    out = []
    for c in d.layers:
        for s in c.sources:
            if s < c.index - 1:
                src = "the input" if s == 0 else f"layer {s} ({d.layers[s - 1].name})"
                out.append(Mistake(f"dropped skip path: the skip connection from {src} into "
                                   f"layer {c.index} ({c.name}) is left out of δ^{s}; "
                                   f"δ^{s} sums what flows back along every edge",
                                   dropped=(s, c.index)))
    return out


def fprime_slips(d: Derivation, l: int) -> list[Mistake]:
    """f' of layer ``l`` written wrongly: at −z (the ReLU gate inverted), or its output
    form with a term's sign flipped or a power dropped."""
    layer, local = d.layers[l - 1], d.local[l - 1]
    name = layer.activation.name
    out = []
    if _odd_slope(local):
        gate = " (the gate inverted: 1(z < 0) for 1(z > 0))" if local.fprime.has(sp.Piecewise) else ""
        out.append(Mistake(f"wrong derivative: {name}'(−z^{l}) used for {name}'(z^{l}) in layer "
                           f"{l}{gate}", fprime="negated", at_layer=l))
    what = {"term_sign": "the sign of one term flipped", "power": "a power dropped"}
    for n, r in enumerate(slope_rewrites(local)):
        out.append(Mistake(f"wrong derivative: {name}'(z^{l}) = {_plain(local.fprime_output)} "
                           f"written {_plain(r.form)} in layer {l} ({what[r.kind]})",
                           fprime=f"formula:{n}", at_layer=l))
    return out


def _plain(e) -> str:
    """A short formula in plain text (a**2 as a²)."""
    return str(e).replace("**2", "²").replace("**3", "³").replace("*", "·")


def free_mutations(of, wrt) -> list[tuple[str, sp.Expr]]:
    """Mutations of a free-standing derivative ∂of/∂wrt (activations, logs, signs)."""
    true = sp.diff(of, wrt)
    out = []
    for call in sorted(of.atoms(sigmoid, sp.tanh), key=str):
        arg, name = call.args[0], call.func.__name__
        fp = sp.diff(call, arg)
        if of == call:
            out.append((f"activation derivative at the wrong argument: {name}'({name}(u)) "
                        f"written for {name}'(u)", fp.subs(arg, call) * sp.diff(arg, wrt)))
            if arg != wrt:     # chain rule: the inner derivative du/dz left out
                out.append((f"incomplete chain: the inner derivative of {arg} is left out", fp))
        for other in ("sigmoid", "tanh"):
            if other != name:
                swapped = of.xreplace({call: ACTIVATIONS[other].build(arg)})
                out.append((f"derivative of the wrong activation: {other}' used for {name}'",
                            sp.diff(swapped, wrt)))
    if of.has(sp.log):
        out.append(("log base 10 used where the natural log belongs",
                    sp.diff(of.replace(sp.log, lambda u: sp.log(u) / sp.log(10)), wrt)))
    out += [("sign flipped", -true), ("factor of 2: off by a factor 2", 2 * true),
            ("factor of 2: off by a factor ½", true / 2)]
    return out


def derivative_mutations(true) -> list[tuple[str, sp.Expr]]:
    """Mutations of an already-differentiated free-standing formula: the activation
    derivative at the wrong argument, or another activation's derivative."""
    out = []
    calls = sorted(true.atoms(sigmoid, sp.tanh), key=str)
    for call in calls:
        name = call.func.__name__
        out.append((f"activation derivative at the wrong argument: {name}'({name}(u)) "
                    f"written for {name}'(u)", true.xreplace({call: call.func(call)})))
    args = {c.args[0] for c in calls} | set(true.free_symbols)
    for u in sorted(args, key=str):
        for name in ("sigmoid", "tanh"):
            f = ACTIVATIONS[name].build(u)
            out.append((f"derivative of the wrong activation: {name}'({u}) written",
                        sp.diff(f, u) if u.is_Symbol else sp.diff(f.subs(u, Z), Z).subs(Z, u)))
    return out


def mutated(ctx: Context, written, m: Mistake):
    """The truth of ``written`` (a Partial, a named quantity, or a matrix of them) with
    the mistake ``m`` made; None when ``m`` cannot be made on it."""
    return truth_under(ctx, written, Forms(ctx.d, m))


def truth_under(ctx: Context, written, forms: Forms):
    """The truth of ``written`` (a Partial, a named quantity, or a matrix of them) as
    ``forms`` write it (with their mistake made); None when it cannot be made on it."""
    if isinstance(written, sp.MatrixBase):
        entries = [truth_under(ctx, e, forms) for e in written]
        return None if any(e is None for e in entries) else \
            sp.ImmutableMatrix(written.rows, written.cols, entries)
    if isinstance(written, sp.Derivative):
        written = operator_target(ctx, written)
    try:
        if isinstance(written, Partial):
            of, wrt = written.args
            parts = [forms.target(of, s) for s in ctx.truth.tied(wrt)]
            return None if any(p is None for p in parts) else sp.Add(*parts)
        if isinstance(written, sp.Symbol):
            return forms.target(written, None)
    except NotApplicable:
        pass
    return None


def operator_target(ctx: Context, written):
    """``∂/∂w (½(y − out)²)`` (an operator on a body) as the Partial it stands for,
    ``∂E/∂w``: the network quantity the body equals at the test points (the loss,
    or a z or a of the body, or the a of a z in it), or None.  The body must be
    a function of the forward pass alone (no δ, no η), so that equal bodies have
    equal derivatives."""
    if ctx.d is None or not isinstance(written, sp.Derivative) \
            or written.variable_count != ((written.variables[0], 1),):
        return None
    body, wrt, nodes = written.expr, written.variables[0], ctx.truth.nodes
    syms = body.free_symbols - {LOSS}
    if wrt not in nodes or body.has(sp.Derivative, Partial) or \
            any(s not in nodes or nodes[s].kind == "delta" for s in syms):
        return None
    candidates = [LOSS]
    for s in sorted(syms, key=str):
        node = nodes[s]
        if node.kind in ("z", "a"):
            candidates.append(s)
        if node.kind == "z":
            candidates.append(ctx.d.layers[node.layer - 1].a[node.j])
    resolved = ctx.truth.resolve(body)
    pts = points_for(ctx, resolved).points[:DIAGNOSIS_POINTS]
    return next((Partial(q, wrt) for q in dict.fromkeys(candidates)
                 if matches(ctx.truth.resolve(q), resolved, pts)), None)
