"""GoogLeNet / Inception v1 (Szegedy et al. 2015), in torchvision's layout.

An Inception block runs four branches on the same input and joins their maps on the channel axis:
1x1 conv | 1x1 reduce -> 3x3 conv | 1x1 reduce -> "5x5" conv | 3x3 max pool -> 1x1 projection.
(torchvision, whose parameter count 6,624,904 we match, uses a 3x3 kernel in the third branch; pass
``paper_5x5=True`` for the paper's 5x5.) Nine blocks in three groups, global average pooling, dropout, fc.

In training two auxiliary classifiers on blocks 4a and 4d also predict the class; the loss is
``L_main + 0.3 * (L_aux1 + L_aux2)`` (GoogLeNetLoss) and their gradients flow back into the trunk where they
branched off. In eval mode they are skipped and the model returns the main logits only.
"""
from collections import OrderedDict

from .. import nn
from .common import Classifier, conv_bn, he_init

# in_channels, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection
BLOCKS = {"3a": (192, 64, 96, 128, 16, 32, 32), "3b": (256, 128, 128, 192, 32, 96, 64),
          "4a": (480, 192, 96, 208, 16, 48, 64), "4b": (512, 160, 112, 224, 24, 64, 64),
          "4c": (512, 128, 128, 256, 24, 64, 64), "4d": (512, 112, 144, 288, 32, 64, 64),
          "4e": (528, 256, 160, 320, 32, 128, 128), "5a": (832, 256, 160, 320, 32, 128, 128),
          "5b": (832, 384, 192, 384, 48, 128, 128)}


def basic_conv(in_channels, out_channels, kernel_size, stride=1, padding=0):
    """torchvision's BasicConv2d: conv without bias, batch norm with eps 0.001, ReLU."""
    return conv_bn(in_channels, out_channels, kernel_size, stride, padding, eps=1e-3)


class Inception(nn.Concat):
    """Four parallel branches joined on channels: out channels = c1 + c3 + c5 + pool_proj."""

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, paper_5x5=False):
        k = 5 if paper_5x5 else 3
        self.branch1 = basic_conv(in_channels, c1, 1)
        self.branch2 = nn.Sequential(basic_conv(in_channels, c3_reduce, 1), basic_conv(c3_reduce, c3, 3, padding=1))
        self.branch3 = nn.Sequential(basic_conv(in_channels, c5_reduce, 1), basic_conv(c5_reduce, c5, k, padding=k // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), basic_conv(in_channels, pool_proj, 1))
        self.dim = 1


class InceptionAux(nn.Sequential):
    """Auxiliary classifier: 4x4 average pool, 1x1 conv to 128, fc 1024, ReLU, dropout 0.7, fc classes."""

    def __init__(self, in_channels, num_classes):
        super().__init__(OrderedDict(avgpool=nn.AdaptiveAvgPool2d(4), conv=basic_conv(in_channels, 128, 1),
                                     flatten=nn.Flatten(), fc1=nn.Linear(128 * 16, 1024), relu=nn.ReLU(),
                                     dropout=nn.Dropout(0.7), fc2=nn.Linear(1024, num_classes)))


class GoogLeNet(Classifier):
    """``cifar=False``: the ImageNet stem (7x7/2 conv, pools) for 224x224 images. ``cifar=True``: a 3x3 stem
    for 32x32 images, keeping all nine Inception blocks. Pools are 3x3/2 with padding 1 (the paper's "same"
    padding; torchvision's ceil_mode gives the same sizes on these inputs)."""

    skips_dx = False                       # its backward (the auxiliary heads' gradients) always returns dx

    def __init__(self, num_classes=1000, aux_logits=True, cifar=False, paper_5x5=False, dropout=0.2):
        if cifar:
            stem = OrderedDict(conv1=basic_conv(3, 192, 3, padding=1))
        else:
            stem = OrderedDict(conv1=basic_conv(3, 64, 7, 2, 3), maxpool1=nn.MaxPool2d(3, 2, 1),
                               conv2=basic_conv(64, 64, 1), conv3=basic_conv(64, 192, 3, padding=1),
                               maxpool2=nn.MaxPool2d(3, 2, 1))
        block = {name: Inception(*BLOCKS[name], paper_5x5=paper_5x5) for name in BLOCKS}
        # the trunk in three parts, cut where the auxiliary classifiers branch off (after 4a and 4d)
        self.part1 = nn.Sequential(OrderedDict(**stem, inception3a=block["3a"], inception3b=block["3b"],
                                               maxpool3=nn.MaxPool2d(3, 2, 1), inception4a=block["4a"]))
        self.part2 = nn.Sequential(OrderedDict(inception4b=block["4b"], inception4c=block["4c"],
                                               inception4d=block["4d"]))
        self.part3 = nn.Sequential(OrderedDict(inception4e=block["4e"], maxpool4=nn.MaxPool2d(2, 2),
                                               inception5a=block["5a"], inception5b=block["5b"],
                                               avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
                                               dropout=nn.Dropout(dropout)))
        self.fc = nn.Linear(1024, num_classes)
        self.aux1 = InceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes) if aux_logits else None
        he_init(self)

    def head_parameters(self):
        aux = [p for m in (self.aux1, self.aux2) if m is not None for p in m.parameters()]
        return self.fc.parameters() + aux

    def forward(self, x):
        """Training (with aux_logits): (main, aux1, aux2) logits. Eval: main logits only."""
        self._with_aux = self.training and self.aux1 is not None
        h1 = self.part1(x)
        h2 = self.part2(h1)
        out = self.fc(self.part3(h2))
        if not self._with_aux:
            return out
        return out, self.aux1(h1), self.aux2(h2)

    def backward(self, dy):
        """dy: the main gradient, or (main, aux1, aux2) after a training forward (GoogLeNetLoss.backward())."""
        if self._with_aux:
            d_main, d_aux1, d_aux2 = dy
        else:
            d_main = dy
        dh2 = self.part3.backward(self.fc.backward(d_main))
        if self._with_aux:
            dh2 = dh2 + self.aux2.backward(d_aux2)      # h2 feeds both part3 and aux2: gradients add
        dh1 = self.part2.backward(dh2)
        if self._with_aux:
            dh1 = dh1 + self.aux1.backward(d_aux1)
        return self.part1.backward(dh1)


class GoogLeNetLoss(nn.Module):
    """L = L_main + aux_weight * (L_aux1 + L_aux2) over GoogLeNet's training outputs; on a single array (eval
    mode) just L_main. ``backward()`` returns what GoogLeNet.backward takes."""

    def __init__(self, aux_weight=0.3, **loss_kwargs):
        self.aux_weight = aux_weight
        self.main, self.aux1, self.aux2 = (nn.CrossEntropyLoss(**loss_kwargs) for _ in range(3))

    def forward(self, outputs, target):
        self._with_aux = isinstance(outputs, tuple)
        if not self._with_aux:
            return self.main(outputs, target)
        main, aux1, aux2 = outputs
        return self.main(main, target) + self.aux_weight * (self.aux1(aux1, target) + self.aux2(aux2, target))

    def backward(self, dloss=1.0):
        if not self._with_aux:
            return self.main.backward(dloss)
        w = self.aux_weight * dloss
        return self.main.backward(dloss), self.aux1.backward(w), self.aux2.backward(w)


def googlenet(num_classes=None, aux_logits=True, cifar=False, **kwargs):
    if num_classes is None:
        num_classes = 10 if cifar else 1000
    return GoogLeNet(num_classes, aux_logits, cifar, **kwargs)
