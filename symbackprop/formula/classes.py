r"""Entries of a defined vector and the correct class ``y_i`` (CS231n's notation).

After a claims file defines a vector (``f = Wx + b``, ``p_k = e^{f_k}/\sum_j e^{f_j}``,
``checker/definitions.py``), its letter with one subscript is that vector's entry:
``f_k``, ``f_3``, ``p_j``.  This reading comes before the activation-letter one (a
file's own ``f`` is not the layer's function).

``y_i`` as a *subscript* (``f_{y_i}``, ``p_{y_i}``) or compared with an index inside an
indicator (``\mathbb{1}(y_i = k)``) is the index of example i's correct class.  With a
one-hot target y that is a selection: ``f_{y_i} = \sum_k y_k f_k`` and
``\mathbb{1}(y_i = k) = y_k``.  Those sums are the class's entry only when y is one-hot,
so a claim read this way is checked at points whose y is one-hot (the checker reads
``CLASS_INDEX`` after parsing), and the reading is refused on a spec whose [values] y
is not one-hot.
"""
from __future__ import annotations

import re
from contextvars import ContextVar

import sympy as sp

from .grammar import Node
from .names import canon
from .ops import FormulaError, FreeIndex, OutOfRange, is_matrix

# set when a claim's reading used y_i as a class index (its test points need a one-hot y)
CLASS_INDEX: ContextVar[bool] = ContextVar("class_index", default=False)
CLASS_LABEL = re.compile(r"y(?:[A-Za-z]|\([A-Za-z]\))?")      # y, y_i, y_n, y^{(i)}


def defined_vector(scope, head: str):
    """The vector a file defined under ``head`` (f, p, scores), or None."""
    if head not in scope.defined:
        return None
    v = scope.keys.get((head, "", ""))
    return v if is_matrix(v) and 1 in v.shape else None


def defined_entry(ev, head: str, sups: str, sub: Node | None):
    """``f_k``, ``f_3``, ``p_{y_i}``: an entry of the vector the file defined as ``head``;
    None when ``head`` names no defined vector (or carries a superscript)."""
    if sub is None or sups:
        return None
    vec = defined_vector(ev.scope, head)
    if vec is None:
        return None
    base = ev.scope.model.notation.index_base
    if is_class_label(ev, sub):
        return select(ev, vec, sub)
    values = ev.indices(sub, open_letters=True)
    if not values or len(values) != 1:
        raise FormulaError(f"{ev.src(sub)!r} is not an entry of {head} (a vector of "
                           f"{len(vec)})", sub.start, f"one index, e.g. {head}_k")
    if isinstance(values[0], tuple):
        raise FreeIndex(values[0][0], sub.start, range(base, base + len(vec)))
    j = values[0] - base
    if not 0 <= j < len(vec):
        raise OutOfRange(f"{head} has entries {base} to {base + len(vec) - 1}", sub.start)
    return vec[j]


def is_class_label(ev, node: Node) -> bool:
    """Is ``node`` written as the class label y / y_i (not an index letter)?"""
    text = canon(ev.src(node))
    return not ev.scope.free and CLASS_LABEL.fullmatch(text) is not None and \
        ev.scope.heads.get("y") == "y"


def one_hot_target(scope) -> str | None:
    """Why the spec's target is not a one-hot class (None: it is, in every example)."""
    values = scope.model.spec.values
    if values is None:
        return "the spec has no [values] (y_i needs a one-hot target y)"
    for sample in values.samples:
        ys = [float(v) for v in sample.y]
        if len(ys) < 2 or sorted(ys) != [0.0] * (len(ys) - 1) + [1.0]:
            return f"the spec's target y = {ys} is not one-hot"
    return None


def _need_one_hot(ev, node: Node) -> None:
    why = one_hot_target(ev.scope)
    if why is not None:
        raise FormulaError(f"{ev.src(node)!r} reads as the index of the correct class "
                           f"(CS231n's y_i), which needs a one-hot target; {why}: write the "
                           "class's entry with y_k (e.g. \\sum_k y_k f_k) or give a one-hot "
                           "[values] y", node.start, "a one-hot [values] y, or y_k")
    CLASS_INDEX.set(True)


def select(ev, vec, node: Node):
    """v_{y_i}: the correct class's entry, Σ_k y_k v_k under a one-hot y."""
    _need_one_hot(ev, node)
    y = ev.scope.model.network.y
    if len(y) != len(vec):
        raise FormulaError(f"{ev.src(node)!r} indexes a vector of {len(vec)} with a class of "
                           f"{len(y)} outputs", node.start, "a vector over the classes")
    return sp.Add(*[yk * vk for yk, vk in zip(y, vec)])


def selection(scope, value):
    """[(y_k, v_k)] when ``value`` is a class's entry Σ_k y_k v_k of symbols (what ``select``
    builds), else None: ∂L/∂f_{y_i} is then Σ_k y_k ∂L/∂f_k under a one-hot y."""
    if scope.free or is_matrix(value) or not isinstance(value, sp.Add):
        return None
    y = set(scope.model.network.y)
    pairs = []
    for term in value.args:
        factors = sp.Mul.make_args(term)
        if len(factors) != 2:
            return None
        a, b = factors
        yk, vk = (a, b) if a in y else (b, a)
        if yk not in y or not isinstance(vk, sp.Symbol) or vk in y:
            return None
        pairs.append((yk, vk))
    return pairs if len(pairs) == len(y) else None


def class_indicator(ev, lhs: Node, op: str, rhs: Node, node: Node):
    """\\mathbb{1}(y_i = k), \\mathbb{1}(k = y_i): y_k (a one-hot target's entry k); None
    when neither side is the class label or the other is not an index."""
    if op not in ("=", "=="):
        return None
    for label, other in ((lhs, rhs), (rhs, lhs)):
        if is_class_label(ev, label):
            break
    else:
        return None
    values = ev.indices(other, open_letters=False) if other.kind in ("NAME", "NUMBER",
                                                                       "group") else None
    if not values or len(values) != 1:
        return None
    _need_one_hot(ev, label)
    y = ev.scope.model.network.y
    j = values[0] - ev.scope.model.notation.index_base
    if not 0 <= j < len(y):
        raise OutOfRange(f"class {values[0]} is not an output (there are {len(y)})", other.start)
    return y[j]
