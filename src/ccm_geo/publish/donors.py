"""Donor matching: which planned tasks to propose to which donor, within every donor's rules.

Each donor (a :class:`~ccm_geo.publish.settings.DonorProfile`) funds some activities
(clearance, survey), some contamination (CMR, mines, any), some regions, through some
implementing channels, within an envelope (a total or per year) and a grant size range. The
matching is a small MILP solved by HiGHS, warm-started from a greedy allocation::

    maximise   sum_{t,d} benefit_t * y[t,d]  -  penalty * sum_{r,d} z[r,d]
    subject to sum_d y[t,d] <= 1                        (a task to at most one donor)
               sum_t cost_t * y[t,d] <= envelope_d      (per year when the envelope is per year)
               min_grant_d * w_d <= sum_t cost_t * y[t,d] <= max_grant_d * w_d
               y[t,d] <= w_d,  y[t,d] <= z[region(t),d]  (package non-empty; regions used)

with binaries ``y`` for eligible (task, donor) pairs only, ``z`` per (region, donor) and ``w``
per donor. ``penalty`` is a small share of the median task benefit: it breaks ties towards
packages in fewer regions without giving up a valuable task. What no donor takes is the
programme funding gap, reported by year and region.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from ccm_geo._highs import new_highs, pass_binary_model
from ccm_geo.errors import ConfigError, InputError
from ccm_geo.publish.settings import DonorProfile

__all__ = [
    "Allocation",
    "match_donors",
    "candidate_tasks",
    "eligibility",
    "task_activity",
    "REQUIRED_TASK_COLUMNS",
    "DEFAULT_CHANNEL",
]

logger = logging.getLogger(__name__)

#: Task columns the matching needs (``benefit``, ``score``, ``channel``, ``kind`` are optional).
REQUIRED_TASK_COLUMNS = ("task_id", "method", "region", "year", "cost_usd", "cmr_m2", "mine_m2")
#: Implementing channel assumed for a task when the plan has no ``channel`` column or value:
#: most clearance funded by donors is implemented by international or national NGOs.
DEFAULT_CHANNEL = "ngo"

_TOL = 1e-6


@dataclass(frozen=True)
class Allocation:
    """Which donor each candidate task goes to, and how the allocation was found.

    Attributes
    ----------
    candidates
        The tasks that could be funded (planned: ``selected`` and with a ``year``), in a stable
        order, with ``task_id``, ``year``, ``region``, ``cost_usd``, ``cmr_m2``, ``mine_m2``,
        ``benefit``, ``activity`` and ``channel``.
    funded_by
        Per candidate ``task_id``: the key (slug) of the donor it is proposed to, or None.
    donors
        The donor profiles, in configuration order.
    eligible
        The eligible (task_id, donor) pairs: columns ``task_id`` and ``donor``.
    status
        ``"optimal"``, ``"time_limit"``, ``"greedy"`` (heuristic only), ``"warm_start"`` (the
        solver found nothing better than the greedy start) or ``"empty"`` (no eligible pair).
    objective
        Benefit allocated minus the region penalty (benefit units: m²-equivalents).
    bound
        The solver's upper bound on the objective (NaN for greedy).
    gap
        Relative gap ``(bound - objective) / objective`` (NaN for greedy).
    seconds
        Wall time, s.
    region_penalty
        The penalty per (region, donor) used, in benefit units.
    """

    candidates: pd.DataFrame
    funded_by: pd.Series
    donors: tuple[DonorProfile, ...]
    eligible: pd.DataFrame
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    region_penalty: float
    default_channel: str = DEFAULT_CHANNEL
    notes: tuple[str, ...] = field(default=())

    def donor(self, key: str) -> DonorProfile:
        """The profile of the donor with this key (slug) or name.

        Raises
        ------
        ConfigError
            No donor has this key or name; the message lists them.
        """
        for d in self.donors:
            if key in (d.key, d.name):
                return d
        msg = (
            f"donor {key!r} is not in the project's [[donors]]; known: "
            f"{[d.name for d in self.donors]} (keys {[d.key for d in self.donors]})"
        )
        raise ConfigError(msg)

    def package(self, donor: str) -> pd.DataFrame:
        """The candidate rows proposed to ``donor`` (key or name), in candidate order."""
        key = self.donor(donor).key
        return self.candidates[(self.funded_by == key).to_numpy()]

    def unfunded(self) -> pd.DataFrame:
        """The candidate rows no donor takes."""
        return self.candidates[self.funded_by.isna().to_numpy()]

    def totals(self) -> pd.DataFrame:
        """Per donor: tasks, cost (US$ and the donor's currency), CMR and mine m², regions.

        Returns
        -------
        pandas.DataFrame
            One row per donor in configuration order, columns ``donor`` (key), ``name``,
            ``tasks``, ``cost_usd``, ``currency``, ``cost_currency``, ``cmr_m2``, ``mine_m2``,
            ``regions`` (``;``-joined), ``envelope_usd`` (total over its years),
            ``min_grant_usd``, ``max_grant_usd``.
        """
        rows = []
        for d in self.donors:
            p = self.package(d.key)
            env = d.envelope()
            env_total = float(sum(env.values())) if isinstance(env, dict) else float(env)
            cost = float(p["cost_usd"].sum())
            rows.append(
                {
                    "donor": d.key,
                    "name": d.name,
                    "tasks": len(p),
                    "cost_usd": cost,
                    "currency": d.currency,
                    "cost_currency": cost * d.exchange_rate,
                    "cmr_m2": float(p["cmr_m2"].sum()),
                    "mine_m2": float(p["mine_m2"].sum()),
                    "regions": ";".join(sorted(p["region"].astype(str).unique())),
                    "envelope_usd": env_total,
                    "min_grant_usd": d.min_grant_usd,
                    "max_grant_usd": _max_grant(d),
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "donor",
                "name",
                "tasks",
                "cost_usd",
                "currency",
                "cost_currency",
                "cmr_m2",
                "mine_m2",
                "regions",
                "envelope_usd",
                "min_grant_usd",
                "max_grant_usd",
            ],
        )

    def funding_gap(self) -> pd.DataFrame:
        """The programme funding gap: planned cost, cost proposed to donors, and what remains.

        Returns
        -------
        pandas.DataFrame
            One row per (year, region) with planned tasks, then per year with
            ``region == "all"``, then ``year == "all"``/``region == "all"``. Columns ``year``,
            ``region``, ``planned_usd``, ``funded_usd``, ``gap_usd``, ``gap_cmr_m2``,
            ``gap_mine_m2``, ``tasks_unfunded``.
        """
        c = self.candidates.assign(
            funded=self.funded_by.notna().to_numpy(),
            year=self.candidates["year"].astype(int).astype(str),
            region=self.candidates["region"].astype(str),
        )
        c["funded_usd"] = np.where(c["funded"], c["cost_usd"], 0.0)
        c["gap_cmr_m2"] = np.where(c["funded"], 0.0, c["cmr_m2"])
        c["gap_mine_m2"] = np.where(c["funded"], 0.0, c["mine_m2"])
        c["tasks_unfunded"] = (~c["funded"]).astype(int)
        cols = ["cost_usd", "funded_usd", "gap_cmr_m2", "gap_mine_m2", "tasks_unfunded"]
        parts = [
            c.groupby(["year", "region"], sort=True)[cols].sum().reset_index(),
            c.groupby("year", sort=True)[cols].sum().reset_index().assign(region="all"),
            c[cols].sum().to_frame().T.assign(year="all", region="all"),
        ]
        out = pd.concat(parts, ignore_index=True).rename(columns={"cost_usd": "planned_usd"})
        out["gap_usd"] = out["planned_usd"] - out["funded_usd"]
        out["tasks_unfunded"] = out["tasks_unfunded"].astype(int)
        return out[
            [
                "year",
                "region",
                "planned_usd",
                "funded_usd",
                "gap_usd",
                "gap_cmr_m2",
                "gap_mine_m2",
                "tasks_unfunded",
            ]
        ]


def match_donors(
    tasks: pd.DataFrame,
    donors: Sequence[DonorProfile],
    *,
    seed: int = 20171005,
    default_channel: str = DEFAULT_CHANNEL,
    region_penalty: float = 0.05,
    gap: float = 0.001,
    time_limit_s: float = 20.0,
    use_solver: bool = True,
) -> Allocation:
    """Propose to each donor a coherent package of planned tasks within its constraints.

    Parameters
    ----------
    tasks
        The planning stage's tasks: ``task_id``, ``method``, ``region``, ``year`` (NaN when not
        selected), ``cost_usd`` (US$), ``cmr_m2``, ``mine_m2`` (m²); optionally ``selected``,
        ``kind`` (nts/ts/clearance), ``benefit`` (else ``area_m2 × score``), ``channel``.
        Only planned tasks (``selected`` and with a year) are candidates.
    donors
        Donor profiles, in configuration order (keys must be unique).
    seed
        HiGHS random seed (determinism).
    default_channel
        Implementing channel of tasks without a ``channel`` value.
    region_penalty
        Penalty per region in a donor's package, as a share of the median candidate benefit.
    gap, time_limit_s
        Relative MIP gap at which HiGHS stops, and its time limit (s); the gap reached is
        reported.
    use_solver
        False: the greedy allocation only.

    Returns
    -------
    Allocation
        Never worse than the greedy allocation.

    Raises
    ------
    InputError
        A required task column is missing.
    ConfigError
        Two donors share a key (slug).
    """
    t0 = time.perf_counter()
    donors = tuple(donors)
    _check_donors(donors)
    cand = candidate_tasks(tasks, default_channel=default_channel)
    elig = eligibility(cand, donors)
    pairs = np.argwhere(elig)  # rows (task, donor), task-major: deterministic order
    ben = cand["benefit"].to_numpy(dtype=float)
    positive = ben[ben > 0]
    penalty = float(region_penalty * (np.median(positive) if len(positive) else 1.0))
    pair_frame = pd.DataFrame(
        {
            "task_id": cand["task_id"].to_numpy()[pairs[:, 0]] if len(pairs) else [],
            "donor": [donors[j].key for j in pairs[:, 1]] if len(pairs) else [],
        }
    )
    model = _Model.build(cand, donors, pairs, penalty)
    greedy = _greedy(model)
    result = ("greedy", model.objective(greedy), float("nan"), float("nan"))
    chosen = greedy
    notes: list[str] = []
    if len(pairs) == 0:
        result = ("empty", 0.0, 0.0, 0.0)
    elif use_solver:
        try:
            solved = _solve(model, greedy, seed=seed, gap=gap, time_limit_s=time_limit_s)
        except ImportError:  # pragma: no cover - highspy is a dependency
            notes.append("highspy is not installed: greedy allocation (pip install highspy)")
        else:
            if solved is None:
                notes.append("HiGHS found no allocation in time: greedy allocation kept")
            else:
                label, x, bound = solved
                obj = model.objective(x)
                if obj + 1e-9 < model.objective(greedy):
                    label, x = "warm_start", greedy
                    obj = model.objective(greedy)
                chosen = x
                result = (label, obj, bound, _rel_gap(obj, bound))
    funded = np.full(len(cand), None, dtype=object)
    for k in np.flatnonzero(chosen[: len(pairs)] > 0.5):
        funded[pairs[k, 0]] = donors[pairs[k, 1]].key
    status, objective, bound, rel_gap = result
    alloc = Allocation(
        candidates=cand,
        funded_by=pd.Series(
            funded, index=cand["task_id"].to_numpy(), name="funded_by", dtype=object
        ),
        donors=donors,
        eligible=pair_frame,
        status=status,
        objective=float(objective),
        bound=float(bound),
        gap=float(rel_gap),
        seconds=time.perf_counter() - t0,
        region_penalty=penalty,
        default_channel=default_channel,
        notes=tuple(notes),
    )
    logger.info(
        "donor matching: %s, %d of %d tasks proposed, gap %s",
        status,
        int(alloc.funded_by.notna().sum()),
        len(cand),
        rel_gap,
    )
    return alloc


def candidate_tasks(tasks: pd.DataFrame, *, default_channel: str = DEFAULT_CHANNEL) -> pd.DataFrame:
    """The planned tasks a donor could fund, with the columns the matching uses.

    Returns
    -------
    pandas.DataFrame
        A new frame (the caller's is not modified), sorted by ``year`` then ``task_id``, with
        ``task_id``, ``hazard_id`` (when present), ``year`` (int), ``region``, ``cost_usd``,
        ``cmr_m2``, ``mine_m2``, ``benefit``, ``activity`` (``survey``/``clearance``),
        ``channel``.
    """
    missing = [c for c in REQUIRED_TASK_COLUMNS if c not in tasks.columns]
    if missing:
        msg = (
            f"donor matching: the tasks lack columns {missing} (found {list(tasks.columns)}); "
            "run the planning stage first, it writes them"
        )
        raise InputError(msg)
    year = pd.to_numeric(tasks["year"], errors="coerce")
    keep = year.notna().to_numpy().copy()
    if "selected" in tasks.columns:
        keep &= tasks["selected"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    t = pd.DataFrame(tasks.loc[keep]).copy()
    if "geometry" in t.columns:
        t = t.drop(columns="geometry")
    t["task_id"] = t["task_id"].astype(str)
    t["year"] = year[keep].astype(int).to_numpy()
    t["region"] = t["region"].fillna("unknown").astype(str)
    for col in ("cost_usd", "cmr_m2", "mine_m2"):
        t[col] = pd.to_numeric(t[col], errors="coerce").fillna(0.0).astype(float)
    if "benefit" in t.columns:
        ben = pd.to_numeric(t["benefit"], errors="coerce")
    else:
        ben = pd.Series(np.nan, index=t.index)
    if ben.isna().any():
        area = pd.to_numeric(t.get("area_m2", t["cmr_m2"] + t["mine_m2"]), errors="coerce")
        score = pd.to_numeric(t.get("score", 1.0), errors="coerce")
        ben = ben.fillna(area.fillna(0.0) * score.fillna(0.0))
    t["benefit"] = ben.clip(lower=0.0).astype(float)
    t["activity"] = task_activity(t)
    if "channel" in t.columns:
        t["channel"] = t["channel"].where(t["channel"].notna(), default_channel).astype(str)
    else:
        t["channel"] = default_channel
    t["channel"] = t["channel"].str.strip().str.lower()
    return t.sort_values(["year", "task_id"], kind="stable").reset_index(drop=True)


def task_activity(tasks: pd.DataFrame) -> pd.Series:
    """``"survey"`` for non-technical and technical survey tasks, else ``"clearance"``.

    Uses ``kind`` (``nts``, ``ts``, ``clearance``) when present, else the method name: a
    method named ``nts``, ``ts`` or ``ts_<variant>``, or containing "survey", is survey.
    """
    if "kind" in tasks.columns:
        kind = tasks["kind"].astype(str).str.lower()
        return pd.Series(
            np.where(kind.isin(["nts", "ts"]), "survey", "clearance"),
            index=tasks.index,
            name="activity",
        )
    method = tasks["method"].astype(str).str.lower()
    survey = method.str.fullmatch(r"n?ts(_.*)?") | method.str.contains("survey")
    return pd.Series(np.where(survey, "survey", "clearance"), index=tasks.index, name="activity")


def eligibility(candidates: pd.DataFrame, donors: Sequence[DonorProfile]) -> np.ndarray:
    """Boolean matrix (task × donor): may the donor fund the task?

    A task is eligible for a donor when its activity is in the donor's ``thematic`` list; it
    holds the donor's contamination focus (``cmr``: ``cmr_m2 > 0``; ``mines``:
    ``mine_m2 > 0``; a mixed task qualifies under either); its region is in ``regions`` (or
    that list is empty); its channel is allowed (and not ``military`` when the donor excludes
    the military); the donor funds its year; and its cost fits the donor's largest grant and
    envelope (of that year, when per year).
    """
    n, m = len(candidates), len(donors)
    out = np.zeros((n, m), dtype=bool)
    activity = candidates["activity"].to_numpy()
    region = candidates["region"].astype(str).to_numpy()
    channel = candidates["channel"].astype(str).to_numpy()
    year = candidates["year"].to_numpy(dtype=int)
    cost = candidates["cost_usd"].to_numpy(dtype=float)
    cmr = candidates["cmr_m2"].to_numpy(dtype=float) > 0
    mine = candidates["mine_m2"].to_numpy(dtype=float) > 0
    for j, d in enumerate(donors):
        ok = np.isin(activity, list(d.thematic))
        if d.contamination == "cmr":
            ok &= cmr
        elif d.contamination == "mines":
            ok &= mine
        if d.regions:
            ok &= np.isin(region, list(d.regions))
        if d.channels_allowed:
            ok &= np.isin(channel, [c.strip().lower() for c in d.channels_allowed])
        if d.excludes_military:
            ok &= channel != "military"
        ok &= np.array([d.funds_year(int(y)) for y in year], dtype=bool)
        env = d.envelope()
        room = (
            np.array([env.get(int(y), 0.0) for y in year])
            if isinstance(env, dict)
            else np.full(n, env)
        )
        ok &= cost <= np.minimum(room, _max_grant(d)) + _TOL
        out[:, j] = ok
    return out


# --------------------------------------------------------------------------------- helpers


def _max_grant(d: DonorProfile) -> float:
    """Largest package: ``max_grant_usd``, capped by the whole envelope."""
    env = d.envelope()
    total = float(sum(env.values())) if isinstance(env, dict) else float(env)
    return min(total, d.max_grant_usd) if d.max_grant_usd is not None else total


def _check_donors(donors: tuple[DonorProfile, ...]) -> None:
    keys = [d.key for d in donors]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        msg = (
            f"donors: several [[donors]] entries have the key(s) {dup} (from their names or "
            "slugs); give each a distinct `slug`"
        )
        raise ConfigError(msg)


def _rel_gap(objective: float, bound: float) -> float:
    if not np.isfinite(bound):
        return float("nan")
    return max(0.0, bound - objective) / max(abs(objective), 1e-9)


@dataclass(frozen=True)
class _Model:
    """The matching MILP as matrices; columns: y (pairs), then z (region, donor), then w."""

    c: np.ndarray
    A: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    pairs: np.ndarray
    pair_z: np.ndarray  # z column of each pair
    n_donors: int
    cost: np.ndarray
    benefit: np.ndarray
    year: np.ndarray
    region_code: np.ndarray
    donors: tuple[DonorProfile, ...]
    penalty: float

    @property
    def n_y(self) -> int:
        return len(self.pairs)

    def w_col(self, j: int) -> int:
        return self.A.shape[1] - self.n_donors + j

    @classmethod
    def build(
        cls, cand: pd.DataFrame, donors: tuple[DonorProfile, ...], pairs: np.ndarray, penalty: float
    ) -> _Model:
        P, m = len(pairs), len(donors)
        cost = cand["cost_usd"].to_numpy(dtype=float)
        benefit = cand["benefit"].to_numpy(dtype=float)
        year = cand["year"].to_numpy(dtype=int)
        region_code = pd.factorize(cand["region"].astype(str), sort=True)[0]
        t_of, d_of = (pairs[:, 0], pairs[:, 1]) if P else (np.zeros(0, int), np.zeros(0, int))
        z_uniques, z_codes = np.unique(region_code[t_of] * max(m, 1) + d_of, return_inverse=True)
        n_z = len(z_uniques)
        pair_z = P + np.asarray(z_codes, dtype=np.int64)
        ncol = P + n_z + m
        c = np.concatenate([benefit[t_of], np.full(n_z, -penalty), np.zeros(m)])
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        lo: list[float] = []
        up: list[float] = []
        r = 0

        def add(col_idx, coef, low, high):
            nonlocal r
            rows.append(np.full(len(col_idx), r))
            cols.append(np.asarray(col_idx, dtype=np.int64))
            vals.append(np.asarray(coef, dtype=float))
            lo.append(low)
            up.append(high)
            r += 1

        # a task to at most one donor (only where it has several)
        for t in np.unique(t_of):
            k = np.flatnonzero(t_of == t)
            if len(k) > 1:
                add(k, np.ones(len(k)), -np.inf, 1.0)
        for j, d in enumerate(donors):
            k = np.flatnonzero(d_of == j)
            w = P + n_z + j
            env = d.envelope()
            if isinstance(env, dict):
                for y in sorted(set(year[t_of[k]].tolist())):
                    ky = k[year[t_of[k]] == y]
                    add(ky, cost[t_of[ky]], -np.inf, env.get(int(y), 0.0))
            elif len(k):
                add(k, cost[t_of[k]], -np.inf, float(env))
            # min_grant * w <= sum cost y <= max_grant * w
            add(np.append(k, w), np.append(cost[t_of[k]], -_max_grant(d)), -np.inf, 0.0)
            add(np.append(k, w), np.append(cost[t_of[k]], -d.min_grant_usd), 0.0, np.inf)
        # y <= w and y <= z, one row each per pair
        n0 = r
        pr = np.arange(P)
        for other in (P + n_z + d_of, pair_z):
            rows.append(np.repeat(n0 + pr, 2))
            cols.append(np.column_stack([pr, other]).ravel())
            vals.append(np.tile([1.0, -1.0], P))
            n0 += P
        lo += [-np.inf] * (2 * P)
        up += [0.0] * (2 * P)
        r = n0
        A = sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0),
                (
                    np.concatenate(rows) if rows else np.zeros(0, int),
                    np.concatenate(cols) if cols else np.zeros(0, int),
                ),
            ),
            shape=(r, ncol),
        )
        return cls(
            c=c,
            A=A,
            lower=np.array(lo, dtype=float),
            upper=np.array(up, dtype=float),
            pairs=pairs,
            pair_z=pair_z,
            n_donors=m,
            cost=cost,
            benefit=benefit,
            year=year,
            region_code=region_code,
            donors=donors,
            penalty=penalty,
        )

    def complete(self, y: np.ndarray) -> np.ndarray:
        """The full column vector (y, z, w) implied by a choice of pairs ``y``."""
        x = np.zeros(self.A.shape[1])
        x[: self.n_y] = y[: self.n_y]
        on = np.flatnonzero(x[: self.n_y] > 0.5)
        x[self.pair_z[on]] = 1.0
        x[self.w_col(0) + self.pairs[on, 1]] = 1.0 if self.n_donors else 0.0
        return x

    def objective(self, x: np.ndarray) -> float:
        return float(self.c @ self.complete(x))

    def feasible(self, x: np.ndarray) -> bool:
        act = self.A @ self.complete(x)
        return bool(np.all(act >= self.lower - 1e-6) and np.all(act <= self.upper + 1e-6))


def _greedy(model: _Model) -> np.ndarray:
    """A feasible allocation: best benefit per dollar first, to a donor already in its region.

    Tasks in decreasing benefit / cost (ties by candidate order) each go to the first eligible
    donor (preferring one already funding that region, then configuration order) whose
    envelope and largest grant still have room. Packages below a donor's smallest grant are
    then emptied and their tasks offered once more to the other donors.
    """
    P = model.n_y
    y = np.zeros(model.A.shape[1])
    if P == 0:
        return y
    t_of, d_of = model.pairs[:, 0], model.pairs[:, 1]
    ratio = model.benefit / np.maximum(model.cost, 1e-9)
    order = sorted(np.unique(t_of).tolist(), key=lambda t: (-ratio[t], t))
    spent = np.zeros(model.n_donors)
    spent_year: dict[tuple[int, int], float] = {}
    regions: list[set[int]] = [set() for _ in range(model.n_donors)]
    taken = np.full(len(model.cost), -1)
    banned = np.zeros(model.n_donors, dtype=bool)

    def fits(t: int, j: int) -> bool:
        d = model.donors[j]
        c = model.cost[t]
        if banned[j] or spent[j] + c > _max_grant(d) + _TOL:
            return False
        env = d.envelope()
        if isinstance(env, dict):
            yv = int(model.year[t])
            return spent_year.get((j, yv), 0.0) + c <= env.get(yv, 0.0) + _TOL
        return spent[j] + c <= env + _TOL

    def place(tasks_in_order: list[int]) -> None:
        for t in tasks_in_order:
            if taken[t] >= 0:
                continue
            ks = np.flatnonzero(t_of == t)
            options = sorted(
                ks, key=lambda k: (model.region_code[t] not in regions[d_of[k]], d_of[k])
            )
            for k in options:
                j = d_of[k]
                if fits(t, j):
                    y[k] = 1.0
                    taken[t] = j
                    spent[j] += model.cost[t]
                    yv = int(model.year[t])
                    spent_year[(j, yv)] = spent_year.get((j, yv), 0.0) + model.cost[t]
                    regions[j].add(int(model.region_code[t]))
                    break

    place(order)
    for j, d in enumerate(model.donors):
        if 0 < spent[j] < d.min_grant_usd - _TOL or (spent[j] == 0 and d.min_grant_usd > 0):
            banned[j] = True
            drop = np.flatnonzero((d_of == j) & (y[:P] > 0.5))
            y[drop] = 0.0
            for k in drop:
                taken[t_of[k]] = -1
            spent[j] = 0.0
            regions[j].clear()
            spent_year = {key: v for key, v in spent_year.items() if key[0] != j}
    place(order)
    # a second pass can leave a donor below its minimum again only if it was not banned and
    # gained nothing; empty such packages for safety
    for j, d in enumerate(model.donors):
        if 0 < spent[j] < d.min_grant_usd - _TOL:
            y[np.flatnonzero(d_of == j)] = 0.0
    return model.complete(y)


def _solve(
    model: _Model, start: np.ndarray, *, seed: int, gap: float, time_limit_s: float
) -> tuple[str, np.ndarray, float] | None:
    """Solve with HiGHS from the greedy start; None when it finds nothing."""
    import highspy

    h = new_highs(
        random_seed=int(seed), threads=1, time_limit=float(time_limit_s), mip_rel_gap=float(gap)
    )
    pass_binary_model(h, model.c, model.A, model.lower, model.upper, start=start)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if info.primal_solution_status != 2:  # kSolutionStatusFeasible
        return None
    x = np.asarray(h.getSolution().col_value)
    y = np.where(x[: model.n_y] > 0.5, 1.0, 0.0)
    x = model.complete(y)
    if not model.feasible(x):  # rounding: keep what is certainly feasible
        return None
    ms = highspy.HighsModelStatus
    label = (
        "optimal"
        if status == ms.kOptimal
        else "time_limit"
        if status == ms.kTimeLimit
        else h.modelStatusToString(status)
    )
    return label, x, float(info.mip_dual_bound)
