"""End to end at national scale: every stage's wall time and peak memory, at two sizes.

Registers from the demo generator (``ccm_geo.demo``; ``scale`` 55 gives ~25,000 areas, 220
~100,000, land cover at 100 m), run with the demo's project file stage by stage, each stage
in its own process (``ccm-geo <stage>``), so that its peak resident memory is its own. The
growth exponent of a stage between the two sizes is ``log(t2 / t1) / log(n2 / n1)``; the
target is at most ~1.2 for every stage and at most 3 minutes for load → requests at 100,000
areas. A fixed workload timed before and after the stages (:func:`machine_floor`) gives the
total in floors too, which compares across days on a machine whose speed moves.

Run alone with ``python -m benchmarks.run --only e2e`` (about 10 minutes at scale 1 on a
2-core machine, generation included), or ``python -m benchmarks.bench_e2e DIR --scale 55``
for one size. Generated registers are kept in ``--work`` (default: a temporary folder) and
reused when present.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["load", "criteria", "score", "prioritise", "map", "request"]
#: The generator's scale for a number of areas (scale 1 gives ~450 areas).
AREAS_PER_SCALE = 450


def register(folder: Path, scale: float) -> Path:
    """Generate (or reuse) a demo register of ``scale`` in ``folder``; its project file."""
    project = folder / "project.toml"
    if not project.exists():
        from ccm_geo.demo import generate_region

        generate_region(folder, scale=scale, pixel_m=100.0)
        # the demo's districts are renamed at other scales: the region-bound donor takes any
        text = (ROOT / "data" / "demo" / "project.toml").read_text(encoding="utf-8")
        text = "\n".join(ln for ln in text.splitlines() if not ln.startswith("regions = "))
        project.write_text(text + "\n", encoding="utf-8")
    return project


def machine_floor(repeat: int = 3) -> list[float]:
    """Seconds of one fixed workload of the kinds the stages do, ``repeat`` times: sorting and
    grouping 2 million numbers, buffering 50,000 points and querying their tree, and bounded
    shortest-path searches on a 160,000-node grid.

    The same machine ran the same code at 1.6 times the speed on one day as on another (see
    results.md); stage seconds over this floor, measured in the same run, compare across days.
    """
    import numpy as np
    import scipy.sparse as sp
    import shapely
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(0)
    x = rng.random(2_000_000)
    xy = rng.random((50_000, 2)) * 20_000.0
    side = 400
    node = np.arange(side * side).reshape(side, side)
    a = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    b = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    w = rng.uniform(0.5, 2.0, len(a))
    grid = sp.csr_array(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(side * side, side * side),
    )
    sources = rng.choice(side * side, 40, replace=False)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.unique(np.round(np.sort(x), 4), return_counts=True)
        polys = shapely.buffer(shapely.points(xy), 25.0, quad_segs=8)
        shapely.STRtree(polys).query(polys, predicate="intersects")
        dijkstra(grid, directed=False, indices=sources, limit=150.0)
        times.append(time.perf_counter() - t0)
    return times


def run_stages(project: Path, out: Path, stages: tuple[str, ...] = tuple(STAGES)) -> list[dict]:
    """Each stage in its own process: wall seconds and peak RSS (MiB)."""
    rows = []
    for stage in stages:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_e2e",
                "--stage",
                stage,
                str(project),
                str(out),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            msg = f"stage {stage} failed on {project}:\n{proc.stderr[-3000:]}"
            raise RuntimeError(msg)
        inner = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"stage": stage, "process_s": wall, **inner})
        print(
            f"   {stage}: {inner['stage_s']:.1f} s, {inner['peak_mib']:,.0f} MiB", file=sys.stderr
        )
    return rows


def bench(
    scales: tuple[float, ...] = (55.0, 220.0),
    work: Path | None = None,
    stages: tuple[str, ...] = tuple(STAGES),
) -> list[dict]:
    """Stage times and peaks at each scale, and each stage's growth exponent between them.

    ``stages`` runs only those (in pipeline order; the others' outputs must already be in
    the work folder's run folders), e.g. all but ``request`` to time that one separately.
    """
    tmp = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="ccm_e2e_")
        work = Path(tmp.name)
    floors = machine_floor()
    try:
        runs = {}
        for scale in scales:
            folder = Path(work) / f"scale{scale:g}"
            t0 = time.perf_counter()
            project = register(folder, scale)
            gen_s = time.perf_counter() - t0
            n = _areas(project)
            print(f"   e2e: {n:,} areas (scale {scale:g})", file=sys.stderr, flush=True)
            runs[scale] = (n, gen_s, run_stages(project, folder / "run", stages))
    finally:
        if tmp is not None:
            tmp.cleanup()
    floors += machine_floor()
    return table(runs, stages, floor=statistics.median(floors))


def table(
    runs: dict, stages: tuple[str, ...] = tuple(STAGES), floor: float | None = None
) -> list[dict]:
    """One row per stage: time and peak at each size, the exponent between the extremes; with
    ``floor`` (seconds of :func:`machine_floor`, measured before and after the stages), two
    rows more: the floor, and the total over it."""
    scales = sorted(runs)
    rows = []
    total = f"all ({stages[0]} → {stages[-1]})"
    for i, stage in enumerate([*stages, total]):
        row: dict = {"stage": stage}
        times = []
        for s in scales:
            n, _, stage_rows = runs[s]
            if i < len(stages):
                t, peak = stage_rows[i]["stage_s"], stage_rows[i]["peak_mib"]
            else:
                t = sum(r["stage_s"] for r in stage_rows)
                peak = max(r["peak_mib"] for r in stage_rows)
            times.append((n, t))
            row[f"s at {n:,}"] = t
            row[f"peak MiB at {n:,}"] = peak
        if len(times) >= 2 and times[0][1] > 0:
            (n1, t1), (n2, t2) = times[0], times[-1]
            row["exponent"] = math.log(t2 / t1) / math.log(n2 / n1)
        rows.append(row)
    if floor:
        sizes = [runs[s][0] for s in scales]
        rows.append(
            {"stage": "machine floor (median of 6)"} | {f"s at {n:,}": floor for n in sizes}
        )
        rows.append(
            {"stage": f"{total} / floor"}
            | {f"s at {n:,}": rows[len(stages)][f"s at {n:,}"] / floor for n in sizes}
        )
    return rows


def _areas(project: Path) -> int:
    import pyogrio

    return int(pyogrio.read_info(project.parent / "hazards.gpkg")["features"])


def _one_stage(stage: str, project: Path, out: Path) -> None:
    """Run one stage in this process; print its time and this process's peak RSS as JSON."""
    import resource
    import warnings

    from ccm_geo.config import load_config
    from ccm_geo.pipeline import run

    warnings.simplefilter("ignore")
    config = load_config(project)
    log = run(config, out, stages=[stage])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # not the children's (RUSAGE_CHILDREN): a forked child's peak counts the pages it shares
    # with this process; the worker beside a stage is measured apart (results.md)
    print(json.dumps({"stage_s": log.timings_s[stage], "peak_mib": peak}))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project_or_work", type=Path, help="work folder (or project.toml)")
    parser.add_argument("out", type=Path, nargs="?", help="run folder (with --stage)")
    parser.add_argument("--stage", choices=STAGES, help="run this stage only, in this process")
    parser.add_argument("--scale", type=float, nargs="+", default=[55.0, 220.0])
    parser.add_argument(
        "--stages",
        nargs="+",
        choices=STAGES,
        default=STAGES,
        help="run only these stages (the earlier ones' outputs must be in the work folder)",
    )
    args = parser.parse_args(argv)
    if args.stage:
        _one_stage(args.stage, args.project_or_work, args.out)
        return []
    stages = tuple(s for s in STAGES if s in args.stages)
    rows = bench(tuple(args.scale), work=args.project_or_work, stages=stages)
    from benchmarks.run import _table

    print(_table(rows))
    return rows


if __name__ == "__main__":
    main()
