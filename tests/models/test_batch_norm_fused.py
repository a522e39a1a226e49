"""The training BN of the ports' models: one fused op, with Keras' BN semantics to rounding."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from continual.models.batch_norm import FusedBatchNormalization, batch_normalization

RNG = np.random.default_rng(0)
FEATURES = tf.constant(RNG.normal(size=(8, 5, 5, 6)) * 3 + 1, tf.float32)
GAMMA, BETA = RNG.normal(size=6) + 1, RNG.normal(size=6)


def _train_once(layer_class, policy: str, features=FEATURES, **kwargs) -> dict:
    keras.mixed_precision.set_global_policy(policy)
    try:
        layer = layer_class(momentum=0.9, epsilon=1e-5, **kwargs)
        layer.build(features.shape)
        if layer.scale:
            layer.gamma.assign(GAMMA)
        if layer.center:
            layer.beta.assign(BETA)
        with tf.GradientTape() as tape:
            tape.watch(features)
            outputs = layer(features, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) ** 3)
        weights = [v.value for v in layer.trainable_variables]
        gradients = tape.gradient(loss, [features, *weights])
        return {"dtype": outputs.dtype, "outputs": outputs, "grad_features": gradients[0],
                **{f"grad_{v.name}": g for v, g in zip(layer.trainable_variables,
                                                        gradients[1:], strict=True)},
                "moving_mean": layer.moving_mean.value,
                "moving_variance": layer.moving_variance.value}
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _graph_op_types(layer, features) -> set[str]:
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(
        tf.TensorSpec(features.shape, features.dtype)).graph
    return {op.type for op in graph.get_operations()}


def test_unsynchronised_training_bn_is_the_fused_layer_and_trains_as_one_op():
    layer = batch_normalization(momentum=0.9)
    assert isinstance(layer, FusedBatchNormalization)
    layer.build(FEATURES.shape)
    ops = _graph_op_types(layer, FEATURES)
    assert "FusedBatchNormV3" in ops and "SquaredDifference" not in ops
    keras_layer = keras.layers.BatchNormalization(momentum=0.9)
    keras_layer.build(FEATURES.shape)
    assert "FusedBatchNormV3" not in _graph_op_types(keras_layer, FEATURES)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("affine", [{}, {"center": False, "scale": False}])
def test_fused_training_step_equals_keras_to_rounding(policy, affine):
    """Outputs, every gradient and both moving statistics (Keras' biased variance)."""
    fused = _train_once(FusedBatchNormalization, policy, **affine)
    keras_own = _train_once(keras.layers.BatchNormalization, policy, **affine)
    assert set(fused) == set(keras_own) and fused["dtype"] == keras_own["dtype"]
    rtol = 1e-5 if policy == "float32" else 1e-2  # bfloat16 outputs: 8-bit mantissa
    for name in fused:
        if name == "dtype":
            continue
        mine, theirs = (np.asarray(tf.cast(d[name], tf.float32)) for d in (fused, keras_own))
        np.testing.assert_allclose(mine, theirs, atol=rtol * np.abs(theirs).max(),
                                   err_msg=name)


def test_one_row_batch_moves_the_variance_toward_zero_as_keras_does():
    single = FEATURES[:1, :1, :1]
    fused = _train_once(FusedBatchNormalization, "float32", features=single)
    keras_own = _train_once(keras.layers.BatchNormalization, "float32", features=single)
    np.testing.assert_allclose(fused["moving_variance"], keras_own["moving_variance"],
                               rtol=1e-6)
    assert np.isfinite(fused["moving_variance"]).all()


def test_inference_and_other_shapes_take_keras_own_path():
    layer = FusedBatchNormalization()
    layer.build(FEATURES.shape)
    inference = tf.function(lambda x: layer(x, training=False)).get_concrete_function(
        tf.TensorSpec(FEATURES.shape)).graph
    assert "FusedBatchNormV3" not in {op.type for op in inference.get_operations()}
    flat = FusedBatchNormalization()
    flat.build((8, 6))
    assert "FusedBatchNormV3" not in _graph_op_types(flat, tf.zeros((8, 6)))
