"""Where a map looks: the extent of its areas, and views zoomed to a set of regions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = ["View", "region_views", "show_views", "to_latlng_bounds", "data_bounds", "fit_aspect"]


#: Regions smaller than this (m) are treated as this big when judging whether two are near.
_MIN_SIZE_M = 10_000.0


@dataclass(frozen=True)
class View:
    """A map view: a label (the regions it shows) and its extent in the metric CRS (m)."""

    label: str
    bounds: tuple[float, float, float, float]
    regions: tuple[str, ...]


def region_views(
    focus: gpd.GeoDataFrame,
    context: Context | None = None,
    *,
    by: str = "region",
    pad: float = 0.25,
    far: float = 1.0,
) -> list[View]:
    """Views zoomed to the regions of ``focus``: one per group of neighbouring regions.

    Each region's extent is that of its admin unit (when the context's admin layer names
    it), else of its areas. Regions whose extents lie closer than ``far`` times the larger
    extent's size (at least 10 km) are shown together; far-apart regions each get their own
    view. Every view is widened by ``pad`` (a fraction of its size, at least 2 km) so
    neighbouring context shows around it.

    Parameters
    ----------
    focus
        The areas to show (e.g. a donor's package), in a metric CRS.
    context
        Its ``admin`` layer (column ``region``) gives the regions' extents.
    by
        The column naming each area's region; without it all areas form one view.
    pad, far
        Widening of each view, and the distance (in view sizes) beyond which regions are
        shown apart.

    Returns
    -------
    list of View
        Largest first (by number of areas), ties by label. Empty when ``focus`` has no
        geometry.
    """
    keep = ~(focus.geometry.isna() | focus.geometry.is_empty)
    focus = focus[keep]
    if not len(focus):
        return []
    names = (
        focus[by].astype(str).where(focus[by].notna(), "")
        if by in focus.columns
        else np.full(len(focus), "", dtype=object)
    )
    groups: list[dict] = []
    admin = None
    if context is not None and context.admin is not None and "region" in context.admin:
        admin = context.admin.to_crs(focus.crs) if context.admin.crs != focus.crs else context.admin
    for name in sorted(set(names)):
        sel = focus[np.asarray(names) == name]
        b = sel.total_bounds
        if admin is not None and name:
            unit = admin[admin["region"].astype(str) == name]
            if len(unit):
                b = unit.total_bounds
        groups.append({"regions": [name] if name else [], "bounds": tuple(b), "n": len(sel)})
    merged = True
    while merged and len(groups) > 1:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _near(groups[i]["bounds"], groups[j]["bounds"], far):
                    a, b = groups[i], groups.pop(j)
                    a["regions"] += b["regions"]
                    a["n"] += b["n"]
                    a["bounds"] = _union(a["bounds"], b["bounds"])
                    merged = True
                    break
            if merged:
                break
    views = []
    for g in groups:
        x0, y0, x1, y1 = g["bounds"]
        p = max(x1 - x0, y1 - y0, 2000.0 / max(pad, 1e-9)) * pad
        label = ", ".join(sorted(g["regions"])) or "all areas"
        views.append(
            (g["n"], View(label, (x0 - p, y0 - p, x1 + p, y1 + p), tuple(sorted(g["regions"]))))
        )
    views.sort(key=lambda t: (-t[0], t[1].label))
    return [v for _, v in views]


def to_latlng_bounds(bounds: tuple[float, float, float, float], crs) -> list[list[float]] | None:
    """Metric ``(xmin, ymin, xmax, ymax)`` as Leaflet's ``[[south, west], [north, east]]``."""
    from pyproj import Transformer

    t = Transformer.from_crs(crs, 4326, always_xy=True)
    x0, y0, x1, y1 = bounds
    xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2, (x0 + x1) / 2])
    ys = np.array([y0, y0, y1, y1, y0, y1])
    lon, lat = t.transform(xs, ys)
    w, e, s, n = float(np.min(lon)), float(np.max(lon)), float(np.min(lat)), float(np.max(lat))
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        return None
    return [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]


def data_bounds(areas: gpd.GeoDataFrame, context: Context | None) -> list[list[float]] | None:
    """[[south, west], [north, east]] of the areas (else of the admin layer), in degrees."""
    src = areas
    if (len(areas) == 0 or areas.geometry.is_empty.all()) and context is not None:
        src = context.admin if context.admin is not None else areas
    if len(src) == 0 or src.geometry.is_empty.all():
        return None
    # the geometry alone: reprojecting the frame would copy every column too
    w, s, e, n = src.geometry.to_crs(4326).total_bounds
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        return None
    return [[round(s, 6), round(w, 6)], [round(n, 6), round(e, 6)]]


def fit_aspect(
    bounds: tuple[float, float, float, float], aspect: float
) -> tuple[float, float, float, float]:
    """``bounds`` widened (never cut) to a width/height ratio of ``aspect``, same centre."""
    x0, y0, x1, y1 = bounds
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _near(a, b, far: float) -> bool:
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], _MIN_SIZE_M)
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return math.hypot(dx, dy) <= far * size


def _union(a, b):
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def show_views(ax, views: list[View], *, max_insets: int = 3) -> list:
    """Zoom a drawn map to ``views``: the axes to the first, an inset (top right) per further view.

    The insets repeat what is drawn on ``ax`` (its collections and texts) at their own
    extent, so regions far apart each show at a readable scale on one figure. Call it after
    drawing and before adding a scale bar (which then measures the main view).

    Parameters
    ----------
    ax
        A matplotlib axes with the map drawn in the views' CRS.
    views
        From :func:`region_views`; nothing changes when empty.
    max_insets
        Most insets added (the smaller groups beyond are left to the main view's context).

    Returns
    -------
    list
        The inset axes added.
    """
    from matplotlib.collections import LineCollection, PathCollection

    if not views:
        return []
    x0, y0, x1, y1 = views[0].bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    insets = []
    n = min(len(views) - 1, max_insets)
    for k, view in enumerate(views[1 : 1 + n]):
        size = 0.3
        inset = ax.inset_axes((1 - (k + 1) * (size + 0.02), 0.98 - size, size, size))
        for coll in ax.collections:
            if isinstance(coll, LineCollection):
                copy = LineCollection(
                    coll.get_segments(), colors=coll.get_color(), linewidths=coll.get_linewidth()
                )
            else:
                copy = PathCollection(
                    coll.get_paths(),
                    facecolors=coll.get_facecolor(),
                    edgecolors=coll.get_edgecolor(),
                    linewidths=coll.get_linewidth(),
                )
            inset.add_collection(copy)
        for t in ax.texts:
            inset.text(
                *t.get_position(),
                t.get_text(),
                fontsize=5,
                ha="center",
                va="center",
                parse_math=False,
                clip_on=True,
            )
        bx0, by0, bx1, by1 = fit_aspect(view.bounds, 1.0)  # the inset is square
        inset.set_xlim(bx0, bx1)
        inset.set_ylim(by0, by1)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        inset.set_title(view.label, fontsize=6, loc="left")
        insets.append(inset)
    return insets
