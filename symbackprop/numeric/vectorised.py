"""Numbers from the derivation: lambdified local formulas, vectorised layers.

SymPy derives each layer's local pieces (f, f', ∂ℓ/∂a, δ^L); ``lambdify``
prints them with one scalar symbol standing for a whole array, and the
derivation's program (core.program) is compiled once into NumPy steps, one
per equation, that do the matrix products batched over examples (one
example per column).  One scalar lambda per weight would be 6–26× slower
and cannot be built at all for real layer sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import sympy as sp
from sympy.codegen.rewriting import expm1_opt, optimize

from ..core.derive import Derivation
from ..core.program import Eqn, Program
from ..core.functions import NUMPY_FUNCTIONS, sigmoid
from ..core.symbols import A, LOG1MA, LOGA, S, Y, Z


class softplus_ratio(sp.Function):
    """σ(z) / softplus(z): the factor of δ^L for cross-entropy after a softplus output,
    −y σ(z)/a, which NumPy would compute as 0/0 once e^z underflows (z < −745)."""

    nargs = 1


# Below this z, e^z < 2.1e-9: log softplus(z) = z − e^z/2 and σ(z)/softplus(z) = 1 − e^z/2,
# each to within e^{2z} ≈ 4e-18 (the next terms of the series in u = e^z).
SERIES_BELOW = -20.0


def log_softplus(z):
    """log(log(1 + e^z)) to rounding for every float z (NumPy's log of softplus is −inf
    below z ≈ −745 and 744.44 at −745; the true values are z − e^z/2 ≈ z).

    >>> [float(v) for v in log_softplus(np.array([-1000.0, -745.0, 0.0, 1e308]))]
    [-1000.0, -745.0, -0.36651292058166435, 709.1962086421661]
    """
    z = np.asarray(z, dtype=float)
    with np.errstate(divide="ignore", under="ignore"):
        direct = np.log(np.logaddexp(0.0, z))
        series = z - 0.5 * np.exp(np.minimum(z, SERIES_BELOW))
    return np.where(z < SERIES_BELOW, series, direct)


def softplus_ratio_numpy(z):
    """σ(z) / softplus(z) to rounding for every float z (1 as z → −∞, 1/z as z → ∞).

    >>> [float(v) for v in softplus_ratio_numpy(np.array([-1000.0, 0.0, 1e308]))]
    [1.0, 0.7213475204444817, 1e-308]
    """
    z = np.asarray(z, dtype=float)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        direct = 1.0 / (1.0 + np.exp(-z)) / np.logaddexp(0.0, z)
        series = 1.0 - 0.5 * np.exp(np.minimum(z, SERIES_BELOW))
    return np.where(z < SERIES_BELOW, series, direct)


MODULES = [{**NUMPY_FUNCTIONS, "softplus_ratio": softplus_ratio_numpy}, "numpy"]


def stable_delta_output(d: Derivation) -> sp.Expr:
    """δ^L as the numeric code computes it: for a softplus output, σ(z)/a (a = softplus z)
    as ``softplus_ratio(z)``, finite where both underflow.

    >>> from symbackprop.api import prepare
    >>> stable_delta_output(prepare('inputs = 1\\nloss = "cross_entropy"\\n[[layer]]\\n'
    ...                             'size = 1\\nactivation = "softplus"').derivation)
    -y*softplus_ratio(z)
    """
    closed = stable_delta(d.program)
    return sp.nan if closed is None else closed


def stable_delta(p: Program) -> sp.Expr | None:
    """The closed δ of ``p``'s output equation (None: none), written stably (see
    ``stable_delta_output``)."""
    closed = p.output_delta.closed
    if closed is None or p.output.activation.name != "softplus":
        return closed
    return closed.subs(sigmoid(Z) / A, softplus_ratio(Z))


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
    """The numeric form of a derivation: what ``evaluate`` runs.  ``forward_steps``,
    ``backward_steps`` and ``gradient_steps`` are the program compiled once: each step
    is one equation as a NumPy closure over an environment of arrays."""

    layers: tuple[LayerCode, ...]  # per node of the program
    loss_term: Callable            # ℓ(a, y, log a, log(1 − a)), elementwise
    loss_mean: bool                # E = (1/m) Σ ℓ (mse) or Σ ℓ
    dterm: Callable                # ∂E/∂a_j(a, y), elementwise
    delta_out: Callable | None     # δ^L(a, y, z, Σy), elementwise; None: Jacobian product
    output_activation: str
    needs_logs: bool = True        # the loss term uses log a or log(1 − a)
    forward_steps: tuple = ()
    backward_steps: tuple = ()
    gradient_steps: tuple = ()
    output: int = 0                # the output node
    n_nodes: int = 0


def compile_derivation(d: Derivation) -> Compiled:
    """Lambdify the derivation's per-layer formulas and compile its program.

    >>> from symbackprop.core.spec import parse_spec
    >>> from symbackprop.core.network import build_network
    >>> from symbackprop.core.derive import derive
    >>> c = compile_derivation(derive(build_network(parse_spec('inputs = 1\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"'))))
    >>> float(c.layers[0].fprime(0.0, 0.5))
    0.75
    """
    return compile_program(d.program)


def compile_program(p: Program) -> Compiled:
    """``p`` as float64 NumPy steps, batched over the columns (see ``Compiled``)."""
    layers = []
    for n in p.nodes:
        ld = n.local
        if n.activation.layerwise:
            layers.append(LayerCode(n.activation.name, None, None))
            continue
        layers.append(LayerCode(n.activation.name, _lambdify([Z], branch_safe(ld.f)),
                                _lambdify([Z, A], branch_safe(ld.slope))))
    out = p.output
    term = p.loss.term(A, Y)
    logterm = term.subs(sp.log(1 - A), LOG1MA).subs(sp.log(A), LOGA)
    if out.activation.layerwise and logterm.has(LOGA):
        # loss_values computes softmax's log loss itself, as −y log a
        assert sp.expand(logterm + Y * LOGA) == 0, logterm
    scale = sp.Rational(1, out.size) if p.loss.mean else sp.S.One
    closed = stable_delta(p)
    delta_out = None if closed is None else _lambdify([A, Y, Z, S], branch_safe(closed))
    dterm = _lambdify([A, Y], sp.diff(term, A) * scale)
    c = Compiled(tuple(layers), _lambdify([A, Y, LOGA, LOG1MA], logterm), p.loss.mean, dterm,
                 delta_out, out.activation.name, bool(logterm.free_symbols & {LOGA, LOG1MA}),
                 output=out.index, n_nodes=len(p.nodes))
    eqns = live(p)
    steps = {ops: tuple(_step(c, e) for e in eqns if e.op in ops)
             for ops in (FORWARD, BACKWARD, ("grad",))}
    return replace(c, forward_steps=steps[FORWARD], backward_steps=steps[BACKWARD],
                   gradient_steps=steps["grad",])


FORWARD, BACKWARD = ("affine", "activate"), ("output_delta", "back", "delta")


def live(p: Program) -> list[Eqn]:
    """The equations the gradients need (∂E/∂x is left out), in program order."""
    need, kept = set(), []
    for e in reversed(p.forward + p.backward + p.gradients):
        if e.op == "grad" or e.out in need or e.op in FORWARD:
            kept.append(e)
            need.update(t.var for t in e.terms)
            need.update(s for s in e.sources if s)
    return kept[::-1]


def _step(c: Compiled, e: Eqn) -> Callable:
    """One equation as a closure over (env, params), a gradient's over (env, gradients,
    scale); every name is resolved here, once."""
    o, i = e.out, e.node
    if e.op == "affine":
        return _affine(o, e.terms, e.bias)
    if e.op == "activate":
        f = c.layers[i - 1].f
        if f is None:
            return lambda env, P: env.__setitem__(o, softmax(env[f"z{i}"]))
        z = f"z{i}"
        return lambda env, P: env.__setitem__(o, _shaped(f(env[z]), env[z].shape))
    if e.op == "output_delta":               # S = Σ y only where the closed form has it
        return _output_step(c, o, i, e.closed is not None and e.closed.has(S))
    if e.op == "back":
        return _back(o, e.terms)
    if e.op == "delta":
        g, z, a, fp = e.terms[0].var, f"z{i}", f"a{i}", c.layers[i - 1].fprime
        return lambda env, P: env.__setitem__(o, env[g] * fp(env[z], env[a]))
    return _grad(o, e.terms, e.sources)


def _affine(o: str, terms, bias: str | None) -> Callable:
    # z = W a + b   (the common case in one expression: no temporaries)
    if len(terms) == 1 and terms[0].weight is not None and bias is not None:
        (w, s), = terms
        return lambda env, P: env.__setitem__(o, P[w] @ env[s] + P[bias][:, None])

    def step(env, P):
        total = sum(env[s] if w is None else P[w] @ env[s] for w, s in terms)
        env[o] = total + P[bias][:, None] if bias is not None else total
    return step


def _output_step(c: Compiled, o: str, i: int, uses_s: bool) -> Callable:
    z, a, fp = f"z{i}", f"a{i}", c.layers[i - 1].fprime

    def step(env, P):
        A_, Yb, Z_ = env[a], env["y"], env[z]
        if c.delta_out is not None:        # δ^L = its closed form (∇_a E ⊙ f'(z^L), cancelled)
            delta = c.delta_out(A_, Yb, Z_, Yb.sum(axis=0, keepdims=True) if uses_s else None)
        else:
            g = _shaped(c.dterm(A_, Yb), A_.shape)
            # softmax: Jacobianᵀ ∇_a E = a ⊙ (g − Σ a g); elementwise: ∇_a E ⊙ f'(z)
            delta = A_ * (g - (A_ * g).sum(axis=0, keepdims=True)) if fp is None else g * fp(Z_, A_)
        env[o] = _shaped(delta, Z_.shape)
    return step


def _back(o: str, terms) -> Callable:
    # ∂E/∂a = Σ over the nodes it feeds of Wᵀ δ
    if len(terms) == 1 and terms[0].weight is not None:
        (w, d), = terms
        return lambda env, P: env.__setitem__(o, P[w].T @ env[d])
    return lambda env, P: env.__setitem__(o, sum(env[d] if w is None else P[w].T @ env[d]
                                                 for w, d in terms))


def _grad(o: str, terms, sources) -> Callable:
    # ∂E/∂W = Σ δ (a_src)ᵀ,  ∂E/∂b = Σ δ   (summed or averaged over the batch: scale)
    pairs = tuple((t.var, s) for t, s in zip(terms, sources))

    def step(env, G, scale):
        total = None
        for d, s in pairs:
            part = env[d].sum(axis=1) if s is None else env[d] @ env[s].T
            total = part if total is None else total + part
        if scale != 1.0:
            total *= scale           # in place: the product is a fresh array (x · 1 = x: skipped)
        G[o] = total
    return step


def softmax(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):          # z − max overflows only to −inf: e^−inf = 0
        e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _logs(c: Compiled, z: np.ndarray, a: np.ndarray):
    """log a and log(1 − a) of the outputs, without overflow or log(0) where avoidable."""
    if c.output_activation == "sigmoid":
        return -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    if c.output_activation == "softmax":
        m = z.max(axis=0, keepdims=True)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            log1ma = np.log1p(-a)            # unused by cross-entropy
            return z - m - np.log(np.exp(z - m).sum(axis=0, keepdims=True)), log1ma
    if c.output_activation == "softplus":
        with np.errstate(divide="ignore", invalid="ignore"):
            return log_softplus(z), np.log1p(-a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a), np.log1p(-a)


def zero_log_zero(loga, log1ma, Yb):
    """The convention 0 · log 0 = 0 of cross-entropy: every loss term is y · log a or
    (1 − y) · log(1 − a), so log a is unused where y = 0 and log(1 − a) where y = 1; set
    there to 0, a log of 0 (softmax at z = ±1e308) gives no 0 · (−inf) = NaN."""
    if loga is not None:
        loga = np.where(Yb == 0, 0.0, loga)
    if log1ma is not None:
        log1ma = np.where(Yb == 1, 0.0, log1ma)
    return loga, log1ma


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


def run_forward(c: Compiled, params: dict[str, np.ndarray], X: np.ndarray) -> dict:
    env = {"a0": X}
    for step in c.forward_steps:
        step(env, params)
    return env


def forward(c: Compiled, params: dict[str, np.ndarray], X: np.ndarray):
    env = run_forward(c, params, X)
    return ([env[f"z{i}"] for i in range(1, c.n_nodes + 1)],
            [env[f"a{i}"] for i in range(c.n_nodes + 1)])


def softmax_cross_entropy_terms(z, Yb):
    """−y_i log softmax(z)_i, finite wherever the true value is: log a_i = z_i − m − log Σ
    e^{z_k − m} (m the column maximum) is −inf once z_i − m overflows (z = ±1e308), while
    y_i (z_i − m) may still be a float (y_i = 1/2): there it is computed as y_i z_i − y_i m.

    >>> float(softmax_cross_entropy_terms(np.array([[1e308], [-1e308]]), np.array([[0.5], [0.5]])).sum())
    1e+308
    """
    m = z.max(axis=0, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        d = z - m
        lse = np.log(np.exp(d).sum(axis=0, keepdims=True))
        yd = np.where(np.isfinite(d), Yb * d, Yb * z - Yb * m)
        return np.where(Yb == 0, 0.0, Yb * lse - yd)


def loss_values(c: Compiled, z_out, a_out, Yb) -> np.ndarray:
    """Per-example loss E for each column."""
    if c.output_activation == "softmax" and c.needs_logs:     # cross-entropy: −y log a
        terms = softmax_cross_entropy_terms(z_out, Yb)
        per = terms.sum(axis=0)
        return per / a_out.shape[0] if c.loss_mean else per
    loga, log1ma = (zero_log_zero(*_logs(c, z_out, a_out), Yb) if c.needs_logs
                    else (None, None))
    terms = _shaped(c.loss_term(a_out, Yb, loga, log1ma), a_out.shape)
    per = terms.sum(axis=0)
    return per / a_out.shape[0] if c.loss_mean else per


def loss(c: Compiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean") -> float:
    """The batch loss alone (forward pass only): the baseline of the cheap-gradient ratio."""
    env = run_forward(c, params, np.asarray(X, float))
    out = c.output
    losses = loss_values(c, env[f"z{out}"], env[f"a{out}"], np.asarray(Yb, float))
    return float(losses.mean() if batch == "mean" else losses.sum())


def run(c: Compiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean"):
    """(env, losses, gradients): every variable of the program, for examples in columns."""
    env = run_forward(c, params, X)
    out = c.output
    losses = loss_values(c, env[f"z{out}"], env[f"a{out}"], Yb)
    env["y"] = Yb
    for step in c.backward_steps:
        step(env, params)
    scale = 1.0 / X.shape[1] if batch == "mean" else 1.0
    grads = {}
    for step in c.gradient_steps:
        step(env, grads, scale)
    return env, losses, grads


def evaluate(c: Compiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean") -> Evaluation:
    """Forward pass, loss, δ per layer and all gradients, for examples in columns."""
    X, Yb = np.asarray(X, float), np.asarray(Yb, float)
    env, losses, grads = run(c, params, X, Yb, batch)
    nodes = range(1, c.n_nodes + 1)
    loss = float(losses.mean() if batch == "mean" else losses.sum())
    return Evaluation(loss, losses, tuple(env[f"z{i}"] for i in nodes),
                      tuple(env[f"a{i}"] for i in range(c.n_nodes + 1)),
                      tuple(env[f"d{i}"] for i in nodes), grads, batch)


def checked_step(model, init: int | None = None, lr: float | None = None, data=None):
    """(params, evaluation, updated params, learning rate) of one gradient step of
    ``model`` (any model with ``parameters``, ``evaluate``, ``learning_rate`` and
    ``descend``), or ``NonFinite`` naming the first inf or NaN, so that no non-number is
    ever reported as a result."""
    params = model.parameters(init)
    with np.errstate(all="ignore"):           # reported below, with where it arose
        ev = model.evaluate(params=params, data=data)
        rate = model.learning_rate(lr)
        new = model.descend(params, ev, rate)
    bad = first_nonfinite(ev, new)
    if bad is not None:
        raise NonFinite(f"{model.spec.source}: {bad}; the numbers left float64's range, so "
                        "there is no value to report (scale the inputs or parameters down).",
                        bad)
    return params, ev, new, rate


class NonFinite(ArithmeticError):
    """A number of the evaluation is inf or NaN: the message says which, and where."""

    def __init__(self, message: str, quantity: str):
        super().__init__(message)
        self.quantity = quantity


def _first_bad(arr: np.ndarray):
    bad = np.argwhere(~np.isfinite(np.asarray(arr, dtype=float)))
    return None if not len(bad) else tuple(int(i) for i in bad[0])


def _kind(value: float) -> str:
    if np.isnan(value):
        return "NaN (an undefined operation such as inf − inf or 0 · inf)"
    return f"{'-' if value < 0 else ''}inf (beyond float64's ±1.8e308)"


def first_nonfinite(ev: Evaluation, updated: dict[str, np.ndarray] | None = None,
                    paths: bool = True) -> str | None:
    """Where the first inf or NaN of an evaluation arose, in the order it is computed
    (z^1, a^1, …, the loss, δ^L … δ^1, the gradients, the updated parameters), as the
    math name and (``paths``) the ``eval --json`` path; None when every number is finite.

    >>> ev = Evaluation(1.0, np.array([1.0]), (np.array([[1.0], [np.inf]]),),
    ...                 (np.ones((1, 1)), np.ones((2, 1))), (np.ones((2, 1)),), {}, "mean")
    >>> print(first_nonfinite(ev))
    z^1_2 (layers[0].z[1] in --json) is inf (beyond float64's ±1.8e308)
    """
    n = ev.losses.shape[0]

    def per_layer(name: str, l: int, arr):
        where = _first_bad(arr)
        if where is None:
            return None
        j, example = where
        ex = f" of example {example + 1}" if n > 1 else ""
        path = f"layers[{l - 1}].{name}[{j}]" + (f"[{example}]" if n > 1 else "")
        return f"{name}^{l}_{j + 1}{ex}{_path(path)} is {_kind(arr[where])}"

    def _path(path: str) -> str:
        return f" ({path} in --json)" if paths else ""

    for l, (z, a) in enumerate(zip(ev.z, ev.a[1:]), start=1):
        found = per_layer("z", l, z) or per_layer("a", l, a)
        if found:
            return found
    where = _first_bad(ev.losses)
    if where is not None:
        ex = f" of example {where[0] + 1}" if n > 1 else ""
        return f"the loss{ex}{_path(f'losses[{where[0]}]')} is {_kind(ev.losses[where])}"
    for l in range(len(ev.delta), 0, -1):
        found = per_layer("delta", l, ev.delta[l - 1])
        if found:
            return found
    for title, table in (("gradients", ev.gradients), ("updated", updated or {})):
        for key, arr in table.items():
            where = _first_bad(arr)
            if where is not None:
                what = "∂E/∂" if title == "gradients" else "the updated "
                index = "".join(f"[{i}]" for i in where)
                return f"{what}{key}{index}{_path(f'{title}.{key}{index}')} is {_kind(arr[where])}"
    return None


def all_finite(ev: Evaluation) -> bool:
    """Loss and gradients finite: the cheap test of every training step."""
    return bool(np.isfinite(ev.loss) and all(np.isfinite(g).all() for g in ev.gradients.values()))


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
