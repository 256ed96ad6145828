"""[scoring] settings: criteria, families, AHP, classes, sensitivity, scenarios."""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from ccm_geo._base import Frozen
from ccm_geo.scoring.values import CriterionSpec
from ccm_geo.scoring.weights import AhpSpec, _weight_parts

logger = logging.getLogger(__name__)


#: Default family weights (assumption, after GICHD's priority-setting briefs: "fewer lives and
#: limbs lost" first, as where accidents happen (risk) and what the area holds
#: (contamination), then economic use of land, then people exposed and remoteness).
DEFAULT_FAMILIES: dict[str, float] = {
    "risk": 0.40,
    "contamination": 0.25,
    "land": 0.20,
    "people": 0.15,
}

#: Default scenarios: weight overrides (family or criterion keys), each renormalised.
DEFAULT_SCENARIOS: dict[str, dict[str, float]] = {
    "casualty_reduction": {"risk": 0.6, "contamination": 0.2, "land": 0.05, "people": 0.15},
    "agriculture": {"risk": 0.2, "contamination": 0.15, "land": 0.5, "people": 0.15},
    "treaty_compliance": {
        "risk": 0.15,
        "contamination": 0.6,
        "land": 0.1,
        "people": 0.15,
        "cmr": 0.5,
        "status": 0.3,
    },
}


class ClassSettings(Frozen):
    """How scores become priority classes (high / medium / low).

    ``method = "thresholds"``: high where score >= ``high``, medium where score >= ``medium``.
    ``method = "quantiles"``: the best ``high_share`` of areas by rank are high, the next
    ``medium_share`` medium (counts rounded up); ties follow the rank (hazard_id tie-break).
    """

    method: Literal["thresholds", "quantiles"] = "thresholds"
    high: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Score at and above which an area is "
        "high priority (assumption: half of the best attainable score).",
    )
    medium: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="Score at and above which an area is medium priority (assumption).",
    )
    high_share: float = Field(
        0.2, ge=0.0, le=1.0, description="quantiles: share of areas that are high priority."
    )
    medium_share: float = Field(
        0.3, ge=0.0, le=1.0, description="quantiles: share of areas that are medium priority."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ClassSettings:
        if self.medium > self.high:
            msg = f"medium ({self.medium}) must not exceed high ({self.high})"
            raise ValueError(msg)
        if self.high_share + self.medium_share > 1.0 + 1e-12:
            msg = (
                f"high_share + medium_share must not exceed 1 (found {self.high_share} + "
                f"{self.medium_share})"
            )
            raise ValueError(msg)
        return self


class SensitivitySettings(Frozen):
    """Monte Carlo weight perturbation: Dirichlet draws around the chosen weights.

    With concentration c, each weight w varies with standard deviation
    sqrt(w (1 - w) / (c + 1)): c = 100 gives about +/- 20 % (relative) on a weight of 0.2.
    """

    draws: int = Field(1000, ge=1, le=1_000_000, description="Number of weight draws.")
    concentration: float = Field(
        100.0,
        gt=0,
        description="Dirichlet concentration: larger means draws closer to the chosen weights.",
    )


class ScoringSettings(Frozen):
    """[scoring]: criteria with value functions, weights (direct or AHP), classes, scenarios.

    Every part has a default, so the section may be omitted: the default criteria read the
    indicator columns of the criteria stage (see docs/scoring.md for each one and its source).
    When ``criteria`` is given but ``families`` is not, every family weighs the same; default
    scenarios apply only to the default criteria.
    """

    replace_defaults: bool = Field(
        False,
        description="False (default): [scoring.criteria.X] changes criterion X (the keys "
        "given replace the default's; a table with its own kind replaces it whole) or adds "
        "it, and keeps every other default criterion and the default scenarios. True: the "
        "criteria and scenarios given are the whole set (families weigh the same unless "
        "families is given).",
    )
    criteria: dict[str, CriterionSpec] = Field(
        default_factory=lambda: _default_criteria(),
        description="Criterion key -> specification; keys name value_<key>/contrib_<key>.",
    )
    families: dict[str, float] | None = Field(
        None,
        description="Family weights (normalised). Default: DEFAULT_FAMILIES for the "
        "default criteria, else equal.",
    )
    ahp: dict[str, AhpSpec] = Field(
        default_factory=dict,
        description="Pairwise comparisons: key 'families' sets the family "
        "weights, a family name sets the weights of that family's criteria.",
    )
    classes: ClassSettings = Field(default_factory=ClassSettings)
    top_n: int = Field(
        20, ge=1, description="Size of the top set compared by sensitivity and scenarios."
    )
    explain_top: int = Field(3, ge=1, description="Contributions named in each explanation.")
    sensitivity: SensitivitySettings = Field(default_factory=SensitivitySettings)
    scenarios: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Scenario name -> weight overrides by criterion or "
        "family key; the rest keep their base weight; each level is renormalised.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("replace_defaults"):
            return data
        ahp = data.get("ahp") or {}
        ahp_keys = set(ahp) if isinstance(ahp, dict) else set()
        data["criteria"] = _merged_criteria(data.get("criteria") or {}, ahp_keys)
        if "families" not in data and "families" not in ahp_keys:
            data["families"] = dict(DEFAULT_FAMILIES)
        scenarios = {k: dict(v) for k, v in DEFAULT_SCENARIOS.items()}
        scenarios.update(data.get("scenarios") or {})
        data["scenarios"] = scenarios
        return data

    @model_validator(mode="after")
    def _coherent(self) -> ScoringSettings:
        if not self.criteria:
            msg = "scoring.criteria is empty; give at least one criterion (see docs/scoring.md)"
            raise ValueError(msg)
        fams = self.family_names
        for key in [*self.criteria, *fams, *self.scenarios]:
            if not (key.replace("_", "").isalnum() and key.lower() == key and key[0].isalpha()):
                msg = (
                    f"scoring: name {key!r} must be lower_snake_case (letters, digits, '_', "
                    "starting with a letter); it names output columns"
                )
                raise ValueError(msg)
        clash = sorted(set(self.criteria) & set(fams))
        if clash:
            msg = (
                f"scoring: {clash} used both as a criterion key and a family name; rename "
                "one so that scenario overrides are unambiguous"
            )
            raise ValueError(msg)
        if "families" in fams:
            msg = "scoring: 'families' cannot be a family name (it is the AHP key of families)"
            raise ValueError(msg)
        self._check_families(fams)
        self._check_ahp(fams)
        if "base" in self.scenarios:
            msg = "scoring.scenarios.base: 'base' is the name of the unmodified weights; rename"
            raise ValueError(msg)
        for name, overrides in self.scenarios.items():
            for key, v in overrides.items():
                if key not in self.criteria and key not in fams:
                    msg = (
                        f"scoring.scenarios.{name}.{key}: not a criterion or family; known "
                        f"criteria {list(self.criteria)}, families {fams}"
                    )
                    raise ValueError(msg)
                if not math.isfinite(v) or v < 0:
                    msg = f"scoring.scenarios.{name}.{key}: weight must be >= 0 (found {v!r})"
                    raise ValueError(msg)
        for name in [None, *self.scenarios]:
            _weight_parts(self, name)  # raises ConfigError (a ValueError) on all-zero weights
        return self

    @property
    def family_names(self) -> list[str]:
        """Families in order of first use by a criterion."""
        return list(dict.fromkeys(spec.family for spec in self.criteria.values()))

    def _check_families(self, fams: list[str]) -> None:
        if self.families is None:
            return
        if "families" in self.ahp and "families" in self.model_fields_set:
            msg = (
                "scoring: give family weights either as families = {...} or as "
                "[scoring.ahp.families], not both"
            )
            raise ValueError(msg)
        missing = [f for f in fams if f not in self.families]
        if missing:
            users = {f: [k for k, s in self.criteria.items() if s.family == f] for f in missing}
            msg = (
                f"scoring.families: no weight for famil{'y' if len(missing) == 1 else 'ies'} "
                + ", ".join(f"{f!r} (used by {', '.join(u)})" for f, u in users.items())
                + "; add it to families"
            )
            raise ValueError(msg)
        unused = [f for f in self.families if f not in fams]
        if unused:
            msg = (
                f"scoring.families.{unused[0]}: no criterion belongs to this family (families "
                f"in use: {fams}); remove it or fix its spelling"
            )
            raise ValueError(msg)
        for f, v in self.families.items():
            if not math.isfinite(v) or v < 0:
                msg = f"scoring.families.{f}: weight must be a finite number >= 0 (found {v!r})"
                raise ValueError(msg)

    def _check_ahp(self, fams: list[str]) -> None:
        for key, spec in self.ahp.items():
            if key == "families":
                expected = fams
            elif key in fams:
                expected = [k for k, s in self.criteria.items() if s.family == key]
                preset = [k for k in expected if "weight" in self.criteria[k].model_fields_set]
                if preset:
                    msg = (
                        f"scoring.ahp.{key} sets the weights of {expected}, but "
                        f"scoring.criteria.{preset[0]}.weight is also given; remove one"
                    )
                    raise ValueError(msg)
            else:
                msg = f"scoring.ahp.{key}: not 'families' nor a family in use ({fams}); fix the key"
                raise ValueError(msg)
            if sorted(spec.items) != sorted(expected):
                msg = f"scoring.ahp.{key}.items must list exactly {expected} (found {spec.items})"
                raise ValueError(msg)


def _default_criteria() -> dict[str, CriterionSpec]:
    """Default criteria on the criteria stage's indicator columns (sources in docs/scoring.md)."""
    return {k: CriterionSpec(**v) for k, v in _default_criterion_dicts().items()}


def _merged_criteria(user: dict[str, Any], ahp_keys: set[str]) -> dict[str, Any]:
    """The default criteria with the user's tables merged in (see ``replace_defaults``).

    A user's table without ``kind`` changes only the keys it gives; with ``kind`` (or a whole
    :class:`CriterionSpec`) it replaces the criterion. Default criteria of a family whose
    weights come from ``[scoring.ahp.<family>]`` carry no weight of their own.
    """
    out: dict[str, Any] = {}
    for key, spec in _default_criterion_dicts().items():
        d = dict(spec)
        if d["family"] in ahp_keys:
            d.pop("weight", None)
        out[key] = d
    for key, given in user.items():
        if isinstance(given, CriterionSpec):
            given = given.model_dump(exclude_unset=True)
        if not isinstance(given, dict):
            out[key] = given  # let the model report the type error
            continue
        if key in out and "kind" not in given:
            merged = {**out[key], **given}
            if "columns" in given:
                merged.pop("column", None)
            if "column" in given:
                merged.pop("columns", None)
            out[key] = merged
        else:
            out[key] = dict(given)
    return out


def _default_criterion_dicts() -> dict[str, dict[str, Any]]:
    """The default criteria as plain tables, in family order (risk, contamination, land, people)."""
    return {
        # risk: where harm happens (criteria/risk.py); kernel- and age-weighted accidents
        "accident_risk": dict(
            column="accident_risk",
            family="risk",
            kind="linear",
            points=[(0, 0.0), (0.1, 0.5), (0.3, 0.75), (1, 0.9), (10, 1.0)],
            weight=0.50,
            label="{x:.2f} weighted accident{s} nearby",
            unit="weighted accidents",
        ),
        "accident_recency": dict(
            column="accident_recency",
            family="risk",
            kind="linear",
            points=[(0, 0.0), (0.1, 0.5), (0.3, 0.75), (1, 1.0)],
            weight=0.20,
            label="latest accident nearby weighs {x:.2f}",
            unit="0-1",
        ),
        # contamination: lives and limbs (GICHD), Landmine Impact Survey's 24-month victims
        "casualties": dict(
            column="casualties_24m",
            family="contamination",
            kind="linear",
            points=[(0, 0.0), (1, 0.5), (3, 0.8), (5, 1.0)],
            weight=0.40,
            label="{x:.0f} victim{s} in the last 24 months",
            unit="people",
        ),
        "status": dict(
            column="status",
            family="contamination",
            kind="categorical",
            map={"CHA": 1.0, "SHA": 0.5, "released": 0.0},
            weight=0.25,
            labels={
                "CHA": "confirmed hazardous area",
                "SHA": "suspected hazardous area",
                "released": "released land",
            },
        ),
        "device_density": dict(
            column="devices_per_ha",
            family="contamination",
            kind="linear",
            points=[(0, 0.0), (2, 0.5), (10, 1.0)],
            weight=0.20,
            label="{x:.1f} devices found per ha",
            unit="devices/ha",
        ),
        "cmr": dict(
            column="is_cmr",
            family="contamination",
            kind="boolean",
            weight=0.15,
            label="cluster munition remnants",
        ),
        # contamination extends: devices seen or found on the records nearby (criteria/risk.py)
        "evidence_nearby": dict(
            column="evidence_nearby",
            family="contamination",
            kind="linear",
            points=[(0, 0.0), (0.2, 0.3), (1, 0.6), (4, 0.85), (20, 1.0)],
            weight=0.20,
            label="{x:.1f} weighted hazard record{s} nearby",
            unit="weighted areas",
        ),
        # land: blocked productive land (share and scale) and roads
        "productive_share": dict(
            columns=["landuse_frac_cropland", "landuse_frac_paddy"],
            family="land",
            kind="linear",
            points=[(0, 0.0), (1, 1.0)],
            weight=0.40,
            label="{x:.0%} cropland or paddy",
            unit="fraction",
        ),
        "productive_area": dict(
            column="blocked_productive_m2",
            family="land",
            kind="linear",
            points=[(0, 0.0), (10_000, 0.5), (50_000, 1.0)],
            weight=0.40,
            label="{x:,.0f} m² of productive land blocked",
            unit="m2",
        ),
        "roads": dict(
            column="road_length_m",
            family="land",
            kind="linear",
            points=[(0, 0.0), (1_000, 1.0)],
            weight=0.20,
            label="{x:,.0f} m of road blocked",
            unit="m",
        ),
        # people: exposure and remoteness
        "population": dict(
            column="population_within_30min",
            family="people",
            kind="linear",
            points=[(0, 0.0), (1_000, 0.5), (5_000, 1.0)],
            weight=0.40,
            label="{x:,.0f} people within 30 min",
            unit="people",
        ),
        "settlement_access": dict(
            column="travel_min_settlement",
            family="people",
            kind="linear",
            points=[(0, 1.0), (120, 0.0)],
            weight=0.35,
            label="{x:.0f} min from the nearest settlement",
            unit="min",
        ),
        "remote_survivors": dict(
            column="near_remote_survivors",
            family="people",
            kind="boolean",
            weight=0.25,
            label="survivors living far from care nearby",
        ),
    }
