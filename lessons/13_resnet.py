"""Lesson 13: residual connections and the gradients they carry.

A residual block outputs y = F(x) + x, so dL/dx = dL/dy (dF/dx + 1): however small dF/dx gets, the "+ 1"
carries the gradient back (He et al. 2016). At initialisation the per-layer gradient norms of a deep plain net
drift by orders of magnitude from the output to the input (they vanish without batch norm; with it they grow
towards the input instead, as He et al. and later Yang et al. 2019 observed), while a ResNet's stay close
together. ``--full`` runs the degradation experiment on CIFAR-10: plain and residual nets of growing depth,
training error per epoch.
"""
import argparse
import os

import numpy as np

import tinycnn
from tinycnn import models, nn, viz

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--full", action="store_true", help="the degradation experiment on CIFAR-10 (hours on a CPU)")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
args = parser.parse_args()

# The identity path, on one block: dL/dx = dL/dy * (dF/dx + 1) with F(x) = 0.01 * x (a nearly dead branch).
block = nn.Residual(nn.Sequential(nn.Linear(1, 1, bias=False)))
block.body[0].weight.data[...] = 0.01
block(np.array([[2.0]], dtype=np.float32))
print("residual block y = 0.01 x + x: dL/dx for dL/dy = 1 is", block.backward(np.array([[1.0]], dtype=np.float32))[0, 0])

depth = 56
rng = np.random.default_rng(0)
x = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
y = rng.integers(0, 10, 8)


class AddReLU(nn.Module):
    """What a block's last layer, nn.BatchNormAddReLU2d, computes without the batch norm: relu(x + shortcut)."""

    def forward(self, x, shortcut=None):
        y = np.maximum(x if shortcut is None else x + shortcut, 0)
        self._cache = (y, shortcut is not None)
        return y

    def backward(self, dy):
        y, has_shortcut = self._pop_cache()
        dsum = dy * (y > 0)                             # the gradient of x + shortcut, which both receive
        return dsum, (dsum if has_shortcut else None)


def without_batch_norm(net):
    """Swap every BatchNorm2d for Identity (a fused BatchNormReLU2d for its ReLU, a block's BatchNormAddReLU2d for
    AddReLU) and give every conv PyTorch's default initialisation (which shrinks the signal at each ReLU layer):
    the setting in which deep plain nets lose their gradients."""
    for module in net.modules():
        for name, child in list(vars(module).items()):
            if isinstance(child, nn.BatchNormAddReLU2d):
                setattr(module, name, AddReLU())
            elif isinstance(child, nn.BatchNormReLU2d):
                setattr(module, name, nn.ReLU())
            elif isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
            elif isinstance(child, nn.Conv2d):
                child.weight.data = nn.init.kaiming_uniform(child.weight.shape)
    return net


norms = {}
for name, make in [("plain, no BN", lambda: without_batch_norm(models.resnet_cifar(depth, plain=True))),
                   ("ResNet, no BN", lambda: without_batch_norm(models.resnet_cifar(depth))),
                   ("plain, BN", lambda: models.resnet_cifar(depth, plain=True)),
                   ("ResNet, BN", lambda: models.resnet_cifar(depth))]:
    tinycnn.manual_seed(0)
    net = make()
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(net(x), y)
    net.backward(loss_fn.backward())
    grads = [max(float(np.linalg.norm(p.grad.astype(np.float64))), 1e-300) for n, p in net.named_parameters()
             if p.data.ndim == 4 and "downsample" not in n]
    norms[f"{name} ({depth} layers)"] = grads
    print(f"{name:>14}: |dL/dW| first conv {grads[0]:.1e}, last conv {grads[-1]:.1e}, "
          f"largest / smallest over the layers {max(grads) / min(grads):.1e}")
plain, res, plain_bn, res_bn = norms.values()
print(f"without batch norm, the plain net's signal shrinks at every layer: its gradients are "
      f"{min(res) / max(plain):.0e} times smaller than the ResNet's, whose identity paths carry them")
print(f"with batch norm, the plain net's gradients spread over {max(plain_bn) / min(plain_bn):.0e}x from layer to "
      f"layer, the ResNet's over {max(res_bn) / min(res_bn):.0e}x")
assert max(plain) < 1e-10 * min(res)
assert max(plain_bn) / min(plain_bn) > 10 * max(res_bn) / min(res_bn)

viz.plot_series(norms, os.path.join(args.out, "13_gradient_norms.png"), xlabel="conv layer (input to output)",
                ylabel="|dL/dW|", log=True, title=f"gradient norms at initialisation, depth {depth}")
print(f"figure: {args.out}/13_gradient_norms.png")

if args.full:
    from tinycnn import data, optim
    from tinycnn.train import Trainer
    cifar = data.load_cifar10()
    mean, std = data.channel_stats(cifar.x_train)
    loader = data.DataLoader(cifar.x_train, cifar.y_train, 128, shuffle=True, augment=data.Augment(4), mean=mean, std=std)
    curves = {}
    for d in (20, 56):
        for plain in (True, False):
            tinycnn.manual_seed(0)
            net = models.resnet_cifar(d, plain=plain)
            opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            history = Trainer(net, nn.CrossEntropyLoss(), opt, progress=True).fit(loader, 10)
            curves[f"{'plain' if plain else 'ResNet'}-{d}"] = [1 - h["train_acc"] for h in history]
    viz.plot_series(curves, os.path.join(args.out, "13_degradation.png"), xlabel="epoch", ylabel="training error")
