"""Tasks from areas: method rules, areas, costs, convention split, input errors."""

import geopandas as gpd
import pytest
import shapely

from ccm_geo.errors import InputError
from ccm_geo.planning import make_tasks
from ccm_geo.planning.settings import MethodRules, PlanningSettings

REDUCE = round(0.24 / 0.68, 4)


def _areas(rows, crs="EPSG:32648"):
    """Square areas of the given size, 1 km apart; rows: (id, status, evidence, cont, m2, extra)."""
    recs, geoms = [], []
    for i, (hid, status, evidence, cont, m2, extra) in enumerate(rows):
        side = m2**0.5
        geoms.append(shapely.box(i * 1000, 0, i * 1000 + side, side))
        recs.append(
            {
                "hazard_id": hid,
                "status": status,
                "evidence": evidence,
                "contamination": cont,
                "area_m2": float(m2),
                "region": "A",
                "score": 0.5,
                "rank": i + 1,
                **extra,
            }
        )
    return gpd.GeoDataFrame(recs, geometry=geoms, crs=crs)


def test_sha_indirect_gets_nts_then_clearance_of_what_is_not_cancelled():
    tasks = make_tasks(_areas([("H1", "SHA", "indirect", "CMR", 10_000, {})]), PlanningSettings())
    assert tasks["task_id"].tolist() == ["H1-nts", "H1-clr"]
    nts, clr = tasks.iloc[0], tasks.iloc[1]
    assert nts["area_m2"] == pytest.approx(10_000)
    assert nts["released_m2"] == pytest.approx(3_200)  # 32% cancelled
    assert nts["expected_clear_m2"] == 0.0
    assert nts["team_days"] == pytest.approx(10_000 / 20_000)
    assert nts["cost_usd"] == pytest.approx(0.5 * 300)
    # 6,800 m² left < ts_min_area_m2 (10,000): cleared outright, manually (no land cover)
    assert clr["method"] == "clearance_manual"
    assert clr["predecessor"] == "H1-nts"
    assert clr["expected_clear_m2"] == pytest.approx(6_800)
    assert clr["team_days"] == pytest.approx(6_800 / 1_850)
    assert clr["cost_usd"] == pytest.approx(6_800 / 1_850 * 400)
    assert clr["cmr_m2"] == pytest.approx(6_800) and clr["mine_m2"] == 0.0
    # benefit = released x (0.05 + 0.95 x 0.5)
    assert tasks["benefit"].sum() == pytest.approx(10_000 * 0.525)
    assert "1,850 m²/team-day" in clr["assumptions"] and "US$400/team-day" in clr["assumptions"]


def test_cha_large_gets_ts_then_mechanical_on_cropland():
    extra = {"landuse_frac_cropland": 0.4, "landuse_frac_paddy": 0.2, "landuse_frac_forest": 0.4}
    tasks = make_tasks(_areas([("H2", "CHA", "direct", "CMR", 50_000, extra)]), PlanningSettings())
    assert tasks["method"].tolist() == ["ts", "clearance_mechanical"]
    left = 50_000 * (1 - REDUCE)
    assert tasks.iloc[0]["released_m2"] == pytest.approx(50_000 * REDUCE)
    assert tasks.iloc[1]["expected_clear_m2"] == pytest.approx(left)
    assert tasks.iloc[1]["cost_usd"] == pytest.approx(0.05 * left + 1_500 * left / 5_000)
    assert tasks["released_m2"].sum() == pytest.approx(50_000)  # land is conserved


def test_mines_get_dog_ts_and_mine_clearance_and_split_by_convention():
    rows = [("H3", "CHA", "direct", "AP;CMR", 40_000, {}), ("H4", "CHA", "direct", "UXO", 500, {})]
    full = make_tasks(_areas(rows), PlanningSettings())
    h3 = full[full["hazard_id"] == "H3"]
    assert h3["method"].tolist() == ["ts_dog", "clearance_manual_mines"]
    assert h3["team_type"].tolist() == ["dog", "manual"]
    assert (h3["cmr_m2"] == h3["released_m2"]).all() and (h3["mine_m2"] == h3["released_m2"]).all()
    h4 = full[full["hazard_id"] == "H4"]
    assert h4["method"].tolist() == ["clearance_manual"]
    assert h4["cmr_m2"].sum() == 0 and h4["mine_m2"].sum() == 0
    equal = make_tasks(_areas(rows), PlanningSettings(rules=MethodRules(mixed_split="equal")))
    h3e = equal[equal["hazard_id"] == "H3"]
    assert (h3e["cmr_m2"] + h3e["mine_m2"]).sum() == pytest.approx(40_000)


def test_released_areas_give_no_task_and_input_is_not_modified():
    areas = _areas(
        [("H5", "released", "none", "CMR", 1_000, {}), ("H6", "SHA", "direct", "CMR", 1_000, {})]
    )
    before = areas.copy()
    tasks = make_tasks(areas, PlanningSettings())
    assert tasks["hazard_id"].tolist() == ["H6"]  # SHA with direct evidence: as a CHA
    assert tasks["method"].tolist() == ["clearance_manual"]
    assert tasks.crs == areas.crs
    assert areas.equals(before)


def test_every_bad_row_is_reported_at_once():
    areas = _areas(
        [("H7", "SHA", "maybe", "CMR", 1_000, {}), ("H8", "Suspected", None, "CMR", 1_000, {})]
    )
    areas.loc[0, "score"] = 1.5
    with pytest.raises(InputError, match=r"status.*H8.*evidence.*H7.*score.*H7"):
        make_tasks(areas, PlanningSettings())


def test_geographic_crs_and_missing_columns_are_errors():
    areas = _areas([("H9", "CHA", "direct", "CMR", 1_000, {})]).set_crs(
        "EPSG:4326", allow_override=True
    )
    with pytest.raises(InputError, match="geographic"):
        make_tasks(areas, PlanningSettings())
    with pytest.raises(InputError, match=r"missing column.*score"):
        make_tasks(
            _areas([("H9", "CHA", "direct", "CMR", 1_000, {})]).drop(columns="score"),
            PlanningSettings(),
        )
