"""QGIS styles (QML) stored in the GeoPackages we write, so layers open already coloured."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

__all__ = ["hazard_style", "categorized_qml", "STATUS_COLOURS", "PRIORITY_COLOURS"]

# Colour-blind-safe (ColorBrewer YlOrRd / Greys); SHA drawn dashed, CHA solid.
STATUS_COLOURS = {
    "CHA": ("#d7301f", "solid"),
    "SHA": ("#fdbb84", "dash"),
    "released": ("#d9d9d9", "dot"),
}
PRIORITY_COLOURS = {
    "high": ("#b30000", "solid"),
    "medium": ("#fc8d59", "solid"),
    "low": ("#fef0d9", "solid"),
}


def hazard_style(field: str = "status") -> str:
    """The QML for hazard areas, categorised by ``status`` or ``priority_class``."""
    table = STATUS_COLOURS if field == "status" else PRIORITY_COLOURS
    return categorized_qml(field, [(k, k, c, s) for k, (c, s) in table.items()])


def categorized_qml(field: str, categories: list[tuple[str, str, str, str]]) -> str:
    """A QGIS categorised fill renderer.

    Parameters
    ----------
    field
        The attribute the categories are read from.
    categories
        ``(value, label, '#rrggbb' fill colour, outline style)`` for each category; outline
        style is a QGIS pen style: ``solid``, ``dash``, ``dot``.
    """
    cats = "\n".join(
        f'      <category render="true" symbol="{i}" value={quoteattr(v)} label={quoteattr(lab)}/>'
        for i, (v, lab, _c, _s) in enumerate(categories)
    )
    symbols = "\n".join(
        _fill_symbol(str(i), colour, style) for i, (_v, _l, colour, style) in enumerate(categories)
    )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="Symbology">
  <renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0"
               forceraster="0" enableorderby="0">
    <categories>
{cats}
    </categories>
    <symbols>
{symbols}
    </symbols>
  </renderer-v2>
</qgis>
"""


def _rgba(colour: str, alpha: int = 255) -> str:
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha}"


def _fill_symbol(name: str, colour: str, outline_style: str) -> str:
    return f"""      <symbol type="fill" name="{name}" alpha="0.8" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="{_rgba(colour)}"/>
            <Option type="QString" name="outline_color" value="60,60,60,255"/>
            <Option type="QString" name="outline_style" value="{outline_style}"/>
            <Option type="QString" name="outline_width" value="0.5"/>
            <Option type="QString" name="outline_width_unit" value="MM"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>"""
