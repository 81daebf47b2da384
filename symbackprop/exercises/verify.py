"""Verification of what was rendered: every key and distractor read back from the key
document's text and judged again by ``check``.

The claims are taken from the rendered Markdown key (the lines ``- key: $…$`` and
``- distractor: $…$ — diagnosis``), not from the objects that made them, so a
template or formatting slip that changes a number or a name shows up here.  A key
must be judged correct; a distractor incorrect, with the diagnosis it was chosen for.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ..api import check
from .generate import Variant

VERSION = re.compile(r"^## Version (\S+)", re.M)
LINE = re.compile(r"^- (key|distractor): \$(.+?)\$(?: \(accepted within [^)]*\))?(?: — (.*))?$", re.M)


@dataclass
class Counts:
    keys: int = 0
    keys_ok: int = 0
    distractors: int = 0
    distractors_ok: int = 0
    essays: int = 0
    moodle: int | None = None        # Moodle questions whose answers and fractions match
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and self.keys == self.keys_ok and \
            self.distractors == self.distractors_ok

    def summary(self) -> str:
        moodle = "" if self.moodle is None else \
            f"; {self.moodle} Moodle questions read back with the same answers and fractions"
        return (f"{self.keys_ok}/{self.keys} keys read back from the rendered key and checked "
                f"correct; {self.distractors_ok}/{self.distractors} distractors checked wrong "
                f"with their intended diagnosis; {self.essays} essay questions (worked solution "
                f"as the grader's key){moodle}")


def sections(key_md: str) -> dict[str, str]:
    """The rendered key split by version: id → its text."""
    marks = list(VERSION.finditer(key_md))
    return {m.group(1): key_md[m.end():(marks[i + 1].start() if i + 1 < len(marks) else None)]
            for i, m in enumerate(marks)}


def verify(variants: list[Variant], key_md: str) -> Counts:
    """Read every claim of the rendered key back and check it against its variant."""
    counts = Counts()
    parts = sections(key_md)
    for v in variants:
        expected = [(c.correct, c.diagnosis) for q in v.questions for c in q.choices]
        counts.essays += sum(q.style == "essay" for q in v.questions)
        lines = LINE.findall(parts.get(v.id, ""))
        if len(lines) != len(expected):
            counts.failures.append(f"{v.id}: {len(lines)} claims in the rendered key, "
                                   f"{len(expected)} made")
            continue
        verdicts = check(v.model, "\n".join(claim for _, claim, _ in lines), isolate=False)
        for (role, claim, shown_diag), (correct, diag), verdict in zip(lines, expected, verdicts):
            if correct:
                counts.keys += 1
                if role == "key" and verdict.verdict == "correct":
                    counts.keys_ok += 1
                else:
                    counts.failures.append(f"{v.id}: key `{claim}` judged {verdict.verdict}")
            else:
                counts.distractors += 1
                if role == "distractor" and verdict.verdict == "incorrect" and \
                        verdict.diagnosis == diag == shown_diag:
                    counts.distractors_ok += 1
                else:
                    counts.failures.append(f"{v.id}: distractor `{claim}` judged "
                                           f"{verdict.verdict} ({verdict.diagnosis}), meant {diag}")
    return counts


def verify_moodle(variants: list[Variant], xml: str, counts: Counts) -> Counts:
    """The Moodle XML read back: each question's answers (numbers as shown, fractions 100 for
    the key and 0 for each distractor) are those that were checked."""
    found = {q.findtext("name/text"): q for q in ET.fromstring(xml).findall("question")}
    counts.moodle = 0
    for v in variants:
        for q in v.questions:
            element = found.get(f"{v.id} {q.id} ({q.kind})")
            if element is None:
                counts.failures.append(f"{v.id} {q.id}: not in the Moodle XML")
                continue
            answers = [(float(a.get("fraction")), a.findtext("text")) for a in element.findall("answer")]
            want = [(100.0 if c.correct else 0.0) for c in q.choices]
            same = [f for f, _ in answers] == want and (
                q.style != "numerical" or [t for _, t in answers] == [c.shown for c in q.choices])
            if same:
                counts.moodle += 1
            else:
                counts.failures.append(f"{v.id} {q.id}: the Moodle answers differ from the key")
    return counts
