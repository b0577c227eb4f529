"""im2col and col2im: turn a convolution into one matrix product.

Notation: N batch, C channels, H, W input size, KH, KW kernel, SH, SW stride, PH, PW padding, DH, DW dilation,
OH, OW output size.

tinycnn's convolutions keep images *channels-last* in memory, (N, H, W, C), like PyTorch's ``channels_last``
format: then every patch row of the column matrix is KH*KW runs of C contiguous numbers, and the GEMM's result
(N*OH*OW, C_out) already is the next layer's input in that layout, with no transpose copy. The public shape is
still (N, C, H, W): ``x.transpose(0, 3, 1, 2)`` is a view.
"""
from ..backend import get_array_module


def pair(value, name="value"):
    """An int or a pair of ints -> a pair of ints: ``3 -> (3, 3)``."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return value


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """The output size of a convolution or pooling window along one axis.

    ``OH = (H + 2*PH - DH*(KH-1) - 1) // SH + 1``: the dilated kernel spans ``DH*(KH-1) + 1`` pixels and
    slides over the padded input in steps of SH, dropping a last partial step. This is the only place the
    formula is written.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def window(offset, stride, out_size):
    """The slice of input positions that kernel offset ``offset`` meets as the window slides:
    ``offset, offset + stride, ..., offset + stride*(out_size-1)``."""
    return slice(offset, offset + stride * (out_size - 1) + 1, stride)


def pad2d(x, PH, PW, value=0.0, axes=(1, 2)):
    """Pad the two spatial ``axes`` of x by PH and PW on each side with ``value`` (a copy; x itself if no pad)."""
    if PH == 0 and PW == 0:
        return x
    xp = get_array_module(x)
    shape = list(x.shape)
    shape[axes[0]] += 2 * PH
    shape[axes[1]] += 2 * PW
    out = xp.full(shape, value, dtype=x.dtype)
    inner = [slice(None)] * x.ndim
    inner[axes[0]] = slice(PH, PH + x.shape[axes[0]])
    inner[axes[1]] = slice(PW, PW + x.shape[axes[1]])
    out[tuple(inner)] = x
    return out


def im2col(x, KH, KW, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1):
    """Patches of a channels-last image batch.

    x: (N, H, W, C) -> col: (N, OH, OW, KH, KW, C), where
    ``col[n, oh, ow, i, j, c] = x_pad[n, oh*SH + i*DH, ow*SW + j*DW, c]``.
    Reshaped to (N*OH*OW, KH*KW*C), each row is one receptive field. Built with KH*KW strided slice copies
    (no per-pixel Python loop), which run unchanged on NumPy and CuPy.
    """
    xp = get_array_module(x)
    N, H, W, C = x.shape
    OH, OW = conv_output_size(H, KH, SH, PH, DH), conv_output_size(W, KW, SW, PW, DW)
    x_pad = pad2d(x, PH, PW)
    col = xp.empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    for i in range(KH):
        for j in range(KW):
            col[:, :, :, i, j, :] = x_pad[:, window(i * DH, SH, OH), window(j * DW, SW, OW), :]
    return col


def col2im(col, x_shape, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1):
    """The adjoint of im2col: scatter-add patches back into an image.

    col: (N, OH, OW, KH, KW, C) -> (N, H, W, C) with x_shape = (N, H, W, C). Where patches overlap
    (KH > SH or dilation) their values are summed, which is exactly ``dL/dx = sum over patches of dL/dcol``.
    """
    xp = get_array_module(col)
    N, H, W, C = x_shape
    _, OH, OW, KH, KW, _ = col.shape
    x_pad = xp.zeros((N, H + 2 * PH, W + 2 * PW, C), dtype=col.dtype)
    for i in range(KH):
        for j in range(KW):
            x_pad[:, window(i * DH, SH, OH), window(j * DW, SW, OW), :] += col[:, :, :, i, j, :]
    return x_pad[:, PH:PH + H, PW:PW + W, :]
