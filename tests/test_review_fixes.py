"""Fixes from the code review: the dry run follows the run's reuse rule, indicator labels,
print-map label style, missing unit costs stay missing, unknown categorical codes are said."""

from __future__ import annotations

import pytest

from ccm_geo.batch import run_batch
from ccm_geo.config import load_config
from ccm_geo.errors import DataWarning
from conftest import MAPPING_TOML, register

_HEAD = """
[project]
name = "p"
crs = "EPSG:32648"

[inputs.hazards]
"""
_FILE_PROJECT = _HEAD + 'path = "hazards.gpkg"\n' + MAPPING_TOML
_POSTGIS_PROJECT = (
    _HEAD
    + 'postgis = { url = "postgresql://planner@127.0.0.1:5999/ccm", table = "public.hazards" }\n'
    + MAPPING_TOML
)


# --------------------------------------------------------------------------------------------
# 1. batch: the dry run applies the run's no-reuse rule for PostGIS inputs


def _projects(tmp_path):
    register(6).to_file(tmp_path / "hazards.gpkg")
    files = tmp_path / "files.toml"
    files.write_text(_FILE_PROJECT, encoding="utf-8")
    database = tmp_path / "database.toml"
    database.write_text(_POSTGIS_PROJECT, encoding="utf-8")
    return files, database


def _read_the_file_instead(monkeypatch, files):
    """Serve the PostGIS project's register from the file (no database needed): the rows are
    the same, only the project's input section differs."""
    import ccm_geo.pipeline
    import ccm_geo.pipeline.stages

    real = ccm_geo.pipeline.load_inputs
    file_config = load_config(files)

    def from_file(config, *, progress=None):
        assert config.inputs.hazards.postgis is not None
        return real(file_config, progress=progress)

    monkeypatch.setattr(ccm_geo.pipeline, "load_inputs", from_file)
    monkeypatch.setattr(ccm_geo.pipeline.stages, "load_inputs", from_file)


def test_the_dry_run_of_a_postgis_project_promises_no_reuse_as_the_run(tmp_path, monkeypatch):
    files, database = _projects(tmp_path)
    _read_the_file_instead(monkeypatch, files)
    out = tmp_path / "db-run"
    first = run_batch([database], out, stages=["load"], reuse=True)
    assert first[0].status == "ok", first[0].error
    # the run itself reads the table again, whatever the folder holds
    again = run_batch([database], out, stages=["load"], reuse=True)[0]
    assert again.status == "ok" and not again.log.reused and "load" in again.log.timings_s
    # and the dry run says so, rather than promising the reuse the run will not do
    plan = run_batch([database], out, stages=["load"], reuse=True, dry_run=True)[0].plan
    assert "load       run    hazards.gpkg" in plan, plan
    assert "reuse  (unchanged" not in plan
    assert "inputs read from PostGIS (hazards): every stage runs again (no reuse)" in plan


def test_the_dry_run_of_a_file_project_still_promises_the_reuse_the_run_does(tmp_path):
    files, _ = _projects(tmp_path)
    out = tmp_path / "file-run"
    assert run_batch([files], out, stages=["load"], reuse=True)[0].status == "ok"
    plan = run_batch([files], out, stages=["load"], reuse=True, dry_run=True)[0].plan
    assert "load       reuse  (unchanged since the last run)" in plan, plan
    assert "PostGIS" not in plan
    again = run_batch([files], out, stages=["load"], reuse=True)[0]
    assert "load" in again.log.reused and "load" not in again.log.timings_s


def test_the_dry_run_without_reuse_reads_no_input_for_its_sha256(tmp_path, monkeypatch):
    """Hashing every input (gigabytes of rasters) only judges reuse: without it, not done."""
    import ccm_geo.pipeline

    files, _ = _projects(tmp_path)
    out = tmp_path / "file-run"
    assert run_batch([files], out, stages=["load"], reuse=True)[0].status == "ok"
    hashed = []
    real = ccm_geo.pipeline.input_sha256
    monkeypatch.setattr(ccm_geo.pipeline, "input_sha256", lambda c: hashed.append(1) or real(c))
    plan = run_batch([files], out, stages=["load"], reuse=False, dry_run=True)[0].plan
    assert "load       run    hazards.gpkg" in plan and not hashed, plan
    plan = run_batch([files], out, stages=["load"], reuse=True, dry_run=True)[0].plan
    assert "load       reuse  (unchanged since the last run)" in plan and hashed == [1], plan


# --------------------------------------------------------------------------------------------
# 2. map labels: population within a distance (2_5 is 2.5 km) or a travel time (minutes)


@pytest.mark.parametrize(
    ("column", "label"),
    [
        ("population_within_2_5km", "Population within 2.5 km"),
        ("population_within_25km", "Population within 25 km"),
        ("population_within_5km", "Population within 5 km"),
        ("population_within_30min", "Population within 30 min of travel"),
        ("population_within_7_5min", "Population within 7.5 min of travel"),
    ],
)
def test_population_columns_read_as_a_distance_or_a_travel_time(column, label):
    from ccm_geo.publish.maps.labels import criterion_label, indicator_label

    got = indicator_label(column)
    # a head count: no unit, whole people, and never the "no road route" of a travel time
    assert got == {"label": label, "unit": "", "digits": 0, "travel": False}
    assert criterion_label(column) == label


def test_the_map_and_the_requests_read_a_population_column_with_one_parser():
    from ccm_geo.criteria._common import number_label
    from ccm_geo.publish.requests.common import population_radius_km, population_reach

    for value in (2.5, 5.0, 30.0, 0.75):
        assert population_reach(f"population_within_{number_label(value)}km") == (value, "km")
        assert population_reach(f"population_within_{number_label(value)}min") == (value, "min")
    assert population_radius_km("population_within_2_5km") == 2.5
    assert population_radius_km("population_within_30min") is None  # minutes are no radius
    assert population_reach("population_within_km") is None


# --------------------------------------------------------------------------------------------
# 3. print map: a label moved away on a leader line keeps the label's style


def test_a_leader_line_label_keeps_the_italic_and_bold_of_its_plain_version():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from ccm_geo.publish.printmap.labels import _place

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    renderer = fig.canvas.get_renderer()
    placed: list[dict] = []
    here = pd.DataFrame({"text": ["Blocker"], "x": [50.0], "y": [50.0]})
    _place(ax, renderer, here, "hazard", placed, [], [], fontsize=8, offsets=((0, 0),))
    moved = pd.DataFrame({"text": ["Moved"], "x": [50.0], "y": [50.0]})
    for italic, bold in ((True, False), (False, True), (True, True)):
        _place(
            ax,
            renderer,
            moved,
            "region",
            placed,
            [],
            [],
            fontsize=8,
            italic=italic,
            bold=bold,
            offsets=((0, 0), (40, 40)),  # the centre is taken: it goes 57 pt away
        )
        ann = [t for t in ax.texts if t.get_text() == "Moved"][-1]
        assert ann.arrow_patch is not None  # the leader-line version
        assert ann.get_fontstyle() == ("italic" if italic else "normal")
        assert ann.get_fontweight() == ("bold" if bold else "normal")
        ann.remove()
        placed.pop()
    plain = [t for t in ax.texts if t.get_text() == "Blocker"][0]
    assert plain.arrow_patch is None and plain.get_fontstyle() == "normal"
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# 4. requests: a missing unit cost stays missing in the methods, the document and the workbook


def _package():
    import pandas as pd

    return pd.DataFrame(
        {
            "method": ["clearance_manual", "clearance_manual", "flail_2019"],
            "activity": ["clearance"] * 3,
            "area_m2": [1850.0, 3700.0, 10_000.0],
            "team_days": [1.0, 2.0, 4.0],
            "cost_usd": [400.0, 800.0, 6_000.0],
        }
    )


def test_a_method_the_settings_do_not_list_has_no_cost_per_m2_and_is_named():
    import math

    from ccm_geo.errors import DataWarning
    from ccm_geo.planning.settings import PlanningSettings
    from ccm_geo.publish.requests.workplan import _methods

    with pytest.warns(DataWarning, match=r"\['flail_2019'\].*cost per m² is no data"):
        m = _methods(_package(), PlanningSettings()).set_index("method")
    listed, unlisted = m.loc["clearance_manual"], m.loc["flail_2019"]
    assert listed["cost_usd_per_m2"] == 0.0  # the settings say 0: a figure, not a default
    assert listed["productivity_m2_per_team_day"] == 1850.0
    assert math.isnan(unlisted["cost_usd_per_m2"])  # was 0.0
    # what the tasks tell stays: 10,000 m² in 4 team-days for US$6,000
    assert unlisted["productivity_m2_per_team_day"] == 2500.0
    assert unlisted["cost_usd_per_team_day"] == 1500.0


def test_without_settings_every_cost_per_m2_is_no_data():
    import math

    from ccm_geo.publish.requests.workplan import _methods

    m = _methods(_package(), None)  # the caller gave no settings: nothing to warn about
    assert all(math.isnan(v) for v in m["cost_usd_per_m2"])


def _workbook(tmp_path, *, planning=None, missing_cmr=False, missing_released=False):
    import dataclasses

    import numpy as np
    from openpyxl import load_workbook

    from ccm_geo.publish.donors import match_donors
    from ccm_geo.publish.requests import request_content
    from ccm_geo.publish.requests.workbook import write_request_xlsx
    from test_requests import make_areas, make_context, make_donors, make_milestones, make_tasks

    areas = make_areas()
    tasks = make_tasks(areas)
    donors = make_donors()
    alloc = match_donors(tasks, donors, seed=1)
    content = request_content(
        donors[0],
        alloc,
        areas,
        tasks,
        make_milestones(tasks),
        None,
        make_context(),
        project_name="P",
        planning=planning,
    )
    for missing, column in ((missing_cmr, "cmr_m2"), (missing_released, "released_m2")):
        if missing:
            t = content.tasks.copy()
            t.loc[t.index[0], column] = np.nan
            content = dataclasses.replace(content, tasks=t)
    path = write_request_xlsx(content, tmp_path / "tasks.xlsx")
    return content, load_workbook(path), load_workbook(path, data_only=True)


def test_the_workbook_shows_a_missing_unit_cost_as_no_data_and_still_calculates(tmp_path):
    from ccm_geo.planning.settings import PlanningSettings

    content, wb, values = _workbook(tmp_path)  # no settings: no cost per m² for any method
    a = wb["Assumptions"]
    rows = {a.cell(r, 1).value: r for r in range(2, len(content.methods) + 2)}
    assert set(rows) == set(content.methods["method"])
    for r in rows.values():
        assert a.cell(r, 4).value == "no data"  # was 0
        assert isinstance(a.cell(r, 3).value, int | float)  # the all-in US$ per team-day
    t, tv = wb["Tasks"], values["Tasks"]
    for r in range(2, len(content.tasks) + 2):
        cost = t.cell(r, 12).value
        # the all-in cost per team-day carries the whole cost: no term on a missing per-m² cell
        assert cost.startswith("=K") and ",4,FALSE" not in cost, cost
        assert tv.cell(r, 12).value == pytest.approx(content.tasks["cost_usd"].iloc[r - 2])
    # with the settings, each method's own figures and the per-m² term are there
    _, wb2, _ = _workbook(tmp_path, planning=PlanningSettings())
    a2 = wb2["Assumptions"]
    listed = [r for r in range(2, a2.max_row) if a2.cell(r, 1).value in PlanningSettings().methods]
    assert listed and all(a2.cell(r, 4).value == 0 for r in listed)  # the settings' own 0.0
    assert ",4,FALSE" in wb2["Tasks"].cell(2, 12).value


def test_a_missing_number_in_the_workbook_is_no_data_and_so_is_its_total(tmp_path):
    content, wb, values = _workbook(tmp_path, missing_cmr=True)
    t, tv = wb["Tasks"], values["Tasks"]
    assert t.cell(2, 9).value == "no data"  # cluster munitions, m² of the first task; was 0
    total_row = len(content.tasks) + 2
    total = t.cell(total_row, 9).value
    assert total.startswith("=IF(COUNT(I2:I") and "no data" in total, total
    assert tv.cell(total_row, 9).value == "no data"  # not the sum of the other rows
    # the other totals are unchanged sums
    assert t.cell(total_row, 8).value.startswith("=SUBTOTAL(109,H2:H")
    assert tv.cell(total_row, 8).value == pytest.approx(content.tasks["released_m2"].sum())


def test_workbook_numbers_never_turn_missing_into_zero():
    import math

    from ccm_geo.publish.requests.workbook import _cached, _num

    for missing in (None, float("nan"), "", "n/a", float("inf")):
        assert not math.isfinite(_num(missing))
        assert _cached(missing) == ""
    assert _num("12.5") == 12.5 and _cached(3) == 3.0


def _recalculated(tmp_path, **missing):
    """The request workbook with a value missing, recalculated by LibreOffice (values only)."""
    from openpyxl import load_workbook

    import pdfcheck

    if pdfcheck.SOFFICE is None:
        pytest.skip("LibreOffice (soffice) not installed")
    content, _wb, _values = _workbook(tmp_path, **missing)
    path = pdfcheck.recalculated(tmp_path / "tasks.xlsx", tmp_path)
    return content, load_workbook(path, data_only=True)


@pytest.mark.slow
def test_recalculated_by_libreoffice_a_missing_value_stays_no_data(tmp_path):
    content, again = _recalculated(tmp_path, missing_cmr=True)
    t = again["Tasks"]
    total_row = len(content.tasks) + 2
    assert t.cell(total_row, 9).value == "no data"
    assert t.cell(total_row, 8).value == pytest.approx(content.tasks["released_m2"].sum())
    for r in range(2, len(content.tasks) + 2):  # the cost without a per-m² cost: recomputed
        assert t.cell(r, 12).value == pytest.approx(content.tasks["cost_usd"].iloc[r - 2], rel=1e-9)


@pytest.mark.slow
def test_recalculated_by_libreoffice_the_summary_says_no_data_not_an_error(tmp_path):
    content, again = _recalculated(tmp_path, missing_released=True)
    summary = {r[0]: r[1] for r in again["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Land released, ha"] == "no data"  # was #VALUE! from "no data" / 10000
    assert summary["Amount requested"] == pytest.approx(content.ask_usd, abs=0.01)
    assert summary["Cluster munitions, m²"] == pytest.approx(content.totals["cmr_m2"], abs=0.01)


# --------------------------------------------------------------------------------------------
# 5. scoring: codes a categorical criterion's map does not list are scored as other, and said


def _landuse_settings():
    from ccm_geo.scoring.settings import ScoringSettings
    from ccm_geo.scoring.values import CriterionSpec

    spec = CriterionSpec(
        column="landuse",
        family="land",
        kind="categorical",
        map={"crop": 1.0, "forest": 0.2},
        other=0.1,
        separator=";",
        weight=1.0,
    )
    return ScoringSettings(replace_defaults=True, criteria={"landuse": spec})


def test_unknown_codes_keep_their_score_and_are_named_once_with_counts():
    import warnings

    import numpy as np
    import pandas as pd

    from ccm_geo.scoring import compare_scenarios, score_areas, sensitivity
    from ccm_geo.scoring.values import UnknownCodeWarning

    cfg = _landuse_settings()
    frame = pd.DataFrame(
        {
            "hazard_id": [f"H{i}" for i in range(7)],
            "landuse": ["crop", "Paddy", "Paddy;crop", "orchard", None, "forest", "Paddy"],
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scored = score_areas(frame, cfg)
        compare_scenarios(scored, cfg)  # the score stage's other two readers of the values
        sensitivity(scored, cfg, seed=1, draws=5)
    said = [w for w in caught if issubclass(w.category, UnknownCodeWarning)]
    assert len(said) == 1, [str(w.message) for w in caught]
    text = str(said[0].message)
    assert text.startswith("scoring.criteria.landuse: column 'landuse' holds code(s)")
    assert "other = 0.1: 'Paddy' (3 areas), 'orchard' (1 area)." in text
    assert "['crop', 'forest']" in text and "[scoring.criteria.landuse.map]" in text
    # the scoring itself is as before: unknown -> other, the highest code of a cell wins
    np.testing.assert_allclose(
        scored["value_landuse"], [1.0, 0.1, 1.0, 0.1, cfg.criteria["landuse"].missing, 0.2, 0.1]
    )
    assert issubclass(UnknownCodeWarning, DataWarning)


def test_scoring_again_says_the_unknown_codes_again():
    """A frame scored already (it carries value_<key>) and scored again: the codes are said
    again (its readers, the scenarios, still say them once per run)."""
    import warnings

    import pandas as pd

    from ccm_geo.scoring import compare_scenarios, score_areas
    from ccm_geo.scoring.values import UnknownCodeWarning

    cfg = _landuse_settings()
    frame = pd.DataFrame({"hazard_id": ["a", "b"], "landuse": ["crop", "Paddy"]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        once = score_areas(frame, cfg)
        compare_scenarios(once, cfg)
        score_areas(once, cfg)
    said = [w for w in caught if issubclass(w.category, UnknownCodeWarning)]
    assert len(said) == 2  # the first scoring and the second, not the scenarios


def test_known_codes_only_say_nothing():
    import warnings

    import pandas as pd

    from ccm_geo.scoring import score_areas

    frame = pd.DataFrame({"hazard_id": ["a", "b"], "landuse": ["crop", "forest;crop"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_areas(frame, _landuse_settings())


_CATEGORICAL_SCORING = """
[scoring]
replace_defaults = true

[scoring.criteria.district]
column = "region"
family = "place"
kind = "categorical"
map = { North = 1.0 }
other = 0.25
weight = 1.0
"""


def test_a_run_records_the_unknown_codes_once_in_its_warnings(tmp_path):
    import json

    files, _ = _projects(tmp_path)
    project = tmp_path / "codes.toml"
    project.write_text(files.read_text(encoding="utf-8") + _CATEGORICAL_SCORING, "utf-8")
    out = tmp_path / "run"
    result = run_batch([project], out, stages=["load", "criteria", "score"])[0]
    assert result.status == "ok", result.error
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    said = [w for w in manifest["warnings"] if w["category"] == "UnknownCodeWarning"]
    assert len(said) == 1 and said[0]["stage"] == "score"
    assert "'South' (3 areas)" in said[0]["message"]


# --------------------------------------------------------------------------------------------
# A warning said once per donor (or scenario) is recorded once per stage, with its count


def test_a_stage_records_the_same_warning_once_with_its_count(tmp_path, monkeypatch):
    import warnings

    from ccm_geo.pipeline import stages
    from ccm_geo.pipeline.runlog import RunLog

    def stage(config, out, state, log):
        for donor in ("A", "B", "C"):
            warnings.warn("method 'x' is not in the settings", DataWarning, stacklevel=1)
            warnings.warn(f"donor {donor}: no data", DataWarning, stacklevel=1)
        warnings.warn("method 'x' is not in the settings", UserWarning, stacklevel=1)

    monkeypatch.setitem(stages.STAGES, "request", stage)
    log = RunLog(out_dir=tmp_path)
    stages.run_stage("request", None, tmp_path, {}, log)
    said = [(w["category"], w["message"]) for w in log.warnings]
    assert said == [
        ("DataWarning", "method 'x' is not in the settings (said 3 times in this stage)"),
        ("DataWarning", "donor A: no data"),
        ("DataWarning", "donor B: no data"),
        ("DataWarning", "donor C: no data"),
        ("UserWarning", "method 'x' is not in the settings"),
    ]
