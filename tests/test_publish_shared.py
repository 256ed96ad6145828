"""What the map and request stages prepare once and share: joined roads, packed context
layers, drawing paths; the print map's dots as one image at national scale; the manifest's
hashes read once."""

from __future__ import annotations

import json
import os

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from ccm_geo.model import Context
from ccm_geo.publish import shared
from ccm_geo.publish.maps import priority_map
from ccm_geo.publish.maps.page import (
    _context_json,
    _context_layers,
    _encode_layer,
    _script_json,
)
from ccm_geo.publish.printmap import print_map, save_figure
from ccm_geo.publish.printmap.common import _RASTER_DOTS
from ccm_geo.publish.printmap.paths import _polygon_paths, _row_paths
from ccm_geo.publish.settings import MapSettings

CRS = "EPSG:32648"
X0, Y0 = 600_000.0, 1_650_000.0


def _roads(n: int = 200) -> gpd.GeoDataFrame:
    xs = X0 + np.arange(n + 1) * 50.0
    edges = [LineString([(xs[i], Y0), (xs[i + 1], Y0)]) for i in range(n)]
    edges += [LineString([(X0 + 500, Y0 - 900), (X0 + 500, Y0 + 900)])]
    return gpd.GeoDataFrame({"road_class": ["track"] * n + ["primary"]}, geometry=edges, crs=CRS)


def _areas(n: int, *, side: float = 30.0, step: float = 400.0) -> gpd.GeoDataFrame:
    cols = int(np.ceil(np.sqrt(n)))
    x = X0 + (np.arange(n) % cols) * step
    y = Y0 + (np.arange(n) // cols) * step
    rank = np.arange(1, n + 1)
    return gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ-{i:05d}" for i in range(n)],
            "rank": rank,
            "priority_class": np.where(rank <= n // 5, "high", "low"),
            "status": "CHA",
            "region": "North",
            "score": 1.0 - rank / n,
        },
        geometry=shapely.box(x, y, x + side, y + side),
        crs=CRS,
    )


def test_roads_are_joined_once_per_frame_and_again_for_another():
    roads = _roads()
    first = shared.road_lines(roads)
    assert shared.road_lines(roads) is first  # the same frame: kept
    lines, labels = first
    assert sorted(labels) == ["primary", "track"]  # 200 edges of one class: one line
    other = shared.road_lines(roads.copy())  # another frame (same content): computed again
    assert other is not first
    assert [g.wkb for g in other[0]] == [g.wkb for g in lines] and other[1] == labels


def test_a_memo_entry_goes_with_its_frame():
    import gc

    roads = _roads(10)
    shared.road_lines(roads)
    before = len(shared._MEMO)
    del roads
    gc.collect()
    assert len(shared._MEMO) == before - 1


def test_the_page_holds_the_context_as_packed_layer_by_layer():
    roads = _roads()
    admin = gpd.GeoDataFrame(
        {"region": ["North <b>"]},
        geometry=[box(X0 - 1000, Y0 - 1000, X0 + 11_000, Y0 + 1000)],
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {"name": ["Ban & Na"], "population": [120]}, geometry=[Point(X0 + 10, Y0 + 10)], crs=CRS
    )
    ctx = Context(crs=CRS, roads=roads, admin=admin, settlements=villages)
    settings = MapSettings(context_layers=["admin", "roads", "settlements"])
    text = _context_json(ctx, settings)
    packed = {n: _encode_layer(n, g, settings) for n, g in _context_layers(ctx, settings)}
    assert text == _script_json(packed)
    assert json.loads(text).keys() == {"admin", "roads", "settlements"}
    # the page is the same whether the layers were packed before or not
    areas = _areas(20, side=200.0)
    warm = priority_map(areas, ctx, settings, title="t")
    shared.clear()
    cold = priority_map(areas, ctx, settings, title="t")
    assert warm == cold
    assert '"context":' + text + ',"contextOn"' in cold


def test_row_paths_are_the_paths_of_polygon_paths_row_by_row():
    ring = box(0, 0, 10, 10).difference(box(2, 2, 4, 4))
    geoms = np.array(
        [
            box(0, 0, 1, 1),
            None,
            Point(0, 0),
            MultiPolygon([ring, box(20, 20, 30, 30)]),
            box(5, 5, 6, 6),
        ],
        dtype=object,
    )
    rows = _row_paths(geoms)
    assert [p is None for p in rows] == [False, True, True, False, False]
    listed = _polygon_paths(geoms)
    kept = [p for p in rows if p is not None]
    assert len(kept) == len(listed)
    for a, b in zip(kept, listed, strict=True):
        assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.codes, b.codes)


@pytest.mark.parametrize(("n", "raster"), [(400, False), (_RASTER_DOTS + 500, True)])
def test_dots_are_one_image_only_when_a_page_holds_very_many(n, raster, tmp_path):
    areas = _areas(n)  # 30 m squares 400 m apart: dots at this scale
    settings = MapSettings(print_dpi=60, label_top_n=3)
    fig = print_map(areas, None, settings, title="t")
    dots = [ln for ln in fig.axes[0].lines if ln.get_gid() == "area_dots"]
    assert sum(len(ln.get_xdata()) for ln in dots) == n
    assert {ln.get_rasterized() for ln in dots} == {raster}
    svg = save_figure(fig, tmp_path / "m.svg").read_text(encoding="utf-8")
    assert ("<image" in svg) is raster  # vector markers, or one picture of them
    assert "HZ-00000" in {p["text"] for p in fig.ccm_labels}  # labels drawn either way


def test_the_print_map_draws_the_joined_roads():
    roads = _roads()
    areas = _areas(20, side=200.0)
    fig = print_map(areas, Context(crs=CRS, roads=roads), MapSettings(print_dpi=50), title="t")
    lines, _ = shared.road_lines(roads)
    (path,) = [c for c in fig.axes[0].collections if c.get_zorder() == 2][0].get_paths()
    assert (path.codes == 1).sum() == len(lines) == 2  # one subpath per joined line


def test_the_manifest_keeps_a_recorded_hash_while_the_file_is_unchanged(tmp_path):
    from ccm_geo.pipeline.manifest import _output_sha256, _sha256, _stat

    p = tmp_path / "a.csv"
    p.write_text("x\n1\n", encoding="utf-8")
    true = _sha256(p)
    recorded = {"sha256": "recorded", **_stat(p)}
    assert _output_sha256(p, False, recorded) == "recorded"  # another run wrote it
    assert _output_sha256(p, True, recorded) == true  # this run wrote it: hashed
    p.write_text("x\n2\n", encoding="utf-8")  # the same size: only the mtime tells
    assert _stat(p)["size"] == recorded["size"]
    os.utime(p, ns=(recorded["mtime_ns"], recorded["mtime_ns"] + 1))
    assert _output_sha256(p, False, recorded) == _sha256(p) != true  # changed: hashed again


def test_a_prepared_text_is_kept_in_the_run_folder_by_what_it_was_made_from(tmp_path):
    made = []

    def make(text):
        return lambda: made.append(text) or text

    assert shared.cached_text("k", lambda: "a", make("A")) == "A"  # no folder: made
    with shared.run_cache(tmp_path / ".ccm-cache") as folder:
        assert shared.cached_text("k", lambda: "a", make("A")) == "A"
        assert shared.cached_text("k", lambda: "a", make("X")) == "A"  # read, not made
        assert shared.cached_text("k", lambda: "b", make("B")) == "B"  # another input
        assert len(list(folder.glob("k-*.json"))) == 1  # the older one is gone
        assert not list(folder.glob(".ccm-tmp-*"))
    assert made == ["A", "A", "B"]


def test_a_second_process_reads_the_packed_roads_instead_of_joining_them(tmp_path, monkeypatch):
    roads = _roads()
    ctx = Context(crs=CRS, roads=roads)
    settings = MapSettings(context_layers=["roads"])
    areas = _areas(20, side=200.0)
    with shared.run_cache(tmp_path):
        first = priority_map(areas, ctx, settings, title="t")
    shared.clear()  # as a new process would start

    def fail(_roads):
        raise AssertionError("joined again")

    monkeypatch.setattr(shared, "_road_lines", fail)
    with shared.run_cache(tmp_path):
        assert priority_map(areas, ctx, settings, title="t") == first
    moved = roads.copy()
    moved.geometry = moved.geometry.translate(10.0, 0.0)  # another input: packed anew
    monkeypatch.undo()
    with shared.run_cache(tmp_path):
        other = priority_map(areas, Context(crs=CRS, roads=moved), settings, title="t")
    assert other != first and len(list(tmp_path.glob("web-roads-*.json"))) == 1
