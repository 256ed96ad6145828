"""Geometry of hazardous areas: repair, position, point areas, shared land, minimum area.

Each check takes the frame being loaded (with ``_row`` and ``hazard_id``) and its
:class:`~ccm_geo.model.ValidationReport`, and returns the rows kept; every row it drops or
changes gets a report line.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from ccm_geo.config import HazardInput
from ccm_geo.errors import InputError, ValidationError
from ccm_geo.io.read import polygonal_parts
from ccm_geo.model import ValidationReport

__all__: list[str] = []

# A hazard this far (degrees of longitude or latitude) from the register's median position is
# taken for a coordinate error (a flipped sign moves a point by twice its longitude; swapped
# lon/lat by their difference), unless the register itself is that wide: with a project CRS
# chosen by the user, the limit grows to 4 times the median row's distance from the median.
_FAR_FROM_MEDIAN_DEG = 15.0
_FAR_SPREAD_FACTOR = 4.0
# ... unless more than this share of rows is that far: then the register spans regions far
# apart, and the user must choose the CRS (an error, not a silent exclusion of many rows).
_FAR_SHARE_MAX = 0.05
# A source in degrees whose coordinates mostly are not longitude/latitude holds metres.
_NOT_DEGREES_SHARE = 0.5
# Overlaps smaller than this (m²) are shared edges and rounding, not shared land.
_OVERLAP_TOL_M2 = 0.01
_STATUS_ORDER = {"CHA": 0, "SHA": 1, "released": 2}


def check_geometry(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    """Exclude null/empty/non-areal/out-of-area geometries, repair invalid polygons."""
    geoms = df.geometry.values.copy()
    keep = np.ones(len(df), dtype=bool)
    rows = df["_row"].to_numpy()
    ids = df["hazard_id"].to_numpy()
    null = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(null):
        report.add(
            "excluded",
            "null_geometry",
            "no geometry (null or empty); the area cannot be mapped. Digitise it or "
            "give its coordinates",
            row=int(rows[i]),
            hazard_id=ids[i],
        )
    keep &= ~null
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, [3, 6])
    pointlike = np.isin(kinds, [0, 4])
    for i in np.flatnonzero(keep & ~polygonal & ~pointlike):
        g = geoms[i]
        parts = polygonal_parts(g)
        if parts is not None and not parts.is_empty:
            geoms[i] = parts
            report.add(
                "repair",
                "polygon_parts_kept",
                f"{g.geom_type} holds lines or points besides polygons; only the polygon "
                "parts were kept",
                row=int(rows[i]),
                hazard_id=ids[i],
                value=g.geom_type,
            )
            continue
        keep[i] = False
        report.add(
            "excluded",
            "not_an_area",
            f"geometry is a {g.geom_type}, not a polygon or point; a hazardous area needs "
            "a polygon (buffer lines in your GIS to the surveyed width)",
            row=int(rows[i]),
            hazard_id=ids[i],
            value=g.geom_type,
        )
    invalid = keep & polygonal & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = polygonal_parts(shapely.make_valid(geoms[i]))
        if fixed is None or fixed.is_empty:
            keep[i] = False
            report.add(
                "excluded",
                "invalid_geometry",
                f"invalid polygon ({reason}) that cannot be repaired; redraw it",
                row=int(rows[i]),
                hazard_id=ids[i],
                value=reason,
            )
            continue
        geoms[i] = fixed
        report.add(
            "repair",
            "invalid_geometry",
            f"invalid polygon ({reason}) repaired with make_valid; check its outline",
            row=int(rows[i]),
            hazard_id=ids[i],
            value=reason,
        )
    df = df.copy()
    df.geometry.values[:] = geoms  # noqa: PD011 - a GeometryArray, not a numpy view
    return df.loc[keep]


def check_coordinates(
    df: gpd.GeoDataFrame, report: ValidationReport, *, user_crs: bool
) -> gpd.GeoDataFrame:
    """Exclude rows whose position cannot be right: not a longitude/latitude at all, or far
    from where the rest of the register lies (judged from the rows, never from a CRS's nominal
    area of use, so a correct CRS never drops a real row)."""
    src = CRS.from_user_input(df.crs)
    pts = shapely.point_on_surface(df.geometry.values)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    if src.is_geographic:
        lon, lat = x, y
    else:
        with np.errstate(all="ignore"):
            s = gpd.GeoSeries(pts, crs=src).to_crs(4326)
        lon, lat = s.x.to_numpy(), s.y.to_numpy()
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if src.is_geographic and bad.mean() > _NOT_DEGREES_SHARE:
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"{report.source}: {int(bad.sum())} of {len(df)} rows have coordinates that are not "
            f"longitude/latitude (row {int(df['_row'].iloc[i])}: x={x[i]:.6g}, y={y[i]:.6g}), "
            f"but the layer says {src.to_string()} (degrees). The coordinates look like "
            "metres: set `crs` for this input to the projected CRS they are in (and fix the "
            "CRS the file declares)."
        )
        raise ValidationError(msg, report)
    for i in np.flatnonzero(bad):
        report.add(
            "excluded",
            "bad_coordinates",
            f"coordinates x={x[i]:.6g}, y={y[i]:.6g} are not a position on Earth in "
            f"{src.to_string()}; fix them in the source",
            row=int(df["_row"].iloc[i]),
            hazard_id=df["hazard_id"].iloc[i],
            value=f"{x[i]:.6g},{y[i]:.6g}",
        )
    keep = ~bad
    idx = np.flatnonzero(keep)
    if len(idx) > 2:
        mlon, mlat = float(np.median(lon[idx])), float(np.median(lat[idx]))
        dlon = np.abs((lon[idx] - mlon + 180.0) % 360.0 - 180.0)
        dist = np.maximum(dlon, np.abs(lat[idx] - mlat))
        limit = _FAR_FROM_MEDIAN_DEG
        if user_crs:  # the user chose the CRS: the register may be wide; judge by its spread
            limit = max(limit, _FAR_SPREAD_FACTOR * float(np.median(dist)))
        far = idx[dist > limit]
        if len(far) > max(1, _FAR_SHARE_MAX * len(idx)):
            fix = (
                "Fix the coordinates of the stray rows."
                if user_crs
                else "Set project.crs to a metric CRS that covers the whole register."
            )
            msg = (
                f"{report.source}: {len(far)} of {len(idx)} rows lie more than {limit:g} "
                f"degrees from the register's median position (lon {mlon:.2f}, lat "
                f"{mlat:.2f}): the register spans regions far apart (or many coordinates are "
                f"wrong). {fix}"
            )
            raise ValidationError(msg, report)
        for i in far:
            keep[i] = False
            report.add(
                "excluded",
                "far_from_register",
                f"coordinates (lon {lon[i]:.4f}, lat {lat[i]:.4f}) lie more than {limit:g} "
                f"degrees from the register's median position (lon {mlon:.2f}, lat "
                f"{mlat:.2f}): a flipped sign or swapped longitude/latitude? Fix the "
                "coordinates in the source",
                row=int(df["_row"].iloc[i]),
                hazard_id=df["hazard_id"].iloc[i],
                value=f"{lon[i]:.5f},{lat[i]:.5f}",
            )
    return df.loc[keep]


def project_crs_for(df: gpd.GeoDataFrame, project_crs: str | None) -> CRS:
    if project_crs is not None:
        crs = CRS.from_user_input(project_crs)
        if crs.is_geographic:
            msg = (
                f"project.crs = {project_crs!r} is geographic (degrees); areas need a metric "
                "CRS. Use a projected CRS, e.g. the UTM zone of the region, or leave it out."
            )
            raise InputError(msg)
        return crs
    # The UTM zone of the median position: robust to a few stray coordinates.
    pts = gpd.GeoSeries(shapely.point_on_surface(df.geometry.values), crs=df.crs).to_crs(4326)
    lon, lat = float(np.median(pts.x)), float(np.median(pts.y))
    zone = min(60, max(1, int((lon + 180) // 6) + 1))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def points_to_areas(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    """Points become regular 128-gons whose area is exactly ``spec.point_area_m2``."""
    kinds = shapely.get_type_id(df.geometry.values)
    is_point = np.isin(kinds, [0, 4])
    df = df.copy()
    df["area_estimated"] = is_point
    if is_point.any():
        n_sides = 128  # quad_segs=32: vertices on the circle
        # the polygon's area is (n/2) r^2 sin(2 pi / n): choose r so that it is the area asked
        radius = float(np.sqrt(2.0 * spec.point_area_m2 / (n_sides * np.sin(2 * np.pi / n_sides))))
        geoms = df.geometry.values.copy()
        circles = shapely.buffer(shapely.centroid(geoms[is_point]), radius, quad_segs=32)
        geoms[is_point] = circles
        df.geometry.values[:] = geoms  # noqa: PD011
        report.add(
            "warning",
            "point_to_area",
            f"{int(is_point.sum())} point hazard(s) became circles of "
            f"{spec.point_area_m2:,.0f} m2 (inputs.hazards.point_area_m2); flagged in "
            "column area_estimated. Replace them by surveyed polygons when you have them",
            value=str(int(is_point.sum())),
        )
    return df


def resolve_overlaps(
    df: gpd.GeoDataFrame, spec: HazardInput, report: ValidationReport
) -> gpd.GeoDataFrame:
    """Report identical and overlapping areas; with ``overlaps = "clip"`` keep shared land in
    one area only (CHA before SHA before released, then by hazard_id)."""
    df = df.copy()
    df["_clipped"] = False
    n = len(df)
    if n < 2:
        return df
    order = np.lexsort(
        (df["hazard_id"].astype(str).to_numpy(), df["status"].map(_STATUS_ORDER).fillna(3))
    )
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    geoms = df.geometry.values.copy()
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    sel = a < b
    a, b = a[sel], b[sel]
    if len(a) == 0:
        return df
    shared = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    real = shared > _OVERLAP_TOL_M2
    a, b, shared = a[real], b[real], shared[real]
    if len(a) == 0:
        return df
    first = np.where(rank[a] < rank[b], a, b)  # the area that keeps the land
    later = np.where(rank[a] < rank[b], b, a)
    ids = df["hazard_id"].astype(str).to_numpy()
    rows = df["_row"].to_numpy()
    same = shapely.equals(geoms[first], geoms[later])
    keep = np.ones(n, dtype=bool)
    clip = spec.overlaps == "clip"
    dup_of: dict[int, int] = {}
    for f, g in zip(first[same], later[same], strict=True):
        if int(g) not in dup_of or rank[f] < rank[dup_of[int(g)]]:
            dup_of[int(g)] = int(f)
    for g, f in sorted(dup_of.items()):
        what = "excluded: its land is counted in" if clip else "kept (overlaps = 'keep'), as is"
        report.add(
            "excluded" if clip else "warning",
            "duplicate_geometry",
            f"same geometry as {ids[f]} (row {rows[f]}); {what} {ids[f]}. Merge the records "
            "in the register (a re-survey under a new id?)",
            row=int(rows[g]),
            hazard_id=ids[g],
            value=ids[f],
        )
        if clip:
            keep[g] = False
    partial = ~same & keep[later] & keep[first]
    for g in np.unique(later[partial]):
        m = partial & (later == g)
        others = sorted(zip(rank[first[m]], first[m], shared[m], strict=True))
        text = ", ".join(f"{ids[f]} ({s:,.1f} m2)" for _, f, s in others)
        if clip:
            before = float(shapely.area(geoms[g]))
            cut = shapely.difference(geoms[g], shapely.union_all(geoms[first[m]]))
            cut = polygonal_parts(cut)
            geoms[g] = cut if cut is not None else shapely.Polygon()
            removed = before - float(shapely.area(geoms[g]))
            df.iloc[g, df.columns.get_loc("_clipped")] = True
            report.add(
                "repair",
                "overlap_removed",
                f"shares land with {text}: {removed:,.1f} m2 removed from this area so that "
                "every figure counts that land once (inputs.hazards.overlaps = 'clip')",
                row=int(rows[g]),
                hazard_id=ids[g],
                value=f"{removed:.2f}",
            )
        else:
            report.add(
                "warning",
                "overlap",
                f"shares land with {text}; with inputs.hazards.overlaps = 'keep' that land "
                "counts in each area",
                row=int(rows[g]),
                hazard_id=ids[g],
                value=f"{float(shared[m].sum()):.2f}",
            )
    df.geometry.values[:] = geoms  # noqa: PD011
    return df.loc[keep]


def check_min_area(
    df: gpd.GeoDataFrame, spec: HazardInput, report: ValidationReport
) -> gpd.GeoDataFrame:
    """Exclude areas smaller than ``spec.min_area_m2`` (slivers), reported with their area."""
    area = df["area_m2"].to_numpy(dtype=float)
    small = ~(area >= spec.min_area_m2)
    for i in np.flatnonzero(small):
        clipped = bool(df["_clipped"].iloc[i])
        report.add(
            "excluded",
            "below_min_area",
            f"area {area[i]:.4g} m2 is below min_area_m2 = {spec.min_area_m2:g} m2"
            + (" after removing the land it shares with other areas" if clipped else "")
            + "; a sliver, not a surveyed area. Fix the polygon, or lower "
            "inputs.hazards.min_area_m2",
            row=int(df["_row"].iloc[i]),
            hazard_id=str(df["hazard_id"].iloc[i]),
            value=f"{area[i]:.6g}",
        )
    return df.loc[~small]
