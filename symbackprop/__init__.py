"""symbackprop: exact backpropagation mathematics for small neural networks.

The public API:

- ``prepare(source)`` turns a spec (file, built-in example name, TOML text or
  ``Spec``) into a ``Model``: network, derivation, notation, numbers;
- ``example_path(name)`` is the path of a built-in example spec;
- ``check(source, claims)`` checks hand-derived formulas;
- ``Spec`` and ``LayerSpec`` are the validated spec records.

>>> import symbackprop
>>> model = symbackprop.prepare("worked_2331")
>>> round(model.evaluate().loss, 6)
0.314807
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__all__ = ["LayerSpec", "Model", "Spec", "check", "example_path", "prepare"]

if TYPE_CHECKING:
    from .api import LayerSpec, Model, Spec, check, example_path, prepare


def __getattr__(name: str):
    """The public names, loaded from the façade on first use (PEP 562): importing a
    part of the package (``symbackprop.cli`` for ``--help``) does not load SymPy."""
    if name in __all__:
        return getattr(importlib.import_module(".api", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
