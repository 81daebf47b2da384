"""Names, derivatives and index sums for the formula evaluator.

``resolve`` finds what a written name means in a scope (see names
for the keys); ``derivative_pair`` reads ``dE/dw17``, ``∂E/∂w_{17}`` and
``\\frac{\\partial E}{\\partial w}`` (a ``Partial``) or ``d/dz`` (an operator);
``index_sum`` expands ``\\sum_k`` over the neurons its body names.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Protocol

import sympy as sp

from dataclasses import replace

from .classes import defined_entry, selection
from .examples import EXAMPLE_LOSS, example_letters, numbered_example
from .vectors import sized_name
from .tree import LEAVES, unwrap
from .grammar import Node
from .names import GREEK, LOSS, LOSS_KEYS, LR, LR_KEYS, Scope, canon, split_head
from .ops import (DOp, FormulaError, FreeIndex, Func, OutOfRange, Partial, Updated,
                          is_matrix, add, apply_function, function_name, multiply, shrink, sub_string,
                          total)
from .spellings import (TARGET_HEADS, activation_letter, family_label, kronecker, output_error,
                        weight_between,
                        per_example,
                        split_superscript, target)

FREE_NAMES = set(GREEK.values()) - {"sigma", "Sigma", "partial"}
_HAT = re.compile(r"\\(?:hat|widehat)\s*\{\s*([A-Za-z])\s*\}")
MAX_SUM_TERMS = 1000


class Reading(Protocol):
    """What these helpers read of the evaluator of one claim (``evaluate.Evaluator``):
    its scope, the claim's text, the bound generic indices, and the values of sub-nodes."""

    scope: Scope
    text: str
    bound: Mapping[str, int]

    def src(self, node: Node | None) -> str: ...

    def value(self, node: Node): ...

    def expr(self, node: Node): ...

    def indices(self, node: Node | None, open_letters: bool = False) -> list | None: ...

    def bind(self, letter: str, value: int | None) -> "Reading": ...


# ---- names -------------------------------------------------------------------
def resolve(ev: Reading, leaf: Node, sub: Node | None, sup: Node | None, quiet: bool = False):
    """The value of name ``leaf`` with optional sub/superscript nodes, or None
    (``quiet``) / FormulaError when the scope has no such name."""
    marked = _update_mark(ev, leaf, sub, sup, quiet)
    if marked is not None:
        return marked if marked is not NotImplemented else None
    sub_plain = unwrap(sub).text if sub is not None else ""
    fname = function_name(leaf.text, sub_plain) if sub is not None else function_name(leaf.text)
    if fname is not None:
        return Func(fname) if sup is None else None
    if canon(leaf.text) == "nabla" and sub is not None and sup is None:
        return _nabla(ev, sub)
    hat = _HAT.fullmatch(leaf.text.strip()) or (leaf.text == "\u0177" and [0, "y"])
    head = hat[1] if hat else canon(leaf.text)
    subs = ("hat" if hat else "") + (canon(ev.src(sub)) if sub is not None else "")
    sups = canon(ev.src(sup), sup=True) if sup is not None else ""
    if sub is None and not hat:
        head, subs = split_head(head)
    if head == "e" and not subs and not sups:
        return sp.E
    if quiet and sub is not None and _plain_power(ev, sup):
        return None                              # Bishop's z_j^2: a power (k_sup's fallback)
    if ev.scope.free:
        if ev.scope.function_names:              # Bishop's h beside the spec: tanh
            found = activation_letter(ev, leaf, sub, sup)
            if found is not None:
                return found
        found = sized_name(ev, head, subs, sub, sup) if ev.scope.vector_size else None
        if found is None:
            found = _free_symbol(head, subs, sup)
    elif (head, sups, subs) in ev.scope.keys:
        return ev.scope.keys[(head, sups, subs)]
    else:
        found = defined_entry(ev, head, sups, sub) if head in ev.scope.defined else None
        if found is not None and head in FUNCTION_LETTERS | ev.scope.function_letters:
            try:                         # f_k a score, f_1(z) the layer's function
                fn = activation_letter(ev, leaf, sub, sup)
            except (FormulaError, OutOfRange):   # f_3, f_{y_i}: no layer, a score
                fn = None
            if isinstance(fn, Func):
                return replace(fn, value=found)
        if found is None:
            found = _spelled(ev, leaf, sub, sup, head, quiet)
        if found is None:
            found = _network_name(ev, head, subs, sups, sub, sup, leaf)
        if found is None and not _STRICT.get():
            found = _gradient_name(ev, leaf, sub, sup)
        if found is None and sub is None and sup is None:
            found = _letters_product(ev, leaf)
    if found is None and not quiet:
        raise _unknown(ev, leaf, sub, sup)
    return found


def _plain_power(ev: Reading, sup: Node | None) -> bool:
    """A bare number over a unit's name (z_j^2, w_{kj}^2) where the notation writes
    layers in parentheses or brackets (w^{(2)}_{kj}, W^{[2]}): a power, not layer 2."""
    if sup is None or ev.scope.free or \
            getattr(ev.scope.model.notation, "superscript", "plain") not in ("paren", "bracket"):
        return False
    mark = ev.text.rfind("^", 0, sup.start + 1)       # the node's span may leave out ( or {
    return mark >= 0 and re.fullmatch(r"\s*\{?\s*", ev.text[mark + 1:sup.start]) is not None \
        and re.fullmatch(r"[0-9]+", ev.src(sup).strip()) is not None


# While dform asks whether dw17 is a name of its own, dX is not read as ∂E/∂X.
_STRICT: ContextVar[bool] = ContextVar("strict_names", default=False)
GRADIENT_KINDS = ("z", "a", "W", "b", "x")


def _spelled(ev: Reading, leaf: Node, sub, sup, head: str, quiet: bool):
    """g^{[l]}, f' (the layer's activation), and superscripts that carry a transpose
    or an example index (W^{[2]T}, a^{[2](i)}, x^{(i)}); None for other names."""
    found = activation_letter(ev, leaf, sub, sup)
    if found is not None:
        return found
    split = split_superscript(ev, sup, head)
    if split is None or split.primes:
        return None
    if split.example is not None:
        per_example(ev, split, sup)
    value = resolve(ev, leaf, sub, split.layer, quiet=True)
    if value is None and split.example is not None:
        raise FormulaError(f"{_written(ev, leaf, sub, sup)!r}: ({split.example}) is the example "
                           "index here, and the name has no layer; write it as "
                           f"{leaf.text}^{{[l]({split.example})}}", sup.start,
                           "a layer in brackets")
    if value is None or isinstance(value, (Func, DOp)):
        return None
    return value.T if split.transpose and is_matrix(value) else value


def _letters_product(ev: Reading, leaf: Node):
    """``Wx`` (CS231n's f = Wx + b) as W·x: a run of two or three letters, unknown as a
    name, whose letters are each a layer-level name of the network."""
    text = leaf.text
    if leaf.kind != "NAME" or not 2 <= len(text) <= 3 or not text.isalpha() or \
            not all(ev.scope.heads.get(c) in GRADIENT_KINDS + ("y",) for c in text):
        return None
    acc = None
    for n, c in enumerate(text):
        v = resolve(ev, Node("NAME", (c,), leaf.start + n, leaf.start + n + 1), None, None,
                    quiet=True)
        if v is None or isinstance(v, (Func, DOp)):
            return None
        acc = v if acc is None else multiply(acc, "mul", v, leaf.start + n)
    return acc


def _gradient_name(ev: Reading, leaf: Node, sub, sup):
    """Course style: dZ^{[l]}, dW^{[l]}, db, dz, dA, dw mean ∂E/∂(that quantity)."""
    text = leaf.text if leaf.kind == "NAME" else canon(leaf.text)    # \mathrm{dscores}
    if not re.fullmatch(r"d[A-Za-z][A-Za-z0-9_]*", text) or \
            ev.scope.heads.get(split_head(canon(text[1:]))[0]) not in GRADIENT_KINDS:
        return None
    inner = Node("NAME", (text[1:],), leaf.start + 1, leaf.end)
    value = resolve(ev, inner, sub, sup, quiet=True)
    if value is None or isinstance(value, (Func, DOp)) or value == LOSS:
        return None
    return partial(ev, LOSS, value, leaf.start)


# ---- update lines: w^{new}, w^{old}, W^l_{new}, w^{(t+1)} ----------------------
SUP_MARKS = {"new": True, "t+1": True, "old": False, "t": False}    # True: the new value
SUB_MARKS = {"new": True, "old": False}


def _update_mark(ev: Reading, leaf: Node, sub: Node | None, sup: Node | None, quiet: bool):
    """A parameter written with a new/old mark: Updated(θ) for θ^{new}, θ for θ^{old};
    None when the name carries no such mark (NotImplemented: not found, quietly)."""
    if ev.scope.free:
        return None
    sup_mark = canon(ev.src(sup), sup=True) if sup is not None else ""
    sub_mark = canon(ev.src(sub)) if sub is not None else ""
    if sup_mark in SUP_MARKS:
        new, rest = SUP_MARKS[sup_mark], resolve(ev, leaf, sub, None, quiet)
    elif sub_mark in SUB_MARKS:
        new, rest = SUB_MARKS[sub_mark], resolve(ev, leaf, None, sup, quiet)
    else:
        return None
    if rest is None:
        return NotImplemented
    return updated(ev.scope, rest, leaf.start, new)


def updated(scope: Scope, value, where: int, new: bool = True):
    """Updated(θ) for a parameter θ (entrywise for a layer's W or b); θ itself for
    its old value."""
    params = set(scope.model.network.parameters)
    entries = list(value) if is_matrix(value) else [value]
    if not all(e in params for e in entries):
        raise FormulaError("only a weight or a bias has a new and an old value (an update)",
                           where, "a parameter such as w_{16}^{new} or W^{2}_{old}")
    if not new:
        return value
    return value.applyfunc(Updated) if is_matrix(value) else Updated(value)


def learning_rate_key(scope, key) -> bool:
    """η, eta, lr, learningRate (α too when no layer has an α: leaky ReLU's slope, ELU's α)."""
    if key in (("epsilon", "", ""), ("varepsilon", "", "")):       # Goodfellow's ε (Alg. 8.1)
        return getattr(scope.model.notation, "preset", None) == "goodfellow"
    if key not in LR_KEYS:
        return False
    return key[0] != "alpha" or not any(layer.alpha is not None
                                        for layer in scope.model.network.layers)


def _nabla(ev: Reading, sub: Node) -> DOp:
    """\\nabla_{a}: the operator d/da (a bare activation letter is the output a^L)."""
    plain = unwrap(sub)
    if not ev.scope.free and plain.kind in LEAVES and \
            ev.scope.heads.get(canon(plain.text)) == "a":
        return Nabla(shrink(ev.scope.layers[("a", ev.scope.n_layers)]))
    wrt = ev.expr(sub)
    entries = list(wrt) if is_matrix(wrt) else [wrt]
    if not all(isinstance(e, sp.Symbol) for e in entries):
        raise FormulaError("\\nabla_{…} needs a variable", sub.start, "\\nabla_{a}")
    return Nabla(wrt)


class Nabla(DOp):
    """\\nabla_{a}: the gradient operator; ∇_a J followed by more factors is (∇_a J)·…"""


def _loss_first(value):
    """R when ``value`` is the loss times R (R free of the loss), else None."""
    entries = list(value) if is_matrix(value) else [value]
    rest = []
    for e in entries:
        factors = sp.Mul.make_args(e)
        if factors.count(LOSS) != 1:
            return None
        r = sp.Mul(*[f for f in factors if f != LOSS])
        if r.has(LOSS):
            return None
        rest.append(r)
    return value.applyfunc(lambda e: e / LOSS) if is_matrix(value) else rest[0]


def _written(ev: Reading, leaf, sub, sup) -> str:
    """The name as written (with the closing braces the AST spans leave out)."""
    end = max(n.end for n in (leaf, sub, sup) if n is not None)
    written = ev.text[leaf.start:end]
    return written + "}" * max(0, written.count("{") - written.count("}"))


def _unknown(ev: Reading, leaf, sub, sup) -> FormulaError:
    written = _written(ev, leaf, sub, sup)
    if not ev.scope.free and canon(written) in SUB_MARKS:
        return FormulaError(f"{written!r} is a new/old-value mark, and here it is not on a "
                            "parameter's own name: write the new value as w_{16}^{new}, "
                            "w16_new (one index), W^{2}_{new} (a layer matrix), or the update as "
                            "w^{2}_{11} := …", leaf.start, "a parameter with its mark")
    if ev.scope.free:
        return FormulaError(f"unknown name {written!r}: free-standing claims use one-letter "
                            "variables (x, z, a_1, \\alpha, …) and the functions σ, exp, ln, "
                            "log, tanh, relu, leaky_relu, elu, softplus, softmax", leaf.start,
                            "a one-letter variable or a function")
    return FormulaError(f"unknown name {written!r}; this network's names are "
                        f"{ev.scope.known()}", leaf.start, "a name of the network")


def _free_symbol(head: str, subs: str, sup):
    if sup is not None or not (len(head) == 1 and head.isalpha() or head in FREE_NAMES):
        return None
    if not re.fullmatch(r"[A-Za-z0-9]{0,10}", subs):
        return None
    return sp.Symbol(head + (f"_{subs}" if subs else ""), real=True)


def _network_name(ev: Reading, head, subs, sups, sub, sup, leaf):
    scope = ev.scope
    key = (head, sups, subs)
    if key not in scope.keys and head == "W" and (sups or subs) and ("w", sups, subs) in scope.keys:
        key = ("w", sups, subs)           # W_{11}^{(1)} for the scalar w_{11}^{(1)} (seed 000)
    if key in scope.keys:
        return scope.keys[key]
    if key in scope.ambiguous:
        raise FormulaError(f"{_written(ev, leaf, sub, sup)!r} could be any of "
                           f"{', '.join(scope.ambiguous[key])}", leaf.start,
                           "indices separated by a comma, e.g. w^{1}_{1,11}")
    if key in LOSS_KEYS:
        return LOSS
    if ((head in ("L", "C", "J") and (subs in PER_EXAMPLE or (subs.isdigit() and _several(ev.scope))))
            or (head == "E" and subs == "n")) and not sups and sub is not None:   # L_i, C_x, L_2, E_n
        return _example_loss(ev, head + "_" + subs, sub)
    if learning_rate_key(scope, key):
        return LR
    if head == "t" and not subs:
        return None           # a bare t is a variable (σ'(t)); t_k, t_{o1} are targets
    if (head in TARGET_HEADS or head == "y") and not sups:
        found = target(ev, head, subs, sub)
        if found is not None:
            return found
    if head == "a" and "a" not in scope.heads and (sups or subs):
        raise FormulaError(AMBIGUOUS_A.format(z=scope.model.notation.pre_activation,
                                              a=scope.model.notation.activation),
                           leaf.start, "a definition of a, or [notation] pre_activation/activation")
    if head == "output" and not sups and not subs:
        return shrink(scope.layers[("a", scope.n_layers)])
    if not sups:
        found = output_error(ev, head, subs, sub)
        if found is not None:
            return found
    if sub is not None and len(subs) == 1:
        label = family_label(ev, subs, sub)        # out_o, δ_o inside \sum_o
        if label is not None:
            return scope.keys.get((head, sups, label))
    if sub is not None and len(subs) == 2 and not sups and scope.heads.get(head) == "W":
        found = weight_between(ev, subs, sub)      # w_{ho} inside \sum_o
        if found is not None:
            return found
    if head == "y" and subs.startswith("hat") and not sups:
        return _prediction(ev, scope, subs[3:], sub, leaf)
    supv = ev.indices(sup, open_letters=True) if sup is not None else []
    if not supv and sub is not None and scope.letter_layers:
        supv = _letter_layer(scope, head, canon(ev.src(sub)).replace(",", ""), sub.start) or supv
    if not supv and sub is not None and scope.letter_layers and subs.isdigit():
        return _bishop_unit(ev, head, subs, leaf)
    if supv and _open(supv):
        raise FreeIndex(*_open(supv), _layer_values(scope, head))
    subv = ev.indices(sub, open_letters=True) if sub is not None else \
        ([int(subs)] if subs.isdigit() else [])
    if supv is None or subv is None:
        return None
    if _open(subv):
        raise FreeIndex(*_open(subv), _neuron_values(scope, head, supv, subv))
    if head == "delta" and not supv:
        found = kronecker(ev, sub, sup, subv)
        if found is not None:
            return found
    generic = (head, sub_string(supv) if sup is not None else "",
               sub_string(subv) if sub is not None else subs)
    for g in (generic, ("w",) + generic[1:]) if head == "W" else (generic,):
        if g in scope.keys:
            return scope.keys[g]
    neuron_sub = sub is not None and canon(ev.src(sub)).replace(",", "").isalpha()
    if _entry_digits(scope, head, supv, subv, subs):
        subv, neuron_sub = [int(c) for c in subs], True    # one layer: W_{21}, b_3 are entries
    return _layer_level(scope, head, supv, subv, leaf, neuron_sub)


BACKWARD_WEIGHT = "a weight into the higher layer's unit first"


def _letter_layer(scope, head: str, letters: str, where: int = 0) -> list[int] | None:
    """Bishop's a_j, z_i, δ_k, w_{kj}: the (first) index letter names the layer.  A weight
    whose first letter is the lower layer (w_{jk}: from the output k to the hidden j) is
    no weight of the network: refused, naming the order (checker/repair.py tries w_{kj})."""
    if scope.heads.get(head) not in ("W", "b", "z", "a", "delta") or not letters.isalpha() \
            or letters[0] not in scope.letter_layers or len(letters) > 2:
        return None
    layers = scope.letter_layers
    if scope.heads.get(head) == "W" and len(letters) == 2 and letters[1] in layers and \
            layers[letters[0]] < layers[letters[1]]:
        raise FormulaError(f"w_{{{letters}}}: in Bishop's letters w_{{{letters[::-1]}}} is the "
                           f"weight from unit {letters[0]} to unit {letters[1]} (the first index in "
                           f"the higher layer); no weight runs from {letters[1]} back to "
                           f"{letters[0]}", where, BACKWARD_WEIGHT)
    return [layers[letters[0]]]


def _bishop_unit(ev: Reading, head: str, subs: str, leaf: Node):
    """z_2 in Bishop's letters: the subscript is a unit, never a layer (the letter names
    the layer: z the hidden units' outputs, y the outputs).  With one hidden layer z_2 is
    its unit 2; a_2, δ_2, w_{21}, b_2 (hidden or output?) and z_2 over several hidden
    layers are refused, not guessed."""
    scope = ev.scope
    kind, nt = scope.heads.get(head), scope.model.notation
    if kind not in ("W", "b", "z", "a", "delta"):
        return None
    if kind == "a" and head == canon(nt.activation) and scope.n_layers == 2 and len(subs) == 1:
        return _element(scope.layers[("a", 1)], subs, scope, leaf)
    raise FormulaError(f"{leaf.text}_{subs}: in Bishop's letters a "
                       "subscript is a unit and the index letter (i, j, k) or a superscript "
                       f"names the layer; write the layer, e.g. {leaf.text}^{{(1)}}_{{{subs}}}",
                       leaf.start, "a layer superscript such as ^{(1)}")


def _entry_digits(scope, head, supv, subv, subs: str) -> bool:
    """On a one-layer network (CS231n's softmax classifier), W_{21} is row 2, column 1
    and b_3 entry 3: a subscript of digits that is no layer (there is only layer 1)."""
    kind = scope.heads.get(head)
    if scope.n_layers != 1 or supv or len(subv) != 1 or not subs.isdigit() or subv[0] <= 1:
        return False
    return (kind == "W" and len(subs) == 2) or (kind in ("b", "z", "a", "delta") and len(subs) == 1)


FUNCTION_LETTERS = frozenset({"g", "f", "phi", "varphi"})
PER_EXAMPLE = ("i", "x", "n")      # CS231n's L_i, Nielsen's C_x: one example's loss
AMBIGUOUS_A = ("'a' is the activation in some sources (Nielsen, the course) and the "
               "pre-activation in others (Goodfellow, Bishop); this spec calls them {z} and {a}: "
               "define it first (a^{{(k)}} = b^{{(k)}} + W^{{(k)}} h^{{(k-1)}}) or set [notation] "
               "pre_activation = \"a\" or activation = \"a\"")


def _several(scope) -> bool:
    """Does the spec have several examples (L_1 is then example 1's loss)?"""
    values = getattr(getattr(scope.model, "spec", None), "values", None)
    return len(getattr(values, "samples", None) or ()) > 1


def _example_loss(ev: Reading, written: str, sub: Node):
    """L_i, C_x: the loss of one example, which is the loss itself when the spec has one
    example; over several (or summed over i in the claim) it is refused, not guessed."""
    samples = getattr(ev.scope.model.spec.values, "samples", None) or ()
    letter = written.split("_", 1)[1]
    if ev.scope.example == letter:
        return LOSS                      # C_x inside \sum_x: one example's loss
    summed = re.search(r"(\\sum|\u2211)\s*_\s*\{?\s*" + letter + r"\b", ev.text)
    if len(samples) > 1 and not summed:
        if letter.isdigit():             # L_1: example 1's loss
            numbered_example(int(letter), len(samples), sub.start, FormulaError)
        else:                            # L_i: any one example's loss (a per-example claim)
            EXAMPLE_LOSS.set(True)
        return LOSS
    if len(samples) > 1 or summed:
        raise FormulaError(f"{written} is one example's loss; over the spec's batch, write the "
                           "batch's loss (L, J) or one example's formula", sub.start,
                           "one example's formula")
    return LOSS


def _prediction(ev: Reading, scope, index: str, sub, leaf):
    """ŷ, ŷ_2, \\hat{y}_i (a generic index: every output)."""
    out = scope.layers[("a", scope.n_layers)]
    if not index:
        return shrink(out)
    if sub is None:
        return _element(out, index, scope, leaf) if index.isdigit() else None
    values = ev.indices(sub, open_letters=True)
    if not values or len(values) != 1:
        return None
    if isinstance(values[0], tuple):
        base = scope.model.notation.index_base
        raise FreeIndex(values[0][0], sub.start, range(base, base + len(out)))
    return _element(out, values[0], scope, leaf)


def _open(values: list | None):
    """The first (letter, position) left open in index values, if any."""
    return next((v for v in values or () if isinstance(v, tuple)), None)


def _layer_values(scope, head: str) -> range | None:
    kind = scope.heads.get(head)
    if kind is None or kind in ("x", "y"):
        return None
    low = (0 if kind == "a" else 1) + scope.layer_shift
    return range(low, scope.n_layers + 1)


def _neuron_values(scope, head: str, supv: list, subv: list) -> range | None:
    """The indices an open subscript letter can take: the neurons of the layer
    it counts (w^l_{jk}: j in layer l, k in layer l − 1; ij style the reverse)."""
    kind, net = scope.heads.get(head), scope.model.network
    position = next(i for i, v in enumerate(subv) if isinstance(v, tuple))
    sizes = net.sizes                       # sizes[l] neurons in layer l (0: inputs)
    if supv and scope.layer_shift:          # Nielsen's layer numbers: the input is layer 1
        supv = [v - scope.layer_shift if isinstance(v, int) else v for v in supv]
    if kind in ("x", "y") and not supv:
        n = sizes[0] if kind == "x" else sizes[-1]
    elif kind is None or len(supv) != 1 or not 0 <= supv[0] < len(sizes):
        return None
    elif kind == "W" and len(subv) == 2:
        source = position == (0 if scope.model.notation.style == "ij" else 1)
        if supv[0] == 0:
            return None
        n = sizes[supv[0] - 1] if source else sizes[supv[0]]
        if source and scope.model.notation.bias == "extra_weight":
            n += 1                          # the bias is the weight from the extra input
    elif kind != "W" and len(subv) == 1:
        n = sizes[supv[0]]
    else:
        return None
    base = scope.model.notation.index_base
    return range(base, base + n)


def _oriented(scope, v):
    """x, y as the layout stores them: columns, or rows ([notation] layout = "rows")."""
    return v.T if scope.layout == "rows" and is_matrix(v) else v


def _element(vec, index: str | int, scope, leaf):
    base = scope.model.notation.index_base
    j = int(index) - base
    if not 0 <= j < len(vec):
        raise OutOfRange(f"index {index} is not a neuron of this layer (it has {len(vec)})",
                         leaf.start)
    return vec[j]


def _layer_level(scope, head, supv, subv, leaf, neuron_sub: bool = False):
    """W2, W^{(2)}, z^1, a^L, \\delta^{2}, and layered w^l_{jk}, δ^l_j, x_i, y_j."""
    kind = scope.heads.get(head)
    if kind is None:
        return None
    net = scope.model.network
    if kind in ("x", "y"):
        vec = net.x if kind == "x" else net.y
        if supv or len(subv) > 1:
            return None
        return _element(vec, subv[0], scope, leaf) if subv else _oriented(scope, shrink(vec))
    if len(supv) == 1:
        layer, rest = supv[0], subv
    elif not supv and scope.n_layers == 1 and (not subv or neuron_sub):
        layer, rest = 1, subv           # one layer: W, b, z, W_{kj}, b_k (CS231n's softmax)
    elif not supv and len(subv) == 1:
        layer, rest = subv[0], []
    else:
        return None
    mat = scope.layers.get((kind, layer))
    if mat is None and kind == "a" and layer == 0:
        mat = _oriented(scope, net.x)
    if mat is None:
        raise OutOfRange(f"layer {layer} does not exist; the network has layers 1 to "
                         f"{scope.n_layers}", leaf.start)
    if not rest:
        return shrink(mat)
    if kind == "W" and len(rest) == 2 and scope.model.notation.style != "ij":
        j, k = (r - scope.model.notation.index_base for r in rest)
        if 0 <= j < mat.rows and 0 <= k < mat.cols:
            return mat[j, k]
        raise OutOfRange(f"w^{layer}_{{{rest[0]}{rest[1]}}} is not a weight of the network",
                         leaf.start)
    if kind != "W" and len(rest) == 1:
        return _element(mat, rest[0], scope, leaf)
    raise OutOfRange(f"{head} with indices {rest} is not in layer {layer}", leaf.start)


# ---- derivatives -------------------------------------------------------------
def _strip_d(node: Node) -> Node | None:
    """``dE_{total}`` → ``E_{total}`` (the name after a leading d)."""
    if node.kind == "NAME" and len(node.text) > 1 and node.text[0] == "d":
        return Node("NAME", (node.text[1:],), node.start + 1, node.end)
    if node.kind in ("sub", "sup") and isinstance(node.args[0], Node):
        inner = _strip_d(node.args[0])
        return None if inner is None else Node(node.kind, (inner, *node.args[1:]), inner.start,
                                               node.end)
    return None


def is_d(node: Node, juxt: bool = False) -> bool:
    """d, \\mathrm{d}, ∂ alone; with ``juxt`` also \\delta and Δ, which some posts
    write for ∂ (``\\delta C/\\delta w``)."""
    if node.kind == "dbare" or (node.kind in ("NAME", "WRAPPED") and canon(node.text) == "d"):
        return True
    return juxt and node.kind in ("COMMAND", "NAME") and canon(node.text) in ("delta", "Delta")


def dform(ev: Reading, node: Node):
    """('bare',) for d / ∂ alone, ('of', node) for dX / ∂X, else None."""
    node = unwrap(node)
    if is_d(node):
        return ("bare",)
    if node.kind == "dpart":
        return ("of", node.args[1])
    if node.kind == "juxt" and is_d(unwrap(node.args[0]), juxt=True):
        return ("of", node.args[1])
    stripped = _strip_d(node)
    if stripped is None:
        return None
    strict = _STRICT.set(True)
    try:
        ev.value(node)
        return None          # a real name that starts with d (delta2)
    except FormulaError:
        return ("of", stripped)
    finally:
        _STRICT.reset(strict)


def derivative_pair(ev: Reading, num: Node, den: Node):
    """num/den as a derivative (Partial or DOp), or None when it is a division."""
    a, b = dform(ev, num), dform(ev, den)
    if a is None or b is None or b[0] != "of":
        return None
    wrt = ev.expr(b[1])
    entries = list(wrt) if is_matrix(wrt) else [wrt]
    picked = selection(ev.scope, wrt) if a[0] != "bare" else None
    if picked is not None:        # ∂L_i/∂f_{y_i}: Σ_k y_k ∂L_i/∂f_k (one-hot y)
        of = ev.expr(a[1])
        return sp.Add(*[y * partial(ev, of, s, num.start) for y, s in picked])
    if not all(isinstance(e, sp.Symbol) for e in entries):
        raise FormulaError("differentiate with respect to a name", b[1].start,
                           "a name such as w_{17} or W2")
    if a[0] == "bare":
        return DOp(wrt)
    of = ev.value(a[1])
    if isinstance(of, Func):      # ∂σ/∂z: the function's derivative at z
        return apply_function(Func(of.name, of.primes + 1, of.power), [wrt], ev.scope.alpha,
                              num.start)
    if isinstance(of, DOp):
        raise FormulaError("a derivative of an operator", num.start, "a name")
    return partial(ev, of, wrt, num.start)


MAX_DIFF_NODES = 3000


def _one(ev: Reading, of, wrt, operator: bool = False):
    """∂of/∂wrt: a Partial between two names (the network's, or written as a
    fraction free-standing), else sympy.diff (free-standing) or an unevaluated
    Derivative (in a network, whose symbols are tied by the forward pass)."""
    if isinstance(of, sp.Symbol) and not (operator and ev.scope.free):
        return Partial(of, wrt)
    if not ev.scope.free:
        return sp.Derivative(of, wrt)
    for n, _ in enumerate(sp.preorder_traversal(of)):
        if n > MAX_DIFF_NODES:       # sympy.diff of a huge tree takes long
            raise FormulaError("the expression is too large to differentiate", 0,
                               "a smaller expression")
    return sp.diff(of, wrt)


def partial(ev: Reading, of, wrt, where: int):
    """∂of/∂wrt for scalars, gradients (dC/dW2), per-entry and Jacobians."""
    if not is_matrix(of) and not is_matrix(wrt):
        return _one(ev, of, wrt)
    if not is_matrix(of):
        return shrink(wrt.applyfunc(lambda w: _one(ev, of, w)))
    if not is_matrix(wrt):
        return shrink(of.applyfunc(lambda o: _one(ev, o, wrt)))
    if 1 in of.shape and 1 in wrt.shape:
        o, w = list(of), list(wrt)
        return shrink(sp.ImmutableMatrix(len(o), len(w), lambda i, j: _one(ev, o[i], w[j])))
    raise FormulaError("a derivative of a matrix by a matrix", where, "a vector or a scalar")


def apply_operator(ev: Reading, dop: DOp, value, where: int):
    """d/d(wrt) applied to what follows it."""
    if isinstance(value, (Func, DOp)):
        raise FormulaError("d/d… needs an expression", where, "an expression")
    def diff(v, w):
        return _one(ev, v, w, operator=True)
    wrt = dop.wrt
    rest = _loss_first(value) if isinstance(dop, Nabla) and value != LOSS else None
    if rest is not None:        # ∇_a J h^T: the gradient of J, times h^T (not ∇_a of J h^T)
        return multiply(partial(ev, LOSS, wrt, where), "mul", rest, where)
    if is_matrix(wrt):
        if is_matrix(value):
            raise FormulaError("a derivative of a matrix by a matrix", where, "a scalar")
        return shrink(wrt.applyfunc(lambda w: diff(value, w)))
    if is_matrix(value):
        return shrink(value.applyfunc(lambda v: diff(v, wrt)))
    return diff(value, wrt)


# ---- sums --------------------------------------------------------------------
def index_sum(ev: Reading, node: Node):
    """\\sum_k body: Σ over k of body; without an index, Σ of body's entries."""
    _, scripts, body = node.args
    if scripts.kind == "noscript":
        return total(ev.expr(body))
    index = scripts.args[0]
    letter = index.args[0].text
    if len(letter) != 1 or not letter.isalpha():
        raise FormulaError("a sum runs over one index letter", index.start, r"\sum_k")
    if not ev.scope.free and letter in example_letters(ev.text):
        return over_examples(ev, letter, body, index)
    if ev.scope.free and not ev.scope.vector_size:
        raise FormulaError("a sum over an index needs a network (a spec)", index.start,
                           "a claim about a network")
    inner = _inner_sum_over(body, letter)
    if inner is not None:      # the inner k would hide the outer one (and cost 3ⁿ for n of them)
        raise FormulaError(f"a sum over {letter} inside a sum over {letter}: the inner index "
                           "hides the outer one", inner, "another index letter for the inner sum")
    values, explicit = _sum_range(ev, scripts, letter, body)
    terms = []
    for v in values:
        try:
            terms.append(ev.bind(letter, v).expr(body))
        except OutOfRange:
            if explicit:
                raise
    if not terms:
        raise OutOfRange(f"the sum over {letter} has no terms in this network", node.start)
    acc = terms[0]
    for t in terms[1:]:
        acc = add(acc, 1, t, node.start)
    return acc


def over_examples(ev: Reading, letter: str, body: Node, index: Node):
    """\\sum_x, \\sum_{i=1}^{m} over the examples: the body, read as one example's formula
    (formula/examples.py); the batch check sums it over a batch."""
    if ev.scope.example is not None:
        raise FormulaError("a sum over the examples inside another", index.start,
                           "one sum over the examples")
    if ev.scope.paren_superscript == "layer" and "(" + letter + ")" not in ev.text.replace(" ", ""):
        raise FormulaError(f"({letter}) is the layer here ([notation] paren_superscript)",
                           index.start, "a sum over the layer's neurons")
    inner = _in_scope(ev, replace(ev.scope, example=letter))
    return inner.expr(body)


def _in_scope(ev: Reading, scope: Scope):
    """The claim's evaluator in another scope (same text, bound indices and budget)."""
    return type(ev)(scope, ev.text, dict(ev.bound), ev.budget)


def _sum_letter(node: Node) -> str | None:
    """The index letter of a ``\\sum_k`` node (None for a sum without an index)."""
    scripts = node.args[1]
    return None if scripts.kind == "noscript" else scripts.args[0].args[0].text


def _inner_sum_over(body: Node, letter: str) -> int | None:
    """The position of a sum over ``letter`` inside ``body``, or None."""
    stack = [body]
    while stack:
        node = stack.pop()
        if node.kind == "sum" and _sum_letter(node) == letter:
            return node.start
        stack.extend(a for a in node.args if isinstance(a, Node))
    return None


def _sum_range(ev: Reading, scripts: Node, letter: str, body: Node):
    index = scripts.args[0]
    lo = ev.indices(index.args[2]) if len(index.args) > 2 else None
    hi = ev.indices(scripts.args[1]) if len(scripts.args) > 1 else None
    if lo and hi and len(lo) == 1 and len(hi) == 1:
        if hi[0] - lo[0] > MAX_SUM_TERMS:
            raise FormulaError("a sum with too many terms", index.start,
                               f"at most {MAX_SUM_TERMS}")
        return range(lo[0], hi[0] + 1), True
    try:                 # the neurons the letter counts where the body first uses it
        ev.bind(letter, None).expr(body)
    except FreeIndex as err:
        if err.letter != letter:
            raise
        if err.values is not None:
            return err.values, False
    except OutOfRange:
        pass
    return ev.scope.index_range(letter), False
