"""Notation styles: symbols line up with the texts users read, documents use
the chosen symbols everywhere, and bad [notation]/[names] are clear errors."""
import json
import math
import re

import mpmath
import pytest

from conftest import spec_text
from symbackprop.cli import main
from symbackprop.api import example_path, prepare
from symbackprop.core.spec import SpecError, parse_spec

NUMBERED = example_path("worked_2331_numbered")


def names_in(nt, expr):
    return {nt.name(s) for s in expr.free_symbols}


def test_numbered_source_major_matches_the_post():
    # ../shared/seeds/004: net_{n3} = w1 x1 + w4 x2 + b1, net_{n9} = w16 out_{n6} + … + b7
    m = prepare(NUMBERED)
    d, nt, (l1, l2, l3) = m.derivation, m.notation, m.network.layers
    assert names_in(nt, d.forward(l1, 0)[0]) == {"w1", "w4", "b1", "x1", "x2"}
    assert names_in(nt, d.forward(l2, 0)[0]) == {"w7", "w10", "w13", "b4", "out_n3", "out_n4", "out_n5"}
    assert names_in(nt, d.forward(l3, 0)[0]) == {"w16", "w17", "w18", "b7", "out_n6", "out_n7", "out_n8"}
    assert nt.latex[l3.z[0]] == r"\mathrm{net}_{n_{9}}" and nt.loss == r"E_{\mathrm{total}}"
    assert sorted(nt.slots, key=lambda n: (n[0], int(n[1:]))) == \
        [f"b{i}" for i in range(1, 8)] + [f"w{i}" for i in range(1, 19)]
    # the post's chain for w7 goes through out_{n3} and w16: ∂net_{n6}/∂w7 = out_{n3}
    path = d.chain(nt.symbol("w7")).paths[0]
    assert nt.name(path[-1].value) == "out_n3" and nt.name(path[2].value) == "w16"


def test_numbered_target_major_and_extra_weight():
    text = spec_text([2, 2, 1], ["sigmoid", "sigmoid"], "half_sse",
                     '[notation]\nstyle = "numbered"\nnumbering = "target-major"\n')
    m = prepare(text)
    W1 = m.network.layers[0].W
    assert [m.notation.name(W1[0, 0]), m.notation.name(W1[0, 1]), m.notation.name(W1[1, 0])] == ["w1", "w2", "w3"]
    text = spec_text([2, 2, 1], ["sigmoid", "sigmoid"], "half_sse",
                     '[notation]\nstyle = "numbered"\nbias = "extra_weight"\n')
    m = prepare(text)
    l1, l2 = m.network.layers
    nt = m.notation
    # source-major; the constant input 1 is the last source of each layer
    assert [nt.name(s) for s in (l1.W[0, 0], l1.W[1, 0], l1.W[0, 1], l1.W[1, 1], l1.b[0], l1.b[1])] == \
        ["w1", "w2", "w3", "w4", "w5", "w6"]
    assert [nt.name(s) for s in (l2.W[0, 0], l2.W[0, 1], l2.b[0])] == ["w7", "w8", "w9"]


def test_ij_style_indexes_from_source_to_target_and_base_0():
    m = prepare(spec_text([2, 2], ["tanh"], "sse", '[notation]\nstyle = "ij"\nindex_base = 0\n'))
    W, nt = m.network.layers[0].W, m.notation
    assert nt.latex[W[0, 1]] == "w^{(1)}_{10}"       # from input 1 to neuron 0
    assert nt.latex[m.network.x[0]] == "x_{0}" and nt.latex[m.network.layers[0].z[1]] == "z^{(1)}_{1}"
    m = prepare(spec_text([2, 2], ["tanh"], "sse", "[notation]\nbias = \"extra_weight\"\n"))
    assert m.notation.latex[m.network.layers[0].b[1]] == "w^{1}_{23}"   # weight from the constant input


STYLES = {
    "layered": ("", [r"w^{l}_{jk}", r"\delta^{l}_{j}", r"z^{l}_{j} = \sum_{k}"], [r"w^{(l)}"]),
    "ij": ('style = "ij"\npre_activation = "net"\nactivation = "out"\nloss = "L"\n',
           [r"w^{(l)}_{ij}", r"\mathrm{net}^{(l)}_{j} = \sum_{i}", r"\partial \mathcal{L}", r"\delta^{(l)}_{i}"],
           [r"w^{l}_{jk}", r"z^{", r"a^{"]),
    "numbered": ('style = "numbered"\n', [r"w_{n_{k} \to n_{j}}", r"\mathrm{net}_{n_{3}} = w_{1}", r"E_{\mathrm{total}}",
                                          r"\delta_{n_{9}}", r"w_{n_{1} \to n_{3}} = w_{1}"],
                 [r"w^{l}", r"z^{", r"a^{", r"^{l}"]),
}


@pytest.mark.parametrize("style", STYLES)
def test_document_uses_the_styles_symbols_everywhere(style, tmp_path):
    notation, present, absent = STYLES[style]
    text = example_path("worked_2331").read_text() + ("\n[notation]\n" + notation if notation else "")
    spec = tmp_path / "net.toml"
    spec.write_text(text)
    assert main(["derive", str(spec), "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "worked_2331.md").read_text()
    for needle in present:
        assert needle in doc, needle
    for needle in absent:
        # a symbol on its own, not the tail of another (\delta^{ is not a^{)
        assert not re.search(r"(?<![A-Za-z\\])" + re.escape(needle), doc), needle


def post_by_hand():
    """The worked-example post's network computed by hand, from its own equations
    (weights numbered source-major, biases b1…b7), in plain Python."""
    x1, x2, y = 0.23, 0.55, 0.01
    w = dict(zip(range(1, 19), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] * 2))
    b = dict(zip(range(1, 8), [0.1, -0.4, 0.3, -0.5, 0.5, 0.6, -0.7]))
    relu = lambda v: max(0.0, v)
    net = {3: w[1] * x1 + w[4] * x2 + b[1], 4: w[2] * x1 + w[5] * x2 + b[2], 5: w[3] * x1 + w[6] * x2 + b[3]}
    out = {k: relu(v) for k, v in net.items()}
    for n, (i, bias) in zip((6, 7, 8), ((7, 4), (8, 5), (9, 6))):
        net[n] = w[i] * out[3] + w[i + 3] * out[4] + w[i + 6] * out[5] + b[bias]
        out[n] = relu(net[n])
    net[9] = w[16] * out[6] + w[17] * out[7] + w[18] * out[8] + b[7]
    out[9] = 1 / (1 + math.exp(-net[9]))
    E = 0.5 * (y - out[9]) ** 2
    dE_dout9, dout9_dnet9 = out[9] - y, out[9] * (1 - out[9])
    d9 = dE_dout9 * dout9_dnet9
    grads = {"w16": d9 * out[6], "w17": d9 * out[7], "w18": d9 * out[8], "b7": d9}
    d = {n: d9 * w[16 + n - 6] * (net[n] > 0) for n in (6, 7, 8)}
    grads["w7"] = d[6] * out[3]
    d3 = (w[7] * d[6] + w[8] * d[7] + w[9] * d[8]) * (net[3] > 0)
    grads["w1"] = d3 * x1
    one_path_w1 = dE_dout9 * dout9_dnet9 * w[16] * 1 * w[7] * 1 * x1   # the post's single chain
    return net, out, E, (dE_dout9, dout9_dnet9), grads, one_path_w1


def test_worked_example_post_reproduced_and_its_mistakes_shown(tmp_path, capsys):
    net, out, E, factors, grads, one_path_w1 = post_by_hand()
    # The hand computation reproduces the post's printed forward values ...
    for n, printed in {3: 0.343, 4: 0, 5: 0.699, 6: 0.0197, 7: 1.1239, 8: 1.3281}.items():
        assert abs(out[n] - printed) < 5e-5
    assert abs(net[9] - 1.4082) < 5e-5 and abs(out[9] - 0.8035) < 5e-5
    assert abs(E - 0.3148) < 5e-5 and abs(factors[0] - 0.7935) < 5e-5 and abs(factors[1] - 0.1579) < 5e-5
    assert abs(grads["w16"] - 0.0025) < 5e-5
    # ... and symbackprop agrees with it, parameter by parameter
    assert main(["eval", str(NUMBERED), "--json"]) == 0
    out_json = json.loads(capsys.readouterr().out)
    assert abs(out_json["loss"] - E) < 1e-12
    for name, g in grads.items():
        assert abs(out_json["by_name"][name]["gradient"] - g) < 1e-12, name
    # The post's mistakes: its dE/dw1 chain keeps one path of three; its
    # w7_new = 0.699 is not 0.7 - 0.01 * 0.03008; its dE/dw17 = 0.0850 is not δ9·out_{n7}.
    assert abs(grads["w1"] - one_path_w1) > 0.04
    w7_new = out_json["by_name"]["w7"]["updated"]
    assert abs(w7_new - (0.7 - 0.01 * grads["w7"])) < 1e-15 and round(w7_new, 4) == 0.6997
    assert abs(out_json["by_name"]["w17"]["gradient"] - 0.0850) > 0.05
    assert main(["derive", str(NUMBERED), "--param", "w1", "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "worked_2331_numbered_w1.md").read_text()
    assert "reaches the loss along 3 paths" in doc and doc.count(r"\text{path") == 3
    assert r"### $\partial E_{\mathrm{total}} / \partial w_{2}$" not in doc


def test_exact_worked_example_digit_for_digit(tmp_path):
    assert main(["derive", str(NUMBERED), "--exact", "--digits", "30", "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "worked_2331_numbered.md").read_text()
    # the net inputs are exact decimals, shown in full
    for row in ["| $n_{3}$ | 0.343 | 0.343 |", "| $n_{4}$ | -0.079 | 0 |", "| $n_{6}$ | 0.0197 | 0.0197 |",
                "| $n_{7}$ | 1.1239 | 1.1239 |", "| $n_{8}$ | 1.3281 | 1.3281 |", "| $n_{9}$ | 1.4082 |"]:
        assert row in doc, row
    # E_total to 30 digits, against mpmath at 60 digits
    with mpmath.workdps(60):
        o9 = 1 / (1 + mpmath.exp(-mpmath.mpf("1.4082")))
        E = mpmath.nstr((o9 - mpmath.mpf("0.01")) ** 2 / 2, 30)
    assert f"E_{{\\mathrm{{total}}}} = {E}$$" in doc


def test_exact_values_match_mpmath():
    m = prepare(NUMBERED)
    w = m.worked(exact=True)
    o9 = m.network.layers[2].a[0]
    with mpmath.workdps(60):
        expected = 1 / (1 + mpmath.exp(-mpmath.mpf("1.4082")))
        assert abs(mpmath.mpf(str(w.numbers[o9])) - expected) < mpmath.mpf("1e-45")
    assert str(w.numbers[m.network.layers[0].z[0]]) == "343/1000"


def test_param_digits_and_unknown_param(tmp_path, capsys):
    assert main(["derive", str(NUMBERED), "--param", "w7", "--digits", "3", "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "worked_2331_numbered_w7.md").read_text()
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial w_{7}}" in doc and "0.0301" in doc
    assert "## 2. Forward pass" not in doc and doc.count("### ") == 1
    assert main(["derive", str(NUMBERED), "--param", "w99", "-o", str(tmp_path)]) == 2
    assert "w99" in capsys.readouterr().err
    assert main(["derive", str(example_path("worked_2331")), "--param", "w^2_13", "-o", str(tmp_path)]) == 0


@pytest.mark.parametrize("table, key", [
    ('[notation]\nstyle = "numberd"\n', "notation.style"),
    ('[notation]\nstyles = "ij"\n', "notation.styles"),
    ('[notation]\nnumbering = "source-major"\n', "notation.numbering"),
    ('[notation]\nindex_base = 2\n', "notation.index_base"),
    ('[notation]\npre_activation = "a"\n', "notation.pre_activation"),
    ('[notation]\npre_activation = "h"\nactivation = "h"\n', "notation.activation"),
    ('[names]\nW1 = [["x1", "w2"]]\n', "names.W1[0][0]"),
    ('[names]\nW1 = [["sigma", "w2"]]\n', "names.W1[0][0]"),
    ('[names]\nW1 = [["w-1", "w2"]]\n', "names.W1[0][0]"),
    ('[names]\nW1 = [["w1"]]\n', "names.W1[0]"),
    ('[names]\nb1 = ["b1", "b1", "b1"]\n', "names.b1"),
    ('[names]\nW3 = [["w1"]]\n', "names.W3"),
    ('[names]\nneurons = [["i1", "i2"], ["h1"]]\n', "names.neurons"),
    ('[names]\nneurons = [["i1", "i1"], ["h1"], ["o"]]\n', "names.neurons"),
    ('[names]\nneurons = [["i1", "i2"], ["h1"], ["o"]]\nb1 = ["h1"]\n', "names.b1"),
])
def test_bad_notation_or_names_names_the_key(table, key):
    base = spec_text([2, 1, 1], ["tanh", "sigmoid"], "half_sse")
    with pytest.raises(SpecError) as err:
        parse_spec(base + table, source="net.toml")
    assert f"net.toml: key `{key}`" in str(err.value)


def test_numbered_name_clash_is_an_error():
    text = spec_text([2, 1], ["tanh"], "sse", '[notation]\nstyle = "numbered"\n[names]\nb1 = ["w1"]\n')
    with pytest.raises(SpecError, match="names"):
        prepare(text)
    text = spec_text([2, 1], ["tanh"], "sse", '[notation]\nstyle = "numbered"\n'
                     '[names]\nneurons = [["i1", "i2"], ["w2"]]\n')
    with pytest.raises(SpecError, match="'w2'"):
        prepare(text)


def test_four_digit_document_lines_up_with_the_post(tmp_path):
    # --digits 4 prints the post's own 4-digit chain factors; an update keeps enough
    # digits to show its step (the post's w16_new = 0.699975; its w7_new = 0.699 is wrong)
    # (--detail full: every parameter's section; the post's product (out − y)·σ' is δ_n9)
    assert main(["derive", str(NUMBERED), "--digits", "4", "--detail", "full",
                 "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "worked_2331_numbered.md").read_text()
    net, out, E, (f1, f2), grads, _ = post_by_hand()
    assert f"{f1:.4g}" == "0.7935" and f"{f2:.4g}" == "0.1579" and f"{f1 * f2:.4g}" == "0.1253"
    assert r"\left(\mathrm{out}_{n_{9}} - y\right) = 0.1253" in doc and r"\max\left(0, \mathrm{net}_{n_{6}}\right) = 0.0197" in doc
    assert r"\frac{\partial E_{\mathrm{total}}}{\partial w_{16}} = \mathrm{out}_{n_{6}} \cdot \delta_{n_{9}} = 0.002468" in doc
    assert f"| $w_{{16}}$ | 0.7 | 0.002468 | {0.7 - 0.01 * grads['w16']:.6f} |" in doc
    assert "| $w_{7}$ | 0.7 | 0.03008 | 0.6997 |" in doc
    assert r"E_{\mathrm{total}} = 0.3148$$" in doc


def test_param_with_a_two_digit_index_names_a_clean_file(tmp_path):
    """w^1_{1,11} (12 inputs): the plain name has a comma; the file name does not."""
    from conftest import spec_text
    spec = tmp_path / "wide.toml"
    spec.write_text(spec_text([12, 2, 1], ["sigmoid", "sigmoid"], "half_sse"))
    assert main(["derive", str(spec), "--param", "w^1_{1,11}", "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "wide_w1_1_11.md").read_text()
    assert "is the weight from input 11 to neuron 1 of layer 1" in doc
    assert r"\delta^{1}_{1} \cdot x_{11}" in doc
