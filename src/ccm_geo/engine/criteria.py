"""The criteria stage of one large register on Dask: spatial partitions, same criteria.

The register is put in Hilbert order (areas near each other on the ground end up in the same
partition, so each partition reads a compact window of the land-cover raster), cut into
partitions, and :func:`ccm_geo.criteria.compute_criteria` runs on each partition, one Dask
task per partition, a few in flight at a time (so a worker's memory follows the partition
size, not the register's); each result is checked against the columns of the in-process run
(``meta``: the same call on an empty frame). Network travel (remoteness) is computed once over
the whole road graph on the caller's side, and so is risk (each accident and each record's
evidence is shared among all the areas near it, across any partition boundary); each partition
takes its rows of both. No criterion is
implemented twice: the partitions call the very functions the in-process run calls.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import warnings
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo.criteria import (
    compute_criteria,
    criteria_columns,
)
from ccm_geo.criteria._common import check_hazards
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.errors import EngineError
from ccm_geo.model import Context

__all__ = ["hilbert_order", "partitioned_criteria", "check_workers_read"]

#: The column that carries a partition's warnings back to the caller (dropped there).
_WARN = "__warnings__"


def hilbert_order(geoms: gpd.GeoSeries, level: int = 16) -> np.ndarray:
    """Positions that put ``geoms`` in Hilbert-curve order of their bounding-box centres.

    Parameters
    ----------
    geoms
        Geometries (any type, none empty).
    level
        Curve order: the extent is cut into 2**level x 2**level cells.

    Returns
    -------
    numpy.ndarray
        A permutation of ``range(len(geoms))`` (stable: equal cells keep their input order).
    """
    b = geoms.bounds.to_numpy()
    if len(b) == 0:
        return np.zeros(0, dtype=np.intp)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    n = 1 << level

    def cells(v: np.ndarray) -> np.ndarray:
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo if hi > lo else 1.0
        return np.minimum(((v - lo) / span * n).astype(np.int64), n - 1)

    x, y = cells(cx), cells(cy)
    d = np.zeros(len(b), dtype=np.int64)
    s = n >> 1
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        turn = ~ry
        flip = turn & rx
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        x, y = np.where(turn, y, x), np.where(turn, x, y)
        s >>= 1
    return np.argsort(d, kind="stable")


def _on_partition(
    part: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings,
    reference_date: dt.date,
    carried: dict[str, tuple[str, object]],
    columns: list[str],
) -> pd.DataFrame:
    """compute_criteria on one partition (on a worker); its warnings ride in one column.

    ``carried`` maps the columns that brought this partition's rows of the register-wide
    indicators (remoteness, risk) to their names and dtypes (Dask may have converted text
    columns to its own string type on the way); they are split off here, so that each task
    receives only its own rows of them, never the whole register's.
    """
    register_wide = pd.DataFrame(
        {name: part[col].astype(dtype).array for col, (name, dtype) in carried.items()},
        index=pd.Index(part["hazard_id"].astype(str), name="hazard_id"),
    )
    part = part.drop(columns=list(carried))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = compute_criteria(
            part, context, settings, reference_date=reference_date, register_wide=register_wide
        )
    out = out[columns]
    out[_WARN] = None
    if caught and len(out):
        out.iloc[0, out.columns.get_loc(_WARN)] = "\n".join(
            f"{w.category.__module__}.{w.category.__qualname__}\t{w.message}" for w in caught
        )
    return out


def _open_problem(path) -> str | None:
    """On a worker: why it cannot open the raster at ``path`` (None: it can)."""
    import rasterio

    try:
        with rasterio.open(path):
            return None
    except (OSError, rasterio.errors.RasterioError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_workers_read(client, path) -> None:
    """Every worker opens ``path`` once before any partition runs.

    Raises
    ------
    EngineError
        One line naming the first worker that cannot read it, the path and the reason.
    """
    problems = client.run(_open_problem, str(path))
    for worker, problem in sorted(problems.items()):
        if problem is not None:
            msg = (
                f"worker {worker} cannot read the land-cover raster {path} ({problem}); put it "
                "on storage every worker can reach (a shared path or a URL GDAL can read)"
            )
            raise EngineError(msg)


def partitioned_criteria(
    hazards: gpd.GeoDataFrame,
    context: Context,
    settings: CriteriaSettings | None = None,
    *,
    reference_date: dt.date,
    client,
    graph=None,
    partitions: int | None = None,
    progress: Callable[[str], None] | None = None,
    register_wide: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """:func:`ccm_geo.criteria.compute_criteria`, spread over a Dask cluster.

    Same arguments and the same result (values, dtypes, row order) as the in-process call;
    see the module docstring for how the work is split.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    graph
        The road graph (built here from ``context.roads`` when None and there are roads).
    partitions
        Number of spatial partitions; default: two per worker thread, at least one per 20,000
        areas, never more than the areas.
    register_wide
        Remoteness and risk already computed over the whole register (as
        :func:`ccm_geo.criteria.compute_criteria` takes it); default: computed here, once.

    Raises
    ------
    EngineError
        A worker cannot read the land-cover raster (message names the worker and the path).
    """
    from distributed import as_completed

    settings = settings or CriteriaSettings()
    ids = check_hazards(hazards, context.crs)
    step = progress or (lambda _name: None)
    columns = criteria_columns(context, settings)
    if context.landcover_path is not None:
        check_workers_read(client, context.landcover_path)
    if register_wide is not None:  # onto the areas: those it lacks are said, as in one process
        from ccm_geo.criteria import _onto_areas, remoteness_columns, risk_columns

        wanted = register_wide[remoteness_columns(settings) + risk_columns(settings)]
        remote = _onto_areas(wanted, ids, "the register-wide indicators given")
    else:  # once, on the whole register; the partitions carry their rows
        from ccm_geo.criteria import register_wide_indicators

        remote = register_wide_indicators(
            hazards, context, settings, graph=graph, reference_date=reference_date, step=step
        )
    threads = sum(client.nthreads().values()) or 1
    n = len(hazards)
    k = partitions or max(2 * threads, -(-n // 20_000))
    k = max(1, min(k, n))
    step(f"contamination and land use in {k} spatial partitions")
    ordered = hazards.iloc[hilbert_order(hazards.geometry)].reset_index(drop=True)
    # each partition carries its own rows of the register-wide columns (not the whole table
    # to every worker: that would grow each worker's memory with the register)
    rows = remote.reindex(pd.Index(ordered["hazard_id"].astype(str), name="hazard_id"))
    carried = {
        f"__ccm_rw_{i}__": (name, remote.dtypes[name]) for i, name in enumerate(remote.columns)
    }
    for col, (name, _dtype) in carried.items():
        ordered[col] = pd.Series(rows[name].array, index=ordered.index)
    meta = _meta(hazards, context, settings, reference_date, remote, columns)
    # the context goes to each worker once, not per task, and only with the layers the
    # partitions read: accidents (contamination) and roads (road length); settlements, health
    # facilities and districts served remoteness and risk, already computed above
    shipped = dataclasses.replace(context, settlements=None, health=None, admin=None)
    [context_f] = client.scatter([shipped], broadcast=True, hash=False)
    # Partitions go out a few at a time (two per worker thread in flight) and each result is
    # fetched as soon as it is ready, so a worker holds a bounded number of partitions and
    # results whatever the register's size (a dask-geopandas frame built from the whole
    # register would put every partition on the workers at once). A partition whose worker
    # dies is computed again elsewhere: its task carries its data.
    cuts = [round(i * n / k) for i in range(k + 1)]
    tag = uuid.uuid4().hex[:8]
    pending = iter(range(k))

    def submit(i: int):
        part = ordered.iloc[cuts[i] : cuts[i + 1]]
        fut = client.submit(
            _on_partition,
            part,
            context_f,
            settings,
            reference_date,
            carried,
            columns,
            key=f"ccm-criteria-{tag}-{i}",
        )
        index_of[fut.key] = i
        return fut

    index_of: dict[str, int] = {}
    results: list[pd.DataFrame | None] = [None] * k
    queue = as_completed([submit(i) for _, i in zip(range(2 * threads), pending, strict=False)])
    for fut in queue:
        part_out = fut.result()
        if list(part_out.columns) != list(meta.columns):
            msg = f"partition {index_of[fut.key]}: columns differ from the in-process run's"
            raise EngineError(msg)
        results[index_of.pop(fut.key)] = part_out
        fut.release()
        nxt = next(pending, None)
        if nxt is not None:
            queue.add(submit(nxt))
    client.cancel([context_f])
    # dtypes as the partitions returned them (concat upcasts an int column to float when a
    # partition holds NaN, as the in-process run does)
    out = pd.concat(results)
    seen: set[str] = set()
    for text in out[_WARN].dropna():
        for line in text.split("\n"):
            if line not in seen:  # the same warning from several partitions: once
                seen.add(line)
                category, message = line.split("\t", 1)
                warnings.warn(message, _category(category), stacklevel=2)
    return out.drop(columns=[_WARN]).loc[ids]


def _meta(hazards, context, settings, reference_date, remote, columns) -> pd.DataFrame:
    """The empty frame every partition returns (the in-process dtypes), without the raster."""
    empty = hazards.iloc[:0]
    no_raster = dataclasses.replace(context, landcover_path=None)  # the driver never opens it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = compute_criteria(
            empty, no_raster, settings, reference_date=reference_date, register_wide=remote
        )[columns]
    meta[_WARN] = pd.Series(dtype=object)
    return meta


def _category(name: str) -> type[Warning]:
    module, _, qual = name.rpartition(".")
    try:
        import importlib

        cat = getattr(importlib.import_module(module), qual)
        if isinstance(cat, type) and issubclass(cat, Warning):
            return cat
    except (ImportError, AttributeError):
        pass
    return UserWarning
