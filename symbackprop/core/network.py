"""The network as SymPy symbols: W^l, b^l, z^l, a^l, δ^l for every layer.

Symbols have plain internal names (``W2_1_3`` is w^2_{13}, the weight from
neuron 3 of layer 1 to neuron 1 of layer 2; indices start at 1).  How they
are *displayed* is the notation's business, applied at render time through
``sympy.latex(..., symbol_names=...)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .functions import ACTIVATIONS, LOSSES, Activation, Loss, softmax_layer
from .spec import Spec


def _vector(prefix: str, n: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([sp.Symbol(f"{prefix}_{j}", real=True) for j in range(1, n + 1)])


@dataclass(frozen=True)
class Layer:
    """Layer l: z = W a_prev + b, a = f(z) (``kind`` dense); z = Σ a_src, a = f(z)
    (add); a = z = a_src read row-major (flatten).  An add or flatten layer has no
    parameters: its W and b are empty."""

    index: int                 # l, from 1
    n_in: int
    n_out: int
    activation: Activation
    alpha: sp.Expr | None
    W: sp.ImmutableMatrix      # n_out × n_in, W[j, k] from k to j
    b: sp.ImmutableMatrix      # n_out × 1
    z: sp.ImmutableMatrix
    a: sp.ImmutableMatrix
    delta: sp.ImmutableMatrix
    a_prev: sp.ImmutableMatrix            # the a the layer reads (an add: its first input's)
    kind: str = "dense"                   # a LAYER_TYPES entry of core.spec
    name: str = ""
    sources: tuple[int, ...] = ()         # the layers it reads (0: the input x)

    @property
    def dense(self) -> bool:
        return self.kind == "dense"

    def f(self, z: sp.Expr) -> sp.Expr:
        """The elementwise activation f_l applied to one scalar."""
        return self.activation.build(z, self.alpha)

    def outputs_of(self, z: list[sp.Expr]) -> list[sp.Expr]:
        """a^l as expressions of the given z^l (handles softmax)."""
        if self.activation.layerwise:
            return softmax_layer(list(z))
        return [self.f(zj) for zj in z]

    @property
    def parameters(self) -> list[sp.Symbol]:
        return list(self.W) + list(self.b)


@dataclass(frozen=True)
class Network:
    """A fully-connected network with symbols for every quantity."""

    spec: Spec
    x: sp.ImmutableMatrix
    y: sp.ImmutableMatrix
    layers: tuple[Layer, ...]
    loss: Loss

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.spec.sizes

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    @property
    def dense_layers(self) -> tuple[Layer, ...]:
        """The layers with parameters W and b."""
        return tuple(layer for layer in self.layers if layer.dense)

    @property
    def is_chain(self) -> bool:
        """Dense layers, each fed by the one before (no add, flatten or skip edge)."""
        return self.spec.is_chain

    def a_of(self, l: int) -> sp.ImmutableMatrix:
        """a^l (a^0 = x)."""
        return self.x if l == 0 else self.layers[l - 1].a

    @cached_property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        return tuple(p for layer in self.layers for p in layer.parameters)

    @cached_property
    def location(self) -> dict[sp.Symbol, tuple[str, int, int, int | None]]:
        """Parameter symbol → ("W", l, j, k) or ("b", l, j, None); 0-based j, k."""
        where = {}
        for layer in self.dense_layers:
            for j in range(layer.n_out):
                for k in range(layer.n_in):
                    where[layer.W[j, k]] = ("W", layer.index, j, k)
                where[layer.b[j]] = ("b", layer.index, j, None)
        return where

    def loss_expression(self) -> sp.Expr:
        """E as an expression of a^L and y."""
        return self.loss.expression(list(self.output.a), list(self.y))


def build_network(spec: Spec) -> Network:
    """Create the symbols of ``spec``'s network.

    >>> from .spec import parse_spec
    >>> net = build_network(parse_spec('inputs = 2\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "sigmoid"'))
    >>> net.layers[0].W
    Matrix([[W1_1_1, W1_1_2]])
    """
    x = _vector("x", spec.inputs)
    y = _vector("y", spec.layers[-1].size)
    layers: list[Layer] = []
    for l, ls in enumerate(spec.layers, start=1):
        sources = spec.sources(l)
        a_prev = x if sources[0] == 0 else layers[sources[0] - 1].a
        n_in = a_prev.rows
        if ls.type == "dense":
            W = sp.ImmutableMatrix(ls.size, n_in,
                                   lambda j, k: sp.Symbol(f"W{l}_{j + 1}_{k + 1}", real=True))
            b = _vector(f"b{l}", ls.size)
        else:                                   # add, flatten: no parameters
            W, b = sp.ImmutableMatrix(0, 0, []), sp.ImmutableMatrix(0, 1, [])
        layer = Layer(
            index=l, n_in=n_in, n_out=ls.size, activation=ACTIVATIONS[ls.activation],
            alpha=None if ls.alpha is None else sp.Rational(str(ls.alpha)),
            W=W, b=b, z=_vector(f"z{l}", ls.size),
            a=_vector(f"a{l}", ls.size), delta=_vector(f"delta{l}", ls.size), a_prev=a_prev,
            kind=ls.type, name=spec.layer_name(l), sources=sources)
        layers.append(layer)
    return Network(spec=spec, x=x, y=y, layers=tuple(layers), loss=LOSSES[spec.loss])
