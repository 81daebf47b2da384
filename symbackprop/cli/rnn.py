"""The commands on a recurrent spec (issue #19): eval, train, codegen, derive.

Options written for feed-forward networks that a recurrent spec cannot honour yet are
refused by name (exit 2), never ignored.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..api import RecurrentModel, write_atomic, write_files
from ..checker.recurrent import check_recurrent
from ..core.files import read_text_limited
from ..formula.claims import kind_of
from ..render.environment import environment
from ..render.recurrent import make_recurrent_documents
from ..numeric.recurrent_codegen import generate_recurrent
from .parser import UsageError

STEP_NAMES = {"z": "z_t", "h": "h_t", "delta": "δ_t"}


def _refuse(args, options: dict[str, str]) -> None:
    for attr, flag in options.items():
        if getattr(args, attr, None):
            raise UsageError(f"{flag}: not supported for rnn specs yet (the spec's sequences "
                             "and parameters are used).")


def _dumps(data) -> str:
    return json.dumps(data, allow_nan=False)


def _first(arr: np.ndarray) -> list:
    return arr[..., 0].tolist()


def evaluation_json(model: RecurrentModel, params, ev, new, lr: float) -> dict:
    return {"loss": ev.loss, "learning_rate": lr,
            "batch": {"sequences": int(ev.losses.shape[0]), "reduction": ev.batch},
            "steps": int(ev.z.shape[0]), "time": model.spec.recurrence.time,
            "losses": ev.losses.tolist(),
            "h": ev.h.transpose(2, 0, 1).tolist(), "z": ev.z.transpose(2, 0, 1).tolist(),
            "delta": ev.delta.transpose(2, 0, 1).tolist(),
            "outputs": ev.outputs.transpose(2, 0, 1).tolist(),
            "deltay": ev.deltay.transpose(2, 0, 1).tolist(),
            "gradients": {k: v.tolist() for k, v in ev.gradients.items()},
            "updated": {k: v.tolist() for k, v in new.items()}}


def _step(model: RecurrentModel, args):
    params = model.parameters(args.init)
    ev = model.evaluate(params=params)
    if not np.isfinite(ev.loss) or not all(np.isfinite(g).all() for g in ev.gradients.values()):
        raise UsageError(f"{model.spec.source}: the loss or a gradient is not finite in float64; "
                         "scale the inputs or parameters down.")
    settings = model.settings(args.lr)
    from_opt = model.train(1, args.lr, args.init).parameters
    return params, ev, from_opt, settings.base_lr


def cmd_eval(args, model: RecurrentModel) -> int:
    _refuse(args, {"data": "--data"})
    params, ev, new, lr = _step(model, args)
    if args.json:
        print(_dumps(evaluation_json(model, params, ev, new, lr)))
        return 0
    T, B = ev.z.shape[0], ev.losses.shape[0]
    r = model.spec.recurrence
    print(f"loss = {ev.loss:.10g}   (learning rate {lr:g})")
    print(f"{B} sequence{'s' if B > 1 else ''} of T = {T} steps; time = {r.time}, batch = "
          f"{ev.batch}" + (f"; truncated BPTT, k = {r.truncate}" if r.truncate else "")
          + ("; the table shows sequence 1 (--json has every one)" if B > 1 else ""))
    steps = r.outputs_at(T)
    for t in range(1, T + 1):
        print(f"\nstep t = {t}")
        for j in range(ev.z.shape[1]):
            print(f"  z_{t},{j + 1} = {ev.z[t - 1, j, 0]:<16.10g} h_{t},{j + 1} = "
                  f"{ev.h[t, j, 0]:<16.10g} δ_{t},{j + 1} = {ev.delta[t - 1, j, 0]:.10g}")
        if t in steps:
            i = steps.index(t)
            for k in range(ev.outputs.shape[1]):
                print(f"  ŷ_{t},{k + 1} = {ev.outputs[i, k, 0]:<16.10g} δ^y_{t},{k + 1} = "
                      f"{ev.deltay[i, k, 0]:.10g}")
    print("\ngradients (sums over the time steps) and updated parameters")
    for key, g in ev.gradients.items():
        for idx in np.ndindex(g.shape):
            place = key + "".join(f"[{i}]" for i in idx)
            print(f"  {place:>10} value {params[key][idx]:>14.10g}  grad {g[idx]:>16.10g}  "
                  f"updated {new[key][idx]:>14.10g}")
    return 0


def cmd_train(args, model: RecurrentModel) -> int:
    _refuse(args, {"data": "--data", "compare": "--compare", "plot": "--plot"})
    steps = args.steps
    opt = model.spec.optimizer
    if steps is None and opt is not None:
        steps = opt.steps or opt.epochs          # full batch: one step an epoch
    if steps is None:
        raise UsageError(f"{model.spec.source}: give --steps N, or steps or epochs in the "
                         "spec's [optimizer] table.")
    t = model.train(steps, args.lr, args.init, keep_going=args.keep_going)
    if t.diverged is not None:
        print(f"symbackprop: warning: training diverged at step {t.diverged[0]}: {t.diverged[1]}",
              file=sys.stderr)
    if args.json:
        print(_dumps({"loss_history": [float(v) if np.isfinite(v) else None for v in t.loss_history],
                      "learning_rate": t.learning_rate, "optimizer": t.optimizer,
                      "parameters": {k: v.tolist() for k, v in t.parameters.items()}}))
        return 0
    print(f"loss {t.loss_history[0]:.10g} -> {t.final_loss:.10g} after {len(t.loss_history) - 1} "
          f"steps ({t.optimizer}, learning rate {t.learning_rate:g}, batch {model.spec.batch}, "
          f"time {model.spec.recurrence.time})")
    for key, value in t.parameters.items():
        print(f"  {key} = {np.array2string(value, separator=', ', precision=10)}".replace("\n", ""))
    return 0


def cmd_codegen(args, model: RecurrentModel) -> int:
    out = Path(args.output) if args.output else Path("output") / f"{model.spec.name}_grads.py"
    if out.suffix != ".py" or not out.stem.isidentifier():
        raise UsageError(f"-o {out}: expected a Python module file name such as grads.py "
                         "(letters, digits, underscores; ending in .py), so that it can be imported.")
    write_atomic(out, generate_recurrent(model.derivation, source=str(args.spec)))
    print(f"wrote {out}")
    return 0


def cmd_derive(args, model: RecurrentModel) -> int:
    _refuse(args, {"param": "--param", "exact": "--exact", "templates": "--templates",
                   "equations": "--equations", "fragment": "--fragment", "notation": "--notation"})
    if getattr(args, "detail", "layer") != "layer":
        raise UsageError(f"--detail {args.detail}: not supported for rnn specs yet (their "
                         "documents have one level of detail).")
    worked = None
    if model.spec.recurrence.sequences:
        params = model.parameters(getattr(args, "init", None))
        worked = (params, model.evaluate(params=params))
    files = make_recurrent_documents(model, getattr(args, "format", None) or ["md"],
                                     model.spec.name, worked, getattr(args, "digits", None) or 6)
    for out in write_files(Path(getattr(args, "output", "output")), files):   # all or none
        print(f"wrote {out}")
    return 0


MAX_CLAIMS_BYTES = 5_000_000


def cmd_check(args, model: RecurrentModel, files) -> int:
    """Claims about a recurrent spec, judged by checker/recurrent.py; exit 1 when one is wrong."""
    _refuse(args, {"notation": "--notation"})
    reports = []
    for f in files:
        text = read_text_limited(f, MAX_CLAIMS_BYTES, "claims file")
        reports.append((str(f), check_recurrent(model, text, kind_of(f))))
    verdicts = [v for _, vs in reports for v in vs]
    summary = {k: sum(v.verdict == k for v in verdicts) for k in ("correct", "incorrect", "unparseable")}
    if args.json:
        print(_dumps({"claims": [v.to_json() | {"file": f} for f, vs in reports for v in vs],
                      "summary": summary}))
    else:
        print(environment().get_template("rnn_check_report.txt.j2").render(
            reports=reports, spec=model.spec, summary=summary), end="")
    return 1 if summary["incorrect"] else 0
