"""The backward program: forward and backward pass stated once, as data.

A ``Program`` is a list of named equations over the nodes of a graph of layers,
in the spirit of a jaxpr.  Node 0 is the input x; node i ≥ 1 computes

    z_i = Σ_e W_e a_{src(e)} + b_i,   a_i = f_i(z_i)

(an edge without a weight adds a_src itself: a skip connection or an ``add``
join).  The last node is the output.  The backward equations follow from the
forward ones, one rule per operation:

    δ_N = ∂E/∂a_N ⊙ f_N'(z_N)                    (output_delta; softmax: Jacobianᵀ)
    g_i = Σ_{c fed by i} W_cᵀ δ_c                (back: ∂E/∂a_i, a sum when i feeds several)
    δ_i = g_i ⊙ f_i'(z_i)                        (delta)
    ∂E/∂W = Σ_{edges with W} δ_c a_srcᵀ,  ∂E/∂b = Σ δ   (grad: a parameter may be shared)

Every consumer compiles the program once: ``numeric.vectorised`` into float64
steps, ``checker.points`` into 30-digit steps, ``numeric.codegen`` prints it,
``Symbolic`` (here) gives each entry as a SymPy formula for ``derive``, the
documents and the checker's mistakes, which are rewrites of the program
(``with_fprime``, ``untransposed``, ``with_dEda``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

import sympy as sp

from .functions import Activation, Loss, softmax_layer
from .symbols import A, A_I, A_J, KD, S, Y, Z

VARIABLE = re.compile(r"[zadg][0-9]+|y")
OPS = ("affine", "activate", "output_delta", "back", "delta", "grad")


@dataclass(frozen=True)
class LocalDerivative:
    """One activation's derivative: f'(z) from sympy.diff, and the same
    derivative written with the output a = f(z) when that is the usual form."""

    f: sp.Expr                 # f(Z)
    fprime: sp.Expr            # d f / d Z
    fprime_output: sp.Expr | None   # f' in terms of A (σ: A(1 − A))
    jacobian: sp.Expr | None = None  # softmax: ∂a_i/∂z_j in terms of a_i, a_j, [i = j]

    @property
    def slope(self) -> sp.Expr:
        """f' as the numbers use it: in the output a when that is the textbook form."""
        return self.fprime_output if self.fprime_output is not None else self.fprime


@lru_cache(maxsize=256)
def local_derivative(activation: Activation, alpha: sp.Expr | None) -> LocalDerivative:
    """f, f' (by sympy.diff) and f' in terms of the output, for one activation.  The same
    immutable expressions serve every node and every network that uses them."""
    if activation.layerwise:
        return LocalDerivative(f=sp.Function("softmax")(Z), fprime=sp.nan,
                               fprime_output=None, jacobian=softmax_jacobian())
    f = activation.build(Z, alpha)
    rule = activation.in_terms_of_output
    # The output form is proved equal to the sympy.diff derivative in the tests.
    return LocalDerivative(f=f, fprime=sp.diff(f, Z), fprime_output=None if rule is None else rule(A))


def softmax_jacobian() -> sp.Expr:
    """∂a_i/∂z_j of softmax written in the outputs: a_i([i = j] − a_j), with the
    symbols a_i, a_j and KD for the Kronecker delta [i = j] (core.symbols).  The
    tests prove it equal to sympy.diff of e^{z_i} / Σ_k e^{z_k}."""
    return A_I * (KD - A_J)


class Edge(NamedTuple):
    """One input of a node: a_source, through the weight array ``weight`` (None: as is)."""

    source: int
    weight: str | None = None


@dataclass(frozen=True)
class Node:
    """Node i: z_i = Σ_e W_e a_src + b_i, a_i = f_i(z_i)."""

    index: int
    size: int
    inputs: tuple[Edge, ...]
    bias: str | None
    activation: Activation
    alpha: sp.Expr | None = None

    @property
    def local(self) -> LocalDerivative:
        return local_derivative(self.activation, self.alpha)


class Term(NamedTuple):
    """One summand of an equation: ``weight`` (a parameter, None: 1) times ``var``."""

    weight: str | None
    var: str


@dataclass(frozen=True)
class Eqn:
    """``out = op(...)`` at node ``node``.

    affine  out = Σ weight·var + bias       back  out = Σ weightᵀ·var (``transpose``)
    activate out = f(z)                     delta out = var ⊙ f'(z, a)
    output_delta out = ∂E/∂a ⊙ f'  or ``closed``      grad  out = Σ var·(source)ᵀ, or Σ var
    """

    op: str
    out: str
    node: int
    terms: tuple[Term, ...] = ()
    bias: str | None = None
    slope: sp.Expr | None = None       # delta, output_delta: f' in Z and A (elementwise)
    jacobian: sp.Expr | None = None    # delta, output_delta of softmax: ∂a_i/∂z_j in A_I, A_J, KD
    closed: sp.Expr | None = None      # output_delta: δ in A, Y, Z, S; None: ∂E/∂a through f'
    dEda: sp.Expr = sp.S.One           # output_delta: ∂E/∂a is this times sympy.diff(E', a)
    log_base: sp.Expr | None = None    # output_delta: E' is E with log u read as log_base(u)
    transpose: bool = True             # back: Wᵀ (False: the mistake of W written for Wᵀ)
    sources: tuple[str | None, ...] = ()  # grad of a weight: the a each term's δ multiplies


@dataclass(frozen=True, eq=False)
class Program:
    """A graph of layers and its forward, backward and gradient equations."""

    n_inputs: int
    nodes: tuple[Node, ...]              # node i at position i − 1; the last is the output
    loss: Loss
    params: tuple[tuple[str, tuple[int, ...]], ...]   # name → shape, in gradient order
    forward: tuple[Eqn, ...]
    backward: tuple[Eqn, ...]
    gradients: tuple[Eqn, ...]
    delta_output_normalised: sp.Expr | None = None    # softmax + CE when Σ y = 1: A − Y

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    def node(self, i: int) -> Node:
        return self.nodes[i - 1]

    def size(self, i: int) -> int:
        return self.n_inputs if i == 0 else self.nodes[i - 1].size

    @property
    def output_delta(self) -> Eqn:
        return self.backward[0]

    def equation(self, out: str) -> Eqn:
        return next(e for e in self.forward + self.backward + self.gradients if e.out == out)

    def __str__(self) -> str:
        return "\n".join(_show(e) for e in self.forward + self.backward + self.gradients)


def _show(e: Eqn) -> str:
    """One equation in words, for reading a program (``print(program)``)."""
    if e.op in ("affine", "back", "grad"):
        t = "ᵀ" if e.op == "back" and e.transpose else ""
        src = e.sources or (None,) * len(e.terms)
        parts = [(f"{w}{t}·" if w else "") + v + (f"·{s}ᵀ" if s else "")
                 for (w, v), s in zip(e.terms, src)]
        return f"{e.out} = {e.op} " + " + ".join(parts + ([e.bias] if e.bias else []))
    if e.op == "activate":
        return f"{e.out} = activate[{e.node}] z{e.node}"
    if e.op == "delta":
        return f"{e.out} = delta[{e.node}] g{e.node} ⊙ f'(z{e.node}, a{e.node})"
    return f"{e.out} = output_delta[{e.node}] a{e.node}, y, z{e.node}"


# ---- building ---------------------------------------------------------------
def build_program(n_inputs: int, nodes: list[Node] | tuple[Node, ...], loss: Loss) -> Program:
    """The program of a graph of ``nodes`` (in topological order, node i at position i − 1,
    inputs from lower-numbered nodes, the last node the output) under ``loss``.

    >>> from .functions import ACTIVATIONS, LOSSES
    >>> p = build_program(2, [Node(1, 3, (Edge(0, "W1"),), "b1", ACTIVATIONS["tanh"]),
    ...                       Node(2, 1, (Edge(1, "W2"),), "b2", ACTIVATIONS["sigmoid"])],
    ...                   LOSSES["half_sse"])
    >>> print(p)
    z1 = affine W1·a0 + b1
    a1 = activate[1] z1
    z2 = affine W2·a1 + b2
    a2 = activate[2] z2
    d2 = output_delta[2] a2, y, z2
    g1 = back W2ᵀ·d2
    d1 = delta[1] g1 ⊙ f'(z1, a1)
    g0 = back W1ᵀ·d1
    W1 = grad d1·a0ᵀ
    b1 = grad d1
    W2 = grad d2·a1ᵀ
    b2 = grad d2
    """
    nodes = tuple(nodes)
    _check(n_inputs, nodes)
    shapes: dict[str, tuple[int, ...]] = {}
    forward, grads = [], []
    for n in nodes:
        for e in n.inputs:
            if e.weight is not None:
                _shape(shapes, e.weight, (n.size, _size(nodes, n_inputs, e.source)))
            elif _size(nodes, n_inputs, e.source) != n.size:
                raise ValueError(f"node {n.index}: an unweighted input must have {n.size} entries")
        if n.bias is not None:
            _shape(shapes, n.bias, (n.size,))
        forward.append(Eqn("affine", f"z{n.index}", n.index,
                           tuple(Term(e.weight, f"a{e.source}") for e in n.inputs), n.bias))
        forward.append(Eqn("activate", f"a{n.index}", n.index))
    backward = [_output_eqn(nodes[-1], loss)]
    consumers = {i: [] for i in range(len(nodes) + 1)}
    for n in nodes:
        for e in n.inputs:
            consumers[e.source].append(Term(e.weight, f"d{n.index}"))
    for n in reversed(nodes[:-1]):
        backward.append(Eqn("back", f"g{n.index}", n.index, tuple(consumers[n.index])))
        backward.append(Eqn("delta", f"d{n.index}", n.index, (Term(None, f"g{n.index}"),),
                            slope=n.local.slope if n.local.jacobian is None else None,
                            jacobian=n.local.jacobian))
    backward.append(Eqn("back", "g0", 0, tuple(consumers[0])))     # ∂E/∂x (read by the checker)
    for name in shapes:
        uses = [(f"d{n.index}", f"a{e.source}") for n in nodes for e in n.inputs if e.weight == name]
        uses += [(f"d{n.index}", None) for n in nodes if n.bias == name]
        grads.append(Eqn("grad", name, 0, tuple(Term(None, d) for d, _ in uses),
                         sources=tuple(s for _, s in uses)))
    normalised = softmax_output_delta(loss.name)[1] if nodes[-1].activation.layerwise else None
    return Program(n_inputs, nodes, loss, tuple(shapes.items()), tuple(forward),
                   tuple(backward), tuple(grads), normalised)


def _size(nodes, n_inputs: int, i: int) -> int:
    return n_inputs if i == 0 else nodes[i - 1].size


def _shape(shapes: dict, name: str, shape: tuple[int, ...]) -> None:
    if VARIABLE.fullmatch(name):
        raise ValueError(f"parameter {name}: the name of a variable (z1, a1, d1, g1, y)")
    if shapes.setdefault(name, shape) != shape:
        raise ValueError(f"parameter {name} is used with shapes {shapes[name]} and {shape}")


def _check(n_inputs: int, nodes: tuple[Node, ...]) -> None:
    for pos, n in enumerate(nodes, start=1):
        if n.index != pos or not n.inputs:
            raise ValueError(f"node {pos}: nodes are numbered 1, 2, … in order, each with inputs")
        if any(not 0 <= e.source < pos for e in n.inputs):
            raise ValueError(f"node {pos}: inputs come from earlier nodes (0 is x)")
        if n.activation.layerwise and pos != len(nodes):
            raise ValueError(f"node {pos}: softmax only at the output")
    if any(e.source == len(nodes) for n in nodes for e in n.inputs):
        raise ValueError("the output node feeds no other node")


def _output_eqn(out: Node, loss: Loss) -> Eqn:
    """δ at the output: the closed form of ∂ℓ/∂a · f' (or of softmax + cross-entropy)."""
    ld = out.local
    if out.activation.layerwise:
        closed = softmax_output_delta(loss.name)[0]
        return Eqn("output_delta", f"d{out.index}", out.index, jacobian=ld.jacobian, closed=closed)
    scale = sp.Rational(1, out.size) if loss.mean else sp.S.One
    closed = output_delta_formula(sp.diff(loss.term(A, Y), A) * scale, ld.slope)
    return Eqn("output_delta", f"d{out.index}", out.index, slope=ld.slope, closed=closed)


@lru_cache(maxsize=256)
def output_delta_formula(dterm: sp.Expr, fprime: sp.Expr) -> sp.Expr:
    """δ^L = ∂ℓ/∂a · f'(z), cancelled when that is shorter (sigmoid + BCE: a − y)."""
    delta_out = dterm * fprime
    cancelled = sp.cancel(delta_out)
    return cancelled if sp.count_ops(cancelled) < sp.count_ops(delta_out) else delta_out


def softmax_output_delta(loss: str) -> tuple[sp.Expr | None, sp.Expr | None]:
    """δ^L_j for a softmax output: with cross-entropy Σ_i (−y_i/a_i) a_i([i=j] − a_j)
    = a_j Σ_i y_i − y_j (returned first, S = Σ_i y_i), which is a_j − y_j when Σ y = 1.
    Other losses: (None, None), the general Jacobian product.  The tests prove the
    identity from sympy.diff of the loss and of softmax."""
    if loss != "cross_entropy":
        return None, None
    return A * S - Y, A - Y


# ---- rewrites (the checker's mistakes in the recursion) ---------------------
def with_fprime(p: Program, slope: sp.Expr | None = None, jacobian: sp.Expr | None = None,
                at: int | None = None) -> Program:
    """``p`` with f' of node ``at`` (None: every node) replaced: elementwise nodes get
    ``slope`` (in Z, A), softmax nodes ``jacobian`` (in A_I, A_J, KD); the output δ is
    then ∂E/∂a through the new f' (its closed form no longer holds)."""
    def rewrite(e: Eqn) -> Eqn:
        if e.op not in ("delta", "output_delta") or at not in (None, e.node):
            return e
        if e.jacobian is not None:
            return e if jacobian is None else replace(e, jacobian=jacobian, closed=None)
        return e if slope is None else replace(e, slope=slope, closed=None)
    return replace(p, backward=tuple(rewrite(e) for e in p.backward))


def without_edge(p: Program, source: int, consumer: int) -> Program:
    """``p`` with the edge source → consumer left out of the backward pass: δ of
    ``source`` no longer collects what flows back from ``consumer`` (a dropped skip
    path); the forward pass keeps the edge."""
    def rewrite(e: Eqn) -> Eqn:
        if e.op != "back" or e.node != source:
            return e
        return replace(e, terms=tuple(t for t in e.terms if t.var != f"d{consumer}"))
    return replace(p, backward=tuple(rewrite(e) for e in p.backward))


def untransposed(p: Program) -> Program:
    """``p`` with W written for Wᵀ in every back equation (w_{jk} for w_{kj})."""
    return replace(p, backward=tuple(replace(e, transpose=False) if e.op == "back" else e
                                     for e in p.backward))


def unclosed(p: Program) -> Program:
    """``p`` with δ at the output as the textbook chain ∂E/∂a ⊙ f' (or Jacobianᵀ ∂E/∂a),
    not its closed form: where the mistakes are made."""
    return replace(p, backward=(replace(p.output_delta, closed=None),) + p.backward[1:])


def with_dEda(p: Program, factor: sp.Expr = sp.S.One, log_base: sp.Expr | None = None) -> Program:
    """``p`` with ∂E/∂a at the output times ``factor`` (a dropped ½: 2), or taken of E
    with its logs read in ``log_base``."""
    out = p.output_delta
    return replace(p, backward=(replace(out, dEda=factor, log_base=log_base, closed=None),)
                   + p.backward[1:])


# ---- the symbolic interpreter -------------------------------------------------
class NoSuchEntry(ValueError):
    """A rewritten equation reads an entry that does not exist (w_{jk} outside W)."""


def symbols_of(p: Program) -> dict[str, sp.ImmutableMatrix]:
    """SymPy symbols for every variable and parameter of ``p``, named as core.network
    names them (z3_1, a3_1, delta3_1, x_1, y_1, W3_1_2, b3_1)."""
    def vec(prefix, n):
        return sp.ImmutableMatrix([sp.Symbol(f"{prefix}_{j}", real=True) for j in range(1, n + 1)])
    table = {"a0": vec("x", p.n_inputs), "y": vec("y", p.output.size)}
    for n in p.nodes:
        table.update({f"z{n.index}": vec(f"z{n.index}", n.size), f"a{n.index}": vec(f"a{n.index}", n.size),
                      f"d{n.index}": vec(f"delta{n.index}", n.size)})
    for name, shape in p.params:
        table[name] = vec(name, shape[0]) if len(shape) == 1 else sp.ImmutableMatrix(
            *shape, lambda j, k: sp.Symbol(f"{name}_{j + 1}_{k + 1}", real=True))
    return table


class Symbolic:
    """Each entry of a program as a SymPy formula in the symbols of ``symbols``.

    ``delta(i, j)`` is δ_i,j in the δ symbols of the nodes node i feeds (the one-step
    recursion the documents show); with ``expand`` those δ's are substituted in turn,
    down to a, z, y and the parameters (how the mistakes build a mutated δ).  The
    equation table is compiled once; every entry is built once.  The methods are the
    hooks of the recursion (``fprime``, ``dadz``, ``weight``, ``dE_da``): a subclass
    may override one (checker.diagnose's slips).
    """

    def __init__(self, p: Program, symbols: dict[str, sp.ImmutableMatrix], expand: bool = False):
        self.p, self.sym, self.expand = p, symbols, expand
        self.eqn = {e.out: e for e in p.backward}
        self.memo: dict = {}

    def _z_a(self, i: int, j: int):
        return self.sym[f"z{i}"][j], self.sym[f"a{i}"][j]

    def fprime(self, i: int, j: int) -> sp.Expr:
        """f_i'(z_i,j), in the output a_i,j when that is the textbook form."""
        slope = self.eqn[f"d{i}"].slope
        z, a = self._z_a(i, j)
        return slope.subs(A, a).subs(Z, z)

    def dadz(self, i: int, m: int, j: int) -> sp.Expr:
        """∂a_i,m/∂z_i,j (zero off the diagonal except for softmax)."""
        e = self.eqn[f"d{i}"]
        if e.jacobian is None:
            return self.fprime(i, j) if m == j else sp.S.Zero
        a = self.sym[f"a{i}"]
        return e.jacobian.subs({A_I: a[m], A_J: a[j], KD: int(m == j)})

    def weight(self, name: str, k: int, j: int, transpose: bool) -> sp.Expr:
        W = self.sym[name]
        if transpose:
            return W[k, j]
        if j < W.rows and k < W.cols:
            return W[j, k]
        raise NoSuchEntry("no weight w_{jk} with these indices")

    def back(self, i: int, j: int) -> sp.Expr:
        """∂E/∂a_i,j = Σ over the nodes c that i feeds of (W_cᵀ δ_c)_j."""
        e = self.eqn[f"g{i}"]
        parts = []
        for w, var in e.terms:
            c = int(var[1:])
            if w is None:
                parts.append(self._delta_ref(c, j))
            else:
                parts += [self.weight(w, k, j, e.transpose) * self._delta_ref(c, k)
                          for k in range(self.p.size(c))]
        return sp.Add(*parts)

    def _delta_ref(self, c: int, k: int) -> sp.Expr:
        return self.delta(c, k) if self.expand else self.sym[f"d{c}"][k]

    def delta(self, i: int, j: int) -> sp.Expr:
        """δ_i,j: at the output from ∂E/∂a, else (Σ Wᵀ δ)_j f_i'(z_i,j)."""
        key = ("delta", i, j)
        if key not in self.memo:
            self.memo[key] = (self._output_delta(j) if i == self.p.output.index
                              else self.back(i, j) * self.fprime(i, j))
        return self.memo[key]

    def dE_da(self, m: int) -> sp.Expr:
        """∂E/∂a^out_m (with the program's rewrite of it)."""
        key = ("dE_da", m)
        if key not in self.memo:
            e, a = self.p.output_delta, self.sym[f"a{self.p.output.index}"]
            loss = self.loss()
            if e.log_base is not None:
                loss = loss.replace(sp.log, lambda u: sp.log(u) / sp.log(e.log_base))
            self.memo[key] = e.dEda * sp.diff(loss, a[m]) if e.dEda != 1 else sp.diff(loss, a[m])
        return self.memo[key]

    def loss(self) -> sp.Expr:
        """E in the output's a and y."""
        out = self.p.output.index
        return self.p.loss.expression(list(self.sym[f"a{out}"]), list(self.sym["y"]))

    def _output_delta(self, j: int) -> sp.Expr:
        e, i = self.p.output_delta, self.p.output.index
        z, a = self._z_a(i, j)
        y = self.sym["y"]
        if e.closed is not None:
            subs = {A: a, Y: y[j], Z: z}
            if e.jacobian is not None:
                subs[S] = sp.Add(*y)
            return e.closed.xreplace(subs)
        return sp.Add(*[self.dE_da(m) * self.dadz(i, m, j) for m in range(self.p.output.size)])

    def gradient(self, name: str, j: int, k: int | None = None) -> sp.Expr:
        """∂E/∂name[j, k] (a bias: ∂E/∂name[j]) = Σ over its uses of δ_c,j a_src,k (or δ_c,j)."""
        e = next(g for g in self.p.gradients if g.out == name)
        return sp.Add(*[self.sym[t.var][j] * (self.sym[s][k] if s is not None else 1)
                        for t, s in zip(e.terms, e.sources)])

    def forward(self, i: int, j: int) -> tuple[sp.Expr, sp.Expr]:
        """(z_i,j = Σ w a + b, a_i,j = f(z_i,j)) right-hand sides."""
        e = self.p.forward[2 * (i - 1)]
        n = self.p.node(i)
        parts = []
        for w, var in e.terms:
            src = self.sym[var]
            if w is None:
                parts.append(src[j])
            else:
                W = self.sym[w]
                parts += [W[j, k] * src[k] for k in range(src.rows)]
        # sp.Add(*terms) builds the sum once; sum() would re-flatten it per term (quadratic).
        z = sp.Add(*parts, *([self.sym[e.bias][j]] if e.bias else []))
        return z, activate(n, list(self.sym[f"z{i}"]))[j]

    def values_of(self, forward: bool = True) -> dict[sp.Symbol, sp.Expr]:
        """z, a and δ symbols → expressions in x, y and the parameters (``forward``
        False: a → f(z) and δ in z, a, y and the parameters, z left as symbols)."""
        return self.substitute({}, forward)

    def substitute(self, env: dict, forward: bool = True, settle=None, delta_value=None) -> dict:
        """``env`` completed in program order, each value from the ones before it: z
        (with ``forward``) = ``settle``(Σ w a + b with env substituted), a = ``settle``(f(z)),
        then δ at the output and down the nodes = ``delta_value``(the δ formula) (default:
        the formula with env substituted).  ``settle`` (default: as is) rounds or evaluates."""
        keep = settle or (lambda v: v)
        for n in self.p.nodes:
            i = n.index
            zs = list(self.sym[f"z{i}"])
            if forward:
                zs = [keep(self.forward(i, j)[0].xreplace(env)) for j in range(n.size)]
                env.update(zip(self.sym[f"z{i}"], zs))
            env.update(zip(self.sym[f"a{i}"], [keep(a) for a in activate(n, zs)]))
        for e in self.p.backward:
            if e.op in ("delta", "output_delta"):
                for j in range(self.p.node(e.node).size):
                    form = self.delta(e.node, j)
                    env[self.sym[e.out][j]] = (form.xreplace(env) if delta_value is None
                                               else delta_value(form))
        return env


def activate(n: Node, z: list[sp.Expr]) -> list[sp.Expr]:
    """a = f(z) of node ``n`` for the given z's (softmax over all of them)."""
    if n.activation.layerwise:
        return softmax_layer(list(z))
    return [n.activation.build(zj, n.alpha) for zj in z]
