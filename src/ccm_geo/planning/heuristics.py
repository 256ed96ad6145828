"""Feasible plans without a MILP: the greedy baseline, the priced rounding and a feasibility repair.

Every function here returns a plan (plan-year index per task, -1 = not selected) that respects
the budget and capacity rows, precedence and (when they can be met) the locks of its ``Problem``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_plan", "priced_plan", "prune", "repair", "violations"]

_TOL = 1e-9


def greedy_plan(p) -> tuple[np.ndarray, bool]:
    """Greedy plan (best benefit per dollar first, earliest year that fits) and locks met."""
    ratio = p.benefit / np.maximum(p.cost, 1e-9)
    order = np.lexsort((np.arange(p.n_tasks), -ratio))
    ledger = _Ledger(p)
    year_index = np.full(p.n_tasks, -1, dtype=np.int64)
    locks_met = _place_locks(p, ledger, year_index)
    for t in _candidates(p, ledger, year_index, order):
        if year_index[t] < 0:
            _place_chain(p, ledger, year_index, t)
    return year_index, locks_met


def priced_plan(p, relaxation, lam: np.ndarray) -> tuple[np.ndarray, bool]:
    """Round the Lagrangian plan at the dual prices ``lam`` into a feasible plan, then fill.

    Trees of tasks are taken by decreasing priced value; each task keeps the year the priced
    problem chose when it still fits (after its predecessor), else the best priced year that
    fits, else it is dropped. Then every task left is tried by decreasing priced margin, in
    its earliest year that fits, bringing its predecessors along.
    """
    n = p.n_tasks
    pv = relaxation.priced(lam)
    suffixes: list = []
    G = relaxation._tree_values(pv.copy(), suffixes)
    target = relaxation._choose(G, suffixes)
    tree_value = G.max(axis=1)[relaxation.root]
    ledger = _Ledger(p)
    year_index = np.full(n, -1, dtype=np.int64)
    locks_met = _place_locks(p, ledger, year_index)
    pred = relaxation.pred
    cand = np.flatnonzero((target >= 0) & (year_index < 0))
    keys = (cand, relaxation.depth[cand], relaxation.root[cand], -tree_value[cand])
    order = cand[np.lexsort(keys)]
    pref = np.argsort(-pv, axis=1, kind="stable")
    allowed = relaxation.allowed
    for t in order.tolist():
        q = pred[t]
        if q >= 0 and year_index[q] < 0:
            continue
        earliest = year_index[q] if q >= 0 else 0
        y0 = int(target[t])
        if y0 >= earliest and ledger.fits(t, y0):
            ledger.take(t, y0)
            year_index[t] = y0
            continue
        for y in pref[t].tolist():
            if y >= earliest and allowed[t, y] and ledger.fits(t, y):
                ledger.take(t, y)
                year_index[t] = y
                break
    margin = pv.max(axis=1)
    rest = np.flatnonzero((year_index < 0) & np.isfinite(margin))
    rest = rest[np.lexsort((rest, -margin[rest]))]
    for t in _candidates(p, ledger, year_index, rest):
        if year_index[t] < 0:
            _place_chain(p, ledger, year_index, t)
    return year_index, locks_met


def violations(p, year_index: np.ndarray, tol: float = _TOL) -> list[str]:
    """Rows a plan breaks (budget, capacity, precedence, once), empty when feasible."""
    out = []
    sel = year_index >= 0
    for y in range(p.n_years):
        in_y = year_index == y
        if p.budget is not None:
            used = float(p.cost[in_y].sum())
            if used > p.budget[y] * (1 + tol) + tol:
                out.append(f"budget {p.years[y]}: {used} > {p.budget[y]}")
        if p.capacity is not None:
            for k, cap in p.capacity:
                used = float(p.team_days[in_y & (p.team_type == k)].sum())
                if used > cap[y] * (1 + tol) + tol:
                    out.append(f"capacity {k} {p.years[y]}: {used} > {cap[y]}")
    if p.precedence:
        t = np.flatnonzero(sel & (p.predecessor >= 0))
        q = p.predecessor[t]
        bad = (year_index[q] < 0) | (year_index[q] > year_index[t])
        out += [f"precedence {p.task_ids[i]}" for i in t[bad][:5]]
    return out


def repair(p, year_index: np.ndarray) -> np.ndarray:
    """Drop tasks until the plan keeps every row exactly (a solver's tolerance can break one).

    Unlocked tasks of the least benefit are dropped first, with the tasks that follow them.
    """
    x = year_index.copy()
    if not violations(p, x):
        return x
    locked = {t for t, _ in p.locks}
    ledger = _Ledger(p)
    for t in np.flatnonzero(x >= 0):
        ledger.take(int(t), int(x[t]))
    children: dict[int, list[int]] = {}
    if p.precedence:
        for t in np.flatnonzero(p.predecessor >= 0).tolist():
            children.setdefault(int(p.predecessor[t]), []).append(t)
    order = np.lexsort((np.arange(p.n_tasks), p.benefit))
    for t in order.tolist():
        if x[t] < 0 or t in locked:
            continue
        y = int(x[t])
        if not ledger.over(t, y):
            continue
        stack = [t]
        while stack:
            u = stack.pop()
            if x[u] >= 0:
                ledger.take(u, int(x[u]), -1.0)
                x[u] = -1
                stack += children.get(u, [])
    if p.precedence:
        for _ in range(p.n_tasks):
            t = np.flatnonzero((x >= 0) & (p.predecessor >= 0))
            q = p.predecessor[t]
            bad = t[(x[q] < 0) | (x[q] > x[t])]
            if not bad.size:
                break
            x[bad] = -1
    return x


def prune(p, year_index: np.ndarray) -> np.ndarray:
    """Drop selected tasks that bring no benefit and lead to no selected task (pure spending)."""
    x = year_index.copy()
    locked = np.zeros(p.n_tasks, dtype=bool)
    for t, _ in p.locks:
        locked[t] = True
    while True:
        has_child = np.zeros(p.n_tasks, dtype=bool)
        if p.precedence:
            c = np.flatnonzero((x >= 0) & (p.predecessor >= 0))
            has_child[p.predecessor[c]] = True
        drop = (x >= 0) & (p.benefit <= 0) & ~has_child & ~locked
        if not drop.any():
            return x
        x[drop] = -1


# --------------------------------------------------------------------------------------------
# helpers


def _depth(pred: np.ndarray) -> np.ndarray:
    """Number of predecessors above each task in its chain."""
    depth = np.zeros(len(pred), dtype=np.int64)
    cur = pred.copy()
    while (cur >= 0).any():
        has = cur >= 0
        depth[has] += 1
        cur[has] = pred[cur[has]]
    return depth


class _Ledger:
    """Budget and capacity left per plan year, as plain floats (fast scalar checks)."""

    def __init__(self, p):
        Y = p.n_years
        self.p = p
        self.cost = p.cost.tolist()
        self.days = p.team_days.tolist()
        self.budget = [float(v) for v in p.budget] if p.budget is not None else [float("inf")] * Y
        self.budget0 = list(self.budget)
        if p.capacity is not None:
            types = [k for k, _ in p.capacity]
            self.cap = [[float(v) for v in cap] for _, cap in p.capacity]
            where = {k: i for i, k in enumerate(types)}
            self.kind = [where[k] for k in p.team_type.tolist()]
        else:
            self.cap = [[float("inf")] * Y]
            self.kind = [0] * p.n_tasks
        self.cap0 = [list(c) for c in self.cap]

    def fits(self, t: int, y: int) -> bool:
        return (
            self.cost[t] <= self.budget[y] * (1 + _TOL) + _TOL
            and self.days[t] <= self.cap[self.kind[t]][y] * (1 + _TOL) + _TOL
        )

    def over(self, t: int, y: int) -> bool:
        """Whether the budget or ``t``'s capacity row of year ``y`` is overdrawn."""
        k = self.kind[t]
        return self.budget[y] < -_TOL * (1 + abs(self.budget0[y])) or self.cap[k][y] < -_TOL * (
            1 + abs(self.cap0[k][y])
        )

    def take(self, t: int, y: int, sign: float = 1.0) -> None:
        self.budget[y] -= sign * self.cost[t]
        self.cap[self.kind[t]][y] -= sign * self.days[t]


def _candidates(p, ledger: _Ledger, year_index: np.ndarray, order: np.ndarray, block: int = 2048):
    """``order``'s tasks, leaving out those that can no longer fit any year.

    Placing only spends, so a task dearer (or longer) than the most any year has left stays
    so: checked with numpy per block of ``block`` tasks, at the ledger's state when the block
    starts, it is skipped where ``_place_chain`` would have tried every year in vain. On a
    national register, where the budget is spent on the first few thousand tasks, this turns
    a Python loop over every task into one over those that still might fit.
    """
    cost, days = p.cost, p.team_days
    kind = np.asarray(ledger.kind, dtype=np.int64)
    for b0 in range(0, len(order), block):
        part = order[b0 : b0 + block]
        room = max(ledger.budget) * (1 + _TOL) + _TOL
        cap = np.array([max(c) * (1 + _TOL) + _TOL for c in ledger.cap])
        keep = (year_index[part] < 0) & (cost[part] <= room) & (days[part] <= cap[kind[part]])
        yield from part[keep].tolist()


def _place_locks(p, ledger: _Ledger, year_index: np.ndarray) -> bool:
    locks_met = True
    depth = _depth(p.predecessor) if p.precedence else np.zeros(p.n_tasks, dtype=np.int64)
    for t, y in sorted(p.locks, key=lambda ty: (depth[ty[0]], ty[0])):
        if year_index[t] >= 0:
            locks_met &= y is None or year_index[t] == y
            continue
        locks_met &= _place_chain(p, ledger, year_index, t, y)
    return bool(locks_met)


def _place_chain(p, ledger: _Ledger, year_index: np.ndarray, t: int, fixed: int | None = None):
    """Place ``t`` (in plan year ``fixed`` if given) with its unplaced predecessors."""
    chain = [t]
    earliest = 0
    if p.precedence:
        u = p.predecessor[t]
        while u >= 0 and year_index[u] < 0:
            chain.append(int(u))
            u = p.predecessor[u]
        if u >= 0:
            earliest = int(year_index[u])
    chain.reverse()
    placed: list[tuple[int, int]] = []
    for u in chain:
        last = fixed if fixed is not None else p.n_years - 1
        first = fixed if (u == t and fixed is not None) else earliest
        if first < earliest:
            first = p.n_years  # the fixed year comes before a predecessor: cannot place
        for y in range(first, last + 1):
            if ledger.fits(u, y):
                ledger.take(u, y)
                placed.append((u, y))
                earliest = y
                break
        else:
            for v, y in placed:
                ledger.take(v, y, -1.0)
            return False
    for u, y in placed:
        year_index[u] = y
    return True
