"""The spec error and its message helpers, shared by every validating module."""
from __future__ import annotations

import difflib


class SpecError(ValueError):
    """A spec that cannot be used; the message names the key and the fix."""


def where(source: str, key: str) -> str:
    return f"{source}: key `{key}`"


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""
