"""The batch forms of the presets (issue #14): a spec with several examples (or
``derive --data``) gets the whole batch in matrix form, in the course's letters —
Ng's Z^{[l]}, A^{[l]}, dZ^{[l]}, dW^{[l]} = (1/m) dZ^{[l]} A^{[l-1]T} with examples as
columns, CS231n's scores, probs, dscores = (probs − Y)/N, dW = H^T dscores with examples
as rows — every matrix's numbers from a NumPy pass written here, and ``check`` on the
documents flags no line (a right matrix of the batch's numbers was judged against one
example's shape)."""
from __future__ import annotations

import re

import numpy as np
import pytest

from symbackprop import check, prepare
from symbackprop.cli import main
from symbackprop.render.documents import render_md, render_tex

W1 = np.array([[0.1, -0.2], [0.3, 0.4]])
B1 = np.array([0.05, -0.05])
X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.5, 2.0]]).T          # examples as columns

NG = """name = "ng_batch"
inputs = 2
loss = "binary_cross_entropy"
[[layer]]
size = 2
activation = "tanh"
[[layer]]
size = 1
activation = "sigmoid"
[values]
W1 = [[0.1, -0.2], [0.3, 0.4]]
b1 = [0.05, -0.05]
W2 = [[0.6, -0.7]]
b2 = [0.1]
learning_rate = 0.1
[notation]
preset = "ng"
"""
NG_Y = np.array([[1.0, 0.0, 1.0]])

CS = """name = "cs_batch"
inputs = 2
loss = "cross_entropy"
[[layer]]
size = 2
activation = "relu"
[[layer]]
size = 3
activation = "softmax"
[values]
W1 = [[0.1, -0.2], [0.3, 0.4]]
b1 = [0.05, -0.05]
W2 = [[0.6, -0.7], [0.2, 0.5], [-0.3, 0.1]]
b2 = [0.1, -0.1, 0.0]
learning_rate = 0.5
[notation]
preset = "cs231n"
"""
CS_LABELS = [1, 0, 2]


def samples(Y) -> str:
    return "".join(f"[[values.samples]]\nx = {X[:, i].tolist()}\ny = {Y[:, i].tolist()}\n"
                   for i in range(X.shape[1]))


def spec_text(base, Y):
    head, notation = base.split("[notation]")
    return head + samples(Y) + "[notation]" + notation


def matrix_after(doc: str, lhs: str) -> np.ndarray:
    """The numbers of the pmatrix that follows ``lhs`` (up to its ``= \\begin{pmatrix}``)."""
    start = doc.index(lhs, doc.index("The whole batch at once"))
    body = doc[doc.index(r"\begin{pmatrix}", start) + len(r"\begin{pmatrix}"):
               doc.index(r"\end{pmatrix}", start)]
    rows = [r for r in body.split(r"\\")]
    return np.array([[float(x) for x in r.split("&")] for r in rows])


def ng_numpy():
    """Ng's vectorised pass, by hand (course 1, week 3)."""
    W2, b2 = np.array([[0.6, -0.7]]), np.array([[0.1]])
    m = X.shape[1]
    Z1 = W1 @ X + B1[:, None]
    A1 = np.tanh(Z1)
    Z2 = W2 @ A1 + b2
    A2 = 1 / (1 + np.exp(-Z2))
    J = -np.mean(NG_Y * np.log(A2) + (1 - NG_Y) * np.log(1 - A2))
    dZ2 = A2 - NG_Y
    dW2 = dZ2 @ A1.T / m
    db2 = dZ2.sum(axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2)
    dW1 = dZ1 @ X.T / m
    db1 = dZ1.sum(axis=1, keepdims=True) / m
    return dict(Z1=Z1, A1=A1, Z2=Z2, A2=A2, J=J, dZ2=dZ2, dW2=dW2, db2=db2, dZ1=dZ1, dW1=dW1,
                db1=db1, W1new=W1 - 0.1 * dW1, W2new=W2 - 0.1 * dW2)


def cs_numpy():
    """The CS231n case study's two-layer net, by hand (examples as rows, W input × output)."""
    Xr = X.T
    N = Xr.shape[0]
    W1r, b1r = W1.T, B1[None, :]
    W2r = np.array([[0.6, -0.7], [0.2, 0.5], [-0.3, 0.1]]).T
    b2r = np.array([[0.1, -0.1, 0.0]])
    hidden = np.maximum(0, Xr @ W1r + b1r)
    scores = hidden @ W2r + b2r
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.log(probs[range(N), CS_LABELS]).mean()
    dscores = probs.copy()
    dscores[range(N), CS_LABELS] -= 1
    dscores /= N
    dW2 = hidden.T @ dscores
    db2 = dscores.sum(axis=0, keepdims=True)
    dhidden = dscores @ W2r.T
    dhidden[hidden <= 0] = 0
    dW1 = Xr.T @ dhidden
    db1 = dhidden.sum(axis=0, keepdims=True)
    return dict(scores=scores, probs=probs, loss=loss, dscores=dscores, dW2=dW2, db2=db2,
                dhidden=dhidden, dW1=dW1, db1=db1, W1new=W1r - 0.5 * dW1)


def one_hot(labels):
    Y = np.zeros((3, len(labels)))
    Y[labels, range(len(labels))] = 1.0
    return Y


@pytest.fixture(scope="module")
def docs():
    out = {}
    for name, text in (("ng", spec_text(NG, NG_Y)), ("cs231n", spec_text(CS, one_hot(CS_LABELS)))):
        m = prepare(text)
        w = m.worked()
        out[name] = (m, render_md(m, w), render_tex(m, w))
    return out


def test_ng_batch_matrices_match_a_numpy_pass(docs):
    ref = ng_numpy()
    _, md, tex = docs["ng"]
    for doc in (md, tex):
        assert "The whole batch at once" in doc
        for lhs, key in ((r"Z^{[1]} = W^{[1]} X + b^{[1]}", "Z1"),
                         (r"A^{[1]} = g^{[1]}(Z^{[1]})", "A1"),
                         (r"Z^{[2]} = W^{[2]} A^{[1]} + b^{[2]}", "Z2"),
                         (r"dZ^{[2]} = A^{[2]} - Y", "dZ2"),
                         (r"dW^{[2]} = \frac{1}{m} dZ^{[2]} A^{[1]T}", "dW2"),
                         (r"db^{[2]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[2](i)}", "db2"),
                         (r"dZ^{[1]} = W^{[2]T} dZ^{[2]} * g^{[1]\prime}(Z^{[1]})", "dZ1"),
                         (r"dW^{[1]} = \frac{1}{m} dZ^{[1]} X^{T}", "dW1"),
                         (r"db^{[1]} = \frac{1}{m} \sum_{i=1}^{m} dZ^{[1](i)}", "db1"),
                         (r"W^{[1]} \leftarrow", "W1new")):
            np.testing.assert_allclose(matrix_after(doc, lhs), ref[key], rtol=5e-6, atol=1e-9,
                                       err_msg=lhs)
        j = re.search(r"J = \\frac\{1\}\{m\} \\sum_\{i=1\}\^\{m\} \\mathcal\{L\}"
                      r"\(\\hat\{y\}\^\{\(i\)\}, y\^\{\(i\)\}\) = ([-0-9.e]+)", doc)
        assert j and float(j.group(1)) == pytest.approx(ref["J"], rel=5e-6)


def test_cs231n_batch_matrices_are_rows_and_match_the_notes_code(docs):
    ref = cs_numpy()
    _, md, tex = docs["cs231n"]
    for doc in (md, tex):
        np.testing.assert_allclose(matrix_after(doc, "X = "), X.T)          # N × D
        assert "y = (1, 0, 2)" in doc
        for lhs, key in ((r"\mathrm{scores} = H_{1} W_{2} + b_{2}", "scores"),
                         (r"\mathrm{probs} = ", "probs"),
                         (r"\mathrm{dscores} = \frac{1}{N} (\mathrm{probs} - Y)", "dscores"),
                         (r"dW_{2} = H_{1}^{T} \mathrm{dscores}", "dW2"),
                         (r"db_{2} = \sum_{i=1}^{N} (\mathrm{dscores})_{i}", "db2"),
                         (r"dH_{1} = \mathrm{dscores} W_{2}^{T}", "dhidden"),
                         (r"dW_{1} = X^{T} dH_{1}", "dW1"),
                         (r"db_{1} = \sum_{i=1}^{N} (dH_{1})_{i}", "db1"),
                         (r"W_{1} \leftarrow", "W1new")):
            np.testing.assert_allclose(matrix_after(doc, lhs), ref[key], rtol=5e-6, atol=1e-9,
                                       err_msg=lhs)
        assert re.search(r"L = \\frac\{1\}\{N\} \\sum_\{i=1\}\^\{N\} L_i = 1\.1736\b", doc)
    assert ref["loss"] == pytest.approx(1.1736, abs=5e-5)


@pytest.mark.parametrize("name", ["ng", "cs231n"])
def test_check_flags_no_line_of_the_batch_documents(docs, name):
    m, md, _ = docs[name]
    verdicts = check(m, md, kind="markup", isolate=False)
    assert [v.text for v in verdicts if v.verdict == "incorrect"] == []
    batch = md[md.index("The whole batch at once"):]
    read = check(m, batch, kind="markup", isolate=False)
    # read and confirmed: ng's every forward and backward matrix; CS231n's forward ones (its
    # \mathrm{dscores}, dH_l are not names the checker reads yet: unparseable, not judged)
    assert sum(v.verdict == "correct" for v in read) >= {"ng": 12, "cs231n": 4}[name]


def test_a_batch_matrix_claim_is_read_one_column_an_example(docs):
    """Z^{[1]} of the batch written with numbers: right → correct, one entry off →
    incorrect naming the entry (it was 'shapes differ: 2×3 written for 2×1')."""
    m, _, _ = docs["ng"]
    ref = ng_numpy()
    def pm(M):
        return r"\begin{pmatrix} " + r" \\ ".join(" & ".join(f"{v:.6g}" for v in row) for row in M) \
            + r" \end{pmatrix}"
    wrong = ref["Z1"].copy()
    wrong[1, 2] += 0.1
    lines = [f"$$Z^{{[1]}} = {pm(ref['Z1'])}$$", f"$$A^{{[2]}} - Y = {pm(ref['dZ2'])}$$",
             f"$$Z^{{[1]}} = {pm(wrong)}$$", f"$$dW^{{[1]}} = {pm(ref['dW1'])}$$",
             f"$$dW^{{[1]}} = {pm(ref['dW1'].T)}$$"]
    verdicts = check(m, "\n\n".join(lines), kind="markup", isolate=False)
    assert [v.verdict for v in verdicts] == ["correct", "correct", "incorrect", "correct",
                                             "incorrect"]
    assert "entry (2, 3)" in verdicts[2].diagnosis


def test_derive_data_gives_the_batch_of_the_csv(tmp_path):
    (tmp_path / "n.toml").write_text(NG)
    rows = [[0.5, -1.0, 1.0], [1.5, 0.25, 0.0], [-0.5, 2.0, 1.0], [2.0, 2.0, 0.0]]
    (tmp_path / "b.csv").write_text("x1,x2,y1\n" + "".join(",".join(map(str, r)) + "\n"
                                                            for r in rows))
    assert main(["derive", str(tmp_path / "n.toml"), "--data", str(tmp_path / "b.csv"), "-f", "md",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "ng_batch.md").read_text()
    Xd = np.array(rows)[:, :2].T
    np.testing.assert_allclose(matrix_after(md, "X = "), Xd)
    A1 = np.tanh(W1 @ Xd + B1[:, None])
    np.testing.assert_allclose(matrix_after(md, r"A^{[1]} = g^{[1]}(Z^{[1]})"), A1, rtol=5e-6)
    assert "$m = 4$ examples" in md
    assert main(["derive", str(tmp_path / "n.toml"), "--data", str(tmp_path / "no.csv"),
                 "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_a_large_batch_is_cut_with_dots(tmp_path):
    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.normal(size=(40, 2)), rng.integers(0, 2, size=40)])
    (tmp_path / "n.toml").write_text(NG)
    (tmp_path / "b.csv").write_text("x1,x2,y1\n" + "".join(",".join(repr(float(v)) for v in r) + "\n"
                                                            for r in rows))
    assert main(["derive", str(tmp_path / "n.toml"), "--data", str(tmp_path / "b.csv"), "-f", "md",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "ng_batch.md").read_text()
    x = md[md.index("$$X = "):]
    x = x[:x.index(r"\end{pmatrix}")]
    assert x.count("&") == 2 * 5 and r"\cdots" in x           # 4 columns, the dots, the last


def test_the_course_update_line_is_an_assignment(tmp_path):
    """update_parameters' ``W1 = W1 - learning_rate * dW1`` is Python's assignment (the new
    value), not an equation claiming dW1 = 0; the ascent line is wrong, named so."""
    m = prepare(spec_text(NG, NG_Y))
    got = check(m, "W1 = W1 - learning_rate * dW1\nW1 = W1 + learning_rate * dW1\n"
                   "b2 = b2 - learning_rate * db2\n", isolate=False)
    assert [v.verdict for v in got] == ["correct", "incorrect", "correct"]
    assert "ascent" in got[1].diagnosis and got[0].text.startswith("W1 = W1")


def test_cs231n_code_keeps_its_rows_and_its_1_over_n():
    """The notes' code on a rows spec: dscores holds the 1/N, so X.T · (dhidden ⊙ gate) is
    the mean gradient (it was 'missing 1/m'); a line whose shapes fit only as columns is
    not read as columns (np.dot(dscores, hidden_layer.T) is no dW2 in the notes' arrays)."""
    m = prepare(spec_text(CS, one_hot(CS_LABELS)))
    text = "\n".join(["hidden_layer = np.maximum(0, np.dot(X, W1) + b1)",
                      "scores = np.dot(hidden_layer, W2) + b2",
                      "dW2 = np.dot(hidden_layer.T, dscores)",
                      "dhidden = np.dot(dscores, W2.T)",
                      "dW1 = np.dot(X.T, dhidden * (hidden_layer > 0))",
                      "dW1 = np.dot(X.T, dhidden)",
                      "dW2 = np.dot(dscores, hidden_layer.T)",
                      "db2 = np.sum(dscores, axis=1, keepdims=True)"]) + "\n"
    got = [v.verdict for v in check(m, text, isolate=False)]
    assert got[2:5] == ["correct", "correct", "correct"], got
    # no gate (missing f'); N×K · H×N: no shape fits (never read as columns), the factors
    # exchanged make it right; summed over the classes (axis=1 of the rows)
    assert got[5:] == ["incorrect", "incorrect", "incorrect"], got
    diagnoses = [v.diagnosis for v in check(m, text, isolate=False)][5:]
    assert "missing activation derivative" in diagnoses[0]
    assert "factors reversed" in diagnoses[1] and "axis" in diagnoses[2]
    # the same mean by hand: X^T (dhidden ⊙ [h > 0]) with dscores = (probs − Y)/N
    assert cs_numpy()["dW1"] == pytest.approx(
        X @ cs_numpy()["dhidden"], rel=1e-12)


def test_cs231n_letters_on_a_batch_spec():
    """The notes' own letters on a spec of N = 3 examples: f_k the scores (f_1(Z_1) still the
    layer's function), p_{y_i} the correct class's probability, L_i any one example's
    loss, L_2 example 2's, \\mathrm{dscores} the N×K matrix with its 1/N, W2 += -step."""
    m = prepare(spec_text(CS, one_hot(CS_LABELS)))
    ref = cs_numpy()
    losses = -np.log(ref["probs"][range(3), CS_LABELS])
    def pm(M):
        return r"\begin{pmatrix} " + r" \\ ".join(" & ".join(f"{v:.6g}" for v in row) for row in M) \
            + r" \end{pmatrix}"
    lines = [r"$p_k = \frac{e^{f_k}}{\sum_j e^{f_j}}$",
             r"$L_i = -f_{y_i} + \log\sum_j e^{f_j}$",
             r"$L_i = -\log_{10}(p_{y_i})$",                                # wrong: log10
             r"$\frac{\partial L_i}{\partial f_k} = p_k - \mathbb{1}(y_i = k)$",
             f"$L_2 = {losses[1]:.4f}$",
             f"$L_2 = {losses[0]:.4f}$",                                    # example 1's
             r"$L_i = 0.5$",                                                # which example?
             f"$\\mathrm{{dscores}} = {pm(ref['dscores'])}$",
             f"$\\mathrm{{dscores}} = {pm(3 * ref['dscores'])}$",           # no 1/N
             r"$h^{1} = f_{1}(z^{1})$",
             f"$dz^{{2}} = {pm(3 * ref['dscores'])}$"]                    # the preset's δ: no 1/N
    got = check(m, "\n\n".join(lines), kind="markup", isolate=False)
    assert [v.verdict for v in got] == ["correct", "correct", "incorrect", "correct", "correct",
                                        "incorrect", "unparseable", "correct", "incorrect",
                                        "correct", "correct"], [(v.verdict, v.text) for v in got]
    code = check(m, "W2 += -step_size * dW2\nW2 += step_size * dW2\n", isolate=False)
    assert [v.verdict for v in code] == ["correct", "incorrect"]
    assert code[0].text == "W2 += -step_size * dW2" and "ascent" in code[1].diagnosis


def test_ng_numbered_examples(docs):
    """a^{[2](2)}: example 2 of the batch (it was refused as 'the spec's [values] is one
    example'); an example the spec does not have, or two in one claim, is unparseable."""
    m, _, _ = docs["ng"]
    ref = ng_numpy()
    lines = [f"$a^{{[2](2)}} = {ref['A2'][0, 1]:.4f}$", f"$dz^{{[2](3)}} = {ref['dZ2'][0, 2]:.4f}$",
             f"$a^{{[2](2)}} = {ref['A2'][0, 0]:.4f}$", "$a^{[2](4)} = 0.5$",
             "$dz^{[2](2)} = a^{[2](3)} - y^{(3)}$", "$dz^{[2](2)} = a^{[2](2)} - y^{(2)}$"]
    got = check(m, "\n\n".join(lines), kind="markup", isolate=False)
    assert [v.verdict for v in got] == ["correct", "correct", "incorrect", "unparseable",
                                        "unparseable", "correct"], [(v.verdict, v.message) for v in got]


def test_key_equations_in_the_rows_layout(tmp_path):
    """derive --equations on a CS231n spec writes the matrix forms with vectors as rows
    (they were the columns' (W^{l+1})^T dz^{l+1} and dz^l (h^{l-1})^T), and check agrees."""
    (tmp_path / "c.toml").write_text(spec_text(CS, one_hot(CS_LABELS)))
    assert main(["derive", str(tmp_path / "c.toml"), "--equations", "-f", "md", "-o", str(tmp_path)]) == 0
    md = (tmp_path / "cs_batch_equations.md").read_text()
    assert r"dz^{l} = \left( dz^{l+1} \left(W^{l+1}\right)^{T} \right) \odot f_l'\left(z^{l}\right)" in md
    assert r"\frac{\partial \mathcal{L}}{\partial W^{l}} = \left(h^{l-1}\right)^{T} dz^{l}" in md
    assert "vectors are rows" in md
    verdicts = check(prepare(spec_text(CS, one_hot(CS_LABELS))), md, kind="markup", isolate=False)
    assert not [v.text for v in verdicts if v.verdict == "incorrect"]
    assert sum(v.verdict == "correct" for v in verdicts) >= 8


def test_batch_numbers_without_the_mean_and_np_divide():
    """A batch gradient's numbers written as the sum (no 1/m) are named so; CS231n's
    dscores without its 1/N too; the course's np.divide reads entry by entry."""
    m = prepare(spec_text(NG, NG_Y))
    ref = ng_numpy()
    row = " & ".join(f"{v:.6g}" for v in 3 * ref["dW2"][0])
    [v] = check(m, f"$$dW^{{[2]}} = \\begin{{bmatrix}} {row} \\end{{bmatrix}}$$", kind="markup",
                isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("missing 1/m")
    got = check(m, "dA2 = - (np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))\n"
                   "dA2 = - (np.divide(Y, A2) + np.divide(1 - Y, 1 - A2))\n", isolate=False)
    assert [g.verdict for g in got] == ["correct", "incorrect"]
    cs = prepare(spec_text(CS, one_hot(CS_LABELS)))
    rows = r" \\ ".join(" & ".join(f"{v:.6g}" for v in r) for r in 3 * cs_numpy()["dscores"])
    [v] = check(cs, f"$$\\mathrm{{dscores}} = \\begin{{bmatrix}} {rows} \\end{{bmatrix}}$$",
                kind="markup", isolate=False)
    assert v.verdict == "incorrect" and v.diagnosis.startswith("missing 1/m")


@pytest.mark.parametrize("preset", [None, "nielsen", "bishop", "goodfellow"])
def test_every_presets_batch_section_checks_clean(preset):
    """The batch section in each notation's own capitals (Bishop's A pre-activations and Z
    outputs, T the targets; Goodfellow's A and H; Δ^l): check flags no line of it (Bishop's
    A^{(1)} = W^{(1)} X + b^{(1)} was read with the course's A, the activations)."""
    base = NG.replace('loss = "binary_cross_entropy"', 'loss = "half_sse"').replace(
        'activation = "sigmoid"', 'activation = "identity"')
    base = base.replace('preset = "ng"', f'preset = "{preset}"') if preset else \
        base.replace('[notation]\npreset = "ng"\n', "[notation]\n")
    m = prepare(spec_text(base, NG_Y))
    md = render_md(m, m.worked())
    batch = md[md.index("The whole batch at once"):]
    verdicts = check(m, batch, kind="markup", isolate=False)
    assert [v.text for v in verdicts if v.verdict == "incorrect"] == []
    assert sum(v.verdict == "correct" for v in verdicts) >= 8
