"""CIFAR-10 (Krizhevsky 2009): 50,000 training and 10,000 test images, 32x32 RGB, 10 classes.

``load_cifar10()`` accepts any of these forms, looked for in an explicit ``root``, then ``$TINYCNN_DATA``, then
``~/.cache/tinycnn``:

- the official archive ``cifar-10-python.tar.gz``, or its extracted folder ``cifar-10-batches-py/``
  (pickled batches, read with a restricted unpickler);
- an image-folder tree ``train/<class>/*.png|jpg`` and ``test/<class>/...`` (for example ``cifar10-jpg/``), or a
  ``.tar.gz`` of one (``cifar10-jpg.tar.gz``).

The first load decodes the images and caches them as uint8 arrays (``$TINYCNN_CACHE``, default
``~/.cache/tinycnn``); later loads read that cache in about a second. When nothing is found and downloading is
allowed, the official archive is downloaded, checked against its md5, and used.
"""
import hashlib
import os
import urllib.error
import urllib.request
from collections import namedtuple

import numpy as np

from ..files import atomic_write
from .archive import iter_files, restricted_load
from .image_folder import load_image_folder

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
BATCHES = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]

CIFAR10 = namedtuple("CIFAR10", "x_train y_train x_test y_test classes source")
CIFAR10.__doc__ = "x_*: (N, 3, 32, 32) uint8; y_*: (N,) int64 labels in [0, 10); classes: names; source: path"


def cache_dir():
    return os.environ.get("TINYCNN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tinycnn")


def search_roots(root=None):
    """Where CIFAR-10 is looked for, in order."""
    roots = [root, os.environ.get("TINYCNN_DATA"), cache_dir()]
    return [os.path.expanduser(str(r)) for r in roots if r]


def find_source(root):
    """The CIFAR-10 found at ``root`` (a folder or an archive) as (kind, path), or None.

    kind: "batches" (an extracted official folder), "official" (the official archive), "folder" (an image tree
    with train/ and test/), "tarfolder" (a .tar.gz of such a tree)."""
    if os.path.isfile(root):
        if root.endswith((".tar.gz", ".tgz", ".tar")):
            return ("official" if os.path.basename(root).startswith("cifar-10-python") else "tarfolder"), root
        return None
    if not os.path.isdir(root):
        return None
    if os.path.isfile(os.path.join(root, "data_batch_1")):
        return "batches", root
    if os.path.isfile(os.path.join(root, BATCHES, "data_batch_1")):
        return "batches", os.path.join(root, BATCHES)
    if os.path.isfile(os.path.join(root, ARCHIVE)):
        return "official", os.path.join(root, ARCHIVE)
    for folder in (root, os.path.join(root, "cifar10-jpg"), os.path.join(root, "cifar10")):
        if os.path.isdir(os.path.join(folder, "train")) and os.path.isdir(os.path.join(folder, "test")):
            return "folder", folder
    for name in ("cifar10-jpg.tar.gz", "cifar10.tar.gz"):
        if os.path.isfile(os.path.join(root, name)):
            return "tarfolder", os.path.join(root, name)
    return None


def _batch_arrays(batch, source):
    """(x (n, 3, 32, 32) uint8, y (n,) int64) from one official batch dict, checking its layout."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{source}: expected a dict with b'data' and b'labels'")
    data, labels = batch[b"data"], np.asarray(batch[b"labels"], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{source}: expected b'data' as a (n, 3072) uint8 array, got "
                         f"{getattr(data, 'shape', type(data))} {getattr(data, 'dtype', '')}")
    if labels.shape != (data.shape[0],) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{source}: expected {data.shape[0]} labels in [0, 9]")
    return data.reshape(-1, 3, 32, 32), labels       # each row: the R, G, B planes of 32x32, row-major


def _read_official(kind, path):
    if kind == "batches":
        def read(name):
            file = os.path.join(path, name)
            if not os.path.isfile(file):
                raise FileNotFoundError(f"{path}: missing {name} (an official CIFAR-10 folder has "
                                        f"{', '.join(TRAIN_BATCHES)} and test_batch)")
            with open(file, "rb") as f:
                return _batch_arrays(restricted_load(f.read(), file), file)
        parts = {name: read(name) for name in TRAIN_BATCHES + ["test_batch"]}
    else:
        parts = {}
        for name, data in iter_files(path):
            base = name.rsplit("/", 1)[-1]
            if base in TRAIN_BATCHES or base == "test_batch":
                parts[base] = _batch_arrays(restricted_load(data, f"{path}:{name}"), f"{path}:{name}")
        missing = [n for n in TRAIN_BATCHES + ["test_batch"] if n not in parts]
        if missing:
            raise ValueError(f"{path}: the archive lacks {missing}; it may be truncated: delete it and try again")
    x_train = np.concatenate([parts[n][0] for n in TRAIN_BATCHES])
    y_train = np.concatenate([parts[n][1] for n in TRAIN_BATCHES])
    return x_train, y_train, parts["test_batch"][0], parts["test_batch"][1]


def _read(kind, path, progress):
    if kind in ("batches", "official"):
        return _read_official(kind, path)
    splits, _ = load_image_folder(path, classes=CLASSES, splits=("train", "test"), progress=progress)
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    if x_train.shape[1:] != (3, 32, 32):
        raise ValueError(f"{path}: CIFAR-10 images are 32x32, got {x_train.shape[2:]}")
    return x_train, y_train, x_test, y_test


def _cache_path(path):
    st = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return os.path.join(cache_dir(), f"cifar10-{key}.npz")


def load_cifar10(root=None, download=True, url=URL, progress=True):
    """Load CIFAR-10 from the first place it is found (see the module docstring), downloading if allowed."""
    tried = []
    for r in search_roots(root):
        found = find_source(r)
        tried.append(r)
        if found:
            return _load(*found, progress=progress)
    if not download:
        raise FileNotFoundError(_missing_message(tried))
    target = os.path.join(cache_dir(), ARCHIVE)
    try:
        download_file(url, target, MD5, progress)
    except (urllib.error.URLError, OSError) as error:
        raise FileNotFoundError(_missing_message(tried) + f"\nThe download from {url} failed: {error}") from error
    return _load("official", target, progress=progress)


def _missing_message(tried):
    return ("CIFAR-10 not found. Looked in: " + ", ".join(tried) + ".\nPut the official "
            f"{ARCHIVE} (from {URL}), its extracted {BATCHES}/ folder, or an image tree train/<class>/, "
            "test/<class>/ (or a .tar.gz of one, such as cifar10-jpg.tar.gz) in one of those folders, "
            "or point TINYCNN_DATA at it.")


def _load(kind, path, progress):
    cache = _cache_path(path)
    if os.path.isfile(cache):
        with np.load(cache, allow_pickle=False) as f:
            return CIFAR10(f["x_train"], f["y_train"], f["x_test"], f["y_test"], list(CLASSES), path)
    x_train, y_train, x_test, y_test = _read(kind, path, progress)
    atomic_write(cache, lambda f: np.savez(f, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test))
    return CIFAR10(x_train, y_train, x_test, y_test, list(CLASSES), path)


def download_file(url, target, md5, progress=True, timeout=30):
    """Download url to target through a temporary file that is renamed only once its md5 matches; on any
    failure (a wrong checksum, a dropped connection, Ctrl-C) the temporary file is removed."""
    def fetch(out):
        digest, received = hashlib.md5(), 0
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _bar(total, os.path.basename(target), progress)
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if bar:
                    bar.update(len(chunk))
            if bar:
                bar.close()
        if total is not None and received != total:
            raise OSError(f"download of {url} stopped after {received} of {total} bytes")
        if digest.hexdigest() != md5:
            raise ValueError(f"download of {url}: md5 {digest.hexdigest()} does not match the expected {md5}; "
                             "nothing was kept")
    return atomic_write(target, fetch)


def _bar(total, name, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {name}")
