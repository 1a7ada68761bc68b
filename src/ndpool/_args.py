"""Argument validation and normalisation: the one place where user input is checked.

Every public function funnels its arguments through here and gets back plain ints
(one :class:`Axis` per spatial dimension) that the kernels can trust.  Errors name the
function, the argument and the rule, following torch.nn.functional where it has a rule
(docs/semantics.md records torch's behaviour and where ndpool differs).
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

INT32_MAX = 2**31 - 1
DATA_FORMATS = ("channels_first", "channels_last")
_SPATIAL_NAMES = {1: "(L,)", 2: "(H, W)", 3: "(D, H, W)"}


@dataclass(frozen=True)
class Axis:
    """Geometry of one spatial dimension; positions are ``o * stride - pad_lo + t * dilation``."""

    size_in: int
    size_out: int
    kernel: int
    stride: int
    dilation: int
    pad_lo: int
    pad_hi: int


def _as_int(name: str, fn: str, value) -> int:
    if type(value) is int:  # the common case, without the slow ABC check below
        return value
    # bool is an int subclass, but True as a window size is always a mistake.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an int or a tuple of ints, got {value!r}")
    return operator.index(value)


_UNIT_AXIS = Axis(1, 1, 1, 1, 1, 0, 0)


@lru_cache(maxsize=1024)
def axes_table(axes: tuple[Axis, ...]) -> np.ndarray:
    """The kernels' read-only (3, 7) int64 geometry table: D, H, W rows, missing leading
    axes of size 1 (see _common.pxd read_geometry)."""
    rows = [_UNIT_AXIS] * (3 - len(axes)) + list(axes)
    table = np.array(
        [[a.size_in, a.size_out, a.kernel, a.stride, a.dilation, a.pad_lo, a.pad_hi] for a in rows],
        dtype=np.int64,
    )
    table.flags.writeable = False
    return table


def int_tuple(fn: str, name: str, value, nd: int) -> tuple[int, ...]:
    """An int, or a tuple/list of 1 or ``nd`` ints, broadcast to ``nd`` ints."""
    if isinstance(value, (tuple, list)):
        items = [_as_int(name, fn, v) for v in value]
        if len(items) == 1:
            items = items * nd
        if len(items) != nd:
            want = "a single int" if nd == 1 else f"a single int or a tuple of {nd} ints"
            raise ValueError(f"{fn}: {name} must be {want}, got {len(value)} values {tuple(value)!r}")
        values = tuple(items)
    else:
        values = (_as_int(name, fn, value),) * nd
    for v in values:
        if abs(v) > INT32_MAX:
            raise ValueError(f"{fn}: {name} must fit in a 32-bit int, got {value!r}")
    return values


def _positive(fn: str, name: str, values: tuple[int, ...]) -> None:
    if any(v <= 0 for v in values):
        raise ValueError(f"{fn}: {name} must be greater than zero, got {values}")


def pooling_output_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's output length for symmetric padding p, with its ceil-mode drop rule."""
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1  # floor division, as torch's div_rtn
    # In ceil mode the last window must start inside the input or the left padding.
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _same_axis(size: int, k: int, s: int, d: int) -> Axis:
    """Keras/TensorFlow "same": output ceil(I/s), the odd padding cell goes on the right."""
    out = -(-size // s)
    total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
    return Axis(size, out, k, s, d, total // 2, total - total // 2)


def adaptive_bounds(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive bins along one axis: bin o covers [floor(o*In/Out), ceil((o+1)*In/Out))."""
    o = np.arange(size_out, dtype=np.int64)
    return (o * size_in) // size_out, ((o + 1) * size_in + size_out - 1) // size_out


def _check_windows_not_empty(fn: str, axis: Axis) -> None:
    """Reject dilated windows that contain no input element (torch writes out of bounds there).

    Only windows starting in the left padding can be empty: every other start lies inside
    the input, because the ceil-mode drop rule removes windows starting in the right padding.
    """
    o = 0
    while o < axis.size_out and o * axis.stride - axis.pad_lo < 0:
        start = o * axis.stride - axis.pad_lo
        first_tap = -(start // axis.dilation)  # ceil(-start / dilation)
        if first_tap >= axis.kernel or start + first_tap * axis.dilation >= axis.size_in:
            raise ValueError(
                f"{fn}: with dilation={axis.dilation}, kernel_size={axis.kernel} and "
                f"padding={axis.pad_lo}, output window {o} of an input of length {axis.size_in} "
                "covers no input element; reduce padding or dilation"
            )
        o += 1


# typed: ceil_mode=1 must not hit the entry of ceil_mode=True (sizes are made exact ints
# by canonical_sizes before the lookup).
@lru_cache(maxsize=1024, typed=True)
def window_geometry(
    fn: str,
    spatial: tuple[int, ...],
    kernel_size,
    stride,
    padding,
    dilation,
    ceil_mode: bool,
) -> tuple[Axis, ...]:
    """Validate window arguments for an input with spatial shape ``spatial``.

    Size arguments must already be canonical (:func:`canonical_sizes`); results are cached
    because small inputs are dominated by this Python work.
    """
    nd = len(spatial)
    kernel = int_tuple(fn, "kernel_size", kernel_size, nd)
    if stride is None or (isinstance(stride, tuple) and len(stride) == 0):
        strides = kernel  # torch: stride defaults to kernel_size
    else:
        strides = int_tuple(fn, "stride", stride, nd)
    dil = int_tuple(fn, "dilation", dilation, nd)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{fn}: ceil_mode must be a bool, got {ceil_mode!r}")
    _positive(fn, "kernel_size", kernel)
    _positive(fn, "stride", strides)
    _positive(fn, "dilation", dil)

    if isinstance(padding, str):
        if padding == "valid":
            pads = (0,) * nd
        elif padding == "same":
            if ceil_mode:
                raise ValueError(f"{fn}: ceil_mode=True cannot be combined with padding='same'")
            axes = tuple(_same_axis(*a) for a in zip(spatial, kernel, strides, dil))
            for axis in axes:
                _check_windows_not_empty(fn, axis)
            return axes
        else:
            raise ValueError(f"{fn}: padding must be an int, a tuple of ints, 'valid' or 'same', got {padding!r}")
    else:
        pads = int_tuple(fn, "padding", padding, nd)
    if any(p < 0 for p in pads):
        raise ValueError(f"{fn}: padding must be non-negative, got {pads}")
    # torch 2.13 bounds padding by half the *undilated* kernel.
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ValueError(f"{fn}: padding must be at most half of kernel_size, got padding={pads} and kernel_size={kernel}")

    axes = []
    for size, k, s, p, d in zip(spatial, kernel, strides, pads, dil):
        out = pooling_output_size(size, k, s, p, d, bool(ceil_mode))
        if out < 1:
            raise ValueError(
                f"{fn}: input of spatial size {spatial} is too small for kernel_size={kernel}, "
                f"stride={strides}, padding={pads}, dilation={dil}: output size would be {out}"
            )
        axes.append(Axis(size, out, k, s, d, p, p))
    for axis in axes:
        _check_windows_not_empty(fn, axis)
    return tuple(axes)


@dataclass(frozen=True)
class AdaptiveAxis:
    """One spatial dimension of adaptive pooling; its bins are ``adaptive_bounds(size_in, size_out)``."""

    size_in: int
    size_out: int


def adaptive_output_size(fn: str, spatial: tuple[int, ...], output_size) -> tuple[int, ...]:
    """``output_size`` as one int per spatial axis: an int for every axis, or a tuple/list of
    ``nd`` entries, each an int or None (None keeps that axis's input size).  0 is allowed and
    gives an empty output, as in torch."""
    nd = len(spatial)
    if isinstance(output_size, np.ndarray):
        output_size = output_size.tolist()
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            entries = "1 value, an int or None" if nd == 1 else f"{nd} values, each an int or None"
            raise ValueError(f"{fn}: output_size must be an int or a tuple of {entries}, "
                             f"got {len(output_size)} values {tuple(output_size)!r}")
        sizes = tuple(size if v is None else _as_int("output_size", fn, v)
                      for v, size in zip(output_size, spatial))
    else:
        sizes = (_as_int("output_size", fn, output_size),) * nd
    if any(v < 0 for v in sizes):
        raise ValueError(f"{fn}: output_size must be non-negative, got {sizes}")
    if any(v > INT32_MAX for v in sizes):
        raise ValueError(f"{fn}: output_size must fit in a 32-bit int, got {sizes}")
    return sizes


def canonical_sizes(fn: str, name: str, value):
    """Exact ints, or tuples of them (from any sequence); None and strings pass through.

    This runs before the geometry cache, whose keys compare by equality: without it,
    2.0 or True would hit the cache entry of 2 or 1 and escape the type check.
    """
    if type(value) is int or value is None or isinstance(value, str):
        return value
    if type(value) is tuple and all(type(v) is int for v in value):
        return value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (tuple, list)):
        return tuple(_as_int(name, fn, v) for v in value)
    return _as_int(name, fn, value)


def check_data_format(fn: str, data_format) -> bool:
    """True for channels-last data."""
    if data_format not in DATA_FORMATS:
        raise ValueError(f"{fn}: data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
    return data_format == "channels_last"


def check_num_threads(fn: str, num_threads) -> int | None:
    if num_threads is None:
        return None
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"{fn}: num_threads must be None or a positive int, got {num_threads!r}")
    if num_threads < 1:
        raise ValueError(f"{fn}: num_threads must be None or a positive int, got {num_threads}")
    return int(num_threads)


def check_divisor(fn: str, divisor_override) -> int:
    """0 stands for "no override" in the kernels; an explicit 0 is an error, as in torch."""
    if divisor_override is None:
        return 0
    if isinstance(divisor_override, (bool, np.bool_)) or not isinstance(divisor_override, numbers.Integral):
        raise TypeError(f"{fn}: divisor_override must be None or a non-zero int, got {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{fn}: divisor_override must not be zero")
    if abs(divisor_override) > INT32_MAX:
        raise ValueError(f"{fn}: divisor_override must fit in a 32-bit int, got {divisor_override}")
    return int(divisor_override)


def layout_name(nd: int, channels_last: bool) -> str:
    """How an ``nd``-spatial array of the given data format is shaped, for messages."""
    spatial = _SPATIAL_NAMES[nd][1:-1].rstrip(",")
    return f"(N, {spatial}, C) or ({spatial}, C)" if channels_last else f"(N, C, {spatial}) or (C, {spatial})"


def spatial_shape(shape: tuple[int, ...], nd: int, channels_last: bool) -> tuple[int, ...]:
    return tuple(shape[-nd - 1 : -1] if channels_last else shape[-nd:])


def check_input(fn: str, x, nd: int, channels_last: bool) -> tuple[np.ndarray, bool]:
    """Return the input as an ndarray and whether it is batched; checks rank and sizes."""
    x = np.asarray(x)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: input must be {nd + 1}-D or {nd + 2}-D {layout_name(nd, channels_last)}, "
                         f"got an array of shape {x.shape}")
    batched = x.ndim == nd + 2
    non_batch = x.shape[1:] if batched else x.shape
    if 0 in non_batch:
        raise ValueError(f"{fn}: input must have non-zero channel and spatial sizes, got shape {x.shape}")
    return x, batched


def check_dtype(fn: str, dtype: np.dtype) -> None:
    """float32, float64, bool and every integer type; nothing else has a kernel."""
    if (dtype.kind == "f" and dtype.itemsize in (4, 8)) or dtype.kind in "biu":
        return
    hint = "; cast it to float32 or float64" if dtype.kind == "f" else ""
    raise TypeError(f"{fn}: input dtype {dtype} is not supported (expected float32, float64, bool or an integer type){hint}")


@dataclass(frozen=True)
class Call:
    """A validated forward call: native-byte-order input, its geometry (one Axis, or one
    AdaptiveAxis, per spatial dimension) and the call's options."""

    x: np.ndarray
    batched: bool
    channels_last: bool
    num_threads: int | None
    axes: tuple


def _validate_input(fn, nd, input, data_format, num_threads):
    """The checks every forward function starts with, in one order."""
    channels_last = check_data_format(fn, data_format)
    requested = check_num_threads(fn, num_threads)
    x, batched = check_input(fn, input, nd, channels_last)
    check_dtype(fn, x.dtype)
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x, batched, channels_last, requested


def window_axes(fn, spatial, kernel_size, stride, padding, dilation, ceil_mode) -> tuple[Axis, ...]:
    """:func:`window_geometry` for raw user arguments (canonicalised first, see there)."""
    return window_geometry(
        fn,
        tuple(spatial),
        canonical_sizes(fn, "kernel_size", kernel_size),
        canonical_sizes(fn, "stride", stride),
        canonical_sizes(fn, "padding", padding),
        canonical_sizes(fn, "dilation", dilation),
        ceil_mode,
    )


def validate_call(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode, data_format,
                  num_threads) -> Call:
    """Everything the max and average functions check, in one order, for both ndpool and
    ndpool.reference (so that they raise identical errors)."""
    x, batched, channels_last, requested = _validate_input(fn, nd, input, data_format, num_threads)
    axes = window_axes(fn, spatial_shape(x.shape, nd, channels_last), kernel_size, stride, padding,
                       dilation, ceil_mode)
    return Call(x, batched, channels_last, requested, axes)


def validate_adaptive_call(fn, nd, input, output_size, data_format, num_threads) -> Call:
    """Everything the adaptive functions check, for both ndpool and ndpool.reference."""
    x, batched, channels_last, requested = _validate_input(fn, nd, input, data_format, num_threads)
    spatial = spatial_shape(x.shape, nd, channels_last)
    sizes = adaptive_output_size(fn, spatial, output_size)
    return Call(x, batched, channels_last, requested,
                tuple(AdaptiveAxis(i, o) for i, o in zip(spatial, sizes)))


def check_running_sums(fn: str, running_sums) -> bool:
    if not isinstance(running_sums, (bool, np.bool_)):
        raise TypeError(f"{fn}: running_sums must be a bool, got {running_sums!r}")
    return bool(running_sums)


def avg_options(fn, padding, count_include_pad, divisor_override) -> tuple[bool, int]:
    """(count_include_pad, divisor or 0); padded cells never count with padding="same"."""
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"{fn}: count_include_pad must be a bool, got {count_include_pad!r}")
    divisor = check_divisor(fn, divisor_override)
    if isinstance(padding, str) and padding == "same":
        return False, divisor  # Keras/TF
    return bool(count_include_pad), divisor


# ---------------------------------------------------------------------------------------
# Backward (input-gradient) functions


def check_grad_output(fn: str, grad_output, nd: int, channels_last: bool) -> tuple[np.ndarray, bool]:
    """grad_output as a native-byte-order float32/float64 array, and whether it is batched."""
    g = np.asarray(grad_output)
    if g.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: grad_output must be {nd + 1}-D or {nd + 2}-D {layout_name(nd, channels_last)}, "
                         f"got an array of shape {g.shape}")
    if g.dtype.kind != "f" or g.dtype.itemsize not in (4, 8):
        raise TypeError(f"{fn}: grad_output dtype {g.dtype} is not supported (expected float32 or float64)")
    if not g.dtype.isnative:
        g = g.astype(g.dtype.newbyteorder("="))
    return g, g.ndim == nd + 2


def check_input_shape(fn: str, input_shape, grad_shape: tuple[int, ...], nd: int,
                      channels_last: bool) -> tuple[int, ...]:
    """The forward input's shape: same rank, batch and channel sizes as grad_output."""
    if not isinstance(input_shape, (tuple, list)) or any(
        isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) for v in input_shape
    ):
        raise TypeError(f"{fn}: input_shape must be a tuple or list of ints, got {input_shape!r}")
    shape = tuple(operator.index(v) for v in input_shape)
    if len(shape) != len(grad_shape):
        raise ValueError(f"{fn}: input_shape must have {len(grad_shape)} entries, like grad_output "
                         f"{layout_name(nd, channels_last)}, got {shape}")
    batched = len(shape) == nd + 2
    if any(v <= 0 for v in (shape[1:] if batched else shape)):
        raise ValueError(f"{fn}: input_shape must have non-zero channel and spatial sizes, got {shape}")
    # The gradient is allocated with this shape: reject sizes no array can have.
    if math.prod(max(v, 1) for v in shape) > np.iinfo(np.intp).max // 8:
        raise ValueError(f"{fn}: input_shape {shape} has more elements than an array can hold")
    channel = -1 if channels_last else int(batched)
    if (batched and shape[0] != grad_shape[0]) or shape[channel] != grad_shape[channel]:
        raise ValueError(f"{fn}: input_shape {shape} must have the batch and channel sizes of "
                         f"grad_output, whose shape is {grad_shape}")
    return shape


def check_indices(fn: str, indices, grad_shape: tuple[int, ...]) -> np.ndarray:
    """int64 indices of exactly grad_output's shape (their range is checked by the kernel)."""
    idx = np.asarray(indices)
    if idx.dtype.kind != "i" or idx.dtype.itemsize != 8:
        raise TypeError(f"{fn}: indices must be int64 (as returned with return_indices=True), got dtype {idx.dtype}")
    if idx.shape != grad_shape:
        raise ValueError(f"{fn}: indices must have the shape of grad_output {grad_shape}, got {idx.shape}")
    if not idx.dtype.isnative:
        idx = idx.astype(np.int64)
    return idx


def index_range_error(fn: str, count: int, plane: int) -> ValueError:
    return ValueError(f"{fn}: indices must lie in [0, {plane}) (flat positions in an input plane), "
                      f"got {count} out-of-range value{'s' if count > 1 else ''}")


@dataclass(frozen=True)
class BackwardCall:
    """A validated backward call: native-byte-order gradient (and indices), the forward
    input's shape in the user's layout and its spatial part, and the call's options."""

    grad: np.ndarray
    indices: np.ndarray | None
    input_shape: tuple[int, ...]
    spatial_in: tuple[int, ...]
    batched: bool
    channels_last: bool
    num_threads: int | None

    @property
    def spatial_out(self) -> tuple[int, ...]:
        return spatial_shape(self.grad.shape, len(self.spatial_in), self.channels_last)


def validate_backward(fn, nd, grad_output, input_shape, indices, data_format, num_threads,
                      with_indices: bool) -> BackwardCall:
    """What every backward function checks, in one order, for ndpool and ndpool.reference."""
    channels_last = check_data_format(fn, data_format)
    requested = check_num_threads(fn, num_threads)
    grad, batched = check_grad_output(fn, grad_output, nd, channels_last)
    shape = check_input_shape(fn, input_shape, grad.shape, nd, channels_last)
    idx = check_indices(fn, indices, grad.shape) if with_indices else None
    return BackwardCall(grad, idx, shape, spatial_shape(shape, nd, channels_last), batched,
                        channels_last, requested)


def avg_backward_geometry(fn, call: BackwardCall, kernel_size, stride, padding, ceil_mode) -> tuple[Axis, ...]:
    """The forward's window geometry for input_shape (the same checks as the forward), then
    the check that grad_output has the forward output's shape."""
    axes = window_axes(fn, call.spatial_in, kernel_size, stride, padding, 1, ceil_mode)
    want = tuple(a.size_out for a in axes)
    if call.spatial_out != want:
        raise ValueError(f"{fn}: grad_output has spatial shape {call.spatial_out}, but the forward "
                         f"output for input_shape {call.input_shape} has spatial shape {want}")
    return axes
