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

from ccm_geo.postgis.connection import connect, redact_url
from ccm_geo.postgis.publish import PublishResult, publish_layers
from ccm_geo.postgis.read import read_postgis
from ccm_geo.postgis.settings import (
    PostgisSource,
    PostgisTarget,
    check_identifier,
    source_label,
    split_table_name,
)

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
