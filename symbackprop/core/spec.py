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

from .convspec import conv_spec_from_dict, is_convolutional
from .values import Sample, Values  # noqa: F401 — re-exported: core.spec.Sample, Values
from .defaults import MAX_LAYERS, MAX_PARAMETERS
from .errors import SpecError, suggest, where as _where
from .files import read_text_limited
from .functions import ACTIVATIONS, LOSSES
from .readers import (matrix as _matrix, number as _number, positive_int as _positive_int,
                      vector as _vector)
from .naming import check_class_targets, validate_names, validate_notation
from .optimizer import Optimizer, Regularization, parse_optimizer, parse_regularization
from .recurrent import RNN_LAYER_KEYS, Recurrence, check_layer_keys, parse_recurrence

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
    # a graph of layers (issue #17): the layer type (LAYER_TYPES), its name (None:
    # ``layer<l>``) and the names it reads (None: the layer before it, or "input")
    type: str = field(default="dense", repr=False)
    name: str | None = field(default=None, repr=False)
    sources: tuple[str, ...] | None = field(default=None, repr=False)


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
    # [optimizer] and [regularization] (issue #20; core/optimizer.py): None when absent
    optimizer: Optimizer | None = None
    regularization: Regularization | None = None
    # an rnn layer (issue #19; core/recurrent.py): per_step, truncate, time, the sequences
    recurrence: Recurrence | None = None

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs,) + tuple(layer.size for layer in self.layers)

    # ---- the graph of layers (issue #17) --------------------------------
    def layer_name(self, l: int) -> str:
        """The name of layer l (from 1): its ``name`` key, else ``layer<l>``; 0 is "input"."""
        return "input" if l == 0 else (self.layers[l - 1].name or f"layer{l}")

    def sources(self, l: int) -> tuple[int, ...]:
        """The layers layer l reads (0: the network input), by position."""
        return layer_sources(self.layers, l)

    @property
    def is_chain(self) -> bool:
        """Every layer dense and fed by the one before it (the networks before issue #17)."""
        return all(ls.type == "dense" and self.sources(l) == (l - 1,)
                   for l, ls in enumerate(self.layers, start=1))

    @property
    def types(self) -> tuple[str, ...]:
        """The layer types the spec uses, in order of first use."""
        return tuple(dict.fromkeys(ls.type for ls in self.layers))

    def array_shapes(self) -> dict[str, tuple[int, ...]]:
        """W<l> (target × source) and b<l> of every dense layer l, in layer order."""
        return array_shapes_of(self.inputs, self.layers)


def layer_sources(layers: tuple[LayerSpec, ...], l: int) -> tuple[int, ...]:
    """The positions layer l reads (0: the network input)."""
    names = layers[l - 1].sources
    if names is None:
        return (l - 1,)
    index = {"input": 0} | {(ls.name or f"layer{m}"): m for m, ls in enumerate(layers, start=1)}
    return tuple(index[n] for n in names)


def array_shapes_of(inputs: int, layers: tuple[LayerSpec, ...]) -> dict[str, tuple[int, ...]]:
    """W<l> (target × source) and b<l> of every dense layer l, in layer order."""
    sizes = (inputs,) + tuple(ls.size for ls in layers)
    shapes = {}
    for l, ls in enumerate(layers, start=1):
        if ls.type in ("dense", "rnn"):
            shapes[f"W{l}"] = (ls.size, sizes[layer_sources(layers, l)[0]])
            if ls.type == "rnn":                  # h_t = f(W x_t + U h_{t−1} + b)
                shapes[f"U{l}"] = (ls.size, ls.size)
            shapes[f"b{l}"] = (ls.size,)
    return shapes


TOP_KEYS = {"inputs", "loss", "layer", "values", "notation", "names", "network", "name",
            "optimizer", "regularization"}
LAYER_KEYS = {"size", "activation", "alpha", "type", "name", "from"} | RNN_LAYER_KEYS
# Layer types (issue #17; ARCHITECTURE.md "adding a layer type"): what each one computes
# is core.network's and core.program's business; here only its keys and shapes.
LAYER_TYPES = ("dense", "add", "flatten", "rnn")
NETWORK_KEYS = {"batch", "time"}
SAMPLE_KEYS = {"x", "y"}
# [values] keys other than layer arrays (W1, b1, …) and named parameters (w1 = 0.15)
VALUE_KEYS = ("x", "y", "samples", "learning_rate", "frozen")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
LAYER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")


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
    if is_convolutional(data):          # input_shape, conv/pool layers (issue #18)
        return conv_spec_from_dict(data, source, name, lambda d, n: _spec_name(
            d, name, source, name_from_file))
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(f"{_where(source, key)}: unknown key.{suggest(key, TOP_KEYS)} "
                            f"Expected one of: {', '.join(sorted(TOP_KEYS))}.")
    inputs = _positive_int(data, "inputs", source)
    layers = _layers(data.get("layer"), inputs, source)
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
    shapes = array_shapes_of(inputs, layers)
    per_layer = {int(k[1:]): 0 for k in shapes}
    for k, shape in shapes.items():
        per_layer[int(k[1:])] += math.prod(shape)
    n_params = sum(per_layer.values())
    if n_params > limit("parameters"):
        biggest = max(per_layer, key=per_layer.get)
        raise SpecError(f"{source}: the network has {n_params:,} parameters (weights and biases; "
                        f"layer {biggest} alone {per_layer[biggest]:,}); at "
                        f"most {limit('parameters'):,}, since every parameter is a symbol and a "
                        "derived gradient (784-256-10, 203,530 parameters, takes about 13 s); "
                        "--max-params N raises the limit, at that cost.")
    if len(layers) > limit("layers"):
        raise SpecError(f"{source}: the network has {len(layers):,} layers; at most "
                        f"{limit('layers'):,} (1,000 layers take about 15 s to derive); "
                        "--max-layers N raises the limit, at that cost.")
    recurrence = None
    if "rnn" in (ls.type for ls in layers):       # the sequences of [values]: core/recurrent.py
        recurrence, rest = parse_recurrence(data, data["layer"], layers, shapes,
                                            lambda y: _check_targets(y, loss, source), source)
        data = data | ({"values": rest} if rest is not None else {})
    elif "time" in network:
        raise SpecError(f"{_where(source, 'network.time')}: only a spec with an rnn layer "
                        "sums or averages over time steps.")
    values = _values(data.get("values"), sizes, shapes, layers, loss, source) if "values" in data else None
    check_class_targets(notation, values, source)       # [notation] preset = "cs231n"
    spec_name = _spec_name(data, name, source, name_from_file)
    return Spec(name=spec_name, inputs=inputs, layers=layers, loss=loss, values=values,
                notation=notation, names=names,
                batch=batch, source=source,
                optimizer=parse_optimizer(data["optimizer"], source) if "optimizer" in data else None,
                regularization=(parse_regularization(data["regularization"], source)
                                if "regularization" in data else None),
                recurrence=recurrence)


def _spec_name(data: dict, name: str, source: str, name_from_file: bool) -> str:
    """The ``name`` key, else the file's stem, if it can name the documents."""
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
    return spec_name


def _layers(raw, inputs: int, source: str) -> tuple[LayerSpec, ...]:
    if raw is None or raw == []:
        raise SpecError(f"{source}: the network has no layers; add at least one "
                        "[[layer]] table with `size` and `activation`.")
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise SpecError(f"{_where(source, 'layer')}: expected [[layer]] tables.")
    names = _layer_names(raw, source)
    _check_graph(raw, names, source)
    sizes, layers = [inputs], []
    for number, table in enumerate(raw, start=1):
        where = f"layer[{number}]"
        for key in table:
            if key not in LAYER_KEYS:
                raise SpecError(f"{_where(source, where + '.' + key)}: unknown key."
                                f"{suggest(key, LAYER_KEYS)} Expected size, activation, alpha, "
                                "type, name, from.")
        kind = table.get("type", "dense")
        check_layer_keys(table, kind, source, where)
        sources = _sources(table, names, number, source)
        ins = [(names[m], sizes[m]) for m in sources]
        size = _layer_size(table, kind, ins, names[number], source, where)
        act = table.get("activation", {"dense": None, "rnn": "tanh"}.get(kind, "identity"))
        if not isinstance(act, str) or act not in ACTIVATIONS:
            raise SpecError(f"{_where(source, where + '.activation')}: unknown activation {act!r}."
                            f"{suggest(act, ACTIVATIONS)} Expected one of: {', '.join(ACTIVATIONS)}.")
        if kind == "flatten" and act != "identity":
            raise SpecError(f"{_where(source, where + '.activation')}: a flatten layer only "
                            "reshapes; put the activation on the layer after it.")
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
        given = tuple(names[m] for m in sources) if "from" in table else None
        layers.append(LayerSpec(size, act, alpha, kind, table.get("name"), given))
        sizes.append(size)
    _check_used(raw, names, source)
    return tuple(layers)


def _layer_names(raw: list, source: str) -> list[str]:
    """Position → name (0: "input"); each name once, file-name-like."""
    names = ["input"]
    for number, table in enumerate(raw, start=1):
        name = table.get("name", f"layer{number}")
        where = _where(source, f"layer[{number}].name")
        if not isinstance(name, str) or not LAYER_NAME.fullmatch(name):
            raise SpecError(f"{where}: expected a name of letters, digits and _ (at most 32, "
                            f"starting with a letter), got {name!r}.")
        if name in names:
            raise SpecError(f"{where}: {name!r} names "
                            + ("the network input" if name == "input" else
                               f"layer {names.index(name)} too") + "; give each layer its own name.")
        names.append(name)
    return names


def _from_names(table: dict, number: int, source: str) -> list[str] | None:
    if "from" not in table:
        return None
    given = table["from"]
    given = [given] if isinstance(given, str) else given
    if not isinstance(given, list) or not given or not all(isinstance(n, str) for n in given):
        raise SpecError(f"{_where(source, f'layer[{number}].from')}: expected a layer name or a "
                        f"list of layer names (\"input\" is the network input), got {table['from']!r}.")
    return given


def _check_graph(raw: list, names: list[str], source: str) -> None:
    """Every ``from`` names a layer; the layers read only layers before them (a cycle is
    named as one)."""
    edges = {}
    for number, table in enumerate(raw, start=1):
        given = _from_names(table, number, source) or [names[number - 1]]
        for n in given:
            if n not in names:
                raise SpecError(f"{_where(source, f'layer[{number}].from')}: no layer is named "
                                f"{n!r}.{suggest(n, names)} Layers: {', '.join(names)}.")
        edges[number] = [names.index(n) for n in given]
    # a cycle needs an edge to a layer at or after its reader: start only from those
    for number in [n for n, srcs in edges.items() if any(m >= n for m in srcs)]:
        cycle = _cycle(edges, number)
        if cycle:
            loop = " → ".join(names[m] for m in cycle)
            raise SpecError(f"{_where(source, f'layer[{cycle[0]}].from')}: the layers form a "
                            f"cycle ({loop}, each reading the next); a network's layers read "
                            "earlier layers only.")
    for number, srcs in edges.items():
        later = [m for m in srcs if m >= number]
        if later:
            raise SpecError(f"{_where(source, f'layer[{number}].from')}: layer {names[number]!r} "
                            f"reads {names[later[0]]!r}, which comes after it; list the layers "
                            "in the order they compute.")


def _cycle(edges: dict, start: int) -> list[int] | None:
    """A path start → … → start along ``edges`` (layer → the layers it reads), if any."""
    stack, parent = [start], {}
    while stack:
        node = stack.pop()
        for m in edges.get(node, ()):
            if m == start:                      # walk the parents back to the start
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1] + [start]
            if m not in parent and m != 0:
                parent[m] = node
                stack.append(m)
    return None


def _sources(table: dict, names: list[str], number: int, source: str) -> tuple[int, ...]:
    given = _from_names(table, number, source)
    kind = table.get("type", "dense")
    where = lambda key: _where(source, f"layer[{number}].{key}")   # noqa: E731
    if kind not in LAYER_TYPES:
        raise SpecError(f"{where('type')}: unknown layer type {kind!r}.{suggest(kind, LAYER_TYPES)} "
                        f"Expected one of: {', '.join(LAYER_TYPES)}.")
    sources = (number - 1,) if given is None else tuple(names.index(n) for n in given)
    if kind == "add" and len(sources) < 2:
        raise SpecError(f"{where('from')}: an add layer sums two or more layers; give them as "
                        "from = [\"a\", \"b\"].")
    if kind != "add" and len(sources) != 1:
        raise SpecError(f"{where('from')}: a {kind} layer reads one layer, got {len(sources)}; "
                        "sum them in an add layer first.")
    return sources


def _layer_size(table: dict, kind: str, ins: list, name: str, source: str, where: str) -> int:
    """A dense layer's ``size``; an add or flatten layer's size follows from its inputs
    (a ``size`` there must agree)."""
    if kind in ("dense", "rnn"):
        return _positive_int(table, "size", source, where + ".size")
    if kind == "add" and len({n for _, n in ins}) > 1:
        shapes = ", ".join(f"{src} ({n},)" for src, n in ins)
        raise SpecError(f"{_where(source, where + '.from')}: add layer {name!r} sums layers of "
                        f"different shapes: {shapes}; an add needs one shape.")
    size = math.prod([ins[0][1]])        # flatten: row-major, one entry per input entry
    if "size" in table:
        given = _positive_int(table, "size", source, where + ".size")
        if given != size:
            raise SpecError(f"{_where(source, where + '.size')}: {kind} layer {name!r} has the "
                            f"shape of {ins[0][0]!r}, ({size},), not ({given},); leave size out.")
    return size


def _check_used(raw: list, names: list[str], source: str) -> None:
    """Every layer but the last feeds some layer (else its δ would be zero, its
    parameters untrained)."""
    read = {0}
    for number, table in enumerate(raw, start=1):
        given = _from_names(table, number, source)
        read |= {names.index(n) for n in given} if given else {number - 1}
    unused = [m for m in range(1, len(raw)) if m not in read]
    if unused:
        raise SpecError(f"{_where(source, f'layer[{unused[0]}]')}: layer {names[unused[0]]!r} "
                        "feeds no layer and is not the output (the last layer); read it with "
                        "`from` or remove it.")


ARRAY = re.compile(r"([WUb])([0-9]+)")


def _values(raw, sizes, shapes: dict, layers, loss: str, source: str) -> Values:
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
    by_name = {(ls.name or f"layer{l}"): l for l, ls in enumerate(layers, start=1)}
    for key, value in raw.items():
        if key in VALUE_KEYS:
            continue
        if isinstance(value, dict) and key in by_name:      # <name>.W, <name>.b
            l = by_name[key]
            for part, entry in value.items():
                if part not in ("W", "U", "b") or f"{part}{l}" not in shapes:
                    raise SpecError(f"{_where(source, f'values.{key}.{part}')}: layer {key!r} "
                                    + (f"has the parameters {key}.W and {key}.b." if f"W{l}" in shapes
                                       else "has no parameters."))
                if f"{part}{l}" in raw:
                    raise SpecError(f"{_where(source, f'values.{key}.{part}')}: also given as "
                                    f"values.{part}{l}; give each array once.")
                arrays[f"{part}{l}"] = _array(entry, shapes[f"{part}{l}"], source,
                                              f"values.{key}.{part}")
            continue
        match = ARRAY.fullmatch(key)
        if isinstance(value, list):
            if not match or key not in shapes:
                listed = ", ".join(shapes) or "none"
                raise SpecError(f"{_where(source, 'values.' + key)}: a list must be a layer array "
                                f"of a dense layer ({listed}).")
            arrays[key] = _array(value, shapes[key], source, "values." + key)
        else:
            scalars[key] = _number(value, source, "values." + key)
    return Values(tuple(samples), lr, arrays, scalars, tuple(frozen))


def _array(value, shape: tuple[int, ...], source: str, where: str):
    if len(shape) == 2:
        return _matrix(value, *shape, source, where)
    return _vector(value, shape[0], source, where)


def _check_targets(y, loss: str, source: str) -> None:
    if loss in ("cross_entropy", "binary_cross_entropy"):
        if any(v < 0 or v > 1 for v in y):
            raise SpecError(f"{_where(source, 'values.y')}: {loss} needs targets in [0, 1], got "
                            f"{[str(v) for v in y]}.")
