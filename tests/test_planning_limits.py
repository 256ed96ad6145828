"""The solver's promises: the wall clock holds, the bound is valid, the words say what happened."""

import time

import numpy as np
import pandas as pd
import pytest

import ccm_geo._highs as highs_mod
from ccm_geo.planning import Problem, curve_levels
from ccm_geo.planning.heuristics import violations
from ccm_geo.planning.relax import Relaxation


def _national_like(n: int, years: int = 5, seed: int = 0) -> Problem:
    """Many identical tasks, as point hazards buffered to one default area give: four kinds of
    task, half of them a survey followed by a clearance; budget and teams both short."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 4, n)
    area = np.array([10_000.0, 10_000.0, 20_000.0, 5_000.0])[kind]
    pred = [None] * n
    for i in range(1, n, 2):
        pred[i] = f"t{i - 1}"
    t = pd.DataFrame(
        {
            "task_id": [f"t{i}" for i in range(n)],
            "benefit": area * np.array([0.5, 0.5, 0.6, 0.7])[kind],
            "cost_usd": area * 2.16,
            "team_days": area / 1850,
            "team_type": np.where(kind < 3, "manual", "nts"),
            "predecessor": pred,
        }
    )
    days = t.groupby("team_type")["team_days"].sum() / years * 0.3
    return (
        Problem.from_tasks(t, list(range(2027, 2027 + years)), discount_rate=0.1)
        .add_budget([t["cost_usd"].sum() / years * 0.4] * years)
        .add_capacity({k: [v] * years for k, v in days.items()})
        .add_precedence()
    )


def _random(seed: int, n: int = 24, years: int = 3) -> Problem:
    rng = np.random.default_rng(seed)
    pred = [None] + [
        f"t{int(rng.integers(0, i))}" if rng.random() < 0.4 else None for i in range(1, n)
    ]
    t = pd.DataFrame(
        {
            "task_id": [f"t{i}" for i in range(n)],
            "benefit": rng.uniform(0, 100, n).round(1),
            "cost_usd": rng.uniform(5, 50, n).round(1),
            "team_days": rng.uniform(1, 10, n).round(1),
            "team_type": rng.choice(["m", "n"], n),
            "predecessor": pred,
        }
    )
    return (
        Problem.from_tasks(t, list(range(2027, 2027 + years)), discount_rate=0.1)
        .add_budget([t["cost_usd"].sum() / years * 0.35] * years)
        .add_capacity({"m": [t["team_days"].sum() / years * 0.3] * years, "n": [15.0] * years})
        .add_precedence()
    )


def test_a_solver_that_never_returns_is_stopped_at_the_limit(monkeypatch):
    """HiGHS stuck before its first node (as in presolve clique detection on national
    registers) ignores its own time limit; the stage stops it from outside."""

    def stuck(conn, *args) -> None:
        time.sleep(60)

    monkeypatch.setattr(highs_mod, "_worker", stuck)
    p = _national_like(4_000)
    t0 = time.perf_counter()
    s = p.solve(gap=0.0, time_limit_s=1.5, core_columns=10**7)
    wall = time.perf_counter() - t0
    assert wall <= 1.1 * 1.5
    assert s.status == "time_limit" and "stopped at the time limit" in s.message
    assert s.details["milp_status"] == "stopped: wall clock"
    assert np.isfinite(s.bound) and s.bound >= s.objective and np.isfinite(s.gap)
    assert s.objective >= p.greedy().objective - 1e-6
    assert not violations(p, s.year_index)


def test_many_identical_tasks_return_within_the_limit_with_plan_bound_and_gap():
    p = _national_like(20_000)
    t0 = time.perf_counter()
    s = p.solve(gap=0.0, time_limit_s=2.0, core_columns=10**7)
    wall = time.perf_counter() - t0
    assert wall <= 1.1 * 2.0
    assert (s.year_index >= 0).any() and not violations(p, s.year_index)
    assert np.isfinite(s.bound) and s.bound >= s.objective - 1e-6
    assert s.gap == pytest.approx((s.bound - s.objective) / s.objective)
    assert s.objective >= p.greedy().objective - 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_reported_gap_is_never_smaller_than_the_true_gap(seed):
    p = _random(seed)
    reference = p.solve(gap=0.0, time_limit_s=30.0)
    assert reference.status == "optimal"
    quick = p.solve(gap=0.5, time_limit_s=0.3)
    true_gap = (reference.objective - quick.objective) / quick.objective
    assert quick.bound >= reference.objective - 1e-6
    assert quick.gap >= true_gap - 1e-9
    assert not violations(p, quick.year_index)


def test_lagrangian_bound_is_the_lp_relaxation_bound():
    import highspy

    from ccm_geo._highs import new_highs

    p = _random(3, n=40)
    m = p.compile()
    h = new_highs()
    inf = highspy.kHighsInf
    h.passModel(_lp(m, inf, highspy))  # the MILP's matrices, every column continuous
    h.run()
    lp = h.getInfo().objective_function_value
    d = Relaxation(p).dual(seconds=10.0, max_iter=500, rel_tol=1e-9)
    assert d.bound >= lp - 1e-6
    assert d.bound == pytest.approx(lp, rel=1e-4)


def _lp(m, inf, highspy):
    csc = m.A.tocsc()
    csc.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m.A.shape[1], m.A.shape[0]
    lp.col_cost_ = m.c
    lp.col_lower_ = m.col_lower
    lp.col_upper_ = m.col_upper
    lp.row_lower_ = np.where(np.isfinite(m.row_lower), m.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(m.row_upper), m.row_upper, inf)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(float)
    return lp


def test_one_year_one_budget_at_gap_zero_is_the_knapsack_optimum():
    rng = np.random.default_rng(7)
    n = 40
    cost = rng.integers(1, 60, n)
    benefit = rng.integers(1, 100, n).astype(float)
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
    best = np.zeros(budget + 1)  # 0/1 knapsack by dynamic programming over the budget
    for c, b in zip(cost, benefit, strict=True):
        best[c:] = np.maximum(best[c:], best[: budget + 1 - c] + b)
    s = Problem.from_tasks(t, [2027]).add_budget([budget]).solve(gap=0.0, time_limit_s=30)
    assert s.status == "optimal" and s.gap <= 1e-7
    assert s.objective == pytest.approx(best[-1])
    assert s.message.startswith("optimal: proven")


def test_words_say_how_close_and_what_binds():
    p = _national_like(2_000)
    s = p.solve(gap=0.05, time_limit_s=5.0)
    assert s.status in ("within_gap", "optimal")
    if s.status == "within_gap":
        assert "of the best possible (asked for 5%" in s.message
    else:
        assert s.message.startswith("optimal: proven the best possible plan")
    assert s.binding and ("teams" in s.binding[0] or "budget" in s.binding[0])
    assert "team-days" in " ".join(s.binding) or "US$" in " ".join(s.binding)
    assert "limited by" in s.message
    g = p.greedy()
    assert g.status == "greedy" and np.isnan(g.gap) and "no bound" in g.message


def test_curve_levels_start_below_the_budget_and_hold_it():
    levels = curve_levels([1.5e6] * 5, 3e6, 10)
    assert len(levels) == 10 and levels[0] < 1.5e6 and 1.5e6 in levels
    assert (np.diff(levels) > 0).all() and levels[-1] == pytest.approx(3.6e6)


def test_budget_curve_of_a_large_register_is_drawn_on_a_sample_and_scaled_back():
    from ccm_geo.planning import budget_curve

    p = _national_like(3_000)  # the curve replaces its budget at each level
    levels = [2e6, 4e6, 8e6]
    kw = dict(
        released_m2=np.ones(p.n_tasks),
        cmr_m2=np.ones(p.n_tasks),
        gap=0.01,
        time_limit_s=2.0,
        random_seed=0,
    )
    whole = budget_curve(p, levels, **kw)
    sample = budget_curve(p, levels, max_tasks=1_000, **kw)
    assert (whole["sample_share"] == 1.0).all() and (sample["sample_share"] < 0.5).all()
    np.testing.assert_allclose(sample["budget_usd_per_year"], levels)
    # a sample of a third of the areas draws the same curve within a few points
    np.testing.assert_allclose(sample["benefit_share"], whole["benefit_share"], atol=0.05)
    assert sample["benefit_share"].is_monotonic_increasing


def test_clock_stops_of_the_budget_curve_are_said_once(monkeypatch, caplog):
    """A curve of three points whose solves the clock stopped (as on a busy machine): one
    warning for the curve, with the count, not one per point."""
    import logging

    from ccm_geo.planning import budget_curve
    from ccm_geo.planning.optimise import Problem

    solve = Problem.solve

    def stopped(self, **kw):
        assert kw["say_clock_stops"] is False  # the curve says it
        s = solve(self, **kw)
        s.details["stopped_by_clock"] = ("bound search",)
        return s

    monkeypatch.setattr(Problem, "solve", stopped)
    p = _national_like(500)
    with caplog.at_level(logging.WARNING, logger="ccm_geo"):
        budget_curve(
            p,
            [2e5, 4e5, 8e5],
            released_m2=np.ones(p.n_tasks),
            cmr_m2=np.ones(p.n_tasks),
            gap=0.01,
            time_limit_s=2.0,
            random_seed=0,
        )
    said = [r.getMessage() for r in caplog.records if "stopped" in r.getMessage()]
    assert len(said) == 1 and "of 3 of its 3 points" in said[0], said
