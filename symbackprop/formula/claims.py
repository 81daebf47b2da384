"""Find the claims in a file: one per line in text, every equation in Markdown/LaTeX.

Text files: each non-blank line is a claim; ``#`` starts a comment; a line that
starts with ``=`` continues the chain of the line before it.
Markdown and LaTeX files: every ``$…$``, ``$$…$$``, ``\\[…\\]`` and every row
of an ``equation``/``align``/``eqnarray``/``multline``/``gather`` environment
(and of ``split``/``aligned`` inside one) that contains ``=``; alignment ``&``,
``\\\\`` line breaks, ``\\label``, ``\\tag``, ``\\nonumber`` and closing
punctuation are dropped; a row that starts with ``=`` or an operator (``& = &``
in eqnarray, ``&= …`` in align, ``+ …`` in multline), or follows a row that
ends with one, is the next link of the row before it (one chain ``A = B = C``).
Line numbers are 1-based and point at the line the equation starts on.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from pathlib import Path

from .names import update_arrows
from .reader import EQUATION

# Math in Markdown/LaTeX, as the regular expression
#   \$\$(?P<display>.+?)\$\$ | \\\[(?P<bracket>.+?)\\\]
#   | \\begin\{(?P<env>equation|align|gather|multline|eqnarray)(?P<star>\*?)\}(?P<body>.+?)\\end\{(?P=env)(?P=star)\}
#   | (?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$          (DOTALL)
# would find it, but that expression retries its lazy bodies from every opening
# delimiter (48 KB of \[ takes 15 s) and counting lines per match is quadratic too;
# ``math_spans`` finds the same spans in one pass (tests/test_hostile2_claims.py
# compares the two on random text).
CANDIDATE = re.compile(r"\$|\\\[|\\begin\{")
ENVIRONMENT = re.compile(r"\\begin\{(equation|align|gather|multline|eqnarray)(\*?)\}")
LABEL = re.compile(r"\\(?:label|tag|nonumber|notag)(?:\{[^}]*\})?")
FENCES = ("```", "~~~")
# A text line that starts with a relation continues the claim of the line before it.
CONTINUES = re.compile(r"(?:=(?!=)|\u2248|\\approx(?![A-Za-z]))")
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
    text = text.removeprefix("\ufeff")       # a byte-order mark is not part of a claim
    if kind == "markup":
        return _markup(text)
    out, last = [], 0
    for n, raw in enumerate(text.splitlines(), start=1):
        claim = raw.split("#", 1)[0].strip()
        if out and last == n - 1 and CONTINUES.match(claim):
            # a line that starts with = continues the chain of the line before it
            out[-1] = ClaimText(out[-1].line, f"{out[-1].text.rstrip(',.;')} {claim}")
            last = n
            continue
        pieces = [ClaimText(n, c) for c in split_equations(claim) if c]
        out += pieces
        last = n if pieces else last
    return out



def kind_of(path: str | Path) -> str:
    return "markup" if Path(path).suffix.lower() in MARKUP else "text"


def fence_spans(text: str) -> list[tuple[int, int]]:
    r"""(start, end) of each code fence: from a line starting with ``` or ~~~ to the
    three characters opening the next line that starts with the same three (the
    regular expression ``^(```|~~~).*?^\1``, multiline, found in one pass).

    >>> fence_spans("a\n```py\nx = 1\n```\nb = 2\n~~~\n")
    [(2, 17)]
    """
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    openers = {f: [i for i, s in enumerate(starts) if text.startswith(f, s)] for f in FENCES}
    spans, i, dead = [], 0, set()
    while i < len(starts):
        fence = next((f for f in FENCES if f not in dead and text.startswith(f, starts[i])), None)
        if fence is None:
            i += 1
            continue
        later = openers[fence]
        k = bisect.bisect_right(later, i)
        if k == len(later):                 # never closed: no later fence of this kind opens
            dead.add(fence)
            i += 1
            continue
        j = later[k]
        spans.append((starts[i], starts[j] + 3))
        i = j + 1
    return spans


def math_spans(text: str):
    """(kind, start, end, env) of each piece of math, in order: kind "display", "bracket",
    "inline" or "env" (then ``env`` is the environment with its star), start/end the
    body's slice.  Linear: a closing delimiter searched for and not found is never
    searched for again, and an inline ``$`` looks no further than the next ``$``."""
    never: set = set()                      # closing delimiters absent from the rest
    pos = 0
    while True:
        m = CANDIDATE.search(text, pos)
        if m is None:
            return
        p = m.start()
        found = None
        if text.startswith("$$", p) and "$$" not in never:
            close = text.find("$$", p + 3)
            if close < 0:
                never.add("$$")
            else:
                found = ("display", p + 2, close, None, close + 2)
        elif text.startswith("\\[", p) and "\\]" not in never:
            close = text.find("\\]", p + 3)
            if close < 0:
                never.add("\\]")
            else:
                found = ("bracket", p + 2, close, None, close + 2)
        elif text.startswith("\\begin{", p):
            env = ENVIRONMENT.match(text, p)
            if env is not None:
                end = f"\\end{{{env[1]}{env[2]}}}"
                close = -1 if end in never else text.find(end, env.end() + 1)
                if close < 0:
                    never.add(end)
                else:
                    found = ("env", env.end(), close, env[1] + env[2], close + len(end))
        if found is None and text[p] == "$" and (p == 0 or text[p - 1] not in "\\$"):
            close = text.find("$", p + 1)
            if close > p + 1 and text[close - 1] != "\\" and text.find("\n", p + 1, close) < 0:
                found = ("inline", p + 1, close, None, close + 1)
        if found is None:
            pos = p + 1
            continue
        yield found[:4]
        pos = found[4]


class _Lines:
    """Line numbers of increasing offsets in one text, counted incrementally."""

    def __init__(self, text: str):
        self.text, self.pos, self.line = text, 0, 1

    def at(self, offset: int) -> int:
        if offset < self.pos:               # never on the way, kept correct regardless
            self.pos, self.line = 0, 1
        self.line += self.text.count("\n", self.pos, offset)
        self.pos = offset
        return self.line


def _markup(text: str) -> list[ClaimText]:
    # Code fences hold code, not claims: blank them out, keeping line numbers.
    spans = fence_spans(text)
    if spans:
        pieces, last = [], 0
        for a, b in spans:
            pieces += [text[last:a], re.sub(r"[^\n]", " ", text[a:b])]
            last = b
        text = "".join(pieces + [text[last:]])
    out = []
    lines = _Lines(text)
    for kind, start, end, env in math_spans(text):
        body = text[start:end]
        if EQUATION.search(update_arrows(body)) is None:   # no relation, no claim (inline math)
            continue
        if kind == "env":
            out += _rows(body, lines.at(start - len(env) - len("\\begin{}")))
            continue
        if LAYOUT.search(body):            # $$\begin{aligned} … \end{aligned}$$: its rows
            out += _rows(body, lines.at(start))
            continue
        line = lines.at(start + len(body) - len(body.lstrip()))
        for claim in split_equations(_clean(body)):
            if EQUATION.search(update_arrows(claim)):       # w^l → w^l − η …: an update
                out.append(ClaimText(line, claim))
    return out


def _rows(body: str, line: int) -> list[ClaimText]:
    r"""Each ``\\``-separated row of an environment, on the line it starts; rows and
    alignment ``&`` are cut at the top level only (a matrix or cases inside a row keeps
    its own)."""
    out = []
    body = LAYOUT.sub("", body)
    lines = _Lines(body)
    for pos, row in _top_level_rows(body):
        start = line - 1 + lines.at(pos) + (len(row) - len(row.lstrip("\n")))
        for claim in split_equations(_clean(row)):
            if EQUATION.search(claim):
                out.append(ClaimText(start, claim))
    return out


NESTING = re.compile(r"\\begin\s*\{[^}]*\}|\\end\s*\{[^}]*\}|\\\\|&")
# Environments inside a display that only lay rows out (split inside equation, aligned
# inside $$…$$): their rows are the display's rows.
LAYOUT = re.compile(r"\\(?:begin|end)\s*\{(?:split|aligned|gathered|alignedat|multlined)\}"
                    r"(?:\s*\{[0-9]*\}|\s*\[[a-z]\])?")
# A row that continues the one before (`& = & …` in eqnarray, `&= …` in align, `+ …` in
# multline), or a row that breaks after an operator: each such row is a link of one chain.
LEADING = re.compile(r"(?:\s|&|\\[,;:! ]|\\q?quad(?![A-Za-z])|\\(?:hphantom|phantom)\s*\{[^{}]*\})*")
OPENS = re.compile(r"(?:=|\u2248|:=|\u2254|\\approx(?![A-Za-z])|\+|-(?!\s*\\end)|\u2212|\*|/|"
                   r"\u00b7|\u00d7|\u2299|\u22c5|\\(?:cdot|times|odot|circ)(?![A-Za-z]))")
CLOSES = re.compile(r"(?:=|\+|-|\u2212|\\(?:cdot|times|odot)|\\left\s*[(\[.]|[(\[])\s*$")


def _top_level_rows(body: str) -> list[tuple[int, str]]:
    r"""(offset, row) of the rows of ``body``: split at ``\\\\`` and with ``&`` dropped
    outside any inner ``\\begin…\\end`` (split and aligned only lay rows out and are
    dropped); a row that starts with ``=`` or an operator (or follows a row that ends
    with one) is joined to the row before it, so ``A &= B \\ &= C`` is one chain.

    >>> _top_level_rows(r"W &= \begin{pmatrix} a \\ b \end{pmatrix} \\ y &= 1")
    [(0, 'W = \\begin{pmatrix} a \\\\ b \\end{pmatrix} '), (44, ' y = 1')]
    >>> _top_level_rows(r"E &= a \\ &= b")
    [(0, 'E = a = b')]
    """
    if LAYOUT.search(body):
        body = LAYOUT.sub("", body)
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
    return _chained(rows)


def _chained(rows: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Continuation rows joined to the row they continue (see ``_top_level_rows``)."""
    out: list[tuple[int, list[str]]] = []
    for start, row in rows:
        lead = LEADING.match(row).end()
        if out and (OPENS.match(row, lead) or CLOSES.search(_closed(out[-1][1][-1]))):
            out[-1][1][-1] = _closed(out[-1][1][-1])
            out[-1][1].append(" " + row[lead:])
        else:
            out.append((start, [row]))
    return [(start, "".join(parts)) for start, parts in out]


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
    kept = [p for p in pieces if EQUATION.search(p) and not CONDITION.match(p)]
    return kept or [math]


# A qualifier after \quad (for l = 2, if z > 0, \forall j): a condition, not a claim.
CONDITION = re.compile(r"(?:\\(?:text|textrm|mathrm)\s*\{\s*(?:for|if|when|with|at)\b|"
                       r"\\forall(?![A-Za-z])|for\b|if\b|\u2200)")


def _closed(row: str) -> str:
    """A row about to be continued: its labels and closing punctuation dropped (its
    leading line breaks kept, for the line number)."""
    return LABEL.sub("", row).rstrip().rstrip(",.;").rstrip()


def _clean(math: str) -> str:
    """One line of math: labels dropped, whitespace collapsed, trailing punctuation cut."""
    math = LABEL.sub("", math)
    return re.sub(r"\s+", " ", math).strip().rstrip(",.;").strip()

