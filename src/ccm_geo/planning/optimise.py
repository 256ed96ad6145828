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

from ccm_geo._highs import solve_in_worker
from ccm_geo.errors import ConfigError, InputError, SolverError
from ccm_geo.planning.heuristics import greedy_plan, priced_plan, prune, repair
from ccm_geo.planning.relax import Relaxation
from ccm_geo.planning.status import _describe, _gap, _infeasibility_reason, stopped_steps

__all__ = ["Problem", "CompiledModel", "Solution", "discount_factors"]

logger = logging.getLogger(__name__)


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
        ``"optimal"`` (proven: the bound equals the objective), ``"within_gap"`` (within the
        gap asked for, ``gap`` says how close), ``"time_limit"`` (the best plan found when the
        time ran out, further from the bound than asked), ``"above_gap"`` (further than asked
        without branch and bound, as on the budget curve's points), ``"greedy"`` (the
        heuristic alone), ``"locks_unmet"`` (greedy that could not place a lock) or
        ``"empty"`` (no tasks).
    objective
        Discounted benefit of the selection (m²-equivalents).
    bound
        A valid upper bound on the best possible objective (the LP relaxation's, or HiGHS's
        dual bound when lower); NaN for greedy.
    gap
        Relative gap ``(bound - objective) / objective``: the plan is within this share of the
        best possible (NaN for greedy).
    seconds
        Wall time spent, s.
    year_index
        Per task (in problem order), the 0-based plan year in which it is done, -1 if not.
    years
        The calendar year of each plan year.
    method
        What produced the plan: ``"milp"`` (HiGHS), ``"priced"`` (rounding of the LP
        relaxation at its dual prices) or ``"greedy"``.
    message
        Status, gap and what limits the plan, in words ("within 0.8% of the best possible").
    binding
        The budget and capacity rows that limit the plan, with their figures.
    details
        Seconds and figures of each step (greedy, bound, rounding, HiGHS).
    """

    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    year_index: np.ndarray
    years: tuple[int, ...]
    task_ids: np.ndarray = field(repr=False)
    method: str = ""
    message: str = ""
    binding: tuple[str, ...] = ()
    details: dict = field(default_factory=dict, repr=False)

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
        year_index, locks_met = greedy_plan(self)
        seconds = time.perf_counter() - t0
        return Solution(
            status="greedy" if locks_met else "locks_unmet",
            objective=self.objective_of(year_index),
            bound=float("nan"),
            gap=float("nan"),
            seconds=seconds,
            year_index=year_index,
            years=self.years,
            task_ids=self.task_ids,
            method="greedy",
            message="greedy baseline, no bound",
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
        core_columns: int = 40_000,
        relaxation: Relaxation | None = None,
        lam0: np.ndarray | None = None,
        dual_share: float = 0.3,
        dual_tol: float = 1e-7,
        milp_step: bool = True,
        dual_iterations: int = 100,
        roundings: int = 5,
        say_clock_stops: bool = True,
    ) -> Solution:
        """The best plan found within ``time_limit_s`` wall-clock seconds, with a valid bound.

        Steps, all inside the time limit: the greedy plan; the Lagrangian (LP) bound and dual
        prices of the budget and capacity rows (``relax.Relaxation``, at most 30% of the time);
        the priced rounding of the relaxed plan (``heuristics.priced_plan``); then, while the
        gap is above ``gap``, HiGHS on the whole model when it has at most ``core_columns``
        columns, else on its core (the areas whose priced value is closest to zero, the rest
        kept as rounded), warm-started from the best plan so far. HiGHS runs in a child process
        that is killed at the time limit, so the limit holds even when HiGHS does not stop
        itself (its presolve can run for minutes on many identical tasks).

        Parameters
        ----------
        gap
            Relative gap at which to stop (0.01 = within 1% of the best possible).
        time_limit_s
            Wall-clock seconds for the whole solve (greedy, bound, rounding and HiGHS).
        random_seed, threads
            HiGHS options, fixed for determinism.
        warm_start
            Give HiGHS the best plan so far as a feasible start.
        core_columns
            Largest number of columns (tasks x years) handed to HiGHS.
        relaxation, lam0
            A ``Relaxation`` built for this problem's structure (only budget and capacity
            differ; it is updated to this problem's) and dual prices to start from: the budget
            curve reuses them from level to level.
        dual_share, dual_tol
            Largest share of ``time_limit_s`` spent on the bound; the search also stops when
            its model promises less than ``dual_tol`` relative improvement (the rounding is
            better the closer the prices are to the optimum, so the default is strict).
        milp_step
            Run HiGHS when the gap is above ``gap`` (False: greedy, bound and rounding only,
            as the budget curve does; HiGHS still runs when no other plan meets the locks).
        dual_iterations, roundings
            Work budgets, so that the same problem gives the same plan run to run: the bound
            search stops after ``dual_iterations`` evaluations of the relaxation (or at
            ``dual_tol``), and the plan is rounded at the best prices and the search's last
            centres, ``roundings`` in all. The wall clock only caps them (``dual_share`` of
            ``time_limit_s`` for the bound, the limit for the rounding); when the clock is
            what stopped a step, ``details["stopped_by_clock"]`` names it, ``message`` says
            it and ``status`` is ``time_limit`` unless the plan is within ``gap``.
        say_clock_stops
            Log a warning when the clock stopped a step (False: the caller says it, once for
            many solves, as the budget curve does).

        Returns
        -------
        Solution
            Never worse than the greedy plan. ``bound`` is always a valid upper bound (the
            Lagrangian bound, or HiGHS's when it is lower and covers the whole model) and
            ``gap = (bound - objective) / objective``; ``status`` is ``optimal`` only when the
            gap is proven zero, ``within_gap`` when it is at most ``gap``, else
            ``time_limit`` (``above_gap`` when HiGHS was not asked for); ``message`` says it
            in words and ``binding`` names the rows that limit the plan, with their figures.

        Raises
        ------
        SolverError
            The locks cannot all be met (with the reason found), or no plan meeting them was
            found within the time limit.
        """
        t0 = time.perf_counter()
        if self.n_tasks == 0:
            return Solution(
                "empty",
                0.0,
                0.0,
                0.0,
                0.0,
                np.zeros(0, dtype=np.int64),
                self.years,
                self.task_ids,
                method="none",
                message="no tasks to plan",
            )
        deadline = t0 + float(time_limit_s)
        details: dict = {}
        start, locks_met = greedy_plan(self)
        details["greedy_s"] = round(time.perf_counter() - t0, 3)
        details["greedy_objective"] = self.objective_of(start) if locks_met else float("nan")
        details["greedy_selected"] = start >= 0
        best: tuple[float, np.ndarray, str] | None = None
        if locks_met:
            best = (self.objective_of(start), start, "greedy")

        t1 = time.perf_counter()
        if relaxation is None:
            relaxation = Relaxation(self)
        else:
            relaxation.set_rhs(self.budget, self.capacity)
        dual = relaxation.dual(
            lam0=lam0,
            seconds=max(0.02, min(dual_share * time_limit_s, deadline - t1) * 0.9),
            rel_tol=dual_tol,
            max_iter=dual_iterations,
        )
        bound, bound_source = dual.bound, "LP relaxation (Lagrangian bound)"
        details.update(dual_s=round(dual.seconds, 3), dual_iterations=dual.iterations, lam=dual.lam)
        clock_stops = ["bound search"] if dual.stopped_by_clock else []
        if not np.isfinite(bound):  # the locks cannot be met even without budget or teams
            raise SolverError(_infeasibility_reason(self))
        t2 = time.perf_counter()
        for i, lam in enumerate((dual.lam, *dual.trail)[: max(1, int(roundings))]):
            # round at the best prices, then at the search's last centres; the clock is a
            # cap: stop when one more rounding (as long as the last ones) would pass the
            # limit less the 5% kept for stopping
            now = time.perf_counter()
            if i and now + (now - t2) / i > deadline - max(0.05 * float(time_limit_s), 0.05):
                clock_stops.append("rounding")
                break
            plan, met = priced_plan(self, relaxation, lam)
            if met and (best is None or self.objective_of(plan) > best[0] + 1e-9):
                best = (self.objective_of(plan), plan, "priced")
            details["roundings"] = i + 1
        details["rounding_s"] = round(time.perf_counter() - t2, 3)

        milp = None
        left = deadline - time.perf_counter()
        if (best is None or (milp_step and _gap(best[0], bound) > gap)) and left > 0.05:
            milp = self._milp(
                best,
                relaxation,
                dual,
                bound=bound,
                gap=gap,
                random_seed=random_seed,
                threads=threads,
                warm_start=warm_start,
                core_columns=core_columns,
                # 5% of the limit is kept for stopping HiGHS and checking its plan
                deadline=deadline - max(0.05 * float(time_limit_s), 0.05),
            )
            details.update(milp.details)
            if milp.plan is not None and (best is None or milp.objective > best[0] + 1e-9):
                best = (milp.objective, milp.plan, "milp")
            if milp.bound < bound:
                bound, bound_source = milp.bound, "HiGHS branch and bound"
        seconds = time.perf_counter() - t0
        if best is None:
            if milp is not None and milp.infeasible:
                raise SolverError(_infeasibility_reason(self))
            msg = (
                f"no plan meeting planning.locks was found within {time_limit_s:g} s "
                "(the greedy plan cannot place them); raise planning.time_limit_s or "
                "remove a lock"
            )
            raise SolverError(msg)
        objective, year_index, method = best
        year_index = prune(self, year_index)
        bound = max(bound, objective)  # rounding: a bound is never below a feasible plan
        g = _gap(objective, bound)
        if milp is not None and milp.stopped_by_clock:
            clock_stops.append("HiGHS")
        if g <= 1e-7:
            status = "optimal"
        elif g <= gap:
            status = "within_gap"
        elif clock_stops:
            status = "time_limit"
        else:  # no branch and bound asked for (the budget curve's points), or not closed
            status = "above_gap"
        details["stopped_by_clock"] = tuple(clock_stops)
        if clock_stops and say_clock_stops:
            logger.warning(
                "planning: the time limit (%g s) stopped %s; the plan may differ run to "
                "run (raise time_limit_s)",
                time_limit_s,
                stopped_steps(clock_stops),
            )
        binding = self.binding(year_index, lam=dual.lam, relaxation=relaxation)
        details["bound_source"] = bound_source
        return Solution(
            status,
            objective,
            bound,
            g,
            seconds,
            year_index,
            self.years,
            self.task_ids,
            method=method,
            message=_describe(
                status,
                method,
                g,
                gap,
                time_limit_s,
                binding,
                clock_stops=tuple(clock_stops),
                milp_ran=milp is not None,
            ),
            binding=binding,
            details=details,
        )

    def binding(
        self, year_index: np.ndarray, *, lam: np.ndarray | None = None, relaxation=None
    ) -> tuple[str, ...]:
        """The rows that limit a plan, with their figures, most limiting first.

        A row binds when the plan uses at least 98% of it, or when the LP relaxation prices it
        (``lam``). Budget rows read "budget 2027: US$1,498,000 of US$1,500,000 (99.9%)",
        capacity rows "manual teams 2027: 7,920 of 7,920 team-days (100.0%)".
        """
        rel = relaxation if relaxation is not None else Relaxation(self)
        used = rel.usage(year_index)
        price = np.zeros(rel.R) if lam is None or len(lam) != rel.R else np.asarray(lam)
        out = []
        types = [k for k, _ in self.capacity] if self.capacity is not None else []
        for i, (kind, k, y, rhs) in enumerate(rel.rows):
            share = used[i] / rhs if rhs > 0 else 0.0
            if share < 0.98 and price[i] <= 1e-9 * max(abs(self.objective_of(year_index)), 1):
                continue
            if kind == 0:
                text = (
                    f"budget {self.years[y]}: US${used[i]:,.0f} of US${rhs:,.0f} "
                    f"({100 * share:.1f}%)"
                )
            else:
                text = (
                    f"{types[k]} teams {self.years[y]}: {used[i]:,.0f} of {rhs:,.0f} team-days "
                    f"({100 * share:.1f}%)"
                )
            out.append((-price[i], -share, i, text))
        return tuple(t for *_, t in sorted(out))

    # ---------------------------------------------------------------------------- MILP

    def _milp(
        self,
        best,
        relaxation: Relaxation,
        dual,
        *,
        bound: float,
        gap: float,
        random_seed: int,
        threads: int,
        warm_start: bool,
        core_columns: int,
        deadline: float,
    ) -> _MilpResult:
        """HiGHS on the whole model, or on its core with the other areas fixed as in ``best``."""
        n, Y = self.n_tasks, self.n_years
        incumbent = best[1] if best is not None else None
        whole = n * Y <= core_columns or incumbent is None
        if whole:
            core = np.ones(n, dtype=bool)
            sub = self
        else:
            core = self._core(incumbent, relaxation, dual, core_columns)
            sub = self._subproblem(core, incumbent)
        fixed_obj = 0.0 if whole else self.objective_of(np.where(core, -1, incumbent))
        model = sub.compile()
        x0 = None
        if warm_start and incumbent is not None:
            x0 = np.zeros(model.A.shape[1])
            yi = incumbent[core]
            sel = np.flatnonzero(yi >= 0)
            x0[sel * Y + yi[sel]] = 1.0

        def enough(x, obj) -> bool:
            total = fixed_obj + obj
            return _gap(total, bound) <= gap

        res = solve_in_worker(
            model.c,
            model.A,
            model.row_lower,
            model.row_upper,
            col_lower=model.col_lower,
            col_upper=model.col_upper,
            start=x0,
            options={
                "random_seed": int(random_seed),
                "threads": int(threads),
                "mip_rel_gap": float(gap),
            },
            wall_s=max(0.0, deadline - time.perf_counter()),
            on_improved=enough,
        )
        details = {
            "milp_s": round(res["seconds"], 3),
            "milp_status": res["status"],
            "milp_columns": int(model.A.shape[1]),
            "milp_whole_model": bool(whole),
        }
        infeasible = res["status"] in ("Infeasible", "Primal infeasible or unbounded")
        plan = None
        objective = float("-inf")
        if res["x"] is not None:
            chosen = res["x"].reshape(sub.n_tasks, Y) > 0.5
            yi = np.where(chosen.any(axis=1), chosen.argmax(axis=1), -1)
            full = incumbent.copy() if not whole else np.full(n, -1, dtype=np.int64)
            full[core] = yi
            full = repair(self, full)
            plan = full
            objective = self.objective_of(full)
        milp_bound = res["bound"] if whole and np.isfinite(res["bound"]) else float("inf")
        stopped = res["killed"] or res["status"] == "Time limit reached"
        return _MilpResult(plan, objective, milp_bound, infeasible, stopped, details)

    def _core(self, incumbent, relaxation: Relaxation, dual, core_columns: int) -> np.ndarray:
        """Tasks of the areas (trees) whose decision is least sure, up to ``core_columns``."""
        rel = relaxation
        n, Y = self.n_tasks, self.n_years
        G = rel._tree_values(rel.priced(dual.lam))
        roots = rel.levels[0]
        value = np.abs(G[roots].max(axis=1))
        value[~np.isfinite(value)] = np.inf
        size = np.bincount(rel.root, minlength=n)[roots]
        locked = np.bincount(rel.root, weights=rel.locked.astype(float), minlength=n)[roots] > 0
        differs = np.bincount(
            rel.root, weights=(incumbent != dual.year_index).astype(float), minlength=n
        )[roots]
        key = np.where(differs > 0, -1.0, value)
        order = np.lexsort((roots, key))
        order = order[~locked[order]]
        take = order[np.cumsum(size[order] * Y) <= core_columns]
        chosen = np.zeros(n, dtype=bool)
        chosen[roots[take]] = True
        return chosen[rel.root]

    def _scaled_sample(self, mask: np.ndarray, frac: float) -> Problem:
        """The masked tasks (whole trees), without locks, budget and capacity times ``frac``."""
        sub = self._subproblem(mask, np.full(self.n_tasks, -1, dtype=np.int64))
        return dataclasses.replace(
            sub,
            budget=None if sub.budget is None else sub.budget * frac,
            capacity=None
            if sub.capacity is None
            else tuple((k, v * frac) for k, v in sub.capacity),
            locks=(),
        )

    def _subproblem(self, core: np.ndarray, incumbent: np.ndarray) -> Problem:
        """The core tasks alone, with what the fixed tasks use taken off budget and capacity."""
        idx = np.flatnonzero(core)
        remap = np.full(self.n_tasks, -1, dtype=np.int64)
        remap[idx] = np.arange(idx.size)
        pred = self.predecessor[idx]
        pred = np.where(pred >= 0, remap[np.maximum(pred, 0)], -1)
        fixed = np.where(core, -1, incumbent)
        sel = fixed >= 0
        Y = self.n_years
        budget = None
        if self.budget is not None:
            used = np.bincount(fixed[sel], weights=self.cost[sel], minlength=Y)
            budget = np.maximum(self.budget - used, 0.0)
        capacity = None
        if self.capacity is not None:
            capacity = []
            for k, cap in self.capacity:
                m = sel & (self.team_type == k)
                used = np.bincount(fixed[m], weights=self.team_days[m], minlength=Y)
                capacity.append((k, np.maximum(cap - used, 0.0)))
            capacity = tuple(capacity)
        locks = tuple((int(remap[t]), y) for t, y in self.locks if core[t])
        return dataclasses.replace(
            self,
            task_ids=self.task_ids[idx],
            benefit=self.benefit[idx],
            cost=self.cost[idx],
            team_days=self.team_days[idx],
            team_type=self.team_type[idx],
            predecessor=pred,
            budget=budget,
            capacity=capacity,
            locks=locks,
        )


@dataclass(frozen=True)
class _MilpResult:
    plan: np.ndarray | None
    objective: float
    bound: float
    infeasible: bool
    stopped_by_clock: bool
    details: dict
