"""Tests of ccm_geo.scoring: value functions, weights, AHP, ranks, classes, sensitivity."""

from __future__ import annotations

import re
import tomllib
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccm_geo.errors import CcmGeoWarning, ConfigError, InputError
from ccm_geo.scoring import (
    CriterionSpec,
    MinMaxWarning,
    ScoringSettings,
    SensitivityResult,
    ahp_weights,
    compare_scenarios,
    consistency_ratios,
    ranking_weakness,
    resolve_weights,
    scenario_ranks,
    score_areas,
    sensitivity,
    weights_table,
)

ROOT = Path(__file__).resolve().parents[1]
PROPS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DEFAULT_COLUMNS = [
    "accident_risk",
    "accident_recency",
    "evidence_nearby",
    "casualties_24m",
    "status",
    "devices_per_ha",
    "is_cmr",
    "landuse_frac_cropland",
    "landuse_frac_paddy",
    "blocked_productive_m2",
    "road_length_m",
    "population_within_30min",
    "travel_min_settlement",
    "near_remote_survivors",
]


def make_areas(n: int, seed: int = 0, *, prefix: str = "HA") -> pd.DataFrame:
    """Indicator columns of the default criteria for ``n`` areas (random but seeded)."""
    rng = np.random.default_rng(seed)
    crop = rng.random(n) * 0.7
    return pd.DataFrame(
        {
            "hazard_id": [f"{prefix}-{i:04d}" for i in range(n)],
            "status": rng.choice(["CHA", "SHA", "released"], n),
            "casualties_24m": rng.poisson(0.7, n),
            "devices_per_ha": rng.gamma(1.0, 3.0, n),
            "is_cmr": rng.random(n) < 0.5,
            "landuse_frac_cropland": crop,
            "landuse_frac_paddy": rng.random(n) * (1 - crop),
            "blocked_productive_m2": rng.random(n) * 60_000,
            "road_length_m": rng.random(n) * 1_500,
            "population_within_30min": rng.integers(0, 8_000, n),
            "travel_min_settlement": rng.random(n) * 180,
            "near_remote_survivors": rng.random(n) < 0.2,
            "accident_risk": rng.gamma(0.5, 2.0, n),
            "accident_recency": rng.random(n),
            "evidence_nearby": rng.gamma(1.0, 4.0, n),
        }
    )


@st.composite
def area_frames(draw, min_size: int = 1, max_size: int = 25) -> pd.DataFrame:
    """Frames of areas with the default indicator columns, NaNs and ties included."""
    n = draw(st.integers(min_size, max_size))
    fracs = st.floats(0, 0.5, allow_nan=False)
    maybe = st.one_of(st.just(np.nan), st.floats(0, 300, allow_nan=False))
    rows = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "status": st.sampled_from(["CHA", "SHA", "released", None]),
                    "casualties_24m": st.integers(0, 8),
                    "devices_per_ha": st.sampled_from([0.0, 1.0, 2.5, 12.0, np.nan]),
                    "is_cmr": st.booleans(),
                    "landuse_frac_cropland": fracs,
                    "landuse_frac_paddy": fracs,
                    "blocked_productive_m2": st.floats(0, 1e5, allow_nan=False),
                    "road_length_m": st.sampled_from([0.0, 250.0, 2000.0]),
                    "population_within_30min": st.integers(0, 10_000),
                    "travel_min_settlement": maybe,
                    "near_remote_survivors": st.booleans(),
                    "accident_risk": st.sampled_from([0.0, 0.5, 2.0, 40.0, np.nan]),
                    "accident_recency": st.sampled_from([0.0, 0.25, 1.0]),
                    "evidence_nearby": st.sampled_from([0.0, 3.0, 30.0]),
                }
            ),
            min_size=n,
            max_size=n,
        )
    )
    ids = draw(
        st.lists(
            st.text("ABCXYZ0123456789-", min_size=1, max_size=6),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    frame = pd.DataFrame(rows)
    frame.insert(0, "hazard_id", ids)
    return frame


# ---------------------------------------------------------------------------------------------
# defaults, values, contributions
# ---------------------------------------------------------------------------------------------


def test_default_settings_score_the_default_indicator_columns():
    areas = make_areas(30)
    out = score_areas(areas)
    keys = list(ScoringSettings().criteria)
    for key in keys:
        assert out[f"value_{key}"].between(0, 1).all()
        assert f"contrib_{key}" in out
    assert {"score", "rank", "priority_class", "explanation"} <= set(out.columns)
    used = {c for s in ScoringSettings().criteria.values() for c in s.source_columns}
    assert used == set(DEFAULT_COLUMNS)
    assert resolve_weights().sum() == pytest.approx(1.0)


def test_one_area_scored_by_hand():
    areas = pd.DataFrame(
        {
            "hazard_id": ["A"],
            "status": ["CHA"],
            "casualties_24m": [1],
            "devices_per_ha": [2.0],
            "is_cmr": [True],
            "landuse_frac_cropland": [0.5],
            "landuse_frac_paddy": [0.12],
            "blocked_productive_m2": [30_000.0],
            "road_length_m": [0.0],
            "population_within_30min": [1_000],
            "travel_min_settlement": [60.0],
            "near_remote_survivors": [False],
            # one accident of 24 months (weight 0.5) shared among five areas, and the whole
            # weight of one direct-evidence record around it: the breakpoints' reference units
            "accident_risk": [0.1],
            "accident_recency": [0.1],
            "evidence_nearby": [1.0],
        }
    )
    out = score_areas(areas).iloc[0]
    expected = {
        "accident_risk": 0.5,
        "accident_recency": 0.5,
        "evidence_nearby": 0.6,
        "casualties": 0.5,
        "status": 1.0,
        "device_density": 0.5,
        "cmr": 1.0,
        "productive_share": 0.62,
        "productive_area": 0.75,
        "roads": 0.0,
        "population": 0.5,
        "settlement_access": 0.5,
        "remote_survivors": 0.0,
    }
    w = resolve_weights()
    for key, v in expected.items():
        assert out[f"value_{key}"] == pytest.approx(v)
        assert out[f"contrib_{key}"] == pytest.approx(w[key] * v)
    assert out["score"] == pytest.approx(sum(w[k] * v for k, v in expected.items()))
    assert out["rank"] == 1
    # final weight = family weight x indicator weight / the family's sum of indicator
    # weights: casualties 0.25 x 0.40 / 1.20 (casualties, status, devices, CMR, evidence)
    assert w["casualties"] == pytest.approx(0.25 * 0.40 / 1.20)
    assert out["explanation"] == (
        "0.10 weighted accidents nearby (0.14), 30,000 m² of productive land blocked (0.06), "
        "latest accident nearby weighs 0.10 (0.06)"
    )


@PROPS
@given(area_frames())
def test_contributions_sum_to_score(areas):
    out = score_areas(areas)
    contrib = out.filter(like="contrib_").sum(axis=1)
    np.testing.assert_allclose(contrib.to_numpy(), out["score"].to_numpy(), rtol=0, atol=1e-12)
    w = resolve_weights()
    for key in w.index:
        np.testing.assert_allclose(out[f"contrib_{key}"], w[key] * out[f"value_{key}"])
    assert out["score"].between(0, 1 + 1e-12).all()


@PROPS
@given(area_frames(max_size=30))
def test_ranks_are_a_permutation(areas):
    out = score_areas(areas)
    assert sorted(out["rank"]) == list(range(1, len(areas) + 1))
    # rank order agrees with score order, ties by hazard_id
    ordered = out.sort_values("rank")
    key = list(zip(-ordered["score"].round(12), ordered["hazard_id"], strict=True))
    assert key == sorted(key)


@PROPS
@given(area_frames(max_size=20), area_frames(min_size=1, max_size=1))
def test_adding_an_area_never_reorders_the_others(areas, extra):
    extra = extra.assign(hazard_id="NEW-AREA")
    before = score_areas(areas).sort_values("rank")["hazard_id"].tolist()
    after = score_areas(pd.concat([areas, extra], ignore_index=True))
    order = after.sort_values("rank")["hazard_id"].tolist()
    assert [h for h in order if h != "NEW-AREA"] == before


def test_identical_input_gives_identical_output_and_row_order_does_not_matter():
    areas = make_areas(200, seed=3)
    a = score_areas(areas)
    b = score_areas(areas.copy())
    pd.testing.assert_frame_equal(a, b)
    shuffled = score_areas(areas.sample(frac=1.0, random_state=7))
    assert (
        shuffled.set_index("hazard_id")["rank"]
        .sort_index()
        .equals(a.set_index("hazard_id")["rank"].sort_index())
    )


def test_ties_are_broken_by_hazard_id_ascending():
    row = make_areas(1).iloc[0].to_dict()
    areas = pd.DataFrame(
        [{**row, "hazard_id": h} for h in ["C-3", "A-1", "B-2"]], index=[10, 11, 12]
    )
    out = score_areas(areas)
    assert out["score"].nunique() == 1
    assert out.set_index("hazard_id")["rank"].to_dict() == {"A-1": 1, "B-2": 2, "C-3": 3}


def test_caller_frame_is_not_modified_and_index_is_kept():
    areas = make_areas(10).set_index(pd.Index(range(100, 110), name="fid"))
    before = areas.copy()
    out = score_areas(areas)
    pd.testing.assert_frame_equal(areas, before)
    assert out.index.equals(areas.index)
    # re-scoring a scored frame replaces the old output columns
    again = score_areas(out)
    assert list(again.columns) == list(out.columns)
    pd.testing.assert_frame_equal(again, out)


def test_geodataframe_stays_a_geodataframe():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    areas = make_areas(3)
    gdf = gpd.GeoDataFrame(
        areas, geometry=[box(i, 0, i + 1, 1) for i in range(3)], crs="EPSG:32648"
    )
    out = score_areas(gdf)
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs == gdf.crs
    assert out.geometry.equals(gdf.geometry)


def test_missing_values_take_the_missing_value_and_are_counted():
    areas = make_areas(4)
    areas.loc[[0, 2], "travel_min_settlement"] = np.nan
    areas.loc[1, "status"] = None
    spec = {**ScoringSettings().criteria}
    spec["settlement_access"] = spec["settlement_access"].model_copy(update={"missing": 0.25})
    out = score_areas(areas, ScoringSettings(criteria=spec))
    assert out.loc[[0, 2], "value_settlement_access"].tolist() == [0.25, 0.25]
    assert out.loc[1, "value_status"] == 0.0
    assert out.attrs["scoring"]["missing"]["settlement_access"] == 2
    assert out.attrs["scoring"]["missing"]["status"] == 1
    assert "no data: settlement_access (valued 0.25)" in out.loc[0, "explanation"]


def test_missing_column_names_column_key_and_columns_present():
    areas = make_areas(3).drop(columns=["travel_min_settlement"])
    with pytest.raises(
        InputError,
        match=r"'travel_min_settlement' \(scoring\.criteria\."
        r"settlement_access\.column\).*Columns present: \[.*'casualties_24m'",
    ):
        score_areas(areas)


def test_non_numeric_indicator_is_an_input_error():
    areas = make_areas(3).astype({"road_length_m": object})
    areas.loc[1, "road_length_m"] = "about 2 km"
    with pytest.raises(InputError, match="road_length_m.*about 2 km"):
        score_areas(areas)


def test_hazard_id_must_be_present_and_unique():
    areas = make_areas(3)
    with pytest.raises(InputError, match="hazard_id"):
        score_areas(areas.drop(columns="hazard_id"))
    with pytest.raises(InputError, match="unique.*HA-0000"):
        score_areas(areas.assign(hazard_id="HA-0000"))


# ---------------------------------------------------------------------------------------------
# value functions
# ---------------------------------------------------------------------------------------------


def _one(spec: dict, values: list) -> np.ndarray:
    """Values of one criterion ``x`` over a column of raw ``values``."""
    x = CriterionSpec(column="c", family="f", **spec)
    cfg = ScoringSettings(replace_defaults=True, criteria={"x": x})
    frame = pd.DataFrame({"hazard_id": [f"h{i}" for i in range(len(values))], "c": values})
    return score_areas(frame, cfg)["value_x"].to_numpy()


def test_linear_interpolates_and_is_constant_beyond_the_ends():
    v = _one(
        {"kind": "linear", "points": [[0, 1], [120, 0]]},
        [-5.0, 0.0, 30.0, 60.0, 120.0, 500.0, np.inf, np.nan],
    )
    np.testing.assert_allclose(v, [1, 1, 0.75, 0.5, 0, 0, 0, 0])


def test_categorical_map_other_and_separator():
    from ccm_geo.scoring.values import UnknownCodeWarning

    with pytest.warns(UnknownCodeWarning, match=r"'released' \(1 area\)"):
        v = _one(
            {"kind": "categorical", "map": {"CHA": 1.0, "SHA": 0.5}, "other": 0.1},
            ["CHA", "SHA", "released", None],
        )
    np.testing.assert_allclose(v, [1.0, 0.5, 0.1, 0.0])
    with pytest.warns(UnknownCodeWarning, match=r"'UXO' \(1 area\)"):
        v = _one(
            {"kind": "categorical", "map": {"CMR": 1.0, "AP": 0.6}, "separator": ";"},
            ["AP;CMR", "AP", "UXO", ""],
        )
    np.testing.assert_allclose(v, [1.0, 0.6, 0.0, 0.0])


def test_logistic_threshold_boolean_and_direction():
    v = _one({"kind": "logistic", "midpoint": 60, "scale": 10}, [60.0, 1e6, -1e6])
    np.testing.assert_allclose(v, [0.5, 1.0, 0.0])
    v = _one(
        {"kind": "logistic", "midpoint": 60, "scale": 10, "direction": "decreasing"}, [50.0, 70.0]
    )
    np.testing.assert_allclose(v, [1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))])
    v = _one({"kind": "threshold", "at": 3}, [2.0, 3.0, 4.0])
    np.testing.assert_allclose(v, [0, 1, 1])
    v = _one({"kind": "threshold", "at": 3, "direction": "decreasing"}, [2.0, 3.0, 4.0])
    np.testing.assert_allclose(v, [1, 1, 0])
    v = _one({"kind": "boolean"}, [True, False, "yes", "no", None, 1, 0])
    np.testing.assert_allclose(v, [1, 0, 1, 0, 0, 1, 0])
    v = _one({"kind": "boolean", "direction": "decreasing", "missing": 0.5}, [True, None])
    np.testing.assert_allclose(v, [0, 0.5])


def test_sum_of_columns():
    cfg = ScoringSettings(
        replace_defaults=True,
        criteria={
            "x": CriterionSpec(
                columns=["a", "b"], family="f", kind="linear", points=[[0, 0], [1, 1]]
            )
        },
    )
    frame = pd.DataFrame(
        {"hazard_id": ["1", "2", "3"], "a": [0.2, 0.5, np.nan], "b": [0.3, 0.7, 0.1]}
    )
    np.testing.assert_allclose(score_areas(frame, cfg)["value_x"], [0.5, 1.0, 0.0])


def test_minmax_warns_about_rank_reversal():
    with pytest.warns(MinMaxWarning, match="rank reversal"):
        v = _one({"kind": "minmax"}, [10.0, 20.0, 30.0])
    np.testing.assert_allclose(v, [0, 0.5, 1])
    assert issubclass(MinMaxWarning, CcmGeoWarning)


def test_fixed_value_functions_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_areas(make_areas(5))


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ({"kind": "linear"}, "needs points"),
        ({"kind": "linear", "points": [[5, 0], [1, 1]]}, "strictly increasing"),
        ({"kind": "linear", "points": [[0, 0], [1, 2]]}, "0-1"),
        ({"kind": "categorical", "map": {"CHA": 1.5}}, "0-1"),
        ({"kind": "linear", "points": [[0, 0], [1, 1]], "map": {"a": 1.0}}, "map not used by"),
        ({"kind": "logistic", "midpoint": 1.0}, "needs scale"),
        (
            {"kind": "linear", "points": [[0, 0], [1, 1]], "label": "{y} days"},
            "not a valid template",
        ),
    ],
)
def test_bad_value_function_is_rejected_with_the_reason(spec, pattern):
    with pytest.raises(ValueError, match=pattern):
        CriterionSpec(column="c", family="f", **spec)


# ---------------------------------------------------------------------------------------------
# weights and AHP
# ---------------------------------------------------------------------------------------------


def test_ahp_reproduces_saatys_drinks_example():
    """Saaty, T.L. (2008) 'Decision making with the analytic hierarchy process', International
    Journal of Services Sciences 1(1), 83-98, Table 2: relative consumption of drinks in the
    United States. Published eigenvector: coffee .177, wine .019, tea .042, beer .116,
    sodas .190, milk .129, water .327. lambda_max = 7.177, so CI = 0.0294 and, with Saaty's
    RI(7) = 1.32, CR = 0.022 (the value AHPy's README reports for the same matrix)."""
    names = ["coffee", "wine", "tea", "beer", "sodas", "milk", "water"]
    upper = {
        ("coffee", "wine"): 9,
        ("coffee", "tea"): 5,
        ("coffee", "beer"): 2,
        ("coffee", "sodas"): 1,
        ("coffee", "milk"): 1,
        ("coffee", "water"): 1 / 2,
        ("wine", "tea"): 1 / 3,
        ("wine", "beer"): 1 / 9,
        ("wine", "sodas"): 1 / 9,
        ("wine", "milk"): 1 / 9,
        ("wine", "water"): 1 / 9,
        ("tea", "beer"): 1 / 3,
        ("tea", "sodas"): 1 / 4,
        ("tea", "milk"): 1 / 3,
        ("tea", "water"): 1 / 9,
        ("beer", "sodas"): 1 / 2,
        ("beer", "milk"): 1,
        ("beer", "water"): 1 / 3,
        ("sodas", "milk"): 2,
        ("sodas", "water"): 1 / 2,
        ("milk", "water"): 1 / 3,
    }
    a = pd.DataFrame(1.0, index=names, columns=names)
    for (i, j), v in upper.items():
        a.loc[i, j], a.loc[j, i] = v, 1 / v
    w, cr, _ = ahp_weights(a)
    published = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]
    np.testing.assert_allclose(w[names].to_numpy(), published, atol=5e-4)
    assert w.sum() == pytest.approx(1.0)
    assert cr == pytest.approx(0.022, abs=5e-4)


def test_ahp_consistent_matrix_has_cr_zero():
    true = np.array([0.5, 0.3, 0.2])
    w, cr, worst = ahp_weights(true[:, None] / true[None, :], labels=["a", "b", "c"])
    np.testing.assert_allclose(w.to_numpy(), true)
    assert cr == pytest.approx(0.0, abs=1e-12)
    assert worst in {("a", "b"), ("a", "c"), ("b", "c")}


def test_inconsistent_ahp_is_rejected_naming_the_worst_judgement():
    # consistent with weights 8:4:2:1 except a vs d, set to 1/2 instead of 8
    matrix = [[1, 2, 4, "1/2"], ["1/2", 1, 2, 4], ["1/4", "1/2", 1, 2], [2, "1/4", "1/2", 1]]
    w, cr, worst = ahp_weights(
        [[float(Fraction(str(x))) for x in r] for r in matrix], labels=["a", "b", "c", "d"]
    )
    assert cr >= 0.10
    assert worst == ("a", "d")
    criteria = {k: CriterionSpec(column=k, family="f", kind="boolean") for k in "abcd"}
    with pytest.raises(ValueError, match=r"consistency ratio 0\.40\d >= 0\.10.*a vs d = 0\.5"):
        ScoringSettings(
            replace_defaults=True,
            criteria=criteria,
            ahp={"f": {"items": ["a", "b", "c", "d"], "matrix": matrix}},
        )


def test_ahp_sets_family_and_indicator_weights():
    criteria = {
        "a": CriterionSpec(column="a", family="one", kind="boolean"),
        "b": CriterionSpec(column="b", family="one", kind="boolean"),
        "c": CriterionSpec(column="c", family="two", kind="boolean"),
    }
    cfg = ScoringSettings(
        replace_defaults=True,
        criteria=criteria,
        ahp={
            "families": {"items": ["one", "two"], "matrix": [[1, 3], ["1/3", 1]]},
            "one": {"items": ["b", "a"], "matrix": [[1, 4], [0.25, 1]]},
        },
    )
    table = weights_table(cfg)
    assert table.loc["a", "family_weight"] == pytest.approx(0.75)
    assert table.loc["a", "indicator_weight"] == pytest.approx(0.2)
    assert table.loc["b", "weight"] == pytest.approx(0.75 * 0.8)
    assert table.loc["c", "weight"] == pytest.approx(0.25)
    assert table["weight"].sum() == pytest.approx(1.0)


def test_ahp_items_must_match_the_family():
    criteria = {
        "a": CriterionSpec(column="a", family="one", kind="boolean"),
        "b": CriterionSpec(column="b", family="one", kind="boolean"),
    }
    with pytest.raises(ValueError, match=r"ahp\.one\.items must list exactly \['a', 'b'\]"):
        ScoringSettings(
            replace_defaults=True,
            criteria=criteria,
            ahp={"one": {"items": ["a", "z"], "matrix": [[1, 2], [0.5, 1]]}},
        )


def test_negative_weights_are_rejected_naming_the_key():
    with pytest.raises(ValueError, match="weight must be a finite number >= 0"):
        CriterionSpec(column="c", family="f", kind="boolean", weight=-1)
    with pytest.raises(ValueError, match=r"scoring\.families\.land: weight must be"):
        ScoringSettings(families={"risk": 1, "contamination": 1, "land": -0.5, "people": 1})
    with pytest.raises(ValueError, match=r"scoring\.scenarios\.bad\.roads: weight must be"):
        ScoringSettings(scenarios={"bad": {"roads": -1}})


def test_all_zero_weights_are_rejected_naming_the_keys():
    with pytest.raises(ValueError, match="every family weight is 0"):
        ScoringSettings(families={"risk": 0, "contamination": 0, "land": 0, "people": 0})
    criteria = {
        "a": CriterionSpec(column="a", family="f", kind="boolean", weight=0),
        "b": CriterionSpec(column="b", family="f", kind="boolean", weight=0),
    }
    with pytest.raises(
        ValueError,
        match=r"family 'f' has weight 0 \(scoring\.criteria\.a\."
        r"weight, scoring\.criteria\.b\.weight\)",
    ):
        ScoringSettings(replace_defaults=True, criteria=criteria)


def test_config_loader_turns_weight_errors_into_config_error():
    config = pytest.importorskip("ccm_geo.config")
    raw = {
        "inputs": {"hazards": {"path": "hazards.gpkg"}},
        "scoring": {"families": {"risk": 1, "contamination": 1, "land": -1, "people": 1}},
    }
    with pytest.raises(ConfigError, match=r"scoring.*scoring\.families\.land"):
        config.config_from_dict(raw)


def test_family_weights_must_cover_the_families_in_use():
    with pytest.raises(ValueError, match="no weight for family 'people'"):
        ScoringSettings(families={"risk": 1, "contamination": 1, "land": 1})
    with pytest.raises(ValueError, match=r"scoring\.families\.landuse: no criterion"):
        ScoringSettings(
            families={"risk": 1, "contamination": 1, "land": 1, "people": 1, "landuse": 1}
        )


def test_custom_criteria_without_families_weigh_families_equally():
    criteria = {
        "a": CriterionSpec(column="a", family="one", kind="boolean"),
        "b": CriterionSpec(column="b", family="two", kind="boolean", weight=5),
    }
    cfg = ScoringSettings(replace_defaults=True, criteria=criteria)
    assert resolve_weights(cfg).to_dict() == {"a": 0.5, "b": 0.5}
    assert cfg.scenarios == {}


def test_scenario_overrides_and_unknown_scenario():
    cfg = ScoringSettings()
    w = resolve_weights(cfg, "agriculture")
    assert w.sum() == pytest.approx(1.0)
    land = [k for k, s in cfg.criteria.items() if s.family == "land"]
    assert w[land].sum() == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="'harvest' is not defined.*agriculture"):
        resolve_weights(cfg, "harvest")
    with pytest.raises(ValueError, match=r"scoring\.scenarios\.x\.nothing: not a criterion"):
        ScoringSettings(scenarios={"x": {"nothing": 1.0}})


# ---------------------------------------------------------------------------------------------
# classes and explanations
# ---------------------------------------------------------------------------------------------


def test_priority_classes_by_thresholds_and_by_quantiles():
    areas = make_areas(50, seed=2)
    out = score_areas(areas)
    s = out["score"]
    assert (out.loc[s >= 0.5, "priority_class"] == "high").all()
    assert (out.loc[(s >= 0.25) & (s < 0.5), "priority_class"] == "medium").all()
    assert (out.loc[s < 0.25, "priority_class"] == "low").all()
    cfg = ScoringSettings(classes={"method": "quantiles", "high_share": 0.1, "medium_share": 0.3})
    out = score_areas(areas, cfg)
    counts = out["priority_class"].value_counts().to_dict()
    assert counts == {"high": 5, "medium": 15, "low": 30}
    assert (out.loc[out["rank"] <= 5, "priority_class"] == "high").all()


def test_explanation_lists_the_largest_contributions_in_order():
    out = score_areas(make_areas(20, seed=4))
    for _, row in out.iterrows():
        shown = [float(x) for x in re.findall(r"\((\d\.\d\d)\)", row["explanation"])]
        top = sorted(row.filter(like="contrib_"), reverse=True)[:3]
        assert shown == [round(c, 2) for c in top if c > 0][: len(shown)]


# ---------------------------------------------------------------------------------------------
# sensitivity
# ---------------------------------------------------------------------------------------------


def test_sensitivity_shapes_and_determinism():
    areas = make_areas(120, seed=5)
    scored = score_areas(areas)
    cfg = ScoringSettings(top_n=10)
    a = sensitivity(scored, cfg, seed=11, draws=200)
    b = sensitivity(areas, cfg, seed=11, draws=200)  # values recomputed from indicators
    assert isinstance(a, SensitivityResult)
    assert list(a.areas.columns) == [
        "hazard_id",
        "rank",
        "tied_with",
        "rank_p05",
        "rank_p50",
        "rank_p95",
        "p_top_n",
    ]
    assert a.areas.index.equals(areas.index)
    pd.testing.assert_frame_equal(a.areas, b.areas)
    pd.testing.assert_frame_equal(a.sweep, b.sweep)
    assert a.summary == b.summary
    assert a.summary["draws"] == 200 and a.summary["concentration"] == 100.0
    assert (a.areas["rank_p05"] <= a.areas["rank_p50"]).all()
    assert (a.areas["rank_p50"] <= a.areas["rank_p95"]).all()
    assert a.areas["p_top_n"].between(0, 1).all()
    assert a.areas["p_top_n"].sum() == pytest.approx(10.0)  # every draw has exactly 10 in top
    assert a.areas["rank"].tolist() == scored["rank"].tolist()
    assert -1 <= a.summary["spearman_p05"] <= a.summary["spearman_mean"] <= 1
    assert len(a.sweep) == len(cfg.criteria)
    c = sensitivity(scored, cfg, seed=12, draws=200)
    assert not c.areas["p_top_n"].equals(a.areas["p_top_n"])


def test_sensitivity_with_huge_concentration_reproduces_the_base_ranking():
    areas = make_areas(60, seed=6)
    cfg = ScoringSettings(sensitivity={"concentration": 1e9})
    res = sensitivity(areas, cfg, seed=1, draws=20)
    assert res.summary["spearman_p05"] > 0.999
    assert (res.areas["rank_p05"] - res.areas["rank"]).abs().max() <= 1


def test_sensitivity_ignores_criteria_that_weigh_nothing():
    # Areas that differ only in a criterion of weight 0 tie, in the base ranking and in every
    # draw: each is reported with its tie group's whole rank range, and no correlation.
    one = make_areas(1, seed=9)
    areas = pd.concat([one] * 10, ignore_index=True)  # ten areas alike in every indicator...
    areas["hazard_id"] = [f"A{i}" for i in range(10)]
    areas["is_cmr"] = [i % 2 == 0 for i in range(10)]  # ...but the one that weighs nothing
    crit = dict(ScoringSettings().criteria)
    crit["cmr"] = crit["cmr"].model_copy(update={"weight": 0.0})
    cfg = ScoringSettings(criteria=crit, sensitivity={"concentration": 1e12})
    res = sensitivity(areas, cfg, seed=3, draws=30)
    assert res.summary["spearman_min"] is None  # one tie: there is no order to correlate
    assert (res.areas["rank_p05"] == 1).all() and (res.areas["rank_p95"] == 10).all()
    assert (res.areas["tied_with"] == 9).all() and res.summary["tied_share"] == 1.0


def _top_set(values: np.ndarray, w: np.ndarray, ids: np.ndarray, n: int) -> set:
    score = values @ w
    order = sorted(range(len(ids)), key=lambda i: (-round(score[i], 12), ids[i]))
    return set(ids[order[:n]])


def test_one_at_a_time_sweep_finds_where_the_top_set_changes():
    areas = make_areas(80, seed=8)
    cfg = ScoringSettings(top_n=8)
    scored = score_areas(areas, cfg)
    res = sensitivity(scored, cfg, seed=0, draws=10)
    w = resolve_weights(cfg).to_numpy()
    keys = list(cfg.criteria)
    values = scored[[f"value_{k}" for k in keys]].to_numpy()
    ids = scored["hazard_id"].to_numpy()
    base = _top_set(values, w, ids, 8)
    checked = 0
    for _, row in res.sweep.iterrows():
        k = keys.index(row["criterion"])

        def at(weight, k=k):
            w2 = w * (1 - weight) / (1 - w[k])
            w2[k] = weight
            return _top_set(values, w2, ids, 8)

        for side, inner in (("weight_up", -1), ("weight_down", 1)):
            edge = row[side]
            if np.isnan(edge) or edge in (0.0, row["weight"]):
                continue
            eps = 1e-7
            assert at(edge + inner * eps) == base, (row["criterion"], side)
            changed = at(edge - inner * eps)
            assert changed != base, (row["criterion"], side)
            enters = row["enters_up" if side == "weight_up" else "enters_down"]
            assert enters in changed - base
            checked += 1
    assert checked >= 5


def test_sensitivity_needs_areas():
    with pytest.raises(InputError, match="no areas"):
        sensitivity(make_areas(0), seed=1)


# ---------------------------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------------------------


def test_scenarios_table_compares_top_sets():
    areas = make_areas(100, seed=9)
    cfg = ScoringSettings(top_n=10)
    table = compare_scenarios(areas, cfg)
    names = ["base", *cfg.scenarios]
    assert len(table) == len(names) * (len(names) - 1) // 2
    assert list(table.columns) == [
        "scenario_a",
        "scenario_b",
        "top_n",
        "overlap",
        "jaccard",
        "entering",
        "leaving",
        "spearman",
    ]
    ranks = scenario_ranks(areas, cfg)
    for _, row in table.iterrows():
        top_a = set(ranks.loc[ranks[f"rank_{row['scenario_a']}"] <= 10, "hazard_id"])
        top_b = set(ranks.loc[ranks[f"rank_{row['scenario_b']}"] <= 10, "hazard_id"])
        assert row["overlap"] == len(top_a & top_b)
        assert row["jaccard"] == pytest.approx(len(top_a & top_b) / len(top_a | top_b))
        entering = set(filter(None, row["entering"].split(";")))
        leaving = set(filter(None, row["leaving"].split(";")))
        assert entering == top_b - top_a and leaving == top_a - top_b
    # each scenario's ranks are what score_areas gives for it
    for name in cfg.scenarios:
        assert (
            ranks[f"rank_{name}"].tolist()
            == score_areas(areas, cfg, scenario=name)["rank"].tolist()
        )


def test_a_scenario_equal_to_the_base_has_full_overlap():
    cfg = ScoringSettings(scenarios={"same": {"contamination": 0.25}}, top_n=5)
    table = compare_scenarios(make_areas(40), cfg)
    row = table[(table["scenario_a"] == "base") & (table["scenario_b"] == "same")].iloc[0]
    assert (row["overlap"], row["jaccard"], row["entering"], row["spearman"]) == (5, 1.0, "", 1.0)


# ---------------------------------------------------------------------------------------------
# the planner's guide stays true
# ---------------------------------------------------------------------------------------------


def test_toml_example_in_docs_is_valid_and_scores():
    text = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(.*?)```", text, re.S)
    assert block, "docs/scoring.md must hold a ```toml example of [scoring]"
    raw = tomllib.loads(block.group(1))["scoring"]
    cfg = ScoringSettings.model_validate(raw)
    out = score_areas(make_areas(30), cfg)
    assert sorted(out["rank"]) == list(range(1, 31))
    assert compare_scenarios(make_areas(30), cfg)["jaccard"].between(0, 1).all()


def test_identical_areas_are_one_tie_not_a_stable_order():
    # Thirty identical areas: the plan's order (rank) goes by hazard_id, but sensitivity must
    # not report that tie-break as stability.
    row = make_areas(1).iloc[0].to_dict()
    areas = pd.DataFrame([{**row, "hazard_id": f"Z{i:02d}"} for i in range(30)][::-1])
    res = sensitivity(areas, ScoringSettings(top_n=5), seed=2, draws=50)
    table = res.areas.set_index("hazard_id").sort_index()
    assert table["rank"].tolist() == list(range(1, 31))
    assert (table["rank_p05"] == 1).all() and (table["rank_p95"] == 30).all()
    assert table["p_top_n"].to_numpy() == pytest.approx(np.full(30, 5 / 30))
    s = res.summary
    assert s["spearman_mean"] is None and s["p_same_top_n"] is None
    assert s["tied_share"] == 1.0 and s["top_n_tied"] is True


def test_a_tie_group_gets_its_whole_rank_range_and_says_so():
    # Two clearly distinct areas on top, then four identical ones: the four share places 3-6.
    areas = make_areas(6, seed=4)
    areas["accident_risk"] = [5.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    for col in DEFAULT_COLUMNS:
        if col != "accident_risk":
            areas[col] = areas[col].iloc[2]
    scored = score_areas(areas, ScoringSettings(top_n=4))
    assert scored["tied_with"].tolist() == [0, 0, 3, 3, 3, 3]
    assert scored["explanation"].iloc[3].endswith("; tied with 3 other areas (ranks 3-6)")
    assert "tied" not in scored["explanation"].iloc[0]
    res = sensitivity(scored, ScoringSettings(top_n=4), seed=1, draws=40)
    t = res.areas
    assert t["rank_p05"].tolist()[2:] == [3] * 4 and t["rank_p95"].tolist()[2:] == [6] * 4
    assert t["p_top_n"].tolist()[2:] == pytest.approx([0.5] * 4)  # 2 of the 4 places are in
    assert res.summary["tied_share"] == pytest.approx(4 / 6) and res.summary["top_n_tied"]
    assert res.summary["p_same_top_n"] is None


@pytest.mark.parametrize("coarse", [True, False])
def test_monte_carlo_places_equal_a_draw_by_draw_reference(coarse):
    # The fast path (groups of identical areas, sorted by mean score, one draw at a time) must
    # give exactly the places, Spearman and top-N figures of ranking every draw from scratch.
    from ccm_geo.scoring.stability import _dirichlet, _mc_ranks, _tie_ranges

    rng = np.random.default_rng(5)
    n, top_n = 400, 25
    if coarse:
        vals = rng.choice([0.0, 0.25, 0.5, 1.0], size=(n, 6))  # coarse values: many ties
        vals[:40] = vals[40]  # one large group of identical areas
    else:  # every area its own group: the path for groups of one area
        vals = rng.random((n, 6))
    w = np.array([0.3, 0.2, 0.2, 0.15, 0.15, 0.0])  # a criterion that weighs nothing
    draws = _dirichlet(w, 50.0, 37, np.random.SeedSequence(3))
    draws[5] = draws[4]  # a repeated draw
    base_lo, base_hi = _tie_ranges(vals @ w)
    lo, hi, rho, same, p_top = _mc_ranks(vals, draws, base_lo, base_hi, top_n)
    base_mid = (base_lo + base_hi) / 2.0
    exp_p = np.zeros(n)
    for d, wd in enumerate(draws):
        ref_lo, ref_hi = _tie_ranges(vals @ wd)
        assert np.array_equal(lo[d], ref_lo) and np.array_equal(hi[d], ref_hi)
        mid = (ref_lo + ref_hi) / 2.0
        assert rho[d] == pytest.approx(np.corrcoef(mid, base_mid)[0, 1], abs=1e-12)
        straddle = np.any((ref_lo <= top_n) & (ref_hi > top_n))
        assert same[d] == (not straddle and np.array_equal(ref_hi <= top_n, base_hi <= top_n))
        exp_p += np.clip(top_n - ref_lo + 1, 0, ref_hi - ref_lo + 1) / (ref_hi - ref_lo + 1)
    assert p_top == pytest.approx(exp_p / len(draws), abs=1e-12)


def test_sensitivity_gives_the_same_numbers_for_the_same_seed():
    areas = make_areas(300, seed=8)
    areas.loc[:60, "accident_risk"] = 0.0  # ties
    a = sensitivity(areas, ScoringSettings(top_n=10), seed=21, draws=600)
    b = sensitivity(areas.iloc[::-1], ScoringSettings(top_n=10), seed=21, draws=600)
    pd.testing.assert_frame_equal(a.areas, b.areas.loc[a.areas.index])
    assert a.summary == pytest.approx(b.summary)


# ---------------------------------------------------------------------------------------------
# configuration merges into the defaults; AHP per family; consistency ratios; weak rankings
# ---------------------------------------------------------------------------------------------


def test_one_criterion_table_changes_that_criterion_and_keeps_the_others():
    defaults = ScoringSettings()
    cfg = ScoringSettings.model_validate(
        tomllib.loads("[criteria.productive_share]\nweight = 0.1\nmissing = 0.5\n")
    )
    assert list(cfg.criteria) == list(defaults.criteria)
    changed = cfg.criteria["productive_share"]
    assert (changed.weight, changed.missing) == (0.1, 0.5)
    assert changed.columns == defaults.criteria["productive_share"].columns
    assert cfg.scenarios == defaults.scenarios and cfg.families == defaults.families
    for key in defaults.criteria:
        if key != "productive_share":
            assert cfg.criteria[key] == defaults.criteria[key]


def test_a_new_criterion_is_added_and_a_kind_replaces_one_whole():
    cfg = ScoringSettings.model_validate(
        {
            "criteria": {
                "water": {"column": "water_points", "family": "land", "kind": "boolean"},
                "roads": {"column": "road_km", "family": "land", "kind": "threshold", "at": 1},
            },
            "scenarios": {"water_first": {"water": 5}},
        }
    )
    assert len(cfg.criteria) == len(ScoringSettings().criteria) + 1
    assert cfg.criteria["roads"].kind == "threshold" and cfg.criteria["roads"].points is None
    assert set(cfg.scenarios) == {*ScoringSettings().scenarios, "water_first"}


def test_replace_defaults_takes_only_the_criteria_given():
    cfg = ScoringSettings.model_validate(
        {
            "replace_defaults": True,
            "criteria": {"a": {"column": "a", "family": "f", "kind": "boolean"}},
        }
    )
    assert list(cfg.criteria) == ["a"] and cfg.scenarios == {}
    with pytest.raises(ValueError, match="kind"):  # a partial table cannot stand alone
        ScoringSettings.model_validate(
            {"replace_defaults": True, "criteria": {"casualties": {"weight": 2}}}
        )


def test_ahp_of_a_family_works_with_the_default_criteria():
    matrix = [[1, 2, 3], ["1/2", 1, 2], ["1/3", "1/2", 1]]
    items = ["population", "settlement_access", "remote_survivors"]
    cfg = ScoringSettings.model_validate({"ahp": {"people": {"items": items, "matrix": matrix}}})
    expected, cr, _ = ahp_weights(np.array([[1, 2, 3], [0.5, 1, 2], [1 / 3, 0.5, 1]]), labels=items)
    table = weights_table(cfg)
    assert table.loc[items, "indicator_weight"].to_numpy() == pytest.approx(expected.to_numpy())
    assert table.loc[items, "indicator_cr"].to_numpy() == pytest.approx([cr] * 3)
    assert (
        0 < cr < 0.1 and table.loc["status", "indicator_cr"] != table.loc["status", "indicator_cr"]
    )
    assert consistency_ratios(cfg) == {"people": pytest.approx(cr)}
    # a weight the user gives on top of the matrix is still a conflict, named
    with pytest.raises(ValueError, match=r"scoring\.criteria\.population\.weight is also given"):
        ScoringSettings.model_validate(
            {
                "ahp": {"people": {"items": items, "matrix": matrix}},
                "criteria": {"population": {"weight": 2}},
            }
        )


def test_family_ahp_cr_is_in_every_row():
    fams = ["risk", "contamination", "land", "people"]
    m = [[1, 2, 3, 4], ["1/2", 1, 2, 3], ["1/3", "1/2", 1, 2], ["1/4", "1/3", "1/2", 1]]
    cfg = ScoringSettings.model_validate({"ahp": {"families": {"items": fams, "matrix": m}}})
    table = weights_table(cfg)
    assert table["family_cr"].nunique() == 1 and 0 < table["family_cr"].iloc[0] < 0.1
    assert table["indicator_cr"].isna().all()


def test_weak_ranking_is_said_in_one_line():
    areas = make_areas(20)
    assert ranking_weakness(score_areas(areas)) is None
    same = areas.copy()
    for col in DEFAULT_COLUMNS:
        same[col] = same[col].iloc[0]
    same.loc[:2, "accident_risk"] = [5.0, 4.0, 3.0]
    line = ranking_weakness(score_areas(same))
    assert line.startswith("ranking is weak: 85% of areas (17 of 20) share one score")
    nodata = areas.copy()
    nodata["accident_risk"] = np.nan
    line = ranking_weakness(score_areas(nodata))
    assert "the leading criterion accident_risk (weight 0.29) has no data for 100% of areas" in line
    assert "\n" not in line
