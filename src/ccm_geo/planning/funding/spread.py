"""Plans that spend a yearly budget evenly: whole trees of tasks balanced across the years,
teams spread over them at least cost, and the longest-processing-time start
(used by :mod:`ccm_geo.planning.funding.needed`)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

import numpy as np

from ccm_geo.planning.optimise import Problem

logger = logging.getLogger(__name__)

# trees tried in a swap: the heaviest in the type out of the busiest year, and for each up to
# this many of another year whose cost keeps both years within the budget
_SWAP_OUT, _SWAP_IN = 32, 64


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
