"""Issue #15: a user's templates (--templates DIR) cannot run code, exhaust the machine
or end in a traceback.

Every known escape route (SymPy methods that sympify a string — coeff, diff, subs,
replace, has, match, … —, callables reachable through attributes, Python internals,
NumPy's tofile) is tried with a payload that would create a canary file; the canary
must never appear and the template's failure is one message naming it and its line.
"""
import os
from pathlib import Path

import jinja2
import pytest

from symbackprop.api import example_path, prepare
from symbackprop.cli import main
from symbackprop.render import documents
from symbackprop.render.documents import DocumentError, make_documents
from symbackprop.render.sandbox import MAX_SIZE, UserSandbox

TINY = """name = "tiny"
inputs = 1
loss = "half_sse"
[[layer]]
size = 1
activation = "sigmoid"
[values]
x = [0.5]
y = [1.0]
W1 = [[0.3]]
b1 = [0.1]
"""

# Each route would run PAYLOAD (create the canary) if the sandbox let it through.
PAYLOAD = "__import__('os').system('touch {canary}')"
ROUTES = {
    "coeff": '{{ d.loss.coeff("P") }}', "diff": '{{ d.loss.diff("P") }}',
    "subs": '{{ d.loss.subs("P", 1) }}', "replace": '{{ d.loss.replace("P", 1) }}',
    "has": '{{ d.loss.has("P") }}', "match": '{{ d.loss.match("P") }}',
    "rewrite": '{{ d.loss.rewrite("P") }}', "series": '{{ d.loss.series("P") }}',
    "is_polynomial": '{{ d.loss.is_polynomial("P") }}', "func": '{{ d.loss.func("P") }}',
    "args_func": '{{ (d.loss.args|first).func("P") }}',
    "attr_filter": '{{ (d.loss|attr("coeff"))("P") }}', "item_lookup": '{{ d.loss["coeff"]("P") }}',
    "selectattr": '{{ [d.loss]|selectattr("coeff")|list }}',
    "map_attribute": '{{ net.layers|map(attribute="f")|first }}',
    "activation_build": '{{ net.layers[0].activation.build("P") }}',
    "layer_f": '{{ net.layers[0].f("P") }}', "loss_term": '{{ net.loss.term("P", "P") }}',
    "outputs_of": '{{ net.layers[0].outputs_of(["P"]) }}',
    "matrix_subs": '{{ net.layers[0].W.subs("P", 1) }}',
    "matrix_applyfunc": '{{ net.layers[0].W.applyfunc("P") }}',
    "matrix_item": '{{ net.layers[0].W["P"] }}', "symbol_call": '{{ params[0]("P") }}',
    "gradient_text": '{{ d.gradient("P") }}', "worked_value_text": '{{ worked.value("P") }}',
    "notation_symbol": '{{ nt.symbol("P") }}', "notation_tex_method": '{{ nt.tex("P") }}',
    "prod_filter": '{{ ["P"]|prod }}', "num_filter": '{{ "P"|num }}',
    "local_f_diff": '{{ d.local[0].f.diff("P") }}', "chain_value_subs":
    '{{ d.chain(params[0]).paths[0][0].value.subs("P", 1) }}',
    "group_gradient": '{{ groups[0].gradient.coeff("P") }}',
    "delta_output": '{{ d.delta_output.subs("P", 1) }}', "evalf_subs": '{{ d.loss.evalf(subs={"P": 1}) }}',
    "loss_expression": '{{ net.loss_expression() }}', "values_of": '{{ d.values_of }}',
    "decimal_method": '{{ spec.values.samples[0].x[0].exp() }}',
    "tofile": '{{ worked.loss.tofile("{canary}") }}', "format_class": '{{ "{0.__class__}".format(d) }}',
    "lipsum_globals": '{{ lipsum.__globals__ }}', "namespace_init": '{{ namespace.__init__.__globals__ }}',
    "mro": '{{ (1).__class__.__mro__[1].__subclasses__() }}', "self_dict": '{{ self.__dict__ }}',
    "caller_globals": '{% macro f() %}{{ caller.__globals__ }}{% endmacro %}{% call f() %}x{% endcall %}',
    "loop_cycle_globals": '{% for i in [1] %}{{ loop.cycle.__func__.__globals__ }}{% endfor %}',
    "dict_fromkeys": '{{ {}.fromkeys("P") }}', "markup_html": '{{ ("P"|safe).__html__() }}',
    "sum_start": '{{ ["P"]|sum(start=d.loss) }}', "sort_mixed": '{{ [d.loss, "P"]|sort }}',
    "equality": '{{ d.loss == "P" }}',
}


@pytest.fixture(scope="module")
def model():
    return prepare(TINY)


@pytest.fixture(scope="module")
def worked(model):
    return model.worked()


def user_dir(tmp_path: Path, text: str, name: str = "derivation.md.j2") -> Path:
    folder = tmp_path / "tpl"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def render(model, worked, folder, formats=("md",), bounded=False):
    """In this process: the sandbox alone (the child's time and memory limits are tested
    in test_memory_and_time_are_bounded and through the CLI)."""
    return make_documents(model, list(formats), "tiny", worked, templates=folder, bounded=bounded)


def route(text: str, canary: Path) -> str:
    payload = PAYLOAD.format(canary=canary)
    return ("{% set params = net.layers[0].W|list %}"
            + text.replace("{canary}", str(canary)).replace('"P"', '"' + payload + '"') + "\n")


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_known_escape_routes_never_run_code(tmp_path, model, worked, name):
    canary = tmp_path / "CANARY"
    folder = user_dir(tmp_path, route(ROUTES[name], canary))
    try:
        files = render(model, worked, folder)
    except DocumentError as exc:
        assert "derivation.md.j2, line 1" in str(exc) or "--templates" in str(exc)
        assert "Traceback" not in str(exc)
    else:                            # rendered: then the payload was only text
        assert "CANARY" not in files["tiny.md"] or "__import__" in files["tiny.md"]
    assert not canary.exists(), f"{name}: the template ran code"


def test_the_attribute_hole_itself_is_closed(model):
    """The first report: a SymPy method with a string argument went through sympify."""
    env = UserSandbox()
    t = env.from_string('{{ e.coeff("1") }}')
    with pytest.raises(jinja2.sandbox.SecurityError, match="coeff"):
        t.render(e=model.derivation.loss)
    assert env.from_string("{{ e.args|length }}").render(e=model.derivation.loss)


RESOURCES = {
    "range": ("{% for i in range(10**9) %}{% endfor %}", "above the limit"),
    "string_repeat": ("{{ 'a' * 10**10 }}", "repetition"),
    "list_repeat": ("{{ [1] * 10**9 }}", "repetition"),
    "center_filter": ("{{ 'a'|center(3000000000) }}", "above the limit"),
    "center_method": ("{{ 'a'.center(3000000000) }}", "above the limit"),
    "format_width": ("{{ '%0999999999d'|format(1) }}", "format width"),
    "percent_width": ("{{ '%0999999999d' % 1 }}", "format width"),
    "str_format_width": ("{{ '{:>999999999}'.format(1) }}", "format width"),
    "lipsum": ("{{ lipsum(10**9) }}", "above the limit"),
    "replace_blowup": ("{{ ('x' * 1000)|replace('', 'y' * 1000) }}", "replacement"),
    "big_power": ("{{ 2 ** 900000 }}", "power"),
    "repeated_squaring": ("{% set ns = namespace(x=3) %}{% for i in range(40) %}"
                          "{% set ns.x = ns.x * ns.x %}{% endfor %}", "product"),
    "float_overflow": ("{{ 10.0 ** 400 }}", "too large"),
    "batch": ("{{ [1]|batch(10**9, 0)|list }}", "above the limit"),
}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_unbounded_operations_are_refused_with_the_line(tmp_path, model, worked, name):
    text, reason = RESOURCES[name]
    folder = user_dir(tmp_path, "first line\n" + text + "\n")
    with pytest.raises(DocumentError) as err:
        render(model, worked, folder)
    assert "derivation.md.j2, line 2" in str(err.value) and reason in str(err.value)


def test_memory_and_time_are_bounded(tmp_path, model, worked, monkeypatch):
    """What the caps cannot see (string doubling with ~, nested loops) meets the child's
    memory and time limits."""
    monkeypatch.setattr(documents, "TEMPLATE_MEMORY_MB", 300)
    folder = user_dir(tmp_path, "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                                "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}\n")
    with pytest.raises(DocumentError, match="memory"):
        render(model, worked, folder, bounded=True)
    monkeypatch.setattr(documents, "TEMPLATE_SECONDS", 1.5)
    folder = user_dir(tmp_path, "{% for i in range(100000) %}{% for j in range(100000) %}"
                                "{% endfor %}{% endfor %}\n")
    with pytest.raises(DocumentError, match="time limit of 1.5 s"):
        render(model, worked, folder, bounded=True)


ERRORS = {
    "undefined_filter_argument": ("ok\n{{ 1|round(nope) }}\n", "line 2", "'nope' is undefined"),
    "division_by_zero": ("{{ 1/0 }}\n", "line 1", "division by zero"),
    "recursive_macro": ("{% macro f() %}{{ f() }}{% endmacro %}\n{{ f() }}\n", "line ", "recursion"),
    "self_include": ("a\n\n{% include 'derivation.md.j2' %}\n", "line 3", "recursion"),
    "self_extends": ("{% extends 'derivation.md.j2' %}\n", "line 1", "recursion"),
    "syntax": ("a\nb\n{% if %}\n", "line 3", "syntax error"),
    "missing_include": ("{% include 'nope.j2' %}\n", "line 1", "no template named 'nope.j2'"),
    "undefined_variable": ("\n{{ nothing.here }}\n", "line 2", "'nothing' is undefined"),
    "type_error": ("{{ net.layers + 1 }}\n", "line 1", "TypeError"),
    "unknown_filter": ("{{ 1|nofilter }}\n", "line 1", "No filter named 'nofilter'"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_every_template_error_is_one_message_with_name_and_line(tmp_path, model, worked, name):
    text, line, what = ERRORS[name]
    with pytest.raises(DocumentError) as err:
        render(model, worked, user_dir(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert f"template derivation.md.j2, {line}" in message and what in message


def test_a_failing_template_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    folder = user_dir(tmp_path, "{{ 1/0 }}\n")
    out = tmp_path / "out"
    assert main(["derive", "--templates", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 1: division by zero" in err
    assert not out.exists()


def test_sizes_just_under_the_caps_still_work(tmp_path, model, worked):
    folder = user_dir(tmp_path, "{{ ('ab' * 1000)|length }} {{ range(1000)|sum }} "
                                "{{ '%5d'|format(3) }} {{ d.loss|tex }} {{ worked.loss|num }}\n")
    md = render(model, worked, folder)["tiny.md"]
    assert md.startswith("2000 499500     3 ") and MAX_SIZE >= 10**6


def test_shipped_templates_render_identically_in_the_sandbox(tmp_path):
    """(test_documents covers worked_2331_numbered in float64; here the ij notation with
    the bias as an extra weight and ŷ, in exact arithmetic)"""
    model = prepare(example_path("one_hidden_ij"))
    (tmp_path / "empty").mkdir()
    w = model.worked(exact=True)
    plain = make_documents(model, ["md", "tex"], "x", w)
    assert plain == make_documents(model, ["md", "tex"], "x", w, templates=tmp_path / "empty")


def test_a_template_that_is_a_fifo_or_a_device_is_refused(tmp_path, model, worked):
    folder = tmp_path / "tpl"
    folder.mkdir()
    os.symlink("/dev/zero", folder / "derivation.md.j2")
    with pytest.raises(DocumentError, match="is a device"):
        render(model, worked, folder)
    os.unlink(folder / "derivation.md.j2")
    os.mkfifo(folder / "derivation.md.j2")
    with pytest.raises(DocumentError, match="FIFO"):
        render(model, worked, folder)
