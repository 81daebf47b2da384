"""Read a batch of examples from CSV (``symbackprop eval SPEC --data file.csv``).

The header names the columns ``x1 … xn`` (inputs) and ``y1 … ym`` (targets; a single
input or target may be named ``x`` or ``y``),
in any order; every other line is one example.  Like spec.py, this is a
boundary: every problem becomes one ``SpecError`` naming the file, the line
and the column.
"""
from __future__ import annotations

import csv
import math
import os
import re
import warnings
from array import array
from pathlib import Path

import numpy as np

from ..core.files import read_text_limited
from ..core.spec import SpecError

MAX_DATA_BYTES = 100_000_000
MAX_VALUES = 20_000_000        # numbers in the whole file (x and y together)
# Reading keeps the text (one byte a character), the numbers (8 bytes each) and then
# X and Y (8 bytes a number): a file at both limits needs about 100 MB + 3 × 160 MB.
# An ASCII decimal number, as written by any program: no 1_000, no Arabic-Indic or
# fullwidth digits, no inf or nan (which float() would all accept).
_DECIMAL = r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*"
NUMBER = re.compile(_DECIMAL, re.ASCII)
ROW = re.compile(f"{_DECIMAL}(?:\x00{_DECIMAL})*", re.ASCII)     # cells joined by NUL


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
    reader = csv.reader(_lines(text))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise SpecError(f"{path}: line 1: not readable as CSV ({err}).") from None
    columns = _columns(path, header, n_in, n_out)
    rows = text.count("\n") - text.count("\n\n") - 1      # at least this many examples
    if rows * len(header) > MAX_VALUES:                    # said before any number is read
        raise SpecError(f"{path}: more than {MAX_VALUES} numbers (about {rows * len(header):,}: "
                        f"{rows:,} lines of {len(header)}); split the data into smaller files.")
    data = _plain(text, len(header))
    if data is not None:                  # every line plain decimals: NumPy's C reader
        del text, reader
        # rows of the transposed view: one copy each, examples as columns
        X, Y = np.ascontiguousarray(data.T[columns[:n_in]]), np.ascontiguousarray(data.T[columns[n_in:]])
        del data
        if _targets_ok(Y, loss):
            return X, Y
        text, reader = _read_text(Path(path)), None   # name the line of the bad target
        reader = csv.reader(_lines(text))
        next(reader)
    numbers = array("d")                              # 8 bytes a number, no Python floats
    lines = array("q")
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue                                  # blank line
            _row(path, reader.line_num, row, header, numbers)
            lines.append(reader.line_num)
            if len(numbers) > MAX_VALUES:
                raise SpecError(f"{path}: more than {MAX_VALUES} numbers; split the data into "
                                "smaller files.")
    except csv.Error as err:
        raise SpecError(f"{path}: line {reader.line_num}: not readable as CSV ({err}).") from None
    del text, reader
    if not lines:
        raise SpecError(f"{path}: the header is there but no example follows; add one line "
                        "of numbers per example.")
    data = np.frombuffer(numbers, dtype=float).reshape(len(lines), len(header))
    X, Y = data[:, columns[:n_in]].T.copy(), data[:, columns[n_in:]].T.copy()
    del data, numbers
    _check_targets(path, Y, loss, [header[c] for c in columns[n_in:]], lines)
    return X, Y


# What a file of nothing but ASCII decimals, commas and line breaks may contain.
NOT_PLAIN = re.compile(r"[^0-9eE+\-. \t,\r\n]")


def _plain(text: str, columns: int) -> np.ndarray | None:
    """The examples as a (rows, columns) array when the lines after the header hold
    only ASCII decimals (NumPy's C parser: 20 million numbers in seconds); None when any
    line needs a look (a quote, a letter, a blank cell, a ragged row), which the
    line-by-line reader then names."""
    first = text.find("\n")
    if first < 0 or '"' in text[:first] or NOT_PLAIN.search(text, first + 1) is not None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")             # "empty input" is None below
            data = np.loadtxt(_lines(text[first + 1:]), delimiter=",", dtype=float,
                              comments=None, ndmin=2)
    except ValueError:
        return None
    if data.shape[0] == 0 or data.shape[1] != columns or data.size > MAX_VALUES \
            or not np.isfinite(data).all():
        return None
    return data


def _targets_ok(Y: np.ndarray, loss: str) -> bool:
    return loss not in ("cross_entropy", "binary_cross_entropy") or bool(((Y >= 0) & (Y <= 1)).all())


def _lines(text: str):
    """The lines of ``text`` with their endings, one at a time (csv reads quoted line
    breaks across them), without a second copy of the whole text."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        end = n if end < 0 else end + 1
        yield text[start:end]
        start = end


def _read_text(path: Path) -> str:
    """The file's text: a regular file (no FIFO, device or /dev/zero) of at most
    MAX_DATA_BYTES, UTF-8; else one error naming the path."""
    if not os.path.lexists(path):
        raise SpecError(f"{path}: no such file; expected a CSV file with a header x1,…,y1,….")
    return read_text_limited(path, MAX_DATA_BYTES, "CSV file")


def _columns(path, header, n_in: int, n_out: int) -> list[int]:
    """Column positions of x1…xn then y1…ym, or a SpecError describing the header."""
    expected = [f"x{i}" for i in range(1, n_in + 1)] + [f"y{j}" for j in range(1, n_out + 1)]
    want = f"x1…x{n_in} and y1…y{n_out}" if n_in > 1 or n_out > 1 else "x1 and y1"
    if not header:
        raise SpecError(f"{path}: line 1: expected a header naming the columns {want}; "
                        "the file is empty.")
    if all(not h.strip() for h in header):
        raise SpecError(f"{path}: line 1: the header has {len(header)} columns but no names; "
                        f"expected the header to name the columns {want}.")
    written = [h.strip() for h in header]
    # one input or one target may be named without its number: x, y
    alias = {"x": "x1"} if n_in == 1 else {}
    alias.update({"y": "y1"} if n_out == 1 else {})
    names = [alias.get(h, h) for h in written]
    if n_in == 1 or n_out == 1:
        want += " (" + " and ".join(f"{a} for {b}" for a, b in alias.items()) + " also)"
    for i, name in enumerate(names):
        if name not in expected:
            hint = " (the first line must be the header, not numbers)" if _is_number(name) else ""
            raise SpecError(f"{path}: line 1, column {i + 1}: unknown column {name!r}{hint}; "
                            f"the network has {n_in} inputs and {n_out} outputs, so the header "
                            f"names {want}.")
        if names.index(name) != i:
            first = names.index(name)
            same = "" if written[first] == written[i] else f" (as {written[first]!r}, column {first + 1})"
            raise SpecError(f"{path}: line 1, column {i + 1}: column {name!r} appears twice{same}.")
    missing = [e for e in expected if e not in names]
    if missing:
        raise SpecError(f"{path}: line 1: missing column{'s' if len(missing) > 1 else ''} "
                        f"{', '.join(missing)}; the header names {want}.")
    header[:] = written
    return [names.index(e) for e in expected]


def _row(path, line: int, row: list[str], header: list[str], numbers: array) -> None:
    """Append the row's numbers to ``numbers``: ASCII decimals only, finite in float64."""
    if len(row) != len(header):
        raise SpecError(f"{path}: line {line}: expected {len(header)} values (one per column of "
                        f"the header), got {len(row)}.")
    if ROW.fullmatch("\x00".join(row)) is not None:        # the common case: one test a row
        try:
            values = array("d", map(float, row))
        except ValueError:                                  # a NUL inside a cell
            values = None
        if values is not None and all(map(math.isfinite, values)):
            numbers.extend(values)
            return
    _row_cells(path, line, row, header, numbers)


def _row_cells(path, line: int, row: list[str], header: list[str], numbers: array) -> None:
    """Cell by cell, to name the cell that is not a finite ASCII decimal."""
    for name, cell in zip(header, row):
        if NUMBER.fullmatch(cell) is None:
            if not _is_number(cell):
                what = "a number"
            elif not math.isfinite(float(cell)):
                what = "a finite number"
            else:                  # float() reads it, but it is no plain decimal (1_000, ١)
                what = "an ASCII decimal number (digits 0-9, an optional . and exponent)"
            raise SpecError(f"{path}: line {line}, column {name}: expected {what}, got "
                            f"{cell.strip()[:40]!r}.")
        value = float(cell)
        if math.isinf(value):
            raise SpecError(f"{path}: line {line}, column {name}: {cell.strip()[:40]} is beyond "
                            "the range of float64 numbers (about ±1.8e308).")
        numbers.append(value)


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
