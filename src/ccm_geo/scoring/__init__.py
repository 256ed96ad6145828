"""Scoring: value functions, weights, contributions, score, rank, priority class, sensitivity.

Every score breaks into parts that add up: each criterion's indicator is mapped to a value in
0-1 by a value function fixed in the configuration (never rescaled by the data unless the user
asks for ``kind = "minmax"``), multiplied by the criterion's final weight (family weight x
indicator weight) to give its contribution, and the contributions sum to the score. Ranks break
ties by ``hazard_id`` ascending, so the same input always gives the same plan; areas whose
scores are equal are reported as tied (``tied_with``), never as ordered. See
``docs/scoring.md`` for a planner's guide and ``docs/backtest.md`` for the back-test.

Modules: :mod:`~ccm_geo.scoring.values` (value functions), :mod:`~ccm_geo.scoring.weights`
(weights and AHP), :mod:`~ccm_geo.scoring.settings` ([scoring] and its defaults),
:mod:`~ccm_geo.scoring.score`, :mod:`~ccm_geo.scoring.stability` (sensitivity),
:mod:`~ccm_geo.scoring.scenarios`, :mod:`~ccm_geo.scoring.backtest` and the optional
:mod:`~ccm_geo.scoring.learned` model it can compare with.
"""

from __future__ import annotations

from ccm_geo.scoring.scenarios import compare_scenarios, scenario_ranks
from ccm_geo.scoring.score import RankingWeakWarning, ranking_weakness, score_areas
from ccm_geo.scoring.settings import (
    DEFAULT_FAMILIES,
    DEFAULT_SCENARIOS,
    ClassSettings,
    ScoringSettings,
    SensitivitySettings,
)
from ccm_geo.scoring.stability import SensitivityResult, sensitivity
from ccm_geo.scoring.values import CriterionSpec, MinMaxWarning
from ccm_geo.scoring.weights import (
    MAX_CONSISTENCY_RATIO,
    RANDOM_INDEX,
    AhpSpec,
    ahp_weights,
    consistency_ratios,
    resolve_weights,
    weights_table,
)

__all__ = [
    "CriterionSpec",
    "AhpSpec",
    "ClassSettings",
    "SensitivitySettings",
    "ScoringSettings",
    "SensitivityResult",
    "MinMaxWarning",
    "RANDOM_INDEX",
    "MAX_CONSISTENCY_RATIO",
    "DEFAULT_FAMILIES",
    "DEFAULT_SCENARIOS",
    "score_areas",
    "ranking_weakness",
    "RankingWeakWarning",
    "resolve_weights",
    "weights_table",
    "consistency_ratios",
    "ahp_weights",
    "sensitivity",
    "scenario_ranks",
    "compare_scenarios",
]
