"""The training loop, checkpoints, resume, callbacks, and the command line end to end on tiny synthetic data."""
import json
import os
import signal
import threading

import numpy as np
import pytest

import tinycnn
from tinycnn import data, nn, optim
from tinycnn.checkpoint import Checkpoint, save_checkpoint
from tinycnn.files import atomic_write
from tinycnn.cli import main as cli
from tinycnn.train import EarlyStopping, FreezeAfter, ModelCheckpoint, ReduceLROnPlateau, Trainer, TrainingError, \
    evaluate, tta_views
from cifar_fixtures import tiny_cifar, write_image_tree


def small_cnn(classes=10):
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(32, classes))


def random_set(n=64, seed=0, size=16):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8), rng.integers(0, 10, n)


def test_small_cnn_overfits_64_images():
    tinycnn.manual_seed(0)
    x, y = random_set()
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 4 * 4, 10))
    loader = data.DataLoader(x, y, batch_size=16, shuffle=True)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), progress=False)
    trainer.fit(loader, 40)
    result = evaluate(model, data.DataLoader(x, y, batch_size=64))
    assert result["acc"] == 1.0, result["acc"]


def test_tta_views_flip_and_one_pixel_shifts_with_reflected_borders():
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4)
    down_right = x[:, :, [1, 0, 1, 2]][..., [1, 0, 1, 2]]         # out[i, j] = x[i - 1, j - 1], x[-1] read as x[1]
    up_left = x[:, :, [1, 2, 3, 2]][..., [1, 2, 3, 2]]            # out[i, j] = x[i + 1, j + 1], x[4] read as x[2]
    expected = [(1 / 4, x), (1 / 4, x[..., ::-1]), (1 / 8, down_right), (1 / 8, down_right[..., ::-1]),
                (1 / 8, up_left), (1 / 8, up_left[..., ::-1])]
    views = tta_views(x, "flip-translate")
    assert len(views) == len(expected)
    for (weight, view), (want_weight, want) in zip(views, expected):
        assert weight == want_weight
        np.testing.assert_array_equal(view, want)
    assert [w for w, _ in tta_views(x, True)] == [0.5, 0.5] and tta_views(x, False)[0][1] is x
    with pytest.raises(ValueError, match="tta must be one of none, flip, flip-translate, got 'mirror'"):
        tta_views(x, "mirror")


def test_evaluate_averages_probabilities_over_tta_views():
    tinycnn.manual_seed(0)
    x, y = random_set(n=10, size=4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))     # sees where every pixel is
    loader = data.DataLoader(x, y, batch_size=4)
    views = [evaluate(model, data.DataLoader(np.ascontiguousarray(v), y, batch_size=4))["probs"]
             for _, v in tta_views(x, "flip-translate")]                  # normalising commutes with the views
    want = sum(w * p for (w, _), p in zip(tta_views(x, "flip-translate"), views))
    result = evaluate(model, loader, "flip-translate")
    np.testing.assert_allclose(result["probs"], want, rtol=1e-6, atol=1e-7)
    assert not np.allclose(result["probs"], views[0], atol=1e-3)      # the views do change the answer
    assert result["acc"] == (want.argmax(1) == y).mean()


def make_trainer(tmp_path, fail_at=None, seed=5, lookahead=False, freeze=None, processes=1, muon=False):
    """A trainer that gets a Ctrl-C (SIGINT) in the middle of its fail_at-th step; with ``muon``, Muon for the
    filters instead of SGD; with ``lookahead``, its optimizer inside a Lookahead; with ``freeze`` = (name, epochs), a FreezeAfter callback; with ``processes``, each batch
    split over that many processes."""
    tinycnn.manual_seed(1)
    model = nn.Sequential(small_cnn().children()[0], nn.BatchNorm2d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if muon:                                                      # the filters by Muon, the rest by SGD
        filters = [p for p in model.parameters() if p.data.ndim == 4]
        rest = [p for p in model.parameters() if p.data.ndim != 4]
        opt = optim.Muon([{"params": filters, "normalize": True}, {"params": rest, "use_muon": False}], lr=0.05,
                         momentum=0.9, weight_decay=1e-3)
    if lookahead:
        opt = optim.Lookahead(opt, k=5, alpha=optim.ema_alpha(3 * 4, k=5, batch_size=12))
    sched = optim.OneCycleLR(opt, max_lr=0.1, total_steps=3 * 4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    if fail_at is not None:
        calls = {"n": 0}
        forward = loss_fn.forward

        def failing(*args):
            calls["n"] += 1
            if calls["n"] == fail_at:
                os.kill(os.getpid(), signal.SIGINT)
            return forward(*args)
        loss_fn.forward = failing
    callbacks = [ModelCheckpoint(str(tmp_path), monitor="val_acc"), EarlyStopping(patience=10)]
    if freeze:
        callbacks.append(FreezeAfter(model, *freeze))
    return Trainer(model, loss_fn, opt, sched, "batch", callbacks, seed, str(tmp_path), {"model": "test"},
                   progress=False, processes=processes)


def loaders(seed=5):
    x, y = random_set(64, seed=2)
    train = data.DataLoader(x[:48], y[:48], batch_size=12, shuffle=True, augment=data.Augment(2, True, 4), seed=seed)
    return train, data.DataLoader(x[48:], y[48:], batch_size=16)


@pytest.mark.parametrize("options", [{}, {"lookahead": True, "freeze": ("0.bias", 1)},
                                     {"lookahead": True, "freeze": ("0.bias", 1), "processes": 2},
                                     {"muon": True, "lookahead": True}],
                         ids=["sgd", "lookahead+freeze", "lookahead+freeze+2-processes", "muon+lookahead"])
def test_resume_after_ctrl_c_matches_an_uninterrupted_run(tmp_path, capsys, options):
    straight = make_trainer(tmp_path / "a", **options)
    straight.fit(loaders()[0], 3, loaders()[1])

    interrupted = make_trainer(tmp_path / "b", fail_at=6, **options)        # dies in the middle of epoch 2
    interrupted.fit(loaders()[0], 3, loaders()[1])
    out = capsys.readouterr().out
    assert interrupted.stop == "interrupted" and "interrupted at epoch 2, batch 2" in out, out
    resumed = make_trainer(tmp_path / "c", **options).resume(str(tmp_path / "b" / "last.npz"))
    assert (resumed.epoch, resumed.batch) == (1, 2)
    resumed.fit(loaders()[0], 3, loaders()[1])

    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]
    assert [h["val_acc"] for h in straight.history] == [h["val_acc"] for h in resumed.history]
    assert straight.optimizer.param_groups[0]["lr"] == resumed.optimizer.param_groups[0]["lr"]


def test_freeze_after_trains_a_parameter_for_the_first_epochs_only(tmp_path):
    trainer = make_trainer(tmp_path, freeze=("0.bias", 1))
    bias, weight = trainer.model.children()[0].bias, trainer.model.children()[0].weight
    start = bias.data.copy()
    trainer.fit(loaders()[0], 1, loaders()[1])
    after_one = bias.data.copy()
    assert not np.allclose(after_one, start) and bias.requires_grad      # trained in epoch 1
    weight_after_one = weight.data.copy()
    trainer.fit(loaders()[0], 3, loaders()[1])
    np.testing.assert_array_equal(bias.data, after_one)                 # then frozen
    assert not bias.requires_grad and not np.allclose(weight.data, weight_after_one)
    with pytest.raises(ValueError, match="FreezeAfter: no parameter is named '0.bia' or under it; the model "
                                         "has 0.weight, 0.bias, 1.weight"):
        FreezeAfter(trainer.model, "0.bia", 1)


def test_checkpoint_round_trip_and_wrong_architecture(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.fit(loaders()[0], 1, loaders()[1])
    ckpt = Checkpoint(str(tmp_path / "last.npz"))
    assert ckpt.meta["model"] == "test" and ckpt.meta["run"]["epoch"] == 1
    clone = make_trainer(tmp_path / "clone")
    ckpt.restore(clone.model, clone.optimizer, clone.scheduler)
    x = data.normalize(random_set(4, seed=9)[0], (0.5,) * 3, (0.5,) * 3)
    np.testing.assert_array_equal(trainer.model.eval()(x), clone.model.eval()(x))
    assert clone.optimizer.state_dict()["state"].keys() == trainer.optimizer.state_dict()["state"].keys()
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(8, 3, 3, 3\) here but \(16, 3, 3, 3\)"):
        ckpt.restore(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Dropout(0.2),
                                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)))


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = small_cnn()
    path = str(tmp_path / "last.npz")
    save_checkpoint(path, model, meta={"n": 1})
    before = open(path, "rb").read()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, meta={"n": 2})
    assert open(path, "rb").read() == before and os.listdir(tmp_path) == ["last.npz"]
    assert Checkpoint(path).meta["n"] == 1


def test_writers_of_the_same_file_at_once_each_write_a_whole_file(tmp_path):
    """Two runs filling the same data cache at once: both writes are under way together (a barrier holds each
    half-way), both succeed, the file left is one writer's whole content, no temporary file stays behind, and
    the file has ordinary permissions (mkstemp's are private)."""
    path, barrier, errors = str(tmp_path / "cache.npz"), threading.Barrier(2, timeout=10), []

    def writer(byte):
        def write(f):
            f.write(byte * 1000)
            barrier.wait()
            f.write(byte * 1000)
        try:
            atomic_write(path, write)
        except Exception as error:                          # noqa: BLE001 -- checked below
            errors.append(error)
    threads = [threading.Thread(target=writer, args=(b,)) for b in (b"a", b"b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert open(path, "rb").read() in (b"a" * 2000, b"b" * 2000)
    assert os.listdir(tmp_path) == ["cache.npz"]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask

def test_checkpoint_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    with open(path, "wb") as f:
        np.savez(f, **{"meta.json": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="not a readable tinycnn checkpoint"):
        Checkpoint(str(path))


def test_nan_loss_stops_with_a_clear_message():
    x, y = random_set(32)
    model = small_cnn()
    model[0].weight.data[0, 0, 0, 0] = np.nan
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), progress=False)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, batch 1 \(learning rate 0.1\)"):
        trainer.fit(data.DataLoader(x, y, batch_size=8, shuffle=True), 2)


class _Fake:
    def __init__(self):
        self.stop = None
        self.optimizer = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)


def test_early_stopping():
    fake, cb = _Fake(), EarlyStopping(monitor="val_loss", patience=2, min_delta=0.01)
    for loss in [1.0, 0.9, 0.895, 0.899]:
        cb.on_epoch_end(fake, {"val_loss": loss})
    assert fake.stop and "val_loss has not improved for 2 epochs" in fake.stop
    fake, cb = _Fake(), EarlyStopping(monitor="val_acc", patience=2)
    for acc in [0.5, 0.6, 0.55, 0.7, 0.65]:
        cb.on_epoch_end(fake, {"val_acc": acc})
    assert fake.stop is None


def test_reduce_lr_on_plateau_callback():
    fake, cb = _Fake(), ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    for loss in [1.0, 1.0, 1.0, 1.0, 1.0]:
        cb.on_epoch_end(fake, {"val_loss": loss})
    assert fake.optimizer.param_groups[0]["lr"] == 0.25


def test_cli_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    write_image_tree(str(tmp_path / "data"), tiny_cifar(per_batch=8, test=12))
    out = tmp_path / "run"
    args = ["train", "--model", "simple_cnn", "--epochs", "2", "--batch-size", "8", "--schedule", "none", "--data-dir",
            str(tmp_path / "data"), "--out", str(out), "--no-progress", "--val-fraction", "0.2", "--tta"]
    assert cli(args) == 0
    for name in ["history.json", "history.csv", "curves.png", "confusion.png", "metrics.json", "last.npz",
                 "best.npz"]:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_class"]) == set(data.CLASSES) and np.array(metrics["confusion_matrix"]).sum() == 12
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert cli(["eval", str(out / "best.npz"), "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "ev")]) == 0
    evaluations = {}
    for tta in ("none", "flip", "flip-translate"):            # the mode reaches evaluate: each changes the loss
        assert cli(["eval", str(out / "best.npz"), "--data-dir", str(tmp_path / "data"), "--tta", tta,
                    "--out", str(tmp_path / tta)]) == 0
        evaluations[tta] = json.loads((tmp_path / tta / "metrics.json").read_text())["loss"]
    assert evaluations["none"] == json.loads((tmp_path / "ev" / "metrics.json").read_text())["loss"]
    assert len(set(evaluations.values())) == 3, evaluations
    with pytest.raises(SystemExit):
        cli(["eval", str(out / "best.npz"), "--tta", "mirror"])
    image = next((tmp_path / "data" / "test").rglob("*.png"))
    assert cli(["predict", str(out / "best.npz"), str(image), "--plot", str(tmp_path / "p.png"), "--top-k", "2"]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and f"{image}: " in text and (tmp_path / "p.png").stat().st_size > 0
    import tinycnn.train
    started = []

    class CountedDataParallel(tinycnn.train.DataParallel):
        def __init__(self, *args):
            started.append(args[2:])
            super().__init__(*args)
    monkeypatch.setattr(tinycnn.train, "DataParallel", CountedDataParallel)
    assert cli(args + ["--epochs", "3", "--resume", str(out / "last.npz"), "--processes", "2", "--sync-bn"]) == 0
    assert "resumed from" in capsys.readouterr().out
    assert started == [(2, True)]                                # --processes and --sync-bn reached the trainer
    assert len(json.loads((out / "history.json").read_text())) == 3
    with pytest.raises(SystemExit, match="--processes must be at least 1, got 0"):
        cli(args + ["--processes", "0"])
    with pytest.raises(SystemExit, match="--device gpu takes --processes 1"):
        cli(args + ["--processes", "2", "--device", "gpu"])


def test_cli_lookahead_freeze_after_and_identity_init(tmp_path, monkeypatch, capsys):
    """The airbench options reach the run: the checkpoint holds Lookahead's slow weights and the alternating
    flips, the whitening bias stops changing after its one epoch, and bad values are refused with a message."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    write_image_tree(str(tmp_path / "data"), tiny_cifar(per_batch=8, test=12))
    args = ["train", "--model", "fastnet", "--model-arg", "widths=8,8,16", "--model-arg", "identity=true",
            "--batch-size", "8", "--val-fraction", "0", "--data-dir", str(tmp_path / "data"), "--no-progress",
            "--schedule", "none", "--alternate-flip", "--lookahead", "--freeze-after", "features.whiten.bias=1"]
    biases, head = [], []
    for epochs in (1, 2, 3):
        resume = ["--resume", str(tmp_path / "run" / "last.npz")] if epochs > 1 else []
        assert cli(args + ["--epochs", str(epochs), "--out", str(tmp_path / "run")] + resume) == 0
        ckpt = Checkpoint(str(tmp_path / "run" / "last.npz"))
        biases.append(ckpt.model_state["features.whiten.bias"])
        head.append(ckpt.model_state["classifier.weight"])
    assert "decoding" not in capsys.readouterr().err             # the image tree was decoded without a bar
    assert ckpt.meta["optimizer"]["type"] == "Lookahead" and ckpt.meta["model"]["config"]["identity"] is True
    assert any(name.endswith("/slow") for name in ckpt._optim_arrays) and ckpt.meta["args"]["alternate_flip"]
    np.testing.assert_array_equal(biases[1], biases[0])          # frozen after epoch 1, resumed or not
    np.testing.assert_array_equal(biases[2], biases[0])
    assert not np.array_equal(head[2], head[1])                  # while the rest trains on
    for bad, message in [("features.whiten.bias=x", "expects NAME=EPOCHS"), ("whiten=2", "no parameter is named")]:
        with pytest.raises(SystemExit, match=message):
            cli(args[:-1] + [bad, "--epochs", "1", "--out", str(tmp_path / "bad")])
    with pytest.raises(SystemExit, match="40 training images make no full batch of --batch-size 64"):
        cli(args + ["--epochs", "1", "--batch-size", "64", "--out", str(tmp_path / "bad")])


def test_cli_small_crops_train_the_first_epochs_on_smaller_images(tmp_path, monkeypatch, capsys):
    """--small-crops 24:1,28:1: epoch 1's steps see 24x24 crops, epoch 2's 28x28, epoch 3's whole 32x32 images;
    bad values refused. --padding-mode reflect reaches every crop."""
    from tinycnn.data import augment as data_augment
    from tinycnn.models.sequential_models import SequentialClassifier
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    write_image_tree(str(tmp_path / "data"), tiny_cifar(per_batch=8, test=12))
    sizes, forward = [], SequentialClassifier.forward

    def spy(self, x):
        if self.training:
            sizes.append(x.shape[2:])
        return forward(self, x)
    monkeypatch.setattr(SequentialClassifier, "forward", spy)
    modes, crop = [], data_augment.random_crop
    monkeypatch.setattr(data_augment, "random_crop", lambda *a, **k: modes.append(a[4]) or crop(*a, **k))
    args = ["train", "--model", "fastnet", "--model-arg", "widths=8,8,16", "--batch-size", "8", "--val-fraction",
            "0", "--data-dir", str(tmp_path / "data"), "--no-progress", "--schedule", "none", "--epochs", "3",
            "--out", str(tmp_path / "run")]
    assert cli(args + ["--small-crops", "24:1,28:1", "--padding-mode", "reflect"]) == 0
    assert sizes == [(24, 24)] * 5 + [(28, 28)] * 5 + [(32, 32)] * 5     # 40 images, batches of 8, three epochs
    assert modes == ["reflect"] * 15
    for bad in ("28", "28:0", "x:1", "24:1,", "24:1;28:1"):
        with pytest.raises(SystemExit):
            cli(args + ["--small-crops", bad])
        assert "expects SIZE:EPOCHS" in capsys.readouterr().err


def test_bias_lr_scale_groups_the_batch_norm_biases_and_keeps_their_ratio_under_one_cycle():
    """--bias-lr-scale S: every batch-norm bias, and nothing else, learns at S times the rate at every step of
    the one-cycle schedule, with the weights' decay per step; without it the groups are as before (weights with
    decay, 1-d parameters without)."""
    from tinycnn import models
    from tinycnn.cli import build_optimizer, build_schedule, parser
    model = models.fastnet(widths=(8, 8, 16))
    bn_biases = {id(m.bias) for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    for scale in (1, 64):
        args = parser().parse_args(["train", "--lr", "0.05", "--bias-lr-scale", str(scale), "--epochs", "2"])
        opt = build_optimizer(args, model)
        scheduler, _, _ = build_schedule(args, optim.Lookahead(opt), steps_per_epoch=5)
        if scale == 1:
            assert len(opt.param_groups) == 2
            continue
        weights, others, biases = opt.param_groups
        assert {id(p) for p in biases["params"]} == bn_biases and len(bn_biases) == 6
        assert not bn_biases & {id(p) for p in weights["params"] + others["params"]}
        assert weights["weight_decay"] == args.weight_decay and others["weight_decay"] == 0
        assert biases["weight_decay"] * biases["lr"] == pytest.approx(weights["weight_decay"] * weights["lr"])
        for _ in range(10):
            np.testing.assert_allclose(biases["lr"], 64 * weights["lr"], rtol=1e-12)
            assert weights["lr"] == others["lr"]
            scheduler.step()
    with pytest.raises(SystemExit, match="--bias-lr-scale must be a positive number, got 0.0"):
        build_optimizer(parser().parse_args(["train", "--bias-lr-scale", "0"]), model)


def test_optimizer_muon_takes_the_filters_and_sgd_the_rest():
    """--optimizer muon: every trainable convolution filter (and nothing else) is in the one Muon group, with
    --muon-lr, --muon-momentum (held through one-cycle while SGD's groups cycle theirs) and --muon-normalize;
    the frozen whitening filters are in no group; a model without convolutions is refused by name."""
    from tinycnn import models
    from tinycnn.cli import build_optimizer, build_schedule, parser
    model = models.fastnet(widths=(8, 8, 16))
    filters = {id(p) for p in model.parameters() if p.data.ndim == 4 and p.requires_grad}
    args = parser().parse_args(["train", "--model", "fastnet", "--optimizer", "muon", "--lr", "0.05", "--muon-lr",
                                "0.01", "--muon-momentum", "0.7", "--muon-normalize", "--muon-ns-steps", "3",
                                "--epochs", "2"])
    opt = build_optimizer(args, model)
    muon_groups = [g for g in opt.param_groups if g["use_muon"]]
    assert isinstance(opt, optim.Muon) and len(muon_groups) == 1 and len(filters) == 6
    assert {id(p) for p in muon_groups[0]["params"]} == filters
    others = {id(p) for g in opt.param_groups if not g["use_muon"] for p in g["params"]}
    assert not others & filters and len(others) == len([p for p in model.parameters() if p.requires_grad]) - 6
    assert muon_groups[0]["normalize"] and muon_groups[0]["weight_decay"] == 0 and muon_groups[0]["ns_steps"] == 3
    assert muon_groups[0]["nesterov"]
    scheduler, _, _ = build_schedule(args, optim.Lookahead(opt), steps_per_epoch=5)
    sgd_momenta = set()
    for _ in range(10):
        assert muon_groups[0]["momentum"] == pytest.approx(0.7)
        assert muon_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"] * 0.01 / 0.05)
        sgd_momenta.add(round(opt.param_groups[0]["momentum"], 6))
        scheduler.step()
    assert len(sgd_momenta) > 5
    with pytest.raises(SystemExit, match="train: Muon: ns_steps must be a whole number from 1 to 99, got 0"):
        build_optimizer(parser().parse_args(["train", "--optimizer", "muon", "--muon-ns-steps", "0"]), model)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    with pytest.raises(SystemExit, match="--optimizer muon trains convolution filters, and resnet20 has none"):
        build_optimizer(parser().parse_args(["train", "--optimizer", "muon"]), mlp)

def test_fastnet_frozen_batch_norm_weights_stay_one_while_the_biases_learn(tmp_path, monkeypatch, capsys):
    """fastnet(bn_weights=False) with --bias-lr-scale through the command line: after an epoch every batch-norm
    scale is still exactly 1 and every bias has moved; the options reach the checkpoint."""
    monkeypatch.setenv("TINYCNN_CACHE", str(tmp_path / "cache"))
    write_image_tree(str(tmp_path / "data"), tiny_cifar(per_batch=8, test=12))
    assert cli(["train", "--model", "fastnet", "--model-arg", "widths=8,8,16", "--model-arg", "bn_weights=false",
                "--bias-lr-scale", "64", "--batch-size", "8", "--val-fraction", "0", "--epochs", "1",
                "--data-dir", str(tmp_path / "data"), "--no-progress", "--out", str(tmp_path / "run")]) == 0
    ckpt = Checkpoint(str(tmp_path / "run" / "last.npz"))
    norms = sorted({name.rsplit(".", 1)[0] for name in ckpt.model_state if name.endswith("running_mean")})
    assert len(norms) == 6 and ckpt.meta["args"]["bias_lr_scale"] == 64
    for norm in norms:
        assert (ckpt.model_state[norm + ".weight"] == 1).all(), norm
        assert (ckpt.model_state[norm + ".bias"] != 0).any(), norm
    assert ckpt.meta["model"]["config"]["bn_weights"] is False


def test_make_train_default_recipe_is_a_valid_command_line():
    """`make train` passes TRAIN_ARGS from the Makefile to the train command: a typo there would only show after
    the environment is built and the data loaded; here it fails at once."""
    import shlex
    from tinycnn.cli import parser
    makefile = open(os.path.join(os.path.dirname(__file__), os.pardir, "Makefile")).read().replace("\\\n", " ")
    line = next(line for line in makefile.splitlines() if line.startswith("TRAIN_ARGS ?="))
    args = parser().parse_args(["train"] + shlex.split(line.split("?=", 1)[1]))
    assert args.model in {"fastnet", "resnet20"} and args.epochs > 0 and args.out.startswith("runs/")
