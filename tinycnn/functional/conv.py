"""2-D convolution (cross-correlation, as in every deep-learning library) by im2col and one GEMM.

Shapes: x (N, C_in, H, W), W (C_out, C_in/G, KH, KW), b (C_out,), y (N, C_out, OH, OW); G groups.
Definition, per group:

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, c, oh*SH + i*DH, ow*SW + j*DW]

With col = im2col(x) of shape (M, K) where M = N*OH*OW rows and K = KH*KW*C_in/G, and W_mat (K, C_out/G):

    forward:   Y  = col @ W_mat + b
    backward:  dW_mat = col.T @ dY        db = sum of dY over rows
               dcol   = dY @ W_mat.T      dx = col2im(dcol)

For stride 1 the input gradient is itself a convolution, of dY with the flipped, in/out-swapped kernel,
padded by DH*(KH-1) - PH: that avoids col2im's slice-adds (the slowest part of a naive im2col conv).
"""
from ..backend import get_array_module
from .im2col import col2im, im2col


def _weight_matrix(W, G):
    """(C_out, C_in/G, KH, KW) -> (G, KH*KW*C_in/G, C_out/G), rows ordered (i, j, c) like im2col's columns."""
    C_out, Cg, KH, KW = W.shape
    return W.reshape(G, C_out // G, Cg, KH, KW).transpose(0, 3, 4, 2, 1).reshape(G, KH * KW * Cg, C_out // G)


def _grouped(col, G):
    """col (N, OH, OW, KH, KW, C) -> (G, M, KH*KW*C/G): the columns each group's GEMM sees (a view for G=1)."""
    N, OH, OW, KH, KW, C = col.shape
    M = N * OH * OW
    return col.reshape(M, KH * KW, G, C // G).transpose(2, 0, 1, 3).reshape(G, M, KH * KW * (C // G))


def conv2d_forward(x, W, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y = conv2d(x, W) + b; returns (y, cache). y has shape (N, C_out, OH, OW), channels-last in memory."""
    N = x.shape[0]
    C_out, _, KH, KW = W.shape
    G = groups
    col = im2col(x.transpose(0, 2, 3, 1), KH, KW, *stride, *padding, *dilation)  # (N, OH, OW, KH, KW, C_in)
    _, OH, OW = col.shape[:3]
    col_g = _grouped(col, G)                                                     # (G, M, K)
    y = col_g @ _weight_matrix(W, G)                                             # Y = col @ W_mat: (G, M, C_out/G)
    y = y.transpose(1, 0, 2).reshape(-1, C_out)                                  # (M, C_out)
    if b is not None:
        y += b
    y = y.reshape(N, OH, OW, C_out).transpose(0, 3, 1, 2)                        # (N, C_out, OH, OW) view
    cache = (x.shape, col_g, W, stride, padding, dilation, groups)
    return y, cache


def conv2d_backward(dy, cache, need_dx=True, need_dW=True, need_db=True):
    """Gradients (dx, dW, db) of conv2d_forward; each is None when not asked for."""
    xp = get_array_module(dy)
    x_shape, col_g, W, stride, padding, dilation, G = cache
    C_out, Cg, KH, KW = W.shape
    dy2 = xp.ascontiguousarray(dy.transpose(0, 2, 3, 1)).reshape(-1, C_out)    # dY: (M, C_out)
    dy_g = dy2.reshape(-1, G, C_out // G).transpose(1, 0, 2)                    # (G, M, C_out/G)

    db = dy2.sum(axis=0) if need_db else None                                    # db = sum_rows dY
    dW = None
    if need_dW:
        dW_mat = col_g.transpose(0, 2, 1) @ dy_g                                 # dW_mat = col.T @ dY: (G, K, C_out/G)
        dW = dW_mat.reshape(G, KH, KW, Cg, C_out // G).transpose(0, 4, 3, 1, 2).reshape(W.shape)
    dx = conv2d_input_grad(dy, dy_g, x_shape, W, stride, padding, dilation, G) if need_dx else None
    return dx, dW, db


def conv2d_input_grad(dy, dy_g, x_shape, W, stride, padding, dilation, G):
    """dx for conv2d: a transposed convolution of dy. dy_g is dy as (G, M, C_out/G) rows."""
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    C_out, Cg, KH, KW = W.shape
    N, C_in, H, Wd = x_shape
    TPH, TPW = DH * (KH - 1) - PH, DW * (KW - 1) - PW
    if SH == SW == 1 and TPH >= 0 and TPW >= 0:
        # dx = conv2d(dy, W_t) with W_t[c, o, i, j] = W[o, c, KH-1-i, KW-1-j] (per group), padding TP.
        W_t = W.reshape(G, C_out // G, Cg, KH, KW).transpose(0, 2, 1, 3, 4).reshape(C_in, C_out // G, KH, KW)
        dx, _ = conv2d_forward(dy, W_t[:, :, ::-1, ::-1], None, (1, 1), (TPH, TPW), dilation, G)
        return dx
    # General stride: dcol = dY @ W_mat.T, then scatter the patches back with col2im.
    dcol = dy_g @ _weight_matrix(W, G).transpose(0, 2, 1)                        # (G, M, KH*KW*Cg)
    OH, OW = dy.shape[2:]
    dcol = dcol.reshape(G, N, OH, OW, KH, KW, Cg).transpose(1, 2, 3, 4, 5, 0, 6).reshape(N, OH, OW, KH, KW, C_in)
    dx = col2im(dcol, (N, H, Wd, C_in), SH, SW, PH, PW, DH, DW)                  # (N, H, W, C_in)
    return dx.transpose(0, 3, 1, 2)
