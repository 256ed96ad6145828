"""make_plan end to end, the schedule calendar and travel, milestones, deadline, settings."""

import datetime as dt
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from matplotlib.figure import Figure

from ccm_geo.errors import InputError, SolverError
from ccm_geo.planning import (
    PlanningSettings,
    make_plan,
    make_tasks,
    schedule_tasks,
    work_calendar,
)
from ccm_geo.planning.milestones import MILESTONE_COLUMNS
from ccm_geo.planning.settings import LockSpec

START = dt.date(2027, 1, 1)


def _areas():
    """Six areas in two regions: SHA/CHA, CMR, mines and mixed, 1-5 ha, 2 km apart."""
    spec = [
        ("H1", "SHA", "indirect", "CMR", 20_000, "A", 0.9),
        ("H2", "CHA", "direct", "CMR", 50_000, "A", 0.7),
        ("H3", "CHA", "direct", "AP;CMR", 12_000, "B", 0.8),
        ("H4", "SHA", "none", "AP", 30_000, "B", 0.2),
        ("H5", "CHA", "direct", "UXO", 5_000, "A", 0.4),
        ("H6", "released", "direct", "CMR", 9_000, "B", 0.1),
    ]
    rows, geoms = [], []
    for i, (hid, status, ev, cont, m2, region, score) in enumerate(spec):
        side = m2**0.5
        geoms.append(shapely.box(i * 2_000, 0, i * 2_000 + side, side))
        rows.append(
            {
                "hazard_id": hid,
                "status": status,
                "evidence": ev,
                "contamination": cont,
                "area_m2": float(m2),
                "region": region,
                "score": score,
                "rank": i + 1,
                "landuse_frac_cropland": 0.8 if hid == "H2" else 0.1,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:32648")


def test_work_calendar_skips_no_go_months_and_scales_days():
    s = PlanningSettings()
    dates, offsets, days = work_calendar(s, "manual", [2027, 2028], START)
    months = pd.to_datetime([dt.date.fromordinal(int(d)) for d in dates]).month
    assert not set(months) & {6, 7, 8, 9}
    assert days[0] == round(220 * (365 - 122) / 365)  # June-September off: 146 days
    assert offsets.tolist() == [0, days[0]]
    late = work_calendar(s, "nts", [2027], dt.date(2027, 7, 1))[2]
    assert late[0] == round(220 * 184 / 365)


def test_plan_with_ample_budget_releases_everything_and_meets_the_deadline():
    areas = _areas()
    s = PlanningSettings(budget_usd=1e7, years=3)
    plan = make_plan(areas, s, start_date=START, deadline=dt.date(2030, 12, 31))
    t = plan.tasks
    assert isinstance(t, gpd.GeoDataFrame) and t.crs == areas.crs
    for col in (
        "task_id",
        "hazard_id",
        "method",
        "team_type",
        "expected_clear_m2",
        "cmr_m2",
        "mine_m2",
        "cost_usd",
        "team_days",
        "team",
        "start",
        "end",
        "year",
        "selected",
        "benefit",
        "assumptions",
        "region",
        "score",
        "rank",
    ):
        assert col in t.columns
    assert t["selected"].all() and "H6" not in set(t["hazard_id"])
    assert plan.summary["released_m2"] == pytest.approx(117_000)
    assert plan.solution.status == "optimal"
    assert plan.solution.objective >= plan.greedy_objective - 1e-6
    assert plan.deadline["meets"] is True and plan.deadline["cmr_remaining_m2"] == 0
    assert plan.deadline["cmr_total_m2"] == pytest.approx(20_000 + 50_000 + 12_000)
    assert all(v == 0 for v in plan.deadline["funding_gap"].values())
    # milestones: the "all" rows add up to the plan, and progress ends at 100%
    ms = plan.milestones
    assert list(ms.columns) == MILESTONE_COLUMNS
    total = ms[ms["region"] == "all"]
    assert total["released_m2"].sum() == pytest.approx(117_000)
    assert total["progress_share"].iloc[-1] == pytest.approx(1.0)
    assert total["cost_usd"].sum() == pytest.approx(t["cost_usd"].sum())
    regions = ms[ms["region"] != "all"].groupby("year")["released_m2"].sum()
    np.testing.assert_allclose(regions.to_numpy(), total["released_m2"].to_numpy())
    # each team works one task at a time
    for _, g in t.sort_values(["team", "start"]).groupby("team"):
        assert (g["start"].to_numpy()[1:] >= g["end"].to_numpy()[:-1]).all()
    # the budget curve
    curve = plan.budget_curve
    assert len(curve) == 10 * len(s.curve_team_factors)
    for _, part in curve.groupby("teams_factor"):
        assert part["benefit_share"].is_monotonic_increasing
        assert part["budget_usd_per_year"].iloc[0] < 1e7  # starts below the configured budget
        assert 1e7 in part["budget_usd_per_year"].tolist()  # and reads the plan's own budget
    assert isinstance(plan.budget_curve_figure(), Figure)


def test_plan_short_of_money_answers_the_deadline_question():
    s = PlanningSettings(budget_usd=3_000, years=2)
    plan = make_plan(_areas(), s, start_date=START, deadline=dt.date(2028, 12, 31))
    d = plan.deadline
    assert d["meets"] is False and d["cmr_remaining_m2"] > 0
    assert d["budget_needed_per_year"] > 3_000
    assert 0 < d["budget_needed_lower_bound"] <= d["budget_needed_per_year"]
    # the words: how close to the best possible, and the budget named as what binds
    sm = plan.summary
    assert "best possible" in sm["message"] or sm["message"].startswith("optimal: proven")
    assert sm["status"] in ("optimal", "within_gap") and sm["gap"] <= s.gap + 1e-12
    assert any(b.startswith("budget 2027: US$") for b in sm["binding"])
    assert d["funding_gap"] == {y: d["budget_needed_per_year"] - 3_000 for y in (2027, 2028)}
    assert set(d["teams_needed"]) <= set(s.teams)
    spent = plan.tasks.groupby("year")["cost_usd"].sum()
    assert (spent <= 3_000 + 1e-6).all()
    # with the budget found, the CMR areas are all planned by the deadline
    richer = PlanningSettings(budget_usd=d["budget_needed_per_year"] * 3, years=2)
    again = make_plan(_areas(), richer, start_date=START, deadline=dt.date(2028, 12, 31))
    cmr_tasks = again.tasks[again.tasks["cmr_m2"] > 0]
    assert cmr_tasks["selected"].all()


def test_plan_is_deterministic_and_locks_are_kept():
    s = PlanningSettings(budget_usd=20_000, years=2, locks=[LockSpec(task_id="H4-nts", year=2028)])
    a = make_plan(_areas(), s, start_date=START, deadline=None)
    b = make_plan(_areas(), s, start_date=START, deadline=None)
    cols = ["task_id", "year", "team", "start", "end", "cost_usd"]
    pd.testing.assert_frame_equal(a.tasks[cols], b.tasks[cols])
    row = a.tasks.set_index("task_id").loc["H4-nts"]
    assert row["selected"] and row["year"] == 2028
    assert a.deadline["meets"] is None


def test_infeasible_lock_fails_the_plan_with_solver_error():
    s = PlanningSettings(budget_usd=10.0, locks=[LockSpec(task_id="H2-clr", year=2027)])
    with pytest.raises(SolverError, match="H2-clr@2027"):
        make_plan(_areas(), s, start_date=START, deadline=None)


def test_travel_matrix_orders_a_team_by_nearest_task_and_must_cover_every_area():
    areas = _areas()
    s = PlanningSettings(
        budget_usd=1e7,
        years=1,
        teams={
            "nts": {"count": 1},
            "manual": {"count": 1},
            "mechanical": {"count": 1},
            "dog": {"count": 1},
        },
    )
    tasks = make_tasks(areas, s)
    tasks["year"] = 2027
    ids = areas["hazard_id"].tolist()
    matrix = pd.DataFrame(60.0, index=ids, columns=ids)
    sched = schedule_tasks(tasks, s, years=[2027], start_date=START, travel_minutes=matrix)
    assert sched["team"].notna().all()
    assert sched.loc[sched["travel_min"] > 0, "travel_min"].eq(60.0).all()
    with pytest.raises(InputError, match="no travel time for hazard_id"):
        schedule_tasks(
            tasks, s, years=[2027], start_date=START, travel_minutes=matrix.drop(index="H1")
        )
    calls = []

    def fn(a, bs):
        calls.append(a)
        return np.full(len(bs), 30.0)

    sched = schedule_tasks(tasks, s, years=[2027], start_date=START, travel_minutes=fn)
    assert calls and sched.loc[sched["travel_min"] > 0, "travel_min"].eq(30.0).all()


def test_planning_section_reads_from_toml():
    text = """
    years = 4
    budget_usd = {2027 = 1_000_000, 2029 = 2_000_000}
    discount_rate = 0.05
    [teams.manual]
    count = 8
    no_go_months = [7, 8]
    [teams.dog]
    count = 0
    [methods.clearance_manual]
    kind = "clearance"
    team_type = "manual"
    productivity_m2_per_team_day = 1200
    cost_usd_per_team_day = 350
    [[locks]]
    task_id = "H2-clr"
    year = 2028
    """
    s = PlanningSettings.model_validate(tomllib.loads(text))
    assert s.methods["clearance_manual"].productivity_m2_per_team_day == 1200
    assert s.methods["nts"].cancel_share == 0.32  # other methods keep their defaults
    assert s.budget_for([2027, 2028, 2029, 2030]) == [1e6, 1e6, 2e6, 2e6]
    assert s.teams["manual"].team_names("manual")[-1] == "manual-8"
    assert s.teams["nts"].count == 2 and s.teams["dog"].count == 0
    assert s.locks[0].task_id == "H2-clr" and s.locks[0].year == 2028
    with pytest.raises(ValueError, match="Extra inputs"):
        PlanningSettings.model_validate({"budgets": 1})
    with pytest.raises(ValueError, match="not a team type"):
        PlanningSettings.model_validate(
            {
                "methods": {
                    "x": {
                        "kind": "clearance",
                        "team_type": "boat",
                        "productivity_m2_per_team_day": 1,
                    }
                }
            }
        )


def test_without_dog_or_machine_teams_the_rules_fall_back():
    s = PlanningSettings(teams={"dog": {"count": 0}, "mechanical": {"count": 0}})
    tasks = make_tasks(_areas(), s)
    assert not set(tasks["team_type"]) & {"dog", "mechanical"}
    assert tasks.set_index("task_id").loc["H3-ts", "method"] == "ts"


def test_milestones_of_many_regions_equal_each_region_summed_on_its_own():
    """600 regions, unplanned tasks, missing areas, a year without work: every row equals the
    region's own sums (a plain loop), the cumulated figures and the totals too."""
    from ccm_geo.planning.milestones import milestones

    rng = np.random.default_rng(8)
    n = 12_000
    tasks = pd.DataFrame(
        {
            "year": rng.choice([2027.0, 2028.0, 2030.0, np.nan], n),
            "region": rng.choice([f"R{i:03d}" for i in range(600)], n),
            "kind": rng.choice(["nts", "ts", "clearance"], n),
            "released_m2": rng.uniform(0, 5e4, n),
            "cmr_m2": rng.uniform(0, 5e4, n),
            "mine_m2": rng.uniform(0, 5e4, n),
            "cost_usd": rng.uniform(0, 1e5, n),
        }
    )
    tasks.loc[rng.choice(n, 300, replace=False), "released_m2"] = np.nan
    years = [2027, 2028, 2029, 2030]
    got = milestones(tasks, years).set_index(["region", "year"])
    assert list(got.index.get_level_values("region").unique()) == [
        *sorted(tasks["region"].unique()),
        "all",
    ]
    for region in [*rng.choice(tasks["region"].unique(), 25, replace=False), "all"]:
        part = tasks if region == "all" else tasks[tasks["region"] == region]
        cum = cum_cmr = 0.0
        for year in years:
            done = part[part["year"] == year]
            row = got.loc[(region, year)]
            released = done["released_m2"].fillna(0).to_numpy()
            cleared = done.loc[done["kind"] == "clearance", "released_m2"].fillna(0).to_numpy()
            cum += released.sum()
            cum_cmr += done["cmr_m2"].sum()
            assert row["released_m2"] == pytest.approx(released.sum(), rel=1e-12)
            assert row["cleared_m2"] == pytest.approx(cleared.sum(), rel=1e-12)
            assert row["tasks_completed"] == len(done)
            assert row["cost_usd"] == pytest.approx(done["cost_usd"].sum(), rel=1e-12)
            assert row["cum_released_m2"] == pytest.approx(cum, rel=1e-12)
            total = part["released_m2"].sum()
            assert row["total_m2"] == pytest.approx(total, rel=1e-12)
            assert row["progress_share"] == pytest.approx(cum / total, rel=1e-12)
            cmr_left = part["cmr_m2"].sum() - cum_cmr
            assert row["cmr_remaining_m2"] == pytest.approx(max(cmr_left, 0.0), abs=1e-6)
    assert (got.loc[(slice(None), 2029), "tasks_completed"] == 0).all()  # no work that year


def test_budget_curve_drawn_in_a_worker_process_is_the_same_plan(monkeypatch):
    """At national scale the budget curve is drawn in a worker process beside the schedule
    (forced here with a threshold of 0 tasks): the plan, its curve, milestones and deadline
    answer are those of one process."""
    from ccm_geo import background

    s = PlanningSettings(budget_usd=30_000, years=3)
    deadline = dt.date(2029, 8, 1)
    alone = make_plan(_areas(), s, start_date=START, deadline=deadline)
    used = []
    real = background.Background.__init__

    def spy(self, enabled):
        real(self, enabled)
        used.append(self.parallel)

    monkeypatch.setattr(background, "PARALLEL_MIN_TASKS", 0)
    monkeypatch.setattr(background.Background, "__init__", spy)
    beside = make_plan(_areas(), s, start_date=START, deadline=deadline)
    assert used == [True]
    pd.testing.assert_frame_equal(
        pd.DataFrame(alone.tasks.drop(columns="geometry")),
        pd.DataFrame(beside.tasks.drop(columns="geometry")),
    )
    pd.testing.assert_frame_equal(alone.budget_curve, beside.budget_curve)
    pd.testing.assert_frame_equal(alone.milestones, beside.milestones)
    assert alone.deadline == beside.deadline
    assert list(beside.summary["timings_s"]) == [
        "tasks",
        "optimise",
        "schedule",
        "milestones",
        "deadline",
        "budget curve",
    ]


def test_dual_iterations_setting_is_the_bound_searchs_work_budget(monkeypatch):
    """``[planning] dual_iterations`` reaches the solver: the bound's search stops there."""
    from ccm_geo.planning.optimise import Problem

    seen = []
    solve = Problem.solve

    def spy(self, **kwargs):
        seen.append(kwargs.get("dual_iterations"))
        return solve(self, **kwargs)

    monkeypatch.setattr(Problem, "solve", spy)
    s = PlanningSettings(budget_usd=3_000, years=2, dual_iterations=3)
    plan = make_plan(_areas(), s, start_date=START, deadline=None)
    assert seen[0] == 3
    assert plan.solution.details["dual_iterations"] <= 3
    with pytest.raises(ValueError, match="dual_iterations"):
        PlanningSettings(dual_iterations=0)
