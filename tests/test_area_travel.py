"""``area_travel(...).nearest``: the deepened and two-ended searches give the plain search's
answer (to the last bit for several destinations, to rounding for one), for near and far
destinations, on a network with long moves."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, box

from ccm_geo.criteria.roads import area_travel, build_road_graph

CRS = "EPSG:32648"


@pytest.fixture(scope="module")
def network():
    """A 60 km lattice of roads of mixed speed, a detached road, 400 areas (some off road)."""
    rng = np.random.default_rng(12)
    side, step = 60_000, 2_000
    lines = [LineString([(0, y), (side, y)]) for y in range(0, side + 1, step)]
    lines += [LineString([(x, 0), (x, side)]) for x in range(0, side + 1, step)]
    lines = [
        LineString([ln.interpolate(d) for d in np.arange(0, ln.length + 1, step / 2)])
        for ln in lines
    ]
    lines.append(LineString([(80_000, 0), (90_000, 0)]))  # not joined to the lattice
    classes = rng.choice(["primary", "secondary", "track", "path"], len(lines))
    roads = gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)
    c = rng.uniform(-3_000, side + 3_000, (400, 2))
    c[:10] = np.column_stack([rng.uniform(80_000, 90_000, 10), rng.uniform(-500, 500, 10)])
    hazards = gpd.GeoDataFrame(
        {"hazard_id": [f"H{i}" for i in range(400)]},
        geometry=[box(x - 30, y - 30, x + 30, y + 30) for x, y in c],
        crs=CRS,
    )
    return hazards, build_road_graph(roads)


@pytest.mark.parametrize("landmarks", [False, True])
@pytest.mark.parametrize("limit_min", [60.0, 480.0])
def test_nearest_is_the_plain_search(network, limit_min, landmarks, monkeypatch):
    """With landmarks (the lower bounds a national network gets) and without."""
    from ccm_geo.criteria import roads

    monkeypatch.setattr(roads._Landmarks, "MIN_NODES", 0 if landmarks else 10**12)
    hazards, graph = network
    ids = hazards["hazard_id"].to_numpy()
    # two instances: the plain one's cache must not serve the deepened searches
    deepened = area_travel(hazards, graph, limit_min=limit_min)
    plain = area_travel(hazards, graph, limit_min=limit_min)
    rng = np.random.default_rng(5)
    far = walked = 0
    for n in [1] * 150 + list(rng.integers(2, 60, 80)):
        frm = ids[rng.integers(len(ids))]
        to = rng.choice(ids, size=int(n), replace=False)
        k, minutes = deepened.nearest(frm, to)
        full = plain(frm, to)  # every destination from one search to limit_min
        assert k == int(np.argmin(full))
        if n == 1:  # the two-ended search's sum: the same route, summed from both ends
            assert minutes == pytest.approx(full[k], rel=1e-12, abs=1e-12)
        else:
            assert minutes == full[k]  # the same float, not only close
        far += n == 1 and minutes > 30
        walked += n == 1 and minutes > limit_min
    assert far > 50  # long moves were asked
    assert walked > 5  # and destinations with no route within the limit (the walk)


def test_nearest_to_the_same_place_and_to_a_detached_road(network):
    hazards, graph = network
    travel = area_travel(hazards, graph, limit_min=480)
    assert travel.nearest("H3", ["H3"]) == (0, 0.0)
    k, minutes = travel.nearest("H100", ["H1"])  # on the detached road: walked
    assert minutes == travel("H100", ["H1"])[0]


def test_landmark_bounds_never_exceed_the_road_minutes(network):
    from scipy.sparse.csgraph import connected_components, dijkstra

    from ccm_geo.criteria.roads import _int32_graph, _Landmarks

    _, graph = network
    csr = _int32_graph(graph.csr)
    part = connected_components(csr, directed=False)[1]
    marks = _Landmarks(csr, graph.xy, part)
    rng = np.random.default_rng(3)
    a = rng.integers(graph.n_nodes, size=40)
    exact = dijkstra(csr, directed=True, indices=a)
    tight = 0
    for k, u in enumerate(a):
        for v in rng.integers(graph.n_nodes, size=50):
            low = marks.lower(int(u), int(v))
            assert low <= exact[k, v] * (1 + 1e-12) + 1e-12  # inf across parts: any bound
            tight += np.isfinite(exact[k, v]) and low >= 0.5 * exact[k, v]
    assert tight > 1000  # and mostly a useful one
