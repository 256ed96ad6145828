"""Contamination indicators: what an area holds, how dense it is, and recent accidents near it."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo.criteria._common import (
    PAIR_CHUNK,
    accident_records,
    check_hazards,
    gaussian_kernel,
    id_list,
    kernel_shares,
    layer_in_crs,
    number_label,
    pair_chunks,
    warn,
)
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.model import CMR_TYPES, MINE_TYPES, Context, split_contamination

__all__ = ["contamination_indicators", "contamination_columns"]


def contamination_columns(settings: CriteriaSettings | None = None) -> list[str]:
    """Names of the columns :func:`contamination_indicators` returns, in order.

    Parameters
    ----------
    settings : CriteriaSettings, optional
        The window ``accident_window_months`` (N) names the accident columns ``*_<N>m``.
    """
    settings = settings or CriteriaSettings()
    n = number_label(settings.contamination.accident_window_months)
    return [
        "is_cmr",
        "is_mine",
        "mixed_contamination",
        "n_contamination_types",
        "devices_per_ha",
        f"accidents_{n}m",
        f"killed_{n}m",
        f"injured_{n}m",
        f"casualties_{n}m",
        "days_since_last_accident",
    ]


def contamination_indicators(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    reference_date: dt.date,
) -> pd.DataFrame:
    """Contamination type, device density and recent accidents of each hazardous area.

    Parameters
    ----------
    hazards : geopandas.GeoDataFrame
        Hazardous areas in the project's metric CRS with the contract columns ``hazard_id``,
        ``contamination`` (';'-joined codes), ``devices_found`` and ``area_m2`` (m²; computed
        from the geometry when absent).
    context : ccm_geo.model.Context
        Only ``accidents`` is read (points with ``accident_id``, ``date``, ``killed``,
        ``injured``). When it is None the accident columns are NaN and a DataWarning says so.
    settings : CriteriaSettings, optional
        ``settings.contamination.accident_distance_m`` (m) and ``accident_window_months``.
    reference_date : datetime.date
        The day the indicators describe (usually the plan's start or today).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hazard_id`` in the input's order, with the columns of
        :func:`contamination_columns`:

        - ``is_cmr``: the area holds cluster munition remnants (CCM Article 4).
        - ``is_mine``: it holds anti-personnel or anti-tank mines (Mine Ban Convention).
        - ``mixed_contamination``: more than one contamination type (e.g. CMR and mines).
        - ``n_contamination_types``: number of distinct types.
        - ``devices_per_ha``: devices found per hectare (NaN when the area is 0 m²).
        - ``accidents_<N>m``, ``killed_<N>m``, ``injured_<N>m``, ``casualties_<N>m``:
          accidents, people killed, people injured, and killed + injured, for accidents at
          distance <= ``accident_distance_m`` of the polygon (0 inside it) dated from
          ``reference_date`` minus N calendar months (included) to ``reference_date``
          (included); later accidents are ignored. An accident near two areas counts for
          both, unless ``share_casualties`` is set: the three people columns then share its
          toll among the areas near it, each area getting the toll times its weight
          ``exp(-d^2 / (2 sigma^2))`` (sigma = ``criteria.risk.kernel_sigma_m``) divided by
          the larger of 1 and the sum of the weights of all areas near the accident, so a
          cluster of adjacent areas shares one toll (``accidents_<N>m`` stays whole).
        - ``days_since_last_accident``: days from the latest accident within the distance, at
          any date up to ``reference_date``, to ``reference_date``; NaN when there is none.

        ``devices_per_ha`` is NaN where ``devices_found`` is unknown. An accident whose killed
        and injured counts are both unknown counts as one casualty event in
        ``casualties_<N>m`` under ``unknown_casualties = "one_event"`` (the default), or
        makes the area's casualty columns NaN under ``"no_data"``; a count known for one
        column and not the other leaves that column NaN for the areas it counts in.

    Notes
    -----
    Accident dates are calendar days (a time of day is dropped). Accidents without a date or a
    point are left out with a DataWarning naming their ``accident_id``.
    """
    settings = settings or CriteriaSettings()
    ids = check_hazards(hazards)
    cols = contamination_columns(settings)
    out = pd.DataFrame(index=ids)

    codes = (
        [split_contamination(t) for t in hazards["contamination"]]
        if "contamination" in hazards.columns
        else [frozenset()] * len(hazards)
    )
    cmr = {str(c) for c in CMR_TYPES}
    mines = {str(c) for c in MINE_TYPES}
    n_types = np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))
    out["is_cmr"] = np.fromiter((bool(c & cmr) for c in codes), dtype=bool, count=len(codes))
    out["is_mine"] = np.fromiter((bool(c & mines) for c in codes), dtype=bool, count=len(codes))
    out["mixed_contamination"] = n_types > 1
    out["n_contamination_types"] = n_types
    out["devices_per_ha"] = _devices_per_ha(hazards)

    acc = _accident_indicators(hazards, context, settings, pd.Timestamp(reference_date))
    for col in cols[5:]:
        out[col] = acc[col]
    return out[cols]


# --------------------------------------------------------------------------------- helpers


def _devices_per_ha(hazards: gpd.GeoDataFrame) -> np.ndarray:
    """Devices found per hectare; NaN where the area is 0 or unknown."""
    n = len(hazards)
    if "area_m2" in hazards.columns:
        area = pd.to_numeric(hazards["area_m2"], errors="coerce").to_numpy(dtype=float)
    else:
        area = hazards.geometry.area.to_numpy(dtype=float)
    if "devices_found" in hazards.columns:
        found = pd.to_numeric(hazards["devices_found"], errors="coerce").to_numpy(dtype=float)
    else:
        found = np.full(n, np.nan)
    if np.isnan(found).any():
        ids = hazards["hazard_id"].astype(str).to_numpy()
        warn(
            f"criteria: devices_found: {int(np.isnan(found).sum()):,} of {n:,} areas have none; "
            "devices_per_ha is NaN (no data) for them, and scoring's `missing` policy decides: "
            f"hazard_id {id_list(ids[np.isnan(found)])}"
        )
    ha = area / 10_000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ha > 0, found / ha, np.nan)


def _accident_indicators(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings,
    ref: pd.Timestamp,
    chunk: int = PAIR_CHUNK,
) -> dict[str, np.ndarray]:
    """Counts of recent accidents and casualties near each area, and days since the last."""
    cols = contamination_columns(settings)[5:]
    n = len(hazards)
    acc = context.accidents
    if acc is None:
        warn(
            "criteria: no accidents layer; accident and casualty indicators "
            f"({', '.join(cols)}) are NaN for every area"
        )
        return {c: np.full(n, np.nan) for c in cols}
    acc = layer_in_crs(acc, hazards.crs, "accidents")
    cs = settings.contamination
    ref = ref.normalize()
    start = ref - pd.DateOffset(months=cs.accident_window_months)

    acc_ids, dates, no_date, no_geom = accident_records(acc)
    geoms = acc.geometry.to_numpy()
    if no_date.any():
        warn(
            f"criteria: {int(no_date.sum())} accidents have no date and are left out: "
            f"accident_id {id_list(acc_ids[no_date])}; fill in the date"
        )
    if no_geom.any():
        warn(
            f"criteria: {int(no_geom.sum())} accidents have no location and are left out: "
            f"accident_id {id_list(acc_ids[no_geom])}"
        )
    keep = ~no_date & ~no_geom & (dates <= ref).to_numpy()
    geoms, day = geoms[keep], dates.to_numpy()[keep]
    killed = _counts(acc, "killed")[keep]
    injured = _counts(acc, "injured")[keep]
    neither = np.isnan(killed) & np.isnan(injured)
    partial = np.isnan(killed) ^ np.isnan(injured)
    if partial.any():
        warn(
            f"criteria: {int(partial.sum()):,} dated accidents give killed or injured but not "
            "both; the missing count is no data, so the areas they count for have NaN in it: "
            f"accident_id {id_list(acc_ids[keep][partial])}"
        )
    one_event = cs.unknown_casualties == "one_event"
    if neither.any():
        rule = (
            "each counts as one casualty event in casualties (not in killed or injured): "
            "criteria.contamination.unknown_casualties = 'one_event'"
            if one_event
            else "the casualty indicators of the areas they count for are NaN (no data): "
            "criteria.contamination.unknown_casualties = 'no_data'"
        )
        warn(
            f"criteria: {int(neither.sum()):,} of {len(neither):,} dated accidents have no "
            f"killed or injured count; {rule}"
        )

    k_sum = np.zeros(n)
    j_sum = np.zeros(n)
    events = np.zeros(n)
    k_bad = np.zeros(n, dtype=bool)
    j_bad = np.zeros(n, dtype=bool)
    accidents = np.zeros(n, dtype=np.int64)
    last = np.full(n, np.iinfo(np.int64).min)
    # one known, the other unknown: the unknown stays no data; both unknown: the convention
    k_unknown = np.isnan(killed) & (~neither | (not one_event))
    j_unknown = np.isnan(injured) & (~neither | (not one_event))
    days_int = day.astype("datetime64[D]").astype(np.int64)
    sigma = settings.risk.kernel_sigma_m
    # accidents in chunks: each accident's pairs are all in its chunk, so its shares are exact
    for i_acc, i_haz, d in pair_chunks(
        geoms, hazards.geometry.to_numpy(), cs.accident_distance_m, chunk
    ):
        np.maximum.at(last, i_haz, days_int[i_acc])
        share = (
            kernel_shares(gaussian_kernel(d, sigma), i_acc, len(geoms))
            if cs.share_casualties
            else np.ones(len(d))
        )
        recent = day[i_acc] >= start.to_datetime64()
        h, a, w = i_haz[recent], i_acc[recent], share[recent]
        accidents += np.bincount(h, minlength=n)
        k_sum += np.bincount(h, weights=w * np.nan_to_num(killed[a]), minlength=n)
        j_sum += np.bincount(h, weights=w * np.nan_to_num(injured[a]), minlength=n)
        if one_event:
            events += np.bincount(h, weights=w * neither[a], minlength=n)
        k_bad[h[k_unknown[a]]] = True
        j_bad[h[j_unknown[a]]] = True
    k = np.where(k_bad, np.nan, k_sum)
    j = np.where(j_bad, np.nan, j_sum)
    casualties = k + j + events

    days = np.full(n, np.nan)
    seen = last > np.iinfo(np.int64).min
    ref_day = ref.to_datetime64().astype("datetime64[D]").astype(np.int64)
    days[seen] = (ref_day - last[seen]).astype(float)
    return dict(zip(cols, [accidents, k, j, casualties, days], strict=True))


def _counts(acc: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """A casualty count column as float, NaN (no data) where the layer gives none."""
    if column not in acc.columns:
        return np.full(len(acc), np.nan)
    return pd.to_numeric(acc[column], errors="coerce").to_numpy(dtype=float)
