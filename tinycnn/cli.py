"""The command line: ``python -m tinycnn train | eval | predict | summary``."""
import argparse
import json
import os

import numpy as np

from . import backend, data, models, nn, optim, viz
from .checkpoint import Checkpoint
from .functional.loss import log_softmax
from .metrics import format_report
from .summary import summary
from .train import TTA_MODES, EarlyStopping, FreezeAfter, ModelCheckpoint, ReduceLROnPlateau, Trainer, evaluate, \
    report

IMAGENET_MODELS = {"alexnet", "googlenet", "densenet121", "resnet18", "resnet34", "resnet50", "resnet101",
                   "resnet152"} | {n for n in models.MODELS if n.startswith("vgg")}


# --tta alone means "flip"; "--tta flip-translate" adds the one-pixel shifts (train.tta_views).
TTA_ARGUMENT = dict(nargs="?", const="flip", default="none", choices=TTA_MODES,
                    help="test-time augmentation when evaluating: flip (the default of --tta alone) averages with "
                         "mirrored images; flip-translate also with images shifted by one pixel")


def default_input_shape(name, config=None):
    """(C, H, W) a model is built for: 224x224 RGB for the ImageNet sizes, 1x32x32 for LeNet, else CIFAR's."""
    if name in IMAGENET_MODELS and not (config or {}).get("cifar"):
        return (3, 224, 224)
    return ((config or {}).get("in_channels", 1), 32, 32) if name == "lenet5" else (3, 32, 32)


def _value(text):
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, '32,64' -> (32, 64), anything else stays a string."""
    if "," in text:
        return tuple(_value(part) for part in text.split(",") if part)
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def model_config(pairs):
    config = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SystemExit(f"--model-arg expects KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        config[key] = _value(value)
    return config


def build_optimizer(args, model):
    """SGD/Adam/AdamW; no weight decay on biases and batch-norm parameters (1-d arrays). With --bias-lr-scale S,
    the batch-norm biases form a third group that learns S times faster (airbench's 64: a shift the next layer
    needs can then be learnt in a few steps, while the weights keep a rate at which they stay stable), decayed
    as airbench does: weight decay / S, so that the decay per step (lr * weight decay) equals the weights'.
    (With fastnet at batch 64, S = 64 slowed training and S = 8 gained nothing beyond a seed's spread:
    benchmarks/RESULTS.md, runs 14, 16 and 18.)"""
    if not args.bias_lr_scale > 0:
        raise SystemExit(f"--bias-lr-scale must be a positive number, got {args.bias_lr_scale}")
    params = [p for p in model.parameters() if p.requires_grad]
    bn_biases = {id(m.bias) for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine}
    scaled_ids = bn_biases if args.bias_lr_scale != 1 else set()
    scaled = [p for p in params if id(p) in scaled_ids]
    decay = [p for p in params if p.data.ndim > 1]
    no_decay = [p for p in params if p.data.ndim <= 1 and id(p) not in scaled_ids]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if scaled:
        groups.append({"params": scaled, "lr": args.lr * args.bias_lr_scale,
                       "weight_decay": args.weight_decay / args.bias_lr_scale})
    if args.optimizer == "sgd":
        return optim.SGD(groups, lr=args.lr, momentum=args.momentum, nesterov=args.momentum > 0)
    if args.optimizer == "muon":
        # the convolutions' filters take Muon's orthogonalised steps; the rest (classifier, biases, batch norm)
        # SGD's, as the groups above, in the same optimizer
        filters = {id(p) for p in decay if p.data.ndim == 4}
        if not filters:
            raise SystemExit(f"train: --optimizer muon trains convolution filters, and {args.model} has none to train")
        for group in groups:
            group.update(use_muon=False, params=[p for p in group["params"] if id(p) not in filters])
        groups.append({"params": [p for p in decay if id(p) in filters], "lr": args.muon_lr, "weight_decay": 0.0,
                       "momentum": args.muon_momentum, "nesterov": args.muon_momentum > 0,
                       "normalize": args.muon_normalize, "ns_steps": args.muon_ns_steps})
        try:
            return optim.Muon([g for g in groups if g["params"]], lr=args.lr, momentum=args.momentum,
                              nesterov=args.momentum > 0)
        except ValueError as error:
            raise SystemExit(f"train: {error}") from None
    return (optim.Adam if args.optimizer == "adam" else optim.AdamW)(groups, lr=args.lr)


def small_crops(text):
    """--small-crops SIZE:EPOCHS[,SIZE:EPOCHS...] -> ((SIZE, EPOCHS), ...), stages in order."""
    stages = []
    for stage in text.split(","):
        size, _, epochs = stage.partition(":")
        if not (size.isdigit() and epochs.isdigit() and int(size) > 0 and int(epochs) > 0):
            raise argparse.ArgumentTypeError(f"expects SIZE:EPOCHS[,SIZE:EPOCHS...], positive whole numbers, "
                                             f"got {text!r}")
        stages.append((int(size), int(epochs)))
    return tuple(stages)


def freeze_callbacks(pairs, model):
    """FreezeAfter callbacks from --freeze-after NAME=EPOCHS arguments."""
    callbacks = []
    for pair in pairs or []:
        name, _, epochs = pair.rpartition("=")
        if not name or not epochs.isdigit():
            raise SystemExit(f"--freeze-after expects NAME=EPOCHS (EPOCHS a whole number), got {pair!r}")
        try:
            callbacks.append(FreezeAfter(model, name, int(epochs)))
        except ValueError as error:
            raise SystemExit(f"--freeze-after {pair}: {error}") from None
    return callbacks


def build_schedule(args, optimizer, steps_per_epoch, monitor_loss="val_loss"):
    """(scheduler, 'batch' | 'epoch', extra callbacks); the plateau schedule watches ``monitor_loss``."""
    if args.schedule == "onecycle":
        peaks = [group["lr"] for group in optimizer.param_groups]          # each group's own peak rate
        # SGD's momentum cycles between one-cycle's defaults (0.85 and 0.95); Muon's groups keep --muon-momentum
        low = [g["momentum"] if g.get("use_muon") else optim.lr_scheduler.BASE_MOMENTUM for g in optimizer.param_groups]
        high = [g["momentum"] if g.get("use_muon") else optim.lr_scheduler.MAX_MOMENTUM for g in optimizer.param_groups]
        return optim.OneCycleLR(optimizer, max_lr=peaks, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                                pct_start=args.warmup, anneal_strategy="linear",
                                cycle_momentum=args.optimizer in ("sgd", "muon") and args.momentum > 0,
                                base_momentum=low, max_momentum=high,
                                div_factor=args.div_factor, final_div_factor=args.final_div_factor), "batch", []
    if args.schedule == "cosine":
        return optim.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch), "batch", []
    if args.schedule == "step":
        return optim.StepLR(optimizer, step_size=max(1, args.epochs // 3), gamma=0.1), "epoch", []
    if args.schedule == "plateau":
        return None, "epoch", [ReduceLROnPlateau(monitor=monitor_loss, factor=0.1, patience=3)]
    return None, "epoch", []


def split_validation(x, y, fraction, seed):
    """Hold out ``fraction`` of the training images (a fixed random choice) for validation."""
    if fraction <= 0:
        return (x, y), None
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(fraction * len(x)))
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return (x[train], y[train]), (x[val], y[val])


def cmd_train(args):
    if args.processes < 1:
        raise SystemExit(f"train: --processes must be at least 1, got {args.processes}")
    if args.processes > 1 and args.device != "cpu":
        raise SystemExit(f"train: --processes {args.processes} splits batches over CPU processes; "
                         f"--device {args.device} takes --processes 1")
    backend.use(args.device)
    backend.manual_seed(args.seed)
    cifar = data.load_cifar10(args.data_dir, progress=not args.no_progress)
    x_train, y_train = cifar.x_train, cifar.y_train
    if args.subset:
        keep = np.sort(np.random.default_rng(args.seed).permutation(len(x_train))[:args.subset])
        x_train, y_train = x_train[keep], y_train[keep]
    (x_train, y_train), val = split_validation(x_train, y_train, args.val_fraction, args.seed)
    mean, std = data.channel_stats(x_train)
    flip = False if args.no_flip else "alternate" if args.alternate_flip else True
    augment = data.Augment(args.crop_padding, flip, args.cutout, seed=args.seed, small_crops=args.small_crops,
                           padding_mode=args.padding_mode)
    loader_args = dict(batch_size=args.batch_size, mean=mean, std=std, seed=args.seed)
    train_loader = data.DataLoader(x_train, y_train, shuffle=True, augment=augment, drop_last=True, **loader_args)
    val_loader = data.DataLoader(*val, **loader_args) if val else None
    test_loader = data.DataLoader(cifar.x_test, cifar.y_test, **loader_args)
    if len(train_loader) == 0:
        raise SystemExit(f"train: {len(x_train)} training images make no full batch of --batch-size "
                         f"{args.batch_size} (the last, partial batch is dropped); use a smaller batch or more images")

    config = {"num_classes": len(cifar.classes), **model_config(args.model_arg)}
    model = models.get_model(args.model, **config)
    if args.model == "fastnet":                 # its first layer is set from the data (patch whitening)
        models.init_whitening(model, data.normalize(x_train[:5000], mean, std))
    loss_fn = models.GoogLeNetLoss(label_smoothing=args.label_smoothing) if args.model == "googlenet" else \
        nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    optimizer = build_optimizer(args, model)
    if args.lookahead:
        steps = args.epochs * len(train_loader)
        optimizer = optim.Lookahead(optimizer, k=5, alpha=optim.ema_alpha(steps, 5, args.batch_size))
    monitor_loss = "val_loss" if val_loader else "train_loss"      # without a validation split, the training loss
    scheduler, schedule, callbacks = build_schedule(args, optimizer, len(train_loader), monitor_loss)
    callbacks += freeze_callbacks(args.freeze_after, model)
    callbacks.append(ModelCheckpoint(args.out, monitor="val_acc" if val_loader else "train_loss"))
    if args.early_stopping:
        callbacks.append(EarlyStopping(monitor=monitor_loss, patience=args.early_stopping))
    meta = {"model": {"name": args.model, "config": config}, "classes": cifar.classes,
            "normalization": {"mean": mean.tolist(), "std": std.tolist()},
            "input_shape": list(cifar.x_train.shape[1:]), "args": {k: v for k, v in vars(args).items() if k != "run"}}
    trainer = Trainer(model, loss_fn, optimizer, scheduler, schedule, callbacks, args.seed, args.out, meta,
                      progress=not args.no_progress, tta=args.tta, processes=args.processes,
                      sync_batch_norm=args.sync_bn)
    if args.resume:
        trainer.resume(args.resume)
        print(f"resumed from {args.resume} at epoch {trainer.epoch + 1}, batch {trainer.batch}")
    print(f"training {args.model} ({model.num_parameters():,} parameters) on {len(x_train)} images, "
          f"{'validating on ' + str(len(val[0])) if val else 'no validation split'}; run folder {args.out}")
    history = trainer.fit(train_loader, args.epochs, val_loader)
    if trainer.stop == "interrupted":
        return 130
    viz.plot_curves(history, os.path.join(args.out, "curves.png"))
    result = evaluate(model, test_loader, args.tta)
    write_evaluation(result, cifar.classes, args.out, history=history)
    return 0


def write_evaluation(result, classes, out_dir, history=None):
    rep = report(result, classes)
    if history:
        rep["train_seconds"] = sum(h["seconds"] for h in history)
        rep["epochs"] = len(history)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump(rep, f, indent=1)
    viz.plot_confusion(rep["confusion_matrix"], classes, os.path.join(out_dir, "confusion.png"))
    print(format_report(rep))
    print(f"test loss {rep['loss']:.4f}, test accuracy {rep['accuracy']:.4f}; wrote metrics.json, confusion.png "
          f"and curves.png to {out_dir}")
    return rep


def load_model(path):
    """(model in eval mode, checkpoint) from a checkpoint file."""
    ckpt = Checkpoint(path)
    spec = ckpt.meta["model"]
    model = models.get_model(spec["name"], **spec["config"])
    model.load_state_dict(ckpt.model_state)
    return model.eval(), ckpt


def cmd_eval(args):
    backend.use(args.device)
    model, ckpt = load_model(args.checkpoint)
    norm = ckpt.meta["normalization"]
    cifar = data.load_cifar10(args.data_dir)
    loader = data.DataLoader(cifar.x_test, cifar.y_test, args.batch_size, mean=norm["mean"], std=norm["std"])
    out = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    write_evaluation(evaluate(model, loader, args.tta), ckpt.meta["classes"], out)
    return 0


def cmd_predict(args):
    backend.use(args.device)
    model, ckpt = load_model(args.checkpoint)
    classes, norm = ckpt.meta["classes"], ckpt.meta["normalization"]
    size = tuple(ckpt.meta["input_shape"][1:])
    xp = backend.xp_of()
    for path in args.images:
        with open(path, "rb") as f:
            image = data.decode_image(f.read(), path, size)
        x = data.normalize(xp.asarray(image[None]), norm["mean"], norm["std"])
        logits = model(x)
        probs = backend.to_numpy(xp.exp(log_softmax(logits)))[0]
        top = np.argsort(probs)[::-1][:args.top_k]
        print(f"{path}: " + ", ".join(f"{classes[i]} {probs[i]:.3f}" for i in top))
        if args.plot:
            stem = os.path.splitext(os.path.basename(path))[0]
            target = args.plot if len(args.images) == 1 else os.path.join(args.plot, f"{stem}.png")
            viz.plot_probabilities(probs, classes, target, title=os.path.basename(path), image=image)
    return 0


def cmd_summary(args):
    model = models.get_model(args.model, **model_config(args.model_arg))
    print(summary(model, args.input or default_input_shape(args.model, model_config(args.model_arg)),
                  args.batch_size))
    return 0


def parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,224,224, got {text!r}")
    return shape


def parser():
    p = argparse.ArgumentParser(prog="python -m tinycnn", description="tinycnn: train, evaluate and inspect CNNs")
    sub = p.add_subparsers(dest="command", required=True)
    names = sorted(models.MODELS)

    t = sub.add_parser("train", help="train a model on CIFAR-10")
    t.add_argument("--model", default="resnet20", choices=names, metavar="MODEL", help=", ".join(names))
    t.add_argument("--model-arg", action="append", metavar="KEY=VALUE", help="constructor argument (repeatable)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "muon"], default="sgd",
                   help="muon: Muon's steps for the convolutions' filters, SGD's for the rest")
    t.add_argument("--lr", type=float, default=0.1, help="learning rate (the peak rate of one-cycle)")
    t.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (Nesterov when > 0)")
    t.add_argument("--muon-lr", type=float, default=0.02, help="--optimizer muon: the filters' (peak) rate")
    t.add_argument("--muon-momentum", type=float, default=0.95, help="--optimizer muon: the filters' momentum")
    t.add_argument("--muon-ns-steps", type=int, default=5,
                   help="--optimizer muon: Newton-Schulz steps per update (airbench94_muon: 3)")
    t.add_argument("--muon-normalize", action="store_true",
                   help="--optimizer muon: hold each filter bank's norm at sqrt(C_out) (for convs followed by "
                        "batch norm, which ignores their scale; airbench94_muon)")
    t.add_argument("--bias-lr-scale", type=float, default=1.0, metavar="S",
                   help="batch-norm biases learn at S times the rate (airbench: 64)")
    t.add_argument("--weight-decay", type=float, default=5e-4, help="on weights, not on biases or batch norm (see --bias-lr-scale)")
    t.add_argument("--schedule", choices=["onecycle", "cosine", "step", "plateau", "none"], default="onecycle")
    t.add_argument("--warmup", type=float, default=0.25, help="one-cycle: fraction of steps warming up")
    t.add_argument("--div-factor", type=float, default=25.0, help="one-cycle: initial lr = lr / div-factor")
    t.add_argument("--final-div-factor", type=float, default=1e4, help="one-cycle: final lr = initial / this")
    t.add_argument("--lookahead", action="store_true",
                   help="Lookahead weight averaging with airbench's schedule (every 5 steps, growing at the end)")
    t.add_argument("--freeze-after", action="append", metavar="NAME=EPOCHS",
                   help="train the parameters named NAME (or under it) for EPOCHS epochs only (repeatable)")
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--crop-padding", type=int, default=4, help="random crop after padding by this much")
    t.add_argument("--padding-mode", choices=data.PADDING_MODES, default="zeros",
                   help="the random crop's border: black (zeros) or the image mirrored (reflect, as --tta "
                        "flip-translate shifts)")
    flips = t.add_mutually_exclusive_group()
    flips.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    flips.add_argument("--alternate-flip", action="store_true",
                       help="mirror each image on every other epoch instead of at random (airbench's alternating flip)")
    t.add_argument("--cutout", type=int, default=0, help="cutout square size (0: off)")
    t.add_argument("--small-crops", metavar="SIZE:EPOCHS[,...]", type=small_crops,
                   help="progressive resizing: train the first EPOCHS epochs on random SIZE x SIZE crops (cheaper "
                        "steps; the network must accept that size), the rest on full-size images; several "
                        "stages follow each other (24:2,28:3: 2 epochs on 24x24 crops, then 3 on 28x28)")
    t.add_argument("--tta", **TTA_ARGUMENT)
    t.add_argument("--val-fraction", type=float, default=0.1, help="training images held out for validation")
    t.add_argument("--subset", type=int, default=0, help="train on this many random training images only")
    t.add_argument("--early-stopping", type=int, default=0, metavar="PATIENCE", help="0: off")
    t.add_argument("--data-dir", help="where CIFAR-10 is (default: $TINYCNN_DATA, then ~/.cache/tinycnn)")
    t.add_argument("--out", default="runs/resnet20", help="run folder: history, curves, metrics, checkpoints")
    t.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    t.add_argument("--processes", type=int, default=1, metavar="P",
                   help="split each batch over P processes, one core each (CPU; batch norm then normalises each "
                        "process's rows on their own, unless --sync-bn: not the same computation as P=1)")
    t.add_argument("--sync-bn", action="store_true",
                   help="with --processes P > 1: batch norm normalises with the statistics of the whole batch, "
                        "exchanged between the processes at every layer (the same computation as P=1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its last.npz")
    t.add_argument("--no-progress", action="store_true",
                   help="no progress bars (training, and decoding or downloading the data)")
    t.set_defaults(run=cmd_train)

    e = sub.add_parser("eval", help="test loss, accuracy, per-class metrics and confusion matrix of a checkpoint")
    e.add_argument("checkpoint")
    e.add_argument("--data-dir")
    e.add_argument("--tta", **TTA_ARGUMENT)
    e.add_argument("--batch-size", type=int, default=500)
    e.add_argument("--out", help="where to write metrics.json and confusion.png (default: beside the checkpoint)")
    e.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    e.set_defaults(run=cmd_eval)

    pr = sub.add_parser("predict", help="top-k classes of images")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--top-k", type=int, default=3)
    pr.add_argument("--plot", help="a PNG for one image, or a folder for several: probability bar charts")
    pr.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    pr.set_defaults(run=cmd_predict)

    s = sub.add_parser("summary", help="layers, output shapes, parameters, MACs and memory of a model")
    s.add_argument("model", choices=names, metavar="MODEL", help=", ".join(names))
    s.add_argument("--model-arg", action="append", metavar="KEY=VALUE")
    s.add_argument("--input", type=parse_shape, help="C,H,W (default: what the model is built for)")
    s.add_argument("--batch-size", type=int, default=128, help="batch size for the memory estimate")
    s.set_defaults(run=cmd_summary)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)
