"""evaluate() on 784-30-10 at batch 1, 64 and 1024: this code against a reference commit.

    python benchmarks/bench_evaluate.py                      # reference 63fedcd (before issue #12)
    python benchmarks/bench_evaluate.py --reference COMMIT --rounds 30

Two worker processes, one importing this tree and one a ``git archive`` of the
reference, each with BLAS pinned to one thread, build the same network with the
same parameters and batches.  The parent asks them in turn (alternating which goes
first) to time a block of ``evaluate`` calls, so that a change in the machine's load
hits both; the table gives the median time per call over the rounds and the ratio
reference / now (above 1: now is faster).  Nothing is asserted.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "63fedcd"
BATCHES = (1, 64, 1024)
THREADS = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}

WORKER = r"""
import json, sys, time
import numpy as np
import symbackprop
from symbackprop.api import prepare
from symbackprop.core.parameters import initial_parameters
from symbackprop.numeric.vectorised import evaluate

text = 'inputs = 784\nloss = "half_sse"\n[[layer]]\nsize = 30\nactivation = "sigmoid"\n' \
       '[[layer]]\nsize = 10\nactivation = "sigmoid"\n'
model = prepare(text)
c = model.compiled
params = initial_parameters(model.spec, seed=0)
rng = np.random.default_rng(1)
data = {b: (rng.normal(size=(784, b)), rng.uniform(size=(10, b))) for b in (1, 64, 1024)}
print(json.dumps({"package": symbackprop.__file__}), flush=True)
for line in sys.stdin:
    batch, calls = json.loads(line)
    X, Y = data[batch]
    evaluate(c, params, X, Y)
    t = time.perf_counter()
    for _ in range(calls):
        evaluate(c, params, X, Y)
    print(json.dumps((time.perf_counter() - t) / calls), flush=True)
"""


def reference_tree(commit: str, scratch: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit],
                             capture_output=True, check=True).stdout
    tree = scratch / commit
    tree.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def start(tree: Path) -> subprocess.Popen:
    env = {**os.environ, **THREADS, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=tree, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    package = Path(json.loads(proc.stdout.readline())["package"]).resolve()
    if not package.is_relative_to(tree.resolve()):
        raise RuntimeError(f"the worker in {tree} imported {package}")
    return proc


def ask(proc: subprocess.Popen, batch: int, calls: int) -> float:
    proc.stdin.write(json.dumps([batch, calls]) + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference", default=REFERENCE, metavar="COMMIT")
    p.add_argument("--rounds", type=int, default=21)
    args = p.parse_args()
    calls = {1: 400, 64: 100, 1024: 10}
    with tempfile.TemporaryDirectory(prefix="symbackprop-evaluate-") as scratch:
        workers = {"old": start(reference_tree(args.reference, Path(scratch))), "now": start(ROOT)}
        times = {label: {b: [] for b in BATCHES} for label in workers}
        for r in range(args.rounds):
            order = ("old", "now") if r % 2 == 0 else ("now", "old")
            for b in BATCHES:
                for label in order:
                    times[label][b].append(ask(workers[label], b, calls[b]))
        for proc in workers.values():
            proc.stdin.close()
            proc.wait()
    print(f"evaluate() on 784-30-10 (sigmoid, half_sse), BLAS threads pinned to 1; median "
          f"per call over {args.rounds} interleaved rounds; old = {args.reference}")
    print(f"{'batch':>6} {'old (µs)':>10} {'now (µs)':>10} {'old/now':>8}")
    for b in BATCHES:
        old, now = (statistics.median(times[k][b]) for k in ("old", "now"))
        print(f"{b:>6} {old * 1e6:>10.1f} {now * 1e6:>10.1f} {old / now:>7.2f}×")


if __name__ == "__main__":
    main()
