"""2-D convolution (cross-correlation, as in every deep-learning library) as matrix products.

Shapes: x (N, C_in, H, W), W (C_out, C_in/G, KH, KW), b (C_out,), y (N, C_out, OH, OW); G groups, K = KH*KW.
Definition, for output channel o in group g:

    y[n, o, oh, ow] = b[o] + sum_{c, i, j} W[o, c, i, j] * x_pad[n, g*C_in/G + c, oh*SH + i*DH, ow*SW + j*DW]

With col = im2col(x) of shape (K*C_in, N*OH*OW) and W_mat = W as (C_out, K*C_in), per group:

    forward:   Y      = W_mat @ col + b
    backward:  dW_mat = dY @ col.T          db = dY summed over (n, oh, ow)
               dcol   = W_mat.T @ dY        dx = col2im(dcol)

What makes this fast in NumPy without changing the math:
- The column matrix is built and multiplied a chunk of columns at a time, so it stays in the CPU caches instead
  of streaming a matrix K times the size of x through memory; backward rebuilds it from the saved input
  (nothing of size K*x is ever stored).
- For stride 1, the column matrix is read straight from x (tinycnn/functional/grid.py): kernel offset (i, j) is
  a shift of x by i*DH - PH rows and j*DW - PW columns, and the rows of an image it covers are one contiguous
  stretch of x, so each offset's block is one large copy, with zeros where the window reaches the padding.
  The output is computed at the positions of its own rows, OH x OW per image, with no padded copy of x or dY.
  Only where each image has a single output position are im2col's exact columns used instead (_shift_pays).
  Forward copies only the kernel's rows i, as shifts by whole rows, over the OH rows of each image
  (grid.shifted_rows: KH*C_in rows, a third of the copy for 3x3), and multiplies them by every kernel column j at
  once: the product's block j is kernel column j's share of each output, computed at the output's own position,
  and the output adds it up from d_j positions along its row (grid.add_column_taps), straight into y.
  Measured, by rows took 0.81-0.91 of the whole column matrix's time for 32->32 at 16x16 and 64->64 at 8x8,
  0.94-1.00 for 16->16 at 32x32 (RESULTS.md, "Twenty-fourth session"). Not where channels widen fourfold or
  more: the product (KW times the output) then costs more than the copy saves (1.15x the time for the first conv,
  3 -> 16; 1.01-1.05x for 16 -> 64; 0.90-1.00 where they double, "Twenty-seventh session").
  The input gradient is the same computation run on dy with the kernel transposed and rotated by 180 degrees (a
  "full" convolution), so the shift path never needs col2im's slice-adds. It goes by kernel rows too, over the
  H rows of each image: dy's rows shifted by whole rows (KH*C_out rows) times the kernel
  give each kernel column's share of dx, added up from d_j positions behind; and the same rows of dy times x's
  columns shifted by d_j (KW*C_in rows) give dW. Measured against one column matrix of dy (K*C_out rows over
  the whole grid) shared by dx and dW: backward 0.89-0.97 of the time on OpenBLAS's AVX2 kernels, 0.95-1.11 on
  its AVX-512 ones (16->16 at 32x32 the slowest); the ResNet-20 step 0.90-0.98 and 0.98-1.01 (RESULTS.md,
  "Twenty-fifth session"). Until the twenty-seventh session x and dY were first copied onto a grid with zero
  rows for the padding; reading them where they lie took 0.87-0.97 of the time forward and 0.95-0.98 backward
  (ResNet-20's convolutions, in-process, both OpenBLAS kernels), the ResNet-20 step 0.96-0.97 (RESULTS.md,
  "Twenty-seventh session").
- For stride > 1, where windows overlap (dilation 1), the input gradient is computed by phases instead of
  col2im: input row h + PH = SH*P + a (and likewise for columns) gets dY only from the taps i = a + SH*u, at dY
  row P - u. So each phase (a, b) of dx is a small stride-1 convolution of dY (a 2x2, 2x1, 1x2 and 1x1 piece of
  a 3x3 kernel at stride 2), computed from one column matrix of dY's shifts read where it lies (grid.shifted_rows,
  at the positions of the phase itself) and written straight into its rows and columns of dx: no dcol, no
  slice-adds, no zero-filled padded gradient (_phase_spans, _phases). Until the twenty-seventh session dY was
  first laid on a grid one row and column larger than the phases (81 positions for 64 at 8x8): reading it
  where it lies took 0.89-0.93 of the backward's time for 32->64 at 16x16, 0.93-0.99 for 16->32 at 32x32.
- The chunks are independent, so they run on both cores (tinycnn/parallel.py); each chunk is whole images, so on
  the shift path it writes its own output into y (or dx) while the product is still in the cache. The pads of
  the other paths run on both cores too (parallel.copy).
"""
from functools import partial

import numpy as np

from .. import parallel
from ..backend import get_array_module
from . import grid
from .im2col import col2im, conv_output_size, im2col

CHUNK = 3 << 18   # floats per column-matrix chunk (3 MiB in float32); RESULTS.md, "Twenty-third session"
SMALL_GEMM = 1_000_000  # see _matmul: the most multiply-adds OpenBLAS's unpacked "small matrix" kernels take
MIN_PIECE = 64          # columns: _matmul cuts no narrower pieces than this
SMALL_GEMM_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")   # OpenBLAS's x86 kernels that have them


def _weight_matrix(W, G):
    """(C_out, C_in/G, KH, KW) -> (G, C_out/G, K*C_in/G), columns ordered (i, j, c) like col's rows."""
    C_out, Cg, KH, KW = W.shape
    return W.reshape(G, C_out // G, Cg, KH * KW).transpose(0, 1, 3, 2).reshape(G, C_out // G, KH * KW * Cg)


def _by_group(col, K, G):
    """col (K*C, m) with rows (k, c) -> (G, K*C/G, m), each group's rows together (a view when G = 1)."""
    m = col.shape[-1]
    return col.reshape(K, G, -1, m).transpose(1, 0, 2, 3).reshape(G, -1, m)


def _from_groups(dcol, K, G):
    """The inverse of _by_group: (G, K*C/G, m) -> (K*C, m)."""
    m = dcol.shape[-1]
    return dcol.reshape(G, K, -1, m).transpose(1, 0, 2, 3).reshape(-1, m)


def _shift_pays(OH, OW):
    """Whether a stride-1 convolution takes the shift path rather than im2col's: on every map but a single
    output position per image. Measured on one core (`python benchmarks/conv_paths.py`; RESULTS.md,
    "Twenty-seventh session"), forward and backward, the shift path took 0.52-1.00 of im2col's time from 2x2
    maps up, widening convolutions, 1x1, 5x5, 7x7 and dilated kernels included, and 1.10-1.58x at 1x1 maps.
    (Until the shift path read x where it lies, its grid of padded images made it lose on small maps and where
    channels widen: the rule before kept those for im2col, "Eleventh session".)"""
    return OH * OW > 1


def _phase_spans(size, kernel, stride, padding):
    """Along one axis, the phases of a strided convolution's input gradient. Input position h = h0 + stride*k,
    k < count (h + padding = stride*P + a, P = P0 + k), gets dY only from the taps i = a + stride*u, at dY
    position P - u. For each phase a: (its number of taps, h0, P0, count)."""
    spans = []
    for a in range(stride):
        h0 = (a - padding) % stride
        spans.append((len(range(a, kernel, stride)), h0, (h0 + padding) // stride, len(range(h0, size, stride))))
    return spans


def _phases(W, G, stride, rows, cols):
    """The phases (a, b) of a strided convolution's input gradient (rows, cols from _phase_spans), all computed
    from one column matrix of dY: its taps, the shifts (s, d) of dY that any phase reads (dY row P - u is
    s = P0 - u rows from phase row k = P - P0), in decreasing order; and for each phase its weights W_ph
    (G, Cg, (the blocks of taps it spans)*C_out/G), W_ph[c, (t, o)] = W[o, c, a + SH*u, b + SW*v] for the taps
    t = (P0 - u, Q0 - v) it reads and zero for those it spans but does not read, the first block it spans,
    dx's positions of the phase (slices of H and W) and how many of each. Ordered so, a phase with fewer taps
    (a 3x3 kernel at stride 2 has phases of 4, 2, 2 and 1) spans the last blocks: 10 blocks in all for 9 taps.
    W_ph is None for a phase that no tap reaches (kernel narrower than the stride)."""
    xp = get_array_module(W)
    SH, SW = stride
    C_out, Cg = W.shape[:2]
    Co = C_out // G
    row_shifts = sorted({P0 - u for nu, _, P0, _ in rows for u in range(nu)}, reverse=True)
    col_shifts = sorted({Q0 - v for nv, _, Q0, _ in cols for v in range(nv)}, reverse=True)
    taps = [(s, d) for s in row_shifts for d in col_shifts]
    phases = []
    for a, (nu, h0, P0, ch) in enumerate(rows):
        for b, (nv, w0, Q0, cw) in enumerate(cols):
            W_ph, first = None, 0
            reads = {taps.index((P0 - u, Q0 - v)): (u, v) for u in range(nu) for v in range(nv)}
            if reads:
                first, last = min(reads), max(reads)
                W_ph = xp.zeros((G, Cg, last + 1 - first, Co), dtype=W.dtype)
                for t, (u, v) in reads.items():
                    W_ph[:, :, t - first] = W[:, :, a + SH * u, b + SW * v].reshape(G, Co, Cg).transpose(0, 2, 1)
                W_ph = W_ph.reshape(G, Cg, -1)
            phases.append((W_ph, first, (slice(h0, None, SH), slice(w0, None, SW)), (ch, cw)))
    return taps, phases


def _dot_t(A, B):
    """A @ B.T for A (G, M, m), B (G, N, m): (G, M, N), as xp.dot per group. For the whole column matrix's dW
    (the first conv's: 27 rows by 16) this took 0.72-0.81 of matmul's time in the backward on two cores, though
    matmul alone is the faster on one: at that shape matmul let a Python thread on the other core run at 0.28-0.42
    of its speed meanwhile (it keeps Python's lock), dot at 0.95. The other products of the convolutions let it
    run at 0.90-1.00 either way, and for dx_chunk's dW dot took 1.06-1.14x: not there (benchmarks/RESULTS.md,
    "Twenty-seventh session")."""
    xp = get_array_module(A)
    return xp.stack([xp.dot(a, b.T) for a, b in zip(A, B)])


def _pieces_pay(dtype):
    """Whether _matmul cuts its products into pieces: float32, on OpenBLAS's AVX-512 kernels (measured)."""
    return parallel.blas_core in SMALL_GEMM_CORES and dtype == np.float32


def _matmul(A, B, out):
    """out = A @ B for A (G, M, K), B (G, K, m), out (G, M, m): Y = W @ col for a chunk of columns, computed
    as products of at most SMALL_GEMM multiply-adds, pieces of m. OpenBLAS's AVX-512 kernels multiply a float32
    product that small straight from its operands (its "small matrix" kernels), where a larger one is first
    copied into OpenBLAS's packed layout; for a convolution's few rows (M = C_out) and long reduction
    (K = 9*C_in), the pieces run 1.1-1.3x faster on one core (benchmarks/RESULTS.md, "Twenty-second session").
    Elsewhere (OpenBLAS's AVX2 kernels, which have none, float64, CuPy), and where the pieces would be narrower
    than MIN_PIECE columns, as one product."""
    xp = get_array_module(B)
    G, M, K = A.shape
    m = B.shape[-1]
    n = SMALL_GEMM // (M * K)                                      # columns per piece
    if xp is not np or not _pieces_pay(out.dtype) or n < MIN_PIECE or n >= m:
        return xp.matmul(A, B, out=out)
    whole = m - m % n                                              # columns in whole pieces
    pieces = (A[:, None], B[..., :whole].reshape(G, K, -1, n).transpose(0, 2, 1, 3),   # (G, m/n, K, n)
              out[..., :whole].reshape(G, M, -1, n).transpose(0, 2, 1, 3))             # (G, m/n, M, n)
    xp.matmul(*pieces[:2], out=pieces[2])
    if whole < m:
        xp.matmul(A, B[..., whole:], out=out[..., whole:])
    return out


def _chunks(total, floats_per_unit):
    """The (start, stop) chunks of range(total) columns (or images): at most about CHUNK floats of column matrix
    each, at least two per worker thread, and as many for each worker, of one size (parallel.even_spans)."""
    return parallel.even_spans(total, max(1, min(CHUNK // floats_per_unit, -(-total // (2 * parallel.workers)))))


def conv2d_forward(x, W, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    """y = conv2d(x, W) + b; returns (y, cache). y is (N, C_out, OH, OW), channels-major in memory."""
    xp = get_array_module(x)
    (SH, SW), (PH, PW), (DH, DW), G = stride, padding, dilation, groups
    N, C_in, H, Wd = x.shape
    C_out, Cg, KH, KW = W.shape
    K = KH * KW
    OH, OW = conv_output_size(H, KH, SH, PH, DH), conv_output_size(Wd, KW, SW, PW, DW)
    W_mat = _weight_matrix(W, G)
    x_c = x.transpose(1, 0, 2, 3)                                   # (C_in, N, H, W): contiguous from our layers
    if SH == SW == 1 and _shift_pays(OH, OW):
        Wt = max(Wd, OW)                                # positions per row: y's, or x's where y is narrower
        offsets = [j * DW - PW for j in range(KW)]      # kernel column j reads x column ow + d_j
        rows_i = [i * DH - PH for i in range(KH)]       # kernel row i reads x row oh + s_i
        y = xp.empty((C_out, N, OH, OW), dtype=xp.result_type(x, W))
        # by kernel rows, not where channels widen fourfold or more (see the module docstring), nor past the
        # margins' reach
        by_rows = 4 * C_in > C_out and max(abs(d) for d in offsets) <= grid.MARGIN
        W_taps = grid.column_taps_weight(W, G) if by_rows else None
        in_place = by_rows and OW == Wt                 # the rows of the taps' sums are y's: added straight in

        def forward_chunk(n0, n1):                      # Y = W_mat @ col for images n0..n1, into y
            out = y[:, n0:n1].reshape(G, C_out // G, -1) if in_place else None
            if by_rows:                                 # kernel rows in the copy, kernel columns after the product
                col = _by_group(grid.shifted_rows(x_c, n0, n1, OH, Wt, [(s, 0) for s in rows_i]), KH, G)
                m = col.shape[-1]
                prods = grid.with_margins(xp, (G, KW * C_out // G, m), y.dtype)
                _matmul(W_taps, col, prods[..., grid.MARGIN:grid.MARGIN + m])
                y_rows = grid.add_column_taps(prods.reshape(G, KW, C_out // G, -1), m, Wt, offsets, out)
            else:                                       # col[(i, j, c), (n, oh, w)] = x[c, n, oh + s_i, w + d_j]
                taps = [(s, d) for s in rows_i for d in offsets]
                col = _by_group(grid.shifted_rows(x_c, n0, n1, OH, Wt, taps), K, G)
                y_rows = _matmul(W_mat, col, xp.empty((G, C_out // G, col.shape[-1]), dtype=y.dtype))
            if not in_place:                                                  # crop, while it is in the cache
                y[:, n0:n1] = y_rows.reshape(C_out, n1 - n0, OH, Wt)[..., :OW]
        spans = _chunks(N, ((KH * C_in + KW * C_out) if by_rows else K * C_in) * OH * Wt)   # col (and prods)
        parallel.run([partial(forward_chunk, n0, n1) for n0, n1 in spans], xp)
        cache = ("shift", x_c)
    else:
        x_pad = x_c                                                  # (C_in, N, Hp, Wp)
        if PH or PW:
            x_pad = xp.zeros((C_in, N, H + 2 * PH, Wd + 2 * PW), dtype=x.dtype)
            parallel.copy(x_pad[:, :, PH:PH + H, PW:PW + Wd], x_c)                          # pad, on the cores
        y = xp.empty((C_out, N, OH, OW), dtype=xp.result_type(x, W))

        def forward_images(n0, n1):                                                      # Y = W_mat @ col
            col = _by_group(im2col(x_pad[:, n0:n1], KH, KW, OH, OW, SH, SW, DH, DW), K, G)
            _matmul(W_mat, col, y[:, n0:n1].reshape(G, C_out // G, -1))
        parallel.run([partial(forward_images, n0, n1) for n0, n1 in _chunks(N, K * C_in * OH * OW)], xp)
        cache = ("im2col", x_pad)
    if b is not None:
        y += b.reshape(-1, 1, 1, 1)
    return y.transpose(1, 0, 2, 3), (cache, x.shape, W, stride, padding, dilation, groups)


def conv2d_backward(dy, cache, need_dx=True, need_dW=True, need_db=True):
    """Gradients (dx, dW, db) of conv2d_forward; each is None when not asked for."""
    xp = get_array_module(dy)
    (kind, saved), x_shape, W, (SH, SW), (PH, PW), (DH, DW), G = cache
    N, C_in, H, Wd = x_shape
    C_out, Cg, KH, KW = W.shape
    K = KH * KW
    dy_c = dy.transpose(1, 0, 2, 3)                                  # (C_out, N, OH, OW)
    OH, OW = dy_c.shape[2:]
    db = dy_c.sum(axis=(1, 2, 3)) if need_db else None               # db = sum of dY over (n, oh, ow)
    dW_mat, dx = None, None
    if kind == "shift":
        x_c = saved                                                      # (C_in, N, H, W)
        Wt = max(Wd, OW)                                                 # positions per row, as in forward
        offsets = [j * DW - PW for j in range(KW)]
        rows_i = [i * DH - PH for i in range(KH)]
        dx = xp.empty((C_in, N, H, Wd), dtype=dy.dtype) if need_dx else None

        # By kernel rows, as the forward, at the positions (n, h, w) of x's rows (H of Wt positions per image):
        #   dy_rows[(i', o), (n, h, w)] = dY[o, n, h - s_i, w]        (i = KH-1-i': dY's rows shifted, copied)
        #   dx[c, h, w] = sum_{o, i, j} W[o, c, i, j] * dY[o, h - s_i, w - d_j]            (a "full" convolution)
        #               = sum_j prods[(j, c), (h, w - d_j)]   with prods = W_taps @ dy_rows,
        #                                                     W_taps[(j, c), (i', o)] = W[o, c, i, j]
        #   dW[o, c, i, j] = sum_{h, w} dY[o, h - s_i, w] * x[c, h, w + d_j] = (dy_rows @ x_cols.T)[(i', o), (j, c)]
        #                    with x_cols[(j, c), (n, h, w)] = x[c, n, h, w + d_j]     (x's columns shifted, copied)
        # with each column shift kept on its row (grid.add_column_taps, grid.shifted_rows). dW's terms at dY's
        # other rows all have a zero factor, x's padding rows.
        W_taps = W.reshape(G, C_out // G, Cg, KH, KW)[:, :, :, ::-1].transpose(0, 4, 2, 3, 1)   # [g, j, c, i', o]
        W_taps = W_taps.reshape(G, KW * Cg, KH * (C_out // G))

        def dx_chunk(n0, n1):                                   # images n0..n1: dx, and their share of dW_taps
            dy_rows = grid.shifted_rows(dy_c, n0, n1, H, Wt, [(-s, 0) for s in reversed(rows_i)])
            dy_rows = _by_group(dy_rows, KH, G)
            m = dy_rows.shape[-1]
            prods = grid.with_margins(xp, (G, KW * Cg, m), dy.dtype)
            _matmul(W_taps, dy_rows, prods[..., grid.MARGIN:grid.MARGIN + m])
            out = dx[:, n0:n1].reshape(G, Cg, -1) if Wd == Wt else None            # dx's rows are the products'
            dx_rows = grid.add_column_taps(prods.reshape(G, KW, Cg, -1), m, Wt, [-d for d in offsets], out)
            if out is None:
                dx[:, n0:n1] = dx_rows.reshape(C_in, n1 - n0, H, Wt)[..., :Wd]              # while in the cache
            if need_dW:
                x_cols = grid.shifted_rows(x_c, n0, n1, H, Wt, [(0, d) for d in offsets])
                return dy_rows @ _by_group(x_cols, KW, G).transpose(0, 2, 1)

        # With far fewer input than output channels (an RGB image into the first conv) take the whole column
        # matrix instead: dW.T = col @ dY.T, and dcol = W_mat.T @ dY (K*C_in rows) added back onto dx, the adjoint
        # of the forward's copy. (Measured against a column matrix of dY with K*C_out rows, before backward went by
        # kernel rows; dx_chunk's copy of dY has KH*C_out, still more than K*C_in where 4*C_in <= C_out.) Also
        # where a column shift reaches past the margins.
        scatter = 4 * C_in <= C_out or max(abs(d) for d in offsets) > grid.MARGIN
        taps = [(s, d) for s in rows_i for d in offsets]
        W_mat = _weight_matrix(W, G)
        if need_dx and scatter:
            dx[...] = 0

        def whole_chunk(n0, n1):        # images n0..n1 by the whole column matrix; dW.T = col @ dY.T (_dot_t)
            dy_g = grid.shifted_rows(dy_c, n0, n1, OH, Wt, [(0, 0)]).reshape(G, C_out // G, -1)   # zero past OW
            if need_dx:
                dcol = _matmul(W_mat.transpose(0, 2, 1), dy_g, xp.empty((G, K * Cg, dy_g.shape[-1]), dy.dtype))
                grid.add_shifted_rows(dx, n0, n1, _from_groups(dcol, K, G), OH, Wt, taps)
            if need_dW:
                return _dot_t(_by_group(grid.shifted_rows(x_c, n0, n1, OH, Wt, taps), K, G), dy_g)

        shared = need_dx and not scatter                                 # dx_chunk computes dW as well
        if shared:
            spans = _chunks(N, (KH * C_out + 2 * KW * C_in) * H * Wt)   # dy_rows, x_cols and prods
        else:
            spans = _chunks(N, (K * C_in + C_out) * OH * Wt)            # col (or dcol) and dY
        parts = parallel.run([partial(dx_chunk if shared else whole_chunk, n0, n1) for n0, n1 in spans], xp)
        if need_dW and shared:                                  # rows (i', o), columns (j, c) -> (o, (i, j, c))
            dW_taps = sum(parts).reshape(G, KH, C_out // G, KW, Cg)
            dW_mat = dW_taps[:, ::-1].transpose(0, 2, 1, 3, 4).reshape(G, C_out // G, K * Cg)
        elif need_dW:
            dW_mat = sum(parts).transpose(0, 2, 1)
    else:
        x_pad = saved
        # by phases where windows overlap (col2im would add), at stride > 1: see the module docstring
        phases = need_dx and (SH > 1 or SW > 1) and (KH > SH or KW > SW) and DH == DW == 1
        by_col2im = need_dx and not phases
        dx_pad = xp.zeros(x_pad.shape, dtype=dy.dtype) if by_col2im else None
        unpadded = by_col2im and not (PH or PW)                 # col2im adds straight into dx: no crop to copy
        dx = dx_pad if unpadded else xp.empty((C_in, N, H, Wd), dtype=dy.dtype) if need_dx else None
        W_mat = _weight_matrix(W, G)
        if phases:
            rows, cols = _phase_spans(H, KH, SH, PH), _phase_spans(Wd, KW, SW, PW)
            R, Wt = max(ch for *_, ch in rows), max(cw for *_, cw in cols)       # positions of the largest phase
            dy_taps, phase_list = _phases(W, G, (SH, SW), rows, cols)

        def dx_by_phases(n0, n1):                # dx[phase (a, b)] = W_ph @ col(dY), dY read where it lies
            col = _by_group(grid.shifted_rows(dy_c, n0, n1, R, Wt, dy_taps), len(dy_taps), G)
            dx_ph = xp.empty((G, Cg, col.shape[-1]), dtype=dy.dtype)
            for W_ph, first, (h_at, w_at), (ch, cw) in phase_list:
                if W_ph is None:                                # no tap reaches these positions (kernel < stride)
                    dx[:, n0:n1, h_at, w_at] = 0
                    continue
                _matmul(W_ph, col[:, first * (C_out // G):first * (C_out // G) + W_ph.shape[2]], dx_ph)
                dx[:, n0:n1, h_at, w_at] = dx_ph.reshape(C_in, n1 - n0, R, Wt)[:, :, :ch, :cw]

        def backward_images(n0, n1):
            if phases:
                dx_by_phases(n0, n1)
            if by_col2im or need_dW:
                dy_g = xp.ascontiguousarray(dy_c[:, n0:n1]).reshape(G, C_out // G, -1)
            if by_col2im:
                dcol = xp.empty((G, K * Cg, dy_g.shape[-1]), dtype=dy.dtype)
                _matmul(W_mat.transpose(0, 2, 1), dy_g, dcol)                                    # dcol = W.T @ dY
                dcol = _from_groups(dcol, K, G)
                col2im(dcol, (C_in, n1 - n0) + x_pad.shape[2:], KH, KW, OH, OW, SH, SW, DH, DW,
                       out=dx_pad[:, n0:n1])
            if need_dW:
                col = _by_group(im2col(x_pad[:, n0:n1], KH, KW, OH, OW, SH, SW, DH, DW), K, G)
                return col @ dy_g.transpose(0, 2, 1)                            # dW.T = col @ dY.T
        spans = _chunks(N, K * max(C_in, C_out) * OH * OW)
        parts = parallel.run([partial(backward_images, n0, n1) for n0, n1 in spans], xp)
        if need_dW:
            dW_mat = sum(parts).transpose(0, 2, 1)
        if by_col2im and not unpadded:
            parallel.copy(dx, dx_pad[:, :, PH:PH + H, PW:PW + Wd])
    dW = None
    if need_dW:
        dW = dW_mat.reshape(G, C_out // G, K, Cg).transpose(0, 1, 3, 2).reshape(W.shape)
    return (None if dx is None else dx.transpose(1, 0, 2, 3)), dW, db
