r"""Optimiser update lines (issue #20): ``m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t``,
``\hat v_t``, ``s_t``, ``v``, ``\theta_{t+1}``, ``w_{t+1} = w_t - \eta \hat m_t/(\sqrt{\hat v_t}+\epsilon)``.

A line whose left side is an optimiser quantity is read here, by its own small
reader over the claim grammar's tree (``formula.grammar``; never eval or sympify).
Names: the state letters m, v, s, r (\hat m, \hat v), the parameter θ (every
parameter), w or W (the weights) or b (the biases), the gradient g (after L2-style
weight decay, as torch's documentation writes g_t) and ∇/∂E/∂θ (the batch gradient
itself), sums ``\sum_i \nabla \ell_i`` over the B examples of a step; β₁, β₂, ε, η
(lr), μ, ρ (RMSProp's decay), λ and t.  A subscript says when: on the left t (or t+1),
on the right t−1 (or t) is the value before the step; the same letter without an index
on both sides is the old value (an assignment ``v \leftarrow \mu v + g``).

The truth is PyTorch's update (``numeric.optimizers``) written here in SymPy from the
spec's ``[optimizer]``, and a line is checked for every parameter at the states of the
spec's first three steps (``Model.steps``) and at random states, in 40-digit arithmetic.
A velocity may follow any of the usual conventions (v ← μv + g with θ − ηv, PyTorch's;
v ← μv − ηg with θ + v, the textbook's; v ← μv + ηg with θ − v): the first velocity line
of a file fixes it for the lines after it.  A wrong line is matched against the classic
mistakes (``MISTAKES``); the counterexample is the parameter and step where the two
sides differ.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

import sympy as sp

from ..formula.grammar import Node, normalise, parser
from ..formula.ops import FormulaError
from .verdict import Verdict

STATES = {"sgd": ("v",), "momentum": ("v",), "nesterov": ("v",), "rmsprop": ("s",),
          "adam": ("m", "v", "mhat", "vhat"), "adamw": ("m", "v", "mhat", "vhat")}
PARAMS = {"theta": "every parameter", "w": "the weights", "b": "the biases"}
LETTERS = {"m": "m", "v": "v", "s": "s", "r": "s", "g": "g", "theta": "theta", "\\theta": "theta",
           "w": "w", "W": "w", "b": "b"}
CONVENTIONS = {1: "PyTorch's v ← μv + g, θ ← θ − ηv", "-eta": "the textbook's v ← μv − ηg, "
               "θ ← θ + v", "eta": "v ← μv + ηg, θ ← θ − v", -1: "v ← μv − g, θ ← θ + ηv"}
TOLERANCE = sp.Rational(1, 10 ** 28)
DIGITS = 40


class NotOptimizer(Exception):
    """The line is not an optimiser update: the usual checker reads it."""


@dataclass(frozen=True)
class Ref:
    key: str                  # m v s mhat vhat theta w b g
    offset: int | None        # the index as t + offset; None: written without one


# ---- reading --------------------------------------------------------------------------

def _index(node: Node) -> int | None:
    """t → 0, t+1 → 1, t-1 → −1; anything else a FormulaError."""
    while node.kind in ("group", "args", "paren") and len(node.args) == 1:
        node = node.args[0]
    if node.kind == "NAME" and node.text == "t":
        return 0
    if node.kind == "binop" and len(node.args) == 3 and node.args[0].kind == "NAME" \
            and node.args[0].text == "t" and node.args[2].kind == "NUMBER" \
            and node.args[2].text == "1" and node.args[1].text in ("+", "-", "\u2212"):
        return 1 if node.args[1].text == "+" else -1
    raise FormulaError("an optimiser quantity's index must be t, t+1 or t-1 (the step)",
                       node.start, "t, t+1 or t-1")


HAT = re.compile(r"\\(?:hat|widehat)\s*\{\s*([mv])\s*\}")


def ref_of(node: Node) -> Ref | None:
    """The optimiser quantity ``node`` names, or None."""
    if node.kind == "sub":
        base = ref_of(node.args[0])
        if base is None or base.offset is not None:
            return None
        return Ref(base.key, _index(node.args[1]))
    if node.kind in ("NAME", "COMMAND") and node.text in LETTERS:
        return Ref(LETTERS[node.text], None)
    if node.kind == "WRAPPED":
        m = HAT.fullmatch(node.text)
        return Ref(m[1] + "hat", None) if m else None
    if node.kind == "juxt" and len(node.args) == 2 and node.args[0].kind == "COMMAND" \
            and node.args[0].text in ("\\hat", "\\widehat"):
        inner = ref_of(node.args[1])
        if inner is not None and inner.key in ("m", "v"):
            return Ref(inner.key + "hat", inner.offset)
    return None


def sides(text: str) -> tuple[Node, Node, str]:
    """(left, right, relation) of a two-sided line, or NotOptimizer."""
    try:
        tree = parser().parse(normalise(text))
    except Exception:                       # noqa: BLE001 — the usual reader reports it
        raise NotOptimizer from None
    parts = tree.args if tree.kind == "equation" else ()
    if len(parts) != 3:
        raise NotOptimizer
    return parts[0], parts[2], parts[1].text


def left_ref(ctx, text: str) -> Ref:
    """The left side's quantity when ``text`` is an optimiser line of this spec."""
    left, right, _ = sides(text)
    try:
        ref = ref_of(left)
    except FormulaError:
        raise NotOptimizer from None
    if ref is None or ref.offset not in (None, 0, 1):
        raise NotOptimizer
    opt = getattr(ctx.model.spec, "optimizer", None) if ctx.model is not None else None
    optimiser_words = re.search(r"\\hat|\\beta|\\epsilon|\\varepsilon|\\mu|\\rho|\\nabla|"
                                r"\\sqrt|\bbeta|\beps|\bmu\b|_\{?\s*t", text)
    if ref.key in ("m", "v", "s", "mhat", "vhat"):
        # a state letter is the optimiser's only in a spec whose optimiser has that state
        # (s = W x + b is CS231n's scores; m a batch's size)
        name = opt.name if opt is not None else None
        if name == "sgd" and opt.momentum:
            name = "momentum"
        known = STATES.get(name, ()) + (("v", "r") if name == "rmsprop" else ())
        if name is None or ref.key not in known:
            raise NotOptimizer
        return ref
    if ref.key == "g" and ref.offset is None:
        raise NotOptimizer                  # g ← ∇_ŷ J (Goodfellow's backprop): not a step's
    if opt is None and ref.offset is None:
        raise NotOptimizer                  # θ ← θ − ε g without [optimizer]: the usual reader
    if ref.key == "theta" and opt is not None:
        return ref                          # θ is no network name: the optimiser's parameter
    if ref.key in ("theta", "w", "b", "g") and ref.offset is None and not optimiser_words:
        raise NotOptimizer                  # w ← w − η ∂E/∂w: checker/updates.py
    if ref.key == "g" and not optimiser_words:
        raise NotOptimizer
    if ref.key in ("m", "v", "s", "mhat", "vhat") or opt is not None or optimiser_words:
        return ref
    raise NotOptimizer


@dataclass
class Reader:
    """Builds a claim side's SymPy value: ``refs`` maps (key, when) to a symbol."""

    name: str
    lhs: Ref
    anchor: list             # offsets of the current step's quantities seen on the right
    letter: str | None = None   # the parameter letter the right side uses (θ, w, b)

    def hyper(self, node: Node) -> sp.Symbol | None:
        text = node.text
        sub = None
        if node.kind == "sub" and node.args[0].kind in ("COMMAND", "NAME"):
            text, sub = node.args[0].text, node.args[1]
            while sub.kind in ("group", "args") and len(sub.args) == 1:
                sub = sub.args[0]
            sub = sub.text
        text = text.lstrip("\\")
        if text in ("beta1", "beta2") and sub is None:
            text, sub = "beta", text[-1]
        if text == "beta":
            if sub in ("1", "2") and self.name in ("adam", "adamw"):
                return H[f"beta{sub}"]
            if sub is None and self.name in ("momentum", "nesterov", "sgd"):
                return H["mu"]
            raise FormulaError(f"β{'_' + sub if sub else ''} is not a hyper-parameter of "
                               f"{self.name}", node.start, "β_1, β_2 (Adam), μ (momentum)")
        if sub is not None:
            return None
        if text in ("epsilon", "varepsilon", "eps"):
            return H["eps"]
        if text in ("eta", "lr"):
            return H["lr"]
        if text in ("mu", "momentum"):
            return H["mu"]
        if text in ("lambda", "wd"):
            return H["lambda"]
        if text == "rho" and self.name == "rmsprop":
            return H["alpha"]
        if text == "alpha":
            if self.name in ("adam", "adamw"):
                return H["lr"]              # Kingma and Ba's step size α
            if self.name == "rmsprop":
                return H["alpha"]           # PyTorch's smoothing constant
            raise FormulaError("α is the momentum in some texts and the learning rate in "
                               "others; write μ or η", node.start, "μ or η")
        if text == "gamma":
            raise FormulaError("γ is the momentum in some texts and the learning rate in "
                               "PyTorch's; write μ or η", node.start, "μ or η")
        return None

    def value(self, node: Node) -> sp.Expr:
        k = node.kind
        if k == "NUMBER":
            mantissa, _, exponent = node.text.lower().partition("e")
            if len(mantissa) > 30 or (exponent and abs(int(exponent)) > 300):
                raise FormulaError("a number too long for an optimiser's constant", node.start,
                                   "at most 30 digits and exponents within ±300")
            return sp.Rational(node.text)
        if k in ("paren", "group", "args") and len(node.args) == 1:
            return self.value(node.args[0])
        if k == "binop":
            a, op, b = node.args
            x, y = self.value(a), self.value(b)
            o = op.text
            if o in ("+",):
                return x + y
            if o in ("-", "\u2212"):
                return x - y
            if o in ("/", "\\div"):
                return x / y
            return x * y
        if k == "unary":
            v = self.value(node.args[1])
            return -v if node.args[0].text in ("-", "\u2212") else v
        if k == "frac":
            num, den = node.args[1], node.args[2]
            if _has(num, ("dpart", "dbare", "PARTIAL")):
                return G                  # ∂E/∂θ: the batch gradient
            return self.value(num) / self.value(den)
        if k == "sup":
            base, _, exp = node.args
            power = self.value(exp)
            linear = power.free_symbols == {T} and power.is_polynomial(T) and \
                sp.Poly(power, T).degree() == 1 and \
                all(c.is_Rational and abs(c) <= 64 for c in sp.Poly(power, T).all_coeffs())
            small = not power.free_symbols and power.is_Rational and abs(power.p) <= 64 \
                and power.q <= 64
            if not (linear or small):
                raise FormulaError("an exponent other than t, t ± 1 or a small number",
                                   exp.start, "β^t, g^2")
            return self.value(base) ** power
        if k == "juxt":
            factors = _flat(node)
            if factors[0].kind == "binop" and _ends_prefix(factors[0]):
                return self.value(_graft(factors[0], factors[1:]))    # a / \sqrt{…}
            return self.product(factors)
        if k == "call" and node.args[0].kind == "NAME" and node.args[0].text == "sqrt":
            return sp.sqrt(self.value(node.args[1]))
        if k == "call" and len(node.args[1].args) == 1 and self._is_factor(node.args[0]):
            return self.value(node.args[0]) * self.value(node.args[1])   # η (g + μ v)
        if k == "sum":
            if not _has(node.args[2], ("NABLA",)) and not _mentions_g(node.args[2]):
                raise FormulaError("a sum over the mini-batch of something other than the "
                                   "examples' gradients", node.start, "\\sum_i \\nabla \\ell_i")
            return NB * GBAR
        if k == "NAME" and node.text in ("B", "m", "n", "N") and self.lhs.key not in ("m",):
            return NB
        if k == "NAME" and node.text == "t":
            return self.step()
        h = self.hyper(node)
        if h is not None:
            return h
        ref = ref_of(node)
        if ref is not None:
            return self.quantity(ref, node)
        if _is_nabla(node):
            _nabla_of(node)
            return G
        raise FormulaError(f"{node.text or k!r} is not a name of an optimiser update",
                           node.start, "m, v, s, \\hat m, \\hat v, θ/w/b, g, β_1, β_2, ε, η, μ, λ, t")

    def product(self, factors: list[Node]) -> sp.Expr:
        """A run of juxtaposed factors; \\sqrt, \\hat and ∇ apply to what follows them."""
        out, i = sp.Integer(1), 0
        while i < len(factors):
            f = factors[i]
            if f.kind in ("COMMAND", "ROOT") and f.text == "\\sqrt":
                if i + 1 >= len(factors):
                    raise FormulaError("\\sqrt of nothing", f.start, "\\sqrt{…}")
                out *= sp.sqrt(self.product(factors[i + 1:i + 2]))
                i += 2
                continue
            if f.kind == "COMMAND" and f.text in ("\\hat", "\\widehat") and i + 1 < len(factors):
                ref = ref_of(Node("juxt", (f, factors[i + 1]), f.start, factors[i + 1].end))
                if ref is None:
                    raise FormulaError("\\hat of something other than m or v", f.start, "\\hat m, \\hat v")
                out *= self.quantity(ref, f)
                i += 2
                continue
            if _is_nabla(f):
                # ∇ L(θ), ∇_θ J, ∇f(θ_{t-1}): the gradient; the function after it is its name
                _nabla_of(f)
                out *= G
                i += 1
                while i < len(factors) and factors[i].kind in ("NAME", "COMMAND", "call", "paren", "sub") \
                        and not _is_nabla(factors[i]) and not self._is_factor(factors[i]):
                    i += 1
                continue
            out *= self.value(f)
            i += 1
        return out

    def _is_factor(self, node: Node) -> bool:
        """Is ``node`` a hyper-parameter or quantity (not the name of the loss after ∇)?"""
        try:
            return self.hyper(node) is not None or ref_of(node) is not None
        except FormulaError:
            return True

    def step(self) -> sp.Expr:
        """t as the step number T: the current step's quantities are indexed t + anchor."""
        lhs = self.lhs
        if lhs.key not in ("theta", "w", "b"):
            return T - (lhs.offset or 0)
        if not self.anchor:
            raise FormulaError("t in an update of θ with no quantity of the step indexed by t "
                               "(which step is t?)", 0, "g_t, \\hat m_t, … with their index")
        return T - self.anchor[0]

    def quantity(self, ref: Ref, node: Node) -> sp.Expr:
        lhs = self.lhs
        param = ref.key in PARAMS
        if param and lhs.key in PARAMS and ref.key != lhs.key:
            raise FormulaError(f"{ref.key} on the right of an update of {lhs.key}", node.start,
                               lhs.key)
        before = lhs.offset - 1 if lhs.offset is not None else None
        if param:
            self.letter = ref.key
            if ref.offset in (before, None) or (lhs.key == "g" and ref.offset in (0, before)):
                return TH
            raise FormulaError("the parameter on the right must be the one before the step "
                               f"({lhs.key}_{{t}} for {lhs.key}_{{t+1}})", node.start, "θ_t")
        if ref.key == "g":
            if lhs.key == "g":
                return G        # torch's g_t ← g_t + λθ_{t−1}: the gradient before the decay
            if ref.offset is not None:
                self.anchor.append(ref.offset)
            return CUR["g"]
        if ref.key not in STATES[self.name] and not (ref.key == "v" and self.name == "rmsprop"):
            raise FormulaError(f"{ref.key} is not a state of {self.name}", node.start,
                               ", ".join(STATES[self.name]))
        key = "s" if self.name == "rmsprop" and ref.key == "v" else ref.key
        same = key == ("s" if self.name == "rmsprop" and lhs.key == "v" else lhs.key)
        if same and (ref.offset == before and (ref.offset is not None or lhs.offset is None)):
            return PREV[key]
        if same:
            raise FormulaError(f"{ref.key} on both sides at the same step", node.start,
                               f"{ref.key}_{{t-1}}")
        if lhs.key in PARAMS:
            if ref.offset is not None:
                self.anchor.append(ref.offset)
            return CUR[key]
        if ref.offset in (lhs.offset, None):
            return CUR[key]
        raise FormulaError(f"{ref.key} at another step than the line's", node.start,
                           f"{ref.key}_t")


PREFIX = ("\\sqrt", "\\hat", "\\widehat", "\\nabla")


def _ends_prefix(node: Node) -> bool:
    r"""Does the binop ``node`` end in \sqrt, \hat or ∇ (whose argument the grammar put
    after the whole product: ``a / \sqrt{v}`` is read (a / \sqrt) {v})?"""
    while node.kind == "binop":
        node = node.args[2]
    return node.kind in ("COMMAND", "ROOT", "NABLA") and node.text in PREFIX


def _graft(node: Node, rest: list[Node]) -> Node:
    a, op, b = node.args
    if b.kind == "binop":
        b = _graft(b, rest)
    else:
        for r in rest:
            b = Node("juxt", (b, r), b.start, r.end)
    return Node("binop", (a, op, b), node.start, b.end)


def _flat(node: Node) -> list[Node]:
    out = []
    while node.kind == "juxt":
        out.insert(0, node.args[1])
        node = node.args[0]
    return [node] + out


def _is_nabla(node: Node) -> bool:
    return (node.kind in ("COMMAND", "NABLA") and node.text in ("\\nabla", "\u2207")) or (
        node.kind == "sub" and _is_nabla(node.args[0]))


def _nabla_of(node: Node) -> None:
    """∇ or ∇_θ (∇_w, ∇_b, ∇_W): the parameters' gradient; ∇_ŷ, ∇_a … are not."""
    if node.kind == "sub":
        wrt = node.args[1]
        while wrt.kind in ("group", "args") and len(wrt.args) == 1:
            wrt = wrt.args[0]
        if wrt.text not in ("\\theta", "theta", "w", "W", "b", "\\mathbf{w}"):
            raise FormulaError("a gradient with respect to something other than the "
                               "parameters", node.start, "\\nabla_\\theta")


def _has(node, kinds) -> bool:
    if not isinstance(node, Node):
        return False
    if node.kind in kinds or (node.kind == "COMMAND" and node.text == "\\nabla" and "NABLA" in kinds):
        return True
    return any(_has(a, kinds) for a in node.args)


def _mentions_g(node) -> bool:
    if not isinstance(node, Node):
        return False
    if node.kind == "sub" and node.args[0].kind == "NAME" and node.args[0].text == "g":
        return True
    return any(_mentions_g(a) for a in node.args)


# ---- the truth --------------------------------------------------------------------------

H = {k: sp.Symbol(f"h_{k}") for k in ("lr", "mu", "beta1", "beta2", "eps", "alpha", "lambda")}
TH, GBAR, NB, T = sp.symbols("theta_prev gbar n_batch t_step")
PREV = {k: sp.Symbol(f"{k}_prev") for k in ("m", "v", "s")}
CUR = {k: sp.Symbol(f"{k}_cur") for k in ("g", "m", "v", "s", "mhat", "vhat", "theta")}
G = sp.Symbol("G")          # the batch gradient as the spec reduces it


def truth(name: str, weight: bool, mean: bool, decay_biases: bool, c, flags=frozenset()) -> dict:
    """Every quantity of one step of ``name`` (PyTorch's formulas) for a weight or a bias,
    with the velocity in convention ``c``; ``flags``: the mistakes of ``MISTAKES``."""
    lam, eta = H["lambda"], H["lr"]
    decayed = weight or decay_biases or "bias_decay" in flags
    if "no_decay" in flags:
        decayed = False
    decoupled = (name == "adamw") != ("l2_swap" in flags)
    reduce_mean = mean != ("reduction" in flags)
    grad = GBAR if reduce_mean else NB * GBAR
    g = grad + (lam * TH if decayed and not decoupled else 0)
    out = {"G": grad, "g": g}
    start = TH * (1 - eta * lam) if decayed and decoupled else TH
    if name in ("sgd", "momentum", "nesterov"):
        if name == "sgd":                   # μ = 0 (SGD with μ > 0 is read as "momentum")
            out["theta"] = start - eta * g
            return out
        cc = c if c in (1, -1) else (eta if c == "eta" else -eta)
        vel = H["mu"] * PREV["v"] + cc * g
        out["v"] = vel
        step = -(eta / cc) * vel
        if name == "nesterov" and "no_lookahead" not in flags:
            step = -eta * g - (eta / cc) * H["mu"] * vel
        out["theta"] = start + (-step if "sign" in flags else step)
        return out
    root = (lambda x: x) if "no_sqrt" in flags else sp.sqrt
    if name == "rmsprop":
        s = H["alpha"] * PREV["s"] + (1 - H["alpha"]) * g ** 2
        out["s"] = s
        den = root(s + H["eps"]) if "eps_inside" in flags else root(s) + H["eps"]
        out["theta"] = start - eta * g / den
        return out
    m = H["beta1"] * PREV["m"] + (1 - H["beta1"]) * g
    v = H["beta2"] * PREV["v"] + (1 - H["beta2"]) * g ** 2
    t = T - 1 if "t_from_0" in flags else T
    mhat, vhat = (m, v) if "no_bias_correction" in flags else (
        m / (1 - H["beta1"] ** t), v / (1 - H["beta2"] ** t))
    den = root(vhat + H["eps"]) if "eps_inside" in flags else root(vhat) + H["eps"]
    out.update(m=m, v=v, mhat=mhat, vhat=vhat, theta=start - eta * mhat / den)
    return out


MISTAKES = [  # (flag, diagnosis, optimisers it can arise in)
    ("no_bias_correction", "missing bias correction: Adam divides by 1 − β₁ᵗ and 1 − β₂ᵗ "
     "(m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)); without it the first steps are too small",
     ("adam", "adamw")),
    ("t_from_0", "β^t counted from 0: the bias correction uses 1 − β^{t−1}; with t counted "
     "from 1 (the first step is t = 1) it is 1 − βᵗ", ("adam", "adamw")),
    ("eps_inside", "ε inside the square root: PyTorch adds ε after the root, √(·) + ε, not √(· + ε)",
     ("adam", "adamw", "rmsprop")),
    ("no_sqrt", "no square root: RMSProp divides by the root of the running mean, "
     "g/(√s + ε)", ("rmsprop",)),
    ("sign", "wrong momentum sign: with this velocity the step goes the other way",
     ("momentum", "nesterov")),
    ("no_lookahead", "Nesterov look-ahead missing: this is plain momentum; Nesterov steps by "
     "g + μv (PyTorch), the gradient at the look-ahead point θ + μv", ("nesterov",)),
    ("bias_decay", "decay applied to biases: the spec decays the weights only "
     "(decay_biases = false)", ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")),
    ("l2_swap", "L2 confused with decoupled decay: ", ("sgd", "momentum", "nesterov", "rmsprop",
                                                       "adam", "adamw")),
    ("no_decay", "the weight decay λ is left out", ("sgd", "momentum", "nesterov", "rmsprop",
                                                    "adam", "adamw")),
    ("reduction", "mean vs sum over the mini-batch: ", ("sgd", "momentum", "nesterov",
                                                        "rmsprop", "adam", "adamw")),
]


def _l2_text(name: str) -> str:
    if name == "adamw":
        return ("AdamW decays θ ← θ(1 − ηλ) beside the step (decoupled); adding λθ to the "
                "gradient is an L2 penalty, which Adam divides by √v̂")
    return ("this optimiser adds λθ to the gradient (L2, torch's weight_decay); θ(1 − ηλ) "
            "beside the step is AdamW's decoupled decay")


# ---- the test points ---------------------------------------------------------------

def _q(x) -> sp.Rational:
    return sp.Rational(x) if not isinstance(x, sp.Basic) else x


def spec_points(model, name: str, c) -> list[tuple[str, bool, dict]]:
    """(where, is a weight, values) at every parameter of the spec's first three steps."""
    steps = model.steps(3)
    weights = {s for layer in model.network.dense_layers for s in layer.W}
    mean = model.spec.batch == "mean"
    out = []
    for st in steps.steps:
        prev = steps.steps[st.t - 2] if st.t > 1 else None
        n = len(st.examples)
        for p, theta in st.old.items():
            vals = {TH: _q(theta), GBAR: _q(st.grad[p]) / (1 if mean else n), NB: sp.Integer(n),
                    T: sp.Integer(st.t), H["lr"]: _q(st.lr)}     # η of this step (a schedule)
            for key, torch_key in (("m", "m"), ("v", "v"), ("s", "s")):
                value = prev.state(torch_key)[p] if prev is not None and torch_key in dict(prev.states) else 0
                vals[PREV[key]] = _q(value)
            if name in ("momentum", "nesterov"):   # the buffer in convention c
                vals[PREV["v"]] *= _q({1: 1, -1: -1, "eta": st.lr, "-eta": -st.lr}[c])
            where = f"{model.notation.text.get(p, str(p))} at step {st.t} of the spec's run"
            out.append((where, p in weights, vals))
    return out


def random_points(seed: int = 20) -> list[tuple[str, bool, dict]]:
    """States drawn at random (t = 2 and 5, mini-batches of 2 and 3; one point of small
    gradients, where ε matters), each for a weight and for a bias."""
    rng = random.Random(seed)
    out = []
    for i, (t, nb, small) in enumerate([(2, 2, False), (5, 3, False), (3, 2, True)]):
        f = sp.Rational(1, 10 ** 5) if small else 1
        r = lambda lo, hi: sp.Rational(rng.randint(int(lo * 1000), int(hi * 1000)), 1000)  # noqa: E731
        vals = {TH: r(-1, 1), GBAR: r(-1, 1) * f, NB: sp.Integer(nb), T: sp.Integer(t),
                PREV["m"]: r(-1, 1) * f, PREV["v"]: r(0.01, 1) * f * f, PREV["s"]: r(0.01, 1) * f * f}
        for weight in (True, False):
            out.append((f"random state {i + 1} ({'a weight' if weight else 'a bias'})", weight, vals))
    return out


def hyper_values(model, opt, lr) -> dict:
    R = lambda v: sp.Rational(str(v))       # noqa: E731
    if opt is None:
        return {H["lr"]: R(lr), H["mu"]: 0, H["beta1"]: 0, H["beta2"]: 0, H["eps"]: 0,
                H["alpha"]: 0, H["lambda"]: 0}
    return {H["lr"]: R(lr), H["mu"]: R(opt.momentum), H["beta1"]: R(opt.beta1),
            H["beta2"]: R(opt.beta2), H["eps"]: R(opt.eps), H["alpha"]: R(opt.alpha),
            H["lambda"]: R(opt.weight_decay)}


def _number(expr, vals):
    v = sp.N(expr.xreplace(vals), DIGITS)
    return v if v.is_real and v.is_finite else None


def _agree(a, b) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) <= TOLERANCE * max(abs(a), abs(b), sp.Rational(1, 10 ** 12))


# ---- the verdict -------------------------------------------------------------------------

def velocity_convention(ctx, texts) -> object | None:
    """The convention the first velocity line among ``texts`` (earlier lines) follows."""
    for text in texts:
        try:
            ref = left_ref(ctx, text)
        except NotOptimizer:
            continue
        if ref.key != "v":
            continue
        found = _matches(ctx, text, ref)
        if found:
            return found[0]
    return None


def _setting(ctx):
    model = ctx.model
    opt = model.spec.optimizer
    name = opt.name if opt else "sgd"
    if name == "sgd" and opt is not None and opt.momentum:
        name = "momentum"
    return model, opt, name


def _matches(ctx, text, ref, conventions=None) -> list:
    """The velocity conventions under which the line ``text`` is right (empty: none)."""
    try:
        model, opt, name = _setting(ctx)
        claimed, reader = _claimed(ctx, text, ref, name)
    except (FormulaError, NotOptimizer):
        return []
    found = []
    for c in conventions or ([1, "-eta", "eta", -1] if name in ("momentum", "nesterov") else [1]):
        if _first_difference(ctx, claimed, ref, name, c, frozenset(), reader.letter) is None:
            found.append(c)
    return found


def _claimed(ctx, text, ref, name):
    _, right, _ = sides(text)
    reader = Reader(name, ref, [])
    return reader.value(right), reader


def _first_difference(ctx, claimed, ref, name, c, flags, letter=None):
    """The first point where the claim and the truth (with ``flags``) differ, or None;
    ``letter``: the parameter letter the right side uses (w, b: only those)."""
    model, opt, _ = _setting(ctx)
    lr = model.learning_rate()
    hyper = hyper_values(model, opt, lr)
    mean = model.spec.batch == "mean"
    biases = bool(opt and opt.decay_biases)
    key = {"w": "theta", "b": "theta", "r": "s"}.get(ref.key, ref.key)
    if name == "rmsprop" and key == "v":
        key = "s"
    # with a schedule, conventions with η inside v agree with PyTorch only for constant η:
    # the spec's run is left out for them (random states still test the formula)
    run = [] if (c in ("eta", "-eta") and opt is not None and opt.schedule is not None) \
        else spec_points(model, name, c)
    for where, weight, vals in run + random_points():
        if (ref.key == "w" and not weight) or (ref.key == "b" and weight):
            continue
        if ref.key == "g" and letter in ("w", "b") and (letter == "w") != weight:
            continue                        # g_t = ∇E(w) + λw: the weights' gradient
        world = truth(name, weight, mean, biases, c, flags)
        if key not in world:
            raise FormulaError(f"{ref.key} is not a quantity of {name}", 0,
                               ", ".join(STATES[name]))
        # the right side's quantities of the step are the true ones (a mistake is in this
        # line, not in the lines that define them), except where the mistake is a whole
        # model of the step: decay taken as L2 for decoupled (or back) moves it into m̂
        right = truth(name, weight, mean, biases, c) if flags and "l2_swap" not in flags else world
        current = {CUR[k]: right[k] for k in CUR if k in right}
        current[G] = right["G"]
        at = {**hyper, **vals}
        want = _number(world[key], at)
        got = _number(claimed.xreplace(current), at)
        if flags and want is None and got is None:
            continue                        # undefined for both (1 − β⁰ = 0 at t = 1)
        if not _agree(want, got):
            return where, want, got, vals
    return None


def optimizer_verdicts(ctx, line: int, text: str, before: tuple[str, ...] = ()) -> list[Verdict]:
    """The verdict on one optimiser line (NotOptimizer: not one)."""
    ref = left_ref(ctx, text)
    left, right, relation = sides(text)
    eq = re.search(r":=|\\leftarrow|\\gets|\u2190|\u2254|=", text[left.end:])
    lhs = text[:left.end + eq.start()] if eq else text[:left.end]
    rhs = text[left.end + eq.end():] if eq else text[right.start:]
    base = dict(line=line, text=text, lhs=lhs.strip(), rhs=rhs.strip(), relation=relation)
    if ctx.model is None:
        return [Verdict(verdict="unparseable", message="an optimiser update is checked against "
                        "a spec's [optimizer]; give a spec", **base)]
    model, opt, name = _setting(ctx)
    if opt is not None and opt.name == "rmsprop" and opt.momentum and ref.key in PARAMS:
        return [Verdict(verdict="unparseable", message="RMSProp with momentum: its update of "
                        "θ is not read yet", **base)]
    if opt is None and ref.key in ("m", "v", "s", "mhat", "vhat"):
        return [Verdict(verdict="unparseable", message=f"the spec has no [optimizer], so it "
                        f"has no state {ref.key}; add one (name = \"adam\", …)", **base)]
    try:
        claimed, reader = _claimed(ctx, text, ref, name)
        if ref.key in PARAMS and not (claimed.has(H["lr"]) or claimed.has(CUR["v"])):
            raise FormulaError(f"{lhs.strip()} changes without the learning rate: is it the "
                               "parameter, or a state written with its letter (torch's "
                               "documentation calls the momentum buffer b)?", 0,
                               "η in an update of θ, w or b; v for the velocity")
        conventions = [1]
        if name in ("momentum", "nesterov") and (ref.key == "v" or claimed.has(CUR["v"])):
            fixed = None if ref.key == "v" else velocity_convention(ctx, before)
            conventions = [fixed] if fixed is not None else [1, "-eta", "eta", -1]
        first = None
        for c in conventions:
            diff = _first_difference(ctx, claimed, ref, name, c, frozenset(), reader.letter)
            if diff is None:
                note = (f"checked for {PARAMS.get(ref.key, 'every parameter')} at the spec's "
                        f"first three steps and at random states, with PyTorch's {name}")
                notes = (note,) + ((f"the velocity read as {CONVENTIONS[c]}",)
                                   if name in ("momentum", "nesterov") and claimed.has(CUR["v"])
                                   or (ref.key == "v" and name in ("momentum", "nesterov")) else ())
                return [Verdict(verdict="correct", method="PyTorch's update at the spec's values",
                                notes=notes, **base)]
            first = first or (c, diff)
    except FormulaError as err:
        return [Verdict(verdict="unparseable", message=f"an optimiser update: {err.message}",
                        position=(right.start + err.position) if err.position else right.start,
                        expected=err.expected, **base)]
    c, (where, want, got, vals) = first
    diagnosis = None
    for flag, label, kinds in MISTAKES:
        if name not in kinds:
            continue
        if flag == "bias_decay" and (not (opt and opt.weight_decay) or opt.decay_biases):
            continue
        if flag in ("l2_swap", "no_decay") and not (opt and opt.weight_decay):
            continue
        if _first_difference(ctx, claimed, ref, name, c, frozenset({flag}), reader.letter) is None:
            diagnosis = label + (_l2_text(name) if flag == "l2_swap" else "") + (
                f"the spec's batch loss is the {model.spec.batch} over the examples"
                if flag == "reduction" else "")
            break
    shown = {"t": vals[T], "θ_{t-1}": vals[TH], "g (batch mean)": vals[GBAR]}
    shown.update({f"{k}_{{t-1}}": vals[PREV[k]] for k in STATES[name] if k in PREV})
    cx = {"at": {k: float(v) for k, v in shown.items()}, "lhs": float(want) if want is not None else None,
          "rhs": float(got) if got is not None else None}
    return [Verdict(verdict="incorrect", diagnosis=diagnosis, counterexample=cx,
                    expected=EXPECTED.get((name, "theta" if ref.key in PARAMS else ref.key)),
                    message=f"the two sides differ at {where}", method="PyTorch's update at "
                    "the spec's values", **base)]


EXPECTED = {
    ("sgd", "theta"): "θ_{t+1} = θ_t − η g_t",
    ("momentum", "v"): "v_t = μ v_{t−1} + g_t (PyTorch)", ("momentum", "theta"): "θ_{t+1} = θ_t − η v_t",
    ("nesterov", "v"): "v_t = μ v_{t−1} + g_t", ("nesterov", "theta"): "θ_{t+1} = θ_t − η (g_t + μ v_t)",
    ("rmsprop", "s"): "s_t = α s_{t−1} + (1 − α) g_t²", ("rmsprop", "theta"): "θ_{t+1} = θ_t − η g_t / (√s_t + ε)",
    ("adam", "m"): "m_t = β₁ m_{t−1} + (1 − β₁) g_t", ("adam", "v"): "v_t = β₂ v_{t−1} + (1 − β₂) g_t²",
    ("adam", "mhat"): "m̂_t = m_t / (1 − β₁ᵗ)", ("adam", "vhat"): "v̂_t = v_t / (1 − β₂ᵗ)",
    ("adam", "theta"): "θ_{t+1} = θ_t − η m̂_t / (√v̂_t + ε)",
    ("adamw", "theta"): "θ_{t+1} = θ_t (1 − ηλ) − η m̂_t / (√v̂_t + ε)",
}
for _n in ("sgd", "momentum", "nesterov", "rmsprop", "adam"):
    EXPECTED[(_n, "g")] = "g_t = ∇E(θ_t) + λ θ_t on the weights (λ = weight_decay), ∇E(θ_t) on the biases"
EXPECTED[("adamw", "g")] = "g_t = ∇E(θ_t) (AdamW's decay is θ(1 − ηλ), apart from g)"
for _k in ("m", "v", "mhat", "vhat"):
    EXPECTED[("adamw", _k)] = EXPECTED[("adam", _k)]
