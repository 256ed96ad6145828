"""Peak memory of the risk (or contamination) criterion on one synthetic register.

The areas are laid out as in ``bench_criteria``/``bench_dask`` (random circles of 0.5-10 ha
over a square whose side grows with the square root of the count), with random accidents over
2018-2023. ``--density`` shrinks the square's side (2 = four times the areas per km², so
about four times the pairs within 3 sigma). Prints the seconds, the peak RSS of the process
(VmHWM) and the RSS before the call (the inputs), and a checksum of the result that two
versions of the code must share.

Run one size per process, bounded (the peak is per process)::

    prlimit --as=8000000000 -- python -m benchmarks.bench_risk_memory \
        --areas 100000 --accidents 10000 --density 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["measure", "main"]

REF = pd.Timestamp("2025-01-01").date()
CRS = "EPSG:32648"


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(n: int, n_accidents: int, family: str = "risk", density: float = 1.0) -> dict:
    """One run of ``risk_indicators`` (or ``contamination_indicators``) on fresh inputs."""
    from ccm_geo.criteria.contamination import contamination_indicators
    from ccm_geo.criteria.risk import risk_indicators
    from ccm_geo.model import Context

    rng = np.random.default_rng(0)
    side = max(2_000, int(20_000 * (n / 100_000) ** 0.5)) * 10.0 / density
    x0, y0 = 400_000.0, 1_700_000.0
    cx = x0 + rng.uniform(300, side - 300, n)
    cy = y0 + rng.uniform(300, side - 300, n)
    radius = np.sqrt(rng.uniform(5_000, 100_000, n) / np.pi)
    hazards = gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ{i:07d}" for i in range(n)],
            "evidence": "direct",
            "contamination": "CMR",
            "devices_found": 1,
        },
        geometry=shapely.buffer(shapely.points(cx, cy), radius, quad_segs=4),
        crs=CRS,
    )
    days = rng.integers(0, 6 * 365, n_accidents)
    accidents = gpd.GeoDataFrame(
        {
            "accident_id": [f"A{i}" for i in range(n_accidents)],
            "date": pd.Timestamp("2018-01-01") + pd.to_timedelta(days, unit="D"),
            "killed": rng.poisson(0.5, n_accidents),
            "injured": rng.poisson(1.0, n_accidents),
        },
        geometry=shapely.points(
            x0 + rng.uniform(0, side, n_accidents), y0 + rng.uniform(0, side, n_accidents)
        ),
        crs=CRS,
    )
    context = Context(crs=CRS, accidents=accidents)
    fn = risk_indicators if family == "risk" else contamination_indicators
    inputs = _peak_mib()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(hazards, context, reference_date=REF)
    return {
        "family": family,
        "areas": n,
        "accidents": n_accidents,
        "density": density,
        "seconds": round(time.perf_counter() - t0, 1),
        "peak MiB": round(_peak_mib()),
        "inputs MiB": round(inputs),
        "checksum": float(np.nansum(out.select_dtypes("number").to_numpy(float))),
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--areas", type=int, default=100_000)
    p.add_argument("--accidents", type=int, default=10_000)
    p.add_argument("--family", choices=["risk", "contamination"], default="risk")
    p.add_argument("--density", type=float, default=1.0)
    a = p.parse_args(argv)
    row = measure(a.areas, a.accidents, a.family, a.density)
    print(" ".join(f"{k}={v}" for k, v in row.items()))
    return row


if __name__ == "__main__":
    main()
