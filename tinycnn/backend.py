"""The one place that knows NumPy from CuPy.

Every op asks ``get_array_module(x)`` for ``xp`` and calls ``xp.`` functions, so the same code runs on
either array library. New arrays (parameters, random numbers) are made by the *active* backend, which is
NumPy unless ``tinycnn.use("cupy")`` or ``TINYCNN_BACKEND=cupy`` says otherwise.
"""
import os

import numpy as np

try:  # CuPy is optional: `pip install tinycnn[gpu]`
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None

DEFAULT_DTYPE = np.float32
_DEVICE_NAMES = {"numpy": "numpy", "cpu": "numpy", "cupy": "cupy", "gpu": "cupy", "cuda": "cupy"}
_active = "numpy"


def cupy_available():
    """True when CuPy imports and sees at least one GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def device_name(device):
    """Normalise 'cpu'/'numpy' to 'numpy' and 'gpu'/'cuda'/'cupy' to 'cupy'."""
    name = _DEVICE_NAMES.get(str(device).lower())
    if name is None:
        raise ValueError(f"unknown device {device!r}: expected one of {sorted(_DEVICE_NAMES)}")
    if name == "cupy" and not cupy_available():
        raise RuntimeError(f"device {device!r} needs CuPy and a GPU; install it with `pip install tinycnn[gpu]`")
    return name


def use(device):
    """Select the backend that creates new arrays: ``use("numpy")`` or ``use("cupy")``."""
    global _active
    _active = device_name(device)


def active():
    """The name of the active backend: 'numpy' or 'cupy'."""
    return _active


def xp_of(device=None):
    """The array module of a device name (the active backend when None)."""
    name = _active if device is None else device_name(device)
    return cupy if name == "cupy" else np


def get_array_module(*arrays):
    """NumPy or CuPy, whichever the arrays live in (NumPy for plain Python numbers)."""
    if cupy is not None:
        return cupy.get_array_module(*arrays)
    return np


def device_of(array):
    """'cupy' for a CuPy array, else 'numpy'."""
    return "cupy" if get_array_module(array) is not np else "numpy"


def to_device(array, device):
    """Move an array to 'numpy' or 'cupy' (no copy when it is already there)."""
    if array is None:
        return None
    name = device_name(device)
    if name == "numpy":
        return cupy.asnumpy(array) if get_array_module(array) is not np else np.asarray(array)
    return cupy.asarray(array)


def to_numpy(array):
    """A NumPy copy of any array (a host copy for CuPy): for printing, plotting and checkpoints."""
    return to_device(array, "numpy")


def manual_seed(seed):
    """Seed the random generators that initialisation, dropout and augmentation use."""
    np.random.seed(seed)
    if cupy_available():
        cupy.random.seed(seed)


if os.environ.get("TINYCNN_BACKEND"):
    use(os.environ["TINYCNN_BACKEND"])
