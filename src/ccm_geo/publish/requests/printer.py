"""Printing the requests' PDFs beside the rest of the request stage.

WeasyPrint lays out and prints one request in seconds at national scale, in Python, while the
next donor's content, maps and workbook are computed. With several PDFs to print on a machine
of two or more cores, :class:`Printer` hands them to one worker process (started with
``spawn``: the parent may hold threads) and the stage goes on; :meth:`Printer.close` waits
for them and raises the first error a print raised. Each PDF is written atomically by
:func:`~ccm_geo.publish.requests.render.print_pdf`, the same function and bytes as in one
process. Small runs print in the process itself: starting a worker costs more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ccm_geo.publish.requests.render import print_pdf

__all__ = ["Printer"]

#: A worker prints when the plan has at least this many tasks (a national register's size:
#: the demo's requests print in about a second each, a worker takes about as long to start)
PARALLEL_MIN_TASKS = 20_000


class Printer:
    """Prints request PDFs: in one worker process when ``parallel``, else at once."""

    def __init__(self, parallel: bool):
        self._pool: ProcessPoolExecutor | None = None
        self._jobs: list[Future] = []
        if parallel and (os.cpu_count() or 1) >= 2:
            import multiprocessing

            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )

    @classmethod
    def for_plan(cls, n_tasks: int, n_pdfs: int) -> Printer:
        """A printer for ``n_pdfs`` requests of a plan of ``n_tasks`` tasks."""
        return cls(parallel=n_pdfs >= 2 and n_tasks >= PARALLEL_MIN_TASKS)

    def submit(self, html: str, resources: Mapping[str, bytes], path: Path) -> Path:
        """Print ``html`` to ``path`` (now, or in the worker); returns ``path``."""
        if self._pool is None:
            return print_pdf(html, resources, path)
        self._jobs.append(self._pool.submit(print_pdf, html, dict(resources), path))
        return path

    def close(self) -> None:
        """Wait for every print; raise the first error one raised (the others still end)."""
        if self._pool is None:
            return
        try:
            for job in self._jobs:
                job.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        elif self._pool is not None:  # an error already: stop printing, wait for the worker
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
