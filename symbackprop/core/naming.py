"""Validation of a spec's ``[notation]`` and ``[names]`` tables.

Names reach LaTeX, generated code and the formula grammar, so a name is an
identifier that reads as nothing else (not an input x1, a target y, a
function or a loss symbol).  ``notation.py`` turns the validated choices
into symbols.
"""
from __future__ import annotations

import keyword
import re
from typing import Any

from .errors import SpecError, suggest, where as _where

ARRAY = re.compile(r"([Wb])([0-9]+)")

# Allowed values of each [notation] key; notation.py maps them to symbols.
NOTATION_CHOICES: dict[str, tuple] = {
    "preset": ("nielsen", "bishop", "goodfellow", "ng", "cs231n"),
    "style": ("layered", "ij", "numbered"),
    "numbering": ("source-major", "target-major"),
    "bias": ("separate", "extra_weight"),
    "index_base": (1, 0),
    "loss": ("E", "C", "L", "J", "E_total"),
    # Bishop writes a for the pre-activation and z for the output, Goodfellow a and h
    "pre_activation": ("z", "net", "h", "a"),
    "activation": ("a", "out", "h", "o", "z"),
    "prediction": ("activation", "y_hat"),
    "error": ("delta",),
    # what a parenthesised superscript is in claims: the layer (W^{(2)}) or the
    # example (x^{(i)}, with layers in brackets a^{[2](i)})
    "paren_superscript": ("layer", "example"),
    # how a layer number is written on a symbol: w^2, w^{(2)}, w^{[2]} (any index order)
    "superscript": ("plain", "paren", "bracket"),
    # the number the input layer gets in the display (Nielsen: 1, so the spec's W1 is w^2)
    "input_layer": (0, 1),
    "target": ("y", "t"),
    # the letter of the network's outputs: a^L itself, y (Bishop), ŷ, h, p (CS231n)
    "output": ("a", "y", "y_hat", "h", "p"),
    # the activation function's letter in the general formulas (Bishop: h)
    "function": ("f", "g", "sigma", "phi", "h"),
    "transpose": ("top", "T", "mathsf"),        # ^{\top}, ^{T}, ^{\mathsf{T}}
    "hadamard": ("odot", "circ", "ast"),        # ⊙, ∘, * (Ng's elementwise product)
    # examples as columns (Z = W A + b) or as rows (CS231n: X W + b, W shown in×out)
    "layout": ("columns", "rows"),
    # ∂L/∂Z, or the course's dZ
    "gradient_names": ("partial", "d"),
}
# What each preset expands to; explicit [notation] keys override these (naming.expand).
PRESETS: dict[str, dict[str, Any]] = {
    "nielsen": {"style": "layered", "loss": "C", "superscript": "plain", "input_layer": 1, "pre_activation": "z",
                "activation": "a", "target": "y", "output": "a", "function": "sigma",
                "transpose": "T", "hadamard": "odot", "layout": "columns",
                "gradient_names": "partial"},
    "bishop": {"style": "layered", "loss": "E", "superscript": "paren", "input_layer": 0, "pre_activation": "a",
               "activation": "z", "target": "t", "output": "y", "function": "h",
               "transpose": "T", "hadamard": "odot", "layout": "columns",
               "gradient_names": "partial"},
    "goodfellow": {"style": "layered", "loss": "J", "superscript": "paren", "input_layer": 0, "pre_activation": "a",
                   "activation": "h", "target": "y", "output": "y_hat", "function": "f",
                   "transpose": "top", "hadamard": "odot", "layout": "columns",
                   "gradient_names": "partial"},
    "ng": {"style": "layered", "loss": "L", "superscript": "bracket", "input_layer": 0, "pre_activation": "z",
           "activation": "a", "target": "y", "output": "a", "function": "g",
           "transpose": "T", "hadamard": "ast", "layout": "columns", "gradient_names": "d"},
    "cs231n": {"style": "layered", "loss": "L", "superscript": "plain", "input_layer": 0, "pre_activation": "z",
               "activation": "h", "target": "y", "output": "p", "function": "f",
               "transpose": "T", "hadamard": "odot", "layout": "rows",
               "gradient_names": "d"},
}
# One line a preset: its source and a sample equation (symbackprop notations).
PRESET_SOURCES = {
    "nielsen": "Nielsen, Neural Networks and Deep Learning, ch. 2 (input = layer 1, BP1-BP4)",
    "bishop": "Bishop, Pattern Recognition and Machine Learning, sec. 5.3 (a pre-activation, z output, t target)",
    "goodfellow": "Goodfellow, Bengio, Courville, Deep Learning, sec. 6.5, Algorithm 6.4 (a, h, J, nabla)",
    "ng": "Ng, Deep Learning Specialization, course 1 (W^[l], Z^[l], A^[l], dZ, 1/m)",
    "cs231n": "CS231n notes, Neural Networks case study (rows: XW + b, scores f, probabilities p, dscores)",
}
PRESET_SAMPLES = {
    "nielsen": "delta^L = nabla_a C ⊙ sigma'(z^L);  dC/dw^l_jk = a^(l-1)_k delta^l_j",
    "bishop": "delta_k = y_k - t_k;  delta_j = h'(a_j) sum_k w_kj delta_k;  dE/dw_ji = delta_j z_i",
    "goodfellow": "g <- g ⊙ f'(a^(k));  grad_W(k) J = g h^(k-1)T;  g <- W^(k)T g",
    "ng": "dZ^[l] = dA^[l] * g^[l]'(Z^[l]);  dW^[l] = 1/m dZ^[l] A^[l-1]T",
    "cs231n": "dscores = (p - 1[y_i]) / N;  dW = X^T dscores;  db = sum_i dscores_i",
}
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# Names that would read as an input, a target, a function or a loss symbol.
RESERVED = frozenset({"x", "y", "exp", "log", "ln", "sigma", "sqrt", "max", "min", "sum", "e",
                      "pi", "delta", "eta", "net", "out", "E", "C", "L", "J", "E_total", "sigmoid",
                      "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "identity"}
                     | set(keyword.kwlist))
RESERVED_PATTERN = re.compile(r"[xy][0-9]+|[xy]_[0-9]+")


def _check_value(key, value, source: str) -> None:
    if key not in NOTATION_CHOICES:
        raise SpecError(f"{_where(source, 'notation.' + key)}: unknown key.{suggest(key, NOTATION_CHOICES)} "
                        f"Expected one of: {', '.join(NOTATION_CHOICES)}.")
    choices = NOTATION_CHOICES[key]
    if isinstance(value, bool) or value not in choices:
        raise SpecError(f"{_where(source, 'notation.' + key)}: expected one of "
                        f"{', '.join(repr(c) for c in choices)}, got {value!r}.{suggest(value, map(str, choices))}")


def expand(raw: dict) -> dict[str, Any]:
    """[notation] with its preset's keys filled in; explicit keys win.

    >>> expand({"preset": "bishop", "target": "y"})["pre_activation"], expand({"preset": "bishop"})["target"]
    ('a', 't')
    """
    return {**PRESETS.get(raw.get("preset"), {}), **raw}


def validate_notation(raw: dict, source: str) -> dict[str, Any]:
    """Check every [notation] key against NOTATION_CHOICES; a preset is expanded to its keys
    (explicit keys override it), and the result is checked as a whole."""
    for key, value in raw.items():
        _check_value(key, value, source)
    if "numbering" in raw and raw.get("style") != "numbered":
        raise SpecError(f"{_where(source, 'notation.numbering')}: numbering applies only to "
                        "style = \"numbered\".")
    full = expand(raw)
    named = f" (preset {full['preset']!r})" if "preset" in full else ""
    if full.get("pre_activation", "z") == full.get("activation", "a"):
        key = "activation" if "activation" in raw or "pre_activation" not in raw else "pre_activation"
        raise SpecError(f"{_where(source, 'notation.' + key)}: the pre-activation and the "
                        f"activation need different letters{named}.")
    out = full.get("output", "a")
    if out in ("y", "h", "a") and out == full.get("target", "y"):
        raise SpecError(f"{_where(source, 'notation.output')}: the outputs and the targets "
                        f"would both be {out}{named}; set target = \"t\" or another output.")
    if out in ("h", "a", "z") and out != full.get("activation", "a") \
            and out == full.get("pre_activation", "z"):
        raise SpecError(f"{_where(source, 'notation.output')}: {out!r} is the pre-activation's "
                        f"letter{named}; the outputs need another.")
    if full.get("style", "layered") == "numbered" and ("input_layer" in raw or "superscript" in raw):
        key = "input_layer" if "input_layer" in raw else "superscript"
        raise SpecError(f"{_where(source, 'notation.' + key)}: the numbered style writes no layer "
                        "numbers; use style = \"layered\" or \"ij\".")
    return full


def check_class_targets(notation: dict, values, source: str) -> None:
    """CS231n writes y_i as the index of example i's correct class: with that preset every
    target must be one-hot (one 1, the rest 0)."""
    if notation.get("preset") != "cs231n" or values is None:
        return
    for n, sample in enumerate(values.samples, start=1):
        ones = [v for v in sample.y if v == 1]
        if len(ones) != 1 or any(v not in (0, 1) for v in sample.y):
            raise SpecError(f"{_where(source, 'notation.preset')}: the cs231n notation writes "
                            "y_i as the index of the correct class, so every target must be "
                            f"one-hot (one 1, the rest 0); example {n} has y = "
                            f"[{', '.join(format(v, 'f') for v in sample.y)}]. Give one-hot "
                            "targets, or another preset.")


def with_preset(notation: dict, preset: str, source: str) -> dict[str, Any]:
    """``--notation PRESET``: the preset over the spec's [notation] (it replaces the spec's
    preset and the keys that preset sets; the spec's other keys stay)."""
    _check_value("preset", preset, source)
    own = {k: v for k, v in notation.items()
           if k not in PRESETS.get(notation.get("preset"), {}) and k not in PRESETS[preset]}
    return validate_notation({**own, "preset": preset}, source)


def check_name(value, source: str, where: str) -> str:
    """A parameter or neuron name: an identifier that reads as nothing else."""
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise SpecError(f"{_where(source, where)}: expected a name like w1 or h_out "
                        f"([A-Za-z][A-Za-z0-9_]*, at most 32 characters), got {value!r}.")
    if value in RESERVED or RESERVED_PATTERN.fullmatch(value):
        raise SpecError(f"{_where(source, where)}: {value!r} is reserved (inputs are x1…, "
                        "targets y…, and function or loss names are taken); choose another name.")
    return value


def _name_list(value, n: int, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise SpecError(f"{_where(source, where)}: expected a list of {n} names, got {value!r}.")
    return tuple(check_name(v, source, f"{where}[{i}]") for i, v in enumerate(value))


def validate_names(raw: dict, sizes, source: str) -> dict[str, Any]:
    """[names]: ``neurons`` per layer (inputs first), W<l> [target][source], b<l>."""
    names: dict[str, Any] = {}
    for key, value in raw.items():
        match = ARRAY.fullmatch(key)
        where = "names." + key
        if key == "neurons":
            if not isinstance(value, list) or len(value) != len(sizes):
                raise SpecError(f"{_where(source, where)}: expected {len(sizes)} lists of names "
                                "(one per layer, inputs first).")
            names[key] = tuple(_name_list(v, sizes[l], source, f"{where}[{l}]")
                               for l, v in enumerate(value))
        elif match and 1 <= int(match[2]) < len(sizes):
            l = int(match[2])
            if match[1] == "b":
                names[key] = _name_list(value, sizes[l], source, where)
            elif not isinstance(value, list) or len(value) != sizes[l]:
                raise SpecError(f"{_where(source, where)}: expected {sizes[l]} rows of "
                                f"{sizes[l - 1]} names ([target][source]).")
            else:
                names[key] = tuple(_name_list(r, sizes[l - 1], source, f"{where}[{j}]")
                                   for j, r in enumerate(value))
        else:
            keys = ["neurons"] + [f"{p}{l}" for l in range(1, len(sizes)) for p in "Wb"]
            raise SpecError(f"{_where(source, where)}: unknown key.{suggest(key, keys)} Expected "
                            f"neurons, W1…W{len(sizes) - 1} or b1…b{len(sizes) - 1}.")
    _check_name_clashes(names, source)
    return names


def flat_names(value) -> list[str]:
    """The names of a [names] entry (a list or a list of rows), in order."""
    return [n for v in value for n in ((v,) if isinstance(v, str) else v)]


def _check_name_clashes(names: dict, source: str) -> None:
    neurons = flat_names(names.get("neurons", ()))
    duplicate = next((n for i, n in enumerate(neurons) if n in neurons[:i]), None)
    if duplicate:
        raise SpecError(f"{_where(source, 'names.neurons')}: the neuron name {duplicate!r} is used twice.")
    for key, value in names.items():
        clash = next((n for n in flat_names(value) if key != "neurons" and n in neurons), None)
        if clash:
            raise SpecError(f"{_where(source, 'names.' + key)}: {clash!r} names both a neuron "
                            "and a parameter.")
