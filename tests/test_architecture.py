"""The package's architecture (ARCHITECTURE.md), kept by tests.

cli → api → {render, checker, numeric} → formula → core, enforced by the
import-linter contracts in pyproject.toml; no import cycle between modules;
no function-level import except the few kept lazy for start-up time.
"""
import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symbackprop"
# third-party modules imported inside functions on purpose: start-up time
LAZY = {"matplotlib", "markdown_it", "mdit_py_plugins", "tqdm"}
# our own modules imported inside a function on purpose: the command line parses its
# arguments before it loads the commands (and SymPy), so --help answers at once
LAZY_OWN = {("symbackprop/cli/__init__.py", ".commands")}


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    return subprocess.run(cmd + ["--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def test_contracts_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_contract_test_can_fail(tmp_path):
    """The failing twin: a core module that imports the checker breaks the contract."""
    shutil.copytree(PACKAGE, tmp_path / "symbackprop",
                    ignore=shutil.ignore_patterns("__pycache__", "examples"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    core = tmp_path / "symbackprop" / "core" / "functions.py"
    core.write_text(core.read_text() + "\nfrom ..checker import verdict  # upward\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    assert "BROKEN" in run.stdout and "symbackprop.core.functions -> symbackprop.checker" in run.stdout


def test_no_import_cycle():
    graph = grimp.build_graph("symbackprop")
    modules = sorted(graph.modules)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in modules}
    state, stack = {}, []

    def visit(m):  # depth-first search; a grey node met again closes a cycle
        state[m] = "grey"
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == "grey":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "black"

    for m in modules:
        if m not in state:
            visit(m)


def function_level_imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    yield node.lineno, [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    yield node.lineno, ["." * node.level + (node.module or "")]


def test_only_lazy_imports_inside_functions():
    found = [f"{p.relative_to(ROOT)}:{line}: {name}"
             for p in sorted(PACKAGE.rglob("*.py"))
             for line, names in function_level_imports(p)
             for name in names if name.split(".")[0] not in LAZY
             and (str(p.relative_to(ROOT)), name) not in LAZY_OWN]
    assert not found, "function-level imports outside the lazy list:\n" + "\n".join(found)


def test_no_module_shadows_the_standard_library():
    stdlib = set(sys.stdlib_module_names)
    shadows = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if p.stem in stdlib]
    assert not shadows


def test_help_and_bad_options_load_neither_sympy_nor_numpy():
    """``symbackprop --help`` (and every subcommand's) parses before the heavy imports."""
    probe = ("import sys\nfrom symbackprop.cli import main\n"
             "for argv in (['--help'], ['check', '--help'], ['eval', '--bogus']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print(sorted(m for m in ('sympy', 'numpy', 'symbackprop.api') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "[]"
    assert "usage: symbackprop" in run.stdout + run.stderr
