"""Drawing one variant of a family: its network, parameters and example.

Every draw comes from the variant's own ``numpy.random.Generator(PCG64(seed))``,
in a fixed order, so a seed gives the same variant (and the same redraws) on
every run.  The variant is written as spec TOML (``templates/exercises/
variant.toml.j2``) and read back by ``prepare``: the key describes exactly the
spec a student or another program can load.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from ..render.environment import environment
from .family import Family, Grid

PIECEWISE = ("relu", "leaky_relu", "elu")     # a kink at z = 0


@dataclass(frozen=True)
class DrawnLayer:
    size: int
    activation: str
    W: tuple[tuple[str, ...], ...]
    b: tuple[str, ...]


@dataclass(frozen=True)
class Drawn:
    """A variant's network as drawn (numbers as their decimal text)."""

    id: str
    seed: int
    inputs: int
    loss: str
    preset: str
    layers: tuple[DrawnLayer, ...]
    x: tuple[str, ...]
    y: tuple[str, ...]
    learning_rate: str


def rng_of(seed: int) -> np.random.Generator:
    """The variant's generator: PCG64 seeded with the variant's seed."""
    return np.random.Generator(np.random.PCG64(seed))


def _pick(rng: np.random.Generator, items: tuple):
    return items[int(rng.integers(len(items)))]


def _on(rng: np.random.Generator, grid: Grid, n: int, nonzero: bool = False) -> tuple[str, ...]:
    """``n`` values on ``grid`` (``nonzero``: 0 never drawn, when the grid has others)."""
    out = []
    for _ in range(n):
        value = grid.at(int(rng.integers(grid.count())))
        while nonzero and value == 0 and grid.count() > 1:
            value = grid.at(int(rng.integers(grid.count())))
        out.append(_text(value))
    return tuple(out)


def _text(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text.strip("-0.") == "" else text


def draw(family: Family, vid: str, seed: int, rng: np.random.Generator) -> Drawn:
    """One network of ``family``: sizes, activations, loss, preset, then the numbers."""
    inputs = _pick(rng, family.inputs)
    shapes = [(_pick(rng, t.sizes), _pick(rng, t.activations)) for t in family.layers]
    loss = _pick(rng, family.losses)
    preset = _pick(rng, family.presets)
    layers, n_in = [], inputs
    for size, activation in shapes:
        W = tuple(_on(rng, family.weights, n_in, nonzero=True) for _ in range(size))
        layers.append(DrawnLayer(size, activation, W, _on(rng, family.biases, size)))
        n_in = size
    x = _on(rng, family.x, inputs)
    n_out = shapes[-1][0]
    if family.y == "one_hot":
        hot = int(rng.integers(n_out))
        y = tuple("1" if j == hot else "0" for j in range(n_out))
    else:
        y = _on(rng, family.y, n_out)
    lr = _text(_pick(rng, family.learning_rates))
    return Drawn(vid, seed, inputs, loss, preset, tuple(layers), x, y, lr)


def spec_text(family: Family, drawn: Drawn) -> str:
    """The variant as spec TOML."""
    return environment().get_template("exercises/variant.toml.j2").render(family=family, v=drawn)


def near_kink(model, margin: Decimal) -> bool:
    """Does a pre-activation of a ReLU-like layer sit within ``margin`` of its kink at 0?"""
    ev = model.evaluate()
    return any(layer.activation in PIECEWISE and np.any(np.abs(z) < float(margin))
               for layer, z in zip(model.spec.layers, ev.z))
