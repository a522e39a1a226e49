"""The table read from shards gives the rows of the in-memory table, and the memory budget
picks which of the two reads a set."""

import gin
import numpy as np
import pytest

from continual.data import image_table as image_table_module
from continual.data.classification import (
    ClassificationSample,
    decoded_chunks,
    decoded_images,
    write_classification_set,
)
from continual.data.image_table import ImageTable, image_table, input_memory_budget
from continual.data.shard_table import ShardTable
from continual.data.shards import open_record_set


@pytest.fixture(autouse=True)
def _no_tables_in_memory():
    """Each test starts with no set in memory (they count against the budget)."""
    image_table_module._in_memory.clear()


def write_set(folder, channels: int, count: int = 23):
    """A set of random images over 4 shards (6 records each, the last one 5)."""
    rng = np.random.default_rng(channels)
    samples = [ClassificationSample(rng.integers(0, 256, (5, 7, channels), np.uint8),
                                    int(i % 3), f"s{i:03d}") for i in range(count)]
    write_classification_set(folder, "train", samples, num_classes=3, records_per_shard=6)
    return open_record_set(folder, "train")


@pytest.mark.parametrize("channels", [1, 3])
def test_shard_rows_equal_the_in_memory_rows_in_any_order(tmp_path, channels):
    manifest = write_set(tmp_path, channels)
    memory, disk = ImageTable(manifest), ShardTable(manifest)
    ids = np.random.default_rng(0).permutation(23)
    for want, got in zip(memory.gather(ids), disk.gather(ids), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(disk.labels_of(ids), memory.labels_of(ids))
    assert disk.gather([4])[0].shape == (1, 5, 7, channels)


def test_the_in_memory_table_is_filled_chunk_by_chunk_with_the_decoded_rows(tmp_path,
                                                                            monkeypatch):
    manifest = write_set(tmp_path, 3)
    chunks = [(start, rows.copy()) for start, rows in decoded_chunks(manifest, 5)]
    assert [start for start, _ in chunks] == [0, 5, 10, 15, 20] and len(chunks[-1][1]) == 3
    np.testing.assert_array_equal(np.concatenate([rows for _, rows in chunks]),
                                  decoded_images(manifest))
    monkeypatch.setattr(image_table_module, "DECODE_CHUNK", 5)
    images, _ = ImageTable(manifest).gather(np.arange(23))
    np.testing.assert_array_equal(images.numpy(), decoded_images(manifest))


def test_read_ahead_serves_its_batches_and_other_ids_in_between(tmp_path):
    manifest = write_set(tmp_path, 3)
    memory, disk = ImageTable(manifest), ShardTable(manifest)
    batches = [np.array([5, 0, 17]), np.array([22, 3]), np.array([9, 10, 11, 12])]
    disk.read_ahead(batches)
    for batch in batches:
        np.testing.assert_array_equal(disk.gather(batch)[0].numpy(),
                                      memory.gather(batch)[0].numpy())
        replay = np.array([1, 1, 20])  # a replay batch read by id between two stream batches
        np.testing.assert_array_equal(disk.gather(replay)[0].numpy(),
                                      memory.gather(replay)[0].numpy())
    assert not disk._expected


def test_an_id_outside_the_set_is_refused(tmp_path):
    disk = ShardTable(write_set(tmp_path, 3))
    with pytest.raises(Exception, match=r"record ids \[23\] are outside 0..22"):
        disk.gather([2, 23])


def test_the_budget_picks_the_table(tmp_path):
    manifest = write_set(tmp_path, 3)  # 23 x 5 x 7 x 3 = 2415 bytes decoded
    assert isinstance(image_table(manifest), ImageTable)  # default: a quarter of the RAM
    gin.bind_parameter("input_memory_budget.megabytes", 2414 / 2**20)
    assert isinstance(image_table(manifest), ShardTable)
    gin.bind_parameter("input_memory_budget.megabytes", 2415 / 2**20)
    assert isinstance(image_table(manifest), ImageTable)


def test_the_sets_in_memory_share_the_budget(tmp_path):
    first, second = write_set(tmp_path / "a", 3), write_set(tmp_path / "b", 1)  # 2415, 805 B
    gin.bind_parameter("input_memory_budget.megabytes", 3000 / 2**20)
    assert isinstance(image_table(first), ImageTable)
    assert isinstance(image_table(second), ShardTable)  # 2415 + 805 > 3000
    assert image_table(first) is image_table(first)  # kept, not decoded again
    gin.bind_parameter("input_memory_budget.megabytes", 1000 / 2**20)  # the first one is let go
    assert isinstance(image_table(second), ImageTable)
    assert isinstance(image_table(first), ShardTable)


def test_a_bad_budget_names_its_binding():
    with pytest.raises(ValueError, match="input_memory_budget.megabytes must be > 0"):
        input_memory_budget(megabytes=0)
    with pytest.raises(ValueError, match="input_memory_budget.host_fraction must be > 0"):
        input_memory_budget(host_fraction=-0.5)
