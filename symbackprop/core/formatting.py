"""The one number formatter of every document, picture and report.

A number is shown to ``digits`` significant digits (an exact decimal that
short is shown in full), as LaTeX (``1.5 \\times 10^{-5}``) or plain text
(``1.5e-05``).  The same value and ``digits`` give the same digits in every
format.  ``-0`` never appears.  Helpers here keep a displayed equation
exact at its displayed precision: ``step`` (an updated value with the
digits that show its change), ``update_digits`` (the gradient's digits
that make ``old − η·grad`` reproduce the shown update), ``product_sign``
(``=`` when the shown factors multiply to the shown product as rounded,
else ``\\approx``).  Lives in core so that render and checker can share it.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation, localcontext

import mpmath
import sympy as sp

BEYOND = r"\text{beyond float64}"
BELOW = r"\text{below float64}"
MAX_DIGITS = 17          # float64 holds 17 significant digits at most


def fmt(x, digits: int = 6, tex: bool = True) -> str:
    """``x`` to ``digits`` significant digits (LaTeX powers of ten when ``tex``).

    A value float64 cannot hold (an object with a ``magnitude``, as
    ``numeric.worked.Unrepresentable``) says so.

    >>> fmt(0.69999970000001), fmt(-0.0), fmt(1.5e-5), fmt(1.5e-5, tex=False)
    ('0.7', '0', '1.5 \\\\times 10^{-5}', '1.5e-05')
    """
    magnitude = getattr(x, "magnitude", False)
    if magnitude is not False:                  # an Unrepresentable
        if magnitude is not None:
            words = BEYOND if float(x) != 0 else BELOW
            return fmt(magnitude, digits, tex) + (rf"\ ({words})" if tex else f" ({_plain(words)})")
        if float(x) == 0:
            return rf"\approx 0\ ({BELOW})" if tex else "≈ 0 (below float64)"
    if isinstance(x, float) and not math.isfinite(x):
        words = r"\text{not representable in float64}" if math.isnan(x) \
            else ("-" if x < 0 else "") + BEYOND
        return words if tex else _plain(words)
    if isinstance(x, sp.Basic) and x.is_Rational and _terminates(x, digits):
        return _decimal(x)      # an exact decimal short enough to show in full
    x = float(x) if not isinstance(x, sp.Basic) else x
    if x == 0:
        return "0"              # also -0.0: -0 never appears
    text = f"{x:.{digits}g}" if isinstance(x, float) else _sympy_g(x, digits)
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}" if tex else f"{mant}e{int(exp):+03d}"
    return "0" if re.fullmatch(r"-?0(\.0*)?", text) else text


def apart(x, y, digits: int = 6) -> tuple[str, str]:
    """Two values as plain text with at least ``digits`` significant digits and as many more
    as it takes to tell them apart (a counterexample's two sides); a side that is not a
    number is shown as it is (None: "undefined").

    >>> apart(0.0024682089703649546, 0.0017277462792554682), apart(0.1234567, 0.1234568)
    (('0.00246821', '0.00172775'), ('0.1234567', '0.1234568'))
    """
    if not all(isinstance(v, (int, float)) or (isinstance(v, sp.Basic) and v.is_number)
               for v in (x, y)):
        return tuple("undefined" if v is None else str(v) for v in (x, y))
    for n in range(digits, MAX_DIGITS + 1):
        shown = fmt(x, n, tex=False), fmt(y, n, tex=False)
        if shown[0] != shown[1]:
            return shown
    return shown


def operand(x, digits: int = 6, tex: bool = True) -> str:
    """A number after an operator: parenthesised when negative (``0.5 - 0.5 \\cdot (-0.0084)``)."""
    text = fmt(x, digits, tex)
    return f"({text})" if text.startswith("-") else text


def step(new, old, digits: int = 6, tex: bool = True) -> str:
    """An updated value with enough digits that its change from ``old`` shows
    (to two significant digits), however small the step: 0.6999997, not 0.7."""
    return fmt(new, step_digits(new, old, digits), tex)


def step_digits(new, old, digits: int = 6) -> int:
    """The significant digits ``step`` shows ``new`` with."""
    try:
        new, old = float(new), float(old)
    except (TypeError, ValueError):
        return digits
    delta = abs(new - old)
    if delta == 0 or new == 0 or not math.isfinite(delta) or not math.isfinite(new):
        return digits
    need = math.floor(math.log10(abs(new))) - math.floor(math.log10(delta)) + 2
    return max(digits, min(need, MAX_DIGITS))


def value_of(text: str) -> Decimal | None:
    """The number a ``fmt`` text shows (``1.5 \\times 10^{-5}`` → 1.5E-5), None if none."""
    m = re.fullmatch(r"\(?(-?[0-9.]+)(?: \\times 10\^\{(-?\d+)\})?\)?", text.strip())
    if not m:
        return None
    try:
        return Decimal(m[1]).scaleb(int(m[2] or 0))
    except InvalidOperation:
        return None


def update_digits(old, lr, grad, new, digits: int = 6) -> int:
    """The fewest significant digits (≥ ``digits``) of ``grad`` with which the shown
    ``old − lr · grad`` rounds to the shown ``new`` (``step`` of new, old)."""
    shown_new = value_of(step(new, old, digits))
    a, eta = value_of(fmt(old, digits)), value_of(fmt(lr, digits))
    if None in (shown_new, a, eta):
        return digits
    for n in range(digits, MAX_DIGITS + 1):
        g = value_of(fmt(grad, n))
        if g is not None and _rounds_to(a - eta * g, shown_new):
            return n
    return MAX_DIGITS


def factor_digits(factors, product, digits: int = 6) -> int:
    """The fewest significant digits (≥ ``digits``) of the factors with which they, as
    shown, multiply to the product shown at ``digits``; ``digits`` when none does (then
    ``product_sign`` writes ≈)."""
    for n in range(digits, MAX_DIGITS + 1):
        if _product_matches(factors, product, n, digits):
            return n
    return digits


def _product_matches(factors, product, n: int, digits: int) -> bool:
    shown = [value_of(fmt(f, n)) for f in factors]
    p = value_of(fmt(product, digits))
    if p is None or None in shown:
        return False
    with localcontext() as ctx:
        ctx.prec = 80
        return _rounds_to(math.prod(shown, start=Decimal(1)), p)


def product_sign(factors, product, digits: int = 6) -> str:
    """``=`` when the factors as shown multiply to the product as shown (rounded to its
    shown digits), else ``\\approx``."""
    shown = [value_of(fmt(f, digits)) for f in factors]
    p = value_of(fmt(product, digits))
    if p is None or None in shown:
        return r"\approx"
    with localcontext() as ctx:
        ctx.prec = 60
        exact = math.prod(shown, start=Decimal(1))
    return "=" if _rounds_to(exact, p) else r"\approx"


def _rounds_to(exact: Decimal, shown: Decimal) -> bool:
    """``exact`` rounded to ``shown``'s last decimal place is ``shown``."""
    if shown == 0:
        return exact == 0
    quantum = Decimal(1).scaleb(shown.as_tuple().exponent)
    with localcontext() as ctx:
        ctx.prec = 80
        return exact.quantize(quantum) == shown or abs(exact - shown) * 2 < quantum


def _plain(tex: str) -> str:
    return re.sub(r"\\text\{([^}]*)\}", r"\1", tex)


def _terminates(q: sp.Rational, digits: int) -> bool:
    """A rational with a decimal expansion of at most ``digits`` significant digits."""
    den = int(q.q)
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    return den == 1 and len(_decimal(q).replace("-", "").replace(".", "").strip("0")) <= digits


def _decimal(q: sp.Rational) -> str:
    with localcontext() as ctx:
        ctx.prec = 200
        return format((Decimal(int(q.p)) / Decimal(int(q.q))).normalize(), "f")


def _sympy_g(x: sp.Basic, digits: int) -> str:
    """``digits`` significant digits of an exact or high-precision SymPy number."""
    with mpmath.workdps(digits + 10):
        return mpmath.nstr(mpmath.mpf(sp.Float(x, digits + 10)), digits)
