"""``ccm_geo.background``: a function gives the same value in the worker as at once, and what
it says there (warnings, log records, errors) reaches the caller."""

import logging
import warnings

import pytest

from ccm_geo.background import Background
from ccm_geo.errors import DataWarning


def _speaks(n: int) -> int:
    warnings.warn(f"odd row {n}", DataWarning, stacklevel=1)
    logging.getLogger("ccm_geo.planning").warning("the clock stopped step %d", n)
    logging.getLogger("ccm_geo.planning").debug("not asked for")
    return n * n


def _fails() -> None:
    msg = "bad input in row 7"
    raise ValueError(msg)


@pytest.mark.parametrize("enabled", [False, True])
def test_value_warnings_and_log_records_reach_the_caller(enabled, caplog):
    with caplog.at_level(logging.INFO, logger="ccm_geo"), Background(enabled) as side:
        assert side.parallel == enabled
        with pytest.warns(DataWarning, match="odd row 3"):
            assert side.submit(_speaks, 3).result() == 9
    said = [r.getMessage() for r in caplog.records if r.name == "ccm_geo.planning"]
    assert said == ["the clock stopped step 3"]


@pytest.mark.parametrize("enabled", [False, True])
def test_an_error_in_the_function_is_raised_to_the_caller(enabled):
    with pytest.raises(ValueError, match="row 7"), Background(enabled) as side:
        side.submit(_fails).result()
    if enabled:  # raised when the jobs are collected as the block ends, too
        with pytest.raises(ValueError, match="row 7"), Background(enabled) as side:
            side.submit(_fails)


def _in_a_daemon(queue) -> None:
    with Background(True) as side:
        queue.put((side.parallel, side.submit(pow, 3, 2).result()))


def test_a_daemonic_process_works_in_itself():
    """A Dask worker's process is daemonic and may not start children: no worker, same value."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_a_daemon, args=(queue,), daemon=True)
    proc.start()
    parallel, value = queue.get(timeout=60)
    proc.join(30)
    assert (parallel, value) == (False, 9)
