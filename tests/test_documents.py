"""LaTeX and PDF documents: they compile with pdflatex, fit the page, escape user text."""
import re
import shutil
import subprocess

import jinja2
import pytest

from conftest import spec_text
from symbackprop.render import documents
from symbackprop.cli import main
from symbackprop.render.documents import (DocumentError, TEX_SYNTAX, compile_pdf, make_documents,
                                   render_tex, tex_escape)
from symbackprop.api import example_names, example_path, prepare
from symbackprop.render.environment import environment

needs_tex = pytest.mark.skipif(shutil.which("pdflatex") is None and shutil.which("latexmk") is None,
                               reason="no TeX engine: apt-get install texlive-latex-base "
                                      "texlive-pictures (.ci/os-packages does)")
WIDE = spec_text([3, 6, 6, 2], ["sigmoid", "tanh", "sigmoid"], "half_sse",
                 "[values]\nx = [0.1, 0.2, 0.3]\ny = [0.0, 1.0]\n")
LARGE = spec_text([12, 8, 3], ["relu", "softmax"], "cross_entropy")
WIDE_INPUT = spec_text(     # 100 inputs, a 12-way softmax, numbered: long sums and lists
    [100, 4, 12], ["sigmoid", "softmax"], "cross_entropy",
    '[notation]\nstyle = "numbered"\n[values]\nx = [' + ", ".join(["0.5"] * 100) + "]\ny = ["
    + ", ".join(["0"] * 11 + ["1"]) + "]\n")


def model_and_worked(source):
    model = prepare(source)
    worked = model.worked(0) if model.spec.values and model.spec.values.samples else None
    return model, worked


def pdf_text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext missing: apt-get install poppler-utils (.ci/os-packages does)")
    (tmp_path / "d.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(tmp_path / "d.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout


def test_tex_escape_every_special_character():
    assert tex_escape("a_b&c%d$e#f{g}h~i^j\\k") == (
        r"a\_b\&c\%d\$e\#f\{g\}h\textasciitilde{}i\textasciicircum{}j\textbackslash{}k")


def test_tex_delimiters_leave_tex_braces_and_hashes_alone():
    env = environment(None, **TEX_SYNTAX)
    tmpl = env.from_string(r"\newcommand{\f}[1]{\mathbf{#1}} {#1 x #} \VAR{n} %# gone" "\n"
                           r"\BLOCK{if n}\#{a comment}yes\BLOCK{endif}")
    assert tmpl.render(n=3) == r"\newcommand{\f}[1]{\mathbf{#1}} {#1 x #} 3" "\nyes"


def test_document_is_deterministic_and_has_no_date():
    model, worked = model_and_worked(example_path("worked_2331"))
    a, b = render_tex(model, worked), render_tex(model, worked)
    assert a == b and r"\date{}" in a and r"\today" not in a


@needs_tex
@pytest.mark.parametrize("name", example_names())
def test_examples_compile_without_overfull_boxes(name):
    model, worked = model_and_worked(example_path(name))
    log = []
    pdf = compile_pdf(render_tex(model, worked), log)
    assert pdf.startswith(b"%PDF")
    assert "Overfull" not in log[0], re.findall(r"Overfull.*\n.*", log[0])[:3]
    # TikZ drew the picture: the log lists no missing characters and the document has pages
    assert "Missing character" not in log[0]


@needs_tex
@pytest.mark.parametrize("source", [WIDE, LARGE, WIDE_INPUT],
                         ids=["3-6-6-2", "12-8-3 (122 parameters)", "100-4-12 numbered"])
def test_long_chain_products_are_broken_into_lines(source):
    model, worked = model_and_worked(source)
    log = []
    compile_pdf(render_tex(model, worked), log)
    assert "Overfull" not in log[0], re.findall(r"Overfull.*\n.*", log[0])[:3]


@needs_tex
def test_pdf_shows_the_oracles_gradient(tmp_path):
    """∂E/∂w^1_11 of the worked 2-3-3-1 example, from the hand-written NumPy backprop."""
    import numpy as np
    from oracles import np_backprop
    model, worked = model_and_worked(example_path("worked_2331"))
    params = model.parameters()
    x = np.array([[0.23], [0.55]])
    _, grads = np_backprop(["relu", "relu", "sigmoid"], "half_sse", params, x, np.array([[0.01]]))
    text = pdf_text(compile_pdf(render_tex(model, worked)), tmp_path)
    assert f"{grads['W1'][0, 0]:.6g}" in text
    assert re.search(r"Backpropagation for worked.2331", text)   # OT1 draws _ as a rule


@needs_tex
def test_user_names_are_escaped_in_text_and_math(tmp_path):
    spec = 'name = "my_net-1.v2"\n' + spec_text([2, 1], ["sigmoid"], "half_sse",
                                               '[names]\nW1 = [["w_in", "w_2"]]\nb1 = ["bias_out"]\n')
    model = prepare(spec)
    tex = render_tex(model)
    assert r"\texttt{my\_net-1.v2}" in tex
    text = pdf_text(compile_pdf(tex), tmp_path)
    assert re.search(r"my.net-1\.v2", text)
    assert r"w_{in}" in tex and r"bias_{out}" in tex


def test_no_tex_engine_is_one_clear_message_and_nothing_written(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(documents.shutil, "which", lambda name: None)
    with pytest.raises(DocumentError, match="apt-get install texlive-latex-base texlive-pictures"):
        compile_pdf(r"\documentclass{article}\begin{document}x\end{document}")
    assert main(["derive", "-f", "md", "-f", "pdf", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install texlive-latex-base texlive-pictures" in err
    assert list(tmp_path.iterdir()) == []


@needs_tex
def test_a_tex_error_is_reported():
    with pytest.raises(DocumentError, match="Undefined control sequence"):
        compile_pdf(r"\documentclass{article}\begin{document}\nosuchmacro\end{document}")


@needs_tex
def test_cli_writes_every_format_at_once(tmp_path):
    assert main(["derive", "-f", "md", "-f", "tex", "-f", "pdf", "-f", "html",
                 "-o", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"worked_2331.{ext}" for ext in ("html", "md", "pdf", "svg", "tex")]
    assert (tmp_path / "worked_2331.pdf").read_bytes().startswith(b"%PDF")
    assert "![The network worked_2331" in (tmp_path / "worked_2331.md").read_text()
    assert "(worked_2331.svg)" in (tmp_path / "worked_2331.md").read_text()


def test_param_document_in_tex(tmp_path):
    assert main(["derive", str(example_path("worked_2331_numbered")), "--param", "w7", "-f", "tex",
                 "-o", str(tmp_path)]) == 0
    tex = (tmp_path / "worked_2331_numbered_w7.tex").read_text()
    assert r"the parameter $w_{7}$" in tex and r"\section{Forward pass}" not in tex


def test_user_templates_override_and_are_sandboxed(tmp_path):
    user = tmp_path / "tpl"
    user.mkdir()
    (user / "derivation.md.j2").write_text("Custom {{ spec.name }}: ${{ d.loss|tex }}$\n")
    out = tmp_path / "out"
    assert main(["derive", "--templates", str(user), "-o", str(out)]) == 0
    assert (out / "worked_2331.md").read_text().startswith("Custom worked_2331: $\\frac{")
    (user / "derivation.md.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    assert main(["derive", "--templates", str(user), "-o", str(tmp_path / "out2")]) == 2
    assert not (tmp_path / "out2").exists()


def test_sandbox_is_only_for_user_templates():
    assert isinstance(environment(None), jinja2.Environment)
    assert not isinstance(environment(None), jinja2.sandbox.SandboxedEnvironment)
    assert isinstance(environment("/tmp"), jinja2.sandbox.SandboxedEnvironment)


def test_make_documents_rejects_an_unknown_format():
    model = prepare(example_path("tanh_net"))
    with pytest.raises(DocumentError, match="unknown format 'docx'"):
        make_documents(model, ["docx"], "x")


def test_notebook_display():
    model = prepare(example_path("worked_2331"))
    md = model._repr_markdown_()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in md and "## 1. The network" in md
    latex = model._repr_latex_()
    assert latex.startswith("$$\n\\begin{aligned}") and latex.endswith("\\end{aligned}\n$$\n")
    # one gradient line per parameter, written with the notation's names
    assert latex.count(r"\frac{\partial E}{\partial") == len(model.network.parameters)
    assert r"\frac{\partial E}{\partial w^{1}_{32}} &= \delta^{1}_{3} \cdot x_{2}" in latex


def test_readme_notebook_session_runs():
    """The README's notebook session (our own documentation, not user input) still works."""
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("**In a notebook**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    code = block.replace("# from symbackprop import Spec", "from symbackprop import Spec").replace(
        "# model = prepare(Spec", "model_py = prepare(Spec")
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["model"]._repr_markdown_().count("<svg") == 1
    assert scope["model_py"].network.parameters == scope["model"].network.parameters
    assert scope["model"].notation.tex(scope["grad"]) == r"\delta^{1}_{1} \cdot x_{1}"


def test_shipped_templates_work_unchanged_in_the_sandbox(tmp_path):
    """--templates with an empty folder: every format renders the same under the sandbox."""
    model = prepare(example_path("worked_2331_numbered"))
    plain = make_documents(model, ["md", "tex", "html"], "x", worked=model.worked())
    (tmp_path / "empty").mkdir()
    boxed = make_documents(model, ["md", "tex", "html"], "x", worked=model.worked(),
                           templates=tmp_path / "empty")
    assert plain == boxed
