"""Find the claims in a file: one per line in text, every equation in Markdown/LaTeX.

Text files: each non-blank line is a claim; ``#`` starts a comment.
Markdown and LaTeX files: every ``$…$``, ``$$…$$``, ``\\[…\\]`` and every line
of an ``equation``/``align`` environment that contains ``=``; alignment
``&`` and ``\\\\`` line breaks are dropped.  Line numbers are 1-based and
point at the line the equation starts on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .reader import EQUATION

MATH = re.compile(
    r"\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<bracket>.+?)\\\]"
    r"|\\begin\{(?P<env>equation|align|gather|multline|eqnarray)(?P<star>\*?)\}(?P<body>.+?)"
    r"\\end\{(?P=env)(?P=star)\}"
    r"|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$",
    re.DOTALL)
LABEL = re.compile(r"\\(?:label|tag|nonumber|notag)(?:\{[^}]*\})?")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
MARKUP = {".md", ".markdown", ".tex", ".latex", ".mdx", ".rmd", ".qmd"}


@dataclass(frozen=True)
class ClaimText:
    """One claim as written and the line it starts on."""

    line: int
    text: str


def extract(text: str, kind: str = "text") -> list[ClaimText]:
    """The claims of a file's ``text``; ``kind`` is "text" or "markup".

    >>> extract("dE/dz = a - y   # output layer\\n\\n# a comment\\n")
    [ClaimText(line=1, text='dE/dz = a - y')]
    >>> extract("So $\\\\sigma'(z) = \\\\sigma(z)(1-\\\\sigma(z))$ and $x$.", "markup")
    [ClaimText(line=1, text="\\\\sigma'(z) = \\\\sigma(z)(1-\\\\sigma(z))")]
    """
    if kind == "markup":
        return _markup(text)
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        claim = raw.split("#", 1)[0].strip()
        out += [ClaimText(n, c) for c in split_equations(claim) if c]
    return out


def kind_of(path: str | Path) -> str:
    return "markup" if Path(path).suffix.lower() in MARKUP else "text"


def _markup(text: str) -> list[ClaimText]:
    # Code fences hold code, not claims: blank them out, keeping line numbers.
    text = FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    out = []
    for m in MATH.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if m.group("body") is not None:
            out += _rows(m.group("body"), line, m.start("body"), text)
            continue
        group = next(g for g in ("display", "bracket", "inline") if m.group(g))
        body = m.group(group)
        line = text.count("\n", 0, m.start(group) + len(body) - len(body.lstrip())) + 1
        for claim in split_equations(_clean(body)):
            if EQUATION.search(claim):
                out.append(ClaimText(line, claim))
    return out


def _rows(body: str, line: int, offset: int, text: str) -> list[ClaimText]:
    r"""Each ``\\``-separated row of an environment, on the line it starts; rows and
    alignment ``&`` are cut at the top level only (a matrix or cases inside a row keeps
    its own)."""
    out = []
    for pos, row in _top_level_rows(body):
        start = line + body.count("\n", 0, pos) + (len(row) - len(row.lstrip("\n")))
        for claim in split_equations(_clean(row)):
            if EQUATION.search(claim):
                out.append(ClaimText(start, claim))
    return out


NESTING = re.compile(r"\\begin\s*\{[^}]*\}|\\end\s*\{[^}]*\}|\\\\|&")


def _top_level_rows(body: str) -> list[tuple[int, str]]:
    r"""(offset, row) of the rows of ``body``: split at ``\\\\`` and with ``&`` dropped
    outside any inner ``\\begin…\\end``.

    >>> _top_level_rows(r"W &= \begin{pmatrix} a \\ b \end{pmatrix} \\ y &= 1")
    [(0, 'W = \\begin{pmatrix} a \\\\ b \\end{pmatrix} '), (44, ' y = 1')]
    """
    rows, depth, start, kept = [], 0, 0, []
    last = 0
    for m in NESTING.finditer(body):
        token = m.group(0)
        if token.startswith("\\begin"):
            depth += 1
        elif token.startswith("\\end"):
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(body[last:m.start()])
            last = m.end()
            if token == "\\\\":
                rows.append((start, "".join(kept)))
                kept, start = [], m.end()
    kept.append(body[last:])
    rows.append((start, "".join(kept)))
    return rows


# Several equations in one display: x = 1 \quad\text{or}\quad y = 2, a = b \Rightarrow c = d.
SEPARATOR = re.compile(r"\\q?quad(?![A-Za-z])|\\(?:Rightarrow|Longrightarrow|implies|iff)(?![A-Za-z])")
JOINER = re.compile(r"^(?:\\(?:text|textrm|mathrm)\s*\{\s*(?:and|or|so|thus|hence|where|i\.e\.)"
                    r"\s*\}|[;,]|\s)*|(?:\\(?:text|textrm|mathrm)\s*\{\s*(?:and|or)\s*\}|[;,]|\s)*$")


def split_equations(math: str) -> list[str]:
    r"""The equations of one display, cut at \quad and \Rightarrow (and the words or
    punctuation around them); a piece without a relation is dropped.  Environments
    (\begin{…}) are left whole.

    >>> split_equations(r"\sigma(a)=\frac{1}{e^{-a}}\quad\textrm{or}\quad\sigma(a)=2")
    ['\\sigma(a)=\\frac{1}{e^{-a}}', '\\sigma(a)=2']
    >>> split_equations(r"x = 1 \quad ; \quad y = 2 \quad \text{for all } y")
    ['x = 1', 'y = 2']
    """
    if "\\begin" in math or not SEPARATOR.search(math):
        return [math]
    pieces = [JOINER.sub("", p).strip() for p in SEPARATOR.split(math)]
    kept = [p for p in pieces if EQUATION.search(p)]
    return kept or [math]


def _clean(math: str) -> str:
    """One line of math: labels dropped, whitespace collapsed, trailing punctuation cut."""
    math = LABEL.sub("", math)
    return re.sub(r"\s+", " ", math).strip().rstrip(",.;").strip()

