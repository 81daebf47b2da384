r"""Claims whose shapes fit in no reading, and one edit that makes them right.

Nielsen's ``\delta^l = (w^{l+1} \delta^{l+1}) \odot \sigma'(z^l)`` on a 2-3-2 network:
w^3 is 2×3 and δ^3 2×1, so the product has no shape, with vectors as columns or as rows.
Such a claim is never right as written; it is judged incorrect only when one small
edit of the kind students make — a transpose left out or added on a weight matrix, a
layer number one off on one name — makes it right (correct at every test point, as
checked by the checker itself), and the verdict states the shapes and that edit.
Otherwise it stays unparseable.  Only in a spec with a notation preset, whose letters
fix what w^l is (Nielsen's w^l_{jk}: row j in layer l).
"""
from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import replace

from ..formula.resolve import BACKWARD_WEIGHT
from .context import Context
from .verdict import Verdict

# a name with a layer superscript: w^{l+1}, \delta^3, z^{(2)}, W^{[1]}
_SCRIPTED = re.compile(r"(\\?[A-Za-z]+)\s*\^\s*(\{[^{}]*\}|[0-9A-Za-z])")
_LAYER = re.compile(r"\s*([(\[]?)\s*(?:(l)\s*(?:([+-])\s*([0-9]))?|([0-9]+))\s*([)\]]?)\s*")
# (w^{l+1})^T, (w^3)^{\top}: a transposed weight matrix
_TRANSPOSED = r"\(\s*{name}\s*\)\s*\^\s*(?:\{{\s*(?:T|\\top|\\intercal|\\mathsf\s*\{{?T\}}?)\s*\}}|T)"
MAX_EDITS = 16
_ACTIVE: ContextVar[bool] = ContextVar("repairing", default=False)    # no edit of an edit


def shapes_failed(v: Verdict, letters: bool = False) -> bool:
    """Shapes that do not fit, or a Bishop weight written backwards (w_{jk}); with
    ``letters`` (Bishop's index letters name layers) also a letter's layer that does not
    exist (δ_i: the inputs have no δ)."""
    return v.method == "shapes differ" or (v.verdict == "unparseable" and (
        v.expected in ("matching shapes", BACKWARD_WEIGHT)
        or (letters and "does not exist" in (v.message or ""))))


# a weight with two index letters: w_{jk}, w_{kj}
_PAIR = re.compile(r"(\\?[A-Za-z]+)\s*_\s*(?:\{\s*([a-z])\s*,?\s*([a-z])\s*\}|([a-z])([a-z]))")


def _layer_edits(script: str):
    """The superscript one layer off: l → l+1, l−1; l+1 → l; 3 → 2, 4 (brackets kept)."""
    inner = script[1:-1] if script.startswith("{") else script
    mark = re.search(r"\s*(?:T|\\top)$", inner) if inner.startswith("[") else None
    tail = mark[0] if mark else ""       # the course's A^{[1]T}: the layer, then T
    inner = inner[:len(inner) - len(tail)]
    m = _LAYER.fullmatch(inner)
    if m is None:
        return
    opening, letter, sign, step, number, closing = m.groups()
    if number is not None:
        values = [str(int(number) - 1), str(int(number) + 1)]
    else:
        k = 0 if sign is None else int(step) * (1 if sign == "+" else -1)
        values = [letter + (f"{'+' if v > 0 else '-'}{abs(v)}" if v else "")
                  for v in (k - 1, k + 1)]
    for v in values:
        if v != "0" or number is None or opening == "[":     # the course's A^{[0]} = X
            yield "{" + opening + v + closing + tail + "}"


_SUBSCRIPT = re.compile(r"_\s*(\{[^{}]*\}|[A-Za-z0-9])")


def _swapped_side(text: str, pairs):
    """The right side with a weight's two index letters exchanged in every subscript."""
    eq = text.find("=")
    if eq < 0:
        return
    for a, b in dict.fromkeys(pairs):
        swap = str.maketrans({a: b, b: a})
        rhs = _SUBSCRIPT.sub(lambda m: "_" + m[1].translate(swap), text[eq + 1:])
        if rhs != text[eq + 1:]:
            yield (f"{a} and {b} exchanged on the right side (indices swapped)",
                   text[:eq + 1] + rhs)


# NumPy: np.dot(a, b) with two plain arguments, and a sum's axis
_DOT = re.compile(r"np\.dot\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\.T)?)\s*,\s*([A-Za-z_][A-Za-z0-9_]*(?:\.T)?)\s*\)")
_AXIS = re.compile(r"axis\s*=\s*([01])")


def _numpy_edits(text: str):
    """np.dot's two factors exchanged (np.dot(dscores, hidden_layer.T) for
    np.dot(hidden_layer.T, dscores)), and np.sum over the other axis."""
    for m in _DOT.finditer(text):
        yield (f"np.dot({m[2]}, {m[1]}) in place of {m[0]} (the product reversed)",
               text[:m.start()] + f"np.dot({m[2]}, {m[1]})" + text[m.end():])
    for m in _DOT.finditer(text):
        for k in (1, 2):
            arg = m[k]
            flipped = arg[:-2] if arg.endswith(".T") else arg + ".T"
            args = (flipped, m[2]) if k == 1 else (m[1], flipped)
            yield (f"{flipped} in place of {arg} (^T {'removed' if arg.endswith('.T') else 'added'})",
                   text[:m.start()] + f"np.dot({args[0]}, {args[1]})" + text[m.end():])
    for m in _AXIS.finditer(text):
        other = "0" if m[1] == "1" else "1"
        yield (f"axis={other} in place of axis={m[1]} (summed over the other axis)",
               text[:m.start()] + f"axis={other}" + text[m.end():])


def edits(ctx: Context, text: str):
    """(what was changed, the edited claim) for each one-edit variant of ``text``."""
    heads = ctx.scope.heads
    pairs = []
    for m in _PAIR.finditer(text):
        if heads.get(m[1].lstrip("\\")) != "W" or text[m.end():m.end() + 1].isalnum():
            continue
        first, second = (m[2], m[3]) if m[2] else (m[4], m[5])
        if first == second:
            continue
        pairs.append((first, second))
        new = f"{m[1]}_{{{second}{first}}}"
        yield (f"{new} in place of {m[0]} (indices swapped)",
               text[:m.start()] + new + text[m.end():])
    if ctx.scope.letter_layers:            # Bishop: δ_i z_j for δ_j z_i (the letters name layers)
        yield from _swapped_side(text, pairs)
    yield from _numpy_edits(text)
    for m in _SCRIPTED.finditer(text):
        head = m[1].lstrip("\\")
        kind = heads.get(head) or heads.get(m[1])
        if kind not in ("W", "b", "z", "a", "delta"):
            continue
        name = m[0]
        for script in _layer_edits(m[2]):
            new = f"{m[1]}^{script}"
            yield (f"{new} in place of {name}", text[:m.start()] + new + text[m.end():])
        if kind != "W":
            continue
        around = re.compile(_TRANSPOSED.format(name=re.escape(name)))
        t = around.search(text)
        if t is not None and t.start() < m.start() < t.end():
            yield (f"{name} in place of ({name})^T", text[:t.start()] + name + text[t.end():])
        elif t is None:
            yield (f"({name})^T in place of {name}",
                   text[:m.start()] + f"({name})^T" + text[m.end():])


def repaired(ctx: Context, text: str, line: int, out: list[Verdict], check) -> list[Verdict]:
    """``out`` (the verdicts of ``text``), or, when its shapes fail and one edit makes it
    right, the incorrect verdict naming the shapes and the edit.  ``check`` is the
    checker's ``check_text``."""
    # already incorrect on its shapes without a diagnosis (dW^{[2]} = dz^{[2]} a^{[2]T}: 1×1
    # for 1×3): the edit that makes it right is the diagnosis
    undiagnosed = any(v.verdict == "incorrect" and v.method == "shapes differ" and
                      not v.diagnosis for v in out)
    if _ACTIVE.get() or ctx.model is None or getattr(ctx.model.notation, "preset", None) is None or \
            not any(shapes_failed(v, bool(ctx.scope.letter_layers)) for v in out) or \
            (any(v.verdict == "incorrect" for v in out) and not undiagnosed):
        return out
    failed = next(v for v in out if shapes_failed(v, bool(ctx.scope.letter_layers)))
    found = []
    token = _ACTIVE.set(True)
    try:
        for n, (what, edited) in enumerate(edits(ctx, text)):
            if n >= MAX_EDITS:
                break
            alt = check(ctx, edited, line)
            if alt and all(v.verdict == "correct" for v in alt):
                found.append(what)
    finally:
        _ACTIVE.reset(token)
    if not found:
        return out
    what = found[0]
    kind = "indices swapped" if what.endswith("(indices swapped)") else \
        "transpose: the product's factors reversed" if what.endswith("(the product reversed)") \
        else "transpose missing" if what.endswith("(^T added)") \
        else "transpose extra" if what.endswith("(^T removed)") \
        else "not summed over the examples: the sum runs over the wrong axis" \
        if what.endswith("(summed over the other axis)") else \
        "transpose missing" if "^T in place" in what else \
        "transpose extra" if "in place of (" in what else "wrong layer"
    shapes = (failed.message or failed.diagnosis or "").split(" (at ")[0]
    written = "it names no weight" if failed.expected == BACKWARD_WEIGHT else \
        "it names no such quantity" if "does not exist" in (failed.message or "") else \
        "the shapes do not fit"
    diagnosis = (f"{kind}: as written {written}{f' ({shapes})' if shapes else ''}; "
                 f"the claim holds with {what}")
    return [replace(failed, verdict="incorrect", diagnosis=diagnosis, method="shapes differ",
                    message=None, position=None, expected=None,
                    notes=failed.notes + (f"edits that make it right: {'; '.join(found)}",))]
