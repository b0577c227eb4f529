"""The command line: ``python -m tinycnn summary MODEL``."""
import argparse
import sys

from . import models
from .summary import summary

IMAGENET_MODELS = {"alexnet", "googlenet", "densenet121", "resnet18", "resnet34", "resnet50", "resnet101",
                   "resnet152"} | {n for n in models.MODELS if n.startswith("vgg")}


def default_input_shape(name):
    """(C, H, W) a model is built for: 224x224 RGB for the ImageNet sizes, 1x32x32 for LeNet, else CIFAR's."""
    if name in IMAGENET_MODELS:
        return (3, 224, 224)
    return (1, 32, 32) if name == "lenet5" else (3, 32, 32)


def parse_shape(text):
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,224,224, got {text!r}")
    return shape


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinycnn", description="tinycnn command line")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("summary", help="layers, output shapes, parameters, MACs and memory of a model")
    p.add_argument("model", choices=sorted(models.MODELS), metavar="MODEL", help=", ".join(sorted(models.MODELS)))
    p.add_argument("--input", type=parse_shape, help="C,H,W (default: what the model is built for)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size for the memory estimate")
    args = parser.parse_args(argv)
    if args.command == "summary":
        model = models.get_model(args.model)
        print(summary(model, args.input or default_input_shape(args.model), args.batch_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
