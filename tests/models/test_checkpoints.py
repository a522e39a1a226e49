"""Separate, strict checkpoints of encoder and decoder."""

import numpy as np
import pytest
import tensorflow as tf

from continual.models.segmenter import (
    CheckpointMismatchError,
    build_decoder,
    build_encoder,
    decoder_checkpoint,
    restore_weights,
    save_weights,
)


def _decoder(num_classes=21):
    return build_decoder("aspp_v2", num_classes=num_classes, in_channels=8, rates=(1, 2, 3, 4))


def _values(model):
    return [v.numpy() for v in model.weights]


def test_decoder_round_trip(tmp_path):
    source, target = _decoder(), _decoder()
    prefix = save_weights(source, tmp_path / "decoder" / "ckpt")
    assert restore_weights(target, prefix) == prefix
    for a, b in zip(_values(source), _values(target), strict=True):
        np.testing.assert_array_equal(a, b)


def test_encoder_and_decoder_restore_separately(tmp_path):
    encoder = build_encoder("tiny")
    save_weights(encoder, tmp_path / "encoder")
    fresh = build_encoder("tiny")
    restore_weights(fresh, tmp_path / "encoder")
    for a, b in zip(_values(encoder), _values(fresh), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointMismatchError, match="missing variable 'aspp_conv1/kernel'"):
        restore_weights(_decoder(), tmp_path / "encoder")


def test_decoder_with_other_class_count_fails_clearly(tmp_path):
    prefix = save_weights(_decoder(21), tmp_path / "ckpt")
    target = _decoder(6)
    before = _values(target)
    with pytest.raises(CheckpointMismatchError) as err:
        restore_weights(target, prefix)
    message = str(err.value)
    assert prefix in message and "'aspp_conv1/kernel'" in message
    assert "(3, 3, 8, 21) in the checkpoint but (3, 3, 8, 6) in the model" in message
    assert "num_classes" in message
    for a, b in zip(before, _values(target), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_manager_folder_restores(tmp_path):
    source = _decoder()
    manager = tf.train.CheckpointManager(decoder_checkpoint(source), str(tmp_path), 2)
    manager.save()
    target = _decoder()
    restore_weights(target, tmp_path)
    np.testing.assert_array_equal(target.get_layer("aspp_conv4").bias.numpy(),
                                  source.get_layer("aspp_conv4").bias.numpy())


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointMismatchError, match="absent/ckpt"):
        restore_weights(_decoder(), tmp_path / "absent" / "ckpt")
    with pytest.raises(CheckpointMismatchError, match="holds no checkpoint"):
        restore_weights(_decoder(), tmp_path)
