"""The façade of recurrent specs (issue #19): ``prepare`` returns a ``RecurrentModel``
for a spec with a ``type = "rnn"`` layer; the commands ``eval``, ``train``, ``codegen``
and ``derive`` run on it (``cli/rnn.py``).

>>> from symbackprop.api import prepare
>>> from symbackprop.core.examples import RECURRENT
>>> model = prepare(RECURRENT / "rnn_tiny.toml")
>>> round(model.evaluate().loss, 6)
0.178171
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .core.bptt import RecurrentDerivation, derive_recurrent
from .core.defaults import LEARNING_RATE
from .core.parameters import parameters_from_spec
from .core.spec import Spec, SpecError
from .numeric.optimizers import Settings, plain
from .numeric.recurrent import (CompiledRecurrent, RecurrentEvaluation, compile_recurrent,
                                evaluate_recurrent, sequences_arrays, train_recurrent)


@dataclass(frozen=True)
class RecurrentModel:
    """A recurrent spec with its derivation and compiled numerics."""

    spec: Spec
    derivation: RecurrentDerivation

    @cached_property
    def compiled(self) -> CompiledRecurrent:
        return compile_recurrent(self.derivation)

    def parameters(self, init: int | None = None) -> dict[str, np.ndarray]:
        """W1, U1, b1, W2, b2 from [values], completed by the seed ``init``."""
        return parameters_from_spec(self.spec, init)

    def data(self):
        """(X, Y, h0) of the spec's sequences (a SpecError when it has none)."""
        if not self.spec.recurrence.sequences:
            raise SpecError(f"{self.spec.source}: key `values`: no sequences to compute with; "
                            "give values.x (one row per step) and values.y, or "
                            "[[values.samples]] tables.")
        return sequences_arrays(self.spec.recurrence)

    def learning_rate(self, lr: float | None = None) -> float:
        """η: ``lr`` (--lr) > [optimizer].lr > [values].learning_rate > the default."""
        opt, values = self.spec.optimizer, self.spec.values
        given = (lr, opt.lr if opt else None, values.learning_rate if values else None,
                 opt.default_lr if opt else None)
        return float(next((g for g in given if g is not None), LEARNING_RATE))

    def settings(self, lr: float | None = None) -> Settings:
        opt = self.spec.optimizer
        return plain(self.learning_rate(lr)) if opt is None else Settings.of(opt, self.learning_rate(lr))

    def evaluate(self, init: int | None = None, params=None) -> RecurrentEvaluation:
        """Loss, states, δ's and batch gradients in float64."""
        params = self.parameters(init) if params is None else params
        X, Y, h0 = self.data()
        return evaluate_recurrent(self.compiled, params, X, Y, h0, self.spec.batch)

    def train(self, steps: int, lr: float | None = None, init: int | None = None,
              keep_going: bool = False):
        X, Y, h0 = self.data()
        return train_recurrent(self.compiled, self.parameters(init), X, Y, h0, steps,
                               self.settings(lr), self.spec.batch, None, keep_going)


def prepare_recurrent(spec: Spec) -> RecurrentModel:
    """The model of a validated spec with an rnn layer."""
    if spec.optimizer is not None and (spec.optimizer.batch_size is not None
                                       or spec.optimizer.shuffle_seed is not None):
        raise SpecError(f"{spec.source}: key `optimizer.batch_size`: rnn specs train on the "
                        "full batch of sequences; remove batch_size and shuffle_seed.")
    return RecurrentModel(spec, derive_recurrent(spec))
