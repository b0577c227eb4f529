"""A whole training step (forward, loss, backward, SGD step) of ResNet-20 and of a CIFAR VGG at batch 128:
tinycnn beside PyTorch CPU with the same layers, threads and data; peak memory of each in its own process;
CIFAR-10 loading and augmentation throughput against what a training step consumes. Also tinycnn's step with
the batch split over two processes, one core each (tinycnn/data_parallel.py), twice: with batch norm normalising
each half on its own (not the same computation as PyTorch's) and with batch norm synchronised, the two processes
exchanging their statistics (sync_batch_norm=True: the same computation). Their memory is not measured.

    python benchmarks/step.py [--batch 128] [--repeats 7] [--torch-isa avx2] [--write benchmarks/RESULTS.md]
"""
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from harness import arguments, command, import_torch, median_times, reference, section_name, stamp, \
    training_setup, training_step, write_section  # noqa: E402

import tinycnn  # noqa: E402
from tinycnn import data, models  # noqa: E402
from tinycnn.data_parallel import DataParallel  # noqa: E402


def tinycnn_model(name):
    return models.resnet20() if name == "resnet20" else models.vgg11(cifar=True, batch_norm=True, width=0.5)


def tinycnn_step(name, batch):
    return training_step(tinycnn_model(name), batch)


def data_parallel_step(name, batch, processes=2, sync_batch_norm=False):
    """training_step's step with the batch split over `processes` processes; returns (step, close)."""
    model = tinycnn_model(name)
    x, y, loss_fn, opt = training_setup(model, batch)
    dp = DataParallel(model, loss_fn, processes, sync_batch_norm)

    def parallel_step():
        opt.zero_grad()
        dp.step(x, y)
        opt.step()
    return parallel_step, dp.close


def torch_model(torch, name):
    tnn = torch.nn
    if name != "resnet20":
        layers, c = [], 3
        for v in [32, "M", 64, "M", 128, 128, "M", 256, 256, "M", 256, 256, "M"]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.BatchNorm2d(v), tnn.ReLU()]
                c = v
        return tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(c, 10))

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = tnn.Sequential(tnn.Conv2d(cin, cout, 3, stride, 1, bias=False), tnn.BatchNorm2d(cout),
                                       tnn.ReLU(), tnn.Conv2d(cout, cout, 3, 1, 1, bias=False), tnn.BatchNorm2d(cout))
            self.short = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout)) \
                if stride != 1 or cin != cout else tnn.Identity()

        def forward(self, x):
            return torch.relu(self.body(x) + self.short(x))

    layers, c = [tnn.Conv2d(3, 16, 3, 1, 1, bias=False), tnn.BatchNorm2d(16), tnn.ReLU()], 16
    for width in (16, 32, 64):
        for j in range(3):
            layers.append(Block(c, width, 2 if (j == 0 and width != 16) else 1))
            c = width
    return tnn.Sequential(*layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(64, 10))


def torch_step(torch, name, batch):
    model = torch_model(torch, name)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x, y = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return step


MEMORY_PROBE = """
import sys
sys.path.insert(0, {folder!r})
import step

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024
{imports}
base = status("VmRSS")
f = {make}
for _ in range(5):
    f()
print(status("VmHWM") - base)
"""


def peak_memory_mib(framework, name, batch):
    """How far a fresh process's peak resident memory (VmHWM, which unlike ru_maxrss is not inherited across
    exec) rises above its size after the imports, over five training steps: the memory the steps need."""
    torch_setup = f"import torch\ntorch.set_num_threads({os.cpu_count()})"
    code = MEMORY_PROBE.format(folder=os.path.dirname(os.path.abspath(__file__)),
                               imports=torch_setup if framework == "torch" else "",
                               make=f"step.torch_step(torch, {name!r}, {batch})" if framework == "torch"
                               else f"step.tinycnn_step({name!r}, {batch})")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def loader_throughput(batch):
    """Images per second of batching, augmenting (crop, flip) and normalising CIFAR-sized uint8 images."""
    x = np.random.default_rng(0).integers(0, 256, (10_000, 3, 32, 32), dtype=np.uint8)
    loader = data.DataLoader(x, np.zeros(10_000, dtype=np.int64), batch, shuffle=True, augment=data.Augment(4))
    start = time.perf_counter()
    n = sum(len(xb) for xb, _ in loader)
    return n / (time.perf_counter() - start)


def main():
    args = arguments(__doc__)
    torch = import_torch(args.torch_isa)
    rows = ["| training step, batch %d | tinycnn | PyTorch CPU | ratio |" % args.batch, "|---|---:|---:|---:|"]
    step_ms = {}
    for name, label in (("resnet20", "ResNet-20"), ("vgg", "VGG-11-BN for CIFAR, half width")):
        tinycnn.manual_seed(0)
        parallel_step, close = data_parallel_step(name, args.batch)
        synced_step, close_synced = data_parallel_step(name, args.batch, sync_batch_norm=True)
        steps = [tinycnn_step(name, args.batch), parallel_step, synced_step]
        steps += [torch_step(torch, name, args.batch)] if torch else []
        times = [t * 1e3 for t in median_times(steps, args.repeats)] + [float("nan")] * (torch is None)
        close()
        close_synced()
        ours, per_half, synced, theirs = times
        step_ms[name] = ours
        for what, ms in (("time", ours), ("time, 2 processes (batch norm per half)", per_half),
                         ("time, 2 processes, batch norm synchronised (PyTorch's computation)", synced)):
            rows.append(f"| {label}: {what} | {ms:.0f} ms | {theirs:.0f} ms | {ms / theirs:.2f}x |")
            print(rows[-1], flush=True)
        if torch:
            mem = [peak_memory_mib("tinycnn", name, args.batch), peak_memory_mib("torch", name, args.batch)]
            rows.append(f"| {label}: peak memory of the steps | {mem[0]:.0f} MiB | {mem[1]:.0f} MiB | "
                        f"{mem[0] / mem[1]:.2f}x |")
            print(rows[-1], flush=True)
    rate = loader_throughput(args.batch)
    consumed = args.batch / (step_ms["resnet20"] / 1e3)
    rows.append(f"| data: load + augment + normalise | {rate:,.0f} img/s | | {rate / consumed:.0f}x what a "
                f"ResNet-20 step consumes ({consumed:.0f} img/s) |")
    print(rows[-1])
    if args.write and torch:
        body = (f"Forward, loss, backward and a Nesterov SGD step, float32, median of {args.repeats} repeats "
                "after warm-up taken in turns (harness.median_times); peak memory is how far a fresh process's "
                "peak resident size rises above its size "
                "after the imports while it builds the model and runs five steps.\n\n"
                + stamp(command("step.py", args)) + reference(torch) + "\n" + "\n".join(rows))
        write_section(args.write, section_name("Training step, CPU", args), body)


if __name__ == "__main__":
    main()
