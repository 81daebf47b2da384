"""The command line, in-process and as a subprocess: exit codes, files, JSON."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from oracles import np_backprop
from symbackprop.cli import main
from symbackprop.api import example_names, example_path

ROOT = Path(__file__).resolve().parents[1]


def test_default_derive_writes_document(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    doc = tmp_path / "output" / "worked_2331.md"
    assert doc.is_file() and str(doc.relative_to(tmp_path)) in capsys.readouterr().out
    text = doc.read_text()
    for needle in ["## 2. Forward pass", r"\delta^{1}_{1}", "## 9. Worked example",
                   "reaches the loss along 3 paths", r"\frac{\partial E}{\partial w^{1}_{11}}"]:
        assert needle in text


def test_every_example_derives_and_evaluates(tmp_path, capsys):
    assert set(example_names()) >= {"worked_2331", "bias_extra_weight", "softmax_classifier", "tanh_net"}
    for name in example_names():
        assert main(["derive", str(example_path(name)), "-o", str(tmp_path)]) == 0
        assert (tmp_path / f"{name}.md").stat().st_size > 1000
        assert main(["eval", str(example_path(name))]) == 0


def test_eval_json_matches_hand_backprop(capsys):
    assert main(["eval", str(example_path("softmax_classifier")), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"loss", "outputs", "layers", "gradients", "updated"}
    params = {"W1": np.array([[0.2, -0.1, 0.4], [-0.3, 0.5, 0.1], [0.6, 0.2, -0.2], [0.1, 0.1, 0.3]]),
              "b1": np.array([0.0, 0.1, -0.1, 0.05]),
              "W2": np.array([[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, -0.1], [0.2, 0.1, -0.3, 0.4]]),
              "b2": np.zeros(3)}
    X, Y = np.array([[1.0], [-0.5], [2.0]]), np.array([[0.0], [1.0], [0.0]])
    loss, grads = np_backprop(["relu", "softmax"], "cross_entropy", params, X, Y)
    assert abs(out["loss"] - loss) < 1e-12
    for k, g in grads.items():
        np.testing.assert_allclose(out["gradients"][k], g, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(out["updated"][k], params[k] - 0.1 * g, rtol=1e-12, atol=1e-15)
    assert len(out["layers"]) == 2 and len(out["layers"][0]["delta"]) == 4


def test_bad_spec_exits_2_without_traceback(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('inputs = 2\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "sigmoidd"\n')
    run = subprocess.run([sys.executable, "-m", "symbackprop", "derive", str(spec), "-o", str(tmp_path / "o")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "sigmoidd" in run.stderr and "sigmoid" in run.stderr
    assert not (tmp_path / "o").exists()


def test_missing_values_exit_2(tmp_path, capsys):
    spec = tmp_path / "novalues.toml"
    spec.write_text('inputs = 1\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "tanh"\n')
    assert main(["eval", str(spec)]) == 2
    assert "values" in capsys.readouterr().err


def test_help_shows_examples():
    run = subprocess.run([sys.executable, "-m", "symbackprop", "--help"], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0 and "symbackprop eval net.toml --json" in run.stdout
