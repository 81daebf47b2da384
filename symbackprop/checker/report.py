"""The ``check`` command's files and reports (JSON, and text through a template)."""
from __future__ import annotations

import os
from pathlib import Path

from ..core.defaults import CHECK_SECONDS, CLAIM_TIMEOUT
from ..core.examples import example_names, example_path
from ..core.files import FileError, read_text_limited
from ..formula.claims import extract, kind_of
from .context import make_context
from .conv import make_conv_checker
from .engine import Report, check_claims
from .isolate import Deadline
from .verdict import VERDICTS, summary

MAX_FILE_BYTES = 5_000_000
MAX_CLAIMS = 100_000           # claims in one run, over all its files (100,000 trivial: ~7 s)


def split_paths(paths: list[str], no_spec: bool) -> tuple[Path | None, list[Path]]:
    """(spec, claims files): the first path is the spec when it is a .toml file or a
    built-in example name, unless ``no_spec``; a ValueError says what is wrong."""
    spec = None
    if not no_spec and (paths[0].endswith(".toml") or
                        (paths[0] in example_names() and not Path(paths[0]).is_file())):
        spec = Path(paths[0]) if paths[0].endswith(".toml") else example_path(paths[0])
        paths = paths[1:]
    if not paths:
        raise ValueError("no claims file given: symbackprop check SPEC CLAIMS... "
                         "(or --no-spec CLAIMS...)")
    files = [Path(p) for p in paths]
    for f in files:
        if not os.path.lexists(f):
            raise ValueError(f"{f}: no such claims file")
    return spec, files


def check_files(model, files: list[Path], timeout: float = CLAIM_TIMEOUT,
                max_time: float = CHECK_SECONDS) -> list[Report]:
    """One report per claims file (one context, so test points are computed once), all
    within ``max_time`` seconds: claims the run has no time left for are ``undecided``."""
    deadline = Deadline.after(max_time)
    conv = getattr(getattr(model, "spec", None), "convolutional", False)      # issue #18
    checker = make_conv_checker(model) if conv else make_context(model)
    reports = []
    texts = {}
    for f in files:
        # a regular file of at most MAX_FILE_BYTES, UTF-8 (a byte-order mark dropped);
        # a FIFO, a device, UTF-16 or a bad byte: one FileError naming the file
        texts[f] = read_text_limited(f, MAX_FILE_BYTES, "claims file")
    count = sum(len(extract(text, kind_of(f))) for f, text in texts.items())
    if count > MAX_CLAIMS:
        raise FileError(f"{', '.join(map(str, files))}: {count:,} claims; one check runs at most "
                        f"{MAX_CLAIMS:,}; split them over several runs.")
    for f in files:
        text = texts[f]
        reports.append(check_claims(model, text, kind_of(f), str(f), timeout=timeout,
                                    checker=checker, deadline=deadline))
    return reports


def report_json(reports: list[Report]) -> dict:
    """{"claims": [one entry per claim link, with its file], "files": [...], "summary": {...}}."""
    claims = [{**v.to_json(), "file": r.source} for r in reports for v in r.verdicts]
    return {"claims": claims,
            "files": [{"file": r.source, "summary": r.summary} for r in reports],
            "summary": summary([v for r in reports for v in r.verdicts])}


def report_text(reports: list[Report], model, env) -> str:
    """The human report (templates/check_report.txt.j2), rendered by the Jinja
    environment ``env`` the caller passes (the checker never imports render)."""
    region = next((v.region for r in reports for v in r.verdicts if v.region), None)
    return env.get_template("check_report.txt.j2").render(
        reports=reports, spec=model.spec if model is not None else None, region=region,
        verdicts=VERDICTS, total=summary([v for r in reports for v in r.verdicts]))
