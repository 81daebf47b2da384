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
from .api import LayerSpec, Model, Spec, check, example_path, prepare

__all__ = ["LayerSpec", "Model", "Spec", "check", "example_path", "prepare"]
