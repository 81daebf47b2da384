"""The numbers of a spec's ``[values]`` table, shared by every kind of spec (dense and
graph specs in ``core.spec``, convolutional ones in ``core.convspec``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One example: its input and target (a convolutional input flattened row-major in
    C, H, W order)."""

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
