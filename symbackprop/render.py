"""Render a derivation with Jinja templates (all prose and layout live there).

Python hands the templates SymPy expressions and numbers; the ``tex``
filter turns an expression into LaTeX through ``sympy.latex`` with the
notation's symbol names, and ``num`` formats a number.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import sympy as sp

from .derive import Derivation
from .notation import Notation
from .numeric import Evaluation

MAX_FULL_PARAMS = 100     # above this, one representative parameter per layer
MAX_PATHS_SHOWN = 16      # chains with more paths are shown in δ form only


def template_dirs() -> list[Path]:
    """Installed wheel: symbackprop/templates; source checkout or editable: ../templates."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "templates", here.parent / "templates") if d.is_dir()]


def environment(extra_dir: str | Path | None = None) -> jinja2.Environment:
    dirs = ([Path(extra_dir)] if extra_dir else []) + template_dirs()
    return jinja2.Environment(loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
                              undefined=jinja2.StrictUndefined, autoescape=False,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Worked:
    """The numbers of the worked example (first example of the spec)."""

    evaluation: Evaluation
    params: dict[str, np.ndarray]
    updated: dict[str, np.ndarray]
    learning_rate: float
    numbers: dict[sp.Symbol, float]
    updated_numbers: dict[sp.Symbol, float]
    target_sum: float

    def value(self, expr) -> float:
        """An expression of network symbols, evaluated at the example's numbers."""
        return float(sp.sympify(expr).xreplace(self.numbers))


def worked_example(d: Derivation, params, evaluation: Evaluation, Y, updated, lr) -> Worked:
    """Collect the numbers of the first example, keyed by network symbol."""
    numbers: dict[sp.Symbol, float] = {}
    new: dict[sp.Symbol, float] = {}
    net = d.network
    numbers.update(zip(net.x, evaluation.a[0][:, 0]))
    numbers.update(zip(net.y, np.asarray(Y, float)[:, 0]))
    for layer in net.layers:
        l = layer.index
        numbers.update(zip(layer.W, params[f"W{l}"].ravel()))
        numbers.update(zip(layer.b, params[f"b{l}"]))
        numbers.update(zip(layer.z, evaluation.z[l - 1][:, 0]))
        numbers.update(zip(layer.a, evaluation.a[l][:, 0]))
        numbers.update(zip(layer.delta, evaluation.delta[l - 1][:, 0]))
        new.update(zip(layer.W, updated[f"W{l}"].ravel()))
        new.update(zip(layer.b, updated[f"b{l}"]))
    return Worked(evaluation, params, updated, lr, {k: float(v) for k, v in numbers.items()},
                  {k: float(v) for k, v in new.items()}, float(np.asarray(Y, float)[:, 0].sum()))


def shown_parameters(d: Derivation) -> list[sp.Symbol]:
    """Every parameter of a small network; one weight and one bias per layer otherwise."""
    params = list(d.network.parameters)
    if len(params) <= MAX_FULL_PARAMS:
        return params
    return [p for layer in d.layers for p in (layer.W[0, 0], layer.b[0])]


def render_markdown(d: Derivation, notation: Notation, worked: Worked | None = None,
                    templates: str | Path | None = None, only: sp.Symbol | None = None,
                    digits: int = 6) -> str:
    """The Markdown derivation document."""
    env = environment(templates)
    env.filters["tex"] = notation.tex
    env.filters["num"] = lambda x: _num(x, digits)
    params = [only] if only is not None else shown_parameters(d)
    small = len(d.network.parameters) <= MAX_FULL_PARAMS
    return env.get_template("derivation.md.j2").render(
        d=d, net=d.network, spec=d.network.spec, nt=notation, worked=worked,
        params=params, small=small, only=only, max_paths=MAX_PATHS_SHOWN,
        n_params=len(d.network.parameters), digits=digits)


def _num(x, digits: int) -> str:
    """``digits`` significant digits, with LaTeX powers of ten for tiny or huge numbers."""
    x = float(x)
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mant, exp = text.split("e")
        return rf"{mant} \times 10^{{{int(exp)}}}"
    return text
