"""Batch normalization layers. The math lives in tinycnn.functional.norm."""
from .. import backend
from ..functional import norm as F
from . import init
from .module import Module, Parameter, check_grad, check_input


class _BatchNorm(Module):
    """Per-channel normalisation with learnable ``weight`` (gamma) and ``bias`` (beta), and running statistics
    (``running_mean``, ``running_var``: unbiased) used in eval mode. PyTorch's defaults: eps 1e-5, momentum 0.1;
    momentum=None gives the cumulative average over all batches seen.

    ``all_gather``: set by DataParallel(sync_batch_norm=True) while a step runs (tinycnn/data_parallel.py), so
    that training normalises with the statistics of the whole batch, not of this process's rows alone."""

    buffer_names = ("running_mean", "running_var", "num_batches_tracked")
    activation = None              # "relu" in BatchNormReLU2d, "gelu" in BatchNormGELU2d
    all_gather = None
    _ranks = ()
    _expected = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        if not track_running_stats:
            raise ValueError(f"{type(self).__name__}: track_running_stats=False is not implemented")
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.weight = Parameter(init.ones((num_features,))) if affine else None
        self.bias = Parameter(init.zeros((num_features,))) if affine else None
        self.running_mean = init.zeros((num_features,))
        self.running_var = init.ones((num_features,))
        self.num_batches_tracked = backend.xp_of().zeros((), dtype="int64")  # a buffer, as in PyTorch

    def forward(self, x):
        return self._normalize(x)

    def backward(self, dy):
        return self._gradients(dy)[0]

    def _normalize(self, x, residual=None):
        check_input(self, x, self._ranks, self._expected.format(C=self.num_features))
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self._short()}: expected input {self._expected.format(C=self.num_features)}, "
                             f"got {tuple(x.shape)}")
        if self.training and x.size // x.shape[1] < 2:
            raise ValueError(f"{self._short()}: training needs more than 1 value per channel, got input "
                             f"{tuple(x.shape)}")
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked += 1
            if momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked)
        gamma = self.weight.data if self.affine else None
        beta = self.bias.data if self.affine else None
        y, cache = F.batch_norm_forward(x, gamma, beta, self.running_mean, self.running_var, self.training,
                                        momentum, self.eps, self.activation, self.all_gather, residual)
        self._cache, self._shape = cache, x.shape
        return y

    def _gradients(self, dy):
        """(dx, dresidual)."""
        cache = self._pop_cache()
        check_grad(self, dy, self._shape)
        dx, dgamma, dbeta, dresidual = F.batch_norm_backward(dy, cache)
        if self.affine:
            self.weight.accumulate(dgamma)   # dgamma = sum(dy * xhat)
            self.bias.accumulate(dbeta)      # dbeta = sum(dy)
        return dx, dresidual

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs."""
    _ranks = (2, 3)
    _expected = "(N, {C}) or (N, {C}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs: statistics per channel over N, H and W."""
    _ranks = (4,)
    _expected = "(N, {C}, H, W)"


class BatchNormReLU2d(BatchNorm2d):
    """BatchNorm2d followed by ReLU, fused: y = max(gamma * xhat + beta, 0) computed, and differentiated, in one
    pass over the data instead of two (PyTorch has it as torch.ao.nn.intrinsic.BNReLU2d). Its parameters and
    buffers are BatchNorm2d's, so its state dict is that of a BatchNorm2d with a ReLU after it."""
    activation = "relu"


class BatchNormGELU2d(BatchNorm2d):
    """BatchNorm2d followed by GELU(approximate="tanh"), fused like BatchNormReLU2d: each block of channels is
    normalised and passed through the GELU while it is in the cache, which also keeps the GELU's slope there for
    backward (in eval mode too, where a gradient check may still call backward). Its state dict is that of a
    BatchNorm2d with a GELU after it."""
    activation = "gelu"


class BatchNormAddReLU2d(BatchNorm2d):
    """The end of a residual block, fused: y = relu(bn(x) + shortcut). ``forward(x, shortcut)`` normalises x,
    adds the shortcut and applies the ReLU in one pass over each block of channels, where the unfused layers
    (BatchNorm2d, the add, ReLU) pass over the data three times; shortcut=None gives BatchNormReLU2d's relu(bn(x))
    (a plain net's block). ``backward(dy)`` returns (dx, dshortcut): with g = dy where y > 0, else 0, the gradient
    of the sum bn(x) + shortcut, dshortcut = g and dx is batch norm's backward of g (None for dshortcut when
    there was no shortcut). cuDNN offers the same fusion (CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION). Its state dict
    is a BatchNorm2d's, so a block's is that of PyTorch's bn2 -> add -> relu."""
    activation = "relu"

    def forward(self, x, shortcut=None):
        if shortcut is not None and tuple(shortcut.shape) != tuple(x.shape):
            raise ValueError(f"{self._short()}: the shortcut must have the input's shape {tuple(x.shape)}, got "
                             f"{tuple(shortcut.shape)}")
        return self._normalize(x, shortcut)

    def backward(self, dy):
        return self._gradients(dy)
