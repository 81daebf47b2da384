"""Exercise families (issue #22): many versions of one backprop exercise with keys that
``check`` verified and distractors from the mistake catalogue.

>>> from symbackprop.exercises import FORMATS
>>> FORMATS
('json', 'md', 'html', 'moodle', 'pdf', 'tex', 'qti')
"""
from __future__ import annotations

from .export import FORMATS, key_json, render_all
from .family import Family, FamilyError, load_family, parse_family
from .generate import MAX_REDRAWS, NoVariant, Variant, make_variants
from .verify import Counts, verify

__all__ = ["FORMATS", "Counts", "Family", "FamilyError", "MAX_REDRAWS", "NoVariant", "Variant",
           "key_json", "load_family", "make_variants", "parse_family", "render_all", "verify"]
