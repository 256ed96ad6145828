"""Drawing on a page: areas (polygons or dots), lines, the locator, scale bar and north arrow."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle
from matplotlib.path import Path as MplPath
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from ccm_geo.publish import styles
from ccm_geo.publish.printmap.common import (
    _CLASSES,
    _DOT_PT,
    _HATCH_MAX,
    _RASTER_DOTS,
    _STATUS_STYLE,
)
from ccm_geo.publish.printmap.layers import _Layers
from ccm_geo.publish.printmap.paths import _compound_path
from ccm_geo.publish.settings import MapSettings


def _draw_areas(ax, areas, settings: MapSettings, pt_per_m: float) -> int:
    """Polygons by (class, status); areas too small on paper as dots. Returns the dot count."""
    if not len(areas):
        return 0
    cls = areas["priority_class"].astype(str).str.lower().where(lambda c: c.isin(_CLASSES), "")
    status = (
        areas["status"].astype(str)
        if "status" in areas.columns
        else pd.Series("CHA", index=areas.index)
    )
    status = status.where(status.isin(["SHA", "released"]), "CHA")  # unknown: solid
    x0, y0, x1, y1 = shapely.bounds(areas.geometry.values).T
    size_pt = np.maximum(x1 - x0, y1 - y0) * pt_per_m
    small = size_pt < _DOT_PT
    hatch = int((~small).sum()) <= _HATCH_MAX
    # tens of thousands of dots (a national sheet): one image under the vector layers above
    # them, at the page's resolution; each dot as a PDF/SVG marker costs more than the rest
    raster = int(small.sum()) > _RASTER_DOTS
    n_dots = 0
    for z, c in enumerate(("", "low", "medium", "high")):  # the high class on top
        colour = settings.palette.get(c, styles.UNCLASSIFIED)
        edge = styles.darker(colour)
        sel_c = (cls == c).to_numpy()
        for s, style in _STATUS_STYLE.items():
            sel = sel_c & (status == s).to_numpy() & ~small
            path = _compound_path(areas.geometry.values[sel])
            if path is not None:
                ax.add_collection(
                    PathCollection(
                        [path],
                        facecolor=colour,
                        edgecolor=edge,
                        linewidth=style["linewidth"],
                        linestyle=style["linestyle"],
                        hatch=style["hatch"] if hatch else None,
                        zorder=4 + z * 0.1,
                        gid="areas",
                    )
                )
        dots = sel_c & small
        if dots.any():
            pts = shapely.get_coordinates(shapely.point_on_surface(areas.geometry.values[dots]))
            ha = areas.geometry.values[dots].area / 1e4
            diam = np.clip(2.0 + 1.2 * np.log10(1 + ha), 2.0, 5.0) + (1.0 if c == "high" else 0)
            diam = np.round(diam * 2) / 2  # a few sizes: PDF/SVG store one marker per size
            for d in np.unique(diam):
                sel = diam == d
                # markers, not a scatter: the backends write one marker and its positions
                ax.plot(
                    pts[sel, 0],
                    pts[sel, 1],
                    ls="none",
                    marker="o",
                    markersize=float(d),
                    markerfacecolor=colour,
                    markeredgecolor=edge,
                    markeredgewidth=0.3,
                    zorder=4.5 + z * 0.1,
                    gid="area_dots",
                    rasterized=raster,
                )
            n_dots += int(dots.sum())
    return n_dots


def _draw_lines(ax, geoms, *, color: str, lw: float, z: int) -> None:
    """Lines as one path: one PDF/SVG element, however many segments a road graph has."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return
    parts = shapely.get_parts(geoms)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    if not len(parts):
        return
    # no simplification here: matplotlib simplifies the path to the output's resolution
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[np.r_[0, np.flatnonzero(np.diff(idx)) + 1]] = MplPath.MOVETO
    ax.add_collection(
        PathCollection(
            [MplPath(coords, codes)],
            facecolors="none",
            edgecolors=color,
            linewidths=lw,
            zorder=z,
        )
    )


def _locator(fig, layers: _Layers, extent) -> None:
    """A small map of the whole country (admin units, else all areas) with this map's frame."""
    loc = fig.add_axes((0.79, 0.05, 0.19, 0.24))
    loc.set_gid("locator")
    loc.set_xticks([])
    loc.set_yticks([])
    loc.set_aspect("equal")
    if layers.locator_paths is not None:
        loc.add_collection(
            PathCollection(
                layers.locator_paths, facecolor="#f0f0f0", edgecolor="#888888", linewidth=0.3
            )
        )
    elif layers.locator_points is not None:
        pts = layers.locator_points
        loc.scatter(pts[:, 0], pts[:, 1], s=0.3, c="#999999", linewidths=0)
    x0, y0, x1, y1 = layers.locator_bounds
    x0, y0 = min(x0, extent[0]), min(y0, extent[1])
    x1, y1 = max(x1, extent[2]), max(y1, extent[3])
    pad = max(x1 - x0, y1 - y0) * 0.05
    loc.set_xlim(x0 - pad, x1 + pad)
    loc.set_ylim(y0 - pad, y1 + pad)
    loc.add_patch(
        Rectangle(
            (extent[0], extent[1]),
            extent[2] - extent[0],
            extent[3] - extent[1],
            fill=False,
            edgecolor="#bd0026",
            linewidth=1.2,
        )
    )
    loc.set_title("Where this map lies", fontsize=7, loc="left")


def _scale_bar(ax, width_m: float):
    """A bar of a round length (1, 2 or 5 × 10^k m) about a fifth of the map's width."""
    target = max(width_m / 5, 1.0)
    k = 10 ** math.floor(math.log10(target))
    length = max(m * k for m in (1, 2, 5) if m * k <= target)
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        label,
        "lower left",
        pad=0.6,
        borderpad=0.8,
        sep=4,
        frameon=True,
        size_vertical=width_m / 250,
        color="black",
        fontproperties={"size": 8},
    )
    bar.patch.set_alpha(0.85)
    bar.set_gid("scale_bar")
    ax.add_artist(bar)
    return bar


def _north_arrow(ax):
    """An arrow and N at the top right (grid north of the metric CRS)."""
    ann = ax.annotate(
        "N",
        xy=(0.955, 0.95),
        xytext=(0.955, 0.84),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="top",
        fontsize=11,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 11, "headlength": 10},
        zorder=7,
    )
    ann.set_gid("north_arrow")
    return ann
