"""``check`` on a convolutional network (issue #18): index-form claims about one layer.

A claim is ``∂E/∂Q = RHS`` where Q is an entry of a conv layer's kernel (``K_{u,v}``,
``K^{l}_{c,c',u,v}``, also the spec's ``W``), its bias (``b_c``) or its input (``x_{m,n}``,
``a^{l-1}_{c',m,n}``; for a pool layer its input too), and RHS is written with sums
(``\\sum_{i,j}``, ranges optional), products, numbers, Iverson brackets and entries of δ
(the layer's error), the layer's input, K and ``rot180(K)``.  Every index outside its array
reads 0 (the zero padding; δ and K are 0 outside too), so a sum without range runs over
every index.  Indices count from 0; a claim right when read from 1 is right too.

The truth is computed by ``numeric.conv`` at random test points (inputs, parameters,
targets); the claim is evaluated entry by entry at every value of its free indices.  A
claim wrong at a point is ``incorrect`` with that point; the diagnosis names the first
mutated truth it equals (kernel not flipped, stride or padding index off by one, max-pool
gradient spread over the window, …) or the sum it leaves out.  Anything not read —
``*`` between whole maps (a convolution or the Hadamard product?), an array not of this
layer, a layer not named where several fit — is ``unparseable`` with why; never wrong.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..formula.claims import ClaimText, extract
from ..formula.grammar import Node
from ..formula.ops import FormulaError
from ..formula.reader import parse_tree
from ..numeric.conv import (Geometry, avgpool_backward, conv_backward, conv_forward,
                            maxpool_backward, maxpool_forward)
from .isolate import run
from .verdict import Verdict

LOSS_LETTERS = {"E", "L", "C", "J"}
N_POINTS = 3
TOL = 1e-9
MAX_WORK = 3_000_000      # evaluations of the claim's body over all assignments and points
MUL_AMBIGUOUS = {"*", "\u2217", "\\ast"}
CONV_OPS = {"\\star", "\\circledast", "\\otimes", "\\circledstar"}
ROT_NAMES = {"rot180", "flip", "\\operatorname{rot180}", "\\mathrm{rot180}", "\\text{rot180}",
             "\\operatorname{flip}", "\\operatorname{rot}180"}


class Unread(Exception):
    """The claim is not read: ``why`` says what was expected."""

    def __init__(self, why: str, position: int = 0):
        super().__init__(why)
        self.why, self.position = why, position


# ---- the test points ------------------------------------------------------------------
@dataclass(frozen=True)
class LayerArrays:
    """One layer at one test point: its input map, δ, kernel and the true gradients."""

    inp: np.ndarray          # (C, H, W) (a 1-D map has H = 1)
    delta: np.ndarray        # (O, Ho, Wo)
    K: np.ndarray | None     # (O, C, kh, kw)
    dK: np.ndarray | None
    db: np.ndarray | None
    dinp: np.ndarray         # ∂E/∂(input)
    mutants: tuple           # (diagnosis, what it mutates: "K", "b" or "in", array)


def _points(model) -> list[dict[int, LayerArrays]]:
    spec, out = model.spec, []
    for seed in range(N_POINTS):
        rng = np.random.default_rng(1000 + seed)
        params = {k: rng.normal(0, 0.7, size=s) for k, s in spec.array_shapes().items()}
        X = rng.normal(size=(spec.inputs, 1))
        Y = rng.uniform(0.1, 0.9, size=(spec.layers[-1].size, 1))
        if spec.loss == "cross_entropy":
            Y = Y / Y.sum()
        ev = model.evaluate(params=params, data=(X, Y))
        layers = {}
        for ls in spec.layers:
            if ls.type not in ("conv1d", "conv2d", "maxpool", "avgpool"):
                continue
            layers[ls.index] = _face(ls, _layer_arrays(ls, ev, params))
        out.append(layers)
    return out


def _grid(col: np.ndarray, shape) -> np.ndarray:
    return col.reshape((shape[0], 1, shape[1]) if len(shape) == 2 else shape)


def _layer_arrays(ls, ev, params) -> LayerArrays:
    g = Geometry.of(ls)
    inp = _grid(ev.a[ls.index - 1][:, 0], ls.in_shape)
    delta = _grid(ev.delta[ls.index - 1][:, 0], ls.out_shape)
    d4, a4 = delta[None], inp[None]
    if ls.type.startswith("conv"):
        K = params[f"W{ls.index}"].reshape((ls.out_shape[0], ls.in_shape[0]) +
                                           ((1,) + ls.kernel if len(ls.kernel) == 1 else ls.kernel))
        _, cols = conv_forward(a4, K, params[f"b{ls.index}"], g)
        dK, db, dinp = conv_backward(d4, cols, K, a4.shape, g)
        mutants = [("kernel not flipped: the input's gradient is the full convolution of δ "
                    "with the kernel, i.e. a correlation with the kernel rotated by 180°", "in",
                    conv_backward(d4, cols, K[:, :, ::-1, ::-1], a4.shape, g)[2][0]),
                   ("kernel flipped: the forward pass is a correlation, so ∂E/∂K is the input "
                    "correlated with δ, with no rotation", "K", dK[:, :, ::-1, ::-1])]
        for dh, dw in [(dh, dw) for dh in (-1, 0, 1) for dw in (-1, 0, 1) if dh or dw]:
            if (dh and inp.shape[1] == 1) or (dw and inp.shape[2] == 1):
                continue
            mutants.append(("stride/padding index off by one: the input is read one position "
                            "off (s·i + u − p)", "K", _kernel_grad(inp, delta, g, dh, dw)))
            mutants.append(("stride/padding index off by one: the error reaches the input one "
                            "position off", "in", _input_grad(delta, K, inp.shape, g, dh, dw)))
        if max(g.sh, g.sw) > 1:            # Σ δ_{i,j} x_{i+u−p, j+v−p}: the stride left out
            mutants.append(("stride index wrong: the stride s is left out of s·i + u − p", "K",
                            _kernel_grad(inp, delta, Geometry(g.kh, g.kw, 1, 1, g.ph, g.pw), 0, 0)))
        return LayerArrays(inp, delta, K, dK[0] if dK.ndim == 5 else dK, db, dinp[0],
                           tuple(mutants))
    if ls.type == "maxpool":
        _, arg = maxpool_forward(a4, g)
        dinp = maxpool_backward(d4, arg, a4.shape, g)[0]
        spread = avgpool_backward(d4, a4.shape, g)[0]
        mutants = (("max-pool gradient spread over the window: max-pooling sends δ to the "
                    "window's arg-max only (the first maximum), the others get 0", "in", spread),
                   ("max-pool gradient spread over the window: max-pooling sends δ to the "
                    "window's arg-max only (the first maximum), the others get 0", "in",
                    spread * g.kh * g.kw))
        return LayerArrays(inp, delta, None, None, None, dinp, mutants)
    dinp = avgpool_backward(d4, a4.shape, g)[0]
    return LayerArrays(inp, delta, None, None, None, dinp,
                       (("average pooling divides δ by the window size", "in", dinp * g.kh * g.kw),))


def _face(ls, arrays: LayerArrays) -> LayerArrays:
    """The arrays as claims index them: a 1-D layer's maps (C, L) and kernel (O, C, k)."""
    if len(ls.in_shape) == 3:
        return arrays
    sq = lambda a, axis: None if a is None else np.take(a, 0, axis=axis)   # noqa: E731
    return LayerArrays(sq(arrays.inp, 1), sq(arrays.delta, 1), sq(arrays.K, 2), sq(arrays.dK, 2),
                       arrays.db, sq(arrays.dinp, 1),
                       tuple((d, w, sq(a, 2 if w == "K" else 1)) for d, w, a in arrays.mutants))


def _kernel_grad(x, d, g: Geometry, dh: int, dw: int) -> np.ndarray:
    """Σ_{i,j} δ_{c,i,j} x_{c', s i + u − p + dh, s j + v − p + dw} (x zero outside), for every
    c, c', u, v: the kernel gradient read with an index shifted by (dh, dw)."""
    M = max(g.kh, g.kw) + max(g.ph, g.pw) + 2
    xp = np.pad(x, ((0, 0), (M, M + g.sh * d.shape[1]), (M, M + g.sw * d.shape[2])))
    out = np.zeros((d.shape[0], x.shape[0], g.kh, g.kw))
    Ho, Wo = d.shape[1:]
    for u in range(g.kh):
        for v in range(g.kw):
            r0, c0 = M + u - g.ph + dh, M + v - g.pw + dw
            patch = xp[:, r0:r0 + g.sh * Ho:g.sh, c0:c0 + g.sw * Wo:g.sw]
            out[:, :, u, v] = np.einsum("cij,kij->ck", d, patch)
    return out


def _input_grad(d, K, shape, g: Geometry, dh: int, dw: int) -> np.ndarray:
    """Σ_{c,u,v} δ̃_{c, m + p − u + dh, n + p − v + dw} K_{c,c',u,v} (δ̃: δ dilated by the
    stride, zero outside), for every c', m, n: the input gradient read one position off."""
    O, Ho, Wo = d.shape
    dil = np.zeros((O, g.sh * (Ho - 1) + 1, g.sw * (Wo - 1) + 1))
    dil[:, ::g.sh, ::g.sw] = d
    M = max(g.kh, g.kw) + max(g.ph, g.pw) + 2
    H, W = shape[1:]
    dp = np.pad(dil, ((0, 0), (M, M + H), (M, M + W)))
    out = np.zeros(shape)
    for u in range(g.kh):
        for v in range(g.kw):
            r0, c0 = M + g.ph - u + dh, M + g.pw - v + dw
            out += np.einsum("cmn,ck->kmn", dp[:, r0:r0 + H, c0:c0 + W], K[:, :, u, v])
    return out


# ---- reading the claim ----------------------------------------------------------------
SUM_LIST = re.compile(r"\\sum_\{\s*([A-Za-z]'?(?:\s*,\s*[A-Za-z]'?)+)\s*\}")
PRIMED = re.compile(r"(?<![A-Za-z\\])([A-Za-z])'")


def prepare_text(text: str) -> str:
    """``\\sum_{i,j}`` as ``\\sum_{i}\\sum_{j}``; a primed index c' as the name cprime."""
    text = SUM_LIST.sub(lambda m: "".join(f"\\sum_{{{n.strip()}}}" for n in m.group(1).split(",")),
                        text)
    return PRIMED.sub(lambda m: m.group(1) + "prime", text)


@dataclass(frozen=True)
class Ref:
    """An array entry: ``kind`` (delta, in, K, rot, b), its layer (None: not written), the
    index expressions, the position in the claim."""

    kind: str
    layer: int | None
    index: tuple
    position: int


def _strip(n: Node) -> Node:
    while n.kind in ("group", "paren") and len([a for a in n.args if isinstance(a, Node)]) == 1:
        n = next(a for a in n.args if isinstance(a, Node))
    return n


def _kids(n: Node) -> list[Node]:
    return [a for a in n.args if isinstance(a, Node)]


def _layer_mark(n: Node) -> int | None:
    """A superscript layer number: ^1, ^{1}, ^{(1)}, ^{[1]}."""
    n = _strip(n)
    if n.kind == "NUMBER" and n.text.isdigit():
        return int(n.text)
    raise Unread("a layer number as the superscript (K^{1}, \\delta^{(2)})", n.start)


def _base(n: Node) -> tuple[str, int | None, Node | None]:
    """(array kind, layer, the rot180 argument node or None) of an array's head."""
    layer = None
    if n.kind == "sup":
        head, mark = _kids(n)[0], _kids(n)[-1]
        return _base_named(head, _layer_mark(mark))
    return _base_named(n, layer)


def _base_named(n: Node, layer: int | None):
    n = _strip(n)
    if n.kind == "sup":
        head, mark = _kids(n)[0], _kids(n)[-1]
        return _base_named(head, _layer_mark(mark))
    if n.kind == "call":
        head, args = _kids(n)
        name = head.text.replace(" ", "")
        if name in ROT_NAMES:
            inner = _kids(args) if args.kind == "args" else [args]
            if len(inner) != 1:
                raise Unread("rot180(K) of one kernel", n.start)
            kind, lay, _ = _base_named(inner[0], layer)
            if kind != "K":
                raise Unread("rot180 of the kernel K", n.start)
            return "rot", lay, None
        raise Unread(f"an array entry (δ, x, a, K, rot180(K), b), not the function {name!r}", n.start)
    t = n.text
    kinds = {"\\delta": "delta", "δ": "delta", "delta": "delta", "a": "in", "K": "K",
             "W": "K", "b": "b"}
    if t == "x":                               # the network input: layer 1's input
        return "in", 1, None
    if t == "a":                               # a^{m} is the input of layer m + 1
        return "in", None if layer is None else layer + 1, None
    if t in kinds:
        return kinds[t], layer, None
    raise Unread(f"an entry of δ, the layer's input (x, a), K, rot180(K) or b, not {t or n.kind!r}",
                 n.start)


def _ref(n: Node, strip_d: bool = False) -> Ref:
    """``base_{indices}`` → Ref (``strip_d``: the head is written dK, as in dL/dK_{u,v})."""
    if n.kind != "sub":
        if _strip(n).text in ("b", "db") or (n.kind == "sup" and _kids(n)[0].text in ("b", "db")):
            kind, layer, _ = _base(Node("NAME", ("b",), n.start, n.end) if n.kind != "sup" else n)
            return Ref("b", layer, (), n.start)          # one output channel's bias, bare
        raise Unread("an array entry with indices, such as \\delta_{i,j} or K_{u,v}", n.start)
    head, sub = _kids(n)
    if strip_d:
        if head.kind != "NAME" or not head.text.startswith("d") or len(head.text) < 2:
            raise Unread("dE/dK_{u,v}: the quantity after d", head.start)
        head = Node("NAME", (head.text[1:],), head.start + 1, head.end)
    kind, layer, _ = _base(head)
    inner = _kids(sub) if sub.kind == "group" else [sub]
    parts = _kids(inner[0]) if len(inner) == 1 and inner[0].kind == "args" else inner
    if len(parts) == 1 and parts[0].kind == "NAME" and len(parts[0].text) > 1 \
            and "prime" not in parts[0].text and parts[0].text.isalpha():
        parts = [Node("NAME", (ch,), parts[0].start, parts[0].end) for ch in parts[0].text]  # δ_{ij}
    return Ref(kind, layer, tuple(_index(p) for p in parts), n.start)


def _index(n: Node):
    """An index expression → ('var', name) | ('num', k) | ('add'/'sub'/'mul', a, b)."""
    n = _strip(n)
    if n.kind == "NUMBER":
        if not n.text.isdigit():
            raise Unread("whole-number indices", n.start)
        return ("num", int(n.text))
    if n.kind == "NAME":
        return ("var", n.text)
    if n.kind == "sub":                       # k_h, k_w
        head, s = _kids(n)
        return ("var", head.text + "_" + _strip(s).text)
    if n.kind == "unary":
        op, x = n.args[0], _kids(n)[-1]
        return ("mul", ("num", -1), _index(x)) if getattr(op, "text", op) in ("-", "\u2212") else _index(x)
    if n.kind == "binop":
        a, op, b = n.args
        o = op.text
        if o in ("+", "-", "\u2212"):
            return ("add" if o == "+" else "sub", _index(a), _index(b))
        if o in ("*", "\\cdot", "\u00b7"):
            return ("mul", _index(a), _index(b))
    if n.kind == "juxt":
        a, b = _kids(n)
        return ("mul", _index(a), _index(b))
    raise Unread("an index as a sum of index letters and whole numbers (s i + u - p)", n.start)


def _expr(n: Node):
    """The right side → ('num', x) | ('ref', Ref) | ('add', …) | ('mul', …) | ('sum', name,
    lo, hi, body) | ('iverson', op, a, b) | ('neg', e) | ('div', a, b)."""
    n = _strip(n)
    k = n.kind
    if k == "NUMBER":
        return ("num", float(n.text))
    if k == "sub":
        return ("ref", _ref(n))
    if k in ("NAME", "COMMAND", "sup", "call", "WRAPPED"):
        if n.text in CONV_OPS:
            raise Unread(f"{n.text} between maps reads as a convolution, whose convention "
                         "(correlation or flipped kernel, stride, padding) the claim leaves open; "
                         "write the index form Σ δ_{i,j} x_{i+u,j+v}", n.start)
        raise Unread("array entries with their indices (\\delta_{i,j}, x_{i+u,j+v}); a whole map "
                     "has no value at one index", n.start)
    if k == "unary":
        op, x = n.args[0], _kids(n)[-1]
        inner = _expr(x)
        return ("neg", inner) if getattr(op, "text", op) in ("-", "\u2212") else inner
    if k == "binop":
        a, op, b = n.args
        o = op.text.strip()
        if o in MUL_AMBIGUOUS and (_is_map(a) or _is_map(b)):
            raise Unread("'*' between whole maps may be a convolution (in which convention: a "
                         "correlation, or with the kernel flipped?) or the elementwise (Hadamard) "
                         "product; both readings are possible here, so write the index form, e.g. "
                         "Σ_{i,j} δ_{i,j} x_{i+u,j+v}", op.start if hasattr(op, "start") else n.start)
        if o in ("+", "-", "\u2212"):
            return ("add" if o == "+" else "subtract", _expr(a), _expr(b))
        if o in ("/", "\\div"):
            return ("div", _expr(a), _expr(b))
        if o in MUL_AMBIGUOUS or o in ("\\cdot", "\u00b7", "\\times", "\u00d7", "\u22c5"):
            return ("mul", _expr(a), _expr(b))
        raise Unread(f"the operator {o!r} between array entries", n.start)
    if k == "juxt":
        a, b = _kids(n)
        if (a.kind == "COMMAND" and a.text in CONV_OPS) or (b.kind == "COMMAND" and b.text in CONV_OPS):
            raise Unread("a convolution operator between maps: write the index form "
                         "Σ_{i,j} δ_{i,j} x_{i+u,j+v}", n.start)
        return ("mul", _expr(a), _expr(b))
    if k == "frac":
        a, b = _kids(n)[-2:]
        return ("div", _expr(a), _expr(b))
    if k == "sum":
        scripts, body = _kids(n)[-2:]
        name, lo, hi = _sum_scripts(scripts, n.start)
        return ("sum", name, lo, hi, _expr(body))
    if k == "iverson":
        a, op, b = n.args
        return ("iverson", op.text, _index(a), _index(b))
    raise Unread("sums, products and entries of δ, x, a, K, rot180(K)", n.start)


def _is_map(n: Node) -> bool:
    n = _strip(n)
    if n.kind == "sup":
        n = _kids(n)[0]
    return n.kind in ("NAME", "COMMAND", "call") and n.kind != "NUMBER"


def _sum_scripts(s: Node, where: int):
    if s.kind == "noscript":
        raise Unread("a summation index: \\sum_{i,j} or \\sum_{i=0}^{H-1}", where)
    parts = _kids(s)
    idx = parts[0]
    if idx.kind == "NAME":
        name, lo = idx.text, None
    else:
        inner = _kids(idx) if idx.kind == "sumindex" else [idx]
        name = inner[0].text if inner else idx.text
        lo = _index(inner[-1]) if len(inner) > 1 else None
    hi = _index(parts[1]) if len(parts) > 1 else None
    if not name:
        raise Unread("a summation index letter", where)
    return name, lo, hi


def _derivative(n: Node) -> Ref:
    """The left side ∂E/∂Q (LaTeX \\frac, ∂E/∂Q or dE/dQ) → the Ref Q."""
    n = _strip(n)
    if n.kind == "frac":
        num, den = _kids(n)[-2:]
    elif n.kind == "binop" and n.args[1].text == "/":
        num, den = n.args[0], n.args[2]
    else:
        raise Unread("∂E/∂K_{u,v} (or ∂E/∂b_c, ∂E/∂x_{m,n}) on the left side", n.start)
    num, den = _strip(num), _strip(den)
    if num.kind == "NAME" and num.text[:1] == "d" and num.text[1:] in LOSS_LETTERS:
        return _ref(den, strip_d=True)
    if num.kind != "dpart" or _strip(_kids(num)[-1]).text not in LOSS_LETTERS:
        raise Unread("the loss's derivative: \\frac{\\partial E}{\\partial K_{u,v}} (E, L, C or J)",
                     num.start)
    if den.kind != "dpart":
        raise Unread("\\partial before the quantity", den.start)
    return _ref(_strip(_kids(den)[-1]))


# ---- evaluation -------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """The claim read for one layer: the arrays its names stand for."""

    layer: object             # the ConvLayer
    lhs: Ref
    rhs: tuple


def _value(e, env: dict, arrays: dict, base: int, span: int, budget: list):
    kind = e[0]
    if kind == "num":
        return e[1]
    if kind == "ref":
        r = e[1]
        arr = arrays[r.kind]
        idx = tuple(_ival(i, env) - base for i in r.index)
        full = _padded(idx, arr.ndim)
        if any(i < 0 or i >= s for i, s in zip(full, arr.shape)):
            return 0.0
        return float(arr[full])
    if kind == "neg":
        return -_value(e[1], env, arrays, base, span, budget)
    if kind in ("add", "subtract", "mul", "div"):
        a = _value(e[1], env, arrays, base, span, budget)
        b = _value(e[2], env, arrays, base, span, budget)
        return {"add": a + b, "subtract": a - b, "mul": a * b,
                "div": a / b if b != 0 else math.nan}[kind]
    if kind == "iverson":
        a, b = _ival(e[2], env), _ival(e[3], env)
        op = e[1]
        return float({"=": a == b, "<": a < b, ">": a > b, "\\le": a <= b, "\\leq": a <= b,
                      "\u2264": a <= b, "<=": a <= b, "\\ge": a >= b, "\\geq": a >= b,
                      "\u2265": a >= b, ">=": a >= b}.get(op, math.nan))
    _, name, lo, hi, body = e
    extent = span.get(name) if isinstance(span, dict) else None
    if lo is None and hi is None and extent is not None:
        start, stop = base, extent + base            # the index's whole range (0-based or 1-based)
    else:
        start = -span["*"] if lo is None else _ival(lo, env)
        stop = span["*"] if hi is None else _ival(hi, env) + 1
    budget[0] -= max(0, stop - start)
    if budget[0] < 0:
        raise Unread("a claim this large is not checked entry by entry (too many terms)")
    total = 0.0
    for k in range(start, stop):
        total += _value(body, {**env, name: k}, arrays, base, span, budget)
    return total


def _extents(rhs, arrays: dict) -> dict:
    """A summation letter without a range runs over the axis it indexes as a bare letter
    (δ_{c,i,j}: c over the channels, i over the rows); the largest such axis."""
    out: dict = {}
    for r in _refs(rhs, []):
        arr = arrays.get(r.kind)
        if arr is None:
            continue
        first = arr.ndim - len(r.index)
        for k, i in enumerate(r.index):
            if i[0] == "var":
                out[i[1]] = max(out.get(i[1], 0), arr.shape[first + k])
    return out


def _padded(idx: tuple, ndim: int) -> tuple:
    """Missing leading indices (a 1-channel array written without its channel) are 0."""
    return (0,) * (ndim - len(idx)) + idx


def _ival(i, env) -> int:
    kind = i[0]
    if kind == "num":
        return i[1]
    if kind == "var":
        if i[1] not in env:
            raise KeyError(i[1])
        return env[i[1]]
    a, b = _ival(i[1], env), _ival(i[2], env)
    return a + b if kind == "add" else a - b if kind == "sub" else a * b


def _names(e, out: set) -> set:
    """Index letters used in ``e`` (free or bound)."""
    if e[0] == "ref":
        for i in e[1].index:
            _inames(i, out)
    elif e[0] == "sum":
        _names(e[4], out)
    elif e[0] == "iverson":
        _inames(e[2], out)
        _inames(e[3], out)
    elif e[0] in ("add", "subtract", "mul", "div"):
        _names(e[1], out)
        _names(e[2], out)
    elif e[0] == "neg":
        _names(e[1], out)
    return out


def _inames(i, out: set) -> None:
    if i[0] == "var":
        out.add(i[1])
    elif i[0] in ("add", "sub", "mul"):
        _inames(i[1], out)
        _inames(i[2], out)


def _free(e, bound: frozenset = frozenset()) -> set:
    if e[0] == "ref":
        return {n for i in e[1].index for n in _inames_set(i)} - bound
    if e[0] == "sum":
        return _free(e[4], bound | {e[1]})
    if e[0] == "iverson":
        return (_inames_set(e[2]) | _inames_set(e[3])) - bound
    if e[0] in ("add", "subtract", "mul", "div"):
        return _free(e[1], bound) | _free(e[2], bound)
    if e[0] == "neg":
        return _free(e[1], bound)
    return set()


def _inames_set(i) -> set:
    out = set()
    _inames(i, out)
    return out


def _refs(e, out: list) -> list:
    if e[0] == "ref":
        out.append(e[1])
    elif e[0] == "sum":
        _refs(e[4], out)
    elif e[0] in ("add", "subtract", "mul", "div"):
        _refs(e[1], out)
        _refs(e[2], out)
    elif e[0] == "neg":
        _refs(e[1], out)
    return out



# ---- the verdicts -----------------------------------------------------------------------
@dataclass(frozen=True)
class ConvChecker:
    """A conv model and its test points (built once, before the claims' children fork)."""

    model: object
    points: tuple


def make_conv_checker(model) -> ConvChecker:
    return ConvChecker(model, tuple(_points(model)))


def check_conv_verdicts(model, text: str, kind: str = "text", timeout: float = 5.0,
                        isolate: bool = True, deadline=None,
                        checker: ConvChecker | None = None) -> tuple[Verdict, ...]:
    """Every claim of ``text`` against the conv network ``model`` (``engine.check_claims``
    wraps them in its Report), each claim in a bounded child as the dense claims are."""
    ck = checker or make_conv_checker(model)
    claims = extract(text, kind)
    results = run(partial(check_conv_claim, ck), claims, timeout=timeout, isolate=isolate,
                  deadline=deadline)
    return tuple(v for r in results for v in r)


def check_conv_claim(ck: ConvChecker, claim: ClaimText) -> list[Verdict]:
    text = claim.text
    try:
        tree = parse_tree(prepare_text(text))
        sides = [a for a in tree.args if isinstance(a, Node) and a.kind != "EQ"]
        if len(sides) < 2:
            raise Unread("an equation ∂E/∂Q = …")
        rights = [_expr(side) for side in sides[1:]]     # '*' between maps: named first
        lhs = _derivative(sides[0])
        return [_judge(ck, claim, lhs, rhs, link, text) for link, rhs in enumerate(rights)]
    except Unread as err:
        return [_unparseable(claim, err.why, err.position)]
    except FormulaError as err:
        return [_unparseable(claim, err.message, getattr(err, "position", 0))]
    except KeyError as err:
        return [_unparseable(claim, f"the index {err.args[0]!r} has no value: it is neither on "
                             "the left side nor summed over", 0)]


def _unparseable(claim, why: str, position: int = 0) -> Verdict:
    return Verdict(claim.line, claim.text, "unparseable", message=why, position=position)


def _layer_of(ck: ConvChecker, lhs: Ref, rhs) -> object:
    spec = ck.model.spec
    refs = [lhs] + _refs(rhs, [])
    marks = {r.layer for r in refs if r.layer is not None}
    if len(marks) > 1:
        raise Unread(f"one layer: the claim names layers {sorted(marks)}", refs[0].position)
    kinds = {r.kind for r in refs}
    candidates = [ls for ls in spec.layers if ls.type in ("conv1d", "conv2d", "maxpool", "avgpool")]
    if kinds & {"K", "rot", "b"}:
        candidates = [ls for ls in candidates if ls.type.startswith("conv")]
    if marks:
        (l,) = marks
        found = [ls for ls in candidates if ls.index == l]
        if not found:
            raise Unread(f"layer {l} is not a {'conv' if kinds & {'K', 'b'} else 'conv or pool'} "
                         f"layer of this network (those are: {', '.join(str(c.index) for c in candidates)})")
        return found[0]
    if len(candidates) != 1:
        listed = ", ".join(f"{c.index} ({c.type})" for c in candidates)
        raise Unread(f"which layer: write its number (K^{{l}}, \\delta^{{l}}, a^{{l-1}}); the "
                     f"candidates are layers {listed}")
    return candidates[0]


def _arrays(ls, la: LayerArrays) -> dict:
    out = {"delta": la.delta, "in": la.inp}
    if la.K is not None:
        out |= {"K": la.K, "rot": la.K[:, :, ::-1, ::-1] if la.K.ndim == 4 else la.K[:, :, ::-1],
                "b": la.db * 0}          # b's value never enters a gradient formula
    return out


def _check_arity(ls, refs, arrays) -> None:
    for r in refs:
        if r.kind not in arrays:
            raise Unread(f"{r.kind} is not an array of layer {ls.index} ({ls.type})", r.position)
        arr = arrays[r.kind]
        n = len(r.index)
        spatial = len(ls.in_shape) - 1 if r.kind != "b" else 0
        channels = arr.ndim - spatial
        if n == arr.ndim:
            continue
        if n == spatial and all(s == 1 for s in arr.shape[:channels]):
            continue
        names = {"K": "c, c', u, v", "rot": "c, c', u, v", "delta": "c, i, j", "in": "c', m, n",
                 "b": "c"}[r.kind]
        raise Unread(f"{n} indices on {r.kind}, whose entries of layer {ls.index} take {arr.ndim} "
                     f"({names}; shape {'×'.join(map(str, arr.shape))}); write every channel index",
                     r.position)


def _judge(ck: ConvChecker, claim, lhs: Ref, rhs, link: int, text: str) -> Verdict:
    ls = _layer_of(ck, lhs, rhs)
    arrays0 = _arrays(ls, ck.points[0][ls.index])
    refs = _refs(rhs, [])
    _check_arity(ls, [lhs] + refs, {**arrays0, "b": np.zeros(ls.out_shape[0])})
    if lhs.kind == "rot" or lhs.kind == "delta":
        raise Unread("the gradient of K, b or the layer's input on the left side", lhs.position)
    if lhs.kind in ("K", "b") and not ls.type.startswith("conv"):
        raise Unread(f"layer {ls.index} ({ls.type}) has no parameters", lhs.position)
    free_lhs = [i for i in lhs.index if i[0] == "var"]
    if any(i[0] not in ("var", "num") for i in lhs.index):
        raise Unread("plain index letters or numbers on the left side (K_{u,v}, x_{m,n})",
                     lhs.position)
    names = [i[1] for i in free_lhs]
    if not refs:
        raise Unread("a number is checked at the spec's values; this claim has no entry of "
                     "δ, x, a or K (write the formula, or check numbers with `eval`)", 0)
    kernel = ls.kernel or (1,)
    sizes = {"k_h", "k_w"} | ({"k"} if len(set(kernel)) == 1 else set())   # the kernel's size
    extra = sorted(_free(rhs) - set(names) - sizes)
    truth_key = {"K": "dK", "b": "db", "in": "dinp"}[lhs.kind]
    span = _extents(rhs, arrays0)
    span["*"] = max(max(ls.in_shape[1:]), *(ls.kernel or (1,))) + max(ls.padding or (0,)) * 2 + 3
    budget = [MAX_WORK]
    for base in (0, 1):
        bad = _first_bad(ck, ls, lhs, rhs, names, extra, truth_key, base, span, budget)
        if bad is None:
            notes = ("indices read from 1",) if base == 1 else ()
            return Verdict(claim.line, text, "correct", link=link, method=
                           f"entry by entry at {N_POINTS} random test points (numeric.conv)",
                           notes=notes)
        if base == 0:
            first_bad = bad
    diagnosis = _diagnose(ck, ls, lhs, rhs, names, extra, span, budget)
    return Verdict(claim.line, text, "incorrect", link=link, diagnosis=diagnosis,
                   counterexample=first_bad, expected=_expected(ck, ls, lhs.kind),
                   method=f"entry by entry at {N_POINTS} random test points (numeric.conv)")


def _expected(ck, ls, kind: str) -> str:
    """The derivation's formula of the left side (indices from 0, zero padding)."""
    f = ck.model.derivation.layer(ls.index)
    eq = {"K": f.kernel_grad, "b": f.bias_grad, "in": f.input_grad}[kind]
    if eq is None:
        return ""
    return f"dE/d{eq.lhs.variables[0]} = {eq.rhs}".replace("\\", "")


def _assignments(lhs: Ref, shape, names, extra, base, ls):
    """Every value of the free indices: the LHS's over its array, an unsummed one over a
    window of positions.  The kernel's size is there as k_h, k_w (and k when square), so
    that a flipped kernel can be written K_{k-1-u}."""
    kernel = ls.kernel or (1,)
    fixed = {"k_h": kernel[0], "k_w": kernel[-1]} | ({"k": kernel[0]} if len(set(kernel)) == 1 else {})
    fixed = {k: v for k, v in fixed.items() if k not in names and k not in extra}
    ranges = []
    for pos, i in zip(range(len(shape) - len(lhs.index), len(shape)), lhs.index):
        if i[0] == "var":
            ranges.append((i[1], range(base, shape[pos] + base)))
    for n in extra:
        ranges.append((n, range(base, base + min(3, max(ls.out_shape[1:])))))
    keys = [k for k, _ in ranges]
    for combo in itertools.product(*[r for _, r in ranges]):
        yield fixed | dict(zip(keys, combo))


def _truth_at(arr, lhs: Ref, env, base) -> float:
    idx = _padded(tuple(_ival(i, env) - base for i in lhs.index), arr.ndim)
    return float(arr[idx])


def _first_bad(ck, ls, lhs, rhs, names, extra, truth_key, base, span, budget):
    for p, layers in enumerate(ck.points):
        la = layers[ls.index]
        arrays = _arrays(ls, la)
        truth = getattr(la, truth_key)
        for env in _assignments(lhs, truth.shape, names, extra, base, ls):
            want = _truth_at(truth, lhs, env, base)
            got = _value(rhs, env, arrays, base, span, budget)
            if not (abs(got - want) <= TOL * max(1.0, abs(want))):
                return {"at": {"test point": p + 1} | {k.replace("prime", "'"): int(v)
                                                       for k, v in env.items()
                                                       if k not in ("k", "k_h", "k_w")},
                        "lhs": want, "rhs": got}
    return None


def _diagnose(ck, ls, lhs, rhs, names, extra, span, budget) -> str | None:
    if extra:
        refs = _refs(rhs, [])
        channel = {r.index[0][1] for r in refs if r.kind in ("delta", "K", "rot") and
                   len(r.index) > len(ls.in_shape) - 1 and r.index[0][0] == "var"}
        what = [n for n in extra if n in channel]
        if what:
            return (f"missing sum over the channels ({', '.join(what)}): every output channel's "
                    "error reaches the input, and every input channel enters a kernel")
        return (f"missing sum over positions ({', '.join(extra)}): a shared weight's gradient "
                "sums δ · input over every output position it touches")
    la0 = ck.points[0][ls.index]
    for k, (label, what, _) in enumerate(la0.mutants):
        if what == lhs.kind and _matches_mutant(ck, ls, lhs, rhs, names, k, span, budget):
            return label
    return None


def _matches_mutant(ck, ls, lhs, rhs, names, k: int, span, budget) -> bool:
    """Does the claim equal the ``k``-th mutated truth at every point and index (from 0 or 1)?"""
    for base in (0, 1):
        if all(_agrees(layers[ls.index].mutants[k][2], lhs, rhs, names, base, span, budget,
                       _arrays(ls, layers[ls.index]), ls) for layers in ck.points):
            return True
    return False


def _agrees(target, lhs, rhs, names, base, span, budget, arrays, ls) -> bool:
    for env in _assignments(lhs, target.shape, names, [], base, ls):
        want = _truth_at(target, lhs, env, base)
        got = _value(rhs, env, arrays, base, span, budget)
        if not abs(got - want) <= TOL * max(1.0, abs(want)):
            return False
    return True
