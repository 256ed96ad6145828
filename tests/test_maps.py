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
