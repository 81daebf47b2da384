"""Numbers of formulas that float64 cannot evaluate directly, correct to the last digit.

A saturated activation loses its information in float64: σ(40) rounds to
1.0, so the factor 1/(1 − a) of ∂E/∂a divides by zero and a(1 − a) is 0,
although both values (2.35e17 and 4.25e-18) are ordinary float64 numbers.
Here such a formula is evaluated from the pre-activations (exact binary
numbers) with the activations written out (a = σ(z) = 1/(1 + e^{−z})), in
interval arithmetic (``mpmath.iv``) at increasing precision, until the
interval is narrower than the digits asked for.  Every answer is therefore
proven to that accuracy; where no precision up to ``MAX_BITS`` is enough
(|z| beyond about 10,000) the answer is None, and the caller says so.
"""
from __future__ import annotations

import mpmath
import sympy as sp
from mpmath import iv

MAX_BITS = 16384          # working precision at most (about 4,900 digits)
FLOAT64_MAX = mpmath.mpf(2) ** 1024 * (1 - mpmath.mpf(2) ** -53)


class Undetermined(Exception):
    """The interval is too wide at this precision (a branch condition, a division by zero)."""


class Unsupported(Exception):
    """A kind of formula this evaluator does not know."""


def value(expr: sp.Basic, bits: int = 53) -> mpmath.mpf | None:
    """The number ``expr`` (no free symbols) to ``bits`` correct bits, or None when no
    precision up to MAX_BITS pins it down."""
    found = evaluate(expr, bits)
    return found if not isinstance(found, tuple) else None


def evaluate(expr: sp.Basic, bits: int = 53):
    """``value``, or when no precision pins it down, the last bounds (lo, hi) found (None
    when not even those: a division by zero at every precision)."""
    expr = sp.sympify(expr, strict=True).rewrite(sp.exp)
    if expr.free_symbols:
        raise Unsupported(f"free symbols {sorted(map(str, expr.free_symbols))}")
    prec, saved = 64, iv.prec
    last = None
    try:
        while prec <= MAX_BITS:
            iv.prec = prec
            try:
                r = _iv(expr)
                with mpmath.workprec(prec):
                    lo, hi = mpmath.mpf(r.a), mpmath.mpf(r.b)
            except (Undetermined, ZeroDivisionError, ValueError):
                prec *= 2
                continue
            if mpmath.isfinite(lo) and mpmath.isfinite(hi):
                last = (lo, hi)
                with mpmath.workprec(prec):
                    mid = (lo + hi) / 2
                    if lo == hi or hi - lo <= abs(mid) * mpmath.mpf(2) ** -(bits + 2):
                        return mid
            prec *= 2
        return last
    finally:
        iv.prec = saved


def _iv(e):
    if e.is_Integer:
        return iv.mpf(int(e))
    if e.is_Rational:
        return iv.mpf(int(e.p)) / iv.mpf(int(e.q))
    if e.is_Float:
        # as the exact rational it is: iv.mpf of an mpf finer than iv.prec is a point
        # rounded to iv.prec (mpmath 1.3), which made a 50-digit Float good to 64 bits
        return _iv(sp.Rational(e))
    if e is sp.pi:
        return iv.pi
    if e is sp.E:
        return iv.e
    if e.is_Add:
        total = iv.mpf(0)
        for a in e.args:
            total = total + _iv(a)
        return total
    if e.is_Mul:
        product = iv.mpf(1)
        for a in e.args:
            product = product * _iv(a)
        return product
    if e.is_Pow:
        base, exp = e.args
        if exp.is_Integer:
            b = _iv(base)
            if int(exp) < 0 and b.a <= 0 <= b.b:
                raise Undetermined("division by an interval around zero")
            return b ** int(exp)
        if exp == sp.Rational(1, 2):
            return iv.sqrt(_iv(base))
        return iv.exp(_iv(exp) * iv.log(_iv(base)))
    if isinstance(e, sp.exp):
        return iv.exp(_iv(e.args[0]))
    if isinstance(e, sp.log) and len(e.args) == 1:
        x = _iv(e.args[0])
        if x.a <= 0:
            raise Undetermined("logarithm of an interval reaching zero")
        return iv.log(x)
    if isinstance(e, sp.Abs):
        return abs(_iv(e.args[0]))
    if isinstance(e, (sp.Max, sp.Min)):
        parts = [_iv(a) for a in e.args]
        pick = max if isinstance(e, sp.Max) else min
        with mpmath.workprec(iv.prec):
            return iv.mpf([pick(mpmath.mpf(p.a) for p in parts),
                           pick(mpmath.mpf(p.b) for p in parts)])
    if isinstance(e, sp.Piecewise):
        for piece, condition in e.args:
            if _truth(condition):
                return _iv(piece)
        raise Unsupported("no branch of a Piecewise holds")
    raise Unsupported(type(e).__name__)


def _truth(c) -> bool:
    if c is sp.true:
        return True
    if c is sp.false:
        return False
    if isinstance(c, sp.And):
        return all(_truth(a) for a in c.args)
    if isinstance(c, sp.Or):
        return any(_truth(a) for a in c.args)
    if isinstance(c, sp.Not):
        return not _truth(c.args[0])
    if isinstance(c, sp.core.relational.Relational):
        d = _iv(c.lhs) - _iv(c.rhs)
        with mpmath.workprec(iv.prec):
            lo, hi = mpmath.mpf(d.a), mpmath.mpf(d.b)
        if isinstance(c, (sp.LessThan, sp.StrictLessThan)):
            strict = isinstance(c, sp.StrictLessThan)
            if hi < 0 or (hi <= 0 and not strict):
                return True
            if lo > 0 or (lo >= 0 and strict):
                return False
        elif isinstance(c, (sp.GreaterThan, sp.StrictGreaterThan)):
            strict = isinstance(c, sp.StrictGreaterThan)
            if lo > 0 or (lo >= 0 and not strict):
                return True
            if hi < 0 or (hi <= 0 and strict):
                return False
        elif isinstance(c, sp.Eq) and lo == hi:
            return lo == 0
        raise Undetermined("a branch condition at this precision")
    raise Unsupported(type(c).__name__)


FLOAT64_TINY = mpmath.mpf(2) ** -1075   # below half the smallest subnormal: rounds to 0


def beyond_float64(v: mpmath.mpf) -> bool:
    """Too large for float64, or so small (and not 0) that it would round to 0."""
    return abs(v) > FLOAT64_MAX or 0 < abs(v) < FLOAT64_TINY
