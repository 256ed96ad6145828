"""Land-use indicators on a 4×4 raster whose answers are known exactly."""

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from ccm_geo.criteria.landuse import landuse_columns, landuse_indicators
from ccm_geo.criteria.settings import CriteriaSettings, LanduseSettings
from ccm_geo.errors import DataWarning
from ccm_geo.model import Context
from conftest import write_raster

CRS = "EPSG:32648"
CLASSES = {1: "forest", 2: "cropland", 3: "paddy", 4: "settlement"}
# 10 m pixels, x 0..40, y 0..40; 0 is nodata
GRID = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 0, 0], [3, 3, 4, 4]], dtype="uint8")


@pytest.fixture
def raster(tmp_path):
    path = tmp_path / "lc.tif"
    write_raster(path, GRID, Affine(10, 0, 0, 0, -10, 40), CRS)
    return path


def _hazards(geoms, crs=CRS):
    gdf = gpd.GeoDataFrame(
        {"hazard_id": [f"H{i}" for i in range(len(geoms))]}, geometry=geoms, crs=crs
    )
    gdf["area_m2"] = gdf.geometry.area
    return gdf


def _roads(lines=()):
    return gpd.GeoDataFrame(
        {"road_id": [f"R{i}" for i in range(len(lines))], "road_class": "track"},
        geometry=list(lines),
        crs=CRS,
    )


def _context(raster, roads=None, classes=CLASSES):
    return Context(
        crs=CRS,
        landcover_path=raster,
        landcover_classes=classes,
        roads=roads if roads is not None else _roads(),
    )


def test_exact_and_partial_pixels(raster):
    hz = _hazards(
        [
            box(0, 20, 20, 40),  # the four forest pixels exactly
            box(5, 25, 25, 40),  # 225 m² forest, 75 m² cropland
            box(20, 0, 40, 20),  # two nodata pixels, two settlement pixels
            box(-10, 30, 10, 40),  # half outside the raster, half on a forest pixel
        ]
    )
    out = landuse_indicators(hz, _context(raster))
    assert out.loc["H0", "landuse_frac_forest"] == pytest.approx(1.0)
    assert out.loc["H0", "landuse_nodata_frac"] == pytest.approx(0.0, abs=1e-12)
    assert out.loc["H1", "landuse_frac_forest"] == pytest.approx(0.75)
    assert out.loc["H1", "landuse_frac_cropland"] == pytest.approx(0.25)
    assert out.loc["H2", "landuse_frac_settlement"] == pytest.approx(0.5)
    assert out.loc["H2", "landuse_nodata_frac"] == pytest.approx(0.5)
    assert out.loc["H3", "landuse_frac_forest"] == pytest.approx(0.5)
    assert out.loc["H3", "landuse_nodata_frac"] == pytest.approx(0.5)
    # productive = cropland + paddy + settlement (+ pasture, absent here), times area_m2
    assert out["blocked_productive_m2"].tolist() == pytest.approx([0.0, 75.0, 200.0, 0.0])
    assert list(out.columns) == landuse_columns(CLASSES)
    frac_cols = [c for c in out.columns if c.startswith("landuse_frac_")]
    assert (out[frac_cols].sum(axis=1) + out["landuse_nodata_frac"]).tolist() == pytest.approx(
        [1.0] * 4
    )


def test_polygon_with_hole_and_multipolygon(raster):
    ring = Polygon([(0, 0), (40, 0), (40, 40), (0, 40)], [[(10, 10), (30, 10), (30, 30), (10, 30)]])
    multi = MultiPolygon([box(0, 30, 10, 40), box(30, 0, 40, 10)])
    out = landuse_indicators(_hazards([ring, multi]), _context(raster))
    # ring: 12 pixels: 3 forest, 3 cropland, 3 paddy, 2 settlement, 1 nodata
    assert out.loc["H0", "landuse_frac_forest"] == pytest.approx(3 / 12)
    assert out.loc["H0", "landuse_frac_settlement"] == pytest.approx(2 / 12)
    assert out.loc["H0", "landuse_nodata_frac"] == pytest.approx(1 / 12)
    assert out.loc["H0", "blocked_productive_m2"] == pytest.approx(800.0)
    assert out.loc["H1", "landuse_frac_forest"] == pytest.approx(0.5)
    assert out.loc["H1", "landuse_frac_settlement"] == pytest.approx(0.5)


def test_area_outside_the_raster_is_named(raster):
    hz = _hazards([box(0, 20, 20, 40), box(100, 100, 110, 110)])
    with pytest.warns(DataWarning, match="no land-cover data.*H1"):
        out = landuse_indicators(hz, _context(raster))
    assert out.loc["H1", "landuse_nodata_frac"] == 1.0
    assert np.isnan(out.loc["H1", "landuse_frac_forest"])
    assert np.isnan(out.loc["H1", "blocked_productive_m2"])
    assert out.loc["H0", "landuse_frac_forest"] == pytest.approx(1.0)


def test_chunked_reading_gives_the_same_shares(raster):
    hz = _hazards([box(5, 5, 35, 35), box(5, 25, 25, 40)])
    base = landuse_indicators(hz, _context(raster))
    for strategy in ("raster-sequential", "feature-sequential"):
        s = CriteriaSettings(landuse=LanduseSettings(strategy=strategy, max_cells_in_memory=4))
        out = landuse_indicators(hz, _context(raster), s)
        np.testing.assert_allclose(out.to_numpy(float), base.to_numpy(float))


def test_road_length_inside_polygons(raster):
    roads = _roads([LineString([(-10, 35), (50, 35)]), LineString([(5, 0), (5, 100)])])
    hz = _hazards([box(0, 20, 20, 40), box(30, 0, 40, 10)])
    out = landuse_indicators(hz, _context(raster, roads))
    assert out.loc["H0", "road_length_m"] == pytest.approx(20.0 + 20.0)
    assert out.loc["H1", "road_length_m"] == 0.0


def test_raster_in_another_crs_reprojects_the_polygons(tmp_path):
    # a geographic raster split at 105°E, the central meridian of UTM zone 48 (x = 500000 m)
    path = tmp_path / "lc4326.tif"
    arr = np.ones((200, 200), dtype="uint8")
    arr[:, 100:] = 2
    write_raster(path, arr, Affine(0.001, 0, 104.9, 0, -0.001, 15.2), "EPSG:4326")
    _, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(105.0, 15.1)
    hz = _hazards([box(500_000 - 100, y, 500_000 + 100, y + 200)])
    out = landuse_indicators(hz, _context(path, classes={1: "forest", 2: "cropland"}))
    assert out.loc["H0", "landuse_frac_forest"] == pytest.approx(0.5, abs=1e-3)
    assert out.loc["H0", "landuse_frac_cropland"] == pytest.approx(0.5, abs=1e-3)
    assert out.loc["H0", "landuse_nodata_frac"] == pytest.approx(0.0, abs=1e-3)


def test_unknown_raster_value_warns(raster):
    hz = _hazards([box(20, 0, 40, 10)])
    with pytest.warns(DataWarning, match=r"values \[4\].*not in the class table"):
        out = landuse_indicators(hz, _context(raster, classes={1: "forest", 2: "cropland"}))
    assert out.loc["H0", "landuse_frac_forest"] == 0.0


def test_missing_raster_and_roads_give_nan_with_warnings():
    hz = _hazards([box(0, 0, 10, 10)])
    with pytest.warns(DataWarning) as record:
        out = landuse_indicators(hz, Context(crs=CRS, landcover_classes=CLASSES))
    messages = " ".join(str(w.message) for w in record)
    assert "no land-cover raster" in messages and "no roads layer" in messages
    assert out.isna().all(axis=None)
    assert list(out.columns) == landuse_columns(CLASSES)
