"""The benchmark harness's command lines, and its hold on PyTorch's vector instructions where PyTorch is installed
(benchmarks/harness.py: ``--torch-isa avx2``)."""
import argparse
import importlib.util
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import harness  # noqa: E402


def options(torch_isa):
    return argparse.Namespace(batch=64, torch_isa=torch_isa)


def test_tables_held_to_avx2_get_their_own_section_and_command():
    assert harness.section_name("Training step, CPU", options("native")) == "Training step, CPU"
    assert harness.section_name("Training step, CPU", options("avx2")) == "Training step, CPU, PyTorch held to AVX2"
    assert harness.command("conv.py", options("native"), "--net fastnet") == \
        "python benchmarks/conv.py --net fastnet --batch 64"
    assert harness.command("step.py", options("avx2")) == "python benchmarks/step.py --batch 64 --torch-isa avx2"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_import_torch_holds_pytorch_to_avx2():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import harness; torch = harness.import_torch('avx2'); "
            "print(torch.backends.cpu.get_cpu_capability()); print(harness.reference(torch))")
    out = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    if out[0] == "DEFAULT":
        pytest.skip("this CPU has no AVX2")
    assert out[0] == "AVX2"
    assert "vector instructions AVX2 (limited by ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2, " \
        "MKL_ENABLE_INSTRUCTIONS=AVX2)" in out[1]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")
def test_import_torch_refuses_avx2_once_pytorch_is_loaded():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import torch, harness; harness.import_torch('avx2')")
    run = subprocess.run([sys.executable, "-c", code, str(BENCHMARKS)], capture_output=True, text=True)
    assert run.returncode != 0
    assert "PyTorch is already loaded, too late to hold it to AVX2" in run.stderr
