"""Random access to the records of a set on disk: where each record's bytes start in its shard.

A TFRecord file frames every record as [length uint64][crc uint32][data][crc uint32]; scanning
the frames once (reading 12 bytes per record, never the data) gives each record's shard,
offset and length, so record i is read with one `pread` of its own bytes. The index costs 24
bytes a record (ImageNet's 1.28 M records: 31 MB); the shards were checked against their
sha256 when the set was opened, so the frames are trusted.
"""

from __future__ import annotations

import functools
import os
import struct

import numpy as np

from continual.data.manifest import Manifest
from continual.data.records import RecordError

FRAME_HEADER = 12   # length (8 bytes) + its crc (4)
FRAME_FOOTER = 4    # the data's crc


@functools.lru_cache(maxsize=8)
def _index(manifest_path: str, content_hash: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from continual.data.manifest import read_manifest

    return record_index(read_manifest(manifest_path))


def record_index(manifest: Manifest) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shard int32 [N], offset int64 [N], length int64 [N]) of every record, manifest order."""
    shards, offsets, lengths = [], [], []
    for number, (path, shard) in enumerate(zip(manifest.shard_paths(), manifest.data["shards"],
                                               strict=True)):
        starts, sizes = _frames(path)
        if len(starts) != shard["records"]:
            raise manifest.mismatch(path, f"it holds {len(starts)} records, the manifest lists "
                                    f"{shard['records']} in it")
        shards.append(np.full(len(starts), number, np.int32))
        offsets.append(starts)
        lengths.append(sizes)
    return np.concatenate(shards), np.concatenate(offsets), np.concatenate(lengths)


def _frames(path) -> tuple[np.ndarray, np.ndarray]:
    """Data offsets and lengths of the records of one TFRecord file."""
    starts, sizes = [], []
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        position = 0
        while position < size:
            header = handle.read(FRAME_HEADER)
            length = struct.unpack("<Q", header[:8])[0]
            starts.append(position + FRAME_HEADER)
            sizes.append(length)
            position += FRAME_HEADER + length + FRAME_FOOTER
            handle.seek(position)
    return np.asarray(starts, np.int64), np.asarray(sizes, np.int64)


class RecordReader:
    """Reads serialised records of one set by their manifest position."""

    def __init__(self, manifest: Manifest):
        self.paths = [str(path) for path in manifest.shard_paths()]
        self.where = str(manifest.path)
        self.shard, self.offset, self.length = _index(str(manifest.path), manifest.content_hash)

    def __len__(self) -> int:
        return len(self.shard)

    def read(self, ids: np.ndarray) -> np.ndarray:
        """The serialised records at positions `ids` (object array of bytes, in `ids` order)."""
        ids = np.asarray(ids, np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise IndexError(f"record ids {bad[:5].tolist()} are outside 0..{len(self) - 1} "
                             f"(the records of {self.where})")
        out = np.empty(len(ids), dtype=object)
        for shard in np.unique(self.shard[ids]):
            rows = np.flatnonzero(self.shard[ids] == shard)
            descriptor = os.open(self.paths[shard], os.O_RDONLY)
            try:
                for row in rows:
                    record = ids[row]
                    out[row] = os.pread(descriptor, int(self.length[record]),
                                        int(self.offset[record]))
                    if len(out[row]) != self.length[record]:
                        raise RecordError(f"{self.paths[shard]}: record {record} is cut short "
                                          "(the shard changed after the set was opened); "
                                          "rebuild the set and rerun")
            finally:
                os.close(descriptor)
        return out
