"""Sensitivity of the ranking to the weights: Monte Carlo draws and a one-at-a-time sweep."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ccm_geo.errors import ConfigError, InputError
from ccm_geo.scoring.score import _hazard_ids, _hid_order, _ranks
from ccm_geo.scoring.settings import ScoringSettings
from ccm_geo.scoring.values import _stored_values, _value_matrix
from ccm_geo.scoring.weights import resolve_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SensitivityResult:
    """What weight perturbation does to the ranking.

    Attributes
    ----------
    areas
        Per area, indexed like the input: ``hazard_id``, ``rank`` (base), ``rank_p05``,
        ``rank_p50``, ``rank_p95`` (percentiles of the rank over the draws) and ``p_top_n``
        (share of draws in which the area is in the top N).
    summary
        ``spearman_mean``, ``spearman_p05`` (rank correlation of perturbed rankings with the
        base one), ``p_same_top_n`` (share of draws with exactly the base top-N set),
        ``draws``, ``concentration``, ``top_n``, ``seed``, ``scenario``.
    sweep
        One row per criterion: its ``weight``, the weights at which the top-N set first
        changes when the weight is lowered (``weight_down``) or raised (``weight_up``, tested up
        to ``max_weight`` = min(2 x weight, 1)), others renormalised; NaN: no change in range.
        ``enters_*``/``leaves_*`` name the areas swapping at that point.
    """

    areas: pd.DataFrame
    summary: dict[str, Any]
    sweep: pd.DataFrame


def sensitivity(
    areas: pd.DataFrame,
    settings: ScoringSettings | None = None,
    *,
    seed: int,
    draws: int | None = None,
    scenario: str | None = None,
) -> SensitivityResult:
    """How stable is the ranking when the weights move? Monte Carlo and one-at-a-time.

    Weights are drawn from a Dirichlet distribution centred on the chosen weights
    (alpha = concentration x weight; criteria of weight 0 stay at 0). Scores of all draws are
    one matrix product, (areas x criteria values) @ (criteria x draws), computed in chunks of
    draws so that memory stays near 4 bytes x areas x draws for the rank matrix.

    Parameters
    ----------
    areas
        Scored areas (``value_<key>`` columns are used when all present) or the indicator
        columns (values are then computed); needs ``hazard_id``. Not modified.
    settings
        The [scoring] settings (``top_n``, ``sensitivity.draws``/``concentration``).
    seed
        Seed of the numpy random Generator: the same seed gives the same result.
    draws
        Number of weight draws; default ``settings.sensitivity.draws``.
    scenario
        Perturb this scenario's weights instead of the base ones.

    Returns
    -------
    SensitivityResult
        Per-area rank intervals and top-N probabilities, a summary and the one-at-a-time sweep.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    n = len(hid)
    if n == 0:
        msg = "sensitivity: no areas to rank; score at least one area"
        raise InputError(msg)
    draws = settings.sensitivity.draws if draws is None else int(draws)
    if draws < 1:
        msg = f"sensitivity: draws must be >= 1 (found {draws})"
        raise ConfigError(msg)
    weights = resolve_weights(settings, scenario)
    keys = list(weights.index)
    vals = _stored_values(areas, keys)
    if vals is None:
        vals = _value_matrix(areas, settings, warn=True).values
    w = weights.to_numpy()
    order = _hid_order(hid)
    base_rank = _ranks((vals * w).sum(axis=1), order)
    vs = np.ascontiguousarray(vals[order])
    rb = base_rank[order]
    top_n = settings.top_n
    conc = settings.sensitivity.concentration
    wdraws = _dirichlet(w, conc, draws, seed)
    ranks, rho, same = _mc_ranks(vs, wdraws, rb, top_n)
    pct = _row_percentiles(ranks, (5, 50, 95))
    table = pd.DataFrame(index=areas.index)
    table["hazard_id"] = hid.to_numpy()
    table["rank"] = base_rank
    for q, col in zip(pct, ("rank_p05", "rank_p50", "rank_p95"), strict=True):
        col_vals = np.empty(n, dtype=np.int64)
        col_vals[order] = q
        table[col] = col_vals
    p_top = np.empty(n)
    p_top[order] = (ranks <= top_n).mean(axis=1)
    table["p_top_n"] = p_top
    summary = {
        "spearman_mean": float(rho.mean()),
        "spearman_p05": float(np.percentile(rho, 5)),
        "spearman_min": float(rho.min()),
        "p_same_top_n": float(same.mean()),
        "draws": draws,
        "concentration": conc,
        "top_n": top_n,
        "seed": seed,
        "scenario": scenario or "base",
    }
    fams = [settings.criteria[k].family for k in keys]
    sweep = _sweep(vs, w, keys, fams, rb, top_n, hid.to_numpy()[order])
    return SensitivityResult(areas=table, summary=summary, sweep=sweep)


def _dirichlet(w: np.ndarray, concentration: float, draws: int, seed: int) -> np.ndarray:
    """Weight draws (draws x criteria) centred on ``w``; zero weights stay zero."""
    rng = np.random.default_rng(seed)
    out = np.zeros((draws, len(w)))
    active = np.flatnonzero(w > 0)
    if len(active) == 1:
        out[:, active] = 1.0
    elif len(active) > 1:
        out[:, active] = rng.dirichlet(concentration * w[active], size=draws)
    return out


def _mc_ranks(
    vs: np.ndarray,
    wdraws: np.ndarray,
    rb: np.ndarray,
    top_n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks (areas x draws, int32), Spearman rho and same-top-N flag per draw.

    ``vs`` and ``rb`` are in hazard_id order. Areas with identical values tie in every draw:
    they are scored once as a group and ranked inside it by hazard_id, so only distinct value
    rows are sorted (real registers hold many identical rows, e.g. all-zero indicators).
    """
    n = vs.shape[0]
    draws = wdraws.shape[0]
    # Criteria that weigh nothing in every draw cannot split areas: group on the others only.
    live = np.any(wdraws != 0.0, axis=0)
    vs, wdraws = vs[:, live], wdraws[:, live]
    uniq, inverse = np.unique(vs + 0.0, axis=0, return_inverse=True)  # + 0.0: -0.0 -> 0.0
    inverse = inverse.reshape(-1)
    # Number the groups by their first area in hazard_id order, so that a stable sort breaks
    # score ties between groups by hazard_id, as the base ranking does.
    first = np.full(len(uniq), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))
    perm = np.argsort(first, kind="stable")
    relabel = np.empty_like(perm)
    relabel[perm] = np.arange(len(perm))
    uniq, inverse = uniq[perm], relabel[inverse]
    sizes = np.bincount(inverse, minlength=len(uniq))
    by_group = np.argsort(inverse, kind="stable")  # positions grouped, hazard_id order inside
    within = np.empty(n, dtype=np.int64)
    within[by_group] = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ranks = np.empty((n, draws), dtype=np.int32)
    rho = np.empty(draws)
    same = np.empty(draws, dtype=bool)
    chunk = max(1, min(draws, 2_000_000 // max(n, 1)))
    base_top = np.flatnonzero(rb <= top_n)
    denom = n * (n * n - 1.0)
    rbf = rb.astype(np.float64)
    for s in range(0, draws, chunk):
        e = min(draws, s + chunk)
        neg = (-wdraws[s:e]) @ uniq.T  # (c x groups): minus the scores, ascending = best first
        order = np.argsort(np.round(neg, 12), axis=1, kind="stable")  # as _ranks rounds
        del neg
        starts = np.cumsum(sizes[order], axis=1) - sizes[order]  # first rank - 1 of each group
        start = np.empty_like(starts)
        np.put_along_axis(start, order, starts, axis=1)
        del order, starts
        r = (start[:, inverse] + within[None, :] + 1).astype(np.int32)
        del start
        d = r - rbf[None, :]
        rho[s:e] = 1.0 - 6.0 * np.einsum("ij,ij->i", d, d) / denom if n > 1 else 1.0
        del d
        same[s:e] = np.all(r[:, base_top] <= top_n, axis=1)
        ranks[:, s:e] = r.T
    return ranks, rho, same


def _row_percentiles(ranks: np.ndarray, qs: tuple[int, ...]) -> list[np.ndarray]:
    """Percentiles of each row (observed values, 'inverted_cdf'), in blocks of rows."""
    n = ranks.shape[0]
    out = [np.empty(n, dtype=np.int64) for _ in qs]
    block = max(1, 2_000_000 // max(ranks.shape[1], 1))
    for s in range(0, n, block):
        e = min(n, s + block)
        p = np.percentile(ranks[s:e], qs, axis=1, method="inverted_cdf")
        for i in range(len(qs)):
            out[i][s:e] = p[i]
    return out


def _sweep(
    vs: np.ndarray,
    w: np.ndarray,
    keys: list[str],
    fams: list[str],
    rb: np.ndarray,
    top_n: int,
    hid_sorted: np.ndarray,
) -> pd.DataFrame:
    """One-at-a-time: the exact weight at which the top-N set first changes, per criterion.

    With criterion k's weight set to f * w_k and the others scaled by (1 - f w_k)/(1 - w_k),
    every score is linear in f: a_i + f b_i. The top-N set changes first where an area
    outside it overtakes one inside, i.e. at the nearest crossing of two such lines.
    """
    n = len(rb)
    base = (vs * w).sum(axis=1)
    inside = np.flatnonzero(rb <= top_n)
    outside = np.flatnonzero(rb > top_n)
    rows = []
    for k, key in enumerate(keys):
        wk = float(w[k])
        row: dict[str, Any] = {
            "criterion": key,
            "family": fams[k],
            "weight": wk,
            "weight_down": np.nan,
            "enters_down": None,
            "leaves_down": None,
            "weight_up": np.nan,
            "enters_up": None,
            "leaves_up": None,
            "max_weight": min(2.0 * wk, 1.0),
        }
        if wk <= 0 or wk >= 1 or top_n >= n or len(inside) == 0:
            rows.append(row)
            continue
        fmax = min(2.0, 1.0 / wk)
        a = (base - wk * vs[:, k]) / (1.0 - wk)
        b = wk * (vs[:, k] - a)
        ao, bo = a[outside], b[outside]
        best_up, best_down = (np.inf, -1, -1), (-np.inf, -1, -1)
        for i in inside:
            db = bo - b[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                f = (a[i] - ao) / db
            up = np.flatnonzero((db > 1e-15) & (f <= fmax + 1e-12))
            if up.size:
                m = up[np.argmin(f[up])]
                fu = max(1.0, float(f[m]))
                if fu < best_up[0]:
                    best_up = (fu, int(outside[m]), int(i))
            down = np.flatnonzero((db < -1e-15) & (f >= -1e-12))
            if down.size:
                m = down[np.argmax(f[down])]
                fd = min(1.0, float(f[m]))
                if fd > best_down[0]:
                    best_down = (fd, int(outside[m]), int(i))
        if best_up[1] >= 0:
            row.update(
                weight_up=min(best_up[0], fmax) * wk,
                enters_up=hid_sorted[best_up[1]],
                leaves_up=hid_sorted[best_up[2]],
            )
        if best_down[1] >= 0:
            row.update(
                weight_down=max(best_down[0], 0.0) * wk,
                enters_down=hid_sorted[best_down[1]],
                leaves_down=hid_sorted[best_down[2]],
            )
        rows.append(row)
    return pd.DataFrame(rows)
