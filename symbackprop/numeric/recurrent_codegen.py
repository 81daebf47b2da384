"""Export a recurrent derivation as a standalone NumPy module (``codegen`` on an rnn spec).

The cell's f and f′, the output g, the loss term and δ^y are printed from SymPy by
``numeric.codegen``'s printer; the unrolled loop lives in ``templates/rnn_gradients.py.j2``.
"""
from __future__ import annotations

from ..core.bptt import RecurrentDerivation
from ..core.errors import SpecError
from .codegen import _environment, layer_pieces, loss_pieces, piece


def generate_recurrent(d: RecurrentDerivation, source: str = "") -> str:
    """The text of a module with ``gradients(params, X, Y, h0=None)`` and ``update``.

    >>> from symbackprop.core.spec import load_spec
    >>> from symbackprop.core.examples import RECURRENT
    >>> from symbackprop.core.bptt import derive_recurrent
    >>> "def gradients(params, X, Y, h0=None):" in generate_recurrent(
    ...     derive_recurrent(load_spec(RECURRENT / "rnn_tiny.toml")))
    True
    """
    spec, r = d.spec, d.recurrence
    loss = loss_pieces(d.output)
    if loss["delta"] is None:
        raise SpecError(f"{spec.source}: codegen of an rnn spec needs the output δ in closed form; "
                        f"a softmax output with {spec.loss} has none (use cross_entropy).")
    out = layer_pieces(d.output)[0]
    return _environment().get_template("rnn_gradients.py.j2").render(
        name=spec.name, source=source or spec.source, n_in=spec.inputs, hidden=d.hidden,
        n_out=d.n_out, per_step=r.per_step, truncate=r.truncate, time=r.time, batch=spec.batch,
        f=piece(d.cell.f), fprime=piece(d.cell.slope), out_f=out.f,
        output=d.output.output.activation.name, loss=loss)
