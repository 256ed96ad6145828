"""A solution's status in a planner's words: the gap between the plan and the bound, what
produced the plan, what limits it, and why a plan with locks is infeasible."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ccm_geo.planning.optimise import Problem

__all__: list[str] = []


def _gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan") if np.isnan(bound) else float("inf")
    return max(0.0, bound - objective) / max(abs(objective), 1e-9)


def _pct(share: float) -> str:
    if not np.isfinite(share):
        return "an unknown share"
    v = 100 * share
    return f"{v:.2g}%" if v < 10 else f"{v:.0f}%"


_METHOD_WORDS = {
    "milp": "the MILP (HiGHS)",
    "priced": "rounding the LP relaxation",
    "greedy": "greedy",
}


def stopped_steps(clock_stops) -> str:
    """The steps the wall clock stopped, in words: "the bound search and HiGHS"."""
    return " and ".join(s if s == "HiGHS" else f"the {s}" for s in clock_stops)


def _describe(
    status: str,
    method: str,
    gap: float,
    asked: float,
    time_limit_s: float,
    binding: tuple[str, ...],
    *,
    clock_stops: tuple[str, ...] = (),
    milp_ran: bool = False,
) -> str:
    """The solution in a planner's words.

    ``clock_stops`` names the steps the wall clock stopped (the bound search, the rounding,
    HiGHS): said whatever the status, since such a plan can differ run to run.
    """
    how = _METHOD_WORDS.get(method, method)
    steps = stopped_steps(clock_stops)
    if status == "optimal":
        text = f"optimal: proven the best possible plan (by {how})"
    elif status == "within_gap":
        text = f"within {_pct(gap)} of the best possible (asked for {_pct(asked)}; plan by {how})"
    elif status == "above_gap":
        why = "branch and bound did not close the gap" if milp_ran else "no branch and bound"
        text = (
            f"within {_pct(gap)} of the best possible, above the {_pct(asked)} asked for "
            f"(plan by {how}, {why})"
        )
    else:
        head = "greedy" if method == "greedy" else f"plan by {how}"
        # status time_limit means the clock stopped a step (optimise.Problem.solve)
        if clock_stops == ("HiGHS",):
            why = "solver stopped at the time limit"
        else:
            why = f"the time limit stopped {steps}"
        text = (
            f"{head}, {why} ({time_limit_s:g} s); within {_pct(gap)} of the best possible "
            f"(asked for {_pct(asked)})"
        )
    if clock_stops and status != "time_limit":
        text += f"; the time limit ({time_limit_s:g} s) stopped {steps}"
    if binding:
        text += f"; limited by {binding[0]}"
    return text


def _infeasibility_reason(p: Problem) -> str:
    """Explain why the locks cannot all be met (the only source of infeasibility)."""
    reasons = []
    Y = p.n_years
    required_cost = np.zeros(Y)
    locked = {t: y for t, y in p.locks}
    for t, y in p.locks:
        if p.precedence:
            u = p.predecessor[t]
            while u >= 0:
                if u in locked and locked[u] is not None and y is not None and locked[u] > y:
                    reasons.append(
                        f"task {p.task_ids[t]!r} is locked in {p.years[y]} but its "
                        f"predecessor {p.task_ids[u]!r} in {p.years[locked[u]]}"
                    )
                u = p.predecessor[u]
        if y is not None:
            required_cost[y] += p.cost[t]
    if p.budget is not None:
        for y in range(Y):
            if required_cost[y] > p.budget[y] + 1e-6:
                reasons.append(
                    f"tasks locked in {p.years[y]} cost US${required_cost[y]:,.0f}, "
                    f"over that year's budget of US${p.budget[y]:,.0f}"
                )
        if sum(p.cost[t] for t in locked) > p.budget.sum() + 1e-6:
            reasons.append(
                f"the locked tasks cost more than the whole budget (US${p.budget.sum():,.0f})"
            )
    if not reasons:
        reasons.append(
            "the locked tasks, with the surveys they need, do not fit the yearly "
            "budgets and team capacity together"
        )
    locks = ", ".join(
        f"{p.task_ids[t]}" + (f"@{p.years[y]}" if y is not None else "") for t, y in p.locks
    )
    msg = (
        f"planning.locks cannot all be met (model infeasible): {'; '.join(reasons)}. "
        f"Locks: {locks}. Remove or move a lock, or raise budget_usd or the teams."
    )
    return msg
