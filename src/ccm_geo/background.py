"""Work beside the caller: one worker process for the parts of a stage that do not depend on
each other (the plan's budget curve while its teams are scheduled; the requests' PDFs while
the next donor's package is made).

A machine of two or more cores runs them at once; :class:`Background` starts one worker
process (``spawn``: the caller may hold threads) only when asked to (``enabled``: a run large
enough to gain more than the worker's start-up of a few seconds), when there are two cores and
when the caller may start processes (not a daemonic one, such as a Dask worker's); else, or
when the worker cannot start, it calls the functions at once, in the caller. Either way the
results are the same: the same functions on the same values. What the functions say is not
lost in the worker: its warnings are raised again in the caller and its log records handed to
the caller's loggers, when the result is collected; an error raised in the worker is raised
by :meth:`Job.result`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

__all__ = ["Background", "Job", "PARALLEL_MIN_TASKS"]

logger = logging.getLogger(__name__)

#: A stage uses the worker from this many tasks on (a national register's size; the demo's
#: parts take a second or two each, about what the worker takes to start)
PARALLEL_MIN_TASKS = 20_000


class Job:
    """A function's result: computed already, or to be collected from the worker."""

    def __init__(self, future: Future | None = None, value: Any = None):
        self._future, self._value = future, value

    def result(self) -> Any:
        """The function's value (waiting for the worker); its warnings and log records are
        raised and handed on here; its error is raised here."""
        if self._future is None:
            return self._value
        value, caught, records = self._future.result()
        self._future, self._value = None, value
        for record in records:
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return value


class Background:
    """One worker process for functions submitted with :meth:`submit` (or none: see the
    module's notes); a context manager that waits for every job and stops the worker."""

    def __init__(self, enabled: bool):
        import multiprocessing

        self._pool: ProcessPoolExecutor | None = None
        self._jobs: list[Job] = []
        # a daemonic process (a Dask worker's, a pool's) may not start children: at once there
        if enabled and (os.cpu_count() or 1) >= 2 and not multiprocessing.current_process().daemon:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )

    @property
    def parallel(self) -> bool:
        """Whether the functions run in a worker process."""
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        """``fn(*args, **kwargs)``: in the worker (``fn`` and its arguments must pickle), or at
        once."""
        job = None
        if self._pool is not None:
            try:
                job = Job(self._pool.submit(_said, fn, args, kwargs))
            except (OSError, RuntimeError, AssertionError) as exc:  # the worker cannot start
                logger.info("background: no worker process (%s); working in this one", exc)
                self._stop()
        if job is None:
            job = Job(value=fn(*args, **kwargs))
        self._jobs.append(job)
        return job

    def close(self) -> None:
        """Collect every job (raising the first error one raised) and stop the worker."""
        try:
            for job in self._jobs:
                job.result()
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Background:
        return self

    def __exit__(self, kind, *_exc) -> None:
        if kind is None:
            self.close()
        else:  # an error already: the jobs' results no longer matter
            self._stop()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args = record.getMessage(), None  # formatted here: args may not pickle
        record.exc_info = record.exc_text = None
        self.records.append(record)


def _said(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[Any, list, list]:
    """In the worker: ``fn``'s value, the warnings it raised and the records it logged (ours at
    INFO and above, any package's warnings)."""
    handler = _Records()
    root, ours = logging.getLogger(), logging.getLogger("ccm_geo")
    root.addHandler(handler)
    root_level, our_level = root.level, ours.level
    root.setLevel(logging.WARNING)
    ours.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = fn(*args, **kwargs)
    finally:
        root.removeHandler(handler)
        root.setLevel(root_level)
        ours.setLevel(our_level)
    said = [
        warnings.WarningMessage(str(w.message), w.category, w.filename, w.lineno) for w in caught
    ]
    return value, said, handler.records
