"""Deprecated path: use ``symbackprop`` (or ``symbackprop.core.spec``)."""
import warnings

from .core.spec import *  # noqa: F401,F403
from .core.spec import LayerSpec, Spec, SpecError, load_spec, parse_spec  # noqa: F401

warnings.warn("symbackprop.spec is deprecated; import from symbackprop (or symbackprop.core.spec)",
              DeprecationWarning, stacklevel=2)
