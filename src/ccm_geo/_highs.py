"""A HiGHS solver instance without the banner HiGHS prints to stdout when it is created."""

from __future__ import annotations

import os
import sys


def new_highs(**options):
    """A ``highspy.Highs`` with ``output_flag`` off and ``options`` set.

    HiGHS writes its version banner to the process's standard output (file descriptor 1) on
    construction, before any option can silence it; that would mix into the CLI's output and
    into pipes, so descriptor 1 points at ``/dev/null`` for the constructor call only.
    """
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    h.setOptionValue("output_flag", False)
    for key, value in options.items():
        h.setOptionValue(key, value)
    return h
