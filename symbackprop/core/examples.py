"""The built-in example specs shipped in ``symbackprop/examples``, and the claims
files shipped in ``symbackprop/examples/claims`` (found by file name from anywhere)."""
from __future__ import annotations

from pathlib import Path

from .errors import SpecError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLAIMS = EXAMPLES / "claims"
# recurrent (rnn) example specs (issue #19): run by path; not yet among the built-in names,
# whose documents, showcase and claims every example must have
RECURRENT = EXAMPLES / "recurrent"
DEFAULT_EXAMPLE = "worked_2331"
CLAIMS_SUFFIXES = (".md", ".tex", ".txt")


def example_names() -> list[str]:
    """The names of the built-in example specs, sorted."""
    return sorted(p.stem for p in EXAMPLES.glob("*.toml"))


def example_path(name: str) -> Path:
    """The path of a built-in example spec (``symbackprop examples`` lists them).

    Parameters
    ----------
    name : str
        The example's name, without ``.toml``: ``"worked_2331"``, ``"tanh_net"``, …

    Returns
    -------
    pathlib.Path
        The ``.toml`` file shipped in ``symbackprop/examples``.

    Raises
    ------
    SpecError
        No example has that name; the message lists the examples.

    Examples
    --------
    >>> example_path("worked_2331").name
    'worked_2331.toml'
    >>> "tanh_net" in example_names()
    True
    >>> example_path("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.core.errors.SpecError: no built-in example 'nope'; the examples are: ...
    """
    path = EXAMPLES / f"{name}.toml"
    if not path.is_file():
        raise SpecError(f"no built-in example {name!r}; the examples are: {', '.join(example_names())}.")
    return path


def claims_names() -> list[str]:
    """The file names of the shipped claims files, sorted (``worked_2331_numbered.md``, …).

    >>> "calculus.txt" in claims_names()
    True
    """
    return sorted(p.name for p in CLAIMS.iterdir() if p.suffix in CLAIMS_SUFFIXES)


def claims_path(name: str) -> Path | None:
    """The shipped claims file of that file name, or None.

    >>> claims_path("calculus.txt").parent.name
    'claims'
    >>> claims_path("../worked_2331.toml") is None
    True
    """
    return CLAIMS / name if name in claims_names() else None
