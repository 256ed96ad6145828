"""The context layers prepared once for a page and its sheets, and what lies in an extent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from ccm_geo.errors import InputError
from ccm_geo.publish.printmap.paths import _polygon_paths
from ccm_geo.publish.shared import road_lines as road_lines_of

if TYPE_CHECKING:
    import geopandas as gpd


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
    roads joined into lines per class (shared with the web map: ``publish.shared``), the
    class counts and statuses of the legend, and the locator's simplified admin units."""

    context: Any
    admin: Any
    admin_lines: np.ndarray
    road_lines: np.ndarray | None
    road_tree: shapely.STRtree | None
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
        raw = getattr(context, "roads", None) if context is not None else None
        road_lines = None
        if raw is not None and len(raw):
            # the context's own frame when it is in the areas' CRS: joined once per run
            same = raw.crs is None or areas.crs is None or raw.crs == areas.crs
            road_lines = road_lines_of(raw if same else raw.to_crs(areas.crs))[0]
            road_lines = road_lines if len(road_lines) else None
        return cls(
            context=context,
            admin=admin,
            admin_lines=lines,
            road_lines=road_lines,
            road_tree=None if road_lines is None else shapely.STRtree(road_lines),
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
