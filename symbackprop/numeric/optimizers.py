"""Optimisers, learning-rate schedules, mini-batches and weight penalties (issue #20).

The update formulas are PyTorch's (``torch.optim``, 2.13, float64), written per
parameter array; ``t`` counts optimiser steps from 1:

- sgd / momentum: g ← g + λθ (weight decay); v ← g on the first step, else
  v ← μv + g; θ ← θ − η v.  (The textbook v ← μv − ηg, θ ← θ + v is the same for
  constant η.)
- nesterov: as momentum, then θ ← θ − η (g + μv).
- rmsprop: s ← αs + (1 − α)g²; θ ← θ − η g / (√s + ε)  (ε outside the root;
  with momentum: b ← μb + g / (√s + ε), θ ← θ − η b).
- adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
  θ ← θ − (η / (1 − β₁ᵗ)) m / (√v / √(1 − β₂ᵗ) + ε); weight decay as in sgd (L2 in g).
- adamw: θ ← θ(1 − ηλ) first (decoupled decay), then adam's step without λ in g.

Weight decay (and ``[regularization]``) touches the weights W only, unless
``decay_biases``.  A frozen place never moves; a tied name has one gradient (the
sum over its places), so its places keep one value and one state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..core.optimizer import Optimizer, Regularization, Schedule

# the state arrays each optimiser keeps (torch's names), per parameter array
STATE_KEYS = {"sgd": ("momentum_buffer",), "momentum": ("momentum_buffer",),
              "nesterov": ("momentum_buffer",), "rmsprop": ("square_avg", "momentum_buffer"),
              "adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq")}


@dataclass(frozen=True)
class Settings:
    """An optimiser's numbers in float64 (``base_lr`` after the --lr precedence)."""

    name: str
    base_lr: float
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    alpha: float = 0.99
    weight_decay: float = 0.0
    decay_biases: bool = False
    schedule: Schedule | None = None

    @classmethod
    def of(cls, opt: Optimizer, base_lr: float) -> "Settings":
        return cls(opt.name, float(base_lr), float(opt.momentum), float(opt.beta1),
                   float(opt.beta2), float(opt.eps), float(opt.alpha), float(opt.weight_decay),
                   opt.decay_biases, opt.schedule)


def plain(rate: float) -> Settings:
    """Plain gradient descent θ ← θ − η g (no [optimizer] table): torch's SGD, μ = 0."""
    return Settings("sgd", float(rate))


@dataclass
class State:
    """``t`` steps taken; ``buffers[kind][key]`` the arrays (absent until first made)."""

    t: int = 0
    buffers: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def copy(self) -> "State":
        return State(self.t, {k: {p: v.copy() for p, v in arrs.items()}
                              for k, arrs in self.buffers.items()})


def learning_rate_at(s: Settings, t: int) -> float:
    """η after ``t`` scheduler steps (torch's closed forms of StepLR, ExponentialLR,
    CosineAnnealingLR).

    >>> from decimal import Decimal
    >>> learning_rate_at(Settings("sgd", 1.0, schedule=Schedule("step", 2, Decimal("0.5"))), 5)
    0.25
    """
    sch, eta = s.schedule, s.base_lr
    if sch is None:
        return eta
    if sch.kind == "step":
        return eta * float(sch.gamma) ** (t // sch.step_size)
    if sch.kind == "exponential":
        return eta * float(sch.gamma) ** t
    eta_min = float(sch.eta_min)
    return eta_min + (eta - eta_min) * (1 + math.cos(math.pi * t / sch.T_max)) / 2


def decayed(key: str, s_or_biases) -> bool:
    """Whether array ``key`` (W1, b1, …) is decayed: weights always, biases if asked."""
    biases = s_or_biases if isinstance(s_or_biases, bool) else s_or_biases.decay_biases
    return key.startswith("W") or biases


def optimizer_step(s: Settings, params: dict, grads: dict, state: State, lr: float,
                   frozen: dict | None = None) -> tuple[dict, State]:
    """One optimiser step at learning rate ``lr``: (new parameters, new state)."""
    state = state.copy()
    state.t += 1
    new = {}
    for key, theta in params.items():
        g = np.asarray(grads[key], dtype=float)
        wd = s.weight_decay if decayed(key, s) else 0.0
        if s.name == "adamw":
            theta_next = _adam(s, key, theta * (1 - lr * wd), g, state, lr)
        else:
            if wd:
                g = g + wd * theta
            rule = _adam if s.name == "adam" else _rmsprop if s.name == "rmsprop" else _sgd
            theta_next = rule(s, key, theta, g, state, lr)
        if frozen is not None and key in frozen:
            theta_next = np.where(frozen[key], theta, theta_next)
        new[key] = theta_next
    return new, state


def _buffer(state: State, kind: str, key: str):
    return state.buffers.setdefault(kind, {}).get(key)


def _keep(state: State, kind: str, key: str, value: np.ndarray) -> np.ndarray:
    state.buffers.setdefault(kind, {})[key] = value
    return value


def _sgd(s: Settings, key, theta, g, state, lr):
    if s.momentum == 0:
        return theta - lr * g
    buf = _buffer(state, "momentum_buffer", key)
    # torch: the buffer starts as g itself (not μ·0 + g, the same number)
    buf = _keep(state, "momentum_buffer", key, g.copy() if buf is None else s.momentum * buf + g)
    direction = g + s.momentum * buf if s.name == "nesterov" else buf
    return theta - lr * direction


def _rmsprop(s: Settings, key, theta, g, state, lr):
    sq = _buffer(state, "square_avg", key)
    sq = _keep(state, "square_avg", key,
               s.alpha * (np.zeros_like(g) if sq is None else sq) + (1 - s.alpha) * g * g)
    avg = np.sqrt(sq) + s.eps                       # ε outside the square root
    if s.momentum > 0:
        buf = _buffer(state, "momentum_buffer", key)
        buf = _keep(state, "momentum_buffer", key,
                    s.momentum * (np.zeros_like(g) if buf is None else buf) + g / avg)
        return theta - lr * buf
    return theta - lr * g / avg


def _adam(s: Settings, key, theta, g, state, lr):
    m = _buffer(state, "exp_avg", key)
    v = _buffer(state, "exp_avg_sq", key)
    m = np.zeros_like(g) if m is None else m
    v = np.zeros_like(g) if v is None else v
    m = _keep(state, "exp_avg", key, m + (1 - s.beta1) * (g - m))     # torch's lerp
    v = _keep(state, "exp_avg_sq", key, s.beta2 * v + (1 - s.beta2) * g * g)
    t = state.t                                      # counted from 1
    step_size = lr / (1 - s.beta1 ** t)
    denom = np.sqrt(v) / math.sqrt(1 - s.beta2 ** t) + s.eps
    return theta - step_size * m / denom


def batch_order(n: int, batch_size: int | None, seed: int | None):
    """The example indices of every step, epoch after epoch: with a seed one permutation
    an epoch from ``numpy.random.Generator(PCG64(seed))``, else in order; the last batch
    of an epoch may be smaller (torch's DataLoader, drop_last=False).

    >>> order = batch_order(5, 2, 0)
    >>> [sorted(next(order).tolist() + next(order).tolist() + next(order).tolist())]
    [[0, 1, 2, 3, 4]]
    """
    size = n if batch_size is None else min(batch_size, n)
    rng = None if seed is None else np.random.Generator(np.random.PCG64(seed))
    while True:
        perm = np.arange(n) if rng is None else rng.permutation(n)
        for start in range(0, n, size):
            yield perm[start:start + size]


def steps_per_epoch(n: int, batch_size: int | None) -> int:
    return 1 if batch_size is None else -(-n // min(batch_size, n))


def penalty(params: dict, reg: Regularization | None) -> float:
    """(l2/2) Σ w² + l1 Σ |w| over the places of the weight arrays W."""
    if reg is None:
        return 0.0
    l2, l1 = float(reg.l2), float(reg.l1)
    return float(sum(l2 / 2 * np.sum(v * v) + l1 * np.sum(np.abs(v))
                     for k, v in params.items() if decayed(k, False)))


def penalty_gradients(params: dict, reg: Regularization | None) -> dict:
    """∂penalty/∂θ: l2 w + l1 sign(w) (sign(0) = 0) on the weights, 0 on the biases."""
    out = {}
    for k, v in params.items():
        if reg is None or not decayed(k, False):
            out[k] = np.zeros_like(v, dtype=float)
        else:
            out[k] = float(reg.l2) * v + float(reg.l1) * np.sign(v)
    return out


def state_json(s: Settings, state: State, lr: float) -> dict:
    """The optimiser's state after the last step, for ``train --json``."""
    return {"name": s.name, "step": state.t, "learning_rate": lr,
            "buffers": {kind: {k: v.tolist() for k, v in arrs.items()}
                        for kind, arrs in state.buffers.items()}}
