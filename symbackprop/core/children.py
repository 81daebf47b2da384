"""Child processes that never outlive the process that started them.

A forked worker (``check``'s claim checker) may be deep in C code (a big-integer
power) when its parent is killed: SIGKILL, SIGTERM or Ctrl-C of the parent must
end it too, or it keeps a core busy.  On Linux the kernel does this for us:
``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the child killed when its parent dies,
whatever the child is doing.  Elsewhere a watchdog thread polls the parent's pid
(it cannot stop a child stuck in C code holding the GIL, but it ends every other).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1          # <linux/prctl.h>
WATCH_SECONDS = 0.5


def _prctl_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(WATCH_SECONDS)


def die_with_parent(parent_pid: int) -> None:
    """Call first thing in a forked child: it is killed as soon as ``parent_pid`` dies
    (at once if it died already, before this call)."""
    if not _prctl_pdeathsig():
        threading.Thread(target=_watch, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:          # the parent died between fork and prctl
        os._exit(1)
