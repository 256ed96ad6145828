"""Real registers: nothing lost, nothing assumed in silence (one test per case of issue 10).

Each case builds its own small fixture. A case is CLEAR when it ends in a one-line error that
names the fix, or in a reported repair or assumption, with nothing lost: every row read is
kept, left out by `where`, or named in an `excluded` line of the report.
"""

from __future__ import annotations

import datetime as dt
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.config import LayerInput, config_from_dict
from ccm_geo.criteria import CriteriaSettings, contamination_indicators, remoteness_indicators
from ccm_geo.errors import ConfigError, DataWarning, ValidationError
from ccm_geo.io import load_hazards, load_layer, write_csv
from ccm_geo.model import Context, area_summary
from conftest import UTM, X0, Y0, hazard_spec, register, square

runner = CliRunner()
REF = dt.date(2027, 1, 1)


def _quiet(fn, *args, **kwargs):
    """Call a loader whose DataWarnings this test does not examine."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return fn(*args, **kwargs)


def _nothing_lost(report) -> None:
    assert report.rows_read == report.rows_filtered + report.rows_kept + len(report.of("excluded"))


def _layer(tmp_path, name: str, gdf: gpd.GeoDataFrame, **spec) -> LayerInput:
    path = tmp_path / f"{name}.gpkg"
    gdf.to_file(path)
    return LayerInput(path=path, **spec)


def _hazards(tmp_path, n: int = 3) -> gpd.GeoDataFrame:
    gdf, _ = _quiet(load_hazards, hazard_spec(_write(tmp_path, register(n))))
    return gdf


def _write(tmp_path, gdf, name="hazards.gpkg"):
    path = tmp_path / name
    gdf.to_file(path)
    return path


# ------------------------------------------------------------------------- assumed in silence


def test_accidents_without_casualty_columns_are_no_data_and_the_convention_is_reported(tmp_path):
    acc = gpd.GeoDataFrame(
        {"ID": ["A1", "A2", "A3"], "WHEN": ["2026-03-01", "2026-05-01", "2026-06-01"]},
        geometry=[Point(X0 + 50, Y0 + 50), Point(X0 + 60, Y0 + 50), Point(X0 + 1_050, Y0 + 50)],
        crs=UTM,
    )
    spec = _layer(tmp_path, "acc", acc, columns={"accident_id": "ID", "date": "WHEN"})
    gdf, report = load_layer(spec, "accidents", crs=UTM, reference_date=REF)
    assert gdf["killed"].isna().all() and gdf["injured"].isna().all()  # never 0
    assert report.missing["killed"]["missing"] == 3
    assert "killed: 3 of 3 accidents have none" in report.summary()
    assert "no such column" in report.summary()
    hazards = _hazards(tmp_path, 3)
    context = Context(crs=UTM, accidents=gdf)
    with pytest.warns(DataWarning) as caught:
        one = contamination_indicators(hazards, context, reference_date=REF)
    assert any("3 of 3 dated accidents have no killed or injured" in str(w.message) for w in caught)
    # the documented convention: an accident with no counts is one casualty event
    assert list(one["casualties_24m"]) == [2, 1, 0]
    assert one["killed_24m"].isna().sum() == 0 and list(one["killed_24m"]) == [0, 0, 0]
    no_data = CriteriaSettings(contamination={"unknown_casualties": "no_data"})
    with pytest.warns(DataWarning) as caught:
        off = contamination_indicators(hazards, context, no_data, reference_date=REF)
    assert any("unknown_casualties = 'no_data'" in str(w.message) for w in caught)
    assert off["casualties_24m"].isna().tolist() == [True, True, False]
    assert off["casualties_24m"].iloc[2] == 0  # no accident near: a true 0
    assert list(off["accidents_24m"]) == [2, 1, 0]  # the events themselves are known


def test_settlements_without_population_are_no_data_not_zero_people(tmp_path):
    vil = gpd.GeoDataFrame(
        {"VID": ["V1", "V2", "V3", "V4"], "POP": [None, None, None, "250"]},
        geometry=[Point(X0 + 200, Y0), Point(X0 + 300, Y0), Point(X0 + 400, Y0), Point(X0, Y0)],
        crs=UTM,
    )
    spec = _layer(tmp_path, "vil", vil, columns={"settlement_id": "VID", "population": "POP"})
    gdf, report = load_layer(spec, "settlements", crs=UTM)
    assert gdf["population"].isna().sum() == 3
    assert "population: 3 of 4 settlements have none" in report.summary()
    hazards = _hazards(tmp_path, 1)
    ctx = Context(crs=UTM, settlements=gdf)
    with pytest.warns(DataWarning) as caught:
        out = remoteness_indicators(hazards, ctx, reference_date=REF)
    assert any("3 of 4 settlements have none" in str(w.message) for w in caught)
    assert np.isnan(out["population_within_5km"].iloc[0])  # never "0 people within 5 km"
    zero = CriteriaSettings(remoteness={"unknown_population": "zero"})
    with pytest.warns(DataWarning) as caught:
        out = remoteness_indicators(hazards, ctx, zero, reference_date=REF)
    assert any("each counted as 0 people" in str(w.message) for w in caught)
    assert out["population_within_5km"].iloc[0] == 250


def test_evidence_not_given_is_assumed_from_status_and_reported(write_register):
    spec = hazard_spec(write_register(register(4).drop(columns="EVIDENCE")))
    spec = spec.model_copy(update={"columns": {**spec.columns}})
    cols = dict(spec.columns)
    cols.pop("evidence")
    gdf, report = load_hazards(spec.model_copy(update={"columns": cols}))
    assert list(gdf["evidence"]) == ["indirect", "direct", "indirect", "direct"]
    (issue,) = [i for i in report.issues if i.code == "evidence_from_status"]
    assert (
        issue.level == "warning"
        and issue.value == "4"
        and "assumed from the status" in (issue.message)
    )


def test_null_device_counts_are_no_data(write_register):
    reg = register(3)
    reg["DEVICES"] = pd.array([2, None, 0], dtype="Int64")
    gdf, report = load_hazards(hazard_spec(write_register(reg)))
    assert gdf["devices_found"].isna().tolist() == [False, True, False]
    assert gdf["devices_found"].iloc[2] == 0  # a recorded 0 stays 0
    assert report.missing["devices_found"] == {
        "missing": 1,
        "rows": 3,
        "noun": "areas",
        "assumed": report.missing["devices_found"]["assumed"],
    }
    with pytest.warns(DataWarning) as caught:
        ind = contamination_indicators(gdf, Context(crs=UTM), reference_date=REF)
    assert any("devices_found: 1 of 3 areas have none" in str(w.message) for w in caught)
    assert np.isnan(ind["devices_per_ha"].iloc[1]) and ind["devices_per_ha"].iloc[0] == 2


@pytest.mark.parametrize("value", ["2.5", "inf", "-1"])
def test_device_counts_that_are_not_whole_numbers_are_errors_not_rounded(write_register, value):
    reg = register(2)
    reg["DEVICES"] = ["3", value]
    with pytest.raises(ValidationError, match=rf"row 2, id H001: devices_found '{value}'"):
        load_hazards(hazard_spec(write_register(reg)))


def test_fractional_casualty_counts_are_excluded_and_reported(tmp_path):
    acc = gpd.GeoDataFrame(
        {"ID": ["A1", "A2"], "WHEN": ["2026-01-01", "2026-01-02"], "K": ["1", "1.5"]},
        geometry=[Point(X0, Y0), Point(X0 + 5, Y0)],
        crs=UTM,
    )
    spec = _layer(
        tmp_path, "acc", acc, columns={"accident_id": "ID", "date": "WHEN", "killed": "K"}
    )
    gdf, report = load_layer(spec, "accidents", crs=UTM)
    assert list(gdf["accident_id"]) == ["A1"]
    (issue,) = report.of("excluded")
    assert issue.code == "bad_killed" and issue.value == "1.5" and issue.row == 2
    _nothing_lost(report)


def test_ambiguous_dates_are_never_guessed(tmp_path):
    acc = gpd.GeoDataFrame(
        {"ID": ["A1", "A2"], "WHEN": ["05/01/2026", "1.2.2026"]},
        geometry=[Point(X0, Y0), Point(X0 + 5, Y0)],
        crs=UTM,
    )
    spec = _layer(tmp_path, "acc", acc, columns={"accident_id": "ID", "date": "WHEN"})
    with pytest.raises(ValidationError, match=r"2 of 2 date values cannot be read.*date_format"):
        load_layer(spec, "accidents", crs=UTM)
    acc["WHEN"] = ["05/01/2026", "01/02/2026"]
    spec = _layer(
        tmp_path, "acc2", acc, columns={"accident_id": "ID", "date": "WHEN"}, date_format="%d/%m/%Y"
    )
    gdf, _ = load_layer(spec, "accidents", crs=UTM)
    assert [d.date() for d in gdf["date"]] == [dt.date(2026, 1, 5), dt.date(2026, 2, 1)]


def test_future_and_undated_accidents_are_reported_at_load(tmp_path):
    acc = gpd.GeoDataFrame(
        {"ID": ["A1", "A2", "A3"], "WHEN": ["2026-01-01", "2031-05-01", None]},
        geometry=[Point(X0, Y0), Point(X0 + 5, Y0), Point(X0 + 9, Y0)],
        crs=UTM,
    )
    spec = _layer(tmp_path, "acc", acc, columns={"accident_id": "ID", "date": "WHEN"})
    gdf, report = load_layer(spec, "accidents", crs=UTM, reference_date=REF)
    assert len(gdf) == 3  # kept: the map shows them; the report says why they count nowhere
    codes = {(i.code, i.row) for i in report.of("warning") if i.code != "missing_values"}
    assert codes == {("future_date", 2), ("no_date", 3)}
    assert report.missing["date"]["missing"] == 1


def test_validate_reports_undated_accidents(tmp_path):
    project = _project(tmp_path, accidents_dates=["2026-01-01", None])
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 0, result.output
    assert "no_date" in result.stdout and "date: 1 of 2 accidents have none" in result.stdout


def test_settlements_as_polygons_are_an_error(tmp_path):
    vil = gpd.GeoDataFrame({"VID": ["V1", "V2"]}, geometry=[square(0), square(1)], crs=UTM)
    spec = _layer(tmp_path, "vil", vil, columns={"settlement_id": "VID"})
    with pytest.raises(ValidationError, match=r"holds Polygon \(2\).*must be Point.*centroids"):
        load_layer(spec, "settlements", crs=UTM)


def test_a_few_odd_geometries_in_a_context_layer_are_excluded_and_reported(tmp_path):
    vil = gpd.GeoDataFrame(
        {"VID": ["V1", "V2", "V3"]},
        geometry=[Point(X0, Y0), square(1), Point(X0 + 9, Y0)],
        crs=UTM,
    )
    spec = _layer(tmp_path, "vil", vil, columns={"settlement_id": "VID"})
    gdf, report = load_layer(spec, "settlements", crs=UTM)
    assert list(gdf["settlement_id"]) == ["V1", "V3"]
    (issue,) = report.of("excluded")
    assert issue.code == "wrong_geometry_type" and issue.row == 2 and issue.value == "Polygon"
    _nothing_lost(report)


def test_a_layer_labelled_with_the_neighbouring_utm_zone_is_an_error(tmp_path):
    hazards = _hazards(tmp_path, 3)
    # the right coordinates, declared in UTM 47N instead of 48N: some 650 km west
    vil = gpd.GeoDataFrame({"VID": ["V1"]}, geometry=[Point(X0 + 500, Y0 + 500)], crs="EPSG:32647")
    spec = _layer(tmp_path, "vil", vil, columns={"settlement_id": "VID"})
    with pytest.raises(
        ValidationError,
        match=r"lies \d+ km from the hazards: its extent x .*"
        r"does not meet the hazards' extent x .*EPSG:32648",
    ):
        load_layer(spec, "settlements", crs=UTM, hazards=hazards)


def test_identical_polygons_are_reported_as_duplicates_and_counted_once(write_register):
    reg = register(3)
    reg.loc[2, "geometry"] = reg.geometry.iloc[0]  # a re-survey under a new id
    with pytest.warns(DataWarning, match="1 row.s. excluded .H002"):
        gdf, report = load_hazards(hazard_spec(write_register(reg)))
    (dup,) = report.of("excluded")
    assert dup.code == "duplicate_geometry" and dup.hazard_id == "H002" and dup.value == "H000"
    assert list(gdf["hazard_id"]) == ["H000", "H001"]
    total = area_summary(gdf).query("region == 'all'").iloc[0]
    assert total["total_m2"] == 20_000  # each hectare once
    _nothing_lost(report)


def test_overlapping_polygons_keep_shared_land_once_and_report_its_area(write_register):
    reg = register(2)
    # H000 (SHA) overlaps H001 (CHA) by a 40 m x 100 m strip: the CHA keeps the land
    reg.loc[1, "geometry"] = box(X0 + 60, Y0, X0 + 160, Y0 + 100)
    with pytest.warns(DataWarning, match="1 geometry repair"):
        gdf, report = load_hazards(hazard_spec(write_register(reg)))
    (rep,) = report.of("repair")
    assert rep.code == "overlap_removed" and rep.hazard_id == "H000"
    assert "H001 (4,000.0 m2)" in rep.message and float(rep.value) == pytest.approx(4_000)
    area = gdf.set_index("hazard_id")["area_m2"]
    assert area["H000"] == pytest.approx(6_000) and area["H001"] == pytest.approx(10_000)
    assert gdf.geometry.union_all().area == pytest.approx(area.sum())  # land counted once
    keep, report2 = load_hazards(hazard_spec(write_register(reg, "k.gpkg"), overlaps="keep"))
    (warn,) = [i for i in report2.of("warning") if i.code == "overlap"]
    assert warn.hazard_id == "H000" and float(warn.value) == pytest.approx(4_000)
    assert keep["area_m2"].sum() == pytest.approx(20_000)  # as asked: shared land in each


def test_slivers_below_the_minimum_area_are_excluded_and_reported(write_register):
    reg = register(3)
    reg.loc[1, "geometry"] = box(X0 + 1_000, Y0, X0 + 1_000.01, Y0 + 0.1)  # 0.001 m²
    reg.loc[2, "geometry"] = box(X0 + 2_000, Y0, X0 + 2_000 + 2e-4, Y0 + 1e-4)  # 2e-8 m²
    with pytest.warns(DataWarning, match="2 row.s. excluded"):
        gdf, report = load_hazards(hazard_spec(write_register(reg)))
    assert list(gdf["hazard_id"]) == ["H000"]
    assert [(i.code, i.hazard_id) for i in report.of("excluded")] == [
        ("below_min_area", "H001"),
        ("below_min_area", "H002"),
    ]
    assert "min_area_m2 = 10 m2" in report.of("excluded")[0].message
    _nothing_lost(report)


_NO_TEAMS = {name: {"count": 0} for name in ("nts", "manual", "mechanical", "dog")}


@pytest.mark.parametrize(
    "extra,match",
    [
        ({"planning": {"teams": _NO_TEAMS}}, r"every team count is 0"),
        ({"planning": {"budget_usd": 0}}, r"budget_usd is 0 in every plan year"),
        (
            {"project": {"start_date": dt.date(2027, 1, 1), "deadline": dt.date(2026, 6, 1)}},
            r"deadline 2026-06-01 is not after project.start_date",
        ),
        (
            {"donors": [{"name": "Late fund", "budget_usd": 1e6, "years": [2040, 2041]}]},
            r"years \[2040, 2041\] are all outside the plan's years 2027-2031",
        ),
    ],
)
def test_settings_that_make_the_result_empty_fail_before_any_work(tmp_path, extra, match):
    raw = {"inputs": {"hazards": {"path": "h.gpkg"}}, **extra}
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw, base=tmp_path)


def test_validate_catches_a_deadline_before_the_start(tmp_path):
    project = _project(tmp_path)
    text = project.read_text().replace(
        'crs = "EPSG:32648"', 'crs = "EPSG:32648"\nstart_date = 2027-01-01\ndeadline = 2026-08-01'
    )
    project.write_text(text)
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "deadline 2026-08-01 is not after" in line


def test_a_donor_region_that_does_not_exist_is_an_error(tmp_path):
    project = _project(tmp_path, donor_regions=["Nrth"])
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and "regions ['Nrth'] hold no hazardous area" in line
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ lost or refused wrongly


def test_a_correct_project_crs_never_drops_real_rows(tmp_path):
    # a national register 14 degrees wide, in a CRS whose nominal area of use is 6 degrees
    pts = [Point(lon, 15.0) for lon in (98.5, 101.0, 104.0, 107.0, 112.5)]
    reg = gpd.GeoDataFrame(register(5).drop(columns="geometry"), geometry=pts, crs=4326)
    path = tmp_path / "wide.geojson"
    reg.to_file(path, driver="GeoJSON")
    gdf, report = _quiet(load_hazards, hazard_spec(path), project_crs="EPSG:32648")
    assert len(gdf) == 5 and not report.of("excluded")


def test_a_national_register_in_the_demo_crs_keeps_every_area(tmp_path):
    # areas spread over 11 x 9 degrees around the demo province, in the demo's EPSG:32648
    rng = np.random.default_rng(7)
    lon = rng.uniform(97.5, 108.5, 400)
    lat = rng.uniform(9.0, 18.0, 400)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(UTM)
    reg = gpd.GeoDataFrame(
        register(400).drop(columns="geometry"), geometry=pts.buffer(40.0).to_numpy(), crs=UTM
    )
    gdf, report = _quiet(load_hazards, hazard_spec(_write(tmp_path, reg)), project_crs=UTM)
    assert len(gdf) == 400 and not report.of("excluded")


def test_a_point_hazard_gets_exactly_the_area_asked_for(tmp_path):
    reg = gpd.GeoDataFrame(
        register(2).drop(columns="geometry"),
        geometry=[Point(X0, Y0), Point(X0 + 5_000, Y0)],
        crs=UTM,
    )
    gdf, _ = _quiet(load_hazards, hazard_spec(_write(tmp_path, reg), point_area_m2=10_000))
    assert (gdf["area_m2"] == 10_000.0).all()  # not 9,995.98: TS starts at 10,000 m²
    np.testing.assert_allclose(gdf.area, 10_000.0, rtol=1e-12)


def test_a_default_point_hazard_is_not_too_small_for_technical_survey(tmp_path):
    from ccm_geo.planning import make_tasks
    from ccm_geo.planning.settings import PlanningSettings

    reg = gpd.GeoDataFrame(
        register(2).drop(columns="geometry"),  # H001 is a CHA: no NTS, straight to TS?
        geometry=[Point(X0, Y0), Point(X0 + 5_000, Y0)],
        crs=UTM,
    )
    gdf, _ = _quiet(load_hazards, hazard_spec(_write(tmp_path, reg)))  # default 1 ha
    areas = gdf.assign(score=0.5, rank=[1, 2])
    tasks = make_tasks(areas, PlanningSettings())
    assert "H001-ts" in set(tasks["task_id"])  # 10,000 m² >= ts_min_area_m2 = 10,000 m²


def test_one_code_can_map_onto_several_types(write_register):
    reg = register(2, CONTAM=["Suspected Minefield", "CMR"])
    spec = hazard_spec(
        write_register(reg),
        codes={
            "status": {"Confirmed": "CHA", "Suspected": "SHA"},
            "contamination": {"Suspected Minefield": "AP;AT"},
        },
    )
    gdf, _ = load_hazards(spec)
    assert list(gdf["contamination"]) == ["AP;AT", "CMR"]
    bad = hazard_spec(
        write_register(reg, "b.gpkg"), codes={"contamination": {"Suspected Minefield": "AP;XX"}}
    )
    with pytest.raises(ValidationError, match=r"maps 'suspected minefield' to 'AP;XX'"):
        load_hazards(bad)


# -------------------------------------------------------------------------------- crashes


def test_metres_labelled_as_degrees_is_a_one_line_error(tmp_path):
    reg = register(3).set_crs(4326, allow_override=True)  # UTM metres, labelled EPSG:4326
    path = tmp_path / "metres.geojson"
    reg.to_file(path, driver="GeoJSON")
    with pytest.raises(
        ValidationError,
        match=r"3 of 3 rows have coordinates that are not "
        r"longitude/latitude .*look like metres: set `crs`",
    ):
        load_hazards(hazard_spec(path))


def test_unknown_crs_on_the_command_line_is_a_one_line_error(write_register):
    path = write_register(register(2))
    result = runner.invoke(app, ["validate", str(path), "--crs", "EPSG:99999999"])
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --crs 'EPSG:99999999': ") and "EPSG:<code>" in line


def test_unknown_crs_string_is_a_config_error(tmp_path):
    for raw in (
        {"project": {"crs": "EPSG:99999999"}, "inputs": {"hazards": {"path": "h.gpkg"}}},
        {"inputs": {"hazards": {"path": "h.gpkg", "crs": "UTM 48"}}},
    ):
        with pytest.raises(ConfigError, match=r"is not a coordinate reference system pyproj"):
            config_from_dict(raw, base=tmp_path)
    with pytest.raises(ConfigError, match=r"not a metric \(projected\) CRS"):
        config_from_dict(
            {"project": {"crs": "EPSG:4326"}, "inputs": {"hazards": {"path": "h.gpkg"}}},
            base=tmp_path,
        )


def test_a_raster_that_is_not_a_raster_is_a_one_line_error(tmp_path):
    project = _project(tmp_path)
    (tmp_path / "landcover.tif").write_text("not a raster at all\n")
    text = project.read_text() + '\n[inputs.landcover]\npath = "landcover.tif"\n'
    project.write_text(text)
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 1, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "landcover.tif: not a raster GDAL can read" in line
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", ["file", "under_file", "unwritable"])
def test_out_that_cannot_be_a_folder_is_a_one_line_error(tmp_path, where):
    project = _project(tmp_path)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    out = {
        "file": a_file,
        "under_file": a_file / "run",
        "unwritable": __import__("pathlib").Path("/proc/ccm-geo-run"),
    }[where]
    result = runner.invoke(app, ["load", str(project), "--out", str(out)])
    assert result.exit_code == 1, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: --out {out}: ") and "Traceback" not in result.output


def test_a_load_that_fails_writes_its_report_and_says_where(tmp_path):
    project = _project(tmp_path, hazard_geoms="none")
    out = tmp_path / "out"
    result = runner.invoke(app, ["load", str(project), "--out", str(out)])
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "no usable rows" in line and "null_geometry: 3" in line
    assert f"every finding is in {out / 'validation_report.csv'}" in line
    report = pd.read_csv(out / "validation_report.csv", encoding="utf-8-sig")
    assert sorted(report.loc[report["level"] == "excluded", "row"]) == [1, 2, 3]


# ---------------------------------------------------------------------------- CSV escaping


def test_csv_cells_starting_with_minus_and_a_formula_are_escaped(tmp_path):
    path = write_csv(
        pd.DataFrame({"name": ["-2+3", "-cmd|' /C calc'!A0", "-12.5", "-", "Ban Na"]}),
        tmp_path / "t.csv",
    )
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back["name"]) == ["'-2+3", "'-cmd|' /C calc'!A0", "-12.5", "-", "Ban Na"]


# ---------------------------------------------------------------------------------- helpers


def _project(tmp_path, *, accidents_dates=None, donor_regions=None, hazard_geoms="squares"):
    reg = register(3)
    if hazard_geoms == "none":
        reg = gpd.GeoDataFrame(reg.drop(columns="geometry"), geometry=[None] * 3, crs=UTM)
    reg.to_file(tmp_path / "hazards.gpkg")
    text = f"""
[project]
name = "Bad input"
crs = "{UTM}"

[inputs.hazards]
path = "hazards.gpkg"
codes = {{ status = {{ Confirmed = "CHA", Suspected = "SHA" }} }}

[inputs.hazards.columns]
hazard_id = "HAZ_ID"
status = "STATUS"
contamination = "CONTAM"
evidence = "EVIDENCE"
devices_found = "DEVICES"
region = "DISTRICT"
"""
    if accidents_dates is not None:
        acc = gpd.GeoDataFrame(
            {"ID": [f"A{i}" for i in range(len(accidents_dates))], "WHEN": accidents_dates},
            geometry=[Point(X0 + 10 * i, Y0) for i in range(len(accidents_dates))],
            crs=UTM,
        )
        acc.to_file(tmp_path / "acc.gpkg")
        text += (
            '\n[inputs.accidents]\npath = "acc.gpkg"\n'
            'columns = { accident_id = "ID", date = "WHEN" }\n'
        )
    if donor_regions is not None:
        text += (
            '\n[[donors]]\nname = "Regional fund"\nbudget_usd = 100000\n'
            f"regions = {donor_regions!r}\n".replace("'", '"')
        )
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_request_never_shows_zero_people_for_unknown_populations():
    from ccm_geo.publish.requests.content import _totals, _unique_beneficiaries

    pkg = gpd.GeoDataFrame(
        {
            "hazard_id": ["H1", "H2"],
            "beneficiaries": [np.nan, 300.0],
            "cost_usd": [1.0, 1.0],
        },
        geometry=[square(0), square(1)],
        crs=UTM,
    )
    villages = gpd.GeoDataFrame(
        {"settlement_id": ["V1", "V2"], "population": [np.nan, 100.0]},
        geometry=[Point(X0, Y0), Point(X0 + 10, Y0)],
        crs=UTM,
    )
    ctx = Context(crs=UTM, settlements=villages)
    assert np.isnan(_unique_beneficiaries(pkg, ctx, "population_within_5km"))  # not 100, not 0
    known = ctx.settlements.assign(population=[50.0, 100.0])
    assert (
        _unique_beneficiaries(pkg, Context(crs=UTM, settlements=known), "population_within_5km")
        == 150
    )
    totals = _totals(
        pkg.assign(
            released_m2=1.0,
            cost_currency=1.0,
            area_m2=1.0,
            cmr_m2=0.0,
            mine_m2=0.0,
            team_months=1.0,
            year=2027,
            region="A",
            activity="clearance",
        ),
        "population_within_5km",
    )
    assert np.isnan(totals["beneficiaries"])


def test_area_summary_matches_a_plain_count_per_group_on_a_messy_register():
    """Form F sums by region and status (vectorised) equal a row-by-row count, with empty
    contamination, unknown regions, missing areas and mixed CMR/mine areas in 12,000 rows."""
    import numpy as np
    import pandas as pd

    from ccm_geo.model import CMR_TYPES, MINE_TYPES, split_contamination

    rng = np.random.default_rng(4)
    n = 12_000
    frame = pd.DataFrame(
        {
            "region": rng.choice(["North", "South", "East", None], n),
            "status": rng.choice(["SHA", "CHA", "released"], n),
            "contamination": rng.choice(["CMR", "AP;CMR", "AT", "", None, " UXO ; CMR "], n),
            "area_m2": rng.uniform(10, 50_000, n).round(3),
        }
    )
    frame.loc[::17, "area_m2"] = np.nan
    out = area_summary(frame)
    known = frame[frame["region"].notna()]
    groups = sorted(known.groupby(["region", "status"]).groups)
    regions = sorted(known["region"].unique())
    expected = [*groups, *((r, "all") for r in regions), ("all", "all")]
    assert list(zip(out["region"], out["status"], strict=True)) == expected
    for row in out.itertuples(index=False):
        sel = frame
        if row.region != "all":
            sel = sel[sel["region"] == row.region]
        if row.status != "all":
            sel = sel[sel["status"] == row.status]
        codes = [split_contamination(t) for t in sel["contamination"]]
        cmr = np.array([bool(c & CMR_TYPES) for c in codes], dtype=bool)
        mine = np.array([bool(c & MINE_TYPES) for c in codes], dtype=bool)
        assert row.areas == len(sel)
        assert row.total_m2 == pytest.approx(round(sel["area_m2"].sum(), 1))
        for kind, m in (
            ("cmr", cmr),
            ("mine", mine),
            ("mixed", cmr & mine),
            ("other", ~cmr & ~mine),
        ):
            assert getattr(row, f"{kind}_areas") == int(m.sum())
            assert getattr(row, f"{kind}_m2") == pytest.approx(round(sel["area_m2"][m].sum(), 1))
    assert out["cmr_areas"].iloc[-1] > 0 and out["mixed_areas"].iloc[-1] > 0
