"""Shared pieces of the backward tests: how grad_output, indices and input_shape are passed,
and random adaptive configurations."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from _helpers import with_layout

# Memory variants of an (N, C, *spatial) array that keep its logical values (see with_layout);
# "torch_channels_last" is channels-last memory made by torch itself (torch tests only).
MEMORY = ["contiguous", "channels_last_memory", "inner_strided", "outer_strided", "reversed",
          "readonly", "broadcast_batch"]


def bfunc(op: str, nd: int, module):
    return getattr(module, f"{op}_pool{nd}d_backward")


@st.composite
def arrangements(draw, n: int):
    """How a call passes its arrays: (data_format, batched, grad memory, indices memory)."""
    data_format = draw(st.sampled_from(["channels_first", "channels_last"]))
    batched = n != 1 or draw(st.booleans())
    return data_format, batched, draw(st.sampled_from(MEMORY)), draw(st.sampled_from(MEMORY))


def arrange(x: np.ndarray, memory: str, data_format: str, batched: bool):
    """(array to pass, its logical (N, C, *spatial) values): x in a memory variant, then
    viewed in the data format, without the batch axis when unbatched (N == 1)."""
    passed, logical, _, _ = with_layout(x, memory)
    if data_format == "channels_last":
        passed = np.moveaxis(passed, 1, -1)
    if not batched:
        passed = passed[0]
    return passed, logical


def arrange_shape(shape: tuple[int, ...], data_format: str, batched: bool) -> tuple[int, ...]:
    """An (N, C, *spatial) shape as input_shape for the given data format and batching."""
    if data_format == "channels_last":
        shape = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return tuple(shape) if batched else tuple(shape[1:])


def logical(result: np.ndarray, data_format: str, batched: bool) -> np.ndarray:
    """Undo arrange on a result: back to (N, C, *spatial)."""
    if not batched:
        result = result[np.newaxis]
    return np.moveaxis(result, -1, 1) if data_format == "channels_last" else result


@st.composite
def adaptive_configs(draw, nd: int | None = None, max_size: int = 9):
    """(input shape (N, C, *spatial), output spatial size): bins may overlap and repeat."""
    nd = nd or draw(st.integers(1, 3))
    spatial_in = tuple(draw(st.integers(1, max_size)) for _ in range(nd))
    spatial_out = tuple(draw(st.integers(1, max_size)) for _ in range(nd))
    return (draw(st.integers(0, 2)), draw(st.integers(1, 5))) + spatial_in, spatial_out


def adaptive_avg_forward(x: np.ndarray, out_size: tuple[int, ...]) -> np.ndarray:
    """A plain float64 adaptive average of (N, C, *spatial): bin o along an axis of length I
    covers [floor(o*I/O), ceil((o+1)*I/O))."""
    nd = len(out_size)
    out = np.empty(x.shape[:2] + tuple(out_size))
    for o in np.ndindex(*out_size):
        window = tuple(slice((i * n) // m, -(-((i + 1) * n) // m))
                       for i, n, m in zip(o, x.shape[2:], out_size))
        out[(Ellipsis,) + o] = x[(Ellipsis,) + window].mean(axis=tuple(range(2, 2 + nd)))
    return out
