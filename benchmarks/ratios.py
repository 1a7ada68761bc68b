"""ndpool's speed-ups over torch and NumPy, from the latest asv results.

    python benchmarks/ratios.py [--results DIR | --file RESULTS.json ...] [--check]

Reads one asv results file (by default the newest under ``benchmarks/.asv/results``; asv
saves one per machine and commit, and with ``--python=same`` only when the run is given
``--set-commit-hash``).  For every timed case (``Pool``, ``PoolIdiom``, ``PoolDtype``) it
prints the times (the minimum of the samples where the run recorded them with
``--record-samples``, else asv's result, their median) and the speed-ups
``other time / ndpool time`` (above 1: ndpool is faster) over torch, ``ndpool.reference``
(``numpy``) and the NumPy idiom; then the geometric means of the speed-ups, separately for
forward and backward, and every case where ndpool is slower than torch.  ``--check`` exits
with status 1 unless the issue's targets hold: no case slower than torch, and both
geometric means over torch at least 5.

The ``ceiling`` column is torch's time over the ``copy`` backend's (a copy of the bytes
the call must move, see ``_cases.py``): roughly the largest speed-up over torch that a
memory-bound kernel can reach on this machine.  Its geometric mean bounds what the
geometric means of the speed-ups can become.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMED = ("bench_pooling.Pool.time_pool", "bench_pooling.PoolIdiom.time_pool",
         "bench_pooling.PoolDtype.time_pool")
MEMORY = "bench_pooling.PoolMemory.peakmem_pool"
BUILD = "bench_pooling.BuildInfo.track_threads"
TARGET = 5.0


def newest_results(results_dir: Path) -> Path:
    files = [p for p in results_dir.glob("*/*.json")
             if p.name not in ("machine.json", "benchmarks.json")]
    if not files:
        sys.exit(f"no asv results under {results_dir}: run asv with --set-commit-hash "
                 "(see docs/benchmarks.md)")
    return max(files, key=lambda p: p.stat().st_mtime)


def rows(data: dict, name: str) -> list[tuple[dict, float | None]]:
    """(parameters, value) for every parameter combination of one benchmark."""
    if name not in data["results"]:
        return []
    entry = dict(zip(data["result_columns"], data["results"][name]))
    names = data_param_names(data, name)
    values = entry.get("result") or []
    # With --record-samples asv keeps every sample; their minimum is the least disturbed
    # call (asv's own result is the median).  Peak memory has a single value.
    samples = entry.get("samples") or [None] * len(values)
    combos = list(itertools.product(*entry["params"]))
    out = []
    for combo, value, sample in zip(combos, values, samples):
        params = {k: ast.literal_eval(v) for k, v in zip(names, combo)}
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        if ok and sample:
            value = min(sample)
        out.append((params, float(value) if ok else None))
    return out


def data_param_names(data: dict, name: str) -> list[str]:
    # The results file stores parameter values, not names; the names are fixed by the suite.
    cls = name.split(".")[1]
    return {"Pool": ["case", "backend", "direction", "layout"],
            "PoolIdiom": ["case", "layout"],
            "PoolDtype": ["case", "backend", "direction", "dtype"],
            "PoolMemory": ["case", "backend", "direction"],
            "BuildInfo": ["build"]}[cls]


def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


def fmt_ms(t: float | None) -> str:
    return "n/a" if t is None else f"{t * 1e3:.3f}"


def fmt_x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=HERE / ".asv" / "results",
                        help="asv results directory (default: benchmarks/.asv/results)")
    parser.add_argument("--file", type=Path, nargs="+",
                        help="asv results JSON files; several runs of the same code are "
                             "merged, each time the minimum over all runs")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless no case is slower than torch and both geometric "
                             f"means over torch are at least {TARGET:g}")
    args = parser.parse_args(argv)
    paths = args.file or [newest_results(args.results)]
    runs = [json.loads(path.read_text()) for path in paths]

    for path, data in zip(paths, runs):
        print(f"results: {path}")
        print(f"commit {data.get('commit_hash', '?')[:12]}, machine {data['params'].get('machine')}, "
              f"cpu {data['params'].get('cpu')}, python {data.get('python')}")
        for params, _ in rows(data, BUILD):
            print(f"build: {params['build']}")

    # Group the timings: one line per (case, direction, layout or dtype), one time per
    # backend, the fastest over the runs.
    groups: dict[tuple, dict[str, float | None]] = {}
    for data, name in itertools.product(runs, TIMED):
        for p, value in rows(data, name):
            p.setdefault("backend", "numpy_idiom")  # PoolIdiom: forward only
            p.setdefault("direction", "forward")
            if "dtype" in p:
                variant = p["dtype"]
            else:
                variant = "float32" if p["layout"] == "channels_first" else "float32/cl"
            times = groups.setdefault((p["direction"], p["case"], variant), {})
            best = times.get(p["backend"])
            times[p["backend"]] = value if best is None or (value is not None and value < best) else best

    header = (f"{'case':32} {'dir':8} {'variant':10} {'ndpool ms':>10} {'torch ms':>10} "
              f"{'numpy ms':>10} {'idiom ms':>10} {'x torch':>8} {'x numpy':>8} {'x idiom':>8} "
              f"{'ceiling':>8}")
    print()
    print("speed-up = other's time / ndpool's time (above 1: ndpool faster); "
          "variant float32/cl = channels-last")
    print(header)
    print("-" * len(header))
    speedups: dict[str, dict[str, list[float]]] = {}
    slower: list[str] = []
    for (direction, case, variant), t in sorted(groups.items(),
                                                key=lambda kv: (kv[0][0] != "forward", kv[0])):
        nd = t.get("ndpool")
        if nd is None:
            continue
        x = {b: (t[b] / nd if t.get(b) is not None else None)
             for b in ("torch", "numpy", "numpy_idiom")}
        ceiling = (t["torch"] / t["copy"] if t.get("torch") is not None and t.get("copy")
                   else None)
        if ceiling is not None:
            speedups.setdefault(direction, {}).setdefault("ceiling", []).append(ceiling)
        for b, r in x.items():
            if r is not None:
                speedups.setdefault(direction, {}).setdefault(b, []).append(r)
        mark = ""
        if x["torch"] is not None and x["torch"] < 1:
            mark = "  <- slower than torch"
            slower.append(f"{case} {direction} {variant}: ndpool {fmt_ms(nd)} ms, "
                          f"torch {fmt_ms(t['torch'])} ms (x{x['torch']:.2f})")
        print(f"{case:32} {direction:8} {variant:10} {fmt_ms(nd):>10} {fmt_ms(t.get('torch')):>10} "
              f"{fmt_ms(t.get('numpy')):>10} {fmt_ms(t.get('numpy_idiom')):>10} "
              f"{fmt_x(x['torch']):>8} {fmt_x(x['numpy']):>8} {fmt_x(x['numpy_idiom']):>8} "
              f"{fmt_x(ceiling):>8}{mark}")

    print()
    print("geometric mean speed-up of ndpool (cases where both ran):")
    means = {}
    for direction in ("forward", "backward"):
        per = speedups.get(direction, {})
        parts = []
        for b, label in (("torch", "over torch"), ("numpy", "over numpy (reference)"),
                         ("numpy_idiom", "over the numpy idiom")):
            xs = per.get(b, [])
            if b == "torch":
                means[direction] = geomean(xs)
            parts.append(f"{label} x{geomean(xs):.2f} ({len(xs)} cases)" if xs
                         else f"{label} n/a (not run)")
        print(f"  {direction:8}: " + "; ".join(parts))
        ceilings = per.get("ceiling", [])
        if ceilings:
            print(f"  {'':8}  ceiling over torch (copy floor) x{geomean(ceilings):.2f} "
                  f"({len(ceilings)} cases)")

    print()
    if slower:
        print(f"cases where ndpool is slower than torch ({len(slower)}):")
        for line in slower:
            print(f"  {line}")
    else:
        print("no case where ndpool is slower than torch")

    memory = {}
    for p, value in rows(runs[-1], MEMORY):
        memory.setdefault((p["case"], p["direction"]), {})[p["backend"]] = value
    if memory:
        print()
        print("peak memory of the process, MiB (input and imports included):")
        print(f"  {'case':32} {'dir':8} {'ndpool':>8} {'torch':>8} {'numpy':>8} {'idiom':>8}")
        for (case, direction), m in sorted(memory.items()):
            cells = [("n/a" if m.get(b) is None else f"{m[b] / 2**20:.0f}")
                     for b in ("ndpool", "torch", "numpy", "numpy_idiom")]
            print(f"  {case:32} {direction:8} " + " ".join(f"{c:>8}" for c in cells))

    if args.check:
        ok = not slower and all(means.get(d, 0) >= TARGET for d in ("forward", "backward"))
        print()
        print(f"targets (no case slower than torch, geometric means >= {TARGET:g}): "
              f"{'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head: stop quietly
        sys.stderr.close()
        sys.exit(0)
