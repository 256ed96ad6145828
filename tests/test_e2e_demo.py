"""End to end: the embedded demo province through the CLI, as `make demo` runs it."""

from __future__ import annotations

import hashlib
import json
import re
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
        project.read_text(encoding="utf-8") + "\n[scoring.ahp.people]\n"
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
    args = ["run", str(project), "--out", str(run), "--overwrite", "--stage", "load"]
    result = runner.invoke(app, [*args, "--stage", "criteria", "--stage", "score"])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if "ranking is weak" in x]
    assert len(lines) == 1 and lines[0].startswith("warning (score): ranking is weak:")
    assert "accident_risk (weight 0.29) has no data for 100% of areas" in lines[0]
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scoring"]["weak_ranking"] in lines[0]


# ---- the demo's funding requests, read as a donor officer reads them -----------------------

DONOR_KEYS = ("nordic-ccm-fund", "pacific-dca", "fondation-survivants")


def _forbidden_tokens(out) -> set[str]:
    """Internal key names a donor must never read: every column name with an underscore of
    the run's tables, the solver's name and the tool's files."""
    import pyogrio

    cols: set[str] = set()
    for path, layer in (
        (out / "scored.gpkg", "areas"),
        (out / "plan" / "tasks.gpkg", "tasks"),
        (out / "criteria.gpkg", "areas"),
    ):
        cols |= set(pyogrio.read_info(path, layer=layer)["fields"])
    cols |= set(pd.read_csv(out / "plan" / "milestones.csv", encoding="utf-8-sig").columns)
    tokens = {c for c in cols if "_" in c}
    return tokens | {"HiGHS", "MILP", "rules.mixed_split", "DESIGN.md", ".gpkg", ".csv", ".json"}


def test_demo_requests_print_as_proposals(demo_run):
    """Every demo request PDF: the ask, the right treaty, the total need and a labelled map on
    pages 1-2; every font embedded; no internal key name; no page under a quarter full but
    the last of a section."""
    import pdfcheck

    if not pdfcheck.POPPLER:
        pytest.skip(pdfcheck.POPPLER_MISSING)
    out, _ = demo_run
    forbidden = _forbidden_tokens(out)
    expect = {  # ask, Article 4 shown, Article 5 shown, need, map caption
        "nordic-ccm-fund": ("We ask", True, False, "costs US$3,576,692", "Map 1."),
        "pacific-dca": ("We ask", True, True, "costs US$3,576,692", "Map 1."),
        "fondation-survivants": ("Nous demandons", True, True, "coûte 3 576 692", "Carte 1."),
    }
    for key in DONOR_KEYS:
        pdf = out / "requests" / key / "request.pdf"
        ask, art4, art5, need, caption = expect[key]
        first = pdfcheck.text(pdf, 1, 2)
        flat = " ".join(first.split())
        assert ask in flat, key
        assert ("Article 4" in flat or "article 4" in flat) is art4, key
        assert ("Article 5" in flat or "article 5" in flat) is art5, key
        assert ("Mine Ban" in flat or "mines antipersonnel" in flat) is art5, key
        assert re.sub(r"\s", "", need) in re.sub(r"\s", "", flat), key
        assert caption in flat and pdfcheck.images_on(pdf, 1, 2) >= 1, key
        assert all(f["emb"] == "yes" for f in pdfcheck.fonts(pdf)), pdfcheck.fonts(pdf)
        assert pdfcheck.links(pdf) >= 10, key  # the table of contents links to its sections
        assert any("NotoSans" in f["name"].replace("-", "") for f in pdfcheck.fonts(pdf))
        whole = pdfcheck.text(pdf)
        leaked = sorted(t for t in forbidden if t in whole)
        assert not leaked, (key, leaked)
        n = pdfcheck.pages(pdf)
        fills = pdfcheck.fill(pdf)
        assert len(fills) == n
        for i, share in enumerate(fills, start=1):
            if share >= 0.25 or i == n:
                continue
            following = " ".join(pdfcheck.text(pdf, i + 1, i + 1).split()[:12])
            assert "Annex" in following, (key, i, share, following)


def test_demo_request_workbooks_calculate(demo_run, tmp_path):
    """tasks.xlsx: costs are formulas of the assumption cells; the cached values match the
    plan; LibreOffice recalculating them gives the same numbers."""
    import openpyxl

    import pdfcheck

    out, _ = demo_run
    plan = pd.read_csv(out / "plan" / "tasks.csv", encoding="utf-8-sig").set_index("task_id")
    for key in DONOR_KEYS:
        path = out / "requests" / key / "tasks.xlsx"
        wb = openpyxl.load_workbook(path)
        cached = openpyxl.load_workbook(path, data_only=True)
        assert all(ws.max_row > 1 for ws in wb.worksheets), key  # no empty sheet
        summary = wb.worksheets[0]
        assert any(str(c.value).startswith("=") for c in summary["B"]), key
        if key == "fondation-survivants":
            continue
        ws, wsv = wb.worksheets[1], cached.worksheets[1]
        assert "Tasks" in ws.tables
        heads = [c.value for c in ws[1]]
        cost_col = heads.index("Cost, US$")
        n = 0
        for row, vals in zip(
            ws.iter_rows(min_row=2, max_row=ws.max_row - 1),
            wsv.iter_rows(min_row=2, max_row=ws.max_row - 1, values_only=True),
            strict=True,
        ):
            assert str(row[cost_col].value).startswith("="), row[cost_col].value
            assert row[cost_col].number_format.endswith('"US$"')
            assert vals[cost_col] == pytest.approx(plan.loc[vals[0], "cost_usd"], abs=0.01)
            n += 1
        assert n == len(pd.read_csv(out / "requests" / "funded_by.csv").query("funded_by == @key"))
        prio = wb["Priority"]
        assert prio.cell(row=2, column=4).number_format == "0.00"
        assert summary.page_setup.fitToWidth in (1, "1", None) and summary.sheet_properties
        if pdfcheck.SOFFICE:
            again = openpyxl.load_workbook(pdfcheck.recalculated(path, tmp_path), data_only=True)
            for a, b in zip(
                cached.worksheets[1].iter_rows(values_only=True),
                again.worksheets[1].iter_rows(values_only=True),
                strict=True,
            ):
                for x, y in zip(a, b, strict=True):
                    if isinstance(x, float):
                        assert y == pytest.approx(x, rel=1e-9, abs=1e-6), (key, a[0])
            sa = [r[1] for r in cached.worksheets[0].iter_rows(min_row=2, values_only=True)]
            sb = [r[1] for r in again.worksheets[0].iter_rows(min_row=2, values_only=True)]
            assert [round(v, 4) if isinstance(v, float) else v for v in sa] == [
                round(v, 4) if isinstance(v, float) else v for v in sb
            ], key
