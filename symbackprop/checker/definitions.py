"""Definition lines: ``name := expr``, ``name \\equiv expr`` or ``name = expr`` whose left
side is not a quantity of the network defines ``name`` for the later lines of the file.

``f = Wx + b`` (CS231n's scores), ``p_k = e^{f_k}/\\sum_j e^{f_j}``, ``a^{(k)} = b^{(k)} +
W^{(k)} h^{(k-1)}`` (Goodfellow's pre-activation, where the spec writes z),
``hidden_layer = np.maximum(0, np.dot(W1, x) + b1)``, ``g \\leftarrow \\nabla_{\\hat y} J``.
A definition gets the verdict ``defined``.  When its value is a quantity of the network
(at every test point), the name becomes that quantity: ``f_k`` is z_k, so ``∂L/∂f_k`` is
∂L/∂z_k and ``dscores`` is ∂L/∂scores; otherwise the name stands for its value.

Finding the definitions (``find``) runs in the parent and reads only each left side (a
name of at most ``MAX_NAME`` characters); a definition's value is built where the claims
are checked (``scoped``), inside the child's time and memory limits, each under
``DEFINE_SECONDS`` (one that fails or runs out leaves its name undefined).
"""
from __future__ import annotations

import itertools
import re
import signal
import threading
from dataclasses import dataclass, replace

import sympy as sp

from ..formula.names import (INDEX_LETTERS, LOSS_KEYS, canon, split_head, update_arrows,
                             with_definitions)
from ..formula.ops import FormulaError, is_matrix, shrink
from ..formula.reader import parse_instances, parse_tree
from .context import Context
from .points import close, values

MAX_NAME = 60              # characters of a definition's left side
MAX_DEFINITIONS = 200      # definitions a file may make (more: read as claims)
DEFINE_SECONDS = 1.0       # building one definition's value, at most
ALIAS_POINTS = 3           # test points at which a value must equal a network quantity

# ≡, \equiv, \coloneqq, \triangleq, \doteq, \stackrel{def}{=}: "equals by definition"
SAME = re.compile(r"\\(?:equiv|coloneqq|triangleq|doteq|eqqcolon)(?![A-Za-z])|[\u2261\u225c]"
                  r"|\\(?:stackrel|overset)\s*\{[^{}]{0,12}\}\s*\{=\}")
# the first relation of a claim: :=, ≔, ←, \leftarrow, \gets or =
FIRST_RELATION = re.compile(r":=|\u2254|\u2190|\\leftarrow(?![A-Za-z])|\\gets(?![A-Za-z])|=")
ASSIGNS = re.compile(r":=|\u2254|\u2190|\\leftarrow|\\gets")
NAME_NODES = ("NAME", "WRAPPED", "sub", "sup")
GENERIC = re.compile(r"[ijklm][ijklm0-9,+\-]*")   # a script of generic indices: k, kj, k-1
# heads that always mean something (the notation's own letters come from the scope)
RESERVED_HEADS = frozenset({"e", "d", "E", "C", "L", "J", "Loss", "loss", "eta", "lr", "alpha",
                            "sigma", "tanh", "relu", "exp", "log", "ln", "softmax", "softplus",
                            "nabla", "partial", "max", "min", "sum", "np", "delta", "Delta",
                            "phi", "zeta", "t", "target", "output"} | set(INDEX_LETTERS))
DEFAULT_HEADS = frozenset({"a", "h", "z"})   # layered letters every spec reads


# a NumPy assignment of a name to an expression of itself (the course's update_parameters:
# W1 = W1 - learning_rate * dW1): Python's =, the new value, read as :=
ASSIGNMENT = re.compile(r"^(\s*)([A-Za-z][A-Za-z0-9_]*) =(?=\s*\2\s*[-+])")


# NumPy's in-place update (CS231n: W2 += -step_size * dW2): the new value W2 := W2 + (…)
IN_PLACE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*([-+])=\s*(\S.*?)\s*$")


def plain_relations(text: str) -> str:
    """``\\equiv`` and its kin as ``=``, padded to the same length (positions stay); a plain
    (code) line ``W1 = W1 - learning_rate * dW1`` as the assignment ``W1 := W1 - …``;
    Nielsen's update arrow ``w → …`` as ``w ← …`` (``w → w' = …`` as ``w' = …``)."""
    if "\\" not in text and "$" not in text and "\n" not in text.strip():
        text = IN_PLACE.sub(lambda m: f"{m[1]} := {m[1]} {m[2]} ({m[3]})", text, count=1)
        text = ASSIGNMENT.sub(lambda m: f"{m[1][:-1] if m[1] else ''}{m[2]} :=" if m[1]
                              else f"{m[2]}:=", text, count=1)
    text = update_arrows(text)
    if "\\" not in text and "\u2261" not in text and "\u225c" not in text:
        return text
    return SAME.sub(lambda m: "=" + " " * (len(m[0]) - 1), text)


@dataclass(frozen=True)
class Left:
    """A definition's left side: its key pattern, relation, and the generic letters in it."""

    head: str
    sup: str
    sub: str
    letters: tuple[str, ...]
    relation: str
    lhs: str
    rhs: str
    rhs_start: int
    foreign: bool          # a layered letter the spec does not use (Goodfellow's a)

    @property
    def word(self) -> bool:
        """A name with a word after its underscore (hidden_layer, exp_scores)."""
        return not self.sup and len(self.sub) > 1 and self.sub.isalpha() and not self.letters

    def key(self, bound: dict[str, int]) -> tuple[str, str, str]:
        return (self.head, _bind(self.sup, bound), _bind(self.sub, bound))


def _bind(script: str, bound: dict[str, int]) -> str:
    if not bound:
        return script
    return "".join(str(bound[c]) if c in bound else c for c in script)


def left_side(ctx: Context, text: str) -> Left | None:
    """The left side of ``text`` if it could define a name (a plain name with scripts,
    not one of the network's own families, the loss, η or a function), else None."""
    if ctx.model is None:
        return None
    m = FIRST_RELATION.search(text)
    if m is None or len(text[:m.start()].strip()) == 0 or m.start() > MAX_NAME:
        return None
    lhs = text[:m.start()].strip()
    try:
        node = parse_tree(lhs + " = 0").args[0]
    except FormulaError:
        return None
    base, sub, sup = node, "", ""
    if base.kind == "sub":
        sub = canon(_src(lhs, base.args[-1]))
        base = base.args[0]
    if base.kind == "sup":
        sup = canon(_src(lhs, base.args[-1]), sup=True)
        base = base.args[0]
    if node.kind not in NAME_NODES or base.kind not in ("NAME", "WRAPPED"):
        return None
    head = canon(base.text)
    if not sub:
        head, sub = split_head(head)
    heads = ctx.scope.heads
    own = {canon(ctx.nt.pre_activation), canon(ctx.nt.activation)} if ctx.nt else set()
    foreign = head in DEFAULT_HEADS and head not in own
    if (head in RESERVED_HEADS and not (sub and not GENERIC.fullmatch(sub))) or \
            (head, "", "") in LOSS_KEYS or \
            (head in heads and not foreign and head not in ctx.scope.soft) or \
            (head[0] == "d" and len(head) > 1):
        return None
    letters = tuple(sorted({c for script in (sup, sub) if GENERIC.fullmatch(script)
                            for c in script if c in INDEX_LETTERS}))
    return Left(head, sup, sub, letters, m[0], lhs, text[m.end():].strip(), m.end(), foreign)


def _src(text: str, node) -> str:
    start, end = getattr(node, "start", None), getattr(node, "end", None)
    return text[start:end] if start is not None and end is not None else node.text


def known(ctx: Context, left: Left) -> bool:
    """Does the left side already name a value in ``ctx``'s scope?  (A bare function
    letter, ``f`` or ``g`` without an argument, names no value; a name a preset gives
    without its source defining it, CS231n's scores or probs, is the file's to define.)"""
    if left.head in ctx.scope.soft and not left.sup and not left.sub:
        return False
    try:
        parse_instances(left.lhs + " = 0", ctx.scope)
    except FormulaError:
        return False
    return True


def find(ctx: Context, claims) -> tuple[dict[int, tuple[str, ...]], set[int]]:
    """For each claim (by line) the definitions before it, and the definition lines.
    Read in order: a name is a definition where it is not yet known; a name defined
    earlier is defined again by ``:=``/``←`` (``g ← g ⊙ f'(a)``)."""
    before: dict[int, tuple[str, ...]] = {}
    lines: set[int] = set()
    defs: list[str] = []
    defined: set[tuple] = set()
    scope_ctx = ctx
    for c in claims:
        before.setdefault(c.line, tuple(defs))
        if len(defs) >= MAX_DEFINITIONS:
            continue
        text = plain_relations(c.text)
        left = left_side(scope_ctx, text)
        if left is None:
            continue
        again = left.key({}) in defined and ASSIGNS.fullmatch(left.relation) is not None
        if not again and not left.foreign and known(scope_ctx, left):
            continue
        if not again and any(k[0] == left.head for k in defined):
            continue          # s_2 = 0.37 after s = Wx + b: a claim about s's entry
        lines.add(c.line)
        defs.append(text)
        placeholders = _placeholders(scope_ctx, left)
        defined |= set(placeholders)
        scope_ctx = replace(scope_ctx, scope=with_definitions(scope_ctx.scope, placeholders))
    return before, lines


def _placeholders(ctx: Context, left: Left) -> dict:
    """Stand-ins for a definition's names while later left sides are read."""
    keys = {left.key({}): sp.Dummy(left.head)}
    for bound in _bindings(ctx, left.letters):
        keys[left.key(bound)] = sp.Dummy(left.head)
    return keys


def _bindings(ctx: Context, letters):
    ranges = [ctx.scope.index_range(c) for c in letters]
    for combo in itertools.islice(itertools.product(*ranges), 10_000):
        yield dict(zip(letters, combo))


class NotADefinition(FormulaError):
    """The line turned out to be a claim (its name is read the spec's own way)."""


@dataclass(frozen=True)
class Defined:
    """What one definition line gives: its names (canonical key → value), the layer
    kind the names alias (or None), and the value as checked (for the report)."""

    left: Left
    keys: dict
    heads: dict
    value: object
    alias: str | None


def define(ctx: Context, text: str) -> Defined:
    """The names the definition ``text`` makes in ``ctx``'s scope (FormulaError if none)."""
    left = left_side(ctx, text)
    if left is None:
        raise NotADefinition("not a definition", 0, "name = expression")
    instances = parse_instances(left.rhs + " = 0", ctx.scope)
    keys, kinds, first, entries = {}, set(), None, {}
    for inst in instances:
        bound = dict(inst.indices)
        if set(left.letters) - set(bound):
            raise FormulaError(f"the index {', '.join(sorted(set(left.letters) - set(bound)))} "
                               "of the defined name is not on its right side", 0,
                               "the index on both sides")
        value = inst.sides[0].expr
        alias = _alias(ctx, value)
        kinds.add(alias[0] if alias else None)
        value = alias[1] if alias else value
        first = value if first is None else first
        keys.update(_entries(ctx, left.key(bound), value))
        if len(left.letters) == 1 and left.sub == left.letters[0] and not left.sup:
            entries[bound[left.sub]] = value
        if left.word and (left.head, "", "") not in ctx.scope.keys:
            keys.update(_entries(ctx, (left.head, "", ""), value))   # dhidden: hidden_layer
    alias = kinds.pop() if len(kinds) == 1 else None
    keys.update(_vector(ctx, left, entries))
    if left.foreign and (alias is None or alias == ctx.scope.heads.get(left.head)):
        raise NotADefinition("the line holds or fails in the spec's own reading of "
                             f"{left.head}", 0, "a claim")
    heads = {}
    if alias is not None and (left.sup or len(left.head) > 1 or left.word) and \
            (left.head not in ctx.scope.heads or left.foreign):
        heads[left.head] = alias
    return Defined(left, keys, heads, first, alias)


def _entries(ctx: Context, key, value) -> dict:
    """The name itself and, for a vector, its entries (f → f_1, f_2, …)."""
    out = {key: value}
    if is_matrix(value) and 1 in value.shape and not key[2]:
        base = ctx.nt.index_base if ctx.nt is not None else 1
        for j, e in enumerate(value):
            out[(key[0], key[1], str(base + j))] = e
    return out


def _vector(ctx: Context, left: Left, entries: dict) -> dict:
    """``p_k = …`` for every k: also the vector p (its entries in order), so that p_k,
    p_{y_i} and \\sum_k p_k read it; {} when the entries are not one whole range."""
    key = (left.head, "", "")
    if not entries or key in ctx.scope.keys or any(is_matrix(v) for v in entries.values()):
        return {}
    base = ctx.nt.index_base if ctx.nt is not None else 1
    if sorted(entries) != list(range(base, base + len(entries))) or len(entries) < 2:
        return {}
    return {key: sp.ImmutableMatrix([entries[k] for k in sorted(entries)])}


def _alias(ctx: Context, value):
    """(kind, the network quantity) that ``value`` equals at the test points, or None."""
    pts = ctx.network_points.points[:ALIAS_POINTS] if ctx.network_points else ()
    if not pts:
        return None
    mine = [values(value, p) for p in pts]
    if any(v is None for v in mine):
        return None
    for (kind, l), mat in sorted(ctx.scope.layers.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if kind not in ("z", "a"):
            continue
        for cand in ([shrink(mat)] if is_matrix(value) else list(mat)):
            if _same(cand, mine, pts):
                return kind, cand
    return None


def _same(cand, mine, pts) -> bool:
    for v, p in zip(mine, pts):
        c = values(cand, p)
        if c is None or not close(v, c, 1e-9):
            return False
    return True


class TimeUp(Exception):
    pass


def _limited(seconds: float, fn, *args):
    """``fn(*args)`` under ``seconds`` of SIGALRM (main thread; elsewhere unlimited)."""
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)

    def _raise(signum, frame):
        raise TimeUp()
    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_SCOPED: dict = {}


def scoped(ctx: Context, defs: tuple[str, ...]) -> Context:
    """``ctx`` with the definitions ``defs`` (in order) in its scope, memoised per process
    (a child checks a file's claims in order, so each definition is built once)."""
    if not defs:
        return ctx
    key = (id(ctx), defs)
    if key in _SCOPED:
        return _SCOPED[key]
    if len(_SCOPED) > 4 * MAX_DEFINITIONS:
        _SCOPED.clear()
    inner = scoped(ctx, defs[:-1])
    try:
        made = _limited(DEFINE_SECONDS, define, inner, defs[-1])
        out = replace(inner, scope=with_definitions(inner.scope, made.keys, made.heads))
    except (FormulaError, TimeUp, *_FAILURES):
        out = inner
    _SCOPED[key] = out
    return out


_FAILURES = (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError,
             NotImplementedError, RecursionError)
