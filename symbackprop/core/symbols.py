"""The generic symbols of the index-form formulas, defined once for every module.

``Z, A, Y``: one neuron's pre-activation, activation and target; ``S`` = Σ_i y_i
(in the softmax + cross-entropy δ^L = a·S − y); ``A_I, A_J, KD``: a_i, a_j and
the Kronecker delta [i = j] of the softmax Jacobian a_i([i = j] − a_j);
``LOGA, LOG1MA``: log a and log(1 − a), computed stably by the numeric code.
"""
import sympy as sp

Z, A, Y = sp.symbols("z a y", real=True)
S = sp.Symbol("S", real=True)
A_I, A_J, KD = sp.symbols("a_i a_j KD", real=True)
LOGA, LOG1MA = sp.symbols("loga log1ma", real=True)
GENERIC = (Z, A, Y, S, A_I, A_J, KD)
GENERIC_NAMES = frozenset(s.name for s in GENERIC)
