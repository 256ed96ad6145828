"""Builds the embedded demo region: a fictional province for clearance planning, deterministically.

The province is invented. It is placed in EPSG:32648 (UTM 48N, somewhere like the Lao PDR
uplands) so that every distance and area is metric, and it holds what a planner's register and
context layers hold: hazardous areas with IMSMA-like, *user-style* field names (a project config
maps them onto the data contract), villages, health facilities, a road network, districts,
accidents and a categorical land-cover raster.

Everything is drawn from one seeded :class:`numpy.random.Generator` tree (no global random
state): the same ``seed`` and ``scale`` give byte-identical files. ``scale`` multiplies the
number of features and the area of the province (side lengths grow with ``sqrt(scale)``), so the
national benchmark uses the same generator: ``scale=220`` gives about 100,000 hazard polygons
(see ``data/demo/README.md`` for the counts). The land-cover raster is written block by block,
so memory does not grow with the raster's size.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from ccm_geo.model import LANDCOVER_CLASSES as MODEL_LANDCOVER_CLASSES

__all__ = [
    "DEMO_CRS",
    "DEMO_ORIGIN",
    "DEMO_SEED",
    "DEMO_SIZE_M",
    "LANDCOVER_CLASSES",
    "REFERENCE_DATE",
    "BOWTIE_IDS",
    "generate_region",
    "main",
]

logger = logging.getLogger(__name__)

#: The demo's CRS: WGS 84 / UTM zone 48N.
DEMO_CRS = "EPSG:32648"
#: South-west corner of the province (m, EPSG:32648).
DEMO_ORIGIN = (600_000.0, 1_650_000.0)
#: Width and height (m) of the province at ``scale=1``.
DEMO_SIZE_M = (30_000.0, 40_000.0)
#: Seed of the committed demo (the date of the 2017 CCM cooperation meeting).
DEMO_SEED = 20171005
#: Accidents fall in the ten years before this date.
REFERENCE_DATE = date(2027, 1, 1)
#: Land-cover codes of ``landcover.tif`` (0 is nodata).
LANDCOVER_CLASSES = MODEL_LANDCOVER_CLASSES  # the standard classes of the data contract
#: The two hazards written as self-intersecting "bow-tie" polygons, whatever the seed: the 7th
#: strike and the 3rd minefield (ids have more digits above 9,999 of a kind, scale > ~28).
BOWTIE_IDS = ("DP-CMR-0007", "DP-MIN-0003")
_BOWTIE_INDEX = {"CMR": 6, "MIN": 2}

# Numbers of features per unit of scale (the province at scale 1 is 30 km x 40 km).
_HAZARDS_PER_SCALE = 450
_SETTLEMENTS_PER_SCALE = 60
_TOWNS_PER_SCALE = 2
_HEALTH_PER_SCALE = 5
_ACCIDENTS_PER_SCALE = 110
_CORRIDORS_PER_SCALE = 4  # bombing corridors (3-5 at scale 1)
_FRONTS_PER_SCALE = 1  # former front lines, along which mine belts lie
_RIVERS_PER_SCALE = 1  # main rivers; tributaries are 5 per main river

_CELL_M = 250.0  # cell of the coarse terrain grid (elevation, distances)
_ROAD_STEP_M = 100.0  # vertex spacing of roads and rivers
_ROAD_PIECE_STEPS = 4  # a road edge between graph nodes is cut into pieces of <= 4 steps
_BLOCK = 256  # raster tile size (pixels)
_LANDCOVER_COLOURS = {
    0: (0, 0, 0, 0),
    1: (38, 115, 0, 255),
    2: (255, 211, 127, 255),
    3: (163, 255, 115, 255),
    4: (230, 0, 0, 255),
    5: (0, 112, 255, 255),
    6: (170, 170, 0, 255),
    7: (204, 204, 204, 255),
}

_SYLLABLES = (
    "Na",
    "Kham",
    "Phon",
    "Xai",
    "Nong",
    "Houay",
    "Don",
    "Sang",
    "Thong",
    "Pak",
    "Vang",
    "Kang",
    "Phou",
    "Lak",
    "Sai",
    "Hin",
    "Boun",
    "Keo",
    "Sy",
    "Tha",
    "Dong",
    "Khoun",
    "Sava",
    "Nam",
    "Hat",
    "Khong",
    "Sen",
    "Pha",
    "Bo",
    "Kou",
    "Phiang",
    "Xieng",
    "Vieng",
    "Sone",
    "Chan",
    "Phet",
    "Kasy",
    "Lath",
    "Phak",
    "Hom",
    "Soung",
    "Ngeun",
    "Kheua",
    "Xang",
    "Dok",
    "Hai",
    "Lom",
    "Savang",
    "Nakhon",
    "Meung",
)
_SUFFIXES = ("Neua", "Tai", "Noy", "Yai", "Mai", "Kao")  # north, south, small, big, new, old


def generate_region(
    out_dir: str | Path,
    *,
    scale: float = 1.0,
    seed: int = DEMO_SEED,
    pixel_m: float = 10.0,
    raster: bool = True,
    raster_shape: tuple[int, int] | None = None,
    road_edge_m: float = 100.0,
) -> dict[str, Path]:
    """Generate the fictional demo province and write its files into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if missing); existing files of the same names are
        replaced atomically.
    scale
        Multiplies the number of features and the province's area (each side by
        ``sqrt(scale)``). ``1`` is the committed demo (30 km x 40 km, ~450 hazards);
        ``220`` is national size (~99,000 hazards, ~13,000 settlements, ~166,000 road nodes).
    seed
        Seed of the random generator; the same seed and options give byte-identical files.
    pixel_m
        Land-cover pixel size in metres (10 m gives 3000 x 4000 pixels at scale 1).
    raster
        Write ``landcover.tif`` (set False to write the vector layers only).
    raster_shape
        ``(rows, cols)`` of the land-cover raster; overrides ``pixel_m`` (pixels are then not
        necessarily square). The national benchmark asks for ``(20000, 20000)``.
    road_edge_m
        Longest road edge (m, at least 100): roads are cut into pieces of at most this
        length (whole multiples of the 100 m vertex spacing), each a graph edge. 100 m gives
        the demo ~3,300 edges; at national size, 400 m gives a graph of ~200,000 nodes at
        scale ~265.

    Returns
    -------
    dict of str to Path
        Layer name (``hazards``, ``settlements``, ``health``, ``roads``, ``admin``,
        ``accidents``, ``landcover``) -> file written.
    """
    _check_options(scale, seed, pixel_m, raster_shape, road_edge_m)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    streams = dict(
        zip(
            (
                "rivers",
                "terrain",
                "settlements",
                "roads",
                "hazards",
                "accidents",
                "health",
                "raster",
            ),
            (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)),
            strict=True,
        )
    )
    prov = _Province(
        *DEMO_ORIGIN, DEMO_SIZE_M[0] * math.sqrt(scale), DEMO_SIZE_M[1] * math.sqrt(scale), scale
    )

    t0 = time.perf_counter()
    rivers = _rivers(prov, streams["rivers"])
    terrain = _terrain(prov, rivers, streams["terrain"])
    towns_villages = _settlements(prov, rivers, terrain, streams["settlements"])
    admin = _districts(prov, towns_villages)
    steps = max(1, math.floor(road_edge_m / _ROAD_STEP_M))  # edges never longer than asked
    roads = _roads(prov, towns_villages, terrain, streams["roads"], piece_steps=steps)
    hazards = _hazards(prov, towns_villages, admin, streams["hazards"])
    accidents = _accidents(prov, hazards, towns_villages, streams["accidents"])
    health = _health(towns_villages, streams["health"])
    logger.info("demo vectors built in %.1f s", time.perf_counter() - t0)

    layers = {
        "hazards": hazards.frame,
        "settlements": towns_villages.frame(),
        "health": health,
        "roads": roads,
        "admin": admin.frame,
        "accidents": accidents,
    }
    written = {name: _write_vector(gdf, out / f"{name}.gpkg", name) for name, gdf in layers.items()}
    if raster:
        t1 = time.perf_counter()
        written["landcover"] = _write_landcover(
            out / "landcover.tif",
            prov,
            rivers,
            terrain,
            towns_villages,
            streams["raster"],
            pixel_m=pixel_m,
            raster_shape=raster_shape,
        )
        logger.info("demo land cover written in %.1f s", time.perf_counter() - t1)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m ccm_geo.demo OUT_DIR [--scale S] [--seed N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m ccm_geo.demo",
        description="Generate the fictional demo province (vector layers and land cover).",
    )
    parser.add_argument("out_dir", type=Path, help="folder to write the files into")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="features and area multiplier (1: the demo; ~220: national size)",
    )
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="random seed")
    parser.add_argument("--pixel-m", type=float, default=10.0, help="land-cover pixel size (m)")
    parser.add_argument(
        "--raster-shape",
        type=int,
        nargs=2,
        metavar=("ROWS", "COLS"),
        help="land-cover raster size; overrides --pixel-m",
    )
    parser.add_argument(
        "--road-edge-m", type=float, default=100.0, help="longest road edge (m); default 100"
    )
    parser.add_argument("--no-raster", action="store_true", help="skip landcover.tif")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    args = parser.parse_args(argv)
    if args.verbose:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        written = generate_region(
            args.out_dir,
            scale=args.scale,
            seed=args.seed,
            pixel_m=args.pixel_m,
            raster=not args.no_raster,
            raster_shape=tuple(args.raster_shape) if args.raster_shape else None,
            road_edge_m=args.road_edge_m,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name:12s} {path}  ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


# --------------------------------------------------------------------------------------------
# Helpers: the province, its rivers and terrain


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


def _check_options(
    scale: float,
    seed: int,
    pixel_m: float,
    raster_shape: tuple[int, int] | None,
    road_edge_m: float = _ROAD_STEP_M,
) -> None:
    problems = []
    if not (
        isinstance(road_edge_m, int | float)
        and math.isfinite(road_edge_m)
        and road_edge_m >= _ROAD_STEP_M
    ):
        problems.append(
            f"road_edge_m={road_edge_m!r} must be a number of metres, at least {_ROAD_STEP_M:g} "
            "(the roads' vertex spacing)"
        )
    if not (isinstance(scale, int | float) and math.isfinite(scale) and 0.01 <= scale <= 2000):
        problems.append(f"scale={scale!r} must be a number from 0.01 to 2000 (1 = the demo)")
    if not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(f"seed={seed!r} must be a non-negative integer")
    if not (isinstance(pixel_m, int | float) and math.isfinite(pixel_m) and pixel_m > 0):
        problems.append(f"pixel_m={pixel_m!r} must be a positive number of metres")
    if raster_shape is not None and (len(raster_shape) != 2 or min(raster_shape) < 1):
        problems.append(f"raster_shape={raster_shape!r} must be (rows, cols), both >= 1")
    if problems:
        msg = "generate_region: " + "; ".join(problems) + "."
        raise ValueError(msg)


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


# --------------------------------------------------------------------------------------------
# Helpers: settlements, districts, health facilities


@dataclass(frozen=True)
class _Settlements:
    xy: np.ndarray
    ids: np.ndarray
    names: np.ndarray  # "Ban Na Kham" (villages) or "Phonxai" (towns)
    bases: np.ndarray  # name without "Ban": used for districts and facilities
    pop: np.ndarray
    is_town: np.ndarray
    is_capital: np.ndarray  # district capital (towns included)

    def frame(self):
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"VIL_ID": self.ids, "VIL_NAME": self.names, "POP": self.pop.astype(np.int64)},
            geometry=gpd.points_from_xy(self.xy[:, 0], self.xy[:, 1]),
            crs=DEMO_CRS,
        )


def _names(n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """``n`` distinct fictional Lao-style name parts (two syllables, then a suffix, then three)."""
    syl = _SYLLABLES
    pool: list[tuple[str, ...]] = [(a, b) for a in syl for b in syl if a != b]
    if n > len(pool):
        pool += [(a, b, s) for a in syl for b in syl if a != b for s in _SUFFIXES]
    if n > len(pool):
        pool += [(a, b, c) for a in syl for b in syl for c in syl if len({a, b, c}) == 3]
    if n > len(pool):
        msg = f"cannot make {n} distinct names (at most {len(pool)}); use a smaller scale"
        raise ValueError(msg)
    pick = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in pick]


def _settlements(
    prov: _Province, rivers: _Rivers, terrain: _Terrain, rng: np.random.Generator
) -> _Settlements:
    """Villages (mostly in valleys, not on rivers, >= 1 km apart), towns and district capitals."""
    import shapely

    n = prov.count(_SETTLEMENTS_PER_SCALE, 8)
    n_towns = prov.count(_TOWNS_PER_SCALE, 1)
    n_capitals = max(3, round(4 * prov.scale**0.75), n_towns)
    cand = prov.uniform(rng, 6 * n, margin=min(800.0, 0.1 * prov.width))
    elev = terrain.sample(terrain.elevation, cand[:, 0], cand[:, 1])
    on_river = shapely.STRtree(rivers.pieces).query(
        shapely.points(cand), predicate="dwithin", distance=250.0
    )[0]
    weight = (1.0 - elev) ** 3 + 0.02
    weight[on_river] = 0.0
    # A weighted random order (Efraimidis-Spirakis keys); zero weight never drawn.
    key = rng.exponential(size=len(cand)) / np.maximum(weight, 1e-12)
    order = np.argsort(key, kind="stable")
    order = order[weight[order] > 0]
    keep = _thin(cand[order], min(1000.0, 0.03 * prov.width))
    xy = np.round(cand[order][keep][:n], 2)
    if len(xy) < n:  # pragma: no cover - only for absurdly small provinces
        logger.warning("demo: placed %d settlements of %d asked", len(xy), n)
        n = len(xy)

    # Capitals: the village nearest each k-means centre of the settlements; towns: the capitals
    # of the most populous clusters.
    pop = np.clip(np.round(np.exp(rng.normal(6.2, 0.7, n)) / 10) * 10, 100, 5000).astype(np.int64)
    capitals, members = _capitals(xy, n_capitals, rng)
    towns = capitals[np.argsort(-members, kind="stable")[:n_towns]]
    is_town = np.zeros(n, bool)
    is_town[towns] = True
    pop[towns] = np.round(rng.uniform(8000, 25000, len(towns)), -1).astype(np.int64)
    is_capital = np.zeros(n, bool)
    is_capital[capitals] = True
    big = is_capital & ~is_town
    pop[big] = np.maximum(pop[big], np.round(rng.uniform(2500, 5000, big.sum()), -1))

    parts = _names(n, rng)
    bases = np.array(
        [_joined(p) if t else " ".join(p) for p, t in zip(parts, is_town, strict=True)]
    )
    names = np.array([b if t else f"Ban {b}" for b, t in zip(bases, is_town, strict=True)])
    width = max(4, len(str(n)))
    ids = np.array([f"VIL-{i + 1:0{width}d}" for i in range(n)])
    return _Settlements(xy, ids, names, bases, pop, is_town, is_capital)


def _joined(parts: tuple[str, ...]) -> str:
    return parts[0] + "".join(p.lower() for p in parts[1:])


def _thin(xy: np.ndarray, min_dist: float) -> np.ndarray:
    """Indices of points kept, in order, so that no two kept points are closer than min_dist."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(min_dist, output_type="ndarray")
    keep = np.ones(len(xy), bool)
    if len(pairs):
        pairs = np.sort(pairs, axis=1)
        pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
        for i, j in pairs.tolist():
            if keep[i] and keep[j]:
                keep[j] = False
    return np.flatnonzero(keep)


def _capitals(xy: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``k`` (or fewer) district capitals and the number of settlements nearest each."""
    import warnings

    from scipy.cluster.vq import kmeans2
    from scipy.spatial import cKDTree

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster only means one district fewer
        centres, _ = kmeans2(xy, min(k, len(xy)), minit="points", seed=rng)
    _, nearest = cKDTree(xy).query(centres)
    capitals = np.unique(nearest)
    _, owner = cKDTree(xy[capitals]).query(xy)
    return capitals, np.bincount(owner, minlength=len(capitals))


@dataclass(frozen=True)
class _Districts:
    frame: object  # GeoDataFrame
    capital_xy: np.ndarray
    names: np.ndarray


def _districts(prov: _Province, st: _Settlements) -> _Districts:
    """Districts: the Voronoi cells of the district capitals, clipped to the province."""
    import geopandas as gpd
    import shapely

    cap = np.flatnonzero(st.is_capital)
    box = shapely.box(prov.x0, prov.y0, prov.x1, prov.y1)
    cells = shapely.voronoi_polygons(shapely.multipoints(st.xy[cap]), extend_to=box, ordered=True)
    polys = shapely.intersection(shapely.get_parts(cells), box)
    names: list[str] = []
    for base in st.bases[cap].tolist():
        name = _joined(tuple(base.split()))
        while name in names:
            name += " Neua"
        names.append(name)
    frame = gpd.GeoDataFrame({"DISTRICT": names}, geometry=polys, crs=DEMO_CRS)
    return _Districts(frame, st.xy[cap], np.array(names))


def _district_of(districts: _Districts, xy: np.ndarray) -> np.ndarray:
    """District name of points: the nearest capital (the Voronoi cell holding the point)."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(districts.capital_xy).query(xy)
    return districts.names[idx]


def _health(st: _Settlements, rng: np.random.Generator):
    """District hospitals in towns, health centres in capitals and then the largest villages."""
    import geopandas as gpd

    n = max(2, round(_HEALTH_PER_SCALE * st.pop.size / _SETTLEMENTS_PER_SCALE))
    rank = np.lexsort((np.arange(st.pop.size), -st.pop, ~st.is_capital, ~st.is_town))[:n]
    angle = rng.uniform(0, 2 * np.pi, n)
    dist = rng.uniform(150.0, 400.0, n)
    xy = np.round(st.xy[rank] + np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None], 2)
    level = np.where(st.is_town[rank], "district hospital", "health centre")
    names = [
        f"{b} District Hospital" if t else f"{b} Health Centre"
        for b, t in zip(st.bases[rank], st.is_town[rank], strict=True)
    ]
    width = max(3, len(str(n)))
    return gpd.GeoDataFrame(
        {"HF_ID": [f"HF-{i + 1:0{width}d}" for i in range(n)], "HF_NAME": names, "LEVEL": level},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=DEMO_CRS,
    )


# --------------------------------------------------------------------------------------------
# Helpers: roads


def _roads(
    prov: _Province,
    st: _Settlements,
    terrain: _Terrain,
    rng: np.random.Generator,
    *,
    piece_steps: int = _ROAD_PIECE_STEPS,
):
    """A road network on the settlements' Delaunay graph, cut into edges at shared nodes.

    Primary roads join the towns and the province's gates; secondaries join district capitals
    to the nearest town; the rest of a spanning tree is tertiary (between big villages) or
    track, with a few loops; dead-end farm tracks leave the villages. The most isolated
    village(s) get only their own farm tracks: a small cluster not joined to the network.
    """
    import geopandas as gpd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
    from scipy.spatial import Delaunay, cKDTree

    n_set = len(st.xy)
    # The isolated village(s): the most remote ordinary villages.
    nn_dist, _ = cKDTree(st.xy).query(st.xy, k=2)
    remote = np.where(st.is_capital, -1.0, nn_dist[:, 1])
    n_iso = max(1, round(prov.scale))
    isolated = np.sort(np.argsort(-remote, kind="stable")[:n_iso])
    n_gates = max(2, round(2 * math.sqrt(prov.scale)))
    gates = _gates(prov, n_gates, rng)
    connected = np.setdiff1d(np.arange(n_set), isolated)
    node_xy = np.concatenate([st.xy[connected], gates])
    n_nodes = len(node_xy)
    pop = np.concatenate([st.pop[connected], np.zeros(n_gates, np.int64)])
    key = np.concatenate(
        [np.flatnonzero(st.is_town[connected]), n_nodes - n_gates + np.arange(n_gates)]
    )
    capital = np.flatnonzero(st.is_capital[connected] & ~st.is_town[connected])

    tri = Delaunay(node_xy)
    s = tri.simplices
    edges = np.unique(
        np.sort(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1), axis=0
    )
    a, b = edges[:, 0], edges[:, 1]
    length = np.hypot(*(node_xy[a] - node_xy[b]).T)
    mid = (node_xy[a] + node_xy[b]) / 2
    cost = length * (1.0 + 2.0 * terrain.sample(terrain.elevation, mid[:, 0], mid[:, 1]))
    graph = coo_matrix(
        (np.concatenate([cost, cost]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(n_nodes, n_nodes),
    ).tocsr()
    edge_of = {(int(i), int(j)): e for e, (i, j) in enumerate(edges.tolist())}
    rank = np.full(len(edges), 9)  # 0 primary, 1 secondary, 2 tertiary, 3 track, 9 unused

    # Primary: a spanning tree over towns and gates, each link routed on the graph.
    key_xy = node_xy[key]
    dkey = np.hypot(*(key_xy[:, None, :] - key_xy[None, :, :]).transpose(2, 0, 1))
    links = np.argwhere(minimum_spanning_tree(dkey).toarray() > 0)
    _, pred = dijkstra(graph, indices=key, return_predecessors=True)
    for i, j in links.tolist():
        for e in _path_edges(pred[i], key[i], key[j], edge_of):
            rank[e] = 0
    # Secondary: each district capital to its nearest town (or gate).
    _, pred1, src = dijkstra(graph, indices=key, min_only=True, return_predecessors=True)
    for c in capital.tolist():
        for e in _path_edges(pred1, src[c], c, edge_of):
            rank[e] = min(rank[e], 1)
    # Spanning tree over all nodes (favouring roads already chosen), then loops.
    favoured = np.where(rank < 9, cost * 1e-3, cost)
    tree = minimum_spanning_tree(coo_matrix((favoured, (a, b)), shape=(n_nodes, n_nodes)))
    for i, j in zip(*tree.nonzero(), strict=True):
        e = edge_of[(min(i, j), max(i, j))]
        if rank[e] == 9:
            rank[e] = 2 if min(pop[i], pop[j]) >= 700 else 3
    spare = np.flatnonzero((rank == 9) & (length < 1.2 * np.median(length[rank < 9])))
    rank[rng.choice(spare, size=round(0.15 * len(spare)), replace=False)] = 3
    # Gates: drop edges running along the border between two gates.
    gate_gate = (a >= n_nodes - n_gates) & (b >= n_nodes - n_gates)
    rank[gate_gate] = 9
    used = np.flatnonzero(rank < 9)
    starts, ends, klass = node_xy[a[used]], node_xy[b[used]], rank[used]
    amp = np.array([0.015, 0.025, 0.035, 0.05])[klass] * length[used]

    # Farm tracks: dead ends from every village (three or more from isolated ones).
    n_spur = rng.poisson(1.3, n_set)
    n_spur[isolated] = np.maximum(n_spur[isolated], 3) + 1
    owner = np.repeat(np.arange(n_set), n_spur)
    bearing = rng.uniform(0, 2 * np.pi, owner.size)
    reach = rng.uniform(700.0, 2500.0, owner.size)
    s_start = st.xy[owner]
    s_end = np.round(
        prov.clamp(
            s_start + np.column_stack([np.cos(bearing), np.sin(bearing)]) * reach[:, None],
            margin=50.0,
        ),
        2,
    )

    xy, line, local = _meander(
        np.concatenate([starts, s_start]),
        np.concatenate([ends, s_end]),
        np.concatenate([amp, 0.06 * reach]),
        rng,
    )
    xy = prov.clamp(xy)
    lines = shapely.linestrings(xy, indices=line)
    n_main = len(used)
    # Keep farm tracks that cross no other road (their first vertex, the village, aside); the
    # isolated cluster must also stay apart from the network.
    body = shapely.linestrings(xy[local > 0], indices=line[local > 0])
    keep = np.ones(len(lines), bool)
    hit_i, hit_j = shapely.STRtree(lines).query(body[n_main:], predicate="intersects")
    hit_i = hit_i + n_main
    for i, j in sorted(zip(hit_i.tolist(), hit_j.tolist(), strict=True)):
        if j != i and (j < n_main or (j < i and keep[j])):
            keep[i] = False
    iso_spur = np.isin(owner, isolated)
    if not keep[n_main:][iso_spur].any():  # pragma: no cover - keep the documented defect
        keep[n_main + np.flatnonzero(iso_spur)[0]] = True
    klass_all = np.concatenate([klass, np.full(owner.size, 3)])
    kept = np.flatnonzero(keep)
    # Cut each kept line into pieces of <= _ROAD_PIECE_STEPS steps, sharing end vertices.
    pieces_xy, piece_line = _cut(xy, line, kept, steps=piece_steps)
    classes = np.array(["primary", "secondary", "tertiary", "track"])
    width = max(5, len(str(len(piece_line))))
    order = np.arange(len(piece_line))
    return gpd.GeoDataFrame(
        {
            "ROAD_ID": [f"RD-{i + 1:0{width}d}" for i in order],
            "CLASS": classes[klass_all[piece_line]],
        },
        geometry=pieces_xy,
        crs=DEMO_CRS,
    )


def _gates(prov: _Province, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points where primary roads leave the province: one on the south and north edges, then
    anywhere on the border."""
    t = rng.uniform(0.25, 0.75, n)
    side = np.concatenate([[0, 2], rng.integers(0, 4, n - 2)])
    x = np.select(
        [side == 0, side == 1, side == 2],
        [prov.x0 + t * prov.width, prov.x1, prov.x1 - t * prov.width],
        prov.x0,
    )
    y = np.select(
        [side == 0, side == 1, side == 2],
        [prov.y0, prov.y0 + t * prov.height, prov.y1],
        prov.y1 - t * prov.height,
    )
    return np.round(np.column_stack([x, y]), 2)


def _path_edges(pred: np.ndarray, source: int, target: int, edge_of: dict) -> list[int]:
    """Edge indices on the shortest path from ``source`` to ``target`` (predecessor row)."""
    out = []
    node = int(target)
    while node != source and pred[node] >= 0:
        prev = int(pred[node])
        out.append(edge_of[(min(prev, node), max(prev, node))])
        node = prev
    return out


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


# --------------------------------------------------------------------------------------------
# Helpers: hazards and accidents


@dataclass(frozen=True)
class _Hazards:
    frame: object  # GeoDataFrame with the user-style fields
    centroid: np.ndarray
    area_ha: np.ndarray
    kind: np.ndarray  # "CMR", "MIN" or "UXO"


def _hazards(
    prov: _Province, st: _Settlements, districts: _Districts, rng: np.random.Generator
) -> _Hazards:
    """Cluster munition strikes along bombing corridors, mine belts along former front lines,
    and UXO spots; overlaps removed; two bow-ties added on purpose."""
    import geopandas as gpd
    import shapely

    n_total = prov.count(_HAZARDS_PER_SCALE, 20)
    n_mine = max(3, round(0.12 * n_total))
    n_uxo = max(2, round(0.10 * n_total))
    n_cmr = n_total - n_mine - n_uxo
    fronts = _fronts(prov, rng)
    wanted = {"CMR": n_cmr, "MIN": n_mine, "UXO": n_uxo}
    for attempt in range(6):  # more candidates until every kind has enough
        factor = 1.8 * 2**attempt
        geoms, kind, keep = _candidates(
            prov, st, fronts, {k: round(factor * v) + 5 for k, v in wanted.items()}, rng
        )
        if all((keep & (kind == k)).sum() >= v for k, v in wanted.items()):
            break
    chosen = []
    for k, want in wanted.items():
        idx = np.flatnonzero(keep & (kind == k))
        if len(idx) < want:  # pragma: no cover - only in a province too small for its hazards
            logger.warning("demo: %d %s hazards placed of %d asked", len(idx), k, want)
        chosen.append(np.sort(rng.choice(idx, size=min(want, len(idx)), replace=False)))
    idx = np.concatenate(chosen)
    geoms, kind = geoms[idx], kind[idx]
    n = len(geoms)
    centroid = shapely.get_coordinates(shapely.centroid(geoms))
    area_ha = shapely.area(geoms) / 1e4

    # Contamination, status, evidence, devices, survey date.
    contam = np.where(kind == "CMR", "CMR", "UXO").astype(object)
    is_mine = kind == "MIN"
    contam[is_mine] = rng.choice(["AP", "AP;AT", "AT"], size=is_mine.sum(), p=[0.55, 0.3, 0.15])
    front_xy, front_line = shapely.get_coordinates(fronts, return_index=True)
    front_pieces, _ = _cut(front_xy, front_line, np.arange(len(fronts)), steps=20)
    near = shapely.STRtree(front_pieces).query(
        shapely.points(centroid), predicate="dwithin", distance=2500.0
    )[0]
    near_front = np.zeros(n, bool)
    near_front[near] = kind[near] == "CMR"
    mixed = near_front & (rng.random(n) < 0.25)
    contam[mixed] = np.where(rng.random(mixed.sum()) < 0.8, "CMR;AP", "CMR;AP;AT")
    p_cha = np.select([kind == "CMR", kind == "MIN"], [0.25, 0.4], 0.35)
    cha = rng.random(n) < p_cha
    u = rng.random(n)
    evidence = np.where(
        cha, "Direct", np.where(u < 0.06, "Direct", np.where(u < 0.16, "None", "Indirect"))
    )
    lam = np.select([kind == "CMR", kind == "MIN"], [3 + 6 * area_ha, 2 + 15 * area_ha], 1.5)
    devices = np.where(cha, 1 + rng.poisson(lam), 0)
    seen = ~cha & (evidence == "Direct")
    devices[seen] = rng.integers(1, 3, seen.sum())
    start = np.where(
        cha, (date(2015, 1, 1) - date(1970, 1, 1)).days, (date(2008, 1, 1) - date(1970, 1, 1)).days
    )
    stop = np.where(
        cha, (date(2026, 12, 1) - date(1970, 1, 1)).days, (date(2019, 1, 1) - date(1970, 1, 1)).days
    )
    day = start + (rng.random(n) * (stop - start)).astype(np.int64)
    survey = np.datetime_as_string(day.astype("datetime64[D]"))

    # Ids numbered per kind in order; the 7th strike and 3rd belt become bow-ties.
    ids = np.empty(n, object)
    geoms = geoms.copy()
    for k in ("CMR", "MIN", "UXO"):
        sel = np.flatnonzero(kind == k)
        width = max(4, len(str(len(sel))))
        ids[sel] = [f"DP-{k}-{i + 1:0{width}d}" for i in range(len(sel))]
        if k in _BOWTIE_INDEX and len(sel) > _BOWTIE_INDEX[k]:
            bow = sel[_BOWTIE_INDEX[k]]
            geoms[bow] = _bowtie(geoms[bow])

    # Names: nearest village, then a running number per village and kind.
    from scipy.spatial import cKDTree

    _, near = cKDTree(st.xy).query(centroid)
    label = {"CMR": "strike", "MIN": "minefield", "UXO": "UXO spot"}
    counter: dict[tuple[str, str], int] = {}
    names = []
    for k, v in zip(kind.tolist(), st.names[near].tolist(), strict=True):
        counter[(k, v)] = counter.get((k, v), 0) + 1
        names.append(f"{v} {label[k]} {counter[(k, v)]}")
    frame = gpd.GeoDataFrame(
        {
            "HAZ_ID": ids.astype(str),
            "NAME": names,
            "STATUS": np.where(cha, "Confirmed", "Suspected"),
            "CONTAM": contam.astype(str),
            "EVIDENCE": evidence,
            "DEVICES": devices.astype(np.int64),
            "DISTRICT": _district_of(districts, centroid),
            "SURVEY_DATE": survey,
        },
        geometry=geoms,
        crs=DEMO_CRS,
    )
    return _Hazards(frame, centroid, area_ha, kind)


def _candidates(
    prov: _Province,
    st: _Settlements,
    fronts: np.ndarray,
    n: dict[str, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate hazards and which to keep: inside the province, overlapping no earlier one
    (mine belts first, then UXO spots, then strikes)."""
    import shapely

    mines = _belts(prov, fronts, n["MIN"], rng)
    uxo = _uxo_spots(prov, st, n["UXO"], rng)
    cmr = _strikes(prov, n["CMR"], rng)
    geoms = np.concatenate([mines, uxo, cmr])
    kind = np.concatenate(
        [np.full(len(mines), "MIN"), np.full(len(uxo), "UXO"), np.full(len(cmr), "CMR")]
    )
    keep = shapely.within(geoms, shapely.box(prov.x0, prov.y0, prov.x1, prov.y1))
    src, dst = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = np.column_stack([np.minimum(src, dst), np.maximum(src, dst)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
    for i, j in pairs.tolist():
        if keep[i] and keep[j]:
            keep[j] = False
    return geoms, kind, keep


def _ellipses(
    centre: np.ndarray, a: np.ndarray, b: np.ndarray, theta: np.ndarray, n_vertices: int = 32
) -> np.ndarray:
    import shapely

    phi = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    ex = a[:, None] * np.cos(phi)
    ey = b[:, None] * np.sin(phi)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    ring = np.stack([centre[:, :1] + ex * c - ey * s, centre[:, 1:] + ex * s + ey * c], axis=-1)
    ring = np.round(np.concatenate([ring, ring[:, :1]], axis=1), 2)
    return shapely.polygons(ring)


def _strikes(prov: _Province, n: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster munition footprints (ellipses, 0.5-10 ha) in groups along bombing corridors."""
    n_corr = prov.count(_CORRIDORS_PER_SCALE, 3)
    centre = prov.uniform(rng, n_corr, margin=0.1 * min(prov.width, prov.height))
    bearing = rng.uniform(0, np.pi, n_corr)
    reach = min(math.hypot(prov.width, prov.height), 50_000.0)
    half = rng.uniform(0.35, 0.55, n_corr) * reach
    n_groups = max(1, round(n / 3.5))
    corr = rng.integers(0, n_corr, n_groups)
    along = rng.uniform(-1, 1, n_groups) * half[corr]
    across = rng.normal(0, 900.0, n_groups)
    d = np.column_stack([np.cos(bearing), np.sin(bearing)])[corr]
    gcentre = (
        centre[corr] + d * along[:, None] + np.column_stack([-d[:, 1], d[:, 0]]) * across[:, None]
    )
    size = 1 + rng.poisson(2.5, n_groups)
    group = np.repeat(np.arange(n_groups), size)[:n]
    fc = gcentre[group] + rng.normal(0, 280.0, (len(group), 2))
    area = np.clip(np.exp(rng.normal(np.log(2.2e4), 0.8, len(group))), 0.5e4, 10e4)
    aspect = rng.uniform(1.4, 3.0, len(group))
    a = np.sqrt(area * aspect / np.pi)
    b = area / (np.pi * a)
    theta = bearing[corr][group] + rng.normal(0, 0.35, len(group))
    return _ellipses(fc, a, b, theta)


def _fronts(prov: _Province, rng: np.random.Generator) -> np.ndarray:
    """Former front lines: wiggly lines ~30 km long across the province."""
    import shapely

    n = prov.count(_FRONTS_PER_SCALE, 1)
    centre = prov.uniform(rng, n, margin=0.2 * min(prov.width, prov.height))
    bearing = rng.uniform(-0.6, 0.6, n)  # roughly east-west
    half = rng.uniform(0.25, 0.4, n) * min(math.hypot(prov.width, prov.height), 45_000.0)
    d = np.column_stack([np.cos(bearing), np.sin(bearing)])
    xy, line, _ = _meander(
        centre - d * half[:, None],
        centre + d * half[:, None],
        0.05 * half,
        rng,
        step=50.0,
        harmonics=6,
    )
    return shapely.linestrings(xy, indices=line)


def _belts(prov: _Province, fronts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Mine belts: 150-1500 m long, 20-60 m wide strips along the front lines."""
    import shapely

    which = rng.integers(0, len(fronts), n)
    pos = rng.random(n) * shapely.length(fronts)[which]
    p = shapely.get_coordinates(shapely.line_interpolate_point(fronts[which], pos))
    q = shapely.get_coordinates(shapely.line_interpolate_point(fronts[which], pos + 20.0))
    d = q - p
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-d[:, 1], d[:, 0]])
    centre = p + normal * rng.normal(0, 150.0, n)[:, None]
    half = rng.uniform(75.0, 750.0, n)
    xy, line, _ = _meander(
        centre - d * half[:, None],
        centre + d * half[:, None],
        0.03 * half,
        rng,
        step=50.0,
        harmonics=3,
    )
    axes = shapely.linestrings(xy, indices=line)
    width = rng.uniform(20.0, 60.0, n)
    belts = shapely.buffer(axes, width / 2, cap_style="flat", join_style="mitre", quad_segs=2)
    return shapely.set_precision(belts, 0.01)


def _uxo_spots(prov: _Province, st: _Settlements, n: int, rng: np.random.Generator) -> np.ndarray:
    """Small UXO spots (10-40 m radius): near villages (old positions) or anywhere."""

    near = rng.random(n) < 0.6
    xy = prov.uniform(rng, n, margin=200.0)
    home = rng.integers(0, len(st.xy), n)
    xy[near] = st.xy[home[near]] + rng.normal(0, 1500.0, (near.sum(), 2))
    xy = prov.clamp(xy, margin=100.0)
    radius = rng.uniform(10.0, 40.0, n)
    return _ellipses(xy, radius, radius * rng.uniform(0.6, 1.0, n), rng.uniform(0, np.pi, n), 16)


def _bowtie(geom):
    """A self-intersecting quadrilateral over ``geom``'s oriented envelope (a digitising error:
    two corners entered in the wrong order)."""
    import shapely

    rect = shapely.oriented_envelope(geom)
    c = shapely.get_coordinates(rect)[:4]
    return shapely.Polygon([c[0], c[1], c[3], c[2], c[0]])


def _accidents(prov: _Province, hz: _Hazards, st: _Settlements, rng: np.random.Generator):
    """Accidents of the last ten years, near hazards (more near CMR), with the victims' village."""
    import geopandas as gpd
    from scipy.spatial import cKDTree

    n = prov.count(_ACCIDENTS_PER_SCALE, 5)
    frame = hz.frame
    contam = frame["CONTAM"].to_numpy(dtype=str)
    weight = np.select(
        [
            np.char.find(contam, "CMR") >= 0,
            np.char.find(contam, "AP") >= 0,
            np.char.find(contam, "AT") >= 0,
        ],
        [3.0, 2.5, 1.5],
        1.0,
    )
    weight *= np.where(frame["STATUS"].to_numpy() == "Confirmed", 1.5, 1.0)
    hz_idx = rng.choice(len(frame), size=n, p=weight / weight.sum())
    spread = 0.5 * np.sqrt(hz.area_ha[hz_idx] * 1e4) + 100.0
    xy = prov.clamp(np.round(hz.centroid[hz_idx] + rng.normal(0, 1, (n, 2)) * spread[:, None], 2))
    device = np.array([rng.choice(c.split(";")) for c in contam[hz_idx]])
    cmr_uxo = (device == "CMR") & (rng.random(n) < 0.1)
    device[cmr_uxo] = "UXO"
    # Dates: ten years before REFERENCE_DATE, fewer in recent years (density 1 -> 0.5).
    u = rng.random(n)
    t = 2.0 * (1.0 - np.sqrt(1.0 - 0.75 * u))
    first = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 10)
    span = (REFERENCE_DATE - first).days
    days = np.minimum((t * span).astype(np.int64), span - 1)
    order = np.lexsort((np.arange(n), days))
    xy, device, days = xy[order], device[order], days[order]
    dates = [(first + timedelta(days=int(d))).isoformat() for d in days]
    at = device == "AT"
    killed = np.where(at, rng.poisson(1.2, n), (rng.random(n) < 0.35) + rng.poisson(0.1, n))
    injured = np.where(at, rng.poisson(1.5, n), rng.poisson(1.2, n))
    injured = np.where(killed + injured == 0, 1, injured)
    _, near = cKDTree(st.xy).query(xy, k=min(5, len(st.xy)))
    pick = np.where(rng.random(n) < 0.75, 0, rng.integers(0, near.shape[1], n))
    home = st.ids[near[np.arange(n), pick]].astype(object)
    home[rng.random(n) < 0.06] = None
    width = max(4, len(str(n)))
    return gpd.GeoDataFrame(
        {
            "ACC_ID": [f"ACC-{i + 1:0{width}d}" for i in range(n)],
            "DATE": dates,
            "KILLED": killed.astype(np.int64),
            "INJURED": injured.astype(np.int64),
            "DEVICE": device,
            "HOME_VIL": home,
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=DEMO_CRS,
    )


# --------------------------------------------------------------------------------------------
# Helpers: writing


def _write_vector(gdf, path: Path, layer: str) -> Path:
    """Write one layer reproducibly (fixed GeoPackage timestamps) and atomically."""
    from ccm_geo.io import write_gpkg

    return write_gpkg({layer: gdf}, path, default_styles=False)  # plain input files


def _write_landcover(
    path: Path,
    prov: _Province,
    rivers: _Rivers,
    terrain: _Terrain,
    st: _Settlements,
    rng: np.random.Generator,
    *,
    pixel_m: float,
    raster_shape: tuple[int, int] | None,
) -> Path:
    """Write the land-cover GeoTIFF block by block (memory bounded by the block size)."""
    import warnings

    with warnings.catch_warnings():
        # rasterio 1.4 multiplies Affine objects with `*`, which affine 3 deprecates: not ours.
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        return _landcover_file(
            path, prov, rivers, terrain, st, rng, pixel_m=pixel_m, raster_shape=raster_shape
        )


def _landcover_file(
    path: Path,
    prov: _Province,
    rivers: _Rivers,
    terrain: _Terrain,
    st: _Settlements,
    rng: np.random.Generator,
    *,
    pixel_m: float,
    raster_shape: tuple[int, int] | None,
) -> Path:
    import rasterio
    import shapely
    from rasterio.transform import from_origin
    from rasterio.windows import bounds as window_bounds
    from rasterio.windows import transform as window_transform

    from ccm_geo.io import atomic_output

    if raster_shape is None:
        # Square pixels of pixel_m; the last row and column may overhang the province a little.
        rows, cols = math.ceil(prov.height / pixel_m - 1e-9), math.ceil(prov.width / pixel_m - 1e-9)
        px = py = float(pixel_m)
    else:
        rows, cols = int(raster_shape[0]), int(raster_shape[1])
        px, py = prov.width / cols, prov.height / rows
    transform = from_origin(prov.x0, prov.y1, px, py)

    # Water: river pieces (~2 km) and village ponds, as polygons in an STRtree.
    water = shapely.buffer(rivers.pieces, rivers.piece_widths / 2, quad_segs=4)
    n_ponds = rng.poisson(0.5 * len(st.xy))
    home = rng.integers(0, len(st.xy), n_ponds)
    ang = rng.uniform(0, 2 * np.pi, n_ponds)
    pond_xy = (
        st.xy[home]
        + np.column_stack([np.cos(ang), np.sin(ang)]) * rng.uniform(300.0, 1200.0, n_ponds)[:, None]
    )
    ponds = shapely.buffer(shapely.points(pond_xy), rng.uniform(20.0, 60.0, n_ponds), quad_segs=4)
    water = np.concatenate([water, ponds])
    water_tree = shapely.STRtree(water)
    radius = 40.0 * np.sqrt(st.pop / 100.0)
    salts = rng.integers(0, 2**62, 4, dtype=np.int64)

    # Coarse distance to villages (for cropland rings).
    from scipy.ndimage import distance_transform_edt

    marks = _mark_cells(st.xy, terrain.x0, terrain.y1, terrain.elevation.shape)
    village_dist = (distance_transform_edt(marks == 0) * _CELL_M).astype(np.float32)
    from scipy.spatial import cKDTree

    village_tree = cKDTree(st.xy)
    profile = {
        "driver": "GTiff",
        "dtype": "uint8",
        "count": 1,
        "width": cols,
        "height": rows,
        "crs": DEMO_CRS,
        "transform": transform,
        "nodata": 0,
        "tiled": True,
        "blockxsize": _BLOCK,
        "blockysize": _BLOCK,
        "compress": "deflate",
        "zlevel": 6,
        "bigtiff": "if_safer",
        "interleave": "band",
    }
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write_colormap(1, _LANDCOVER_COLOURS)
        dst.update_tags(1, **{f"CLASS_{k}": v for k, v in LANDCOVER_CLASSES.items()})
        for _, window in dst.block_windows(1):
            block = _landcover_block(
                window,
                window_transform(window, transform),
                window_bounds(window, transform),
                terrain,
                village_dist,
                water_tree,
                water,
                village_tree,
                st.xy,
                radius,
                salts,
            )
            dst.write(block, 1, window=window)
    return path


def _landcover_block(
    window,
    w_transform,
    w_bounds,
    terrain: _Terrain,
    village_dist: np.ndarray,
    water_tree,
    water: np.ndarray,
    village_tree,
    village_xy: np.ndarray,
    radius: np.ndarray,
    salts: np.ndarray,
) -> np.ndarray:
    """Land-cover classes of one window, from coarse fields, value noise and features."""
    import shapely
    from rasterio.features import rasterize

    h, w = int(window.height), int(window.width)
    a, _, c, _, e, f = w_transform[:6]
    xs = c + (np.arange(w) + 0.5) * a
    ys = f + (np.arange(h) + 0.5) * e
    X, Y = xs[None, :], ys[:, None]
    elev = terrain.sample(terrain.elevation, X, Y)
    driv = terrain.sample(terrain.river_dist, X, Y)
    dvil = terrain.sample(village_dist, X, Y)
    rx, ry = xs - terrain.x0, terrain.y1 - ys
    n_fine = _value_noise(rx, ry, 60.0, salts[0])
    n_mid = _value_noise(rx, ry, 220.0, salts[1])
    n_big = _value_noise(rx, ry, 900.0, salts[2])
    el = elev + 0.10 * (n_mid - 0.5)

    out = np.ones((h, w), np.uint8)  # forest
    shrub = ((n_big > 0.6) & (el < 0.85)) | ((dvil < 3500.0) & (n_mid > 0.68))
    out[shrub] = 6
    crop = (dvil < 1000.0 + 1400.0 * n_big) & (el < 0.65) & (n_mid > 0.3)
    out[crop] = 2
    paddy = ((driv < 250.0 + 650.0 * n_mid) & (el < 0.35)) | (
        (dvil < 700.0 + 500.0 * n_mid) & (el < 0.25)
    )
    out[paddy] = 3
    bare = ((el > 0.9) & (n_mid > 0.75)) | ((n_big > 0.8) & (n_mid > 0.88))
    out[bare] = 7

    near = village_tree.query_ball_point(
        [(xs.mean(), ys.mean())], r=float(np.hypot(a * w, e * h)) / 2 + radius.max()
    )[0]
    for v in sorted(near):
        d = np.hypot(X - village_xy[v, 0], Y - village_xy[v, 1])
        out[d < radius[v] * (0.8 + 0.4 * n_fine)] = 4

    x0, y0, x1, y1 = w_bounds
    hit = water_tree.query(shapely.box(x0, y0, x1, y1))
    if len(hit):
        mask = rasterize(
            ((g, 1) for g in water[np.sort(hit)]),
            out_shape=(h, w),
            transform=w_transform,
            fill=0,
            dtype="uint8",
        )
        out[mask == 1] = 5
    return out


def _value_noise(x: np.ndarray, y: np.ndarray, cell: float, salt: np.int64) -> np.ndarray:
    """Smooth value noise in [0, 1] on a lattice of ``cell`` metres, from hashed corners.

    Depends only on coordinates (not on the window), so blocks join seamlessly.
    """
    fx, fy = x / cell, y / cell
    ix, iy = np.floor(fx).astype(np.int64), np.floor(fy).astype(np.int64)
    tx, ty = fx - ix, fy - iy
    tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
    IX, IY = ix[None, :], iy[:, None]
    v00 = _hash01(IX, IY, salt)
    v10 = _hash01(IX + 1, IY, salt)
    v01 = _hash01(IX, IY + 1, salt)
    v11 = _hash01(IX + 1, IY + 1, salt)
    top = v00 + (v10 - v00) * tx[None, :]
    bottom = v01 + (v11 - v01) * tx[None, :]
    return top + (bottom - top) * ty[:, None]


def _hash01(ix: np.ndarray, iy: np.ndarray, salt: np.int64) -> np.ndarray:
    """A splitmix64 hash of integer lattice coordinates, as floats in [0, 1)."""
    h = (
        (ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        ^ (iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
        ^ np.uint64(salt)
    )
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


if __name__ == "__main__":
    raise SystemExit(main())
