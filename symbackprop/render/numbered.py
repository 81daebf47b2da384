"""The network picture with the worked example's numbers (``derive --show``): data only.

Three views of one layout, drawn by ``network_numbers.svg.j2`` / ``network_numbers.tikz.j2``:

- ``forward`` (``values``): each edge its weight or bias, z above and a below each
  neuron, the loss under its box;
- ``backward`` (``delta``, ``grads``): δ under each neuron, each edge its gradient
  ∂E/∂w (a bias edge ∂E/∂b), the arrows reversed: the error flows right to left;
- ``updated`` (``updates``): each edge the parameter after one gradient-descent step.

Every number comes from ``core.formatting`` (``fmt``; an update through ``step``, with the
digits that show its change).  An edge is coloured by the sign of its number (Okabe–Ito
blue positive, vermillion negative) and as wide as its magnitude allows.  Labels are
horizontal boxes sized from their characters (9 pt on the PDF page; the SVG is the same
picture at the same proportions), placed along their edges clear of each other, of the
neurons and of the neurons' own numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..core import formatting as numbers
from ..core.errors import SpecError
from .sandbox import allow
from .drawing import AT_CHOICES, LABEL_ROUNDS, RADIUS, Drawing, DrawnNode, Edge, Label, label, layout

SHOW_ITEMS = ("values", "grads", "delta", "updates")
VIEWS = {"forward": ("values",), "backward": ("delta", "grads"), "updated": ("updates",)}
LABELLED_KINDS = ("dense", "add", "flatten")   # layer types whose neurons and edges carry numbers
POSITIVE, NEGATIVE, ZERO = "#0072B2", "#D55E00", "#666666"   # Okabe–Ito blue, vermillion
FONT_PT = 9.0            # label size on the PDF page (the SVG keeps the same proportions)
PAGE_CM = 15.5           # the width the picture is scaled to (documents.drawing_context)
COLUMN, ROW = 4.4, 2.2   # cm between columns and rows: numbers need more room than names
PICTURE_DIGITS = 3       # significant digits on the picture (the tables give all of them)
MIN_WIDTH, MAX_WIDTH = 0.5, 3.2   # pt: an edge's width from its number's magnitude
PT_CM = 2.54 / 72.27
# a character's width in em, on the generous side of Computer Modern and DejaVu Serif
EM = {**{d: 0.64 for d in "0123456789"}, ".": 0.34, "−": 0.84, "-": 0.84, "+": 0.84,
      "e": 0.6, " ": 0.3, "×": 0.84}
PAD = 0.06               # cm (page) around a label's ink


@dataclass(frozen=True)
class NumberLabel:
    """One number on the picture: plain text (SVG, typographic minus), LaTeX (TikZ), its
    centre and box (cm, picture units) and what it is."""

    text: str
    tex: str
    x: float
    y: float
    w: float
    h: float
    kind: str                 # weight | bias | z | a | delta | loss
    node: str = ""            # the neuron (or loss) a z, a, δ or loss value belongs to


@dataclass(frozen=True)
class Stroke:
    """An edge as the picture with numbers draws it."""

    edge: Edge
    colour: str
    width: float              # pt on the page
    label: NumberLabel | None


@dataclass(frozen=True)
class NumberPicture:
    pic: Drawing
    view: str                 # forward | backward | updated
    strokes: tuple[Stroke, ...]
    labels: tuple[NumberLabel, ...]      # the neurons' numbers and the loss
    scale: float              # page cm per picture cm
    em: float                 # the labels' font size, picture cm
    subset: bool              # some edges unlabelled (a large layer)
    quantity: str             # what colours the edges: weight, gradient, updated value
    largest: str              # the largest magnitude shown (fmt), for the legend
    above: Label | None = None      # the neuron's number above it (z), below (a or δ)
    below: Label | None = None
    legend_y: float = 0.0     # picture cm: the legend's top, below the column titles
    height: float = 0.0       # with the legend
    edge_labels: tuple[NumberLabel, ...] = ()
    digits: int = PICTURE_DIGITS
    right: float = 0.0        # picture cm: the right edge, past the loss's words


for _cls in (NumberLabel, Stroke, NumberPicture):      # data for the (user) templates
    allow(_cls, list(_cls.__dataclass_fields__))


def check_showable(network, show) -> None:
    """Refuse ``--show`` for a network the picture cannot label: a layer type other than
    dense, add and flatten (by name), or a dense layer reading a layer that is not the one
    before it (its edges are curves without labels)."""
    for layer in network.layers:
        if layer.kind not in LABELLED_KINDS:
            raise SpecError(f"{network.spec.source}: layer `{layer.name}` is a {layer.kind} layer; "
                            f"--show {','.join(show)} labels the picture of dense, add and flatten "
                            f"layers only (a {layer.kind} layer's numbers are in the document's "
                            "tables). Derive without --show for the picture with names.")
        if layer.dense and layer.sources[0] < layer.index - 1:
            raise SpecError(f"{network.spec.source}: layer `{layer.name}` reads a layer that is "
                            "not the one before it; the picture draws those weights as curves "
                            f"without labels, so --show {','.join(show)} cannot put numbers on "
                            "them. Derive without --show for the picture with names.")


def views(show) -> list[str]:
    """The pictures ``show`` asks for, in document order."""
    return [v for v, items in VIEWS.items() if set(items) & set(show)]


def number_picture(model, worked, view: str, show, digits: int = PICTURE_DIGITS) -> NumberPicture:
    """The picture ``view`` with the numbers ``show`` asks for, to ``digits`` significant
    digits (at most PICTURE_DIGITS: the document's tables give them all)."""
    net, nt = model.network, model.notation
    digits = min(digits, PICTURE_DIGITS)
    # the picture's width (drawing.layout: the loss 0.75 columns right of the last layer,
    # 1 cm beyond it, 1 cm margin on the left) fixes its scale on the page, and the scale
    # the labels' size in picture cm; a row holds a neuron, a label above, one below
    scale = round(min(1.0, PAGE_CM / (len(net.layers) * COLUMN + 0.75 * COLUMN + 2.0)), 3)
    em = FONT_PT * PT_CM / scale
    line = _size("0", "0", em, scale)[1]
    pic = layout(net, nt, COLUMN, max(ROW, 2 * RADIUS + 3.4 * line), place=False)
    value_of = _quantities(model, worked)
    fixed = _node_labels(net, pic, worked, view, show, em, scale, digits)
    on_edges = {"forward": "values" in show, "backward": "grads" in show,
                "updated": True}[view]
    drawn = [e for e in pic.edges if not (view == "backward" and e.kind == "bias" and not on_edges)]
    raw = {id(e): value_of[view](e) if on_edges else None for e in drawn}
    texts = {id(e): _texts(view, e, raw[id(e)], value_of, digits) for e in drawn
             if raw[id(e)] is not None and e.label is not None}
    spots = _place([(e, *_size(*texts[id(e)], em, scale)) for e in drawn if id(e) in texts],
                   pic, fixed)
    mags = [abs(float(v)) for v in raw.values() if v is not None and _finite(v)]
    top = max(mags, default=0.0)
    strokes = []
    for e in drawn:
        v = raw[id(e)]
        lab = None
        if id(e) in texts:
            (text, tex), (x, y, w, h) = texts[id(e)], spots[id(e)]
            lab = NumberLabel(text, tex, x, y, w, h, "bias" if e.kind == "bias" else "weight")
        strokes.append(Stroke(e, _colour(v), _width(v, top), lab))
    subset = any(n.kind == "dots" for n in pic.nodes) or any(
        e.kind == "weight" and e.label is None for e in pic.edges)
    quantity = {"forward": "weight", "backward": "gradient", "updated": "updated value"}[view]
    above, below = _legend_names(net, nt, view, show)
    return NumberPicture(pic, view, tuple(strokes), tuple(fixed), scale, round(em, 4), subset,
                         quantity if on_edges else "", numbers.fmt(top, digits, tex=False),
                         above, below, round(pic.height - 0.75 + 0.95 / scale, 3),
                         round(pic.height - 0.75 + 1.75 / scale, 3),
                         tuple(s.label for s in strokes if s.label), digits,
                         round(max(pic.width + 0.6, pic.nodes[-1].x + 1.5 / scale), 3))


def _quantities(model, worked) -> dict:
    """Each view's number of an edge: the parameter (forward), its gradient (backward: a
    tied name's summed over its places), its value after the step (updated)."""
    d, nt = model.derivation, model.notation

    def param(e: Edge):
        return _parameter(model.network, e)

    def grad(e):
        p = param(e)
        if p is None:
            return None
        name = nt.names.get(p)
        syms = [s for s, n in nt.names.items() if n == name] if name and nt.tied(name) else [p]
        return worked.value(sp.Add(*[d.gradient(s) for s in syms]))

    return {"forward": lambda e: None if param(e) is None else worked.numbers[param(e)],
            "backward": grad,
            "updated": lambda e: None if param(e) is None else worked.updated_numbers[param(e)]}


def _parameter(network, e: Edge):
    """The weight or bias an edge stands for, None for other edges."""
    if e.kind not in ("weight", "bias"):
        return None
    l, j = (int(i) for i in e.target.key[1:].split("_"))
    layer = network.layers[l - 1]
    if e.kind == "bias":
        return layer.b[j]
    return layer.W[j, int(e.source.key[1:].split("_")[1])]


def _texts(view: str, e: Edge, v, value_of, digits: int) -> tuple[str, str]:
    """The label's plain text and LaTeX; an update with the digits that show its change."""
    if view == "updated":
        old = value_of["forward"](e)
        plain, tex = numbers.step(v, old, digits, tex=False), numbers.step(v, old, digits)
    else:
        plain, tex = numbers.fmt(v, digits, tex=False), numbers.fmt(v, digits)
    return plain.replace("-", "−"), tex


def _node_labels(net, pic: Drawing, worked, view, show, em, scale, digits) -> list[NumberLabel]:
    """z above and a below each neuron (forward), δ below (backward), the loss under its box."""
    out = []
    for n in pic.nodes:
        if n.kind in ("input", "neuron", "output"):
            l, j = (int(i) for i in n.key[1:].split("_"))
            layer = net.layers[l - 1] if l else None
            wanted = []
            if view == "forward" and "values" in show:
                if layer is not None:
                    wanted.append(("z", worked.numbers[layer.z[j]], -1))
                wanted.append(("a", worked.numbers[layer.a[j] if layer else net.x[j]], 1))
            if view == "backward" and "delta" in show and layer is not None:
                wanted.append(("delta", worked.numbers[layer.delta[j]], 1))
            for kind, v, side in wanted:
                out.append(_beside(n, kind, v, side, RADIUS, em, scale, digits))
        elif n.kind == "loss" and view == "forward" and "values" in show:
            out.append(_beside(n, "loss", worked.loss, 1, 0.4, em, scale, digits))
    return out


def _beside(n: DrawnNode, kind: str, v, side: int, r: float, em: float, scale: float,
            digits: int) -> NumberLabel:
    """A neuron's number just above (side −1) or below (+1) its circle of radius r."""
    plain, tex = numbers.fmt(v, digits, tex=False).replace("-", "−"), numbers.fmt(v, digits)
    w, h = _size(plain, tex, em, scale)
    return NumberLabel(plain, tex, n.x, round(n.y + side * (r + 0.08 / scale + h / 2), 4),
                       w, h, kind, n.key)


def _legend_names(net, nt, view, show):
    """The letters the legend explains: above a neuron (z), below it (a, or δ)."""
    first = net.layers[0]
    if view == "forward" and "values" in show:
        return label(nt, first.z[0]), label(nt, first.a[0])
    if view == "backward" and "delta" in show:
        return None, label(nt, first.delta[0])
    return None, None


def _size(text: str, tex: str, em: float, scale: float) -> tuple[float, float]:
    """A label's box (picture cm): its characters' widths (the wider of the plain text and
    the LaTeX, where 1.5e-05 is 1.5 × 10⁻⁵), one line high, and padding."""
    mant, _, power = tex.partition(r" \times 10^{")
    ems = max(sum(EM.get(c, 0.7) for c in text),
              sum(EM.get(c, 0.7) for c in mant) + (0.84 + 0.56 + 1.28 + 0.75 * sum(
                  EM.get(c, 0.7) for c in power.rstrip("}")) if power else 0))
    return round(ems * em + 2 * PAD / scale, 4), round(1.15 * em + 2 * PAD / scale, 4)


def _place(items: list, pic: Drawing, fixed: list[NumberLabel]) -> dict:
    """Each labelled edge's label centre and box, along its edge where it is farthest from
    the other labels, the neurons and the fixed labels: greedily, then rounds of moving
    each label to its best spot among the others (as ``drawing._label_spots``)."""
    circles = [(n.x, n.y, RADIUS if n.kind not in ("bias", "loss") else 0.45)
               for n in pic.nodes if n.kind != "dots"]
    fixed_boxes = [_box(f.x, f.y, f.w, f.h) for f in fixed]
    at: list[float] = []

    def best(i, others):
        e, w, h = items[i]
        pref = 0.3 if e.kind == "weight" else 0.6
        # only what comes within the score's cap (0.3) of the edge's spots can matter
        reach = _box((e.source.x + e.target.x) / 2, (e.source.y + e.target.y) / 2,
                     abs(e.target.x - e.source.x) + w + 0.7, abs(e.target.y - e.source.y) + h + 0.7)
        near = [o for o in others if _gap(reach, o) < 0]
        round_ = [c for c in circles if _circle_gap(reach, c) < 0]

        def score(t):
            box = _box(*_along(e, t), w, h)
            gaps = [_gap(box, o) for o in near] + [_circle_gap(box, c) for c in round_]
            return min(min(gaps, default=1.0), 0.3), -abs(t - pref)
        return max(AT_CHOICES, key=score)

    for i in range(len(items)):
        at.append(best(i, fixed_boxes + [_box(*_along(items[m][0], at[m]), *items[m][1:])
                                         for m in range(i)]))
    for _ in range(LABEL_ROUNDS + 2):
        for i in range(len(items)):
            others = fixed_boxes + [_box(*_along(items[m][0], at[m]), *items[m][1:])
                                    for m in range(len(items)) if m != i]
            at[i] = best(i, others)
    return {id(e): (*(round(c, 4) for c in _along(e, t)), w, h) for (e, w, h), t in zip(items, at)}


def _along(e: Edge, t: float) -> tuple[float, float]:
    a, b = e.source, e.target
    return a.x + t * (b.x - a.x), a.y + t * (b.y - a.y)


def _box(x, y, w, h) -> tuple[float, float, float, float]:
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def _gap(p, q) -> float:
    """The gap between two axis-aligned boxes; negative when they overlap."""
    return max(q[0] - p[2], p[0] - q[2], q[1] - p[3], p[1] - q[3])


def _circle_gap(box, c) -> float:
    x, y, r = c
    dx = max(box[0] - x, 0.0, x - box[2])
    dy = max(box[1] - y, 0.0, y - box[3])
    return (dx * dx + dy * dy) ** 0.5 - r


def _finite(v) -> bool:
    try:
        return abs(float(v)) < float("inf")
    except (TypeError, ValueError):
        return False


def _colour(v) -> str:
    if v is None or not _finite(v) or float(v) == 0:
        return ZERO
    return POSITIVE if float(v) > 0 else NEGATIVE


def _width(v, top: float) -> float:
    """pt: MIN_WIDTH for 0 up to MAX_WIDTH for the largest magnitude of the picture."""
    if v is None or not _finite(v) or top == 0:
        return 1.0
    return round(MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * abs(float(v)) / top, 2)
