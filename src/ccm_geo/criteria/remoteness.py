"""Remoteness indicators: travel times to settlements and care, people within reach, survivors.

The road graph is built once (:func:`build_road_graph`, in ``criteria.roads`` with the travel
searches) and passed to
:func:`remoteness_indicators`, so the same graph serves every Dask partition.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ccm_geo.criteria._common import (
    check_hazards,
    id_list,
    layer_in_crs,
    number_label,
    pairs_within,
    warn,
)
from ccm_geo.criteria.roads import (
    RoadGraph,
    _attach,
    _penalised,
    _travel,
    _within_travel,
    build_road_graph,
)
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.errors import InputError
from ccm_geo.model import Context

__all__ = ["remoteness_indicators", "remoteness_columns", "settlement_access"]


def remoteness_columns(settings: CriteriaSettings | None = None) -> list[str]:
    """Names of the columns :func:`remoteness_indicators` returns, in order."""
    rs = (settings or CriteriaSettings()).remoteness
    return [
        "travel_min_settlement",
        "nearest_settlement_id",
        "travel_min_health",
        "nearest_health_id",
        f"population_within_{number_label(rs.population_radius_km)}km",
        f"population_within_{number_label(rs.population_travel_min)}min",
        "survivors_nearby",
        "survivors_travel_min_health",
        "near_remote_survivors",
    ]


def remoteness_indicators(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    graph: RoadGraph | None = None,
    reference_date: dt.date | None = None,
) -> pd.DataFrame:
    """Travel times, people within reach and survivors' access to care, for each area.

    Travel from an area starts at a point on its surface (``point_on_surface``), walks
    straight to the nearest road node at ``offroad_speed_kmh``, follows the fastest road
    route, and walks from the road node nearest the destination to it. A straight walk from
    the area to the destination replaces the route when it is quicker and takes at most
    ``direct_walk_max_min``.

    Parameters
    ----------
    hazards : geopandas.GeoDataFrame
        Hazardous areas in the project's metric CRS, with ``hazard_id``.
    context : ccm_geo.model.Context
        ``roads``, ``settlements`` (``settlement_id``, ``population``), ``health``
        (``facility_id``) and ``accidents`` (``injured``, ``survivor_settlement_id``).
    settings : CriteriaSettings, optional
        ``settings.remoteness``.
    graph : RoadGraph, optional
        The graph from :func:`build_road_graph`; built here from ``context.roads`` when None
        (pass it in when calling per partition, so it is built once).
    reference_date : datetime.date, optional
        Accidents after this day are ignored for the survivor indicators.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hazard_id`` in the input's order, columns :func:`remoteness_columns`:

        - ``travel_min_settlement`` (min) and ``nearest_settlement_id``: the quickest
          settlement to reach.
        - ``travel_min_health`` (min) and ``nearest_health_id``: the quickest health facility.
        - ``population_within_<R>km``: population of settlements whose point is at most R km
          (straight line) from the polygon.
        - ``population_within_<T>min``: population of settlements reachable within T minutes.
        - ``survivors_nearby``: survivors (people injured in accidents up to the reference
          date) whose home village (``survivor_settlement_id``) is reachable from the area
          within ``survivor_radius_min``.
        - ``survivors_travel_min_health``: those villages' travel time to the nearest health
          facility (min): the largest, or the survivor-weighted mean when
          ``survivor_travel_aggregate = "mean"``; NaN when no survivor village is in reach.
        - ``near_remote_survivors``: a survivor village in reach is more than
          ``remote_threshold_min`` from care.

        An accident without an ``injured`` count follows the casualty indicators' policy
        (``criteria.contamination.unknown_casualties``): one survivor when killed is unknown
        too and the policy is ``"one_event"``, otherwise no data, which makes
        ``survivors_nearby`` (and the ``"mean"`` travel) NaN for the areas reaching its village.

        Where the network offers no route, travel is ``unreachable_penalty_min`` (finite) and a
        DataWarning names the areas. A missing layer gives NaN (None for ids) in the columns it
        feeds, with a DataWarning.

    Notes
    -----
    ``population_within_<T>min`` and the survivor columns come from shortest-path searches
    out of each settlement, bounded by the time limit, run in blocks of settlements
    (``chunk_bytes``); the cost grows with settlements × the nodes within the limit, not with
    the number of areas, which suits registers of 10^5 areas and 10^3-10^4 settlements.
    """
    settings = settings or CriteriaSettings()
    rs = settings.remoteness
    ids = check_hazards(hazards)
    cols = remoteness_columns(settings)
    n = len(hazards)
    out = pd.DataFrame(index=ids)
    nan = np.full(n, np.nan)
    for c in cols:
        out[c] = None if c.endswith("_id") else nan

    settlements = _points_layer(context.settlements, hazards.crs, "settlements", "settlement_id")
    health = _points_layer(context.health, hazards.crs, "health", "facility_id")
    roads = context.roads if graph is None else graph
    missing = [
        name
        for name, layer in (
            ("roads", roads),
            ("settlements", settlements),
            ("health", health),
            ("accidents", context.accidents),
        )
        if layer is None
    ]
    if missing:
        warn(
            f"criteria: no {', '.join(missing)} layer; the remoteness indicators fed by it are "
            "NaN for every area (see docs/criteria.md)"
        )

    if settlements is not None:
        pop, unknown_pop = _population(settlements, rs.unknown_population)
        i_pt, i_poly = pairs_within(
            settlements.geometry.to_numpy(),
            hazards.geometry.to_numpy(),
            rs.population_radius_km * 1000.0,
        )
        total = np.bincount(i_poly, weights=pop[i_pt], minlength=n)
        unknown_in = np.bincount(i_poly, weights=unknown_pop[i_pt], minlength=n)
        out[cols[4]] = _no_data_where(total, unknown_in)

    if roads is None or n == 0:
        return out[cols]
    if graph is None:
        graph = build_road_graph(layer_in_crs(context.roads, hazards.crs, "roads"), settings)
    if graph.crs is not None and hazards.crs is not None and CRS(graph.crs) != CRS(hazards.crs):
        msg = (
            f"criteria: the road graph is in {graph.crs} but the hazards in "
            f"{CRS(hazards.crs).to_string()}; build it from roads in the project's CRS"
        )
        raise InputError(msg)
    if graph.n_nodes == 0:
        warn(
            "criteria: the roads layer holds no usable lines; travel and reach indicators are "
            "NaN for every area"
        )
        return out[cols]

    walk = rs.offroad_speed_kmh * 1000.0 / 60.0  # m per minute
    area_xy = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.to_numpy()))
    area_node, area_off = _attach(graph, area_xy, walk)

    if settlements is not None:
        s_xy = shapely.get_coordinates(settlements.geometry.to_numpy())
        s_ids = settlements["settlement_id"].astype(str).to_numpy()
        t, near = _travel(graph, area_node, area_off, area_xy, s_xy, walk, rs)
        out["travel_min_settlement"] = _penalised(t, ids, rs, "settlement")
        out["nearest_settlement_id"] = np.where(near >= 0, s_ids[np.maximum(near, 0)], None)
        reach = _within_travel(
            graph,
            area_node,
            area_off,
            area_xy,
            s_xy,
            np.column_stack([pop, unknown_pop]),
            walk,
            rs.population_travel_min,
            rs,
        )
        out[cols[5]] = _no_data_where(reach[:, 0], reach[:, 1])

    if health is not None:
        h_xy = shapely.get_coordinates(health.geometry.to_numpy())
        h_ids = health["facility_id"].astype(str).to_numpy()
        t, near = _travel(graph, area_node, area_off, area_xy, h_xy, walk, rs)
        out["travel_min_health"] = _penalised(t, ids, rs, "health facility")
        out["nearest_health_id"] = np.where(near >= 0, h_ids[np.maximum(near, 0)], None)

    if settlements is not None and health is not None and context.accidents is not None:
        rule = settings.contamination.unknown_casualties
        survivors = _survivor_villages(context.accidents, settlements, reference_date, rule)
        _survivor_indicators(
            out, graph, area_node, area_off, area_xy, s_xy, s_ids, h_xy, survivors, walk, rs
        )
    return out[cols]


def settlement_access(
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    graph: RoadGraph | None = None,
) -> pd.DataFrame:
    """Each settlement's travel time to the nearest health facility, over the road network.

    The same travel model as :func:`remoteness_indicators` (walk to the nearest road node,
    fastest route, walk to the facility; a direct walk when quicker), so that a village's
    "minutes to care" is one number wherever it is shown (criteria, victim-assistance tables).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``settlement_id``: ``travel_min_health`` (min; ``unreachable_penalty_min``
        where no route exists, with a DataWarning) and ``nearest_health_id``. Empty when
        settlements, health facilities or roads are missing.
    """
    settings = settings or CriteriaSettings()
    rs = settings.remoteness
    cols = ["travel_min_health", "nearest_health_id"]
    settlements, health = context.settlements, context.health
    if settlements is None or health is None or (graph is None and context.roads is None):
        return pd.DataFrame(columns=cols, index=pd.Index([], name="settlement_id"))
    crs = settlements.crs
    settlements = _points_layer(settlements, crs, "settlements", "settlement_id")
    health = _points_layer(health, crs, "health", "facility_id")
    if settlements is None or health is None:  # layers with no usable rows
        return pd.DataFrame(columns=cols, index=pd.Index([], name="settlement_id"))
    if graph is None:
        graph = build_road_graph(layer_in_crs(context.roads, crs, "roads"), settings)
    ids = pd.Index(settlements["settlement_id"].astype(str), name="settlement_id")
    if graph.n_nodes == 0 or len(health) == 0:
        return pd.DataFrame({c: np.nan for c in cols}, index=ids)
    walk = rs.offroad_speed_kmh * 1000.0 / 60.0
    s_xy = shapely.get_coordinates(settlements.geometry.to_numpy())
    h_xy = shapely.get_coordinates(health.geometry.to_numpy())
    node, off = _attach(graph, s_xy, walk)
    t, near = _travel(graph, node, off, s_xy, h_xy, walk, rs)
    h_ids = health["facility_id"].astype(str).to_numpy()
    return pd.DataFrame(
        {
            "travel_min_health": _penalised(
                t, ids, rs, "health facility", "settlements", "settlement_id"
            ),
            "nearest_health_id": np.where(near >= 0, h_ids[np.maximum(near, 0)], None),
        },
        index=ids,
    )


def _points_layer(layer, crs, name: str, id_col: str) -> gpd.GeoDataFrame | None:
    """A point layer in ``crs`` without rows lacking a location (warned), or None."""
    if layer is None:
        return None
    layer = layer_in_crs(layer, crs, name)
    geoms = layer.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if id_col not in layer.columns:
        msg = f"criteria: the {name} layer has no {id_col!r} column; load it through ccm_geo.io"
        raise InputError(msg)
    if bad.any():
        warn(
            f"criteria: {int(bad.sum())} {name} have no location and are left out: "
            f"{id_col} {id_list(layer[id_col][bad])}"
        )
        layer = layer[~bad]
    if shapely.get_type_id(layer.geometry.to_numpy()).max(initial=0) != 0:
        layer = layer.set_geometry(shapely.point_on_surface(layer.geometry.to_numpy()))
    if len(layer) == 0:
        warn(f"criteria: the {name} layer is empty; its indicators are NaN")
        return None
    return layer


def _population(settlements: gpd.GeoDataFrame, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """Population of each settlement (0 where unknown) and a 0/1 mark of the unknown ones.

    Under ``policy = "zero"`` nothing is marked unknown (the unknown count 0 people); under
    ``"no_data"`` the callers turn a sum that includes an unknown into NaN. Either way a
    warning says how many settlements have no figure and what was done.
    """
    n = len(settlements)
    if "population" in settlements.columns:
        pop = pd.to_numeric(settlements["population"], errors="coerce")
    else:
        pop = pd.Series(np.nan, index=settlements.index)
    unknown = pop.isna().to_numpy()
    if unknown.any():
        what = (
            "population_within_* is NaN (no data) for areas that count any of them "
            "(criteria.remoteness.unknown_population = 'no_data')"
            if policy == "no_data"
            else "each counted as 0 people (criteria.remoteness.unknown_population = 'zero')"
        )
        warn(
            f"criteria: population: {int(unknown.sum()):,} of {n:,} settlements have none; "
            f"{what}: settlement_id {id_list(settlements['settlement_id'][unknown])}"
        )
    mark = unknown.astype(float) if policy == "no_data" else np.zeros(n)
    return pop.fillna(0).to_numpy(dtype=float), mark


def _no_data_where(total: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """People counted (float), NaN where a settlement of unknown population was counted."""
    out = np.round(total).astype(float)
    out[unknown > 0] = np.nan
    return out


def _survivor_villages(
    accidents, settlements, reference_date, unknown_casualties: str = "one_event"
) -> pd.Series:
    """Survivors (people injured) per home settlement index, from accidents up to the date.

    An accident that names a survivor's home village but gives no ``injured`` count follows
    the missing-data policy of the casualty indicators: with no ``killed`` count either, it
    is one survivor under ``unknown_casualties = "one_event"`` (an accident records at least
    one casualty, and this one names a survivor) and no data (NaN) under ``"no_data"``; with
    ``killed`` known, the injured count is no data (NaN) under either setting. A warning
    says how many accidents each rule applied to. Villages with a NaN count still count as
    survivor villages for the travel and remoteness columns.
    """
    acc = accidents
    if "survivor_settlement_id" not in acc.columns:
        warn("criteria: the accidents layer has no 'survivor_settlement_id'; no survivors known")
        return pd.Series(dtype=float)
    acc = acc[acc["survivor_settlement_id"].notna()]
    if reference_date is not None and "date" in acc.columns:
        acc = acc[
            pd.to_datetime(acc["date"], errors="coerce").dt.normalize()
            <= pd.Timestamp(reference_date)
        ]

    def count(col: str) -> pd.Series:
        if col not in acc.columns:
            return pd.Series(np.nan, index=acc.index)
        return pd.to_numeric(acc[col], errors="coerce").astype(float)

    injured, killed = count("injured"), count("killed")
    aid = acc["accident_id"] if "accident_id" in acc.columns else pd.Series(acc.index, acc.index)
    neither = injured.isna() & killed.isna()
    partial = injured.isna() & killed.notna()
    if partial.any():
        warn(
            f"criteria: {int(partial.sum()):,} accidents that name a survivor's home village "
            "give killed but not injured; their survivors are no data, so survivors_nearby "
            f"is NaN for the areas that reach those villages: accident_id {id_list(aid[partial])}"
        )
    if neither.any():
        one_event = unknown_casualties == "one_event"
        rule = (
            "each counts as one survivor (criteria.contamination.unknown_casualties = 'one_event')"
            if one_event
            else "survivors_nearby is NaN (no data) for the areas that reach their villages "
            "(criteria.contamination.unknown_casualties = 'no_data')"
        )
        warn(
            f"criteria: {int(neither.sum()):,} accidents that name a survivor's home village "
            f"give neither killed nor injured; {rule}: accident_id {id_list(aid[neither])}"
        )
        if one_event:
            injured = injured.mask(neither, 1.0)
    pos = pd.Series(
        np.arange(len(settlements)), index=settlements["settlement_id"].astype(str).to_numpy()
    )
    home = acc["survivor_settlement_id"].astype(str)
    unknown = ~home.isin(pos.index)
    if unknown.any():
        warn(
            f"criteria: {int(unknown.sum())} accidents name a survivor_settlement_id that is not "
            f"in the settlements layer and are left out: accident_id {id_list(aid[unknown])}"
        )
    known = ~unknown.to_numpy()
    by = injured[known].groupby(pos[home[known]].to_numpy())
    per = by.sum().where(by.count() == by.size())  # NaN where any count is no data
    return per[(per > 0) | per.isna()]


def _survivor_indicators(
    out, graph, area_node, area_off, area_xy, s_xy, s_ids, h_xy, survivors, walk, rs
) -> None:
    """Fill survivors_nearby, survivors_travel_min_health and near_remote_survivors."""
    n_areas = len(area_node)
    villages = survivors.index.to_numpy(dtype=np.int64)
    no_data = survivors.isna().to_numpy(dtype=float)
    count = survivors.fillna(0).to_numpy(dtype=float)
    if len(villages) == 0:
        out["survivors_nearby"] = np.zeros(n_areas, dtype=np.int64)
        out["near_remote_survivors"] = np.zeros(n_areas, dtype=bool)
        return
    v_xy = s_xy[villages]
    v_node, v_off = _attach(graph, v_xy, walk)
    h, _ = _travel(graph, v_node, v_off, v_xy, h_xy, walk, rs)
    bad = ~np.isfinite(h)
    if bad.any():
        warn(
            f"criteria: {int(bad.sum())} survivor villages have no road route to any health "
            f"facility: settlement_id {id_list(s_ids[villages[bad]])}; their travel time is "
            f"set to unreachable_penalty_min = {rs.unreachable_penalty_min:g}"
        )
    h = np.where(bad, rs.unreachable_penalty_min, h)
    remote = (h > rs.remote_threshold_min).astype(float)
    worst = np.full(n_areas, -np.inf)

    def _worst(src, area):
        np.maximum.at(worst, area, h[src])

    w = np.column_stack([count, count * h, remote, no_data])
    acc = _within_travel(
        graph,
        area_node,
        area_off,
        area_xy,
        v_xy,
        w,
        walk,
        rs.survivor_radius_min,
        rs,
        reduce=_worst,
    )
    nearby = acc[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where((nearby > 0) & (acc[:, 3] == 0), acc[:, 1] / nearby, np.nan)
    if no_data.any():  # a village of unknown survivors in reach: no data
        out["survivors_nearby"] = np.where(acc[:, 3] > 0, np.nan, nearby.round())
    else:
        out["survivors_nearby"] = nearby.round().astype(np.int64)
    out["survivors_travel_min_health"] = (
        np.where(np.isfinite(worst), worst, np.nan)
        if rs.survivor_travel_aggregate == "max"
        else mean
    )
    out["near_remote_survivors"] = acc[:, 2] > 0
