"""Issue #15: hostile and broken specs, paths, claims files and CSVs.

The promise for each: one clear message (naming the key or the path and the reason),
exit status 2, nothing half-written, bounded time and memory.
"""
import errno
import os
import sys

import pytest

from symbackprop.checker import report as report_module
from symbackprop.cli import main
from symbackprop.core import files as files_module
from symbackprop.core.files import FileError, read_limited
from symbackprop.core.spec import SpecError, parse_spec

BASE = """name = "n"
inputs = 2
loss = "half_sse"
[[layer]]
size = 2
activation = "sigmoid"
[[layer]]
size = 1
activation = "sigmoid"
[values]
x = [0.1, 0.2]
y = [0.5]
W1 = [[0.1, 0.2], [0.3, 0.4]]
b1 = [0.1, 0.1]
W2 = [[0.5, 0.6]]
b2 = [0.2]
"""


def layers(n: int, size: int = 2) -> str:
    return ("inputs = 2\nloss = \"mse\"\n"
            + "[[layer]]\nsize = %d\nactivation = \"tanh\"\n" % size * n)


def one_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbackprop: error: ") and err.count("\n") == 1, err
    return err


# ---- specs ----------------------------------------------------------------------

SPECS = {
    "deep nesting": ("inputs = 2\nx = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply"),
    "eleven levels": ("inputs = 2\nx = " + "[" * 11 + "]" * 11 + "\n", "at most 10"),
    "activation a list": (BASE.replace('activation = "sigmoid"', 'activation = ["sigmoid"]', 1),
                          "layer[1].activation"),
    "activation a table": (BASE.replace('activation = "sigmoid"', 'activation = {a = 1}', 1),
                           "layer[1].activation"),
    "loss a list": (BASE.replace('loss = "half_sse"', 'loss = ["mse"]'), "loss"),
    "samples not a list": (BASE.replace("[values]\n", "[values]\nsamples = 3\n"), "values.samples"),
    "weight 1e400": (BASE.replace("W2 = [[0.5, 0.6]]", "W2 = [[1e400, 0.6]]"), "values.W2[0][0]"),
    "weight 1e309": (BASE.replace("W2 = [[0.5, 0.6]]", "W2 = [[-1e309, 0.6]]"), "values.W2[0][0]"),
    "integer of 400 digits": (BASE.replace("b2 = [0.2]", "b2 = [1" + "0" * 400 + "]"), "values.b2[0]"),
    "input 1e999999": (BASE.replace("x = [0.1, 0.2]", "x = [1e999999, 0.2]"), "values.x[0]"),
    "input 1e-400": (BASE.replace("x = [0.1, 0.2]", "x = [0.1, 1e-400]"), "below the range"),
    "a million parameters": ("inputs = 1000\nloss = \"mse\"\n[[layer]]\nsize = 1000\n"
                             "activation = \"tanh\"\n", "--max-params"),
    "600 layers": (layers(600), "--max-layers"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_broken_specs_are_one_spec_error(name):
    text, key = SPECS[name]
    with pytest.raises(SpecError) as err:
        parse_spec(text, source="s.toml")
    assert key in str(err.value) and "\n" not in str(err.value)


def test_limits_can_be_raised_for_one_command(tmp_path, capsys):
    spec = tmp_path / "deep.toml"
    spec.write_text(layers(501, 1) + "[values]\nx = [0.1, 0.2]\ny = [0.5]\n")
    assert "at most 500" in one_error(capsys, ["codegen", str(spec), "-o", str(tmp_path / "g.py")])
    assert main(["codegen", str(spec), "-o", str(tmp_path / "g.py"), "--max-layers", "600"]) == 0
    assert (tmp_path / "g.py").exists()
    with pytest.raises(SpecError, match="at most 500"):       # the override ended with it
        parse_spec(layers(501, 1))


def test_negative_init_seed_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["eval", "worked_2331.toml", "--init", "-1"])
    assert stop.value.code == 2
    assert "non-negative integer seed" in capsys.readouterr().err


# ---- paths ----------------------------------------------------------------------

@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_before_reading(capsys, device):
    assert "is a device" in one_error(capsys, ["eval", device])
    spec = str(files_module.PACKAGE / "examples" / "worked_2331.toml")
    assert "is a device" in one_error(capsys, ["eval", spec, "--data", device])
    assert "is a device" in one_error(capsys, ["check", "--no-spec", device])


def test_a_fifo_is_refused_without_waiting(capsys, fifo):
    spec = str(files_module.PACKAGE / "examples" / "worked_2331.toml")
    for argv in (["eval", str(fifo)], ["eval", spec, "--data", str(fifo)],
                 ["check", "--no-spec", str(fifo)]):
        assert "FIFO" in one_error(capsys, argv)


def test_size_is_capped_even_where_the_system_reports_none(tmp_path):
    with pytest.raises(FileError, match="over 100 bytes"):
        read_limited("/proc/self/maps", 100)        # st_size 0, content longer
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * 201)
    with pytest.raises(FileError, match="201 bytes; at most 200"):
        read_limited(big, 200, "spec")
    with pytest.raises(FileError, match="is a folder"):
        read_limited(tmp_path, 200)


@pytest.mark.parametrize("output, reason", [
    ("afile", "exists and is not a folder"), ("/dev/null", "exists and is not a folder"),
    ("afile/sub", "a part of the path is a file"), ("/proc/x", "cannot write"),
])
def test_bad_output_folders_are_one_message(tmp_path, capsys, monkeypatch, output, reason):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    err = one_error(capsys, ["derive", "-o", output])
    assert output in err and reason in err


def test_a_folder_where_a_file_goes(tmp_path, capsys):
    (tmp_path / "plot.png").mkdir()
    spec = str(files_module.PACKAGE / "examples" / "worked_2331.toml")
    err = one_error(capsys, ["train", spec, "--steps", "2", "--plot", str(tmp_path / "plot.png")])
    assert "plot.png: is a folder" in err
    (tmp_path / "out" / "worked_2331.md").mkdir(parents=True)
    assert "worked_2331.md: is a folder" in one_error(capsys, ["derive", "-o", str(tmp_path / "out")])


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "no space left"),
                                         (errno.EROFS, "read-only"),
                                         (errno.EPERM, "not permitted")])
def test_write_failures_leave_nothing_half_written(tmp_path, capsys, monkeypatch, code, words):
    """Disk full in the middle of a file, a read-only mount, an immutable folder: one
    message naming the folder, no temporary file left, no old file replaced."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "worked_2331.md").write_text("old")
    real = os.fdopen

    class Failing:
        def __init__(self, fd, mode):
            self.f = real(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:10])
            raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files_module.os, "fdopen", Failing)
    err = one_error(capsys, ["derive", "-o", str(out)])
    assert str(out) in err and words in err and "nothing was written" in err
    assert sorted(p.name for p in out.iterdir()) == ["worked_2331.md"]
    assert (out / "worked_2331.md").read_text() == "old"


def test_a_closed_stdout_ends_quietly(monkeypatch, capsys):
    read, write = os.pipe()
    os.close(read)
    stream = open(write, "w", buffering=1)          # line-buffered: print meets the pipe
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        assert main(["examples"]) == 0
    finally:
        monkeypatch.undo()
        try:
            stream.close()
        except BrokenPipeError:
            pass
    assert capsys.readouterr().err == ""


# ---- claims files -------------------------------------------------------------------

def test_claims_files_not_utf8(tmp_path, capsys):
    (tmp_path / "u16.txt").write_text("1 = 1\n", encoding="utf-16")
    assert "UTF-16" in one_error(capsys, ["check", "--no-spec", str(tmp_path / "u16.txt")])
    (tmp_path / "bad.md").write_bytes(b"$1 = 1$\n\xff\xfe\n")
    err = one_error(capsys, ["check", "--no-spec", str(tmp_path / "bad.md")])
    assert "line 2: not UTF-8" in err


def test_claims_count_and_size_are_capped(tmp_path, capsys, monkeypatch):
    claims = tmp_path / "many.txt"
    claims.write_text("1 = 1\n" * 30)
    monkeypatch.setattr(report_module, "MAX_CLAIMS", 25)
    assert "30 claims; one check runs at most 25" in one_error(
        capsys, ["check", "--no-spec", str(claims)])
    monkeypatch.setattr(report_module, "MAX_FILE_BYTES", 100)
    assert "at most 100 bytes" in one_error(capsys, ["check", "--no-spec", str(claims)])


def test_huge_markdown_without_equations_and_unclosed_dollars_answer_fast(tmp_path, capsys):
    (tmp_path / "line.md").write_text("a" * 1_000_000 + "\n")
    (tmp_path / "dollars.md").write_text("$" + "x + (" * 20_000 + "\n" + "$$ {" * 5_000)
    for name in ("line.md", "dollars.md"):
        assert main(["check", "--no-spec", str(tmp_path / name)]) in (0, 1)
        assert "claim" in capsys.readouterr().out


# ---- CSV ----------------------------------------------------------------------------

def test_csv_with_a_200000_character_field(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("x1,x2,y1\n" + "1" * 200_000 + ",2,0.5\n")
    spec = str(files_module.PACKAGE / "examples" / "worked_2331.toml")
    err = one_error(capsys, ["eval", spec, "--data", str(data)])
    assert "d.csv: line 2" in err
