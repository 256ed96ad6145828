"""The QGIS project a run writes: a structural check of its XML (QGIS itself is not installed
in CI): groups by stage with the priority layer on top, every layer's source present in the
run folder, styles, CRS, relative paths, same bytes for the same folder."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile

import pyogrio
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
