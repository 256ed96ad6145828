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
from test_maps import EVIL, make_areas, make_context  # noqa: E402

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
        "() => { const c = window.ccm.map.getCenter(); return isFinite(c.lat) && "
        "window.ccm.map.getSize().x === 800; }",
        timeout=60_000,
    )
    zoom = frame.evaluate("() => window.ccm.map.getZoom()")
    page.close()
    assert errors == []
    assert 5 <= zoom <= 18
