r"""Sums over the examples of a batch: Nielsen's ``C = \frac{1}{2n}\sum_x \|y(x) -
a^L(x)\|^2``, the course's ``J = -\frac{1}{m}\sum_{i=1}^{m}(y^{(i)}\log a^{[2](i)} + …)``
and ``\frac{1}{m}\sum_i \mathcal{L}(\hat{y}^{(i)}, y^{(i)})``.

A sum is over the examples when its letter is written as an example index in the claim:
an argument ``y(x)``, ``a^L(x)`` or a parenthesised superscript ``y^{(i)}``,
``a^{[2](i)}``.  Its body is one example's formula (``y(x)`` is y, ``C_x`` and
``\mathcal{L}(ŷ^{(i)}, y^{(i)})`` one example's loss); the sum itself is the batch's
sum of that formula, which only the batch check (``checker/batch.py``) evaluates: the
reader returns the body, read with ``Scope.example`` set to the letter, and a claim
with such a sum is checked at batches, never at one example.
"""
from __future__ import annotations

import re
from contextvars import ContextVar

# \sum_x, \sum_{i=1}^{m}, \sum\limits_{i}, ∑_i: the letter a sum runs over
PER_EXAMPLE = ("i", "x", "n")     # the letters of one example's loss: C_x, L_i (E_o is an output's)
_SUM = re.compile(r"(?:\\sum|\u2211)\s*(?:\\(?:no)?limits\s*)?_\s*\{?\s*([A-Za-z])\s*(?:=\s*1\s*)?\}?"
                  r"(?:\s*\^\s*\{?\s*([A-Za-z0-9]+)\s*\}?)?")


def _as_example(text: str, letter: str) -> bool:
    """Is ``letter`` written as an example index in ``text`` (y(x), a^{[2](i)}, y^{(i)},
    the loss of one example C_x, L_i)?"""
    L = re.escape(letter)
    argument = r"[A-Za-z0-9}\]]\s*\(\s*" + L + r"\s*\)"
    superscript = r"\^\s*\{[^{}]*\(\s*" + L + r"\s*\)[^{}]*\}|\^\s*\(\s*" + L + r"\s*\)"
    heads = "[CLJE]" if letter == "n" else "[CLJ]"       # Bishop's E_n = ½ Σ_k (y_nk − t_nk)²
    loss = r"(?<![A-Za-z\\^_{])" + heads + r"\s*_\s*\{?\s*" + L + r"\s*\}?(?![A-Za-z0-9])"
    label = r"_\s*\{\s*y\s*_\s*\{?\s*" + L + r"\s*\}?\s*\}"    # p_{y_i}: example i's class
    return re.search(argument, text) is not None or re.search(superscript, text) is not None \
        or (letter in PER_EXAMPLE and (re.search(loss, text) is not None
                                       or re.search(label, text) is not None))


def example_letters(text: str) -> set[str]:
    """The letters of the sums in ``text`` that run over the examples (upper bound m, n
    or none)."""
    if "sum" not in text and "\u2211" not in text:
        return set()
    return {m[1] for m in _SUM.finditer(text)
            if (m[2] is None or m[2] in ("m", "n", "N")) and _as_example(text, m[1])}


def example_sum(text: str) -> bool:
    """Does ``text`` sum over the examples (a batch formula)?"""
    return bool(example_letters(text))


# set while a claim is read: the number of the one example it is about (a^{[2](2)}, L_1 on
# a spec with several examples), and whether it names one example's loss by a letter (L_i)
EXAMPLE_NUMBER: ContextVar[int | None] = ContextVar("example_number", default=None)
EXAMPLE_LOSS: ContextVar[bool] = ContextVar("example_loss", default=False)


def numbered_example(k: int, count: int, where: int, error) -> None:
    """Record that the claim is about example ``k`` of the spec's ``count``; ``error``
    (FormulaError) when there is no such example or the claim names two."""
    if not 1 <= k <= count:
        raise error(f"({k}): the spec has {count} example{'s' if count != 1 else ''} "
                    f"(1 to {count})", where, f"an example from 1 to {count}")
    seen = EXAMPLE_NUMBER.get()
    if seen is not None and seen != k:
        raise error(f"examples {seen} and {k} in one claim: a claim is checked at one example",
                    where, "one example")
    EXAMPLE_NUMBER.set(k)
