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


def pass_binary_model(
    h, c, A, row_lower, row_upper, *, col_lower=None, col_upper=None, start=None
) -> None:
    """Give ``h`` a maximisation over integer columns (binary by default) and a warm start.

    Parameters
    ----------
    c
        Objective coefficients (maximised).
    A
        Constraint matrix (scipy sparse, any format).
    row_lower, row_upper
        Row bounds; non-finite values mean unbounded.
    col_lower, col_upper
        Column bounds; default 0 and 1.
    start
        A feasible solution (one value per column) for HiGHS to start from, or None.
    """
    import highspy
    import numpy as np

    n_rows, n_cols = A.shape
    csc = A.tocsc()
    csc.sort_indices()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.zeros(n_cols) if col_lower is None else np.asarray(col_lower, dtype=float)
    lp.col_upper_ = np.ones(n_cols) if col_upper is None else np.asarray(col_upper, dtype=float)
    lp.row_lower_ = np.where(np.isfinite(row_lower), row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_upper), row_upper, inf)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(float)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_cols
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=float).tolist()
        sol.value_valid = True
        h.setSolution(sol)
