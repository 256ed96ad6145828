"""Small helpers the request's parts share: numbers that may be missing, dates, the radius,
people by group.

``WORKING_DAYS_PER_YEAR`` is the team-year used when the planning settings are not given.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from ccm_geo.model import population_reach

#: Working days of a team per year when the planning settings are not given (Lao PDR planning
#: figure, DOMAIN.md); a team-month is a twelfth of it.
WORKING_DAYS_PER_YEAR = 220.0


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float | np.number) and math.isfinite(float(v))


def _as_date(v) -> dt.date | None:
    if v is None or v == "":
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def population_radius_km(pop_col: str | None) -> float | None:
    """The radius (km) of a ``population_within_<R>km`` column (``2_5`` is 2.5), else None."""
    reach = population_reach(pop_col)
    return reach[0] if reach is not None and reach[1] == "km" else None


def _population_column(areas: pd.DataFrame) -> str | None:
    """``population_within_5km`` when present, else the nearest other radius, else None."""
    cols = [c for c in areas.columns if c.startswith("population_within_")]
    if not cols:
        return None
    if "population_within_5km" in cols:
        return "population_within_5km"

    def radius(c: str) -> float:
        r = population_radius_km(c)
        return math.inf if r is None else abs(r - 5.0)

    return sorted(cols, key=lambda c: (radius(c), c))[0]


def people_by(pairs: pd.DataFrame, key: str) -> pd.Series:
    """People per ``key`` from (village, ``key``) pairs, each village once per group, with its
    ``population``: the sum, or NaN where one of the group's villages has no population
    (unknown is neither 0 people nor the other villages' sum). A group without villages is
    absent."""
    out = pairs.groupby(key)["population"].sum()
    out[pairs["population"].isna().groupby(pairs[key]).any()] = np.nan
    return out
