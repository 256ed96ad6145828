"""Writing the layers: vector files and the land-cover raster, block by block.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ccm_geo.demo.constants import _BLOCK, _CELL_M, _LANDCOVER_COLOURS, DEMO_CRS, LANDCOVER_CLASSES
from ccm_geo.demo.province import _mark_cells, _Province, _Rivers, _Terrain
from ccm_geo.demo.settlements import _Settlements


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
