"""Polygons as matplotlib paths: one compound path per layer, holes kept open."""

from __future__ import annotations

import numpy as np
import shapely
from matplotlib.path import Path as MplPath


def _compound_path(geoms) -> MplPath | None:
    """Polygonal geometries as one path: one element to draw and write, not one per area.

    Shells are oriented counter-clockwise and holes clockwise, so the non-zero fill rule
    leaves the holes open and fills overlapping areas once.
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return None
    parts = shapely.get_parts(geoms)
    parts = shapely.orient_polygons(parts[shapely.get_type_id(parts) == 3])
    if not len(parts):
        return None
    rings = shapely.get_rings(parts)
    coords, codes, _, _ = _ring_codes(rings)
    return MplPath(coords, codes)


def _polygon_paths(geoms) -> list[MplPath]:
    """Matplotlib paths (holes included) of the polygonal ones among ``geoms``, in order."""
    return [p for p in _row_paths(geoms) if p is not None]


def _row_paths(geoms) -> np.ndarray:
    """One matplotlib path per geometry (its polygons, holes included, from one ragged
    array), or None where a geometry has no polygon: an object array aligned with ``geoms``."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full(len(geoms), None, dtype=object)
    if not len(geoms):
        return out
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, owner = parts[keep], owner[keep]
    if not len(parts):
        return out
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    coords, codes, starts, counts = _ring_codes(rings)
    geom_of_ring = owner[ring_owner]
    first = np.r_[0, np.flatnonzero(np.diff(geom_of_ring)) + 1]
    last = np.r_[first[1:], len(rings)] - 1
    ends = starts[last] + counts[last]
    for i, a, b in zip(geom_of_ring[first], starts[first], ends, strict=True):
        out[i] = MplPath(coords[a:b], codes[a:b])
    return out


def _ring_codes(rings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of closed rings and their path codes (a MOVETO, LINETOs, a CLOSEPOLY each),
    with each ring's first coordinate and its count."""
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(ring_idx, minlength=len(rings))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[starts] = MplPath.MOVETO
    codes[starts + counts - 1] = MplPath.CLOSEPOLY
    return coords, codes, starts, counts
