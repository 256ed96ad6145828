"""Scenarios: the ranking under other weights, and how their top sets differ."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ccm_geo.scoring.score import _hazard_ids, _hid_order, _ranks
from ccm_geo.scoring.settings import ScoringSettings
from ccm_geo.scoring.values import _value_matrix, scored
from ccm_geo.scoring.weights import resolve_weights

logger = logging.getLogger(__name__)


def scenario_ranks(
    areas: pd.DataFrame,
    settings: ScoringSettings | None = None,
) -> pd.DataFrame:
    """Score and rank every area under the base weights and each scenario, in one pass.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``areas``: ``hazard_id``, then ``score_<scenario>`` and ``rank_<scenario>``
        for ``base`` and each scenario in config order.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    # scored areas: scoring said their unknown codes already
    vals = _value_matrix(areas, settings, warn=True, codes=not scored(areas, settings))
    order = _hid_order(hid)
    out = pd.DataFrame(index=areas.index)
    out["hazard_id"] = hid.to_numpy()
    for name in ["base", *settings.scenarios]:
        w = resolve_weights(settings, None if name == "base" else name)
        score = (vals.values * w.reindex(vals.keys).to_numpy()).sum(axis=1)
        out[f"score_{name}"] = score
        out[f"rank_{name}"] = _ranks(score, order)
    return out


def compare_scenarios(
    areas: pd.DataFrame, settings: ScoringSettings | None = None, *, top_n: int | None = None
) -> pd.DataFrame:
    """How the top N differs between the base weights and each scenario, pair by pair.

    Parameters
    ----------
    areas
        Areas with the indicator columns and ``hazard_id``.
    settings
        The [scoring] settings; its ``scenarios`` are compared with ``base`` and each other.
    top_n
        Size of the top set; default ``settings.top_n``.

    Returns
    -------
    pandas.DataFrame
        One row per pair (base first, then scenario pairs in config order): ``scenario_a``,
        ``scenario_b``, ``top_n``, ``overlap`` (areas in both top sets), ``jaccard``
        (overlap / union), ``entering`` (in b's top N but not a's, by b's rank, ';'-joined
        hazard_ids), ``leaving`` (in a's but not b's, by a's rank) and ``spearman`` (rank
        correlation over all areas).
    """
    settings = settings if settings is not None else ScoringSettings()
    top_n = settings.top_n if top_n is None else int(top_n)
    ranks = scenario_ranks(areas, settings)
    names = ["base", *settings.scenarios]
    hid = ranks["hazard_id"].astype(str).to_numpy()
    n = len(ranks)
    rows = []
    for ia, a in enumerate(names):
        for b in names[ia + 1 :]:
            ra = ranks[f"rank_{a}"].to_numpy()
            rb = ranks[f"rank_{b}"].to_numpy()
            top_a, top_b = ra <= top_n, rb <= top_n
            both = int((top_a & top_b).sum())
            union = int((top_a | top_b).sum())
            enter = np.flatnonzero(top_b & ~top_a)
            leave = np.flatnonzero(top_a & ~top_b)
            rows.append(
                {
                    "scenario_a": a,
                    "scenario_b": b,
                    "top_n": min(top_n, n),
                    "overlap": both,
                    "jaccard": both / union if union else 1.0,
                    "entering": ";".join(hid[enter[np.argsort(rb[enter])]]),
                    "leaving": ";".join(hid[leave[np.argsort(ra[leave])]]),
                    "spearman": _spearman(ra, rb),
                }
            )
    cols = [
        "scenario_a",
        "scenario_b",
        "top_n",
        "overlap",
        "jaccard",
        "entering",
        "leaving",
        "spearman",
    ]
    return pd.DataFrame(rows, columns=cols)


def _spearman(ra: np.ndarray, rb: np.ndarray) -> float:
    """Spearman correlation of two rankings without ties (permutations of 1..n)."""
    n = len(ra)
    if n < 2:
        return 1.0
    d = (ra - rb).astype(np.float64)
    return float(1.0 - 6.0 * np.dot(d, d) / (n * (n * n - 1.0)))
