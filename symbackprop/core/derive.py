"""Backpropagation, derived: the forward pass, the loss, δ recursion, gradients.

The derivation works per layer with named intermediates (z^l, a^l, δ^l),
which is what makes it linear in the number of parameters; expanding the
nested loss and differentiating it is exponential in depth.  Every local
derivative comes from ``sympy.diff``; only the shape of the recursion
(δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l), ∂E/∂W^l = δ^l (a^{l−1})ᵀ) and the
textbook forms (σ' = a(1 − a), tanh' = 1 − a², the softmax Jacobian
a_i([i = j] − a_j), δ^L = a·Σy − y for softmax + cross-entropy) are stated
here.  The proofs that they equal ``sympy.diff`` live in the test suite
(tests/test_derive.py), not on this path: ``derive`` runs no ``simplify``.

The recursion itself is stated once, as the network's program (core.program:
``network_program``); ``Derivation``'s per-neuron formulas (``delta``, ``fprime``,
``dadz``, ``forward``, ``gradient``, ``values_of``) are that program read
symbolically, in the network's own symbols.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from itertools import product
from math import prod

import sympy as sp

from .network import Layer, Network
from .program import (Edge, LocalDerivative, Node, Program, Symbolic, build_program,
                      local_derivative as _local_derivative, softmax_jacobian, softmax_output_delta)
from .symbols import A, Y

MAX_PATHS = 20_000


@dataclass(frozen=True)
class Factor:
    """∂ of / ∂ wrt = value, one link of a chain-rule path."""

    of: sp.Symbol | str        # "E" stands for the loss
    wrt: sp.Symbol
    value: sp.Expr


@dataclass(frozen=True)
class Chain:
    """∂E/∂param as a sum over paths of products of local derivatives."""

    param: sp.Symbol
    paths: tuple[tuple[Factor, ...], ...]
    delta_form: sp.Expr        # δ^l_j a^{l−1}_k or δ^l_j

    @property
    def total(self) -> sp.Expr:
        return sp.Add(*[sp.Mul(*[f.value for f in path]) for path in self.paths])


def local_derivative(layer: Layer) -> LocalDerivative:
    """f, f' (by sympy.diff) and f' in terms of the output, for one layer."""
    return _local_derivative(layer.activation, layer.alpha)


@dataclass(frozen=True)
class Derivation:
    """Everything the renderers, the numeric evaluator and the checker read."""

    network: Network
    local: tuple[LocalDerivative, ...]    # per layer
    loss: sp.Expr                         # E(a^L, y)
    loss_term: sp.Expr                    # one output's summand in A, Y
    dE_da: tuple[sp.Expr, ...]            # ∂E/∂a^L_j in a^L, y
    delta_output: sp.Expr                 # δ^L_j in generic A, Y, Z (S = Σ_i y_i for softmax + CE)
    delta_output_normalised: sp.Expr | None  # softmax + CE when Σ y = 1: A − Y
    # The forward and backward pass as equations (core.program): what every consumer —
    # these formulas, the numbers, the test points, the mistakes, generated code — reads.
    program: Program = field(compare=False, repr=False, default=None)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.network.layers

    # ---- the backward program, and each entry of it as a formula -------
    @cached_property
    def symbolic(self) -> Symbolic:
        return Symbolic(self.program, network_symbols(self.network))

    def forward(self, layer: Layer, j: int) -> tuple[sp.Expr, sp.Expr]:
        """(z^l_j = Σ_k w^l_{jk} a^{l−1}_k + b^l_j, a^l_j = f(z^l_j)) right-hand sides."""
        return self.symbolic.forward(layer.index, j)

    def fprime(self, layer: Layer, j: int) -> sp.Expr:
        """f_l'(z^l_j), in the output a^l_j when that is the textbook form."""
        return self.symbolic.fprime(layer.index, j)

    def dadz(self, layer: Layer, i: int, j: int) -> sp.Expr:
        """∂a^l_i/∂z^l_j (zero off the diagonal except for softmax)."""
        return self.symbolic.dadz(layer.index, i, j)

    def delta(self, layer: Layer, j: int) -> sp.Expr:
        """δ^l_j in terms of the next layer's δ (or of a^L, y at the output)."""
        return self.symbolic.delta(layer.index, j)

    def output_delta(self, j: int) -> sp.Expr:
        return self.symbolic.delta(self.layers[-1].index, j)

    def gradient(self, param: sp.Symbol) -> sp.Expr:
        """∂E/∂param = δ^l_j a^{l−1}_k (weights) or δ^l_j (biases)."""
        kind, l, j, k = self.network.location[param]
        return self.symbolic.gradient(f"{kind}{l}", j, k)

    # ---- chain rule, path by path ---------------------------------------
    # A path runs from z of the parameter's neuron up the graph to the loss: through a
    # weighted edge (dense) to every neuron of the consumer, through an unweighted edge
    # (add, flatten) to the same neuron, then ∂E/∂a at the output.
    def _consumers(self, i: int) -> list[Layer]:
        return [c for c in self.layers if i in c.sources]

    def _count(self, i: int) -> int:
        """Paths from z^i_j (any j: every neuron of a layer has as many) to the loss,
        counted once for every layer from the output down (no recursion: deep chains)."""
        if "_path_counts" not in self.__dict__:
            out = self.layers[-1]
            counts = {out.index: out.n_out if out.activation.layerwise else 1}
            for layer in reversed(self.layers[:-1]):
                counts[layer.index] = 0
            for c in reversed(self.layers):        # a consumer comes after what it reads
                for s in c.sources:
                    if s:
                        counts[s] += (c.n_out if c.dense else 1) * counts[c.index]
            self.__dict__["_path_counts"] = counts
        return self.__dict__["_path_counts"][i]

    def n_paths(self, param: sp.Symbol) -> int:
        _, l, _, _ = self.network.location[param]
        return self._count(l)

    def chain(self, param: sp.Symbol, limit: int | None = None) -> Chain:
        """The paths from E down to ``param``, each a product of local derivatives: every
        path, or (``limit``) the first ``limit`` of them in graph order."""
        n = self.n_paths(param)
        if limit is None and n > MAX_PATHS:
            raise ValueError(f"{param} has {n} chain-rule paths; at most {MAX_PATHS} are written out")
        kind, l, j, k = self.network.location[param]
        layer = self.layers[l - 1]
        base = Factor(layer.z[j], param, layer.a_prev[k] if kind == "W" else sp.S.One)
        paths: list[tuple[Factor, ...]] = []
        stack = [((), l, j)]       # (factors from z^i_h down to z^l_j, top first; i; h)
        while stack and (limit is None or len(paths) < limit):
            below, i, h = stack.pop()
            node = self.layers[i - 1]
            if i == self.layers[-1].index:
                outs = range(node.n_out) if node.activation.layerwise else [h]
                paths += [(Factor("E", node.a[m], self.dE_da[m]),
                           Factor(node.a[m], node.z[h], self.dadz(node, m, h))) + below
                          for m in outs]
                continue
            steps = []
            for c in self._consumers(i):
                for t in (range(c.n_out) if c.dense else [h]):
                    link = (Factor(c.z[t], node.a[h], c.W[t, h] if c.dense else sp.S.One),
                            Factor(node.a[h], node.z[h], self.dadz(node, h, h)))
                    steps.append((link + below, c.index, t))
            stack.extend(reversed(steps))
        paths = paths[:limit]
        return Chain(param, tuple(p + (base,) for p in paths), self.gradient(param))

    # ---- substitution back to inputs and parameters (small networks) ----
    @cached_property
    def values_of(self) -> dict[sp.Symbol, sp.Expr]:
        """z, a and δ symbols → expressions in x, y and the parameters."""
        return self.symbolic.values_of()


def network_program(network: Network) -> Program:
    """The program of a graph of layers: node l is layer l.  A dense layer reads its
    source through W<l> and adds b<l>; an add layer sums its sources (unweighted edges,
    so δ flows back to each of them unchanged); a flatten layer passes its source on
    (row-major; for a vector, entry by entry)."""
    nodes = []
    for l in network.layers:
        if l.dense:
            edges, bias = (Edge(l.sources[0], f"W{l.index}"),), f"b{l.index}"
        else:
            edges, bias = tuple(Edge(s) for s in l.sources), None
        nodes.append(Node(l.index, l.n_out, edges, bias, l.activation, l.alpha))
    return build_program(network.sizes[0], nodes, network.loss)


def network_symbols(network: Network) -> dict[str, sp.ImmutableMatrix]:
    """The program's variables as the network's own symbols."""
    table = {"a0": network.x, "y": network.y}
    for l in network.layers:
        i = l.index
        table.update({f"z{i}": l.z, f"a{i}": l.a, f"d{i}": l.delta})
        if l.dense:
            table.update({f"W{i}": l.W, f"b{i}": l.b})
    return table


def derive(network: Network) -> Derivation:
    """Derive backpropagation for ``network``.

    >>> from .spec import parse_spec
    >>> from .network import build_network
    >>> d = derive(build_network(parse_spec('inputs = 1\\nloss = "half_sse"\\n[[layer]]\\nsize = 1\\nactivation = "sigmoid"')))
    >>> d.delta_output
    a*(1 - a)*(a - y)
    """
    local = tuple(local_derivative(layer) for layer in network.layers)
    out = network.output
    loss = network.loss_expression()
    dE_da = tuple(sp.diff(loss, aj) for aj in out.a)
    term = network.loss.term(A, Y)
    program = network_program(network)
    closed = program.output_delta.closed
    return Derivation(network, local, loss, term, dE_da, sp.nan if closed is None else closed,
                      program.delta_output_normalised, program)


def _softmax_output_delta(loss: str) -> tuple[sp.Expr, sp.Expr | None]:
    """δ^L_j of a softmax output (core.program.softmax_output_delta); nan: the general
    Jacobian product, per neuron."""
    general, normalised = softmax_output_delta(loss)
    return (sp.nan, None) if general is None else (general, normalised)
