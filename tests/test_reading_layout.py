"""Layout as the sources write it (issue #13): eqnarray, align, multline, split,
aligned and gather rows with ``& = &`` continuations (each row a link of one
chain), ``\\tag``, ``\\label``, ``\\nonumber``, ``\\notag``, closing punctuation
and ``\\quad`` text.  The expected claims are written here by hand; the verdict
test pairs the right derivation with one whose second row is wrong (the chain
a³(1 − a³) written without its last factor), so it can fail both ways.
"""
import time

import pytest

import symbackprop
from symbackprop.formula.claims import ClaimText, extract
from symbackprop.formula.grammar import normalise

EQNARRAY = r"""Nielsen writes
\begin{eqnarray}
\frac{\partial E}{\partial z^3} & = & (a^3 - y) \sigma'(z^3) \label{eq:bp1} \\
 & = & (a^3 - y) a^3 (1 - a^3). \nonumber
\end{eqnarray}
"""

ALIGN = r"""\begin{align}
\delta^3 &= (a^3 - y) \odot \sigma'(z^3) \tag{BP1} \\
&= (a^3 - y) \odot a^3 (1 - a^3), \notag \\
z^3 &= W^3 a^2 + b^3 \label{z}
\end{align}"""

SPLIT = r"""\begin{equation}
\begin{split}
\delta^3 &= (a^3 - y) \odot \sigma'(z^3) \\
&= (a^3 - y) \odot a^3 (1 - a^3);
\end{split}
\end{equation}"""

MULTLINE = r"""\begin{multline*}
E = \frac12 (y - a^3)^2 + \\
\frac12 (y - a^3)^2 - \frac12 (y - a^3)^2 \\
\quad + 0.
\end{multline*}"""

ALIGNED = r"""$$
\begin{aligned}
 E &= \tfrac12 (y - a^3)^2 \\
   &= \tfrac12 (a^3 - y)^2 \\
 z^3 &= W^3 a^2 + b^3
\end{aligned}
$$"""

GATHER = r"""\begin{gather*}
E = \frac12 (y - a^3)^2 \quad \text{(the loss)} \\
z^3 = W^3 a^2 + b^3 .
\end{gather*}"""

BP1 = r"\frac{\partial E}{\partial z^3} = (a^3 - y) \sigma'(z^3)"
ROW2 = "(a^3 - y) a^3 (1 - a^3)"


@pytest.mark.parametrize("text, want", [
    (EQNARRAY, [ClaimText(3, f"{BP1} = {ROW2}")]),
    (ALIGN, [ClaimText(2, r"\delta^3 = (a^3 - y) \odot \sigma'(z^3) = (a^3 - y) \odot a^3 (1 - a^3)"),
             ClaimText(4, "z^3 = W^3 a^2 + b^3")]),
    (SPLIT, [ClaimText(3, r"\delta^3 = (a^3 - y) \odot \sigma'(z^3) = (a^3 - y) \odot a^3 (1 - a^3)")]),
    (MULTLINE, [ClaimText(2, r"E = \frac12 (y - a^3)^2 + \frac12 (y - a^3)^2 - \frac12 (y - a^3)^2 + 0")]),
    (ALIGNED, [ClaimText(3, r"E = \tfrac12 (y - a^3)^2 = \tfrac12 (a^3 - y)^2"),
               ClaimText(5, "z^3 = W^3 a^2 + b^3")]),
    (GATHER, [ClaimText(2, r"E = \frac12 (y - a^3)^2"), ClaimText(3, "z^3 = W^3 a^2 + b^3")]),
], ids=["eqnarray", "align", "split", "multline", "aligned", "gather"])
def test_environment_rows_are_links_of_one_chain(text, want):
    got = [ClaimText(c.line, " ".join(c.text.split())) for c in extract(text, "markup")]
    assert got == want


def test_text_lines_starting_with_equals_continue_the_chain():
    text = "E = 1/2 (y - a^3)^2\n  = 1/2 (a^3 - y)^2,  # the same\n\n= 3\nz^3 = W^3 a^2 + b^3\n"
    assert extract(text) == [ClaimText(1, "E = 1/2 (y - a^3)^2 = 1/2 (a^3 - y)^2,"),
                             ClaimText(4, "= 3"), ClaimText(5, "z^3 = W^3 a^2 + b^3")]


@pytest.mark.parametrize("tail", [".", ",", ";", r" \tag{3}", r" \label{eq:1}", r"\nonumber",
                                  r" \notag.", r", \quad", r" \text{.}", r" \quad \text{for every } j"])
def test_a_text_claim_reads_past_its_closing_marks(tail):
    v = symbackprop.check("worked_2331", BP1 + tail, isolate=False)
    assert [x.verdict for x in v] == ["correct"], v


def test_chain_verdicts_right_and_wrong_rows():
    wrong = EQNARRAY.replace("a^3 (1 - a^3)", "a^3")          # σ'(z) = a(1 − a), not a
    right = symbackprop.check("worked_2331", EQNARRAY + ALIGN + SPLIT + ALIGNED, kind="markup",
                              isolate=False)
    assert right and {v.verdict for v in right} == {"correct"}, right
    bad = symbackprop.check("worked_2331", wrong, kind="markup", isolate=False)
    assert [(v.link, v.verdict) for v in bad] == [(0, "correct"), (1, "incorrect")], bad


@pytest.mark.parametrize("qualifier", [r"\quad \text{for } l = 2", r"\quad \forall j = 1",
                                       r"\qquad \text{if } z^3 > 0", r"\quad \text{with } y = 1"])
def test_a_condition_after_quad_is_not_a_claim(qualifier):
    assert extract(f"{BP1} {qualifier}") == [ClaimText(1, BP1)]
    # a second equation after \quad still is one
    assert [c.text for c in extract(rf"{BP1} \quad \text{{and}} \quad E = 1")] == [BP1, "E = 1"]


@pytest.mark.parametrize("text", ["a" + " " * 9990 + "= b", "a = b" + "." * 9000,
                                  "a = " + "\\, " * 2400 + "b", "a = b" + " \\, ." * 1990,
                                  "a = " + "^{" * 4000 + "ᵀ", "a = " + "\\boldsymbol{" * 700])
def test_reading_the_layout_stays_linear(text):
    start = time.process_time()
    assert len(normalise(text)) == len(text)
    assert time.process_time() - start < 0.5        # was 2.7 s for the first (quadratic)
