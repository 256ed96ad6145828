"""The programme view (``requests/programme.html``): the whole plan, the allocation per donor,
the remaining funding gap and Article 7 Form F-style area figures, for the national authority.

Worded in the programme's language (``[project] language``: the request catalogues, numbers
and money in its locale, ``lang`` on the page), like the requests.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import _as_date, _finite
from ccm_geo.publish.requests.figures import static_map
from ccm_geo.publish.requests.picture import _form_f, _progress
from ccm_geo.publish.requests.render import _env
from ccm_geo.publish.requests.words import RTL_LANGUAGES, Numbers, translations
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["render_programme_html"]


def render_programme_html(
    areas: gpd.GeoDataFrame,
    allocation: Allocation,
    milestones: pd.DataFrame | None,
    deadline: Mapping[str, Any] | None,
    *,
    project_name: str,
    map_settings: MapSettings | None = None,
    language: str = "en",
) -> str:
    """Render the programme view: plan, allocation per donor, funding gap, Form F figures.

    Parameters
    ----------
    language
        ``en``, ``fr``, ``es`` (words from the request catalogues) or ``ar`` (right-to-left
        layout and Arabic number formats, English words); numbers and money in its locale.

    Returns
    -------
    str
        One self-contained HTML document, ``lang`` (and ``dir``) on its root element.
    """
    tr = translations(language)
    _ = tr.gettext
    n = Numbers(language)
    f = _formatters(n, _)
    totals = allocation.totals()
    gap = allocation.funding_gap()
    overall = gap[(gap["year"] == "all") & (gap["region"] == "all")].iloc[0]
    form_f = _form_f(areas)
    alloc_table = _table(
        "allocation",
        _("Allocation per donor"),
        totals,
        [
            ("name", _("Donor"), f["text"]),
            ("tasks", _("Tasks"), f["int"]),
            ("cost_usd", _("Proposed, US$"), f["usd"]),
            ("cost_currency", _("In its currency"), f["num"]),
            ("currency", _("Currency"), f["text"]),
            ("cmr_m2", _("Cluster munitions, m²"), f["num"]),
            ("mine_m2", _("Mines, m²"), f["num"]),
            ("regions", _("Regions"), f["text"]),
            ("envelope_usd", _("Envelope, US$"), f["usd"]),
        ],
    )
    gap_table = _table(
        "gap",
        _("Remaining funding gap by year and region"),
        gap,
        [
            ("year", _("Year"), f["all"]),
            ("region", _("Region"), f["all"]),
            ("planned_usd", _("Planned, US$"), f["usd"]),
            ("funded_usd", _("Proposed to donors, US$"), f["usd"]),
            ("gap_usd", _("Gap, US$"), f["usd"]),
            ("gap_cmr_m2", _("Unfunded cluster munition land, m²"), f["num"]),
            ("gap_mine_m2", _("Unfunded mined land, m²"), f["num"]),
            ("tasks_unfunded", _("Unfunded tasks"), f["int"]),
        ],
    )
    form_table = _table(
        "form_f",
        _("Article 7 Form F-style: area by status and region (m²)"),
        form_f,
        [
            ("region", _("Region"), f["text"]),
            ("status", _("Status"), f["text"]),
            ("areas", _("Areas"), f["int"]),
            ("area_m2", _("Area, m²"), f["num"]),
            ("cmr_m2", _("Cluster munitions, m² (CCM)"), f["num"]),
            ("mine_m2", _("Mines m² (Mine Ban Convention)"), f["num"]),
        ],
    )
    progress = _progress(milestones)
    tables = [alloc_table, gap_table, form_table]
    if len(progress):
        tables.append(_progress_table(progress, _("Programme milestones (whole plan)"), f, _))
    settings = map_settings or MapSettings()
    png = static_map(
        allocation.candidates.assign(_colour=allocation.funded_by.fillna("unfunded").to_numpy()),
        areas,
        settings,
        title=project_name,
        by="_colour",
    )
    return (
        _env(tr)
        .get_template("programme.html.j2")
        .render(
            project_name=project_name,
            lang=language,
            dir="rtl" if language in RTL_LANGUAGES else "ltr",
            tables=tables,
            png=base64.b64encode(png).decode("ascii") if png else None,
            overall={k: n.usd(overall[k]) for k in ("planned_usd", "funded_usd", "gap_usd")},
            overall_raw={k: float(overall[k]) for k in ("planned_usd", "funded_usd", "gap_usd")},
            deadline_lines=_deadline_lines(dict(deadline or {}), n, _),
            allocation=allocation,
            # no solve time here: outputs are byte-identical across runs (timings: manifest)
            status=_("%(status)s, relative gap %(gap)s")
            % {"status": allocation.status, "gap": n.pct(allocation.gap)},
            notes=list(allocation.notes),
        )
    )


def _deadline_lines(dl: Mapping[str, Any], n: Numbers, _: Callable[[str], str]) -> list[str]:
    if not dl or dl.get("deadline") is None:
        return [_("No Article 4 deadline is configured for this programme.")]
    when = _as_date(dl["deadline"])
    date = n.date(when) if when is not None else str(dl["deadline"])
    if dl.get("meets"):
        lines = [
            _(
                "Article 4 deadline: %(date)s. With the planned budget the land contaminated "
                "by cluster munition remnants is released by then."
            )
            % {"date": date}
        ]
    else:
        lines = [
            _(
                "Article 4 deadline: %(date)s. With the planned budget the land contaminated "
                "by cluster munition remnants is not released by then."
            )
            % {"date": date}
        ]
    if _finite(dl.get("cmr_total_m2")):
        lines.append(
            _(
                "Cluster munition land: %(total)s m² in all, %(released)s m² released by the "
                "deadline, %(remaining)s m² remaining."
            )
            % {
                "total": n.num(dl["cmr_total_m2"]),
                "released": n.num(dl.get("cmr_released_m2")),
                "remaining": n.num(dl.get("cmr_remaining_m2")),
            }
        )
    if _finite(dl.get("budget_needed_per_year")):
        lines.append(
            _("Budget needed to meet the deadline: %(usd)s per year.")
            % {"usd": n.usd(dl["budget_needed_per_year"])}
        )
    fg = dl.get("funding_gap") or {}
    gaps = {k: v for k, v in fg.items() if _finite(v) and v > 0}
    if gaps:
        items = [f"{y}: {n.usd(v)}" for y, v in sorted(gaps.items(), key=lambda kv: str(kv[0]))]
        lines.append(
            _("Shortfall against the configured budget: %(years)s.") % {"years": n.join(items)}
        )
    return lines


def _formatters(n: Numbers, _: Callable[[str], str]) -> dict[str, Callable[[Any], str]]:
    """Cell formatters in the programme's locale; ``text`` cells are shown as given."""
    return {
        "text": str,
        "all": lambda v: _("all") if str(v) == "all" else str(v),
        "num": n.num,
        "int": n.int,
        "year": lambda v: f"{int(v)}" if _finite(v) else "—",
        "usd": n.usd,
        "pct": n.pct,
    }


def _table(
    tid: str,
    title: str,
    frame: pd.DataFrame,
    spec: list[tuple[str, str, Callable[[Any], str]]],
) -> dict[str, Any]:
    """A table for the page: id, title, headers, display rows and which columns are numbers."""
    spec = [s for s in spec if s[0] in frame.columns]
    rows = [[fmt(r[key]) for key, _h, fmt in spec] for _i, r in frame.iterrows()]
    return {
        "id": tid,
        "title": title,
        "headers": [h for _k, h, _f in spec],
        "rows": rows,
        "numeric": [fmt is not str and key not in ("year", "region") for key, _h, fmt in spec],
    }


def _progress_table(
    progress: pd.DataFrame, title: str, f: dict[str, Callable[[Any], str]], _
) -> dict[str, Any]:
    return _table(
        "progress",
        title,
        progress,
        [
            ("year", _("Year"), f["year"]),
            ("released_m2", _("Released, m²"), f["num"]),
            ("cmr_m2", _("Cluster munitions, m²"), f["num"]),
            ("mine_m2", _("Mines, m²"), f["num"]),
            ("tasks_completed", _("Tasks"), f["int"]),
            ("tasks", _("Tasks"), f["int"]),
            ("cost_usd", _("Cost, US$"), f["usd"]),
            ("progress_share", _("Cumulative share"), f["pct"]),
            ("cumulative_share", _("Cumulative share"), f["pct"]),
            ("cmr_remaining_m2", _("Cluster munition land remaining, m²"), f["num"]),
        ],
    )
