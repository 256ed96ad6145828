"""Remoteness indicators on a hand-built road network whose travel times are known.

Network (EPSG:32648, metres): primary (0,0)-(6000,0), 60 km/h = 6 min; track (6000,0)-(6000,1000),
10 km/h = 6 min; a separate secondary (20000,0)-(22000,0). Walking 4 km/h = 1.5 min per 100 m.
"""

import datetime as dt
import re
from contextlib import contextmanager

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString, MultiLineString, Point, box

from ccm_geo.criteria.remoteness import remoteness_columns, remoteness_indicators
from ccm_geo.criteria.roads import build_road_graph
from ccm_geo.criteria.settings import CriteriaSettings, RemotenessSettings
from ccm_geo.errors import DataWarning, InputError
from ccm_geo.model import Context

CRS = "EPSG:32648"
WALK = 4000 / 60  # m per minute at 4 km/h


def _roads():
    return gpd.GeoDataFrame(
        {"road_id": ["A", "B", "C"], "road_class": ["primary", "track", "secondary"]},
        geometry=[
            LineString([(0, 0), (3000, 0), (6000, 0)]),
            LineString([(6000.001, 0.002), (6000, 1000)]),  # snaps onto (6000, 0)
            LineString([(20_000, 0), (22_000, 0)]),
        ],
        crs=CRS,
    )


def _points(ids, xy, id_col, **cols):
    return gpd.GeoDataFrame(
        {id_col: ids, "name": ids, **cols}, geometry=[Point(p) for p in xy], crs=CRS
    )


def _hazards():
    # centres: X (-300, 0); Y (6300, 900); Z (20100, 100)
    geoms = [box(-400, -100, -200, 100), box(6200, 800, 6400, 1000), box(20_050, 50, 20_150, 150)]
    return gpd.GeoDataFrame({"hazard_id": ["X", "Y", "Z"]}, geometry=geoms, crs=CRS)


def _context(**kw):
    layers = dict(
        roads=_roads(),
        settlements=_points(
            ["S1", "S2"], [(0, -100), (6000, 1100)], "settlement_id", population=[1000, 500]
        ),
        health=_points(["H1"], [(0, 100)], "facility_id"),
        accidents=gpd.GeoDataFrame(
            {
                "accident_id": ["a1", "a2", "a3"],
                "date": pd.to_datetime(["2023-01-01", "2023-02-01", "2030-01-01"]),
                "killed": [0, 1, 0],
                "injured": [2, 1, 9],
                "device_type": "CMR",
                "survivor_settlement_id": ["S2", "S1", "S1"],
            },
            geometry=[Point(6000, 900), Point(10, 10), Point(10, 10)],
            crs=CRS,
        ),
    )
    layers.update(kw)
    return Context(crs=CRS, **layers)


@contextmanager
def _warns(*patterns):
    """Expect DataWarnings matching every pattern (and nothing else)."""
    with pytest.warns(DataWarning) as record:
        yield
    text = " | ".join(str(w.message) for w in record)
    for p in patterns:
        assert re.search(p, text), (p, text)


def _settings(**kw):
    return CriteriaSettings(remoteness=RemotenessSettings(**kw))


def test_graph_nodes_edges_and_weights():
    g = build_road_graph(_roads())
    assert g.n_nodes == 5  # the middle vertex of A is not a junction
    assert g.n_edges == 3
    d = dijkstra(g.csr, indices=[0])[0]
    xy = {tuple(np.round(p, 3)): i for i, p in enumerate(g.xy)}
    assert d[xy[(6000.0, 0.0)]] == pytest.approx(6.0)
    assert d[xy[(6000.0, 1000.0)]] == pytest.approx(12.0)
    assert np.isinf(d[xy[(20_000.0, 0.0)]])
    # the networkx view holds the same graph
    nxg = g.to_networkx()
    lengths = nx.single_source_dijkstra_path_length(nxg, 0, weight="minutes")
    assert lengths[xy[(6000.0, 1000.0)]] == pytest.approx(12.0)


def test_shared_vertex_is_a_junction_and_crossing_is_not():
    roads = gpd.GeoDataFrame(
        {"road_id": ["D", "E", "F"], "road_class": "primary"},
        geometry=[
            LineString([(0, 0), (2000, 0), (4000, 0)]),
            LineString([(2000, 0), (2000, 1000)]),  # T junction on D's vertex
            MultiLineString([[(3000, -500), (3000, 500)]]),
        ],  # crosses D, no vertex
        crs=CRS,
    )
    g = build_road_graph(roads)
    assert g.n_nodes == 6 and g.n_edges == 4
    xy = {tuple(np.round(p, 3)): i for i, p in enumerate(g.xy)}
    d = dijkstra(g.csr, indices=[xy[(0.0, 0.0)]])[0]
    assert d[xy[(2000.0, 1000.0)]] == pytest.approx(3.0)
    assert np.isinf(d[xy[(3000.0, 500.0)]])


def test_unknown_road_class_gets_default_speed_with_warning():
    roads = gpd.GeoDataFrame(
        {"road_id": ["A"], "road_class": ["goat_path"]},
        geometry=[LineString([(0, 0), (1000, 0)])],
        crs=CRS,
    )
    with pytest.warns(DataWarning, match="'goat_path'"):
        g = build_road_graph(roads, _settings(default_speed_kmh=6))
    assert g.csr.data.tolist() == pytest.approx([10.0, 10.0])


def test_travel_times_by_road_and_penalty_for_disconnected_parts():
    s = _settings(direct_walk_max_min=0)
    with _warns(
        r"no road route to any settlement.*hazard_id Z",
        r"no road route to any health facility.*hazard_id Z",
    ):
        out = remoteness_indicators(_hazards(), _context(), s, reference_date=dt.date(2024, 1, 1))
    walk_x, walk_y = 300 / WALK, np.hypot(300, 100) / WALK
    assert out.loc["X", "travel_min_settlement"] == pytest.approx(walk_x + 1.5)
    assert out.loc["X", "nearest_settlement_id"] == "S1"
    assert out.loc["Y", "travel_min_settlement"] == pytest.approx(walk_y + 1.5)
    assert out.loc["Y", "nearest_settlement_id"] == "S2"
    assert out.loc["X", "travel_min_health"] == pytest.approx(walk_x + 1.5)
    assert out.loc["Y", "travel_min_health"] == pytest.approx(walk_y + 12 + 1.5)
    assert out.loc["Z", "travel_min_settlement"] == 600.0
    assert out.loc["Z", "travel_min_health"] == 600.0
    assert pd.isna(out.loc["Z", "nearest_settlement_id"])
    assert np.isfinite(out[["travel_min_settlement", "travel_min_health"]]).all(axis=None)
    # population within 5 km (straight line from the polygon) and within 30 min (roads)
    assert out["population_within_5km"].tolist() == [1000, 500, 0]
    assert out["population_within_30min"].tolist() == [1500, 1500, 0]
    # survivors (injured, up to the reference date): S1 has 1, S2 has 2; the villages' travel
    # to H1 is 3 min (S1) and 1.5 + 12 + 1.5 = 15 min (S2); both within 60 min of X and Y
    assert out["survivors_nearby"].tolist() == [3, 3, 0]
    assert out.loc["X", "survivors_travel_min_health"] == pytest.approx(15.0)
    assert np.isnan(out.loc["Z", "survivors_travel_min_health"])
    assert out["near_remote_survivors"].tolist() == [False, False, False]
    assert list(out.columns) == remoteness_columns(s)


def test_reach_limits_mean_and_remote_threshold():
    s = _settings(
        direct_walk_max_min=0,
        population_travel_min=10,
        survivor_radius_min=10,
        remote_threshold_min=10,
        survivor_travel_aggregate="mean",
        unreachable_penalty_min=999,
    )
    with _warns("hazard_id Z"):
        out = remoteness_indicators(_hazards(), _context(), s)
    assert "population_within_10min" in out.columns
    assert out["population_within_10min"].tolist() == [1000, 500, 0]
    assert out.loc["Z", "travel_min_health"] == 999.0
    # no reference date: the later accident a3 (9 injured at S1) counts too
    assert out["survivors_nearby"].tolist() == [10, 2, 0]
    assert out.loc["X", "survivors_travel_min_health"] == pytest.approx(3.0)
    assert out.loc["Y", "survivors_travel_min_health"] == pytest.approx(15.0)
    assert out["near_remote_survivors"].tolist() == [False, True, False]


def test_direct_walk_wins_when_quicker():
    # X's centre (-300, 0) is 316 m from S1: 4.74 min on foot, 6 min through the road node
    with _warns("hazard_id Z"):
        out = remoteness_indicators(_hazards(), _context(), reference_date=dt.date(2024, 1, 1))
    assert out.loc["X", "travel_min_settlement"] == pytest.approx(np.hypot(300, 100) / WALK)
    assert out.loc["X", "nearest_settlement_id"] == "S1"


def test_graph_built_once_is_reused():
    g = build_road_graph(_roads())
    with _warns("hazard_id Z"):
        a = remoteness_indicators(_hazards(), _context(), graph=g)
    with _warns("hazard_id Z"):
        b = remoteness_indicators(_hazards(), _context())
    pd.testing.assert_frame_equal(a, b)


def test_missing_layers_give_nan_not_a_crash():
    with pytest.warns(DataWarning, match="no roads, health, accidents layer"):
        out = remoteness_indicators(_hazards(), _context(roads=None, health=None, accidents=None))
    assert out["population_within_5km"].tolist() == [1000, 500, 0]
    assert out["travel_min_settlement"].isna().all()
    assert out["nearest_settlement_id"].isna().all()
    assert out["survivors_nearby"].isna().all()
    with pytest.warns(DataWarning, match="no settlements layer"):
        out = remoteness_indicators(_hazards()[:2], _context(settlements=None))
    assert out["travel_min_settlement"].isna().all()
    assert out["travel_min_health"].notna().all()
    assert out["population_within_30min"].isna().all()


def test_prebuilt_graph_without_roads_layer_is_used():
    g = build_road_graph(_roads())
    with _warns("hazard_id Z"):
        out = remoteness_indicators(_hazards(), _context(roads=None), graph=g)
    assert out["travel_min_settlement"].notna().all()


def test_settlement_access_uses_the_road_network_and_names_cut_off_villages():
    import warnings

    import geopandas as gpd
    from shapely.geometry import LineString, Point

    from ccm_geo.criteria import settlement_access
    from ccm_geo.errors import DataWarning
    from ccm_geo.model import Context

    crs = "EPSG:32648"
    # A 6 km primary road (60 km/h: 6 min) from the village to the clinic, and a village on a
    # track cut off from it.
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2"], "road_class": ["primary", "track"]},
        geometry=[LineString([(0, 0), (6000, 0)]), LineString([(0, 50_000), (100, 50_000)])],
        crs=crs,
    )
    villages = gpd.GeoDataFrame(
        {"settlement_id": ["V1", "V2"], "name": ["a", "b"], "population": [100, 200]},
        geometry=[Point(0, 0), Point(0, 50_000)],
        crs=crs,
    )
    clinic = gpd.GeoDataFrame(
        {"facility_id": ["H1"], "name": ["c"]}, geometry=[Point(6000, 0)], crs=crs
    )
    ctx = Context(crs=crs, roads=roads, settlements=villages, health=clinic)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = settlement_access(ctx)
    assert out.loc["V1", "travel_min_health"] == pytest.approx(6.0, abs=1e-6)
    assert out.loc["V1", "nearest_health_id"] == "H1"
    assert out.loc["V2", "travel_min_health"] == 600.0  # the documented penalty
    assert any(
        issubclass(w.category, DataWarning) and "settlement_id V2" in str(w.message) for w in caught
    )


def test_area_travel_follows_roads_and_walks_when_quicker():
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from ccm_geo.criteria import area_travel, build_road_graph

    crs = "EPSG:32648"
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1"], "road_class": ["primary"]},
        geometry=[LineString([(0, 0), (12_000, 0)])],  # 12 km at 60 km/h: 12 min
        crs=crs,
    )
    areas = gpd.GeoDataFrame(
        {"hazard_id": ["A", "B", "C"]},
        geometry=[box(-10, -10, 10, 10), box(11_990, -10, 12_010, 10), box(40, -10, 60, 10)],
        crs=crs,
    )
    f = area_travel(areas, build_road_graph(roads))
    t = f("A", ["B", "C", "A"])
    assert t[0] == pytest.approx(12.0, abs=0.5)  # by road, not 3 h on foot
    assert t[1] == pytest.approx(50 / (4000 / 60), rel=1e-6)  # 50 m on foot beats the road
    assert t[2] == pytest.approx(0.0, abs=1e-9)  # an area to itself
    assert f("B", "A")[0] == pytest.approx(t[0], abs=1e-9)  # the same both ways


def test_area_travel_names_an_unknown_area():
    import geopandas as gpd
    from shapely.geometry import LineString, box

    from ccm_geo.criteria import area_travel, build_road_graph
    from ccm_geo.errors import InputError

    crs = "EPSG:32648"
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1"], "road_class": ["track"]},
        geometry=[LineString([(0, 0), (100, 0)])],
        crs=crs,
    )
    areas = gpd.GeoDataFrame({"hazard_id": ["A"]}, geometry=[box(0, 0, 10, 10)], crs=crs)
    f = area_travel(areas, build_road_graph(roads))
    with pytest.raises(InputError, match="hazard_id 'Z' is not one of the areas it was built on"):
        f("A", ["Z"])


# ------------------------------------------------- reach within a travel time, at any scale


def _dense_within(graph, area_node, area_off, area_xy, src_xy, weights, walk, limit, rs):
    """The former dense reference: sources × all nodes, then sources × all areas."""
    from scipy.spatial import cKDTree

    from ccm_geo.criteria.roads import _attach, _with_sources

    n = graph.n_nodes
    node, off = _attach(graph, src_xy, walk)
    dist = dijkstra(_with_sources(graph, node, off), indices=n + np.arange(len(src_xy)))
    t = dist[:, area_node] + area_off[None, :]
    walk_lim = min(limit, rs.direct_walk_max_min) * walk
    for s, near in enumerate(cKDTree(src_xy).query_ball_tree(cKDTree(area_xy), r=walk_lim)):
        for a in near:
            t[s, a] = min(t[s, a], np.hypot(*(area_xy[a] - src_xy[s])) / walk)
    mask = t <= limit
    return mask.T.astype(float) @ weights, mask


def test_population_within_travel_time_on_a_long_road_is_exact():
    # a primary road 0..100 km along y = 0 with a junction every km; settlements of 1, 2, 4,
    # ... people every 10 km on the road; areas on the road at 5 km + 10 km steps. At the
    # primary speed v, an area at x reaches the settlements with |x - xs| <= v * T: the
    # answer is known without a graph (plus the area's 3 m walk to its junction), and
    # 30 min spans several of the search's cells.
    s = _settings(direct_walk_max_min=0, population_travel_min=30)
    v = s.remoteness.road_speeds_kmh["primary"] * 1000 / 60  # m per minute
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary"] * 100},
        geometry=[LineString([(x, 0), (x + 1000, 0)]) for x in range(0, 100_000, 1000)],
        crs=CRS,
    )
    xs = np.arange(0, 100_001, 10_000)
    pop = 2 ** np.arange(len(xs))
    settlements = _points(
        [f"S{i}" for i in range(len(xs))], [(x, 0) for x in xs], "settlement_id", population=pop
    )
    ax = np.arange(5_000, 100_000, 10_000) + 3.0
    hazards = gpd.GeoDataFrame(
        {"hazard_id": [f"A{i}" for i in range(len(ax))]},
        geometry=[box(x - 1, -1, x + 1, 1) for x in ax],
        crs=CRS,
    )
    ctx = Context(crs=CRS, roads=roads, settlements=settlements)
    with pytest.warns(DataWarning):  # no health, no accidents
        out = remoteness_indicators(hazards, ctx, s)
    expected = [int(pop[np.abs(xs - x + 3) / v + 3 / WALK <= 30].sum()) for x in ax]
    assert expected != [expected[0]] * len(expected)  # the limit binds
    assert out["population_within_30min"].tolist() == expected


@pytest.mark.parametrize("limit", [5.0, 20.0, 200.0])
def test_sparse_reach_equals_the_dense_reference(limit):
    from ccm_geo.criteria.roads import _attach, _within_travel

    rng = np.random.default_rng(7)
    side, step = 40_000, 2_000
    lines = [LineString([(0, y), (side, y)]) for y in range(0, side + 1, step)]
    lines += [LineString([(x, 0), (x, side)]) for x in range(0, side + 1, step)]
    # vertices every 500 m so that the crossings are junctions
    lines = [
        LineString([ln.interpolate(d) for d in np.arange(0, ln.length + 1, 500)]) for ln in lines
    ]
    classes = rng.choice(["primary", "secondary", "track"], len(lines))
    roads = gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)
    rs = _settings(direct_walk_max_min=30, chunk_bytes=1_000_000).remoteness
    graph = build_road_graph(roads, CriteriaSettings(remoteness=rs))
    walk = rs.offroad_speed_kmh * 1000 / 60
    area_xy = rng.uniform(-2_000, side + 2_000, (400, 2))
    src_xy = rng.uniform(0, side, (120, 2))
    weights = np.column_stack([rng.integers(1, 1000, 120), rng.uniform(0, 1, 120)])
    node, off = _attach(graph, area_xy, walk)
    pairs = []
    got = _within_travel(
        graph, node, off, area_xy, src_xy, weights, walk, limit, rs,
        reduce=lambda s, a: pairs.append(np.column_stack([s, a])),
    )  # fmt: skip
    want, mask = _dense_within(graph, node, off, area_xy, src_xy, weights, walk, limit, rs)
    # the fixture has pairs within reach at every limit, and some out of reach below 200 min
    assert mask.sum() > 0 and (mask.sum() < mask.size or limit == 200.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    seen = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, np.argwhere(mask).tolist()))


def _accidents(injured, killed):
    return gpd.GeoDataFrame(
        {
            "accident_id": ["a1", "a2"],
            "date": pd.to_datetime(["2023-01-01", "2023-02-01"]),
            "killed": killed,
            "injured": injured,
            "device_type": "CMR",
            "survivor_settlement_id": ["S2", "S1"],
        },
        geometry=[Point(6000, 900), Point(10, 10)],
        crs=CRS,
    )


def test_unknown_injured_count_follows_the_casualty_policy_not_zero():
    s = _settings(direct_walk_max_min=0, survivor_radius_min=10)
    # a2 (home S1, reached by X only) gives no injured and no killed count
    acc = _accidents([2, np.nan], [0, np.nan])
    with _warns(r"1 accidents that name a survivor's home village give neither.*one survivor"):
        out = remoteness_indicators(_hazards(), _context(accidents=acc), s)
    assert out["survivors_nearby"].tolist() == [1, 2, 0]  # one event, not 0 people

    no_data = CriteriaSettings(
        remoteness=s.remoteness, contamination={"unknown_casualties": "no_data"}
    )
    with _warns(r"give neither killed nor injured; survivors_nearby is NaN.*accident_id a2"):
        out = remoteness_indicators(_hazards(), _context(accidents=acc), no_data)
    assert np.isnan(out.loc["X", "survivors_nearby"])
    assert out.loc["Y", "survivors_nearby"] == 2  # S1 is not within 10 min of Y
    assert out.loc["X", "survivors_travel_min_health"] == pytest.approx(3.0)  # still a village

    # killed known, injured not: the injured count is no data under either policy
    with _warns(r"give killed but not injured.*accident_id a2"):
        out = remoteness_indicators(
            _hazards(), _context(accidents=_accidents([2, None], [0, 1])), s
        )
    assert np.isnan(out.loc["X", "survivors_nearby"])
    assert out.loc["Y", "survivors_nearby"] == 2


def test_area_travel_nearest_is_the_argmin_of_travel():
    from ccm_geo.criteria.roads import area_travel

    rng = np.random.default_rng(3)
    side, step = 30_000, 1_500
    lines = [LineString([(0, y), (side, y)]) for y in range(0, side + 1, step)]
    lines += [LineString([(x, 0), (x, side)]) for x in range(0, side + 1, step)]
    lines = [
        LineString([ln.interpolate(d) for d in np.arange(0, ln.length + 1, step)]) for ln in lines
    ]
    roads = gpd.GeoDataFrame(
        {"road_class": rng.choice(["primary", "track"], len(lines))}, geometry=lines, crs=CRS
    )
    graph = build_road_graph(roads)
    c = rng.uniform(-1_000, side + 1_000, (300, 2))
    hazards = gpd.GeoDataFrame(
        {"hazard_id": [f"H{i}" for i in range(300)]},
        geometry=[box(x - 20, y - 20, x + 20, y + 20) for x, y in c],
        crs=CRS,
    )
    travel = area_travel(hazards, graph, limit_min=120)
    ids = hazards["hazard_id"].to_numpy()
    for _ in range(60):
        frm = ids[rng.integers(300)]
        to = rng.choice(ids, size=int(rng.integers(1, 40)), replace=False)
        k, minutes = travel.nearest(frm, to)
        full = travel(frm, to)
        assert k == int(np.argmin(full)) and minutes == pytest.approx(full.min(), rel=1e-12)
    with pytest.raises(InputError, match="'nope'"):
        travel.nearest("H1", ["H2", "nope"])
