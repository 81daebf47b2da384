"""Run untrusted or unbounded work in a child process with a time and a memory limit.

Some work cannot be interrupted from inside: a big-integer power in C, a
template that builds a gigabyte string, SymPy's exact arithmetic on numbers
with huge exponents.  ``run_bounded`` forks a child that does the work and
sends its result back through a pipe; the child's address space is capped
with ``RLIMIT_AS`` and the parent kills it when it runs over its seconds.
Where ``fork`` is not available the work runs in this process, unbounded.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
from typing import Any, Callable

from .children import die_with_parent


class LimitError(Exception):
    """The bounded work failed, ran out of time or memory; the message says which."""


def address_space() -> int:
    """This process's current virtual memory size in bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at its current size plus ``extra_mb``."""
    current = address_space()
    if not current:
        return                      # no /proc: the time limit still holds
    try:
        limit = current + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"{type(exc).__name__}: {exc}"


def _child(fn, args, conn, memory_mb, describe, parent_pid) -> None:
    die_with_parent(parent_pid)
    limit_memory(memory_mb)
    try:
        result = ("ok", fn(*args))
    except BaseException as exc:                 # noqa: BLE001 — reported to the parent
        try:
            result = ("error", describe(exc))
        except BaseException:                     # noqa: BLE001 — even describing failed
            result = ("error", _describe(exc))
    try:
        conn.send(result)
    except BaseException:                         # noqa: BLE001 — e.g. out of memory pickling
        conn.send(("error", "the result could not be sent back (out of memory?)"))
    conn.close()


def run_bounded(fn: Callable[..., Any], args: tuple = (), *, seconds: float, memory_mb: int,
                describe: Callable[[BaseException], str] = _describe) -> Any:
    """``fn(*args)`` in a child within ``seconds`` and ``memory_mb`` more megabytes;
    its (picklable) result, or a ``LimitError`` whose message is ``describe(exc)`` of
    the child's exception, or says which limit was reached."""
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:
        return fn(*args)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, child, memory_mb, describe, os.getpid()),
                       daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(seconds):
            raise LimitError(f"took longer than the time limit of {seconds:g} s")
        status, value = parent.recv()
    except (EOFError, OSError):
        raise LimitError(f"the process ended without an answer (the memory limit of "
                         f"{memory_mb} MB?)") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        parent.close()
    if status == "error":
        raise LimitError(value)
    return value
