"""Backpropagation through time in float64, vectorised over a batch of sequences (issue #19).

The cell's f and f′ are the derivation's SymPy formulas lambdified with one symbol
standing for a whole array (as ``numeric.vectorised`` does for layers); the output
layer is the derivation's one-node program compiled by ``numeric.vectorised``, run
once on the states of every step with an output (steps × sequences as columns), so the
output δ's, stable log losses and softmax are the ones every dense output uses.
Arrays: ``X`` (T, inputs, B), ``Y`` (outputs per sequence, output size, B), the hidden
states (T + 1, H, B), examples in the last axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from ..core.bptt import RecurrentDerivation
from ..core.recurrent import Recurrence
from ..core.symbols import A, Z
from .optimizers import Settings, State, learning_rate_at, optimizer_step, plain
from .vectorised import MODULES, Compiled, branch_safe, compile_program, run


@dataclass(frozen=True)
class CompiledRecurrent:
    recurrence: Recurrence
    f: Callable            # h = f(z), elementwise
    fprime: Callable       # f′(z, h), elementwise
    output: Compiled       # the output layer's program: W2, b2


def compile_recurrent(d: RecurrentDerivation) -> CompiledRecurrent:
    """Lambdify the cell and compile the output layer, once."""
    f = sp.lambdify([Z], branch_safe(d.cell.f), modules=MODULES)
    fp = sp.lambdify([Z, A], branch_safe(d.cell.slope), modules=MODULES)
    return CompiledRecurrent(d.recurrence, f, fp, compile_program(d.output))


@dataclass(frozen=True)
class RecurrentEvaluation:
    """One forward and backward pass over a batch of sequences."""

    loss: float
    losses: np.ndarray          # (B,): each sequence's E
    z: np.ndarray               # (T, H, B) pre-activations
    h: np.ndarray               # (T + 1, H, B): h[0] = h0
    outputs: np.ndarray         # (outputs, m, B): ŷ at the steps with an output
    deltay: np.ndarray          # (outputs, m, B): δ^y (the time scale included, the batch's not)
    delta: np.ndarray           # (T, H, B): δ_t = ∂E/∂z_t of each sequence's E
    gradients: dict[str, np.ndarray]
    batch: str


def _shaped(v, shape):
    return v if getattr(v, "shape", None) == shape else np.broadcast_to(v, shape)


def evaluate_recurrent(c: CompiledRecurrent, params: dict[str, np.ndarray], X, Y, h0=None,
                       batch: str = "mean") -> RecurrentEvaluation:
    """Loss, states, δ's and all gradients of a batch of sequences.

    ``X`` (T, inputs, B), ``Y`` (outputs, m, B) with one row per step (per_step) or one
    (the last step), ``h0`` (H,) or (H, B) (None: zeros).  The batch's losses and
    gradients are its mean or sum (``batch``).
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    T, _, B = X.shape
    W, U, b, V = params["W1"], params["U1"], params["b1"], params["W2"]
    H = W.shape[0]
    r = c.recurrence
    steps = r.outputs_at(T)
    n_out = len(steps)
    h = np.empty((T + 1, H, B))
    h[0] = 0.0 if h0 is None else np.asarray(h0, float).reshape(H, -1)
    z = W @ X                                   # (T, H, B): W x_t for every step at once
    z += b[:, None]
    for t in range(T):                          # z_t = W x_t + U h_{t−1} + b, h_t = f(z_t)
        z[t] += U @ h[t]
        h[t + 1] = _shaped(c.f(z[t]), (H, B))
    # the output layer on the states of every step with an output: columns (step, sequence)
    sel = h[T:] if n_out == 1 else h[1:]
    Hc = sel.transpose(1, 0, 2).reshape(H, n_out * B)
    Yc = Y.transpose(1, 0, 2).reshape(Y.shape[1], n_out * B)
    env, losses, grads = run(c.output, {"W2": V, "b2": params["b2"]}, Hc, Yc, "sum")
    scale = 1.0 / n_out if r.time == "mean" else 1.0
    per_seq = losses.reshape(n_out, B).sum(axis=0) * scale
    m = V.shape[0]
    deltay = env["d1"].reshape(m, n_out, B).transpose(1, 0, 2)
    if scale != 1.0:
        deltay = deltay * scale
    back = V.T @ deltay                         # (outputs, H, B): Vᵀ δ^y_t
    delta = np.empty((T, H, B))
    carry = None
    first = T - n_out                           # step index (from 0) of the first output
    for t in range(T - 1, -1, -1):              # δ_t = (Uᵀ δ_{t+1} + Vᵀ δ^y_t) ⊙ f′(z_t)
        g = back[t - first] if t >= first else None
        if carry is not None:
            g = carry if g is None else g + carry
        delta[t] = (g if g is not None else 0.0) * c.fprime(z[t], h[t + 1])
        # truncation: no gradient from δ_t into h_{t−1} at a window's first step (t + 1 from 1)
        carry = None if r.cut(t + 1, T) else U.T @ delta[t]
    bscale = 1.0 / B if batch == "mean" else 1.0
    D = delta.transpose(1, 0, 2).reshape(H, T * B)
    Xf = X.transpose(1, 0, 2).reshape(X.shape[1], T * B)
    Hp = h[:-1].transpose(1, 0, 2).reshape(H, T * B)
    gradients = {"W1": (D @ Xf.T) * bscale, "U1": (D @ Hp.T) * bscale,
                 "b1": D.sum(axis=1) * bscale,
                 "W2": grads["W2"] * (scale * bscale), "b2": grads["b2"] * (scale * bscale)}
    loss = float(per_seq.mean() if batch == "mean" else per_seq.sum())
    outputs = env["a1"].reshape(m, n_out, B).transpose(1, 0, 2)
    return RecurrentEvaluation(loss, per_seq, z, h, outputs, deltay, delta, gradients, batch)


def sequences_arrays(r: Recurrence, per_step: bool | None = None):
    """(X, Y, h0) of the spec's sequences: (T, inputs, B), (outputs, m, B), (H,) or None."""
    X = np.array([[[float(v) for v in row] for row in s.x] for s in r.sequences]).transpose(1, 2, 0)
    Y = np.array([[[float(v) for v in row] for row in s.y] for s in r.sequences]).transpose(1, 2, 0)
    h0 = None if r.h0 is None else np.array([float(v) for v in r.h0])
    return X, Y, h0


def all_finite(ev: RecurrentEvaluation) -> bool:
    return bool(np.isfinite(ev.loss) and all(np.isfinite(g).all() for g in ev.gradients.values()))


@dataclass(frozen=True)
class RecurrentTraining:
    loss_history: list
    parameters: dict[str, np.ndarray]
    learning_rate: float
    diverged: tuple | None
    optimizer: str

    @property
    def final_loss(self) -> float:
        return self.loss_history[-1]


def train_recurrent(c: CompiledRecurrent, params, X, Y, h0, steps: int, settings: Settings,
                    batch: str = "mean", frozen: dict | None = None,
                    keep_going: bool = False) -> RecurrentTraining:
    """``steps`` full-batch optimiser steps (``settings``: plain gradient descent or the
    spec's [optimizer], torch's update formulas); ``loss_history[i]`` after i steps."""
    state, history, diverged = State(), [], None
    with np.errstate(all="ignore"):
        for step in range(steps + 1):
            ev = evaluate_recurrent(c, params, X, Y, h0, batch)
            history.append(ev.loss)
            if diverged is None and not all_finite(ev):
                diverged = (step, "the loss or a gradient is not finite")
                if not keep_going:
                    break
            if step == steps:
                break
            params, state = optimizer_step(settings, params, ev.gradients, state,
                                           learning_rate_at(settings, step), frozen)
    return RecurrentTraining(history, params, settings.base_lr, diverged, settings.name)


__all__ = ["CompiledRecurrent", "RecurrentEvaluation", "RecurrentTraining", "compile_recurrent",
           "evaluate_recurrent", "plain", "sequences_arrays", "train_recurrent"]
