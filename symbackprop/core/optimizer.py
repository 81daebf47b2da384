"""The ``[optimizer]`` and ``[regularization]`` tables of a spec (issue #20), validated.

``core.spec`` calls ``parse_optimizer`` and ``parse_regularization``; the records
they return are what ``numeric.optimizers`` runs.  Defaults are PyTorch's
(``core.defaults.OPTIMIZER_DEFAULTS``); numbers stay ``Decimal`` as written.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from .defaults import OPTIMIZER_DEFAULTS, SCHEDULE_DEFAULTS
from .errors import SpecError, suggest, where

OPTIMIZERS = tuple(OPTIMIZER_DEFAULTS)
# keys every optimiser takes besides its hyper-parameters (OPTIMIZER_DEFAULTS)
COMMON_KEYS = ("name", "lr", "weight_decay", "decay_biases", "batch_size", "shuffle_seed",
               "epochs", "steps", "schedule")
REGULARIZATION_KEYS = ("l2", "l1")
# the range each hyper-parameter must lie in: (low, low included, high, high included)
RANGES = {"lr": (0, False, math.inf, False), "momentum": (0, True, 1, False),
          "beta1": (0, True, 1, False), "beta2": (0, True, 1, False),
          "alpha": (0, True, 1, True), "eps": (0, True, math.inf, False),
          "weight_decay": (0, True, math.inf, False), "gamma": (0, False, math.inf, False),
          "eta_min": (0, True, math.inf, False), "l2": (0, True, math.inf, False),
          "l1": (0, True, math.inf, False)}


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule, stepped once per optimiser step: ``kind`` step (η₀ γ^⌊t/step_size⌋),
    exponential (η₀ γ^t) or cosine (η_min + (η₀ − η_min)(1 + cos(π t / T_max))/2)."""

    kind: str
    step_size: int | None = None
    gamma: Decimal | None = None
    T_max: int | None = None
    eta_min: Decimal | None = None


@dataclass(frozen=True)
class Optimizer:
    """``[optimizer]``: the optimiser's name and hyper-parameters, PyTorch's defaults filled in.

    ``lr`` is None when the table gives none (``[values].learning_rate``, then the
    optimiser's default, decide); ``batch_size`` None is the full batch; ``shuffle_seed``
    None keeps the examples in order; ``epochs``/``steps`` None when not given.

    >>> parse_optimizer({"name": "adam"}, "<spec>").beta2
    Decimal('0.999')
    """

    name: str
    lr: Decimal | None = None
    momentum: Decimal = Decimal("0")
    beta1: Decimal = Decimal("0.9")
    beta2: Decimal = Decimal("0.999")
    eps: Decimal = Decimal("1e-8")
    alpha: Decimal = Decimal("0.99")
    weight_decay: Decimal = Decimal("0")
    decay_biases: bool = False
    batch_size: int | None = None
    shuffle_seed: int | None = None
    epochs: int | None = None
    steps: int | None = None
    schedule: Schedule | None = None
    # [optimizer.<name>] tables: the settings `train --compare` uses for that optimiser
    variants: tuple[tuple[str, "Optimizer"], ...] = field(default=(), repr=False)

    def variant(self, name: str) -> "Optimizer":
        """The optimiser ``name`` for --compare: its [optimizer.<name>] table, else its
        defaults with this table's batch_size, shuffle_seed and steps/epochs."""
        given = dict(self.variants)
        if name == self.name:
            return self
        if name in given:
            return given[name]
        return defaults_of(name, batch_size=self.batch_size, shuffle_seed=self.shuffle_seed,
                           epochs=self.epochs, steps=self.steps)

    @property
    def default_lr(self) -> Decimal:
        return OPTIMIZER_DEFAULTS[self.name]["lr"]


def defaults_of(name: str, **given) -> Optimizer:
    """Optimiser ``name`` with PyTorch's defaults (``given``: other fields).

    >>> defaults_of("adamw").weight_decay
    Decimal('0.01')
    """
    return Optimizer(name=name, **{k: v for k, v in OPTIMIZER_DEFAULTS[name].items() if k != "lr"},
                     **given)


@dataclass(frozen=True)
class Regularization:
    """``[regularization]``: (l2/2) Σ w² + l1 Σ |w| over the weights (not the biases),
    added to the reduced batch loss."""

    l2: Decimal = Decimal("0")
    l1: Decimal = Decimal("0")
    keys: tuple[str, ...] = field(default=(), repr=False)


def _number(raw, key: str, source: str, table: str) -> Decimal:
    value, key = raw[key], f"{table}.{key}"
    low, low_in, high, high_in = RANGES[key.rsplit(".", 1)[1]]
    shown = ("[" if low_in else "(") + f"{low}, " + ("∞" if high == math.inf else str(high)) \
        + ("]" if high_in else ")")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) \
            or not Decimal(value).is_finite() or math.isinf(float(value)):
        given = value if isinstance(value, Decimal) and len(str(value)) <= 24 else (
            f"{value:.3E}" if isinstance(value, Decimal) else repr(value))
        raise SpecError(f"{where(source, key)}: expected a finite number in {shown}, got {given}.")
    value = Decimal(value)
    if value < low or (value == low and not low_in) or value > high or (value == high and not high_in):
        raise SpecError(f"{where(source, key)}: expected a number in {shown}, got {value}.")
    return value


def _integer(raw: dict, key: str, source: str, table: str, low: int = 1) -> int:
    value, key = raw[key], f"{table}.{key}"
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a positive integer" if low == 1 else f"an integer ≥ {low}"
        raise SpecError(f"{where(source, key)}: expected {kind}, got {value!r}.")
    return value


def _known(raw: dict, allowed, source: str, table: str, what: str) -> None:
    for key in raw:
        if key not in allowed:
            raise SpecError(f"{where(source, f'{table}.{key}')}: {what} takes no key {key!r}."
                            f"{suggest(key, allowed)} Expected one of: {', '.join(allowed)}.")


def parse_optimizer(raw, source: str) -> Optimizer:
    """Validate an ``[optimizer]`` table (SpecError naming the key on any fault)."""
    if not isinstance(raw, dict):
        raise SpecError(f"{where(source, 'optimizer')}: expected a table.")
    name = raw.get("name")
    if not isinstance(name, str) or name not in OPTIMIZER_DEFAULTS:
        raise SpecError(f"{where(source, 'optimizer.name')}: expected one of "
                        f"{', '.join(OPTIMIZERS)}, got {name!r}.{suggest(name, OPTIMIZERS)}")
    variants = tuple((k, _variant(k, v, raw, source)) for k, v in raw.items()
                     if k in OPTIMIZER_DEFAULTS and isinstance(v, dict))
    raw = {k: v for k, v in raw.items() if k not in dict(variants)}
    defaults = OPTIMIZER_DEFAULTS[name]
    allowed = list(COMMON_KEYS) + [k for k in defaults if k not in COMMON_KEYS]
    _known(raw, allowed, source, "optimizer", f"optimizer {name!r}")
    hyper = {k: _number(raw, k, source, "optimizer") if k in raw else v
             for k, v in defaults.items() if k != "lr"}
    if name in ("momentum", "nesterov") and hyper["momentum"] == 0:
        raise SpecError(f"{where(source, 'optimizer.momentum')}: {name} needs a momentum in "
                        "(0, 1); with 0 it is plain sgd.")
    lr = _number(raw, "lr", source, "optimizer") if "lr" in raw else None
    decay_biases = raw.get("decay_biases", False)
    if not isinstance(decay_biases, bool):
        raise SpecError(f"{where(source, 'optimizer.decay_biases')}: expected true or false, "
                        f"got {decay_biases!r}.")
    if "epochs" in raw and "steps" in raw:
        raise SpecError(f"{where(source, 'optimizer.steps')}: give epochs or steps, not both.")
    ints = {k: _integer(raw, k, source, "optimizer", low=0 if k == "shuffle_seed" else 1)
            for k in ("batch_size", "shuffle_seed", "epochs", "steps") if k in raw}
    schedule = _schedule(raw["schedule"], source) if "schedule" in raw else None
    return Optimizer(name=name, lr=lr, decay_biases=decay_biases, schedule=schedule,
                     variants=variants, **hyper, **ints)


def _variant(name: str, table: dict, outer: dict, source: str) -> Optimizer:
    """An [optimizer.<name>] table: its own keys, the outer table's mini-batches and length."""
    if "name" in table and table["name"] != name:
        raise SpecError(f"{where(source, f'optimizer.{name}.name')}: the table "
                        f"[optimizer.{name}] is optimizer {name!r}; leave name out.")
    shared = {k: outer[k] for k in ("batch_size", "shuffle_seed", "epochs", "steps") if k in outer}
    inner = {k: v for k, v in table.items() if k != "name"}
    try:
        return parse_optimizer({"name": name, **shared, **inner}, source)
    except SpecError as exc:       # name the inner table in the message
        raise SpecError(str(exc).replace("key `optimizer.", f"key `optimizer.{name}.")) from None


def _schedule(raw, source: str) -> Schedule:
    if not isinstance(raw, dict):
        raise SpecError(f"{where(source, 'optimizer.schedule')}: expected a table such as "
                        "{kind = \"step\", step_size = 10, gamma = 0.5}.")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in SCHEDULE_DEFAULTS:
        raise SpecError(f"{where(source, 'optimizer.schedule.kind')}: expected one of "
                        f"{', '.join(SCHEDULE_DEFAULTS)}, got {kind!r}.{suggest(kind, SCHEDULE_DEFAULTS)}")
    defaults = SCHEDULE_DEFAULTS[kind]
    _known(raw, ["kind", *defaults], source, "optimizer.schedule", f"schedule {kind!r}")
    found = {}
    for key, default in defaults.items():
        if key not in raw:
            if default is None:
                raise SpecError(f"{where(source, f'optimizer.schedule.{key}')}: missing; schedule "
                                f"{kind!r} needs {key}.")
            found[key] = default
        elif key in ("step_size", "T_max"):
            found[key] = _integer(raw, key, source, "optimizer.schedule")
        else:
            found[key] = _number(raw, key, source, "optimizer.schedule")
    return Schedule(kind, **found)


def parse_regularization(raw, source: str) -> Regularization:
    """Validate a ``[regularization]`` table: ``l2`` and ``l1``, each ≥ 0.

    >>> parse_regularization({"l2": Decimal("0.5")}, "<spec>").l2
    Decimal('0.5')
    """
    if not isinstance(raw, dict):
        raise SpecError(f"{where(source, 'regularization')}: expected a table.")
    _known(raw, REGULARIZATION_KEYS, source, "regularization", "[regularization]")
    found = {k: _number(raw, k, source, "regularization") for k in REGULARIZATION_KEYS if k in raw}
    return Regularization(**found, keys=tuple(found))
