"""PyTorch twin of the project's train steps, for a side-by-side speed comparison (optional).

PyTorch is NOT a dependency of the project: this script runs under a separate interpreter that
has torch (CPU build) and numpy, e.g.

    python3.11 -m venv /work/torchvenv
    /work/torchvenv/bin/pip install torch numpy    # CPU wheel; the issue measured torch 2.13
    /work/torchvenv/bin/python bench/torch_twin.py [--rows r18_ft_b32,...] [--steps 5]

It imports nothing of the project (no TensorFlow). The models are written here, torchvision
style, to match the project's arithmetic:
- ResNet-18 with a CIFAR stem (conv3x3 s1 p1 - BN - ReLU, no max-pool; basic blocks, shortcut
  conv1x1-BN where the shape changes; global average pool; linear head), trained with
  cross-entropy and plain SGD (lr 0.01, as `TorchSGD`'s defaults) on uint8 images standardised
  inside the step. FT trains the stream batch; ER the stream batch concatenated with an equal
  replay batch (as `FineTuning.train_step`, which ExperienceReplay inherits).
- DeepLab-v2 ResNet-101 (Caffe bottlenecks: stride on the first 1x1 conv; dilation 2 and 4 in
  blocks 3 and 4, output stride 8; frozen BN, epsilon 1e-3) with the ASPP-v2 decoder (sum of four
  3x3 convs with bias, rates 6/12/18/24), decoder only trained: encoder weights frozen, logits
  resized bilinearly to the input, masked cross-entropy (255 ignored) + 1e-4 * L2 of the
  decoder's kernels, SGD momentum 0.9; float32 or bfloat16 autocast (the project's
  mixed_bfloat16), at `bench/train_step.py`'s size: 321 x 321, batch 4.

Alone it prints the median ms per step of each row. `bench/side_by_side.py` (run with the
project's interpreter) starts it with `--serve` and drives it through the line protocol of
`serve`, alternating single steps with the project's TensorFlow step. Asserts nothing; this
module imports torch only inside functions, so the project's interpreter can import `ROWS` and
`serve` from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable

CIFAR_CLASSES = 10
SEG_CLASSES = 21
SEG_SIZE, SEG_BATCH = 321, 4   # bench/train_step.py's DeepLab-v2 ResNet-101 row
ASPP_RATES = (6, 12, 18, 24)


@dataclasses.dataclass(frozen=True)
class Row:
    """One compared step: a model, what it trains, its batch and precision."""

    description: str
    model: str            # 'resnet18_cifar' or 'deeplab_r101'
    batch: int            # stream batch (ER adds as many replay rows)
    replay: bool = False
    precision: str = "float32"   # or 'mixed_bfloat16'
    steps: int = 7        # timed steps per side (default)


ROWS = {
    "r18_ft_b32": Row("ResNet-18 CIFAR FT", "resnet18_cifar", 32),
    "r18_er_b32": Row("ResNet-18 CIFAR ER (32 + 32)", "resnet18_cifar", 32, replay=True),
    "r18_ft_b128": Row("ResNet-18 CIFAR FT", "resnet18_cifar", 128, steps=5),
    "r18_er_b128": Row("ResNet-18 CIFAR ER (128 + 128)", "resnet18_cifar", 128, replay=True,
                       steps=5),
    "deeplab_decoder_f32": Row("DeepLab-v2 R101 decoder only", "deeplab_r101", SEG_BATCH,
                               steps=5),
    "deeplab_decoder_bf16": Row("DeepLab-v2 R101 decoder only", "deeplab_r101", SEG_BATCH,
                                precision="mixed_bfloat16", steps=5),
}


def serve(make_step: Callable[[Row], Callable[[], float]], stdin=None, stdout=None) -> None:
    """The worker side of the side-by-side protocol, one JSON object per line each way.

    {"row": name, "warmup": n} -> builds the row's step, runs n untimed steps (the first traces
    or allocates) -> {"ready": name, "warmup_s": s}; {"step": true} -> one timed step ->
    {"ms": wall ms, "loss": float}; end of input -> return. A failure answers {"error": text}.
    `make_step(row)` returns a callable that runs one step and returns its loss as a float.
    """
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    step = None
    for line in stdin:
        request = json.loads(line)
        try:
            if "row" in request:
                step = make_step(ROWS[request["row"]])
                started = time.perf_counter()
                for _ in range(request.get("warmup", 2)):
                    step()
                answer = {"ready": request["row"], "warmup_s": time.perf_counter() - started}
            else:
                started = time.perf_counter()
                loss = step()
                answer = {"ms": 1000 * (time.perf_counter() - started), "loss": loss}
        except Exception as error:  # noqa: BLE001 - reported to the driver, which prints it
            answer = {"error": f"{type(error).__name__}: {error}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


# ---------------------------------------------------------------- models (torch)

def _nn():
    import torch
    from torch import nn
    return torch, nn


def resnet18_cifar(num_classes: int = CIFAR_CLASSES):
    """torchvision's ResNet-18 with the CIFAR stem (the project's 'torchvision' layout)."""
    torch, nn = _nn()

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                              nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))

    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for stage, width in enumerate((64, 128, 256, 512)):
        for block in range(2):
            layers.append(BasicBlock(cin, width, 2 if stage and not block else 1))
            cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    model = nn.Sequential(*layers)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model


def deeplab_v2_r101(num_classes: int = SEG_CLASSES):
    """(encoder, decoder): DeepLab-v2 ResNet-101 at output stride 8 and ASPP-v2."""
    torch, nn = _nn()

    def conv_bn(cin, cout, kernel, stride=1, dilation=1, relu=True):
        padding = dilation * (kernel - 1) // 2
        parts = [nn.Conv2d(cin, cout, kernel, stride, padding, dilation, bias=False),
                 nn.BatchNorm2d(cout, eps=1e-3)]
        return nn.Sequential(*parts, *([nn.ReLU()] if relu else []))

    class Bottleneck(nn.Module):
        def __init__(self, cin, depth, stride, dilation, project):
            super().__init__()
            self.body = nn.Sequential(conv_bn(cin, depth, 1, stride),
                                      conv_bn(depth, depth, 3, 1, dilation),
                                      conv_bn(depth, 4 * depth, 1, relu=False))
            self.shortcut = (conv_bn(cin, 4 * depth, 1, stride, relu=False) if project
                             else nn.Identity())

        def forward(self, x):
            return torch.relu(self.body(x) + self.shortcut(x))

    layers = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for b, (units, stride, dilation) in enumerate(zip((3, 4, 23, 3), (1, 2, 1, 1),
                                                      (1, 1, 2, 4), strict=True)):
        depth = 64 * 2**b
        for u in range(units):
            layers.append(Bottleneck(cin, depth, stride if u == 0 else 1, dilation, u == 0))
            cin = 4 * depth
    encoder = nn.Sequential(*layers)

    class ASPPv2(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv2d(cin, num_classes, 3, 1, r, r, bias=True)
                                       for r in ASPP_RATES)

        def forward(self, x):
            return sum(conv(x) for conv in self.convs)

    return encoder, ASPPv2()


# ---------------------------------------------------------------- steps (torch)

def make_step(row: Row) -> Callable[[], float]:
    """One train step of `row` on a fixed batch, returning the loss (synchronous on CPU)."""
    import numpy as np
    torch, _ = _nn()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    if row.model == "resnet18_cifar":
        return _classifier_step(row, rng)
    return _segmentation_step(row, rng)


def _classifier_step(row: Row, rng) -> Callable[[], float]:
    import numpy as np
    torch, nn = _nn()
    model = resnet18_cifar().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def batch():
        images = rng.integers(0, 256, (row.batch, 3, 32, 32), dtype=np.uint8)
        return torch.from_numpy(images), torch.from_numpy(
            rng.integers(0, CIFAR_CLASSES, row.batch).astype(np.int64))

    (images, labels), replay = batch(), batch() if row.replay else None

    def step() -> float:
        x, y = images, labels
        if replay is not None:  # ER: stream rows + replay rows, one loss over both
            x, y = torch.cat([x, replay[0]]), torch.cat([y, replay[1]])
        x = (x.float() / 255.0 - 0.5) / 0.25  # the project's `standardize`
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _segmentation_step(row: Row, rng) -> Callable[[], float]:
    import numpy as np
    torch, nn = _nn()
    encoder, decoder = deeplab_v2_r101()
    encoder.eval().requires_grad_(False)   # frozen: inference BN, no weight gradients
    decoder.train()
    optimizer = torch.optim.SGD(decoder.parameters(), lr=5e-4, momentum=0.9)
    kernels = [conv.weight for conv in decoder.convs]
    shape = (row.batch, SEG_SIZE, SEG_SIZE)
    images = torch.from_numpy((rng.standard_normal((row.batch, 3, SEG_SIZE, SEG_SIZE)) * 50.0)
                              .astype(np.float32))
    labels = rng.integers(0, SEG_CLASSES + 2, shape)
    labels = torch.from_numpy(np.where(labels > SEG_CLASSES - 1, 255, labels).astype(np.int64))
    bf16 = row.precision == "mixed_bfloat16"

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = decoder(encoder(images))
        logits = nn.functional.interpolate(logits.float(), size=(SEG_SIZE, SEG_SIZE),
                                           mode="bilinear", align_corners=False)
        loss = nn.functional.cross_entropy(logits, labels, ignore_index=255)
        loss = loss + 1e-4 * sum((k.float() ** 2).sum() / 2 for k in kernels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def set_threads(threads: int) -> None:
    torch, _ = _nn()
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default per row)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--serve", action="store_true",
                        help="answer the side-by-side protocol on stdin/stdout")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.serve:
        serve(make_step)
        return
    torch, _ = _nn()
    print(f"torch {torch.__version__}, {args.threads} threads; median ms per step")
    print("| row | torch ms |\n|---|---|")
    for name in args.rows.split(","):
        row = ROWS[name]
        step = make_step(row)
        for _ in range(args.warmup):
            step()
        times = []
        for _ in range(args.steps or row.steps):
            started = time.perf_counter()
            step()
            times.append(1000 * (time.perf_counter() - started))
        print(f"| {name} | {statistics.median(times):.0f} |", flush=True)


if __name__ == "__main__":
    main()
