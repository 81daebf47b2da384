"""What a claim's derivatives really are: ∂of/∂wrt resolved in network symbols.

The checker compares a hand-written formula with the truth, so every
``Partial(of, wrt)`` of a parsed claim is replaced here by the true
derivative, written in the network's own symbols (z, a, δ, W, b, x, y):

- ∂E/∂param is the total derivative over all paths, δ^l_j a^{l−1}_k (or δ^l_j);
- ∂E/∂z^l_j = δ^l_j, ∂E/∂a^L_j from the loss, ∂E/∂a^l_j = Σ_k w^{l+1}_{kj} δ^{l+1}_k;
- local links: ∂a/∂z = f'(z) (the softmax Jacobian), ∂z^l_j/∂a^{l−1}_k = w^l_{jk},
  ∂z^l_j/∂w^l_{jk} = a^{l−1}_k, ∂z^l_j/∂b^l_j = 1;
- anything else (∂a^3_1/∂w^1_{11}, ∂z^2_1/∂x_1, ∂δ/∂w, ∂/∂w of an expression) by
  the exact chain rule over the network's definitions (``TruthChain``): every z, a,
  δ and the loss is defined in other network symbols, so d(of)/d(wrt) is the sum
  over the symbols s of of's definition of ∂def/∂s · d(s)/d(wrt), memoised and
  restricted to the symbols downstream of ``wrt``.  The result is written in
  network symbols, its size grows with the part of the graph between ``wrt``
  and ``of`` (as a shared DAG), never with the expanded forward pass.

Without a network (free-standing calculus) ∂f/∂u is ``sympy.diff(f, u)``.
The dependency graph of the network lets the checker follow a written
chain rule path by path and say which paths it leaves out.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from ..core.derive import Derivation
from ..formula.names import LOSS, LR
from ..formula.ops import Partial, Updated

MAX_GRAPH_PATHS = 5_000


class Unsupported(ValueError):
    """A derivative the checker cannot state (the message says which)."""


@dataclass(frozen=True)
class NetworkNode:
    """Where a network symbol sits: kind in x, y, z, a, delta, W, b; layer; indices."""

    kind: str
    layer: int
    j: int
    k: int | None = None


_TABLES: dict[int, tuple] = {}      # id(derivation) → (weak reference, node table)


def node_table(d: Derivation) -> dict[sp.Symbol, NetworkNode]:
    """Where every network symbol sits, built once per derivation (a 784-30-10
    network has 24k symbols, and every diagnosis's ``Forms`` asks again)."""
    hit = _TABLES.get(id(d))
    if hit is not None and hit[0]() is d:
        return hit[1]
    net = d.network
    table = {s: NetworkNode("x", 0, k) for k, s in enumerate(net.x)}
    table.update((s, NetworkNode("y", len(net.layers), j)) for j, s in enumerate(net.y))
    for layer in net.layers:
        l = layer.index
        for kind, vec in (("z", layer.z), ("a", layer.a), ("delta", layer.delta), ("b", layer.b)):
            table.update((s, NetworkNode(kind, l, j)) for j, s in enumerate(vec))
        for j, row in enumerate(layer.W.tolist()):      # tolist: entry indexing is slow
            table.update((s, NetworkNode("W", l, j, k)) for k, s in enumerate(row))
    _TABLES[id(d)] = (weakref.ref(d), table)
    weakref.finalize(d, _TABLES.pop, id(d), None)
    return table


class Truth:
    """Resolve derivatives of one network (``derivation`` None: free-standing)."""

    def __init__(self, derivation: Derivation | None, notation=None):
        self.d = derivation
        self.notation = notation
        self._chains: dict = {}          # wrt → its memoised TruthChain

    # ---- symbol table ----------------------------------------------------
    @cached_property
    def nodes(self) -> dict[sp.Symbol, NetworkNode]:
        return {} if self.d is None else node_table(self.d)

    @cached_property
    def expansions(self) -> dict:
        """a → f(z) and δ → its recursion, in z, W and y (for symbolic proofs; built on
        first use, once: seconds on a 5-100-100-10 network, and most claims never need it)."""
        return self.d.symbolic.values_of(forward=False)    # the backward program's, in order

    def tied(self, sym: sp.Symbol) -> list[sp.Symbol]:
        """All places of a shared parameter (just ``sym`` when it is not tied)."""
        nt = self.notation
        name = nt.names.get(sym) if nt is not None else None
        if name is None or not nt.tied(name):
            return [sym]
        return [s for s, n in nt.names.items() if n == name]

    def layer(self, l: int):
        return self.d.layers[l - 1]

    def activation_of(self, l: int, j: int) -> sp.Symbol:
        """a^l_j, with x for l = 0."""
        return self.d.network.x[j] if l == 0 else self.layer(l).a[j]

    # ---- resolution ------------------------------------------------------
    def resolve(self, expr):
        """``expr`` with every Partial and the loss symbol replaced by the truth."""
        if isinstance(expr, sp.MatrixBase):
            return sp.ImmutableMatrix(expr.rows, expr.cols, [self.resolve(e) for e in expr])
        expr = expr.replace(lambda e: isinstance(e, Updated), lambda e: self.updated(e.args[0]))
        expr = expr.replace(lambda e: isinstance(e, Partial),
                            lambda e: self.partial(e.args[0], e.args[1]))
        if self.d is not None:
            expr = expr.xreplace({LOSS: self.d.loss})
            # ∂/∂w (…) written as an operator: the network's forward pass from w's level
            # up is substituted first, so that out_{n_9} depends on w_{16}
            expr = expr.replace(lambda e: isinstance(e, sp.Derivative),
                                lambda e: self.operator(e.expr, e.variables))
        return expr.doit() if expr.has(sp.Derivative, sp.Subs) else expr

    def updated(self, param) -> sp.Expr:
        """θ after one gradient-descent step: θ − η ∂E/∂θ."""
        return param - LR * self.partial(LOSS, param)

    def operator(self, body, variables) -> sp.Expr:
        """∂/∂w applied to ``body`` (an expression in network symbols): the chain rule
        through every network symbol of ``body`` that depends on w (``TruthChain.of_expression``)."""
        for wrt in variables:
            if wrt not in self.nodes:
                body = sp.diff(body, wrt)
                continue
            places = self.tied(wrt) if self.nodes[wrt].kind in ("W", "b") else [wrt]
            body = sp.Add(*[self.chain(s).of_expression(body) for s in places])
        return body

    def partial(self, of, wrt) -> sp.Expr:
        """The true ∂of/∂wrt (a tied parameter: summed over its places)."""
        if self.d is None:
            return sp.diff(self.resolve(of), wrt)
        if of == LOSS and wrt == of:
            return sp.S.One
        if wrt == LOSS:
            raise Unsupported("a derivative with respect to the loss itself")
        if wrt in self.nodes and self.nodes[wrt].kind in ("W", "b"):
            return sp.Add(*[self.place_partial(of, s) for s in self.tied(wrt)])
        return self.place_partial(of, wrt)

    def place_partial(self, of, wrt) -> sp.Expr:
        """The true ∂of/∂wrt at the one place ``wrt`` (a tied parameter's other places
        not summed in)."""
        if of == wrt:
            return sp.S.One
        if of == LOSS:
            found = self.loss_partial(wrt)
        else:
            found = self.local(of, wrt)
        return found if found is not None else self.composed(of, wrt)

    def loss_partial(self, wrt) -> sp.Expr | None:
        """∂E/∂wrt in δ form, or None for the general case."""
        node = self.nodes.get(wrt)
        if node is None:
            raise Unsupported(f"{self.name(wrt)} is not a quantity of the network")
        d = self.d
        if node.kind in ("W", "b"):
            return d.gradient(wrt)
        if node.kind == "z":
            return self.layer(node.layer).delta[node.j]
        if node.kind == "a" and node.layer == len(d.layers):
            return d.dE_da[node.j]
        if node.kind in ("a", "x"):             # Σ over the layers it feeds (a graph: several)
            return sp.Add(*[sp.Add(*[c.W[k, node.j] * c.delta[k] for k in range(c.n_out)])
                            if c.dense else c.delta[node.j] for c in self.consumers(node.layer)])
        if node.kind == "y":
            return sp.diff(d.loss, wrt)
        return None

    def local(self, of, wrt) -> sp.Expr | None:
        """One link of the chain rule between neighbouring quantities."""
        a, b = self.nodes.get(of), self.nodes.get(wrt)
        if a is None or b is None:
            return None
        if a.kind == "a" and b.kind == "z" and a.layer == b.layer:
            return self.d.dadz(self.layer(a.layer), a.j, b.j)
        if a.kind != "z":
            return None
        layer = self.layer(a.layer)
        if b.kind in ("a", "x") and b.layer in layer.sources:
            if not layer.dense:                 # add, flatten: z_j = Σ a_j of the sources
                return sp.S.One if a.j == b.j else sp.S.Zero
            return layer.W[a.j, b.j]
        if b.kind in ("W", "b") and b.layer == a.layer:
            if b.j != a.j:
                return sp.S.Zero
            return layer.a_prev[b.k] if b.kind == "W" else sp.S.One
        return None

    def composed(self, of, wrt) -> sp.Expr:
        """∂of/∂wrt over all paths, by the chain rule over the network's definitions."""
        chain = self.chain(wrt)
        if of == LOSS or of in self.nodes:
            return chain.derivative(of)
        if isinstance(of, sp.Symbol):
            return sp.S.Zero                   # not a network quantity: a constant
        return chain.of_expression(self.resolve(of))

    def chain(self, wrt) -> "TruthChain":
        """The memoised chain rule from one place ``wrt`` (W, b, x, z or a) upwards."""
        node = self.nodes.get(wrt)
        if node is None or node.kind in ("delta", "y"):
            raise Unsupported(f"derivatives with respect to {self.name(wrt)}")
        if wrt not in self._chains:
            self._chains[wrt] = TruthChain(self, wrt)
        return self._chains[wrt]

    def definition(self, sym) -> sp.Expr:
        """The right-hand side of δ^l_j or of the loss, in other network symbols."""
        if sym == LOSS:
            return self.d.loss
        node = self.nodes[sym]
        return self.d.delta(self.layer(node.layer), node.j)

    def consumers(self, l: int) -> list:
        """The layers layer l (0: the input) feeds: the next one in a chain, any in a graph."""
        if "_consumers" not in self.__dict__:
            self._consumers = {}
            for c in self.d.layers:
                for s in c.sources:
                    self._consumers.setdefault(s, []).append(c)
        return self._consumers.get(l, [])

    def downstream(self, wrt) -> set:
        """Every network symbol (and the loss) whose definition depends on ``wrt``."""
        seen, stack = {wrt}, [wrt]
        while stack:                    # forward: z, a and the loss, via the successors
            for nxt in self.successors(stack.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        for layer in reversed(self.d.layers):       # backward: δ^L first, then δ^{L-1} …
            for j in range(layer.n_out):
                if self.definition(layer.delta[j]).free_symbols & seen:
                    seen.add(layer.delta[j])
        return seen

    # ---- the dependency graph (for chains written factor by factor) --------
    def successors(self, sym) -> list:
        node = self.nodes.get(sym)
        if node is None:
            return []
        n_layers = len(self.d.layers)
        if node.kind in ("W", "b"):
            return [self.layer(node.layer).z[node.j]]
        if node.kind in ("a", "x"):
            if node.layer == n_layers:
                return [LOSS]
            return [z for c in self.consumers(node.layer)
                    for z in (c.z if c.dense else [c.z[node.j]])]
        if node.kind == "z":
            layer = self.layer(node.layer)
            return list(layer.a) if layer.activation.layerwise else [layer.a[node.j]]
        return []

    def paths(self, top, bottom) -> list[tuple]:
        """Every path from ``bottom`` up to ``top`` (as tuples top → bottom)."""
        found, stack = [], [(bottom,)]
        while stack:
            path = stack.pop()
            if path[-1] == top:
                found.append(tuple(reversed(path)))
                if len(found) > MAX_GRAPH_PATHS:
                    raise Unsupported("too many chain-rule paths to compare")
                continue
            stack.extend(path + (nxt,) for nxt in self.successors(path[-1]))
        return found

    def name(self, sym) -> str:
        if self.notation is not None and sym in self.notation.text:
            return self.notation.text[sym]
        return "E" if sym == LOSS else str(sym)


class TruthChain:
    """d(s)/d(wrt) for the network symbols s downstream of one place ``wrt``.

    Each z, a, δ and the loss has a definition in other network symbols:
    z^l_j = Σ_k w^l_{jk} a^{l−1}_k + b^l_j, a^l = f(z^l) (softmax couples the
    layer), δ^l_j by the derivation's recursion, E by the loss in a^L and y.
    d(s)/d(wrt) = Σ_{t in def(s)} ∂def/∂t · d(t)/d(wrt), over the t downstream
    of ``wrt`` only, memoised: the result shares its sub-derivatives (a DAG
    the size of the graph between ``wrt`` and s).
    """

    def __init__(self, truth: Truth, wrt):
        self.truth, self.wrt = truth, wrt
        self.downstream = truth.downstream(wrt)
        self.memo: dict = {wrt: sp.S.One}

    def derivative(self, sym) -> sp.Expr:
        """d(sym)/d(wrt): zero unless ``sym`` is downstream of ``wrt``."""
        if sym not in self.downstream:
            return sp.S.Zero
        if sym not in self.memo:
            # d(sym) = Σ ∂def/∂t · d(t); the links below t are already memoised
            self.memo[sym] = sp.Add(*[local * self.derivative(t) for t, local in self.links(sym)])
        return self.memo[sym]

    def of_expression(self, expr) -> sp.Expr:
        """d(expr)/d(wrt) for an expression in network symbols (others are constants)."""
        syms = sorted(expr.free_symbols & self.downstream, key=sp.default_sort_key)
        return sp.Add(*[sp.diff(expr, s) * self.derivative(s) for s in syms])

    def links(self, sym):
        """(t, ∂def(sym)/∂t) for the symbols t of sym's definition downstream of wrt."""
        truth, near = self.truth, self.downstream
        node = truth.nodes.get(sym)
        if node is not None and node.kind == "z" and not truth.layer(node.layer).dense:
            for s in truth.layer(node.layer).sources:   # add, flatten: z_j = Σ a_j of the sources
                a = truth.activation_of(s, node.j)
                if a in near:
                    yield a, sp.S.One
        elif node is not None and node.kind == "z":
            layer = truth.layer(node.layer)
            for k in range(layer.n_in):            # z^l_j = Σ_k w^l_{jk} a^{l−1}_k + b^l_j
                if layer.a_prev[k] in near:
                    yield layer.a_prev[k], layer.W[node.j, k]
                if layer.W[node.j, k] in near:
                    yield layer.W[node.j, k], layer.a_prev[k]
            if layer.b[node.j] in near:
                yield layer.b[node.j], sp.S.One
        elif node is not None and node.kind == "a":
            layer = truth.layer(node.layer)         # ∂a^l_i/∂z^l_j: f'(z) or the softmax Jacobian
            for j in (range(layer.n_out) if layer.activation.layerwise else [node.j]):
                if layer.z[j] in near:
                    yield layer.z[j], truth.d.dadz(layer, node.j, j)
        else:                                        # δ^l_j or the loss: sympy.diff of the definition
            rhs = truth.definition(sym)
            for t in sorted(rhs.free_symbols & near, key=sp.default_sort_key):
                yield t, sp.diff(rhs, t)
