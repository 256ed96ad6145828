"""Every input format round-trips the demo register; OSM extracts give roads and places."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from ccm_geo.config import HazardInput, LayerInput
from ccm_geo.errors import DataWarning
from ccm_geo.io import load_hazards, load_layer, read_vector
from ccm_geo.io.tables import sniff_delimiter
from conftest import ROOT

DEMO = ROOT / "data" / "demo"
MAPPING = dict(
    columns={
        "hazard_id": "HAZ_ID",
        "status": "STATUS",
        "contamination": "CONTAM",
        "evidence": "EVIDENCE",
        "devices_found": "DEVICES",
        "region": "DISTRICT",
    },
    codes={
        "status": {"Suspected": "SHA", "Confirmed": "CHA", "Released": "released"},
        "evidence": {"Direct": "direct", "Indirect": "indirect", "None": "none"},
    },
)
OSM_SAMPLE = Path(pyogrio.__file__).parent / "tests" / "fixtures" / "sample.osm.pbf"


def _load(path, **extra):
    with warnings.catch_warnings():  # the demo's two repaired polygons, every time
        warnings.simplefilter("ignore", DataWarning)
        return load_hazards(HazardInput(path=path, **MAPPING, **extra))


@pytest.fixture(scope="module")
def demo():
    raw = read_vector(DEMO / "hazards.gpkg")
    ref, _ = _load(DEMO / "hazards.gpkg")
    return raw, ref


def _table(raw) -> pd.DataFrame:
    t = pd.DataFrame(raw.drop(columns="geometry"))
    t["WKT"] = raw.geometry.to_wkt()
    return t


def _write(raw, tmp_path: Path, fmt: str) -> tuple[Path, dict]:
    if fmt == "csv;":
        path = tmp_path / "r.csv"
        _table(raw).to_csv(path, sep=";", index=False)
        return path, {"crs": "EPSG:32648"}
    if fmt == "tsv":
        path = tmp_path / "r.tsv"
        _table(raw).to_csv(path, sep="\t", index=False)
        return path, {"crs": "EPSG:32648"}
    if fmt == "csv-lonlat":
        ll = raw.to_crs("EPSG:4326")
        t = pd.DataFrame(raw.drop(columns="geometry"))
        t["Longitude"] = ll.geometry.representative_point().x
        t["Latitude"] = ll.geometry.representative_point().y
        path = tmp_path / "r.csv"
        t.to_csv(path, index=False)
        return path, {"crs": "EPSG:4326"}
    if fmt in ("xlsx", "ods"):
        path = tmp_path / f"r.{fmt}"
        _table(raw).to_excel(path, index=False, engine="openpyxl" if fmt == "xlsx" else "odf")
        return path, {"crs": "EPSG:32648"}
    if fmt == "parquet":
        path = tmp_path / "r.parquet"
        raw.to_parquet(path)
        return path, {}
    driver = {"geojson": "GeoJSON", "fgb": "FlatGeobuf", "shp": "ESRI Shapefile"}[fmt]
    path = tmp_path / f"r.{fmt}"
    shortened = raw.rename(columns={"SURVEY_DATE": "SURVEYED"})  # Shapefile: 10 characters
    shortened.to_file(path, driver=driver)
    return path, {}


@pytest.mark.parametrize("fmt", ["csv;", "tsv", "xlsx", "ods", "geojson", "fgb", "parquet", "shp"])
def test_each_format_round_trips_the_demo_register(demo, tmp_path, fmt):
    raw, ref = demo
    path, extra = _write(raw, tmp_path, fmt)
    got, report = _load(path, **extra)
    assert list(got["hazard_id"]) == list(ref["hazard_id"])
    for col in ("status", "contamination", "evidence", "region"):
        assert list(got[col]) == list(ref[col]), col
    pd.testing.assert_series_equal(
        got["devices_found"].reset_index(drop=True),
        ref["devices_found"].reset_index(drop=True),
        check_dtype=False,
    )
    assert got["area_m2"].to_numpy() == pytest.approx(ref["area_m2"].to_numpy(), rel=1e-6)


def test_lon_lat_columns_of_a_spreadsheet_export(demo, tmp_path):
    raw, ref = demo
    path, extra = _write(raw, tmp_path, "csv-lonlat")
    got, report = _load(path, **extra)
    assert len(got) == len(ref) and got["area_estimated"].all()  # points became areas


def test_sniffed_delimiters():
    assert sniff_delimiter("a;b;c\n1;2,5;3\n") == ";"
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"
    assert sniff_delimiter("a,b\n1,2\n") == ","
    assert sniff_delimiter("a|b|c\n") == "|"


def test_a_spreadsheet_sheet_by_name(demo, tmp_path):
    raw, _ = demo
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as xl:
        pd.DataFrame({"note": ["cover page"]}).to_excel(xl, sheet_name="About", index=False)
        _table(raw).to_excel(xl, sheet_name="Hazards", index=False)
    got = read_vector(path, layer="Hazards", crs="EPSG:32648")
    assert len(got) == len(raw)
    with pytest.raises(Exception, match=r"book.xlsx: .*Worksheet named 'Nope' not found"):
        read_vector(path, layer="Nope", crs="EPSG:32648")


def test_osm_extract_gives_roads_with_the_contract_columns():
    if not OSM_SAMPLE.is_file():
        pytest.skip(f"pyogrio's sample extract is not installed: {OSM_SAMPLE}")
    roads = read_vector(OSM_SAMPLE, layer="roads")
    assert list(roads.columns) == ["road_id", "road_class", "geometry"]
    assert len(roads) == 36 and set(roads.geom_type) == {"LineString"}
    assert {"motorway", "residential", "footway"} <= set(roads["road_class"])
    layer, report = load_layer(
        LayerInput(path=OSM_SAMPLE, layer="roads"), "roads", crs="EPSG:32630"
    )
    assert len(layer) == 36 and report.rows_kept == 36
    with pytest.raises(Exception, match=r'set layer = "roads", "places" or "health"'):
        read_vector(OSM_SAMPLE)
    with pytest.raises(Exception, match="the extract has no place nodes"):
        read_vector(OSM_SAMPLE, layer="places")


def test_osm_places_keep_unknown_population_as_no_data(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="15.20" lon="105.10"><tag k="place" v="village"/><tag k="name" v="Ban A"/>
    <tag k="population" v="1,250"/></node>
  <node id="2" lat="15.21" lon="105.11"><tag k="place" v="hamlet"/><tag k="name" v="Ban B"/></node>
  <node id="3" lat="15.22" lon="105.12"><tag k="place" v="region"/><tag k="name" v="Big"/></node>
  <node id="4" lat="15.23" lon="105.13"><tag k="amenity" v="clinic"/><tag k="name" v="HC"/></node>
</osm>
""",
        encoding="utf-8",
    )
    places = read_vector(path, layer="places")
    assert list(places["name"]) == ["Ban A", "Ban B"]
    assert places["population"].iloc[0] == 1250 and pd.isna(places["population"].iloc[1])
    health = read_vector(path, layer="health")
    assert list(health["name"]) == ["HC"] and list(health["facility_id"]) == ["4"]


GDB = ROOT / "tests" / "data" / "register.gdb"


def test_file_geodatabase_round_trips_the_demo_register(tmp_path):
    raw = read_vector(DEMO / "hazards.gpkg").head(40)
    raw.to_file(tmp_path / "same40.gpkg")
    ref, _ = _load(tmp_path / "same40.gpkg")
    got, _ = _load(GDB, layer="Hazard_Areas")
    assert list(got["hazard_id"]) == list(ref["hazard_id"])
    assert list(got["status"]) == list(ref["status"])
    assert got["area_m2"].to_numpy() == pytest.approx(ref["area_m2"].to_numpy(), rel=1e-6)
    with pytest.raises(
        Exception, match=r"layer 'Nope' not found .*Layers: Hazard_Areas, Accidents"
    ):
        read_vector(GDB, layer="Nope")


def test_init_on_a_file_geodatabase_layer(tmp_path):
    from typer.testing import CliRunner

    from ccm_geo.cli import app

    runner = CliRunner()
    project = tmp_path / "p.toml"
    result = runner.invoke(
        app, ["init", str(GDB), "--layer", "Hazard_Areas", "--out", str(project)]
    )
    assert result.exit_code == 0, result.output
    text = project.read_text(encoding="utf-8")
    assert 'layer = "Hazard_Areas"' in text and "# EDIT" not in text
    checked = runner.invoke(app, ["validate", str(project)])
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert "40 rows read" in checked.output
