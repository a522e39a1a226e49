"""AutoAugment / RandAugment as DeepVoltaire's `SubPolicy` runs them (pip `randaugment==1.0.2`),
batched on float32 images in [0, 255] (uint8 in, uint8 out at the policy level).

Shared by the ports that call that package: Rainbow Memory (training augmentation and the
`vr_randaug` / `vr_autoaug` uncertainty votes) and SSLAD Track 3A (its memory sweep's votes).
`image_ops` holds the pixel ops, `geometry_ops` the affine ones, `policies` the op table with
the package's magnitude ranges, `RandAugment` and the CIFAR-10 `auto_augment` policy.
"""
