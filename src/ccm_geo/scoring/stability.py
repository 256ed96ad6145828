"""Sensitivity of the ranking to the weights: Monte Carlo draws and a one-at-a-time sweep."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
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
        Per area, indexed like the input: ``hazard_id``, ``rank`` (base, ties broken by
        hazard_id), ``tied_with`` (other areas with the same base score), ``rank_p05``
        (5th percentile of the best place of the area's tie group), ``rank_p50`` (median
        mid-rank), ``rank_p95`` (95th percentile of the worst place of its tie group), so that
        an interval always covers the tie group, and ``p_top_n`` (expected share of draws in
        which the area is in the top N, a tie straddling place N counting its share of places).
    summary
        ``spearman_mean``, ``spearman_p05``, ``spearman_min`` (Spearman correlation with ties,
        of perturbed rankings with the base one; None when a ranking is all one tie),
        ``p_same_top_n`` (share of draws with exactly the base top-N set; None when a tie
        straddles place N in the base ranking, so the top N is not determined), ``tied_share``
        (share of areas whose base score equals another's), ``top_n_tied``, ``draws``,
        ``concentration``, ``top_n``, ``seed``, ``scenario``.
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
    client: Any = None,
) -> SensitivityResult:
    """How stable is the ranking when the weights move? Monte Carlo and one-at-a-time.

    Weights are drawn from a Dirichlet distribution centred on the chosen weights
    (alpha = concentration x weight; criteria of weight 0 stay at 0). Scores of all draws are
    one matrix product, (areas x criteria values) @ (criteria x draws), computed in chunks of
    draws so that memory stays near 4 bytes x areas x draws for the rank matrix.

    The draws come in blocks of :data:`MC_BLOCK`, block b drawn from its own generator
    (``SeedSequence(seed, spawn_key=(b,))``), so the same seed gives the same numbers whether
    the blocks run here one after the other or on any number of Dask workers (``client``).

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
    client
        A ``distributed.Client``: the blocks of draws run as tasks on its workers (the value
        matrix is sent once). Default None: in this process.

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
        vals = _value_matrix(areas, settings, warn=True).values  # not scored: say the codes
    w = weights.to_numpy()
    order = _hid_order(hid)
    base_score = (vals * w).sum(axis=1)
    base_rank = _ranks(base_score, order)
    base_lo, base_hi = _tie_ranges(base_score)
    vs = np.ascontiguousarray(vals[order])
    rb = base_rank[order]
    top_n = settings.top_n
    conc = settings.sensitivity.concentration
    lo, hi, rho, same, p_top_sorted = _mc_blocks(
        vs, w, conc, draws, seed, base_lo[order], base_hi[order], top_n, client
    )
    p05, p50, p95 = _area_percentiles(lo, hi)
    del lo, hi
    table = pd.DataFrame(index=areas.index)
    table["hazard_id"] = hid.to_numpy()
    table["rank"] = base_rank
    table["tied_with"] = (base_hi - base_lo).astype(np.int64)
    for q, col in zip((p05, p50, p95), ("rank_p05", "rank_p50", "rank_p95"), strict=True):
        col_vals = np.empty(n, dtype=np.int64 if col != "rank_p50" else float)
        col_vals[order] = q
        table[col] = col_vals
    p_top = np.empty(n)
    p_top[order] = p_top_sorted
    table["p_top_n"] = p_top
    tied_share = float((base_hi > base_lo).mean())
    top_tied = bool(np.any((base_lo <= top_n) & (base_hi > top_n)))
    finite = rho[np.isfinite(rho)]
    summary = {
        "spearman_mean": float(finite.mean()) if finite.size else None,
        "spearman_p05": float(np.percentile(finite, 5)) if finite.size else None,
        "spearman_min": float(finite.min()) if finite.size else None,
        "p_same_top_n": None if top_tied else float(same.mean()),
        "tied_share": tied_share,
        "top_n_tied": top_tied,
        "draws": draws,
        "concentration": conc,
        "top_n": top_n,
        "seed": seed,
        "scenario": scenario or "base",
    }
    fams = [settings.criteria[k].family for k in keys]
    sweep = _sweep(vs, w, keys, fams, rb, top_n, hid.to_numpy()[order])
    return SensitivityResult(areas=table, summary=summary, sweep=sweep)


#: Weight draws per Monte Carlo block (each block has its own seed; see :func:`sensitivity`).
MC_BLOCK = 250
#: Most threads that run blocks at once without a Dask client (bounded by the CPU count).
MC_THREADS = 4


def _mc_blocks(vs, w, conc, draws, seed, base_lo, base_hi, top_n, client=None):
    """:func:`_mc_ranks` over blocks of draws, in this process or as Dask tasks; the blocks
    and their seeds depend on ``draws`` and ``seed`` only, never on where they run."""
    spans = [(s, min(draws, s + MC_BLOCK)) for s in range(0, draws, MC_BLOCK)]
    args = (w, conc, base_lo, base_hi, top_n)
    blocks: list = []
    if client is not None:
        vs_f, args_f = client.scatter([vs, args], broadcast=True)
        futures = [
            client.submit(_mc_block_args, vs_f, args_f, seed, b, e - s, pure=False)
            for b, (s, e) in enumerate(spans)
        ]
        blocks = client.gather(futures)
    n = vs.shape[0]
    # draws x areas, as the blocks come: the percentiles read them in tiles of areas
    lo = np.empty((draws, n), dtype=np.int32)
    hi = np.empty((draws, n), dtype=np.int32)
    if client is None:  # threads (numpy sorts and indexes without the GIL); each block
        # writes its places straight into its rows of the result
        def one(b: int):
            s, e = spans[b]
            return _mc_block(vs, *args, seed, b, e - s, out=(lo[s:e], hi[s:e]))

        workers = max(1, min(len(spans), os.cpu_count() or 1, MC_THREADS))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            blocks = list(pool.map(one, range(len(spans))))
    rho = np.empty(draws)
    same = np.empty(draws, dtype=bool)
    p_top = np.zeros(n)
    for b, (s, e) in enumerate(spans):  # in block order: the same sums wherever blocks ran
        block = blocks[b]
        blocks[b] = None
        if client is not None:
            lo[s:e] = block[0]
            hi[s:e] = block[1]
        rho[s:e], same[s:e] = block[2:4]
        p_top += block[4] * (e - s)
        del block
    return lo, hi, rho, same, p_top / draws


def _mc_block_args(vs, args, seed, block, size):
    return _mc_block(vs, *args, seed, block, size)


def _mc_block(vs, w, conc, base_lo, base_hi, top_n, seed, block, size, out=None):
    """One block of draws: its weights from its own seed, then ranks (see _mc_ranks)."""
    wdraws = _dirichlet(w, conc, size, np.random.SeedSequence(seed, spawn_key=(block,)))
    return _mc_ranks(vs, wdraws, base_lo, base_hi, top_n, out=out)


def _dirichlet(w: np.ndarray, concentration: float, draws: int, seed) -> np.ndarray:
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
    base_lo: np.ndarray,
    base_hi: np.ndarray,
    top_n: int,
    *,
    out: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rank ranges (draws x areas, int32), Spearman rho, same-top-N flag and P(top N).

    ``vs`` is in hazard_id order; ``base_lo``/``base_hi`` are the base ranking's rank ranges
    (a tie group of g areas starting after place s spans s + 1 .. s + g). Areas with identical
    values tie in every draw: they are scored once as a group, and each area of a group gets
    the group's whole rank range (``lo``..``hi``), never a place picked by a tie-break. Rho is
    the Spearman correlation with ties (Pearson on mid-ranks; NaN where a ranking is all one
    tie); a draw has the same top N when no tie straddles place N and the set is the base's;
    P(top N) of an area in a straddling group is the share of the group's places within N.
    ``out``: two (draws x areas) int32 arrays to write the places into (else new ones).
    """
    n = vs.shape[0]
    draws = wdraws.shape[0]
    # Criteria that weigh nothing in every draw cannot split areas: group on the others only.
    live = np.any(wdraws != 0.0, axis=0)
    vs, wdraws = vs[:, live], wdraws[:, live]
    uniq, inverse = np.unique(vs + 0.0, axis=0, return_inverse=True)  # + 0.0: -0.0 -> 0.0
    inverse = inverse.reshape(-1)
    # Groups in the order of their mean score over the draws: each draw's scores are then
    # nearly sorted already, which sorting does faster. The order inside a run of equal
    # scores does not matter (a run is one tie), so the result does not depend on it.
    by_mean = np.argsort(uniq @ -wdraws.mean(axis=0), kind="stable")
    uniq = uniq[by_mean]
    inverse = np.argsort(by_mean)[inverse]
    sizes = np.bincount(inverse, minlength=len(uniq))
    less = (sizes - 1)[inverse].astype(np.int32)
    if out is None:
        out = (np.empty((draws, n), dtype=np.int32), np.empty((draws, n), dtype=np.int32))
    lo, hi = out
    rho = np.empty(draws)
    same = np.zeros(draws, dtype=bool)
    p_top = np.zeros(n)
    chunk = max(1, min(draws, 1_000_000 // max(n, 1)))
    base_mid = (base_lo + base_hi) / 2.0
    centre = (n + 1) / 2.0
    bc = base_mid - centre
    b_ss = float(bc @ bc)
    base_set = base_hi <= top_n
    base_count = int(base_set.sum())
    base_straddles = bool(np.any((base_lo <= top_n) & (base_hi > top_n)))
    for s in range(0, draws, chunk):
        e = min(draws, s + chunk)
        key = (-wdraws[s:e]) @ uniq.T  # (c x groups), ascending = best first
        rl, rh = lo[s:e], hi[s:e]  # views: the places are written into the result directly
        for i in range(e - s):  # one draw at a time: its arrays stay in the processor's cache
            rl[i], rh[i] = _draw_places(key[i], sizes, inverse, less)
        del key
        mid = (rl + rh) / 2.0 - centre
        ss = np.einsum("ij,ij->i", mid, mid)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho[s:e] = np.where((ss > 0) & (b_ss > 0), (mid @ bc) / np.sqrt(ss * b_ss), np.nan)
        del mid
        # Only areas whose tie group starts within the top N in some draw of the chunk can be
        # in it (the others add 0 to P(top N) and are out of every top N set): work on those.
        near = np.flatnonzero((rl <= top_n).any(axis=0))
        rl_t, rh_t = rl[:, near], rh[:, near]
        inside = np.clip(top_n - rl_t + 1, 0, None)
        p_top[near] += (np.minimum(inside, rh_t - rl_t + 1) / (rh_t - rl_t + 1)).sum(axis=0)
        straddles = np.any((rl_t <= top_n) & (rh_t > top_n), axis=1)
        base_near = base_set[near]
        if base_straddles or base_near.sum() < base_count:
            same[s:e] = False  # a base top-N area is out of the top N in every draw here
        else:
            same[s:e] = ~straddles & np.all((rh_t <= top_n) == base_near[None, :], axis=1)
        del rl, rh, rl_t, rh_t
    return lo, hi, rho, same, p_top / draws


def _draw_places(key: np.ndarray, sizes: np.ndarray, inverse: np.ndarray, less: np.ndarray):
    """First and last place of every area in one draw (1 = best, i.e. lowest ``key``).

    ``key`` has one value per group of identical areas (``sizes`` areas each; ``inverse``
    gives each area's group); keys equal to 12 decimals (``np.round(key, 12)``) merge their
    groups into one tie. The order inside a run of equal keys does not change the result.
    ``less``: each area's group size minus one, ``(sizes - 1)[inverse]`` (int32), computed
    once by the caller for all draws.
    """
    order, new = _sorted_runs(key)
    sz = sizes[order]
    last = np.cumsum(sz)  # last place of each group, in sorted order
    g_hi = np.empty(len(key), dtype=np.int32)
    if new.all():  # no two groups tie in this draw: an area's group spans its size
        g_hi[order] = last
        hi = g_hi[inverse]
        return hi - less, hi
    # groups of equal key merge into one tie: first place of the run's first group, last of
    # its last
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1] = len(key) - 1
    g_lo = np.empty(len(key), dtype=np.int32)
    g_lo[order] = (last - sz + 1)[starts][run]
    g_hi[order] = last[ends][run]
    return g_lo[inverse], g_hi[inverse]


#: Keys (scores) are compared to 12 decimals: as integers ``rint(key * 1e12)``.
_SCALE = 1e12


def _sorted_runs(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts ``np.round(key, 12)`` and, in that order, where a new value starts.

    ``np.round(x, 12)`` is ``rint(x * 1e12) / 1e12``: the integers ``rint(x * 1e12)`` have the
    same order and the same ties. When they and the positions fit in 63 bits together (scores
    of magnitude below ~10 at 10^5 groups), each is packed with its position into one int64
    and sorted as plain integers, which is faster than ``argsort`` and leaves the position in
    the low bits; otherwise the rounded keys are argsorted.
    """
    m = len(key)
    k = np.rint(key * _SCALE)
    bits = max(int(m - 1).bit_length(), 1)
    k_min = float(k.min()) if m else 0.0
    span = (float(k.max()) - k_min) if m else 0.0
    if m and np.isfinite(span) and abs(k_min) < 2.0**52 and span < 2.0 ** (62 - bits):
        packed = ((k - k_min).astype(np.int64) << bits) | np.arange(m, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << bits) - 1)
        sk = packed >> bits
    else:
        kr = k / _SCALE
        order = np.argsort(kr)
        sk = kr[order]
    new = np.empty(m, dtype=bool)
    new[:1] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    return order, new


def _tie_ranges(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank range of each area's tie group: scores equal to 12 decimals share places
    lo..hi (1 = highest score); an untied area has lo == hi."""
    key = np.round(np.asarray(score, dtype=float), 12)
    uniq, inv, counts = np.unique(-key, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    start = np.cumsum(counts) - counts
    return start[inv] + 1, start[inv] + counts[inv]


def _area_percentiles(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per area (column of the draws x areas places), the 5th percentile of ``lo``, the median
    mid-place ``(lo + hi) / 2`` and the 95th percentile of ``hi`` (observed values,
    'inverted_cdf'). Read in tiles of a few hundred areas, each turned areas x draws while it
    is in the processor's cache (a whole transpose would miss it on every element).

    An 'inverted_cdf' percentile is always one order statistic, the k-th smallest value, with
    k what ``np.percentile`` picks for ``draws`` values (found by asking it of 0 .. draws-1):
    one partition at k per row gives it without the percentile's other work.
    """
    draws, n = lo.shape
    k05, k50, k95 = (
        int(np.percentile(np.arange(draws), q, method="inverted_cdf")) for q in (5, 50, 95)
    )
    out = [np.empty(n, dtype=np.int64) for _ in range(3)]
    tile = max(1, min(n, 2_000_000 // max(draws, 1), 512))
    for s in range(0, n, tile):
        e = min(n, s + tile)
        t_lo = np.ascontiguousarray(lo[:, s:e].T)
        t_hi = np.ascontiguousarray(hi[:, s:e].T)
        mid = t_lo.astype(np.int64) + t_hi
        out[0][s:e] = np.partition(t_lo, k05, axis=1)[:, k05]
        out[2][s:e] = np.partition(t_hi, k95, axis=1)[:, k95]
        out[1][s:e] = np.partition(mid, k50, axis=1)[:, k50]
    return out[0], out[1] / 2.0, out[2]


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
