"""Deprecated path: use ``symbackprop`` (or ``symbackprop.api``)."""
import warnings

from .api import *  # noqa: F401,F403
from .api import __all__  # noqa: F401

warnings.warn("symbackprop.pipeline is deprecated; import from symbackprop (or symbackprop.api)",
              DeprecationWarning, stacklevel=2)
