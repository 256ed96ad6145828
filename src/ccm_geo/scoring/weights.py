"""Weights: direct or from AHP pairwise comparisons (Saaty), level by level."""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import ConfigError

if TYPE_CHECKING:
    from ccm_geo.scoring.settings import ScoringSettings


logger = logging.getLogger(__name__)


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
        ``column`` (input columns, '+'-joined), ``kind``, ``unit``, and the consistency
        ratios of the AHP matrices behind the weights: ``family_cr`` (of
        ``[scoring.ahp.families]``) and ``indicator_cr`` (of ``[scoring.ahp.<family>]``), NaN
        where the weights were given directly.
    """
    if settings is None:
        from ccm_geo.scoring.settings import ScoringSettings

        settings = ScoringSettings()
    fam_w, ind_w = _weight_parts(settings, scenario)
    crs = consistency_ratios(settings)
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
                "family_cr": crs.get("families", math.nan),
                "indicator_cr": crs.get(spec.family, math.nan),
            }
        )
    return pd.DataFrame(rows).set_index("criterion")


def consistency_ratios(settings: ScoringSettings) -> dict[str, float]:
    """The consistency ratio (Saaty's CR) of every AHP matrix, by its key under [scoring.ahp].

    Returns
    -------
    dict
        ``{"families": cr, "<family>": cr, ...}`` for the matrices given; empty when every
        weight is given directly. Each CR is below 0.10 (larger ones are rejected on load).
    """
    return {
        key: ahp_weights(spec.reciprocal(), labels=spec.items)[1]
        for key, spec in settings.ahp.items()
    }


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
