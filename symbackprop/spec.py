"""Read a network spec (TOML) into typed, validated records.

This is the one place that looks at user input.  Everything after it
trusts the types.  Numbers are read as ``Decimal`` so the worked example
can be redone exactly from the digits as written.
"""
from __future__ import annotations

import difflib
import keyword
import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .functions import ACTIVATIONS, LOSSES

MAX_SPEC_BYTES = 5_000_000
MAX_NEURONS = 100_000


class SpecError(ValueError):
    """A spec that cannot be used; the message names the key and the fix."""


@dataclass(frozen=True)
class LayerSpec:
    size: int
    activation: str
    alpha: Decimal | None = None   # leaky_relu slope


@dataclass(frozen=True)
class Sample:
    x: tuple[Decimal, ...]
    y: tuple[Decimal, ...]


@dataclass(frozen=True)
class Values:
    """The numbers of a spec's ``[values]`` table.

    ``arrays`` maps layer-array names (``W1``, ``b1``, …) to nested tuples
    in [target][source] layout; ``scalars`` maps parameter names to a value.
    """

    samples: tuple[Sample, ...] = ()
    learning_rate: Decimal | None = None
    arrays: dict[str, Any] = field(default_factory=dict)
    scalars: dict[str, Decimal] = field(default_factory=dict)
    frozen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Spec:
    name: str
    inputs: int
    layers: tuple[LayerSpec, ...]
    loss: str
    values: Values | None = None
    notation: dict[str, Any] = field(default_factory=dict)
    names: dict[str, Any] = field(default_factory=dict)
    batch: str = "mean"
    source: str = "<spec>"

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs,) + tuple(layer.size for layer in self.layers)


TOP_KEYS = {"inputs", "loss", "layer", "values", "notation", "names", "network", "name"}
LAYER_KEYS = {"size", "activation", "alpha"}


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file; expected a network spec in TOML "
                        "(see `symbackprop examples`).") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the file ({exc.strerror}).") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: the file is {len(data)} bytes; a spec may be "
                        f"at most {MAX_SPEC_BYTES} bytes.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (bad byte at offset {exc.start}); "
                        "save the spec as UTF-8.") from None
    return parse_spec(text, source=str(path), name=path.stem)


def parse_spec(text: str, source: str = "<spec>", name: str = "network") -> Spec:
    """Validate TOML ``text`` as a network spec.

    >>> spec = parse_spec('inputs = 1\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"')
    >>> spec.sizes
    (1, 1)
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: the spec is too long (at most {MAX_SPEC_BYTES} characters).")
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}.") from None
    return _spec_from_dict(data, source, name)


def _where(source: str, key: str) -> str:
    return f"{source}: key `{key}`"


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def _spec_from_dict(data: dict, source: str, name: str) -> Spec:
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(f"{_where(source, key)}: unknown key.{suggest(key, TOP_KEYS)} "
                            f"Expected one of: {', '.join(sorted(TOP_KEYS))}.")
    inputs = _positive_int(data, "inputs", source)
    layers = _layers(data.get("layer"), source)
    loss = data.get("loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise SpecError(f"{_where(source, 'loss')}: expected one of "
                        f"{', '.join(LOSSES)}, got {loss!r}.{suggest(loss, LOSSES)}")
    out_act = layers[-1].activation
    if loss == "binary_cross_entropy" and out_act == "softmax":
        raise SpecError(f"{_where(source, 'loss')}: binary_cross_entropy treats each output "
                        "as its own probability, but the output layer is softmax; use "
                        "loss = \"cross_entropy\" with softmax, or a sigmoid output layer.")
    allowed = LOSSES[loss].outputs
    if allowed is not None and out_act not in allowed:
        raise SpecError(f"{_where(source, 'loss')}: {loss} takes the logarithm of the outputs, "
                        f"which a {out_act} output layer can make zero or negative; use an "
                        f"output activation among {', '.join(allowed)}.")
    network = data.get("network", {})
    if not isinstance(network, dict):
        raise SpecError(f"{_where(source, 'network')}: expected a table.")
    batch = network.get("batch", "mean")
    if batch not in ("mean", "sum"):
        raise SpecError(f"{_where(source, 'network.batch')}: expected \"mean\" or \"sum\", got {batch!r}.")
    for section in ("notation", "names"):
        if not isinstance(data.get(section, {}), dict):
            raise SpecError(f"{_where(source, section)}: expected a table.")
    sizes = (inputs,) + tuple(layer.size for layer in layers)
    notation = _notation(data.get("notation", {}), source)
    names = _names(data.get("names", {}), sizes, source)
    if sum(sizes) > MAX_NEURONS:
        raise SpecError(f"{source}: the network has {sum(sizes)} neurons; at most {MAX_NEURONS}.")
    values = _values(data.get("values"), sizes, loss, source) if "values" in data else None
    spec_name = data.get("name", name)
    if not isinstance(spec_name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", spec_name):
        raise SpecError(f"{_where(source, 'name')}: expected a short file-name-like string.")
    return Spec(name=spec_name, inputs=inputs, layers=layers, loss=loss, values=values,
                notation=notation, names=names,
                batch=batch, source=source)


def _positive_int(table: dict, key: str, source: str, where: str | None = None) -> int:
    where = where or key
    if key not in table:
        raise SpecError(f"{_where(source, where)}: missing; expected a positive integer.")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{_where(source, where)}: expected a positive integer, got {value!r}.")
    return value


def _layers(raw, source: str) -> tuple[LayerSpec, ...]:
    if raw is None or raw == []:
        raise SpecError(f"{source}: the network has no layers; add at least one "
                        "[[layer]] table with `size` and `activation`.")
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise SpecError(f"{_where(source, 'layer')}: expected [[layer]] tables.")
    layers = []
    for number, table in enumerate(raw, start=1):
        where = f"layer[{number}]"
        for key in table:
            if key not in LAYER_KEYS:
                raise SpecError(f"{_where(source, where + '.' + key)}: unknown key."
                                f"{suggest(key, LAYER_KEYS)} Expected size, activation, alpha.")
        size = _positive_int(table, "size", source, where + ".size")
        act = table.get("activation")
        if act not in ACTIVATIONS:
            raise SpecError(f"{_where(source, where + '.activation')}: unknown activation {act!r}."
                            f"{suggest(act, ACTIVATIONS)} Expected one of: {', '.join(ACTIVATIONS)}.")
        alpha = table.get("alpha")
        if alpha is not None:
            if act != "leaky_relu":
                raise SpecError(f"{_where(source, where + '.alpha')}: only leaky_relu takes alpha.")
            alpha = _number(alpha, source, where + ".alpha")
        elif act == "leaky_relu":
            alpha = Decimal("0.01")
        if act == "softmax" and number != len(raw):
            raise SpecError(f"{_where(source, where + '.activation')}: softmax is supported "
                            "only on the output layer.")
        layers.append(LayerSpec(size, act, alpha))
    return tuple(layers)


def _number(value, source: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise SpecError(f"{_where(source, where)}: expected a number, got {value!r}.")
    value = Decimal(value)
    if not value.is_finite():
        raise SpecError(f"{_where(source, where)}: expected a finite number, got {value}.")
    return value


def _vector(value, n: int, source: str, where: str) -> tuple[Decimal, ...]:
    if not isinstance(value, list):
        raise SpecError(f"{_where(source, where)}: expected a list of {n} numbers, got {value!r}.")
    if len(value) != n:
        raise SpecError(f"{_where(source, where)}: expected {n} numbers, got {len(value)}.")
    return tuple(_number(v, source, f"{where}[{i}]") for i, v in enumerate(value))


def _matrix(value, rows: int, cols: int, source: str, where: str):
    shape = f"{rows}×{cols} ({rows} rows of {cols}: [target][source])"
    if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
        raise SpecError(f"{_where(source, where)}: expected a {shape} list of lists.")
    given = f"{len(value)}×{'/'.join(str(len(r)) for r in value) or 0}"
    if len(value) != rows or any(len(r) != cols for r in value):
        raise SpecError(f"{_where(source, where)}: expected shape {shape}, got {given}.")
    return tuple(_vector(r, cols, source, f"{where}[{i}]") for i, r in enumerate(value))


ARRAY = re.compile(r"([Wb])([0-9]+)")


def _values(raw, sizes, loss: str, source: str) -> Values:
    if not isinstance(raw, dict):
        raise SpecError(f"{_where(source, 'values')}: expected a table.")
    n_in, n_out = sizes[0], sizes[-1]
    samples = []
    if "x" in raw or "y" in raw:
        if "x" not in raw or "y" not in raw:
            raise SpecError(f"{_where(source, 'values')}: give both x ({n_in} numbers) "
                            f"and y ({n_out} numbers), or neither.")
        y = raw["y"] if isinstance(raw["y"], list) else [raw["y"]]
        samples.append(Sample(_vector(raw["x"], n_in, source, "values.x"),
                              _vector(y, n_out, source, "values.y")))
    for i, table in enumerate(raw.get("samples", [])):
        where = f"values.samples[{i}]"
        if not isinstance(table, dict) or set(table) != {"x", "y"}:
            raise SpecError(f"{_where(source, where)}: expected a table with x and y.")
        y = table["y"] if isinstance(table["y"], list) else [table["y"]]
        samples.append(Sample(_vector(table["x"], n_in, source, where + ".x"),
                              _vector(y, n_out, source, where + ".y")))
    for s in samples:
        _check_targets(s.y, loss, source)
    lr = raw.get("learning_rate")
    lr = None if lr is None else _number(lr, source, "values.learning_rate")
    frozen = raw.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(f, str) for f in frozen):
        raise SpecError(f"{_where(source, 'values.frozen')}: expected a list of parameter names.")
    arrays, scalars = {}, {}
    for key, value in raw.items():
        if key in ("x", "y", "samples", "learning_rate", "frozen"):
            continue
        match = ARRAY.fullmatch(key)
        if isinstance(value, list):
            if not match or not 1 <= int(match[2]) < len(sizes):
                raise SpecError(f"{_where(source, 'values.' + key)}: a list must be a layer array "
                                f"W1…W{len(sizes) - 1} or b1…b{len(sizes) - 1}.")
            l = int(match[2])
            if match[1] == "W":
                arrays[key] = _matrix(value, sizes[l], sizes[l - 1], source, "values." + key)
            else:
                arrays[key] = _vector(value, sizes[l], source, "values." + key)
        else:
            scalars[key] = _number(value, source, "values." + key)
    return Values(tuple(samples), lr, arrays, scalars, tuple(frozen))


def _check_targets(y, loss: str, source: str) -> None:
    if loss in ("cross_entropy", "binary_cross_entropy"):
        if any(v < 0 or v > 1 for v in y):
            raise SpecError(f"{_where(source, 'values.y')}: {loss} needs targets in [0, 1], got "
                            f"{[str(v) for v in y]}.")


# ---- [notation] and [names] ---------------------------------------------
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
}
IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
# Names that would read as an input, a target, a function or a loss symbol.
RESERVED = frozenset({"x", "y", "exp", "log", "ln", "sigma", "sqrt", "max", "min", "sum", "e",
                      "pi", "delta", "eta", "net", "out", "E", "C", "L", "J", "E_total", "sigmoid",
                      "tanh", "relu", "leaky_relu", "softplus", "softmax", "identity"}
                     | set(keyword.kwlist))
RESERVED_PATTERN = re.compile(r"[xy][0-9]+|[xy]_[0-9]+")


def _notation(raw: dict, source: str) -> dict[str, Any]:
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


def _names(raw: dict, sizes, source: str) -> dict[str, Any]:
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
            raise SpecError(f"{_where(source, where)}: unknown key; expected neurons, "
                            f"W1…W{len(sizes) - 1} or b1…b{len(sizes) - 1}.")
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
