"""Check hand-derived claims: is ``dE/dw17 = …`` right, and if not, what went wrong?

Each claim is parsed (``formula``) in the spec's notation; every link
``A = B`` of a chain is checked on its own:

- two formulas: the derivatives are resolved to the truth (``truth``), tried
  symbolically (SymPy simplification under a time limit) and then compared
  at consistent forward passes of the network (``points``); the first point
  where they differ, or where one side is undefined, is the counterexample;
- a formula and a number: the true value at the spec's ``[values]`` must
  round to the number as written (``literals``);
- two numbers: the arithmetic must round to the number written.

A wrong claim gets the expected formula in the spec's notation and a
diagnosis: an incomplete chain rule first, then the classic mistakes
(``mistakes``) tried as mutations of the true formula (``diagnose``).

Every step is a function of one ``Context`` (``context.py``: the model, its
truth, scope and test points, built once per model): ``check_claim(ctx, claim)``.
"""
from __future__ import annotations

import math
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial

import sympy as sp

from ..core.defaults import CLAIM_TIMEOUT
from ..core.errors import SpecError
from ..formula.classes import CLASS_INDEX
from ..formula.examples import EXAMPLE_LOSS, EXAMPLE_NUMBER, example_sum
from ..formula.vectors import SIZES, needs_size
from ..formula.claims import ClaimText, extract
from ..formula.evaluate import CODE
from ..formula.names import LOSS, LR, rows_layout, with_definitions
from ..formula.ops import Partial
from ..formula.reader import Claim, FormulaError, Side, parse_instances
from .conv import check_conv_verdicts
from .context import (Context, agrees, batch_values, make_context, number_of, one_hot,
                      points_for)
from .batch import carries_mean, check_batch, marked, per_example_with_mean, reduced, with_m
from .definitions import NotADefinition, define, find, plain_relations, scoped
from .diagnose import diagnose, matrix_diagnosis, number_diagnosis
from .repair import repaired
from .errors import NeedsValues
from .isolate import Deadline, run
from .optimizer_lines import NotOptimizer, optimizer_verdicts
from .literals import LITERAL, decimal_places, digits_diagnosis, rounded, rounding_error, rounds_to
from .points import DIAGNOSIS_POINTS, PointSet, first_mismatch, values
from .present import counterexample, expected, plain, symbols_of, text_of
from .truth import Unsupported
from .updates import ASCENT, implied_gradient, update_as_equation
from .verdict import Verdict, summary

__all__ = ["Context", "NeedsValues", "Report", "check_claim", "check_claims", "check_text",
           "make_context"]


class TimeUp(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Raise TimeUp after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _raise(signum, frame):
        raise TimeUp()
    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def is_constant(expr) -> bool:
    entries = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    return all(not e.free_symbols for e in entries)


def is_number(side) -> bool:
    """A side written with decimals and no symbols (``0.7935``, ``0.8035·(1 − 0.8035)``):
    a rounded number.  Exact constants (``1``, ``\\frac{1}{2}``) are formulas."""
    return is_constant(side.expr) and LITERAL.search(side.text) is not None



# ---- claims ------------------------------------------------------------
def check_claim(ctx: Context, claim: ClaimText, before: tuple[str, ...] = (),
                defines: bool = False) -> list[Verdict]:
    """Every link of one claim of a file, read with the file's definitions ``before`` it;
    ``defines``: the line may define a name (``definitions.find``)."""
    ctx = scoped(ctx, before)
    if defines:
        found = definition_verdict(ctx, claim)
        if found is not None:
            return found
    return check_text(ctx, claim.text, claim.line)


KINDS = {"z": "pre-activation", "a": "activation"}
MIN_SYMBOLIC = 0.05     # seconds of SymPy simplification an instance gets at least


def definition_verdict(ctx: Context, claim: ClaimText) -> list[Verdict] | None:
    """``defined`` for a definition line (None: the line is a claim after all)."""
    text = plain_relations(claim.text)
    try:
        made = define(ctx, text)
    except NotADefinition:
        return None
    except FormulaError as err:
        return [Verdict(claim.line, claim.text, "unparseable", message=f"a definition: {err}",
                        position=err.position, expected=err.expected)]
    left = made.left
    note = f"defines {left.lhs} for the lines after it"
    if made.alias is not None:
        what = KINDS.get(made.alias, made.alias)
        note += (f": it is the network's {what}" if left.letters else
                 f": it is {text_of(ctx, made.value)}, the network's {what}")
    return [Verdict(claim.line, claim.text, "defined", lhs=left.lhs, rhs=left.rhs,
                    relation=left.relation.strip(), expected=text_of(ctx, made.value),
                    notes=(note,))]


@dataclass(frozen=True)
class InFile:
    """Checks a file's claims with the definitions made before each (by line)."""

    ctx: Context
    before: dict
    lines: frozenset

    def __call__(self, claim: ClaimText) -> list[Verdict]:
        return check_claim(self.ctx, claim, self.before.get(claim.line, ()),
                           claim.line in self.lines)


@dataclass(frozen=True)
class Optimised:
    """An optimiser update line (``m_t = …``, ``\\theta_{t+1} = …``) is read by
    ``optimizer_lines`` with the file's lines before it; any other line by ``inner``."""

    ctx: Context
    inner: object
    texts: tuple
    lines: tuple

    def __call__(self, claim: ClaimText) -> list[Verdict]:
        before = tuple(t for t, line in zip(self.texts, self.lines) if line < claim.line)
        try:
            return optimizer_verdicts(self.ctx, claim.line, claim.text, before)
        except NotOptimizer:
            return self.inner(claim)


def check_text(ctx: Context, text: str, line: int = 1) -> list[Verdict]:
    """Every link of the claim ``text`` (all instances of generic indices).  Layouts: with
    none stated, a NumPy claim whose shapes fail with vectors as columns is read with rows
    too: right there, it is unparseable naming [notation] layout (CS231n's np.dot(X.T,
    dscores)); wrong there as well, incorrect as read with rows.  In a spec whose layout is
    rows, a claim whose shapes fit only as columns (CS231n's own f = W x_i + b) is read so;
    not NumPy code, which is written in the layout of its arrays (np.dot(dscores,
    hidden_layer.T) is N×N there, not dW2 in columns)."""
    out = read_and_check(ctx, text, line)
    if ctx.model is not None and ctx.scope.layout is None and CODE.search(text) and \
            any(_shapes_failed(v) for v in out):
        rows = read_and_check(replace(ctx, scope=rows_layout(ctx.scope)), text, line)
        if all(v.ok for v in rows):
            return [Verdict(line, text, "unparseable", message=ROWS, expected="[notation] layout")]
        if any(v.verdict == "incorrect" for v in out) and \
                all(v.verdict in ("correct", "incorrect") and not _shapes_failed(v) for v in rows):
            return [_with_note(v, ROWS_WRONG) for v in rows]   # wrong in both layouts
    if ctx.scope.columns is not None and not CODE.search(text) and \
            any(_shapes_failed(v) for v in out):       # NumPy code keeps the spec's rows
        cols = replace(ctx, scope=ctx.scope.columns)
        alt = read_and_check(cols, text, line)
        if all(v.ok for v in alt):
            return [_with_note(v, COLUMNS) for v in alt]
    neuron = one_neuron(ctx)
    if neuron is not None and re.search(r"(?<![A-Za-z\\])d?w\b|(?<![A-Za-z\\])d?w_", text) and \
            any(_shapes_failed(v) or _no_such_layer(v) for v in out):
        alt = read_and_check(neuron, text, line)
        if not any(_shapes_failed(v) or _no_such_layer(v) for v in alt):
            return [_with_note(v, ONE_NEURON) for v in alt]
    return repaired(ctx, text, line, out, check_text)     # shapes that fit after one edit


ONE_NEURON = ("read with w the neuron's weight column and w_j its j-th weight (z = wᵀx + b, "
              "as for logistic regression): its shapes fit only that way")


def one_neuron(ctx: Context) -> Context | None:
    """A network of one neuron (logistic regression, DLAI course 1 week 2) writes its
    weights as a column w (z = wᵀx + b) and one weight as w_j; the default reading takes w
    and w_1 for the layer's 1×n matrix W^1.  This context reads them the neuron's way, for
    claims whose shapes fit only that way (w_1 is then the first weight, not layer 1)."""
    if ctx.model is None or len(ctx.model.network.layers) != 1 or ctx.scope.layout == "rows":
        return None
    layer = ctx.model.network.layers[0]
    if layer.n_out != 1 or ctx.model.notation.style == "numbered":
        return None
    base = ctx.model.notation.index_base
    keys = {("w", "", ""): sp.ImmutableMatrix(layer.W).T}
    keys.update({("w", "", str(k + base)): layer.W[0, k] for k in range(layer.n_in)})
    return replace(ctx, scope=with_definitions(ctx.scope, keys))


def _no_such_layer(v: Verdict) -> bool:
    return v.verdict == "unparseable" and "does not exist" in (v.message or "")


COLUMNS = ("read with vectors as columns (z = W h + b): its shapes fit only there, not in "
           "the spec's rows layout")


def _shapes_failed(v: Verdict) -> bool:
    return v.method == "shapes differ" or (v.verdict == "unparseable" and
                                           v.expected == "matching shapes")


def read_and_check(ctx: Context, text: str, line: int = 1) -> list[Verdict]:
    """``check_text`` in one layout (the verdicts quote the claim as written)."""
    plain = plain_relations(text)
    if plain == text:
        return _read_and_check(ctx, plain, line)
    if len(plain) != len(text):          # W2 += x read as W2 := W2 + (x): no positions
        return [replace(v, text=text, position=None) if v.text == plain else v
                for v in _read_and_check(ctx, plain, line)]
    return [replace(v, text=text, relation="=" if v.relation == ":=" else v.relation)
            if v.text == plain else v for v in _read_and_check(ctx, plain, line)]


def _read_and_check(ctx: Context, text: str, line: int = 1) -> list[Verdict]:
    if marked(text):             # a formula over a batch: m is its size
        ctx = with_m(ctx)
    token = CLASS_INDEX.set(False)
    numbered, by_letter = EXAMPLE_NUMBER.set(None), EXAMPLE_LOSS.set(False)
    try:
        claims = parse_instances(text, ctx.scope)
        if CLASS_INDEX.get():        # y_i read as the correct class: a one-hot target
            ctx = one_hot(ctx)
        k, letter_loss = EXAMPLE_NUMBER.get(), EXAMPLE_LOSS.get()
    except FormulaError as err:
        # only when no network reading exists: a name it lacks (z), or d/dx of the
        # input vector x; a shape error in a network formula stays that error
        found = calculus(ctx, text, line) if err.message.startswith(
            ("unknown name", "a derivative of a matrix by a matrix")) else None
        if found is None and ctx.model is None and needs_size(err.message, text):
            found = sized(ctx, text, line)
        if found is not None:
            return found
        return [Verdict(line, text, "unparseable", message=str(err), position=err.position,
                        expected=err.expected)]
    finally:
        CLASS_INDEX.reset(token)
        EXAMPLE_NUMBER.reset(numbered)
        EXAMPLE_LOSS.reset(by_letter)
    if (k is not None or letter_loss) and ctx.examples:
        if k is None and any(is_number(side) for c in claims for side in c.sides):
            return [Verdict(line, text, "unparseable", message=ANY_EXAMPLE,
                            expected="one example's loss: L_1, L_2, …")]
        ctx = one_example(ctx, k)
    if ctx.model is None and ctx.scope.vector_size is None and needs_size("", text):
        return sized(ctx, text, line)       # δ_{ij}: indices over a vector of some size
    if marked(text) and ctx.model is not None:
        found = batch_claims(ctx, claims, text, line)
        if found is not None:
            return found
    unsure = per_example_with_mean(ctx, text) if ctx.model is not None else None
    if unsure is not None:
        return [Verdict(line, text, "unparseable", message=unsure,
                        expected="a batch formula (dW = H^T dscores) or one example's δ")]
    if example_sum(text) and ctx.model is not None:
        return [Verdict(line, text, "unparseable", message=BATCH_SUM, expected="the batch's "
                        "loss or a gradient of it, equal to a sum over the examples")]
    if len(claims) > 1:     # instances of generic indices share the symbolic step's time
        ctx = replace(ctx, symbolic_seconds=max(MIN_SYMBOLIC, ctx.symbolic_seconds / len(claims)))
    out = []
    links = len(claims[0].sides) - 1
    for i in range(links):
        found = [check_link(ctx, c, i, line) for c in claims]
        bad = next((v for v in found if not v.ok), None)
        if len(claims) > 1:
            note = (f"for {', '.join(f'{k} = {v}' for k, v in bad_indices(claims, found))}"
                    if bad else f"checked for all {len(claims)} index values")
            found = [_with_note(v, note) for v in found]
            bad = next((v for v in found if not v.ok), None)
        out.append(bad or found[0])
    if links > 1 and len(claims) == 1 and not all(v.ok for v in out):
        out = locate_wrong_step(ctx, claims[0], out)
    return out


def batch_claims(ctx: Context, claims: list[Claim], text: str, line: int) -> list[Verdict] | None:
    """A batch formula (``dW^{[l]} = \\frac{1}{m} dZ^{[l]} A^{[l-1]T}``) checked against the
    batch: every instance of a generic index, and in a chain ``A = B = 0.18`` the link
    ``A = B`` as a batch formula and the number against the quantity A names."""
    out = []
    for claim in claims:
        sides = claim.sides
        formulas = [k for k, side in enumerate(sides) if not is_number(side)]
        if len(formulas) != len(sides) and (len(formulas) != 2 or formulas != [0, 1]):
            return None
        found = check_batch(ctx, replace(claim, sides=sides[:2]), text, line)
        if found is None or len(found) != 1:
            return None
        verdicts = found
        for k in range(2, len(sides)):   # each later side against the quantity A names
            pair = replace(claim, sides=(sides[0], sides[k]))
            if is_number(sides[k]):
                found = [check_link(ctx, pair, 0, line)]
            else:                        # another batch formula: at the batch too
                found = check_batch(ctx, pair, text, line)
                if found is None or len(found) != 1:
                    return None
            verdicts.append(replace(found[0], link=k - 1, lhs=sides[k - 1].text))
        out.append(verdicts)
    if len(claims) == 1:
        return out[0]
    bad = next((k for k, vs in enumerate(out) if not all(v.ok for v in vs)), None)
    if bad is None:
        return [_with_note(v, f"checked for all {len(claims)} index values") for v in out[0]]
    note = "for " + ", ".join(f"{k} = {v}" for k, v in claims[bad].indices)
    return [_with_note(v, note) for v in out[bad]]


ROWS = ("[notation] layout: the claim is wrong with vectors as columns (the default "
        "layout) but holds with examples and vectors as rows and W as [source][target] "
        "(CS231n's np.dot(X, W1)); the spec does not state a layout, so it is not judged: "
        "say which, [notation] layout = \"rows\" or \"columns\" (or preset = \"cs231n\")")


ROWS_WRONG = ("its shapes fit only with vectors as rows (CS231n's layout), and it is wrong "
              "there too; shown as read that way")


BATCH_SUM = ("a sum over the examples is read only in a formula of the batch's loss or its "
             "gradient (C = \\frac{1}{2n} \\sum_x \\|y(x) - a^L(x)\\|^2, J = \\frac{1}{m} "
             "\\sum_i \\mathcal{L}(\\hat{y}^{(i)}, y^{(i)}))")


def calculus(ctx: Context, text: str, line: int) -> list[Verdict] | None:
    """A free-standing calculus line in a spec'd file (``σ'(z) = σ(z)(1 − σ(z))``,
    z not a name of the network): its verdicts as free-standing calculus, or None
    when it is not one (it names no function or takes ∂ of a plain name, such as
    ``dE/dw`` with a w the network does not have)."""
    free = ctx.free
    if free is None:
        return None
    try:
        claims = parse_instances(text, free.scope)
    except FormulaError:
        return None
    sides = [side.expr for c in claims for side in c.sides]
    if any(_has(e, Partial) for e in sides) or not any(_has(e, sp.Function) for e in sides):
        return None
    if all(isinstance(c.sides[0].expr, sp.Symbol) for c in claims):
        return None         # `L_i = −log p_{y_i}`: a name of its own, not an identity in x

    note = "checked as free-standing calculus: its variables are not names of this network"
    return [_with_note(v, note) for v in check_text(free, text, line)]


def sized(ctx: Context, text: str, line: int) -> list[Verdict] | None:
    """A free-standing claim over vectors with indices (softmax(z)_i, Σ_j e^{z_j}, δ_{ij}),
    checked for vectors of each size in ``SIZES``: the first size where it fails decides
    (incorrect or unparseable); it is correct when it holds at every size.  None when the
    sized reading does not apply (it is already sized)."""
    if ctx.scope.vector_size is not None:
        return None
    found = None
    for n in SIZES:
        sized_ctx = replace(ctx, scope=replace(ctx.scope, vector_size=n))
        found = check_text(sized_ctx, text, line)
        if not all(v.ok for v in found):
            note = f"read for vectors of n = {n} entries (counted from 1), where it fails"
            return [_with_note(v, note) for v in found]
    note = ("checked for vectors of n = " + ", ".join(map(str, SIZES)) +
            " entries (counted from 1): a free-standing vector has no size")
    return [_with_note(v, note) for v in found]


def locate_wrong_step(ctx: Context, claim: Claim, verdicts: list[Verdict]) -> list[Verdict]:
    """In a chain A = B = C …, name the side where it goes wrong: the sides that
    differ from the first side (formula sides only; numbers have their own check)."""
    first = ctx.truth.resolve(claim.sides[0].expr)
    if is_number(claim.sides[0]):
        return verdicts
    wrong = set()
    for k, side in enumerate(claim.sides[1:], start=1):
        if not is_number(side):
            other = ctx.truth.resolve(side.expr)
            if _shape(other) != _shape(first) or first_mismatch(
                    first, other, points_for(ctx, first, other).points[:DIAGNOSIS_POINTS])[0]:
                wrong.add(k)
    out = []
    for i, v in enumerate(verdicts):
        left_wrong, right_wrong = i in wrong, i + 1 in wrong
        if v.verdict == "incorrect" and left_wrong != right_wrong and \
                (left_wrong or v.diagnosis is None):
            k = i if left_wrong else i + 1
            v = replace(v, diagnosis=f"the wrong step is the side `{claim.sides[k].text}`: it "
                                     f"differs from the first side `{claim.sides[0].text}`")
        out.append(v)
    return out


def check_link(ctx: Context, claim: Claim, i: int, line: int = 1) -> Verdict:
    """The link ``sides[i] = sides[i + 1]`` of a parsed claim."""
    A, B = claim.sides[i], claim.sides[i + 1]
    base = dict(line=line, text=claim.text, link=i, lhs=A.text, rhs=B.text,
                relation=claim.text[A.end:B.start].strip() or "=")
    try:
        if is_number(A) and is_number(B):
            return numbers(ctx, A, B, base)
        if is_number(A) or is_number(B):
            S, C = (B, A) if is_number(A) else (A, B)
            return numeric(ctx, S, C, base)
        first = claim.sides[0]      # the quantity a chain is about: its truth is expected
        return equivalent(ctx, A, B, base, first if not is_number(first) else A)
    except Unsupported as err:      # readable, but not a statement about this network
        return Verdict(verdict="unparseable", message=str(err), position=A.start,
                       expected="a derivative of the loss or of a z, a or δ with respect to "
                                "a parameter, input or intermediate of the network", **base)


# ---- formula = formula -------------------------------------------------
def equivalent(ctx: Context, A: Side, B: Side, base: dict, ref: Side | None = None) -> Verdict:
    """A concrete point where the sides differ refutes the claim; agreement at every
    test point is confirmed by a symbolic proof when SymPy finds one in time."""
    ta, tb = ctx.truth.resolve(A.expr), ctx.truth.resolve(B.expr)
    ref = A if ref is None else ref
    shown = lambda: expected(ctx, ref.expr, ta if ref is A else ctx.truth.resolve(ref.expr))  # noqa: E731
    if _shape(ta) != _shape(tb):
        diag = None
        if _shape(ta)[::-1] == _shape(tb):
            diag = "transpose missing: the right side is the transpose of the left side's shape"
        text, tex = shown()
        return Verdict(verdict="incorrect", expected=text, expected_tex=tex,
                       diagnosis=diag, method="shapes differ", **base)
    pts = points_for(ctx, ta, tb)
    bad, n = first_mismatch(ta, tb, pts.points)
    if bad is None:
        if symbolic_equal(ctx, ta, tb):
            return Verdict(verdict="correct", method="symbolic (SymPy simplification)", **base)
        if n == 0:
            text, tex = shown()
            return Verdict(verdict="incorrect", expected=text, expected_tex=tex,
                           message="both sides are undefined (not real numbers) at every "
                           "test point", method="numeric: undefined", region=pts.region,
                           **base)
        return Verdict(verdict="correct", method=f"numeric: equal at {n} test points",
                       region=pts.region, **base)
    point, u, v = bad
    if (u is None or v is None) and not any(
            values(ta if u is None else tb, p) is not None for p in pts.points):
        side = A if u is None else B     # never a number anywhere: a reading that failed
        return Verdict(verdict="unparseable", message=f"`{side.text}` has no value (a real number) "
                       "at any test point while the other side has one: it is undefined "
                       "everywhere (a log of a negative number?), or it was not read as the "
                       "quantity meant (a batch formula in a form not read, or shapes that fit "
                       "only another reading); not judged", expected="a formula with a "
                       "value", position=side.start, **base)
    text, tex = shown()
    diagnosis = update_as_equation(ctx, A.expr, tb, pts.points[:DIAGNOSIS_POINTS]) \
        or diagnose(ctx, A, B, ta, tb, pts.points)
    if diagnosis == ASCENT and any(getattr(ctx.truth.nodes.get(s), "kind", None) == "delta"
                                   for s in symbols_of(B.expr)):
        diagnosis += "; here δ = ∂E/∂z (with δ defined as −∂E/∂z, + would be right)"
    return Verdict(verdict="incorrect", expected=text, expected_tex=tex,
                   diagnosis=diagnosis,
                   counterexample=counterexample(ctx, point, u, v, A.expr, B.expr, ta),
                   method="numeric: differ at a test point", region=pts.region, **base)


def symbolic_equal(ctx: Context, ta, tb) -> bool:
    """SymPy proves ta − tb = 0 (a and δ written out in z) within the time limit."""
    try:
        with time_limit(ctx.symbolic_seconds):
            diff = (ta - tb).xreplace(ctx.truth.expansions) if ctx.d else ta - tb
            diff = diff.rewrite(sp.exp) if not isinstance(diff, sp.MatrixBase) \
                else diff.applyfunc(lambda e: e.rewrite(sp.exp))
            simple = sp.simplify(diff)
            return simple.is_zero_matrix if isinstance(simple, sp.MatrixBase) else simple == 0
    except (TimeUp, RecursionError, TypeError, ValueError, ZeroDivisionError):
        return False


# ---- formula = number, number = number -----------------------------------
def numeric(ctx: Context, S: Side, C: Side, base: dict) -> Verdict:
    """A formula ``S`` and a number ``C``: the truth at the spec's [values] rounds to ``C``."""
    if ctx.model is None:           # free-standing: the number must hold identically
        return equivalent(ctx, S, C, base)
    pts = ctx.network_points
    if pts.base is None:
        raise NeedsValues("a [values] table (x, y and every parameter)")
    ts = ctx.truth.resolve(S.expr)
    if LR in symbols_of(ts) and LR not in pts.base:
        raise NeedsValues("the learning rate ([values].learning_rate)")
    stacked = stacked_examples(ctx, S.expr, ts, C.expr)
    if stacked is not None:             # a batch matrix: one column (row) an example
        if carries_mean(ctx, S.text):   # CS231n's dscores holds the 1/N
            return numeric_matrix(ctx, stacked / len(ctx.examples), C, pts, base, mean=True)
        return numeric_matrix(ctx, stacked, C, pts, base)
    if isinstance(ts, sp.MatrixBase) and isinstance(C.expr, sp.MatrixBase):
        return numeric_matrix(ctx, ts, C, pts, base, is_batch_quantity(ctx, S.expr), S.expr)
    if isinstance(ts, sp.MatrixBase) or isinstance(C.expr, sp.MatrixBase):
        shape = (ts if isinstance(ts, sp.MatrixBase) else C.expr).shape
        what = ("a single number written for a {}×{} matrix" if isinstance(ts, sp.MatrixBase)
                else "a {}×{} matrix of numbers written for a single number").format(*shape)
        true = values(ts, pts.base)
        return Verdict(verdict="incorrect", expected=text_of(ctx, ts if true is None else true),
                       diagnosis=what, method="shapes differ", region=pts.region, **base)
    batch = is_batch_quantity(ctx, S.expr)
    if not batch and ctx.examples and S.expr.has(LOSS):
        return Verdict(verdict="unparseable", message="a formula of the batch's loss other than "
                       "the loss or one of its gradients (J², 2 ∂J/∂w) is not evaluated over the "
                       f"spec's {len(ctx.examples)} examples; write the loss or the gradient "
                       "alone", expected="the loss or a gradient of it", **base)
    true = batch_values(ctx, ts) if batch else values(ts, pts.base)
    claimed = values(C.expr, {})
    if true is None or claimed is None:
        return Verdict(verdict="incorrect", message="undefined at the spec's [values]", **base)
    ok = agrees(ctx, true, claimed, C)
    places = C.decimals if C.decimals is not None else 6
    verdict = "correct" if ok else "incorrect"
    diag = None
    if not ok:
        diag = batch_diagnosis(ctx, ts, true, claimed, C) if batch else \
            number_diagnosis(ctx, S.expr, ts, claimed, C, pts.base, true)
    if not ok and diag is None:
        diag = implied_gradient(ctx, S.expr, claimed, pts.base)
    at = (f"the spec's [values], the {ctx.reduction} over its {len(ctx.examples)} examples"
          if batch else "the spec's [values]")
    cx = None if ok else {"at": at, "true": float(true), "claimed": float(claimed)}
    return Verdict(verdict=verdict, expected=shown_value(true, places), diagnosis=diag,
                   counterexample=cx, method=f"value at {at}", region=pts.region, **base)


def shown_value(true, places: int) -> str:
    """The true value to the claim's decimal places, or to 3 significant digits when those
    places would hide it (−0.0283 for a claim of 0.1, never −0.0)."""
    magnitude = abs(float(true))
    if magnitude > 0:
        places = max(places, 2 - math.floor(math.log10(magnitude)))
    text = rounded(true, places)
    if "E" in text:                      # Decimal's exponent form for tiny values
        text = format(Decimal(text), "f")
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


# ---- batches: the loss and its gradients over a spec's examples ---------------------
def stacked_examples(ctx: Context, written, ts, claimed):
    """On a spec with m ≥ 2 examples, a per-example quantity (``W^{[1]} X + b^{[1]}``,
    ``A^{[2]} - Y``) written equal to a matrix of numbers with one column an example (one
    row in the rows layout): the examples' values side by side, or None when the shapes
    do not say so (the reading of one example stands)."""
    if not ctx.examples or not isinstance(claimed, sp.MatrixBase) or is_batch_quantity(ctx, written):
        return None
    rows = getattr(getattr(ctx.model, "notation", None), "layout", "columns") == "rows"
    shape = ts.shape if isinstance(ts, sp.MatrixBase) else (1, 1)
    m = len(ctx.examples)
    if rows and shape[0] == 1 and claimed.shape == (m, shape[1]):
        each = [values(ts, p) for p in ctx.examples]
        if any(v is None for v in each):
            return None
        return sp.Matrix.vstack(*[v if isinstance(v, sp.MatrixBase) else sp.Matrix([[v]]) for v in each])
    if not rows and shape[1] == 1 and claimed.shape == (shape[0], m):
        each = [values(ts, p) for p in ctx.examples]
        if any(v is None for v in each):
            return None
        return sp.Matrix.hstack(*[v if isinstance(v, sp.MatrixBase) else sp.Matrix([[v]]) for v in each])
    return None


ANY_EXAMPLE = ("L_i is the loss of any one of the spec's examples: a number is the loss of "
               "one of them, written L_1, L_2, …")


def one_example(ctx: Context, k: int | None) -> Context:
    """``ctx`` for a claim about one example of a batch spec: example ``k`` (a^{[2](2)},
    L_1: its [values] point), or any example alike (L_i: a per-example formula)."""
    pts = ctx.network_points
    if k is not None and pts is not None and pts.base is not None:
        pts = replace(pts, base={**pts.base, **ctx.examples[k - 1]})
    return replace(ctx, examples=(), network_points=pts)


def is_batch_quantity(ctx: Context, written) -> bool:
    """On a spec with several examples: is ``written`` the loss or ∂(loss)/∂(parameter)
    (or a matrix of them), which the spec reduces over its batch?"""
    return bool(ctx.examples) and reduced(ctx, written)


def batch_diagnosis(ctx: Context, ts, true, claimed, C) -> str | None:
    """A batch number that is the first example's value, or the sum for the mean (or
    the mean for the sum)."""
    m = len(ctx.examples)
    first = values(ts, ctx.examples[0])
    if first is not None and agrees(ctx, first, claimed, C):
        return (f"the first example's value: the batch of {m} examples has the {ctx.reduction} "
                f"of the examples' values, {rounded(true, 6)}")
    if ctx.reduction == "mean" and agrees(ctx, true * m, claimed, C):
        return (f"missing 1/m: the sum over the m = {m} examples, where the spec's batch takes "
                "their mean (1/m Σ_i)")
    if ctx.reduction == "sum" and agrees(ctx, true / m, claimed, C):
        return (f"divided by m = {m}: the spec's batch sums its examples ([network] batch = "
                "\"sum\"), it does not average them")
    return None


def numeric_matrix(ctx: Context, ts, C: Side, pts: PointSet, base: dict,
                   batch: bool = False, written=None, mean: bool = False) -> Verdict:
    """A matrix of numbers (``\\begin{bmatrix} 1.05 \\\\ -0.25 \\end{bmatrix}``): each
    entry must be what the true entry rounds to, to the places written (a whole
    number among decimals, such as 0, to the most places of the matrix)."""
    common = dict(method="value at the spec's [values]", region=pts.region, **base)
    if ts.shape != C.expr.shape:
        return Verdict(verdict="incorrect", diagnosis=f"shapes differ: {C.expr.rows}×"
                       f"{C.expr.cols} written for {ts.rows}×{ts.cols}",
                       expected=text_of(ctx, values(ts, pts.base) or ts), **common)
    true = batch_values(ctx, ts) if batch else values(ts, pts.base)
    claimed = values(C.expr, {})
    if true is None or claimed is None:
        return Verdict(verdict="incorrect", message="undefined at the spec's [values]",
                       **base)
    places = [decimal_places(c) for c in C.expr]         # the parser's exact rationals
    most = max(places)
    places = [p if p > 0 else most for p in places]
    wrong = [k for k, (t, c, p) in enumerate(zip(true, claimed, places))
             if not rounds_to(t, c, p)]
    shown = sp.ImmutableMatrix(ts.rows, ts.cols,
                               [sp.Float(rounded(t, p)) for t, p in zip(true, places)])
    if not wrong:
        return Verdict(verdict="correct", **common)
    k = wrong[0]
    i, j = divmod(k, ts.cols)
    mistake = None if batch or mean else matrix_diagnosis(ctx, written, ts, claimed, places,
                                                          pts.base)
    m = len(ctx.examples)
    if (batch or mean) and m > 1 and ctx.reduction == "mean" and \
            all(rounds_to(t * m, c, p) for t, c, p in zip(true, claimed, places)):
        mistake = (f"missing 1/m: every entry is the sum over the batch's m = {m} examples, "
                   "where the spec's batch takes their mean")
    diag = mistake or (f"entry ({i + 1}, {j + 1}): "
            + digits_diagnosis(true[k], claimed[k], places[k])
            + (f" ({len(wrong)} of {len(places)} entries are off)" if len(wrong) > 1 else ""))
    return Verdict(verdict="incorrect", expected=text_of(ctx, shown), diagnosis=diag,
                   counterexample={"at": "the spec's [values]", "true": plain(true),
                                   "claimed": plain(claimed)}, **common)


def numbers(ctx: Context, A: Side, B: Side, base: dict) -> Verdict:
    """Arithmetic: constant = constant."""
    lit, other = (B, A) if B.decimals is not None else (A, B)
    va, vb = values(other.expr, {}), values(lit.expr, {})
    if va is None or vb is None:
        return Verdict(verdict="incorrect", message="undefined (not a real number)", **base)
    if lit.decimals is None:
        number = partial(number_of, ctx)
        tol = rounding_error(A.text, number) + rounding_error(B.text, number)
        ok = abs(float(va) - float(vb)) <= tol + 1e-12 * max(1.0, abs(float(va)))
    else:
        # the number as written, or within what the other side's own rounded numbers
        # leave open (½(0.01 − 0.75136507)² = 0.274811083: 0.75136507 is itself rounded)
        ok = rounds_to(va, vb, lit.decimals) or abs(float(va) - float(vb)) <= (
            rounding_error(other.text, partial(number_of, ctx), exact_inputs(ctx, other, lit))
            + 0.5 * 10.0 ** -lit.decimals)
    places = lit.decimals if lit.decimals is not None else 6
    diag = None if ok else number_diagnosis(ctx, other.expr, other.expr, vb, lit, {}, va)
    cx = None if ok else {"at": "arithmetic", "true": float(va), "claimed": float(vb)}
    return Verdict(verdict="correct" if ok else "incorrect", expected=rounded(va, places),
                   diagnosis=diag, counterexample=cx, method="arithmetic", **base)


def exact_inputs(ctx: Context, other: Side, lit: Side) -> frozenset:
    """The numbers of ``other`` taken as exact: the spec's, and those written with fewer
    places than the result less one (inputs such as the 0.3 of e^{0.3} = 0.4256); one
    with about as many places as the result is a rounded intermediate (0.75136507)."""
    short = {sp.Rational(m[0]) for m in LITERAL.finditer(other.text)
             if len(m[0].partition(".")[2]) < lit.decimals - 1}
    return ctx.given_numbers | frozenset(short)


def _with_note(v: Verdict, note: str) -> Verdict:
    return replace(v, notes=v.notes + (note,))


def bad_indices(claims: list[Claim], found: list[Verdict]):
    for c, v in zip(claims, found):
        if not v.ok:
            return c.indices
    return ()


def _has(e, cls) -> bool:
    entries = list(e) if isinstance(e, sp.MatrixBase) else [e]
    return any(x.has(cls) for x in entries)


def _shape(e):
    return e.shape if isinstance(e, sp.MatrixBase) else ()


# ---- files and the public entry point ------------------------------------------
@dataclass(frozen=True)
class Report:
    """The verdicts of one claims file."""

    source: str
    verdicts: tuple[Verdict, ...]

    @property
    def summary(self) -> dict[str, int]:
        return summary(self.verdicts)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def check_claims(model, text: str, kind: str = "text", source: str = "<claims>",
                 timeout: float = CLAIM_TIMEOUT, isolate: bool = True, seed: int = 0,
                 checker: Context | None = None, deadline: Deadline | None = None) -> Report:
    """Check every claim of ``text`` (a text, Markdown or LaTeX file's contents).

    ``model``: a ``pipeline.Model`` or None for free-standing calculus.  Each
    claim runs in a child process with ``timeout`` seconds (``isolate=False``:
    in this process, with only the symbolic step time-limited).  ``checker``: the
    model's ``Context`` when the caller has one (files checked against one model
    share its test points).  ``deadline``: the end of the whole run (claims left
    are ``undecided``).
    """
    if getattr(getattr(model, "spec", None), "convolutional", False):    # issue #18
        return Report(source, check_conv_verdicts(model, text, kind, timeout, isolate, deadline,
                                                  checker))
    ctx = checker or make_context(model, seed=seed)
    claims = extract(text, kind)
    before, lines = find(ctx, claims)
    check = InFile(ctx, before, frozenset(lines)) if lines else partial(check_claim, ctx)
    check = Optimised(ctx, check, tuple(c.text for c in claims), tuple(c.line for c in claims))
    results = run(check, claims, timeout=timeout, isolate=isolate, deadline=deadline)
    missing = [(c.line, r.what) for c, r in zip(claims, results) if isinstance(r, NeedsValues)]
    if missing:
        lines = ", ".join(str(line) for line, _ in missing)
        what = sorted({w for _, w in missing})
        raise SpecError(f"{source}: line{'s' if len(missing) > 1 else ''} {lines} claim"
                        f"{'' if len(missing) > 1 else 's'} a number, which is checked at the "
                        f"spec's values; the spec {model.spec.name!r} needs "
                        f"{' and '.join(what)}")
    return Report(source, tuple(v for r in results for v in r))
