"""The least equal yearly budget that plans every CMR task by the deadline's year: by
bisection over whole plans (:func:`budget_needed`) and from the relaxation with a repair
(:func:`needed_budget`, :class:`NeededBudget`)."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ccm_geo.planning.funding.spread import (
    _balance,
    _lpt_plan,
    _spent,
    _spread_teams,
    _team_day_cost,
    _teams,
)
from ccm_geo.planning.optimise import Problem

__all__ = ["NeededBudget", "budget_needed", "needed_budget"]

logger = logging.getLogger(__name__)

_BISECTION_STEPS = 40
_BISECTION_REL = 0.002  # the needed budget is found to 0.2% or US$1,000, whichever is larger
# the relaxation's search starts from a close plan, so it is run finer: US$1,000 or 0.01%
_NEEDED_REL = 1e-4


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
    clock_stops = 0  # bound searches the time cap stopped: said once, after the bisection

    def proves_impossible(b: float) -> bool:
        nonlocal lam, clock_stops
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
        clock_stops += bool(dual.stopped_by_clock)
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
    if clock_stops:
        logger.warning(
            "deadline: the time cap (%g s) stopped the bound search of %d of %d steps; the "
            "budget needed may differ run to run",
            dual_s,
            clock_stops,
            steps,
        )
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
