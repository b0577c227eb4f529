"""Forward + backward of ResNet-20's other layers at batch 128: batch norm + ReLU at each stage, 2x2 max pooling,
the global average pool and the loss, tinycnn beside PyTorch CPU.

    python benchmarks/layers.py [--batch 128] [--repeats 7] [--torch-isa avx2] [--write benchmarks/RESULTS.md]

Same rules as benchmarks/conv.py: one process, the same threads, median milliseconds, ratio tinycnn / PyTorch.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import arguments, command, import_torch, median_times, reference, section_name, stamp, \
    write_section  # noqa: E402

from tinycnn import nn  # noqa: E402

# name, tinycnn layers, the matching PyTorch layers (by name), input shape (C, H) at batch N
CASES = [("BN + ReLU, 16 x 32x32", 16, 32, "bnrelu"), ("BN + ReLU, 32 x 16x16", 32, 16, "bnrelu"),
         ("BN + ReLU, 64 x 8x8", 64, 8, "bnrelu"), ("max pool 2x2, 32 x 32x32", 32, 32, "maxpool"),
         ("global average pool, 64 x 8x8", 64, 8, "avgpool"), ("cross-entropy loss, 10 classes", 10, 0, "loss")]


def tinycnn_step(C, H, kind, N):
    rng = np.random.default_rng(0)
    if kind == "loss":
        loss_fn, logits, y = nn.CrossEntropyLoss(), rng.standard_normal((N, C)).astype(np.float32), rng.integers(0, C, N)

        def step():
            loss_fn(logits, y)
            loss_fn.backward()
        return step
    layers = {"bnrelu": nn.Sequential(nn.BatchNorm2d(C), nn.ReLU()), "maxpool": nn.MaxPool2d(2),
              "avgpool": nn.AdaptiveAvgPool2d(1)}[kind]
    x = rng.standard_normal((C, N, H, H)).astype(np.float32).transpose(1, 0, 2, 3)   # channels-major, as tinycnn's
    y = layers(x)
    dy = np.ascontiguousarray(rng.standard_normal(y.shape[:2][::-1] + y.shape[2:]).astype(np.float32))
    dy = dy.transpose(1, 0, 2, 3)

    def step():
        layers(x)
        layers.backward(dy)
    return step


def torch_step(torch, C, H, kind, N):
    tnn = torch.nn
    if kind == "loss":
        loss_fn, logits, y = tnn.CrossEntropyLoss(), torch.randn(N, C, requires_grad=True), torch.randint(0, C, (N,))

        def step():
            logits.grad = None
            loss_fn(logits, y).backward()
        return step
    layers = {"bnrelu": tnn.Sequential(tnn.BatchNorm2d(C), tnn.ReLU()), "maxpool": tnn.MaxPool2d(2),
              "avgpool": tnn.AdaptiveAvgPool2d(1)}[kind]
    x = torch.randn(N, C, H, H, requires_grad=True)
    dy = torch.randn(layers(x).shape)

    def step():
        x.grad = None
        layers(x).backward(dy)
    return step


def main():
    args = arguments(__doc__)
    torch = import_torch(args.torch_isa)
    rows = ["| layer (forward + backward) | tinycnn ms | PyTorch ms | ratio |", "|---|---:|---:|---:|"]
    for name, C, H, kind in CASES:
        steps = [tinycnn_step(C, H, kind, args.batch)] + ([torch_step(torch, C, H, kind, args.batch)] if torch else [])
        ours, theirs = [t * 1e3 for t in median_times(steps, args.repeats)] + [float("nan")] * (not torch)
        rows.append(f"| {name} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f}x |")
        print(rows[-1], flush=True)
    if args.write and torch:
        body = (f"Forward + backward in training mode, batch {args.batch}, float32, median of {args.repeats} repeats "
                "after warm-up taken in turns (harness.median_times); tinycnn's inputs channels-major as its own "
                "layers produce them, PyTorch's "
                "contiguous NCHW.\n\n" + stamp(command("layers.py", args))
                + reference(torch) + "\n" + "\n".join(rows))
        write_section(args.write, section_name("ResNet-20's other layers, CPU", args), body)


if __name__ == "__main__":
    main()
