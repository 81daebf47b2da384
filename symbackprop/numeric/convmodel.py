"""A convolutional spec with its compiled numbers: what the commands work on (issue #18).

``api.prepare`` returns a ``ConvModel`` for a spec with ``input_shape`` or conv/pool
layers; it offers the methods of ``api.Model`` that ``eval`` and ``train`` use
(``parameters``, ``evaluate``, ``step``, ``descend``, ``learning_rate``, ``by_name``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..core.convderive import ConvDerivation, derive_conv
from ..core.convspec import ConvSpec
from ..core.defaults import LEARNING_RATE
from ..core.errors import SpecError
from ..core.parameters import parameters_from_spec, samples_from_spec
from .conv import ConvCompiled, compile_conv, evaluate
from .vectorised import Evaluation, checked_step, update


@dataclass(frozen=True)
class ConvNotation:
    """A convolutional network names no single parameter ([names] is refused): no slots."""

    loss: str = "E"
    slots: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    text: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ConvModel:
    """A convolutional spec, its derivation (index formulas) and compiled numbers."""

    spec: ConvSpec
    derivation: ConvDerivation
    notation: ConvNotation

    @classmethod
    def of(cls, spec: ConvSpec) -> "ConvModel":
        return cls(spec, derive_conv(spec), ConvNotation(loss=spec.notation.get("loss", "E")))

    @cached_property
    def compiled(self) -> ConvCompiled:
        return compile_conv(self.spec)

    def parameters(self, init: int | None = None) -> dict[str, np.ndarray]:
        return parameters_from_spec(self.spec, init)

    @property
    def frozen(self) -> tuple[str, ...]:
        return ()

    def learning_rate(self, lr: float | None = None) -> float:
        return float(self._rate(lr))

    def _rate(self, lr=None):
        opt = self.spec.optimizer
        given = (lr, opt.lr if opt else None,
                 self.spec.values.learning_rate if self.spec.values is not None else None,
                 opt.default_lr if opt else None)
        return next((g for g in given if g is not None), LEARNING_RATE)

    def evaluate(self, init: int | None = None, params=None, data=None) -> Evaluation:
        """Loss, z, a, δ per layer (columns, row-major C, H, W) and the batch gradients."""
        params = self.parameters(init) if params is None else params
        X, Y = samples_from_spec(self.spec) if data is None else data
        return evaluate(self.compiled, params, X, Y, self.spec.batch)

    def step(self, init: int | None = None, lr: float | None = None, data=None):
        """(params, evaluation, updated params, learning rate) of one gradient step."""
        return checked_step(self, init, lr, data)

    def descend(self, params, ev: Evaluation, rate: float) -> dict[str, np.ndarray]:
        return update(params, ev.gradients, rate)

    def by_name(self, params, ev, updated) -> dict:
        return {}

    def worked(self, init: int | None = None, lr: float | None = None, exact: bool = False):
        """(params, evaluation of the first example, updated params, η): the worked example."""
        if exact:
            raise SpecError(f"{self.spec.source}: --exact is written for dense networks; a "
                            "convolutional network's worked example is computed in float64.")
        params = self.parameters(init)
        X, Y = samples_from_spec(self.spec)
        ev = evaluate(self.compiled, params, X[:, :1], Y[:, :1], self.spec.batch)
        rate = self.learning_rate(lr)
        return params, ev, self.descend(params, ev, rate), rate


MAX_SHOWN = 64      # entries of a map or array printed in full by ``eval``; larger: a summary


def conv_eval_text(model: ConvModel, params, ev: Evaluation, new) -> str:
    """``eval``'s tables for a convolutional network: each layer's output map (example 1)
    and each parameter array with its gradient and updated value."""
    lines = []
    for ls, z, a, d in zip(model.spec.layers, ev.z, ev.a[1:], ev.delta):
        what = ls.type + (f" {_sizes(ls.kernel)}, stride {_sizes(ls.stride)}, padding "
                          f"{_sizes(ls.padding)}" if ls.kernel else "")
        lines.append(f"\nlayer {ls.index} {ls.name!r} ({what}, {ls.activation}): "
                     f"{_sizes(ls.in_shape)} → {_sizes(ls.out_shape)}")
        for label, arr in (("z", z), ("a", a), ("delta", d)):
            lines.append(f"  {label:>7} = " + _shown(arr[:, 0].reshape(ls.out_shape), 12))
    lines.append("\ngradients and updated parameters")
    for key, g in ev.gradients.items():
        lines.append(f"  {key} {_sizes(g.shape)}")
        for label, arr in (("value", params[key]), ("grad", g), ("updated", new[key])):
            lines.append(f"    {label:>7} = " + _shown(arr, 14))
    return "\n".join(lines) + "\n"


def _sizes(shape) -> str:
    return "×".join(str(n) for n in shape)


def _shown(arr: np.ndarray, indent: int) -> str:
    if arr.size > MAX_SHOWN:
        return (f"{arr.size} entries, min {arr.min():.6g}, max {arr.max():.6g}, "
                f"mean {arr.mean():.6g} (--json has every entry)")
    text = np.array2string(np.asarray(arr, float), separator=", ", max_line_width=100,
                           prefix=" " * indent, formatter={"float_kind": lambda x: f"{x:.6g}"})
    return "\n".join(line for line in text.splitlines() if line.strip())
