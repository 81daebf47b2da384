"""What a claim's derivatives really are: ∂of/∂wrt resolved in network symbols.

The checker compares a hand-written formula with the truth, so every
``Partial(of, wrt)`` of a parsed claim is replaced here by the true
derivative, written in the network's own symbols (z, a, δ, W, b, x, y):

- ∂E/∂param is the total derivative over all paths, δ^l_j a^{l−1}_k (or δ^l_j);
- ∂E/∂z^l_j = δ^l_j, ∂E/∂a^L_j from the loss, ∂E/∂a^l_j = Σ_k w^{l+1}_{kj} δ^{l+1}_k;
- local links: ∂a/∂z = f'(z) (the softmax Jacobian), ∂z^l_j/∂a^{l−1}_k = w^l_{jk},
  ∂z^l_j/∂w^l_{jk} = a^{l−1}_k, ∂z^l_j/∂b^l_j = 1;
- anything else by composing the forward pass from ``wrt`` up to ``of`` and
  applying ``sympy.diff`` (small networks only).

Without a network (free-standing calculus) ∂f/∂u is ``sympy.diff(f, u)``.
The dependency graph of the network lets the checker follow a written
chain rule path by path and say which paths it leaves out.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .derive import Derivation

MAX_COMPOSE_NEURONS = 60       # the general case expands the forward pass
MAX_GRAPH_PATHS = 5_000


class Unsupported(ValueError):
    """A derivative the checker cannot state (the message says which)."""


def partial_class():
    from .formula import Partial
    return Partial


def loss_symbol() -> sp.Symbol:
    from .formula import LOSS
    return LOSS


@dataclass(frozen=True)
class Node:
    """Where a network symbol sits: kind in x, y, z, a, delta, W, b; layer; indices."""

    kind: str
    layer: int
    j: int
    k: int | None = None


class Truth:
    """Resolve derivatives of one network (``derivation`` None: free-standing)."""

    def __init__(self, derivation: Derivation | None, notation=None):
        self.d = derivation
        self.notation = notation

    # ---- symbol table ----------------------------------------------------
    @cached_property
    def nodes(self) -> dict[sp.Symbol, Node]:
        table: dict[sp.Symbol, Node] = {}
        if self.d is None:
            return table
        net = self.d.network
        for k, s in enumerate(net.x):
            table[s] = Node("x", 0, k)
        for j, s in enumerate(net.y):
            table[s] = Node("y", len(net.layers), j)
        for layer in net.layers:
            l = layer.index
            for j in range(layer.n_out):
                for kind, vec in (("z", layer.z), ("a", layer.a), ("delta", layer.delta), ("b", layer.b)):
                    table[vec[j]] = Node(kind, l, j)
                for k in range(layer.n_in):
                    table[layer.W[j, k]] = Node("W", l, j, k)
        return table

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
        Partial = partial_class()
        if isinstance(expr, sp.MatrixBase):
            return sp.ImmutableMatrix(expr.rows, expr.cols, [self.resolve(e) for e in expr])
        from .formula_ops import Updated
        expr = expr.replace(lambda e: isinstance(e, Updated), lambda e: self.updated(e.args[0]))
        expr = expr.replace(lambda e: isinstance(e, Partial),
                            lambda e: self.partial(e.args[0], e.args[1]))
        if self.d is not None:
            expr = expr.xreplace({loss_symbol(): self.d.loss})
            # ∂/∂w (…) written as an operator: the network's forward pass from w's level
            # up is substituted first, so that out_{n_9} depends on w_{16}
            expr = expr.replace(lambda e: isinstance(e, sp.Derivative),
                                lambda e: self.operator(e.expr, e.variables))
        return expr.doit() if expr.has(sp.Derivative, sp.Subs) else expr

    def updated(self, param) -> sp.Expr:
        """θ after one gradient-descent step: θ − η ∂E/∂θ."""
        from .formula_names import LR
        return param - LR * self.partial(loss_symbol(), param)

    def operator(self, body, variables) -> sp.Expr:
        for wrt in variables:
            if wrt not in self.nodes:
                body = sp.diff(body, wrt)
                continue
            places = self.tied(wrt) if self.nodes[wrt].kind in ("W", "b") else [wrt]
            body = sp.Add(*[sp.diff(body.xreplace(self.forward_from(s)), s) for s in places])
        return body

    def partial(self, of, wrt) -> sp.Expr:
        """The true ∂of/∂wrt (a tied parameter: summed over its places)."""
        if self.d is None:
            return sp.diff(self.resolve(of), wrt)
        if of == loss_symbol() and wrt == of:
            return sp.S.One
        if wrt == loss_symbol():
            raise Unsupported("a derivative with respect to the loss itself")
        if wrt in self.nodes and self.nodes[wrt].kind in ("W", "b"):
            return sp.Add(*[self._partial(of, s) for s in self.tied(wrt)])
        return self._partial(of, wrt)

    def _partial(self, of, wrt) -> sp.Expr:
        if of == wrt:
            return sp.S.One
        if of == loss_symbol():
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
        if node.kind in ("a", "x"):
            nxt = self.layer(node.layer + 1)
            return sp.Add(*[nxt.W[k, node.j] * nxt.delta[k] for k in range(nxt.n_out)])
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
        if b.kind in ("a", "x") and b.layer == a.layer - 1:
            return layer.W[a.j, b.j]
        if b.kind in ("W", "b") and b.layer == a.layer:
            if b.j != a.j:
                return sp.S.Zero
            return layer.a_prev[b.k] if b.kind == "W" else sp.S.One
        return None

    def composed(self, of, wrt) -> sp.Expr:
        """∂of/∂wrt by composing the forward pass from ``wrt`` up (all paths)."""
        if sum(self.d.network.sizes) > MAX_COMPOSE_NEURONS:
            raise Unsupported(f"∂{self.name(of)}/∂{self.name(wrt)} needs the expanded forward "
                              "pass, which is only built for small networks")
        env = self.forward_from(wrt)
        target = self.d.loss.xreplace(env) if of == loss_symbol() else env.get(of, of)
        if target == of and of not in self.nodes and not isinstance(of, sp.Symbol):
            target = self.resolve(of).xreplace(env)
        return sp.diff(target, wrt)

    def forward_from(self, wrt) -> dict:
        """z and a of every layer after ``wrt`` as expressions of ``wrt``'s level."""
        node = self.nodes.get(wrt)
        if node is None or node.kind in ("delta", "y"):
            raise Unsupported(f"derivatives with respect to {self.name(wrt)}")
        env: dict = {}
        start = node.layer if node.kind in ("W", "b") else node.layer + 1
        if node.kind == "z":
            layer = self.layer(node.layer)
            env.update(zip(layer.a, layer.outputs_of(list(layer.z))))
        for layer in self.d.layers[start - 1:]:
            zs = [self.d.forward(layer, j)[0].xreplace(env) for j in range(layer.n_out)]
            env.update(zip(layer.z, zs))
            env.update(zip(layer.a, layer.outputs_of(zs)))
        return env

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
                return [loss_symbol()]
            return list(self.layer(node.layer + 1).z)
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
        return "E" if sym == loss_symbol() else str(sym)
