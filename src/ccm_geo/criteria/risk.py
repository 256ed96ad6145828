"""Risk indicators: where harm happens, from the accident record and the register itself.

Three indicators, each computable from what a mine action register already holds:

- ``accident_risk``: past accidents near the area, each weighted by a Gaussian kernel of its
  distance and an exponential decay of its age (a kernel density of accidents with a time
  decay, as in prospective hot-spotting);
- ``accident_recency``: the largest single such weight (1 = a fresh accident on the area);
- ``evidence_nearby``: the other recorded hazardous areas near it, weighted by the same kernel
  and by their evidence (devices seen or found count more than hearsay).

Accidents are counted as events: casualty counts are not read, so a register without them
(or with gaps in them) loses nothing here. Sources of the defaults: docs/scoring.md.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ccm_geo.criteria._common import (
    PAIR_CHUNK,
    accident_records,
    check_hazards,
    gaussian_kernel,
    id_list,
    kernel_shares,
    layer_in_crs,
    near_pairs,
    pair_chunks,
    warn,
)
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.model import Context

__all__ = ["risk_indicators", "risk_columns", "RISK_COLUMNS"]

#: The columns :func:`risk_indicators` returns, in order.
RISK_COLUMNS = ["accident_risk", "accident_recency", "evidence_nearby"]

_DAYS_PER_MONTH = 365.25 / 12


def risk_columns(settings: CriteriaSettings | None = None) -> list[str]:
    """Names of the columns :func:`risk_indicators` returns, in order."""
    return list(RISK_COLUMNS)


def risk_indicators(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    reference_date: dt.date,
) -> pd.DataFrame:
    """Kernel- and age-weighted accidents, the latest accident's weight, and nearby evidence.

    Parameters
    ----------
    hazards : geopandas.GeoDataFrame
        Hazardous areas in the project's metric CRS with ``hazard_id`` and, for
        ``evidence_nearby``, ``evidence`` (``direct``/``indirect``/``none``).
    context : ccm_geo.model.Context
        Only ``accidents`` is read (points with ``date``). When it is None the two accident
        columns are NaN (no data) and a DataWarning says so.
    settings : CriteriaSettings, optional
        ``settings.risk``: kernel ``kernel_sigma_m`` (m), cut-off ``kernel_cutoff_sigmas``,
        ``half_life_months`` and ``evidence_weights``.
    reference_date : datetime.date
        The day the indicators describe; accidents after it are ignored.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hazard_id`` in the input's order:

        - ``accident_risk`` (weighted accidents): sum over accidents dated up to
          ``reference_date`` and at distance d <= cutoff x sigma of the polygon of
          ``exp(-d^2 / (2 sigma^2)) x 0.5^(age_months / half_life_months)``. An accident on
          the area today counts 1; each accident counts once per area it is near.
        - ``accident_recency`` (0-1): the largest single term of that sum.
        - ``evidence_nearby`` (weighted areas): sum over the *other* areas within the cut-off
          of ``exp(-d^2 / (2 sigma^2)) x evidence weight`` (d between polygons).

    Notes
    -----
    Accidents without a date or a point are left out with a DataWarning naming them.
    Casualty counts are not used: an accident is one event whatever its toll.
    """
    settings = settings or CriteriaSettings()
    ids = check_hazards(hazards)
    rs = settings.risk
    limit = rs.kernel_sigma_m * rs.kernel_cutoff_sigmas
    out = pd.DataFrame(index=ids)
    risk, recency = _accident_terms(hazards, context, settings, pd.Timestamp(reference_date))
    out["accident_risk"] = risk
    out["accident_recency"] = recency
    out["evidence_nearby"] = _evidence_nearby(hazards, rs.kernel_sigma_m, limit, rs)
    return out[RISK_COLUMNS]


# --------------------------------------------------------------------------------- helpers


def _accident_terms(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings,
    ref: pd.Timestamp,
    chunk: int = PAIR_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(hazards)
    acc = context.accidents
    if acc is None:
        warn(
            "criteria: no accidents layer; accident_risk and accident_recency are NaN (no "
            "data) for every area"
        )
        return np.full(n, np.nan), np.full(n, np.nan)
    rs = settings.risk
    acc = layer_in_crs(acc, hazards.crs, "accidents")
    ids, dates, no_date, no_geom = accident_records(acc)
    geoms = acc.geometry.to_numpy()
    if no_date.any():
        warn(
            f"criteria: accident_risk leaves out {int(no_date.sum())} accidents without a "
            f"date: accident_id {id_list(ids[no_date])}; fill in the date"
        )
    if no_geom.any():
        warn(
            f"criteria: accident_risk leaves out {int(no_geom.sum())} accidents without a "
            f"location: accident_id {id_list(ids[no_geom])}; give their coordinates"
        )
    keep = ~no_date & ~no_geom & (dates <= ref.normalize()).to_numpy()
    geoms = geoms[keep]
    age_days = (ref.normalize() - dates[keep]).dt.days.to_numpy(dtype=float)
    decay = 0.5 ** (age_days / _DAYS_PER_MONTH / rs.half_life_months)
    limit = rs.kernel_sigma_m * rs.kernel_cutoff_sigmas
    risk = np.zeros(n)
    recency = np.zeros(n)
    # accidents in chunks: each accident's pairs are all in its chunk, so its share is exact
    for i_acc, i_haz, d in pair_chunks(geoms, hazards.geometry.to_numpy(), limit, chunk):
        term = (
            kernel_shares(gaussian_kernel(d, rs.kernel_sigma_m), i_acc, len(geoms)) * decay[i_acc]
        )
        risk += np.bincount(i_haz, weights=term, minlength=n)
        np.maximum.at(recency, i_haz, term)
    return risk, recency


def _evidence_nearby(
    hazards: gpd.GeoDataFrame, sigma: float, limit: float, rs, chunk: int = PAIR_CHUNK
) -> np.ndarray:
    n = len(hazards)
    if "evidence" in hazards.columns:
        ev = hazards["evidence"].astype(object).where(hazards["evidence"].notna(), None)
        weight = np.array([rs.evidence_weights.get(str(e), 0.0) for e in ev], dtype=float)
    else:
        warn("criteria: the hazards have no 'evidence' column; evidence_nearby is NaN (no data)")
        return np.full(n, np.nan)
    polys = hazards.geometry.to_numpy()
    if n < 2:
        return np.zeros(n)
    # Registers repeat places (several records at one site): work on distinct geometries.
    # With K the kernel between places a and b, C_b and W_b the count and summed evidence
    # weight of the areas at b, each area j at b spreads its weight over the others with mass
    # M_b = sum_a K_ab C_a - 1, so an area i at a receives sum_b K_ab W_b / max(M_b, 1) minus
    # its own term w_i / max(M_a, 1).
    _, first, place = np.unique(shapely.to_wkb(polys), return_index=True, return_inverse=True)
    place = place.reshape(-1)
    # Outlines simplified to 1 % of sigma (10 m by default): the kernel cannot tell the
    # difference, and distances between many-vertex circles are the costly part.
    uniq = shapely.simplify(polys[first], sigma / 100.0, preserve_topology=True)
    m = len(uniq)
    count = np.bincount(place, minlength=m).astype(float)
    wsum = np.bincount(place, weights=weight, minlength=m)
    tree = shapely.STRtree(uniq)
    mass = np.ones(m)
    received = np.zeros(m)
    # Places b in chunks: all the neighbours a of a place are in its chunk, so M_b is complete
    # there and the chunk adds its exact terms to the areas a; memory grows with the chunk.
    for start in range(0, m, chunk):
        b, a, d = near_pairs(tree, uniq, uniq[start : start + chunk], limit)
        b = b + start
        k = gaussian_kernel(d, sigma)
        size = min(chunk, m - start)
        local = np.bincount(b - start, weights=k * count[a], minlength=size)
        mass[start : start + size] = np.maximum(local - 1.0, 1.0)
        received += np.bincount(a, weights=k * wsum[b] / mass[b], minlength=m)
    return received[place] - weight / mass[place]
