"""The first k optimiser steps of the worked example (``derive --steps k``, issue #20).

Each step is ``train``'s step: the spec's ``[optimizer]`` (plain gradient descent
without one) on the step's mini-batch (the full batch, or ``batch_order``), the
batch loss with its ``[regularization]`` penalty, η from the schedule.  For every
parameter it records θ_{t−1}, the gradient g, the gradient with L2-style weight
decay g + λθ, every optimiser state (v; s and b; m, v, m̂, v̂) and θ_t.

Two routes: ``float_steps`` in float64 (``numeric.optimizers``, PyTorch's formulas),
and ``exact_steps`` in SymPy: rationals stay rational, a square root of a rational is
an exact algebraic number (√(v̂) of Adam's first step is |g|), and a value that is
neither — σ, tanh, exp, or an algebraic number too large to carry — is kept to
``worked.PRECISION`` (50) significant digits.  ``Steps.approximate`` counts those.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify   # numbers and SymPy objects only, never text

from ..core.derive import Derivation
from ..core.errors import SpecError
from ..core.limits import LimitError, run_bounded
from ..core.notation import Notation
from ..core.optimizer import Optimizer, Regularization
from ..core.parameters import frozen_mask, parameters_from_spec, samples_from_spec, tie_gradients
from .optimizers import State, batch_order, decayed, learning_rate_at, optimizer_step
from .train import penalised, settings_of
from .worked import EXACT_MEMORY_MB, EXACT_SECONDS, PRECISION, _groups, _rationals, definitions, settle

MAX_STEPS_SHOWN = 20          # derive --steps k: at most this many steps
MAX_ALGEBRAIC_OPS = 150       # an algebraic value larger than this is kept to 50 digits
# the states each optimiser shows, in order (m̂, v̂: Adam's bias-corrected moments)
STATES = {"sgd": ("v",), "momentum": ("v",), "nesterov": ("v",), "rmsprop": ("s", "b"),
          "adam": ("m", "v", "m_hat", "v_hat"), "adamw": ("m", "v", "m_hat", "v_hat")}
TORCH_BUFFERS = {"momentum_buffer": "v", "square_avg": "s", "exp_avg": "m", "exp_avg_sq": "v"}
HYPER = {"sgd": ("momentum", "weight_decay"), "momentum": ("momentum", "weight_decay"),
         "nesterov": ("momentum", "weight_decay"),
         "rmsprop": ("alpha", "eps", "momentum", "weight_decay"),
         "adam": ("beta1", "beta2", "eps", "weight_decay"),
         "adamw": ("beta1", "beta2", "eps", "weight_decay")}


@dataclass(frozen=True)
class Step:
    """Optimiser step ``t`` (from 1) at learning rate ``lr`` on the examples ``examples``
    (indices from 0): ``loss`` is that batch's loss at θ_{t−1}; ``old``, ``grad``,
    ``decayed_grad`` (g + λθ where L2-style weight decay applies; else absent), each
    state of ``states`` and ``new`` map every parameter symbol to its number."""

    t: int
    lr: Any
    examples: tuple[int, ...]
    loss: Any
    old: dict
    grad: dict
    decayed_grad: dict
    states: tuple[tuple[str, dict], ...]
    new: dict

    def state(self, key: str) -> dict:
        return dict(self.states)[key]


@dataclass(frozen=True)
class Steps:
    """The first steps of the spec's optimiser: ``name`` (sgd … adamw), its numbers
    ``hyper`` (name → value, η₀ as ``lr``), ``exact`` arithmetic or float64;
    ``approximate`` (exact route) counts the values kept to 50 digits, ``algebraic``
    those that are exact irrational algebraic numbers (square roots)."""

    name: str
    hyper: dict
    steps: tuple[Step, ...]
    exact: bool
    decay_biases: bool
    batch_size: int | None
    shuffle_seed: int | None
    n_examples: int
    plain: bool                  # no [optimizer] table: gradient descent at [values]' η
    schedule: Any = None
    approximate: int = 0
    algebraic: int = 0

    @property
    def state_keys(self) -> tuple[str, ...]:
        keys = STATES[self.name]
        if self.name == "rmsprop" and not self.hyper["momentum"]:
            return ("s",)
        if self.name == "sgd" and not self.hyper["momentum"]:
            return ()
        return keys

    @property
    def decoupled(self) -> bool:
        return self.name == "adamw"

    @property
    def has_decay(self) -> bool:
        return bool(self.hyper["weight_decay"])

    def inexact(self, value) -> bool:
        """Is ``value`` (exact route) a 50-digit evaluation rather than an exact number?"""
        return self.exact and isinstance(value, sp.Basic) and bool(value.atoms(sp.Float))

    def shown(self, value):
        """``value`` as the number formatter takes it: an exact algebraic number as its
        decimal expansion to 60 digits (evaluated, never rounded in between)."""
        if isinstance(value, sp.Basic) and not value.is_Rational and not value.is_Float:
            return sp.Float(value.evalf(PRECISION + 10), PRECISION + 10)
        return value

    def closed(self, value) -> bool:
        """Is ``value`` an exact irrational algebraic number (shown in closed form)?"""
        return self.exact and isinstance(value, sp.Basic) and not value.is_Rational \
            and not value.atoms(sp.Float)


def _by_symbol(d: Derivation, arrays: dict) -> dict:
    out = {}
    for layer in d.network.dense_layers:
        out.update(zip(layer.W, np.asarray(arrays[f"W{layer.index}"]).ravel().tolist()))
        out.update(zip(layer.b, np.asarray(arrays[f"b{layer.index}"]).ravel().tolist()))
    return out


def _optimizer(model) -> tuple[Optimizer | None, str]:
    opt = model.spec.optimizer
    return opt, (opt.name if opt is not None else "sgd")


def _frame(model, opt, settings, exact: bool, steps, approximate=0, algebraic=0) -> Steps:
    n = len(model.spec.values.samples)
    exact_number = (lambda v: sp.Rational(str(v))) if exact else (lambda v: v)
    hyper = {k: exact_number(getattr(settings, k)) for k in HYPER[settings.name]}
    hyper["lr"] = exact_number(settings.base_lr)
    return Steps(settings.name, hyper, tuple(steps), exact,
                 settings.decay_biases, opt.batch_size if opt else None,
                 opt.shuffle_seed if opt else None, n, opt is None, settings.schedule,
                 approximate, algebraic)


def float_steps(model, k: int, lr: float | None = None, init: int | None = None) -> Steps:
    """The first ``k`` steps of ``train`` in float64, every state recorded."""
    opt, _ = _optimizer(model)
    settings = settings_of(model, lr, opt)
    params = model.parameters(init)
    X, Y = samples_from_spec(model.spec)
    order = batch_order(X.shape[1], opt and opt.batch_size, opt and opt.shuffle_seed)
    frozen = frozen_mask(model.spec, model.notation.slots)
    d, state, out = model.derivation, State(), []
    for t in range(1, k + 1):
        idx = next(order)
        with np.errstate(all="ignore"):
            ev = penalised(model, params, X[:, idx], Y[:, idx])
        grads = tie_gradients(ev.gradients, model.notation.slots)
        rate = learning_rate_at(settings, t - 1)
        new, state = optimizer_step(settings, params, grads, state, rate, frozen)
        wd = settings.weight_decay
        decayed_grad = {} if not wd or settings.name == "adamw" else _by_symbol(
            d, {key: g + wd * params[key] if decayed(key, settings) else g
                for key, g in grads.items()})
        states = {TORCH_BUFFERS[kind]: _by_symbol(d, arrs) for kind, arrs in state.buffers.items()}
        if settings.name in ("adam", "adamw"):
            states["m_hat"] = {s: v / (1 - settings.beta1 ** t) for s, v in states["m"].items()}
            states["v_hat"] = {s: v / (1 - settings.beta2 ** t) for s, v in states["v"].items()}
        if settings.name == "rmsprop" and "v" in states:
            states["b"] = states.pop("v")             # its momentum buffer
        out.append(Step(t, rate, tuple(int(i) for i in idx), float(ev.loss), _by_symbol(d, params),
                        _by_symbol(d, grads), decayed_grad,
                        tuple((key, states[key]) for key in STATES[settings.name] if key in states),
                        _by_symbol(d, new)))
        params = new
    return _frame(model, opt, settings, False, out)


# ---- exact arithmetic ---------------------------------------------------------------


def _algebraic(v: sp.Expr) -> bool:
    """A number built from rationals by + − × ÷ and rational powers (square roots)."""
    if v.free_symbols or v.atoms(sp.Float, sp.Function, sp.NumberSymbol) or v.has(sp.I):
        return False
    return all(p.exp.is_Rational for p in v.atoms(sp.Pow))


def keep(v) -> sp.Expr:
    """A rational stays; a small algebraic number is kept exactly (SymPy's own
    simplification: √(4/9) = 2/3); anything else is evaluated to 50 significant digits
    (``worked.settle``)."""
    v = _sympify(v)
    if v.is_Rational:
        return v
    if _algebraic(v) and sp.count_ops(v) <= MAX_ALGEBRAIC_OPS:
        return v
    return settle(v)


def _value(env: dict, defs: dict, expr) -> sp.Expr:
    v = _sympify(expr).xreplace(env)
    if v.is_Rational or _algebraic(v):
        return keep(v)
    # from the pre-activations with exact rationals: no cancellation in 1 − a; the value is
    # a 50-digit one (a rational made of 50-digit values is no exact number either)
    r = settle(_sympify(expr).xreplace(defs).xreplace(_rationals(env)))
    return r if r.atoms(sp.Float) else sp.Float(r, PRECISION)


def _example_gradients(d: Derivation, theta: dict, x, y) -> tuple[dict, sp.Expr]:
    """∂E/∂θ at every place (not tie-summed) and the loss of one example, exactly."""
    net = d.network
    q = lambda v: sp.Rational(str(v))       # noqa: E731 — the decimal as written
    env = {s: q(v) for s, v in zip(net.x, x)}
    env.update({s: q(v) for s, v in zip(net.y, y)})
    env.update(theta)
    defs = definitions(d)
    d.symbolic.substitute(env, settle=keep, delta_value=lambda f: _value(env, defs, f))
    return ({p: _value(env, defs, d.gradient(p)) for p in net.parameters},
            _value(env, defs, d.loss))


def _exact_schedule(sch, eta0, t: int):
    if sch is None:
        return eta0
    R = lambda v: sp.Rational(str(v))       # noqa: E731
    if sch.kind == "step":
        return eta0 * R(sch.gamma) ** (t // sch.step_size)
    if sch.kind == "exponential":
        return eta0 * R(sch.gamma) ** t
    eta_min = R(sch.eta_min)
    return keep(eta_min + (eta0 - eta_min) * (1 + sp.cos(sp.pi * sp.Rational(t, sch.T_max))) / 2)


def exact_steps(d: Derivation, nt: Notation, spec, params, k: int, rate: Decimal,
                opt: Optimizer | None) -> list[Step]:
    """The first ``k`` steps in exact arithmetic from the decimals as written: the same
    formulas as ``numeric.optimizers`` (PyTorch's), in SymPy (m̂ = m/(1 − β₁ᵗ),
    v̂ = v/(1 − β₂ᵗ), θ − η m̂/(√v̂ + ε))."""
    R = lambda v: sp.Rational(str(v))       # noqa: E731
    name = opt.name if opt else "sgd"
    h = {k_: R(getattr(opt, k_)) if opt else sp.Integer(0) for k_ in
         ("momentum", "beta1", "beta2", "eps", "alpha", "weight_decay")}
    eta0, reg = R(rate), spec.regularization
    weights = {s for layer in d.network.dense_layers for s in layer.W}
    decay = weights | ({s for layer in d.network.dense_layers for s in layer.b}
                       if opt is not None and opt.decay_biases else set())
    theta = _by_symbol(d, {key: np.vectorize(R, otypes=[object])(np.asarray(v, dtype=object))
                           for key, v in params.items()})
    frozen = {s for s, n in nt.names.items() if n in (spec.values.frozen if spec.values else ())}
    groups = [syms for syms in _groups(nt).values()]
    samples = spec.values.samples
    order = batch_order(len(samples), opt and opt.batch_size, opt and opt.shuffle_seed)
    buf: dict[str, dict] = {}
    out = []
    for t in range(1, k + 1):
        idx = [int(i) for i in next(order)]
        g = {p: sp.Integer(0) for p in theta}
        loss = sp.Integer(0)
        for i in idx:
            gi, li = _example_gradients(d, theta, samples[i].x, samples[i].y)
            g = {p: g[p] + gi[p] for p in g}
            loss += li
        n = len(idx) if spec.batch == "mean" else 1
        g = {p: keep(v / n) for p, v in g.items()}
        loss = keep(loss / n + _penalty(theta, weights, reg))
        g = {p: keep(v + _penalty_grad(theta[p], reg)) if p in weights else v for p, v in g.items()}
        for syms in groups:                   # a tied name: the sum over its places
            if len(syms) > 1:
                total = keep(sum((g[s] for s in syms), sp.Integer(0)))
                g.update({s: total for s in syms})
        lr = _exact_schedule(opt.schedule if opt else None, eta0, t - 1)
        new, states, dg = {}, {}, {}
        for p, th in theta.items():
            wd = h["weight_decay"] if p in decay else 0
            gp = g[p]
            if wd and name != "adamw":
                gp = dg[p] = keep(gp + wd * th)
            start = keep(th * (1 - lr * wd)) if name == "adamw" else th
            new[p] = _rule(name, h, p, start, gp, t, lr, buf, states)
            if p in frozen:
                new[p] = th
        out.append(Step(t, lr, tuple(idx), loss, dict(theta), g, dg,
                        tuple((key, states[key]) for key in STATES[name] if key in states), new))
        theta = new
    return out


def _penalty(theta, weights, reg: Regularization | None):
    if reg is None:
        return 0
    l2, l1 = sp.Rational(str(reg.l2)), sp.Rational(str(reg.l1))
    return sum((l2 / 2 * theta[w] ** 2 + l1 * sp.Abs(theta[w]) for w in weights), sp.Integer(0))


def _penalty_grad(w, reg: Regularization | None):
    if reg is None:
        return 0
    return sp.Rational(str(reg.l2)) * w + sp.Rational(str(reg.l1)) * sp.sign(w)


def _rule(name, h, p, theta, g, t, lr, buf, states):
    """One parameter's step (its states stored in ``buf`` and shown in ``states``)."""
    def put(key, value):
        value = keep(value)
        buf.setdefault(key, {})[p] = value
        states.setdefault(key, {})[p] = value
        return value

    mu = h["momentum"]
    if name in ("sgd", "momentum", "nesterov"):
        if mu == 0:
            return keep(theta - lr * g)
        v = put("v", g if t == 1 else mu * buf["v"][p] + g)    # torch: v ← g on step 1
        return keep(theta - lr * (g + mu * v if name == "nesterov" else v))
    if name == "rmsprop":
        s = put("s", h["alpha"] * buf.get("s", {}).get(p, 0) + (1 - h["alpha"]) * g ** 2)
        step = g / (sp.sqrt(s) + h["eps"])                     # ε outside the root
        if mu:
            step = put("b", mu * buf.get("b", {}).get(p, 0) + step)
        return keep(theta - lr * step)
    m = put("m", h["beta1"] * buf.get("m", {}).get(p, 0) + (1 - h["beta1"]) * g)
    v = put("v", h["beta2"] * buf.get("v", {}).get(p, 0) + (1 - h["beta2"]) * g ** 2)
    m_hat = put("m_hat", m / (1 - h["beta1"] ** t))           # t counted from 1
    v_hat = put("v_hat", v / (1 - h["beta2"] ** t))
    return keep(theta - lr * m_hat / (sp.sqrt(v_hat) + h["eps"]))


def _count(steps: list[Step]) -> tuple[int, int]:
    approx = algebraic = 0
    for st in steps:
        for table in (st.old, st.grad, st.new, *dict(st.states).values()):
            for v in table.values():
                if v.atoms(sp.Float):
                    approx += 1
                elif not v.is_Rational:
                    algebraic += 1
    return approx, algebraic


def model_steps(model, k: int, exact: bool = False, lr: float | None = None,
                init: int | None = None) -> Steps:
    """``float_steps``, or the exact steps within the ``--exact`` time and memory limit."""
    if not 1 <= k <= MAX_STEPS_SHOWN:
        raise SpecError(f"--steps {k}: expected 1 to {MAX_STEPS_SHOWN} optimiser steps for the "
                        "document (train runs any number).")
    if not exact:
        return float_steps(model, k, lr, init)
    opt, _ = _optimizer(model)
    settings = settings_of(model, lr, opt)
    rate = Decimal(str(model._rate(lr))) if lr is None else Decimal(str(lr))
    params = parameters_from_spec(model.spec, init, names=model.notation.slots, exact=True)
    try:
        steps = run_bounded(exact_steps, (model.derivation, model.notation, model.spec, params, k,
                                          rate, opt), seconds=EXACT_SECONDS,
                            memory_mb=EXACT_MEMORY_MB,
                            describe=lambda exc: str(exc) if isinstance(exc, SpecError) else
                            f"{type(exc).__name__}: {exc}")
    except LimitError as exc:
        raise SpecError(f"--exact --steps {k}: the exact optimiser steps {exc}; the float64 "
                        "steps (without --exact) have no such cost.") from None
    approx, algebraic = _count(steps)
    return _frame(model, opt, settings, True, steps, approx, algebraic)
