"""Training on a spec's examples: gradient descent, or the spec's ``[optimizer]``.

Each step evaluates the batch loss (the mean of the per-example losses, or
their sum with ``[network] batch = "sum"``) plus the ``[regularization]``
penalty, and its gradients, on the full batch or the step's mini-batch; then
moves every parameter by the optimiser's update (``numeric.optimizers``;
without ``[optimizer]`` θ ← θ − η ∂E/∂θ): a tied name by the sum over its
places, a frozen name not at all.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .optimizers import (Settings, State, batch_order, learning_rate_at, optimizer_step,
                         penalty, penalty_gradients, plain, state_json, steps_per_epoch)
from .vectorised import NonFinite, all_finite, first_nonfinite
from ..core.optimizer import Optimizer, defaults_of
from ..core.parameters import frozen_mask, samples_from_spec, tie_gradients
from ..core.files import write_atomic

MAX_STEPS = 10_000_000
PLOT_FORMATS = ("png", "svg")


class Diverged(NonFinite):
    """Training left float64's range: ``step`` (0 = the start) and ``quantity``, the first
    inf or NaN of that step's evaluation."""

    def __init__(self, step: int, quantity: str, rate: float):
        super().__init__(f"training diverged at step {step}: {quantity} (learning rate "
                         f"{rate:g}; a smaller --lr may converge; --keep-going runs every step "
                         "anyway)", quantity)
        self.step = step


@dataclass(frozen=True)
class Training:
    """``loss_history[i]`` is the batch loss after i steps (i = 0 … steps); ``diverged``
    is (step, quantity) of the first inf or NaN when training ran on past it."""

    loss_history: list[float]
    parameters: dict[str, np.ndarray]
    learning_rate: float
    by_name: dict[str, dict]
    diverged: tuple[int, str] | None = None
    optimizer: Settings | None = None
    state: State | None = None
    final_rate: float | None = None        # η after the schedule's last step

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def train(model: "Model", steps: int | None = None, lr: float | None = None,
          init: int | None = None, data=None, progress: Callable[[Iterable], Iterable] = iter,
          keep_going: bool = False, optimizer: Optimizer | None = None) -> Training:
    """Run ``steps`` optimiser steps from the spec's parameters (``steps`` None: the
    ``[optimizer]`` table's ``steps``, or ``epochs`` × the mini-batches of an epoch).

    The optimiser is the spec's ``[optimizer]`` (plain gradient descent without one);
    η is ``lr`` (--lr), else ``[optimizer].lr``, else ``[values].learning_rate``, else the
    optimiser's PyTorch default (0.01 without ``[optimizer]``).  ``loss_history[i]`` is
    the full-batch loss (penalty included) after i steps.  The first step whose loss or
    gradients are not finite raises ``Diverged`` (which step, which quantity); with
    ``keep_going`` training runs on and records it.  ``optimizer`` replaces the spec's
    (``train --compare``).

    >>> from symbackprop import prepare, example_path
    >>> t = train(prepare(example_path("worked_2331")), steps=50, lr=0.5)
    >>> t.final_loss < t.loss_history[0]
    True
    """
    params = model.parameters(init)
    X, Y = samples_from_spec(model.spec) if data is None else data
    opt = model.spec.optimizer if optimizer is None else optimizer
    settings = settings_of(model, lr, opt)
    steps = training_steps(model, X.shape[1], opt) if steps is None else steps
    order = batch_order(X.shape[1], opt and opt.batch_size, opt and opt.shuffle_seed)
    full_batch = opt is None or opt.batch_size is None or opt.batch_size >= X.shape[1]
    frozen = frozen_mask(model.spec, model.notation.slots)
    state, history, diverged = State(), [], None

    def watch(ev, step, record=True):
        nonlocal diverged
        if record:
            history.append(ev.loss)
        if diverged is None and not all_finite(ev):
            diverged = (step, first_nonfinite(ev, paths=False) or "a number is not finite")
            if not keep_going:
                raise Diverged(*diverged, settings.base_lr)

    with np.errstate(all="ignore"):           # an inf or NaN is reported as divergence
        full = penalised(model, params, X, Y)
        for step in progress(range(steps)):
            watch(full, step)
            idx = next(order)
            ev = full if full_batch else penalised(model, params, X[:, idx], Y[:, idx])
            if not full_batch:
                watch(ev, step, record=False)
            grads = tie_gradients(ev.gradients, model.notation.slots)
            params, state = optimizer_step(settings, params, grads, state,
                                           learning_rate_at(settings, step), frozen)
            full = penalised(model, params, X, Y)
        watch(full, steps)
        rate = learning_rate_at(settings, steps)
        # by_name at the final parameters: value, full-batch gradient, and the next update
        # (the optimiser's next step on the full batch)
        upcoming, _ = optimizer_step(settings, params, tie_gradients(full.gradients,
                                     model.notation.slots), state, rate, frozen)
        table = model.by_name(params, full, upcoming)
    return Training(history, params, settings.base_lr, table, diverged, settings, state, rate)


def settings_of(model: "Model", lr: float | None = None, opt: Optimizer | None = None) -> Settings:
    """The optimiser and its base η: --lr > [optimizer].lr > [values].learning_rate >
    the optimiser's default (0.01, ``core.defaults.LEARNING_RATE``, without [optimizer])."""
    opt = model.spec.optimizer if opt is None else opt
    if opt is None:
        return plain(model.learning_rate(lr))
    values = model.spec.values
    given = [lr, opt.lr, values.learning_rate if values is not None else None, opt.default_lr]
    return Settings.of(opt, float(next(g for g in given if g is not None)))


def first_update(model: "Model", params, ev, lr: float | None = None):
    """(θ after the spec's optimiser's first step on ``ev``'s gradients, base η): what
    ``eval`` reports as the update when the spec has an ``[optimizer]``."""
    settings = settings_of(model, lr)
    grads = tie_gradients(ev.gradients, model.notation.slots)
    new, _ = optimizer_step(settings, params, grads, State(), learning_rate_at(settings, 0),
                            frozen_mask(model.spec, model.notation.slots))
    return new, settings.base_lr


def training_steps(model: "Model", n: int, opt: Optimizer | None = None) -> int:
    """[optimizer] steps, or epochs × steps an epoch; a ValueError when neither is given."""
    opt = model.spec.optimizer if opt is None else opt
    if opt is not None and opt.steps is not None:
        return opt.steps
    if opt is not None and opt.epochs is not None:
        return opt.epochs * steps_per_epoch(n, opt.batch_size)
    raise ValueError("give --steps N, or steps or epochs in the spec's [optimizer] table")


def penalised(model: "Model", params, X, Y):
    """The evaluation with the ``[regularization]`` penalty in its loss and gradients
    (``data_loss`` is the loss without it)."""
    ev = model.evaluate(params=params, data=(X, Y))
    reg = model.spec.regularization
    if reg is None:
        return ev
    extra = penalty_gradients(params, reg)
    return replace(ev, loss=ev.loss + penalty(params, reg),
                   gradients={k: g + extra[k] for k, g in ev.gradients.items()})


def _finite(value):
    """JSON has no inf or NaN: a non-finite float is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def training_json(t: Training) -> dict:
    """The ``train --json`` object; after a divergence (``--keep-going``) every inf or NaN
    is null and ``diverged`` says at which step and in which quantity it began."""
    return _finite({"loss_history": t.loss_history, "final_loss": t.final_loss,
                    "learning_rate": t.learning_rate,
                    "parameters": {k: v.tolist() for k, v in t.parameters.items()},
                    "by_name": t.by_name,
                    "diverged": None if t.diverged is None else
                    {"step": t.diverged[0], "quantity": t.diverged[1]},
                    "optimizer_state": None if t.state is None else
                    state_json(t.optimizer, t.state, t.final_rate)})


def compare(model: "Model", names, steps: int | None = None, lr: float | None = None,
            init: int | None = None, data=None, keep_going: bool = False) -> dict[str, Training]:
    """``train`` once per optimiser name (``train --compare``): each with its
    ``[optimizer.<name>]`` table, else its defaults and the spec's mini-batches and length."""
    opt = model.spec.optimizer
    runs = {}
    for name in names:
        chosen = opt.variant(name) if opt is not None else defaults_of(name)
        runs[name] = train(model, steps, lr, init, data, keep_going=keep_going, optimizer=chosen)
    return runs


def plot_losses(runs: dict[str, Training], path: Path, title: str) -> None:
    """Several optimisers' loss curves on one plot (``train --plot --compare``)."""
    plot_loss(next(iter(runs.values())), path, title, runs)


def plot_loss(t: Training, path: Path, title: str, runs: dict[str, Training] | None = None) -> None:
    """Save the loss curve as PNG or SVG (matplotlib, no display needed)."""
    # lazy: matplotlib takes most of a second to import, and only --plot draws anything
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    curves = runs or {None: t}
    history = np.concatenate([np.asarray(r.loss_history, dtype=float) for r in curves.values()])
    finite = history[np.isfinite(history)]
    for label, run in curves.items():
        h = np.asarray(run.loss_history, dtype=float)
        # after a divergence (--keep-going) the curve stops where the loss stopped being a number
        ax.plot(range(len(h)), np.where(np.isfinite(h), h, np.nan), label=label)
    if runs:
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel("batch loss")
    ax.set_title(title if t.diverged is None else f"{title}\n(diverged at step {t.diverged[0]})")
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 100 \
            and finite.max() < 1e300:
        ax.set_yscale("log")
    buf = io.BytesIO()
    fmt = path.suffix[1:].lower()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    write_atomic(path, buf.getvalue())
