"""The grammar of hand-written formulas (plain text and LaTeX in one) and the
transformer that turns lark's parse into a small, position-carrying AST.

One LALR grammar reads both notations: ``\\frac{a}{b}``, ``\\cdot``, ``{…}``
groups and ``\\left( … \\right)`` next to ``*``, ``/``, ``**``, ``@`` and
``.T``.  The transformer is handed to the parser, so nodes are built as
rules are reduced (no recursion, whatever the input); each node records its
nesting depth, and deeper than ``MAX_DEPTH`` is an error at once.

Precedence, loosest first: ``=``; ``+ -``; ``* / \\cdot \\odot @`` and
juxtaposition (left to right, so ``1/2 (y - a)^2`` is ½(y − a)²); unary
signs and ``\\sum_k body`` (the body runs to the next ``+``/``-``); then
postfix ``^ _ ' .T (args)``.  ``name(…)`` is always read as a call here;
whether it is a function or a product is decided by the evaluator.

Matrix environments (bmatrix, pmatrix, Bmatrix, matrix, smallmatrix, their
v/V and starred forms, and array with its column spec) are atoms: rows split
by ``\\\\``, cells by ``&``, each cell a full expression; a row is one flat node
whatever its length (at most ``MAX_CELLS`` cells).  Empty cells parse, so
that ``matrix_cells`` (and the evaluator, for ``\\vdots``) can say what is
wrong with a position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Lark, Token, Transformer, Tree

from .names import new_value_marks
from .ops import FormulaError

MAX_DEPTH = 100

GRAMMAR = r"""
?start: equation
equation: expr
        | equation EQ expr

?expr: term
     | expr ADDOP term            -> binop

?term: signed
     | term MULOP signed          -> binop
     | term juxtable              -> juxt

?signed: juxtable
       | ADDOP signed             -> unary

?juxtable: postfix
         | SUM sumscripts term    -> sum
         | PARTIAL postfix        -> dpart
         | PARTIAL                -> dbare

sumscripts:                       -> noscript
          | "_" sumindex
          | "_" sumindex "^" suparg
sumindex: NAME | "{" NAME "}" | "{" NAME EQ expr "}"

?postfix: atom
        | postfix "_" subarg      -> sub
        | postfix SUP suparg      -> sup
        | postfix PRIME           -> prime
        | postfix DPRIME          -> dprime
        | postfix NEWMARK         -> newmark
        | postfix SUPDIGITS       -> supdigits
        | postfix TRANSPOSE       -> transpose
        | postfix "(" args ")"    -> call
        | postfix METHOD "(" args ")" -> method
        | postfix METHOD "(" ")"  -> method
args: arg
    | args "," arg
?arg: expr
    | NAME EQ expr                -> kwarg
    | expr CMP expr               -> relation

?subarg: NAME | NUMBER | COMMAND | WRAPPED
       | "{" args "}"             -> group
?suparg: NAME | NUMBER | COMMAND | WRAPPED | PRIME
       | "{" expr "}"             -> group
       | "(" expr ")"             -> paren
       | ADDOP suparg             -> unary

?atom: NAME | NUMBER | COMMAND | WRAPPED | NABLA | ROOT
     | "(" expr ")"               -> paren
     | "[" expr "]"               -> paren
     | "{" expr "}"               -> group
     | LNORM expr RNORM           -> norm
     | FRAC fracarg fracarg       -> frac
     | FRACDIGITS                 -> fracdigits
     | FRACGLYPH                  -> fracglyph
     | "(" expr CMP expr ")"      -> iverson
     | "[" expr CMP expr "]"      -> iverson
     | "[" expr EQ expr "]"       -> iverson
     | INDICATOR "[" relation "]" -> indicator
     | INDICATOR "(" relation ")" -> indicator
     | INDICATOR "_" "{" relation "}" -> indicator
     | INDICATOR ESCLB relation ESCRB -> indicator
     | INDOPEN relation ESCRB     -> indicator
     | CASES caserows ENDCASES    -> cases
     | CASES caserows ROWSEP ENDCASES -> cases
     | MATBEGIN matrows MATEND    -> matrix
     | ELLIPSIS
relation: expr CMP expr | expr EQ expr
caserows: caserow
        | caserows ROWSEP caserow
caserow: expr AMP condition
matrows: matrow (ROWSEP matrow)*
matrow: expr? (AMP expr?)*
?condition: CONDWORD? expr CMP expr -> compare
          | CONDWORD               -> otherwise
?fracarg: "{" expr "}"            -> group
        | NAME | NUMBER | COMMAND | PARTIAL -> bare

ADDOP: "+" | "-" | "\u2212"
MULOP.2: "*" | "/" | "@" | "\u00b7" | "\u00d7" | "\u2299" | "\u2217" | "\u2218" | "\u22c5"
       | "\u2219"
       | /\\(cdot|times|odot|ast|circ|div)(?![A-Za-z])/
       | /\.(?![0-9A-Za-z])/
SUP.3: "^" | "**"
NEWMARK.4: "\ue002"
PRIME.3: "'" | "\u2032" | "\u2019" | /\\prime(?![A-Za-z])/
TRANSPOSE.3: /\.T(?![A-Za-z0-9_])/ | "\u1d40" | "\u22a4"
METHOD.3: /\.(dot|sum|astype|transpose|multiply)(?=\s*\()/
SUM.3: "\u2211" | "\u03a3" | /\\sum(?![A-Za-z])/
PARTIAL.3: "\u2202" | /\\partial(?![A-Za-z])/
FRAC.3: /\\[dt]?frac(?![A-Za-z])/
FRACDIGITS.4: /\\[dt]?frac\s*[0-9]\s*[0-9]/
FRACGLYPH: /[\u00bc-\u00be\u2150-\u215e]/
INDICATOR.4: /\\(mathbb|mathbf|mathds|mathbbm|bm|boldsymbol|mathrm|mathbbold)\s*\{\s*1\s*\}/
           | /\\(mathbb|mathds|mathbbm)\s*1/ | "\U0001d7d9"
INDOPEN.4: /1\s*\\\{/
ESCLB.3: "\\{"
ESCRB.3: "\\}"
SUPDIGITS: /\u207b?[\u00b2\u00b3\u00b9\u2070\u2074-\u2079]+/
DPRIME.3: "\u2033"
NABLA: "\u2207"
ROOT: "\u221a"
EQ.3: "=" | "\u2248" | /\\approx(?![A-Za-z])/ | ASSIGN
ASSIGN: ":=" | "\u2254" | "\u2190" | /\\(leftarrow|gets)(?![A-Za-z])/
LNORM.3: "\ue000|" | "\ue003" | /\\lVert(?![A-Za-z])/
RNORM.3: "\ue001|" | "\ue004" | /\\rVert(?![A-Za-z])/
WRAPPED.3: /\\(text|textrm|textit|mathrm|mathit|mathbf|mathsf|mathcal|boldsymbol|operatorname|hat|widehat|bar|vec)\s*\{[^{}]*\}/
COMMAND: /\\[A-Za-z]+/
NAME: /([A-Za-z\u0391-\u03a9\u03b1-\u03c9][A-Za-z0-9\u0391-\u03a9\u03b1-\u03c9]*|\u0177)/
NUMBER: /([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+(?![A-Za-z]))?/

CMP.3: ">" | "<" | "\u2265" | "\u2264" | "==" | "!=" | "\u2260" | ">=" | "<="
     | /\\(geq?|leq?|gt|lt|geqslant|leqslant|neq?)(?![A-Za-z])/
CASES.4: /\\begin\s*\{cases\}/
ENDCASES.4: /\\end\s*\{cases\}/
ROWSEP.4: /\\\\(\s*\[\s*[0-9.]+\s*(pt|ex|em|mm|cm|in|bp|pc|mu)\s*\])?/
MATBEGIN.4: /\\begin\s*\{[pbBvV]?(small)?matrix\}/
          | /\\begin\s*\{[pbBvV]?(small)?matrix\*\}(\s*\[[lcr]\])?/
          | /\\begin\s*\{array\}\s*(\[[tcb]\]\s*)?\{([^{}]|\{[^{}]*\})*\}/
MATEND.4: /\\end\s*\{([pbBvV]?(small)?matrix\*?|array)\}/
ELLIPSIS.3: "\u2026" | "\u22ee" | "\u22ef" | "\u22f1"
          | /\\(dots[cbmio]?|[lcvd]dots|hdots|hdotsfor\s*\{[0-9]+\})(?![A-Za-z])/
AMP: "&"
CONDWORD.5: /\\(text|textrm|mathrm)\s*\{\s*(if|for|when|otherwise|else)\b[^{}]*\}/

SPACING.3: /\\[,;:! ]/ | /\\q?quad(?![A-Za-z])/ | /\\displaystyle(?![A-Za-z])/
         | /\\hline(?![A-Za-z])/ | /\\(no)?limits(?![A-Za-z])/
         | /\\(nonumber|notag)(?![A-Za-z])/ | /\\(tag\*?|label)\s*\{[^{}]*\}/
SIZING.3: /\\(left|right|[bB]igg?[lr]?)(?![A-Za-z])\s*\.?/
WS: /\s+/
%ignore WS
%ignore SPACING
%ignore SIZING
"""


@dataclass(frozen=True)
class Node:
    """One AST node: ``kind`` (a rule name or a token type), children or a
    token's text in ``args``, its span [start, end) in the claim, its depth."""

    kind: str
    args: tuple
    start: int
    end: int
    depth: int = 1

    @property
    def text(self) -> str:
        return self.args[0] if self.args and isinstance(self.args[0], str) else ""


MAX_ITEMS = 100          # sides of one claim, arguments of one call
MAX_CELLS = 10_000       # entries of one matrix literal

CHAINS = ("binop", "juxt", "call")


class TooDeep(Exception):
    """Nesting deeper than MAX_DEPTH (or a list longer than MAX_ITEMS) at ``position``."""

    def __init__(self, position: int, what: str = "depth"):
        super().__init__(position)
        self.position, self.what = position, what


# Unicode signs read as the LaTeX command they print as: ∇ is \nabla, √ is \sqrt.
GLYPHS = {"NABLA": "\\nabla", "ROOT": "\\sqrt"}


def _leaf(tok: Token) -> Node:
    if tok.type in GLYPHS:
        return Node("COMMAND", (GLYPHS[tok.type],), tok.start_pos, tok.end_pos)
    return Node(tok.type, (str(tok),), tok.start_pos, tok.end_pos)


def _node(kind: str, children: list, start: int | None = None, end: int | None = None) -> Node:
    kids = tuple(_leaf(c) if isinstance(c, Token) else c for c in children)
    real = [k for k in kids if isinstance(k, Node)]
    if kind in CHAINS and real[0].kind in CHAINS and len(real) > 1:
        # a + b + c is one level, not a tower: continuing a chain adds no depth
        depth = max(real[0].depth, 1 + max(k.depth for k in real[1:]))
    else:
        depth = 1 + max((k.depth for k in real), default=0)
    lo = min((k.start for k in real), default=0) if start is None else start
    hi = max((k.end for k in real), default=0) if end is None else end
    if depth > MAX_DEPTH:
        raise TooDeep(lo)
    return Node(kind, kids, lo, hi, depth)


class ToAst(Transformer):
    """lark parse → Node tree, built bottom-up as the parser reduces."""

    def __default__(self, data, children, meta):
        if data.startswith("__"):        # lark's helper rule of a repetition (a & b & c)
            return Tree(data, children)
        if data in ("equation", "args", "caserows"):
            return _flat(str(data), children)
        if data == "matrix":
            return _matrix(*children)
        if data in ("matrow", "matrows") and len(children) > 2 * MAX_CELLS:
            where = next((c.start if isinstance(c, Node) else c.start_pos for c in children), 0)
            raise FormulaError(f"a matrix with more than {MAX_CELLS} entries", where,
                               f"at most {MAX_CELLS} entries")
        start = getattr(meta, "start_pos", None)
        end = getattr(meta, "end_pos", None)
        return _node(str(data), children, start, end)

    def __default_token__(self, token):
        return token


def _flat(kind: str, children: list) -> Node:
    """A left-recursive list (``a = b = c``, ``f(a, b)``) as one flat node."""
    if isinstance(children[0], Node) and children[0].kind == kind:
        head = children[0]
        if len(head.args) >= (2 * MAX_ITEMS if kind == "equation" else MAX_ITEMS):
            raise TooDeep(head.end, "items")
        return _node(kind, [*head.args, *children[1:]])
    return _node(kind, children)


def _matrix(begin: Token, rows: Node, end: Token) -> Node:
    """\\begin{bmatrix} a & b \\\\ c & d \\end{bmatrix}: rows of cells and separators,
    an empty row (after a trailing \\\\) placed where it stands."""
    first, last = _leaf(begin), _leaf(end)
    fixed, at = [], first.end
    for row in rows.args:
        if row.kind == "matrow" and not row.args:
            row = Node("matrow", (), at, at)
        fixed.append(row)
        at = row.end
    return _node("matrix", [first, _node("matrows", fixed, first.end, last.start), last],
                 first.start, last.end)


def matrix_cells(rows: Node) -> list[list[Node]]:
    """The cells of a matrix's ``matrows``, row by row; a trailing \\\\ is dropped.
    FormulaError for an empty matrix, an empty cell or rows of different lengths."""
    grid, seps = [], [part for part in rows.args if part.kind == "ROWSEP"]
    for row in (part for part in rows.args if part.kind == "matrow"):
        items = row.args
        for k, item in enumerate(items):
            if item.kind == "AMP" and (k == 0 or items[k - 1].kind == "AMP"):
                raise _empty_cell(item.start)
        if items and items[-1].kind == "AMP":
            raise _empty_cell(items[-1].end)
        grid.append([c for c in items if c.kind != "AMP"])
    if len(grid) > 1 and not grid[-1]:
        grid.pop()                          # a \\ before \end{…} ends the last row
    if not grid[0]:
        raise FormulaError("an empty matrix", rows.start, "entries separated by & and \\\\")
    for n, (row, sep) in enumerate(zip(grid[1:], seps), start=2):
        if len(row) != len(grid[0]):
            raise FormulaError(f"a ragged matrix: row {n} has {_entries(len(row))}, row 1 "
                               f"has {len(grid[0])}", row[0].start if row else sep.end,
                               f"{len(grid[0])} entries in every row")
    return grid


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


def _empty_cell(where: int) -> FormulaError:
    return FormulaError("an empty matrix entry; write every entry (0 where it is zero)", where,
                        "an entry between the & signs")


def normalise(text: str) -> str:
    """Same-length rewrites before parsing: ``\\|…\\|`` norms get open/close
    markers, ``out*{n_9}`` (Markdown turned ``_`` into ``*``) is ``out_{n_9}``,
    a star closing a left side (``w* = …``) is the new-value mark
    and ``np.`` / ``numpy.`` / ``math.`` before a function name are blanked."""
    text = re.sub(r"(?<=[A-Za-z0-9}])\*\{", "_{", mark_norms(text))
    # w* = …, W_{ij}^{(k)}* := …: a star right before the relation marks the new value
    text = re.sub(r"(?<=[A-Za-z0-9})])\*(?=\s*(?:=|:=|\\leftarrow|\u2190))", "\ue002", text)
    text = new_value_marks(text)      # w_5^{+} =, w5+ =, w_5' = (issue #13)
    text = _blank_ampersands(text)
    # W^ᵀ, W^{[2]ᵀ}, a^⊤: a transpose sign inside a superscript is the letter T there
    if "\u1d40" in text or "\u22a4" in text:
        text = re.sub(r"\^(\{[^{}]*\}|[\u1d40\u22a4])",
                      lambda m: m[0].replace("\u1d40", "T").replace("\u22a4", "T"), text)
    text = _blank_layout(text).replace("\u2013", "-")      # an en dash typed for a minus
    # \boldsymbol{h}, \mathbf{W}, \bm{\delta}: bold type for vectors and matrices (whose
    # names are already layer-level) is only typography, also inside \hat{…}
    if "\\b" in text or "\\mathbf" in text or "\\pmb" in text:
        text = BOLD.sub(lambda m: " " * len(m[1]) + m[2] + " ", text)
    # np.exp(z), numpy.tanh(z), math.log(x): the module prefix is blanked out
    return re.sub(r"\b(?:np|numpy|math)\.(?=[a-z])", lambda m: " " * len(m[0]), text)


BOLD = re.compile(r"(\\(?:boldsymbol|mathbf|bm|pmb|mathbfit)\s*\{)(\s*(?:\\[A-Za-z]+|[A-Za-z])"
                  r"[A-Za-z0-9]*\s*)\}")
# A claim's closing punctuation (…σ'(z).  …,  …;), \quad, \, and \text{.}: not part of
# the formula.  Matched at the very end of what is left, one piece at a time (linear).
TRAILING = re.compile(r"(?:[.,;]|\\[,;!: ]|\\q?quad|\\text\s*\{\s*[.,;]?\s*\})$")


def _blank_layout(text: str) -> str:
    """Trailing punctuation becomes spaces (same length, positions kept)."""
    end = len(text)
    while True:
        while end and text[end - 1].isspace():
            end -= 1
        m = TRAILING.search(text, max(0, end - 24), end)
        if m is None:
            break
        end = m.start()
    if end == len(text.rstrip()):
        return text
    return text[:end] + " " * (len(text) - end)


# An elision (⋮ ⋯ ⋱ … \\dots \\vdots): entries or terms left out, which cannot be checked.
ELLIPSIS = re.compile(r"[\u2026\u22ee\u22ef\u22f1]|\\(?:dots[cbmio]?|[lcvd]dots|hdots|hdotsfor)"
                      r"(?![A-Za-z])")
# Environments whose & and \\ are part of the formula (cells, cases), not layout.
ENVIRONMENT = re.compile(r"\\(begin|end)\s*\{(cases|array|[pbBvV]?(?:small)?matrix\*?)\}")


def _blank_ampersands(text: str) -> str:
    """& separates a value from its condition inside \\begin{cases} and the
    cells of a matrix (bmatrix, array, …); elsewhere (align environments) it is
    layout and becomes a space."""
    if "&" not in text:
        return text
    out, depth, last = [], 0, 0
    for m in ENVIRONMENT.finditer(text):
        chunk = text[last:m.start()]
        out += [chunk if depth else chunk.replace("&", " "), m[0]]
        depth = depth + 1 if m[1] == "begin" else max(depth - 1, 0)
        last = m.end()
    tail = text[last:]
    out.append(tail if depth else tail.replace("&", " "))
    return "".join(out)


def mark_norms(text: str) -> str:
    """``\\|…\\|`` → alternating open/close markers of the same length, so the
    LALR grammar can tell where a norm ends (positions are unchanged)."""
    if "\u2016" not in text:
        parts = text.split("\\|")
        out = [parts[0]]
        for i, part in enumerate(parts[1:]):
            out.append(("\ue000|" if i % 2 == 0 else "\ue001|") + part)
        return "".join(out)
    # ‖v‖ (one character each side) as well: open and close alternate over both spellings
    count = iter(range(len(text)))
    return re.sub(r"\\\||\u2016", lambda m: (
        ("\ue000|", "\ue001|") if len(m[0]) == 2 else ("\ue003", "\ue004"))[next(count) % 2],
        text)


_PARSER: Lark | None = None


def parser() -> Lark:
    """The (cached) LALR parser with the AST transformer built in."""
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", transformer=ToAst(),
                       propagate_positions=True, maybe_placeholders=False)
    return _PARSER
