"""The HTML maps in headless Chromium, offline: no request leaves, no error, every area drawn."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ccm_geo.io import write_text
from ccm_geo.publish.maps import priority_map
from ccm_geo.publish.settings import MapSettings
from conftest import CHROMIUM, CHROMIUM_ARGS

sys.path.insert(0, os.path.dirname(__file__))
from test_maps import EVIL, make_areas, make_context, make_national, write_mbtiles  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium "
        "(`make browser-deps` or `apt-get install chromium`)",
    ),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright (Python) is not installed: pip install -e '.[test]'",
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        yield b
        b.close()


def open_offline(browser, path: Path):
    """Open ``path`` with every non-file:/data: request aborted; return page, blocked, errors."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    blocked: list[str] = []
    errors: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.resolve().as_uri(), timeout=60_000)
    page.wait_for_function("window.ccmReady === true", timeout=60_000)
    return page, blocked, errors


COUNT_HAZARDS = """() => {
  const g = window.ccm.hazards; let n = 0; const ids = new Set();
  g.eachLayer(l => { if (l instanceof L.Path) { n++; ids.add(l.options.hazardId); } });
  return [n, ids.size, window.ccm.map.hasLayer(g)];
}"""


def test_map_opens_offline_and_draws_every_area(browser, tmp_path):
    areas = make_areas(50)
    path = write_text(
        priority_map(areas, make_context(), MapSettings(), title="Browser test"),
        tmp_path / "map.html",
    )
    page, blocked, errors = open_offline(browser, path)
    try:
        assert blocked == []
        assert errors == []
        n, unique, shown = page.evaluate(COUNT_HAZARDS)
        assert (n, unique, shown) == (50, 50, True)
        # the canvas renderer drew them: no SVG paths, one canvas
        assert page.locator("canvas.leaflet-zoom-animated").count() >= 1
        # the evil name is shown as text in the search list, and nothing ran
        page.fill(".ccm-search input", "HZ-000")
        assert EVIL in page.locator(".ccm-search button").first.inner_text()
        page.press(".ccm-search input", "Enter")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert EVIL in popup.inner_text()
        assert (
            page.evaluate("document.querySelectorAll('.leaflet-popup-content script').length") == 0
        )
        assert "contribution" in popup.inner_text()
        # a criterion layer, built when switched on, draws the same areas and shows its legend
        page.locator(".leaflet-popup-close-button").click()
        page.hover(".leaflet-control-layers")  # the layer control opens on hover
        page.get_by_label("Criterion: Access").check()
        drawn = page.evaluate("""() => window.ccm.count(window.ccm.layers['Criterion: Access'])""")
        assert drawn == 50
        assert page.get_by_text("Criterion: Access (value 0–1)").is_visible()
        page.screenshot(path=str(tmp_path / "map.png"))
        assert (tmp_path / "map.png").stat().st_size > 10_000
        assert errors == [] and blocked == []
    finally:
        page.close()


def test_aggregated_map_draws_the_top_areas(browser, tmp_path):
    settings = MapSettings(max_detailed_areas=20, aggregate_cell_m=2000)
    path = write_text(
        priority_map(make_areas(50), make_context(), settings, title="Aggregated"),
        tmp_path / "agg.html",
    )
    page, blocked, errors = open_offline(browser, path)
    try:
        n, unique, _ = page.evaluate(COUNT_HAZARDS)
        assert (n, unique) == (20, 20)
        assert "the other 30 are aggregated" in page.locator(".ccm-note").inner_text()
        assert blocked == [] and errors == []
    finally:
        page.close()


def test_embedded_map_waits_for_its_frame_to_have_a_size(browser, tmp_path):
    # A report can insert the map's iframe before laying it out: the map must not fit its
    # areas into a 0 x 0 frame (NaN coordinates, a script error, no map) but wait for a size.
    from ccm_geo.publish.maps import embed_fragment

    doc = priority_map(make_areas(20), make_context(), MapSettings(), title="Embedded")
    frame_html = embed_fragment(doc).replace("<iframe ", '<iframe style="width:0;height:0" ', 1)
    host = write_text(f"<!doctype html><html><body>{frame_html}</body></html>", tmp_path / "r.html")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(host.as_uri(), timeout=60_000)
    page.wait_for_load_state("load", timeout=60_000)
    frame = next(f for f in page.frames if f != page.main_frame)
    frame.wait_for_function("() => window.ccm && window.ccm.map", timeout=60_000)
    page.eval_on_selector("iframe", "f => { f.style.width = '800px'; f.style.height = '500px'; }")
    frame.wait_for_function(
        # the fit follows the resize a moment later: wait for it (a map never fitted times out)
        "() => { const c = window.ccm.map.getCenter(); return isFinite(c.lat) && "
        "window.ccm.map.getSize().x === 800 && window.ccm.map.getZoom() >= 5; }",
        timeout=60_000,
    )
    zoom = frame.evaluate("() => window.ccm.map.getZoom()")
    page.close()
    assert errors == []
    assert 5 <= zoom <= 18


# ------------------------------------------------------------------ a national-size register

HIGH = (0xBD, 0x00, 0x26)
LOW = (0xFF, 0xED, 0xA0)


@pytest.fixture(scope="module")
def national_page(tmp_path_factory):
    areas, ctx = make_national()
    path = write_text(
        priority_map(areas, ctx, MapSettings(), title="National register"),
        tmp_path_factory.mktemp("national") / "national.html",
    )
    return areas, path


def _pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _near(rgb, colour, tol=40) -> int:
    import numpy as np

    return int((np.abs(rgb - np.array(colour)).sum(axis=-1) < tol).sum())


def _latlng(areas, hazard_id):
    import geopandas as gpd
    import shapely

    row = areas[areas["hazard_id"] == hazard_id]
    p = (
        gpd.GeoSeries(shapely.point_on_surface(row.geometry.values), crs=areas.crs)
        .to_crs(4326)
        .iloc[0]
    )
    return p.y, p.x


HEADER_CLEAR = """() => {
  const h = document.querySelector('.leaflet-popup .ccm-pop-h');
  if (!h) { return null; }
  const r = h.getBoundingClientRect(), W = window.innerWidth, H = window.innerHeight;
  const inView = r.top >= 0 && r.left >= 0 && r.bottom <= H && r.right <= W;
  // no control and not the title box covers any part of the header (the title lets clicks
  // through, so elementFromPoint would not see it: compare the boxes)
  const covers = Array.from(document.querySelectorAll(
    '.ccm-title, .leaflet-control-container .leaflet-control')).filter(e => {
    const c = e.getBoundingClientRect();
    return c.width > 0 && c.left < r.right && r.left < c.right && c.top < r.bottom &&
      r.top < c.bottom; }).map(e => e.className);
  return {inView: inView, onTop: covers.length === 0, covers: covers, text: h.textContent};
}"""


def test_national_first_view_shows_every_area_and_the_high_class(browser, national_page):
    areas, path = national_page
    page, blocked, errors = open_offline(browser, path)
    try:
        assert blocked == [] and errors == []
        shown = page.evaluate("() => window.ccm.shown()")
        drawn = page.evaluate("() => window.ccm.count()")
        on_map = page.evaluate("() => window.ccm.map.hasLayer(window.ccm.hazards)")
        # at country zoom every area is too small to see: each is drawn as a symbol
        assert shown == {"symbols": len(areas), "polygons": 0}
        assert drawn == len(areas) and on_map
        # village circles are not drawn over the hazards by default; names wait for a zoom
        assert not page.evaluate("() => window.ccm.map.hasLayer(window.ccm.context.settlements)")
        assert page.locator(".ccm-vname").count() == 0
        rgb = _pixels(page.screenshot())
        assert _near(rgb, HIGH) > 3000  # the high class shows at the first view
        assert _near(rgb, LOW) > 1000  # and the low class stays visible on the background
        # the legend folds away and back
        assert page.locator(".ccm-legend-b").is_visible()
        page.click(".ccm-legend-h")
        assert not page.locator(".ccm-legend-b").is_visible()
        page.click(".ccm-legend-h")
        assert page.locator(".ccm-legend-b").is_visible()
        # zoomed in, polygons replace the symbols of the areas now big enough to see
        lat, lng = _latlng(areas, areas.sort_values("area_m2").iloc[-1]["hazard_id"])
        page.evaluate(f"() => window.ccm.map.setView([{lat}, {lng}], 16, {{animate: false}})")
        shown = page.evaluate("() => window.ccm.shown()")
        assert shown["polygons"] > 0 and shown["symbols"] + shown["polygons"] == len(areas)
        page.evaluate(f"() => window.ccm.map.setView([{lat}, {lng}], 11, {{animate: false}})")
        page.wait_for_timeout(100)
        assert page.locator(".ccm-vname").count() > 5  # village names at a district zoom
        assert errors == [] and blocked == []
    finally:
        page.close()


def test_click_on_a_small_area_opens_its_popup_clear_of_the_controls(browser, national_page):
    areas, path = national_page
    page, blocked, errors = open_offline(browser, path)
    try:
        small = areas[areas["priority_class"] == "low"].sort_values("area_m2").iloc[0]
        assert small["area_m2"] < 1000  # a 0.05-0.1 ha area: under a pixel at the first view
        lat, lng = _latlng(areas, small["hazard_id"])
        for zoom, where in ((12, None), (9, (420, 75))):
            page.evaluate(
                f"() => {{ window.ccm.map.closePopup();"
                f" window.ccm.map.setView([{lat}, {lng}], {zoom}, {{animate: false}}); }}"
            )
            if where is not None:  # put it just under the title box, then click it there
                page.evaluate(
                    f"""() => {{ const m = window.ccm.map;
                    const p = m.latLngToContainerPoint([{lat}, {lng}]);
                    m.panBy([p.x - {where[0]}, p.y - {where[1]}], {{animate: false}}); }}"""
                )
            p = page.evaluate(f"() => window.ccm.map.latLngToContainerPoint([{lat}, {lng}])")
            page.mouse.click(p["x"] + 4, p["y"] + 3)  # a little off: the click tolerance
            page.locator(".leaflet-popup .ccm-pop-h").wait_for(timeout=10_000)
            page.wait_for_timeout(400)  # the auto-pan
            header = page.evaluate(HEADER_CLEAR)
            if where is None:
                assert small["hazard_id"] in header["text"]
            assert header["inView"] and header["onTop"], (zoom, header)
        if "areas here" in page.locator(".leaflet-popup-content").inner_text():
            # overlapping symbols: the popup lists them, the small area among them
            page.locator(".ccm-pick", has_text=small["hazard_id"]).click()
            page.wait_for_timeout(400)
            header = page.evaluate(HEADER_CLEAR)
            assert small["hazard_id"] in header["text"] and header["inView"] and header["onTop"]
        popup = page.locator(".leaflet-popup-content").inner_text()
        assert "Travel to the nearest health facility" in popup
        assert "travel_min_health" not in popup
        # a no-route penalty is never shown as a time
        stuck = areas[areas["travel_min_health"] >= 600].iloc[0]["hazard_id"]
        page.evaluate("() => window.ccm.map.closePopup()")
        page.fill(".ccm-search input", stuck)
        page.press(".ccm-search input", "Enter")
        page.locator(".leaflet-popup .ccm-pop-h").wait_for(timeout=10_000)
        text = page.locator(".leaflet-popup-content").inner_text()
        assert "Travel to the nearest health facility: no road route" in text
        assert "600" not in text.split("Travel to the nearest health facility")[1][:30]
        assert blocked == [] and errors == []
    finally:
        page.close()


def test_clicks_on_the_largest_areas_at_the_first_view_open_their_popups(browser, national_page):
    # the register as a planner first sees it: symbols overlap, a click lists what is under it,
    # nearest first
    areas, path = national_page
    page, blocked, errors = open_offline(browser, path)
    try:
        page.evaluate(
            "() => { window.c0 = window.ccm.map.getCenter(); window.z0 = window.ccm.map.getZoom();"
            " document.querySelector('.ccm-legend').classList.add('ccm-collapsed'); }"
        )
        big = areas.sort_values(["area_m2", "hazard_id"], ascending=False).head(20)
        opened = 0
        for hid in big["hazard_id"]:
            page.evaluate(
                "() => { window.ccm.map.closePopup();"
                " window.ccm.map.setView(window.c0, window.z0, {animate: false}); }"
            )
            page.wait_for_timeout(250)  # the closed popup fades out
            lat, lng = _latlng(areas, hid)
            p = page.evaluate(f"() => window.ccm.map.latLngToContainerPoint([{lat}, {lng}])")
            under = page.evaluate(f"() => document.elementFromPoint({p['x']}, {p['y']}).tagName")
            assert under == "CANVAS", (hid, p, under)  # not under a control
            page.mouse.click(p["x"], p["y"])
            page.locator(".leaflet-popup .ccm-pop-h").wait_for(timeout=10_000)
            # its own popup, or a list with it at the top (second if another area shares its pixel)
            first = page.locator(".leaflet-popup-content").inner_text().split("\n")[:3]
            opened += any(hid in line for line in first)
        assert opened == len(big)
        assert blocked == [] and errors == []
    finally:
        page.close()


def test_local_mbtiles_basemap_shows_with_no_network(browser, tmp_path):
    mb = tmp_path / "osm.mbtiles"
    write_mbtiles(mb, [[14.85, 105.85], [15.05, 106.15]])
    doc = priority_map(make_areas(50), make_context(), MapSettings(), title="t", tiles=str(mb))
    path = write_text(doc, tmp_path / "tiles.html")
    page, blocked, errors = open_offline(browser, path)
    try:
        page.wait_for_function(
            "document.querySelectorAll('img.leaflet-tile-loaded').length > 0", timeout=30_000
        )
        srcs = page.evaluate(
            "() => Array.from(document.querySelectorAll('img.leaflet-tile')).map(i => i.src)"
        )
        assert srcs and all(s.startswith("data:") for s in srcs)
        assert blocked == [] and errors == []
        # the tiles fade in (Leaflet's opacity transition), later still on a loaded machine:
        # look again until they fill the map, for at most 15 s
        for _ in range(30):
            filled = _near(_pixels(page.screenshot()), (64, 160, 160), tol=12)
            if filled > 100_000:
                break
            page.wait_for_timeout(500)
        assert filled > 100_000  # the tile colour fills the map
        assert page.locator(".leaflet-control-attribution").inner_text().startswith("© test")
    finally:
        page.close()
