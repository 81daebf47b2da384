"""BPTT at scale (issue #19): hidden 32, T = 20, batch 64, loss and all gradients.

    python benchmarks/bench_rnn.py [--rounds 21]

Columns: symbackprop's ``evaluate_recurrent``, the hand-written NumPy BPTT of
``benchmarks/rnn_reference.py`` (the reference), PyTorch CPU float64 (nn.RNN + autograd,
one thread).  BLAS is pinned to one thread before NumPy loads; the three are timed in
turn, their order rotated every round, and the table gives the median time per call over
the rounds and each one's ratio to the NumPy reference (below 1.5 is the issue's goal).
The derivation time (spec → derivation → compiled) is measured first.  Before timing,
the three gradients are compared (they must agree to 1e-10).  Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
            "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rnn_reference import loss_and_gradients  # noqa: E402
from symbackprop.api import prepare  # noqa: E402
from symbackprop.numeric.recurrent import evaluate_recurrent  # noqa: E402

N_IN, H, N_OUT, T, B = 8, 32, 4, 20, 64
SPEC = (f'inputs = {N_IN}\nloss = "half_sse"\n[[layer]]\ntype = "rnn"\nsize = {H}\n'
        f'activation = "tanh"\nper_step = true\n[[layer]]\nsize = {N_OUT}\nactivation = "sigmoid"\n')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--calls", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = prepare(SPEC)
    compiled = model.compiled
    derive_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    P = {"W1": rng.normal(0, 0.3, (H, N_IN)), "U1": rng.normal(0, 0.15, (H, H)),
         "b1": rng.normal(0, 0.1, H), "W2": rng.normal(0, 0.3, (N_OUT, H)), "b2": rng.normal(0, 0.1, N_OUT)}
    X, Y = rng.normal(size=(T, N_IN, B)), rng.uniform(size=(T, N_OUT, B))

    rnn = torch.nn.RNN(N_IN, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(P["W1"]))
        rnn.weight_hh_l0.copy_(torch.tensor(P["U1"]))
        rnn.bias_ih_l0.copy_(torch.tensor(P["b1"]))
        rnn.bias_hh_l0.zero_()
    V, c = torch.tensor(P["W2"], requires_grad=True), torch.tensor(P["b2"], requires_grad=True)
    Xt, Yt = torch.tensor(X.transpose(0, 2, 1).copy()), torch.tensor(Y.transpose(0, 2, 1).copy())

    def ours():
        return evaluate_recurrent(compiled, P, X, Y).gradients

    def reference():
        return loss_and_gradients(P["W1"], P["U1"], P["b1"], P["W2"], P["b2"], X, Y)[1]

    def pytorch():
        for p in (*rnn.parameters(), V, c):
            p.grad = None
        out, _ = rnn(Xt)
        E = 0.5 * ((torch.sigmoid(out @ V.T + c) - Yt) ** 2).sum() / B
        E.backward()
        return {"W1": rnn.weight_ih_l0.grad.numpy(), "U1": rnn.weight_hh_l0.grad.numpy(),
                "b1": rnn.bias_ih_l0.grad.numpy(), "W2": V.grad.numpy(), "b2": c.grad.numpy()}

    runs = {"symbackprop": ours, "NumPy (reference)": reference, "PyTorch f64, 1 thread": pytorch}
    ref = reference()
    for name, fn in runs.items():
        got = fn()
        worst = max(float(np.abs(got[k] - ref[k]).max()) for k in ref)
        assert worst < 1e-10, (name, worst)
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.rounds):
        for name in names[r % 3:] + names[:r % 3]:     # rotate who goes first
            fn = runs[name]
            t = time.perf_counter()
            for _ in range(args.calls):
                fn()
            times[name].append((time.perf_counter() - t) / args.calls)
    med = {name: statistics.median(v) for name, v in times.items()}
    base = med["NumPy (reference)"]
    print(f"BPTT, hidden {H}, T = {T}, batch {B}, inputs {N_IN}, outputs {N_OUT} (every step); "
          f"median of {args.rounds} rounds × {args.calls} calls, BLAS 1 thread")
    print(f"derive (spec → derivation → compiled): {derive_s:.3f} s")
    print(f"{'':24s} {'ms / call':>10s} {'× NumPy':>9s}")
    for name, m in med.items():
        print(f"{name:24s} {m * 1e3:10.3f} {m / base:9.2f}")


if __name__ == "__main__":
    main()
