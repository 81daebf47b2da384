"""Documents of specs with an [optimizer] or [regularization] (issue #20) say what they
show: η by train's precedence, a note when the optimiser's step is not the plain one shown,
and a refusal (exit 2, nothing written) for a weight penalty the document would leave out."""
import subprocess
import sys
from pathlib import Path

from symbackprop.api import example_path

MAZUR = Path(example_path("mazur_adam")).read_text()


def _derive(tmp_path, text, fmt="md"):
    spec = tmp_path / "net.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "symbackprop", "derive", str(spec), "-f", fmt,
                        "-o", str(out)], capture_output=True, text=True)
    docs = sorted(out.glob(f"*.{fmt}")) if out.exists() else []
    return r, docs[0].read_text() if docs else None


def test_plain_sgd_takes_the_optimizer_tables_rate(tmp_path):
    text = MAZUR.replace('name = "adam"', 'name = "sgd"').replace("lr = 0.01", "lr = 0.5")
    assert 'name = "sgd"' in text and "lr = 0.5" in text
    r, doc = _derive(tmp_path, text)
    assert r.returncode == 0, r.stderr
    # the step-by-step post's published update with η = 0.5: w1 → 0.149780716 (6 digits shown)
    assert r"\eta = 0.5" in doc and "= 0.149781$$" in doc and "trains with" not in doc


def test_adam_is_named_not_passed_off_as_its_step(tmp_path):
    r, doc = _derive(tmp_path, MAZUR)
    assert r.returncode == 0, r.stderr
    assert "The spec trains with Adam" in doc and "derive --steps k" in doc


def test_a_weight_penalty_is_refused_by_name(tmp_path):
    r, doc = _derive(tmp_path, MAZUR + "\n[regularization]\nl2 = 0.01\n")
    assert r.returncode == 2 and "[regularization]" in r.stderr and "Traceback" not in r.stderr
    assert doc is None
