"""Benchmark of the planning stage: MILP (HiGHS) against the greedy baseline, and the schedule.

Run ``python -m benchmarks.bench_planning``. Targets (DESIGN.md): 10,000 tasks x 5 years x 3 team
types to a 1% gap within 60 s; the day-level schedule of 10,000 tasks in under 30 s.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ccm_geo.planning import build_problem, make_tasks, plan_years, schedule_tasks
from ccm_geo.planning.settings import DEFAULT_METHODS, MethodRules, PlanningSettings, TeamSpec

__all__ = ["bench", "synthetic_areas"]

_START = dt.date(2027, 1, 1)


def synthetic_areas(
    n_areas: int,
    *,
    seed: int = 1,
    side_km: float = 150.0,
    n_regions: int = 12,
    max_area_m2: float = 200_000.0,
) -> gpd.GeoDataFrame:
    """A deterministic synthetic register: square areas (0.1 ha to ``max_area_m2``, log-uniform)
    in a metric CRS.

    Status: 60% SHA (evidence mostly indirect), 40% CHA; contamination mostly CMR, some mixed
    with AP; land cover shares drawn from a Dirichlet; score uniform 0-1.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, side_km * 1000, n_areas)
    y = rng.uniform(0, side_km * 1000, n_areas)
    area = np.exp(rng.uniform(np.log(1_000), np.log(max_area_m2), n_areas))
    half = np.sqrt(area) / 2
    geom = shapely.box(x - half, y - half, x + half, y + half)
    status = np.where(rng.random(n_areas) < 0.6, "SHA", "CHA")
    evidence = np.where(
        status == "CHA", "direct", np.where(rng.random(n_areas) < 0.8, "indirect", "none")
    )
    contamination = rng.choice(["CMR", "CMR", "CMR", "CMR;UXO", "AP;CMR", "AP", "UXO"], n_areas)
    land = rng.dirichlet(np.ones(7) * 0.5, n_areas)
    score = rng.random(n_areas)
    frame = pd.DataFrame(
        {
            "hazard_id": [f"H{i:06d}" for i in range(n_areas)],
            "status": status,
            "evidence": evidence,
            "contamination": contamination,
            "area_m2": area,
            "region": [
                f"R{int(v):02d}" for v in (x // (side_km * 1000 / np.sqrt(n_regions))) % n_regions
            ],
            "score": score,
        }
    )
    for j, c in enumerate(["forest", "cropland", "paddy", "settlement", "water", "shrub", "bare"]):
        frame[f"landuse_frac_{c}"] = land[:, j]
    frame["rank"] = frame["score"].rank(ascending=False, method="first").astype(int)
    return gpd.GeoDataFrame(frame, geometry=geom, crs="EPSG:32648")


def bench(
    n_tasks: int = 10_000,
    years: int = 5,
    team_types: int = 3,
    time_limit_s: float = 60.0,
    gap: float = 0.01,
) -> dict:
    """Time the MILP and the schedule on ``n_tasks`` synthetic tasks.

    With ``team_types=3`` the teams are nts, manual and mechanical (TS by manual teams); with 4
    dog teams are added for TS of mined land. The budget is set to about half of what every task
    costs over the horizon, and teams to about 60% of the team-days needed, so both bind.

    Returns
    -------
    dict
        Sizes, MILP status, gap, objective, greedy objective, and seconds of each step.
    """
    teams = {
        "nts": TeamSpec(count=4),
        "manual": TeamSpec(count=40, no_go_months=[6, 7, 8, 9]),
        "mechanical": TeamSpec(count=8, no_go_months=[6, 7, 8, 9]),
    }
    rules = MethodRules(ts_mines_method=None)
    methods = {k: v for k, v in DEFAULT_METHODS.items() if k != "ts_dog"}
    if team_types >= 4:
        teams["dog"] = TeamSpec(count=4, no_go_months=[6, 7, 8, 9])
        rules, methods = MethodRules(), dict(DEFAULT_METHODS)
    base = PlanningSettings(
        teams=teams, methods=methods, rules=rules, years=years, gap=gap, time_limit_s=time_limit_s
    )
    areas = synthetic_areas(int(n_tasks / 1.9) + 50)
    t0 = time.perf_counter()
    tasks = make_tasks(areas, base)
    t_tasks = time.perf_counter() - t0
    tasks = tasks.iloc[:n_tasks].reset_index(drop=True)
    ys = plan_years(base, _START, None)
    need = {k: tasks.loc[tasks["team_type"] == k, "team_days"].sum() for k in teams}
    budget = float(tasks["cost_usd"].sum()) / len(ys) * 0.5
    settings = base.model_copy(update={"budget_usd": budget})
    settings = settings.model_copy(
        update={
            "teams": {
                k: TeamSpec(
                    count=max(1, int(round(0.6 * need[k] / len(ys) / 150))),
                    no_go_months=v.no_go_months,
                )
                for k, v in teams.items()
            }
        }
    )
    problem = build_problem(tasks, settings, years=ys, start_date=_START)
    t0 = time.perf_counter()
    model = problem.compile()
    t_compile = time.perf_counter() - t0
    greedy = problem.greedy()
    solution = problem.solve(gap=gap, time_limit_s=time_limit_s, random_seed=settings.random_seed)
    tasks["year"] = solution.year_of().to_numpy()
    t0 = time.perf_counter()
    sched = schedule_tasks(tasks, settings, years=ys, start_date=_START)
    t_sched = time.perf_counter() - t0
    return {
        "tasks": len(tasks),
        "years": len(ys),
        "team_types": len(settings.teams),
        "columns": model.A.shape[1],
        "rows": model.A.shape[0],
        "nonzeros": model.A.nnz,
        "tasks_s": round(t_tasks, 2),
        "compile_s": round(t_compile, 2),
        "greedy_s": round(greedy.seconds, 2),
        "greedy_objective": round(greedy.objective, 1),
        "milp_status": solution.status,
        "milp_s": round(solution.seconds, 2),
        "milp_objective": round(solution.objective, 1),
        "milp_bound": round(solution.bound, 1),
        "milp_gap": round(solution.gap, 5),
        "milp_vs_greedy": round(solution.objective / greedy.objective - 1.0, 5),
        "selected": int((solution.year_index >= 0).sum()),
        "scheduled": int(sched["team"].notna().sum()),
        "schedule_s": round(t_sched, 2),
        "meets_milp_target": bool(solution.gap <= gap and solution.seconds <= time_limit_s),
        "meets_schedule_target": bool(t_sched < 30.0),
    }


if __name__ == "__main__":
    print(json.dumps(bench(), indent=2))
