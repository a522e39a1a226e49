"""Labelling with a frozen model: pseudo-labels for replay images, background inpainting.

Both run a model over full-resolution images (the same normalisation as training), each at its
own size as the original does (batch 1, no resize), or padded to a fixed size when asked; they
take the argmax over the classes that model has learned only (a documented change: the
original's `_get_helper_argmax_output` and `Training.mix_label` let an unseen channel win),
crop back to the image size, and write new records that keep the original image bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from continual.data.pipeline import EncodedRecords, decode_for_inference
from continual.data.records import Record, decode_record, label_classes
from continual.data.shards import RecordWriter


def restricted_argmax(logits: tf.Tensor, channels: Sequence[int],
                      label_ids: Sequence[int] | None = None) -> tf.Tensor:
    """Argmax over `channels` of the logits only, reported as `label_ids` (default: channels).

    A step-0 model labels with channels 0..N0 (ids unchanged); a helper decoder with channels
    0..h, reported as VOC ids (0, a, ..., b).
    """
    chosen = tf.gather(logits, list(channels), axis=-1)
    index = tf.argmax(chosen, axis=-1, output_type=tf.int32)
    ids = tf.constant(list(label_ids if label_ids is not None else channels), tf.int32)
    return tf.gather(ids, index)


def pad_size(heights: Sequence[int], widths: Sequence[int], multiple: int = 8) -> int:
    """Smallest square size, a multiple of `multiple`, that holds every image."""
    side = max(max(heights), max(widths))
    return int(-(-side // multiple) * multiple)


def predictions(predict: Callable[[tf.Tensor], tf.Tensor], records: EncodedRecords,
                indices: Sequence[int], *, pad_to: int | None = None, mean_bgr,
                batch_size: int = 1,
                desc: str = "labelling") -> Iterator[tuple[Record, np.ndarray]]:
    """(source record, predicted label ids cropped to the image) for each index, in order.

    `pad_to` None runs each image at its own size through one compiled function (traced once:
    its signature leaves height and width open); an integer pads every image to it.
    """
    compiled = tf.function(predict, input_signature=[
        tf.TensorSpec([None, pad_to, pad_to, 3], tf.float32)])
    data = decode_for_inference(records, indices, pad_to=pad_to, mean_bgr=mean_bgr,
                                batch_size=batch_size)
    with tqdm(total=len(indices), desc=desc, unit="img", leave=False) as bar:
        for images, heights, widths, ids, serialized in data:
            labels = compiled(images).numpy()
            for i in range(labels.shape[0]):
                where = f"record {ids[i].numpy().decode()}"
                record = decode_record(serialized[i].numpy(), where)
                yield record, labels[i, : int(heights[i]), : int(widths[i])]
                bar.update(1)


def encode_label(label: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(label.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def decode_label(record: Record) -> np.ndarray:
    if not record.label:
        raise ValueError(f"record {record.image_id} has no label to inpaint; the step data "
                         "must be a labelled record set")
    return np.array(Image.open(io.BytesIO(record.label)))


def _relabelled(record: Record, label: np.ndarray) -> Record:
    return Record(image=record.image, label=encode_label(label), image_id=record.image_id,
                  height=label.shape[0], width=label.shape[1], classes=label_classes(label))


def write_pseudo_labels(labelled: Iterator[tuple[Record, np.ndarray]], out_dir: Path,
                        name: str, source: dict) -> Path:
    """Replay records labelled with the predictions; returns the record set's manifest."""
    with RecordWriter(out_dir, name, source=source) as writer:
        for record, prediction in labelled:
            writer.write(_relabelled(record, prediction))
    return writer.close()


def inpaint_label(ground_truth: np.ndarray, prediction: np.ndarray,
                  label_lut: np.ndarray) -> np.ndarray:
    """RECALL's rule: GT (remapped for the step, void -> 0) where non-zero, else prediction."""
    mapped = label_lut[ground_truth]
    mapped = np.where(mapped == 255, 0, mapped)
    return np.where(mapped != 0, mapped, prediction).astype(np.uint8)


def write_inpainted(labelled: Iterator[tuple[Record, np.ndarray]], label_lut: np.ndarray,
                    out_dir: Path, name: str, source: dict) -> Path:
    """Step records whose background carries the previous model's prediction."""
    with RecordWriter(out_dir, name, source=source) as writer:
        for record, prediction in labelled:
            mixed = inpaint_label(decode_label(record), prediction, label_lut)
            writer.write(_relabelled(record, mixed))
    return writer.close()
