"""The documents of a recurrent spec (issue #19): md (+ svg), tex, pdf, html.

Python gathers data only — the derivation's formulas as SymPy objects, the worked
example's numbers (sequence 1 of the spec, float64), the layout of the unrolled
network — and ``templates/rnn.md.j2``, ``rnn.tex.j2``, ``rnn.svg.j2`` hold every word
and all layout.  LaTeX comes from ``sympy.latex`` with the documents' symbol names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import markupsafe
import numpy as np
import sympy as sp

from ..core.bptt import RecurrentDerivation
from ..core.formatting import fmt
from ..core.symbols import A, S, Y, Z
from .documents import STATIC, TEX_SYNTAX, DocumentError, compile_pdf, markdown_to_html, tex_escape
from ..numeric.vectorised import MODULES
from .environment import environment, number_filters

SHOWN_STEPS = 8           # the picture and the tables show at most the last this many steps …
SHOWN_UNITS = 3           # … and this many hidden units
SYMBOL = re.compile(r"(x|y|h|z|o|yhat|delta|deltay)([0-9]+)_([0-9]+)|([WUVbc])_([0-9]+)(?:_([0-9]+))?")
HEADS = {"x": "x", "y": "y", "h": "h", "z": "z", "o": "o", "yhat": r"\hat{y}", "delta": r"\delta",
         "deltay": r"\delta^{y}"}


def symbol_tex(s: sp.Symbol) -> str:
    """The documents' LaTeX of an unrolled symbol: delta2_1 → δ_{2,1}, U_1_2 → U_{12}."""
    m = SYMBOL.fullmatch(s.name)
    if m is None:
        return sp.latex(s)
    if m[1]:
        return f"{HEADS[m[1]]}_{{{m[2]},{m[3]}}}"
    return f"{m[4]}_{{{m[5]}{m[6] or ''}}}"


def tex(expr, names: dict | None = None) -> str:
    """sympy.latex with the unrolled symbols' names (and ``names`` for generic symbols)."""
    expr = sp.sympify(expr)
    table = {s: symbol_tex(s) for s in expr.free_symbols if isinstance(s, sp.Symbol)}
    table.update(names or {})
    return sp.latex(expr, symbol_names=table)


@dataclass(frozen=True)
class Step:
    """One time step of the worked example (sequence 1)."""

    t: int
    x: list
    z: list
    h: list
    delta: list
    yhat: list | None
    y: list | None
    deltay: list | None
    jacobian_norm: float     # ‖∂h_T/∂h_t‖₂ for this t (t = 0 … T − 1), or None at T


@dataclass(frozen=True)
class Picture:
    """The unrolled network: one box per vector, placed on a grid (data only)."""

    width: float
    height: float
    nodes: tuple       # (name, kind, step, column, row)
    edges: tuple       # (from name, to name, label, kind)

    @property
    def pos(self) -> dict:
        """name → (column, row): row 0 the inputs, 1 the states, 2 the outputs and E."""
        return {name: (col, row) for name, _, _, col, row in self.nodes}


def unrolled_picture(d: RecurrentDerivation, T: int) -> Picture:
    """x_t below h_t, ŷ_t above it (where there is an output), h_{t−1} → h_t along the row;
    the state before the first step drawn on the left (h_0, or h_{T−8} for a long sequence:
    the last SHOWN_STEPS steps are drawn), the loss E on the right."""
    steps_out = d.recurrence.outputs_at(T)
    first = max(1, T - SHOWN_STEPS + 1)
    nodes, edges = [(f"h{first - 1}", "h", first - 1, 0, 1)], []
    for t in range(first, T + 1):
        c = t - first + 1
        nodes += [(f"x{t}", "x", t, c, 0), (f"h{t}", "h", t, c, 1)]
        edges += [(f"x{t}", f"h{t}", "W", "input"), (f"h{t - 1}", f"h{t}", "U", "recurrent")]
        if t in steps_out:
            nodes.append((f"y{t}", "y", t, c, 2))
            edges += [(f"h{t}", f"y{t}", "V", "output"), (f"y{t}", "E", "", "loss")]
    nodes.append(("E", "E", T, T - first + 2, 2))
    return Picture(float(T - first + 3), 3.0, tuple(nodes), tuple(edges))


@dataclass(frozen=True)
class Worked:
    steps: tuple
    params: dict
    gradients: dict
    updated: dict
    rate: float
    loss: float
    sequences: int
    spectral_norm: float
    by_step: dict            # (key, j, k) → [(t, δ_{t,j}, source_{t,k}, product)] for U and W
    by_step_total: dict      # (key, j, k) → sequence 1's Σ_t of the products


def worked_example(d: RecurrentDerivation, params, ev, rate: float) -> Worked:
    """The numbers of sequence 1 (and the batch's gradients, loss and update)."""
    T = ev.z.shape[0]
    steps_out = d.recurrence.outputs_at(T)
    norms = _jacobian_norms(d, params, ev)
    steps = []
    for t in range(1, T + 1):
        i = steps_out.index(t) if t in steps_out else None
        y = None if i is None else list(_targets(d, t, i))
        steps.append(Step(t, ev_col(d.spec.recurrence.sequences[0].x[t - 1]), list(ev.z[t - 1, :, 0]),
                          list(ev.h[t, :, 0]), list(ev.delta[t - 1, :, 0]),
                          None if i is None else list(ev.outputs[i, :, 0]), y,
                          None if i is None else list(ev.deltay[i, :, 0]), norms[t - 1]))
    by_step = {}
    H = d.hidden
    X = ev_x(d)
    for j in range(min(H, 2)):
        for k in range(min(H, 2)):
            by_step[("U1", j, k)] = [(t, ev.delta[t - 1, j, 0], ev.h[t - 1, k, 0],
                                      ev.delta[t - 1, j, 0] * ev.h[t - 1, k, 0]) for t in range(1, T + 1)]
    by_step[("W1", 0, 0)] = [(t, ev.delta[t - 1, 0, 0], X[t - 1][0], ev.delta[t - 1, 0, 0] * X[t - 1][0])
                             for t in range(1, T + 1)]
    updated = {k: params[k] - rate * ev.gradients[k] for k in params}
    totals = {key: float(sum(p for *_, p in rows)) for key, rows in by_step.items()}
    return Worked(tuple(steps), params, ev.gradients, updated, rate, ev.loss, ev.losses.shape[0],
                  float(np.linalg.norm(params["U1"], 2)), by_step, totals)


def ev_col(row) -> list:
    return [float(v) for v in row]


def ev_x(d: RecurrentDerivation) -> list:
    return [ev_col(r) for r in d.spec.recurrence.sequences[0].x]


def _targets(d: RecurrentDerivation, t: int, i: int):
    return ev_col(d.spec.recurrence.sequences[0].y[i])


def _jacobian_norms(d: RecurrentDerivation, params, ev) -> list:
    """‖∂h_T/∂h_t‖₂ for t = 0 … T − 1 of sequence 1, the product
    diag(f′(z_T)) U ⋯ diag(f′(z_{t+1})) U built from the right end (T: None)."""
    T, H = ev.z.shape[0], ev.z.shape[1]
    U = params["U1"]
    J, norms = np.eye(H), [None] * (T + 1)
    slope = sp.lambdify([Z, A], d.cell.slope, MODULES)
    for t in range(T, 0, -1):
        fp = np.broadcast_to(slope(ev.z[t - 1, :, 0], ev.h[t, :, 0]), (H,))
        J = J @ (fp[:, None] * U)          # ∂h_t/∂h_{t−1} = diag(f′(z_t)) U
        norms[t - 1] = float(np.linalg.norm(J, 2))
    return norms[:T]


def context(model, worked=None, digits: int = 6) -> dict:
    """Everything the rnn templates read."""
    d: RecurrentDerivation = model.derivation
    spec, r = model.spec, d.recurrence
    T = r.steps or 3
    out_eqn = d.output.output_delta
    generic = {A: r"\hat{y}_{t,k}", Y: "y_{t,k}", Z: "o_{t,k}", S: r"\textstyle\sum_i y_{t,i}"}
    delta_y = None if out_eqn.closed is None else tex(out_eqn.closed, generic)
    u = d.unrolled(min(T, 3))
    example_t = min(T, 3) - 1 if min(T, 3) > 1 else 1
    return {
        "spec": spec, "r": r, "T": T, "d": d, "H": d.hidden, "m": d.n_out, "n": spec.inputs,
        "act": spec.layers[0].activation, "out_act": spec.layers[1].activation,
        "loss": d.output.loss, "f": tex(d.cell.f, {Z: "z"}), "fprime": tex(d.cell.fprime, {Z: "z"}),
        "fprime_h": tex(d.cell.slope, {A: "h_{t,j}", Z: "z_{t,j}"}),
        "has_output_form": d.cell.fprime_output is not None,
        "g": tex(d.output.output.local.f, {Z: "o"}) if not d.output.output.activation.layerwise else None,
        "loss_term": tex(d.output.loss.term(A, Y), {A: r"\hat{y}_{t,k}", Y: "y_{t,k}"}),
        "delta_y": delta_y, "time_scale": tex(d.time_scale(T)), "steps_out": r.outputs_at(T),
        "example_t": example_t,
        "delta_example": [(j, tex(u.delta_formula(example_t, j))) for j in range(min(d.hidden, SHOWN_UNITS))],
        "worked": worked, "shown_steps": SHOWN_STEPS, "shown_units": SHOWN_UNITS,
        "pic": unrolled_picture(d, T),
        "digits": digits,
    }


def _env(digits: int = 6, **options):
    env = number_filters(environment(None, **options), digits)
    env.filters["tex"] = tex
    env.filters["texescape"] = tex_escape
    env.filters["vec"] = lambda xs: ", ".join(fmt(float(v), digits) for v in xs)
    return env


def render_rnn_md(model, worked=None, svg_src: str | None = None, svg: str | None = None,
                  digits: int = 6) -> str:
    return _env(digits).get_template("rnn.md.j2").render(**context(model, worked), svg_src=svg_src,
                                                         svg=svg)


def render_rnn_svg(model) -> str:
    c = context(model)
    return _env(autoescape=True).get_template("rnn.svg.j2").render(pic=c["pic"], name=model.spec.name)


def render_rnn_tex(model, worked=None, digits: int = 6) -> str:
    return _env(digits, **TEX_SYNTAX).get_template("rnn.tex.j2").render(
        **context(model, worked)).lstrip()


def render_rnn_html(model, worked=None, digits: int = 6) -> str:
    md = render_rnn_md(model, worked, svg=render_rnn_svg(model), digits=digits)
    katex = STATIC / "katex"
    env = environment(None, autoescape=True)
    return env.get_template("derivation.html.j2").render(
        title=model.spec.name, body=markupsafe.Markup(markdown_to_html(md)),
        katex_css=markupsafe.Markup((katex / "katex.inline.min.css").read_text(encoding="utf-8")),
        katex_js=markupsafe.Markup((katex / "katex.min.js").read_text(encoding="utf-8")))


def make_recurrent_documents(model, formats, stem: str, worked=None,
                             digits: int = 6) -> dict[str, str | bytes]:
    """File name → content of every asked format; ``worked``: (params, evaluation) or None."""
    w = None
    if worked is not None:
        params, ev = worked
        w = worked_example(model.derivation, params, ev, model.learning_rate())
    files: dict[str, str | bytes] = {}
    for fmt_ in dict.fromkeys(formats):
        if fmt_ == "md":
            files[f"{stem}.svg"] = render_rnn_svg(model)
            files[f"{stem}.md"] = render_rnn_md(model, w, svg_src=f"{stem}.svg", digits=digits)
        elif fmt_ == "tex":
            files[f"{stem}.tex"] = render_rnn_tex(model, w, digits)
        elif fmt_ == "pdf":
            files[f"{stem}.pdf"] = compile_pdf(render_rnn_tex(model, w, digits))
        elif fmt_ == "html":
            files[f"{stem}.html"] = render_rnn_html(model, w, digits)
        else:
            raise DocumentError(f"unknown format {fmt_!r}; the formats are: md, tex, pdf, html.")
    return files
