"""derive --show (issue #21): the worked example's numbers on the network pictures.

The numbers are read back from the SVG files and compared with a forward and backward pass
written here in NumPy from the spec's TOML; the layout is measured where it is rendered:
Chromium (Playwright, getBBox on the SVG text) and pdftotext -bbox-layout on the PDF.
"""
import itertools
import math
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from decimal import Decimal

from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop.api import example_path, prepare
from symbackprop.core.errors import SpecError
from symbackprop.cli import main
from symbackprop.cli.parser import SHOW_ITEMS
from symbackprop.render import documents, numbered
from symbackprop.render.documents import number_pictures

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = Path(symbackprop.__file__).parent / "examples"
ALL = "values,grads,delta,updates"
CHROMIUM = "/usr/bin/chromium"
PT_CM = 72.27 / 2.54

# a net past the picture's limits: 7 inputs (⋮), 6 and 3 neurons, 42 and 18 weights
rng = np.random.default_rng(21)
WIDE = {"W1": rng.uniform(-1, 1, (6, 7)).round(2), "b1": rng.uniform(-1, 1, 6).round(2),
        "W2": rng.uniform(-1, 1, (3, 6)).round(2), "b2": rng.uniform(-1, 1, 3).round(2)}
WIDE_TOML = ('name = "wide"\ninputs = 7\nloss = "half_sse"\n[[layer]]\nsize = 6\nactivation = "tanh"\n'
             '[[layer]]\nsize = 3\nactivation = "sigmoid"\n[values]\nx = [0.5, -0.2, 0.1, 0.9, -0.7, 0.3, 0.05]\n'
             'y = [0.2, 0.8, 0.5]\nlearning_rate = 0.3\n'
             + "".join(f"{k} = {v.tolist()}\n" for k, v in WIDE.items()))


def act(name, z):
    """f(z), f'(z) written from the definitions."""
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s, s * (1 - s)
    if name == "tanh":
        return np.tanh(z), 1 - np.tanh(z) ** 2
    raise KeyError(name)


def numpy_chain(spec: dict):
    """z, a, δ per layer, gradients and updates of a dense chain, by hand."""
    v = spec["values"]
    acts = [layer["activation"] for layer in spec["layer"]]
    W = [np.array(v[f"W{l}"], float) for l in range(1, len(acts) + 1)]
    b = [np.array(v[f"b{l}"], float) for l in range(1, len(acts) + 1)]
    a, zs, As = np.array(v["x"], float), [], [np.array(v["x"], float)]
    for l, f in enumerate(acts):
        z = W[l] @ a + b[l]
        a = np.exp(z - z.max()) / np.exp(z - z.max()).sum() if f == "softmax" else act(f, z)[0]
        zs.append(z)
        As.append(a)
    y = np.array(v["y"], float).reshape(-1)
    if spec["loss"] == "cross_entropy":       # softmax + cross-entropy: δ = a − y
        loss, delta = -(y * np.log(a)).sum(), a - y
    else:                                     # ½ Σ (a − y)²
        loss, delta = 0.5 * ((a - y) ** 2).sum(), (a - y) * act(acts[-1], zs[-1])[1]
    deltas = [None] * len(acts)
    for l in range(len(acts) - 1, -1, -1):
        deltas[l] = delta
        if l:
            delta = (W[l].T @ delta) * act(acts[l - 1], zs[l - 1])[1]
    eta = v["learning_rate"]
    q = {}
    for l in range(len(acts)):
        gW, gb = np.outer(deltas[l], As[l]), deltas[l]
        for j, k in np.ndindex(W[l].shape):
            q[("weight", f"n{l}_{k}", f"n{l + 1}_{j}")] = (W[l][j, k], gW[j, k], W[l][j, k] - eta * gW[j, k])
        for j in range(len(b[l])):
            q[("bias", f"bias{l + 1}", f"n{l + 1}_{j}")] = (b[l][j], gb[j], b[l][j] - eta * gb[j])
            q[("z", f"n{l + 1}_{j}")], q[("a", f"n{l + 1}_{j}")] = zs[l][j], As[l + 1][j]
            q[("delta", f"n{l + 1}_{j}")] = deltas[l][j]
    for k, x in enumerate(As[0]):
        q[("a", f"n0_{k}")] = x
    q[("loss", "loss")] = loss
    return q


def close(shown: str, value: float) -> bool:
    """The shown number is ``value`` rounded to the digits it shows (half a last place)."""
    m = re.fullmatch(r"(−?[0-9.]+)(?:e([−+]\d+))?", shown)
    assert m, shown
    mant = Decimal(m[1].replace("−", "-"))
    exp = int(m[2].replace("−", "-")) if m[2] else 0
    place = Decimal(1).scaleb(mant.as_tuple().exponent + exp)
    return abs(mant.scaleb(exp) - Decimal(value)) <= place / 2 * Decimal("1.000001")


def svg_numbers(path):
    """(kind, keys…) → shown text of every number in one SVG, and the edges' colours."""
    root = ET.parse(path).getroot()
    shown = {}
    for t in root.iter(f"{SVG}text"):
        if t.get("class") == "num":
            keys = t.get("data-edge", "").split() or [t.get("data-node")]
            shown[(t.get("data-kind"), *keys)] = t.text
    colours = {tuple(line.get("data-edge").split()): re.search(r"stroke: (#\w+)", line.get("style"))[1]
               for line in root.iter(f"{SVG}line") if line.get("class") in ("weight", "bias")}
    return shown, colours


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    """md, html and pdf with every number shown: the built-in examples and a wide net."""
    folder = tmp_path_factory.mktemp("show")
    (folder / "wide.toml").write_text(WIDE_TOML)
    runs = {"worked_2331": ["worked_2331"], "softmax_classifier": ["softmax_classifier", "--notation", "nielsen"],
            "residual": ["residual"], "wide": [str(folder / "wide.toml")]}
    for name, args in runs.items():
        fmts = "md,html,pdf" if shutil.which("pdflatex") else "md,html"
        assert main(["derive", *args, "--show", ALL, "-f", fmts, "-o", str(folder)]) == 0
    return folder


def spec_of(name, folder):
    path = folder / "wide.toml" if name == "wide" else example_path(name)
    return tomllib.loads(open(path).read())


@pytest.mark.parametrize("name", ["worked_2331", "softmax_classifier", "wide"])
def test_numbers_on_the_pictures_are_numpys(out, name):
    q = numpy_chain(spec_of(name, out))
    spec = spec_of(name, out)
    for view, part in (("forward", 0), ("backward", 1), ("updated", 2)):
        shown, colours = svg_numbers(out / f"{name}_{view}.svg")
        assert shown, view
        for key, text in shown.items():
            want = q[key][part] if key[0] in ("weight", "bias") else q[key]
            assert close(text, want), (view, key, text, want)
            if key[0] in ("weight", "bias"):      # colour by the sign of the edge's number
                assert colours[key[1:]] == ("#0072B2" if want > 0 else "#D55E00" if want < 0 else "#666666")
        edges = {k for k in shown if k[0] in ("weight", "bias")}
        if name != "wide":   # ≤ 5 neurons a layer, ≤ 16 weights a matrix: every edge labelled
            assert edges == {k for k in q if k[0] in ("weight", "bias")}, view
        else:                # past the limits: the first shown neuron's edges only
            weights = [k for k in edges if k[0] == "weight"]
            assert weights and {k[1] for k in weights} == {"n0_0", "n1_0"}
            assert {k[2] for k in weights if k[1] == "n0_0"} == {f"n1_{j}" for j in (0, 1, 2, 5)}
        nodes = {k for k in shown if k[0] in ("z", "a", "delta", "loss")}
        wanted = {"forward": {"z", "a", "loss"}, "backward": {"delta"}, "updated": set()}[view]
        assert {k[0] for k in nodes} == wanted
    md = (out / f"{name}.md").read_text()
    assert ("Only the edges leaving the first neuron of a large layer are labelled" in md) == (name == "wide")
    assert len(spec["layer"]) == 2 or name == "worked_2331"


def test_residual_numbers_are_numpys(out):
    """The graph example: h = tanh, f = σ, sum = relu(f + h), out = σ; δ^h sums two paths."""
    v = spec_of("residual", out)["values"]
    x = np.array(v["x"])
    hW, hb, fW, fb = (np.array(v[n][k]) for n, k in (("h", "W"), ("h", "b"), ("f", "W"), ("f", "b")))
    oW, ob = np.array(v["out"]["W"]), np.array(v["out"]["b"])
    zh = hW @ x + hb
    h = np.tanh(zh)
    zf = fW @ h + fb
    f = 1 / (1 + np.exp(-zf))
    zs = f + h
    s = np.maximum(zs, 0)
    zo = oW @ s + ob
    o = 1 / (1 + np.exp(-zo))
    do = (o - v["y"]) * o * (1 - o)
    ds = (oW.T @ do) * (zs > 0)
    df = ds * f * (1 - f)
    dh = (fW.T @ df + ds) * (1 - h ** 2)
    shown, _ = svg_numbers(out / "residual_forward.svg")
    want = {("z", "n1_0"): zh[0], ("a", "n1_1"): h[1], ("z", "n2_1"): zf[1], ("z", "n3_0"): zs[0],
            ("a", "n3_1"): s[1], ("a", "n4_0"): o[0], ("weight", "n3_0", "n4_0"): oW[0, 0],
            ("bias", "bias2", "n2_1"): fb[1], ("loss", "loss"): 0.5 * (o[0] - v["y"]) ** 2}
    for key, value in want.items():
        assert close(shown[key], value), (key, shown[key], value)
    back, _ = svg_numbers(out / "residual_backward.svg")
    for key, value in {("delta", "n1_0"): dh[0], ("delta", "n1_1"): dh[1], ("delta", "n3_0"): ds[0],
                       ("delta", "n2_1"): df[1], ("weight", "n1_0", "n2_1"): df[1] * h[0],
                       ("weight", "n0_1", "n1_0"): dh[0] * x[1], ("bias", "bias4", "n4_0"): do[0]}.items():
        assert close(back[key], value), (key, back[key], value)


def test_show_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["derive", "worked_2331", "--show", "values,gradz", "-o", str(tmp_path)])
    assert exc.value.code == 2 and "'gradz'" in capsys.readouterr().err
    bare = tmp_path / "bare.toml"
    bare.write_text('inputs = 2\nloss = "half_sse"\n[[layer]]\nsize = 1\nactivation = "tanh"\n')
    assert main(["derive", str(bare), "--show", "values", "-o", str(tmp_path)]) == 2
    assert "needs a worked example" in capsys.readouterr().err and not list(tmp_path.glob("*.md"))
    skip = tmp_path / "skip.toml"      # g reads h past f: its weights are drawn as curves
    skip.write_text('inputs = 2\nloss = "half_sse"\n' + "".join(
        f'[[layer]]\nname = "{n}"\n{extra}activation = "tanh"\n' for n, extra in (
            ("h", "size = 2\n"), ("f", "size = 2\n"), ("g", 'from = ["h"]\nsize = 2\n'),
            ("sum", 'type = "add"\nfrom = ["f", "g"]\n'), ("out", "size = 1\n")))
        + "[values]\nx = [0.5, -0.3]\ny = 0.8\n")
    assert main(["derive", str(skip), "--show", "values", "--init", "1", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "layer `g`" in err and "Traceback" not in err
    for other in ("conv/cnn_tiny.toml", "recurrent/rnn_tiny.toml"):   # layers it cannot label
        assert main(["derive", str(EXAMPLES / other), "--show", "values", "-o", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("convolutional" in err or "rnn" in err), err
    assert SHOW_ITEMS == numbered.SHOW_ITEMS


def test_a_layer_type_the_picture_cannot_label_is_refused_by_name():
    class Layer:
        kind, name, index, sources, dense = "conv", "c1", 1, (0,), False

    class Net:
        layers = (Layer(),)

        class spec:
            source = "net.toml"
    with pytest.raises(SpecError, match=r"layer `c1` is a conv layer"):
        numbered.check_showable(Net(), ["values"])


@pytest.mark.skipif(not shutil.which(CHROMIUM), reason="needs Chromium")
def test_rendered_labels_apart_in_chromium(out):
    """Every picture with numbers in the HTML page: the real boxes of the labels (getBBox
    through the screen transform) intersect no other label and no neuron, at ≥ 9 pt."""
    playwright = pytest.importorskip("playwright.sync_api")
    measure = """() => Array.from(document.querySelectorAll("svg.sbp-numbers")).map(svg => {
      const box = el => { const b = el.getBBox(), m = el.getScreenCTM();
        return [b.x * m.a + m.e, b.y * m.d + m.f, (b.x + b.width) * m.a + m.e, (b.y + b.height) * m.d + m.f]; };
      return {labels: Array.from(svg.querySelectorAll("text.num")).map(t => ({box: box(t), text: t.textContent,
                size: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a})),
              circles: Array.from(svg.querySelectorAll("circle")).map(c => ({box: box(c)}))}; })"""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        for name in ("worked_2331", "softmax_classifier", "residual", "wide"):
            page.goto((out / f"{name}.html").as_uri())
            pictures = page.evaluate(measure)
            assert len(pictures) == 3, name
            for pic in pictures:
                labels = pic["labels"]
                assert len(labels) >= 8
                for lab in labels:
                    assert lab["size"] >= 12.0, (name, lab)         # 9 pt = 12 CSS px
                for a, b in itertools.combinations(labels, 2):
                    assert gap(a["box"], b["box"]) > 0, (name, a["text"], b["text"])
                for lab in labels:
                    for c in pic["circles"]:
                        assert circle_gap(lab["box"], c["box"]) > 0, (name, lab["text"])
        browser.close()


def gap(p, q) -> float:
    """Between two axis-aligned boxes (x0, y0, x1, y1); negative when they overlap."""
    return max(q[0] - p[2], p[0] - q[2], q[1] - p[3], p[1] - q[3])


def circle_gap(box, circle_box) -> float:
    """Between a box and the circle inscribed in ``circle_box``."""
    cx, cy = (circle_box[0] + circle_box[2]) / 2, (circle_box[1] + circle_box[3]) / 2
    r = (circle_box[2] - circle_box[0]) / 2
    dx = max(box[0] - cx, 0, cx - box[2])
    dy = max(box[1] - cy, 0, cy - box[3])
    return math.hypot(dx, dy) - r


@pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdflatex")),
                    reason="needs pdflatex and pdftotext")
@pytest.mark.parametrize("name", ["worked_2331", "residual", "wide"])
def test_pdf_labels_apart_on_the_page(out, name):
    """pdftotext -bbox-layout: each label of the first figure is where the layout put it
    (one offset for all), apart from the other labels and the neurons, at ≥ 9 pt (the height
    of its word against the 10 pt body text's)."""
    model = prepare(str(out / "wide.toml") if name == "wide" else name)
    pic = number_pictures(model, model.worked(), ["values"])["forward"]
    xml = subprocess.run(["pdftotext", "-bbox-layout", "-f", "1", "-l", "2", str(out / f"{name}.pdf"), "-"],
                         capture_output=True, text=True, check=True).stdout
    words = [(float(a), float(b), float(c), float(d), t) for a, b, c, d, t in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', xml)]
    body = np.median([w[3] - w[1] for w in words if w[4] in ("the", "then", "with")])   # 10 pt text
    k = pic.scale * PT_CM                                    # pt a picture cm
    labels = list(pic.edge_labels) + list(pic.labels)
    texts = {lab.tex.replace("-", "−") for lab in labels}
    found = [w for w in words if w[4] in texts and "." in w[4]]
    # one offset maps the layout to the page: the median over the labels of a unique text
    unique = [lab for lab in labels if sum(l2.tex == lab.tex for l2 in labels) == 1 and "." in lab.tex]
    offsets = [((w[0] + w[2]) / 2 - lab.x * k, (w[1] + w[3]) / 2 - lab.y * k)
               for lab in unique for w in found if w[4] == lab.tex.replace("-", "−")]
    ox, oy = np.median([o[0] for o in offsets]), np.median([o[1] for o in offsets])
    placed = []
    for lab in labels:
        if "." not in lab.tex:
            continue
        cx, cy = ox + lab.x * k, oy + lab.y * k
        near = [w for w in found if w[4] == lab.tex.replace("-", "−")
                and abs((w[0] + w[2]) / 2 - cx) < 4 and abs((w[1] + w[3]) / 2 - cy) < 4]
        assert len(near) == 1, (name, lab.tex)
        placed.append(near[0])
    assert len(placed) >= 8
    for w in placed:
        assert (w[3] - w[1]) / body * 10 >= 8.9, (name, w)      # ≥ 9 pt (to rounding)
    for a, b in itertools.combinations(placed, 2):
        assert gap(a[:4], b[:4]) > 0, (name, a[4], b[4])
    r = pic.pic.radius * k
    for n in pic.pic.nodes:
        if n.kind in ("input", "neuron", "output"):
            cx, cy = ox + n.x * k, oy + n.y * k
            for w in placed:
                assert circle_gap(w[:4], (cx - r, cy - r, cx + r, cy + r)) > 0, (name, w[4], n.key)


@pytest.mark.parametrize("preset,name", [("nielsen", "worked_2331"), ("bishop", "worked_2331"),
                                         ("goodfellow", "worked_2331"), ("ng", "worked_2331"),
                                         ("cs231n", "softmax_classifier")])
def test_every_preset_draws_the_same_numbers_in_its_letters(tmp_path, preset, name):
    """The numbers do not depend on the notation; the neurons' names and the legend do."""
    text = open(example_path(name)).read()
    pictures = {}
    for key, source in (("plain", text), (preset, text + f'\n[notation]\npreset = "{preset}"\n')):
        model = prepare(source)
        for view, pic in number_pictures(model, model.worked(), ["values", "delta"]).items():
            (tmp_path / f"{key}_{view}.svg").write_text(
                documents.render_number_svg(model, pic))
            pictures[key, view] = svg_numbers(tmp_path / f"{key}_{view}.svg")[0]
        names = ["".join(t.itertext()) for t in ET.parse(tmp_path / f"{key}_forward.svg").getroot().iter(f"{SVG}text")]
        pictures[key, "names"] = names
    for view in ("forward", "backward"):
        assert pictures["plain", view] == pictures[preset, view] and pictures["plain", view]
    assert pictures["plain", "names"] != pictures[preset, "names"]
