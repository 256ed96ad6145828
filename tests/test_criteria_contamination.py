"""Contamination indicators: types, device density, accidents at the distance and date limits."""

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, Point, Polygon, box

from ccm_geo.criteria.contamination import contamination_columns, contamination_indicators
from ccm_geo.criteria.settings import ContaminationSettings, CriteriaSettings
from ccm_geo.errors import DataWarning, InputError
from ccm_geo.model import Context

CRS = "EPSG:32648"
REF = dt.date(2024, 6, 30)
SHARED = CriteriaSettings(contamination=ContaminationSettings(share_casualties=True))


def _hazards(geoms, contamination, devices=None, ids=None):
    ids = ids or [f"H{i}" for i in range(len(geoms))]
    gdf = gpd.GeoDataFrame(
        {
            "hazard_id": ids,
            "contamination": contamination,
            "status": "CHA",
            "evidence": "direct",
            "devices_found": devices or [0] * len(geoms),
        },
        geometry=geoms,
        crs=CRS,
    )
    gdf["area_m2"] = gdf.geometry.area
    return gdf


def _accidents(rows):
    """rows: (id, x, y, date, killed, injured)."""
    return gpd.GeoDataFrame(
        {
            "accident_id": [r[0] for r in rows],
            "date": pd.to_datetime([r[3] for r in rows]),
            "killed": [r[4] for r in rows],
            "injured": [r[5] for r in rows],
            "device_type": "CMR",
            "survivor_settlement_id": None,
        },
        geometry=[Point(r[1], r[2]) for r in rows],
        crs=CRS,
    )


def test_contamination_flags_and_devices_per_ha():
    hz = _hazards(
        [
            box(0, 0, 100, 100),
            box(0, 0, 200, 100),
            box(0, 0, 100, 100),
            Polygon([(0, 0), (1, 0), (0, 0)]),
        ],
        ["AP;CMR", "CMR", "IED;UXO", ""],
        devices=[3, 4, 0, 2],
    )
    acc = _accidents([("A1", 5000, 5000, "2024-01-01", 0, 0)])
    out = contamination_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert list(out.index) == ["H0", "H1", "H2", "H3"]
    assert out.index.name == "hazard_id"
    assert out["is_cmr"].tolist() == [True, True, False, False]
    assert out["is_mine"].tolist() == [True, False, False, False]
    assert out["mixed_contamination"].tolist() == [True, False, True, False]
    assert out["n_contamination_types"].tolist() == [2, 1, 2, 0]
    assert out["devices_per_ha"].iloc[:3].tolist() == [3.0, 2.0, 0.0]
    assert np.isnan(out["devices_per_ha"].iloc[3])  # zero area
    assert list(out.columns) == contamination_columns()


def test_accidents_at_the_distance_and_date_limits():
    hz = _hazards([box(0, 0, 100, 100)], ["CMR"])
    start = "2022-06-30"  # REF minus 24 calendar months: included
    acc = _accidents(
        [
            ("at_limit", 600.0, 50.0, "2024-01-10", 1, 0),  # distance exactly 500 m: in
            ("too_far", 600.001, 50.0, "2024-01-10", 5, 5),  # 500.001 m: out
            ("window_start", 50.0, 50.0, start, 0, 2),  # first day of the window: in
            ("before", 50.0, 50.0, "2022-06-29", 7, 7),  # a day too early: out of counts
            ("on_ref", 100.0, 100.0, "2024-06-30", 0, 1),  # on the reference date: in
            ("after", 50.0, 50.0, "2024-07-01", 9, 9),  # after the reference: ignored
        ]
    )
    ctx = Context(crs=CRS, accidents=acc)
    out = contamination_indicators(hz, ctx, reference_date=REF)
    row = out.loc["H0"]
    assert row["accidents_24m"] == 3
    assert row["killed_24m"] == 1
    assert row["injured_24m"] == 3
    assert row["casualties_24m"] == 4
    assert row["days_since_last_accident"] == 0.0
    assert out["accidents_24m"].dtype == np.int64
    # shared: the lone area gets the kernel weight of each accident's distance
    shared = contamination_indicators(hz, ctx, SHARED, reference_date=REF).loc["H0"]
    k500 = np.exp(-0.5 * (500.0 / CriteriaSettings().risk.kernel_sigma_m) ** 2)
    assert shared["accidents_24m"] == 3  # accidents stay whole events
    assert shared["killed_24m"] == pytest.approx(k500)
    assert shared["injured_24m"] == pytest.approx(3.0)  # both inside or on the polygon
    assert shared["casualties_24m"] == pytest.approx(3.0 + k500)


def test_days_since_last_accident_uses_any_date_and_nan_without():
    hz = _hazards([box(0, 0, 100, 100), box(10_000, 0, 10_100, 100)], ["CMR", "AP"])
    acc = _accidents([("old", 50, 50, "2020-06-30", 1, 0)])
    out = contamination_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert out.loc["H0", "accidents_24m"] == 0
    assert out.loc["H0", "days_since_last_accident"] == (REF - dt.date(2020, 6, 30)).days
    assert np.isnan(out.loc["H1", "days_since_last_accident"])


def test_window_setting_names_the_columns():
    hz = _hazards([box(0, 0, 100, 100)], ["CMR"])
    acc = _accidents([("a", 50, 50, "2023-07-01", 1, 1), ("b", 50, 50, "2023-06-29", 1, 1)])
    s = CriteriaSettings(
        contamination=ContaminationSettings(accident_window_months=12, accident_distance_m=0)
    )
    out = contamination_indicators(hz, Context(crs=CRS, accidents=acc), s, reference_date=REF)
    assert "accidents_12m" in out.columns and "accidents_24m" not in out.columns
    assert out.loc["H0", "accidents_12m"] == 1
    assert out.loc["H0", "casualties_12m"] == 2


def test_hole_and_multipolygon():
    ring = Polygon(
        [(0, 0), (3000, 0), (3000, 3000), (0, 3000)],
        [[(1000, 1000), (2000, 1000), (2000, 2000), (1000, 2000)]],
    )
    wide = Polygon(
        [(10_000, 0), (14_000, 0), (14_000, 4000), (10_000, 4000)],
        [[(11_000, 1000), (13_200, 1000), (13_200, 3200), (11_000, 3200)]],
    )
    multi = MultiPolygon([box(20_000, 0, 20_100, 100), box(30_000, 0, 30_100, 100)])
    hz = _hazards([ring, wide, multi], ["CMR", "CMR", "AT"])
    acc = _accidents(
        [
            ("hole_centre", 1500, 1500, "2024-01-01", 0, 1),  # 500 m from the hole's edge: in
            ("wide_centre", 12_100, 2100, "2024-01-01", 0, 1),  # 1100 m from the edge: out
            ("second_part", 30_050, 50, "2024-01-01", 1, 0),  # inside the second part: in
        ]
    )
    out = contamination_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert out["accidents_24m"].tolist() == [1, 0, 1]


def test_missing_accidents_layer_warns_and_gives_nan():
    hz = _hazards([box(0, 0, 100, 100)], ["CMR"])
    with pytest.warns(DataWarning, match="no accidents layer"):
        out = contamination_indicators(hz, Context(crs=CRS), reference_date=REF)
    assert np.isnan(out.loc["H0", "accidents_24m"])
    assert out.loc["H0", "is_cmr"]


def test_accident_without_date_is_named():
    hz = _hazards([box(0, 0, 100, 100)], ["CMR"])
    acc = _accidents([("good", 50, 50, "2024-01-01", 0, 1), ("nodate", 50, 50, None, 3, 3)])
    with pytest.warns(DataWarning, match="nodate"):
        out = contamination_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert out.loc["H0", "accidents_24m"] == 1


def test_duplicate_ids_and_geographic_crs_raise():
    hz = _hazards([box(0, 0, 1, 1), box(0, 0, 1, 1)], ["CMR", "CMR"], ids=["X", "X"])
    with pytest.raises(InputError, match="not unique: X"):
        contamination_indicators(hz, Context(crs=CRS), reference_date=REF)
    hz = _hazards([box(0, 0, 1, 1)], ["CMR"]).set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InputError, match="not a metric"):
        contamination_indicators(hz, Context(crs=CRS), reference_date=REF)


def test_casualties_are_shared_among_the_areas_near_an_accident():
    # three adjacent areas around one accident with 3 casualties, one far area with its own
    hz = _hazards(
        [
            box(0, 0, 100, 100),
            box(100, 0, 200, 100),
            box(0, 100, 100, 200),
            box(9e3, 0, 9.1e3, 100),
        ],
        ["CMR"] * 4,
    )
    acc = _accidents([("c", 100, 100, "2024-01-01", 1, 2), ("far", 9050, 50, "2024-01-01", 0, 1)])
    ctx = Context(crs=CRS, accidents=acc)
    whole = contamination_indicators(hz, ctx, reference_date=REF)
    assert whole["casualties_24m"].tolist() == [3.0, 3.0, 3.0, 1.0]  # default: each counts all
    out = contamination_indicators(hz, ctx, SHARED, reference_date=REF)
    # the accident touches the three areas (distance 0): each gets a third of its toll
    assert out["casualties_24m"].iloc[:3].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert out["killed_24m"].iloc[:3].tolist() == pytest.approx([1 / 3] * 3)
    assert out["casualties_24m"].iloc[:3].sum() == pytest.approx(3.0)  # one toll in total
    assert out.loc["H3", "casualties_24m"] == pytest.approx(1.0)
    assert out["accidents_24m"].tolist() == [1, 1, 1, 1]


def test_shared_unknown_casualties_stay_no_data_or_one_event():
    hz = _hazards([box(0, 0, 100, 100), box(100, 0, 200, 100)], ["CMR", "CMR"])
    acc = _accidents([("u", 100, 50, "2024-01-01", np.nan, np.nan)])
    ctx = Context(crs=CRS, accidents=acc)
    with pytest.warns(DataWarning):
        one = contamination_indicators(hz, ctx, SHARED, reference_date=REF)
    assert one["casualties_24m"].tolist() == pytest.approx([0.5, 0.5])  # one event, shared
    assert one["killed_24m"].tolist() == [0.0, 0.0]  # the convention adds events, not people
    nodata = CriteriaSettings(
        contamination=ContaminationSettings(unknown_casualties="no_data", share_casualties=True)
    )
    with pytest.warns(DataWarning):
        out = contamination_indicators(hz, ctx, nodata, reference_date=REF)
    assert out["casualties_24m"].isna().all()
    assert out["killed_24m"].isna().all()


def test_chunked_accident_pairs_give_the_same_indicators():
    from ccm_geo.criteria.contamination import _accident_indicators

    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5000, size=(60, 2))
    hz = _hazards([box(x, y, x + 150, y + 150) for x, y in xy], ["CMR"] * 60)
    pts = rng.uniform(0, 5000, size=(40, 2))
    rows = [
        (
            f"a{i}",
            x,
            y,
            f"20{22 + i % 3}-0{1 + i % 6}-15",
            float(i % 3),
            np.nan if i % 7 == 0 else 1.0,
        )
        for i, (x, y) in enumerate(pts)
    ]
    ctx = Context(crs=CRS, accidents=_accidents(rows))
    ref = pd.Timestamp(REF)
    for s in (CriteriaSettings(), SHARED):
        with pytest.warns(DataWarning):
            whole = _accident_indicators(hz, ctx, s, ref, chunk=10_000)
        with pytest.warns(DataWarning):
            chunked = _accident_indicators(hz, ctx, s, ref, chunk=3)
        assert whole.keys() == chunked.keys()
        for col in whole:
            np.testing.assert_allclose(chunked[col], whole[col], rtol=1e-12, equal_nan=True)
        assert np.nansum(whole["casualties_24m"]) > 0


def test_shared_casualties_on_a_part_of_the_register_warn():
    import warnings

    from ccm_geo.criteria import compute_criteria, remoteness_indicators, risk_indicators

    hz = _hazards([box(0, 0, 100, 100), box(100, 0, 200, 100)], ["CMR", "CMR"])
    ctx = Context(crs=CRS, accidents=_accidents([("c", 100, 50, "2024-01-01", 1, 0)]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wide = pd.concat(
            [
                remoteness_indicators(hz, ctx, reference_date=REF),
                risk_indicators(hz, ctx, reference_date=REF),
            ],
            axis=1,
        )
        part = hz.iloc[:1]
        before = len(caught)
        compute_criteria(part, ctx, reference_date=REF, register_wide=wide)
        assert not any("share_casualties" in str(w.message) for w in caught[before:])
        compute_criteria(part, ctx, SHARED, reference_date=REF, register_wide=wide)
    assert any("share_casualties" in str(w.message) for w in caught)


def test_register_wide_rows_missing_for_some_areas_are_said_not_silent():
    import warnings

    from ccm_geo.criteria import compute_criteria, register_wide_indicators

    hz = _hazards([box(0, 0, 100, 100), box(100, 0, 200, 100), box(300, 0, 400, 100)], ["CMR"] * 3)
    ctx = Context(crs=CRS, accidents=_accidents([("c", 100, 50, "2024-01-01", 1, 0)]))

    def said(call):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = call()
        return out, [str(w.message) for w in caught if issubclass(w.category, DataWarning)]

    def wide_of(areas):
        return register_wide_indicators(
            areas, ctx, CriteriaSettings(), graph=None, reference_date=REF, step=lambda _s: None
        )

    wide, msgs = said(lambda: wide_of(hz))
    assert list(wide.index) == ["H0", "H1", "H2"] and not any(" lack " in m for m in msgs)
    # rows given for a part of the register only: the areas left out are NaN, and said
    out, msgs = said(
        lambda: compute_criteria(hz, ctx, reference_date=REF, register_wide=wide.loc[["H1"]])
    )
    lack = [m for m in msgs if " lack " in m]
    assert len(lack) == 1 and "lack 2 of the 3 areas" in lack[0]
    assert lack[0].endswith("hazard_id H0, H2. Compute them over the whole register these "
                            "areas belong to")  # fmt: skip
    assert out.loc[["H0", "H2"], "accident_risk"].isna().all()
    assert out.loc["H1", "accident_risk"] == wide.loc["H1", "accident_risk"]
    # the same on a Dask cluster (in-process here): said, not silently NaN
    from distributed import Client

    from ccm_geo.engine.criteria import partitioned_criteria

    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as c:
        part, msgs = said(
            lambda: partitioned_criteria(
                hz, ctx, reference_date=REF, client=c, register_wide=wide.loc[["H1"]]
            )
        )
    assert sum("lack 2 of the 3 areas" in m for m in msgs) == 1
    assert part.loc[["H0", "H2"], "accident_risk"].isna().all()
