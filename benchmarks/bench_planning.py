"""Benchmark of the planning stage: MILP (HiGHS) against the greedy baseline, and the schedule.

Run ``python -m benchmarks.bench_planning``. Targets (DESIGN.md): 10,000 tasks x 5 years x 3 team
types to a 1% gap within 60 s; the day-level schedule of 10,000 tasks in under 30 s.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ccm_geo.planning import build_problem, make_tasks, plan_years, schedule_tasks
from ccm_geo.planning.settings import DEFAULT_METHODS, MethodRules, PlanningSettings, TeamSpec

__all__ = [
    "bench",
    "bench_national",
    "bench_schedule",
    "knapsack_check",
    "reference_solve",
    "synthetic_areas",
]

_START = dt.date(2027, 1, 1)


def synthetic_areas(
    n_areas: int,
    *,
    seed: int = 1,
    side_km: float = 150.0,
    n_regions: int = 12,
    max_area_m2: float = 200_000.0,
    point_share: float = 0.0,
    point_area_m2: float = 10_000.0,
) -> gpd.GeoDataFrame:
    """A deterministic synthetic register: square areas (0.1 ha to ``max_area_m2``, log-uniform)
    in a metric CRS.

    Status: 60% SHA (evidence mostly indirect), 40% CHA; contamination mostly CMR, some mixed
    with AP; land cover shares drawn from a Dirichlet; score uniform 0-1. ``point_share`` of the
    areas are point records buffered to ``point_area_m2`` (as national registers hold them),
    so many of their tasks cost the same and take the same team-days.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, side_km * 1000, n_areas)
    y = rng.uniform(0, side_km * 1000, n_areas)
    area = np.exp(rng.uniform(np.log(1_000), np.log(max_area_m2), n_areas))
    if point_share > 0:
        area = np.where(rng.random(n_areas) < point_share, point_area_m2, area)
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


# --------------------------------------------------------------------------------------------
# national-shaped instances: the whole planning stage, solver limits, gap against a reference

REFERENCE_FILE = Path(__file__).resolve().parent / "planning_reference.json"
_DEADLINE = dt.date(2031, 8, 1)


def national_settings(areas: gpd.GeoDataFrame, **solver) -> tuple[PlanningSettings, pd.DataFrame]:
    """Settings for a national-shaped register: 5 years, budget ~50% and teams ~60% of need.

    Returns the settings and the task table they were sized on.
    """
    teams = {
        "nts": TeamSpec(count=4),
        "manual": TeamSpec(count=40, no_go_months=[6, 7, 8, 9]),
        "mechanical": TeamSpec(count=8, no_go_months=[6, 7, 8, 9]),
    }
    methods = {k: v for k, v in DEFAULT_METHODS.items() if k != "ts_dog"}
    base = PlanningSettings(
        teams=teams, methods=methods, rules=MethodRules(ts_mines_method=None), years=5, **solver
    )
    tasks = make_tasks(areas, base)
    n_years = len(plan_years(base, _START, _DEADLINE))
    need = {k: tasks.loc[tasks["team_type"] == k, "team_days"].sum() for k in teams}
    settings = base.model_copy(
        update={
            "budget_usd": float(tasks["cost_usd"].sum()) / n_years * 0.5,
            "teams": {
                k: TeamSpec(
                    count=max(1, int(round(0.6 * need[k] / n_years / 150))),
                    no_go_months=v.no_go_months,
                )
                for k, v in teams.items()
            },
        }
    )
    return settings, tasks


def national_areas(n_areas: int) -> gpd.GeoDataFrame:
    """The national-shaped register of the bench: 40% point records of 1 ha."""
    return synthetic_areas(n_areas, side_km=150.0 * (n_areas / 10_000) ** 0.5, point_share=0.4)


def bench_national(
    n_areas: int,
    *,
    time_limit_s: float = 60.0,
    gap: float = 0.01,
    curve_time_limit_s: float = 5.0,
) -> dict:
    """Run the whole planning stage on a national-shaped register and check its promises.

    Returns
    -------
    dict
        Sizes; the stage's step times; the selection's wall time against ``time_limit_s``;
        its status, objective, bound and reported gap; the greedy objective and the gain over
        it; the gap against the stored reference (``planning_reference.json``, a long solve
        of the same instance) and whether the reported gap is at least that; the budget
        curve's points and seconds per point; peak memory of the process.
    """
    from ccm_geo.planning import make_plan

    areas = national_areas(n_areas)
    settings, _ = national_settings(
        areas, time_limit_s=time_limit_s, gap=gap, curve_time_limit_s=curve_time_limit_s
    )
    t0 = time.perf_counter()
    plan = make_plan(areas, settings, start_date=_START, deadline=_DEADLINE)
    stage_s = time.perf_counter() - t0
    sol, timings = plan.solution, plan.summary["timings_s"]
    ref = _references().get(_key(n_areas), {})
    ref_obj = ref.get("objective", float("nan"))
    true_gap = (ref_obj - sol.objective) / sol.objective if ref else float("nan")
    curve = plan.budget_curve
    return {
        "areas": n_areas,
        "tasks": len(plan.tasks),
        "columns": len(plan.tasks) * len(plan.summary["years"]),
        "stage_s": round(stage_s, 1),
        "tasks_s": timings["tasks"],
        "optimise_s": timings["optimise"],
        "schedule_s": timings["schedule"],
        "deadline_s": timings["deadline"],
        "budget_needed": plan.deadline.get("budget_needed_per_year"),
        "budget_needed_gap": round(plan.deadline.get("budget_needed_gap", float("nan")), 5),
        "curve_s": timings["budget curve"],
        "time_limit_s": time_limit_s,
        "solve_s": round(sol.seconds, 2),
        "wall_over_limit": round(sol.seconds / time_limit_s, 3),
        "status": sol.status,
        "method": sol.method,
        "greedy_objective": round(plan.greedy_objective),
        "objective": round(sol.objective),
        "gain_over_greedy": round(sol.objective / plan.greedy_objective - 1.0, 5),
        "bound": round(sol.bound),
        "reported_gap": round(sol.gap, 5),
        "reference_objective": round(ref_obj) if ref else None,
        "gap_vs_reference": round(true_gap, 5) if ref else None,
        "reported_gap_holds": bool(sol.gap >= true_gap - 1e-9) if ref else None,
        "curve_points": len(curve),
        "curve_s_per_point": round(timings["budget curve"] / max(len(curve), 1), 2),
        "curve_first_below_budget": bool(
            curve["budget_usd_per_year"].min() < plan.summary["budget_usd_mean"]
        ),
        "binding": sol.binding[0] if sol.binding else "",
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def bench_schedule(n_areas: int) -> dict:
    """The schedule alone on a national-shaped register (greedy selection, straight-line
    travel): seconds with the k-d tree nearest-task search and with the scan it replaces
    (every region scanned), and whether both give the same schedule."""
    from ccm_geo.planning import schedule

    areas = national_areas(n_areas)
    settings, tasks = national_settings(areas)
    years = plan_years(settings, _START, _DEADLINE)
    greedy = build_problem(tasks, settings, years=years, start_date=_START).greedy()
    tasks = tasks.reset_index(drop=True)
    tasks["year"] = greedy.year_of().reset_index(drop=True).to_numpy()
    out: dict = {"areas": n_areas, "scheduled": int(tasks["year"].notna().sum())}
    frames = {}
    default = schedule._SCAN_MAX
    try:
        for name, scan_max in (("scan", 10**12), ("tree", default)):
            schedule._SCAN_MAX = scan_max
            t0 = time.perf_counter()
            frames[name] = schedule_tasks(tasks, settings, years=years, start_date=_START)
            out[f"{name}_s"] = round(time.perf_counter() - t0, 2)
    finally:
        schedule._SCAN_MAX = default
    out["identical"] = bool(frames["scan"].equals(frames["tree"]))
    return out


def reference_solve(n_areas: int, *, time_limit_s: float, core_columns: int) -> dict:
    """A long solve of a national instance (gap 0, a large core), to store as the reference."""
    from ccm_geo.planning import build_problem

    areas = national_areas(n_areas)
    settings, tasks = national_settings(areas)
    years = plan_years(settings, _START, _DEADLINE)
    problem = build_problem(tasks, settings, years=years, start_date=_START)
    s = problem.solve(gap=0.0, time_limit_s=time_limit_s, core_columns=core_columns)
    return {
        "objective": s.objective,
        "bound": s.bound,
        "status": s.status,
        "seconds": round(s.seconds, 1),
        "how": f"Problem.solve(gap=0, time_limit_s={time_limit_s:g}, core_columns={core_columns})",
    }


def knapsack_check(n: int = 200, seed: int = 3) -> dict:
    """One year, one budget, gap 0: the plan's objective equals the 0/1 knapsack optimum (DP)."""
    from ccm_geo.planning import Problem

    rng = np.random.default_rng(seed)
    cost = rng.integers(1, 200, n)
    benefit = rng.integers(1, 1_000, n).astype(float)
    budget = int(cost.sum() * 0.3)
    t = pd.DataFrame(
        {
            "task_id": [f"k{i}" for i in range(n)],
            "benefit": benefit,
            "cost_usd": cost.astype(float),
            "team_days": np.zeros(n),
            "team_type": ["m"] * n,
            "predecessor": [None] * n,
        }
    )
    best = np.zeros(budget + 1)
    for c, b in zip(cost, benefit, strict=True):
        best[c:] = np.maximum(best[c:], best[: budget + 1 - c] + b)
    p = Problem.from_tasks(t, [2027]).add_budget([budget])
    s = p.solve(gap=0.0, time_limit_s=60.0)
    return {
        "check": "knapsack, 1 year, 1 budget, gap 0",
        "tasks": n,
        "dp_optimum": float(best[-1]),
        "objective": s.objective,
        "status": s.status,
        "equal": bool(abs(s.objective - best[-1]) < 1e-6),
        "greedy_objective": p.greedy().objective,
        "solve_s": round(s.seconds, 2),
    }


def _key(n_areas: int) -> str:
    return f"national-{n_areas}"


def _references() -> dict:
    if REFERENCE_FILE.is_file():
        return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    return {}


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_planning [--reference N] [--national N] [--schedule N]``."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=int, nargs="*", default=[], help="areas to re-solve")
    parser.add_argument("--reference-s", type=float, default=300.0)
    parser.add_argument("--core-columns", type=int, default=150_000)
    parser.add_argument("--national", type=int, nargs="*", default=[])
    parser.add_argument("--time-limit-s", type=float, default=60.0)
    parser.add_argument("--schedule", type=int, nargs="*", default=[], help="schedule alone")
    args = parser.parse_args(argv)
    for n in args.reference:
        refs = _references()
        refs[_key(n)] = reference_solve(
            n, time_limit_s=args.reference_s, core_columns=args.core_columns
        )
        REFERENCE_FILE.write_text(json.dumps(refs, indent=2) + "\n", encoding="utf-8")
        print(json.dumps({_key(n): refs[_key(n)]}))
    for n in args.national:
        print(json.dumps(bench_national(n, time_limit_s=args.time_limit_s)), flush=True)
    for n in args.schedule:
        print(json.dumps(bench_schedule(n)), flush=True)
    if not args.reference and not args.national and not args.schedule:
        print(json.dumps(knapsack_check()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
