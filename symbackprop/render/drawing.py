"""Layout of the network picture: data only, drawn by templates.

``layout(network, notation)`` places the neurons in columns by layer, one
bias node per layer (a constant 1 feeding the next layer, its edges
labelled with the bias symbols), the loss box and the weight labels.  The
TikZ template (``network.tikz.j2``) and the SVG template
(``network.svg.j2``) draw the same data, so the picture in the PDF, the
HTML page and next to the Markdown is one picture.

Coordinates are in centimetres, y growing downwards (TikZ flips it with
``y=-1cm``).  Wide layers show their first neurons, a vertical ellipsis and
their last neuron; large weight matrices get labels on the edges leaving
their first shown neuron only, so the picture stays readable.

>>> from symbackprop.core.spec import parse_spec
>>> from symbackprop.core.network import build_network
>>> from symbackprop.core.notation import make_notation
>>> spec = parse_spec('inputs = 2\\nloss = "sse"\\n[[layer]]\\nsize = 1\\nactivation = "tanh"')
>>> net = build_network(spec)
>>> pic = layout(net, make_notation(net))
>>> [e.label.text for e in pic.edges if e.kind == "weight"]
['w^1_11', 'w^1_12']
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import sympy as sp

from ..core.network import Network
from ..core.notation import Notation

MAX_SHOWN = 5            # a layer with more neurons shows MAX_SHOWN - 1, ⋮, the last
MAX_LABELLED = 16        # a weight matrix with more entries labels one source's edges only
COLUMN = 3.6             # cm between layer columns
ROW = 1.7                # cm between neurons of a column
RADIUS = 0.42
WEIGHT_AT = 0.3          # a weight label sits 30 % along its edge (near the source) …
BIAS_AT = 0.6            # … a bias label nearer the target; both move along their edge
AT_CHOICES = tuple(round(0.12 + 0.02 * i, 3) for i in range(39))    # 0.12 … 0.88
LABEL_ROUNDS = 4         # rounds of moving each label away from the others
LABEL_W, LABEL_H = 0.95, 0.45  # cm a label covers, for keeping labels apart
SKIP_BAND = 1.6          # cm above the bias row through which skip edges curve


@dataclass(frozen=True)
class Label:
    """A symbol for the picture: LaTeX (TikZ) and base/superscript/subscript text (SVG)."""

    tex: str
    text: str
    base: str
    sup: str
    sub: str


@dataclass(frozen=True)
class DrawnNode:
    key: str                  # TikZ node name: n<l>_<j>, bias<l>, dots<l>, loss, target
    kind: str                 # input | neuron | output | bias | dots | loss
    x: float
    y: float
    label: Label | None
    delta: Label | None = None  # δ of a neuron (the backward picture); None for inputs


@dataclass(frozen=True)
class Edge:
    kind: str                 # weight | bias | loss | join (add, flatten: a copied entry) | skip
    source: DrawnNode
    target: DrawnNode
    label: Label | None
    at: float                 # where along the edge the label sits (0 … 1)
    lx: float                 # label position and angle (degrees, SVG sense), for SVG
    ly: float
    angle: float
    # a skip edge: the two control points of the curve drawn over the columns it skips
    # (cm), and its ends on the circles (for SVG; TikZ finds them itself)
    controls: tuple[tuple[float, float], ...] = ()
    ends: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Column:
    x: float
    title: str                # "input", "layer 1", …
    activation: str           # "" for the input column


# the loss under its box in words, not by its spec key
LOSS_WORDS = {"half_sse": "½ sum of squares", "sse": "sum of squares", "mse": "mean squared error",
              "cross_entropy": "cross-entropy", "binary_cross_entropy": "binary cross-entropy"}


@dataclass(frozen=True)
class Drawing:
    nodes: tuple[DrawnNode, ...]
    edges: tuple[Edge, ...]
    columns: tuple[Column, ...]
    loss: Label
    loss_name: str
    width: float
    height: float
    radius: float = RADIUS


def label(notation: Notation, sym: sp.Symbol) -> Label:
    """The symbol's LaTeX and its plain-text name split at ^ and _ (w^1_11 → w, 1, 11)."""
    text = notation.name(sym)
    return Label(notation.tex(sym), text, *split(text))


def split(text: str) -> tuple[str, str, str]:
    """A plain-text name's base, superscript and subscript: w^1_11 → (w, 1, 11),
    w^1_{1,11} → (w, 1, 1,11)."""
    m = re.fullmatch(r"([^^_]+)(?:\^([^_]+))?(?:_(.+))?", text)
    if m and not (m[2] or m[3]):        # x1 → x₁, w16 → w₁₆ (as name_tex writes them)
        m = re.fullmatch(r"([A-Za-z]+?)()([0-9]+)", text) or m
    if not m:
        return text, "", ""
    sub = m[3] or ""                    # w^1_{1,11} → 1,11 (the braces only group it)
    return m[1], m[2] or "", sub[1:-1] if sub.startswith("{") and sub.endswith("}") else sub


def shown(n: int) -> list[int | None]:
    """Indices drawn for a layer of n neurons; None marks the ellipsis."""
    return list(range(n)) if n <= MAX_SHOWN else list(range(MAX_SHOWN - 2)) + [None, n - 1]


def layout(network: Network, notation: Notation, column: float = COLUMN,
           row: float = ROW, place: bool = True) -> Drawing:
    """Positions and labels of every drawn neuron, bias node, edge and the loss.  A
    graph of layers keeps one column per layer in spec order; an edge that skips
    columns is drawn as a curve over them (in a band above the bias row).  ``column``,
    ``row``: the spacing (cm; the picture with numbers, ``render.numbered``, spreads out);
    ``place=False``: the name labels stay where they prefer (that picture places its own)."""
    sizes = [len(shown(n)) for n in network.sizes]
    skips = any(s < layer.index - 1 for layer in network.layers for s in layer.sources)
    band = SKIP_BAND if skips else 0.0
    height = (max(sizes) + 1) * row + band     # one extra row on top for the bias nodes
    columns, nodes = [], {}
    for l, n in enumerate(network.sizes):
        x = l * column
        layer = network.layers[l - 1] if l else None
        act = layer.activation.name if l else ""
        title = "input" if l == 0 else (f"layer {notation.layer_no(l)}" if layer.dense and layer.name == f"layer{l}"
                                        else f"{layer.name} ({layer.kind})" if not layer.dense
                                        else f"layer {l}: {layer.name}")
        columns.append(Column(x, title, "" if act == "identity" and not layer.dense else act))
        nodes.update(_column(network, notation, l, x, height, band, column, row))
    last = len(network.layers)
    loss_node = DrawnNode("loss", "loss", last * column + column * 0.75,
                          band + row + (height - band - row) / 2, None)
    edges = [e for layer in network.layers for e in _layer_edges(layer, notation, nodes, column, place)]
    edges += [Edge("loss", nodes[f"n{last}_{j}"], loss_node, None, 0, 0, 0, 0)
              for j in _visible(network.sizes[-1])]
    loss_label = Label(notation.loss, _loss_text(notation), *split(_loss_text(notation)))
    return Drawing(tuple(nodes.values()) + (loss_node,), tuple(edges), tuple(columns),
                   loss_label, LOSS_WORDS.get(network.spec.loss, network.spec.loss.replace("_", " ")),
                   loss_node.x + 1.0, height + row * 0.6)


def _visible(n: int) -> list[int]:
    return [j for j in shown(n) if j is not None]


def _column(network: Network, notation: Notation, l: int, x: float, height: float,
            band: float = 0.0, column: float = COLUMN, row: float = ROW) -> dict:
    """The drawn neurons of layer l, centred vertically below the skip band, and the
    bias node of the next layer when that one is dense."""
    idx = shown(network.sizes[l])
    top = band + row + (height - band - row - len(idx) * row) / 2 + row / 2
    nodes = {}
    for i, j in enumerate(idx):
        y = top + i * row
        if j is None:
            nodes[f"dots{l}"] = DrawnNode(f"dots{l}", "dots", x, y, None)
            continue
        sym = network.x[j] if l == 0 else network.layers[l - 1].a[j]
        kind = "input" if l == 0 else ("output" if l == len(network.layers) else "neuron")
        delta = label(notation, network.layers[l - 1].delta[j]) if l else None
        nodes[f"n{l}_{j}"] = DrawnNode(f"n{l}_{j}", kind, x, y, label(notation, sym), delta)
    if l < len(network.layers) and network.layers[l].dense:
        one = Label("1", "1", "1", "", "")
        nodes[f"bias{l + 1}"] = DrawnNode(f"bias{l + 1}", "bias", x + column / 2,
                                          band + row * 0.45, one)
    return nodes


def _layer_edges(layer, notation: Notation, nodes: dict, column: float = COLUMN,
                 place: bool = True) -> list[Edge]:
    """Weight edges (labelled when few, else those leaving the first source) and bias
    edges; an add or flatten layer's edges copy entry j of each source to its entry j."""
    l = layer.index
    if not layer.dense:
        return [_copy_edge(nodes[f"n{s}_{j}"], nodes[f"n{l}_{j}"], l - s > 1, column)
                for s in layer.sources for j in _visible(layer.n_out)]
    src = layer.sources[0]
    if src < l - 1:                 # a dense layer reading an earlier column: curves, unlabelled
        return [_copy_edge(nodes[f"n{src}_{k}"], nodes[f"n{l}_{j}"], True, column)
                for k in _visible(layer.n_in) for j in _visible(layer.n_out)]
    sources, targets = _visible(layer.n_in), _visible(layer.n_out)
    all_labels = layer.n_in * layer.n_out <= MAX_LABELLED
    planned = [("bias", nodes[f"bias{l}"], nodes[f"n{l}_{j}"], label(notation, layer.b[j]), BIAS_AT)
               for j in targets]
    for k in sources:
        for j in targets:
            lab = label(notation, layer.W[j, k]) if all_labels or k == sources[0] else None
            planned.append(("weight", nodes[f"n{src}_{k}"], nodes[f"n{l}_{j}"], lab, WEIGHT_AT))
    circles = [(n.x, n.y) for n in nodes.values() if n.kind != "dots"]
    at = _label_spots([(a, b, prefer) for _, a, b, lab, prefer in planned if lab], circles) \
        if place else [prefer for *_, lab, prefer in planned if lab]
    spots = iter(at)
    return [_edge(kind, a, b, lab, next(spots) if lab else prefer)
            for kind, a, b, lab, prefer in planned]


def _label_spots(edges: list, circles: list) -> list[float]:
    """Where along each edge (a, b, preferred t) its label sits, clear of the other labels
    and of the neurons: each in turn where it is farthest from those placed so far, then a
    few rounds of moving each label to where it is farthest from all the others (a greedy
    order alone leaves collisions where edges cross)."""
    at: list[float] = []
    for i, (a, b, prefer) in enumerate(edges):
        placed = [label_box(*edges[m][:2], at[m]) for m in range(i)]
        at.append(_best_spot(a, b, prefer, placed, circles))
    for _ in range(LABEL_ROUNDS):
        for i, (a, b, prefer) in enumerate(edges):
            others = [label_box(*edges[m][:2], at[m]) for m in range(len(edges)) if m != i]
            at[i] = _best_spot(a, b, prefer, others, circles)
    return at


def _best_spot(a: DrawnNode, b: DrawnNode, prefer: float, boxes: list, circles: list) -> float:
    def score(t):
        box = label_box(a, b, t)
        near = [o for o in boxes if abs(o[0][0] - box[0][0]) + abs(o[0][1] - box[0][1]) < 3 * LABEL_W]
        gaps = [box_gap(box, o) for o in near] + [circle_gap(box, c) for c in circles]
        return min(min(gaps, default=LABEL_W), LABEL_H), -abs(t - prefer)
    return max(AT_CHOICES, key=score)


def label_box(a: DrawnNode, b: DrawnNode, t: float) -> tuple:
    """The label of edge a→b at t as its four corners (cm): a LABEL_W × LABEL_H box
    centred on the edge and sloped along it, as TikZ and the SVG draw it."""
    angle = math.atan2(b.y - a.y, b.x - a.x)
    c, s = math.cos(angle), math.sin(angle)
    x, y = _along(a, b, t)
    w, h = LABEL_W / 2, LABEL_H / 2
    return tuple((x + dx * c - dy * s, y + dx * s + dy * c) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h)))


def box_gap(p: tuple, q: tuple) -> float:
    """The gap between two boxes (cm) along the axis that separates them best; negative
    when they overlap (separating axis theorem)."""
    best = -math.inf
    for poly in (p, q):
        for (x1, y1), (x2, y2) in ((poly[0], poly[1]), (poly[1], poly[2])):
            n = math.hypot(x2 - x1, y2 - y1)
            ax, ay = (x2 - x1) / n, (y2 - y1) / n
            pa = [ax * x + ay * y for x, y in p]
            qa = [ax * x + ay * y for x, y in q]
            best = max(best, min(pa) - max(qa), min(qa) - max(pa))
    return best


def circle_gap(box: tuple, centre: tuple) -> float:
    """The gap between a box and a neuron's circle (cm); negative when they overlap."""
    cx, cy = centre
    inside, dist = True, math.inf
    for i in range(4):
        (x1, y1), (x2, y2) = box[i], box[(i + 1) % 4]
        dx, dy = x2 - x1, y2 - y1
        t = max(0.0, min(1.0, ((cx - x1) * dx + (cy - y1) * dy) / (dx * dx + dy * dy)))
        dist = min(dist, math.hypot(cx - x1 - t * dx, cy - y1 - t * dy))
        inside &= dx * (cy - y1) - dy * (cx - x1) >= 0
    return -RADIUS if inside else dist - RADIUS


def _copy_edge(a: DrawnNode, b: DrawnNode, skip: bool, column: float = COLUMN) -> Edge:
    """An unweighted edge; one that skips columns curves over them through the band above
    the bias row: control points above its ends, ends on the circles toward them."""
    if not skip:
        return _edge("join", a, b, None, 0.5)
    lift = SKIP_BAND * 0.1          # straight up from its ends, across the band, down
    controls = ((a.x + column * 0.15, lift), (b.x - column * 0.15, lift))
    ends = tuple(_toward(n, c) for n, c in ((a, controls[0]), (b, controls[1])))
    e = _edge("skip", a, b, None, 0.5)
    return Edge(e.kind, a, b, None, 0.5, e.lx, e.ly, e.angle, controls, ends)


def _toward(n: DrawnNode, c: tuple[float, float]) -> tuple[float, float]:
    """The point of n's circle toward c."""
    dx, dy = c[0] - n.x, c[1] - n.y
    r = math.hypot(dx, dy)
    return round(n.x + RADIUS * dx / r, 4), round(n.y + RADIUS * dy / r, 4)


def _edge(kind: str, a: DrawnNode, b: DrawnNode, lab: Label | None, at: float) -> Edge:
    """An edge with its label ``at`` a fraction of the way from a to b."""
    lx, ly = _along(a, b, at)
    angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
    return Edge(kind, a, b, lab, at, round(lx, 4), round(ly, 4), round(angle, 3))


def _along(a: DrawnNode, b: DrawnNode, t: float) -> tuple[float, float]:
    return a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)


def _loss_text(notation: Notation) -> str:
    """The loss symbol as text (E, C, L, J, E_total)."""
    plain = {r"\mathcal{L}": "L", r"E_{\mathrm{total}}": "E_total"}
    return plain.get(notation.loss, notation.loss)
