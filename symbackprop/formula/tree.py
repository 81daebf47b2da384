"""AST helpers for the formula evaluator: unwrapping groups, telling function
names from products (``out(1 - out)`` is juxtaposition), and index values of
sub- and superscripts (``kj``, ``l+1``, ``1,13``).
"""
from __future__ import annotations

from .grammar import Node
from .names import INDEX_LETTERS
from .ops import FreeIndex, function_name

LEAVES = ("NAME", "COMMAND", "WRAPPED")


def unwrap(node: Node) -> Node:
    while node.kind in ("paren", "group", "args") and len(node.args) == 1 \
            and isinstance(node.args[0], Node):
        node = node.args[0]
    return node


def _funcish(node: Node, letters: frozenset = frozenset()) -> bool:
    """Is ``node`` a function name (possibly primed, powered or subscripted)? ``letters``:
    the notation's own function letters (Bishop's h)."""
    while node.kind in ("prime", "sup", "sub"):
        if node.kind == "sub":
            return node.args[0].kind in LEAVES and function_name(
                node.args[0].text, unwrap(node.args[1]).text) is not None
        node = node.args[0]
    return node.kind in LEAVES and (function_name(node.text) is not None or node.text in letters)


WRAPPERS = ("sup", "prime", "transpose", "supdigits")


def _wrap(node: Node, wrappers: list[Node]) -> Node:
    for w in reversed(wrappers):        # innermost first
        node = Node(w.kind, (node, *w.args[1:]), node.start, w.end, node.depth + 1)
    return node


def unfold(node: Node, letters: frozenset = frozenset()) -> list[Node]:
    """``out(1 - out)^2`` → [out, (1 - out)^2]: a one-argument "call" of something
    that is not a function is juxtaposition, with postfix ops on its last part.
    Iterative (``(x+1)(x+2)…`` may be long)."""
    parts, pending, peeled, top = [], [], False, node
    while True:
        if node.kind in WRAPPERS and node.args[0].kind in WRAPPERS + ("call",):
            pending.append(node)
            node = node.args[0]
        elif node.kind == "call" and not _funcish(node.args[0], letters) and len(node.args[1].args) == 1:
            arg = node.args[1]
            parts.append(_wrap(Node("paren", (arg.args[0],), arg.start, node.end), pending))
            pending, peeled, node = [], True, node.args[0]
        else:
            break
    if not peeled:
        return [top]
    parts.append(_wrap(node, pending))
    return parts[::-1]


def _spine(node: Node) -> list[tuple[str, Node]]:
    """A left-nested chain (a + b − c, k j) as [(op, operand), …], iteratively."""
    rest = []
    while node.kind in ("binop", "juxt") and len(node.args) in (2, 3):
        op = node.args[1].text if node.kind == "binop" else ""
        rest.append((op, node.args[-1]))
        node = node.args[0]
    return [("", node)] + rest[::-1]


def index_values(node: Node | None, bound: dict[str, int], n_layers: int,
                 open_letters: bool = False) -> list | None:
    """Index values of a script (``kj``, ``l+1``, ``1,13``), None if not index-shaped.
    An unbound letter raises FreeIndex, or with ``open_letters`` stays in the list
    as (letter, position) so the caller can say which values it may take."""
    if node is None:
        return []
    node = node if node.kind != "group" else node.args[0]
    if node.kind == "NUMBER":
        return [int(node.text)] if node.text.isdigit() and len(node.text) < 6 else None
    if node.kind == "NAME":
        return _letters(node, bound, n_layers, open_letters)
    if node.kind in ("args", "paren"):
        parts = [index_values(a, bound, n_layers, open_letters) for a in node.args
                 if isinstance(a, Node)]
        return None if any(p is None for p in parts) else [v for p in parts for v in p]
    if node.kind not in ("binop", "juxt"):
        return None
    chain = _spine(node)
    if any(op not in ("", "+", "-", "\u2212") for op, _ in chain):
        return None
    parts = [index_values(n, bound, n_layers, open_letters and node.kind == "juxt")
             for _, n in chain]
    if any(p is None for p in parts):
        return None
    if node.kind == "juxt":
        return [v for p in parts for v in p]
    if any(len(p) != 1 for p in parts):      # l + 1: one value from single values
        return None
    return [sum(-p[0] if op in ("-", "\u2212") else p[0] for (op, _), p in zip(chain, parts))]


def _letters(node: Node, bound: dict[str, int], n_layers: int,
             open_letters: bool = False) -> list | None:
    """kj → [k, j] with bound values; L is the last layer; a free letter raises
    (or is kept as (letter, position) with ``open_letters``)."""
    text = node.text
    if not all(c in INDEX_LETTERS or c == "L" or c.isdigit() for c in text):
        return None
    out = []
    for c in text:
        if c.isdigit():
            out.append(int(c))
        elif c == "L":
            out.append(n_layers)
        elif c in bound:
            out.append(bound[c])
        elif open_letters:
            out.append((c, node.start))
        else:
            raise FreeIndex(c, node.start)
    return out
