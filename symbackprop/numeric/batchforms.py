"""The whole batch at once: the matrices of a vectorised forward and backward pass.

Courses write backpropagation for a batch of m examples as matrix equations (Ng's
Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}, dW^{[l]} = (1/m) dZ^{[l]} A^{[l-1]T}; CS231n's
scores = X W + b, dW = Xᵀ dscores).  ``batch_forms`` collects their numbers from one
float64 ``Evaluation`` of the spec's examples, oriented for display: examples as
columns (the spec's own layout), or as rows with each W shown input × output
(``layout = "rows"``).  Large matrices are cut to their first rows and columns and the
last one, with ``None`` where the template draws the dots.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vectorised import Evaluation

SHOWN = 6      # at most this many rows and columns of a matrix are shown (else 4 … last)


@dataclass(frozen=True)
class Shown:
    """A matrix for display: ``rows`` of floats, ``None`` marking a cut (a row of
    ``None`` is the vertical dots, a ``None`` entry the horizontal ones)."""

    rows: tuple
    shape: tuple[int, int]

    @property
    def cut(self) -> bool:
        return any(r is None or None in r for r in self.rows)


def shown(M) -> Shown:
    """``M`` (2-d, or 1-d as a column) cut to at most ``SHOWN`` rows and columns.

    >>> shown(np.arange(3.0)).rows
    ((0.0,), (1.0,), (2.0,))
    >>> s = shown(np.arange(80.0).reshape(8, 10)); s.rows[0], s.rows[4], s.shape
    ((0.0, 1.0, 2.0, 3.0, None, 9.0), None, (8, 10))
    """
    M = np.asarray(M, dtype=float)
    M = M.reshape(-1, 1) if M.ndim == 1 else M
    def pick(n):
        return list(range(n)) if n <= SHOWN else list(range(SHOWN - 2)) + [None, n - 1]
    rows = tuple(None if i is None else tuple(None if j is None else float(M[i, j])
                                              for j in pick(M.shape[1]))
                 for i in pick(M.shape[0]))
    return Shown(rows, M.shape)


@dataclass(frozen=True)
class BatchLayer:
    """One layer of the batch: Z, A, the per-example errors D (∂L^{(i)}/∂z^{(i)}, one
    column or row per example), G = ∂J/∂Z (D with the batch's 1/m), dW, db of the batch
    loss and the parameters after one gradient step on it."""

    number: int            # the layer's number in the display (shifted by the notation)
    Z: Shown
    A: Shown
    D: Shown
    G: Shown
    dW: Shown
    db: Shown
    W_new: Shown
    b_new: Shown


@dataclass(frozen=True)
class BatchForms:
    """Every matrix of the batch pass, for display."""

    m: int
    reduction: str         # "mean" or "sum"
    rows: bool             # examples as rows (W shown input × output)
    loss: float
    losses: tuple[float, ...]
    X: Shown
    Y: Shown
    layers: tuple[BatchLayer, ...]
    learning_rate: float
    labels: tuple[int, ...] | None     # the correct class of each example (one-hot targets)


def batch_forms(ev: Evaluation, X, Y, new: dict, rate: float, rows: bool = False,
                shift: int = 0) -> BatchForms:
    """The batch's matrices from ``ev`` (examples in columns, as ``evaluate`` takes them);
    ``new`` the parameters after one gradient step of rate ``rate`` on the batch loss (ties
    and frozen parameters honoured by the caller), ``shift`` the notation's layer shift
    (Nielsen counts the input as layer 1)."""
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    m = X.shape[1]
    scale = 1.0 / m if ev.batch == "mean" else 1.0

    def orient(M):      # examples (or a W's targets) along the columns → rows when asked
        return shown(np.asarray(M).T if rows else M)

    layers = []
    for i, (z, a, d) in enumerate(zip(ev.z, ev.a[1:], ev.delta), start=1):
        dW, db = ev.gradients[f"W{i}"], ev.gradients[f"b{i}"]
        b_col = np.asarray(db).reshape(-1)
        layers.append(BatchLayer(
            number=i + shift, Z=orient(z), A=orient(a), D=orient(d),
            G=orient(np.asarray(d) * scale), dW=orient(dW),
            db=shown(b_col.reshape(1, -1) if rows else b_col),
            W_new=orient(new[f"W{i}"]),
            b_new=shown(np.asarray(new[f"b{i}"]).reshape(1, -1) if rows
                        else np.asarray(new[f"b{i}"]).reshape(-1))))
    one_hot = bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=0) == 1))
    labels = tuple(int(k) for k in Y.argmax(axis=0)) if one_hot and Y.shape[0] > 1 else None
    return BatchForms(m=m, reduction=ev.batch, rows=rows, loss=float(ev.loss),
                      losses=tuple(float(x) for x in ev.losses), X=orient(X), Y=orient(Y),
                      layers=tuple(layers), learning_rate=float(rate), labels=labels)
