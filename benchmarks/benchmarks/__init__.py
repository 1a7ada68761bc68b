"""asv benchmarks: ndpool against plain NumPy and PyTorch CPU (see docs/benchmarks.md).

asv imports this package before any benchmark module, so the environment settings that
OpenMP reads once, when libgomp loads (with the first import of ndpool or torch), are made
here.  On a shared or small machine libgomp's spinning idle threads stall parallel calls of
both libraries whenever another thread is runnable; waiting passively is the fair setting
(src/ndpool/bench.py explains the measurements).  An explicit setting is kept.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")
