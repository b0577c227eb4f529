"""The model zoo: published parameter counts and shapes, forward and backward of every model, gradient checks
of the building blocks, training steps, GoogLeNet's auxiliary heads, transfer learning, summary."""
import numpy as np
import pytest

import tinycnn
from tinycnn import gradcheck, models, nn, optim
from tinycnn.cli import main as cli
from tinycnn.models.densenet import DenseLayer, dense_block
from tinycnn.models.googlenet import Inception
from tinycnn.models.resnet import BasicBlock, Bottleneck, PreActBlock
from tinycnn.summary import summary

PUBLISHED = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "vgg16": 138_357_544,
             "alexnet": 61_100_840, "densenet121": 7_978_856}


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_parameter_counts(name):
    assert models.get_model(name).num_parameters() == PUBLISHED[name]


def test_googlenet_count_without_auxiliary_heads():
    model = models.googlenet(aux_logits=False)
    assert model.num_parameters() == 6_624_904
    with_aux = models.googlenet()
    assert with_aux.num_parameters() > model.num_parameters()


def test_resnet20_size():
    n = models.resnet20().num_parameters()
    assert 0.26e6 < n < 0.28e6, n
    assert models.resnet110().num_parameters() > 1.6e6


def test_resnet50_trunk_ends_in_2048x7x7_and_summary_totals():
    s = summary(models.resnet50(), (3, 224, 224), batch_size=8)
    shapes = {row[0]: row[2] for row in s.rows}
    assert shapes["layer4.2.bn3"] == (2048, 7, 7)
    assert int(np.prod(shapes["layer4.2.bn3"])) == 100_352
    assert s.total_params == 25_557_032
    assert sum(row[3] for row in s.rows) == s.total_params
    assert 4.0e9 < s.total_macs < 4.2e9                 # the published 4.1 G multiply-accumulates
    assert s.activation_bytes > 0 and s.im2col_bytes > 0
    assert "layer4.2.conv3" in str(s)


CIFAR_MODELS = ["simple_cnn", "alexnet_cifar", "resnet20", "resnet32", "densenet_cifar"]
LARGE_MODELS = [("resnet18", 64), ("resnet34", 64), ("resnet50", 64), ("resnet101", 32), ("resnet152", 32),
                ("alexnet", 64), ("vgg11", 32), ("vgg16_bn", 32), ("densenet121", 64)]


def run_forward_backward(model, shape, num_classes):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    logits = model(x)
    assert logits.shape == (shape[0], num_classes)
    assert np.all(np.isfinite(logits))
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(logits, np.arange(shape[0]) % num_classes)
    dx = model.backward(loss_fn.backward())
    assert dx.shape == x.shape and np.all(np.isfinite(dx))
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing[:3]}"


@pytest.mark.parametrize("name", CIFAR_MODELS)
def test_cifar_models_forward_backward(name):
    run_forward_backward(models.get_model(name), (2, 3, 32, 32), 10)


@pytest.mark.parametrize("name, size", LARGE_MODELS)
def test_full_size_models_forward_backward_at_reduced_input(name, size):
    run_forward_backward(models.get_model(name, num_classes=7), (2, 3, size, size), 7)


@pytest.mark.parametrize("name, kwargs", [("simple_cnn", {}), ("alexnet_cifar", {}), ("resnet20", {}),
                                          ("resnet20", dict(preact=True)), ("densenet_cifar", {}),
                                          ("fastnet", dict(widths=(8, 8, 16))),
                                          ("fastnet", dict(widths=(8, 8, 16), activation="gelu")),
                                          ("googlenet", dict(cifar=True, num_classes=10))])
def test_training_backward_without_input_gradient(name, kwargs):
    """model.backward(dy, need_dx=False), as the training loop calls it: the same parameter gradients, None for
    dL/dx, and the layers before the first trainable one not run backward at all. In float64: without dx a
    convolution sums its weight gradient in another order (from x's column matrix instead of dY's), and the
    two must agree to rounding."""
    tinycnn.manual_seed(0)
    model = models.get_model(name, **kwargs).double()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32))
    if name == "fastnet":
        model.features.whiten.bias.requires_grad = False                # the whole first layer frozen
    loss_fn = nn.CrossEntropyLoss()
    if not model.skips_dx:                         # GoogLeNet's backward also takes its auxiliary heads' gradients
        assert name == "googlenet"
        return
    grads = []
    for need_dx in (True, False):
        for p in model.parameters():
            p.grad = None
        tinycnn.manual_seed(1)                                          # the same dropout masks both times
        loss_fn(model(x), np.array([3, 7]))
        dx = model.backward(loss_fn.backward(), need_dx=need_dx)
        assert (dx is None) == (not need_dx)
        grads.append({n: p.grad for n, p in model.named_parameters()})
    for n, p in model.named_parameters():
        if p.requires_grad:
            np.testing.assert_allclose(grads[1][n], grads[0][n], rtol=1e-10, atol=1e-12, err_msg=n)
        else:
            assert grads[1][n] is None, n
    if name == "fastnet":                           # the frozen whitening layer never ran backward
        assert model.features.whiten._cache is not None and model.features.group1.conv1._cache is None


def test_training_backward_with_a_frozen_backbone_runs_the_head_only():
    tinycnn.manual_seed(0)
    model = models.resnet20().freeze_backbone()
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)), np.array([1, 2]))
    assert model.backward(loss_fn.backward(), need_dx=False) is None
    assert model.fc.weight.grad is not None and model.layer3[-1].conv2._cache is not None   # not run backward
    assert all(p.grad is None for p in model.backbone_parameters())


@pytest.mark.parametrize("c_in, c_out", [(4, 6), (6, 4)])
def test_identity_init_passes_channels_through(c_in, c_out):
    """After identity_init a 3x3 'same' convolution copies input channel i to output channel i, for the
    min(C_in, C_out) first channels; the other filters keep their random values."""
    from tinycnn.models.fastnet import identity_init
    tinycnn.manual_seed(0)
    conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
    before = conv.weight.data.copy()
    identity_init(conv)
    x = np.random.default_rng(0).standard_normal((2, c_in, 5, 7)).astype(np.float32)
    n = min(c_in, c_out)
    np.testing.assert_array_equal(conv(x)[:, :n], x[:, :n])
    np.testing.assert_array_equal(conv.weight.data[n:], before[n:])
    model = models.fastnet(widths=(8, 16, 16), identity=True)
    for group in ("group1", "group2", "group3"):
        for conv in (getattr(model.features, group).conv1, getattr(model.features, group).conv2):
            w = conv.weight.data
            k = min(w.shape[:2])
            assert (w[:k].sum(axis=(2, 3)) == np.eye(k, w.shape[1])).all(), group
            assert w[:k, :, 1, 1].trace() == k


def test_fastnet_takes_small_crops_and_pools_32x32_maps_as_a_3x3_max_pool():
    """fastnet ends in a global max pool: on 32x32 images its final maps are 3x3, so it gives airbench's 3x3
    max pool's logits; it also runs forward and backward on the 24x24 crops of progressive resizing."""
    tinycnn.manual_seed(0)
    model = models.fastnet(widths=(8, 8, 16)).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    logits = model(x)
    model.features.pool = nn.MaxPool2d(3)
    np.testing.assert_array_equal(model(x), logits)
    model = models.fastnet(widths=(8, 8, 16))
    crops = x[:, :, 4:28, 4:28]
    assert model(crops).shape == (2, 10)
    assert model.backward(np.ones((2, 10), dtype=np.float32)).shape == crops.shape
    assert model.features.group1.conv1.weight.grad.shape == (8, 24, 3, 3)


def test_fastnet_logit_scale_multiplies_the_logits_and_its_gradient():
    """fastnet(logit_scale=s) gives s times the logits of the same network without it, and the head passes
    s * dy back (a gradient check of the whole head, linear layer and scale)."""
    from tinycnn.models.fastnet import Scale
    tinycnn.manual_seed(0)
    plain = models.fastnet(widths=(8, 8, 16))
    tinycnn.manual_seed(0)
    scaled = models.fastnet(widths=(8, 8, 16), logit_scale=1 / 9)
    assert isinstance(scaled.classifier.scale, Scale) and "classifier.linear.weight" in dict(scaled.named_parameters())
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(scaled.eval()(x), plain.eval()(x) / 9, rtol=1e-5, atol=1e-7)
    report = gradcheck(scaled.classifier, np.random.default_rng(1).standard_normal((3, 16)))
    assert report.ok, report


def test_fastnet_gelu_swaps_every_activation_and_keeps_the_parameters():
    tinycnn.manual_seed(0)
    relu = models.fastnet(widths=(8, 8, 16))
    gelu = models.fastnet(widths=(8, 8, 16), activation="gelu")
    assert sum(isinstance(m, nn.GELU) for m in gelu.modules()) == 1                       # after whitening
    assert sum(isinstance(m, nn.BatchNormGELU2d) for m in gelu.modules()) == 6            # with every norm
    assert not any(isinstance(m, (nn.ReLU, nn.BatchNormReLU2d)) for m in gelu.modules())
    assert list(gelu.state_dict()) == list(relu.state_dict())
    gelu.load_state_dict(relu.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    assert not np.allclose(gelu.eval()(x), relu.eval()(x))
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu', got 'tanh'"):
        models.fastnet(activation="tanh")


@pytest.mark.parametrize("kwargs", [dict(plain=True), dict(preact=True)], ids=["plain", "preact"])
def test_resnet_variants(kwargs):
    run_forward_backward(models.resnet20(**kwargs), (2, 3, 32, 32), 10)
    plain = models.resnet20(plain=True)
    assert all(m.downsample is None for m in plain.modules() if isinstance(m, BasicBlock))


def test_lenet_variants():
    run_forward_backward(models.lenet5(), (2, 1, 32, 32), 10)
    run_forward_backward(models.lenet5(input_size=28, modern=True), (2, 1, 28, 28), 10)
    binary = models.lenet5(in_channels=3, num_classes=1, final_activation="sigmoid")
    p = binary(np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32))
    assert p.shape == (4, 1) and np.all((p > 0) & (p < 1))
    assert isinstance(models.lenet5().features[1], nn.Sigmoid)


@pytest.mark.parametrize("block, shape", [
    (lambda: BasicBlock(3, 4, stride=2), (2, 3, 5, 5)),
    (lambda: BasicBlock(3, 3), (2, 3, 4, 4)),
    (lambda: BasicBlock(3, 3, plain=True), (2, 3, 4, 4)),
    (lambda: Bottleneck(4, 2, stride=2), (2, 4, 5, 5)),
    (lambda: PreActBlock(3, 4, stride=2), (2, 3, 5, 5)),
    (lambda: PreActBlock(3, 3), (2, 3, 4, 4)),
    (lambda: Inception(3, 2, 2, 3, 1, 2, 2), (2, 3, 4, 4)),
    (lambda: DenseLayer(3, 2, bn_size=2), (2, 3, 4, 4)),
    (lambda: dense_block(2, 3, 2, 2), (2, 3, 3, 3)),
], ids=["basic projection", "basic identity", "basic plain", "bottleneck", "preact projection", "preact identity",
        "inception", "dense layer", "dense block"])
def test_block_gradients(xp, rng, block, shape):
    report = gradcheck(block(), xp.asarray(rng.standard_normal(shape)))
    assert report.ok, report


def test_optimizer_steps_lower_the_loss():
    tinycnn.manual_seed(0)
    model = models.resnet20()
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 16)
    loss_fn, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(8):
        losses.append(loss_fn(model(x), y))
        opt.zero_grad()
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < 0.5 * losses[0], losses


def test_googlenet_heads_in_train_and_eval():
    model = models.googlenet(cifar=True)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    outputs = model.train()(x)
    assert isinstance(outputs, tuple) and [o.shape for o in outputs] == [(2, 10)] * 3
    loss_fn = models.GoogLeNetLoss()
    labels = np.array([1, 2])
    total = loss_fn(outputs, labels)
    separate = [nn.CrossEntropyLoss()(o, labels) for o in outputs]
    assert total == pytest.approx(separate[0] + 0.3 * (separate[1] + separate[2]))
    assert model.backward(loss_fn.backward()).shape == x.shape
    assert model.aux1.fc2.weight.grad is not None
    logits = model.eval()(x)
    assert not isinstance(logits, tuple) and logits.shape == (2, 10)
    assert model.backward(np.ones_like(logits)).shape == x.shape


def test_googlenet_auxiliary_gradients_reach_the_input(xp, rng):
    """GoogLeNet's own forward/backward, with its trunk parts swapped for small smooth layers (a full-size
    trunk has too many ReLU kinks for exact finite differences): a gradient check of all three outputs at once
    shows each head's gradient joining the trunk where the head branches off."""
    model = models.googlenet(cifar=True)
    model.part1 = nn.Sequential(nn.Conv2d(3, 512, 1), nn.Tanh())
    model.part2 = nn.Sequential(nn.Conv2d(512, 528, 1), nn.Tanh())
    model.part3 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(528, 1024), nn.Tanh())
    model.to(np.float64).train()

    def forward(x):                                  # (main, aux1, aux2) side by side: (N, 30)
        return xp.concatenate(model(x), axis=1)

    def backward(dy):
        return model.backward((dy[:, :10], dy[:, 10:20], dy[:, 20:]))

    report = gradcheck((forward, backward), xp.asarray(rng.standard_normal((2, 3, 4, 4))))
    assert report.ok, report


def test_freezing_the_backbone_and_a_new_head():
    model = models.resnet20()
    model.freeze_backbone().reset_head(5)
    backbone = {id(p): p.data.copy() for p in model.backbone_parameters()}
    head_before = model.fc.weight.data.copy()
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    loss_fn(model(x), np.array([0, 1, 2, 3]))
    model.backward(loss_fn.backward())
    opt.step()
    assert all(np.array_equal(p.data, backbone[id(p)]) for p in model.backbone_parameters())
    assert model.fc.weight.shape == (5, 64) and not np.array_equal(model.fc.weight.data, head_before)
    assert model.num_parameters(trainable_only=True) == 64 * 5 + 5


def test_torchvision_style_names():
    names = [n for n, _ in models.resnet18().named_parameters()]
    assert names[:4] == ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight"]
    assert "layer2.0.downsample.0.weight" in names and names[-1] == "fc.bias"
    assert "features.denseblock1.denselayer1.conv1.weight" in dict(models.densenet121().named_parameters())


def test_summary_command(capsys):
    assert cli(["summary", "resnet20", "--batch-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "layer3.2.conv2" in out and "272,474" in out and "batch 64" in out
