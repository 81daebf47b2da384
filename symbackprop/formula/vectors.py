r"""Free-standing calculus over a vector with indices: ``\mathrm{softmax}(z)_i``,
``\frac{\partial}{\partial z_i}\log\sum_j e^{z_j}``, ``\delta_{ij}``.

Without a spec a vector has no size, so the checker reads such a claim for vectors of
a few concrete sizes (``SIZES``) and needs it to hold at each: in a scope with
``vector_size`` n, a one-letter name with an index subscript (``z_i``, ``z_2``) is entry
i of the vector z = (z_0, …, z_{n−1}) (an open letter runs over the n entries, so the
claim is a family and a ``\sum_j`` runs over them), the letter alone is the whole vector
when the claim also writes it with an index or as softmax's argument, and ``\delta_{ij}`` with two index letters
is the Kronecker delta.  Entries count from 1 (``\sum_{j=1}^{n}``), ``(v)_i`` too.
"""
from __future__ import annotations

import re

import sympy as sp

from .grammar import Node
from .names import INDEX_LETTERS, canon
from .ops import FreeIndex, OutOfRange

SIZES = (2, 3, 4)          # the sizes a free-standing vector claim is checked at


def _entry(head: str, j: int) -> sp.Symbol:
    return sp.Symbol(f"{head}_{j}", real=True)


def sized_name(ev, head: str, subs: str, sub: Node | None, sup: Node | None):
    """A name read in a sized free-standing scope (see the module docstring), or None
    when it is not one of these (the caller reads it as a plain free variable)."""
    n = ev.scope.vector_size
    if sup is not None or not n:
        return None
    if sub is None:
        if len(head) == 1 and head.isalpha() and not subs and re.search(
                r"(?<![A-Za-z\\])" + head + r"\s*_|softmax\s*\}?\s*(?:\\left)?\(\s*" + head +
                r"\s*(?:\\right)?\)", ev.text):
            return sp.ImmutableMatrix([_entry(head, j) for j in range(1, n + 1)])
        return None
    letters = canon(ev.src(sub)).replace(",", "")
    if head == "delta":
        return _kronecker(ev, sub, letters)
    if len(head) != 1 or not head.isalpha() or not (letters in INDEX_LETTERS or letters.isdigit()):
        return None
    values = ev.indices(sub, open_letters=True)
    if not values or len(values) != 1:
        return None
    if isinstance(values[0], tuple):
        raise FreeIndex(values[0][0], sub.start, range(1, n + 1))
    if not 1 <= values[0] <= n:
        raise OutOfRange(f"{head}_{values[0]} is not an entry of a vector of {n} "
                         "(entries count from 1)", sub.start)
    return _entry(head, values[0])


def _kronecker(ev, sub: Node, letters: str):
    """δ_{ij}: 1 when the two indices are equal, else 0 (open letters run over 1..n)."""
    if len(letters) != 2 or not all(c in INDEX_LETTERS for c in letters):
        return None
    values = ev.indices(sub, open_letters=True)
    if not values or len(values) != 2:
        return None
    for v in values:
        if isinstance(v, tuple):
            raise FreeIndex(v[0], sub.start, range(1, ev.scope.vector_size + 1))
    return sp.Integer(int(values[0] == values[1]))


def needs_size(message: str, text: str) -> bool:
    """Does a free-standing claim need a vector size (the reading without one failed on
    a softmax or a sum over an index, it writes a Kronecker δ_{ij}, or a letter both
    alone and with an index: ∂(w^T x)/∂w_i)?"""
    return message.startswith(("softmax takes a vector", "a sum over an index needs")) or \
        re.search(r"\\delta\s*_\s*\{?\s*[ijklm]\s*,?\s*[ijklm]\s*\}?", text) is not None or \
        any(re.search(r"(?<![A-Za-z\\])" + c + r"(?![A-Za-z])(?!\s*_)", text)
            for c in set(INDEXED.findall(text)))


# a one-letter name with an index letter as its subscript: z_i, w_{j}
INDEXED = re.compile(r"(?<![A-Za-z\\])([A-Za-z])\s*_\s*\{?\s*[ijklm](?![A-Za-z0-9])")
