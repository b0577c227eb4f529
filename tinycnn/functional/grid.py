"""The column matrices of stride-1 convolutions (tinycnn/functional/conv.py's shift path) and of a strided
convolution's input gradient (its phases), read straight from the activations, and the sums that take a kernel
column's share along a row.

A chunk of images is computed at the positions (n, r, w) of R rows of Wt positions per image: the output's rows
(Wt = OW; wider only where the output is narrower than x, so that the rows are x's). A column matrix holds, for
each kernel tap (s, d), a's values shifted by s rows and d columns (shifted_rows):

    col[(k, c), (n, r, w)] = a[c, n, r + s_k, w + d_k]         (zero where that is off the image: the padding)

Where Wt equals a's width, each tap's rows of an image are one contiguous stretch of a, copied at once; a shift d
along it lands w + d past the row's edge on the neighbouring row instead, and those few entries per row are zeroed
after the copy. So no padded copy of x or dY is made: until the twenty-seventh session the path copied both onto a
grid with zero rows for the padding first (benchmarks/RESULTS.md, "Twenty-seventh session").

A chunk's arrays keep MARGIN zeros either side of every row (with_margins), so that a kernel column's share can be
read from up to MARGIN positions along the row without edge cases (add_column_taps).
"""
import numpy as np

from ..backend import get_array_module

MARGIN = 16   # positions either side of a chunk's rows (with_margins): add_column_taps's farthest reach


def shifted_rows(a, n0, n1, R, Wt, taps):
    """The column matrix of images n0..n1 of a (C, N, Ha, Wa), taps = [(s, d), ...]: rows (k, c), columns
    (n, r, w) for r < R, w < Wt, in an array with margins (with_margins):

        col[(k, c), (n, r, w)] = a[c, n0 + n, r + s_k, w + d_k],   zero where that row or column is off a

    The forward's kernel rows (taps (i*DH - PH, 0)), in backward dY's kernel rows and x's kernel columns, and the
    shifts of dY that the phases of a strided convolution's input gradient read."""
    xp = get_array_module(a)
    C, _, Ha, Wa = a.shape
    n, m = n1 - n0, (n1 - n0) * R * Wt
    col = with_margins(xp, (len(taps) * C, m), a.dtype)[:, MARGIN:MARGIN + m]
    images = a[:, n0:n1].reshape(C, n, Ha * Wa) if Wt == Wa else None      # a view: (h, w) contiguous in a
    for box, (s, d) in zip(col.reshape(len(taps), C, n, R, Wt), taps):
        (r0, r1), (w0, w1) = _inside(s, R, Ha), _inside(d, Wt, Wa)
        if r0 > 0:
            box[:, :, :r0] = 0
        if r1 < R:
            box[:, :, r1:] = 0
        if r0 == r1:
            continue
        rows = box[:, :, r0:r1]
        if Wt != Wa:                    # rows of different widths: the part of each row that is in a
            rows[..., w0:w1] = a[:, n0:n1, r0 + s:r1 + s, w0 + d:w1 + d]
        elif d == 0:
            rows[...] = a[:, n0:n1, r0 + s:r1 + s]
        else:                           # rows r0..r1 of an image: one stretch of a, shifted by (r0 + s)*Wa + d
            run, start = rows.reshape(C, n, -1), (r0 + s) * Wa + d
            q0 = max(0, -start)
            q1 = max(q0, min(run.shape[-1], Ha * Wa - start))
            run[:, :, q0:q1] = images[:, :, start + q0:start + q1]       # (q0, q1: not past a's first and last)
        if w0 > 0:                      # w + d off the row (in the flat copy, on the neighbouring one): padding
            rows[..., :w0] = 0
        if w1 < Wt:
            rows[..., w1:] = 0
    return col


def add_shifted_rows(out, n0, n1, col, R, Wt, taps):
    """The adjoint of shifted_rows (col2im for the shift path): for every tap (s, d) of col (rows (k, c),
    columns (n, r, w)), out[c, n0 + n, r + s, w + d] += col[(k, c), (n, r, w)] wherever that is in out."""
    C, _, Ha, Wa = out.shape
    n = n1 - n0
    for box, (s, d) in zip(col.reshape(len(taps), C, n, R, Wt), taps):
        (r0, r1), (w0, w1) = _inside(s, R, Ha), _inside(d, Wt, Wa)
        if r0 < r1 and w0 < w1:
            out[:, n0:n1, r0 + s:r1 + s, w0 + d:w1 + d] += box[:, :, r0:r1, w0:w1]
    return out


def _inside(shift, n, size):
    """(lo, hi), lo <= hi: the positions p < n whose p + shift lies in 0..size-1."""
    lo = min(max(0, -shift), n)
    return lo, max(lo, min(n, size - shift))


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
    a whole number of them): a flat shift by offsets[j] would read the neighbouring row's first or last columns
    there, where the window reads padding."""
    for j, d in enumerate(offsets):
        by_row = a[..., j, :, :].reshape(a.shape[:-3] + (a.shape[-2], -1, row))      # a view: splits the last axis
        w0, w1 = _inside(d, row, row)
        if w0 > 0:
            by_row[..., :w0] = 0
        if w1 < row:
            by_row[..., w1:] = 0


def column_taps_weight(W, G):
    """(C_out, C_in/G, KH, KW) -> (G, KW*C_out/G, KH*C_in/G): W[o, c, i, j] at row (j, o), column (i, c)."""
    C_out, Cg, KH, KW = W.shape
    return W.reshape(G, C_out // G, Cg, KH, KW).transpose(0, 4, 1, 3, 2).reshape(G, KW * (C_out // G), KH * Cg)


def add_column_taps(prods, n, row, offsets, out=None):
    """y[g, o, t] = sum_j P[g, j, o, t + offsets[j]] over the j for which t + offsets[j] is on t's row (rows of
    `row` positions); prods (G, KW, C/G, ...) from with_margins holds P (G, KW, C/G, n), returns y (G, C/G, n).

    P[:, j] is kernel column j's share of every output, computed at the output's own position t; the output
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
