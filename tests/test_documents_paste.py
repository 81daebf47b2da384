"""Documents a lecturer can paste (issue #16): one number formatter, self-consistent
displayed arithmetic, ReLU′ by name, --detail, the page budget of the default PDF.

Every number is compared with hand-worked values or Decimal arithmetic done here."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from symbackprop import check, example_path, prepare
from symbackprop.core.defaults import LEARNING_RATE
from symbackprop.cli import main
from symbackprop.core import formatting as numbers
from symbackprop.render.documents import compile_pdf, render_md, render_tex

# 1 input, 1 identity neuron, ½ SSE: z = w x + b = 0.7, ∂E/∂w = (a − y) x = 0.7 (by hand);
# with η = 1e-5 the update is 0.7 − 0.000007 = 0.699993.
TINY = """
name = "tiny"
inputs = 1
loss = "half_sse"
[[layer]]
size = 1
activation = "identity"
[values]
x = [1.0]
y = [0.0]
W1 = [[0.7]]
b1 = [0.0]
learning_rate = 1e-5
"""


def test_formatter_digits_signs_and_zero():
    assert numbers.fmt(-0.0) == "0"                       # -0 never appears
    assert numbers.fmt(-1e-30, 6) == r"-1 \times 10^{-30}"
    assert numbers.fmt(0.69999970000001) == "0.7"
    assert numbers.fmt(1.5e-5, tex=False) == "1.5e-05"
    assert numbers.operand(-0.0084) == "(-0.0084)"
    assert numbers.operand(0.0084) == "0.0084"
    # 0.7 − 1e-5·0.03 = 0.6999997: shown with the digits that make the change visible
    assert numbers.step(0.6999997, 0.7) == "0.6999997"


def test_product_sign_follows_the_shown_factors():
    assert numbers.product_sign([0.5, 0.3], 0.15) == "="
    # (2/3)^6 = 0.0877915 (6 digits), but the shown factors give 0.666667^6 = 0.0877918…
    assert str(round(Decimal("0.666667") ** 6, 7)) == "0.0877918"
    assert numbers.fmt((2 / 3) ** 6) == "0.0877915"
    assert numbers.product_sign([2 / 3] * 6, (2 / 3) ** 6) == r"\approx"
    assert numbers.product_sign([0.5, 0.25], 0.125) == "="


def test_update_digits_make_the_shown_update_exact():
    # old 0.1, η 0.01, grad 0.05590433: 0.1 − 0.01·0.0559043 = 0.099440957 → 0.099441 (6 digits)
    n = numbers.update_digits(0.1, 0.01, 0.05590433, 0.1 - 0.01 * 0.05590433)
    assert n == 6
    # a case where 6 digits of the gradient are not enough: new = old − η·g with g's 7th digit
    # deciding the last shown digit of the update
    old, lr, g = 0.5, 1.0, 0.1234565
    new = old - lr * g                                     # 0.3765435
    n = numbers.update_digits(old, lr, g, new)
    shown_g = Decimal(numbers.fmt(g, n))
    shown_new = Decimal(numbers.step(new, old))
    assert abs(Decimal("0.5") - shown_g - shown_new) <= Decimal(1).scaleb(shown_new.as_tuple().exponent) / 2


def test_same_digits_in_markdown_and_latex_for_a_tiny_step():
    m = prepare(TINY)
    w = m.worked()
    md, tex = render_md(m, w), render_tex(m, w)
    for doc in (md, tex):
        assert "0.7 - 1 \\times 10^{-5} \\cdot 0.7 = 0.699993" in doc, doc[-1500:]
    assert "= 0.7 \\]" not in tex


def _update_lines(text: str):
    return re.findall(r"= (\(?-?[0-9.]+\)?) - ([0-9.]+) \\cdot (\(?-?[0-9.]+\)?) = (-?[0-9.]+)", text)


@pytest.mark.parametrize("name", ["worked_2331", "worked_2331_numbered", "one_hidden_ij"])
def test_every_shown_update_is_exact_at_its_precision(name):
    m = prepare(name)
    md = render_md(m, m.worked(), detail="full")
    rows = _update_lines(md)
    assert len(rows) >= 9           # every parameter once (one_hidden_ij has 9)
    for old, lr, grad, new in rows:
        old, grad = (Decimal(v.strip("()")) for v in (old, grad))
        new = Decimal(new)
        half = Decimal(1).scaleb(new.as_tuple().exponent) / 2
        assert abs(old - Decimal(lr) * grad - new) <= half, (old, lr, grad, new)


def test_relu_derivative_by_name_with_its_value():
    m = prepare("worked_2331")
    md = render_md(m, m.worked())
    assert r"\begin{cases}" not in md.split("## 5.")[1]         # no cases block after the definitions
    assert r"\mathbf{1}\left[z^{2}_{1} > 0\right]" in md
    # z^2_1 = 0.7·0.343 + 0.1·0 + 0.4·0.699 − 0.5 = 0.0197 (by hand)
    assert r"Here $\mathbf{1}\left[z^{2}_{1} > 0\right] = 1$ since $z^{2}_{1} = 0.0197$ is positive" in md
    assert r"a^{1}_{2} = \max\left(0, z^{1}_{2}\right) = 0" in md    # z^1_2 = −0.079


def test_detail_levels():
    m = prepare("worked_2331")
    w = m.worked()
    full, layer, summary = (render_md(m, w, detail=d) for d in ("full", "layer", "summary"))
    count = lambda doc: len(re.findall(r"^### ", doc, re.M))     # noqa: E731
    assert count(full) == 25 and count(layer) == 6 and count(summary) == 0
    for doc in (full, layer, summary):       # every parameter's number in the table
        assert "| $w^{1}_{32}$ | 0.6 |" in doc


@pytest.mark.skipif(shutil.which("pdflatex") is None or shutil.which("pdfinfo") is None,
                    reason="needs pdflatex and pdfinfo")
def test_default_pdf_of_the_builtin_example_fits_six_pages(tmp_path):
    m = prepare("worked_2331")
    (tmp_path / "d.pdf").write_bytes(compile_pdf(render_tex(m, m.worked())))
    info = subprocess.run(["pdfinfo", str(tmp_path / "d.pdf")], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info)[1])
    assert 1 <= pages <= 6


def test_tex_starts_without_blank_lines():
    m = prepare("worked_2331")
    assert render_tex(m, m.worked()).startswith("\\documentclass")


def test_cli_detail_option(tmp_path):
    assert main(["derive", "worked_2331", "--detail", "summary", "-o", str(tmp_path)]) == 0
    text = (tmp_path / "worked_2331.md").read_text()
    assert "### " not in text and "| $b^{3}_{1}$ |" in text


# The built-in example always; every shipped example in md and tex with
# SYMBACKPROP_ALL_DOCUMENTS=1 (about 4 CPU minutes: too long for every run).
ALL = os.environ.get("SYMBACKPROP_ALL_DOCUMENTS") == "1"
EXAMPLES = ["worked_2331", "worked_2331_numbered", "one_hidden_ij", "softmax_classifier",
            "tanh_net", "bias_extra_weight"] if ALL else ["worked_2331"]
KINDS = ["md", "tex"] if ALL else ["md"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", EXAMPLES)
def test_check_finds_nothing_wrong_in_the_documents(name, kind):
    """symbackprop's own check reads the generated document: no line is incorrect (shown
    factors multiply to the shown product, shown operands give the shown update …)."""
    m = prepare(name)
    text = (render_md if kind == "md" else render_tex)(m, m.worked())
    spec = m
    if m.spec.values.learning_rate is None:     # the document used the default η; say it
        source = example_path(name).read_text()
        spec = prepare(source.replace("[values]\n", f"[values]\nlearning_rate = {LEARNING_RATE}\n", 1))
    verdicts = check(spec, text, kind="markup", isolate=False)
    assert len(verdicts) > 50
    wrong = [(v.line, v.text, v.expected) for v in verdicts if v.verdict == "incorrect"]
    assert wrong == []


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_fragment_is_an_inputable_body(tmp_path):
    assert main(["derive", "worked_2331", "-f", "tex", "--fragment", "-o", str(tmp_path)]) == 0
    body = (tmp_path / "worked_2331.tex").read_text()
    assert "\\documentclass" not in body and "\\begin{document}" not in body
    assert "\\end{document}" not in body and "\\section{Forward pass}" in body
    notes = ("\\documentclass{article}\\usepackage{amsmath,amssymb,tikz,longtable}\n"
             "\\begin{document}\nMy notes.\n\\input{worked_2331}\n\\end{document}\n")
    (tmp_path / "notes.tex").write_text(notes)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "notes.tex"],
                         cwd=tmp_path, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stdout[-800:]


@pytest.mark.parametrize("name, bp4", [
    ("worked_2331", r"\frac{\partial E}{\partial w^{l}_{jk}} = \delta^{l}_{j} \, a^{l-1}_{k}"),
    ("one_hidden_ij", r"\frac{\partial E}{\partial w^{(l)}_{ij}} = \delta^{(l)}_{j} \, a^{(l-1)}_{i}"),
    ("worked_2331_numbered", r"\frac{\partial E_{\mathrm{total}}}{\partial w_{n_{k} \to n_{j}}} = \delta_{n_{j}} \, \mathrm{out}_{n_{k}}"),
])
def test_equations_are_the_key_ones_numbered_in_the_notation(tmp_path, name, bp4):
    assert main(["derive", name, "-f", "tex,md", "--equations", "-o", str(tmp_path)]) == 0
    tex = (tmp_path / f"{name}_equations.tex").read_text()
    md = (tmp_path / f"{name}_equations.md").read_text()
    assert not (tmp_path / f"{name}.tex").exists()
    for doc in (tex, md):
        # one_hidden_ij writes the bias as a weight from a constant 1: BP4 covers it, no BP3
        want = ["BP1", "BP2", "BP4"] if name == "one_hidden_ij" else ["BP1", "BP2", "BP3", "BP4"]
        assert [t for t in ("BP1", "BP2", "BP3", "BP4") if f"\\tag{{{t}}}" in doc] == want
        assert bp4 in doc
    assert "\\begin{gather}" in tex and "\\documentclass" not in tex


CHROMIUM = next((c for c in ("/usr/bin/chromium", "chromium", "chromium-browser") if shutil.which(c)),
                None)
# appended to a copy of the page: after KaTeX, count the displays wider than their box
MEASURE = """<script>
var wide = Array.from(document.querySelectorAll(".math.display, .math.block"))
  .filter(function (el) { return el.scrollWidth > el.clientWidth + 1; }).length;
var out = document.createElement("div"); out.id = "too-wide"; out.textContent = "wide=" + wide;
document.body.appendChild(out);
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium")
@pytest.mark.parametrize("name", ["worked_2331", "softmax_classifier"])
def test_html_displays_fit_at_1200_px(tmp_path, name):
    from symbackprop.render.documents import render_html
    m = prepare(name)
    page = render_html(m, m.worked()).replace("</body>", MEASURE + "</body>")
    (tmp_path / "p.html").write_text(page)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900",
             "--virtual-time-budget=10000", "--dump-dom"]
    dom = subprocess.run([CHROMIUM, *flags, (tmp_path / "p.html").as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert "wide=0" in dom, re.findall(r"wide=\d+", dom)
