"""The models that are one straight pipe of layers: LeNet-5, AlexNet, and a small CNN.

Each is a Classifier whose forward/backward run ``features``, then ``classifier`` (the head).
"""
from .. import nn
from ..functional import conv_output_size
from .common import Classifier


class SequentialClassifier(Classifier):
    """features -> (pool) -> flatten -> classifier."""

    head = "classifier"

    def __init__(self, features, classifier, pool=None):
        self.features = features
        self.avgpool = pool
        self.flatten = nn.Flatten()
        self.classifier = classifier

    def parts(self):
        return [p for p in (self.features, self.avgpool, self.flatten, self.classifier) if p is not None]


def lenet5(in_channels=1, num_classes=10, input_size=32, modern=False, final_activation=None):
    """LeNet-5 (LeCun et al. 1998): two 5x5 convs with 6 and 16 maps, each followed by a 2x2 pool, then fully
    connected layers of 120 and 84 units.

    The classic net uses sigmoid activations and average pooling; ``modern=True`` uses ReLU and max pooling.
    A 28x28 input (MNIST) is padded by 2 in the first conv, as in Dive into Deep Learning, so the maps are 5x5
    at the end for both 28 and 32. ``num_classes=1`` with ``BCEWithLogitsLoss`` is a binary classifier;
    ``final_activation="sigmoid"`` appends the sigmoid for a probability output.
    """
    act, pool = (nn.ReLU, nn.MaxPool2d) if modern else (nn.Sigmoid, nn.AvgPool2d)
    padding = (32 - input_size) // 2
    size = conv_output_size(input_size, 5, 1, padding) // 2
    size = conv_output_size(size, 5) // 2
    features = nn.Sequential(nn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2, 2),
                             nn.Conv2d(6, 16, 5), act(), pool(2, 2))
    head = [nn.Linear(16 * size * size, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)]
    if final_activation == "sigmoid":
        head.append(nn.Sigmoid())
    return SequentialClassifier(features, nn.Sequential(*head))


def simple_cnn(in_channels=3, num_classes=10, input_size=32):
    """Two blocks of 3x3 conv, ReLU and 2x2 max pool (3->64, 64->32), then Linear(32*S*S, 64), dropout 0.5 and
    Linear(64, classes). S is the map size after the blocks: 6 for 32x32 images (32 -> 30 -> 15 -> 13 -> 6) and
    5 for 28x28 ones."""
    size = conv_output_size(conv_output_size(input_size, 3) // 2, 3) // 2
    features = nn.Sequential(nn.Conv2d(in_channels, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(64, 32, 3), nn.ReLU(), nn.MaxPool2d(2))
    head = nn.Sequential(nn.Linear(32 * size * size, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, num_classes))
    return SequentialClassifier(features, head)


def alexnet(num_classes=1000, dropout=0.5):
    """AlexNet as torchvision lays it out (Krizhevsky et al. 2012, one-GPU form): five convs, three max pools,
    an adaptive average pool to 6x6 and a 4096-4096-classes classifier with dropout."""
    features = nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
    classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
                               nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))
    return SequentialClassifier(features, classifier, nn.AdaptiveAvgPool2d(6))


def alexnet_cifar(num_classes=10, dropout=0.5):
    """AlexNet's shape scaled to 32x32 images: 3x3 convs, three 2x2 pools to 4x4, a 1024-1024 classifier."""
    features = nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(256 * 4 * 4, 1024), nn.ReLU(),
                               nn.Dropout(dropout), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, num_classes))
    return SequentialClassifier(features, classifier)
