"""Where the work runs: in this process (default) or on a Dask cluster.

:func:`open_engine` gives an :class:`Engine`; the pipeline hands its ``client`` (None in
process) to the stages that can spread their work:

- the criteria stage partitions one large register spatially (Hilbert order) and runs the same
  criterion functions per partition (:func:`ccm_geo.engine.criteria.partitioned_criteria`);
- the scoring stage's Monte Carlo weight draws go out in blocks with fixed per-block seeds
  (:func:`ccm_geo.scoring.sensitivity` with ``client``), so results do not depend on the
  number of workers;
- independent project runs go out as one task each (:func:`map_runs`; ``ccm-geo run a.toml
  b.toml --engine dask`` sends each project and each scenario through :func:`submit_runs`).

Dask is an optional extra (``pip install 'ccm-geo[dask]'``); nothing here imports it until a
Dask engine is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccm_geo.engine.settings import EngineSettings
from ccm_geo.errors import EngineError

__all__ = [
    "Engine",
    "EngineSettings",
    "open_engine",
    "require_dask",
    "map_runs",
    "run_task",
    "submit_runs",
]

_HINT = "pip install 'ccm-geo[dask]' (dask[distributed] and dask-geopandas)"


def require_dask() -> None:
    """Raise :class:`EngineError` (one line, with the install hint) when Dask is missing."""
    try:
        import dask_geopandas  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        msg = (
            f"the Dask engine needs the optional extra that is not installed ({exc.name}): {_HINT}"
        )
        raise EngineError(msg) from None


@dataclass
class Engine:
    """An open engine. Use as a context manager so a LocalCluster it started is closed.

    Attributes
    ----------
    kind
        ``"inprocess"`` or ``"dask"``.
    client
        The ``distributed.Client`` (None in process).
    partitions
        Spatial partitions for the criteria stage (None: chosen from the cluster's threads).
    """

    kind: str = "inprocess"
    client: Any = None
    partitions: int | None = None
    _cluster: Any = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """One line for logs: which engine, where, how many workers."""
        if self.client is None:
            return "in process"
        n = len(self.client.scheduler_info().get("workers", {}))
        return f"dask at {self.client.scheduler.address} ({n} workers)"

    def close(self) -> None:
        """Close the client, and the LocalCluster when this engine started it."""
        if self.client is not None and self._cluster is not None:
            self.client.close()
            self._cluster.close()
        self.client = self._cluster = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_engine(
    kind: str | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    partitions: int | None = None,
    settings: EngineSettings | None = None,
    processes: bool = True,
) -> Engine:
    """Open the engine a run asked for (arguments override ``settings``, the [engine] section).

    Parameters
    ----------
    kind
        ``"inprocess"`` or ``"dask"``; a ``scheduler`` implies ``"dask"``.
    scheduler
        Address of an existing scheduler (``tcp://HOST:8786``); without it ``"dask"`` starts a
        LocalCluster on this machine with ``workers`` single-threaded workers.
    workers
        LocalCluster workers (default: one per core).
    partitions
        Spatial partitions of the criteria stage.
    settings
        The project's [engine] section.
    processes
        LocalCluster workers as processes (True) or threads of this process. Threads share
        this process's warning filters, so a stage's recorded warnings can go missing: keep
        True except for quick experiments.

    Raises
    ------
    EngineError
        Unknown kind, Dask missing, or the scheduler cannot be reached.
    """
    settings = settings or EngineSettings()
    scheduler = scheduler or settings.scheduler
    kind = kind or ("dask" if scheduler else settings.kind)
    workers = workers or settings.workers
    partitions = partitions or settings.partitions
    if kind not in ("inprocess", "dask"):
        msg = f"engine: unknown engine {kind!r}; use 'inprocess' or 'dask'"
        raise EngineError(msg)
    if kind == "inprocess":
        if scheduler:
            msg = "engine: a scheduler address needs --engine dask (or leave --engine out)"
            raise EngineError(msg)
        return Engine(partitions=partitions)
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            msg = (
                f"engine: cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                "'dask scheduler' and check the address and port"
            )
            raise EngineError(msg) from None
        return Engine(kind="dask", client=client, partitions=partitions)
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=processes,
        dashboard_address=":0",  # any free port: never collide with another cluster
    )
    return Engine(kind="dask", client=Client(cluster), partitions=partitions, _cluster=cluster)


def map_runs(
    configs: list, out_dirs: list[str | Path], client, *, stages: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run independent projects as one Dask task each; return in the order given.

    Each run writes its own folder, which must be on storage the workers share with the
    caller (the workers write it). A run that fails raises :class:`EngineError` here naming
    its run folder and its one-line reason (the first one, in the order given), after the
    others finished (:func:`submit_runs` reports each run as it ends). A worker that dies
    mid-run is replaced and its run is started again from scratch by Dask (up to
    ``distributed.scheduler.allowed-failures`` times); run folders are written atomically, so
    the repeated run gives the same files.

    Parameters
    ----------
    configs
        Loaded :class:`ccm_geo.config.ProjectConfig` objects (their input paths must be
        readable from the workers).
    out_dirs
        One run folder per config.
    client
        A ``distributed.Client`` (:attr:`Engine.client`).
    stages
        Run only these stages (as :func:`ccm_geo.pipeline.run`); default: all.

    Returns
    -------
    list of dict
        Per run: ``out_dir``, ``seconds`` (on the worker), ``warnings`` (how many).
    """
    if len(configs) != len(out_dirs):
        msg = f"map_runs: {len(configs)} configs but {len(out_dirs)} run folders; give one each"
        raise EngineError(msg)
    outcomes: dict[int, dict[str, Any]] = {}
    submit_runs(
        client,
        ((i, c, str(o), {}) for i, (c, o) in enumerate(zip(configs, out_dirs, strict=True))),
        stages=stages,
        on_done=lambda i, outcome: outcomes.__setitem__(i, outcome),
    )
    for i, out in enumerate(out_dirs):
        if outcomes[i]["status"] != "ok":
            msg = f"map_runs: the run into {out} failed: {outcomes[i]['error']}"
            raise EngineError(msg)
    return [
        {
            "out_dir": str(out),
            "seconds": outcomes[i]["seconds"],
            "warnings": len(outcomes[i]["log"].warnings),
        }
        for i, out in enumerate(out_dirs)
    ]


def run_task(
    config,
    out_dir: str,
    stages: list[str] | None = None,
    reuse: bool = False,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One project (or scenario) run, on a worker, with the in-process engine there.

    A failure comes back as a value (``status`` "failed" and the one-line reason), not as an
    exception, so that one project's error never looks like a lost worker to Dask (which
    would start it again) and never stops the other runs.

    Returns
    -------
    dict
        ``status`` ("ok" or "failed"), ``error`` (None or one line), ``log`` (the
        :class:`ccm_geo.pipeline.RunLog`, without its in-memory tables; None on failure),
        ``seconds`` (on the worker).
    """
    import time

    from ccm_geo.errors import CcmGeoError
    from ccm_geo.pipeline import run

    t0 = time.perf_counter()
    outcome: dict[str, Any] = {"status": "ok", "error": None, "log": None}
    try:
        log = run(config, out_dir, stages=stages, reuse=reuse, **(options or {}))
        log.tables = {}  # the frames stay on the worker: the run folder holds them
        log.progress = None
        outcome["log"] = log
    except CcmGeoError as exc:
        outcome.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - reported like a failed project, as in process
        outcome.update(
            status="failed", error=f"{type(exc).__name__}: {exc} (a bug: please report it)"
        )
    outcome["seconds"] = time.perf_counter() - t0
    return outcome


def submit_runs(
    client,
    items: Iterable[tuple[Any, Any, str, dict[str, Any]]],
    *,
    stages: list[str] | None = None,
    reuse: bool = False,
    on_done: Callable[[Any, dict[str, Any]], None],
) -> None:
    """Send runs to the cluster as one task each; call ``on_done(tag, outcome)`` as each ends.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    items
        ``(tag, config, out_dir, options)`` per run: ``tag`` is handed back to ``on_done``,
        ``options`` go to :func:`ccm_geo.pipeline.run` (``scenario``, ``tiles``, ...).
    on_done
        Called on the caller, in the order runs finish, with the outcome of
        :func:`run_task`. A run whose workers kept dying (more than
        ``distributed.scheduler.allowed-failures`` times) ends "failed" with that reason.
    """
    import uuid

    from distributed import as_completed

    tag = uuid.uuid4().hex[:8]
    futures = {}
    for i, (item, config, out_dir, options) in enumerate(items):
        name = Path(out_dir).name or "run"
        fut = client.submit(
            run_task,
            config,
            out_dir,
            stages,
            reuse,
            options,
            key=f"ccm-run-{name}-{i}-{tag}",
            pure=False,
        )
        futures[fut] = item
    for fut in as_completed(list(futures)):
        try:
            outcome = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: this run failed, not all
            text = str(exc).splitlines()[0] if str(exc) else ""
            outcome = {
                "status": "failed",
                "error": f"the cluster lost this run ({type(exc).__name__}: {text})",
                "log": None,
                "seconds": float("nan"),
            }
        on_done(futures[fut], outcome)
