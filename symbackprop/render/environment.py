"""Render a derivation with Jinja templates (all prose and layout live there).

Python hands the templates SymPy expressions and numbers; the ``tex``
filter turns an expression into LaTeX through ``sympy.latex`` with the
notation's symbol names, and ``num`` formats a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path

import jinja2
import mpmath
import sympy as sp

from ..core.derive import Derivation
from ..core.files import template_dirs
from ..core.notation import Notation
from ..numeric.worked import Unrepresentable, Worked
from .sandbox import BoundedLoader, UserSandbox, allow

MAX_FULL_PARAMS = 100     # above this, one representative parameter per layer
MAX_PATHS_SHOWN = 16      # chains with more paths are shown in δ form only


def environment(extra_dir: str | Path | None = None, **options) -> jinja2.Environment:
    """The Jinja environment over the template folders; ``options`` override the settings
    (the LaTeX document uses other delimiters).  A user's template folder is untrusted
    code: it gets the sandbox of ``sandbox.py`` (data only, sizes capped)."""
    dirs = ([Path(extra_dir)] if extra_dir else []) + template_dirs()
    cls = UserSandbox if extra_dir else jinja2.Environment
    loader = BoundedLoader if extra_dir else jinja2.FileSystemLoader
    settings = dict(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                    trim_blocks=True, lstrip_blocks=True)
    return cls(loader=loader([str(d) for d in dirs]), **{**settings, **options})


@dataclass(frozen=True)
class Group:
    """One parameter of the document: a name and its symbols (several when tied)."""

    name: str | None
    symbols: tuple[sp.Symbol, ...]
    gradient: sp.Expr          # Σ over the symbols of δ-form partial derivatives
    frozen: bool = False


allow(Group, ["name", "symbols", "gradient", "frozen"])


def parameter_groups(d: Derivation, notation: Notation, shown) -> list[Group]:
    """The shown parameters grouped by name: a tied name once, with all its symbols."""
    frozen = set(d.network.spec.values.frozen) if d.network.spec.values else set()
    groups, seen = [], set()
    for p in shown:
        name = notation.names.get(p)
        if p in seen or (name is not None and name in seen):
            continue
        syms = [s for s, n in notation.names.items() if n == name] if notation.tied(name or "") else [p]
        seen.update(syms)
        seen.add(name)
        groups.append(Group(name, tuple(syms), sp.Add(*[d.gradient(s) for s in syms]),
                            name in frozen))
    return groups


def shown_parameters(d: Derivation) -> list[sp.Symbol]:
    """Every parameter of a small network; one weight and one bias per layer otherwise."""
    params = list(d.network.parameters)
    if len(params) <= MAX_FULL_PARAMS:
        return params
    return [p for layer in d.layers for p in (layer.W[0, 0], layer.b[0])]


def render_markdown(d: Derivation, notation: Notation, worked: Worked | None = None,
                    templates: str | Path | None = None, only=None, digits: int = 6,
                    **extra) -> str:
    """The Markdown derivation document.

    ``only``: a parameter symbol, or the symbols of one tied name, to write
    that parameter's derivation alone.  ``digits``: significant digits shown.
    ``extra``: more template variables (``figure``: the network picture).
    """
    return render_document(environment(templates), "derivation.md.j2", d, notation, worked,
                           only, digits, **extra)


def render_document(env: jinja2.Environment, template: str, d: Derivation, notation: Notation,
                    worked: Worked | None = None, only=None, digits: int = 6, **extra) -> str:
    """The derivation through ``template`` of ``env`` (Markdown, LaTeX, …)."""
    env.filters["tex"] = notation.tex
    env.filters["num"] = lambda x: _num(x, digits)
    env.filters["prod"] = lambda factors: sp.Mul(*factors)
    env.filters["num_step"] = lambda new, old: _num_step(new, old, digits)
    if isinstance(only, sp.Symbol):
        only = [only]
    params = list(only) if only else shown_parameters(d)
    order = {sym: i for i, sym in enumerate(notation.names)}   # numbered: w1, w2, …
    params.sort(key=lambda p: order.get(p, len(order)))
    small = len(d.network.parameters) <= MAX_FULL_PARAMS
    return env.get_template(template).render(
        d=d, net=d.network, spec=d.network.spec, nt=notation, worked=worked,
        params=params, groups=parameter_groups(d, notation, params), small=small,
        only=params[0] if only else None, max_paths=MAX_PATHS_SHOWN,
        n_params=len(d.network.parameters), digits=digits, **extra)


BEYOND = r"\text{beyond float64}"
BELOW = r"\text{below float64}"


def _num(x, digits: int) -> str:
    """``digits`` significant digits, with LaTeX powers of ten for tiny or huge numbers;
    a value float64 cannot hold says so (with its magnitude when it is known)."""
    if isinstance(x, Unrepresentable) and x.magnitude is not None:    # too large or too small
        return _num(x.magnitude, digits) + r"\ (" + (BEYOND if x != 0 else BELOW) + ")"
    if isinstance(x, Unrepresentable) and x == 0:
        return r"\approx 0\ (" + BELOW + ")"
    if isinstance(x, float) and not math.isfinite(x):
        return (r"\text{not representable in float64}" if math.isnan(x)
                else ("-" if x < 0 else "") + BEYOND)
    if isinstance(x, sp.Basic) and x.is_Rational and _terminates(x, digits):
        return _decimal(x)      # an exact decimal short enough to show in full
    x = float(x) if not isinstance(x, sp.Basic) else x
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}" if isinstance(x, float) else _sympy_g(x, digits)
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return text


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


def _num_step(new, old, digits: int) -> str:
    """An updated value with enough digits that its change from ``old`` shows
    (to two significant digits), however small the step: 0.699975, not 0.7."""
    delta = abs(float(new) - float(old))
    if delta == 0 or float(new) == 0 or not math.isfinite(delta):
        return _num(new, digits)
    need = math.floor(math.log10(abs(float(new)))) - math.floor(math.log10(delta)) + 2
    return _num(new, max(digits, min(need, 17)))
