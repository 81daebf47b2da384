"""The pieces formulas are built from: errors, ``Partial``, the allow-listed
functions (from symbackprop.core.functions; primes by ``sympy.diff``), numbers as
exact rationals under size caps, and matrix-aware arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp
from sympy.matrices import MatrixBase

from ..core import functions as F
from .names import canon

MAX_DIGITS = 50          # digits of one number literal
MAX_LITERAL_EXP = 100    # |e| in 1.5e-3
MAX_NUM_EXP = 100        # |b| in a^b when a and b are both numbers
MAX_RESULT_DIGITS = 2000
MAX_SYMBOLIC_EXP = 1000
MAX_STEPS = 200_000

MUL = {"*": "star", "\\cdot": "mul", "·": "mul", "\\times": "mul", "×": "mul", "\\ast": "star",
       "∗": "star", ".": "mul", "juxt": "mul", "@": "matmul", "\\odot": "had", "⊙": "had",
       "\\circ": "had", "∘": "had", "/": "div", "\\div": "div"}


class FormulaError(ValueError):
    """A claim that cannot be read: ``position`` (0-based offset in the claim)
    and ``expected`` say where and what would have been understood."""

    def __init__(self, message: str, position: int = 0, expected: str = ""):
        self.message, self.position, self.expected = message, max(0, position), expected
        super().__init__(str(self))

    def __str__(self) -> str:
        tail = f"; expected {self.expected}" if self.expected else ""
        return f"{self.message} (at character {self.position + 1}{tail})"


class FreeIndex(Exception):
    """A generic index letter without a value; ``values`` are the ones that can
    name something where it was met (None: unknown, try every index)."""

    def __init__(self, letter: str, position: int, values: range | None = None):
        super().__init__(letter)
        self.letter, self.position, self.values = letter, position, values


class OutOfRange(Exception):
    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message, self.position = message, position


class Partial(sp.Function):
    """∂of/∂wrt, unevaluated: of and wrt are symbols (``LOSS`` or the network's)."""

    nargs = 2
    is_real = True

    def _latex(self, printer, exp=None):
        of, wrt = (printer._print(a) for a in self.args)
        base = r"\frac{\partial %s}{\partial %s}" % (of, wrt)
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)


class Updated(sp.Function):
    """θ^{new}: the value of a parameter after one gradient-descent step
    (``w_{16}^{new}``, ``W^l_{new}``, the left side of ``θ := …``); the
    checker's truth is θ − η ∂E/∂θ with η the learning rate ``LR``."""

    nargs = 1
    is_real = True

    def _latex(self, printer, exp=None):
        base = r"%s^{\mathrm{new}}" % printer._print(self.args[0])
        return base if exp is None else r"\left(%s\right)^{%s}" % (base, exp)

    def _sympystr(self, printer):
        return "%s_new" % printer._print(self.args[0])


def uses_log_base(expr) -> set:
    """Numeric bases b of logarithms written log_b (log(x)/log(b)) in ``expr``."""
    atoms = expr.atoms(sp.log) if isinstance(expr, sp.Basic) else set()
    return {a.args[0] for a in atoms if a.args[0].is_Number}


# ---- functions ------------------------------------------------------------
def _alpha_leaky(z, alpha):
    return F.leaky_relu(z, alpha)


FUNCTIONS = {   # canonical name → (builder, arguments)
    "sigma": (F.sigmoid, 1), "sigmoid": (F.sigmoid, 1), "exp": (sp.exp, 1),
    "ln": (sp.log, 1), "log": (sp.log, 1), "loge": (sp.log, 1),
    "log10": (lambda x: sp.log(x, 10), 1), "log2": (lambda x: sp.log(x, 2), 1),
    "tanh": (sp.tanh, 1), "relu": (F.relu, 1), "leakyrelu": (_alpha_leaky, 2),
    "elu": (F.elu, 2),
    "softplus": (F.softplus, 1), "softmax": (None, 1), "max": (sp.Max, 2), "sqrt": (sp.sqrt, 1),
    # NumPy spellings (np./numpy. prefixes are dropped before parsing)
    "maximum": (sp.Max, 2), "dot": (None, 2), "matmul": (None, 2), "multiply": (None, 2),
    "sum": (None, 1), "transpose": (None, 1), "outer": (None, 2), "where": (None, 3),
    "square": (lambda x: x ** 2, 1), "abs": (sp.Abs, 1), "power": (None, 2),
    "int64": (None, 1), "float64": (None, 1), "float32": (None, 1), "int32": (None, 1),
    "heaviside": (None, 2), "divide": (None, 2), "subtract": (None, 2), "add": (None, 2),
    # hyperbolic functions (tanh' = sech²), and ζ: softplus as Goodfellow et al. write it
    "sech": (sp.sech, 1), "cosh": (sp.cosh, 1), "sinh": (sp.sinh, 1), "zeta": (F.softplus, 1),
    "identity": (lambda x: x, 1),
}
ARRAY_FUNCTIONS = ("dot", "matmul", "multiply", "sum", "transpose", "outer", "where", "power",
                   "int64", "float64", "float32", "int32", "heaviside", "divide", "subtract",
                   "add")
CASTS = ("int64", "float64", "float32", "int32")
# Functions with a parameter α (the network's, when written with one argument), as written.
SLOPED = {"leakyrelu": "leaky_relu needs its slope: write leaky_relu(z, 0.01)",
          "elu": "elu needs its α: write elu(z, 1)"}


def function_name(head: str, sub: str = "") -> str | None:
    name = (canon(head) + canon(sub)).lower()
    return name if name in FUNCTIONS else None


@dataclass(frozen=True)
class Func:
    """A function name not yet applied: σ, σ', tanh², log₁₀."""

    name: str
    primes: int = 0
    power: sp.Expr = sp.S.One
    diagonal: bool = False          # Σ'(z) (Nielsen): the diagonal matrix of σ'(z_j)
    # what the letter names when no argument follows: CS231n's f_k is the k-th score
    # (f(x) the activation function); None: a function letter only
    value: object = field(default=None, compare=False)


@dataclass(frozen=True)
class DOp:
    """The operator d/d(wrt), waiting for what follows it."""

    wrt: sp.Basic


def is_matrix(v) -> bool:
    return isinstance(v, MatrixBase)


def shrink(v):
    """A 1×1 matrix is its entry."""
    return v[0, 0] if is_matrix(v) and v.shape == (1, 1) else v


@lru_cache(maxsize=256)
def _derivative_of(name: str, primes: int, alpha):
    t = sp.Dummy("t", real=True)
    builder = FUNCTIONS[name][0]
    f = builder(t, alpha) if name in SLOPED else builder(t)
    return t, (sp.diff(f, t, primes) if primes else f)


def undefined(v) -> bool:
    """Does v contain ∞, zoo or nan (1/0, log 0 as written)?"""
    items = list(v) if is_matrix(v) else [v]
    return any(isinstance(e, sp.Basic) and e.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for e in items)


def apply_function(f: Func, args: list, alpha, where: int):
    """f(args), elementwise over matrices; softmax takes a whole vector."""
    builder, nargs = FUNCTIONS[f.name]
    if any(undefined(a) for a in args):
        raise FormulaError(f"the argument of {f.name} is undefined (a division by zero or "
                           "log 0)", where, "a defined argument")
    if f.name in SLOPED and len(args) == 1:
        if alpha is None:
            raise FormulaError(SLOPED[f.name], where, "two arguments")
        args = [args[0], alpha]
    if f.name in ARRAY_FUNCTIONS:
        return _array_function(f, args, where)
    if f.name in ("max", "maximum"):
        if f.primes or len(args) < 2:
            raise FormulaError("max takes two or more numbers", where, "max(0, z)")
        return entrywise(lambda *v: sp.Max(*v) ** f.power, args, where)
    if len(args) != nargs:
        raise FormulaError(f"{f.name} takes {nargs} argument(s), not {len(args)}", where,
                           f"{nargs} argument(s)")
    if f.name == "softmax":
        return _softmax(args[0], f, where)
    if any(is_matrix(a) for a in args[1:]):
        raise FormulaError(f"the second argument of {f.name} must be a number", where, "a number")
    t, g = _derivative_of(f.name, f.primes, args[1] if len(args) > 1 else None)
    one = (lambda e: g.xreplace({t: e}) ** f.power)
    if f.diagonal and is_matrix(args[0]):
        if 1 not in args[0].shape:
            raise FormulaError("Σ'(z) takes a vector", where, "Σ'(z^l)")
        return sp.ImmutableMatrix(sp.diag(*[one(e) for e in args[0]]))
    return args[0].applyfunc(one) if is_matrix(args[0]) else one(args[0])


def _array_function(f: Func, args: list, where: int):
    """np.dot / np.matmul (matrix product; dot of two equal vectors is their inner
    product), np.multiply (elementwise), np.sum (all entries), np.transpose."""
    if f.primes or f.power != 1 or len(args) != FUNCTIONS[f.name][1]:
        raise FormulaError(f"{f.name} takes {FUNCTIONS[f.name][1]} argument(s)", where,
                           f"{f.name}(…)")
    if f.name == "sum":
        return total(args[0])
    if f.name == "transpose":
        return args[0].T if is_matrix(args[0]) else args[0]
    if f.name in CASTS:            # np.int64(z > 0): a mask as numbers
        return args[0]
    if f.name == "where":          # np.where(Z > 0, 1, 0)
        return entrywise(lambda c, p, q: c * p + (1 - c) * q, args, where)
    if f.name == "heaviside":      # np.heaviside(z, h0): 1 for z > 0, h0 at 0
        return entrywise(lambda z, h: sp.Piecewise((0, z < 0), (h, sp.Eq(z, 0)), (1, True)),
                         args, where)
    if f.name == "power":
        if is_matrix(args[1]) or not args[1].is_Number or abs(args[1]) > MAX_SYMBOLIC_EXP:
            raise FormulaError("np.power takes a number as its exponent", where, "np.power(x, 2)")
        return entrywise(lambda v, e: v ** e, args, where)
    a, b = args
    if f.name == "outer":          # np.outer(a, b) = a bᵀ
        column = (lambda v: v.reshape(len(v), 1) if is_matrix(v) else sp.ImmutableMatrix([v]))
        return shrink(sp.ImmutableMatrix(column(a) * column(b).T))
    if f.name == "multiply":
        return multiply(a, "had", b, where)
    if f.name == "divide":       # np.divide(Y, A2): entry by entry (the course's dA^{[L]})
        return entrywise(lambda u, v: u / v, args, where)
    if f.name in ("subtract", "add"):
        return entrywise((lambda u, v: u - v) if f.name == "subtract" else (lambda u, v: u + v),
                         args, where)
    if f.name == "dot" and is_matrix(a) and is_matrix(b) and a.shape == b.shape \
            and a.cols == 1:
        return shrink(a.T * b)
    return multiply(a, "matmul", b, where)


def entrywise(fn, args: list, where: int):
    """fn over the entries of same-shaped matrices, a number standing for every entry
    (np.maximum(0, Z), np.where(Z > 0, 1, 0))."""
    shapes = {a.shape for a in args if is_matrix(a)}
    if not shapes:
        return fn(*args)
    if len(shapes) > 1:
        raise FormulaError("the arguments have different shapes", where, "matching shapes")
    rows, cols = shapes.pop()
    pick = (lambda v, i, j: v[i, j] if is_matrix(v) else v)
    return shrink(sp.ImmutableMatrix(rows, cols,
                                     lambda i, j: fn(*(pick(a, i, j) for a in args))))


def _softmax(v, f: Func, where: int):
    if not is_matrix(v) or min(v.shape) != 1 or f.primes > 1:
        raise FormulaError("softmax takes a vector (a whole layer, e.g. softmax(z^L))", where,
                           "a vector")
    s = F.softmax_layer(list(v))
    if f.primes == 0:        # in the orientation of its argument (a row in the rows layout)
        out = sp.ImmutableMatrix(s).applyfunc(lambda e: e ** f.power)
        return out.T if v.rows == 1 and v.cols > 1 else out
    n = len(s)   # the Jacobian ∂s_i/∂z_j = s_i([i = j] − s_j)
    return sp.ImmutableMatrix(n, n, lambda i, j: s[i] * (int(i == j) - s[j]))


# ---- numbers ----------------------------------------------------------------
def number(text: str, where: int) -> sp.Rational:
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    if len(digits) > MAX_DIGITS:
        raise FormulaError(f"a number with {len(digits)} digits; at most {MAX_DIGITS}", where,
                           f"at most {MAX_DIGITS} digits")
    e = int(exponent) if exponent else 0
    if abs(e) > MAX_LITERAL_EXP:
        raise FormulaError(f"exponent {e} is too large", where,
                           f"an exponent within ±{MAX_LITERAL_EXP}")
    value = sp.Rational(int(whole + frac or "0"), 10 ** len(frac))
    return value * sp.Rational(10) ** e


def power(base, exp, where: int):
    """base^exp under size caps; a matrix base is raised elementwise."""
    if is_matrix(exp):
        raise FormulaError("an exponent must be a number or scalar expression", where, "a scalar")
    if exp.is_Number:
        cap = MAX_NUM_EXP if (not is_matrix(base) and base.is_Number) else MAX_SYMBOLIC_EXP
        if abs(exp) > cap:
            raise FormulaError(f"exponent {exp} is too large", where, f"an exponent within ±{cap}")
        if not is_matrix(base) and base.is_Rational and exp.is_Rational and base != 0:
            size = max(abs(base.p), abs(base.q))
            if abs(exp) * len(str(size)) > MAX_RESULT_DIGITS:
                raise FormulaError("this power of a number is too large", where,
                                   "a smaller number")
    if exp.is_Number and exp < 0 and any(e == 0 for e in (base if is_matrix(base) else [base])):
        raise FormulaError("division by zero (0 to a negative power)", where, "a non-zero base")
    if is_matrix(base):
        return base.applyfunc(lambda e: e ** exp)
    return base ** exp


def sub_string(values: list[int]) -> str:
    """Index values as the notation writes them: 13, or 1,13 with two-digit indices."""
    return ("" if all(0 <= v < 10 for v in values) else ",").join(str(v) for v in values)




# ---- arithmetic on scalars and matrices ------------------------------------
def _shape_error(a, b, what: str, where: int) -> FormulaError:
    return FormulaError(f"cannot {what} a {a.rows}×{a.cols} and a {b.rows}×{b.cols} matrix",
                        where, "matching shapes")


def multiply(a, how: str, b, where: int):
    """a·b: ``mul`` (juxtaposition, \\cdot: matrix product, else elementwise),
    ``star`` (*: elementwise for equal shapes, else matrix product),
    ``matmul`` (@), ``had`` (\\odot), ``div`` (/), ``broadcast`` (* in a NumPy-style
    claim: elementwise with NumPy's broadcasting)."""
    if how == "div":
        return divide(a, b, where)
    if not (is_matrix(a) and is_matrix(b)):
        return shrink(a * b) if is_matrix(a) or is_matrix(b) else a * b
    if how == "broadcast":
        return _broadcast(a, b, where)
    same, chain = a.shape == b.shape, a.cols == b.rows
    if how == "had" or (how == "star" and same) or (how == "mul" and same and not chain):
        if not same:
            raise _shape_error(a, b, "multiply elementwise", where)
        return shrink(a.multiply_elementwise(b))
    if not chain:
        raise _shape_error(a, b, "multiply", where)
    return shrink(a * b)


def _broadcast(a, b, where: int):
    """a * b as NumPy computes it: elementwise, a length-1 row or column stretched
    (a 3×3 matrix times a 3×1 column scales its rows: never a matrix product)."""
    shape = []
    for m, n in zip(a.shape, b.shape):
        if m != n and 1 not in (m, n):
            raise FormulaError(f"NumPy cannot broadcast a {a.rows}×{a.cols} and a {b.rows}×{b.cols} "
                               "array in *; write @ or np.dot for a matrix product", where,
                               "shapes that broadcast")
        shape.append(max(m, n))
    pick = (lambda v, i, j: v[i if v.rows > 1 else 0, j if v.cols > 1 else 0])
    return shrink(sp.ImmutableMatrix(*shape, lambda i, j: pick(a, i, j) * pick(b, i, j)))


def divide(a, b, where: int):
    if any(e == 0 for e in (b if is_matrix(b) else [b])):
        raise FormulaError("division by zero", where, "a non-zero divisor")
    if is_matrix(b):
        if is_matrix(a) and a.shape != b.shape:
            raise _shape_error(a, b, "divide", where)
        if is_matrix(a):
            return shrink(sp.ImmutableMatrix(a.rows, a.cols, lambda i, j: a[i, j] / b[i, j]))
        return shrink(b.applyfunc(lambda e: a / e))
    return shrink(a / b) if is_matrix(a) else a / b


def add(a, sign: int, b, where: int):
    """a ± b; a scalar is added to every entry of a matrix."""
    if is_matrix(a) and is_matrix(b):
        if a.shape != b.shape:
            raise _shape_error(a, b, "add", where)
        return shrink(a + sign * b)
    if is_matrix(a):
        return shrink(a.applyfunc(lambda e: e + sign * b))
    if is_matrix(b):
        return shrink(b.applyfunc(lambda e: a + sign * e))
    return a + sign * b


def negate(v):
    return -v


def norm(v):
    if is_matrix(v):
        return sp.sqrt(sp.Add(*[e ** 2 for e in v]))
    return sp.Abs(v)


def total(v):
    """Σ of all entries (a sum with no index)."""
    return sp.Add(*list(v)) if is_matrix(v) else v
