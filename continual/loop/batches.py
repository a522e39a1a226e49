"""Which rows each batch of a phase reads: a pure function of (seed, experience, phase, epoch).

Nothing here holds state, so the position (phase, batch) saved in a checkpoint is the whole
state of the data order: a resumed run reads exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np

from continual.methods.base import Phase


def chunks(ids: np.ndarray, batch_size: int, drop_last: bool = False) -> list[np.ndarray]:
    """Consecutive batches of `ids`; the last one may be smaller (a stream is not dropped)
    unless `drop_last`."""
    end = len(ids) - len(ids) % batch_size if drop_last else len(ids)
    return [ids[start:start + batch_size] for start in range(0, end, batch_size)]


def epoch_order(ids: np.ndarray, seed: int, experience: int, phase: int, epoch: int
                ) -> np.ndarray:
    """`ids` reshuffled for one epoch, keyed by (seed, experience, phase, epoch)."""
    rng = np.random.default_rng([seed, experience, phase, epoch, 0x5EED])
    return ids[rng.permutation(len(ids))]


def phase_batches(phase: Phase, phase_index: int, ids: np.ndarray, batch_size: int, seed: int,
                  experience: int) -> list[tuple[int, np.ndarray]]:
    """Every (epoch, batch rows) of a phase, in order: the stream as it comes (online) or
    reshuffled epochs (offline, memory, mixed); `phase.batch_size` overrides `batch_size`, and
    `phase.drop_last` leaves out each epoch's last partial batch."""
    ids = np.asarray(ids, dtype=np.int64)
    batch_size = phase.batch_size or batch_size
    if phase.kind == "online":
        return [(0, batch) for batch in chunks(ids, batch_size, phase.drop_last)]
    batches = []
    for epoch in range(phase.epochs):
        order = epoch_order(ids, seed, experience, phase_index, epoch)
        batches += [(epoch, batch) for batch in chunks(order, batch_size, phase.drop_last)]
    return batches
