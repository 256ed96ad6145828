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
    with pytest.warns(DataWarning, match="row.s. excluded"):
        gdf, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    assert report.rows_read == 36_527  # every event of the 30 yearly files
    excluded = report.of("excluded")
    # nothing lost without a report line: every suspected minefield is kept or reported
    assert report.rows_kept + len(excluded) == report.rows_read - report.rows_filtered == 1_908
    assert report.rows_kept > 1_000
    assert gdf["area_estimated"].all() and (gdf["status"] == "SHA").all()
    # the same site recorded in several years is one area: its land counts once
    counts = report.counts()
    assert counts["excluded:duplicate_geometry"] > 400
    clipped = {i.hazard_id for i in report.of("repair") if i.code == "overlap_removed"}
    whole = ~gdf["hazard_id"].isin(clipped)
    assert (gdf.loc[whole, "area_m2"] == 10_000.0).all()  # exactly what point_area_m2 asks
    assert gdf.area.sum() == pytest.approx(gdf["area_m2"].sum(), rel=1e-9)
    assert gdf.geometry.union_all().area == pytest.approx(gdf.area.sum(), rel=1e-6)
    assert gdf["hazard_id"].is_unique
    assert gdf["hazard_id"].str.match(r"^(19|20)\d\d-\d+$").all()  # <year file>-<row>
    for code in ("generated_ids", "point_to_area", "default_status", "default_evidence"):
        assert counts[f"warning:{code}"] == 1
    # the register gives no device counts: no data, counted, never 0
    assert gdf["devices_found"].isna().all()
    assert report.missing["devices_found"]["missing"] == len(gdf)
    assert gdf.crs.to_epsg() == 9377
    assert "ANTIOQUIA" in set(gdf["region"])


def test_flipped_longitude_is_reported_not_kept():
    config = _config(["4"], pattern="2004.json")  # the defective record is a code-4 event
    with pytest.warns(DataWarning, match="row.s. excluded .2004-"):
        gdf, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    (issue,) = [i for i in report.of("excluded") if i.code == "far_from_register"]
    assert issue.value.startswith("74.23")  # positive longitude: the sign was lost
    assert "flipped sign" in issue.message
    assert issue.hazard_id not in set(gdf["hazard_id"])
    assert report.rows_kept == report.rows_read - report.rows_filtered - len(report.of("excluded"))
