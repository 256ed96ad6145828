"""Publishing a run: its layers into a schema in one transaction, with the run id, the
``runs`` table, indexes, ``<table>_latest`` views and QGIS styles in ``layer_styles``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ccm_geo.errors import ConfigError, DatabaseError
from ccm_geo.postgis.connection import _psycopg, _reason, connect, redact_url
from ccm_geo.postgis.settings import PostgisTarget, check_identifier

__all__ = ["PublishResult", "publish_layers"]

logger = logging.getLogger(__name__)

# Columns every published table has besides the frame's own.
_KEY_COLUMNS = ("fid", "run_id")
_GEOMETRY_COLUMN = "geom"
_STYLE_NAME = "ccm_geo"
# Suffix of the view showing a table's rows of the latest published run.
_LATEST = "_latest"


# --------------------------------------------------------------------------------------------
# Publishing


@dataclass
class PublishResult:
    """What a publication wrote: the run id, rows per table, the schema and the time taken."""

    run_id: str
    schema: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def publish_layers(
    target: PostgisTarget,
    layers: Mapping[str, pd.DataFrame],
    *,
    run_id: str,
    manifest: Mapping[str, Any],
    styles: Mapping[str, str] | None = None,
    run_info: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Write a run's layers to ``target`` in one transaction (all or nothing).

    Each layer goes to a table of its name in the target schema, created on first use with a
    ``fid`` identity key, ``run_id`` (referencing ``runs``), the frame's columns and, for a
    GeoDataFrame, ``geom`` typed with the frame's SRID and a GiST index. Later runs append;
    columns a later run adds are added. Publishing a run id again replaces that run's rows.
    A view ``<table>_latest`` shows the rows of the run published last.

    Parameters
    ----------
    target
        The ``[publish.postgis]`` section.
    layers
        Table name -> frame (GeoDataFrame for spatial tables), in the order written.
    run_id
        The run's id (sha256 of its manifest.json), stored on every row.
    manifest
        The run's manifest, stored as ``jsonb`` in ``runs``.
    styles
        Table name -> QGIS style (QML), stored in ``layer_styles`` as QGIS does.
    run_info
        Extra ``jsonb`` stored with the run (e.g. the plan's solver status and gap).

    Raises
    ------
    ConfigError
        A table or column name is not a plain SQL name.
    DatabaseError
        The database refused a statement; nothing was written.
    """
    psycopg = _psycopg()
    start = time.perf_counter()
    schema = check_identifier(target.db_schema, what="publish.postgis.schema")
    for name in layers:
        check_identifier(name, what="table")
    result = PublishResult(run_id=run_id, schema=schema)
    with connect(target) as conn:
        try:
            with conn.transaction(), conn.cursor() as cur:
                _require_postgis(cur, target)
                _create_runs(cur, schema)
                _delete_run(cur, schema, [*layers], run_id)
                _insert_run(cur, schema, run_id, manifest, run_info or {})
                for name, frame in layers.items():
                    result.rows[name] = _write_table(cur, schema, name, frame, run_id)
                    _latest_view(cur, schema, name)
                dbname = conn.info.dbname
                for name, qml in (styles or {}).items():
                    if name in layers:
                        _store_style(cur, dbname, schema, name, qml)
                        _store_style(cur, dbname, schema, f"{name}{_LATEST}", qml)
        except psycopg.Error as exc:
            msg = (
                f"publishing to {redact_url(target.url)} schema {schema} failed, nothing was "
                f"written (rolled back): {_reason(exc)}"
            )
            raise DatabaseError(msg) from None
    result.seconds = round(time.perf_counter() - start, 3)
    logger.info("published run %s to %s: %s", run_id[:12], schema, result.rows)
    return result


# --------------------------------------------------------------------------------------------
# Helpers: publishing


def _require_postgis(cur, target: PostgisTarget) -> None:
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    if cur.fetchone() is None:
        msg = (
            f"{redact_url(target.url)}: the PostGIS extension is not installed in this database; "
            "ask its administrator to run CREATE EXTENSION postgis"
        )
        raise DatabaseError(msg)


def _create_runs(cur, schema: str) -> None:
    from psycopg import sql

    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cur.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (run_id text PRIMARY KEY, "
            "published_at timestamptz NOT NULL DEFAULT now(), project text, "
            "tool_version text, run_info jsonb, manifest jsonb NOT NULL)"
        ).format(sql.Identifier(schema, "runs"))
    )


def _delete_run(cur, schema: str, tables: Iterable[str], run_id: str) -> None:
    from psycopg import sql

    for name in tables:
        if _table_exists(cur, schema, name):
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE run_id = %s").format(sql.Identifier(schema, name)),
                (run_id,),
            )
    cur.execute(
        sql.SQL("DELETE FROM {} WHERE run_id = %s").format(sql.Identifier(schema, "runs")),
        (run_id,),
    )


def _insert_run(cur, schema, run_id, manifest, run_info) -> None:
    from psycopg import sql
    from psycopg.types.json import Jsonb

    cur.execute(
        sql.SQL(
            "INSERT INTO {} (run_id, project, tool_version, run_info, manifest) "
            "VALUES (%s, %s, %s, %s, %s)"
        ).format(sql.Identifier(schema, "runs")),
        (
            run_id,
            manifest.get("project"),
            manifest.get("version"),
            Jsonb(json.loads(json.dumps(run_info, default=str))),
            Jsonb(manifest),
        ),
    )


def _table_exists(cur, schema: str, name: str) -> bool:
    cur.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, name),
    )
    return cur.fetchone() is not None


def _write_table(cur, schema: str, name: str, frame: pd.DataFrame, run_id: str) -> int:
    from psycopg import sql

    spatial = isinstance(frame, gpd.GeoDataFrame)
    attrs = frame.drop(columns=frame.geometry.name) if spatial else pd.DataFrame(frame)
    for col in attrs.columns:
        check_identifier(str(col), what=f"table {name}: column")
        if col in (*_KEY_COLUMNS, _GEOMETRY_COLUMN):
            msg = f"table {name}: column {col!r} is reserved for the publication; rename it"
            raise ConfigError(msg)
    types = {str(c): _pg_type(attrs[c]) for c in attrs.columns}
    srid = _srid(frame) if spatial else None
    geoms, geom_type = _uniform(frame.geometry.to_numpy()) if spatial else (None, None)
    ref = sql.Identifier(schema, name)
    new = not _table_exists(cur, schema, name)
    if new:
        cols = [
            sql.SQL("fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
            sql.SQL("run_id text NOT NULL REFERENCES {} (run_id) ON DELETE CASCADE").format(
                sql.Identifier(schema, "runs")
            ),
        ]
        cols += [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in types.items()]
        if spatial:
            cols.append(
                sql.SQL("{} geometry({}, {})").format(
                    sql.Identifier(_GEOMETRY_COLUMN), sql.SQL(geom_type), sql.Literal(srid)
                )
            )
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(ref, sql.SQL(", ").join(cols)))
    else:
        types = _match_columns(cur, schema, name, types, srid)
    columns = ["run_id", *types, *([_GEOMETRY_COLUMN] if spatial else [])]
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        ref, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    values = [_copy_values(attrs[c], types[str(c)]) for c in attrs.columns]
    if spatial:  # EWKB: what the geometry type's binary input reads
        values.append(shapely.to_wkb(shapely.set_srid(geoms, srid), include_srid=True).tolist())
    n = len(frame)
    with cur.copy(copy) as cp:
        # the geometry goes as bytes (declared bytea here, read by geometry's binary input)
        cp.set_types(
            ["text", *(_BINARY[t] for t in types.values()), *(["bytea"] if spatial else [])]
        )
        for row in zip(*values, strict=True) if values else [()] * n:
            cp.write_row((run_id, *row))
    if new:  # indexes built once after the first load: faster than row by row
        cur.execute(
            sql.SQL("CREATE INDEX {} ON {} (run_id)").format(
                sql.Identifier(f"{name}_run_id_idx"), ref
            )
        )
        if spatial:
            cur.execute(
                sql.SQL("CREATE INDEX {} ON {} USING GIST ({})").format(
                    sql.Identifier(f"{name}_geom_idx"), ref, sql.Identifier(_GEOMETRY_COLUMN)
                )
            )
    if spatial:
        cur.execute(sql.SQL("ANALYZE {}").format(ref))
    return n


def _latest_view(cur, schema: str, name: str) -> None:
    """``<name>_latest``: the table's rows of the run published last (for QGIS layers)."""
    from psycopg import sql

    view = sql.Identifier(schema, check_identifier(f"{name}{_LATEST}", what="view"))
    cur.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
    cur.execute(
        sql.SQL(
            "CREATE VIEW {} AS SELECT * FROM {} WHERE run_id = (SELECT run_id FROM {} "
            "ORDER BY published_at DESC, run_id DESC LIMIT 1)"
        ).format(view, sql.Identifier(schema, name), sql.Identifier(schema, "runs"))
    )


def _match_columns(cur, schema, name, types: dict[str, str], srid: int | None) -> dict[str, str]:
    """Add the columns a later run brings; return each column's type in the table.

    A whole-number column that now holds fractions becomes ``double precision``; a value fits
    a ``double precision`` or ``text`` column too; a geometry of another SRID is refused.
    """
    from psycopg import sql

    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, name),
    )
    existing = {c: _TYPE_NAMES.get(t, t) for c, t in cur.fetchall()}
    ref = sql.Identifier(schema, name)
    # the view is made again after the rows are written; it would block a change of type
    cur.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(schema, name + _LATEST)))
    for col, kind in types.items():
        if col not in existing:
            cur.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    ref, sql.Identifier(col), sql.SQL(kind)
                )
            )
            existing[col] = kind
        elif existing[col] == "bigint" and kind == "double precision":
            cur.execute(
                sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE double precision").format(
                    ref, sql.Identifier(col)
                )
            )
            existing[col] = kind
        elif existing[col] != kind and not (
            existing[col] == "text"
            or (existing[col] == "double precision" and kind in ("bigint", "boolean"))
        ):
            msg = (
                f"table {schema}.{name}: column {col} is {existing[col]} in the database and "
                f"{kind} in this run; publish to another schema, or drop the column"
            )
            raise DatabaseError(msg)
    if srid is not None:
        cur.execute("SELECT Find_SRID(%s, %s, %s)", (schema, name, _GEOMETRY_COLUMN))
        found = cur.fetchone()[0]
        if found != srid:
            msg = (
                f"table {schema}.{name} holds geometry in SRID {found}, this run's CRS is "
                f"EPSG:{srid}; publish it to another schema or set project.crs to EPSG:{found}"
            )
            raise DatabaseError(msg)
    return {col: existing[col] for col in types}


# information_schema's type names -> ours; ours -> the binary COPY type names.
_TYPE_NAMES = {
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamptz",
}
_BINARY = {
    "text": "text",
    "double precision": "float8",
    "bigint": "int8",
    "boolean": "bool",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "date": "date",
}


# (single, multi) shapely type ids -> the multi type a column of either is declared as.
_MULTI = {
    (3, 6): ("MultiPolygon", shapely.multipolygons),
    (1, 5): ("MultiLineString", shapely.multilinestrings),
    (0, 4): ("MultiPoint", shapely.multipoints),
}


def _uniform(geoms: np.ndarray) -> tuple[np.ndarray, str]:
    """Geometries of one type, as QGIS lists a table once per geometry type: polygons and
    multipolygons become multipolygons (likewise lines, points); a mix stays ``Geometry``."""
    ids = shapely.get_type_id(geoms)
    present = set(ids[ids >= 0].tolist())
    for (single, multi), (name, make) in _MULTI.items():
        if present and present <= {single, multi}:
            out = np.array(geoms, dtype=object)
            idx = np.flatnonzero(ids == single)
            if len(idx):
                out[idx] = make(geoms[idx], indices=np.arange(len(idx)))
            return out, name
    return geoms, "Geometry"


def _pg_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "boolean"
    if pd.api.types.is_integer_dtype(s):
        return "bigint"
    if pd.api.types.is_float_dtype(s):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "timestamptz" if getattr(s.dtype, "tz", None) is not None else "timestamp"
    present = s.dropna()
    if len(present) and all(isinstance(v, bool | np.bool_) for v in present):
        return "boolean"
    if len(present) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in present
    ):
        return "bigint"
    if len(present) and all(isinstance(v, float | int | np.number) for v in present):
        return "double precision"
    import datetime as dt

    if len(present) and all(isinstance(v, dt.datetime | pd.Timestamp) for v in present):
        return "timestamp"
    if len(present) and all(isinstance(v, dt.date) for v in present):
        return "date"
    return "text"


def _copy_values(s: pd.Series, kind: str) -> list:
    """Python values for COPY: None for missing, text for anything that is not a number.

    Converted column-wise through numpy (iterating a pandas string array item by item is
    several times slower).
    """
    missing = s.isna().to_numpy()
    if kind in ("double precision", "bigint", "boolean"):
        np_type = {"double precision": float, "bigint": np.int64, "boolean": bool}[kind]
        filled = s.astype(object).where(~missing, 0) if missing.any() else s
        out = np.asarray(filled.to_numpy(), dtype=np_type).astype(object)
    elif kind in ("timestamp", "timestamptz"):
        out = np.asarray(pd.DatetimeIndex(s).to_pydatetime(), dtype=object)
    else:
        out = s.to_numpy(dtype=object)
        if kind == "text" and s.dtype == object:  # a string dtype holds only text and NA
            text = np.fromiter((isinstance(v, str) for v in out), dtype=bool, count=len(out))
            other = ~text & ~missing
            if other.any():
                out = out.copy()
                out[other] = [_text(v) for v in out[other]]
    if missing.any():
        out = np.array(out, dtype=object)
        out[missing] = None
    return out.tolist()


def _text(v) -> str:
    if isinstance(v, set | frozenset):
        return ";".join(sorted(str(x) for x in v))
    return str(v)


def _srid(frame: gpd.GeoDataFrame) -> int:
    epsg = frame.crs.to_epsg() if frame.crs is not None else None
    if epsg is None:
        msg = (
            f"the layer's CRS ({frame.crs}) has no EPSG code; set project.crs to an EPSG "
            "code (e.g. 'EPSG:32648') to publish to PostGIS"
        )
        raise ConfigError(msg)
    return int(epsg)


def _store_style(cur, dbname: str, schema: str, name: str, qml: str) -> None:
    """The QML as QGIS's default style of the table (QGIS's own ``layer_styles`` table)."""
    cur.execute(
        "CREATE TABLE IF NOT EXISTS layer_styles (id SERIAL PRIMARY KEY, "
        "f_table_catalog varchar, f_table_schema varchar, f_table_name varchar, "
        "f_geometry_column varchar, styleName text, styleQML xml, styleSLD xml, "
        "useAsDefault boolean, description text, owner varchar(63) DEFAULT CURRENT_USER, "
        "ui xml, update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)"
    )
    cur.execute(
        "DELETE FROM layer_styles WHERE f_table_catalog = %s AND f_table_schema = %s "
        "AND f_table_name = %s AND styleName = %s",
        (dbname, schema, name, _STYLE_NAME),
    )
    cur.execute(
        "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
        "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description) "
        "VALUES (%s, %s, %s, %s, %s, XMLPARSE(DOCUMENT %s), NULL, true, %s)",
        (dbname, schema, name, _GEOMETRY_COLUMN, _STYLE_NAME, qml, "written by ccm_geo"),
    )
