"""The variants as files: key.json, Markdown and HTML exam and key, Moodle XML, LaTeX/PDF,
and QTI for Canvas (through text2qti).

All prose and markup are in ``templates/exercises/*.j2``; this module chooses the
template, the math delimiters and the filters.  Every output is deterministic:
no dates, the PDF with the documents' fixed SOURCE_DATE_EPOCH, the QTI zip with
its entries in a fixed order and a fixed timestamp.
"""
from __future__ import annotations

import io
import re
import json
import zipfile
from decimal import Decimal

import markupsafe
from text2qti.config import Config
from text2qti.qti import QTI
from text2qti.quiz import Quiz

from ..api import prepare
from ..core.formatting import fmt
from ..render.documents import (STATIC, TEX_SYNTAX, compile_pdf, markdown_to_html, render_md,
                                render_tex, tex_escape)
from ..render.environment import environment
from .family import Family
from .generate import Variant
from .questions import half_unit, macros

FORMATS = ("json", "md", "html", "moodle", "pdf", "tex", "qti")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)          # the earliest time a zip entry can carry
MANIFEST_DATE = re.compile(rb"<imsmd:dateTime>[^<]*</imsmd:dateTime>")
FIXED_DATE = b"1980-01-01"
QTI_UNIT = 0.00005       # half of text2qti's last place (it writes ranges with 4 decimals)
MOODLE_TYPE = {"numerical": "numerical", "multichoice": "multichoice", "essay": "essay"}


def _tolerance(x: float) -> str:
    return repr(float(x))


def qti_text(text) -> str:
    """Plain text (a diagnosis, a title) as text2qti's Markdown: its marks escaped."""
    return re.sub(r"([\\`*_\[\]<>$])", r"\\\1", str(text))


def cdata(text) -> str:
    """Text safe inside <![CDATA[ … ]]>."""
    return str(text).replace("]]>", "]]]]><![CDATA[>")


def _env(**options):
    env = environment(**options)
    env.filters.update(tol=lambda x: fmt(x, 2, tex=False), tolerance=_tolerance,
                       half_unit=half_unit, cdata=cdata, qtitext=qti_text, texescape=tex_escape)
    return env


class View:
    """A variant as the templates see it (its questions with their format's type)."""

    def __init__(self, v: Variant, solutions: dict):
        self.id, self.seed, self.student, self.spec = v.id, v.seed, v.student, v.spec
        self.given = v.given()
        self.questions = [_QView(q) for q in v.questions]
        self.solution_md = solutions.get("md", "")
        self.solution_html = solutions.get("html", "")
        self.solution_tex = solutions.get("tex", "")


class _QView:
    def __init__(self, q):
        self.__dict__.update(q.__dict__)
        self.moodle_type = MOODLE_TYPE[q.style]
        self.qti_style = qti_style(q)


def qti_style(q) -> str:
    """The question's style in the QTI quiz: text2qti writes a numerical range to 4 decimal
    places and refuses values under 10⁻⁴, so a numerical question whose tolerance that
    rounding would distort (by more than a tenth) goes to Canvas as multiple choice."""
    if q.style != "numerical":
        return q.style
    tol, key = q.tolerance["abs"], q.answer
    fits = tol >= QTI_UNIT * 10 and min(abs(key - tol), abs(key + tol)) >= 1e-4 \
        and (key - tol) * (key + tol) > 0
    return "numerical" if fits else "multichoice"


def key_json(family: Family, variants: list[Variant]) -> str:
    """key.json: every variant, its spec as TOML and its questions, arrays [target][source]."""
    m = macros()
    out = {"family": family.name, "variants": [{
        "id": v.id, "seed": v.seed, "student": v.student, "spec": v.spec,
        "questions": [{
            "id": q.id, "kind": q.kind, "asks": str(m.asks(q)), "target": q.target,
            "answer": q.answer, "tolerance": q.tolerance,
            "choices": [{"text": str(m.text(c)), "correct": c.correct, "diagnosis": c.diagnosis}
                        for c in q.choices]} for q in v.questions]} for v in variants]}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def solutions(v: Variant, formats) -> dict:
    """The worked derivation of a variant (the essay's grader key) in each format needed."""
    if not any(q.kind == "derivation" for q in v.questions):
        return {}
    model = prepare(v.spec)
    worked = model.worked()
    out = {"md": render_md(model, worked, detail="layer")}
    if "moodle" in formats:
        out["html"] = moodle_html(out["md"])
    if "pdf" in formats or "tex" in formats:
        out["tex"] = render_tex(model, worked, detail="layer", fragment=True)
    return out


def moodle_html(markdown: str) -> str:
    """Markdown as HTML with its math as \\( … \\) and \\[ … \\] (Moodle's MathJax filter)."""
    # lazy, as in render.documents: markdown-it only for the formats that need it
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    inline = lambda self, tokens, idx, options, env: \
        "\\(" + str(markupsafe.escape(tokens[idx].content)) + "\\)"          # noqa: E731
    block = lambda self, tokens, idx, options, env: \
        "\\[" + str(markupsafe.escape(tokens[idx].content)) + "\\]\n"        # noqa: E731
    md.add_render_rule("math_inline", inline)
    md.add_render_rule("math_inline_double", block)
    md.add_render_rule("math_block", block)
    md.add_render_rule("math_block_label", block)
    return md.render(markdown)


def render_all(family: Family, variants: list[Variant], formats) -> dict[str, str | bytes]:
    """File name → contents for the formats asked for."""
    views = [View(v, solutions(v, formats)) for v in variants]
    files: dict[str, str | bytes] = {}
    ctx = dict(family=family, variants=views)
    if "json" in formats:
        files["key.json"] = key_json(family, variants)
    md_env = _env()
    if "md" in formats or "html" in formats:
        exam = md_env.get_template("exercises/exam.md.j2")
        md = {name: exam.render(key=key, **ctx) for name, key in (("exam", False), ("key", True))}
        if "md" in formats:
            files.update({f"{name}.md": text for name, text in md.items()})
        if "html" in formats:
            files.update({f"{name}.html": html_page(family, text) for name, text in md.items()})
    if "moodle" in formats:
        files["moodle.xml"] = md_env.get_template("exercises/moodle.xml.j2").render(**ctx)
    if "tex" in formats or "pdf" in formats:
        tex_env = _env(**TEX_SYNTAX)
        exam = tex_env.get_template("exercises/exam.tex.j2")
        # the macros in the ordinary syntax, passed in: the LaTeX template has its own delimiters
        shared = dict(k=md_env.get_template("exercises/claims.j2").module,
                      p=md_env.get_template("exercises/prompts.j2").module)
        tex = {name: exam.render(key=key, **shared, **ctx)
               for name, key in (("exam", False), ("key", True))}
        if "tex" in formats:
            files.update({f"{name}.tex": text for name, text in tex.items()})
        if "pdf" in formats:
            files.update({f"{name}.pdf": compile_pdf(text) for name, text in tex.items()})
    if "qti" in formats:
        text = md_env.get_template("exercises/qti.txt.j2").render(**ctx)
        files["canvas-qti.txt"] = text
        files["canvas-qti.zip"] = qti_zip(text)
    return files


def html_page(family: Family, markdown: str) -> str:
    """One self-contained page: the Markdown as HTML, the shipped KaTeX inlined."""
    katex = STATIC / "katex"
    env = environment(autoescape=True)
    return env.get_template("derivation.html.j2").render(
        title=family.title, body=markupsafe.Markup(markdown_to_html(markdown)),
        katex_css=markupsafe.Markup((katex / "katex.inline.min.css").read_text(encoding="utf-8")),
        katex_js=markupsafe.Markup((katex / "katex.min.js").read_text(encoding="utf-8")))


def qti_zip(text: str) -> bytes:
    """The text2qti quiz as a QTI zip for Canvas, byte-reproducible: text2qti's own entries
    (manifest, assessment meta and assessment, images) in its order, each stored with a
    fixed timestamp and mode.  text2qti runs in this process with its default settings
    (no config file read or written, nothing asked): its LaTeX becomes Canvas equation
    images, rendered by the Canvas server the quiz is imported into."""
    quiz = Quiz(text, config=Config(), source_name="<exercises>")
    raw = QTI(quiz).zip_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (0o40755 << 16) | 0x10 if info.is_dir() else 0o644 << 16
            entry.create_system = 3
            data = src.read(info.filename)
            if info.filename == "imsmanifest.xml":      # text2qti stamps today's date
                data = MANIFEST_DATE.sub(b"<imsmd:dateTime>" + FIXED_DATE + b"</imsmd:dateTime>", data)
            dst.writestr(entry, data)
    return out.getvalue()
