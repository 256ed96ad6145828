"""The summary's programme figures: the whole picture, the treaty deadlines, the progress.

Total need, what the plan covers and what binds it (teams or money); the deadline answer under
each convention the contamination falls under (CCM Article 4 for cluster munition remnants,
Mine Ban Convention Article 5 for mines); the programme's milestones and Form F-style areas.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.model import CMR_TYPES, MINE_TYPES, area_summary, split_contamination
from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import _as_date, _finite
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    from ccm_geo.planning.settings import PlanningSettings


def _programme_figures(allocation: Allocation, donor: DonorProfile) -> dict[str, Any]:
    cand = allocation.candidates
    funded = allocation.funded_by.notna().to_numpy()
    planned = float(cand["cost_usd"].sum())
    proposed = float(cand.loc[funded, "cost_usd"].sum())
    mine = float(allocation.package(donor.key)["cost_usd"].sum())
    gap_after = planned - proposed
    gap_without = gap_after + mine
    return {
        "planned_usd": planned,
        "proposed_usd": proposed,
        "gap_usd": gap_after,
        "gap_without_usd": gap_without,
        "donor_usd": mine,
        "share_of_plan": mine / planned if planned > 0 else float("nan"),
        "share_of_gap": mine / gap_without if gap_without > 0 else float("nan"),
        "tasks_planned": len(cand),
        "tasks_unfunded": int((~funded).sum()),
    }


def _progress(milestones: pd.DataFrame | None) -> pd.DataFrame:
    if milestones is None or not len(milestones) or "year" not in milestones:
        return pd.DataFrame()
    m = milestones
    if "region" in m.columns:
        m = m[m["region"].astype(str) == "all"]
        if not len(m):  # no whole-plan rows: sum the regions
            m = milestones.groupby("year").sum(numeric_only=True).reset_index()
    return m.drop(columns=[c for c in ("region",) if c in m.columns]).reset_index(drop=True)


def _form_f(areas: pd.DataFrame) -> pd.DataFrame:
    """Area by region and status, CMR apart from mines (a mixed area counts under each): the
    load stage's summary (:func:`ccm_geo.model.area_summary`), in the request's columns."""
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name))
    if "area_m2" not in a:
        a["area_m2"] = areas.geometry.area.to_numpy()
    for col, default in (("contamination", ""), ("status", "unknown"), ("region", "unknown")):
        if col not in a:
            a[col] = default
    summary = area_summary(a).rename(columns={"total_m2": "area_m2"})
    return summary[["region", "status", "areas", "area_m2", "cmr_m2", "mine_m2"]]


def _whole_picture(
    tasks: pd.DataFrame,
    allocation: Allocation,
    summary: Mapping[str, Any] | None,
    planning: PlanningSettings | None,
    areas: pd.DataFrame,
) -> dict[str, Any]:
    """Total need, what the plan covers, and whether teams or money bind the plan."""
    cost = pd.to_numeric(tasks["cost_usd"], errors="coerce").fillna(0.0)
    selected = allocation.candidates
    plan_usd = float(selected["cost_usd"].sum())
    need_usd = float(cost.sum())
    summary = dict(summary or {})
    budget = summary.get("budget_usd")
    years = [int(y) for y in summary.get("years", [])]
    budget_total = float(np.nansum(budget)) if isinstance(budget, list | tuple) else float("nan")
    teams: dict[str, int] = {}
    if "team" in tasks.columns and "team_type" in tasks.columns:
        t = tasks[tasks["team"].notna()]
        teams = {
            str(k): int(v) for k, v in t.groupby("team_type")["team"].nunique().sort_index().items()
        }
    elif planning is not None:
        teams = {k: int(v.count) for k, v in sorted(planning.teams.items()) if v.count}
    unplanned = len(tasks) - len(selected)
    binding = summary.get("binding_constraint") or summary.get("binding")
    if binding not in ("teams", "money"):
        binding = None
        if math.isfinite(budget_total) and budget_total > 0 and unplanned > 0:
            # money binds when the plan spends (nearly) all of it; else teams do
            binding = "money" if plan_usd >= 0.95 * budget_total else "teams"
    area = pd.to_numeric(areas.get("area_m2", pd.Series(dtype=float)), errors="coerce")
    if "status" in areas.columns:
        area = area[areas["status"].astype(str) != "released"]
    return {
        "need_usd": need_usd,
        "plan_usd": plan_usd,
        "budget_usd": budget_total,
        "years": years,
        "binding": binding,
        "teams": teams,
        "teams_total": int(sum(teams.values())),
        "unplanned_tasks": int(unplanned),
        "unplanned_usd": max(need_usd - plan_usd, 0.0),
        "suspected_m2": float(area.sum()),
        "plan_released_m2": float(selected.get("released_m2", selected["cmr_m2"]).sum())
        if "released_m2" in selected
        else float("nan"),
    }


def _treaties(
    areas: pd.DataFrame,
    tasks: pd.DataFrame,
    package: pd.DataFrame,
    deadline: Mapping[str, Any] | None,
    mine_ban_deadline: dt.date | str | None,
) -> list[dict[str, Any]]:
    """The deadline answer under each convention the contamination falls under.

    CMR land is judged against the CCM Article 4 deadline (the planning stage's answer), mined
    land against the Mine Ban Convention Article 5 deadline (computed here from the plan's task
    end dates). A package (or, without tasks, a programme) holding only one of them gets only
    that convention's answer.
    """
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name, errors="ignore"))
    if "status" in a:
        a = a[a["status"].astype(str) != "released"]
    codes = a.get("contamination", pd.Series("", index=a.index)).map(split_contamination)
    area = pd.to_numeric(a.get("area_m2", 0.0), errors="coerce").fillna(0.0)
    has_cmr = codes.map(lambda c: bool(c & CMR_TYPES))
    has_mine = codes.map(lambda c: bool(c & MINE_TYPES))
    if len(package):
        scope_cmr = float(package["cmr_m2"].sum()) > 0
        scope_mine = float(package["mine_m2"].sum()) > 0
    else:
        scope_cmr, scope_mine = bool(has_cmr.any()), bool(has_mine.any())
    out = []
    dl = dict(deadline or {})
    if scope_cmr:
        total = dl.get("cmr_total_m2")
        total = float(total) if _finite(total) else float(area[has_cmr].sum())
        released = dl.get("cmr_released_m2")
        released = float(released) if _finite(released) else float("nan")
        if not _finite(released):
            released = _released_by(tasks, "cmr_m2", _as_date(dl.get("deadline")))
        out.append(
            {
                "treaty": "ccm",
                "deadline": _as_date(dl.get("deadline")),
                "total_m2": total,
                "released_m2": released,
                "share": released / total if total > 0 and _finite(released) else float("nan"),
                "meets": dl.get("meets"),
                "budget_needed_per_year": dl.get("budget_needed_per_year"),
                "package_m2": float(package["cmr_m2"].sum()) if len(package) else 0.0,
            }
        )
    if scope_mine:
        when = _as_date(mine_ban_deadline)
        total = float(area[has_mine].sum())
        released = _released_by(tasks, "mine_m2", when)
        out.append(
            {
                "treaty": "apmbc",
                "deadline": when,
                "total_m2": total,
                "released_m2": released,
                "share": released / total if total > 0 and _finite(released) else float("nan"),
                "meets": None if when is None else bool(released >= total * (1 - 1e-6)),
                "budget_needed_per_year": None,
                "package_m2": float(package["mine_m2"].sum()) if len(package) else 0.0,
            }
        )
    for t in out:
        t["package_share"] = t["package_m2"] / t["total_m2"] if t["total_m2"] > 0 else float("nan")
    return out


def _released_by(tasks: pd.DataFrame, col: str, when: dt.date | None) -> float:
    """Area (m², column ``col``) the plan's tasks release by the date ``when`` (NaN: no date)."""
    if when is None or col not in tasks.columns:
        return float("nan")
    t = tasks
    if "selected" in t.columns:
        t = t[t["selected"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    if "end" in t.columns:
        end = pd.to_datetime(t["end"], errors="coerce")
        done = end.notna() & (end <= pd.Timestamp(when))
    else:
        year = pd.to_numeric(t.get("year"), errors="coerce")
        done = year.notna() & (year < when.year)
    return float(pd.to_numeric(t.loc[done, col], errors="coerce").fillna(0.0).sum())
