"""The donor's package: its tasks with their display columns, totals, milestones and priority.

Also why these areas first (the criteria that weigh most in the package's scores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import _population_column
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    import geopandas as gpd


def _package_frame(
    allocation: Allocation,
    donor: DonorProfile,
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    working_days: float,
) -> gpd.GeoDataFrame:
    """The donor's tasks with every display column, in candidate order, with geometry."""
    import geopandas as gpd

    pkg = allocation.package(donor.key).copy()
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name)).drop_duplicates("hazard_id")
    a["hazard_id"] = a["hazard_id"].astype(str)
    a = a.set_index("hazard_id")
    hid = pkg["hazard_id"].astype(str) if "hazard_id" in pkg else pd.Series("", index=pkg.index)
    pkg["hazard_id"] = hid
    pkg["name"] = hid.map(a["name"]) if "name" in a else ""
    pkg["name"] = pkg["name"].fillna("").astype(str)
    pkg["status"] = hid.map(a["status"]).fillna("").astype(str) if "status" in a else ""
    if "area_m2" not in pkg:
        pkg["area_m2"] = hid.map(a["area_m2"]) if "area_m2" in a else np.nan
    pkg["area_m2"] = pd.to_numeric(pkg["area_m2"], errors="coerce").fillna(0.0)
    pkg["area_ha"] = pkg["area_m2"] / 1e4
    # area_m2 is the area a task works on (survey, then what survey leaves, then what technical
    # survey leaves): the same land appears in each step. Totals sum what each task releases.
    released = pkg["released_m2"] if "released_m2" in pkg else pkg["area_m2"]
    pkg["released_m2"] = pd.to_numeric(released, errors="coerce").fillna(0.0)
    pkg["cost_currency"] = pkg["cost_usd"] * donor.exchange_rate
    days = pd.to_numeric(pkg.get("team_days", np.nan), errors="coerce")
    pkg["team_months"] = days / (working_days / 12.0)
    pop_col = _population_column(areas)
    pkg["beneficiaries"] = (
        pd.to_numeric(hid.map(a[pop_col]), errors="coerce") if pop_col else np.nan
    )
    pkg["donor"] = donor.key
    pkg["currency"] = donor.currency
    # geometry: the task's own, else its area's
    geom = None
    if isinstance(tasks, gpd.GeoDataFrame) and len(pkg):
        g = tasks.set_index(tasks["task_id"].astype(str)).geometry
        g = g[~g.index.duplicated()]
        geom = g.reindex(pkg["task_id"]).to_numpy()
    if geom is None or pd.isna(pd.Series(geom, dtype=object)).any():
        ag = areas.set_index(areas["hazard_id"].astype(str)).geometry
        ag = ag[~ag.index.duplicated()]
        fallback = ag.reindex(hid).to_numpy()
        geom = (
            fallback
            if geom is None
            else np.where(pd.isna(pd.Series(geom, dtype=object)), fallback, geom)
        )
    return gpd.GeoDataFrame(
        pkg.reset_index(drop=True), geometry=list(geom) if len(pkg) else [], crs=areas.crs
    )


def _totals(pkg: pd.DataFrame, pop_col: str | None) -> dict[str, Any]:
    ben = None
    if pop_col is not None:
        per_area = pkg.drop_duplicates("hazard_id")["beneficiaries"]
        ben = float(per_area.sum()) if per_area.notna().any() else None
        if ben is not None and per_area.isna().any():
            ben = float("nan")  # some areas' people are unknown: the total is not estimated
    return {
        "tasks": len(pkg),
        "cost_usd": float(pkg["cost_usd"].sum()),
        "cost_currency": float(pkg["cost_currency"].sum()),
        "area_m2": float(pkg["area_m2"].sum()),
        "released_m2": float(pkg["released_m2"].sum()),
        "cmr_m2": float(pkg["cmr_m2"].sum()),
        "mine_m2": float(pkg["mine_m2"].sum()),
        "team_months": float(pd.to_numeric(pkg["team_months"], errors="coerce").sum()),
        "beneficiaries": ben,
        "beneficiaries_unique": False,
        "survey_tasks": int((pkg["activity"] == "survey").sum()) if len(pkg) else 0,
        "clearance_tasks": int((pkg["activity"] != "survey").sum()) if len(pkg) else 0,
        "regions": sorted(pkg["region"].astype(str).unique().tolist()),
        "years": sorted(int(y) for y in pkg["year"].unique()),
    }


def _package_milestones(pkg: pd.DataFrame, donor: DonorProfile) -> pd.DataFrame:
    cols = [
        "year",
        "tasks",
        "released_m2",
        "cmr_m2",
        "mine_m2",
        "cost_usd",
        "cost_currency",
        "cum_cost_share",
    ]
    if not len(pkg):
        return pd.DataFrame(columns=cols)
    m = (
        pkg.assign(tasks=1)
        .groupby("year", sort=True)[
            ["tasks", "released_m2", "cmr_m2", "mine_m2", "cost_usd", "cost_currency"]
        ]
        .sum()
    )
    m = m.reset_index()
    total = m["cost_usd"].sum()
    m["cum_cost_share"] = m["cost_usd"].cumsum() / total if total > 0 else 0.0
    return m[cols]


def _priority(pkg: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    """Per task: its area's score, rank, class, explanation and the criteria's contributions
    (largest first, zeros left out)."""
    cols = [
        "task_id",
        "hazard_id",
        "name",
        "score",
        "rank",
        "priority_class",
        "explanation",
        "contributions",
    ]
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name)).drop_duplicates("hazard_id")
    a["hazard_id"] = a["hazard_id"].astype(str)
    a = a.set_index("hazard_id")
    sub = a.reindex(pkg["hazard_id"].astype(str).to_numpy())
    contrib = sorted(c for c in a.columns if c.startswith("contrib_"))
    names = [c[len("contrib_") :] for c in contrib]
    values = (
        sub[contrib].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        if contrib
        else np.empty((len(sub), 0))
    )
    parts = [
        sorted(
            ((k, float(v)) for k, v in zip(names, row, strict=True) if np.isfinite(v) and v != 0),
            key=lambda p: (-p[1], p[0]),
        )
        for row in values
    ]

    def text(col: str) -> list[str]:
        if col not in sub:
            return [""] * len(sub)
        return [str(v or "") if not pd.isna(v) else "" for v in sub[col]]

    def number(col: str) -> np.ndarray:
        if col not in sub:
            return np.full(len(sub), np.nan)
        return pd.to_numeric(sub[col], errors="coerce").to_numpy(dtype=float)

    return pd.DataFrame(
        {
            "task_id": pkg["task_id"].to_numpy(),
            "hazard_id": pkg["hazard_id"].to_numpy(),
            "name": pkg["name"].to_numpy() if "name" in pkg else [""] * len(pkg),
            "score": number("score"),
            "rank": number("rank"),
            "priority_class": text("priority_class"),
            "explanation": text("explanation"),
            "contributions": parts,
        },
        columns=cols,
    )


def _reasons(package: pd.DataFrame, areas: pd.DataFrame) -> list[tuple[str, float]]:
    """Criteria that make these areas a priority: each criterion's share of the package's
    summed score (areas counted once), largest first, at most five."""
    if not len(package):
        return []
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name, errors="ignore"))
    a = a.drop_duplicates("hazard_id")
    a.index = pd.Index(a["hazard_id"].astype(str).to_numpy())
    ids = package["hazard_id"].astype(str).unique()
    sub = a.reindex(ids)
    cols = [c for c in a.columns if c.startswith("contrib_")]
    sums = {c[len("contrib_") :]: float(pd.to_numeric(sub[c], errors="coerce").sum()) for c in cols}
    total = sum(v for v in sums.values() if v > 0)
    if total <= 0:
        return []
    parts = sorted(((k, v / total) for k, v in sums.items() if v > 0), key=lambda p: (-p[1], p[0]))
    return parts[:5]
