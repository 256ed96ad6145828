"""Region sheets: regions grouped along a Hilbert curve into at most ``print_max_sheets``
sheets, drawn one at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure

from ccm_geo.publish.printmap.layers import _check, _Layers
from ccm_geo.publish.printmap.page import _draw_sheet
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context


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
    # what the pages draw, without the other columns: each sheet selects rows of it
    keep = [c for c in ("hazard_id", "rank", "priority_class", "status", "region") if c in areas]
    areas = areas[[*keep, areas.geometry.name]]
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
