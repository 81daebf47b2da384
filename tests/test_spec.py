"""Bad specs get one clear message naming the key and what was expected."""
import pytest

from conftest import spec_text
from symbackprop.core.spec import SpecError, load_spec, parse_spec

GOOD = spec_text([2, 3, 1], ["relu", "sigmoid"], "half_sse")


def error(text):
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="net.toml")
    return str(info.value)


def test_good_spec():
    spec = parse_spec(GOOD)
    assert spec.sizes == (2, 3, 1)
    assert [l.activation for l in spec.layers] == ["relu", "sigmoid"]


def test_unknown_activation_suggests():
    msg = error(GOOD.replace('"relu"', '"rleu"'))
    assert "layer[1].activation" in msg and "Did you mean 'relu'" in msg


def test_unknown_loss_suggests():
    msg = error(GOOD.replace('"half_sse"', '"mse_loss"'))
    assert "`loss`" in msg and "mse" in msg


def test_toml_syntax_error_has_line_and_column():
    msg = error(GOOD + "\n[values\nx = 1")
    assert "net.toml" in msg and "line" in msg and "column" in msg


def test_wrong_matrix_shape():
    msg = error(GOOD + "[values]\nW1 = [[1, 2, 3], [4, 5, 6]]\n")
    assert "values.W1" in msg and "3×2" in msg and "got 2×3/3" in msg


def test_non_numeric_value():
    msg = error(GOOD + '[values]\nx = [1, "two"]\ny = [0]\n')
    assert "values.x[1]" in msg and "expected a number" in msg


def test_empty_network():
    assert "no layers" in error('inputs = 2\nloss = "sse"\n')


def test_softmax_with_binary_cross_entropy():
    msg = error(spec_text([2, 3], ["softmax"], "binary_cross_entropy"))
    assert "softmax" in msg and "cross_entropy" in msg


def test_log_loss_needs_positive_outputs():
    assert "relu" in error(spec_text([2, 3], ["relu"], "cross_entropy"))


def test_cross_entropy_targets_in_range():
    msg = error(spec_text([2, 2], ["softmax"], "cross_entropy", "[values]\nx = [1, 2]\ny = [2, -1]\n"))
    assert "values.y" in msg


def test_scalar_without_names_is_explained():
    from symbackprop.api import prepare
    with pytest.raises(SpecError, match="no parameter is named 'w1'"):   # at once (#23)
        prepare(GOOD + "[values]\nw1 = 0.5\nx = [1, 2]\ny = [0.5]\n")


def test_missing_parameters_need_init():
    from symbackprop.api import prepare
    model = prepare(GOOD + "[values]\nx = [1, 2]\ny = [0.5]\n")
    with pytest.raises(SpecError, match="--init SEED"):
        model.parameters()
    assert model.parameters(init=3)["W1"].shape == (3, 2)


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"inputs = 2\n# \xff\xfe\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(bad)
