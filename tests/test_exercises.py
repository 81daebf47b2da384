"""Exercise families (issue #22): keys against a NumPy backprop written here, Moodle XML read
with a reader written from Moodle's documented format, the QTI zip unpacked and parsed,
byte-identical reruns, and the family errors.  3 variants a family."""
from __future__ import annotations

import io
import json
import re
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.core.spec import LAYER_TYPES
from symbackprop.exercises import load_family, make_variants, parse_family, render_all, verify
from symbackprop.exercises.generate import make_variant

FAMILIES = Path(__file__).resolve().parent.parent / "symbackprop" / "examples" / "families"
NAMES = ("sigmoid_two_layer", "relu_softmax")
FORMATS = ("json", "md", "html", "moodle", "qti")


@pytest.fixture(scope="module", params=NAMES)
def made(request):
    family = load_family(FAMILIES / f"{request.param}.toml")
    variants = make_variants(family, 3, 11)
    return family, variants, render_all(family, variants, FORMATS)


# ---- an independent NumPy backprop of a variant's spec (written from the definitions) ----
ACT = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
       "relu": lambda z: np.maximum(z, 0), "identity": lambda z: z,
       "softmax": lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()}
DACT = {"sigmoid": lambda z, a: a * (1 - a), "tanh": lambda z, a: 1 - a ** 2,
        "relu": lambda z, a: (z > 0).astype(float), "identity": lambda z, a: np.ones_like(z)}


def numpy_backprop(spec: dict):
    x = np.array(spec["values"]["x"], float)
    y = np.array(spec["values"]["y"], float)
    acts = [layer["activation"] for layer in spec["layer"]]
    W = [np.array(spec["values"][f"W{l}"], float) for l in range(1, len(acts) + 1)]
    b = [np.array(spec["values"][f"b{l}"], float) for l in range(1, len(acts) + 1)]
    a, zs = [x], []
    for Wl, bl, f in zip(W, b, acts):
        zs.append(Wl @ a[-1] + bl)
        a.append(ACT[f](zs[-1]))
    out, loss_name = a[-1], spec["loss"]
    if loss_name == "half_sse":
        loss, dE = 0.5 * np.sum((out - y) ** 2), out - y
    elif loss_name == "mse":
        loss, dE = np.mean((out - y) ** 2), 2 * (out - y) / len(y)
    elif loss_name == "cross_entropy":
        loss, dE = -np.sum(y * np.log(out)), None
    else:
        raise AssertionError(loss_name)
    deltas = [None] * len(acts)
    if acts[-1] == "softmax":
        J = np.diag(out) - np.outer(out, out)            # ∂a_i/∂z_j
        deltas[-1] = J.T @ (-y / out)
    else:
        deltas[-1] = dE * DACT[acts[-1]](zs[-1], out)
    for l in range(len(acts) - 2, -1, -1):
        deltas[l] = (W[l + 1].T @ deltas[l + 1]) * DACT[acts[l]](zs[l], a[l + 1])
    grads = {f"W{l + 1}": np.outer(deltas[l], a[l]) for l in range(len(acts))}
    grads.update({f"b{l + 1}": deltas[l] for l in range(len(acts))})
    params = {f"W{l + 1}": W[l] for l in range(len(acts))} | {f"b{l + 1}": b[l] for l in range(len(acts))}
    return dict(z=zs, a=a[1:], loss=loss, delta=deltas, grads=grads, params=params,
                lr=float(spec["values"]["learning_rate"]))


def true_value(t: dict, r: dict) -> float:
    q, idx = t["quantity"], t["index"]
    if q == "loss":
        return float(r["loss"])
    if q in ("z", "a", "delta"):
        return float(r[q][t["layer"] - 1][idx[0]])
    g = r["grads"][t["array"]][tuple(idx)]
    return float(g) if q == "gradient" else float(r["params"][t["array"]][tuple(idx)] - r["lr"] * g)


def test_keys_against_numpy(made):
    """Every numeric key within its tolerance of the NumPy value; every numeric distractor
    outside it; a chain's correct choice is the only one listed correct."""
    family, variants, files = made
    key = json.loads(files["key.json"])
    assert key["family"] == family.name and len(key["variants"]) == 3
    checked = 0
    for v in key["variants"]:
        spec = tomllib.loads(v["spec"])
        r = numpy_backprop(spec)
        for q in v["questions"]:
            assert sum(c["correct"] for c in q["choices"]) == (0 if q["kind"] == "derivation" else 1)
            if q["answer"] is None:
                continue
            true = true_value(q["target"], r)
            tol = q["tolerance"]["abs"]
            assert tol == pytest.approx(max(q["tolerance"]["rel"] * abs(q["answer"]), 0), rel=0.06)
            assert abs(q["answer"] - true) <= tol, (v["id"], q)
            shown = [float(c["text"]) for c in q["choices"]]
            for c in q["choices"]:
                if not c["correct"]:
                    assert abs(float(c["text"]) - true) > tol and c["diagnosis"], (v["id"], q, c)
            assert all(abs(a - b) > tol for i, a in enumerate(shown) for b in shown[i + 1:])
            checked += 1
    assert checked >= 12


def test_verification_counts(made):
    family, variants, files = made
    counts = verify(variants, files["key.md"])
    assert counts.ok and counts.keys == sum(1 for v in variants for q in v.questions if q.choices)
    assert counts.distractors == counts.keys * family.distractors
    # the verifier reads the rendered text: a key changed there is caught
    first = variants[:1]
    section = files["key.md"].split("## Version " + variants[1].id)[0]
    tampered = re.sub(r"(- key: \$[^$]*= )(-?[0-9.]+)\$",
                      lambda m: m.group(1) + str(float(m.group(2)) * 1.5 + 0.1) + "$", section, count=1)
    assert tampered != section
    bad = verify(first, tampered)
    assert not bad.ok and bad.keys_ok == bad.keys - 1 and "judged incorrect" in bad.failures[0]


# ---- Moodle XML, read as Moodle documents it (quiz/question type=…; questiontext/text;
# answer fraction="…" with text, tolerance, feedback/text; essay graderinfo) ----
def read_moodle(xml: str) -> dict:
    root = ET.fromstring(xml)
    assert root.tag == "quiz"
    out = {}
    for q in root.findall("question"):
        kind = q.get("type")
        if kind == "category":
            continue
        name = q.find("name/text").text
        answers = [{"fraction": float(a.get("fraction")), "text": a.find("text").text,
                    "tolerance": None if a.find("tolerance") is None else float(a.find("tolerance").text),
                    "feedback": a.find("feedback/text").text} for a in q.findall("answer")]
        out[name] = {"type": kind, "text": q.find("questiontext/text").text, "answers": answers,
                     "graderinfo": q.findtext("graderinfo/text")}
    return out


def _strip(html: str) -> str:
    return re.sub(r"</?p>", "", html).strip()


def test_moodle_matches_key_json(made):
    family, variants, files = made
    moodle = read_moodle(files["moodle.xml"])
    key = json.loads(files["key.json"])
    n = 0
    for v in key["variants"]:
        for q in v["questions"]:
            m = moodle[f"{v['id']} {q['id']} ({q['kind']})"]
            assert "\\(" in m["text"] and not re.search(r"(?<!\\)\$", m["text"])   # no single-$ math
            if q["kind"] == "derivation":
                assert m["type"] == "essay" and "\\(" in m["graderinfo"]
                continue
            assert len(m["answers"]) == len(q["choices"])
            for a, c in zip(m["answers"], q["choices"]):
                assert a["fraction"] == (100 if c["correct"] else 0)
                if m["type"] == "numerical":
                    assert float(a["text"]) == float(c["text"])
                    if c["correct"]:
                        assert a["tolerance"] == q["tolerance"]["abs"] and float(a["text"]) == q["answer"]
                    else:
                        assert _strip(a["feedback"]) == c["diagnosis"]
                else:
                    assert m["type"] == "multichoice"
                    assert _strip(a["feedback"]) == ("Correct." if c["correct"] else c["diagnosis"])
            n += 1
    assert n >= 15


def test_qti_zip_recovers_answers(made):
    family, variants, files = made
    key = json.loads(files["key.json"])
    z = zipfile.ZipFile(io.BytesIO(files["canvas-qti.zip"]))
    manifest = ET.fromstring(z.read("imsmanifest.xml"))
    ns = {"m": "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"}
    hrefs = [f.get("href") for f in manifest.iterfind(".//m:resource/m:file", ns)]
    assessment = next(h for h in hrefs if not h.endswith("assessment_meta.xml"))
    root = ET.fromstring(z.read(assessment))
    q = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
    items = {i.get("title"): i for i in root.iter(q + "item")}
    numerical = choice = 0
    for v in key["variants"]:
        for question in v["questions"]:
            item = items[f"{v['id']} {question['id']} ({question['kind']})"]
            kind = next(f.findtext(q + "fieldentry") for f in item.iter(q + "qtimetadatafield")
                        if f.findtext(q + "fieldlabel") == "question_type")
            if question["answer"] is not None and kind == "numerical_question":
                exact = float(next(item.iter(q + "varequal")).text)
                low = float(next(item.iter(q + "vargte")).text)
                high = float(next(item.iter(q + "varlte")).text)
                tol = question["tolerance"]["abs"]
                # text2qti writes value and range with 4 decimals; the exporter sends a
                # question as numerical only where that is within a tenth of the tolerance
                assert abs(exact - question["answer"]) <= 0.00005
                assert abs(low - (question["answer"] - tol)) <= tol / 10
                assert abs(high - (question["answer"] + tol)) <= tol / 10
                numerical += 1
            elif kind == "multiple_choice_question":
                labels = {l.get("ident"): l.findtext(f"{q}material/{q}mattext")
                          for l in item.iter(q + "response_label")}
                scored = [c for c in item.iter(q + "respcondition")
                          if c.find(f"{q}setvar") is not None and c.findtext(f"{q}setvar") == "100"]
                right = scored[0].findtext(f".//{q}varequal")
                correct = next(c for c in question["choices"] if c["correct"])
                if question["answer"] is not None:
                    assert f'title="{correct["text"]}"' in labels[right]
                assert len(labels) == len(question["choices"])
                choice += 1
            else:
                assert question["kind"] == "derivation" and kind == "essay_question"
    assert numerical + choice >= 15 and numerical >= 3


def test_reproducible_bytes(made):
    """Twice the same bytes; and a variant is reproduced from its own seed alone."""
    family, variants, files = made
    alone = make_variant(family, variants[1].id, variants[1].seed)
    assert alone.spec == variants[1].spec and alone.questions == variants[1].questions
    again = render_all(family, make_variants(family, 3, 11), FORMATS)
    assert again.keys() == files.keys()
    for name in files:
        assert again[name] == files[name], name


def test_pdf_reproducible_and_made():
    family = load_family(FAMILIES / "sigmoid_two_layer.toml")
    variants = make_variants(family, 1, 3)           # generation's bytes: test_reproducible_bytes
    one, two = (render_all(family, variants, ("pdf",)) for _ in range(2))
    assert one["exam.pdf"].startswith(b"%PDF") and one["key.pdf"] == two["key.pdf"]
    assert one["exam.pdf"] == two["exam.pdf"]


# ---- the family spec is untrusted text: errors name the key, exit 2 ----
BASE = '''family = "f"
[network]
inputs = 2
loss = "half_sse"
[[network.layer]]
size = 2
activation = "sigmoid"
{extra}
[[network.layer]]
size = 1
activation = "sigmoid"
[[question]]
kind = "gradient"
layer = "hidden"
'''


@pytest.mark.parametrize("kind", sorted({t for t in LAYER_TYPES if t != "dense"} | {"conv2d", "rnn"}))
def test_layer_types_refused_by_name(tmp_path, capsys, kind):
    path = tmp_path / "f.toml"
    path.write_text(BASE.format(extra=f'type = "{kind}"'))
    assert main(["exercises", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"'{kind}'" in err and "network.layer[1].type" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, key", [
    ('colour = 1', "network.layer[1].colour"),
    ('activation = "sigmoidd"', "network.layer[1].activation"),
    ('size = 0', "network.layer[1].size"),
])
def test_family_errors_name_the_key(tmp_path, capsys, extra, key):
    text = BASE.format(extra="").replace('size = 2\nactivation = "sigmoid"\n',
                                         'size = 2\nactivation = "sigmoid"\n' + extra + "\n", 1)
    text = text.replace('activation = "sigmoid"\nactivation', "activation")
    text = text.replace("size = 2\nactivation = \"sigmoid\"\nsize = 0", "size = 0\nactivation = \"sigmoid\"")
    path = tmp_path / "f.toml"
    path.write_text(text)
    assert main(["exercises", str(path), "-o", str(tmp_path / "out")]) == 2
    assert f"`{key}`" in capsys.readouterr().err


def test_missing_family_file(tmp_path, capsys):
    assert main(["exercises", str(tmp_path / "none.toml"), "-o", str(tmp_path / "out")]) == 2
    assert "none.toml" in capsys.readouterr().err


def test_no_eval_and_bad_toml():
    with pytest.raises(Exception, match="not valid TOML"):
        parse_family("family = __import__('os')")
    with pytest.raises(Exception, match="question\\[1\\].kind"):
        parse_family(BASE.format(extra="").replace('kind = "gradient"', 'kind = "gradeint"'))


def test_twenty_redraws_then_exit_1(tmp_path, capsys):
    """Weights all 0: every hidden gradient is 0, so no draw can make the question."""
    path = tmp_path / "f.toml"
    path.write_text(BASE.format(extra="").replace("size = 2\n", "size = 1\n")
                    + "[values]\nweights = { min = 0, max = 0, decimals = 1 }\n")
    assert main(["exercises", str(path), "-n", "1", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "family f" in err and "'gradient'" in err and "20 redraws" in err
    assert not (tmp_path / "out").exists()


def test_cli_roster_and_counts(tmp_path, capsys):
    roster = tmp_path / "students.csv"
    roster.write_text("student,email\nAda,a@x\nAlan,b@x\n")
    out = tmp_path / "out"
    family = tmp_path / "f.toml"
    family.write_text(BASE.format(extra="").replace("size = 2\nactivation", "size = 1\nactivation", 1)
                      .replace('kind = "gradient"\nlayer = "hidden"', 'kind = "loss"'))
    rc = main(["exercises", str(family), "--roster", str(roster), "--seed", "2", "-o", str(out),
               "-f", "json"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "2 variants" in text and "distractors checked wrong" in text
    key = json.loads((out / "key.json").read_text())
    assert [v["student"] for v in key["variants"]] == ["Ada", "Alan"]
    assert all(isinstance(v["seed"], int) for v in key["variants"])
    spec = tomllib.loads(key["variants"][0]["spec"], parse_float=Decimal)
    assert [layer["size"] for layer in spec["layer"]] == [1, 1]
    assert not (out / "key.md").exists()              # -f json only: no Markdown written
