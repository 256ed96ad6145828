"""Value functions: a criterion's indicator column mapped to a value in 0-1."""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import CcmGeoWarning, DataWarning, InputError

if TYPE_CHECKING:
    from ccm_geo.scoring.settings import ScoringSettings


logger = logging.getLogger(__name__)


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


class UnknownCodeWarning(DataWarning):
    """A categorical criterion met codes its ``map`` does not list; they score as ``other``.

    The message names the criterion, each code and how many areas hold it, and the fix (add
    the code to the map, or map it onto a known code in the input's ``codes``).
    """


class CriterionSpec(Frozen):
    """One criterion: an indicator column, its value function (to 0-1), family and weight.

    Value functions (``kind``) and their parameters:

    - ``linear``: piecewise linear through ``points = [[x, value], ...]`` (x strictly
      increasing, values in 0-1), constant beyond the first and last point.
    - ``categorical``: ``map = {code = value}``; codes not in the map get ``other`` (and an
      :class:`UnknownCodeWarning` names them with their counts); with ``separator`` (e.g.
      ``";"``) a cell holding several codes gets the highest value.
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


@dataclass(frozen=True)
class _Values:
    """Values (n x k, 0-1), raw indicators and missing masks of every criterion."""

    keys: list[str]
    values: np.ndarray
    raw: list[np.ndarray]
    missing: np.ndarray
    specs: list[CriterionSpec]


def _value_matrix(
    areas: pd.DataFrame, settings: ScoringSettings, *, warn: bool, codes: bool | None = None
) -> _Values:
    """Every criterion's values. With ``warn``: a :class:`MinMaxWarning` per minmax criterion;
    with ``codes`` (default: ``warn``) an :class:`UnknownCodeWarning` per categorical criterion
    with codes its map does not list. Scoring says the codes; the scenarios, which read scored
    areas, pass ``codes=not scored(areas, settings)``, and the sensitivity asks for the matrix
    only of areas not scored, so a run says them once."""
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
    codes = warn if codes is None else codes
    for j, (key, spec) in enumerate(settings.criteria.items()):
        raw = _indicator(areas, key, spec)
        v = _apply_value_function(raw, key, spec, warn=warn)
        miss = np.isnan(v)
        values[:, j] = np.where(miss, spec.missing, v)
        missing[:, j] = miss
        raws.append(raw)
        if codes and spec.kind == "categorical" and (unknown := _unknown_codes(raw, spec)):
            warnings.warn(_unknown_message(key, spec, unknown), UnknownCodeWarning, 3)
    return _Values(keys, values, raws, missing, list(settings.criteria.values()))


def scored(areas: pd.DataFrame, settings: ScoringSettings) -> bool:
    """Whether the areas carry every criterion's ``value_<key>`` (scored already)."""
    return all(f"value_{key}" in areas.columns for key in settings.criteria)


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


def _unknown_codes(raw: np.ndarray, spec: CriterionSpec) -> dict[str, int]:
    """Codes the criterion's map does not list -> the number of areas holding each, most
    frequent first (then by code)."""
    table = spec.map or {}
    cells = pd.Series(raw, dtype=object)
    cells = cells[[not _is_missing(x) for x in raw]].astype(str)
    counts: dict[str, int] = {}
    for text, n in cells.value_counts(sort=False).items():
        for code in set(_codes(text, spec) or []):
            if code not in table:
                counts[code] = counts.get(code, 0) + int(n)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _unknown_message(key: str, spec: CriterionSpec, codes: dict[str, int]) -> str:
    shown = list(codes.items())[:10]
    listed = ", ".join(f"{c!r} ({n:,} area{'s' if n != 1 else ''})" for c, n in shown)
    more = f" and {len(codes) - len(shown):,} more" if len(codes) > len(shown) else ""
    return (
        f"scoring.criteria.{key}: column {spec.source_columns[0]!r} holds code(s) its map "
        f"does not list, scored as other = {spec.other:g}: {listed}{more}. Known codes: "
        f"{sorted(spec.map or {})}; add them to [scoring.criteria.{key}.map], or map them "
        "onto known codes in the input's codes table"
    )
