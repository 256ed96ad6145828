"""The proposal computed from the plan: every table and figure of one donor's request.

:func:`request_content` turns the donor matching, the scored areas, the plan's tasks,
milestones and summary, and the context layers into a :class:`RequestContent`: numbers only,
no text for the reader (``render`` words them in the donor's language, ``workbook`` writes
them as formulas). Every format is written from these numbers, so the HTML, PDF, XLSX and
GPKG agree to the dollar and the m².
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.errors import InputError
from ccm_geo.model import CMR_TYPES, MINE_TYPES, area_summary, split_contamination
from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.needs import (
    HEALTH_SPEED_KMH,
    REMOTE_MIN,
    _costed_packages,
    _risk_education,
    _unique_beneficiaries,
    victim_assistance_needs,
)
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context
    from ccm_geo.planning.settings import PlanningSettings

__all__ = ["RequestContent", "request_content", "WORKING_DAYS_PER_YEAR"]

logger = logging.getLogger(__name__)

#: Working days of a team per year when the planning settings are not given (Lao PDR planning
#: figure, DOMAIN.md); a team-month is a twelfth of it.
WORKING_DAYS_PER_YEAR = 220.0


@dataclass(frozen=True)
class RequestContent:
    """Everything one donor's request shows, as numbers; every output format is written from it.

    Attributes
    ----------
    donor
        The donor's profile (its ``language`` chooses the words and number formats).
    project_name, contact
        The programme's name, and who the donor writes to.
    tasks
        The package: one row per task with the display columns and the geometry.
    milestones
        The package by year: tasks, area (m²), CMR and mine m², cost (US$ and the donor's
        currency), cumulative share of the package cost.
    totals
        Package totals: ``tasks``, ``cost_usd``, ``cost_currency``, ``area_m2``,
        ``released_m2``, ``cmr_m2``, ``mine_m2``, ``team_months``, ``beneficiaries`` (None:
        not estimated), ``beneficiaries_unique`` (True: each village counted once), ``regions``,
        ``years``, ``survey_tasks``, ``clearance_tasks``.
    programme
        Programme figures: plan cost, cost proposed to all donors, gap, this donor's share.
    picture
        The whole picture: ``need_usd`` (every task of the register), ``plan_usd`` (the plan's
        tasks), ``budget_usd`` (the plan's budget over its years), ``years``, ``binding``
        (``"teams"``, ``"money"`` or None), ``teams`` (team count by type), ``unplanned_tasks``,
        ``unplanned_usd``, ``need_ha``, ``plan_ha``.
    treaties
        One entry per convention that the package's (or, without tasks, the programme's)
        contamination falls under: ``treaty`` (``"ccm"`` or ``"apmbc"``), ``deadline`` (date
        or None), ``total_m2``, ``released_m2`` (by the deadline), ``share``, ``meets``,
        ``package_m2``, ``package_share``.
    progress
        The programme's yearly milestones (``region == "all"``), possibly empty.
    priority
        Per task: score, rank, class, explanation and the contributions, largest first.
    reasons
        Why these areas first: criterion key -> its share of the package's score (largest
        first, at most five).
    context_regions
        Per region of the package (all regions without tasks): areas, CMR and mine ha,
        accidents and casualties recorded, people living near.
    methods
        Per method of the package: activity, tasks, area worked (m²), team-days, productivity
        (m²/team-day), cost per team-day and per m² (US$), source.
    budget
        Direct cost by activity (rows) and year (columns), US$.
    gantt
        Per region and activity, the number of tasks at work in each quarter (columns
        ``YYYY-Qn``).
    results
        Results framework: ``output``, ``indicator`` (keys), then one column per year (targets).
    victim_assistance, risk_education
        Needs tables (donors funding them), else None.
    packages
        Costed victim assistance and risk education packages: ``key``, ``people``,
        ``unit_usd``, ``cost_usd``.
    ask_usd, indirect_usd
        What the donor is asked for (direct + indirect), and the indirect cost line, US$.
    assumptions
        Figures used: working days, exchange rate, channel, unit costs (numbers; ``render``
        words them).
    static_map_png, region_maps
        The package map as PNG bytes, and one map sheet per region (region -> PNG).
    notes
        Remarks shown in the request (map not drawn, ...).
    """

    donor: DonorProfile
    project_name: str
    tasks: gpd.GeoDataFrame
    milestones: pd.DataFrame
    totals: dict[str, Any]
    programme: dict[str, Any]
    picture: dict[str, Any]
    treaties: list[dict[str, Any]]
    progress: pd.DataFrame
    priority: pd.DataFrame
    reasons: list[tuple[str, float]]
    context_regions: pd.DataFrame
    methods: pd.DataFrame
    budget: pd.DataFrame
    gantt: pd.DataFrame
    results: pd.DataFrame
    victim_assistance: pd.DataFrame | None
    risk_education: pd.DataFrame | None
    packages: list[dict[str, Any]]
    ask_usd: float
    indirect_usd: float
    assumptions: dict[str, Any]
    contact: str = ""
    static_map_png: bytes | None = None
    region_maps: dict[str, bytes] = field(default_factory=dict)
    notes: tuple[str, ...] = field(default=())


def request_content(
    donor: DonorProfile,
    allocation: Allocation,
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    milestones: pd.DataFrame | None,
    deadline: Mapping[str, Any] | None,
    context: Context | None,
    *,
    project_name: str,
    planning: PlanningSettings | None = None,
    plan_summary: Mapping[str, Any] | None = None,
    mine_ban_deadline: dt.date | str | None = None,
    contact: str = "",
    remote_min: float = REMOTE_MIN,
    speed_kmh: float = HEALTH_SPEED_KMH,
) -> RequestContent:
    """Compute every table and figure of one donor's request.

    Parameters
    ----------
    donor
        The donor (one of ``allocation.donors``).
    allocation
        The matching of tasks to donors.
    areas, tasks, milestones, deadline, context
        As for :func:`ccm_geo.publish.requests.write_requests`; ``deadline`` is the planning
        stage's Article 4 (CCM) answer.
    project_name, contact
        The programme's name; who the donor writes to.
    planning
        Planning settings (method figures, teams and working days); optional.
    plan_summary
        The planning stage's summary (``years``, ``budget_usd``, ``cost_usd_selected`` ...):
        the plan's budget, to tell whether teams or money bind it; optional.
    mine_ban_deadline
        The Mine Ban Convention Article 5 deadline (mined land is judged against it).
    remote_min, speed_kmh
        Victim assistance: the remoteness threshold (minutes) and the straight-line speed to
        care (km/h) used when settlements carry no ``travel_min_health``.

    Returns
    -------
    RequestContent
        Without maps (``static_map_png`` None); ``render`` draws them.
    """
    _check_areas(areas)
    donor = allocation.donor(donor.key)
    wdays = planning.working_days_per_year if planning is not None else WORKING_DAYS_PER_YEAR
    package = _package_frame(allocation, donor, areas, tasks, wdays)
    pop_col = _population_column(areas)
    totals = _totals(package, pop_col)
    unique = _unique_beneficiaries(package, context, pop_col)
    if unique is not None:
        totals["beneficiaries"] = unique
        totals["beneficiaries_unique"] = True
    va = ra = None
    if "victim_assistance" in donor.thematic:
        va = victim_assistance_needs(context, remote_min=remote_min, speed_kmh=speed_kmh)
        if donor.regions:
            va = va[va["region"].isin(donor.regions)].reset_index(drop=True)
    if "risk_education" in donor.thematic:
        ra = _risk_education(areas, tasks, allocation, donor, pop_col, context)
    packages = _costed_packages(donor, va, ra)
    direct = totals["cost_usd"] + sum(p["cost_usd"] for p in packages)
    envelope = donor.envelope()
    env_total = float(sum(envelope.values())) if isinstance(envelope, dict) else float(envelope)
    room = env_total / (1 + donor.indirect_cost_share) - totals["cost_usd"]
    if packages and direct > totals["cost_usd"] + room:
        # needs beyond the envelope: survivors first, then risk education with what is left
        for p in packages:
            share = min(1.0, max(room, 0.0) / p["cost_usd"]) if p["cost_usd"] > 0 else 1.0
            p["share_funded"] = share
            p["cost_usd"] *= share
            room -= p["cost_usd"]
        direct = totals["cost_usd"] + sum(p["cost_usd"] for p in packages)
    indirect = direct * donor.indirect_cost_share
    return RequestContent(
        donor=donor,
        project_name=project_name,
        contact=contact,
        tasks=package,
        milestones=_package_milestones(package, donor),
        totals=totals,
        programme=_programme_figures(allocation, donor),
        picture=_whole_picture(tasks, allocation, plan_summary, planning, areas),
        treaties=_treaties(areas, tasks, package, deadline, mine_ban_deadline),
        progress=_progress(milestones),
        priority=_priority(package, areas),
        reasons=_reasons(package, areas),
        context_regions=_context_regions(areas, context, donor, package, pop_col),
        methods=_methods(package, planning),
        budget=_budget(package),
        gantt=_gantt(package),
        results=_results(package, packages, context, pop_col),
        victim_assistance=va,
        risk_education=ra,
        packages=packages,
        ask_usd=direct + indirect,
        indirect_usd=indirect,
        assumptions={
            "working_days": wdays,
            "exchange_rate": donor.exchange_rate,
            "currency": donor.currency,
            "exchange_rate_source": donor.exchange_rate_source,
            "default_channel": allocation.default_channel,
            "population_column": pop_col,
            "remote_min": remote_min,
            "speed_kmh": speed_kmh,
            "travel_from_roads": context is not None
            and context.settlements is not None
            and "travel_min_health" in context.settlements.columns,
            "indirect_cost_share": donor.indirect_cost_share,
        },
        notes=tuple(allocation.notes),
    )


def _with_note(content: RequestContent, note: str) -> RequestContent:
    import dataclasses

    return dataclasses.replace(content, notes=(*content.notes, note))


def _check_areas(areas: gpd.GeoDataFrame) -> None:
    missing = [c for c in ("hazard_id", "region") if c not in areas.columns]
    if missing:
        msg = (
            f"donor requests: the areas lack columns {missing} (found {list(areas.columns)}); "
            "pass the scored areas of the scoring stage"
        )
        raise InputError(msg)


def _population_column(areas: pd.DataFrame) -> str | None:
    """``population_within_5km`` when present, else the nearest other radius, else None."""
    cols = [c for c in areas.columns if c.startswith("population_within_")]
    if not cols:
        return None
    if "population_within_5km" in cols:
        return "population_within_5km"

    def radius(c: str) -> float:
        try:
            return abs(float(c[len("population_within_") :].removesuffix("km")) - 5.0)
        except ValueError:
            return math.inf

    return sorted(cols, key=lambda c: (radius(c), c))[0]


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


def _priority(pkg: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name)).drop_duplicates("hazard_id")
    a["hazard_id"] = a["hazard_id"].astype(str)
    a = a.set_index("hazard_id")
    contrib = [c for c in a.columns if c.startswith("contrib_")]
    rows = []
    for _, t in pkg.iterrows():
        h = t["hazard_id"]
        row = a.loc[h] if h in a.index else pd.Series(dtype=object)
        parts = sorted(
            (
                (c[len("contrib_") :], float(row[c]))
                for c in contrib
                if c in row and pd.notna(row[c])
            ),
            key=lambda p: (-p[1], p[0]),
        )
        rows.append(
            {
                "task_id": t["task_id"],
                "hazard_id": h,
                "name": t.get("name", ""),
                "score": _float(row.get("score")),
                "rank": _float(row.get("rank")),
                "priority_class": str(row.get("priority_class", "") or ""),
                "explanation": str(row.get("explanation", "") or ""),
                "contributions": [(k, v) for k, v in parts if v != 0],
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "task_id",
            "hazard_id",
            "name",
            "score",
            "rank",
            "priority_class",
            "explanation",
            "contributions",
        ],
    )


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


# ---- formatting ------------------------------------------------------------------------


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float | np.number) and math.isfinite(float(v))


# ---- the proposal's parts ----------------------------------------------------------------


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


def _as_date(v) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


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


def _context_regions(
    areas: pd.DataFrame,
    context: Context | None,
    donor: DonorProfile,
    package: pd.DataFrame,
    pop_col: str | None,
) -> pd.DataFrame:
    """Per region: hazardous areas, CMR and mine hectares, accidents and casualties, people.

    The regions are the package's (the donor's, or all, without tasks). Accidents are placed
    in the region of the nearest hazardous area; people are the villagers within the
    population radius of any of the region's areas, each village counted once.
    """
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name, errors="ignore"))
    keep = a["status"].astype(str) != "released" if "status" in a else np.ones(len(a), bool)
    g_areas = areas[np.asarray(keep)]
    a = a[np.asarray(keep)]
    codes = a.get("contamination", pd.Series("", index=a.index)).map(split_contamination)
    area = pd.to_numeric(a.get("area_m2", 0.0), errors="coerce").fillna(0.0)
    frame = pd.DataFrame(
        {
            "region": a["region"].astype(str),
            "areas": 1,
            "cmr_ha": np.where(codes.map(lambda c: bool(c & CMR_TYPES)), area / 1e4, 0.0),
            "mine_ha": np.where(codes.map(lambda c: bool(c & MINE_TYPES)), area / 1e4, 0.0),
        }
    )
    out = frame.groupby("region", sort=True).sum()
    if len(package):
        regions = sorted(package["region"].astype(str).unique())
    elif donor.regions:
        regions = sorted(donor.regions)
    else:
        regions = list(out.index)
    out = out.reindex(regions).fillna(0.0)
    out["accidents"] = np.nan
    out["casualties"] = np.nan
    acc = None if context is None else context.accidents
    if acc is not None and len(acc) and len(g_areas):
        import geopandas as gpd

        pts = gpd.GeoDataFrame(
            {
                "casualties": pd.to_numeric(acc.get("killed", 0), errors="coerce").fillna(0)
                + pd.to_numeric(acc.get("injured", 0), errors="coerce").fillna(0)
            },
            geometry=acc.geometry.to_crs(g_areas.crs).to_numpy(),
            crs=g_areas.crs,
        )
        j = gpd.sjoin_nearest(pts, g_areas[["region", "geometry"]], how="left")
        j = j[~j.index.duplicated()]
        by = j.groupby(j["region"].astype(str))
        out["accidents"] = by.size().reindex(out.index).fillna(0).to_numpy()
        out["casualties"] = by["casualties"].sum().reindex(out.index).fillna(0).to_numpy()
    out["people"] = np.nan
    s = None if context is None else context.settlements
    m = re.fullmatch(r"population_within_(\d+(?:_\d+)?)km", pop_col or "")
    if s is not None and m is not None and "population" in s.columns and len(g_areas):
        radius = float(m.group(1).replace("_", ".")) * 1000.0
        points = s.to_crs(g_areas.crs).geometry.representative_point()
        pop = pd.to_numeric(s["population"], errors="coerce")
        people = []
        for r in out.index:
            geom = g_areas.geometry[g_areas["region"].astype(str).to_numpy() == r]
            near = points.dwithin(geom.union_all(), radius) if len(geom) else points.isna()
            people.append(float(pop[near.to_numpy()].sum()))
        out["people"] = people
    return out.reset_index()


def _methods(package: pd.DataFrame, planning: PlanningSettings | None) -> pd.DataFrame:
    """Per method of the package: activity, tasks, area worked, team-days and the unit figures."""
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
    g.loc[g["cost_usd_per_m2"].isna(), "cost_usd_per_m2"] = 0.0
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
    rows = []
    keys = package.loc[ok, ["region", "activity"]].astype(str).drop_duplicates()
    keys = keys.sort_values(["region", "activity"], ascending=[True, False])
    sq, eq = start.dt.to_period("Q"), end.dt.to_period("Q")
    for region, activity in keys.itertuples(index=False):
        sel = ok & (package["region"].astype(str) == region)
        sel &= package["activity"].astype(str) == activity
        row = {"region": region, "activity": activity}
        for q in quarters:
            row[f"{q.year}-Q{q.quarter}"] = int((sel & (sq <= q) & (eq >= q)).sum())
        rows.append(row)
    return pd.DataFrame(rows)


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
