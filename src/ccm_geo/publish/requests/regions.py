"""The context by region: hazardous areas, cluster munition and mined hectares, accidents,
casualties and the people living near the areas."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ccm_geo.model import CMR_TYPES, MINE_TYPES, split_contamination
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    from ccm_geo.model import Context


def _context_regions(
    areas: pd.DataFrame,
    context: Context | None,
    donor: DonorProfile,
    package: pd.DataFrame,
    pop_col: str | None,
) -> pd.DataFrame:
    """Per region: hazardous areas, CMR and mine hectares, accidents and casualties, people.

    The regions are the package's (the donor's, or all, without tasks). Accidents are placed
    in the region of the nearest hazardous area; people are the villagers within the
    population radius of any of the region's areas, each village counted once.
    """
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name, errors="ignore"))
    keep = a["status"].astype(str) != "released" if "status" in a else np.ones(len(a), bool)
    g_areas = areas[np.asarray(keep)]
    a = a[np.asarray(keep)]
    codes = a.get("contamination", pd.Series("", index=a.index)).map(split_contamination)
    area = pd.to_numeric(a.get("area_m2", 0.0), errors="coerce").fillna(0.0)
    frame = pd.DataFrame(
        {
            "region": a["region"].astype(str),
            "areas": 1,
            "cmr_ha": np.where(codes.map(lambda c: bool(c & CMR_TYPES)), area / 1e4, 0.0),
            "mine_ha": np.where(codes.map(lambda c: bool(c & MINE_TYPES)), area / 1e4, 0.0),
        }
    )
    out = frame.groupby("region", sort=True).sum()
    if len(package):
        regions = sorted(package["region"].astype(str).unique())
    elif donor.regions:
        regions = sorted(donor.regions)
    else:
        regions = list(out.index)
    out = out.reindex(regions).fillna(0.0)
    out["accidents"] = np.nan
    out["casualties"] = np.nan
    acc = None if context is None else context.accidents
    if acc is not None and len(acc) and len(g_areas):
        import geopandas as gpd

        pts = gpd.GeoDataFrame(
            {
                "casualties": pd.to_numeric(acc.get("killed", 0), errors="coerce").fillna(0)
                + pd.to_numeric(acc.get("injured", 0), errors="coerce").fillna(0)
            },
            geometry=acc.geometry.to_crs(g_areas.crs).to_numpy(),
            crs=g_areas.crs,
        )
        j = gpd.sjoin_nearest(pts, g_areas[["region", "geometry"]], how="left")
        j = j[~j.index.duplicated()]
        by = j.groupby(j["region"].astype(str))
        out["accidents"] = by.size().reindex(out.index).fillna(0).to_numpy()
        out["casualties"] = by["casualties"].sum().reindex(out.index).fillna(0).to_numpy()
    out["people"] = np.nan
    s = None if context is None else context.settlements
    m = re.fullmatch(r"population_within_(\d+(?:_\d+)?)km", pop_col or "")
    if s is not None and m is not None and "population" in s.columns and len(g_areas):
        radius = float(m.group(1).replace("_", ".")) * 1000.0
        points = s.to_crs(g_areas.crs).geometry.representative_point()
        pop = pd.to_numeric(s["population"], errors="coerce")
        people = []
        for r in out.index:
            geom = g_areas.geometry[g_areas["region"].astype(str).to_numpy() == r]
            near = points.dwithin(geom.union_all(), radius) if len(geom) else points.isna()
            people.append(float(pop[near.to_numpy()].sum()))
        out["people"] = people
    return out.reset_index()
