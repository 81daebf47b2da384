"""The command line's rough edges (issue #16): formats, names from anywhere, swapped
arguments, broken pipes, notes — each as a user meets it."""
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from symbackprop.api import example_path
from symbackprop.cli import main
from symbackprop.core.examples import claims_names


def test_formats_as_a_comma_list_or_repeated(tmp_path, capsys):
    assert main(["derive", "tanh_net", "-f", "md,tex", "-f", "html", "-o", str(tmp_path)]) == 0
    assert {p.suffix for p in tmp_path.iterdir()} == {".md", ".svg", ".tex", ".html"}


@pytest.mark.parametrize("argv, needle", [
    (["derive", "-f", "md", "tex"], "tex: a format given where the spec goes"),
    (["derive", "-f", "md,pfd"], "'pfd' is not a format"),
])
def test_a_misplaced_or_unknown_format_is_an_error(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(argv)
    except SystemExit as stop:                          # argparse's own usage error
        status = stop.code
    assert status == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "output").exists()          # nothing written


def test_every_command_takes_an_example_name_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "softmax_classifier", "--json"]) == 0
    by_name = capsys.readouterr().out
    assert main(["eval", str(example_path("softmax_classifier")), "--json"]) == 0
    assert capsys.readouterr().out == by_name                     # the same model
    assert np.isfinite(np.asarray(json.loads(by_name)["gradients"]["W1"])).all()
    assert main(["codegen", "tanh_net", "-o", str(tmp_path / "g.py")]) == 0
    assert main(["train", "tanh_net", "--steps", "3", "--json"]) == 0
    assert main(["derive", "worked_2331", "-o", "notes"]) == 0
    assert (tmp_path / "notes" / "worked_2331.md").is_file()


def test_examples_lists_the_shipped_claims_files_and_check_finds_them_by_name(tmp_path, monkeypatch,
                                                                              capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["examples"]) == 0
    listing = capsys.readouterr().out
    assert claims_names() and all(name in listing for name in claims_names())
    # the commands the README and each shipped claims file print, from another directory
    assert main(["check", "worked_2331_numbered", "worked_2331_numbered.md", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["correct"] > 10 and report["summary"]["unparseable"] == 0
    assert main(["check", "--no-spec", "calculus.txt"]) in (0, 1)
    assert "claims:" in capsys.readouterr().out


def test_readme_check_commands_work_from_another_directory(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    commands = [line.split("#")[0].split()[1:] for line in readme.splitlines()
                if line.startswith("symbackprop check ") and "alice" not in line]
    assert len(commands) >= 2
    for argv in commands:
        run = subprocess.run([sys.executable, "-m", "symbackprop", *argv], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode in (0, 1), (argv, run.stderr)
        assert "claims:" in run.stdout and not run.stderr


@pytest.mark.parametrize("argv, needle", [
    (["check", "worked_2331_numbered.md", "worked_2331_numbered"],
     "worked_2331_numbered is a spec, given after the claims"),
    (["check", "relu_softmax.md", str(example_path("softmax_classifier"))],
     "is a spec, given after the claims"),
    (["check", "tanh_net", str(example_path("tanh_net"))], "a network spec given as a claims file"),
])
def test_swapped_arguments_are_named(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "the spec first" in err and "Traceback" not in err


def test_a_spec_renamed_to_md_is_still_told_apart(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "net.md"
    spec.write_text(example_path("tanh_net").read_text())
    assert main(["check", "tanh_net", str(spec)]) == 2
    assert "a network spec given as a claims file" in capsys.readouterr().err


def test_derive_init_without_values_says_what_it_did(tmp_path, capsys):
    spec = tmp_path / "net.toml"
    spec.write_text('inputs = 2\nloss = "sse"\n[[layer]]\nsize = 1\nactivation = "tanh"\n')
    assert main(["derive", str(spec), "--init", "0", "-o", str(tmp_path)]) == 0
    assert "--init 0 not used: the spec gives no [values] x and y" in capsys.readouterr().err


def test_piping_into_head_prints_no_traceback():
    run = subprocess.run(f"{sys.executable} -m symbackprop eval worked_2331 --json | head -c 10; "
                         f"{sys.executable} -m symbackprop examples | head -1",
                         shell=True, capture_output=True, text=True, timeout=120)
    assert run.stderr == "" and run.stdout.startswith('{"loss"')


def test_the_text_report_says_unparseable_as_the_json_does(tmp_path, capsys):
    claims = tmp_path / "c.txt"
    claims.write_text("dE/dw1 = ((\n")
    assert main(["check", "worked_2331", str(claims)]) == 1
    out = capsys.readouterr().out
    assert "UNPARSEABLE" in out and "UNREADABLE" not in out and "1 unparseable" in out


def test_eval_text_speaks_the_spec_notation_and_index_base(tmp_path, capsys):
    assert main(["eval", "worked_2331_numbered"]) == 0
    out = capsys.readouterr().out
    # the post's own names; out_n9 = σ(1.4082) computed here, not by symbackprop
    assert "net_n9 = 1.4082" in out and f"out_n9 = {1 / (1 + np.exp(-1.4082)):.10g}" in out
    assert "w16 (W3[0][0])" in out and "z^1_1" not in out
    spec = tmp_path / "base0.toml"
    spec.write_text('inputs = 2\nloss = "sse"\n[[layer]]\nsize = 2\nactivation = "tanh"\n'
                    '[notation]\nindex_base = 0\n[values]\nx = [1, 2]\ny = [0.5, 0.1]\n'
                    'W1 = [[0.1, 0.2], [0.3, 0.4]]\nb1 = [0, 0]\n')
    assert main(["eval", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "z^1_0 = 0.5" in out and f"a^1_1 = {np.tanh(1.1):.10g}" in out
    assert "w^1_01 (W1[0][1])" in out and "z^1_2" not in out


def test_train_prints_the_spec_arrays_ready_to_paste(capsys):
    assert main(["train", "worked_2331", "--steps", "3", "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)["parameters"]
    assert main(["train", "worked_2331", "--steps", "3"]) == 0
    pasted = tomllib.loads("\n".join(capsys.readouterr().out.splitlines()[1:]))
    assert set(pasted) == set(trained)
    for key, value in trained.items():
        np.testing.assert_allclose(pasted[key], value, rtol=1e-9)


def test_a_single_target_column_may_be_named_y(tmp_path, capsys):
    numbered, plain = tmp_path / "a.csv", tmp_path / "b.csv"
    numbered.write_text("x1,x2,y1\n0.1,0.2,0.5\n0.3,0.1,0.2\n")
    plain.write_text("y,x2,x1\n0.5,0.2,0.1\n0.2,0.1,0.3\n")
    assert main(["eval", "worked_2331", "--data", str(numbered), "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["eval", "worked_2331", "--data", str(plain), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == a and a["batch"]["examples"] == 2
    both = tmp_path / "c.csv"
    both.write_text("x1,x2,y,y1\n0.1,0.2,0.5,0.5\n")
    assert main(["eval", "worked_2331", "--data", str(both)]) == 2
    assert "column 'y1' appears twice (as 'y', column 3)" in capsys.readouterr().err
    assert main(["eval", "tanh_net", "--data", str(plain)]) == 2       # two targets: y1, y2
    assert "unknown column 'y'" in capsys.readouterr().err


def test_a_misplaced_new_value_mark_says_which_forms_are_accepted(tmp_path, capsys):
    claims = tmp_path / "u.txt"
    claims.write_text("w^{2}_{11}^{new} = 0.7\nW^2_{new} = W^2 - eta*dE/dW2\n")
    assert main(["check", "worked_2331", str(claims), "--json"]) == 1
    first, second = json.loads(capsys.readouterr().out)["claims"]
    assert first["verdict"] == "unparseable" and "w_{16}^{new}" in first["message"]
    assert ":=" in first["message"] and second["verdict"] == "correct"
