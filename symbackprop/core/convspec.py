"""Convolutional specs (issue #18): ``input_shape`` and conv1d, conv2d, maxpool, avgpool layers.

A spec with a top-level ``input_shape`` or a layer of one of ``CONV_TYPES`` is read here
into a ``ConvSpec`` (``core.spec.parse_spec`` hands it over).  The network is a chain of
layers; each layer's output shape follows PyTorch's floor rule

    n_out = ⌊(n + 2p − k) / s⌋ + 1

per spatial axis (k the kernel or pool size, s the stride, p the zero padding).  Arrays
are PyTorch's: a conv layer's ``W<l>`` is [out][in][k] (conv1d) or [out][in][kh][kw]
(conv2d), ``b<l>`` one number per output channel; a dense layer's ``W<l>`` is
[target][source] as in dense specs.  An input ``x`` is nested [C][L] or [C][H][W]; as a
column (``values.samples``, CSV ``x1…xn``) it is that array flattened row-major (C, H, W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .defaults import MAX_PARAMETERS
from .errors import SpecError, suggest, where as _where
from .functions import ACTIVATIONS, LOSSES
from .naming import validate_notation
from .optimizer import Optimizer, Regularization, parse_optimizer, parse_regularization
from .values import Sample, Values

CONV_TYPES = ("conv1d", "conv2d", "maxpool", "avgpool")
TYPES = CONV_TYPES + ("flatten", "dense")
TOP_KEYS = {"name", "input_shape", "inputs", "loss", "layer", "values", "network", "notation",
            "optimizer", "regularization"}
KEYS = {"conv1d": {"type", "name", "channels", "kernel", "stride", "padding", "activation", "alpha"},
        "maxpool": {"type", "name", "pool", "stride", "padding"},
        "flatten": {"type", "name"},
        "dense": {"type", "name", "size", "activation", "alpha"}}
KEYS |= {"conv2d": KEYS["conv1d"], "avgpool": KEYS["maxpool"]}
ALPHA_DEFAULTS = {"leaky_relu": Decimal("0.01"), "elu": Decimal("1.0")}
MAX_ENTRIES = 2_000_000      # entries of one layer's output map (per example)


@dataclass(frozen=True)
class ConvLayer:
    """One layer of a convolutional chain.

    ``kernel``, ``stride``, ``padding`` have one entry per spatial axis (conv and pool
    layers; a pool's kernel is its ``pool``), ``in_shape``/``out_shape`` are (C, L),
    (C, H, W) or (n,) for a vector; ``size`` is the number of entries of the output.
    """

    index: int
    type: str
    name: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    activation: str = "identity"
    alpha: Decimal | None = None
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return math.prod(self.out_shape)

    @property
    def has_parameters(self) -> bool:
        return self.type in ("conv1d", "conv2d", "dense")

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.type == "dense":
            return (self.out_shape[0], self.in_shape[0])
        return (self.out_shape[0], self.in_shape[0]) + self.kernel


# a convolutional spec's [values]: the one Values of every spec (no named scalars here)
ConvValues = Values


@dataclass(frozen=True)
class ConvSpec:
    """A validated convolutional network spec (the fields ``core.spec.Spec`` shares)."""

    name: str
    input_shape: tuple[int, ...]
    layers: tuple[ConvLayer, ...]
    loss: str
    values: ConvValues | None = None
    notation: dict[str, Any] = field(default_factory=dict)
    batch: str = "mean"
    source: str = "<spec>"
    optimizer: Optimizer | None = None
    regularization: Regularization | None = None
    names: dict[str, Any] = field(default_factory=dict)
    convolutional = True
    recurrence = None          # not an rnn (issue #19)

    @property
    def inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs,) + tuple(ls.size for ls in self.layers)

    @property
    def is_chain(self) -> bool:
        return False

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(ls.type for ls in self.layers))

    def layer_name(self, l: int) -> str:
        return "input" if l == 0 else self.layers[l - 1].name

    def array_shapes(self) -> dict[str, tuple[int, ...]]:
        """W<l> and b<l> of every conv and dense layer, in layer order."""
        shapes = {}
        for ls in self.layers:
            if ls.has_parameters:
                shapes[f"W{ls.index}"] = ls.weight_shape
                shapes[f"b{ls.index}"] = (ls.out_shape[0],)
        return shapes


def is_convolutional(data: dict) -> bool:
    """Does the parsed TOML describe a convolutional network?"""
    layers = data.get("layer")
    kinds = [t.get("type") for t in layers if isinstance(t, dict)] if isinstance(layers, list) else []
    return "input_shape" in data or any(k in CONV_TYPES for k in kinds)


def conv_spec_from_dict(data: dict, source: str, name: str, name_ok) -> ConvSpec:
    """The ConvSpec of parsed TOML ``data`` (``name_ok``: the file-name check of core.spec)."""
    for key in data:
        if key not in TOP_KEYS:
            extra = (" A convolutional network names no neurons or parameters ([names])."
                     if key == "names" else suggest(key, TOP_KEYS))
            raise SpecError(f"{_where(source, key)}: unknown key in a convolutional spec.{extra} "
                            f"Expected one of: {', '.join(sorted(TOP_KEYS))}.")
    shape = _input_shape(data, source)
    layers = _layers(data.get("layer"), shape, source)
    loss = data.get("loss")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise SpecError(f"{_where(source, 'loss')}: expected one of "
                        f"{', '.join(LOSSES)}, got {loss!r}.{suggest(loss, LOSSES)}")
    allowed, out_act = LOSSES[loss].outputs, layers[-1].activation
    if loss == "binary_cross_entropy" and out_act == "softmax" or (
            allowed is not None and out_act not in allowed):
        raise SpecError(f"{_where(source, 'loss')}: {loss} does not fit a {out_act} output layer; "
                        "use softmax with cross_entropy, or sigmoid with binary_cross_entropy.")
    network = data.get("network", {})
    if not isinstance(network, dict) or set(network) - {"batch"} or \
            network.get("batch", "mean") not in ("mean", "sum"):
        raise SpecError(f"{_where(source, 'network')}: expected a table with batch = \"mean\" "
                        "or \"sum\".")
    notation = data.get("notation", {})
    if not isinstance(notation, dict):
        raise SpecError(f"{_where(source, 'notation')}: expected a table.")
    notation = validate_notation(notation, source)
    if notation.get("style") == "numbered":
        raise SpecError(f"{_where(source, 'notation.style')}: the numbered style is refused for "
                        "convolutional networks: one kernel weight serves every position of its "
                        "map, so numbering weights and neurons one by one (w1 … wM) has no "
                        "meaning; use style = \"layered\" (K^l_{c,c',u,v}).")
    spec_name = data.get("name", name)
    name_ok(data, spec_name)
    shapes = {f"{p}{ls.index}": s for ls in layers if ls.has_parameters
              for p, s in (("W", ls.weight_shape), ("b", (ls.out_shape[0],)))}
    n_params = sum(math.prod(s) for s in shapes.values())
    if n_params > MAX_PARAMETERS:
        raise SpecError(f"{source}: the network has {n_params:,} parameters; at most "
                        f"{MAX_PARAMETERS:,}.")
    values = _values(data["values"], shape, layers, shapes, loss, source) if "values" in data else None
    return ConvSpec(spec_name, shape, layers, loss, values, notation,
                    network.get("batch", "mean"), source,
                    parse_optimizer(data["optimizer"], source) if "optimizer" in data else None,
                    parse_regularization(data["regularization"], source)
                    if "regularization" in data else None)


def _input_shape(data: dict, source: str) -> tuple[int, ...]:
    shape = data.get("input_shape")
    if not (isinstance(shape, list) and len(shape) in (2, 3)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)):
        raise SpecError(f"{_where(source, 'input_shape')}: expected [C, L] (conv1d) or "
                        f"[C, H, W] (conv2d) of positive integers, got {shape!r}.")
    if "inputs" in data and data["inputs"] != math.prod(shape):
        raise SpecError(f"{_where(source, 'inputs')}: input_shape {shape} has "
                        f"{math.prod(shape)} entries, not {data['inputs']!r}; leave inputs out.")
    if math.prod(shape) > MAX_ENTRIES:
        raise SpecError(f"{_where(source, 'input_shape')}: at most {MAX_ENTRIES:,} entries.")
    return tuple(shape)


def _layers(raw, shape: tuple[int, ...], source: str) -> tuple[ConvLayer, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        raise SpecError(f"{_where(source, 'layer')}: expected [[layer]] tables (at least one).")
    layers, names = [], {"input"}
    for number, table in enumerate(raw, start=1):
        where = f"layer[{number}]"
        kind = table.get("type", "dense")
        if kind not in TYPES:
            extra = (" A convolutional network is a chain of layers here (no add or skip "
                     "edges)." if kind == "add" else suggest(kind, TYPES))
            raise SpecError(f"{_where(source, where + '.type')}: unknown layer type {kind!r} in a "
                            f"convolutional network.{extra} Expected one of: {', '.join(TYPES)}.")
        for key in table:
            if key not in KEYS[kind]:
                extra = (" A convolutional network is a chain: each layer reads the one before."
                         if key == "from" else suggest(key, KEYS[kind]))
                raise SpecError(f"{_where(source, where + '.' + key)}: not a key of a {kind} "
                                f"layer.{extra} Expected: {', '.join(sorted(KEYS[kind]))}.")
        name = table.get("name", f"layer{number}")
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 32 or name in names:
            raise SpecError(f"{_where(source, where + '.name')}: expected a new name of letters, "
                            f"digits and _ (at most 32), got {name!r}.")
        names.add(name)
        layer = _layer(table, kind, number, name, shape, source, where, number == len(raw))
        layers.append(layer)
        shape = layer.out_shape
    if layers[-1].type != "dense":
        raise SpecError(f"{_where(source, f'layer[{len(raw)}]')}: the output layer must be dense "
                        "(a flatten layer, then a dense layer of the outputs).")
    return tuple(layers)


def _layer(table, kind, number, name, shape, source, where, last) -> ConvLayer:
    w = lambda key: _where(source, f"{where}.{key}")    # noqa: E731
    if kind == "flatten":
        return ConvLayer(number, kind, name, shape, (math.prod(shape),))
    act, alpha = "identity", None
    if kind in ("conv1d", "conv2d", "dense"):
        act = table.get("activation")
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise SpecError(f"{w('activation')}: expected one of {', '.join(ACTIVATIONS)}, got "
                            f"{act!r}.{suggest(act, ACTIVATIONS)}")
        if act == "softmax" and not (last and kind == "dense"):
            raise SpecError(f"{w('activation')}: softmax is supported only on the output layer.")
        alpha = table.get("alpha")
        if alpha is not None and act not in ALPHA_DEFAULTS:
            raise SpecError(f"{w('alpha')}: only {' and '.join(ALPHA_DEFAULTS)} take alpha.")
        alpha = _number(alpha, source, f"{where}.alpha") if alpha is not None else ALPHA_DEFAULTS.get(act)
    if kind == "dense":
        if len(shape) != 1:
            raise SpecError(f"{_where(source, where)}: dense layer {name!r} reads a map of shape "
                            f"{_shown(shape)}; put a flatten layer before it.")
        size = _positive(table, "size", source, where)
        return ConvLayer(number, kind, name, shape, (size,), act, alpha)
    dims = len(shape) - 1
    if dims < 1:
        raise SpecError(f"{_where(source, where)}: {kind} layer {name!r} reads a vector of "
                        f"{shape[0]} entries; convolution and pooling read maps [C, L] or [C, H, W].")
    if kind in ("conv1d", "conv2d") and dims != int(kind[-2]):
        raise SpecError(f"{_where(source, where + '.type')}: {kind} reads maps "
                        f"{'[C, L]' if kind == 'conv1d' else '[C, H, W]'}, but layer {name!r} reads "
                        f"shape {_shown(shape)}; use conv{dims}d.")
        # (pools follow their input's dimension)
    size_key = "kernel" if kind.startswith("conv") else "pool"
    kernel = _per_axis(table, size_key, dims, None, source, where, minimum=1)
    stride = _per_axis(table, "stride", dims, 1 if size_key == "kernel" else kernel, source, where, 1)
    padding = _per_axis(table, "padding", dims, 0, source, where, minimum=0)
    if kind.endswith("pool") and any(2 * p > k for p, k in zip(padding, kernel)):
        raise SpecError(f"{w('padding')}: padding {list(padding)} is more than half the pool "
                        f"{list(kernel)} (PyTorch's rule: each window must hold an input entry).")
    out = []
    for axis, (n, k, s, p) in enumerate(zip(shape[1:], kernel, stride, padding)):
        if k > n + 2 * p:
            raise SpecError(f"{_where(source, where + '.' + size_key)}: layer {name!r}: the "
                            f"{size_key} {_shown(kernel)} is larger than its padded input "
                            f"{_shown(tuple(m + 2 * q for m, q in zip(shape[1:], padding)))} "
                            f"(input shape {_shown(shape)}, padding {_shown(padding)}).")
        out.append((n + 2 * p - k) // s + 1)          # PyTorch's floor rule
    channels = _positive(table, "channels", source, where) if kind.startswith("conv") else shape[0]
    out_shape = (channels,) + tuple(out)
    if math.prod(out_shape) > MAX_ENTRIES:
        raise SpecError(f"{_where(source, where)}: layer {name!r} has an output of shape "
                        f"{_shown(out_shape)}; at most {MAX_ENTRIES:,} entries.")
    return ConvLayer(number, kind, name, shape, out_shape, act, alpha, kernel, stride, padding)


def _shown(shape) -> str:
    return "×".join(str(n) for n in shape)


def _positive(table, key, source, where) -> int:
    v = table.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise SpecError(f"{_where(source, f'{where}.{key}')}: expected a positive integer, got {v!r}.")
    return v


def _per_axis(table, key, dims, default, source, where, minimum) -> tuple[int, ...]:
    """An int (every axis) or a list of ``dims`` ints, each ≥ ``minimum``."""
    v = table.get(key, default)
    w = _where(source, f"{where}.{key}")
    if v is None:
        raise SpecError(f"{w}: missing; expected an integer or a list of {dims}.")
    if isinstance(v, tuple):
        return v
    items = v if isinstance(v, list) else [v] * dims
    if len(items) != dims or not all(isinstance(n, int) and not isinstance(n, bool)
                                     and n >= minimum for n in items):
        raise SpecError(f"{w}: expected an integer ≥ {minimum} or a list of {dims} of them, "
                        f"got {v!r}.")
    return tuple(items)


def _number(value, source: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise SpecError(f"{_where(source, where)}: expected a number, got {value!r}.")
    value = Decimal(value)
    if not value.is_finite() or math.isinf(float(value)):
        raise SpecError(f"{_where(source, where)}: expected a finite float64 number, got {value}.")
    return value


def _nested(value, shape: tuple[int, ...], source: str, where: str) -> tuple:
    """A nested list of ``shape`` → nested tuples of Decimals (one message on a mismatch)."""
    if not shape:
        return _number(value, source, where)
    if not isinstance(value, list) or len(value) != shape[0]:
        got = f"{len(value)} entries" if isinstance(value, list) else repr(value)
        raise SpecError(f"{_where(source, where)}: expected an array of shape {_shown(shape)} "
                        f"(nested lists, {shape[0]} at this level), got {got}.")
    return tuple(_nested(v, shape[1:], source, f"{where}[{i}]") for i, v in enumerate(value))


def _flat(nested) -> tuple:
    if not isinstance(nested, tuple):
        return (nested,)
    return tuple(v for item in nested for v in _flat(item))


def _values(raw, shape, layers, shapes, loss, source) -> ConvValues:
    if not isinstance(raw, dict):
        raise SpecError(f"{_where(source, 'values')}: expected a table.")
    n_out = layers[-1].size
    samples = []

    def sample(table, where):
        if "x" not in table or "y" not in table:
            raise SpecError(f"{_where(source, where)}: give both x (shape {_shown(shape)}) and y.")
        y = table["y"] if isinstance(table["y"], list) else [table["y"]]
        x = _flat(_nested(table["x"], shape, source, where + ".x"))
        y = _flat(_nested(y, (n_out,), source, where + ".y"))
        if loss in ("cross_entropy", "binary_cross_entropy") and any(v < 0 or v > 1 for v in y):
            raise SpecError(f"{_where(source, where + '.y')}: {loss} needs targets in [0, 1].")
        return Sample(x, y)

    if "x" in raw or "y" in raw:
        samples.append(sample(raw, "values"))
    listed = raw.get("samples", [])
    if not isinstance(listed, list) or not all(isinstance(t, dict) for t in listed):
        raise SpecError(f"{_where(source, 'values.samples')}: expected [[values.samples]] tables.")
    for i, table in enumerate(listed):
        if set(table) - {"x", "y"}:
            raise SpecError(f"{_where(source, f'values.samples[{i}]')}: expected only x and y.")
        samples.append(sample(table, f"values.samples[{i}]"))
    lr = raw.get("learning_rate")
    if lr is not None:
        lr = _number(lr, source, "values.learning_rate")
        if lr <= 0:
            raise SpecError(f"{_where(source, 'values.learning_rate')}: expected a positive number.")
    if raw.get("frozen", []):
        raise SpecError(f"{_where(source, 'values.frozen')}: frozen names parameters, and a "
                        "convolutional network has no [names]; leave it out.")
    by_name = {ls.name: ls.index for ls in layers}
    arrays = {}
    for key, value in raw.items():
        if key in ("x", "y", "samples", "learning_rate", "frozen"):
            continue
        if isinstance(value, dict) and key in by_name:             # <name>.W, <name>.b
            items = [(f"{part}{by_name[key]}", v, f"values.{key}.{part}") for part, v in value.items()]
        else:
            items = [(key, value, f"values.{key}")]
        for array, v, where in items:
            if array not in shapes:
                listed = ", ".join(shapes) or "none"
                raise SpecError(f"{_where(source, where)}: not a parameter array of this network "
                                f"(arrays: {listed}; conv W<l> is [out][in][kh][kw], b<l> one per "
                                "output channel).")
            if array in arrays:
                raise SpecError(f"{_where(source, where)}: {array} is given twice.")
            arrays[array] = _nested(v, shapes[array], source, where)
    return ConvValues(tuple(samples), lr, arrays)
