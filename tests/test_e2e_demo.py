"""End to end: the embedded demo province through the CLI, as `make demo` runs it."""

from __future__ import annotations

import hashlib
import json
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from ccm_geo.cli import app
from conftest import ROOT

PROJECT = ROOT / "data" / "demo" / "project.toml"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = runner.invoke(app, ["run", str(PROJECT), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


def _digests(folder, names):
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def test_every_stage_wrote_its_outputs(demo_run):
    out, _ = demo_run
    expected = [
        "hazards.gpkg",
        "context.gpkg",
        "validation_report.csv",
        "area_summary.csv",
        "criteria.gpkg",
        "criteria.csv",
        "scored.gpkg",
        "scores.csv",
        "weights.csv",
        "sensitivity_sweep.csv",
        "scenarios.csv",
        "sensitivity_summary.json",
        "plan/tasks.gpkg",
        "plan/tasks.csv",
        "plan/milestones.csv",
        "plan/plan_summary.json",
        "plan/budget_curve.csv",
        "plan/budget_curve.png",
        "priority_map.html",
        "priority_map_embed.html",
        "priority_map.png",
        "priority_map.pdf",
        "requests/programme.html",
        "requests/funding_gap.csv",
        "manifest.json",
    ]
    missing = [p for p in expected if not (out / p).is_file()]
    assert not missing
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["timings_s"]) == {
        "load",
        "criteria",
        "score",
        "prioritise",
        "map",
        "request",
    }
    listed = {o["path"] for o in manifest["outputs"]}
    assert set(expected) - {"manifest.json"} <= listed
    for slug in ("nordic-ccm-fund", "pacific-dca", "fondation-survivants"):
        for name in ("request.html", "request.pdf", "tasks.xlsx", "tasks.gpkg"):
            assert (out / "requests" / slug / name).is_file(), (slug, name)


def test_demo_validation_report_names_the_two_repairs(demo_run):
    out, result = demo_run
    report = pd.read_csv(out / "validation_report.csv", encoding="utf-8-sig")
    repairs = report[report["level"] == "repair"]
    assert sorted(repairs["hazard_id"]) == ["DP-CMR-0007", "DP-MIN-0003"]
    assert set(report["level"]) == {"repair"}  # nothing else is wrong with the demo
    assert "450 read, 450 kept" in result.stdout


def test_demo_areas_add_up(demo_run):
    out, _ = demo_run
    hazards = gpd.read_file(out / "hazards.gpkg", layer="hazards")
    summary = pd.read_csv(out / "area_summary.csv", encoding="utf-8-sig")
    total = summary.query("region == 'all' and status == 'all'").iloc[0]
    assert total["areas"] == len(hazards) == 450
    assert total["total_m2"] == pytest.approx(hazards["area_m2"].sum(), abs=0.1)
    per_region = summary.query("region != 'all' and status == 'all'")
    assert per_region["total_m2"].sum() == pytest.approx(total["total_m2"], abs=1)


def test_scores_are_explained_and_ranked(demo_run):
    out, _ = demo_run
    scores = pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    contrib = scores.filter(like="contrib_").sum(axis=1)
    assert (contrib - scores["score"]).abs().max() < 1e-5
    assert sorted(scores["rank"]) == list(range(1, len(scores) + 1))
    assert scores["explanation"].str.len().gt(0).all()


def test_plan_respects_budget_and_links_to_areas(demo_run):
    out, _ = demo_run
    tasks = pd.read_csv(out / "plan" / "tasks.csv", encoding="utf-8-sig")
    summary = json.loads((out / "plan" / "plan_summary.json").read_text())
    selected = tasks[tasks["selected"].astype(bool)]
    budgets = dict(zip(summary["summary"]["years"], summary["summary"]["budget_usd"], strict=True))
    per_year = selected.groupby("year")["cost_usd"].sum()
    for year, cost in per_year.items():
        assert cost <= budgets[int(year)] + 0.01
    assert summary["solution"]["objective"] >= summary["greedy_objective"] - 1e-6
    hazards = gpd.read_file(out / "hazards.gpkg", layer="hazards")
    assert set(tasks["hazard_id"]) <= set(hazards["hazard_id"])


def test_a_stage_run_alone_reads_the_previous_stage_file(demo_run, tmp_path):
    out, _ = demo_run
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("hazards.gpkg", "context.gpkg", "criteria.gpkg"):
        shutil.copy(out / name, copy / name)
    result = runner.invoke(app, ["score", str(PROJECT), "--out", str(copy)])
    assert result.exit_code == 0, result.output
    assert _digests(copy, ["scores.csv", "scored.gpkg"]) == _digests(
        out, ["scores.csv", "scored.gpkg"]
    )


def test_a_stage_without_its_input_says_which_stage_to_run(tmp_path):
    result = runner.invoke(app, ["score", str(PROJECT), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "criteria.gpkg: not found" in result.stderr and "ccm-geo criteria" in result.stderr


def test_two_runs_are_identical(demo_run, tmp_path):
    # every output but the manifest (which holds timings and the run id), byte for byte:
    # solve times live in the manifest only, never in plan_summary.json or programme.html
    out, _ = demo_run
    again = tmp_path / "again"
    result = runner.invoke(app, ["run", str(PROJECT), "--out", str(again)])
    assert result.exit_code == 0, result.output
    names = sorted(
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"
    )
    assert len(names) > 30 and "plan/plan_summary.json" in names
    assert "requests/programme.html" in names
    assert _digests(again, names) == _digests(out, names)
    summary = (again / "plan" / "plan_summary.json").read_text(encoding="utf-8")
    assert '"seconds"' not in summary and "solve_seconds" not in summary
    manifest = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["solver_seconds"]["plan"] >= 0


def test_ahp_per_family_with_the_default_criteria_writes_its_cr(demo_run, tmp_path):
    # [scoring.ahp.people] on the default criteria (no weights of the user's own): the score
    # stage runs, and the consistency ratio is in weights.csv and manifest.json.
    out, _ = demo_run
    demo = tmp_path / "demo"
    shutil.copytree(PROJECT.parent, demo)
    project = demo / "project.toml"
    project.write_text(
        project.read_text(encoding="utf-8")
        + "\n[scoring.ahp.people]\n"
        'items = ["population", "settlement_access", "remote_survivors"]\n'
        'matrix = [[1, 2, 3], ["1/2", 1, 2], ["1/3", "1/2", 1]]\n',
        encoding="utf-8",
    )
    run = tmp_path / "run"
    shutil.copytree(out, run)
    result = runner.invoke(app, ["score", str(project), "--out", str(run)])
    assert result.exit_code == 0, result.output
    weights = pd.read_csv(run / "weights.csv", encoding="utf-8-sig").set_index("criterion")
    people = weights[weights["family"] == "people"]
    assert people["indicator_cr"].between(0.001, 0.1).all()  # Saaty's CR of this matrix
    assert weights.loc[weights["family"] != "people", "indicator_cr"].isna().all()
    assert people["indicator_weight"].is_monotonic_decreasing
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    cr = manifest["scoring"]["consistency_ratios"]["people"]
    assert cr == pytest.approx(people["indicator_cr"].iloc[0], abs=1e-6)


def test_a_run_without_accidents_says_the_ranking_is_weak(demo_run, tmp_path):
    import re

    out, _ = demo_run
    demo = tmp_path / "demo"
    shutil.copytree(PROJECT.parent, demo)
    project = demo / "project.toml"
    text = project.read_text(encoding="utf-8")
    project.write_text(re.sub(r"\[inputs\.accidents\][^\[]*", "", text), encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(out, run)
    (run / "context.gpkg").unlink()  # the load stage's context held the accidents
    args = ["run", str(project), "--out", str(run), "--stage", "load", "--stage", "criteria"]
    result = runner.invoke(app, [*args, "--stage", "score"])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if "ranking is weak" in x]
    assert len(lines) == 1 and lines[0].startswith("warning (score): ranking is weak:")
    assert "accident_risk (weight 0.20) has no data for 100% of areas" in lines[0]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scoring"]["weak_ranking"] in lines[0]
