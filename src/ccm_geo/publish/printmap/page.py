"""The print map's page: the whole register, or one sheet's extent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ccm_geo.publish import styles
from ccm_geo.publish.maps.views import fit_aspect
from ccm_geo.publish.printmap.common import _CLASSES, _MAP_BOX, _STATUS_LABEL, _STATUS_STYLE
from ccm_geo.publish.printmap.draw import (
    _draw_areas,
    _draw_lines,
    _locator,
    _north_arrow,
    _scale_bar,
)
from ccm_geo.publish.printmap.labels import _box, _place
from ccm_geo.publish.printmap.layers import (
    _check,
    _extent,
    _in_extent,
    _in_extent_idx,
    _Layers,
    _region_names,
    _top,
    _villages,
)
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context


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
    if layers.road_lines is not None:
        # the roads joined into lines: a national graph's edges are each a subpath otherwise
        near = np.sort(layers.road_tree.query(shapely.box(*view), predicate="intersects"))
        _draw_lines(ax, layers.road_lines[near], color=styles.CONTEXT_COLOURS["roads"], lw=0.6, z=2)
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
