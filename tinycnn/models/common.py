"""What the model zoo shares: the backbone/head split for transfer learning, and He initialisation."""
from .. import nn
from ..nn import init
from ..nn.containers import chain_backward


class Classifier(nn.Module):
    """A model = a backbone (everything but the head) + a head (the attribute named by ``head``).

    ``freeze_backbone()`` stops gradients and optimizer steps for every backbone parameter, and
    ``reset_head(num_classes)`` puts a fresh last Linear layer in place: the two steps of transfer learning.
    """

    head = "fc"

    def parts(self):
        """The layers that forward runs in order (backward in reverse); models with forks override both."""
        raise NotImplementedError

    def forward(self, x):
        for part in self.parts():
            x = part(x)
        return x

    skips_dx = True          # a subclass that overrides backward without need_dx sets it back to False

    def backward(self, dy, need_dx=True):
        return chain_backward(self.parts(), dy, need_dx)

    def head_parameters(self):
        return getattr(self, self.head).parameters()

    def backbone_parameters(self):
        head = {id(p) for p in self.head_parameters()}
        return [p for p in self.parameters() if id(p) not in head]

    def freeze_backbone(self, frozen=True):
        for p in self.backbone_parameters():
            p.requires_grad = not frozen
        return self

    def reset_head(self, num_classes):
        """Replace the last Linear layer of the head with a new one with ``num_classes`` outputs."""
        head = getattr(self, self.head)
        if isinstance(head, nn.Linear):
            setattr(self, self.head, nn.Linear(head.in_features, num_classes))
            return self
        name, last = [(n, m) for n, m in head.named_children() if isinstance(m, nn.Linear)][-1]
        setattr(head, name, nn.Linear(last.in_features, num_classes))
        return self


def he_init(model):
    """torchvision's initialisation of CNNs: convolutions from N(0, 2/fan_out) (He et al. 2015), zero biases,
    batch norm as the identity (gamma 1, beta 0). Linear layers keep PyTorch's default."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.weight.data = init.kaiming_normal(module.weight.shape, mode="fan_out")
            if module.bias is not None:
                module.bias.data = init.zeros(module.bias.shape)
    return model


def conv_bn(in_channels, out_channels, kernel_size, stride=1, padding=0, eps=1e-5):
    """Conv (no bias: batch norm's beta plays its part) -> BatchNorm -> ReLU (the last two fused)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False),
                         nn.BatchNormReLU2d(out_channels, eps=eps))
