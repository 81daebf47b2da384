"""The whole pipeline in a few calls, for the CLI and for notebooks.

>>> from symbackprop.pipeline import prepare, example_path
>>> model = prepare(example_path("worked_2331"))
>>> round(model.evaluate().loss, 6)
0.314807
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .derive import Derivation, derive
from .network import Network, build_network
from .notation import Notation, make_notation
from .numeric import Compiled, Evaluation, compile_derivation, evaluate, update
from .parameters import parameters_from_spec, samples_from_spec
from .spec import Spec, SpecError, load_spec, parse_spec

EXAMPLES = Path(__file__).resolve().parent / "examples"
DEFAULT_EXAMPLE = "worked_2331"


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.toml"))


def example_path(name: str) -> Path:
    path = EXAMPLES / f"{name}.toml"
    if not path.is_file():
        raise SpecError(f"no built-in example {name!r}; the examples are: {', '.join(example_names())}.")
    return path


@dataclass(frozen=True)
class Model:
    """A spec with its network, derivation, notation and compiled numerics."""

    spec: Spec
    network: Network
    derivation: Derivation
    notation: Notation

    @cached_property
    def compiled(self) -> Compiled:
        return compile_derivation(self.derivation)

    def parameters(self, init: int | None = None) -> dict[str, np.ndarray]:
        return parameters_from_spec(self.spec, init, names=getattr(self.notation, "slots", None))

    def learning_rate(self, lr: float | None = None) -> float:
        if lr is not None:
            return float(lr)
        if self.spec.values is not None and self.spec.values.learning_rate is not None:
            return float(self.spec.values.learning_rate)
        return 0.01

    def evaluate(self, init: int | None = None, params=None) -> Evaluation:
        params = self.parameters(init) if params is None else params
        X, Y = samples_from_spec(self.spec)
        return evaluate(self.compiled, params, X, Y, self.spec.batch)

    def step(self, init: int | None = None, lr: float | None = None):
        """(params, evaluation, updated params, learning rate) of one gradient step."""
        params = self.parameters(init)
        ev = self.evaluate(params=params)
        rate = self.learning_rate(lr)
        return params, ev, update(params, ev.gradients, rate), rate

    def _repr_markdown_(self) -> str:
        from .render import render_markdown
        return render_markdown(self.derivation, self.notation)


def prepare(source: str | Path | Spec) -> Model:
    """Spec file, spec text or Spec → Model (derivation included)."""
    if isinstance(source, Spec):
        spec = source
    elif isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                      and source.endswith(".toml")):
        spec = load_spec(source)
    else:
        spec = parse_spec(source)
    network = build_network(spec)
    return Model(spec, network, derive(network), make_notation(network))


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, so nothing is half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
