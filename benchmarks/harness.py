"""Shared benchmark helpers: medians of repeated timings after warm-up, machine facts, and RESULTS.md sections.

Absolute times on shared machines are noisy; the numbers that matter are ratios against a reference measured in
the same process, on the same threads and shapes.
"""
import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import time


def training_setup(model, batch, weight_decay=5e-4):
    """What a training step of ``model`` needs: a fixed random CIFAR-sized batch (x, y), a label-smoothed loss and a
    Nesterov SGD optimizer."""
    import numpy as np
    from tinycnn import data, nn, optim
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9, nesterov=True,
                    weight_decay=weight_decay)
    rng = np.random.default_rng(0)
    x = data.normalize(rng.integers(0, 256, (batch, 3, 32, 32), dtype=np.uint8), (0.5,) * 3, (0.25,) * 3)
    y = rng.integers(0, 10, batch)
    return x, y, loss_fn, opt


def training_step(model, batch, weight_decay=5e-4):
    """One training step of ``model`` on training_setup's batch: forward, loss, backward (as the training loop: no
    gradient for the images) and the SGD step, as a zero-argument function."""
    x, y, loss_fn, opt = training_setup(model, batch, weight_decay)

    def step():
        loss_fn(model(x), y)
        opt.zero_grad()
        model.backward(loss_fn.backward(), need_dx=False)
        opt.step()
    return step


def median_time(fn, repeats=7, warmup=2):
    """Median wall time of fn() in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_times(fns, repeats=7, warmup=2, block=3):
    """Median wall time of each function in seconds. The functions take turns (a a a, b b b, a a a, ...) so that
    a slow spell of a shared machine falls on all of them alike, and each turn starts with an untimed call: a
    library's worker threads go on spinning for a few milliseconds after its call returns (PyTorch's OpenMP
    pool does), and on two cores that time would be charged to whichever function ran next (RESULTS.md,
    "Twentieth session"). Within a turn, as in a training loop, each function follows itself."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    while len(times[-1]) < repeats:
        for fn, ts in zip(fns, times):
            fn()                                                      # untimed: the last turn's threads settle
            for _ in range(min(block, repeats - len(ts))):
                start = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def arguments(doc, net=None):
    """The benchmarks' shared command line: --batch, --repeats, --write, and --net (default its first choice) when
    a list of networks is given."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    if net:
        parser.add_argument("--net", choices=net, default=net[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--write", help="a Markdown file to write the table into")
    parser.add_argument("--torch-isa", choices=("native", "avx2"), default="native",
                        help="the vector instructions PyTorch may use: its own choice (default), or at most AVX2, "
                             "as NumPy's OpenBLAS where OPENBLAS_CORETYPE=Haswell holds it there")
    return parser.parse_args()


# What holds PyTorch's kernels to AVX2: its convolutions (oneDNN), its element-wise and reduction kernels (ATen)
# and its matrix products (MKL) each read their own variable, once, when first used.
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def import_torch(isa="native"):
    """PyTorch with as many intra-op threads as NumPy's BLAS uses (all cores), or None if not installed. With
    isa="avx2" its kernels go no further than AVX2 (AVX2_ONLY, set before PyTorch loads), so that it runs the same
    vector instructions as an OpenBLAS held to its Haswell kernels."""
    if isa == "avx2":
        if "torch" in sys.modules:
            raise RuntimeError("import_torch(isa='avx2'): PyTorch is already loaded, too late to hold it to AVX2")
        os.environ.update(AVX2_ONLY)
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: timing tinycnn alone (run `make bench` for the comparison)")
        return None
    torch.set_num_threads(os.cpu_count())
    return torch


def reference(torch):
    """One line on the PyTorch measured against: version, threads, vector instructions."""
    import numpy as np
    limits = [f"{k}={os.environ[k]}" for k in AVX2_ONLY if k in os.environ]   # set by import_torch or by hand
    how = "limited by " + ", ".join(limits) if limits else "its own choice"
    return (f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, vector instructions "
            f"{torch.backends.cpu.get_cpu_capability()} ({how}); NumPy {np.__version__}\n")


def section_name(name, args):
    """The RESULTS.md section of a table: its own section when PyTorch was held to AVX2."""
    return name + (", PyTorch held to AVX2" if args.torch_isa == "avx2" else "")


def command(script, args, *options):
    """The command line that reproduces a table (without --write)."""
    isa = " --torch-isa avx2" if args.torch_isa == "avx2" else ""
    return f"python benchmarks/{script}" + "".join(f" {o}" for o in options) + f" --batch {args.batch}{isa}"


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = model.group(1) if model else cpu
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_section(path, name, body):
    """Replace (or append) the section '## name' of a Markdown file with body."""
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    header = f"## {name}\n"
    section = header + body.rstrip() + "\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


def blas():
    """The BLAS under NumPy and the kernels it runs: OPENBLAS_CORETYPE, where set, overrides OpenBLAS's own choice
    (RESULTS.md, "this host pins OpenBLAS"), and that alone moves tinycnn's times by a third."""
    import numpy as np
    from tinycnn import parallel                     # it finds NumPy's OpenBLAS to set its threads
    info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    text = f"{info.get('name', 'BLAS')} {info.get('version', '')}".rstrip()
    if parallel.blas_core:
        text += f", {parallel.blas_core} kernels"
    core = os.environ.get("OPENBLAS_CORETYPE")
    return text + (f" (set by OPENBLAS_CORETYPE={core})" if core else " (OpenBLAS's own choice)")


def stamp(command):
    return (f"Command: `{command}`  \nDate: {datetime.date.today()}  \nMachine: {machine()}  \n"
            f"BLAS: {blas()}  \nCommit: {commit()}  \n")
