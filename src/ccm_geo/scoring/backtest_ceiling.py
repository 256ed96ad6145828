"""The ceiling of a back-test: the best capture *any* ranking of the areas can reach.

At top k the best a ranking can do is to put first the k areas that together lie within the
radius of the most later accidents. That is the maximum-coverage problem (choose k sets to
cover the most elements), NP-hard in general but small here: the elements are the reachable
later accidents (hundreds to a few thousand) and the useful sets are the areas near at least
one of them. This module gives, for each k,

- a **feasible** value: the greedy choice (each step takes the area that adds the most
  uncovered accidents; it is within 1 - 1/e of the optimum, Nemhauser, Wolsey & Fisher 1978),
  improved by the exact integer programme's best solution when that is better;
- a **proven upper bound**: the dual bound of the integer programme solved with HiGHS
  (``scipy.optimize.milp``), rounded down to a whole accident (coverage is a count), or, if
  the solver is cut short before it has one, the accidents near the k areas that hold most
  (counted apart). When the solve is proven optimal in its time limit, feasible value and
  bound are equal.

The ceiling uses the later accidents themselves, so no ranking made before the cut-off can
reach it; it says how much room the register leaves above a baseline, not what to expect.
See docs/backtest.md.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Sequence

import numpy as np

__all__ = ["Ceiling", "max_coverage", "greedy_order"]


@dataclasses.dataclass(frozen=True)
class Ceiling:
    """Best capture at each k, as counts of accidents.

    Attributes
    ----------
    ks
        The numbers of top areas asked for.
    best
        Accidents covered by the best choice of k areas found (a feasible value).
    bound
        A proven upper bound of the accidents any k areas can cover (``best`` when optimal).
    greedy
        Accidents covered by the greedy choice (``best >= greedy``).
    greedy_curve
        Accidents covered by the first k areas of the greedy order, for k = 0..n_areas (a
        feasible value at every k).
    optimal
        Whether ``best == bound`` (the ceiling is exact at that k).
    """

    ks: np.ndarray
    best: np.ndarray
    bound: np.ndarray
    greedy: np.ndarray
    greedy_curve: np.ndarray

    @property
    def optimal(self) -> np.ndarray:
        return self.best >= self.bound


def _sets_by(key: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The distinct keys and, for each, its members in ascending order."""
    order = np.lexsort((member, key))
    keys, starts = np.unique(key[order], return_index=True)
    return keys, np.split(member[order], starts[1:])


def _reduce(acc_idx: np.ndarray, area_idx: np.ndarray):
    """Distinct accident rows (weighted by how many accidents share the same set of areas)
    and distinct areas (areas near the same set of accidents are interchangeable: one is kept).

    Returns the pairs (row, column) of the reduced problem, the row weights and the number of
    rows and columns.
    """
    acc_idx = np.asarray(acc_idx, dtype=np.int64)
    area_idx = np.asarray(area_idx, dtype=np.int64)
    if len(acc_idx) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0, 0
    pairs = np.unique(np.column_stack([acc_idx, area_idx]), axis=0)
    a, z = pairs[:, 0], pairs[:, 1]
    # areas: identical sets of accidents -> one column
    areas, sets = _sets_by(z, a)
    keys = {}
    col_of_area = {}
    for area, s in zip(areas.tolist(), sets, strict=True):
        col_of_area[area] = keys.setdefault(s.tobytes(), len(keys))
    keep_area = np.array([col_of_area[x] for x in z.tolist()], dtype=np.int64)
    pairs = np.unique(np.column_stack([a, keep_area]), axis=0)
    a, c = pairs[:, 0], pairs[:, 1]
    # accidents: identical sets of columns -> one weighted row
    _, sets = _sets_by(a, c)
    rows: dict[bytes, int] = {}
    weight: list[float] = []
    row_pairs_r, row_pairs_c = [], []
    for s in sets:
        key = s.tobytes()
        if key in rows:
            weight[rows[key]] += 1.0
            continue
        rows[key] = len(rows)
        weight.append(1.0)
        row_pairs_r.append(np.full(len(s), rows[key], dtype=np.int64))
        row_pairs_c.append(s)
    r = np.concatenate(row_pairs_r)
    c = np.concatenate(row_pairs_c)
    return r, c, np.asarray(weight), len(rows), len(keys)


def greedy_order(acc_idx: np.ndarray, area_idx: np.ndarray, n_areas: int) -> np.ndarray:
    """Areas in greedy max-coverage order: each next area adds the most accidents not yet
    within the radius of an area before it (ties: the lower index). Areas near no accident
    come last, in index order. Returns a permutation of ``range(n_areas)``."""
    acc_idx = np.asarray(acc_idx, dtype=np.int64)
    area_idx = np.asarray(area_idx, dtype=np.int64)
    pairs = np.unique(np.column_stack([area_idx, acc_idx]), axis=0) if len(acc_idx) else None
    if pairs is None:
        return np.arange(n_areas)
    z, a = pairs[:, 0], pairs[:, 1]
    areas, starts = np.unique(z, return_index=True)
    sets = dict(zip(areas.tolist(), np.split(a, starts[1:]), strict=True))
    covered = np.zeros(int(a.max()) + 1, dtype=bool)
    # lazy greedy: gains only fall, so a stale gain at the top of the heap is an upper bound
    heap = [(-len(s), area) for area, s in sets.items()]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        neg, area = heapq.heappop(heap)
        s = sets[area]
        gain = int(np.count_nonzero(~covered[s]))
        if gain == 0:
            continue  # adds nothing now; it goes with the areas near no accident
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, area))
            continue
        covered[s] = True
        order.append(area)
    chosen = np.zeros(n_areas, dtype=bool)
    chosen[order] = True
    return np.concatenate([np.asarray(order, dtype=np.int64), np.flatnonzero(~chosen)])


def _covered_along(order: np.ndarray, acc_idx, area_idx, n_areas: int) -> np.ndarray:
    """Accidents covered by the first k areas of ``order``, for k = 0..n_areas."""
    place = np.empty(n_areas, dtype=np.int64)
    place[order] = np.arange(n_areas)
    if len(acc_idx) == 0:
        return np.zeros(n_areas + 1)
    first = np.full(int(np.max(acc_idx)) + 1, n_areas, dtype=np.int64)
    np.minimum.at(first, np.asarray(acc_idx), place[np.asarray(area_idx)])
    first = first[first < n_areas]
    return np.concatenate([[0], np.cumsum(np.bincount(first, minlength=n_areas))]).astype(float)


def max_coverage(
    acc_idx: np.ndarray,
    area_idx: np.ndarray,
    n_areas: int,
    ks: Sequence[int],
    *,
    time_limit: float = 20.0,
) -> Ceiling:
    """The most accidents k areas can hold within the radius, for each k: greedy, the exact
    integer programme (HiGHS) and its proven bound.

    Parameters
    ----------
    acc_idx, area_idx
        Pairs (accident, area) with the accident within the capture radius of the area.
    n_areas
        Number of areas.
    ks
        Numbers of areas chosen.
    time_limit
        Seconds allowed to each integer programme; when it runs out, the best solution found
        and the solver's bound are returned (``optimal`` is then False where they differ).

    Returns
    -------
    Ceiling
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    ks_arr = np.asarray([int(min(max(k, 0), n_areas)) for k in ks], dtype=np.int64)
    along = _covered_along(greedy_order(acc_idx, area_idx, n_areas), acc_idx, area_idx, n_areas)
    greedy = along[ks_arr]
    total = float(len(np.unique(acc_idx)))
    best = greedy.copy()
    bound = np.full(len(ks_arr), total)
    r, c, w, n_rows, n_cols = _reduce(acc_idx, area_idx)
    # a bound that needs no solver: k areas hold at most the accidents of the k that hold most
    held = np.sort(np.bincount(c, weights=w[r], minlength=n_cols))[::-1]
    top = np.concatenate([[0.0], np.cumsum(held)])
    bound = np.minimum(bound, top[np.minimum(ks_arr, n_cols)])
    # variables: x (n_cols areas, binary), then y (n_rows accident rows, 0-1); maximise w.y
    # subject to y_j <= sum_{i near j} x_i and sum x <= k: only k changes between shares
    nv = n_cols + n_rows
    cover = sparse.csr_matrix(
        (
            np.concatenate([-np.ones(len(r)), np.ones(n_rows)]),
            (
                np.concatenate([r, np.arange(n_rows)]),
                np.concatenate([c, n_cols + np.arange(n_rows)]),
            ),
        ),
        shape=(n_rows, nv),
    )
    budget = sparse.csr_matrix(
        (np.ones(n_cols), (np.zeros(n_cols, dtype=np.int64), np.arange(n_cols))), shape=(1, nv)
    )
    objective = np.concatenate([np.zeros(n_cols), -w])
    integrality = np.concatenate([np.ones(n_cols), np.zeros(n_rows)])
    for t, k in enumerate(ks_arr):
        if best[t] >= total or k == 0:
            bound[t] = best[t]
            continue
        if k >= n_cols:  # every distinct useful area can be taken
            best[t] = bound[t] = total
            continue
        res = milp(
            objective,
            integrality=integrality,
            bounds=Bounds(0, 1),
            constraints=[
                LinearConstraint(cover, -np.inf, 0.0),
                LinearConstraint(budget, -np.inf, float(k)),
            ],
            options={"time_limit": float(time_limit), "disp": False, "mip_rel_gap": 0.0},
        )
        if res.x is not None:
            x = np.round(res.x[:n_cols]) > 0.5
            hit = np.zeros(n_rows, dtype=bool)
            hit[r[x[c]]] = True
            best[t] = max(best[t], float(w[hit].sum()))
        dual = getattr(res, "mip_dual_bound", None)
        if res.status == 0:
            bound[t] = best[t]
        elif dual is not None and np.isfinite(dual):
            bound[t] = min(bound[t], float(np.floor(-dual + 1e-6)))
        bound[t] = max(bound[t], best[t])
    return Ceiling(ks=ks_arr, best=best, bound=bound, greedy=greedy, greedy_curve=along)
