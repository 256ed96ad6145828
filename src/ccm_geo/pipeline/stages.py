"""The six stages, each a function ``(config, out_dir, state, log)`` writing into the run folder."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ccm_geo.config import ProjectConfig
from ccm_geo.errors import InputFileNotFoundError, ValidationError
from ccm_geo.io import read_gpkg
from ccm_geo.model import CONTEXT_COLUMNS, area_summary
from ccm_geo.pipeline.inputs import load_inputs, read_context
from ccm_geo.pipeline.manifest import _write_json
from ccm_geo.pipeline.runlog import STAGE_NAMES, RunLog
from ccm_geo.runfolder import (
    RUN_CACHE,
    moved_path,
    stage_folder,
)

logger = logging.getLogger(__name__)


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
    from ccm_geo.publish.printmap import has_sheets, iter_sheets, save_figure, save_sheets
    from ccm_geo.publish.shared import run_cache
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
    with run_cache(src / RUN_CACHE):  # the packed roads, for a request stage run on its own
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
    sheets = iter_sheets(areas, context, config.maps, title=title)
    fig = next(sheets)[1]
    log.wrote(save_figure(fig, out_dir / "priority_map.png"))
    log.wrote(save_figure(fig, out_dir / "priority_map.pdf"))
    log.wrote(save_figure(fig, out_dir / "priority_map.svg"))
    if has_sheets(areas, config.maps):  # one sheet per region: one page is not legible
        # drawn and written one at a time: hundreds of regions nationally
        pages = itertools.chain([fig], (f for _, f in sheets))
        log.wrote(save_sheets(pages, out_dir / "priority_map_sheets.pdf"))
    state.update(map_areas=areas, context=context)


def stage_request(config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog) -> None:
    """One funding request package per donor, and the programme view (``requests/``)."""
    from ccm_geo.io import write_csv
    from ccm_geo.publish.donors import match_donors
    from ccm_geo.publish.requests import write_requests
    from ccm_geo.publish.shared import run_cache

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
    milestones, summary = _plan_tables(state, src / "plan")
    log.step("matching tasks to donors")
    allocation = match_donors(tasks, config.donors, seed=config.project.seed)
    log.step("writing the request packages")
    with run_cache(src / RUN_CACHE):  # the road layer the map stage packed
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
            programme_language=config.project.language,
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
assert tuple(STAGES) == STAGE_NAMES


def run_stage(
    name: str, config: ProjectConfig, out_dir: Path, state: dict[str, Any], log: RunLog
) -> None:
    """Run one stage, timing it and recording its warnings in ``log`` (identical ones once,
    with how many times they were said).

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
    # the same words said several times (once per donor, per scenario...) are one warning
    # with their count: a long list of copies hides the others
    said = Counter((w.category.__name__, str(w.message)) for w in caught)
    for (category, message), times in said.items():
        if times > 1:
            message = f"{message} (said {times} times in this stage)"
        log.warnings.append({"stage": name, "category": category, "message": message})


# --------------------------------------------------------------------------------------------
# Library helpers used by the stages


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


def _plan_tables(state: dict[str, Any], plan_dir: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The plan's milestones and summary from this run, else from the files the plan wrote."""
    milestones = state.get("milestones")
    if milestones is None:
        milestones = pd.read_csv(plan_dir / "milestones.csv", encoding="utf-8-sig")
    summary = state.get("plan_summary")
    if summary is None:
        summary = json.loads((plan_dir / "plan_summary.json").read_text("utf-8"))
    return milestones, summary


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
