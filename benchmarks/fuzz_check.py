"""Fuzz the checker with thousands of random and mutated claims (too slow for the
unit suite): every claim must get verdicts, none an internal error.

    python benchmarks/fuzz_check.py [N]        # default 3000 claims over four checkers
"""
import random
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from symbackprop.checker.context import make_context  # noqa: E402
from symbackprop.checker.engine import check_claim  # noqa: E402
from symbackprop.formula.claims import ClaimText  # noqa: E402
from symbackprop.checker.isolate import run  # noqa: E402
from symbackprop.api import example_path, prepare  # noqa: E402
from test_formula_fuzz import SEEDS, TOKENS  # noqa: E402


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randint(0, len(text))
        op = rng.choice(["insert", "delete", "replace"])
        piece = rng.choice(TOKENS)
        if op == "insert":
            text = text[:i] + piece + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + rng.randint(1, 8):]
        else:
            text = text[:i] + piece + text[i + len(piece):]
    return text


ATOMS = {
    "free": ["x", "z", "a", "2", "0.5", "1", "e^{-z}", r"\sigma(z)", "tanh(a)", r"\ln(x)"],
    "numbered": ["out_n9", "net_n9", "out_n6", "net_n6", "w16", "w7", "y", "x1", "0.5", "2",
                 "E_total", "dE_total/dw16", "dE_total/dout_n9", "dout_n9/dnet_n9",
                 "dnet_n9/dout_n6", "dE_total/dw1", "relu'(net_n6)", "delta_n9"],
    "softmax": ["a^2_1", "a^2_2", "y_1", "y_2", "z^2_1", r"\delta^2_1", "w^2_{11}", "x_1",
                "dE/dz^2_1", "dE/dw^2_{11}", "dE/da^1_1", "1"],
    "tanh": ["a^1_1", "z^1_1", "a^2_1", "y_1", r"\delta^1_1", r"\delta^2_2", "w^2_{21}",
             "dE/dw^1_{11}", "dE/db^2_1", "dE/da^2_1", "0.5"],
}
FUNCS = [r"\sigma({})", "tanh({})", "exp({})", "log({})", "({})^2", "1 - {}", "-{}", "({})"]


def expression(rng: random.Random, atoms: list[str], depth: int = 0) -> str:
    """A random well-formed expression over ``atoms``."""
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice(atoms)
    if r < 0.55:
        return rng.choice(FUNCS).format(expression(rng, atoms, depth + 1))
    op = rng.choice([" + ", " - ", " * ", " / "])
    return "(" + expression(rng, atoms, depth + 1) + op + expression(rng, atoms, depth + 1) + ")"


def claim(rng: random.Random, atoms: list[str], i: int) -> str:
    if i % 3 == 0:
        return " = ".join(expression(rng, atoms) for _ in range(rng.randint(2, 3)))
    if i % 3 == 1:
        return " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 20)))
    return mutate(rng, rng.choice(SEEDS))


def main(n: int = 3000) -> int:
    rng = random.Random(0)
    checkers = {"free": make_context(None),
                "numbered": make_context(prepare(example_path("worked_2331_numbered"))),
                "softmax": make_context(prepare(example_path("softmax_classifier"))),
                "tanh": make_context(prepare(example_path("tanh_net")))}
    counts, errors, undecided, start = Counter(), [], [], time.monotonic()
    per = n // len(checkers)
    for name, checker in checkers.items():
        claims = [ClaimText(i + 1, claim(rng, ATOMS[name], i)) for i in range(per)]
        verdicts = [v for r in run(partial(check_claim, checker), claims, timeout=5.0) for v in r]
        assert {v.line for v in verdicts} == {c.line for c in claims}
        counts.update(v.verdict for v in verdicts)
        errors += [v for v in verdicts if (v.message or "").startswith("internal error")]
        undecided += [v for v in verdicts if v.verdict == "undecided"]
    print(f"{n} claims in {time.monotonic() - start:.0f} s: {dict(counts)}")
    for v in undecided[:8]:
        print("undecided:", v.text[:100], "→", v.message)
    for v in errors[:20]:
        print("internal error:", v.text[:120], "→", v.message)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
