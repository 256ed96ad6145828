"""Annual milestones per year and region: the table of an Article 4 extension request.

Per plan year and region (and ``"all"``): area to be released (split by how: cancelled, reduced,
cleared; and by convention: CMR, mines), tasks completed, cost, and cumulative progress against
the total suspected area. A task counts in the plan year it is budgeted in (``year``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MILESTONE_COLUMNS", "milestones"]

MILESTONE_COLUMNS = [
    "year",
    "region",
    "released_m2",
    "cancelled_m2",
    "reduced_m2",
    "cleared_m2",
    "cmr_m2",
    "mine_m2",
    "tasks_completed",
    "cost_usd",
    "cum_released_m2",
    "total_m2",
    "progress_share",
    "cum_cmr_m2",
    "cmr_total_m2",
    "cmr_remaining_m2",
]


def milestones(tasks: pd.DataFrame, years: list[int]) -> pd.DataFrame:
    """Annual milestone table.

    Parameters
    ----------
    tasks
        Every task (selected or not) with ``year`` (missing when not selected), ``region``,
        ``kind``, ``released_m2``, ``cmr_m2``, ``mine_m2`` (m²) and ``cost_usd`` (US$). Totals
        are over every task, so they are the whole suspected area of the areas planned.
    years
        Plan years, in order: every year appears, with zeros when nothing is planned.

    Returns
    -------
    pandas.DataFrame
        Columns ``MILESTONE_COLUMNS``; one row per year and region, regions sorted, then
        ``region == "all"`` for the whole plan. ``progress_share`` = cumulative released area /
        total suspected area (0-1); ``cmr_remaining_m2`` = CMR area not yet released at the
        end of the year.
    """
    t = pd.DataFrame(
        {
            "year": pd.to_numeric(tasks["year"], errors="coerce"),
            "region": tasks["region"].astype(str),
            "released_m2": tasks["released_m2"].astype(float),
            "cmr_m2": tasks["cmr_m2"].astype(float),
            "mine_m2": tasks["mine_m2"].astype(float),
            "cost_usd": tasks["cost_usd"].astype(float),
            "kind": tasks["kind"].astype(str),
        }
    )
    for kind, col in (("nts", "cancelled_m2"), ("ts", "reduced_m2"), ("clearance", "cleared_m2")):
        t[col] = np.where(t["kind"] == kind, t["released_m2"], 0.0)
    t["tasks_completed"] = 1
    sums_of = MILESTONE_COLUMNS[2:10]  # released_m2 ... cost_usd: summed by year
    # every region at once (a national register has hundreds): its rows summed by year as
    # its own grouping would, up to rounding in the last bits
    done = t.dropna(subset=["year"])
    regions = sorted(t["region"].unique().tolist())
    every = pd.MultiIndex.from_product([regions, years], names=["region", "year"])
    by_region = (
        done.groupby(["region", done["year"].astype(np.int64)], sort=True)[sums_of]
        .sum()
        .reindex(every, fill_value=0)
    )
    totals = t.groupby("region", sort=True)[["released_m2", "cmr_m2"]].sum()
    region = by_region.index.get_level_values("region")
    per_region = _cumulated(
        by_region.reset_index(),
        totals["released_m2"].reindex(region).to_numpy(),
        totals["cmr_m2"].reindex(region).to_numpy(),
        by=region,
    )
    every_year = done.groupby("year")[sums_of].sum().reindex(years, fill_value=0)
    every_year.index.name = "year"
    every_year = every_year.reset_index()
    every_year.insert(1, "region", "all")
    whole = _cumulated(every_year, t["released_m2"].sum(), t["cmr_m2"].sum())
    frames = [per_region, whole] if regions else [whole]
    out = pd.concat(frames, ignore_index=True)[MILESTONE_COLUMNS]
    out["year"] = out["year"].astype(int)
    out["tasks_completed"] = out["tasks_completed"].astype(int)
    return out


def _cumulated(sums: pd.DataFrame, total, cmr_total, by: pd.Index | None = None) -> pd.DataFrame:
    """Rows of sums by year (of one region, or of each region ``by``), cumulated, against the
    totals (one number, or one per row)."""
    cum = sums.groupby(np.asarray(by), sort=False) if by is not None else sums
    sums["cum_released_m2"] = cum["released_m2"].cumsum()
    sums["total_m2"] = total
    sums["progress_share"] = np.where(
        sums["total_m2"] > 0,
        sums["cum_released_m2"] / sums["total_m2"].where(sums["total_m2"] > 0, 1.0),
        1.0,
    )
    sums["cum_cmr_m2"] = cum["cmr_m2"].cumsum()
    sums["cmr_total_m2"] = cmr_total
    sums["cmr_remaining_m2"] = (sums["cmr_total_m2"] - sums["cum_cmr_m2"]).clip(lower=0.0)
    return sums
