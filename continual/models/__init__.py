"""Segmentation models: DeepLab-v2 ResNet-101 (as in RECALL), a tiny demo backbone, ASPP heads.

Entry points live in `continual.models.segmenter` (`build_encoder`, `build_decoder`,
`build_segmenter`, `Segmenter`, `kernel_l2`), checkpoints of one sub-model in
`continual.models.checkpoints`, and the TF1 `resnet_v1_101` converter in
`continual.models.pretrained`.
"""
