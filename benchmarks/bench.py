"""symbackprop benchmarks: derivation cost growth, numeric speed, memory.

Run from the repository root (takes a few minutes on 2 cores):

    python benchmarks/bench.py            # everything
    python benchmarks/bench.py --quick    # smaller sweep, fewer repeats
    python benchmarks/bench.py --versus-only   # only (d): derive/check against the old main

Section (d) times ``derive()`` of every shipped example and ``check`` of every
shipped claims file for this code and for the old main (commit ``REFERENCE``,
taken from git with ``git archive``, or ``--reference-tree DIR`` for a checkout
of it, e.g. ``git worktree add /tmp/old 2c47c78``), each in its own fresh
process, on the same spec and claims files, one after the other in one run, so
the ratios compare like with like.

Every number is measured here, on this machine, in this run; nothing is
asserted.  BLAS is pinned to one thread before NumPy is imported, because
on 2 cores competing BLAS threads make timings swing 10–40×.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symbackprop.core.derive import derive  # noqa: E402
from symbackprop.core.network import build_network  # noqa: E402
from symbackprop.numeric.vectorised import evaluate, loss  # noqa: E402
from symbackprop.core.parameters import initial_parameters  # noqa: E402
from symbackprop.api import prepare  # noqa: E402
from symbackprop.core.spec import parse_spec  # noqa: E402

MNIST = (784, 30, 10)


def spec_text(sizes, acts, loss_name="half_sse", values=""):
    lines = [f"inputs = {sizes[0]}", f'loss = "{loss_name}"']
    for size, act in zip(sizes[1:], acts):
        lines += ["[[layer]]", f"size = {size}", f'activation = "{act}"']
    return "\n".join(lines) + "\n" + values


# ---- (a) derivation cost growth ------------------------------------------------

def derivation_cost(sizes) -> dict:
    """Build + derive, then expand every δ^l_j and every ∂E/∂θ (δ_j a_k); count ops."""
    acts = ["sigmoid"] * (len(sizes) - 1)
    t0 = time.perf_counter()
    net = build_network(parse_spec(spec_text(sizes, acts)))
    d = derive(net)
    exprs = [d.delta(layer, j) for layer in d.layers for j in range(layer.n_out)]
    exprs += [d.gradient(p) for p in net.parameters]
    seconds = time.perf_counter() - t0
    ops = sum(sp.count_ops(e) for e in exprs)
    return {"sizes": sizes, "params": len(net.parameters), "seconds": seconds, "ops": ops}


def fit_exponent(xs, ys) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def local_exponent(rows, width: int) -> float:
    """The ops exponent between the two deepest nets of one width."""
    pair = [r for r in rows if r["sizes"][0] == width][-2:]
    return fit_exponent([r["params"] for r in pair], [r["ops"] for r in pair])


def bench_derivation(quick: bool) -> list[dict]:
    depths = (1, 2, 4, 8) if quick else (1, 2, 4, 8, 16)
    widths = (2, 8, 32) if quick else (2, 4, 8, 16, 32, 64)
    rows = [derivation_cost((w,) + (w,) * depth) for depth in depths for w in widths]
    print("\n(a) Derivation cost: sigmoid MLP, `depth` layers of `width` neurons, width inputs;")
    print("    time = build symbols + derive + write out every δ^l_j and every ∂E/∂θ = δ_j a_k")
    print(f"{'depth':>5} {'width':>5} {'params':>8} {'seconds':>9} {'count_ops':>10} {'ops/param':>9}")
    for r in rows:
        print(f"{len(r['sizes']) - 1:>5} {r['sizes'][0]:>5} {r['params']:>8} "
              f"{r['seconds']:>9.3f} {r['ops']:>10} {r['ops'] / r['params']:>9.2f}")
    print("fitted exponents, log-log least squares against the parameter count P:")
    families = [(f"depth {dp}, width 2..{widths[-1]}", [r for r in rows if len(r["sizes"]) - 1 == dp])
                for dp in depths] + \
               [(f"width {w}, depth 1..{depths[-1]}", [r for r in rows if r["sizes"][0] == w])
                for w in widths]
    families.append(("all nets with P >= 1000", [r for r in rows if r["params"] >= 1000]))
    families.append((f"all {len(rows)} nets", rows))
    for label, fam in families:
        P = [r["params"] for r in fam]
        print(f"  {label:<28} time P^{fit_exponent(P, [r['seconds'] for r in fam]):.2f}   "
              f"ops P^{fit_exponent(P, [r['ops'] for r in fam]):.2f}")
    print(f"local ops exponent from depth {depths[-2]} to {depths[-1]} (ops/param saturating): "
          + ", ".join(f"width {w} P^{local_exponent(rows, w):.2f}" for w in widths))
    deep = derivation_cost((32,) + (32,) * 10 + (1,))
    print(f"10 hidden layers of 32 (+1 output): {deep['params']} params, derived and expanded "
          f"in {deep['seconds']:.2f} s, {deep['ops']} ops")
    return rows


def bench_mnist_document() -> None:
    """784-30-10: derive, compile, evaluate one example, render the summary document."""
    from symbackprop.render.environment import render_markdown
    rng = np.random.default_rng(0)
    x = ", ".join(f"{v:.3f}" for v in rng.random(MNIST[0]))
    y = ", ".join("1.0" if j == 3 else "0.0" for j in range(MNIST[-1]))
    text = spec_text(MNIST, ["sigmoid", "sigmoid"], "half_sse", f"[values]\nx = [{x}]\ny = [{y}]\n")
    times = {}
    t = time.perf_counter()
    model = prepare(text)
    times["derive"] = time.perf_counter() - t
    t = time.perf_counter()
    model.compiled
    times["compile"] = time.perf_counter() - t
    t = time.perf_counter()
    model.step(init=0)
    times["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    doc = render_markdown(model.derivation, model.notation, model.worked(init=0))
    times["worked example + render"] = time.perf_counter() - t
    longest = max(len(line) for line in doc.splitlines())
    print(f"\n784-30-10 ({len(model.network.parameters)} params): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in times.items())
          + f"; total {sum(times.values()):.2f} s; document {len(doc) // 1024} KiB, "
            f"{len(doc.splitlines())} lines, longest line {longest} characters")


# ---- (b) numeric speed -----------------------------------------------------------

def hand_backprop(p, X, Y):
    """Hand-written vectorised backprop for a sigmoid 784-30-10 net, half-SSE, batch mean."""
    n = X.shape[1]
    z1 = p["W1"] @ X + p["b1"][:, None]
    a1 = 1.0 / (1.0 + np.exp(-z1))
    z2 = p["W2"] @ a1 + p["b2"][:, None]
    a2 = 1.0 / (1.0 + np.exp(-z2))
    E = 0.5 * ((a2 - Y) ** 2).sum() / n
    d2 = (a2 - Y) * a2 * (1.0 - a2)
    d1 = (p["W2"].T @ d2) * a1 * (1.0 - a1)
    return E, {"W1": d1 @ X.T / n, "b1": d1.sum(1) / n, "W2": d2 @ a1.T / n, "b2": d2.sum(1) / n}


def hand_loss(p, X, Y):
    """The same network's loss alone, by hand."""
    a1 = 1.0 / (1.0 + np.exp(-(p["W1"] @ X + p["b1"][:, None])))
    a2 = 1.0 / (1.0 + np.exp(-(p["W2"] @ a1 + p["b2"][:, None])))
    return 0.5 * ((a2 - Y) ** 2).sum() / X.shape[1]


def best_time(fn, repeat: int) -> float:
    number = max(1, int(0.05 / max(timeit.timeit(fn, number=1), 1e-6)))
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def bench_numeric(quick: bool) -> None:
    model = prepare(spec_text(MNIST, ["sigmoid", "sigmoid"]))
    c = model.compiled
    params = initial_parameters(model.spec, 0)
    rng = np.random.default_rng(1)
    repeat = 3 if quick else 7
    gen = generated_module(model)
    print("\n(b) Numeric speed: 784-30-10 sigmoid, half-SSE, loss + all gradients (best of "
          f"{repeat}, ms per call)")
    print(f"{'batch':>6} {'hand NumPy':>11} {'symbackprop':>12} {'ratio':>6} {'codegen':>8} "
          f"{'ratio':>6} {'loss only':>10} {'grad/loss':>10} {'hand grad/loss':>15}")
    for n in (1, 64, 1024):
        X, Y = rng.random((MNIST[0], n)), rng.random((MNIST[-1], n))
        ours = evaluate(c, params, X, Y)
        ref_loss, ref = hand_backprop(params, X, Y)
        assert abs(ours.loss - ref_loss) <= 1e-12 * ref_loss   # same numbers before timing
        assert all(np.allclose(ours.gradients[k], ref[k], rtol=1e-10, atol=1e-14) for k in ref)
        assert abs(loss(c, params, X, Y) - hand_loss(params, X, Y)) <= 1e-12 * ref_loss
        t_hand = best_time(lambda: hand_backprop(params, X, Y), repeat)
        t_ours = best_time(lambda: evaluate(c, params, X, Y), repeat)
        t_gen = best_time(lambda: gen.gradients(params, X, Y), repeat)
        t_loss = best_time(lambda: loss(c, params, X, Y), repeat)
        t_hand_loss = best_time(lambda: hand_loss(params, X, Y), repeat)
        print(f"{n:>6} {t_hand * 1e3:>11.3f} {t_ours * 1e3:>12.3f} {t_ours / t_hand:>6.2f} "
              f"{t_gen * 1e3:>8.3f} {t_gen / t_hand:>6.2f} {t_loss * 1e3:>10.3f} "
              f"{t_ours / t_loss:>10.2f} {t_hand / t_hand_loss:>15.2f}")


def generated_module(model):
    """Import the module `symbackprop codegen` writes for ``model``."""
    import importlib.util
    from symbackprop.numeric.codegen import generate
    folder = Path(tempfile.mkdtemp(prefix="symbackprop-bench-"))
    path = folder / "bench_grads.py"
    path.write_text(generate(model.derivation))
    spec = importlib.util.spec_from_file_location("bench_grads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.rmtree(folder)                 # the module is loaded; the file is no longer needed
    return module


# ---- (c) memory ------------------------------------------------------------------

def peak_rss_kib() -> int:
    """This process's peak resident set (KiB).  Linux: VmHWM, which starts afresh at exec;
    ru_maxrss can carry the parent's peak over into a child, so it is only the fallback."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child() -> None:
    """In a fresh process: peak memory of deriving and evaluating 784-30-10 (batch 1,024)."""
    import tracemalloc
    base = peak_rss_kib()
    tracemalloc.start()
    model = prepare(spec_text(MNIST, ["sigmoid", "sigmoid"]))
    d = model.derivation
    n_exprs = len([d.gradient(p) for p in model.network.parameters])
    rng = np.random.default_rng(2)
    X, Y = rng.random((MNIST[0], 1024)), rng.random((MNIST[-1], 1024))
    evaluate(model.compiled, initial_parameters(model.spec, 0), X, Y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = peak_rss_kib()
    print(json.dumps({"baseline_rss_kib": base, "peak_rss_kib": rss, "traced_peak": peak,
                      "gradients": n_exprs}))


def measure_memory() -> dict:
    """Run memory_child in a fresh process (first, while this process is still small)."""
    run = subprocess.run([sys.executable, __file__, "--memory-child"], capture_output=True,
                         text=True, check=True)
    return json.loads(run.stdout)


def print_memory(m: dict) -> None:
    print(f"\n(c) Memory, fresh process, derive + all {m['gradients']} gradient expressions + "
          f"evaluate 784-30-10 on 1,024 examples:")
    print(f"peak RSS {m['peak_rss_kib'] / 1024:.0f} MiB (of which {m['baseline_rss_kib'] / 1024:.0f} "
          f"MiB is Python + SymPy + NumPy after import); Python-allocated peak (tracemalloc) "
          f"{m['traced_peak'] / 2**20:.0f} MiB")


# ---- (d) derive() and check against the old main ------------------------------------

REFERENCE = "2c47c78"    # the old main: derive() still proved its textbook forms with simplify
RUNS = 15
EXAMPLES_DIR = ROOT / "symbackprop" / "examples"
# The shipped claims files and the spec each is checked against (the command each file names).
CLAIMS = [(None, "calculus.txt"), ("bias_extra_weight", "four_equations.md"),
          ("one_hidden_ij", "one_hidden_ij.md"), ("softmax_classifier", "relu_softmax.md"),
          ("worked_2331_numbered", "worked_2331_numbered.md")]

# Run in a fresh process inside one source tree (this one or the reference), so it imports
# that tree's package; both layouts (core/… now, flat modules at the reference) are handled.
# Warm: SymPy imported and a network that is not an example derived first.
TIMING_CHILD = r"""
import json, statistics, sys, time
from pathlib import Path
import symbackprop
try:
    from symbackprop.core.derive import derive
    from symbackprop.core.network import build_network
    from symbackprop.core.spec import load_spec, parse_spec
    from symbackprop.api import prepare
    from symbackprop.checker.report import check_files
except ImportError:                       # the flat layout of the reference
    from symbackprop.derive import derive
    from symbackprop.network import build_network
    from symbackprop.spec import load_spec, parse_spec
    from symbackprop.pipeline import prepare
    from symbackprop.check_report import check_files
task, runs = json.loads(sys.argv[1]), int(sys.argv[2])
derive(build_network(parse_spec('inputs = 2\nloss = "sse"\n[[layer]]\nsize = 2\nactivation = "tanh"\n'
                                '[[layer]]\nsize = 1\nactivation = "sigmoid"\n')))

def timed(fn):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"first": times[0], "median": statistics.median(times)}

out = {"package": symbackprop.__file__, "derive": {}, "check": {}}
if task["kind"] == "derive":
    for name, path in task["examples"].items():
        net = build_network(load_spec(Path(path)))
        out["derive"][name] = timed(lambda: derive(net))
else:
    model = prepare(Path(task["spec"])) if task["spec"] else None
    files = [Path(task["claims"])]
    out["check"][task["label"]] = timed(lambda: check_files(model, files))
print(json.dumps(out))
"""


def reference_tree(commit: str, given: str | None, scratch: Path) -> Path | None:
    """A source tree of ``commit``: the one given, or ``git archive`` into ``scratch``."""
    if given:
        return Path(given).resolve()
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"reference {commit} not available from git ({exc}); check it out with "
              f"`git worktree add /tmp/old {commit}` and pass --reference-tree /tmp/old")
        return None
    tree = scratch / commit
    tree.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run_timing(tree: Path, task: dict, runs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    run = subprocess.run([sys.executable, "-c", TIMING_CHILD, json.dumps(task), str(runs)],
                         cwd=tree, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["exit " + str(run.returncode)])[-1]}
    out = json.loads(run.stdout.strip().splitlines()[-1])
    if not Path(out["package"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the timing child in {tree} imported {out['package']}")
    return out


def _claims_tasks() -> list[dict]:
    tasks = []
    for spec, claims in CLAIMS:
        path = None if spec is None else (EXAMPLES_DIR / spec if spec.endswith(".toml")
                                          else EXAMPLES_DIR / f"{spec}.toml")
        tasks.append({"kind": "check", "spec": None if path is None else str(path),
                      "claims": str(EXAMPLES_DIR / "claims" / claims),
                      "label": f"{claims} ({spec or '--no-spec'})"})
    return tasks


def bench_versus(commit: str, given_tree: str | None, runs: int) -> None:
    """derive() per shipped example and check per shipped claims file: now against ``commit``."""
    examples = {p.stem: str(p) for p in sorted(EXAMPLES_DIR.glob("*.toml"))}
    with tempfile.TemporaryDirectory(prefix="symbackprop-reference-") as scratch:
        old_tree = reference_tree(commit, given_tree, Path(scratch))
        trees = {"now": ROOT} | ({"old": old_tree} if old_tree else {})
        results = {label: {"derive": {}, "check": {}} for label in trees}
        # old and new alternate task by task, so a change in the machine's load hits both
        for task in [{"kind": "derive", "examples": examples}] + _claims_tasks():
            for label, tree in trees.items():
                out = run_timing(tree, task, runs)
                if "error" in out:
                    key = "derive" if task["kind"] == "derive" else "check"
                    names = examples if key == "derive" else [task["label"]]
                    results[label][key].update({n: {"error": out["error"]} for n in names})
                    continue
                for key in ("derive", "check"):
                    results[label][key].update(out[key])
    print(f"\n(d) derive() and check, this code ('now') against the old main {commit} ('old'):")
    print(f"    each in a fresh process, warm (SymPy imported, a 2-2-1 network derived first); "
          f"median of {runs} runs; 'first' = the first of them")
    _versus_table("derive() of the example", results, "derive", 1e3, "ms")
    _versus_table("check of the claims file (spec)", results, "check", 1.0, "s")
    if "old" not in trees:
        print("    (no reference: ratios not measured)")


def _versus_table(title: str, results: dict, key: str, scale: float, unit: str) -> None:
    names = list(results["now"][key])
    width = max(len(title), *(len(n) for n in names))
    print(f"{title:<{width}} {'first old':>10} {'first now':>10} {'median old':>11} "
          f"{'median now':>11} {'old/now':>8}   ({unit})")
    for name in names:
        now, old = results["now"][key][name], results.get("old", {}).get(key, {}).get(name, {})
        cells = []
        for which in ("first", "median"):
            for row in (old, now):
                cells.append(f"{row[which] * scale:.3g}" if which in row else "—")
        ratio = (f"{old['median'] / now['median']:.1f}×" if "median" in old and "median" in now
                 else "—")
        print(f"{name:<{width}} {cells[0]:>10} {cells[1]:>10} {cells[2]:>11} {cells[3]:>11} {ratio:>8}")
        for row, label in ((old, "old"), (now, "now")):
            if "error" in row:
                print(f"    {label}: {row['error']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sweep and fewer repeats")
    p.add_argument("--versus-only", action="store_true",
                   help="only (d): derive() and check against the old main")
    p.add_argument("--reference", default=REFERENCE, metavar="COMMIT",
                   help=f"the old code for (d) (default {REFERENCE})")
    p.add_argument("--reference-tree", metavar="DIR",
                   help="a checkout of the reference instead of `git archive` of it")
    p.add_argument("--runs", type=int, metavar="N",
                   help=f"runs per example and claims file in (d) (default {RUNS}; 5 with --quick)")
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        return memory_child()
    print(f"symbackprop benchmarks: Python {platform.python_version()}, NumPy {np.__version__}, "
          f"SymPy {sp.__version__}, {os.cpu_count()} cores, {platform.machine()}, "
          f"BLAS threads pinned to 1")
    if not args.versus_only:
        memory = measure_memory()
        bench_derivation(args.quick)
        bench_mnist_document()
        bench_numeric(args.quick)
        print_memory(memory)
    bench_versus(args.reference, args.reference_tree, args.runs or (5 if args.quick else RUNS))


if __name__ == "__main__":
    main()
