"""A GAN set made beforehand replaces generation (issue 12, item 12), labelled as GAN."""

import numpy as np
import pytest

from continual.data.classes import VOC_CLASSES
from continual.replay.folders import finish_class, image_entry, open_class_folder
from continual.replay.gan import to_jpeg
from tests.core.test_train_manager import plan


def gan_folder(root, classes=range(1, 16), shade=-0.5):
    """Class folders as gan/generate_gan.py leaves them: one JPEG each and the manifest."""
    for cls in classes:
        folder = open_class_folder(root / VOC_CLASSES[cls])
        (folder / "00000.jpg").write_bytes(to_jpeg(np.full((8, 8, 3), shade, np.float32)))
        finish_class(folder, VOC_CLASSES[cls], "gan", {},
                     [image_entry(folder / "00000.jpg")])
    return root


def test_a_gan_folder_skips_mapping_and_keys_images_by_its_manifests(tmp_path):
    folder = gan_folder(tmp_path / "gan")
    steps = plan("DISJOINT", "10-5-5", f"GanReplay.folder = '{folder}'", source="gan")
    assert not [s for s in steps.values() if s.kind == "class_mapping"]
    assert steps["images3"].depends == () and "gan_manifest" in steps["images3"].inputs
    gan_folder(folder, classes=(3,), shade=0.5)            # another set for class 3
    again = plan("DISJOINT", "10-5-5", f"GanReplay.folder = '{folder}'", source="gan")
    assert again["images3"].key != steps["images3"].key
    assert again["images4"].key == steps["images4"].key


def test_a_missing_gan_class_names_the_binding_and_how_to_make_it(tmp_path):
    folder = gan_folder(tmp_path / "gan", classes=range(1, 15))   # no 'person' (15)
    with pytest.raises(FileNotFoundError, match=r"person.*GanReplay\.folder"):
        plan("DISJOINT", "10-5-5", f"GanReplay.folder = '{folder}'", source="gan")
