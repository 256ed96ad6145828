"""The schedule's nearest-task search: the k-d tree gives the scan's picks, ties included."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import shapely
from benchmarks.bench_planning import national_settings, synthetic_areas

from ccm_geo.planning import build_problem, plan_years, schedule, schedule_tasks
from ccm_geo.planning.schedule import _Nearest

START = dt.date(2027, 1, 1)


def test_nearest_matches_the_scan_with_ties_and_taken_points():
    rng = np.random.default_rng(4)
    xy = rng.integers(0, 30, (3000, 2)).astype(float) * 500.0  # a lattice: many exact ties
    members = np.sort(rng.choice(5000, 3000, replace=False))
    near = _Nearest(xy, members, 5000)
    remaining = np.zeros(5000, dtype=bool)
    remaining[members] = True
    pos = {m: i for i, m in enumerate(members.tolist())}
    for step in range(2900):
        at = int(rng.integers(len(xy)))
        point = xy[at] + (0.0 if step % 2 else rng.normal(0, 300, 2))
        cand = members[remaining[members]]
        d = np.hypot(*(xy[[pos[c] for c in cand]] - point).T)
        expected = cand[int(np.argmin(d))]
        # from a task's own position (its list of nearest tasks), or from anywhere (the tree)
        got = near.nearest(point, int(members[at])) if step % 2 else near.nearest(point)
        dd = np.hypot(*(xy[[pos[c] for c in got]] - point).T)
        assert got[int(np.argmin(dd))] == expected
        taken = rng.choice(cand) if step % 3 else expected
        remaining[taken] = False
        near.take(int(taken))


@pytest.fixture(scope="module")
def lattice_plan():
    """A register whose areas sit on a 500 m lattice (equal distances), two regions."""
    areas = synthetic_areas(4000, side_km=20.0, n_regions=2, point_share=0.5)
    c = areas.geometry.centroid
    x, y = np.round(c.x / 500.0) * 500.0, np.round(c.y / 500.0) * 500.0
    half = np.sqrt(areas["area_m2"].to_numpy()) / 2
    areas = areas.set_geometry(shapely.box(x - half, y - half, x + half, y + half))
    settings, tasks = national_settings(areas)
    years = plan_years(settings, START, None)
    greedy = build_problem(tasks, settings, years=years, start_date=START).greedy()
    tasks = tasks.reset_index(drop=True)
    tasks["year"] = greedy.year_of().reset_index(drop=True).to_numpy()
    return tasks, settings, years


def test_the_schedule_is_the_same_with_the_tree_and_with_the_scan(lattice_plan, monkeypatch):
    tasks, settings, years = lattice_plan
    monkeypatch.setattr(schedule, "_SCAN_MAX", 10**9)  # every region scanned, as before
    scanned = schedule_tasks(tasks, settings, years=years, start_date=START)
    monkeypatch.setattr(schedule, "_SCAN_MAX", 0)  # every region from its k-d tree
    indexed = schedule_tasks(tasks, settings, years=years, start_date=START)
    assert scanned["team"].notna().sum() > 1_000
    pd.testing.assert_frame_equal(scanned, indexed)


def test_road_travel_picks_the_same_from_the_bounded_nearest_search(lattice_plan):
    """``area_travel.nearest`` (a search bounded by the straight walk) gives the scan's picks."""
    import geopandas as gpd
    from shapely.geometry import LineString

    from ccm_geo.criteria import area_travel, build_road_graph

    tasks, settings, years = lattice_plan
    hz = gpd.GeoDataFrame(
        tasks.drop_duplicates("hazard_id")[["hazard_id", "geometry"]],
        geometry="geometry",
        crs=tasks.crs,
    )
    x0, y0, x1, y1 = hz.total_bounds
    lines = [LineString([(x, y0), (x, y1)]) for x in np.arange(x0, x1, 2_000.0)]
    lines += [LineString([(x0, y), (x1, y)]) for y in np.arange(y0, y1, 3_000.0)]
    lines = [
        LineString([ln.interpolate(d) for d in np.arange(0, ln.length + 1, 250.0)]) for ln in lines
    ]
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary", "track"] * (len(lines) // 2) + ["track"] * (len(lines) % 2)},
        geometry=lines,
        crs=tasks.crs,
    )
    travel = area_travel(hz, build_road_graph(roads), limit_min=120)
    calls = []
    inner = travel.nearest

    def counted(frm, to):
        calls.append(frm)
        return inner(frm, to)

    travel.nearest = counted
    bounded = schedule_tasks(tasks, settings, years=years, start_date=START, travel_minutes=travel)
    assert len(calls) > 500  # the schedule asked the bounded search
    scanned = schedule_tasks(
        tasks, settings, years=years, start_date=START, travel_minutes=lambda a, b: travel(a, b)
    )
    assert scanned["team"].notna().sum() > 1_000
    assert (scanned["travel_min"] > 0).sum() > 500
    pd.testing.assert_frame_equal(scanned, bounded)
