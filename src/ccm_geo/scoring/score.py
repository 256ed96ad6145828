"""Score, rank, priority class and explanation of every area."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from ccm_geo.errors import CcmGeoWarning, InputError
from ccm_geo.scoring.settings import ClassSettings, ScoringSettings
from ccm_geo.scoring.values import _codes, _value_matrix, _Values
from ccm_geo.scoring.weights import resolve_weights

logger = logging.getLogger(__name__)


_OUTPUT_COLUMNS = ("score", "rank", "tied_with", "priority_class", "explanation")


def score_areas(
    areas: pd.DataFrame, settings: ScoringSettings | None = None, *, scenario: str | None = None
) -> pd.DataFrame:
    """Score, rank and classify hazardous areas, with every score broken into contributions.

    Parameters
    ----------
    areas
        One row per area with a unique ``hazard_id`` and the indicator columns the criteria
        name (e.g. ``casualties_24m`` in people, ``travel_min_settlement`` in minutes). Not
        modified.
    settings
        The [scoring] settings; default ``ScoringSettings()``.
    scenario
        Name of a scenario in ``settings.scenarios`` whose weights to use; None: base weights.

    Returns
    -------
    pandas.DataFrame
        A copy of ``areas`` (same index and type, e.g. a GeoDataFrame) with ``value_<key>``
        (0-1) and ``contrib_<key>`` (weight x value) per criterion key, ``score`` (sum of the
        contributions, 0-1), ``rank`` (1 = highest score; ties by hazard_id ascending),
        ``tied_with`` (number of other areas with the same score: the explanation then ends
        with "tied with N other areas (ranks a-b)"),
        ``priority_class`` (high/medium/low) and ``explanation`` (top contributions in words).
        ``attrs["scoring"]`` holds the weights, the scenario and the count of missing values
        per criterion.

    Raises
    ------
    InputError
        A column named in the settings is absent (the message names it, its config key and the
        columns present), an indicator is not numeric where it must be, or ``hazard_id`` is
        missing or not unique.
    ConfigError
        ``scenario`` is not defined.

    Warns
    -----
    MinMaxWarning
        A criterion uses ``kind = "minmax"``.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    weights = resolve_weights(settings, scenario)
    vals = _value_matrix(areas, settings, warn=True)
    w = weights.reindex(vals.keys).to_numpy()
    contrib = vals.values * w
    score = contrib.sum(axis=1)
    order = _hid_order(hid)
    rank = _ranks(score, order)
    new = {}
    for j, key in enumerate(vals.keys):
        new[f"value_{key}"] = vals.values[:, j]
    for j, key in enumerate(vals.keys):
        new[f"contrib_{key}"] = contrib[:, j]
    new["score"] = score
    new["rank"] = rank
    lo, hi = _tie_span(score, rank)
    new["tied_with"] = hi - lo
    new["priority_class"] = _classes(score, rank, settings.classes)
    new["explanation"] = _explanations(vals, contrib, settings, lo, hi)
    out = _attach(areas, pd.DataFrame(new))
    missing = {k: int(vals.missing[:, j].sum()) for j, k in enumerate(vals.keys)}
    if any(missing.values()):
        logger.info(
            "scoring: missing indicator values (set to each criterion's 'missing'): %s",
            {k: v for k, v in missing.items() if v},
        )
    out.attrs["scoring"] = {
        "scenario": scenario or "base",
        "weights": weights.to_dict(),
        "missing": missing,
    }
    return out


def _hazard_ids(areas: pd.DataFrame) -> pd.Series:
    if "hazard_id" not in areas.columns:
        msg = (
            f"scoring: the areas have no 'hazard_id' column (columns present: "
            f"{list(areas.columns)}); load them with ccm_geo's loader or add the column"
        )
        raise InputError(msg)
    hid = areas["hazard_id"]
    if hid.isna().any():
        msg = (
            f"scoring: {int(hid.isna().sum())} area(s) have no hazard_id (rows "
            f"{list(np.flatnonzero(hid.isna().to_numpy())[:10])}); give every area an id"
        )
        raise InputError(msg)
    dup = hid[hid.duplicated()].unique()
    if len(dup):
        msg = (
            f"scoring: hazard_id must be unique; {len(dup)} repeated, e.g. "
            f"{list(dup[:10])}; fix the register"
        )
        raise InputError(msg)
    return hid


def _hid_order(hid: pd.Series) -> np.ndarray:
    """Positions of the areas sorted by hazard_id ascending (numbers as numbers, else text)."""
    if pd.api.types.is_numeric_dtype(hid.dtype):
        key = hid.to_numpy()
    else:
        key = hid.astype(str).to_numpy()
    return np.argsort(key, kind="stable")


def _ranks(score: np.ndarray, hid_order: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; scores equal to 12 decimals tie and go by hazard_id ascending."""
    key = np.round(score, 12)[hid_order]
    order = hid_order[np.argsort(-key, kind="stable")]
    ranks = np.empty(len(score), dtype=np.int64)
    ranks[order] = np.arange(1, len(score) + 1)
    return ranks


def _classes(score: np.ndarray, rank: np.ndarray, cls: ClassSettings) -> np.ndarray:
    out = np.full(len(score), "low", dtype=object)
    if cls.method == "thresholds":
        s = np.round(score, 12)
        out[s >= cls.medium] = "medium"
        out[s >= cls.high] = "high"
    else:
        n = len(score)
        n_high = math.ceil(cls.high_share * n - 1e-9)
        n_top = min(n, math.ceil((cls.high_share + cls.medium_share) * n - 1e-9))
        out[rank <= n_top] = "medium"
        out[rank <= n_high] = "high"
    return out


def _tie_span(score: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last rank of each area's tie group (scores equal to 12 decimals)."""
    key = pd.Series(np.round(score, 12))
    lo = pd.Series(rank).groupby(key).transform("min").to_numpy(dtype=np.int64)
    hi = pd.Series(rank).groupby(key).transform("max").to_numpy(dtype=np.int64)
    return lo, hi


def _explanations(
    vals: _Values,
    contrib: np.ndarray,
    settings: ScoringSettings,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    n, k = contrib.shape
    top = min(settings.explain_top, k)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    any_missing = vals.missing.any(axis=1)
    out = np.empty(n, dtype=object)
    for i in range(n):
        parts = []
        for j in order[i]:
            c = contrib[i, j]
            if c <= 0:
                break
            parts.append(f"{_words(vals, i, j)} ({c:.2f})")
        text = ", ".join(parts) if parts else "no criterion contributes"
        if any_missing[i]:
            text += "; no data: " + ", ".join(  # and the value its `missing` policy gives
                f"{vals.keys[j]} (valued {vals.specs[j].missing:g})"
                for j in np.flatnonzero(vals.missing[i])
            )
        if hi[i] > lo[i]:
            others = int(hi[i] - lo[i])
            text += (
                f"; tied with {others} other area{'s' if others > 1 else ''} "
                f"(ranks {lo[i]}-{hi[i]})"
            )
        out[i] = text
    return out


def _words(vals: _Values, i: int, j: int) -> str:
    """One criterion of one area in words, from its label template."""
    spec, key, x = vals.specs[j], vals.keys[j], vals.raw[j][i]
    if vals.missing[i, j]:
        return f"{key} unknown"
    if spec.kind == "categorical":
        codes = _codes(x, spec) or []
        table = spec.map or {}
        best = max(codes, key=lambda c: table.get(c, spec.other)) if codes else str(x)
        if spec.labels and best in spec.labels:
            return spec.labels[best]
        return spec.label.format(x=best, s="s") if spec.label else f"{key} {best}"
    if spec.kind == "boolean":
        return spec.label or key.replace("_", " ")
    xf = float(x)
    if spec.label:
        return spec.label.format(x=xf, s="" if xf == 1 else "s")
    return f"{key.replace('_', ' ')} {xf:g}{' ' + spec.unit if spec.unit else ''}"


def _attach(areas: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``areas`` (same type and index) with ``new``'s columns, replacing old ones."""
    stale = [
        c
        for c in areas.columns
        if isinstance(c, str) and (c.startswith(("value_", "contrib_")) or c in _OUTPUT_COLUMNS)
    ]
    base = areas.drop(columns=stale).reset_index(drop=True)
    out = pd.concat([base, new.reset_index(drop=True)], axis=1)
    out.index = areas.index
    return out


class RankingWeakWarning(CcmGeoWarning):
    """The ranking says little: most areas share one score, or the criterion that weighs most
    has no data for most areas. The message is one line a planner can act on."""


def ranking_weakness(
    areas: pd.DataFrame, settings: ScoringSettings | None = None, *, share: float = 0.5
) -> str | None:
    """One line saying why the ranking is weak, or None when it is not.

    Parameters
    ----------
    areas
        Scored areas (``score``) with the indicator columns the criteria read.
    settings
        The [scoring] settings.
    share
        Weak when more than this share of areas share one score, or when the criterion of
        largest final weight is missing (no data) for more than this share of areas.

    Returns
    -------
    str or None
        E.g. "ranking is weak: 64% of areas (7,430 of 11,652) share one score, so their order
        is arbitrary; the leading criterion accident_risk has no data for 100% of areas".
    """
    settings = settings if settings is not None else ScoringSettings()
    n = len(areas)
    if n < 2:
        return None
    parts = []
    if "score" in areas.columns:
        counts = pd.Series(np.round(areas["score"].to_numpy(dtype=float), 12)).value_counts()
        biggest = int(counts.iloc[0])
        if biggest > share * n:
            parts.append(
                f"{biggest / n:.0%} of areas ({biggest:,} of {n:,}) share one score, so their "
                "order is arbitrary"
            )
    w = resolve_weights(settings)
    lead = str(w.idxmax())
    cols = settings.criteria[lead].source_columns
    if all(c in areas.columns for c in cols):
        vals = _value_matrix(
            areas[[*cols, "hazard_id"]] if "hazard_id" in areas.columns else areas[cols],
            settings.model_copy(update={"criteria": {lead: settings.criteria[lead]}}),
            warn=False,
        )
        missing = int(vals.missing[:, 0].sum())
    else:
        missing = n
    if missing > share * n:
        parts.append(
            f"the leading criterion {lead} (weight {w[lead]:.2f}) has no data for "
            f"{missing / n:.0%} of areas"
        )
    if not parts:
        return None
    return "ranking is weak: " + "; ".join(parts) + " (see docs/scoring.md, 'weak ranking')"
