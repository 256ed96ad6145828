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
    rows = _RowPaths(geoms)
    return rows.paths(np.arange(len(rows.lo)))


class _RowPaths:
    """Each geometry's polygons (holes included) as one ragged array of path vertices and
    codes; a geometry's path made when first asked (``paths``), then kept.

    ``lo[i]:hi[i]`` are geometry i's vertices (``lo == hi``: no polygon).
    """

    def __init__(self, geoms):
        geoms = np.asarray(geoms, dtype=object)
        self.lo = np.zeros(len(geoms), dtype=np.int64)
        self.hi = np.zeros(len(geoms), dtype=np.int64)
        self._made = np.full(len(geoms), None, dtype=object)
        self.coords = np.empty((0, 2))
        self.codes = np.empty(0, dtype=MplPath.code_type)
        if not len(geoms):
            return
        parts, owner = shapely.get_parts(geoms, return_index=True)
        keep = shapely.get_type_id(parts) == 3
        parts, owner = parts[keep], owner[keep]
        if not len(parts):
            return
        rings, ring_owner = shapely.get_rings(parts, return_index=True)
        self.coords, self.codes, starts, counts = _ring_codes(rings)
        geom_of_ring = owner[ring_owner]
        first = np.r_[0, np.flatnonzero(np.diff(geom_of_ring)) + 1]
        last = np.r_[first[1:], len(rings)] - 1
        self.lo[geom_of_ring[first]] = starts[first]
        self.hi[geom_of_ring[first]] = starts[last] + counts[last]

    def has(self, at: np.ndarray) -> np.ndarray:
        """Whether each geometry ``at`` has a polygon."""
        return self.hi[at] > self.lo[at]

    def paths(self, at: np.ndarray) -> np.ndarray:
        """The paths of geometries ``at`` (None where no polygon), an object array."""
        at = np.asarray(at, dtype=np.int64)
        todo = at[np.equal(self._made[at], None) & self.has(at)]
        for i, a, b in zip(
            todo.tolist(), self.lo[todo].tolist(), self.hi[todo].tolist(), strict=True
        ):
            self._made[i] = MplPath(self.coords[a:b], self.codes[a:b])
        return self._made[at]


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
