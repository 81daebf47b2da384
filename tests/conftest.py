import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from symbackprop.api import prepare  # noqa: E402


def spec_text(sizes, acts, loss, extra=""):
    """A spec string for a network of ``sizes`` with activations ``acts``."""
    lines = [f"inputs = {sizes[0]}", f'loss = "{loss}"']
    for size, act in zip(sizes[1:], acts):
        lines += ["[[layer]]", f"size = {size}", f'activation = "{act}"']
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def tiny():
    """A 1-1-1 network."""
    return prepare(spec_text([1, 1, 1], ["sigmoid", "sigmoid"], "half_sse"))


@pytest.fixture
def small():
    """A 2-3-1 network."""
    return prepare(spec_text([2, 3, 1], ["tanh", "sigmoid"], "half_sse"))


def alive(pid: int) -> bool:
    """Is process ``pid`` running (not gone, not a zombie)? Reads /proc (Linux)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
