"""Read a network spec (TOML) into typed, validated records.

This is the one place that looks at user input.  Everything after it
trusts the types.  Numbers are read as ``Decimal`` so the worked example
can be redone exactly from the digits as written.
"""
from __future__ import annotations

import math
import os
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from .defaults import MAX_LAYERS, MAX_PARAMETERS
from .errors import SpecError, suggest, where as _where
from .files import read_text_limited
from .functions import ACTIVATIONS, LOSSES
from .naming import validate_names, validate_notation

MAX_SPEC_BYTES = 5_000_000
MAX_NEURONS = 100_000
MAX_DEPTH = 10         # nesting of arrays and tables (values.samples[i].x is 5 deep)
# --max-params / --max-layers raise the two limits for one command (``raised_limits``)
_RAISED: dict[str, int | None] = {"parameters": None, "layers": None}


@contextmanager
def raised_limits(parameters: int | None = None, layers: int | None = None):
    """Within the block, specs may have up to ``parameters`` parameters and ``layers``
    layers (None: the default MAX_PARAMETERS, MAX_LAYERS)."""
    saved = dict(_RAISED)
    _RAISED.update(parameters=parameters, layers=layers)
    try:
        yield
    finally:
        _RAISED.update(saved)


def limit(kind: str) -> int:
    """The parameter or layer limit in force."""
    default = {"parameters": MAX_PARAMETERS, "layers": MAX_LAYERS}[kind]
    return _RAISED[kind] or default
# Activations with a parameter α (a [[layer]] `alpha` key) and its default.
ALPHA_DEFAULTS = {"leaky_relu": Decimal("0.01"), "elu": Decimal("1.0")}


@dataclass(frozen=True)
class LayerSpec:
    """One ``[[layer]]`` table: its size, activation and the activation's α.

    Parameters
    ----------
    size : int
        The number of neurons (≥ 1).
    activation : str
        A key of ``core.functions.ACTIVATIONS``: identity, sigmoid, tanh, relu,
        leaky_relu, elu, softplus or softmax (output layer only).
    alpha : Decimal, optional
        leaky_relu's slope or elu's α; ``parse_spec`` fills in the default
        (``ALPHA_DEFAULTS``: 0.01 and 1.0), None for the other activations.

    Returns
    -------
    LayerSpec
        A frozen record.  Built in Python it is not validated: ``parse_spec`` and
        ``load_spec`` are the validating constructors.

    Examples
    --------
    >>> LayerSpec(3, "elu", Decimal("0.5"))
    LayerSpec(size=3, activation='elu', alpha=Decimal('0.5'))
    >>> parse_spec('inputs = 1\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "elu"').layers
    (LayerSpec(size=1, activation='elu', alpha=Decimal('1.0')),)
    """

    size: int
    activation: str
    alpha: Decimal | None = None   # leaky_relu's slope, elu's α (ALPHA_DEFAULTS)


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
    """A whole network spec: the validated contents of one TOML file.

    ARCHITECTURE.md has the table of every key and its default.

    Parameters
    ----------
    name : str
        Short file-name-like name (the ``name`` key, else the file's stem); the
        documents are written to ``<name>.md`` and so on.
    inputs : int
        The number of inputs (``inputs``).
    layers : tuple of LayerSpec
        The ``[[layer]]`` tables, the output layer last.
    loss : str
        A key of ``core.functions.LOSSES``: half_sse, sse, mse, cross_entropy or
        binary_cross_entropy.
    values : Values, optional
        ``[values]``: the worked example (x, y, parameters, learning rate, frozen names).
    notation : dict, optional
        ``[notation]`` as validated by ``naming.validate_notation``.
    names : dict, optional
        ``[names]`` as validated by ``naming.validate_names``.
    batch : {"mean", "sum"}
        ``[network] batch``: how a batch's losses and gradients are reduced.
    source : str
        Where the spec came from, for messages.

    Returns
    -------
    Spec
        A frozen record.  Built in Python it is not validated: ``parse_spec`` and
        ``load_spec`` are the validating constructors.

    Examples
    --------
    >>> spec = Spec(name="net", inputs=2, loss="half_sse",
    ...             layers=(LayerSpec(3, "tanh"), LayerSpec(1, "sigmoid")))
    >>> spec.sizes
    (2, 3, 1)
    >>> parse_spec('inputs = 2\\nloss = "mse"\\n[network]\\nbatch = "sum"\\n'
    ...            '[[layer]]\\nsize = 1\\nactivation = "identity"').batch
    'sum'
    """

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
NETWORK_KEYS = {"batch"}
SAMPLE_KEYS = {"x", "y"}
# [values] keys other than layer arrays (W1, b1, …) and named parameters (w1 = 0.15)
VALUE_KEYS = ("x", "y", "samples", "learning_rate", "frozen")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``."""
    path = Path(path)
    if not os.path.lexists(path):
        raise SpecError(f"{path}: no such file; expected a network spec in TOML "
                        "(see `symbackprop examples`).")
    # a regular file of at most MAX_SPEC_BYTES (no FIFO, device, /dev/zero), UTF-8 (a
    # byte-order mark from Windows editors dropped); else one FileError naming the path
    text = read_text_limited(path, MAX_SPEC_BYTES, "spec")
    return parse_spec(text, source=str(path), name=path.stem, name_from_file=True)


def parse_spec(text: str, source: str = "<spec>", name: str = "network",
               name_from_file: bool = False) -> Spec:
    """Validate TOML ``text`` as a network spec.

    >>> spec = parse_spec('inputs = 1\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"')
    >>> spec.sizes
    (1, 1)
    """
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(f"{source}: the spec is too long (at most {MAX_SPEC_BYTES} characters).")
    text = text.removeprefix("\ufeff")            # a byte-order mark is not a TOML statement
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{source}: not valid TOML: {exc}.") from None
    except RecursionError:
        raise SpecError(f"{source}: arrays or tables nested too deeply to read; a spec nests "
                        f"at most {MAX_DEPTH} levels.") from None
    depth = _depth(data)
    if depth > MAX_DEPTH:
        raise SpecError(f"{source}: arrays or tables nested {depth} levels deep; a spec nests "
                        f"at most {MAX_DEPTH} (values.W1 = [[…]] is 4).")
    return _spec_from_dict(data, source, name, name_from_file)


def _depth(data) -> int:
    """How deeply lists and tables nest (iterative: no recursion limit)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def _unknown_keys(table: dict, allowed, source: str, where: str) -> None:
    """Every key of ``table`` is one of ``allowed``: a typo is an error with a did-you-mean."""
    for key in table:
        if key not in allowed:
            raise SpecError(f"{_where(source, where + '.' + key)}: unknown key.{suggest(key, allowed)} "
                            f"Expected one of: {', '.join(sorted(allowed))}.")


def _spec_from_dict(data: dict, source: str, name: str, name_from_file: bool = False) -> Spec:
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
    _unknown_keys(network, NETWORK_KEYS, source, "network")
    batch = network.get("batch", "mean")
    if batch not in ("mean", "sum"):
        raise SpecError(f"{_where(source, 'network.batch')}: expected \"mean\" or \"sum\", got {batch!r}.")
    for section in ("notation", "names"):
        if not isinstance(data.get(section, {}), dict):
            raise SpecError(f"{_where(source, section)}: expected a table.")
    sizes = (inputs,) + tuple(layer.size for layer in layers)
    notation = validate_notation(data.get("notation", {}), source)
    names = validate_names(data.get("names", {}), sizes, source)
    if sum(sizes) > MAX_NEURONS:
        raise SpecError(f"{source}: the network has {sum(sizes)} neurons; at most {MAX_NEURONS}.")
    n_params = sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes)))
    if n_params > limit("parameters"):
        biggest = max(range(1, len(sizes)), key=lambda l: sizes[l] * (sizes[l - 1] + 1))
        raise SpecError(f"{source}: the network has {n_params:,} parameters (weights and biases; "
                        f"layer {biggest} alone {sizes[biggest] * (sizes[biggest - 1] + 1):,}); at "
                        f"most {limit('parameters'):,}, since every parameter is a symbol and a "
                        "derived gradient (784-256-10, 203,530 parameters, takes about 13 s); "
                        "--max-params N raises the limit, at that cost.")
    if len(layers) > limit("layers"):
        raise SpecError(f"{source}: the network has {len(layers):,} layers; at most "
                        f"{limit('layers'):,} (1,000 layers take about 15 s to derive); "
                        "--max-layers N raises the limit, at that cost.")
    values = _values(data.get("values"), sizes, loss, source) if "values" in data else None
    spec_name = data.get("name", name)
    if "name" not in data and name_from_file and not NAME_PATTERN.fullmatch(name):
        fixed = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).lstrip(".-")[:64] or "network"
        raise SpecError(f"{source}: the file name {name!r} cannot name the documents (a spec's "
                        "name is at most 64 letters, digits, _ . -, starting with a letter, digit "
                        f"or _); rename the file or add a top-level key `name = \"{fixed}\"`.")
    if not isinstance(spec_name, str) or not NAME_PATTERN.fullmatch(spec_name):
        raise SpecError(f"{_where(source, 'name')}: expected a short file-name-like string (at "
                        "most 64 letters, digits, _ . -, starting with a letter, digit or _), got "
                        f"{spec_name!r}.")
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
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise SpecError(f"{_where(source, where + '.activation')}: unknown activation {act!r}."
                            f"{suggest(act, ACTIVATIONS)} Expected one of: {', '.join(ACTIVATIONS)}.")
        alpha = table.get("alpha")
        if alpha is not None:
            if act not in ALPHA_DEFAULTS:
                raise SpecError(f"{_where(source, where + '.alpha')}: only "
                                f"{' and '.join(ALPHA_DEFAULTS)} take alpha.")
            alpha = _number(alpha, source, where + ".alpha")
        elif act in ALPHA_DEFAULTS:
            alpha = ALPHA_DEFAULTS[act]
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
    if math.isinf(float(value)):
        shown = str(value) if len(str(value)) <= 24 else f"{value:.3E}"
        raise SpecError(f"{_where(source, where)}: {shown} is beyond the range of float64 "
                        "numbers (about ±1.8e308), in which every value is computed.")
    if value != 0 and float(value) == 0:
        shown = str(value) if len(str(value)) <= 24 else f"{value:.3E}"
        raise SpecError(f"{_where(source, where)}: {shown} is below the range of float64 "
                        "numbers (the smallest is about 4.9e-324), which would compute with 0; "
                        "write 0 or a larger number.")
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
    if not isinstance(raw.get("samples", []), list):
        raise SpecError(f"{_where(source, 'values.samples')}: expected [[values.samples]] tables "
                        "(each with x and y), got {!r}.".format(raw["samples"]))
    for i, table in enumerate(raw.get("samples", [])):
        where = f"values.samples[{i}]"
        if not isinstance(table, dict):
            raise SpecError(f"{_where(source, where)}: expected a table with x and y.")
        _unknown_keys(table, SAMPLE_KEYS, source, where)
        if set(table) != SAMPLE_KEYS:
            raise SpecError(f"{_where(source, where)}: expected a table with x and y; "
                            f"{' and '.join(sorted(SAMPLE_KEYS - set(table)))} is missing.")
        y = table["y"] if isinstance(table["y"], list) else [table["y"]]
        samples.append(Sample(_vector(table["x"], n_in, source, where + ".x"),
                              _vector(y, n_out, source, where + ".y")))
    for s in samples:
        _check_targets(s.y, loss, source)
    lr = raw.get("learning_rate")
    lr = None if lr is None else _number(lr, source, "values.learning_rate")
    if lr is not None and lr <= 0:
        raise SpecError(f"{_where(source, 'values.learning_rate')}: expected a positive "
                        f"learning rate, got {lr}.")
    frozen = raw.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(f, str) for f in frozen):
        raise SpecError(f"{_where(source, 'values.frozen')}: expected a list of parameter names.")
    arrays, scalars = {}, {}
    for key, value in raw.items():
        if key in VALUE_KEYS:
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
