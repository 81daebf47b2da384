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
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import product
from math import prod

import sympy as sp

from .functions import Activation, softmax_layer
from .network import Layer, Network
from .symbols import A, A_I, A_J, KD, S, Y, Z

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
    return _local_derivative(layer.activation, layer.alpha)


# Generic-symbol formulas depend only on the activation (and α, and the loss): the
# same immutable expressions serve every layer and every network that uses them.
@lru_cache(maxsize=256)
def _local_derivative(activation: Activation, alpha: sp.Expr | None) -> LocalDerivative:
    if activation.layerwise:
        return LocalDerivative(f=sp.Function("softmax")(Z), fprime=sp.nan,
                               fprime_output=None, jacobian=softmax_jacobian())
    f = activation.build(Z, alpha)
    fprime = sp.diff(f, Z)
    rule = activation.in_terms_of_output
    # The output form is proved equal to the sympy.diff derivative in the tests.
    fprime_output = None if rule is None else rule(A)
    return LocalDerivative(f=f, fprime=fprime, fprime_output=fprime_output)


def softmax_jacobian() -> sp.Expr:
    """∂a_i/∂z_j of softmax written in the outputs: a_i([i = j] − a_j), with the
    symbols a_i, a_j and KD for the Kronecker delta [i = j] (core.symbols).  The
    tests prove it equal to sympy.diff of e^{z_i} / Σ_k e^{z_k}."""
    return A_I * (KD - A_J)


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
            return self.local[layer.index - 1].jacobian.subs(
                {A_I: layer.a[i], A_J: layer.a[j], KD: int(i == j)})
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
            subs[S] = sp.Add(*self.network.y)
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
    normalised = None
    if out.activation.layerwise:
        delta_out, normalised = _softmax_output_delta(network.loss.name)
    else:
        ld = local[-1]
        fp = ld.fprime_output if ld.fprime_output is not None else ld.fprime
        delta_out = _output_delta(sp.diff(term, A) * scale, fp)
    return Derivation(network, local, loss, term, dE_da, delta_out, normalised)


@lru_cache(maxsize=256)
def _output_delta(dterm: sp.Expr, fprime: sp.Expr) -> sp.Expr:
    """δ^L = ∂ℓ/∂a · f'(z), cancelled when that is shorter (sigmoid + BCE: a − y)."""
    delta_out = dterm * fprime
    cancelled = sp.cancel(delta_out)
    return cancelled if sp.count_ops(cancelled) < sp.count_ops(delta_out) else delta_out


def _softmax_output_delta(loss: str) -> tuple[sp.Expr, sp.Expr | None]:
    """δ^L_j for a softmax output: with cross-entropy Σ_i (−y_i/a_i) a_i([i=j] − a_j)
    = a_j Σ_i y_i − y_j (returned first, S = Σ_i y_i), which is a_j − y_j when Σ y = 1.
    The tests prove the identity from sympy.diff of the loss and of softmax."""
    if loss != "cross_entropy":
        return sp.nan, None          # the general Jacobian product, per neuron
    return A * S - Y, A - Y
