"""Convolution and pooling (issue #18) against independent oracles.

* PyTorch float64 (torch.nn.functional conv1d/conv2d/max_pool/avg_pool and autograd): loss
  and every gradient of whole networks.  The conv grid is pairwise, not exhaustive: the
  factors stride {1, 2}, padding {0, 1}, kernel {1, 2, 3}, channels {1, 2} are covered by
  the six rows of ``PAIRWISE`` (every pair of levels of any two factors appears in some
  row), each run as conv1d and conv2d on non-square inputs.  Pools: max and avg, pool 2,
  stride 1 and 2, padding 0 and 1 (all eight), and ties in max-pool.
* Central differences of the loss, computed by our forward pass alone.
* sympy.diff of the fully expanded loss of a tiny network written out in this file.
* The derivation's index formulas (the documents' equations) evaluated entry by entry.
"""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from symbackprop.api import ConvModel, check, prepare
from symbackprop.cli import main
from symbackprop.core import formatting as numbers
from symbackprop.core.spec import SpecError, parse_spec
from symbackprop.render.documents import compile_pdf
from symbackprop.numeric.conv import compile_conv, evaluate

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
KATEX = ROOT / "node_modules" / "katex" / "package.json"
KATEX_CHECK = ROOT / "tools" / "katex_check.js"

# (stride, padding, kernel, channels): all pairs of levels of any two factors
PAIRWISE = [(1, 0, 1, 1), (2, 1, 1, 2), (1, 1, 2, 1), (2, 0, 2, 2), (2, 1, 3, 1), (1, 0, 3, 2)]


def test_pairwise_grid_covers_every_pair():
    levels = [(1, 2), (0, 1), (1, 2, 3), (1, 2)]
    for a, b in itertools.combinations(range(4), 2):
        seen = {(row[a], row[b]) for row in PAIRWISE}
        assert seen == set(itertools.product(levels[a], levels[b])), (a, b)


def spec_of(input_shape, layers, loss="cross_entropy", out=3, out_act="softmax"):
    lines = [f"input_shape = {list(input_shape)}", f'loss = "{loss}"']
    for table in layers:
        lines.append("[[layer]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    lines += ["[[layer]]", 'type = "flatten"', "[[layer]]", f"size = {out}",
              f'activation = "{out_act}"']
    return parse_spec("\n".join(lines))


def torch_loss(spec, params, X, Y):
    """The network in torch.nn.functional, from the spec's layer list (float64)."""
    m = X.shape[1]
    a = torch.tensor(X.T.reshape((m,) + spec.input_shape))
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    acts = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "identity": lambda t: t, "leaky_relu": lambda t: F.leaky_relu(t, 0.01)}
    for ls in spec.layers:
        two = len(ls.in_shape) == 3
        if ls.type.startswith("conv"):
            conv = F.conv2d if two else F.conv1d
            a = acts[ls.activation](conv(a, P[f"W{ls.index}"], P[f"b{ls.index}"],
                                         stride=ls.stride, padding=ls.padding))
        elif ls.type == "maxpool":
            a = (F.max_pool2d if two else F.max_pool1d)(a, ls.kernel, ls.stride, ls.padding)
        elif ls.type == "avgpool":
            a = (F.avg_pool2d if two else F.avg_pool1d)(a, ls.kernel, ls.stride, ls.padding)
        elif ls.type == "flatten":
            a = a.reshape(m, -1)
        else:
            z = a @ P[f"W{ls.index}"].T + P[f"b{ls.index}"]
            a = z
    if spec.loss == "cross_entropy":
        loss = F.cross_entropy(a, torch.tensor(Y.T))
    else:
        out = acts[spec.layers[-1].activation](a)
        loss = 0.5 * ((out - torch.tensor(Y.T)) ** 2).sum(dim=1).mean()
    loss.backward()
    return loss.item(), {k: p.grad.numpy() for k, p in P.items()}


def random_case(spec, m=3, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s) for k, s in spec.array_shapes().items()}
    X = rng.normal(size=(spec.inputs, m))
    Y = np.eye(spec.sizes[-1])[:, rng.integers(0, spec.sizes[-1], m)]
    return params, X, Y


def assert_matches_torch(spec, params, X, Y):
    ev = evaluate(compile_conv(spec), params, X, Y)
    loss, grads = torch_loss(spec, params, X, Y)
    assert abs(ev.loss - loss) <= 1e-12 * max(1.0, abs(loss))
    assert set(ev.gradients) == set(grads)
    for k, g in grads.items():
        np.testing.assert_allclose(ev.gradients[k], g, rtol=1e-10, atol=1e-12, err_msg=k)
    return ev


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("stride,padding,kernel,channels", PAIRWISE)
def test_conv_matches_torch(dims, stride, padding, kernel, channels):
    shape = (channels, 7) if dims == 1 else (channels, 6, 5)        # non-square
    spec = spec_of(shape, [{"type": f"conv{dims}d", "channels": 2, "kernel": kernel,
                            "stride": stride, "padding": padding, "activation": "tanh"},
                           {"type": f"conv{dims}d", "channels": channels, "kernel": 2,
                            "stride": 1, "padding": 1, "activation": "relu"}])
    assert_matches_torch(spec, *random_case(spec, seed=stride + 10 * kernel + 100 * channels))


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 0), (1, 1), (2, 1)])
def test_pool_matches_torch(dims, kind, stride, padding):
    shape = (2, 7) if dims == 1 else (2, 5, 6)
    spec = spec_of(shape, [{"type": f"conv{dims}d", "channels": 2, "kernel": 2,
                            "activation": "tanh"},
                           {"type": kind, "pool": 2, "stride": stride, "padding": padding}])
    assert_matches_torch(spec, *random_case(spec, seed=stride + 3 * padding))


def test_conv2d_rectangular_kernel_stride_padding():
    spec = spec_of((2, 6, 5), [{"type": "conv2d", "channels": 3, "kernel": [3, 2],
                                "stride": [2, 1], "padding": [1, 0], "activation": "sigmoid"},
                               {"type": "maxpool", "pool": [2, 1], "stride": [1, 2]}])
    assert spec.layers[0].out_shape == (3, 3, 4)       # ⌊(6 + 2 − 3)/2⌋ + 1, ⌊(5 − 2)/1⌋ + 1
    assert_matches_torch(spec, *random_case(spec, seed=7))


@pytest.mark.parametrize("stride", [1, 2])
def test_maxpool_ties_go_to_the_first_maximum(stride):
    """A constant map: every window ties; δ goes to its first entry in row-major order, as
    PyTorch CPU does (the torch gradient is the oracle, and the routing is checked by hand)."""
    spec = spec_of((1, 4, 4), [{"type": "maxpool", "pool": 2, "stride": stride}], loss="half_sse",
                   out=2, out_act="identity")
    params, _, Y = random_case(spec, m=1)
    X = np.full((16, 1), 0.5)
    ev = assert_matches_torch(spec, params, X, Y[:, :1] * 0 + 0.3)
    # route by hand: the gradient reaching x is nonzero only at each window's top-left
    c = compile_conv(spec)
    from symbackprop.numeric.conv import Geometry, maxpool_backward, maxpool_forward
    g = Geometry.of(spec.layers[0])
    out, arg = maxpool_forward(X.T.reshape(1, 1, 4, 4), g)
    assert (arg == 0).all()
    back = maxpool_backward(np.ones_like(out), arg, (1, 1, 4, 4), g)[0, 0]
    tops = np.zeros((4, 4))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            tops[i * stride, j * stride] += 1
    np.testing.assert_array_equal(back, tops)
    assert ev.loss > 0 and c is not None


def test_central_differences():
    spec = spec_of((2, 5, 4), [{"type": "conv2d", "channels": 2, "kernel": 3, "stride": 2,
                                "padding": 1, "activation": "tanh"},
                               {"type": "avgpool", "pool": 2, "stride": 1, "padding": 1}])
    params, X, Y = random_case(spec, m=2, seed=3)
    c = compile_conv(spec)
    ev = evaluate(c, params, X, Y)
    h = 1e-6
    for key, p in params.items():
        for idx in list(np.ndindex(p.shape))[::3]:
            up, down = dict(params), dict(params)
            up[key], down[key] = p.copy(), p.copy()
            up[key][idx] += h
            down[key][idx] -= h
            fd = (evaluate(c, up, X, Y).loss - evaluate(c, down, X, Y).loss) / (2 * h)
            assert abs(fd - ev.gradients[key][idx]) < 1e-7, (key, idx)


def test_sympy_diff_of_the_expanded_loss():
    """x 1×3×4, conv2d 1→2 channels, kernel 2, stride 1, padding 1, tanh; avgpool 2 stride 2;
    dense 1 sigmoid; half SSE.  The loss written out with Python loops over symbols here."""
    spec = spec_of((1, 3, 4), [{"type": "conv2d", "channels": 2, "kernel": 2, "padding": 1,
                                "activation": "tanh"},
                               {"type": "avgpool", "pool": 2, "stride": 2}],
                   loss="half_sse", out=1, out_act="sigmoid")
    params, X, _ = random_case(spec, m=1, seed=5)
    Y = np.array([[0.3]])
    Ks = sp.symbols("K0:8")
    K = sp.Array(Ks).reshape(2, 1, 2, 2)
    b = sp.symbols("b0:2")
    x = [[float(X[r * 4 + s, 0]) for s in range(4)] for r in range(3)]
    xp = lambda r, s: x[r - 1][s - 1] if 1 <= r <= 3 and 1 <= s <= 4 else 0   # padding 1
    a1 = [[[sp.tanh(sum(K[c, 0, u, v] * xp(i + u, j + v) for u in range(2) for v in range(2))
                    + b[c]) for j in range(5)] for i in range(4)] for c in range(2)]
    a2 = [a1[c][2 * i][2 * j] / 4 + a1[c][2 * i + 1][2 * j] / 4 + a1[c][2 * i][2 * j + 1] / 4
          + a1[c][2 * i + 1][2 * j + 1] / 4 for c in range(2) for i in range(2) for j in range(2)]
    W = sp.symbols("W0:8")
    out = 1 / (1 + sp.exp(-(sum(w * h for w, h in zip(W, a2)) + sp.Symbol("B"))))
    loss = sp.Rational(1, 2) * (out - 0.3) ** 2
    at = dict(zip(Ks, params["W1"].ravel())) | dict(zip(b, params["b1"]))
    at |= dict(zip(W, params["W4"].ravel())) | {sp.Symbol("B"): params["b4"][0]}
    ev = evaluate(compile_conv(spec), params, X, Y)
    assert abs(float(loss.xreplace(at)) - ev.loss) < 1e-12
    for sym, (key, idx) in ([(K[c, 0, u, v], ("W1", (c, 0, u, v))) for c in range(2)
                             for u in range(2) for v in range(2)]
                            + [(b[1], ("b1", (1,))), (W[5], ("W4", (0, 5)))]):
        assert abs(float(sp.diff(loss, sym).xreplace(at)) - ev.gradients[key][idx]) < 1e-12, sym


def _value(expr, table):
    """An index formula at concrete indices: Sums expanded, each Indexed entry looked up
    (an index outside the array — the zero padding, or δ̃ between strided entries — is 0)."""
    expr = expr.doit()

    def entry(e):
        arr = table[str(e.base)]
        idx = tuple(int(i) for i in e.indices)
        ok = all(0 <= k < n for k, n in zip(idx, arr.shape))
        return sp.Float(arr[idx]) if ok else sp.S.Zero
    return float(expr.replace(lambda e: isinstance(e, sp.Indexed), entry))


def test_index_formulas_of_the_derivation_hold():
    """The documents' ∂E/∂K (correlation of the input with δ), ∂E/∂b and ∂E/∂a (full
    convolution of the dilated δ with rot180 K) at every index, against torch."""
    spec = spec_of((2, 5, 4), [{"type": "conv2d", "channels": 2, "kernel": [3, 2], "stride": 2,
                                "padding": 1, "activation": "tanh"}])
    params, X, Y = random_case(spec, m=1, seed=11)
    model = ConvModel.of(spec)
    ev = evaluate(compile_conv(spec), params, X, Y)
    ls, f = spec.layers[0], model.derivation.layer(1)
    d = ev.delta[0][:, 0].reshape(ls.out_shape)
    dil = np.zeros((2, 2 * d.shape[1] - 1, 2 * d.shape[2] - 1))     # δ̃: δ dilated by stride 2
    dil[:, ::2, ::2] = d
    K = params["W1"]
    table = {"x": X[:, 0].reshape(2, 5, 4), "\\delta^{1}": d, "K^{1}": K,
             "\\tilde{\\delta}^{1}": dil, "\\operatorname{rot180}(K^{1})": K[:, :, ::-1, ::-1]}
    c, cp, u, v, m, n = sp.symbols("c c' u v m n", integer=True)
    for idx in np.ndindex(K.shape):
        at = dict(zip((c, cp, u, v), idx))
        assert abs(_value(f.kernel_grad.rhs.subs(at), table) - ev.gradients["W1"][idx]) < 1e-12
    assert abs(_value(f.bias_grad.rhs.subs(c, 1), table) - ev.gradients["b1"][1]) < 1e-12
    xt = torch.tensor(X[:, 0].reshape(1, 2, 5, 4), requires_grad=True)
    z = F.conv2d(xt, torch.tensor(K), torch.tensor(params["b1"]), stride=2, padding=1)
    z.backward(torch.tensor(d[None]))
    for idx in np.ndindex(2, 5, 4):
        at = dict(zip((cp, m, n), idx))
        want = xt.grad.numpy()[(0,) + idx]
        assert abs(_value(f.input_grad.rhs.subs(at), table) - want) < 1e-12
        assert abs(_value(f.input_grad_rot.rhs.subs(at), table) - want) < 1e-12


# ---- the spec -------------------------------------------------------------------
BASE = 'input_shape = [1, 4, 4]\nloss = "half_sse"\n'
TAIL = '[[layer]]\ntype = "flatten"\n[[layer]]\nsize = 1\nactivation = "sigmoid"\n'


@pytest.mark.parametrize("layer,needle", [
    ('type = "conv2d"\nchannels = 1\nkernel = 7\nactivation = "relu"',
     "layer[1].kernel`: layer 'layer1': the kernel 7×7 is larger than its padded input 4×4"),
    ('type = "conv2d"\nchannels = 1\nkernel = 5\npadding = 1\nactivation = "relu"\n'
     '[[layer]]\ntype = "maxpool"\npool = 3', "the pool 3×3 is larger than its padded input 2×2"),
    ('type = "conv1d"\nchannels = 1\nkernel = 2\nactivation = "relu"', "use conv2d"),
    ('type = "conv2d"\nchannels = 1\nkernel = 2\nactivation = "relu"\nfrom = "input"',
     "is a chain"),
    ('type = "maxpool"\npool = 2\npadding = 2', "more than half the pool"),
    ('type = "conv2d"\nchannels = 0\nkernel = 2\nactivation = "relu"', "channels`: expected a positive"),
])
def test_spec_errors_name_the_layer(layer, needle):
    with pytest.raises(SpecError) as err:
        parse_spec(BASE + "[[layer]]\n" + layer + "\n" + TAIL)
    assert needle in str(err.value)


def test_numbered_style_refused_and_dense_needs_flatten():
    conv = '[[layer]]\ntype = "conv2d"\nchannels = 1\nkernel = 2\nactivation = "relu"\n'
    with pytest.raises(SpecError, match="numbered style is refused for convolutional"):
        parse_spec(BASE + '[notation]\nstyle = "numbered"\n' + conv + TAIL)
    with pytest.raises(SpecError, match="put a flatten layer before it"):
        parse_spec(BASE + conv + '[[layer]]\nsize = 1\nactivation = "sigmoid"\n')


def test_values_layout_and_csv_order(tmp_path):
    """x nested [C][H][W] is flattened row-major; W<l> is [out][in][kh][kw]."""
    text = (BASE.replace("[1, 4, 4]", "[2, 2, 3]") +
            '[[layer]]\ntype = "conv2d"\nchannels = 1\nkernel = [1, 2]\nactivation = "identity"\n'
            + TAIL + "[values]\nx = [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]\ny = 0.5\n"
            "W1 = [[[[1, 0]], [[0, -1]]]]\nb1 = [0.5]\nW3 = [[1, 1, 1, 1]]\nb3 = [0]\n")
    model = prepare(text)
    X = np.array([[float(v)] for v in model.spec.values.samples[0].x])
    assert X[:, 0].tolist() == list(range(1, 13))
    ev = model.evaluate()
    # z[i][j] = x[0][i][j] − x[1][i][j+1] + 0.5 = (1 − 8, 2 − 9, 4 − 11, 5 − 12) + 0.5
    assert ev.z[0][:, 0].tolist() == [-6.5, -6.5, -6.5, -6.5]
    csv = tmp_path / "d.csv"
    csv.write_text("y1," + ",".join(f"x{k}" for k in range(1, 13)) + "\n0.5," +
                   ",".join(str(k) for k in range(1, 13)) + "\n")
    spec_file = tmp_path / "net.toml"
    spec_file.write_text(text)
    assert main(["eval", str(spec_file), "--data", str(csv), "--json"]) == 0


def test_commands_on_a_conv_spec(tmp_path, capsys):
    spec_file = tmp_path / "net.toml"
    spec_file.write_text(BASE + '[[layer]]\ntype = "conv2d"\nchannels = 2\nkernel = 3\n'
                         'padding = 1\nactivation = "tanh"\n[[layer]]\ntype = "maxpool"\npool = 2\n'
                         + TAIL + "[values]\nx = [[[0.1, 0.2, 0.3, 0.4], [0.5, -0.6, 0.7, 0.8], "
                         "[-0.1, 0.2, 0.0, 0.4], [0.3, 0.2, -0.3, 0.1]]]\ny = 0.7\n")
    assert main(["eval", str(spec_file), "--init", "1"]) == 0
    out = capsys.readouterr().out
    assert "layer 1 'layer1' (conv2d 3×3, stride 1×1, padding 1×1, tanh): 1×4×4 → 2×4×4" in out
    assert main(["eval", str(spec_file), "--init", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    model = prepare(spec_file)
    params = model.parameters(1)
    X = np.array([[float(v)] for v in model.spec.values.samples[0].x])
    loss, grads = torch_loss(model.spec, params, X, np.array([[0.7]]))
    assert abs(data["loss"] - loss) < 1e-12
    np.testing.assert_allclose(np.array(data["gradients"]["W1"]), grads["W1"], atol=1e-12)
    assert main(["train", str(spec_file), "--init", "1", "--steps", "30", "--lr", "1",
                 "--json"]) == 0
    t = json.loads(capsys.readouterr().out)
    assert t["loss_history"][-1] < t["loss_history"][0]
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '[[layer]]\ntype = "conv2d"\nchannels = 1\nkernel = 9\n'
                   'activation = "relu"\n' + TAIL)
    assert main(["eval", str(bad), "--init", "1"]) == 2
    err = capsys.readouterr().err
    assert "kernel 9×9 is larger than its padded input 4×4" in err and "Traceback" not in err


# ---- documents ------------------------------------------------------------------
EXAMPLE = ROOT / "symbackprop" / "examples" / "conv" / "cnn_tiny.toml"


def test_documents_of_the_example(tmp_path):
    """md, tex, pdf, html of examples/conv/cnn_tiny.toml: the rules' formulas are there, the
    worked numbers are torch's, every KaTeX span parses, the PDF has no overfull box."""
    assert main(["derive", str(EXAMPLE), "-f", "md", "-f", "tex", "-f", "pdf", "-f", "html",
                 "-o", str(tmp_path)]) == 0
    md = (tmp_path / "cnn_tiny.md").read_text()
    tex = (tmp_path / "cnn_tiny.tex").read_text()
    for text in (md, tex):
        assert r"\operatorname{rot180}(K^{1})" in text and r"\tilde{\delta}^{1}" in text
        assert "first maximum in row-major window order" in text
        assert "along 25 paths" in text and "16 of them read the input itself" in text
    # the kernel gradient: Σ_{i,j} δ_{c,i,j} x_{c', i+u−1, j+v−1} (padding 1, stride 1)
    assert (r"\frac{\partial E}{\partial {K^{1}}_{c,c',u,v}} = \sum_{\substack{0 \leq i \leq 4"
            r"\\0 \leq j \leq 4}} {\delta^{1}}_{c,i,j} {x}_{c',i + u - 1,j + v - 1}") in md
    model = prepare(EXAMPLE)
    params = model.parameters()
    X = np.array([[float(v)] for v in model.spec.values.samples[0].x])
    Y = np.array([[float(v)] for v in model.spec.values.samples[0].y])
    loss, grads = torch_loss(model.spec, params, X, Y)
    fmt = lambda v: numbers.fmt(float(v), 6)     # noqa: E731
    assert f"$E = {fmt(loss)}$" in md
    assert f"&= {fmt(grads['W1'][0, 0, 0, 0])}" in md          # the written-out sum's value
    new = params["W1"][0, 0, 0, 0] - 0.1 * grads["W1"][0, 0, 0, 0]
    assert f"= {fmt(new)}$" in md
    assert (tmp_path / "cnn_tiny.pdf").read_bytes().startswith(b"%PDF")
    log = []
    compile_pdf(tex, log)
    assert "Overfull" not in log[0]
    svg = (tmp_path / "cnn_tiny.svg").read_text()
    assert svg.count('fill="#e4572e"') == 2 and "conv (conv2d)" in svg    # two fields marked
    html = (tmp_path / "cnn_tiny.html").read_text()
    assert "<svg" in html and "katex" in html
    if shutil.which("node") and KATEX.is_file():
        run = subprocess.run(["node", str(KATEX_CHECK), str(tmp_path / "cnn_tiny.md")],
                             capture_output=True, text=True, timeout=120)
        report = json.loads(run.stdout)
        assert report["spans"] > 20 and not report["errors"], report["errors"][:3]


def test_document_options_written_for_dense_networks_are_refused(capsys):
    assert main(["derive", str(EXAMPLE), "--equations"]) == 2
    assert "--equations is not available for convolutional networks" in capsys.readouterr().err


# ---- codegen ----------------------------------------------------------------------
CODEGEN_SPECS = {
    "conv2d-maxpool-softmax": ((2, 6, 5), [
        {"type": "conv2d", "channels": 3, "kernel": [3, 2], "stride": [2, 1], "padding": [1, 0],
         "activation": "leaky_relu"},
        {"type": "maxpool", "pool": 2, "stride": 1, "padding": 1}], "cross_entropy", 3, "softmax"),
    "conv1d-avgpool-sigmoid": ((2, 9), [
        {"type": "conv1d", "channels": 2, "kernel": 3, "stride": 2, "padding": 1,
         "activation": "tanh"},
        {"type": "avgpool", "pool": 2, "stride": 1, "padding": 1},
        {"type": "conv1d", "channels": 1, "kernel": 2, "activation": "sigmoid"}],
        "half_sse", 2, "sigmoid"),
}


@pytest.mark.parametrize("case", sorted(CODEGEN_SPECS))
def test_codegen_module_matches_torch(case, tmp_path, monkeypatch):
    shape, layers, loss, out, act = CODEGEN_SPECS[case]
    spec = spec_of(shape, layers, loss=loss, out=out, out_act=act)
    path = tmp_path / "spec.toml"
    lines = [f"input_shape = {list(shape)}", f'loss = "{loss}"']
    for table in layers + [{"type": "flatten"}, {"size": out, "activation": act}]:
        lines += ["[[layer]]"] + [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    stem = "gen_" + case.replace("-", "_")           # a fresh module name per case
    module = tmp_path / f"{stem}.py"
    assert main(["codegen", str(path), "-o", str(module)]) == 0
    monkeypatch.syspath_prepend(str(tmp_path))
    gen = __import__(stem)
    params, X, Y = random_case(spec, m=3, seed=21)
    if loss == "half_sse":
        Y = np.random.default_rng(2).uniform(size=Y.shape)
    E, grads = gen.gradients(params, X, Y)
    want, wgrads = torch_loss(spec, params, X, Y)
    assert abs(E - want) < 1e-12
    for k, g in wgrads.items():
        np.testing.assert_allclose(grads[k], g, rtol=1e-10, atol=1e-12, err_msg=k)
    new = gen.update(params, grads, 0.1)
    np.testing.assert_allclose(new["W1"], params["W1"] - 0.1 * wgrads["W1"], atol=1e-12)
    source = module.read_text()
    assert "import torch" not in source and "symbackprop" not in source.split('"""', 2)[2]


# ---- check ------------------------------------------------------------------------
# Every claim's verdict below was worked out by hand from the layer's index form
# (0-based, zero padding): padding 1 reads x_{i+u-1}; stride 2 reads x_{2i+u-1}.
ONE = ('input_shape = [1, 5, 4]\nloss = "half_sse"\n[[layer]]\ntype = "conv2d"\nchannels = 1\n'
       'kernel = 2\npadding = 1\nactivation = "tanh"\n[[layer]]\ntype = "maxpool"\npool = 2\n'
       'stride = 1\n' + TAIL)
TWO = ('input_shape = [2, 6, 5]\nloss = "half_sse"\n[[layer]]\ntype = "conv2d"\nchannels = 2\n'
       'kernel = 3\nstride = 2\npadding = 1\nactivation = "tanh"\n' + TAIL)
THREE = ('input_shape = [1, 7]\nloss = "half_sse"\n[[layer]]\ntype = "conv1d"\nchannels = 1\n'
         'kernel = 3\nstride = 2\npadding = 1\nactivation = "sigmoid"\n' + TAIL)
CLAIMS = [   # (spec, claim, verdict, diagnosis or message fragment)
    (ONE, r"\frac{\partial L}{\partial K_{u,v}} = \sum_{i,j} \delta^{1}_{i,j} x_{i+u-1,j+v-1}",
     "correct", None),
    (ONE, r"\frac{\partial L}{\partial b} = \sum_{i,j} \delta^{1}_{i,j}", "correct", None),
    (ONE, r"\frac{\partial L}{\partial x_{m,n}} = \sum_{u,v} \delta^{1}_{m+1-u,n+1-v} K_{u,v}",
     "correct", None),
    (ONE, r"\frac{\partial L}{\partial x_{m,n}} = \sum_{u,v} \delta^{1}_{m+u,n+v} "
          r"\operatorname{rot180}(K)_{u,v}", "correct", None),
    (ONE, r"dL/dx_{m,n} = \sum_{u}\sum_{v} \delta^{1}_{m+u,n+v} rot180(K)_{u,v}", "correct", None),
    (ONE, r"\frac{\partial L}{\partial K_{u,v}} = \sum_{i,j} \delta^{1}_{i,j} x_{i+u,j+v}",
     "incorrect", "stride/padding index off by one"),
    (ONE, r"\frac{\partial L}{\partial K_{u,v}} = \delta^{1}_{i,j} x_{i+u-1,j+v-1}",
     "incorrect", "missing sum over positions (i, j)"),
    (ONE, r"\frac{\partial L}{\partial x_{m,n}} = \sum_{u,v} \delta^{1}_{m+u,n+v} K_{u,v}",
     "incorrect", "kernel not flipped"),
    (ONE, r"\frac{\partial L}{\partial a^{1}_{m,n}} = \sum_{i,j} \frac{1}{4} \delta^{2}_{i,j} "
          r"[i \le m] [m \le i+1] [j \le n] [n \le j+1]", "incorrect",
     "max-pool gradient spread over the window"),
    (ONE, r"\frac{\partial L}{\partial a^{1}_{m,n}} = \sum_{i,j} \delta^{2}_{i,j} "
          r"[i \le m] [m \le i+1] [j \le n] [n \le j+1]", "incorrect",
     "max-pool gradient spread over the window"),
    (ONE, r"dL/dK = x * \delta", "unparseable", "convolution"),
    (ONE, r"dL/dK = x * \delta", "unparseable", "Hadamard"),
    (TWO, r"\frac{\partial E}{\partial K_{c,c',u,v}} = \sum_{i,j} \delta_{c,i,j} x_{c',2i+u-1,2j+v-1}",
     "correct", None),
    (TWO, r"\frac{\partial E}{\partial K_{c,c',u,v}} = \sum_{i=1}^{3}\sum_{j=1}^{3} \delta_{c,i,j} "
          r"x_{c',2i+u-3,2j+v-3}", "correct", None),            # read from 1
    (TWO, r"\frac{\partial E}{\partial x_{c',m,n}} = \sum_{c}\sum_{i,j} \delta_{c,i,j} "
          r"K_{c,c',m-2i+1,n-2j+1}", "correct", None),
    (TWO, r"\frac{\partial E}{\partial b_c} = \sum_{i,j} \delta_{c,i,j}", "correct", None),
    (TWO, r"\frac{\partial E}{\partial K_{c,c',u,v}} = \sum_{i,j} \delta_{c,i,j} x_{c',i+u-1,j+v-1}",
     "incorrect", "stride index wrong"),
    (TWO, r"\frac{\partial E}{\partial K_{c,c',u,v}} = \sum_{i,j} \delta_{c,i,j} x_{c',2i+u,2j+v}",
     "incorrect", "stride/padding index off by one"),
    (TWO, r"\frac{\partial E}{\partial x_{c',m,n}} = \sum_{i,j} \delta_{c,i,j} K_{c,c',m-2i+1,n-2j+1}",
     "incorrect", "missing sum over the channels (c)"),
    (TWO, r"\frac{\partial E}{\partial K_{u,v}} = \sum_{i,j} \delta_{i,j} x_{2i+u-1,2j+v-1}",
     "unparseable", "write every channel index"),
    (ONE, r"\frac{\partial L}{\partial x_{m,n}} = \sum_{u,v} \delta^{1}_{m+u,n+v} K_{k-1-u,k_w-1-v}",
     "correct", None),                                     # the flipped kernel by its indices
    (ONE, r"\frac{\partial L}{\partial K_{0,1}} = 0.25", "unparseable", "checked at the spec's values"),
    (THREE, r"\frac{\partial E}{\partial K_{v}} = \sum_{j} \delta_{j} x_{2j+v-1}", "correct", None),
    (THREE, r"\frac{\partial E}{\partial K_{v}} = \sum_{j} \delta_{j} x_{j+v-1}", "incorrect",
     "stride index wrong"),
    (THREE, r"\frac{\partial E}{\partial x_{n}} = \sum_{j} \delta_{j} K_{n-2j+1}", "correct", None),
]


@pytest.mark.parametrize("spec,claim,verdict,detail", CLAIMS,
                         ids=[f"{i}-{c[2]}" for i, c in enumerate(CLAIMS)])
def test_check_reads_conv_claims(spec, claim, verdict, detail):
    (v,) = check(spec, claim, isolate=False)
    assert v.verdict == verdict, (v.message, v.diagnosis, v.counterexample)
    if verdict == "incorrect":
        assert detail in (v.diagnosis or "")
        assert v.counterexample["lhs"] != pytest.approx(v.counterexample["rhs"], abs=1e-12)
    elif verdict == "unparseable":
        assert detail in v.message


def test_check_a_conv_claims_file_on_the_command_line(tmp_path, capsys):
    spec = tmp_path / "one.toml"
    spec.write_text(ONE)
    claims = tmp_path / "claims.md"
    claims.write_text("The kernel gradient is "
                      r"$\frac{\partial L}{\partial K_{u,v}} = \sum_{i,j} \delta^{1}_{i,j} x_{i+u-1,j+v-1}$"
                      " and the input's\n"
                      r"$$\frac{\partial L}{\partial x_{m,n}} = \sum_{u,v} \delta^{1}_{m+u,n+v} K_{u,v}$$" + "\n")
    assert main(["check", str(spec), str(claims)]) == 1
    out = capsys.readouterr().out
    assert "1 correct, 1 incorrect" in out and "kernel not flipped" in out
