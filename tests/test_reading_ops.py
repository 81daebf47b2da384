"""Operators and functions as the sources write them (issue #13): Unicode math,
indicator functions and cases for ReLU′, the layer's activation letter g/f/φ,
sech and ζ, NumPy-style claims.

Every reading is compared with a formula written here by hand from the
definitions (network.py's symbols: W3_1_2 is w^3_{12}, z2_1 is z^2_1, …) at
random points, or with sympy.diff of a hand-written expression; the verdict
tests pair a right claim (hand-derived backprop) with a wrong variant, so that
they can fail both ways.
"""
import random

import pytest
import sympy as sp

import symbackprop
from symbackprop.api import example_path, prepare
from symbackprop.formula.reader import (LOSS, FormulaError, Partial, build_scope, parse_claim,
                                       parse_instances)


def S(name):
    return sp.Symbol(name, real=True)


def sig(v):
    return 1 / (1 + sp.exp(-v))


def step(v):                 # ReLU'(v), with ReLU'(0) = 0 as the spec defines it
    return sp.Piecewise((1, v > 0), (0, True))


def vec(prefix, n):
    return sp.Matrix([S(f"{prefix}_{j}") for j in range(1, n + 1)])


W3 = sp.Matrix([[S(f"W3_1_{k}") for k in range(1, 4)]])
W2 = sp.Matrix(3, 3, lambda j, k: S(f"W2_{j + 1}_{k + 1}"))
z2, a1, a2, d2 = vec("z2", 3), vec("a1", 3), vec("a2", 3), vec("delta2", 3)
z3, a3, d3, y = S("z3_1"), S("a3_1"), S("delta3_1"), S("y_1")


def numeq(got, want, trials=4):
    """Equal at random points (each symbol uniform in [-2, 2], away from 0)."""
    got, want = sp.Matrix([got]) if not isinstance(got, sp.MatrixBase) else got, \
        sp.Matrix([want]) if not isinstance(want, sp.MatrixBase) else want
    assert got.shape == want.shape, (got, want)
    rng = random.Random(13)
    syms = set().union(*(e.free_symbols for e in list(got) + list(want)))
    for _ in range(trials):
        point = {s: rng.choice([-1, 1]) * rng.uniform(0.1, 2) for s in syms}
        for g, w in zip(got, want):
            gv = complex(g.rewrite(sp.exp).subs(point).evalf())
            wv = complex(w.rewrite(sp.exp).subs(point).evalf())
            assert abs(gv - wv) < 1e-9 * (1 + abs(wv)), (g, w, point)


@pytest.fixture(scope="module")
def layered():
    return build_scope(prepare(example_path("worked_2331")))


@pytest.fixture(scope="module")
def free():
    return build_scope()


def rhs(text, scope, **indices):
    return parse_claim(text, scope, indices or None).sides[-1].expr


DELTA2 = (W3.T * d3).multiply_elementwise(z2.applyfunc(step))     # δ^2 = W3ᵀ δ^3 ⊙ relu'(z^2)


# ---- Unicode math -------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "δ^2 = (W^3)ᵀ δ^3 ⊙ relu′(z^2)",
    "δ^2 = W^{3ᵀ} δ^3 ⊙ relu′(z^2)",
    "δ^2 = (W^3)^⊤ δ^3 ∘ relu'(z^2)",
    "δ^2 = (W^3)ᵀ δ^3 ⊙ relu’(z^2)",
])
def test_unicode_transpose_and_hadamard(layered, text):
    numeq(rhs(text, layered), DELTA2)


@pytest.mark.parametrize("op", ["·", "⋅", "∙", "×", "*"])
def test_unicode_products(layered, op):
    numeq(rhs(f"∂E/∂z^3 = (a^3 − y) {op} σ′(z^3)", layered), (a3 - y) * sig(z3) * (1 - sig(z3)))


@pytest.mark.parametrize("text, want", [
    ("E = ½ (y − a^3)^2", (y - a3) ** 2 / 2),
    ("E = ½ Σ_k (y_k – a^3_k)^2", (y - a3) ** 2 / 2),
    ("E = ¼ (y - a^3)^2 + ¾ y", (y - a3) ** 2 / 4 + 3 * y / 4),
])
def test_vulgar_fractions_sigma_and_dashes(layered, text, want):
    numeq(rhs(text, layered), want)


def test_transpose_of_a_number_is_refused(layered):
    with pytest.raises(FormulaError, match="transpose of a number"):
        parse_claim("δ^2 = 3ᵀ δ^3", layered)


# ---- indicators and cases ----------------------------------------------------------
D21 = W3[0, 0] * d3 * step(z2[0])           # δ^2_1 = w^3_{11} δ^3_1 relu'(z^2_1)


@pytest.mark.parametrize("mask", [
    r"\mathbb{1}[z^2_1>0]", r"\mathbb{1}(z^2_1 > 0)", r"\mathbf{1}_{z^2_1>0}", r"1\{z^2_1>0\}",
    r"\mathbb{1}\{z^2_1>0\}", "[z^2_1 > 0]", "(z^2_1 > 0)", r"\mathbb 1[z^2_1 \gt 0]",
    r"\begin{cases} 1 & z^2_1 > 0 \\ 0 & \text{otherwise} \end{cases}",
    r"\begin{cases} 1 & \text{if } z^2_1 > 0 \\ 0 & \text{if } z^2_1 \le 0 \end{cases}",
])
def test_indicator_spellings(layered, mask):
    numeq(rhs(rf"\delta^2_1 = \sum\limits_k w^3_{{k1}} \delta^3_k {mask}", layered), D21)


def test_indicator_of_a_vector_is_a_mask(layered):
    numeq(rhs(r"\delta^2 = (W^3)^T \delta^3 \odot \mathbb{1}[z^2 > 0]", layered), DELTA2)
    numeq(rhs("delta2 = W3.T @ delta3 * (z2 > 0)", layered), DELTA2)


def test_indicator_of_indices_is_the_kronecker_delta(layered):
    for i in (1, 2):
        for j in (1, 2):
            got = rhs(r"\frac{\partial z^2_i}{\partial z^2_j} = \mathbf{1}_{i=j}", layered, i=i, j=j)
            assert got == (1 if i == j else 0)
            assert rhs("dz^2_i/dz^2_j = [i = j]", layered, i=i, j=j) == (1 if i == j else 0)
            assert rhs(r"dz^2_i/dz^2_j = \mathbb{1}(i \neq j)", layered, i=i, j=j) == \
                (1 if i != j else 0)


def test_indicator_of_a_class_label_is_refused(layered):
    # 1(y_i = k) reads y as a class label; this spec's y is a one-hot target vector
    with pytest.raises(FormulaError, match="class label"):
        parse_claim(r"\frac{\partial E}{\partial z^3_1} = a^3_1 - \mathbb{1}(y_1 = 1)", layered)


def test_relu_prime_at_zero_written_with_geq(layered):
    """The spec defines ReLU'(0) = 0; a cases with z ≥ 0 says 1 there.  The two differ
    only at the single point z = 0 (measure zero, and the network's ReLU region is
    kept away from it by the test points), so the claim is judged correct; the
    reading itself keeps the difference: at z = 0 it gives 1."""
    text = r"\delta^2_1 = \sum_k w^3_{k1} \delta^3_k \begin{cases} 1 & z^2_1 \geq 0 \\ 0 & z^2_1 < 0 \end{cases}"
    got = rhs(text, layered)
    assert got.subs({z2[0]: 0, W3[0, 0]: 1, d3: 1}) == 1
    numeq(got.subs(z2[0], 0.5), D21.subs(z2[0], 0.5))
    numeq(got.subs(z2[0], -0.5), D21.subs(z2[0], -0.5))


# ---- functions -------------------------------------------------------------------
@pytest.mark.parametrize("text, f", [
    (r"\frac{d}{dx} \zeta(x) = \sigma(x)", None),
    (r"\zeta'(x) = \frac{1}{1 + e^{-x}}", None),
])
def test_zeta_is_softplus(free, text, f):
    x = S("x")
    claim = parse_claim(text, free)
    numeq(claim.sides[0].expr, sp.diff(sp.log(1 + sp.exp(x)), x))
    numeq(claim.sides[1].expr, sp.diff(sp.log(1 + sp.exp(x)), x))


@pytest.mark.parametrize("text", [r"\tanh'(z) = \text{sech}^2(z)", r"\tanh'(z) = \mathrm{sech}^2 z",
                                  r"\tanh'(z) = 1/\cosh^2(z)", r"\tanh'(z) = \operatorname{sech}(z)^2"])
def test_sech_and_cosh(free, text):
    z = S("z")
    claim = parse_claim(text, free)
    numeq(claim.sides[1].expr, sp.diff(sp.tanh(z), z))


@pytest.mark.parametrize("text, want", [
    (r"\delta^3 = (a^3 - y) \odot g'(z^3)", (a3 - y) * sig(z3) * (1 - sig(z3))),
    (r"\delta^3 = (a^3 - y) f'(z^3)", (a3 - y) * sig(z3) * (1 - sig(z3))),
    (r"\delta^3 = (a^3 - y) \phi'(z^3)", (a3 - y) * sig(z3) * (1 - sig(z3))),
    (r"\delta^3 = (a^3 - y) φ′(z^3)", (a3 - y) * sig(z3) * (1 - sig(z3))),
    (r"\delta^3 = (a^3 - y) g^{\prime}(z^3)", (a3 - y) * sig(z3) * (1 - sig(z3))),
    (r"a^2 = g(z^2)", z2.applyfunc(lambda v: sp.Piecewise((0, v <= 0), (v, True)))),
    (r"\delta^2_1 = \sum_k w^3_{k1} \delta^3_k g'(z^2_1)", D21),
])
def test_activation_letter_takes_the_layer_of_its_argument(layered, text, want):
    numeq(rhs(text, layered), want)


def test_activation_letter_of_no_layer_is_refused(layered):
    # g(a^2): a^2 is no layer's pre-activation, and the layers' activations differ
    with pytest.raises(FormulaError, match="g could be the activation of any layer"):
        parse_claim(r"\delta^3 = (a^3 - y) \odot g'(a^2)", layered)


# ---- NumPy ------------------------------------------------------------------------
DW3 = d3 * a2.T                       # ∂E/∂W3 = δ^3 (a^2)ᵀ
DW2 = d2 * a1.T


@pytest.mark.parametrize("text, want", [
    ("dE/db2 = np.sum(delta2, axis=1, keepdims=True)", d2),
    ("dE/db2 = delta2.sum(axis=1, keepdims=True)", d2),
    ("dE/db2 = np.sum(delta2 * a2.T, axis=1)", sp.Matrix([sum(d2[i] * a2[j] for j in range(3))
                                                          for i in range(3)])),
    ("dE/db2 = np.sum(delta2 * a2.T, axis=0, keepdims=True)",
     sp.Matrix([[sum(d2[i] * a2[j] for i in range(3)) for j in range(3)]])),
    ("dE/dW3 = delta3.dot(a2.T)", DW3),
    ("dE/dW3 = np.dot(delta3, a2.T)", DW3),
    ("dE/dW2 = np.outer(delta2, a1)", DW2),
    ("delta2 = W3.T.dot(delta3) * (z2 > 0).astype(float)", DELTA2),
    ("delta2 = np.multiply(np.dot(W3.T, delta3), np.int64(z2 > 0))", DELTA2),
    ("delta2 = np.dot(W3.T, delta3) * np.where(z2 > 0, 1, 0)", DELTA2),
    ("delta2 = np.dot(W3.T, delta3) * np.heaviside(z2, 0)", DELTA2),
    ("a2 = np.maximum(0, z2)", z2.applyfunc(lambda v: sp.Max(0, v))),
    ("a2 = np.maximum(z2, 0) + np.square(z2) - np.power(z2, 2)", z2.applyfunc(lambda v: sp.Max(0, v))),
    ("a3 = 1/(1+np.exp(-z3))", sig(z3)),
])
def test_numpy_spellings(layered, text, want):
    numeq(rhs(text, layered), want)


@pytest.mark.parametrize("text, match", [
    ("dE/db2 = np.sum(delta2, axis=2)", "axis"),
    ("dE/db2 = np.sum(delta2, out=1)", "np.sum takes"),
    ("dE/db2 = np.exp(delta2, axis=1)", "keyword"),
    ("dE/db2 = delta2.astype(delta2)", "astype"),
])
def test_numpy_misuse_is_one_message(layered, text, match):
    with pytest.raises(FormulaError, match=match):
        parse_claim(text, layered)


# ---- verdicts: right claims correct, a wrong variant incorrect -------------------------
RIGHT = [
    "δ^2 = (W^3)ᵀ δ^3 ⊙ relu′(z^2)",
    "E = ½ (y − a^3)^2",
    r"\delta^2_j = \sum\limits_k w^3_{kj} \delta^3_k \mathbb{1}[z^2_j>0]",
    r"\delta^2_1 = \sum_k w^3_{k1} \delta^3_k \begin{cases} 1 & z^2_1 \geq 0 \\ 0 & z^2_1 < 0 \end{cases}",
    r"\delta^3 = (a^3 - y) \odot g'(z^3)",
    "delta2 = np.dot(W3.T, delta3) * (z2 > 0)",
    "dE/dW2 = np.outer(delta2, a1)",
    "dE/dW3 = delta3.dot(a2.T)",
    r"\delta^3 = \Sigma'(z^3) (a^3 - y)",
    r"\delta^2_j = ((W^3)^T \delta^3)_j \, relu'(z^2_j)",
]
WRONG = [
    "δ^2 = (W^3)ᵀ δ^3 ⊙ σ′(z^2)",                # the wrong activation's derivative
    "E = ½ (y − a^3)",                           # no square
    r"\delta^2_j = \sum\limits_k w^3_{kj} \delta^3_k \mathbb{1}[z^2_j<0]",   # the mask inverted
    r"\delta^2_1 = \sum_k w^3_{k1} \delta^3_k \begin{cases} 0 & z^2_1 > 0 \\ 1 & z^2_1 \le 0 \end{cases}",
    r"\delta^3 = (a^3 - y) \odot g'(z^2)",       # layer 2's activation (relu) at z^2
    "delta2 = np.dot(W3.T, delta3) * (z2 < 0)",
    "dE/dW2 = np.outer(a1, delta2)",
    "dE/dW3 = delta3.dot(a1.T)",                 # the wrong layer's activation
    r"\delta^3 = \Sigma(z^3) (a^3 - y)",          # σ for σ'
    r"\delta^2_j = ((W^3)^T \delta^3)_j \, relu(z^2_j)",
]


def test_verdicts_right_and_wrong():
    verdicts = symbackprop.check("worked_2331", "\n".join(RIGHT + WRONG), isolate=False)
    by_line = {}
    for v in verdicts:
        by_line.setdefault(v.line, []).append(v.verdict)
    for n, text in enumerate(RIGHT + WRONG, start=1):
        want = "correct" if n <= len(RIGHT) else "incorrect"
        assert set(by_line[n]) == {want}, (text, by_line[n], [v.message for v in verdicts
                                                             if v.line == n])


# ---- bold type, entries of a vector formula, Nielsen's Σ'(z) ----------------------------
def test_bold_names_inside_a_hat(layered):
    numeq(rhs(r"\nabla_{\hat{\boldsymbol{y}}} E = \hat{\boldsymbol{y}} - \boldsymbol{y}", layered),
          a3 - y)
    numeq(rhs(r"\boldsymbol{\delta}^2 = (\mathbf{W}^3)^T \bm{\delta}^3 \odot relu'(\mathbf{z}^2)",
              layered), DELTA2)


@pytest.mark.parametrize("text, j", [
    (r"\delta^2_j = ((W^3)^T \delta^3)_j \, relu'(z^2_j)", None),
    (r"\delta^2_2 = ((W^3)^T \delta^3)_2 \, relu'(z^2_2)", 2),
    (r"\delta^2_j = (W^{3T} \delta^3 \odot \mathbb{1}[z^2 > 0])_j", None),
])
def test_entry_of_a_vector_formula(layered, text, j):
    claims = parse_instances(text, layered)
    assert [dict(c.indices).get("j", j) for c in claims] == ([1, 2, 3] if j is None else [j])
    for c in claims:
        k = dict(c.indices).get("j", j) - 1
        numeq(c.sides[1].expr, DELTA2[k])
        assert c.sides[0].expr == d2[k]


def test_entry_of_softmax(tmp_path):
    spec = tmp_path / "sm.toml"
    spec.write_text('inputs = 2\nloss = "cross_entropy"\n[[layer]]\nsize = 3\n'
                    'activation = "softmax"\n')
    scope = build_scope(prepare(spec))
    z = vec("z1", 3)
    for c in parse_instances(r"a^1_i = \mathrm{softmax}(z^1)_i", scope):
        i = dict(c.indices)["i"] - 1
        numeq(c.sides[1].expr, sp.exp(z[i]) / sum(sp.exp(v) for v in z))
    with pytest.raises(FormulaError, match="entry 4 of a vector of 3"):
        parse_claim(r"a^1_1 = \mathrm{softmax}(z^1)_4", scope)


def test_nielsen_sigma_prime_matrix(layered):
    # BP1 in matrix form: δ^L = Σ'(z^L) ∇_a C, Σ'(z) the diagonal matrix of σ'(z_j)
    numeq(rhs(r"\delta^3 = \Sigma'(z^3) (a^3 - y)", layered), sig(z3) * (1 - sig(z3)) * (a3 - y))
    got = rhs(r"\delta^2 = \Sigma'(z^2) (W^3)^T \delta^3", layered)
    numeq(got, sp.diag(*[sig(v) * (1 - sig(v)) for v in z2]) * W3.T * d3)


# ---- an unknown letter applied like a function is never a silent product -----------
@pytest.mark.parametrize("text, name", [
    ("f(x) = x^2", "f"), (r"\psi(x) = x^2 + 1", r"\psi"), ("ψ(x) = 2", "ψ"),
    (r"\frac{d}{dx} g(x) = 1", "g"), (r"h(x) - h(-x) = 0", "h"),
])
def test_unknown_function_letter_is_unparseable(free, text, name):
    with pytest.raises(FormulaError, match=r"applies .* like a function.*product"):
        parse_claim(text, free)


@pytest.mark.parametrize("text", ["x(1-x) = x - x^2", "a (b + c) = a b + a c", "e(x+1) = e x + e",
                                  r"\sigma'(x) = \sigma(x)(1 - \sigma(x))"])
def test_a_variable_before_a_parenthesis_is_still_a_product(free, text):
    claim = parse_claim(text, free)
    assert sp.simplify((claim.sides[0].expr - claim.sides[1].expr).rewrite(sp.exp)) == 0


# ---- more Unicode: ∇ √ ‖…‖ ″ ⁻¹ ----------------------------------------------------
def test_unicode_nabla_norm_root(layered, free):
    got = rhs("δ^3 = ∇_{a^3} E ⊙ σ′(z^3)", layered)
    assert got.has(Partial(LOSS, a3))           # ∇_{a^3} E is ∂E/∂a^3_1, resolved by the checker
    numeq(got.subs(Partial(LOSS, a3), a3 - y), (a3 - y) * sig(z3) * (1 - sig(z3)))
    numeq(rhs("E = ½‖y − a^3‖²", layered), (y - a3) ** 2 / 2)
    numeq(rhs(r"E = ½‖y − a^3‖² + \|y\|", layered), (y - a3) ** 2 / 2 + sp.Abs(y))
    x = S("x")
    numeq(rhs("f = √(x) + √x", free), 2 * sp.sqrt(x))
    numeq(rhs("f = x⁻¹ + x²", free), 1 / x + x ** 2)
    numeq(rhs("f = σ″(x)", free), sp.diff(sig(x), x, 2))


# ---- * in a NumPy-style claim is NumPy's elementwise product, with broadcasting ---------
def test_numpy_star_broadcasts(layered):
    W2T = W2.T
    # W2.T * delta2: each row i of W2ᵀ times δ^2_i (a 3×3 array), never the matrix product
    got = rhs("E = W2.T * delta2", layered)
    numeq(got, sp.Matrix(3, 3, lambda i, j: W2T[i, j] * d2[i]))
    numeq(rhs("E = delta2 * a1.T", layered), d2 * a1.T)            # column × row: the outer product
    numeq(rhs("E = np.dot(W2.T, delta2) * a1", layered),
          (W2T * d2).multiply_elementwise(a1))
    # in a LaTeX claim * stays the product of the notation (matrix product when shapes chain)
    numeq(rhs(r"E = (W^2)^T * \delta^2", layered), W2T * d2)
    with pytest.raises(FormulaError, match="broadcast"):
        parse_claim("E = W1 * W3 + np.dot(W3, a2)", layered)
