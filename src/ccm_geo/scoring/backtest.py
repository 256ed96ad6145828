"""Back-test: does the ranking point where people are hurt next, on the user's own register?

The register is scored with only what was known at a cut-off date (areas recorded before it,
accidents before it), then the accidents of the following years are laid over the ranking:
the **capture** at the top p of areas is the share of those later accidents that lie within
``radius_m`` of at least one of the top ``ceil(p x n)`` areas, among the later accidents
within ``radius_m`` of any area (the others no ranking of these areas can reach; their share
is reported as ``reachable``). Two baselines are computed in
the same run: random order (its exact expected value) and "rank by the count of past accidents
within the radius". Areas with equal scores are a tie, taken in random order: the capture is
its exact expected value over that order, never the luck of a tie-break by ``hazard_id``.
Two ceilings say how far any ranking could go, knowing the later accidents: the best choice
of the top areas (maximum coverage, :mod:`ccm_geo.scoring.backtest_ceiling`), and the best
choice among the areas with a past accident within the radius. See docs/backtest.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import logging
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, field_validator

from ccm_geo._base import Frozen
from ccm_geo.errors import ConfigError, InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.config import ProjectConfig

__all__ = [
    "BacktestSettings",
    "BacktestResult",
    "backtest",
    "capture_curve",
    "past_accident_counts",
    "parse_as_of",
    "write_backtest",
    "RANDOM",
    "PAST_ACCIDENTS",
    "CEILING",
    "CEILING_PAST",
]

logger = logging.getLogger(__name__)

#: Method names of the two baselines in the outputs.
RANDOM = "random (expected)"
PAST_ACCIDENTS = "past accidents within radius"
LEARNED = "learned (logistic)"
#: Method name of the ceiling: the best capture any ranking of the areas can reach.
CEILING = "ceiling (best possible)"
#: The same, choosing only among areas with a past accident within the radius.
CEILING_PAST = "ceiling among areas with past accidents"


class BacktestSettings(Frozen):
    """[backtest]: how ``ccm-geo backtest`` splits the register in time and scores capture."""

    recorded: str | None = Field(
        None,
        description="Column of the hazard file holding the date (or the year) each area was "
        "recorded, e.g. 'AÑO'. Areas recorded on or after the cut-off are left out. A year "
        "alone means 1 January of that year. None: every area counts as known at every "
        "cut-off (the summary says so: areas found later then leak into the past).",
    )
    radius_m: float = Field(
        1_000.0,
        gt=0,
        description="A later accident is captured by an area when it lies at most this far "
        "from the area's polygon (m). Default 1 km: within a walk of the area.",
    )
    horizon_years: float = Field(
        5.0, gt=0, description="Later accidents: from the cut-off to this many years after it."
    )
    shares: tuple[float, ...] = Field(
        (0.1, 0.2, 0.3),
        description="Shares of areas (top p of the ranking) reported in backtest.csv.",
    )
    ceiling_time_limit_s: float = Field(
        20.0,
        gt=0,
        description="Seconds allowed to each exact ceiling (one integer programme per share "
        "and ceiling, two ceilings per cut-off); when they run out, the best choice found and "
        "the solver's proven bound are reported (bound_top<P>).",
    )
    learned: bool = Field(
        False,
        description="Also back-test a logistic regression on the criteria values, trained at "
        "each cut-off on what was known before it only (features as of cut-off minus the "
        "horizon, labels from the accidents between then and the cut-off). Never the "
        "default ranking.",
    )

    @field_validator("shares")
    @classmethod
    def _shares_in_range(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(not 0 < p <= 1 for p in v):
            msg = f"shares must be fractions in (0, 1], e.g. [0.1, 0.2, 0.3] (found {list(v)})"
            raise ValueError(msg)
        return v


@dataclasses.dataclass(frozen=True)
class BacktestResult:
    """What a back-test measured.

    Attributes
    ----------
    table
        One row per cut-off and method: ``as_of``, ``method`` (``base``, each scenario, the
        two baselines), ``areas``, ``later_accidents``, ``reachable`` (share of later accidents
        within the radius of any area: capture is measured among these), ``tied_share``
        (share of areas whose score equals another's), and ``capture_top<P>`` per share.
    curves
        The capture curve of every method: ``as_of``, ``method``, ``share_of_areas`` (0-1),
        ``k`` (areas) and ``capture``.
    settings
        The settings used (radius, horizon, shares, recorded column).
    notes
        Facts a reader needs (what was left out, which criteria had no data, warnings).
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    settings: BacktestSettings
    notes: list[str]


def parse_as_of(text: str) -> dt.date:
    """A cut-off from the command line: ``YYYY-MM-DD``, or a year ``YYYY`` (1 January).

    Raises
    ------
    ConfigError
        The text is neither.
    """
    s = str(text).strip()
    try:
        if s.isdigit() and len(s) == 4:
            return dt.date(int(s), 1, 1)
        return dt.date.fromisoformat(s)
    except ValueError:
        msg = f"--as-of {text!r} is not a date; give YYYY-MM-DD (e.g. 2013-01-01) or a year"
        raise ConfigError(msg) from None


def backtest(
    config: ProjectConfig,
    *,
    as_of: Sequence[dt.date],
    horizon_years: float | None = None,
    radius_m: float | None = None,
    learned: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Back-test the project's ranking at one or more cut-off dates.

    Parameters
    ----------
    config
        The project: its hazards, its accidents layer (required: the outcome) and its
        [criteria], [scoring] and [backtest] settings.
    as_of
        Cut-off dates. At each, areas recorded before it and accidents before it are known.
    horizon_years
        Later accidents are those from the cut-off to this many years after it (excluded);
        default ``config.backtest.horizon_years``.
    radius_m
        Capture radius (m); default ``config.backtest.radius_m``.
    learned
        Also back-test the learned model (see :mod:`ccm_geo.scoring.learned`); default
        ``config.backtest.learned``.
    progress
        Called with a short text before each step.

    Returns
    -------
    BacktestResult

    Raises
    ------
    InputError
        No accidents layer, no area known at a cut-off, or the recorded column is absent.
    """
    from ccm_geo.pipeline import load_inputs

    settings = _settings(config)
    given = (("horizon_years", horizon_years), ("radius_m", radius_m), ("learned", learned))
    if any(v is not None for _, v in given):
        update = {k: v for k, v in given if v is not None}
        try:
            settings = BacktestSettings.model_validate({**settings.model_dump(), **update})
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            msg = f"backtest: {problems} (found {update}); give a positive --horizon and --radius"
            raise ConfigError(msg) from None
    say = progress or (lambda _t: None)
    if not as_of:
        msg = "backtest: give at least one cut-off date (--as-of YYYY-MM-DD)"
        raise ConfigError(msg)
    say("loading the register")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hazards, context, _reports = load_inputs(config)
    notes = _dedupe(str(w.message) for w in caught)
    if context.accidents is None:
        msg = (
            "backtest: the project has no [inputs.accidents]; the back-test measures where "
            "later accidents happen, so it needs the accident record (points with dates)"
        )
        raise InputError(msg)
    recorded = _recorded_dates(config, hazards, settings)
    if recorded is None:
        notes.append(
            "no [backtest] recorded column: every area counts as known at every cut-off, so "
            "areas recorded after a cut-off (often found because of later accidents) leak "
            "into the past and flatter every ranking"
        )
    acc = context.accidents
    dates = pd.to_datetime(acc["date"], errors="coerce")
    undated = int(dates.isna().sum())
    if undated:
        notes.append(f"{undated} accidents without a date are left out")
    rows, curves = [], []
    for cut in sorted(as_of):
        say(f"cut-off {cut.isoformat()}")
        r, c, n = _one_cutoff(config, hazards, context, dates, recorded, cut, settings)
        rows.extend(r)
        curves.append(c)
        notes.extend(n)
    table = pd.DataFrame(rows)
    return BacktestResult(
        table=table,
        curves=pd.concat(curves, ignore_index=True),
        settings=settings,
        notes=_dedupe(notes),
    )


def capture_curve(
    scores: np.ndarray,
    acc_idx: np.ndarray,
    area_idx: np.ndarray,
    n_accidents: int,
    ks: Sequence[int],
) -> np.ndarray:
    """Expected share of accidents captured by the top k areas, for each k; ties at random.

    Parameters
    ----------
    scores
        One score per area (higher first). Scores equal to 12 decimals form a tie group whose
        areas are taken in uniformly random order.
    acc_idx, area_idx
        Pairs (accident, area) with the accident within the capture radius of the area.
    n_accidents
        Number of accidents (the denominator; accidents near no area are never captured).
    ks
        Numbers of top areas.

    Returns
    -------
    numpy.ndarray
        For each k, the expected share of accidents within the radius of at least one of the
        top k areas: accidents whose best covering area ranks above the tie group at the k-th
        place count 1; one whose best covering areas are m of the g areas of that group, of
        which r are taken, counts ``1 - C(g - m, r) / C(g, r)``. With all scores equal this
        is the expected capture of a random order.
    """
    from scipy.special import gammaln

    n = len(scores)
    out = np.zeros(len(ks))
    if n == 0 or n_accidents == 0:
        return out
    key = np.round(np.asarray(scores, dtype=float), 12)
    uniq, group = np.unique(-key, return_inverse=True)  # group 0 = best score
    group = group.reshape(-1)
    sizes = np.bincount(group, minlength=len(uniq))
    starts = np.cumsum(sizes) - sizes
    if len(acc_idx):
        g_pair = group[area_idx]
        best = pd.Series(g_pair).groupby(acc_idx).min()
        acc_best = best.to_numpy()
        same = g_pair == best.reindex(acc_idx).to_numpy()
        m = np.bincount(acc_idx[same], minlength=n_accidents)[best.index.to_numpy()]
    else:
        acc_best = np.zeros(0, dtype=np.int64)
        m = np.zeros(0, dtype=np.int64)
    order = np.argsort(acc_best, kind="stable")
    sorted_best = acc_best[order]
    for t, k in enumerate(ks):
        k = int(min(max(k, 0), n))
        if k == 0:
            continue
        b = int(np.searchsorted(starts, k - 1, side="right") - 1)  # group holding place k
        g, r = int(sizes[b]), k - int(starts[b])
        above = int(np.searchsorted(sorted_best, b, side="left"))
        lo, hi = above, int(np.searchsorted(sorted_best, b, side="right"))
        mm = m[order[lo:hi]].astype(float)
        with np.errstate(invalid="ignore"):
            miss = np.where(
                g - mm >= r,
                np.exp(
                    gammaln(g - mm + 1)
                    - gammaln(g - mm - r + 1)
                    - gammaln(g + 1)
                    + gammaln(g - r + 1)
                ),
                0.0,
            )
        out[t] = (above + float(np.sum(1.0 - miss))) / n_accidents
    return out


def past_accident_counts(
    areas: gpd.GeoDataFrame, accidents: gpd.GeoDataFrame, radius_m: float
) -> np.ndarray:
    """The baseline's score: accidents at most ``radius_m`` from each area's polygon (0 inside).

    Every accident in ``accidents`` counts once per area it is near, whatever its date or toll.
    """
    from ccm_geo.criteria._common import pairs_within

    geoms = accidents.geometry.to_numpy()
    i_acc, i_area = pairs_within(geoms, areas.geometry.to_numpy(), radius_m)
    return np.bincount(i_area, minlength=len(areas)).astype(float)


def write_backtest(result: BacktestResult, out_dir: str | Path) -> list[Path]:
    """Write ``backtest.csv``, ``capture_curves.csv``, ``capture_curve.png``, ``summary.md``
    and ``summary.html`` (self-contained, the figure inlined) into ``out_dir``."""
    from ccm_geo.io import write_csv, write_text
    from ccm_geo.publish.printmap import save_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        write_csv(result.table, out / "backtest.csv"),
        write_csv(result.curves, out / "capture_curves.csv"),
    ]
    fig = _figure(result)
    png = save_figure(fig, out / "capture_curve.png")
    paths.append(png)
    paths.append(write_text(summary_markdown(result), out / "summary.md"))
    paths.append(write_text(_summary_html(result, png.read_bytes()), out / "summary.html"))
    return paths


def summary_markdown(result: BacktestResult) -> str:
    """A short summary a planner can paste into a report: the capture table and what it means."""
    s = result.settings
    t = result.table
    shares = _share_columns(s)
    lines = [
        "# Back-test: do the top areas hold the later accidents?",
        "",
        f"At each cut-off the register was scored with only what was known then (areas "
        f"recorded and accidents before it). Capture at top p: of the accidents of the next "
        f"{s.horizon_years:g} years that lie within {s.radius_m:,.0f} m of any area "
        f"(reachable), the share within {s.radius_m:,.0f} m of the top p of areas. Ties count "
        "at their expected value (random order inside a tie).",
        "",
    ]
    head = "| cut-off | method | areas | later accidents | reachable | tied | " + " | ".join(
        f"top {p:.0%}" for p in s.shares
    )
    lines += [head + " |", "|" + "---|" * (6 + len(shares))]
    for row in t.itertuples(index=False):
        r = row._asdict()
        tied = "" if pd.isna(r["tied_share"]) else f"{r['tied_share']:.0%}"
        cells = []
        for c in shares:
            cell = f"{r[c]:.3f}"
            bound = r.get(c.replace("capture_", "bound_"))
            if bound is not None and pd.notna(bound) and f"{bound:.3f}" != cell:
                cell += f" (at most {bound:.3f})"
            cells.append(cell)
        lines.append(
            f"| {r['as_of']} | {r['method']} | {r['areas']:,} | {r['later_accidents']:,} | "
            f"{r['reachable']:.2f} | {tied} | " + " | ".join(cells) + " |"
        )
    lines += ["", _verdict(result), "", _ceiling_words(result), ""]
    if result.notes:
        lines += ["Notes:", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _settings(config: Any) -> BacktestSettings:
    got = getattr(config, "backtest", None)
    return got if isinstance(got, BacktestSettings) else BacktestSettings()


def _share_columns(s: BacktestSettings) -> list[str]:
    return [f"capture_top{round(p * 100):d}" for p in s.shares]


def _dedupe(items) -> list[str]:
    return list(dict.fromkeys(items))


def _recorded_dates(
    config: ProjectConfig, hazards: gpd.GeoDataFrame, s: BacktestSettings
) -> np.ndarray | None:
    """Recorded date of each loaded area (datetime64, NaT when unreadable), or None."""
    if s.recorded is None:
        return None
    if s.recorded in hazards.columns:
        values = hazards[s.recorded]
    else:
        from ccm_geo.io.read import read_input

        spec = config.inputs.hazards
        raw = read_input(spec).reset_index(drop=True)
        if s.recorded not in raw.columns:
            present = ", ".join(str(c) for c in raw.columns if c != raw.geometry.name)
            msg = (
                f"backtest.recorded = {s.recorded!r}: the hazard register {spec.label} has no such "
                f"column; columns present: {present}"
            )
            raise InputError(msg)
        values = raw[s.recorded].iloc[hazards["source_row"].to_numpy() - 1]
    text = pd.Series(values).astype("string").str.strip()
    year = text.str.fullmatch(r"\d{4}(\.0+)?").fillna(False).to_numpy(dtype=bool)
    out = pd.to_datetime(text.where(~year), errors="coerce", format="mixed")
    years = pd.to_datetime(text[year].str[:4] + "-01-01", errors="coerce")
    out = out.astype("datetime64[ns]").to_numpy().copy()
    out[year] = years.astype("datetime64[ns]").to_numpy()
    return out


def _one_cutoff(config, hazards, context, dates, recorded, cut, s):
    import geopandas as gpd

    from ccm_geo.criteria._common import pairs_within
    from ccm_geo.scoring.scenarios import scenario_ranks

    cut_ts = pd.Timestamp(cut)
    end_ts = cut_ts + pd.DateOffset(days=round(s.horizon_years * 365.25))
    notes: list[str] = []
    if recorded is not None:
        unknown = pd.isna(recorded)
        if unknown.any():
            notes.append(
                f"{int(unknown.sum())} areas have no readable recorded date ({s.recorded}) "
                "and are left out"
            )
    areas = _known_areas(hazards, recorded, cut_ts)
    if len(areas) == 0:
        msg = f"backtest: no area was recorded before {cut.isoformat()}; choose a later --as-of"
        raise InputError(msg)
    acc = context.accidents
    valid = dates.notna().to_numpy() & ~acc.geometry.is_empty.to_numpy()
    known = acc.loc[valid & (dates < cut_ts).to_numpy()]
    later = acc.loc[valid & (dates >= cut_ts).to_numpy() & (dates < end_ts).to_numpy()]
    last = dates.max()
    if pd.notna(last) and last < end_ts - pd.DateOffset(years=1):
        notes.append(
            f"cut-off {cut.isoformat()}: the accident record ends in {last.year}, before the "
            f"horizon ({end_ts.date().isoformat()}); later accidents are counted to its end"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scored, values = _criteria_values(config, areas, context, known, cut)
        ranks = scenario_ranks(scored, config.scoring)
    notes.extend(f"cut-off {cut.isoformat()}: {w.message}" for w in caught)
    n = len(areas)
    i_acc, i_area = pairs_within(
        later.geometry.to_numpy(), gpd.GeoSeries(areas.geometry).to_numpy(), s.radius_m
    )
    n_later = len(later)
    reach_ids, i_acc = np.unique(i_acc, return_inverse=True)  # number the reachable 0..m-1
    n_reach = len(reach_ids)
    reachable = n_reach / n_later if n_later else math.nan
    grid = np.unique(np.ceil(np.linspace(0, 1, 101) * n).astype(int))
    share_ks = [math.ceil(p * n - 1e-9) for p in s.shares]
    methods: dict[str, np.ndarray] = {}
    for name in ["base", *config.scoring.scenarios]:
        methods[name] = ranks[f"score_{name}"].to_numpy()
    if s.learned:
        learned_score, note = _learned(config, hazards, context, dates, recorded, cut, values, s)
        notes.append(note)
        if learned_score is not None:
            methods[LEARNED] = learned_score
    methods[PAST_ACCIDENTS] = past_accident_counts(areas, known, s.radius_m)
    methods[RANDOM] = np.zeros(n)
    rows, curves = [], []
    ceilings = [
        _ceiling_row(i_acc, i_area, n, n_reach, share_ks, grid, s),
        _ceiling_row(
            i_acc, i_area, n, n_reach, share_ks, grid, s, CEILING_PAST, methods[PAST_ACCIDENTS] > 0
        ),
    ]
    for name, score in methods.items():
        caps = capture_curve(score, i_acc, i_area, n_reach, share_ks)
        key = np.round(score, 12)
        _, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
        row: dict[str, Any] = {
            "as_of": cut.isoformat(),
            "method": name,
            "areas": n,
            "later_accidents": n_later,
            "reachable": reachable,
            "tied_share": float((counts[inv.reshape(-1)] > 1).mean()),
        }
        row.update(dict(zip(_share_columns(s), caps, strict=True)))
        rows.append(row)
        curve = capture_curve(score, i_acc, i_area, n_reach, grid)
        curves.append(
            pd.DataFrame(
                {
                    "as_of": cut.isoformat(),
                    "method": name,
                    "share_of_areas": grid / n,
                    "k": grid,
                    "capture": curve,
                }
            )
        )
    for row, curve in ceilings:
        rows.append({**rows[0], **row})
        curves.append(curve.assign(as_of=cut.isoformat()))
    return rows, pd.concat(curves, ignore_index=True), notes


def _ceiling_row(i_acc, i_area, n, n_reach, share_ks, grid, s, name=CEILING, eligible=None):
    """The ceiling (:mod:`ccm_geo.scoring.backtest_ceiling`) as a row of the table (capture
    of the best choice found at each share, ``bound_top<P>`` its proven upper bound) and a
    curve (the greedy order: a feasible value at every share of areas). With ``eligible``
    (a mask of areas), only those areas may capture: the best of any choice among them."""
    from ccm_geo.scoring.backtest_ceiling import max_coverage

    if eligible is not None:
        keep = eligible[i_area]
        i_acc, i_area = i_acc[keep], i_area[keep]
    cols = _share_columns(s)
    denom = n_reach or math.nan
    best = max_coverage(i_acc, i_area, n, share_ks, time_limit=s.ceiling_time_limit_s)
    row: dict[str, Any] = {"method": name, "tied_share": math.nan}
    row.update(dict(zip(cols, best.best / denom, strict=True)))
    row.update(
        {c.replace("capture_", "bound_"): v for c, v in zip(cols, best.bound / denom, strict=True)}
    )
    along = best.greedy_curve
    curve = pd.DataFrame(
        {
            "method": name,
            "share_of_areas": grid / n,
            "k": grid,
            "capture": along[grid] / denom if n_reach else np.zeros(len(grid)),
        }
    )
    return row, curve


def _known_areas(hazards, recorded, cut_ts: pd.Timestamp):
    if recorded is None:
        return hazards.reset_index(drop=True)
    keep = ~pd.isna(recorded) & (recorded < cut_ts.to_datetime64())
    return hazards.loc[keep].reset_index(drop=True)


def _criteria_values(config, areas, context, known, day: dt.date):
    """The areas with their indicators as of ``day`` (accidents ``known`` only) and the
    criteria values (areas x criteria, missing values already set by each criterion)."""
    from ccm_geo.criteria import compute_criteria
    from ccm_geo.scoring.values import _value_matrix

    ctx = dataclasses.replace(context, accidents=known)
    ind = compute_criteria(areas, ctx, config.criteria, reference_date=day)
    scored = areas.merge(ind, left_on="hazard_id", right_index=True, how="left")
    return scored, _value_matrix(scored, config.scoring, warn=False).values


def _learned(config, hazards, context, dates, recorded, cut, values, s):
    """Scores of a logistic regression trained on what was known before ``cut`` only."""
    from ccm_geo.criteria._common import pairs_within
    from ccm_geo.scoring.learned import fit_logistic

    cut_ts = pd.Timestamp(cut)
    start = cut_ts - pd.DateOffset(days=round(s.horizon_years * 365.25))
    areas = _known_areas(hazards, recorded, start)
    acc = context.accidents
    valid = dates.notna().to_numpy() & ~acc.geometry.is_empty.to_numpy()
    before = acc.loc[valid & (dates < start).to_numpy()]
    window = acc.loc[valid & (dates >= start).to_numpy() & (dates < cut_ts).to_numpy()]
    where = f"cut-off {cut.isoformat()}: learned model"
    if len(areas) < 10:
        return None, f"{where} not trained: fewer than 10 areas recorded before {start.date()}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same data warnings as the cut-off itself
        _, x = _criteria_values(config, areas, context, before, start.date())
    _, hit = pairs_within(window.geometry.to_numpy(), areas.geometry.to_numpy(), s.radius_m)
    y = np.zeros(len(areas))
    y[np.unique(hit)] = 1.0
    keys = list(config.scoring.criteria)
    try:
        model = fit_logistic(x, y, keys)
    except ValueError as exc:
        return None, f"{where} not trained: {exc}"
    top = np.argsort(-np.abs(model.coef))[:3]
    coefs = ", ".join(f"{keys[i]} {model.coef[i]:+.2f}" for i in top)
    note = (
        f"{where} trained on {len(areas):,} areas as of {start.date()} ({int(y.sum()):,} with an "
        f"accident within {s.radius_m:,.0f} m before the cut-off); largest coefficients "
        f"(log-odds per standard deviation): {coefs}"
    )
    return model.log_odds(values), note


def _verdict(result: BacktestResult) -> str:
    t = result.table
    col = _share_columns(result.settings)[len(result.settings.shares) // 2]
    p = result.settings.shares[len(result.settings.shares) // 2]
    base = t[t["method"] == "base"].set_index("as_of")[col]
    past = t[t["method"] == PAST_ACCIDENTS].set_index("as_of")[col]
    rnd = t[t["method"] == RANDOM].set_index("as_of")[col]
    diff = base - past
    wins = int((diff > 0).sum())
    return (
        f"At top {p:.0%}, the base ranking captured {base.mean():.3f} of later accidents on "
        f"average over {len(base)} cut-off(s), against {past.mean():.3f} for past accidents "
        f"within the radius and {rnd.mean():.3f} for random order; it beat the past-accident "
        f"baseline at {wins} of {len(base)} cut-off(s) (mean difference {diff.mean():+.3f})."
    )


def _ceiling_words(result: BacktestResult) -> str:
    s = result.settings
    t = result.table
    if CEILING not in set(t["method"]):
        return ""
    col = _share_columns(s)[len(s.shares) // 2]
    p = s.shares[len(s.shares) // 2]
    ceil = t[t["method"] == CEILING].set_index("as_of")[col]
    past = t[t["method"] == PAST_ACCIDENTS].set_index("as_of")[col]
    base = t[t["method"] == "base"].set_index("as_of")[col]
    room = ceil - past
    text = (
        f"Ceiling: knowing the later accidents, the best choice of the top {p:.0%} of areas "
        f"would have captured {ceil.mean():.3f} on average (the most any ranking can reach; "
        f"all areas capture every reachable accident, 1). The room above the past-accident "
        f"baseline was {room.mean():+.3f} on average; the base ranking took "
        f"{(base - past).mean():+.3f} of it. The ceiling uses the outcome itself, so no "
        "ranking made at the cut-off can be expected to reach it."
    )
    if CEILING_PAST in set(t["method"]):
        near = t[t["method"] == CEILING_PAST].set_index("as_of")[col]
        text += (
            f" Choosing only among areas with a past accident within the radius, the best "
            f"is {near.mean():.3f} ({(near - past).mean():+.3f} above the baseline): more "
            "than that needs areas where no accident has happened yet."
        )
    return text


def _figure(result: BacktestResult):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cuts = list(dict.fromkeys(result.curves["as_of"]))
    ncol = min(len(cuts), 4)
    nrow = math.ceil(len(cuts) / ncol)
    fig = Figure(figsize=(3.6 * ncol + 0.4, 3.4 * nrow + 0.6))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    styles = {
        RANDOM: dict(color="0.5", ls=":"),
        PAST_ACCIDENTS: dict(color="k", ls="--"),
        CEILING: dict(color="0.3", ls="-."),
        CEILING_PAST: dict(color="0.6", ls="-."),
    }
    for ax, cut in zip(axes.flat, cuts, strict=False):
        c = result.curves[result.curves["as_of"] == cut]
        for name, part in c.groupby("method", sort=False):
            ax.plot(
                part["share_of_areas"] * 100,
                part["capture"],
                lw=2.0 if name == "base" else 1.2,
                label=str(name),
                **styles.get(str(name), {}),
            )
        ax.set_title(f"as of {cut}", fontsize=9)
        ax.set_xlabel("top % of areas", fontsize=8)
        ax.set_ylabel("share of later accidents captured", fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(cuts) :]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=7)
    bottom = 0.12 + 0.04 * math.ceil(len(labels) / 3) / nrow
    fig.subplots_adjust(bottom=bottom, wspace=0.3, hspace=0.45)
    return fig


def _summary_html(result: BacktestResult, png: bytes) -> str:
    import base64

    md = summary_markdown(result).splitlines()
    body = []
    table: list[list[str]] = []
    for line in md:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                table.append(cells)
            continue
        if table:
            head, *rest = table
            body.append(
                "<table><tr>"
                + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                + "</tr>"
                + "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in rest
                )
                + "</table>"
            )
            table = []
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    img = base64.b64encode(png).decode("ascii")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:1em auto;color:#222}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;"
        "padding:2px 6px;text-align:right}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Back-test</title>"
        f"<style>{style}</style></head><body>"
        + "\n".join(body)
        + f"<p><img alt='capture curves' src='data:image/png;base64,{img}'></p></body></html>\n"
    )
