"""Scoring: value functions, weights, contributions, score, rank, priority class, sensitivity."""

from ccm_geo._base import Frozen


class ScoringSettings(Frozen):
    """[scoring]: value functions and weights. Filled in by the scoring stage."""
