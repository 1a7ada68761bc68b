"""Type aliases shared by the public signatures (for type checkers and documentation).

The runtime checks live in :mod:`ndpool._args`; these aliases describe what they accept.
Outputs are ``numpy.typing.NDArray[Any]`` (indices ``NDArray[np.int64]``), spelled out in
the signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

from numpy.typing import ArrayLike

#: A window size, stride or dilation: one int for every spatial axis, or one per axis.
Size: TypeAlias = int | Sequence[int]
#: Implicit padding: an int, one int per axis, or Keras/TensorFlow's "valid" or "same".
Padding: TypeAlias = int | Sequence[int] | Literal["valid", "same"]
#: Adaptive output size: one int for every axis, or one entry per axis (None keeps the axis).
OutputSize: TypeAlias = int | Sequence[int | None]
#: Memory layout of the spatial and channel axes.
DataFormat: TypeAlias = Literal["channels_first", "channels_last"]

__all__ = ["ArrayLike", "DataFormat", "OutputSize", "Padding", "Size"]
