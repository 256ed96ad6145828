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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from ccm_geo.errors import InputError
from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import (
    WORKING_DAYS_PER_YEAR,
    _finite,
    _float,
    _population_column,
)
from ccm_geo.publish.requests.needs import (
    HEALTH_SPEED_KMH,
    REMOTE_MIN,
    _costed_packages,
    _risk_education,
    _unique_beneficiaries,
    victim_assistance_needs,
)
from ccm_geo.publish.requests.package import (
    _package_frame,
    _package_milestones,
    _priority,
    _reasons,
    _totals,
)
from ccm_geo.publish.requests.picture import (
    _form_f,
    _programme_figures,
    _progress,
    _treaties,
    _whole_picture,
)
from ccm_geo.publish.requests.regions import _context_regions
from ccm_geo.publish.requests.workplan import _budget, _gantt, _methods, _results
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context
    from ccm_geo.planning.settings import PlanningSettings

__all__ = ["RequestContent", "request_content", "WORKING_DAYS_PER_YEAR"]

# The parts live in their own modules (``package``, ``picture``, ``regions``, ``workplan``,
# ``common``); these names stay importable from here for callers of the earlier layout.
_REEXPORTED = (_finite, _float, _form_f, _progress, _totals, _unique_beneficiaries)

logger = logging.getLogger(__name__)


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
    costed = [p for p in packages if math.isfinite(p["cost_usd"])]  # unknown cost: no data
    direct = totals["cost_usd"] + sum(p["cost_usd"] for p in costed)
    envelope = donor.envelope()
    env_total = float(sum(envelope.values())) if isinstance(envelope, dict) else float(envelope)
    room = env_total / (1 + donor.indirect_cost_share) - totals["cost_usd"]
    if costed and direct > totals["cost_usd"] + room:
        # needs beyond the envelope: survivors first, then risk education with what is left
        for p in costed:
            share = min(1.0, max(room, 0.0) / p["cost_usd"]) if p["cost_usd"] > 0 else 1.0
            p["share_funded"] = share
            p["cost_usd"] *= share
            room -= p["cost_usd"]
        direct = totals["cost_usd"] + sum(p["cost_usd"] for p in costed)
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
