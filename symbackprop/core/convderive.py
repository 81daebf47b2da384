"""Backpropagation through convolution and pooling, derived as index formulas (issue #18).

Per layer the forward equation, the local rules of the backward pass and the gradients
are SymPy objects (``Indexed`` entries, ``Sum`` over named indices), written once here and
printed by ``sympy.latex`` in the documents.  Indices count from 0; an entry whose index
falls outside the input (into the zero padding) is 0.  For a conv layer with stride s and
padding p:

    z_{c,i,j} = Σ_{c'} Σ_{u,v} K_{c,c',u,v} a_{c', s i+u−p, s j+v−p} + b_c
    ∂E/∂K_{c,c',u,v} = Σ_{i,j} δ_{c,i,j} a_{c', s i+u−p, s j+v−p}    (the input correlated with δ)
    ∂E/∂b_c = Σ_{i,j} δ_{c,i,j}
    ∂E/∂a_{c',m,n} = Σ_c Σ_{u,v} δ̃_{c, m+p−u, n+p−v} K_{c,c',u,v}
                   = Σ_c Σ_{u,v} δ̃_{c, m+p−k_h+1+u, n+p−k_w+1+v} rot180(K)_{c,c',u,v}

with δ̃ the δ map dilated by the stride (δ̃_{c, s i, s j} = δ_{c,i,j}, zero elsewhere and
outside): the full convolution of δ̃ with the kernel, i.e. a correlation with the kernel
rotated by 180°.  The tests prove each formula against PyTorch and sympy.diff of the
expanded loss on tiny instances; nothing here is simplified or proved.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from .convspec import ConvLayer, ConvSpec
from .functions import ACTIVATIONS, LOSSES
from .program import LocalDerivative, local_derivative

# index letters: output channel, input channel, kernel offsets, output and input positions
c, cp, u, v, i, j, m, n = sp.symbols("c c' u v i j m n", integer=True)
E = sp.Symbol("E")


@dataclass(frozen=True)
class LayerFormulas:
    """One layer's equations: forward (z or a of the layer), and what flows back."""

    layer: ConvLayer
    forward: sp.Eq                       # z_{c,i,j} = …  (pool: a_{c,i,j} = …)
    local: LocalDerivative | None        # f, f' of the activation (None: identity / none)
    kernel_grad: sp.Eq | None = None     # ∂E/∂K_{c,c',u,v} = Σ δ a
    bias_grad: sp.Eq | None = None
    input_grad: sp.Eq | None = None      # ∂E/∂a_{…} of the layer's input (index form)
    input_grad_rot: sp.Eq | None = None  # the same as a correlation with rot180(K)
    paths: int = 0                       # chain-rule paths of one kernel weight: Ho·Wo
    representative: sp.Expr | None = None  # one path's product: δ_{c,0,0} a_{c', −p, −p}…

    @property
    def dims(self) -> int:
        return len(self.layer.in_shape) - 1


@dataclass(frozen=True)
class ConvDerivation:
    """The layers' formulas and the loss, for documents and tests."""

    spec: ConvSpec
    layers: tuple[LayerFormulas, ...]
    loss: sp.Expr                  # one output's term E(A, Y)

    def layer(self, l: int) -> LayerFormulas:
        return self.layers[l - 1]


def arrays(l: int) -> dict[str, sp.IndexedBase]:
    """The IndexedBases of layer l: K (kernel), b, z, a, δ, and the input a^{l−1}."""
    return {"K": sp.IndexedBase(f"K^{{{l}}}"), "b": sp.IndexedBase(f"b^{{{l}}}"),
            "z": sp.IndexedBase(f"z^{{{l}}}"), "a": sp.IndexedBase(f"a^{{{l}}}"),
            "d": sp.IndexedBase(f"\\delta^{{{l}}}"), "prev": sp.IndexedBase(
                "x" if l == 1 else f"a^{{{l - 1}}}"),
            "dt": sp.IndexedBase(f"\\tilde{{\\delta}}^{{{l}}}"),
            "rot": sp.IndexedBase(f"\\operatorname{{rot180}}(K^{{{l}}})")}


def _at(base, ch, pos):
    return base[(ch,) + tuple(pos)]


def conv_formulas(ls: ConvLayer) -> LayerFormulas:
    A = arrays(ls.index)
    dims = len(ls.kernel)
    outs, offs, ins = ((j,), (v,), (n,)) if dims == 1 else ((i, j), (u, v), (m, n))
    C, O = ls.in_shape[0], ls.out_shape[0]
    read = [s * o + k - p for s, o, k, p in zip(ls.stride, outs, offs, ls.padding)]
    kern = _at(A["K"], c, (cp,) + offs)
    ranges = [(cp, 0, C - 1)] + [(k, 0, K - 1) for k, K in zip(offs, ls.kernel)]
    forward = sp.Eq(_at(A["z"], c, outs),
                    sp.Sum(kern * _at(A["prev"], cp, read), *ranges) + A["b"][c])
    out_ranges = [(o, 0, N - 1) for o, N in zip(outs, ls.out_shape[1:])]
    dK = sp.Eq(sp.Derivative(E, kern, evaluate=False),
               sp.Sum(_at(A["d"], c, outs) * _at(A["prev"], cp, read), *out_ranges))
    db = sp.Eq(sp.Derivative(E, A["b"][c], evaluate=False),
               sp.Sum(_at(A["d"], c, outs), *out_ranges))
    # ∂E/∂a_{c',m,n}: every (c, u, v) whose window reads (m, n), through δ̃ (δ dilated)
    back = [x + p - k for x, p, k in zip(ins, ls.padding, offs)]
    kranges = [(c, 0, O - 1)] + [(k, 0, K - 1) for k, K in zip(offs, ls.kernel)]
    dA = sp.Eq(sp.Derivative(E, _at(A["prev"], cp, ins), evaluate=False),
               sp.Sum(_at(A["dt"], c, back) * _at(A["K"], c, (cp,) + offs), *kranges))
    full = [x + p - K + 1 + k for x, p, K, k in zip(ins, ls.padding, ls.kernel, offs)]
    dA_rot = sp.Eq(dA.lhs, sp.Sum(_at(A["dt"], c, full) * _at(A["rot"], c, (cp,) + offs), *kranges))
    rep = _at(A["d"], c, (0,) * dims) * _at(A["prev"], cp, [k - p for k, p in zip(offs, ls.padding)])
    act = None if ls.activation == "identity" else local_derivative(
        ACTIVATIONS[ls.activation], None if ls.alpha is None else sp.Rational(str(ls.alpha)))
    return LayerFormulas(ls, forward, act, dK, db, dA, dA_rot,
                         math.prod(ls.out_shape[1:]), rep)


def pool_formulas(ls: ConvLayer) -> LayerFormulas:
    A = arrays(ls.index)
    dims = len(ls.kernel)
    outs, offs, ins = ((j,), (v,), (n,)) if dims == 1 else ((i, j), (u, v), (m, n))
    read = [s * o + k - p for s, o, k, p in zip(ls.stride, outs, offs, ls.padding)]
    window = [(k, 0, K - 1) for k, K in zip(offs, ls.kernel)]
    out_ranges = [(o, 0, N - 1) for o, N in zip(outs, ls.out_shape[1:])]
    lhs = sp.Derivative(E, _at(A["prev"], c, ins), evaluate=False)
    if ls.type == "avgpool":
        size = math.prod(ls.kernel)
        forward = sp.Eq(_at(A["a"], c, outs), sp.Sum(_at(A["prev"], c, read), *window) / size)
        # δ/|window| to every entry a window covers: Σ over windows (i, j) reading (m, n)
        hit = sp.And(*[sp.Eq(x, r) for x, r in zip(ins, read)])
        back = sp.Eq(lhs, sp.Sum(sp.Piecewise((_at(A["d"], c, outs) / size, hit), (0, True)),
                                 *out_ranges, *window))
    else:
        forward = sp.Eq(_at(A["a"], c, outs), sp.Function("max")(*[
            _at(A["prev"], c, read)]))     # max over the window (u, v); written by the template
        star = sp.Function("argmax")(c, *outs)
        back = sp.Eq(lhs, sp.Sum(sp.Piecewise((_at(A["d"], c, outs),
                                               sp.Eq(sp.Tuple(*ins), star)), (0, True)), *out_ranges))
    return LayerFormulas(ls, forward, None, input_grad=back)


def dense_formulas(ls: ConvLayer) -> LayerFormulas:
    A = arrays(ls.index)
    W = sp.IndexedBase(f"W^{{{ls.index}}}")
    forward = sp.Eq(A["z"][j], sp.Sum(W[j, n] * A["prev"][n], (n, 0, ls.in_shape[0] - 1)) + A["b"][j])
    act = None if ls.activation == "identity" else local_derivative(
        ACTIVATIONS[ls.activation], None if ls.alpha is None else sp.Rational(str(ls.alpha)))
    dW = sp.Eq(sp.Derivative(E, W[j, n], evaluate=False), A["d"][j] * A["prev"][n])
    dA = sp.Eq(sp.Derivative(E, A["prev"][n], evaluate=False),
               sp.Sum(W[j, n] * A["d"][j], (j, 0, ls.out_shape[0] - 1)))
    return LayerFormulas(ls, forward, act, dW, sp.Eq(sp.Derivative(E, A["b"][j], evaluate=False),
                                                      A["d"][j]), dA, paths=1)


def flatten_formulas(ls: ConvLayer) -> LayerFormulas:
    A = arrays(ls.index)
    shape = ls.in_shape
    if len(shape) == 3:
        flat = c * shape[1] * shape[2] + i * shape[2] + j
        pos = (c, i, j)
    else:
        flat, pos = c * shape[1] + j, (c, j)
    forward = sp.Eq(A["a"][flat], A["prev"][pos])
    back = sp.Eq(sp.Derivative(E, A["prev"][pos], evaluate=False), A["d"][flat])
    return LayerFormulas(ls, forward, None, input_grad=back)


RULES = {"conv1d": conv_formulas, "conv2d": conv_formulas, "maxpool": pool_formulas,
         "avgpool": pool_formulas, "dense": dense_formulas, "flatten": flatten_formulas}


def derive_conv(spec: ConvSpec) -> ConvDerivation:
    """Every layer's formulas: instantaneous (index formulas, not one symbol a weight).

    >>> from .spec import parse_spec
    >>> d = derive_conv(parse_spec('input_shape = [1, 3, 3]\\nloss = "half_sse"\\n[[layer]]\\n'
    ...     'type = "conv2d"\\nchannels = 1\\nkernel = 2\\nactivation = "relu"\\n[[layer]]\\n'
    ...     'type = "flatten"\\n[[layer]]\\nsize = 1\\nactivation = "identity"'))
    >>> d.layer(1).kernel_grad.rhs
    Sum(\\delta^{1}[c, i, j]*x[c', i + u, j + v], (i, 0, 1), (j, 0, 1))
    """
    layers = tuple(RULES[ls.type](ls) for ls in spec.layers)
    term = LOSSES[spec.loss].term(sp.Symbol("a_j"), sp.Symbol("y_j"))
    return ConvDerivation(spec, layers, term)


def real_reads(ls: ConvLayer, offsets: tuple[int, ...] | None = None) -> int:
    """How many output positions read a kernel weight at ``offsets`` (default 0, 0) from
    the input itself rather than from its zero padding: the chain-rule paths of that
    weight whose local derivative is not identically 0."""
    offsets = offsets or (0,) * len(ls.kernel)
    count = 1
    for k, s, p, n_in, n_out in zip(offsets, ls.stride, ls.padding, ls.in_shape[1:],
                                    ls.out_shape[1:]):
        count *= sum(1 for o in range(n_out) if 0 <= s * o + k - p < n_in)
    return count
