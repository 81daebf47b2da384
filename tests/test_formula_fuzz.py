"""Fuzzing the formula parser: random, malformed and hostile claims.

Whatever the text, ``parse_claim`` and ``parse_instances`` either return
claims or raise ``FormulaError`` (no other exception, no hang, no code run).
A hang is caught by an alarm far above any normal parse (seconds, not a
timing assertion).
"""
import os
import signal
import tempfile
from contextlib import contextmanager

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.formula.reader import FormulaError, build_scope, parse_claim, parse_instances
from symbackprop.api import example_path, prepare

HANG_SECONDS = 60   # far above a normal parse (≈2 s), with room for a loaded machine

SCOPES = {"free": build_scope(),
          "numbered": build_scope(prepare(example_path("worked_2331_numbered"))),
          "layered": build_scope(prepare(example_path("worked_2331"))),
          "softmax": build_scope(prepare(example_path("softmax_classifier")))}

# Seed formulas (../shared/seeds 000–004) to mutate.
SEEDS = [
    r"\frac{\partial E_{total}}{\partial w_{16}} = \frac{\partial E_{\text{total}}}{\partial "
    r"out_{n_9}}  \cdot  \frac{\partial out_{n_9}}{\partial net_{n_9}}  \cdot  \frac{\partial "
    r"net_{n_9}}{\partial w_{16}}",
    r"\frac{\partial out_{n_9}}{\partial net_{n_9}} = out_{n_9}(1 - out_{n_9}) = 0.8035  \cdot "
    r"(1 - 0.8035) = 0.1579",
    "dE/dw17 = (out_n9 - y)*out_n9*(1 - out_n9)*out_n6",
    r"w_{16}^{\text{new}} = w_{16}^{\text{old}} - \eta \cdot \frac{\partial E_{\text{total}}}"
    r"{\partial w_{16}} = 0.7 - 0.01 \cdot 0.0025 = 0.699975",
    r"W^{(2)}:=W^{(2)}+\eta\cdot\delta^{(2)}\cdot\left(a^{(1)}\right)^{T}",
    "delta1 = W2.T @ delta2 * relu'(z1)",
    r"\delta^l_j = (\sum_k w^{l+1}_{kj} \delta^{l+1}_k) \sigma'(z^l_j)",
    r"\delta^{L} = (a^L - y) \odot \sigma'(z^L)",
    r"C = \frac{1}{2} \|y-a^L\|^2",
    "d/dz tanh(z) = 1 - tanh(z)^2",
    r"\tanh(a)=\frac{1-e^{-2a}}{1+e^{-2a}}=\frac{1}{1+e^{-2a}}-\left(1-\frac{1}{1+e^{-2a}}"
    r"\right)=2\cdot\sigma(2a)-1",
    r"\sigma'(x) = \frac{\partial}{\partial x} \frac {1}{1+e^{-x}}",
    r"E*{total} = \frac{1}{2}\sum (y - \hat{y})^2 = \frac{1}{2} (y - out*{n_9})^2",
    r"\frac{\partial E}{\partial w^l_{jk}} = \delta^l_j a^{l-1}_k",
    r"\log_{10}(x) = \ln(x) / \ln(10)",
    "a^L = softmax(z^L)",
    r"\frac{\partial out_{n_6}}{\partial net_{n_6}} = \begin{cases} 1 & \text{if } net_{n_6} > 0 "
    r"\\ 0 & \text{otherwise} \end{cases}",
    r"\frac{\partial a^{L}}{\partial z^{L}}=\left[\begin{array}{cc} "
    r"a^L_{1}\left(1-a^L_{1}\right) & -a^L_{1}a^L_{2}\\ "
    r"-a^L_{2}a^L_{1} & a^L_{2}\left(1-a^L_{2}\right) \end{array}\right]",
]

TOKENS = ["x", "z", "a", "y", "e", "w17", "out_n9", "net_{n_9}", "W2", "delta2", "z^1", "a^L",
          r"\delta^{l}_{j}", "w^{l+1}_{kj}", "E_{total}", "dE", "dw17", "d", "dz", "0", "1",
          "0.5", "9", "99999", "1e5", "=", "+", "-", "*", "/", "^", "**", "_", "'", ".T", "@",
          "(", ")", "{", "}", "[", "]", ",", ".", r"\frac", r"\partial", r"\sum", r"\sum_k",
          r"\cdot", r"\odot", r"\left(", r"\right)", r"\|", r"\sigma", r"\exp", r"\ln", r"\log",
          r"\log_{10}", r"\tanh", "relu", "softmax", "max", r"\text{total}", r"\hat{y}", "^T",
          r"^\top", r"\nabla_{x}", "leaky_relu", "softplus", " ", "∂", "σ", "δ", "−", "·", "⊙",
          r"\alpha", r"\eta", ":=", "*=", "* =", r"\leftarrow", "←", "^{new}", "_{old}", "_new", r"\foo", "__import__", "os", "system", "'ls'", "lambda", ":", ";", "#",
          "\\", "\x00", "𝑥", "\ue000|", r"\begin{cases}", r"\end{cases}", r"\\", "&", ">",
          "<", r"\geq", r"\text{if }", r"\text{otherwise}", "(z > 0)", "[x < 1]",
          r"\begin{bmatrix}", r"\end{bmatrix}", r"\begin{array}{cc}", r"\end{array}", r"\vdots"]

HOSTILE = [
    "__import__('os').system('touch {marker}') = 1",
    "x = __import__('os').system('touch {marker}')",
    "exec(\"open('{marker}','w')\") = 1",
    "eval('open(\"{marker}\",\"w\")') = x",
    "x = ().__class__.__bases__[0].__subclasses__()",
    "x = sympify('open(\"{marker}\",\"w\")')",
    r"x = \input{{marker}}",
    "x = 9**9**9**9",
    "x = 9^(9^(9^9))",
    "x = ((((9^99)^99)^99)^99)",
    "x = factorial(10**9)",
    "x = 1e99999999",
    "x = " + "9" * 5000,
    "x = " + "(" * 5000 + "x" + ")" * 5000,
    "x = " + "-" * 5000 + "x",
    "x = " + "x^" * 3000 + "x",
    "x = " + r"\frac{" * 200 + "1" + "}{2}" * 200,
    "x = " + "e^{" * 120 + "x" + "}" * 120,
    "x = " + r"\sigma(" * 150 + "x" + ")" * 150,
    "x = " + "d/dx " * 500 + "x",
    "x = " + r"\sum_k " * 50 + "w^{2}_{k1}",
    "x = " + "W2 " * 2000,
    "x = " + "=" * 3000,
    "x = " + r"\begin{bmatrix}" + "1&" * 4900 + r"1\end{bmatrix}",
    "x = " + r"\begin{bmatrix}" + r"x\\" * 3200 + r"x\end{bmatrix}",
    "x = " + r"\begin{bmatrix}" * 200 + "x" + r"\end{bmatrix}" * 200,
    "x = " + (r"\begin{bmatrix}" + r"\\".join(["&".join(["x"] * 35)] * 35) + r"\end{bmatrix}") * 2,
]


@contextmanager
def no_hang(text):
    def alarm(signum, frame):
        raise AssertionError(f"parsing hung for {HANG_SECONDS} s on {text[:200]!r}")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def outcome(text, scope, instances=False):
    """Parse; the only acceptable failure is FormulaError, with a sane position."""
    with no_hang(text):
        try:
            claims = parse_instances(text, scope) if instances else [parse_claim(text, scope)]
        except FormulaError as err:
            assert 0 <= err.position <= max(len(text), 1) and str(err)
            # SymPy's own exceptions are caught as a last resort; none should get there
            assert not err.message.startswith("cannot build this formula"), err.message
            return None
    for claim in claims:
        assert len(claim.sides) >= 2
        for side in claim.sides:
            assert isinstance(side.expr, sp.Basic) and 0 <= side.start <= side.end <= len(text)
    return claims


FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30),
       st.sampled_from(sorted(SCOPES)))
def test_token_soup(tokens, scope):
    outcome("".join(tokens), SCOPES[scope])
    outcome(" ".join(tokens) + " = x", SCOPES[scope])


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.sampled_from(TOKENS))
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 8)):]
        elif op == "replace":
            text = text[:i] + piece + text[i + 1:]
        else:
            j = draw(st.integers(i, len(text)))
            text = text[:j] + text[i:j] + text[j:]
    return text


@FUZZ
@given(mutated(), st.sampled_from(sorted(SCOPES)))
def test_mutated_seed_formulas(text, scope):
    outcome(text, SCOPES[scope])


@FUZZ
@given(mutated(), st.sampled_from(["layered", "numbered"]))
def test_mutated_instances(text, scope):
    outcome(text, SCOPES[scope], instances=True)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=80), st.sampled_from(sorted(SCOPES)))
def test_arbitrary_unicode(text, scope):
    outcome(text, SCOPES[scope])
    outcome(text + "=" + text, SCOPES[scope])


SEED_SCOPES = ["numbered", "numbered", "numbered", "numbered", "layered", "layered", "layered", "layered", "layered",
               "free", "free", "free", "numbered", "layered", "free", "softmax", "numbered", "softmax"]


def test_seed_formulas_parse():
    for text, scope in zip(SEEDS, SEED_SCOPES, strict=True):
        assert outcome(text, SCOPES[scope], instances=True), text


@pytest.mark.parametrize("template", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("scope", ["free", "numbered"])
def test_hostile_inputs_run_no_code(template, scope):
    marker = os.path.join(tempfile.gettempdir(), f"symbackprop_pwned_{os.getpid()}")
    text = template.replace("{marker}", marker)
    assert outcome(text, SCOPES[scope]) is None or "=" in text
    outcome(text, SCOPES[scope], instances=True)
    assert not os.path.exists(marker)


# ---- random well-formed formulas against SymPy built from the same tree ----------------
X, Z, A = (sp.Symbol(n, real=True) for n in "xza")
POINT = {X: sp.Rational(3, 10), Z: sp.Rational(7, 10), A: sp.Rational(13, 10)}
LEAVES_ = st.sampled_from([("x", "x", X), ("z", "z", Z), ("a", "a", A)]
                          + [(str(n), str(n), sp.Integer(n)) for n in range(1, 10)]
                          + [("0.5", "0.5", sp.Rational(1, 2))])


def _combine(children):
    """(plain text, LaTeX, SymPy) of an operation on smaller formulas."""
    from symbackprop.core.functions import sigmoid
    binary = st.tuples(children, children)
    return st.one_of(
        binary.map(lambda p: (f"({p[0][0]} + {p[1][0]})", rf"\left({p[0][1]} + {p[1][1]}\right)",
                              p[0][2] + p[1][2])),
        binary.map(lambda p: (f"({p[0][0]} - {p[1][0]})", f"({p[0][1]} - {p[1][1]})",
                              p[0][2] - p[1][2])),
        binary.map(lambda p: (f"{p[0][0]}*{p[1][0]}", rf"{p[0][1]} \cdot {p[1][1]}",
                              p[0][2] * p[1][2])),
        binary.map(lambda p: (f"({p[0][0]})({p[1][0]})", f"{{{p[0][1]}}}{{{p[1][1]}}}",
                              p[0][2] * p[1][2])),
        binary.map(lambda p: (f"({p[0][0]})/({p[1][0]})", rf"\frac{{{p[0][1]}}}{{{p[1][1]}}}",
                              p[0][2] / p[1][2])),
        st.tuples(children, st.integers(1, 3)).map(
            lambda p: (f"({p[0][0]})^{p[1]}", f"\\left({p[0][1]}\\right)^{{{p[1]}}}",
                       p[0][2] ** p[1])),
        children.map(lambda c: (f"exp({c[0]})", f"e^{{{c[1]}}}", sp.exp(c[2]))),
        children.map(lambda c: (f"tanh({c[0]})", rf"\tanh\left({c[1]}\right)", sp.tanh(c[2]))),
        children.map(lambda c: (f"sigma({c[0]})", rf"\sigma({c[1]})", sigmoid(c[2]))),
        children.map(lambda c: (f"-({c[0]})", f"-{{{c[1]}}}", -c[2])),
    )


FORMULAS = st.recursive(LEAVES_, _combine, max_leaves=12)


def _value(expr):
    v = sp.N(expr.xreplace(POINT).rewrite(sp.exp), 30)
    return complex(v)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(FORMULAS)
def test_random_formulas_match_sympy(formula):
    plain, latex, want = formula
    if any(e.args[0].has(sp.exp) for e in want.atoms(sp.exp)):
        return            # exp(exp(exp(18))): the oracle's evalf, not the parser, would stall
    try:
        expected = _value(want)
    except (TypeError, ValueError, ZeroDivisionError):
        return
    if not all(map(lambda v: abs(v) < 1e12, [expected])) or expected != expected:
        return
    for text in (plain, latex):
        try:
            got = parse_claim(f"y = {text}", SCOPES["free"]).sides[1].expr
        except FormulaError as err:
            assert "division by zero" in str(err) or "undefined" in str(err), (text, err)
            continue
        value = _value(got)
        assert abs(value - expected) <= 1e-9 * max(1, abs(expected)), (text, got, want)
