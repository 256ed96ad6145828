"""The demo run: ``generate_region`` (every layer, in order, from one seed) and the command line.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ccm_geo.demo.constants import _ROAD_STEP_M, DEMO_ORIGIN, DEMO_SEED, DEMO_SIZE_M
from ccm_geo.demo.files import _write_landcover, _write_vector
from ccm_geo.demo.hazards import _accidents, _hazards
from ccm_geo.demo.province import _Province, _rivers, _terrain
from ccm_geo.demo.roads import _roads
from ccm_geo.demo.settlements import _districts, _health, _settlements

logger = logging.getLogger("ccm_geo.demo")


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
