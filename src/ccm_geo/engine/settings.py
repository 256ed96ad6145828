"""The ``[engine]`` section: where a run's work is computed (in process, or on Dask)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ccm_geo._base import Frozen

__all__ = ["EngineSettings"]


class EngineSettings(Frozen):
    """Where the work runs. The command line (``--engine``, ``--scheduler``, ``--workers``)
    overrides these.

    Attributes
    ----------
    kind
        ``"inprocess"`` (default: everything in this Python process) or ``"dask"``.
    scheduler
        Address of an existing Dask scheduler, e.g. ``tcp://10.0.0.5:8786``; implies
        ``kind = "dask"``. Without it, ``kind = "dask"`` starts a LocalCluster on this machine.
    workers
        Workers of the LocalCluster (ignored with ``scheduler``); default: one per core.
    partitions
        Spatial partitions of the register for the criteria stage; default: two per worker
        thread, at least one per 20,000 areas.
    """

    kind: Literal["inprocess", "dask"] = "inprocess"
    scheduler: str | None = Field(None, description="tcp://HOST:PORT of an existing scheduler.")
    workers: int | None = Field(None, ge=1)
    partitions: int | None = Field(None, ge=1)
