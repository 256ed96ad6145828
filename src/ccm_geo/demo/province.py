"""The province's frame, its rivers and its terrain (elevation, distances).

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ccm_geo.demo.constants import _CELL_M, _RIVERS_PER_SCALE, _ROAD_PIECE_STEPS, _ROAD_STEP_M


@dataclass(frozen=True)
class _Province:
    x0: float
    y0: float
    width: float
    height: float
    scale: float

    @property
    def x1(self) -> float:
        return self.x0 + self.width

    @property
    def y1(self) -> float:
        return self.y0 + self.height

    def count(self, per_scale: float, minimum: int) -> int:
        return max(minimum, round(per_scale * self.scale))

    def uniform(self, rng: np.random.Generator, n: int, margin: float = 0.0) -> np.ndarray:
        xy = rng.random((n, 2))
        return np.column_stack(
            [
                self.x0 + margin + xy[:, 0] * (self.width - 2 * margin),
                self.y0 + margin + xy[:, 1] * (self.height - 2 * margin),
            ]
        )

    def clamp(self, xy: np.ndarray, margin: float = 0.0) -> np.ndarray:
        return np.column_stack(
            [
                np.clip(xy[:, 0], self.x0 + margin, self.x1 - margin),
                np.clip(xy[:, 1], self.y0 + margin, self.y1 - margin),
            ]
        )


@dataclass(frozen=True)
class _Rivers:
    lines: np.ndarray  # shapely LineStrings (centrelines)
    widths: np.ndarray  # m, per line
    pieces: np.ndarray  # the centrelines cut into pieces of <= 20 steps (fast spatial queries)
    piece_widths: np.ndarray  # m, per piece


@dataclass(frozen=True)
class _Terrain:
    elevation: np.ndarray  # coarse grid, 0-1 (quantile of elevation), row 0 at the north
    river_dist: np.ndarray  # coarse grid, m to the nearest river
    x0: float
    y1: float

    def sample(self, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear value of a coarse grid at points (x, y), broadcast together."""
        from scipy.ndimage import map_coordinates

        x, y = np.broadcast_arrays(x, y)
        coords = np.stack([(self.y1 - y) / _CELL_M - 0.5, (x - self.x0) / _CELL_M - 0.5])
        return map_coordinates(grid, coords.reshape(2, -1), order=1, mode="nearest").reshape(
            x.shape
        )


def _meander(
    starts: np.ndarray,
    ends: np.ndarray,
    amplitude: np.ndarray,
    rng: np.random.Generator,
    *,
    step: float = _ROAD_STEP_M,
    harmonics: int = 5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wiggly polylines from ``starts`` to ``ends`` (exactly), all at once.

    The sideways offset is a random sine series (zero at both ends), of standard deviation
    about ``amplitude`` (m, one per line). Returns vertex coordinates (V x 2), the line index of
    each vertex, and the vertex index within its line.
    """
    d = ends - starts
    length = np.hypot(d[:, 0], d[:, 1])
    n_steps = np.maximum(1, np.ceil(length / step).astype(np.int64))
    line = np.repeat(np.arange(len(starts)), n_steps + 1)
    first = np.concatenate([[0], np.cumsum(n_steps + 1)[:-1]])
    local = np.arange(len(line)) - first[line]
    t = local / n_steps[line]
    k = np.arange(1, harmonics + 1)
    coef = rng.standard_normal((len(starts), harmonics)) / k * (amplitude[:, None] / 1.2)
    offset = np.einsum("vk,vk->v", coef[line], np.sin(np.pi * t[:, None] * k))
    safe = np.where(length > 0, length, 1.0)
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / safe[:, None]
    xy = starts[line] + t[:, None] * d[line] + offset[:, None] * normal[line]
    xy = np.round(xy, 2)
    xy[local == 0] = starts
    xy[local == n_steps[line]] = ends
    return xy, line, local


def _rivers(prov: _Province, rng: np.random.Generator) -> _Rivers:
    """Main rivers from the north edge to the south edge, and tributaries joining them."""
    import shapely

    n_main = prov.count(_RIVERS_PER_SCALE, 1)
    xs = prov.x0 + (np.arange(n_main) + rng.uniform(0.2, 0.8, n_main)) / n_main * prov.width
    drift = rng.normal(0, 0.15, n_main) * prov.height
    starts = np.column_stack([xs, np.full(n_main, prov.y1)])
    ends = prov.clamp(np.column_stack([xs + drift, np.full(n_main, prov.y0)]))
    xy, line, _ = _meander(
        starts,
        ends,
        np.full(n_main, 0.06 * min(prov.height, 40_000.0)),
        rng,
        step=_ROAD_STEP_M,
        harmonics=8,
    )
    xy = prov.clamp(xy)
    mains = shapely.linestrings(xy, indices=line)

    # Tributaries: from a random point to the nearest vertex of a main river.
    n_trib = 5 * n_main
    src = prov.uniform(rng, n_trib, margin=500.0)
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(xy).query(src)
    dst = xy[nearest]
    far = np.hypot(*(dst - src).T) > 1500.0
    src, dst = src[far], dst[far]
    length = np.hypot(*(dst - src).T)
    t_xy, t_line, _ = _meander(src, dst, 0.08 * length, rng, harmonics=5)
    tribs = shapely.linestrings(prov.clamp(t_xy), indices=t_line)
    lines = np.concatenate([mains, tribs])
    widths = np.concatenate([rng.uniform(60.0, 110.0, n_main), rng.uniform(20.0, 35.0, len(tribs))])
    xy_all = np.concatenate([xy, prov.clamp(t_xy)])
    line_all = np.concatenate([line, t_line + n_main])
    pieces, piece_line = _cut(xy_all, line_all, np.arange(len(lines)), steps=20)
    return _Rivers(lines, widths, pieces, widths[piece_line])


def _mark_cells(xy: np.ndarray, x0: float, y1: float, shape: tuple[int, int]) -> np.ndarray:
    """A coarse grid (row 0 at the north) with 1 in the cells that hold any of the points."""
    out = np.zeros(shape, np.uint8)
    row = np.clip(((y1 - xy[:, 1]) // _CELL_M).astype(np.int64), 0, shape[0] - 1)
    col = np.clip(((xy[:, 0] - x0) // _CELL_M).astype(np.int64), 0, shape[1] - 1)
    out[row, col] = 1
    return out


def _terrain(prov: _Province, rivers: _Rivers, rng: np.random.Generator) -> _Terrain:
    """Coarse elevation (0-1 quantiles: valleys along rivers, hills between) and river distance."""
    import shapely
    from scipy.ndimage import distance_transform_edt, gaussian_filter

    ny, nx = math.ceil(prov.height / _CELL_M), math.ceil(prov.width / _CELL_M)
    y1 = prov.y0 + ny * _CELL_M
    hills = gaussian_filter(rng.standard_normal((ny, nx)), sigma=10, mode="reflect")
    ranges = gaussian_filter(rng.standard_normal((ny, nx)), sigma=36, mode="reflect")
    hills /= hills.std() or 1.0
    ranges /= ranges.std() or 1.0
    on_river = _mark_cells(
        shapely.get_coordinates(shapely.segmentize(rivers.lines, _CELL_M / 4)),
        prov.x0,
        y1,
        (ny, nx),
    )
    river_dist = (distance_transform_edt(on_river == 0) * _CELL_M).astype(np.float32)
    raw = 0.45 * hills + 0.35 * ranges + 1.6 * np.tanh(river_dist / 2500.0)
    order = np.argsort(raw, axis=None, kind="stable")
    quant = np.empty(raw.size, dtype=np.float32)
    quant[order] = (np.arange(raw.size) + 0.5) / raw.size
    return _Terrain(quant.reshape(ny, nx), river_dist, prov.x0, y1)


def _cut(
    xy: np.ndarray, line: np.ndarray, kept: np.ndarray, *, steps: int = _ROAD_PIECE_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """Cut polylines into pieces of at most ``steps`` steps (vectorised).

    Returns the pieces (LineStrings) and the source line of each piece.
    """
    import shapely

    per_line = np.bincount(line)
    n_steps = per_line[kept] - 1
    n_pieces = -(-n_steps // steps)
    first_vertex = np.concatenate([[0], np.cumsum(per_line)[:-1]])[kept]
    piece_line = np.repeat(kept, n_pieces)
    piece_k = np.arange(n_pieces.sum()) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    lo = piece_k * steps
    hi = np.minimum(lo + steps, np.repeat(n_steps, n_pieces))
    count = hi - lo + 1
    piece = np.repeat(np.arange(len(piece_line)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    vertex = np.repeat(np.repeat(first_vertex, n_pieces) + lo, count) + offset
    return shapely.linestrings(xy[vertex], indices=piece), piece_line
