"""Runs are atomic per stage: a killed run leaves every earlier output readable and unchanged,
no temporary file outlives the next run, and the manifest says which run wrote each output."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.io import TEMP_PREFIX
from conftest import ROOT, register

PROJECT = ROOT / "data" / "demo" / "project.toml"
runner = CliRunner()

#: For each stage, a step it announces (with -v): the kill lands while the stage works (the
#: short stages are killed at their start, so they cannot finish first) or writes.
_LAST_STEP = {
    "load": "loading hazards from",
    "criteria": "criteria: contamination",
    "score": "sensitivity of the ranking",
    "prioritise": "planning: budget curve",
    "map": "drawing the print map",
    "request": "writing the request packages",
}


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json" and TEMP_PREFIX not in str(p)
    }


def _temporaries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f"{TEMP_PREFIX}*"))


def _kill_during(stage: str, out: Path) -> bool:
    """Start ``ccm-geo run --stage STAGE`` on ``out`` and kill it (SIGKILL) when the stage
    announces its last step; True when it was killed before finishing."""
    cli = Path(sys.executable).parent / "ccm-geo"
    proc = subprocess.Popen(
        [str(cli), "-v", "run", str(PROJECT), "--out", str(out), "--stage", stage],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    killed = False
    assert proc.stderr is not None
    with proc.stderr:
        for line in proc.stderr:
            if _LAST_STEP[stage] in line:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
                break
    proc.wait(timeout=300)
    return killed and proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_a_run_killed_in_each_stage_leaves_the_earlier_outputs_intact(tmp_path):
    out = tmp_path / "run"
    first = runner.invoke(app, ["run", str(PROJECT), "--out", str(out)])
    assert first.exit_code == 0, first.output
    before = _digests(out)
    assert len(before) > 30
    seen_temporaries = 0
    for stage in _LAST_STEP:
        assert _kill_during(stage, out), f"the {stage} stage finished before it was killed"
        seen_temporaries += len(_temporaries(out))
        # every output of the finished run still reads, byte for byte as it was
        assert _digests(out) == before, f"killed in {stage}: an earlier output changed"
        gpd.read_file(out / "hazards.gpkg", layer="hazards")
        pd.read_csv(out / "scores.csv", encoding="utf-8-sig")
    assert seen_temporaries > 0  # the kills did land while stages were writing
    start = time.perf_counter()
    again = runner.invoke(app, ["load", str(PROJECT), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert time.perf_counter() - start < 120
    assert _temporaries(out) == []  # the next run removed what the killed ones left
    assert _digests(out) == before


def test_the_manifest_says_which_run_wrote_each_output_and_warns_on_another_config(
    tmp_path,
):
    register(4).to_file(tmp_path / "hazards.gpkg")
    text = """
[project]
crs = "EPSG:32648"

[inputs.hazards]
path = "hazards.gpkg"
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }

[inputs.hazards.columns]
hazard_id = "HAZ_ID"
status = "STATUS"
contamination = "CONTAM"
devices_found = "DEVICES"
"""
    project = tmp_path / "project.toml"
    project.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    stages = ["--stage", "load", "--stage", "criteria"]
    assert runner.invoke(app, ["run", str(project), "--out", str(out), *stages]).exit_code == 0
    m1 = json.loads((out / "manifest.json").read_text())
    by_path = {o["path"]: o for o in m1["outputs"]}
    assert by_path["hazards.gpkg"]["stage"] == "load"
    assert by_path["criteria.gpkg"]["stage"] == "criteria"
    assert {o["run_id"] for o in m1["outputs"]} == {m1["run_id"]}
    # the same configuration: no warning; the earlier outputs keep their run id
    same = runner.invoke(app, ["score", str(project), "--out", str(out)])
    assert same.exit_code == 0 and "another configuration" not in same.stderr
    m2 = json.loads((out / "manifest.json").read_text())
    by_path = {o["path"]: o for o in m2["outputs"]}
    assert by_path["hazards.gpkg"]["run_id"] == m1["run_id"] != m2["run_id"]
    assert by_path["scored.gpkg"]["run_id"] == m2["run_id"]
    # another [criteria] section: scoring alone on those outputs says so
    project.write_text(text + "\n[criteria.contamination]\naccident_distance_m = 900\n")
    other = runner.invoke(app, ["score", str(project), "--out", str(out)])
    assert other.exit_code == 0, other.output
    assert "the 'criteria' outputs here were written by run" in other.stderr
    assert "another configuration ([project], [inputs], [criteria]" in other.stderr
    assert "'load' outputs" not in other.stderr  # [project] and [inputs] did not change
    assert _temporaries(out) == []


def test_temporaries_of_a_dead_run_are_removed_those_of_a_live_one_kept(tmp_path):
    from ccm_geo.io import remove_temporaries

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        (tmp_path / "plan").mkdir()
        mine = tmp_path / f"{TEMP_PREFIX}score-{dead.pid}-run1"
        (mine / "plan").mkdir(parents=True)
        (mine / "plan" / "tasks.csv").write_text("half")
        half = tmp_path / "plan" / f"{TEMP_PREFIX}{dead.pid}-tasks.x1y2.csv"
        half.write_text("half")
        other = tmp_path / f"{TEMP_PREFIX}map-{live.pid}-run2"
        other.mkdir()
        (tmp_path / "scores.csv").write_text("kept")
        removed = remove_temporaries(tmp_path)
        assert sorted(removed) == sorted([mine, half])
        assert other.is_dir() and (tmp_path / "scores.csv").is_file()
    finally:
        live.kill()
        live.wait()
    assert remove_temporaries(tmp_path) == [other]
