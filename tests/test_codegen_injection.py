"""Issue #23: user input embedded in generated files is escaped for its target language.

A spec's file path reaches the docstring of the module `codegen` writes; a spec's
`name` and its numbers reach the Markdown, LaTeX, SVG and HTML documents.  Every
generated file must compile (or parse) and run no code, whatever the name.
"""
import ast
import importlib.util
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from symbackprop.api import SpecError, prepare
from symbackprop.cli import main
from symbackprop.core.spec import parse_spec
from symbackprop.numeric.codegen import generate
from symbackprop.render.documents import make_documents

SPEC = """inputs = 1
loss = "half_sse"
name = "net"
[[layer]]
size = 1
activation = "sigmoid"
"""

HOSTILE_PATHS = [
    'x"""+__import__("os").system("touch PWNED")+""".toml',   # the example
    "x'''+__import__('os').system('touch PWNED')+'''.toml",
    r"a\N{x}\u12\x.toml",                                      # escapes that do not compile
    "ends with a backslash\\.toml",
    'quote" .toml',
    "new\nline\r\x0b\x0c.toml",
    "\u2028\u2029\x85\x00\x7f.toml".replace("\x00", ""),
    "ünïcødé €.toml",
]

ALLOWED_TOP = (ast.Import, ast.Assign, ast.FunctionDef)


def assert_inert_module(text: str, doc_contains: str | None = None):
    """The generated module compiles, and its top level is only the docstring, imports
    of numpy, constant assignments and function definitions: importing it runs nothing."""
    tree = ast.parse(text)
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    for node in body[1:]:
        assert isinstance(node, ALLOWED_TOP), ast.dump(node)[:200]
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["numpy"]
        if isinstance(node, ast.Assign):
            ast.literal_eval(node.value)        # a literal: no call, no name
    doc = ast.get_docstring(tree, clean=False)
    if doc_contains is not None:
        assert doc_contains in doc
    return doc


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hostile_spec_paths_give_inert_importable_modules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = HOSTILE_PATHS + [os.fsdecode(b"bad-\xff\xfe-bytes.toml")]   # not UTF-8 on disk
    for i, name in enumerate(names):
        spec = tmp_path / name
        spec.write_text(SPEC)
        out = tmp_path / f"grads_{i}.py"
        assert main(["codegen", str(spec), "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8")
        assert_inert_module(text)
        module = load(out, f"grads_{i}")
        assert module.__doc__ is not None and str(spec) in module.__doc__
        assert callable(module.gradients)
    assert not (tmp_path / "PWNED").exists()


@pytest.fixture(scope="module")
def model():
    return prepare(SPEC)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.text(st.characters(blacklist_categories=()), max_size=40))
def test_any_source_text_stays_inside_the_docstring(model, source):
    text = generate(model.derivation, source=source)
    code = compile(text, "<generated>", "exec")
    namespace: dict = {}
    exec(code, namespace)                 # noqa: S102  (the AST check below proves it inert)
    assert_inert_module(text)
    assert source in namespace["__doc__"]


@settings(max_examples=150, deadline=None)
@given(name=st.one_of(st.text(max_size=70),
                      st.from_regex(r"[A-Za-z0-9_.\-]{1,65}", fullmatch=True)))
def test_spec_names_are_refused_or_file_name_safe(name):
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    text = SPEC.replace('name = "net"', "name = " + "".join(
        c if c.isprintable() else f"\\U{ord(c):08x}" for c in quoted))
    if any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return                            # not expressible in TOML text at all
    try:
        spec = parse_spec(text)
    except SpecError as err:
        assert "name" in str(err)
        return
    assert spec.name == name
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)
    assert len(name) <= 64 and name[0] not in ".-"      # no hidden files, no options


VALID_ODD_NAMES = ["_..-", "9" * 64]


@pytest.mark.parametrize("name", VALID_ODD_NAMES)
def test_odd_valid_names_render_every_format(name, tmp_path):
    m = prepare(SPEC.replace('name = "net"', f'name = "{name}"'))
    files = make_documents(m, ["md", "tex"], m.spec.name, None, None, 6, None)
    ET.fromstring(files[f"{name}.svg"])               # well-formed XML
    tex = files[f"{name}.tex"]
    assert "\\texttt{" + name.replace("_", "\\_") + "}" in tex
    assert tex.count("{") == tex.count("}")
    assert f"]({name}.svg)" in files[f"{name}.md"]
    assert_inert_module(generate(m.derivation, source=name))
