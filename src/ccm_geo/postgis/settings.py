"""The PostGIS settings of a project: a source (table or query), a target (schema), and
the plain SQL names they may use."""

from __future__ import annotations

import re
import urllib.parse

from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import ConfigError
from ccm_geo.postgis.connection import redact_url

__all__ = [
    "PostgisSource",
    "PostgisTarget",
    "check_identifier",
    "split_table_name",
    "source_label",
]

# PostgreSQL truncates longer identifiers silently (NAMEDATALEN - 1 bytes).
_MAX_IDENTIFIER_BYTES = 63
_IDENTIFIER = re.compile(r"[^\W\d]\w*")


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
