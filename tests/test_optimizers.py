"""Optimisers (issue #20) against independent oracles.

1. A float64 reference of every optimiser transcribed in this file from the algorithm
   boxes of the torch.optim documentation (SGD, RMSprop, Adam, AdamW), with gradients
   from autograd of a loss written here in autograd.numpy: step for step on random
   problems, with mini-batches, schedules, weight decay and [regularization].
2. PyTorch itself (torch==2.13.0+cpu, float64), fed the same mini-batch indices, when it
   is installed; skipped otherwise.
3. The blog's 2-2-2 network (example ``mazur_adam``): Adam's first step by hand from the
   blog's published gradients, and the three steps against the reference.
Nothing here imports symbackprop's optimiser code; symbackprop is run through ``train``.
"""
import json
import math

import autograd.numpy as anp
import numpy as np
import pytest
import torch
from autograd import grad

from symbackprop.api import example_path, prepare
from symbackprop.cli import main
from symbackprop.numeric.train import train

ACTS = {"tanh": anp.tanh, "sigmoid": lambda z: 1 / (1 + anp.exp(-z))}


def close(actual, ref, what=""):
    """|Δ| ≤ 1e-12 · max(|ref|, max |ref|), elementwise."""
    actual, ref = np.asarray(actual, float), np.asarray(ref, float)
    bound = 1e-12 * np.maximum(np.abs(ref), np.abs(ref).max())
    assert np.all(np.abs(actual - ref) <= bound), (what, actual, ref)


# ---- the problem: a loss in autograd.numpy, its gradient by autograd ----------------

def data_loss(params, X, Y, acts):
    a = X
    for l, act in enumerate(acts, start=1):
        a = ACTS[act](anp.dot(params[f"W{l}"], a) + params[f"b{l}"][:, None])
    return anp.mean(0.5 * anp.sum((a - Y) ** 2, axis=0))       # half_sse, batch mean


def objective(params, X, Y, acts, l2=0.0, l1=0.0):
    weights = [v for k, v in params.items() if k.startswith("W")]
    return (data_loss(params, X, Y, acts) + sum(l2 / 2 * anp.sum(w * w) for w in weights)
            + sum(l1 * anp.sum(anp.abs(w)) for w in weights))


gradient = grad(objective)


# ---- the reference optimisers, from the torch.optim documentation's pseudo-code --------

def reference(name, params, X, Y, acts, steps, lr, hp, batches, schedule=None, l2=0.0, l1=0.0,
              tied=(), frozen=()):
    """(loss after each step, final params, state) of ``steps`` steps; ``hp`` the
    hyper-parameters, ``batches`` the index array of each step; ``tied``: arrays whose
    entries are one parameter (its gradient the sum), ``frozen``: (array, index) kept."""
    theta = {k: np.array(v, float) for k, v in params.items()}
    state = {k: {} for k in theta}
    history = [objective(theta, X, Y, acts, l2, l1)]
    for t in range(1, steps + 1):
        gamma = lr if schedule is None else schedule(lr, t - 1)
        idx = batches[t - 1]
        g_all = gradient(theta, X[:, idx], Y[:, idx], acts, l2, l1)
        for k in tied:
            g_all[k] = np.full_like(g_all[k], g_all[k].sum())
        kept = {(k, i): theta[k][i] for k, i in frozen}
        for k in theta:
            lam = hp.get("weight_decay", 0.0) if (k.startswith("W") or hp.get("decay_biases")) else 0.0
            theta[k] = UPDATES[name](theta[k], g_all[k], state[k], t, gamma, lam, hp)
        for (k, i), v in kept.items():
            theta[k][i] = v
        history.append(objective(theta, X, Y, acts, l2, l1))
    return history, theta, state


def sgd(theta, g, s, t, gamma, lam, hp):
    mu, nesterov = hp.get("momentum", 0.0), hp.get("nesterov", False)
    if lam != 0:
        g = g + lam * theta
    if mu != 0:
        s["b"] = mu * s["b"] + g if t > 1 else g           # b_t ← μ b_{t−1} + (1 − τ) g_t, τ = 0
        g = g + mu * s["b"] if nesterov else s["b"]
    return theta - gamma * g


def rmsprop(theta, g, s, t, gamma, lam, hp):
    alpha, eps, mu = hp["alpha"], hp["eps"], hp.get("momentum", 0.0)
    if lam != 0:
        g = g + lam * theta
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g ** 2
    if mu > 0:
        s["b"] = mu * s.get("b", 0.0) + g / (np.sqrt(s["v"]) + eps)
        return theta - gamma * s["b"]
    return theta - gamma * g / (np.sqrt(s["v"]) + eps)


def adam(theta, g, s, t, gamma, lam, hp, decoupled=False):
    b1, b2, eps = hp["beta1"], hp["beta2"], hp["eps"]
    if decoupled:
        theta = theta - gamma * lam * theta                  # AdamW: θ_t ← θ_{t−1} − γλθ_{t−1}
    elif lam != 0:
        g = g + lam * theta
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g ** 2
    m_hat = s["m"] / (1 - b1 ** t)
    v_hat = s["v"] / (1 - b2 ** t)
    return theta - gamma * m_hat / (np.sqrt(v_hat) + eps)


UPDATES = {"sgd": sgd, "momentum": sgd, "nesterov": lambda *a: sgd(*a[:-1], {**a[-1], "nesterov": True}),
           "rmsprop": rmsprop, "adam": adam,
           "adamw": lambda *a: adam(*a, decoupled=True)}

SCHEDULES = {   # lr_scheduler.StepLR, ExponentialLR, CosineAnnealingLR after n scheduler steps
    "step": lambda eta, n: eta * 0.5 ** (n // 2),
    "exponential": lambda eta, n: eta * 0.8 ** n,
    "cosine": lambda eta, n: 0.001 + (eta - 0.001) * (1 + math.cos(math.pi * n / 5)) / 2,
}
SCHEDULE_TOML = {"step": '{kind = "step", step_size = 2, gamma = 0.5}',
                 "exponential": '{kind = "exponential", gamma = 0.8}',
                 "cosine": '{kind = "cosine", T_max = 5, eta_min = 0.001}'}


def batch_indices(n, size, seed, steps):
    """One permutation an epoch from Generator(PCG64(seed)), cut into batches of ``size``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    while len(out) < steps:
        perm = rng.permutation(n)
        out += [perm[i:i + size] for i in range(0, n, size)]
    return out[:steps]


def random_problem(seed, n=5):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.uniform(-1, 1, (3, 2)), "b1": rng.uniform(-1, 1, 3),
              "W2": rng.uniform(-1, 1, (2, 3)), "b2": rng.uniform(-1, 1, 2)}
    X = rng.uniform(-1, 1, (2, n))
    Y = rng.uniform(0, 1, (2, n))
    return params, X, Y


def spec_text(params, X, Y, optimizer: str, regularization: str = "") -> str:
    f = lambda v: "[" + ", ".join(f(u) for u in v) + "]" if np.ndim(v) else repr(float(v))  # noqa: E731
    samples = "".join(f"[[values.samples]]\nx = {f(X[:, i])}\ny = {f(Y[:, i])}\n" for i in range(X.shape[1]))
    return (f'name = "opt"\ninputs = 2\nloss = "half_sse"\n[[layer]]\nsize = 3\nactivation = "tanh"\n'
            f'[[layer]]\nsize = 2\nactivation = "sigmoid"\n[optimizer]\n{optimizer}\n{regularization}\n'
            f"[values]\n" + "".join(f"{k} = {f(v)}\n" for k, v in params.items()) + samples)


CASES = [  # name, [optimizer] lines, hyper-parameters of the reference, schedule, l2, l1
    ("sgd", 'lr = 0.3', {}, None, 0.0, 0.0),
    ("sgd", 'lr = 0.3\nmomentum = 0.5\nweight_decay = 0.1', {"momentum": 0.5, "weight_decay": 0.1},
     "step", 0.0, 0.0),
    ("momentum", 'lr = 0.2', {"momentum": 0.9}, "cosine", 0.05, 0.0),
    ("nesterov", 'lr = 0.2\nmomentum = 0.7', {"momentum": 0.7}, None, 0.0, 0.02),
    ("rmsprop", 'lr = 0.01', {"alpha": 0.99, "eps": 1e-8}, "exponential", 0.0, 0.0),
    ("rmsprop", 'lr = 0.01\nalpha = 0.9\nmomentum = 0.5\nweight_decay = 0.01\ndecay_biases = true',
     {"alpha": 0.9, "eps": 1e-8, "momentum": 0.5, "weight_decay": 0.01, "decay_biases": True},
     None, 0.0, 0.0),
    ("adam", 'lr = 0.05', {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, None, 0.0, 0.0),
    ("adam", 'lr = 0.05\nbeta1 = 0.8\nbeta2 = 0.99\neps = 1e-6\nweight_decay = 0.1',
     {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1}, "cosine", 0.0, 0.0),
    ("adamw", 'lr = 0.05', {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
     "step", 0.0, 0.0),
    ("adamw", 'lr = 0.05\nweight_decay = 0.5\ndecay_biases = true',
     {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.5, "decay_biases": True},
     None, 0.01, 0.0),
]
STEPS, BATCH, SEED = 7, 2, 11


def run_case(i, case, mini_batches):
    name, lines, hp, schedule, l2, l1 = case
    params, X, Y = random_problem(100 + i)
    opt = f'name = "{name}"\n{lines}'
    if schedule:
        opt += f"\nschedule = {SCHEDULE_TOML[schedule]}"
    if mini_batches:
        opt += f"\nbatch_size = {BATCH}\nshuffle_seed = {SEED}"
    reg = "[regularization]\n" + (f"l2 = {l2}\n" if l2 else "") + (f"l1 = {l1}\n" if l1 else "") \
        if l2 or l1 else ""
    model = prepare(spec_text(params, X, Y, opt, reg))
    batches = batch_indices(5, BATCH, SEED, STEPS) if mini_batches else [np.arange(5)] * STEPS
    lr = float(lines.split("lr = ")[1].split("\n")[0])
    ref = reference(name, params, X, Y, ["tanh", "sigmoid"], STEPS, lr, hp, batches,
                    SCHEDULES.get(schedule), l2, l1)
    return train(model, steps=STEPS), ref, (params, X, Y, batches)


@pytest.mark.parametrize("mini_batches", [False, True])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_every_optimiser_matches_the_documented_algorithm(i, mini_batches):
    t, (history, theta, state), _ = run_case(i, CASES[i], mini_batches)
    close(t.loss_history, history, "loss after each step")
    for k in theta:
        close(t.parameters[k], theta[k], k)
    kinds = {"m": "exp_avg", "v": "exp_avg_sq" if CASES[i][0].startswith("adam") else "square_avg",
             "b": "momentum_buffer"}
    for k, s in state.items():
        for short, arr in s.items():
            close(t.state.buffers[kinds[short]][k], arr, f"{kinds[short]} of {k}")
    assert t.state.t == STEPS


def test_a_wrong_reference_is_caught():
    """The comparison can fail: Adam without bias correction is not Adam."""
    t, (history, _, _), (params, X, Y, batches) = run_case(6, CASES[6], False)
    wrong = dict(UPDATES)
    UPDATES["adam"] = lambda th, g, s, tt, gm, lam, hp: adam(th, g, s, 1, gm, lam, hp)  # t stuck at 1
    try:
        bad, _, _ = reference("adam", params, X, Y, ["tanh", "sigmoid"], STEPS, 0.05, CASES[6][2], batches)
    finally:
        UPDATES.update(wrong)
    with pytest.raises(AssertionError):
        close(t.loss_history, bad)


# ---- PyTorch itself ------------------------------------------------------------------

def torch_run(torch, name, params, X, Y, hp, lr, batches, schedule, l2, l1):
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    wd = hp.get("weight_decay", 0.0)
    decayed = [P[k] for k in P if k.startswith("W") or hp.get("decay_biases")]
    rest = [P[k] for k in P if not (k.startswith("W") or hp.get("decay_biases"))]
    groups = [{"params": decayed, "weight_decay": wd}] + ([{"params": rest, "weight_decay": 0.0}] if rest else [])
    o = torch.optim
    make = {"sgd": lambda: o.SGD(groups, lr=lr, momentum=hp.get("momentum", 0.0)),
            "momentum": lambda: o.SGD(groups, lr=lr, momentum=hp["momentum"]),
            "nesterov": lambda: o.SGD(groups, lr=lr, momentum=hp["momentum"], nesterov=True),
            "rmsprop": lambda: o.RMSprop(groups, lr=lr, alpha=hp["alpha"], eps=hp["eps"],
                                         momentum=hp.get("momentum", 0.0)),
            "adam": lambda: o.Adam(groups, lr=lr, betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"]),
            "adamw": lambda: o.AdamW(groups, lr=lr, betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"])}
    opt = make[name]()
    sched = {"step": lambda: o.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
             "exponential": lambda: o.lr_scheduler.ExponentialLR(opt, gamma=0.8),
             "cosine": lambda: o.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.001),
             None: lambda: None}[schedule]()
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)

    def loss_of(idx):
        a = Xt[:, idx]
        for l, act in ((1, torch.tanh), (2, torch.sigmoid)):
            a = act(P[f"W{l}"] @ a + P[f"b{l}"][:, None])
        data = (0.5 * ((a - Yt[:, idx]) ** 2).sum(0)).mean()
        weights = [P["W1"], P["W2"]]
        return data + sum(l2 / 2 * (w * w).sum() + l1 * w.abs().sum() for w in weights)

    everything = torch.arange(X.shape[1])
    history = [loss_of(everything).item()]
    for idx in batches:
        opt.zero_grad()
        loss_of(torch.as_tensor(idx)).backward()
        opt.step()
        if sched is not None:
            sched.step()
        with torch.no_grad():
            history.append(loss_of(everything).item())
    return history, {k: v.detach().numpy() for k, v in P.items()}


@pytest.mark.parametrize("i", range(len(CASES)))
def test_pytorch_reproduces_every_step(i):
    assert torch.__version__.startswith("2.13.0"), "the oracle is torch==2.13.0 exactly"
    torch.set_num_threads(1)
    name, lines, hp, schedule, l2, l1 = CASES[i]
    t, _, (params, X, Y, batches) = run_case(i, CASES[i], True)
    lr = float(lines.split("lr = ")[1].split("\n")[0])
    history, theta = torch_run(torch, name, params, X, Y, hp, lr, batches, schedule, l2, l1)
    close(t.loss_history, history, "loss after each step")
    for k in theta:
        close(t.parameters[k], theta[k], k)


# ---- the blog's 2-2-2 network, three Adam steps -----------------------------------------

# the blog's gradients at the start (E_total = 0.298371109), to its nine decimals; w8's
# from its updated w8⁺ = 0.561370121 = 0.55 − 0.5 ∂E/∂w8
BLOG_GRADIENTS = {"w1": 0.000438568, "w2": 0.000877135, "w3": 0.000497713, "w4": 0.000995425,
                  "w5": 0.082167041, "w6": 0.082667628, "w7": -0.022602540, "w8": -0.022740242}
BLOG_START = {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
              "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55}
BLOG_ARRAYS = {"W1": [[0.15, 0.20], [0.25, 0.30]], "b1": [0.35, 0.35],
               "W2": [[0.40, 0.45], [0.50, 0.55]], "b2": [0.60, 0.60]}
PLACE = {"w1": ("W1", 0, 0), "w2": ("W1", 0, 1), "w3": ("W1", 1, 0), "w4": ("W1", 1, 1),
         "w5": ("W2", 0, 0), "w6": ("W2", 0, 1), "w7": ("W2", 1, 0), "w8": ("W2", 1, 1)}


def test_mazur_adam_first_step_by_hand(capsys):
    assert main(["train", str(example_path("mazur_adam")), "--steps", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["loss_history"][0] - 0.298371109) < 5e-10
    state = out["optimizer_state"]
    assert state["name"] == "adam" and state["step"] == 1
    for w, g in BLOG_GRADIENTS.items():
        key, i, j = PLACE[w]
        # m_1 = 0.1 g, v_1 = 0.001 g², m̂ = g, v̂ = g²: θ_1 = θ_0 − η g / (|g| + ε), η = 0.01
        assert abs(state["buffers"]["exp_avg"][key][i][j] - 0.1 * g) < 1e-10
        assert abs(state["buffers"]["exp_avg_sq"][key][i][j] - 0.001 * g * g) < 1e-12
        assert abs(out["parameters"][key][i][j] - (BLOG_START[w] - 0.01 * g / (abs(g) + 1e-8))) < 1e-11
    # w1: 0.15 − 0.01 · 0.000438568 / 0.000438578 = 0.140000228 (worked by hand)
    assert abs(out["parameters"]["W1"][0][0] - 0.140000228) < 1e-9


def test_mazur_adam_three_steps_match_the_reference():
    t = train(prepare(example_path("mazur_adam")))          # steps = 3 from [optimizer]
    X, Y = np.array([[0.05], [0.10]]), np.array([[0.01], [0.99]])
    hp = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    history, theta, state = reference("adam", BLOG_ARRAYS, X, Y, ["sigmoid", "sigmoid"], 3, 0.01, hp,
                                      [np.arange(1)] * 3)
    assert len(t.loss_history) == 4 and t.loss_history[-1] < t.loss_history[0]
    close(t.loss_history, history)
    for k in theta:
        close(t.parameters[k], theta[k], k)
        close(t.state.buffers["exp_avg"][k], state[k]["m"])
        close(t.state.buffers["exp_avg_sq"][k], state[k]["v"])


def test_mazur_adam_under_pytorch():
    assert torch.__version__.startswith("2.13.0"), "the oracle is torch==2.13.0 exactly"
    t = train(prepare(example_path("mazur_adam")))
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in BLOG_ARRAYS.items()}
    opt = torch.optim.Adam(list(P.values()), lr=0.01)
    x = torch.tensor([[0.05], [0.10]], dtype=torch.float64)
    y = torch.tensor([[0.01], [0.99]], dtype=torch.float64)

    def loss():
        h = torch.sigmoid(P["W1"] @ x + P["b1"][:, None])
        return 0.5 * ((torch.sigmoid(P["W2"] @ h + P["b2"][:, None]) - y) ** 2).sum()

    history = [loss().item()]
    for _ in range(3):
        opt.zero_grad()
        loss().backward()
        opt.step()
        history.append(loss().item())
    close(t.loss_history, history)
    for k, v in P.items():
        close(t.parameters[k], v.detach().numpy(), k)
        close(t.state.buffers["exp_avg"][k], opt.state[v]["exp_avg"].numpy())
        close(t.state.buffers["exp_avg_sq"][k], opt.state[v]["exp_avg_sq"].numpy())


# ---- precedence, penalty in eval, errors ------------------------------------------------

def test_learning_rate_precedence(tmp_path):
    params, X, Y = random_problem(1)
    base = spec_text(params, X, Y, 'name = "sgd"')
    with_values = base.replace("[values]\n", "[values]\nlearning_rate = 0.2\n")
    with_opt = with_values.replace('name = "sgd"', 'name = "sgd"\nlr = 0.3')
    assert train(prepare(base), steps=1).learning_rate == 0.001          # torch's SGD default
    assert train(prepare(with_values), steps=1).learning_rate == 0.2
    assert train(prepare(with_opt), steps=1).learning_rate == 0.3
    assert train(prepare(with_opt), steps=1, lr=0.4).learning_rate == 0.4
    assert train(prepare(base.replace("sgd", "rmsprop")), steps=1).learning_rate == 0.01


def test_eval_json_reports_the_penalty(tmp_path, capsys):
    params, X, Y = random_problem(2)
    spec = tmp_path / "reg.toml"
    spec.write_text(spec_text(params, X, Y, 'name = "sgd"', "[regularization]\nl2 = 0.3\nl1 = 0.2\n"))
    assert main(["eval", str(spec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    w = np.concatenate([params["W1"].ravel(), params["W2"].ravel()])
    pen = 0.15 * np.sum(w * w) + 0.2 * np.sum(np.abs(w))
    data = data_loss(params, X, Y, ["tanh", "sigmoid"])
    close(out["penalty"], pen)
    close(out["data_loss"], data)
    close(out["loss"], data + pen)
    g = gradient(params, X, Y, ["tanh", "sigmoid"], 0.3, 0.2)
    for k in params:
        close(out["gradients"][k], g[k], k)


def test_l1_gradient_at_zero_is_zero(capsys, tmp_path):
    params, X, Y = random_problem(3)
    params["W1"][0, 0] = 0.0
    spec = tmp_path / "zero.toml"
    spec.write_text(spec_text(params, X, Y, 'name = "sgd"', "[regularization]\nl1 = 0.5\n"))
    assert main(["eval", str(spec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    data_only = grad(data_loss)(params, X, Y, ["tanh", "sigmoid"])
    close(out["gradients"]["W1"][0][0], data_only["W1"][0, 0])       # sign(0) = 0
    close(out["gradients"]["W1"][0][1], data_only["W1"][0, 1] + 0.5 * np.sign(params["W1"][0, 1]))


@pytest.mark.parametrize("extra, message", [
    ('[optimiser]\nname = "adam"\n', "Did you mean 'optimizer'?"),
    ('[optimizer]\nname = "adma"\n', "key `optimizer.name`: expected one of sgd, momentum"),
    ('[optimizer]\nname = "sgd"\nbeta1 = 0.9\n', "key `optimizer.beta1`: optimizer 'sgd' takes no key"),
    ('[optimizer]\nname = "adam"\nbeta2 = 1\n', "key `optimizer.beta2`: expected a number in [0, 1), got 1"),
    ('[optimizer]\nname = "adam"\nschedule = {kind = "cosine"}\n', "optimizer.schedule.T_max`: missing"),
    ('[optimizer]\nname = "adam"\nepochs = 2\nsteps = 3\n', "give epochs or steps, not both"),
    ('[optimizer]\nname = "adam"\nbatch_size = 0\n', "optimizer.batch_size`: expected a positive integer"),
    ('[regularization]\nl2 = -1\n', "key `regularization.l2`: expected a number in [0, ∞), got -1"),
])
def test_bad_optimizer_tables_exit_2(extra, message, tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text(example_path("tanh_net").read_text() + "\n" + extra)
    assert main(["train", str(spec), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and str(spec) in err and "Traceback" not in err


def test_epochs_count_the_mini_batches(tmp_path, capsys):
    params, X, Y = random_problem(4)
    spec = tmp_path / "ep.toml"
    spec.write_text(spec_text(params, X, Y, 'name = "sgd"\nlr = 0.1\nepochs = 3\nbatch_size = 2\n'
                              "shuffle_seed = 5"))
    assert main(["train", str(spec), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["loss_history"]) == 3 * 3 + 1 and out["optimizer_state"]["step"] == 9
    assert main(["train", str(example_path("tanh_net"))]) == 2
    assert "give --steps N" in capsys.readouterr().err


def test_eval_reports_the_optimisers_first_step(capsys):
    assert main(["eval", "mazur_adam", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for w, g in BLOG_GRADIENTS.items():        # θ_1 = θ_0 − η g / (|g| + ε), as by hand above
        assert abs(out["by_name"][w]["updated"] - (BLOG_START[w] - 0.01 * g / (abs(g) + 1e-8))) < 1e-11
    assert abs(out["by_name"]["w1"]["updated"] - 0.140000228) < 1e-9


def test_ties_and_frozen_under_an_optimiser():
    """The blog's shared biases (b1 in both places, b2 in both) tied, w5 frozen, Adam with
    weight decay: tied places keep one value, frozen ones never move, the rest is the
    reference with the tied gradient summed."""
    source = example_path("mazur_adam").read_text()
    source = source.replace("W2 = [[\"w5\"", 'b1 = ["b1", "b1"]\nb2 = ["b2", "b2"]\nW2 = [["w5"')
    source = source.replace("b1 = [0.35, 0.35]\nb2 = [0.60, 0.60]", 'b1 = 0.35\nb2 = 0.60\nfrozen = ["w5"]')
    source = source.replace("steps = 3", "steps = 4\nweight_decay = 0.1\ndecay_biases = true")
    t = train(prepare(source))
    X, Y = np.array([[0.05], [0.10]]), np.array([[0.01], [0.99]])
    hp = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1, "decay_biases": True}
    history, theta, _ = reference("adam", BLOG_ARRAYS, X, Y, ["sigmoid", "sigmoid"], 4, 0.01, hp,
                                  [np.arange(1)] * 4, tied=("b1", "b2"), frozen=[("W2", (0, 0))])
    assert t.parameters["W2"][0, 0] == 0.40 and t.parameters["b1"][0] == t.parameters["b1"][1] != 0.35
    close(t.loss_history, history)
    for k in theta:
        close(t.parameters[k], theta[k], k)


def test_compare_runs_each_optimiser_with_its_table_or_defaults(tmp_path, capsys):
    params, X, Y = random_problem(5)
    spec = tmp_path / "cmp.toml"
    spec.write_text(spec_text(params, X, Y, 'name = "sgd"\nlr = 0.3\nsteps = 5\nbatch_size = 2\n'
                              'shuffle_seed = 3\n[optimizer.adam]\nlr = 0.02\nbeta1 = 0.8'))
    plot = tmp_path / "cmp.svg"
    assert main(["train", str(spec), "--compare", "sgd,adam,rmsprop", "--json", "--plot", str(plot)]) == 0
    runs = json.loads(capsys.readouterr().out)["compare"]
    assert list(runs) == ["sgd", "adam", "rmsprop"] and plot.read_bytes().startswith(b"<?xml")
    batches = batch_indices(5, 2, 3, 5)
    acts = ["tanh", "sigmoid"]
    expected = {   # the [optimizer] table, [optimizer.adam], rmsprop's torch defaults
        "sgd": reference("sgd", params, X, Y, acts, 5, 0.3, {}, batches),
        "adam": reference("adam", params, X, Y, acts, 5, 0.02, {"beta1": 0.8, "beta2": 0.999, "eps": 1e-8},
                          batches),
        "rmsprop": reference("rmsprop", params, X, Y, acts, 5, 0.01, {"alpha": 0.99, "eps": 1e-8}, batches)}
    for name, (history, theta, _) in expected.items():
        close(runs[name]["loss_history"], history, name)
        for k in theta:
            close(runs[name]["parameters"][k], theta[k], f"{name} {k}")
    with pytest.raises(SystemExit) as stop:          # argparse: usage, the message, status 2
        main(["train", str(spec), "--compare", "sgd,sgd"])
    assert stop.value.code == 2 and "named twice" in capsys.readouterr().err
