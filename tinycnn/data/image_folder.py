"""Image folders: ``root/<class>/*.png|jpg`` (or the same tree inside a .tar.gz) -> uint8 arrays.

Class names are the sorted folder names (PyTorch's ImageFolder convention) unless given. Pillow decodes each
image; ``size`` resizes them all to one (H, W); without it every image must already have the same size.
"""
import io
import os

import numpy as np
from PIL import Image

from .archive import iter_files

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def decode_image(data, source, size=None):
    """bytes -> (3, H, W) uint8 RGB, resized to size=(H, W) when given."""
    try:
        image = Image.open(io.BytesIO(data)).convert("RGB")
    except Exception as error:  # Pillow raises several types for bad files
        raise ValueError(f"{source}: cannot decode this image ({error})") from error
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def _files(root):
    """(relative path, bytes) of the image files under a folder or inside a tar archive."""
    if os.path.isdir(root):
        for folder, _, names in sorted(os.walk(root)):
            for name in sorted(names):
                if name.lower().endswith(EXTENSIONS):
                    path = os.path.join(folder, name)
                    with open(path, "rb") as f:
                        yield os.path.relpath(path, root).replace(os.sep, "/"), f.read()
    else:
        for name, data in iter_files(root):
            if name.lower().endswith(EXTENSIONS):
                yield name, data


def load_image_folder(root, size=None, classes=None, splits=None, progress=False):
    """Read a class-folder tree. Returns (x (N, 3, H, W) uint8, y (N,) int64, class names).

    With ``splits`` (for example ("train", "test")) the tree is ``<prefix>/<split>/<class>/<file>`` and the
    result is a dict split -> (x, y), with class names shared. Files outside a class folder are ignored.
    """
    samples = {}
    for name, data in _files(root):
        parts = name.split("/")
        if splits is not None:
            hits = [i for i, p in enumerate(parts[:-2]) if p in splits]
            if not hits:
                continue
            split, label = parts[hits[-1]], parts[hits[-1] + 1]
        else:
            if len(parts) < 2:
                continue
            split, label = None, parts[-2]
        samples.setdefault(split, []).append((label, name, data))
    found = sorted({label for items in samples.values() for label, _, _ in items})
    if not found:
        raise FileNotFoundError(f"{root}: no images in class folders (expected <class>/<image>.png|jpg"
                                + (f" under {'/'.join(splits)} folders)" if splits else ")"))
    classes = list(classes) if classes is not None else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(f"{root}: class folders {unknown} are not among the expected classes {classes}")
    index = {c: i for i, c in enumerate(classes)}
    out = {}
    for split, items in samples.items():
        items.sort(key=lambda item: (index[item[0]], item[1]))
        desc = f"decoding {os.path.basename(str(root))}" + (f" {split}" if split else "")
        images = [decode_image(data, f"{root}:{name}", size) for _, name, data in _tqdm(items, progress, desc)]
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise ValueError(f"{root}: images have different sizes {sorted(shapes)[:3]}...; pass size=(H, W)")
        out[split] = (np.stack(images), np.array([index[label] for label, _, _ in items], dtype=np.int64))
    if splits is None:
        return out[None] + (classes,)
    missing = [s for s in splits if s not in out]
    if missing:
        raise FileNotFoundError(f"{root}: no {missing} folder with class sub-folders")
    return {s: out[s] for s in splits}, classes


def _tqdm(iterable, enabled, desc):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=desc, unit="img", leave=False)
