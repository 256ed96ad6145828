"""Print maps: a static priority map (matplotlib, Agg) for PNG and PDF reports."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.path import Path as MplPath
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from ccm_geo.errors import InputError
from ccm_geo.io import atomic_output
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = ["print_map", "save_figure", "FORMATS"]

logger = logging.getLogger(__name__)

#: File formats ``save_figure`` writes, by suffix.
FORMATS = {".png": "png", ".pdf": "pdf"}

_CLASSES = ("high", "medium", "low")
#: Status drawn without relying on colour: hatch and edge style survive greyscale printing.
_STATUS_STYLE = {
    "CHA": {"hatch": None, "linestyle": "solid", "linewidth": 0.8},
    "SHA": {"hatch": "////", "linestyle": (0, (3, 2)), "linewidth": 0.8},
    "released": {"hatch": "..", "linestyle": (0, (1, 2)), "linewidth": 0.6},
}


def print_map(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
    top_n: int | None = None,
) -> Figure:
    """Draw the priority map for print: classes, status, context, labels, legend, scale, north.

    Parameters
    ----------
    areas
        Scored hazardous areas in a metric CRS (units: metres) with ``hazard_id``, ``rank``,
        ``priority_class`` and, when present, ``status``.
    context
        Context layers; the admin boundaries and roads are drawn when present.
    settings
        The [maps] settings: palette, figure size (inches), resolution (dpi).
    title
        The map's title (shown as text, never parsed as math).
    top_n
        How many of the top-ranked areas to label by ``hazard_id``; default
        ``settings.label_top_n`` (10).

    Returns
    -------
    matplotlib.figure.Figure
        A figure on the Agg canvas (no screen needed). Its artists carry the gids
        ``"scale_bar"`` and ``"north_arrow"``; pass it to :func:`save_figure`.

    Raises
    ------
    InputError
        When columns are missing or the CRS is not metric.
    """
    _check(areas)
    top_n = settings.label_top_n if top_n is None else top_n
    fig = Figure(figsize=settings.print_size_in, dpi=settings.print_dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.05, 0.76, 0.86))
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    xmin, ymin, xmax, ymax = _extent(areas, context)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)

    handles = []
    if context is not None and context.admin is not None and len(context.admin):
        _draw_lines(ax, context.admin.geometry.boundary.values, color="#444444", lw=1.2, z=3)
        handles.append(Line2D([], [], color="#444444", lw=1.2, label="admin boundary"))
    if context is not None and context.roads is not None and len(context.roads):
        _draw_lines(ax, context.roads.geometry.values, color="#8a8a8a", lw=0.8, z=2)
        handles.append(Line2D([], [], color="#8a8a8a", lw=0.8, label="road"))

    _draw_areas(ax, areas, settings)
    counts = areas["priority_class"].astype(str).str.lower().value_counts()
    handles = (
        [
            Patch(
                facecolor=settings.palette[c],
                edgecolor="#222222",
                label=f"{c} priority ({int(counts.get(c, 0)):,})",
            )
            for c in _CLASSES
        ]
        + [
            Patch(
                facecolor="white",
                edgecolor="#222222",
                label=f"{s} ({_STATUS_LABEL[s]})",
                hatch=st["hatch"],
                linestyle=st["linestyle"],
            )
            for s, st in _STATUS_STYLE.items()
            if "status" in areas.columns and (areas["status"] == s).any()
        ]
        + handles
    )
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title="Hazardous areas",
        title_fontsize=9,
        alignment="left",
    )

    _label_top(ax, areas, top_n)
    _scale_bar(ax, xmax - xmin)
    _north_arrow(ax)
    ax.set_title(title, fontsize=13, loc="left", parse_math=False)
    fig.text(
        0.02,
        0.015,
        f"{len(areas):,} hazardous areas; the top {min(top_n, len(areas))} "
        f"by rank labelled. CRS: {areas.crs.to_string()}",
        fontsize=7,
        color="#444444",
        parse_math=False,
    )
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure to PNG or PDF (by suffix) atomically and return the path.

    Raises
    ------
    InputError
        When the suffix is not ``.png`` or ``.pdf``.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = (
            f"cannot write a print map to {path}: the suffix {path.suffix!r} is not one of "
            f"{sorted(FORMATS)}; name the file .png or .pdf"
        )
        raise InputError(msg)
    metadata = {"Software": None} if fmt == "png" else {"CreationDate": None, "Producer": None}
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=fig.dpi, metadata=metadata)
    return path


# --------------------------------------------------------------------------------- helpers

_STATUS_LABEL = {
    "CHA": "confirmed, solid",
    "SHA": "suspected, hatched",
    "released": "released, dotted",
}


def _check(areas: gpd.GeoDataFrame) -> None:
    missing = [
        c for c in ("hazard_id", "geometry", "rank", "priority_class") if c not in areas.columns
    ]
    if missing:
        msg = f"print map: the areas lack columns {missing}; run the scoring stage first"
        raise InputError(msg)
    if areas.crs is None or not areas.crs.is_projected:
        msg = (
            f"print map: the areas' CRS {areas.crs} is not a projected (metric) CRS; "
            "reproject to the project's metric CRS (GeoDataFrame.to_crs)"
        )
        raise InputError(msg)


def _extent(areas, context) -> tuple[float, float, float, float]:
    src = areas if len(areas) else (context.admin if context is not None else None)
    if src is None or len(src) == 0:
        return (0.0, 0.0, 1000.0, 1000.0)
    x0, y0, x1, y1 = src.total_bounds
    pad = max(x1 - x0, y1 - y0, 500.0) * 0.06
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _draw_areas(ax, areas, settings: MapSettings) -> None:
    """One collection per (class, status): colour for class, hatch and dashes for status."""
    cls = areas["priority_class"].astype(str).str.lower().where(lambda c: c.isin(_CLASSES), "")
    status = areas["status"].astype(str) if "status" in areas.columns else cls.map(lambda _: "CHA")
    status = status.where(status.isin(["SHA", "released"]), "CHA")  # unknown: solid
    for c in (*_CLASSES, ""):
        colour = settings.palette.get(c, "#bdbdbd")
        for s, style in _STATUS_STYLE.items():
            sel = ((cls == c) & (status == s)).to_numpy()
            paths = _polygon_paths(areas.geometry.values[sel])
            if not paths:
                continue
            ax.add_collection(
                PathCollection(
                    paths,
                    facecolor=colour,
                    edgecolor="#222222",
                    linewidth=style["linewidth"],
                    linestyle=style["linestyle"],
                    hatch=style["hatch"],
                    zorder=4,
                )
            )


def _polygon_paths(geoms) -> list[MplPath]:
    """Matplotlib paths (holes included) of polygonal geometries."""
    out = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        verts, codes = [], []
        for part in shapely.get_parts(g):
            if part.geom_type != "Polygon":
                continue
            for ring in (part.exterior, *part.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                if len(xy) < 3:
                    continue
                verts.append(xy)
                c = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
                c[0], c[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
                codes.append(c)
        if verts:
            out.append(MplPath(np.concatenate(verts), np.concatenate(codes)))
    return out


def _draw_lines(ax, geoms, *, color: str, lw: float, z: int) -> None:
    segs = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        for part in shapely.get_parts(g):
            if part.geom_type in ("LineString", "LinearRing"):
                segs.append(np.asarray(part.coords)[:, :2])
    if segs:
        ax.add_collection(LineCollection(segs, colors=color, linewidths=lw, zorder=z))


def _label_top(ax, areas, top_n: int) -> None:
    if top_n <= 0 or not len(areas):
        return
    top = (
        areas.assign(_r=areas["rank"], _id=areas["hazard_id"].astype(str))
        .sort_values(["_r", "_id"], kind="stable")
        .head(top_n)
    )
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for hid, pt in zip(top["_id"], top.geometry.representative_point(), strict=True):
        ax.text(
            pt.x,
            pt.y,
            hid,
            fontsize=7,
            ha="center",
            va="center",
            zorder=6,
            path_effects=halo,
            parse_math=False,
            clip_on=True,
        )


def _scale_bar(ax, width_m: float) -> None:
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


def _north_arrow(ax) -> None:
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
