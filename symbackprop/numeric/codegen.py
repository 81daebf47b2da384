"""Export a derivation as a standalone Python/NumPy module (``symbackprop codegen``).

SymPy's ``NumPyPrinter`` prints the derivation's local pieces (f_l, f_l',
the loss term, δ^L) with one scalar symbol standing for a whole array; the
module layout and the layer loop, unrolled layer by layer with the
derivation's equations as comments, live in ``templates/gradients.py.j2``.
The generated module imports only NumPy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import jinja2
import sympy as sp
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

from ..core.derive import Derivation
from ..core.files import template_dirs
from ..core.program import Edge, Program
from ..core.symbols import A, LOG1MA, LOGA, S, Y
from .vectorised import branch_safe, stable_delta

# The generated module's name for S = Σ_i y_i (softmax + cross-entropy): printing only.
S_PRINTED = sp.Symbol("s", real=True)


class ModulePrinter(NumPyPrinter):
    """NumPy code as a person writes it: ``np.exp``, ``1/a``, our ``sigmoid``."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": True})

    def _module_format(self, fqn, register=True):
        fqn = super()._module_format(fqn, register)
        return "np." + fqn[len("numpy."):] if fqn.startswith("numpy.") else fqn

    def _print_Pow(self, expr, rational=False):
        # 1/x rather than NumPy's x**(-1.0): cheaper, and the way it is written by hand
        if expr.exp.is_Integer and expr.exp.is_negative:
            denominator = sp.Pow(expr.base, -expr.exp, evaluate=False) if expr.exp != -1 else expr.base
            return "1/" + self.parenthesize(denominator, 1000)
        return super()._print_Pow(expr, rational=rational)

    def _print_sigmoid(self, expr):
        return f"sigmoid({self._print(expr.args[0])})"

    def _print_softplus(self, expr):
        return f"np.logaddexp(0, {self._print(expr.args[0])})"

    def _print_softplus_ratio(self, expr):
        return f"softplus_ratio({self._print(expr.args[0])})"

    def _print_Min(self, expr):
        # branch_safe's clamp min(z, c): np.minimum, not functools.reduce over a list
        return self._pairwise("np.minimum", expr.args)

    def _print_Max(self, expr):
        return self._pairwise("np.maximum", expr.args)

    def _pairwise(self, fn, args):
        code = self._print(args[0])
        for arg in args[1:]:
            code = f"{fn}({code}, {self._print(arg)})"
        return code


class MathPrinter(StrPrinter):
    """The equations in comments and docstrings: SymPy's str, but a piecewise function
    as a Python conditional (``0 if z <= 0 else z``), not a ``Piecewise((…))`` repr."""

    def _print_Piecewise(self, expr):
        *branches, (last, cond) = expr.args
        text = self._print(last) if cond == sp.true else \
            f"{self._print(last)} if {self._print(cond)} else nan"
        for value, c in reversed(branches):
            text = f"{self._print(value)} if {self._print(c)} else {text}"
        return text


def math_text(expr) -> str:
    """``expr`` as the generated module's comments write it.

    >>> z = sp.Symbol("z")
    >>> math_text(sp.Piecewise((0, z <= 0), (z, True)))
    '0 if z <= 0 else z'
    >>> math_text(sp.Piecewise((0.01*z, z <= 0), (z, True)).diff(z))
    '0.01 if z <= 0 else 1'
    """
    return MathPrinter().doprint(expr)


@dataclass(frozen=True)
class Piece:
    """One printed formula: NumPy code, and the equation for the comment."""

    code: str
    math: str
    constant: bool


def piece(expr: sp.Expr) -> Piece:
    """The code computes ``branch_safe(expr)`` (no overflow in a branch not taken); the
    comment shows ``expr`` as derived."""
    return Piece(ModulePrinter().doprint(branch_safe(expr)), math_text(expr), not expr.free_symbols)


@dataclass(frozen=True)
class LayerPieces:
    index: int
    n_in: int
    n_out: int
    activation: str
    f: Piece | None          # None: softmax
    fprime: Piece | None


def layer_pieces(p: Program) -> list[LayerPieces]:
    """f and f' of every node, printed."""
    out = []
    for n in p.nodes:
        n_in = sum(p.size(e.source) for e in n.inputs)
        if n.activation.layerwise:
            out.append(LayerPieces(n.index, n_in, n.size, "softmax", None, None))
            continue
        out.append(LayerPieces(n.index, n_in, n.size, n.activation.name,
                               piece(n.local.f), piece(n.local.slope)))
    return out


def loss_pieces(p: Program) -> dict:
    """The loss term (logs of the outputs as inputs), ∂E/∂a and δ^L."""
    loss_term = p.loss.term(A, Y)
    term = loss_term.subs(sp.log(1 - A), LOG1MA).subs(sp.log(A), LOGA)
    scale = sp.Rational(1, p.output.size) if p.loss.mean else sp.S.One
    closed = stable_delta(p)
    softmax_ce = closed is not None and p.output.activation.layerwise
    return {"term": piece(term), "term_math": math_text(loss_term), "mean": p.loss.mean,
            "needs_logs": bool(term.free_symbols & {LOGA, LOG1MA}),
            "dterm": piece(sp.diff(loss_term, A) * scale),
            "delta": None if closed is None else piece(closed.subs(S, S_PRINTED)),
            "softmax_ce": softmax_ce}


@dataclass(frozen=True)
class Gradient:
    """One gradient equation, printed: ∂E/∂name = Σ δ (a_src)ᵀ (a weight) or Σ δ (a bias)."""

    name: str
    pairs: tuple[tuple[str, str | None], ...]   # (δ variable, a variable or None)
    weight: bool


def gradients(p: Program) -> list[Gradient]:
    return [Gradient(e.out, tuple((t.var, s) for t, s in zip(e.terms, e.sources)),
                     any(s is not None for s in e.sources)) for e in p.gradients]


def math_name(name: str) -> str:
    """A program variable or parameter as the comments write it: W2 → W^2, d2 → delta^2."""
    found = NUMBERED.fullmatch(name)
    if found is None:
        return name
    head, index = found.groups()
    return f"{'delta' if head == 'd' else head}^{index}"


NUMBERED = re.compile(r"([A-Za-z_]+?)([0-9]+)")


def docstring_text(value) -> str:
    r"""``value`` written so that inside a triple-quoted string literal it reads back as
    itself: backslashes and double quotes escaped, every unprintable character (line
    breaks, control characters, lone surrogates of an undecodable file name) as a ``\x``,
    ``\u`` or ``\U`` escape.  User input (the spec's path, its name) can then neither end
    the docstring nor keep the module from compiling.

    >>> print(docstring_text('x' + '"' * 3 + '+__import__("os").system("id")' + "\\n" + "\n"))
    x\"\"\"+__import__(\"os\").system(\"id\")\\n\n
    """
    out = []
    for ch in str(value):
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def _environment() -> jinja2.Environment:
    """Templates of an installed wheel (symbackprop/templates) or of a checkout (../templates).
    ``doc`` escapes a value for a docstring; ``py`` writes a Python literal (repr); ``m``
    writes a program name the way the comments write the math."""
    dirs = [str(d) for d in template_dirs()]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(dirs), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["doc"] = docstring_text
    env.filters["py"] = repr
    env.filters["m"] = math_name
    return env


def generate(d: Derivation, source: str = "", slots: dict | None = None,
             frozen: tuple[str, ...] = ()) -> str:
    """The text of a standalone module computing forward, loss, gradients and an update.

    ``slots`` (the notation's name → [(array, index), ...]) and ``frozen`` make the
    generated ``update`` sum the gradient of a tied name over its places and keep
    frozen names fixed, as ``symbackprop eval`` does.

    >>> from symbackprop.core.spec import parse_spec
    >>> from symbackprop.core.network import build_network
    >>> from symbackprop.core.derive import derive
    >>> text = generate(derive(build_network(parse_spec('inputs = 1\\nloss = "half_sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"'))))
    >>> "def gradients(params, X, Y):" in text and "import numpy as np" in text
    True
    """
    spec = d.network.spec
    return generate_program(d.program, spec.name, source or spec.source, spec.batch,
                            tied=_places({n: p for n, p in (slots or {}).items() if len(p) > 1}),
                            frozen=_places({n: (slots or {})[n] for n in frozen}))


def generate_program(p: Program, name: str, source: str = "", batch: str = "mean",
                     tied: dict | None = None, frozen: dict | None = None) -> str:
    """The module of any program (``generate`` is that of a spec's network): the forward,
    backward and gradient equations printed one line each, in the program's order."""
    layers = layer_pieces(p)
    chain = all(n.inputs == (Edge(n.index - 1, f"W{n.index}"),) and n.bias == f"b{n.index}"
                for n in p.nodes)
    return _environment().get_template("gradients.py.j2").render(
        name=name, source=source, batch=batch, sizes=(p.n_inputs, *(n.size for n in p.nodes)),
        layers=layers, L=p.output.index, loss=loss_pieces(p), output=p.output.activation.name,
        program=p, chain=chain, listing=str(p).splitlines(),
        backs={e.node: e for e in p.backward if e.op == "back"},
        params=[n for n, _ in p.params], grads=gradients(p), tied=tied or {}, frozen=frozen or {})


def _places(table: dict) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """Plain Python values (str, tuples of int) for printing with repr in the template."""
    return {str(name): [(str(key), tuple(int(i) for i in index)) for key, index in places]
            for name, places in table.items()}
