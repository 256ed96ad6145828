"""Team schedule: the selected tasks of each year given to named teams, day by day.

Each team type has a work calendar: in each year, ``working_days_per_year`` scaled by the share
of the year (from the plan start) outside its no-go months, spread evenly over the allowed days.
Within a plan year, tasks are taken level by level of their chain (surveys before the
clearance they lead to); for each level and team type, the team that is free first takes the
nearest remaining task in its current region (nearest-neighbour sequencing), or, when its region
has none left, the highest-priority task (lowest rank) anywhere. A task starts after the team
has travelled to it and after its predecessor has ended, and lasts its team-days. With
straight-line travel, large regions find their nearest task from a k-d tree (``_Nearest``),
which picks what the scan of the region picks; with a travel function that offers
``nearest(from, to_ids)`` (``criteria.area_travel``), each pick comes from one search bounded
by the shortest straight walk, with the same pick and minutes as the full search.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ccm_geo.errors import InputError
from ccm_geo.planning.heuristics import _depth
from ccm_geo.planning.settings import PlanningSettings

__all__ = [
    "TravelMinutes",
    "work_calendar",
    "work_days_until",
    "capacity_team_days",
    "schedule_tasks",
]

logger = logging.getLogger(__name__)

#: A travel-time matrix (minutes, square, labelled by hazard_id on both axes) or a function
#: ``f(from_hazard_id, to_hazard_ids) -> minutes`` returning one value per destination.
TravelMinutes = pd.DataFrame | Callable[[str, np.ndarray], np.ndarray]

_EXTRA_YEARS = 10  # calendar kept beyond the plan so that late work spills rather than fails
# regions with more tasks than this (in one year, level and team type) find the nearest task
# from a k-d tree rather than a scan (a scan is quicker below it); the pick is the same
_SCAN_MAX = 1_000
_NEIGHBOURS = 16  # nearest tasks kept per task of a large region


def work_calendar(
    settings: PlanningSettings, team_type: str, years: Sequence[int], start_date: dt.date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Working days of one team type.

    Parameters
    ----------
    settings
        Planning settings (``working_days_per_year`` and the type's ``no_go_months``).
    team_type
        A key of ``settings.teams``.
    years
        Calendar years of the plan, in order; the calendar continues ``_EXTRA_YEARS`` beyond.
    start_date
        First day of the plan: days before it are not worked.

    Returns
    -------
    dates
        Ordinals (``date.toordinal()``) of the working days, sorted.
    offsets
        For each plan year, the index in ``dates`` of its first working day.
    days
        For each plan year, its number of working days (per team).
    """
    no_go = set(settings.teams[team_type].no_go_months)
    all_years = list(years) + [years[-1] + i + 1 for i in range(_EXTRA_YEARS)]
    dates: list[np.ndarray] = []
    offsets, days = [], []
    count = 0
    for y in all_years:
        first = max(dt.date(y, 1, 1), start_date)
        last = dt.date(y, 12, 31)
        n_year = (last - dt.date(y, 1, 1)).days + 1
        if first > last:
            allowed = np.zeros(0, dtype=np.int64)
        else:
            ords = np.arange(first.toordinal(), last.toordinal() + 1)
            months = pd.DatetimeIndex(
                pd.to_datetime(ords - dt.date(1970, 1, 1).toordinal(), unit="D")
            ).month
            allowed = ords[~np.isin(months, list(no_go))]
        w = min(len(allowed), int(round(settings.working_days_per_year * len(allowed) / n_year)))
        picked = allowed[(np.arange(w) * len(allowed)) // w] if w else allowed[:0]
        offsets.append(count)
        days.append(w)
        dates.append(picked)
        count += w
    n = len(years)
    return np.concatenate(dates), np.asarray(offsets[:n]), np.asarray(days[:n], dtype=float)


def work_days_until(
    settings: PlanningSettings,
    team_type: str,
    years: Sequence[int],
    start_date: dt.date,
    until: dt.date | None,
) -> np.ndarray:
    """Working days of one team of a type in each plan year, counting only days <= ``until``."""
    dates, offsets, days = work_calendar(settings, team_type, years, start_date)
    if until is None:
        return days
    limit = until.toordinal()
    return np.array(
        [
            np.count_nonzero(dates[o : o + int(d)] <= limit)
            for o, d in zip(offsets, days, strict=True)
        ],
        dtype=float,
    )


def capacity_team_days(
    settings: PlanningSettings, years: Sequence[int], start_date: dt.date
) -> dict[str, np.ndarray]:
    """Team-days available for tasks per team type and plan year.

    ``count x working days of the type in the year x (1 - travel_allowance_share)``: the rest
    of the days is kept for travel, which the schedule spends.
    """
    keep = 1.0 - settings.travel_allowance_share
    return {
        k: spec.count * work_calendar(settings, k, years, start_date)[2] * keep
        for k, spec in settings.teams.items()
    }


def schedule_tasks(
    tasks: pd.DataFrame,
    settings: PlanningSettings,
    *,
    years: Sequence[int],
    start_date: dt.date,
    travel_minutes: TravelMinutes | None = None,
) -> pd.DataFrame:
    """Assign each selected task to a named team with start and end dates.

    Parameters
    ----------
    tasks
        Task table (``task_id``, ``hazard_id``, ``team_type``, ``team_days``, ``predecessor``,
        ``region``, ``rank``, ``geometry``) with ``year``: the calendar year the task is
        planned in, missing when it is not selected.
    settings
        Planning settings (teams, calendar, travel speed, hours per day).
    years
        Calendar years of the plan.
    start_date
        First day of the plan.
    travel_minutes
        Travel time between areas, minutes: a square DataFrame labelled by ``hazard_id`` or a
        function ``f(from_hazard_id, to_hazard_ids) -> minutes``. Default: straight-line
        distance between area centroids at ``travel_speed_kmh``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``tasks``: ``team`` (name), ``start`` and ``end`` (dates of the first and
        last working day), ``travel_min`` (travel before the task, minutes); missing for tasks
        not selected. A predecessor always ends on or before the day its successor starts.

    Raises
    ------
    InputError
        The travel matrix lacks some of the areas.
    """
    n = len(tasks)
    out_team = np.full(n, None, dtype=object)
    out_start = np.full(n, np.nan)
    out_end = np.full(n, np.nan)
    out_travel = np.full(n, np.nan)
    year = pd.to_numeric(tasks["year"], errors="coerce").to_numpy()
    sel = np.flatnonzero(~np.isnan(year))
    result = pd.DataFrame(index=tasks.index)
    if len(sel) == 0:
        return _frame(result, out_team, out_start, out_end, out_travel)

    ids = tasks["task_id"].astype(str).to_numpy()
    pos_of = {t: i for i, t in enumerate(ids)}
    pred = np.array(
        [pos_of.get(str(p), -1) if pd.notna(p) else -1 for p in tasks["predecessor"].to_numpy()],
        dtype=np.int64,
    )
    depth = _depth(pred)
    hazard = tasks["hazard_id"].astype(str).to_numpy()
    travel = _travel_function(tasks, hazard, settings, travel_minutes)
    region = tasks["region"].astype(str).to_numpy()
    rank = pd.to_numeric(tasks["rank"], errors="coerce").fillna(np.inf).to_numpy()
    team_type = tasks["team_type"].astype(str).to_numpy()
    team_days = tasks["team_days"].to_numpy(dtype=float)
    end_cal = np.full(n, -np.inf)  # calendar end (ordinal + fraction of the day)
    minutes_per_day = settings.hours_per_day * 60.0

    calendars = {k: work_calendar(settings, k, years, start_date) for k in settings.teams}
    teams = {k: spec.team_names(k) for k, spec in settings.teams.items()}
    state = {
        k: {"pos": np.zeros(len(v)), "loc": np.full(len(v), -1, dtype=np.int64)}
        for k, v in teams.items()
    }
    year_pos = {y: i for i, y in enumerate(years)}
    for y in years:
        in_year = sel[year[sel] == y]
        for d in np.unique(depth[in_year]):
            level = in_year[depth[in_year] == d]
            for k in sorted(np.unique(team_type[level])):
                group = level[team_type[level] == k]
                dates, offsets, _ = calendars[k]
                names = teams.get(k, [])
                if not names or len(dates) == 0:
                    logger.warning("no %s team or working day: %d tasks unscheduled", k, len(group))
                    continue
                st = state[k]
                st["pos"] = np.maximum(st["pos"], offsets[year_pos[y]])
                _assign(
                    group,
                    st,
                    names,
                    dates,
                    pred,
                    end_cal,
                    travel,
                    hazard,
                    region,
                    rank,
                    team_days,
                    minutes_per_day,
                    out_team,
                    out_start,
                    out_end,
                    out_travel,
                )
    return _frame(result, out_team, out_start, out_end, out_travel)


# --------------------------------------------------------------------------------------------
# helpers


def _frame(result, team, start, end, travel) -> pd.DataFrame:
    def to_dates(o):
        out = pd.Series(pd.NaT, index=result.index, dtype="datetime64[s]")
        ok = ~np.isnan(o)
        days = (o[ok] - dt.date(1970, 1, 1).toordinal()).astype("int64")
        out[ok] = days.astype("datetime64[D]").astype("datetime64[s]")
        return out

    result["team"] = team
    result["start"] = to_dates(start)
    result["end"] = to_dates(end)
    result["travel_min"] = travel
    return result


def _travel_function(tasks, hazard, settings, travel_minutes):
    """``f(i, js) -> minutes`` between task positions (i to each of js)."""
    if travel_minutes is None:
        cent = tasks.geometry.centroid
        xy = np.column_stack([cent.x.to_numpy(), cent.y.to_numpy()])
        per_min = settings.travel_speed_kmh * 1000.0 / 60.0  # m per minute

        def straight(i, js):
            return np.hypot(*(xy[js] - xy[i]).T) / per_min

        straight.xy = xy  # straight lines: the nearest task comes from a spatial index
        return straight
    if isinstance(travel_minutes, pd.DataFrame):
        uniq = pd.unique(hazard)
        missing = sorted(
            set(uniq) - set(map(str, travel_minutes.index))
            | set(uniq) - set(map(str, travel_minutes.columns))
        )
        if missing:
            msg = (
                f"travel_minutes: no travel time for hazard_id {missing[:10]}; give a square "
                "matrix labelled by hazard_id covering every area, or a function"
            )
            raise InputError(msg)
        m = travel_minutes.copy()
        m.index, m.columns = m.index.map(str), m.columns.map(str)
        mat = m.loc[uniq, uniq].to_numpy(dtype=float)
        code = pd.Index(uniq).get_indexer(hazard)

        def from_matrix(i, js):
            return mat[code[i], code[js]]

        return from_matrix

    def from_callable(i, js):
        return np.asarray(travel_minutes(hazard[i], hazard[js]), dtype=float)

    if callable(getattr(travel_minutes, "nearest", None)):  # e.g. criteria.area_travel

        def nearest(i, js) -> tuple[int, float]:
            return travel_minutes.nearest(hazard[i], hazard[js])

        from_callable.nearest = nearest  # the quickest only, from a search bounded by it
    return from_callable


def _assign(
    group,
    st,
    names,
    dates,
    pred,
    end_cal,
    travel,
    hazard,
    region,
    rank,
    team_days,
    minutes_per_day,
    out_team,
    out_start,
    out_end,
    out_travel,
) -> None:
    """List-schedule ``group`` (task positions, one team type) on its teams."""
    remaining = np.ones(len(group), dtype=bool)
    g_region = region[group]
    # the tasks of each region, compacted as they are taken (a pick looks at its region only)
    members = {r: np.flatnonzero(g_region == r) for r in np.unique(g_region)}
    prio = np.lexsort((hazard[group], rank[group]))  # priority order within the group
    prio_ptr = 0
    heap = [(st["pos"][j], j) for j in range(len(names))]
    heapq.heapify(heap)
    last = len(dates) - 1
    xy = getattr(travel, "xy", None)
    nearest = getattr(travel, "nearest", None)
    index = {}  # large regions, straight-line travel: a k-d tree instead of a scan
    in_group = dict(zip(group.tolist(), range(len(group)), strict=True))
    if xy is not None:
        index = {
            r: _Nearest(xy[group[m]], m, len(group))
            for r, m in members.items()
            if len(m) > _SCAN_MAX
        }
    for _ in range(len(group)):
        pos, j = heapq.heappop(heap)
        loc = st["loc"][j]
        pick = -1
        if loc >= 0 and region[loc] in index:
            cand = index[region[loc]].nearest(xy[loc], in_group.get(loc, -1))
            if len(cand):
                tt = travel(loc, group[cand])
                pick = cand[int(np.argmin(tt))]
                minutes = float(np.min(tt))
        elif loc >= 0:
            cand = members.get(region[loc], np.zeros(0, dtype=np.int64))
            cand = cand[remaining[cand]]
            if region[loc] in members:
                members[region[loc]] = cand
            if len(cand) and nearest is not None:
                k, minutes = nearest(loc, group[cand])
                pick = cand[k]
            elif len(cand):
                tt = travel(loc, group[cand])
                pick = cand[int(np.argmin(tt))]
                minutes = float(np.min(tt))
        if pick < 0:
            while not remaining[prio[prio_ptr]]:
                prio_ptr += 1
            pick = prio[prio_ptr]
            if loc < 0:
                minutes = 0.0
            elif nearest is not None:  # the same minutes, from a search bounded by the walk
                minutes = nearest(loc, group[[pick]])[1]
            else:
                minutes = float(travel(loc, group[[pick]])[0])
        remaining[pick] = False
        if g_region[pick] in index:
            index[g_region[pick]].take(pick)
        t = group[pick]
        start = pos + minutes / minutes_per_day
        p = pred[t]
        if p >= 0 and np.isfinite(end_cal[p]):
            start = max(start, _position(dates, end_cal[p]))
        end = start + team_days[t]
        s_idx = min(int(np.floor(start)), last)
        e_idx = min(max(int(np.ceil(end)) - 1, s_idx), last)
        out_team[t] = names[j]
        out_start[t] = dates[s_idx]
        out_end[t] = dates[e_idx]
        out_travel[t] = minutes
        end_cal[t] = dates[e_idx] + min(max(end - e_idx, 0.0), 1.0)
        st["pos"][j] = end
        st["loc"][j] = t
        heapq.heappush(heap, (end, j))


class _Nearest:
    """The remaining tasks of one region nearest a point, from a k-d tree rebuilt as they go.

    ``nearest`` returns every remaining task (positions in the group, ascending) whose
    distance is within rounding of the least: the caller's ``argmin`` over them picks what the
    ``argmin`` over every remaining task of the region picks (the first of ties in group
    order). Taken tasks (``take``) are skipped by a mask; when fewer than half the tree's
    points remain, the tree is rebuilt on those left, so a pick costs O(log n) amortised
    instead of a scan of the region.
    """

    def __init__(self, xy: np.ndarray, members: np.ndarray, n_group: int):
        from scipy.spatial import cKDTree

        self.where = np.full(n_group, -1, dtype=np.int64)  # group position -> tree point
        self.k = 8  # points asked of the tree at once
        # each task's nearest tasks of the region, found at once: a team that has just done
        # a task of the region looks there first (no tree query when one is still left)
        m = len(members)
        self.members0, self.alive0 = members, np.ones(m, dtype=bool)
        self.where0 = np.full(n_group, -1, dtype=np.int64)
        self.where0[members] = np.arange(m)
        if m:
            dist, idx = cKDTree(xy).query(xy, k=min(m, _NEIGHBOURS + 1))
            self.nd, self.ni = dist.reshape(m, -1), idx.reshape(m, -1)
        self._build(xy, members)

    def _build(self, xy: np.ndarray, members: np.ndarray) -> None:
        from scipy.spatial import cKDTree

        self.xy, self.members = xy, members
        self.where[members] = np.arange(len(members))
        self.alive = np.ones(len(members), dtype=bool)
        self.n_alive = len(members)
        self.tree = cKDTree(xy) if len(members) else None

    def take(self, g: int) -> None:
        self.alive0[self.where0[g]] = False
        i = self.where[g]
        if i >= 0 and self.alive[i]:
            self.alive[i] = False
            self.n_alive -= 1

    def nearest(self, point: np.ndarray, g: int = -1) -> np.ndarray:
        """Remaining tasks nearest ``point`` (the position of group task ``g``, if given)."""
        if self.n_alive == 0:
            return np.zeros(0, dtype=np.int64)
        w = self.where0[g] if g >= 0 else -1
        if w >= 0:  # from the task's own nearest tasks
            d, ids, alive = self.nd[w].tolist(), self.ni[w].tolist(), self.alive0
            first = next((j for j in range(len(ids)) if alive[ids[j]]), None)
            if first is not None:
                limit = d[first] * (1 + 1e-9) + 1e-9
                if len(ids) == len(self.members0) or d[-1] > limit:
                    near = [i for i, e in zip(ids, d, strict=True) if e <= limit and alive[i]]
                    return np.sort(self.members0[near])
        if 2 * self.n_alive < len(self.members):
            keep = self.alive
            self.where[self.members[~keep]] = -1
            self._build(self.xy[keep], self.members[keep])
        n = len(self.members)
        k = min(n, self.k)
        while True:
            dist, idx = self.tree.query(point, k=k)
            d = np.atleast_1d(dist).tolist()  # k is small: plain lists are quicker
            ids = np.atleast_1d(idx).tolist()
            alive = self.alive
            first = next((j for j in range(k) if alive[ids[j]]), None)
            if first is not None:  # the nearest point not taken (often the team's own is)
                limit = d[first] * (1 + 1e-9) + 1e-9
                # every point within the limit is among those queried: the last is beyond it
                if k == n or d[-1] > limit:
                    self.k = max(8, k // 2)  # start the next query from about this k
                    near = [
                        i
                        for i, e in zip(ids[first:], d[first:], strict=True)
                        if e <= limit and alive[i]
                    ]
                    return np.sort(self.members[near])
            k = min(n, 4 * k)


def _position(dates: np.ndarray, cal: float) -> float:
    """Earliest position in a work calendar not before calendar time ``cal``."""
    d = int(np.ceil(cal)) - 1
    frac = cal - d
    i = int(np.searchsorted(dates, d))
    if i < len(dates) and dates[i] == d:
        return i + frac
    return float(i)
