"""Print maps: the priority map for reports (matplotlib, Agg) as PNG, PDF and SVG.

One page shows the whole register with admin boundaries, roads, village names and a locator;
areas too small to see at the page's scale are drawn as dots (one collection per class, so a
national register draws and saves in seconds). Labels are placed by a greedy search over
candidate positions around each anchor: a label is drawn only where its box meets no other
label, the scale bar or the north arrow, so no two labels overlap. When one page cannot hold
the register legibly, :func:`print_sheets` adds one sheet per region.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
import shapely
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MplPath
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from ccm_geo.errors import InputError
from ccm_geo.io import atomic_output
from ccm_geo.publish import styles
from ccm_geo.publish.maps.views import fit_aspect
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = [
    "print_map",
    "print_sheets",
    "iter_sheets",
    "has_sheets",
    "save_figure",
    "save_sheets",
    "FORMATS",
]

logger = logging.getLogger(__name__)

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


def print_map(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
    top_n: int | None = None,
    extent: tuple[float, float, float, float] | None = None,
    label_areas: gpd.GeoDataFrame | None = None,
) -> Figure:
    """Draw the priority map for print: classes, status, context, labels, locator, legend.

    Parameters
    ----------
    areas
        Scored hazardous areas in a metric CRS (units: metres) with ``hazard_id``, ``rank``,
        ``priority_class`` and, when present, ``status``.
    context
        Context layers: admin boundaries (and region names), roads and settlement names are
        drawn when present.
    settings
        The [maps] settings: palette, figure size (inches), resolution (dpi), labels.
    title
        The map's title (shown as text, never parsed as math).
    top_n
        How many of the top-ranked areas to label by ``hazard_id``; default
        ``settings.label_top_n``.
    extent
        ``(xmin, ymin, xmax, ymax)`` (m) to show; default: the areas, padded. It is widened
        to the page's proportions so the map fills its frame.
    label_areas
        The areas whose top ``top_n`` are labelled (default: the areas in the extent).

    Returns
    -------
    matplotlib.figure.Figure
        A figure on the Agg canvas (no screen needed). Its artists carry the gids
        ``"scale_bar"``, ``"north_arrow"`` and ``"locator"``, the areas' collections
        ``"areas"`` (polygons) and ``"area_dots"`` (areas too small, as dots);
        ``fig.ccm_labels`` lists the placed labels (``text``, ``kind``, ``bbox`` in display
        pixels) and
        ``fig.ccm_unplaced`` the labels left out for lack of room. Pass it to
        :func:`save_figure`.

    Raises
    ------
    InputError
        When columns are missing or the CRS is not metric.
    """
    _check(areas)
    return _draw_sheet(
        areas,
        _Layers.of(areas, context),
        settings,
        title=title,
        top_n=top_n,
        extent=extent,
        label_areas=label_areas,
    )


def _draw_sheet(
    areas: gpd.GeoDataFrame,
    layers: _Layers,
    settings: MapSettings,
    *,
    title: str,
    top_n: int | None = None,
    extent: tuple[float, float, float, float] | None = None,
    label_areas: gpd.GeoDataFrame | None = None,
) -> Figure:
    """One page of :func:`print_map`, from layers prepared once for every sheet."""
    top_n = settings.label_top_n if top_n is None else top_n
    fig = Figure(figsize=settings.print_size_in, dpi=settings.print_dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(_MAP_BOX)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#ffffff")
    w_in = settings.print_size_in[0] * _MAP_BOX[2]
    h_in = settings.print_size_in[1] * _MAP_BOX[3]
    xmin, ymin, xmax, ymax = fit_aspect(extent or _extent(areas, layers.admin), w_in / h_in)
    view = (xmin, ymin, xmax, ymax)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    pt_per_m = w_in * 72.0 / (xmax - xmin)
    visible = _in_extent(areas, view)

    handles: list = []
    admin = layers.admin
    if admin is not None:
        _draw_lines(
            ax,
            layers.admin_lines[_in_extent_idx(admin, view)],
            color=styles.CONTEXT_COLOURS["admin"],
            lw=0.9,
            z=3,
        )
        handles.append(
            Line2D([], [], color=styles.CONTEXT_COLOURS["admin"], lw=0.9, label="admin boundary")
        )
    roads = layers.roads
    if roads is not None:
        roads = _in_extent(roads, view)
        _draw_lines(ax, roads.geometry.values, color=styles.CONTEXT_COLOURS["roads"], lw=0.6, z=2)
        handles.append(Line2D([], [], color=styles.CONTEXT_COLOURS["roads"], lw=0.6, label="road"))

    n_dots = _draw_areas(ax, visible, settings, pt_per_m)
    counts = layers.class_counts
    area_handles = [
        Patch(
            facecolor=settings.palette[c],
            edgecolor=styles.darker(settings.palette[c]),
            label=f"{c} priority ({int(counts.get(c, 0)):,})",
        )
        for c in _CLASSES
    ]
    area_handles += [
        Patch(
            facecolor="white",
            edgecolor="#222222",
            label=f"{s} ({_STATUS_LABEL[s]})",
            hatch=st["hatch"],
            linestyle=st["linestyle"],
        )
        for s, st in _STATUS_STYLE.items()
        if s in layers.statuses
    ]
    if n_dots:
        area_handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=settings.palette["high"],
                markeredgecolor=styles.darker(settings.palette["high"]),
                markersize=4,
                label="area too small at this scale",
            )
        )
    settlements = layers.settlements
    if settlements is not None and settings.print_villages:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color="white",
                markeredgecolor="#222222",
                markersize=3,
                label="settlement",
            )
        )
    ax.legend(
        handles=area_handles + handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        frameon=False,
        title="Hazardous areas",
        title_fontsize=9,
        alignment="left",
    )

    scale = _scale_bar(ax, xmax - xmin)
    arrow = _north_arrow(ax)
    _locator(fig, layers, view)
    ax.set_title(title, fontsize=13, loc="left", parse_math=False)

    renderer = fig.canvas.get_renderer()
    obstacles = [_box(a.get_window_extent(renderer)) for a in (scale, arrow)]
    placed: list[dict] = []
    unplaced: list[str] = []
    top = _top(label_areas if label_areas is not None else visible, top_n)
    _place(ax, renderer, top, "hazard", placed, unplaced, obstacles, fontsize=7, bold=True)
    if admin is not None:
        names = _region_names(admin.iloc[_in_extent_idx(admin, view)], view)
        _place(
            ax,
            renderer,
            names,
            "region",
            placed,
            [],
            obstacles,
            fontsize=8,
            colour="#555555",
            offsets=((0, 0),),
            italic=True,
        )
    if settlements is not None and settings.print_villages:
        villages = _villages(settlements, (xmin, ymin, xmax, ymax), settings.print_villages)
        if len(villages):
            ax.scatter(
                villages["x"],
                villages["y"],
                s=6,
                c="white",
                edgecolors="#222222",
                linewidths=0.5,
                zorder=5,
            )
            _place(
                ax,
                renderer,
                villages,
                "village",
                placed,
                [],
                obstacles,
                fontsize=6,
                colour="#222222",
                leader=False,
            )
    fig.ccm_labels = placed
    fig.ccm_unplaced = unplaced
    shown = sum(1 for p in placed if p["kind"] == "hazard")
    note = f"; {len(unplaced)} more left unlabelled for lack of room" if unplaced else ""
    dots = f"; {n_dots:,} areas too small at this scale drawn as dots" if n_dots else ""
    fig.text(
        0.02,
        0.015,
        f"{len(visible):,} hazardous areas on this map{dots}; the top {shown} by rank "
        f"labelled{note}. CRS: {areas.crs.to_string()}",
        fontsize=7,
        color="#444444",
        parse_math=False,
    )
    return fig


def print_sheets(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
) -> list[tuple[str, Figure]]:
    """The overview page, then one sheet per region when one page cannot hold the register.

    A register of more than ``settings.print_sheet_areas`` areas with a ``region`` column
    gets one sheet per region: the region's extent (its admin unit when the context names
    it, else its areas), neighbouring areas and context included, the region's top areas
    labelled, and a locator showing where the sheet lies. A national register has hundreds
    of regions: to write them, pass :func:`iter_sheets` to :func:`save_sheets`, which holds
    one sheet in memory at a time.

    Returns
    -------
    list of (str, Figure)
        ``("overview", fig)`` first, then ``(region, fig)`` by region name.
    """
    return list(iter_sheets(areas, context, settings, title=title))


def iter_sheets(
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
    *,
    title: str,
) -> Iterator[tuple[str, Figure]]:
    """:func:`print_sheets` one sheet at a time: each figure is drawn when it is asked for.

    The context layers, their spatial indexes, the class counts and the locator are prepared
    once for every sheet, and each sheet draws only what lies in its extent, so the sheets
    together cost time in proportion to the register.
    """
    _check(areas)
    layers = _Layers.of(areas, context)
    yield "overview", _draw_sheet(areas, layers, settings, title=title)
    if not has_sheets(areas, settings):
        return
    from ccm_geo.publish.maps.views import region_views

    names = areas["region"].astype(str).where(areas["region"].notna(), None).to_numpy()
    rows = {k: v.to_numpy() for k, v in pd.Series(np.arange(len(areas))).groupby(names)}
    groups = _sheet_groups(areas, rows, layers, settings.print_max_sheets)
    for k, regions in enumerate(groups, start=1):
        mine = areas.iloc[np.sort(np.concatenate([rows[r] for r in regions]))]
        views = region_views(mine, layers.context, pad=0.05, far=math.inf)
        if not views:
            continue
        label = _group_label(regions)
        fig = _draw_sheet(
            areas,
            layers,
            settings,
            title=f"{title}: {label} (sheet {k} of {len(groups)})",
            extent=views[0].bounds,
            label_areas=mine,
        )
        yield label, fig


def _sheet_groups(areas, rows: dict, layers: _Layers, max_sheets: int) -> list[list[str]]:
    """Regions by sheet: one each when there are at most ``max_sheets``, else neighbouring
    regions together in ``max_sheets`` sheets of about equal numbers of areas.

    The regions are ordered along a Hilbert curve through their centres (their admin unit's
    centre when the admin layer names them, else their areas'), which keeps near regions near
    in the order, and the order is cut where the running count of areas crosses each
    ``k / max_sheets`` of the total. Each group is sorted by name; groups keep curve order.
    """
    regions = sorted(rows)
    if len(regions) <= max_sheets:
        return [[r] for r in regions]
    bounds = shapely.bounds(areas.geometry.values)
    centres = np.full((len(regions), 2), np.nan)
    for i, r in enumerate(regions):
        b = bounds[rows[r]]
        b = b[np.isfinite(b).all(axis=1)]  # areas without geometry have no place
        if len(b):
            centres[i] = ((b[:, 0].min() + b[:, 2].max()) / 2, (b[:, 1].min() + b[:, 3].max()) / 2)
    admin = layers.admin
    if admin is not None and "region" in admin.columns:
        names = admin["region"].astype(str).to_numpy()
        unit_bounds = shapely.bounds(admin.geometry.values)
        for i, r in enumerate(regions):
            hit = np.flatnonzero(names == r)
            if len(hit):
                b = unit_bounds[hit]
                centres[i] = (
                    (b[:, 0].min() + b[:, 2].max()) / 2,
                    (b[:, 1].min() + b[:, 3].max()) / 2,
                )
    centres[~np.isfinite(centres).all(axis=1)] = (
        centres[np.isfinite(centres).all(axis=1)].mean(axis=0)
        if np.isfinite(centres).all(axis=1).any()
        else 0.0
    )
    order = np.lexsort((np.arange(len(regions)), _hilbert(centres)))
    counts = np.array([len(rows[regions[i]]) for i in order], dtype=float)
    cum = np.cumsum(counts) - counts / 2  # each region's middle along the running count
    sheet = np.minimum((cum / counts.sum() * max_sheets).astype(int), max_sheets - 1)
    groups: list[list[str]] = []
    for s in np.unique(sheet):
        groups.append(sorted(regions[i] for i in order[sheet == s]))
    return groups


def _hilbert(xy: np.ndarray, bits: int = 16) -> np.ndarray:
    """Index of each point along a Hilbert curve over the points' bounding square."""
    lo = np.nanmin(xy, axis=0)
    size = max(float(np.nanmax(xy - lo)), 1e-9)
    n = 1 << bits
    x = np.clip(((xy[:, 0] - lo[0]) / size * (n - 1)).astype(np.int64), 0, n - 1)
    y = np.clip(((xy[:, 1] - lo[1]) / size * (n - 1)).astype(np.int64), 0, n - 1)
    d = np.zeros(len(xy), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant so the curve stays continuous
        flip = ~ry
        swap_x = np.where(flip & rx, n - 1 - x, x)
        swap_y = np.where(flip & rx, n - 1 - y, y)
        x, y = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    return d


def _group_label(regions: list[str]) -> str:
    """A sheet's name: its region, or its regions (the first three and how many more)."""
    if len(regions) <= 3:
        return ", ".join(regions)
    return f"{', '.join(regions[:3])} and {len(regions) - 3} more"


def has_sheets(areas: gpd.GeoDataFrame, settings: MapSettings) -> bool:
    """Whether :func:`print_sheets` adds sheets per region to the overview."""
    return len(areas) > settings.print_sheet_areas and "region" in areas.columns


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write a figure to PNG, PDF or SVG (by suffix) atomically and return the path.

    Raises
    ------
    InputError
        When the suffix is not ``.png``, ``.pdf`` or ``.svg``.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        msg = (
            f"cannot write a print map to {path}: the suffix {path.suffix!r} is not one of "
            f"{sorted(FORMATS)}; name the file .png, .pdf or .svg"
        )
        raise InputError(msg)
    metadata = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "Producer": None},
        "svg": {"Date": None, "Creator": None},
    }[fmt]
    # SVG element ids are hashes salted at random unless a salt is set: fix it, so two runs
    # write the same bytes
    with atomic_output(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "ccm_geo"}):
        fig.savefig(tmp, format=fmt, dpi=fig.dpi, metadata=metadata)
    return path


def save_sheets(figures: Iterable[Figure], path: str | Path) -> Path:
    """Write figures as the pages of one PDF (the map sheets), atomically.

    ``figures`` may be a generator (e.g. from :func:`iter_sheets`): each page is written
    and cleared (its artists let go) before the next is drawn, so memory stays that of one
    sheet. The figures are empty afterwards.
    """
    path = Path(path)
    with atomic_output(path) as tmp, PdfPages(tmp, metadata={"CreationDate": None}) as pdf:
        for fig in figures:
            pdf.savefig(fig)
            fig.clear()  # its artists (thousands of paths) go now, not when the caller's ref does
    return path


# --------------------------------------------------------------------------------- helpers

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


def _layer(context, name: str, crs):
    gdf = getattr(context, name, None) if context is not None else None
    if gdf is None or not len(gdf):
        return None
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if gdf.crs is not None and crs is not None and gdf.crs != crs:
        gdf = gdf.to_crs(crs)
    return gdf if len(gdf) else None


@dataclass
class _Layers:
    """What every sheet of one register shares, prepared once: context layers in the areas'
    CRS (their spatial indexes built on first use and kept), the admin boundaries, the
    class counts and statuses of the legend, and the locator's simplified admin units."""

    context: Any
    admin: Any
    admin_lines: np.ndarray
    roads: Any
    settlements: Any
    class_counts: dict
    statuses: set
    locator_paths: list | None
    locator_points: np.ndarray | None
    locator_bounds: tuple[float, float, float, float]

    @classmethod
    def of(cls, areas, context) -> _Layers:
        admin = _layer(context, "admin", areas.crs)
        counts = areas["priority_class"].astype(str).str.lower().value_counts()
        statuses = set(areas["status"].dropna().astype(str)) if "status" in areas else set()
        if admin is not None:
            x0, y0, x1, y1 = admin.total_bounds
            # the locator is about 2 inches wide: a tolerance of 1/1000 of the country is
            # finer than its pixels and keeps a national admin layer's vertices few
            tol = max(x1 - x0, y1 - y0) / 1000
            paths = _polygon_paths(shapely.simplify(admin.geometry.values, tol))
            lines = shapely.boundary(admin.geometry.values)
        else:
            x0, y0, x1, y1 = areas.total_bounds
            paths, lines = None, np.empty(0, dtype=object)
            # the areas' centres, one per locator pixel at most (a 300 x 300 grid)
            pts = shapely.get_coordinates(shapely.point_on_surface(areas.geometry.values))
            cell = max(x1 - x0, y1 - y0, 1.0) / 300
            _, first = np.unique(np.floor(pts / cell), axis=0, return_index=True)
            points = pts[np.sort(first)]
        return cls(
            context=context,
            admin=admin,
            admin_lines=lines,
            roads=_layer(context, "roads", areas.crs),
            settlements=_layer(context, "settlements", areas.crs),
            class_counts={str(k): int(v) for k, v in counts.items()},
            statuses=statuses,
            locator_paths=paths,
            locator_points=None if admin is not None else points,
            locator_bounds=(float(x0), float(y0), float(x1), float(y1)),
        )


def _extent(areas, admin) -> tuple[float, float, float, float]:
    src = areas if len(areas) else admin
    if src is None or len(src) == 0:
        return (0.0, 0.0, 1000.0, 1000.0)
    x0, y0, x1, y1 = src.total_bounds
    pad = max(x1 - x0, y1 - y0, 500.0) * 0.04
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _in_extent_idx(gdf, extent) -> np.ndarray:
    """Positions of the rows whose bounding box meets ``extent``, in row order."""
    if not len(gdf):
        return np.empty(0, dtype=np.intp)
    return np.sort(gdf.sindex.query(shapely.box(*extent), predicate="intersects"))


def _in_extent(gdf, extent):
    """Rows whose bounding box meets ``extent`` (spatial index)."""
    if not len(gdf):
        return gdf
    return gdf.iloc[_in_extent_idx(gdf, extent)]


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
                )
            n_dots += int(dots.sum())
    return n_dots


def _compound_path(geoms) -> MplPath | None:
    """Polygonal geometries as one path: one element to draw and write, not one per area.

    Shells are oriented counter-clockwise and holes clockwise, so the non-zero fill rule
    leaves the holes open and fills overlapping areas once.
    """
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return None
    parts = shapely.get_parts(geoms)
    parts = shapely.orient_polygons(parts[shapely.get_type_id(parts) == 3])
    if not len(parts):
        return None
    rings = shapely.get_rings(parts)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(ring_idx, minlength=len(rings))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[starts] = MplPath.MOVETO
    codes[starts + counts - 1] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


def _polygon_paths(geoms) -> list[MplPath]:
    """Matplotlib paths (holes included) of polygonal geometries, from one ragged array."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return []
    parts, owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, owner = parts[keep], owner[keep]
    if not len(parts):
        return []
    rings, ring_owner = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(ring_idx, minlength=len(rings))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    codes[starts] = MplPath.MOVETO
    codes[starts + counts - 1] = MplPath.CLOSEPOLY
    geom_of_ring = owner[ring_owner]
    bounds = np.flatnonzero(np.diff(geom_of_ring)) + 1
    ring_groups = np.split(np.arange(len(rings)), bounds)
    out = []
    for grp in ring_groups:
        a = starts[grp[0]]
        b = starts[grp[-1]] + counts[grp[-1]]
        out.append(MplPath(coords[a:b], codes[a:b]))
    return out


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


def _top(areas, top_n: int) -> pd.DataFrame:
    if top_n <= 0 or not len(areas):
        return pd.DataFrame(columns=["text", "x", "y"])
    top = (
        areas.assign(
            _r=pd.to_numeric(areas["rank"], errors="coerce"), _id=areas["hazard_id"].astype(str)
        )
        .sort_values(["_r", "_id"], kind="stable", na_position="last")
        .head(top_n)
    )
    pts = shapely.get_coordinates(shapely.point_on_surface(top.geometry.values))
    return pd.DataFrame({"text": top["_id"].to_numpy(), "x": pts[:, 0], "y": pts[:, 1]})


def _region_names(admin, extent) -> pd.DataFrame:
    if "region" not in admin.columns:
        return pd.DataFrame(columns=["text", "x", "y"])
    view = shapely.box(*extent)
    clipped = shapely.intersection(admin.geometry.values, view)
    keep = ~shapely.is_empty(clipped)
    big = keep & (shapely.area(clipped) > 0.02 * view.area)
    pts = shapely.get_coordinates(shapely.point_on_surface(clipped[big]))
    return pd.DataFrame(
        {"text": admin["region"].astype(str).to_numpy()[big], "x": pts[:, 0], "y": pts[:, 1]}
    )


def _villages(settlements, extent, n: int) -> pd.DataFrame:
    inside = _in_extent(settlements, extent)
    if not len(inside) or "name" not in inside.columns:
        return pd.DataFrame(columns=["text", "x", "y"])
    pop = (
        pd.to_numeric(inside["population"], errors="coerce").fillna(0)
        if "population" in inside.columns
        else pd.Series(0, index=inside.index)
    )
    order = np.lexsort((inside["name"].astype(str).to_numpy(), -pop.to_numpy()))
    # try more than n: some will not fit
    chosen = inside.iloc[order[: n * 3]]
    chosen = chosen[chosen["name"].notna()]
    pts = shapely.get_coordinates(chosen.geometry.representative_point().values)
    return pd.DataFrame(
        {"text": chosen["name"].astype(str).to_numpy(), "x": pts[:, 0], "y": pts[:, 1], "limit": n}
    )


def _box(bb) -> tuple[float, float, float, float]:
    return (float(bb.x0), float(bb.y0), float(bb.x1), float(bb.y1))


def _overlaps(a, b, margin: float = 1.0) -> bool:
    return (
        a[0] - margin < b[2]
        and b[0] - margin < a[2]
        and a[1] - margin < b[3]
        and b[1] - margin < a[3]
    )


def _place(
    ax,
    renderer,
    labels: pd.DataFrame,
    kind: str,
    placed: list[dict],
    unplaced: list[str],
    obstacles: list,
    *,
    fontsize: float,
    colour: str = "#111111",
    bold: bool = False,
    italic: bool = False,
    offsets=_OFFSETS,
    leader: bool = True,
) -> None:
    """Greedy label placement: each label at the first candidate offset whose box meets no
    placed label and no obstacle and lies inside the map; else it is left out (``unplaced``)."""
    if not len(labels):
        return
    frame = _box(ax.get_window_extent(renderer))
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    limit = int(labels["limit"].iloc[0]) if "limit" in labels.columns else len(labels)
    n = 0
    for text, x, y in zip(labels["text"], labels["x"], labels["y"], strict=True):
        if n >= limit:
            break
        ann = None
        for dx, dy in offsets:
            ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
            va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
            far = leader and math.hypot(dx, dy) > 10
            if ann is None:
                ann = ax.annotate(
                    text,
                    (x, y),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    fontsize=fontsize,
                    ha=ha,
                    va=va,
                    color=colour,
                    zorder=8,
                    path_effects=halo,
                    parse_math=False,
                    fontweight="bold" if bold else "normal",
                    fontstyle="italic" if italic else "normal",
                    annotation_clip=True,
                )
            else:
                ann.set_position((dx, dy))
                ann.set_ha(ha)
                ann.set_va(va)
            bb = _box(ann.get_window_extent(renderer))
            inside = bb[0] >= frame[0] and bb[1] >= frame[1] and bb[2] <= frame[2]
            inside = inside and bb[3] <= frame[3]
            if (
                inside
                and not any(_overlaps(bb, o) for o in obstacles)
                and not any(_overlaps(bb, p["bbox"]) for p in placed)
            ):
                if far:
                    ann.arrow_patch = None
                    ann.remove()
                    ann = ax.annotate(
                        text,
                        (x, y),
                        xytext=(dx, dy),
                        textcoords="offset points",
                        fontsize=fontsize,
                        ha=ha,
                        va=va,
                        color=colour,
                        zorder=8,
                        path_effects=halo,
                        parse_math=False,
                        fontweight="bold" if bold else "normal",
                        arrowprops={
                            "arrowstyle": "-",
                            "color": "#333333",
                            "lw": 0.5,
                            "shrinkA": 0,
                            "shrinkB": 1,
                        },
                    )
                placed.append({"text": str(text), "kind": kind, "bbox": bb})
                n += 1
                break
        else:
            if ann is not None:
                ann.remove()
            unplaced.append(str(text))


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
