"""The command line: exit codes, one-line errors, the run folder and its manifest."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box
from typer.testing import CliRunner

from ccm_geo import __version__
from ccm_geo.cli import app
from conftest import UTM, register

runner = CliRunner()


@pytest.fixture
def project(tmp_path):
    reg = register(6).drop(columns="DISTRICT")
    reg.to_file(tmp_path / "hazards.gpkg")
    admin = gpd.GeoDataFrame(
        {"NAME": ["West", "East"]},
        geometry=[
            box(599_000, 1_649_000, 602_500, 1_652_000),
            box(602_500, 1_649_000, 607_000, 1_652_000),
        ],
        crs=UTM,
    )
    admin.to_file(tmp_path / "admin.gpkg")
    (tmp_path / "project.toml").write_text(
        """
[project]
name = "Tiny test province"
crs = "EPSG:32648"

[inputs.hazards]
path = "hazards.gpkg"
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }

[inputs.hazards.columns]
hazard_id = "HAZ_ID"
status = "STATUS"
contamination = "CONTAM"
evidence = "EVIDENCE"
devices_found = "DEVICES"

[inputs.admin]
path = "admin.gpkg"
columns = { region = "NAME" }
""",
        encoding="utf-8",
    )
    return tmp_path / "project.toml"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"ccm-geo {__version__}"


def test_load_writes_layers_summary_and_manifest(project, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(project), "--out", str(out), "--stage", "load"])
    assert result.exit_code == 0, result.output
    assert "Article 7 Form F" in result.stdout
    hazards = gpd.read_file(out / "hazards.gpkg", layer="hazards")
    assert list(hazards["region"]) == ["West", "West", "West", "East", "East", "East"]
    manifest = json.loads((out / "manifest.json").read_text())
    names = {o["path"] for o in manifest["outputs"]}
    assert {"hazards.gpkg", "context.gpkg", "area_summary.csv", "validation_report.csv"} <= names
    assert manifest["inputs"][0]["path"].endswith("project.toml")
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert "load" in manifest["timings_s"] and manifest["versions"]["ccm_geo"] == __version__


def test_two_runs_give_identical_tables_and_geopackages(project, tmp_path):
    digests = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = runner.invoke(app, ["run", str(project), "--out", str(out), "--stage", "load"])
        assert result.exit_code == 0, result.output
        digests.append(
            {
                p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(out.iterdir())
                if p.suffix in (".gpkg", ".csv")
            }
        )
    assert digests[0] == digests[1] and len(digests[0]) >= 4


def test_user_error_is_one_line_exit_1(project, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[inputs.hazards]\npath = "missing.gpkg"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    # progress lines ("... step") go to stderr when it is not a terminal; the error is one line
    errors = "".join(ln for ln in result.stderr.splitlines(True) if not ln.startswith("... "))
    assert errors.startswith("error: ") and errors.count("\n") == 1
    assert "missing.gpkg: file not found" in result.stderr
    assert "Traceback" not in result.output


def test_usage_error_exit_2(project):
    assert runner.invoke(app, ["run"]).exit_code == 2
    result = runner.invoke(app, ["run", str(project), "--stage", "nonsense"])
    assert result.exit_code == 2 and "unknown stage" in result.output


def test_validate_prints_report_and_fails_on_fatal(tmp_path):
    reg = register(3, HAZ_ID=["A", "A", "B"], STATUS=["CHA", "SHA", "SHA"])
    reg = reg.rename(
        columns={"HAZ_ID": "hazard_id", "STATUS": "status", "CONTAM": "contamination"}
    )  # already the contract's names
    reg.to_file(tmp_path / "dups.gpkg")
    result = runner.invoke(app, ["validate", str(tmp_path / "dups.gpkg")])
    assert result.exit_code == 1
    assert "duplicate_id" in result.stdout and "rows 1, 2" in result.stdout


def test_validate_project_ok(project):
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 0, result.output
    assert "6 rows read" in result.stdout and "6 kept" in result.stdout


def test_every_stage_runs_with_only_a_register_and_admin(project, tmp_path):
    # No accidents, settlements, roads or land cover: their indicators are "no data" (with a
    # warning each), and the default scoring, plan, maps and reports still come out.
    out = tmp_path / "all"
    result = runner.invoke(app, ["run", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no land-cover raster" in result.stderr
    scores = pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    assert scores["landuse_frac_cropland"].isna().all()
    assert sorted(scores["rank"]) == [1, 2, 3, 4, 5, 6]
    assert (out / "plan" / "tasks.csv").is_file() and (out / "priority_map.html").is_file()


def test_a_stage_run_alone_keeps_the_earlier_manifest_record(project, tmp_path):
    out = tmp_path / "m"
    stages = ["--stage", "load", "--stage", "criteria"]
    assert runner.invoke(app, ["run", str(project), "--out", str(out), *stages]).exit_code == 0
    result = runner.invoke(app, ["score", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["timings_s"]) == {"load", "criteria", "score"}
    paths = {o["path"] for o in manifest["outputs"]}
    assert {"hazards.gpkg", "criteria.gpkg", "scored.gpkg"} <= paths
    assert manifest["validation"] and manifest["validation"][0]["rows_read"] == 6
