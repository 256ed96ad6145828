"""Real, messy data: Colombia's landmine events 1990-2019 (../shared/data/colombia-mine-events).

Suspected minefields (TIPO_EVENTO 8) load as point hazards through the config's column mapping;
the record with a flipped longitude sign is reported and excluded, never silently kept.
"""

from __future__ import annotations

import pytest

from ccm_geo.config import config_from_dict
from ccm_geo.errors import DataWarning
from ccm_geo.io import load_hazards
from conftest import SHARED_DATA

EVENTS = SHARED_DATA / "colombia-mine-events"
pytestmark = pytest.mark.skipif(
    not EVENTS.is_dir(),
    reason=f"real data folder {EVENTS} is absent (it sits beside the project as ../shared/data)",
)


def _config(where_codes: list[str], pattern: str = "*.json"):
    return config_from_dict(
        {
            "project": {"name": "Colombia events", "crs": "EPSG:9377"},  # MAGNA-SIRGAS national
            "inputs": {
                "hazards": {
                    "path": str(EVENTS / pattern),
                    "columns": {"region": "DEPARTAMENTO", "name": "MUNICIPIO"},
                    "where": {"TIPO_EVENTO": where_codes},
                    "default_status": "SHA",
                    "default_evidence": "indirect",
                    "default_contamination": "AP",
                    "point_area_m2": 10_000,
                }
            },
        }
    )


def test_suspected_minefields_load_as_point_hazards():
    config = _config(["8"])
    gdf, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    assert report.rows_read == 36_527  # every event of the 30 yearly files
    assert report.rows_kept == report.rows_read - report.rows_filtered
    assert report.rows_kept > 1_000
    assert gdf["area_estimated"].all() and (gdf["status"] == "SHA").all()
    assert gdf["area_m2"].between(9_990, 10_010).all()
    assert gdf["hazard_id"].is_unique
    assert gdf["hazard_id"].str.match(r"^(19|20)\d\d-\d+$").all()  # <year file>-<row>
    assert report.counts() == {"warning:generated_ids": 1, "warning:point_to_area": 1}
    assert gdf.crs.to_epsg() == 9377
    assert "ANTIOQUIA" in set(gdf["region"])


def test_flipped_longitude_is_reported_not_kept():
    config = _config(["4"], pattern="2004.json")  # the defective record is a code-4 event
    with pytest.warns(DataWarning, match="1 row.s. excluded .2004-"):
        gdf, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    (issue,) = report.of("excluded")
    assert issue.code == "outside_area_of_use"
    assert issue.value.startswith("74.23")  # positive longitude: the sign was lost
    assert "flipped sign" in issue.message and "EPSG:9377" in issue.message
    assert issue.hazard_id not in set(gdf["hazard_id"])
    assert report.rows_kept == report.rows_read - report.rows_filtered - 1
