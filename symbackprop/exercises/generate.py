"""Variants of a family: drawn, prepared, their questions built, redrawn at most 20 times.

The variant seeds come from ``numpy.random.Generator(PCG64(seed))`` of the
command's ``--seed``; each variant then draws everything from its own
``Generator(PCG64(variant seed))``, so a variant is reproduced from its seed alone.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..api import Model, prepare
from ..core.errors import SpecError
from .draw import draw, near_kink, rng_of, spec_text
from .family import Family, FamilyError
from .questions import Builder, Question, Redraw

MAX_REDRAWS = 20


class NoVariant(Exception):
    """No draw of a variant made every question (exit 1): names the family and kind."""


@dataclass(frozen=True)
class Variant:
    id: str
    seed: int
    student: str | None
    spec: str                       # the variant's full spec as TOML text
    model: Model
    questions: tuple[Question, ...]
    redraws: int

    def given(self) -> dict:
        """What the question text states: layers, parameters, the example, η, the loss."""
        net, nt, spec = self.model.network, self.model.notation, self.model.spec
        values = dict(self.model.parameters())
        layers = []
        for l, (layer, ls) in enumerate(zip(net.layers, spec.layers), start=1):
            W, b = values[f"W{l}"], values[f"b{l}"]
            params = [(nt.latex[layer.W[j, k]], _num(W[j, k])) for j in range(layer.n_out)
                      for k in range(layer.n_in)]
            params += [(nt.latex[layer.b[j]], _num(b[j])) for j in range(layer.n_out)]
            layers.append({"index": l, "size": ls.size, "activation": ls.activation,
                           "output": l == len(net.layers), "params": params})
        first = spec.values.samples[0]
        return {"inputs": [(nt.latex[s], _num(v)) for s, v in zip(net.x, first.x)],
                "targets": [(nt.latex[s], _num(v)) for s, v in zip(net.y, first.y)],
                "layers": layers, "loss": spec.loss,
                "loss_name": nt.loss, "loss_tex": nt.tex(self.model.derivation.loss),
                "eta": format(spec.values.learning_rate, "f"),
                "preset": spec.notation.get("preset", "none") if isinstance(spec.notation, dict)
                else "none"}


def _num(v) -> str:
    text = format(float(v), ".10g")
    return "0" if text.strip("-0.") == "" else text


def variant_seeds(seed: int, n: int) -> list[int]:
    """The seeds of ``n`` variants from the command's seed."""
    return [int(s) for s in rng_of(seed).integers(0, 2 ** 31 - 1, size=n)]


def make_variant(family: Family, vid: str, seed: int, student: str | None = None) -> Variant:
    """Draw until every question can be made (at most MAX_REDRAWS redraws)."""
    rng = rng_of(seed)
    last = None
    for attempt in range(MAX_REDRAWS + 1):
        drawn = draw(family, vid, seed, rng)
        text = spec_text(family, drawn)
        try:
            model = prepare(text)
        except SpecError as exc:
            raise FamilyError(f"{family.source}: key `network`: a drawn network is not a valid "
                              f"spec ({drawn.loss}, {[l.activation for l in drawn.layers]}, "
                              f"preset {drawn.preset}): {exc}") from None
        if near_kink(model, family.relu_margin):
            last = Redraw("network", f"a ReLU pre-activation within {family.relu_margin} of 0")
            continue
        try:
            questions = Builder(family, model, rng).build()
        except Redraw as exc:
            last = exc
            continue
        return Variant(vid, seed, student, text, model, questions, attempt)
    what = (f"no draw kept the ReLU pre-activations {family.relu_margin} or more from 0"
            if last.kind == "network" else f"no draw made question kind {last.kind!r}")
    raise NoVariant(f"family {family.name}: variant {vid} (seed {seed}): {what} after "
                    f"{MAX_REDRAWS} redraws (the last: {last.why}); widen the family's grids "
                    "or lists.")


def make_variants(family: Family, n: int, seed: int, students=()) -> list[Variant]:
    students = list(students)
    return [make_variant(family, f"{family.name}-{i + 1:03d}", s,
                         students[i] if i < len(students) else None)
            for i, s in enumerate(variant_seeds(seed, n))]
