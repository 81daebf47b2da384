"""Issue #23: user input embedded in generated files is escaped for its target language.

A spec's file path reaches the docstring of the module `codegen` writes; a spec's
`name` and its numbers reach the Markdown, LaTeX, SVG and HTML documents.  Every
generated file must compile (or parse) and run no code, whatever the name.
"""
import ast
import contextlib
import importlib.util
import io
import json
import os
import re
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


# ---- values: every number either refused at the spec (naming the key), or computed --------
EXTREMES = ["1e309", "-1e400", "1" + "0" * 400, "1e-400", "5e-324", "1e308", "-1e200", "1e155",
            "-0.0", "0"]
NET2 = ('inputs = 2\nloss = "{loss}"\nname = "v"\n[[layer]]\nsize = 2\nactivation = "{hidden}"\n'
        '[[layer]]\nsize = {n}\nactivation = "{out}"\n')
COMBOS = [("tanh", "sigmoid", "binary_cross_entropy", 1), ("relu", "softmax", "cross_entropy", 2),
          ("elu", "softplus", "cross_entropy", 1), ("leaky_relu", "identity", "half_sse", 1)]


def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"bare {constant} in JSON")
    return json.loads(text, parse_constant=refuse)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-4, 4).map(repr), min_size=13, max_size=13),
       extremes=st.lists(st.tuples(st.integers(0, 12), st.sampled_from(EXTREMES)), max_size=2),
       combo=st.sampled_from(COMBOS))
def test_any_values_are_refused_with_their_key_or_give_strict_json(values, extremes, combo,
                                                                   tmp_path_factory):
    for i, v in extremes:
        values[i] = v
    hidden, out, loss, n = combo
    v = values
    W2 = f"[[{v[8]}, {v[9]}], [{v[10]}, {v[11]}]]" if n == 2 else f"[[{v[8]}, {v[9]}]]"
    b2 = f"[{v[12]}, 0]" if n == 2 else f"[{v[12]}]"
    text = (NET2.format(loss=loss, hidden=hidden, out=out, n=n) +
            f"[values]\nx = [{v[0]}, {v[1]}]\ny = {'[1, 0]' if n == 2 else '[1]'}\n"
            f"W1 = [[{v[2]}, {v[3]}], [{v[4]}, {v[5]}]]\nb1 = [{v[6]}, {v[7]}]\n"
            f"W2 = {W2}\nb2 = {b2}\nlearning_rate = 0.5\n")
    path = tmp_path_factory.mktemp("values") / "v.toml"
    path.write_text(text)
    out_, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_), contextlib.redirect_stderr(err):
        status = main(["eval", str(path), "--json"])
    if status == 0:
        result = _strict(out_.getvalue())
        assert isinstance(result["loss"], float)
    elif status == 2:                 # refused at the spec, naming the key
        assert re.search(r"key `values\.\w+(\[\d+\])*`: .*float64", err.getvalue()), err.getvalue()
    else:                             # computed, but a result is not a float64 number
        assert status == 1 and "in --json) is " in err.getvalue(), err.getvalue()
    assert "Traceback" not in err.getvalue()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.sampled_from(["0.5", "-1e-300", "1e155", "-3.25", "5e-324", "1e300"]),
                       min_size=4, max_size=4))
def test_documents_with_any_values_parse(values):
    m = prepare(SPEC + f"[values]\nx = [{values[0]}]\ny = [{values[1]}]\nW1 = [[{values[2]}]]\n"
                f"b1 = [{values[3]}]\n")
    files = make_documents(m, ["md", "tex"], "net", m.worked(), None, 6, None)
    ET.fromstring(files["net.svg"])
    assert files["net.tex"].count("{") == files["net.tex"].count("}")
    assert not re.search(r"\bnan\b", files["net.md"], re.IGNORECASE)
