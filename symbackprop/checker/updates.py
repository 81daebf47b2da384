"""Update lines: ``w^{new} = w − η ∂E/∂w`` and the mistakes made writing them.

A parameter's new value (``Updated(θ)``, read from ``w_{16}^{new}``,
``W^l_{new}`` or the left side of ``θ := …``) is θ − η ∂E/∂θ: one step of
gradient descent with the learning rate η (``LR``; the spec's
``[values].learning_rate`` when a number is checked).  A wrong update is
diagnosed as a gradient-ascent step, a missing η, a step without θ, or a
mistake inside the gradient (the checker's usual mutations of ∂E/∂θ).
"""
from __future__ import annotations

import sympy as sp

from ..core.formatting import fmt
from ..formula.names import LOSS, LR
from ..formula.ops import Partial, Updated
from .context import Context
from .mistakes import mistakes, mutated
from .points import matches, values

ASCENT = ("sign flipped: a gradient-ascent update θ + η ∂E/∂θ; gradient descent steps "
          "against the gradient, θ − η ∂E/∂θ")
NO_RATE = "the learning rate η is missing from the update (θ − ∂E/∂θ)"
NO_THETA = "the old value is missing: the update gives the step −η ∂E/∂θ, not θ − η ∂E/∂θ"


def is_update(written) -> bool:
    """Is ``written`` a parameter's new value (or a matrix of them)?"""
    entries = list(written) if isinstance(written, sp.MatrixBase) else [written]
    return bool(entries) and all(isinstance(e, Updated) for e in entries)


def update_mutations(ctx: Context, written):
    """(label, mutated truth) for the new value ``written`` (Updated or a matrix of them)."""
    entries = list(written) if isinstance(written, sp.MatrixBase) else [written]
    params = [e.args[0] for e in entries]
    grads = [ctx.truth.resolve(Partial(LOSS, p)) for p in params]

    def shaped(values):
        if isinstance(written, sp.MatrixBase):
            return sp.ImmutableMatrix(written.rows, written.cols, values)
        return values[0]

    yield ASCENT, shaped([p + LR * g for p, g in zip(params, grads)])
    yield NO_RATE, shaped([p - g for p, g in zip(params, grads)])
    yield NO_THETA, shaped([-LR * g for g in grads])
    for m in mistakes(ctx.d):
        wrong = [mutated(ctx, Partial(LOSS, p), m) for p in params]
        if all(w is not None for w in wrong):
            yield (f"in the gradient ∂E/∂θ of the update: {m.label}",
                   shaped([p - LR * w for p, w in zip(params, wrong)]))


UPDATE_AS_EQUATION = ("an update written as an equation: the left side must be the new value "
                      "(θ^{new} = θ − η ∂E/∂θ, or θ := θ − η ∂E/∂θ); with = and the same θ on "
                      "both sides it claims ∂E/∂θ = 0")


def update_as_equation(ctx: Context, written, tb, points) -> str | None:
    """``W_{ij} = W_{ij} − α ∂E/∂W_{ij}`` (seed 000): the right side is the update of the
    parameter on the left, which ``=`` does not say."""
    entries = list(written) if isinstance(written, sp.MatrixBase) else [written]
    params = set(ctx.d.network.parameters) if ctx.d is not None else set()
    if not entries or not all(e in params for e in entries):
        return None
    new = written.applyfunc(Updated) if isinstance(written, sp.MatrixBase) else Updated(written)
    return UPDATE_AS_EQUATION if matches(ctx.truth.resolve(new), tb, points) else None


def implied_gradient(ctx: Context, written, claimed, point) -> str | None:
    """For a wrong new value θ^{new} = c: the gradient the step used, (θ − c)/η, next to
    the true ∂E/∂θ (the post's w17 update uses 0.0850 where ∂E/∂w17 = 0.1408)."""
    if not isinstance(written, Updated) or LR not in point:
        return None
    theta = written.args[0]
    true = values(ctx.truth.resolve(Partial(LOSS, theta)), point)
    if true is None:
        return None
    used = (point[theta] - claimed) / point[LR]
    return (f"the step uses ∂E/∂θ = {fmt(used, 6, tex=False)} (θ − θ^new over η); the true "
            f"∂E/∂{ctx.truth.name(theta)} is {fmt(true, 6, tex=False)}")
