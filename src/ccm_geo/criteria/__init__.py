"""Criteria: raw indicator columns for every hazardous area (one module per criterion family).

Each family is a pure function ``(hazards, context, settings) -> DataFrame`` indexed by
``hazard_id``; :func:`compute_criteria` runs them all, building the road graph once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import geopandas as gpd
import pandas as pd

from ccm_geo.criteria._common import check_hazards, id_list, warn
from ccm_geo.criteria.contamination import contamination_columns, contamination_indicators
from ccm_geo.criteria.landuse import landuse_columns, landuse_indicators
from ccm_geo.criteria.remoteness import (
    remoteness_columns,
    remoteness_indicators,
    settlement_access,
)
from ccm_geo.criteria.risk import risk_columns, risk_indicators
from ccm_geo.criteria.roads import RoadGraph, area_travel, build_road_graph
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.model import Context

__all__ = [
    "compute_criteria",
    "criteria_columns",
    "register_wide_indicators",
    "contamination_indicators",
    "landuse_indicators",
    "remoteness_indicators",
    "risk_indicators",
    "settlement_access",
    "area_travel",
    "build_road_graph",
    "RoadGraph",
    "CriteriaSettings",
]


def compute_criteria(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    reference_date: dt.date,
    progress: Callable[[str], None] | None = None,
    graph: RoadGraph | None = None,
    register_wide: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every indicator of every hazardous area: contamination, land use, remoteness, risk.

    Parameters
    ----------
    hazards : geopandas.GeoDataFrame
        Hazardous areas with the contract columns, in the project's metric CRS.
    context : ccm_geo.model.Context
        Context layers (any may be None: its indicators are NaN, with a DataWarning).
    settings : CriteriaSettings, optional
        The [criteria] section; defaults when None.
    reference_date : datetime.date
        The day the indicators describe (recent accidents are counted back from it).
    progress : callable, optional
        Called with the name of each step as it starts ("contamination", "landuse",
        "road graph", "remoteness", "risk"); the library itself prints nothing.
    graph : RoadGraph, optional
        A road graph already built from ``context.roads`` (e.g. shared by Dask partitions);
        built once here when None.
    register_wide : pandas.DataFrame, optional
        The remoteness and risk indicators already computed over the whole register (indexed
        by ``hazard_id``; a superset of these hazards is fine). Network travel needs the whole
        road graph, and risk shares each accident (and each record's evidence) among all the
        areas near it, so neither is local to a part of the register: the Dask engine computes
        them once and each spatial partition takes its rows from here.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hazard_id`` in the input's row order, with the columns of
        :func:`criteria_columns` in that order. See docs/criteria.md for each indicator.
    """
    settings = settings or CriteriaSettings()
    ids = check_hazards(hazards, context.crs)
    step = progress or (lambda _name: None)
    step("contamination")
    if register_wide is not None and settings.contamination.share_casualties:
        warn(
            "criteria: criteria.contamination.share_casualties shares each accident's toll "
            "among the areas of this part of the register only; areas at its border get "
            "larger shares than in one whole run (set it to false for identical results)"
        )
    parts = [contamination_indicators(hazards, context, settings, reference_date=reference_date)]
    step("landuse")
    parts.append(landuse_indicators(hazards, context, settings))
    if register_wide is not None:
        rows = _onto_areas(register_wide, ids, "the register-wide indicators given")
        parts.append(rows[remoteness_columns(settings) + risk_columns(settings)])
    else:
        parts.append(
            register_wide_indicators(
                hazards, context, settings, graph=graph, reference_date=reference_date, step=step
            )
        )
    out = pd.concat(parts, axis=1)
    return out[criteria_columns(context, settings)]


def register_wide_indicators(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings,
    *,
    graph: RoadGraph | None,
    reference_date: dt.date,
    step: Callable[[str], None],
) -> pd.DataFrame:
    """Remoteness and risk: the criteria that read the whole register (the road graph, every
    area's neighbours), so a spatial partition cannot compute them alone.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``hazard_id`` in the input's row order, one row per area (both families
        index their rows by the ids ``check_hazards`` returns).
    """
    if graph is None and context.roads is not None:
        step("road graph")
        graph = build_road_graph(context.roads, settings)
    step("remoteness")
    remote = remoteness_indicators(
        hazards, context, settings, graph=graph, reference_date=reference_date
    )
    step("risk")
    risk = risk_indicators(hazards, context, settings, reference_date=reference_date)
    return pd.concat([remote, risk], axis=1)  # both indexed by the areas' ids, in order


def _onto_areas(frame: pd.DataFrame, ids: pd.Index, what: str) -> pd.DataFrame:
    """``frame`` (indexed by ``hazard_id``) reindexed onto the areas ``ids``; the areas it
    lacks get NaN (no data), said in a DataWarning with their count and first ids."""
    index = frame.index.astype(str)
    if index.equals(ids):  # the usual case: one row per area, in order
        return frame.set_axis(ids, axis=0)
    lacking = ~ids.isin(index)
    if lacking.any():
        warn(
            f"criteria: {what} lack {int(lacking.sum()):,} of the {len(ids):,} areas; their "
            f"columns are NaN (no data) for them: hazard_id {id_list(ids[lacking])}. Compute "
            "them over the whole register these areas belong to"
        )
    return frame.set_axis(index, axis=0).reindex(ids)


def criteria_columns(context: Context, settings: CriteriaSettings | None = None) -> list[str]:
    """The columns :func:`compute_criteria` returns, in order (they depend on the settings'
    windows and radii and on the land-cover class table)."""
    settings = settings or CriteriaSettings()
    return (
        contamination_columns(settings)
        + landuse_columns(context.landcover_classes or {}, settings)
        + remoteness_columns(settings)
        + risk_columns(settings)
    )
