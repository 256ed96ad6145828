"""Benchmark of the criteria stage against its peers and floors, on synthetic inputs.

Land use: exactextract (ours) vs rasterstats ``zonal_stats(categorical=True)`` (peer, timed on
a subset and scaled linearly) vs the floor (read the raster once, rasterize polygon ids, numpy
bincount). Remoteness: our nearest-settlement travel times vs one bare csgraph ``dijkstra``
call on the same graph (floor) vs networkx ``multi_source_dijkstra_path_length`` (peer).
Then the whole ``compute_criteria``.

Run ``python -m benchmarks.bench_criteria --small`` (seconds) or with sizes, e.g.
``--polygons 100000 --raster 20000 --nodes 200000`` (national scale).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from rasterio.windows import Window
from scipy.sparse.csgraph import dijkstra

from ccm_geo.criteria import compute_criteria
from ccm_geo.criteria.landuse import _landcover_fractions
from ccm_geo.criteria.roads import _attach, _travel, build_road_graph
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.model import LANDCOVER_CLASSES, Context

__all__ = ["bench", "make_inputs", "main"]

CRS = "EPSG:32648"
CLASSES = LANDCOVER_CLASSES
PIXEL_M = 10.0
X0, Y0 = 400_000.0, 1_700_000.0


def bench(
    n_polygons: int = 15_000,
    raster_size: int = 5_000,
    n_nodes: int = 50_000,
    *,
    n_settlements: int = 2_000,
    n_health: int = 100,
    n_accidents: int = 1_000,
    peer_subset: int = 2_000,
    seed: int = 0,
    workdir: Path | None = None,
) -> list[dict]:
    """Time the criteria stage and its peers on synthetic inputs; one dict per measurement.

    Parameters
    ----------
    n_polygons : int
        Hazardous areas (random 0.5-10 ha polygons).
    raster_size : int
        Width and height of the land-cover raster in pixels (10 m pixels).
    n_nodes : int
        Approximate nodes of the grid road network.
    peer_subset : int
        Polygons given to rasterstats (at most 10,000); its time is scaled to ``n_polygons``.

    Returns
    -------
    list of dict
        Keys ``case``, ``n``, ``seconds``, ``ratio`` (to the floor, or peer / ours),
        ``peak_mib`` (Python + numpy allocations by tracemalloc in a second, untimed run;
        for compute_criteria the process's max RSS, measured before the floors run) and
        ``note``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(workdir or tmp)
        t0 = time.perf_counter()
        hazards, context = make_inputs(
            work,
            n_polygons,
            raster_size,
            n_nodes,
            n_settlements=n_settlements,
            n_health=n_health,
            n_accidents=n_accidents,
            seed=seed,
        )
        rows = [
            {
                "case": "generate synthetic inputs",
                "n": n_polygons,
                "seconds": time.perf_counter() - t0,
                "ratio": None,
                "peak_mib": None,
                "note": f"raster {raster_size}², graph ~{n_nodes} nodes",
            }
        ]
        ref = dt.date(2024, 1, 1)
        steps: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        compute_criteria(
            hazards,
            context,
            reference_date=ref,
            progress=lambda name: steps.append((name, time.perf_counter())),
        )
        total = time.perf_counter() - t0
        ends = [t for _, t in steps[1:]] + [t0 + total]
        split = ", ".join(
            f"{name} {end - t:.1f} s" for (name, t), end in zip(steps, ends, strict=True)
        )
        rows.append(
            {
                "case": "compute_criteria (all families)",
                "n": n_polygons,
                "seconds": total,
                "ratio": None,
                "peak_mib": _max_rss_mib(),
                "note": f"peak = process max RSS so far; {split}",
            }
        )
        rows += _bench_landuse(hazards, context, min(peer_subset, 10_000, n_polygons))
        rows += _bench_remoteness(hazards, context)
    return rows


def make_inputs(
    out_dir: Path,
    n_polygons: int,
    raster_size: int,
    n_nodes: int,
    *,
    n_settlements: int = 2_000,
    n_health: int = 100,
    n_accidents: int = 1_000,
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, Context]:
    """Synthetic hazards and context: random polygons, a blocky categorical raster written by
    window to a GeoTIFF, a jittered grid road network, random settlements, clinics, accidents."""
    rng = np.random.default_rng(seed)
    side = raster_size * PIXEL_M
    path = Path(out_dir) / "landcover.tif"
    _write_raster(path, raster_size, rng)

    cx = X0 + rng.uniform(300, side - 300, n_polygons)
    cy = Y0 + rng.uniform(300, side - 300, n_polygons)
    radius = np.sqrt(rng.uniform(5_000, 100_000, n_polygons) / np.pi)
    geoms = shapely.buffer(shapely.points(cx, cy), radius, quad_segs=4)
    codes = np.array(["CMR", "AP;CMR", "UXO", "AT", "CMR;UXO"])
    hazards = gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ{i:06d}" for i in range(n_polygons)],
            "status": rng.choice(["SHA", "CHA"], n_polygons),
            "contamination": codes[rng.integers(0, len(codes), n_polygons)],
            "evidence": "direct",
            "devices_found": rng.poisson(3, n_polygons),
            "region": "R1",
        },
        geometry=geoms,
        crs=CRS,
    )
    hazards["area_m2"] = hazards.geometry.area

    settlements = _random_points(rng, n_settlements, side, "settlement_id", "S")
    settlements["population"] = rng.integers(50, 5_000, n_settlements)
    health = _random_points(rng, n_health, side, "facility_id", "F")
    accidents = _random_points(rng, n_accidents, side, "accident_id", "A")
    accidents["date"] = pd.Timestamp("2018-01-01") + pd.to_timedelta(
        rng.integers(0, 6 * 365, n_accidents), unit="D"
    )
    accidents["killed"] = rng.poisson(0.5, n_accidents)
    accidents["injured"] = rng.poisson(1.0, n_accidents)
    accidents["device_type"] = "CMR"
    home = settlements["settlement_id"].to_numpy()[rng.integers(0, n_settlements, n_accidents)]
    accidents["survivor_settlement_id"] = np.where(rng.random(n_accidents) < 0.3, home, None)
    context = Context(
        crs=CRS,
        accidents=accidents,
        settlements=settlements,
        health=health,
        roads=_grid_roads(rng, n_nodes, side),
        landcover_path=path,
        landcover_classes=CLASSES,
    )
    return hazards, context


def main(argv: list[str] | None = None) -> list[dict]:
    """Command line: print the table (markdown)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="a quick run (2k polygons)")
    p.add_argument("--polygons", type=int, default=15_000)
    p.add_argument("--raster", type=int, default=5_000)
    p.add_argument("--nodes", type=int, default=50_000)
    p.add_argument("--settlements", type=int, default=2_000)
    p.add_argument("--peer-subset", type=int, default=2_000)
    a = p.parse_args(argv)
    if a.small:
        a.polygons, a.raster, a.nodes, a.settlements, a.peer_subset = 2_000, 2_000, 10_000, 500, 500
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # synthetic data: some areas have no route, etc.
        rows = bench(
            a.polygons, a.raster, a.nodes, n_settlements=a.settlements, peer_subset=a.peer_subset
        )
    print(format_table(rows))
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| case | n | seconds | ratio | peak MiB | note |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        peak = "" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(
            f"| {r['case']} | {r['n']} | {r['seconds']:.3f} | {ratio} | {peak} | {r['note']} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------- helpers


def _peak(fn) -> float:
    """Peak of Python + numpy allocations (MiB, tracemalloc) during one call."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _time(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bench_landuse(hazards, context, subset: int) -> list[dict]:
    n = len(hazards)
    settings = CriteriaSettings()
    names = list(dict.fromkeys(CLASSES[k] for k in sorted(CLASSES)))
    ids = pd.Index(hazards["hazard_id"])
    path = Path(context.landcover_path)

    def ours():
        return _landcover_fractions(hazards, ids, path, CLASSES, names, settings)

    t_ours, (fracs, _) = _time(ours)
    peak_ours = _peak(ours)
    t_floor, counts = _time(lambda: _floor_landuse(hazards, path))
    peak_floor = _peak(lambda: _floor_landuse(hazards, path))
    # check agreement: the floor counts whole pixels by centre, ours weights partial pixels
    floor_frac = counts[:, 1:8] / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    diff = np.nanmean(np.abs(floor_frac - fracs))

    from rasterstats import zonal_stats  # bench-only peer

    geoms = list(hazards.geometry.to_numpy()[:subset])
    t_peer_sub, _ = _time(lambda: zonal_stats(geoms, str(path), categorical=True))
    t_peer = t_peer_sub * n / subset
    return [
        {
            "case": "landuse: exactextract (ours)",
            "n": n,
            "seconds": t_ours,
            "ratio": t_ours / t_floor,
            "peak_mib": peak_ours,
            "note": f"ratio = ours / floor; mean |share - floor share| {diff:.3f}",
        },
        {
            "case": "landuse: floor (read once + rasterize + bincount)",
            "n": n,
            "seconds": t_floor,
            "ratio": 1.0,
            "peak_mib": peak_floor,
            "note": "whole raster read",
        },
        {
            "case": "landuse: rasterstats categorical (peer, scaled)",
            "n": n,
            "seconds": t_peer,
            "ratio": t_peer / t_ours,
            "peak_mib": None,
            "note": f"ratio = peer / ours; measured {t_peer_sub:.2f} s on {subset} polygons",
        },
    ]


def _floor_landuse(hazards, path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        arr = ds.read(1)
        transform = ds.transform
    n = len(hazards)
    zone = rasterize(
        zip(hazards.geometry.to_numpy(), range(1, n + 1), strict=True),
        out_shape=arr.shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    inside = zone > 0
    counts = np.bincount(zone[inside].astype(np.int64) * 8 + arr[inside], minlength=(n + 1) * 8)
    return counts.reshape(n + 1, 8)[1:]


def _bench_remoteness(hazards, context) -> list[dict]:
    settings = CriteriaSettings()
    rs = settings.remoteness
    t_build, graph = _time(lambda: build_road_graph(context.roads, settings))
    walk = rs.offroad_speed_kmh * 1000 / 60
    area_xy = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.to_numpy()))
    s_xy = shapely.get_coordinates(context.settlements.geometry.to_numpy())

    node, off = _attach(graph, area_xy, walk)  # once per run, shared by every destination set

    def ours():
        return _travel(graph, node, off, area_xy, s_xy, walk, rs)

    t_ours, _ = _time(ours)
    peak_ours = _peak(ours)
    src = np.unique(graph.tree.query(s_xy)[1])
    t_floor, floor = _time(lambda: dijkstra(graph.csr, directed=True, indices=src, min_only=True))
    t_nxg, nxg = _time(graph.to_networkx)
    import networkx as nx

    t_peer, peer = _time(
        lambda: nx.multi_source_dijkstra_path_length(nxg, set(src.tolist()), weight="minutes")
    )
    agree = np.allclose([peer.get(i, np.inf) for i in range(0, graph.n_nodes, 97)], floor[::97])
    return [
        {
            "case": "road graph: build_road_graph",
            "n": graph.n_nodes,
            "seconds": t_build,
            "ratio": None,
            "peak_mib": None,
            "note": f"{graph.n_edges} edges",
        },
        {
            "case": "remoteness: travel to nearest settlement (ours)",
            "n": len(hazards),
            "seconds": t_ours,
            "ratio": t_ours / t_floor,
            "peak_mib": peak_ours,
            "note": "ratio = ours / floor; virtual sources with their walks, direct walks, "
            "ids (areas attached to the graph once beforehand)",
        },
        {
            "case": "remoteness: bare csgraph dijkstra (floor)",
            "n": graph.n_nodes,
            "seconds": t_floor,
            "ratio": 1.0,
            "peak_mib": None,
            "note": f"{len(src)} source nodes, min_only=True",
        },
        {
            "case": "remoteness: networkx multi_source_dijkstra (peer)",
            "n": graph.n_nodes,
            "seconds": t_peer,
            "ratio": t_peer / t_ours,
            "peak_mib": None,
            "note": f"ratio = peer / ours; same distances: {agree}; to_networkx {t_nxg:.2f} s",
        },
    ]


def _write_raster(path: Path, size: int, rng: np.random.Generator) -> None:
    """A categorical uint8 raster (classes 1-7 in 80 m blocks, some nodata), written by window."""
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=Affine(PIXEL_M, 0, X0, 0, -PIXEL_M, Y0 + size * PIXEL_M),
        nodata=0,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    )
    block, strip = 8, 512
    with rasterio.open(path, "w", **profile) as ds:
        for r0 in range(0, size, strip):
            h = min(strip, size - r0)
            coarse = rng.integers(0, 8, size=(h // block + 1, size // block + 1), dtype=np.uint8)
            coarse[coarse == 0] = rng.integers(1, 8, size=int((coarse == 0).sum()))  # rare nodata
            coarse[rng.random(coarse.shape) < 0.01] = 0
            arr = coarse.repeat(block, 0).repeat(block, 1)[:h, :size]
            ds.write(arr, 1, window=Window(0, r0, size, h))


def _random_points(rng, n: int, side: float, id_col: str, prefix: str) -> gpd.GeoDataFrame:
    x = X0 + rng.uniform(0, side, n)
    y = Y0 + rng.uniform(0, side, n)
    return gpd.GeoDataFrame(
        {
            id_col: [f"{prefix}{i:06d}" for i in range(n)],
            "name": [f"{prefix}{i}" for i in range(n)],
        },
        geometry=shapely.points(x, y),
        crs=CRS,
    )


def _grid_roads(rng, n_nodes: int, side: float) -> gpd.GeoDataFrame:
    """A jittered square grid, one LineString per block side, random classes."""
    k = max(2, int(np.sqrt(n_nodes)))
    step = side / (k - 1)
    gx, gy = np.meshgrid(np.arange(k) * step + X0, np.arange(k) * step + Y0)
    gx = gx + rng.uniform(-0.2, 0.2, gx.shape) * step
    gy = gy + rng.uniform(-0.2, 0.2, gy.shape) * step
    pts = np.stack([gx, gy], axis=-1)
    a = np.concatenate([pts[:, :-1].reshape(-1, 2), pts[:-1, :].reshape(-1, 2)])
    b = np.concatenate([pts[:, 1:].reshape(-1, 2), pts[1:, :].reshape(-1, 2)])
    keep = rng.random(len(a)) > 0.05  # a few missing links
    lines = shapely.linestrings(np.stack([a[keep], b[keep]], axis=1))
    classes = np.array(["primary", "secondary", "tertiary", "track"])
    return gpd.GeoDataFrame(
        {
            "road_id": [f"R{i}" for i in range(len(lines))],
            "road_class": classes[rng.choice(4, len(lines), p=[0.05, 0.15, 0.4, 0.4])],
        },
        geometry=lines,
        crs=CRS,
    )


if __name__ == "__main__":
    main()
