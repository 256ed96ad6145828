"""``ccm-geo init``: five registers of different shapes give a project file that ``validate``
accepts after the edits its comments ask for (and only those)."""

from __future__ import annotations

import shutil
import tomllib

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.project_init import guess_project
from conftest import ROOT, SHARED_DATA

runner = CliRunner()
COLOMBIA = SHARED_DATA / "colombia-mine-events"


def apply_edits(text: str) -> str:
    """Do what the EDIT comments ask: uncomment each EDIT line (its value is the example the
    comment offers; a user would write their own)."""
    out = []
    for line in text.splitlines():
        if line.startswith("# ") and "# EDIT:" in line:
            line = line[2:]
        out.append(line)
    return "\n".join(out) + "\n"


def init_then_validate(register, tmp_path, *extra) -> tuple[str, dict]:
    project = tmp_path / "proj" / "project.toml"
    result = runner.invoke(app, ["init", str(register), "--out", str(project), *extra])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "ccm-geo validate" in result.output
    text = project.read_text(encoding="utf-8")
    tomllib.loads(text)  # as written, the file is valid TOML
    edited = apply_edits(text)
    project.write_text(edited, encoding="utf-8")
    report = tmp_path / "findings.txt"
    checked = runner.invoke(app, ["validate", str(project), "--report", str(report)])
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert report.read_text(encoding="utf-8").startswith(str(register).split("*")[0][:5])
    return text, tomllib.loads(edited)


def test_colombia_events_glob_spanish_points_without_status(tmp_path):
    if not COLOMBIA.is_dir():
        pytest.skip(f"real data not present: {COLOMBIA}")
    data = tmp_path / "events"
    data.mkdir()
    for year in (2018, 2019):
        shutil.copy(COLOMBIA / f"{year}.json", data / f"{year}.json")
    text, cfg = init_then_validate(data / "*.json", tmp_path)
    haz = cfg["inputs"]["hazards"]
    assert haz["columns"] == {"region": "DEPARTAMENTO", "name": "MUNICIPIO"}
    # no status column: a constant, one line, marked as a guess; contamination must be said
    assert 'default_status = "SHA"  # CHECK:' in text
    assert '# default_contamination = "AP"  # EDIT:' in text
    assert haz["default_contamination"] == "AP"
    assert "# where = { TIPO_EVENTO" in text  # the way to keep only suspected minefields
    assert "point_area_m2 = 10000  # CHECK" in text
    assert "EPSG:32618" in text  # UTM 18N, from the median (the flipped point does not move it)


def test_french_spreadsheet_with_coordinates_and_an_unknown_status(tmp_path):
    rows = pd.DataFrame(
        {
            "Identifiant": ["ZD-01", "ZD-02", "ZD-03", "ZD-04"],
            "Statut": ["Zone suspecte", "Zone confirmée", "Annulée", "En cours d'enquête"],
            "Type de contamination": ["Sous-munitions", "Mines AP", "Mines AP et AT", "ENE"],
            "Province": ["Nord", "Nord", "Sud", "Sud"],
            "Nombre d'engins": [0, 12, None, 3],
            "Longitude": [105.10, 105.11, 105.12, 105.13],
            "Latitude": [15.20, 15.21, 15.22, 15.23],
        }
    )
    path = tmp_path / "registre.xlsx"
    rows.to_excel(path, index=False)
    text, cfg = init_then_validate(path, tmp_path)
    haz = cfg["inputs"]["hazards"]
    assert haz["columns"] == {
        "hazard_id": "Identifiant",
        "status": "Statut",
        "contamination": "Type de contamination",
        "devices_found": "Nombre d'engins",
        "region": "Province",
    }
    assert haz["x"] == "Longitude" and haz["y"] == "Latitude" and haz["crs"] == "EPSG:4326"
    assert haz["codes"]["status"] == {
        "Zone suspecte": "SHA",
        "Zone confirmée": "CHA",
        "Annulée": "released",
        "En cours d'enquête": "SHA",  # the EDIT line, uncommented
    }
    assert '# "En cours d\'enquête" = "SHA"  # EDIT: 1 rows' in text
    assert haz["codes"]["contamination"] == {
        "Sous-munitions": "CMR",
        "Mines AP": "AP",
        "Mines AP et AT": "AP;AT",
        "ENE": "UXO",
    }


def test_portuguese_semicolon_csv_with_wkt(tmp_path):
    polys = [box(32.50 + i * 0.01, -25.90, 32.505 + i * 0.01, -25.895).wkt for i in range(3)]
    lines = ["Código da área;Estado;Tipo de contaminação;Província;Geometria WKT"]
    values = [
        ("MZ-1", "Suspeita", "Minas antipessoal"),
        ("MZ-2", "Confirmada", "Submunições"),
        ("MZ-3", "Confirmada", "Engenhos não explodidos"),
    ]
    for (code, status, contam), wkt in zip(values, polys, strict=True):
        lines.append(f"{code};{status};{contam};Maputo;{wkt}")
    path = tmp_path / "registo.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text, cfg = init_then_validate(path, tmp_path)
    haz = cfg["inputs"]["hazards"]
    assert haz["wkt"] == "Geometria WKT" and haz["crs"] == "EPSG:4326"
    assert haz["columns"]["status"] == "Estado"
    assert haz["columns"]["contamination"] == "Tipo de contaminação"
    assert haz["columns"]["region"] == "Província"
    assert haz["codes"]["contamination"] == {
        "Minas antipessoal": "AP",
        "Submunições": "CMR",
        "Engenhos não explodidos": "UXO",
    }
    assert "# EDIT" not in text


def test_imsma_like_geopackage_demo(tmp_path):
    text, cfg = init_then_validate(ROOT / "data" / "demo" / "hazards.gpkg", tmp_path)
    haz = cfg["inputs"]["hazards"]
    assert haz["columns"] == {
        "hazard_id": "HAZ_ID",
        "status": "STATUS",
        "contamination": "CONTAM",
        "evidence": "EVIDENCE",
        "devices_found": "DEVICES",
        "region": "DISTRICT",
        "name": "NAME",
    }
    assert haz["codes"]["status"] == {"Suspected": "SHA", "Confirmed": "CHA"}
    assert "# EDIT" not in text and "crs =" not in text.split("[inputs.hazards]")[1]


def test_spanish_ods_in_a_national_grid_with_an_unknown_contamination(tmp_path):
    pts = [Point(480_000 + 500 * i, 1_050_000) for i in range(4)]
    gdf = gpd.GeoDataFrame(
        {
            "ID_AREA": ["A1", "A2", "A3", "A4"],
            "ESTADO": ["Confirmada", "Sospechosa", "Liberada", "Confirmada"],
            "TIPO_CONTAMINACION": ["MAP", "MUSE", "Artefacto trampa", "MAP"],
            "DEPARTAMENTO": ["Meta", "Meta", "Cauca", "Cauca"],
            "ARTEFACTOS": ["2", "", "1", "0"],
        },
        geometry=pts,
        crs="EPSG:32618",
    )
    table = pd.DataFrame(gdf.drop(columns="geometry"))
    table["ESTE"] = [p.x for p in pts]
    table["NORTE"] = [p.y for p in pts]
    path = tmp_path / "registro.ods"
    table.to_excel(path, index=False, engine="odf")
    project = tmp_path / "proj" / "project.toml"
    result = runner.invoke(app, ["init", str(path), "--out", str(project)])
    assert result.exit_code == 0, result.output
    text = project.read_text(encoding="utf-8")
    # coordinates in metres and no CRS: the user must say which; the file says how
    assert '# crs = "EPSG:4326"  # EDIT: the file declares no CRS' in text
    assert '# "Artefacto trampa" = "UXO"  # EDIT' in text
    edited = apply_edits(text).replace('crs = "EPSG:4326"', 'crs = "EPSG:32618"')
    project.write_text(edited, encoding="utf-8")
    cfg = tomllib.loads(edited)["inputs"]["hazards"]
    assert (cfg.get("x"), cfg.get("y")) == ("ESTE", "NORTE")
    assert cfg["columns"]["devices_found"] == "ARTEFACTOS"
    checked = runner.invoke(app, ["validate", str(project)])
    assert checked.exit_code == 0, checked.output + checked.stderr
    assert "4 rows read" in checked.output and "4 kept" in checked.output


def test_a_table_without_geometry_columns_is_one_line_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a|b\n1|2\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"t.csv: a table needs a WKT column .*columns: a, b"):
        guess_project(path)


def test_init_never_overwrites(tmp_path):
    project = tmp_path / "project.toml"
    project.write_text("keep me", encoding="utf-8")
    result = runner.invoke(
        app, ["init", str(ROOT / "data" / "demo" / "hazards.gpkg"), "--out", str(project)]
    )
    assert result.exit_code == 1
    assert "exists already" in result.stderr and project.read_text() == "keep me"


def test_without_the_edit_validate_says_what_is_missing(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"REF": ["a", "b"], "ESTADO": ["Sospechosa", "Sospechosa"]},
        geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100)],
        crs="EPSG:32618",
    )
    gdf.to_file(tmp_path / "r.gpkg")
    project = tmp_path / "project.toml"
    assert (
        runner.invoke(app, ["init", str(tmp_path / "r.gpkg"), "--out", str(project)]).exit_code == 0
    )
    checked = runner.invoke(app, ["validate", str(project)])
    assert checked.exit_code == 1
    assert "default_contamination" in checked.output + checked.stderr
