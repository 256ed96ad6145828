"""Maps that read at every scale: the interactive page, its basemap, its views and labels.

- :mod:`.page`: :func:`priority_map` (one offline HTML file) and :func:`embed_fragment`;
- :mod:`.encode`: columns and geometry packed for the page;
- :mod:`.labels`: column names in words, with units;
- :mod:`.tiles`: a local MBTiles/PMTiles basemap, inlined;
- :mod:`.views`: extents, and views zoomed to a set of regions (:func:`region_views`).

The print map is :mod:`ccm_geo.publish.printmap`; the palette is :mod:`ccm_geo.publish.styles`.
"""

from ccm_geo.publish.maps.page import (
    MAP_NAME,
    NO_ROUTE_MIN,
    PRIORITY_CLASSES,
    REQUIRED_COLUMNS,
    embed_fragment,
    priority_map,
)
from ccm_geo.publish.maps.tiles import extract_tiles
from ccm_geo.publish.maps.views import View, region_views

__all__ = [
    "priority_map",
    "embed_fragment",
    "region_views",
    "extract_tiles",
    "View",
    "REQUIRED_COLUMNS",
    "PRIORITY_CLASSES",
    "MAP_NAME",
    "NO_ROUTE_MIN",
]
