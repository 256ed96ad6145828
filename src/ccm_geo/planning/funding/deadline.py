"""The deadline answer: Article 4 deadline met or not, the budget and teams it needs, the
funding gap per year (:func:`deadline_answer`)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ccm_geo.planning.funding.needed import needed_budget
from ccm_geo.planning.optimise import Problem

__all__ = ["deadline_answer"]

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
