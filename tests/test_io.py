"""Loading and writing: every kind of bad input is reported with file, row, id and value."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from ccm_geo.errors import (
    DataWarning,
    InputError,
    InputFileNotFoundError,
    ValidationError,
)
from ccm_geo.io import atomic_output, load_hazards, write_csv, write_gpkg
from conftest import UTM, X0, Y0, hazard_spec, register, square


def test_clean_register_maps_columns_and_codes(write_register):
    path = write_register(register(4))
    gdf, report = load_hazards(hazard_spec(path))
    assert report.ok and report.rows_read == 4 and report.rows_kept == 4
    assert list(gdf["hazard_id"]) == ["H000", "H001", "H002", "H003"]
    assert list(gdf["status"]) == ["SHA", "CHA", "SHA", "CHA"]
    assert list(gdf["contamination"]) == ["AP;CMR", "CMR", "CMR", "AP;CMR"]
    assert list(gdf["evidence"]) == ["indirect", "direct", "indirect", "direct"]
    assert list(gdf["devices_found"]) == [0, 1, 2, 3]
    assert list(gdf["region"]) == ["North", "North", "South", "South"]
    np.testing.assert_allclose(gdf["area_m2"], 10_000.0)
    assert gdf.crs.to_epsg() == 32648


@pytest.mark.parametrize(
    "suffix,kwargs",
    [
        (".gpkg", {}),
        (".geojson", {"driver": "GeoJSON"}),
        (".shp", {}),
        (".fgb", {"driver": "FlatGeobuf"}),
    ],
)
def test_vector_formats_give_the_same_layer(write_register, suffix, kwargs):
    path = write_register(register(4), name=f"h{suffix}", **kwargs)
    gdf, _ = load_hazards(hazard_spec(path))
    assert list(gdf["hazard_id"]) == ["H000", "H001", "H002", "H003"]
    np.testing.assert_allclose(gdf["area_m2"], 10_000.0, rtol=1e-9)


def test_geoparquet(tmp_path):
    path = tmp_path / "h.parquet"
    register(3).to_parquet(path)
    gdf, _ = load_hazards(hazard_spec(path))
    assert len(gdf) == 3


def test_csv_with_wkt_and_with_lonlat(tmp_path):
    reg = register(2)
    wkt = pd.DataFrame(reg.drop(columns="geometry"))
    wkt["WKT"] = shapely.to_wkt(reg.geometry.values)
    p1 = tmp_path / "wkt.csv"
    wkt.to_csv(p1, index=False)
    gdf, _ = load_hazards(hazard_spec(p1, crs=UTM))
    np.testing.assert_allclose(gdf["area_m2"], 10_000.0)

    pts = reg.centroid.to_crs(4326)
    ll = pd.DataFrame(reg.drop(columns="geometry"))
    ll["lon"], ll["lat"] = pts.x.to_numpy(), pts.y.to_numpy()
    p2 = tmp_path / "ll.csv"
    ll.to_csv(p2, index=False)
    gdf, report = load_hazards(hazard_spec(p2, crs="EPSG:4326", point_area_m2=5_000))
    assert gdf["area_estimated"].all()
    np.testing.assert_allclose(gdf["area_m2"], 5_000.0, rtol=2e-3)
    assert report.counts() == {"warning:point_to_area": 1}


def test_missing_crs_is_an_error_unless_configured(tmp_path):
    reg = register(2)
    df = pd.DataFrame(reg.drop(columns="geometry"))
    df["WKT"] = shapely.to_wkt(reg.geometry.values)
    path = tmp_path / "nocrs.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"nocrs\.csv: .*no coordinate reference system.*crs ="):
        load_hazards(hazard_spec(path))
    gdf, _ = load_hazards(hazard_spec(path, crs=UTM))
    assert len(gdf) == 2


def test_geographic_crs_is_reprojected_to_metric(write_register):
    path = write_register(register(3).to_crs(4326), name="wgs84.gpkg")
    gdf, _ = load_hazards(hazard_spec(path))
    assert gdf.crs.to_epsg() == 32648  # UTM zone estimated from the data
    np.testing.assert_allclose(gdf["area_m2"], 10_000.0, rtol=1e-6)
    gdf2, _ = load_hazards(hazard_spec(path), project_crs="EPSG:3857")
    assert gdf2.crs.to_epsg() == 3857


def test_invalid_polygon_is_repaired_and_reported(write_register):
    x1 = X0 + 1_000.0  # where square(1) was: the bowtie overlaps no other area
    bowtie = Polygon([(x1, Y0), (x1 + 100, Y0 + 100), (x1 + 100, Y0), (x1, Y0 + 100)])
    reg = register(2)
    reg.loc[1, "geometry"] = bowtie
    with pytest.warns(DataWarning, match="1 geometry repair"):
        gdf, report = load_hazards(hazard_spec(write_register(reg)))
    (issue,) = report.of("repair")
    assert issue.hazard_id == "H001" and issue.row == 2 and "Self-intersection" in issue.value
    # two triangles of 2,500 m² each: area is conserved by the repair
    assert gdf.set_index("hazard_id").loc["H001", "area_m2"] == pytest.approx(5_000.0)
    assert gdf.geometry.is_valid.all()


def test_null_and_empty_geometries_are_excluded_and_reported(write_register):
    reg = register(4)
    reg.loc[1, "geometry"] = None
    reg.loc[2, "geometry"] = Polygon()
    with pytest.warns(DataWarning, match="2 row.s. excluded .H001, H002"):
        gdf, report = load_hazards(hazard_spec(write_register(reg)))
    assert list(gdf["hazard_id"]) == ["H000", "H003"]
    assert [(i.code, i.hazard_id, i.row) for i in report.of("excluded")] == [
        ("null_geometry", "H001", 2),
        ("null_geometry", "H002", 3),
    ]
    assert report.rows_read == 4 and report.rows_kept == 2


def test_lines_are_excluded_points_become_areas(tmp_path):
    reg = register(3)
    geoms = [square(0), LineString([(X0, Y0), (X0 + 50, Y0)]), Point(X0 + 5_000, Y0)]
    reg = gpd.GeoDataFrame(reg.drop(columns="geometry"), geometry=geoms, crs=UTM)
    path = tmp_path / "mixed.geojson"
    reg.to_file(path, driver="GeoJSON")
    with pytest.warns(DataWarning, match="1 row.s. excluded .H001"):
        gdf, report = load_hazards(hazard_spec(path, point_area_m2=10_000))
    assert list(gdf["hazard_id"]) == ["H000", "H002"]
    (ex,) = report.of("excluded")
    assert ex.code == "not_an_area" and ex.value == "LineString"
    h2 = gdf.set_index("hazard_id").loc["H002"]
    assert h2["area_estimated"] and h2["area_m2"] == pytest.approx(10_000, rel=1e-3)


def test_duplicate_ids_are_fatal_with_rows(write_register):
    reg = register(4, HAZ_ID=["A", "B", "A", "C"])
    with pytest.raises(ValidationError, match=r"hazard id 'A' appears on rows 1, 3") as info:
        load_hazards(hazard_spec(write_register(reg)))
    assert info.value.report.of("error")[0].code == "duplicate_id"
    assert isinstance(info.value, ValueError)


def test_unknown_codes_name_value_rows_and_fix(write_register):
    reg = register(
        4, STATUS=["Suspected", "Maybe", "Maybe", "Confirmed"], CONTAM=["CMR", "CMR", "XYZ", "CMR"]
    )
    with pytest.raises(ValidationError) as info:
        load_hazards(hazard_spec(write_register(reg)))
    msg = str(info.value)
    assert "status 'Maybe'" in msg and "rows 2, 3" in msg
    assert "[inputs.hazards.codes.status]" in msg
    assert "contamination 'XYZ'" in msg and "rows 3" in msg
    assert "hazards.gpkg" in msg


def test_flipped_longitude_is_excluded_and_reported(tmp_path):
    reg = register(3).to_crs(4326)
    flipped = shapely.transform(reg.geometry.values[1], lambda xy: xy * np.array([-1.0, 1.0]))
    reg.loc[1, "geometry"] = flipped
    path = tmp_path / "flip.geojson"
    reg.to_file(path, driver="GeoJSON")
    with pytest.warns(DataWarning, match="H001"):
        gdf, report = load_hazards(hazard_spec(path))
    assert list(gdf["hazard_id"]) == ["H000", "H002"]
    (ex,) = report.of("excluded")
    assert ex.code == "far_from_register" and ex.row == 2 and ex.value.startswith("-105.")
    assert gdf.crs.to_epsg() == 32648  # the stray point did not move the UTM zone


def test_empty_file_not_geospatial_missing_file(tmp_path):
    empty = tmp_path / "empty.gpkg"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.gpkg: the file is empty"):
        load_hazards(hazard_spec(empty))
    text = tmp_path / "notes.gpkg"
    text.write_text("this is a meeting note, not a map\n")
    with pytest.raises(InputError, match=r"notes\.gpkg: not a readable geospatial file"):
        load_hazards(hazard_spec(text))
    with pytest.raises(InputFileNotFoundError, match=r"nothere\.gpkg: file not found") as info:
        load_hazards(hazard_spec(tmp_path / "nothere.gpkg"))
    assert isinstance(info.value, FileNotFoundError)
    no_rows = tmp_path / "norows.geojson"
    no_rows.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(InputError, match="no rows"):
        load_hazards(hazard_spec(no_rows))


def test_mapped_column_missing_lists_columns(write_register):
    reg = register(2).drop(columns="DEVICES")
    with pytest.raises(ValidationError, match=r"columns.devices_found = 'DEVICES'.*HAZ_ID"):
        load_hazards(hazard_spec(write_register(reg)))


def test_bad_devices_value_is_reported(write_register):
    reg = register(2)
    reg["DEVICES"] = ["3", "many"]
    with pytest.raises(ValidationError, match=r"row 2, id H001: devices_found 'many'"):
        load_hazards(hazard_spec(write_register(reg)))


def test_where_filter_counts_rows_left_out(write_register):
    reg = register(4, KIND=["8", "1", "8", "2"])
    gdf, report = load_hazards(hazard_spec(write_register(reg), where={"KIND": ["8"]}))
    assert list(gdf["hazard_id"]) == ["H000", "H002"]
    assert report.rows_read == 4 and report.rows_filtered == 2 and report.rows_kept == 2


def test_write_gpkg_is_reproducible_and_styled(tmp_path):
    gdf, _ = load_hazards(hazard_spec(_tmp_register(tmp_path)))
    from ccm_geo.publish.styles import hazard_style

    digests = []
    for name in ("a.gpkg", "b.gpkg"):
        path = write_gpkg(
            {"hazards": gdf}, tmp_path / name, styles={"hazards": hazard_style("status")}
        )
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    con = sqlite3.connect(tmp_path / "a.gpkg")
    ((table, qml, default),) = con.execute(
        "SELECT f_table_name, styleQML, useAsDefault FROM layer_styles"
    ).fetchall()
    con.close()
    assert table == "hazards" and default == 1
    assert 'attr="status"' in qml and 'value="CHA"' in qml
    back = gpd.read_file(tmp_path / "a.gpkg", layer="hazards")
    assert list(back["hazard_id"]) == list(gdf["hazard_id"])


def test_fast_csv_and_gpkg_writers_give_the_bytes_of_the_plain_ones(tmp_path):
    # write_csv joins rows itself and write_gpkg goes through Arrow: the files must be those
    # of pandas' to_csv and of pyogrio's feature-by-feature write, byte for byte
    import pyogrio

    from ccm_geo.io.write import _fixed_gpkg_time, _for_file, _write_csv_rows

    rng = np.random.default_rng(0)
    n = 3000  # more than one of pandas' blocks of rows (100,000 cells)
    odd = [
        "plain",
        "a,b",
        'say "hi"',
        'both, "q"',
        "line\nbreak",
        "cr\rhere",
        "",
        " sp ",
        "ñandú",
        None,
    ]
    df = pd.DataFrame(
        {
            "f": rng.normal(size=n) * 10.0 ** rng.integers(-9, 18, n),
            "g": np.where(rng.random(n) < 0.3, np.nan, np.round(rng.random(n), 2)),
            "z": np.where(rng.random(n) < 0.5, -0.0, 0.0),
            "i": rng.integers(-5, 10**12, n),
            "b": rng.random(n) < 0.5,
            "s": pd.Series(rng.choice(np.array(odd, dtype=object), n), dtype=object),
            "t": pd.Series(rng.choice(np.array(odd[:-1], dtype=object), n)).astype("str"),
            # midnight only in the first block: pandas writes those dates without a time
            "d": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(np.where(np.arange(n) < 1000, 0, rng.integers(0, 10**6, n)), "s"),
            "c": pd.Categorical(rng.choice(["x", "y,z"], n)),
            "k": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), "Int64"),
            "m": pd.Series([1, 2.5, "x", None, True] * (n // 5), dtype=object),
            "label, with comma": 1.0,
        }
    )
    for frame in (df, df.iloc[:0], df.iloc[:1], df[["f", "s"]]):
        frame.to_csv(tmp_path / "ref.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
        assert _write_csv_rows(frame, tmp_path / "new.csv")
        assert (tmp_path / "new.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not _write_csv_rows(df[["f"]], tmp_path / "one.csv")  # one column: to_csv's
    gdf = gpd.GeoDataFrame(
        df.drop(columns=["c", "m"]).assign(s=df["s"].where(df["s"].notna(), None)),
        geometry=[Point(X0 + i, Y0) for i in range(n)],
        crs=UTM,
    )
    out, arrow = _for_file(gdf)
    assert arrow and not _for_file(gdf.assign(m=df["m"]))[1]
    # text with a float NaN is kept as it is but goes row by row; a categorical is text
    text_nan = pd.Series(["a", None, np.nan] * (n // 3) + ["b"] * (n % 3), dtype=object)
    kept, arrow = _for_file(gdf.assign(s=text_nan))
    assert not arrow and kept["s"].equals(text_nan)
    assert _for_file(gdf.assign(s=df["s"].fillna("").astype("category")))[1]
    # objects that become numbers (whole numbers and None, dates) are judged by their new dtype
    ints = pd.Series([1, None] * (n // 2) + [1] * (n % 2), dtype=object)
    assert _for_file(gdf.assign(s=ints))[1]
    days = pd.Series([dt.date(2020, 1, 1), None] * (n // 2) + [None] * (n % 2), dtype=object)
    assert _for_file(gdf.assign(s=days))[1]
    digests = []
    for arrow in (False, True):
        path = tmp_path / f"{arrow}.gpkg"
        with _fixed_gpkg_time():
            pyogrio.write_dataframe(out, path, layer="x", driver="GPKG", use_arrow=arrow)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_failed_write_keeps_the_good_output(tmp_path):
    target = tmp_path / "table.csv"
    write_csv(pd.DataFrame({"a": [1]}), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half a tab")
        raise RuntimeError("disk full")
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def _tmp_register(tmp_path):
    path = tmp_path / "reg.gpkg"
    register(4).to_file(path)
    return path


def test_context_layer_rows_that_cannot_be_read_are_excluded_and_reported(tmp_path):
    from ccm_geo.config import LayerInput
    from ccm_geo.io import load_layer

    acc = gpd.GeoDataFrame(
        {
            "ID": ["A1", "A2", "A3", "A4"],
            "WHEN": ["2025-03-01", "not a date", "2024-12-31", None],
            "K": [1, 0, 2, 0],
            "I": [0, 3, 1, 2],
            "DEV": ["CMR", "AP", "CMR", "UXO"],
        },
        geometry=[Point(X0, Y0), Point(X0 + 10, Y0), None, Point(X0 + 20, Y0)],
        crs=UTM,
    )
    path = tmp_path / "acc.gpkg"
    acc.to_file(path)
    spec = LayerInput(
        path=path,
        columns={
            "accident_id": "ID",
            "date": "WHEN",
            "killed": "K",
            "injured": "I",
            "device_type": "DEV",
        },
    )
    gdf, report = load_layer(spec, "accidents", crs=UTM)
    assert list(gdf["accident_id"]) == ["A1", "A4"]
    assert gdf["date"].iloc[0].year == 2025 and pd.isna(gdf["date"].iloc[1])  # unknown, kept
    assert list(gdf["killed"]) == [1, 0] and list(gdf["injured"]) == [0, 2]
    assert gdf["survivor_settlement_id"].isna().all()  # not mapped: unknown, not invented
    found = {(i.code, i.row) for i in report.of("excluded")}
    assert found == {("null_geometry", 3), ("bad_date", 2)}
    bad = next(i for i in report.of("excluded") if i.code == "bad_date")
    assert bad.column == "WHEN" and bad.value == "not a date"


def test_settlements_without_ids_get_row_ids_and_bad_population_is_reported(tmp_path):
    from ccm_geo.config import LayerInput
    from ccm_geo.io import load_layer

    vil = gpd.GeoDataFrame(
        {"POP": ["120", "many", "3400"]},
        geometry=[Point(X0, Y0), Point(X0 + 1, Y0), Point(X0 + 2, Y0)],
        crs=UTM,
    )
    path = tmp_path / "vil.geojson"
    vil.to_file(path, driver="GeoJSON")
    gdf, report = load_layer(
        LayerInput(path=path, columns={"population": "POP"}), "settlements", crs=UTM
    )
    assert list(gdf["settlement_id"]) == ["settlements-1", "settlements-3"]
    assert list(gdf["population"]) == [120, 3400]
    (issue,) = report.of("excluded")
    assert issue.code == "bad_population" and issue.row == 2 and issue.value == "many"


def test_where_matches_codes_stored_as_numbers(write_register):
    reg = register(4)
    reg["KIND"] = [8.0, 1.0, 8.0, 2.0]  # a Real field, as many exports store codes
    gdf, report = load_hazards(hazard_spec(write_register(reg), where={"KIND": ["8"]}))
    assert list(gdf["hazard_id"]) == ["H000", "H002"] and report.rows_filtered == 2


def test_no_usable_rows_is_a_clear_error(write_register):
    reg = register(3, KIND=["1", "1", "2"])
    with pytest.raises(ValidationError, match=r"no usable rows: 3 read, 3 left out by the `where`"):
        load_hazards(hazard_spec(write_register(reg), where={"KIND": ["8"]}))


def test_register_wider_than_one_utm_zone_keeps_its_rows(tmp_path):
    # 14 degrees of longitude: beyond one UTM zone (6 degrees), still one country's register.
    pts = [Point(lon, 15.0) for lon in (98.5, 101.0, 104.0, 107.0, 112.5)]
    reg = gpd.GeoDataFrame(register(5).drop(columns="geometry"), geometry=pts, crs=4326)
    path = tmp_path / "wide.geojson"
    reg.to_file(path, driver="GeoJSON")
    gdf, report = load_hazards(hazard_spec(path))
    assert len(gdf) == 5 and not report.of("excluded")


def test_duplicate_settlement_ids_are_an_error(tmp_path):
    from ccm_geo.config import LayerInput
    from ccm_geo.io import load_layer

    vil = gpd.GeoDataFrame(
        {"VID": ["V1", "V2", "V1"], "POP": [10, 20, 30]},
        geometry=[Point(X0, Y0), Point(X0 + 1, Y0), Point(X0 + 2, Y0)],
        crs=UTM,
    )
    path = tmp_path / "vil.gpkg"
    vil.to_file(path)
    spec = LayerInput(path=path, columns={"settlement_id": "VID", "population": "POP"})
    with pytest.raises(ValidationError, match=r"settlement_id 'V1' appears on rows 1, 3"):
        load_layer(spec, "settlements", crs=UTM)


def test_csv_text_cannot_run_as_a_spreadsheet_formula(tmp_path):
    path = write_csv(
        pd.DataFrame({"name": ['=HYPERLINK("x")', "Ban Na", "@SUM(1)"]}), tmp_path / "t.csv"
    )
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert list(back["name"]) == ['\'=HYPERLINK("x")', "Ban Na", "'@SUM(1)"]


def test_admin_regions_in_several_parts_are_allowed(tmp_path):
    from ccm_geo.config import LayerInput
    from ccm_geo.io import load_layer

    admin = gpd.GeoDataFrame(
        {"NAME": ["Island district", "Island district", "Mainland"]},
        geometry=[square(0), square(3), square(6)],
        crs=UTM,
    )
    path = tmp_path / "admin.gpkg"
    admin.to_file(path)
    gdf, _ = load_layer(LayerInput(path=path, columns={"region": "NAME"}), "admin", crs=UTM)
    assert len(gdf) == 3


def test_blank_accident_dates_stay_unknown(tmp_path):
    from ccm_geo.config import LayerInput
    from ccm_geo.io import load_layer

    acc = gpd.GeoDataFrame(
        {"ID": ["A1", "A2"], "WHEN": ["2025-03-01", "   "]},
        geometry=[Point(X0, Y0), Point(X0 + 5, Y0)],
        crs=UTM,
    )
    path = tmp_path / "acc.gpkg"
    acc.to_file(path)
    spec = LayerInput(path=path, columns={"accident_id": "ID", "date": "WHEN"})
    gdf, report = load_layer(spec, "accidents", crs=UTM)
    assert list(gdf["accident_id"]) == ["A1", "A2"] and pd.isna(gdf["date"].iloc[1])
    assert not report.of("excluded")


def test_register_in_two_far_apart_clusters_asks_for_a_crs(tmp_path):
    pts = [Point(lon, 10.0) for lon in (100.0, 100.5, 101.0, 140.0, 140.5, 141.0)]
    reg = gpd.GeoDataFrame(register(6).drop(columns="geometry"), geometry=pts, crs=4326)
    path = tmp_path / "two.geojson"
    reg.to_file(path, driver="GeoJSON")
    with pytest.raises(
        ValidationError, match=r"6 of 6 rows lie more than 15 degrees.*project\.crs"
    ):
        load_hazards(hazard_spec(path))


def test_area_summary_of_an_empty_register_has_its_row_of_zeros():
    from ccm_geo.model import area_summary

    empty = pd.DataFrame(
        {
            "region": pd.Series([], dtype=object),
            "status": pd.Series([], dtype=object),
            "contamination": pd.Series([], dtype=object),
            "area_m2": pd.Series([], dtype=float),
        }
    )
    out = area_summary(empty)
    assert len(out) == 1 and out.iloc[0]["region"] == "all" and out.iloc[0]["status"] == "all"
    assert out["areas"].dtype == np.int64 and out.iloc[0]["areas"] == 0
    assert out.iloc[0]["total_ha"] == 0.0
