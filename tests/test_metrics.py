import numpy as np
import pytest
import tensorflow as tf

from continual.metrics import accuracy_matrix_metrics, confusion_matrix, segmentation_metrics


def test_confusion_matrix_drops_void_and_unseen_labels():
    labels = np.array([[0, 1, 255], [2, 3, 1]])
    predictions = np.array([[0, 2, 1], [2, 0, 3]])
    cm = confusion_matrix(labels, predictions, num_classes=4, seen_classes=[0, 1, 2])
    # kept pixels: (gt 0, pred 0), (1, 2), (2, 2), (1, 3); gt 255 and gt 3 (unseen) dropped,
    # a prediction of the unseen class 3 still counts.
    expected = np.zeros((4, 4), np.int64)
    expected[0, 0] = expected[1, 2] = expected[2, 2] = expected[1, 3] = 1
    assert cm.dtype == tf.int64
    np.testing.assert_array_equal(cm.numpy(), expected)


def test_confusion_matrix_default_counts_all_classes_but_void():
    labels = np.array([0, 1, 1, 255, 2])
    predictions = np.array([0, 1, 0, 2, 2])
    cm = confusion_matrix(labels, predictions, num_classes=3).numpy()
    np.testing.assert_array_equal(cm, [[1, 0, 0], [1, 1, 0], [0, 0, 1]])


def test_confusion_matrix_rejects_bad_classes():
    with pytest.raises(ValueError, match="seen class 7"):
        confusion_matrix(np.zeros(3), np.zeros(3), num_classes=4, seen_classes=[0, 7])
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes"):
        confusion_matrix(np.zeros(3), np.array([0, 4, 1]), num_classes=4)


def _reference_cm(labels, predictions, num_classes, seen):
    cm = np.zeros((num_classes, num_classes), np.int64)
    for gt, pred in zip(labels.ravel(), predictions.ravel(), strict=True):
        if gt in seen:
            cm[gt, pred] += 1
    return cm


def test_batches_in_tf_function_sum_to_one_shot():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 2, 3, 4, 5, 255], size=(6, 8, 8)).astype(np.uint8)
    predictions = rng.integers(0, 6, size=(6, 8, 8)).astype(np.int64)
    seen = [0, 1, 2, 3]

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.uint8),
                                  tf.TensorSpec([None, None, None], tf.int64)])
    def batch_cm(batch_labels, batch_predictions):
        return confusion_matrix(batch_labels, batch_predictions, 6, seen)

    total = tf.zeros([6, 6], tf.int64)
    for start in range(0, 6, 2):
        total += batch_cm(labels[start:start + 2], predictions[start:start + 2])
    one_shot = confusion_matrix(labels, predictions, 6, seen)
    np.testing.assert_array_equal(total.numpy(), one_shot.numpy())
    np.testing.assert_array_equal(one_shot.numpy(), _reference_cm(labels, predictions, 6, seen))


# Rows = ground truth, columns = prediction; classes 0..4 seen, class 5 not yet seen (only
# predicted). Class 2 is absent from ground truth and predictions: TP+FP+FN = 0.
CM = np.array([
    [50, 2, 0, 3, 0, 5],   # row sum 60
    [4, 20, 0, 0, 0, 1],   # 25
    [0, 0, 0, 0, 0, 0],    # 0
    [6, 0, 0, 10, 4, 0],   # 20
    [0, 0, 0, 2, 8, 0],    # 10
    [0, 0, 0, 0, 0, 0],    # unseen ground truth is never counted
])
# column sums 60 22 0 15 12 6; TP 50 20 0 10 8 -> FP 10 2 0 5 4 (6); FN 10 5 0 10 2
# IoU: 50/70, 20/27, None, 10/25, 8/14, None(unseen)
# precision TP/(TP+FP): 50/60, 20/22, None, 10/15, 8/12, None
# recall    TP/(TP+FN): 50/60, 20/25, None, 10/20, 8/10, None
# Step 2 of 2-1-1: n0 = 2 (classes 1, 2), n_old = 3, this step adds class 4.
IOU = [50 / 70, 20 / 27, None, 10 / 25, 8 / 14, None]


def test_segmentation_metrics_by_hand():
    m = segmentation_metrics(CM, seen=range(5), n0=2, n_old=3, step_classes=[4])
    assert m["iou"] == pytest.approx(IOU)
    assert m["precision"] == pytest.approx([50 / 60, 20 / 22, None, 10 / 15, 8 / 12, None])
    assert m["recall"] == pytest.approx([50 / 60, 20 / 25, None, 10 / 20, 8 / 10, None])
    assert m["miou_all_bg"] == pytest.approx((50 / 70 + 20 / 27 + 0.4 + 8 / 14) / 4)
    assert m["miou_all"] == pytest.approx((20 / 27 + 0.4 + 8 / 14) / 3)
    assert m["miou_old"] == pytest.approx(20 / 27)              # class 2 skipped
    assert m["miou_prev"] == pytest.approx((20 / 27 + 0.4) / 2)  # 1..3, class 2 skipped
    assert m["miou_new"] == pytest.approx((0.4 + 8 / 14) / 2)    # 3..4
    assert m["miou_step"] == pytest.approx(8 / 14)
    assert m["pixel_acc"] == pytest.approx(88 / 115)  # predictions of class 5 count as wrong
    assert all(type(v) is float for v in m["iou"] if v is not None)


def test_segmentation_metrics_at_step_zero_has_no_prev_or_new():
    m = segmentation_metrics(CM[:2, :2], seen=[0, 1], n0=1, n_old=0, step_classes=[1])
    assert m["miou_prev"] is None and m["miou_new"] is None
    # 2x2 block: TP 50, 20; FP 4, 2; FN 2, 4 -> IoU 50/56, 20/26
    assert m["miou_all_bg"] == pytest.approx((50 / 56 + 20 / 26) / 2)
    assert m["miou_old"] == m["miou_step"] == m["miou_all"] == pytest.approx(20 / 26)


def test_segmentation_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        segmentation_metrics(np.zeros((3, 4)), seen=[0], n0=1, n_old=0, step_classes=[1])
    with pytest.raises(ValueError, match="class 9"):
        segmentation_metrics(CM, seen=[0, 9], n0=1, n_old=0, step_classes=[1])


# R[i, j]: accuracy on task j after training task i.
R = np.array([[0.90, 0.10, 0.20],
              [0.95, 0.80, 0.15],
              [0.60, 0.50, 0.85]])


def test_accuracy_matrix_metrics_by_hand():
    m = accuracy_matrix_metrics(R, baseline=[0.05, 0.05, 0.10])
    assert m["average"] == pytest.approx((0.60 + 0.50 + 0.85) / 3)
    assert m["average_per_step"] == pytest.approx([0.90, 0.875, (0.60 + 0.50 + 0.85) / 3])
    # task 0: best earlier value 0.95 (after task 1) - 0.60; task 1: 0.80 - 0.50
    assert m["forgetting"] == pytest.approx([0.35, 0.30])
    assert m["mean_forgetting"] == pytest.approx(0.325)
    assert m["bwt"] == pytest.approx(((0.60 - 0.90) + (0.50 - 0.80)) / 2)
    assert m["fwt"] == pytest.approx(((0.10 - 0.05) + (0.15 - 0.10)) / 2)


def test_accuracy_matrix_ignores_unevaluated_future_tasks():
    lower = np.where(np.tril(np.ones((3, 3))) > 0, R, np.nan)
    m = accuracy_matrix_metrics(lower)
    assert m["bwt"] == pytest.approx(-0.30) and m["fwt"] is None
    single = accuracy_matrix_metrics(np.array([[0.7]]))
    assert single["forgetting"] == [] and single["bwt"] is None
    assert single["average"] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="3 entries"):
        accuracy_matrix_metrics(R, baseline=[0.1, 0.2])
