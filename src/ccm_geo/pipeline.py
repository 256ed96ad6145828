"""The pipeline: runs the stages in order, each writing its output into the run folder.

Every stage is a function ``(config, out_dir, state, log)``: it takes what it needs from
``state`` (the frames an earlier stage of the same run produced) or, when run alone, reads the
file the previous stage wrote into ``out_dir``. ``ccm-geo run`` and the stage subcommands call
these same functions. A run writes ``manifest.json``: inputs and outputs with their sha256,
the resolved configuration, versions, per-stage timings and every warning.

Each stage is atomic: it writes into a temporary folder inside the run folder
(``.ccm-tmp-<stage>-...``) and its files are moved into place only when the stage has finished,
so a failed or killed stage never leaves half its outputs beside the previous run's. The
manifest records which run (and which configuration) wrote each output; a stage run alone on
a folder whose earlier stages came from another configuration says so.
"""

from __future__ import annotations

import dataclasses
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
from ccm_geo.errors import InputFileNotFoundError, ValidationError
from ccm_geo.io import read_gpkg, remove_temporaries
from ccm_geo.model import CONTEXT_COLUMNS, Context, ValidationReport, area_summary
from ccm_geo.runfolder import (
    moved_path,
    new_run_id,
    stage_config_sha256,
    stage_folder,
    stale_stages,
    usable_out_dir,
)

__all__ = [
    "STAGES",
    "RunLog",
    "run",
    "run_stage",
    "load_inputs",
    "area_summary",
    "read_context",
    "publish_postgis",
    "input_sha256",
    "stage_key",
    "other_project",
    "reusable_outputs",
]

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
    #: Facts a stage records in the manifest under its own key (e.g. "scoring").
    facts: dict[str, Any] = field(default_factory=dict)
    #: This run's id (UTC time and a random suffix), recorded beside each output it wrote.
    run_id: str = field(default_factory=new_run_id)
    #: Stage that wrote each output (path -> stage), filled as stages finish.
    written_by: dict[Path, str] = field(default_factory=dict)
    #: Solver wall-clock seconds (kept here, in the manifest, never in the outputs).
    solver_seconds: dict[str, float] = field(default_factory=dict)
    #: Stages whose outputs an earlier run wrote and this run kept (stage -> its record).
    reused: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Content key of each stage run or reused (see :func:`stage_key`).
    stage_keys: dict[str, str] = field(default_factory=dict)

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
    from ccm_geo.io.validate import write_report
    from ccm_geo.publish.styles import hazard_style

    try:
        hazards, context, reports = load_inputs(config, progress=log.step)
    except ValidationError as exc:
        if exc.report is None:
            raise
        # the stage fails, but the report of what was found is written where the user looks
        path = write_report([exc.report], log.out_dir / "validation_report.csv")
        msg = f"{exc}; every finding is in {path}"
        raise ValidationError(msg, exc.report) from None
    log.reports.extend(reports)
    log.step("writing the validated layers")
    log.wrote(
        write_gpkg(
            {"hazards": hazards},
            out_dir / "hazards.gpkg",
            styles={"hazards": hazard_style("status")},
        )
    )
    layers = {
        name: getattr(context, name)
        for name in CONTEXT_COLUMNS
        if getattr(context, name) is not None
    }
    if layers:
        log.wrote(write_gpkg(layers, out_dir / "context.gpkg"))
    log.wrote(write_report(reports, out_dir / "validation_report.csv"))
    summary = area_summary(hazards)
    log.wrote(write_csv(summary, out_dir / "area_summary.csv"))
    log.tables["area_summary"] = summary
    state.update(hazards=hazards, context=context)


def stage_criteria(
    config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog
) -> None:
    """Add the raw indicators to every area; write ``criteria.gpkg`` and ``criteria.csv``.

    ``criteria.gpkg`` also holds a ``settlements`` layer with each village's travel time to
    care over the road network, which the victim-assistance tables of the requests use.
    """
    from ccm_geo.criteria import build_road_graph, compute_criteria, settlement_access
    from ccm_geo.io import write_csv, write_gpkg

    src = log.out_dir  # earlier stages' outputs; this stage writes into out_dir (its temp folder)
    hazards = _from_state_or_file(state, "hazards", src / "hazards.gpkg", "hazards", "load")
    context = state.get("context") or read_context(config, src, hazards.crs.to_string())
    graph = None
    if context.roads is not None:
        log.step("criteria: road graph")
        graph = build_road_graph(context.roads, config.criteria)
    client = getattr(state.get("engine"), "client", None)
    if client is not None:  # --engine dask: spatial partitions on the cluster, same criteria
        from ccm_geo.engine.criteria import partitioned_criteria

        indicators = partitioned_criteria(
            hazards,
            context,
            config.criteria,
            reference_date=config.project.start_date,
            client=client,
            graph=graph,
            partitions=state["engine"].partitions,
            progress=lambda name: log.step(f"criteria: {name}"),
        )
    else:
        indicators = compute_criteria(
            hazards,
            context,
            config.criteria,
            reference_date=config.project.start_date,
            progress=lambda name: log.step(f"criteria: {name}"),
            graph=graph,
        )
    areas = hazards.merge(
        indicators, left_on="hazard_id", right_index=True, how="left", validate="one_to_one"
    )
    areas = _geometry_last(areas)
    layers = {"areas": areas}
    access = None
    if context.settlements is not None:
        access = settlement_access(context, config.criteria, graph=graph)
    if access is not None and access["travel_min_health"].notna().any():
        layers["settlements"] = _geometry_last(
            context.settlements.merge(access, left_on="settlement_id", right_index=True, how="left")
        )
    log.step("writing criteria.gpkg")
    log.wrote(write_gpkg(layers, out_dir / "criteria.gpkg"))
    log.wrote(write_csv(_table(areas), out_dir / "criteria.csv"))
    state.update(
        areas=areas, context=context, settlements_access=layers.get("settlements"), graph=graph
    )


def stage_score(config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog) -> None:
    """Score, rank, class and explain every area; sensitivity and scenarios beside it."""
    from ccm_geo.io import write_csv, write_gpkg
    from ccm_geo.publish.styles import hazard_style
    from ccm_geo.scoring import (
        RankingWeakWarning,
        compare_scenarios,
        consistency_ratios,
        ranking_weakness,
        sensitivity,
        weights_table,
    )
    from ccm_geo.scoring import score_areas as _score

    areas = _from_state_or_file(state, "areas", log.out_dir / "criteria.gpkg", "areas", "criteria")
    log.step("scoring")
    scored = _geometry_last(_score(areas, config.scoring, scenario=state.get("scenario")))
    log.step("sensitivity of the ranking to the weights")
    client = getattr(state.get("engine"), "client", None)
    sens = sensitivity(scored, config.scoring, seed=config.project.seed, client=client)
    scored = scored.merge(
        sens.areas.drop(columns=["rank", "tied_with"]), on="hazard_id", how="left"
    )
    scored = _geometry_last(scored)
    scenarios = compare_scenarios(scored, config.scoring)
    log.step("writing scored.gpkg")
    log.wrote(
        write_gpkg(
            {"areas": scored},
            out_dir / "scored.gpkg",
            styles={"areas": hazard_style("priority_class")},
        )
    )
    log.wrote(write_csv(_table(scored).sort_values("rank"), out_dir / "scores.csv"))
    log.wrote(write_csv(weights_table(config.scoring).reset_index(), out_dir / "weights.csv"))
    log.wrote(write_csv(sens.sweep, out_dir / "sensitivity_sweep.csv"))
    log.wrote(write_csv(scenarios, out_dir / "scenarios.csv"))
    log.wrote(_write_json(sens.summary, out_dir / "sensitivity_summary.json"))
    log.tables["top"] = _table(scored).sort_values("rank").head(10)
    weak = ranking_weakness(scored, config.scoring)
    if weak:
        warnings.warn(weak, RankingWeakWarning, stacklevel=1)
    log.facts["scoring"] = {
        "consistency_ratios": consistency_ratios(config.scoring),
        "tied_share": sens.summary["tied_share"],
        "weak_ranking": weak,
    }
    state.update(scored=scored)


def stage_prioritise(
    config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog
) -> None:
    """Tasks, the optimal budgeted multi-year plan, team schedule, milestones, deadline."""
    from ccm_geo.io import write_csv, write_gpkg
    from ccm_geo.planning import make_plan
    from ccm_geo.publish.printmap import save_figure

    src = log.out_dir
    scored = _from_state_or_file(state, "scored", src / "scored.gpkg", "areas", "score")
    travel = None  # teams move between tasks over the roads when there are roads
    context = state.get("context") or read_context(config, src, scored.crs.to_string())
    if context.roads is not None:
        from ccm_geo.criteria import area_travel, build_road_graph

        graph = state.get("graph") or build_road_graph(context.roads, config.criteria)
        if graph.n_nodes > 0:
            travel = area_travel(scored, graph, config.criteria)
    plan = make_plan(
        scored,
        config.planning,
        start_date=config.project.start_date,
        deadline=config.project.deadline,
        travel_minutes=travel,
        progress=lambda name, frac: log.step(f"planning: {name} ({frac:.0%})"),
    )
    plan_dir = out_dir / "plan"
    log.step("writing the plan")
    tasks = _geometry_last(plan.tasks)
    log.wrote(write_gpkg({"tasks": tasks}, plan_dir / "tasks.gpkg"))
    log.wrote(write_csv(_table(tasks), plan_dir / "tasks.csv"))
    log.wrote(write_csv(plan.milestones, plan_dir / "milestones.csv"))
    log.wrote(write_csv(plan.budget_curve, plan_dir / "budget_curve.csv"))
    log.wrote(save_figure(plan.budget_curve_figure(), plan_dir / "budget_curve.png"))
    log.solver_seconds["plan"] = round(float(plan.solution.seconds), 3)
    log.solver_seconds["greedy"] = round(float(plan.greedy.seconds), 3)
    summary = {
        "solution": _solution_dict(plan.solution),
        "greedy": _solution_dict(plan.greedy),
        "greedy_objective": plan.greedy_objective,
        "deadline": plan.deadline,
        # timings vary run to run: they go to the manifest, never into an output
        "summary": {k: v for k, v in plan.summary.items() if k not in _TIMING_KEYS},
    }
    for key, value in (plan.summary.get("timings_s") or {}).items():
        log.solver_seconds[f"planning_{key}"] = round(float(value), 3)
    log.wrote(_write_json(summary, plan_dir / "plan_summary.json"))
    log.tables["plan"] = plan.milestones
    state.update(
        plan=plan,
        tasks=tasks,
        milestones=plan.milestones,
        deadline=plan.deadline,
        plan_summary=summary,
    )


def stage_map(config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog) -> None:
    """The interactive priority map (offline HTML), its embeddable form, and the print map."""
    from ccm_geo.io import write_text
    from ccm_geo.publish.maps import embed_fragment, priority_map
    from ccm_geo.publish.printmap import print_sheets, save_figure, save_sheets
    from ccm_geo.scoring import ranking_weakness

    src = log.out_dir
    scored = _from_state_or_file(state, "scored", src / "scored.gpkg", "areas", "score")
    context = state.get("context") or read_context(config, src, scored.crs.to_string())
    tasks = state.get("tasks")
    if tasks is None and (src / "plan" / "tasks.gpkg").is_file():
        tasks = read_gpkg(src / "plan" / "tasks.gpkg", "tasks")
    areas = scored if tasks is None else _with_plan(scored, tasks)
    title = f"{config.project.name}: clearance priorities"
    log.step("drawing the interactive map")
    weak = ranking_weakness(scored, config.scoring)
    html = priority_map(
        areas,
        context,
        config.maps,
        title=title,
        tiles=state.get("tiles"),
        no_route_min=config.criteria.remoteness.unreachable_penalty_min,
        note=weak,
    )
    log.wrote(write_text(html, out_dir / "priority_map.html"))
    log.wrote(write_text(embed_fragment(html, title=title), out_dir / "priority_map_embed.html"))
    log.step("drawing the print map")
    sheets = print_sheets(areas, context, config.maps, title=title)
    fig = sheets[0][1]
    log.wrote(save_figure(fig, out_dir / "priority_map.png"))
    log.wrote(save_figure(fig, out_dir / "priority_map.pdf"))
    log.wrote(save_figure(fig, out_dir / "priority_map.svg"))
    if len(sheets) > 1:  # one sheet per region: the register does not fit one page legibly
        log.wrote(save_sheets([f for _, f in sheets], out_dir / "priority_map_sheets.pdf"))
    state.update(map_areas=areas, context=context)


def stage_request(config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog) -> None:
    """One funding request package per donor, and the programme view (``requests/``)."""
    from ccm_geo.io import write_csv
    from ccm_geo.publish.donors import match_donors
    from ccm_geo.publish.requests import write_requests

    if not config.donors:
        log.step("no [[donors]] in the project: no requests written")
        return
    src = log.out_dir
    scored = _from_state_or_file(state, "scored", src / "scored.gpkg", "areas", "score")
    tasks = _from_state_or_file(state, "tasks", src / "plan" / "tasks.gpkg", "tasks", "prioritise")
    context = state.get("context") or read_context(config, src, scored.crs.to_string())
    villages = state.get("settlements_access")
    if villages is None and _has_layer(src / "criteria.gpkg", "settlements"):
        villages = read_gpkg(src / "criteria.gpkg", "settlements")
    if villages is not None:  # villages with their road travel time to care
        context = dataclasses.replace(context, settlements=villages)
    milestones = state.get("milestones")
    if milestones is None:
        milestones = pd.read_csv(src / "plan" / "milestones.csv", encoding="utf-8-sig")
    summary = state.get("plan_summary")
    if summary is None:
        summary = json.loads((src / "plan" / "plan_summary.json").read_text("utf-8"))
    log.step("matching tasks to donors")
    allocation = match_donors(tasks, config.donors, seed=config.project.seed)
    log.step("writing the request packages")
    written = write_requests(
        scored,
        tasks,
        milestones,
        summary["deadline"],
        context,
        config.donors,
        out_dir,
        project_name=config.project.name,
        map_settings=config.maps,
        donor=state.get("donor"),
        planning=config.planning,
        allocation=allocation,
        remote_min=config.criteria.remoteness.remote_threshold_min,
        seed=config.project.seed,
        plan_summary=summary.get("summary"),
        mine_ban_deadline=config.project.mine_ban_deadline,
        contact=config.project.contact,
    )
    for paths in written.values():
        for path in paths:
            log.wrote(path)
    funded = pd.DataFrame(
        {
            "task_id": allocation.funded_by.index.to_numpy(),
            "funded_by": allocation.funded_by.to_numpy(),
        }
    )
    log.wrote(write_csv(funded, out_dir / "requests" / "funded_by.csv"))
    log.wrote(write_csv(allocation.funding_gap(), out_dir / "requests" / "funding_gap.csv"))
    log.tables["donors"] = allocation.totals()
    log.solver_seconds["donor_allocation"] = round(float(allocation.seconds), 3)


#: The stages, in the pipeline's order.
STAGES: dict[str, Callable[[ProjectConfig, Path, dict[str, Any], RunLog], None]] = {
    "load": stage_load,
    "criteria": stage_criteria,
    "score": stage_score,
    "prioritise": stage_prioritise,
    "map": stage_map,
    "request": stage_request,
}


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
    if reuse and any(
        getattr(getattr(config.inputs, n), "postgis", None) is not None
        for n in type(config.inputs).model_fields
    ):  # a database table has no content hash: its rows may have changed since the last run
        log.step("inputs read from PostGIS: every stage runs again (no reuse)")
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
        milestones = state.get("milestones")
        if milestones is None:
            milestones = pd.read_csv(out_dir / "plan" / "milestones.csv", encoding="utf-8-sig")
        summary = state.get("plan_summary")
        if summary is None:
            summary = json.loads((out_dir / "plan" / "plan_summary.json").read_text("utf-8"))
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


def run_stage(
    name: str, config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog
) -> None:
    """Run one stage, timing it and recording its warnings in ``log``.

    The stage writes into a temporary folder inside ``out_dir``; when it has finished, its
    files are moved into place, so a failure (or a kill) leaves the earlier outputs as they
    were. The temporary folder never outlives the call (a killed process's is removed by the
    next run).
    """
    start = time.perf_counter()
    first = len(log.outputs)
    with (
        stage_folder(Path(out_dir), name, log.run_id) as tmp,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        STAGES[name](config, tmp, state, log)
    log.outputs[first:] = [moved_path(p, tmp, Path(out_dir)) for p in log.outputs[first:]]
    for p in log.outputs[first:]:
        log.written_by[Path(p).resolve()] = name
    log.timings_s[name] = round(time.perf_counter() - start, 3)
    for w in caught:
        log.warnings.append(
            {"stage": name, "category": w.category.__name__, "message": str(w.message)}
        )


# --------------------------------------------------------------------------------------------
# Library helpers used by the stages


def load_inputs(
    config: ProjectConfig,
    *,
    progress: Progress | None = None,
) -> tuple[gpd.GeoDataFrame, Context, list[ValidationReport]]:
    """Load the hazards and every context layer into the project's metric CRS.

    Hazards without a region get the admin unit holding their representative point.
    """
    from ccm_geo.io import load_hazards, load_layer
    from ccm_geo.io.validate import check_donor_regions, check_raster, note_casualty_convention

    say = progress or (lambda _t: None)
    say(f"loading hazards from {_short_label(config.inputs.hazards)}")
    hazards, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    reports = [report]
    crs = hazards.crs.to_string()
    layers: dict[str, gpd.GeoDataFrame | None] = {}
    for name in CONTEXT_COLUMNS:
        spec = getattr(config.inputs, name)
        if spec is None:
            layers[name] = None
            continue
        say(f"loading {name} from {_short_label(spec)}")
        layers[name], rep = load_layer(
            spec, name, crs=crs, hazards=hazards, reference_date=config.project.start_date
        )
        reports.append(rep)
        if name == "accidents":
            note_casualty_convention(
                layers[name], rep, config.criteria.contamination.unknown_casualties
            )
    if layers.get("admin") is not None:
        hazards = _regions_from_admin(hazards, layers["admin"])
    lc = config.inputs.landcover
    if lc is not None:
        check_raster(lc.path, hazards)
    check_donor_regions(config.donors, hazards, config.source or "config")
    context = Context(crs=crs, **layers, **_landcover(config))
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
    return Context(crs=crs, **layers, **_landcover(config))


# --------------------------------------------------------------------------------------------
# Helpers


def _landcover(config: ProjectConfig) -> dict[str, Any]:
    """The land-cover part of the context. Without a raster, the standard class table is kept,
    so the ``landuse_frac_<class>`` columns exist (as NaN, "no data") and the default scoring
    still runs; the criteria stage warns that land cover is missing."""
    from ccm_geo.model import LANDCOVER_CLASSES

    lc = config.inputs.landcover
    if lc is None:
        return {"landcover_path": None, "landcover_classes": dict(LANDCOVER_CLASSES)}
    return {"landcover_path": lc.path, "landcover_classes": dict(lc.classes)}


def _regions_from_admin(hazards: gpd.GeoDataFrame, admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    unknown = hazards["region"].eq("unknown")
    if not unknown.any():
        return hazards
    pts = gpd.GeoDataFrame(
        {"i": hazards.index[unknown]},
        geometry=hazards.geometry[unknown].representative_point(),
        crs=hazards.crs,
    )
    joined = gpd.sjoin(pts, admin[["region", "geometry"]], how="left", predicate="within")
    joined = joined.drop_duplicates("i").set_index("i")
    hazards = hazards.copy()
    hazards.loc[joined.index, "region"] = joined["region"].fillna("unknown").to_numpy()
    return hazards


def _from_state_or_file(
    state: dict[str, Any], key: str, path: Path, layer: str, stage: str
) -> gpd.GeoDataFrame:
    """A frame an earlier stage of this run made, else the file it wrote."""
    if state.get(key) is not None:
        return state[key]
    if not path.is_file():
        msg = (
            f"{path}: not found; this stage reads what the '{stage}' stage writes. Run "
            f"`ccm-geo {stage}` with the same --out first, or `ccm-geo run`."
        )
        raise InputFileNotFoundError(msg)
    return read_gpkg(path, layer)


def _has_layer(path: Path, layer: str) -> bool:
    import pyogrio

    return path.is_file() and layer in {name for name, _ in pyogrio.list_layers(path)}


def _geometry_last(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    name = gdf.geometry.name
    cols = [c for c in gdf.columns if c != name] + [name]
    return gpd.GeoDataFrame(gdf[cols], geometry=name, crs=gdf.crs)


def _table(gdf: pd.DataFrame) -> pd.DataFrame:
    """The attribute table without geometry (for CSV/Excel)."""
    if isinstance(gdf, gpd.GeoDataFrame):
        return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    return gdf


def _with_plan(scored: gpd.GeoDataFrame, tasks: pd.DataFrame) -> gpd.GeoDataFrame:
    """Per area, the plan's selected tasks summed up: methods in order, cost, years, dates."""
    sel = pd.DataFrame(tasks.loc[tasks["selected"].astype(bool)])
    if sel.empty:
        return scored
    sel = sel.sort_values(["hazard_id", "step"], kind="stable")
    per_area = sel.groupby("hazard_id", sort=True).agg(
        method=("method", " → ".join),
        cost_usd=("cost_usd", "sum"),
        year=("year", "min"),
        team=("team", lambda t: ", ".join(dict.fromkeys(str(x) for x in t if pd.notna(x)))),
        start=("start", "min"),
        end=("end", "max"),
    )
    out = scored.drop(columns=[c for c in per_area.columns if c in scored.columns])
    out = out.merge(per_area, left_on="hazard_id", right_index=True, how="left")
    return _geometry_last(out)


_TIMING_KEYS = frozenset({"solve_seconds", "timings_s", "seconds"})


def _solution_dict(sol) -> dict[str, Any]:
    return {
        "status": sol.status,
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "tasks_selected": int((sol.year_index >= 0).sum()),
    }


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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
    if (set(log.timings_s) >= set(STAGES) and not log.reused) or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s: unreadable earlier manifest, replaced", path)
        return {}


def _short_label(spec) -> str:
    """An input as progress names it: the file's name, or the database and table."""
    return spec.path.name if spec.path is not None else spec.label


def _input_files(config: ProjectConfig) -> list[Path]:
    inputs = []
    for name in type(config.inputs).model_fields:
        spec = getattr(config.inputs, name)
        if spec is None or getattr(spec, "postgis", None) is not None:
            continue  # a database table has no file to hash; its source is in the config
        if any(ch in spec.path.name for ch in "*?["):  # a glob: every file it reads
            inputs.extend(sorted(spec.path.parent.glob(spec.path.name)))
        else:
            inputs.append(spec.path)
    return inputs


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
        "outputs": [
            {"path": str(p.relative_to(log.out_dir.resolve())), "sha256": _sha256(p), **_who(p)}
            for p in outputs
        ],
        **{k: v for k, v in earlier.items() if k in ("scoring",) and k not in log.facts},
        **log.facts,
    }
    return _write_json(manifest, path)
