"""The command line's options: parsed before anything heavy is imported.

Imports only the standard library and ``core.defaults``, so ``symbackprop --help``
and a bad option answer without loading SymPy or NumPy.
"""
from __future__ import annotations

import argparse

from ..core.defaults import CHECK_SECONDS, CLAIM_TIMEOUT, LEARNING_RATE, MAX_LAYERS, MAX_PARAMETERS
from ..core.defaults import OPTIMIZER_DEFAULTS

EPILOG = """examples:
  symbackprop                              derive the built-in 2-3-3-1 example into ./output
  symbackprop derive net.toml -o notes     write notes/<name>.md (+ <name>.svg, the network)
  symbackprop derive net.toml -f tex -f pdf -f html   LaTeX, PDF and an offline HTML page
  symbackprop eval net.toml --json         every forward value, gradient and update as JSON
  symbackprop eval net.toml --data b.csv   a batch of examples (CSV header x1..xn,y1..ym)
  symbackprop codegen net.toml -o grads.py a standalone NumPy module: forward, loss, gradients
  symbackprop train net.toml --steps 500   gradient descent; --plot loss.png, --json
  symbackprop examples                     list the shipped example specs
  symbackprop notations                    list the notation presets (derive --notation ng)
  symbackprop translate net.toml c.txt --from ng --to nielsen   claims in another book's letters
"""


class UsageError(Exception):
    """A bad command line or option value (exit status 2)."""


def _integer(least: int, what: str):
    """An argparse type: an integer ≥ ``least``, else one message saying ``what`` it must be."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"expected {what}, got {n}")
        return n
    return parse


FORMATS = ("md", "tex", "pdf", "html")


def formats(text: str) -> list[str]:
    """An argparse type: ``md``, or a comma list ``md,tex,pdf`` of known formats."""
    chosen = [f.strip().lower() for f in text.split(",")]
    wrong = [f for f in chosen if f not in FORMATS]
    if wrong:
        raise argparse.ArgumentTypeError(
            f"{wrong[0]!r} is not a format; expected {', '.join(FORMATS)} (one, or a comma list "
            "like md,tex,pdf)")
    return chosen


# render.numbered.SHOW_ITEMS (kept here: the parser imports no SymPy; a test checks they agree)
SHOW_ITEMS = ("values", "grads", "delta", "updates")


def show_items(text: str) -> list[str]:
    """An argparse type: ``values,grads,delta,updates`` (any of them, comma-separated)."""
    chosen = [s.strip().lower() for s in text.split(",")]
    wrong = [s for s in chosen if s not in SHOW_ITEMS]
    if wrong:
        raise argparse.ArgumentTypeError(
            f"{wrong[0]!r} is not a number the picture shows; expected any of "
            f"{', '.join(SHOW_ITEMS)} (a comma list like values,grads)")
    return list(dict.fromkeys(chosen))


# --init SEED: NumPy's generator takes no negative seed
_seed = _integer(0, "a non-negative integer seed")


def _optimizers(text: str) -> list[str]:
    """An argparse type: ``sgd,adam,…``, each one of OPTIMIZER_DEFAULTS, none twice."""
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if n not in OPTIMIZER_DEFAULTS:
            raise argparse.ArgumentTypeError(f"unknown optimizer {n!r}; expected a comma-separated "
                                             f"list of {', '.join(OPTIMIZER_DEFAULTS)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"an optimizer named twice in {text!r}")
    return names
_count = _integer(1, "a positive integer")


# naming.PRESETS's names (kept here: the parser imports no SymPy; a test checks they agree)
EXERCISE_FORMATS = ("json", "md", "html", "moodle", "pdf", "tex", "qti")


def _exercise_formats(text: str) -> list[str]:
    chosen = [f.strip().lower() for f in text.split(",") if f.strip()]
    wrong = [f for f in chosen if f not in EXERCISE_FORMATS]
    if wrong or not chosen:
        raise argparse.ArgumentTypeError(f"{(wrong or [text])[0]!r} is not an exercise format; "
                                         f"expected {', '.join(EXERCISE_FORMATS)}")
    return chosen


PRESET_NAMES = ("nielsen", "bishop", "goodfellow", "ng", "cs231n")


def _notation_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--notation", choices=PRESET_NAMES, metavar="PRESET",
                   help="write (derive) or read (check) in a book's letters, over the spec's "
                        f"[notation]: {', '.join(PRESET_NAMES)} (symbackprop notations)")


def _limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-params", type=_count, metavar="N",
                   help=f"allow up to N parameters (default {MAX_PARAMETERS:,}; more take longer)")
    p.add_argument("--max-layers", type=_count, metavar="N",
                   help=f"allow up to N layers (default {MAX_LAYERS:,}; more take longer)")


def parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    p = argparse.ArgumentParser(
        prog="symbackprop", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Exact backpropagation mathematics for small neural networks: "
                    "derivations, numbers and checks.")
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("derive", help="write the derivation document",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop derive net.toml -f md -o output\n"
                              "  symbackprop derive            (the built-in 2-3-3-1 example)")
    d.add_argument("spec", nargs="?", help="network spec (TOML); default: the built-in example")
    d.add_argument("-f", "--format", action="extend", type=formats, metavar="FORMATS",
                   help="output formats, a comma list or repeated: md (+ the network as SVG), "
                        "tex, pdf (needs pdflatex), html (one offline page); default md "
                        "(-f md,tex,pdf)")
    d.add_argument("-o", "--output", default="output", help="output directory (default ./output)")
    d.add_argument("--init", type=_seed, metavar="SEED", help="random parameters where [values] gives none")
    d.add_argument("--templates", metavar="DIR", help="a directory of templates overriding the shipped ones")
    d.add_argument("--param", metavar="NAME", help="the derivation of one parameter alone (e.g. w7, w^1_11)")
    d.add_argument("--detail", choices=("summary", "layer", "full"), default="layer",
                   help="the chain rule parameter by parameter: summary (none; the table of "
                        "numbers), layer (default: one worked weight and bias per layer), "
                        "full (every parameter)")
    d.add_argument("--fragment", action="store_true",
                   help="-f tex: the body alone, without preamble, to \\input into your notes")
    d.add_argument("--equations", action="store_true",
                   help="only the key equations (forward pass, BP1-BP4, the update), numbered: "
                        "<name>_equations.tex (a fragment) and/or .md")
    d.add_argument("--digits", type=int, metavar="N",
                   help="significant digits of the worked example's numbers (default 6; 20 with --exact)")
    d.add_argument("--show", action="extend", type=show_items, metavar="ITEMS",
                   help="the worked example's numbers on the network pictures: values (weights, "
                        "biases, z, a), grads, delta, updates; a comma list (needs [values] x, y)")
    d.add_argument("--exact", action="store_true",
                   help="worked example in exact rational arithmetic from the decimals as written")
    d.add_argument("--steps", type=int, metavar="K",
                   help="the first K optimiser steps of the worked example ([optimizer], or "
                        "plain gradient descent), every optimiser state shown (1 to 20)")
    d.add_argument("--data", metavar="CSV", help="the document's examples from a CSV file (header "
                   "x1..xn, y1..ym), replacing the spec's: the worked example is the first, and "
                   "with several the document adds the whole batch in matrix form")
    e = sub.add_parser("eval", help="evaluate loss, every intermediate, gradients and one update",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop eval net.toml --json\n  symbackprop eval net.toml --init 0\n"
                              "  symbackprop eval net.toml --data batch.csv --json")
    e.add_argument("spec", help="network spec (TOML)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--init", type=_seed, metavar="SEED", help="random parameters where [values] gives none")
    e.add_argument("--lr", type=float,
                   help=f"learning rate (default [values].learning_rate or {LEARNING_RATE})")
    e.add_argument("--data", metavar="CSV", help="a batch of examples: a CSV file whose header names "
                   "the columns x1..xn, y1..ym (replaces the spec's samples)")
    g = sub.add_parser("codegen", help="write a standalone NumPy module: forward, loss, gradients, update",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop codegen net.toml -o grads.py\n"
                              "  python -c 'import grads; help(grads.gradients)'")
    g.add_argument("spec", help="network spec (TOML)")
    g.add_argument("-o", "--output", metavar="FILE",
                   help="the module to write (default ./output/<name>_grads.py)")
    t = sub.add_parser("train", help="gradient descent, or the spec's [optimizer], on its examples",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop train net.toml --steps 1000 --lr 0.5 --plot loss.png\n"
                              "  symbackprop train net.toml --steps 100 --json")
    t.add_argument("spec", help="network spec (TOML)")
    t.add_argument("--steps", type=int, metavar="N",
                   help="number of optimiser steps (default: [optimizer] steps, or epochs × "
                        "mini-batches an epoch)")
    t.add_argument("--lr", type=float,
                   help="learning rate (default [optimizer].lr, else [values].learning_rate, else "
                        f"the optimiser's PyTorch default; {LEARNING_RATE} without [optimizer])")
    t.add_argument("--init", type=_seed, metavar="SEED", help="random parameters where [values] gives none")
    t.add_argument("--json", action="store_true",
                   help="print {loss_history, final_loss, parameters, by_name} as JSON")
    t.add_argument("--plot", metavar="FILE", help="save the loss curve (.png or .svg)")
    t.add_argument("--compare", type=_optimizers, metavar="NAMES",
                   help="train once per optimizer (e.g. sgd,momentum,adam), each with its "
                        "[optimizer.<name>] table or its defaults; --plot draws every curve, "
                        "--json gives {\"compare\": {name: …}}")
    t.add_argument("--data", metavar="CSV", help="train on a CSV file of examples (header x1..xn, "
                   "y1..ym) instead of the spec's samples")
    t.add_argument("--keep-going", action="store_true",
                   help="run every step even after the loss or a gradient became inf or NaN "
                        "(default: stop there with exit status 1, naming the step and quantity)")
    c = sub.add_parser("check", help="check hand-derived formulas: correct, incorrect (why), "
                       "unparseable or undecided", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop check worked_2331_numbered my_derivation.md\n"
                              "  symbackprop check net.toml a.txt b.txt --json\n"
                              "  symbackprop check --no-spec calculus.txt\n"
                              "exit status: 0 all claims correct, 1 any is not, 2 usage or spec error")
    c.add_argument("paths", nargs="+", metavar="SPEC CLAIMS",
                   help="a spec (TOML file or built-in example name) then claims files "
                        "(text: one claim a line, # comments; .md/.tex: every equation)")
    c.add_argument("--no-spec", action="store_true", help="free-standing calculus: no spec, only claims")
    c.add_argument("--json", action="store_true", help="print {claims: [...], files, summary} as JSON")
    c.add_argument("--timeout", type=float, default=CLAIM_TIMEOUT, metavar="S",
                   help=f"seconds a claim, however many = it chains (default {CLAIM_TIMEOUT:g})")
    c.add_argument("--max-time", type=float, default=CHECK_SECONDS, metavar="S",
                   help=f"seconds the whole run may take (default {CHECK_SECONDS:g}): claims left when it is "
                        "over are undecided")
    sub.add_parser("examples", help="list the built-in example specs",
                   epilog="example:\n  symbackprop examples")
    tr = sub.add_parser("translate", help="rewrite claims from one notation preset into another",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="example:\n  symbackprop translate net.toml claims.txt --from ng --to nielsen\n"
                               "each claim is parsed in the --from letters and printed in the --to letters "
                               "(LaTeX, one a line)")
    tr.add_argument("spec", help="network spec (TOML file or built-in example name)")
    tr.add_argument("claims", help="claims, one a line (# comments)")
    tr.add_argument("--from", dest="source", required=True, choices=PRESET_NAMES, metavar="PRESET",
                    help=f"the claims' notation: {', '.join(PRESET_NAMES)}")
    tr.add_argument("--to", dest="target", required=True, choices=PRESET_NAMES, metavar="PRESET",
                    help="the notation to write them in")
    x = sub.add_parser("exercises", help="randomised backprop exercises with verified keys: pdf, md, "
                       "html, Moodle XML, QTI for Canvas, key.json",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  symbackprop exercises family.toml -n 30 --seed 7 -o exam "
                              "-f pdf -f moodle -f json\n"
                              "exit status: 0 written and verified, 1 no variant after 20 redraws or "
                              "a key failed verification, 2 a family or usage error")
    x.add_argument("family", help="the family spec (TOML; see README 'Exercise families')")
    x.add_argument("-n", type=_count, default=None, metavar="N",
                   help="number of variants (default: one a roster student, else 3)")
    x.add_argument("--seed", type=int, default=0, metavar="S", help="the seed of the variant seeds")
    x.add_argument("-o", "--output", default="exercises", metavar="DIR", help="output folder")
    x.add_argument("-f", "--format", action="extend", type=_exercise_formats, metavar="FORMATS",
                   help=f"one of {', '.join(EXERCISE_FORMATS)} or a comma list; repeatable "
                        "(default json,md)")
    x.add_argument("--roster", metavar="CSV", help="students.csv: one student a row (column "
                   "'student', else the first); variant i goes to student i")
    sub.add_parser("notations", help="list the notation presets, a sample equation each",
                   epilog="example:\n  symbackprop notations\n  symbackprop derive net.toml --notation ng")
    for command in (d, c):
        _notation_option(command)
    for command in (d, e, g, t, c):
        _limit_options(command)
    return p
