"""Backpropagation, derived: the forward pass, the loss, δ recursion, gradients.

The derivation works per layer with named intermediates (z^l, a^l, δ^l),
which is what makes it linear in the number of parameters; expanding the
nested loss and differentiating it is exponential in depth.  Every local
derivative comes from ``sympy.diff``; only the shape of the recursion
(δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l), ∂E/∂W^l = δ^l (a^{l−1})ᵀ) is stated
here, and the tests prove it equal to ``sympy.diff`` of the expanded loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import product
from math import prod

import sympy as sp

from .functions import softmax_layer
from .network import Layer, Network

# Generic scalars for the per-layer (index-form) formulas.
Z, A, Y = sp.symbols("z a y", real=True)
MAX_PATHS = 20_000


@dataclass(frozen=True)
class LocalDerivative:
    """One activation's derivative: f'(z) from sympy.diff, and the same
    derivative written with the output a = f(z) when that is the usual form."""

    f: sp.Expr                 # f(Z)
    fprime: sp.Expr            # d f / d Z
    fprime_output: sp.Expr | None   # f' in terms of A (σ: A(1 − A))
    jacobian: sp.Expr | None = None  # softmax: ∂a_i/∂z_j in terms of a_i, a_j, [i = j]


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
    if layer.activation.layerwise:
        return LocalDerivative(f=sp.Function("softmax")(Z), fprime=sp.nan,
                               fprime_output=None, jacobian=softmax_jacobian())
    f = layer.f(Z)
    fprime = sp.diff(f, Z)
    rule = layer.activation.in_terms_of_output
    fprime_output = None
    if rule is not None:
        fprime_output = rule(A)
        # Guard the table: the output form must be the sympy.diff derivative.
        assert sp.simplify((fprime_output.subs(A, f) - fprime).rewrite(sp.exp)) == 0
    return LocalDerivative(f=f, fprime=fprime, fprime_output=fprime_output)


def softmax_jacobian() -> sp.Expr:
    """∂a_i/∂z_j of softmax by sympy.diff, rewritten in the outputs:
    a_i([i = j] − a_j).  Returned with symbols a_i, a_j, kronecker (KD)."""
    z1, z2 = sp.symbols("z_1 z_2", real=True)
    a = softmax_layer([z1, z2])
    ai, aj, kd = sp.symbols("a_i a_j KD", real=True)
    # The textbook form a_i([i = j] - a_j), proved equal to sympy.diff here.
    assert sp.simplify(sp.diff(a[0], z1) - a[0] * (1 - a[0])) == 0
    assert sp.simplify(sp.diff(a[0], z2) + a[0] * a[1]) == 0
    return ai * (kd - aj)


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

    @property
    def layers(self) -> tuple[Layer, ...]:
        return self.network.layers

    # ---- per-neuron formulas (expanded on demand) -----------------------
    def forward(self, layer: Layer, j: int) -> tuple[sp.Expr, sp.Expr]:
        """(z^l_j = Σ_k w^l_{jk} a^{l−1}_k + b^l_j, a^l_j = f(z^l_j)) right-hand sides."""
        # sp.Add(*terms) builds the sum once; sum() would re-flatten it per term (quadratic).
        z = sp.Add(*[layer.W[j, k] * layer.a_prev[k] for k in range(layer.n_in)], layer.b[j])
        if layer.activation.layerwise:
            return z, softmax_layer(list(layer.z))[j]
        return z, layer.f(layer.z[j])

    def fprime(self, layer: Layer, j: int) -> sp.Expr:
        """f_l'(z^l_j), in the output a^l_j when that is the textbook form."""
        ld = self.local[layer.index - 1]
        if ld.fprime_output is not None:
            return ld.fprime_output.subs(A, layer.a[j])
        return ld.fprime.subs(Z, layer.z[j])

    def dadz(self, layer: Layer, i: int, j: int) -> sp.Expr:
        """∂a^l_i/∂z^l_j (zero off the diagonal except for softmax)."""
        if layer.activation.layerwise:
            ai, aj, kd = sp.symbols("a_i a_j KD", real=True)
            return self.local[layer.index - 1].jacobian.subs(
                {ai: layer.a[i], aj: layer.a[j], kd: int(i == j)})
        return self.fprime(layer, j) if i == j else sp.S.Zero

    def delta(self, layer: Layer, j: int) -> sp.Expr:
        """δ^l_j in terms of the next layer's δ (or of a^L, y at the output)."""
        if layer is self.layers[-1]:
            return self.output_delta(j)
        nxt = self.layers[layer.index]
        back = sp.Add(*[nxt.W[k, j] * nxt.delta[k] for k in range(nxt.n_out)])
        return back * self.fprime(layer, j)

    def output_delta(self, j: int) -> sp.Expr:
        out = self.layers[-1]
        subs = {A: out.a[j], Y: self.network.y[j], Z: out.z[j]}
        if out.activation.layerwise:
            subs[sp.Symbol("S", real=True)] = sp.Add(*self.network.y)
            if self.delta_output is sp.nan:
                return sp.Add(*[self.dE_da[i] * self.dadz(out, i, j) for i in range(out.n_out)])
        return self.delta_output.xreplace(subs)

    def gradient(self, param: sp.Symbol) -> sp.Expr:
        """∂E/∂param = δ^l_j a^{l−1}_k (weights) or δ^l_j (biases)."""
        kind, l, j, k = self.network.location[param]
        layer = self.layers[l - 1]
        return layer.delta[j] * layer.a_prev[k] if kind == "W" else layer.delta[j]

    # ---- chain rule, path by path ---------------------------------------
    def n_paths(self, param: sp.Symbol) -> int:
        _, l, _, _ = self.network.location[param]
        n = prod(layer.n_out for layer in self.layers[l:])
        return n * (self.layers[-1].n_out if self.layers[-1].activation.layerwise else 1)

    def chain(self, param: sp.Symbol) -> Chain:
        """Every path from E down to ``param``, each a product of local derivatives."""
        if self.n_paths(param) > MAX_PATHS:
            raise ValueError(f"{param} has {self.n_paths(param)} chain-rule paths; "
                             f"at most {MAX_PATHS} are written out")
        kind, l, j, k = self.network.location[param]
        layer = self.layers[l - 1]
        base = Factor(layer.z[j], param, layer.a_prev[k] if kind == "W" else sp.S.One)
        upper = self.layers[l:]
        paths = []
        for route in product(*[range(u.n_out) for u in upper]):
            neurons = (j,) + route                    # neuron index in layers l..L
            outs = range(self.layers[-1].n_out) if self.layers[-1].activation.layerwise \
                else [neurons[-1]]
            for i in outs:
                paths.append(self._path(l, neurons, i, base))
        return Chain(param, tuple(paths), self.gradient(param))

    def _path(self, l: int, neurons: tuple[int, ...], i: int, base: Factor) -> tuple[Factor, ...]:
        out = self.layers[-1]
        factors = [Factor("E", out.a[i], self.dE_da[i]),
                   Factor(out.a[i], out.z[neurons[-1]], self.dadz(out, i, neurons[-1]))]
        for m in range(len(neurons) - 1, 0, -1):      # walk down from layer L to l+1
            upper, lower = self.layers[l - 1 + m], self.layers[l - 2 + m]
            hi, lo = neurons[m], neurons[m - 1]
            factors.append(Factor(upper.z[hi], lower.a[lo], upper.W[hi, lo]))
            factors.append(Factor(lower.a[lo], lower.z[lo], self.dadz(lower, lo, lo)))
        factors.append(base)
        return tuple(factors)

    # ---- substitution back to inputs and parameters (small networks) ----
    @cached_property
    def values_of(self) -> dict[sp.Symbol, sp.Expr]:
        """z, a and δ symbols → expressions in x, y and the parameters."""
        env: dict[sp.Symbol, sp.Expr] = {}
        for layer in self.layers:
            zs = [self.forward(layer, j)[0].xreplace(env) for j in range(layer.n_out)]
            for zj, sym in zip(zs, layer.z):
                env[sym] = zj
            for aj, sym in zip(layer.outputs_of(zs), layer.a):
                env[sym] = aj
        for layer in reversed(self.layers):
            for j in range(layer.n_out):
                env[layer.delta[j]] = self.delta(layer, j).xreplace(env)
        return env


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
    scale = sp.Rational(1, out.n_out) if network.loss.mean else sp.S.One
    dterm = sp.diff(term, A) * scale
    normalised = None
    if out.activation.layerwise:
        delta_out, normalised = _softmax_output_delta(network.loss.name)
    else:
        ld = local[-1]
        fp = ld.fprime_output if ld.fprime_output is not None else ld.fprime
        delta_out = dterm * fp
        cancelled = sp.cancel(delta_out)          # sigmoid + BCE: a - y
        if sp.count_ops(cancelled) < sp.count_ops(delta_out):
            delta_out = cancelled
    return Derivation(network, local, loss, term, dE_da, delta_out, normalised)


def _softmax_output_delta(loss: str) -> tuple[sp.Expr, sp.Expr | None]:
    """δ^L_j for a softmax output: with cross-entropy Σ_i (−y_i/a_i) a_i([i=j] − a_j)
    = a_j Σ_i y_i − y_j (returned first), which is a_j − y_j when Σ y = 1."""
    if loss != "cross_entropy":
        return sp.nan, None          # the general Jacobian product, per neuron
    n = 3
    a = sp.symbols(f"a1:{n + 1}", positive=True)
    y = sp.symbols(f"y1:{n + 1}", real=True)
    ai, aj, kd = sp.symbols("a_i a_j KD", real=True)
    jac = softmax_jacobian()
    E = sum(-yi * sp.log(ak) for yi, ak in zip(y, a))
    d0 = sum(sp.diff(E, a[i]) * jac.subs({ai: a[i], aj: a[0], kd: int(i == 0)}) for i in range(n))
    S = sp.Symbol("S", real=True)
    general = A * S - Y
    assert sp.expand(d0 - general.subs({A: a[0], Y: y[0], S: sum(y)})) == 0
    return general, A - Y
