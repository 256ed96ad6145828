"""Connecting: psycopg, one-line errors naming host and user, never a password."""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

from ccm_geo.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    from ccm_geo.postgis.settings import PostgisSource, PostgisTarget

__all__ = ["connect", "redact_url"]


# --------------------------------------------------------------------------------------------
# Connecting


def connect(conn: PostgisSource | PostgisTarget, *, read_only: bool = False):
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
