"""The same true identity in every spelling the reader knows (issue #13): hypothesis
draws a spelling for each part of BP2 (δ^2 = (W^3)^T δ^3 ⊙ relu'(z^2)) and of BP1
(δ^3 = (a^3 − y) ⊙ σ'(z^3)) and the parse must equal the formula written here by
hand, at random points; a few drawn spellings go through ``check`` and must be
``correct``, and the same spelling with the activation derivative left out must be
``incorrect`` (so the test can fail both ways).
"""
import random

import sympy as sp
from hypothesis import given, settings, strategies as st

import symbackprop
from symbackprop.api import example_path, prepare
from symbackprop.formula.claims import extract
from symbackprop.formula.reader import build_scope, parse_claim

SCOPE = build_scope(prepare(example_path("worked_2331")))


def S(name):
    return sp.Symbol(name, real=True)


W3 = sp.Matrix([[S(f"W3_1_{k}") for k in range(1, 4)]])
z2 = sp.Matrix([S(f"z2_{j}") for j in range(1, 4)])
d3, a3, z3, y = S("delta3_1"), S("a3_1"), S("z3_1"), S("y_1")
BP2 = (W3.T * d3).multiply_elementwise(z2.applyfunc(lambda v: sp.Piecewise((1, v > 0), (0, True))))
BP1 = (1 / (1 + sp.exp(-z3)) - y) * sp.exp(-z3) / (1 + sp.exp(-z3)) ** 2     # a^3 = σ(z^3)

LHS2 = [r"\delta^2", "δ^2", "delta2", r"\delta^{2}", r"\boldsymbol{\delta}^{2}"]
TRANSPOSED = [r"(W^3)^T", "(W^3)ᵀ", r"(W^{3})^\top", "W^{3T}", "W3.T", r"(W^3)^{\mathsf T}",
              "np.transpose(W3)", "(W^3)^⊤", r"(\mathbf{W}^3)^T"]
DELTA3 = [r"\delta^3", "δ^3", "delta3", r"\delta^{3}"]
GATE = [r"relu'(z^2)", "relu′(z^2)", "g'(z^2)", r"f'(z^{2})", r"\phi'(z^2)",
        r"\mathbb{1}[z^2 > 0]", r"\mathbb{1}(z^2 > 0)", "(z2 > 0)", "np.heaviside(z2, 0)",
        "np.where(z2 > 0, 1, 0)", r"[z^2 > 0]", "(z2 > 0).astype(float)"]
TAIL = ["", ".", ",", r" \tag{BP2}", r" \label{eq:bp2}", r" \quad \text{for } l = 2", ";"]


def bp2(lhs, wt, d, gate, product, hadamard, tail):
    inner = {"juxt": f"{wt} {d}", "at": f"{wt} @ {d}", "dot": f"np.dot({wt}, {d})",
             "cdot": rf"{wt} \cdot {d}"}[product]
    if hadamard == "np.multiply":
        body = f"np.multiply({inner}, {gate})"
    else:
        body = f"({inner}) {hadamard} {gate}"
    return f"{lhs} = {body}{tail}"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(LHS2), st.sampled_from(TRANSPOSED), st.sampled_from(DELTA3),
       st.sampled_from(GATE), st.sampled_from(["juxt", "at", "dot", "cdot"]),
       st.sampled_from([r"\odot", "⊙", "∘", r"\circ", "*", "np.multiply", r"\ast"]),
       st.sampled_from(TAIL))
def test_every_spelling_of_bp2_reads_as_bp2(lhs, wt, d, gate, product, hadamard, tail):
    text = bp2(lhs, wt, d, gate, product, hadamard, tail)
    claim = parse_claim(claim_of(text), SCOPE)
    assert claim.sides[0].expr == sp.ImmutableMatrix([S(f"delta2_{j}") for j in (1, 2, 3)])
    same(claim.sides[1].expr, BP2, text)


SIGMA_PRIME = [r"\sigma'(z^3)", "σ′(z^3)", r"\sigma^{\prime}(z^3)", r"g'(z^3)", r"f'(z^3)",
               r"\sigma(z^3)(1 - \sigma(z^3))", r"a^3 (1 - a^3)", "a3 * (1 - a3)",
               r"\frac{\partial a^3}{\partial z^3}", r"\frac{e^{-z^3}}{(1 + e^{-z^3})^2}"]
ERROR = ["(a^3 - y)", "(a^3 − y)", r"\nabla_a E", "∇_{a^3} E", r"\frac{\partial E}{\partial a^3}",
         r"(\hat{y} - y)", "(a3 - y)"]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.sampled_from(ERROR), st.sampled_from(SIGMA_PRIME),
       st.sampled_from([r"\odot", "⊙", r"\cdot", "·", "*", " ", r"\times", "⋅"]),
       st.sampled_from(TAIL))
def test_every_spelling_of_bp1_reads_as_bp1(error, prime, op, tail):
    text = rf"\frac{{\partial E}}{{\partial z^3}} = {error} {op} {prime}{tail}"
    claim = parse_claim(claim_of(text), SCOPE)
    rhs = claim.sides[1].expr.replace(lambda e: e.func.__name__ == "Partial",
                                      lambda e: {a3: a3 - y, z3: a3 * (1 - a3)}[e.args[1]])
    same(rhs.subs(a3, 1 / (1 + sp.exp(-z3))), BP1, text)


def claim_of(text):
    """The one claim a text line holds (as ``check`` finds it: \\quad text cut off)."""
    found = extract(text)
    assert len(found) == 1, (text, found)
    return found[0].text


def same(got, want, text):
    got = sp.Matrix([got]) if not isinstance(got, sp.MatrixBase) else got
    want = sp.Matrix([want]) if not isinstance(want, sp.MatrixBase) else want
    assert got.shape == want.shape, text
    rng = random.Random(text)
    syms = set().union(*(e.free_symbols for e in list(got) + list(want)))
    pairs = [(g.rewrite(sp.exp), w.rewrite(sp.exp)) for g, w in zip(got, want)]
    for _ in range(3):
        point = {s: sp.Float(rng.choice([-1, 1]) * rng.uniform(0.1, 2)) for s in syms}
        for g, w in pairs:
            gv, wv = float(g.xreplace(point)), float(w.xreplace(point))
            assert abs(gv - wv) < 1e-9 * (1 + abs(wv)), (text, g, w)


def test_drawn_spellings_are_correct_and_their_mistake_incorrect():
    rng = random.Random(13)
    right, wrong = [], []
    for _ in range(6):
        parts = [rng.choice(LHS2), rng.choice(TRANSPOSED), rng.choice(DELTA3), rng.choice(GATE),
                 rng.choice(["juxt", "at", "dot", "cdot"]),
                 rng.choice([r"\odot", "⊙", "∘", "*", "np.multiply"]), rng.choice(TAIL)]
        right.append(bp2(*parts))
        # the gate replaced by 1 − gate: the ReLU derivative of the other side of 0
        parts[3] = f"(1 - {parts[3]})"
        wrong.append(bp2(*parts))
    verdicts = symbackprop.check("worked_2331", "\n".join(right + wrong), isolate=False)
    for n, text in enumerate(right + wrong, start=1):
        got = {v.verdict for v in verdicts if v.line == n}
        assert got == {"correct" if n <= len(right) else "incorrect"}, (text, got)
