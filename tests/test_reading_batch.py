"""check reads sums over the examples of a batch (issue #13): Nielsen's
``C = \\frac{1}{2n}\\sum_x \\|y(x) - a^L(x)\\|^2`` (ch. 1–2), ``\\frac{\\partial C}{\\partial b}
= \\frac{1}{n}\\sum_x \\delta(x)`` (ch. 2, the batch gradient), and the course's
``J = -\\frac{1}{m}\\sum_{i=1}^{m}(y^{(i)}\\log a^{[2](i)} + …)`` (deeplearning.ai course 1,
week 3).  The batch losses below are computed by a NumPy forward pass in this file."""
import numpy as np
import pytest

from symbackprop.api import check, prepare

SAMPLES = [([0.5, -0.2], [1.0, 0.0]), ([-0.3, 0.8], [0.0, 1.0]), ([1.1, 0.4], [1.0, 1.0])]
W1 = [[0.4, -0.6], [0.3, 0.2]]
B1 = [0.1, -0.1]
W2 = [[0.7, -0.2], [-0.5, 0.9]]
B2 = [0.0, 0.2]


def _toml(loss: str, samples, out: int = 2, hidden: str = "sigmoid", letter: str = "C") -> str:
    rows = "".join(f"[[values.samples]]\nx = {x}\ny = {y[:out]}\n" for x, y in samples)
    return (f'name = "batch_reading"\ninputs = 2\nloss = "{loss}"\n'
            f'[[layer]]\nsize = 2\nactivation = "{hidden}"\n'
            f'[[layer]]\nsize = {out}\nactivation = "sigmoid"\n'
            f'[notation]\nloss = "{letter}"\n'
            f"[values]\nW1 = {W1}\nb1 = {B1}\nW2 = {W2[:out]}\nb2 = {B2[:out]}\n" + rows)


def _forward(x, hidden=np.tanh, out: int = 2):
    sig = lambda v: 1 / (1 + np.exp(-v))        # noqa: E731
    h = sig if hidden is None else hidden
    a1 = h(np.array(W1) @ np.array(x) + np.array(B1))
    return sig(np.array(W2[:out]) @ a1 + np.array(B2[:out]))


def _verdicts(model, lines):
    text = "\n\n".join(f"${line}$" for line in lines) + "\n"
    return [v.verdict for v in check(model, text, kind="markup", isolate=False)]


@pytest.fixture(scope="module")
def quadratic():
    return prepare(_toml("half_sse", SAMPLES))


def test_nielsen_sums_over_the_examples(quadratic):
    # the spec's batch loss is the mean over its 3 examples of ½‖y − a^L‖²
    cost = np.mean([0.5 * np.sum((np.array(y) - _forward(x, None)) ** 2) for x, y in SAMPLES])
    lines = [r"C = \frac{1}{2n} \sum_x \|y(x) - a^L(x)\|^2",
             r"C = \frac{1}{2} \sum_x \|y(x) - a^L(x)\|^2",          # the sum: 1/n missing
             r"C = \frac{1}{n} \sum_x C_x",
             r"\frac{\partial C}{\partial b^2_1} = \frac{1}{n} \sum_x \delta^2_1(x)",
             r"\frac{\partial C}{\partial b^2_1} = \sum_x \delta^2_1(x)",  # 1/n missing
             f"C = {cost:.4f}"]
    assert _verdicts(quadratic, lines) == ["correct", "incorrect", "correct", "correct",
                                           "incorrect", "correct"]


def test_course_sums_over_the_examples_on_a_batch_and_on_one_example():
    samples = [(x, y[:1]) for x, y in SAMPLES]
    for spec in (_toml("binary_cross_entropy", samples, 1, "tanh", "J"),
                 _toml("binary_cross_entropy", samples[:1], 1, "tanh", "J")):
        model = prepare(spec)
        lines = [r"J = -\frac{1}{m}\sum_{i=1}^{m}\left(y^{(i)}\log a^{[2](i)} + "
                 r"(1-y^{(i)})\log(1-a^{[2](i)})\right)",
                 r"J = -\frac{1}{m}\sum_{i=1}^{m}\left(y^{(i)}\log_{10} a^{[2](i)} + "
                 r"(1-y^{(i)})\log_{10}(1-a^{[2](i)})\right)",                 # base 10
                 r"J(W^{[1]}, b^{[1]}, W^{[2]}, b^{[2]}) = \frac{1}{m}\sum_{i=1}^{m}"
                 r"\mathcal{L}(\hat{y}^{(i)}, y^{(i)})",
                 r"\frac{\partial J}{\partial b^{[2]}} = \frac{1}{m}\sum_{i=1}^{m}"
                 r"(a^{[2](i)} - y^{(i)})",
                 r"\frac{\partial J}{\partial b^{[2]}} = \sum_{i=1}^{m}(a^{[2](i)} - y^{(i)})"]
        assert _verdicts(model, lines) == ["correct", "incorrect", "correct", "correct",
                                           "incorrect"]
    # the oracle of the first line: the mean binary cross-entropy by hand
    a = np.array([_forward(x, np.tanh, 1)[0] for x, _ in samples])
    y = np.array([t[0] for _, t in samples])
    J = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    model = prepare(_toml("binary_cross_entropy", samples, 1, "tanh", "J"))
    assert _verdicts(model, [f"J = {J:.4f}", f"J = {J * 3:.4f}"]) == ["correct", "incorrect"]


def test_a_sum_over_the_examples_outside_a_loss_or_gradient_is_unparseable(quadratic):
    found = check(quadratic, "$\\sum_x a^L_1(x) = 1.5$\n", kind="markup", isolate=False)
    assert [v.verdict for v in found] == ["unparseable"]
    assert "sum over the examples" in found[0].message


def test_a_sum_over_neurons_is_not_a_sum_over_the_examples(quadratic):
    # ½ Σ_j (y_j − a^L_j)² is one example's cost (no (x) or (i) on its names)
    got = _verdicts(quadratic, [r"\frac{\partial C}{\partial a^L_1} = "
                                r"\frac{\partial}{\partial a^L_1} \frac{1}{2}\sum_j (y_j - a^L_j)^2"])
    assert got == ["correct"]
