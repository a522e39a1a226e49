"""Segmentation models: DeepLab-v2 ResNet-101 (as in RECALL), a tiny demo backbone, ASPP heads.

Entry points live in `recall.models.segmenter` (`build_encoder`, `build_decoder`,
`build_segmenter`, `Segmenter`, `kernel_l2`), checkpoints of one sub-model in
`recall.models.checkpoints`, and the TF1 `resnet_v1_101` converter in `recall.models.pretrained`.
"""
