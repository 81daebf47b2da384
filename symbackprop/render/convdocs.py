"""Documents of convolutional networks (issue #18): md (+ SVG), tex, pdf, html.

The templates ``templates/conv.*.j2`` hold the prose and the layout; this module hands
them the derivation's index formulas (SymPy, printed by ``sympy.latex``), the worked
example's numbers (formatted by ``core.formatting``) and the picture's geometry: feature
maps drawn as stacked grids, one grid per channel, with the receptive field of one output
entry marked on the map it reads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import markupsafe
import numpy as np
import sympy as sp

from ..core import formatting as numbers
from ..core.convderive import real_reads
from ..core.symbols import A, Z
from .documents import STATIC, DocumentError, compile_pdf, markdown_to_html, tex_escape
from .environment import environment

MAX_GRID = 12          # maps up to this many rows …
MAX_COLS = 8           # … and columns are printed as numbers
MAX_TERMS = 12         # terms of a written-out gradient sum
SVG_MAP = 150.0        # the larger side of a drawn map, px


@dataclass(frozen=True)
class MapBox:
    """One feature map in the picture: ``channels`` grids of rows × cols cells, the first
    channel in front at (x, y), each further one shifted by (dx, −dy)."""

    x: float
    y: float
    cell: float
    rows: int
    cols: int
    channels: int
    dx: float
    dy: float
    label: str
    shape: str
    grid: bool

    @property
    def width(self) -> float:
        return self.cols * self.cell

    @property
    def height(self) -> float:
        return self.rows * self.cell


@dataclass(frozen=True)
class Mark:
    """A rectangle on a map's front grid (``kind``: field, the receptive field; cell, the
    output entry it makes) and where the two are joined."""

    x: float
    y: float
    w: float
    h: float
    kind: str


@dataclass(frozen=True)
class Picture:
    maps: tuple[MapBox, ...]
    marks: tuple[Mark, ...]
    links: tuple[tuple[float, float, float, float], ...]
    tail: str                      # the dense part, in words
    width: float
    height: float


def _grid_of(shape) -> tuple[int, int, int]:
    return (shape[0], 1, shape[1]) if len(shape) == 2 else tuple(shape)


def picture(spec) -> Picture:
    """The maps from the input to the last map, and each conv/pool layer's receptive field
    of its middle output entry on the map it reads."""
    shapes = [spec.input_shape] + [ls.out_shape for ls in spec.layers if len(ls.out_shape) > 1]
    names = ["input x"] + [f"{ls.name} ({ls.type})" for ls in spec.layers if len(ls.out_shape) > 1]
    biggest = max(max(_grid_of(s)[1:]) for s in shapes)
    maps, x = [], 20.0
    for shape, label in zip(shapes, names):
        C, H, W = _grid_of(shape)
        cell = min(16.0, SVG_MAP / biggest)
        shift = min(8.0, 40.0 / max(C, 1))
        maps.append(MapBox(x + 0, 40.0 + shift * (C - 1), cell, H, W, C, shift, shift, label,
                           "×".join(map(str, shape)), cell >= 4))
        x += W * cell + shift * (C - 1) + 60
    marks, links = [], []
    convs = [ls for ls in spec.layers if len(ls.out_shape) > 1]
    for k, ls in enumerate(convs):
        src, dst = maps[k], maps[k + 1]
        kh, kw = (1, ls.kernel[0]) if len(ls.kernel) == 1 else ls.kernel
        sh, sw = (1, ls.stride[0]) if len(ls.stride) == 1 else ls.stride
        ph, pw = (0, ls.padding[0]) if len(ls.padding) == 1 else ls.padding
        i0, j0 = dst.rows // 2, dst.cols // 2
        field = Mark(src.x + (sw * j0 - pw) * src.cell, src.y + (sh * i0 - ph) * src.cell,
                     kw * src.cell, kh * src.cell, "field")
        out = Mark(dst.x + j0 * dst.cell, dst.y + i0 * dst.cell, dst.cell, dst.cell, "cell")
        marks += [field, out]
        links.append((field.x + field.w, field.y, out.x, out.y))
        links.append((field.x + field.w, field.y + field.h, out.x, out.y + out.h))
    dense = [ls for ls in spec.layers if len(ls.out_shape) == 1 and ls.type == "dense"]
    tail = " → ".join(f"{ls.name} ({ls.out_shape[0]}, {ls.activation})" for ls in dense)
    height = max(m.y + m.height for m in maps) + 40
    return Picture(tuple(maps), tuple(marks), tuple(links), "flatten → " + tail, x + 10, height)


# ---- the worked example ------------------------------------------------------
def _grids(arr: np.ndarray, shape) -> list | None:
    """A map as [channel][row][col] (None when too large to print)."""
    C, H, W = _grid_of(shape)
    if H > MAX_GRID or W > MAX_COLS:
        return None
    if len(shape) == 2:                  # a 1-D map [C][L]: one C × L matrix
        return [np.asarray(arr).reshape(C, W).tolist()]
    return np.asarray(arr).reshape(C, H, W).tolist()


def worked_context(model, worked) -> dict | None:
    if worked is None:
        return None
    params, ev, new, rate = worked
    layers = []
    for ls, a, d in zip(model.spec.layers, ev.a[1:], ev.delta):
        shape = ls.out_shape
        layers.append({"layer": ls, "a": _grids(a[:, 0], shape) if len(shape) > 1 else None,
                       "vector": a[:, 0].tolist() if len(shape) == 1 else None,
                       "delta": _grids(d[:, 0], shape) if len(shape) > 1 else None,
                       "delta_vector": d[:, 0].tolist() if len(shape) == 1 else None,
                       "summary": (float(a.min()), float(a.max()))})
    grads = []
    for key, g in ev.gradients.items():
        small = g.size <= 144
        wide = g.ndim == 2 and g.shape[1] > 6          # printed transposed, to fit the page
        grads.append({"key": key, "shape": "×".join(map(str, g.shape)), "transposed": wide,
                      "grad": _matrices(g.T if wide else g) if small else None,
                      "norm": float(np.linalg.norm(g))})
    return {"loss": ev.loss, "rate": rate, "layers": layers, "grads": grads,
            "x": _grids(ev.a[0][:, 0], model.spec.input_shape),
            "kernel": _kernel_instance(model, ev, params, new), "pool": _pool_instance(model, ev)}


def _matrices(g: np.ndarray) -> list:
    """An array as a list of 2-D blocks: [(label indices, rows)]."""
    if g.ndim == 1:
        return [((), [g.tolist()])]
    if g.ndim == 2:
        return [((), g.tolist())]
    if g.ndim == 3:
        return [((o,), g[o].tolist()) for o in range(g.shape[0])]     # rows: input channels
    return [((o, c), g[o, c].tolist()) for o in range(g.shape[0]) for c in range(g.shape[1])]


def _kernel_instance(model, ev, params, new) -> dict | None:
    """∂E/∂K_{0,0,0,0} of the first conv layer written out: Σ δ · a with the numbers."""
    convs = [ls for ls in model.spec.layers if ls.type.startswith("conv")]
    if not convs:
        return None
    ls = convs[0]
    k = ls.index - 1
    a_in = ev.a[k][:, 0].reshape(_grid_of(ls.in_shape))
    d = ev.delta[k][:, 0].reshape(_grid_of(ls.out_shape))
    kh, kw = (1, ls.kernel[0]) if len(ls.kernel) == 1 else ls.kernel
    sh, sw = (1, ls.stride[0]) if len(ls.stride) == 1 else ls.stride
    ph, pw = (0, ls.padding[0]) if len(ls.padding) == 1 else ls.padding
    terms = []
    for i in range(d.shape[1]):
        for j in range(d.shape[2]):
            r, s = sh * i - ph, sw * j - pw
            if 0 <= r < a_in.shape[1] and 0 <= s < a_in.shape[2]:
                terms.append({"i": i, "j": j, "r": r, "s": s, "delta": float(d[0, i, j]),
                              "a": float(a_in[0, r, s])})
    key = f"W{ls.index}"
    index = (0,) * params[key].ndim
    total = float(ev.gradients[key][index])
    scale = 1.0 / ev.losses.shape[0] if ev.batch == "mean" else 1.0
    kept = [t for t in terms if t["delta"] != 0]
    return {"layer": ls, "terms": kept[:MAX_TERMS], "more": len(kept) - MAX_TERMS,
            "n_terms": len(terms), "zeros": len(terms) - len(kept), "positions": math.prod(ls.out_shape[1:]), "total": total,
            "scale": scale, "old": float(params[key][index]), "new": float(new[key][index]),
            "input_name": "x" if ls.index == 1 else f"a^{{{ls.index - 1}}}"}


def _pool_instance(model, ev) -> dict | None:
    """The first max-pool layer's first window: its entries and where δ goes."""
    pools = [ls for ls in model.spec.layers if ls.type == "maxpool"]
    if not pools:
        return None
    ls = pools[0]
    k = ls.index - 1
    a_in = ev.a[k][:, 0].reshape(_grid_of(ls.in_shape))
    kh, kw = (1, ls.kernel[0]) if len(ls.kernel) == 1 else ls.kernel
    ph, pw = (0, ls.padding[0]) if len(ls.padding) == 1 else ls.padding
    window = [[float(a_in[0, r - ph, s - pw]) if 0 <= r - ph < a_in.shape[1]
               and 0 <= s - pw < a_in.shape[2] else None for s in range(kw)] for r in range(kh)]
    flat = [(v if v is not None else -math.inf) for row in window for v in row]
    best = flat.index(max(flat))
    d = ev.delta[k][:, 0].reshape(_grid_of(ls.out_shape))
    return {"layer": ls, "window": window, "u": best // kw, "v": best % kw,
            "ties": flat.count(max(flat)), "delta": float(d[0, 0, 0])}


# ---- rendering ----------------------------------------------------------------
def _env(tex: bool, autoescape: bool = False):
    """The templates' environment (Jinja's own delimiters: conv.body.j2 serves md and tex)."""
    env = environment(None, autoescape=autoescape)
    env.filters["tex"] = lambda e: sp.latex(e)
    env.filters["num"] = lambda x, digits=6: numbers.fmt(x, digits)
    env.filters["texescape"] = tex_escape
    return env


def context(model, worked, digits: int) -> dict:
    spec = model.spec
    first = next((f for f in model.derivation.layers if f.layer.type.startswith("conv")), None)
    return {"spec": spec, "d": model.derivation, "loss": model.notation.loss, "Z": Z, "A": A,
            "worked": worked_context(model, worked), "digits": digits, "pic": picture(spec),
            "reads": real_reads(first.layer) if first is not None else None,
            "name": spec.name}


def make_conv_documents(model, formats, stem: str, worked=None, only=None, digits: int = 6,
                        templates=None, detail: str = "layer", fragment: bool = False,
                        equations: bool = False, init=None, **dense_only) -> dict[str, str | bytes]:
    """File name → content of every asked format; options written for dense networks
    (--param, --templates, --equations, --fragment, and any later ``make_documents``
    option given a value) are refused by name."""
    later = [(f"--{key}", value) for key, value in dense_only.items()]
    for flag, given in [("--param", only), ("--templates", templates),
                        ("--equations", equations), ("--fragment", fragment)] + later:
        if given:
            raise DocumentError(f"{flag} is not available for convolutional networks yet "
                                "(issue #18): their document is written per layer, in index "
                                "form; derive without it.")
    ctx = context(model, worked, digits)
    files: dict[str, str | bytes] = {}
    for fmt in dict.fromkeys(formats):
        if fmt == "md":
            files[f"{stem}.svg"] = _env(False, True).get_template("conv.svg.j2").render(**ctx)
            files[f"{stem}.md"] = _env(False).get_template("conv.md.j2").render(
                figure=f"{stem}.svg", svg=None, **ctx)
        elif fmt in ("tex", "pdf"):
            tex = _env(True).get_template("conv.tex.j2").render(**ctx).lstrip()
            files[f"{stem}.{fmt}"] = tex if fmt == "tex" else compile_pdf(tex)
        elif fmt == "html":
            svg = _env(False, True).get_template("conv.svg.j2").render(**ctx)
            md = _env(False).get_template("conv.md.j2").render(figure=None, svg=svg, **ctx)
            katex = STATIC / "katex"
            files[f"{stem}.html"] = _env(False, True).get_template("derivation.html.j2").render(
                title=spec_title(model), body=markupsafe.Markup(markdown_to_html(md)),
                katex_css=markupsafe.Markup((katex / "katex.inline.min.css").read_text("utf-8")),
                katex_js=markupsafe.Markup((katex / "katex.min.js").read_text("utf-8")))
        else:
            raise DocumentError(f"unknown format {fmt!r}; the formats are: md, tex, pdf, html.")
    return files


def spec_title(model) -> str:
    return model.spec.name
