"""A convolutional network as a standalone NumPy module (``codegen`` on a conv spec, issue #18).

The layer steps are printed from the spec by ``templates/conv_gradients.py.j2``; every
activation, its derivative and the loss's pieces are SymPy's, printed by the dense
codegen's ``NumPyPrinter`` (``numeric.codegen``).  The module imports only NumPy.
"""
from __future__ import annotations

import sympy as sp

from ..core.convspec import ConvSpec
from ..core.functions import ACTIVATIONS, LOSSES
from ..core.program import Edge, Node, build_program, local_derivative
from .codegen import LayerPieces, _environment, loss_pieces, piece
from .conv import Geometry, _kernel4


def _alpha(ls):
    return None if ls.alpha is None else sp.Rational(str(ls.alpha))


def generate_conv(spec: ConvSpec, source: str = "") -> str:
    """The module's text: ``gradients(params, X, Y)`` → (E, {W1: …}), ``update``."""
    pieces = []
    for ls in spec.layers[:-1]:
        if ls.activation != "identity":
            ld = local_derivative(ACTIVATIONS[ls.activation], _alpha(ls))
            pieces.append(LayerPieces(ls.index, 0, ls.size, ls.activation, piece(ld.f),
                                      piece(ld.slope)))
    out = spec.layers[-1]
    node = Node(1, out.size, (Edge(0, "W"),), "b", ACTIVATIONS[out.activation], _alpha(out))
    program = build_program(out.in_shape[0], [node], LOSSES[spec.loss])
    ld = node.local
    outf = None if out.activation == "softmax" else piece(ld.f)
    outfp = None if out.activation == "softmax" else piece(ld.slope)
    geometry = {ls.index: tuple(vars(Geometry.of(ls)).values()) for ls in spec.layers if ls.kernel}
    kernel4 = {ls.index: _kernel4(ls) for ls in spec.layers if ls.type.startswith("conv")}
    env = _environment()
    env.globals["call"] = _call
    return env.get_template("conv_gradients.py.j2").render(
        spec=spec, name=spec.name, source=source or spec.source, pieces=pieces, outf=outf,
        outfp=outfp, loss=loss_pieces(program), geometry=geometry, kernel4=kernel4,
        order=list(spec.array_shapes()))


def _call(p) -> str:
    """A printed piece as an expression of the array z (a constant broadcast to z's shape)."""
    return f"np.full(np.shape(z), {p.code}, dtype=float)" if p.constant else p.code
