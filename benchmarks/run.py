"""`make bench`: every stage beside its peer or floor, in one run; writes benchmarks/results.md.

Scale 1.0 is the national size of the issues: 100,000 polygons, a 20,000 x 20,000 land-cover
raster and a ~200,000-node road graph for the criteria; 10,000 areas x 1,000 draws for the
sensitivity; national-shaped registers of 10,000, 25,000 and 100,000 areas (5 years, budget
and teams both short) for the whole planning stage, and a knapsack the solver must solve
exactly; 2,000 / 20,000 / 100,000 areas for the maps; end to end, every stage of `ccm-geo` on
demo-generator registers of ~25,000 and ~100,000 areas (bench_e2e.py). Smaller scales shrink
every size in proportion (for a quick look). Times are wall seconds on whatever this machine
is doing: compare the ratios, which are measured side by side in the same process, not the
absolute times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1.0 = national size (default); 0.1 for a quick look",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["criteria", "scoring", "planning", "maps", "dask", "dask-large", "e2e"],
        help="run only these benchmarks",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args(argv)
    s = args.scale
    # e2e (every stage at 25,000 and 100,000 areas) takes far longer than the rest: run it
    # with --only e2e
    chosen = args.only or ["criteria", "scoring", "planning", "maps", "dask"]
    sections: list[tuple[str, list[dict], float]] = []
    for name in chosen:
        print(f"== {name} (scale {s:g})", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rows = _RUNNERS[name](s)
        sections.append((name, rows, time.perf_counter() - t0))
        print(_table(rows), file=sys.stderr, flush=True)
    text = _report(sections, s)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


def _criteria(s: float) -> list[dict]:
    from benchmarks.bench_criteria import bench

    return bench(
        n_polygons=max(500, int(100_000 * s)),
        raster_size=max(500, int(20_000 * s)),
        n_nodes=max(2_000, int(200_000 * s)),
        n_settlements=max(100, int(2_000 * s)),
        peer_subset=max(200, min(10_000, int(10_000 * s))),
    )


def _scoring(s: float) -> list[dict]:
    from benchmarks.bench_scoring import bench

    n = max(500, int(10_000 * min(s * 10, 1.0)))  # 10,000 areas from scale 0.1 up
    return [bench(areas_n=n, draws=1_000)]


def _planning(s: float) -> list[dict]:
    from benchmarks.bench_planning import bench_national, knapsack_check

    rows = [knapsack_check()]
    for n in sorted({max(1_000, int(n * s)) for n in (10_000, 25_000, 100_000)}):
        print(f"   planning: {n:,} areas", file=sys.stderr, flush=True)
        rows.append(bench_national(n, time_limit_s=60.0))
    return rows


def _maps(s: float) -> list[dict]:
    from benchmarks.bench_maps import bench, bench_print

    sizes = tuple(sorted({max(200, int(n * s)) for n in (2_000, 20_000, 100_000)}))
    return bench(sizes=sizes) + [bench_print(max(200, int(78_000 * s)))]


def _dask(s: float) -> list[dict]:
    from benchmarks.bench_dask import bench, bench_batch

    rows = bench(sizes=(max(2_000, int(100_000 * s)),))
    return rows + bench_batch(max(4, int(20 * s)))  # 20 demo projects at scale 1


def _dask_large(s: float) -> list[dict]:
    """Opt-in (--only dask-large; tens of minutes): land-use criteria at 100k, 300k, 1M."""
    from benchmarks.bench_dask import bench_large

    sizes = tuple(max(2_000, int(n * s)) for n in (100_000, 300_000, 1_000_000))
    return bench_large(sizes)[1]


def _e2e(s: float) -> list[dict]:
    from benchmarks.bench_e2e import bench

    # scale 1: the demo generator's 25,000 and 100,000 areas (generator scales 55 and 220)
    return bench(scales=tuple(sorted({max(2.0, 55.0 * s), max(4.0, 220.0 * s)})))


_RUNNERS = {
    "criteria": _criteria,
    "scoring": _scoring,
    "planning": _planning,
    "maps": _maps,
    "dask": _dask,
    "dask-large": _dask_large,
    "e2e": _e2e,
}


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, dict | list | tuple):
        return (
            "; ".join(f"{k}={_fmt(x)}" for k, x in v.items())
            if isinstance(v, dict)
            else ", ".join(_fmt(x) for x in v)
        )
    return str(v).replace("|", "/")


def _table(rows: list[dict]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def _report(sections, scale: float) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    head = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m benchmarks.run --scale {scale:g}`) on "
        f"{dt.date.today().isoformat()}, Python {platform.python_version()}, "
        f"{platform.machine()}. Peers and floors run in the same process, beside ours; "
        "ratios are what to compare (the machine is shared and noisy).",
        f"Process peak RSS over the whole run: {rss:,.0f} MiB.",
        "",
    ]
    body = []
    for name, rows, secs in sections:
        body += [f"## {name} ({secs:.0f} s in all)", "", _table(rows), ""]
    return "\n".join(head + body)


if __name__ == "__main__":
    raise SystemExit(main())
