r"""Hand-written formulas → SymPy, safely: the parser half of ``symbackprop check``.

A claim is one equation ``A = B`` (or a chain ``A = B = C``) written in plain
text or LaTeX, in the notation of a model (``build_scope(model)``) or as
free-standing calculus (``build_scope()``).  ``parse_claim`` returns a
``Claim`` whose ``sides`` are SymPy objects built only from an allow-list:
the scope's symbols, numbers (exact rationals), and the functions in
``ops.FUNCTIONS``.  The text is never ``eval``-ed or ``sympify``-ed;
it is read by the LALR grammar of ``grammar`` under fixed caps
(``MAX_CHARS``, nesting depth 100, ``MAX_DIGITS`` per literal, numeric
exponents, a step budget).  Every failure is a ``FormulaError`` with a
position; nothing else escapes (tests/test_formula_fuzz.py).

Modules: ``grammar`` (text → AST), ``tree`` (AST helpers,
index values), ``names`` (scope, name keys), ``evaluate`` (AST →
SymPy), ``resolve`` (names, derivatives, sums), ``ops``
(functions, numbers, matrix arithmetic).

What is read.  ``=``, ``≈`` and ``\approx`` separate sides.  Plain text
``* / ^ ** @ .T '`` and ``np.``-style calls (np.dot, np.multiply, np.sum,
np.maximum, np.transpose); LaTeX ``\frac \cdot \times \odot \ast ^T ^\top
\left( \right) \|v\| \sum_k \nabla_a \partial \text{…} \hat{y}``; unicode
``∂ σ δ · × ⊙ − ² ŷ``.  Juxtaposition multiplies; ``name(…)`` is a product
unless ``name`` is an allow-listed function (σ/sigma/sigmoid, exp, ln, log,
log10/\log_{10}, tanh, relu, leaky_relu, elu, softplus, softmax, max, sqrt) or
its prime (``\sigma'``, ``relu''``, ``\sigma^{\prime}``); ``\sigma z`` applies
σ to z; ``e^{x}`` is exp.  Derivatives: ``dE/dw17``, ``∂E/∂w_{17}``,
``\frac{\partial E}{\partial w}``, ``d E / d w``, ``\delta C/\delta w`` and
``\frac{dE}{dw}``; ``d/dz``, ``\frac{\partial}{\partial z}`` and ``\nabla_z``
are operators on the juxtaposed run after them.  Names: see names
(``out_{n_9}``/``out_n9``, ``w17``/``w_{17}``, ``\delta^{2}_{1}``/``delta^2_1``,
``E``/``C``/``L``/``E_total`` for the loss); layer-level names (``W2``,
``W^{(2)}``, ``z^1``, ``a^L``, ``\delta^{L}``, ``x``, ``y``) are matrices, and
``*``, juxtaposition and ``\cdot`` of two matrices are the matrix product
when the shapes chain, else elementwise (``*`` prefers elementwise);
``\odot`` is elementwise, ``@`` the matrix product.  A text name that could
mean several quantities (``w^1_111``) is refused, never guessed.

What a side can be (for the checker):

* a scalar SymPy expression in the network's symbols (``a3_1``, ``z3_1``,
  ``W3_1_1`` …; see network.py), ``LOSS`` for the loss, and ``Partial(of, wrt)``
  for every derivative written as a fraction (``dE/dw17``,
  ``\\frac{\\partial out_{n_9}}{\\partial net_{n_9}}``): a product of chain-rule
  factors stays a product of ``Partial`` objects;
* an ``ImmutableMatrix`` when layer-level names are used (``W2``, ``\\delta^{L}``,
  ``dC/dW2``); a 1×1 result is returned as a scalar;
* ``sp.Derivative(expr, wrt)`` (unevaluated) for an operator applied to an
  expression in a model, e.g. ``\\frac{\\partial}{\\partial w_{16}}(…)``: substitute
  the network's forward expressions, then ``.doit()``.  Free-standing
  (``build_scope()``) the derivative is taken at once with ``sympy.diff``.
* ``\\log_{10}``/``log10`` build ``log(x)/log(10)`` (``uses_log_base`` finds it);
  ``log``, ``\\log`` and ``\\ln`` are the natural logarithm.

Generic indices.  Letters i, j, k, l, m in sub- and superscripts are indices
(``\\delta^l_j``, ``w^{l+1}_{kj}``); ``L`` is the last layer.  ``\\sum_k`` binds
``k`` and runs over every value for which its body names existing neurons.
A claim with free indices is a family: ``parse_instances(text, scope)``
returns one ``Claim`` per assignment that names existing neurons (its
``indices`` say which), and ``parse_claim(text, scope, indices={"l": 2,
"j": 1})`` builds one of them.  ``parse_claim`` without ``indices`` on such a
claim raises ``FormulaError``.

>>> scope = build_scope()
>>> claim = parse_claim("d/dz tanh(z) = 1 - tanh(z)^2", scope)
>>> import sympy as sp
>>> sp.simplify(claim.sides[0].expr - claim.sides[1].expr)
0
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import sympy as sp
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .grammar import MAX_DEPTH, MAX_ITEMS, Node, TooDeep, normalise, parser
from .names import LOSS, Scope, build_scope
from .evaluate import Evaluator
from .ops import FormulaError, FreeIndex, OutOfRange, Partial, undefined, uses_log_base
from .resolve import updated

__all__ = ["FormulaError", "LOSS", "Partial", "Side", "Claim", "Scope", "build_scope",
           "parse_claim", "parse_instances", "uses_log_base", "MAX_CHARS", "MAX_DEPTH"]

MAX_CHARS = 10_000
# a relation: =, ≈, :=, ←, and ≡ / ≜ / \coloneqq ("equals by definition", read as =)
EQUATION = re.compile(r"=|\u2248|\u2254|\u2190|\u2261|\u225c|\\approx|\\leftarrow|\\gets"
                      r"|\\(?:equiv|coloneqq|triangleq|doteq)(?![A-Za-z])")
ASSIGNMENT = re.compile(r":=|\u2254|\u2190|\\leftarrow|\\gets")
MAX_INSTANCES = 20_000

# Friendly names of the grammar's terminals, for "expected …" in messages.
_TERMINALS = {
    "NAME": "a name", "NUMBER": "a number", "COMMAND": "a LaTeX command", "ADDOP": "+ or -",
    "MULOP": "an operator", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "LBRACE": "{",
    "RBRACE": "}", "EQUAL": "=", "COMMA": ",", "FRAC": r"\frac", "PARTIAL": r"\partial",
    "SUM": r"\sum", "WRAPPED": r"\text{…}", "SUP": "^", "UNDERSCORE": "_", "PRIME": "'",
    "TRANSPOSE": ".T", "LNORM": r"\|", "RNORM": r"\|", "$END": "the end of the formula",
}


@dataclass(frozen=True)
class Side:
    """One side of a claim: its SymPy value and where it is in the text.

    ``decimals`` is the number of decimal places when the side is a plain
    number as written (``0.7935`` → 4, ``-0.7`` → 1, ``1`` → 0), else None.
    """

    expr: sp.Basic
    text: str
    start: int
    end: int
    decimals: int | None = None


@dataclass(frozen=True)
class Claim:
    """A parsed equation: two or more sides (``A = B = C`` has three);
    ``indices`` gives the generic index values of an instance, e.g.
    (("j", 1), ("l", 2))."""

    text: str
    sides: tuple[Side, ...]
    indices: tuple[tuple[str, int], ...] = field(default=())


def _expected(names) -> str:
    shown = sorted({_TERMINALS.get(n, n.lower()) for n in names})
    return ", ".join(shown[:12]) or "something else"


def _syntax_error(err: UnexpectedInput, text: str) -> FormulaError:
    pos = getattr(err, "pos_in_stream", None) or 0
    if isinstance(err, UnexpectedToken):
        tok = err.token
        pos = len(text) if tok.type == "$END" or tok.start_pos is None else tok.start_pos
        found = "the end of the formula" if tok.type == "$END" else repr(str(tok))
        expected = _expected(err.expected)
        return FormulaError(f"unexpected {found}", pos, expected)
    if isinstance(err, UnexpectedCharacters):
        return FormulaError(f"unexpected character {text[pos]!r}", pos, _expected(err.allowed))
    return FormulaError("incomplete formula", len(text), _expected(getattr(err, "expected", ())))


def parse_tree(text: str) -> Node:
    """Text → AST (``grammar.Node``); FormulaError when it is not a formula."""
    if not isinstance(text, str):
        raise FormulaError("a claim must be text", 0, "text")
    if len(text) > MAX_CHARS:
        raise FormulaError(f"the claim is {len(text)} characters long; at most {MAX_CHARS} "
                           "are read", MAX_CHARS, f"at most {MAX_CHARS} characters")
    if not EQUATION.search(text):
        raise FormulaError("a claim is an equation: no '=' found", len(text), "LHS = RHS")
    try:
        return parser().parse(normalise(text))
    except TooDeep as err:
        if err.what == "items":
            raise FormulaError(f"more than {MAX_ITEMS} sides or arguments", err.position,
                               f"at most {MAX_ITEMS}") from None
        raise FormulaError(f"the formula nests deeper than {MAX_DEPTH} levels", err.position,
                           f"at most {MAX_DEPTH} levels of nesting") from None
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    except (LarkError, RecursionError):
        raise FormulaError("cannot read this formula", 0, "a formula") from None


def _decimals(node: Node) -> int | None:
    """Decimal places of a side written as a plain (signed) number."""
    while node.kind in ("paren", "group", "unary") and node.kind != "NUMBER":
        if node.kind == "unary":
            node = node.args[1]
        elif len(node.args) == 1 and isinstance(node.args[0], Node):
            node = node.args[0]
            if node.kind == "args" and len(node.args) == 1:
                node = node.args[0]
        else:
            return None
    if node.kind != "NUMBER":
        return None
    mantissa, _, exponent = node.text.lower().partition("e")
    places = len(mantissa.partition(".")[2])
    return max(0, places - int(exponent or 0))


def _side_spans(text: str, tree: Node) -> list[tuple[Node, int, int]]:
    """(node, start, end) of each side: between the = signs, whitespace trimmed."""
    sides, seps = tree.args[0::2], tree.args[1::2]
    cuts = [0] + [sep.start for sep in seps] + [len(text)]
    starts = [0] + [sep.end for sep in seps]
    spans = []
    for node, start, end in zip(sides, starts, cuts[1:]):
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        spans.append((node, start + lead, start + len(chunk.rstrip())))
    return spans


# What SymPy itself may raise on odd but allow-listed input: reported as FormulaError.
_SYMPY_FAILURES = (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, KeyError,
                   NotImplementedError, RecursionError)


def _build(text: str, tree: Node, scope: Scope, indices: dict[str, int]) -> Claim:
    ev = Evaluator(scope, text, indices)
    sides = []
    seps = tree.args[1::2]
    for n, (node, start, end) in enumerate(_side_spans(text, tree)):
        if n > 0 and ASSIGNMENT.fullmatch(seps[n - 1].text):
            if n > 1:
                raise FormulaError("an assignment (:=, ←) only follows the first side",
                                   seps[n - 1].start, "θ := θ − η ∂E/∂θ")
            if scope.free:
                raise FormulaError("an update (:=, ←) needs a network (a spec)",
                                   seps[n - 1].start, "a claim about a network's parameter")
            first = sides[0]
            sides[0] = replace(first, expr=updated(scope, first.expr, first.start))
        try:
            expr = ev.side(node)
        except FormulaError:
            raise
        except _SYMPY_FAILURES as err:
            raise FormulaError(f"cannot build this formula ({type(err).__name__}: "
                               f"{str(err)[:200]})", start, "a well-formed expression") from None
        if undefined(expr):
            raise FormulaError("this side is undefined (a division by zero or log 0)", start,
                               "a defined expression")
        sides.append(Side(expr, text[start:end], start, end, _decimals(node)))
    return Claim(text, tuple(sides), tuple(sorted(indices.items())))


def parse_claim(text: str, scope: Scope, indices: dict[str, int] | None = None) -> Claim:
    """Parse one claim ``LHS = RHS [= …]`` in ``scope``.

    Parameters
    ----------
    text : the claim, plain text or LaTeX (at most ``MAX_CHARS`` characters).
    scope : from ``build_scope(model)`` or ``build_scope()``.
    indices : values of generic indices (``{"l": 2, "j": 1}``) if the claim has any.

    >>> from symbackprop.api import prepare, example_path
    >>> scope = build_scope(prepare(example_path("worked_2331_numbered")))
    >>> parse_claim(r"\\frac{\\partial out_{n_9}}{\\partial net_{n_9}} = out_n9 (1 - out_n9)",
    ...             scope).sides[0].expr
    Partial(a3_1, z3_1)
    """
    tree = parse_tree(text)
    try:
        return _build(text, tree, scope, dict(indices or {}))
    except FreeIndex as err:
        raise FormulaError(f"generic index {err.letter} has no value; parse_instances gives "
                           "the claim for every neuron", err.position,
                           f"a value for {err.letter}") from None
    except OutOfRange as err:
        raise FormulaError(err.message, err.position, "a neuron or layer of the network") from None


def parse_instances(text: str, scope: Scope) -> list[Claim]:
    """Every instance of a claim: [the claim] when it has no generic indices,
    else one Claim per value of its free indices (i, j, k, l, m) that names
    existing layers and neurons, in index order.

    >>> from symbackprop.api import prepare, example_path
    >>> scope = build_scope(prepare(example_path("worked_2331")))
    >>> claims = parse_instances(r"\\delta^l_j = (\\sum_k w^{l+1}_{kj} \\delta^{l+1}_k) "
    ...                          r"\\sigma'(z^l_j)", scope)
    >>> [dict(c.indices) for c in claims][:2]
    [{'j': 1, 'l': 1}, {'j': 1, 'l': 2}]
    """
    tree = parse_tree(text)
    claims: list[Claim] = []
    state = {"tries": 0, "last": None}
    _enumerate(text, tree, scope, {}, claims, state)
    if claims:
        return sorted(claims, key=lambda c: c.indices)
    last = state["last"]
    if last is not None:
        raise FormulaError(last.message, last.position, "a neuron or layer of the network")
    raise FormulaError("no instance of this claim names neurons of the network", 0,
                       "indices within the layers")


def _enumerate(text: str, tree: Node, scope: Scope, bound: dict, claims: list, state: dict):
    """Depth-first over the free index letters, each over the values that can
    name something where it is met first; out-of-range branches are pruned."""
    state["tries"] += 1
    if state["tries"] > MAX_INSTANCES:
        raise FormulaError(f"this claim has more than {MAX_INSTANCES} index combinations to "
                           "check", 0, "concrete indices or a smaller network")
    try:
        claims.append(_build(text, tree, scope, bound))
        return
    except OutOfRange as err:
        state["last"] = err
        return
    except FreeIndex as err:
        if err.letter in bound or len(bound) >= 4:
            raise FormulaError(f"too many generic indices ({', '.join(bound)}, {err.letter})",
                               err.position, "at most 4") from None
        letter, values = err.letter, err.values
    for v in (values if values is not None else scope.index_range(letter)):
        _enumerate(text, tree, scope, {**bound, letter: v}, claims, state)
