"""The whole pipeline in a few calls, for the CLI and for notebooks.

>>> from symbackprop.api import prepare, example_path
>>> model = prepare(example_path("worked_2331"))
>>> round(model.evaluate().loss, 6)
0.314807
"""
from __future__ import annotations

from decimal import Decimal
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .checker.engine import check_claims
from .checker.report import check_files, report_json, split_paths
from .checker.report import report_text as _report_text
from .core.defaults import CLAIM_TIMEOUT, LEARNING_RATE
from .core.convspec import ConvSpec
from .core.derive import Derivation, derive
from .core.examples import DEFAULT_EXAMPLE, EXAMPLES, claims_names, claims_path, example_names, example_path
from .core.files import write_atomic, write_files
from .core.network import Network, build_network
from .core.notation import Notation, make_notation
from .core.parameters import (by_name, check_named, check_value_names, frozen_mask,
                              parameters_from_spec, samples_from_spec, tie_gradients)
from .core.spec import LayerSpec, Spec, SpecError, load_spec, parse_spec
from .numeric.vectorised import (Compiled, Evaluation, NonFinite, checked_step, compile_derivation,
                                 evaluate, first_nonfinite, update)
from .numeric.codegen import generate
from .numeric.convcode import generate_conv
from .numeric.convmodel import ConvModel, conv_eval_text
from .numeric.data import load_samples_csv
from .numeric.train import MAX_STEPS, PLOT_FORMATS, Diverged, plot_loss, train, training_json
from .numeric.steps import Steps, model_steps
from .numeric.worked import bounded_exact_worked, worked_example
from .render.convdocs import make_conv_documents
from .render.documents import DocumentError, make_documents, notebook_markdown, summary_latex
from .render.environment import environment, number_filters
from .rnn import RecurrentModel, prepare_recurrent

__all__ = ["DEFAULT_EXAMPLE", "EXAMPLES", "ConvModel", "LayerSpec", "Model", "RecurrentModel",
           "Spec", "SpecError", "check", "example_names", "generate_conv", "make_conv_documents",
           "example_path", "prepare", "write_atomic"]


@dataclass(frozen=True)
class Model:
    """A spec with its network, derivation, notation and compiled numerics.

    Made by ``prepare``; every command of the CLI works on one.  In Jupyter a model
    displays its derivation document (``_repr_markdown_``, ``_repr_latex_``).

    Parameters
    ----------
    spec : Spec
        The validated network spec.
    network : symbackprop.core.network.Network
        The SymPy symbols of every quantity (``network.layers[l - 1].W``, ``.z``, ``.delta``).
    derivation : symbackprop.core.derive.Derivation
        The exact backpropagation maths: ``gradient(symbol)``, ``delta(layer, j)``,
        ``chain(symbol)``.
    notation : symbackprop.core.notation.Notation
        How symbols are written (``notation.tex(expr)``, ``notation.name(symbol)``).

    Returns
    -------
    Model
        Constructing one directly returns it as given; use ``prepare`` to build the
        network, derivation and notation from a spec.

    Examples
    --------
    >>> model = prepare("worked_2331")
    >>> model.spec.sizes
    (2, 3, 3, 1)
    >>> model.derivation.gradient(model.network.layers[2].W[0, 0])
    a2_1*delta3_1
    >>> model.notation.tex(model.network.layers[2].W[0, 0])
    'w^{3}_{11}'
    >>> round(model.evaluate().loss, 6)
    0.314807
    """

    spec: Spec
    network: Network
    derivation: Derivation
    notation: Notation

    @cached_property
    def compiled(self) -> Compiled:
        return compile_derivation(self.derivation)

    def parameters(self, init: int | None = None) -> dict[str, np.ndarray]:
        params = parameters_from_spec(self.spec, init, names=getattr(self.notation, "slots", None))
        check_named(self.spec, self.notation.slots, params)
        return params

    @property
    def frozen(self) -> tuple[str, ...]:
        return self.spec.values.frozen if self.spec.values else ()

    def learning_rate(self, lr: float | None = None) -> float:
        """η: ``lr`` (--lr) > [optimizer].lr > [values].learning_rate > the optimiser's
        default (0.01 without an [optimizer]), the precedence ``train`` uses."""
        return float(self._rate(lr))

    def _rate(self, lr=None):
        opt = self.spec.optimizer
        given = (lr, opt.lr if opt else None,
                 self.spec.values.learning_rate if self.spec.values is not None else None,
                 opt.default_lr if opt else None)
        return next((g for g in given if g is not None), LEARNING_RATE)

    def evaluate(self, init: int | None = None, params=None, data=None) -> Evaluation:
        """Loss, intermediates and batch gradients in float64.

        Parameters
        ----------
        init : int, optional
            Seed for random parameters where ``[values]`` gives none.
        params : dict of str to ndarray, optional
            ``{"W1": …, "b1": …}`` in [target][source] layout; default: the spec's.
        data : (ndarray, ndarray), optional
            (X, Y) with the examples in columns (e.g. from ``--data file.csv``);
            replaces the spec's samples.

        Returns
        -------
        Evaluation
            ``loss``, ``losses`` (per example), ``z``, ``a``, ``delta`` per layer and
            ``gradients`` (the batch mean, or sum with ``[network] batch = "sum"``).

        Examples
        --------
        >>> ev = prepare("worked_2331").evaluate()
        >>> round(float(ev.gradients["W3"][0, 0]), 6)
        0.002468
        """
        params = self.parameters(init) if params is None else params
        X, Y = samples_from_spec(self.spec) if data is None else data
        return evaluate(self.compiled, params, X, Y, self.spec.batch)

    def step(self, init: int | None = None, lr: float | None = None, data=None):
        """(params, evaluation, updated params, learning rate) of one gradient step.

        Raises ``NonFinite`` naming the first inf or NaN (z, a, the loss, δ, a gradient
        or an updated parameter), so no non-number is ever reported as a result."""
        return checked_step(self, init, lr, data)

    def descend(self, params, ev: Evaluation, rate: float) -> dict[str, np.ndarray]:
        """θ ← θ − η ∂E/∂θ with tied gradients summed and frozen names kept."""
        grads = tie_gradients(ev.gradients, self.notation.slots)
        return update(params, grads, rate, frozen_mask(self.spec, self.notation.slots))

    def by_name(self, params, ev: Evaluation, updated) -> dict[str, dict]:
        return by_name(self.spec, self.notation.slots, params, ev.gradients, updated)

    def worked(self, init: int | None = None, lr: float | None = None, exact: bool = False):
        """The worked example (first example of the spec), float64 or exact."""
        params = self.parameters(init)
        if exact:
            exact_params = parameters_from_spec(self.spec, init, names=self.notation.slots, exact=True)
            first = self.spec.values.samples[0]
            rate = Decimal(str(self._rate(lr)))
            return bounded_exact_worked(self.derivation, self.notation, exact_params, first.x,
                                        first.y, rate, self.frozen)   # within EXACT_SECONDS
        X, Y = samples_from_spec(self.spec)
        ev = evaluate(self.compiled, params, X[:, :1], Y[:, :1], self.spec.batch)
        return worked_example(self.derivation, params, ev, Y[:, :1], lr=self.learning_rate(lr),
                              nt=self.notation, frozen=self.frozen)

    def steps(self, k: int, exact: bool = False, init: int | None = None, lr: float | None = None) -> Steps:
        """The first ``k`` optimiser steps of ``train`` (the spec's [optimizer], else plain
        gradient descent), every state recorded: float64, or ``exact`` (rationals, square
        roots kept exactly, else 50 digits) within the --exact time and memory limit.

        >>> model = prepare("mazur_adam")
        >>> s, w1 = model.steps(1), model.network.layers[0].W[0, 0]
        >>> s.name, round(s.steps[0].new[w1], 9), round(s.steps[0].state("m_hat")[w1], 9)
        ('adam', 0.140000228, 0.000438568)
        """
        return model_steps(self, k, exact=exact, lr=lr, init=init)

    def find_parameter(self, name: str) -> list | None:
        """The symbols of the parameter called ``name``: a [names] or numbered name
        (all its places when tied), a displayed name like ``w^1_11``, or ``W1_1_1``."""
        if name in self.notation.slots:
            return [s for s, n in self.notation.names.items() if n == name]
        found = [p for p in self.network.parameters if name in (p.name, self.notation.text.get(p))]
        return found[:1] or None

    def _repr_markdown_(self) -> str:
        """Jupyter: the derivation document, the network drawn inline."""
        return notebook_markdown(self)

    def _repr_latex_(self) -> str:
        """LaTeX front ends (nbconvert): the loss, the δ's and the gradients."""
        return summary_latex(self)


def prepare(source: str | Path | Spec) -> Model | RecurrentModel:
    """Spec file, built-in example name, spec text or Spec → Model (derivation included).

    Parameters
    ----------
    source : str, Path or Spec
        A ``.toml`` path, the name of a built-in example (``symbackprop examples``),
        TOML text, or a validated ``Spec``.

    Returns
    -------
    Model
        The spec with its network, derivation, notation and compiled numerics
        (compiled on first use).

    Raises
    ------
    SpecError
        The spec is not valid: the message names the key and what was expected.

    Examples
    --------
    >>> model = prepare("worked_2331")
    >>> [layer.size for layer in model.spec.layers]
    [3, 3, 1]
    >>> model = prepare('''inputs = 1
    ... loss = "half_sse"
    ... [[layer]]
    ... size = 1
    ... activation = "sigmoid"
    ... ''')
    >>> model.derivation.delta_output
    a*(1 - a)*(a - y)
    >>> prepare(Spec(name="net", inputs=2, loss="sse", layers=(LayerSpec(1, "tanh"),))).spec.sizes
    (2, 1)
    """
    if isinstance(source, Spec):
        spec = source
    elif isinstance(source, str) and source in example_names():
        spec = load_spec(example_path(source))
    elif isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                      and source.endswith(".toml")):
        spec = load_spec(source)
    else:
        spec = parse_spec(source)
    if isinstance(spec, ConvSpec):      # input_shape, conv and pool layers (issue #18)
        return ConvModel.of(spec)
    if spec.recurrence is not None:              # an rnn layer (issue #19): symbackprop/rnn.py
        return prepare_recurrent(spec)
    network = build_network(spec)
    notation = make_notation(network)
    check_value_names(spec, notation.slots)
    return Model(spec, network, derive(network), notation)


def check(source, claims: str, kind: str = "text", timeout: float = CLAIM_TIMEOUT, isolate: bool = True):
    """Check hand-derived formulas against the exact derivation (``symbackprop check``).

    Parameters
    ----------
    source : str, Path, Spec, Model or None
        A spec file, a built-in example name, spec text, a ``Spec`` or a ``Model``;
        None for free-standing calculus (``d/dz tanh(z) = 1 - tanh(z)^2``).
    claims : str
        The claims, one a line (``#`` comments), written in the spec's notation as
        plain text or LaTeX.
    kind : {"text", "markup"}
        ``"markup"``: every equation of Markdown/LaTeX text (``$…$``, ``$$…$$``, …).
    timeout : float
        Seconds per claim (5 by default); a claim out of time is ``undecided``.
    isolate : bool
        Check each claim in a child process with a time and memory limit
        (``False``: in this process, faster, for trusted input).

    Returns
    -------
    list of Verdict
        One per link of each claim (``A = B = C`` gives two): ``verdict`` is
        ``"correct"``, ``"incorrect"``, ``"unparseable"`` or ``"undecided"``, with
        ``expected``, ``diagnosis`` and ``counterexample`` when incorrect.

    Raises
    ------
    SpecError
        A bad spec, or a number claimed against a spec without ``[values]``.

    Examples
    --------
    >>> [v.verdict for v in check("worked_2331_numbered",
    ...                           "dE_total/db7 = (out_n9 - y)*out_n9*(1 - out_n9)")]
    ['correct']
    >>> wrong = check("worked_2331_numbered", "dE_total/dw16 = (out_n9 - y)*out_n6",
    ...               isolate=False)[0]
    >>> wrong.verdict, wrong.diagnosis
    ('incorrect', "missing activation derivative: the f'(z) factor is left out")
    """
    if isinstance(source, str) and source in example_names():
        source = example_path(source)
    model = source if source is None or isinstance(source, Model) else prepare(source)
    return list(check_claims(model, claims, kind, timeout=timeout, isolate=isolate).verdicts)


def report_text(reports, model) -> str:
    """The human ``check`` report, rendered with the documents' Jinja environment."""
    return _report_text(reports, model, number_filters(environment(), 6))
