"""Deadline and funding answers: Article 4 deadline met or not, budget and teams needed,
funding gap per year, and the curve of benefit retained against the yearly budget.

A module per concern: :mod:`.deadline` (the answer), :mod:`.needed` (the budget it needs),
:mod:`.spread` (plans that spend a budget evenly), :mod:`.curve` (the budget curve).
"""

from ccm_geo.planning.funding.curve import budget_curve, budget_curve_figure
from ccm_geo.planning.funding.deadline import deadline_answer
from ccm_geo.planning.funding.needed import NeededBudget, budget_needed, needed_budget

__all__ = [
    "NeededBudget",
    "deadline_answer",
    "budget_needed",
    "needed_budget",
    "budget_curve",
    "budget_curve_figure",
]
