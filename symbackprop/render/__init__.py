"""Documents: the Jinja environment, Markdown/LaTeX/PDF/HTML, the network drawn.

Imports numeric and core; never the checker.
"""
