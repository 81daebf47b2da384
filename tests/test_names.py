"""[names]: explicit names, tied (shared) and frozen parameters, by_name."""
import json

import numpy as np
import pytest

from oracles import np_loss
from symbackprop.cli import main
from symbackprop.api import prepare
from symbackprop.core.spec import SpecError

# The 2-2-2 lecture network with names i1, h1, o1, w1…w8 and one bias per layer.
LECTURE = """
name = "lecture"
inputs = 2
loss = "half_sse"
[[layer]]
size = 2
activation = "sigmoid"
[[layer]]
size = 2
activation = "sigmoid"
[names]
neurons = [["i1", "i2"], ["h1", "h2"], ["o1", "o2"]]
W1 = [["w1", "w2"], ["w3", "w4"]]
b1 = ["b1", "b1"]
W2 = [["w5", "w6"], ["w7", "w8"]]
b2 = ["b2", "b2"]
[values]
x = [0.05, 0.10]
y = [0.01, 0.99]
learning_rate = 0.5
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


def lecture_loss(w, b1, b2):
    """The loss as a function of named scalars, written out by hand."""
    sig = lambda v: 1 / (1 + np.exp(-v))
    x = np.array([0.05, 0.10])
    h = sig(np.array([w[1] * x[0] + w[2] * x[1] + b1, w[3] * x[0] + w[4] * x[1] + b1]))
    o = sig(np.array([w[5] * h[0] + w[6] * h[1] + b2, w[7] * h[0] + w[8] * h[1] + b2]))
    return float(np_loss("half_sse", o[:, None], np.array([[0.01], [0.99]]))[0][0])


W0 = {1: 0.15, 2: 0.20, 3: 0.25, 4: 0.30, 5: 0.40, 6: 0.45, 7: 0.50, 8: 0.55}


def eval_json(tmp_path, capsys, text):
    spec = tmp_path / "lecture.toml"
    spec.write_text(text)
    assert main(["eval", str(spec), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_tied_gradient_is_the_derivative_of_the_shared_scalar(tmp_path, capsys):
    out = eval_json(tmp_path, capsys, LECTURE)
    h = 1e-6
    for name, f in {"b1": lambda t: lecture_loss(W0, t, 0.60), "b2": lambda t: lecture_loss(W0, 0.35, t)}.items():
        t = out["by_name"][name]["value"]
        fd = (f(t + h) - f(t - h)) / (2 * h)
        assert abs(out["by_name"][name]["gradient"] - fd) < 1e-8, name
    for i in range(1, 9):
        plus, minus = dict(W0), dict(W0)
        plus[i] += h
        minus[i] -= h
        fd = (lecture_loss(plus, 0.35, 0.6) - lecture_loss(minus, 0.35, 0.6)) / (2 * h)
        assert abs(out["by_name"][f"w{i}"]["gradient"] - fd) < 1e-8


def test_lecture_published_numbers(tmp_path, capsys):
    # The lecture's own forward pass and first update (it leaves biases alone): E_total
    # = 0.298371109, w5 → 0.35891648, w1 → 0.149780716; checked by lecture_loss above too.
    out = eval_json(tmp_path, capsys, LECTURE)
    assert abs(out["loss"] - 0.298371109) < 1e-9 and abs(out["loss"] - lecture_loss(W0, 0.35, 0.6)) < 1e-12
    assert abs(out["by_name"]["w5"]["updated"] - 0.35891648) < 1e-8
    assert abs(out["by_name"]["w1"]["updated"] - 0.149780716) < 1e-9


def test_update_keeps_ties_equal_and_frozen_fixed(tmp_path, capsys):
    out = eval_json(tmp_path, capsys, LECTURE.replace("b2 = 0.60\n", 'b2 = 0.60\nfrozen = ["b2", "w8"]\n'))
    new, by = out["updated"], out["by_name"]
    assert new["b1"][0] == new["b1"][1] == by["b1"]["updated"]
    assert by["b1"]["updated"] == pytest.approx(0.35 - 0.5 * by["b1"]["gradient"], abs=1e-15)
    assert new["b2"] == [0.6, 0.6] and new["W2"][1][1] == 0.55 and by["w8"]["frozen"]
    assert by["b2"]["gradient"] != 0            # the gradient is still reported
    assert set(by) == {f"w{i}" for i in range(1, 9)} | {"b1", "b2"}


def test_document_shows_the_tied_sum(tmp_path):
    spec = tmp_path / "lecture.toml"
    spec.write_text(LECTURE)
    assert main(["derive", str(spec), "-o", str(tmp_path)]) == 0
    doc = (tmp_path / "lecture.md").read_text()
    assert r"\frac{\partial E}{\partial b_{1}} = \delta_{h_{1}} + \delta_{h_{2}}" in doc
    assert "Place 2: the bias of $h_{2}$" in doc and "one parameter in 2 places" in doc
    assert r"z_{h_{1}} = w_{1} \cdot i_{1} + w_{2} \cdot i_{2} + b_{1}" in doc


def test_training_step_matches_hand_tied_update():
    m = prepare(LECTURE)
    params, ev, new, lr = m.step()
    total = ev.gradients["b1"].sum()
    assert np.allclose(new["b1"], 0.35 - lr * total)


@pytest.mark.parametrize("change, message", [
    (("b1 = 0.35\n", "b1 = 0.35\nfrozen = [\"b9\"]\n"), "values.frozen"),
    (("w1 = 0.15\n", "w1 = 0.15\nw9 = 1.0\n"), "values.w9"),
])
def test_unknown_names_are_spec_errors(change, message):
    with pytest.raises(SpecError, match=message):
        prepare(LECTURE.replace(*change)).parameters()


def test_tied_places_with_different_values_are_an_error():
    text = LECTURE.replace("b1 = 0.35\n", "").replace("[values]\n", "[values]\nb1 = [0.35, 0.4]\n")
    with pytest.raises(SpecError, match="b1 is one shared parameter"):
        prepare(text).parameters()


def test_exact_worked_example_sums_ties_and_keeps_frozen(tmp_path, capsys):
    text = LECTURE.replace("b2 = 0.60\n", 'b2 = 0.60\nfrozen = ["b2"]\n')
    m = prepare(text)
    w = m.worked(exact=True)
    b1, b1_again = [s for s, n in m.notation.names.items() if n == "b1"]
    fd = (lecture_loss(W0, 0.35 + 1e-6, 0.6) - lecture_loss(W0, 0.35 - 1e-6, 0.6)) / 2e-6
    assert w.updated_numbers[b1] == w.updated_numbers[b1_again]
    assert abs(float((0.35 - w.updated_numbers[b1]) / w.learning_rate) - fd) < 1e-8
    assert all(w.updated_numbers[s] == w.numbers[s] for s, n in m.notation.names.items() if n == "b2")
