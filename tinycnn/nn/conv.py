"""Conv2d: a learnable 2-D convolution. The math lives in tinycnn.functional.conv."""
from ..functional import conv as F
from ..functional.im2col import conv_output_size, pair
from . import init
from .module import Module, Parameter, check_grad, check_input


class Conv2d(Module):
    """y = conv2d(x, weight) + bias, PyTorch's arguments and defaults.

    x (N, C_in, H, W) -> y (N, C_out, OH, OW) with OH = (H + 2*PH - DH*(KH-1) - 1) // SH + 1.
    weight (C_out, C_in/groups, KH, KW) and bias (C_out,) start as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) "
                             f"must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: only padding_mode='zeros' is implemented, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(shape))
        fan_in = init.fans(shape)[0]
        self.bias = Parameter(init.uniform((out_channels,), fan_in ** -0.5)) if bias else None

    def output_shape(self, x_shape):
        N, _, H, W = x_shape
        (KH, KW), (SH, SW), (PH, PW), (DH, DW) = self.kernel_size, self.stride, self.padding, self.dilation
        return (N, self.out_channels, conv_output_size(H, KH, SH, PH, DH), conv_output_size(W, KW, SW, PW, DW))

    def forward(self, x):
        check_input(self, x, (4,), f"(N, {self.in_channels}, H, W)")
        N, C, H, W = x.shape
        if C != self.in_channels:
            raise ValueError(f"{self._short()}: expected input (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        (KH, KW), (PH, PW), (DH, DW) = self.kernel_size, self.padding, self.dilation
        if H + 2 * PH < DH * (KH - 1) + 1 or W + 2 * PW < DW * (KW - 1) + 1:
            raise ValueError(f"{self._short()}: kernel {KH}x{KW} (dilation {DH}x{DW}) is larger than the padded "
                             f"input {H + 2 * PH}x{W + 2 * PW} (input {tuple(x.shape)})")
        b = None if self.bias is None else self.bias.data
        y, cache = F.conv2d_forward(x, self.weight.data, b, self.stride, self.padding, self.dilation, self.groups)
        self._cache = (cache, y.shape)
        return y

    skips_dx = True

    def backward(self, dy, need_dx=True):
        cache, y_shape = self._pop_cache()
        check_grad(self, dy, y_shape)
        has_bias = self.bias is not None and self.bias.requires_grad
        dx, dW, db = F.conv2d_backward(dy, cache, need_dx, need_dW=self.weight.requires_grad, need_db=has_bias)
        if dW is not None:
            self.weight.accumulate(dW)       # dW = col.T @ dY
        if db is not None:
            self.bias.accumulate(db)         # db = sum of dY over N, OH, OW
        return dx

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
