"""Numbers from the derivation: lambdified local formulas, vectorised layers.

SymPy derives each layer's local pieces (f, f', ∂ℓ/∂a, δ^L); ``lambdify``
prints them with one scalar symbol standing for a whole array, and the
layer loop below does the matrix products, batched over examples (one
example per column).  One scalar lambda per weight would be 6–26× slower
and cannot be built at all for real layer sizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
from sympy.codegen.rewriting import expm1_opt, optimize

from ..core.derive import A, Y, Z, Derivation
from ..core.functions import NUMPY_FUNCTIONS

S = sp.Symbol("S", real=True)          # Σ_i y_i, in the softmax + CE δ^L
LOGA, LOG1MA = sp.symbols("loga log1ma", real=True)
MODULES = [NUMPY_FUNCTIONS, "numpy"]


def _lambdify(args, expr) -> Callable:
    return sp.lambdify(args, expr, modules=MODULES)


def _clamped(branch: sp.Expr, cond) -> sp.Expr:
    """``branch`` with its variable clamped to where ``cond`` (z <= c, z < c, z >= c, z > c) holds."""
    if isinstance(cond, sp.core.relational.Relational) and cond.lhs.is_Symbol and cond.rhs.is_Number:
        if isinstance(cond, (sp.LessThan, sp.StrictLessThan)):
            return branch.xreplace({cond.lhs: sp.Min(cond.lhs, cond.rhs)})
        if isinstance(cond, (sp.GreaterThan, sp.StrictGreaterThan)):
            return branch.xreplace({cond.lhs: sp.Max(cond.lhs, cond.rhs)})
    return branch


def branch_safe(expr: sp.Expr) -> sp.Expr:
    """``expr`` written for NumPy, which computes every branch of a Piecewise on every entry.

    In a branch with ``exp`` guarded by ``z <= c`` the variable is clamped to min(z, c): the
    same value wherever the branch is taken, and no overflow where it is not (ELU's
    α(e^z − 1) at z = 1000); then e^u − 1 is written expm1(u), exact near u = 0.

    >>> z = sp.Symbol("z", real=True)
    >>> branch_safe(sp.Piecewise((sp.exp(z) - 1, z <= 0), (z, True)))
    Piecewise((expm1(Min(0, z)), z <= 0), (z, True))
    """
    if not expr.has(sp.Piecewise):
        return expr
    expr = expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: sp.Piecewise(
        *[(_clamped(b, c) if b.has(sp.exp) else b, c) for b, c in e.args]))
    return optimize(expr, [expm1_opt])


@dataclass(frozen=True)
class LayerCode:
    name: str
    f: Callable | None             # a = f(z), elementwise (None: softmax)
    fprime: Callable | None        # f'(z, a), elementwise (None: softmax)


@dataclass(frozen=True)
class Compiled:
    """The numeric form of a derivation: what ``evaluate`` runs."""

    layers: tuple[LayerCode, ...]
    loss_term: Callable            # ℓ(a, y, log a, log(1 − a)), elementwise
    loss_mean: bool                # E = (1/m) Σ ℓ (mse) or Σ ℓ
    dterm: Callable                # ∂E/∂a_j(a, y), elementwise
    delta_out: Callable | None     # δ^L(a, y, z, Σy), elementwise; None: Jacobian product
    output_activation: str
    needs_logs: bool = True        # the loss term uses log a or log(1 − a)


def compile_derivation(d: Derivation) -> Compiled:
    """Lambdify the derivation's per-layer formulas.

    >>> from symbackprop.core.spec import parse_spec
    >>> from symbackprop.core.network import build_network
    >>> from symbackprop.core.derive import derive
    >>> c = compile_derivation(derive(build_network(parse_spec('inputs = 1\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"'))))
    >>> float(c.layers[0].fprime(0.0, 0.5))
    0.75
    """
    layers = []
    for layer, ld in zip(d.layers, d.local):
        if layer.activation.layerwise:
            layers.append(LayerCode(layer.activation.name, None, None))
            continue
        fprime = ld.fprime_output if ld.fprime_output is not None else ld.fprime
        layers.append(LayerCode(layer.activation.name, _lambdify([Z], branch_safe(ld.f)),
                                _lambdify([Z, A], branch_safe(fprime))))
    out = d.network.output
    term = d.loss_term.subs(sp.log(1 - A), LOG1MA).subs(sp.log(A), LOGA)
    scale = sp.Rational(1, out.n_out) if d.network.loss.mean else sp.S.One
    delta_out = (None if d.delta_output is sp.nan
                 else _lambdify([A, Y, Z, S], branch_safe(d.delta_output)))
    return Compiled(tuple(layers), _lambdify([A, Y, LOGA, LOG1MA], term), d.network.loss.mean,
                    _lambdify([A, Y], sp.diff(d.loss_term, A) * scale), delta_out,
                    out.activation.name, bool(term.free_symbols & {LOGA, LOG1MA}))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _logs(c: Compiled, z: np.ndarray, a: np.ndarray):
    """log a and log(1 − a) of the outputs, without overflow or log(0) where avoidable."""
    if c.output_activation == "sigmoid":
        return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    if c.output_activation == "softmax":
        m = z.max(axis=0, keepdims=True)
        with np.errstate(divide="ignore"):   # log(1 - a) is unused by cross-entropy
            log1ma = np.log1p(-a)
        return z - m - np.log(np.exp(z - m).sum(axis=0, keepdims=True)), log1ma
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a), np.log1p(-a)


@dataclass(frozen=True)
class Evaluation:
    """Every number of one forward and backward pass (columns = examples)."""

    loss: float
    losses: np.ndarray                 # per example
    z: tuple[np.ndarray, ...]
    a: tuple[np.ndarray, ...]          # a[0] is x
    delta: tuple[np.ndarray, ...]
    gradients: dict[str, np.ndarray]   # W1, b1, ... (batch-reduced)
    batch: str

    @property
    def outputs(self) -> np.ndarray:
        return self.a[-1]


def _shaped(x, shape) -> np.ndarray:
    """``x`` as an array of ``shape``: a lambdified constant (f' = 1) is broadcast; an
    array that already has the shape is returned as is (broadcast_to costs ~4 µs a call)."""
    return x if getattr(x, "shape", None) == shape else np.broadcast_to(x, shape)


def forward(c: Compiled, params: dict[str, np.ndarray], X: np.ndarray):
    zs, acts = [], [X]
    for l, code in enumerate(c.layers, start=1):
        z = params[f"W{l}"] @ acts[-1] + params[f"b{l}"][:, None]
        a = softmax(z) if code.f is None else _shaped(code.f(z), z.shape)
        zs.append(z)
        acts.append(a)
    return zs, acts


def loss_values(c: Compiled, z_out, a_out, Yb) -> np.ndarray:
    """Per-example loss E for each column."""
    loga, log1ma = _logs(c, z_out, a_out) if c.needs_logs else (None, None)
    terms = _shaped(c.loss_term(a_out, Yb, loga, log1ma), a_out.shape)
    per = terms.sum(axis=0)
    return per / a_out.shape[0] if c.loss_mean else per


def loss(c: Compiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean") -> float:
    """The batch loss alone (forward pass only): the baseline of the cheap-gradient ratio."""
    zs, acts = forward(c, params, np.asarray(X, float))
    losses = loss_values(c, zs[-1], acts[-1], np.asarray(Yb, float))
    return float(losses.mean() if batch == "mean" else losses.sum())


def evaluate(c: Compiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean") -> Evaluation:
    """Forward pass, loss, δ per layer and all gradients, for examples in columns."""
    X, Yb = np.asarray(X, float), np.asarray(Yb, float)
    zs, acts = forward(c, params, X)
    losses = loss_values(c, zs[-1], acts[-1], Yb)
    n = X.shape[1]
    scale = 1.0 / n if batch == "mean" else 1.0
    deltas = [None] * len(c.layers)
    # δ^L = ∇_a E ⊙ f'(z^L)   (Jacobian product for softmax)
    if c.delta_out is not None:
        delta = c.delta_out(acts[-1], Yb, zs[-1], Yb.sum(axis=0, keepdims=True))
    else:
        g = _shaped(c.dterm(acts[-1], Yb), acts[-1].shape)
        a = acts[-1]
        delta = a * (g - (a * g).sum(axis=0, keepdims=True))
    deltas[-1] = _shaped(delta, zs[-1].shape)
    # δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f_l'(z^l)
    for l in range(len(c.layers) - 1, 0, -1):
        back = params[f"W{l + 1}"].T @ deltas[l]
        deltas[l - 1] = back * c.layers[l - 1].fprime(zs[l - 1], acts[l])
    grads = {}
    for l in range(1, len(c.layers) + 1):
        # ∂E/∂W^l = δ^l (a^{l−1})ᵀ,  ∂E/∂b^l = δ^l   (summed or averaged over the batch)
        grads[f"W{l}"] = (deltas[l - 1] @ acts[l - 1].T) * scale
        grads[f"b{l}"] = deltas[l - 1].sum(axis=1) * scale
    loss = float(losses.mean() if batch == "mean" else losses.sum())
    return Evaluation(loss, losses, tuple(zs), tuple(acts), tuple(deltas), grads, batch)


def update(params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float,
           frozen_mask: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """One gradient-descent step θ ← θ − η ∂E/∂θ (frozen entries stay put)."""
    new = {}
    for key, value in params.items():
        step = lr * grads[key]
        if frozen_mask is not None and key in frozen_mask:
            step = np.where(frozen_mask[key], 0.0, step)
        new[key] = value - step
    return new
