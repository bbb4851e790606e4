"""The NumPy reference calculators, held to hand arithmetic, published figures and torch itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reach import Reach
from torch import nn

from cnninspect import reference as ref

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def seeded(examples: int) -> settings:
    """Reproducible runs: the same examples every time (derandomize), no example database."""
    return settings(derandomize=True, deadline=None, database=None, max_examples=examples)


def test_reference_does_not_import_torch():
    code = "import sys, cnninspect.analyses.reference; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- output sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        # floor((n + 2p - d(k-1) - 1)/s) + 1, worked by hand
        (dict(n=32, kernel=3, padding=1), 32),  # the chapter's exercise 1: 3x3, padding 1 keeps 32
        (dict(n=224, kernel=7, stride=2, padding=3), 112),  # ResNet's stem
        (dict(n=28, kernel=3), 26),
        (dict(n=10, kernel=3, dilation=2), 6),  # span 5
        (dict(n=7, kernel=3, stride=2), 3),
        (dict(n=7, kernel=3, stride=2, ceil_mode=True), 3),  # (7-3)/2 = 2 exactly
        (dict(n=8, kernel=3, stride=2, ceil_mode=True), 4),  # ceil(5/2) + 1
        (dict(n=9, kernel=3, padding="same"), 9),
        (dict(n=9, kernel=3, stride=2, padding="same"), 5),  # ceil(9/2)
        (dict(n=9, kernel=3, padding="valid"), 7),
        (dict(n=9, kernel=3, padding="full"), 11),  # n + k - 1
        (dict(n=9, kernel=3, dilation=2, padding="full"), 13),
    ],
)
def test_conv_output_size_by_hand(args, expected):
    assert ref.conv_output_size(**args) == expected


def test_calculators_are_vectorised():
    sizes = np.array([8, 9, 32, 224])
    kernels = np.array([3, 5, 3, 7])
    strides = np.array([1, 2, 2, 2])
    got = ref.conv_output_size(sizes, kernels, strides, padding=kernels // 2)
    expected = [(n + 2 * (k // 2) - k) // s + 1 for n, k, s in zip(sizes, kernels, strides)]
    assert got.tolist() == expected
    assert ref.conv_params(3, [32, 64], 3).tolist() == [896, 1792]
    assert ref.pool_output_size([5, 6, 7], 2, ceil_mode=[False, False, True]).tolist() == [2, 3, 4]


@st.composite
def pool_configs(draw):
    """Only configurations torch accepts: padding <= k/2, no dilation for average pools, a window that fits."""
    pool = draw(st.sampled_from(["max", "avg"]))
    k = draw(st.integers(1, 6))
    p = draw(st.integers(0, k // 2))
    d = draw(st.integers(1, 3)) if pool == "max" else 1
    n = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 40))
    return n, k, draw(st.integers(1, 4)), p, d, draw(st.booleans()), pool


def test_pool_output_size_matches_torch():
    reach = Reach()

    @seeded(150)
    @given(pool_configs())
    def check(case):
        n, k, s, p, d, ceil, pool = case
        layer = nn.MaxPool1d(k, s, p, d, ceil_mode=ceil) if pool == "max" else nn.AvgPool1d(k, s, p, ceil_mode=ceil)
        want = layer(torch.zeros(1, 1, n)).shape[-1]
        assert ref.pool_output_size(n, k, s, p, d, ceil) == want
        reach.hit("compared", *(["ceil_mode"] if ceil else []), *(["dilated"] if d > 1 else []))

    check()
    reach.require(compared=150, ceil_mode=50, dilated=30)


@st.composite
def conv_configs(draw):
    """Valid 1-D convolutions: "same" only at stride 1, and an input at least as wide as the padded window."""
    mode = draw(st.sampled_from(["number", "same", "valid"]))
    k, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    s = 1 if mode == "same" else draw(st.integers(1, 3))
    p = draw(st.integers(0, 3)) if mode == "number" else 0
    low = 1 if mode == "same" else max(1, d * (k - 1) + 1 - 2 * p)
    n = draw(st.integers(low, 30))
    return n, k, s, p if mode == "number" else mode, d


def test_conv_output_size_matches_torch():
    reach = Reach()

    @seeded(100)
    @given(conv_configs())
    def check(case):
        n, k, s, padding, d = case
        want = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=padding, dilation=d)
        assert ref.conv_output_size(n, k, s, padding, d) == want.shape[-1]
        reach.hit("compared", padding if isinstance(padding, str) else "numeric padding")

    check()
    reach.require(compared=100, same=15, valid=15)


@st.composite
def conv_transpose_configs(draw):
    """output_padding below max(stride, dilation), as torch demands, and a positive output size."""
    k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p, op = draw(st.integers(0, 2)), draw(st.integers(0, max(s, d) - 1))
    n = draw(st.integers(1, 12))
    assume((n - 1) * s - 2 * p + d * (k - 1) + op + 1 > 0)
    return n, k, s, p, d, op


def test_conv_transpose_output_size_matches_torch():
    reach = Reach()

    @seeded(100)
    @given(conv_transpose_configs())
    def check(case):
        n, k, s, p, d, op = case
        want = nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d)(torch.zeros(1, 1, n)).shape[-1]
        assert ref.conv_transpose_output_size(n, k, s, p, op, d) == want
        reach.hit("compared", *(["output_padding"] if op else []))

    check()
    reach.require(compared=100, output_padding=25)


# --- parameter counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cin, cout, k, expected",
    [(3, 32, 3, 896), (32, 64, 3, 18_496), (64, 128, 3, 73_856), (128, 256, 3, 295_168),
     (3, 64, 7, 9_472), (512, 512, 3, 2_359_808), (3, 64, 3, 1_792)],
)  # fmt: skip
def test_chapter_parameter_table(cin, cout, k, expected):
    """The chapter's table, (k*k*in + 1) * out, figures as printed there."""
    assert ref.conv_params(cin, cout, k) == expected


@seeded(60)
@given(
    g=st.integers(1, 4),
    cin_per=st.integers(1, 4),
    cout_per=st.integers(1, 4),
    kh=st.integers(1, 5),
    kw=st.integers(1, 5),
    bias=st.booleans(),
    transposed=st.booleans(),
)
def test_conv_params_match_torch(g, cin_per, cout_per, kh, kw, bias, transposed):
    cin, cout = g * cin_per, g * cout_per
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    layer = cls(cin, cout, (kh, kw), groups=g, bias=bias, device="meta")
    want = sum(p.numel() for p in layer.parameters())
    fn = ref.conv_transpose_params if transposed else ref.conv_params
    assert fn(cin, cout, (kh, kw), g, bias) == want


def test_other_parameter_counts_match_torch():
    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert ref.linear_params(3136, 128) == count(nn.Linear(3136, 128)) == 401_536
    assert ref.linear_params(10, 5, bias=False) == count(nn.Linear(10, 5, bias=False))
    assert ref.batch_norm_params(64) == count(nn.BatchNorm2d(64))
    assert ref.batch_norm_params(64, affine=False) == count(nn.BatchNorm2d(64, affine=False)) == 0
    assert ref.layer_norm_params(96) == count(nn.LayerNorm(96))
    assert ref.conv_params(3, 7, 3, dims=3) == count(nn.Conv3d(3, 7, 3))
    assert ref.conv_params(8, 8, (5,), groups=8, dims=1) == count(nn.Conv1d(8, 8, 5, groups=8))


def test_fc_equivalent_and_macs_by_hand():
    assert ref.fc_equivalent_params(224 * 224 * 3, 1000, bias=False) == 150_528_000
    assert ref.fc_equivalent_params(224 * 224 * 3, 1000) == 150_529_000
    # SimpleCNN's conv1: 32x28x28 outputs, each a 1x3x3 dot product
    assert ref.conv_macs(32 * 28 * 28, 1, 3) == 225_792
    assert ref.conv_macs(8 * 4 * 4, 8, 3, groups=8) == 8 * 4 * 4 * 9  # depthwise: one channel per output
    assert ref.linear_macs(10, 128) == 1280
    assert ref.conv_transpose_macs(4 * 5 * 5, 2, 2) == 100 * 2 * 4


# --- receptive-field chains -----------------------------------------------------------------


def test_receptive_field_of_the_chapter_exercise_3():
    """Four 3x3 convs (stride 1): 1 + 4*2 = 9."""
    chain = ref.receptive_field_chain([3, 3, 3, 3], 1, 1)
    assert chain.size.tolist() == [3, 5, 7, 9]
    assert chain.jump.tolist() == [1, 1, 1, 1]
    assert chain.start.tolist() == [0, 0, 0, 0]  # padding 1 keeps every field centred


def test_receptive_field_of_the_chapter_vgg_like_stack():
    """conv3, conv3, pool2/2, conv3, conv3, pool2/2: 16, not the stride-blind 11 (issue 3)."""
    chain = ref.receptive_field_chain([3, 3, 2, 3, 3, 2], [1, 1, 2, 1, 1, 2], [1, 1, 0, 1, 1, 0])
    assert chain.final[:2] == (16, 4)
    naive = 1 + sum(k - 1 for k in [3, 3, 2, 3, 3, 2])
    assert naive == 11


def test_receptive_field_of_simple_cnn():
    """conv3 p1, pool2, conv3 p1, pool2: 3, 4, 8, 10 with jumps 1, 2, 2, 4 (issue 3)."""
    chain = ref.receptive_field_chain([3, 2, 3, 2], [1, 2, 1, 2], [1, 0, 1, 0])
    assert chain.size.tolist() == [3, 4, 8, 10]
    assert chain.jump.tolist() == [1, 2, 2, 4]


def test_receptive_field_of_vgg16_matches_araujo():
    """Araujo et al. (Distill 2019) list VGG-16: size 212, effective stride 32, effective padding 90."""
    kernels, strides, pads = [], [], []
    for block in (2, 2, 3, 3, 3):
        kernels += [3] * block + [2]
        strides += [1] * block + [2]
        pads += [1] * block + [0]
    size, jump, start = ref.receptive_field_chain(kernels, strides, pads).final
    assert (size, jump) == (212, 32)
    assert (size - 1) / 2 - start == 90  # effective padding from size and start


def test_receptive_field_with_dilation():
    """A dilated 3x3 at d=2 spans 5; at d=4 it spans 9: 1 + 2 + 4 + 8 = 15 for d = 1, 2, 4."""
    chain = ref.receptive_field_chain([3, 3, 3], 1, [1, 2, 4], [1, 2, 4])
    assert chain.size.tolist() == [3, 7, 15]
    assert ref.effective_kernel(3, 4) == 9


# --- conv2d ---------------------------------------------------------------------------------


def test_conv2d_by_hand():
    """A 4x4 ramp and a 2x2 kernel, worked out on paper (cross-correlation, no flip)."""
    image = np.arange(16).reshape(4, 4)
    kernel = np.array([[1, 0], [0, -1]])  # x[i, j] - x[i+1, j+1] = -5 everywhere on a ramp
    np.testing.assert_array_equal(ref.conv2d(image, kernel), np.full((3, 3), -5.0))
    kernel = np.array([[0, 1], [0, 0]])  # picks x[i, j+1]
    np.testing.assert_array_equal(ref.conv2d(image, kernel, stride=2), [[1, 3], [9, 11]])
    np.testing.assert_array_equal(ref.conv2d(np.ones((3, 3)), np.ones((3, 3)), padding=1), [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_conv2d_edge_kernel_on_a_step():
    """A vertical-edge kernel answers only where the image steps from dark to light."""
    image = np.zeros((5, 5))
    image[:, 3:] = 1
    edge = np.array([[1, 0, -1]] * 3)
    out = ref.conv2d(image, edge)
    np.testing.assert_array_equal(out, [[0, -3, -3]] * 3)


@seeded(60)
@given(
    n=st.integers(1, 2),
    groups=st.integers(1, 3),
    cin_per=st.integers(1, 3),
    cout_per=st.integers(1, 3),
    h=st.integers(4, 11),
    w=st.integers(4, 11),
    kh=st.integers(1, 4),
    kw=st.integers(1, 4),
    sh=st.integers(1, 3),
    sw=st.integers(1, 3),
    ph=st.integers(0, 2),
    pw=st.integers(0, 2),
    dh=st.integers(1, 2),
    dw=st.integers(1, 2),
    bias=st.booleans(),
    same=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_torch(n, groups, cin_per, cout_per, h, w, kh, kw, sh, sw, ph, pw, dh, dw, bias, same, seed):
    assume(h + 2 * ph >= dh * (kh - 1) + 1 and w + 2 * pw >= dw * (kw - 1) + 1)  # the window fits
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, groups * cin_per, h, w))
    weight = rng.normal(size=(groups * cout_per, cin_per, kh, kw))
    b = rng.normal(size=groups * cout_per) if bias else None
    if same:
        stride, padding = 1, "same"
    else:
        stride, padding = (sh, sw), (ph, pw)
    got = ref.conv2d(x, weight, b, stride, padding, (dh, dw), groups)
    want = F.conv2d(
        torch.from_numpy(x), torch.from_numpy(weight), None if b is None else torch.from_numpy(b),
        stride, padding, (dh, dw), groups,
    ).numpy()  # fmt: skip
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


def test_conv2d_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="channels"):
        ref.conv2d(np.zeros((3, 5, 5)), np.zeros((4, 2, 3, 3)))
