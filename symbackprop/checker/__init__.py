"""The checker: verdicts on hand-derived claims against the network's exact truth.

Imports formula and core; never render (the report receives its Jinja environment).
"""
