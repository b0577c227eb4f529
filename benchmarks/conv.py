"""Forward + backward of each convolution of a CIFAR ResNet-20 at batch 128: tinycnn beside PyTorch CPU.

    python benchmarks/conv.py [--batch 128] [--repeats 7] [--torch-isa avx2] [--write benchmarks/RESULTS.md]
    python benchmarks/conv.py --net fastnet --batch 64 [--write benchmarks/RESULTS.md]

--net fastnet times the 3x3 convolutions of `make train`'s network instead (fastnet, widths 64, 128, 256, on
32x32 images; batch 64 is one process's half of its batch of 128).

Both run in this process on the same threads (PyTorch's intra-op threads = the BLAS threads NumPy uses, by
default all cores). Reports median milliseconds and the ratio tinycnn / PyTorch.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import arguments, command, import_torch, median_times, reference, section_name, stamp, \
    write_section  # noqa: E402

from tinycnn import nn  # noqa: E402

# (C_in, C_out, H, stride) of ResNet-20's 3x3 convolutions, padding 1
SHAPES = [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 64, 16, 2), (64, 64, 8, 1)]
# fastnet (64, 128, 256): each group's conv1 at the resolution it receives, conv2 after the 2x2 max pool
FASTNET_SHAPES = [(24, 64, 31, 1), (64, 64, 15, 1), (64, 128, 15, 1), (128, 128, 7, 1), (128, 256, 7, 1),
                  (256, 256, 3, 1)]
NETS = {"resnet20": (SHAPES, "a CIFAR ResNet-20,", "ResNet-20 convolutions, CPU"),
        "fastnet": (FASTNET_SHAPES, "fastnet (64, 128, 256), `make train`'s network,", "fastnet convolutions, CPU")}


def tinycnn_step(C_in, C_out, H, stride, N):
    conv = nn.Conv2d(C_in, C_out, 3, stride=stride, padding=1, bias=False)
    x = np.random.default_rng(0).standard_normal((C_in, N, H, H)).astype(np.float32).transpose(1, 0, 2, 3)
    N_, C_, OH, OW = conv.output_shape(x.shape)   # dy, like x, in the channels-major layout tinycnn produces
    dy = np.random.default_rng(1).standard_normal((C_, N_, OH, OW)).astype(np.float32).transpose(1, 0, 2, 3)

    def step():
        conv.weight.grad = None
        conv(x)
        conv.backward(dy)
    return step


def torch_step(torch, C_in, C_out, H, stride, N):
    conv = torch.nn.Conv2d(C_in, C_out, 3, stride=stride, padding=1, bias=False)
    x = torch.randn(N, C_in, H, H, requires_grad=True)
    dy = torch.randn(conv(x).shape)

    def step():
        conv.weight.grad = x.grad = None
        conv(x).backward(dy)
    return step


def main():
    args = arguments(__doc__, net=list(NETS))
    shapes, described, section = NETS[args.net]
    torch = import_torch(args.torch_isa)

    rows = ["| conv (C_in->C_out, HxW, stride) | tinycnn ms | PyTorch ms | ratio |", "|---|---:|---:|---:|"]
    for C_in, C_out, H, stride in shapes:
        steps = [tinycnn_step(C_in, C_out, H, stride, args.batch)]
        if torch:
            steps.append(torch_step(torch, C_in, C_out, H, stride, args.batch))
        ours, theirs = [t * 1e3 for t in median_times(steps, args.repeats)] + [float("nan")] * (not torch)
        rows.append(f"| {C_in}->{C_out}, {H}x{H}, s{stride} | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x |")
        print(rows[-1], flush=True)
    if args.write and torch:
        body = (f"Forward + backward (input and weight gradients) of each 3x3 convolution of {described} "
                f"batch {args.batch}, float32, median of {args.repeats} repeats after warm-up taken in turns "
                "(harness.median_times). tinycnn gets x and dy "
                "in the channels-major memory its own layers produce (see tinycnn/functional/im2col.py), PyTorch "
                "its default contiguous NCHW.\n\n"
                + stamp(command("conv.py", args, f"--net {args.net}")) + reference(torch) + "\n" + "\n".join(rows))
        write_section(args.write, section_name(section, args), body)


if __name__ == "__main__":
    main()
