"""How symbols are displayed: the notation maps internal symbols to LaTeX
and plain-text names.  The derivation itself never depends on it.

Internal names: ``W2_1_3`` (w^2_{13}: to neuron 1 of layer 2 from neuron 3
of layer 1), ``b2_1``, ``z2_1``, ``a2_1``, ``delta2_1``, ``x_1``, ``y_1``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from .network import Network

_NAME = re.compile(r"(W|b|z|a|delta)(\d+)_(\d+)(?:_(\d+))?$|(x|y)_(\d+)$")


@dataclass(frozen=True)
class Notation:
    """Display names for one network.

    ``latex`` maps a symbol to its LaTeX; ``text`` to a plain-text name;
    ``style`` and ``words`` describe the convention for the document.
    """

    style: str
    latex: dict[sp.Symbol, str]
    text: dict[sp.Symbol, str]
    loss: str = "E"
    error: str = r"\delta"
    pre_activation: str = "z"
    activation: str = "a"
    extras: dict[str, str] = field(default_factory=dict)

    def tex(self, expr) -> str:
        """``sympy.latex`` with this notation's symbol names."""
        return sp.latex(expr, symbol_names=self.latex, mul_symbol="dot")

    def name(self, sym: sp.Symbol) -> str:
        return self.text.get(sym, str(sym))


def _sub(*indices: int) -> str:
    """Subscript digits: 13 for (1, 3), 1,13 when an index has two digits."""
    return ("" if all(i < 10 for i in indices) else ",").join(str(i) for i in indices)


def layered(network: Network) -> Notation:
    """The default z^l = W^l a^{l−1} + b^l notation, w^l_{jk} from k to j."""
    latex, text = {}, {}
    single_output = network.output.n_out == 1
    for sym in _all_symbols(network):
        m = _NAME.match(sym.name)
        if m[5]:
            kind, j = m[5], int(m[6])
            if kind == "y" and single_output:
                latex[sym], text[sym] = "y", "y"
            else:
                latex[sym], text[sym] = f"{kind}_{{{j}}}", f"{kind}{j}"
            continue
        kind, l, j, k = m[1], int(m[2]), int(m[3]), m[4]
        head = {"W": "w", "delta": r"\delta"}.get(kind, kind)
        sub = _sub(j, int(k)) if k else str(j)
        latex[sym] = f"{head}^{{{l}}}_{{{sub}}}"
        text[sym] = f"{kind.lower() if kind == 'W' else kind}^{l}_{sub.replace(',', '')}"
    # Generic scalars of the index-form formulas
    for name, tex in (("z", "z"), ("a", "a"), ("y", "y"), ("S", r"\left(\sum_i y_i\right)"),
                      ("a_i", "a_i"), ("a_j", "a_j"), ("KD", r"[i = j]")):
        latex[sp.Symbol(name, real=True)] = tex
    return Notation("layered", latex, text)


def _all_symbols(network: Network):
    yield from network.x
    yield from network.y
    for layer in network.layers:
        yield from layer.W
        yield from layer.b
        yield from layer.z
        yield from layer.a
        yield from layer.delta


STYLES = {"layered": layered}


def make_notation(network: Network) -> Notation:
    """The notation the spec's ``[notation]`` table asks for."""
    from .spec import SpecError, suggest
    style = network.spec.notation.get("style", "layered")
    if style not in STYLES:
        raise SpecError(f"{network.spec.source}: key `notation.style`: unknown style {style!r}."
                        f"{suggest(style, STYLES)} Expected one of: {', '.join(STYLES)}.")
    return STYLES[style](network)
