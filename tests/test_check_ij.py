"""Layer-level weights in the ij style (w_{ij} from i to j): W^{(l)} has row i,
column j — the transpose of the jk style — as seed 003 writes a^{(1)} = (W^{(1)})^T a^{(0)};
with the bias as an extra weight it is the last row (seed 000's 3×2 W^{(1)})."""
from __future__ import annotations

import pytest

from symbackprop import check
from symbackprop.formula.reader import build_scope, parse_claim
from symbackprop.api import prepare

from conftest import spec_text

IJ = '[notation]\nstyle = "ij"\nindex_base = 0\n'


def test_ij_weight_matrix_entries_are_the_notations_w_ij():
    model = prepare(spec_text([3, 2, 1], ["sigmoid", "sigmoid"], "half_sse", IJ))
    scope = build_scope(model)
    W = parse_claim("W^{(1)} = 0", scope).sides[0].expr
    assert W.shape == (3, 2)
    for i in range(3):
        for j in range(2):       # the scalar the notation itself calls w^{(1)}_{ij}
            assert W[i, j] == parse_claim(f"w^{{(1)}}_{{{i}{j}}} = 0", scope).sides[0].expr


def test_extra_weight_bias_is_the_last_row():
    model = prepare(spec_text([2, 2, 1], ["sigmoid", "sigmoid"], "half_sse",
                              '[notation]\nstyle = "ij"\nbias = "extra_weight"\n'))
    scope = build_scope(model)
    W = parse_claim("W^{(1)} = 0", scope).sides[0].expr
    assert W.shape == (3, 2)
    assert list(W.row(2)) == list(model.network.layers[0].b)


@pytest.mark.parametrize("text, verdict", [
    (r"z^{(1)} = (W^{(1)})^T x + b^{(1)}", "correct"),                       # seed 003
    (r"\frac{\partial E}{\partial W^{(1)}} = x (\delta^{(1)})^T", "correct"),
    (r"\delta^{(1)} = (W^{(2)} \delta^{(2)}) \odot \sigma'(z^{(1)})", "correct"),
    (r"\delta^{(1)} = ((W^{(2)})^T \delta^{(2)}) \odot \sigma'(z^{(1)})", "unparseable"),
    (r"\frac{\partial E}{\partial W^{(1)}} = \delta^{(1)} x^T", "incorrect"),
])
def test_seed_003_vectorised_forms(text, verdict):
    model = prepare(spec_text([3, 2, 1], ["sigmoid", "sigmoid"], "half_sse", IJ))
    [v] = check(model, text, isolate=False)
    assert v.verdict == verdict, v
