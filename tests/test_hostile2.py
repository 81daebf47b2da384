"""Issue #23, "no silent acceptance": typos, odd bytes and odd arguments are errors
that name the real cause, never reinterpretations."""
import json
import os

import pytest

from symbackprop.api import SpecError, prepare
from symbackprop.cli import main
from symbackprop.core.spec import load_spec, parse_spec

NET = 'inputs = 1\nloss = "half_sse"\n[[layer]]\nsize = 1\nactivation = "sigmoid"\n'
VALUES = "[values]\nx = [0.5]\ny = [0.25]\nW1 = [[0.5]]\nb1 = [-0.125]\n"


@pytest.mark.parametrize("extra,key,hint", [
    ('[network]\nbtach = "sum"\n', "network.btach", "'batch'"),
    ("[values]\nlearning_rat = 0.1\n", "values.learning_rat", "'learning_rate'"),
    ("[values]\n[[values.samples]]\nx = [1]\nyy = [0]\n", "values.samples[0].yy", "'y'"),
    ('[names]\nneuron = [["a"], ["b"]]\n', "names.neuron", "'neurons'"),
    ('[notation]\nstlye = "ij"\n', "notation.stlye", "'style'"),
    ("[[layer]]\nsize = 1\nactivaton = 'tanh'\n", "layer[2].activaton", "'activation'"),
    ('[notation]\nstyle = "numbered"\n[values]\nw1 = 0.5\nfrozen = ["w11"]\n',
     "values.frozen", "'w1'"),
    ('[notation]\nstyle = "numbered"\n[values]\nw01 = 0.5\n', "values.w01", "'w1'"),
])
def test_unknown_keys_in_every_table_are_errors_with_a_did_you_mean(extra, key, hint):
    with pytest.raises(SpecError) as err:
        prepare(NET + extra)
    assert f"`{key}`" in str(err.value) and f"Did you mean {hint}?" in str(err.value)


@pytest.mark.parametrize("value", ["0", "-0.1", "0.0"])
def test_a_spec_learning_rate_must_be_positive(value):
    with pytest.raises(SpecError, match="values.learning_rate.*positive"):
        parse_spec(NET + VALUES + f"learning_rate = {value}\n")


@pytest.mark.parametrize("key,value", [("x", "[1e309]"), ("W1", "[[-1e400]]"),
                                       ("learning_rate", "1e309"), ("b1", "[1" + "0" * 400 + "]")])
def test_numbers_beyond_float64_are_refused_with_the_key(key, value):
    text = NET + VALUES.replace(f"\n{key} = ", f"\nold_{key} = ") + f"{key} = {value}\n"
    text = "\n".join(line for line in text.splitlines() if not line.startswith("old_"))
    with pytest.raises(SpecError, match=f"`values.{key}.*float64"):
        parse_spec(text)


def test_byte_order_mark_in_a_spec_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + NET.encode())
    assert load_spec(path).sizes == (1, 1)
    assert parse_spec("\ufeff" + NET).sizes == (1, 1)


def test_a_file_name_that_is_no_spec_name_is_named_as_such(tmp_path):
    path = tmp_path / "my net.toml"
    path.write_text(NET)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert "file name 'my net'" in message and 'name = "my_net"' in message
    assert "key `name`" not in message
    path.write_text('name = "my_net"\n' + NET)
    assert load_spec(path).name == "my_net"
    with pytest.raises(SpecError, match="key `name`.*got 'my net'"):
        parse_spec('name = "my net"\n' + NET)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(NET + VALUES)
    return path


@pytest.mark.parametrize("args,message", [
    (["eval", "{spec}", "--lr", "nan"], "--lr nan: expected a positive, finite"),
    (["eval", "{spec}", "--lr", "inf"], "--lr inf: expected a positive, finite"),
    (["eval", "{spec}", "--lr", "-0.5"], "--lr -0.5: expected a positive, finite"),
    (["train", "{spec}", "--steps", "1", "--lr", "nan"], "--lr nan: expected"),
    (["derive", "{spec}", "--digits", "0"], "--digits 0: expected"),
    (["derive", "{spec}", "--param", ""], '--param "": expected the name'),
    (["derive", "{spec}", "--templates", "{spec}.missing"], "no such folder"),
    (["eval", ""], "spec '': expected a network spec file"),
    (["codegen", " "], "spec ' ': expected a network spec file"),
])
def test_odd_arguments_are_errors_not_reinterpretations(args, message, spec_file, capsys, tmp_path,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([a.format(spec=spec_file) for a in args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "output").exists()


def test_training_that_diverges_says_where_and_fails_unless_asked_to_go_on(tmp_path, capsys):
    path = tmp_path / "div.toml"
    path.write_text(NET.replace("sigmoid", "identity") +
                    "[values]\nx = [3]\ny = [1]\nW1 = [[1]]\nb1 = [0]\n")
    assert main(["train", str(path), "--steps", "2000", "--lr", "1", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training diverged at step 162: the loss is inf" in captured.err
    assert main(["train", str(path), "--steps", "400", "--lr", "1", "--json", "--keep-going"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)          # strict JSON: parses with no NaN/Infinity
    assert out["diverged"]["step"] == 162 and "loss is inf" in out["diverged"]["quantity"]
    assert out["loss_history"][161] is not None and out["loss_history"][162] is None
    assert out["final_loss"] is None and "diverged at step 162" in captured.err
    assert main(["train", str(path), "--steps", "5", "--lr", "0.01", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["diverged"] is None


@pytest.mark.parametrize("cell,message", [
    ("1_000", "expected an ASCII decimal number"),
    ("\u0661\u0662", "expected an ASCII decimal number"),        # Arabic-Indic ١٢
    ("\uff11", "expected an ASCII decimal number"),              # fullwidth １
    ("inf", "expected a finite number"),
    ("nan", "expected a finite number"),
    ("1e999", "1e999 is beyond the range of float64"),
    ("0x10", "expected a number"),
    ("", "expected a number"),
])
def test_csv_cells_are_ascii_decimals_only(cell, message, tmp_path):
    from symbackprop.numeric.data import load_samples_csv
    path = tmp_path / "d.csv"
    path.write_text(f"x1,y1\n0.5,1\n{cell},1\n", encoding="utf-8")
    with pytest.raises(SpecError, match=f"line 3, column x1: {message}"):
        load_samples_csv(path, 1, 1)


def test_csv_header_of_commas_is_not_called_empty(tmp_path):
    from symbackprop.numeric.data import load_samples_csv
    path = tmp_path / "d.csv"
    path.write_text(",,\n1,2,3\n")
    with pytest.raises(SpecError, match="line 1: the header has 3 columns but no names"):
        load_samples_csv(path, 1, 1)
    path.write_text("")
    with pytest.raises(SpecError, match="the file is empty"):
        load_samples_csv(path, 1, 1)


@pytest.mark.parametrize("quoted,rows", [(False, 40_000), (True, 4_000)])
def test_csv_memory_is_twice_the_file_plus_24_bytes_a_number(quoted, rows, tmp_path):
    """The README's bound: plain files go through NumPy's reader, others line by line."""
    import tracemalloc
    from symbackprop.numeric.data import load_samples_csv
    path = tmp_path / "d.csv"
    cell = '"0.25"' if quoted else "0.25"
    path.write_text("x1,x2,x3,y1\n" + f"{cell},1.5,-3e2,0.5\n" * rows)
    tracemalloc.start()
    try:
        X, Y = load_samples_csv(path, 3, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert X.shape == (3, rows) and Y[0, -1] == 0.5 and X[2, 0] == -300.0
    assert peak <= 2 * path.stat().st_size + 24 * 4 * rows


def test_a_set_of_output_files_is_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    import os
    import signal
    from symbackprop.core import files as files_module
    from symbackprop.core.files import write_files
    write_files(tmp_path, {"net.svg": "<svg/>", "net.md": "old"})
    with pytest.raises(UnicodeEncodeError):              # the second file cannot be written
        write_files(tmp_path, {"net.svg": "<svg>new</svg>", "net.md": "bad \udc80"})
    assert (tmp_path / "net.svg").read_text() == "<svg/>"   # the old set, untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.md", "net.svg"]

    replace = os.replace

    def interrupted(src, dst):                           # Ctrl-C between the renames
        if str(dst).endswith("net.svg"):
            os.kill(os.getpid(), signal.SIGINT)
        replace(src, dst)

    monkeypatch.setattr(files_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):               # held back until both are in place
        write_files(tmp_path, {"net.svg": "<svg>2</svg>", "net.md": "new"})
    assert (tmp_path / "net.md").read_text() == "new"
    assert (tmp_path / "net.svg").read_text() == "<svg>2</svg>"


def test_stray_temporary_files_of_killed_runs_are_removed(tmp_path, spec_file, capsys):
    import subprocess
    import sys
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                                           # a pid that no longer runs
    out = tmp_path / "out"
    out.mkdir()
    stray = out / f".net.md.{dead.pid}.k1ll3d.tmp"
    stray.write_text("half")
    live = out / f".net.md.{os.getppid()}.alive.tmp"      # a running writer's: kept
    live.write_text("busy")
    assert main(["derive", str(spec_file), "-o", str(out)]) == 0
    assert not stray.exists() and live.exists()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["net.md", "net.svg"]


@pytest.mark.parametrize("sizes,params", [((1000, 1000), 1_001_000), ((50000, 49999), 2_499_999_999),
                                          ((784, 300, 10), 238_510)])
def test_size_limits_count_parameters_not_only_neurons(sizes, params):
    text = f"inputs = {sizes[0]}\nloss = \"sse\"\n" + "".join(
        f"[[layer]]\nsize = {n}\nactivation = \"tanh\"\n" for n in sizes[1:])
    if params <= 250_000:
        assert parse_spec(text).sizes == sizes
        return
    start = __import__("time").process_time()
    with pytest.raises(SpecError, match=f"{params:,} parameters.*at most 250,000"):
        parse_spec(text)
    assert __import__("time").process_time() - start < 1.0      # refused before any work
