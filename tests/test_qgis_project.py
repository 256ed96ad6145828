"""The QGIS project a run writes: a structural check of its XML (QGIS itself is not installed
in CI): groups by stage with the priority layer on top, every layer's source present in the
run folder, styles, CRS, relative paths, same bytes for the same folder."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile

import pyogrio
import pytest
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.publish.qgis_project import write_qgis_project
from conftest import register

runner = CliRunner()

PROJECT = """
[project]
name = "QGIS <test> & co"
crs = "EPSG:32648"
[inputs.hazards]
path = "hazards.gpkg"
columns = { hazard_id = "HAZ_ID", status = "STATUS", contamination = "CONTAM" }
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }
"""


def test_run_writes_a_qgis_project_of_its_layers(tmp_path):
    register(5).to_file(tmp_path / "hazards.gpkg")
    (tmp_path / "p.toml").write_text(PROJECT, encoding="utf-8")
    out = tmp_path / "o"
    stages = ["--stage", "load", "--stage", "criteria", "--stage", "score"]
    result = runner.invoke(app, ["-q", "run", str(tmp_path / "p.toml"), "--out", str(out), *stages])
    assert result.exit_code == 0, result.output
    qgz = out / "ccm_geo.qgz"
    with zipfile.ZipFile(qgz) as zf:
        assert zf.namelist() == ["ccm_geo.qgs"]
        root = ET.fromstring(zf.read("ccm_geo.qgs"))
    assert root.tag == "qgis" and root.get("projectname") == "QGIS <test> & co"
    assert root.find("projectCrs/spatialrefsys/authid").text == "EPSG:32648"
    assert root.find("properties/Paths/Absolute").text == "false"
    groups = root.findall("layer-tree-group/layer-tree-group")
    assert [g.get("name") for g in groups] == ["Priorities", "Criteria", "Inputs"]
    tree_ids = [lyr.get("id") for g in groups for lyr in g.findall("layer-tree-layer")]
    first = groups[0].find("layer-tree-layer")
    assert first.get("name") == "Priority areas"
    assert first.get("source") == "./scored.gpkg|layername=areas"
    maplayers = {m.find("id").text: m for m in root.findall("projectlayers/maplayer")}
    assert sorted(maplayers) == sorted(tree_ids) and len(set(tree_ids)) == len(tree_ids)
    assert [e.get("id") for e in root.findall("layerorder/layer")] == tree_ids
    for lid, m in maplayers.items():
        file, layer = m.find("datasource").text.removeprefix("./").split("|layername=")
        assert layer in [name for name, _ in pyogrio.list_layers(out / file)], lid
        assert m.find("provider").text == "ogr"
        assert m.find("srs/spatialrefsys/authid").text == "EPSG:32648"
        assert m.get("geometry") == "Polygon"
    renderer = maplayers["ccm_scored_gpkg_areas"].find("renderer-v2")
    assert renderer.get("attr") == "priority_class"
    assert {c.get("value") for c in renderer.iter("category")} == {"high", "medium", "low"}
    status = maplayers["ccm_hazards_gpkg_hazards"].find("renderer-v2")
    assert status.get("attr") == "status"
    manifest = (out / "manifest.json").read_text()
    assert '"path": "ccm_geo.qgz"' in manifest
    before = qgz.read_bytes()
    write_qgis_project(out, title="QGIS <test> & co")
    assert qgz.read_bytes() == before  # deterministic


def test_no_layers_no_project(tmp_path):
    assert write_qgis_project(tmp_path, title="x") is None
    assert not (tmp_path / "ccm_geo.qgz").exists()


_QGIS_CHECK = """
import json, sys
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False)
app.initQgis()
p = QgsProject.instance()
ok = p.read(sys.argv[1])
root = p.layerTreeRoot()
out = {
    "read": ok,
    "crs": p.crs().authid(),
    "groups": [g.name() for g in root.children()],
    "order": [lyr.name() for lyr in root.layerOrder()],
    "layers": {
        lid: [lyr.isValid(), lyr.featureCount(), getattr(lyr.renderer(), "classAttribute",
              lambda: None)()]
        for lid, lyr in p.mapLayers().items()
    },
}
print("RESULT " + json.dumps(out))
app.exitQgis()
"""


def test_the_project_opens_in_qgis_when_qgis_is_installed(tmp_path):
    """With Debian's python3-qgis on the machine, QGIS itself opens the project: every layer
    valid with its rows, the styles applied, the priority layer on top."""
    import json
    import os
    import subprocess
    from pathlib import Path

    system_python = Path("/usr/bin/python3")
    probe = (
        subprocess.run(
            [str(system_python), "-c", "import qgis.core"], capture_output=True, check=False
        )
        if system_python.is_file()
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("QGIS's Python bindings (Debian's python3-qgis) are not installed")
    register(5).to_file(tmp_path / "hazards.gpkg")
    (tmp_path / "p.toml").write_text(PROJECT, encoding="utf-8")
    out = tmp_path / "o"
    stages = ["--stage", "load", "--stage", "criteria", "--stage", "score"]
    result = runner.invoke(app, ["-q", "run", str(tmp_path / "p.toml"), "--out", str(out), *stages])
    assert result.exit_code == 0, result.output
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [str(system_python), "-c", _QGIS_CHECK, str(out / "ccm_geo.qgz")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, done.stdout + done.stderr
    got = json.loads(line.removeprefix("RESULT "))
    assert got["read"] and got["crs"] == "EPSG:32648"
    assert got["groups"] == ["Priorities", "Criteria", "Inputs"]
    assert got["order"][0] == "Priority areas"
    assert all(valid and n == 5 for valid, n, _ in got["layers"].values()), got["layers"]
    assert got["layers"]["ccm_scored_gpkg_areas"][2] == "priority_class"
    assert got["layers"]["ccm_hazards_gpkg_hazards"][2] == "status"
