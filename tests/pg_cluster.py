"""A throw-away PostgreSQL + PostGIS cluster for the database tests and the benchmark.

Debian's server binaries (``make postgis-deps`` installs them) run ``initdb`` into a temporary
folder as a non-root user (``postgres`` when we are root), listen on a free port of the
loopback address only, and require passwords (scram-sha-256). The cluster has a database
``ccm`` owned by the role ``planner`` (not a superuser) with PostGIS installed, as a
programme's DBA would set it up. :meth:`Cluster.stop` stops it and removes the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
ADMIN = "ccm_admin"
USER = "planner"
DATABASE = "ccm"


class ClusterUnavailableError(RuntimeError):
    """No server can be started here; the message says why (tests skip with it)."""


@dataclass
class Cluster:
    """A running cluster: where it listens and the passwords of its two roles."""

    root: Path
    bindir: Path
    port: int
    admin_password: str
    password: str
    run_as: str | None

    @property
    def url(self) -> str:
        """The planner's URL, without the password (as a project file holds it)."""
        return f"postgresql://{USER}@{HOST}:{self.port}/{DATABASE}"

    def admin_conninfo(self, dbname: str = DATABASE) -> str:
        return (
            f"host={HOST} port={self.port} user={ADMIN} dbname={dbname} "
            f"password={self.admin_password}"
        )

    def connect(self, **kwargs):
        """A psycopg connection as the planner (autocommit)."""
        import psycopg

        return psycopg.connect(self.url, password=self.password, autocommit=True, **kwargs)

    def stop(self) -> None:
        _run(
            self,
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    """Start a cluster; raise :class:`ClusterUnavailableError` with the reason when it cannot."""
    bindir = _bindir()
    version = bindir.parent.name
    control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
    if not control.is_file():
        msg = f"PostGIS is not installed for PostgreSQL {version} ({control} missing)"
        raise ClusterUnavailableError(msg)
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            msg = "running as root and there is no 'postgres' user to run the server as"
            raise ClusterUnavailableError(msg) from None
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="ccm_pg_"))
    cluster = Cluster(
        root=root,
        bindir=bindir,
        port=_free_port(),
        admin_password=secrets.token_hex(12),
        password=secrets.token_hex(12),
        run_as=run_as,
    )
    try:
        _init(cluster)
    except Exception:
        cluster.stop()
        raise
    return cluster


def _bindir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4])
    )
    if not found:
        msg = "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)"
        raise ClusterUnavailableError(msg)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _run(cluster: Cluster, args: list[str], *, check: bool = True):
    if cluster.run_as is not None:
        args = ["runuser", "-u", cluster.run_as, "--", *args]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        log = cluster.root / "server.log"
        tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
        msg = f"{' '.join(args[-6:])} failed: {proc.stderr.strip()[-800:]} {tail}"
        raise ClusterUnavailableError(msg)
    return proc


def _init(cluster: Cluster) -> None:
    import psycopg

    root = cluster.root
    pwfile = root / "pw"
    pwfile.write_text(cluster.admin_password + "\n")
    if cluster.run_as is not None:
        info = pwd.getpwnam(cluster.run_as)
        for path in (root, pwfile):
            os.chown(path, info.pw_uid, info.pw_gid)
    root.chmod(0o700)
    _run(
        cluster,
        [
            str(cluster.bindir / "initdb"),
            "-D",
            str(root / "data"),
            "-U",
            ADMIN,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C",
        ],
    )
    pwfile.unlink()
    options = (
        f"-c listen_addresses={HOST} -c port={cluster.port} "
        f"-c unix_socket_directories={root} -c fsync=off -c full_page_writes=off"
    )
    _run(
        cluster,
        [
            str(cluster.bindir / "pg_ctl"),
            "-D",
            str(root / "data"),
            "-o",
            options,
            "-l",
            str(root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(cluster.admin_conninfo("postgres"), autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with conn:
        conn.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{cluster.password}'")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {USER}")
    with psycopg.connect(cluster.admin_conninfo(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")


def upload(conn, gdf, table: str, schema: str = "register") -> None:
    """Put a layer into PostGIS as a register's DBA would: its own columns, a serial key."""
    import pandas as pd
    import shapely
    from psycopg import sql

    kinds = {
        c: "bigint"
        if pd.api.types.is_integer_dtype(gdf[c])
        else "double precision"
        if pd.api.types.is_float_dtype(gdf[c])
        else "text"
        for c in gdf.columns
        if c != gdf.geometry.name
    }
    srid = gdf.crs.to_epsg()
    ref = sql.Identifier(schema, table)
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(k)) for c, k in kinds.items()]
    conn.execute(
        sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, {}, geom geometry(Geometry, {}))").format(
            ref, sql.SQL(", ").join(cols), sql.Literal(srid)
        )
    )
    names = sql.SQL(", ").join(map(sql.Identifier, [*kinds, "geom"]))
    geoms = shapely.set_srid(gdf.geometry.to_numpy(), srid)
    wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    columns = [[None if pd.isna(v) else v for v in gdf[c].astype(object)] for c in kinds]
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(ref, names)) as cp:
        for row in zip(*columns, wkb, strict=True):
            cp.write_row(row)
