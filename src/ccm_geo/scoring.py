"""Scoring: value functions, weights, contributions, score, rank, priority class, sensitivity.

Every score breaks into parts that add up: each criterion's indicator is mapped to a value in
0-1 by a value function fixed in the configuration (never rescaled by the data unless the user
asks for ``kind = "minmax"``), multiplied by the criterion's final weight (family weight x
indicator weight) to give its contribution, and the contributions sum to the score. Ranks break
ties by ``hazard_id`` ascending, so the same input always gives the same plan. See
``docs/scoring.md`` for a planner's guide.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import CcmGeoWarning, ConfigError, InputError

__all__ = [
    "CriterionSpec",
    "AhpSpec",
    "ClassSettings",
    "SensitivitySettings",
    "ScoringSettings",
    "SensitivityResult",
    "MinMaxWarning",
    "RANDOM_INDEX",
    "DEFAULT_FAMILIES",
    "DEFAULT_SCENARIOS",
    "score_areas",
    "resolve_weights",
    "weights_table",
    "ahp_weights",
    "sensitivity",
    "scenario_ranks",
    "compare_scenarios",
]

logger = logging.getLogger(__name__)

#: Saaty's random consistency index RI by matrix size n (Saaty, T.L. 1980, *The Analytic
#: Hierarchy Process*, McGraw-Hill; n = 11-15 from Saaty 2005, *Theory and Applications of the
#: Analytic Network Process*, RWS Publications, p. 31). CR = CI / RI, CI = (lambda_max - n)/(n-1).
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}
#: Judgements are rejected at this consistency ratio and above (Saaty 1980: CR < 0.10).
MAX_CONSISTENCY_RATIO = 0.10

#: Default family weights (assumption, after GICHD's priority-setting briefs: "fewer lives and
#: limbs lost" first, then economic use of land, then people exposed and remoteness).
DEFAULT_FAMILIES: dict[str, float] = {"contamination": 0.45, "land": 0.30, "people": 0.25}

#: Default scenarios: weight overrides (family or criterion keys), each renormalised.
DEFAULT_SCENARIOS: dict[str, dict[str, float]] = {
    "casualty_reduction": {"contamination": 0.6, "land": 0.1, "people": 0.3, "casualties": 0.6},
    "agriculture": {"contamination": 0.25, "land": 0.6, "people": 0.15},
    "treaty_compliance": {
        "contamination": 0.7,
        "land": 0.15,
        "people": 0.15,
        "cmr": 0.5,
        "status": 0.3,
    },
}

#: Output columns other than value_* / contrib_* (dropped from the input before re-scoring).
_OUTPUT_COLUMNS = ("score", "rank", "priority_class", "explanation")

Kind = Literal["linear", "categorical", "logistic", "threshold", "boolean", "minmax"]
Direction = Literal["increasing", "decreasing"]

#: Parameters each value function reads; any other parameter given is a configuration mistake.
_KIND_PARAMS: dict[str, frozenset[str]] = {
    "linear": frozenset({"points"}),
    "categorical": frozenset({"map", "labels", "other", "separator"}),
    "logistic": frozenset({"midpoint", "scale", "direction"}),
    "threshold": frozenset({"at", "direction"}),
    "boolean": frozenset({"direction"}),
    "minmax": frozenset({"direction"}),
}
_ALL_PARAMS = frozenset().union(*_KIND_PARAMS.values())
_NUMERIC_KINDS = frozenset({"linear", "logistic", "threshold", "minmax"})
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})


class MinMaxWarning(CcmGeoWarning):
    """A criterion uses min-max normalisation: its values depend on which areas are scored.

    Adding or removing one area can then change the order of the others (rank reversal), and
    scores of two runs cannot be compared. Prefer a fixed ``linear`` value function.
    """


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


class CriterionSpec(Frozen):
    """One criterion: an indicator column, its value function (to 0-1), family and weight.

    Value functions (``kind``) and their parameters:

    - ``linear``: piecewise linear through ``points = [[x, value], ...]`` (x strictly
      increasing, values in 0-1), constant beyond the first and last point.
    - ``categorical``: ``map = {code = value}``; codes not in the map get ``other``; with
      ``separator`` (e.g. ``";"``) a cell holding several codes gets the highest value.
    - ``logistic``: ``1 / (1 + exp(-(x - midpoint) / scale))`` (``direction = "decreasing"``
      mirrors it); ``scale`` in the column's unit.
    - ``threshold``: 1 where ``x >= at`` (``"decreasing"``: where ``x <= at``), else 0.
    - ``boolean``: true -> 1, false -> 0 (``"decreasing"``: the reverse).
    - ``minmax``: ``(x - min) / (max - min)`` over the areas being scored. Not recommended
      (rank reversal); emits a :class:`MinMaxWarning`.

    Missing values (NaN, None) take the value ``missing`` and are counted.
    """

    column: str | None = Field(None, description="Indicator column read from the areas.")
    columns: list[str] | None = Field(
        None,
        description="Several columns summed into one indicator (numeric kinds only); NaN "
        "where any of them is NaN. Give either column or columns.",
    )
    family: str = Field(description="Criterion family (e.g. 'contamination').")
    kind: Kind = Field(
        description="Value function: linear, categorical, logistic, threshold, boolean or minmax."
    )
    weight: float = Field(
        1.0,
        description="Weight inside the family (normalised over the "
        "family; final weight = family weight x this).",
    )
    missing: float = Field(
        0.0, ge=0.0, le=1.0, description="Value (0-1) given to a missing indicator."
    )
    label: str | None = Field(
        None,
        description="Words for explanations, a template where {x} is the indicator and "
        "{s} a plural 's', e.g. '{x:.0f} victim{s} in the last 24 months'.",
    )
    unit: str = Field("", description="Unit of the indicator, for tables and the default label.")
    points: list[tuple[float, float]] | None = Field(
        None, description="linear: breakpoints [[x, value], ...]."
    )
    map: dict[str, float] | None = Field(None, description="categorical: code -> value (0-1).")
    labels: dict[str, str] | None = Field(
        None, description="categorical: code -> words for explanations."
    )
    other: float = Field(0.0, ge=0.0, le=1.0, description="categorical: value of codes not in map.")
    separator: str | None = Field(
        None,
        description="categorical: split cells holding several "
        "codes (e.g. ';'); the highest value counts.",
    )
    midpoint: float | None = Field(None, description="logistic: x where the value is 0.5.")
    scale: float | None = Field(None, gt=0, description="logistic: spread, in the column's unit.")
    at: float | None = Field(None, description="threshold: the threshold, in the column's unit.")
    direction: Direction = Field(
        "increasing",
        description="logistic, threshold, boolean, minmax: 'decreasing' reverses the function.",
    )

    @field_validator("weight")
    @classmethod
    def _weight_non_negative(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:
            msg = (
                f"weight must be a finite number >= 0 (found {v!r}); weights are relative "
                "importances inside the family, e.g. 1.0"
            )
            raise ValueError(msg)
        return v

    @field_validator("map")
    @classmethod
    def _map_values(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None:
            bad = {k: x for k, x in v.items() if not 0.0 <= x <= 1.0}
            if bad:
                msg = f"map values must lie in 0-1 (found {bad}); e.g. map = {{CHA = 1.0}}"
                raise ValueError(msg)
            if not v:
                msg = "map is empty; give at least one code, e.g. map = {CHA = 1.0, SHA = 0.5}"
                raise ValueError(msg)
        return v

    @field_validator("points")
    @classmethod
    def _points_shape(cls, v: list[tuple[float, float]] | None) -> list | None:
        if v is None:
            return v
        if len(v) < 2:
            msg = (
                f"points needs at least 2 breakpoints (found {len(v)}); e.g. "
                "points = [[0, 1], [120, 0]]"
            )
            raise ValueError(msg)
        xs = [p[0] for p in v]
        if any(not (b > a) for a, b in zip(xs, xs[1:], strict=False)) or not all(
            math.isfinite(x) for x in xs
        ):
            msg = f"points: x must be finite and strictly increasing (found x = {xs})"
            raise ValueError(msg)
        bad = [p[1] for p in v if not 0.0 <= p[1] <= 1.0]
        if bad:
            msg = f"points: values must lie in 0-1 (found {bad})"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _kind_parameters(self) -> CriterionSpec:
        if (self.column is None) == (self.columns is None):
            msg = (
                "give exactly one of column = 'name' or columns = ['a', 'b'] (summed) "
                f"(found column={self.column!r}, columns={self.columns!r})"
            )
            raise ValueError(msg)
        if self.columns is not None and (not self.columns or self.kind not in _NUMERIC_KINDS):
            msg = (
                f"columns (a sum of columns) needs a non-empty list and a numeric kind "
                f"({', '.join(sorted(_NUMERIC_KINDS))}); found kind={self.kind!r}, "
                f"columns={self.columns!r}"
            )
            raise ValueError(msg)
        stray = sorted((self.model_fields_set & _ALL_PARAMS) - _KIND_PARAMS[self.kind])
        if stray:
            users = {p: [k for k, ps in _KIND_PARAMS.items() if p in ps] for p in stray}
            msg = (
                f"{', '.join(stray)} not used by kind={self.kind!r} (used by: "
                + "; ".join(f"{p}: {', '.join(u)}" for p, u in users.items())
                + "); remove it or change kind"
            )
            raise ValueError(msg)
        required = {
            "linear": ("points",),
            "categorical": ("map",),
            "logistic": ("midpoint", "scale"),
            "threshold": ("at",),
        }.get(self.kind, ())
        absent = [p for p in required if getattr(self, p) is None]
        if absent:
            msg = f"kind={self.kind!r} needs {', '.join(absent)}; see docs/scoring.md"
            raise ValueError(msg)
        if self.label is not None:
            sample: Any = 1.0 if self.kind in _NUMERIC_KINDS else "CHA"
            try:
                self.label.format(x=sample, s="s")
            except (KeyError, IndexError, ValueError, AttributeError) as exc:
                msg = (
                    f"label {self.label!r} is not a valid template ({exc!r}): use {{x}} for "
                    "the indicator (numeric kinds: e.g. '{x:.0f} min'), {s} for a plural "
                    "'s', and double braces for a literal brace"
                )
                raise ValueError(msg) from None
        return self

    @property
    def source_columns(self) -> list[str]:
        """The input columns this criterion reads."""
        return list(self.columns) if self.columns is not None else [str(self.column)]


class AhpSpec(Frozen):
    """A pairwise comparison matrix (Saaty's 1-9 scale) that sets weights of ``items``.

    ``matrix[i][j]`` says how much more important ``items[i]`` is than ``items[j]`` (1 equal,
    3 moderate, 5 strong, 7 very strong, 9 extreme). Entries may be numbers or fractions as
    text (``"1/3"``). The lower triangle must hold the reciprocals of the upper one (checked
    within 5 %). Judgements with a consistency ratio of 0.10 or more are rejected.
    """

    items: list[str] = Field(description="Names compared, in matrix order.")
    matrix: list[list[float | str]] = Field(description="Square reciprocal matrix, n x n.")

    @field_validator("matrix")
    @classmethod
    def _parse_fractions(cls, v: list[list[float | str]]) -> list[list[float]]:
        out = []
        for i, row in enumerate(v):
            parsed = []
            for j, x in enumerate(row):
                try:
                    val = float(Fraction(x.strip())) if isinstance(x, str) else float(x)
                except (ValueError, ZeroDivisionError):
                    msg = f"matrix[{i}][{j}] = {x!r} is not a number or a fraction like '1/3'"
                    raise ValueError(msg) from None
                if not (math.isfinite(val) and val > 0):
                    msg = f"matrix[{i}][{j}] = {x!r}: judgements must be positive numbers"
                    raise ValueError(msg)
                parsed.append(val)
            out.append(parsed)
        return out

    @model_validator(mode="after")
    def _consistent(self) -> AhpSpec:
        n = len(self.items)
        if n < 1 or len(set(self.items)) != n:
            msg = f"items must be a non-empty list of distinct names (found {self.items})"
            raise ValueError(msg)
        if n > max(RANDOM_INDEX):
            msg = (
                f"{n} items: at most {max(RANDOM_INDEX)} can be compared (Saaty's random "
                "index table ends there); split them into families"
            )
            raise ValueError(msg)
        if len(self.matrix) != n or any(len(r) != n for r in self.matrix):
            shape = f"{len(self.matrix)} rows of lengths {[len(r) for r in self.matrix]}"
            msg = f"matrix must be {n} x {n} for items {self.items} (found {shape})"
            raise ValueError(msg)
        a = np.asarray(self.matrix, dtype=float)
        for i in range(n):
            if not math.isclose(a[i, i], 1.0):
                msg = f"matrix[{i}][{i}] ({self.items[i]} vs itself) must be 1 (found {a[i, i]})"
                raise ValueError(msg)
            for j in range(i + 1, n):
                if abs(a[i, j] * a[j, i] - 1.0) > 0.05:
                    msg = (
                        f"matrix is not reciprocal: {self.items[i]} vs {self.items[j]} = "
                        f"{a[i, j]:g} but {self.items[j]} vs {self.items[i]} = {a[j, i]:g}; "
                        f"set the latter to 1/{a[i, j]:g}"
                    )
                    raise ValueError(msg)
        _, cr, worst = ahp_weights(a, labels=self.items)
        if cr >= MAX_CONSISTENCY_RATIO:
            raise ValueError(_inconsistency_message(a, self.items, cr, worst))
        return self

    def reciprocal(self) -> np.ndarray:
        """The matrix as an array, the lower triangle set to the reciprocals of the upper."""
        a = np.asarray(self.matrix, dtype=float)
        iu = np.triu_indices(len(a), 1)
        a[(iu[1], iu[0])] = 1.0 / a[iu]
        return a


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
    def _defaults_follow_criteria(cls, data: Any) -> Any:
        if isinstance(data, dict) and "criteria" not in data:
            data = dict(data)
            ahp = data.get("ahp") or {}
            if "families" not in data and not (isinstance(ahp, dict) and "families" in ahp):
                data["families"] = dict(DEFAULT_FAMILIES)
            data.setdefault("scenarios", {k: dict(v) for k, v in DEFAULT_SCENARIOS.items()})
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


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SensitivityResult:
    """What weight perturbation does to the ranking.

    Attributes
    ----------
    areas
        Per area, indexed like the input: ``hazard_id``, ``rank`` (base), ``rank_p05``,
        ``rank_p50``, ``rank_p95`` (percentiles of the rank over the draws) and ``p_top_n``
        (share of draws in which the area is in the top N).
    summary
        ``spearman_mean``, ``spearman_p05`` (rank correlation of perturbed rankings with the
        base one), ``p_same_top_n`` (share of draws with exactly the base top-N set),
        ``draws``, ``concentration``, ``top_n``, ``seed``, ``scenario``.
    sweep
        One row per criterion: its ``weight``, the weights at which the top-N set first
        changes when the weight is lowered (``weight_down``) or raised (``weight_up``, tested up
        to ``max_weight`` = min(2 x weight, 1)), others renormalised; NaN: no change in range.
        ``enters_*``/``leaves_*`` name the areas swapping at that point.
    """

    areas: pd.DataFrame
    summary: dict[str, Any]
    sweep: pd.DataFrame


def score_areas(
    areas: pd.DataFrame, settings: ScoringSettings | None = None, *, scenario: str | None = None
) -> pd.DataFrame:
    """Score, rank and classify hazardous areas, with every score broken into contributions.

    Parameters
    ----------
    areas
        One row per area with a unique ``hazard_id`` and the indicator columns the criteria
        name (e.g. ``casualties_24m`` in people, ``travel_min_settlement`` in minutes). Not
        modified.
    settings
        The [scoring] settings; default ``ScoringSettings()``.
    scenario
        Name of a scenario in ``settings.scenarios`` whose weights to use; None: base weights.

    Returns
    -------
    pandas.DataFrame
        A copy of ``areas`` (same index and type, e.g. a GeoDataFrame) with ``value_<key>``
        (0-1) and ``contrib_<key>`` (weight x value) per criterion key, ``score`` (sum of the
        contributions, 0-1), ``rank`` (1 = highest score; ties by hazard_id ascending),
        ``priority_class`` (high/medium/low) and ``explanation`` (top contributions in words).
        ``attrs["scoring"]`` holds the weights, the scenario and the count of missing values
        per criterion.

    Raises
    ------
    InputError
        A column named in the settings is absent (the message names it, its config key and the
        columns present), an indicator is not numeric where it must be, or ``hazard_id`` is
        missing or not unique.
    ConfigError
        ``scenario`` is not defined.

    Warns
    -----
    MinMaxWarning
        A criterion uses ``kind = "minmax"``.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    weights = resolve_weights(settings, scenario)
    vals = _value_matrix(areas, settings, warn=True)
    w = weights.reindex(vals.keys).to_numpy()
    contrib = vals.values * w
    score = contrib.sum(axis=1)
    order = _hid_order(hid)
    rank = _ranks(score, order)
    new = {}
    for j, key in enumerate(vals.keys):
        new[f"value_{key}"] = vals.values[:, j]
    for j, key in enumerate(vals.keys):
        new[f"contrib_{key}"] = contrib[:, j]
    new["score"] = score
    new["rank"] = rank
    new["priority_class"] = _classes(score, rank, settings.classes)
    new["explanation"] = _explanations(vals, contrib, settings)
    out = _attach(areas, pd.DataFrame(new))
    missing = {k: int(vals.missing[:, j].sum()) for j, k in enumerate(vals.keys)}
    if any(missing.values()):
        logger.info(
            "scoring: missing indicator values (set to each criterion's 'missing'): %s",
            {k: v for k, v in missing.items() if v},
        )
    out.attrs["scoring"] = {
        "scenario": scenario or "base",
        "weights": weights.to_dict(),
        "missing": missing,
    }
    return out


def resolve_weights(
    settings: ScoringSettings | None = None, scenario: str | None = None
) -> pd.Series:
    """Final weight of each criterion: family weight x weight inside the family.

    Parameters
    ----------
    settings
        The [scoring] settings; default ``ScoringSettings()``.
    scenario
        A key of ``settings.scenarios``; None for the base weights.

    Returns
    -------
    pandas.Series
        Weights (dimensionless, sum 1) indexed by criterion key in config order, named
        ``weight``.

    Raises
    ------
    ConfigError
        Unknown scenario, negative weights, or weights all zero at one level (the message names
        the key).
    """
    return weights_table(settings, scenario)["weight"]


def weights_table(
    settings: ScoringSettings | None = None, scenario: str | None = None
) -> pd.DataFrame:
    """The weights of every criterion, level by level, for reports.

    Returns
    -------
    pandas.DataFrame
        Indexed by criterion key: ``family``, ``family_weight`` (sum 1 over families),
        ``indicator_weight`` (sum 1 inside each family), ``weight`` (their product, sum 1),
        ``column`` (input columns, '+'-joined), ``kind`` and ``unit``.
    """
    settings = settings if settings is not None else ScoringSettings()
    fam_w, ind_w = _weight_parts(settings, scenario)
    rows = []
    for key, spec in settings.criteria.items():
        rows.append(
            {
                "criterion": key,
                "family": spec.family,
                "family_weight": fam_w[spec.family],
                "indicator_weight": ind_w[key],
                "weight": fam_w[spec.family] * ind_w[key],
                "column": "+".join(spec.source_columns),
                "kind": spec.kind,
                "unit": spec.unit,
            }
        )
    return pd.DataFrame(rows).set_index("criterion")


def ahp_weights(
    matrix: Any,
    labels: list[str] | None = None,
) -> tuple[pd.Series, float, tuple[Any, Any] | None]:
    """Weights from a pairwise comparison matrix (Saaty's eigenvector method) and its CR.

    Parameters
    ----------
    matrix
        Square positive reciprocal matrix (array-like or DataFrame): ``a[i, j]`` is how much
        more important item i is than item j on Saaty's 1-9 scale.
    labels
        Item names; default the DataFrame's index, else 0..n-1.

    Returns
    -------
    weights : pandas.Series
        Normalised principal right eigenvector (sum 1), indexed by label.
    cr : float
        Consistency ratio CI / RI with CI = (lambda_max - n) / (n - 1) and Saaty's random index
        (:data:`RANDOM_INDEX`); 0 for n <= 2. Saaty accepts CR < 0.10.
    worst_pair : tuple or None
        The pair (i, j), i before j, whose judgement a_ij deviates most from the ratio w_i/w_j
        implied by the weights (largest ``|ln(a_ij w_j / w_i)|``); None for n = 1.

    Raises
    ------
    ConfigError
        The matrix is not square, not positive, or larger than 15 x 15.
    """
    if labels is None:
        labels = list(matrix.index) if isinstance(matrix, pd.DataFrame) else None
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0] if a.ndim == 2 else 0
    if a.ndim != 2 or a.shape != (n, n) or n == 0:
        msg = f"AHP matrix must be square and non-empty (found shape {a.shape})"
        raise ConfigError(msg)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        msg = "AHP matrix entries must be finite positive numbers (Saaty's scale 1/9 ... 9)"
        raise ConfigError(msg)
    if n > max(RANDOM_INDEX):
        msg = f"AHP matrix of size {n}: at most {max(RANDOM_INDEX)} items (random index table)"
        raise ConfigError(msg)
    labels = list(range(n)) if labels is None else list(labels)
    eigval, eigvec = np.linalg.eig(a)
    k = int(np.argmax(eigval.real))
    w = np.abs(eigvec[:, k].real)
    w = w / w.sum()
    lam = float(eigval[k].real)
    ri = RANDOM_INDEX[n]
    cr = 0.0 if ri == 0 else max(0.0, (lam - n) / (n - 1) / ri)
    worst = None
    if n > 1:
        dev = np.abs(np.log(a * w[None, :] / w[:, None]))
        dev[np.tril_indices(n)] = -1.0
        i, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
        worst = (labels[int(i)], labels[int(j)])
    return pd.Series(w, index=labels, name="weight"), float(cr), worst


def sensitivity(
    areas: pd.DataFrame,
    settings: ScoringSettings | None = None,
    *,
    seed: int,
    draws: int | None = None,
    scenario: str | None = None,
) -> SensitivityResult:
    """How stable is the ranking when the weights move? Monte Carlo and one-at-a-time.

    Weights are drawn from a Dirichlet distribution centred on the chosen weights
    (alpha = concentration x weight; criteria of weight 0 stay at 0). Scores of all draws are
    one matrix product, (areas x criteria values) @ (criteria x draws), computed in chunks of
    draws so that memory stays near 4 bytes x areas x draws for the rank matrix.

    Parameters
    ----------
    areas
        Scored areas (``value_<key>`` columns are used when all present) or the indicator
        columns (values are then computed); needs ``hazard_id``. Not modified.
    settings
        The [scoring] settings (``top_n``, ``sensitivity.draws``/``concentration``).
    seed
        Seed of the numpy random Generator: the same seed gives the same result.
    draws
        Number of weight draws; default ``settings.sensitivity.draws``.
    scenario
        Perturb this scenario's weights instead of the base ones.

    Returns
    -------
    SensitivityResult
        Per-area rank intervals and top-N probabilities, a summary and the one-at-a-time sweep.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    n = len(hid)
    if n == 0:
        msg = "sensitivity: no areas to rank; score at least one area"
        raise InputError(msg)
    draws = settings.sensitivity.draws if draws is None else int(draws)
    if draws < 1:
        msg = f"sensitivity: draws must be >= 1 (found {draws})"
        raise ConfigError(msg)
    weights = resolve_weights(settings, scenario)
    keys = list(weights.index)
    vals = _stored_values(areas, keys)
    if vals is None:
        vals = _value_matrix(areas, settings, warn=True).values
    w = weights.to_numpy()
    order = _hid_order(hid)
    base_rank = _ranks((vals * w).sum(axis=1), order)
    vs = np.ascontiguousarray(vals[order])
    rb = base_rank[order]
    top_n = settings.top_n
    conc = settings.sensitivity.concentration
    wdraws = _dirichlet(w, conc, draws, seed)
    ranks, rho, same = _mc_ranks(vs, wdraws, rb, top_n)
    pct = _row_percentiles(ranks, (5, 50, 95))
    table = pd.DataFrame(index=areas.index)
    table["hazard_id"] = hid.to_numpy()
    table["rank"] = base_rank
    for q, col in zip(pct, ("rank_p05", "rank_p50", "rank_p95"), strict=True):
        col_vals = np.empty(n, dtype=np.int64)
        col_vals[order] = q
        table[col] = col_vals
    p_top = np.empty(n)
    p_top[order] = (ranks <= top_n).mean(axis=1)
    table["p_top_n"] = p_top
    summary = {
        "spearman_mean": float(rho.mean()),
        "spearman_p05": float(np.percentile(rho, 5)),
        "spearman_min": float(rho.min()),
        "p_same_top_n": float(same.mean()),
        "draws": draws,
        "concentration": conc,
        "top_n": top_n,
        "seed": seed,
        "scenario": scenario or "base",
    }
    fams = [settings.criteria[k].family for k in keys]
    sweep = _sweep(vs, w, keys, fams, rb, top_n, hid.to_numpy()[order])
    return SensitivityResult(areas=table, summary=summary, sweep=sweep)


def scenario_ranks(
    areas: pd.DataFrame,
    settings: ScoringSettings | None = None,
) -> pd.DataFrame:
    """Score and rank every area under the base weights and each scenario, in one pass.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``areas``: ``hazard_id``, then ``score_<scenario>`` and ``rank_<scenario>``
        for ``base`` and each scenario in config order.
    """
    settings = settings if settings is not None else ScoringSettings()
    hid = _hazard_ids(areas)
    vals = _value_matrix(areas, settings, warn=True)
    order = _hid_order(hid)
    out = pd.DataFrame(index=areas.index)
    out["hazard_id"] = hid.to_numpy()
    for name in ["base", *settings.scenarios]:
        w = resolve_weights(settings, None if name == "base" else name)
        score = (vals.values * w.reindex(vals.keys).to_numpy()).sum(axis=1)
        out[f"score_{name}"] = score
        out[f"rank_{name}"] = _ranks(score, order)
    return out


def compare_scenarios(
    areas: pd.DataFrame, settings: ScoringSettings | None = None, *, top_n: int | None = None
) -> pd.DataFrame:
    """How the top N differs between the base weights and each scenario, pair by pair.

    Parameters
    ----------
    areas
        Areas with the indicator columns and ``hazard_id``.
    settings
        The [scoring] settings; its ``scenarios`` are compared with ``base`` and each other.
    top_n
        Size of the top set; default ``settings.top_n``.

    Returns
    -------
    pandas.DataFrame
        One row per pair (base first, then scenario pairs in config order): ``scenario_a``,
        ``scenario_b``, ``top_n``, ``overlap`` (areas in both top sets), ``jaccard``
        (overlap / union), ``entering`` (in b's top N but not a's, by b's rank, ';'-joined
        hazard_ids), ``leaving`` (in a's but not b's, by a's rank) and ``spearman`` (rank
        correlation over all areas).
    """
    settings = settings if settings is not None else ScoringSettings()
    top_n = settings.top_n if top_n is None else int(top_n)
    ranks = scenario_ranks(areas, settings)
    names = ["base", *settings.scenarios]
    hid = ranks["hazard_id"].astype(str).to_numpy()
    n = len(ranks)
    rows = []
    for ia, a in enumerate(names):
        for b in names[ia + 1 :]:
            ra = ranks[f"rank_{a}"].to_numpy()
            rb = ranks[f"rank_{b}"].to_numpy()
            top_a, top_b = ra <= top_n, rb <= top_n
            both = int((top_a & top_b).sum())
            union = int((top_a | top_b).sum())
            enter = np.flatnonzero(top_b & ~top_a)
            leave = np.flatnonzero(top_a & ~top_b)
            rows.append(
                {
                    "scenario_a": a,
                    "scenario_b": b,
                    "top_n": min(top_n, n),
                    "overlap": both,
                    "jaccard": both / union if union else 1.0,
                    "entering": ";".join(hid[enter[np.argsort(rb[enter])]]),
                    "leaving": ";".join(hid[leave[np.argsort(ra[leave])]]),
                    "spearman": _spearman(ra, rb),
                }
            )
    cols = [
        "scenario_a",
        "scenario_b",
        "top_n",
        "overlap",
        "jaccard",
        "entering",
        "leaving",
        "spearman",
    ]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _default_criteria() -> dict[str, CriterionSpec]:
    """Default criteria on the criteria stage's indicator columns (sources in docs/scoring.md)."""
    specs: dict[str, dict[str, Any]] = {
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
    return {k: CriterionSpec(**v) for k, v in specs.items()}


def _inconsistency_message(
    a: np.ndarray, items: list[str], cr: float, worst: tuple[Any, Any] | None
) -> str:
    w, _, _ = ahp_weights(a, labels=items)
    msg = (
        f"consistency ratio {cr:.3f} >= {MAX_CONSISTENCY_RATIO:.2f}: the judgements "
        "contradict each other"
    )
    if worst is not None:
        i, j = items.index(worst[0]), items.index(worst[1])
        implied = w.iloc[i] / w.iloc[j]
        msg += (
            f"; the most inconsistent judgement is {worst[0]} vs {worst[1]} = "
            f"{a[i, j]:.3g}, while the other judgements imply about {implied:.2g}. Revise "
            "that comparison (or the ones it contradicts) and check again"
        )
    return msg


def _weight_parts(
    settings: ScoringSettings,
    scenario: str | None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Normalised family weights and indicator weights (inside each family)."""
    fams = settings.family_names
    if scenario is not None and scenario not in settings.scenarios:
        msg = (
            f"scenario {scenario!r} is not defined in scoring.scenarios (defined: "
            f"{list(settings.scenarios) or 'none'}); add it or use one of those"
        )
        raise ConfigError(msg)
    overrides = settings.scenarios.get(scenario, {}) if scenario else {}
    where = f"scoring.scenarios.{scenario}" if scenario else "scoring"
    if "families" in settings.ahp:
        ahp = settings.ahp["families"]
        w, _, _ = ahp_weights(ahp.reciprocal(), labels=ahp.items)
        fam_raw = {f: float(w[f]) for f in fams}
    elif settings.families is not None:
        fam_raw = {f: float(settings.families[f]) for f in fams}
    else:
        fam_raw = dict.fromkeys(fams, 1.0)
    ind_raw: dict[str, float] = {}
    for fam in fams:
        members = [k for k, s in settings.criteria.items() if s.family == fam]
        if fam in settings.ahp:
            ahp = settings.ahp[fam]
            w, _, _ = ahp_weights(ahp.reciprocal(), labels=ahp.items)
            ind_raw.update({k: float(w[k]) for k in members})
        else:
            ind_raw.update({k: settings.criteria[k].weight for k in members})
    for key, v in overrides.items():
        if key in fam_raw:
            fam_raw[key] = float(v)
        else:
            ind_raw[key] = float(v)
    for key, v in {**fam_raw, **ind_raw}.items():
        if not math.isfinite(v) or v < 0:
            what = "family" if key in fam_raw else "criterion"
            msg = f"{where}: weight of {what} {key!r} must be >= 0 (found {v!r})"
            raise ConfigError(msg)
    fam_total = sum(fam_raw.values())
    if fam_total <= 0:
        msg = (
            f"{where}: every family weight is 0 ({fam_raw}); give at least one family a "
            "positive weight"
        )
        raise ConfigError(msg)
    fam_w = {f: v / fam_total for f, v in fam_raw.items()}
    ind_w: dict[str, float] = {}
    for fam in fams:
        members = [k for k, s in settings.criteria.items() if s.family == fam]
        total = sum(ind_raw[k] for k in members)
        if total <= 0:
            msg = (
                f"{where}: every criterion of family {fam!r} has weight 0 ("
                + ", ".join(f"scoring.criteria.{k}.weight" for k in members)
                + "); give one a positive weight, or drop the family"
            )
            raise ConfigError(msg)
        ind_w.update({k: ind_raw[k] / total for k in members})
    return fam_w, ind_w


@dataclass(frozen=True)
class _Values:
    """Values (n x k, 0-1), raw indicators and missing masks of every criterion."""

    keys: list[str]
    values: np.ndarray
    raw: list[np.ndarray]
    missing: np.ndarray
    specs: list[CriterionSpec]


def _hazard_ids(areas: pd.DataFrame) -> pd.Series:
    if "hazard_id" not in areas.columns:
        msg = (
            f"scoring: the areas have no 'hazard_id' column (columns present: "
            f"{list(areas.columns)}); load them with ccm_geo's loader or add the column"
        )
        raise InputError(msg)
    hid = areas["hazard_id"]
    if hid.isna().any():
        msg = (
            f"scoring: {int(hid.isna().sum())} area(s) have no hazard_id (rows "
            f"{list(np.flatnonzero(hid.isna().to_numpy())[:10])}); give every area an id"
        )
        raise InputError(msg)
    dup = hid[hid.duplicated()].unique()
    if len(dup):
        msg = (
            f"scoring: hazard_id must be unique; {len(dup)} repeated, e.g. "
            f"{list(dup[:10])}; fix the register"
        )
        raise InputError(msg)
    return hid


def _hid_order(hid: pd.Series) -> np.ndarray:
    """Positions of the areas sorted by hazard_id ascending (numbers as numbers, else text)."""
    if pd.api.types.is_numeric_dtype(hid.dtype):
        key = hid.to_numpy()
    else:
        key = hid.astype(str).to_numpy()
    return np.argsort(key, kind="stable")


def _ranks(score: np.ndarray, hid_order: np.ndarray) -> np.ndarray:
    """Rank 1 = highest score; scores equal to 12 decimals tie and go by hazard_id ascending."""
    key = np.round(score, 12)[hid_order]
    order = hid_order[np.argsort(-key, kind="stable")]
    ranks = np.empty(len(score), dtype=np.int64)
    ranks[order] = np.arange(1, len(score) + 1)
    return ranks


def _value_matrix(areas: pd.DataFrame, settings: ScoringSettings, *, warn: bool) -> _Values:
    absent = [
        (key, col)
        for key, spec in settings.criteria.items()
        for col in spec.source_columns
        if col not in areas.columns
    ]
    if absent:
        where = "; ".join(
            f"{col!r} (scoring.criteria.{key}.column"
            f"{'s' if settings.criteria[key].columns else ''})"
            for key, col in absent
        )
        msg = (
            f"scoring: column(s) not in the areas: {where}. Columns present: "
            f"{sorted(map(str, areas.columns))}. Run the criteria stage first, or point the "
            "criterion at a column you have in [scoring.criteria.<key>]"
        )
        raise InputError(msg)
    n = len(areas)
    keys = list(settings.criteria)
    values = np.empty((n, len(keys)))
    missing = np.zeros((n, len(keys)), dtype=bool)
    raws = []
    for j, (key, spec) in enumerate(settings.criteria.items()):
        raw = _indicator(areas, key, spec)
        v = _apply_value_function(raw, key, spec, warn=warn)
        miss = np.isnan(v)
        values[:, j] = np.where(miss, spec.missing, v)
        missing[:, j] = miss
        raws.append(raw)
    return _Values(keys, values, raws, missing, list(settings.criteria.values()))


def _stored_values(areas: pd.DataFrame, keys: list[str]) -> np.ndarray | None:
    cols = [f"value_{k}" for k in keys]
    if all(c in areas.columns for c in cols):
        return areas[cols].to_numpy(dtype=float)
    return None


def _indicator(areas: pd.DataFrame, key: str, spec: CriterionSpec) -> np.ndarray:
    """The raw indicator: float array for numeric kinds, object array otherwise."""
    if spec.kind in _NUMERIC_KINDS:
        total = np.zeros(len(areas))
        for col in spec.source_columns:
            total = total + _numeric(areas[col], key, col)
        return total
    return areas[spec.source_columns[0]].to_numpy(dtype=object)


def _numeric(series: pd.Series, key: str, col: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    try:
        return pd.to_numeric(series).astype("float64").to_numpy()
    except (ValueError, TypeError):
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series[coerced.isna() & series.notna()].unique()[:5]
        msg = (
            f"scoring.criteria.{key}: column {col!r} must be numeric, found values "
            f"{list(bad)}; fix the column or use kind = 'categorical'"
        )
        raise InputError(msg) from None


def _apply_value_function(
    raw: np.ndarray, key: str, spec: CriterionSpec, *, warn: bool
) -> np.ndarray:
    """Values in 0-1, NaN where the indicator is missing."""
    kind = spec.kind
    decreasing = spec.direction == "decreasing"
    if kind == "linear":
        xs = np.array([p[0] for p in spec.points or []])
        ys = np.array([p[1] for p in spec.points or []])
        return np.interp(raw, xs, ys)
    if kind == "logistic":
        z = (raw - float(spec.midpoint)) / float(spec.scale)  # type: ignore[arg-type]
        with np.errstate(over="ignore"):
            v = 1.0 / (1.0 + np.exp(z if decreasing else -z))
        return v
    if kind == "threshold":
        hit = raw <= spec.at if decreasing else raw >= spec.at
        return np.where(np.isnan(raw), np.nan, hit.astype(float))
    if kind == "minmax":
        if warn:
            msg = (
                f"scoring.criteria.{key}: kind = 'minmax' rescales by the data's min and max, "
                "so adding or removing an area can reorder the others (rank reversal) and "
                "scores of different runs are not comparable; use kind = 'linear' with fixed "
                "points instead"
            )
            warnings.warn(msg, MinMaxWarning, stacklevel=4)
        finite = raw[np.isfinite(raw)]
        if finite.size == 0 or finite.max() == finite.min():
            v = np.where(np.isnan(raw), np.nan, 0.5)
        else:
            v = np.clip((raw - finite.min()) / (finite.max() - finite.min()), 0.0, 1.0)
        return 1.0 - v if decreasing else v
    if kind == "boolean":
        v = _booleans(raw, key, spec)
        return 1.0 - v if decreasing else v
    return _categorical(raw, spec)


def _booleans(raw: np.ndarray, key: str, spec: CriterionSpec) -> np.ndarray:
    out = np.full(len(raw), np.nan)
    for i, x in enumerate(raw):
        if _is_missing(x):
            continue
        if isinstance(x, bool | np.bool_):
            out[i] = float(x)
        elif isinstance(x, int | float | np.integer | np.floating):
            out[i] = float(x != 0)
        else:
            text = str(x).strip().lower()
            if text in _TRUE:
                out[i] = 1.0
            elif text in _FALSE:
                out[i] = 0.0
            elif text in ("", "nan", "none", "null"):
                continue
            else:
                msg = (
                    f"scoring.criteria.{key}: column {spec.source_columns[0]!r} should hold "
                    f"true/false values, found {x!r}; map it or use kind = 'categorical'"
                )
                raise InputError(msg)
    return out


def _is_missing(x: Any) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and math.isnan(x))


def _codes(x: Any, spec: CriterionSpec) -> list[str] | None:
    """Codes in one cell, or None when the cell is empty."""
    if _is_missing(x):
        return None
    text = str(x).strip()
    parts = [p.strip() for p in text.split(spec.separator)] if spec.separator else [text]
    parts = [p for p in parts if p]
    return parts or None


def _categorical(raw: np.ndarray, spec: CriterionSpec) -> np.ndarray:
    table = spec.map or {}
    out = np.full(len(raw), np.nan)
    cache: dict[str, float] = {}
    for i, x in enumerate(raw):
        if _is_missing(x):
            continue
        text = str(x)
        if text not in cache:
            codes = _codes(text, spec)
            cache[text] = np.nan if codes is None else max(table.get(c, spec.other) for c in codes)
        out[i] = cache[text]
    return out


def _classes(score: np.ndarray, rank: np.ndarray, cls: ClassSettings) -> np.ndarray:
    out = np.full(len(score), "low", dtype=object)
    if cls.method == "thresholds":
        s = np.round(score, 12)
        out[s >= cls.medium] = "medium"
        out[s >= cls.high] = "high"
    else:
        n = len(score)
        n_high = math.ceil(cls.high_share * n - 1e-9)
        n_top = min(n, math.ceil((cls.high_share + cls.medium_share) * n - 1e-9))
        out[rank <= n_top] = "medium"
        out[rank <= n_high] = "high"
    return out


def _explanations(vals: _Values, contrib: np.ndarray, settings: ScoringSettings) -> np.ndarray:
    n, k = contrib.shape
    top = min(settings.explain_top, k)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    any_missing = vals.missing.any(axis=1)
    out = np.empty(n, dtype=object)
    for i in range(n):
        parts = []
        for j in order[i]:
            c = contrib[i, j]
            if c <= 0:
                break
            parts.append(f"{_words(vals, i, j)} ({c:.2f})")
        text = ", ".join(parts) if parts else "no criterion contributes"
        if any_missing[i]:
            text += "; no data: " + ", ".join(  # and the value its `missing` policy gives
                f"{vals.keys[j]} (valued {vals.specs[j].missing:g})"
                for j in np.flatnonzero(vals.missing[i])
            )
        out[i] = text
    return out


def _words(vals: _Values, i: int, j: int) -> str:
    """One criterion of one area in words, from its label template."""
    spec, key, x = vals.specs[j], vals.keys[j], vals.raw[j][i]
    if vals.missing[i, j]:
        return f"{key} unknown"
    if spec.kind == "categorical":
        codes = _codes(x, spec) or []
        table = spec.map or {}
        best = max(codes, key=lambda c: table.get(c, spec.other)) if codes else str(x)
        if spec.labels and best in spec.labels:
            return spec.labels[best]
        return spec.label.format(x=best, s="s") if spec.label else f"{key} {best}"
    if spec.kind == "boolean":
        return spec.label or key.replace("_", " ")
    xf = float(x)
    if spec.label:
        return spec.label.format(x=xf, s="" if xf == 1 else "s")
    return f"{key.replace('_', ' ')} {xf:g}{' ' + spec.unit if spec.unit else ''}"


def _attach(areas: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``areas`` (same type and index) with ``new``'s columns, replacing old ones."""
    stale = [
        c
        for c in areas.columns
        if isinstance(c, str) and (c.startswith(("value_", "contrib_")) or c in _OUTPUT_COLUMNS)
    ]
    base = areas.drop(columns=stale).reset_index(drop=True)
    out = pd.concat([base, new.reset_index(drop=True)], axis=1)
    out.index = areas.index
    return out


def _dirichlet(w: np.ndarray, concentration: float, draws: int, seed: int) -> np.ndarray:
    """Weight draws (draws x criteria) centred on ``w``; zero weights stay zero."""
    rng = np.random.default_rng(seed)
    out = np.zeros((draws, len(w)))
    active = np.flatnonzero(w > 0)
    if len(active) == 1:
        out[:, active] = 1.0
    elif len(active) > 1:
        out[:, active] = rng.dirichlet(concentration * w[active], size=draws)
    return out


def _mc_ranks(
    vs: np.ndarray,
    wdraws: np.ndarray,
    rb: np.ndarray,
    top_n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ranks (areas x draws, int32), Spearman rho and same-top-N flag per draw.

    ``vs`` and ``rb`` are in hazard_id order. Areas with identical values tie in every draw:
    they are scored once as a group and ranked inside it by hazard_id, so only distinct value
    rows are sorted (real registers hold many identical rows, e.g. all-zero indicators).
    """
    n = vs.shape[0]
    draws = wdraws.shape[0]
    # Criteria that weigh nothing in every draw cannot split areas: group on the others only.
    live = np.any(wdraws != 0.0, axis=0)
    vs, wdraws = vs[:, live], wdraws[:, live]
    uniq, inverse = np.unique(vs + 0.0, axis=0, return_inverse=True)  # + 0.0: -0.0 -> 0.0
    inverse = inverse.reshape(-1)
    # Number the groups by their first area in hazard_id order, so that a stable sort breaks
    # score ties between groups by hazard_id, as the base ranking does.
    first = np.full(len(uniq), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))
    perm = np.argsort(first, kind="stable")
    relabel = np.empty_like(perm)
    relabel[perm] = np.arange(len(perm))
    uniq, inverse = uniq[perm], relabel[inverse]
    sizes = np.bincount(inverse, minlength=len(uniq))
    by_group = np.argsort(inverse, kind="stable")  # positions grouped, hazard_id order inside
    within = np.empty(n, dtype=np.int64)
    within[by_group] = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    ranks = np.empty((n, draws), dtype=np.int32)
    rho = np.empty(draws)
    same = np.empty(draws, dtype=bool)
    chunk = max(1, min(draws, 2_000_000 // max(n, 1)))
    base_top = np.flatnonzero(rb <= top_n)
    denom = n * (n * n - 1.0)
    rbf = rb.astype(np.float64)
    for s in range(0, draws, chunk):
        e = min(draws, s + chunk)
        neg = (-wdraws[s:e]) @ uniq.T  # (c x groups): minus the scores, ascending = best first
        order = np.argsort(np.round(neg, 12), axis=1, kind="stable")  # as _ranks rounds
        del neg
        starts = np.cumsum(sizes[order], axis=1) - sizes[order]  # first rank - 1 of each group
        start = np.empty_like(starts)
        np.put_along_axis(start, order, starts, axis=1)
        del order, starts
        r = (start[:, inverse] + within[None, :] + 1).astype(np.int32)
        del start
        d = r - rbf[None, :]
        rho[s:e] = 1.0 - 6.0 * np.einsum("ij,ij->i", d, d) / denom if n > 1 else 1.0
        del d
        same[s:e] = np.all(r[:, base_top] <= top_n, axis=1)
        ranks[:, s:e] = r.T
    return ranks, rho, same


def _row_percentiles(ranks: np.ndarray, qs: tuple[int, ...]) -> list[np.ndarray]:
    """Percentiles of each row (observed values, 'inverted_cdf'), in blocks of rows."""
    n = ranks.shape[0]
    out = [np.empty(n, dtype=np.int64) for _ in qs]
    block = max(1, 2_000_000 // max(ranks.shape[1], 1))
    for s in range(0, n, block):
        e = min(n, s + block)
        p = np.percentile(ranks[s:e], qs, axis=1, method="inverted_cdf")
        for i in range(len(qs)):
            out[i][s:e] = p[i]
    return out


def _spearman(ra: np.ndarray, rb: np.ndarray) -> float:
    """Spearman correlation of two rankings without ties (permutations of 1..n)."""
    n = len(ra)
    if n < 2:
        return 1.0
    d = (ra - rb).astype(np.float64)
    return float(1.0 - 6.0 * np.dot(d, d) / (n * (n * n - 1.0)))


def _sweep(
    vs: np.ndarray,
    w: np.ndarray,
    keys: list[str],
    fams: list[str],
    rb: np.ndarray,
    top_n: int,
    hid_sorted: np.ndarray,
) -> pd.DataFrame:
    """One-at-a-time: the exact weight at which the top-N set first changes, per criterion.

    With criterion k's weight set to f * w_k and the others scaled by (1 - f w_k)/(1 - w_k),
    every score is linear in f: a_i + f b_i. The top-N set changes first where an area
    outside it overtakes one inside, i.e. at the nearest crossing of two such lines.
    """
    n = len(rb)
    base = (vs * w).sum(axis=1)
    inside = np.flatnonzero(rb <= top_n)
    outside = np.flatnonzero(rb > top_n)
    rows = []
    for k, key in enumerate(keys):
        wk = float(w[k])
        row: dict[str, Any] = {
            "criterion": key,
            "family": fams[k],
            "weight": wk,
            "weight_down": np.nan,
            "enters_down": None,
            "leaves_down": None,
            "weight_up": np.nan,
            "enters_up": None,
            "leaves_up": None,
            "max_weight": min(2.0 * wk, 1.0),
        }
        if wk <= 0 or wk >= 1 or top_n >= n or len(inside) == 0:
            rows.append(row)
            continue
        fmax = min(2.0, 1.0 / wk)
        a = (base - wk * vs[:, k]) / (1.0 - wk)
        b = wk * (vs[:, k] - a)
        ao, bo = a[outside], b[outside]
        best_up, best_down = (np.inf, -1, -1), (-np.inf, -1, -1)
        for i in inside:
            db = bo - b[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                f = (a[i] - ao) / db
            up = np.flatnonzero((db > 1e-15) & (f <= fmax + 1e-12))
            if up.size:
                m = up[np.argmin(f[up])]
                fu = max(1.0, float(f[m]))
                if fu < best_up[0]:
                    best_up = (fu, int(outside[m]), int(i))
            down = np.flatnonzero((db < -1e-15) & (f >= -1e-12))
            if down.size:
                m = down[np.argmax(f[down])]
                fd = min(1.0, float(f[m]))
                if fd > best_down[0]:
                    best_down = (fd, int(outside[m]), int(i))
        if best_up[1] >= 0:
            row.update(
                weight_up=min(best_up[0], fmax) * wk,
                enters_up=hid_sorted[best_up[1]],
                leaves_up=hid_sorted[best_up[2]],
            )
        if best_down[1] >= 0:
            row.update(
                weight_down=max(best_down[0], 0.0) * wk,
                enters_down=hid_sorted[best_down[1]],
                leaves_down=hid_sorted[best_down[2]],
            )
        rows.append(row)
    return pd.DataFrame(rows)
