"""``symbackprop exercises``: variants of a family, rendered, verified, written together."""
from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

from ..api import DocumentError, write_files
from ..core.files import read_text_limited
from ..exercises import FamilyError, NoVariant, load_family, make_variants, render_all, verify
from ..exercises.verify import verify_moodle
from .parser import UsageError

MAX_ROSTER_BYTES = 1_000_000
DEFAULT_VARIANTS = 3


def roster(path: str) -> list[str]:
    """The students of a roster CSV: the column 'student' (any case), else the first column."""
    rows = list(csv.reader(io.StringIO(read_text_limited(path, MAX_ROSTER_BYTES, "roster"))))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise UsageError(f"{path}: the roster has no rows; expected a header and one student a row.")
    header = [h.strip().lower() for h in rows[0]]
    col = header.index("student") if "student" in header else 0
    students = [r[col].strip() if col < len(r) else "" for r in rows[1:]]
    if not students or any(not s for s in students):
        raise UsageError(f"{path}: every row after the header needs a student in column "
                         f"{rows[0][col]!r}.")
    return students


def cmd_exercises(args) -> int:
    started = time.perf_counter()
    family = load_family(args.family)
    students = roster(args.roster) if args.roster else []
    n = args.n if args.n is not None else (len(students) or DEFAULT_VARIANTS)
    if students and n < len(students):
        raise UsageError(f"-n {n}: the roster has {len(students)} students; give -n ≥ "
                         f"{len(students)} or leave -n out.")
    formats = list(dict.fromkeys(args.format or ["json", "md"]))
    try:
        variants = make_variants(family, n, args.seed, students)
    except NoVariant as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 1
    files = render_all(family, variants, set(formats) | {"md"})
    counts = verify(variants, files["key.md"])
    if "moodle.xml" in files:
        verify_moodle(variants, files["moodle.xml"], counts)
    if not counts.ok:
        print("symbackprop: error: verification failed, nothing written:\n  " +
              "\n  ".join(counts.failures[:20]), file=sys.stderr)
        return 1
    wanted = {name: data for name, data in files.items()
              if "md" in formats or not name.endswith(".md")}
    written = write_files(Path(args.output), wanted)
    redraws = sum(v.redraws for v in variants)
    print(f"{family.name}: {len(variants)} variants (seed {args.seed}, {redraws} redraws), "
          f"{sum(len(v.questions) for v in variants)} questions")
    print(f"verified: {counts.summary()}")
    for path in written:
        print(f"  wrote {path}")
    print(f"time: {time.perf_counter() - started:.1f} s")
    return 0


__all__ = ["cmd_exercises", "roster", "FamilyError", "DocumentError"]
