"""Convolutional networks in float64 (issue #18): forward, loss, δ and every gradient.

Vectorised over the batch and every position: a conv layer is im2col through
``numpy.lib.stride_tricks.sliding_window_view`` and one matrix product (forward, and one
each for ∂E/∂K and ∂E/∂a); pools take their windows the same way.  The only Python loops
run over layers and over the kh·kw offsets of a kernel (col2im), never over pixels.

Maps are (m, C, H, W) arrays, examples first; a conv1d map (m, C, L) is computed as
(m, C, 1, L).  Dense layers work on columns (n, m) as ``numeric.vectorised`` does, and the
output layer's loss and δ^L are that module's (one program node compiled by
``compile_program``: the stable log losses, the softmax closed forms).

    conv     z_{c,i,j} = Σ_{c',u,v} K_{c,c',u,v} a_{c', s i+u−p, s j+v−p} + b_c
             ∂E/∂K_{c,c',u,v} = Σ_{i,j} δ_{c,i,j} a_{c', s i+u−p, s j+v−p}   (correlation)
             ∂E/∂a_{c',m,n} = Σ_{c,u,v} δ_{c,i,j} K_{c,c',u,v} over s i+u−p = m, s j+v−p = n
                              (for s = 1: the full convolution of δ with rot180(K))
    maxpool  δ goes to the first maximum of each window in row-major order (PyTorch CPU)
    avgpool  δ / (kh kw) to every entry of the window, padding counted (count_include_pad)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from numpy.lib.stride_tricks import sliding_window_view

from ..core.convspec import ConvLayer, ConvSpec
from ..core.functions import ACTIVATIONS, LOSSES
from ..core.program import Edge, Node, build_program, local_derivative
from ..core.symbols import A, Z
from sympy.printing.numpy import NumPyPrinter

from .vectorised import (MODULES, Compiled, Evaluation, _shaped, branch_safe, compile_program,
                         loss_values)


@dataclass(frozen=True)
class Geometry:
    """A conv or pool layer's sizes as 2-D ones (a 1-D layer has height 1)."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    @classmethod
    def of(cls, layer: ConvLayer) -> "Geometry":
        k, s, p = layer.kernel, layer.stride, layer.padding
        if len(k) == 1:
            return cls(1, k[0], 1, s[0], 0, p[0])
        return cls(k[0], k[1], s[0], s[1], p[0], p[1])


@dataclass(frozen=True)
class ConvCompiled:
    """What ``evaluate`` runs: the spec's layers, their elementwise f and f'(z, a) (None:
    identity or the output's), and the output node compiled by ``numeric.vectorised``."""

    spec: ConvSpec
    f: tuple
    fprime: tuple
    output: Compiled


def compile_conv(spec: ConvSpec) -> ConvCompiled:
    """Lambdify each layer's activation and derivative (``sympy.diff``) once."""
    fs, fps = [], []
    for ls in spec.layers[:-1]:
        if ls.activation == "identity":
            fs.append(None)
            fps.append(None)
            continue
        ld = local_derivative(ACTIVATIONS[ls.activation],
                              None if ls.alpha is None else sp.Rational(str(ls.alpha)))
        fs.append(_fast([Z], branch_safe(ld.f)))
        fps.append(_fast([Z, A], branch_safe(ld.slope)))
    out = spec.layers[-1]
    node = Node(1, out.size, (Edge(0, "W"),), "b", ACTIVATIONS[out.activation],
                None if out.alpha is None else sp.Rational(str(out.alpha)))
    program = build_program(out.in_shape[0], [node], LOSSES[spec.loss])
    return ConvCompiled(spec, tuple(fs), tuple(fps), compile_program(program))


class WherePrinter(NumPyPrinter):
    """NumPy code with a Piecewise as nested ``numpy.where`` (lambdify's ``numpy.select``
    with its ``numpy.full`` default took 40 % of a CNN's step for ReLU)."""

    def _print_Piecewise(self, expr):
        *branches, (last, cond) = expr.args
        if cond != sp.true:
            return super()._print_Piecewise(expr)
        if len(branches) == 1:
            (value, c), = branches
            if value == 0 and c == sp.Le(last, 0) and last.is_Symbol:     # ReLU: max(z, 0)
                return f"{self._module_format('numpy.maximum')}({self._print(last)}, 0.0)"
            if value.is_Number and last.is_Number:      # a step: a·[c] + b·[not c], exact
                flag = f"{self._module_format('numpy.asarray')}({self._print(c)}, dtype=float)"
                return f"({self._print(value)} * {flag} + {self._print(last)} * (1.0 - {flag}))"
        out = self._print(last)
        for value, c in reversed(branches):
            out = f"{self._module_format('numpy.where')}({self._print(c)}, {self._print(value)}, {out})"
        return out


def _fast(args, expr):
    """``vectorised._lambdify`` (the same SymPy expression, the same functions) printed with
    ``WherePrinter``."""
    printer = WherePrinter({"fully_qualified_modules": False, "inline": True,
                            "allow_unknown_functions": True, "user_functions": {}})
    return sp.lambdify(args, expr, modules=MODULES, printer=printer)   # sigmoid: MODULES


# ---- the layers, forward and backward ------------------------------------
def _pad(a: np.ndarray, g: Geometry, value: float = 0.0) -> np.ndarray:
    if not (g.ph or g.pw):
        return a
    return np.pad(a, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)), constant_values=value)


def _windows(ap: np.ndarray, g: Geometry) -> np.ndarray:
    """(m, C, Ho, Wo, kh, kw): every window, a view (PyTorch's floor rule by the slicing)."""
    return sliding_window_view(ap, (g.kh, g.kw), axis=(2, 3))[:, :, ::g.sh, ::g.sw]


def conv_forward(a: np.ndarray, K: np.ndarray, b: np.ndarray, g: Geometry):
    """z (m, O, Ho, Wo) and the im2col matrix (m·Ho·Wo, C·kh·kw) the backward pass reuses."""
    m, C = a.shape[:2]
    win = _windows(_pad(a, g), g)
    Ho, Wo = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(m * Ho * Wo, C * g.kh * g.kw)
    z = cols @ K.reshape(K.shape[0], -1).T + b            # one matrix product
    return z.reshape(m, Ho, Wo, -1).transpose(0, 3, 1, 2), cols


def conv_backward(delta: np.ndarray, cols: np.ndarray, K: np.ndarray, in_shape, g: Geometry,
                  need_input: bool = True):
    """(∂E/∂K, ∂E/∂b, ∂E/∂a) summed over the batch; ∂E/∂a is None unless ``need_input``."""
    m, O, Ho, Wo = delta.shape
    flat = delta.transpose(0, 2, 3, 1).reshape(m * Ho * Wo, O)
    dK = (flat.T @ cols).reshape(K.shape)                 # Σ_{i,j} δ_{c,i,j} a_{c', si+u−p, sj+v−p}
    db = flat.sum(axis=0)
    if not need_input:
        return dK, db, None
    dcols = (flat @ K.reshape(O, -1)).reshape(m, Ho, Wo, in_shape[1], g.kh, g.kw)
    return dK, db, _col2im(dcols.transpose(0, 3, 1, 2, 4, 5), in_shape, g)


def _col2im(dwin: np.ndarray, in_shape, g: Geometry) -> np.ndarray:
    """Σ of per-window gradients (m, C, Ho, Wo, kh, kw) onto the input (m, C, H, W): a loop
    over the kh·kw kernel offsets, each adding a strided slice of every window."""
    m, C, H, W = in_shape
    Ho, Wo = dwin.shape[2:4]
    out = np.zeros((m, C, H + 2 * g.ph, W + 2 * g.pw))
    for u in range(g.kh):
        for v in range(g.kw):
            out[:, :, u:u + g.sh * (Ho - 1) + 1:g.sh, v:v + g.sw * (Wo - 1) + 1:g.sw] += dwin[..., u, v]
    return out[:, :, g.ph:g.ph + H, g.pw:g.pw + W]


def maxpool_forward(a: np.ndarray, g: Geometry):
    """The window maxima and each one's first arg-max in row-major window order."""
    win = _windows(_pad(a, g, -np.inf), g)
    flat = win.reshape(win.shape[:4] + (g.kh * g.kw,))
    arg = flat.argmax(axis=-1)                            # the first maximum (ties: PyTorch CPU)
    return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0], arg


def maxpool_backward(delta: np.ndarray, arg: np.ndarray, in_shape, g: Geometry) -> np.ndarray:
    """δ of each window to its arg-max, summed where windows overlap (one bincount); windows
    that tile the map (stride = pool, no padding) by one scatter into their blocks."""
    m, C, H, W = in_shape
    if (g.sh, g.sw) == (g.kh, g.kw) and not (g.ph or g.pw):
        Ho, Wo = delta.shape[2:]
        kk = g.kh * g.kw
        blocks = np.zeros(delta.shape + (kk,))
        blocks.reshape(-1)[np.arange(delta.size) * kk + arg.reshape(-1)] = delta.reshape(-1)
        tiled = blocks.reshape(m, C, Ho, Wo, g.kh, g.kw).transpose(0, 1, 2, 4, 3, 5)
        out = np.zeros(in_shape)
        out[:, :, :Ho * g.kh, :Wo * g.kw] = tiled.reshape(m, C, Ho * g.kh, Wo * g.kw)
        return out
    Hp, Wp = H + 2 * g.ph, W + 2 * g.pw
    Ho, Wo = delta.shape[2:]
    rows = np.arange(Ho)[:, None] * g.sh + arg // g.kw
    cols = np.arange(Wo)[None, :] * g.sw + arg % g.kw
    plane = (np.arange(m)[:, None, None, None] * C + np.arange(C)[None, :, None, None]) * (Hp * Wp)
    where = (plane + rows * Wp + cols).ravel()
    out = np.bincount(where, weights=delta.ravel(), minlength=m * C * Hp * Wp)
    return out.reshape(m, C, Hp, Wp)[:, :, g.ph:g.ph + H, g.pw:g.pw + W]


def avgpool_forward(a: np.ndarray, g: Geometry) -> np.ndarray:
    """Window means, zero padding counted in (PyTorch's count_include_pad = True)."""
    return _windows(_pad(a, g), g).sum(axis=(-2, -1)) / (g.kh * g.kw)


def avgpool_backward(delta: np.ndarray, in_shape, g: Geometry) -> np.ndarray:
    share = np.broadcast_to((delta / (g.kh * g.kw))[..., None, None], delta.shape + (g.kh, g.kw))
    return _col2im(share, in_shape, g)


# ---- the whole network ---------------------------------------------------
def _map(x: np.ndarray, shape) -> np.ndarray:
    """Columns (n, m) → maps (m, C, H, W) (a 1-D map gets height 1)."""
    m = x.shape[1]
    full = shape if len(shape) == 3 else (shape[0], 1, shape[1])
    return x.T.reshape((m,) + tuple(full))


def _columns(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1).T


def evaluate(c: ConvCompiled, params: dict[str, np.ndarray], X, Yb, batch: str = "mean",
             columns: bool = True) -> Evaluation:
    """Loss, z, a, δ of every layer and the batch gradients; X (n_in, m), Y (n_out, m).

    ``columns``: z, a, δ as (entries, m) columns (row-major C, H, W) like dense networks'
    evaluations; False keeps the maps (m, C, H, W) (faster, for benchmarks)."""
    X, Yb = np.asarray(X, float), np.asarray(Yb, float)
    m = X.shape[1]
    scale = 1.0 / m if batch == "mean" else 1.0
    layers = c.spec.layers
    a_in = _map(X, c.spec.input_shape) if layers[0].type != "dense" else X
    zs, acts, caches = [], [a_in], []
    for ls, f in zip(layers[:-1], c.f):
        z, cache = _forward(ls, acts[-1], params)
        zs.append(z)
        caches.append(cache)
        acts.append(z if f is None else _shaped(f(z), z.shape))
    out = layers[-1]
    z_out = params[f"W{out.index}"] @ acts[-1] + params[f"b{out.index}"][:, None]
    env = {"z1": z_out, "y": Yb}
    c.output.forward_steps[1](env, {})                   # a^L = f(z^L) (softmax included)
    losses = loss_values(c.output, z_out, env["a1"], Yb)
    c.output.backward_steps[0](env, {})                  # δ^L, the output node's closed form
    d_out = env["d1"]
    grads = {f"W{out.index}": d_out @ acts[-1].T * scale, f"b{out.index}": d_out.sum(axis=1) * scale}
    g = params[f"W{out.index}"].T @ d_out                 # ∂E/∂a of the layer below the output
    deltas = [None] * (len(layers) - 1)
    for i in range(len(layers) - 2, -1, -1):
        ls, fp = layers[i], c.fprime[i]
        d = g if fp is None else g * fp(zs[i], acts[i + 1])
        deltas[i] = d
        g = _backward(ls, d, acts[i], caches[i], params, grads, scale, need_input=i > 0)
    zs.append(z_out)
    acts.append(env["a1"])
    deltas.append(d_out)
    shape = (lambda v: _columns(v) if v.ndim > 2 else v) if columns else (lambda v: v)
    loss = float(losses.mean() if batch == "mean" else losses.sum())
    grads = {k: grads[k] for k in c.spec.array_shapes()}      # in layer order
    return Evaluation(loss, losses, tuple(shape(z) for z in zs),
                      (X,) + tuple(shape(a) for a in acts[1:]),
                      tuple(shape(d) for d in deltas), grads, batch)


def _forward(ls: ConvLayer, a, params):
    if ls.type in ("conv1d", "conv2d"):
        return conv_forward(a, params[f"W{ls.index}"].reshape(_kernel4(ls)),
                            params[f"b{ls.index}"], Geometry.of(ls))
    if ls.type == "maxpool":
        return maxpool_forward(a, Geometry.of(ls))
    if ls.type == "avgpool":
        return avgpool_forward(a, Geometry.of(ls)), None
    if ls.type == "flatten":
        return (_columns(a) if a.ndim > 2 else a), a.shape
    return params[f"W{ls.index}"] @ a + params[f"b{ls.index}"][:, None], None


def _kernel4(ls: ConvLayer) -> tuple[int, ...]:
    O, C = ls.weight_shape[:2]
    return (O, C) + ((1,) + ls.kernel if len(ls.kernel) == 1 else ls.kernel)


def _backward(ls: ConvLayer, d, a_in, cache, params, grads, scale, need_input):
    """Record the layer's gradients; return ∂E/∂a of its input (None when not needed)."""
    if ls.type in ("conv1d", "conv2d"):
        K = params[f"W{ls.index}"]
        dK, db, g = conv_backward(d, cache, K.reshape(_kernel4(ls)), a_in.shape,
                                  Geometry.of(ls), need_input)
        grads[f"W{ls.index}"], grads[f"b{ls.index}"] = dK.reshape(K.shape) * scale, db * scale
        return g
    if ls.type == "maxpool":
        return maxpool_backward(d, cache, a_in.shape, Geometry.of(ls)) if need_input else None
    if ls.type == "avgpool":
        return avgpool_backward(d, a_in.shape, Geometry.of(ls)) if need_input else None
    if ls.type == "flatten":
        return d.T.reshape(cache) if len(cache) > 2 else d
    grads[f"W{ls.index}"] = d @ a_in.T * scale
    grads[f"b{ls.index}"] = d.sum(axis=1) * scale
    return params[f"W{ls.index}"].T @ d if need_input else None
