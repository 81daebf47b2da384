"""Networks as graphs of layers (issue #17): named layers, ``from``, add and flatten.

Oracles, each independent of symbackprop's derivation:
- sympy.diff of the fully expanded loss of tiny residual networks (a skip over one
  and over two layers, with and without an activation after the add), the forward
  pass written here from the layer list;
- central differences of that loss written in plain NumPy;
- autograd (float64) of the same NumPy loss on random residual networks,
to |ours − ref| ≤ 1e-12 · max(|ref|, max |ref| over the array).
"""
import numpy as np
import pytest
import sympy as sp

from oracles import central_differences, sym_activation, sym_loss
from symbackprop.api import prepare
from symbackprop.core.spec import SpecError, parse_spec

# A network here: (name, type, size, activation, from) per layer, the last the output.
SKIP_ONE = [("h", "dense", 2, "tanh", None), ("f", "dense", 2, "sigmoid", None),
            ("s", "add", 2, None, ["f", "h"]), ("out", "dense", 1, "sigmoid", None)]
SKIP_ONE_RELU = SKIP_ONE[:2] + [("s", "add", 2, "tanh", ["h", "f"])] + SKIP_ONE[3:]
SKIP_TWO = [("h", "dense", 2, "tanh", None), ("f1", "dense", 2, "sigmoid", None),
            ("f2", "dense", 2, "softplus", None), ("s", "add", 2, "tanh", ["f2", "h"]),
            ("out", "dense", 2, "identity", None)]
SKIP_TWO_PLAIN = SKIP_TWO[:3] + [("s", "add", 2, None, ["h", "f2"])] + SKIP_TWO[4:]
FROM_INPUT = [("f1", "dense", 2, "tanh", None), ("flat", "flatten", 2, None, None),
              ("f2", "dense", 2, "sigmoid", None), ("s", "add", 2, None, ["input", "f2", "f1"]),
              ("out", "dense", 1, "sigmoid", None)]


def spec_text(layers, inputs=2, loss="half_sse"):
    lines = [f"inputs = {inputs}", f'loss = "{loss}"']
    for name, kind, size, act, frm in layers:
        lines += ["[[layer]]", f'name = "{name}"']
        lines += [f'type = "{kind}"'] if kind != "dense" else [f"size = {size}"]
        lines += [f'activation = "{act}"'] if act else []
        if frm is not None:
            lines.append("from = [" + ", ".join(f'"{f}"' for f in frm) + "]")
    return "\n".join(lines) + "\n"


def sources(layers, l):
    names = ["input"] + [t[0] for t in layers]
    frm = layers[l - 1][4]
    return [l - 1] if frm is None else [names.index(f) for f in frm]


def sym_forward(layers, x, params):
    """The network's output from its layer list, in SymPy: the oracle's forward."""
    a = [list(x)]
    for l, (_, kind, size, act, _) in enumerate(layers, start=1):
        src = sources(layers, l)
        if kind == "dense":
            W, b = params[f"W{l}"], params[f"b{l}"]
            z = [sum(W[j][k] * a[src[0]][k] for k in range(len(a[src[0]]))) + b[j] for j in range(size)]
        elif kind == "add":
            z = [sum(a[s][j] for s in src) for j in range(len(a[src[0]]))]
        else:
            z = list(a[src[0]])
        a.append(sym_activation(act or "identity", z))
    return a[-1]


ACT = {"identity": lambda xp, z: z, "tanh": lambda xp, z: xp.tanh(z),
       "sigmoid": lambda xp, z: 1 / (1 + xp.exp(-z)), "softplus": lambda xp, z: xp.logaddexp(0, z),
       "elu": lambda xp, z: xp.where(z > 0, z, xp.exp(xp.minimum(z, 0)) - 1)}


def np_loss(layers, P, X, Y, xp=np):
    """The same network and half-SSE loss (mean over the columns) in NumPy (``xp``:
    numpy, or autograd.numpy for autograd)."""
    a = [X]
    for l, (_, kind, size, act, _) in enumerate(layers, start=1):
        src = sources(layers, l)
        if kind == "dense":
            z = P[f"W{l}"] @ a[src[0]] + P[f"b{l}"][:, None]
        elif kind == "add":
            z = sum(a[s] for s in src)
        else:
            z = a[src[0]]
        a.append(ACT[act or "identity"](xp, z))
    return (0.5 * ((a[-1] - Y) ** 2).sum(axis=0)).mean()


def agrees(ours, ref):
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    scale = np.maximum(np.abs(ref), np.abs(ref).max())
    return np.all(np.abs(ours - ref) <= 1e-12 * scale), np.max(np.abs(ours - ref) / scale)


@pytest.mark.parametrize("layers", [SKIP_ONE, SKIP_ONE_RELU, SKIP_TWO, SKIP_TWO_PLAIN, FROM_INPUT],
                         ids=["skip1", "skip1_tanh", "skip2_tanh", "skip2", "input_flatten"])
def test_gradients_equal_sympy_diff_of_the_expanded_loss(layers):
    model = prepare(spec_text(layers))
    d, net = model.derivation, model.network
    rng = np.random.default_rng(len(layers))
    x = [sp.Rational(int(v), 10) for v in rng.integers(-9, 10, 2)]
    y = [sp.Rational(int(v), 10) for v in rng.integers(1, 9, net.output.n_out)]
    params, point = {}, {}
    for layer in net.dense_layers:
        l = layer.index
        params[f"W{l}"] = [[layer.W[j, k] for k in range(layer.n_in)] for j in range(layer.n_out)]
        params[f"b{l}"] = list(layer.b)
        point.update({s: sp.Rational(int(rng.integers(-9, 10)), 10) for s in layer.parameters})
    E = sym_loss("half_sse", sym_forward(layers, net.x, params), net.y)
    point.update(zip(net.x, x))
    point.update(zip(net.y, y))
    values = d.values_of
    # 30-digit floats: E with every symbol but p substituted is a small expression in p
    point = {s: sp.Float(v, 30) for s, v in point.items()}
    exact = {}
    for p in net.parameters:
        others = {s: v for s, v in point.items() if s != p}
        exact[p] = sp.diff(E.xreplace(others), p).xreplace({p: point[p]}).evalf(30)
        ours = d.gradient(p).xreplace(values).xreplace(point).evalf(30)
        assert abs(ours - exact[p]) <= 1e-25 * max(1, abs(exact[p])), (p, ours, exact[p])
    # the float64 numbers: eval at the same point
    arrays = {f"{kind}{l.index}": np.array([[float(point[l.W[j, k]]) for k in range(l.n_in)]
                                            for j in range(l.n_out)] if kind == "W" else
                                           [float(point[s]) for s in l.b])
              for l in net.dense_layers for kind in "Wb"}
    X = np.array([[float(v)] for v in x]); Y = np.array([[float(v)] for v in y])
    ev = model.evaluate(params=arrays, data=(X, Y))
    for key, g in ev.gradients.items():
        l = int(key[1:])
        layer = net.layers[l - 1]
        syms = layer.W if key[0] == "W" else layer.b
        ref = np.array([float(exact[s]) for s in syms]).reshape(g.shape)
        ok, worst = agrees(g, ref)
        assert ok, (key, worst)


def random_residual(rng):
    """A random chain of dense layers with add layers reading a random earlier layer."""
    width = int(rng.integers(2, 4))
    layers, acts = [], ["tanh", "sigmoid", "softplus", "identity", "elu"]
    for i in range(int(rng.integers(2, 5))):
        layers.append((f"d{i}", "dense", width, str(rng.choice(acts)), None))
        if rng.random() < 0.7:
            back = [t[0] for t in layers[:-1] if t[2] == width] + ["input"] * (width == 2)
            if back:
                layers.append((f"s{i}", "add", width, str(rng.choice(["tanh", "identity"])),
                               [layers[-1][0], str(rng.choice(back))]))
    layers.append(("out", "dense", int(rng.integers(1, 3)), "sigmoid", None))
    return layers


@pytest.mark.parametrize("seed", range(6))
def test_random_residual_networks_against_autograd_and_central_differences(seed):
    rng = np.random.default_rng(100 + seed)
    layers = random_residual(rng)
    model = prepare(spec_text(layers))
    P = model.parameters(init=seed)
    X = rng.normal(0, 1, (2, 3))
    Y = rng.uniform(0.1, 0.9, (model.network.output.n_out, 3))
    ev = model.evaluate(params=P, data=(X, Y))
    assert abs(ev.loss - np_loss(layers, P, X, Y)) <= 1e-12 * abs(ev.loss)
    fd = central_differences(lambda Q: np_loss(layers, Q, X, Y), P)
    for key, g in ev.gradients.items():
        assert np.allclose(g, fd[key], rtol=1e-6, atol=1e-9), (layers, key)
    autograd = pytest.importorskip("autograd")
    keys = list(P)
    anp = pytest.importorskip("autograd.numpy")
    grads = autograd.grad(lambda vals: np_loss(layers, dict(zip(keys, vals)), X, Y, anp))(
        [P[k] for k in keys])
    for key, ref in zip(keys, grads):
        ok, worst = agrees(ev.gradients[key], ref)
        assert ok, (layers, key, worst)


def test_delta_of_a_layer_feeding_two_is_the_sum_over_its_edges():
    d = prepare(spec_text(SKIP_ONE)).derivation
    h, f, s = d.layers[:3]
    # δ^h_1 = (w^f_11 δ^f_1 + w^f_21 δ^f_2 + δ^s_1) f'(z^h_1): both paths of the skip
    expected = (f.W[0, 0] * f.delta[0] + f.W[1, 0] * f.delta[1] + s.delta[0]) * (1 - h.a[0] ** 2)
    assert sp.expand(d.delta(h, 0) - expected) == 0


def test_chain_walks_every_graph_path():
    d = prepare(spec_text(SKIP_TWO)).derivation
    p = d.layers[0].W[0, 0]
    # from z^h_1: through f1, f2 (2 × 2 neurons) to s_1, or straight to s_1; then 2 outputs
    assert d.n_paths(p) == (4 + 1) * 2
    chain = d.chain(p)
    assert len(chain.paths) == 10 == len(set(chain.paths))
    v = d.values_of
    total, grad = chain.total.xreplace(v), d.gradient(p).xreplace(v)
    point = {s: sp.Rational(k % 7 - 3, 5) for k, s in enumerate(sorted(total.free_symbols | grad.free_symbols, key=str))}
    assert abs((total - grad).xreplace(point).evalf(30)) < 1e-25
    assert len(d.chain(p, limit=1).paths) == 1


def test_chain_specs_build_the_same_program_as_before():
    text = 'inputs = 2\nloss = "sse"\n[[layer]]\nsize = 3\nactivation = "tanh"\n[[layer]]\nsize = 1\nactivation = "sigmoid"\n'
    named = text.replace("[[layer]]\nsize = 1", '[[layer]]\nname = "o"\nfrom = "layer1"\nsize = 1')
    assert str(prepare(text).derivation.program) == str(prepare(named).derivation.program)
    assert parse_spec(text).is_chain and parse_spec(named).is_chain


BASE = 'inputs = 2\nloss = "sse"\n'
DENSE = '[[layer]]\nname = "{n}"\nsize = {s}\nactivation = "tanh"\n'


@pytest.mark.parametrize("text, words", [
    (DENSE.format(n="a", s=2) + 'from = "b"\n' + DENSE.format(n="b", s=2) + 'from = "a"\n',
     ["cycle", "a → b → a"]),
    (DENSE.format(n="a", s=2) + '[[layer]]\ntype = "add"\nfrom = ["a", "c"]\n', ["no layer is named 'c'"]),
    (DENSE.format(n="a", s=3) + '[[layer]]\ntype = "add"\nfrom = ["a", "input"]\n',
     ["different shapes", "a (3,)", "input (2,)"]),
    (DENSE.format(n="a", s=3) + DENSE.format(n="b", s=1) + 'from = "input"\n', ["'a' feeds no layer"]),
    ('[[layer]]\ntype = "conv"\nsize = 1\n', ["unknown layer type 'conv'"]),
    (DENSE.format(n="input", s=1), ["network input"]),
])
def test_bad_graphs_are_one_clear_message(text, words):
    with pytest.raises(SpecError) as err:
        parse_spec(BASE + text)
    assert all(w in str(err.value) for w in words), str(err.value)


def test_parameters_by_layer_name_and_by_number():
    text = spec_text(SKIP_ONE) + "[values]\nx = [0.5, -0.2]\ny = 0.7\nh.W = [[0.1, 0.2], [0.3, -0.4]]\n"
    spec = parse_spec(text)
    assert spec.values.arrays["W1"] == ((sp.Rational(1, 10), sp.Rational(2, 10)),
                                        (sp.Rational(3, 10), -sp.Rational(4, 10))) or \
        [[float(v) for v in r] for r in spec.values.arrays["W1"]] == [[0.1, 0.2], [0.3, -0.4]]
    assert list(spec.array_shapes()) == ["W1", "b1", "W2", "b2", "W4", "b4"]
    with pytest.raises(SpecError, match="has no parameters"):
        parse_spec(spec_text(SKIP_ONE) + "[values]\ns.W = [[1, 2], [3, 4]]\n")


# ---- the commands on the shipped residual example ---------------------------------
def residual_hand(P, x, y):
    """The residual example by hand: h = tanh(W1 x + b1), f = σ(W2 h + b2),
    s = relu(f + h), out = σ(W4 s + b4), E = ½(out − y)²; backprop written out."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    h = np.tanh(P["W1"] @ x + P["b1"])
    f = sig(P["W2"] @ h + P["b2"])
    zs = f + h
    s = np.maximum(zs, 0)
    o = sig(P["W4"] @ s + P["b4"])
    d4 = (o - y) * o * (1 - o)
    d3 = (P["W4"].T @ d4) * (zs > 0)
    d2 = d3 * f * (1 - f)
    d1 = (P["W2"].T @ d2 + d3) * (1 - h ** 2)          # both paths: through f and the skip
    grads = {"W1": np.outer(d1, x), "b1": d1, "W2": np.outer(d2, h), "b2": d2,
             "W4": np.outer(d4, s), "b4": d4}
    return 0.5 * float(((o - y) ** 2).sum()), grads


def test_eval_and_train_of_the_residual_example(capsys):
    import json
    from symbackprop.cli import main
    model = prepare("residual")
    P = model.parameters()
    x, y = np.array([0.5, -0.3]), np.array([0.8])
    E, grads = residual_hand(P, x, y)
    assert main(["eval", "residual", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert abs(out["loss"] - E) <= 1e-15
    ev = model.evaluate()
    for key, g in grads.items():
        ok, worst = agrees(ev.gradients[key].reshape(g.shape), g)
        assert ok, (key, worst)
    assert main(["train", "residual", "--steps", "3"]) == 0
    text = capsys.readouterr().out
    Q = {k: v.copy() for k, v in P.items()}
    for _ in range(3):
        _, g = residual_hand(Q, x, y)
        Q = {k: Q[k] - 0.5 * g[k] for k in Q}
    assert f"-> {residual_hand(Q, x, y)[0]:.10g} after 3 steps" in text


def test_codegen_of_a_graph_network_matches_the_hand_backprop(tmp_path):
    import importlib.util
    from symbackprop.cli import main
    target = tmp_path / "res_grads.py"
    assert main(["codegen", "residual", "-o", str(target)]) == 0
    spec = importlib.util.spec_from_file_location("res_grads", target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    P = prepare("residual").parameters()
    x, y = np.array([[0.5], [-0.3]]), np.array([[0.8]])
    E, grads = mod.gradients(P, x, y)
    E_ref, ref = residual_hand(P, x[:, 0], y[:, 0])
    assert abs(E - E_ref) <= 1e-15
    for key, g in ref.items():
        assert agrees(np.asarray(grads[key]).reshape(g.shape), g)[0], key


def test_check_names_a_dropped_skip_path():
    from symbackprop.api import check
    claims = ("delta^1_1 = (w^2_11*delta^2_1 + w^2_21*delta^2_2 + delta^3_1)*(1 - (a^1_1)^2)\n"
              "delta^1_1 = (w^2_11*delta^2_1 + w^2_21*delta^2_2)*(1 - (a^1_1)^2)\n"
              "dE/dw^1_12 = (w^2_11*delta^2_1 + w^2_21*delta^2_2 + delta^3_1)*(1 - (a^1_1)^2)*x_2\n")
    right, wrong, grad = check("residual", claims, isolate=False)
    assert right.verdict == "correct" and grad.verdict == "correct"
    assert wrong.verdict == "incorrect"
    assert wrong.diagnosis.startswith("dropped skip path") and "layer 1 (h)" in wrong.diagnosis


def test_picture_draws_the_skip_edge_around_the_layer_it_skips():
    from symbackprop.render.drawing import layout
    model = prepare("residual")
    pic = layout(model.network, model.notation)
    skips = [e for e in pic.edges if e.kind == "skip"]
    assert {(e.source.key, e.target.key) for e in skips} == {("n1_0", "n3_0"), ("n1_1", "n3_1")}
    top = min(n.y - pic.radius for n in pic.nodes if n.kind != "loss")
    for e in skips:               # the curve's control points lie above every drawn node
        assert all(cy < top for _, cy in e.controls)
        assert e.source.x < pic.columns[2].x < e.target.x
    joins = [e for e in pic.edges if e.kind == "join"]
    assert {(e.source.key, e.target.key) for e in joins} == {("n2_0", "n3_0"), ("n2_1", "n3_1")}
    assert not any(n.key == "bias3" for n in pic.nodes)          # an add layer has no bias


def test_documents_show_both_paths_of_the_skip():
    from symbackprop.render.documents import render_md, render_tex
    model = prepare("residual")
    worked = model.worked()
    md = render_md(model, worked)
    tex = render_tex(model, worked)
    for doc in (md, tex):
        assert r"\left(W^{2}\right)^{\top} \delta^{2} + \delta^{3}" in doc     # matrix form, both edges
        assert r"\sum_k w^{2}_{kj} \delta^{2}_k + \delta^{3}_j" in doc          # index form
        assert "reaches the loss along 3 paths" in doc                         # w^1_11: 2 via f, 1 skip
        assert "Worked example" in doc
    d1 = model.evaluate().delta[0][0, 0]
    assert f"{d1:.6g}" in md


def test_a_command_without_graph_support_refuses_by_layer_type(tmp_path, capsys):
    from symbackprop.cli import main
    assert main(["derive", "residual", "--equations", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "add layers" in err and "Traceback" not in err


def test_more_than_eight_paths_show_one_the_count_and_the_grouped_sum():
    from symbackprop.render.documents import render_md
    model = prepare(spec_text(SKIP_TWO))
    md = render_md(model)
    d = model.derivation
    w = d.layers[0].W[0, 0]
    assert d.n_paths(w) == 10
    section = md[md.index(r"### $\partial E / \partial w^{1}_{11}$"):]
    section = section[:section.index("###", 3)]
    assert "along 10 paths; one of them" in section and section.count(r"\text{path") == 0
    assert "grouped by the edge they leave the layer along" in section
    assert model.notation.tex(d.layers[0].delta[0]) + " = " in section


def test_a_graph_document_refuses_the_presets_by_name(tmp_path):
    """The graph document is written in the default notation only; a preset (or one of its
    keys) is refused with the key named, exit 2, nothing written."""
    import subprocess
    import sys
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "symbackprop", "derive", "residual", "--notation",
                        "nielsen", "-f", "md", "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "notation.preset" in r.stderr and "graph of layers" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
