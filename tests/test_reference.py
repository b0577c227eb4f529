"""The fast im2col/strided-slice ops equal the naive loop references on random cases."""
from functools import partial

import numpy as np
import pytest

from tinycnn import functional as F
from tinycnn import nn
from tinycnn.backend import to_numpy
from tinycnn.functional import naive


def random_conv_cases(count, seed=1):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        G = int(rng.choice([1, 1, 2, 3]))
        Cg, Og = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        KH, KW = (int(k) for k in rng.integers(1, 5, 2))
        SH, SW = (int(s) for s in rng.integers(1, 4, 2))
        PH, PW = (int(p) for p in rng.integers(0, 3, 2))
        DH, DW = (int(d) for d in rng.integers(1, 3, 2))
        N, H, W = int(rng.integers(1, 4)), int(rng.integers(3, 10)), int(rng.integers(3, 10))
        if H + 2 * PH < DH * (KH - 1) + 1 or W + 2 * PW < DW * (KW - 1) + 1:
            continue
        cases.append(dict(x=rng.standard_normal((N, G * Cg, H, W)), W=rng.standard_normal((G * Og, Cg, KH, KW)),
                          b=rng.standard_normal(G * Og), stride=(SH, SW), padding=(PH, PW), dilation=(DH, DW),
                          groups=G))
    return cases


@pytest.mark.parametrize("case", random_conv_cases(25), ids=lambda c: (
    f"k{c['W'].shape[2:]}s{c['stride']}p{c['padding']}d{c['dilation']}g{c['groups']}"))
def test_conv_fast_equals_naive(xp, case):
    args = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    x, W, b = (xp.asarray(case[k]) for k in ("x", "W", "b"))
    y, cache = F.conv2d_forward(x, W, b, **args)
    y_ref = naive.conv2d_forward(case["x"], case["W"], case["b"], **args)
    np.testing.assert_allclose(to_numpy(y), y_ref, rtol=1e-10, atol=1e-10)

    dy = np.random.default_rng(2).standard_normal(y_ref.shape)
    dx, dW, db = F.conv2d_backward(xp.asarray(dy), cache)
    dx_ref, dW_ref, db_ref = naive.conv2d_backward(dy, case["x"], case["W"], **args)
    np.testing.assert_allclose(to_numpy(dx), dx_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_numpy(dW), dW_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(to_numpy(db), db_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("pieces", [False, True], ids=["whole", "pieces"])
@pytest.mark.parametrize("shift", [True, False], ids=["shift", "im2col"])
def test_both_stride_one_conv_paths_equal_naive(xp, monkeypatch, shift, pieces):
    """Stride-1 convolutions take the shift path or im2col's by shape (_shift_pays); each must be right on all.
    With `pieces`, the products are cut into pieces of a few columns (_matmul), as ResNet-20's are."""
    from tinycnn.functional import conv
    monkeypatch.setattr(conv, "_shift_pays", lambda *shape: shift)
    if pieces:
        monkeypatch.setattr(conv, "SMALL_GEMM", 60)
        monkeypatch.setattr(conv, "MIN_PIECE", 1)
        monkeypatch.setattr(conv, "_pieces_pay", lambda dtype: True)        # float64 here, on any BLAS
    check_stride_one_cases(xp, "shift" if shift else "im2col")


def test_shift_path_past_its_margins_equals_naive(xp, monkeypatch):
    """The shift path takes a kernel column's share from up to MARGIN positions along a row (grid.with_margins);
    a convolution that reaches farther (a wide dilated kernel, a large padding) goes the other ways, forward
    by the whole column matrix and backward by scattering dcol. With a margin of 1, the cases below reach past
    it (padding 2, a kernel 3 wide) and within it, and every one must still be right."""
    from tinycnn.functional import conv
    from tinycnn.functional import grid
    monkeypatch.setattr(conv, "_shift_pays", lambda *shape: True)
    monkeypatch.setattr(grid, "MARGIN", 1)
    reach = [max(abs(j * c["dilation"][1] - c["padding"][1]) for j in range(c["W"].shape[3]))
             for c in random_conv_cases(150, seed=4) if c["stride"] == (1, 1)]
    assert min(reach) <= 1 < max(reach)
    check_stride_one_cases(xp, "shift")


def test_shift_path_reaching_past_a_whole_image_row(xp, monkeypatch):
    """Dilated kernels with a wide padding on maps narrower than their reach: a kernel column's shift then spans
    more than an image's rows, past x's first or last value, which grid.shifted_rows must clip, not wrap around."""
    from tinycnn.functional import conv
    monkeypatch.setattr(conv, "_shift_pays", lambda *shape: True)
    rng = np.random.default_rng(6)
    cases = []
    for H, W, KW, PW, DW in [(1, 2, 3, 3, 3), (1, 3, 4, 2, 2), (2, 1, 3, 3, 3), (1, 5, 4, 3, 3)]:
        for (H, W), K, P, D in [((H, W), (1, KW), (0, PW), (1, DW)), ((W, H), (KW, 1), (PW, 0), (DW, 1))]:
            cases.append(dict(x=rng.standard_normal((2, 2, H, W)), W=rng.standard_normal((2, 2) + K),
                              b=rng.standard_normal(2), stride=(1, 1), padding=P, dilation=D, groups=1))
    check_stride_one_cases(xp, "shift", cases)


def test_shift_path_widening_fourfold_equals_naive(xp):
    """Where a convolution widens the channels fourfold or more (an RGB image into the first conv), the shift path
    takes the whole column matrix forward and scatters dcol back (not by kernel rows): those branches too."""
    rng = np.random.default_rng(8)
    cases = []
    shapes = [(1, 4, 1, 3, 1), (3, 16, 1, 3, 1), (2, 12, 2, 3, 0), (2, 8, 1, 5, 2), (1, 6, 1, 2, 1)]
    for C_in, C_out, G, K, P in shapes:                                  # K x K kernels, padding P, G groups
        cases.append(dict(x=rng.standard_normal((3, C_in, 5, 6)), W=rng.standard_normal((C_out, C_in // G, K, K)),
                          b=rng.standard_normal(C_out), stride=(1, 1), padding=(P, P), dilation=(1, 1), groups=G))
    check_stride_one_cases(xp, "shift", cases)


def check_stride_one_cases(xp, kind, cases=None):
    """The stride-1 cases of random_conv_cases(150, seed=4) (or `cases`) through the path `kind`: y, dx and dW
    against the naive loops, the gradients together and each alone."""
    if cases is None:
        cases = [c for c in random_conv_cases(150, seed=4) if c["stride"] == (1, 1)]
        assert len(cases) >= 10
    for case in cases:
        args = dict(stride=(1, 1), padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
        y, cache = F.conv2d_forward(xp.asarray(case["x"]), xp.asarray(case["W"]), xp.asarray(case["b"]), **args)
        assert cache[0][0] == kind
        dy = np.random.default_rng(5).standard_normal(y.shape)
        dx, dW, _ = F.conv2d_backward(xp.asarray(dy), cache)
        dx_ref, dW_ref, _ = naive.conv2d_backward(dy, case["x"], case["W"], **args)
        np.testing.assert_allclose(to_numpy(y), naive.conv2d_forward(case["x"], case["W"], case["b"], **args),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(to_numpy(dx), dx_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(to_numpy(dW), dW_ref, rtol=1e-10, atol=1e-10)
        # each gradient alone (a frozen weight, the first layer's unneeded dx) takes other branches
        dx_only, no_dW, _ = F.conv2d_backward(xp.asarray(dy), cache, need_dW=False)
        no_dx, dW_only, _ = F.conv2d_backward(xp.asarray(dy), cache, need_dx=False)
        assert no_dW is None and no_dx is None
        np.testing.assert_allclose(to_numpy(dx_only), dx_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(to_numpy(dW_only), dW_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("pieces", [False, True], ids=["whole", "pieces"])
def test_strided_conv_input_gradient_by_phases_equals_naive(xp, monkeypatch, pieces):
    """Strided convolutions whose windows overlap compute dx by phases (conv._phase_spans), not col2im: odd and
    even sizes, paddings larger and smaller than the stride, kernels taller than wide, groups; every phase's
    rows and columns must be written (dx starts uninitialised)."""
    from tinycnn.functional import conv
    if pieces:
        monkeypatch.setattr(conv, "SMALL_GEMM", 60)
        monkeypatch.setattr(conv, "MIN_PIECE", 1)
        monkeypatch.setattr(conv, "_pieces_pay", lambda dtype: True)
    cases = [c for c in random_conv_cases(400, seed=6) if c["stride"] != (1, 1) and c["dilation"] == (1, 1)
             and (c["W"].shape[2] > c["stride"][0] or c["W"].shape[3] > c["stride"][1])]
    rng = np.random.default_rng(7)
    cases.append(dict(x=rng.standard_normal((3, 4, 16, 16)), W=rng.standard_normal((8, 4, 3, 3)), b=None,
                      stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1))          # ResNet's downsampling
    assert len(cases) >= 20
    for case in cases:
        args = dict(stride=case["stride"], padding=case["padding"], dilation=(1, 1), groups=case["groups"])
        y, cache = F.conv2d_forward(xp.asarray(case["x"]), xp.asarray(case["W"]), None, **args)
        dy = rng.standard_normal(y.shape)
        dx, dW, _ = F.conv2d_backward(xp.asarray(dy), cache, need_db=False)
        dx_ref, dW_ref, _ = naive.conv2d_backward(dy, case["x"], case["W"], **args)
        np.testing.assert_allclose(to_numpy(dx), dx_ref, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(to_numpy(dW), dW_ref, rtol=1e-10, atol=1e-10)
        dx_only, _, _ = F.conv2d_backward(xp.asarray(dy), cache, need_dW=False, need_db=False)
        np.testing.assert_allclose(to_numpy(dx_only), dx_ref, rtol=1e-10, atol=1e-10)


def test_phase_spans_cover_every_input_position_once():
    """Each input position h belongs to exactly one phase, whose taps are those i with (h + padding - i) a
    multiple of the stride."""
    from tinycnn.functional.conv import _phase_spans
    for size, kernel, stride, padding in [(32, 3, 2, 1), (7, 4, 3, 2), (5, 2, 3, 0), (9, 5, 2, 3), (6, 3, 3, 0)]:
        seen = []
        for a, (taps, h0, P0, count) in enumerate(_phase_spans(size, kernel, stride, padding)):
            hs = range(h0, size, stride)
            assert len(hs) == count and taps == len(range(a, kernel, stride))
            for k, h in enumerate(hs):
                assert h + padding == stride * (P0 + k) + a
            seen += hs
        assert sorted(seen) == list(range(size))


def test_strided_input_gradient_phases_share_one_column_matrix():
    """A 3x3 kernel at stride 2 has phases of 4, 2, 2 and 1 taps; all four read the 4 shifts of dY in one column
    matrix, and with the shifts in decreasing order they span 10 of its blocks in all (one zero block)."""
    from tinycnn.functional.conv import _phase_spans, _phases
    spans = _phase_spans(16, 3, 2, 1)
    taps, phases = _phases(np.ones((4, 2, 3, 3)), 1, (2, 2), spans, spans)
    assert sorted(taps, reverse=True) == taps and len(taps) == 4
    blocks = [W_ph.reshape(2, -1, 4) for W_ph, *_ in phases]              # (C_in, blocks, C_out) per phase
    assert sum(w.shape[1] for w in blocks) == 10
    assert sum(int((w != 0).any(axis=(0, 2)).sum()) for w in blocks) == 9      # the blocks that hold taps


@pytest.mark.parametrize("columns", [300, 280, 64, 40])
def test_matmul_in_pieces_equals_one_product(monkeypatch, columns):
    """_matmul cuts W @ col into products of a few columns each, plus the columns left over; together they are
    the one product, for every group (as float32, the dtype it is cut for)."""
    from tinycnn.functional import conv
    rng = np.random.default_rng(7)
    G, M, K = 2, 3, 5
    monkeypatch.setattr(conv, "SMALL_GEMM", M * K * 60)                # pieces of 60 columns
    monkeypatch.setattr(conv, "MIN_PIECE", 50)
    monkeypatch.setattr(conv.parallel, "blas_core", "SkylakeX")         # as if on OpenBLAS's AVX-512 kernels
    A = rng.standard_normal((G, M, K)).astype(np.float32)
    B = rng.standard_normal((G, K, 2 * columns)).astype(np.float32)[..., ::2]  # a strided view, as _by_group's
    out = np.full((G, M, columns), np.nan, dtype=np.float32)
    assert conv._matmul(A, B, out) is out
    np.testing.assert_allclose(out, A.astype(np.float64) @ B, rtol=1e-5, atol=1e-5)


def test_products_are_cut_into_pieces_only_where_that_measured_faster(monkeypatch):
    from tinycnn.functional import conv
    for core, dtype, pays in [("SkylakeX", np.float32, True), ("SkylakeX", np.float64, False),
                              ("Haswell", np.float32, False), ("", np.float32, False)]:
        monkeypatch.setattr(conv.parallel, "blas_core", core)
        assert conv._pieces_pay(np.dtype(dtype)) == pays, (core, dtype)


def test_shift_path_is_chosen_where_it_measured_faster():
    from tinycnn.functional.conv import _shift_pays
    assert _shift_pays(32, 32) and _shift_pays(8, 8) and _shift_pays(3, 3) and _shift_pays(2, 2)
    assert _shift_pays(1, 7) and _shift_pays(7, 1)                  # one row or one column: rows of the shift
    assert not _shift_pays(1, 1)                                    # a single output position per image


def random_pool_cases(count, seed=3):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        KH, KW = (int(k) for k in rng.integers(1, 5, 2))
        SH, SW = (int(s) for s in rng.integers(1, 4, 2))
        PH, PW = int(rng.integers(0, KH // 2 + 1)), int(rng.integers(0, KW // 2 + 1))
        N, C, H, W = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 9))
        if H + 2 * PH < KH or W + 2 * PW < KW:
            continue
        x = rng.permutation(np.arange(N * C * H * W, dtype=np.float64) - N * C * H * W // 2).reshape(N, C, H, W)
        cases.append(dict(x=x, kernel_size=(KH, KW), stride=(SH, SW), padding=(PH, PW)))
    return cases


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", random_pool_cases(20), ids=lambda c: f"k{c['kernel_size']}s{c['stride']}p{c['padding']}")
def test_pool_fast_equals_naive(xp, case, kind):
    args = (case["kernel_size"], case["stride"], case["padding"])
    fast_fwd, fast_bwd = getattr(F, f"{kind}_pool2d_forward"), getattr(F, f"{kind}_pool2d_backward")
    ref_fwd, ref_bwd = getattr(naive, f"{kind}_pool2d_forward"), getattr(naive, f"{kind}_pool2d_backward")
    y, cache = fast_fwd(xp.asarray(case["x"]), *args)
    y_ref = ref_fwd(case["x"], *args)
    np.testing.assert_allclose(to_numpy(y), y_ref, rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(4).standard_normal(y_ref.shape)
    np.testing.assert_allclose(to_numpy(fast_bwd(xp.asarray(dy), cache)), ref_bwd(dy, case["x"], *args),
                               rtol=1e-12, atol=1e-12)


def test_max_pool_ties_go_to_the_first_maximum(xp):
    """With equal values in a window, exactly one input (the first in row-major order) gets the gradient."""
    x = xp.ones((1, 1, 4, 4))
    y, cache = F.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    dx = to_numpy(F.max_pool2d_backward(xp.ones_like(y), cache))
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("K, S, size", [(2, 2, 8), (2, 2, 9), (3, 2, 9), (2, 3, 9), (3, 3, 7)])
def test_max_pool_route_writes_every_input_of_its_output(K, S, size):
    """Max pooling's backward routes dy into an uninitialised array: the inputs that no window covers (a left-over
    row, the gaps of a stride larger than the kernel) must come out 0, and shares of overlapping windows add up,
    whatever the array held before (NaN here)."""
    from tinycnn.functional.pool import _route
    rng = np.random.default_rng(K * 100 + S * 10 + size)
    out = (size - K) // S + 1
    dy = rng.standard_normal((2, 3, out, 4))
    arg = rng.integers(0, K, dy.shape).astype(np.uint8)
    dx = np.full((2, 3, size, 4), np.nan)
    _route(dy, arg, 2, K, S, dx)
    expected = np.zeros_like(dx)
    for o in range(out):
        for k in range(K):
            expected[:, :, o * S + k] += np.where(arg[:, :, o] == k, dy[:, :, o], 0.0)
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.parametrize("channels_major", [True, False], ids=["channels-major", "NCHW"])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1)], ids=["2x2", "3x3s2p1"])
def test_max_pool_in_blocks_of_channels_equals_the_reference(xp, channels_major, kernel, stride, padding):
    # Large enough that the fast version pools several blocks of channels (parallel.spans), on both cores.
    from tinycnn import parallel
    rng = np.random.default_rng(5)
    N, C, H, W = 16, 24, 16, 15
    assert len(parallel.spans(C, N * H * W)) > 1
    x = rng.standard_normal((C, N, H, W)).transpose(1, 0, 2, 3) if channels_major else \
        rng.standard_normal((N, C, H, W))
    x[:, :, :4] = -1.0                                                  # ties, and windows of all-negative values
    args = ((kernel, kernel), (stride, stride), (padding, padding))
    y, cache = F.max_pool2d_forward(xp.asarray(x), *args)
    np.testing.assert_array_equal(to_numpy(y), naive.max_pool2d_forward(x, *args))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(to_numpy(F.max_pool2d_backward(xp.asarray(dy), cache)),   # overlaps add up
                               naive.max_pool2d_backward(dy, x, *args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels_major", [True, False], ids=["channels-major", "NCHW"])
def test_batch_norm_and_relu_in_blocks_equal_the_reference(xp, channels_major, monkeypatch):
    # Large enough that the fast versions cut the work into blocks of channels and elements (parallel.spans).
    from tinycnn import parallel
    from tinycnn.functional import norm
    monkeypatch.setattr(parallel, "workers", 2)
    rng = np.random.default_rng(3)
    N, C, H, W = 16, 24, 16, 16
    assert len(norm._blocks(C, N * H * W, np)) == 2
    x = rng.standard_normal((C, N, H, W)).transpose(1, 0, 2, 3) * 3 + 1 if channels_major else \
        rng.standard_normal((N, C, H, W)) * 3 + 1
    gamma, beta, dy = rng.standard_normal(C), rng.standard_normal(C), rng.standard_normal((N, C, H, W))
    to = xp.asarray
    y, cache = F.batch_norm_forward(to(x), to(gamma), to(beta), to(np.zeros(C)), to(np.ones(C)), training=True)
    np.testing.assert_allclose(to_numpy(y), naive.batch_norm_forward(x, gamma, beta), rtol=1e-10, atol=1e-10)
    dx, dgamma, dbeta, dresidual = F.batch_norm_backward(to(dy), cache)
    assert dresidual is None
    for got, want in zip((dx, dgamma, dbeta), naive.batch_norm_backward(dy, x, gamma)):
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-9, atol=1e-9)
    r, _ = F.relu_forward(to(x))
    np.testing.assert_array_equal(to_numpy(r), np.maximum(x, 0))
    np.testing.assert_array_equal(to_numpy(F.relu_backward(to(dy), r)), dy * (x > 0))


@pytest.mark.parametrize("shape, transpose", [((3, 2048), False), ((2048, 3), True), ((5, 7), False)],
                         ids=["rows-of-1024", "strided", "short"])
def test_relu_into_equals_maximum_with_zero(xp, shape, transpose):
    """relu_into compares with a row of zeros, reshaped to rows of 1024 where it can: every case, NaN kept."""
    from tinycnn.functional.activation import relu_into
    x = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    x[0, 1] = np.nan
    x = x.T if transpose else x
    out = xp.full(x.shape, 7.0, dtype=xp.float32)
    relu_into(out, xp.asarray(x))
    np.testing.assert_array_equal(to_numpy(out), np.maximum(x, 0))


@pytest.mark.parametrize("fused_layer, activation", [(nn.BatchNormReLU2d, nn.ReLU),
                                                      (nn.BatchNormGELU2d, partial(nn.GELU, approximate="tanh"))],
                         ids=["relu", "gelu"])
def test_fused_batch_norm_activation_equals_batch_norm_then_activation(xp, fused_layer, activation):
    rng = np.random.default_rng(4)
    x, dy = xp.asarray(rng.standard_normal((16, 24, 16, 16))), xp.asarray(rng.standard_normal((16, 24, 16, 16)))
    separate, fused = nn.Sequential(nn.BatchNorm2d(24), activation()), fused_layer(24)
    separate[0].weight.data[...] = xp.asarray(rng.standard_normal(24))
    separate[0].bias.data[...] = xp.asarray(rng.standard_normal(24))
    fused.load_state_dict(separate[0].state_dict())                  # the same parameters and buffers
    for training in (True, False):
        separate.train(training), fused.train(training)
        np.testing.assert_allclose(to_numpy(fused(x)), to_numpy(separate(x)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(to_numpy(fused.backward(dy)), to_numpy(separate.backward(dy)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_batch_norm_with_a_residual_equals_batch_norm_then_add_then_activation(xp, activation, training):
    # z = bn(x) + r, y = f(z): the fused pass against the three steps one after another, forward and backward
    rng = np.random.default_rng(5)
    N, C, H, W = 16, 24, 16, 16                                     # large enough to run in blocks on the cores
    x, r, dy = (xp.asarray(rng.standard_normal((N, C, H, W)) * 2 + 1) for _ in range(3))
    gamma, beta = xp.asarray(rng.standard_normal(C)), xp.asarray(rng.standard_normal(C))
    stats = xp.asarray(rng.random(C)), xp.asarray(rng.random(C) + 0.5)
    fused, cache = F.batch_norm_forward(x, gamma, beta, *(s.copy() for s in stats), training, activation=activation,
                                        residual=r)
    bn, bn_cache = F.batch_norm_forward(x, gamma, beta, *(s.copy() for s in stats), training)
    forward, backward = {None: (lambda z: (z, None), lambda d, c: d),
                         "relu": (F.relu_forward, F.relu_backward),
                         "gelu": (F.gelu_tanh_forward, F.gelu_tanh_backward)}[activation]
    y, act_cache = forward(bn + r)
    np.testing.assert_allclose(to_numpy(fused), to_numpy(y), rtol=1e-12, atol=1e-12)
    dz = backward(dy, act_cache)                                    # the gradient of bn(x) + r, which r receives
    want = F.batch_norm_backward(dz, bn_cache)[:3] + (dz,)
    for got, expected in zip(F.batch_norm_backward(dy, cache), want):
        np.testing.assert_allclose(to_numpy(got), to_numpy(expected), rtol=1e-10, atol=1e-12)


def test_batch_norm_add_relu_layer_equals_batch_norm_add_relu(xp):
    rng = np.random.default_rng(6)
    x, shortcut, dy = (xp.asarray(rng.standard_normal((8, 12, 10, 10)).astype(np.float32)) for _ in range(3))
    bn, relu, fused = nn.BatchNorm2d(12), nn.ReLU(), nn.BatchNormAddReLU2d(12)
    bn.weight.data[...] = xp.asarray(rng.standard_normal(12).astype(np.float32))
    bn.bias.data[...] = xp.asarray(rng.standard_normal(12).astype(np.float32))
    fused.load_state_dict(bn.state_dict())                           # the same parameters and buffers
    for training in (True, False):
        bn.train(training), fused.train(training)
        bn.zero_grad(), fused.zero_grad()
        np.testing.assert_allclose(to_numpy(fused(x, shortcut)), to_numpy(relu(bn(x) + shortcut)), rtol=1e-6,
                                   atol=1e-6)
        dx, dshortcut = fused.backward(dy)
        dsum = relu.backward(dy)
        np.testing.assert_allclose(to_numpy(dshortcut), to_numpy(dsum), rtol=0, atol=0)
        np.testing.assert_allclose(to_numpy(dx), to_numpy(bn.backward(dsum)), rtol=1e-5, atol=1e-6)
        for p, q in zip(fused.parameters(), bn.parameters()):
            np.testing.assert_allclose(to_numpy(p.grad), to_numpy(q.grad), rtol=1e-5, atol=1e-5)
        for name, value in bn.state_dict().items():
            np.testing.assert_allclose(to_numpy(fused.state_dict()[name]), to_numpy(value), rtol=1e-6, err_msg=name)
    plain = fused(x)                                                 # no shortcut: BatchNormReLU2d
    np.testing.assert_allclose(to_numpy(plain), to_numpy(relu(bn(x))), rtol=1e-6, atol=1e-6)
    assert fused.backward(dy)[1] is None


def test_batch_norm_names_an_unknown_fused_activation():
    x = np.ones((2, 3, 2, 2))
    with pytest.raises(ValueError, match="activation must be None, 'relu' or 'gelu', got 'tanh'"):
        F.batch_norm_forward(x, None, None, np.zeros(3), np.ones(3), training=True, activation="tanh")
