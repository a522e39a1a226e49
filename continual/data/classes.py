"""Pascal VOC class table: ids 0..20 (0 = background) and the void label 255."""

VOC_CLASSES = (
    "background",
    "aeroplane", "bicycle", "bird", "boat", "bottle",
    "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person",
    "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
NUM_CLASSES = len(VOC_CLASSES)  # 21, background included
BACKGROUND = 0
IGNORE_LABEL = 255


def class_id(name: str) -> int:
    """Return the VOC id of a class name; raise a ValueError listing the valid names."""
    try:
        return VOC_CLASSES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown VOC class {name!r}; expected one of {', '.join(VOC_CLASSES[1:])}"
        ) from None


def is_valid_label_value(value: int) -> bool:
    """True for a class id 0..20 or the void label 255."""
    return 0 <= value < NUM_CLASSES or value == IGNORE_LABEL
