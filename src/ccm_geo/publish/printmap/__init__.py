"""Print maps: the priority map for reports (matplotlib, Agg) as PNG, PDF and SVG.

One page shows the whole register with admin boundaries, roads, village names and a locator;
areas too small to see at the page's scale are drawn as dots (one collection per class, so a
national register draws and saves in seconds). Labels are placed by a greedy search over
candidate positions around each anchor: a label is drawn only where its box meets no other
label, the scale bar or the north arrow, so no two labels overlap. When one page cannot hold
the register legibly, :func:`print_sheets` adds one sheet per region.

The package holds a module per concern: ``page`` (the page), ``sheets`` (region sheets),
``layers`` (context prepared once), ``draw`` (areas, lines, locator, scale bar, north arrow),
``paths`` (polygons as paths), ``labels`` (placement) and ``save`` (writing).
"""

from ccm_geo.publish.printmap.common import FORMATS
from ccm_geo.publish.printmap.layers import _Layers
from ccm_geo.publish.printmap.page import print_map
from ccm_geo.publish.printmap.paths import _polygon_paths
from ccm_geo.publish.printmap.save import save_figure, save_sheets
from ccm_geo.publish.printmap.sheets import _sheet_groups, has_sheets, iter_sheets, print_sheets

__all__ = [
    "print_map",
    "print_sheets",
    "iter_sheets",
    "has_sheets",
    "save_figure",
    "save_sheets",
    "FORMATS",
    "_Layers",
    "_polygon_paths",
    "_sheet_groups",
]
