"""Docstring pieces shared by the public modules (forward, adaptive, backward)."""

# Array shapes per spatial rank: (channels_first, channels_last).
SHAPES = {
    1: ("(N, C, L) or (C, L)", "(N, L, C) or (L, C)"),
    2: ("(N, C, H, W) or (C, H, W)", "(N, H, W, C) or (H, W, C)"),
    3: ("(N, C, D, H, W) or (C, D, H, W)", "(N, D, H, W, C) or (D, H, W, C)"),
}

# How max-pooling indices flatten a position within one (n, c) plane.
FLAT_INDEX = {1: "w", 2: "h * W + w", 3: "(d * H + h) * W + w"}


def max_returns(region: str) -> str:
    """The Returns section of the max-type functions; ``region`` is "window" or "bin"."""
    return f"""\
out : ndarray
    Same dtype as the input (bool and integer types included) and the same memory layout.
    NaN propagates: a {region} with a NaN gives NaN (the index of its last NaN); ties give
    the first maximum in scan order.
indices : ndarray of int64
    Only with ``return_indices=True``; same shape and layout as ``out``."""


def input_param(nd: int) -> str:
    cf, cl = SHAPES[nd]
    return f"""\
input : array_like
    {cf} with ``data_format="channels_first"`` (the default; NumPy arrays of this
    shape whose memory is channels-last are read in place), or {cl} with
    ``data_format="channels_last"``.  Any strides; the input is never modified."""


OPTIONS = """\
data_format : {"channels_first", "channels_last"}, keyword-only
    Whether channels come before or after the spatial axes.
num_threads : int, keyword-only, optional
    Threads to use; defaults to OpenMP's limit (``OMP_NUM_THREADS``, threadpoolctl).
    Small inputs always run on one thread.  Results do not depend on it."""

RAISES = """\
Raises
------
ValueError, TypeError
    For invalid arguments; the message names the argument and the rule."""


# Examples sections, by public function name.  They are doctests: the documentation's
# doctest run (sphinx-build -b doctest, see docs/conf.py) executes them with numpy
# imported as ``np`` and ndpool imported, and compares their output exactly.
_X1 = ">>> x = np.array([[1., 5., 2., 8., 3., 0., 7.]])  # (C, L) = (1, 7)\n"
_X2 = (">>> x = np.array([[[2, 3, 4, 2], [8, 5, 5, 1], [6, 7, 9, 4], [3, 1, 4, 5]]],\n"
       "...              dtype=np.uint8)  # (C, H, W) = (1, 4, 4)\n")
_X3 = ">>> x = np.arange(16.0).reshape(1, 2, 2, 4)  # (C, D, H, W)\n"

EXAMPLES = {
    "max_pool1d": _X1 + """\
>>> ndpool.max_pool1d(x, 3, stride=2)
array([[5., 8., 7.]])
>>> out, idx = ndpool.max_pool1d(x, 3, stride=2, return_indices=True)
>>> idx
array([[1, 3, 6]])

A NaN in a window wins, with the index of the window's last NaN:

>>> ndpool.max_pool1d(np.array([[1., np.nan, 3., 2.]]), 2, return_indices=True)
(array([[nan,  3.]]), array([[1, 2]]))""",
    "max_pool2d": _X2 + """\
>>> out, idx = ndpool.max_pool2d(x, 2, return_indices=True)
>>> out
array([[[8, 5],
        [7, 9]]], dtype=uint8)
>>> idx
array([[[ 4,  6],
        [ 9, 10]]])
>>> ndpool.max_pool2d(x, 3, stride=1, padding=1)
array([[[8, 8, 5, 5],
        [8, 9, 9, 9],
        [8, 9, 9, 9],
        [7, 9, 9, 9]]], dtype=uint8)""",
    "max_pool3d": _X3 + """\
>>> out, idx = ndpool.max_pool3d(x, 2, return_indices=True)
>>> out
array([[[[13., 15.]]]])
>>> idx
array([[[[13, 15]]]])""",
    "avg_pool1d": """\
>>> x = np.array([[1., 2., 3., 4., 5.]])
>>> ndpool.avg_pool1d(x, 2)
array([[1.5, 3.5]])
>>> ndpool.avg_pool1d(x, 3, stride=2, padding=1)
array([[1., 3., 3.]])
>>> ndpool.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False)
array([[1.5, 3. , 4.5]])""",
    "avg_pool2d": _X2 + """\
>>> ndpool.avg_pool2d(x, 2)  # integer input: float64 averages
array([[[4.5 , 3.  ],
        [4.25, 5.5 ]]])""",
    "avg_pool3d": _X3 + """\
>>> ndpool.avg_pool3d(x, 2)
array([[[[6.5, 8.5]]]])
>>> ndpool.avg_pool3d(x, (2, 1, 2), divisor_override=2)
array([[[[ 9., 13.],
         [17., 21.]]]])""",
    "adaptive_max_pool1d": _X1 + """\
>>> ndpool.adaptive_max_pool1d(x, 3, return_indices=True)  # bins [0, 3), [2, 5), [4, 7)
(array([[5., 8., 7.]]), array([[1, 3, 6]]))""",
    "adaptive_max_pool2d": _X2 + """\
>>> ndpool.adaptive_max_pool2d(x, (1, None))  # max over H, keep W
array([[[8, 7, 9, 5]]], dtype=uint8)""",
    "adaptive_max_pool3d": _X3 + """\
>>> ndpool.adaptive_max_pool3d(x, (1, 1, 2), return_indices=True)
(array([[[[13., 15.]]]]), array([[[[13, 15]]]]))""",
    "adaptive_avg_pool1d": """\
>>> x = np.array([[1., 2., 3., 4., 5.]])
>>> ndpool.adaptive_avg_pool1d(x, 2)  # bins [0, 3) and [2, 5)
array([[2., 4.]])""",
    "adaptive_avg_pool2d": _X2 + """\
>>> ndpool.adaptive_avg_pool2d(x, 1)  # global average pooling
array([[[4.3125]]])
>>> ndpool.adaptive_avg_pool2d(x, (2, None))
array([[[5. , 4. , 4.5, 1.5],
        [4.5, 4. , 6.5, 4.5]]])""",
    "adaptive_avg_pool3d": _X3 + """\
>>> ndpool.adaptive_avg_pool3d(x, (1, 1, 2))
array([[[[6.5, 8.5]]]])""",
}

EXAMPLES.update({
    "max_pool1d_backward": _X1 + """\
>>> out, idx = ndpool.max_pool1d(x, 3, stride=1, return_indices=True)
>>> idx  # overlapping windows share the maximum at position 3
array([[1, 3, 3, 3, 6]])
>>> ndpool.max_pool1d_backward(np.ones_like(out), idx, x.shape)
array([[0., 1., 0., 3., 0., 0., 1.]])""",
    "max_pool2d_backward": """\
>>> x = np.array([[[2, 3, 4, 2], [8, 5, 5, 1], [6, 7, 9, 4], [3, 1, 4, 5]]],
...              dtype=np.float32)
>>> out, idx = ndpool.max_pool2d(x, 2, return_indices=True)
>>> grad = np.array([[[1, 2], [3, 4]]], dtype=np.float32)
>>> ndpool.max_pool2d_backward(grad, idx, x.shape)
array([[[0., 0., 0., 0.],
        [1., 0., 2., 0.],
        [0., 3., 4., 0.],
        [0., 0., 0., 0.]]], dtype=float32)""",
    "max_pool3d_backward": _X3 + """\
>>> out, idx = ndpool.max_pool3d(x, 2, return_indices=True)
>>> ndpool.max_pool3d_backward(np.ones_like(out), idx, x.shape)
array([[[[0., 0., 0., 0.],
         [0., 0., 0., 0.]],
<BLANKLINE>
        [[0., 0., 0., 0.],
         [0., 1., 0., 1.]]]])""",
    "adaptive_max_pool1d_backward": _X1 + """\
>>> out, idx = ndpool.adaptive_max_pool1d(x, 3, return_indices=True)
>>> ndpool.adaptive_max_pool1d_backward(np.ones_like(out), idx, x.shape)
array([[0., 1., 0., 1., 0., 0., 1.]])""",
    "adaptive_max_pool2d_backward": """\
>>> x = np.array([[[2, 3, 4, 2], [8, 5, 5, 1], [6, 7, 9, 4], [3, 1, 4, 5]]],
...              dtype=np.float32)
>>> out, idx = ndpool.adaptive_max_pool2d(x, (1, None), return_indices=True)
>>> idx
array([[[ 4,  9, 10, 15]]])
>>> ndpool.adaptive_max_pool2d_backward(np.ones_like(out), idx, x.shape)
array([[[0., 0., 0., 0.],
        [1., 0., 0., 0.],
        [0., 1., 1., 0.],
        [0., 0., 0., 1.]]], dtype=float32)""",
    "adaptive_max_pool3d_backward": _X3 + """\
>>> out, idx = ndpool.adaptive_max_pool3d(x, (1, 1, 2), return_indices=True)
>>> ndpool.adaptive_max_pool3d_backward(np.ones_like(out), idx, x.shape)
array([[[[0., 0., 0., 0.],
         [0., 0., 0., 0.]],
<BLANKLINE>
        [[0., 0., 0., 0.],
         [0., 1., 0., 1.]]]])""",
    "avg_pool1d_backward": """\
>>> ndpool.avg_pool1d_backward(np.ones((1, 3)), (1, 4), 2, stride=1)
array([[0.5, 1. , 1. , 0.5]])""",
    "avg_pool2d_backward": """\
>>> grad = np.ones((1, 2, 2), dtype=np.float32)  # 2x2 windows, stride 1, on 3x3
>>> ndpool.avg_pool2d_backward(grad, (1, 3, 3), 2, stride=1)
array([[[0.25, 0.5 , 0.25],
        [0.5 , 1.  , 0.5 ],
        [0.25, 0.5 , 0.25]]], dtype=float32)""",
    "avg_pool3d_backward": """\
>>> ndpool.avg_pool3d_backward(np.ones((1, 1, 1, 2)), (1, 2, 2, 4), 2)
array([[[[0.125, 0.125, 0.125, 0.125],
         [0.125, 0.125, 0.125, 0.125]],
<BLANKLINE>
        [[0.125, 0.125, 0.125, 0.125],
         [0.125, 0.125, 0.125, 0.125]]]])""",
    "adaptive_avg_pool1d_backward": """\
>>> ndpool.adaptive_avg_pool1d_backward(np.array([[1., 2.]]), (1, 3))  # bins [0, 2), [1, 3)
array([[0.5, 1.5, 1. ]])""",
    "adaptive_avg_pool2d_backward": """\
>>> grad = np.array([[[1, 2]]], dtype=np.float32)
>>> ndpool.adaptive_avg_pool2d_backward(grad, (1, 2, 4))
array([[[0.25, 0.25, 0.5 , 0.5 ],
        [0.25, 0.25, 0.5 , 0.5 ]]], dtype=float32)""",
    "adaptive_avg_pool3d_backward": """\
>>> ndpool.adaptive_avg_pool3d_backward(np.array([[[[8.]]]]), (1, 2, 2, 2))
array([[[[1., 1.],
         [1., 1.]],
<BLANKLINE>
        [[1., 1.],
         [1., 1.]]]])""",
})


def examples(name: str) -> str:
    """The numpydoc ``Examples`` section of public function ``name``."""
    return f"\nExamples\n--------\n{EXAMPLES[name]}\n"
