"""An exercise family: the TOML spec of many versions of one backprop exercise.

The family file is untrusted text: read size-capped, parsed with ``tomllib`` and
checked key by key here (``FamilyError`` names the key and what was expected;
nothing is evaluated).  A family holds a network template whose sizes,
activations, loss and notation preset are lists to draw from, the grids the
parameter values and the example are drawn on, and the questions.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..core.errors import SpecError, suggest
from ..core.files import read_text_limited
from ..core.functions import ACTIVATIONS, LOSSES
from ..core.naming import PRESETS
from ..core.spec import LAYER_TYPES

MAX_FAMILY_BYTES = 200_000
MAX_LAYERS = 4
MAX_SIZE = 6              # neurons a layer: exercises are worked by hand
MAX_QUESTIONS = 20
MAX_DECIMALS = 4
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
KINDS = ("forward", "loss", "delta", "gradient", "chain", "update", "vectorised", "derivation")
TOP_KEYS = ("family", "title", "digits", "tolerance", "distractors", "network", "values", "question")
NETWORK_KEYS = ("inputs", "loss", "preset", "layer")
LAYER_KEYS = ("size", "activation", "type")
VALUE_KEYS = ("weights", "biases", "x", "y", "learning_rate", "relu_margin")
GRID_KEYS = ("min", "max", "decimals")
# which keys each question kind takes (beyond kind and style)
QUESTION_KEYS = {"forward": ("quantity", "layer"), "loss": (), "delta": ("layer",),
                 "gradient": ("array", "layer"), "chain": ("array", "layer"),
                 "update": ("array", "layer"), "vectorised": ("layer",), "derivation": ()}
STYLES = {"forward": ("numerical", "multichoice"), "loss": ("numerical", "multichoice"),
          "delta": ("numerical", "multichoice"), "gradient": ("numerical", "multichoice"),
          "update": ("numerical", "multichoice"), "chain": ("multichoice",),
          "vectorised": ("multichoice",), "derivation": ("essay",)}
NO_PRESET = "none"        # the default notation (symbackprop's own letters)


class FamilyError(SpecError):
    """A family file that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class Grid:
    """Values min, min + step, …, max with ``decimals`` places (step = 10^−decimals)."""

    low: Decimal
    high: Decimal
    decimals: int

    def count(self) -> int:
        return int((self.high - self.low).scaleb(self.decimals)) + 1

    def at(self, k: int) -> Decimal:
        return (self.low + Decimal(k).scaleb(-self.decimals)).quantize(Decimal(1).scaleb(-self.decimals))


@dataclass(frozen=True)
class LayerTemplate:
    sizes: tuple[int, ...]
    activations: tuple[str, ...]


@dataclass(frozen=True)
class QuestionSpec:
    kind: str
    style: str
    quantity: str | None = None    # forward: "z" or "a"
    layer: int | str | None = None   # a layer number, "output" or "hidden"
    array: str | None = None       # "W" or "b"


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    source: str
    text: str
    inputs: tuple[int, ...]
    losses: tuple[str, ...]
    presets: tuple[str, ...]
    layers: tuple[LayerTemplate, ...]
    weights: Grid
    biases: Grid
    x: Grid
    y: Grid | str                  # a grid, or "one_hot"
    learning_rates: tuple[Decimal, ...]
    relu_margin: Decimal
    digits: int
    rel: Decimal
    abs: Decimal | None
    distractors: int
    questions: tuple[QuestionSpec, ...]


def load_family(path: str | Path) -> Family:
    """Read and check the family file at ``path`` (size-capped, UTF-8)."""
    path = Path(path)
    text = read_text_limited(path, MAX_FAMILY_BYTES, "family")
    return parse_family(text, str(path), path.stem)


def parse_family(text: str, source: str = "<family>", stem: str = "family") -> Family:
    """Check the TOML ``text`` of a family.

    >>> f = parse_family('family = "f"\\n[network]\\ninputs = 2\\nloss = "half_sse"\\n'
    ...                  '[[network.layer]]\\nsize = 1\\nactivation = "sigmoid"\\n'
    ...                  '[[question]]\\nkind = "loss"')
    >>> f.name, f.layers[0].activations, f.questions[0].style
    ('f', ('sigmoid',), 'numerical')
    """
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise FamilyError(f"{source}: not valid TOML: {exc}.") from None
    except RecursionError:
        raise FamilyError(f"{source}: tables nested too deeply.") from None
    _known(data, TOP_KEYS, source, "")
    name = data.get("family", stem)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise FamilyError(f"{_at(source, 'family')}: expected a name of letters, digits, _ . - "
                          f"(at most 64), got {name!r}.")
    title = data.get("title", name)
    if not isinstance(title, str) or len(title) > 200:
        raise FamilyError(f"{_at(source, 'title')}: expected a string of at most 200 characters.")
    net = _table(data, "network", source, required=True)
    _known(net, NETWORK_KEYS, source, "network.")
    values = _table(data, "values", source)
    _known(values, VALUE_KEYS, source, "values.")
    tol = _table(data, "tolerance", source)
    _known(tol, ("rel", "abs"), source, "tolerance.")
    layers = _layers(net.get("layer"), source)
    questions = _questions(data.get("question"), len(layers), source)
    family = Family(
        name=name, title=title, source=source, text=text,
        inputs=_ints(net, "inputs", source, "network.", 1, MAX_SIZE, required=True),
        losses=_choices(net, "loss", tuple(LOSSES), source, "network.", required=True),
        presets=_choices(net, "preset", (NO_PRESET,) + tuple(PRESETS), source, "network.",
                         default=(NO_PRESET,)),
        layers=layers,
        weights=_grid(values, "weights", source, (Decimal("-1"), Decimal("1"), 1)),
        biases=_grid(values, "biases", source, (Decimal("-0.5"), Decimal("0.5"), 1)),
        x=_grid(values, "x", source, (Decimal("0"), Decimal("1"), 1)),
        y=("one_hot" if values.get("y") == "one_hot" else
           _grid(values, "y", source, (Decimal("0"), Decimal("1"), 1))),
        learning_rates=_numbers(values, "learning_rate", source, (Decimal("0.5"),)),
        relu_margin=_number(values, "relu_margin", source, Decimal("0.05"), low=Decimal(0)),
        digits=_int(data, "digits", source, "", 4, 2, 6),
        rel=_number(tol, "rel", source, Decimal("0.01"), low=Decimal(0), high=Decimal("0.2"),
                    name="tolerance.rel"),
        abs=_number(tol, "abs", source, None, low=Decimal(0), name="tolerance.abs"),
        distractors=_int(data, "distractors", source, "", 3, 1, 6),
        questions=questions)
    _cross_checks(family, values)
    return family


def _cross_checks(family: Family, values: dict) -> None:
    """Rules between keys: CS231n's letters need one-hot targets; the tolerance must
    cover the rounding of the digits shown."""
    if "cs231n" in family.presets and family.y != "one_hot":
        raise FamilyError(f"{_at(family.source, 'network.preset')}: the cs231n notation writes "
                          "y_i as the correct class, so its targets must be one-hot; set "
                          "[values] y = \"one_hot\" or leave cs231n out.")
    rounding = Decimal(5).scaleb(-family.digits)      # half a unit at `digits` significant
    if family.rel < rounding:
        raise FamilyError(f"{_at(family.source, 'tolerance.rel')}: {family.rel} is below the "
                          f"rounding of {family.digits} significant digits ({rounding}); a key "
                          "as shown could fall outside it. Give a larger rel or more digits.")


def _at(source: str, key: str) -> str:
    return f"{source}: key `{key}`"


def _known(table: dict, allowed, source: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise FamilyError(f"{_at(source, prefix + key)}: unknown key.{suggest(key, allowed)} "
                              f"Expected one of: {', '.join(allowed)}.")


def _table(data: dict, key: str, source: str, required: bool = False) -> dict:
    value = data.get(key)
    if value is None:
        if required:
            raise FamilyError(f"{_at(source, key)}: missing; expected a [{key}] table.")
        return {}
    if not isinstance(value, dict):
        raise FamilyError(f"{_at(source, key)}: expected a table, got {_kind(value)}.")
    return value


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", str: "a string", list: "an array",
            dict: "a table", Decimal: "a number"}.get(type(value), type(value).__name__)


def _int(table, key, source, prefix, default, low, high) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FamilyError(f"{_at(source, prefix + key)}: expected an integer from {low} to "
                          f"{high}, got {value!r}.")
    return value


def _ints(table, key, source, prefix, low, high, required=False) -> tuple[int, ...]:
    """An integer or a non-empty list of integers to draw from."""
    if key not in table and required:
        raise FamilyError(f"{_at(source, prefix + key)}: missing; expected an integer or a "
                          f"list of integers from {low} to {high}.")
    value = table.get(key)
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 20 or any(isinstance(v, bool) or not isinstance(v, int)
                                           or not low <= v <= high for v in items):
        raise FamilyError(f"{_at(source, prefix + key)}: expected an integer or a list of "
                          f"integers from {low} to {high}, got {value!r}.")
    return tuple(dict.fromkeys(items))


def _choices(table, key, allowed, source, prefix, required=False, default=None) -> tuple[str, ...]:
    """A name or a non-empty list of names, each one of ``allowed``."""
    if key not in table:
        if required:
            raise FamilyError(f"{_at(source, prefix + key)}: missing; expected one of "
                              f"{', '.join(allowed)} or a list of them.")
        return default
    value = table[key]
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 20:
        raise FamilyError(f"{_at(source, prefix + key)}: expected one of {', '.join(allowed)} "
                          "or a list of 1 to 20 of them.")
    for v in items:
        if not isinstance(v, str) or v not in allowed:
            hint = suggest(v, allowed) if isinstance(v, str) else ""
            raise FamilyError(f"{_at(source, prefix + key)}: {v!r} is not one of "
                              f"{', '.join(allowed)}.{hint}")
    return tuple(dict.fromkeys(items))


def _number(table, field, source, default, low=None, high=None, name=None):
    """One number of ``table`` (``name``: the key as the message shows it)."""
    name = name or f"values.{field}"
    value = table.get(field, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or \
            not Decimal(value).is_finite() or (low is not None and value < low) or \
            (high is not None and value > high):
        span = f" from {low}" if low is not None else ""
        span += f" to {high}" if high is not None else ""
        raise FamilyError(f"{_at(source, name)}: expected a number{span}, got {value!r}.")
    return Decimal(value)


def _numbers(table, key, source, default) -> tuple[Decimal, ...]:
    value = table.get(key)
    if value is None:
        return default
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 20 or any(isinstance(v, bool) or not isinstance(v, (int, Decimal))
                                           or not Decimal(v).is_finite() or not 0 < v <= 10
                                           for v in items):
        raise FamilyError(f"{_at(source, 'values.' + key)}: expected a number in (0, 10] or a "
                          f"list of them, got {value!r}.")
    return tuple(Decimal(v) for v in dict.fromkeys(items))


def _grid(table, key, source, default) -> Grid:
    """``{min, max, decimals}``: the values drawn are multiples of 10^−decimals."""
    value = table.get(key)
    if value is None:
        return Grid(*default)
    where = f"values.{key}"
    if not isinstance(value, dict):
        raise FamilyError(f"{_at(source, where)}: expected a table {{min = …, max = …, "
                          f"decimals = …}}, got {_kind(value)}.")
    _known(value, GRID_KEYS, source, where + ".")
    for k in ("min", "max"):
        v = value.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, Decimal)) or not Decimal(v).is_finite() \
                or abs(v) > 100:
            raise FamilyError(f"{_at(source, where + '.' + k)}: expected a number from −100 to "
                              f"100, got {v!r}.")
    decimals = _int(value, "decimals", source, where + ".", 1, 0, MAX_DECIMALS)
    low, high = Decimal(value["min"]), Decimal(value["max"])
    step = Decimal(1).scaleb(-decimals)
    if high < low or (low % step) != 0 or (high % step) != 0:
        raise FamilyError(f"{_at(source, where)}: expected min ≤ max, both multiples of "
                          f"{step} (decimals = {decimals}), got min = {low}, max = {high}.")
    return Grid(low, high, decimals)


def _layers(raw, source) -> tuple[LayerTemplate, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise FamilyError(f"{_at(source, 'network.layer')}: expected one or more "
                          "[[network.layer]] tables, the output layer last.")
    if len(raw) > MAX_LAYERS:
        raise FamilyError(f"{_at(source, 'network.layer')}: {len(raw)} layers; an exercise "
                          f"has at most {MAX_LAYERS}.")
    out = []
    for i, table in enumerate(raw, start=1):
        prefix = f"network.layer[{i}]."
        kind = table.get("type", "dense")
        if kind != "dense":
            if not isinstance(kind, str):
                raise FamilyError(f"{_at(source, prefix + 'type')}: expected a layer type "
                                  f"name, got {_kind(kind)}.")
            raise FamilyError(f"{_at(source, prefix + 'type')}: layer type {kind!r} is not "
                                  "supported by the exercise generator yet; it draws dense "
                                  f"layers only (the spec's layer types: {', '.join(LAYER_TYPES)}).")
        _known(table, LAYER_KEYS, source, prefix)
        sizes = _ints(table, "size", source, prefix, 1, MAX_SIZE, required=True)
        acts = _choices(table, "activation", tuple(ACTIVATIONS), source, prefix, required=True)
        if "softmax" in acts and i < len(raw):
            raise FamilyError(f"{_at(source, prefix + 'activation')}: softmax belongs on the "
                              "output layer only.")
        out.append(LayerTemplate(sizes, acts))
    return tuple(out)


def _questions(raw, n_layers: int, source) -> tuple[QuestionSpec, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise FamilyError(f"{_at(source, 'question')}: expected one or more [[question]] tables "
                          f"(kind = one of {', '.join(KINDS)}).")
    if len(raw) > MAX_QUESTIONS:
        raise FamilyError(f"{_at(source, 'question')}: at most {MAX_QUESTIONS} questions.")
    out = []
    for i, table in enumerate(raw, start=1):
        prefix = f"question[{i}]."
        kind = table.get("kind")
        if kind not in KINDS:
            hint = suggest(kind, KINDS) if isinstance(kind, str) else ""
            raise FamilyError(f"{_at(source, prefix + 'kind')}: expected one of "
                              f"{', '.join(KINDS)}, got {kind!r}.{hint}")
        _known(table, ("kind", "style") + QUESTION_KEYS[kind], source, prefix)
        style = table.get("style", STYLES[kind][0])
        if style not in STYLES[kind]:
            raise FamilyError(f"{_at(source, prefix + 'style')}: a {kind} question is "
                              f"{' or '.join(STYLES[kind])}, got {style!r}.")
        quantity = table.get("quantity", "a") if kind == "forward" else None
        if kind == "forward" and quantity not in ("z", "a"):
            raise FamilyError(f"{_at(source, prefix + 'quantity')}: expected \"z\" or \"a\", "
                              f"got {quantity!r}.")
        array = table.get("array", "W") if "array" in QUESTION_KEYS[kind] else None
        if array not in (None, "W", "b"):
            raise FamilyError(f"{_at(source, prefix + 'array')}: expected \"W\" or \"b\", "
                              f"got {array!r}.")
        layer = table.get("layer", "output") if "layer" in QUESTION_KEYS[kind] else None
        if layer is not None and layer not in ("output", "hidden") and (
                isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= n_layers):
            raise FamilyError(f"{_at(source, prefix + 'layer')}: expected a layer number from 1 "
                              f"to {n_layers}, \"output\" or \"hidden\", got {layer!r}.")
        if layer == "hidden" and n_layers < 2:
            raise FamilyError(f"{_at(source, prefix + 'layer')}: \"hidden\" needs a network "
                              "with a hidden layer (two or more [[network.layer]]).")
        if kind == "vectorised" and layer in ("output", n_layers):
            raise FamilyError(f"{_at(source, prefix + 'layer')}: the vectorised question asks "
                              "for a hidden layer's δ; give \"hidden\" or a hidden layer's number.")
        out.append(QuestionSpec(kind, style, quantity, layer, array))
    return tuple(out)
