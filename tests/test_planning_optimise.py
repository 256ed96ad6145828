"""The MILP built from parts: matrices without a solver, a hand-solved optimum, locks."""

import numpy as np
import pandas as pd
import pytest

from ccm_geo.errors import ConfigError, SolverError
from ccm_geo.planning import Problem


def _three():
    return pd.DataFrame(
        {
            "task_id": ["a", "b", "c"],
            "benefit": [10.0, 20.0, 5.0],
            "cost_usd": [100.0, 100.0, 50.0],
            "team_days": [1.0, 2.0, 1.0],
            "team_type": ["n", "m", "m"],
            "predecessor": [None, "a", None],
        }
    )


def test_compile_builds_the_expected_matrices_without_a_solver():
    p = (
        Problem.from_tasks(_three(), [2027, 2028], discount_rate=0.1)
        .add_budget([150, 160])
        .add_capacity({"n": [5, 6], "m": [7, 8]})
        .add_precedence()
    )
    m = p.compile()
    assert m.A.shape == (3 + 2 + 4 + 2, 6)
    assert m.column(1, 1) == 3
    np.testing.assert_allclose(m.c, [10, 10 / 1.1, 20, 20 / 1.1, 5, 5 / 1.1])
    expected = np.array(
        [
            [1, 1, 0, 0, 0, 0],  # once[a]
            [0, 0, 1, 1, 0, 0],  # once[b]
            [0, 0, 0, 0, 1, 1],  # once[c]
            [100, 0, 100, 0, 50, 0],  # budget[2027]
            [0, 100, 0, 100, 0, 50],  # budget[2028]
            [0, 0, 2, 0, 1, 0],  # capacity[m,2027]
            [0, 0, 0, 2, 0, 1],  # capacity[m,2028]
            [1, 0, 0, 0, 0, 0],  # capacity[n,2027]
            [0, 1, 0, 0, 0, 0],  # capacity[n,2028]
            [-1, 0, 1, 0, 0, 0],  # precedence[b,2027]: x[b,27] <= x[a,27]
            [-1, -1, 1, 1, 0, 0],  # precedence[b,2028]: cumulative
        ]
    )
    np.testing.assert_array_equal(m.A.toarray(), expected)
    np.testing.assert_array_equal(m.row_upper, [1, 1, 1, 150, 160, 7, 8, 5, 6, 0, 0])
    assert np.isneginf(m.row_lower[3:]).all() and (m.row_lower[:3] == 0).all()
    assert m.row_names[3] == "budget[2027]" and m.row_names[-1] == "precedence[b,2028]"
    assert (m.integrality == 1).all() and (m.col_upper == 1).all()


def test_parts_return_new_problems():
    base = Problem.from_tasks(_three(), [2027])
    with_budget = base.add_budget([100])
    assert base.budget is None and with_budget.budget is not None
    assert base.compile().A.shape == (3, 3)


def test_locks_become_bounds():
    p = Problem.from_tasks(_three(), [2027, 2028]).add_locks([("a", None), ("c", 2028)])
    m = p.compile()
    assert m.row_lower[0] == 1 and m.row_lower[1] == 0 and m.row_lower[2] == 1
    assert m.col_lower[m.column(2, 1)] == 1 and m.col_lower.sum() == 1


def _knapsack():
    return pd.DataFrame(
        {
            "task_id": ["x", "y", "z"],
            "benefit": [7.0, 5.0, 5.0],
            "cost_usd": [6.0, 5.0, 5.0],
            "team_days": [1.0, 1.0, 1.0],
            "team_type": ["m"] * 3,
            "predecessor": [None] * 3,
        }
    )


def test_known_optimum_beats_greedy():
    # Hand-solved: y and z in year 1 (10), x in year 2 (7 / 1.1) = 16.3636.
    # Greedy (benefit per dollar) takes x first in year 1, then y and z in year 2: 16.0909.
    p = Problem.from_tasks(_knapsack(), [2027, 2028], discount_rate=0.1).add_budget([10, 10])
    s = p.solve()
    g = p.greedy()
    assert s.status == "optimal"
    assert s.objective == pytest.approx(10 + 7 / 1.1)
    assert sorted(s.selected) == [("x", 2028), ("y", 2027), ("z", 2027)]
    assert g.objective == pytest.approx(7 + 10 / 1.1)
    assert s.bound >= s.objective - 1e-6 and s.gap <= 0.01 and s.seconds >= 0


def test_precedence_takes_the_survey_along():
    t = pd.DataFrame(
        {
            "task_id": ["s", "c"],
            "benefit": [0.0, 10.0],
            "cost_usd": [2.0, 3.0],
            "team_days": [1.0, 1.0],
            "team_type": ["m", "m"],
            "predecessor": [None, "s"],
        }
    )
    p = Problem.from_tasks(t, [2027, 2028]).add_budget([2, 3]).add_precedence()
    assert p.solve().selected == [("s", 2027), ("c", 2028)]
    assert p.greedy().selected == [("s", 2027), ("c", 2028)]
    assert Problem.from_tasks(t, [2027]).add_budget([3]).add_precedence().solve().selected == []


def test_infeasible_locks_raise_a_clear_solver_error():
    p = Problem.from_tasks(_knapsack(), [2027, 2028]).add_budget([10, 10])
    with pytest.raises(SolverError, match=r"cannot all be met.*2027 cost US\$11.*Locks: x@2027"):
        p.add_locks([("x", 2027), ("y", 2027)]).solve()
    t = _three()
    q = Problem.from_tasks(t, [2027, 2028]).add_precedence()
    with pytest.raises(SolverError, match=r"'b' is locked in 2027 but its predecessor 'a'"):
        q.add_locks([("b", 2027), ("a", 2028)]).solve()
    with pytest.raises(SolverError, match="outside the plan years"):
        q.add_locks([("a", 2035)])
    with pytest.raises(ConfigError, match="'nope' is not a task"):
        q.add_locks([("nope", None)])


def test_empty_problem_solves_trivially():
    empty = _three().iloc[:0]
    s = Problem.from_tasks(empty, [2027]).add_budget([1.0]).solve()
    assert s.status == "empty" and s.selected == []
