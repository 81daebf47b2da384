"""Full-batch gradient descent on a spec's examples.

Each step evaluates the batch loss (the mean of the per-example losses, or
their sum with ``[network] batch = "sum"``) and its gradients, then moves
every parameter by θ ← θ − η ∂E/∂θ: a tied name by the sum over its places,
a frozen name not at all (``Model.descend``).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .vectorised import NonFinite, all_finite, evaluate, first_nonfinite
from ..core.parameters import samples_from_spec
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

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def train(model: "Model", steps: int, lr: float | None = None, init: int | None = None,
          data=None, progress: Callable[[Iterable], Iterable] = iter,
          keep_going: bool = False) -> Training:
    """Run ``steps`` full-batch gradient-descent steps from the spec's parameters.

    The first step whose loss or gradients are not finite raises ``Diverged`` (which
    step, which quantity); with ``keep_going`` training runs on and records it.

    >>> from symbackprop import prepare, example_path
    >>> t = train(prepare(example_path("worked_2331")), steps=50, lr=0.5)
    >>> t.final_loss < t.loss_history[0]
    True
    """
    params = model.parameters(init)
    rate = model.learning_rate(lr)
    X, Y = samples_from_spec(model.spec) if data is None else data
    history = []
    diverged = None

    def watch(ev, step):
        nonlocal diverged
        history.append(ev.loss)
        if diverged is None and not all_finite(ev):
            diverged = (step, first_nonfinite(ev, paths=False) or "a number is not finite")
            if not keep_going:
                raise Diverged(*diverged, rate)

    with np.errstate(all="ignore"):           # an inf or NaN is reported as divergence
        for step in progress(range(steps)):
            ev = evaluate(model.compiled, params, X, Y, model.spec.batch)
            watch(ev, step)
            params = model.descend(params, ev, rate)
        final = evaluate(model.compiled, params, X, Y, model.spec.batch)
        watch(final, steps)
        # by_name at the final parameters: value, gradient there, and the next update
        table = model.by_name(params, final, model.descend(params, final, rate))
    return Training(history, params, rate, table, diverged)


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
                    {"step": t.diverged[0], "quantity": t.diverged[1]}})


def plot_loss(t: Training, path: Path, title: str) -> None:
    """Save the loss curve as PNG or SVG (matplotlib, no display needed)."""
    # lazy: matplotlib takes most of a second to import, and only --plot draws anything
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    history = np.asarray(t.loss_history, dtype=float)
    finite = history[np.isfinite(history)]
    # after a divergence (--keep-going) the curve stops where the loss stopped being a number
    ax.plot(range(len(history)), np.where(np.isfinite(history), history, np.nan))
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
