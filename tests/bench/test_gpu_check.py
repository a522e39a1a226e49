"""bench/gpu_check.py on a CPU: tiny cards through the same code path as the paper-size ones,
one table row per port and precision, each with its images/s, memory and step split."""

import keras
import pytest

from bench import gpu_check


@pytest.mark.slow  # every port's card in two precisions: ~45 s of CPU
def test_tiny_cards_give_a_row_per_port_and_precision(capsys):
    rows = gpu_check.main(["--tiny", "--steps", "1", "--warmup", "1"])
    printed = capsys.readouterr().out
    expected = [(port, precision) for port in gpu_check.PORTS
                for precision in ("float32", "mixed_bfloat16")]
    assert [(row["port"], row["precision"]) for row in rows] == expected
    for row in rows:
        assert "error" not in row, row
        assert row["images_per_sec"] > 0 and row["memory_mb"] > 0 and row["memory"] == "RSS"
        assert row["step_ms"] > 0 and set(row["op_shares"]) == set(gpu_check_categories())
    table = [line for line in printed.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(expected)          # header + one row each
    assert not any("failed" in line for line in table)
    assert all(f"| {port} |" in printed for port in gpu_check.PORTS)
    assert keras.mixed_precision.global_policy().name == "float32"   # restored after a row


def gpu_check_categories():
    from bench.op_profile import CATEGORIES
    return CATEGORIES


@pytest.mark.parametrize("op, kind", [
    ("stage1/conv1/BiasAdd:_MklNativeFusedConv2D", "conv"),
    ("gradient_tape/stage1/conv1/Conv2DBackpropFilter:Conv2DBackpropFilter", "conv"),
    ("encoder/bn_conv1/FusedBatchNormV3:FusedBatchNormV3", "batch norm"),
    ("encoder/conv1_bn/batchnorm/mul:Mul", "batch norm"),
    ("block1_unit_1_conv1_bn_1/mul:Mul", "batch norm"),
    ("stage2_block1_conv1_1/convolution:Conv2D", "conv"),
    ("decoder/Cast_3:Cast", "cast"),
    ("SGD/update/mul:Mul", "other"),
])
def test_ops_fall_in_their_category(op, kind):
    from bench.op_profile import category
    assert category(op) == kind


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit, match="--warmup and --steps must be >= 1"):
        gpu_check.main(["--tiny", "--warmup", "0"])
