"""Issue #15: a fuzz suite over specs, CSVs, claims files and templates.

The properties: no traceback (only the error types the command line turns into one
message), no file outside the output folder, no code execution (a canary file that a
successful escape would create).  CI runs a few hundred examples of each; the long run
is the same suite with more examples:

    SYMBACKPROP_FUZZ_EXAMPLES=20000 pytest -n 0 -p no:randomly tests/test_hostile_fuzz.py

(random exploration instead of CI's fixed seed; the README's "Limits and safety"
gives the counts of the last long run).
"""
import contextlib
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.api import prepare
from symbackprop.core.files import FileError, decode_text
from symbackprop.core.spec import SpecError, parse_spec
from symbackprop.formula.claims import extract
from symbackprop.numeric.data import load_samples_csv
from symbackprop.render import sandbox
from symbackprop.render.environment import render_markdown
from symbackprop.render.sandbox import template_error

LONG = int(os.environ.get("SYMBACKPROP_FUZZ_EXAMPLES", "0"))


def fuzz(n: int):
    """CI: ``n`` examples in a fixed order; the long run: LONG random ones."""
    return settings(max_examples=LONG or n, deadline=None, derandomize=not LONG,
                    suppress_health_check=list(HealthCheck), database=None)


# ---- specs ------------------------------------------------------------------------

BASE = {"name": "f", "inputs": 2, "loss": "half_sse",
        "layer": [{"size": 2, "activation": "sigmoid"}, {"size": 1, "activation": "tanh"}],
        "values": {"x": [0.1, 0.2], "y": [0.5], "learning_rate": 0.1,
                   "W1": [[0.1, 0.2], [0.3, 0.4]], "b1": [0.1, 0.1], "W2": [[0.5, 0.6]],
                   "b2": [0.2]}}
KEYS = ["name", "inputs", "loss", "layer", "values", "notation", "names", "network", "size",
        "activation", "alpha", "x", "y", "W1", "b1", "W2", "b2", "W3", "samples", "frozen",
        "learning_rate", "style", "bias", "batch", "neurons", "w1", "prediction"]
WORDS = ["mse", "sse", "half_sse", "cross_entropy", "binary_cross_entropy", "sigmoid", "tanh",
         "relu", "softmax", "softplus", "elu", "leaky_relu", "identity", "ij", "numbered",
         "extra_weight", "y_hat", "sum", "mean", "w1", "x1", "", "é", "a\nb", "\x00"]
RAW_NUMBERS = ["1e400", "-1e309", "nan", "inf", "-inf", "1e-400", "1e308", "0.0", "-0.0",
               "1" + "0" * 400, "1979-05-27T07:32:00Z", "0x10", "1_000", "4.9e-324", "40.0",
               "-800.0", "1e154", "0." + "1" * 300]


class Raw(str):
    """TOML text written as is (special numbers, dates)."""


scalars = st.one_of(st.integers(-10**30, 10**30), st.integers(-3, 1200),
                    st.floats(allow_nan=False, allow_infinity=False, width=64),
                    st.sampled_from(WORDS), st.text(max_size=8), st.booleans(),
                    st.sampled_from(RAW_NUMBERS).map(Raw))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=12)


def toml_value(v) -> str:
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"


def toml(d: dict) -> str:
    """Top-level scalars and inline tables, then [[layer]] tables when they are tables."""
    lines, tables = [], []
    for k, v in d.items():
        if k == "layer" and isinstance(v, list) and v and all(isinstance(t, dict) for t in v):
            for t in v:
                tables += ["[[layer]]"] + [f"{json.dumps(a)} = {toml_value(b)}" for a, b in t.items()]
        else:
            lines.append(f"{json.dumps(k)} = {toml_value(v)}")
    return "\n".join(lines + tables) + "\n"


@st.composite
def specs(draw):
    d = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "layer", "values", "new"]))
        value = draw(values)
        if where == "top":
            d[draw(st.sampled_from(list(d)))] = value
        elif where == "layer" and isinstance(d.get("layer"), list) and d["layer"]:
            table = d["layer"][draw(st.integers(0, len(d["layer"]) - 1))]
            if isinstance(table, dict):
                table[draw(st.sampled_from(["size", "activation", "alpha", "x"]))] = value
        elif where == "values" and isinstance(d.get("values"), dict):
            d["values"][draw(st.sampled_from(list(d["values"]) + ["samples", "frozen", "w1"]))] = value
        else:
            d[draw(st.sampled_from(KEYS))] = value
    text = toml(d)
    if draw(st.integers(0, 9)) == 0:               # now and then, broken TOML
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=6)) + text[cut:]
    return text


@fuzz(100)
@given(specs())
def test_fuzz_specs(text):
    try:
        spec = parse_spec(text, source="fuzz.toml")
    except SpecError as exc:
        assert "\n" not in str(exc).strip() or "TOML" in str(exc)
        return
    try:
        model = prepare(spec)
        model.evaluate()
        if model.spec.values is not None and model.spec.values.samples:
            model.worked()
    except SpecError:
        pass                      # values missing or inconsistent: a message, not a crash
    except Exception as exc:      # the one other kind the CLI reports (exit 1)
        assert type(exc).__name__ == "NonFinite", repr(exc)


# ---- CSV ----------------------------------------------------------------------------

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                  st.integers(-10**20, 10**20).map(str), st.sampled_from(
                      ["", " ", '"1"', '"', "1e999", "nan", "١", "1_0", "0x1", "\x00", "1,2",
                       "9" * 500, "\u2028", "-", "."]), st.text(max_size=5))


@st.composite
def csv_texts(draw):
    header = draw(st.one_of(st.just(["x1", "x2", "y1"]), st.permutations(["x1", "x2", "y1"]),
                            st.lists(st.sampled_from(["x1", "x2", "y1", "y2", "x3", ""]),
                                     max_size=4)))
    rows = draw(st.lists(st.lists(cells, min_size=max(0, len(header) - 1), max_size=len(header) + 1),
                         max_size=6))
    end = draw(st.sampled_from(["\n", "\r\n", ""]))
    return ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + end


@fuzz(200)
@given(csv_texts(), st.sampled_from(["", "binary_cross_entropy"]))
def test_fuzz_csv(tmp_path_factory, text, loss):
    path = tmp_path_factory.getbasetemp() / "fuzz.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        X, Y = load_samples_csv(path, 2, 1, loss)
    except SpecError:
        return
    assert X.shape[0] == 2 and Y.shape[0] == 1 and X.shape[1] == Y.shape[1] >= 1


# ---- claims files -------------------------------------------------------------------------

markup = st.lists(st.one_of(
    st.sampled_from(["$", "$$", "\\[", "\\]", "\\(", "\\)", "{", "}", "(", ")", "[", "]",
                     "\\begin{equation}", "\\end{equation}", "\\begin{align}", "&", "\\\\",
                     "=", "\\frac{", "```", "\n", "# ", "dE/dw1", "\\partial", "x^2", " "]),
    st.text(max_size=4)), max_size=40).map("".join)


@fuzz(200)
@given(st.one_of(markup.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=60),
                 markup.map(lambda s: s.encode("utf-16"))),
       st.sampled_from(["text", "markdown", "latex"]))
def test_fuzz_claims_files(data, kind):
    try:
        text = decode_text(data, "fuzz.md", "claims file")
    except FileError as exc:
        assert "fuzz.md" in str(exc)
        return
    for claim in extract(text, kind):
        assert isinstance(claim.text, str) and claim.line >= 1


# ---- templates ------------------------------------------------------------------------------

TINY = ('name = "t"\ninputs = 1\nloss = "half_sse"\n[[layer]]\nsize = 1\nactivation = "sigmoid"\n'
        "[values]\nx = [0.5]\ny = [1.0]\nW1 = [[0.3]]\nb1 = [0.1]\n")
ROOTS = ["d", "net", "spec", "nt", "worked", "groups", "params", "d.loss", "net.layers[0]",
         "net.layers[0].W", "d.local[0]", "worked.numbers", "nt.slots", "lipsum", "namespace",
         "range", "self", "loop", "caller", "cycler", "joiner", "dict", "''", "1", "[]"]
ATTRS = ["coeff", "diff", "subs", "replace", "has", "match", "func", "args", "build", "f",
         "term", "tofile", "dump", "format", "__class__", "__globals__", "__init__", "mro",
         "__subclasses__", "loss", "layers", "W", "b", "a", "z", "delta", "activation", "name",
         "value", "gradient", "chain", "forward", "numbers", "items", "keys", "upper", "join",
         "symbol", "tex", "evalf", "xreplace", "rewrite", "applyfunc", "outputs_of", "spec",
         "values", "samples", "exp", "hex", "fromkeys", "__html__", "center", "__mro__"]
FILTERS = ["tex", "num", "prod", "list", "first", "last", "length", "join", "string", "sum",
           "sort", "attr('coeff')", "attr('args')", "map('tex')", "map(attribute='f')",
           "center(40)", "center(10**9)", "format(1)", "replace('', 'ab')", "int", "round(3)",
           "abs", "tojson", "pprint", "reverse", "unique", "batch(2)", "truncate(5)"]


def payload(canary: Path) -> str:
    return f"\"__import__('os').system('touch {canary}')\""


@st.composite
def expressions(draw, canary, depth=0):
    e = draw(st.sampled_from(ROOTS))
    for _ in range(draw(st.integers(0, 3))):
        step = draw(st.integers(0, 5))
        if step <= 1:
            e = f"{e}.{draw(st.sampled_from(ATTRS))}"
        elif step == 2:
            key = draw(st.sampled_from(["0", "-1", payload(canary), '"coeff"', "1:"]))
            e = f"{e}[{key}]"
        elif step == 3:
            args = draw(st.lists(st.sampled_from(
                [payload(canary), "1", "10**9", "params[0]", "net.layers[0]", "d.loss", "''"]),
                max_size=2))
            e = f"{e}({', '.join(args)})"
        elif step == 4:
            e = f"({e})|{draw(st.sampled_from(FILTERS))}"
        elif depth < 1:
            other = draw(expressions(canary, depth + 1))
            op = draw(st.sampled_from(["+", "*", "**", "~", "%", "-", "/", "==", "in"]))
            e = f"({e}) {op} ({other})"
    return e


@st.composite
def templates(draw, canary):
    parts = ["{% set params = net.layers[0].W|list %}"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 11))   # mostly expressions; recursion (slow) rarely
        e = draw(expressions(canary))
        if kind <= 7:
            parts.append("{{ " + e + " }}")
        elif kind <= 9:
            parts.append("{% for i in range(" + draw(st.sampled_from(["3", "30", "10**9"]))
                         + ") %}{{ " + e + " }}{% endfor %}")
        elif kind == 10:
            parts.append("{% macro m(n) %}{{ m(n) if n else " + e + " }}{% endmacro %}{{ m("
                         + draw(st.sampled_from(["0", "1"])) + ") }}")
        else:
            parts.append(draw(st.sampled_from(["{% include 'derivation.md.j2' %}", "{% if %}",
                                               "{{ 1/0 }}", "{% extends 'network.svg.j2' %}",
                                               "{% import 'derivation.md.j2' as x %}"])))
    return "\n".join(parts) + "\n"


@contextlib.contextmanager
def alarm(seconds: float):
    """Stop a render that runs long in this process (the CLI's child has a time limit)."""
    def stop(signum, frame):
        raise TimeoutError
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def template_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("templates")
    model = prepare(TINY)
    return root, model, model.worked()


@fuzz(120)
@given(st.data())
def test_fuzz_templates(template_world, monkeypatch_module, data):
    root, model, worked = template_world
    canary = root / "CANARY"
    text = data.draw(templates(canary))
    folder = root / "tpl"
    folder.mkdir(exist_ok=True)
    (folder / "derivation.md.j2").write_text(text)
    before = set(os.listdir(root))
    try:
        with alarm(3.0):        # the Markdown template alone (the picture's is shipped)
            render_markdown(model.derivation, model.notation, worked, templates=folder)
    except TimeoutError:
        pass
    except Exception as exc:    # what make_documents turns into its one message
        message = template_error(exc, [folder])
        assert message and "\n" not in message.strip()
    assert not canary.exists(), f"code ran: {text}"
    assert set(os.listdir(root)) == before, f"a file appeared: {text}"


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Smaller caps in this process (the same code paths; no gigabyte strings here)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(sandbox, "MAX_SIZE", 10_000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)          # endless includes and macros fail sooner
    yield mp
    sys.setrecursionlimit(limit)
    mp.undo()


def test_fuzz_generators_reach_the_dangerous_parts():
    """The strategies above can produce what they are meant to test (a guard against a
    fuzz suite that silently stopped generating the hostile cases)."""
    assert "coeff" in ATTRS and "tofile" in ATTRS and "__globals__" in ATTRS
    assert Decimal("1e400") > Decimal("1.8e308") and "1e400" in RAW_NUMBERS
