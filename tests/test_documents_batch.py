"""A document of a spec with several examples works its first example and states the batch
loss the spec defines (its mean), so that `check` on the document flags nothing: before, its
"Loss: J = 1.07" was the first example's loss under the batch loss's name."""
import numpy as np

import symbackprop
from symbackprop.api import prepare
from symbackprop.render.documents import render_md, render_tex
from test_check_one_neuron_batch import LSTACK


def _hand_loss():
    X = np.array([[1.0, 0.4], [0.5, 1.2]]); Y = np.array([1.0, 0.0])
    W1 = np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]); b1 = np.array([[0.1], [0.2], [0.3]])
    W2 = np.array([[0.9, -0.8, 0.4]]); b2 = np.array([[-0.1]])
    A2 = (1 / (1 + np.exp(-(W2 @ np.maximum(0, W1 @ X + b1) + b2))))[0]
    losses = -(Y * np.log(A2) + (1 - Y) * np.log(1 - A2))
    return losses[0], losses.mean()


def test_batch_loss_stated_and_the_document_checks_clean():
    model = prepare(LSTACK)
    first, mean = _hand_loss()
    worked = model.worked()
    for doc, kind in ((render_md(model, worked), "markup"), (render_tex(model, worked), "markup")):
        assert f"{mean:.6f}" in doc and f"{first:.6g}"[:5] in doc
        verdicts = symbackprop.check(model, doc, kind=kind, isolate=False)
        assert not [v for v in verdicts if v.verdict == "incorrect"], \
            [(v.line, v.text) for v in verdicts if v.verdict == "incorrect"]
