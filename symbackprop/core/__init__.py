"""The core: spec → network → derivation, notation, parameters, functions.

Imports nothing else of symbackprop.
"""
