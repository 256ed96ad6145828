"""PostGIS round trip: the register read from a table, a run published back (demo and national).

Starts a throw-away PostgreSQL/PostGIS cluster (``tests/pg_cluster.py``, Debian's server from
``make postgis-deps``), runs the demo up to the plan once, then for each size:

- *read*: ``load_hazards`` with the register in a PostGIS table, beside the same register read
  from a GeoPackage (the file floor);
- *publish*: ``publish_layers`` of the areas, tasks, plan and milestones in one transaction,
  beside ``write_gpkg`` of the same layers (the file floor); and the areas alone, beside
  geopandas' ``to_postgis`` of the same frame (the peer; only when SQLAlchemy and GeoAlchemy2
  are installed, which ccm_geo does not need).

Sizes above the demo's 450 areas are the demo's register and run repeated (new ids,
geometries shifted by 500 m steps), so the columns are the real ones. Usage::

    python -m benchmarks.bench_postgis --areas 450 100000
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO = ROOT / "data" / "demo"
PASSWORD_ENV = "CCM_BENCH_PGPASSWORD"


def bench(sizes: list[int]) -> list[dict]:
    import os

    sys.path.insert(0, str(ROOT / "tests"))
    import pg_cluster
    from ccm_geo.config import config_from_dict
    from ccm_geo.pipeline import run

    cluster = pg_cluster.start()
    os.environ[PASSWORD_ENV] = cluster.password
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            raw = tomllib.loads((DEMO / "project.toml").read_text("utf-8"))
            raw["donors"] = []
            config = config_from_dict(raw, base=DEMO)
            out = tmp / "demo"
            run(config, out, stages=["load", "criteria", "score", "prioritise"])
            for n in sizes:
                rows.append(_one_size(n, cluster, raw, out, tmp))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        cluster.stop()
    return rows


def _one_size(n: int, cluster, raw: dict, out: Path, tmp: Path) -> dict:
    import pg_cluster
    from ccm_geo.config import config_from_dict
    from ccm_geo.io import load_hazards, write_gpkg
    from ccm_geo.pipeline import _with_plan
    from ccm_geo.postgis import PostgisTarget, publish_layers

    register = _repeat(pyogrio.read_dataframe(DEMO / "hazards.gpkg"), n, "HAZ_ID")
    table = f"hazards_{n}"
    with cluster.connect() as conn:
        pg_cluster.upload(conn, register, table)
    gpkg = tmp / f"register_{n}.gpkg"
    register.to_file(gpkg, layer="hazards")

    spec_raw = dict(raw["inputs"]["hazards"])
    spec_raw.pop("layer")
    spec_raw["path"] = str(gpkg)
    file_config = config_from_dict({"inputs": {"hazards": spec_raw}})
    db_raw = {k: v for k, v in spec_raw.items() if k != "path"}
    db_raw["postgis"] = {
        "url": cluster.url,
        "table": f"register.{table}",
        "password_env": PASSWORD_ENV,
    }
    db_config = config_from_dict({"inputs": {"hazards": db_raw}})
    crs = raw["project"]["crs"]
    t_file, (from_file, _) = _timed(load_hazards, file_config.inputs.hazards, project_crs=crs)
    t_read, (from_db, _) = _timed(load_hazards, db_config.inputs.hazards, project_crs=crs)
    assert from_db.drop(columns="geometry").equals(from_file.drop(columns="geometry"))

    k = math.ceil(n / 450)
    scored = _repeat(pyogrio.read_dataframe(out / "scored.gpkg", layer="areas"), n, "hazard_id")
    tasks = _repeat_tasks(pyogrio.read_dataframe(out / "plan" / "tasks.gpkg", layer="tasks"), k)
    tasks = tasks[tasks["hazard_id"].isin(scored["hazard_id"])]
    layers = {
        "areas": scored,
        "tasks": tasks,
        "plan": _with_plan(scored, tasks),
        "milestones": pd.read_csv(out / "plan" / "milestones.csv"),
    }
    target = PostgisTarget(url=cluster.url, schema="bench", password_env=PASSWORD_ENV)
    t_pub, result = _timed(
        publish_layers,
        target,
        layers,
        run_id=f"bench-{n}",
        manifest={"project": "bench", "version": "bench"},
    )
    alone = PostgisTarget(url=cluster.url, schema="bench_areas", password_env=PASSWORD_ENV)
    t_areas, _ = _timed(publish_layers, alone, {"areas": scored}, run_id=f"bench-{n}", manifest={})
    spatial = {k: v for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}
    t_gpkg, _ = _timed(write_gpkg, spatial, tmp / f"out_{n}.gpkg")
    t_peer = _to_postgis(cluster, scored, n)
    return {
        "areas": n,
        "tasks": len(tasks),
        "columns (areas)": scored.shape[1],
        "read PostGIS s": t_read,
        "read GeoPackage s": t_file,
        "publish PostGIS s": t_pub,
        "write GeoPackage s": t_gpkg,
        "publish areas only s": t_areas,
        "to_postgis (areas only) s": t_peer,
        "round trip s": round(t_read + t_pub, 2),
        "rows published": sum(result.rows.values()),
    }


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return round(time.perf_counter() - t0, 2), value


def _shift(gdf: gpd.GeoDataFrame, i: int) -> gpd.GeoSeries:
    # Copies shifted by 500 m steps (overlapping, as they may): within the CRS's area of use,
    # which the loader checks, whereas copies side by side would leave the UTM zone.
    return gdf.geometry.translate(xoff=500.0 * (i % 20), yoff=500.0 * (i // 20))


def _repeat(gdf: gpd.GeoDataFrame, n: int, id_col: str) -> gpd.GeoDataFrame:
    k = math.ceil(n / len(gdf))
    parts = []
    for i in range(k):
        part = gdf.copy()
        part[id_col] = part[id_col].astype(str) + (f"-{i}" if i else "")
        part = part.set_geometry(_shift(gdf, i))
        parts.append(part)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=gdf.crs).iloc[:n]


def _repeat_tasks(tasks: gpd.GeoDataFrame, k: int) -> gpd.GeoDataFrame:
    parts = []
    for i in range(k):
        part = tasks.copy()
        suffix = f"-{i}" if i else ""
        part["hazard_id"] = part["hazard_id"].astype(str) + suffix
        part["task_id"] = part["task_id"].astype(str) + suffix
        part = part.set_geometry(_shift(tasks, i))
        parts.append(part)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=tasks.crs)


def _to_postgis(cluster, scored: gpd.GeoDataFrame, n: int) -> float | None:
    try:
        import geoalchemy2  # noqa: F401
        import sqlalchemy
    except ImportError:
        return None
    url = cluster.url.replace(
        "postgresql://planner@", f"postgresql+psycopg://planner:{cluster.password}@"
    )
    engine = sqlalchemy.create_engine(url)
    try:
        t, _ = _timed(scored.to_postgis, f"peer_{n}", engine, schema="bench", index=False)
    finally:
        engine.dispose()
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, nargs="+", default=[450, 100_000])
    args = parser.parse_args(argv)
    rows = bench(args.areas)
    table = pd.DataFrame(rows)
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
