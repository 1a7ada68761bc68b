"""Shared test helpers: random pooling configurations and memory-layout variants."""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import ndpool

FLOAT_DTYPES = [np.float32, np.float64]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
MAX_DTYPES = FLOAT_DTYPES + INT_DTYPES + [np.bool_]

# Ways the same logical (N, C, *spatial) array can sit in memory.
LAYOUTS = ["contiguous", "channels_last_memory", "inner_strided", "outer_strided", "reversed",
           "readonly", "broadcast_batch", "data_format_channels_last", "unbatched"]


def func(op: str, nd: int, module=ndpool):
    return getattr(module, f"{op}_pool{nd}d")


def random_values(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Values with many ties, signed zeros, infinities and NaNs (floats) or extremes (ints)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.3
    if dtype.kind == "f":
        specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], dtype=dtype)
        x = rng.standard_normal(shape).astype(dtype)
        mask = rng.random(shape) < 0.25
        x[mask] = rng.choice(specials, size=int(mask.sum()))
        return x
    info = np.iinfo(dtype)
    x = rng.integers(-3, 4, size=shape).clip(info.min, info.max).astype(dtype)
    mask = rng.random(shape) < 0.1
    x[mask] = rng.choice(np.array([info.min, info.max], dtype=dtype), size=int(mask.sum()))
    return x


def with_layout(x: np.ndarray, layout: str):
    """Return (array to pass, logical values, data_format, output -> channels-first).

    The passed array holds the logical values in the given memory layout; they equal ``x``
    except for broadcast_batch, which repeats the first batch item.
    """
    ident = lambda y: y  # noqa: E731
    if layout == "contiguous":
        return x, x, "channels_first", ident
    if layout == "channels_last_memory":
        y = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
        return y, x, "channels_first", ident
    if layout == "inner_strided":
        base = np.repeat(x, 2, axis=-1)
        return base[..., ::2], x, "channels_first", ident
    if layout == "outer_strided":
        base = np.repeat(x, 3, axis=1)
        return base[:, ::3], x, "channels_first", ident
    if layout == "reversed":
        base = np.ascontiguousarray(x[..., ::-1])
        return base[..., ::-1], x, "channels_first", ident
    if layout == "readonly":
        y = x.copy()
        y.flags.writeable = False
        return y, x, "channels_first", ident
    if layout == "broadcast_batch":
        y = np.broadcast_to(x[:1], x.shape)
        return y, np.ascontiguousarray(y), "channels_first", ident
    if layout == "unbatched":  # (C, *spatial): the batch axis is dropped when N == 1
        if x.shape[0] != 1:
            return x, x, "channels_first", ident
        return x[0], x, "channels_first", lambda y: y[np.newaxis]
    if layout == "data_format_channels_last":
        return np.moveaxis(x, 1, -1), x, "channels_last", lambda y: np.moveaxis(y, -1, 1)
    raise ValueError(layout)


@st.composite
def pool_configs(draw, op: str, nd: int | None = None, allow_same: bool = True, max_size: int = 9):
    """A valid (shape, kwargs) for op in {"max", "avg"}; shapes are (N, C, *spatial)."""
    nd = nd or draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    stride = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 4)] * nd)))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd)) if op == "max" else (1,) * nd
    padding_kind = draw(st.sampled_from(["int", "same", "valid"] if allow_same else ["int"]))
    if padding_kind == "int":
        padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    else:
        padding = padding_kind
    ceil_mode = padding_kind != "same" and draw(st.booleans())
    pads = padding if isinstance(padding, tuple) else (0,) * nd
    # Big enough that (for explicit padding) at least one window fits.
    spatial = tuple(
        draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), max(1, d * (k - 1) + 1 - 2 * p) + max_size))
        for k, d, p in zip(kernel, dilation, pads)
    )
    n = draw(st.integers(0, 2))
    c = draw(st.integers(1, 5))
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if op == "max":
        kwargs.update(dilation=dilation, return_indices=draw(st.booleans()))
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        if draw(st.booleans()):
            kwargs["divisor_override"] = draw(st.integers(-5, 9).filter(bool))
    # Users pass the same sizes as ints, tuples or lists; all must mean the same.
    form = draw(st.sampled_from(["tuple", "list", "int"]))
    for name in ("kernel_size", "stride", "padding", "dilation"):
        value = kwargs.get(name)
        if isinstance(value, tuple):
            if form == "list":
                kwargs[name] = list(value)
            elif form == "int" and len(set(value)) == 1:
                kwargs[name] = value[0]
    return (n, c) + spatial, kwargs


def call_or_reject(fn, *args, **kwargs):
    """Call fn; hypothesis discards configurations that validation rightly rejects."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        # The one rejection the generator does not avoid: a dilated window that starts in
        # the padding and skips over the whole input (torch writes out of bounds there).
        if "covers no input element" not in str(exc):
            raise
        assume(False)
