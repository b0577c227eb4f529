"""ResNets (He et al. 2016, "Deep Residual Learning for Image Recognition"), their plain twins, and the
pre-activation variant (He et al. 2016, "Identity Mappings in Deep Residual Networks").

A residual block computes y = relu(F(x) + shortcut(x)); its backward sums the two paths' gradients,
dL/dx = dL/dF * dF/dx + dL/dshortcut, which for an identity shortcut is dL/dy (dF/dx + 1).
Layer names follow torchvision (``layer1.0.conv1.weight``, ``layer2.0.downsample.0.weight``). Where batch norm
is followed by a ReLU, the two are one fused layer, nn.BatchNormReLU2d (same parameters, one pass over the data);
a block's last batch norm, the add of the shortcut and the ReLU after it are one too, nn.BatchNormAddReLU2d.
"""
from .. import nn
from .common import Classifier, he_init


def _projection(in_channels, out_channels, stride):
    """The shortcut where shapes change: a strided 1x1 conv and batch norm (option B of the paper)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3x3 convs: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). ``plain=True`` drops the shortcut."""

    expansion = 1

    def __init__(self, in_channels, channels, stride=1, plain=False):
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNormReLU2d(channels)             # relu(bn1(.))
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNormAddReLU2d(channels)          # relu(bn2(.) + shortcut)
        self.plain = plain
        needs_projection = stride != 1 or in_channels != channels * self.expansion
        self.downsample = _projection(in_channels, channels * self.expansion, stride) \
            if needs_projection and not plain else None

    def body(self):
        """The layers of F, in order; the last one also adds the shortcut and applies the ReLU."""
        return [self.conv1, self.bn1, self.conv2, self.bn2]

    def forward(self, x):
        *branch, last = self.body()
        out = x
        for layer in branch:
            out = layer(out)
        shortcut = None if self.plain else x if self.downsample is None else self.downsample(x)
        return last(out, shortcut)                         # relu(bn(out) + shortcut)

    def backward(self, dy):
        *branch, last = self.body()
        dx, dsum = last.backward(dy)                       # dsum: the gradient of F(x) + shortcut(x)
        for layer in reversed(branch):
            dx = layer.backward(dx)
        if not self.plain:                                 # the fork: both paths' gradients add up
            dx = dx + (dsum if self.downsample is None else self.downsample.backward(dsum))
        return dx


class Bottleneck(BasicBlock):
    """1x1 (reduce) -> 3x3 (stride here, as torchvision's v1.5) -> 1x1 (expand x4), plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels, channels, stride=1, plain=False):
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNormReLU2d(channels)             # relu(bn1(.))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNormReLU2d(channels)             # relu(bn2(.))
        self.conv3 = nn.Conv2d(channels, channels * 4, 1, bias=False)
        self.bn3 = nn.BatchNormAddReLU2d(channels * 4)      # relu(bn3(.) + shortcut)
        self.plain = plain
        needs_projection = stride != 1 or in_channels != channels * 4
        self.downsample = _projection(in_channels, channels * 4, stride) if needs_projection and not plain else None

    def body(self):
        return [self.conv1, self.bn1, self.conv2, self.bn2, self.conv3, self.bn3]


class PreActBlock(nn.Module):
    """Pre-activation block: y = conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut, with nothing after the sum,
    so the identity path runs clean from input to output."""

    expansion = 1

    def __init__(self, in_channels, channels, stride=1, plain=False):
        self.bn1 = nn.BatchNormReLU2d(in_channels)          # relu(bn1(.))
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNormReLU2d(channels)             # relu(bn2(.))
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.plain = plain
        self.downsample = nn.Conv2d(in_channels, channels, 1, stride, bias=False) \
            if (stride != 1 or in_channels != channels) and not plain else None

    def forward(self, x):
        a = self.bn1(x)                                    # the projection sees the pre-activated input
        out = self.conv2(self.bn2(self.conv1(a)))
        if self.plain:
            return out
        return out + (x if self.downsample is None else self.downsample(a))

    def backward(self, dy):
        da = self.conv1.backward(self.bn2.backward(self.conv2.backward(dy)))
        if self.plain:
            return self.bn1.backward(da)
        if self.downsample is not None:
            return self.bn1.backward(da + self.downsample.backward(dy))
        return self.bn1.backward(da) + dy


class ResNet(Classifier):
    """stem -> layer1..layerK (stages of blocks, the first block of a stage may stride 2) -> global average
    pool -> fc. ``cifar=True`` gives the CIFAR stem (one 3x3 conv, no max pool) of He et al. section 4.2."""

    def __init__(self, block, layers, widths, num_classes=10, cifar=False, plain=False, in_channels=3):
        stem_width = widths[0] if cifar else 64
        if cifar:
            self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=False)
        preact = block is PreActBlock
        self.bn1 = nn.BatchNormReLU2d(stem_width) if not preact else None      # relu(bn1(.))
        self.maxpool = None if cifar else nn.MaxPool2d(3, 2, 1)
        channels = stem_width
        for i, (blocks, width) in enumerate(zip(layers, widths)):
            stage = []
            for j in range(blocks):
                stage.append(block(channels, width, 2 if (j == 0 and i > 0) else 1, plain))
                channels = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.num_stages = len(layers)
        self.final_bn = nn.BatchNormReLU2d(channels) if preact else None       # relu(final_bn(.))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels, num_classes)
        he_init(self)

    def parts(self):
        stages = [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]
        layers = [self.conv1, self.bn1, self.maxpool, *stages, self.final_bn, self.avgpool, self.flatten, self.fc]
        return [layer for layer in layers if layer is not None]      # None: left out by this variant


def resnet_cifar(depth, num_classes=10, plain=False, preact=False, width=16):
    """The CIFAR ResNets of He et al. section 4.2: 6n+2 layers, stages of n blocks at 16, 32, 64 channels."""
    if (depth - 2) % 6:
        raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
    n = (depth - 2) // 6
    return ResNet(PreActBlock if preact else BasicBlock, [n] * 3, [width, 2 * width, 4 * width], num_classes,
                  cifar=True, plain=plain)


def resnet20(num_classes=10, **kwargs):
    return resnet_cifar(20, num_classes, **kwargs)


def resnet32(num_classes=10, **kwargs):
    return resnet_cifar(32, num_classes, **kwargs)


def resnet44(num_classes=10, **kwargs):
    return resnet_cifar(44, num_classes, **kwargs)


def resnet56(num_classes=10, **kwargs):
    return resnet_cifar(56, num_classes, **kwargs)


def resnet110(num_classes=10, **kwargs):
    return resnet_cifar(110, num_classes, **kwargs)


IMAGENET_LAYERS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3]),
                   101: (Bottleneck, [3, 4, 23, 3]), 152: (Bottleneck, [3, 8, 36, 3])}


def resnet_imagenet(depth, num_classes=1000, plain=False):
    """torchvision's ResNet-18/34/50/101/152: 7x7 stem, max pool, stages at 64, 128, 256, 512 channels."""
    block, layers = IMAGENET_LAYERS[depth]
    return ResNet(block, layers, [64, 128, 256, 512], num_classes, cifar=False, plain=plain)


def resnet18(num_classes=1000, **kwargs):
    return resnet_imagenet(18, num_classes, **kwargs)


def resnet34(num_classes=1000, **kwargs):
    return resnet_imagenet(34, num_classes, **kwargs)


def resnet50(num_classes=1000, **kwargs):
    return resnet_imagenet(50, num_classes, **kwargs)


def resnet101(num_classes=1000, **kwargs):
    return resnet_imagenet(101, num_classes, **kwargs)


def resnet152(num_classes=1000, **kwargs):
    return resnet_imagenet(152, num_classes, **kwargs)
