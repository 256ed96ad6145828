"""The pipeline: runs the stages in order, each writing its output into the run folder.

Every stage is a function ``(config, out_dir, state, log)``: it takes what it needs from
``state`` (the frames an earlier stage of the same run produced) or, when run alone, reads the
file the previous stage wrote into ``out_dir``. ``ccm-geo run`` and the stage subcommands call
these same functions. A run writes ``manifest.json``: inputs and outputs with their sha256,
the resolved configuration, versions, per-stage timings and every warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ccm_geo import __version__
from ccm_geo.config import ProjectConfig
from ccm_geo.errors import InputFileNotFoundError
from ccm_geo.model import (
    CMR_TYPES,
    CONTEXT_COLUMNS,
    MINE_TYPES,
    Context,
    ValidationReport,
    split_contamination,
)

__all__ = ["STAGES", "RunLog", "run", "run_stage", "load_inputs", "area_summary", "read_context"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class RunLog:
    """What a run did: per-stage timings, warnings, outputs and validation reports."""

    out_dir: Path
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[dict[str, str]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    reports: list[ValidationReport] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    progress: Progress | None = None

    def step(self, text: str) -> None:
        """Tell the caller (the CLI's progress display) what is being done."""
        logger.info(text)
        if self.progress is not None:
            self.progress(text)

    def wrote(self, path: Path) -> Path:
        self.outputs.append(Path(path))
        return Path(path)


# --------------------------------------------------------------------------------------------
# Stages


def stage_load(config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog) -> None:
    """Load and validate every input; write ``hazards.gpkg``, ``context.gpkg``, the report
    and the area summary (Article 7 Form F style)."""
    from ccm_geo.io import write_csv, write_gpkg
    from ccm_geo.publish.styles import hazard_style

    hazards, context, reports = load_inputs(config, progress=log.step)
    log.reports.extend(reports)
    log.step("writing the validated layers")
    log.wrote(write_gpkg({"hazards": hazards}, out_dir / "hazards.gpkg",
                         styles={"hazards": hazard_style("status")}))
    layers = {name: getattr(context, name) for name in CONTEXT_COLUMNS
              if getattr(context, name) is not None}
    if layers:
        log.wrote(write_gpkg(layers, out_dir / "context.gpkg"))
    records = [dict(r, source=rep.source) for rep in reports for r in rep.to_records()]
    cols = ["source", "level", "code", "row", "hazard_id", "column", "value", "message"]
    log.wrote(write_csv(pd.DataFrame(records, columns=cols), out_dir / "validation_report.csv"))
    summary = area_summary(hazards)
    log.wrote(write_csv(summary, out_dir / "area_summary.csv"))
    log.tables["area_summary"] = summary
    state.update(hazards=hazards, context=context)


#: Stage name -> (function, the file it writes that the next stage reads).
STAGES: dict[str, Callable[[ProjectConfig, Path, dict[str, Any], RunLog], None]] = {
    "load": stage_load,
}


def run(config: ProjectConfig, out_dir: str | Path, *, stages: list[str] | None = None,
        progress: Progress | None = None) -> RunLog:
    """Run the stages (default: all, in order) and write ``manifest.json``.

    Parameters
    ----------
    config
        The loaded project configuration.
    out_dir
        The run folder; created if needed. Existing outputs are replaced only by complete new
        ones (atomic writes).
    stages
        Names from :data:`STAGES`, run in the pipeline's order whatever order they are given in.
    progress
        Called with a short text before each step (the CLI shows it).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = list(STAGES) if stages is None else [s for s in STAGES if s in stages]
    log = RunLog(out_dir=out_dir, progress=progress)
    state: dict[str, Any] = {}
    for name in names:
        run_stage(name, config, out_dir, state, log)
    _write_manifest(config, log)
    return log


def run_stage(name: str, config: ProjectConfig, out_dir: Path, state: dict[str, Any],
              log: RunLog) -> None:
    """Run one stage, timing it and recording its warnings in ``log``."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        STAGES[name](config, out_dir, state, log)
    log.timings_s[name] = round(time.perf_counter() - start, 3)
    for w in caught:
        log.warnings.append({"stage": name, "category": w.category.__name__,
                             "message": str(w.message)})


# --------------------------------------------------------------------------------------------
# Library helpers used by the stages


def load_inputs(config: ProjectConfig, *, progress: Progress | None = None,
                ) -> tuple[gpd.GeoDataFrame, Context, list[ValidationReport]]:
    """Load the hazards and every context layer into the project's metric CRS.

    Hazards without a region get the admin unit holding their representative point.
    """
    from ccm_geo.io import load_hazards, load_layer

    say = progress or (lambda _t: None)
    say(f"loading hazards from {config.inputs.hazards.path.name}")
    hazards, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    reports = [report]
    crs = hazards.crs.to_string()
    layers: dict[str, gpd.GeoDataFrame | None] = {}
    for name in CONTEXT_COLUMNS:
        spec = getattr(config.inputs, name)
        if spec is None:
            layers[name] = None
            continue
        say(f"loading {name} from {spec.path.name}")
        layers[name], rep = load_layer(spec, name, crs=crs)
        reports.append(rep)
    if layers.get("admin") is not None:
        hazards = _regions_from_admin(hazards, layers["admin"])
    lc = config.inputs.landcover
    if lc is not None and not lc.path.is_file():
        msg = f"{lc.path}: land cover raster not found (inputs.landcover.path)."
        raise InputFileNotFoundError(msg)
    context = Context(crs=crs, **layers, landcover_path=None if lc is None else lc.path,
                      landcover_classes={} if lc is None else dict(lc.classes))
    return hazards, context, reports


def read_context(config: ProjectConfig, out_dir: Path, crs: str) -> Context:
    """The context layers as the load stage wrote them into ``out_dir/context.gpkg``."""
    import pyogrio

    path = Path(out_dir) / "context.gpkg"
    present = {name for name, _ in pyogrio.list_layers(path)} if path.is_file() else set()
    layers = {}
    for name, cols in CONTEXT_COLUMNS.items():
        if name not in present:
            layers[name] = None
            continue
        gdf = pyogrio.read_dataframe(path, layer=name)
        for col, kind in cols.items():
            if kind.startswith("datetime"):
                gdf[col] = pd.to_datetime(gdf[col]).astype("datetime64[ns]")
        layers[name] = gdf
    lc = config.inputs.landcover
    return Context(crs=crs, **layers, landcover_path=None if lc is None else lc.path,
                   landcover_classes={} if lc is None else dict(lc.classes))


def area_summary(hazards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area by region and status, CMR separated from mines (Article 7 Form F style).

    An area holding both CMR and mines counts in both ``cmr_*`` and ``mine_*`` columns (and in
    ``mixed_*``); ``total_*`` counts it once. Areas in m² and ha.
    """
    codes = hazards["contamination"].map(split_contamination)
    frame = pd.DataFrame({
        "region": hazards["region"].to_numpy(),
        "status": hazards["status"].to_numpy(),
        "area_m2": hazards["area_m2"].to_numpy(),
        "is_cmr": codes.map(lambda c: bool(c & CMR_TYPES)).to_numpy(),
        "is_mine": codes.map(lambda c: bool(c & MINE_TYPES)).to_numpy(),
    })
    frame["is_other"] = ~frame["is_cmr"] & ~frame["is_mine"]
    frame["is_mixed"] = frame["is_cmr"] & frame["is_mine"]
    rows = []
    for keys, g in [*frame.groupby(["region", "status"], sort=True),
                    *(((r, "all"), g) for r, g in frame.groupby("region", sort=True)),
                    (("all", "all"), frame)]:
        row = {"region": keys[0], "status": keys[1], "areas": len(g),
               "total_m2": g["area_m2"].sum()}
        for kind in ("cmr", "mine", "mixed", "other"):
            sel = g[f"is_{kind}"]
            row[f"{kind}_areas"] = int(sel.sum())
            row[f"{kind}_m2"] = float(g.loc[sel, "area_m2"].sum())
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in [c for c in out.columns if c.endswith("_m2")]:
        out[col] = out[col].round(1)
        out[col.replace("_m2", "_ha")] = (out[col] / 10_000).round(2)
    return out


# --------------------------------------------------------------------------------------------
# Helpers


def _regions_from_admin(hazards: gpd.GeoDataFrame, admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    unknown = hazards["region"].eq("unknown")
    if not unknown.any():
        return hazards
    pts = gpd.GeoDataFrame({"i": hazards.index[unknown]},
                           geometry=hazards.geometry[unknown].representative_point(),
                           crs=hazards.crs)
    joined = gpd.sjoin(pts, admin[["region", "geometry"]], how="left", predicate="within")
    joined = joined.drop_duplicates("i").set_index("i")
    hazards = hazards.copy()
    hazards.loc[joined.index, "region"] = joined["region"].fillna("unknown").to_numpy()
    return hazards


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ccm_geo": __version__}
    for dist in ("geopandas", "shapely", "pyproj", "pyogrio", "numpy", "pandas", "scipy",
                 "rasterio", "exactextract", "networkx", "highspy", "folium", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        import pyogrio

        out["gdal"] = pyogrio.__gdal_version_string__
    except ImportError:  # pragma: no cover
        pass
    return out


def _write_manifest(config: ProjectConfig, log: RunLog) -> Path:
    from ccm_geo.io import atomic_output

    inputs = []
    if config.source is not None:
        inputs.append(config.source)
    for name in type(config.inputs).model_fields:
        spec = getattr(config.inputs, name)
        if spec is not None:
            inputs.append(spec.path)
    outputs = sorted({p.resolve() for p in log.outputs if p.exists()})
    manifest = {
        "tool": "ccm_geo",
        "version": __version__,
        "project": config.project.name,
        "inputs": [{"path": str(p), "sha256": _sha256(p)} for p in inputs if Path(p).is_file()],
        "config": config.model_dump(mode="json"),
        "versions": _versions(),
        "timings_s": log.timings_s,
        "warnings": log.warnings,
        "validation": [{"source": r.source, "rows_read": r.rows_read,
                        "rows_filtered": r.rows_filtered, "rows_kept": r.rows_kept,
                        "counts": r.counts()} for r in log.reports],
        "outputs": [{"path": str(p.relative_to(log.out_dir.resolve())), "sha256": _sha256(p)}
                    for p in outputs],
    }
    path = log.out_dir / "manifest.json"
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return path
