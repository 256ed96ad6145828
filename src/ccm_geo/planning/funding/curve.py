"""The curve of benefit retained against the yearly budget (and teams), reusing one model
(:func:`budget_curve`, :func:`budget_curve_figure`)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ccm_geo.planning.optimise import Problem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["budget_curve", "budget_curve_figure"]

logger = logging.getLogger(__name__)

# work budget of each budget-curve point (warm-started from the previous point's prices):
# evaluations of the relaxation, and roundings (at the best prices and the last centres)
_CURVE_ITERATIONS, _CURVE_ROUNDINGS = 50, 3


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
    stopped = 0  # points whose solve the clock stopped a step of
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
                say_clock_stops=False,  # said once for the curve, below
            )
            stopped += bool(s.details.get("stopped_by_clock"))
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
    if stopped:
        logger.warning(
            "budget curve: the time limit (%g s per point) stopped a step of %d of its %d "
            "points; those points may differ run to run (their status says time_limit unless "
            "within the gap)",
            time_limit_s,
            stopped,
            len(rows),
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
