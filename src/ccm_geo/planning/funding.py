"""Deadline and funding answers: Article 4 deadline met or not, budget and teams needed,
funding gap per year, and the curve of benefit retained against the yearly budget.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ccm_geo.planning.optimise import Problem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "NeededBudget",
    "deadline_answer",
    "budget_needed",
    "needed_budget",
    "budget_curve",
    "budget_curve_figure",
]

logger = logging.getLogger(__name__)

_BISECTION_STEPS = 40
_BISECTION_REL = 0.002  # the needed budget is found to 0.2% or US$1,000, whichever is larger
# the relaxation's search starts from a close plan, so it is run finer: US$1,000 or 0.01%
_NEEDED_REL = 1e-4
# trees tried in a swap: the heaviest in the type out of the busiest year, and for each up to
# this many of another year whose cost keeps both years within the budget
_SWAP_OUT, _SWAP_IN = 32, 64
# work budget of each budget-curve point (warm-started from the previous point's prices):
# evaluations of the relaxation, and roundings (at the best prices and the last centres)
_CURVE_ITERATIONS, _CURVE_ROUNDINGS = 50, 3
_HOW = {
    "lpt": "whole areas, dearest first, to the year with the least spent",
    "priced": "the relaxation's priced rounding",
    "greedy": "the greedy plan",
    "": "none needed",
}


def deadline_answer(
    tasks: pd.DataFrame,
    *,
    deadline: dt.date | None,
    years: Sequence[int],
    budgets: Sequence[float],
    team_days_per_team: Mapping[str, np.ndarray],
    team_counts: Mapping[str, int],
    discount_rate: float,
) -> dict:
    """Will the CMR area be released by the deadline, and if not, what would it take?

    Parameters
    ----------
    tasks
        Every task with ``cmr_m2`` (m²), ``cost_usd``, ``team_days``, ``team_type``,
        ``hazard_id``, ``predecessor``, ``benefit``, ``task_id`` and, from the plan and its
        schedule, ``year`` and ``end`` (missing when not selected).
    deadline
        The Article 4 deadline (None: no answer, ``meets`` is None).
    years, budgets
        Plan years and their budgets, US$.
    team_days_per_team
        Team-days one team of each type has for tasks in each plan year, counting in the
        deadline's year only the working days up to the deadline.
    team_counts
        Teams of each type.
    discount_rate
        As in the plan (used by the fast model variant).

    Returns
    -------
    dict
        ``meets`` (bool: all CMR area released by tasks ending on or before the deadline),
        ``deadline`` (ISO date), ``cmr_total_m2``, ``cmr_released_m2`` and
        ``cmr_remaining_m2`` by the deadline, ``budget_needed_per_year`` (US$, the same each
        year up to the deadline's year), ``teams_needed`` (per team type, with that budget),
        ``budget_needed_lower_bound`` (US$ per year no plan can do without, proven by the
        LP relaxation: the CMR tasks' cost over the years, or the dearest task; the least
        budget lies between it and ``budget_needed_per_year``), ``budget_needed_gap``
        (``(needed - lower bound) / lower bound``: how sure the answer is), ``funding_gap``
        (year -> US$ missing against the configured budget),
        ``meets_if_cmr_first`` (bool: the greedy plan of the CMR areas alone, with the
        configured budgets and teams, plans all of them by the deadline's year; True with
        ``meets`` False means the plan's priorities, not its means, miss the deadline) and
        ``method`` (how the needed budget was found).
    """
    cmr = tasks["cmr_m2"].to_numpy(dtype=float)
    total = float(cmr.sum())
    out: dict = {
        "deadline": None if deadline is None else deadline.isoformat(),
        "cmr_total_m2": total,
    }
    if deadline is None:
        out.update(
            meets=None,
            cmr_released_m2=float("nan"),
            cmr_remaining_m2=float("nan"),
            budget_needed_per_year=float("nan"),
            teams_needed={},
            funding_gap={},
        )
        return out
    end = pd.to_datetime(tasks["end"])
    done = end.notna().to_numpy() & (end <= pd.Timestamp(deadline)).to_numpy()
    released = float(cmr[done].sum())
    remaining = max(0.0, total - released)
    out.update(meets=bool(remaining <= 1.0), cmr_released_m2=released, cmr_remaining_m2=remaining)
    in_time = [i for i, y in enumerate(years) if y <= deadline.year]
    per_team_in_time = {
        k: np.asarray(v, dtype=float)[in_time] for k, v in team_days_per_team.items()
    }
    needed = needed_budget(
        tasks, years=[years[i] for i in in_time], team_days_per_team=per_team_in_time
    )
    need, year_index, sub = needed.need, needed.year_index, needed.sub
    teams: dict[str, int | None] = {}
    if sub is not None and len(in_time):
        Y = len(in_time)
        for k in sorted(set(sub["team_type"])):
            mask = (sub["team_type"] == k).to_numpy() & (year_index >= 0)
            td = np.bincount(
                year_index[mask], weights=sub["team_days"].to_numpy()[mask], minlength=Y
            )
            per_team = np.asarray(team_days_per_team.get(k, np.zeros(len(years))))[in_time]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(td > 0, td / per_team, 0.0)
            worst = float(np.max(ratio)) if len(ratio) else 0.0
            teams[k] = int(math.ceil(worst - 1e-9)) if math.isfinite(worst) else None
    first = None
    if sub is not None and len(in_time) and not sub.empty:
        cap = {
            k: np.asarray(v)[in_time] * team_counts.get(k, 0) for k, v in team_days_per_team.items()
        }
        cmr_first = (
            Problem.from_tasks(sub, [years[i] for i in in_time], discount_rate=discount_rate)
            .add_budget([budgets[i] for i in in_time])
            .add_capacity(cap)
            .add_precedence()
            .greedy()
        )
        first = bool((cmr_first.year_index >= 0).all())
    elif sub is not None and sub.empty:
        first = True
    out["meets_if_cmr_first"] = first
    out["budget_needed_per_year"] = need
    out["budget_needed_lower_bound"] = needed.lower_bound
    out["budget_needed_gap"] = needed.gap
    out["teams_needed"] = teams
    out["funding_gap"] = {int(years[i]): max(0.0, need - float(budgets[i])) for i in in_time}
    out["method"] = (
        "fast variant: only the tasks of CMR-contaminated areas, team capacity unlimited, "
        "precedence kept, the same budget every year up to the deadline's year; the budget is "
        "the least found (to US$1,000 or 0.01%) with which every such task is planned by then "
        f"(plan by {_HOW[needed.method]}), and no plan does it with less than the lower bound "
        "(the LP relaxation proves it); teams needed = the most team-days of a year / one "
        "team's days, in that plan spread over the years (within the budget) so that its "
        "teams cost as little as it can"
    )
    return out


@dataclasses.dataclass(frozen=True)
class NeededBudget:
    """The least equal yearly budget that plans every CMR task by the deadline's year.

    Attributes
    ----------
    need
        Least budget per year found (US$, rounded up to US$1,000): a plan with it exists
        (``year_index``). NaN when there are no plan years.
    lower_bound
        Proven: no plan does it with less (the LP relaxation of the variant, checked by its
        Lagrangian bound; ``max(cost of the tasks / years, dearest task)``).
    gap
        ``(need - lower_bound) / lower_bound``: how far the answer can be from the least.
    year_index, sub
        The plan found (plan-year index per task of ``sub``) and the variant's task table.
    proofs
        Budgets at which the relaxation proved that no plan exists (the bound is below the
        cost of every task), in the order tried.
    method, seconds, steps
        What found the plan (``"lpt"``, ``"priced"`` or ``"greedy"``), wall time and budgets
        tried.
    """

    need: float
    lower_bound: float
    gap: float
    year_index: np.ndarray
    sub: pd.DataFrame | None
    proofs: tuple[float, ...] = ()
    method: str = ""
    seconds: float = 0.0
    steps: int = 0


def budget_needed(
    tasks: pd.DataFrame,
    *,
    years: Sequence[int],
    discount_rate: float,
    method: str = "relaxation",
) -> tuple[float, np.ndarray, pd.DataFrame | None]:
    """Least equal yearly budget that plans every task of a CMR-contaminated area in ``years``.

    The fast model variant of ``deadline_answer`` (team capacity unlimited, precedence kept).
    ``method="relaxation"`` (default) is ``needed_budget``; ``"greedy"`` is the former search:
    bisection on greedy plans from the lower bound (kept to compare).

    Returns
    -------
    tuple
        The budget per year (US$, found to 0.2% or US$1,000 and rounded up to US$1,000; NaN
        when ``years`` is empty), the
        plan-year index per task of the variant (-1 = not planned) and its task table.
    """
    if method == "relaxation":
        r = needed_budget(tasks, years=years)
        return r.need, r.year_index, r.sub
    sub = _cmr_tasks(tasks)
    if not len(years) or sub.empty:
        return (float("nan") if not len(years) else 0.0), np.zeros(len(sub), dtype=np.int64), sub
    base = Problem.from_tasks(sub, years, discount_rate=discount_rate).add_precedence()

    def plan(b: float) -> np.ndarray:
        return base.add_budget([b] * len(years)).greedy().year_index

    cost = sub["cost_usd"].to_numpy(dtype=float)
    top = float(cost.sum()) + 1.0  # every task in the first year: always enough
    # no budget below the lower bound plans every task; search up from it, then bisect
    lo = max(float(cost.sum()) / len(years), float(cost.max())) * (1 - 1e-12)
    hi = min(lo * 1.25 + 1.0, top)
    best = plan(hi)
    while not (best >= 0).all() and hi < top:
        lo, hi = hi, min(2.0 * hi, top)
        best = plan(hi)
    for _ in range(_BISECTION_STEPS):
        if hi - lo <= max(1_000.0, _BISECTION_REL * hi):
            break
        mid = 0.5 * (lo + hi)
        yi = plan(mid)
        if (yi >= 0).all():
            hi, best = mid, yi
        else:
            lo = mid
    need = math.ceil(hi / 1_000.0) * 1_000.0
    best = plan(need)
    return need, best, sub


def needed_budget(
    tasks: pd.DataFrame,
    *,
    years: Sequence[int],
    team_days_per_team: Mapping[str, np.ndarray] | None = None,
    dual_s: float = 20.0,
) -> NeededBudget:
    """Least equal yearly budget planning every task of a CMR-contaminated area in ``years``.

    The variant's model is the plan's (``Problem``: budget rows, precedence, no team
    capacity) with each task's benefit set to its cost and no discount, so that "every task
    planned" is "objective = cost of every task". Its Lagrangian relaxation (``Relaxation``)
    is built once; each budget tried changes only its right-hand sides (``set_rhs``) and its
    dual search starts from the previous prices:

    1. The lower bound ``max(cost / years, dearest task)`` is the LP relaxation's: just below
       it, the relaxation's bound is below the cost of every task, which proves that no plan
       exists (checked, and recorded in ``proofs``).
    2. A first plan: whole areas (trees of tasks, precedence kept within a year) to the year
       with the most budget left, dearest first (longest processing time first); its fullest
       year is a budget that works.
    3. Bisection between the two, to US$1,000 or 0.01%: at each budget the relaxation either
       proves that no plan exists, or its priced rounding (``priced_plan``: first fit by
       decreasing priced margin, precedence kept) or the greedy plan places every task.
    4. The best plan is balanced: whole areas move, or swap, out of its fullest year while
       that lowers the fullest year's spending; the answer is that spending.
    5. With ``team_days_per_team`` (team-days one team of each type has in each of
       ``years``), the plan is then spread over the years within that budget so that its
       teams cost as little as it can (``_spread_teams``), and the greedy plan at that budget
       replaces it when its teams cost less: the teams needed are read from this plan.

    ``need`` is rounded up to US$1,000; the answer lies in ``[lower_bound, need]``.
    """
    from ccm_geo.planning.heuristics import priced_plan
    from ccm_geo.planning.relax import Relaxation

    t0 = time.perf_counter()
    sub = _cmr_tasks(tasks)
    Y = len(years)
    if not Y or sub.empty:
        need = float("nan") if not Y else 0.0
        return NeededBudget(need, need, 0.0, np.zeros(len(sub), dtype=np.int64), sub)
    packing = sub.assign(benefit=sub["cost_usd"].to_numpy(dtype=float))
    base = Problem.from_tasks(packing, years, discount_rate=0.0).add_precedence()
    cost = base.cost
    total = float(cost.sum())
    lower = max(total / Y, float(cost.max()))
    if total <= 0:
        return NeededBudget(0.0, 0.0, 0.0, np.zeros(base.n_tasks, dtype=np.int64), sub)
    relaxation = Relaxation(base.add_budget([lower] * Y))
    lam: np.ndarray | None = None
    proofs: list[float] = []

    def proves_impossible(b: float) -> bool:
        nonlocal lam
        relaxation.set_rhs(np.full(Y, b), None)
        short = total * (1 - 1e-9) - 1e-6  # a bound below this: not every task fits
        # one US$ is worth one unit of benefit: the prices that prove a short budget, tried
        # first (one pass over the tasks), then the dual search from the last prices
        certificate = relaxation.rhs.copy()
        if relaxation.evaluate(certificate)[0] < short:
            lam = certificate
            proofs.append(float(b))
            return True
        start = lam if lam is not None and len(lam) == relaxation.R else certificate
        dual = relaxation.dual(lam0=start, seconds=dual_s, rel_tol=1e-9)
        if dual.stopped_by_clock:
            logger.warning(
                "deadline: the time cap (%g s) stopped a bound search; the budget needed "
                "may differ run to run",
                dual_s,
            )
        lam = dual.lam
        if dual.bound < short:
            proofs.append(float(b))
            return True
        return False

    steps = 0
    below = lower * (1 - 1e-6)
    steps += 1
    if not proves_impossible(below):  # never: the bound is the LP's (kept as a check)
        logger.warning("deadline: the relaxation did not prove the lower bound %.0f", lower)
    hi, best, how = _lpt_plan(base, relaxation)
    lo = lower * (1 - 1e-12)
    for _ in range(_BISECTION_STEPS):
        if hi - lo <= max(1_000.0, _NEEDED_REL * hi):
            break
        mid = 0.5 * (lo + hi)
        steps += 1
        if proves_impossible(mid):
            lo = mid
            continue
        p = base.add_budget([mid] * Y)
        yi, _ = priced_plan(p, relaxation, lam)
        if (yi >= 0).all():
            hi, best, how = mid, yi, "priced"
            continue
        yi = p.greedy().year_index
        if (yi >= 0).all():
            hi, best, how = mid, yi, "greedy"
        else:
            lo = mid
    best = _balance(base, relaxation, best)
    hi = min(hi, float(_spent(base, best).max()))
    need = math.ceil(hi / 1_000.0) * 1_000.0
    if team_days_per_team is not None:
        best = _spread_teams(base, relaxation, best, need, team_days_per_team)
        g = base.add_budget([need] * Y).greedy().year_index
        types = sorted(set(base.team_type.tolist()))
        w = dict(zip(types, _team_day_cost(base, types), strict=True))

        def cost(x):
            return sum(w[k] * v for k, v in _teams(base, x, team_days_per_team).items())

        if (g >= 0).all() and cost(g) < cost(best):
            best = g
    return NeededBudget(
        need=need,
        lower_bound=lower,
        gap=(need - lower) / lower if lower > 0 else 0.0,
        year_index=best,
        sub=sub,
        proofs=tuple(proofs),
        method=how,
        seconds=time.perf_counter() - t0,
        steps=steps,
    )


def _cmr_tasks(tasks: pd.DataFrame) -> pd.DataFrame:
    """Every task of an area with CMR contamination (``cmr_m2`` > 0 on one of its tasks)."""
    codes, _ = pd.factorize(tasks["hazard_id"])
    cmr = tasks["cmr_m2"].to_numpy(dtype=float) > 0
    has = np.bincount(codes[codes >= 0], weights=cmr[codes >= 0], minlength=codes.max() + 1) > 0
    return tasks[(codes >= 0) & has[np.maximum(codes, 0)]].reset_index(drop=True)


def _spent(problem: Problem, year_index: np.ndarray) -> np.ndarray:
    sel = year_index >= 0
    return np.bincount(year_index[sel], weights=problem.cost[sel], minlength=problem.n_years)


def _tree_years(relaxation, x: np.ndarray, n_years: int) -> np.ndarray:
    """The year of each tree (root order) planned whole in one year, else -1."""
    root, roots = relaxation.root, relaxation.levels[0]
    lo_y = np.full(len(x), n_years, dtype=np.int64)
    hi_y = np.full(len(x), -1, dtype=np.int64)
    np.minimum.at(lo_y, root, np.where(x >= 0, x, n_years))
    np.maximum.at(hi_y, root, x)
    whole = (lo_y[roots] == hi_y[roots]) & (hi_y[roots] >= 0)
    return np.where(whole, hi_y[roots], -1)


def _balance(problem: Problem, relaxation, year_index: np.ndarray, rounds: int = 500):
    """Lower the fullest year's spending by moving, or swapping, whole trees out of it.

    Only trees planned in one year move (so precedence holds); each step moves one tree from
    the fullest year to another year, or swaps it with a cheaper tree there, when both years
    then spend less than the fullest did.
    """
    x = year_index.copy()
    root, roots = relaxation.root, relaxation.levels[0]
    n = problem.n_tasks
    tree_cost = np.bincount(root, weights=problem.cost, minlength=n)[roots]
    year = _tree_years(relaxation, x, problem.n_years)
    whole = year >= 0  # trees planned in one year: only these move
    spent = _spent(problem, x)
    for _ in range(rounds):
        f = int(np.argmax(spent))
        in_f = np.flatnonzero(year == f)
        moved = False
        for y in np.argsort(spent, kind="stable").tolist():
            if y == f or not in_f.size:
                continue
            room = spent[f] - spent[y]  # a move or swap of net d helps when 0 < d < room
            d = tree_cost[in_f]
            ok = (d > 1e-9) & (d < room - 1e-9)
            if ok.any():  # move the tree that best evens the two years
                a = in_f[ok][np.argmin(np.abs(d[ok] - room / 2))]
                year[a], spent[f], spent[y] = y, spent[f] - tree_cost[a], spent[y] + tree_cost[a]
                moved = True
                break
            in_y = np.flatnonzero(year == y)
            if not in_y.size:
                continue
            cy = tree_cost[in_y]
            order = np.argsort(cy, kind="stable")
            cy_sorted = cy[order]
            for a in in_f[np.argsort(-tree_cost[in_f], kind="stable")][:200].tolist():
                want = tree_cost[a] - room / 2  # the partner that evens the two years
                k = int(np.searchsorted(cy_sorted, want))
                for j in (k - 1, k):
                    if 0 <= j < len(order):
                        net = tree_cost[a] - cy_sorted[j]
                        if 1e-9 < net < room - 1e-9:
                            b = in_y[order[j]]
                            year[a], year[b] = y, f
                            spent[f] -= net
                            spent[y] += net
                            moved = True
                            break
                if moved:
                    break
            if moved:
                break
        if not moved:
            break
    year_of_root = np.full(n, -1, dtype=np.int64)
    year_of_root[roots] = year
    return np.where(whole[np.searchsorted(roots, root)], year_of_root[root], x)


def _teams(problem: Problem, year_index: np.ndarray, per_team: Mapping[str, np.ndarray]):
    """Teams of each type a plan needs: its busiest year's team-days / one team's days."""
    out = {}
    sel = year_index >= 0
    for k in sorted(set(problem.team_type.tolist())):
        m = sel & (problem.team_type == k)
        td = np.bincount(year_index[m], weights=problem.team_days[m], minlength=problem.n_years)
        per = np.asarray(per_team.get(k, np.zeros(problem.n_years)), dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(td > 0, td / per, 0.0)
        out[k] = math.ceil(float(ratio.max(initial=0.0)) - 1e-9)
    return out


def _team_day_cost(problem: Problem, types: list[str]) -> np.ndarray:
    """Mean cost of a team-day of each type (US$, from its tasks): the weight of its teams."""
    cost = np.array([problem.cost[problem.team_type == k].sum() for k in types])
    days = np.array([problem.team_days[problem.team_type == k].sum() for k in types])
    return np.where(days > 0, cost / np.where(days > 0, days, 1.0), 0.0) + 1e-9


def _spread_teams(
    problem: Problem,
    relaxation,
    year_index: np.ndarray,
    budget: float,
    per_team: Mapping[str, np.ndarray],
    rounds: int = 400,
    seconds: float = 60.0,
) -> np.ndarray:
    """Move whole trees between years, within ``budget`` a year, so the plan needs fewer teams.

    Each step takes the type whose busiest year needs the most teams and moves a tree out of
    that year, or swaps one of its heaviest trees in that type with a tree of another year
    whose cost keeps both years within the budget, choosing what most lowers what the teams
    needed cost (teams of each type weighted by the mean cost of its team-day), then the
    busiest years' load; it stops when nothing helps, after ``rounds`` steps or ``seconds``.
    """
    t0 = time.perf_counter()
    x = year_index.copy()
    n, Y = problem.n_tasks, problem.n_years
    types = sorted(set(problem.team_type.tolist()))
    if not types or n == 0:
        return x
    root, roots = relaxation.root, relaxation.levels[0]
    year = _tree_years(relaxation, x, Y)
    whole = year >= 0
    tree_of = np.searchsorted(roots, root)
    tree_cost = np.bincount(tree_of, weights=problem.cost, minlength=len(roots))
    K = len(types)
    kind = np.searchsorted(types, problem.team_type)
    tree_days = np.zeros((len(roots), K))
    np.add.at(tree_days, (tree_of, kind), problem.team_days)
    per = np.array([np.asarray(per_team.get(k, np.zeros(Y)), dtype=float) for k in types])
    inv = np.where(per > 0, 1.0 / np.where(per > 0, per, 1.0), np.inf)  # (K, Y)
    sel = x >= 0
    td = np.zeros((K, Y))
    np.add.at(td, (kind[sel], x[sel]), problem.team_days[sel])
    spent = _spent(problem, x)

    def ratios(load):
        with np.errstate(invalid="ignore"):
            return np.where(load > 0, load * inv, 0.0)

    w = _team_day_cost(problem, types)

    def score(r):  # what the teams needed cost a day, then the busiest years' load
        top = r.max(axis=-1)
        return (np.ceil(top - 1e-9) * w).sum(axis=-1), (top * w).sum(axis=-1)

    room = budget * (1 + 1e-12) + 1e-9
    by_cost = np.argsort(tree_cost, kind="stable")  # trees by cost, for the swaps

    def scores(r, f, y, delta):
        """Scores when ``delta`` team-days (a row per candidate, per type) go from f to y."""
        other = np.delete(r, [f, y], axis=1).max(axis=1, initial=0.0)  # (K,)
        lf, ly = td[:, f] - delta, td[:, y] + delta
        with np.errstate(invalid="ignore"):
            rf = np.where(lf > 1e-9, lf * inv[:, f], 0.0)
            ry = np.where(ly > 1e-9, ly * inv[:, y], 0.0)
        top = np.maximum(other, np.maximum(rf, ry))
        return (np.ceil(top - 1e-9) * w).sum(axis=-1), (top * w).sum(axis=-1)

    for _ in range(rounds):
        if time.perf_counter() - t0 > seconds:  # a safety cap: ``rounds`` is the budget
            logger.warning(
                "deadline: the time cap (%g s) stopped spreading the teams over the years; "
                "the teams needed may differ run to run",
                seconds,
            )
            break
        r = ratios(td)
        now = score(r)
        best = None  # (cost of teams, load, tree out, tree in or -1, to, from)
        for k in np.argsort(-r.max(axis=1), kind="stable").tolist():
            f = int(np.argmax(r[k]))
            cand = np.flatnonzero((year == f) & (tree_days[:, k] > 0))
            if not cand.size:
                continue
            out = cand[np.argsort(-tree_days[cand, k], kind="stable")][:_SWAP_OUT]
            for y in range(Y):
                if y == f:
                    continue
                ok = spent[y] + tree_cost[cand] <= room  # a move
                if ok.any():
                    c = cand[ok]
                    teams, load = scores(r, f, y, tree_days[c])
                    i = int(np.lexsort((load, teams))[0])
                    if (teams[i], load[i]) < now and (
                        best is None or (teams[i], load[i]) < best[:2]
                    ):
                        best = (teams[i], load[i], int(c[i]), -1, y, f)
                # a swap: a tree of year y whose cost keeps both years within the budget
                in_y = by_cost[year[by_cost] == y]
                cs = tree_cost[in_y]
                lo = np.searchsorted(cs, tree_cost[out] - (room - spent[y]), side="left")
                hi = np.searchsorted(cs, tree_cost[out] + (room - spent[f]), side="right")
                hi = np.minimum(hi, lo + _SWAP_IN)
                if not (hi > lo).any():
                    continue
                a = np.repeat(out, hi - lo)
                b = in_y[np.concatenate([np.arange(i, j) for i, j in zip(lo, hi, strict=True)])]
                teams, load = scores(r, f, y, tree_days[a] - tree_days[b])
                i = int(np.lexsort((load, teams))[0])
                if (teams[i], load[i]) < now and (best is None or (teams[i], load[i]) < best[:2]):
                    best = (teams[i], load[i], int(a[i]), int(b[i]), y, f)
            if best is not None:
                break
        if best is None:
            break
        _, _, a, b, y, f = best
        for t, src, dst in ((a, f, y), (b, y, f)):
            if t < 0:
                continue
            year[t] = dst
            td[:, src] -= tree_days[t]
            td[:, dst] += tree_days[t]
            spent[src] -= tree_cost[t]
            spent[dst] += tree_cost[t]
    year_of_root = np.full(n, -1, dtype=np.int64)
    year_of_root[roots] = year
    return np.where(whole[tree_of], year_of_root[root], x)


def _lpt_plan(problem: Problem, relaxation) -> tuple[float, np.ndarray, str]:
    """Whole trees of tasks, dearest first, each to the plan year with the least spent.

    Longest processing time first on ``n_years`` machines: the fullest year's spending is a
    budget with which every task is planned (a tree in one year keeps its precedence).
    """
    import heapq

    root = relaxation.root
    tree_cost = np.bincount(root, weights=problem.cost, minlength=problem.n_tasks)
    roots = relaxation.levels[0]
    order = roots[np.lexsort((roots, -tree_cost[roots]))]
    spent = [(0.0, y) for y in range(problem.n_years)]
    year_of_root = np.full(problem.n_tasks, -1, dtype=np.int64)
    for r, c in zip(order.tolist(), tree_cost[order].tolist(), strict=True):
        s, y = heapq.heappop(spent)
        year_of_root[r] = y
        heapq.heappush(spent, (s + c, y))
    return max(s for s, _ in spent), year_of_root[root], "lpt"


def budget_curve(
    problem: Problem,
    levels: Sequence[float],
    *,
    released_m2: np.ndarray,
    cmr_m2: np.ndarray,
    gap: float,
    time_limit_s: float,
    random_seed: int,
    team_factors: Sequence[float] = (1.0,),
    team_counts: Mapping[str, int] | None = None,
    max_tasks: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Benefit retained at each equal yearly budget and team count, same precedence, no locks.

    One model serves every point: the Lagrangian relaxation is built once and each point only
    changes the right-hand sides (budget, capacity), starting from the previous point's dual
    prices; each point has ``time_limit_s`` wall-clock seconds for its bound and the priced
    rounding (no branch and bound: each point reports its own gap).

    Parameters
    ----------
    problem
        The plan's problem without locks (its budget is replaced at each level).
    levels
        Yearly budgets, US$, in increasing order.
    team_factors
        Multiples of the problem's team capacity; 1.0 is the configured teams.
    team_counts
        Configured teams per type, to write the counts of each factor in ``teams``.
    max_tasks
        Above this many tasks the curve is drawn on a random sample of whole areas (seeded by
        ``seed``) with budget and capacity scaled to the sample's share of the tasks' cost,
        and its figures scaled back: the curve of a national register in seconds. The share
        sampled is in ``sample_share`` (1 = every area).

    Returns
    -------
    pandas.DataFrame
        One row per (team factor, level): ``teams_factor``, ``teams`` (counts per type),
        ``budget_usd_per_year``, ``objective`` (solver) and ``greedy_objective`` (discounted
        benefit), ``benefit_share`` and ``greedy_benefit_share`` (undiscounted benefit of the
        selection / benefit of every task, 0-1), ``released_m2``, ``cmr_released_m2``,
        ``cost_usd`` (spent over the plan), ``status``, ``gap``, ``binding`` (what limits the
        plan at that point, with its figures; empty on a sample) and ``sample_share`` (no
        timings: outputs are byte-identical across runs). On a sample, money, areas and
        objectives are scaled back to the whole.
    """
    from ccm_geo.planning.relax import Relaxation

    share = 1.0
    if max_tasks is not None and problem.n_tasks > max_tasks:
        problem, mask, share = _area_sample(problem, max_tasks, seed)
        released_m2, cmr_m2 = np.asarray(released_m2)[mask], np.asarray(cmr_m2)[mask]
        levels = [b * share for b in levels]
    total_benefit = float(problem.benefit.sum())
    relaxation = Relaxation(problem)
    rows = []
    for factor in team_factors:
        base = problem
        if problem.capacity is not None and factor != 1.0:
            base = dataclasses.replace(
                problem, capacity=tuple((k, v * factor) for k, v in problem.capacity)
            )
        teams = (
            "; ".join(f"{k}={round(c * factor)}" for k, c in sorted(team_counts.items()))
            if team_counts
            else ""
        )
        lam = None
        for b in levels:
            p = base.add_budget([b] * problem.n_years)
            s = p.solve(
                gap=gap,
                time_limit_s=time_limit_s,
                random_seed=random_seed,
                relaxation=relaxation,
                lam0=lam,
                dual_share=0.6,
                dual_tol=max(gap / 20, 1e-7),
                milp_step=False,
                dual_iterations=_CURVE_ITERATIONS,
                roundings=_CURVE_ROUNDINGS,
            )
            lam = s.details.get("lam")
            sel = s.year_index >= 0
            gsel = s.details.get("greedy_selected", sel)
            rows.append(
                {
                    "teams_factor": float(factor),
                    "teams": teams,
                    "budget_usd_per_year": float(b) / share,
                    "objective": s.objective / share,
                    "greedy_objective": s.details.get("greedy_objective", float("nan")) / share,
                    "benefit_share": _share(problem.benefit[sel].sum(), total_benefit),
                    "greedy_benefit_share": _share(problem.benefit[gsel].sum(), total_benefit),
                    "released_m2": float(released_m2[sel].sum()) / share,
                    "cmr_released_m2": float(cmr_m2[sel].sum()) / share,
                    "cost_usd": float(problem.cost[sel].sum()) / share,
                    "status": s.status,
                    "gap": s.gap,
                    "binding": s.binding[0] if s.binding and share == 1.0 else "",
                    "sample_share": share,
                }
            )
    return pd.DataFrame(rows)


def _area_sample(problem: Problem, max_tasks: int, seed: int):
    """A random sample of whole areas (trees of tasks) with about ``max_tasks`` tasks, its
    mask, and the share of the cost it holds (budget and capacity are scaled by it)."""
    n = problem.n_tasks
    root = np.arange(n)
    if problem.precedence:
        pred = problem.predecessor
        for _ in range(n):
            up = pred[root]
            has = up >= 0
            if not has.any():
                break
            root[has] = up[has]
    roots = np.unique(root)
    k = max(1, int(len(roots) * max_tasks / n))
    pick = np.zeros(n, dtype=bool)
    pick[np.random.default_rng(seed).choice(roots, size=k, replace=False)] = True
    mask = pick[root]
    share = float(problem.cost[mask].sum()) / max(float(problem.cost.sum()), 1e-300)
    return problem._scaled_sample(mask, share), mask, share


def budget_curve_figure(curve: pd.DataFrame, *, current_budget: float | None = None) -> Figure:
    """Plot benefit retained (share, %) against the yearly budget (US$ million).

    The figure is returned, not shown or written: the caller saves it.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    factors = sorted(curve["teams_factor"].unique()) if "teams_factor" in curve else [1.0]
    for factor in factors:
        part = curve[curve["teams_factor"] == factor] if "teams_factor" in curve else curve
        x = part["budget_usd_per_year"] / 1e6
        label = "optimised plan" if factor == 1.0 else f"optimised plan, teams x{factor:g}"
        ax.plot(x, 100 * part["benefit_share"], marker="o", label=label)
        if factor == 1.0 and "greedy_benefit_share" in part:
            ax.plot(
                x,
                100 * part["greedy_benefit_share"],
                marker=".",
                linestyle="--",
                label="greedy baseline",
            )
    if current_budget is not None:
        ax.axvline(current_budget / 1e6, color="grey", linestyle=":", label="current budget")
    ax.set_xlabel("budget per year (US$ million)")
    ax.set_ylabel("benefit retained (% of all tasks)")
    ax.set_ylim(0, 105)
    ax.set_title("Benefit retained against the yearly budget")
    ax.legend(loc="lower right")
    return fig


def _share(part: float, total: float) -> float:
    return float(part) / total if total > 0 else 1.0
