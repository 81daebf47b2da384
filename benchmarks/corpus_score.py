"""Score ``check`` on the reading corpus (tests/corpus, issue #13).

    python benchmarks/corpus_score.py            # the table per style and the misses
    python benchmarks/corpus_score.py --json     # the same as JSON
    python benchmarks/corpus_score.py --style mazur --style dlai

Every claim of the corpus is checked through ``symbackprop.check`` in this one
process (``isolate=False``).  A style's claims against one spec are checked as one
file, in order, so that a definition line reaches the lines after it; a run of plain
lines and a run of LaTeX (``$…$``) lines go as a text file and a Markdown file.
A claim with several links (``A = B = C``, align rows) is ``incorrect`` if one link
is, else ``unparseable``/``undecided`` if one is, else ``defined`` if one is, else
``correct``.  Its diagnosis is right when one of its incorrect links carries a
diagnosis matching the expected name (``DIAGNOSES``: the checker's wording).

Columns: claims; false incorrect (expected correct or defined, judged incorrect);
false correct (expected incorrect or unparseable, judged correct); % verdicts right;
% of the wrong claims judged incorrect with the right diagnosis; % judged unparseable
or undecided; the median seconds a claim (the time of ``check_claim`` on it, the
spec's model and context built once per file and excluded).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import symbackprop  # noqa: E402
from symbackprop.checker import engine  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"
ROOT = [CORPUS]          # --root: another corpus in the same format (benchmarks/heldout)
STYLES = ("nielsen", "dlai", "cs231n", "goodfellow", "mazur", "calculus")

# expected diagnosis name → a pattern the checker's diagnosis must match (lowercase)
DIAGNOSES = {
    "tied_one_place": r"shared|tied",
    "extra_fprime": r"extra (activation )?derivative|(f'|f′|σ'|σ′).*(extra|twice|not belong|cancels)",
    "missing_fprime": r"missing activation derivative|(f'|f′|σ'|derivative).*(left out|missing)"
                      r"|relu (gate|factor)",
    "wrong_activation": r"wrong activation",
    "activation_for_derivative": r"(itself|function) (written|used) (for|in place of|where)"
                                 r"|instead of its derivative|for its derivative",
    "wrong_derivative": r"wrong derivative|not the derivative|derivative formula"
                        r"|derivative of .* is",
    "wrong_layer": r"wrong layer|layer index|of layer \d+ used|another layer",
    "transpose": r"transpose|indices swapped|swapped",
    "sign_flip": r"sign",
    "sign_flip_term": r"sign",
    "factor_2": r"factor (of )?(2|½)",
    "incomplete_chain": r"incomplete chain|inner derivative|leaves out the path|chain",
    "softmax_diagonal": r"softmax.*(elementwise|diagonal)|diagonal.*softmax",
    "missing_indicator": r"indicator|one-hot|1\(y|− 1|- 1\b",
    "missing_1_over_m": r"1/m|1/n|mean over|average|not divided|batch size",
    "bias_not_summed": r"not summed|summed over|sum over the (batch|examples)|axis",
    "first_example_only": r"first example",
    "bias_as_weight": r"bias",
    "log10": r"log base 10|base.10|log10|natural log",
    "ascent": r"ascent",
    "no_rate": r"learning rate|η is missing|without η",
    "wrong_number": r"wrong number|true value|fewer digits",
    "fewer_digits": r"fewer digits|truncated|rounded",
}


@dataclass
class Outcome:
    style: str
    index: int
    claim: dict
    verdict: str = "unparseable"
    diagnoses: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def expect(self) -> str:
        return self.claim["expect"]

    @property
    def right(self) -> bool:
        return self.verdict == self.expect

    @property
    def diagnosed(self) -> bool:
        """A wrong claim judged incorrect with the expected diagnosis."""
        pattern = DIAGNOSES.get(self.claim.get("mistake", ""), r"$^")
        return self.verdict == "incorrect" and any(
            re.search(pattern, (d or "").lower()) for d in self.diagnoses)


def load(style: str) -> list[dict]:
    with open(ROOT[0] / style / "claims.toml", "rb") as fh:
        return tomllib.load(fh)["claim"]


def is_markup(text: str) -> bool:
    return "$" in text or "\\begin{" in text


def runs(claims: list[dict]):
    """Consecutive claims with the same spec and kind: one file each."""
    group: list[int] = []
    for k, c in enumerate(claims):
        if group and (claims[group[0]]["spec"], is_markup(claims[group[0]]["text"])) != \
                (c["spec"], is_markup(c["text"])):
            yield group
            group = []
        group.append(k)
    if group:
        yield group


def combine(links) -> str:
    verdicts = {v.verdict for v in links}
    for v in ("incorrect", "unparseable", "undecided", "defined"):
        if v in verdicts:
            return v
    return "correct" if verdicts else "unparseable"


class Timer:
    """Times ``engine.check_claim`` per claim (the model and context are built outside)."""

    def __init__(self):
        self.seconds: dict[int, float] = {}
        self.inner = engine.check_claim

    def __enter__(self):
        def timed(ctx, claim, *args, **kwargs):
            t = time.perf_counter()
            try:
                return self.inner(ctx, claim, *args, **kwargs)
            finally:
                line = getattr(claim, "line", None)
                self.seconds[line] = self.seconds.get(line, 0.0) + time.perf_counter() - t
        engine.check_claim = timed
        return self

    def __exit__(self, *exc):
        engine.check_claim = self.inner


def score_style(style: str, timeout: float = 5.0) -> list[Outcome]:
    claims = load(style)
    out = [Outcome(style, k, c) for k, c in enumerate(claims)]
    models: dict[str, object] = {}
    for group in runs(claims):
        spec = claims[group[0]]["spec"]
        if spec not in models:
            models[spec] = None if spec == "none" else symbackprop.prepare(ROOT[0] / style / spec)
        lines, spans = [], []
        for k in group:
            start = len(lines) + 1
            lines.extend(claims[k]["text"].splitlines())
            spans.append((k, start, len(lines)))
            lines.append("")
        kind = "markup" if is_markup(claims[group[0]]["text"]) else "text"
        with Timer() as timer:
            verdicts = symbackprop.check(models[spec], "\n".join(lines) + "\n", kind=kind,
                                         timeout=timeout, isolate=False)
        for k, start, end in spans:
            links = [v for v in verdicts if start <= v.line <= end]
            o = out[k]
            o.verdict = combine(links)
            o.diagnoses = [v.diagnosis for v in links if v.verdict == "incorrect"]
            o.messages = [v.message for v in links if v.message]
            o.seconds = sum(s for line, s in timer.seconds.items()
                            if line is not None and start <= line <= end)
    return out


def table(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    wrong = [o for o in outcomes if o.expect == "incorrect"]
    return {
        "claims": n,
        "false_incorrect": sum(o.verdict == "incorrect" and o.expect in ("correct", "defined")
                               for o in outcomes),
        "false_correct": sum(o.verdict == "correct" and o.expect in ("incorrect", "unparseable")
                             for o in outcomes),
        "verdicts_right": 100.0 * sum(o.right for o in outcomes) / max(n, 1),
        "diagnosed": 100.0 * sum(o.diagnosed for o in wrong) / max(len(wrong), 1),
        "unparseable": 100.0 * sum(o.verdict in ("unparseable", "undecided")
                                   for o in outcomes) / max(n, 1),
        "median_s": statistics.median(o.seconds for o in outcomes) if outcomes else 0.0,
    }


def score(styles=STYLES, timeout: float = 5.0) -> dict[str, list[Outcome]]:
    return {s: score_style(s, timeout) for s in styles}


def misses(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.right or (o.expect == "incorrect" and not o.diagnosed)]


def print_report(results: dict[str, list[Outcome]], show_misses: bool = True) -> None:
    head = ("style", "claims", "false inc", "false cor", "% right", "% diagnosed",
            "% unparse", "median s")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rows = list(results.items()) + [("all", [o for v in results.values() for o in v])]
    for style, outs in rows:
        t = table(outs)
        print(f"| {style} | {t['claims']} | {t['false_incorrect']} | {t['false_correct']} | "
              f"{t['verdicts_right']:.1f} | {t['diagnosed']:.1f} | {t['unparseable']:.1f} | "
              f"{t['median_s']:.3f} |")
    if not show_misses:
        return
    print("\nmisses (expected → got):")
    for outs in results.values():
        for o in misses(outs):
            what = (f"{o.expect} → {o.verdict}" if not o.right
                    else f"diagnosis {o.claim['mistake']} → {o.diagnoses}")
            why = f"  [{'; '.join(m for m in o.messages if m)[:160]}]" if o.messages else ""
            print(f"- {o.style}#{o.index + 1}: {what}: {o.claim['text'][:110]}{why}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", action="append")
    ap.add_argument("--root", type=Path, help="another corpus folder (default tests/corpus); "
                    "its styles are its subfolders with a claims.toml")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-misses", action="store_true")
    ap.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args(argv)
    styles = STYLES
    if args.root:
        ROOT[0] = args.root.resolve()
        styles = tuple(sorted(p.parent.name for p in ROOT[0].glob("*/claims.toml")))
    t0 = time.perf_counter()
    results = score(tuple(args.style or styles), args.timeout)
    if args.json:
        json.dump({s: {"table": table(o), "misses": [
            {"index": m.index + 1, "text": m.claim["text"], "expect": m.expect,
             "got": m.verdict, "mistake": m.claim.get("mistake"), "diagnoses": m.diagnoses,
             "messages": m.messages} for m in misses(o)]} for s, o in results.items()},
            sys.stdout, indent=1, ensure_ascii=False)
        print()
    else:
        print_report(results, not args.no_misses)
        print(f"\n{sum(len(v) for v in results.values())} claims in "
              f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
