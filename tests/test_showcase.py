"""The committed showcase (output/examples/) is what the templates make today.

A template change shows up in review as a change of these files; regenerate them with
`python tools/showcase.py`.  This is a freshness check, not a correctness test: the
formulas and numbers are tested against independent oracles elsewhere.
"""
import importlib.util
from pathlib import Path

import pytest

from symbackprop.api import example_names

ROOT = Path(__file__).resolve().parent.parent
SHOWCASE = ROOT / "output" / "examples"


def showcase_tool():
    spec = importlib.util.spec_from_file_location("showcase", ROOT / "tools" / "showcase.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("showcase")
    showcase_tool().generate(out, formats=("md", "tex", "html"))
    return out


@pytest.mark.parametrize("name", example_names())
@pytest.mark.parametrize("ext", ["md", "svg", "tex", "html"])
def test_committed_text_formats_are_fresh(regenerated, name, ext):
    committed = SHOWCASE / f"{name}.{ext}"
    assert committed.is_file(), f"{committed} missing: run python tools/showcase.py"
    assert (regenerated / f"{name}.{ext}").read_bytes() == committed.read_bytes(), (
        f"{committed} is stale: run python tools/showcase.py and commit output/examples/")


@pytest.mark.parametrize("name", example_names())
def test_committed_pdf_exists(name):
    assert (SHOWCASE / f"{name}.pdf").read_bytes().startswith(b"%PDF")
