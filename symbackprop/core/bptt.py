"""Backpropagation through time, derived (issue #19): an Elman layer and its output.

The recurrence of ``core.recurrent`` unrolled over T steps (h_0 given)::

    z_t = W x_t + U h_{t−1} + b,   h_t = f(z_t)                        t = 1 … T
    o_t = V h_t + c,               ŷ_t = g(o_t),   δ^y_t = ∂E/∂o_t     t with an output
    δ_t = ∂E/∂z_t = (Uᵀ δ_{t+1} + Vᵀ δ^y_t) ⊙ f′(z_t)                  δ_{T+1} = 0
    ∂E/∂W = Σ_t δ_t x_tᵀ,   ∂E/∂U = Σ_t δ_t h_{t−1}ᵀ,   ∂E/∂b = Σ_t δ_t
    ∂E/∂V = Σ_t δ^y_t h_tᵀ, ∂E/∂c = Σ_t δ^y_t

W, U, b (and V, c) are tied: one array serves every step, so its gradient is the sum
over the steps of each step's local gradient.  Only the shape of this recursion is
stated here; f′ comes from ``sympy.diff`` (``program.local_derivative``), δ^y_t from
the output layer as a one-node backward program (``program.build_program``: the same
∂ℓ/∂a and closed forms as every dense output), times 1/(number of outputs) when
``[network] time = "mean"``.  Under truncation (``Recurrence.cut``) the term Uᵀ δ_{t+1}
is left out of δ_t where the window ends.  The tests prove the whole recursion equal
to ``sympy.diff`` of the expanded loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .functions import ACTIVATIONS, LOSSES
from .program import Edge, LocalDerivative, Node, Program, Symbolic, build_program, local_derivative
from .recurrent import Recurrence
from .spec import Spec
from .symbols import A as _A, Z as _Z

# the spec's array names of an rnn spec → the letters of the documents
LETTERS = {"W1": "W", "U1": "U", "b1": "b", "W2": "V", "b2": "c"}


def _alpha(a):
    return None if a is None else sp.nsimplify(a)


@dataclass(frozen=True)
class RecurrentDerivation:
    """Everything the numbers, documents and tests read of a recurrent spec."""

    spec: Spec
    cell: LocalDerivative       # f, f′ (sympy.diff), f′ in h = f(z) when that is the textbook form
    output: Program             # ŷ = g(W2 h + b2) with its loss: δ^y as every dense output's δ

    @property
    def recurrence(self) -> Recurrence:
        return self.spec.recurrence

    @property
    def hidden(self) -> int:
        return self.recurrence.hidden

    @property
    def n_out(self) -> int:
        return self.output.output.size

    def time_scale(self, T: int) -> sp.Expr:
        """1 (time = "sum"), or 1 / the number of outputs of a sequence (time = "mean")."""
        n = len(self.recurrence.outputs_at(T))
        return sp.Rational(1, n) if self.recurrence.time == "mean" else sp.S.One

    def unrolled(self, T: int) -> "Unrolled":
        return Unrolled(self, T)


def derive_recurrent(spec: Spec) -> RecurrentDerivation:
    """The derivation of a spec with an rnn layer (``spec.recurrence`` set).

    >>> from .spec import parse_spec
    >>> d = derive_recurrent(parse_spec('inputs = 1\\nloss = "half_sse"\\n[[layer]]\\n'
    ...     'type = "rnn"\\nsize = 2\\n[[layer]]\\nsize = 1\\nactivation = "identity"'))
    >>> d.cell.slope
    1 - a**2
    """
    rnn, out = spec.layers[0], spec.layers[1]
    cell = local_derivative(ACTIVATIONS[rnn.activation], _alpha(rnn.alpha))
    node = Node(1, out.size, (Edge(0, "W2"),), "b2", ACTIVATIONS[out.activation], _alpha(out.alpha))
    return RecurrentDerivation(spec, cell, build_program(rnn.size, [node], LOSSES[spec.loss]))


def _vec(name: str, n: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([sp.Symbol(f"{name}_{j}", real=True) for j in range(1, n + 1)])


def _mat(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, cols, lambda j, k: sp.Symbol(f"{name}_{j + 1}_{k + 1}", real=True))


class Unrolled:
    """The network unrolled over T steps, each quantity a SymPy formula of one entry.

    Symbols: ``x{t}_i``, ``y{t}_k`` (t the step, from 1; y of the steps with an output),
    ``h0_j`` (the initial state), ``z{t}_j``, ``h{t}_j``, ``o{t}_k``, ``yhat{t}_k``,
    ``delta{t}_j``, ``deltay{t}_k``; parameters ``W_j_i``, ``U_j_k``, ``b_j``, ``V_k_j``,
    ``c_k``.  ``delta(t, j)`` is the one-step recursion in the δ symbols of step t + 1
    and δ^y_t (what the documents show); ``values()`` substitutes every quantity down
    to x, y, h0 and the parameters (what the tests differentiate against).
    """

    def __init__(self, d: RecurrentDerivation, T: int):
        self.d, self.T = d, T
        r, H, n_in, m = d.recurrence, d.hidden, d.spec.inputs, d.n_out
        self.steps_out = r.outputs_at(T)
        self.params = {"W1": _mat("W", H, n_in), "U1": _mat("U", H, H), "b1": _vec("b", H),
                       "W2": _mat("V", m, H), "b2": _vec("c", m)}
        self.x = {t: _vec(f"x{t}", n_in) for t in range(1, T + 1)}
        self.h = {0: _vec("h0", H)} | {t: _vec(f"h{t}", H) for t in range(1, T + 1)}
        self.z = {t: _vec(f"z{t}", H) for t in range(1, T + 1)}
        self.delta = {t: _vec(f"delta{t}", H) for t in range(1, T + 1)}
        self.y = {t: _vec(f"y{t}", m) for t in self.steps_out}
        self.o = {t: _vec(f"o{t}", m) for t in self.steps_out}
        self.yhat = {t: _vec(f"yhat{t}", m) for t in self.steps_out}
        self.deltay = {t: _vec(f"deltay{t}", m) for t in self.steps_out}

    # ---- the forward pass -------------------------------------------------
    def pre_activation(self, t: int, j: int) -> sp.Expr:
        """z_t,j = Σ_i W_ji x_t,i + Σ_k U_jk h_{t−1},k + b_j."""
        W, U, b = self.params["W1"], self.params["U1"], self.params["b1"]
        return sp.Add(*[W[j, i] * self.x[t][i] for i in range(W.cols)],
                      *[U[j, k] * self.h[t - 1][k] for k in range(U.cols)], b[j])

    def state(self, t: int, j: int) -> sp.Expr:
        """h_t,j = f(z_t,j)."""
        return self.d.cell.f.subs(_Z, self.z[t][j])

    def _output_symbolic(self, t: int) -> Symbolic:
        table = {"a0": self.h[t], "y": self.y[t], "z1": self.o[t], "a1": self.yhat[t],
                 "d1": self.deltay[t], "W2": self.params["W2"], "b2": self.params["b2"]}
        return Symbolic(self.d.output, table)

    def output(self, t: int, k: int) -> tuple[sp.Expr, sp.Expr]:
        """(o_t,k = Σ_j V_kj h_t,j + c_k, ŷ_t,k = g(o_t,k))."""
        return self._output_symbolic(t).forward(1, k)

    def loss(self) -> sp.Expr:
        """E = (time scale) Σ_t ℓ(ŷ_t, y_t) in the ŷ and y symbols."""
        loss = self.d.output.loss
        return self.d.time_scale(self.T) * sp.Add(*[loss.expression(list(self.yhat[t]), list(self.y[t]))
                                                    for t in self.steps_out])

    # ---- the backward pass ------------------------------------------------
    def output_delta(self, t: int, k: int) -> sp.Expr:
        """δ^y_t,k = (time scale) ∂ℓ(ŷ_t, y_t)/∂o_t,k."""
        return self.d.time_scale(self.T) * self._output_symbolic(t).delta(1, k)

    def fprime(self, t: int, j: int) -> sp.Expr:
        return self.d.cell.slope.subs(_A, self.h[t][j]).subs(_Z, self.z[t][j])

    def recurrent_term(self, t: int, j: int) -> sp.Expr:
        """(Uᵀ δ_{t+1})_j, zero at t = T and where truncation cuts h_t off step t + 1."""
        if t == self.T or self.d.recurrence.cut(t + 1, self.T):
            return sp.S.Zero
        U = self.params["U1"]
        return sp.Add(*[U[k, j] * self.delta[t + 1][k] for k in range(U.rows)])

    def output_term(self, t: int, j: int) -> sp.Expr:
        """(Vᵀ δ^y_t)_j, zero at a step without an output."""
        if t not in self.deltay:
            return sp.S.Zero
        V = self.params["W2"]
        return sp.Add(*[V[k, j] * self.deltay[t][k] for k in range(V.rows)])

    def delta_formula(self, t: int, j: int) -> sp.Expr:
        """δ_t,j = ((Uᵀ δ_{t+1})_j + (Vᵀ δ^y_t)_j) f′(z_t,j)."""
        return (self.recurrent_term(t, j) + self.output_term(t, j)) * self.fprime(t, j)

    def gradient(self, key: str, j: int, k: int | None = None) -> sp.Expr:
        """∂E/∂(array key)[j, k] as the sum over time of δ's (in the δ symbols)."""
        T = self.T
        if key == "W1":
            return sp.Add(*[self.delta[t][j] * self.x[t][k] for t in range(1, T + 1)])
        if key == "U1":
            return sp.Add(*[self.delta[t][j] * self.h[t - 1][k] for t in range(1, T + 1)])
        if key == "b1":
            return sp.Add(*[self.delta[t][j] for t in range(1, T + 1)])
        if key == "W2":
            return sp.Add(*[self.deltay[t][j] * self.h[t][k] for t in self.steps_out])
        return sp.Add(*[self.deltay[t][j] for t in self.steps_out])

    @cached_property
    def values(self) -> dict[sp.Symbol, sp.Expr]:
        """Every z, h, o, ŷ, δ^y, δ symbol → its formula in x, y, h0 and the parameters."""
        env: dict[sp.Symbol, sp.Expr] = {}
        H, m = self.d.hidden, self.d.n_out
        for t in range(1, self.T + 1):
            for j in range(H):
                env[self.z[t][j]] = self.pre_activation(t, j).xreplace(env)
            for j in range(H):
                env[self.h[t][j]] = self.state(t, j).xreplace(env)
            if t in self.o:
                for k in range(m):
                    env[self.o[t][k]] = self.output(t, k)[0].xreplace(env)
                for k in range(m):
                    env[self.yhat[t][k]] = self._output_activation(t, k).xreplace(env)
        for t in self.steps_out:
            for k in range(m):
                env[self.deltay[t][k]] = self.output_delta(t, k).xreplace(env)
        for t in range(self.T, 0, -1):
            for j in range(H):
                env[self.delta[t][j]] = self.delta_formula(t, j).xreplace(env)
        return env

    def _output_activation(self, t: int, k: int) -> sp.Expr:
        return self.output(t, k)[1]

    def gradients(self) -> dict[str, sp.ImmutableMatrix]:
        """∂E/∂ each array, in x, y, h0 and the parameters (the recursion substituted)."""
        env, out = self.values, {}
        for key, P in self.params.items():
            out[key] = sp.ImmutableMatrix(P.rows, P.cols, lambda j, k: self.gradient(
                key, j, k if P.cols > 1 or key in ("W1", "U1", "W2") else None).xreplace(env))
        return out

