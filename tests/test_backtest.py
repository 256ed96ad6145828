"""Back-test arithmetic on tiny cases whose answers are known exactly."""

from __future__ import annotations

import datetime as dt
from math import comb

import numpy as np
import pytest

from ccm_geo.errors import ConfigError
from ccm_geo.scoring.backtest import capture_curve, parse_as_of

# 5 areas, 4 accidents: accident 0 near area 0; 1 near areas 1 and 2; 2 near area 4; 3 near 3.
PAIRS = (np.array([0, 1, 1, 2, 3]), np.array([0, 1, 2, 4, 3]))


def test_distinct_scores_capture_in_rank_order():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    got = capture_curve(scores, *PAIRS, 4, [0, 1, 2, 3, 4, 5])
    assert got.tolist() == [0.0, 0.25, 0.5, 0.5, 0.75, 1.0]


def test_ties_count_at_their_expected_value_not_by_a_tie_break():
    # Areas 1-4 tie below area 0. Top 2 takes area 0 and one of four at random:
    # accident 1 is caught with probability 2/4, accidents 2 and 3 with 1/4 each.
    scores = np.array([2.0, 1.0, 1.0, 1.0, 1.0])
    got = capture_curve(scores, *PAIRS, 4, [2, 3])
    assert got[0] == pytest.approx((1 + 2 / 4 + 1 / 4 + 1 / 4) / 4)
    # top 3: one of four taken twice: accident 1 missed with C(2,2)/C(4,2) = 1/6
    assert got[1] == pytest.approx((1 + (1 - 1 / 6) + 2 / 4 + 2 / 4) / 4)


def test_all_equal_scores_give_the_random_expectation():
    n, k = 5, 2
    got = capture_curve(np.zeros(n), *PAIRS, 4, [k])[0]
    m = [1, 2, 1, 1]  # areas near each accident
    expected = sum(1 - comb(n - mi, k) / comb(n, k) for mi in m) / 4
    assert got == pytest.approx(expected)


def test_ceiling_is_the_brute_force_optimum_and_no_ranking_beats_it():
    from itertools import combinations, permutations

    from ccm_geo.scoring.backtest_ceiling import max_coverage

    # 4 areas, 6 accidents: area 0 near 0-3, area 1 near 0, 1, 4, area 2 near 2, 3, 5,
    # area 3 near 5. Greedy takes area 0 first (4 accidents) and then adds 1: 5 of 6 at k = 2;
    # areas 1 and 2 together hold all 6.
    near = {0: [0, 1, 2, 3], 1: [0, 1, 4], 2: [2, 3, 5], 3: [5]}
    area = np.array([z for z, accs in near.items() for _ in accs])
    acc = np.array([a for accs in near.values() for a in accs])
    ks = [0, 1, 2, 3, 4]
    got = max_coverage(acc, area, 4, ks)
    brute = [
        max(len({a for z in c for a in near[z]}) for c in combinations(range(4), k)) for k in ks
    ]
    assert got.best.tolist() == brute == [0, 4, 6, 6, 6]
    assert got.bound.tolist() == brute and got.optimal.all()
    assert got.greedy.tolist() == [0, 4, 5, 6, 6]  # the integer programme found what greedy missed
    # every ranking, ties included, captures at most the ceiling
    shares = got.best / 6
    for perm in permutations(range(4)):
        caps = capture_curve(np.array(perm, dtype=float), acc, area, 6, ks)
        assert (caps <= shares + 1e-12).all()
    for scores in ([1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 1.0, 1.0], [0.0] * 4):
        assert (capture_curve(np.array(scores), acc, area, 6, ks) <= shares + 1e-12).all()


def test_ceiling_matches_brute_force_on_random_small_registers():
    from itertools import combinations

    from ccm_geo.scoring.backtest_ceiling import max_coverage

    rng = np.random.default_rng(7)
    for _ in range(40):
        n, m = int(rng.integers(2, 8)), int(rng.integers(1, 10))
        pairs = [(a, z) for a in range(m) for z in range(n) if rng.random() < 0.3]
        if not pairs:
            continue
        acc, area = (np.array(x) for x in zip(*pairs, strict=True))
        got = max_coverage(acc, area, n, range(n + 1))
        brute = [
            max(len(set(acc[np.isin(area, c)])) for c in combinations(range(n), k))
            for k in range(n + 1)
        ]
        assert got.best.tolist() == brute and got.bound.tolist() == brute


def test_cut_off_dates_from_the_command_line():
    assert parse_as_of("2013") == dt.date(2013, 1, 1)
    assert parse_as_of("2013-06-30") == dt.date(2013, 6, 30)
    with pytest.raises(ConfigError, match="--as-of '13/06/2013' is not a date"):
        parse_as_of("13/06/2013")


def test_backtest_on_the_demo_through_the_command(tmp_path):
    import re
    import shutil

    import pandas as pd
    from typer.testing import CliRunner

    from ccm_geo.cli import app
    from conftest import ROOT

    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "data" / "demo", demo)
    project = demo / "project.toml"
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["backtest", str(project), "--as-of", "2023-01-01", "--horizon", "4", "--out", str(out)]
    result = runner.invoke(app, [*args, "--learned"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "backtest" / "backtest.csv", encoding="utf-8-sig")
    assert table["method"].tolist()[-5:] == [
        "learned (logistic)",
        "past accidents within radius",
        "random (expected)",
        "ceiling (best possible)",
        "ceiling among areas with past accidents",
    ]
    shares = ["capture_top10", "capture_top20", "capture_top30"]
    assert table[shares].stack().between(0, 1).all()
    ceiling = table.set_index("method").loc["ceiling (best possible)"]
    assert (table[shares] <= ceiling[shares].to_numpy() + 1e-9).all().all()
    assert ceiling[["bound_top10", "bound_top20", "bound_top30"]].notna().all()
    summary = (out / "backtest" / "summary.md").read_text(encoding="utf-8")
    assert "no [backtest] recorded column" in summary  # the leak is said, not hidden

    text = project.read_text(encoding="utf-8")
    project.write_text(re.sub(r"\[inputs\.accidents\][^\[]*", "", text), encoding="utf-8")
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "needs the accident record" in result.output and "Traceback" not in result.output


def test_logistic_regression_recovers_known_coefficients_and_explains_them():
    from ccm_geo.scoring.learned import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.random((20_000, 2))
    true = np.array([3.0, -2.0])
    p = 1 / (1 + np.exp(-(-0.5 + (x - 0.5) @ true)))
    y = (rng.random(len(x)) < p).astype(float)
    model = fit_logistic(x, y, ["a", "b"], l2=0.0)
    assert model.coef / x.std(axis=0) == pytest.approx(true, rel=0.08)  # per unit of x
    parts = model.contributions(x[:5])
    assert list(parts.columns) == ["a", "b"]
    assert (parts.sum(axis=1) + model.intercept).to_numpy() == pytest.approx(model.log_odds(x[:5]))
    with pytest.raises(ValueError, match="all one class"):
        fit_logistic(x, np.zeros(len(x)), ["a", "b"])


def test_bad_backtest_options_are_one_line_errors(tmp_path):
    from typer.testing import CliRunner

    from ccm_geo.cli import app
    from ccm_geo.scoring.backtest import BacktestSettings
    from conftest import ROOT

    project = ROOT / "data" / "demo" / "project.toml"
    args = ["backtest", str(project), "--as-of", "2023", "--horizon", "-1", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "horizon_years" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ValueError, match=r"shares must be fractions in \(0, 1\]"):
        BacktestSettings(shares=(0.2, 1.5))


def test_ceiling_cut_short_still_brackets_the_optimum(monkeypatch):
    from itertools import combinations

    from ccm_geo.scoring.backtest_ceiling import max_coverage

    rng = np.random.default_rng(3)
    n, m = 12, 40
    pairs = [(a, z) for a in range(m) for z in range(n) if rng.random() < 0.2]
    acc, area = (np.array(x) for x in zip(*pairs, strict=True))
    ks = [2, 3, 4]
    brute = np.array(
        [max(len(set(acc[np.isin(area, c)])) for c in combinations(range(n), k)) for k in ks]
    )
    # a time limit too short to prove anything: the values found and the bound still bracket
    # the optimum, whether or not the solver got anywhere
    got = max_coverage(acc, area, n, ks, time_limit=1e-6)
    assert (got.best <= brute).all() and (got.bound >= brute).all()
    solved = max_coverage(acc, area, n, ks)
    assert solved.best.tolist() == brute.tolist() == solved.bound.tolist() == [20, 24, 29]
    assert solved.greedy.tolist() == [20, 24, 28]

    # a solver that returns nothing (cut short before any solution or bound): greedy, and the
    # accidents near the k areas that hold most, counted apart (14, 10, 10, 9, ... of 36)
    import scipy.optimize

    def nothing(*args, **kwargs):
        return scipy.optimize.OptimizeResult(status=1, x=None, mip_dual_bound=np.nan)

    monkeypatch.setattr(scipy.optimize, "milp", nothing)
    blind = max_coverage(acc, area, n, ks)
    held = np.sort(np.bincount(area, minlength=n))[::-1]
    assert blind.bound.tolist() == [min(36, held[:k].sum()) for k in ks] == [24, 34, 36]
    assert blind.best.tolist() == [20, 24, 28] and not blind.optimal.any()
