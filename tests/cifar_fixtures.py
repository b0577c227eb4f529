"""Tiny CIFAR-10 data sets in every form the loader reads, built by the tests (never downloaded)."""
import io
import os
import pickle
import tarfile

import numpy as np
from PIL import Image

from tinycnn.data.cifar10 import CLASSES, TRAIN_BATCHES


def tiny_cifar(per_batch=6, test=8, seed=0):
    """Random uint8 images: (x_train (5*per_batch, 3, 32, 32), y_train, x_test, y_test)."""
    rng = np.random.default_rng(seed)
    n = 5 * per_batch
    return (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), np.arange(n) % 10,
            rng.integers(0, 256, (test, 3, 32, 32), dtype=np.uint8), (np.arange(test) * 3) % 10)


def official_batch(x, y, name):
    """A batch dict with the exact layout of cifar-10-batches-py: b'data' (n, 3072) uint8 (R, G, B planes of
    32x32, row-major), b'labels' a list, plus b'batch_label' and b'filenames'."""
    return {b"batch_label": name.encode(), b"labels": [int(v) for v in y],
            b"data": np.ascontiguousarray(x.reshape(len(x), 3072)),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(x))]}


def write_batches_folder(root, data):
    x_train, y_train, x_test, y_test = data
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    per = len(x_train) // 5
    for i, name in enumerate(TRAIN_BATCHES):
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(official_batch(x_train[i * per:(i + 1) * per], y_train[i * per:(i + 1) * per], name), f,
                        protocol=2)
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        pickle.dump(official_batch(x_test, y_test, "test_batch"), f, protocol=2)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [c.encode() for c in CLASSES]}, f, protocol=2)
    return folder


def write_official_archive(root, data, name="cifar-10-python.tar.gz"):
    tmp = os.path.join(root, "_build")
    folder = write_batches_folder(tmp, data)
    path = os.path.join(root, name)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return path


def write_image_tree(root, data, ext="png"):
    """root/train/<class>/NNNN.png and root/test/<class>/NNNN.png (PNG is lossless: pixels survive exactly)."""
    x_train, y_train, x_test, y_test = data
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        for i, (img, label) in enumerate(zip(x, y)):
            folder = os.path.join(root, split, CLASSES[label])
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(img.transpose(1, 2, 0)).save(os.path.join(folder, f"{i:04d}.{ext}"))
    return root


def write_tree_archive(root, data, name="cifar10-jpg.tar.gz"):
    tree = write_image_tree(os.path.join(root, "_tree", "cifar10-jpg"), data)
    path = os.path.join(root, name)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(tree, arcname="cifar10-jpg")
    return path


def add_bytes(tar, name, payload, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(payload) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(payload) if kind == tarfile.REGTYPE else None)
