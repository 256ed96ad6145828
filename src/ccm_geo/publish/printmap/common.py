"""Constants the print maps share: formats, the classes and the status styles, label offsets."""

from __future__ import annotations

import math

import numpy as np

#: File formats ``save_figure`` writes, by suffix.
FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}

_CLASSES = ("high", "medium", "low")
#: Status drawn without relying on colour: hatch and edge style survive greyscale printing.
_STATUS_STYLE = {
    "CHA": {"hatch": None, "linestyle": "solid", "linewidth": 0.6},
    "SHA": {"hatch": "////", "linestyle": (0, (3, 2)), "linewidth": 0.6},
    "released": {"hatch": "..", "linestyle": (0, (1, 2)), "linewidth": 0.5},
}
_MAP_BOX = (0.02, 0.05, 0.74, 0.86)  # the map's axes, figure fraction
_DOT_PT = 2.5  # an area narrower than this on paper (points) is drawn as a dot
_HATCH_MAX = 3000  # more polygons than this: dashes only, no hatching (PDF/SVG size)
#: More dots than this on a page: they are drawn as one image at the page's dpi in PDF and
#: SVG (a national sheet holds tens of thousands, each a marker of its own otherwise)
_RASTER_DOTS = 5000


_STATUS_LABEL = {
    "CHA": "confirmed, solid",
    "SHA": "suspected, hatched",
    "released": "released, dotted",
}
# Candidate label offsets (points) around the anchor, nearest first.
_OFFSETS = tuple(
    (round(r * math.cos(a), 1), round(r * math.sin(a), 1))
    for r in (6, 14, 24, 36)
    for a in np.radians([45, 135, -45, -135, 0, 180, 90, -90])
)
