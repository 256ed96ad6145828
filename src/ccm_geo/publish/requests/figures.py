"""A request's maps: the embedded interactive map of the package, and the static maps (the
package by year, the needs, one sheet per region) drawn with matplotlib as PNG."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ccm_geo.errors import InputError
from ccm_geo.publish.requests.content import RequestContent
from ccm_geo.publish.requests.words import translations
from ccm_geo.publish.settings import DonorProfile, MapSettings
from ccm_geo.publish.shared import memo
from ccm_geo.publish.styles import DONOR_PALETTE, UNCLASSIFIED

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = ["request_map_fragment", "static_map", "needs_map", "package_bounds", "region_maps"]


def request_map_fragment(
    donor: DonorProfile,
    content: RequestContent,
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
) -> tuple[str | None, str | None]:
    """The interactive map of the package's areas, embedded; or None and the reason.

    The one place where a request embeds its interactive map (``maps.priority_map`` of the
    package's areas, through ``maps.embed_fragment``).
    """
    try:
        from ccm_geo.publish.maps import embed_fragment, priority_map
    except ImportError as exc:
        return None, f"interactive map not included ({exc}); the static map is shown"
    pkg = content.tasks
    per_area = pkg.groupby("hazard_id", sort=False).agg(
        method=("method", lambda s: " then ".join(s.astype(str))),
        cost_usd=("cost_usd", "sum"),
        year=("year", "min"),
    )
    sub = areas[areas["hazard_id"].astype(str).isin(per_area.index)].copy()
    sub = sub.drop(
        columns=[
            c for c in ("method", "cost_usd", "year", "team", "start", "end") if c in sub.columns
        ]
    )
    hid = sub["hazard_id"].astype(str)
    for col in per_area.columns:
        sub[col] = hid.map(per_area[col]).to_numpy()
    from ccm_geo.publish.maps.views import region_views

    views = region_views(sub, context)  # the donor's region(s), with their neighbourhood
    view = views[0].bounds if len(views) == 1 else None  # far-apart regions: all in view
    try:
        doc = priority_map(
            sub, context, settings, title=f"{donor.name}: {content.project_name}", view=view
        )
    except InputError as exc:
        return None, f"interactive map not included: {exc}"
    title = translations(donor.language).gettext("Map of the proposed areas")
    return embed_fragment(doc, height="520px", title=title), None


def static_map(
    rows: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    settings: MapSettings,
    *,
    title: str,
    by: str = "year",
    bounds: tuple[float, float, float, float] | None = None,
    labels: bool | None = None,
    size: tuple[float, float] = (8.0, 5.6),
    points: pd.DataFrame | None = None,
) -> bytes | None:
    """PNG of the areas (grey) with the rows' areas coloured by ``by`` (year or donor).

    ``bounds`` (minx, miny, maxx, maxy) crops the map to a map sheet; ``labels`` writes the
    area ids (default: when at most 40 areas are coloured).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if areas.crs is None or not len(areas):
        return None
    drawable = _drawable(areas)
    every = drawable.geoms
    geoms = every
    if bounds is not None:
        geoms = geoms.cx[bounds[0] : bounds[2], bounds[1] : bounds[3]]
    box = (0.01, 0.01, 0.98, 0.9)  # the map's axes, figure fraction
    fig = Figure(figsize=size)
    ax = fig.add_axes(box)

    def draw(g, colour: str, edge: str, lw: float, speck: float = 0.0) -> None:
        # one collection of paths: geopandas' plot builds a patch per polygon (minutes at
        # national scale for the grey background)
        from matplotlib.collections import PathCollection

        at = every.index.get_indexer(g.index)
        at = at[drawable.rows.has(at)]  # the polygonal ones
        if not len(at):
            return
        # an area within one pixel is drawn as a square of its own area at its centroid:
        # the same ink in that pixel, from 5 vertices instead of its outline's tens
        tiny = drawable.size[at] < speck
        paths = list(drawable.rows.paths(at[~tiny]))
        if tiny.any():
            paths.append(drawable.squares(at[tiny]))
        if bounds is None:  # the map's extent: the areas' own (their paths'), not the squares'
            b = drawable.bounds[at]
            ax.update_datalim([b[:, :2].min(axis=0), b[:, 2:].max(axis=0)])
        # a map sheet's limits are its bounds: the data limits of 100,000 paths go unused
        ax.add_collection(
            PathCollection(paths, facecolor=colour, edgecolor=edge, linewidth=lw), autolim=False
        )

    # the map's extent: the sheet's bounds, else the areas' own
    extent = bounds if bounds is not None else geoms.total_bounds
    if len(geoms):
        # one pixel in map units: the map's extent over the axes' pixels at 110 dpi (the
        # equal aspect fits the longer side)
        gx0, gy0, gx1, gy1 = extent
        pixel = max(
            (gx1 - gx0) / (size[0] * box[2] * _DPI), (gy1 - gy0) / (size[1] * box[3] * _DPI)
        )
        draw(geoms, "#e8e8e8", "#9a9a9a", 0.3, speck=pixel * _SPECK_PX)
    handles = []
    if len(rows) and "hazard_id" in rows:
        r = rows.drop_duplicates("hazard_id")
        keys = sorted(r[by].astype(str).unique())
        palette = list(settings.plan_palette) if by == "year" else list(DONOR_PALETTE)
        # an area narrower than about 1/250 of the map is a speck on the page: mark it with a
        # dot of its colour as well, as the print map does
        x0, y0, x1, y1 = extent
        speck = max(x1 - x0, y1 - y0) / 250.0
        for i, k in enumerate(keys):
            colour = UNCLASSIFIED if k == "unfunded" else palette[i % len(palette)]
            ids = r.loc[r[by].astype(str) == k, "hazard_id"].astype(str)
            g = geoms.reindex(ids).dropna()
            if len(g):
                draw(g, colour, "#333333", 0.5)
                small = g[drawable.size[every.index.get_indexer(g.index)] < speck]
                if len(small):
                    p = small.representative_point()
                    ax.scatter(p.x, p.y, s=9, c=colour, edgecolors="#333333", linewidths=0.3)
                handles.append(Patch(facecolor=colour, edgecolor="#333333", label=k))
        shown = geoms.reindex(r["hazard_id"].astype(str)).dropna()
        if labels if labels is not None else (by == "year" and len(shown) <= 40):
            for hid, g in shown.items():
                p = g.representative_point()
                ax.annotate(
                    str(hid), (p.x, p.y), fontsize=5, ha="center", va="bottom", parse_math=False
                )
    if points is not None and len(points):
        ax.scatter(points["x"], points["y"], s=points["size"], c="#08306b", zorder=5)
        for p in points.itertuples(index=False):
            if p.label:
                ax.annotate(
                    p.label,
                    (p.x, p.y),
                    fontsize=6,
                    xytext=(3, 3),
                    textcoords="offset points",
                    parse_math=False,
                    zorder=6,
                )
        handles.append(
            Patch(facecolor="#08306b", edgecolor="#08306b", label=str(points.attrs.get("name")))
        )
    ax.autoscale_view()
    if bounds is not None:
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True)
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.text(0.01, 0.97, title, fontsize=10, va="top", parse_math=False)
    x0, x1 = ax.get_xlim()
    span = (x1 - x0) / 5
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1
    bar = max(step, round(span / step) * step)
    y0 = ax.get_ylim()[0]
    ax.plot([x0 + bar * 0.1, x0 + bar * 1.1], [y0, y0], color="black", lw=2)
    ax.text(
        x0 + bar * 0.6,
        y0,
        f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m",
        ha="center",
        va="bottom",
        fontsize=7,
    )
    ax.annotate("N ↑", (0.98, 0.98), xycoords="axes fraction", ha="right", va="top", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


_DPI = 110  # the static maps' resolution (dots per inch)
#: Background areas narrower than this many pixels are drawn as squares of their own area
#: (a national map's 100,000 areas are nearly all specks: 0.5 s to draw, not 2 s)
_SPECK_PX = 1.0


class _Drawable:
    """The areas' geometry by hazard id (the first of duplicates), their outlines as paths
    (each made when first drawn), sizes (the longer side of the bounds) and, for areas drawn
    as specks, centroids and the sides of squares of their areas."""

    def __init__(self, areas: gpd.GeoDataFrame):
        import shapely

        from ccm_geo.publish.printmap.paths import _RowPaths

        geoms = areas.set_index(areas["hazard_id"].astype(str)).geometry
        self.geoms = geoms[~geoms.index.duplicated()]
        values = self.geoms.to_numpy()
        self.rows = _RowPaths(values)  # paths made for the areas drawn as outlines only
        self.bounds = shapely.bounds(values)
        x0, y0, x1, y1 = self.bounds.T
        self.size = np.nan_to_num(np.fmax(x1 - x0, y1 - y0), nan=np.inf)  # empty: not a speck
        # None or empty: NaN (the rows stay aligned)
        xy, at = shapely.get_coordinates(shapely.centroid(values), return_index=True)
        self.centre = np.full((len(values), 2), np.nan)
        self.centre[at] = xy
        self.side = np.sqrt(shapely.area(values))

    def squares(self, at: np.ndarray):
        """One path of squares (each of the area's area, at its centroid) for areas ``at``."""
        from matplotlib.path import Path as MplPath

        corner = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
        coords = self.centre[at][:, None, :] + corner[None] * self.side[at][:, None, None]
        codes = np.tile(
            np.array([MplPath.MOVETO, *[MplPath.LINETO] * 3, MplPath.CLOSEPOLY], MplPath.code_type),
            len(at),
        )
        return MplPath(coords.reshape(-1, 2), codes)


def _drawable(areas: gpd.GeoDataFrame) -> _Drawable:
    """The areas as drawn, prepared once per areas frame: every static map of every donor
    draws from them."""
    return memo(areas, ("static_map_paths",), lambda: _Drawable(areas))


def needs_map(
    content: RequestContent,
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
) -> bytes | None:
    """The map of a request without tasks (victim assistance, risk education): the hazardous
    areas of the donor's regions and the survivors' villages, the ten with most survivors named.
    """
    d = content.donor
    _ = translations(d.language).gettext
    a = areas
    if "status" in a.columns:
        a = a[a["status"].astype(str) != "released"]
    if d.regions:
        a = a[a["region"].astype(str).isin(d.regions)]
    label = _("Hazardous areas")
    rows = pd.DataFrame({"hazard_id": a["hazard_id"].astype(str), "kind": label})
    points = None
    va = content.victim_assistance
    s = None if context is None else context.settlements
    if va is not None and len(va) and s is not None and len(s):
        xy = s.to_crs(areas.crs).geometry.representative_point()
        pos = pd.DataFrame(
            {"x": xy.x.to_numpy(), "y": xy.y.to_numpy()},
            index=s["settlement_id"].astype(str).to_numpy(),
        )
        pos = pos[~pos.index.duplicated()]
        v = va.assign(settlement_id=va["settlement_id"].astype(str))
        v = v[v["settlement_id"].isin(pos.index)].reset_index(drop=True)
        points = pd.DataFrame(
            {
                "x": pos.loc[v["settlement_id"], "x"].to_numpy(),
                "y": pos.loc[v["settlement_id"], "y"].to_numpy(),
                "size": 6
                + 4 * pd.to_numeric(v["survivors"], errors="coerce").fillna(0).clip(0, 20),
                "label": [str(nm) if i < 10 else "" for i, nm in enumerate(v["name"])],
            }
        )
        points.attrs["name"] = _("Survivors")
    bounds = None
    geo = a.geometry.dropna()
    if len(geo):
        x0, y0, x1, y1 = geo.total_bounds
        pad = max(x1 - x0, y1 - y0) * 0.05
        bounds = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    return static_map(
        rows, areas, settings, title=d.name, by="kind", bounds=bounds, labels=False, points=points
    )


def package_bounds(
    content: RequestContent, *, aspect: float = 8.0 / 5.0
) -> tuple[float, float, float, float] | None:
    """The package's extent, padded and widened to the map's aspect (None: no task areas)."""
    geo = content.tasks.geometry.dropna() if len(content.tasks) else None
    if geo is None or not len(geo):
        return None
    x0, y0, x1, y1 = geo.total_bounds
    w, h = max(x1 - x0, 1000.0), max(y1 - y0, 1000.0)
    w, h = max(w, h * aspect) * 1.12, max(h, w / aspect) * 1.12
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def region_maps(
    content: RequestContent, areas: gpd.GeoDataFrame, settings: MapSettings
) -> dict[str, bytes]:
    """One map sheet per region of the package: its areas by year, with their ids.

    At most ``donor.map_sheets_max`` sheets: the regions with the largest share of the
    package's cost (ties by name), in name order; the document names the regions left out.
    """
    out: dict[str, bytes] = {}
    pkg = content.tasks
    if not len(pkg) or areas.crs is None:
        return out
    for region in sheet_regions(content):
        rows = pkg[pkg["region"].astype(str) == region]
        geo = pkg.geometry[rows.index].dropna()
        if not len(geo):
            continue
        x0, y0, x1, y1 = geo.total_bounds
        pad = max(x1 - x0, y1 - y0, 500.0) * 0.08
        png = static_map(
            rows,
            areas,
            settings,
            title=region,
            bounds=(x0 - pad, y0 - pad, x1 + pad, y1 + pad),
            labels=len(rows.drop_duplicates("hazard_id")) <= 80,
            size=(7.6, 6.2),
        )
        if png:
            out[region] = png
    return out


def sheet_regions(content: RequestContent) -> list[str]:
    """The regions that get a map sheet (at most ``map_sheets_max``), in name order."""
    pkg = content.tasks
    if not len(pkg):
        return []
    cost = pkg.groupby(pkg["region"].astype(str))["cost_usd"].sum()
    ranked = sorted(cost.index, key=lambda r: (-float(cost[r]), r))
    return sorted(ranked[: content.donor.map_sheets_max])
