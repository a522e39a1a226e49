"""`SimSiamStream.redraw_frame_per_read`: a buffer slot stands for its video (as the original's
`seq_sampling=random`), so each
buffer batch reads a fresh random frame of every sampled slot's group; off, the stored frame."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from continual.data.classification import ClassificationSample, write_classification_set
from continual.data.image_table import image_table
from continual.data.scenarios import class_sequential_runs, video_runs
from continual.data.shards import open_record_set
from continual.loop.experience import ExperienceLoop
from continual.methods.simsiam_stream import SimSiamStream
from continual.replay.buffers.ssl_buffer import ContinuousBuffer

FRAMES = 4   # records per group: group g = rows 4g..4g+3, of class g // 2


@pytest.fixture
def videos(tmp_path):
    rng = np.random.default_rng(0)
    for split, count in (("train", 32), ("test", 4)):
        samples = [ClassificationSample(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8),
                                        (i // FRAMES // 2) % 4, f"{split}{i}",
                                        group=i // FRAMES) for i in range(count)]
        write_classification_set(tmp_path, split, samples, num_classes=4)
    return open_record_set(tmp_path, "train"), open_record_set(tmp_path, "test")


def _method(videos, **kwargs):
    """A method whose 2-shard buffer holds the first 8 stream reads (all sampled per batch)."""
    gin.parse_config("build_classifier.name = 'tiny_convnet'\n"
                     "ExperienceLoop.stream_batch_size = 8")
    scenario = video_runs(*videos, 0, num_tasks=1, reads_per_group=4, sampling="random")
    buffer = ContinuousBuffer(capacity=8, shards=2, num_classes=4)
    method = SimSiamStream(projection_dim=8, predictor_dim=4, **kwargs)
    method.build((8, 8, 3), 4, buffer, seed=0)
    method.check_stream(scenario, ExperienceLoop())
    stream = np.asarray(scenario.experiences[0].train_ids[:8])
    buffer.insert(stream, np.zeros(8, np.int32), tf.constant(0, tf.int64))
    return method, image_table(videos[0])


def _reads(method, table) -> dict[tuple[int, int], tuple[int, int]]:
    """(shard, slot) -> (stored id, row read) of one buffer batch."""
    rows, slots = method.replay_rows(table)
    keys = [(s, int(k)) for s, part in enumerate(slots) for k in part.numpy()]
    stored = np.concatenate([tf.gather(shard.ids, part).numpy()
                             for shard, part in zip(method.buffer.shards, slots, strict=True)])
    return dict(zip(keys, zip(stored.tolist(), rows.numpy().tolist(), strict=True), strict=True))


def test_redraw_reads_frames_of_the_slots_group_new_per_update_same_for_the_same_update(videos):
    method, table = _method(videos, redraw_frame_per_read=True)
    by_update = []
    for update in (0, 1, 2, 0):
        method.updates.assign(update)
        reads = _reads(method, table)
        assert len(reads) == 8
        assert all(row // FRAMES == stored // FRAMES for stored, row in reads.values())
        by_update.append(reads)
    assert by_update[3] == by_update[0]        # stateless: the same update reads the same
    assert by_update[1] != by_update[0] and by_update[2] != by_update[1]
    redrawn = sum(row != stored for r in by_update for stored, row in r.values())
    assert redrawn > 8    # 3 of 4 frames are another frame than the stored one


def test_off_by_default_a_batch_reads_the_stored_frames(videos):
    method, table = _method(videos)
    assert method.redraw_frame_per_read is False
    for update in (0, 1):
        method.updates.assign(update)
        assert all(row == stored for stored, row in _reads(method, table).values())


def test_redraw_without_a_random_video_stream_is_refused_naming_the_binding(videos):
    gin.parse_config("ExperienceLoop.stream_batch_size = 8")
    method = SimSiamStream(redraw_frame_per_read=True)
    runs = class_sequential_runs(*videos, 0, num_tasks=2)
    with pytest.raises(ValueError, match=r"SimSiamStream.redraw_frame_per_read = True .* "
                                         r"got StreamPlan.scenario = @class_sequential_runs"):
        method.check_stream(runs, ExperienceLoop())
    frames = video_runs(*videos, 0, num_tasks=1, sampling="consecutive")
    with pytest.raises(ValueError, match="got video_runs.sampling = 'consecutive'"):
        method.check_stream(frames, ExperienceLoop())
    SimSiamStream().check_stream(runs, ExperienceLoop())   # off: any stream
