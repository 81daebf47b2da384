"""Batched evaluation: [[values.samples]] and `eval --data file.csv`, checked
against the hand-written NumPy backprop (tests/oracles.py); CSV errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

from oracles import np_backprop
from symbackprop.numeric import data as data_module
from symbackprop.cli import main

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
W1 = [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [-0.6, 0.1, 0.4], [0.3, 0.3, 0.3]]
B1 = [0.1, -0.1, 0.0, 0.2]
W2 = [[0.7, -0.5, 0.2, 0.1], [-0.3, 0.4, 0.6, -0.2]]
B2 = [0.05, -0.05]
PARAMS = {"W1": np.array(W1), "b1": np.array(B1), "W2": np.array(W2), "b2": np.array(B2)}
ACTS, LOSS = ["tanh", "sigmoid"], "binary_cross_entropy"
RNG = np.random.default_rng(11)
X = RNG.normal(size=(3, 6))
Y = RNG.uniform(0.0, 1.0, size=(2, 6)).round(3)


def write_spec(path, samples: str = "", batch: str = "mean"):
    path.write_text(f'inputs = 3\nloss = "{LOSS}"\n[network]\nbatch = "{batch}"\n'
                    '[[layer]]\nsize = 4\nactivation = "tanh"\n[[layer]]\nsize = 2\nactivation = "sigmoid"\n'
                    f"[values]\nlearning_rate = 0.5\nW1 = {W1}\nb1 = {B1}\nW2 = {W2}\nb2 = {B2}\n{samples}")
    return path


def samples_toml(X, Y) -> str:
    return "".join(f"[[values.samples]]\nx = {list(map(float, X[:, i]))}\ny = {list(map(float, Y[:, i]))}\n"
                   for i in range(X.shape[1]))


def write_csv(path, X, Y, order=None):
    names = [f"x{i + 1}" for i in range(X.shape[0])] + [f"y{j + 1}" for j in range(Y.shape[0])]
    cols = np.vstack([X, Y])
    order = order or list(range(len(names)))
    lines = [",".join(names[c] for c in order)]
    lines += [",".join(repr(float(cols[c, i])) for c in order) for i in range(X.shape[1])]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_json(capsys, *argv):
    assert main(["eval", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def check_against_oracle(out, X, Y, mean=True):
    loss, grads = np_backprop(ACTS, LOSS, PARAMS, X, Y, mean=mean)
    assert abs(out["loss"] - loss) <= 1e-12 * abs(loss)
    for k, g in grads.items():
        np.testing.assert_allclose(out["gradients"][k], g, rtol=1e-11, atol=1e-15)
        np.testing.assert_allclose(out["updated"][k], PARAMS[k] - 0.5 * g, rtol=1e-11, atol=1e-15)
    a = 1 / (1 + np.exp(-(PARAMS["W2"] @ np.tanh(PARAMS["W1"] @ X + PARAMS["b1"][:, None])
                          + PARAMS["b2"][:, None])))
    np.testing.assert_allclose(out["outputs"], a.T, rtol=1e-12)      # one row per example
    assert out["batch"] == {"examples": X.shape[1], "reduction": "mean" if mean else "sum"}
    per = -(Y * np.log(a) + (1 - Y) * np.log(1 - a)).sum(0)
    np.testing.assert_allclose(out["losses"], per, rtol=1e-12)


@pytest.mark.parametrize("batch", ["mean", "sum"])
def test_samples_in_spec(tmp_path, capsys, batch):
    spec = write_spec(tmp_path / "net.toml", samples_toml(X, Y), batch)
    out = run_json(capsys, spec)
    check_against_oracle(out, X, Y, mean=batch == "mean")
    assert [len(layer["z"]) for layer in out["layers"]] == [6, 6]          # per example
    assert [len(layer["delta"][0]) for layer in out["layers"]] == [4, 2]   # per neuron


def test_csv_data_any_column_order(tmp_path, capsys):
    spec = write_spec(tmp_path / "net.toml")
    csv = write_csv(tmp_path / "batch.csv", X, Y, order=[3, 0, 4, 2, 1])
    out = run_json(capsys, spec, "--data", csv)
    check_against_oracle(out, X, Y)
    single = write_spec(tmp_path / "one.toml", f"x = {list(map(float, X[:, 0]))}\ny = {list(map(float, Y[:, 0]))}\n")
    assert set(run_json(capsys, single)) == set(out)          # same keys as one example


def test_csv_replaces_spec_samples_and_text_output(tmp_path, capsys):
    spec = write_spec(tmp_path / "net.toml", samples_toml(X[:, :2], Y[:, :2]))
    csv = write_csv(tmp_path / "batch.csv", X[:, 2:], Y[:, 2:])
    check_against_oracle(run_json(capsys, spec, "--data", csv), X[:, 2:], Y[:, 2:])
    assert main(["eval", str(spec), "--data", str(csv)]) == 0
    assert "batch of 4 examples" in capsys.readouterr().out


BAD = [
    ("", "line 1: expected a header"),
    ("x1,x2,x3,y1,y2\n", "no example follows"),
    ("x1,x2,y1,y2\n1,2,0,1\n", "missing column x3"),
    ("x1,x2,x3,y1,y2,y3\n1,2,3,0,1,0\n", "line 1, column 6: unknown column 'y3'"),
    ("1,2,3,0,1\n", "the first line must be the header"),
    ("x1,x2,x3,y1,x1\n1,2,3,0,1\n", "column 'x1' appears twice"),
    ("x1,x2,x3,y1,y2\n1,2,3,0,1\n\n1,2,abc,0,1\n", "line 4, column x3: expected a number, got 'abc'"),
    ("x1,x2,x3,y1,y2\n1,2,3,0,1\n1,2,3,0\n", "line 3: expected 5 values"),
    ("x1,x2,x3,y1,y2\n1,2,nan,0,1\n", "line 2, column x3: expected a finite number"),
    ("x1,x2,x3,y1,y2\n1,2,3,0,1\n1,2,3,0,1.5\n", "line 3, column y2: binary_cross_entropy needs targets in [0, 1]"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_csv_is_one_clear_error(tmp_path, capsys, text, message):
    spec = write_spec(tmp_path / "net.toml")
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    assert main(["eval", str(spec), "--data", str(csv), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and str(csv) in captured.err


def test_csv_file_problems(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path / "net.toml")
    assert main(["eval", str(spec), "--data", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "latin1.csv").write_bytes(b"x1,x2,x3,y1,y2\n1,2,3,0,\xe9\n")
    assert main(["eval", str(spec), "--data", str(tmp_path / "latin1.csv")]) == 2
    assert "line 2: not UTF-8" in capsys.readouterr().err
    csv = write_csv(tmp_path / "big.csv", X, Y)
    monkeypatch.setattr(data_module, "MAX_DATA_BYTES", 100)
    assert main(["eval", str(spec), "--data", str(csv)]) == 2
    assert "at most 100 bytes" in capsys.readouterr().err
    monkeypatch.setattr(data_module, "MAX_DATA_BYTES", 10**8)
    monkeypatch.setattr(data_module, "MAX_VALUES", 12)
    assert main(["eval", str(spec), "--data", str(csv)]) == 2
    assert "more than 12 numbers" in capsys.readouterr().err


def test_bad_csv_subprocess_has_no_traceback(tmp_path):
    spec = write_spec(tmp_path / "net.toml")
    (tmp_path / "bad.csv").write_text("x1,x2,x3,y1,y2\n1,2,3,0,oops\n")
    run = subprocess.run([sys.executable, "-m", "symbackprop", "eval", str(spec), "--data",
                          str(tmp_path / "bad.csv")], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "line 2, column y2: expected a number, got 'oops'" in run.stderr


def test_train_on_csv_batch(tmp_path, capsys):
    """Two full-batch steps on the CSV's examples, redone with the hand-written backprop."""
    spec = write_spec(tmp_path / "net.toml", samples_toml(X[:, :1], Y[:, :1]))
    csv = write_csv(tmp_path / "batch.csv", X, Y)
    assert main(["train", str(spec), "--data", str(csv), "--steps", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    params, history = dict(PARAMS), []
    for _ in range(2):
        loss, grads = np_backprop(ACTS, LOSS, params, X, Y)
        history.append(loss)
        params = {k: params[k] - 0.5 * grads[k] for k in params}
    history.append(np_backprop(ACTS, LOSS, params, X, Y)[0])
    np.testing.assert_allclose(out["loss_history"], history, rtol=1e-12)
    for k in params:
        np.testing.assert_allclose(out["parameters"][k], params[k], rtol=1e-12)
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,x3,y1\n1,2,3,0\n")
    assert main(["train", str(spec), "--data", str(bad), "--steps", "2"]) == 2
    assert "missing column y2" in capsys.readouterr().err
