"""A stream run whose sets exceed `input_memory_budget` reads them from their shards and gives
the in-memory run's results bit for bit, under the same keys."""

import numpy as np
import tensorflow as tf

import main
from tests.core.stream_resume import final_buffer, records
from tests.core.test_stream_run import TWO_TASKS, stream_args


def results(record: dict) -> dict:
    """A metrics record less its timings (images/s)."""
    return {k: v for k, v in record.items() if "per_sec" not in k and "seconds" not in k}


def final_state(tmp, name: str) -> dict[str, np.ndarray]:
    key = records(tmp, name)[-1]["model_key"]
    reader = tf.train.load_checkpoint(str(tmp / "ckpt" / "stream_experience" / key / "state"
                                          / "state"))
    return {n: reader.get_tensor(n) for n in sorted(reader.get_variable_to_shape_map())
            if n.startswith("model/")}


def run(tmp, *bindings: str) -> None:
    args = stream_args(tmp, *TWO_TASKS, "ExperienceReplay.epochs = 1", "FineTuning.epochs = 1",
                       *bindings)
    assert main.main([*args, "--only", "FINETUNE", "--only", "ER"]) == 0


def test_sets_over_the_budget_give_the_in_memory_results_under_the_same_keys(tmp_path, caplog):
    run(tmp_path / "memory")
    with caplog.at_level("INFO"):
        run(tmp_path / "disk", "input_memory_budget.megabytes = 0.01")  # 10 KiB: sets ~52, 17
    assert "exceed input_memory_budget" in caplog.text and "train.manifest.json" in caplog.text
    assert "test.manifest.json" in caplog.text
    for name in ("FINETUNE", "ER"):
        memory, disk = records(tmp_path / "memory", name), records(tmp_path / "disk", name)
        assert len(memory) == len(disk) == 3
        for want, got in zip(memory, disk, strict=True):
            assert results(got) == results(want) and want["accuracy_row"]
        want, got = final_state(tmp_path / "memory", name), final_state(tmp_path / "disk", name)
        assert want.keys() == got.keys() and len(want) >= 6
        for weight in want:
            np.testing.assert_array_equal(got[weight], want[weight])
    memory, disk = final_buffer(tmp_path / "memory", "ER"), final_buffer(tmp_path / "disk", "ER")
    for variable in memory:
        np.testing.assert_array_equal(disk[variable], memory[variable])
    keys = {p.name for p in (tmp_path / "memory" / "ckpt").glob("*/*")}
    assert keys == {p.name for p in (tmp_path / "disk" / "ckpt").glob("*/*")}
