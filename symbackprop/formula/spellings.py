r"""The spellings of names that textbooks and courses use, read into the network.

``resolve`` asks here when a written name is not one of the notation's own:

- superscripts: ``W^{[2]T}``, ``a^{[1]T}``, ``h^{(1)\top}``, ``W^{[2]\mathsf T}`` (a
  transpose inside the superscript), ``a^{[2](i)}`` and ``x^{(i)}`` (the example
  index ``(i)``, read per example), ``g^{[l]\prime}`` (a prime inside it);
- targets ``target_{o1}``, ``t_{o1}``, ``t_k``, ``y_{o1}`` (the target of output o1),
  ``target``/``output`` (the vectors y and a^L);
- per-output errors ``E_{o1}`` (one output's term of the loss, so that
  ``E_{total} = \sum_o E_o``);
- the Kronecker delta ``\delta_{ij}`` (two generic indices, no layer);
- ``g``, ``f``, ``\phi`` for the layer's activation function.

A reading that depends on a convention the spec does not state raises
FormulaError naming the symbol, its readings and the ``[notation]`` key that
settles it; nothing here guesses.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from .examples import numbered_example
from .grammar import Node
from .names import INDEX_LETTERS, Scope, canon
from .ops import FormulaError, FreeIndex, Func, OutOfRange, function_name, shrink

TRANSPOSE_MARKS = frozenset({"T", "top", "intercal", "tr"})
MARK_WRAPPERS = frozenset({"mathsf", "mathrm", "text", "mathbf", "textsf", "rm", "sf"})
ACTIVATION_LETTERS = frozenset({"g", "f", "phi", "varphi"})
TARGET_HEADS = frozenset({"target", "t"})
PARENS_KEY = "paren_superscript"


@dataclass(frozen=True)
class Superscript:
    """A superscript taken apart: the layer part (a node, or None when nothing is
    left), whether it ends in a transpose or primes, and the example index."""

    layer: Node | None
    transpose: bool = False
    primes: int = 0
    example: str | None = None

    @property
    def plain(self) -> bool:
        return not (self.transpose or self.primes or self.example)


def _bare(node: Node) -> Node:
    """Inside {…} groups (not inside parentheses: (1) and [1] mean something)."""
    while node.kind in ("group", "args") and len(node.args) == 1 and isinstance(node.args[0], Node):
        node = node.args[0]
    return node


def _parts(node: Node) -> list[Node]:
    """A juxtaposition a b c as [a, b, c] (iteratively); [2](i) parses as a call
    of [2] and is [[2], (i)] here."""
    out = []
    while (node.kind == "juxt" and len(node.args) == 2) or \
            (node.kind == "call" and len(node.args[1].args) == 1):
        last = node.args[1]
        if node.kind == "call":
            last = Node("paren", (last.args[0],), last.start, last.end, last.depth)
        out.append(last)
        node = node.args[0]
    return [node] + out[::-1]


def _is_mark(node: Node) -> bool:
    return node.kind in ("NAME", "COMMAND", "WRAPPED") and canon(node.text) in TRANSPOSE_MARKS


def opening(text: str, node: Node) -> str:
    """The bracket that opens a paren node ('(' or '['; the span leaves it out)."""
    i = node.start - 1
    while i >= 0 and text[i].isspace():
        i -= 1
    return text[i] if i >= 0 else ""


def split_superscript(ev, sup: Node | None, head: str) -> Superscript | None:
    """``sup`` taken apart, or None when it holds nothing of the above (then the
    caller reads it as it always has)."""
    if sup is None:
        return None
    node, primes = _bare(sup), 0
    while node.kind == "prime":
        node, primes = _bare(node.args[0]), primes + 1
    parts = _parts(node)
    transpose = False
    if len(parts) > 1 and _is_mark(parts[-1]):
        transpose = True
        parts.pop()
        if len(parts) > 1 and parts[-1].kind == "COMMAND" and canon(parts[-1].text) in MARK_WRAPPERS:
            parts.pop()               # \mathsf T
    while len(parts) > 1 and parts[-1].kind == "PRIME":
        parts.pop()
        primes += 1
    example = None
    if parts and parts[-1].kind == "paren" and opening(ev.text, parts[-1]) == "(" and \
            (len(parts) > 1 or example_superscript(ev, parts[-1], head)):
        example = ev.src(parts.pop()).strip() or "i"
    if len(parts) > 1 or (not transpose and not primes and example is None):
        return None
    return Superscript(parts[0] if parts else None, transpose, primes, example)


def example_superscript(ev, node: Node, head: str) -> bool:
    """Is the parenthesised superscript ``node`` of a name the example index?

    ``[notation] paren_superscript`` says so ("example") or not ("layer"); without
    it, (i) is an example on x and y (they have no layers) and when the claim
    writes its layers in brackets (a^{[2](i)}, x^{(i)} next to W^{[1]}); a
    parenthesised letter i on a layer quantity is ambiguous (refused)."""
    scope: Scope = ev.scope
    key = scope.paren_superscript
    if key is not None:
        return key == "example" or scope.heads.get(head) in ("x", "y")
    if scope.heads.get(head) in ("x", "y") or "^{[" in ev.text or "^[" in ev.text:
        return True
    inner = ev.src(node).strip()
    if inner == "i" and scope.heads.get(head) is not None:
        raise FormulaError(f"{head}^{{({inner})}}: ({inner}) may be the layer or the example "
                           f"index; say which in the spec: [notation] {PARENS_KEY} = \"layer\" "
                           f"or \"example\"", node.start, f"[notation] {PARENS_KEY}")
    return False


def per_example(ev, sup: Superscript, node: Node) -> None:
    """A name of example (i) is read per example: the claim must hold for every
    example alike, so a number (example 2) or a sum over the examples is refused."""
    letter = sup.example
    samples = getattr(getattr(getattr(ev.scope.model, "spec", None), "values", None), "samples", ())
    if re.fullmatch(r"[0-9]+", letter or "") and len(samples or ()) > 1:
        numbered_example(int(letter), len(samples), node.start, FormulaError)
        return                          # a^{[2](2)}: example 2 of the spec's batch
    if not re.fullmatch(r"[A-Za-z]", letter or ""):
        raise FormulaError(f"({letter}): a claim about one numbered example is not checked "
                           "(the spec's [values] is one example); write it for example (i)",
                           node.start, "(i)")
    if ev.scope.example != letter and re.search(r"(\\sum|\u2211)\s*_\s*\{?\s*" + letter + r"\b", ev.text):
        raise FormulaError(f"a sum over the examples ({letter}) is a batch claim; it is not "
                           "read in this spelling", node.start, "one example's formula")


# ---- targets, outputs and per-output errors -----------------------------------
def output_label(scope: Scope, sub: str) -> int | None:
    """The index j of the output neuron labelled ``sub`` (o1, o_{1}), or None."""
    place = scope.labels.get(sub)
    if place is None or place[0] != scope.n_layers:
        return None
    return place[1]


def target(ev, head: str, subs: str, sub: Node | None):
    """target_{o1}, t_{o1}, y_{o1}: the target of an output named by its label; None
    for other subscripts (the caller reads t_k, target_1 as y_k, y_1)."""
    scope = ev.scope
    net = scope.model.network
    if sub is None and not subs:
        return shrink(net.y) if head == "target" else None
    label = family_label(ev, subs, sub) if sub is not None else None
    j = output_label(scope, label or subs)
    return net.y[j] if j is not None else None


def label_family(scope: Scope, letter: str) -> dict[int, str]:
    """The neurons labelled ``letter`` and a number (o1, o2 for o), when they are one
    layer's: number → label.  Sums over neuron names (\\sum_o \\delta_o) use it."""
    family = {}
    layers = set()
    for label, (l, _) in scope.labels.items():
        m = re.fullmatch(re.escape(letter) + r"([0-9]+)", label)
        if m:
            family[int(m[1])] = label
            layers.add(l)
    return family if len(layers) == 1 else {}


def family_label(ev, letter: str, sub: Node) -> str | None:
    """out_o, net_o, δ_o, E_o: the label of neuron o (bound by a sum, or free: every
    neuron of the family), or None when the letter names no family."""
    if letter in INDEX_LETTERS or not re.fullmatch(r"[A-Za-z]", letter):
        return None
    family = label_family(ev.scope, letter)
    if not family:
        return None
    if letter not in ev.bound:
        raise FreeIndex(letter, sub.start, sorted(family))
    label = family.get(ev.bound[letter])
    if label is None:
        raise OutOfRange(f"no neuron {letter}{ev.bound[letter]}", sub.start)
    return label


def weight_between(ev, letters: str, sub: Node):
    """w_{ho}: the weight between neuron h and neuron o of two neuron families (the post's
    "weight from h to o"), each letter bound by a sum or, when free, the one neuron of
    its family the claim names (δ_{h1} … out_{h1}: h is h1).  None when the letters name
    no two families; a free letter the claim leaves open is refused."""
    if any(c in INDEX_LETTERS for c in letters) or not letters.isalpha():
        return None
    families = [label_family(ev.scope, c) for c in letters]
    if not all(families):
        return None
    places = []
    for c, family in zip(letters, families):
        if c in ev.bound:
            label = family.get(ev.bound[c])
            if label is None:
                raise OutOfRange(f"no neuron {c}{ev.bound[c]}", sub.start)
        else:
            named = {n for n in re.findall(r"(?<![A-Za-z\\])" + c + r"_?\{?\s*([0-9]+)", ev.text)
                     if int(n) in family}
            if len(named) != 1:
                raise FormulaError(f"w_{{{letters}}}: {c} is not bound by a sum, and the claim "
                                   f"names {'no neuron' if not named else 'several neurons'} of "
                                   f"{', '.join(family.values())}; write the neuron (w_{{{c}1…}}) "
                                   "or sum over it", sub.start, f"a sum over {c}, or one neuron")
            label = family[int(named.pop())]
        places.append(ev.scope.labels[label])
    (l1, j1), (l2, j2) = sorted(places)
    if l2 != l1 + 1:
        return None
    return ev.scope.model.network.layers[l2 - 1].W[j2, j1]


def output_error(ev, head: str, subs: str, sub: Node | None):
    """E_{o1}: output o1's term of the loss (E_total = Σ_o E_o); E_o with the letter o
    is the family over the outputs.  None when ``subs`` names no output."""
    scope = ev.scope
    if head != "E" or sub is None:
        return None
    label = family_label(ev, subs, sub) or subs
    j = output_label(scope, label)
    return None if j is None else loss_term(scope, j)


def loss_term(scope: Scope, j: int) -> sp.Expr:
    """Output j's summand of the loss, scaled as the loss is (1/n for the mean)."""
    net = scope.model.network
    out = net.layers[-1]
    term = net.loss.term(out.a[j], net.y[j])
    return term / len(net.y) if net.loss.mean else term


# ---- Kronecker delta --------------------------------------------------------
def kronecker(ev, sub: Node | None, sup: Node | None, subv) -> sp.Expr | None:
    """δ_{ij} with two generic index letters (no layer): 1 when i = j, else 0."""
    if sub is None or sup is not None or subv is None or len(subv) != 2:
        return None
    letters = canon(ev.src(sub)).replace(",", "")
    if len(letters) != 2 or not all(c in INDEX_LETTERS for c in letters):
        return None
    if any(isinstance(v, tuple) for v in subv):
        return None
    return sp.Integer(int(subv[0] == subv[1]))


# ---- g, f, φ: the layer's activation function --------------------------------
def activation_letter(ev, leaf: Node, sub: Node | None, sup: Node | None):
    """g^{[l]}, g^{[1]\\prime}, f_l, f', φ: the activation function of the layer the
    script names (or of the network, when every layer has the same one); None when
    ``leaf`` is not such a letter."""
    scope: Scope = ev.scope
    head = canon(leaf.text)
    if scope.free:          # calculus beside a Bishop spec: h(a) ≡ tanh(a), h'(a) = 1 − h(a)²
        name = scope.function_names.get(head)
        return Func(name) if name is not None and sub is None and sup is None else None
    if head not in ACTIVATION_LETTERS | scope.function_letters:
        return None
    primes, layer_node = 0, None
    if sup is not None:
        split = split_superscript(ev, sup, head)
        if split is None:
            layer_node = sup
        elif split.transpose or split.example:
            return None
        else:
            layer_node, primes = split.layer, split.primes
    if sub is not None:
        if layer_node is not None:
            return None
        layer_node = sub
    return Func(_layer_function(ev, head, layer_node, leaf), primes)


def hidden_functions(model) -> dict[str, str]:
    """The letter → function of free-standing calculus beside ``model``: Bishop's h, the
    hidden units' activation (one activation over every hidden layer), else nothing."""
    nt, layers = model.notation, model.network.layers
    names = {layer.activation.name for layer in layers[:-1]}
    if nt.preset != "bishop" or len(names) != 1:
        return {}
    name = function_name(names.pop())
    return {canon(nt.function): name} if name is not None else {}


def _layer_function(ev, head: str, node: Node | None, leaf: Node) -> str:
    scope: Scope = ev.scope
    layers = scope.model.network.layers
    if node is None:
        # Bishop's h is the hidden units' activation (PRML 5.48-5.49: z_j = h(a_j)); the
        # outputs have their own (identity, σ, softmax)
        hidden = head in scope.function_letters and scope.model.notation.preset == "bishop" \
            and len(layers) > 1
        names = {layer.activation.name for layer in (layers[:-1] if hidden else layers)}
        if len(names) == 1:
            return _function_of(names.pop(), head, leaf)
        raise FormulaError(f"unknown name {leaf.text!r} alone: {head} could be the activation "
                           f"of any layer ({', '.join(f'{l.index}: {l.activation.name}' for l in layers)}); "
                           f"write its layer, e.g. {head}^{{[1]}} or {head}_1", leaf.start,
                           f"{head}^{{[l]}}")
    values = ev.indices(node, open_letters=True)
    if not values or len(values) != 1:
        raise FormulaError(f"{ev.src(node)!r} is not a layer of {leaf.text}", node.start,
                           f"{head}^{{[l]}}")
    if isinstance(values[0], tuple):
        raise FreeIndex(values[0][0], node.start, range(1, scope.n_layers + 1))
    l = values[0] - scope.layer_shift          # Nielsen's layer 2 is the spec's layer 1
    if not 1 <= l <= len(layers):
        raise OutOfRange(f"layer {l} does not exist; the network has layers 1 to "
                         f"{scope.n_layers}", node.start)
    return _function_of(layers[l - 1].activation.name, head, leaf)


def _function_of(activation: str, head: str, leaf: Node) -> str:
    name = function_name(activation)
    if name is None:
        raise FormulaError(f"{head} is the {activation} activation here, which claims "
                           "cannot apply as a function; write it out", leaf.start,
                           "the activation written out")
    return name
