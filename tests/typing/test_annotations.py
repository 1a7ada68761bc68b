"""The public functions are fully annotated, and their annotations resolve at run time (for
documentation tools).  Their types are checked statically by mypy on check_api.py."""

import inspect
import typing

import pytest

import ndpool
import ndpool.reference

PUBLIC = [(mod, name) for mod in (ndpool, ndpool.reference) for name in mod.__all__]
WITH_INDICES = {f"{op}_pool{nd}d" for op in ("max", "adaptive_max") for nd in (1, 2, 3)}


@pytest.mark.parametrize("mod, name", PUBLIC, ids=[f"{m.__name__}.{n}" for m, n in PUBLIC])
def test_public_functions_are_annotated(mod, name):
    fn = getattr(mod, name)
    sig = inspect.signature(fn)
    missing = [p for p in sig.parameters if sig.parameters[p].annotation is inspect.Parameter.empty]
    assert not missing, f"{mod.__name__}.{name}: unannotated parameters {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{mod.__name__}.{name}: no return type"
    hints = typing.get_type_hints(fn)
    assert set(hints) == set(sig.parameters) | {"return"}


@pytest.mark.skipif(not hasattr(typing, "get_overloads"), reason="typing.get_overloads is 3.11+")
@pytest.mark.parametrize("mod", [ndpool, ndpool.reference], ids=lambda m: m.__name__)
def test_return_indices_overloads(mod):
    """return_indices=True/False select the tuple or the array return type."""
    for name in WITH_INDICES:
        overloads = typing.get_overloads(getattr(mod, name))
        flags = [typing.get_type_hints(o)["return_indices"] for o in overloads]
        assert typing.Literal[False] in flags and typing.Literal[True] in flags, (name, flags)
