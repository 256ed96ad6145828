"""Results framework, methods, work plan and budget of the donor's package.

The results framework (outputs, indicators, yearly targets), the methods with their unit
figures, the Gantt of tasks by quarter, and the direct cost by activity and year.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.errors import DataWarning
from ccm_geo.publish.requests.needs import _unique_beneficiaries

if TYPE_CHECKING:
    from ccm_geo.model import Context
    from ccm_geo.planning.settings import PlanningSettings


def _methods(package: pd.DataFrame, planning: PlanningSettings | None) -> pd.DataFrame:
    """Per method of the package: activity, tasks, area worked, team-days and the unit figures.

    A method the planning settings do not list (or every method, without settings) has its
    m² per team-day and US$ per team-day derived from its tasks (the whole cost counted per
    team-day) and its cost per m² is no data (NaN), never 0; a :class:`DataWarning` names
    the methods when settings are given.
    """
    cols = [
        "method",
        "activity",
        "tasks",
        "area_m2",
        "team_days",
        "productivity_m2_per_team_day",
        "cost_usd_per_team_day",
        "cost_usd_per_m2",
        "cost_usd",
        "source",
    ]
    if not len(package):
        return pd.DataFrame(columns=cols)
    p = package.assign(
        team_days=pd.to_numeric(package.get("team_days", np.nan), errors="coerce"), n=1
    )
    g = p.groupby("method", sort=True).agg(
        activity=("activity", "first"),
        tasks=("n", "sum"),
        area_m2=("area_m2", "sum"),
        team_days=("team_days", "sum"),
        cost_usd=("cost_usd", "sum"),
    )
    g = g.reset_index()
    spec = planning.methods if planning is not None else {}
    g["productivity_m2_per_team_day"] = [
        spec[m].productivity_m2_per_team_day if m in spec else np.nan for m in g["method"]
    ]
    g["cost_usd_per_team_day"] = [
        spec[m].cost_usd_per_team_day if m in spec else np.nan for m in g["method"]
    ]
    g["cost_usd_per_m2"] = [spec[m].cost_usd_per_m2 if m in spec else np.nan for m in g["method"]]
    g["source"] = [(spec[m].source or "") if m in spec else "" for m in g["method"]]
    # without the settings, the unit figures the plan used follow from its tasks
    miss = g["productivity_m2_per_team_day"].isna() & (g["team_days"] > 0)
    g.loc[miss, "productivity_m2_per_team_day"] = g["area_m2"] / g["team_days"]
    miss = g["cost_usd_per_team_day"].isna() & (g["team_days"] > 0)
    g.loc[miss, "cost_usd_per_team_day"] = g["cost_usd"] / g["team_days"]
    unlisted = sorted(set(g["method"]) - set(spec))
    if planning is not None and unlisted:  # tasks planned under other settings
        msg = (
            f"request: method(s) {unlisted} of the plan's tasks are not in the planning "
            "settings ([planning.methods]); their m² and US$ per team-day are derived from "
            "the tasks (the whole cost per team-day) and their cost per m² is no data. Run "
            "the prioritise stage again with these settings, or add the methods to them"
        )
        warnings.warn(msg, DataWarning, stacklevel=3)
    order = {"survey": 0, "clearance": 1}
    g = g.sort_values(
        ["activity", "method"], key=lambda s: s.map(order) if s.name == "activity" else s
    )
    return g[cols].reset_index(drop=True)


def _budget(package: pd.DataFrame) -> pd.DataFrame:
    """Direct cost (US$) by activity (rows: survey, clearance) and year (columns)."""
    if not len(package):
        return pd.DataFrame()
    b = package.pivot_table(
        index="activity", columns="year", values="cost_usd", aggfunc="sum", fill_value=0.0
    )
    b = b.reindex([a for a in ("survey", "clearance") if a in b.index])
    b.columns = [int(c) for c in b.columns]
    return b


def _gantt(package: pd.DataFrame) -> pd.DataFrame:
    """Tasks at work per quarter, by region and activity (columns ``YYYY-Qn``)."""
    if not len(package) or "start" not in package.columns or "end" not in package.columns:
        return pd.DataFrame()
    start = pd.to_datetime(package["start"], errors="coerce")
    end = pd.to_datetime(package["end"], errors="coerce")
    ok = start.notna() & end.notna()
    if not ok.any():
        return pd.DataFrame()
    q0, q1 = start[ok].min().to_period("Q"), end[ok].max().to_period("Q")
    quarters = pd.period_range(q0, q1, freq="Q")
    p = pd.DataFrame(
        {
            "region": package.loc[ok, "region"].astype(str),
            "activity": package.loc[ok, "activity"].astype(str),
            "sq": start[ok].dt.to_period("Q").map(lambda q: q.ordinal).astype(int),
            "eq": end[ok].dt.to_period("Q").map(lambda q: q.ordinal).astype(int),
        }
    )
    keys = ["region", "activity"]
    out = p[keys].drop_duplicates().sort_values(keys, ascending=[True, False])
    out = out.set_index(keys)
    for q in quarters:  # one vector count per quarter (not per region and quarter)
        at_work = (p["sq"] <= q.ordinal) & (p["eq"] >= q.ordinal)
        counts = at_work.groupby([p["region"], p["activity"]]).sum()
        out[f"{q.year}-Q{q.quarter}"] = counts.reindex(out.index).fillna(0).astype(int)
    return out.reset_index()


def _results(
    package: pd.DataFrame,
    packages: list[dict[str, Any]],
    context: Context | None,
    pop_col: str | None,
) -> pd.DataFrame:
    """Results framework: outputs, indicators and the yearly targets (cumulative within year).

    Indicator keys: ``released_ha``, ``cmr_ha``, ``mine_ha``, ``tasks``, ``people``,
    ``survivors``, ``re_people``; ``render`` words them.
    """
    rows = []
    if len(package):
        by_year = package.groupby("year", sort=True)
        years = [int(y) for y in by_year.groups]
        released = by_year["released_m2"].sum() / 1e4
        rows.append(("land", "released_ha", released.tolist()))
        cmr = by_year["cmr_m2"].sum() / 1e4
        if cmr.sum() > 0:
            rows.append(("land", "cmr_ha", cmr.tolist()))
        mine = by_year["mine_m2"].sum() / 1e4
        if mine.sum() > 0:
            rows.append(("land", "mine_ha", mine.tolist()))
        rows.append(("tasks", "tasks", by_year.size().astype(float).tolist()))
        people = [
            _unique_beneficiaries(package[package["year"] == y], context, pop_col) for y in years
        ]
        if all(p is not None for p in people):
            rows.append(("people", "people", [float(p) for p in people]))
    else:
        years = []
    for p in packages:
        people = p["people"] * p.get("share_funded", 1.0)
        key = "survivors" if p["key"] == "victim_assistance" else "re_people"
        rows.append((p["key"], key, [people]))
    if not years and packages:
        years = [0]  # one column: the grant period
    out = pd.DataFrame(
        [
            {"output": o, "indicator": i, **{y: (v[k] if k < len(v) else np.nan)}}
            for o, i, v in rows
            for k, y in enumerate(years)
        ]
    )
    if not len(out):
        return pd.DataFrame(columns=["output", "indicator"])
    out = out.groupby(["output", "indicator"], sort=False).first().reset_index()
    return out
