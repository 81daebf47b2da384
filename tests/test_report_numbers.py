"""The check report's numbers come from the documents' formatter (core.formatting):
6 significant digits, more only where two shown sides would otherwise look equal."""
import re

from symbackprop.api import example_path, prepare, report_text
from symbackprop.core.formatting import apart
from symbackprop.checker.report import check_files


def test_apart_adds_digits_only_to_tell_two_values_apart():
    assert apart(0.1234567, 0.1234568) == ("0.1234567", "0.1234568")
    assert apart(2.0, 3.0) == ("2", "3")
    assert apart(-0.0, 1e-20) == ("0", "1e-20")
    assert apart(None, 0.5) == ("undefined", "0.5")


def test_counterexample_sides_are_formatted_not_reprs(tmp_path):
    # ∂E/∂w^3_11 = a^2_1 δ^3_1 (the output layer's δ); written with δ^2_1 it is wrong.
    claims = tmp_path / "c.md"
    claims.write_text(r"$\frac{\partial E}{\partial w^3_{11}} = a^2_1 \delta^2_1$" + "\n")
    model = prepare(example_path("worked_2331"))
    text = report_text(check_files(model, [claims]), model)
    line = next(l for l in text.splitlines() if "left side" in l)
    lhs, rhs = re.findall(r"side (\S+?)(?:,|$)", line)
    # the post behind worked_2331 (../shared/seeds, 004) gives this gradient as 0.002468
    assert lhs == "0.00246821" and rhs != lhs
    assert not re.search(r"\d{10,}", text), text       # no 17-digit float reprs anywhere


def test_expected_value_keeps_three_significant_digits_and_never_minus_zero():
    from symbackprop.checker.engine import shown_value
    assert shown_value(-0.0283153, 1) == "-0.0283"      # the claim's 1 place would show −0.0
    assert shown_value(0.343, 4) == "0.3430"             # the claim's own places when enough
    assert shown_value(12.5, 1) == "12.5"
    assert shown_value(-1e-40, 2) .startswith("-0.0000")  # tiny, still its digits
    assert shown_value(0.0, 2) == "0.00"
