"""The interactive priority map: one self-contained, offline HTML file (folium + Leaflet).

Leaflet's JavaScript and CSS are vendored in ``publish/vendor/`` and inlined into the page; the
page fetches nothing (no CDN; a basemap only from a local tile file, inlined, or a tile URL the
user asks for). Geometry is simplified and rounded for drawing only, packed once as
delta-encoded integers (``encode``), and turned into Leaflet layers by the page's script
(``assets/map.js``): at zooms where an area is smaller than a few pixels it is drawn as a
symbol at its centre (sized by area, coloured by class), switching to its polygon when that
becomes visible. Text from input data is escaped before it reaches the page's HTML.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ccm_geo.errors import InputError
from ccm_geo.publish import styles
from ccm_geo.publish.maps.encode import (
    dates,
    encode_lines,
    encode_points,
    encode_polygons,
    numbers,
    texts,
    to_wgs84,
)
from ccm_geo.publish.maps.labels import NO_ROUTE, criterion_label, indicator_label
from ccm_geo.publish.maps.tiles import extract_tiles, is_local_tiles
from ccm_geo.publish.maps.views import data_bounds, to_latlng_bounds
from ccm_geo.publish.settings import MapSettings
from ccm_geo.publish.shared import cached_text, frame_key, memo, road_lines

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = [
    "priority_map",
    "embed_fragment",
    "REQUIRED_COLUMNS",
    "PRIORITY_CLASSES",
    "MAP_NAME",
    "NO_ROUTE_MIN",
]

logger = logging.getLogger(__name__)

#: Columns ``priority_map`` needs; the others are shown when present.
REQUIRED_COLUMNS = ("hazard_id", "geometry", "rank", "priority_class")
#: Priority classes, highest first (as in the legend).
PRIORITY_CLASSES = ("high", "medium", "low")
#: The JavaScript name of the Leaflet map in every page (``window.ccm.map`` is the same object).
MAP_NAME = "map_ccm"
#: Travel times at or above this (min) are the criteria's no-route penalty: "no road route".
NO_ROUTE_MIN = 600.0
#: Where the context layers' JSON goes in the page's data (see ``_render``).
_CONTEXT_SLOT = "\x00ccm-context\x00"


def priority_map(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
    tiles: str | None = None,
    view: tuple[float, float, float, float] | None = None,
    no_route_min: float | None = NO_ROUTE_MIN,
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
        layers shown, tiles.
    title
        Shown on the map and as the page title (escaped).
    tiles
        Overrides ``settings.tiles``: a local ``.mbtiles``/``.pmtiles`` file of raster tiles
        (the tiles over the map's extent are inlined, up to ``settings.tiles_max_mb``; the page
        stays offline), or a tile URL template (the page then needs the network). Without one
        the page makes no network request at all.
    view
        The first view, ``(xmin, ymin, xmax, ymax)`` in the areas' CRS (m), e.g. a
        :class:`~ccm_geo.publish.maps.views.View`'s bounds; default: all the areas.
    no_route_min
        Travel times (``travel_min_*`` indicators) at or above this many minutes are the
        criteria's penalty for "no route" (``unreachable_penalty_min``) and are shown as
        "no road route", never as a time. None: show every value.
    note
        One more line under the title (escaped), e.g. that the ranking is weak.

    Returns
    -------
    str
        The HTML document. Leaflet and its CSS (with images as data URIs) are inlined; no
        ``src``/``href`` points to ``http(s)://`` unless a tile URL was asked for.

    Raises
    ------
    InputError
        When a required column is missing, the areas have no CRS, or a tiles file cannot be
        read.

    Notes
    -----
    With more than ``settings.max_detailed_areas`` areas, the top ones by rank are drawn one
    by one and the rest are aggregated into square cells of ``settings.aggregate_cell_m``
    (count, area, coloured by the highest class they hold), and a note on the map says so.
    """
    _check_areas(areas)
    tiles = tiles if tiles is not None else settings.tiles
    ordered = _ordered(areas)
    detailed = ordered.iloc[: settings.max_detailed_areas]
    rest = ordered.iloc[settings.max_detailed_areas :]
    criteria = _criteria(areas)
    bounds = data_bounds(areas, context)
    first_view = to_latlng_bounds(view, areas.crs) if view is not None else bounds
    indicators = [c for c in settings.popup_indicators if c in areas.columns]
    payload: dict[str, Any] = {
        "title": title,
        "precision": settings.precision,
        "classes": list(PRIORITY_CLASSES),
        "colors": [settings.palette[c] for c in PRIORITY_CLASSES],
        "strokes": [styles.darker(settings.palette[c]) for c in PRIORITY_CLASSES],
        "grey": styles.UNCLASSIFIED,
        "background": styles.BACKGROUND,
        "contextColors": dict(styles.CONTEXT_COLOURS),
        "valuePalette": list(settings.value_palette),
        "planPalette": list(settings.plan_palette),
        "criteria": criteria if settings.show_criteria else [],
        "criteriaLabels": [criterion_label(c) for c in criteria] if settings.show_criteria else [],
        "indicators": indicators,
        "indicatorLabels": [indicator_label(c) for c in indicators],
        "noRouteMin": no_route_min,
        "noRoute": NO_ROUTE,
        "total": len(areas),
        "classTotals": [
            int((ordered["priority_class"].astype(str).str.lower() == c).sum())
            for c in PRIORITY_CLASSES
        ],
        "areas": _encode_areas(detailed, criteria, settings),
        "aggregate": _encode_aggregate(rest, settings) if len(rest) else None,
        "note": " ".join(t for t in (_note(len(detailed), len(rest), settings), note) if t),
        "context": _CONTEXT_SLOT,  # its JSON, packed once per layer, goes in here
        "contextOn": list(settings.context_on),
        "villageLabelZoom": settings.village_label_zoom,
        "showPlan": settings.show_plan and "year" in areas.columns,
        "tiles": None,
        "tilesAttribution": settings.tiles_attribution,
        "bounds": first_view,
    }
    if is_local_tiles(tiles):
        local = extract_tiles(tiles, bounds, max_mb=settings.tiles_max_mb)
        logger.info(
            "inlined %d tiles (%.1f MB, zoom %d-%d) from %s",
            local["count"],
            local["mb"],
            local["minNativeZoom"],
            local["maxNativeZoom"],
            tiles,
        )
        payload["localTiles"] = local
        if not settings.tiles_attribution:
            payload["tilesAttribution"] = local["attribution"]
    elif tiles:
        if "{z}" not in tiles or "{x}" not in tiles or "{y}" not in tiles:
            msg = (
                f"tiles {tiles!r} is neither a local .mbtiles/.pmtiles file nor a tile URL "
                "template with {z}, {x} and {y}; give a raster tiles file or a template like "
                "'https://tile.openstreetmap.org/{z}/{x}/{y}.png'"
            )
            raise InputError(msg)
        payload["tiles"] = tiles
    return _render(payload, context_json=_context_json(context, settings))


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
    """Columns of the drawn areas, geometry as delta-encoded integer rings, centres as points."""
    n = len(df)
    cls_index = {c: i for i, c in enumerate(PRIORITY_CLASSES)}
    out: dict[str, Any] = {
        "id": df["_id"].tolist(),
        "name": texts(df, "name"),
        "cls": [cls_index.get(str(c).lower(), -1) for c in df["priority_class"]],
        "st": texts(df, "status"),
        "rank": numbers(df, "rank", 0),
        "score": numbers(df, "score", 3),
        "ha": numbers(df, "area_m2", 2, scale=1e-4)
        if "area_m2" in df
        else [round(a / 1e4, 2) for a in df.geometry.area],
        "region": texts(df, "region"),
        "contam": texts(df, "contamination"),
        "expl": texts(df, "explanation") if settings.popup_explanation else [None] * n,
        "v": [numbers(df, f"value_{c}", 3) for c in criteria],
        "c": [numbers(df, f"contrib_{c}", 3) for c in criteria],
        "ind": [
            numbers(df, c, 3, scale=indicator_label(c).get("scale", 1))
            for c in settings.popup_indicators
            if c in df.columns
        ],
        "method": texts(df, "method"),
        "cost": numbers(df, "cost_usd", 0),
        "year": numbers(df, "year", 0),
        "team": texts(df, "team"),
        "start": dates(df, "start"),
        "end": dates(df, "end"),
    }
    geoms = shapely.simplify(df.geometry.values, settings.simplify_m, preserve_topology=True)
    out["g"] = encode_polygons(to_wgs84(geoms, df.crs), settings.precision)
    centres = to_wgs84(shapely.point_on_surface(df.geometry.values), df.crs)
    out["cx"], out["cy"] = encode_points(centres, settings.precision) if n else ([], [])
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
        {
            "ix": ix,
            "iy": iy,
            "area": area,
            "high": cls == "high",
            "medium": cls == "medium",
            "low": cls == "low",
        }
    )
    agg = frame.groupby(["ix", "iy"], sort=True).agg(
        n=("area", "size"),
        area=("area", "sum"),
        high=("high", "sum"),
        medium=("medium", "sum"),
        low=("low", "sum"),
    )
    top = np.where(
        agg["high"] > 0, 0, np.where(agg["medium"] > 0, 1, np.where(agg["low"] > 0, 2, -1))
    )
    x0 = agg.index.get_level_values("ix").to_numpy() * cell
    y0 = agg.index.get_level_values("iy").to_numpy() * cell
    boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
    return {
        "n": agg["n"].astype(int).tolist(),
        "ha": [round(float(a) / 1e4, 1) for a in agg["area"]],
        "high": agg["high"].astype(int).tolist(),
        "medium": agg["medium"].astype(int).tolist(),
        "top": top.astype(int).tolist(),
        "g": encode_polygons(to_wgs84(boxes, rest.crs), settings.precision),
        "cellKm": cell / 1000,
    }


def _context_layers(context: Context | None, settings: MapSettings) -> list[tuple[str, Any]]:
    """The context layers the settings ask for and the context has, as the context holds them."""
    if context is None:
        return []
    out = []
    for name in settings.context_layers:
        gdf = getattr(context, name, None)
        if gdf is None or len(gdf) == 0:
            continue
        if gdf.crs is None:
            msg = (
                f"priority map: context layer '{name}' has no CRS; load it through "
                "ccm_geo so it is in the project's metric CRS"
            )
            raise InputError(msg)
        out.append((name, gdf))
    return out


def _context_json(context: Context | None, settings: MapSettings) -> str:
    """The context layers the settings ask for and the context has, packed as the page's
    JSON, each layer once per frame and kept (``publish.shared``): every donor's map and the
    priority map draw the same roads."""
    packing = (settings.precision, settings.context_simplify_m)
    parts = []
    for name, gdf in _context_layers(context, settings):
        make = functools.partial(_packed_layer, name, gdf, settings, packing)
        text = memo(gdf, ("web_context", name, *packing), make)
        parts.append(f"{_script_json(name)}:{text}")
    return "{" + ",".join(parts) + "}"


#: Raise when the packing of the road layer (``_encode_layer``, ``encode_lines``) changes
#: without a new tool version: files kept in a run's ``.ccm-cache`` are then made again.
_ROADS_FORMAT = 1


def _packed_layer(name: str, gdf: gpd.GeoDataFrame, settings: MapSettings, packing) -> str:
    """One layer's JSON; the road layer also kept in the run's cache folder
    (``shared.run_cache``), as it takes seconds nationally (the others well under one)."""

    def pack() -> str:
        return _script_json(_encode_layer(name, gdf, settings))

    if name != "roads":
        return pack()
    key = lambda: f"{frame_key(gdf, ('road_class',))}:{packing}:{_ROADS_FORMAT}"  # noqa: E731
    return cached_text("web-roads", key, pack)


def _encode_layer(name: str, raw: gpd.GeoDataFrame, settings: MapSettings) -> dict[str, Any]:
    """One context layer packed for the page (rows without geometry left out)."""
    gdf = raw[~(raw.geometry.isna() | raw.geometry.is_empty)]
    p = settings.precision
    if name == "admin":
        geoms = shapely.simplify(
            gdf.geometry.values, settings.context_simplify_m, preserve_topology=True
        )
        return {"g": encode_polygons(to_wgs84(geoms, gdf.crs), p), "label": texts(gdf, "region")}
    if name == "roads":
        geoms, labels = road_lines(raw)  # joined once per run, shared with the print map
        geoms = shapely.simplify(geoms, settings.context_simplify_m, preserve_topology=True)
        return {"g": encode_lines(to_wgs84(geoms, gdf.crs), p), "label": labels}
    pts = to_wgs84(gdf.geometry.representative_point().values, gdf.crs)
    x, y = encode_points(pts, p)
    layer: dict[str, Any] = {"x": x, "y": y}
    if name == "accidents":
        layer.update(
            id=texts(gdf, "accident_id"),
            date=dates(gdf, "date"),
            killed=numbers(gdf, "killed", 0),
            injured=numbers(gdf, "injured", 0),
            device=texts(gdf, "device_type"),
        )
    elif name == "settlements":
        layer.update(label=texts(gdf, "name"), pop=numbers(gdf, "population", 0))
    else:
        layer.update(label=texts(gdf, "name"))
    return layer


# --------------------------------------------------------------------------------- the page


def _render(payload: dict, *, context_json: str | None = None) -> str:
    """Assemble the folium page: inlined Leaflet, our CSS and script, no CDN links.

    ``context_json`` (the context layers' JSON) replaces the payload's ``context`` slot.
    """
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
    root.header.add_child(Element(f"<style>{_asset('map.css')}</style>"), name="ccm_css")
    root.header.add_child(Element(f"<script>{_leaflet_js()}</script>"), name="leaflet_js")

    data = _script_json(payload)
    if context_json is not None:
        # a key and its quotes: inside a JSON string every quote is escaped, so this is the key
        slot = f'"context":{_script_json(_CONTEXT_SLOT)},'
        data = data.replace(slot, f'"context":{context_json},', 1)
    script = _asset("map.js").replace("__MAP__", m.get_name()).replace("__DATA__", data)
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


@cache
def _asset(name: str) -> str:
    """Our own page script or stylesheet (``maps/assets``)."""
    return resources.files("ccm_geo.publish.maps").joinpath("assets", name).read_text("utf-8")
