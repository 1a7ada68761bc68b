"""Bad arguments raise ValueError/TypeError naming the argument and the rule."""

import numpy as np
import pytest

import ndpool

X1 = np.zeros((2, 3, 8), np.float32)
X2 = np.zeros((2, 3, 8, 8), np.float32)
X3 = np.zeros((2, 3, 4, 4, 4), np.float32)
INPUTS = {1: X1, 2: X2, 3: X3}

# (function, input, args, kwargs, exception, message pattern)
CASES = [
    # kernel_size / stride / dilation must be positive
    ("max_pool2d", X2, (0,), {}, ValueError, "kernel_size must be greater than zero"),
    ("max_pool2d", X2, ((2, -1),), {}, ValueError, "kernel_size must be greater than zero"),
    ("avg_pool1d", X1, (2,), {"stride": 0}, ValueError, "stride must be greater than zero"),
    ("max_pool3d", X3, (2,), {"stride": (1, 0, 1)}, ValueError, "stride must be greater than zero"),
    ("max_pool1d", X1, (2,), {"dilation": 0}, ValueError, "dilation must be greater than zero"),
    # padding
    ("max_pool2d", X2, (3,), {"padding": 2}, ValueError, "padding must be at most half of kernel_size"),
    ("avg_pool2d", X2, (2,), {"padding": -1}, ValueError, "padding must be non-negative"),
    ("max_pool2d", X2, (3,), {"padding": 2, "dilation": 2}, ValueError, "at most half of kernel_size"),
    ("max_pool2d", X2, (2,), {"padding": "full"}, ValueError, "padding must be .*'valid' or 'same'"),
    ("avg_pool2d", X2, (2,), {"padding": "same", "ceil_mode": True}, ValueError, "ceil_mode=True cannot be combined"),
    # output too small
    ("max_pool2d", X2, (9,), {}, ValueError, "too small.*output size would be 0"),
    ("avg_pool3d", X3, (5,), {}, ValueError, "too small"),
    # empty dilated windows (torch writes out of bounds here)
    ("max_pool1d", np.zeros((1, 1, 1)), (2,), {"stride": 1, "padding": 1, "dilation": 2}, ValueError,
     "covers no input element"),
    # wrong tuple lengths and types
    ("max_pool2d", X2, ((2, 2, 2),), {}, ValueError, "kernel_size must be a single int or a tuple of 2 ints"),
    ("max_pool1d", X1, ((2, 2),), {}, ValueError, "kernel_size must be a single int"),
    ("avg_pool3d", X3, (2,), {"stride": (1, 1)}, ValueError, "stride must be a single int or a tuple of 3"),
    ("max_pool2d", X2, (2.0,), {}, TypeError, "kernel_size must be an int"),
    ("max_pool2d", X2, ("2",), {}, TypeError, "kernel_size must be an int"),
    ("max_pool2d", X2, (True,), {}, TypeError, "kernel_size must be an int"),
    ("max_pool2d", X2, ({2: 2},), {}, TypeError, "kernel_size must be an int"),
    ("max_pool2d", X2, (2,), {"padding": 1.5}, TypeError, "padding must be an int"),
    ("max_pool2d", X2, (2,), {"ceil_mode": "yes"}, TypeError, "ceil_mode must be a bool"),
    ("avg_pool2d", X2, (2,), {"count_include_pad": None}, TypeError, "count_include_pad must be a bool"),
    # huge values
    ("max_pool2d", X2, (2**31,), {}, ValueError, "kernel_size must fit in a 32-bit int"),
    ("max_pool2d", X2, (2,), {"stride": 2**63}, ValueError, "stride must fit in a 32-bit int"),
    # divisor_override
    ("avg_pool2d", X2, (2,), {"divisor_override": 0}, ValueError, "divisor_override must not be zero"),
    ("avg_pool2d", X2, (2,), {"divisor_override": 1.5}, TypeError, "divisor_override must be None or a non-zero int"),
    # rank and sizes
    ("max_pool2d", np.zeros((8, 8)), (2,), {}, ValueError, r"input must be 3-D or 4-D \(N, C, H, W\)"),
    ("max_pool1d", np.zeros((1, 1, 1, 8)), (2,), {}, ValueError, "input must be 2-D or 3-D"),
    ("max_pool3d", np.zeros(8), (2,), {}, ValueError, "input must be 4-D or 5-D"),
    ("avg_pool2d", np.zeros((8, 8)), (2,), {"data_format": "channels_last"}, ValueError, r"input must be 3-D or 4-D \(N, H, W, C\)"),
    ("max_pool2d", np.zeros((2, 0, 8, 8)), (2,), {}, ValueError, "non-zero channel and spatial sizes"),
    ("avg_pool1d", np.zeros((2, 3, 0)), (1,), {}, ValueError, "non-zero channel and spatial sizes"),
    ("max_pool2d", np.float32(1.0), (1,), {}, ValueError, "input must be 3-D or 4-D"),
    # dtypes
    ("max_pool2d", X2.astype(np.float16), (2,), {}, TypeError, "float16 is not supported.*cast it to float32"),
    ("avg_pool2d", X2.astype(np.complex64), (2,), {}, TypeError, "complex64 is not supported"),
    ("max_pool1d", np.zeros((1, 2, 4), dtype=object), (2,), {}, TypeError, "dtype object is not supported"),
    ("max_pool1d", np.full((1, 2, 4), "a"), (2,), {}, TypeError, "is not supported"),
    # keyword-only extras
    ("max_pool2d", X2, (2,), {"data_format": "NHWC"}, ValueError, "data_format must be 'channels_first' or 'channels_last'"),
    ("max_pool2d", X2, (2,), {"num_threads": 0}, ValueError, "num_threads must be None or a positive int"),
    ("avg_pool2d", X2, (2,), {"num_threads": 1.0}, TypeError, "num_threads must be None or a positive int"),
]


@pytest.mark.parametrize("name,x,args,kwargs,exc,match", CASES, ids=[f"{c[0]}-{c[5][:40]}" for c in CASES])
def test_bad_arguments_raise(name, x, args, kwargs, exc, match):
    fn = getattr(ndpool, name)
    with pytest.raises(exc, match=match) as info:
        fn(x, *args, **kwargs)
    assert str(info.value).startswith(name + ":"), "messages start with the function name"


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_reference_raises_the_same_errors(op, nd):
    from ndpool import reference

    x = INPUTS[nd]
    for args, kwargs in [((0,), {}), ((2,), {"stride": -1}), ((3,), {"padding": 2}), ((100,), {})]:
        with pytest.raises(ValueError) as fast:
            getattr(ndpool, f"{op}_pool{nd}d")(x, *args, **kwargs)
        with pytest.raises(ValueError) as ref:
            getattr(reference, f"{op}_pool{nd}d")(x, *args, **kwargs)
        assert str(fast.value) == str(ref.value)


@pytest.mark.parametrize("good,bad", [(2, 2.0), (1, True), ((2, 2), (2.0, 2)), (2, np.float64(2))])
def test_type_errors_do_not_depend_on_earlier_calls(good, bad):
    # Geometry is cached; equal-comparing values of the wrong type must still be rejected.
    ndpool.max_pool2d(X2, good)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        ndpool.max_pool2d(X2, bad)


@pytest.mark.parametrize("bad", [1, 0, 1.0, np.int64(1)])
def test_ceil_mode_type_error_does_not_depend_on_earlier_calls(bad):
    ndpool.max_pool2d(X2, 2, ceil_mode=bool(bad))
    with pytest.raises(TypeError, match="ceil_mode must be a bool"):
        ndpool.max_pool2d(X2, 2, ceil_mode=bad)


def test_errors_do_not_depend_on_layout():
    x = np.moveaxis(X2, 1, -1)
    with pytest.raises(ValueError, match="padding must be at most half"):
        ndpool.max_pool2d(x, 2, padding=2, data_format="channels_last")
