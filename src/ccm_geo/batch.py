"""Batch runs: many projects (and named scoring scenarios), each into its own folder.

One project failing does not stop the others: each result carries its status and, when it
failed, the one-line reason. :func:`summary_records` gives the table ``ccm-geo run`` prints
(and prints as JSON with ``--json``).
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ccm_geo.errors import CcmGeoError, ConfigError, InputError

__all__ = ["BatchResult", "STAGE_OUTPUTS", "expand_projects", "run_batch", "summary_records"]

logger = logging.getLogger(__name__)

#: The files each stage writes (``requests/`` holds one folder per donor).
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "load": ("hazards.gpkg", "context.gpkg", "validation_report.csv", "area_summary.csv"),
    "criteria": ("criteria.gpkg", "criteria.csv"),
    "score": (
        "scored.gpkg",
        "scores.csv",
        "weights.csv",
        "sensitivity_sweep.csv",
        "scenarios.csv",
        "sensitivity_summary.json",
    ),
    "prioritise": (
        "plan/tasks.gpkg",
        "plan/tasks.csv",
        "plan/milestones.csv",
        "plan/budget_curve.csv",
        "plan/budget_curve.png",
        "plan/plan_summary.json",
    ),
    "map": (
        "priority_map.html",
        "priority_map_embed.html",
        "priority_map.png",
        "priority_map.pdf",
    ),
    "request": ("requests/<donor>/ (one package per donor)", "requests/funded_by.csv"),
}


@dataclass
class BatchResult:
    """One project (or one of its scenarios) of a batch."""

    label: str
    project: Path
    out: Path | None
    scenario: str | None = None
    status: str = "ok"  # ok, failed, dry-run
    error: str | None = None
    log: Any = None  # pipeline.RunLog
    plan: str | None = None  # the dry run's text


def expand_projects(projects: list[str | Path]) -> list[Path]:
    """Project files in the order given; a pattern (``*``, ``?``, ``[``) is expanded, sorted.
    A pattern matching nothing is kept as given, so that it fails with its own reason."""
    out: list[Path] = []
    for p in projects:
        text = str(p)
        if any(ch in text for ch in "*?["):
            found = sorted(glob.glob(text))
            out.extend(Path(f) for f in found) if found else out.append(Path(text))
        else:
            out.append(Path(text))
    return out


def run_batch(
    projects: list[str | Path],
    out: str | Path,
    *,
    stages: list[str] | None = None,
    scenarios: list[str] | None = None,
    reuse: bool = True,
    dry_run: bool = False,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> list[BatchResult]:
    """Run every project (and every named scenario of each) into its own folder.

    Parameters
    ----------
    projects
        Project files or glob patterns.
    out
        With one project: its run folder. With several: the parent of one folder per project
        (named after the project file). A scenario runs into ``<project folder>/<scenario>``.
    stages
        Only these stages (default: all).
    scenarios
        Names of ``[scoring.scenarios]`` entries run besides the base weights.
    reuse
        Keep a stage's earlier outputs when nothing it depends on has changed (see
        :func:`ccm_geo.pipeline.run`).
    dry_run
        Validate each project and say what would run and be written; write nothing.
    overwrite
        Allow writing into a folder that holds another project's outputs.
    options
        Passed to :func:`ccm_geo.pipeline.run` (``tiles``, ``donor``, ``publish``);
        ``engine_args`` (``kind``, ``scheduler``, ``workers``) opens an engine per project
        (:func:`ccm_geo.engine.open_engine`, over the project's ``[engine]``), as does an
        ``[engine]`` section that asks for Dask.

    Returns
    -------
    list of BatchResult
        One per project and scenario, in order; failures carry their one-line reason.
    """
    files = expand_projects(projects)
    out = Path(out)
    many = len(files) > 1
    engine_args = options.get("engine_args")
    if (
        not dry_run
        and engine_args is not None
        and (engine_args.get("kind") == "dask" or engine_args.get("scheduler"))
        and len(files) * (1 + len(scenarios or [])) > 1
    ):
        options.pop("engine_args")
        jobs = [
            BatchResult(
                label=str(f) if s is None else f"{f} [{s}]", project=f, out=folder, scenario=s
            )
            for f, s, folder in _targets(files, out, scenarios)
        ]
        _run_on_cluster(
            jobs,
            engine_args,
            stages=stages,
            reuse=reuse,
            overwrite=overwrite,
            progress=progress,
            many=many,
            **options,
        )
        return jobs
    results: list[BatchResult] = []
    for f, scenario, folder in _targets(files, out, scenarios):
        label = str(f) if scenario is None else f"{f} [{scenario}]"
        result = BatchResult(label=label, project=f, out=folder, scenario=scenario)
        say = _prefixed(progress, f.stem if many else None, scenario)
        try:
            _run_one(
                result,
                stages=stages,
                reuse=reuse,
                dry_run=dry_run,
                overwrite=overwrite,
                progress=say,
                **options,
            )
        except CcmGeoError as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - one project's bug must not stop the batch
            logger.exception("%s failed", label)
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc} (a bug: please report it)"
        results.append(result)
    return results


def summary_records(results: list[BatchResult]) -> list[dict[str, Any]]:
    """One plain dict per result: what ``--json`` prints and the end table shows (areas, the
    three top priorities, planned cost, optimality gap, output folder, error)."""
    records = []
    for r in results:
        rec: dict[str, Any] = {
            "label": r.label,
            "project": str(r.project),
            "scenario": r.scenario,
            "status": r.status,
            "error": r.error,
            "out": None if r.out is None else str(r.out),
            "areas": None,
            "top": [],
            "cost_usd": None,
            "gap": None,
            "stages": {},
            "outputs": 0,
        }
        if r.log is not None:
            rec["stages"] = {
                **{k: {"seconds": v, "reused": False} for k, v in r.log.timings_s.items()},
                **{k: {"seconds": 0.0, "reused": True} for k in r.log.reused},
            }
            rec["outputs"] = len(r.log.outputs)
            rec.update(_figures(r.out))
        records.append(rec)
    return records


# --------------------------------------------------------------------------------------------
# Helpers


def _targets(
    files: list[Path], out: Path, scenarios: list[str] | None
) -> list[tuple[Path, str | None, Path]]:
    """(project file, scenario or None, run folder) of every run of the batch, in order."""
    many = len(files) > 1
    stems = [f.stem for f in files]
    targets = []
    for i, f in enumerate(files):
        folder_name = f.stem if stems.count(f.stem) == 1 else f"{f.stem}-{i + 1}"
        base = out / folder_name if many else out
        targets.append((f, None, base))
        targets += [(f, name, base / name) for name in scenarios or []]
    return targets


def _run_on_cluster(
    jobs: list[BatchResult],
    engine_args: dict[str, Any],
    *,
    stages: list[str] | None,
    reuse: bool,
    overwrite: bool,
    progress: Callable[[str], None] | None,
    many: bool,
    **options: Any,
) -> None:
    """Every project and scenario of ``jobs`` as one Dask task; results filled in place.

    Each project is checked here first (its configuration, scenario and run folder), so a
    broken one fails at once, with its own reason, and is not sent. The others run with the
    in-process engine on the workers (:func:`ccm_geo.engine.run_task`), each into its own run
    folder, which the workers must be able to write.
    """
    from ccm_geo.engine import open_engine, submit_runs

    ready: list[tuple[BatchResult, Any]] = []
    for result in jobs:
        try:
            ready.append((result, _checked_config(result, overwrite)))
        except CcmGeoError as exc:
            result.status, result.error = "failed", str(exc)
    if not ready:
        return
    kwargs = {k: v for k, v in engine_args.items() if v is not None}
    with open_engine(**kwargs) as eng:
        if progress is not None:
            progress(f"{len(ready)} run(s) sent to {eng.description}")

        def done(result: BatchResult, outcome: dict[str, Any]) -> None:
            result.status, result.error = outcome["status"], outcome["error"]
            result.log = outcome["log"]
            say = _prefixed(progress, result.project.stem if many else None, result.scenario)
            if say is not None:
                state = "done" if result.status == "ok" else "failed"
                say(f"{state} on the cluster in {outcome['seconds']:.1f} s")

        submit_runs(
            eng.client,
            [
                (result, config, str(result.out), {**options, "scenario": result.scenario})
                for result, config in ready
            ],
            stages=stages,
            reuse=reuse,
            on_done=done,
        )


def _run_one(
    result: BatchResult,
    *,
    stages: list[str] | None,
    reuse: bool,
    dry_run: bool,
    overwrite: bool,
    progress: Callable[[str], None] | None,
    **options: Any,
) -> None:
    from ccm_geo.pipeline import run as run_pipeline

    config = _checked_config(result, overwrite)
    if dry_run:
        result.status = "dry-run"
        result.plan = _dry_run(config, result, stages, reuse, progress, **options)
        return
    engine_args = options.pop("engine_args", None)
    engine = None
    if engine_args is not None or config.engine.kind != "inprocess" or config.engine.scheduler:
        from ccm_geo.engine import open_engine

        engine = open_engine(settings=config.engine, **(engine_args or {}))
    try:
        result.log = run_pipeline(
            config,
            result.out,
            stages=stages,
            progress=progress,
            reuse=reuse,
            scenario=result.scenario,
            engine=engine,
            **options,
        )
    finally:
        if engine is not None:
            engine.close()


def _checked_config(result: BatchResult, overwrite: bool):
    """The project's configuration, once its scenario and run folder are checked (raises the
    one-line error a failed project shows)."""
    from ccm_geo.config import load_config
    from ccm_geo.pipeline import other_project

    config = load_config(result.project)
    if result.scenario is not None and result.scenario not in config.scoring.scenarios:
        known = ", ".join(sorted(config.scoring.scenarios)) or "none"
        msg = (
            f"--scenario {result.scenario!r}: not in [scoring.scenarios] of {result.project} "
            f"(scenarios: {known})"
        )
        raise ConfigError(msg)
    assert result.out is not None
    if result.out.exists() and not result.out.is_dir():
        msg = f"--out {result.out}: is a file, not a folder; give a folder for the outputs"
        raise InputError(msg)
    holder = other_project(result.out, config)
    if holder is not None and not overwrite:
        msg = (
            f"{result.out}: holds the outputs of another project ({holder}); give --overwrite "
            "to replace them, or another --out"
        )
        raise InputError(msg)
    return config


def _dry_run(config, result: BatchResult, stages, reuse, progress, **options) -> str:
    """Validate the inputs; the stages that would run or be reused and what they write."""
    import warnings

    from ccm_geo.pipeline import (
        STAGES,
        _read_manifest,
        input_sha256,
        load_inputs,
        reusable_outputs,
        stage_key,
    )
    from ccm_geo.pipeline.manifest import no_reuse_reason

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hazards, _context, reports = load_inputs(config, progress=progress)
    names = list(STAGES) if not stages else [s for s in STAGES if s in stages]
    lines = [
        f"{result.label}: inputs valid ({len(hazards):,} areas); would write into {result.out}/:"
    ]
    why_not = no_reuse_reason(config) if reuse else None
    if why_not is not None:  # the same rule as the run's (ccm_geo.pipeline.run)
        lines.append(f"  {why_not}")
        reuse = False
    earlier = _read_manifest(result.out) if reuse else {}
    # a dry run writes no manifest: the inputs are read for their sha256 only to judge reuse
    inputs = input_sha256(config) if reuse else None
    fresh = not reuse
    for name in names:
        kept = None
        if not fresh:
            key = stage_key(
                config,
                name,
                inputs,
                tiles=options.get("tiles"),
                donor=options.get("donor"),
                scenario=result.scenario,
            )
            kept = reusable_outputs(name, key, earlier, result.out)
        if kept is None:
            fresh = True
            if name == "request" and not config.donors:
                lines.append(f"  {name:<10s} run    (no [[donors]]: nothing written)")
                continue
            lines.append(f"  {name:<10s} run    {', '.join(STAGE_OUTPUTS[name])}")
        else:
            lines.append(f"  {name:<10s} reuse  (unchanged since the last run)")
    lines.append("  and manifest.json")
    for r in reports:
        lines.append(f"  {r.source}: {r.rows_read:,} read, {r.rows_kept:,} kept")
    return "\n".join(lines)


def _figures(out: Path | None) -> dict[str, Any]:
    """Areas, top priorities, planned cost and gap, read from a run folder's outputs."""
    fig: dict[str, Any] = {}
    if out is None:
        return fig
    scores = out / "scores.csv"
    if scores.is_file():
        table = pd.read_csv(
            scores,
            usecols=lambda c: c in ("hazard_id", "rank"),
            dtype=str,
            encoding="utf-8-sig",
            keep_default_na=False,
        )
        table["rank"] = pd.to_numeric(table["rank"])
        fig["areas"] = len(table)
        fig["top"] = table.sort_values("rank")["hazard_id"].head(3).tolist()
    elif (out / "area_summary.csv").is_file():
        fig["areas"] = int(
            pd.read_csv(out / "area_summary.csv", encoding="utf-8-sig")
            .query("region != 'all' and status != 'all'")["areas"]
            .sum()
        )
    summary = out / "plan" / "plan_summary.json"
    if summary.is_file():
        plan = json.loads(summary.read_text(encoding="utf-8"))
        sol = plan.get("solution") or {}
        fig["gap"] = sol.get("gap")
        fig["cost_usd"] = (plan.get("summary") or {}).get("cost_usd_selected")
    return fig


def _prefixed(
    progress: Callable[[str], None] | None, name: str | None, scenario: str | None
) -> Callable[[str], None] | None:
    if progress is None:
        return None
    tag = " ".join(t for t in (name, scenario and f"[{scenario}]") if t)
    if not tag:
        return progress
    return lambda text: progress(f"{tag}: {text}")
