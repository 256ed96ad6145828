"""compute_criteria: every family together, column order, progress, settings, missing layers."""

import datetime as dt
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pydantic
import pytest
from affine import Affine
from shapely.geometry import LineString, Point, box

from ccm_geo.criteria import compute_criteria, criteria_columns
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.errors import DataWarning, InputError
from ccm_geo.model import Context
from conftest import write_raster

CRS = "EPSG:32648"
REF = dt.date(2024, 6, 30)
CLASSES = {1: "forest", 2: "cropland"}


def _hazards():
    gdf = gpd.GeoDataFrame(
        {
            "hazard_id": ["B", "A"],
            "status": ["CHA", "SHA"],
            "contamination": ["CMR;AP", "UXO"],
            "evidence": ["direct", "indirect"],
            "devices_found": [4, 0],
            "region": "R",
        },
        geometry=[box(0, 0, 20, 20), box(20, 0, 40, 20)],
        crs=CRS,
    )
    gdf["area_m2"] = gdf.geometry.area
    return gdf


def _context(tmp_path):
    path = tmp_path / "lc.tif"
    write_raster(path, [[1, 1, 2, 2], [1, 1, 2, 2]], Affine(10, 0, 0, 0, -10, 20), CRS)
    return Context(
        crs=CRS,
        accidents=gpd.GeoDataFrame(
            {
                "accident_id": ["a1"],
                "date": pd.to_datetime(["2024-01-01"]),
                "killed": [1],
                "injured": [2],
                "device_type": ["CMR"],
                "survivor_settlement_id": ["S1"],
            },
            geometry=[Point(10, 10)],
            crs=CRS,
        ),
        settlements=gpd.GeoDataFrame(
            {"settlement_id": ["S1"], "name": ["One"], "population": [300]},
            geometry=[Point(0, 500)],
            crs=CRS,
        ),
        health=gpd.GeoDataFrame(
            {"facility_id": ["F1"], "name": ["Clinic"]}, geometry=[Point(2000, 500)], crs=CRS
        ),
        roads=gpd.GeoDataFrame(
            {"road_id": ["r"], "road_class": ["primary"]},
            geometry=[LineString([(0, 500), (2000, 500)])],
            crs=CRS,
        ),
        landcover_path=path,
        landcover_classes=CLASSES,
    )


def test_compute_criteria_all_families(tmp_path):
    steps = []
    out = compute_criteria(
        _hazards(), _context(tmp_path), reference_date=REF, progress=steps.append
    )
    assert steps == ["contamination", "landuse", "road graph", "remoteness", "risk"]
    assert list(out.index) == ["B", "A"] and out.index.name == "hazard_id"
    assert list(out.columns) == criteria_columns(_context(tmp_path))
    assert out.loc["B", "accidents_24m"] == 1
    assert out.loc["B", "landuse_frac_forest"] == pytest.approx(1.0)
    assert out.loc["A", "blocked_productive_m2"] == pytest.approx(400.0)
    assert out.loc["B", "nearest_health_id"] == "F1"
    assert out.loc["A", "survivors_nearby"] == 2
    assert np.isfinite(out.select_dtypes("number")).all(axis=None)
    again = compute_criteria(_hazards(), _context(tmp_path), reference_date=REF)
    pd.testing.assert_frame_equal(out, again)


def test_every_layer_missing_warns_but_computes(tmp_path):
    with pytest.warns(DataWarning):
        out = compute_criteria(_hazards(), Context(crs=CRS), reference_date=REF)
    assert out.loc["B", "is_cmr"] and out.loc["B", "is_mine"]
    assert out["travel_min_health"].isna().all()
    assert "landuse_nodata_frac" in out.columns


def test_hazards_in_another_crs_than_the_context_raise(tmp_path):
    with pytest.raises(InputError, match="reproject the hazards"):
        compute_criteria(_hazards(), Context(crs="EPSG:32647"), reference_date=REF)


def test_settings_from_toml_and_unknown_keys():
    text = """
    [contamination]
    accident_distance_m = 250
    accident_window_months = 12
    [landuse]
    productive_classes = ["cropland"]
    [remoteness]
    offroad_speed_kmh = 5
    road_speeds_kmh = {primary = 70, track = 8}
    population_radius_km = 2.5
    """
    s = CriteriaSettings.model_validate(tomllib.loads(text))
    assert s.contamination.accident_distance_m == 250
    assert s.remoteness.road_speeds_kmh == {"primary": 70, "track": 8}
    assert "population_within_2_5km" in criteria_columns(Context(crs=CRS), s)
    assert "accidents_12m" in criteria_columns(Context(crs=CRS), s)
    with pytest.raises(pydantic.ValidationError, match="accident_distanse_m"):
        CriteriaSettings.model_validate({"contamination": {"accident_distanse_m": 1}})
    with pytest.raises(pydantic.ValidationError, match="speeds must be > 0"):
        CriteriaSettings.model_validate({"remoteness": {"road_speeds_kmh": {"track": 0}}})


def test_empty_geometry_is_named(tmp_path):
    hz = _hazards()
    hz.loc[1, "geometry"] = None
    with pytest.raises(InputError, match="no geometry: hazard_id A"):
        compute_criteria(hz, Context(crs=CRS), reference_date=REF)
