"""`symbackprop codegen`: the generated module against independent oracles
(the hand-written NumPy backprop in tests/oracles.py and central finite
differences of the module's own loss), run with symbackprop unimportable."""
import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import spec_text
from oracles import central_differences, np_backprop
from symbackprop.cli import main
from symbackprop.numeric.codegen import generate
from symbackprop.core.functions import ACTIVATIONS, LOSSES
from symbackprop.core.parameters import initial_parameters
from symbackprop.api import example_path, prepare

HIDDEN = [a for a in ACTIVATIONS if a != "softmax"]
PAIRS = [(out, loss) for out in ACTIVATIONS for loss, spec in LOSSES.items()
         if spec.outputs is None or out in spec.outputs]


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def case(sizes, acts, loss, seed, batch=4, mode="mean"):
    model = prepare(spec_text(sizes, acts, loss, f'[network]\nbatch = "{mode}"\n'))
    rng = np.random.default_rng(seed)
    params = initial_parameters(model.spec, seed)
    X = rng.normal(size=(sizes[0], batch))
    if acts[-1] == "softmax" and loss == "cross_entropy":
        Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], batch)]
    else:
        Y = rng.uniform(0.05, 0.95, size=(sizes[-1], batch))
    return model, params, X, Y


def rel(a, b):
    num = sum(np.sum((np.asarray(a[k]) - b[k]) ** 2) for k in b)
    return np.sqrt(num / max(sum(np.sum(b[k] ** 2) for k in b), 1e-300))


@pytest.mark.parametrize("out,loss", PAIRS)
def test_generated_gradients_match_oracles(out, loss, tmp_path):
    i = PAIRS.index((out, loss))
    acts = [HIDDEN[i % len(HIDDEN)], HIDDEN[(i + 2) % len(HIDDEN)], out]
    sizes = [3, 4, 3, 3 if out == "softmax" else 2]
    model, params, X, Y = case(sizes, acts, loss, seed=i)
    path = tmp_path / f"grads_{i}.py"
    path.write_text(generate(model.derivation))
    mod = load_module(path, f"grads_{i}")
    E, grads = mod.gradients(params, X, Y)
    E_ref, ref = np_backprop(acts, loss, params, X, Y, mean=True)
    assert abs(E - E_ref) <= 1e-12 * abs(E_ref)
    assert abs(mod.loss(params, X, Y) - E_ref) <= 1e-12 * abs(E_ref)
    assert rel(grads, ref) <= 1e-12
    assert rel(grads, central_differences(lambda p: mod.loss(p, X, Y), params)) <= 1e-6


def test_batch_sum_and_single_vectors(tmp_path):
    model, params, X, Y = case([2, 3, 2], ["tanh", "sigmoid"], "mse", 3, batch=5, mode="sum")
    (tmp_path / "g_sum.py").write_text(generate(model.derivation))
    mod = load_module(tmp_path / "g_sum.py", "g_sum")
    E, grads = mod.gradients(params, X, Y)
    E_ref, ref = np_backprop(["tanh", "sigmoid"], "mse", params, X, Y, mean=False)
    assert np.isclose(E, E_ref, rtol=1e-13) and rel(grads, ref) <= 1e-12
    E1, g1 = mod.gradients(params, X[:, 0], Y[:, 0])          # one example as 1-D vectors
    E1_ref, ref1 = np_backprop(["tanh", "sigmoid"], "mse", params, X[:, :1], Y[:, :1], mean=False)
    assert np.isclose(E1, E1_ref, rtol=1e-13) and rel(g1, ref1) <= 1e-12


def test_update_step_descends(tmp_path):
    model, params, X, Y = case([2, 3, 1], ["softplus", "sigmoid"], "binary_cross_entropy", 7)
    (tmp_path / "g_upd.py").write_text(generate(model.derivation))
    mod = load_module(tmp_path / "g_upd.py", "g_upd")
    E, grads = mod.gradients(params, X, Y)
    new = mod.update(params, grads, 0.1)
    _, ref = np_backprop(["softplus", "sigmoid"], "binary_cross_entropy", params, X, Y)
    for k in params:
        np.testing.assert_allclose(new[k], params[k] - 0.1 * ref[k], rtol=1e-12, atol=1e-15)
    assert mod.loss(mod.update(params, grads, 1e-3), X, Y) < E


def test_cli_module_runs_without_symbackprop(tmp_path):
    """Written by the CLI; imported by a Python that cannot import symbackprop."""
    out = tmp_path / "grads.py"
    assert main(["codegen", str(example_path("softmax_classifier")), "-o", str(out)]) == 0
    source = out.read_text()
    imports = {n.names[0].name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import)}
    assert imports == {"numpy"} and not any(isinstance(n, ast.ImportFrom) for n in ast.walk(ast.parse(source)))
    assert "delta^1 = ((W^2)^T delta^2) * f_1'(z^1)" in source and "a*s - y" in source
    params = {"W1": [[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1], [0.6, 0.2, -0.2], [0.1, 0.1, 0.3]],
              "b1": [0.0, 0.1, -0.1, 0.05],
              "W2": [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, -0.1], [0.2, 0.1, -0.3, 0.4]],
              "b2": [0.0, 0.0, 0.0]}
    code = ("import json, sys; sys.modules['symbackprop'] = None; sys.path.insert(0, sys.argv[1])\n"
            "import numpy as np, grads\n"
            "p = {k: np.array(v) for k, v in json.loads(sys.argv[2]).items()}\n"
            "E, g = grads.gradients(p, [1.0, -0.5, 2.0], [0.0, 1.0, 0.0])\n"
            "print(json.dumps({'E': E, 'g': {k: v.tolist() for k, v in g.items()}}))")
    run = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path), json.dumps(params)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    P = {k: np.array(v) for k, v in params.items()}
    E_ref, ref = np_backprop(["relu", "softmax"], "cross_entropy", P,
                             np.array([[1.0], [-0.5], [2.0]]), np.array([[0.0], [1.0], [0.0]]))
    assert abs(got["E"] - E_ref) <= 1e-12 * E_ref and rel(got["g"], ref) <= 1e-12


def test_cli_rejects_bad_output_name(tmp_path, capsys):
    assert main(["codegen", str(example_path("tanh_net")), "-o", str(tmp_path / "my-grads.txt")]) == 2
    assert "Python module" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


LECTURE = """name = "lecture"
inputs = 2
loss = "half_sse"
[[layer]]
size = 2
activation = "sigmoid"
[[layer]]
size = 2
activation = "sigmoid"
[names]
W1 = [["w1", "w2"], ["w3", "w4"]]
b1 = ["b1", "b1"]
W2 = [["w5", "w6"], ["w7", "w8"]]
b2 = ["b2", "b2"]
[values]
x = [0.05, 0.10]
y = [0.01, 0.99]
learning_rate = 0.5
frozen = ["w8"]
w1 = 0.15
w2 = 0.20
w3 = 0.25
w4 = 0.30
w5 = 0.40
w6 = 0.45
w7 = 0.50
w8 = 0.55
b1 = 0.35
b2 = 0.60
"""


def test_update_sums_tied_and_keeps_frozen(tmp_path, capsys):
    """The 2-2-2 lecture network: one shared bias per layer, w8 frozen."""
    spec = tmp_path / "lecture.toml"
    spec.write_text(LECTURE)
    assert main(["codegen", str(spec), "-o", str(tmp_path / "lecture_grads.py")]) == 0
    assert "wrote" in capsys.readouterr().out
    mod = load_module(tmp_path / "lecture_grads.py", "lecture_grads")
    params = {"W1": np.array([[0.15, 0.20], [0.25, 0.30]]), "b1": np.array([0.35, 0.35]),
              "W2": np.array([[0.40, 0.45], [0.50, 0.55]]), "b2": np.array([0.60, 0.60])}
    x, y = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    E, grads = mod.gradients(params, x, y)
    new = mod.update(params, grads, 0.5)
    # the published numbers of this example (biases are not updated there, which does not
    # change the weights' gradients): E = 0.298371109, w5 → 0.35891648, w1 → 0.149780716
    assert abs(E - 0.298371109) < 1e-9
    assert abs(new["W2"][0, 0] - 0.35891648) < 1e-8 and abs(new["W1"][0, 0] - 0.149780716) < 1e-9
    assert new["W2"][1, 1] == 0.55                                   # frozen
    def loss_at(b1):                                                 # the shared b1 moves both places
        return mod.loss({**params, "b1": np.array([b1, b1])}, x, y)
    db1 = (loss_at(0.35 + 1e-6) - loss_at(0.35 - 1e-6)) / 2e-6
    np.testing.assert_allclose(new["b1"], 0.35 - 0.5 * db1, rtol=1e-9)
    assert main(["eval", str(spec), "--json"]) == 0                  # the same step as `eval`
    updated = json.loads(capsys.readouterr().out)["updated"]
    for key in params:
        np.testing.assert_allclose(new[key], updated[key], rtol=1e-13, atol=1e-15)


def test_written_module_has_the_usual_file_mode(tmp_path):
    """Atomic writing goes through mkstemp (0600); the result must be 0666 & ~umask."""
    import os
    umask = os.umask(0o022)
    try:
        assert main(["codegen", str(example_path("tanh_net")), "-o", str(tmp_path / "g.py")]) == 0
    finally:
        os.umask(umask)
    assert (tmp_path / "g.py").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["g.py"]          # no temporary left behind


def test_docstrings_write_piecewise_functions_as_python_conditionals(tmp_path):
    """No ``Piecewise((…))`` repr in the generated module (issue #16): ReLU and its
    derivative as conditionals, with ReLU'(0) = 0 as the spec defines it."""
    out = tmp_path / "g.py"
    assert main(["codegen", str(example_path("worked_2331")), "-o", str(out)]) == 0
    text = out.read_text()
    assert "Piecewise" not in text
    assert '"""f(z) = 0 if z <= 0 else z"""' in text
    assert "f'(z) = 0 if z <= 0 else 1" in text
