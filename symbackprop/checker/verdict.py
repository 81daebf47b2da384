"""What the checker says about one claim (one link of a chained equality)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

VERDICTS = ("correct", "incorrect", "unparseable", "undecided", "defined")


@dataclass(frozen=True)
class Verdict:
    """The verdict on one link ``lhs = rhs`` of the claim on ``line``.

    ``expected`` is the true formula (or value) of the left side in the
    spec's notation (plain text; ``expected_tex`` in LaTeX); a
    ``counterexample`` is the point where the two sides differ, with both
    values; ``diagnosis`` names the mistake when one fits.
    """

    line: int
    text: str
    verdict: str
    link: int = 0                    # 0 for the first `=` of a chain, 1 for the next …
    lhs: str = ""
    rhs: str = ""
    relation: str = "="              # as written between them: =, ≈, :=, \leftarrow …
    expected: str | None = None
    expected_tex: str | None = None
    diagnosis: str | None = None
    counterexample: dict | None = None
    method: str | None = None        # how it was decided
    region: str | None = None        # which ReLU region the test points kept
    message: str | None = None       # unparseable: what was expected; undecided: why
    position: int | None = None      # unparseable: 0-based column in ``text``
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @property
    def ok(self) -> bool:
        """Nothing wrong: correct, or a definition line (``defined``)."""
        return self.verdict in ("correct", "defined")

    def to_json(self) -> dict:
        """The JSON entry: line, text, verdict, expected, diagnosis, counterexample, and details."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


def summary(verdicts) -> dict[str, int]:
    """How many claims got each verdict."""
    counts = {v: 0 for v in VERDICTS}
    for v in verdicts:
        counts[v.verdict] += 1
    return counts
