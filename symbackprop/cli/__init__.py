"""The ``symbackprop`` command line.

``main`` parses the arguments first (``parser``: standard library only) and imports
the commands, and with them SymPy and NumPy, only when there is a command to run:
``symbackprop --help`` and a misspelt option answer at once.
"""
from __future__ import annotations

from .parser import parser


def main(argv: list[str] | None = None) -> int:
    """The command line: parse ``argv`` (default ``sys.argv[1:]``), run it, the exit status."""
    args = parser().parse_args(argv)
    from .commands import run          # lazy on purpose: the heavy imports, after parsing
    return run(args)
