"""The questions of one variant: targets, keys and distractors from the mistake catalogue.

A key is the checker's own truth at the variant's values (30 digits), shown to
the family's significant digits through the one number formatter.  Distractors
are the catalogue's mutations of that truth (``checker.diagnose.mutations``: f′
left out, Wᵀ written W, a dropped ½, the sign, log base 10, a wrong layer, an
incomplete chain …) evaluated at the same point; a mutation is used only when
its shown number differs from the key and from every other choice by more than
the tolerance, and when ``check`` reading the rendered claim calls it wrong with
that same diagnosis (so a mistake that changes nothing here, such as f′ left
out on an active ReLU, never becomes a choice).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import sympy as sp

from ..api import Model, check
from ..checker.context import make_context
from ..checker.diagnose import mutations
from ..checker.points import values
from ..core.formatting import fmt
from ..formula.ops import FormulaError
from ..formula.reader import parse_claim
from ..render.environment import environment
from .family import Family, QuestionSpec

MAX_PATHS = 4            # a chain question writes every path out
LOSS_TEXT = {r"\mathcal{L}": "L", r"E_{\mathrm{total}}": "E_total"}
# labels of the catalogue that make no sense for a value that is not a derivative
NOT_A_DERIVATIVE = ("incomplete chain",)
# the vectorised δ^l with one mistake, and how the checker names it
VECTOR_MISTAKES = {"no_fprime": ("missing activation derivative",),
                   "fprime_a": ("activation derivative at the wrong argument",),
                   "f_for_fprime": ("the activation written for its derivative",),
                   "sign": ("sign flipped",),
                   "untransposed": ("transpose",)}
CHAIN_DIAGNOSES = {"dadz": ("missing activation derivative",),
                   "other": ("incomplete chain", "the chain-rule factors do not connect")}


class Redraw(Exception):
    """This draw cannot make the question (kind ``kind``): draw the variant again."""

    def __init__(self, kind: str, why: str):
        super().__init__(f"{kind}: {why}")
        self.kind, self.why = kind, why


@dataclass(frozen=True)
class Link:
    """∂of/∂wrt, one factor of a chain, in LaTeX and plain text."""

    of_tex: str
    wrt_tex: str
    of_text: str
    wrt_text: str


@dataclass(frozen=True)
class Choice:
    """One answer: a number (``shown``) or a chain of factors (``paths``)."""

    correct: bool
    diagnosis: str | None
    shown: str | None = None
    value: float | None = None
    paths: tuple[tuple[Link, ...], ...] | None = None
    expect: tuple[str, ...] = ()     # a formula distractor: the diagnoses it may get
    vec: dict | None = None          # a vectorised formula: the notation's letters …
    mistake: str | None = None       # … and the mistake made in it (None: the right one)


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    style: str                       # numerical | multichoice | essay
    target: dict
    loss_tex: str
    loss_text: str
    sym_tex: str
    sym_text: str
    answer: float | None
    shown: str | None
    tolerance: dict
    choices: tuple[Choice, ...] = ()
    eta: str | None = None           # the learning rate of an update question
    digits: int = 4                  # significant digits asked for
    vec: dict | None = None          # a vectorised question: the letters of its formulas


def half_unit(shown: str) -> str:
    """Half a unit in the last place of a shown number (``0.07542`` → ``0.000005``)."""
    places = max(0, -Decimal(shown).as_tuple().exponent)
    return format(Decimal(5).scaleb(-places - 1), "f")


def macros():
    """The claim macros (``templates/exercises/claims.j2``)."""
    return environment().get_template("exercises/claims.j2").module


def _layer(spec: QuestionSpec, model: Model, rng) -> int:
    n = len(model.spec.layers)
    if spec.layer == "output" or spec.layer is None:
        return n
    if spec.layer == "hidden":
        return int(rng.integers(1, n))
    return int(spec.layer)


def _target(spec: QuestionSpec, model: Model, rng):
    """(symbol, target dict) of a question; random neuron and weight indices."""
    net, kind = model.network, spec.kind
    if kind == "vectorised":
        return None, {"quantity": "delta", "array": None, "index": None,
                      "layer": _layer(spec, model, rng)}
    if kind in ("loss", "derivation"):
        quantity = "loss" if kind == "loss" else "gradient"
        return None, {"quantity": quantity, "array": None, "index": None, "layer": None}
    l = _layer(spec, model, rng)
    layer = net.layers[l - 1]
    j = int(rng.integers(layer.n_out))
    if kind == "forward":
        sym = (layer.z if spec.quantity == "z" else layer.a)[j]
        return sym, {"quantity": spec.quantity, "array": None, "index": [j], "layer": l}
    if kind == "delta":
        return layer.delta[j], {"quantity": "delta", "array": None, "index": [j], "layer": l}
    quantity = "update" if kind == "update" else "gradient"
    if spec.array == "b":
        return layer.b[j], {"quantity": quantity, "array": f"b{l}", "index": [j], "layer": l}
    k = int(rng.integers(layer.n_in))
    return layer.W[j, k], {"quantity": quantity, "array": f"W{l}", "index": [j, k], "layer": l}


class Builder:
    """The questions of one model (a variant), with its checker context."""

    def __init__(self, family: Family, model: Model, rng: np.random.Generator):
        self.family, self.model, self.rng = family, model, rng
        self.ctx = make_context(model)
        self.base = self.ctx.network_points.base
        self.nt = model.notation
        self.loss_tex = self.nt.loss
        self.loss_text = LOSS_TEXT.get(self.nt.loss, self.nt.loss)
        self.m = macros()

    def build(self) -> tuple[Question, ...]:
        drafts = [self.retried(i, s) for i, s in enumerate(self.family.questions, start=1)]
        pending = [(q, c) for q, cands in drafts for c in cands]
        claims = [self.m.claim(q, c) for q, c in pending]
        verdicts = check(self.model, "\n".join(claims), isolate=False) if claims else []
        if len(verdicts) != len(claims):
            raise Redraw(self.family.questions[0].kind, "a claim did not read as one claim")
        fine = {}
        for (q, c), v in zip(pending, verdicts):
            ok = v.verdict == "incorrect" and v.diagnosis is not None and (
                v.diagnosis.startswith(c.expect) if c.expect else v.diagnosis == c.diagnosis)
            if ok:
                fine.setdefault(q.id, []).append(replace(c, diagnosis=v.diagnosis, expect=()))
        return tuple(self.choose(q, fine.get(q.id, [])) for q, _ in drafts)

    def retried(self, n: int, spec: QuestionSpec, tries: int = 5):
        """A question's draft; another neuron of the same network when the key cannot be
        shown (a ReLU neuron off: δ = 0)."""
        for attempt in range(tries):
            try:
                return self.draft(n, spec)
            except Redraw:
                if attempt == tries - 1:
                    raise

    # ---- one question: its key and its candidate distractors ----
    def draft(self, n: int, spec: QuestionSpec):
        sym, target = _target(spec, self.model, self.rng)
        nt = self.nt
        q = Question(id=f"q{n}", kind=spec.kind, style=spec.style, target=target,
                     loss_tex=self.loss_tex, loss_text=self.loss_text,
                     sym_tex=nt.latex[sym] if sym is not None else self.loss_tex,
                     sym_text=nt.text[sym] if sym is not None else self.loss_text,
                     answer=None, shown=None, tolerance={"abs": None, "rel": None},
                     digits=self.family.digits,
                     eta=format(self.model.spec.values.learning_rate, "f"))
        if spec.kind == "derivation":
            return q, []
        if spec.kind == "chain":
            return self.chain_draft(q, sym)
        if spec.kind == "vectorised":
            return self.vector_draft(q, target["layer"])
        return self.number_draft(q)

    def tolerance(self, shown: str) -> float:
        rel = float(self.family.rel)
        tol = max(rel * abs(float(shown)), float(self.family.abs or 0))
        return float(fmt(tol, 2, tex=False))          # two digits: 0.0069, not 0.006858

    def number_draft(self, q: Question):
        claim = parse_claim(self.m.lhs(q) + " " + self.m.relation(q) + " 0", self.ctx.scope)
        written = claim.sides[0].expr
        truth = self.ctx.truth.resolve(written)
        true = values(truth, self.base)
        if true is None:
            raise Redraw(q.kind, "the key is undefined at the drawn values")
        shown = self.show(true)
        if shown is None or float(shown) == 0:
            raise Redraw(q.kind, f"the key {float(true):.3g} cannot be shown to "
                                 f"{self.family.digits} digits without a power of ten")
        tol = self.tolerance(shown)
        key = Choice(True, None, shown, float(shown))
        q = _replace(q, answer=float(shown), shown=shown,
                     tolerance={"abs": tol, "rel": float(self.family.rel)}, choices=(key,))
        cands, seen = [], {shown}
        for label, form in mutations(self.ctx, written, truth):
            if q.kind in ("forward", "loss") and label.startswith(NOT_A_DERIVATIVE):
                continue
            v = values(form, self.base)
            if v is None or hasattr(v, "shape") or not v.is_real:
                continue
            text = self.show(v)
            if text is None or text in seen or \
                    abs(float(text) - float(shown)) <= tol + float(half_unit(text)):
                continue
            seen.add(text)
            cands.append(Choice(False, label, text, float(text)))
        return q, cands

    def show(self, v) -> str | None:
        """The value to the family's significant digits, or None where that needs 1e-05."""
        try:
            f = float(v)
        except (TypeError, ValueError):
            return None
        if not np.isfinite(f) or abs(f) >= 1e6:
            return None
        text = fmt(f, self.family.digits, tex=False)
        return None if "e" in text else text

    def links(self, path) -> tuple[Link, ...]:
        nt = self.nt
        name = lambda s, d: (self.loss_tex, self.loss_text)[d] if s == "E" else \
            (nt.latex[s], nt.text[s])[d]                                      # noqa: E731
        return tuple(Link(name(f.of, 0), name(f.wrt, 0), name(f.of, 1), name(f.wrt, 1))
                     for f in path)

    def chain_draft(self, q: Question, sym):
        d = self.model.derivation
        if d.n_paths(sym) > MAX_PATHS:
            raise Redraw(q.kind, f"{d.n_paths(sym)} chain-rule paths (at most {MAX_PATHS})")
        paths = d.chain(sym).paths
        value = lambda ps: float(sum(np.prod([float(values(f.value, self.base)) for f in p])
                                     for p in ps))                            # noqa: E731
        true = value(paths)
        tol = self.tolerance(self.show(true) or "0")
        key = Choice(True, None, paths=tuple(self.links(p) for p in paths), value=true)
        q = _replace(q, choices=(key,), tolerance={"abs": tol, "rel": float(self.family.rel)})
        cands, seen = [], [true]
        for i in range(len(paths[0])):
            dropped = tuple(p[:i] + p[i + 1:] for p in paths)
            v = value(dropped)
            if all(abs(v - s) > tol for s in seen):
                seen.append(v)
                kind = "dadz" if i % 2 == 1 else "other"
                cands.append(Choice(False, None, paths=tuple(self.links(p) for p in dropped),
                                    value=v, expect=CHAIN_DIAGNOSES[kind]))
        if len(paths) > 1:                                   # one path of several
            v = value(paths[:1])
            if all(abs(v - s) > tol for s in seen):
                cands.append(Choice(False, None, paths=(self.links(paths[0]),), value=v,
                                    expect=("incomplete chain",)))
        return q, cands

    def vector_draft(self, q: Question, l: int):
        """δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l) in the notation's letters (rows layout:
        δ^{l+1} (W^{l+1})ᵀ), and the catalogue's mistakes in it."""
        nt = self.nt
        vec = {"error": nt.error, "pre": nt.pre_activation, "act": nt.activation,
               "F": nt.function, "T": nt.transpose, "H": nt.hadamard,
               "superscript": nt.superscript, "here": l + nt.shift, "next": l + 1 + nt.shift,
               "rows": nt.layout == "rows"}
        q = _replace(q, vec=vec, sym_tex="", sym_text="")
        right = Choice(True, None, vec=vec)
        true = self.formula_value(q, right)
        if true is None:
            raise Redraw(q.kind, "the vectorised formula did not read as the network's δ")
        tol = self.tolerance(self.show(float(np.max(np.abs(true)))) or "0")
        q = _replace(q, choices=(right,), tolerance={"abs": tol, "rel": float(self.family.rel)})
        cands, seen = [], [true]
        for mistake, expect in VECTOR_MISTAKES.items():
            c = Choice(False, None, vec=vec, mistake=mistake, expect=expect)
            v = self.formula_value(q, c)
            if v is not None and v.shape == true.shape and \
                    all(np.max(np.abs(v - o)) > tol for o in seen):
                seen.append(v)
                cands.append(replace(c, value=float(np.max(np.abs(v - true)))))
        return q, cands

    def formula_value(self, q: Question, c: Choice):
        """The right side of a formula choice at the variant's values (None: not read)."""
        try:
            claim = parse_claim(self.m.claim(q, c), self.ctx.scope)
        except (FormulaError, ValueError, TypeError, sp.ShapeError):   # shapes that do not fit
            return None
        v = values(self.ctx.truth.resolve(claim.sides[1].expr), self.base)
        if v is None:
            return None
        return np.array(v.tolist() if hasattr(v, "tolist") else [[v]], dtype=float)

    # ---- the distractors kept ----
    def choose(self, q: Question, fine: list[Choice]) -> Question:
        if q.kind == "derivation":
            return q
        want = self.family.distractors
        order = [int(i) for i in self.rng.permutation(len(fine))]
        kept: list[Choice] = []
        tol = q.tolerance["abs"]
        for i in order:
            c = fine[i]
            if c.vec is not None or \
                    c.shown is None and all(abs(c.value - o.value) > tol for o in kept) or \
                    c.shown is not None and all(abs(c.value - o.value) > tol + float(half_unit(c.shown))
                                                + float(half_unit(o.shown)) for o in kept):
                kept.append(c)
            if len(kept) == want:
                break
        if len(kept) < want:
            raise Redraw(q.kind, f"{len(kept)} distractors the checker diagnoses and that differ "
                                 f"by more than the tolerance (want {want})")
        kept.sort(key=lambda c: fine.index(c))
        choices = list(q.choices) + kept
        if q.style == "multichoice":
            choices = [choices[int(i)] for i in self.rng.permutation(len(choices))]
        return _replace(q, choices=tuple(choices))


def _replace(q: Question, **changes) -> Question:
    return replace(q, **changes)
