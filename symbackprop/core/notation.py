"""How symbols are displayed: the notation maps internal symbols to LaTeX
and plain-text names.  The derivation itself never depends on it.

Internal names: ``W2_1_3`` (w^2_{13}: to neuron 1 of layer 2 from neuron 3
of layer 1), ``b2_1``, ``z2_1``, ``a2_1``, ``delta2_1``, ``x_1``, ``y_1``.

Three styles (``[notation] style``): ``layered`` (w^l_{jk} from k in layer
l−1 to j in layer l), ``ij`` (w^{(l)}_{ij} from i to j) and ``numbered``
(neurons n1…nN through the whole network, inputs first; weights w1…wM and
biases b1…bK in one sequence, source-major or target-major).  Parameter and
neuron names from ``[names]`` override the style's; a name given to several
slots is one shared (tied) parameter.  Only identifiers validated by
``naming.check_name`` get here, so a name is safe to use as a symbol name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from .network import Network
from .spec import SpecError
from .symbols import A, A_I, A_J, KD, S, Y, Z

# Symbols for the choices naming.NOTATION_CHOICES allows.
LOSS_TEX = {"E": "E", "C": "C", "L": r"\mathcal{L}", "J": "J", "E_total": r"E_{\mathrm{total}}"}
# Multi-letter names are upright (net, out), as in the step-by-step posts' typeset form.
LETTER_TEX = {"z": "z", "net": r"\mathrm{net}", "h": "h", "a": "a", "out": r"\mathrm{out}", "o": "o"}
ERROR_TEX = {"delta": r"\delta"}
PREDICTION_TEX = {"activation": None, "y_hat": r"\hat{y}"}
# The outputs' letter (None: the activation's own, a^L); the targets'; f's; the marks.
OUTPUT_TEX = {"a": None, "h": None, "y": "y", "y_hat": r"\hat{y}", "p": "p"}
OUTPUT_TEXT = {"y": "y", r"\hat{y}": "y_hat", "p": "p"}
FUNCTION_TEX = {"f": "f", "g": "g", "sigma": r"\sigma", "phi": r"\phi", "h": "h"}
TRANSPOSE_TEX = {"top": r"\top", "T": "T", "mathsf": r"\mathsf{T}"}
HADAMARD_TEX = {"odot": r"\odot", "circ": r"\circ", "ast": "*"}
SUPERSCRIPT = {"plain": "{}", "paren": "({})", "bracket": "[{}]"}   # a layer number's marks
DEFAULTS = {"layered": {"loss": "E", "pre_activation": "z", "activation": "a"},
            "ij": {"loss": "E", "pre_activation": "z", "activation": "a"},
            "numbered": {"loss": "E_total", "pre_activation": "net", "activation": "out",
                         "numbering": "source-major"}}

Slots = dict[str, list[tuple[str, tuple[int, ...]]]]


@dataclass(frozen=True)
class Notation:
    """Display names for one network.

    ``latex`` maps a symbol to its LaTeX and ``text`` to a plain-text name;
    the other fields are the symbols and choices the templates write the
    convention and the index-form formulas with.  ``names`` maps each named
    parameter symbol to its name and ``slots`` each name to its places
    [(array, index), …] (several places: a tied parameter).
    """

    style: str
    latex: dict[sp.Symbol, str]
    text: dict[sp.Symbol, str]
    loss: str = "E"
    error: str = r"\delta"
    pre_activation: str = "z"
    activation: str = "a"
    prediction: str | None = None          # LaTeX of the outputs when written ŷ
    bias: str = "separate"                 # or "extra_weight"
    index_base: int = 1
    numbering: str | None = None           # numbered style: source-major | target-major
    neurons: dict[tuple[int, int], str] = field(default_factory=dict)  # (l, j) → label
    preset: str | None = None              # naming.PRESETS: the book the letters follow
    superscript: str = "plain"             # a layer number as 2, (2) or [2]
    shift: int = 0                         # the input layer's number (Nielsen: 1)
    target: str = "y"                      # LaTeX of the targets' letter
    function: str = "f"                    # LaTeX of the activation function's letter
    transpose: str = r"\top"               # the transpose mark, ^{…}
    hadamard: str = r"\odot"               # the elementwise product
    layout: str = "columns"                # or "rows": examples as rows, X W + b
    gradient_names: str = "partial"        # or "d": dZ, dW, db for the gradients
    names: dict[sp.Symbol, str] = field(default_factory=dict)
    slots: Slots = field(default_factory=dict)

    def tex(self, expr, **options) -> str:
        """``sympy.latex`` with this notation's symbol names (``options``: more of
        ``sympy.latex``'s settings, e.g. ``mat_str="bmatrix"``)."""
        return sp.latex(expr, symbol_names=self.latex, mul_symbol="dot", **options)

    def name(self, sym: sp.Symbol) -> str:
        return self.text.get(sym, str(sym))

    def symbol(self, name: str) -> sp.Symbol:
        """The first parameter symbol called ``name``."""
        return next(s for s, n in self.names.items() if n == name)

    def layer_no(self, l: int) -> int:
        """The number layer l (the spec's, from 1) has in the display."""
        return l + self.shift

    def tied(self, name: str) -> bool:
        return len(self.slots.get(name, ())) > 1


def name_tex(name: str) -> str:
    """A validated identifier as a symbol name: w16 → w_{16}, E_total → E_{total}."""
    if "_" in name:
        head, rest = name.split("_", 1)
        return head + "_{" + rest.replace("_", r"\_") + "}"
    m = re.fullmatch(r"([A-Za-z]+?)([0-9]+)", name)
    return f"{m[1]}_{{{m[2]}}}" if m else name


# Plain-text heads: no TeX in plain text (δ^2_1, not \delta^2_1).
PLAIN_HEAD = {r"\delta": "δ", r"\mathrm{net}": "net", r"\mathrm{out}": "out"}
# Heads of named neurons' text names (delta_h1, net_h1).
LABEL_HEAD = {r"\delta": "delta", r"\mathrm{net}": "net", r"\mathrm{out}": "out"}


def _sub(*indices: int) -> str:
    """Subscript digits: 13 for (1, 3), 1,13 when an index has two digits."""
    return ("" if all(0 <= i < 10 for i in indices) else ",").join(str(i) for i in indices)


def _indexed(sup_mode: str, head: str, l: int, *idx: int) -> tuple[str, str]:
    r"""(LaTeX, text) of an indexed quantity: head^{l}_{idx}, head^{(l)}_{idx} or head^{[l]}_{idx}
    (``sup_mode``: a key of SUPERSCRIPT).

    The text keeps the comma of two-digit indices, in braces (w^1_{1,11}, which the
    claim parser reads back; w^1_111 could be w^1_{1,11} or w^1_{11,1}).

    >>> print(*_indexed("plain", r"\delta", 2, 1), *_indexed("paren", "w", 1, 1, 11))
    \delta^{2}_{1} δ^2_1 w^{(1)}_{1,11} w^(1)_{1,11}
    """
    sup = SUPERSCRIPT[sup_mode].format(l)
    sub = _sub(*idx)
    text_sub = f"{{{sub}}}" if "," in sub else sub
    return f"{head}^{{{sup}}}_{{{sub}}}", f"{PLAIN_HEAD.get(head, head)}^{sup}_{text_sub}"


def numbered_names(network: Network, numbering: str, bias: str, base: int) -> dict[sp.Symbol, str]:
    """w1…wM and b1…bK in one sequence through the network.

    source-major: the weights leaving one neuron get consecutive numbers
    (w1, w2, w3 leave x1); target-major: those entering one neuron do.  With
    ``bias = "extra_weight"`` the bias is the weight from a constant source 1
    placed after the layer's neurons, and is numbered with the weights.
    """
    names, w, b = {}, base, base
    for layer in network.dense_layers:     # add, flatten: no parameters
        sources = list(range(layer.n_in)) + ([None] if bias == "extra_weight" else [])
        targets = range(layer.n_out)
        edges = ([(j, k) for k in sources for j in targets] if numbering == "source-major"
                 else [(j, k) for j in targets for k in sources])
        for j, k in edges:
            names[layer.W[j, k] if k is not None else layer.b[j]] = f"w{w}"
            w += 1
        if bias == "separate":
            for j in targets:
                names[layer.b[j]] = f"b{b}"
                b += 1
    return names


def parameter_names(network: Network, opts: dict) -> dict[sp.Symbol, str]:
    """Parameter symbol → name: the numbered style's, overridden by [names]."""
    auto = {}
    if opts["style"] == "numbered":
        auto = numbered_names(network, opts["numbering"], opts["bias"], opts["index_base"])
    given = {}
    for layer in network.dense_layers:     # add, flatten: no parameters
        W, b = network.spec.names.get(f"W{layer.index}"), network.spec.names.get(f"b{layer.index}")
        for j in range(layer.n_out):
            for k in range(layer.n_in if W else 0):
                given[layer.W[j, k]] = W[j][k]
            if b:
                given[layer.b[j]] = b[j]
    taken = set(given.values()) | {n for layer in network.spec.names.get("neurons", ()) for n in layer}
    clash = next((n for s, n in auto.items() if s not in given and n in taken), None)
    if clash:
        raise SpecError(f"{network.spec.source}: key `names`: {clash!r} is also the numbered "
                        "style's name of a parameter; choose another name, or name that "
                        "parameter in [names] too.")
    return {**auto, **given}


def parameter_slots(network: Network, names: dict[sp.Symbol, str]) -> Slots:
    """Name → [(array key, index), …] in network order."""
    slots: Slots = {}
    for sym, name in names.items():
        kind, l, j, k = network.location[sym]
        slots.setdefault(name, []).append((f"{kind}{l}", (j, k) if kind == "W" else (j,)))
    return slots


def neuron_labels(network: Network, opts: dict) -> dict[tuple[int, int], str]:
    """(layer, j) → name of a named neuron ([names] neurons, or n1…nN when numbered)."""
    given = network.spec.names.get("neurons")
    labels = {}
    number = opts["index_base"]
    for l, size in enumerate(network.sizes):
        for j in range(size):
            if given:
                labels[(l, j)] = given[l][j]
            elif opts["style"] == "numbered":
                labels[(l, j)] = f"n{number}"
            number += 1
    return labels


def _neuron_symbols(network: Network, opts: dict, labels, latex, text) -> None:
    """x, y and every z, a, δ of the network."""
    pre, act = LETTER_TEX[opts["pre_activation"]], LETTER_TEX[opts["activation"]]
    err = "d" + pre if opts["gradient_names"] == "d" else r"\delta"     # the course's dz
    base, sup, shift = opts["index_base"], opts["superscript"], opts["input_layer"]
    given = network.spec.names.get("neurons")
    for k, sym in enumerate(network.x):
        latex[sym] = name_tex(labels[(0, k)]) if given else f"x_{{{k + base}}}"
        text[sym] = labels[(0, k)] if given else f"x{k + base}"
    single = network.output.n_out == 1
    t = opts["target"]
    for j, sym in enumerate(network.y):
        latex[sym], text[sym] = (t, t) if single else (f"{t}_{{{j + base}}}", f"{t}{j + base}")
    hat = _output_tex(opts)
    for layer in network.layers:
        for j in range(layer.n_out):
            label = labels.get((layer.index, j))
            for head, sym in ((pre, layer.z[j]), (act, layer.a[j]), (err, layer.delta[j])):
                if label:
                    latex[sym] = f"{head}_{{{name_tex(label)}}}"
                    text[sym] = f"{LABEL_HEAD.get(head, head)}_{label}"
                else:
                    latex[sym], text[sym] = _indexed(sup, head, layer.index + shift, j + base)
            if hat and layer is network.output:
                latex[layer.a[j]] = hat if single else f"{hat}_{{{j + base}}}"
                text[layer.a[j]] = OUTPUT_TEXT[hat] + ("" if single else str(j + base))


def _function_tex(network: Network, opts: dict) -> str:
    """The activation's letter; σ only where it is true: σ is the sigmoid (Nielsen's
    chapter 2), so a network with other activations writes f for them."""
    if opts["function"] == "sigma" and any(layer.activation.name != "sigmoid"
                                           for layer in network.layers):
        return FUNCTION_TEX["f"]
    return FUNCTION_TEX[opts["function"]]


def _output_tex(opts: dict) -> str | None:
    """LaTeX of the outputs' own letter (ŷ, y, p), or None: a^L as the activation."""
    if opts["prediction"] == "y_hat":
        return PREDICTION_TEX["y_hat"]
    return OUTPUT_TEX[opts["output"]]


def _parameter_symbols(network: Network, opts: dict, names, latex, text) -> None:
    """Every weight and bias: its name, or the style's index form."""
    base, style = opts["index_base"], opts["style"]
    sup, shift = opts["superscript"], opts["input_layer"]
    for layer in network.dense_layers:     # add, flatten: no parameters
        l = layer.index + shift
        extra = layer.n_in if opts["bias"] == "extra_weight" else None
        for j in range(layer.n_out):
            for k in range(layer.n_in):
                idx = (k + base, j + base) if style == "ij" else (j + base, k + base)
                latex[layer.W[j, k]], text[layer.W[j, k]] = _indexed(sup, "w", l, *idx)
            if extra is None:
                latex[layer.b[j]], text[layer.b[j]] = _indexed(sup, "b", l, j + base)
            else:   # the bias is the weight from a constant source 1 after the layer's neurons
                idx = (extra + base, j + base) if style == "ij" else (j + base, extra + base)
                latex[layer.b[j]], text[layer.b[j]] = _indexed(sup, "w", l, *idx)
    for sym, name in names.items():
        latex[sym], text[sym] = name_tex(name), name


def _generic_symbols(opts: dict, latex, n_layers: int) -> None:
    """The scalars of the index-form formulas (f(z), f'(a), the softmax Jacobian).  With a
    preset the Jacobian's a_i, a_j carry the output layer's number (softmax is the output
    layer): Bishop's i, j alone would name layers."""
    pre, act = LETTER_TEX[opts["pre_activation"]], LETTER_TEX[opts["activation"]]
    top = "^{" + SUPERSCRIPT[opts["superscript"]].format(n_layers + opts["input_layer"]) + "}" \
        if opts.get("preset") else ""
    latex.update({Z: pre, A: act, Y: opts["target"], S: r"\left(\sum_i " + opts["target"] + r"_i\right)",
                  A_I: f"{act}{top}_i", A_J: f"{act}{top}_j", KD: r"[i = j]"})


def make_notation(network: Network) -> Notation:
    """The notation the spec's ``[notation]`` and ``[names]`` tables ask for.

    >>> from .spec import parse_spec
    >>> from .network import build_network
    >>> spec = parse_spec('inputs = 2\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "relu"\\n'
    ...                   '[notation]\\nstyle = "numbered"')
    >>> nt = make_notation(build_network(spec))
    >>> nt.tex(build_network(spec).layers[0].W[0, 1]), nt.slots["w2"]
    ('w_{2}', [('W1', (0, 1))])
    """
    raw = network.spec.notation
    style = raw.get("style", "layered")
    opts = {"style": style, "bias": "separate", "index_base": 1, "error": "delta",
            "prediction": "activation", "numbering": None, "input_layer": 0,
            "superscript": "paren" if style == "ij" else "plain", "target": "y", "output": "a",
            "function": "f", "transpose": "top", "hadamard": "odot", "layout": "columns",
            "gradient_names": "partial", **DEFAULTS[style], **raw}
    latex: dict[sp.Symbol, str] = {}
    text: dict[sp.Symbol, str] = {}
    labels = neuron_labels(network, opts)
    names = parameter_names(network, opts)
    _neuron_symbols(network, opts, labels, latex, text)
    _parameter_symbols(network, opts, names, latex, text)
    _generic_symbols(opts, latex, len(network.layers))
    return Notation(
        style, latex, text, loss=LOSS_TEX[opts["loss"]],
        error=("d" + LETTER_TEX[opts["pre_activation"]] if opts["gradient_names"] == "d"
               else ERROR_TEX[opts["error"]]),
        pre_activation=LETTER_TEX[opts["pre_activation"]], activation=LETTER_TEX[opts["activation"]],
        prediction=_output_tex(opts), bias=opts["bias"],
        index_base=opts["index_base"], numbering=opts["numbering"],
        neurons={key: name_tex(label) for key, label in labels.items()},
        names=names, slots=parameter_slots(network, names), preset=opts.get("preset"),
        superscript=opts["superscript"], shift=opts["input_layer"], target=opts["target"],
        function=_function_tex(network, opts), transpose=TRANSPOSE_TEX[opts["transpose"]],
        hadamard=HADAMARD_TEX[opts["hadamard"]], layout=opts["layout"],
        gradient_names=opts["gradient_names"])
