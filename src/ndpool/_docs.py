"""Docstring pieces shared by the public modules (forward, adaptive, backward)."""

# Array shapes per spatial rank: (channels_first, channels_last).
SHAPES = {
    1: ("(N, C, L) or (C, L)", "(N, L, C) or (L, C)"),
    2: ("(N, C, H, W) or (C, H, W)", "(N, H, W, C) or (H, W, C)"),
    3: ("(N, C, D, H, W) or (C, D, H, W)", "(N, D, H, W, C) or (D, H, W, C)"),
}

# How max-pooling indices flatten a position within one (n, c) plane.
FLAT_INDEX = {1: "w", 2: "h * W + w", 3: "(d * H + h) * W + w"}


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
