"""derive --steps k (issue #20): the first optimiser steps, every state, against oracles.

1. PyTorch (torch==2.13.0, float64) on random 2-3-2 tanh/sigmoid problems, fed the same
   mini-batch indices (drawn here from Generator(PCG64(seed))): after every step the
   parameters, torch's own state tensors (momentum_buffer, square_avg, exp_avg,
   exp_avg_sq), m̂ and v̂ computed here from them, the learning rate and the gradient.
2. The exact route against a loop written here in mpmath at 60 digits (a 2-1 identity
   network, whose gradient is written out by hand), and against float64.
3. The document of the blog's 2-2-2 network: its first Adam step by hand.
Nothing here uses symbackprop's optimiser code for the expected values.
"""
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from symbackprop.api import check, example_path, prepare
from symbackprop.cli import main


def close(actual, ref, what="", tol=1e-12):
    actual, ref = np.asarray(actual, float).ravel(), np.asarray(ref, float).ravel()
    bound = tol * np.maximum(np.abs(ref), np.abs(ref).max())
    assert np.all(np.abs(actual - ref) <= bound), (what, actual, ref)


def spec_text(params, X, Y, optimizer: str) -> str:
    f = lambda v: "[" + ", ".join(f(u) for u in v) + "]" if np.ndim(v) else repr(float(v))  # noqa: E731
    samples = "".join(f"[[values.samples]]\nx = {f(X[:, i])}\ny = {f(Y[:, i])}\n" for i in range(X.shape[1]))
    return (f'name = "opt"\ninputs = 2\nloss = "half_sse"\n[[layer]]\nsize = 3\nactivation = "tanh"\n'
            f'[[layer]]\nsize = 2\nactivation = "sigmoid"\n[optimizer]\n{optimizer}\n'
            f"[values]\n" + "".join(f"{k} = {f(v)}\n" for k, v in params.items()) + samples)


CASES = [  # name, [optimizer] lines, torch constructor keywords, schedule (torch), batch size
    ("sgd", "lr = 0.3", {}, None, None),
    ("momentum", "lr = 0.2\nschedule = {kind = \"cosine\", T_max = 5, eta_min = 0.001}",
     {"momentum": 0.9}, ("cosine", {"T_max": 5, "eta_min": 0.001}), 2),
    ("nesterov", "lr = 0.2\nmomentum = 0.7\nweight_decay = 0.1",
     {"momentum": 0.7, "nesterov": True, "weight_decay": 0.1}, None, None),
    ("rmsprop", "lr = 0.01\nalpha = 0.9\nmomentum = 0.5\nweight_decay = 0.01\ndecay_biases = true",
     {"alpha": 0.9, "momentum": 0.5, "weight_decay": 0.01, "decay_biases": True}, None, 2),
    ("adam", "lr = 0.05\nbeta1 = 0.8\nbeta2 = 0.99\neps = 1e-6\nweight_decay = 0.1",
     {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, None, None),
    ("adamw", "lr = 0.05\nschedule = {kind = \"step\", step_size = 2, gamma = 0.5}",
     {"weight_decay": 0.01}, ("step", {"step_size": 2, "gamma": 0.5}), 2),
]
K, SEED = 4, 7
TORCH_NAMES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "rmsprop": "RMSprop",
               "adam": "Adam", "adamw": "AdamW"}


def batch_indices(n, size, seed, steps):
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    while len(out) < steps:
        perm = rng.permutation(n)
        out += [perm[i:i + size] for i in range(0, n, size)]
    return out[:steps]


def torch_steps(name, kw, params, X, Y, batches, schedule):
    """After each step: (lr used, grads, params, state tensors) from torch itself."""
    kw = dict(kw)
    decay_biases = kw.pop("decay_biases", False)
    wd = kw.pop("weight_decay", 0.01 if name == "adamw" else 0.0)
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    decayed = [k for k in P if k.startswith("W") or decay_biases]
    groups = [{"params": [P[k] for k in decayed], "weight_decay": wd},
              {"params": [P[k] for k in P if k not in decayed], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    lr = float(CASE_LR[name])
    opt = getattr(torch.optim, TORCH_NAMES[name])(groups, lr=lr, **kw)
    sched = None
    if schedule is not None:
        kind, args = schedule
        sched = {"cosine": torch.optim.lr_scheduler.CosineAnnealingLR,
                 "step": torch.optim.lr_scheduler.StepLR}[kind](opt, **args)
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    out = []
    for idx in batches:
        idx = torch.as_tensor(idx)
        opt.zero_grad()
        h = torch.tanh(P["W1"] @ Xt[:, idx] + P["b1"][:, None])
        a = torch.sigmoid(P["W2"] @ h + P["b2"][:, None])
        (0.5 * ((a - Yt[:, idx]) ** 2).sum(0)).mean().backward()
        rate = opt.param_groups[0]["lr"]
        grads = {k: v.grad.detach().clone().numpy() for k, v in P.items()}
        opt.step()
        if sched is not None:
            sched.step()
        state = {k: {s: t.detach().clone().numpy() for s, t in opt.state[v].items()
                     if s != "step"} for k, v in P.items()}
        out.append((rate, grads, {k: v.detach().clone().numpy() for k, v in P.items()}, state))
    return out


CASE_LR = {c[0]: c[1].split("lr = ")[1].split("\n")[0] for c in CASES}


def entries(model, table, key):
    """The values of array ``key`` (W1, b2, …) in one of a Step's symbol tables."""
    layer = model.network.layers[int(key[1:]) - 1]
    syms = list(layer.W) if key[0] == "W" else list(layer.b)
    return np.array([float(table[s]) for s in syms])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_step_and_state_matches_pytorch(case):
    assert torch.__version__.startswith("2.13.0"), "the oracle is torch==2.13.0 exactly"
    torch.set_num_threads(1)
    name, lines, kw, schedule, size = case
    rng = np.random.default_rng(len(name))
    params = {"W1": rng.uniform(-1, 1, (3, 2)), "b1": rng.uniform(-1, 1, 3),
              "W2": rng.uniform(-1, 1, (2, 3)), "b2": rng.uniform(-1, 1, 2)}
    X, Y = rng.uniform(-1, 1, (2, 5)), rng.uniform(0, 1, (2, 5))
    opt = f'name = "{name}"\n{lines}' + (f"\nbatch_size = {size}\nshuffle_seed = {SEED}" if size else "")
    model = prepare(spec_text(params, X, Y, opt))
    batches = batch_indices(5, size, SEED, K) if size else [np.arange(5)] * K
    ref = torch_steps(name, kw, params, X, Y, batches, schedule)
    steps = model.steps(K)
    assert [s.t for s in steps.steps] == list(range(1, K + 1))
    b1, b2 = kw.get("betas", (0.9, 0.999))
    wd = kw.get("weight_decay", 0.01 if name == "adamw" else 0.0)
    for st, (rate, grads, theta, state), idx in zip(steps.steps, ref, batches):
        assert list(st.examples) == [int(i) for i in idx]
        assert abs(st.lr - rate) <= 1e-15 * rate
        for key in theta:
            close(entries(model, st.grad, key), grads[key], f"g of {key}")
            close(entries(model, st.new, key), theta[key], f"θ of {key} at step {st.t}")
            torch_state = state[key]
            if "momentum_buffer" in torch_state and torch_state["momentum_buffer"] is not None:
                close(entries(model, st.state("b" if name == "rmsprop" else "v"), key),
                      torch_state["momentum_buffer"], f"momentum buffer of {key}")
            if "square_avg" in torch_state:
                close(entries(model, st.state("s"), key), torch_state["square_avg"], f"s of {key}")
            if "exp_avg" in torch_state:
                close(entries(model, st.state("m"), key), torch_state["exp_avg"], f"m of {key}")
                close(entries(model, st.state("v"), key), torch_state["exp_avg_sq"], f"v of {key}")
                close(entries(model, st.state("m_hat"), key), torch_state["exp_avg"] / (1 - b1 ** st.t))
                close(entries(model, st.state("v_hat"), key), torch_state["exp_avg_sq"] / (1 - b2 ** st.t))
            if wd and name != "adamw" and (key[0] == "W" or kw.get("decay_biases")):
                close(entries(model, st.decayed_grad, key),
                      grads[key].ravel() + wd * entries(model, st.old, key), f"g + λθ of {key}")


# ---- exact arithmetic against mpmath at 60 digits ---------------------------------------

LIN = """name = "lin"
inputs = 2
loss = "half_sse"
[[layer]]
size = 1
activation = "identity"
[optimizer]
{opt}
[values]
W1 = [[0.5, -0.25]]
b1 = [0.1]
[[values.samples]]
x = [1, 2]
y = [1]
[[values.samples]]
x = [-0.5, 0.25]
y = [0.3]
"""


def mp_steps(name, hp, k):
    """A 2-1 identity network, E = mean of ½(w·x + b − y)²: k steps of PyTorch's update
    rule in mpmath, every state returned (written from the torch.optim documentation)."""
    mpmath.mp.dps = 60
    M = mpmath.mpf
    data = [((M(1), M(2)), M(1)), ((M("-0.5"), M("0.25")), M("0.3"))]
    theta = [M("0.5"), M("-0.25"), M("0.1")]
    lr, mu = M(hp.get("lr", "0.1")), M(hp.get("momentum", 0))
    state = {key: [M(0)] * 3 for key in ("v", "s", "b", "m")}
    out = []
    for t in range(1, k + 1):
        g = [M(0)] * 3
        for (x1, x2), y in data:
            e = theta[0] * x1 + theta[1] * x2 + theta[2] - y
            g = [g[0] + e * x1 / 2, g[1] + e * x2 / 2, g[2] + e / 2]
        new, row = [], {}
        for i in range(3):
            gi = g[i] + (M(hp["weight_decay"]) * theta[i] if i < 2 and "weight_decay" in hp else 0)
            if name == "momentum":
                state["v"][i] = gi if t == 1 else mu * state["v"][i] + gi
                new.append(theta[i] - lr * state["v"][i])
            elif name == "rmsprop":
                a = M(hp["alpha"])
                state["s"][i] = a * state["s"][i] + (1 - a) * gi ** 2
                new.append(theta[i] - lr * gi / (mpmath.sqrt(state["s"][i]) + M("1e-8")))
            else:
                b1, b2 = M("0.9"), M("0.999")
                state["m"][i] = b1 * state["m"][i] + (1 - b1) * gi
                state["v"][i] = b2 * state["v"][i] + (1 - b2) * gi ** 2
                mh, vh = state["m"][i] / (1 - b1 ** t), state["v"][i] / (1 - b2 ** t)
                row.setdefault("m_hat", []).append(mh)
                row.setdefault("v_hat", []).append(vh)
                new.append(theta[i] - lr * mh / (mpmath.sqrt(vh) + M("1e-8")))
        row.update({key: list(v) for key, v in state.items()})
        out.append((g, row, new))
        theta = new
    return out


EXACT_CASES = [("momentum", 'name = "momentum"\nlr = 0.1\nmomentum = 0.9\nweight_decay = 0.05',
                {"momentum": "0.9", "weight_decay": "0.05"}, ("v",), False, 3),
               ("rmsprop", 'name = "rmsprop"\nlr = 0.1\nalpha = 0.9', {"alpha": "0.9"}, ("s",), True, 2),
               ("adam", 'name = "adam"\nlr = 0.1', {}, ("m", "v", "m_hat", "v_hat"), True, 3)]


@pytest.mark.parametrize("case", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_exact_steps_match_a_60_digit_loop(case):
    name, opt, hp, keys, irrational, n_exact = case
    model = prepare(LIN.format(opt=opt))
    exact, floats = model.steps(3, exact=True), model.steps(3)
    ref = mp_steps(name, hp, 3)
    net = model.network.layers[0]
    syms = [net.W[0, 0], net.W[0, 1], net.b[0]]
    mpmath.mp.dps = 60
    for st, fl, (g, row, new) in zip(exact.steps, floats.steps, ref):
        for i, s in enumerate(syms):
            for value, want in [(st.grad[s], g[i]), (st.new[s], new[i])] + \
                    [(st.state(key)[s], row[key][i]) for key in keys]:
                # exact while the numbers stay small, then 50 digits (RMSProp's third step)
                assert bool(value.atoms(sp.Float)) == (st.t > n_exact), (st.t, s, value)
                got = mpmath.mpf(sp.N(value, 60))
                assert abs(got - want) <= mpmath.mpf("1e-45") * max(1, abs(want)), (st.t, s, value, want)
            close(float(st.new[s]), fl.new[s], "float64 against exact")
    assert (exact.approximate == 0) == (n_exact == 3)
    # momentum stays rational; a square root of a sum of squares is an algebraic number
    assert (exact.algebraic > 0) == irrational
    assert all(v.is_Rational for st in exact.steps for v in st.new.values()) == (not irrational)


def test_exact_steps_through_a_sigmoid_are_50_digit_values(tmp_path):
    model = prepare(example_path("mazur_adam"))
    exact, floats = model.steps(2, exact=True), model.steps(2)
    assert exact.approximate > 0 and exact.algebraic == 0
    for st, fl in zip(exact.steps, floats.steps):
        for s in st.new:
            assert st.new[s].atoms(sp.Float)
            close(float(st.new[s]), fl.new[s], "50 digits against float64")
            close(float(st.state("v_hat")[s]), fl.state("v_hat")[s])
    assert main(["derive", str(example_path("mazur_adam")), "--steps", "2", "--exact",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "mazur_adam.md").read_text()
    assert "are 50-digit evaluations (marked $\\approx$" in md and "\\approx 0.14000022800975092786" in md


# ---- the document --------------------------------------------------------------------

def test_mazur_adam_document_shows_every_state_of_three_steps(tmp_path):
    assert main(["derive", str(example_path("mazur_adam")), "--steps", "3", "-f", "md,tex",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "mazur_adam.md").read_text()
    tex = (tmp_path / "mazur_adam.tex").read_text()
    # the blog's ∂E/∂w1 = 0.000438568: m₁ = 0.1 g, v₁ = 0.001 g², m̂₁ = g, v̂₁ = g² = 1.92342e-7
    g = 0.000438568
    assert f"{0.1 * g:.6g}".replace("e-05", " \\times 10^{-5}") in md
    assert "1.92342 \\times 10^{-7}" in md and "0.9 \\cdot 0 + 0.1 \\cdot 0.000438568" in md
    assert md.count("| parameter | $\\theta_{") == 3 and "$\\hat m_{3}$" in md
    assert "torch.optim.Adam" in md and "\\hat v_t = \\frac{v_t}{1 - \\beta_2^t}" in md
    assert "\\section{The first 3 optimiser steps}" in tex and tex.count("\\paragraph{Step") == 3


def test_momentum_document_names_the_textbook_form_and_decay(tmp_path):
    spec = tmp_path / "m.toml"
    spec.write_text(LIN.format(opt='name = "momentum"\nlr = 0.1\nweight_decay = 0.05'))
    assert main(["derive", str(spec), "--steps", "2", "-o", str(tmp_path)]) == 0
    md = (tmp_path / "lin.md").read_text()
    assert "v_t = \\mu \\, v_{t-1} - \\eta \\, g_t" in md and "\\theta_t = \\theta_{t-1} + v_t" in md
    assert "L2 penalty" in md and "$g + \\lambda\\theta$" in md


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "expected 1 to 20"),
    (["--steps", "21"], "expected 1 to 20"),
])
def test_bad_steps_exit_2(args, message, tmp_path, capsys):
    assert main(["derive", str(example_path("mazur_adam")), *args, "-o", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_steps_need_a_worked_example(tmp_path, capsys):
    spec = tmp_path / "n.toml"
    spec.write_text('inputs = 1\nloss = "half_sse"\n[[layer]]\nsize = 1\nactivation = "identity"\n')
    assert main(["derive", str(spec), "--steps", "2", "-o", str(tmp_path / "o")]) == 2
    assert "needs a worked example" in capsys.readouterr().err


def test_check_calls_no_line_of_the_steps_section_wrong(tmp_path):
    """The section's own lines, read back by check: none judged incorrect (a step's batch
    loss written as 'E = …' was read as the loss at the spec's values)."""
    assert main(["derive", str(example_path("mazur_adam")), "--steps", "2", "-o", str(tmp_path)]) == 0
    md = (tmp_path / "mazur_adam.md").read_text()
    section = md[md.index("optimiser steps"):]
    verdicts = check(prepare(example_path("mazur_adam")), section, kind="markup", isolate=False)
    assert verdicts and not [v for v in verdicts if v.verdict == "incorrect"]
    assert any(v.verdict == "correct" for v in verdicts)      # the general formulas
