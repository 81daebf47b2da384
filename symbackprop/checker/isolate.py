"""Run the checker in a child process that has a memory limit and can be killed.

Claims are untrusted text: some SymPy operations on them cannot be
interrupted by a signal (big-integer powers) or grow memory without bound.
A forked child checks the claims one after another and reports each
verdict through a pipe; the parent waits at most ``timeout`` seconds a
claim (times the number of ``=`` of a chain), kills the child when a claim runs over, marks
that claim ``undecided`` and forks a fresh child for the rest of the file.
The child's address space is capped with ``RLIMIT_AS``.
"""
from __future__ import annotations

import multiprocessing
import os
import resource
import traceback

from ..formula.claims import ClaimText
from .verdict import Verdict

TIMEOUT = 5.0
MEMORY_MB = 1024


def _address_space() -> int:
    """This process's current virtual memory size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _limit_memory(extra_mb: int) -> None:
    try:
        limit = _address_space() + extra_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):
        pass                       # no /proc or no permission: the time limit still holds


def check_one(checker, claim: ClaimText) -> list[Verdict]:
    """All verdicts of one claim; an unexpected failure becomes ``undecided``
    (a number the spec has no values for: the ``check.NeedsValues`` itself)."""
    from .engine import NeedsValues
    try:
        return checker.check_text(claim.text, claim.line)
    except NeedsValues as err:       # a spec error, reported by the caller for the file
        return err
    except MemoryError:
        return [undecided(claim, "the memory limit was reached")]
    except RecursionError:
        return [undecided(claim, "the formula is too deeply nested to check")]
    except Exception as err:         # a checker bug must not cost the rest of the file
        where = traceback.extract_tb(err.__traceback__)[-1]
        return [undecided(claim, f"internal error {type(err).__name__} at "
                                 f"{os.path.basename(where.filename)}:{where.lineno}: {err}")]


def undecided(claim: ClaimText, why: str) -> Verdict:
    return Verdict(claim.line, claim.text, "undecided", message=why)


def _child(checker, claims, start, conn, memory_mb) -> None:
    _limit_memory(memory_mb)
    for i in range(start, len(claims)):
        conn.send(("start", i))
        conn.send(("done", i, check_one(checker, claims[i])))
    conn.close()


def run(checker, claims: list[ClaimText], timeout: float = TIMEOUT,
        memory_mb: int = MEMORY_MB, isolate: bool = True) -> list:
    """The verdicts of each claim (a list each), in order, each claim within
    ``timeout`` seconds."""
    if not isolate:
        return [check_one(checker, c) for c in claims]
    checker.warm_up()                 # test points are computed once, before forking
    ctx = multiprocessing.get_context("fork")
    results: dict[int, list[Verdict]] = {}
    start = 0
    while start < len(claims):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(checker, claims, start, child, memory_mb),
                           daemon=True)
        proc.start()
        child.close()
        start = _collect(parent, proc, claims, results, timeout)
        parent.close()
    return [results[i] for i in range(len(claims))]


def _collect(conn, proc, claims, results, timeout) -> int:
    """Read verdicts until the child finishes or a claim runs over; the next start index."""
    current = None
    try:
        while True:
            links = claims[current].text.count("=") if current is not None else 1
            if not conn.poll(timeout * max(1, links) + (0.0 if current is not None else 5.0)):
                raise TimeoutError
            msg = conn.recv()
            if msg[0] == "start":
                current = msg[1]
            else:
                results[msg[1]] = msg[2]
                current = None
                if msg[1] == len(claims) - 1:
                    proc.join(timeout=5.0)
                    return len(claims)
    except TimeoutError:
        reason = f"the time limit of {timeout:g} s was reached"
    except (EOFError, OSError):
        reason = "the checker process ended (memory limit?)"
    proc.kill()
    proc.join()
    if current is None:              # died between claims: nothing is lost but the process
        current = next(i for i in range(len(claims)) if i not in results)
    results[current] = [undecided(claims[current], reason)]
    return current + 1
