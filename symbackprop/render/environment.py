"""Render a derivation with Jinja templates (all prose and layout live there).

Python hands the templates SymPy expressions and numbers; the ``tex``
filter turns an expression into LaTeX through ``sympy.latex`` with the
notation's symbol names, and ``num`` formats a number.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import sympy as sp

from ..core.derive import Chain, Derivation
from ..core.errors import SpecError
from ..core.files import template_dirs
from ..core.notation import Notation
from ..core.symbols import A, Y
from ..core import formatting as numbers
from ..numeric.worked import Worked
from .sandbox import BoundedLoader, UserSandbox, allow
from .width import lines

MAX_FULL_PARAMS = 100     # above this, one representative parameter per layer
MAX_PATHS_SHOWN = 16      # chains with more paths are shown in δ form only


def environment(extra_dir: str | Path | None = None, **options) -> jinja2.Environment:
    """The Jinja environment over the template folders; ``options`` override the settings
    (the LaTeX document uses other delimiters).  A user's template folder is untrusted
    code: it gets the sandbox of ``sandbox.py`` (data only, sizes capped)."""
    dirs = ([Path(extra_dir)] if extra_dir else []) + template_dirs()
    cls = UserSandbox if extra_dir else jinja2.Environment
    loader = BoundedLoader if extra_dir else jinja2.FileSystemLoader
    settings = dict(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                    trim_blocks=True, lstrip_blocks=True)
    return cls(loader=loader([str(d) for d in dirs]), **{**settings, **options})


@dataclass(frozen=True)
class Group:
    """One parameter of the document: a name and its symbols (several when tied)."""

    name: str | None
    symbols: tuple[sp.Symbol, ...]
    gradient: sp.Expr          # Σ over the symbols of δ-form partial derivatives
    frozen: bool = False


allow(Group, ["name", "symbols", "gradient", "frozen"])


def parameter_groups(d: Derivation, notation: Notation, shown) -> list[Group]:
    """The shown parameters grouped by name: a tied name once, with all its symbols."""
    frozen = set(d.network.spec.values.frozen) if d.network.spec.values else set()
    groups, seen = [], set()
    for p in shown:
        name = notation.names.get(p)
        if p in seen or (name is not None and name in seen):
            continue
        syms = [s for s, n in notation.names.items() if n == name] if notation.tied(name or "") else [p]
        seen.update(syms)
        seen.add(name)
        groups.append(Group(name, tuple(syms), sp.Add(*[d.gradient(s) for s in syms]),
                            name in frozen))
    return groups


def shown_parameters(d: Derivation) -> list[sp.Symbol]:
    """Every parameter of a small network; one weight and one bias per layer otherwise."""
    params = list(d.network.parameters)
    if len(params) <= MAX_FULL_PARAMS:
        return params
    return [p for layer in d.network.dense_layers for p in (layer.W[0, 0], layer.b[0])]


DETAILS = ("summary", "layer", "full")   # how much of the chain rule, parameter by parameter


def render_markdown(d: Derivation, notation: Notation, worked: Worked | None = None,
                    templates: str | Path | None = None, only=None, digits: int = 6,
                    **extra) -> str:
    """The Markdown derivation document.

    ``only``: a parameter symbol, or the symbols of one tied name, to write
    that parameter's derivation alone.  ``digits``: significant digits shown.
    ``extra``: more template variables (``figure``: the network picture;
    ``detail``: one of DETAILS, default ``layer``).
    """
    return render_document(environment(templates), "derivation.md.j2", d, notation, worked,
                           only, digits, **extra)


def number_filters(env: jinja2.Environment, digits: int) -> jinja2.Environment:
    """The number filters of every template, all from ``core.formatting`` (one formatter)."""
    env.filters["num"] = lambda x: numbers.fmt(x, digits)
    env.filters["textnum"] = lambda x: numbers.fmt(x, digits, tex=False)   # the check report
    env.filters["apart"] = lambda x, y: numbers.apart(x, y, digits)
    env.filters["operand"] = lambda x: numbers.operand(x, digits)
    env.filters["num_step"] = lambda new, old: numbers.step(new, old, digits)
    # the gradient of an update line, with the digits that make the shown line exact
    env.filters["update_grad"] = lambda grad, old, lr, new: numbers.operand(
        grad, numbers.update_digits(old, lr, grad, new, digits))
    # the factors of a path get the digits that make their shown product exact
    env.filters["factor_digits"] = lambda factors, product: numbers.factor_digits(factors, product, digits)
    env.filters["numd"] = lambda x, n: numbers.fmt(x, n)
    env.filters["prodsign"] = lambda factors, product, n=digits: "=" if numbers._product_matches(
        factors, product, n, digits) else r"\approx"
    return env


def render_document(env: jinja2.Environment, template: str, d: Derivation, notation: Notation,
                    worked: Worked | None = None, only=None, digits: int = 6, **extra) -> str:
    """The derivation through ``template`` of ``env`` (Markdown, LaTeX, …)."""
    layer_of = {z: sp.Integer(notation.layer_no(layer.index))     # f_l' as the display numbers l
                for layer in d.network.layers for z in layer.z}
    env.filters["tex"] = lambda e, **kw: notation.tex(readable(e, layer_of), **kw)
    env.filters["prod"] = lambda factors: sp.Mul(*factors)
    env.filters["lines"] = lines
    env.filters["terms"] = lambda e: [env.filters["tex"](t) for t in e.as_ordered_terms()] \
        if e.is_Add else [env.filters["tex"](e)]
    env.filters["steps"] = lambda exprs: step_functions(exprs, layer_of)
    number_filters(env, digits)
    if isinstance(only, sp.Symbol):
        only = [only]
    params = list(only) if only else shown_parameters(d)
    order = {sym: i for i, sym in enumerate(notation.names)}   # numbered: w1, w2, …
    params.sort(key=lambda p: order.get(p, len(order)))
    small = len(d.network.parameters) <= MAX_FULL_PARAMS
    extra.setdefault("detail", "layer")
    extra.setdefault("canonical", canonical_output(d))
    samples = d.network.spec.values.samples if d.network.spec.values else ()
    extra.setdefault("n_examples", len(samples) if len(samples) > 1 else None)
    extra.setdefault("batch_loss", None)     # documents.batch_loss: several examples
    extra.setdefault("batch", None)          # documents.batch_of: the batch's matrices
    extra.setdefault("fragment", False)
    extra.setdefault("numbers", {})      # the pictures with numbers (derive --show) …
    extra.setdefault("figures", {})      # … and where the Markdown finds them
    spec = d.network.spec
    reg = getattr(spec, "regularization", None)
    if reg is not None and (reg.l2 or reg.l1):
        raise SpecError(f"{spec.source}: table [regularization]: the derivation document does not "
                        "include a weight penalty yet (its loss, δ and gradients would leave the "
                        "penalty out; issue #20); `eval` and `train` apply it. Derive the spec "
                        "without the table to document the unpenalised loss.")
    extra.setdefault("optimizer", other_optimizer(spec))
    if not d.network.is_chain and template in CHAIN_ONLY:
        kinds = sorted({l.kind for l in d.layers if l.kind != "dense"}) or ["skip-connected"]
        raise SpecError(f"{d.network.spec.source}: {CHAIN_ONLY[template]} are written for a "
                        f"chain of dense layers; this network has {' and '.join(kinds)} layers "
                        "(issue #17); the derivation document (without it) covers them.")
    if not d.network.is_chain:           # a graph of layers: its own document (issue #17)
        keys = sorted(set(d.network.spec.notation) & PRESET_KEYS)
        if keys:
            key = "preset" if "preset" in keys else keys[0]
            raise SpecError(f"{d.network.spec.source}: key `notation.{key}`: the document of "
                            "a graph of layers (add, flatten or `from` layers) is written in the "
                            "default notation only so far; the notation presets and their keys ("
                            + ", ".join(keys) + ") are not applied to it yet. Derive it without "
                            "them (`eval` and `train` do not depend on the notation).")
        template = GRAPH_TEMPLATES.get(template, template)
        shown = params if only or extra["detail"] == "full" else \
            representatives(d) if extra["detail"] == "layer" else []
        extra["graph"] = graph_context(d, shown)
    return env.get_template(template).render(
        d=d, net=d.network, spec=d.network.spec, nt=notation, worked=worked,
        params=params, groups=parameter_groups(d, notation, params), small=small,
        only=params[0] if only else None, max_paths=MAX_PATHS_SHOWN,
        n_params=len(d.network.parameters), digits=digits,
        representatives=parameter_groups(d, notation, representatives(d)), **extra)


def other_optimizer(spec) -> str | None:
    """The spec's [optimizer] when its step is not the plain gradient-descent step the
    document shows (momentum, Nesterov, RMSProp, Adam, AdamW, weight decay), else None."""
    opt = getattr(spec, "optimizer", None)
    if opt is None or (opt.name == "sgd" and not opt.momentum and not opt.weight_decay):
        return None
    return {"sgd": "SGD with momentum or weight decay", "momentum": "momentum",
            "nesterov": "Nesterov momentum", "rmsprop": "RMSProp", "adam": "Adam",
            "adamw": "AdamW"}.get(opt.name, opt.name)


# The [notation] keys of the presets (issue #14), which the graph document does not apply.
PRESET_KEYS = frozenset({"preset", "superscript", "input_layer", "target", "output", "function",
                         "transpose", "hadamard", "layout", "gradient_names"})
CHAIN_ONLY = {"equations.tex.j2": "the key equations (--equations: BP1–BP4 with layer l + 1)"}
GRAPH_TEMPLATES = {"derivation.md.j2": "graph.md.j2", "derivation.tex.j2": "graph.tex.j2"}
GRAPH_PATHS_LISTED = 8     # a graph's chain rule lists every path up to this many


@dataclass(frozen=True)
class GraphChain:
    """One parameter's chain rule over the graph: every path (at most GRAPH_PATHS_LISTED),
    else one representative path and the count; ``grouped`` is δ of the parameter's
    layer one step up, the paths grouped by the edge they leave the layer along."""

    param: sp.Symbol
    n_paths: int
    chain: Chain
    grouped: sp.Expr
    delta: sp.Symbol


allow(GraphChain, ["param", "n_paths", "chain", "grouped", "delta"])


def graph_context(d: Derivation, params) -> dict:
    """What the graph documents read besides the derivation: each layer's consumers
    (the layers it feeds) and the chain rule of the shown parameters."""
    consumers = {l.index: [c for c in d.layers if l.index in c.sources] for l in d.layers}
    consumers[0] = [c for c in d.layers if 0 in c.sources]
    chains = []
    for p in params:
        _, l, j, _ = d.network.location[p]
        n = d.n_paths(p)
        layer = d.layers[l - 1]
        chains.append(GraphChain(p, n, d.chain(p, limit=None if n <= GRAPH_PATHS_LISTED else 1),
                                 d.delta(layer, j), layer.delta[j]))
    return {"consumers": consumers, "chains": chains, "listed": GRAPH_PATHS_LISTED}


def canonical_output(d: Derivation) -> bool:
    """δ at the output is output − target (a − y) for this loss and output activation: the
    matching pairs (½ SSE with identity, cross-entropy with sigmoid or softmax when the
    targets sum to 1), which the textbooks' δ_k = y_k − t_k and dZ = A − Y need."""
    return any(e is not None and sp.simplify(e - (A - Y)) == 0
               for e in (d.delta_output, d.delta_output_normalised))


def step_functions(exprs, layer_of: dict) -> list[tuple[sp.Expr, sp.Symbol]]:
    """The step functions (f' of ReLU, leaky ReLU) in ``exprs`` (an expression or nested
    lists of them), each once with its pre-activation: (the Piecewise, z)."""
    found: dict = {}
    stack = [exprs]
    while stack:
        e = stack.pop()
        if isinstance(e, sp.Basic):
            found.update({pw: pw.args[0][1].lhs for pw in e.atoms(sp.Piecewise)
                          if readable(pw, layer_of) != pw})
        elif isinstance(e, (list, tuple)):
            stack.extend(e)
        elif hasattr(e, "value"):
            stack.append(e.value)
    return sorted(found.items(), key=lambda item: str(item[1]))


def representatives(d: Derivation) -> list[sp.Symbol]:
    """One weight and one bias per layer, output layer first: the worked representatives
    of ``detail = "layer"``."""
    return [p for layer in reversed(d.network.dense_layers) for p in (layer.W[0, 0], layer.b[0])]


class Indicator(sp.Function):
    """𝟙[z > 0] (printed \\mathbf{1}[z > 0]: amssymb has no blackboard 1): ReLU's derivative (0 at the kink, the left-hand value), printed as such
    instead of a cases block."""

    nargs = 1

    def _latex(self, printer, exp=None):
        text = r"\mathbf{1}\left[" + printer._print(self.args[0]) + r" > 0\right]"
        return text if exp is None else rf"{text}^{{{exp}}}"


class Slope(sp.Function):
    """f_l'(z): the derivative of a piecewise-linear activation of layer l (leaky ReLU),
    defined once in the document, written by name in every path and δ."""

    nargs = 2

    def _latex(self, printer, exp=None):
        text = rf"f_{{{printer._print(self.args[1])}}}'\left({printer._print(self.args[0])}\right)"
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"


def readable(expr, layer_of: dict):
    """``expr`` with each step function of a pre-activation (f' of ReLU, leaky ReLU) as
    𝟙[z > 0] or f_l'(z): the printed form only; values come from the original."""
    if not isinstance(expr, sp.Basic) or not expr.has(sp.Piecewise):
        return expr

    def swap(pw):
        if len(pw.args) != 2 or pw.args[1][1] is not sp.true:
            return pw
        (lo, c), (hi, _) = pw.args
        if not isinstance(c, sp.LessThan) or c.rhs != 0 or not c.lhs.is_Symbol:
            return pw
        z = c.lhs
        if lo == 0 and hi == z:
            return sp.Max(0, z, evaluate=False)           # ReLU itself: max(0, z)
        if not (lo.is_number and hi == 1):
            return pw
        if lo == 0:
            return Indicator(z)                           # ReLU′
        return Slope(z, layer_of[z]) if z in layer_of else pw   # leaky ReLU′ of a neuron

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), swap)
