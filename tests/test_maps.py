"""Interactive and print maps: offline, escaped, layered, aggregated, atomically written."""

from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from ccm_geo.errors import InputError
from ccm_geo.io import write_text
from ccm_geo.model import Context
from ccm_geo.publish.maps import MAP_NAME, embed_fragment, priority_map
from ccm_geo.publish.printmap import print_map, save_figure
from ccm_geo.publish.settings import MapSettings

CRS = "EPSG:32648"  # UTM 48N (Lao PDR)
X0, Y0 = 600_000.0, 1_650_000.0
EVIL = "<script>alert(1)</script>"
CRITERIA = ("accidents", "landuse", "access")


def make_areas(n: int = 50, *, seed: int = 1, plan: bool = True) -> gpd.GeoDataFrame:
    """``n`` scored hazardous areas on a 10-column grid (one evil name, one hole, one multi)."""
    rng = np.random.default_rng(seed)
    geoms = []
    for i in range(n):
        x, y = X0 + (i % 10) * 800.0, Y0 + (i // 10) * 800.0
        side = 100.0 + 20 * (i % 7)  # 1.0 to 3.56 ha
        ring = [
            (x, y),
            (x + side, y),
            (x + side, y + side * 0.7),
            (x + side / 2, y + side),
            (x, y + side),
        ]
        if i == 3:  # a hole
            geoms.append(
                Polygon(
                    ring, [[(x + 20, y + 20), (x + 40, y + 20), (x + 40, y + 40), (x + 20, y + 40)]]
                )
            )
        elif i == 4:  # two parts
            geoms.append(MultiPolygon([Polygon(ring), box(x + 300, y, x + 360, y + 60)]))
        else:
            geoms.append(Polygon(ring))
    values = {c: rng.uniform(0, 1, n).round(3) for c in CRITERIA}
    contrib = {c: (values[c] / len(CRITERIA)).round(4) for c in CRITERIA}
    score = sum(contrib.values())
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    cls = np.where(rank <= n // 5, "high", np.where(rank <= n // 2, "medium", "low"))
    df = gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ-{i:03d}" for i in range(n)],
            "name": [EVIL if i == 0 else f"Field {i} of Ban Na & co" for i in range(n)],
            "status": ["CHA" if i % 2 else "SHA" for i in range(n)],
            "contamination": ["CMR;AP" if i % 3 == 0 else "CMR" for i in range(n)],
            "region": ["North" if i < n // 2 else "South" for i in range(n)],
            "score": score,
            "rank": rank,
            "priority_class": cls,
            "explanation": [
                f"accidents {values['accidents'][i]:.2f} " + ("<b>x</b>" if i == 0 else "")
                for i in range(n)
            ],
            **{f"value_{c}": values[c] for c in CRITERIA},
            **{f"contrib_{c}": contrib[c] for c in CRITERIA},
            "accidents_24m": rng.integers(0, 4, n),
            "travel_min_health": rng.uniform(5, 120, n).round(1),
            "landuse_frac_cropland": rng.uniform(0, 1, n).round(2),
        },
        geometry=geoms,
        crs=CRS,
    )
    df["area_m2"] = df.geometry.area
    if plan:
        df["method"] = ["technical survey" if i % 2 else "clearance" for i in range(n)]
        df["cost_usd"] = (df["area_m2"] * 1.5).round(0)
        df["year"] = [2026 + (r - 1) * 3 // n if r <= n * 0.8 else np.nan for r in rank]
        df["team"] = ["T1" if i % 2 else "T2" for i in range(n)]
        df["start"] = pd.Timestamp("2026-01-05") + pd.to_timedelta(rank * 7, unit="D")
        df["end"] = df["start"] + pd.Timedelta(days=6)
        df.loc[df["year"].isna(), ["method", "cost_usd", "team", "start", "end"]] = None
    return df


def make_context() -> Context:
    """Two regions, three roads, settlements, health posts and accidents around the areas."""
    admin = gpd.GeoDataFrame(
        {"region": ["North", "South <i>"]},
        geometry=[
            box(X0 - 500, Y0 - 500, X0 + 8500, Y0 + 1900),
            box(X0 - 500, Y0 + 1900, X0 + 8500, Y0 + 4500),
        ],
        crs=CRS,
    )
    roads = gpd.GeoDataFrame(
        {"road_id": ["r1", "r2", "r3"], "road_class": ["primary", "track", "secondary"]},
        geometry=[
            LineString([(X0 - 400, Y0 + 700), (X0 + 8400, Y0 + 750)]),
            LineString([(X0 + 4000, Y0 - 400), (X0 + 4100, Y0 + 4400)]),
            LineString([(X0 - 400, Y0 + 3000), (X0 + 3000, Y0 + 3300), (X0 + 8400, Y0 + 3100)]),
        ],
        crs=CRS,
    )
    settlements = gpd.GeoDataFrame(
        {"settlement_id": ["s1", "s2"], "name": ["Ban Na", EVIL], "population": [1200, 300]},
        geometry=[Point(X0 + 2000, Y0 + 1500), Point(X0 + 6000, Y0 + 2500)],
        crs=CRS,
    )
    health = gpd.GeoDataFrame(
        {"facility_id": ["h1"], "name": ["Health post"]},
        geometry=[Point(X0 + 2100, Y0 + 1600)],
        crs=CRS,
    )
    accidents = gpd.GeoDataFrame(
        {
            "accident_id": ["a1", "a2", "a3"],
            "date": pd.to_datetime(["2024-03-01", "2025-01-15", None]),
            "killed": [1, 0, 0],
            "injured": [2, 1, 0],
            "device_type": ["CMR", "AP", None],
        },
        geometry=[
            Point(X0 + 150, Y0 + 150),
            Point(X0 + 3300, Y0 + 1700),
            Point(X0 + 7000, Y0 + 3000),
        ],
        crs=CRS,
    )
    return Context(
        crs=CRS,
        accidents=accidents,
        settlements=settlements,
        health=health,
        roads=roads,
        admin=admin,
    )


def make_national(
    n: int = 8000, *, villages: int = 3000, seed: int = 7
) -> tuple[gpd.GeoDataFrame, Context]:
    """A national-size register: ``n`` small areas (0.05-8 ha) over 600 x 450 km in 30
    regions, with admin units, a road grid, ``villages`` named settlements and accidents."""
    rng = np.random.default_rng(seed)
    w, h = 600_000.0, 450_000.0
    x = X0 - 300_000 + rng.uniform(0, w, n)
    y = Y0 - 200_000 + rng.uniform(0, h, n)
    ha = np.exp(rng.uniform(np.log(0.05), np.log(8.0), n))
    side = np.sqrt(ha * 1e4)
    geoms = shapely.box(x - side / 2, y - side / 2, x + side / 2, y + side / 2)
    score = rng.uniform(0, 1, n)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    cls = np.where(rank <= n * 0.1, "high", np.where(rank <= n * 0.4, "medium", "low"))
    col = np.clip(((x - (X0 - 300_000)) // 100_000).astype(int), 0, 5)
    row = np.clip(((y - (Y0 - 200_000)) // 90_000).astype(int), 0, 4)
    areas = gpd.GeoDataFrame(
        {
            "hazard_id": [f"NAT-{i:05d}" for i in range(n)],
            "name": [f"Field {i}" for i in range(n)],
            "status": np.where(rng.uniform(size=n) < 0.5, "CHA", "SHA"),
            "contamination": "CMR",
            "region": [f"Province {r * 6 + c + 1}" for r, c in zip(row, col, strict=True)],
            "score": score.round(4),
            "rank": rank,
            "priority_class": cls,
            "travel_min_health": np.where(rng.uniform(size=n) < 0.05, 600.0, 30.0),
            "accidents_24m": rng.integers(0, 3, n),
        },
        geometry=geoms,
        crs=CRS,
    )
    areas["area_m2"] = areas.geometry.area
    cells = [
        (
            f"Province {r * 6 + c + 1}",
            box(
                X0 - 300_000 + c * 100_000,
                Y0 - 200_000 + r * 90_000,
                X0 - 200_000 + c * 100_000,
                Y0 - 110_000 + r * 90_000,
            ),
        )
        for r in range(5)
        for c in range(6)
    ]
    admin = gpd.GeoDataFrame(
        {"region": [c[0] for c in cells]}, geometry=[c[1] for c in cells], crs=CRS
    )
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary"] * 9},
        geometry=[
            LineString(
                [
                    (X0 - 300_000, Y0 - 200_000 + k * 50_000),
                    (X0 + 300_000, Y0 - 150_000 + k * 50_000),
                ]
            )
            for k in range(9)
        ],
        crs=CRS,
    )
    vx = X0 - 300_000 + rng.uniform(0, w, villages)
    vy = Y0 - 200_000 + rng.uniform(0, h, villages)
    settlements = gpd.GeoDataFrame(
        {
            "settlement_id": [f"v{i}" for i in range(villages)],
            "name": [f"Ban {i}" for i in range(villages)],
            "population": rng.integers(50, 5000, villages),
        },
        geometry=gpd.points_from_xy(vx, vy),
        crs=CRS,
    )
    ax_ = X0 - 300_000 + rng.uniform(0, w, 400)
    ay_ = Y0 - 200_000 + rng.uniform(0, h, 400)
    accidents = gpd.GeoDataFrame(
        {
            "accident_id": [f"a{i}" for i in range(400)],
            "date": pd.Timestamp("2024-01-01"),
            "killed": rng.integers(0, 2, 400),
            "injured": rng.integers(0, 3, 400),
        },
        geometry=gpd.points_from_xy(ax_, ay_),
        crs=CRS,
    )
    ctx = Context(crs=CRS, admin=admin, roads=roads, settlements=settlements, accidents=accidents)
    return areas, ctx


class _Attrs(HTMLParser):
    """Collects every element's src/href (script and style bodies are not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[dict] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self.scripts.append(d)


def _links(doc: str) -> list[str]:
    p = _Attrs()
    p.feed(doc)
    return p.links


@pytest.fixture(scope="module")
def areas() -> gpd.GeoDataFrame:
    return make_areas()


@pytest.fixture(scope="module")
def context() -> Context:
    return make_context()


@pytest.fixture(scope="module")
def page(areas, context) -> str:
    return priority_map(areas, context, MapSettings(), title="Demo <province> & plan")


# ----------------------------------------------------------------------------- offline


def test_written_page_links_nothing_online(page, tmp_path):
    path = write_text(page, tmp_path / "map.html")
    doc = path.read_text(encoding="utf-8")
    assert _links(doc) == [] or all(not re.match(r"(?i)\s*https?:", u) for u in _links(doc))
    # no external script/stylesheet elements at all: everything is inline
    assert not re.search(r"<script[^>]*\bsrc\s*=", doc, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=", doc, re.I)
    # folium's CDN defaults are gone
    for cdn in ("cdn.jsdelivr", "code.jquery", "cdnjs.cloudflare", "bootstrapcdn", "bootstrap"):
        assert cdn not in doc
    assert "L.map(" in doc and "Leaflet" in doc  # Leaflet itself is inlined
    assert "sourceMappingURL" not in doc
    assert "url(images/" not in doc and "data:image/png;base64," in doc


def test_tiles_are_opt_in(areas, context):
    url = "https://tile.example.org/{z}/{x}/{y}.png"
    doc = priority_map(areas, context, MapSettings(), title="t", tiles=url)
    assert url.replace("/", "\\/") in doc or url in doc
    assert "https://tile.example.org" not in priority_map(areas, context, MapSettings(), title="t")


def test_same_input_same_page(areas, context, page):
    assert priority_map(areas, context, MapSettings(), title="Demo <province> & plan") == page
    assert f"var {MAP_NAME} = L.map(" in page


# ----------------------------------------------------------------------------- escaping


def test_input_text_is_escaped(page):
    assert EVIL not in page  # neither the hazard name, the settlement name nor in any script
    assert "<script>alert" not in page
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page  # data, shown via esc()
    assert "<title>Demo &lt;province&gt; &amp; plan</title>" in page
    assert "South <i>" not in page
    # every <script> element holds code, none was opened by data
    p = _Attrs()
    p.feed(page)
    assert len(p.scripts) == len(re.findall(r"<script\b", page))


def test_page_escapes_data_before_inserting_it(page):
    # the tooltip, popup, legend and layer names pass data through esc(); search uses textContent
    assert "function esc(s)" in page
    assert '"<b>" + esc(A.id[i]) + "</b>" + (A.name[i] ? " " + esc(A.name[i])' in page
    assert "b.textContent = A.id[i]" in page
    assert '"Criterion: " + esc(name)' in page


# ----------------------------------------------------------------------------- layers, legend


def test_layers_and_legends_present(page):
    for text in (
        "Hazardous areas by priority",
        "Criterion: ",
        "Plan ",
        "Context: admin boundaries",
        "Context: roads",
        "Context: settlements",
        "Context: health facilities",
        "Context: accidents",
        "SHA (suspected): dashed outline",
        "CHA (confirmed): solid outline",
        "L.control.layers(",
        "L.control.scale(",
        "Find hazard id",
        "Full screen",
        "preferCanvas",
        "ccm-legend",
    ):
        assert text in page, text
    for c in CRITERIA:
        assert f'"{c}"' in page
    for colour in MapSettings().palette.values():
        assert colour in page


def test_plan_layers_only_with_a_plan(context):
    doc = priority_map(make_areas(12, plan=False), context, MapSettings(), title="t")
    assert '"showPlan":false' in doc


def test_no_context_and_no_criteria(areas):
    doc = priority_map(areas, None, MapSettings(show_criteria=False), title="t")
    assert '"criteria":[]' in doc and '"context":{}' in doc


def test_geometry_is_rounded_to_the_precision(areas, context):
    doc = priority_map(areas, context, MapSettings(precision=5), title="t")
    assert '"precision":5' in doc
    assert not re.search(r"\d\.\d{7,}", doc.split('"g":', 1)[1][:5000])  # integers, not floats


def test_aggregation_over_the_limit(areas, context):
    doc = priority_map(areas, context, MapSettings(max_detailed_areas=20), title="t")
    assert "Showing the top 20 areas by rank in detail; the other 30 are aggregated" in doc
    assert '"aggregate":{"n":[' in doc
    ids = re.search(r'"areas":\{"id":(\[[^\]]*\])', doc).group(1)
    assert ids.count("HZ-") == 20
    top = make_areas().sort_values("rank")["hazard_id"].head(20).tolist()
    assert all(f'"{h}"' in ids for h in top)


def test_missing_columns_are_named(areas, context):
    with pytest.raises(InputError, match=r"lack columns \['rank', 'priority_class'\]"):
        priority_map(
            areas.drop(columns=["rank", "priority_class"]), context, MapSettings(), title="t"
        )


def test_bad_palette_is_refused():
    with pytest.raises(ValueError, match="maps.palette"):
        MapSettings(palette={"high": "#ff0000", "medium": "red", "low": "#00ff00"})


def test_embed_fragment(page):
    frag = embed_fragment(page)
    assert frag.startswith("<iframe") and frag.endswith("</iframe>")
    assert frag.count("<") == 2  # the whole page sits escaped inside srcdoc
    srcdoc = re.search(r'srcdoc="([^"]*)"', frag).group(1)
    assert html_lib.unescape(srcdoc) == page
    assert 'sandbox="allow-scripts' in frag


# ----------------------------------------------------------------------------- print map


def test_print_map_has_legend_scale_bar_north_arrow_labels(areas, context):
    fig = print_map(areas, context, MapSettings(), title="Demo <province>", top_n=5)
    assert (
        matplotlib.get_backend().lower() == "agg"
        or fig.canvas.__class__.__name__ == "FigureCanvasAgg"
    )
    ax = fig.axes[0]
    assert ax.get_legend() is not None
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("high" in t for t in labels) and any("SHA" in t for t in labels)
    gids = {a.get_gid() for a in fig.findobj() if a.get_gid()}
    assert {"scale_bar", "north_arrow"} <= gids
    texts = {t.get_text() for t in ax.texts}
    top5 = areas.sort_values("rank")["hazard_id"].head(5)
    assert set(top5) <= texts
    assert ax.get_title(loc="left") == "Demo <province>"


def test_save_figure_png_and_pdf(areas, context, tmp_path):
    fig = print_map(areas, context, MapSettings(print_dpi=60), title="t")
    png = save_figure(fig, tmp_path / "m.png")
    pdf = save_figure(fig, tmp_path / "m.pdf")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    svg = save_figure(fig, tmp_path / "m.svg")
    assert b"<svg" in svg.read_bytes()[:400]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pdf", "m.png", "m.svg"]  # no temp
    with pytest.raises(InputError, match=r"\.tif"):
        save_figure(fig, tmp_path / "m.tif")


# ----------------------------------------------------------------------------- labels, views


def test_indicator_labels_have_words_and_units():
    from ccm_geo.publish.maps.labels import criterion_label, indicator_label

    assert indicator_label("travel_min_settlement") == {
        "label": "Travel from the nearest settlement",
        "unit": "min",
        "digits": 0,
        "travel": True,
    }
    assert indicator_label("travel_min_school")["label"] == "Travel to the nearest school"
    assert indicator_label("population_within_5km")["label"] == "Population within 5 km"
    assert indicator_label("cleared_m2")["unit"] == "m²"
    assert criterion_label("settlement_access") == "Settlement access"


def test_page_carries_labels_and_the_no_route_penalty(page):
    assert '"label":"Travel to the nearest health facility","unit":"min"' in page
    assert '"noRouteMin":600.0' in page and '"noRoute":"no road route"' in page
    assert (
        "no road route"
        not in priority_map(make_areas(5), None, MapSettings(popup_indicators=[]), title="t").split(
            "var D = "
        )[1][:200]
    )


def test_default_context_is_admin_roads_accidents_beneath_the_areas():
    s = MapSettings()
    assert s.context_on == ["admin", "roads", "accidents"]
    doc = priority_map(make_areas(10), make_context(), s, title="t")
    assert '"contextOn":["admin","roads","accidents"]' in doc
    assert "g.bringToBack()" in doc  # every context layer goes under the hazard layer


def test_region_views_group_near_regions_and_split_far_ones():
    from ccm_geo.publish.maps.views import region_views

    pts = [(0, 0, "A"), (3000, 0, "B"), (400_000, 0, "C")]
    focus = gpd.GeoDataFrame(
        {"region": [r for *_, r in pts], "hazard_id": ["1", "2", "3"]},
        geometry=[box(X0 + x, Y0 + y, X0 + x + 100, Y0 + y + 100) for x, y, _ in pts],
        crs=CRS,
    )
    views = region_views(focus)
    assert [v.regions for v in views] == [("A", "B"), ("C",)]
    x0, y0, x1, y1 = views[0].bounds
    assert x0 < X0 and x1 > X0 + 3100 and (x1 - x0) < 20_000  # zoomed, with context around
    # an admin layer gives each region its unit's extent
    ctx = Context(
        crs=CRS,
        admin=gpd.GeoDataFrame(
            {"region": ["A"]}, geometry=[box(X0 - 5000, Y0 - 5000, X0 + 5000, Y0 + 5000)], crs=CRS
        ),
    )
    (va,) = region_views(focus.iloc[:1], ctx)
    assert va.bounds[0] < X0 - 5000 and va.bounds[2] > X0 + 5000


def test_request_map_zooms_to_the_view():
    from ccm_geo.publish.maps.views import region_views

    areas = make_areas()
    north = areas[areas["region"] == "North"]
    view = region_views(north)[0]
    doc = priority_map(areas, None, MapSettings(), title="t", view=view.bounds)
    full = priority_map(areas, None, MapSettings(), title="t")
    b_view = re.search(r'"bounds":(\[\[[^\]]*\],\[[^\]]*\]\])', doc).group(1)
    b_full = re.search(r'"bounds":(\[\[[^\]]*\],\[[^\]]*\]\])', full).group(1)
    assert b_view != b_full


# ----------------------------------------------------------------------------- local tiles


def _png(colour=(64, 160, 160)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, format="PNG")
    return buf.getvalue()


def write_mbtiles(path, bounds_ll, zooms=range(0, 15), fmt="png") -> int:
    """An MBTiles file with one solid tile over ``bounds_ll`` ([[s, w], [n, e]]) per zoom."""
    import sqlite3

    from ccm_geo.publish.maps.tiles import _cover

    data = _png()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name text, value text)")
    db.execute(
        "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, "
        "tile_data blob)"
    )
    db.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [("format", fmt), ("attribution", "© test tiles <b>")],
    )
    n = 0
    for z in zooms:
        for x, y in _cover(bounds_ll, z):
            db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
            n += 1
    db.commit()
    db.close()
    return n


def write_pmtiles(path, tiles: dict[tuple[int, int, int], bytes]) -> None:
    """A PMTiles v3 archive (uncompressed directory, one root directory)."""
    import struct

    from ccm_geo.publish.maps.tiles import zxy_to_tileid

    def varint(v: int) -> bytes:
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)

    entries = sorted((zxy_to_tileid(*k), v) for k, v in tiles.items())
    blob, offsets = b"", []
    for _, data in entries:
        offsets.append(len(blob))
        blob += data
    d = varint(len(entries))
    last = 0
    for tid, _ in entries:
        d += varint(tid - last)
        last = tid
    d += b"".join(varint(1) for _ in entries)
    d += b"".join(varint(len(v)) for _, v in entries)
    d += b"".join(varint(o + 1) for o in offsets)
    zs = [k[0] for k in tiles]
    head = bytearray(127)
    head[:7] = b"PMTiles"
    head[7] = 3
    root_off = 127
    data_off = root_off + len(d)
    struct.pack_into("<8Q", head, 8, root_off, len(d), 0, 0, data_off, 0, data_off, len(blob))
    head[97], head[98], head[99] = 1, 1, 2  # no compression, png
    head[100], head[101] = min(zs), max(zs)
    struct.pack_into("<4i", head, 102, -1800000000, -850000000, 1800000000, 850000000)
    with open(path, "wb") as f:
        f.write(bytes(head) + d + blob)


def test_pmtiles_tile_ids_follow_the_spec():
    from ccm_geo.publish.maps.tiles import zxy_to_tileid

    assert [zxy_to_tileid(0, 0, 0)] == [0]
    assert [zxy_to_tileid(1, x, y) for x, y in ((0, 0), (0, 1), (1, 1), (1, 0))] == [1, 2, 3, 4]
    assert zxy_to_tileid(2, 0, 0) == 5
    ids = {zxy_to_tileid(3, x, y) for x in range(8) for y in range(8)}
    assert ids == set(range(21, 85))  # a bijection onto zoom 3's range


def test_local_tiles_are_inlined_under_the_cap(tmp_path, areas, context):
    from ccm_geo.publish.maps.tiles import _cover, extract_tiles

    bounds = [[14.9, 105.9], [15.0, 106.1]]
    mb = tmp_path / "osm.mbtiles"
    write_mbtiles(mb, bounds)
    got = extract_tiles(mb, bounds, max_mb=50)
    assert got["maxNativeZoom"] == 14 and got["attribution"] == "© test tiles <b>"
    assert all(v.startswith("data:image/png;base64,") for v in got["tiles"].values())
    small = extract_tiles(mb, bounds, max_mb=0.05)
    assert small["maxNativeZoom"] < 14 and small["mb"] <= 0.05
    # the same tiles from a PMTiles archive
    pm = tmp_path / "osm.pmtiles"
    data = _png()
    write_pmtiles(pm, {(z, x, y): data for z in range(0, 15) for x, y in _cover(bounds, z)})
    assert extract_tiles(pm, bounds, max_mb=50)["tiles"] == got["tiles"]
    # the page: tiles inlined, attribution escaped, nothing online
    doc = priority_map(areas, context, MapSettings(), title="t", tiles=str(mb))
    assert '"localTiles":{"tiles":{"' in doc and "© test tiles \\u003cb\\u003e" in doc
    assert not any(re.match(r"(?i)\s*https?:", u) for u in _links(doc))


def test_bad_tiles_files_are_named(tmp_path):
    from ccm_geo.publish.maps.tiles import extract_tiles

    with pytest.raises(InputError, match="neither a local .mbtiles/.pmtiles file"):
        priority_map(make_areas(3), None, MapSettings(), title="t", tiles="osm.tif")

    with pytest.raises(InputError, match="not found"):
        extract_tiles(tmp_path / "none.mbtiles", None)
    vec = tmp_path / "vec.mbtiles"
    write_mbtiles(vec, [[14.9, 105.9], [15.0, 106.1]], zooms=range(0, 2), fmt="pbf")
    with pytest.raises(InputError, match="raster tiles"):
        extract_tiles(vec, None)
    junk = tmp_path / "junk.pmtiles"
    junk.write_bytes(b"not a pmtiles archive" * 10)
    with pytest.raises(InputError, match="PMTiles v3"):
        extract_tiles(junk, None)


# ----------------------------------------------------------------------------- print, national


@pytest.fixture(scope="module")
def national():
    return make_national()


def test_print_labels_never_overlap_at_national_scale(national):
    areas, ctx = national
    fig = print_map(areas, ctx, MapSettings(print_dpi=80), title="National", top_n=80)
    placed = fig.ccm_labels
    kinds = {p["kind"] for p in placed}
    assert {"hazard", "region", "village"} <= kinds
    assert sum(p["kind"] == "hazard" for p in placed) + len(fig.ccm_unplaced) == 80
    boxes = [p["bbox"] for p in placed]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # every small area is drawn (as a dot): the map is not mostly empty
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    x0, y0, x1, y1 = (int(v) for v in fig.axes[0].get_window_extent().extents)
    h = rgb.shape[0]
    inside = rgb[h - y1 : h - y0, x0:x1].reshape(-1, 3).astype(int)
    coloured = (np.abs(inside - 255).sum(axis=1) > 60).mean()
    assert coloured > 0.08, coloured
    high = np.array([0xBD, 0x00, 0x26])
    assert (np.abs(inside - high).sum(axis=1) < 60).sum() > 500
    assert any(a.get_gid() == "locator" for a in fig.axes)


def test_print_sheets_per_region_when_one_page_is_too_small(national, tmp_path):
    from ccm_geo.publish.printmap import print_sheets, save_sheets

    areas, ctx = national
    areas = areas[areas["region"].isin([f"Province {k}" for k in range(1, 5)])]
    assert len(areas) > 500
    sheets = print_sheets(areas, ctx, MapSettings(print_dpi=50), title="National")
    assert [k for k, _ in sheets] == ["overview"]  # under print_sheet_areas: one page
    settings = MapSettings(print_dpi=50, print_sheet_areas=500)
    sheets = print_sheets(areas, ctx, settings, title="National")
    assert [k for k, _ in sheets] == ["overview"] + [f"Province {k}" for k in range(1, 5)]
    region, fig = sheets[3]
    assert fig.axes[0].get_title(loc="left") == f"National: {region} (sheet 3 of 4)"
    (x0, x1), (_y0, _y1) = fig.axes[0].get_xlim(), fig.axes[0].get_ylim()
    assert (x1 - x0) < 200_000  # zoomed to one 100 km x 90 km province
    path = save_sheets([f for _, f in sheets[:3]], tmp_path / "sheets.pdf")
    data = path.read_bytes()
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") == 3


def test_many_regions_share_a_bounded_number_of_sheets(national, tmp_path):
    from ccm_geo.publish.printmap import iter_sheets, save_sheets

    areas, ctx = national  # 30 provinces in a 6 x 5 grid
    settings = MapSettings(print_dpi=50, print_sheet_areas=500, print_max_sheets=6)
    titles = []

    def pages():
        for _, fig in iter_sheets(areas, ctx, settings, title="National"):
            titles.append(fig.axes[0].get_title(loc="left"))
            ax = fig.axes[0]
            x0, x1 = ax.get_xlim()
            drawn = sum(
                (c.get_paths()[0].codes == 1).sum()
                for c in ax.collections
                if c.get_gid() == "areas"
            )
            drawn += sum(len(ln.get_xdata()) for ln in ax.lines if ln.get_gid() == "area_dots")
            if len(titles) > 1:  # a sheet draws what lies in its extent, not the register
                assert (x1 - x0) < 400_000
                assert drawn < len(areas) / 2, drawn
            yield fig

    path = save_sheets(pages(), tmp_path / "sheets.pdf")
    data = path.read_bytes()
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") == 7
    assert len(titles) == 7 and titles[1].endswith("(sheet 1 of 6)")
    # every region on exactly one sheet, neighbours together: sheets of 5 provinces each
    # (30 x ~267 areas) along the curve hold provinces that touch one another
    from ccm_geo.publish.printmap import _Layers, _sheet_groups

    names = areas["region"].to_numpy()
    rows = {r: np.flatnonzero(names == r) for r in set(names)}
    groups = _sheet_groups(areas, rows, _Layers.of(areas, ctx), 6)
    assert sorted(r for g in groups for r in g) == sorted(rows)
    assert all(4 <= len(g) <= 6 for g in groups), groups
    for g in groups:
        ids = sorted(int(r.split()[-1]) - 1 for r in g)
        cells = {(i // 6, i % 6) for i in ids}
        linked = {next(iter(cells))}  # the group's provinces form one connected block
        while True:
            more = {
                c
                for c in cells - linked
                if any(abs(c[0] - d[0]) + abs(c[1] - d[1]) == 1 for d in linked)
            }
            if not more:
                break
            linked |= more
        assert linked == cells, g


def test_every_gpkg_layer_carries_a_labelled_style(tmp_path):
    import sqlite3

    from ccm_geo.io import write_gpkg

    ctx = make_context()
    tasks = make_areas(6)[["hazard_id", "year", "geometry"]].assign(
        task_id=[f"T{i}" for i in range(6)]
    )
    tasks = tasks.drop(columns=[]).dropna(subset=["year"])
    path = write_gpkg(
        {"admin": ctx.admin, "roads": ctx.roads, "settlements": ctx.settlements, "tasks": tasks},
        tmp_path / "c.gpkg",
    )
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
    assert set(rows) == {"admin", "roads", "settlements", "tasks"}
    assert all('<labeling type="simple">' in q for q in rows.values())
    assert 'fieldName="task_id"' in rows["tasks"] and 'attr="year"' in rows["tasks"]
    assert 'fieldName="region"' in rows["admin"]
    from ccm_geo.publish.styles import PRIORITY_PALETTE, hazard_style

    qml = hazard_style("priority_class")
    for colour in PRIORITY_PALETTE.values():
        c = colour.lstrip("#")
        assert f"{int(c[:2], 16)},{int(c[2:4], 16)},{int(c[4:], 16)},255" in qml
    assert MapSettings().palette == PRIORITY_PALETTE


def test_show_views_zooms_and_adds_an_inset_per_far_region():
    from matplotlib.figure import Figure

    from ccm_geo.publish.maps.views import region_views, show_views

    pts = [(0, 0, "A"), (400_000, 0, "C")]
    focus = gpd.GeoDataFrame(
        {"region": [r for *_, r in pts]},
        geometry=[box(X0 + x, Y0 + y, X0 + x + 500, Y0 + y + 500) for x, y, _ in pts],
        crs=CRS,
    )
    fig = Figure()
    ax = fig.add_subplot()
    focus.plot(ax=ax)
    ax.text(X0 + 250, Y0 + 250, "HZ-1")
    insets = show_views(ax, region_views(focus))
    assert len(insets) == 1 and insets[0].get_title(loc="left") == "C"
    assert ax.get_xlim()[1] - ax.get_xlim()[0] < 50_000  # zoomed to A, not to A and C
    assert len(insets[0].collections) == len(ax.collections) and insets[0].texts
    assert show_views(ax, []) == []


def test_a_note_under_the_title_is_escaped(areas):
    note = "ranking is weak: 90% of areas share one score <b>"
    doc = priority_map(areas, None, MapSettings(), title="t", note=note)
    assert "ranking is weak: 90% of areas share one score" in doc
    assert "one score <b>" not in doc  # drawn with textContent from an escaped payload


def test_a_road_graph_is_drawn_as_a_few_lines():
    """A road graph's edges (one feature per edge) are joined per class: a 400-edge chain
    of one class is one line on the page, a crossing road of another class its own."""
    from ccm_geo.publish.maps.page import _encode_layer

    xs = X0 + np.arange(401) * 50.0
    edges = [LineString([(xs[i], Y0), (xs[i + 1], Y0)]) for i in range(400)]
    cross = [LineString([(X0 + 5000, Y0 - 2000), (X0 + 5000, Y0)])]
    cross += [LineString([(X0 + 5000, Y0), (X0 + 5000, Y0 + 2000)])]
    roads = gpd.GeoDataFrame(
        {"road_class": ["track"] * 400 + ["primary", "primary"]},
        geometry=edges + cross,
        crs=CRS,
    )
    page = {"roads": _encode_layer("roads", roads, MapSettings(context_layers=["roads"]))}
    assert sorted(page["roads"]["label"]) == ["primary", "track"]
    track = page["roads"]["g"][page["roads"]["label"].index("track")]
    assert len(track) == 1  # one line, its vertices collinear: simplified to its two ends
    pts = np.array(track[0]).reshape(-1, 2)
    assert len(pts) == 2
    span = pts[1, 0] / 10**5  # delta-encoded: the second point is the line's length in degrees
    assert 0.17 < span < 0.2, span  # 20 km at 15.3° N
