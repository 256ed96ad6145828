"""The criteria stage of one large synthetic register: in process vs a LocalCluster.

Same inputs as ``bench_criteria`` (random polygons, a categorical GeoTIFF read by window, a
jittered grid road network). For each register size: ``compute_criteria`` in this process, then
``partitioned_criteria`` on a LocalCluster of 1 and of 2 single-threaded worker processes.
Reports areas/s, the speed-up over in process, the peak RSS of each worker process and of
the calling process (which computes remoteness and risk once over the whole register), and
checks that the results are identical.

Run: ``python -m benchmarks.bench_dask --areas 100000`` (bounded: a few minutes per size).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["bench", "main"]

REF = pd.Timestamp("2025-01-01").date()


def _peak_mib() -> float:
    """Peak RSS of this process since it started (VmHWM; ru_maxrss would carry the parent's
    peak over the fork + exec that starts a worker process)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(sizes: tuple[int, ...] = (100_000,), workers: tuple[int, ...] = (1, 2)) -> list[dict]:
    """One row per (register size, engine)."""
    from benchmarks.bench_criteria import make_inputs
    from ccm_geo.criteria import compute_criteria
    from ccm_geo.engine import open_engine
    from ccm_geo.engine.criteria import partitioned_criteria

    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # synthetic data: some areas have no route, etc.
            raster = max(2_000, int(20_000 * (n / 100_000) ** 0.5))
            nodes = max(5_000, int(200_000 * n / 100_000))
            hazards, context = make_inputs(Path(tmp), n, raster, nodes, n_settlements=2_000)
            t0 = time.perf_counter()
            base = compute_criteria(hazards, context, reference_date=REF)
            secs = time.perf_counter() - t0
            rows.append(
                {
                    "areas": n,
                    "raster px": f"{raster:,} x {raster:,}",
                    "engine": "in process",
                    "seconds": secs,
                    "areas/s": n / secs,
                    "speed-up": 1.0,
                    "peak MiB per worker": None,
                    "caller peak MiB": _peak_mib(),
                    "identical": True,
                }
            )
            for w in workers:
                with open_engine("dask", workers=w) as eng:
                    t0 = time.perf_counter()
                    marks: dict[str, float] = {}

                    def mark(name, marks=marks, t0=t0):
                        marks[name.split(" ")[0]] = time.perf_counter() - t0

                    out = partitioned_criteria(
                        hazards, context, reference_date=REF, client=eng.client, progress=mark
                    )
                    s = time.perf_counter() - t0
                    peaks = eng.client.run(_peak_mib)
                rows.append(
                    {
                        "areas": n,
                        "raster px": f"{raster:,} x {raster:,}",
                        "engine": f"LocalCluster {w} worker{'s' if w > 1 else ''}",
                        "seconds": s,
                        "areas/s": n / s,
                        "speed-up": secs / s,
                        "caller-side s (graph, remoteness, risk)": marks.get("contamination"),
                        "peak MiB per worker": max(peaks.values()),
                        "caller peak MiB": _peak_mib(),
                        "identical": bool(base.equals(out)),
                    }
                )
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    """Command line: print the table (markdown)."""
    import json

    from benchmarks.run import _table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--areas", type=int, nargs="+", default=[100_000])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument(
        "--large",
        action="store_true",
        help="criteria with the land-cover raster only, on demo-generator areas (default sizes "
        "100,000, 300,000 and 1,000,000) over a 40,000 x 50,000 raster; each run in its own "
        "process",
    )
    p.add_argument("--workdir", type=Path, help="--large: keep the prepared inputs here")
    p.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="a batch of N demo projects (load to prioritise) in process and on LocalClusters",
    )
    p.add_argument("--one", nargs=3, metavar=("FOLDER", "AREAS", "WORKERS"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        row = run_one(Path(a.one[0]), int(a.one[1]), int(a.one[2]))
        print(json.dumps(row))
        return [row]
    if a.batch:
        rows = bench_batch(a.batch, tuple(a.workers))
        print(_table(rows))
        return rows
    if a.large:
        sizes = tuple(a.areas) if a.areas != [100_000] else (100_000, 300_000, 1_000_000)
        prep, rows = bench_large(sizes, tuple(a.workers), a.workdir)
        print(prep)
        print(_table(rows))
        return rows
    rows = bench(tuple(a.areas), tuple(a.workers))
    print(_table(rows))
    return rows


# --------------------------------------------------------------------------------------------
# Large registers over a large raster: 100k / 300k / 1M areas (opt-in: --large)

#: Land-cover raster of the large bench: 40,000 x 50,000 pixels (2 G pixels, 2 GB as uint8,
#: 16 GB as float64): not something to hold in memory; written tiled and compressed.
LARGE_RASTER = (40_000, 50_000)
_DEMO_SCALE = 10.0  # one demo province of ~4,500 areas, tiled to reach the register size


def prepare_large(folder: Path, n_max: int, raster_shape: tuple[int, int] = LARGE_RASTER) -> dict:
    """Write ``areas.parquet`` (``n_max`` demo-generator areas) and ``landcover.tif``.

    The areas are the demo generator's hazards (``ccm_geo.demo.generate_region`` at scale 10,
    loaded through the demo's column mapping), copied onto a grid of provinces side by side
    until there are ``n_max`` of them (ids get the copy's number). The raster covers the whole
    grid: a tiled (512 x 512), DEFLATE-compressed uint8 GeoTIFF with the demo's classes in
    blocks of 8 pixels, written strip by strip (never whole in memory).
    """
    import math
    import re

    import numpy as np
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.windows import Window

    from ccm_geo.config import load_config
    from ccm_geo.demo import DEMO_CRS, DEMO_SEED, generate_region
    from ccm_geo.pipeline import load_inputs

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    demo_dir = folder / "demo"
    generate_region(demo_dir, scale=_DEMO_SCALE, seed=DEMO_SEED, raster=False)
    demo_toml = (Path(__file__).resolve().parents[1] / "data/demo/project.toml").read_text()
    section = re.search(r"^\[inputs\.hazards\].*?(?=^\s*$)", demo_toml, re.M | re.S).group(0)
    section = section.replace('path = "hazards.gpkg"', f'path = "{demo_dir / "hazards.gpkg"}"')
    toml = folder / "tiles.toml"
    toml.write_text(f'[project]\nname = "tiles"\ncrs = "{DEMO_CRS}"\n\n{section}\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one, _context, _reports = load_inputs(load_config(toml))
    x0, y0, x1, y1 = one.total_bounds
    w, h = x1 - x0 + 1_000, y1 - y0 + 1_000
    copies = -(-n_max // len(one))
    cols = math.ceil(math.sqrt(copies * h / w))  # a roughly square grid of provinces
    rows = -(-copies // cols)
    parts = []
    for c in range(copies):
        dx, dy = (c % cols) * w, (c // cols) * h
        part = one.copy()
        part["hazard_id"] = part["hazard_id"].astype(str) + f"-{c:04d}"
        part["geometry"] = shapely.transform(
            part.geometry.to_numpy(), lambda xy, d=(dx, dy): xy + d
        )
        parts.append(part)
    areas = pd.concat(parts, ignore_index=True).iloc[:n_max]
    areas = areas.set_crs(one.crs, allow_override=True)
    areas.to_parquet(folder / "areas.parquet")
    t_areas = time.perf_counter() - t0

    t0 = time.perf_counter()
    height, width = raster_shape
    ext_w, ext_h = cols * w, rows * h
    transform = Affine(ext_w / width, 0, x0, 0, -ext_h / height, y0 + ext_h)
    profile = dict(
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="uint8",
        crs=DEMO_CRS,
        transform=transform,
        nodata=0,
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        BIGTIFF="YES",
    )
    rng = np.random.default_rng(DEMO_SEED)
    block, strip = 8, 512
    with rasterio.open(folder / "landcover.tif", "w", **profile) as ds:
        for r0 in range(0, height, strip):
            hh = min(strip, height - r0)
            coarse = rng.integers(1, 8, size=(strip // block, width // block + 1), dtype=np.uint8)
            coarse[rng.random(coarse.shape) < 0.01] = 0  # some nodata
            ds.write(
                coarse.repeat(block, 0).repeat(block, 1)[:hh, :width],
                1,
                window=Window(0, r0, width, hh),
            )
    return {
        "areas": len(areas),
        "provinces": copies,
        "extent km": f"{ext_w / 1000:,.0f} x {ext_h / 1000:,.0f}",
        "pixel m": round(float(ext_w / width), 1),
        "raster MB on disk": (folder / "landcover.tif").stat().st_size / 1e6,
        "areas s": t_areas,
        "raster s": time.perf_counter() - t0,
    }


def _sampled_peak(stop, out: dict, pids: list[int]) -> None:
    """Sample the RSS of ``pids`` every 0.2 s until ``stop`` is set (peak per pid, MiB)."""
    import psutil

    while not stop.is_set():
        for pid in pids:
            try:
                rss = psutil.Process(pid).memory_info().rss / 2**20
            except psutil.Error:
                continue
            out[pid] = max(out.get(pid, 0.0), rss)
        stop.wait(0.2)


def run_one(folder: Path, n: int, workers: int) -> dict:
    """One measurement in this (fresh) process: criteria on the first ``n`` areas, in process
    (``workers`` 0) or on a LocalCluster of ``workers`` single-threaded processes."""
    import hashlib
    import threading

    import geopandas as gpd

    from ccm_geo.criteria import compute_criteria
    from ccm_geo.demo import LANDCOVER_CLASSES
    from ccm_geo.model import Context

    own = folder / f"areas-{n}.parquet"  # not the whole 1M file: its reading is not the bench
    hazards = gpd.read_parquet(own if own.is_file() else folder / "areas.parquet")
    hazards = hazards.iloc[:n].reset_index(drop=True)
    context = Context(
        crs=str(hazards.crs),
        landcover_path=folder / "landcover.tif",
        landcover_classes=dict(LANDCOVER_CLASSES),
    )
    # remoteness and risk over the whole register are the caller's part (and at 1,000,000
    # areas risk's area-to-area evidence pairs alone overflow an 8 GB address space): handed
    # in as given (NaN) to both engines, so that this measures contamination and land use,
    # the part that runs per partition
    register_wide = _nan_register_wide(hazards, context)
    before = _peak_mib()
    row: dict = {"areas": n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no roads, settlements, accidents: NaN, with warnings
        if workers == 0:
            t0 = time.perf_counter()
            out = compute_criteria(
                hazards, context, reference_date=REF, register_wide=register_wide
            )
            secs = time.perf_counter() - t0
            row.update(engine="in process", partitions=None, worker_peak=None)
        else:
            from ccm_geo.engine import open_engine
            from ccm_geo.engine.criteria import partitioned_criteria

            with open_engine("dask", workers=workers) as eng:
                pids = list(eng.client.run(os.getpid).values())
                peaks: dict[int, float] = {}
                stop = threading.Event()
                sampler = threading.Thread(target=_sampled_peak, args=(stop, peaks, pids))
                sampler.start()
                t0 = time.perf_counter()
                marks: dict[str, float] = {}

                def mark(name, marks=marks, t0=t0):
                    marks[name.split(" ")[0]] = time.perf_counter() - t0

                try:
                    out = partitioned_criteria(
                        hazards,
                        context,
                        reference_date=REF,
                        client=eng.client,
                        progress=mark,
                        register_wide=register_wide,
                    )
                finally:
                    stop.set()
                    sampler.join()
                secs = time.perf_counter() - t0
                hwm = eng.client.run(_peak_mib)
            threads = workers
            row.update(
                engine=f"LocalCluster {workers} worker{'s' if workers > 1 else ''}",
                partitions=max(2 * threads, -(-n // 20_000)),
                worker_peak=max(hwm.values()),
                worker_peak_sampled=max(peaks.values()) if peaks else None,
                caller_before_partitions_s=marks.get("contamination"),
            )
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(out, index=True).to_numpy().tobytes()
        + str(list(out.dtypes.astype(str).items())).encode()
    ).hexdigest()
    row.update(
        seconds=secs,
        caller_peak=_peak_mib(),
        caller_before=before,
        digest=digest,
        landuse_missing=int(out["landuse_nodata_frac"].isna().sum()),
    )
    return row


def _nan_register_wide(hazards, context) -> pd.DataFrame:
    """The remoteness and risk columns, all NaN, with the dtypes the criteria give them."""
    from ccm_geo.criteria import remoteness_indicators, risk_indicators

    empty = hazards.iloc[:0]
    parts = [
        remoteness_indicators(empty, context, None, reference_date=REF),
        risk_indicators(empty, context, None, reference_date=REF),
    ]
    frame = pd.concat(parts, axis=1)
    return frame.reindex(pd.Index(hazards["hazard_id"].astype(str), name="hazard_id"))


def bench_large(
    sizes: tuple[int, ...] = (100_000, 300_000, 1_000_000),
    workers: tuple[int, ...] = (1, 2),
    folder: Path | None = None,
    timeout_s: int = 1_800,
) -> tuple[dict, list[dict]]:
    """Prepare once, then each (size, engine) in its own process (clean peak memory)."""
    import json
    import subprocess
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(folder or tmp)
        done_file = work / "prepared.json"
        prep = json.loads(done_file.read_text()) if done_file.is_file() else {}
        if prep.get("areas", 0) < max(sizes):
            prep = prepare_large(work, max(sizes))
            done_file.write_text(json.dumps(prep))
        print("prepared:", prep, flush=True)
        import geopandas as gpd

        areas = gpd.read_parquet(work / "areas.parquet")
        for n in sizes:
            if not (work / f"areas-{n}.parquet").is_file():
                areas.iloc[:n].to_parquet(work / f"areas-{n}.parquet")
        del areas
        rows = []
        for n in sizes:
            base = None
            for w in (0, *workers):
                cmd = [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_dask",
                    "--one",
                    str(work),
                    str(n),
                    str(w),
                ]
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
                if done.returncode != 0:
                    print(done.stderr[-2000:], flush=True)
                    rows.append({"areas": n, "engine": f"workers={w}", "error": done.returncode})
                    continue
                r = json.loads(done.stdout.strip().splitlines()[-1])
                base = r if w == 0 else base
                r["areas/s"] = n / r["seconds"]
                r["speed-up"] = base["seconds"] / r["seconds"] if base else None
                r["identical"] = base["digest"] == r["digest"] if base else None
                print(json.dumps(r), flush=True)
                rows.append(r)
    return prep, rows


# --------------------------------------------------------------------------------------------
# A batch of projects: in process vs on a LocalCluster (one task per project)

BATCH_STAGES = ["load", "criteria", "score", "prioritise"]


def make_projects(folder: Path, n: int = 20) -> list[Path]:
    """``n`` demo provinces (scales 0.5, 1, 1.5, 2 in turn, a seed each), each with its own
    project file: the demo's ``project.toml`` with the inputs of that province."""
    import re

    from ccm_geo.demo import generate_region

    demo_toml = (Path(__file__).resolve().parents[1] / "data/demo/project.toml").read_text()
    # the donors name the committed demo's districts, which other seeds do not have
    demo_toml = demo_toml.split("[[donors]]")[0]
    files = []
    for i in range(n):
        scale, seed = (0.5, 1.0, 1.5, 2.0)[i % 4], 1_000 + i
        region = folder / f"region{i:02d}"
        generate_region(region, scale=scale, seed=seed, pixel_m=20.0)
        text = re.sub(
            r'path = "([^"]+)"', lambda m, r=region: f'path = "{r / m.group(1)}"', demo_toml
        )
        text = text.replace('name = "Demo province', f'name = "Province {i:02d} (scale {scale})', 1)
        path = folder / f"p{i:02d}.toml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return files


def _digests(folder: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"  # run times and host
    }


def bench_batch(n: int = 20, workers: tuple[int, ...] = (2,)) -> list[dict]:
    """Wall time of ``run_batch`` over ``n`` projects in process and on LocalClusters (the
    cluster's start-up included); outputs compared file by file."""
    from ccm_geo.batch import run_batch

    rows = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        work = Path(tmp)
        t0 = time.perf_counter()
        files = make_projects(work / "projects", n)
        print(f"{n} projects generated in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        res = run_batch(files, work / "inproc", stages=BATCH_STAGES, reuse=False)
        base = time.perf_counter() - t0
        failed = [r.error for r in res if r.status != "ok"]
        if failed:
            print("failed in process:", failed[0], flush=True)
        ref = _digests(work / "inproc")
        rows.append(
            {
                "projects": n,
                "areas": sum(_areas(r) for r in res),
                "engine": "in process",
                "wall s": base,
                "speed-up": 1.0,
                "failed": len(failed),
                "identical": True,
            }
        )
        for w in workers:
            out = work / f"dask{w}"
            t0 = time.perf_counter()
            res = run_batch(
                files,
                out,
                stages=BATCH_STAGES,
                reuse=False,
                engine_args={"kind": "dask", "workers": w},
            )
            secs = time.perf_counter() - t0
            rows.append(
                {
                    "projects": n,
                    "areas": sum(_areas(r) for r in res),
                    "engine": f"LocalCluster {w} worker{'s' if w > 1 else ''}",
                    "wall s": secs,
                    "speed-up": base / secs,
                    "failed": sum(r.status != "ok" for r in res),
                    "identical": bool(ref) and _digests(out) == ref,
                }
            )
            print(rows[-1], flush=True)
    return rows


def _areas(result) -> int:
    scores = result.out / "scores.csv" if result.out else None
    if scores is None or not scores.is_file():
        return 0
    return sum(1 for _ in scores.open(encoding="utf-8-sig")) - 1


if __name__ == "__main__":
    main()
