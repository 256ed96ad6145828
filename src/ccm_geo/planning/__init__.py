"""Planning: tasks from areas, optimal budgeted selection, team schedule, milestones.

``make_plan`` runs the stage: scored areas -> tasks (``tasks``) -> a MILP selection of tasks
over years within budgets and team capacity (``optimise``), beside a greedy baseline -> named
teams and dates (``schedule``) -> annual milestones (``milestones``) -> the Article 4 deadline
answer and the budget curve (``funding``). See docs/planning.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo import background
from ccm_geo.planning.funding import (
    budget_curve,
    budget_curve_figure,
    budget_needed,
    deadline_answer,
)
from ccm_geo.planning.milestones import milestones
from ccm_geo.planning.optimise import CompiledModel, Problem, Solution
from ccm_geo.planning.schedule import (
    TravelMinutes,
    capacity_team_days,
    schedule_tasks,
    work_calendar,
    work_days_until,
)
from ccm_geo.planning.settings import PlanningSettings
from ccm_geo.planning.tasks import make_tasks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Plan",
    "make_plan",
    "plan_years",
    "build_problem",
    "make_tasks",
    "Problem",
    "CompiledModel",
    "Solution",
    "schedule_tasks",
    "capacity_team_days",
    "work_calendar",
    "work_days_until",
    "milestones",
    "deadline_answer",
    "budget_needed",
    "budget_curve",
    "budget_curve_figure",
    "curve_levels",
    "PlanningSettings",
    "TravelMinutes",
]

logger = logging.getLogger(__name__)

#: Column order of ``Plan.tasks`` (geometry last).
PLAN_COLUMNS = [
    "task_id",
    "hazard_id",
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
    "team",
    "start",
    "end",
    "travel_min",
    "year",
    "selected",
    "benefit",
    "predecessor",
    "assumptions",
    "region",
    "score",
    "rank",
    "contamination",
    "step",
]


@dataclass
class Plan:
    """A costed, scheduled work plan and the answers around it.

    Attributes
    ----------
    tasks
        One row per task (``PLAN_COLUMNS``; geometry = the area's). ``year`` is the calendar
        year it is planned in (``<NA>`` when not selected), ``team``/``start``/``end`` its
        team and first and last working day.
    solution
        The MILP's status, objective, bound, gap and seconds.
    greedy
        The greedy baseline on the same problem.
    greedy_objective
        The baseline's objective (discounted benefit), beside ``solution.objective``.
    milestones
        Annual milestone table per year and region (``milestones.MILESTONE_COLUMNS``).
    deadline
        The Article 4 answer (see ``funding.deadline_answer``).
    budget_curve
        Benefit retained at ``curve_levels`` equal yearly budgets, from half the configured
        budget up, for each team factor of ``curve_team_factors`` (``funding.budget_curve``).
    summary
        Totals, solver figures and timings.
    """

    tasks: gpd.GeoDataFrame
    solution: Solution
    greedy: Solution
    greedy_objective: float
    milestones: pd.DataFrame
    deadline: dict
    budget_curve: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def budget_curve_figure(self) -> Figure:
        """The budget curve as a matplotlib Figure (not saved: the caller writes it)."""
        return budget_curve_figure(
            self.budget_curve, current_budget=self.summary.get("budget_usd_mean")
        )


def make_plan(
    areas: gpd.GeoDataFrame,
    settings: PlanningSettings,
    *,
    start_date: dt.date,
    deadline: dt.date | None,
    travel_minutes: TravelMinutes | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Plan:
    """Plan the release of scored hazardous areas: tasks, selection, schedule, milestones.

    Parameters
    ----------
    areas
        Scored areas in a metric CRS (see ``make_tasks``). Not modified.
    settings
        The [planning] settings.
    start_date
        First day of the plan; plan years run from its year for ``settings.years`` years, and
        further up to the deadline's year when that is later.
    deadline
        Article 4 deadline (None: no deadline answer).
    travel_minutes
        Travel time between areas, minutes (matrix labelled by hazard_id, or a function);
        default straight lines between centroids at ``settings.travel_speed_kmh``.
    progress
        Called as ``progress(step, fraction_done)`` after each step.

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        The areas cannot be planned (missing columns, geographic CRS, bad values).
    SolverError
        The locks cannot all be met.
    """
    timings: dict[str, float] = {}
    steps = ["tasks", "optimise", "schedule", "milestones", "deadline", "budget curve"]

    def done(step: str, t0: float, seconds: float | None = None) -> None:
        timings[step] = round(time.perf_counter() - t0, 3) if seconds is None else seconds
        if progress is not None:
            progress(step, (steps.index(step) + 1) / len(steps))

    t0 = time.perf_counter()
    tasks = make_tasks(areas, settings)
    done("tasks", t0)

    t0 = time.perf_counter()
    years = plan_years(settings, start_date, deadline)
    budgets = settings.budget_for(years)
    problem = build_problem(tasks, settings, years=years, start_date=start_date)
    greedy = problem.greedy()
    solution = problem.solve(
        gap=settings.gap,
        time_limit_s=settings.time_limit_s,
        random_seed=settings.random_seed,
        dual_iterations=settings.dual_iterations,
    )
    logger.info(
        "plan: %s (objective %.1f, greedy %.1f)",
        solution.message,
        solution.objective,
        greedy.objective,
    )
    year = solution.year_of().reset_index(drop=True)
    tasks = tasks.reset_index(drop=True)
    tasks["year"] = year.to_numpy()
    tasks["selected"] = year.notna().to_numpy()
    done("optimise", t0)

    # the budget curve needs the tasks, not their schedule: at national scale it is drawn in
    # a worker process while the teams are scheduled here (the same curve either way)
    side = background.Background(len(tasks) >= background.PARALLEL_MIN_TASKS)
    with side:
        curve_job = side.submit(
            _budget_curve, tasks[list(_CURVE_COLUMNS)], settings, years, budgets, start_date
        )
        t0 = time.perf_counter()
        sched = schedule_tasks(
            tasks, settings, years=years, start_date=start_date, travel_minutes=travel_minutes
        )
        for col in ("team", "start", "end", "travel_min"):
            tasks[col] = sched[col].to_numpy()
        done("schedule", t0)
        answer, table = _schedule_answers(
            tasks, settings, years, budgets, start_date, deadline, done
        )
        curve, curve_s = curve_job.result()
    done("budget curve", t0, seconds=curve_s)  # its own seconds, in the worker or here

    tasks = gpd.GeoDataFrame(tasks[[*PLAN_COLUMNS, "geometry"]], geometry="geometry", crs=tasks.crs)
    sel = tasks["selected"].to_numpy()
    end = pd.to_datetime(tasks["end"])
    summary = {
        "years": list(years),
        "budget_usd": budgets,
        "budget_usd_mean": float(np.mean(budgets)),
        "areas": int(areas["status"].ne("released").sum()),
        "tasks": len(tasks),
        "tasks_selected": int(sel.sum()),
        "suspected_m2": float(tasks["released_m2"].sum()),
        "released_m2": float(tasks.loc[sel, "released_m2"].sum()),
        "cost_usd_all": float(tasks["cost_usd"].sum()),
        "cost_usd_selected": float(tasks.loc[sel, "cost_usd"].sum()),
        "status": solution.status,
        "message": solution.message,
        "method": solution.method,
        "binding": list(solution.binding),
        "bound_source": solution.details.get("bound_source", ""),
        "objective": solution.objective,
        "greedy_objective": greedy.objective,
        "improvement_over_greedy": (
            solution.objective / greedy.objective - 1.0 if greedy.objective > 0 else float("nan")
        ),
        "bound": solution.bound,
        "gap": solution.gap,
        "solve_seconds": solution.seconds,
        "late_tasks": _late_tasks(tasks["year"], end),
        "timings_s": timings,
    }
    return Plan(
        tasks=tasks,
        solution=solution,
        greedy=greedy,
        greedy_objective=greedy.objective,
        milestones=table,
        deadline=answer,
        budget_curve=curve,
        summary=summary,
    )


#: The task columns the budget curve reads (``Problem.from_tasks`` and the released areas)
_CURVE_COLUMNS = (
    "task_id",
    "predecessor",
    "benefit",
    "cost_usd",
    "team_days",
    "team_type",
    "released_m2",
    "cmr_m2",
)


def _schedule_answers(tasks, settings, years, budgets, start_date, deadline, done):
    """What needs the schedule: the milestones and the deadline answer."""
    t0 = time.perf_counter()
    table = milestones(tasks, years)
    done("milestones", t0)
    t0 = time.perf_counter()
    per_team = {
        k: work_days_until(settings, k, years, start_date, deadline)
        * (1.0 - settings.travel_allowance_share)
        for k in settings.teams
    }
    answer = deadline_answer(
        tasks,
        deadline=deadline,
        years=years,
        budgets=budgets,
        team_days_per_team=per_team,
        team_counts={k: v.count for k, v in settings.teams.items()},
        discount_rate=settings.discount_rate,
    )
    done("deadline", t0)
    return answer, table


def _budget_curve(
    tasks: pd.DataFrame,
    settings: PlanningSettings,
    years: list[int],
    budgets: list[float],
    start_date: dt.date,
) -> tuple[pd.DataFrame, float]:
    """The budget curve of the unlocked plan, and its seconds (runs in a worker process at
    national scale: plain values in, plain values out)."""
    t0 = time.perf_counter()
    unlocked = build_problem(tasks, settings, years=years, start_date=start_date, locks=False)
    curve = budget_curve(
        unlocked,
        curve_levels(budgets, float(tasks["cost_usd"].sum()) / len(years), settings.curve_levels),
        released_m2=tasks["released_m2"].to_numpy(float),
        cmr_m2=tasks["cmr_m2"].to_numpy(float),
        gap=settings.gap,
        time_limit_s=settings.curve_time_limit_s,
        random_seed=settings.random_seed,
        team_factors=settings.curve_team_factors,
        team_counts={k: v.count for k, v in settings.teams.items()},
        max_tasks=settings.curve_max_tasks,
        seed=settings.random_seed,
    )
    return curve, round(time.perf_counter() - t0, 3)


def _late_tasks(year: pd.Series, end: pd.Series) -> int:
    """Tasks that end after their plan year (both known)."""
    y = pd.to_numeric(year, errors="coerce").to_numpy(dtype=float)
    e = end.dt.year.to_numpy(dtype=float)  # NaN where the end is missing
    return int(np.count_nonzero(np.isfinite(y) & np.isfinite(e) & (e > np.floor(y))))


def curve_levels(budgets: list[float], cost_per_year: float, n_levels: int) -> np.ndarray:
    """Yearly budget levels of the budget curve, US$: from half the configured budget up.

    ``n_levels`` levels from half the smallest configured yearly budget to the top (1.2 x the
    cost of every task per plan year, or the largest configured budget if higher); the mean
    configured budget is one of them, so the curve reads the plan's own budget too.
    """
    current = float(np.mean(budgets)) if len(budgets) else 0.0
    top = max(1.2 * cost_per_year, max(budgets, default=0.0), 1.0)
    low = 0.5 * min(budgets) if budgets and min(budgets) > 0 else top / n_levels
    grid = np.round(np.linspace(low, top, max(n_levels - 1, 1)), 2)
    if current > 0 and not np.isclose(grid, current, rtol=1e-9).any():
        return np.unique(np.append(grid, round(current, 2)))
    return np.unique(np.round(np.linspace(low, top, n_levels), 2))


def plan_years(
    settings: PlanningSettings, start_date: dt.date, deadline: dt.date | None
) -> list[int]:
    """Calendar years of the plan: ``settings.years`` from the start, up to the deadline's."""
    last = start_date.year + settings.years - 1
    if deadline is not None:
        last = max(last, deadline.year)
    return list(range(start_date.year, last + 1))


def build_problem(
    tasks: pd.DataFrame,
    settings: PlanningSettings,
    *,
    years: list[int],
    start_date: dt.date,
    locks: bool = True,
) -> Problem:
    """The plan's MILP from the settings: budget, capacity, precedence and (optionally) locks."""
    problem = (
        Problem.from_tasks(tasks, years, discount_rate=settings.discount_rate)
        .add_budget(settings.budget_for(years))
        .add_capacity(capacity_team_days(settings, years, start_date))
        .add_precedence()
    )
    if locks and settings.locks:
        problem = problem.add_locks([(lk.task_id, lk.year) for lk in settings.locks])
    return problem
