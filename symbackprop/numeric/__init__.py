"""Numbers: vectorised float64 evaluation, the worked example, training, code generation, data.

Imports formula and core; never render.
"""
