"""Optimal budgeted selection of tasks over years: a MILP built from parts, solved by HiGHS.

The model (prioritizr style): a :class:`Problem` is built from the task table, and each part
returns a new problem::

    problem = (Problem.from_tasks(tasks, years=[2027, 2028], discount_rate=0.1)
               .add_budget([1.5e6, 1.5e6])
               .add_capacity({"manual": [1188, 1188], "nts": [396, 396]})
               .add_precedence()
               .add_locks([("H001-clr", 2027)]))
    model = problem.compile()        # matrices, testable without a solver
    solution = problem.solve()       # HiGHS, warm-started from problem.greedy()

Variables: binary ``x[t, y]`` = task ``t`` is done in plan year ``y`` (column ``t * Y + y``).
Objective: maximise ``sum benefit_t * d_y * x[t, y]`` with ``d_y = 1 / (1 + rate) ** y``.
Constraints: each task at most once; per year, cost within the budget (one aggregated row per
year); per year and team type, team-days within capacity (one row per pair); precedence in
cumulative form ``sum_{y' <= y} x[c, y'] <= sum_{y' <= y} x[p, y']`` for every year (a task
only in or after the year of its predecessor, and only if the predecessor is selected); locks
as bounds.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from ccm_geo._highs import new_highs, pass_binary_model
from ccm_geo.errors import ConfigError, InputError, SolverError

__all__ = ["Problem", "CompiledModel", "Solution", "discount_factors"]

logger = logging.getLogger(__name__)

_TOL = 1e-9


def discount_factors(n_years: int, rate: float) -> np.ndarray:
    """Weight of a benefit obtained in plan year ``y`` (0-based): ``1 / (1 + rate) ** y``."""
    return 1.0 / (1.0 + rate) ** np.arange(n_years, dtype=float)


@dataclass(frozen=True)
class CompiledModel:
    """The MILP as matrices: maximise ``c @ x`` s.t. ``row_lower <= A @ x <= row_upper``.

    Columns are ``x[t, y]`` at index ``t * n_years + y``, all binary (``integrality`` 1).
    """

    c: np.ndarray
    A: sparse.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_names: list[str]
    n_tasks: int
    n_years: int

    def column(self, task: int, year: int) -> int:
        """Column index of ``x[task, year]`` (0-based task and plan-year positions)."""
        return task * self.n_years + year


@dataclass(frozen=True)
class Solution:
    """A plan's selection and how it was found.

    Attributes
    ----------
    status
        ``"optimal"`` (within the gap asked for), ``"time_limit"`` (best found when time ran
        out), ``"greedy"`` (the heuristic), ``"warm_start"`` (the solver found nothing better
        than its greedy warm start) or ``"empty"`` (no tasks).
    objective
        Discounted benefit of the selection (m²-equivalents).
    bound
        Best upper bound on the objective known (the solver's dual bound; NaN for greedy).
    gap
        Relative gap ``(bound - objective) / objective`` (NaN for greedy).
    seconds
        Wall time spent, s.
    year_index
        Per task (in problem order), the 0-based plan year in which it is done, -1 if not.
    years
        The calendar year of each plan year.
    """

    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    year_index: np.ndarray
    years: tuple[int, ...]
    task_ids: np.ndarray = field(repr=False)

    @property
    def selected(self) -> list[tuple[str, int]]:
        """``(task_id, calendar year)`` of every selected task."""
        idx = np.flatnonzero(self.year_index >= 0)
        return [(str(self.task_ids[i]), self.years[self.year_index[i]]) for i in idx]

    def year_of(self) -> pd.Series:
        """Calendar year per task id (``<NA>`` when not selected)."""
        out = pd.Series(pd.NA, index=pd.Index(self.task_ids, name="task_id"), dtype="Int64")
        sel = self.year_index >= 0
        out[sel] = np.asarray(self.years, dtype=np.int64)[self.year_index[sel]]
        return out


@dataclass(frozen=True, eq=False)
class Problem:
    """A task-selection problem; parts are added with ``add_*`` which return new problems."""

    task_ids: np.ndarray
    benefit: np.ndarray
    cost: np.ndarray
    team_days: np.ndarray
    team_type: np.ndarray
    predecessor: np.ndarray
    years: tuple[int, ...]
    discount: np.ndarray
    budget: np.ndarray | None = None
    capacity: tuple[tuple[str, np.ndarray], ...] | None = None
    precedence: bool = False
    locks: tuple[tuple[int, int | None], ...] = ()

    # ---------------------------------------------------------------------------- building

    @classmethod
    def from_tasks(
        cls, tasks: pd.DataFrame, years: Sequence[int], *, discount_rate: float = 0.0
    ) -> Problem:
        """A problem with an objective and no constraints but "each task at most once".

        Parameters
        ----------
        tasks
            Task table with ``task_id``, ``benefit``, ``cost_usd`` (US$), ``team_days``,
            ``team_type`` and ``predecessor`` (task id or None), as made by ``make_tasks``.
        years
            Calendar years of the plan, in order.
        discount_rate
            Yearly rate; a benefit in plan year ``y`` counts ``1 / (1 + rate) ** y``.
        """
        ids = tasks["task_id"].astype(str).to_numpy()
        pos = pd.Series(np.arange(len(ids)), index=ids)
        if pos.index.has_duplicates:
            dup = pos.index[pos.index.duplicated()].unique().tolist()[:10]
            msg = f"tasks: task_id not unique: {dup}"
            raise InputError(msg)
        pred_ids = tasks["predecessor"].to_numpy()
        has_pred = pd.notna(pred_ids)
        unknown = sorted({str(p) for p in pred_ids[has_pred] if str(p) not in pos.index})
        if unknown:
            msg = f"tasks: predecessor task(s) {unknown[:10]} not in the task table"
            raise InputError(msg)
        pred = np.full(len(ids), -1, dtype=np.int64)
        pred[has_pred] = pos.loc[[str(p) for p in pred_ids[has_pred]]].to_numpy()
        years = tuple(int(y) for y in years)
        return cls(
            task_ids=ids,
            benefit=tasks["benefit"].to_numpy(dtype=float),
            cost=tasks["cost_usd"].to_numpy(dtype=float),
            team_days=tasks["team_days"].to_numpy(dtype=float),
            team_type=tasks["team_type"].astype(str).to_numpy(),
            predecessor=pred,
            years=years,
            discount=discount_factors(len(years), discount_rate),
        )

    @property
    def n_tasks(self) -> int:
        return len(self.task_ids)

    @property
    def n_years(self) -> int:
        return len(self.years)

    def add_budget(self, budget_usd: Sequence[float]) -> Problem:
        """Cost of the tasks done in each plan year at most that year's budget (US$)."""
        b = np.asarray(budget_usd, dtype=float)
        if b.shape != (self.n_years,):
            msg = f"budget: {b.size} amounts given for {self.n_years} plan years {self.years}"
            raise ConfigError(msg)
        return dataclasses.replace(self, budget=b)

    def add_capacity(self, team_days: Mapping[str, Sequence[float]]) -> Problem:
        """Team-days of each team type in each plan year at most the given amounts.

        Tasks of a team type absent from ``team_days`` have no capacity (they cannot be done).
        """
        cap = []
        for k in sorted(set(team_days) | set(self.team_type.tolist())):
            v = np.asarray(team_days.get(k, np.zeros(self.n_years)), dtype=float)
            if v.shape != (self.n_years,):
                msg = f"capacity of {k!r}: {v.size} amounts given for {self.n_years} plan years"
                raise ConfigError(msg)
            cap.append((k, v))
        return dataclasses.replace(self, capacity=tuple(cap))

    def add_precedence(self) -> Problem:
        """A task only if its predecessor is done, in the same plan year or later."""
        return dataclasses.replace(self, precedence=True)

    def add_locks(self, locks: Iterable[tuple[str, int | None]]) -> Problem:
        """Force tasks into the plan, optionally in a given calendar year.

        Raises
        ------
        ConfigError
            A locked task id is not a task.
        SolverError
            A lock's year is outside the plan years (it can never be met).
        """
        pos = {t: i for i, t in enumerate(self.task_ids)}
        out = list(self.locks)
        for task_id, year in locks:
            if task_id not in pos:
                msg = (
                    f"planning.locks: task_id {task_id!r} is not a task of this plan "
                    f"(task ids look like {list(self.task_ids[:3])}); fix or remove the lock"
                )
                raise ConfigError(msg)
            if year is not None and year not in self.years:
                msg = (
                    f"planning.locks: task {task_id!r} locked in {year}, outside the plan "
                    f"years {self.years[0]}-{self.years[-1]}: infeasible. Lock it in a plan "
                    "year or without a year"
                )
                raise SolverError(msg)
            out.append((pos[task_id], None if year is None else self.years.index(year)))
        return dataclasses.replace(self, locks=tuple(out))

    # ---------------------------------------------------------------------------- compiling

    def compile(self) -> CompiledModel:
        """Build the MILP matrices (no solver needed)."""
        n, Y = self.n_tasks, self.n_years
        ncol = n * Y
        cols = np.arange(ncol)
        task_of_col = cols // Y
        year_of_col = cols % Y
        c = self.benefit[task_of_col] * self.discount[year_of_col]
        r_idx, c_idx, vals = [], [], []
        lower, upper, names = [], [], []

        # each task at most once (exactly once when locked)
        r_idx.append(task_of_col)
        c_idx.append(cols)
        vals.append(np.ones(ncol))
        once_lower = np.zeros(n)
        for t, _ in self.locks:
            once_lower[t] = 1.0
        lower.append(once_lower)
        upper.append(np.ones(n))
        names += [f"once[{t}]" for t in self.task_ids]
        nrow = n

        if self.budget is not None:
            r_idx.append(nrow + year_of_col)
            c_idx.append(cols)
            vals.append(self.cost[task_of_col])
            lower.append(np.full(Y, -np.inf))
            upper.append(self.budget.copy())
            names += [f"budget[{y}]" for y in self.years]
            nrow += Y

        if self.capacity is not None:
            for k, cap in self.capacity:
                mask = self.team_type[task_of_col] == k
                r_idx.append(nrow + year_of_col[mask])
                c_idx.append(cols[mask])
                vals.append(self.team_days[task_of_col[mask]])
                lower.append(np.full(Y, -np.inf))
                upper.append(cap.copy())
                names += [f"capacity[{k},{y}]" for y in self.years]
                nrow += Y

        if self.precedence:
            child = np.flatnonzero(self.predecessor >= 0)
            parent = self.predecessor[child]
            m = len(child)
            # row (i, y): sum_{y'<=y} x[child, y'] - x[parent, y'] <= 0
            ii, yy, yp = np.meshgrid(np.arange(m), np.arange(Y), np.arange(Y), indexing="ij")
            keep = yp <= yy
            ii, yy, yp = ii[keep], yy[keep], yp[keep]
            rows = nrow + ii * Y + yy
            r_idx += [rows, rows]
            c_idx += [child[ii] * Y + yp, parent[ii] * Y + yp]
            vals += [np.ones(len(rows)), -np.ones(len(rows))]
            lower.append(np.full(m * Y, -np.inf))
            upper.append(np.zeros(m * Y))
            names += [f"precedence[{self.task_ids[a]},{y}]" for a in child for y in self.years]
            nrow += m * Y

        A = sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0),
                (np.concatenate(r_idx), np.concatenate(c_idx)),
            ),
            shape=(nrow, ncol),
        )
        col_lower = np.zeros(ncol)
        for t, y in self.locks:
            if y is not None:
                col_lower[t * Y + y] = 1.0
        return CompiledModel(
            c=c,
            A=A,
            row_lower=np.concatenate(lower),
            row_upper=np.concatenate(upper),
            col_lower=col_lower,
            col_upper=np.ones(ncol),
            integrality=np.ones(ncol, dtype=int),
            row_names=names,
            n_tasks=n,
            n_years=Y,
        )

    # ---------------------------------------------------------------------------- solving

    def greedy(self) -> Solution:
        """The transparent baseline: best benefit per dollar first, earliest year that fits.

        Locked tasks are placed first. Then tasks are taken in decreasing benefit / cost
        (ties in table order); each goes to the earliest plan year whose budget and team
        capacity it fits, after its predecessors. A task whose predecessors are not yet placed
        brings them along (they are placed first, each in the earliest year that fits, or the
        whole chain is skipped). The result respects every constraint of the problem; its
        status is ``"greedy"``, or ``"locks_unmet"`` when a lock could not be placed.
        """
        t0 = time.perf_counter()
        year_index, locks_met = _greedy(self)
        return Solution(
            status="greedy" if locks_met else "locks_unmet",
            objective=self.objective_of(year_index),
            bound=float("nan"),
            gap=float("nan"),
            seconds=time.perf_counter() - t0,
            year_index=year_index,
            years=self.years,
            task_ids=self.task_ids,
        )

    def objective_of(self, year_index: np.ndarray) -> float:
        """Discounted benefit of a selection (plan-year index per task, -1 = not selected)."""
        sel = year_index >= 0
        return float(np.sum(self.benefit[sel] * self.discount[year_index[sel]]))

    def solve(
        self,
        *,
        gap: float = 0.01,
        time_limit_s: float = 60.0,
        random_seed: int = 0,
        threads: int = 1,
        warm_start: bool = True,
    ) -> Solution:
        """Solve with HiGHS, warm-started from the greedy plan.

        Parameters
        ----------
        gap
            Relative MIP gap at which to stop (0.01 = 1%).
        time_limit_s
            Wall-time limit, s; the best plan found so far is returned with its gap.
        random_seed, threads
            Fixed for determinism.
        warm_start
            Give HiGHS the greedy plan as a feasible starting solution.

        Returns
        -------
        Solution
            Never worse than the greedy plan: if HiGHS ends with a worse incumbent (it should
            not), the greedy plan is returned with status ``"warm_start"``.

        Raises
        ------
        SolverError
            The model is infeasible (locks that cannot all be met), with the reason found.
        """
        import highspy

        t0 = time.perf_counter()
        if self.n_tasks == 0:
            return Solution(
                "empty", 0.0, 0.0, 0.0, 0.0, np.zeros(0, dtype=np.int64), self.years, self.task_ids
            )
        start = _greedy(self) if warm_start else None
        model = self.compile()
        h = new_highs(
            random_seed=int(random_seed),
            threads=int(threads),
            time_limit=float(time_limit_s),
            mip_rel_gap=float(gap),
        )
        x0 = None
        if start is not None and start[1]:
            x0 = np.zeros(model.A.shape[1])
            sel = np.flatnonzero(start[0] >= 0)
            x0[sel * self.n_years + start[0][sel]] = 1.0
        pass_binary_model(
            h,
            model.c,
            model.A,
            model.row_lower,
            model.row_upper,
            col_lower=model.col_lower,
            col_upper=model.col_upper,
            start=x0,
        )
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        seconds = time.perf_counter() - t0
        ms = highspy.HighsModelStatus
        if status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            msg = _infeasibility_reason(self)
            raise SolverError(msg)
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        if not has_solution:
            if start is not None and start[1]:
                return self._from_start(start[0], "warm_start", float("nan"), seconds)
            msg = (
                f"HiGHS found no plan ({h.modelStatusToString(status)}) within "
                f"{time_limit_s:g} s; raise planning.time_limit_s"
            )
            raise SolverError(msg)
        x = np.asarray(h.getSolution().col_value).reshape(self.n_tasks, self.n_years)
        chosen = x > 0.5
        year_index = np.where(chosen.any(axis=1), chosen.argmax(axis=1), -1)
        objective = self.objective_of(year_index)
        bound = float(info.mip_dual_bound)
        label = (
            "optimal"
            if status == ms.kOptimal
            else ("time_limit" if status == ms.kTimeLimit else h.modelStatusToString(status))
        )
        if start is not None and start[1] and self.objective_of(start[0]) > objective + 1e-9:
            return self._from_start(start[0], "warm_start", bound, seconds)
        return Solution(
            label,
            objective,
            bound,
            _gap(objective, bound),
            seconds,
            year_index,
            self.years,
            self.task_ids,
        )

    def _from_start(
        self, year_index: np.ndarray, status: str, bound: float, seconds: float
    ) -> Solution:
        obj = self.objective_of(year_index)
        return Solution(
            status, obj, bound, _gap(obj, bound), seconds, year_index, self.years, self.task_ids
        )


# --------------------------------------------------------------------------------------------
# helpers


def _gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan")
    return max(0.0, bound - objective) / max(abs(objective), 1e-9)


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
    """Budget and capacity left per plan year, with tentative reservations."""

    def __init__(self, p: Problem):
        Y = p.n_years
        self.p = p
        self.budget = p.budget.copy() if p.budget is not None else np.full(Y, np.inf)
        if p.capacity is not None:
            types = [k for k, _ in p.capacity]
            self.cap = np.array([v for _, v in p.capacity], dtype=float).reshape(len(types), Y)
            where = {k: i for i, k in enumerate(types)}
            self.kind = np.array([where[k] for k in p.team_type], dtype=np.int64)
        else:
            self.cap = np.full((1, Y), np.inf)
            self.kind = np.zeros(p.n_tasks, dtype=np.int64)

    def fits(self, t: int, y: int) -> bool:
        p = self.p
        return (
            p.cost[t] <= self.budget[y] * (1 + _TOL) + _TOL
            and p.team_days[t] <= self.cap[self.kind[t], y] * (1 + _TOL) + _TOL
        )

    def take(self, t: int, y: int, sign: float = 1.0) -> None:
        self.budget[y] -= sign * self.p.cost[t]
        self.cap[self.kind[t], y] -= sign * self.p.team_days[t]


def _place_chain(
    p: Problem, ledger: _Ledger, year_index: np.ndarray, t: int, fixed: int | None = None
) -> bool:
    """Place ``t`` (in plan year ``fixed`` if given) with its unplaced predecessors."""
    chain = [t]
    earliest = 0
    if p.precedence:
        u = p.predecessor[t]
        while u >= 0 and year_index[u] < 0:
            chain.append(u)
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


def _greedy(p: Problem) -> tuple[np.ndarray, bool]:
    """Greedy plan (plan-year index per task) and whether every lock was met."""
    year_index = np.full(p.n_tasks, -1, dtype=np.int64)
    ledger = _Ledger(p)
    locks_met = True
    depth = _depth(p.predecessor) if p.precedence else np.zeros(p.n_tasks, dtype=np.int64)
    for t, y in sorted(p.locks, key=lambda ty: (depth[ty[0]], ty[0])):
        if year_index[t] >= 0:
            locks_met &= y is None or year_index[t] == y
            continue
        locks_met &= _place_chain(p, ledger, year_index, t, y)
    ratio = p.benefit / np.maximum(p.cost, 1e-9)
    order = np.lexsort((np.arange(p.n_tasks), -ratio))
    for t in order:
        if year_index[t] < 0:
            _place_chain(p, ledger, year_index, int(t))
    return year_index, bool(locks_met)


def _infeasibility_reason(p: Problem) -> str:
    """Explain why the locks cannot all be met (the only source of infeasibility)."""
    reasons = []
    Y = p.n_years
    required_cost = np.zeros(Y)
    locked = {t: y for t, y in p.locks}
    for t, y in p.locks:
        if p.precedence:
            u = p.predecessor[t]
            while u >= 0:
                if u in locked and locked[u] is not None and y is not None and locked[u] > y:
                    reasons.append(
                        f"task {p.task_ids[t]!r} is locked in {p.years[y]} but its "
                        f"predecessor {p.task_ids[u]!r} in {p.years[locked[u]]}"
                    )
                u = p.predecessor[u]
        if y is not None:
            required_cost[y] += p.cost[t]
    if p.budget is not None:
        for y in range(Y):
            if required_cost[y] > p.budget[y] + 1e-6:
                reasons.append(
                    f"tasks locked in {p.years[y]} cost US${required_cost[y]:,.0f}, "
                    f"over that year's budget of US${p.budget[y]:,.0f}"
                )
        if sum(p.cost[t] for t in locked) > p.budget.sum() + 1e-6:
            reasons.append(
                f"the locked tasks cost more than the whole budget (US${p.budget.sum():,.0f})"
            )
    if not reasons:
        reasons.append(
            "the locked tasks, with the surveys they need, do not fit the yearly "
            "budgets and team capacity together"
        )
    locks = ", ".join(
        f"{p.task_ids[t]}" + (f"@{p.years[y]}" if y is not None else "") for t, y in p.locks
    )
    msg = (
        f"planning.locks cannot all be met (model infeasible): {'; '.join(reasons)}. "
        f"Locks: {locks}. Remove or move a lock, or raise budget_usd or the teams."
    )
    return msg
