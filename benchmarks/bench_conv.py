"""The scale benchmark of issue #18: a CNN on 1×28×28, loss + all gradients at batch 64.

    python benchmarks/bench_conv.py              # 25 rounds
    python benchmarks/bench_conv.py --rounds 41

conv 8 channels 3×3, relu, maxpool 2, flatten, dense 10, softmax + cross-entropy.  Columns:
symbackprop (``prepare`` + ``numeric.conv.evaluate``), the hand-written im2col NumPy of
``benchmarks/cnn_reference.py`` (committed before this code), and PyTorch CPU float64 with
one thread (forward + backward).  BLAS and torch are pinned to one thread; each round times
a block of calls of each implementation in turn (the order rotating every round), so a
change in the machine's load hits all of them; the table gives the median time per call
over the rounds and the ratio to the NumPy reference.  The three are first checked to agree
(loss and gradients).  Nothing is asserted: the issue's targets are printed next to the
numbers (derive ≤ 10 s, symbackprop ≤ 1.5× the reference).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
           "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"                           # before NumPy loads BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn_reference import loss_and_gradients  # noqa: E402

SPEC = """
input_shape = [1, 28, 28]
loss = "cross_entropy"
[[layer]]
type = "conv2d"
channels = 8
kernel = 3
activation = "relu"
[[layer]]
type = "maxpool"
pool = 2
[[layer]]
type = "flatten"
[[layer]]
size = 10
activation = "softmax"
"""
BATCH = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--calls", type=int, default=5, help="calls per timed block")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    from symbackprop.api import prepare                 # noqa: E402  (the import is timed)
    from symbackprop.numeric.conv import evaluate
    model = prepare(SPEC)
    compiled = model.compiled
    derive_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    P = {"W1": rng.normal(size=(8, 1, 3, 3)) / 3, "b1": rng.normal(size=8) * 0.1,
         "W4": rng.normal(size=(10, 1352)) / 37, "b4": rng.normal(size=10) * 0.1}
    x = rng.normal(size=(BATCH, 1, 28, 28))
    y = np.eye(10)[rng.integers(0, 10, BATCH)]
    X, Y = x.reshape(BATCH, -1).T.copy(), y.T.copy()
    T = {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}
    xt, yt = torch.tensor(x), torch.tensor(y)

    def ours():
        ev = evaluate(compiled, P, X, Y, columns=False)
        return ev.loss, ev.gradients

    def reference():
        loss, g = loss_and_gradients(P["W1"], P["b1"], P["W4"], P["b4"], x, y)
        return loss, {"W1": g["K"], "b1": g["b"], "W4": g["W"], "b4": g["c"]}

    def pytorch():
        for t in T.values():
            t.grad = None
        z = F.max_pool2d(torch.relu(F.conv2d(xt, T["W1"], T["b1"])), 2).reshape(BATCH, -1)
        loss = F.cross_entropy(z @ T["W4"].T + T["b4"], yt)
        loss.backward()
        return loss.item(), {k: t.grad.numpy() for k, t in T.items()}

    runs = {"symbackprop": ours, "NumPy im2col (reference)": reference,
            "PyTorch CPU float64, 1 thread": pytorch}
    want = reference()
    for name, fn in runs.items():
        loss, g = fn()
        err = max(abs(loss - want[0]), *(float(np.abs(g[k] - want[1][k]).max()) for k in g))
        assert err < 1e-10, (name, err)
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.rounds):
        for name in names[r % 3:] + names[:r % 3]:
            fn = runs[name]
            fn()
            t = time.perf_counter()
            for _ in range(args.calls):
                fn()
            times[name].append((time.perf_counter() - t) / args.calls)
    ref = statistics.median(times["NumPy im2col (reference)"])
    print(f"CNN 1×28×28 → conv 8×3×3 relu → maxpool 2 → dense 10 softmax + CE, batch {BATCH}")
    print(f"derive (import + prepare + compile): {derive_s:.2f} s   (target ≤ 10 s)")
    print(f"loss + all gradients, median of {args.rounds} interleaved rounds of {args.calls} "
          "calls, BLAS/torch 1 thread\n")
    print(f"{'implementation':32s} {'ms / call':>10s} {'ratio to reference':>20s}")
    for name in runs:
        med = statistics.median(times[name])
        print(f"{name:32s} {med * 1e3:10.2f} {med / ref:19.2f}×")
    print("\ntarget: symbackprop ≤ 1.50× the reference")


if __name__ == "__main__":
    main()
