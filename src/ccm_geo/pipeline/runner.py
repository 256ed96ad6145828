"""Run the stages in order (reusing unchanged ones), and publish a finished run."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ccm_geo.config import ProjectConfig
from ccm_geo.errors import InputFileNotFoundError
from ccm_geo.io import remove_temporaries
from ccm_geo.pipeline.manifest import (
    _earlier_manifest,
    _jsonable,
    _read_manifest,
    _reuse_stage,
    _sha256,
    _write_manifest,
    input_sha256,
    no_reuse_reason,
    stage_key,
)
from ccm_geo.pipeline.runlog import Progress, RunLog
from ccm_geo.pipeline.stages import (
    STAGES,
    _from_state_or_file,
    _plan_tables,
    _with_plan,
    run_stage,
)
from ccm_geo.runfolder import (
    stale_stages,
    usable_out_dir,
)

logger = logging.getLogger(__name__)


def run(
    config: ProjectConfig,
    out_dir: str | Path,
    *,
    stages: list[str] | None = None,
    progress: Progress | None = None,
    tiles: str | None = None,
    donor: str | None = None,
    publish: list[str] | None = None,
    reuse: bool = False,
    scenario: str | None = None,
    engine: Any = None,
) -> RunLog:
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
    tiles
        A tile URL template for the interactive maps (default: none; the maps stay offline).
    donor
        Write the request package of this donor only (name or slug); default: every donor.
    publish
        Publish the run to these targets after the manifest is written (``["postgis"]``:
        ``[publish.postgis]`` of the config). Default: the config's targets with ``on_run``,
        when every stage runs.
    reuse
        Keep a stage's outputs from an earlier run in ``out_dir`` when nothing it depends on
        has changed: the same input files (sha256), configuration, options and tool version,
        and its recorded outputs still present with the sha256 the manifest gives. A stage
        after one that ran again runs again too.
    scenario
        Score with the weights of this ``[scoring.scenarios]`` entry instead of the base ones.
    engine
        A :class:`ccm_geo.engine.Engine` (``open_engine``): with a Dask client, the criteria
        stage runs in spatial partitions and the sensitivity draws in blocks on the cluster;
        the outputs are the same. Default None: everything in this process.
    """
    out_dir = usable_out_dir(out_dir)
    left = remove_temporaries(out_dir)
    if left:
        logger.warning("%s: removed %d temporary file(s) a killed run left", out_dir, len(left))
    names = list(STAGES) if stages is None else [s for s in STAGES if s in stages]
    log = RunLog(out_dir=out_dir, progress=progress)
    if names:  # outputs of earlier stages written under another configuration: say so
        before = list(STAGES)[: list(STAGES).index(names[0])]
        recorded = _earlier_manifest(out_dir / "manifest.json", log).get("stages", {})
        for msg in stale_stages(config, out_dir, before, recorded):
            logger.info(msg)  # the CLI prints the run's warnings
            log.warnings.append({"stage": names[0], "category": "DataWarning", "message": msg})
    state: dict[str, Any] = {
        "tiles": tiles,
        "donor": donor,
        "scenario": scenario,
        "engine": engine,
    }
    if "postgis" in (publish or []) and config.publish.postgis is None:
        publish_postgis(config, out_dir)  # raises: no target (before any stage runs)
    why_not = no_reuse_reason(config) if reuse else None
    if why_not is not None:  # a database table has no content hash (see no_reuse_reason)
        log.step(why_not)
        reuse = False
    inputs = input_sha256(config)
    earlier = _read_manifest(out_dir) if reuse else {}
    fresh = False
    for name in names:
        key = stage_key(config, name, inputs, tiles=tiles, donor=donor, scenario=scenario)
        log.stage_keys[name] = key
        if reuse and not fresh and _reuse_stage(name, key, earlier, log):
            continue
        fresh = True
        counts = _counts(name, state, config)
        if counts:
            log.step(f"{name}: {counts}")
        run_stage(name, config, out_dir, state, log)
    _write_qgis_project(config, log)
    _write_manifest(config, log)
    target = config.publish.postgis
    every_stage = stages is None or set(stages) >= set(STAGES)
    if "postgis" in (publish or []) or (
        publish is None and every_stage and target is not None and target.on_run
    ):
        publish_postgis(config, out_dir, state=state, log=log)
    return log


def publish_postgis(
    config: ProjectConfig,
    out_dir: str | Path,
    *,
    state: dict[str, Any] | None = None,
    log: RunLog | None = None,
):
    """Publish a finished run to ``[publish.postgis]``, in one transaction.

    Writes the scored areas (``areas``), every task (``tasks``), each area's plan (``plan``)
    and the milestones (``milestones``), each row with the run id: the sha256 of the run's
    ``manifest.json``, which the ``runs`` table holds. Frames come from ``state`` when this
    run made them, else from the files in ``out_dir``.

    Returns
    -------
    ccm_geo.postgis.PublishResult
    """
    from ccm_geo.errors import ConfigError
    from ccm_geo.postgis import publish_layers
    from ccm_geo.publish.styles import hazard_style

    target = config.publish.postgis
    if target is None:
        msg = (
            f"{config.source or 'config'}: no [publish.postgis] section; add one with url and "
            "schema (see the README) to publish to PostGIS"
        )
        raise ConfigError(msg)
    out_dir, state = Path(out_dir), state or {}
    manifest = out_dir / "manifest.json"
    if not manifest.is_file():
        msg = f"{manifest}: not found; publish a finished run (`ccm-geo run` with this --out)."
        raise InputFileNotFoundError(msg)
    if log is not None:
        log.step(f"publishing to PostGIS schema {target.db_schema}")
    scored = _from_state_or_file(state, "scored", out_dir / "scored.gpkg", "areas", "score")
    layers: dict[str, pd.DataFrame] = {"areas": scored}
    summary = {}
    if state.get("tasks") is not None or (out_dir / "plan" / "tasks.gpkg").is_file():
        tasks = _from_state_or_file(
            state, "tasks", out_dir / "plan" / "tasks.gpkg", "tasks", "prioritise"
        )
        milestones, summary = _plan_tables(state, out_dir / "plan")
        layers.update(tasks=tasks, plan=_with_plan(scored, tasks), milestones=milestones)
    style = hazard_style("priority_class")
    result = publish_layers(
        target,
        layers,
        run_id=_sha256(manifest),
        manifest=json.loads(manifest.read_text(encoding="utf-8")),
        styles={"areas": style, "plan": style, "tasks": style},
        run_info=_jsonable({"plan": summary}),
    )
    if log is not None:
        log.timings_s["publish"] = result.seconds
        log.tables["published"] = pd.DataFrame(
            {"table": list(result.rows), "rows": list(result.rows.values())}
        )
    return result


def _counts(name: str, state: dict[str, Any], config: ProjectConfig) -> str:
    """What a stage is about to work on, in counts (areas, tasks, donors), for progress."""
    areas = next(
        (state[k] for k in ("scored", "areas", "hazards") if state.get(k) is not None), None
    )
    parts = []
    if areas is not None and name != "load":
        parts.append(f"{len(areas):,} areas")
    if name in ("map", "request") and state.get("tasks") is not None:
        parts.append(f"{len(state['tasks']):,} tasks")
    if name == "request":
        parts.append(f"{len(config.donors)} donor(s)")
    return ", ".join(parts)


def _write_qgis_project(config: ProjectConfig, log: RunLog) -> None:
    """The QGIS project of the run folder (every layer there, styled, grouped by stage)."""
    from ccm_geo.publish.qgis_project import write_qgis_project

    path = write_qgis_project(log.out_dir, title=config.project.name)
    if path is not None:
        log.wrote(path)
        log.written_by[path.resolve()] = "qgis"
