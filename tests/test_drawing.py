"""The network picture: layout data (drawing.py) and the SVG and TikZ drawn from it."""
import itertools
import xml.etree.ElementTree as ET

import pytest

from conftest import spec_text
from symbackprop.render.documents import render_svg, render_tex
from symbackprop.render.drawing import MAX_SHOWN, RADIUS, box_gap, circle_gap, label_box, layout
from symbackprop.api import example_path, prepare

SVG = "{http://www.w3.org/2000/svg}"


def weight_labels(pic):
    return {(e.source.key, e.target.key): e.label.text for e in pic.edges
            if e.kind == "weight" and e.label}


def test_columns_by_layer_and_every_edge_of_a_small_network():
    model = prepare(example_path("worked_2331"))
    pic = layout(model.network, model.notation)
    neurons = [n for n in pic.nodes if n.kind in ("input", "neuron", "output")]
    for l, size in enumerate((2, 3, 3, 1)):
        column = [n for n in neurons if n.key.startswith(f"n{l}_")]
        assert len(column) == size and len({n.x for n in column}) == 1
    xs = [next(n.x for n in neurons if n.key == f"n{l}_0") for l in range(4)]
    assert xs == sorted(xs)
    # 2·3 + 3·3 + 3·1 weights, all labelled, and one bias edge per non-input neuron
    assert len(weight_labels(pic)) == 18
    assert sum(e.kind == "bias" for e in pic.edges) == 7
    assert sum(e.kind == "loss" for e in pic.edges) == 1
    # w^l_{jk} runs from neuron k of layer l-1 to neuron j of layer l (hand-read convention)
    assert weight_labels(pic)[("n0_1", "n1_2")] == "w^1_32"
    assert weight_labels(pic)[("n2_2", "n3_0")] == "w^3_13"


def test_numbered_labels_follow_the_posts_source_major_numbering():
    """The worked-example post: w1, w2, w3 leave x1; w4, w5, w6 leave x2; b1… per neuron."""
    model = prepare(example_path("worked_2331_numbered"))
    pic = layout(model.network, model.notation)
    labels = weight_labels(pic)
    assert [labels[("n0_0", f"n1_{j}")] for j in range(3)] == ["w1", "w2", "w3"]
    assert [labels[("n0_1", f"n1_{j}")] for j in range(3)] == ["w4", "w5", "w6"]
    assert labels[("n2_2", "n3_0")] == "w18"
    assert pic.loss.text == "E_total"
    out = next(n for n in pic.nodes if n.key == "n3_0")
    assert (out.label.base, out.label.sub) == ("out", "n9")


def test_ij_style_labels():
    model = prepare(spec_text([2, 2, 1], ["tanh", "sigmoid"], "half_sse",
                              '[notation]\nstyle = "ij"\n'))
    labels = weight_labels(layout(model.network, model.notation))
    # ij: w^{(l)}_{ij} from neuron i of layer l-1 to neuron j of layer l
    assert labels[("n0_0", "n1_1")] == "w^(1)_12"
    assert labels[("n0_1", "n1_0")] == "w^(1)_21"


def test_large_network_shows_a_subset_with_ellipses():
    model = prepare(spec_text([9, 7, 2], ["relu", "softmax"], "cross_entropy"))
    pic = layout(model.network, model.notation)
    for l in (0, 1):
        drawn = [n for n in pic.nodes if n.key.startswith(f"n{l}_")]
        assert len(drawn) == MAX_SHOWN - 1
        assert any(n.key == f"dots{l}" for n in pic.nodes)
    # the last neuron is drawn after the ellipsis
    assert any(n.key == "n0_8" for n in pic.nodes) and any(n.key == "n1_6" for n in pic.nodes)
    labelled = [e for e in pic.edges if e.kind == "weight" and e.label]
    unlabelled = [e for e in pic.edges if e.kind == "weight" and not e.label]
    assert labelled and unlabelled
    assert {e.source.key for e in labelled if e.target.key.startswith("n1_")} == {"n0_0"}


@pytest.mark.parametrize("name", ["worked_2331", "softmax_classifier", "worked_2331_numbered", "tanh_net"])
def test_labels_clear_each_other_and_the_neurons_where_edges_cross(name):
    """Every pair of weight/bias labels of a layer, sloped along edges that cross, and every
    label against every neuron circle.  A label's box (LABEL_W × LABEL_H = 0.95 × 0.45 cm) is
    about twice its ink (~0.45 × 0.3 cm in the PDF), so a box overlap under 0.1 cm leaves the
    ink apart; with the old one-pass placement the boxes overlapped by up to 0.38 cm (softmax
    classifier: w^1_41 on w^1_23 where edges cross) and labels cut circles by 0.16 cm."""
    model = prepare(example_path(name))
    pic = layout(model.network, model.notation)
    boxes = [(label_box(e.source, e.target, e.at), e.label.text) for e in pic.edges if e.label]
    assert len(boxes) >= 12
    for (p, a), (q, b) in itertools.combinations(boxes, 2):
        assert box_gap(p, q) > -0.1, (a, b)
    for box, a in boxes:
        for n in pic.nodes:
            if n.kind != "dots":
                assert circle_gap(box, (n.x, n.y)) > -0.12, (a, n.key)


def test_the_gap_measures_agree_with_hand_geometry():
    """box_gap / circle_gap on boxes whose distances are known by hand."""
    square = ((0, 0), (1, 0), (1, 1), (0, 1))
    shifted = tuple((x + 1.5, y) for x, y in square)
    assert abs(box_gap(square, shifted) - 0.5) < 1e-12
    diamond = tuple((x * 0.7071067811865476 - y * 0.7071067811865476 + 0.5,
                     x * 0.7071067811865476 + y * 0.7071067811865476 + 0.2) for x, y in
                    ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)))   # overlaps the square
    assert box_gap(square, diamond) < 0
    assert abs(circle_gap(square, (3.0, 0.5)) - (2.0 - RADIUS)) < 1e-12
    assert circle_gap(square, (0.5, 0.5)) == -RADIUS


def test_svg_is_xml_with_a_circle_per_neuron_and_the_weight_names():
    model = prepare(example_path("worked_2331"))
    root = ET.fromstring(render_svg(model))
    assert len(root.findall(f"{SVG}circle")) == 2 + 3 + 3 + 1
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "w132" in texts            # w^1_32 drawn as base, superscript, subscript
    assert "b31" in texts and "relu" in texts and "sigmoid" in texts and "½ sum of squares" in texts
    assert "x1" in texts and "E" in texts


def test_tikz_uses_the_notations_latex_names():
    model = prepare(example_path("worked_2331_numbered"))
    tex = render_tex(model)
    assert r"{$w_{1}$}" in tex and r"{$b_{1}$}" in tex and r"{$E_{\mathrm{total}}$}" in tex
    assert r"\begin{tikzpicture}" in tex and r"{$\mathrm{out}_{n_{9}}$}" in tex


def test_tex_has_a_backward_picture_with_the_deltas():
    model = prepare(example_path("worked_2331"))
    tex = render_tex(model)
    assert tex.count(r"\begin{tikzpicture}") == 2
    backward = tex.split(r"\section{Backpropagating the error}")[1].split(r"\end{tikzpicture}")[0]
    for l, size in ((1, 3), (2, 3), (3, 1)):
        for j in range(1, size + 1):
            assert f"{{$\\delta^{{{l}}}_{{{j}}}$}}" in backward
    assert "dashed" not in backward and r"\draw[<-] (n1_0)" in backward
