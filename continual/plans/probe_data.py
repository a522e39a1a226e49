"""Checks of the linear probe's labelled data against the stream (continuous SSL).

The probe trains on `StreamPlan.probe_split` of the data dir, or on the train split when none
is set. Records the SSL stream also feeds make the probe read labels of images the backbone
was trained on (without labels): allowed, as the paper probes on ImageNet after streaming
ImageNet, but said as a warning whenever the experiment is planned (before training). Matching is by
record id, so a separate split that repeats stream records is caught too.
"""

from __future__ import annotations

import logging

import numpy as np

from continual.data.manifest import Manifest

log = logging.getLogger(__name__)


def stream_records(scenario) -> np.ndarray:
    """Train rows the stream feeds (any experience), ascending, unique."""
    rows = [r for e in scenario.experiences for r in e.train_ids]
    return np.unique(np.asarray(rows, dtype=np.int64))


def check_probe_data(probe: Manifest, train: Manifest, scenario) -> int:
    """Refuse probe data the backbone cannot read; warn when it overlaps the stream. Returns
    how many probe records are also stream records."""
    if probe.image_shape != train.image_shape or probe.num_classes != train.num_classes:
        raise ValueError(f"StreamPlan.probe_split: {probe.path} holds images "
                         f"{list(probe.image_shape)} of {probe.num_classes} classes but the "
                         f"stream's are {list(train.image_shape)} of {train.num_classes}; "
                         "probe on a split of the same set")
    train_ids = np.asarray(train.record_ids())
    streamed = set(train_ids[stream_records(scenario)].tolist())
    overlap = sum(1 for record in probe.record_ids() if record in streamed)
    if overlap:
        log.warning("linear probe: %d of its %d training records (%s) are also stream records; "
                    "their labels are read by the probe only, never by the SSL method. Set "
                    "StreamPlan.probe_split to a held-out split to probe on unseen images",
                    overlap, len(probe.record_ids()), probe.path)
    return overlap
