"""im2col and col2im: turn a convolution into matrix products.

Notation: N batch, C channels, H, W input size, KH, KW kernel, SH, SW stride, PH, PW padding, DH, DW dilation,
OH, OW output size, K = KH*KW kernel offsets.

Memory layout. tinycnn's convolutions and pooling keep images *channels-major* in memory, (C, N, H, W), and
hand them out as the (N, C, H, W) view ``x.transpose(1, 0, 2, 3)``: the public shape is PyTorch's, but each
channel of the whole batch is one contiguous block. Then a kernel offset (i, j) selects, from every channel,
long runs of contiguous pixels, the column matrix is built by a few large copies, and the product
``W_mat (C_out, K*C) @ col (K*C, N*OH*OW)`` comes out in the same (C_out, N, OH, OW) layout, ready for the next
layer with no transpose.
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


def pad2d(x, PH, PW, value=0.0):
    """Pad the last two axes of x by PH and PW on each side with ``value`` (a copy; x itself if no pad)."""
    if PH == 0 and PW == 0:
        return x
    xp = get_array_module(x)
    *lead, H, W = x.shape
    out = xp.full((*lead, H + 2 * PH, W + 2 * PW), value, dtype=x.dtype)
    out[..., PH:PH + H, PW:PW + W] = x
    return out


def im2col(x_pad, KH, KW, OH, OW, SH=1, SW=1, DH=1, DW=1):
    """The column matrix of a padded channels-major batch.

    x_pad: (C, N, Hp, Wp) -> col: (KH*KW*C, N*OH*OW), where row (i, j, c) and column (n, oh, ow) hold
    ``x_pad[c, n, oh*SH + i*DH, ow*SW + j*DW]``: each column is one receptive field, so the convolution is
    ``W_mat @ col``. No per-pixel loop: the K row blocks ``x_pad[:, :, window(i*DH, SH, OH), window(j*DW, SW,
    OW)]`` are all views into x_pad, together one strided view (a step of DH rows for i, DW pixels for j), copied
    once; runs on NumPy and CuPy alike.
    """
    xp = get_array_module(x_pad)
    C, N = x_pad.shape[:2]
    sC, sN, sH, sW = x_pad.strides
    windows = xp.lib.stride_tricks.as_strided(x_pad, shape=(KH, KW, C, N, OH, OW),
                                              strides=(DH * sH, DW * sW, sC, sN, SH * sH, SW * sW))
    return xp.ascontiguousarray(windows).reshape(KH * KW * C, N * OH * OW)


def col2im(col, x_pad_shape, KH, KW, OH, OW, SH=1, SW=1, DH=1, DW=1, out=None):
    """The adjoint of im2col: scatter-add columns back into a padded batch (C, N, Hp, Wp).

    Where receptive fields overlap (KH > SH, or dilation) their values add up, which is exactly
    ``dL/dx = sum over the patches containing x of dL/dcol``. Adds into ``out`` when given.
    """
    xp = get_array_module(col)
    C, N = x_pad_shape[:2]
    x_pad = xp.zeros(x_pad_shape, dtype=col.dtype) if out is None else out
    col = col.reshape(KH, KW, C, N, OH, OW)
    for i in range(KH):
        for j in range(KW):
            x_pad[:, :, window(i * DH, SH, OH), window(j * DW, SW, OW)] += col[i, j]
    return x_pad
