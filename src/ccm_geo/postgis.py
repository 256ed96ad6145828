"""PostgreSQL/PostGIS: read a register from a table or a read-only query, publish a run back.

A source or a target is a connection URL *without* a password (``postgresql://user@host:5432/db``)
plus a table or a query. The password comes from an environment variable named in the config
(``password_env``), from libpq's own ``PGPASSWORD``, or from a ``.pgpass`` file; a URL with a
password in it is refused. Identifiers (schema, table, column names) are validated and quoted
with :mod:`psycopg.sql`; values are bound parameters or go through ``COPY``: no SQL is built as
text from configuration values. A user's query runs inside a ``READ ONLY`` transaction.

Publishing writes every layer of a run in one transaction: a failure anywhere leaves the
database as it was. Each row carries the run's id (the sha256 of its ``manifest.json``); the
``runs`` table holds the manifest itself, so earlier runs stay queryable beside the new one. QGIS
styles go into the database's ``layer_styles`` table, as QGIS itself stores them.

Needs the optional extra: ``pip install "ccm-geo[postgis]"`` (psycopg 3).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import ConfigError, DatabaseError, InputError

__all__ = [
    "PostgisSource",
    "PostgisTarget",
    "PublishResult",
    "connect",
    "check_identifier",
    "split_table_name",
    "read_postgis",
    "publish_layers",
    "source_label",
    "redact_url",
]

logger = logging.getLogger(__name__)

# PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1 bytes).
_MAX_IDENTIFIER_BYTES = 63
_IDENTIFIER = re.compile(r"[^\W\d]\w*")
# Columns every published table has besides the frame's own.
_KEY_COLUMNS = ("fid", "run_id")
_GEOMETRY_COLUMN = "geom"
_STYLE_NAME = "ccm_geo"
# Suffix of the view showing a table's rows of the latest published run.
_LATEST = "_latest"


# --------------------------------------------------------------------------------------------
# Configuration


class _Connection(Frozen):
    url: str = Field(
        description="postgresql://user@host:port/database (no password: it comes from "
        "password_env, PGPASSWORD or a .pgpass file). Query parameters such as ?sslmode=require "
        "are passed to libpq."
    )
    password_env: str | None = Field(
        None,
        description="Name of the environment variable holding the password, e.g. "
        "'CCM_DB_PASSWORD'. Default: libpq's own PGPASSWORD or ~/.pgpass.",
    )

    @field_validator("url")
    @classmethod
    def _no_password(cls, v: str) -> str:
        parts = urllib.parse.urlsplit(v)
        if parts.scheme not in ("postgresql", "postgres"):
            msg = (
                f"url {redact_url(v)!r} is not a PostgreSQL URL; write "
                "'postgresql://user@host:5432/database'"
            )
            raise ValueError(msg)
        query = urllib.parse.parse_qs(parts.query)
        if parts.password is not None or "password" in query:
            msg = (
                "the url holds a password in clear; remove it and set password_env (the name "
                "of an environment variable holding it) or use a .pgpass file"
            )
            raise ValueError(msg)
        if not parts.path.strip("/"):
            msg = f"url {v!r} names no database; add it after the host: .../database"
            raise ValueError(msg)
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            msg = f"password_env {v!r} is not an environment variable name (e.g. CCM_DB_PASSWORD)"
            raise ValueError(msg)
        return v


class PostgisSource(_Connection):
    """A vector input read from PostGIS: a table (``schema.table``) or a read-only query."""

    table: str | None = Field(None, description="'schema.table' or 'table' (search path).")
    query: str | None = Field(
        None,
        description="A SELECT statement, run in a READ ONLY transaction (e.g. to join the "
        "register's tables or filter it).",
    )
    geometry_column: str | None = Field(
        None, description="The geometry column when the table or query has several."
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> PostgisSource:
        if (self.table is None) == (self.query is None):
            msg = "give exactly one of `table` or `query`"
            raise ValueError(msg)
        if self.table is not None:
            split_table_name(self.table)
        if self.geometry_column is not None:
            check_identifier(self.geometry_column, what="geometry_column")
        return self


class PostgisTarget(_Connection):
    """Where a run is published: a database and a schema of the user's choice."""

    db_schema: str = Field(
        "ccm_geo",
        alias="schema",
        description="Schema the run's tables are written to (created when missing).",
    )
    on_run: bool = Field(
        True,
        description="Publish at the end of every `ccm-geo run` of all stages; false: only "
        "with `--publish postgis` or `ccm-geo publish`.",
    )
    model_config = {**Frozen.model_config, "populate_by_name": True}

    @field_validator("db_schema")
    @classmethod
    def _schema_name(cls, v: str) -> str:
        return check_identifier(v, what="schema")


def source_label(source: PostgisSource) -> str:
    """How a source is named in reports and messages (never with a password)."""
    what = f"table {source.table}" if source.table else "query"
    return f"{redact_url(source.url)} ({what})"


# --------------------------------------------------------------------------------------------
# Identifiers


def check_identifier(name: str, *, what: str = "identifier") -> str:
    """Return ``name`` when it is a plain SQL identifier; raise ConfigError otherwise.

    Plain means letters, digits and ``_``, not starting with a digit, at most 63 bytes: what
    a planner names a schema or table. Everything else (quotes, spaces, ``;``) is refused,
    even though identifiers are always quoted when used.
    """
    if (
        not isinstance(name, str)
        or not _IDENTIFIER.fullmatch(name)
        or len(name.encode("utf-8")) > _MAX_IDENTIFIER_BYTES
    ):
        msg = (
            f"{what} {name!r} is not a plain SQL name: use letters, digits and '_' (not "
            f"starting with a digit, at most {_MAX_IDENTIFIER_BYTES} bytes), e.g. 'hazards'"
        )
        raise ConfigError(msg)
    return name


def split_table_name(name: str) -> tuple[str | None, str]:
    """``'schema.table'`` or ``'table'`` as ``(schema or None, table)``, each name checked."""
    if not isinstance(name, str):
        msg = f"table {name!r} must be text, 'schema.table' or 'table'"
        raise ConfigError(msg)
    parts = name.split(".")
    if len(parts) > 2:
        msg = f"table {name!r} has more than one '.'; write 'schema.table' or 'table'"
        raise ConfigError(msg)
    for part in parts:
        check_identifier(part, what=f"table {name!r}: name")
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


# --------------------------------------------------------------------------------------------
# Connecting


def connect(conn: _Connection, *, read_only: bool = False):
    """Open a psycopg connection; a failure is one line naming host, port, database and user.

    Parameters
    ----------
    conn
        A :class:`PostgisSource` or :class:`PostgisTarget`.
    read_only
        Every transaction of the connection is ``READ ONLY``.

    Raises
    ------
    DatabaseError
        The server cannot be reached, refuses the user or the password.
    ConfigError
        ``password_env`` names a variable that is not set.
    """
    psycopg = _psycopg()
    kwargs: dict[str, Any] = {"connect_timeout": 10, "application_name": "ccm_geo"}
    secret = None
    if conn.password_env is not None:
        secret = os.environ.get(conn.password_env)
        if secret is None:
            msg = (
                f"password_env: the environment variable {conn.password_env} is not set; "
                f"export it with the password of {_who(conn.url)}"
            )
            raise ConfigError(msg)
        kwargs["password"] = secret
    try:
        connection = psycopg.connect(conn.url, **kwargs)
    except psycopg.Error as exc:
        reason = _reason(exc, secret)
        msg = (
            f"cannot connect to PostgreSQL as {_who(conn.url)}: {reason}. Check the url, the "
            "user and the password (password_env, PGPASSWORD or ~/.pgpass)"
        )
        raise DatabaseError(msg) from None
    connection.read_only = read_only
    return connection


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


# --------------------------------------------------------------------------------------------
# Helpers: connections and messages


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        msg = (
            f"PostGIS sources and publishing need psycopg 3: pip install 'ccm-geo[postgis]' ({exc})"
        )
        raise ConfigError(msg) from None
    return psycopg


def redact_url(url: str) -> str:
    """The URL without any password (for messages)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _who(url: str) -> str:
    """``user 'u' at host:port, database 'd'`` for messages (libpq's defaults filled in)."""
    import getpass

    parts = urllib.parse.urlsplit(url)
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
    try:
        port = parts.port
    except ValueError:
        port = None
    user = parts.username or query.get("user") or os.environ.get("PGUSER") or getpass.getuser()
    host = parts.hostname or query.get("host") or os.environ.get("PGHOST") or "localhost"
    port = port or query.get("port") or os.environ.get("PGPORT") or 5432
    db = parts.path.strip("/") or query.get("dbname") or user
    return f"user {urllib.parse.unquote(user)!r} at {host}:{port}, database {db!r}"


def _reason(exc: Exception, secret: str | None = None) -> str:
    """The server's reason in one line: the last informative line of a libpq message."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return primary.replace(secret, "***") if secret else primary
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    for line in lines:
        if "FATAL:" in line or "ERROR:" in line:
            text = line
            break
    # libpq: 'connection to server at "h", port 5432 failed: FATAL:  <reason>'
    text = re.sub(r"^.*\bfailed:\s*", "", text)
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text).strip()
    if secret:
        text = text.replace(secret, "***")
    return text
