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
    "style": ("layered", "ij", "numbered"),
    "numbering": ("source-major", "target-major"),
    "bias": ("separate", "extra_weight"),
    "index_base": (1, 0),
    "loss": ("E", "C", "L", "J", "E_total"),
    "pre_activation": ("z", "net", "h"),
    "activation": ("a", "out", "h", "o"),
    "prediction": ("activation", "y_hat"),
    "error": ("delta",),
    # what a parenthesised superscript is in claims: the layer (W^{(2)}) or the
    # example (x^{(i)}, with layers in brackets a^{[2](i)})
    "paren_superscript": ("layer", "example"),
}
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# Names that would read as an input, a target, a function or a loss symbol.
RESERVED = frozenset({"x", "y", "exp", "log", "ln", "sigma", "sqrt", "max", "min", "sum", "e",
                      "pi", "delta", "eta", "net", "out", "E", "C", "L", "J", "E_total", "sigmoid",
                      "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "identity"}
                     | set(keyword.kwlist))
RESERVED_PATTERN = re.compile(r"[xy][0-9]+|[xy]_[0-9]+")


def validate_notation(raw: dict, source: str) -> dict[str, Any]:
    """Check every [notation] key against NOTATION_CHOICES."""
    for key, value in raw.items():
        if key not in NOTATION_CHOICES:
            raise SpecError(f"{_where(source, 'notation.' + key)}: unknown key.{suggest(key, NOTATION_CHOICES)} "
                            f"Expected one of: {', '.join(NOTATION_CHOICES)}.")
        choices = NOTATION_CHOICES[key]
        if isinstance(value, bool) or value not in choices:
            raise SpecError(f"{_where(source, 'notation.' + key)}: expected one of "
                            f"{', '.join(repr(c) for c in choices)}, got {value!r}.{suggest(value, map(str, choices))}")
    if "numbering" in raw and raw.get("style") != "numbered":
        raise SpecError(f"{_where(source, 'notation.numbering')}: numbering applies only to "
                        "style = \"numbered\".")
    if raw.get("pre_activation", "z") == raw.get("activation", "a"):
        raise SpecError(f"{_where(source, 'notation.activation')}: the pre-activation and the "
                        "activation need different letters.")
    return dict(raw)


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
