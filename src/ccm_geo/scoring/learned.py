"""A learned ranking (optional): logistic regression on the criteria's values, explained per area.

Trained only on what was known before a cut-off: the areas and criteria values as of an
earlier date, and whether an accident happened near each area between that date and the
cut-off. Never the default: the default scoring takes no fitting to outcome data. Used by
``ccm-geo backtest --learned`` to show whether fitting would do better on the user's register.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["LogisticModel", "fit_logistic"]


@dataclass(frozen=True)
class LogisticModel:
    """A fitted L2-regularised logistic regression on standardised features.

    Attributes
    ----------
    features
        Feature names (criterion keys), in column order.
    mean, scale
        Standardisation of each feature (scale 1 where a feature did not vary).
    coef
        Coefficient of each standardised feature (log-odds per standard deviation).
    intercept
        Log-odds of an area at the mean of every feature.
    """

    features: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def contributions(self, x: np.ndarray) -> pd.DataFrame:
        """Each feature's contribution to each area's log-odds (they sum, with the intercept,
        to the log-odds), so that a learned rank is explained like a score."""
        z = (np.asarray(x, dtype=float) - self.mean) / self.scale
        return pd.DataFrame(z * self.coef, columns=self.features)

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """Log-odds of a later accident near each area (rows of ``x``, columns ``features``)."""
        return self.intercept + self.contributions(x).to_numpy().sum(axis=1)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, features: list[str], *, l2: float = 1.0, max_iter: int = 50
) -> LogisticModel:
    """Fit ``P(y = 1) = 1 / (1 + exp(-(b0 + z @ b)))`` by Newton's method (IRLS).

    Parameters
    ----------
    x
        Features (areas x features), e.g. the criteria values (0-1); NaN is not allowed.
    y
        1 where an accident happened near the area in the training window, else 0.
    features
        Names of the columns of ``x``.
    l2
        Ridge penalty on the coefficients (not the intercept), in units of the log-likelihood;
        1.0 keeps coefficients finite when a feature separates the classes.
    max_iter
        Newton steps at most (it converges in a handful on such problems).

    Raises
    ------
    ValueError
        ``y`` holds one class only: there is nothing to learn.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if y.min() == y.max():
        msg = "fit_logistic: the training labels are all one class; nothing to learn"
        raise ValueError(msg)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = np.column_stack([np.ones(len(x)), (x - mean) / scale])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (y - p) - penalty * beta
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(beta)), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return LogisticModel(
        features=list(features), mean=mean, scale=scale, coef=beta[1:], intercept=float(beta[0])
    )
