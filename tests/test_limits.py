"""core.limits.run_bounded: its child is bounded in time and memory and never outlives its parent."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import alive

from symbackprop.core.limits import LimitError, run_bounded


def test_a_result_comes_back_from_the_child():
    assert run_bounded(os.getppid, seconds=10, memory_mb=100) == os.getpid()


def test_time_and_memory_limits_are_errors_naming_the_limit():
    with pytest.raises(LimitError, match="time limit of 0.5 s"):
        run_bounded(time.sleep, (30,), seconds=0.5, memory_mb=100)
    with pytest.raises(LimitError, match="out of memory|memory limit"):
        run_bounded(bytearray, (4 * 2**30,), seconds=10, memory_mb=100)


BOUNDED = """
import os, time
from symbackprop.core.limits import run_bounded
def stuck():
    os.write(1, f"{os.getppid()} {os.getpid()}\\n".encode())
    time.sleep(120)
run_bounded(stuck, seconds=300, memory_mb=200)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_parent_kills_the_bounded_child():
    """A template render or a spec read in a bounded child ends with its process (SIGKILL)."""
    main = subprocess.Popen([sys.executable, "-c", BOUNDED], stdout=subprocess.PIPE, text=True)
    try:
        parent, worker = map(int, main.stdout.readline().split())
        assert parent == main.pid and alive(worker)
        os.kill(parent, signal.SIGKILL)
        until = time.monotonic() + 10
        while alive(worker) and time.monotonic() < until:
            time.sleep(0.05)
        assert not alive(worker), "the bounded child outlived its parent"
    finally:
        main.kill()
        main.wait()
