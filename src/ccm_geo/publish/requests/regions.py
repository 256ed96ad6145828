"""The context by region: hazardous areas, cluster munition and mined hectares, accidents,
casualties and the people living near the areas."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ccm_geo.model import CMR_TYPES, MINE_TYPES, split_contamination
from ccm_geo.publish.requests.common import people_by, population_radius_km
from ccm_geo.publish.settings import DonorProfile
from ccm_geo.publish.shared import memo

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
    population radius of any of the region's areas, each village counted once: no data (NaN)
    where one of those villages has no population, 0 where no village is within the radius.
    """
    acc = None if context is None else context.accidents
    s = None if context is None else context.settlements
    radius_km = population_radius_km(pop_col)
    # what does not depend on the donor: worked out once for every donor of the run
    by_region, accidents, pairs = memo(
        areas,
        ("context_regions", radius_km),
        lambda: _region_facts(areas, acc, s, radius_km),
        also=(acc, s),
    )
    if len(package):
        regions = sorted(package["region"].astype(str).unique())
    elif donor.regions:
        regions = sorted(donor.regions)
    else:
        regions = list(by_region.index)
    out = by_region.reindex(regions).fillna(0.0)
    out["accidents"] = np.nan
    out["casualties"] = np.nan
    if accidents is not None:
        region, cas = accidents
        by = cas.groupby(region.to_numpy())
        out["accidents"] = by.size().reindex(out.index).fillna(0).to_numpy()
        out["casualties"] = by.sum().reindex(out.index).fillna(0).to_numpy()
    out["people"] = np.nan
    if pairs is not None:
        # no village within the radius: 0 people; a village there without a population: no
        # data (NaN), never 0 nor the sum of the others (the packages' rule too)
        people = people_by(pairs, "region")
        near = out.index.isin(people.index)
        out["people"] = np.where(near, people.reindex(out.index).to_numpy(), 0.0)
    return out.reset_index()


def _region_facts(areas: pd.DataFrame, acc, s, radius_km: float | None):
    """Areas and hectares by region; each accident's region and casualties; the (village,
    region) pairs within the population radius with the village's people."""
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
    by_region = frame.groupby("region", sort=True).sum()
    wants_people = s is not None and radius_km is not None and "population" in s.columns
    if not len(g_areas) or not ((acc is not None and len(acc)) or wants_people):
        return by_region, None, None
    # one spatial index of the areas serves both questions: the nearest area of each
    # accident, and the areas within the radius of each village
    from shapely import STRtree

    geoms = g_areas.geometry.to_numpy()
    ok = ~pd.isna(pd.Series(geoms, dtype=object)).to_numpy()
    tree = STRtree(geoms[ok])
    area_region = a["region"].astype(str).to_numpy()[ok]
    accidents = pairs = None
    if acc is not None and len(acc):
        casualties = pd.to_numeric(acc.get("killed", 0), errors="coerce").fillna(0) + pd.to_numeric(
            acc.get("injured", 0), errors="coerce"
        ).fillna(0)
        pts = acc.geometry.to_crs(g_areas.crs).to_numpy()
        have = ~pd.isna(pd.Series(pts, dtype=object)).to_numpy()
        src, hit = tree.query_nearest(pts[have], all_matches=False)
        region = pd.Series(area_region[hit], index=src)
        cas = pd.Series(np.asarray(casualties, dtype=float)[have][src], index=src)
        accidents = (region, cas)
    if wants_people:
        radius = radius_km * 1000.0
        points = s.to_crs(g_areas.crs).geometry.representative_point().to_numpy()
        pop = pd.to_numeric(s["population"], errors="coerce").to_numpy(dtype=float)
        # every (village, area) pair within the radius; each village counted once per region
        vil, hit = tree.query(points, predicate="dwithin", distance=radius)
        pairs = pd.DataFrame({"village": vil, "region": area_region[hit]}).drop_duplicates()
        pairs["population"] = pop[pairs["village"].to_numpy()]
    return by_region, accidents, pairs
