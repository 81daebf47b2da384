"""Reading hand-written formulas and claims files into SymPy (never eval/sympify).

Imports only the core.
"""
