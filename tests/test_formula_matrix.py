r"""LaTeX matrix literals (bmatrix, pmatrix, Bmatrix, matrix, smallmatrix,
array) in claims, against matrices built by hand.

Expected matrices are written here entry by entry (names from network.py's
scheme: W2_1_2 is the weight to neuron 1 of layer 2 from neuron 2; in the
"ij" notation of one_hidden_ij W^{(2)}_{ij} runs from i to j and row
n_in + 1 is the bias), numbers are worked out by hand, and the checker's
verdicts are asserted for claims whose truth is textbook (the softmax
Jacobian a_i(δ_ij − a_j)).  Formulas marked "seed 000/003" are copied from
../shared/seeds.
"""
import time

import pytest
import sympy as sp

import symbackprop
from symbackprop.formula.reader import FormulaError, build_scope, parse_claim
from symbackprop.formula.grammar import MAX_CELLS, normalise, parser
from symbackprop.core.functions import sigmoid
from symbackprop.api import example_path, prepare

from conftest import spec_text

ONE_HIDDEN_IJ = "symbackprop/examples/one_hidden_ij.toml"


def S(name):
    return sp.Symbol(name, real=True)


a, b, c, d, x, z = (S(n) for n in "abcdxz")
M = sp.ImmutableMatrix


def rhs(text, scope):
    return parse_claim(text, scope).sides[1].expr


def error(text, scope):
    with pytest.raises(FormulaError) as err:
        parse_claim(text, scope)
    return err.value


@pytest.fixture(scope="module")
def free():
    return build_scope()


@pytest.fixture(scope="module")
def softmax():
    return build_scope(prepare(example_path("softmax_classifier")))


# ---- what is read ------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    r"y = \begin{bmatrix} a & b \\ c & d \end{bmatrix}",
    r"y = \begin{pmatrix} a & b \\ c & d \end{pmatrix}",
    r"y = \begin{Bmatrix} a & b \\ c & d \end{Bmatrix}",
    r"y = \begin{matrix} a & b \\ c & d \end{matrix}",
    r"y = \begin{smallmatrix} a & b \\ c & d \end{smallmatrix}",
    r"y = \left[\begin{array}{cc} a & b \\ c & d \end{array}\right]",
    r"y = \left(\begin{array}{c|c} a & b \\ \hline c & d \end{array}\right)",
    r"y = \begin{bmatrix*}[r] a & b \\ c & d \end{bmatrix*}",
    r"y = \begin{bmatrix} a & b \\ c & d \\ \end{bmatrix}",          # trailing \\
    r"y = \begin{bmatrix} a & b \\[2pt] c & d \end{bmatrix}",         # row spacing
    "y = \\begin{bmatrix}\n  a & b \\\\\n  c & d\n\\end{bmatrix}",    # over several lines
    r"y &= \begin{bmatrix} a & b \\ c & d \end{bmatrix}",              # align's & is layout
])
def test_environments(text, free):
    assert rhs(text, free) == M([[a, b], [c, d]])


def test_entries_are_full_expressions(free):
    got = rhs(r"y = \begin{bmatrix} \frac{1}{2} & e^{-a} \\ \left(1-\sigma(z)\right) & "
              r"\tanh(x) + b^2 \end{bmatrix}", free)
    assert got == M([[sp.Rational(1, 2), sp.exp(-a)], [1 - sigmoid(z), sp.tanh(x) + b ** 2]])
    step = rhs(r"y = \begin{bmatrix} \begin{cases} 1 & z > 0 \\ 0 & \text{otherwise} \end{cases}"
               r" & z \end{bmatrix}", free)
    assert step == M([[sp.Piecewise((1, z > 0), (0, True)), z]])


def test_seed_003_vectors_and_products(free):
    got = rhs(r"a^{(0)}=\left[\begin{array}{c} x_{0}\\ x_{1}\\ x_{2} \end{array}\right]", free)
    assert got == M([S("x_0"), S("x_1"), S("x_2")])
    # w^T x + b with w = (1, 0, −1), x = (1, 2, 1), b = 3: 1 + 0 − 1 + 3 = 3
    sides = parse_claim(r"a=w^{T}x+b=\left[\begin{array}{ccc} 1 & 0 & -1\end{array}\right]"
                        r"\left[\begin{array}{c} 1\\ 2\\ 1 \end{array}\right]+3=3", free).sides
    assert sides[2].expr == 3 and sides[3].expr == 3


def test_matrix_arithmetic(free):
    # [a b; c d]^T [1; 2] = [a + 2c; b + 2d]
    got = rhs(r"y = \begin{bmatrix} a & b \\ c & d \end{bmatrix}^{T} "
              r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}", free)
    assert got == M([a + 2 * c, b + 2 * d])
    got = rhs(r"y = \begin{pmatrix} 1 & 2 \end{pmatrix} \begin{pmatrix} 3 \\ 4 \end{pmatrix}", free)
    assert got == 11 and not isinstance(got, sp.MatrixBase)            # 1×1: a scalar
    assert rhs(r"y = \begin{bmatrix} 2 \end{bmatrix} + 1", free) == 3
    got = rhs(r"y = \begin{bmatrix} a \\ b \end{bmatrix} \odot \begin{bmatrix} c \\ d \end{bmatrix}"
              r" - \begin{bmatrix} 1 \\ 1 \end{bmatrix}", free)
    assert got == M([a * c - 1, b * d - 1])


def test_layer_names_inside_entries(softmax):
    got = rhs(r"y = \begin{bmatrix} a^2_1 & z^{1}_{4} \\ w^2_{13} & \delta^{2}_{3} \end{bmatrix}",
              softmax)
    assert got == M([[S("a2_1"), S("z1_4")], [S("W2_1_3"), S("delta2_3")]])


def test_seed_000_weight_matrix_in_its_notation():
    """Seed 000: W^{(2)} written out with W^{(2)}_{ij} from i to j, row 3 the bias."""
    model = prepare(spec_text([2, 2, 2], ["sigmoid", "sigmoid"], "half_sse",
                              '[notation]\nstyle = "ij"\nbias = "extra_weight"\n'))
    got = rhs(r"W^{(2)} = \begin{pmatrix} W_{11}^{(2)} & W_{12}^{(2)} \\ W_{21}^{(2)} & "
              r"W_{22}^{(2)} \\ W_{31}^{(2)} & W_{32}^{(2)} \end{pmatrix}", build_scope(model))
    assert got == M([[S("W2_1_1"), S("W2_2_1")], [S("W2_1_2"), S("W2_2_2")],
                     [S("b2_1"), S("b2_2")]])


# ---- what is refused, with a position ------------------------------------------
@pytest.mark.parametrize("text, words, at", [
    (r"y = \begin{bmatrix} a & b \\ c \end{bmatrix}", "ragged matrix: row 2 has 1 entry, row 1 "
     "has 2", "c"),
    (r"y = \begin{bmatrix} a \\ c & d \\ b \end{bmatrix}", "row 2 has 2 entries", "c"),
    (r"y = \begin{bmatrix} a & \\ c & d \end{bmatrix}", "empty matrix entry", r" \\"),
    (r"y = \begin{bmatrix} a & & b \end{bmatrix}", "empty matrix entry", "& b"),
    (r"y = \begin{bmatrix} \end{bmatrix}", "an empty matrix", r" \end"),
    (r"y = \begin{bmatrix} a & \cdots & b \end{bmatrix}", r"elided matrix (\cdots)", r"\cdots"),
    (r"y = \begin{bmatrix} a \\ \vdots \\ b \end{bmatrix}", r"elided matrix (\vdots)", r"\vdots"),
    (r"y = \begin{bmatrix} a & \dots \\ & \ddots \end{bmatrix}", "elided matrix", r"\dots"),
    ("y = \\begin{bmatrix} a \\\\ \u22ee \\end{bmatrix}", "elided matrix", "\u22ee"),
    (r"y = \begin{vmatrix} a & b \\ c & d \end{vmatrix}", "determinant", r"\begin{v"),
    (r"y = \begin{Vmatrix} a \\ b \end{Vmatrix}", "norm", r"\begin{V"),
    (r"y = \begin{bmatrix} a & b \end{pmatrix}", r"closed by \end{pmatrix}", r"\end{p"),
    (r"y = \begin{bmatrix} \begin{bmatrix} a & b \end{bmatrix} \\ c \end{bmatrix}",
     "block matrices", r"\begin{bmatrix} a"),
    (r"y = a_1 + \cdots + a_3", r"elision (\cdots)", r"\cdots"),
])
def test_refused_with_position(text, words, at, free):
    err = error(text, free)
    assert words in err.message, err.message
    assert text[err.position:].startswith(at), (text[err.position:], at)


def test_seed_003_elided_gradient_is_refused(softmax):
    text = (r"\frac{\partial\mathcal{L}}{\partial W^{(2)}}=-\left[\begin{array}{cccc} "
            r"\delta_{0}^{(2)}z_{0}^{(1)} & \delta_{1}^{(2)}z_{0}^{(1)} & \dots & "
            r"\delta_{n^{(2)}}^{(2)}z_{0}^{(1)}\\ "
            r"\delta_{0}^{(2)}z_{1}^{(1)} & \ddots & & \vdots\\ "
            r"\vdots & & \ddots & \vdots\\ \delta_{0}^{(2)}z_{n^{(1)}}^{(1)} & \dots & \dots & "
            r"\delta_{n^{(2)}}^{(2)}z_{n^{(1)}}^{(1)} \end{array}\right]")
    err = error(text, softmax)
    assert "elided matrix" in err.message and "write every entry out" in err.message
    assert text[err.position:].startswith(r"\dots")


# ---- caps -----------------------------------------------------------------------
def test_cell_cap_in_the_grammar():
    """More cells than MAX_CELLS in one row: refused while parsing (below the
    character cap no claim gets there, so the parser is called directly)."""
    text = r"y = \begin{bmatrix}" + "1&" * MAX_CELLS + r"1\end{bmatrix}"
    with pytest.raises(FormulaError, match=f"more than {MAX_CELLS} entries"):
        parser().parse(normalise(text))


def test_deeply_nested_matrices_are_refused(free):
    text = "y = " + r"\begin{bmatrix}" * 60 + "x" + r"\end{bmatrix}" * 60
    assert "nests deeper" in error(text, free).message


def test_large_matrices_are_quick(free):
    start = time.monotonic()
    tall = rhs("y = " + r"\begin{bmatrix}" + r"x\\" * 3000 + r"x\end{bmatrix}", free)
    assert tall.shape == (3001, 1) and set(tall) == {x}
    square = r"\begin{bmatrix}" + r"\\".join(["&".join(["x"] * 40)] * 40) + r"\end{bmatrix}"
    got = rhs(f"y = {square} {square}", free)      # 40×40 · 40×40: every entry 40x²
    assert got.shape == (40, 40) and set(got) == {40 * x ** 2}
    assert time.monotonic() - start < 30          # seconds, not minutes (no timing claim)


def test_step_budget_counts_cells_and_products(free, monkeypatch):
    """Each cell and each multiply-add of a matrix product draws on the step
    budget (lowered here so that a claim under the character cap runs out)."""
    import symbackprop.formula.evaluate as formula_eval
    def square(n):
        return r"\begin{bmatrix}" + r"\\".join(["&".join(["x"] * n)] * n) + r"\end{bmatrix}"
    monkeypatch.setattr(formula_eval, "MAX_STEPS", 2000)
    assert rhs(f"y = {square(20)}", free).shape == (20, 20)         # 400 cells: within budget
    assert "too large" in error(f"y = {square(45)}", free).message   # 2025 cells
    assert "too large" in error(f"y = {square(12)} {square(12)}", free).message   # 12³ = 1728


# ---- checker verdicts ---------------------------------------------------------------
def jacobian(cell):
    rows = [" & ".join(cell(i, j) for j in (1, 2, 3)) for i in (1, 2, 3)]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def softmax_entry(i, j):            # ∂a_i/∂z_j = a_i(δ_ij − a_j)
    return f"a^2_{i}(1-a^2_{i})" if i == j else f"-a^2_{i} a^2_{j}"


def elementwise_entry(i, j):        # the slip: a_j(1 − a_j) as for σ, zeros off the diagonal
    return f"a^2_{i}(1-a^2_{i})" if i == j else "0"


def verdicts(spec, text):
    return symbackprop.check(spec, text, isolate=False)


@pytest.mark.parametrize("lhs", [r"\frac{\partial a^{2}}{\partial z^{2}}",
                                 r"\frac{\partial a^{L}}{\partial z^{L}}", "da2/dz2"])
def test_softmax_jacobian_written_out_is_correct(lhs):
    [v] = verdicts("softmax_classifier", f"{lhs} = {jacobian(softmax_entry)}")
    assert v.verdict == "correct", v


def test_softmax_jacobian_seed_003_array_style():
    rows = [" & ".join(rf"a^L_{{{i}}}\left(1-a^L_{{{i}}}\right)" if i == j
                       else rf"-a^L_{{{i}}}a^L_{{{j}}}" for j in (1, 2, 3)) for i in (1, 2, 3)]
    text = (r"\frac{\partial a^{L}}{\partial z^{L}}=\left[\begin{array}{ccc} " + r"\\ ".join(rows)
            + r" \end{array}\right]")
    [v] = verdicts("softmax_classifier", text)
    assert v.verdict == "correct", v


def test_softmax_treated_as_elementwise_is_diagnosed():
    lhs = r"\frac{\partial a^{2}}{\partial z^{2}}"
    [v] = verdicts("softmax_classifier", f"{lhs} = {jacobian(elementwise_entry)}")
    assert v.verdict == "incorrect"
    assert "softmax treated as elementwise" in v.diagnosis


def test_softmax_jacobian_with_wrong_sign_is_incorrect():
    flipped = (lambda i, j: softmax_entry(i, j) if i == j else f"a^2_{i} a^2_{j}")
    [v] = verdicts("softmax_classifier", f"da2/dz2 = {jacobian(flipped)}")
    assert v.verdict == "incorrect"


# seed 000's ŷ = σ(W_{11}^{(2)} σ(h_1) + W_{21}^{(2)} σ(h_2) + W_{31}^{(2)}), with the
# weights written as a pmatrix (row 3 the bias, an extra weight from a constant 1)
ROW = r"\begin{pmatrix} W_{11}^{(2)} & W_{21}^{(2)} & W_{31}^{(2)} \end{pmatrix}"
COLUMN = r"\begin{pmatrix} W_{11}^{(2)} \\ W_{21}^{(2)} \\ W_{31}^{(2)} \end{pmatrix}"
HIDDEN = r"\begin{pmatrix} \sigma(h^{(1)}_1) \\ \sigma(h^{(1)}_2) \\ 1 \end{pmatrix}"
SWAPPED = r"\begin{pmatrix} \sigma(h^{(1)}_2) \\ \sigma(h^{(1)}_1) \\ 1 \end{pmatrix}"


def test_seed_000_weights_as_a_pmatrix_parse():
    scope = build_scope(prepare(ONE_HIDDEN_IJ))
    assert rhs(f"x1 = {COLUMN}", scope) == M([S("W2_1_1"), S("W2_1_2"), S("b2_1")])
    want = S("W2_1_1") * sigmoid(S("z1_1")) + S("W2_1_2") * sigmoid(S("z1_2")) + S("b2_1")
    assert sp.simplify(rhs(f"h^{{(2)}} = {ROW} {HIDDEN}", scope) - want) == 0


@pytest.mark.parametrize("text, verdict", [
    (rf"h^{{(2)}} = {ROW} {HIDDEN}", "correct"),
    (rf"h^{{(2)}} = {COLUMN}^{{T}} {HIDDEN}", "correct"),
    (rf"\hat{{y}} = \sigma\left({ROW} {HIDDEN}\right)", "correct"),
    (rf"h^{{(2)}} = {ROW} {SWAPPED}", "incorrect"),
    (rf"\hat{{y}} = {ROW} {HIDDEN}", "incorrect"),                        # σ left out
    # in the ij style W^{(2)} is 3×1 (rows: from hidden 1, hidden 2, the constant 1), so
    # its gradient is δ times the column of what feeds it
    (rf"W^{{(2)}} = {COLUMN}", "correct"),
    (rf"W^{{(2)}} = {ROW}", "incorrect"),
    (rf"\frac{{\partial E}}{{\partial W^{{(2)}}}} = (\hat{{y}} - y)\hat{{y}}(1-\hat{{y}}) {HIDDEN}",
     "correct"),
    (rf"\frac{{\partial E}}{{\partial W^{{(2)}}}} = (\hat{{y}} - y) {HIDDEN}", "incorrect"),
])
def test_one_hidden_ij_pmatrix_claims(text, verdict):
    [v] = verdicts(ONE_HIDDEN_IJ, text)
    assert v.verdict == verdict, v


def test_numeric_vector_at_the_specs_values():
    # z^1 = W^1 x + b^1 at x = (1, −0.5, 2), by hand:
    # 0.2 + 0.05 + 0.8 + 0 = 1.05; −0.3 − 0.25 + 0.2 + 0.1 = −0.25;
    # 0.6 − 0.1 − 0.4 − 0.1 = 0; 0.1 − 0.05 + 0.6 + 0.05 = 0.7
    [v] = verdicts("softmax_classifier",
                   r"z^1 = \begin{bmatrix} 1.05 \\ -0.25 \\ 0 \\ 0.7 \end{bmatrix}")
    assert v.verdict == "correct", v
    # one entry off (0.75 for 0.7): incorrect, and the entry is named
    [v] = verdicts("softmax_classifier",
                   r"z^1 = \begin{bmatrix} 1.05 \\ -0.25 \\ 0 \\ 0.75 \end{bmatrix}")
    assert v.verdict == "incorrect" and v.diagnosis.startswith("entry (4, 1)")
    assert v.counterexample["claimed"][3] == [0.75]
    # a row for the column, and a single number for the vector
    [v] = verdicts("softmax_classifier", r"z^1 = \begin{bmatrix} 1.05 & -0.25 & 0 & 0.7 \end{bmatrix}")
    assert v.verdict == "incorrect" and "shapes differ: 1×4 written for 4×1" in v.diagnosis
    [v] = verdicts("softmax_classifier", r"z^1 = 1.05")
    assert v.verdict == "incorrect" and "single number written for a 4×1 matrix" in v.diagnosis
