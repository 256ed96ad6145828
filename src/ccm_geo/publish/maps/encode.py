"""Packing for the page: columns as JSON lists, geometry as delta-encoded integer rings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely

from ccm_geo.io import polygonal_parts

__all__ = [
    "to_wgs84",
    "encode_polygons",
    "encode_lines",
    "encode_points",
    "texts",
    "numbers",
    "dates",
]


def to_wgs84(geoms: np.ndarray, crs) -> np.ndarray:
    import geopandas as gpd

    return gpd.GeoSeries(geoms, crs=crs).to_crs(4326).values


def encode_polygons(geoms, precision: int) -> list[list[list[list[int]]]]:
    """Per geometry: parts, rings, flat ``[x0, y0, dx1, dy1, ...]`` at ``10**precision``.

    Rings lose their closing vertex and repeated (after rounding) vertices.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    polys = shapely.get_type_id(geoms)
    if not np.isin(polys[~empty], (3, 6)).all():  # Polygon, MultiPolygon
        geoms = np.array([polygonal_parts(g) or shapely.Polygon() for g in geoms], dtype=object)
        empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    out: list = [[] for _ in range(len(geoms))]
    idx = np.flatnonzero(~empty)
    if len(idx) == 0:
        return out
    _, coords, offsets = shapely.to_ragged_array(geoms[idx])
    if len(offsets) == 3:  # MultiPolygon (mixed input is promoted)
        ring_off, part_off, geom_off = offsets
    else:  # Polygon: one part each
        ring_off, part_off = offsets
        geom_off = np.arange(len(idx) + 1)
    flat = delta_rings(coords, ring_off, precision, closed=True)
    for k, i in enumerate(idx):
        parts = []
        for pi in range(geom_off[k], geom_off[k + 1]):
            parts.append([flat[r] for r in range(part_off[pi], part_off[pi + 1])])
        out[i] = parts
    return out


def encode_lines(geoms, precision: int) -> list[list[list[int]]]:
    """Per geometry: lines as flat delta-encoded integer lists (see _encode_polygons)."""
    geoms = np.asarray(geoms, dtype=object)
    out: list = [[] for _ in range(len(geoms))]
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    keep &= np.isin(shapely.get_type_id(geoms), (1, 5))  # LineString, MultiLineString
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return out
    _, coords, offsets = shapely.to_ragged_array(geoms[idx])
    line_off, geom_off = offsets if len(offsets) == 2 else (offsets[0], np.arange(len(idx) + 1))
    flat = delta_rings(coords, line_off, precision, closed=False)
    for k, i in enumerate(idx):
        out[i] = [flat[r] for r in range(geom_off[k], geom_off[k + 1])]
    return out


def delta_rings(
    coords: np.ndarray, offsets: np.ndarray, precision: int, *, closed: bool
) -> list[list[int]]:
    """Round to integers at ``10**precision`` and delta-encode each ring/line."""
    q = np.round(coords[:, :2] * 10**precision).astype(np.int64)
    d = np.empty_like(q)
    d[1:] = q[1:] - q[:-1]
    starts = offsets[:-1]
    d[starts[starts < len(q)]] = q[starts[starts < len(q)]]
    keep = np.any(d != 0, axis=1)
    keep[starts[starts < len(q)]] = True
    if closed:
        keep[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = False
    # dropping a zero-delta vertex is lossless; dropping the closing vertex changes no delta
    out = []
    for a, b in zip(offsets[:-1], offsets[1:], strict=True):
        seg = d[a:b][keep[a:b]]
        out.append(seg.ravel().tolist())
    return out


def texts(df: pd.DataFrame, col: str) -> list[str | None]:
    """A column as text (None where missing); the page escapes it before showing it."""
    if col not in df.columns:
        return [None] * len(df)
    s = df[col]
    return [None if missing(v) else str(v) for v in s.tolist()]


def numbers(df: pd.DataFrame, col: str, digits: int, scale: float = 1.0) -> list:
    """A numeric column rounded to ``digits`` (ints when 0), None where missing."""
    if col not in df.columns:
        return [None] * len(df)
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float) * scale
    if digits == 0:
        return [None if not math.isfinite(v) else int(round(v)) for v in vals]
    return [None if not math.isfinite(v) else round(float(v), digits) for v in vals]


def dates(df: pd.DataFrame, col: str) -> list[str | None]:
    """A date column as ISO text (YYYY-MM-DD), None where missing."""
    if col not in df.columns:
        return [None] * len(df)
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        conv = pd.to_datetime(s, errors="coerce", format="mixed")
        s = conv.where(conv.notna(), None)
    return [None if missing(v) else pd.Timestamp(v).strftime("%Y-%m-%d") for v in s.tolist()]


def missing(v) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def encode_points(geoms, precision: int) -> tuple[list[int], list[int]]:
    """Longitudes and latitudes (WGS 84 points) as integers at ``10**precision``."""
    xy = np.round(shapely.get_coordinates(np.asarray(geoms, dtype=object)) * 10**precision)
    xy = xy.astype(np.int64)
    return xy[:, 0].tolist(), xy[:, 1].tolist()
