"""`translate` reads untrusted claims: each line in a child with check's time and memory
limits, the file size capped, a FIFO refused; bad input exit 2, no traceback."""
import os
import subprocess
import sys
import time


def _translate(path, timeout=60):
    return subprocess.run([sys.executable, "-m", "symbackprop", "translate", "worked_2331", str(path),
                           "--from", "ng", "--to", "nielsen"],
                          capture_output=True, text=True, timeout=timeout)


def test_a_line_that_runs_long_is_kept_and_the_next_is_translated(tmp_path):
    claims = tmp_path / "c.txt"
    deep = "(" * 3000 + "x_1" + ")" * 3000            # deep nesting: the parser's worst case
    claims.write_text(f"{deep} = 1\n" r"\delta^{[3]}_1 = a^{[3]}_1 - y" "\n")
    t = time.monotonic()
    r = _translate(claims)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].startswith("% line 1: kept as written")
    assert r"\delta^{4}_{1}" in lines[2]              # Nielsen: the input is layer 1
    assert time.monotonic() - t < 30


def test_a_fifo_or_a_huge_file_is_refused(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = _translate(fifo, timeout=30)
    assert r.returncode == 2 and "claims file" in r.stderr and "Traceback" not in r.stderr
    big = tmp_path / "big.txt"
    big.write_text("x_1 = 1\n" * 700_000)              # 5.6 MB
    r = _translate(big)
    assert r.returncode == 2 and "Traceback" not in r.stderr
