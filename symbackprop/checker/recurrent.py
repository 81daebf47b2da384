"""``check`` on a recurrent spec (issue #19): BPTT claims in matrix form, read and judged.

A claim is parsed by the formula grammar (``formula.reader.parse_tree``) and read here
in the recurrence's names: ``x_t``, ``h_t`` (``h^{(t)}``), ``z_t``, ``o_t``, ``\\hat y_t``,
``y_t``, ``\\delta_t``, ``\\delta^y_t``; the arrays ``W`` (``W_{xh}``), ``U`` (``W_{hh}``),
``b`` (``b_h``), ``V`` (``W_{hy}``), ``c`` (``b_y``); ``\\partial E / \\partial θ`` for a
gradient (also of ``h_t``, ``z_t``, ``o_t``); ``\\sum_{t=1}^{T}``, ``f``, ``f'``, ``\\tanh``,
``\\sigma``, ``diag``, ``^T``/``^\\top``, ``\\odot``.  A step index is ``t``, ``T``, a
number, or one of them ± a number; a claim with a free ``t`` holds at every step.

Both sides are evaluated in float64 at test points: random networks with the spec's
activations, loss and outputs (per step or last), a hidden size unlike the input and
output sizes (so that a swapped array is a shape error, never a wrong number), every
other quantity its true value (δ_{t+1} the true δ_{t+1}, δ_{T+1} = 0).  Full BPTT:
∂E/∂θ is the derivative of E.  Equal everywhere: ``correct``; a difference beyond
rounding: ``incorrect`` with the step and numbers, named by the first mutation of the
truth that equals the claim (the sum over time cut to one step, the recurrent term
left out of δ_t, a time index off by one, f′ at the wrong step); anything not read
with certainty (a name, a shape, a transposed layout): ``unparseable`` and why.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import sympy as sp

from ..core.bptt import derive_recurrent
from ..core.symbols import A, Z
from ..formula.claims import extract
from ..formula.grammar import Node
from ..formula.ops import FormulaError
from ..formula.reader import parse_tree
from ..numeric.recurrent import compile_recurrent, evaluate_recurrent
from ..numeric.vectorised import MODULES

T_DEFAULT = 4
MAX_T = 12
POINTS = 3
RTOL = 1e-9
MAX_POWER = 4
MAX_STEPS_EVALUATED = 20_000     # node evaluations per side and step: nested sums stay bounded

NAMES = {"x": "x", "h": "h", "z": "z", "o": "o", "y": "y", "yhat": "yhat", "\u0177": "yhat",
         "\\hat{y}": "yhat", "\\widehat{y}": "yhat", "\\delta": "delta", "delta": "delta"}
ARRAYS = {"W": "W", "U": "U", "V": "V", "b": "b", "c": "c"}
SUBSCRIPTED = {("W", "xh"): "W", ("W", "hx"): "W", ("W", "hh"): "U", ("W", "hy"): "V",
               ("W", "yh"): "V", ("W", "ho"): "V", ("W", "oh"): "V", ("b", "h"): "b",
               ("b", "y"): "c", ("b", "o"): "c"}
LOSSES = {"E", "L", "J", "\\mathcal{L}"}
OUTPUT_DELTA = {"y", "o", "(y)", "(o)"}
FUNCTIONS = {"\\tanh": "tanh", "tanh": "tanh", "\\sigma": "sigmoid", "sigma": "sigmoid",
             "f": "f", "\\operatorname{tanh}": "tanh", "\\mathrm{tanh}": "tanh"}
DIAG = {"\\operatorname{diag}", "\\mathrm{diag}", "\\text{diag}", "diag"}


class Unread(Exception):
    """The claim cannot be read with certainty: the reason, and where."""

    def __init__(self, reason: str, position: int = 0):
        super().__init__(reason)
        self.reason, self.position = reason, position


class Undefined(Exception):
    """A quantity that does not exist at this step (z_0, ŷ_t without an output)."""


@dataclass(frozen=True)
class RnnVerdict:
    line: int
    claim: str
    verdict: str             # correct, incorrect, unparseable
    reason: str = ""
    diagnosis: str | None = None
    counterexample: str | None = None

    def to_json(self) -> dict:
        return {"line": self.line, "claim": self.claim, "verdict": self.verdict,
                "reason": self.reason, "diagnosis": self.diagnosis,
                "counterexample": self.counterexample}


# ---- test points --------------------------------------------------------------------------
@dataclass
class Point:
    """One random network and sequence with every true quantity (column vectors)."""

    T: int
    P: dict
    x: dict
    y: dict
    h: dict
    z: dict
    o: dict
    yhat: dict
    delta: dict
    deltay: dict
    grads: dict
    f: object
    fprime: object
    outputs: tuple
    slope: object = None      # f′(z, h) as the cell's textbook form (1 − h² for tanh)
    state_form: bool = False  # the slope needs h only


def test_points(spec, n: int = POINTS) -> list[Point]:
    r = spec.recurrence
    n_in, m = 2, spec.layers[1].size
    H = next(k for k in range(3, 9) if k not in (n_in, m))
    # the spec's T (numbered steps such as δ_3 mean its steps), at most MAX_T: a claim over
    # every step is as wrong at 12 steps as at 10,000
    T = min(r.steps, MAX_T) if r.steps and r.steps >= 2 else T_DEFAULT
    test_spec = replace(spec, inputs=n_in, layers=(replace(spec.layers[0], size=H), spec.layers[1]),
                        recurrence=replace(r, hidden=H, truncate=None, sequences=(), h0=None))
    d = derive_recurrent(test_spec)
    c = compile_recurrent(d)
    fprime = sp.lambdify([Z], d.cell.fprime, MODULES)
    slope = sp.lambdify([Z, A], d.cell.slope, MODULES)
    state_form = d.cell.fprime_output is not None
    f = sp.lambdify([Z], d.cell.f, MODULES)
    rng = np.random.default_rng(2026)
    points = []
    steps = r.outputs_at(T)
    for _ in range(n):
        P = {"W1": rng.normal(0, 0.8, (H, n_in)), "U1": rng.normal(0, 0.6, (H, H)),
             "b1": rng.normal(0, 0.3, H), "W2": rng.normal(0, 0.8, (m, H)), "b2": rng.normal(0, 0.3, m)}
        X = rng.normal(0, 1, (T, n_in, 1))
        if spec.loss in ("cross_entropy", "binary_cross_entropy"):
            Y = rng.uniform(0.05, 0.95, (len(steps), m, 1))
            if spec.layers[1].activation == "softmax":
                Y = Y / Y.sum(axis=1, keepdims=True)
        else:
            Y = rng.normal(0, 1, (len(steps), m, 1))
        h0 = rng.normal(0, 0.5, H) if r.h0 is not None and any(v != 0 for v in r.h0) else None
        ev = evaluate_recurrent(c, P, X, Y, h0, "sum")
        col = lambda v: np.asarray(v, float).reshape(-1, 1)   # noqa: E731
        out = {t: i for i, t in enumerate(steps)}
        points.append(Point(
            T, {"W": P["W1"], "U": P["U1"], "b": col(P["b1"]), "V": P["W2"], "c": col(P["b2"])},
            {t: X[t - 1] for t in range(1, T + 1)}, {t: Y[i] for t, i in out.items()},
            {t: ev.h[t] for t in range(T + 1)}, {t: ev.z[t - 1] for t in range(1, T + 1)},
            {t: P["W2"] @ ev.h[t] + col(P["b2"]) for t in out},
            {t: ev.outputs[i] for t, i in out.items()},
            {t: ev.delta[t - 1] for t in range(1, T + 1)} | {T + 1: np.zeros((H, 1))},
            {t: (ev.deltay[out[t]] if t in out else np.zeros((m, 1))) for t in range(1, T + 2)},
            {"W": ev.gradients["W1"], "U": ev.gradients["U1"], "b": col(ev.gradients["b1"]),
             "V": ev.gradients["W2"], "c": col(ev.gradients["b2"])}, f, fprime, steps, slope,
            state_form))
    return points


# ---- reading a side -----------------------------------------------------------------------
def _text(n: Node) -> str:
    return n.text if n.kind in ("NAME", "COMMAND", "WRAPPED", "NUMBER") else ""


def _strip(n: Node) -> Node:
    while n.kind in ("group", "paren") or (n.kind == "args" and len(n.args) == 1):
        n = n.args[0] if n.kind != "args" else n.args[0]
    return n


class Reader:
    """Evaluates one side at one point, with the step variable ``t`` bound."""

    def __init__(self, p: Point, t: int | None):
        self.p, self.t = p, t
        self.free_t = False
        self.touched = False      # read a quantity of the network (not numbers alone)
        self.work = 0             # nodes evaluated (nested sums multiply it)

    def step(self, n: Node) -> int:
        """A step index: t, T, a number, or one of them ± a number."""
        n = _strip(n)
        if n.kind == "NAME" and n.text == "t":
            if self.t is None:
                raise Unread("a step t outside a sum over t", n.start)
            self.free_t = True
            return self.t
        if n.kind == "NAME" and n.text == "T":
            return self.p.T
        if n.kind == "NUMBER" and n.text.isdigit() and len(n.text) <= 4:
            return int(n.text)
        if n.kind == "binop" and n.args[1].text in ("+", "-", "\u2212"):
            a, b = self.step(n.args[0]), self.step(n.args[2])
            return a + b if n.args[1].text == "+" else a - b
        raise Unread("a step index must be t, T, a number, or t ± a number", n.start)

    def quantity(self, head: str, index: Node, at: int) -> np.ndarray:
        self.touched = True
        t = self.step(index)
        p = self.p
        if head == "delta":
            if t == p.T + 1:
                return p.delta[t]
            table = p.delta
        elif head == "deltay":
            if t not in p.deltay:
                raise Undefined()
            return p.deltay[t]
        else:
            table = getattr(p, head)
        if t not in table:
            raise Undefined()
        return table[t]

    # -- names with subscripts and superscripts --
    def named(self, n: Node):
        """(kind, name, index node) of a name: ('q', head, idx), ('array', key, None),
        ('loss', …), ('function', name, None)."""
        n = _strip(n)
        if n.kind == "sub":
            base, idx = _strip(n.args[0]), n.args[1]
            if base.kind == "sup" and _strip(base.args[0]).text in ("\\delta", "delta") \
                    and _sup_text(base) in OUTPUT_DELTA:
                return ("q", "deltay", idx)
            if base.kind == "sup" and _strip(base.args[0]).text in ("\\delta", "delta"):
                raise Unread(f"δ^{_sup_text(base)}: write \\delta_t (hidden) or \\delta^y_t (output)",
                             base.start)
            name = _text(base)
            key = SUBSCRIPTED.get((name, _plain(idx)))
            if key:
                return ("array", key, None)
            if name == "sum":
                raise Unread("a sum over time is written \\sum_{t=1}^{T} (or \\sum_t)", n.start)
            if name in NAMES:
                return ("q", NAMES[name], idx)
            if name in ARRAYS:
                raise Unread(f"{name}_{{{_plain(idx)}}}: entries are not read for rnn specs; "
                             f"write the whole array ({name}, W_{{xh}}, W_{{hh}}, …)", n.start)
            raise Unread(f"unknown name {name or 'here'!r}", base.start)
        if n.kind == "sup" and _sup_paren(n) is not None:        # h^{(t)}
            name = _text(_strip(n.args[0]))
            if name in NAMES:
                return ("q", NAMES[name], _sup_paren(n))
        text = _text(n)
        if text in ARRAYS:
            return ("array", ARRAYS[text], None)
        if text in LOSSES:
            return ("loss", text, None)
        if text in FUNCTIONS:
            return ("function", FUNCTIONS[text], None)
        return (None, text, None)

    # -- evaluation --
    def value(self, n: Node):
        n = _strip(n)
        self.work += 1
        if self.work > MAX_STEPS_EVALUATED:
            raise Unread(f"more than {MAX_STEPS_EVALUATED:,} operations to evaluate (nested sums?)",
                         n.start)
        kind = n.kind
        if kind == "NUMBER":
            if len(n.text) > 20:
                raise Unread("a number with too many digits", n.start)
            return float(n.text)
        if kind in ("NAME", "COMMAND", "WRAPPED", "sub") or (kind == "sup" and _sup_paren(n) is not None):
            what, name, idx = self.named(n)
            if what == "q":
                return self.quantity(name, idx, n.start)
            if what == "array":
                self.touched = True
                return self.p.P[name]
            if name == "T" and kind == "NAME":
                raise Unread("T alone: the number of steps is not a value here", n.start)
            if name == "sum":
                raise Unread("a sum over time is written \\sum_{t=1}^{T} (or \\sum_t)", n.start)
            base = _strip(n.args[0]) if n.kind in ("sub", "sup") else n
            raise Unread(f"unknown name {_text(base) or name or n.kind!r} (the names: x_t, h_t, "
                         "z_t, o_t, \\hat y_t, y_t, \\delta_t, \\delta^y_t, W, U, b, V, c)", n.start)
        if kind == "unary":
            v = self.value(n.args[1])
            return -v if n.args[0].text in ("-", "\u2212") else v
        if kind == "binop":
            return self.binop(n.args[0], n.args[1].text, n.args[2], n.start)
        if kind == "juxt" and _strip(n.args[0]).text in ("\\hat", "\\widehat"):
            inner = _strip(n.args[1])                    # \hat y_t
            if inner.kind == "sub" and _text(_strip(inner.args[0])) == "y":
                return self.quantity("yhat", inner.args[1], n.start)
            raise Unread("\\hat of something other than y_t", n.start)
        if kind == "juxt":
            return self.product(self.value(n.args[0]), self.value(n.args[1]), "juxt", n.start)
        if kind == "sup":
            return self.power(n)
        if kind == "transpose":
            return _matrix(self.value(n.args[0]), n.start).T
        if kind == "call":
            return self.call(n)
        if kind == "sum":
            return self.sum(n)
        if kind == "frac":
            num, den = _strip(n.args[1]), _strip(n.args[2])
            if num.kind == "dpart" and den.kind == "dpart":
                return self.derivative(num.args[1], den.args[1], n.start)
            return self.binop(num, "/", den, n.start)
        raise Unread(f"cannot read this part ({kind}) of a recurrent claim", n.start)

    def binop(self, a: Node, op: str, b: Node, at: int):
        if op == "/":
            if _strip(a).kind == "dpart" and _strip(b).kind == "dpart":
                return self.derivative(_strip(a).args[1], _strip(b).args[1], at)
            da, db = _d_name(a), _d_name(b)
            if da and db:
                return self.derivative(da, db, at)
            u, v = self.value(a), self.value(b)
            if not np.isscalar(v) and np.shape(v) != (1, 1):
                raise Unread("division by a vector or matrix", b.start)
            return u / float(np.asarray(v).ravel()[0])
        u, v = self.value(a), self.value(b)
        if op in ("+", "-", "\u2212"):
            if np.isscalar(u) != np.isscalar(v) or (not np.isscalar(u) and np.shape(u) != np.shape(v)):
                if not (np.isscalar(u) or np.isscalar(v)):
                    raise Unread(f"a sum of shapes {np.shape(u)} and {np.shape(v)}", at)
            return u + v if op == "+" else u - v
        if op in ("\\odot", "\u2299", "\\circ", "\u2218"):
            if np.isscalar(u) or np.isscalar(v) or np.shape(u) == np.shape(v):
                return u * v
            raise Unread(f"⊙ of shapes {np.shape(u)} and {np.shape(v)}", at)
        return self.product(u, v, op, at)

    def product(self, u, v, op: str, at: int):
        if np.isscalar(u) or np.isscalar(v):
            return u * v
        if u.shape[1] == v.shape[0]:
            return u @ v
        if op in ("*", "\u2217", "\\ast") and u.shape == v.shape:
            return u * v
        raise Unread(f"a product of shapes {u.shape} and {v.shape} (write ⊙ for an elementwise "
                     "product, ^T for a transpose)", at)

    def power(self, n: Node):
        base, expo = n.args[0], _strip(n.args[2])
        if expo.kind in ("NAME", "COMMAND") and expo.text in ("T", "\\top", "\\intercal", "\\mathsf{T}"):
            return _matrix(self.value(base), n.start).T
        if expo.kind == "WRAPPED" and expo.text.replace(" ", "") in ("\\mathsf{T}", "\\mathrm{T}"):
            return _matrix(self.value(base), n.start).T
        if expo.kind == "NUMBER" and expo.text.isdigit() and 1 <= int(expo.text) <= MAX_POWER:
            v = self.value(base)
            if not np.isscalar(v) and v.shape[1] != 1:
                raise Unread("a matrix to a power", n.start)
            return v ** int(expo.text)      # a vector: elementwise, as textbooks write h_t^2
        raise Unread("a superscript other than T, ⊤ or a small power", expo.start)

    def call(self, n: Node):
        head, args = _strip(n.args[0]), n.args[1]
        if len(args.args) != 1:
            raise Unread("a function of one argument", n.start)
        arg = args.args[0]
        if head.kind == "prime":
            name = FUNCTIONS.get(_text(_strip(head.args[0])))
            if name is None:
                raise Unread("a derivative f', \\tanh' or \\sigma' of the cell", head.start)
            return self.apply(name, self.value(arg), prime=True)
        text = _text(head)
        if head.kind not in ("NAME", "COMMAND", "WRAPPED") or (
                text not in DIAG and text not in FUNCTIONS and self.named(head)[0] in ("q", "array")):
            # diag(v)(u), U(δ_{t+1}): a product written with parentheses
            return self.product(self.value(head), self.value(arg), "juxt", n.start)
        if text in DIAG:
            v = self.value(arg)
            if np.isscalar(v) or v.shape[1] != 1:
                raise Unread("diag of a vector", n.start)
            return np.diag(v[:, 0])
        if text in FUNCTIONS:
            return self.apply(FUNCTIONS[text], self.value(arg), prime=False)
        raise Unread(f"unknown function {text or head.kind!r}", head.start)

    def apply(self, name: str, v, prime: bool):
        z = np.asarray(v, float)
        if name == "f":
            return np.broadcast_to(self.p.fprime(z) if prime else self.p.f(z), z.shape).copy()
        if name == "tanh":
            return 1 - np.tanh(z) ** 2 if prime else np.tanh(z)
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s) if prime else s

    def sum(self, n: Node):
        scripts, body = n.args[1], n.args[2]
        if scripts.kind == "noscript" or not scripts.args:
            raise Unread("a sum needs its index: \\sum_{t=1}^{T} or \\sum_t", n.start)
        index = scripts.args[0]
        var = _text(index.args[0]) if index.args else ""
        if var != "t":
            raise Unread("a sum over time runs over t", index.start)
        lo = self.step(index.args[2]) if len(index.args) == 3 else 1
        hi = self.step(scripts.args[1]) if len(scripts.args) > 1 else self.p.T
        if hi - lo > 10_000:
            raise Unread("a sum of too many steps", n.start)
        total, saved = 0.0, (self.t, self.free_t)
        for t in range(lo, hi + 1):
            self.t = t
            try:
                total = total + self.value(body)
            except Undefined:
                raise Unread(f"the sum reaches a step that does not exist (t = {t})", n.start) from None
        self.t, self.free_t = saved
        return total

    def derivative(self, num: Node, den: Node, at: int):
        what, name, _ = self.named(num)
        if what != "loss":
            raise Unread("a derivative of the loss E", num.start)
        what, name, idx = self.named(den)
        p = self.p
        self.touched = True
        if what == "array":
            return p.grads[name]
        if what == "q":
            t = self.step(idx)
            if name == "z" and t in p.delta and t <= p.T:
                return p.delta[t]
            if name == "o" and t in p.o:
                return p.deltay[t]
            if name == "h" and 1 <= t <= p.T:
                return p.P["U"].T @ p.delta[t + 1] + p.P["V"].T @ p.deltay[t]
        raise Unread("∂E with respect to W, U, b, V, c (W_{xh}, W_{hh}, …), h_t, z_t or o_t", den.start)


def _matrix(v, at: int) -> np.ndarray:
    if np.isscalar(v):
        raise Unread("a transpose of a number", at)
    return v


def _sup_text(n: Node) -> str:
    s = _strip(n.args[2])
    if s.kind == "paren":
        return "(" + _text(_strip(s.args[0])) + ")"
    return _text(s)


def _sup_paren(n: Node):
    """The t of h^{(t)}: a parenthesised superscript (Goodfellow's time index)."""
    s = n.args[2]
    while s.kind == "group":
        s = s.args[0]
    return s.args[0] if s.kind == "paren" else None


def _plain(n: Node) -> str:
    n = _strip(n)
    if n.kind == "juxt":
        return _plain(n.args[0]) + _plain(n.args[1])
    return _text(n)


def _d_name(n: Node):
    """dU, dE (plain text): the Node of the name after d, else None."""
    n = _strip(n)
    base = n.args[0] if n.kind == "sub" else n
    if base.kind == "NAME" and len(base.text) > 1 and base.text[0] == "d" and base.text[1:] in (
            set(ARRAYS) | LOSSES | {"W"}):
        inner = Node("NAME", (base.text[1:],), base.start + 1, base.end)
        return inner if n.kind != "sub" else Node("sub", (inner, n.args[1]), n.start, n.end)
    return None


# ---- judging a claim --------------------------------------------------------------------
def _sides(tree: Node) -> list[Node]:
    return [a for a in tree.args if a.kind != "EQ"]


def _uses_t(n: Node) -> bool:
    stack = [n]
    while stack:
        m = stack.pop()
        if m.kind == "sum":
            continue
        if m.kind == "NAME" and m.text == "t":
            return True
        stack.extend(a for a in m.args if isinstance(a, Node))
    return False


def _close(u, v) -> bool:
    u, v = np.asarray(u, float), np.asarray(v, float)
    if u.shape != v.shape and u.size == v.size == 1:
        u, v = u.reshape(1, 1), v.reshape(1, 1)
    scale = max(1.0, float(np.abs(u).max(initial=0)), float(np.abs(v).max(initial=0)))
    return u.shape == v.shape and bool(np.all(np.abs(u - v) <= RTOL * scale))


def _shape(v):
    return () if np.isscalar(v) else np.shape(v)


def judge(text: str, points: list[Point], line: int = 0) -> list[RnnVerdict]:
    """One verdict per link of the claim (A = B = C: A = B, then B = C)."""
    try:
        tree = parse_tree(text)
    except FormulaError as err:
        return [RnnVerdict(line, text, "unparseable", str(err))]
    sides = _sides(tree)
    return [judge_link(text, lhs, rhs, points, line) for lhs, rhs in zip(sides, sides[1:])]


def judge_link(text: str, lhs: Node, rhs: Node, points: list[Point], line: int) -> RnnVerdict:
    free = _uses_t(lhs) or _uses_t(rhs)
    try:
        pairs = []
        for k, p in enumerate(points):
            for t in (range(1, p.T + 1) if free else [None]):
                left, right = Reader(p, t), Reader(p, t)
                try:
                    a, b = left.value(lhs), right.value(rhs)
                except Undefined:
                    continue
                if not (left.touched and right.touched):
                    raise Unread("a side of numbers alone: rnn claims are checked at random "
                                 "networks, so a value of the spec's worked example is not "
                                 "checked yet", (rhs if left.touched else lhs).start)
                pairs.append((k, t, a, b))
    except Unread as err:
        return RnnVerdict(line, text, "unparseable", f"{err.reason} (at {err.position})")
    except (FloatingPointError, OverflowError, ValueError) as err:
        return RnnVerdict(line, text, "unparseable", f"cannot evaluate: {err}")
    if not pairs:
        return RnnVerdict(line, text, "unparseable", "no step at which both sides exist")
    for k, t, a, b in pairs:
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return RnnVerdict(line, text, "unparseable", "a value beyond float64's range (or not "
                              "a number) at the test points; nothing can be said from it")
        if _shape(a) != _shape(b) and not (np.size(a) == np.size(b) == 1):
            if len(_shape(a)) == 2 and np.shape(a) == np.shape(b)[::-1] and _close(a, np.asarray(b).T):
                return RnnVerdict(line, text, "unparseable", "the right side is the left side "
                                  "transposed: another layout convention (the spec's arrays are "
                                  "[target][source], ∂E/∂U = Σ_t δ_t h_{t-1}^T)")
            return RnnVerdict(line, text, "unparseable", f"the sides have shapes {_shape(a)} and "
                              f"{_shape(b)}")
    bad = [(k, t, a, b) for k, t, a, b in pairs if not _close(a, b)]
    if not bad:
        return RnnVerdict(line, text, "correct", "equal at every step of "
                          f"{len(points)} random networks (T = {points[0].T})")
    k, t, a, b = bad[0]
    where = f"at t = {t} of" if t is not None else "at"
    example = (f"{where} random network {k + 1} (T = {points[k].T}): left "
               f"{_show(a)}, right {_show(b)}")
    return RnnVerdict(line, text, "incorrect", "the sides differ", diagnose(lhs, rhs, points, pairs),
                      example)


def _show(v) -> str:
    arr = np.atleast_1d(np.asarray(v, float)).ravel()
    shown = ", ".join(f"{x:.6g}" for x in arr[:4])
    return f"[{shown}{', …' if arr.size > 4 else ''}]"


# ---- diagnoses: mutations of the truth that equal the claim ------------------------------
def _target(lhs: Node, p: Point, t):
    """What the left side names: ('delta', t), ('grad', key), ('h', t), ('dh', t) or None."""
    r = Reader(p, t)
    n = _strip(lhs)
    try:
        if n.kind == "frac" or (n.kind == "binop" and n.args[1].text == "/"):
            num, den = (n.args[1], n.args[2]) if n.kind == "frac" else (n.args[0], n.args[2])
            den = _strip(den)
            den = den.args[1] if den.kind == "dpart" else (_d_name(den) or den)
            what, name, idx = r.named(den)
            if what == "array":
                return ("grad", name)
            if what == "q" and name == "z":
                return ("delta", r.step(idx))
            return None
        what, name, idx = r.named(n)
        if what == "q" and name in ("delta", "h"):
            return (name, r.step(idx))
    except (Unread, Undefined):
        return None
    return None


CUT = ("the sum over time is cut to one step (missing time paths): the arrays are tied, used "
       "at every step, so the gradient sums the local gradient of every step t = 1 … T")


def _mutations(p: Point, target) -> list[tuple[str, object]]:
    """(diagnosis, the mutated value) for the left side's quantity at this point."""
    P, T = p.P, p.T
    kind = target[0]
    out = []
    def fp(t):
        """f′(z_t); at t = 0 in the state form (1 − h_0²) when the cell has one."""
        if t in p.z:
            return np.broadcast_to(p.fprime(p.z[t]), p.z[t].shape)
        if t in p.h and p.state_form:
            return np.broadcast_to(p.slope(np.zeros_like(p.h[t]), p.h[t]), p.h[t].shape)
        return None
    if kind == "delta":
        t = target[1]
        if not 1 <= t <= T:
            return out
        rec, outp = P["U"].T @ p.delta[t + 1], P["V"].T @ p.deltay[t]
        out.append(("the recurrent term U^T δ_{t+1} is missing from δ_t: the error of the later "
                    "steps does not flow back through h_t", outp * fp(t)))
        out.append(("the output term V^T δ^y_t is missing from δ_t: h_t also feeds the output "
                    "of its own step", rec * fp(t)))
        for s in (t + 1, t - 1):
            if fp(s) is not None:
                out.append((f"f′ at the wrong step: f′(z_{{{'t+1' if s > t else 't-1'}}}) where "
                            "f′(z_t) belongs", (rec + outp) * fp(s)))
        out.append(("U written for U^T in the recurrent term", (P["U"] @ p.delta[t + 1] + outp) * fp(t)))
        for s, label in ((t - 1, "t-1"), (t, "t")):
            if s in p.delta:
                out.append((f"a time index off by one: U^T δ_{{{label}}} where U^T δ_{{t+1}} "
                            "belongs", (P["U"].T @ p.delta[s] + outp) * fp(t)))
    elif kind == "grad":
        key = target[1]
        D, Dy = p.delta, p.deltay
        src = {"W": lambda t: p.x[t].T, "U": lambda t: p.h[t - 1].T, "b": lambda t: 1.0,
               "V": lambda t: p.h[t].T, "c": lambda t: 1.0}[key]
        err = (lambda t: D[t]) if key in ("W", "U", "b") else (lambda t: Dy[t])
        steps = range(1, T + 1) if key in ("W", "U", "b") else p.outputs
        for t in steps:
            out.append((CUT, err(t) * src(t)))
        shifted = {"W": ("x_{t-1}", "x_t", lambda t: p.x.get(t - 1)), "U": ("h_t", "h_{t-1}", lambda t: p.h[t]),
                   "V": ("h_{t-1}", "h_t", lambda t: p.h[t - 1])}
        if key in shifted:
            wrong, right, get = shifted[key]
            terms = [get(t) for t in steps]
            if all(v is not None for v in terms):
                out.append((f"a time index off by one: {wrong} where {right} belongs",
                            sum(err(t) @ v.T for t, v in zip(steps, terms))))
    elif kind == "h":
        t = target[1]
        if 1 <= t <= T:
            for s, label in ((t, "h_t"), (t - 2, "h_{t-2}")):
                if s in p.h:
                    out.append((f"a time index off by one: U {label} where U h_{{t-1}} belongs",
                                p.f(P["W"] @ p.x[t] + P["U"] @ p.h[s] + P["b"])))
    return out


def diagnose(lhs: Node, rhs: Node, points: list[Point], pairs) -> str | None:
    """The first mutation of the truth that equals the right side at every evaluated pair."""
    labels = None
    for k, t, _, b in pairs:
        target = _target(lhs, points[k], t)
        if target is None:
            return None
        found = {label for label, value in _mutations(points[k], target)
                 if value is not None and _shape(value) == _shape(b) and _close(value, b)}
        labels = found if labels is None else labels & found
        if not labels:
            return None
    return sorted(labels)[0] if labels else None


def check_recurrent(model, text: str, kind: str = "text") -> list[RnnVerdict]:
    """Every claim of ``text`` (one a line, or every equation of Markdown/LaTeX) judged."""
    points = test_points(model.spec)
    with np.errstate(all="ignore"):
        return [v for c in extract(text, kind) for v in judge(c.text, points, c.line)]


__all__ = ["RnnVerdict", "check_recurrent", "judge", "test_points"]
