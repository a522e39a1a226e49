"""Labelling rules: restricted argmax, RECALL's inpainting rule, padding size, native size."""

import io

import numpy as np
import tensorflow as tf
from PIL import Image

from continual.data.splits import label_map, make_scenario
from continual.replay.labelling import inpaint_label, pad_size, predictions, restricted_argmax
from tests.data.test_pipeline import random_image, write_records


def test_argmax_only_over_learned_channels_reported_as_voc_ids():
    logits = np.zeros((1, 1, 3, 21), np.float32)
    logits[0, 0, 0, [0, 5, 20]] = [1.0, 2.0, 9.0]   # channel 20 is not learned: must not win
    logits[0, 0, 1, [0, 1]] = [3.0, 1.0]
    logits[0, 0, 2, [2]] = [4.0]
    step0 = restricted_argmax(tf.constant(logits), channels=range(16)).numpy()
    assert step0.tolist() == [[[5, 0, 2]]]
    helper = np.zeros((1, 1, 2, 3), np.float32)      # helper of classes 11-12: channels 0, 1, 2
    helper[0, 0, 0, 2], helper[0, 0, 1, 0] = 5.0, 5.0
    ids = restricted_argmax(tf.constant(helper), channels=(0, 1, 2), label_ids=(0, 11, 12))
    assert ids.numpy().tolist() == [[[12, 0]]]


def test_inpainting_keeps_new_ground_truth_and_fills_the_rest_with_the_prediction():
    step = make_scenario("15-5", "sequential", "disjoint").steps[1]   # new classes 16-20
    ground_truth = np.array([[0, 16, 255, 3]], np.uint8)   # bg, new, void, old (-> bg in disjoint)
    prediction = np.array([[7, 2, 9, 3]], np.uint8)
    mixed = inpaint_label(ground_truth, prediction, label_map(step))
    assert mixed.tolist() == [[7, 16, 9, 3]]   # void and background take the old model's guess


def test_pad_size_holds_every_image_in_multiples_of_8():
    assert pad_size([375, 500], [500, 333]) == 504
    assert pad_size([64], [64]) == 64


def test_labelling_runs_each_image_at_its_own_size_through_one_trace(tmp_path):
    rng = np.random.default_rng(2)
    sizes = [(20, 30), (41, 17), (20, 30)]
    records = write_records(tmp_path, "replay", [random_image(rng, h, w) for h, w in sizes],
                            [None] * 3)
    seen = []

    def predict(images):  # label = 1 where the (normalised) blue channel is above its mean
        seen.append(images.shape)
        return restricted_argmax(tf.stack([tf.zeros_like(images[..., 0]), images[..., 0]], -1),
                                 channels=(0, 1))

    out = list(predictions(predict, records, [0, 1, 2], mean_bgr=(128.0, 0.0, 0.0)))
    assert len(seen) == 1 and seen[0].as_list() == [None, None, None, 3]
    assert [label.shape for _, label in out] == sizes
    first = np.asarray(Image.open(io.BytesIO(out[0][0].image)))
    np.testing.assert_array_equal(out[0][1], (first[..., 2] > 128).astype(np.int32))
