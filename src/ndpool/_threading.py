"""How many OpenMP threads a kernel call gets."""

from __future__ import annotations

from ._simd import _kernels

# Below this many element reads and writes a call runs on one thread: waking a thread team
# costs more than the work.  A team that has gone to sleep (OMP_WAIT_POLICY=passive, or
# libgomp's default once its spin time has run out between calls) takes 50-60 us to wake
# on the 2-core VM, so a second thread pays only on work of about 0.1 ms and more: at
# 1 << 15, max and average calls of 0.01-0.06 ms on one thread took 0.07-0.1 ms on two.
SERIAL_WORK = 1 << 18


# A channels-last kernel visits each (output pixel, window tap) once and walks the channels
# inside, so with few channels the visits, not the elements, are the cost: a 3-channel
# 224x224 max 2x2/s2 took 0.69 ms on one thread and 0.46 ms on two for 150k reads.
CL_VISIT = 16


def window_work(work: int, channels: int, channels_last: bool) -> int:
    """The work, for threads_for, of a max or average call of `work` window reads: in the
    channels-last kernel each pixel tap counts as at least CL_VISIT reads."""
    if channels_last and 0 < channels < CL_VISIT:
        return work // channels * CL_VISIT
    return work


def threads_for(requested: int | None, work: int) -> int:
    """One thread for small work, else the requested count or OpenMP's current limit."""
    if work < SERIAL_WORK:
        return 1
    return requested if requested is not None else _kernels.max_threads()
