"""What a request's victim-assistance and risk-education packages need: survivors' villages and
their travel to care, people near the areas that remain, and the cost of reaching them."""

from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.criteria._common import id_list
from ccm_geo.errors import DataWarning
from ccm_geo.model import CMR_TYPES, split_contamination
from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import people_by, population_radius_km
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context

__all__ = ["victim_assistance_needs", "REMOTE_MIN", "HEALTH_SPEED_KMH"]

logger = logging.getLogger(__name__)

#: A survivor's village is remote when care is more than this far away, minutes (assumed: one
#: hour, the threshold of the WHO's emergency-care access indicators).
REMOTE_MIN = 60.0
#: Speed on the straight line to the nearest health facility when the criteria stage gave no
#: ``travel_min_health`` for settlements, km/h (assumed: rural tracks, as the planner's
#: ``travel_speed_kmh``). Straight lines underestimate the time: the table says so.
HEALTH_SPEED_KMH = 20.0


def victim_assistance_needs(
    context: Context | None,
    *,
    remote_min: float = REMOTE_MIN,
    speed_kmh: float = HEALTH_SPEED_KMH,
) -> pd.DataFrame:
    """Survivors by home village, with the village's travel time to medical care.

    Parameters
    ----------
    context
        ``accidents`` (``killed``, ``injured``, ``survivor_settlement_id``), ``settlements``
        (``settlement_id``, ``name``, optionally ``region`` and ``travel_min_health`` from the
        criteria stage) and ``health`` facilities (points); ``admin`` gives the region when
        settlements carry none.
    remote_min
        Villages further than this from care (minutes) are flagged ``remote``.
    speed_kmh
        Straight-line speed to the nearest health facility, km/h, used when settlements carry
        no ``travel_min_health`` (an underestimate of the true time: roads are longer).

    Returns
    -------
    pandas.DataFrame
        One row per village with recorded survivors, most survivors first (``settlement_id``
        as tie-break): ``settlement_id``, ``name``, ``region``, ``accidents``, ``survivors``
        (injured), ``killed``, ``travel_min_health``, ``travel_source``, ``remote``. Empty when
        the accidents carry no survivor village.
    """
    cols = [
        "settlement_id",
        "name",
        "region",
        "accidents",
        "survivors",
        "killed",
        "travel_min_health",
        "travel_source",
        "remote",
    ]
    acc = None if context is None else context.accidents
    if acc is None or "survivor_settlement_id" not in acc.columns:
        return pd.DataFrame(columns=cols)
    a = pd.DataFrame(
        {
            "settlement_id": acc["survivor_settlement_id"],
            "survivors": pd.to_numeric(acc.get("injured", 0), errors="coerce"),
            "killed": pd.to_numeric(acc.get("killed", 0), errors="coerce"),
        }
    )
    a = a[a["settlement_id"].notna() & (a["settlement_id"].astype(str) != "")]
    if not len(a):
        return pd.DataFrame(columns=cols)
    a["settlement_id"] = a["settlement_id"].astype(str)
    g = (
        a.groupby("settlement_id", sort=True)
        .agg(
            accidents=("survivors", "size"),
            survivors=("survivors", "sum"),
            killed=("killed", "sum"),
        )
        .reset_index()
    )
    g[["survivors", "killed"]] = g[["survivors", "killed"]].fillna(0).astype(int)
    s = context.settlements
    if s is None or not len(s):
        g["name"], g["region"] = "unknown settlement", "unknown"
        g["travel_min_health"], g["travel_source"] = np.nan, "no settlements layer"
    else:
        info = _settlement_travel(context, speed_kmh)
        g = g.merge(info, on="settlement_id", how="left")
        g["name"] = g["name"].fillna("unknown settlement")
        g["region"] = g["region"].fillna("unknown")
        g["travel_source"] = g["travel_source"].fillna("settlement not in the settlements layer")
    g["remote"] = pd.to_numeric(g["travel_min_health"], errors="coerce") > remote_min
    g = g.sort_values(["survivors", "settlement_id"], ascending=[False, True], kind="stable")
    return g[cols].reset_index(drop=True)


def _unique_beneficiaries(
    pkg: gpd.GeoDataFrame, context: Context | None, pop_col: str | None
) -> float | None:
    """People in the villages within the radius of ``pop_col`` of *any* package area, each
    village counted once (the per-area column counts a village once per nearby area).

    None when there are no settlements or no radius in the column name (``..._<r>km``).
    """

    if not len(pkg):
        return None
    people = _people_by_group(
        pkg.geometry.to_numpy(), np.zeros(len(pkg), dtype=int), pkg.crs, context, pop_col
    )
    if people is None:
        return None
    return float(people.get(0, 0.0))  # NaN: some nearby village's population is unknown


def _people_by_group(
    geoms: np.ndarray, groups: np.ndarray, crs, context: Context | None, pop_col: str | None
) -> pd.Series | None:
    """People in the villages within the radius of ``pop_col`` of any area of each group,
    each village counted once per group; NaN for a group where a nearby village's population
    is unknown (unknown is not 0 people); a group with no village nearby is absent.

    One spatial index of the areas, queried with every village at once (as the criteria
    measure it: the village's point, straight-line to the area), rather than the union of each
    group's areas. None when there are no settlements or no radius in the column name
    (``..._<r>km``).
    """
    from shapely import STRtree

    if pop_col is None or context is None or context.settlements is None:
        return None
    radius_km = population_radius_km(pop_col)
    s = context.settlements
    if radius_km is None or "population" not in s.columns:
        return None
    radius_m = radius_km * 1000.0
    geoms = np.asarray(geoms, dtype=object)
    groups = np.asarray(groups)
    ok = ~pd.isna(pd.Series(geoms, dtype=object)).to_numpy()
    if not ok.any() or not len(s):
        return pd.Series(dtype=float)
    points = s.to_crs(crs).geometry.representative_point().to_numpy()
    village, hit = STRtree(geoms[ok]).query(points, predicate="dwithin", distance=radius_m)
    pairs = pd.DataFrame({"village": village, "group": groups[ok][hit]}).drop_duplicates()
    pop = pd.to_numeric(s["population"], errors="coerce").to_numpy(dtype=float)
    pairs["population"] = pop[pairs["village"].to_numpy()]
    return people_by(pairs, "group")


def _risk_education(
    areas: pd.DataFrame,
    tasks: pd.DataFrame,
    allocation: Allocation,
    donor: DonorProfile,
    pop_col: str | None,
    context: Context | None = None,
) -> pd.DataFrame:
    """Hazards not released in the plan's first year, by region: where people need RE.

    An area counts as released in the plan year of its last task; an area with any task the
    plan leaves out is not released at all. ``population_nearby`` counts each village within
    the population radius of the region's remaining areas once (with a settlements layer);
    without one it sums the areas' population column (a village near several areas counts
    more than once) and ``population_unique`` is False.
    """
    cand = allocation.candidates
    first = int(cand["year"].min()) if len(cand) else None
    if "hazard_id" in tasks and len(tasks):
        year = pd.to_numeric(tasks["year"], errors="coerce")
        if "selected" in tasks:
            year = year.where(tasks["selected"].astype(bool))
        by_area = pd.DataFrame({"hazard_id": tasks["hazard_id"].astype(str), "year": year})
        grouped = by_area.groupby("hazard_id")["year"]
        left_out = by_area["year"].isna().groupby(by_area["hazard_id"]).any()
        last_year = grouped.max().where(~left_out)
    else:
        last_year = pd.Series(dtype=float)
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name))
    if "status" in a:
        a = a[a["status"].astype(str) != "released"]
    a["hazard_id"] = a["hazard_id"].astype(str)
    done = a["hazard_id"].map(last_year)
    a = a[done.isna() | (done > first if first is not None else True)]
    if donor.regions:
        a = a[a["region"].astype(str).isin(donor.regions)]
    a = a.assign(
        cmr=a.get("contamination", "").map(lambda s: bool(split_contamination(s) & CMR_TYPES)),
        area_m2=pd.to_numeric(a.get("area_m2", 0.0), errors="coerce"),
        population=pd.to_numeric(a[pop_col], errors="coerce") if pop_col else np.nan,
    )
    g = (
        a.groupby(a["region"].astype(str), sort=True)
        .agg(
            areas=("hazard_id", "size"),
            area_m2=("area_m2", "sum"),
            cmr_areas=("cmr", "sum"),
            population_nearby=("population", "sum"),
            population_unknown=("population", lambda p: int(p.isna().sum())),
        )
        .reset_index()
    )
    # no data is not 0 people: a region whose figure includes an unknown shows "not estimated"
    g.loc[g.pop("population_unknown") > 0, "population_nearby"] = np.nan
    if pop_col is None:
        g["population_nearby"] = np.nan
    g["population_unique"] = False
    if len(g) and len(a):
        geo = areas.set_index(areas["hazard_id"].astype(str)).geometry
        geo = geo[~geo.index.duplicated()]
        people = _people_by_group(
            geo.reindex(a["hazard_id"]).to_numpy(),
            a["region"].astype(str).to_numpy(),
            areas.crs,
            context,
            pop_col,
        )
        if people is not None:  # a region with no village near its areas has 0 people
            g["population_nearby"] = (
                g["region"]
                .map(people)
                .fillna(0.0)
                .where(~g["region"].isin(people.index[people.isna()]), np.nan)
            )
            g["population_unique"] = True
    return g


def _settlement_travel(context: Context, speed_kmh: float) -> pd.DataFrame:
    s = context.settlements
    out = pd.DataFrame(
        {
            "settlement_id": s["settlement_id"].astype(str),
            "name": s["name"].astype(str) if "name" in s else "",
        }
    )
    if "region" in s.columns:
        out["region"] = s["region"].astype(str).to_numpy()
    elif context.admin is not None and "region" in context.admin.columns:
        import geopandas as gpd

        j = gpd.sjoin(
            s[["geometry"]],
            context.admin[["region", "geometry"]].to_crs(s.crs),
            how="left",
            predicate="within",
        )
        j = j[~j.index.duplicated()]
        out["region"] = j["region"].reindex(s.index).fillna("unknown").astype(str).to_numpy()
    else:
        out["region"] = "unknown"
    road_times = (
        pd.to_numeric(s["travel_min_health"], errors="coerce")
        if "travel_min_health" in s.columns
        else None
    )
    if road_times is not None and road_times.notna().any():
        out["travel_min_health"] = road_times
        out["travel_source"] = "road network (criteria stage)"
    elif context.health is not None and len(context.health):
        import shapely

        tree = shapely.STRtree(context.health.to_crs(s.crs).geometry.to_numpy())
        pts = s.geometry.to_numpy()
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        out["travel_min_health"] = dist / 1000.0 / speed_kmh * 60.0
        out["travel_source"] = f"straight line at {speed_kmh:g} km/h"
    else:
        out["travel_min_health"] = np.nan
        out["travel_source"] = "no health facilities layer"
    return out.drop_duplicates("settlement_id")


def _costed_packages(
    donor: DonorProfile, va: pd.DataFrame | None, ra: pd.DataFrame | None
) -> list[dict[str, Any]]:
    """Victim assistance and risk education packages: people reached × unit cost (US$).

    Risk education whose people are unknown (no population anywhere in its regions) costs
    no data (NaN), with a :class:`DataWarning`: the request leaves it out of its sums and
    says "no data" where its cost would be. Where only some regions' people are unknown, it is
    costed for the others, with a warning naming the regions left out; the document says how
    many (``unknown_regions``).
    """
    out: list[dict[str, Any]] = []
    if va is not None:
        people = float(pd.to_numeric(va["survivors"], errors="coerce").fillna(0).sum())
        unit = donor.victim_assistance_usd_per_survivor
        remote = int(va["remote"].astype(bool).sum()) if len(va) else 0
        out.append(
            {
                "key": "victim_assistance",
                **_unit_source(donor, "victim_assistance"),
                "people": people,
                "places": len(va),
                "remote_places": remote,
                "unit_usd": unit,
                "cost_usd": people * unit,
                "share_funded": 1.0,
            }
        )
    if ra is not None:
        pop = pd.to_numeric(ra["population_nearby"], errors="coerce")
        people = float(pop.sum()) if pop.notna().any() else float("nan")
        unit = donor.risk_education_usd_per_person
        unknown = ra.loc[pop.isna().to_numpy(), "region"].astype(str).tolist()
        if math.isfinite(people) and unknown:
            warnings.warn(
                f"request for {donor.name}: risk education is costed for the people of "
                f"{len(ra) - len(unknown)} of {len(ra)} region(s); the population near the "
                f"areas of {len(unknown)} region(s) is unknown and not costed "
                f"({id_list(unknown)}); "
                "give their villages a 'population' in the settlements register",
                DataWarning,
                stacklevel=2,
            )
        if not math.isfinite(people) and len(ra):
            warnings.warn(
                f"request for {donor.name}: risk education is not costed (no data, not "
                f"US$0): the population near the areas of {len(ra)} region(s) is unknown; "
                "give the settlements register a 'population' column (or the areas a "
                "population column)",
                DataWarning,
                stacklevel=2,
            )
        out.append(
            {
                "key": "risk_education",
                **_unit_source(donor, "risk_education"),
                "people": people,
                "places": int(pd.to_numeric(ra["areas"], errors="coerce").fillna(0).sum()),
                "remote_places": 0,
                "unit_usd": unit,
                # unknown people: no data (NaN), left out of the sums and said so; never 0
                "cost_usd": people * unit if math.isfinite(people) else float("nan"),
                "share_funded": 1.0,
                # regions left out of a costed package because their people are unknown
                "unknown_regions": len(unknown) if math.isfinite(people) else 0,
            }
        )
    return out


#: The unit-cost field of each costed package in ``DonorProfile``.
UNIT_FIELDS = {
    "victim_assistance": "victim_assistance_usd_per_survivor",
    "risk_education": "risk_education_usd_per_person",
}


def _unit_source(donor: DonorProfile, key: str) -> dict[str, Any]:
    """Where a package's unit cost comes from.

    ``unit_source`` is the donor's ``<key>_cost_source`` (its own words, shown as given),
    ``unit_is_default`` whether the unit cost is the tool's default (whose published source
    the request then cites in the document's language).
    """
    field = UNIT_FIELDS[key]
    default = type(donor).model_fields[field].default
    return {
        "unit_source": str(getattr(donor, f"{key}_cost_source") or ""),
        "unit_is_default": bool(getattr(donor, field) == default),
    }
