"""Models. Segmentation (RECALL): DeepLab-v2 ResNet-101, a tiny demo backbone, ASPP heads;
entry points in `continual.models.segmenter` (`build_encoder`, `build_decoder`,
`build_segmenter`, `Segmenter`, `kernel_l2`), checkpoints of one sub-model in
`continual.models.checkpoints`, and the TF1 `resnet_v1_101` converter in
`continual.models.pretrained`.

Classification (stream experiments): `continual.models.classifiers.build_classifier(name)` with
the registered backbones `resnet18_cifar`, `resnet32` (`resnet_cifar.py`), `mlp` and
`tiny_convnet` (`small_backbones.py`); input shape and head size come from the data manifest.
"""
