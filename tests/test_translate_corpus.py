"""``translate`` over the presets' corpus (issue #14's oracle): every claim translated from
its source's letters into another preset's keeps its hand-worked verdict, and its
diagnosis, when checked under the target preset; a batch formula (matrices, sums over
the examples, a numbered example, CS231n's gradients with their 1/N) has no per-example
counterpart and is kept as written.  Each preset is translated into the next one in a
cycle (nielsen → bishop → goodfellow → ng → cs231n → nielsen), the same network's spec
with the target's preset."""
from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
import sympy as sp

from symbackprop import check, prepare
from symbackprop.cli.commands import translate_line
from symbackprop.core.naming import with_preset
from symbackprop.core.spec import load_spec
from symbackprop.formula.names import build_scope

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus_presets"
CYCLE = ("nielsen", "bishop", "goodfellow", "ng", "cs231n")


def _diagnoses():
    spec = importlib.util.spec_from_file_location("corpus_score_translate",
                                                  ROOT / "benchmarks" / "corpus_score.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.DIAGNOSES


DIAGNOSES = _diagnoses()


def one_hot(spec) -> bool:
    return all(sorted(s.y) == [0] * (len(s.y) - 1) + [1] for s in spec.values.samples)


@pytest.mark.parametrize("k", range(len(CYCLE)))
def test_translated_claims_keep_verdict_and_diagnosis(k):
    src, dst = CYCLE[k], CYCLE[(k + 1) % len(CYCLE)]
    claims = tomllib.loads((CORPUS / src / "claims.toml").read_text())["claim"]
    translated = kept = 0
    for c in claims:
        if c["expect"] not in ("correct", "incorrect") or c["spec"] == "none":
            continue
        spec = load_spec(CORPUS / src / c["spec"])
        if dst == "cs231n" and not one_hot(spec):
            continue                        # y_i needs one-hot targets
        old = prepare(spec)
        new = prepare(replace(spec, notation=with_preset(spec.notation, dst, spec.source)))
        kind, out = translate_line(c["text"].strip().strip("$"), build_scope(old), new.notation,
                                   sp.Symbol(new.notation.loss))
        if kind == "kept" or len(out) != 1:
            kept += 1
            continue
        line = " = ".join(out[0][0])
        verdicts = check(new, line, isolate=False)
        got = [v.verdict for v in verdicts]
        verdict = "incorrect" if "incorrect" in got else \
            "correct" if got and all(g == "correct" for g in got) else "unparseable"
        assert verdict in (c["expect"], "unparseable"), (src, dst, c["text"], line, got)
        if verdict == "unparseable":
            kept += 1
            continue
        translated += 1
        if c["expect"] == "incorrect":
            first = [v.diagnosis for v in check(old, c["text"].strip().strip("$"), isolate=False)
                     if v.verdict == "incorrect"]
            pattern = DIAGNOSES[c["mistake"]]
            if first and first[0] and re.search(pattern, first[0].lower()):
                again = [v.diagnosis or "" for v in verdicts if v.verdict == "incorrect"]
                # a one-edit repair names the edit in the claim's own spelling (a^{[1]T} for
                # a^{[2]T}); the target's letters may have no such spelling (p for a^{[2]}):
                # then the translation may go undiagnosed, never diagnosed otherwise
                if "the claim holds with" in first[0] and not any(again):
                    continue
                assert any(re.search(pattern, d.lower()) for d in again), \
                    (src, dst, c["text"], line, again)
    # CS231n's claims are mostly of the batch (rows, dscores with 1/N): few have a
    # per-example counterpart
    assert translated >= (2 if src == "cs231n" else 20), (src, dst, translated, kept)
