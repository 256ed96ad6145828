"""OpenStreetMap extracts (``.osm.pbf``) as context layers: roads, places and health sites.

For a programme without a road network of its own: a regional extract (from any OSM mirror,
downloaded by the user) is read with GDAL's OSM driver through pyogrio, and its features are
returned under the data contract's column names, so no ``columns`` mapping is needed::

    [inputs.roads]
    path = "region.osm.pbf"
    layer = "roads"    # "places" under [inputs.settlements], "health" under [inputs.health]
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from ccm_geo.errors import InputError

__all__ = ["OSM_LAYERS", "PLACE_TYPES", "HEALTH_AMENITIES", "is_osm", "read_osm"]

#: The layers an OSM extract gives, and the contract layer each fills.
OSM_LAYERS = {"roads": "roads", "places": "settlements", "health": "health"}
#: ``place=*`` values read as settlements (populated places, not regions).
PLACE_TYPES = ("city", "town", "village", "hamlet", "isolated_dwelling", "suburb", "neighbourhood")
#: ``amenity=*`` / ``healthcare=*`` values read as health facilities.
HEALTH_AMENITIES = ("hospital", "clinic", "doctors", "health_post", "health_centre")
# Ways that are not for vehicles nor walking between places.
_NOT_ROADS = ("proposed", "construction", "abandoned", "platform", "raceway", "bus_stop")


def is_osm(path: str | Path) -> bool:
    """Whether a path names an OSM extract (``.osm.pbf`` or ``.osm``)."""
    name = Path(path).name.lower()
    return name.endswith(".osm.pbf") or name.endswith(".osm")


def read_osm(path: str | Path, layer: str | None) -> gpd.GeoDataFrame:
    """Read one contract layer from an OSM extract, in EPSG:4326.

    Parameters
    ----------
    path
        The ``.osm.pbf`` (or ``.osm``) file.
    layer
        ``roads`` (ways with a ``highway`` tag: ``road_id`` = OSM id, ``road_class`` = the
        highway value, which the default road speeds know), ``places`` (nodes with a
        ``place`` tag of :data:`PLACE_TYPES`: ``settlement_id``, ``name``, ``population``
        where tagged, else no data) or ``health`` (``amenity``/``healthcare`` of
        :data:`HEALTH_AMENITIES`: ``facility_id``, ``name``).

    Raises
    ------
    InputError
        No or an unknown ``layer``, an unreadable file, or no feature of that kind in the
        extract.
    """
    path = Path(path)
    if layer not in OSM_LAYERS:
        msg = (
            f'{path}: an OSM extract holds several layers; set layer = "roads", "places" '
            f'or "health" for this input (found layer = {layer!r})'
        )
        raise InputError(msg)
    if layer == "roads":
        gdf = _read(path, "lines")
        keep = gdf["highway"].notna() & ~gdf["highway"].isin(_NOT_ROADS)
        gdf = gdf.loc[keep]
        out = gpd.GeoDataFrame(
            {"road_id": gdf["osm_id"].astype(str), "road_class": gdf["highway"].astype(str)},
            geometry=gdf.geometry.values,
            crs=gdf.crs,
        )
    else:
        gdf = _read(path, "points")
        tags = gdf["other_tags"].map(_tags) if "other_tags" in gdf else pd.Series([{}] * len(gdf))
        tags.index = gdf.index
        if layer == "places":
            kind = gdf["place"] if "place" in gdf else pd.Series(None, index=gdf.index)
            keep = kind.isin(PLACE_TYPES)
            pop = pd.to_numeric(
                tags.map(lambda t: t.get("population", "").replace(",", "").strip() or None),
                errors="coerce",
            )
            out = gpd.GeoDataFrame(
                {
                    "settlement_id": gdf["osm_id"].astype(str),
                    "name": gdf["name"],
                    "population": pop,  # untagged: no data, never 0
                },
                geometry=gdf.geometry.values,
                crs=gdf.crs,
            ).loc[keep.to_numpy()]
        else:
            keep = tags.map(
                lambda t: (
                    t.get("amenity") in HEALTH_AMENITIES or t.get("healthcare") in HEALTH_AMENITIES
                )
            )
            out = gpd.GeoDataFrame(
                {"facility_id": gdf["osm_id"].astype(str), "name": gdf["name"]},
                geometry=gdf.geometry.values,
                crs=gdf.crs,
            ).loc[keep.to_numpy()]
    if len(out) == 0:
        what = {"roads": "highway ways", "places": "place nodes", "health": "health facilities"}
        msg = (
            f"{path}: the extract has no {what[layer]} (layer {layer!r}); check that it covers "
            "the programme's area, or give this layer from another file"
        )
        raise InputError(msg)
    return out.reset_index(drop=True)


def _read(path: Path, osm_layer: str) -> gpd.GeoDataFrame:
    # extracts cut from a larger file have node ids out of order: index them in memory
    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})
    try:
        return pyogrio.read_dataframe(path, layer=osm_layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        msg = f"{path}: not a readable OSM extract ({str(exc).splitlines()[0]})."
        raise InputError(msg) from exc
    finally:
        pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": None})


_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def _tags(text) -> dict[str, str]:
    """GDAL's ``other_tags`` (HSTORE text: ``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not isinstance(text, str):
        return {}
    return {k: v for k, v in _TAG.findall(text)}
