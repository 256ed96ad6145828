"""Interactive priority maps: one self-contained, offline HTML file per map (folium + Leaflet).

Leaflet's JavaScript and CSS are vendored in ``publish/vendor/`` and inlined into the page; the
page fetches nothing (no CDN, no tiles unless asked for). Geometry is simplified and rounded for
drawing only, packed once as delta-encoded integers, and turned into Leaflet layers by a small
script in the page: the priority layer is built at load, criterion and plan-year layers when
they are first switched on. Text from input data is escaped before it reaches the page's HTML.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ccm_geo.errors import InputError
from ccm_geo.io import polygonal_parts
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = [
    "priority_map",
    "embed_fragment",
    "REQUIRED_COLUMNS",
    "PRIORITY_CLASSES",
    "MAP_NAME",
]

logger = logging.getLogger(__name__)

#: Columns ``priority_map`` needs; the others are shown when present.
REQUIRED_COLUMNS = ("hazard_id", "geometry", "rank", "priority_class")
#: Priority classes, highest first (as in the legend).
PRIORITY_CLASSES = ("high", "medium", "low")
#: The JavaScript name of the Leaflet map in every page (``window.ccm.map`` is the same object).
MAP_NAME = "map_ccm"

_PLAN_COLUMNS = ("method", "cost_usd", "year", "team", "start", "end")


def priority_map(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
    tiles: str | None = None,
    note: str | None = None,
) -> str:
    """Build the interactive priority map as one self-contained HTML document.

    Parameters
    ----------
    areas
        Scored hazardous areas in a metric CRS: ``hazard_id``, ``geometry``, ``rank`` and
        ``priority_class`` at least; ``name``, ``status``, ``contamination``, ``area_m2``,
        ``region``, ``score``, ``explanation``, ``value_<criterion>``/``contrib_<criterion>``,
        the indicators named in ``settings.popup_indicators`` and the plan columns (``method``,
        ``cost_usd``, ``year``, ``team``, ``start``, ``end``) are shown when present.
    context
        Context layers (admin, roads, settlements, health, accidents) in the same CRS; any may
        be None, and ``context`` itself may be None.
    settings
        The [maps] settings: simplification (m), coordinate precision, detail limit, palettes,
        layers shown.
    title
        Shown on the map and as the page title (escaped).
    tiles
        A tile URL template for a background layer; overrides ``settings.tiles``. Without one
        the page makes no network request at all.
    note
        One more line under the title (escaped), e.g. that the ranking is weak.

    Returns
    -------
    str
        The HTML document. Leaflet and its CSS (with images as data URIs) are inlined; no
        ``src``/``href`` points to ``http(s)://`` unless tiles were asked for.

    Raises
    ------
    InputError
        When a required column is missing or the areas have no CRS.

    Notes
    -----
    With more than ``settings.max_detailed_areas`` areas, the top ones by rank are drawn one
    by one and the rest are aggregated into square cells of ``settings.aggregate_cell_m``
    (count and area), and a note on the map says so.
    """
    _check_areas(areas)
    tiles = tiles if tiles is not None else settings.tiles
    ordered = _ordered(areas)
    detailed = ordered.iloc[: settings.max_detailed_areas]
    rest = ordered.iloc[settings.max_detailed_areas :]
    criteria = _criteria(areas)
    payload: dict[str, Any] = {
        "title": title,
        "precision": settings.precision,
        "classes": list(PRIORITY_CLASSES),
        "colors": [settings.palette[c] for c in PRIORITY_CLASSES],
        "valuePalette": list(settings.value_palette),
        "planPalette": list(settings.plan_palette),
        "criteria": criteria if settings.show_criteria else [],
        "indicators": [c for c in settings.popup_indicators if c in areas.columns],
        "total": len(areas),
        "classTotals": [
            int((ordered["priority_class"].astype(str).str.lower() == c).sum())
            for c in PRIORITY_CLASSES
        ],
        "areas": _encode_areas(detailed, criteria, settings),
        "aggregate": _encode_aggregate(rest, settings) if len(rest) else None,
        "note": " ".join(t for t in (_note(len(detailed), len(rest), settings), note) if t),
        "context": _encode_context(context, settings),
        "contextOn": list(settings.context_on),
        "showPlan": settings.show_plan and "year" in areas.columns,
        "tiles": tiles,
        "tilesAttribution": settings.tiles_attribution,
        "bounds": _bounds(areas, context),
    }
    return _render(payload)


def embed_fragment(html_doc: str, *, height: str = "600px", title: str = "Map") -> str:
    """Wrap a map document into an ``<iframe srcdoc>`` to embed it in another HTML page.

    Parameters
    ----------
    html_doc
        A whole HTML document, e.g. from :func:`priority_map`.
    height
        CSS height of the frame.
    title
        Accessible title of the frame (escaped).

    Returns
    -------
    str
        One ``<iframe>`` element; the document is attribute-escaped into ``srcdoc``, and the
        frame is sandboxed (scripts run, but cannot reach the embedding page).
    """
    return (
        f'<iframe class="ccm-map" title="{html.escape(title, quote=True)}" '
        f'style="width:100%;height:{html.escape(height, quote=True)};border:1px solid #ccc" '
        'sandbox="allow-scripts allow-popups" allowfullscreen '
        f'srcdoc="{html.escape(html_doc, quote=True)}"></iframe>'
    )


# --------------------------------------------------------------------------------- helpers


def _check_areas(areas: gpd.GeoDataFrame) -> None:
    """Raise one InputError naming every missing column, or a missing CRS."""
    missing = [c for c in REQUIRED_COLUMNS if c not in areas.columns]
    if missing:
        msg = (
            f"priority map: the areas lack columns {missing} (found {list(areas.columns)}); "
            "run the scoring stage first, it adds rank and priority_class"
        )
        raise InputError(msg)
    if areas.crs is None:
        msg = (
            "priority map: the areas have no CRS; set the project's metric CRS "
            "(GeoDataFrame.set_crs) before publishing"
        )
        raise InputError(msg)


def _ordered(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Areas by rank, hazard_id as tie-break; rows without geometry left out."""
    keep = ~(areas.geometry.isna() | areas.geometry.is_empty)
    out = areas[keep].copy()
    out["_rank"] = pd.to_numeric(out["rank"], errors="coerce")
    out["_id"] = out["hazard_id"].astype(str)
    return out.sort_values(["_rank", "_id"], kind="stable", na_position="last")


def _criteria(areas: gpd.GeoDataFrame) -> list[str]:
    """Criterion names from the value_<criterion> columns, in column order."""
    return [c[len("value_") :] for c in areas.columns if c.startswith("value_")]


def _note(n_detailed: int, n_rest: int, settings: MapSettings) -> str | None:
    if not n_rest:
        return None
    km = settings.aggregate_cell_m / 1000
    return (
        f"Showing the top {n_detailed:,} areas by rank in detail; the other {n_rest:,} are "
        f"aggregated in {km:g} km cells (count and area)."
    )


def _encode_areas(df: gpd.GeoDataFrame, criteria: list[str], settings: MapSettings) -> dict:
    """Columns of the drawn areas, geometry as delta-encoded integer rings."""
    n = len(df)
    cls_index = {c: i for i, c in enumerate(PRIORITY_CLASSES)}
    out: dict[str, Any] = {
        "id": df["_id"].tolist(),
        "name": _texts(df, "name"),
        "cls": [cls_index.get(str(c).lower(), -1) for c in df["priority_class"]],
        "st": _texts(df, "status"),
        "rank": _numbers(df, "rank", 0),
        "score": _numbers(df, "score", 3),
        "ha": _numbers(df, "area_m2", 2, scale=1e-4)
        if "area_m2" in df
        else [round(a / 1e4, 2) for a in df.geometry.area],
        "region": _texts(df, "region"),
        "contam": _texts(df, "contamination"),
        "expl": _texts(df, "explanation") if settings.popup_explanation else [None] * n,
        "v": [_numbers(df, f"value_{c}", 3) for c in criteria],
        "c": [_numbers(df, f"contrib_{c}", 3) for c in criteria],
        "ind": [_numbers(df, c, 2) for c in settings.popup_indicators if c in df.columns],
        "method": _texts(df, "method"),
        "cost": _numbers(df, "cost_usd", 0),
        "year": _numbers(df, "year", 0),
        "team": _texts(df, "team"),
        "start": _dates(df, "start"),
        "end": _dates(df, "end"),
    }
    geoms = shapely.simplify(df.geometry.values, settings.simplify_m, preserve_topology=True)
    out["g"] = _encode_polygons(_to_wgs84(geoms, df.crs), settings.precision)
    return out


def _encode_aggregate(rest: gpd.GeoDataFrame, settings: MapSettings) -> dict:
    """Square grid cells (metric CRS) holding the areas beyond the detail limit."""
    cell = settings.aggregate_cell_m
    pts = shapely.get_coordinates(rest.geometry.representative_point().values)
    ix = np.floor(pts[:, 0] / cell).astype(np.int64)
    iy = np.floor(pts[:, 1] / cell).astype(np.int64)
    area = (
        pd.to_numeric(rest["area_m2"], errors="coerce").to_numpy()
        if "area_m2" in rest
        else rest.geometry.area.to_numpy()
    )
    cls = rest["priority_class"].astype(str).str.lower().to_numpy()
    frame = pd.DataFrame(
        {"ix": ix, "iy": iy, "area": area, "high": cls == "high", "medium": cls == "medium"}
    )
    agg = frame.groupby(["ix", "iy"], sort=True).agg(
        n=("area", "size"), area=("area", "sum"), high=("high", "sum"), medium=("medium", "sum")
    )
    x0 = agg.index.get_level_values("ix").to_numpy() * cell
    y0 = agg.index.get_level_values("iy").to_numpy() * cell
    boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
    return {
        "n": agg["n"].astype(int).tolist(),
        "ha": [round(float(a) / 1e4, 1) for a in agg["area"]],
        "high": agg["high"].astype(int).tolist(),
        "medium": agg["medium"].astype(int).tolist(),
        "g": _encode_polygons(_to_wgs84(boxes, rest.crs), settings.precision),
        "cellKm": cell / 1000,
    }


def _encode_context(context: Context | None, settings: MapSettings) -> dict:
    """The context layers the settings ask for and the context has, packed for the page."""
    out: dict[str, Any] = {}
    if context is None:
        return out
    for name in settings.context_layers:
        gdf = getattr(context, name, None)
        if gdf is None or len(gdf) == 0:
            continue
        gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
        if gdf.crs is None:
            msg = (
                f"priority map: context layer '{name}' has no CRS; load it through "
                "ccm_geo so it is in the project's metric CRS"
            )
            raise InputError(msg)
        p = settings.precision
        if name == "admin":
            geoms = shapely.simplify(
                gdf.geometry.values, settings.context_simplify_m, preserve_topology=True
            )
            out[name] = {
                "g": _encode_polygons(_to_wgs84(geoms, gdf.crs), p),
                "label": _texts(gdf, "region"),
            }
        elif name == "roads":
            geoms = shapely.simplify(
                gdf.geometry.values, settings.context_simplify_m, preserve_topology=True
            )
            out[name] = {
                "g": _encode_lines(_to_wgs84(geoms, gdf.crs), p),
                "label": _texts(gdf, "road_class"),
            }
        else:
            pts = _to_wgs84(gdf.geometry.representative_point().values, gdf.crs)
            xy = np.round(shapely.get_coordinates(pts) * 10**p).astype(np.int64)
            layer: dict[str, Any] = {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()}
            if name == "accidents":
                layer.update(
                    id=_texts(gdf, "accident_id"),
                    date=_dates(gdf, "date"),
                    killed=_numbers(gdf, "killed", 0),
                    injured=_numbers(gdf, "injured", 0),
                    device=_texts(gdf, "device_type"),
                )
            elif name == "settlements":
                layer.update(label=_texts(gdf, "name"), pop=_numbers(gdf, "population", 0))
            else:
                layer.update(label=_texts(gdf, "name"))
            out[name] = layer
    return out


def _bounds(areas: gpd.GeoDataFrame, context: Context | None) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the areas (else of the admin layer), in degrees."""
    src = areas
    if (len(areas) == 0 or areas.geometry.is_empty.all()) and context is not None:
        src = context.admin if context.admin is not None else areas
    if len(src) == 0 or src.geometry.is_empty.all():
        return None
    w, s, e, n = src.to_crs(4326).total_bounds
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        return None
    return [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]


def _to_wgs84(geoms: np.ndarray, crs) -> np.ndarray:
    import geopandas as gpd

    return gpd.GeoSeries(geoms, crs=crs).to_crs(4326).values


def _encode_polygons(geoms, precision: int) -> list[list[list[list[int]]]]:
    """Per geometry: parts, rings, flat ``[x0, y0, dx1, dy1, ...]`` at ``10**precision``.

    Rings lose their closing vertex and repeated (after rounding) vertices.
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    polys = shapely.get_type_id(geoms)
    if not np.isin(polys[~empty], (3, 6)).all():  # Polygon, MultiPolygon
        geoms = np.array([polygonal_parts(g) or shapely.Polygon() for g in geoms], dtype=object)
        empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    out: list = [[] for _ in range(len(geoms))]
    idx = np.flatnonzero(~empty)
    if len(idx) == 0:
        return out
    _, coords, offsets = shapely.to_ragged_array(geoms[idx])
    if len(offsets) == 3:  # MultiPolygon (mixed input is promoted)
        ring_off, part_off, geom_off = offsets
    else:  # Polygon: one part each
        ring_off, part_off = offsets
        geom_off = np.arange(len(idx) + 1)
    flat = _delta_rings(coords, ring_off, precision, closed=True)
    for k, i in enumerate(idx):
        parts = []
        for pi in range(geom_off[k], geom_off[k + 1]):
            parts.append([flat[r] for r in range(part_off[pi], part_off[pi + 1])])
        out[i] = parts
    return out


def _encode_lines(geoms, precision: int) -> list[list[list[int]]]:
    """Per geometry: lines as flat delta-encoded integer lists (see _encode_polygons)."""
    geoms = np.asarray(geoms, dtype=object)
    out: list = [[] for _ in range(len(geoms))]
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    keep &= np.isin(shapely.get_type_id(geoms), (1, 5))  # LineString, MultiLineString
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return out
    _, coords, offsets = shapely.to_ragged_array(geoms[idx])
    line_off, geom_off = offsets if len(offsets) == 2 else (offsets[0], np.arange(len(idx) + 1))
    flat = _delta_rings(coords, line_off, precision, closed=False)
    for k, i in enumerate(idx):
        out[i] = [flat[r] for r in range(geom_off[k], geom_off[k + 1])]
    return out


def _delta_rings(
    coords: np.ndarray, offsets: np.ndarray, precision: int, *, closed: bool
) -> list[list[int]]:
    """Round to integers at ``10**precision`` and delta-encode each ring/line."""
    q = np.round(coords[:, :2] * 10**precision).astype(np.int64)
    d = np.empty_like(q)
    d[1:] = q[1:] - q[:-1]
    starts = offsets[:-1]
    d[starts[starts < len(q)]] = q[starts[starts < len(q)]]
    keep = np.any(d != 0, axis=1)
    keep[starts[starts < len(q)]] = True
    if closed:
        keep[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = False
    # dropping a zero-delta vertex is lossless; dropping the closing vertex changes no delta
    out = []
    for a, b in zip(offsets[:-1], offsets[1:], strict=True):
        seg = d[a:b][keep[a:b]]
        out.append(seg.ravel().tolist())
    return out


def _texts(df: pd.DataFrame, col: str) -> list[str | None]:
    """A column as text (None where missing); the page escapes it before showing it."""
    if col not in df.columns:
        return [None] * len(df)
    s = df[col]
    return [None if _missing(v) else str(v) for v in s.tolist()]


def _numbers(df: pd.DataFrame, col: str, digits: int, scale: float = 1.0) -> list:
    """A numeric column rounded to ``digits`` (ints when 0), None where missing."""
    if col not in df.columns:
        return [None] * len(df)
    vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float) * scale
    if digits == 0:
        return [None if not math.isfinite(v) else int(round(v)) for v in vals]
    return [None if not math.isfinite(v) else round(float(v), digits) for v in vals]


def _dates(df: pd.DataFrame, col: str) -> list[str | None]:
    """A date column as ISO text (YYYY-MM-DD), None where missing."""
    if col not in df.columns:
        return [None] * len(df)
    s = df[col]
    if not pd.api.types.is_datetime64_any_dtype(s):
        conv = pd.to_datetime(s, errors="coerce", format="mixed")
        s = conv.where(conv.notna(), None)
    return [None if _missing(v) else pd.Timestamp(v).strftime("%Y-%m-%d") for v in s.tolist()]


def _missing(v) -> bool:
    return v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


# --------------------------------------------------------------------------------- the page


def _render(payload: dict) -> str:
    """Assemble the folium page: inlined Leaflet, our CSS and script, no CDN links."""
    import folium
    from branca.element import Element, MacroElement
    from jinja2 import Template

    m = folium.Map(
        location=[0, 0],
        zoom_start=2,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,
        attribution_control=False,
        zoom_control=True,
    )
    m._id = MAP_NAME.removeprefix("map_")  # a stable name: same input, same page
    m.default_js = []  # folium's CDN Leaflet, jQuery, Bootstrap, awesome-markers: none needed
    m.default_css = []
    root = m.get_root()
    root.header.add_child(
        Element(f"<title>{html.escape(payload['title'])}</title>"), name="ccm_title"
    )
    root.header.add_child(Element(f"<style>{_leaflet_css()}</style>"), name="leaflet_css")
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="ccm_css")
    root.header.add_child(Element(f"<script>{_leaflet_js()}</script>"), name="leaflet_js")

    script = _JS.replace("__MAP__", m.get_name()).replace("__DATA__", _script_json(payload))
    layers = MacroElement()
    layers._name = "CcmLayers"
    layers._id = "ccm"
    layers._template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")
    layers.code = script
    m.add_child(layers, name="ccm_layers")
    return root.render()


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' that could end it."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@cache
def _leaflet_js() -> str:
    text = _vendor("leaflet/leaflet.js").decode("utf-8")
    text = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", text)  # nothing to look up
    return text.replace("</script", "<\\/script")


@cache
def _leaflet_css() -> str:
    """Leaflet's CSS with its images as data URIs."""
    css = _vendor("leaflet/leaflet.css").decode("utf-8")

    def inline(match: re.Match) -> str:
        name = match.group(1)
        data = base64.b64encode(_vendor(f"leaflet/{name}")).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return css.replace("</style", "<\\/style")


def _vendor(name: str) -> bytes:
    return resources.files("ccm_geo.publish").joinpath("vendor", name).read_bytes()


_CSS = """
.ccm-title{position:absolute;top:10px;left:50%;transform:translateX(-50%);z-index:1000;
 background:rgba(255,255,255,.92);padding:4px 12px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.3);font:14px/1.3 system-ui,sans-serif;text-align:center;
 max-width:60%;pointer-events:none}
.ccm-title h1{font-size:16px;margin:0}
.ccm-title .ccm-note{font-size:12px;color:#7a2c00;margin-top:2px}
.ccm-legend{background:rgba(255,255,255,.94);padding:6px 9px;border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.3);font:12px/1.4 system-ui,sans-serif;max-height:45vh;
 overflow:auto;min-width:150px}
.ccm-legend h4{margin:4px 0 2px;font-size:12px}
.ccm-legend .ccm-row{white-space:nowrap}
.ccm-sw{display:inline-block;width:16px;height:11px;margin-right:6px;vertical-align:middle;
 border:1px solid #222;box-sizing:border-box}
.ccm-line{display:inline-block;width:16px;height:0;margin-right:6px;vertical-align:middle;
 border-top:2px solid #222}
.ccm-dot{display:inline-block;width:10px;height:10px;margin:0 9px 0 3px;border-radius:50%;
 vertical-align:middle;border:1px solid #222}
.ccm-search{background:#fff;padding:3px;font:12px system-ui,sans-serif}
.ccm-search input{width:150px;font-size:12px;padding:2px 4px;border:1px solid #aaa}
.ccm-search button{display:block;width:100%;text-align:left;border:0;background:#fff;
 padding:2px 4px;cursor:pointer;font-size:12px;max-width:220px;overflow:hidden;
 text-overflow:ellipsis;white-space:nowrap}
.ccm-search button:hover{background:#eef}
.ccm-search .ccm-miss{padding:2px 4px;color:#7a2c00}
.leaflet-bar a.ccm-fs{font-size:16px;line-height:26px}
.ccm-pop{font:12px/1.35 system-ui,sans-serif}
.ccm-pop table{border-collapse:collapse;margin:4px 0}
.ccm-pop td,.ccm-pop th{padding:1px 6px 1px 0;text-align:right}
.ccm-pop td:first-child,.ccm-pop th:first-child{text-align:left}
.ccm-pop th{border-bottom:1px solid #999}
.ccm-pop .ccm-tot td{border-top:1px solid #999;font-weight:bold}
.ccm-pop .ccm-expl{color:#333;margin-top:4px;max-height:8em;overflow:auto}
.leaflet-control-layers-list{max-height:60vh;overflow:auto;font:12px system-ui,sans-serif}
"""

_JS = r"""
(function () {
"use strict";
var map = __MAP__;
var D = __DATA__;
var S = Math.pow(10, D.precision);
var R = L.canvas({padding: 0.5, tolerance: 4});
var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
function esc(s) {
  if (s === null || s === undefined) { return ""; }
  return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
}
function fmt(x, d) {
  if (x === null || x === undefined) { return "\u2013"; }
  return Number(x).toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
}
function ring(a) {
  var out = new Array(a.length / 2), x = 0, y = 0;
  for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out[i / 2] = [y / S, x / S]; }
  return out;
}
function shape(g) { return g.map(function (p) { return p.map(ring); }); }
var A = D.areas, N = A.id.length, LL = new Array(N);
function ll(i) { return LL[i] || (LL[i] = shape(A.g[i])); }
var DASH = {SHA: "6 4", released: "1 5"};
var GREY = "#bdbdbd";
function classColor(i) { return A.cls[i] >= 0 ? D.colors[A.cls[i]] : GREY; }
function classLabel(i) { return A.cls[i] >= 0 ? D.classes[A.cls[i]] : "unclassified"; }
function outline(i, fill) {
  return {renderer: R, color: "#222", weight: A.st[i] === "CHA" ? 1.6 : 1.3, opacity: 0.9,
          dashArray: DASH[A.st[i]] || null, fillColor: fill, fillOpacity: 0.75,
          hazardId: A.id[i]};
}

/* ---- tooltips and popups (every data string goes through esc) ---- */
function tip(layer) {
  var i = layer.ccmIndex;
  return "<b>" + esc(A.id[i]) + "</b>" + (A.name[i] ? " " + esc(A.name[i]) : "") + "<br>" +
    esc(classLabel(i)) + " priority \u00b7 rank " + fmt(A.rank[i], 0) + " \u00b7 " +
    fmt(A.ha[i], 2) + " ha";
}
function row(k, v) {
  return v === "" || v === null ? "" : "<div><b>" + k + ":</b> " + v + "</div>";
}
function popup(layer) {
  var i = layer.ccmIndex, h = ["<div class='ccm-pop'>"];
  h.push("<div><b>" + esc(A.id[i]) + "</b>" + (A.name[i] ? " \u2013 " + esc(A.name[i]) : "") +
         "</div>");
  h.push(row("Priority", esc(classLabel(i)) + " (rank " + fmt(A.rank[i], 0) + " of " +
             fmt(D.total, 0) + ", score " + fmt(A.score[i], 3) + ")"));
  h.push(row("Status", esc(A.st[i])));
  h.push(row("Region", esc(A.region[i])));
  h.push(row("Area", fmt(A.ha[i], 2) + " ha"));
  var cont = A.contam[i] ? A.contam[i].split(";").map(function (s) { return s.trim(); })
    .filter(Boolean) : [];
  h.push(row("Contamination", cont.length ? esc(cont.join(", ")) : "\u2013"));
  if (D.criteria.length) {
    var rows = [];
    for (var k = 0; k < D.criteria.length; k++) { rows.push(k); }
    rows.sort(function (a, b) { return (A.c[b][i] || 0) - (A.c[a][i] || 0); });
    h.push("<table><tr><th>criterion</th><th>value</th><th>contribution</th></tr>");
    rows.forEach(function (k) {
      h.push("<tr><td>" + esc(D.criteria[k]) + "</td><td>" + fmt(A.v[k][i], 2) + "</td><td>" +
             fmt(A.c[k][i], 3) + "</td></tr>");
    });
    h.push("<tr class='ccm-tot'><td>score</td><td></td><td>" + fmt(A.score[i], 3) +
           "</td></tr></table>");
  }
  for (var j = 0; j < D.indicators.length; j++) {
    if (A.ind[j][i] !== null) { h.push(row(esc(D.indicators[j]), fmt(A.ind[j][i], 2))); }
  }
  if (A.method[i] || A.year[i] !== null || A.cost[i] !== null) {
    h.push(row("Plan", esc(A.method[i] || "\u2013") + ", US$ " + fmt(A.cost[i], 0) +
               ", from " + (A.year[i] === null ? "\u2013" : esc(A.year[i]))));
    if (A.team[i] || A.start[i]) {
      h.push(row("Team", esc(A.team[i] || "\u2013") + " \u00b7 " + esc(A.start[i] || "?") +
                 " \u2013 " + esc(A.end[i] || "?")));
    }
  }
  if (A.expl[i]) { h.push("<div class='ccm-expl'>" + esc(A.expl[i]) + "</div>"); }
  h.push("</div>");
  return h.join("");
}

/* ---- layers and legends ---- */
var overlays = {}, legends = [], legendBox = L.DomUtil.create("div", "ccm-legend");
function swatch(fill, border) {
  return "<span class='ccm-sw' style='background:" + fill + ";border-style:" +
    (border || "solid") + "'></span>";
}
function legend(layer, titleHtml, rowsHtml, first) {
  var div = L.DomUtil.create("div", "", legendBox);
  if (first) { legendBox.insertBefore(div, legendBox.firstChild); }
  div.innerHTML = "<h4>" + titleHtml + "</h4>" + rowsHtml.map(function (r) {
    return "<div class='ccm-row'>" + r + "</div>"; }).join("");
  div.style.display = map.hasLayer(layer) ? "" : "none";
  layer.on("add", function () { div.style.display = ""; });
  layer.on("remove", function () { div.style.display = "none"; });
}
var GROUPS = ["Hazardous", "Other", "Criterion", "Plan", "Context"], listed = [];
function register(name, layer, on) {
  overlays[name] = layer;
  listed.push(name);
  if (on) { layer.addTo(map); }
}
function controlOrder() {  /* hazards first, then criteria, plan years, context */
  var g = function (n) { for (var k = 0; k < GROUPS.length; k++) {
    if (n.indexOf(GROUPS[k]) === 0) { return k; } } return GROUPS.length; };
  var out = {};
  listed.map(function (n, k) { return [g(n), k, n]; })
    .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; })
    .forEach(function (e) { out[e[2]] = overlays[e[2]]; });
  return out;
}
function hazardGroup(indices, style) {
  var g = L.featureGroup();
  g.bindTooltip(tip, {sticky: true});
  g.bindPopup(popup, {maxWidth: 380});
  g.ccmFill = function () {
    for (var k = 0; k < indices.length; k++) {
      var i = indices[k], p = L.polygon(ll(i), style(i));
      p.ccmIndex = i;
      g.addLayer(p);
    }
  };
  return g;
}
function lazy(g) {  /* fill a layer the first time it is switched on */
  g.once("add", function () { g.ccmFill(); });
  return g;
}
var all = [];
for (var i0 = 0; i0 < N; i0++) { all.push(i0); }

if (D.tiles) {
  L.tileLayer(D.tiles, {attribution: esc(D.tilesAttribution), maxZoom: 19}).addTo(map);
  L.control.attribution({prefix: false}).addTo(map);
}

/* context layers, bottom first */
var C = D.context, ctx = {};
function on(name) { return D.contextOn.indexOf(name) !== -1; }
if (C.admin) {
  var adm = L.featureGroup();
  C.admin.g.forEach(function (g, k) {
    adm.addLayer(L.polygon(shape(g), {renderer: R, color: "#444", weight: 2, opacity: 0.8,
      fill: false, interactive: true}).bindTooltip(esc(C.admin.label[k] || ""), {sticky: true}));
  });
  register("Context: admin boundaries", adm, on("admin"));
  legend(adm, "Admin boundaries",
         ["<span class='ccm-line' style='border-color:#444'></span>region"]);
  ctx.admin = adm;
}
if (C.roads) {
  var rd = L.featureGroup();
  C.roads.g.forEach(function (g, k) {
    rd.addLayer(L.polyline(g.map(ring), {renderer: R, color: "#6d6d6d", weight: 1.5, opacity: 0.9})
      .bindTooltip("road: " + esc(C.roads.label[k] || "unknown class"), {sticky: true}));
  });
  register("Context: roads", rd, on("roads"));
  legend(rd, "Roads", ["<span class='ccm-line' style='border-color:#6d6d6d'></span>road"]);
  ctx.roads = rd;
}

var hazards = lazy(hazardGroup(all, function (i) { return outline(i, classColor(i)); }));
var counts = D.classTotals, unclassified = 0;  /* all areas, drawn or aggregated */
A.cls.forEach(function (c) { if (c < 0) { unclassified++; } });
var hz = D.classes.map(function (c, k) {
  return swatch(D.colors[k]) + esc(c) + " (" + fmt(counts[k], 0) + ")"; });
if (unclassified) { hz.push(swatch(GREY) + "unclassified (" + fmt(unclassified, 0) + ")"); }
[["CHA", "solid", "CHA (confirmed): solid outline"],
 ["SHA", "dashed", "SHA (suspected): dashed outline"],
 ["released", "dotted", "released: dotted outline"]].forEach(function (s) {
  if (A.st.indexOf(s[0]) !== -1) { hz.push(swatch("transparent", s[1]) + s[2]); }
});

if (D.aggregate) {
  var G = D.aggregate, agg = L.featureGroup();
  G.g.forEach(function (g, k) {
    agg.addLayer(L.polygon(shape(g), {renderer: R, color: "#6a51a3", weight: 0.4,
      fillColor: "#8c6bb1", fillOpacity: Math.min(0.85, 0.25 + 0.1 * Math.log(1 + G.n[k]))})
      .bindTooltip(fmt(G.n[k], 0) + " more areas (" + fmt(G.high[k], 0) + " high, " +
                   fmt(G.medium[k], 0) + " medium), " + fmt(G.ha[k], 1) + " ha", {sticky: true}));
  });
  register("Other areas (aggregated, " + fmt(G.cellKm, 1) + " km cells)", agg, true);
  legend(agg, "Other areas (aggregated)", [swatch("#8c6bb1") + fmt(G.cellKm, 1) +
    " km cell: count and area in the tooltip"]);
}

/* criteria: one layer per value_<criterion>, coloured by value bins */
var VP = D.valuePalette, nb = VP.length;
D.criteria.forEach(function (name, k) {
  var vals = A.v[k];
  var g = lazy(hazardGroup(all, function (i) {
    var v = vals[i];
    var fill = v === null ? GREY : VP[Math.min(nb - 1, Math.floor(v * nb))];
    var st = outline(i, fill); st.fillOpacity = 0.85; return st;
  }));
  register("Criterion: " + esc(name), g, false);
  var rows = VP.map(function (c, b) {
    return swatch(c) + fmt(b / nb, 1) + "\u2013" + fmt((b + 1) / nb, 1); });
  rows.push(swatch(GREY) + "no value");
  legend(g, "Criterion: " + esc(name) + " (value 0\u20131)", rows);
});

/* the work plan: one layer per year */
if (D.showPlan) {
  var years = [];
  A.year.forEach(function (y) { if (y !== null && years.indexOf(y) === -1) { years.push(y); } });
  years.sort(function (a, b) { return a - b; });
  years.forEach(function (y, k) {
    var idx = [], cost = 0;
    for (var i = 0; i < N; i++) { if (A.year[i] === y) { idx.push(i); cost += A.cost[i] || 0; } }
    var col = D.planPalette[k % D.planPalette.length];
    var g = lazy(hazardGroup(idx, function (i) { return outline(i, col); }));
    register("Plan " + esc(y) + " (" + fmt(idx.length, 0) + " areas starting)", g, false);
    legend(g, "Work plan: work starts in " + esc(y), [swatch(col) + fmt(idx.length, 0) +
      " areas; their planned tasks cost US$ " + fmt(cost, 0) + " (all years)"]);
  });
}

register("Hazardous areas by priority", hazards, true);
legend(hazards, "Hazardous areas: priority", hz, true);

/* point context on top */
function points(P, style, label) {
  var g = L.featureGroup();
  for (var k = 0; k < P.x.length; k++) {
    g.addLayer(L.circleMarker([P.y[k] / S, P.x[k] / S], style(k)).bindTooltip(label(k)));
  }
  return g;
}
if (C.settlements) {
  var T = C.settlements, st = points(T, function (k) {
    var r = T.pop[k] ? Math.max(3, Math.min(12, Math.log10(T.pop[k] + 1) * 2.5)) : 3;
    return {renderer: R, radius: r, color: "#222", weight: 1, fillColor: "#ffffff",
            fillOpacity: 0.9};
  }, function (k) {
    return esc(T.label[k] || "settlement") + (T.pop[k] !== null ? " \u00b7 pop. " +
      fmt(T.pop[k], 0) : ""); });
  register("Context: settlements", st, on("settlements"));
  legend(st, "Settlements", ["<span class='ccm-dot' style='background:#fff'></span>" +
    "settlement (size: population)"]);
  ctx.settlements = st;
}
if (C.health) {
  var H = C.health, hf = points(H, function () {
    return {renderer: R, radius: 5, color: "#08306b", weight: 2, fillColor: "#4292c6",
            fillOpacity: 1}; }, function (k) { return "health: " + esc(H.label[k] || ""); });
  register("Context: health facilities", hf, on("health"));
  legend(hf, "Health facilities", ["<span class='ccm-dot' style='background:#4292c6;" +
    "border-color:#08306b'></span>health facility"]);
  ctx.health = hf;
}
if (C.accidents) {
  var X = C.accidents, ac = points(X, function (k) {
    var hurt = (X.killed[k] || 0) + (X.injured[k] || 0);
    return {renderer: R, radius: hurt ? 3 + Math.min(3, hurt) : 2, color: "#54278f",
            weight: 1, fillColor: "#807dba", fillOpacity: 0.5}; }, function (k) {
    return "accident " + esc(X.id[k] || "") + " \u00b7 " + esc(X.date[k] || "date unknown") +
      "<br>killed " + fmt(X.killed[k], 0) + ", injured " + fmt(X.injured[k], 0) +
      (X.device[k] ? " \u00b7 " + esc(X.device[k]) : ""); });
  register("Context: accidents", ac, on("accidents"));
  legend(ac, "Accidents", ["<span class='ccm-dot' style='background:#807dba'></span>" +
    "accident (size: casualties)"]);
  ctx.accidents = ac;
}

/* controls: layers, legend, search, full screen, title */
L.control.layers(null, controlOrder(), {collapsed: listed.length > 16}).addTo(map);
L.control.scale({imperial: false, maxWidth: 150}).addTo(map);
var Legend = L.Control.extend({options: {position: "bottomright"}, onAdd: function () {
  L.DomEvent.disableClickPropagation(legendBox);
  L.DomEvent.disableScrollPropagation(legendBox);
  return legendBox; }});
new Legend().addTo(map);

var lower = A.id.map(function (s) { return String(s).toLowerCase(); });
var byIndex = null;
function zoomTo(i) {
  if (!map.hasLayer(hazards)) { map.addLayer(hazards); }
  var b = L.polygon(ll(i)).getBounds();
  map.fitBounds(b, {maxZoom: 16});
  L.popup({maxWidth: 380}).setLatLng(b.getCenter()).setContent(popup({ccmIndex: i})).openOn(map);
}
var Search = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
  var box = L.DomUtil.create("div", "ccm-search leaflet-bar");
  var input = L.DomUtil.create("input", "", box);
  input.type = "search"; input.placeholder = "Find hazard id";
  input.setAttribute("aria-label", "Find a hazardous area by id");
  var list = L.DomUtil.create("div", "", box);
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  function hits() {
    var q = input.value.trim().toLowerCase(), out = [];
    if (!q) { return out; }
    for (var i = 0; i < N && out.length < 8; i++) { if (lower[i] === q) { out.push(i); } }
    for (var j = 0; j < N && out.length < 8; j++) {
      if (lower[j] !== q && lower[j].indexOf(q) !== -1) { out.push(j); }
    }
    return out;
  }
  function show() {
    list.textContent = "";
    if (!input.value.trim()) { return; }
    var h = hits();
    if (!h.length) {
      var miss = L.DomUtil.create("div", "ccm-miss", list);
      miss.textContent = "No drawn area has an id containing \u201c" + input.value + "\u201d";
      return;
    }
    h.forEach(function (i) {
      var b = L.DomUtil.create("button", "", list);
      b.type = "button";
      b.textContent = A.id[i] + (A.name[i] ? " \u2013 " + A.name[i] : "");
      L.DomEvent.on(b, "click", function () { zoomTo(i); list.textContent = ""; });
    });
  }
  input.addEventListener("input", show);
  input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    var h = hits();
    if (h.length) { zoomTo(h[0]); list.textContent = ""; }
  });
  return box; }});
new Search().addTo(map);

var FS_ICON = "<svg width='16' height='16' viewBox='0 0 16 16' style='margin-top:5px' " +
  "aria-hidden='true'><path d='M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5' fill='none' " +
  "stroke='#222' stroke-width='2'/></svg>";
var Full = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
  var bar = L.DomUtil.create("div", "leaflet-bar");
  var a = L.DomUtil.create("a", "ccm-fs", bar);
  a.setAttribute("role", "button"); a.title = "Full screen"; a.href = "#";
  a.setAttribute("aria-label", "Full screen");
  a.innerHTML = FS_ICON;
  L.DomEvent.on(a, "click", function (e) {
    L.DomEvent.preventDefault(e);
    var el = map.getContainer();
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (el.requestFullscreen) { el.requestFullscreen(); }
  });
  L.DomEvent.disableClickPropagation(bar);
  return bar; }});
new Full().addTo(map);
document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });

var box = L.DomUtil.create("div", "ccm-title", map.getContainer());
var h1 = L.DomUtil.create("h1", "", box);
h1.textContent = D.title;
var sub = L.DomUtil.create("div", "", box);
sub.textContent = D.total.toLocaleString("en-US") + " hazardous areas";
if (D.note) { var note = L.DomUtil.create("div", "ccm-note", box); note.textContent = D.note; }

/* Fit the areas in view. An embedded map (an iframe in a report) may run before its frame has
   a size; fitting then gives NaN coordinates, so wait until the frame is laid out. */
function fit() {
  var size = map.invalidateSize({pan: false}).getSize();
  if (!D.bounds || size.x <= 0 || size.y <= 0) { return false; }
  map.fitBounds(D.bounds, {padding: [20, 20]});
  return true;
}
if (!fit()) {
  var waited = 0;
  (function again() { if (!fit() && (waited += 1) < 400) { setTimeout(again, 25); } })();
}
window.ccm = {map: map, hazards: hazards, layers: overlays, context: ctx, expected: N,
              count: function (layer) {
                var n = 0;
                (layer || hazards).eachLayer(function (l) { if (l instanceof L.Path) { n++; } });
                return n; }};
requestAnimationFrame(function () {
  requestAnimationFrame(function () { window.ccmReady = true; });
});
})();
"""
