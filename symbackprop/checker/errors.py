"""The checker's own exceptions, importable by every checker module."""
from __future__ import annotations


class NeedsValues(Exception):
    """A number was claimed, but the spec lacks what it is evaluated at (a spec
    error: the ``check`` command exits 2 naming the claims)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what
