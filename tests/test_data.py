"""CIFAR-10 in every form, the cache, the checked download against a local server, archive and pickle safety,
image folders, augmentation and the loader."""
import functools
import hashlib
import http.server
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest

from tinycnn import data
from tinycnn.data import cifar10
from cifar_fixtures import (add_bytes, tiny_cifar, write_batches_folder, write_image_tree, write_official_archive,
                            write_tree_archive)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Each test gets its own cache folder and no TINYCNN_DATA."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINYCNN_DATA", raising=False)


WRITERS = {"official archive": write_official_archive, "batches folder": write_batches_folder,
           "image tree": lambda root, d: write_image_tree(os.path.join(root, "cifar10-jpg"), d),
           "image tree archive": write_tree_archive}


@pytest.mark.parametrize("form", WRITERS)
def test_every_form_loads_the_same_arrays(tmp_path, form):
    d = tiny_cifar()
    root = tmp_path / "data"
    root.mkdir()
    WRITERS[form](str(root), d)
    loaded = data.load_cifar10(str(root), download=False, progress=False)
    order = np.lexsort((np.arange(len(d[1])), d[1]))       # image trees come back sorted by class
    same = (lambda a, b: a) if "official" in form or "batches" in form else (lambda a, b: a[b])
    np.testing.assert_array_equal(loaded.x_train, same(d[0], order))
    np.testing.assert_array_equal(loaded.y_train, same(d[1], order))
    np.testing.assert_array_equal(np.sort(loaded.y_test), np.sort(d[3]))
    assert loaded.x_train.dtype == np.uint8 and loaded.x_train.shape[1:] == (3, 32, 32)
    assert loaded.classes == data.CLASSES


def test_second_load_comes_from_the_cache(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    archive = write_official_archive(str(root), tiny_cifar())
    first = data.load_cifar10(str(root), download=False)
    assert len(list((tmp_path / "cache").glob("cifar10-*.npz"))) == 1
    os.utime(archive, ns=(os.stat(archive).st_atime_ns, os.stat(archive).st_mtime_ns))  # unchanged source
    second = data.load_cifar10(str(root), download=False)
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_search_order(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    explicit.mkdir(), env.mkdir()
    write_official_archive(str(explicit), tiny_cifar(seed=1))
    write_official_archive(str(env), tiny_cifar(seed=2))
    monkeypatch.setenv("TINYCNN_DATA", str(env))
    assert data.load_cifar10(str(explicit), download=False).source.startswith(str(explicit))
    assert data.load_cifar10(download=False).source.startswith(str(env))


def test_nothing_found_offline_says_what_was_tried(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"(?s)Looked in: .*empty.*cifar-10-python.tar.gz.*TINYCNN_DATA"):
        data.load_cifar10(str(tmp_path / "empty"), download=False)


class _Server:
    """http.server on 127.0.0.1 serving a folder; ``truncate`` makes it promise more bytes than it sends."""

    def __init__(self, folder, truncate=False):
        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def copyfile(self, source, outputfile):
                if truncate:
                    outputfile.write(source.read(1000))        # then the connection closes early
                else:
                    super().copyfile(source, outputfile)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served_archive(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    path = write_official_archive(str(folder), tiny_cifar())
    with open(path, "rb") as f:
        return str(folder), hashlib.md5(f.read()).hexdigest()


def test_download_good_file(tmp_path, served_archive, monkeypatch):
    folder, md5 = served_archive
    monkeypatch.setattr(cifar10, "MD5", md5)
    with _Server(folder) as server:
        loaded = data.load_cifar10(str(tmp_path / "nowhere"), url=f"{server.url}/cifar-10-python.tar.gz",
                                   progress=False)
    assert loaded.x_train.shape == (30, 3, 32, 32)
    assert os.path.isfile(tmp_path / "cache" / "cifar-10-python.tar.gz")


def test_download_wrong_checksum_keeps_nothing(tmp_path, served_archive):
    folder, _ = served_archive
    with _Server(folder) as server, pytest.raises(ValueError, match="md5 .* does not match"):
        data.load_cifar10(str(tmp_path / "nowhere"), url=f"{server.url}/cifar-10-python.tar.gz", progress=False)
    assert not os.path.exists(tmp_path / "cache") or os.listdir(tmp_path / "cache") == []


def test_download_interrupted_leaves_no_broken_file(tmp_path, served_archive, monkeypatch):
    folder, md5 = served_archive
    monkeypatch.setattr(cifar10, "MD5", md5)
    with _Server(folder, truncate=True) as server, pytest.raises(FileNotFoundError, match="stopped after"):
        data.load_cifar10(str(tmp_path / "nowhere"), url=f"{server.url}/cifar-10-python.tar.gz", progress=False)
    assert not os.path.exists(tmp_path / "cache") or os.listdir(tmp_path / "cache") == []


def test_download_unreachable(tmp_path):
    with pytest.raises(FileNotFoundError, match="The download from http://127.0.0.1:9/x.tar.gz failed"):
        data.load_cifar10(str(tmp_path / "nowhere"), url="http://127.0.0.1:9/x.tar.gz", progress=False)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/tinycnn-pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    payload = pickle.dumps({b"data": _Evil(), b"labels": [0]}, protocol=2)
    with pytest.raises(ValueError, match=r"evil_batch: refusing to load (posix|os)\.system"):
        data.restricted_load(payload, "evil_batch")
    assert not os.path.exists("/tmp/tinycnn-pwned")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(payload)
    with pytest.raises(ValueError, match="refusing to load"):
        data.load_cifar10(str(tmp_path), download=False)


@pytest.mark.parametrize("member, kind, link", [("../evil.txt", tarfile.REGTYPE, ""),
                                                ("/abs/evil.txt", tarfile.REGTYPE, ""),
                                                ("train/cat/link.png", tarfile.SYMTYPE, "/etc/passwd")],
                         ids=["parent path", "absolute path", "symlink"])
def test_unsafe_tar_members_are_refused(tmp_path, member, kind, link):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add_bytes(tar, "train/cat/ok.png", b"x")
        add_bytes(tar, member, b"evil", kind, link)
    with pytest.raises(data.UnsafeArchiveError, match=r"bad.tar.gz: member"):
        data.safe_extract(str(path), str(tmp_path / "out"))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "train").exists()
    with pytest.raises(data.UnsafeArchiveError):
        data.load_cifar10(str(path), download=False)


def test_truncated_archive_names_the_file(tmp_path):
    good = write_official_archive(str(tmp_path), tiny_cifar())
    bad = tmp_path / "trunc" / "cifar-10-python.tar.gz"
    bad.parent.mkdir()
    bad.write_bytes(open(good, "rb").read()[:3000])
    with pytest.raises(ValueError, match=r"trunc/cifar-10-python.tar.gz.*(truncated|corrupt)"):
        data.load_cifar10(str(bad.parent), download=False)


def test_image_folder_for_own_images(tmp_path):
    from PIL import Image
    for label, color in (("apples", (255, 0, 0)), ("pears", (0, 255, 0))):
        (tmp_path / label).mkdir()
        for i, size in enumerate([(20, 10), (40, 30)]):
            Image.new("RGB", size, color).save(tmp_path / label / f"{i}.jpg")
    x, y, classes = data.load_image_folder(str(tmp_path), size=(16, 16))
    assert classes == ["apples", "pears"] and x.shape == (4, 3, 16, 16) and list(y) == [0, 0, 1, 1]
    assert x[0, 0].mean() > 200 and x[2, 1].mean() > 200
    with pytest.raises(ValueError, match="different sizes"):
        data.load_image_folder(str(tmp_path))


# --- augmentation and batching ---------------------------------------------------------------------------

def images(n=6, seed=0):
    return np.random.default_rng(seed).integers(1, 256, (n, 3, 8, 10), dtype=np.uint8)


def test_flip_symmetry():
    x = images()
    always = data.random_flip(x, np.random.default_rng(0), p=1.0)
    np.testing.assert_array_equal(always, x[..., ::-1])
    np.testing.assert_array_equal(data.random_flip(always, np.random.default_rng(0), p=1.0), x)
    some = data.random_flip(x, np.random.default_rng(1))
    flipped = [np.array_equal(s, xi[..., ::-1]) for s, xi in zip(some, x)]
    kept = [np.array_equal(s, xi) for s, xi in zip(some, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_alternating_flip_mirrors_each_image_on_every_other_epoch():
    x = images(40)
    index = np.random.default_rng(0).permutation(100)[:40]          # dataset positions, in a shuffled order
    views = [data.alternating_flip(x, index, epoch, seed=5) for epoch in range(4)]
    flipped = np.array([[np.array_equal(v, xi[..., ::-1]) for v, xi in zip(view, x)] for view in views])
    assert all(np.array_equal(v, xi) != f for view, row in zip(views, flipped) for v, xi, f in zip(view, x, row))
    assert 10 < flipped[0].sum() < 30                                # epoch 0: a fair coin per image
    np.testing.assert_array_equal(flipped[1], ~flipped[0])           # then the other way round, every epoch
    np.testing.assert_array_equal(flipped[2], flipped[0])
    np.testing.assert_array_equal(flipped[3], ~flipped[0])
    # an image's coin belongs to its dataset position, not to where it falls in a batch
    half = data.alternating_flip(x[20:], index[20:], 0, seed=5)
    np.testing.assert_array_equal(half, views[0][20:])
    assert not np.array_equal(data.alternating_flip(x, index, 0, seed=6), views[0])


def test_loader_gives_augment_the_positions_and_epoch_for_alternating_flips():
    x = np.random.default_rng(0).integers(0, 256, (30, 3, 4, 6), dtype=np.uint8)
    x[..., 3:] = 0                                                   # left half bright, right half black
    loader = data.DataLoader(x, np.arange(30), batch_size=6, shuffle=True, augment=data.Augment(0, "alternate"),
                             mean=(0, 0, 0), std=(1 / 255,) * 3, seed=1)
    mirrored = []
    for epoch in range(3):
        seen = {}
        for _, xb, yb in loader.batches(epoch):
            for image, label in zip(xb, yb):
                seen[int(label)] = bool((image[..., :3] == 0).all())  # black on the left: mirrored
        mirrored.append([seen[i] for i in range(30)])
    assert mirrored[1] == [not m for m in mirrored[0]] and mirrored[2] == mirrored[0]
    with pytest.raises(ValueError, match="needs each batch's dataset positions"):
        data.Augment(0, "alternate")(x, np.random.default_rng(0))
    with pytest.raises(ValueError, match="flip must be True, False or 'alternate'"):
        data.Augment(0, "sometimes")


def test_crop_is_a_shift_within_the_padding():
    x, p = images(), 2
    out = data.random_crop(x, p, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.uint8
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    shifts = []
    for o, xp_ in zip(out, padded):
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                if np.array_equal(o, xp_[:, dy:dy + 8, dx:dx + 10])]
        assert hits, "a crop that is not a window of the padded image"
        shifts.append(hits[0])
    assert len(set(shifts)) > 1


def test_reflect_padding_crops_the_same_windows_of_the_mirrored_border():
    """padding_mode="reflect": the window a seed picks is the same as with zeros, cut from the image mirrored
    at its edges (np.pad's "reflect") instead of a black border; the images are 1..255, so no zero gets in."""
    x, p = images(20), 2
    zeros = data.random_crop(x, p, np.random.default_rng(0))
    reflect = data.random_crop(x, p, np.random.default_rng(0), padding_mode="reflect")
    padded = {mode: np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode=mode) for mode in ("constant", "reflect")}
    moved = 0
    for i in range(len(x)):
        hits = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                if np.array_equal(zeros[i], padded["constant"][i, :, dy:dy + 8, dx:dx + 10])]
        dy, dx = hits[0]
        np.testing.assert_array_equal(reflect[i], padded["reflect"][i, :, dy:dy + 8, dx:dx + 10])
        moved += (dy, dx) != (p, p)
    assert moved > 10 and (reflect > 0).all() and (zeros == 0).any()
    augmented = data.Augment(p, False, padding_mode="reflect")(x, np.random.default_rng(0))
    np.testing.assert_array_equal(augmented, reflect)
    with pytest.raises(ValueError, match="padding_mode must be one of zeros, reflect, got 'edge'"):
        data.Augment(p, False, padding_mode="edge")
    with pytest.raises(ValueError, match="reflect padding of 8 needs images larger than that, got 8x10"):
        data.random_crop(x, 8, np.random.default_rng(0), padding_mode="reflect")


def test_a_smaller_crop_is_a_window_of_the_padded_image_anywhere_it_fits():
    x, p = images(40), 1
    out = data.random_crop(x, p, np.random.default_rng(0), size=(5, 6))
    assert out.shape == (40, 3, 5, 6) and out.dtype == np.uint8
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    corners = set()
    for o, xp_ in zip(out, padded):
        hits = [(dy, dx) for dy in range(8 + 2 * p - 5 + 1) for dx in range(10 + 2 * p - 6 + 1)
                if np.array_equal(o, xp_[:, dy:dy + 5, dx:dx + 6])]
        assert hits, "a crop that is not a window of the padded image"
        corners.add(hits[0])
    assert {dy for dy, _ in corners} == set(range(6)) and {dx for _, dx in corners} == set(range(7))
    with pytest.raises(ValueError, match="a 11x6 window does not fit 8x10 images padded by 1"):
        data.random_crop(x, p, np.random.default_rng(0), size=(11, 6))


def test_small_crops_in_the_first_epochs_then_full_size_images():
    x, rng = images(4), np.random.default_rng
    aug = data.Augment(2, True, small_crops=(6, 2))
    assert [aug(x, rng(0), epoch=e).shape[2:] for e in range(4)] == [(6, 6), (6, 6), (8, 10), (8, 10)]
    np.testing.assert_array_equal(aug(x, rng(3), epoch=2), data.Augment(2, True)(x, rng(3)))  # as without it
    assert data.Augment(0, False, small_crops=(4, 1))(x, rng(0), epoch=0).shape[2:] == (4, 4)  # no padding
    with pytest.raises(ValueError, match="needs the epoch"):
        aug(x, rng(0))
    staged = data.Augment(2, True, small_crops=((4, 1), (6, 2)))              # 4x4 for 1 epoch, then 6x6 for 2
    assert [staged(x, rng(0), epoch=e).shape[2:] for e in range(5)] == [(4, 4), (6, 6), (6, 6), (8, 10), (8, 10)]
    assert data.Augment(2, True, small_crops=[(6, 2)]).small_crops == aug.small_crops == ((6, 2),)
    for bad in ((6, 0), (), ((6, 2), (4, 0)), ((6, 2, 1),), ((6.0, 2),), 6, "6:2", ((6, 2), 4)):
        with pytest.raises(ValueError, match="small_crops must be"):
            data.Augment(2, True, small_crops=bad)
    loader = data.DataLoader(x, np.arange(4), batch_size=2, augment=aug, mean=(0,) * 3, std=(1,) * 3)
    assert [xb.shape[2:] for e in range(3) for _, xb, _ in loader.batches(e)] == [(6, 6)] * 4 + [(8, 10)] * 2


def test_augmentation_is_deterministic_under_a_seed():
    aug, x = data.Augment(4, True, 4), images(16)
    a = aug(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, aug(x, np.random.default_rng(7)))
    assert not np.array_equal(a, aug(x, np.random.default_rng(8)))


def test_cutout_zeroes_one_square_at_most():
    x = images(20)
    out = data.cutout(x, 4, np.random.default_rng(0))
    zeroed = (out == 0).all(axis=1)                      # (N, H, W): zero in every channel
    assert all(0 < z.sum() <= 16 for z in zeroed)
    np.testing.assert_array_equal(out[~np.broadcast_to(zeroed[:, None], out.shape)],
                                  x[~np.broadcast_to(zeroed[:, None], x.shape)])


def test_normalize_and_stats():
    x = np.random.default_rng(0).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    mean, std = data.channel_stats(x)
    z = data.normalize(x, mean, std)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-3)


def test_loader_covers_each_image_once_and_replays_from_any_batch():
    x = np.arange(23, dtype=np.uint8).reshape(23, 1, 1, 1).repeat(3, axis=1)
    loader = data.DataLoader(x, np.arange(23), batch_size=5, shuffle=True, augment=data.Augment(0, True, 0),
                             mean=(0, 0, 0), std=(1 / 255,) * 3, seed=3)
    assert len(loader) == 5
    epoch0 = [(b, xb.copy(), yb.copy()) for b, xb, yb in loader.batches(0)]
    assert sorted(np.concatenate([yb for _, _, yb in epoch0])) == list(range(23))
    np.testing.assert_array_equal(np.concatenate([xb[:, 0, 0, 0] for _, xb, _ in epoch0]),
                                  np.concatenate([yb for _, _, yb in epoch0]))
    tail = list(loader.batches(0, start=3))
    assert [b for b, _, _ in tail] == [3, 4]
    np.testing.assert_array_equal(tail[0][2], epoch0[3][2])
    assert not np.array_equal(np.concatenate([yb for _, _, yb in loader.batches(1)]),
                              np.concatenate([yb for _, _, yb in epoch0]))
