"""The budget needed to meet the deadline: a plan that meets it, a proven lower bound, never
worse than the greedy search it replaced."""

import itertools

import numpy as np
import pandas as pd
import pytest

from ccm_geo.planning import Problem
from ccm_geo.planning.funding import budget_needed, needed_budget
from ccm_geo.planning.heuristics import violations
from ccm_geo.planning.relax import Relaxation


def _register(n_areas: int, seed: int, *, chunky: bool = False) -> pd.DataFrame:
    """Areas of one to three chained tasks (survey, technical survey, clearance); some without
    CMR. ``chunky``: few, dear tasks, so that packing them into years is hard."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_areas):
        cmr = rng.random() < 0.8
        prev = None
        for step in range(int(rng.integers(1, 4))):
            cost = float(rng.integers(20_000, 400_000) if chunky else rng.lognormal(9, 1))
            tid = f"A{a}-{step}"
            rows.append(
                {
                    "task_id": tid,
                    "hazard_id": f"A{a}",
                    "cmr_m2": float(rng.integers(100, 5_000)) if cmr and step == 0 else 0.0,
                    "cost_usd": cost,
                    "team_days": float(rng.integers(1, 30)),
                    "team_type": ["nts", "manual"][min(step, 1)],
                    "predecessor": prev,
                    "benefit": float(rng.random() * 1_000),
                }
            )
            prev = tid
    return pd.DataFrame(rows)


def _spent_per_year(sub: pd.DataFrame, year_index: np.ndarray, n_years: int) -> np.ndarray:
    return np.bincount(year_index, weights=sub["cost_usd"].to_numpy(float), minlength=n_years)


@pytest.mark.parametrize(("seed", "chunky"), [(1, False), (2, True), (3, True), (4, False)])
def test_the_budget_found_plans_every_cmr_task_and_keeps_precedence(seed, chunky):
    years = [2027, 2028, 2029]
    r = needed_budget(_register(60, seed, chunky=chunky), years=years)
    assert (r.year_index >= 0).all()
    assert (_spent_per_year(r.sub, r.year_index, 3) <= r.need + 1e-6).all()
    p = Problem.from_tasks(r.sub, years).add_budget([r.need] * 3).add_precedence()
    assert violations(p, r.year_index) == []
    assert r.lower_bound <= r.need and r.gap == pytest.approx(
        (r.need - r.lower_bound) / r.lower_bound
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_lower_bound_is_proven_by_the_relaxation(seed):
    years = [2027, 2028, 2029]
    r = needed_budget(_register(60, seed, chunky=True), years=years)
    assert r.proofs and max(r.proofs) < r.lower_bound
    # a fresh relaxation, just below the bound: its bound is below the cost of every task
    packing = r.sub.assign(benefit=r.sub["cost_usd"])
    p = Problem.from_tasks(packing, years).add_budget([r.lower_bound * (1 - 1e-4)] * 3)
    rel = Relaxation(p.add_precedence())
    dual = rel.dual(seconds=5.0, rel_tol=1e-12)
    assert dual.bound < packing["cost_usd"].sum() * (1 - 1e-6)
    # and at the bound itself the relaxation proves nothing (it is the LP's bound)
    rel.set_rhs(np.full(3, r.lower_bound * (1 + 1e-9)), None)
    assert rel.dual(seconds=5.0).bound >= packing["cost_usd"].sum() * (1 - 1e-9)


def test_on_a_tiny_register_the_answer_brackets_the_exact_least_budget():
    years = [2027, 2028]
    tasks = _register(5, 7, chunky=True)
    r = needed_budget(tasks, years=years)
    sub = r.sub
    pred = [
        -1 if pd.isna(q) else int(np.flatnonzero(sub["task_id"] == q)[0])
        for q in sub["predecessor"]
    ]
    best = np.inf
    for ys in itertools.product(range(2), repeat=len(sub)):
        if all(q < 0 or ys[q] <= ys[t] for t, q in enumerate(pred)):
            best = min(best, _spent_per_year(sub, np.array(ys), 2).max())
    assert r.lower_bound <= best + 1e-6
    assert best <= r.need


@pytest.mark.parametrize(("seed", "chunky"), [(1, False), (2, True), (5, True), (6, False)])
def test_never_more_than_the_greedy_search(seed, chunky):
    tasks = _register(80, seed, chunky=chunky)
    years = [2027, 2028, 2029, 2030]
    greedy, _, _ = budget_needed(tasks, years=years, discount_rate=0.05, method="greedy")
    new, _, _ = budget_needed(tasks, years=years, discount_rate=0.05)
    assert new <= greedy


def test_no_cmr_and_no_years():
    tasks = _register(10, 1).assign(cmr_m2=0.0)
    assert needed_budget(tasks, years=[2027]).need == 0.0
    assert np.isnan(needed_budget(_register(10, 1), years=[]).need)


@pytest.mark.parametrize("seed", [1, 2, 8])
def test_the_plan_is_spread_to_need_fewer_teams_within_the_budget(seed):
    from ccm_geo.planning.funding.spread import _team_day_cost, _teams

    tasks = _register(80, seed)
    years = [2027, 2028, 2029]
    per_team = {"nts": np.array([200.0, 200.0, 120.0]), "manual": np.array([180.0, 180, 90])}
    plain = needed_budget(tasks, years=years)
    spread = needed_budget(tasks, years=years, team_days_per_team=per_team)
    assert spread.need == plain.need and (spread.year_index >= 0).all()
    assert (_spent_per_year(spread.sub, spread.year_index, 3) <= spread.need + 1e-6).all()
    p = Problem.from_tasks(spread.sub, years).add_precedence()
    assert violations(p.add_budget([spread.need] * 3), spread.year_index) == []
    w = dict(zip(["manual", "nts"], _team_day_cost(p, ["manual", "nts"]), strict=True))

    def cost(x):  # what the teams needed cost a day
        return sum(w[k] * v for k, v in _teams(p, x, per_team).items())

    assert cost(spread.year_index) <= cost(plain.year_index)
