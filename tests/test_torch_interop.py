"""ndpool.torch: autograd Functions and nn.Module drop-ins against torch's own pooling.

Forward values, indices and input gradients match torch bit for bit, except adaptive average
where torch itself divides once (an output of all ones, its 2-D channels-last kernel); there
they agree to rounding.  Tensors are read and returned without copies, and a small CNN trains
identically with torch's modules and with ndpool's.
"""

import subprocess
import sys

import numpy as np
import pytest

import ndpool
import ndpool._layout

torch = pytest.importorskip("torch")
F = torch.nn.functional
nt = pytest.importorskip("ndpool.torch")

# (op, nd, arguments after the input).  Spatial sizes are chosen so that windows overlap,
# ceil mode adds a window, padding is counted or not, and adaptive bins overlap or repeat.
SPATIAL = {1: (13,), 2: (9, 11), 3: (5, 6, 7)}
WINDOWED = {
    "max_pool": [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        dict(kernel_size=2, stride=1, padding=1, dilation=2),
    ],
    "avg_pool": [
        dict(kernel_size=2, stride=3),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
    ],
}
ADAPTIVE_SIZES = {1: [3, 20, 1], 2: [(4, 3), (12, None), 1], 3: [(2, 4, 3), (7, 1, 9), 1]}


def cases():
    for nd in (1, 2, 3):
        for op, configs in WINDOWED.items():
            for kwargs in configs:
                yield op, nd, kwargs
        if nd > 1:
            yield "avg_pool", nd, dict(kernel_size=3, stride=2, padding=1, divisor_override=5)
        for op in ("adaptive_max_pool", "adaptive_avg_pool"):
            for size in ADAPTIVE_SIZES[nd]:
                yield op, nd, dict(output_size=size)


CASES = list(cases())
# torch has channels_last formats for 4-D and 5-D tensors only.
CASES_IN_MEMORY = [(case, memory) for case in CASES for memory in ("contiguous", "channels_last", "unbatched")
                   if not (case[1] == 1 and memory == "channels_last")]


def case_id(case):
    op, nd, kwargs = case
    return f"{op}{nd}d-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def in_memory(t, memory):
    if memory == "channels_last":
        return t.contiguous(memory_format=torch.channels_last if t.dim() == 4 else torch.channels_last_3d)
    if memory == "unbatched":
        return t[0]
    return t


def is_channels_last(t):
    return t.is_contiguous(memory_format=torch.channels_last if t.dim() == 4 else torch.channels_last_3d)


def exact(op, nd, kwargs, memory):
    """Where torch divides adaptive averages once, results agree to rounding only."""
    if op != "adaptive_avg_pool":
        return True
    return kwargs["output_size"] != 1 and not (nd == 2 and memory == "channels_last")


def assert_same(got, want, bitwise=True):
    assert got.dtype == want.dtype and got.shape == want.shape
    if bitwise:
        assert got.detach().contiguous().numpy().tobytes() == want.detach().contiguous().numpy().tobytes()
    else:
        tol = 1e-13 if got.dtype == torch.float64 else 1e-6
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)


def random_input(nd, dtype, seed, memory="contiguous"):
    # 11 channels: torch's channels-last kernels run 8 (float32) or 4 (float64) vector lanes
    # and then a scalar tail.
    x = torch.randn((2, 11) + SPATIAL[nd], dtype=dtype, generator=torch.Generator().manual_seed(seed))
    return in_memory(x, memory)


def run(module, name, x, kwargs, **extra):
    """Call ``module``'s function ``name`` (torch.nn.functional or ndpool.torch)."""
    return getattr(module, name)(x, **kwargs, **extra)


@pytest.fixture
def no_copies(monkeypatch):
    """Fail if ndpool copies an input or gradient into another layout."""
    def fail(*args):
        raise AssertionError("ndpool copied an array")
    monkeypatch.setattr(ndpool._layout, "copy_to_layout", fail)


# ---------------------------------------------------------------------------------------
# Imports


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_ndpool_does_not_import_torch():
    done = python("import ndpool, sys; ndpool.max_pool2d([[[0.0]]], 1); assert 'torch' not in sys.modules")
    assert done.returncode == 0, done.stderr


def test_ndpool_torch_without_torch_says_to_install_it():
    done = python(
        "import sys; sys.modules['torch'] = None  # as if torch were not installed\n"
        "try:\n"
        "    import ndpool.torch\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "ndpool.torch needs PyTorch" in done.stdout and "pip install torch" in done.stdout


# ---------------------------------------------------------------------------------------
# Forward and backward against torch.nn.functional


@pytest.mark.parametrize("case, memory", CASES_IN_MEMORY, ids=lambda v: case_id(v) if isinstance(v, tuple) else v)
def test_matches_torch_without_copies(case, memory, no_copies):
    op, nd, kwargs = case
    name = f"{op}{nd}d"
    for dtype, seed in ((torch.float32, 0), (torch.float64, 1)):
        x = random_input(nd, dtype, seed, memory).requires_grad_()
        extra = dict(return_indices=True) if "max" in op else {}
        got, want = run(nt, name, x, kwargs, **extra), run(F, name, x, kwargs, **extra)
        if "max" in op:
            (got, got_idx), (want, want_idx) = got, want
            assert_same(got_idx, want_idx)
            assert not got_idx.requires_grad
        assert_same(got, want, exact(op, nd, kwargs, memory))
        assert got.requires_grad and got.grad_fn is not None
        if memory == "channels_last":
            # torch's own avg_pool3d and adaptive 3-D pooling return contiguous output here.
            assert is_channels_last(got)

        # The upstream gradient in the output's memory format, as a network would give it.
        gout = torch.randn_like(got)
        (g_got,) = torch.autograd.grad(got, x, gout)
        (g_want,) = torch.autograd.grad(want, x, gout)
        assert_same(g_got, g_want, exact(op, nd, kwargs, memory))
        # The gradient keeps the input's memory format, global pooling included (where a
        # contiguous (N, C, 1, 1) gradient also has channels-last strides).
        assert is_channels_last(g_got) if memory == "channels_last" else g_got.is_contiguous()


def test_input_and_output_memory_are_shared(monkeypatch):
    """The kernels read the tensor's own memory and the output tensor is ndpool's array."""
    x = torch.randn(2, 8, 6, 6).contiguous(memory_format=torch.channels_last)
    seen = {}
    original = ndpool.max_pool2d

    def spy(a, *args, **kwargs):
        seen["input"] = a
        seen["output"] = original(a, *args, **kwargs)
        return seen["output"]

    monkeypatch.setattr(ndpool, "max_pool2d", spy)
    y = nt.max_pool2d(x, 2)
    assert seen["input"].ctypes.data == x.data_ptr() and seen["input"].strides == tuple(4 * s for s in x.stride())
    assert seen["output"].ctypes.data == y.data_ptr() and is_channels_last(y)


@pytest.mark.parametrize("case", [c for c in CASES if c[2].get("output_size", 2) != 1][::3], ids=case_id)
def test_non_contiguous_and_broadcast_gradients(case):
    op, nd, kwargs = case
    name = f"{op}{nd}d"
    x = random_input(nd, torch.float64, 2).requires_grad_()
    got, want = run(nt, name, x, kwargs), run(F, name, x, kwargs)
    wide = torch.randn(want.shape[:-1] + (2 * want.shape[-1],), dtype=torch.float64)
    for gout in (wide[..., ::2], wide[..., ::2].transpose(0, 1).contiguous().transpose(0, 1),
                 torch.ones(()).double().expand_as(want)):
        (g_got,) = torch.autograd.grad(got, x, gout, retain_graph=True)
        (g_want,) = torch.autograd.grad(want, x, gout, retain_graph=True)
        assert_same(g_got, g_want)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32,
                                   torch.int64, torch.uint16, torch.uint32, torch.uint64])
@pytest.mark.parametrize("name, kwargs", [
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("max_pool3d", dict(kernel_size=2)),
    ("adaptive_max_pool1d", dict(output_size=4)),
    ("adaptive_max_pool2d", dict(output_size=(3, 5))),
    ("adaptive_max_pool3d", dict(output_size=2)),
])
def test_integer_max_pooling(name, kwargs, dtype):
    """Integer and bool max pooling runs in ndpool (torch rejects most of these dtypes)."""
    nd = int(name[-2])
    values = torch.randint(0, 100, (2, 3) + SPATIAL[nd], generator=torch.Generator().manual_seed(3))
    x = (values > 60) if dtype == torch.bool else values.to(dtype)
    out, idx = run(nt, name, x, kwargs, return_indices=True)
    want, want_idx = run(F, name, values.double(), kwargs, return_indices=True)  # same ties
    assert out.dtype == dtype
    if dtype == torch.bool:
        assert torch.equal(out, run(F, name, x.double(), kwargs) > 0)  # max is logical or
    else:
        assert torch.equal(out, want.to(dtype)) and torch.equal(idx, want_idx)
    assert torch.equal(run(nt, name, x, kwargs), out)


# ---------------------------------------------------------------------------------------
# What runs where


def test_only_supported_tensors_run_in_ndpool(monkeypatch):
    x = torch.randn(2, 3, 8, 8)
    # CPU float32/float64: ndpool's kernels; torch's op is never called.
    monkeypatch.setattr(F, "max_pool2d", None)
    monkeypatch.setattr(F, "avg_pool2d", None)
    nt.max_pool2d(x, 2), nt.avg_pool2d(x.double(), 2), nt.MaxPool2d(2)(x.requires_grad_()).sum().backward()
    monkeypatch.undo()

    # Everything else: torch's own op, unchanged (ndpool is never called).
    for fn in ("max_pool2d", "avg_pool2d", "max_pool2d_backward", "avg_pool2d_backward"):
        monkeypatch.setattr(ndpool, fn, None)
    for t in (x.half(), x.bfloat16(), torch.empty(2, 3, 8, 8, device="meta")):
        t.requires_grad_()
        for name in ("max_pool2d", "avg_pool2d"):
            got, want = run(nt, name, t, dict(kernel_size=2)), run(F, name, t, dict(kernel_size=2))
            assert got.dtype == want.dtype and got.device == want.device and got.shape == want.shape
            if t.device.type == "cpu":
                assert torch.equal(got, want)
                (g,) = torch.autograd.grad(got.sum(), t)
                assert torch.equal(g, torch.autograd.grad(want.sum(), t)[0])
    # Integer averages: torch's rules (int64 truncates, other integer types are rejected).
    i = torch.arange(2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    assert torch.equal(nt.avg_pool2d(i, 3), F.avg_pool2d(i, 3))
    with pytest.raises(NotImplementedError):
        nt.avg_pool2d(i.int(), 3)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")  # inside torch
def test_forward_mode_ad_runs_torch():
    """Dual tensors carry tangents, which only torch's ops propagate."""
    import torch.autograd.forward_ad as fwAD

    x, tangent = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.randn(2, 3, 8, 8, dtype=torch.float64)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, tangent)
        for name, args in (("max_pool2d", (3, 2, 1)), ("avg_pool2d", (2,)), ("adaptive_avg_pool2d", (3,))):
            got = fwAD.unpack_dual(getattr(nt, name)(dual, *args))
            want = fwAD.unpack_dual(getattr(F, name)(dual, *args))
            assert got.tangent is not None
            assert torch.equal(got.primal, want.primal) and torch.equal(got.tangent, want.tangent)


def test_errors_are_ndpools():
    with pytest.raises(ValueError, match="max_pool2d: .*padding"):
        nt.max_pool2d(torch.randn(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(TypeError):
        nt.avg_pool2d(torch.randn(1, 1, 8, 8), 2.5)


def test_num_threads_default_and_override(monkeypatch):
    calls = []
    original = ndpool.avg_pool2d
    monkeypatch.setattr(ndpool, "avg_pool2d", lambda *a, **k: calls.append(k["num_threads"]) or original(*a, **k))
    x = torch.randn(4, 16, 32, 32)
    nt.avg_pool2d(x, 2)
    nt.AvgPool2d(2, num_threads=1)(x)
    assert calls == [torch.get_num_threads(), 1]
    assert torch.equal(nt.AvgPool2d(3, 1, 1, num_threads=1)(x), nt.AvgPool2d(3, 1, 1, num_threads=2)(x))


def test_torch_compile_runs_ndpool_eagerly(monkeypatch):
    calls = []
    original = ndpool.max_pool2d
    monkeypatch.setattr(ndpool, "max_pool2d", lambda *a, **k: calls.append(1) or original(*a, **k))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), nt.MaxPool2d(2), nt.AdaptiveAvgPool2d(2))
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64, requires_grad=True)
    model.double()
    want = model(x)
    (g_want,) = torch.autograd.grad(want.sum(), x)
    got = torch.compile(model, backend="eager")(x)  # a graph break around each ndpool call
    (g_got,) = torch.autograd.grad(got.sum(), x)
    assert torch.equal(got, want) and torch.equal(g_got, g_want) and len(calls) == 2


def test_gradients_are_once_differentiable():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(nt.max_pool2d(x, 2).pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


# ---------------------------------------------------------------------------------------
# Modules


MODULES = [f"{op}{nd}d" for op in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool")
           for nd in (1, 2, 3)]
# Positional arguments in torch's order; MaxPool's is (kernel_size, stride, padding,
# dilation, return_indices, ceil_mode), unlike the functional form.
MODULE_ARGS = {
    "MaxPool": [(3,), (3, 2, 1), (3, 1, 1, 2, True, True)],
    "AvgPool": [(3,), (3, 2, 1, True, False), (3, 1, 1, False, True, 2)],
    "AdaptiveMaxPool": [(4,), (4, True)],
    "AdaptiveAvgPool": [(4,), (1,)],
}


def module_args(name):
    args = MODULE_ARGS[name[:-2]]
    return args[:2] if name == "AvgPool1d" else args  # AvgPool1d has no divisor_override


@pytest.mark.parametrize("name", MODULES)
def test_modules_are_torch_drop_ins(name):
    import inspect

    ours, theirs = getattr(nt, name), getattr(torch.nn, name)
    assert issubclass(ours, theirs) and ours.__module__ == "ndpool.torch"
    params = list(inspect.signature(ours).parameters.values())
    assert params[:-1] == list(inspect.signature(theirs).parameters.values())
    assert params[-1].name == "num_threads" and params[-1].kind == inspect.Parameter.KEYWORD_ONLY
    nd = int(name[-2])
    for args in module_args(name):
        m, t = ours(*args), theirs(*args)
        assert repr(m) == repr(t)
        assert repr(ours(*args, num_threads=2)) == repr(t)[:-1] + ", num_threads=2)"
        x = torch.randn((2, 3) + SPATIAL[nd], dtype=torch.float64, requires_grad=True)
        got, want = m(x), t(x)
        if getattr(t, "return_indices", False):
            assert torch.equal(got[1], want[1])
            got, want = got[0], want[0]
        assert_same(got, want, bitwise=args != (1,))


def test_swapping_the_class_of_torch_modules():
    """The in-place swap of docs/torch.md."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2, ceil_mode=True),
                                torch.nn.Sequential(torch.nn.AvgPool2d(2, count_include_pad=False)))
    x = torch.randn(2, 3, 9, 9)
    want = model(x)
    for module in model.modules():
        swap = getattr(nt, type(module).__name__, None)
        if isinstance(swap, type) and swap.__base__ is type(module):
            module.__class__ = swap
    assert type(model[1]) is nt.MaxPool2d and type(model[2][0]) is nt.AvgPool2d
    assert torch.equal(model(x), want)


GRADCHECK_SHAPES = {1: (2, 2, 9), 2: (2, 2, 7, 6), 3: (1, 2, 5, 4, 6)}
LARGER = {1: 11, 2: 9, 3: 7}  # adaptive output sizes above every input size


@pytest.mark.parametrize("name", MODULES)
def test_gradcheck(name):
    nd = int(name[-2])
    extra = {"MaxPool": [((2,), {}), ((3, 1, 1), {}), ((3, 2, 1), dict(ceil_mode=True)),
                         ((2, 1, 1), dict(dilation=2)), ((3, 2), dict(return_indices=True))],
             "AvgPool": [((3, 1, 1), {}), ((3, 2, 1), dict(ceil_mode=True)),
                         ((3, 2, 1), dict(count_include_pad=False)),
                         ((2, 3), dict(ceil_mode=True, count_include_pad=False))]
                        + ([((3, 1, 1), dict(divisor_override=4))] if nd > 1 else []),
             "AdaptiveMaxPool": [((3,), {}), ((LARGER[nd],), {}), ((4,), dict(return_indices=True))],
             "AdaptiveAvgPool": [((3,), {}), ((LARGER[nd],), {}), ((1,), {})]}[name[:-2]]
    gen = torch.Generator().manual_seed(4)
    for i, (args, kwargs) in enumerate(extra):
        m = getattr(nt, name)(*args, **kwargs)
        x = torch.randn(GRADCHECK_SHAPES[nd], dtype=torch.float64, generator=gen)
        if nd > 1 and i % 2:
            x = in_memory(x, "channels_last")
        x.requires_grad_()
        assert torch.autograd.gradcheck(m, (x,))


# ---------------------------------------------------------------------------------------
# End to end: a small CNN trains the same with torch's pooling and with ndpool's


def small_cnn(pooling):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), pooling.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), pooling.AvgPool2d(2),
        pooling.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10),
    )


def train(model, images, labels, epochs=3, batch=32):
    order = np.random.default_rng(0).permutation(len(images))  # the same minibatches each run
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses = []
    for _ in range(epochs):
        for start in range(0, len(images), batch):
            take = torch.from_numpy(order[start:start + batch])
            loss = F.cross_entropy(model(images[take]), labels[take])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return np.array(losses)


def test_small_cnn_trains_identically_on_digits():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    images = torch.from_numpy(digits.images[:, None] / 16.0)  # (1797, 1, 8, 8) float64
    labels = torch.from_numpy(digits.target)
    torch.manual_seed(0)
    reference = small_cnn(torch.nn).double()
    ours = small_cnn(nt).double()
    ours.load_state_dict(reference.state_dict())
    assert isinstance(ours[2], nt.MaxPool2d) and isinstance(ours[6], nt.AdaptiveAvgPool2d)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 8x8 images: threads only add waiting (about 0.3 s per run)
    try:
        want = train(reference, images, labels)
        got = train(ours, images, labels)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert got[-20:].mean() < 0.5 * got[0]  # it learns
