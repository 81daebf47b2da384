"""Regenerate the showcase: every built-in example as md (+ svg), tex, pdf and html in
output/examples/, exactly as `symbackprop derive <example> -f md -f tex -f pdf -f html` writes
them (mazur_adam with --steps 3).  tests/test_showcase.py checks that the committed text files are up to date.

    python tools/showcase.py            # after changing a template: commit output/examples/
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "output" / "examples"
sys.path.insert(0, str(ROOT))

from symbackprop.cli import main as cli  # noqa: E402
from symbackprop.api import example_names, example_path  # noqa: E402

# options beyond the formats: the blog's network shows its three Adam steps (issue #20)
OPTIONS = {"mazur_adam": ["--steps", "3"]}


def generate(out: Path, formats=("md", "tex", "pdf", "html")) -> None:
    """Every example through the CLI into ``out``."""
    flags = [arg for fmt in formats for arg in ("-f", fmt)]
    for name in example_names():
        if cli(["derive", str(example_path(name)), *flags, *OPTIONS.get(name, []),
                "-o", str(out)]) != 0:
            raise SystemExit(f"showcase: {name} failed")


if __name__ == "__main__":
    generate(OUT)
