"""How wide a piece of LaTeX is on the page, and how to break a long display into lines.

One estimate for every format: the LaTeX document breaks its aligned displays with it,
and the Markdown/HTML document its KaTeX ``aligned`` blocks, so nothing runs off the page
or into a scroll box.
"""
from __future__ import annotations

import re

LINE_WIDTH = 66          # visible characters of one display line on the A4 page (and the HTML page)


def visible_width(tex: str) -> int:
    """A rough count of the characters a piece of LaTeX shows, on the generous side:
    commands and braces drop out, a fraction is as wide as its wider part, an operator
    with its spaces counts 2."""
    ops = len(re.findall(r"\\cdot|[-+=]", tex))
    flat = tex
    while True:         # innermost groups first: x^{3} → x^3, then \frac{a}{b} → the wider
        new = re.sub(r"([_^])\{([^{}]*)\}", r"\1\2", flat)
        new = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}",
                     lambda m: max(m[1], m[2], key=_chars), new)
        if new == flat:
            break
        flat = new
    return _chars(flat) + ops + 2


def _chars(tex: str) -> int:
    shown = re.sub(r"\\(left|right|cdot|partial|text|begin|end|cases)\b|[{}^_&]", "", tex)
    return len(re.sub(r"\\[a-zA-Z]+", "x", shown).replace(" ", ""))


def lines(pieces, width: int = LINE_WIDTH) -> list[list[str]]:
    """Group LaTeX pieces (terms, factors) into lines of at most ``width`` visible characters."""
    out, used = [[]], 0
    for piece in pieces:
        w = visible_width(piece)
        if out[-1] and used + w > width:
            out.append([])
            used = 0
        out[-1].append(piece)
        used += w
    return out
