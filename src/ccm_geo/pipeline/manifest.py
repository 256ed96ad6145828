"""manifest.json: inputs and outputs with their sha256, configuration, versions, timings;
the content keys by which an unchanged stage is reused."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ccm_geo import __version__
from ccm_geo.config import ProjectConfig
from ccm_geo.pipeline.inputs import _input_files
from ccm_geo.pipeline.runlog import STAGE_NAMES, RunLog
from ccm_geo.runfolder import (
    stage_config_sha256,
)

logger = logging.getLogger(__name__)


def input_sha256(config: ProjectConfig) -> dict[str, str]:
    """The sha256 of every input file the project reads (a glob: every file it matches)."""
    return {str(p): _sha256(Path(p)) for p in _input_files(config) if Path(p).is_file()}


def stage_key(
    config: ProjectConfig,
    stage: str,
    inputs: dict[str, str],
    **options: Any,
) -> str:
    """What a stage's outputs depend on, as one sha256: the input files' contents, the
    configuration sections of the stage and of every stage before it, the run options and
    the tool's version."""
    text = json.dumps(
        {
            "inputs": sorted(inputs.values()),
            "config": stage_config_sha256(config, stage),
            "options": {k: v for k, v in sorted(options.items()) if v is not None},
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def other_project(out_dir: str | Path, config: ProjectConfig) -> str | None:
    """The project file whose outputs ``out_dir`` holds when it is not ``config``'s (None when
    the folder is empty, new, or holds this project's outputs)."""
    manifest = _read_manifest(Path(out_dir))
    if not manifest:
        return None
    source = (manifest.get("config") or {}).get("source")
    mine = None if config.source is None else str(Path(config.source).resolve())
    if source is None or mine is None or str(source) == mine:
        return None
    return str(source)


def _read_manifest(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / "manifest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def reusable_outputs(
    name: str, key: str, earlier: dict[str, Any], out_dir: Path
) -> list[Path] | None:
    """The outputs an earlier run (its manifest: ``earlier``) wrote for stage ``name`` with the
    same key, when every one is still in ``out_dir`` unchanged; else None."""
    record = (earlier.get("stages") or {}).get(name)
    if not record or record.get("key") != key:
        return None
    paths = []
    for o in earlier.get("outputs", []):
        if o.get("stage") != name:
            continue
        p = Path(out_dir) / o["path"]
        if not p.is_file() or _sha256(p) != o.get("sha256"):
            logger.info("%s: %s changed since the last run; the stage runs again", name, p)
            return None
        paths.append(p)
    return paths


def no_reuse_reason(config: ProjectConfig) -> str | None:
    """Why no stage of a run of ``config`` may be reused from an earlier run, or None.

    An input read from PostGIS has no file to hash: its rows may have changed since the last
    run, so every stage runs again. :func:`ccm_geo.pipeline.run` and the dry run of a batch
    both ask this, so that the plan a dry run shows is the one the run follows.
    """
    tables = [
        n
        for n in type(config.inputs).model_fields
        if getattr(getattr(config.inputs, n), "postgis", None) is not None
    ]
    if not tables:
        return None
    return f"inputs read from PostGIS ({', '.join(tables)}): every stage runs again (no reuse)"


def _reuse_stage(name: str, key: str, earlier: dict[str, Any], log: RunLog) -> bool:
    """Keep an earlier run's outputs of a stage when its key matches and every output it
    recorded is still there, unchanged; say so in ``log``."""
    paths = reusable_outputs(name, key, earlier, log.out_dir)
    if paths is None:
        return False
    record = earlier["stages"][name]
    log.step(f"{name}: reused (inputs and settings unchanged since run {record.get('run_id')})")
    log.reused[name] = dict(record)
    log.outputs.extend(paths)
    for p in paths:
        log.written_by[p.resolve()] = name
    for w in earlier.get("warnings", []):
        if w.get("stage") == name:
            log.warnings.append(w)
    if name == "load" and (log.out_dir / "area_summary.csv").is_file():
        log.tables["area_summary"] = pd.read_csv(
            log.out_dir / "area_summary.csv", encoding="utf-8-sig", keep_default_na=False
        )
    return True


def _jsonable(obj: Any) -> Any:
    import datetime as dt

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return _jsonable(obj.to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return _jsonable(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, dt.date | dt.datetime | pd.Timestamp):
        return obj.isoformat()
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj


def _write_json(obj: Any, path: Path) -> Path:
    from ccm_geo.io import write_text

    return write_text(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n", path)


#: sha256 by file identity and state (path, inode, size, mtime): a run hashes its inputs
#: when it starts and again for the manifest, and reused outputs when it checks them
_HASHED: dict[tuple, str] = {}


def _sha256(path: Path) -> str:
    """The file's sha256, read once per process while the file stays as it was."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _HASHED.get(key)
    if hit is not None:
        return hit
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    _HASHED[key] = h.hexdigest()
    return _HASHED[key]


def _stat(path: Path) -> dict[str, int]:
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _output_sha256(path: Path, written: bool, earlier: dict[str, Any] | None) -> str:
    """An output's sha256: hashed when this run wrote it; else the earlier manifest's, when
    the file has the size and modification time that manifest recorded (a stage run alone
    does not read every other stage's outputs again)."""
    same = earlier and {k: earlier.get(k) for k in ("size", "mtime_ns")} == _stat(path)
    if not written and same and earlier.get("sha256"):
        return earlier["sha256"]
    return _sha256(path)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "ccm_geo": __version__}
    for dist in (
        "geopandas",
        "shapely",
        "pyproj",
        "pyogrio",
        "numpy",
        "pandas",
        "scipy",
        "rasterio",
        "exactextract",
        "networkx",
        "highspy",
        "folium",
        "matplotlib",
    ):
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


def _earlier_manifest(path: Path, log: RunLog) -> dict[str, Any]:
    """The manifest an earlier run wrote in the same folder, when this run is only some of
    the stages (so that ``ccm-geo map`` after ``ccm-geo run`` keeps the other stages' record);
    empty when every stage runs or there is none."""
    if (set(log.timings_s) >= set(STAGE_NAMES) and not log.reused) or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s: unreadable earlier manifest, replaced", path)
        return {}


def _write_manifest(config: ProjectConfig, log: RunLog) -> Path:
    inputs = []
    if config.source is not None:
        inputs.append(config.source)
    inputs.extend(_input_files(config))
    path = log.out_dir / "manifest.json"
    earlier = _earlier_manifest(path, log)
    outputs = sorted(
        {p.resolve() for p in log.outputs if p.exists()}
        | {
            (log.out_dir / o["path"]).resolve()
            for o in earlier.get("outputs", [])
            if (log.out_dir / o["path"]).is_file()
        }
    )
    stages = dict(earlier.get("stages", {}))
    for name in log.timings_s:
        stages[name] = {
            "run_id": log.run_id,
            "config_sha256": stage_config_sha256(config, name),
            "key": log.stage_keys.get(name),
        }
    for name, record in log.reused.items():
        stages[name] = {**record, "reused_by": log.run_id}
    earlier_by = {o["path"]: o for o in earlier.get("outputs", [])}

    def _who(p: Path) -> dict[str, Any]:
        stage = log.written_by.get(p)
        if stage in log.reused:
            return {"stage": stage, "run_id": log.reused[stage].get("run_id")}
        if stage is not None:
            return {"stage": stage, "run_id": log.run_id}
        old = earlier_by.get(str(p.relative_to(log.out_dir.resolve())), {})
        return {"stage": old.get("stage"), "run_id": old.get("run_id")}

    def _output_record(p: Path) -> dict[str, Any]:
        rel = str(p.relative_to(log.out_dir.resolve()))
        sha = _output_sha256(p, p in log.written_by, earlier_by.get(rel))
        return {"path": rel, "sha256": sha, **_stat(p), **_who(p)}

    manifest = {
        "tool": "ccm_geo",
        "version": __version__,
        "run_id": log.run_id,
        "project": config.project.name,
        "inputs": [{"path": str(p), "sha256": _sha256(p)} for p in inputs if Path(p).is_file()],
        "config": config.model_dump(mode="json"),
        "versions": _versions(),
        "timings_s": {**earlier.get("timings_s", {}), **log.timings_s},
        "solver_seconds": {**earlier.get("solver_seconds", {}), **log.solver_seconds},
        "stages": stages,
        "warnings": [
            w
            for w in earlier.get("warnings", [])
            if w["stage"] not in log.timings_s and w["stage"] not in log.reused
        ]
        + log.warnings,
        "validation": [
            {
                "source": r.source,
                "rows_read": r.rows_read,
                "rows_filtered": r.rows_filtered,
                "rows_kept": r.rows_kept,
                "counts": r.counts(),
                "missing": r.missing,
            }
            for r in log.reports
        ]
        or earlier.get("validation", []),
        "outputs": [_output_record(p) for p in outputs],
        **{k: v for k, v in earlier.items() if k in ("scoring",) and k not in log.facts},
        **log.facts,
    }
    return _write_json(manifest, path)
