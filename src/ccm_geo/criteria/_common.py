"""Helpers shared by the criterion families: input checks, warnings naming ids, column labels."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ccm_geo.errors import DataWarning, InputError

__all__: list[str] = []

#: How many ids a warning lists before it says "and N more".
_MAX_IDS = 20


def check_hazards(hazards: gpd.GeoDataFrame, context_crs: str | None = None) -> pd.Index:
    """Check what every criterion relies on and return the ``hazard_id`` index.

    Raises
    ------
    InputError
        When ``hazard_id`` is missing or not unique, a geometry is missing or empty, or the
        CRS is not metric (or differs from the context's).
    """
    if "hazard_id" not in hazards.columns:
        msg = (
            "criteria: the hazards frame has no 'hazard_id' column; load it through "
            "ccm_geo.io so the contract columns are present"
        )
        raise InputError(msg)
    ids = pd.Index(hazards["hazard_id"].astype(str), name="hazard_id")
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        msg = f"criteria: hazard_id values are not unique: {id_list(dup)}; make them unique"
        raise InputError(msg)
    geoms = hazards.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        msg = (
            f"criteria: {int(empty.sum())} hazards have no geometry: hazard_id "
            f"{id_list(ids[empty])}; repair or drop them when loading (ccm_geo.io)"
        )
        raise InputError(msg)
    if len(hazards) and hazards.crs is None:
        msg = "criteria: the hazards frame has no CRS; set the project's metric CRS (to_crs())"
        raise InputError(msg)
    if hazards.crs is not None and not CRS(hazards.crs).is_projected:
        msg = (
            f"criteria: hazards are in {hazards.crs}, which is not a metric (projected) CRS; "
            "reproject them with to_crs() to the project's CRS first"
        )
        raise InputError(msg)
    if context_crs and hazards.crs is not None and CRS(context_crs) != CRS(hazards.crs):
        msg = (
            f"criteria: hazards are in {CRS(hazards.crs).to_string()} but the context layers "
            f"in {CRS(context_crs).to_string()}; reproject the hazards with to_crs()"
        )
        raise InputError(msg)
    return ids


def id_list(ids: Iterable) -> str:
    """Up to 20 ids as text, then how many more."""
    ids = [str(i) for i in ids]
    head = ", ".join(ids[:_MAX_IDS])
    return head + (f" and {len(ids) - _MAX_IDS} more" if len(ids) > _MAX_IDS else "")


def warn(message: str) -> None:
    """Emit a DataWarning attributed to the caller of the public criterion function."""
    warnings.warn(message, DataWarning, stacklevel=3)


def number_label(value: float) -> str:
    """A number as it appears in a column name: 24 -> '24', 2.5 -> '2_5'."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:g}".replace(".", "_")


def layer_in_crs(layer: gpd.GeoDataFrame, crs, name: str) -> gpd.GeoDataFrame:
    """Return ``layer`` in ``crs``: reprojected with a warning when it is in another CRS."""
    if layer.crs is None or crs is None or CRS(layer.crs) == CRS(crs):
        return layer
    warn(
        f"criteria: context layer {name!r} is in {CRS(layer.crs).to_string()}, not the "
        f"hazards' {CRS(crs).to_string()}; reprojected it (load it through ccm_geo.io to avoid "
        "this)"
    )
    return layer.to_crs(crs)


def accident_records(acc: gpd.GeoDataFrame):
    """The accidents' ids (``accident_id``, else the row index, as text), dates (days, no
    time zone; NaT where unreadable), and the masks of rows without a date or a geometry."""
    ids = (
        acc["accident_id"].astype(str)
        if "accident_id" in acc.columns
        else pd.Series(acc.index.astype(str), index=acc.index)
    )
    dates = pd.to_datetime(acc["date"], errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    geoms = acc.geometry.to_numpy()
    no_date = dates.isna().to_numpy()
    no_geom = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    return ids, dates, no_date, no_geom


def near_pairs(tree, tree_geoms: np.ndarray, geoms: np.ndarray, limit_m: float):
    """Pairs ``(i, j)`` of ``geoms[i]`` and ``tree_geoms[j]`` (the geometries ``tree`` was
    built on) at distance ``<= limit_m`` (0 when they touch), and those distances.

    The same pairs, in the same order, as ``tree.query(geoms, predicate="dwithin",
    distance=limit_m * (1 + 1e-9))`` kept where the exact distance is ``<= limit_m``, but each
    distance is computed once: the candidates are the tree's geometries whose envelopes meet
    each query's envelope grown by that distance (what the predicate itself looks at first,
    in the same tree order), and the predicate, which would compute a distance per candidate
    before the kernel computes it again, is not asked. Missing or empty geometries have no
    pairs. With ``limit_m == 0``, the pairs that intersect (distance 0); below 0, none.
    """
    if len(geoms) == 0 or len(tree_geoms) == 0 or limit_m < 0:  # no distance is below 0
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0)
    if limit_m == 0:
        i, j = tree.query(geoms, predicate="intersects")
        return i, j, np.zeros(len(i))
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    keep = np.flatnonzero(ok)
    grow = limit_m * (1 + 1e-9)
    x0, y0, x1, y1 = shapely.bounds(geoms[keep]).T
    i, j = tree.query(shapely.box(x0 - grow, y0 - grow, x1 + grow, y1 + grow))
    i = keep[i]
    d = shapely.distance(geoms[i], tree_geoms[j])
    within = d <= limit_m
    return i[within], j[within], d[within]


def pairs_within(points: np.ndarray, polygons: np.ndarray, limit_m: float):
    """Index pairs (point, polygon) with distance <= ``limit_m`` (0 when inside)."""
    i_pt, i_poly, _ = near_pairs(shapely.STRtree(polygons), polygons, points, limit_m)
    return i_pt, i_poly


#: Points (accidents) per chunk when pairs with the areas are processed in chunks: bounds the
#: pairs held at once (each accident has at most a few hundred areas within the cut-off).
PAIR_CHUNK = 20_000


def pair_chunks(points: np.ndarray, polygons: np.ndarray, limit_m: float, chunk: int = PAIR_CHUNK):
    """:func:`pairs_within` over ``chunk`` points at a time, one tree for all chunks.

    Yields ``(i_pt, i_poly, d)``: point and polygon indices into the full arrays and their
    distances (m), for the pairs at distance <= ``limit_m``; every pair of a point is in the
    chunk of that point, so any per-point total (e.g. :func:`kernel_shares`) is complete in
    it. Memory then grows with ``chunk``, not with the number of areas.
    """
    if len(points) == 0 or len(polygons) == 0:
        return
    tree = shapely.STRtree(polygons)
    for start in range(0, len(points), max(int(chunk), 1)):
        i_pt, i_poly, d = near_pairs(tree, polygons, points[start : start + chunk], limit_m)
        yield i_pt + start, i_poly, d


def gaussian_kernel(d: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian kernel ``exp(-d^2 / (2 sigma^2))`` of distances ``d`` (m): 1 at distance 0."""
    return np.exp(-0.5 * (d / sigma) ** 2)


def kernel_shares(k: np.ndarray, source: np.ndarray, n_sources: int) -> np.ndarray:
    """Each source's kernel weights over the areas near it, scaled so that they sum to at
    most 1: one accident (or one record) is attributed once in total, shared among the areas
    around it in proportion to their kernel weight (an area alone near it gets its kernel
    weight, a cluster of adjacent areas shares at most 1)."""
    mass = np.bincount(source, weights=k, minlength=n_sources)
    return k / np.maximum(mass, 1.0)[source]
