"""Data layer: TFRecord format, datasets (VOC, synthetic), incremental splits, tf.data pipelines."""
