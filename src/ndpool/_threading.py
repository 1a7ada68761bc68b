"""How many OpenMP threads a kernel call gets."""

from __future__ import annotations

from ._simd import _kernels

# Below this many element reads and writes a call runs on one thread: waking a thread team
# costs more than the work.
SERIAL_WORK = 1 << 15


def threads_for(requested: int | None, work: int) -> int:
    """One thread for small work, else the requested count or OpenMP's current limit."""
    if work < SERIAL_WORK:
        return 1
    return requested if requested is not None else _kernels.max_threads()
