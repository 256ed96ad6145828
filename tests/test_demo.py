"""Tests of the demo province generator (small scale, small raster: fast)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ccm_geo import demo

SCALE = 0.05
LAYERS = ("hazards", "settlements", "health", "roads", "admin", "accidents")
FIELDS = {
    "hazards": [
        "HAZ_ID",
        "NAME",
        "STATUS",
        "CONTAM",
        "EVIDENCE",
        "DEVICES",
        "DISTRICT",
        "SURVEY_DATE",
    ],
    "settlements": ["VIL_ID", "VIL_NAME", "POP"],
    "health": ["HF_ID", "HF_NAME", "LEVEL"],
    "roads": ["ROAD_ID", "CLASS"],
    "admin": ["DISTRICT"],
    "accidents": ["ACC_ID", "DATE", "KILLED", "INJURED", "DEVICE", "HOME_VIL"],
}


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("demo_a")
    return demo.generate_region(out, scale=SCALE, pixel_m=40.0)


def _read(region, name):
    return pyogrio.read_dataframe(region[name])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_identical_files(region, tmp_path):
    again = demo.generate_region(tmp_path, scale=SCALE, pixel_m=40.0)
    assert set(again) == set(region) == {*LAYERS, "landcover"}
    for name, path in region.items():
        assert _sha(path) == _sha(again[name]), name


def test_other_seed_gives_other_hazards(region, tmp_path):
    other = demo.generate_region(tmp_path, scale=SCALE, seed=1, raster=False)
    assert "landcover" not in other
    assert _sha(other["hazards"]) != _sha(region["hazards"])


@pytest.mark.parametrize("name", LAYERS)
def test_layers_have_the_documented_fields_and_crs(region, name):
    info = pyogrio.read_info(region[name], layer=name)
    assert list(info["fields"]) == FIELDS[name]
    assert info["crs"] == demo.DEMO_CRS


def test_counts_and_sizes_scale(region):
    hz = _read(region, "hazards")
    assert len(hz) == round(450 * SCALE)
    assert hz["HAZ_ID"].is_unique
    assert 8 <= len(_read(region, "settlements")) <= 10
    assert len(_read(region, "health")) >= 2
    assert len(_read(region, "admin")) >= 3
    assert len(_read(region, "accidents")) == round(110 * SCALE)
    minx, miny, maxx, maxy = _read(region, "admin").total_bounds
    side = np.sqrt(SCALE)
    assert (maxx - minx, maxy - miny) == pytest.approx((30_000 * side, 40_000 * side), abs=1)
    assert (minx, miny) == pytest.approx(demo.DEMO_ORIGIN)


def test_hazard_codes_and_areas(region):
    hz = _read(region, "hazards")
    assert set(hz["STATUS"]) <= {"Suspected", "Confirmed"}
    assert set(hz["EVIDENCE"]) <= {"Direct", "Indirect", "None"}
    codes = {c for text in hz["CONTAM"] for c in text.split(";")}
    assert codes <= {"CMR", "AP", "AT", "UXO"} and "CMR" in codes
    assert (hz["DEVICES"] >= 0).all()
    assert (hz.loc[hz["STATUS"] == "Confirmed", "DEVICES"] >= 1).all()
    assert set(hz["DISTRICT"]) <= set(_read(region, "admin")["DISTRICT"])
    area_ha = shapely.area(shapely.make_valid(hz.geometry.values)) / 1e4
    cmr = hz["HAZ_ID"].str.startswith("DP-CMR").to_numpy() & hz.is_valid.to_numpy()
    assert ((area_ha[cmr] >= 0.5 - 1e-3) & (area_ha[cmr] <= 10 + 1e-3)).all()


def test_exactly_the_two_bowties_are_invalid(region):
    hz = _read(region, "hazards")
    invalid = sorted(hz.loc[~hz.is_valid, "HAZ_ID"])
    assert invalid == sorted(demo.BOWTIE_IDS)
    reasons = shapely.is_valid_reason(hz.loc[~hz.is_valid].geometry.values)
    assert all("Self-intersection" in r for r in reasons)
    assert hz.geometry.geom_type.eq("Polygon").all()


def test_hazards_inside_province_and_apart(region):
    hz = _read(region, "hazards")
    box = shapely.box(*_read(region, "admin").total_bounds)
    assert shapely.within(hz.geometry.values, box).all()
    valid = hz[hz.is_valid]
    tree = shapely.STRtree(valid.geometry.values)
    a, b = tree.query(valid.geometry.values, predicate="overlaps")
    assert len(a) == 0


def test_accidents_in_the_ten_years_before_reference(region):
    acc = _read(region, "accidents")
    dates = [date.fromisoformat(d) for d in acc["DATE"]]
    first = demo.REFERENCE_DATE.replace(year=demo.REFERENCE_DATE.year - 10)
    assert all(first <= d < demo.REFERENCE_DATE for d in dates)
    assert set(acc["DEVICE"]) <= {"CMR", "AP", "AT", "UXO"}
    assert ((acc["KILLED"] + acc["INJURED"]) >= 1).all()
    homes = acc["HOME_VIL"].dropna()
    assert set(homes) <= set(_read(region, "settlements")["VIL_ID"])


def test_settlements_and_health(region):
    st = _read(region, "settlements")
    assert st["VIL_ID"].is_unique and st["VIL_NAME"].is_unique
    assert st["POP"].between(100, 25_000).all()
    assert (st["POP"] > 5000).sum() >= 1  # at least one town
    hf = _read(region, "health")
    assert set(hf["LEVEL"]) <= {"district hospital", "health centre"}
    assert "district hospital" in set(hf["LEVEL"])


def test_districts_tile_the_province(region):
    admin = _read(region, "admin")
    box = shapely.box(*admin.total_bounds)
    assert admin.is_valid.all()
    assert admin.area.sum() == pytest.approx(box.area, rel=1e-9)
    assert shapely.union_all(admin.geometry.values).area == pytest.approx(box.area, rel=1e-9)


def test_roads_meet_at_shared_endpoints_with_one_detached_cluster(region):
    roads = _read(region, "roads")
    assert set(roads["CLASS"]) <= {"primary", "secondary", "tertiary", "track"}
    assert roads["ROAD_ID"].is_unique and roads.is_valid.all()
    geoms = roads.geometry.values
    ends = np.concatenate(
        [
            shapely.get_coordinates(shapely.get_point(geoms, 0)),
            shapely.get_coordinates(shapely.get_point(geoms, -1)),
        ]
    )
    nodes, inv = np.unique(ends, axis=0, return_inverse=True)
    m = len(roads)
    graph = coo_matrix((np.ones(m), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
    n_comp, label = connected_components(graph, directed=False)
    sizes = np.sort(np.bincount(label))[::-1]
    assert n_comp == 2  # the network and the documented detached track cluster
    assert sizes[1] < sizes[0] / 2
    # Every settlement but the isolated one is a node of the main network.
    st = shapely.get_coordinates(_read(region, "settlements").geometry.values)
    main_nodes = {tuple(p) for p in nodes[label == np.argmax(np.bincount(label))]}
    assert sum(tuple(p) in main_nodes for p in st) == len(st) - 1


def test_landcover_raster(region):
    with rasterio.open(region["landcover"]) as src:
        assert src.crs.to_epsg() == 32648
        assert src.nodata == 0
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.compression.name.lower() == "deflate"
        assert src.res == (40.0, 40.0)
        classes = set(np.unique(src.read(1)).tolist())
    assert {1, 2, 3, 4, 5, 6} <= classes <= set(demo.LANDCOVER_CLASSES)


def test_raster_shape_overrides_pixel_size(tmp_path):
    path = demo.generate_region(tmp_path, scale=0.01, raster_shape=(300, 200))["landcover"]
    with rasterio.open(path) as src:
        assert (src.height, src.width) == (300, 200)


def test_bad_options_are_reported_together(tmp_path):
    with pytest.raises(ValueError, match=r"scale=-1.*pixel_m=0"):
        demo.generate_region(tmp_path, scale=-1, pixel_m=0)


def test_cli_writes_the_files(tmp_path, capsys):
    assert demo.main([str(tmp_path), "--scale", "0.01", "--no-raster"]) == 0
    assert (tmp_path / "roads.gpkg").is_file()
    assert not (tmp_path / "landcover.tif").exists()
    assert "hazards" in capsys.readouterr().out
