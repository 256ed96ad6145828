"""Fixes from the code review: the dry run follows the run's reuse rule, indicator labels,
print-map label style, missing unit costs stay missing, unknown categorical codes are said."""

from __future__ import annotations

import pytest

from ccm_geo.batch import run_batch
from ccm_geo.config import load_config
from conftest import register

_COLUMNS = """
[inputs.hazards.columns]
hazard_id = "HAZ_ID"
status = "STATUS"
contamination = "CONTAM"
evidence = "EVIDENCE"
devices_found = "DEVICES"
region = "DISTRICT"
"""

_FILE_PROJECT = (
    """
[project]
name = "p"
crs = "EPSG:32648"

[inputs.hazards]
path = "hazards.gpkg"
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }
"""
    + _COLUMNS
)

_POSTGIS_PROJECT = (
    """
[project]
name = "p"
crs = "EPSG:32648"

[inputs.hazards]
postgis = { url = "postgresql://planner@127.0.0.1:5999/ccm", table = "public.hazards" }
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }
"""
    + _COLUMNS
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
