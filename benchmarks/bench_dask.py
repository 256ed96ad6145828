"""The criteria stage of one large synthetic register: in process vs a LocalCluster.

Same inputs as ``bench_criteria`` (random polygons, a categorical GeoTIFF read by window, a
jittered grid road network). For each register size: ``compute_criteria`` in this process, then
``partitioned_criteria`` on a LocalCluster of 1 and of 2 single-threaded worker processes.
Reports areas/s, the speed-up over in process, the peak RSS of each worker process and of
the calling process (which computes remoteness and risk once over the whole register), and
checks that the results are identical.

Run: ``python -m benchmarks.bench_dask --areas 100000`` (bounded: a few minutes per size).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["bench", "main"]

REF = pd.Timestamp("2025-01-01").date()


def _peak_mib() -> float:
    """Peak RSS of this process since it started (VmHWM; ru_maxrss would carry the parent's
    peak over the fork + exec that starts a worker process)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(sizes: tuple[int, ...] = (100_000,), workers: tuple[int, ...] = (1, 2)) -> list[dict]:
    """One row per (register size, engine)."""
    from benchmarks.bench_criteria import make_inputs
    from ccm_geo.criteria import compute_criteria
    from ccm_geo.engine import open_engine
    from ccm_geo.engine.criteria import partitioned_criteria

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # synthetic data: some areas have no route, etc.
            raster = max(2_000, int(20_000 * (n / 100_000) ** 0.5))
            nodes = max(5_000, int(200_000 * n / 100_000))
            hazards, context = make_inputs(Path(tmp), n, raster, nodes, n_settlements=2_000)
            t0 = time.perf_counter()
            base = compute_criteria(hazards, context, reference_date=REF)
            secs = time.perf_counter() - t0
            rows.append(
                {
                    "areas": n,
                    "raster px": f"{raster:,} x {raster:,}",
                    "engine": "in process",
                    "seconds": secs,
                    "areas/s": n / secs,
                    "speed-up": 1.0,
                    "peak MiB per worker": None,
                    "caller peak MiB": _peak_mib(),
                    "identical": True,
                }
            )
            for w in workers:
                with open_engine("dask", workers=w) as eng:
                    t0 = time.perf_counter()
                    marks: dict[str, float] = {}

                    def mark(name, marks=marks, t0=t0):
                        marks[name.split(" ")[0]] = time.perf_counter() - t0

                    out = partitioned_criteria(
                        hazards, context, reference_date=REF, client=eng.client, progress=mark
                    )
                    s = time.perf_counter() - t0
                    peaks = eng.client.run(_peak_mib)
                rows.append(
                    {
                        "areas": n,
                        "raster px": f"{raster:,} x {raster:,}",
                        "engine": f"LocalCluster {w} worker{'s' if w > 1 else ''}",
                        "seconds": s,
                        "areas/s": n / s,
                        "speed-up": secs / s,
                        "caller-side s (graph, remoteness, risk)": marks.get("contamination"),
                        "peak MiB per worker": max(peaks.values()),
                        "caller peak MiB": _peak_mib(),
                        "identical": bool(base.equals(out)),
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    """Command line: print the table (markdown)."""
    from benchmarks.run import _table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--areas", type=int, nargs="+", default=[100_000])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    a = p.parse_args(argv)
    rows = bench(tuple(a.areas), tuple(a.workers))
    print(_table(rows))
    return rows


if __name__ == "__main__":
    main()
