"""Recurrence (issue #19): backpropagation through time, derived, computed and checked.

Oracles, each independent of symbackprop's derivation and evaluation:
- sympy.diff of the fully expanded loss (the network written out here step by step,
  T = 1 and T = 3) against the float64 gradients and against the derivation's own
  recursion (core.bptt.Unrolled) substituted down to x, y and the parameters;
- central differences of the loss written here in plain NumPy;
- PyTorch nn.RNN in float64 (b_ih = b, b_hh = 0), per-step and last-step outputs,
  full and truncated BPTT (truncation: h_{t−1} detached before each step t that starts
  a window of k steps counted from the end, the definition in core/recurrent.py);
to |ours − ref| ≤ 1e-12 · max(1, max |ref| over the array) (1e-7 for differences).
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch

from symbackprop.api import RecurrentModel, prepare
from symbackprop.core.spec import SpecError, parse_spec

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "symbackprop" / "examples" / "recurrent" / "rnn_tiny.toml")


def spec_text(inputs=2, hidden=2, n_out=1, act="tanh", out="sigmoid", loss="half_sse",
              per_step=True, truncate=None, time="sum", batch="mean", seqs=None, params=None, h0=None):
    lines = [f"inputs = {inputs}", f'loss = "{loss}"', "[network]", f'time = "{time}"',
             f'batch = "{batch}"', "[[layer]]", 'type = "rnn"', f"size = {hidden}",
             f'activation = "{act}"', f"per_step = {'true' if per_step else 'false'}"]
    lines += [f"truncate = {truncate}"] if truncate else []
    lines += ["[[layer]]", f"size = {n_out}", f'activation = "{out}"']
    if seqs is not None:
        lines.append("[values]")
        if h0 is not None:
            lines.append(f"h0 = {list(map(float, h0))}")
        for k, v in (params or {}).items():
            lines.append(f"{k} = {np.asarray(v, float).tolist()}")
        for x, y in seqs:
            lines += ["[[values.samples]]", f"x = {np.asarray(x, float).tolist()}",
                      f"y = {np.asarray(y, float).tolist()}"]
    return "\n".join(lines) + "\n"


def random_case(rng, inputs, hidden, n_out, T, B, per_step, onehot=False):
    params = {"W1": rng.normal(0, 0.7, (hidden, inputs)), "U1": rng.normal(0, 0.5, (hidden, hidden)),
              "b1": rng.normal(0, 0.2, hidden), "W2": rng.normal(0, 0.7, (n_out, hidden)),
              "b2": rng.normal(0, 0.2, n_out)}
    seqs = []
    for _ in range(B):
        x = rng.normal(0, 1, (T, inputs))
        rows = T if per_step else 1
        if onehot:
            y = np.eye(n_out)[rng.integers(0, n_out, rows)]
        else:
            y = rng.uniform(0.1, 0.9, (rows, n_out))
        seqs.append((x, y if per_step else y[0]))
    return params, seqs


def close(ours, ref, tol=1e-12):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    assert ours.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max()))
    assert np.abs(ours - ref).max() <= tol * scale, (ours, ref)


# ---- the oracle loss, written out from the definition -------------------------------
ACT = {"tanh": (sp.tanh, np.tanh, torch.tanh), "identity": (lambda z: z, lambda z: z, lambda z: z),
       "sigmoid": (lambda z: 1 / (1 + sp.exp(-z)), lambda z: 1 / (1 + np.exp(-z)), torch.sigmoid),
       "relu": (lambda z: sp.Max(z, 0), lambda z: np.maximum(z, 0), torch.relu)}


def per_output_loss(loss, a, y, xp):
    if loss == "half_sse":
        return sum((ai - yi) ** 2 for ai, yi in zip(a, y)) / 2
    if loss == "mse":
        return sum((ai - yi) ** 2 for ai, yi in zip(a, y)) / len(a)
    if loss == "cross_entropy":
        return -sum(yi * xp.log(ai) for ai, yi in zip(a, y))
    raise KeyError(loss)


def output_activation(out, o, xp):
    if out == "softmax":
        e = [xp.exp(v) for v in o]
        s = sum(e)
        return [v / s for v in e]
    f = ACT[out][0 if xp is sp else 1]
    return [f(v) for v in o]


def oracle_loss(xp, P, seqs, act, out, loss, per_step, time, batch, h0=None):
    """E of the batch, step by step in plain Python over entries (xp: sympy or numpy)."""
    f = ACT[act][0 if xp is sp else 1]
    H = len(P["b1"])
    total = 0
    for x, y in seqs:
        T = len(x)
        h = list(h0) if h0 is not None else [0] * H
        E = 0
        for t in range(T):
            z = [sum(P["W1"][j][i] * x[t][i] for i in range(len(x[t])))
                 + sum(P["U1"][j][k] * h[k] for k in range(H)) + P["b1"][j] for j in range(H)]
            h = [f(v) for v in z]
            if per_step or t == T - 1:
                o = [sum(P["W2"][k][j] * h[j] for j in range(H)) + P["b2"][k]
                     for k in range(len(P["b2"]))]
                target = y[t] if per_step else y
                E = E + per_output_loss(loss, output_activation(out, o, xp), target, xp)
        total = total + (E / (T if per_step else 1) if time == "mean" else E)
    return total / len(seqs) if batch == "mean" else total


def symbolic_params(P):
    syms, values = {}, {}
    for key, arr in P.items():
        arr = np.asarray(arr)
        if arr.ndim == 1:
            s = [sp.Symbol(f"{key}_{j}", real=True) for j in range(arr.shape[0])]
            values.update(zip(s, arr.tolist()))
        else:
            s = [[sp.Symbol(f"{key}_{j}_{k}", real=True) for k in range(arr.shape[1])]
                 for j in range(arr.shape[0])]
            values.update(zip(sum(s, []), arr.ravel().tolist()))
        syms[key] = s
    return syms, values


SYMPY_CASES = [  # (T, per_step, act, out, loss, time, B)
    (1, True, "tanh", "sigmoid", "half_sse", "sum", 1),
    (3, True, "tanh", "sigmoid", "half_sse", "sum", 2),
    (3, False, "sigmoid", "identity", "mse", "sum", 1),
    (3, True, "tanh", "softmax", "cross_entropy", "mean", 2),
]


@pytest.mark.parametrize("T, per_step, act, out, loss, time, B", SYMPY_CASES)
def test_gradients_equal_sympy_diff_of_the_expanded_loss(T, per_step, act, out, loss, time, B):
    rng = np.random.default_rng(T * 10 + B)
    n_out = 2 if out == "softmax" else 1
    P, seqs = random_case(rng, 2, 2, n_out, T, B, per_step, onehot=out == "softmax")
    h0 = rng.normal(0, 0.3, 2)
    model = prepare(spec_text(2, 2, n_out, act, out, loss, per_step, None, time, "mean",
                              seqs, P, h0))
    assert isinstance(model, RecurrentModel)
    ev = model.evaluate()
    syms, values = symbolic_params(P)
    E = oracle_loss(sp, syms, [(x.tolist(), y.tolist()) for x, y in seqs], act, out, loss,
                    per_step, time, "mean", h0.tolist())
    assert abs(ev.loss - float(E.xreplace(values))) <= 1e-12 * max(1, abs(ev.loss))
    for key, s in syms.items():
        flat = s if not isinstance(s[0], list) else sum(s, [])
        ref = np.array([float(sp.diff(E, v).xreplace(values)) for v in flat])
        close(ev.gradients[key].ravel(), ref)


@pytest.mark.parametrize("T, per_step, out, loss", [(1, True, "sigmoid", "half_sse"),
                                                     (3, True, "sigmoid", "half_sse"),
                                                     (3, False, "identity", "half_sse")])
def test_the_derived_recursion_is_sympy_diff(T, per_step, out, loss):
    """δ_t = (Uᵀ δ_{t+1} + Vᵀ δ^y_t) ⊙ f′ with ∂E/∂W = Σ_t δ_t x_tᵀ, … substituted down to
    x, y, h0 and the parameters equals sympy.diff of the expanded loss, at random points."""
    model = prepare(spec_text(2, 2, 1, "tanh", out, loss, per_step))
    u = model.derivation.unrolled(T)
    grads = u.gradients()
    E = u.loss().xreplace(u.values)
    rng = np.random.default_rng(7 + T)
    free = sorted(E.free_symbols, key=str)
    for _ in range(2):
        point = {s: sp.Float(rng.normal(0, 0.8), 30) for s in free}
        for key, P in u.params.items():
            for idx in np.ndindex(P.shape):
                ours = grads[key][idx].xreplace(point)
                ref = sp.diff(E, P[idx]).xreplace(point)
                assert abs(float(ours - ref)) <= 1e-20, (key, idx)


# ---- central differences of a NumPy loss ---------------------------------------------
@pytest.mark.parametrize("per_step, out, loss, time, batch", [
    (True, "softmax", "cross_entropy", "mean", "sum"), (False, "sigmoid", "half_sse", "sum", "mean")])
def test_gradients_equal_central_differences(per_step, out, loss, time, batch):
    rng = np.random.default_rng(3)
    n_out = 3 if out == "softmax" else 2
    P, seqs = random_case(rng, 3, 4, n_out, 6, 3, per_step, onehot=out == "softmax")
    ev = prepare(spec_text(3, 4, n_out, "tanh", out, loss, per_step, None, time, batch,
                           seqs, P)).evaluate()

    def loss_at(Q):
        return oracle_loss(np, Q, seqs, "tanh", out, loss, per_step, time, batch)

    assert abs(ev.loss - loss_at(P)) <= 1e-12 * max(1, abs(ev.loss))
    eps = 1e-6
    for key, arr in P.items():
        num = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            up, dn = {k: v.copy() for k, v in P.items()}, {k: v.copy() for k, v in P.items()}
            up[key][idx] += eps
            dn[key][idx] -= eps
            num[idx] = (loss_at(up) - loss_at(dn)) / (2 * eps)
        close(ev.gradients[key], num, 1e-7)


# ---- PyTorch nn.RNN, float64 -----------------------------------------------------------
def torch_reference(P, seqs, act, out, loss, per_step, time, batch, truncate=None, h0=None):
    """Loss and gradients by autograd through torch.nn.RNN (one step at a time, so that
    h_{t−1} can be detached before each step that starts a truncation window)."""
    H, n_in = P["W1"].shape
    rnn = torch.nn.RNN(n_in, H, nonlinearity=act, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(P["W1"]))
        rnn.weight_hh_l0.copy_(torch.tensor(P["U1"]))
        rnn.bias_ih_l0.copy_(torch.tensor(P["b1"]))
        rnn.bias_hh_l0.zero_()
    V = torch.tensor(P["W2"], requires_grad=True)
    c = torch.tensor(P["b2"], requires_grad=True)
    X = torch.tensor(np.stack([x for x, _ in seqs], axis=1))          # (T, B, n_in)
    T, B = X.shape[0], X.shape[1]
    h = torch.zeros(1, B, H, dtype=torch.float64) if h0 is None else \
        torch.tensor(np.tile(h0, (1, B, 1)))
    E = torch.zeros(B, dtype=torch.float64)
    for t in range(1, T + 1):
        if truncate is not None and t > 1 and (T - t + 1) % truncate == 0:
            h = h.detach()
        o_t, h = rnn(X[t - 1:t], h)
        if per_step or t == T:
            o = o_t[0] @ V.T + c
            y = torch.tensor(np.stack([y[t - 1] if per_step else y for _, y in seqs]))
            if out == "softmax":
                term = -(y * torch.log_softmax(o, dim=1)).sum(dim=1)
            else:
                a = torch.sigmoid(o) if out == "sigmoid" else o
                term = 0.5 * ((a - y) ** 2).sum(dim=1)
            E = E + term
    if time == "mean":
        E = E / (T if per_step else 1)
    total = E.mean() if batch == "mean" else E.sum()
    total.backward()
    return total.item(), {"W1": rnn.weight_ih_l0.grad.numpy(), "U1": rnn.weight_hh_l0.grad.numpy(),
                          "b1": rnn.bias_ih_l0.grad.numpy(), "W2": V.grad.numpy(),
                          "b2": c.grad.numpy()}


TORCH_CASES = [  # per_step, truncate, act, out, loss, time, batch
    (True, None, "tanh", "sigmoid", "half_sse", "sum", "mean"),
    (False, None, "tanh", "softmax", "cross_entropy", "sum", "sum"),
    (True, 3, "tanh", "softmax", "cross_entropy", "mean", "mean"),
    (False, 2, "relu", "sigmoid", "half_sse", "sum", "mean"),
    (True, 1, "tanh", "identity", "half_sse", "sum", "sum"),
]


@pytest.mark.parametrize("per_step, truncate, act, out, loss, time, batch", TORCH_CASES)
def test_gradients_equal_torch_rnn(per_step, truncate, act, out, loss, time, batch):
    torch.set_num_threads(1)
    rng = np.random.default_rng(11 + (truncate or 0))
    n_out = 3 if out == "softmax" else 2
    P, seqs = random_case(rng, 3, 4, n_out, 8, 4, per_step, onehot=out == "softmax")
    h0 = rng.normal(0, 0.5, 4)
    model = prepare(spec_text(3, 4, n_out, act, out, loss, per_step, truncate, time, batch,
                              seqs, P, h0))
    ev = model.evaluate()
    ref_loss, ref = torch_reference(P, seqs, act, out, loss, per_step, time, batch, truncate, h0)
    assert abs(ev.loss - ref_loss) <= 1e-12 * max(1, abs(ref_loss))
    for key in ref:
        close(ev.gradients[key], ref[key])
    if truncate is not None:        # a truncation that cuts something changes the gradient
        full = torch_reference(P, seqs, act, out, loss, per_step, time, batch, None, h0)[1]
        assert np.abs(full["U1"] - ref["U1"]).max() > 1e-6


def test_generated_module_equals_torch(tmp_path):
    rng = np.random.default_rng(5)
    P, seqs = random_case(rng, 3, 4, 3, 7, 3, True, onehot=True)
    text = spec_text(3, 4, 3, "tanh", "softmax", "cross_entropy", True, 2, "mean", "mean", seqs, P)
    (tmp_path / "s.toml").write_text(text)
    run = subprocess.run([sys.executable, "-m", "symbackprop", "codegen", str(tmp_path / "s.toml"),
                          "-o", str(tmp_path / "rnn_mod.py")], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        import rnn_mod
    finally:
        sys.path.remove(str(tmp_path))
    X = np.stack([x for x, _ in seqs], axis=2).transpose(0, 1, 2)
    X = np.stack([x for x, _ in seqs], axis=-1)                  # (T, inputs, B)
    Y = np.stack([y for _, y in seqs], axis=-1)                  # (T, outputs, B)
    E, grads = rnn_mod.gradients(P, X, Y)
    ref_loss, ref = torch_reference(P, seqs, "tanh", "softmax", "cross_entropy", True, "mean",
                                    "mean", 2)
    assert abs(E - ref_loss) <= 1e-12 * max(1, abs(ref_loss))
    for key in ref:
        close(grads[key], ref[key])


def test_train_is_torch_sgd_step_by_step():
    rng = np.random.default_rng(9)
    P, seqs = random_case(rng, 2, 3, 1, 5, 2, True)
    model = prepare(spec_text(2, 3, 1, "tanh", "sigmoid", "half_sse", True, None, "sum", "mean",
                              seqs, P) .replace("[values]", "[values]\nlearning_rate = 0.3"))
    t = model.train(4)
    Q = {k: v.copy() for k, v in P.items()}
    for step in range(4):
        loss, g = torch_reference(Q, seqs, "tanh", "sigmoid", "half_sse", True, "sum", "mean")
        assert abs(t.loss_history[step] - loss) <= 1e-12
        Q = {k: Q[k] - 0.3 * g[k] for k in Q}
    for key in Q:
        close(t.parameters[key], Q[key])
    assert t.final_loss < t.loss_history[0]


# ---- the commands and the spec's errors ------------------------------------------------
def cli(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "symbackprop", *argv], capture_output=True,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_commands_on_the_example(tmp_path):
    run = cli("eval", TINY, "--json")
    assert run.returncode == 0, run.stderr
    assert '"steps": 3' in run.stdout
    run = cli("train", TINY, "--steps", "20")
    assert run.returncode == 0 and "after 20 steps" in run.stdout, run.stderr
    (tmp_path / "c.txt").write_text("\\frac{\\partial E}{\\partial U} = \\sum_{t=1}^{T} \\delta_t h_{t-1}^T\n")
    run = cli("check", TINY, str(tmp_path / "c.txt"))
    assert run.returncode == 0 and "1 correct" in run.stdout, run.stdout + run.stderr
    run = cli("codegen", TINY, "-o", str(tmp_path / "tiny_grads.py"))
    assert run.returncode == 0, run.stderr


BASE = spec_text(2, 2, 1, per_step=True)
BAD = [
    (BASE + "[values]\nx = [[1, 2], [3]]\ny = [0.1, 0.2]\n", "values.x[1]"),
    (BASE + "[values]\nx = [[1, 2], [3, 4]]\ny = [0.1]\n", "one target row per step"),
    (BASE + "[values]\nx = [1, 2]\ny = [0.1]\n", "one row of 2 numbers per step"),
    (BASE + "[values]\nh0 = [0.0]\nx = [[1, 2]]\ny = [0.1]\n", "values.h0"),
    (BASE + "[values]\nU1 = [[1.0, 2.0]]\n", "values.U1"),
    (BASE.replace("per_step = true", "per_step = true\ntruncate = 0"), "truncate"),
    (BASE.replace("per_step = true", "per_step = 1"), "per_step"),
    (BASE.replace('activation = "sigmoid"', 'activation = "sigmoid"\nper_step = true'),
     "only an rnn layer"),
    ('inputs = 1\nloss = "sse"\n[network]\ntime = "sum"\n[[layer]]\nsize = 1\nactivation = "tanh"\n',
     "network.time"),
    (BASE.replace('time = "sum"', 'time = "avg"'), "network.time"),
    (BASE + "[[values.samples]]\nx = [[1, 2]]\ny = [0.1]\n[[values.samples]]\nx = [[1, 2], [3, 4]]\n"
     "y = [0.1, 0.2]\n", "one length"),
    (spec_text(2, 2, 1, per_step=False) + "[values]\nx = [[1, 2]]\ny = [[0.1]]\n", "per_step is false"),
    ('inputs = 1\nloss = "sse"\n[[layer]]\nsize = 2\nactivation = "tanh"\n[[layer]]\ntype = "rnn"\n'
     'size = 1\n', "rnn layer reading the input"),
]


@pytest.mark.parametrize("text, needle", BAD)
def test_spec_errors_name_the_key(text, needle):
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert needle in str(err.value)


def test_bad_spec_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD[0][0])
    run = cli("eval", str(path))
    assert run.returncode == 2 and "values.x[1]" in run.stderr and "Traceback" not in run.stderr


# ---- the documents -----------------------------------------------------------------------
BATCH_TRUNCATED = (spec_text(3, 5, 3, "tanh", "softmax", "cross_entropy", False, 3, "mean")
                   + "[values]\nh0 = [0.1, 0, 0, 0, -0.1]\n"
                   + "".join(f"[[values.samples]]\nx = {np.eye(3)[[i % 3 for i in range(s, s + 8)]].tolist()}\n"
                             f"y = {np.eye(3)[s].tolist()}\n" for s in (0, 1)))


def documents(text_or_path, formats, tmp_path, init=3):
    from symbackprop.render.recurrent import make_recurrent_documents
    model = prepare(text_or_path)
    params = model.parameters(init)
    return model, params, make_recurrent_documents(model, formats, "doc",
                                                   (params, model.evaluate(params=params)))


def test_markdown_states_the_recursion_and_the_numbers_of_torch(tmp_path):
    from symbackprop.core.formatting import fmt
    model, params, files = documents(Path(TINY), ["md"], tmp_path)
    md = files["doc.md"]
    # the recursion as derived by hand for the tiny network (tanh: f' = 1 − h², T = 3)
    assert (r"\delta_{2,1} = \left(1 - h_{2,1}^{2}\right) \left(U_{11} \delta_{3,1} + U_{21} "
            r"\delta_{3,2} + V_{11} \delta^{y}_{2,1}\right)") in md
    assert r"\delta_t = \left(U^{\top} \delta_{t+1} + V^{\top} \delta^{y}_t\right) \odot f'(z_t)" in md
    assert r"\frac{\partial E}{\partial U} = \sum_{t=1}^{T} \delta_t\, h_{t-1}^{\top}" in md
    assert r"\prod_{s=k+1}^{t} \operatorname{diag}" in md
    X, Y, h0 = model.data()
    seqs = [(X[:, :, 0], Y[:, :, 0])]
    _, ref = torch_reference(params, seqs, "tanh", "sigmoid", "half_sse", True, "sum", "mean")
    for key in ("W1", "U1", "b1", "W2", "b2"):
        for v in np.ravel(ref[key]):
            assert fmt(float(v)) in md, (key, v)
    # the chain rule of U_11 grouped by step sums to torch's gradient
    assert f"= {fmt(float(ref['U1'][0, 0]))}$" in md
    assert "rnn" not in files["doc.svg"] or files["doc.svg"].startswith("<svg")


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="no pdflatex")
@pytest.mark.parametrize("source", ["tiny", "batch"])
def test_pdf_compiles_without_overfull_boxes(source, tmp_path):
    from symbackprop.render.documents import compile_pdf
    from symbackprop.render.recurrent import render_rnn_tex, worked_example
    model = prepare(Path(TINY) if source == "tiny" else BATCH_TRUNCATED)
    params = model.parameters(3)
    w = worked_example(model.derivation, params, model.evaluate(params=params), 0.1)
    tex = render_rnn_tex(model, w)
    log = []
    assert compile_pdf(tex, log).startswith(b"%PDF")
    assert "Overfull" not in log[0]
    if source == "batch":
        assert "(truncated)" in tex and r"\ \text{(sequence 1)}" in tex


def test_derive_writes_every_format(tmp_path):
    run = cli("derive", TINY, "-f", "md,tex,html", "-o", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"rnn_tiny.md", "rnn_tiny.svg", "rnn_tiny.tex",
                                                   "rnn_tiny.html"}
    run = cli("derive", TINY, "--param", "w1", "-o", str(tmp_path))
    assert run.returncode == 2 and "--param" in run.stderr
