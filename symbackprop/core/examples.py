"""The built-in example specs shipped in ``symbackprop/examples``."""
from __future__ import annotations

from pathlib import Path

from .errors import SpecError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_EXAMPLE = "worked_2331"


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.toml"))


def example_path(name: str) -> Path:
    path = EXAMPLES / f"{name}.toml"
    if not path.is_file():
        raise SpecError(f"no built-in example {name!r}; the examples are: {', '.join(example_names())}.")
    return path
