"""Risk indicators: kernel, age decay, sharing among nearby areas, evidence, no data."""

import datetime as dt
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from ccm_geo.criteria.risk import RISK_COLUMNS, risk_indicators
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.errors import DataWarning
from ccm_geo.model import Context

CRS = "EPSG:32648"
REF = dt.date(2024, 1, 1)
SIG = CriteriaSettings().risk.kernel_sigma_m  # the default kernel sigma (m)


def _hazards(boxes, evidence=None):
    return gpd.GeoDataFrame(
        {
            "hazard_id": [f"H{i}" for i in range(len(boxes))],
            "evidence": evidence or ["direct"] * len(boxes),
        },
        geometry=boxes,
        crs=CRS,
    )


def _accidents(points, dates, **extra):
    return gpd.GeoDataFrame(
        {"accident_id": [f"A{i}" for i in range(len(points))], "date": pd.to_datetime(dates)}
        | extra,
        geometry=[Point(*p) for p in points],
        crs=CRS,
    )


def test_one_accident_by_kernel_and_age_without_casualty_columns():
    # H0 holds the accident (d = 0); H1 is 1 sigma away; H2 3.5 sigmas (beyond the cut-off).
    hz = _hazards(
        [
            box(0, 0, 100, 100),
            box(100 + SIG, 0, 200 + SIG, 100),
            box(100 + 3.5 * SIG, 0, 4 * SIG, 100),
        ]
    )
    acc = _accidents([(100, 50)], ["2022-01-01"])  # on H0's edge, about two years old
    out = risk_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert list(out.columns) == RISK_COLUMNS
    k1 = math.exp(-0.5)
    decay = 0.5 ** ((REF - dt.date(2022, 1, 1)).days / (365.25 / 12) / 24)
    mass = 1 + k1  # the accident is shared between H0 and H1: it counts once in total
    assert out["accident_risk"].tolist() == pytest.approx([decay / mass, decay * k1 / mass, 0.0])
    assert out["accident_risk"].sum() == pytest.approx(decay)
    assert out["accident_recency"].tolist() == pytest.approx([decay / mass, decay * k1 / mass, 0.0])


def test_an_accident_near_few_areas_is_not_diluted():
    # Kernel mass below 1 (areas far from the accident): weights are not scaled up.
    hz = _hazards([box(SIG, 0, SIG + 100, 100)])
    acc = _accidents([(0, 50)], [REF.isoformat()])
    out = risk_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert out["accident_risk"].iloc[0] == pytest.approx(math.exp(-0.5))


def test_later_and_undated_accidents_are_left_out_and_said():
    hz = _hazards([box(0, 0, 100, 100)])
    acc = _accidents([(50, 50), (50, 50)], ["2030-01-01", None])
    with pytest.warns(DataWarning, match=r"1 accidents without a date: accident_id A1"):
        out = risk_indicators(hz, Context(crs=CRS, accidents=acc), reference_date=REF)
    assert out["accident_risk"].iloc[0] == 0.0


def test_no_accidents_layer_is_no_data_not_zero():
    hz = _hazards([box(0, 0, 100, 100), box(200, 0, 300, 100)])
    with pytest.warns(DataWarning, match="accident_risk and accident_recency are NaN"):
        out = risk_indicators(hz, Context(crs=CRS), reference_date=REF)
    assert out["accident_risk"].isna().all() and out["accident_recency"].isna().all()
    assert out["evidence_nearby"].notna().all()


def test_evidence_nearby_shares_each_record_and_excludes_itself():
    # Two records at one place and one 1 sigma away; indirect evidence counts half.
    place = box(0, 0, 100, 100)
    hz = _hazards(
        [place, place, box(100 + SIG, 0, 200 + SIG, 100)], evidence=["direct", "indirect", "direct"]
    )
    out = risk_indicators(hz, Context(crs=CRS, accidents=_accidents([], [])), reference_date=REF)
    k = math.exp(-0.5)
    w = np.array([1.0, 0.5, 1.0])
    d = np.array([[0, 1, k], [1, 0, k], [k, k, 0]])  # kernel between records, self excluded
    mass = np.maximum(d.sum(axis=0), 1.0)
    expected = (d * w[None, :] / mass[None, :]).sum(axis=1)
    assert out["evidence_nearby"].to_numpy() == pytest.approx(expected)


def test_kernel_and_half_life_come_from_the_settings():
    s = CriteriaSettings.model_validate({"risk": {"kernel_sigma_m": 2_000, "half_life_months": 12}})
    hz = _hazards([box(2_100, 0, 2_200, 100)])
    acc = _accidents([(100, 50)], ["2023-01-01"])
    out = risk_indicators(hz, Context(crs=CRS, accidents=acc), s, reference_date=REF)
    decay = 0.5 ** ((REF - dt.date(2023, 1, 1)).days / (365.25 / 12) / 12)
    assert out["accident_risk"].iloc[0] == pytest.approx(math.exp(-0.5) * decay)
    with pytest.raises(ValueError, match="evidence_weights"):
        CriteriaSettings.model_validate({"risk": {"evidence_weights": {"strong": 1.0}}})


def test_chunked_accident_pairs_give_the_same_risk():
    from ccm_geo.criteria.risk import _accident_terms

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 6000, size=(80, 2))
    hz = _hazards([box(x, y, x + 200, y + 200) for x, y in xy])
    pts = rng.uniform(0, 6000, size=(50, 2))
    dates = [f"20{18 + i % 5}-0{1 + i % 9}-10" for i in range(50)]
    ctx = Context(crs=CRS, accidents=_accidents([tuple(p) for p in pts], dates))
    s, ref = CriteriaSettings(), pd.Timestamp(REF)
    risk, recency = _accident_terms(hz, ctx, s, ref, chunk=100_000)
    risk_c, recency_c = _accident_terms(hz, ctx, s, ref, chunk=4)
    np.testing.assert_allclose(risk_c, risk, rtol=1e-12)
    np.testing.assert_array_equal(recency_c, recency)
    assert (risk > 0).sum() > 10


def test_chunked_evidence_pairs_give_the_same_evidence_nearby():
    from ccm_geo.criteria.risk import _evidence_nearby

    rng = np.random.default_rng(5)
    xy = rng.uniform(0, 4000, size=(70, 2))
    boxes = [box(x, y, x + 150, y + 150) for x, y in xy] + [box(0, 0, 150, 150)] * 3  # repeats
    ev = list(rng.choice(["direct", "indirect", "none"], size=len(boxes)))
    hz = _hazards(boxes, ev)
    rs = CriteriaSettings().risk
    limit = rs.kernel_sigma_m * rs.kernel_cutoff_sigmas
    whole = _evidence_nearby(hz, rs.kernel_sigma_m, limit, rs, chunk=100_000)
    for chunk in (1, 7):
        np.testing.assert_allclose(
            _evidence_nearby(hz, rs.kernel_sigma_m, limit, rs, chunk=chunk), whole, rtol=1e-12
        )
    assert (whole > 0).sum() > 10


def _dwithin_pairs(tree_geoms, geoms, limit):
    """The reference: the tree's dwithin predicate, then the exact distance rule."""
    import shapely

    i, j = shapely.STRtree(tree_geoms).query(
        geoms, predicate="dwithin", distance=limit * 1.000000001
    )
    d = shapely.distance(geoms[i], tree_geoms[j])
    ok = d <= limit
    return i[ok], j[ok], d[ok]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_pairs_equal_the_dwithin_query_in_order(seed):
    """Envelope candidates and one distance each give the dwithin query's pairs, in its
    order, with its distances: polygons of many vertices, points, a missing and an empty
    geometry, coincident copies, pairs exactly at the limit."""
    import shapely

    from ccm_geo.criteria._common import near_pairs

    rng = np.random.default_rng(seed)
    n = 1500
    centres = rng.uniform(0, 20_000, (n, 2))
    radii = rng.uniform(5, 400, n)
    polys = shapely.buffer(shapely.points(centres), radii, quad_segs=int(rng.integers(2, 16)))
    polys[::97] = polys[1::97][: len(polys[::97])]  # coincident records
    polys[5], polys[6] = None, shapely.Polygon()
    polys[7] = shapely.box(0, 0, 100, 100)
    polys[8] = shapely.box(1600, 0, 1700, 100)  # exactly 1,500 m from polys[7]
    pts = shapely.points(rng.uniform(0, 20_000, (800, 2)))
    pts[3] = None
    tree = shapely.STRtree(polys)
    for geoms, limit in ((polys, 1500.0), (pts, 1500.0), (polys, 50.0), (pts, 0.0)):
        got = near_pairs(tree, polys, geoms, limit)
        if limit > 0:
            want = _dwithin_pairs(polys, geoms, limit)
        else:  # the rule before: the pairs that intersect, kept where the distance is 0
            i, j = tree.query(geoms, predicate="intersects")
            d = shapely.distance(geoms[i], polys[j])
            want = (i[d <= 0], j[d <= 0], d[d <= 0])
        assert len(got[0]) > 0
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert all(len(x) == 0 for x in near_pairs(tree, polys, pts, -1.0))
    i, j, d = near_pairs(tree, polys, polys, 1500.0)
    assert ((i == 7) & (j == 8) & (d == 1500.0)).sum() == 1
    assert not np.isin([5, 6], i).any() and not np.isin([5, 6], j).any()
