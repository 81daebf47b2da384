"""The sandbox for a user's templates (``--templates DIR``): data in, text out.

A user's template is untrusted code.  Jinja's ``ImmutableSandboxedEnvironment``
refuses Python's internals (``__class__``, ``mro``, …) and changes to lists and
dicts; this sandbox also refuses everything it cannot audit or bound:

* **Attributes**: only the listed fields of symbackprop's own records (the
  derivation, network, layers, notation, spec, worked example, picture) and
  the methods of plain data (str, int, float, list, tuple, dict).  A SymPy
  formula is opaque: the filters (``tex``, ``num``, ``prod``, …) print it, and
  only its ``args``, ``name``, ``shape`` and ``is_*`` flags can be read, never a
  method — many SymPy methods (``coeff``, ``diff``, ``subs``, ``has``,
  ``match``, …) turn a string argument into code through ``sympify``.  Every
  other object (NumPy numbers with ``tofile``, functions, Decimals, …) shows
  no attribute at all.  Names that are not allowed are refused before they
  are looked up, so not even a property runs.
* **Calls**: Jinja's own (macros, ``namespace``, ``range``, ``loop.cycle``, …),
  the methods of plain data, and the few listed methods of the records, each
  with its arguments' types checked (``d.gradient(p)`` takes a parameter
  symbol of the network, never a string).
* **Sizes**: ``range``, string and list repetition and concatenation, powers,
  widths given to filters and methods, and format-string widths are capped
  (``MAX_SIZE`` items, ``MAX_BITS`` bits).

Time and memory are bounded by rendering in a child process with limits
(``documents.py``); every failure becomes one message naming the template and
its line (``template_error``).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import posixpath
import re
import traceback
import types
import warnings
from pathlib import Path

import jinja2
import jinja2.environment
import jinja2.runtime
import jinja2.sandbox
import jinja2.utils
import markupsafe
import sympy as sp
from sympy.matrices import MatrixBase

from ..core.derive import Chain, Derivation, Factor, LocalDerivative
from ..core.files import read_text_limited
from ..core.functions import Activation, Loss
from ..core.network import Layer, Network
from ..core.notation import Notation
from ..core.spec import LayerSpec, Sample, Spec, Values
from ..numeric.steps import Step, Steps
from ..numeric.worked import Worked
from . import drawing

MAX_SIZE = 1_000_000      # items of a string or list one operation may make; range, widths
MAX_BITS = 100_000        # bits of an integer one operation may make (about 30,000 digits)
MAX_LIPSUM = 100          # paragraphs (and words per paragraph) of lipsum()

# Plain data: exact types (a NumPy float64 is a float subclass with tofile(): not plain).
PLAIN = frozenset({str, markupsafe.Markup, int, float, bool, type(None), list, tuple, dict,
                   set, frozenset, range})
NUMBER_TYPES = (int, float, bool)
SEQUENCE_TYPES = (str, markupsafe.Markup, list, tuple)
# Jinja's own runtime objects; their attributes pass Jinja's sandbox checks.
JINJA = (jinja2.runtime.LoopContext, jinja2.runtime.Macro, jinja2.runtime.BlockReference,
         jinja2.runtime.TemplateReference, jinja2.environment.TemplateModule,
         jinja2.utils.Namespace, jinja2.utils.Cycler, jinja2.utils.Joiner)

# symbackprop's records: the attribute names a template may read.
RECORDS: dict[type, frozenset[str]] = {}
# … and the methods it may call: name → argument check (an error message, or None).
METHODS: dict[type, dict[str, object]] = {}
# What a SymPy object shows: its parts and flags, never a method.
SYMPY_ATTRIBUTES = frozenset({"args", "name", "shape", "rows", "cols", "p", "q"})


def allow(cls: type, attributes, methods: dict | None = None) -> None:
    """Let templates read ``attributes`` of ``cls`` (data, never a callable) and call
    ``methods`` (name → a function of (record, *args) that returns an error or None)."""
    RECORDS[cls] = frozenset(attributes) | frozenset(methods or ())
    METHODS[cls] = dict(methods or {})


def _fields(cls) -> list[str]:
    return list(getattr(cls, "__dataclass_fields__", {}))


def _layer_index(d: Derivation, layer, *indices):
    if type(layer) is not Layer or not any(layer is own for own in d.layers):
        return "takes a layer of the network (e.g. net.layers[0]) first"
    for j in indices:
        if type(j) is not int or not 0 <= j < layer.n_out:
            return f"takes a neuron index from 0 to {layer.n_out - 1}"
    return None


def _parameter(d: Derivation, p):
    if not isinstance(p, sp.Symbol) or p not in d.network.location:
        return "takes a parameter symbol of the network (e.g. params[0], g.symbols[0])"
    return None


def _output_index(d: Derivation, j):
    return _layer_index(d, d.layers[-1], j)


def _name(nt: Notation, name):
    if type(name) is not str or name not in nt.slots:
        known = ", ".join(list(nt.slots)[:8]) or "none (the spec names no parameter)"
        return f"takes a parameter name of the spec (one of {known})"
    return None


def _string(nt: Notation, name):
    return None if type(name) is str else "takes a string"


def _symbol(nt: Notation, sym):
    return None if isinstance(sym, sp.Symbol) else "takes a symbol"


def _layer_number(nt: Notation, l):
    return None if type(l) is int and 0 <= l <= 100_000 else "takes a layer number (an integer)"


def _formula(w: Worked, expr):
    if not isinstance(expr, sp.Basic):
        return "takes a formula or symbol of the network (e.g. d.gradient(p)), not text"
    return None


allow(Derivation, _fields(Derivation) + ["layers"], {
    "forward": _layer_index, "delta": _layer_index, "fprime": _layer_index,
    "dadz": _layer_index, "output_delta": _output_index,
    "gradient": _parameter, "n_paths": _parameter, "chain": _parameter})
allow(LocalDerivative, _fields(LocalDerivative))
allow(Factor, _fields(Factor))
allow(Chain, _fields(Chain) + ["total"])
allow(Network, _fields(Network) + ["sizes", "output", "parameters", "location"])
allow(Layer, [f for f in _fields(Layer) if f != "f"] + ["parameters"])
allow(Activation, ["name", "layerwise", "takes_alpha", "latex_name"])   # not build()
allow(Loss, ["name", "mean", "description", "outputs"])                 # not term()
allow(Notation, _fields(Notation), {"symbol": _name, "tied": _string, "name": _symbol,
                                       "layer_no": _layer_number})
allow(Spec, _fields(Spec) + ["sizes"])
allow(LayerSpec, _fields(LayerSpec))
allow(Values, _fields(Values))
allow(Sample, _fields(Sample))
allow(Worked, [f for f in _fields(Worked) if f != "definitions"], {"value": _formula})
allow(Steps, _fields(Steps) + ["state_keys", "decoupled", "has_decay"],
      {"inexact": lambda s, v: None, "closed": lambda s, v: None, "shown": lambda s, v: None})
allow(Step, _fields(Step), {"state": lambda s, key: None if type(key) is str else "takes a state name"})
for _cls in list(vars(drawing).values()):     # the picture's records: every field is data
    if isinstance(_cls, type) and dataclasses.is_dataclass(_cls) and _cls.__module__ == drawing.__name__:
        allow(_cls, _fields(_cls))


MAX_TEMPLATE_BYTES = 1_000_000   # one template file


class BoundedLoader(jinja2.FileSystemLoader):
    """The template folders, each file read with a size cap: a FIFO, a device (a link
    to /dev/zero) or a huge file is one message, not a hang or an exhausted memory."""

    def get_source(self, environment, template):
        pieces = jinja2.loaders.split_template_path(template)
        for searchpath in self.searchpath:
            filename = posixpath.join(searchpath, *pieces)   # posix: no drive or UNC escape
            if os.path.lexists(filename) and not os.path.isdir(filename):
                source = read_text_limited(filename, MAX_TEMPLATE_BYTES, "template")
                mtime = os.path.getmtime(filename)
                return source, os.path.normpath(filename), \
                    lambda: os.path.exists(filename) and os.path.getmtime(filename) == mtime
        raise jinja2.TemplateNotFound(template)


class TemplateLimit(jinja2.sandbox.SecurityError):
    """A user template asked for more than the sandbox allows (size, call, attribute)."""


def _kind(obj) -> str:
    if isinstance(obj, (sp.Basic, MatrixBase)):
        return f"a formula ({type(obj).__name__})"
    return f"a {type(obj).__name__}"


def _readable(obj, name: str) -> bool:
    """May a template look up ``name`` on ``obj`` at all (checked before the lookup)?"""
    if isinstance(obj, jinja2.Undefined):
        return True                 # it raises its own error (the reason it is undefined)
    if name.startswith("_"):
        return False
    cls = type(obj)
    if cls in PLAIN or isinstance(obj, JINJA):
        return True
    if cls in RECORDS:
        return name in RECORDS[cls]
    if isinstance(obj, (sp.Basic, MatrixBase)):
        return name in SYMPY_ATTRIBUTES or name.startswith("is_")
    return False


def _bits(x) -> int:
    if isinstance(x, sp.Rational):
        return max(int(x.p).bit_length(), int(x.q).bit_length())
    if isinstance(x, int):
        return x.bit_length()
    return 64


def _size(x) -> int:
    return len(x) if isinstance(x, SEQUENCE_TYPES) else 0


FORMAT_WIDTH = re.compile(r"\d{7,}")


def _check_format(fmt: str) -> None:
    if FORMAT_WIDTH.search(fmt):
        raise TemplateLimit(f"a format width or precision above {MAX_SIZE - 1} is refused")


def _check_binop(op: str, left, right) -> None:
    """Operators work on numbers, strings and lists only, within the size caps."""
    if isinstance(left, jinja2.Undefined) or isinstance(right, jinja2.Undefined):
        return                              # the undefined value raises its own error
    for x in (left, right):
        if not (type(x) in PLAIN or isinstance(x, (sp.Number,))):
            raise TemplateLimit(f"the operator {op} is not applied to {_kind(x)} in a user "
                                "template; print formulas with the tex and num filters")
    numbers = all(isinstance(x, (int, float, sp.Number)) for x in (left, right))
    if op == "*":
        if numbers and _bits(left) + _bits(right) > MAX_BITS:
            raise TemplateLimit(f"a product of more than {MAX_BITS} bits is refused")
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, SEQUENCE_TYPES) and isinstance(n, int) and _size(seq) * n > MAX_SIZE:
                raise TemplateLimit(f"a repetition of more than {MAX_SIZE} items is refused")
    elif op == "+" and _size(left) + _size(right) > MAX_SIZE:
        raise TemplateLimit(f"a concatenation of more than {MAX_SIZE} items is refused")
    elif op == "**" and numbers:
        base, exp = left, right
        if abs(base) > 1 and exp > 0 and not isinstance(base, float) and not isinstance(exp, float) \
                and exp * _bits(base) > MAX_BITS:
            raise TemplateLimit(f"a power of more than {MAX_BITS} bits is refused")
    elif op == "%" and isinstance(left, str):
        _check_format(left)


def _check_arguments(args, kwargs, skip: int = 0) -> None:
    """Integer arguments (widths, counts, precisions) at most MAX_SIZE."""
    for a in list(args[skip:]) + list(kwargs.values()):
        if isinstance(a, jinja2.Undefined):
            a._fail_with_undefined_error()       # names what is undefined
        if type(a) is int and abs(a) > MAX_SIZE:
            raise TemplateLimit(f"an argument of {a} is above the limit {MAX_SIZE}")


def _check_replace(s, args) -> None:
    if len(args) >= 2 and isinstance(s, str) and isinstance(args[0], str) and isinstance(args[1], str):
        count = (len(s) + 1) if args[0] == "" else s.count(args[0])
        if len(s) + count * (len(args[1]) - len(args[0])) > MAX_SIZE:
            raise TemplateLimit(f"a replacement making more than {MAX_SIZE} characters is refused")


def _check_result(result):
    if isinstance(result, SEQUENCE_TYPES) and len(result) > MAX_SIZE:
        raise TemplateLimit(f"a result of more than {MAX_SIZE} items is refused")
    return result


def _bounded_filter(name: str, f):
    """A filter whose size arguments and result are capped (``replace``, ``format`` too)."""
    skip = 1 + (getattr(f, "jinja_pass_arg", None) is not None)   # the filtered value (+ context)

    @functools.wraps(f)
    def bounded(*args, **kwargs):
        _check_arguments(args, kwargs, skip)
        if name == "replace":
            _check_replace(args[skip - 1], args[skip:])
        if name == "format" and isinstance(args[skip - 1], str):
            _check_format(args[skip - 1])
        return _check_result(f(*args, **kwargs))
    return bounded


class BoundedFilters(dict):
    """The filters of a user environment: each one capped, also those added later."""

    def __setitem__(self, name, f):
        super().__setitem__(name, _bounded_filter(name, f))


def _lipsum(n=5, html=True, min=20, max=100):
    if not all(type(v) is int and 0 <= v <= MAX_LIPSUM for v in (n, min, max)):
        raise TemplateLimit(f"lipsum takes at most {MAX_LIPSUM} paragraphs and words")
    return jinja2.utils.generate_lorem_ipsum(n, html, min, max)


def _safe_range(*args):
    _check_arguments(args, {})
    return jinja2.sandbox.safe_range(*args)


JINJA_CALLABLES = (jinja2.runtime.Macro, jinja2.runtime.BlockReference,
                   jinja2.runtime.LoopContext, jinja2.utils.Joiner,
                   jinja2.Undefined)      # calling it raises why it is undefined


class UserSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The environment of a user's template folder: see the module's docstring."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = BoundedFilters()
        for name, f in jinja2.filters.FILTERS.items():
            self.filters[name] = f
        self.globals["range"] = _safe_range
        self.globals["lipsum"] = _lipsum
        self._safe_functions = {id(v): v for v in (_safe_range, _lipsum, dict,
                                                   jinja2.utils.Namespace, jinja2.utils.Cycler,
                                                   jinja2.utils.Joiner)}

    def _compile(self, source, filename):
        """Python's compiler warns about some template code ({{ 1[0] }}: "perhaps you
        missed a comma?"); a user sees the error at render time, not a stray warning."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            return super()._compile(source, filename)

    # ---- attributes ----------------------------------------------------------
    def is_safe_attribute(self, obj, attr, value) -> bool:
        if not _readable(obj, attr) or not super().is_safe_attribute(obj, attr, value):
            return False
        cls = type(obj)
        if cls in RECORDS and callable(value):
            return attr in METHODS[cls]
        if isinstance(obj, (sp.Basic, MatrixBase)):
            return not callable(value)
        return True

    def _refused(self, obj, name):
        return self.undefined(f"{name!r} of {_kind(obj)} is not available to a user template",
                              obj=obj, name=name, exc=TemplateLimit)

    def getattr(self, obj, attribute):
        if isinstance(attribute, str) and not _readable(obj, attribute):
            return self._refused(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        if isinstance(argument, str) and type(obj) is not dict and not _readable(obj, argument):
            return self._refused(obj, argument)
        return super().getitem(obj, argument)

    # ---- calls ---------------------------------------------------------------
    def is_safe_callable(self, obj) -> bool:
        if isinstance(obj, JINJA_CALLABLES) or id(obj) in self._safe_functions:
            return True
        wrapped = getattr(obj, "__wrapped__", None)        # str.format, sandboxed by Jinja
        if isinstance(wrapped, types.BuiltinMethodType) and type(wrapped.__self__) in PLAIN:
            return True
        owner = getattr(obj, "__self__", None)
        if isinstance(obj, (types.BuiltinMethodType, types.MethodWrapperType)) \
                and type(owner) in PLAIN:
            return super().is_safe_callable(obj)
        if isinstance(obj, types.MethodType):
            if type(owner) in METHODS:
                return obj.__name__ in METHODS[type(owner)]
            if isinstance(owner, (jinja2.runtime.LoopContext, jinja2.utils.Cycler)):
                return super().is_safe_callable(obj)
        return False

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        if not __self.is_safe_callable(__obj):
            raise TemplateLimit(f"{_callable_name(__obj)} cannot be called in a user template")
        owner = getattr(__obj, "__self__", None)
        wrapped = getattr(__obj, "__wrapped__", None)
        given = {k: v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")}
        if isinstance(wrapped, types.BuiltinMethodType) and isinstance(wrapped.__self__, str):
            _check_format(wrapped.__self__)
        if type(owner) in METHODS or type(owner) in PLAIN:
            _check_arguments(args, given)
        if type(owner) in METHODS:
            check = METHODS[type(owner)][__obj.__name__]
            error = "does not take keyword arguments" if given else check(owner, *args) \
                if args else "takes an argument"
            if error:
                raise TemplateLimit(f"{type(owner).__name__.lower()}.{__obj.__name__}() {error}")
        elif type(owner) in PLAIN:
            if getattr(__obj, "__name__", "") == "replace":
                _check_replace(owner, args)
        return _check_result(__context.call(__obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)


def _callable_name(obj) -> str:
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", None)
    if owner is not None and name:
        return f"{name}() of {_kind(owner)}"
    return f"{name}()" if name else _kind(obj)


# ---- messages --------------------------------------------------------------------

def template_error(exc: BaseException, dirs) -> str:
    """One line for a failing template: its name, its line and what went wrong."""
    roots = [os.path.abspath(d) for d in dirs]
    name, line = None, None
    if isinstance(exc, jinja2.TemplateSyntaxError):
        name, line = exc.filename or exc.name, exc.lineno
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            full = os.path.abspath(frame.filename)
            if any(full.startswith(r + os.sep) for r in roots) or full.endswith(".j2"):
                name, line = full, frame.lineno
    if name is not None:
        name = _relative(os.path.abspath(name) if os.sep in str(name) else str(name), roots)
    where = f"template {name}, line {line}: " if name is not None else ""
    return where + _what(exc)


def _what(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return ("the templates call or include themselves without end (recursion deeper "
                "than Python allows)")
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error: {exc.message}"
    if isinstance(exc, jinja2.TemplateNotFound):
        return f"no template named {exc.name!r} in the template folders"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined: {exc.message}"
    if isinstance(exc, jinja2.sandbox.SecurityError):
        return f"refused by the sandbox: {exc}"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, OverflowError):
        return f"a number too large: {exc}"
    text = str(exc)
    if type(exc).__module__.startswith("symbackprop"):
        return text                  # our own errors say what they mean
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _relative(name: str, roots: list[str]) -> str:
    """A template's file name as the folder holds it (``derivation.md.j2``)."""
    for root in roots:
        if name.startswith(root + "/"):
            return name[len(root) + 1:]
    return Path(name).name if Path(name).is_absolute() else name
