"""Run the checker in a child process that has a memory limit and can be killed.

Claims are untrusted text: some SymPy operations on them cannot be
interrupted by a signal (big-integer powers) or grow memory without bound.
A forked child checks the claims one after another and reports each
verdict through a pipe; the parent waits at most ``timeout`` seconds a
claim (the whole claim, however many ``=`` it chains), kills the child when a claim
runs over, marks that claim ``undecided`` and forks a fresh child for the rest of the
file.  The child's address space is capped with ``RLIMIT_AS``, and it dies with its
parent (``core.children``).  A claim written several times is checked once.  An
optional ``Deadline`` bounds the whole run: claims it leaves are ``undecided``.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import os
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from ..core.children import die_with_parent
from ..core.defaults import CLAIM_TIMEOUT
from ..formula.claims import ClaimText
from .errors import NeedsValues
from .verdict import Verdict

MEMORY_MB = 1024
START_SECONDS = 5.0        # a fresh child's time to its first claim, on top of the claim's own
JOIN_SECONDS = 5.0         # the last child's time to exit once every verdict is in

Check = Callable[[ClaimText], list[Verdict]]       # the verdicts of one claim
Outcome = list[Verdict] | NeedsValues               # what checking one claim gives


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


def check_one(check: Check, claim: ClaimText) -> Outcome:
    """All verdicts of one claim; an unexpected failure becomes ``undecided``
    (a number the spec has no values for: the ``NeedsValues`` itself, which the
    caller reports for the whole file)."""
    try:
        return check(claim)
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


@dataclass(frozen=True)
class Deadline:
    """The end of a whole ``check`` run: ``seconds`` from when it was made."""

    at: float
    seconds: float

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        return cls(time.monotonic() + seconds, seconds)

    def left(self) -> float:
        return self.at - time.monotonic()

    @property
    def reason(self) -> str:
        return f"the time limit of the whole run ({self.seconds:g} s) was reached"


def _child(check: Check, claims, start, conn, memory_mb, parent_pid) -> None:
    die_with_parent(parent_pid)
    _limit_memory(memory_mb)
    for i in range(start, len(claims)):
        conn.send(("start", i))
        conn.send(("done", i, check_one(check, claims[i])))
    conn.close()


class _OutOfRunTime(Exception):
    pass


def run(check: Check, claims: list[ClaimText], timeout: float = CLAIM_TIMEOUT,
        memory_mb: int = MEMORY_MB, isolate: bool = True,
        deadline: Deadline | None = None) -> list[Outcome]:
    """The outcome of each claim (its verdicts, or the ``NeedsValues`` it raised), in
    order, each claim within ``timeout`` seconds and all of them before ``deadline``.
    ``check`` runs in forked children: whatever it reads (the checker's context, with
    its test points) is built before.  Each distinct claim text is checked once."""
    first: dict[str, int] = {}
    distinct = []
    for c in claims:
        if c.text not in first:
            first[c.text] = len(distinct)
            distinct.append(c)
    outcomes = _run(check, distinct, timeout, memory_mb, isolate, deadline)
    return [_relined(outcomes[first[c.text]], c) for c in claims]


def _relined(outcome: Outcome, claim: ClaimText) -> Outcome:
    """The outcome of a claim checked at another line, moved to ``claim``'s line."""
    if isinstance(outcome, NeedsValues) or all(v.line == claim.line for v in outcome):
        return outcome
    return [dataclasses.replace(v, line=claim.line) for v in outcome]


def _run(check, claims, timeout, memory_mb, isolate, deadline) -> list[Outcome]:
    if not isolate:
        out = []
        for c in claims:
            late = deadline is not None and deadline.left() <= 0
            out.append([undecided(c, deadline.reason)] if late else check_one(check, c))
        return out
    mp = multiprocessing.get_context("fork")
    results: dict[int, Outcome] = {}
    start = 0
    while start < len(claims):
        if deadline is not None and deadline.left() <= 0:
            for i in range(start, len(claims)):
                results[i] = [undecided(claims[i], deadline.reason)]
            break
        parent, child = mp.Pipe(duplex=False)
        proc = mp.Process(target=_child, daemon=True,
                          args=(check, claims, start, child, memory_mb, os.getpid()))
        proc.start()
        child.close()
        start = _collect(parent, proc, claims, results, timeout, deadline)
        parent.close()
    return [results[i] for i in range(len(claims))]


def _collect(conn, proc, claims, results, timeout, deadline=None) -> int:
    """Read verdicts until the child finishes or a claim runs over; the next start index."""
    current = None
    try:
        while True:
            grace = 0.0 if current is not None else START_SECONDS
            wait = timeout + grace
            if deadline is not None and deadline.left() < wait:
                wait = max(0.0, deadline.left())
                if not conn.poll(wait):
                    raise _OutOfRunTime
            elif not conn.poll(wait):
                raise TimeoutError
            msg = conn.recv()
            if msg[0] == "start":
                current = msg[1]
            else:
                results[msg[1]] = msg[2]
                current = None
                if msg[1] == len(claims) - 1:
                    proc.join(timeout=JOIN_SECONDS)
                    return len(claims)
    except TimeoutError:
        reason = f"the time limit of {timeout:g} s was reached"
    except _OutOfRunTime:
        reason = deadline.reason
    except (EOFError, OSError):
        reason = "the checker process ended (memory limit?)"
    proc.kill()
    proc.join()
    if current is None:              # died between claims: nothing is lost but the process
        current = next(i for i in range(len(claims)) if i not in results)
    results[current] = [undecided(claims[current], reason)]
    return current + 1
