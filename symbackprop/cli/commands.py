"""The ``symbackprop`` commands, run on parsed arguments: a thin shell around the façade.

Every user error becomes one message on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import stat
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import sympy as sp

from ..api import (DEFAULT_EXAMPLE, MAX_STEPS, PLOT_FORMATS, ConvModel, DocumentError, Model,
                  NonFinite, SpecError, check_files, claims_names, claims_path, conv_eval_text,
                  RecurrentModel, example_names, example_path, generate, generate_conv,
                  load_samples_csv, make_conv_documents, make_documents, plot_loss, prepare,
                  report_json, report_text, split_paths, train, training_json, write_atomic,
                  write_files)
from ..core.naming import (PRESET_SAMPLES, PRESET_SOURCES, PRESETS, check_class_targets,
                           with_preset)
from ..core.defaults import CLAIM_TIMEOUT
from ..core.files import read_text_limited
from ..core.limits import LimitError, run_bounded
from ..core.spec import Sample, Values, load_spec, raised_limits
from ..formula.names import LOSS, build_scope
from ..formula.ops import FormulaError
from ..formula.evaluate import CODE
from ..formula.examples import EXAMPLE_LOSS, EXAMPLE_NUMBER, example_sum
from ..formula.reader import parse_instances
from ..checker.batch import D_NAME, marked
from ..core.parameters import samples_from_spec
from ..numeric.optimizers import penalty
from ..numeric.train import compare, first_update, penalised, plot_losses, training_steps
from . import rnn as recurrent
from .exercises import cmd_exercises
from .parser import FORMATS, UsageError


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; the exit status."""
    try:
        with raised_limits(getattr(args, "max_params", None), getattr(args, "max_layers", None)):
            return _run(args)
    except BrokenPipeError:           # `symbackprop eval … | head`: the reader left; end quietly
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass                          # not a real file (a test's capture): nothing to flush


def _run(args) -> int:
    try:
        if args.command in (None, "derive"):
            return cmd_derive(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "codegen":
            return cmd_codegen(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "check":
            return cmd_check(args)
        if args.command == "notations":
            return cmd_notations(args)
        if args.command == "exercises":
            return cmd_exercises(args)
        if args.command == "translate":
            return cmd_translate(args)
        if args.command == "examples":
            print("specs (symbackprop derive NAME, eval NAME, check NAME …):")
            for name in example_names():
                print(f"  {name:26s} {example_path(name)}")
            print("claims files (symbackprop check SPEC NAME, from any directory):")
            for name in claims_names():
                print(f"  {name:26s} {claims_path(name)}")
            return 0
    except (SpecError, UsageError, DocumentError) as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 2
    except NonFinite as exc:          # valid input whose numbers leave float64's range
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _model(spec: str | None, preset: str | None = None) -> Model:
    """The model of a spec argument: a TOML file, or a built-in example's name;
    ``preset`` (``--notation``) replaces the spec's [notation] preset."""
    source = _spec_source(spec)
    if preset is None:
        return prepare(source)
    loaded = load_spec(example_path(source) if isinstance(source, str) else source)
    return prepare(_with_preset(loaded, preset))


def _with_preset(spec, preset: str):
    """The spec with ``--notation PRESET`` over its [notation]."""
    notation = with_preset(spec.notation, preset, spec.source)
    check_class_targets(notation, spec.values, spec.source)
    return replace(spec, notation=notation)


def _spec_source(spec: str | None) -> Path | str:
    """A spec argument as ``prepare`` takes it: a path, or a built-in example's name."""
    if spec is None:
        return example_path(DEFAULT_EXAMPLE)
    if not spec.strip():
        raise UsageError(f"spec {spec!r}: expected a network spec file (TOML), not an empty name.")
    if Path(spec).exists():
        return Path(spec)
    if spec in example_names():
        return spec
    if spec.lower() in FORMATS:
        raise UsageError(f"{spec}: a format given where the spec goes; give formats with -f, "
                         f"one or a comma list (-f md,{spec}).")
    return Path(spec)                     # the spec error names the missing file


def cmd_notations(args) -> int:
    """The notation presets ([notation] preset, --notation), a source and a sample each."""
    print("notation presets ([notation] preset = NAME, or derive/check --notation NAME):")
    for name in PRESETS:
        print(f"  {name:11s} {PRESET_SOURCES[name]}")
        print(f"  {'':11s}   {PRESET_SAMPLES[name]}")
    print("each preset sets these keys (explicit [notation] keys override them):")
    keys = list(dict.fromkeys(k for p in PRESETS.values() for k in p))
    print("  " + ", ".join(keys))
    return 0


MAX_INSTANCES_SHOWN = 8     # a generic claim is translated instance by instance, up to this


def cmd_translate(args) -> int:
    """Claims in one preset's letters → the same claims in another's, through the parsed
    form (SymPy in network symbols), printed by the target notation.  A line that does not
    parse, or has no per-example counterpart (a batch formula), is kept as written with the
    reason; a generic claim (free l, j) is written out instance by instance."""
    source = _spec_source(args.spec)
    loaded = load_spec(example_path(source) if isinstance(source, str) else source)
    old, new = prepare(_with_preset(loaded, args.source)), prepare(_with_preset(loaded, args.target))
    scope = build_scope(old)
    loss = sp.Symbol(new.notation.loss)
    text = read_text_limited(args.claims, MAX_CLAIMS_BYTES, "claims file")
    print(f"% {args.claims}: {args.source} → {args.target} ({loaded.name})")
    for number, line in enumerate(text.splitlines(), start=1):
        claim = line.split("#", 1)[0].strip()
        if not claim:
            continue
        try:   # untrusted text: each line in a child with check's time and memory limits
            kind, out = run_bounded(translate_line, (claim, scope, new.notation, loss),
                                    seconds=CLAIM_TIMEOUT, memory_mb=TRANSLATE_MB)
        except LimitError as err:
            print(f"% line {number}: kept as written, not translated ({err}): {claim}")
            continue
        if kind == "kept":                          # a batch formula: 'm' has no value here
            print(f"% line {number}: kept as written, not read in {args.source}'s letters or "
                  f"with no per-example form in {args.target}'s ({out}): {claim}")
            continue
        if len(out) > 1 or (out and out[0][1]):
            print(f"% line {number}: generic; its {len(out)} instance(s) in {args.target}'s letters:")
        for sides, where in out[:MAX_INSTANCES_SHOWN]:
            print(" = ".join(sides) + (f"   % {where}" if where else ""))
        if len(out) > MAX_INSTANCES_SHOWN:
            print(f"% … {len(out) - MAX_INSTANCES_SHOWN} more instances")
    return 0


MAX_CLAIMS_BYTES = 5_000_000     # as check's claims files
TRANSLATE_MB = 1024              # as check's claims


def translate_line(claim: str, scope, notation, loss) -> tuple[str, object]:
    """("kept", reason) for a line with no reading in the source letters, else
    ("ok", [(sides in the target's LaTeX, "l = 2, j = 1" or ""), …]) instance by instance."""
    numbered, by_letter = EXAMPLE_NUMBER.set(None), EXAMPLE_LOSS.set(False)
    try:
        instances = parse_instances(claim, scope)
        one_of_many = EXAMPLE_NUMBER.get() is not None or EXAMPLE_LOSS.get()
    except FormulaError as err:
        return "kept", err.message.split(";")[0]
    finally:
        EXAMPLE_NUMBER.reset(numbered)
        EXAMPLE_LOSS.reset(by_letter)
    several = len(getattr(getattr(scope.model.spec, "values", None), "samples", None) or ()) > 1
    if marked(claim) or example_sum(claim) or one_of_many or (several and CODE.search(claim)) \
            or (getattr(scope.model.notation, "preset", None) == "cs231n" and D_NAME.search(claim)):
        return "kept", ("a formula of the batch (its matrices, sums over the examples, one "
                        "numbered example, or CS231n's gradients with their 1/N)")
    return "ok", [([_side_text(s, notation, loss) for s in c.sides],
                   ", ".join(f"{k} = {v}" for k, v in c.indices)) for c in instances]


def _side_text(side, notation, loss) -> str:
    """A side in the target's letters; a number (or matrix of numbers) as written, so its
    digits, which the check reads as the places claimed, stay the same."""
    expr = side.expr
    numeric = expr.is_number if isinstance(expr, sp.Basic) and not isinstance(expr, sp.MatrixBase) \
        else isinstance(expr, sp.MatrixBase) and all(e.is_number for e in expr)
    return side.text.strip() if numeric else notation.tex(expr.xreplace({LOSS: loss}))


def _learning_rate(lr: float | None) -> float | None:
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise UsageError(f"--lr {lr}: expected a positive, finite learning rate.")
    return lr


def dumps(data) -> str:
    """Strict JSON: no bare NaN or Infinity (the commands report non-finite numbers as
    errors, or as null with a message, before they get here)."""
    return json.dumps(data, allow_nan=False)


def cmd_derive(args) -> int:
    model = _model(getattr(args, "spec", None), getattr(args, "notation", None))
    if isinstance(model, RecurrentModel):
        if getattr(args, "show", None):     # issue #21: the picture cannot label a recurrence
            raise UsageError(f"--show {','.join(args.show)}: the picture with numbers labels dense, "
                             "add and flatten layers only; this is a recurrent network (rnn "
                             "layers), whose numbers are in its document's tables. Derive without "
                             "--show.")
        return recurrent.cmd_derive(args, model)
    if getattr(args, "data", None):
        model = _with_data(model, args.data)
    init = getattr(args, "init", None)
    digits = getattr(args, "digits", None)
    if digits is None:
        digits = 20 if getattr(args, "exact", False) else 6
    if not 1 <= digits <= 50:
        raise UsageError(f"--digits {digits}: expected a number of significant digits from 1 to 50.")
    templates = getattr(args, "templates", None)
    if templates is not None and not Path(templates).is_dir():
        raise UsageError(f"--templates {templates}: no such folder; expected a directory of "
                         "templates (copies of the shipped ones in templates/).")
    only, suffix = None, ""
    if getattr(args, "param", None) is not None:
        if not args.param.strip():
            raise UsageError("--param \"\": expected the name of a parameter (e.g. w7, w^1_11).")
        only = model.find_parameter(args.param)
        if only is None:
            known = ", ".join(list(model.notation.slots)[:12]) or "w^1_11, b^1_1, … (or W1_1_1)"
            raise UsageError(f"--param {args.param}: no such parameter. Parameters are named "
                             f"like: {known}.")
        # a file-name-safe suffix: w^1_{1,11} → _w1_1_11
        suffix = "_" + re.sub(r"[^A-Za-z0-9_]", "", re.sub(r"[,/]", "_", args.param))
    show = list(dict.fromkeys(getattr(args, "show", None) or []))
    if show and getattr(args, "equations", False):
        raise UsageError(f"--show {','.join(show)} puts numbers on the document's pictures; "
                         "--equations writes the key equations alone, without a picture.")
    if show and isinstance(model, ConvModel):
        raise UsageError(f"--show {','.join(show)}: the picture with numbers labels dense, add and "
                         "flatten layers only; this is a convolutional network (conv and pooling "
                         "layers), whose numbers are in its document's tables. Derive without --show.")
    if show and not (model.spec.values is not None and model.spec.values.samples):
        raise UsageError(f"--show {','.join(show)} needs a worked example: give values.x and "
                         "values.y in the spec's [values] table (the numbers come from it).")
    worked = None
    if model.spec.values is not None and model.spec.values.samples:
        worked = model.worked(init, exact=getattr(args, "exact", False))
    elif getattr(args, "exact", False):
        raise UsageError("--exact needs a worked example: give values.x and values.y in the spec.")
    elif init is not None:
        print(f"symbackprop: note: --init {init} not used: the spec gives no [values] x and y, so "
              "the document is the symbolic derivation without a worked example (add values.x "
              "and values.y for one, with seeded random parameters where [values] has none).",
              file=sys.stderr)
    k = getattr(args, "steps", None)
    if k is not None:
        if isinstance(model, ConvModel):
            raise UsageError(f"--steps {k}: the steps of training are written for dense networks; "
                             "a convolutional network's document shows one step (issue #18).")
        if worked is None:
            raise UsageError(f"--steps {k} needs a worked example: give values.x and values.y "
                             "(or [[values.samples]]) in the spec.")
        worked = replace(worked, steps=model.steps(k, exact=getattr(args, "exact", False), init=init))
    make = make_conv_documents if isinstance(model, ConvModel) else make_documents   # issue #18
    files = make(model, getattr(args, "format", None) or ["md"], model.spec.name + suffix,
                           worked, only, digits, templates,
                           detail=getattr(args, "detail", "layer"),
                           fragment=getattr(args, "fragment", False),
                           equations=getattr(args, "equations", False), init=init,
                           show=show)
    for out in write_files(Path(getattr(args, "output", "output")), files):   # all or none
        print(f"wrote {out}")
    return 0


def evaluation_json(model: Model, params, ev, new) -> dict:
    return {
        "loss": ev.loss,
        "batch": {"examples": int(ev.losses.shape[0]), "reduction": ev.batch},
        "losses": ev.losses.tolist(),
        "outputs": ev.outputs[:, 0].tolist() if ev.outputs.shape[1] == 1 else ev.outputs.T.tolist(),
        "layers": [{"z": _col(z), "a": _col(a), "delta": _col(dl)}
                   for z, a, dl in zip(ev.z, ev.a[1:], ev.delta)],
        "gradients": {k: v.tolist() for k, v in ev.gradients.items()},
        "updated": {k: v.tolist() for k, v in new.items()},
        "by_name": model.by_name(params, ev, new),
    }


def _col(m):
    return m[:, 0].tolist() if m.shape[1] == 1 else m.T.tolist()


def cmd_codegen(args) -> int:
    model = _model(args.spec)
    if isinstance(model, RecurrentModel):
        return recurrent.cmd_codegen(args, model)
    out = Path(args.output) if args.output else Path("output") / f"{model.spec.name}_grads.py"
    if out.suffix != ".py" or not out.stem.isidentifier():
        raise UsageError(f"-o {out}: expected a Python module file name such as grads.py "
                         "(letters, digits, underscores; ending in .py), so that it can be imported.")
    if isinstance(model, ConvModel):       # issue #18: numeric/convcode.py
        write_atomic(out, generate_conv(model.spec, source=str(args.spec)))
        print(f"wrote {out}")
        return 0
    write_atomic(out, generate(model.derivation, source=str(args.spec), slots=model.notation.slots,
                               frozen=model.frozen))
    print(f"wrote {out}")
    return 0


def _with_data(model: Model, path: str) -> Model:
    """The model whose examples are the rows of the CSV file ``path`` (the document's
    examples: its worked example is the first), the decimals as the file writes them."""
    X, Y = load_samples_csv(path, model.spec.inputs, model.spec.sizes[-1], model.spec.loss)
    samples = tuple(Sample(tuple(Decimal(repr(float(v))) for v in X[:, i]),
                           tuple(Decimal(repr(float(v))) for v in Y[:, i]))
                    for i in range(X.shape[1]))
    values = replace(model.spec.values or Values(), samples=samples)
    check_class_targets(model.spec.notation, values, path)
    return prepare(replace(model.spec, values=values))


def _data(args, model: Model):
    """(X, Y) from ``--data file.csv``, or None for the spec's own samples."""
    if not getattr(args, "data", None):
        return None
    return load_samples_csv(args.data, model.spec.inputs, model.spec.sizes[-1], model.spec.loss)


def cmd_eval(args) -> int:
    _learning_rate(args.lr)
    model = _model(args.spec)
    if isinstance(model, RecurrentModel):
        return recurrent.cmd_eval(args, model)
    data = _data(args, model)
    params, ev, new, lr = model.step(args.init, args.lr, data=data)
    data_loss, extra = ev.loss, penalty(params, model.spec.regularization)
    if model.spec.regularization is not None:   # loss, gradients and update with the penalty
        ev = penalised(model, params, *(data or samples_from_spec(model.spec)))
        new = model.descend(params, ev, lr)
    if model.spec.optimizer is not None:        # the update is the optimiser's first step
        new, lr = first_update(model, params, ev, args.lr)
    if args.json:
        print(dumps(evaluation_json(model, params, ev, new)
                    | {"data_loss": data_loss, "penalty": extra}))
        return 0
    print(f"loss = {ev.loss:.10g}   (learning rate {lr:g})")
    if model.spec.regularization is not None:
        print(f"  = data loss {data_loss:.10g} + penalty {extra:.10g}")
    if isinstance(model, ConvModel):       # maps and kernels (issue #18)
        print(conv_eval_text(model, params, ev, new), end="")
        return 0
    n = ev.losses.shape[0]
    if n > 1:
        print(f"batch of {n} examples: loss and gradients are the {ev.batch} over the batch; "
              "the tables show example 1 (--json has every example)")
    name = model.notation.text.get
    for layer, z, a, dl in zip(model.network.layers, ev.z, ev.a[1:], ev.delta):
        print(f"\nlayer {layer.index}")
        for j in range(z.shape[0]):
            print("  " + "   ".join(f"{name(sym, str(sym)):>12} = {v[j, 0]:<16.10g}" for sym, v in
                                    ((layer.z[j], z), (layer.a[j], a), (layer.delta[j], dl))).rstrip())
    print("\ngradients and updated parameters")
    for layer in model.network.dense_layers:
        for key, symbols in ((f"W{layer.index}", layer.W), (f"b{layer.index}", layer.b)):
            g = ev.gradients[key]
            for idx in sorted(((i,) if g.ndim == 1 else i) for i in _indices(g)):
                place = key + "[" + "][".join(str(i) for i in idx) + "]"
                sym = symbols[idx] if len(idx) == 2 else symbols[idx[0], 0]
                label = f"{name(sym, place)} ({place})"
                print(f"  {label:>22} value {params[key][idx]:>14.10g}  grad {g[idx]:>16.10g}  "
                      f"updated {new[key][idx]:>14.10g}")
    named = model.by_name(params, ev, new)
    if named:
        print("\nby name (a tied name's gradient is the sum over its places)")
        for name, row in named.items():
            print(f"  {name:>12} value {row['value']:>14.10g}  grad {row['gradient']:>16.10g}  "
                  f"updated {row['updated']:>14.10g}{'  (frozen)' if row['frozen'] else ''}")
    return 0


def _indices(g):
    return [i if len(i) > 1 else i[0] for i in np.ndindex(g.shape)]


def cmd_train(args) -> int:
    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise UsageError(f"--steps {args.steps}: expected a number of steps from 1 to {MAX_STEPS}.")
    _learning_rate(args.lr)
    plot = Path(args.plot) if args.plot else None
    if plot is not None and plot.suffix[1:].lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot {plot}: expected a file name ending in .png or .svg.")
    model = _model(args.spec)
    if isinstance(model, RecurrentModel):
        return recurrent.cmd_train(args, model)
    data = _data(args, model)
    if getattr(args, "compare", None):
        return _train_compare(args, model, data)
    if args.steps is None:          # [optimizer] steps, or epochs × mini-batches an epoch
        try:
            n = data[0].shape[1] if data is not None else len(model.spec.values.samples)
            args.steps = training_steps(model, n)
        except (ValueError, AttributeError):
            raise UsageError(f"{model.spec.source}: give --steps N, or steps or epochs in the "
                             "spec's [optimizer] table.") from None
        if args.steps > MAX_STEPS:
            raise UsageError(f"{model.spec.source}: [optimizer] asks for {args.steps:,} steps; "
                             f"at most {MAX_STEPS:,}.")
    progress = iter
    if sys.stderr.isatty():
        # lazy: tqdm only draws a bar on a terminal; piped runs never need it
        from tqdm import tqdm
        progress = lambda steps: tqdm(steps, desc="training", unit="step", leave=False)  # noqa: E731
    t = train(model, args.steps, args.lr, args.init, data=data, progress=progress,
              keep_going=args.keep_going)
    if t.diverged is not None:
        print(f"symbackprop: warning: training diverged at step {t.diverged[0]}: "
              f"{t.diverged[1]}; ran on to step {len(t.loss_history) - 1} (--keep-going)",
              file=sys.stderr)
    if plot is not None:
        plot_loss(t, plot, f"{model.spec.name}: {model.spec.batch} loss, learning rate {t.learning_rate:g}")
    if args.json:
        print(dumps(training_json(t)))
        return 0
    print(f"loss {t.loss_history[0]:.10g} -> {t.final_loss:.10g} after {len(t.loss_history) - 1} "
          f"steps ({t.optimizer.name}, learning rate {t.learning_rate:g}, batch {model.spec.batch})")
    for name, row in t.by_name.items():
        print(f"  {name:>10} = {row['value']:.10g}{'  (frozen)' if row['frozen'] else ''}")
    if not t.by_name:                 # the spec's arrays, ready to paste into [values]
        for key, value in t.parameters.items():
            print(f"  {key} = {_toml_array(value)}")
    if plot is not None:
        print(f"wrote {plot}")
    return 0


def _train_compare(args, model: Model, data) -> int:
    """``train --compare sgd,adam,…``: one run per optimiser, their curves on one plot."""
    if args.steps is None and (model.spec.optimizer is None or (model.spec.optimizer.steps is None
                                                                and model.spec.optimizer.epochs is None)):
        raise UsageError(f"{model.spec.source}: give --steps N, or steps or epochs in the "
                         "spec's [optimizer] table.")
    runs = compare(model, args.compare, args.steps, args.lr, args.init, data, args.keep_going)
    if args.plot:
        plot_losses(runs, Path(args.plot), f"{model.spec.name}: {model.spec.batch} loss")
    if args.json:
        print(dumps({"compare": {name: training_json(t) for name, t in runs.items()}}))
        return 0
    for name, t in runs.items():
        print(f"{name:>9}: loss {t.loss_history[0]:.10g} -> {t.final_loss:.10g} after "
              f"{len(t.loss_history) - 1} steps (learning rate {t.learning_rate:g})")
    if args.plot:
        print(f"wrote {args.plot}")
    return 0


def _toml_array(value: np.ndarray) -> str:
    """A parameter array as a spec writes it: ``[[0.1, 0.4], [0.2, 0.5]]``."""
    if value.ndim == 0:
        return f"{float(value):.10g}"
    return "[" + ", ".join(_toml_array(v) for v in value) + "]"


def finite_or_null(data, path: str = "", notes: list | None = None):
    """``check --json``: a non-finite number (a counterexample where a side is infinite) is
    written as null, and the claim's ``notes`` say which field it was."""
    if isinstance(data, float) and not math.isfinite(data):
        if notes is not None:
            notes.append(f"{path} is {data} (not a JSON number), written as null")
        return None
    if isinstance(data, dict):
        notes = data["notes"] if isinstance(data.get("notes"), list) else notes
        return {k: finite_or_null(v, f"{path}.{k}".lstrip("."), notes) for k, v in data.items()}
    if isinstance(data, list):
        return [finite_or_null(v, f"{path}[{i}]", notes) for i, v in enumerate(data)]
    return data


def _shipped_claims(path: str) -> str:
    """A path as given, or the shipped claims file of that name when no such file is here."""
    shipped = None if os.path.lexists(path) else claims_path(path)
    return str(shipped) if shipped is not None else path


def _looks_like_spec(path: Path) -> bool:
    """A .toml file, or a file whose first lines read like a network spec."""
    if path.suffix == ".toml":
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):     # a FIFO or device: not opened here
            return False
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return (re.search(r"^\s*inputs\s*=\s*\d", head, re.M) is not None
            and re.search(r"^\s*\[\[\s*layer\s*\]\]", head, re.M) is not None)


def _swapped(paths: list[str], no_spec: bool) -> str | None:
    """The message for claims given before their spec (``check claims.md net.toml``)."""
    specs = [p for p in paths[1:] if p.endswith(".toml")
             or (p in example_names() and not os.path.lexists(p))]
    if no_spec or not specs:
        return None
    return (f"{specs[0]} is a spec, given after the claims: expected symbackprop check SPEC "
            "CLAIMS... — the spec first, then the claims files.")


def cmd_check(args) -> int:
    """Check claims files against a spec; exit 0 when every claim is correct, else 1."""
    if not 0 < args.timeout <= 600:
        raise UsageError(f"--timeout {args.timeout:g}: expected seconds between 0 and 600.")
    if not 0 < args.max_time <= 86400:
        raise UsageError(f"--max-time {args.max_time:g}: expected seconds between 0 and 86400.")
    paths = [_shipped_claims(p) for p in args.paths]
    try:
        spec, files = split_paths(paths, args.no_spec)
    except ValueError as err:
        raise UsageError(_swapped(paths, args.no_spec) or str(err)) from None
    if spec is None and _swapped(paths, args.no_spec):
        raise UsageError(_swapped(paths, args.no_spec))
    for f in files:
        if _looks_like_spec(f):
            raise UsageError(f"{f}: a network spec given as a claims file; expected "
                             "symbackprop check SPEC CLAIMS... — the spec first, then the "
                             "claims files (or --no-spec CLAIMS...).")
    if spec is not None and args.notation:
        loaded = load_spec(spec)
        model = prepare(_with_preset(loaded, args.notation))
    else:
        model = prepare(spec) if spec is not None else None
    if isinstance(model, RecurrentModel):        # issue #19: checker/recurrent.py
        return recurrent.cmd_check(args, model, files)
    reports = check_files(model, files, timeout=args.timeout, max_time=args.max_time)
    print(dumps(finite_or_null(report_json(reports))) if args.json else report_text(reports, model),
          end="")
    return 0 if all(r.ok for r in reports) else 1
