"""Tasks from hazardous areas: land-release method, worked and released area, cost, team-days.

Each area that is not released becomes a short chain of tasks (IMAS 07.11 land release):

* an SHA whose evidence is in ``rules.nts_for_evidence`` (default indirect or none) gets a
  non-technical survey (NTS) of its whole area first; NTS cancels ``cancel_share`` of it;
* then, when the area left is at least ``rules.ts_min_area_m2``, a technical survey (TS) of
  what is left, which reduces ``reduce_share`` of it (dog-assisted TS where AP/AT mines are
  present and dog teams exist);
* then clearance of what is left: mechanical where the land cover of ``rules.mechanical_landuse``
  covers at least ``rules.mechanical_min_share`` and the area to clear is at least
  ``rules.mechanical_min_area_m2`` (and mechanical teams exist); otherwise manual (the mine
  method where AP/AT are present).

A CHA, or an SHA with direct evidence, starts at the TS step. Each task's ``predecessor`` is the
task before it in the chain; ``benefit`` is the value of the land it releases (see
``make_tasks``). Every figure used is written into the task's ``assumptions`` text.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo.errors import InputError
from ccm_geo.model import CMR_TYPES, MINE_TYPES, split_contamination
from ccm_geo.planning.settings import MethodSpec, PlanningSettings

__all__ = ["TASK_COLUMNS", "make_tasks"]

logger = logging.getLogger(__name__)

#: Columns of the task table, in order (geometry last).
TASK_COLUMNS = [
    "task_id",
    "hazard_id",
    "step",
    "method",
    "kind",
    "team_type",
    "area_m2",
    "released_m2",
    "expected_clear_m2",
    "cmr_m2",
    "mine_m2",
    "cost_usd",
    "team_days",
    "benefit",
    "predecessor",
    "region",
    "score",
    "rank",
    "contamination",
    "assumptions",
]

_KIND_SUFFIX = {"nts": "nts", "ts": "ts", "clearance": "clr"}
_MIN_TASK_M2 = 1.0  # a step left with less than 1 m² to work on produces no task


def make_tasks(areas: gpd.GeoDataFrame, settings: PlanningSettings) -> gpd.GeoDataFrame:
    """Turn scored hazardous areas into land-release tasks.

    Parameters
    ----------
    areas
        One row per hazardous area in a metric CRS, with ``hazard_id``, ``geometry``,
        ``status`` (SHA, CHA, released), ``contamination`` (";"-joined codes) and ``score``
        (0-1); optional ``evidence`` (default direct for CHA, indirect for SHA), ``area_m2``
        (default: the geometry's area, m²), ``region`` (default "unknown"), ``rank`` (default:
        by score), ``landuse_frac_<class>`` (0-1 shares of land cover). Not modified.
    settings
        The planning settings (methods and rules).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per task (columns ``TASK_COLUMNS`` and the area's geometry), areas in
        ``hazard_id`` order and each area's tasks in chain order. ``area_m2`` is the area the
        task works on, m²; ``released_m2`` the area it releases (cancelled, reduced or cleared);
        ``expected_clear_m2`` the area cleared (clearance tasks, else 0); ``cmr_m2`` and
        ``mine_m2`` the released area reported under the CCM and under the Mine Ban Convention
        (``rules.mixed_split``); ``cost_usd`` = cost_usd_per_m2 x area_m2 + cost_usd_per_team_day
        x team_days; ``team_days`` = area_m2 / productivity; ``benefit`` = released_m2 x
        (benefit_floor + (1 - benefit_floor) x score), m²-equivalents; ``predecessor`` the
        ``task_id`` that must be done first (None for the first step).

    Raises
    ------
    InputError
        A required column is missing, the CRS is geographic, or rows hold values the planner
        cannot use; every problem is listed with its hazard ids.
    """
    frame = _checked(areas)
    crs = areas.crs
    rules = settings.rules
    methods = settings.methods

    def usable(name: str | None) -> bool:
        return name is not None and settings.teams[methods[name].team_type].count > 0

    landuse_cols = [f"landuse_frac_{c}" for c in rules.mechanical_landuse]
    present = [c for c in landuse_cols if c in frame.columns]
    mech_share = (
        frame[present].fillna(0.0).sum(axis=1).to_numpy() if present else np.zeros(len(frame))
    )
    landuse_known = (
        frame[present].notna().any(axis=1).to_numpy()
        if present
        else np.zeros(len(frame), dtype=bool)
    )

    rows_out: list[tuple] = []  # one tuple per task (``_ROW_COLUMNS``), columns at the end
    ts_why = {
        has: f"TS since the area to clear is >= {rules.ts_min_area_m2:,.0f} m²"
        + ("; mines present" if has else "")
        for has in (False, True)
    }
    # only the columns read below, as Python lists (a national register: 100,000 rows)
    rows = zip(*(frame[c].tolist() for c in _Area._fields), strict=True)
    texts = _AssumptionTexts(rules.mixed_split)
    for i, row in enumerate(rows):
        area = _Area(*row)
        if area.status == "released":
            continue
        codes = split_contamination(area.contamination)  # each distinct text split once
        has_cmr, has_mine = bool(codes & CMR_TYPES), bool(codes & MINE_TYPES)
        cmr_factor, mine_factor = _convention_factors(has_cmr, has_mine, rules.mixed_split)
        weight = rules.benefit_floor + (1.0 - rules.benefit_floor) * float(area.score)
        left = float(area.area_m2)
        total = left
        chain: list[tuple[str, MethodSpec, float, float, str]] = []
        if area.status == "SHA" and area.evidence in rules.nts_for_evidence:
            m = methods[rules.nts_method]
            released = left * m.cancel_share
            chain.append(
                (
                    rules.nts_method,
                    m,
                    left,
                    released,
                    f"SHA, evidence {area.evidence!r}: NTS first (IMAS 07.11)",
                )
            )
            left -= released
        if left >= max(rules.ts_min_area_m2, _MIN_TASK_M2):
            name = (
                rules.ts_mines_method
                if has_mine and usable(rules.ts_mines_method)
                else rules.ts_method
            )
            m = methods[name]
            released = left * m.reduce_share
            why = ts_why[has_mine]
            chain.append((name, m, left, released, why))
            left -= released
        if left >= _MIN_TASK_M2:
            name, why = _clearance_method(
                rules,
                has_mine,
                left,
                mech_share[i],
                landuse_known[i],
                usable(rules.mechanical_method),
            )
            chain.append((name, methods[name], left, left, why))

        pred = None
        for step, (name, m, worked, released, why) in enumerate(chain):
            task_id = f"{area.hazard_id}-{_KIND_SUFFIX[m.kind]}"
            team_days = worked / m.productivity_m2_per_team_day
            cost = m.cost_usd_per_m2 * worked + m.cost_usd_per_team_day * team_days
            row = (
                task_id,
                area.hazard_id,
                step,
                name,
                m.kind,
                m.team_type,
                worked,
                released,
                released if m.kind == "clearance" else 0.0,
                released * cmr_factor,
                released * mine_factor,
                cost,
                team_days,
                released * weight,
                pred,
                area.region,
                float(area.score),
                area.rank,
                area.contamination,
                texts(
                    name,
                    m,
                    worked,
                    released,
                    team_days,
                    cost,
                    total,
                    float(area.score),
                    weight,
                    why,
                    has_cmr,
                    has_mine,
                ),
                i,
            )
            rows_out.append(row)
            pred = task_id
    if rows_out:
        cells = map(list, zip(*rows_out, strict=True))  # rows to columns
        table = pd.DataFrame(dict(zip(_ROW_COLUMNS, cells, strict=True)))
        geometry = frame.geometry.to_numpy()[table.pop("_row").to_numpy()]
    else:
        table = pd.DataFrame({c: pd.Series(dtype=object) for c in TASK_COLUMNS})
        geometry = []
    table = table[TASK_COLUMNS]
    logger.info("%d tasks from %d areas", len(table), len(frame))
    return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries(geometry, crs=crs).values, crs=crs)


# --------------------------------------------------------------------------------------------
# helpers


#: Columns of a task row as ``make_tasks`` collects them (``_row``: the area's row).
_ROW_COLUMNS = [*TASK_COLUMNS, "_row"]


def _checked(areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """A copy with defaults filled in, after checking every row once (one error lists all)."""
    problems: list[str] = []
    missing = [
        c for c in ("hazard_id", "status", "contamination", "score") if c not in areas.columns
    ]
    if missing:
        problems.append(
            f"missing column(s) {missing}: planning needs scored areas (run the "
            "scoring stage first)"
        )
    if areas.crs is not None and areas.crs.is_geographic:
        problems.append(
            f"CRS {areas.crs.to_string()} is geographic; reproject to the "
            "project's metric CRS (to_crs()) so that areas are in m²"
        )
    if problems:
        msg = "areas: " + "; ".join(problems)
        raise InputError(msg)
    frame = pd.DataFrame(areas.drop(columns=areas.geometry.name))
    frame["geometry"] = areas.geometry.to_numpy()
    frame["hazard_id"] = frame["hazard_id"].astype(str)
    dup = frame.loc[frame["hazard_id"].duplicated(), "hazard_id"].unique().tolist()
    if dup:
        problems.append(f"hazard_id not unique: {dup[:10]}")
    bad_status = frame.loc[~frame["status"].isin(["SHA", "CHA", "released"]), "hazard_id"]
    if len(bad_status):
        problems.append(f"status not one of SHA, CHA, released for {bad_status.tolist()[:10]}")
    if "evidence" not in frame.columns:
        frame["evidence"] = None
    frame["evidence"] = frame["evidence"].where(
        frame["evidence"].notna(), np.where(frame["status"] == "CHA", "direct", "indirect")
    )
    bad_ev = frame.loc[~frame["evidence"].isin(["direct", "indirect", "none"]), "hazard_id"]
    if len(bad_ev):
        problems.append(f"evidence not one of direct, indirect, none for {bad_ev.tolist()[:10]}")
    score = pd.to_numeric(frame["score"], errors="coerce")
    bad_score = frame.loc[~score.between(0.0, 1.0), "hazard_id"]
    if len(bad_score):
        problems.append(f"score missing or outside 0-1 for {bad_score.tolist()[:10]}")
    frame["score"] = score
    if "area_m2" not in frame.columns:
        frame["area_m2"] = areas.geometry.area.to_numpy()
    frame["area_m2"] = pd.to_numeric(frame["area_m2"], errors="coerce")
    bad_area = frame.loc[~(frame["area_m2"] >= 0), "hazard_id"]
    if len(bad_area):
        problems.append(f"area_m2 missing or negative for {bad_area.tolist()[:10]}")
    if problems:
        msg = "areas: " + "; ".join(problems) + ". Fix these rows and run the plan again."
        raise InputError(msg)
    if "region" not in frame.columns:
        frame["region"] = "unknown"
    frame["region"] = frame["region"].fillna("unknown").astype(str)
    if "rank" not in frame.columns:
        order = frame.sort_values(
            ["score", "hazard_id"], ascending=[False, True], kind="mergesort"
        ).index
        frame.loc[order, "rank"] = np.arange(1, len(frame) + 1)
    frame["rank"] = pd.to_numeric(frame["rank"], errors="coerce")
    return frame.sort_values("hazard_id", kind="mergesort").reset_index(drop=True)


def _convention_factors(has_cmr: bool, has_mine: bool, split: str) -> tuple[float, float]:
    """Shares of released area reported as CMR (CCM) and as mines (Mine Ban Convention)."""
    if has_cmr and has_mine:
        return (1.0, 1.0) if split == "full" else (0.5, 0.5)
    return float(has_cmr), float(has_mine)


def _clearance_method(
    rules, has_mine: bool, left: float, mech_share: float, landuse_known: bool, mechanical_ok: bool
) -> tuple[str, str]:
    if (
        mechanical_ok
        and landuse_known
        and mech_share >= rules.mechanical_min_share
        and left >= rules.mechanical_min_area_m2
    ):
        return rules.mechanical_method, (
            f"mechanical: {'+'.join(rules.mechanical_landuse)} cover {mech_share:.0%} >= "
            f"{rules.mechanical_min_share:.0%} and {left:,.0f} m² >= "
            f"{rules.mechanical_min_area_m2:,.0f} m²"
        )
    if has_mine:
        return rules.manual_mines_method, "manual mine clearance: AP/AT present"
    why = "manual: land cover unknown" if not landuse_known else "manual"
    return rules.manual_method, why


class _Area(NamedTuple):
    status: str
    contamination: str | None
    evidence: str
    score: float
    area_m2: float
    hazard_id: str
    region: str
    rank: float


class _AssumptionTexts:
    """A task's ``assumptions`` text; the parts that depend only on the method (its rates)
    or on the contamination (the convention it counts under) written once."""

    def __init__(self, split: str):
        self._method: dict[int, tuple[str, str]] = {}
        self._conv = {
            (cmr, mine): "CMR and mines: counted in full under each convention"
            if cmr and mine and split == "full"
            else "CMR and mines: split half and half"
            if cmr and mine
            else "CMR"
            if cmr
            else "mines"
            if mine
            else "other ordnance"
            for cmr in (False, True)
            for mine in (False, True)
        }

    def _of(self, m: MethodSpec) -> tuple[str, str]:
        key = id(m)
        hit = self._method.get(key)
        if hit is None:
            hit = self._method[key] = (
                f"{m.productivity_m2_per_team_day:,.0f} m²/team-day -> ",
                f"US${m.cost_usd_per_m2:g}/m² + US${m.cost_usd_per_team_day:,.0f}/team-day -> ",
            )
        return hit

    def __call__(
        self,
        name: str,
        m: MethodSpec,
        worked: float,
        released: float,
        team_days: float,
        cost: float,
        total: float,
        score: float,
        weight: float,
        why: str,
        has_cmr: bool,
        has_mine: bool,
    ) -> str:
        rate, price = self._of(m)
        if m.kind == "nts":
            release = f"cancels {m.cancel_share:.0%} = {released:,.0f} m²"
        elif m.kind == "ts":
            release = f"reduces {m.reduce_share:.1%} = {released:,.0f} m²"
        else:
            release = f"clears {released:,.0f} m²"
        conv = self._conv[has_cmr, has_mine]
        return (
            f"{name} ({why}) of {worked:,.0f} m² of {total:,.0f} m² suspected; "
            f"{rate}{team_days:,.2f} team-days; "
            f"{price}US${cost:,.0f}; {release}; {conv}; benefit = released x "
            f"(floor + (1-floor) x score {score:.3f}) = {released:,.0f} x {weight:.3f}; "
            f"source: {m.source}"
        )
