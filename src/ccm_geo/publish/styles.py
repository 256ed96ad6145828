"""The one palette of every map, and the QGIS styles (QML) stored in the GeoPackages we write.

The web map, the print map, the funding requests and the QGIS styles all read their colours
from here, so a class looks the same everywhere. ``MapSettings`` takes its defaults from these
tables; a project can override them in ``[maps]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import quoteattr

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "PRIORITY_PALETTE",
    "VALUE_PALETTE",
    "PLAN_PALETTE",
    "DONOR_PALETTE",
    "CONTEXT_COLOURS",
    "UNCLASSIFIED",
    "BACKGROUND",
    "STATUS_COLOURS",
    "PRIORITY_COLOURS",
    "darker",
    "hazard_style",
    "categorized_qml",
    "layer_style",
    "default_styles",
]

#: Fill colour per priority class: ColorBrewer YlOrRd, 3 classes (colour-blind safe, ordered
#: in greyscale). Outlines are a darker shade of the fill (see :func:`darker`), so the light
#: "low" class keeps a visible edge on a white page or background.
PRIORITY_PALETTE = {"high": "#bd0026", "medium": "#fd8d3c", "low": "#ffeda0"}
#: Criterion layers: the 0-1 value cut into equal bins (viridis, 5 bins).
VALUE_PALETTE = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
#: Work-plan years, first year first (ColorBrewer Blues, dark to light).
PLAN_PALETTE = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef")
#: Donors side by side (ColorBrewer Dark2).
DONOR_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
#: Areas without a class.
UNCLASSIFIED = "#bdbdbd"
#: Map background without tiles: a light grey on which the light "low" class still shows.
BACKGROUND = "#e4e7eb"
#: Context layers: line or marker colour.
CONTEXT_COLOURS = {
    "admin": "#4d4d4d",
    "roads": "#8c8c8c",
    "settlements": "#222222",
    "health": "#2171b5",
    "accidents": "#54278f",
}
#: QGIS: status (colour, outline style). SHA dashed, CHA solid, released dotted.
STATUS_COLOURS = {
    "CHA": ("#d7301f", "solid"),
    "SHA": ("#fdbb84", "dash"),
    "released": ("#d9d9d9", "dot"),
}
#: QGIS: priority class (colour, outline style), from :data:`PRIORITY_PALETTE`.
PRIORITY_COLOURS = {k: (c, "solid") for k, c in PRIORITY_PALETTE.items()}


def darker(colour: str, factor: float = 0.55) -> str:
    """``colour`` ('#rrggbb') with each channel multiplied by ``factor`` (0-1): its outline."""
    c = colour.lstrip("#")
    rgb = [int(c[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{max(0, min(255, round(v * factor))):02x}" for v in rgb)


def hazard_style(field: str = "status", *, label: str | None = "hazard_id") -> str:
    """The QML for hazard areas, categorised by ``status`` or ``priority_class``, labelled.

    Parameters
    ----------
    field
        ``"status"`` or ``"priority_class"``.
    label
        The field shown as a label (from 1:250,000 down), or None for no labels.
    """
    table = STATUS_COLOURS if field == "status" else PRIORITY_COLOURS
    return categorized_qml(field, [(k, k, c, s) for k, (c, s) in table.items()], label=label)


def categorized_qml(
    field: str,
    categories: list[tuple[str, str, str, str]],
    *,
    label: str | None = None,
    geometry: str = "fill",
) -> str:
    """A QGIS categorised renderer, with an optional label.

    Parameters
    ----------
    field
        The attribute the categories are read from.
    categories
        ``(value, label, '#rrggbb' colour, outline style)`` for each category; outline
        style is a QGIS pen style: ``solid``, ``dash``, ``dot``.
    label
        The attribute shown as a label, or None.
    geometry
        ``"fill"`` (polygons), ``"line"`` or ``"marker"`` (points).
    """
    cats = "\n".join(
        f'      <category render="true" symbol="{i}" value={quoteattr(v)} label={quoteattr(lab)}/>'
        for i, (v, lab, _c, _s) in enumerate(categories)
    )
    symbols = "\n".join(
        _symbol(geometry, str(i), colour, style)
        for i, (_v, _l, colour, style) in enumerate(categories)
    )
    renderer = f"""  <renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0"
               forceraster="0" enableorderby="0">
    <categories>
{cats}
    </categories>
    <symbols>
{symbols}
    </symbols>
  </renderer-v2>"""
    return _qml(renderer, label)


def single_qml(colour: str, *, geometry: str = "fill", label: str | None = None) -> str:
    """A QGIS single-symbol renderer (context layers), with an optional label."""
    sym = _symbol(geometry, "0", colour, "solid")
    renderer = f"""  <renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0">
    <symbols>
{sym}
    </symbols>
  </renderer-v2>"""
    return _qml(renderer, label)


def layer_style(name: str, gdf: gpd.GeoDataFrame) -> str | None:
    """The default QML of a layer we write, chosen from its name and columns (None: no style).

    Hazard layers (``hazards``, ``areas``, ``tasks``) are coloured by ``priority_class`` when
    they have one, else by plan ``year`` (tasks), else by ``status``, and labelled by
    ``task_id`` or ``hazard_id``. Context layers (admin, roads, settlements, health, accidents)
    get their map colour and a label (region, road class, name).
    """
    cols = set(gdf.columns)
    geom = _geometry_kind(gdf)
    if geom is None:
        return None
    label = next((c for c in ("task_id", "hazard_id") if c in cols), None)
    if geom == "fill" and "priority_class" in cols:
        return hazard_style("priority_class", label=label)
    if "year" in cols and label is not None:
        import pandas as pd

        years = sorted({int(y) for y in pd.to_numeric(gdf["year"], errors="coerce").dropna()})
        cats = [
            (str(y), str(y), PLAN_PALETTE[k % len(PLAN_PALETTE)], "solid")
            for k, y in enumerate(years)
        ]
        return categorized_qml("year", cats, label=label, geometry=geom)
    if geom == "fill" and "status" in cols:
        return hazard_style("status", label=label)
    colour = "#ffffff" if name == "settlements" else CONTEXT_COLOURS.get(name)  # as on the map
    if name == "admin" or (geom == "fill" and "region" in cols and label is None):
        return single_qml(CONTEXT_COLOURS["admin"], geometry="outline", label="region")
    text = next((c for c in ("name", "road_class", "accident_id", "region") if c in cols), None)
    return single_qml(colour or CONTEXT_COLOURS["roads"], geometry=geom, label=text or label)


def default_styles(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, str]:
    """:func:`layer_style` of every layer that has one: what ``io.write_gpkg`` stores."""
    out = {}
    for name, gdf in layers.items():
        qml = layer_style(name, gdf)
        if qml is not None:
            out[name] = qml
    return out


# --------------------------------------------------------------------------------- helpers


def _qml(renderer: str, label: str | None) -> str:
    labeling = _labeling(label) if label else ""
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology|Labeling">
{renderer}
{labeling}</qgis>
"""


def _labeling(field: str) -> str:
    """Simple labels of ``field`` with a white buffer, shown from 1:250,000 down."""
    return f"""  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName={quoteattr(field)} isExpression="0" fontSize="8" fontSizeUnit="Point"
                  textColor="20,20,20,255" fontFamily="Sans Serif">
        <text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM"
                     bufferColor="255,255,255,230"/>
      </text-style>
      <placement placement="0" dist="1" distUnits="MM" priority="5"/>
      <rendering scaleVisibility="1" scaleMin="1" scaleMax="250000" obstacle="1"
                 displayAll="0" upsidedownLabels="0" labelPerPart="0"/>
    </settings>
  </labeling>
"""


def _geometry_kind(gdf) -> str | None:
    if getattr(gdf, "geometry", None) is None or not len(gdf):
        return None
    try:
        types = set(gdf.geometry.geom_type.dropna())
    except AttributeError:
        return None
    if types <= {"Polygon", "MultiPolygon"}:
        return "fill"
    if types <= {"LineString", "MultiLineString"}:
        return "line"
    if types <= {"Point", "MultiPoint"}:
        return "marker"
    return None


def _rgba(colour: str, alpha: int = 255) -> str:
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha}"


def _symbol(kind: str, name: str, colour: str, outline_style: str) -> str:
    if kind == "line":
        return f"""      <symbol type="line" name="{name}" alpha="1" clip_to_extent="1">
        <layer class="SimpleLine" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="line_color" value="{_rgba(colour)}"/>
            <Option type="QString" name="line_width" value="0.35"/>
            <Option type="QString" name="line_width_unit" value="MM"/>
          </Option>
        </layer>
      </symbol>"""
    if kind == "marker":
        return f"""      <symbol type="marker" name="{name}" alpha="1" clip_to_extent="1">
        <layer class="SimpleMarker" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{_rgba(colour)}"/>
            <Option type="QString" name="outline_color" value="{_rgba(darker(colour))}"/>
            <Option type="QString" name="name" value="circle"/>
            <Option type="QString" name="size" value="2"/>
            <Option type="QString" name="size_unit" value="MM"/>
          </Option>
        </layer>
      </symbol>"""
    fill_style = "no" if kind == "outline" else "solid"
    outline = colour if kind == "outline" else darker(colour)
    width = "0.5" if kind == "outline" else "0.26"
    return f"""      <symbol type="fill" name="{name}" alpha="0.85" clip_to_extent="1">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{_rgba(colour)}"/>
            <Option type="QString" name="outline_color" value="{_rgba(outline)}"/>
            <Option type="QString" name="outline_style" value="{outline_style}"/>
            <Option type="QString" name="outline_width" value="{width}"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="style" value="{fill_style}"/>
          </Option>
        </layer>
      </symbol>"""
