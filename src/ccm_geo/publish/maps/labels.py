"""Words a planner reads instead of column names: a label, a unit and the digits to show."""

from __future__ import annotations

import re

from ccm_geo.model import population_reach

__all__ = ["indicator_label", "criterion_label", "NO_ROUTE"]

#: What a travel time at the no-route penalty is shown as.
NO_ROUTE = "no road route"

_KNOWN = {
    "accidents_24m": ("Accidents in the last 24 months", "", 0),
    "devices_per_ha": ("Devices found per hectare", "/ha", 2),
    "devices_found": ("Devices found", "", 0),
    "travel_min_settlement": ("Travel from the nearest settlement", "min", 0),
    "travel_min_health": ("Travel to the nearest health facility", "min", 0),
    "survivors_travel_min": ("Survivors' travel to care", "min", 0),
    "survivors_travel_min_health": ("Survivors' travel to care", "min", 0),
}
_PLACES = {"health": "health facility", "settlement": "settlement", "school": "school"}


def indicator_label(column: str) -> dict:
    """``{"label", "unit", "digits", "travel"}`` for an indicator column.

    ``travel`` is True for travel times (minutes), whose no-route penalty the page shows as
    "no road route". ``population_within_<R>km`` and ``population_within_<T>min`` (``2_5``
    is 2.5) are head counts within a distance or a travel time, read by the one parser the
    requests use (:func:`ccm_geo.model.population_reach`). Unknown columns
    get their name in words and the unit of their suffix (``_min``: min, ``_m2``: m², ``_ha``:
    ha, ``_km``: km, ``_usd``: US$, ``_frac``: %).

    Examples
    --------
    >>> indicator_label("travel_min_health")["label"]
    'Travel to the nearest health facility'
    >>> indicator_label("population_within_5km")["label"]
    'Population within 5 km'
    >>> indicator_label("population_within_2_5km")["label"]
    'Population within 2.5 km'
    >>> indicator_label("population_within_30min")["label"]
    'Population within 30 min of travel'
    >>> indicator_label("landuse_frac_cropland")["unit"]
    '%'
    """
    if column in _KNOWN:
        label, unit, digits = _KNOWN[column]
        return {"label": label, "unit": unit, "digits": digits, "travel": unit == "min"}
    reach = population_reach(column)  # a head count, not a travel time
    if reach is not None:
        number, unit = reach
        within = f"{number:g} km" if unit == "km" else f"{number:g} min of travel"
        return {"label": f"Population within {within}", "unit": "", "digits": 0, "travel": False}
    m = re.fullmatch(r"travel_min_(\w+)", column)
    if m:
        place = _PLACES.get(m.group(1), m.group(1).replace("_", " "))
        return {
            "label": f"Travel to the nearest {place}",
            "unit": "min",
            "digits": 0,
            "travel": True,
        }
    m = re.fullmatch(r"landuse_frac_(\w+)", column)
    if m:
        return {
            "label": f"Land use: {m.group(1).replace('_', ' ')}",
            "unit": "%",
            "digits": 0,
            "travel": False,
            "scale": 100,
        }
    words, unit, digits = column, "", 2
    for suffix, u, d in (
        ("_min", "min", 0),
        ("_m2", "m²", 0),
        ("_ha", "ha", 2),
        ("_km", "km", 1),
        ("_usd", "US$", 0),
        ("_frac", "%", 0),
    ):
        if column.endswith(suffix):
            words, unit, digits = column[: -len(suffix)], u, d
            break
    out = {"label": _sentence(words), "unit": unit, "digits": digits, "travel": unit == "min"}
    if unit == "%":
        out["scale"] = 100
    return out


def criterion_label(name: str) -> str:
    """A criterion's name in words: ``settlement_access`` -> ``Settlement access``; a criterion
    named after a population column reads as that column does.

    Examples
    --------
    >>> criterion_label("settlement_access")
    'Settlement access'
    >>> criterion_label("population_within_2_5km")
    'Population within 2.5 km'
    """
    if population_reach(name) is not None:
        return indicator_label(name)["label"]
    return _sentence(name)


def _sentence(words: str) -> str:
    text = re.sub(r"_+", " ", words).strip()
    return text[:1].upper() + text[1:] if text else words
