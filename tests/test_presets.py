"""Notation presets (issue #14): the documents in Nielsen's, Bishop's, Goodfellow's, the
course's (Ng) and CS231n's letters.

The key equations are written here from the sources themselves (Nielsen, Neural Networks
and Deep Learning ch. 2, BP1-BP4; Bishop, PRML eqs. 5.53-5.56; Goodfellow et al., Deep
Learning, Algorithm 6.4 without the regulariser; Ng's six backward equations; the CS231n
case study's dscores, dW, db) and must appear verbatim in the md and tex output.  The
worked numbers are checked against a NumPy forward/backward pass written here, and
symbackprop's own check must flag no line of any preset's documents."""
from __future__ import annotations

import numpy as np
import pytest

from symbackprop import check, prepare
from symbackprop.cli import main
from symbackprop.cli.parser import PRESET_NAMES
from symbackprop.core.errors import SpecError
from symbackprop.core.naming import PRESETS
from symbackprop.core.spec import parse_spec
from symbackprop.render.documents import render_md, render_tex

W1, B1 = [[0.1, -0.2], [0.3, 0.4]], [0.05, -0.05]
X = [0.5, -1.0]


def spec(preset, acts, loss, y, w2, b2, extra=""):
    """A 2-2-n network with fixed numbers in ``preset``'s notation."""
    layers = "".join(f'[[layer]]\nsize = {n}\nactivation = "{a}"\n' for a, n in acts)
    return (f'name = "{preset}_net"\ninputs = 2\nloss = "{loss}"\n{layers}[values]\n'
            f"x = {X}\ny = {y}\nW1 = {W1}\nb1 = {B1}\nW2 = {w2}\nb2 = {b2}\n"
            f'learning_rate = 0.1\n[notation]\npreset = "{preset}"\n{extra}')


SPECS = {
    "nielsen": spec("nielsen", [("sigmoid", 2), ("sigmoid", 1)], "half_sse", [0.25], [[0.6, -0.7]], [0.1]),
    "bishop": spec("bishop", [("tanh", 2), ("identity", 1)], "half_sse", [0.25], [[0.6, -0.7]], [0.1]),
    "goodfellow": spec("goodfellow", [("tanh", 2), ("sigmoid", 1)], "binary_cross_entropy", [1.0],
                       [[0.6, -0.7]], [0.1]),
    "ng": spec("ng", [("tanh", 2), ("sigmoid", 1)], "binary_cross_entropy", [1.0], [[0.6, -0.7]], [0.1]),
    "cs231n": spec("cs231n", [("relu", 2), ("softmax", 3)], "cross_entropy", [0.0, 1.0, 0.0],
                   [[0.6, -0.7], [0.2, 0.5], [-0.3, 0.1]], [0.1, -0.1, 0.0]),
}

# The sources' equations, as the books write them (in LaTeX).
KEY_EQUATIONS = {
    "nielsen": [r"\delta^L = \nabla_a C \odot \sigma'(z^L) \tag{BP1}",
                r"\delta^l = ((w^{l+1})^T \delta^{l+1}) \odot \sigma'(z^l) \tag{BP2}",
                r"\frac{\partial C}{\partial b^l_j} = \delta^l_j \tag{BP3}",
                r"\frac{\partial C}{\partial w^l_{jk}} = a^{l-1}_k \delta^l_j \tag{BP4}"],
    "bishop": [r"\frac{\partial E_n}{\partial w_{ji}} = \delta_j z_i \tag{5.53}",
               r"\delta_k = y_k - t_k \tag{5.54}",
               r"\delta_j \equiv \frac{\partial E_n}{\partial a_j} = \sum_k \frac{\partial E_n}"
               r"{\partial a_k} \frac{\partial a_k}{\partial a_j} \tag{5.55}",
               r"\delta_j = h'(a_j) \sum_k w_{kj} \delta_k \tag{5.56}"],
    "goodfellow": [r"g \leftarrow \nabla_{\hat{y}} J = \nabla_{\hat{y}} L(\hat{y}, y)",
                   r"\textbf{for } k = l, l-1, \dots, 1 \textbf{ do}",
                   r"\quad g \leftarrow \nabla_{a^{(k)}} J = g \odot f'(a^{(k)})",
                   r"\quad \nabla_{b^{(k)}} J = g",
                   r"\quad \nabla_{W^{(k)}} J = g h^{(k-1)\top}",
                   r"\quad g \leftarrow \nabla_{h^{(k-1)}} J = W^{(k)\top} g"],
    "ng": [r"dZ^{[2]} = A^{[2]} - Y", r"dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}",
           r"db^{[2]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[2](i)}",
           r"dZ^{[1]} = W^{[2]T} dZ^{[2]} * g^{[1]\prime}(Z^{[1]})",
           r"dW^{[1]} = \frac{1}{m} dZ^{[1]} X^T", r"db^{[1]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[1](i)}"],
    "cs231n": [r"\frac{\partial L_i}{\partial f_k} = p_k - \mathbf{1}(y_i = k)",
               r"\mathrm{dscores}_{i,k} = \frac{1}{N} \left(p_{i,k} - \mathbf{1}(y_i = k)\right)",
               r"dW_{2} = H_{1}^{T} \mathrm{dscores}, \qquad db_{2} = \sum_{i} \mathrm{dscores}_{i}",
               r"dW_{1} = X^{T} dH_{1}, \qquad db_{1} = \sum_{i} (dH_{1})_{i}"],
}


@pytest.fixture(scope="module")
def documents():
    out = {}
    for name, text in SPECS.items():
        m = prepare(text)
        w = m.worked()
        out[name] = (m, render_md(m, w), render_tex(m, w))
    return out


def numpy_pass(name):
    """Forward and backward pass of SPECS[name], by hand: (hidden z, output delta, hidden delta)."""
    acts = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
            "relu": lambda z: np.maximum(z, 0), "identity": lambda z: z}
    m = prepare(SPECS[name])
    v = m.spec.values
    W1_, b1_ = np.array(W1), np.array(B1)
    W2_ = np.array(v.arrays["W2"], dtype=float)
    b2_ = np.array(v.arrays["b2"], dtype=float)
    y = np.array(v.samples[0].y, dtype=float)
    z1 = W1_ @ np.array(X) + b1_
    a1 = acts[m.spec.layers[0].activation](z1)
    z2 = W2_ @ a1 + b2_
    if m.spec.layers[1].activation == "softmax":
        a2 = np.exp(z2) / np.exp(z2).sum()
    else:
        a2 = acts[m.spec.layers[1].activation](z2)
    # every pairing here but Nielsen's is canonical: δ = a − y; Nielsen: ½SSE with sigmoid
    d2 = (a2 - y) * a2 * (1 - a2) if name == "nielsen" else a2 - y
    fprime = {"sigmoid": a1 * (1 - a1), "tanh": 1 - a1 ** 2, "relu": (z1 > 0) * 1.0}
    d1 = (W2_.T @ d2) * fprime[m.spec.layers[0].activation]
    return z1, d2, d1


@pytest.mark.parametrize("name", list(SPECS))
def test_the_sources_key_equations_are_in_md_and_tex(documents, name):
    _, md, tex = documents[name]
    for eq in KEY_EQUATIONS[name]:
        assert eq in md, (name, eq)
        assert eq in tex, (name, eq)


@pytest.mark.parametrize("name", list(SPECS))
def test_worked_numbers_match_a_numpy_pass(documents, name):
    m, md, tex = documents[name]
    z1, d2, d1 = numpy_pass(name)
    w = m.worked()
    net = m.network
    assert np.allclose([float(w.numbers[s]) for s in net.layers[0].z], z1)
    assert np.allclose([float(w.numbers[s]) for s in net.layers[1].delta], d2)
    assert np.allclose([float(w.numbers[s]) for s in net.layers[0].delta], d1)
    for doc in (md, tex):
        assert f"{d1[0]:.6g}" in doc


@pytest.mark.parametrize("name", list(SPECS))
def test_check_flags_no_line_of_a_presets_documents(documents, name):
    m, md, tex = documents[name]
    for kind, doc in (("md", md), ("tex", tex)):
        verdicts = check(m, doc, kind="markup", isolate=False)
        assert sum(v.verdict == "correct" for v in verdicts) > 30, (name, kind)
        wrong = [(v.line, v.text, v.expected) for v in verdicts if v.verdict == "incorrect"]
        assert wrong == [], (name, kind)


def test_preset_letters_on_the_symbols(documents):
    nielsen, bishop, goodfellow, ng, cs231n = (documents[n][0] for n in SPECS)
    W = lambda m, l: m.network.layers[l - 1].W[0, 0]    # noqa: E731
    assert nielsen.notation.tex(W(nielsen, 1)) == "w^{2}_{11}"       # the spec's W1 is w²
    assert nielsen.notation.tex(nielsen.network.layers[1].z[0]) == "z^{3}_{1}"
    assert bishop.notation.tex(bishop.network.layers[0].z[0]) == "a^{(1)}_{1}"   # a: pre-activation
    assert bishop.notation.tex(bishop.network.layers[0].a[0]) == "z^{(1)}_{1}"   # z: output
    assert bishop.notation.tex(bishop.network.y[0]) == "t"
    assert bishop.notation.tex(bishop.network.layers[1].a[0]) == "y"
    assert goodfellow.notation.tex(goodfellow.network.layers[0].a[0]) == "h^{(1)}_{1}"
    assert goodfellow.notation.tex(goodfellow.network.layers[1].a[0]) == r"\hat{y}"
    assert ng.notation.tex(W(ng, 2)) == "w^{[2]}_{11}"
    assert ng.notation.tex(ng.network.layers[0].delta[0]) == "dz^{[1]}_{1}"
    assert cs231n.notation.tex(cs231n.network.layers[1].a[0]) == "p_{1}"
    # the spec data keep their own numbering in every preset
    assert nielsen.spec.values.arrays["W1"][0][0] == bishop.spec.values.arrays["W1"][0][0]


def test_explicit_keys_override_the_preset_and_each_key_works_alone():
    base = SPECS["bishop"]
    m = prepare(base.replace('preset = "bishop"\n', 'preset = "bishop"\ntarget = "y"\noutput = "y_hat"\n'))
    assert m.notation.tex(m.network.y[0]) == "y" and m.notation.preset == "bishop"
    assert m.notation.tex(m.network.layers[1].a[0]) == r"\hat{y}"
    alone = prepare(base.replace('preset = "bishop"\n', 'superscript = "bracket"\ninput_layer = 1\n'))
    assert alone.notation.tex(alone.network.layers[0].W[0, 0]) == "w^{[2]}_{11}"
    assert alone.notation.preset is None


@pytest.mark.parametrize("table, key, words", [
    ('preset = "bishops"\n', "notation.preset", "'bishop'"),
    ('superscript = "angle"\n', "notation.superscript", "'bracket'"),
    ("input_layer = 2\n", "notation.input_layer", "0, 1"),
    ('target = "o"\n', "notation.target", "'t'"),
    ('output = "t"\n', "notation.output", "'y_hat'"),
    ('function = "psi"\n', "notation.function", "'sigma'"),
    ('transpose = "t"\n', "notation.transpose", "'top'"),
    ('hadamard = "x"\n', "notation.hadamard", "'odot'"),
    ('layout = "cols"\n', "notation.layout", "'columns'"),
    ('gradient_names = "nabla"\n', "notation.gradient_names", "'partial'"),
    ('output = "y"\n', "notation.output", "targets"),            # y for both outputs and targets
    ('preset = "bishop"\npre_activation = "z"\n', "notation.pre_activation", "different letters"),
])
def test_bad_notation_keys_name_file_key_and_values(table, key, words):
    text = SPECS["nielsen"].replace('preset = "nielsen"\n', table)
    with pytest.raises(SpecError) as err:
        parse_spec(text, source="net.toml")
    assert f"net.toml: key `{key}`" in str(err.value) and words in str(err.value)


def test_cs231n_needs_one_hot_targets(tmp_path, capsys):
    bad = SPECS["cs231n"].replace("y = [0.0, 1.0, 0.0]", "y = [0.2, 0.8, 0.0]")
    with pytest.raises(SpecError, match="one-hot"):
        parse_spec(bad, source="net.toml")
    (tmp_path / "soft.toml").write_text(bad.replace('preset = "cs231n"\n', ""))
    assert main(["derive", str(tmp_path / "soft.toml"), "--notation", "cs231n", "-o", str(tmp_path)]) == 2
    assert "one-hot" in capsys.readouterr().err


def test_notation_option_and_notations_command(tmp_path, capsys):
    assert set(PRESET_NAMES) == set(PRESETS)
    assert main(["notations"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS) and "dZ^[l]" in out
    (tmp_path / "net.toml").write_text(SPECS["bishop"])
    assert main(["derive", str(tmp_path / "net.toml"), "--notation", "nielsen", "-f", "md",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "bishop_net.md").read_text()
    assert r"\tag{BP1}" in md and r"\tag{5.54}" not in md and "w^{2}_{11}" in md
    claims = tmp_path / "c.txt"
    claims.write_text("dC/dw^3_11 = delta^3_1 * a^2_1\n")
    assert main(["check", str(tmp_path / "net.toml"), str(claims), "--notation", "nielsen"]) == 0
    with pytest.raises(SystemExit) as stop:
        main(["derive", "--notation", "feynman"])
    assert stop.value.code == 2


def test_check_report_is_in_the_presets_letters(tmp_path, capsys):
    """The report's expected formula is written in the active preset, and a batch formula's
    counterexample (matrices over a generated batch) prints."""
    (tmp_path / "b.toml").write_text(SPECS["bishop"])
    (tmp_path / "c.txt").write_text("dE/dw^(2)_11 = delta^(2)_1 * a^(1)_1\n")   # a: Bishop's pre-activation
    assert main(["check", str(tmp_path / "b.toml"), str(tmp_path / "c.txt")]) == 1
    out = capsys.readouterr().out
    assert "expected:       z^(1)_1*(-t + y)" in out          # z the output, t the target
    (tmp_path / "n.toml").write_text(SPECS["ng"])
    (tmp_path / "d.txt").write_text("dW^{[2]} = dZ^{[2]} A^{[1]T}\n")          # 1/m left out
    assert main(["check", str(tmp_path / "n.toml"), str(tmp_path / "d.txt")]) == 1
    out = capsys.readouterr().out
    assert "missing 1/m" in out and "left side  [" in out


def test_every_presets_markdown_is_valid_katex(documents, tmp_path):
    from test_katex import check as katex_check, node_and_katex
    node_and_katex()
    paths = []
    for name, (_, md, _) in documents.items():
        paths.append(tmp_path / f"{name}.md")
        paths[-1].write_text(md)
    result = katex_check(paths)
    assert result["files"] == len(paths) and result["spans"] > 300
    assert result["errors"] == []


def test_key_equations_file_in_the_presets_letters(tmp_path):
    (tmp_path / "n.toml").write_text(SPECS["nielsen"])
    assert main(["derive", str(tmp_path / "n.toml"), "--equations", "-f", "md", "-o", str(tmp_path)]) == 0
    md = (tmp_path / "nielsen_net_equations.md").read_text()
    assert "$a^{1} = x$" in md and r"\nabla_{a^{3}} C \odot \sigma_{3}'\left(z^{3}\right) \tag{BP1}" in md
    assert r"\left(W^{l+1}\right)^{T} \delta^{l+1}" in md


def test_translate_keeps_each_claims_verdict(tmp_path, capsys):
    """ng → nielsen through the parsed form: every translated line, checked under the
    target preset, gets the verdict its original gets under the source preset."""
    (tmp_path / "n.toml").write_text(SPECS["ng"])
    claims = [r"\frac{\partial \mathcal{L}}{\partial w^{[2]}_{11}} = dz^{[2]}_1 a^{[1]}_1",
              "dz^{[2]}_1 = a^{[2]}_1 - y",
              "dz^{[2]}_1 = y - a^{[2]}_1",                                       # wrong sign
              r"dz^{[1]}_1 = w^{[2]}_{11} dz^{[2]}_1 (1 - (a^{[1]}_1)^2)",
              r"dz^{[1]}_2 = w^{[2]}_{11} dz^{[2]}_1 (1 - (a^{[1]}_2)^2)"]          # w of the wrong neuron
    (tmp_path / "c.txt").write_text("\n".join(claims) + "\n" + r"dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}" + "\n")
    assert main(["translate", str(tmp_path / "n.toml"), str(tmp_path / "c.txt"), "--from", "ng",
                 "--to", "nielsen"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = [l for l in out if not l.startswith("%")]
    assert len(lines) == len(claims) and r"\delta^{3}_{1} = a^{3}_{1} - y" in lines
    assert any("kept as written" in l and "dW^{[2]}" in l for l in out)   # the batch formula
    ng = prepare(SPECS["ng"])
    nielsen = prepare(SPECS["ng"].replace('preset = "ng"', 'preset = "nielsen"'))
    before = [v.verdict for v in check(ng, "\n".join(claims), isolate=False)]
    after = [v.verdict for v in check(nielsen, "\n".join(lines), isolate=False)]
    assert before == after == ["correct", "correct", "incorrect", "correct", "incorrect"]


def test_rows_layout_writes_the_matrix_forms_with_examples_as_rows(documents):
    """CS231n's layout: z = h W + b with W input × output, δ^l = (δ^{l+1} W^T) ⊙ f',
    ∂L/∂W = hᵀ δ; the checker reads them in that layout (the check test above)."""
    _, md, tex = documents["cs231n"]
    for doc in (md, tex):
        assert "z^{l} = h^{l-1} W^{l} + b^{l}" in doc
        assert r"dz^{l} = \left( dz^{l+1} \left(W^{l+1}\right)^{T} \right)" in doc
        assert r"\frac{\partial \mathcal{L}}{\partial W^{l}} = \left(h^{l-1}\right)^{T} dz^{l}" in doc


def test_nielsen_on_the_built_in_relu_network_checks_clean():
    """worked_2331 (ReLU hidden layers) in Nielsen's letters: the layer shift reaches f_l,
    sums over k and f'(z^l); σ is not used for ReLU layers (σ is the sigmoid)."""
    from dataclasses import replace
    from symbackprop import example_path
    from symbackprop.core.naming import with_preset
    from symbackprop.core.spec import load_spec
    s = load_spec(example_path("worked_2331"))
    m = prepare(replace(s, notation=with_preset(s.notation, "nielsen", s.source)))
    md = render_md(m, m.worked())
    assert r"\delta^L = \nabla_a C \odot f'(z^L) \tag{BP1}" in md and "w^{2}_{11}" in md
    verdicts = check(m, md, kind="markup", isolate=False)
    assert sum(v.verdict == "correct" for v in verdicts) > 100
    assert [v.text for v in verdicts if v.verdict == "incorrect"] == []
