"""The same problem gives the same plan however fast the machine runs: the solver's steps stop
on work budgets (iterations, roundings), the wall clock being only a cap that says so."""

import datetime as dt
import time

import numpy as np
import pytest
from benchmarks.bench_planning import national_areas, national_settings

from ccm_geo.planning import build_problem, plan_years
from ccm_geo.planning.relax import Relaxation

START = dt.date(2027, 1, 1)


@pytest.fixture(scope="module")
def problem():
    """A national-shaped register of 8,000 areas: the bound search starts from a sample."""
    settings, tasks = national_settings(national_areas(8_000))
    years = plan_years(settings, START, None)
    p = build_problem(tasks, settings, years=years, start_date=START)
    assert len(Relaxation(p).levels[0]) > 6_000  # big enough for the sampled start
    return p


def _slowed(monkeypatch, factor: float) -> None:
    """Every evaluation of the relaxation takes ``factor`` times as long (a busy machine)."""
    evaluate = Relaxation.evaluate

    def slow(self, lam):
        t0 = time.perf_counter()
        out = evaluate(self, lam)
        time.sleep((factor - 1) * (time.perf_counter() - t0))
        return out

    monkeypatch.setattr(Relaxation, "evaluate", slow)


def test_the_plan_does_not_depend_on_the_machine_speed(problem, monkeypatch):
    # the bound search's clock cap is 0.9 x 30% of 30 s = 8.1 s; the second run is slowed so
    # that its search takes about 40% of it: both stop on the work budget (the same number of
    # evaluations), so the plans are the same
    cap = 0.9 * 0.3 * 30
    fast = problem.solve(gap=0.01, time_limit_s=30, random_seed=1)
    _slowed(monkeypatch, max(2.0, 0.4 * cap / fast.details["dual_s"]))
    slow = problem.solve(gap=0.01, time_limit_s=30, random_seed=1)
    assert slow.details["dual_s"] > 0.25 * cap  # the second run was slow
    for s in (fast, slow):
        assert s.details["stopped_by_clock"] == ()
        assert "time limit" not in s.message
    np.testing.assert_array_equal(fast.year_index, slow.year_index)
    assert (fast.objective, fast.bound, fast.status) == (slow.objective, slow.bound, slow.status)
    assert fast.details["dual_iterations"] == slow.details["dual_iterations"]


def test_a_search_stopped_by_the_clock_is_said(problem, monkeypatch):
    _slowed(monkeypatch, 20.0)
    s = problem.solve(gap=0.01, time_limit_s=1.0, random_seed=1)
    assert "bound search" in s.details["stopped_by_clock"]
    assert "stopped the bound search" in s.message
    assert s.seconds <= 1.1 * 1.0 + 0.5  # the limit still holds (plus one evaluation)
