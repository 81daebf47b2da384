"""Which names a formula may use: the scope built from a model's notation.

Every written form of a name is reduced to a key (head, superscript,
subscript) by ``canon``: braces, backslashes, ``_``, spaces and
``\\text{…}``-style wrappers go, and a superscript loses its parentheses, so
``out_{n_9}``, ``out_{n9}`` and ``out_n9`` are ('out', '', 'n9'),
``\\delta^{2}_{1}`` and ``delta^2_1`` are ('delta', '2', '1'), ``w17`` and
``w_{17}`` are ('w', '', '17') and ``E_{\\text{total}}`` is ('E', '', 'total').
The notation's own LaTeX and plain-text names are keyed the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import sympy as sp

from ..core.symbols import GENERIC_NAMES

LOSS = sp.Symbol("E_loss", real=True)

# The learning rate of an update line (θ − η ∂E/∂θ), and the names it is written with.
LR = sp.Symbol("eta_lr", positive=True)
LR_KEYS = {("eta", "", ""), ("lr", "", ""), ("learningRate", "", ""), ("learningrate", "", ""),
           ("learning", "", "rate"), ("alpha", "", ""),
           ("step", "", "size")}                       # CS231n's step_size

# Written names of the loss, whatever the notation calls it.
LOSS_KEYS = {("E", "", ""), ("C", "", ""), ("L", "", ""), ("J", "", ""), ("E", "", "total"),
             ("C", "", "0"), ("E", "", "0"), ("L", "", "0"), ("Etotal", "", ""),
             ("Loss", "", ""), ("loss", "", "")}

GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "η": "eta",
         "θ": "theta", "λ": "lambda", "μ": "mu", "σ": "sigma", "τ": "tau", "φ": "phi",
         "ω": "omega", "Δ": "Delta", "Σ": "Sigma", "ϕ": "phi", "ξ": "xi", "ρ": "rho",
         "ζ": "zeta", "ν": "nu", "κ": "kappa", "ψ": "psi", "χ": "chi", "π": "pi"}

_WRAP = re.compile(r"\\(?:text|textrm|textit|mathrm|mathit|mathbf|mathsf|mathcal|boldsymbol|"
                   r"operatorname)\s*\{([^{}]*)\}")
_HAT = re.compile(r"\\(?:hat|widehat)\s*\{?\s*([A-Za-z])\s*\}?")
_DROP = re.compile(r"[\s{}\\_*]")

INDEX_LETTERS = frozenset("ijklm")

# The new value of a parameter on the left of an update: w_5^{+}, w5+, w_5' (a prime
# right before the relation; anywhere else ' is a derivative).  NEWMARK is the
# grammar's new-value token (as w* = …).
NEWMARK = "\ue002"
_RELATION = r"(?=\s*(?:=|:=|\\leftarrow|\u2190|\\gets))"
_NEW_VALUE = re.compile(r"(?<=[A-Za-z0-9}])(?:\^\s*\{\s*\+\s*\}|\^\s*\+|\+|'|\u2032)"
                        + _RELATION)


def new_value_marks(text: str) -> str:
    """``w_5^{+} =``, ``w5+ =``, ``w_5' =`` → the new-value mark, padded to the same
    length (positions in messages stay those of the text)."""
    if "+" not in text and "'" not in text and "\u2032" not in text:
        return text
    return _NEW_VALUE.sub(lambda m: NEWMARK + " " * (len(m[0]) - 1), text)


# Nielsen's update arrow after a parameter's name at the start of a claim (NNDL ch. 1–2:
# w^l → w^l − η δ^l (a^{l−1})^T, and w → w' = w − η ∂C/∂w): the update ←
_PARAM = r"(?:\\(?:boldsymbol|mathbf|bm)\s*\{\s*)?(?:[wWb]|\\theta)\s*\}?" \
         r"(?:\s*[_^]\s*(?:\{[^{}]*\}|[A-Za-z0-9]))*"
_ARROW = r"\\rightarrow(?![A-Za-z])|\\to(?![A-Za-z])|\u2192"
UPDATE_ARROW = re.compile(r"^(\s*\$?\s*" + _PARAM + r"\s*)(" + _ARROW + r")")
PRIMED_UPDATE = re.compile(r"^(\s*\$?\s*)(" + _PARAM + r"\s*(?:" + _ARROW + r")\s*)(?="
                           + _PARAM + r"\s*(?:'|\u2032|\^\s*\{?\s*\\prime\s*\}?)\s*=)")


def update_arrows(text: str) -> str:
    """Nielsen's ``w^l → w^l − η δ^l (a^{l−1})^T`` as ``w^l ← …`` and ``w → w' = …`` as
    ``w' = …`` (a parameter's name first), padded to the same length."""
    if "\\to" not in text and "\\rightarrow" not in text and "\u2192" not in text:
        return text
    text = PRIMED_UPDATE.sub(lambda m: m[1] + " " * len(m[2]), text, count=1)
    return UPDATE_ARROW.sub(lambda m: m[1] + "\\leftarrow" + " " * (len(m[2]) - 10)
                            if len(m[2]) >= 10 else m[1] + "\u2190" + " " * (len(m[2]) - 1),
                            text, count=1)


_GREEK_TABLE = {ord(g): name for g, name in GREEK.items()}


@lru_cache(maxsize=8192)
def canon(s: str, sup: bool = False) -> str:
    """A written name fragment in canonical form (see the module docstring)."""
    if "\\" in s:
        s = _WRAP.sub(r"\1", s)
    if not s.isascii():
        s = s.translate(_GREEK_TABLE)
    s = _DROP.sub("", s)
    if sup and len(s) > 2 and (s[0], s[-1]) in (("(", ")"), ("[", "]")) and "(" not in s[1:-1] \
            and "[" not in s[1:-1]:
        s = s[1:-1]                      # w^{(2)}, w^{[2]} (the ng preset's names): layer 2
    return s


def split_head(head: str) -> tuple[str, str]:
    """'w17' → ('w', '17'), 'delta2' → ('delta', '2'), 'out' → ('out', '')."""
    m = re.fullmatch(r"([A-Za-z]+?)([0-9]+)", head)
    return (m[1], m[2]) if m else (head, "")


def _group(s: str, i: int) -> tuple[str, int]:
    """The script argument at s[i]: a balanced {…} group or one alphanumeric run."""
    if i < len(s) and s[i] == "{":
        level = 0
        for j in range(i, len(s)):
            level += {"{": 1, "}": -1}.get(s[j], 0)
            if level == 0:
                return s[i + 1:j], j + 1
        return s[i + 1:], len(s)
    m = re.match(r"\\?[A-Za-z0-9]+", s[i:])
    return (m[0], i + len(m[0])) if m else ("", i)


def name_key(written: str) -> tuple[str, str, str] | None:
    """Key of a notation name such as ``net_{n_{3}}``, ``w^1_11`` or ``\\hat{y}_{1}``."""
    s = written.strip()
    hat = _HAT.match(s)
    if hat:
        head, i, sub = hat[1], hat.end(), "hat"
    else:
        m = re.match(r"\\?[A-Za-z]+[0-9]*", s)
        if not m:
            return None
        head, i, sub = m[0], m.end(), ""
    sup = ""
    while i < len(s) and s[i] in "_^":
        mark = s[i]
        arg, i = _group(s, i + 1)
        if mark == "^":
            sup = canon(arg, sup=True)
        else:
            sub += canon(arg)
    if i != len(s):
        return None
    head = canon(head)
    if not sub:
        head, sub = split_head(head)
    return head, sup, sub


@dataclass(frozen=True)
class Scope:
    """The names a formula may use.

    ``names`` maps every name shown to users (in error messages) to its
    SymPy object; ``keys`` maps canonical keys to scalar symbols, and
    ``ambiguous`` the keys of several (to the LaTeX names they could be); ``layers``
    maps (kind, l) to the layer's matrix for kind in W, b, z, a, delta (with
    ("a", 0) = x); ``heads`` maps written heads (w, W, net, out, delta, …) to
    those kinds.  ``model`` is None for free-standing calculus.
    """

    names: dict[str, sp.Basic]
    keys: dict[tuple[str, str, str], sp.Basic] = field(default_factory=dict)
    ambiguous: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    layers: dict[tuple[str, int], sp.ImmutableMatrix] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    n_layers: int = 0
    max_size: int = 0
    alpha: sp.Expr | None = None
    model: object = None
    labels: dict[str, tuple[int, int]] = field(default_factory=dict)
    paren_superscript: str | None = None
    defined: frozenset = frozenset()       # heads a claims file defined (f, p, scores)
    vector_size: int | None = None         # free-standing: the size vectors are read at
    example: str | None = None             # inside a sum over the examples: its letter
    layout: str | None = None              # [notation] layout: columns, rows, or unstated
    columns: "Scope | None" = None         # a rows scope's names with vectors as columns
    # the notation's own letters (core.notation, issue #14): index letters that name a
    # layer (Bishop: i, j, k the layers below, in and above the hidden one) and the letters
    # that are the activation function (Bishop's h)
    letter_layers: dict[str, int] = field(default_factory=dict)
    function_letters: frozenset = frozenset()
    layer_shift: int = 0                   # the display's number of the input layer (Nielsen: 1)
    soft: frozenset = frozenset()          # a preset's names a claims file may define (scores)
    function_names: dict = field(default_factory=dict)   # free-standing: letter → function (h: tanh)

    @property
    def free(self) -> bool:
        return self.model is None

    def index_range(self, letter: str) -> range:
        """Values tried for a generic index letter (out-of-range ones are skipped)."""
        top = self.n_layers if letter == "l" else max(self.max_size, self.n_layers)
        return range(0, top + 2)

    def known(self, limit: int = 80) -> str:
        shown = list(self.names)
        more = "" if len(shown) <= limit else f", … ({len(shown) - limit} more)"
        return ", ".join(shown[:limit]) + more


def _comma_free(keys: dict) -> dict:
    """Also key w^{2}_{1,13} as ('w', '2', '113') when that is unambiguous."""
    extra: dict = {}
    for (h, sup, sub), sym in keys.items():
        if "," in sub:
            extra.setdefault((h, sup, sub.replace(",", "")), []).append(sym)
    return {k: v[0] for k, v in extra.items() if len(v) == 1 and k not in keys}


def _keys(nt) -> tuple[dict, dict]:
    """Canonical key → symbol for every LaTeX and text name of the notation, and
    the keys that name several different quantities (w^1_111 for w^1_{1,11} and
    w^1_{11,1}) apart, so that they are never resolved silently."""
    found: dict = {}
    for table in (nt.text, nt.latex):
        for sym, written in table.items():
            if sym.name in GENERIC_NAMES:
                continue   # the notation's generic scalars, not network quantities
            key = name_key(written)
            if key is not None:
                found.setdefault(key, []).append(sym)
    keys, ambiguous = {}, {}
    for key, syms in found.items():
        distinct = {nt.names.get(s, s) for s in syms}     # a tied name is one quantity
        (keys if len(distinct) == 1 else ambiguous)[key] = syms[0] if len(distinct) == 1 \
            else sorted({nt.latex.get(s, str(s)) for s in syms})
    return keys, ambiguous


def _layer_heads(nt) -> dict[str, str]:
    heads = {"W": "W", "w": "W", "b": "b", "z": "z", "a": "a", "delta": "delta",
             "Delta": "delta", "x": "x", "y": "y", "h": "a",
             # course style: capitals for a layer's (batch) matrices, t for targets
             "Z": "z", "A": "a", "X": "x", "Y": "y", "t": "y", "target": "y"}
    heads[canon(nt.pre_activation)] = "z"
    heads[canon(nt.activation)] = "a"
    if canon(nt.function) in heads and canon(nt.function) not in (canon(nt.pre_activation),
                                                                  canon(nt.activation)):
        del heads[canon(nt.function)]          # Bishop's h is the function, not a quantity
    if "a" not in (canon(nt.pre_activation), canon(nt.activation)):
        del heads["a"]      # Goodfellow's a is the pre-activation, Nielsen's the activation
    if getattr(nt, "preset", None) == "bishop" and nt.prediction == "y":
        heads["y"] = "a"                       # y_k the outputs, t_k the targets
    # a batch's matrices are the notation's own letters in capitals (Bishop's A the
    # pre-activations and Z the outputs, Goodfellow's H, the targets T); not CS231n's,
    # whose dH_l is the gradient on the layer's scores after the ReLU gate, not on H_l
    if getattr(nt, "preset", None) in ("bishop", "goodfellow"):
        for letter, kind in ((nt.pre_activation, "z"), (nt.activation, "a"),
                             (getattr(nt, "target", "y"), "y")):
            c = canon(letter or "")
            if len(c) == 1 and c.islower():
                heads[c.upper()] = kind
    return heads


def _letter_layers(nt, n_layers: int) -> dict[str, int]:
    """Bishop's index letters as layers (PRML §5.3: i below j below k, k the outputs)."""
    if getattr(nt, "preset", None) != "bishop" or n_layers < 2:
        return {}
    return {"k": n_layers, "j": n_layers - 1, "i": n_layers - 2}


def weight_matrix(layer, nt) -> sp.ImmutableMatrix:
    """A layer's W as the notation writes it: row j, column k for w^l_{jk}; in the ij
    style (w_{ij} from i to j) row i, column j, the transpose, with the bias as its
    last row when it is an extra weight (seed 000's 3×2 W^{(1)})."""
    if nt.style != "ij":
        return layer.W
    rows = layer.W.T
    if nt.bias == "extra_weight":
        rows = rows.col_join(layer.b.T)
    return sp.ImmutableMatrix(rows)


def build_scope(model=None) -> Scope:
    """The names of ``model`` (a pipeline.Model), or the free-standing scope.

    >>> build_scope().free
    True
    """
    if model is None:
        return Scope(names={})
    nt, net = model.notation, model.network
    keys, ambiguous = _keys(nt)
    keys.update({k: v for k, v in _comma_free(keys).items() if k not in ambiguous})
    names: dict[str, sp.Basic] = {}
    network_symbols = set(net.parameters) | set(net.x) | set(net.y)
    for layer in net.layers:
        network_symbols |= set(layer.z) | set(layer.a) | set(layer.delta)
    for sym, written in nt.text.items():
        if sym in network_symbols:
            names[written.replace("\\", "")] = sym
    shift = getattr(nt, "shift", 0)        # Nielsen: the input is layer 1, W1 is w^2
    layers = {("a", shift): net.x}
    for layer in net.layers:
        for kind in ("W", "b", "z", "a", "delta"):
            value = weight_matrix(layer, nt) if kind == "W" else getattr(layer, kind)
            layers[(kind, layer.index + shift)] = value
            names.setdefault(f"{kind}{layer.index}", value)
    for name, value in (("x", net.x), ("y", net.y), ("E", LOSS)):
        names.setdefault(name, value)
    alphas = {layer.alpha for layer in net.layers if layer.alpha is not None}
    labels = {canon(label): place for place, label in nt.neurons.items()}
    scope = Scope(names=names, keys=keys, ambiguous=ambiguous, layers=layers, heads=_layer_heads(nt),
                  n_layers=len(net.layers) + shift, max_size=max(net.sizes),
                  alpha=alphas.pop() if len(alphas) == 1 else None, model=model, labels=labels,
                  paren_superscript=net.spec.notation.get("paren_superscript"),
                  layout=net.spec.notation.get("layout"),
                  letter_layers=_letter_layers(nt, len(net.layers)),
                  function_letters=frozenset({canon(getattr(nt, "function", "f"))}),
                  layer_shift=shift)
    # rows (CS231n: X W + b, W stored [source][target]): every vector and matrix transposed
    scope = rows_layout(scope) if scope.layout == "rows" else scope
    named = preset_names(scope, nt)
    if not named:
        return scope
    kinds = {"scores": "z", "probs": "a", "hidden_layer": "a"}     # dscores: ∂L/∂scores
    scope = with_definitions(scope, named, {h: k for h, k in kinds.items() if (h, "", "") in named})
    return replace(scope, soft=frozenset(h for h, _, _ in named if h not in ("f", "p")))


def preset_names(scope: Scope, nt) -> dict:
    """The vectors a preset's source names without defining them: CS231n's scores f (the
    output layer's pre-activations) and probabilities p, probs, and the two-layer case
    study's hidden_layer (as written in the notes' code)."""
    if getattr(nt, "preset", None) != "cs231n":
        return {}
    L = scope.n_layers
    out = {("f", "", ""): scope.layers[("z", L)], ("scores", "", ""): scope.layers[("z", L)],
           ("p", "", ""): scope.layers[("a", L)], ("probs", "", ""): scope.layers[("a", L)]}
    if L == 2:
        out[("hidden_layer", "", "")] = scope.layers[("a", 1)]
    return out


def rows_layout(scope: Scope) -> Scope:
    """``scope`` with every vector and matrix transposed: the names read in the layout that
    stores examples (and vectors) as rows and a weight matrix as [source][target] (CS231n's
    ``X`` N×D, ``W1`` D×H), which a spec does not state."""
    def t(v):
        return v.T if isinstance(v, sp.MatrixBase) else v
    return replace(scope, layout="rows", columns=scope,
                   names={k: t(v) for k, v in scope.names.items()},
                   keys={k: t(v) for k, v in scope.keys.items()},
                   layers={k: t(v) for k, v in scope.layers.items()})


# ---- names a claims file defines (checker/definitions.py, issue #13) ----------------
def with_definitions(scope: Scope, keys: dict, heads: dict | None = None) -> Scope:
    """``scope`` with the names a claims file defined (``p_k = …``, ``f = Wx + b``):
    ``keys`` maps canonical keys (head, superscript, subscript) to their values, ``heads``
    makes a defined family read like a layer quantity (Goodfellow's a^{(k)} as z)."""
    shown = {"".join((h, f"^{p}" if p else "", f"_{b}" if b else "")): v
             for (h, p, b), v in keys.items()}
    columns = scope.columns and with_definitions(
        scope.columns, {k: v.T if isinstance(v, sp.MatrixBase) else v for k, v in keys.items()},
        heads)
    return replace(scope, names={**scope.names, **shown}, keys={**scope.keys, **keys},
                   heads={**scope.heads, **(heads or {})}, columns=columns,
                   defined=scope.defined | {h for h, _, _ in keys})
