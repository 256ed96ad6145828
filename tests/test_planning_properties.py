"""Invariants of the plan, as properties over small random instances (hypothesis)."""

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccm_geo.planning import (
    PlanningSettings,
    Problem,
    build_problem,
    make_tasks,
    plan_years,
    schedule_tasks,
)

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    n = draw(st.integers(1, 8))
    n_years = draw(st.integers(1, 3))
    benefit = draw(st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n))
    cost = draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n))
    days = draw(st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n))
    kind = draw(st.lists(st.sampled_from(["m", "n"]), min_size=n, max_size=n))
    pred = [None] + [draw(st.one_of(st.none(), st.integers(0, i - 1))) for i in range(1, n)]
    tasks = pd.DataFrame(
        {
            "task_id": [f"t{i}" for i in range(n)],
            "benefit": benefit,
            "cost_usd": cost,
            "team_days": days,
            "team_type": kind,
            "predecessor": [None if p is None else f"t{p}" for p in pred],
        }
    )
    years = list(range(2027, 2027 + n_years))
    budget = draw(st.lists(st.floats(0.0, 120.0), min_size=n_years, max_size=n_years))
    cap = {
        k: draw(st.lists(st.floats(0.0, 20.0), min_size=n_years, max_size=n_years))
        for k in ("m", "n")
    }
    rate = draw(st.sampled_from([0.0, 0.1]))
    p = (
        Problem.from_tasks(tasks, years, discount_rate=rate)
        .add_budget(budget)
        .add_capacity(cap)
        .add_precedence()
    )
    return p, tasks


def _check_feasible(p: Problem, year_index: np.ndarray) -> None:
    sel = year_index >= 0
    for y in range(p.n_years):
        in_y = year_index == y
        assert p.cost[in_y].sum() <= p.budget[y] + 1e-6
        for k, cap in p.capacity:
            assert p.team_days[in_y & (p.team_type == k)].sum() <= cap[y] + 1e-6
    for t in np.flatnonzero(sel):
        q = p.predecessor[t]
        if q >= 0:
            assert year_index[q] >= 0 and year_index[q] <= year_index[t]
    # the same through the compiled rows: each task at most once and every row respected
    m = p.compile()
    x = np.zeros(m.A.shape[1])
    x[np.flatnonzero(sel) * p.n_years + year_index[sel]] = 1.0
    act = m.A @ x
    assert (act <= m.row_upper + 1e-6).all() and (act >= m.row_lower - 1e-6).all()


@FAST
@given(problems())
def test_budget_capacity_precedence_hold_and_milp_never_below_greedy(case):
    p, _ = case
    s = p.solve(gap=1e-6)
    g = p.greedy()
    _check_feasible(p, s.year_index)
    _check_feasible(p, g.year_index)
    assert s.objective >= g.objective - 1e-6


@FAST
@given(problems())
def test_unlimited_budget_and_teams_selects_every_task(case):
    p, tasks = case
    tasks_pos = tasks.assign(benefit=tasks["benefit"] + 1.0)  # every task worth something
    big = (
        Problem.from_tasks(tasks_pos, p.years, discount_rate=0.1)
        .add_budget([1e9] * p.n_years)
        .add_capacity({"m": [1e9] * p.n_years, "n": [1e9] * p.n_years})
        .add_precedence()
    )
    assert (big.solve().year_index >= 0).all()
    assert (big.greedy().year_index >= 0).all()


@FAST
@given(problems(), st.data())
def test_a_locked_task_is_in_the_plan(case, data):
    p, _ = case
    # lock a task that can be done alone, with its chain, in some year: always feasible
    first = [t for t in range(p.n_tasks) if p.predecessor[t] < 0]
    t = data.draw(st.sampled_from(first))
    k = dict(p.capacity)[p.team_type[t]]
    years = [y for y in range(p.n_years) if p.cost[t] <= p.budget[y] and p.team_days[t] <= k[y]]
    if not years:
        return
    y = data.draw(st.sampled_from(years))
    year = data.draw(st.sampled_from([None, p.years[y]]))
    locked = p.add_locks([(str(p.task_ids[t]), year)])
    s = locked.solve()
    assert s.year_index[t] >= 0
    if year is not None:
        assert p.years[s.year_index[t]] == year
    _check_feasible(p, s.year_index)
    assert s.objective >= locked.greedy().objective - 1e-6


@st.composite
def registers(draw):
    n = draw(st.integers(1, 6))
    rows, geoms = [], []
    for i in range(n):
        m2 = draw(st.floats(200.0, 60_000.0))
        side = m2**0.5
        x, y = draw(st.floats(0, 30_000)), draw(st.floats(0, 30_000))
        geoms.append(shapely.box(x, y, x + side, y + side))
        status = draw(st.sampled_from(["SHA", "CHA", "released"]))
        rows.append(
            {
                "hazard_id": f"H{i}",
                "status": status,
                "evidence": draw(st.sampled_from(["direct", "indirect", "none"])),
                "contamination": draw(st.sampled_from(["CMR", "AP", "AP;CMR", "UXO"])),
                "area_m2": m2,
                "region": draw(st.sampled_from(["A", "B"])),
                "score": draw(st.floats(0.0, 1.0)),
                "rank": i + 1,
                "landuse_frac_cropland": draw(st.floats(0.0, 1.0)),
            }
        )
    budget = draw(st.floats(0.0, 60_000.0))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:32648"), budget


@FAST
@given(registers())
def test_schedule_starts_no_task_before_its_predecessor_ends(case):
    areas, budget = case
    start = dt.date(2027, 3, 15)
    s = PlanningSettings(budget_usd=budget, years=2)
    tasks = make_tasks(areas, s)
    years = plan_years(s, start, None)
    p = build_problem(tasks, s, years=years, start_date=start)
    sol = p.solve()
    _check_feasible(p, sol.year_index)
    tasks["year"] = sol.year_of().to_numpy()
    sched = schedule_tasks(tasks, s, years=years, start_date=start)
    sel = tasks["year"].notna().to_numpy()
    assert sched["team"].notna().to_numpy().tolist() == sel.tolist()
    by_id = dict(zip(tasks["task_id"], range(len(tasks)), strict=True))
    for i in np.flatnonzero(sel):
        start_i = sched["start"].iloc[i]
        assert start_i >= pd.Timestamp(start)
        assert start_i.year >= tasks["year"].iloc[i]
        assert sched["end"].iloc[i] >= start_i
        pred = tasks["predecessor"].iloc[i]
        if isinstance(pred, str):
            j = by_id[pred]
            assert sel[j] and tasks["year"].iloc[j] <= tasks["year"].iloc[i]
            assert sched["end"].iloc[j] <= start_i
        team_type = tasks["team_type"].iloc[i]
        no_go = s.teams[team_type].no_go_months
        assert start_i.month not in no_go and sched["end"].iloc[i].month not in no_go
