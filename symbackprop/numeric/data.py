"""Read a batch of examples from CSV (``symbackprop eval SPEC --data file.csv``).

The header names the columns ``x1 … xn`` (inputs) and ``y1 … ym`` (targets),
in any order; every other line is one example.  Like spec.py, this is a
boundary: every problem becomes one ``SpecError`` naming the file, the line
and the column.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..core.spec import SpecError

MAX_DATA_BYTES = 100_000_000
MAX_VALUES = 20_000_000        # numbers in the whole file (x and y together)


def load_samples_csv(path: str | Path, n_in: int, n_out: int, loss: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) with one example per column, from a CSV file with a header row.

    >>> import tempfile, os
    >>> f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    >>> _ = f.write("y1,x1,x2\\n0.5,1,2\\n1,3,4\\n"); f.close()
    >>> X, Y = load_samples_csv(f.name, 2, 1); os.unlink(f.name)
    >>> X.tolist(), Y.tolist()
    ([[1.0, 3.0], [2.0, 4.0]], [[0.5, 1.0]])
    """
    text = _read_text(Path(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    columns = _columns(path, header, n_in, n_out)
    rows, lines = [], []
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue                                  # blank line
        rows.append(_row(path, reader.line_num, row, header))
        lines.append(reader.line_num)
        if len(rows) * len(header) > MAX_VALUES:
            raise SpecError(f"{path}: more than {MAX_VALUES} numbers; split the data into "
                            "smaller files.")
    if not rows:
        raise SpecError(f"{path}: the header is there but no example follows; add one line "
                        "of numbers per example.")
    data = np.array(rows, dtype=float)
    X, Y = data[:, columns[:n_in]].T.copy(), data[:, columns[n_in:]].T.copy()
    _check_targets(path, Y, loss, [header[c] for c in columns[n_in:]], lines)
    return X, Y


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_DATA_BYTES:
            raise SpecError(f"{path}: the file is {size} bytes; --data takes at most "
                            f"{MAX_DATA_BYTES} bytes.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file; expected a CSV file with a header x1,…,y1,….") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory; expected a CSV file.") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the file ({exc.strerror}).") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SpecError(f"{path}: line {line}: not UTF-8 text (bad byte at offset {exc.start}).") from None


def _columns(path, header, n_in: int, n_out: int) -> list[int]:
    """Column positions of x1…xn then y1…ym, or a SpecError describing the header."""
    expected = [f"x{i}" for i in range(1, n_in + 1)] + [f"y{j}" for j in range(1, n_out + 1)]
    want = f"x1…x{n_in} and y1…y{n_out}" if n_in > 1 or n_out > 1 else "x1 and y1"
    if not header or all(not h.strip() for h in header):
        raise SpecError(f"{path}: line 1: expected a header naming the columns {want}; "
                        "the file is empty.")
    names = [h.strip() for h in header]
    for i, name in enumerate(names):
        if name not in expected:
            hint = " (the first line must be the header, not numbers)" if _is_number(name) else ""
            raise SpecError(f"{path}: line 1, column {i + 1}: unknown column {name!r}{hint}; "
                            f"the network has {n_in} inputs and {n_out} outputs, so the header "
                            f"names {want}.")
        if names.index(name) != i:
            raise SpecError(f"{path}: line 1, column {i + 1}: column {name!r} appears twice.")
    missing = [e for e in expected if e not in names]
    if missing:
        raise SpecError(f"{path}: line 1: missing column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}; the header names {want}.")
    header[:] = names
    return [names.index(e) for e in expected]


def _row(path, line: int, row: list[str], header: list[str]) -> list[float]:
    if len(row) != len(header):
        raise SpecError(f"{path}: line {line}: expected {len(header)} values (one per column of "
                        f"the header), got {len(row)}.")
    values = []
    for name, cell in zip(header, row):
        try:
            value = float(cell)
        except ValueError:
            raise SpecError(f"{path}: line {line}, column {name}: expected a number, got "
                            f"{cell.strip()[:40]!r}.") from None
        if not math.isfinite(value):
            raise SpecError(f"{path}: line {line}, column {name}: expected a finite number, "
                            f"got {cell.strip()!r}.")
        values.append(value)
    return values


def _check_targets(path, Y: np.ndarray, loss: str, names: list[str], lines: list[int]) -> None:
    if loss not in ("cross_entropy", "binary_cross_entropy"):
        return
    bad = np.argwhere((Y < 0) | (Y > 1))
    if len(bad):
        j, example = bad[0]
        raise SpecError(f"{path}: line {lines[example]}, column {names[j]}: {loss} "
                        f"needs targets in [0, 1], got {Y[j, example]:g}.")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
