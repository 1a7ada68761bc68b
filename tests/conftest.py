import os

# pytest -n auto runs one worker per core, and each worker's OpenMP calls (ndpool's, torch's)
# use every core too: with libgomp's default spin-wait, a worker's idle threads take CPU from
# the other workers' calls.  Waiting passively changes no result; set before any test
# imports ndpool or torch, since libgomp reads it once, when it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from hypothesis import HealthCheck, settings  # noqa: E402

# CI runs a fixed, larger sample so failures reproduce; locally examples vary run to run.
settings.register_profile(
    "ci", max_examples=1000, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "dev", max_examples=100, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# Tests marked slow (gigabytes of memory, tens of seconds) run only on request.
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (or set NDPOOL_RUN_SLOW=1)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or os.environ.get("NDPOOL_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: pass --run-slow or set NDPOOL_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def parallel_small_calls(monkeypatch):
    """Every call that asks for threads gets them: the serial cut-offs (ndpool._threading)
    drop to 1, so that tests of bit-identity across thread counts run the parallel kernels
    on inputs small enough to be quick."""
    from ndpool import _threading

    for name in ("SERIAL_WORK", "STREAM_SERIAL_WORK", "PARALLEL_CELLS"):
        monkeypatch.setattr(_threading, name, 1)
