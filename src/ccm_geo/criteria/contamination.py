"""Contamination indicators: what an area holds, how dense it is, and recent accidents near it."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo.criteria._common import (
    accident_records,
    check_hazards,
    id_list,
    layer_in_crs,
    number_label,
    pairs_within,
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
          (included); later accidents are ignored. An accident near two areas counts for both.
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
    hazards: gpd.GeoDataFrame, context: Context, settings: CriteriaSettings, ref: pd.Timestamp
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

    i_acc, i_haz = pairs_within(geoms, hazards.geometry.to_numpy(), cs.accident_distance_m)
    recent = day[i_acc] >= start.to_datetime64()
    h_recent = i_haz[recent]
    a_recent = i_acc[recent]
    accidents = np.bincount(h_recent, minlength=n).astype(np.int64)

    def _sum(values: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        total = np.bincount(h_recent, weights=np.nan_to_num(values[a_recent]), minlength=n)
        bad = np.bincount(h_recent, weights=unknown[a_recent].astype(float), minlength=n)
        return np.where(bad > 0, np.nan, total)

    # one known, the other unknown: the unknown stays no data; both unknown: the convention
    k = _sum(killed, np.isnan(killed) & (~neither | ~one_event))
    j = _sum(injured, np.isnan(injured) & (~neither | ~one_event))
    events = _sum(neither.astype(float), np.zeros(len(neither), dtype=bool)) if one_event else 0
    casualties = k + j + events

    days = np.full(n, np.nan)
    if len(i_haz):
        last = pd.Series(day[i_acc]).groupby(i_haz).max()
        days[last.index.to_numpy()] = (ref - last).dt.days.to_numpy(dtype=float)
    return dict(zip(cols, [accidents, k, j, casualties, days], strict=True))


def _counts(acc: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """A casualty count column as float, NaN (no data) where the layer gives none."""
    if column not in acc.columns:
        return np.full(len(acc), np.nan)
    return pd.to_numeric(acc[column], errors="coerce").to_numpy(dtype=float)
