"""Lagrangian relaxation of the plan's MILP: a cheap valid upper bound, prices and a primal plan.

The MILP couples its tasks through few rows only: one budget row per year and one capacity row
per team type and year (about 20 rows), while the "at most once" and precedence rows split into
one small block per area (a chain of at most three tasks, or any forest of predecessors).
Pricing the coupling rows with multipliers ``lam >= 0`` leaves one independent problem per tree
of tasks, solved exactly by dynamic programming over years in vectorised numpy::

    L(lam) = sum_r lam_r b_r + sum_trees max over feasible year choices of
             sum_t (benefit_t d_y - sum_r lam_r a_r[t, y]) x[t, y]

Every ``L(lam)`` is an upper bound on the best plan (weak duality), so the bound holds whenever
the search stops. The per-tree blocks are integral (cumulative precedence over years), so the
best ``L`` equals the LP relaxation's bound. ``lam`` is found by a proximal cutting-plane
(bundle) method over the few multipliers; each step costs one pass over the tasks.

The prices then rank tasks for a primal plan (``priced_plan``): each tree keeps the years its
priced problem chose where they still fit, and the rest is filled by priced margin. This is the
"LP + rounding with repair" the national registers need: at most about as many areas as there
are coupling rows are fractional in the relaxation, so the rounded plan is within a few areas of
the bound.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Relaxation", "DualResult"]

_NEG = -np.inf
# rows with less room than this are left out of the pricing (a relaxation, so the bound stays
# valid); the tasks that cannot fit them alone are still excluded
_MIN_RHS = 1e-6
_SAMPLE_TREES = 3000  # trees in the sample that gives the dual search its starting prices
#: The sample's own work budget (evaluations): more than the whole problem's search is given
#: (``dual_iterations``, 100 by default) because a step on the sample costs about
#: ``_SAMPLE_TREES / n`` of a step on the whole (under 1/10 from 30,000 areas).
_SAMPLE_ITERATIONS = 300


@dataclass(frozen=True)
class DualResult:
    """Outcome of the dual search.

    Attributes
    ----------
    bound
        Best (smallest) ``L(lam)`` found: an upper bound on every feasible plan's objective.
    lam
        Multipliers (one per active coupling row, in units of objective per whole row).
    year_index
        The relaxed plan at ``lam``: plan-year index per task, -1 = not selected. It respects
        precedence and locks but may exceed budget or capacity.
    margin
        Per task, the priced value of its best year (objective minus priced resources, the
        task alone), -inf when the task fits no year.
    iterations, seconds
        Evaluations of ``L`` and wall time, s.
    trail
        The last few centres of the search before ``lam`` (other good prices to round at).
    stopped_by_clock
        True when the wall-clock cap (``seconds``), not the iteration budget or the
        tolerance, stopped the search: the prices then depend on the machine's speed.
    """

    bound: float
    lam: np.ndarray
    year_index: np.ndarray
    margin: np.ndarray
    iterations: int
    seconds: float
    trail: tuple = ()
    stopped_by_clock: bool = False


class _CutModel:
    """The cutting-plane model ``min theta s.t. theta >= f_i + g_i (lam - lam_i)`` in a box,
    kept in one HiGHS instance so that each step re-solves from the last basis."""

    def __init__(self, R: int):
        import highspy

        from ccm_geo._highs import new_highs

        self.R, self.rows = R, 0
        self.h = new_highs(threads=1)
        inf = highspy.kHighsInf
        self.inf = inf
        self.h.addVars(R + 1, np.full(R + 1, -inf), np.full(R + 1, inf))
        cost = np.zeros(R + 1)
        cost[-1] = 1.0
        self.h.changeColsCost(R + 1, np.arange(R + 1, dtype=np.int32), cost)
        self.idx = np.arange(R + 1, dtype=np.int32)

    def add(self, lam: np.ndarray, f: float, g: np.ndarray) -> None:
        self.h.addRow(-self.inf, float(g @ lam - f), self.R + 1, self.idx, np.append(g, -1.0))
        self.rows += 1

    def drop_oldest(self) -> None:
        self.h.deleteRows(1, np.array([0], dtype=np.int32))
        self.rows -= 1

    def solve(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
        import highspy

        self.h.changeColsBounds(self.R, self.idx[: self.R], lo, hi)
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(self.h.getSolution().col_value, dtype=float)


class Relaxation:
    """The priced per-tree problem of a ``Problem``, built once and reused for new right-hand sides.

    Parameters
    ----------
    problem
        The ``optimise.Problem`` (budget, capacity, precedence and locks are read from it).
    """

    def __init__(self, problem):
        p = problem
        self.problem = problem
        n, Y = p.n_tasks, p.n_years
        self.n, self.Y = n, Y
        self.value = p.benefit[:, None] * p.discount[None, :]
        self.cost = p.cost
        self.days = p.team_days
        if p.capacity is not None:
            types = [k for k, _ in p.capacity]
            where = {k: i for i, k in enumerate(types)}
            self.kind = np.array([where[k] for k in p.team_type], dtype=np.int64)
            self.n_kinds = len(types)
        else:
            self.kind = np.zeros(n, dtype=np.int64)
            self.n_kinds = 0
        self.allowed_base = np.ones((n, Y), dtype=bool)
        locked_year = np.full(n, -2, dtype=np.int64)  # -2 free, -1 any year, y that year
        for t, y in p.locks:
            locked_year[t] = -1 if y is None else y
        for t in np.flatnonzero(locked_year >= 0):
            row = np.zeros(Y, dtype=bool)
            row[locked_year[t]] = True
            self.allowed_base[t] &= row
        self.locked = locked_year > -2
        pred = p.predecessor if p.precedence else np.full(n, -1, dtype=np.int64)
        self.pred = pred
        depth = np.zeros(n, dtype=np.int64)
        cur = pred.copy()
        while (cur >= 0).any():
            has = cur >= 0
            depth[has] += 1
            cur[has] = pred[cur[has]]
        self.depth = depth
        self.levels = [np.flatnonzero(depth == d) for d in range(int(depth.max(initial=0)) + 1)]
        self.unique_parent = [
            d == 0 or len(np.unique(pred[lvl])) == len(lvl) for d, lvl in enumerate(self.levels)
        ]
        # a task must be selected when it or a task below it is locked
        must = self.locked.copy()
        for lvl in reversed(self.levels[1:]):
            m = lvl[must[lvl]]
            must[pred[m]] = True
        self.must = must
        self.root = np.arange(n)
        for lvl in self.levels[1:]:
            self.root[lvl] = self.root[pred[lvl]]
        self.set_rhs(p.budget, p.capacity)

    # ------------------------------------------------------------------ right-hand sides

    def set_rhs(self, budget, capacity) -> None:
        """Use new budgets (per year, US$) and capacities (``((type, per year), ...)``).

        The structure (trees, levels, locks) is kept; only the rows and the tasks that cannot
        fit a year alone change.
        """
        Y = self.Y
        self._budget, self._capacity = budget, capacity
        allowed = self.allowed_base.copy()
        rows = []  # (kind: 0 budget / 1 capacity, team index, year, rhs)
        if budget is not None:
            b = np.asarray(budget, dtype=float)
            allowed &= self.cost[:, None] <= b[None, :] * (1 + 1e-9) + 1e-9
            rows += [
                (0, -1, y, float(b[y])) for y in range(Y) if np.isfinite(b[y]) and b[y] > _MIN_RHS
            ]
        if capacity is not None:
            cap = np.array([v for _, v in capacity], dtype=float).reshape(-1, Y)
            allowed &= self.days[:, None] <= cap[self.kind] * (1 + 1e-9) + 1e-9
            rows += [
                (1, k, y, float(cap[k, y]))
                for k in range(cap.shape[0])
                for y in range(Y)
                if np.isfinite(cap[k, y]) and cap[k, y] > _MIN_RHS
            ]
        self.allowed = allowed
        self.value_allowed = np.where(allowed, self.value, _NEG)  # -inf where it cannot be
        self.rows = rows
        self.R = len(rows)
        self.rhs = np.array([r[3] for r in rows], dtype=float)
        self._bud_row = np.full(Y, -1, dtype=np.int64)
        self._cap_row = np.full((max(self.n_kinds, 1), Y), -1, dtype=np.int64)
        for i, (kind, k, y, _) in enumerate(rows):
            if kind == 0:
                self._bud_row[y] = i
            else:
                self._cap_row[k, y] = i

    # ------------------------------------------------------------------ evaluation

    def prices(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Price per US$ by year and per team-day by (type, year) for multipliers ``lam``."""
        wb = np.zeros(self.Y)
        wk = np.zeros((max(self.n_kinds, 1), self.Y))
        per_unit = lam / np.where(self.rhs > 0, self.rhs, 1.0)
        for i, (kind, k, y, _) in enumerate(self.rows):
            if kind == 0:
                wb[y] = per_unit[i]
            else:
                wk[k, y] = per_unit[i]
        return wb, wk

    def priced(self, lam: np.ndarray) -> np.ndarray:
        """Priced value of each task in each year (-inf where it cannot be)."""
        wb, wk = self.prices(lam)
        pv = self.cost[:, None] * wb[None, :]
        np.subtract(self.value_allowed, pv, out=pv)
        if self.n_kinds:
            pv -= self.days[:, None] * wk[self.kind]
        return pv

    def evaluate(self, lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``L(lam)``, its subgradient (per row, scaled by the row's right-hand side), the plan."""
        pv = self.priced(lam)
        suffixes: list = []
        G = self._tree_values(pv, suffixes)
        year_index = self._choose(G, suffixes)
        roots = self.levels[0]
        best = G[roots].max(axis=1)
        zero = np.where(self.must[roots], _NEG, 0.0)
        value = float(np.maximum(best, zero).sum()) + float(lam.sum())
        use = self.usage(year_index)
        grad = 1.0 - use / np.where(self.rhs > 0, self.rhs, 1.0)
        return value, grad, year_index

    def usage(self, year_index: np.ndarray) -> np.ndarray:
        """Resources used per active row by a plan (US$ or team-days)."""
        sel = np.flatnonzero(year_index >= 0)
        y = year_index[sel]
        out = np.zeros(self.R)
        if self.R == 0 or sel.size == 0:
            return out
        rb = self._bud_row[y]
        ok = rb >= 0
        out += np.bincount(rb[ok], weights=self.cost[sel][ok], minlength=self.R)
        if self.n_kinds:
            rk = self._cap_row[self.kind[sel], y]
            ok = rk >= 0
            out += np.bincount(rk[ok], weights=self.days[sel][ok], minlength=self.R)
        return out

    def _tree_values(self, pv: np.ndarray, keep: list | None = None) -> np.ndarray:
        """``G[t, y]``: best priced value of ``t``'s subtree when ``t`` is done in year ``y``.

        ``keep`` (a list) receives, per level below the roots, the suffix maxima
        ``max_{y' >= y} G[t, y']`` for the choice of years.
        """
        G = pv  # priced() gives a fresh array: work in it
        pred = self.pred
        for d in range(len(self.levels) - 1, 0, -1):
            lvl = self.levels[d]
            g = G[lvl]
            # best over the child's own year y' >= y, or not doing it (unless it must be done)
            suffix = np.maximum.accumulate(g[:, ::-1], axis=1)[:, ::-1]
            if keep is not None:
                keep.append((d, suffix))
            h = np.maximum(suffix, np.where(self.must[lvl], _NEG, 0.0)[:, None])
            parent = pred[lvl]
            if self.unique_parent[d]:  # chains: one child per parent, a direct add
                G[parent] += h
            else:
                for y in range(self.Y):
                    G[:, y] += np.bincount(parent, weights=h[:, y], minlength=self.n)
        return G

    def _choose(self, G: np.ndarray, suffixes: list | None = None) -> np.ndarray:
        """The years maximising the priced problem, parents before children."""
        out = np.full(self.n, -1, dtype=np.int64)
        roots = self.levels[0]
        g = G[roots]
        best = g.max(axis=1)
        take = (best > 1e-12) | (self.must[roots] & np.isfinite(best))
        out[roots[take]] = g[take].argmax(axis=1)
        years = np.arange(self.Y)
        by_level = dict(suffixes or [])
        for d in range(1, len(self.levels)):
            lvl = self.levels[d]
            py = out[self.pred[lvl]]
            has = py >= 0
            suffix = by_level.get(d)
            if suffix is None:
                suffix = np.maximum.accumulate(G[lvl][:, ::-1], axis=1)[:, ::-1]
            best = np.full(len(lvl), _NEG)
            best[has] = suffix[has, py[has]]
            take = has & ((best > 1e-12) | (self.must[lvl] & np.isfinite(best)))
            rows = np.flatnonzero(take)
            hit = (G[lvl[rows]] >= best[rows, None]) & (years[None, :] >= py[rows, None])
            out[lvl[rows]] = hit.argmax(axis=1)
        return out

    # ------------------------------------------------------------------ dual search

    def dual(
        self,
        *,
        lam0: np.ndarray | None = None,
        seconds: float = 5.0,
        max_iter: int = 200,
        rel_tol: float = 1e-6,
    ) -> DualResult:
        """Minimise ``L`` over ``lam >= 0`` by a proximal cutting-plane method.

        Stops when the cutting-plane model predicts less than ``rel_tol`` improvement or
        after ``max_iter`` evaluations: a work budget, so the same problem gives the same
        prices on any machine. ``seconds`` is a safety cap on the wall clock only; when it is
        what stopped the search, ``stopped_by_clock`` says so. The bound is valid whenever
        it stops.
        """
        t0 = time.perf_counter()
        R = self.R
        warm = lam0 is not None and len(lam0) == R
        clock = False
        if not warm and len(self.levels[0]) > 2 * _SAMPLE_TREES and R > 0:
            lam0, clock = self._sample_start(seconds=seconds)
            warm = lam0 is not None and len(lam0) == R
        lam = np.maximum(lam0, 0.0) if warm else np.zeros(R)
        f, g, x = self.evaluate(lam)
        it = 1
        best = (f, lam, x)
        if R == 0 or not np.isfinite(f):
            return self._result(best, it, t0, clock=clock)
        model = _CutModel(R)
        model.add(lam, f, g)
        center, fc = lam, f
        centers: list = []
        delta = max(abs(f), 1.0) / max(R, 1)
        if warm:
            delta = max(0.25 * float(lam.max(initial=0.0)), 1e-6 * max(abs(f), 1.0))
        while it < max_iter:
            if time.perf_counter() - t0 >= seconds:
                clock = True
                break
            sol = model.solve(np.maximum(center - delta, 0.0), center + delta)
            if sol is None:
                break
            new = np.maximum(sol[:R], 0.0)
            predicted = fc - float(sol[-1])
            if predicted <= rel_tol * max(abs(fc), 1.0):
                if np.abs(new - center).max(initial=0) < 0.99 * delta or delta > 1e9 * max(
                    abs(fc), 1.0
                ):
                    break
                delta *= 4.0  # the model is flat inside the box: look further
                continue
            fn, gn, xn = self.evaluate(new)
            it += 1
            model.add(new, fn, gn)
            if model.rows > 250:  # keep the model small: drop the oldest cut
                model.drop_oldest()
            if fn < best[0]:
                best = (fn, new, xn)
            if fc - fn >= 0.1 * predicted:
                if np.abs(new - center).max(initial=0) >= 0.99 * delta:
                    delta *= 2.0
                center, fc = new, fn
                centers.append(new)
            elif fn > fc:
                delta *= 0.5
        trail = tuple(c for c in centers[-5:][::-1] if not np.array_equal(c, best[1]))[:4]
        return self._result(best, it, t0, trail, clock=clock)

    def _sample_start(self, seconds: float) -> tuple[np.ndarray | None, bool]:
        """Dual prices from a random sample of the trees, with budget and capacity scaled down.

        A few thousand areas price the rows almost as the whole register does, at a fraction
        of the cost per step; the whole problem's search then starts close to its optimum.
        Returns the prices and whether the clock stopped the sample's search.
        """
        roots = self.levels[0]
        rng = np.random.default_rng(0)
        pick = np.zeros(self.n, dtype=bool)
        pick[rng.choice(roots, size=_SAMPLE_TREES, replace=False)] = True
        mask = pick[self.root]
        frac = _SAMPLE_TREES / len(roots)
        current = dataclasses.replace(self.problem, budget=self._budget, capacity=self._capacity)
        sub = Relaxation(current._scaled_sample(mask, frac))
        if sub.R != self.R or [r[:3] for r in sub.rows] != [r[:3] for r in self.rows]:
            return None, False
        res = sub.dual(seconds=seconds, max_iter=_SAMPLE_ITERATIONS)
        return res.lam / frac, res.stopped_by_clock

    def _result(
        self, best, it: int, t0: float, trail: tuple = (), *, clock: bool = False
    ) -> DualResult:
        f, lam, x = best
        margin = self.priced(lam).max(axis=1)
        return DualResult(
            bound=float(f),
            lam=np.asarray(lam, dtype=float),
            year_index=x,
            margin=margin,
            iterations=it,
            seconds=time.perf_counter() - t0,
            trail=trail,
            stopped_by_clock=clock,
        )
