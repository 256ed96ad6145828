"""Benchmark of the scoring stage: score_areas and sensitivity on synthetic areas.

Run from the project root: ``python -m benchmarks.bench_scoring [areas_n] [draws]``.
Prints seconds (untraced run) and peak traced memory (tracemalloc, which sees numpy's
buffers; a second run) per step.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd

from ccm_geo.scoring import ScoringSettings, score_areas, sensitivity

__all__ = ["synthetic_areas", "bench"]


def synthetic_areas(areas_n: int, *, seed: int = 0) -> pd.DataFrame:
    """Indicator columns of ``areas_n`` areas, as the criteria stage would produce them.

    Distributions are rough and fictional (skewed casualties and populations, travel times up
    to several hours); only their shapes matter for timing.
    """
    rng = np.random.default_rng(seed)
    n = areas_n
    status = rng.choice(["CHA", "SHA", "released"], size=n, p=[0.4, 0.55, 0.05])
    crop = rng.beta(0.8, 2.0, n)
    paddy = (1.0 - crop) * rng.beta(0.5, 4.0, n)
    area = rng.lognormal(9.5, 1.0, n)
    casualties = rng.poisson(0.3, n)
    return pd.DataFrame(
        {
            "hazard_id": [f"HA-{i:07d}" for i in range(n)],
            "status": status,
            "evidence": np.where(status == "CHA", "direct", "indirect"),
            "contamination": rng.choice(["CMR", "AP", "AP;CMR", "UXO"], size=n),
            "devices_found": rng.poisson(2.0, n),
            "area_m2": area,
            "region": rng.choice(["north", "centre", "south"], size=n),
            "is_cmr": rng.random(n) < 0.6,
            "devices_per_ha": rng.gamma(0.8, 2.0, n),
            "casualties_24m": casualties,
            "landuse_frac_cropland": crop,
            "landuse_frac_paddy": paddy,
            "blocked_productive_m2": area * (crop + paddy),
            "road_length_m": rng.exponential(200.0, n),
            "travel_min_settlement": np.where(
                rng.random(n) < 0.02, np.nan, rng.gamma(2.0, 20.0, n)
            ),
            "population_within_30min": rng.lognormal(6.5, 1.2, n).round(),
            "near_remote_survivors": rng.random(n) < 0.1,
            "accident_risk": rng.gamma(0.3, 2.0, n),
            "accident_recency": rng.beta(0.5, 3.0, n),
            "evidence_nearby": rng.gamma(1.0, 3.0, n),
        }
    )


def bench(areas_n: int = 10_000, draws: int = 1_000) -> dict[str, Any]:
    """Time score_areas and sensitivity (seconds) and their peak traced memory (MiB).

    Parameters
    ----------
    areas_n
        Number of synthetic areas.
    draws
        Number of Monte Carlo weight draws.

    Returns
    -------
    dict
        ``areas_n``, ``draws``, ``score_s``, ``score_peak_mib``, ``sensitivity_s``,
        ``sensitivity_peak_mib``, ``spearman_mean``.
    """
    areas = synthetic_areas(areas_n)
    settings = ScoringSettings()
    out: dict[str, Any] = {"areas_n": areas_n, "draws": draws}

    # times without tracing (tracemalloc slows allocation), then peaks with it
    t0 = time.perf_counter()
    scored = score_areas(areas, settings)
    out["score_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = sensitivity(scored, settings, seed=1, draws=draws)
    out["sensitivity_s"] = time.perf_counter() - t0
    out["spearman_mean"] = result.summary["spearman_mean"]
    del result

    tracemalloc.start()
    score_areas(areas, settings)
    out["score_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.reset_peak()
    sensitivity(scored, settings, seed=1, draws=draws)
    out["sensitivity_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out


def _main(argv: list[str]) -> None:
    areas_n = int(argv[0]) if argv else 10_000
    draws = int(argv[1]) if len(argv) > 1 else 1_000
    res = bench(areas_n, draws)
    print(f"scoring benchmark: {res['areas_n']:,} areas, {res['draws']:,} draws")
    print(f"  score_areas  {res['score_s']:7.3f} s   peak {res['score_peak_mib']:7.1f} MiB")
    print(
        f"  sensitivity  {res['sensitivity_s']:7.3f} s   peak "
        f"{res['sensitivity_peak_mib']:7.1f} MiB   (spearman mean "
        f"{res['spearman_mean']:.3f})"
    )


if __name__ == "__main__":
    _main(sys.argv[1:])
