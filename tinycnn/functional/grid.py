"""The grid that stride-1 convolutions run on (tinycnn/functional/conv.py's shift path), and its copies.

Each channel's images lie one after another on one row (layout): each image as Hp grid rows of W positions, with
zero rows for its padding above and below (shared by neighbouring images, period) and no padding columns. Kernel
offset (i, j) is then a plain shift by i*DH*W + d_j along that row, d_j = j*DW - PW, so a column matrix is made of
contiguous slices of it (shift_columns, row_columns). Where a window's column ow + d_j lies in the padding, left or
right of x, that shift lands on the last or first columns of the neighbouring grid row instead; those entries are
zeroed after the copy (zero_wrapped), a few columns per row.

A chunk's arrays keep MARGIN zeros either side of every row (with_margins), so that a kernel column's share can be
read from up to MARGIN positions along the row without edge cases (add_column_taps).

Until the twenty-sixth session the grid had padding columns too (W + 1 positions per row for a 3x3 kernel with
padding 1), so every product and copy covered one position in W + 1 that held no output. Without them, in-process
against that grid: forward 0.85-0.93 of the time on OpenBLAS's AVX2 kernels, 0.82-1.01 on its AVX-512 ones
(16->16 at 32x32 the least gain); backward 0.88-1.00 and 0.89-1.02; the ResNet-20 step 0.92-0.94 and 0.94-0.99
(benchmarks/RESULTS.md, "Twenty-sixth session").
"""
import numpy as np

from .. import parallel
from ..backend import get_array_module

MARGIN = 16   # positions either side of a chunk's rows (with_margins): add_column_taps's farthest reach


def period(size, kernel, padding, dilation):
    """The period of the stride-1 grid along one axis: P zeros, the `size` pixels, then only the zeros that the
    next period's leading P zeros do not already supply: the bottom padding of one image is the top padding of
    the next, and the output still fits. (Across a row, the grid before the twenty-sixth session, which
    conv._shift_pays's measured rule still counts, shared the right padding of one row as the next one's left.)"""
    return size + padding + max(0, padding - dilation * (kernel - 1))


def layout(H, W, OW, KH, KW, PH, PW, DH, DW):
    """The stride-1 shift path's grid: each image as Hp rows (period) of Wt = W positions (more only where
    the padding makes the output wider than x), x at rows PH..PH+H-1, columns 0..W-1, zeros elsewhere; one row
    per channel holds the images one after another, after `front` zeros and followed by `back`:

        x[n, c, h, w] = src[c, front + n*Hp*Wt + (PH + h)*Wt + w]

    d_j = j*DW - PW (the offsets) is how far kernel column j reaches along a row: output column ow reads x
    column ow + d_j. `front` is the first window's reach to the left, `back` the last one's below and right.
    Returns Hp, Wt, offsets, front, back."""
    Hp, Wt = period(H, KH, PH, DH), max(W, OW)
    offsets = [j * DW - PW for j in range(KW)]
    return Hp, Wt, offsets, PW, (KH - 1) * DH * Wt + max(0, offsets[-1])


def to_grid(a, Hp, Wt, top, front, back):
    """a (C, N, h, w) laid on a grid (layout): one row per channel, `front` zeros, then N images of Hp rows of Wt
    positions each with a at rows top..top+h-1, columns 0..w-1, then `back` zeros. Writing only the zeros
    around a, rather than zeroing the whole array before the copy, took 0.80-0.87 of the time at 32x32 and
    16x16 on one core (1.07 at 8x8)."""
    xp = get_array_module(a)
    C, N, h, w = a.shape
    grid = xp.empty((C, front + N * Hp * Wt + back), dtype=a.dtype)
    grid[:, :front] = 0
    grid[:, front + N * Hp * Wt:] = 0
    images = grid[:, front:front + N * Hp * Wt].reshape(C, N, Hp, Wt)
    images[:, :, :top] = 0
    images[:, :, top + h:] = 0
    images[:, :, top:top + h, w:] = 0
    parallel.copy(images[:, :, top:top + h, :w], a)
    return grid


def shift_columns(src, start, stop, KH, KW, step_i, step_j):
    """Columns start..stop of the stride-1 column matrix of src (C, length), rows (i, j, c):

        col[(i, j, c), q] = src[c, start + q + i*step_i + j*step_j]     (shift_k = i*step_i + j*step_j)

    The K row blocks are all views into the same rows of src, so the whole matrix is one strided view of src
    (strides step_i, step_j, a row, a pixel), copied once: one NumPy call per chunk rather than K, which matters
    when two threads take turns holding Python's lock between calls."""
    xp = get_array_module(src)
    C, m, item = src.shape[0], stop - start, src.itemsize
    view = xp.lib.stride_tricks.as_strided(src[:, start:], shape=(KH, KW, C, m),
                                           strides=(step_i * item, step_j * item, src.strides[0], item))
    return xp.ascontiguousarray(view).reshape(KH * KW * C, m)


def row_columns(src, start, images, image, rows, taps, step):
    """A column matrix on the grid with one shift per row block: rows (i, c), columns (n, r) for images
    n < `images` (each `image` columns apart, from column `start`) and `rows` grid columns of each:

        col[(i, c), (n, r)] = src[c, start + n*image + i*step + r]         for i < taps

    The forward's kernel rows (step = DH*Wt, whole grid rows), and in backward dY's kernel rows and x's kernel
    columns (step = DW). One strided view of src, copied once (see shift_columns), into rows with margins
    (with_margins)."""
    xp = get_array_module(src)
    C, item, m = src.shape[0], src.itemsize, images * rows
    view = xp.lib.stride_tricks.as_strided(src[:, start:], shape=(taps, C, images, rows),
                                           strides=(step * item, src.strides[0], image * item, item))
    col = with_margins(xp, (taps * C, m), src.dtype)[:, MARGIN:MARGIN + m]
    col.reshape(taps, C, images, rows)[...] = view
    return col


def with_margins(xp, shape, dtype):
    """An array for a chunk's m = shape[-1] positions, at [..., MARGIN:MARGIN + m], with zeros for MARGIN
    positions on either side of every row: a read up to MARGIN positions past either end of a row reads zeros
    (add_column_taps). The rows are also never a multiple of 4 KiB long: at such strides OpenBLAS's products
    ran 1.26-1.33x slower (benchmarks/tight_grid.py --pad 0)."""
    width = shape[-1] + 2 * MARGIN
    width += MARGIN * (width * np.dtype(dtype).itemsize % 4096 == 0)
    a = xp.empty(shape[:-1] + (width,), dtype=dtype)
    a[..., :MARGIN] = 0
    a[..., MARGIN + shape[-1]:] = 0
    return a


def zero_wrapped(a, row, offsets):
    """Zero a[..., j, :, t] wherever t + offsets[j] is off t's own row (rows of `row` positions, a's last axis
    a whole number of them). On a grid without padding columns, a window's column ow + d past either edge of x
    is padding, but a flat shift by d lands it on the neighbouring row's first or last columns instead: those
    are the entries zeroed."""
    for j, d in enumerate(offsets):
        by_row = a[..., j, :, :].reshape(a.shape[:-3] + (a.shape[-2], -1, row))      # a view: splits the last axis
        k = min(abs(d), row)
        if d > 0:
            by_row[..., row - k:] = 0
        elif d < 0:
            by_row[..., :k] = 0


def column_taps_weight(W, G):
    """(C_out, C_in/G, KH, KW) -> (G, KW*C_out/G, KH*C_in/G): W[o, c, i, j] at row (j, o), column (i, c)."""
    C_out, Cg, KH, KW = W.shape
    return W.reshape(G, C_out // G, Cg, KH, KW).transpose(0, 4, 1, 3, 2).reshape(G, KW * (C_out // G), KH * Cg)


def add_column_taps(prods, n, row, offsets, out=None):
    """y[g, o, t] = sum_j P[g, j, o, t + offsets[j]] over the j for which t + offsets[j] is on t's row (rows of
    `row` positions); prods (G, KW, C/G, ...) from with_margins holds P (G, KW, C/G, n), returns y (G, C/G, n).

    P[:, j] is kernel column j's share of every output, computed at the output's own grid position t; the output
    at t takes it from t + offsets[j], that column's position. Where that is off t's row, the window reads x's
    padding there: those entries of P are zeroed first, and the margins are zeros past either end."""
    xp = get_array_module(prods)
    zero_wrapped(prods[..., MARGIN:MARGIN + n], row, [-d for d in offsets])

    def share(j):                                                       # P[:, j, :, t + offsets[j]] for t < n
        return prods[:, j, :, MARGIN + offsets[j]:MARGIN + offsets[j] + n]
    if len(offsets) == 1:
        if out is None:
            return share(0)
        out[...] = share(0)
        return out
    y = xp.add(share(0), share(1), out=out)
    for j in range(2, len(offsets)):
        y += share(j)
    return y
