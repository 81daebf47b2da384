"""True identities from the derivation, in every spelling the checker reads, are never
judged incorrect (issue #13).

The identities come from the derivation itself (``Derivation.gradient``, ``delta``,
``dadz``, ``forward``; their numbers from ``Model.evaluate``, the float64 code, which
shares no code with the checker's 30-digit test points): a gradient ∂E/∂θ, a δ, an f′
(∂a/∂z, and the softmax Jacobian off its diagonal), a forward z and a, an update
θ − η ∂E/∂θ, and each one's number at the spec's [values].  Hypothesis draws a shipped
example (the layered, ij and numbered styles, tanh/identity, ReLU/softmax), an identity
and a spelling of each side: the ∂ written as a fraction, ∂E/∂w or dE/dw; names in
LaTeX or plain text; the right side as the documents print it (``Notation.tex``), as
plain text, or with every a written f(z); an update with := or \\leftarrow; a number to
4, 6 or 9 decimals; in a Markdown $…$ or a plain line.  Every drawn claim must be
``correct`` (none ``incorrect``, none left unread)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings, strategies as st

from symbackprop.api import check, example_path, prepare
from symbackprop.formula.names import LOSS
from symbackprop.formula.ops import Partial

EXAMPLES = {"layered": "worked_2331", "ij": "one_hidden_ij", "numbered": "worked_2331_numbered",
            "tanh": "tanh_net", "softmax": "softmax_classifier"}
MODELS = {style: prepare(example_path(name)) for style, name in EXAMPLES.items()}
ETA = sp.Symbol("eta")
PLAIN_LOSS = {r"E_{\mathrm{total}}": "E_total"}


@dataclass(frozen=True)
class Identity:
    kind: str            # gradient | delta | fprime | z | a | update
    lhs: object          # a network symbol, or Partial(of, wrt); for an update the parameter
    rhs: sp.Expr         # the derivation's formula
    value: float         # its number at the spec's [values]


def numbers(m) -> dict:
    """symbol → float at the spec's [values], from the float64 evaluation."""
    ev, d = m.evaluate(), m.derivation
    out = {}
    for l, layer in enumerate(d.layers):
        for j in range(layer.n_out):
            out[layer.z[j]] = float(ev.z[l][j, 0])
            out[layer.a[j]] = float(ev.a[l + 1][j, 0])
            out[layer.delta[j]] = float(ev.delta[l][j, 0])
        g = ev.gradients
        for j in range(layer.n_out):
            out[Partial(LOSS, layer.b[j])] = float(g[f"b{layer.index}"][j])
            for k in range(layer.n_in):
                out[Partial(LOSS, layer.W[j, k])] = float(g[f"W{layer.index}"][j, k])
    return out


def identities(m) -> list[Identity]:
    """Two neurons of every layer: ∂E/∂w_{j1}, ∂E/∂b_j, δ_j, ∂a_j/∂z_j, z_j, a_j, the update
    of w_{j1}; the softmax Jacobian's entry ∂a_1/∂z_2."""
    d, num, params = m.derivation, numbers(m), m.parameters()
    eta = m.learning_rate()
    out = []
    for layer in d.layers:
        for j in range(min(2, layer.n_out)):
            w, b = layer.W[j, 0], layer.b[j]
            z, a = d.forward(layer, j)
            out += [Identity("gradient", Partial(LOSS, w), d.gradient(w), num[Partial(LOSS, w)]),
                    Identity("gradient", Partial(LOSS, b), d.gradient(b), num[Partial(LOSS, b)]),
                    Identity("delta", layer.delta[j], d.delta(layer, j), num[layer.delta[j]]),
                    Identity("z", layer.z[j], z, num[layer.z[j]]),
                    Identity("a", layer.a[j], a, num[layer.a[j]]),
                    Identity("update", w, w - ETA * d.gradient(w),
                             float(params[f"W{layer.index}"][j, 0]) - eta * num[Partial(LOSS, w)])]
            fp = d.dadz(layer, j, j)
            out.append(Identity("fprime", Partial(layer.a[j], layer.z[j]), fp,
                                float(fp.xreplace({layer.a[j]: num[layer.a[j]], layer.z[j]: num[layer.z[j]]}))))
        if layer.activation.layerwise:
            fp = d.dadz(layer, 0, 1)
            out.append(Identity("fprime", Partial(layer.a[0], layer.z[1]), fp,
                                float(fp.xreplace({s: num[s] for s in layer.a}))))
    return out


TABLE = {style: identities(m) for style, m in MODELS.items()}


def plain(m, expr) -> str:
    """A formula in plain text, in the notation's text names (x^2 for x**2; ReLU as
    max(0, z) and its derivative as the Iverson bracket [z > 0])."""
    names = {s: sp.Symbol(m.notation.name(s)) for s in expr.free_symbols if s != ETA}
    gates = {}
    for pw in expr.atoms(sp.Piecewise):
        (low, cond), (high, _) = pw.args
        u = m.notation.name(cond.lhs)
        if low == 0 and high == 1:
            gates[pw] = sp.Symbol(f"[{u} > 0]")
        elif low == 0 and high == cond.lhs:
            gates[pw] = sp.Symbol(f"max(0, {u})")
    return sp.sstr(expr.xreplace(gates).xreplace(names)).replace("**", "^")


def tex_name(m, s) -> str:
    return m.notation.loss if s == LOSS else m.notation.tex(s)


def text_name(m, s) -> str:
    return PLAIN_LOSS.get(m.notation.loss, m.notation.loss) if s == LOSS else m.notation.name(s)


def in_z(m, expr):
    """Every a written as f(z) (softmax: its e^{z_i}/Σ e^{z_k})."""
    d = m.derivation
    return expr.xreplace({layer.a[j]: d.forward(layer, j)[1]
                          for layer in d.layers for j in range(layer.n_out)})


def left(m, idn: Identity, how: str) -> str:
    if isinstance(idn.lhs, Partial):
        of, wrt = idn.lhs.args
        return {"frac": rf"\frac{{\partial {tex_name(m, of)}}}{{\partial {tex_name(m, wrt)}}}",
                "slash": f"∂{text_name(m, of)}/∂{text_name(m, wrt)}",
                "d": f"d{text_name(m, of)}/d{text_name(m, wrt)}"}[how]
    return tex_name(m, idn.lhs) if how == "frac" else text_name(m, idn.lhs)


def right(m, idn: Identity, how: str, decimals: int) -> str:
    if how == "number":
        return f"{idn.value:.{decimals}f}"
    rhs = in_z(m, idn.rhs) if how == "in_z" else idn.rhs
    if how == "plain":
        return plain(m, rhs)
    return m.notation.tex(rhs).replace(sp.latex(ETA), r"\eta")


def claim(m, idn: Identity, lhs_how: str, rhs_how: str, decimals: int) -> str:
    rhs = right(m, idn, rhs_how, decimals)
    if idn.kind == "update":
        name = tex_name(m, idn.lhs) if lhs_how == "frac" else text_name(m, idn.lhs)
        arrow = r"\leftarrow" if lhs_how == "frac" else ":="
        return f"{name} {arrow} {rhs}"
    return f"{left(m, idn, lhs_how)} = {rhs}"


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(MODELS)), st.data(), st.sampled_from(["frac", "slash", "d"]),
       st.sampled_from(["tex", "plain", "in_z", "number"]), st.sampled_from([4, 6, 9]),
       st.booleans())
def test_true_identities_in_every_spelling_are_correct(style, data, lhs_how, rhs_how, decimals,
                                                       markup):
    m = MODELS[style]
    idn = data.draw(st.sampled_from(TABLE[style]))
    text = claim(m, idn, lhs_how, rhs_how, decimals)
    text = f"${text}$" if markup else text
    found = check(m, text + "\n", kind="markup" if markup else "text", isolate=False, timeout=5.0)
    assert found and all(v.verdict == "correct" for v in found), \
        (style, idn.kind, text, [(v.verdict, v.message, v.diagnosis) for v in found])


def test_every_identity_in_the_documents_spelling_is_correct():
    """Each identity of each example once, as the documents print it: all correct."""
    lines = {style: "\n".join(f"${claim(MODELS[style], idn, 'frac', 'tex', 6)}$" for idn in ids)
             for style, ids in TABLE.items()}
    for style, text in lines.items():
        found = check(MODELS[style], text + "\n", kind="markup", isolate=False)
        bad = [(v.line, v.verdict, v.text) for v in found if v.verdict != "correct"]
        assert len(found) == len(TABLE[style]) and not bad, (style, bad)


def test_the_identities_can_fail():
    """The same identities with the right side's sign flipped are incorrect (so the
    checks above can fail): a δ, an f′, a forward z and an update of each style."""
    for style, m in MODELS.items():
        picked = {idn.kind: idn for idn in TABLE[style] if idn.kind in ("delta", "fprime", "z")}
        for idn in picked.values():
            text = f"${left(m, idn, 'frac')} = -({m.notation.tex(idn.rhs)})$"
            found = check(m, text + "\n", kind="markup", isolate=False)
            assert [v.verdict for v in found] == ["incorrect"], (style, text)
        assert np.isfinite([idn.value for idn in TABLE[style]]).all()
