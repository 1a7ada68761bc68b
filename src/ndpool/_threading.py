"""How many OpenMP threads a kernel call gets."""

from __future__ import annotations

import math

from ._simd import _kernels

# The cut-offs below were fitted on the 2-core VM (OMP_WAIT_POLICY=passive), to the one- and
# two-thread times of 864 forward and 608 gradient calls (max, average and adaptive, 2-D,
# maps 7x7 to 224x224, both layouts; docs/threads.md).  There a sleeping thread team
# starts its second thread 3-50 us late (medians; tails of milliseconds), and two threads
# draw about 1.3x one thread's memory bandwidth, so a call gained from a second thread
# only when it took 0.2-0.3 ms or more on one.  Fitted with a static work split; the
# kernels' guided schedule left them right (docs/threads.md): a call still waits for a
# late thread to arrive.

# Below this much work (element reads and writes) a call runs on one thread.  At 1 << 18,
# one-thread calls of 0.03-0.3 ms took up to 4x longer on two (global maxima of 2x16x112x112,
# 3x3/s2 maxima of 3x224x224); the geometric mean time over the sample fell 1.13x -> 1.08x
# of the faster choice (forward) and 1.09x/1.17x -> 1.04x/1.06x (gradients, channels-first
# and channels-last).
SERIAL_WORK = 1 << 20

# Kernels that stream their input with vector loads (channels-last windows over at least
# CL_VISIT channels, and global pooling) read 10-25 values a nanosecond on one thread, so
# they stay on one thread below 4x more window reads, unless the input itself is large:
# reading 8 MiB and more gains from the second core.  The channels-last sample's time
# fell 1.42x -> 1.06x of the faster choice.
STREAM_SERIAL_WORK = 1 << 22
PARALLEL_CELLS = 1 << 21


# A channels-last kernel visits each (output pixel, window tap) once and walks the channels
# inside, so with few channels the visits, not the elements, are the cost: a 3-channel
# 224x224 max 2x2/s2 took 0.69 ms on one thread and 0.46 ms on two for 150k reads.
CL_VISIT = 16


def stream_threads(requested: int | None, work: int, channels: int, cells: int,
                   channels_last: bool, global_pool: bool = False) -> int:
    """threads_for a call of `work` on an input of `cells` values: global pooling, and
    channels-last kernels over CL_VISIT channels or more, stream their input."""
    if global_pool or (channels_last and channels >= CL_VISIT):
        return threads_for(requested, work, cells)
    return threads_for(requested, work)


def window_threads(requested: int | None, reads: int, shape: tuple[int, ...],
                   channels_last: bool) -> int:
    """stream_threads for a max or average call of `reads` window reads on an (N, C, ...)
    input: a channels-last kernel over fewer than CL_VISIT channels counts each pixel tap
    as CL_VISIT reads."""
    channels = shape[1]
    if channels_last and 0 < channels < CL_VISIT:
        reads = reads // channels * CL_VISIT
    return stream_threads(requested, reads, channels, math.prod(shape), channels_last)


def threads_for(requested: int | None, work: int, streamed_cells: int = 0) -> int:
    """One thread for small work, else the requested count or OpenMP's current limit.

    streamed_cells is the input's size for a streaming kernel (see STREAM_SERIAL_WORK),
    0 for the others.
    """
    if streamed_cells:
        serial = work < STREAM_SERIAL_WORK and streamed_cells < PARALLEL_CELLS
    else:
        serial = work < SERIAL_WORK
    if serial:
        return 1
    return requested if requested is not None else _kernels.max_threads()
