import numpy as np
import pytest
import tensorflow as tf

from continual.data.mixing import mix_streams, stream_positions
from continual.data.pipeline import train_stream
from tests.data.test_pipeline import index_records

NEW, REPLAY = 1, 2


def marked_stream(marker: int, start: int = 0) -> tf.data.Dataset:
    """Unbatched (image, label): label = the source marker, image = the sample position."""
    return tf.data.Dataset.counter(start).map(
        lambda p: (tf.fill([2, 2, 3], tf.cast(p, tf.float32)), tf.fill([2, 2], marker)))


def sources_and_positions(dataset: tf.data.Dataset, batches: int):
    """Per batch: the source marker of each sample and its position in its stream."""
    out = []
    for image, label in dataset.take(batches).as_numpy_iterator():
        out.append((label[:, 0, 0].tolist(), image[:, 0, 0, 0].astype(int).tolist()))
    return out


def test_alternate_444_gives_alternating_homogeneous_batches():
    mixed = mix_streams(marked_stream(NEW), marked_stream(REPLAY), batch_size=4,
                        ratio_new=4, ratio_old=4, mode="alternate")
    batches = sources_and_positions(mixed, 6)
    assert [b[0] for b in batches] == [[NEW] * 4, [REPLAY] * 4] * 3
    assert [b[1] for b in batches[:4]] == [[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7], [4, 5, 6, 7]]


def test_mixed_224_puts_both_sources_in_every_batch():
    mixed = mix_streams(marked_stream(NEW), marked_stream(REPLAY), batch_size=4,
                        ratio_new=2, ratio_old=2, mode="mixed")
    batches = sources_and_positions(mixed, 3)
    assert [b[0] for b in batches] == [[NEW, NEW, REPLAY, REPLAY]] * 3
    assert [b[1] for b in batches] == [[0, 1, 0, 1], [2, 3, 2, 3], [4, 5, 4, 5]]
    uneven = mix_streams(marked_stream(NEW), marked_stream(REPLAY), batch_size=4,
                         ratio_new=1, ratio_old=3, mode="mixed")
    assert sources_and_positions(uneven, 1)[0][0] == [NEW, REPLAY, REPLAY, REPLAY]


def test_single_source_cases():
    new_only = mix_streams(marked_stream(NEW), marked_stream(REPLAY), ratio_old=0)
    assert {m for b in sources_and_positions(new_only, 3) for m in b[0]} == {NEW}
    no_replay = mix_streams(marked_stream(NEW), None, batch_size=2)
    assert sources_and_positions(no_replay, 2) == [([NEW, NEW], [0, 1]), ([NEW, NEW], [2, 3])]
    replay_only = mix_streams(marked_stream(NEW), marked_stream(REPLAY), ratio_new=0)
    assert {m for b in sources_and_positions(replay_only, 3) for m in b[0]} == {REPLAY}


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="interleave"), "mix_streams.mode = 'interleave' is unknown"),
    (dict(ratio_old=-1), "mix_streams.ratio_old = -1 is negative"),
    (dict(ratio_new=0, ratio_old=0), "mix_streams.ratio_new and mix_streams.ratio_old are both"),
    (dict(batch_size=0), "mix_streams.batch_size = 0"),
])
def test_bad_settings_name_the_binding(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mix_streams(marked_stream(NEW), marked_stream(REPLAY), **kwargs)
    with pytest.raises(ValueError, match="no replay stream"):
        mix_streams(marked_stream(NEW), None, ratio_new=0)


@pytest.mark.parametrize("batch_size, ratio_new, ratio_old, mode", [
    (4, 4, 4, "alternate"), (4, 3, 2, "alternate"), (3, 1, 1, "mixed"), (4, 0, 4, "alternate"),
])
def test_stream_positions_match_the_mixed_stream(batch_size, ratio_new, ratio_old, mode):
    settings = dict(batch_size=batch_size, ratio_new=ratio_new, ratio_old=ratio_old, mode=mode)
    batches = sources_and_positions(
        mix_streams(marked_stream(NEW), marked_stream(REPLAY), **settings), 7)
    for index in range(8):
        seen = [m for markers, _ in batches[:index] for m in markers]
        assert stream_positions(index, **settings) == (seen.count(NEW), seen.count(REPLAY))
    new_start, replay_start = stream_positions(3, **settings)
    resumed = mix_streams(marked_stream(NEW, new_start), marked_stream(REPLAY, replay_start),
                          start_batch=3, **settings)
    assert sources_and_positions(resumed, 4) == batches[3:]
    assert stream_positions(5, has_replay=False, **settings) == (5 * batch_size, 0)


def test_resume_from_stream_positions_equals_the_tail_of_a_full_run(tmp_path):
    records = index_records(tmp_path, 6, size=(12, 14))
    lut_new = np.full(256, NEW, np.uint8)
    lut_replay = np.full(256, REPLAY, np.uint8)
    settings = dict(batch_size=4, ratio_new=3, ratio_old=2, mode="alternate")

    def run(start_batch: int) -> tf.data.Dataset:
        new_start, replay_start = stream_positions(start_batch, **settings)
        new = train_stream(records, [0, 1, 2], lut_new, crop_size=16, seed=1, start=new_start)
        replay = train_stream(records, [3, 4, 5], lut_replay, crop_size=16, seed=2,
                              start=replay_start)
        return mix_streams(new, replay, start_batch=start_batch, **settings)

    full = list(run(0).take(7).as_numpy_iterator())
    tail = list(run(3).take(4).as_numpy_iterator())
    assert set(np.unique(full[0][1])) <= {NEW, REPLAY, 255}
    for (a_img, a_lab), (b_img, b_lab) in zip(full[3:], tail, strict=True):
        np.testing.assert_array_equal(a_img, b_img)
        np.testing.assert_array_equal(a_lab, b_lab)
