"""Command-line conventions: quiet is quiet, JSON parses, exit codes 0/1/2, help with examples
and plain types, dry runs, a folder of another project, batch runs and stage reuse."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest
from typer.testing import CliRunner

from ccm_geo.cli import app
from conftest import register

runner = CliRunner()

PROJECT = """
[project]
name = "{name}"
crs = "EPSG:32648"

[inputs.hazards]
path = "{register}"
codes = {{ status = {{ Confirmed = "CHA", Suspected = "SHA" }} }}

[inputs.hazards.columns]
hazard_id = "HAZ_ID"
status = "STATUS"
contamination = "CONTAM"
evidence = "EVIDENCE"
devices_found = "DEVICES"
region = "DISTRICT"
"""


def _project(folder, name, register_file="hazards.gpkg", n=6):
    folder.mkdir(parents=True, exist_ok=True)
    if register_file == "hazards.gpkg":
        register(n).to_file(folder / register_file)
    path = folder / f"{name}.toml"
    path.write_text(PROJECT.format(name=name, register=register_file), encoding="utf-8")
    return path


STAGES = ["--stage", "load", "--stage", "criteria", "--stage", "score"]


def test_quiet_prints_nothing_on_success(tmp_path):
    project = _project(tmp_path, "p")
    result = runner.invoke(app, ["-q", "run", str(project), "--out", str(tmp_path / "o"), *STAGES])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    result = runner.invoke(app, ["-q", "validate", str(project)])
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def test_quiet_still_prints_the_error(tmp_path):
    project = _project(tmp_path, "p", register_file="missing.gpkg")
    result = runner.invoke(app, ["-q", "run", str(project), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and "missing.gpkg: file not found" in result.stderr


def test_exit_codes_0_1_2(tmp_path):
    project = _project(tmp_path, "p")
    assert runner.invoke(app, ["validate", str(project)]).exit_code == 0
    assert runner.invoke(app, ["validate", str(tmp_path / "nope.toml")]).exit_code == 1
    assert runner.invoke(app, ["run", str(project), "--no-such-option"]).exit_code == 2
    assert runner.invoke(app, ["run", str(project), "--stage", "paint"]).exit_code == 2


def test_json_summary_parses(tmp_path):
    project = _project(tmp_path, "p")
    result = runner.invoke(
        app, ["-q", "run", str(project), "--out", str(tmp_path / "o"), *STAGES, "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    (rec,) = summary["projects"]
    assert summary["failed"] == 0 and rec["status"] == "ok"
    assert rec["areas"] == 6 and len(rec["top"]) == 3
    assert set(rec["stages"]) == {"load", "criteria", "score"}


def test_help_has_examples_and_plain_types():
    for command in ("init", "validate", "run", "map", "request"):
        text = runner.invoke(app, [command, "--help"]).output
        assert "Example" in text, command
        assert not re.search(r"<(list\[|str|int|bool|path|float)", text), text
    top = runner.invoke(app, ["--help"]).output
    assert "--install-completion" in top and "ccm-geo init" in top


def test_verbose_shows_our_log_but_not_third_party_debug(tmp_path, capfd):
    project = _project(tmp_path, "p")
    root = logging.getLogger()
    before = root.level
    try:
        result = runner.invoke(
            app, ["-v", "run", str(project), "--out", str(tmp_path / "o"), "--stage", "load"]
        )
        assert result.exit_code == 0, result.output
        assert logging.getLogger("ccm_geo").getEffectiveLevel() == logging.INFO
        assert not logging.getLogger("fiona").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("matplotlib").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(before)
        logging.getLogger("ccm_geo").setLevel(logging.NOTSET)


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    project = _project(tmp_path, "p")
    result = runner.invoke(app, ["run", str(project), "--out", str(tmp_path / "o"), *STAGES])
    assert result.exit_code == 0
    assert "... loading hazards from hazards.gpkg" in result.stderr


def test_dry_run_validates_and_writes_nothing(tmp_path):
    project = _project(tmp_path, "p")
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", str(project), "--out", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "inputs valid (6 areas)" in result.stdout
    assert "load       run    hazards.gpkg" in result.stdout
    assert "no [[donors]]: nothing written" in result.stdout
    assert not any(out.rglob("*.gpkg"))
    broken = _project(tmp_path / "b", "b", register_file="missing.gpkg")
    failed = runner.invoke(app, ["run", str(broken), "--out", str(out), "--dry-run"])
    assert failed.exit_code == 1 and "missing.gpkg: file not found" in failed.stderr


def test_a_folder_of_another_project_asks_for_overwrite(tmp_path):
    a = _project(tmp_path / "a", "a")
    b = _project(tmp_path / "b", "b")
    out = tmp_path / "o"
    assert runner.invoke(app, ["run", str(a), "--out", str(out), *STAGES]).exit_code == 0
    again = runner.invoke(app, ["run", str(a), "--out", str(out), *STAGES])
    assert again.exit_code == 0  # the same project: fine
    other = runner.invoke(app, ["run", str(b), "--out", str(out), *STAGES])
    assert other.exit_code == 1
    assert "holds the outputs of another project" in other.stderr
    assert "--overwrite" in other.stderr
    forced = runner.invoke(app, ["run", str(b), "--out", str(out), *STAGES, "--overwrite"])
    assert forced.exit_code == 0, forced.output


def test_batch_with_one_broken_project_runs_the_others_and_fails(tmp_path):
    good1 = _project(tmp_path / "p1", "north")
    good2 = _project(tmp_path / "p2", "south")
    broken = _project(tmp_path / "p3", "broken", register_file="missing.gpkg")
    out = tmp_path / "runs"
    result = runner.invoke(
        app, ["run", str(good1), str(broken), str(good2), "--out", str(out), *STAGES]
    )
    assert result.exit_code == 1, result.output
    assert (out / "north" / "scored.gpkg").is_file()
    assert (out / "south" / "scored.gpkg").is_file()
    assert not (out / "broken" / "scored.gpkg").exists()
    assert "error: " in result.stderr and "missing.gpkg: file not found" in result.stderr
    table = result.stdout
    assert "projects" in table and "failed" in table and table.count(" ok ") >= 2


def test_a_glob_of_projects_and_json_lists_each(tmp_path):
    for name in ("a", "b"):
        _project(tmp_path / "projects", name)
    out = tmp_path / "runs"
    pattern = str(tmp_path / "projects" / "*.toml")
    result = runner.invoke(app, ["-q", "run", pattern, "--out", str(out), *STAGES, "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)["projects"]
    assert [r["out"] for r in records] == [str(out / "a"), str(out / "b")]


def test_scenarios_run_into_subfolders(tmp_path):
    project = _project(tmp_path, "p")
    out = tmp_path / "o"
    result = runner.invoke(
        app,
        ["-q", "run", str(project), "--out", str(out), *STAGES, "--scenario", "agriculture"],
    )
    assert result.exit_code == 0, result.output
    assert (out / "scored.gpkg").is_file() and (out / "agriculture" / "scored.gpkg").is_file()
    bad = runner.invoke(app, ["run", str(project), "--out", str(out), "--scenario", "nope"])
    assert bad.exit_code == 1 and "'nope': not in [scoring.scenarios]" in bad.stderr


@pytest.mark.slow
def test_second_run_reuses_every_stage_and_is_faster(tmp_path):
    project = _project(tmp_path, "p", n=8)
    out = tmp_path / "o"
    t0 = time.perf_counter()
    first = runner.invoke(app, ["-q", "run", str(project), "--out", str(out), "--json"])
    t1 = time.perf_counter()
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["-q", "run", str(project), "--out", str(out), "--json"])
    t2 = time.perf_counter()
    assert second.exit_code == 0, second.output
    stages = json.loads(second.stdout)["projects"][0]["stages"]
    assert stages and all(s["reused"] for s in stages.values()), stages
    assert (t2 - t1) < (t1 - t0)  # the >= 5x on the demo is measured, not asserted here
    manifest = json.loads((out / "manifest.json").read_text())
    first_id = json.loads(first.stdout)["projects"][0]
    assert all(rec.get("reused_by") for rec in manifest["stages"].values()), first_id
    # a changed setting: the stages from the one it belongs to run again, the earlier not
    project.write_text(project.read_text() + "\n[planning]\nyears = 3\n", encoding="utf-8")
    third = runner.invoke(app, ["-q", "run", str(project), "--out", str(out), "--json"])
    stages = json.loads(third.stdout)["projects"][0]["stages"]
    assert stages["score"]["reused"] and not stages["prioritise"]["reused"]
    # --force recomputes everything
    forced = runner.invoke(app, ["-q", "run", str(project), "--out", str(out), "--json", "--force"])
    stages = json.loads(forced.stdout)["projects"][0]["stages"]
    assert not any(s["reused"] for s in stages.values())
    # an output changed by hand: that stage and the later ones run again
    (out / "scores.csv").write_text("edited", encoding="utf-8")
    edited = runner.invoke(app, ["-q", "run", str(project), "--out", str(out), "--json"])
    stages = json.loads(edited.stdout)["projects"][0]["stages"]
    assert stages["criteria"]["reused"] and not stages["score"]["reused"]


def test_the_readme_python_example_runs(tmp_path, capsys):
    import warnings

    from conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    project = _project(tmp_path, "p")
    code = code.replace('"colombia.toml"', repr(str(project)))
    code = code.replace('"maps/colombia"', repr(str(tmp_path / "o")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny register's data warnings
        exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "load" in printed and "6 rows read" in printed
