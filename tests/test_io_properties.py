"""Property: for random registers with random holes in their columns, no row is lost without a
report line, and reported + kept rows add up to the rows read."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from ccm_geo.errors import DataWarning, ValidationError
from ccm_geo.io import load_hazards
from conftest import UTM, X0, Y0, hazard_spec

_GEOMS = ["square", "none", "empty", "line", "point", "sliver", "same_as_first", "overlap"]


def _geometry(kind: str, i: int):
    x = X0 + i * 1_000.0
    return {
        "square": box(x, Y0, x + 100, Y0 + 100),
        "none": None,
        "empty": Polygon(),
        "line": LineString([(x, Y0), (x + 50, Y0)]),
        "point": Point(x + 50, Y0 + 50),
        "sliver": box(x, Y0, x + 0.01, Y0 + 0.1),
        "same_as_first": box(X0, Y0, X0 + 100, Y0 + 100),
        "overlap": box(X0 + 50, Y0, X0 + 150, Y0 + 100),
    }[kind]


_row = st.fixed_dictionaries(
    {
        "geom": st.sampled_from(_GEOMS),
        "id": st.booleans(),  # False: no id (a hole)
        "status": st.sampled_from(["Confirmed", "Suspected", None, ""]),
        "contam": st.sampled_from(["CMR", "AP;CMR", None]),
        "evidence": st.sampled_from(["Direct", "Indirect", None]),
        "devices": st.sampled_from([0, 3, None]),
        "region": st.sampled_from(["North", None, " "]),
        "kind": st.sampled_from(["8", "1"]),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=st.lists(_row, min_size=1, max_size=12), use_where=st.booleans())
def test_no_row_is_lost_without_a_report_line(tmp_path_factory, rows, use_where):
    n = len(rows)
    reg = gpd.GeoDataFrame(
        {
            "HAZ_ID": [f"H{i:03d}" if r["id"] else None for i, r in enumerate(rows)],
            "STATUS": [r["status"] for r in rows],
            "CONTAM": [r["contam"] for r in rows],
            "EVIDENCE": [r["evidence"] for r in rows],
            "DEVICES": [r["devices"] for r in rows],
            "DISTRICT": [r["region"] for r in rows],
            "KIND": [r["kind"] for r in rows],
        },
        geometry=[_geometry(r["geom"], i) for i, r in enumerate(rows)],
        crs=UTM,
    )
    path = tmp_path_factory.mktemp("reg") / "reg.geojson"
    reg.to_file(path, driver="GeoJSON")
    spec = hazard_spec(
        path,
        default_status="SHA",
        default_contamination="CMR",
        where={"KIND": ["8"]} if use_where else {},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        try:
            gdf, report = load_hazards(spec)
            kept = set(gdf["source_row"])
        except ValidationError as exc:  # nothing usable: the report says why for every row
            report, kept = exc.report, set()
            assert "no usable rows" in str(exc)
    assert report.rows_read == n
    excluded = [i.row for i in report.of("excluded")]
    assert len(excluded) == len(set(excluded))  # one line per excluded row
    assert not set(excluded) & kept
    filtered = {i + 1 for i, r in enumerate(rows) if use_where and r["kind"] != "8"}
    assert report.rows_filtered == len(filtered)
    assert kept | set(excluded) | filtered == set(range(1, n + 1))  # nothing lost
    assert report.rows_kept + len(excluded) + report.rows_filtered == report.rows_read
    if kept:
        # what the register does not give is no data, counted, never a number
        holes = sum(1 for i, r in enumerate(rows) if i + 1 in kept and r["devices"] is None)
        assert int(gdf["devices_found"].isna().sum()) == holes
        assert report.missing["devices_found"]["missing"] == holes
        assert np.all(gdf["area_m2"] >= spec.min_area_m2)
        assert gdf.geometry.union_all().area == pytest_approx(gdf["area_m2"].sum())


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-6, abs=1e-6)
