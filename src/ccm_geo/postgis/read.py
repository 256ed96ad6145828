"""Reading a PostGIS table or a read-only query as a GeoDataFrame."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ccm_geo.errors import InputError
from ccm_geo.postgis.connection import _psycopg, _reason, connect
from ccm_geo.postgis.settings import PostgisSource, source_label, split_table_name

__all__ = ["read_postgis"]


# --------------------------------------------------------------------------------------------
# Reading


def read_postgis(source: PostgisSource, *, crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a table or a read-only query into a GeoDataFrame, every attribute as stored.

    Rows of a table come in the order of its primary key (when it has one), so row numbers in
    reports are stable. Numeric columns arrive as floats, geometry with the CRS of its SRID.

    Parameters
    ----------
    source
        The ``postgis`` entry of an input.
    crs
        CRS to assume when the geometry has no SRID (0). A declared SRID is never overridden.

    Raises
    ------
    InputError
        The table does not exist, has no or several geometry columns, no rows, or no SRID
        and none was given; the query fails.
    DatabaseError
        The connection fails.
    """
    psycopg = _psycopg()
    from psycopg import sql

    label = source_label(source)
    with connect(source, read_only=True) as conn, conn.cursor() as cur:
        if source.table is not None:
            query = _table_query(cur, source, label)
        else:
            text = source.query.strip().rstrip(";").strip()
            query = sql.SQL("SELECT * FROM ({}) AS ccm_geo_source").format(sql.SQL(text))
        geometry_oids = _geometry_oids(cur)
        try:
            cur.execute(query)
        except psycopg.Error as exc:
            msg = f"{label}: the query failed: {_reason(exc)}. Test it in psql first."
            raise InputError(msg) from None
        names = [d.name for d in cur.description]
        geom_cols = [d.name for d in cur.description if d.type_code in geometry_oids]
        rows = cur.fetchall()
    geom_name = _pick_geometry(geom_cols, source.geometry_column, label, names)
    if not rows:
        msg = f"{label}: no rows. Check the table or the query's WHERE clause."
        raise InputError(msg)
    columns = list(zip(*rows, strict=True))
    data = {}
    for name, values in zip(names, columns, strict=True):
        if name in geom_cols:
            continue
        data[name] = _column(values)
    # hex to bytes in Python, then GEOS: ten times faster than GEOS's own hex reader
    hexes = columns[names.index(geom_name)]
    geoms = shapely.from_wkb(
        np.array([None if h is None else bytes.fromhex(h) for h in hexes], dtype=object)
    )
    srids = np.unique(shapely.get_srid(geoms[~shapely.is_missing(geoms)]))
    srid = int(srids[0]) if len(srids) else 0
    if len(srids) > 1:
        msg = (
            f"{label}: geometries with several SRIDs ({', '.join(map(str, srids))}); "
            "transform them to one (ST_Transform) in a query."
        )
        raise InputError(msg)
    gdf = gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms)
    if srid > 0:
        gdf = gdf.set_crs(f"EPSG:{srid}")
    elif crs is not None:
        gdf = gdf.set_crs(crs)
    else:
        msg = (
            f"{label}: the geometry has no SRID. Set it in the database "
            '(UpdateGeometrySRID) or give `crs = "EPSG:..."` for this input.'
        )
        raise InputError(msg)
    return gdf


# --------------------------------------------------------------------------------------------
# Helpers: reading


def _table_query(cur, source: PostgisSource, label: str):
    from psycopg import sql

    schema, table = split_table_name(source.table)
    ref = sql.Identifier(table) if schema is None else sql.Identifier(schema, table)
    cur.execute("SELECT to_regclass(%s)::oid", (ref.as_string(cur),))
    row = cur.fetchone()
    if row is None or row[0] is None:
        msg = (
            f"{label}: table not found. Check the name (schema.table) and that the user may "
            "read it (GRANT SELECT)."
        )
        raise InputError(msg)
    oid = row[0]
    cur.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (oid,),
    )
    key = [r[0] for r in cur.fetchall()]
    query = sql.SQL("SELECT * FROM {}").format(ref)
    if key:
        query += sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(map(sql.Identifier, key)))
    return query


def _geometry_oids(cur) -> set[int]:
    cur.execute("SELECT oid FROM pg_type WHERE typname = 'geometry'")
    return {r[0] for r in cur.fetchall()}


def _pick_geometry(found: list[str], wanted: str | None, label: str, names: list[str]) -> str:
    if wanted is not None:
        if wanted not in found:
            msg = (
                f"{label}: geometry_column {wanted!r} is not a geometry column; geometry "
                f"columns: {', '.join(found) or 'none'}"
            )
            raise InputError(msg)
        return wanted
    if not found:
        msg = (
            f"{label}: no geometry column (columns: {', '.join(names)}); it is a table, not a "
            "map layer. Is PostGIS installed in this database?"
        )
        raise InputError(msg)
    if len(found) > 1:
        msg = f"{label}: several geometry columns ({', '.join(found)}); set geometry_column."
        raise InputError(msg)
    return found[0]


def _column(values: tuple) -> pd.Series:
    """A column as pandas would read it from a file: Decimals as floats, dates as datetimes."""
    import datetime as dt
    from decimal import Decimal

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, Decimal) for v in present):
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if present and all(isinstance(v, dt.date) for v in present):
        return pd.Series(pd.to_datetime(list(values)))
    return pd.Series(list(values), dtype=object if not present else None)
