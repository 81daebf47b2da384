"""Check hand-derived claims: is ``dE/dw17 = …`` right, and if not, what went wrong?

Each claim is parsed (``formula``) in the spec's notation; every link
``A = B`` of a chain is checked on its own:

- two formulas: the derivatives are resolved to the truth (``truth``), tried
  symbolically (SymPy simplification under a time limit) and then compared
  at consistent forward passes of the network (``points``); the first point
  where they differ, or where one side is undefined, is the counterexample;
- a formula and a number: the true value at the spec's ``[values]`` must
  round to the number as written (``numbers``);
- two numbers: the arithmetic must round to the number written.

A wrong claim gets the expected formula in the spec's notation and a
diagnosis: an incomplete chain rule first, then the classic mistakes
(``mistakes``) tried as mutations of the true formula.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .mistakes import Forms, Mistake, NotApplicable, derivative_mutations, free_mutations, mistakes
from .numbers import LITERAL, digits_diagnosis, rounded, rounding_error, rounds_to
from .points import PointSet, close, free_points, network_points, values
from .truth import Truth, Unsupported, loss_symbol, partial_class
from .verdict import Verdict

SYMBOLIC_SECONDS = 1.0
DIAGNOSIS_POINTS = 6
MAX_SHOWN_OPS = 80


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


class Checker:
    """Checks claims against one model (None: free-standing calculus)."""

    def __init__(self, model=None, seed: int = 0, symbolic_seconds: float = SYMBOLIC_SECONDS):
        from .formula import build_scope
        self.model, self.seed, self.symbolic_seconds = model, seed, symbolic_seconds
        self.d = model.derivation if model is not None else None
        self.nt = model.notation if model is not None else None
        self.truth = Truth(self.d, self.nt)
        self.scope = build_scope(model)

    @cached_property
    def network_points(self) -> PointSet:
        return network_points(self.model, seed=self.seed)

    def warm_up(self) -> None:
        """Compute the network's test points now (before forking workers)."""
        if self.model is not None:
            self.network_points

    def points_for(self, *exprs) -> PointSet:
        if self.model is not None:
            return self.network_points
        syms = set().union(*[e.free_symbols for e in exprs])
        return free_points(syms, seed=self.seed)

    # ---- claims ------------------------------------------------------------
    def check_text(self, text: str, line: int = 1) -> list[Verdict]:
        """Every link of the claim ``text`` (all instances of generic indices)."""
        from .formula import FormulaError, parse_instances
        try:
            claims = parse_instances(text, self.scope)
        except FormulaError as err:
            return [Verdict(line, text, "unparseable", message=str(err), position=err.position,
                            expected=err.expected)]
        out = []
        links = len(claims[0].sides) - 1
        for i in range(links):
            found = [self.check_link(c, i, line) for c in claims]
            bad = next((v for v in found if not v.ok), None)
            if len(claims) > 1:
                note = (f"for {', '.join(f'{k} = {v}' for k, v in bad_indices(claims, found))}"
                        if bad else f"checked for all {len(claims)} index values")
                found = [_with_note(v, note) for v in found]
                bad = next((v for v in found if not v.ok), None)
            out.append(bad or found[0])
        if links > 1 and len(claims) == 1 and not all(v.ok for v in out):
            out = self.locate_wrong_step(claims[0], out)
        return out

    def locate_wrong_step(self, claim, verdicts: list[Verdict]) -> list[Verdict]:
        """In a chain A = B = C …, name the side where it goes wrong: the sides that
        differ from the first side (formula sides only; numbers have their own check)."""
        from dataclasses import replace
        first = self.truth.resolve(claim.sides[0].expr)
        if is_number(claim.sides[0]):
            return verdicts
        wrong = set()
        for k, side in enumerate(claim.sides[1:], start=1):
            if not is_number(side):
                other = self.truth.resolve(side.expr)
                if _shape(other) != _shape(first) or first_mismatch(
                        first, other, self.points_for(first, other).points[:DIAGNOSIS_POINTS])[0]:
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

    def check_link(self, claim, i: int, line: int = 1) -> Verdict:
        """The link ``sides[i] = sides[i + 1]`` of a parsed claim."""
        A, B = claim.sides[i], claim.sides[i + 1]
        base = dict(line=line, text=claim.text, link=i, lhs=A.text, rhs=B.text)
        try:
            if is_number(A) and is_number(B):
                return self.numbers(A, B, base)
            if is_number(A) or is_number(B):
                S, C = (B, A) if is_number(A) else (A, B)
                return self.numeric(S, C, base)
            first = claim.sides[0]      # the quantity a chain is about: its truth is expected
            return self.equivalent(A, B, base, first if not is_number(first) else A)
        except Unsupported as err:
            return Verdict(verdict="undecided", message=str(err), **base)

    # ---- formula = formula -------------------------------------------------
    def equivalent(self, A, B, base: dict, ref=None) -> Verdict:
        ta, tb = self.truth.resolve(A.expr), self.truth.resolve(B.expr)
        ref = A if ref is None else ref
        expected, expected_tex = self.expected(ref.expr, ta if ref is A else self.truth.resolve(ref.expr))
        if _shape(ta) != _shape(tb):
            diag = None
            if _shape(ta)[::-1] == _shape(tb):
                diag = "transpose missing: the right side is the transpose of the left side's shape"
            return Verdict(verdict="incorrect", expected=expected, expected_tex=expected_tex,
                           diagnosis=diag, method="shapes differ", **base)
        if self.symbolic_equal(ta, tb):
            return Verdict(verdict="correct", method="symbolic (SymPy simplification)", **base)
        pts = self.points_for(ta, tb)
        bad, n = first_mismatch(ta, tb, pts.points)
        if bad is None:
            if n == 0:
                return Verdict(verdict="undecided", message="both sides are undefined at every "
                               "test point", region=pts.region, **base)
            return Verdict(verdict="correct", method=f"numeric: equal at {n} test points",
                           region=pts.region, **base)
        point, u, v = bad
        return Verdict(verdict="incorrect", expected=expected, expected_tex=expected_tex,
                       diagnosis=self.diagnose(A, B, ta, tb, pts.points),
                       counterexample=self.counterexample(point, u, v, A.expr, B.expr, ta),
                       method="numeric: differ at a test point", region=pts.region, **base)

    def symbolic_equal(self, ta, tb) -> bool:
        """SymPy proves ta − tb = 0 (a and δ written out in z) within the time limit."""
        try:
            with time_limit(self.symbolic_seconds):
                diff = (ta - tb).xreplace(self.definitions) if self.d else ta - tb
                diff = diff.rewrite(sp.exp) if not isinstance(diff, sp.MatrixBase) \
                    else diff.applyfunc(lambda e: e.rewrite(sp.exp))
                simple = sp.simplify(diff)
                return simple.is_zero_matrix if isinstance(simple, sp.MatrixBase) else simple == 0
        except (TimeUp, RecursionError, TypeError, ValueError, ZeroDivisionError):
            return False

    @cached_property
    def definitions(self) -> dict:
        """a → f(z) and δ → its recursion, in z, W and y (for symbolic proofs)."""
        env = {}
        for layer in self.d.layers:
            env.update(zip(layer.a, layer.outputs_of(list(layer.z))))
        for layer in reversed(self.d.layers):
            for j in range(layer.n_out):
                env[layer.delta[j]] = self.d.delta(layer, j).xreplace(env)
        return env

    # ---- formula = number, number = number -----------------------------------
    def numeric(self, S, C, base: dict) -> Verdict:
        pts = self.network_points if self.model is not None else None
        if pts is None or pts.base is None:
            raise Unsupported("a number can only be checked at the spec's [values] (x, y and "
                              "every parameter); this spec has none" if self.model is not None
                              else "a number needs a spec with [values]: free-standing claims "
                              "are checked as formulas")
        ts = self.truth.resolve(S.expr)
        if isinstance(ts, sp.MatrixBase):
            raise Unsupported("a single number written for a matrix")
        true, claimed = values(ts, pts.base), values(C.expr, {})
        if true is None or claimed is None:
            return Verdict(verdict="incorrect", message="undefined at the spec's [values]", **base)
        ok = self.agrees(true, claimed, C)
        places = C.decimals if C.decimals is not None else 6
        verdict = "correct" if ok else "incorrect"
        diag = None if ok else self.number_diagnosis(S.expr, ts, claimed, C, pts.base, true)
        cx = None if ok else {"at": "the spec's [values]", "true": float(true),
                              "claimed": float(claimed)}
        return Verdict(verdict=verdict, expected=rounded(true, places), diagnosis=diag,
                       counterexample=cx, method="value at the spec's [values]",
                       region=pts.region, **base)

    def agrees(self, true, claimed, C) -> bool:
        if C.decimals is not None:
            return rounds_to(true, claimed, C.decimals)
        tol = rounding_error(C.text, self.number_of)
        return abs(float(true) - float(claimed)) <= tol + 1e-12 * max(1.0, abs(float(true)))

    def number_of(self, text: str):
        """The value of the constant ``text`` (None if it does not parse to a real number)."""
        from .formula import FormulaError, parse_claim
        try:
            v = values(parse_claim(f"{text} = 0", self.scope).sides[0].expr, {})
        except FormulaError:
            return None
        return None if v is None or isinstance(v, sp.MatrixBase) else v

    def numbers(self, A, B, base: dict) -> Verdict:
        """Arithmetic: constant = constant."""
        lit, other = (B, A) if B.decimals is not None else (A, B)
        va, vb = values(other.expr, {}), values(lit.expr, {})
        if va is None or vb is None:
            return Verdict(verdict="incorrect", message="undefined (not a real number)", **base)
        if lit.decimals is None:
            tol = rounding_error(A.text, self.number_of) + rounding_error(B.text, self.number_of)
            ok = abs(float(va) - float(vb)) <= tol + 1e-12 * max(1.0, abs(float(va)))
        else:
            ok = rounds_to(va, vb, lit.decimals)
        places = lit.decimals if lit.decimals is not None else 6
        diag = None if ok else self.number_diagnosis(other.expr, other.expr, vb, lit, {}, va)
        cx = None if ok else {"at": "arithmetic", "true": float(va), "claimed": float(vb)}
        return Verdict(verdict="correct" if ok else "incorrect", expected=rounded(va, places),
                       diagnosis=diag, counterexample=cx, method="arithmetic", **base)

    def number_diagnosis(self, written, ts, claimed, C, point, true) -> str | None:
        """Digits first, then the mistakes (log base 10, ½, sign …) evaluated at ``point``."""
        if C.decimals is not None:
            digits = digits_diagnosis(true, claimed, C.decimals)
            if "fewer digits" in digits:
                return digits
        for label, form in self.mutations(written, ts):
            v = values(form, point)
            if v is not None and not isinstance(v, sp.MatrixBase) and self.agrees(v, claimed, C):
                return label
        return digits_diagnosis(true, claimed, C.decimals) if C.decimals is not None else None

    # ---- diagnoses -----------------------------------------------------------
    def diagnose(self, A, B, ta, tb, points) -> str | None:
        chain = self.chain_diagnosis(A.expr, B.expr)
        if chain is not None and chain.startswith("incomplete chain"):
            return chain
        pts = points[:DIAGNOSIS_POINTS]
        for label, form in self.mutations(A.expr, ta):
            if matches(form, tb, pts) and not matches(form, ta, pts):
                return label
        if isinstance(ta, sp.MatrixBase) and ta.shape == tb.shape and ta.rows == ta.cols \
                and matches(ta.T, tb, pts):
            return "transpose missing or indices swapped: the right side is the transpose"
        return chain

    def mutations(self, written, true):
        """(label, mutated true formula) for every candidate mistake."""
        Partial = partial_class()
        if self.d is not None:
            for m in mistakes(self.d):
                form = self.mutated(written, m)
                if form is not None:
                    yield m.label, form
        elif isinstance(written, (Partial, sp.Derivative)):
            of, wrt = written.args[0], written.args[1]
            wrt = wrt[0] if isinstance(wrt, sp.Tuple) else wrt
            yield from free_mutations(self.truth.resolve(of), wrt)
        elif not isinstance(true, sp.MatrixBase):
            yield from derivative_mutations(true)
        if not isinstance(true, sp.MatrixBase):
            if true.has(sp.log):
                yield ("log base 10 used where the natural log belongs",
                       true.replace(sp.log, lambda u: sp.log(u) / sp.log(10)))
            yield from (("sign flipped", -true), ("factor of 2: off by a factor 2", 2 * true),
                        ("factor of 2: off by a factor ½", true / 2))

    def mutated(self, written, m: Mistake):
        """The mutated truth of a Partial, a named quantity, or a matrix of them."""
        if isinstance(written, sp.MatrixBase):
            entries = [self.mutated(e, m) for e in written]
            return None if any(e is None for e in entries) else \
                sp.ImmutableMatrix(written.rows, written.cols, entries)
        forms = Forms(self.d, m)
        try:
            if isinstance(written, partial_class()):
                return forms.target(*written.args)
            if isinstance(written, sp.Symbol):
                return forms.target(written, None)
        except NotApplicable:
            pass
        return None

    def chain_diagnosis(self, lhs, rhs) -> str | None:
        """A chain rule written factor by factor: does it cover every path?"""
        Partial = partial_class()
        if self.d is None or not isinstance(lhs, Partial) or isinstance(rhs, sp.MatrixBase):
            return None
        of, wrt = lhs.args
        chains = []
        for term in sp.Add.make_args(rhs):
            parts = [f for f in sp.Mul.make_args(term) if isinstance(f, Partial)]
            if not parts:
                return None
            seq = telescope(of, wrt, parts)
            if isinstance(seq, Broken):
                where = ("some factors are off the way down" if seq.at is None else
                         f"no factor ∂{self.truth.name(seq.at)}/∂… follows ∂…/∂{self.truth.name(seq.at)}")
                return (f"the chain-rule factors do not connect from {self.truth.name(of)} down "
                        f"to {self.truth.name(wrt)}: {where}")
            chains.append(seq)
        paths = self.truth.paths(of, wrt)
        covered = [p for p in paths if any(subsequence(c, p) for c in chains)]
        if len(covered) == len(paths):
            return None
        left_out = {n for p in paths if p not in covered for n in p} - {n for p in covered for n in p}
        names = ", ".join(sorted(self.truth.name(n) for n in left_out))
        n = self.truth.name
        return (f"incomplete chain: the product follows {len(covered)} of the {len(paths)} "
                f"paths from {n(of)} to {n(wrt)}; it leaves out the paths through {names}")

    # ---- presentation ----------------------------------------------------------
    def expected(self, written, true) -> tuple[str, str]:
        """The true formula in the textbook form (written out when short), text and LaTeX."""
        form = None
        if self.d is not None:
            form = self.mutated(written, Mistake("the truth"))
            if form is None and isinstance(written, sp.Symbol):
                form = self.definition(written)
            if form is not None and _ops(form) > MAX_SHOWN_OPS:
                form = None
        form = true if form is None else form
        return self.text(form), self.tex(form)

    def definition(self, sym):
        node = self.truth.nodes.get(sym)
        if node is None or node.kind not in ("z", "a"):
            return None
        z, a = self.d.forward(self.d.layers[node.layer - 1], node.j)
        return z if node.kind == "z" else a

    def text(self, expr) -> str:
        # ReLU' reads as the Iverson bracket [z > 0] rather than a Piecewise
        expr = expr.replace(_is_step, lambda e: sp.Symbol("[" + self.text(e.args[0].cond.lhs) + " > 0]"))
        if self.nt is not None:
            names = {s: sp.Symbol(self.nt.text.get(s, str(s))) for s in _symbols(expr)}
            names[loss_symbol()] = sp.Symbol("E")
            expr = expr.xreplace(names)
        return sp.sstr(expr)

    def tex(self, expr) -> str:
        if self.nt is not None:
            return self.nt.tex(expr)
        return sp.latex(expr)

    def counterexample(self, point, u, v, *exprs) -> dict:
        syms = sorted(set().union(*[_symbols(e) for e in exprs]) - {loss_symbol()}, key=str)
        if self.d is not None:
            syms = list(dict.fromkeys(list(self.d.network.x) + list(self.d.network.y) + syms))
        name = self.truth.name if self.d is not None else str
        at = {name(s): float(point[s]) for s in syms[:24] if s in point}
        return {"at": at, "lhs": _plain(u), "rhs": _plain(v)}


def _with_note(v: Verdict, note: str) -> Verdict:
    from dataclasses import replace
    return replace(v, notes=v.notes + (note,))


def bad_indices(claims, found):
    for c, v in zip(claims, found):
        if not v.ok:
            return c.indices
    return ()


def first_mismatch(ta, tb, points):
    """(point, u, v) where the sides differ or one is undefined; and the number of agreeing points."""
    n = 0
    for p in points:
        u, v = values(ta, p), values(tb, p)
        if u is None and v is None:
            continue
        if u is None or v is None or not close(u, v):
            return (p, u, v), n
        n += 1
    return None, n


def matches(form, tb, points) -> bool:
    """``form`` equals ``tb`` at every point where either is defined (and at one at least)."""
    bad, n = first_mismatch(form, tb, points)
    return bad is None and n > 0


def telescope(of, wrt, parts):
    """The nodes of a chain ∂of/∂u1 · ∂u1/∂u2 ⋯ ∂un/∂wrt, or the node where it breaks."""
    seq, rest, cur = [of], list(parts), of
    while cur != wrt:
        nxt = next((p for p in rest if p.args[0] == cur), None)
        if nxt is None:
            return Broken(cur)
        rest.remove(nxt)
        cur = nxt.args[1]
        seq.append(cur)
    return Broken(None) if rest else tuple(seq)


@dataclass(frozen=True)
class Broken:
    at: object          # the node no factor continues from (None: factors left over)


def subsequence(chain, path) -> bool:
    it = iter(path)
    return all(node in it for node in chain)


def _is_step(e) -> bool:
    """ReLU' as SymPy writes it: Piecewise((0, z <= 0), (1, True))."""
    return (isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0].expr == 0
            and e.args[1].expr == 1 and isinstance(e.args[0].cond, sp.LessThan)
            and e.args[0].cond.rhs == 0)


def _shape(e):
    return e.shape if isinstance(e, sp.MatrixBase) else ()


def _ops(e) -> int:
    return sum(sp.count_ops(x) for x in e) if isinstance(e, sp.MatrixBase) else sp.count_ops(e)


def _symbols(e):
    return set().union(*[x.free_symbols for x in e]) if isinstance(e, sp.MatrixBase) \
        else e.free_symbols


def _plain(v):
    if v is None:
        return None
    if isinstance(v, sp.MatrixBase):
        return [[float(x) for x in v.row(i)] for i in range(v.rows)]
    return float(v)


# ---- files and the public entry point ------------------------------------------
@dataclass(frozen=True)
class Report:
    """The verdicts of one claims file."""

    source: str
    verdicts: tuple[Verdict, ...]

    @property
    def summary(self) -> dict[str, int]:
        from .verdict import summary
        return summary(self.verdicts)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


def check_claims(model, text: str, kind: str = "text", source: str = "<claims>",
                 timeout: float = 5.0, isolate: bool = True, seed: int = 0,
                 checker: Checker | None = None) -> Report:
    """Check every claim of ``text`` (a text, Markdown or LaTeX file's contents).

    ``model``: a ``pipeline.Model`` or None for free-standing calculus.  Each
    claim runs in a child process with ``timeout`` seconds (``isolate=False``:
    in this process, with only the symbolic step time-limited).
    """
    from .claims import extract
    from .isolate import run
    checker = checker or Checker(model, seed=seed)
    return Report(source, tuple(run(checker, extract(text, kind), timeout=timeout, isolate=isolate)))
