"""A HiGHS solver instance without the banner HiGHS prints to stdout when it is created."""

from __future__ import annotations

import contextlib
import os
import sys


def new_highs(_flush: bool = True, **options):
    """A ``highspy.Highs`` with ``output_flag`` off and ``options`` set.

    HiGHS writes its version banner to the process's standard output (file descriptor 1) on
    construction, before any option can silence it; that would mix into the CLI's output and
    into pipes, so descriptor 1 points at ``/dev/null`` for the constructor call only.
    (``_flush=False`` in a forked child: another thread of the parent may have held the lock
    of Python's stdout buffer at the fork.)
    """
    import highspy

    if _flush:
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


def solve_in_worker(
    c,
    A,
    row_lower,
    row_upper,
    *,
    col_lower=None,
    col_upper=None,
    start=None,
    options: dict | None = None,
    wall_s: float,
    on_improved=None,
) -> dict:
    """Solve a maximisation MILP in a child process that is killed when ``wall_s`` has passed.

    HiGHS's own ``time_limit`` is not checked everywhere (its presolve clique detection can
    run for minutes on models with many identical columns), so the wall clock is kept from
    outside: the child streams every improving solution through a pipe and the parent keeps
    the best one it has seen, whatever state the child is in when it is stopped.

    Parameters
    ----------
    c, A, row_lower, row_upper, col_lower, col_upper, start
        As for ``pass_binary_model``.
    options
        HiGHS options; ``time_limit`` is set a little under ``wall_s``.
    wall_s
        Wall-clock seconds from the call; the child is killed after them.
    on_improved
        Called in the parent as ``on_improved(x, objective)`` for each improving solution; if it
        returns True the child is stopped at once (the caller has what it needs).

    Returns
    -------
    dict
        ``x`` (best solution seen, or None), ``objective``, ``bound`` (the solver's dual bound,
        NaN when it never reported one), ``status`` (HiGHS's model status text, or
        ``"stopped: wall clock"`` / ``"stopped: enough"`` when the child was killed),
        ``seconds``, ``killed`` (bool).
    """
    import multiprocessing as mp
    import time

    import numpy as np

    t0 = time.perf_counter()
    deadline = t0 + max(0.0, float(wall_s))
    opts = dict(options or {})
    opts["time_limit"] = max(0.05, 0.95 * float(wall_s) - 0.05)
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_worker,
        args=(send, c, A, row_lower, row_upper, col_lower, col_upper, start, opts),
        daemon=True,
    )
    proc.start()
    send.close()
    out = {"x": None, "objective": float("nan"), "bound": float("nan"), "status": ""}
    killed_reason = "stopped: wall clock"
    finished = False
    try:
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            if not recv.poll(min(left, 0.05)):
                if not proc.is_alive() and not recv.poll(0):
                    break
                continue
            try:
                msg = recv.recv()
            except EOFError:
                break
            kind = msg[0]
            if kind in ("improved", "done") and msg[1] is not None:
                x = np.asarray(msg[1], dtype=float)
                if out["x"] is None or msg[2] > out["objective"]:
                    out["x"], out["objective"] = x, float(msg[2])
            if np.isfinite(msg[3]):
                out["bound"] = float(msg[3])
            if kind == "done":
                out["status"] = msg[4]
                finished = True
                break
            if (
                on_improved is not None
                and out["x"] is not None
                and on_improved(out["x"], out["objective"])
            ):
                killed_reason = "stopped: enough"
                break
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        recv.close()
    out["killed"] = not finished
    if not finished:
        out["status"] = killed_reason
    out["seconds"] = time.perf_counter() - t0
    return out


def _worker(conn, c, A, row_lower, row_upper, col_lower, col_upper, start, opts) -> None:
    """Child process: build, solve, stream improving solutions, send the final state."""
    import numpy as np

    h = new_highs(_flush=False, **opts)

    def improved(e) -> None:
        try:
            conn.send(
                (
                    "improved",
                    np.asarray(e.data_out.mip_solution, dtype=float).copy(),
                    float(e.data_out.objective_function_value),
                    float(e.data_out.mip_dual_bound),
                )
            )
        except (BrokenPipeError, OSError):  # the parent stopped listening
            e.data_in.user_interrupt = True

    h.cbMipImprovingSolution.subscribe(improved)
    pass_binary_model(
        h, c, A, row_lower, row_upper, col_lower=col_lower, col_upper=col_upper, start=start
    )
    h.run()
    info = h.getInfo()
    x = None
    if info.primal_solution_status == 2:  # kSolutionStatusFeasible
        x = np.asarray(h.getSolution().col_value, dtype=float)
    bound = float(info.mip_dual_bound)
    obj = float(info.objective_function_value) if x is not None else float("nan")
    with contextlib.suppress(BrokenPipeError, OSError):
        conn.send(("done", x, obj, bound, h.modelStatusToString(h.getModelStatus())))
    conn.close()
