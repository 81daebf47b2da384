"""symbackprop: exact backpropagation mathematics for small neural networks.

``symbackprop.check(spec, "dE/dw17 = …")`` checks hand-derived formulas
(see ``pipeline.check``).  The engine module ``symbackprop.check`` is loaded
first so that the package attribute ``check`` stays the function.
"""
from . import check as _check_engine  # noqa: F401
from .pipeline import check

__all__ = ["check"]
