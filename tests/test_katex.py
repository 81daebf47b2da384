"""Every math span of the generated Markdown is valid KaTeX (the real parser, strict).

Runs tools/katex_check.js with node and the katex version pinned in package.json
(installed into the repository's node_modules by `npm ci`, which .ci/os-packages runs).
Missing node or katex skips the test on a developer's machine and fails it on CI.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import spec_text
from symbackprop.render.documents import make_documents
from symbackprop.api import example_names, example_path, prepare

ROOT = Path(__file__).resolve().parent.parent
CHECKER = ROOT / "tools" / "katex_check.js"
KATEX = ROOT / "node_modules" / "katex" / "package.json"

VALUES = "[values]\nx = [0.5, -0.25]\ny = [1.0]\nlearning_rate = 0.1\n"
VARIANTS = {
    "ij": spec_text([2, 2, 1], ["tanh", "sigmoid"], "half_sse", '[notation]\nstyle = "ij"\n'),
    "numbered-target-major": spec_text(
        [2, 2, 1], ["leaky_relu", "sigmoid"], "binary_cross_entropy",
        '[notation]\nstyle = "numbered"\nnumbering = "target-major"\nindex_base = 0\n'),
    "named-neurons-y_hat": spec_text(
        [2, 2, 1], ["relu", "sigmoid"], "half_sse",
        '[notation]\nprediction = "y_hat"\nloss = "L"\nactivation = "out"\n'
        'pre_activation = "net"\n[names]\nneurons = [["i1", "i2"], ["h1", "h2"], ["o1"]]\n'),
    "tied": spec_text([2, 2, 1], ["sigmoid", "sigmoid"], "half_sse",
                      '[names]\nW1 = [["u", "v"], ["v", "u"]]\n'),
    "large": spec_text([12, 9, 3], ["relu", "softmax"], "cross_entropy"),
}


def node_and_katex():
    if shutil.which("node") and KATEX.is_file():
        return True
    if os.environ.get("CI"):
        pytest.fail("node or the pinned katex is missing on CI: .ci/os-packages runs npm ci")
    pytest.skip("node or node_modules/katex missing: run `npm ci` in the repository")


def check(files) -> dict:
    run = subprocess.run(["node", str(CHECKER), *map(str, files)], capture_output=True,
                         text=True, timeout=120)
    return json.loads(run.stdout)


def write_md(model, tmp_path, stem, **kw) -> Path:
    worked = model.worked(0) if model.spec.values and model.spec.values.samples else None
    files = make_documents(model, ["md"], stem, worked=worked, **kw)
    path = tmp_path / f"{stem}.md"
    path.write_text(files[f"{stem}.md"])
    return path


def test_every_span_of_every_document_is_valid_katex(tmp_path):
    node_and_katex()
    paths = [write_md(prepare(example_path(n)), tmp_path, n) for n in example_names()]
    for name, text in VARIANTS.items():
        values = "" if name == "large" else VALUES + ("u = 0.3\nv = -0.2\n" if name == "tied" else "")
        paths.append(write_md(prepare(text + values), tmp_path, name))
    model = prepare(example_path("worked_2331_numbered"))
    paths.append(write_md(model, tmp_path, "one_param", only=model.find_parameter("w7")))
    exact = prepare(example_path("worked_2331"))
    files = make_documents(exact, ["md"], "exact", worked=exact.worked(exact=True), digits=20)
    (tmp_path / "exact.md").write_text(files["exact.md"])
    paths.append(tmp_path / "exact.md")
    for name in ("worked_2331_numbered", "softmax_classifier"):     # Jupyter's _repr_latex_
        paths.append(tmp_path / f"{name}_summary.md")
        paths[-1].write_text(prepare(example_path(name))._repr_latex_())
    result = check(paths)
    assert result["files"] == len(paths) and result["spans"] > 1000
    assert result["errors"] == []


def test_the_checker_rejects_bad_spans(tmp_path):
    node_and_katex()
    bad = tmp_path / "bad.md"
    bad.write_text("fine $a_1$ and `$code$`\n\n$$\\frac{a}{b$$\n\n$\\nosuchmacro$ and $x\n")
    result = check([bad])
    assert result["spans"] == 4
    assert [(e["line"], e["tex"]) for e in result["errors"]] == [
        (3, "\\frac{a}{b"), (5, "\\nosuchmacro"), (5, "$x")]
