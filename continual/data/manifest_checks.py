"""A manifest agrees with itself: counts, shard membership, ids, classes and shape.

Run on every read (the manifest alone, no shard opened). A manifest edited by hand, e.g. one
that lists 1 of 2 shards but keeps `num_records`, is refused here, so no reader ever sizes an
array by one field and fills it from another. Whether the records agree with the manifest is
`continual.data.record_checks`.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from continual.data.manifest import Manifest


def check_consistent(manifest: Manifest) -> None:
    """Raise the manifest's mismatch error (naming the set, what differs and the converter)
    at the first disagreement between its fields."""
    for check in CHECKS:
        what = check(manifest)
        if what:
            raise manifest.mismatch(manifest.path.parent / manifest.name, what)


def _shard_counts(manifest: Manifest) -> str | None:
    shards = manifest.data["shards"]
    held = sum(int(shard["records"]) for shard in shards)
    if held == manifest.num_records:
        return None
    listed = {shard["file"] for shard in shards}
    unlisted = sorted(path.name for path in manifest.path.parent.glob(f"{manifest.name}-*.tfrecord")
                      if path.name not in listed)
    return (f"num_records is {manifest.num_records} but its {len(shards)} listed shard(s) hold "
            f"{held}" + (f" (on disk but not listed: {', '.join(unlisted)})" if unlisted else ""))


def _record_shards(manifest: Manifest) -> str | None:
    """Records are listed in shard order, each shard holding as many as it says."""
    expected = [index for index, shard in enumerate(manifest.data["shards"])
                for _ in range(int(shard["records"]))]
    for position, (record, shard) in enumerate(zip(manifest.data["records"], expected,
                                                   strict=True)):
        if record.get("shard") != shard:
            return (f"record {position} ({record['id']!r}) is listed in shard "
                    f"{record.get('shard')}, but the shards' record counts put it in shard {shard}")
    return None


def _unique_ids(manifest: Manifest) -> str | None:
    counts = collections.Counter(manifest.record_ids())
    repeated = sorted(image_id for image_id, count in counts.items() if count > 1)
    return f"ids listed more than once: {repeated[:5]}" if repeated else None


def _classes_in_range(manifest: Manifest) -> str | None:
    top = manifest.num_classes
    for record in manifest.data["records"]:
        bad = [c for c in record["classes"] if not 0 <= c < top]
        if bad:
            return (f"record {record['id']!r} has classes {bad} outside 0..{top - 1} "
                    f"(num_classes is {top})")
    return None


def _class_counts(manifest: Manifest) -> str | None:
    if "class_counts" not in manifest.data:
        return None
    counted = collections.Counter(c for classes in manifest.record_classes() for c in classes)
    stored = manifest.class_counts()
    for class_id in sorted(counted.keys() | stored.keys()):
        if counted.get(class_id, 0) != stored.get(class_id, 0):
            return (f"class_counts gives class {class_id} {stored.get(class_id, 0)} records but "
                    f"the record list has {counted.get(class_id, 0)}")
    return None


def _classification_header(manifest: Manifest) -> str | None:
    """A classification set: one class name per class, one class and one size per record."""
    if manifest.task != "classification":
        return None
    names = manifest.data.get("class_names")
    if names is not None and len(names) != manifest.num_classes:
        return f"{len(names)} class_names for num_classes {manifest.num_classes}"
    shape = manifest.image_shape
    for record in manifest.data["records"]:
        if len(record["classes"]) != 1:
            return (f"record {record['id']!r} has classes {record['classes']}; a classification "
                    "record has exactly one")
        if shape and (record["height"], record["width"]) != shape[:2]:
            return (f"record {record['id']!r} is {record['height']}x{record['width']} but "
                    f"image_shape is {list(shape)}")
    return None


CHECKS: tuple[Callable[[Manifest], str | None], ...] = (
    _shard_counts, _record_shards, _unique_ids, _classes_in_range, _class_counts,
    _classification_header)
