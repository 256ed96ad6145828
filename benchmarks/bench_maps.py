"""Benchmark of the HTML priority map: size, first paint and pan/zoom frame time in Chromium.

Run ``python -m benchmarks.bench_maps`` from the project root. Target: 20,000 areas in at most
10 MB, drawn in under 5 s. 100,000 areas exceed ``max_detailed_areas``: the top 20,000 are
drawn one by one, the rest aggregated in cells; ``--all-detailed`` draws all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ccm_geo.io import write_text
from ccm_geo.publish.maps import priority_map
from ccm_geo.publish.settings import MapSettings

__all__ = ["bench", "bench_print", "synthetic_areas", "main"]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
CRITERIA = ("accidents", "devices", "landuse", "settlement_access", "health_access")


def bench(
    sizes: tuple[int, ...] = (2000, 20000, 100000), *, seed: int = 0, all_detailed: bool = False
) -> list[dict]:
    """Build, write, draw, pan and zoom the map for each size; one row of measures per size.

    Returns
    -------
    list of dict
        ``areas``, ``detailed`` (drawn one by one), ``build_s`` (Python, to HTML text),
        ``html_mb``, ``fcp_s`` (Chromium's first contentful paint), ``draw_s`` (from navigation
        to every area on the map and a frame drawn), ``symbols`` (areas drawn as overview
        symbols at the first view), ``pan_ms`` / ``zoom_ms`` (median and worst time from a
        pan or a zoom step to its frame being drawn, over 8 pans and 6 zoom steps),
        ``blocked`` (network requests attempted, all aborted; expected 0).
    """
    from playwright.sync_api import TimeoutError as NoPaint
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for n in sizes:
            settings = MapSettings(max_detailed_areas=max(n, 1)) if all_detailed else MapSettings()
            areas = synthetic_areas(n, seed=seed)
            t0 = time.perf_counter()
            html = priority_map(areas, None, settings, title=f"Benchmark: {n:,} areas")
            build_s = time.perf_counter() - t0
            path = write_text(html, Path(tmp) / f"map_{n}.html")
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            blocked: list[str] = []
            page.route(
                "**/*",
                lambda r, b=blocked: (
                    r.continue_()
                    if r.request.url.startswith(("file:", "data:"))
                    else (b.append(r.request.url), r.abort())
                ),
            )
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="commit")
            page.wait_for_function("window.ccmReady === true", timeout=120_000, polling=20)
            draw_s = time.perf_counter() - t0
            # a quick page is ready before the browser has recorded its first paint; with no
            # paint entry after 10 s the column stays empty
            with contextlib.suppress(NoPaint):
                page.wait_for_function(
                    "performance.getEntriesByType('paint').length > 0", timeout=10_000
                )
            fcp = page.evaluate(  # first contentful paint, else first paint
                "() => { const p = performance.getEntriesByType('paint');"
                " const e = p.find(x => x.name === 'first-contentful-paint') || p[0];"
                " return e ? e.startTime / 1000 : null; }"
            )
            shown = page.evaluate("() => window.ccm.shown()")
            pan, zoom = page.evaluate(_FRAMES)
            page.close()
            rows.append(
                {
                    "areas": n,
                    "detailed": min(n, settings.max_detailed_areas),
                    "build_s": round(build_s, 2),
                    "html_mb": round(path.stat().st_size / 1e6, 2),
                    "fcp_s": None if fcp is None else round(fcp, 2),
                    "draw_s": round(draw_s, 2),
                    "symbols": shown["symbols"],
                    "pan_ms": f"{_median(pan):.0f} / {max(pan):.0f}",
                    "zoom_ms": f"{_median(zoom):.0f} / {max(zoom):.0f}",
                    "blocked": len(blocked),
                }
            )
        browser.close()
    return rows


# Time from a pan (or a zoom step) to the second animation frame after it, when the canvas
# has been redrawn: the frame time a user feels while moving around the map.
_FRAMES = """async () => {
  const m = window.ccm.map;
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const pan = [], zoom = [];
  for (let k = 0; k < 8; k++) {
    const t = performance.now();
    m.panBy([k % 2 ? -240 : 240, k % 4 < 2 ? 160 : -160], {animate: false});
    await frame();
    pan.push(performance.now() - t);
  }
  const z0 = m.getZoom();
  for (const dz of [1, 1, 1, -1, -1, -1]) {
    const t = performance.now();
    m.setZoom(m.getZoom() + dz, {animate: false});
    await frame();
    zoom.push(performance.now() - t);
  }
  m.setZoom(z0, {animate: false});
  return [pan, zoom];
}"""


def _median(v: list[float]) -> float:
    return float(np.median(v)) if v else float("nan")


def bench_print(n: int = 78_000, *, seed: int = 0) -> dict:
    """Draw the print map of ``n`` areas and save it as PNG, PDF and SVG; times in seconds.

    A national register of 78,000 areas once took 95 s here, 72 s of them saving the
    polygons; areas too small on paper are now drawn as dots, one collection per class.
    """
    from ccm_geo.publish.printmap import print_map, save_figure

    areas = synthetic_areas(n, seed=seed)
    settings = MapSettings()
    row: dict = {"print_areas": n}
    t0 = time.perf_counter()
    fig = print_map(areas, None, settings, title=f"Benchmark: {n:,} areas")
    row["print_draw_s"] = round(time.perf_counter() - t0, 2)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("png", "pdf", "svg"):
            t0 = time.perf_counter()
            path = save_figure(fig, Path(tmp) / f"print.{fmt}")
            row[f"{fmt}_s"] = round(time.perf_counter() - t0, 2)
            row[f"{fmt}_mb"] = round(path.stat().st_size / 1e6, 2)
    row["labels"] = sum(1 for p in fig.ccm_labels if p["kind"] == "hazard")
    return row


def synthetic_areas(n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` scored, planned areas (12-vertex irregular polygons, 0.5-5 ha) in EPSG:32648."""
    rng = np.random.default_rng(seed)
    side = np.sqrt(n) * 1500.0  # about one area per 1.5 km x 1.5 km
    cx = 500_000 + rng.uniform(0, side, n)
    cy = 1_600_000 + rng.uniform(0, side, n)
    radius = np.sqrt(rng.uniform(5_000, 50_000, n) / np.pi)
    k = 12
    angles = np.linspace(0, 2 * np.pi, k, endpoint=False)
    r = radius[:, None] * rng.uniform(0.75, 1.25, (n, k))
    xs = cx[:, None] + r * np.cos(angles)
    ys = cy[:, None] + r * np.sin(angles)
    coords = np.stack([xs, ys], axis=-1)
    coords = np.concatenate([coords, coords[:, :1]], axis=1).reshape(-1, 2)
    import shapely

    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(n), k + 1))
    geoms = shapely.polygons(rings)
    values = {c: rng.uniform(0, 1, n).round(3) for c in CRITERIA}
    contrib = {c: values[c] / len(CRITERIA) for c in CRITERIA}
    score = np.sum(list(contrib.values()), axis=0)
    order = np.lexsort((np.arange(n), -score))
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(1, n + 1)
    cls = np.where(rank <= n * 0.2, "high", np.where(rank <= n * 0.5, "medium", "low"))
    df = gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ-{i:06d}" for i in range(n)],
            "name": [f"Area {i}" for i in range(n)],
            "status": np.where(rng.uniform(size=n) < 0.6, "CHA", "SHA"),
            "contamination": np.where(rng.uniform(size=n) < 0.7, "CMR", "AP;CMR"),
            "region": [f"District {i % 12}" for i in range(n)],
            "score": score.round(4),
            "rank": rank,
            "priority_class": cls,
            "explanation": [f"{CRITERIA[int(a)]} dominates" for a in rng.integers(0, 5, n)],
            **{f"value_{c}": values[c] for c in CRITERIA},
            **{f"contrib_{c}": contrib[c].round(4) for c in CRITERIA},
            "accidents_24m": rng.integers(0, 5, n),
            "travel_min_health": rng.uniform(5, 240, n).round(1),
            "method": np.where(rng.uniform(size=n) < 0.5, "clearance", "technical survey"),
            "cost_usd": rng.uniform(2_000, 60_000, n).round(0),
            "year": np.where(rank <= n * 0.6, 2026 + (rank - 1) * 5 // n, np.nan),
            "team": [f"T{i % 8}" for i in range(n)],
        },
        geometry=geoms,
        crs="EPSG:32648",
    )
    df["area_m2"] = df.geometry.area
    df["start"] = pd.Timestamp("2026-01-05") + pd.to_timedelta(rank % 300, unit="D")
    df["end"] = df["start"] + pd.Timedelta(days=10)
    return df


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    ap.add_argument("--all-detailed", action="store_true", help="draw every area one by one")
    ap.add_argument("--print", type=int, default=0, help="also time a print map of N areas")
    args = ap.parse_args(argv)
    rows = bench(tuple(args.sizes), all_detailed=args.all_detailed)
    if args.print:
        print(bench_print(args.print))
    cols = list(rows[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print(
            "| "
            + " | ".join(f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols)
            + " |"
        )
    return rows


if __name__ == "__main__":
    main()
