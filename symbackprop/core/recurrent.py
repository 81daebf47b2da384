"""Recurrent specs (issue #19): an Elman layer unrolled over the steps of a sequence.

A spec with a ``type = "rnn"`` layer is read by ``core.spec`` as usual (the layer's
``size``, ``activation``, its arrays ``W<l>``, ``U<l>``, ``b<l>``); what only a
recurrence has is read here: the layer's ``per_step`` and ``truncate``, ``[network]
time``, and ``[values]`` as sequences (``x`` one row per step, ``y`` one row per step
or for the last step, ``h0``).  The network it describes::

    h_0 = h0 (default 0),   h_t = f(W x_t + U h_{t−1} + b)          t = 1 … T
    ŷ_t = g(V h_t + c)      for every t (per_step) or t = T only
    E   = Σ_t ℓ(ŷ_t, y_t)   (time = "sum"),  or that sum / the number of outputs ("mean")

``truncate = k`` cuts the backward pass (truncated BPTT): the sequence is split, from
its end, into windows of k steps (the first window may be shorter), and the gradient
does not flow from h_t into h_{t−1} across a window boundary, i.e. when T − (t − 1)
is a multiple of k.  The forward pass is unchanged.  In PyTorch terms: h_{t−1} is
detached before step t at those t.  With ``per_step = false`` the loss at T reaches
back through the last k steps only.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import SpecError, suggest, where as _where
from .readers import positive_int, vector

RNN_LAYER_KEYS = {"per_step", "truncate"}
SEQUENCE_KEYS = {"x", "y"}
# [values] keys of an rnn spec besides the layer arrays (W1, U1, b1, W2, b2, <name>.W …)
RNN_VALUE_KEYS = ("x", "y", "h0", "samples", "learning_rate", "frozen")
TIME_CHOICES = ("sum", "mean")
MAX_STEPS = 10_000


@dataclass(frozen=True)
class Sequence:
    """One sequence: ``x`` (T rows of the inputs), ``y`` (T rows, or one row: the
    last step's target)."""

    x: tuple[tuple[Decimal, ...], ...]
    y: tuple[tuple[Decimal, ...], ...]


@dataclass(frozen=True)
class Recurrence:
    """What a recurrent spec adds to a ``Spec`` (``spec.recurrence``).

    ``layer`` is the rnn layer's position (1), ``output`` the dense output layer's (2);
    ``steps`` is T of the sequences (None without ``[values]`` sequences); ``h0`` the
    initial state (None: zeros); ``truncate`` k or None (full BPTT).

    >>> from .spec import parse_spec
    >>> r = parse_spec('inputs = 1\\nloss = "half_sse"\\n[[layer]]\\ntype = "rnn"\\nsize = 2\\n'
    ...                '[[layer]]\\nsize = 1\\nactivation = "identity"').recurrence
    >>> r.hidden, r.per_step, r.time, r.truncate
    (2, False, 'sum', None)
    """

    layer: int
    output: int
    hidden: int
    per_step: bool = False
    truncate: int | None = None
    time: str = "sum"
    sequences: tuple[Sequence, ...] = ()
    h0: tuple[Decimal, ...] | None = None

    @property
    def steps(self) -> int | None:
        return len(self.sequences[0].x) if self.sequences else None

    def outputs_at(self, T: int) -> tuple[int, ...]:
        """The steps (from 1) with an output and a loss term."""
        return tuple(range(1, T + 1)) if self.per_step else (T,)

    def cut(self, t: int, T: int) -> bool:
        """True when the gradient does not flow from h_t back into h_{t−1} (truncation)."""
        k = self.truncate
        return k is not None and t > 1 and (T - t + 1) % k == 0


def check_layer_keys(table: dict, kind: str, source: str, where: str) -> None:
    """``per_step`` and ``truncate`` only on an rnn layer, of the right types."""
    for key in RNN_LAYER_KEYS & set(table):
        if kind != "rnn":
            raise SpecError(f"{_where(source, where + '.' + key)}: only an rnn layer "
                            "(type = \"rnn\") takes per_step and truncate.")
    if "per_step" in table and not isinstance(table["per_step"], bool):
        raise SpecError(f"{_where(source, where + '.per_step')}: expected true or false, got "
                        f"{table['per_step']!r}.")
    if "truncate" in table:
        positive_int(table, "truncate", source, where + ".truncate")


def parse_recurrence(data: dict, raw_layers: list, layers, shapes: dict, loss_check,
                     source: str) -> tuple[Recurrence, dict | None]:
    """The recurrence of a spec whose layers include an rnn layer: checks its place
    (first, reading the input; one dense output layer after it) and reads ``[network]
    time`` and the sequences of ``[values]``.  Returns it and ``[values]`` without the
    sequence keys (for the arrays, ``learning_rate``, ``frozen``: read by core.spec)."""
    kinds = [ls.type for ls in layers]
    if kinds != ["rnn", "dense"] or layers[0].sources not in (None, ("input",)) \
            or layers[1].sources not in (None, (layers[0].name or "layer1",)):
        first = next((l for l, k in enumerate(kinds, start=1) if k == "rnn"), 1)
        raise SpecError(f"{_where(source, f'layer[{first}]')}: an rnn spec has two layers: the "
                        "rnn layer reading the input, then one dense output layer reading it "
                        f"(got {' → '.join(kinds)}); deeper recurrent networks are not supported.")
    for key in ("names",):
        if data.get(key):
            raise SpecError(f"{_where(source, key)}: [names] is not read for rnn specs; the "
                            "documents name the arrays W, U, b, V, c.")
    if data.get("notation"):
        raise SpecError(f"{_where(source, 'notation')}: [notation] is not read for rnn specs "
                        "(their documents use one notation: h_t, δ_t, W, U, V); remove it.")
    if "regularization" in data:
        raise SpecError(f"{_where(source, 'regularization')}: not supported for rnn specs.")
    network = data.get("network", {})
    time = network.get("time", "sum")
    if time not in TIME_CHOICES:
        raise SpecError(f"{_where(source, 'network.time')}: expected \"sum\" or \"mean\", got "
                        f"{time!r}.{suggest(time, TIME_CHOICES)}")
    table = raw_layers[0]
    hidden = layers[0].size
    base = Recurrence(1, 2, hidden, table.get("per_step", False), table.get("truncate"), time)
    if "values" not in data:
        return base, None
    raw = data["values"]
    if not isinstance(raw, dict):
        raise SpecError(f"{_where(source, 'values')}: expected a table.")
    n_in, n_out = (shapes["W1"][1], layers[1].size)
    sequences = []
    if "x" in raw or "y" in raw:
        if "x" not in raw or "y" not in raw:
            raise SpecError(f"{_where(source, 'values')}: give both x (one row of {n_in} "
                            "numbers per step) and y, or neither.")
        sequences.append(_sequence(raw, n_in, n_out, base.per_step, source, "values"))
    samples = raw.get("samples", [])
    if not isinstance(samples, list):
        raise SpecError(f"{_where(source, 'values.samples')}: expected [[values.samples]] tables "
                        "(each with x and y).")
    for i, s in enumerate(samples):
        where = f"values.samples[{i}]"
        if not isinstance(s, dict):
            raise SpecError(f"{_where(source, where)}: expected a table with x and y.")
        for key in s:
            if key not in SEQUENCE_KEYS:
                raise SpecError(f"{_where(source, where + '.' + key)}: unknown key."
                                f"{suggest(key, SEQUENCE_KEYS)} Expected x and y.")
        if set(s) != SEQUENCE_KEYS:
            raise SpecError(f"{_where(source, where)}: expected a table with x and y; "
                            f"{' and '.join(sorted(SEQUENCE_KEYS - set(s)))} is missing.")
        sequences.append(_sequence(s, n_in, n_out, base.per_step, source, where))
    if sequences:
        T = len(sequences[0].x)
        for i, s in enumerate(sequences[1:], start=1):
            if len(s.x) != T:
                where = "values.samples" + (f"[{i - 1}]" if "x" in raw else f"[{i}]")
                raise SpecError(f"{_where(source, where + '.x')}: {len(s.x)} steps, but the first "
                                f"sequence has {T}; the sequences of a batch have one length.")
        for s in sequences:
            for row in s.y:
                loss_check(row)
    if "frozen" in raw:
        raise SpecError(f"{_where(source, 'values.frozen')}: rnn specs train every parameter; "
                        "remove frozen.")
    h0 = vector(raw["h0"], hidden, source, "values.h0") if "h0" in raw else None
    rest = {k: v for k, v in raw.items() if k not in ("x", "y", "h0", "samples")}
    return Recurrence(1, 2, hidden, base.per_step, base.truncate, time, tuple(sequences), h0), rest


def _sequence(table: dict, n_in: int, n_out: int, per_step: bool, source: str,
              where: str) -> Sequence:
    x = table["x"]
    if not isinstance(x, list) or not x or not all(isinstance(r, list) for r in x):
        raise SpecError(f"{_where(source, where + '.x')}: expected one row of {n_in} numbers per "
                        f"step (x = [[…], …]), got {x!r}.")
    if len(x) > MAX_STEPS:
        raise SpecError(f"{_where(source, where + '.x')}: {len(x):,} steps; at most {MAX_STEPS:,}.")
    # one row of the inputs per step (x[t] is step t + 1)
    rows = tuple(vector(r, n_in, source, f"{where}.x[{t}]") for t, r in enumerate(x))
    y = table["y"]
    if per_step:
        if not isinstance(y, list) or len(y) != len(x):
            raise SpecError(f"{_where(source, where + '.y')}: per_step = true: expected one "
                            f"target row per step ({len(x)} rows of {n_out}), got {y!r}.")
        y = [r if isinstance(r, list) else [r] for r in y]
        targets = tuple(vector(r, n_out, source, f"{where}.y[{t}]") for t, r in enumerate(y))
    else:
        if isinstance(y, list) and y and all(isinstance(r, list) for r in y):
            raise SpecError(f"{_where(source, where + '.y')}: per_step is false: the output reads "
                            f"the last step only, so y is one row of {n_out} numbers (set "
                            "per_step = true on the rnn layer for one row per step).")
        targets = (vector(y if isinstance(y, list) else [y], n_out, source, where + ".y"),)
    return Sequence(rows, targets)
