"""Random adaptive pooling configurations, shared by the adaptive test modules."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def adaptive_configs(draw, nd: int | None = None, max_size: int = 12):
    """A valid (shape, output_size, resolved) for adaptive pooling.

    ``shape`` is (N, C, *spatial) with spatial sizes 1..max_size; ``output_size`` is what a
    user passes (an int, a tuple or a list, with None entries that keep an input size);
    ``resolved`` is the output's spatial shape.  Outputs run from 1 to size + 3, so bins
    overlap, repeat (Out > In) and cover whole axes (Out = 1).
    """
    nd = nd or draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, max_size)) for _ in range(nd))
    entries = tuple(draw(st.integers(0, s + 3)) or None for s in spatial)  # 0 stands for None
    resolved = tuple(s if e is None else e for e, s in zip(entries, spatial))
    form = draw(st.sampled_from(["tuple", "list", "int"]))
    if form == "int" and None not in entries and len(set(entries)) == 1:
        output_size = entries[0]
    elif form == "list":
        output_size = list(entries)
    else:
        output_size = entries
    shape = (draw(st.integers(0, 2)), draw(st.integers(1, 10))) + spatial  # C > 8: full channel blocks
    return shape, output_size, resolved
