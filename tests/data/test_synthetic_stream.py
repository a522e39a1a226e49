import itertools

import gin
import numpy as np
import pytest

from continual.data.classification import decoded_images, record_labels
from continual.data.shards import open_record_set
from continual.data.synthetic_stream import (
    StreamItem,
    class_look,
    draw_frame,
    generate_stream_set,
    main,
)

SMALL = dict(num_classes=4, size=16, train_per_class=12, test_per_class=4, imbalance=4.0,
             domains=2, run_length=3, seed=1, records_per_shard=16)


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    out = tmp_path_factory.mktemp("stream")
    summary = generate_stream_set(out, **SMALL)
    return out, summary, open_record_set(out, "train"), open_record_set(out, "test")


def segments(values) -> list:
    """The values of consecutive equal stretches: [0, 0, 1, 0] -> [0, 1, 0]."""
    return [value for value, _ in itertools.groupby(values)]


def test_class_counts_follow_the_imbalance(stream):
    _, summary, train, test = stream
    # 12 * 4 ** -(c / 3): 12, 7.56, 4.76, 3 frames, rounded.
    assert train.class_counts() == {0: 12, 1: 8, 2: 5, 3: 3}
    assert test.class_counts() == {c: 4 for c in range(4)}
    assert summary["splits"]["train"]["num_images"] == 28
    assert train.image_shape == (16, 16, 3) and train.num_classes == 4


def test_time_is_the_write_order(stream):
    _, _, train, test = stream
    for manifest in (train, test):
        assert manifest.record_metadata("time") == list(range(manifest.num_records))
    assert train.record_ids()[:2] == ["train_000000", "train_000001"]


def test_runs_share_group_and_class_over_consecutive_time(stream):
    _, _, train, _ = stream
    groups, labels = train.record_metadata("group"), record_labels(train)
    assert segments(groups) == list(range(10))  # 4 + 3 + 2 + 1 runs, each seen once, in order
    for _, frames in itertools.groupby(zip(groups, labels, strict=True), lambda r: r[0]):
        frames = list(frames)
        assert 1 <= len(frames) <= 3 and len({label for _, label in frames}) == 1
    assert sorted(len(list(f)) for _, f in itertools.groupby(groups)) == [2, 2] + [3] * 8


def test_frames_of_a_run_look_alike(stream):
    _, _, train, _ = stream
    images = decoded_images(train).astype(np.float32)
    groups, labels = np.asarray(train.record_metadata("group")), record_labels(train)
    start = int(np.flatnonzero(labels == 0)[0])
    same_run = np.flatnonzero(groups == groups[start])
    other_run = np.flatnonzero((labels == 0) & (groups != groups[start]))[0]
    within = np.abs(images[same_run[1]] - images[start]).mean()
    across = np.abs(images[other_run] - images[start]).mean()
    assert 0 < within < across


def test_domains_alternate_in_blocks_and_are_balanced_in_test(stream):
    _, _, train, test = stream
    assert segments(train.record_metadata("domain")) == [0, 1, 0, 1, 0, 1]
    domains, labels = np.asarray(test.record_metadata("domain")), record_labels(test)
    for label in range(4):
        assert np.bincount(domains[labels == label]).tolist() == [2, 2]
    train_groups = set(train.record_metadata("group"))
    test_groups = test.record_metadata("group")
    assert len(set(test_groups)) == 16 and not train_groups & set(test_groups)
    images = decoded_images(test).astype(np.float32)
    assert images[domains == 1].mean() < 0.8 * images[domains == 0].mean()  # night is darker


def test_decoded_pixels_are_the_drawn_frames(stream):
    _, _, train, _ = stream
    time, groups = 5, train.record_metadata("group")
    group = groups[time]
    item = StreamItem(label=int(record_labels(train)[time]), group=group,
                      frame=time - groups.index(group),
                      domain=train.record_metadata("domain")[time])
    np.testing.assert_array_equal(decoded_images(train)[time],
                                  draw_frame(1, "train", item, 16, 3, 2))


def test_classes_differ_in_at_least_one_cue():
    looks = [class_look(c) for c in range(160)]
    assert len(set(looks)) == 160
    assert len({look[1] for look in looks[:10]}) == 5  # hues are shared: colour alone fails


def test_deterministic_and_regenerated_only_when_parameters_change(stream, tmp_path):
    out, summary, _, _ = stream
    again = generate_stream_set(out, **SMALL)
    assert all(split["skipped"] for split in again["splits"].values())
    other = generate_stream_set(tmp_path / "copy", **SMALL)
    for split in ("train", "test"):
        assert other["splits"][split]["content_hash"] == summary["splits"][split]["content_hash"]
    changed = generate_stream_set(tmp_path / "copy", **{**SMALL, "seed": 2})
    assert not changed["splits"]["train"]["skipped"]
    assert changed["splits"]["train"]["content_hash"] != summary["splits"]["train"]["content_hash"]


def test_gin_bindings_and_grey_output(tmp_path):
    gin.parse_config("generate_stream_set.num_classes = 3\ngenerate_stream_set.channels = 1")
    generate_stream_set(tmp_path, size=12, train_per_class=6, test_per_class=2, run_length=1)
    train = open_record_set(tmp_path, "train")
    assert train.num_classes == 3 and train.image_shape == (12, 12, 1)
    assert segments(train.record_metadata("group")) == list(range(18))  # run_length 1: i.i.d.


def test_bad_parameters_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="only 2 object runs for 6 domain blocks"):
        generate_stream_set(tmp_path, num_classes=2, train_per_class=4, run_length=4)
    with pytest.raises(ValueError, match=r"generate_stream_set.size \(--size\) must be an "
                                         "integer in 12..512, got 8"):
        generate_stream_set(tmp_path, size=8)
    assert main(["--out", str(tmp_path), "--imbalance", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: generate_stream_set.imbalance (--imbalance)")
    assert not (tmp_path / "train.manifest.json").exists()
