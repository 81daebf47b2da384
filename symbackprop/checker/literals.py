"""Numbers as written: rounding, the precision of rounded literals, digit diagnoses.

A numeric claim ``… = 0.7935`` is right when the true value rounds to the
number as written, to its decimal places.  A side that is arithmetic on
rounded numbers (``0.8035 · (1 − 0.8035)``) is right when the true value is
within the rounding error those literals carry (first-order propagation of
half a unit in each literal's last place).
"""
from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache

import sympy as sp

MAX_LITERALS = 20
LITERAL = re.compile(r"(?<![\w.])(\d*\.\d+|\d+\.)(?![\w.])")


def to_decimal(v) -> Decimal:
    """``v`` (a SymPy number, float, int or Decimal) as a Decimal of 35 digits."""
    try:
        return _to_decimal(type(v), v)
    except TypeError:                       # unhashable: convert without the cache
        return _to_decimal.__wrapped__(type(v), v)


@lru_cache(maxsize=1 << 16)
def _to_decimal(kind: type, v) -> Decimal:
    # cached: the same true values and mutations are compared with many claimed numbers
    # (the type is in the key, so equal values of different types never share an entry)
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(str(sp.Float(v, 35)))


def rounds_to(true, written, places: int) -> bool:
    """Does ``true`` round to ``written`` at ``places`` decimal places?"""
    q = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = 60
        return to_decimal(true).quantize(q, ROUND_HALF_EVEN) == to_decimal(written).quantize(q)


def rounded(true, places: int) -> str:
    """``true`` written with ``places`` decimals."""
    q = Decimal(1).scaleb(-places)
    with localcontext() as ctx:
        ctx.prec = 60
        v = to_decimal(true).quantize(q, ROUND_HALF_EVEN)
    return format(abs(v) if v.is_zero() else v, "f")     # 0.0000000, not 0E-7 or -0.0


def decimal_places(q: sp.Rational, most: int = 30) -> int:
    """The fewest decimal places that write ``q`` exactly (``most`` if none do).

    >>> decimal_places(sp.Rational("1.05")), decimal_places(sp.Integer(0)), decimal_places(sp.Rational(1, 3))
    (2, 0, 30)
    """
    for places in range(most):
        if (q * 10 ** places).is_integer:
            return places
    return most


def rounding_error(text: str, evaluate, exact=frozenset()) -> float:
    """Half a unit in the last place of each decimal literal of ``text``, propagated
    to first order: ``evaluate(text)`` is re-run with each literal nudged (the parsed
    expression has its arithmetic already folded into one number).  Literals equal
    to a number of ``exact`` (the spec's given values: x, y, parameters, η) are
    taken as exact, not rounded.

    >>> f = lambda t: sp.Rational(t.split(" + ")[0]) + sp.Rational(t.split(" + ")[1])
    >>> round(rounding_error("0.8 + 0.0014", f), 8)      # ±0.05 and ±0.00005
    0.05005
    >>> rounding_error("0.8 + 0.0014", f, {sp.Rational("0.8")})
    5e-05
    """
    base = evaluate(text)
    if base is None:
        return 0.0
    total = 0.0
    for m in list(LITERAL.finditer(text))[:MAX_LITERALS]:
        if sp.Rational(m.group(0)) in exact:
            continue
        places = len(m.group(0).partition(".")[2])
        step = sp.Rational(1, 10 ** (places + 3))
        nudged = sp.Rational(m.group(0)) + step
        moved = evaluate(text[:m.start()] + _decimal_text(nudged) + text[m.end():])
        if moved is None:
            return float("inf")
        total += abs(float((moved - base) / step)) * 0.5 * 10.0 ** -places
    return total


def _decimal_text(q: sp.Rational) -> str:
    with localcontext() as ctx:
        ctx.prec = 60
        return format(Decimal(int(q.p)) / Decimal(int(q.q)), "f")


def digits_diagnosis(true, written, places: int) -> str:
    """Why ``written`` is not ``true`` to ``places`` decimals: right to fewer, or wrong."""
    t, w = to_decimal(true), to_decimal(written)
    # right to k places: within half a unit there, and both round alike to a nonzero number
    k = max((p for p in range(1, places)
             if abs(t - w) <= Decimal(5).scaleb(-p - 1) and _round(t, p) == _round(w, p) != 0),
            default=None)
    truncated = _truncated(true, places) == to_decimal(written).quantize(Decimal(1).scaleb(-places))
    if truncated:
        return (f"a number right to fewer digits than shown: truncated rather than rounded "
                f"(the true value {rounded(true, places + 3)} rounds to {rounded(true, places)})")
    if k is not None and k >= max(1, (places + 1) // 2):
        return (f"a number right to fewer digits than shown: right to {k} decimal "
                f"place{'s' if k != 1 else ''}, not the {places} shown (the true value is "
                f"{rounded(true, places + 2)})")
    return f"a wrong number: the true value is {rounded(true, max(places, 4) + 2)}"


def _round(v: Decimal, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return v.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)


def _truncated(true, places: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return to_decimal(true).quantize(Decimal(1).scaleb(-places), ROUND_DOWN)
