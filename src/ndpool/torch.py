"""PyTorch drop-ins: ndpool's kernels behind torch.nn.functional's and torch.nn's pooling.

``ndpool.torch.max_pool2d(x, 3, 2, 1)`` and ``ndpool.torch.MaxPool2d(3, 2, 1)`` take the
same arguments as their ``torch.nn.functional`` and ``torch.nn`` namesakes (the modules
subclass them) and give the same results, indices and gradients.  On CPU tensors of a
dtype ndpool computes with torch's semantics, ndpool's kernels run on the tensor's memory
in place (``t.detach().numpy()`` shares it, contiguous and channels_last alike) and the
result is wrapped without a copy (``torch.from_numpy`` keeps its strides, so channels_last
in gives channels_last out).  Gradients come from ndpool's ``*_backward`` functions through
``torch.autograd.Function``.  Everything else (other devices, float16, bfloat16, integer
averages, tensor subclasses with ``__torch_function__``, forward-mode AD dual tensors) runs
torch's own op unchanged.

Every function and module takes an optional keyword ``num_threads``; by default ndpool
uses ``torch.get_num_threads()`` threads, so ``torch.set_num_threads`` governs both.
"""

from __future__ import annotations

import inspect

try:
    import torch
except ImportError as exc:  # torch missing, or blocked with sys.modules["torch"] = None
    raise ImportError(
        "ndpool.torch needs PyTorch, which could not be imported; install it with "
        "`pip install torch` (the rest of ndpool works without it)"
    ) from exc

import torch.nn.functional as F
from torch.autograd.forward_ad import unpack_dual
from torch.autograd.function import once_differentiable

import ndpool

__all__ = [
    f"{op}{nd}d"
    for op in ("max_pool", "avg_pool", "adaptive_max_pool", "adaptive_avg_pool",
               "MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool")
    for nd in (1, 2, 3)
]

_FLOATS = frozenset({torch.float32, torch.float64})
# Max pooling also takes bool and every integer type (no gradient, as in torch).
_INTEGERS = frozenset(
    getattr(torch, name)
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64")
    if hasattr(torch, name)
)


def _runs_in_ndpool(x, integers: bool) -> bool:
    """Whether ndpool computes this call; otherwise torch's own op runs."""
    return (
        isinstance(x, torch.Tensor)
        and x.device.type == "cpu"
        and x.layout == torch.strided
        and (x.dtype in _FLOATS or (integers and x.dtype in _INTEGERS))
        and not torch.overrides.has_torch_function_unary(x)
        and unpack_dual(x).tangent is None  # forward-mode AD: torch's ops carry tangents
    )


def _array(t: torch.Tensor):
    return t.detach().resolve_neg().numpy()  # shares memory, strides included


def _threads(num_threads):
    return torch.get_num_threads() if num_threads is None else num_threads


def _save(ctx, x, name, num_threads, window=()):
    ctx.name, ctx.input_shape, ctx.num_threads, ctx.window = name, tuple(x.shape), num_threads, window
    # Channels-last memory that is not also contiguous (see _gradient).
    ctx.channels_last = x.dim() in (4, 5) and not x.is_contiguous() and x.is_contiguous(
        memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)


def _gradient(ctx, grad_output, idx=None):
    """ndpool's gradient for the saved call, in the input's memory layout.

    ndpool's result follows grad_output's memory.  After global pooling (output sizes all
    1) grad_output fits both layouts and ndpool reads it in its data_format's, so for a
    channels-last input it goes in as (N, 1, 1, C), read channels-last, and the result
    comes back to (N, C, H, W) as a view.
    """
    g, shape, data_format = grad_output.detach(), ctx.input_shape, "channels_first"
    nd = int(ctx.name[-2])
    if ctx.channels_last and all(size == 1 for size in g.shape[-nd:]):
        g, shape, data_format = g.movedim(1, -1), shape[:1] + shape[2:] + shape[1:2], "channels_last"
        idx = None if idx is None else idx.movedim(1, -1)
    arrays = (_array(g),) if idx is None else (_array(g), idx.numpy())
    grad = torch.from_numpy(getattr(ndpool, ctx.name + "_backward")(
        *arrays, shape, *ctx.window, data_format=data_format, num_threads=ctx.num_threads))
    return grad.movedim(-1, 1) if data_format == "channels_last" else grad


class _IndexedPool(torch.autograd.Function):
    """Max and adaptive max: forward keeps the indices, backward adds grad_output at them."""

    @staticmethod
    def forward(ctx, x, name, args, num_threads):
        out, idx = getattr(ndpool, name)(_array(x), *args, return_indices=True,
                                         num_threads=num_threads)
        idx = torch.from_numpy(idx)
        ctx.mark_non_differentiable(idx)
        ctx.save_for_backward(idx)
        _save(ctx, x, name, num_threads)
        return torch.from_numpy(out), idx

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, _grad_indices):
        (idx,) = ctx.saved_tensors
        return _gradient(ctx, grad_output, idx), None, None, None


class _AveragePool(torch.autograd.Function):
    """Average and adaptive average: backward needs only the input shape and the window."""

    @staticmethod
    def forward(ctx, x, name, args, num_threads):
        out = getattr(ndpool, name)(_array(x), *args, num_threads=num_threads)
        # avg_poolNd_backward takes the forward's window arguments; the adaptive one none.
        _save(ctx, x, name, num_threads, () if name.startswith("adaptive") else args)
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        return _gradient(ctx, grad_output), None, None, None


def _indexed(name, x, args, return_indices, num_threads):
    if not _runs_in_ndpool(x, integers=True):
        return getattr(F, name)(x, *args, return_indices=return_indices)
    return _ndpool_indexed(name, x, args, return_indices, num_threads)


def _averaged(name, x, args, num_threads):
    if not _runs_in_ndpool(x, integers=False):
        return getattr(F, name)(x, *args)
    return _ndpool_averaged(name, x, args, num_threads)


# torch.compile runs these eagerly (a graph break) instead of tracing into ndpool.
@torch.compiler.disable
def _ndpool_indexed(name, x, args, return_indices, num_threads):
    num_threads = _threads(num_threads)
    if torch.is_grad_enabled() and x.requires_grad:
        out, idx = _IndexedPool.apply(x, name, args, num_threads)
        return (out, idx) if return_indices else out
    result = getattr(ndpool, name)(_array(x), *args, return_indices=return_indices,
                                   num_threads=num_threads)
    if return_indices:
        return torch.from_numpy(result[0]), torch.from_numpy(result[1])
    return torch.from_numpy(result)


@torch.compiler.disable
def _ndpool_averaged(name, x, args, num_threads):
    num_threads = _threads(num_threads)
    if torch.is_grad_enabled() and x.requires_grad:
        return _AveragePool.apply(x, name, args, num_threads)
    return torch.from_numpy(getattr(ndpool, name)(_array(x), *args, num_threads=num_threads))


# ---------------------------------------------------------------------------------------
# Functional forms: torch.nn.functional's signatures, plus the keyword num_threads.


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, num_threads=None):
    return _indexed("max_pool1d", input, (kernel_size, stride, padding, dilation, ceil_mode),
                    return_indices, num_threads)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, num_threads=None):
    return _indexed("max_pool2d", input, (kernel_size, stride, padding, dilation, ceil_mode),
                    return_indices, num_threads)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, num_threads=None):
    return _indexed("max_pool3d", input, (kernel_size, stride, padding, dilation, ceil_mode),
                    return_indices, num_threads)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, *, num_threads=None):
    return _averaged("avg_pool1d", input,
                     (kernel_size, stride, padding, ceil_mode, count_include_pad), num_threads)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, num_threads=None):
    return _averaged("avg_pool2d", input, (kernel_size, stride, padding, ceil_mode,
                                           count_include_pad, divisor_override), num_threads)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, *, num_threads=None):
    return _averaged("avg_pool3d", input, (kernel_size, stride, padding, ceil_mode,
                                           count_include_pad, divisor_override), num_threads)


def adaptive_max_pool1d(input, output_size, return_indices=False, *, num_threads=None):
    return _indexed("adaptive_max_pool1d", input, (output_size,), return_indices, num_threads)


def adaptive_max_pool2d(input, output_size, return_indices=False, *, num_threads=None):
    return _indexed("adaptive_max_pool2d", input, (output_size,), return_indices, num_threads)


def adaptive_max_pool3d(input, output_size, return_indices=False, *, num_threads=None):
    return _indexed("adaptive_max_pool3d", input, (output_size,), return_indices, num_threads)


def adaptive_avg_pool1d(input, output_size, *, num_threads=None):
    return _averaged("adaptive_avg_pool1d", input, (output_size,), num_threads)


def adaptive_avg_pool2d(input, output_size, *, num_threads=None):
    return _averaged("adaptive_avg_pool2d", input, (output_size,), num_threads)


def adaptive_avg_pool3d(input, output_size, *, num_threads=None):
    return _averaged("adaptive_avg_pool3d", input, (output_size,), num_threads)


for _fn in list(globals().values()):
    if inspect.isfunction(_fn) and _fn.__name__ in __all__:
        _fn.__doc__ = (
            f"``torch.nn.functional.{_fn.__name__}``, computed by :func:`ndpool.{_fn.__name__}`.\n\n"
            "CPU float32 and float64 tensors run ndpool's kernels, with gradients"
            + (" (integer and bool\ntensors too, without)" if "max" in _fn.__name__ else "")
            + ".  Other tensors go to torch's own op.\n``num_threads`` defaults to "
            "``torch.get_num_threads()``.\n"
        )
del _fn


# ---------------------------------------------------------------------------------------
# Modules: torch.nn's pooling modules (same constructor, attributes and repr) whose forward
# calls the functional form above.

_MAX_FIELDS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
_AVG_FIELDS = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
               "divisor_override")


def _module(base: type, function, fields: tuple[str, ...]) -> type:
    """A subclass of torch's pooling module ``base`` whose forward calls ``function``."""

    def __init__(self, *args, num_threads=None, **kwargs):
        base.__init__(self, *args, **kwargs)
        self.num_threads = num_threads

    def forward(self, input):
        return function(input, *(getattr(self, f) for f in fields), num_threads=self.num_threads)

    def extra_repr(self):
        text = base.extra_repr(self)
        return text if self.num_threads is None else f"{text}, num_threads={self.num_threads}"

    # help() and inspect.signature show torch's arguments, then num_threads.
    setattr(__init__, "__signature__", inspect.Signature([
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *inspect.signature(base).parameters.values(),
        inspect.Parameter("num_threads", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]))
    name = base.__name__
    doc = (f"Drop-in for :class:`torch.nn.{name}`, computed by :func:`ndpool.torch.{function.__name__}`"
           " (ndpool's kernels on CPU float32/float64 tensors, torch's op otherwise).\n\n"
           "Same arguments as torch's, plus the keyword ``num_threads`` (default:\n"
           "``torch.get_num_threads()``).\n")
    # num_threads is also a class attribute, so that a torch module whose __class__ is set to
    # this class (docs/torch.md) works without one.
    return type(name, (base,), {"__init__": __init__, "forward": forward,
                                "extra_repr": extra_repr, "num_threads": None, "__doc__": doc,
                                "__module__": __name__, "__qualname__": name})


MaxPool1d = _module(torch.nn.MaxPool1d, max_pool1d, _MAX_FIELDS)
MaxPool2d = _module(torch.nn.MaxPool2d, max_pool2d, _MAX_FIELDS)
MaxPool3d = _module(torch.nn.MaxPool3d, max_pool3d, _MAX_FIELDS)
AvgPool1d = _module(torch.nn.AvgPool1d, avg_pool1d, _AVG_FIELDS[:-1])  # no divisor_override
AvgPool2d = _module(torch.nn.AvgPool2d, avg_pool2d, _AVG_FIELDS)
AvgPool3d = _module(torch.nn.AvgPool3d, avg_pool3d, _AVG_FIELDS)
AdaptiveMaxPool1d = _module(torch.nn.AdaptiveMaxPool1d, adaptive_max_pool1d, ("output_size", "return_indices"))
AdaptiveMaxPool2d = _module(torch.nn.AdaptiveMaxPool2d, adaptive_max_pool2d, ("output_size", "return_indices"))
AdaptiveMaxPool3d = _module(torch.nn.AdaptiveMaxPool3d, adaptive_max_pool3d, ("output_size", "return_indices"))
AdaptiveAvgPool1d = _module(torch.nn.AdaptiveAvgPool1d, adaptive_avg_pool1d, ("output_size",))
AdaptiveAvgPool2d = _module(torch.nn.AdaptiveAvgPool2d, adaptive_avg_pool2d, ("output_size",))
AdaptiveAvgPool3d = _module(torch.nn.AdaptiveAvgPool3d, adaptive_avg_pool3d, ("output_size",))
