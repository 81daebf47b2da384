"""The checker's context: everything checking a claim reads about one model, built once.

``Context.of(model)`` (or ``make_context``) builds the scope claims are read in,
the ``Truth`` their derivatives resolve to, and the network's test points
(consistent forward passes, each with a learning rate η), once per model: every
claim of every file checked against the model shares them, and the isolated run
forks its children after they exist.  The context is frozen; the checker's steps
(``engine``, ``diagnose``, ``present``, ``updates``, ``mistakes``) are functions
of it.  ``model`` None is free-standing calculus (no network, no test points:
``points_for`` draws free ones per claim).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import sympy as sp

from ..core.derive import Derivation
from ..core.network import Network
from ..core.notation import Notation
from ..core.spec import Spec
from ..formula.names import LR, Scope, build_scope
from ..formula.reader import FormulaError, parse_claim
from ..formula.spellings import hidden_functions
from .literals import rounding_error, rounds_to
from .points import PointSet, forward_point, free_points, network_points, spec_inputs, values
from .truth import Truth

SYMBOLIC_SECONDS = 1.0       # SymPy's simplification of one link, at most


class ModelLike(Protocol):
    """What the checker reads of a model (``symbackprop.api.Model``)."""

    spec: Spec
    network: Network
    derivation: Derivation
    notation: Notation


@dataclass(frozen=True, eq=False)
class Context:
    """The model (None: free-standing calculus), its truth, scope and test points,
    the free-standing context for calculus lines in a spec'd file, and the limits.
    Compared and hashed by identity (one context per model)."""

    model: ModelLike | None
    truth: Truth
    scope: Scope
    network_points: PointSet | None     # None free-standing: points are drawn per claim
    given_numbers: frozenset            # the spec's [values] numbers, taken as exact
    free: Context | None                # free-standing calculus beside a model (None: is one)
    seed: int = 0
    examples: tuple = ()                # a batch spec: each example's forward pass (≥ 2)
    reduction: str = "mean"             # how the batch's loss and gradients are reduced
    symbolic_seconds: float = SYMBOLIC_SECONDS

    @classmethod
    def of(cls, model: ModelLike | None = None, seed: int = 0,
           symbolic_seconds: float = SYMBOLIC_SECONDS) -> Context:
        """The context of ``model``: its test points are computed here, once."""
        d = model.derivation if model is not None else None
        nt = model.notation if model is not None else None
        free = cls.of(None, seed, symbolic_seconds) if model is not None else None
        if free is not None and hidden_functions(model):        # Bishop's h beside the spec
            free = replace(free, scope=replace(free.scope, function_names=hidden_functions(model)))
        return cls(model=model, truth=Truth(d, nt), scope=build_scope(model),
                   network_points=_network_points(model, seed) if model is not None else None,
                   given_numbers=_given_numbers(model), free=free, seed=seed,
                   symbolic_seconds=symbolic_seconds, examples=_examples(model),
                   reduction=model.spec.batch if model is not None else "mean")

    @property
    def d(self) -> Derivation | None:
        return self.truth.d

    @property
    def nt(self) -> Notation | None:
        return self.truth.notation


_ONE_HOT: dict = {}


def one_hot(ctx: Context) -> Context:
    """``ctx`` whose test points have a one-hot target (class c = point number mod n, the
    spec's own point kept): a claim that reads y_i as the correct class (``f_{y_i}``,
    ``1(y_i = k)``, formula/classes.py) holds for a class, not for a target on the simplex."""
    pts = ctx.network_points
    if pts is None or ctx.model is None:
        return ctx
    key = id(ctx)
    if key in _ONE_HOT and _ONE_HOT[key][0] is ctx:
        return _ONE_HOT[key][1]
    net, d = ctx.model.network, ctx.model.derivation
    givens = set(net.x) | set(net.parameters)
    points = []
    for n, p in enumerate(pts.points):
        if p is pts.base:
            points.append(p)
            continue
        inputs = {s: v for s, v in p.items() if s in givens}
        inputs.update({s: sp.Integer(int(j == n % len(net.y))) for j, s in enumerate(net.y)})
        points.append({**forward_point(d, inputs), LR: p[LR]})
    out = replace(ctx, network_points=PointSet(tuple(points), pts.base, pts.region))
    if len(_ONE_HOT) > 64:
        _ONE_HOT.clear()
    _ONE_HOT[key] = (ctx, out)
    return out


def make_context(model: ModelLike | None = None, seed: int = 0,
                 symbolic_seconds: float = SYMBOLIC_SECONDS) -> Context:
    """``Context.of(model, seed, symbolic_seconds)``."""
    return Context.of(model, seed, symbolic_seconds)


def _network_points(model: ModelLike, seed: int) -> PointSet:
    """Consistent forward passes, each with a learning rate η for update lines (the
    spec's [values].learning_rate at the spec's point, when it has one)."""
    pts = network_points(model, seed=seed)
    rng = np.random.default_rng(seed + 1)
    given = given_rate(model)
    points = []
    for p in pts.points:
        lr = given if p is pts.base and given is not None else rng.uniform(0.01, 1.0)
        points.append({**p, LR: sp.Float(str(lr), 30)})
    base = None
    if pts.base is not None:
        base = points[0] if given is not None else dict(pts.base)
    return PointSet(tuple(points), base, pts.region)


def given_rate(model: ModelLike):
    """The spec's η as the documents and ``train`` take it: [optimizer].lr, else
    [values].learning_rate (issue #20); None when the spec gives neither."""
    opt = getattr(model.spec, "optimizer", None)
    if opt is not None and opt.lr is not None:
        return opt.lr
    values = model.spec.values
    return values.learning_rate if values is not None else None


def _examples(model: ModelLike | None) -> tuple:
    """The forward pass of every example of a batch spec (two or more samples), else ()."""
    if model is None or model.spec.values is None or len(model.spec.values.samples) < 2:
        return ()
    inputs = spec_inputs(model)
    if inputs is None:
        return ()
    net, out = model.network, []
    for sample in model.spec.values.samples:
        point = dict(inputs)       # the parameters (and the first example), as numbers
        point.update({s: sp.Float(str(v), 30) for s, v in zip(net.x, sample.x)})
        point.update({s: sp.Float(str(v), 30) for s, v in zip(net.y, sample.y)})
        out.append(forward_point(model.derivation, point))
    return tuple(out)


def batch_values(ctx: Context, expr):
    """The batch's value of a per-example ``expr`` (the loss, a gradient): its values at
    every example reduced as the spec says (mean or sum); None if one is undefined."""
    each = [values(expr, p) for p in ctx.examples]
    if any(v is None for v in each):
        return None
    total = each[0]
    for v in each[1:]:
        total = total + v
    return total / len(each) if ctx.reduction == "mean" else total


def _given_numbers(model: ModelLike | None) -> frozenset:
    """The numbers of the spec's [values] (x, y, parameters, η): exact, not rounded,
    when a claim writes them (``0.8 − 0.01 · 0.1408``)."""
    if model is None or model.spec.values is None:
        return frozenset()
    given = list((spec_inputs(model) or {}).values())
    if given_rate(model) is not None:
        given.append(given_rate(model))
    return frozenset(sp.Rational(str(sp.Float(str(v), 30))) for v in given)


def points_for(ctx: Context, *exprs) -> PointSet:
    """The test points of a claim: the network's, or free ones for the symbols of ``exprs``."""
    if ctx.network_points is not None:
        return ctx.network_points
    syms = set().union(*[e.free_symbols for e in exprs])
    return free_points(syms, seed=ctx.seed)


def number_of(ctx: Context, text: str):
    """The value of the constant ``text`` (None if it does not parse to a real number)."""
    try:
        v = values(parse_claim(f"{text} = 0", ctx.scope).sides[0].expr, {})
    except FormulaError:
        return None
    return None if v is None or isinstance(v, sp.MatrixBase) else v


def agrees(ctx: Context, true, claimed, C) -> bool:
    """Does ``true`` agree with the number ``claimed`` written as the side ``C``: to its
    decimal places, or (arithmetic on rounded numbers) within their rounding error?"""
    if C.decimals is not None:
        return rounds_to(true, claimed, C.decimals)
    tol = rounding_error(C.text, lambda t: number_of(ctx, t), ctx.given_numbers)
    return abs(float(true) - float(claimed)) <= tol + 1e-12 * max(1.0, abs(float(true)))
