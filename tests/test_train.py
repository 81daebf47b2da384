"""`symbackprop train`: gradient descent against a hand-written loop on the
textbook oracle, ties and frozen honoured, batch mean/sum, JSON, plot, progress."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from oracles import np_backprop
from symbackprop.cli import main
from symbackprop.api import example_path, prepare
from symbackprop.numeric.train import train
from test_names import LECTURE

ROOT = Path(__file__).resolve().parents[1]

SAMPLES = """
name = "xor_like"
inputs = 2
loss = "half_sse"
[[layer]]
size = 3
activation = "tanh"
[[layer]]
size = 1
activation = "sigmoid"
[network]
batch = "BATCH"
[values]
learning_rate = 0.3
W1 = [[0.5, -0.4], [0.3, 0.8], [-0.6, 0.2]]
b1 = [0.1, -0.1, 0.0]
W2 = [[0.7, -0.5, 0.4]]
b2 = [0.05]
[[values.samples]]
x = [0.0, 1.0]
y = [1.0]
[[values.samples]]
x = [1.0, 0.0]
y = [1.0]
[[values.samples]]
x = [1.0, 1.0]
y = [0.0]
[[values.samples]]
x = [0.0, 0.0]
y = [0.0]
"""


def oracle_descent(params, X, Y, acts, lr, steps, mean=True, ties=(), frozen=()):
    """Gradient descent written from the definitions, on the oracle's gradients.
    ``ties``: lists of (array, index) places sharing one value; ``frozen``: places kept."""
    params = {k: np.array(v, float) for k, v in params.items()}
    history = []
    for step in range(steps + 1):
        loss, grads = np_backprop(acts, "half_sse", params, X, Y, mean=mean)
        history.append(loss)
        if step == steps:
            break
        for places in ties:
            total = sum(grads[k][i] for k, i in places)
            for k, i in places:
                grads[k][i] = total
        for k, i in frozen:
            grads[k][i] = 0.0
        params = {k: v - lr * grads[k] for k, v in params.items()}
    return history, params


@pytest.mark.parametrize("batch", ["mean", "sum"])
def test_training_matches_an_independent_descent(batch, tmp_path, capsys):
    spec = tmp_path / "xor.toml"
    spec.write_text(SAMPLES.replace("BATCH", batch))
    assert main(["train", str(spec), "--steps", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"loss_history", "final_loss", "parameters", "by_name"}
    X = np.array([[0, 1, 1, 0], [1, 0, 1, 0]], float)
    Y = np.array([[1, 1, 0, 0]], float)
    start = {"W1": [[0.5, -0.4], [0.3, 0.8], [-0.6, 0.2]], "b1": [0.1, -0.1, 0.0],
             "W2": [[0.7, -0.5, 0.4]], "b2": [0.05]}
    history, params = oracle_descent(start, X, Y, ["tanh", "sigmoid"], 0.3, 40, mean=batch == "mean")
    np.testing.assert_allclose(out["loss_history"], history, rtol=1e-12)
    assert out["loss_history"][-1] < out["loss_history"][0]
    # final_loss is the loss at the returned parameters, recomputed by the oracle
    final = {k: np.array(v) for k, v in out["parameters"].items()}
    assert abs(out["final_loss"] - np_backprop(["tanh", "sigmoid"], "half_sse", final, X, Y,
                                               mean=batch == "mean")[0]) < 1e-14
    for k in params:
        np.testing.assert_allclose(final[k], params[k], rtol=1e-12, atol=1e-15)


def test_training_honours_ties_and_frozen(tmp_path, capsys):
    spec = tmp_path / "lecture.toml"
    spec.write_text(LECTURE.replace("b2 = 0.60\n", 'b2 = 0.60\nfrozen = ["b2", "w5"]\n'))
    assert main(["train", str(spec), "--steps", "25", "--lr", "0.4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    start = {"W1": [[0.15, 0.20], [0.25, 0.30]], "b1": [0.35, 0.35],
             "W2": [[0.40, 0.45], [0.50, 0.55]], "b2": [0.60, 0.60]}
    history, params = oracle_descent(
        start, np.array([[0.05], [0.10]]), np.array([[0.01], [0.99]]), ["sigmoid", "sigmoid"], 0.4, 25,
        ties=[[("b1", (0,)), ("b1", (1,))]], frozen=[("b2", (0,)), ("b2", (1,)), ("W2", (0, 0))])
    np.testing.assert_allclose(out["loss_history"], history, rtol=1e-12)
    final = out["parameters"]
    assert final["b1"][0] == final["b1"][1] != 0.35
    assert final["b2"] == [0.6, 0.6] and final["W2"][0][0] == 0.4
    assert out["by_name"]["b1"]["value"] == final["b1"][0]
    np.testing.assert_allclose(final["W1"], params["W1"], rtol=1e-12)


def test_training_api_and_loss_decreases():
    t = train(prepare(example_path("worked_2331_numbered")), steps=30, lr=0.5)
    assert len(t.loss_history) == 31 and t.final_loss < 0.5 * t.loss_history[0]
    assert set(t.by_name) >= {"w1", "w18", "b7"}


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_writes_the_loss_curve(suffix, magic, tmp_path, capsys):
    plot = tmp_path / f"loss{suffix}"
    assert main(["train", str(example_path("tanh_net")), "--steps", "5", "--plot", str(plot)]) == 0
    assert plot.read_bytes().startswith(magic)


def test_bad_train_options_exit_2_and_write_nothing(tmp_path, capsys):
    plot = tmp_path / "loss.pdf"
    assert main(["train", str(example_path("tanh_net")), "--steps", "5", "--plot", str(plot)]) == 2
    assert not plot.exists() and ".png or .svg" in capsys.readouterr().err
    assert main(["train", str(example_path("tanh_net")), "--steps", "-3"]) == 2
    assert main(["train", str(example_path("tanh_net")), "--steps", "3", "--lr", "-1"]) == 2


def test_piped_training_prints_no_progress_bar():
    run = subprocess.run([sys.executable, "-m", "symbackprop", "train", str(example_path("tanh_net")),
                          "--steps", "50", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0 and run.stderr == ""
    assert json.loads(run.stdout)["final_loss"] < json.loads(run.stdout)["loss_history"][0]


def test_progress_bar_on_a_terminal():
    import os
    import pty
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    # a terminal 80 columns wide (a fresh pty has 0, and tqdm draws nothing in 0 columns)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    run = subprocess.run([sys.executable, "-m", "symbackprop", "train", str(example_path("tanh_net")),
                          "--steps", "200", "--json"], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    shown = b""
    try:
        while chunk := os.read(master, 4096):
            shown += chunk
    except OSError:          # the terminal is closed once everything is read
        pass
    os.close(master)
    assert run.returncode == 0 and b"training" in shown and b"step" in shown


@pytest.mark.parametrize("batch, word", [("mean", "mean"), ("sum", "sum")])
def test_document_states_the_batch_reduction(batch, word, tmp_path):
    spec = tmp_path / "xor.toml"
    spec.write_text(SAMPLES.replace("BATCH", batch))
    assert main(["derive", str(spec), "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "xor_like.md").read_text()
    assert f"Over the 4 examples of the spec the batch loss is the {word} of the per-example losses" in doc
