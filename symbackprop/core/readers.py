"""Readers of a spec's numbers: one validated value each, or one SpecError naming the key.

Shared by ``core.spec`` (every spec) and ``core.recurrent`` (the sequences of an rnn spec).
"""
from __future__ import annotations

import math
from decimal import Decimal

from .errors import SpecError, where as _where


def positive_int(table: dict, key: str, source: str, where: str | None = None) -> int:
    where = where or key
    if key not in table:
        raise SpecError(f"{_where(source, where)}: missing; expected a positive integer.")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{_where(source, where)}: expected a positive integer, got {value!r}.")
    return value


def number(value, source: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise SpecError(f"{_where(source, where)}: expected a number, got {value!r}.")
    value = Decimal(value)
    if not value.is_finite():
        raise SpecError(f"{_where(source, where)}: expected a finite number, got {value}.")
    if math.isinf(float(value)):
        shown = str(value) if len(str(value)) <= 24 else f"{value:.3E}"
        raise SpecError(f"{_where(source, where)}: {shown} is beyond the range of float64 "
                        "numbers (about ±1.8e308), in which every value is computed.")
    if value != 0 and float(value) == 0:
        shown = str(value) if len(str(value)) <= 24 else f"{value:.3E}"
        raise SpecError(f"{_where(source, where)}: {shown} is below the range of float64 "
                        "numbers (the smallest is about 4.9e-324), which would compute with 0; "
                        "write 0 or a larger number.")
    return value


def vector(value, n: int, source: str, where: str) -> tuple[Decimal, ...]:
    if not isinstance(value, list):
        raise SpecError(f"{_where(source, where)}: expected a list of {n} numbers, got {value!r}.")
    if len(value) != n:
        raise SpecError(f"{_where(source, where)}: expected {n} numbers, got {len(value)}.")
    return tuple(number(v, source, f"{where}[{i}]") for i, v in enumerate(value))


def matrix(value, rows: int, cols: int, source: str, where: str):
    shape = f"{rows}×{cols} ({rows} rows of {cols}: [target][source])"
    if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
        raise SpecError(f"{_where(source, where)}: expected a {shape} list of lists.")
    given = f"{len(value)}×{'/'.join(str(len(r)) for r in value) or 0}"
    if len(value) != rows or any(len(r) != cols for r in value):
        raise SpecError(f"{_where(source, where)}: expected shape {shape}, got {given}.")
    return tuple(vector(r, cols, source, f"{where}[{i}]") for i, r in enumerate(value))


