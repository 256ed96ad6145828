"""Class tables of the standard global land-cover products, selectable by name.

``[inputs.landcover] classes = "worldcover"`` gives the raster values of ESA WorldCover their
class names; the names are those the default criteria and scoring read (``cropland``,
``paddy``, ``settlement``, ``pasture``, ...). A product that does not separate paddy from
other cropland lists ``paddy`` under the value :data:`NOT_SEPARATED` (no pixel has it), so that
``landuse_frac_paddy`` is 0 (no land is classed paddy: its paddies count in ``cropland``) and
the default "cropland or paddy" criterion reads the whole cropland share.
"""

from __future__ import annotations

from ccm_geo.model import LANDCOVER_CLASSES

__all__ = ["NOT_SEPARATED", "LANDCOVER_TABLES", "landcover_table"]

#: Raster value given to a class the product does not separate (no pixel ever has it).
NOT_SEPARATED = -1

_WORLDCOVER = {
    # ESA WorldCover 10 m (2020 v100, 2021 v200), Map band; 0 is no data
    10: "forest",  # tree cover
    20: "shrub",  # shrubland
    30: "grassland",
    40: "cropland",  # includes paddy fields
    50: "settlement",  # built-up
    60: "bare",  # bare / sparse vegetation
    70: "snow",  # snow and ice
    80: "water",  # permanent water bodies
    90: "wetland",  # herbaceous wetland
    95: "mangrove",
    100: "moss",  # moss and lichen
    NOT_SEPARATED: "paddy",
}

_MODIS_IGBP = {
    # MODIS MCD12Q1 LC_Type1 (IGBP); 255 is no data
    1: "forest",  # evergreen needleleaf
    2: "forest",  # evergreen broadleaf
    3: "forest",  # deciduous needleleaf
    4: "forest",  # deciduous broadleaf
    5: "forest",  # mixed forests
    6: "shrub",  # closed shrublands
    7: "shrub",  # open shrublands
    8: "savanna",  # woody savannas
    9: "savanna",
    10: "grassland",
    11: "wetland",  # permanent wetlands
    12: "cropland",
    13: "settlement",  # urban and built-up
    14: "cropland_mosaic",  # cropland / natural vegetation mosaics
    15: "snow",  # permanent snow and ice
    16: "bare",  # barren
    17: "water",
    NOT_SEPARATED: "paddy",
}

_COPERNICUS = {
    # Copernicus Global Land Service LC100 (v3), discrete classification; 0 and 255 no data
    20: "shrub",
    30: "grassland",  # herbaceous vegetation
    40: "cropland",  # cultivated and managed vegetation / agriculture
    50: "settlement",  # urban / built up
    60: "bare",  # bare / sparse vegetation
    70: "snow",
    80: "water",  # permanent water bodies
    90: "wetland",  # herbaceous wetland
    100: "moss",  # moss and lichen
    **dict.fromkeys((111, 112, 113, 114, 115, 116), "forest"),  # closed forest
    **dict.fromkeys((121, 122, 123, 124, 125, 126), "forest"),  # open forest
    200: "water",  # oceans, seas
    NOT_SEPARATED: "paddy",
}

#: Named class tables: raster value -> class name.
LANDCOVER_TABLES: dict[str, dict[int, str]] = {
    "standard": dict(LANDCOVER_CLASSES),
    "worldcover": _WORLDCOVER,
    "modis_igbp": _MODIS_IGBP,
    "copernicus": _COPERNICUS,
}

_ALIASES = {
    "esa_worldcover": "worldcover",
    "igbp": "modis_igbp",
    "modis": "modis_igbp",
    "mcd12q1": "modis_igbp",
    "cgls": "copernicus",
    "cgls_lc100": "copernicus",
    "copernicus_lc100": "copernicus",
}


def landcover_table(name: str) -> dict[int, str]:
    """The class table of a product by name (``worldcover``, ``modis_igbp``, ``copernicus``,
    ``standard``); a ValueError naming the known ones otherwise."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in LANDCOVER_TABLES:
        known = ", ".join(sorted(LANDCOVER_TABLES))
        msg = (
            f"inputs.landcover.classes = {name!r}: not a known class table; use one of "
            f'{known}, or give the table itself, e.g. {{ 1 = "forest", 2 = "cropland" }}'
        )
        raise ValueError(msg)
    return dict(LANDCOVER_TABLES[key])
