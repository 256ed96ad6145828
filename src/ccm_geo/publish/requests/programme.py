"""The programme view (``requests/programme.html``): the whole plan, the allocation per donor,
the remaining funding gap and Article 7 Form F-style area figures, for the national authority.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ccm_geo.publish.donors import Allocation
from ccm_geo.publish.requests.common import _finite
from ccm_geo.publish.requests.figures import static_map
from ccm_geo.publish.requests.picture import _form_f, _progress
from ccm_geo.publish.requests.render import _env
from ccm_geo.publish.settings import MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["render_programme_html"]

_NOT_ESTIMATED = "not estimated"


def render_programme_html(
    areas: gpd.GeoDataFrame,
    allocation: Allocation,
    milestones: pd.DataFrame | None,
    deadline: Mapping[str, Any] | None,
    *,
    project_name: str,
    map_settings: MapSettings | None = None,
) -> str:
    """Render the programme view: plan, allocation per donor, funding gap, Form F figures.

    Returns
    -------
    str
        One self-contained HTML document.
    """
    totals = allocation.totals()
    gap = allocation.funding_gap()
    overall = gap[(gap["year"] == "all") & (gap["region"] == "all")].iloc[0]
    form_f = _form_f(areas)
    alloc_table = _table(
        "allocation",
        "Allocation per donor",
        totals,
        [
            ("name", "Donor", str),
            ("tasks", "Tasks", _int),
            ("cost_usd", "Proposed, US$", _usd),
            ("cost_currency", "In its currency", _num),
            ("currency", "Currency", str),
            ("cmr_m2", "CMR m²", _num),
            ("mine_m2", "Mines m²", _num),
            ("regions", "Regions", str),
            ("envelope_usd", "Envelope, US$", _usd),
        ],
    )
    gap_table = _table(
        "gap",
        "Remaining funding gap by year and region",
        gap,
        [
            ("year", "Year", str),
            ("region", "Region", str),
            ("planned_usd", "Planned, US$", _usd),
            ("funded_usd", "Proposed to donors, US$", _usd),
            ("gap_usd", "Gap, US$", _usd),
            ("gap_cmr_m2", "Unfunded CMR m²", _num),
            ("gap_mine_m2", "Unfunded mines m²", _num),
            ("tasks_unfunded", "Unfunded tasks", _int),
        ],
    )
    form_table = _table(
        "form_f",
        "Article 7 Form F-style: area by status and region (m²)",
        form_f,
        [
            ("region", "Region", str),
            ("status", "Status", str),
            ("areas", "Areas", _int),
            ("area_m2", "Area m²", _num),
            ("cmr_m2", "CMR m² (CCM)", _num),
            ("mine_m2", "Mines m² (Mine Ban Convention)", _num),
        ],
    )
    progress = _progress(milestones)
    tables = [alloc_table, gap_table, form_table]
    if len(progress):
        tables.append(_progress_table(progress, "Programme milestones (whole plan)"))
    settings = map_settings or MapSettings()
    png = static_map(
        allocation.candidates.assign(_colour=allocation.funded_by.fillna("unfunded").to_numpy()),
        areas,
        settings,
        title=project_name,
        by="_colour",
    )
    deadline_lines = _deadline_lines_raw(dict(deadline or {}))
    return (
        _env()
        .get_template("programme.html.j2")
        .render(
            project_name=project_name,
            tables=tables,
            png=base64.b64encode(png).decode("ascii") if png else None,
            overall={k: _usd(overall[k]) for k in ("planned_usd", "funded_usd", "gap_usd")},
            overall_raw={k: float(overall[k]) for k in ("planned_usd", "funded_usd", "gap_usd")},
            deadline_lines=deadline_lines,
            allocation=allocation,
            # no solve time here: outputs are byte-identical across runs (timings: manifest)
            status=f"{allocation.status}, relative gap {_pct(allocation.gap)}",
            notes=list(allocation.notes),
        )
    )


def _deadline_lines_raw(dl: Mapping[str, Any]) -> list[str]:
    if not dl or dl.get("deadline") is None:
        return ["No Article 4 deadline is configured for this programme."]
    meets = dl.get("meets")
    lines = [
        f"Article 4 deadline: {dl['deadline']}. With the planned budget the CMR area "
        f"{'is' if meets else 'is not'} released by then."
    ]
    if _finite(dl.get("cmr_total_m2")):
        lines.append(
            f"CMR area: {_num(dl['cmr_total_m2'])} m² in all, "
            f"{_num(dl.get('cmr_released_m2'))} m² released by the deadline, "
            f"{_num(dl.get('cmr_remaining_m2'))} m² remaining."
        )
    if _finite(dl.get("budget_needed_per_year")):
        lines.append(
            f"Budget needed to meet the deadline: {_usd(dl['budget_needed_per_year'])} per year."
        )
    fg = dl.get("funding_gap") or {}
    gaps = {k: v for k, v in fg.items() if _finite(v) and v > 0}
    if gaps:
        lines.append(
            "Shortfall against the configured budget: "
            + ", ".join(
                f"{y}: {_usd(v)}" for y, v in sorted(gaps.items(), key=lambda kv: str(kv[0]))
            )
            + "."
        )
    return lines


# ---- formatting of the programme view (English) ----


def _num(v) -> str:
    return f"{float(v):,.0f}" if _finite(v) else "—"


def _num2(v) -> str:
    return f"{float(v):,.2f}" if _finite(v) else "—"


def _int(v) -> str:
    return f"{int(v):,d}" if _finite(v) else "—"


def _year(v) -> str:
    return f"{int(v)}" if _finite(v) else "—"


def _usd(v) -> str:
    return f"US${float(v):,.0f}" if _finite(v) else "—"


def _pct(v) -> str:
    return f"{float(v):.1%}" if _finite(v) else "n/a"


def _ben(v) -> str:
    return f"{float(v):,.0f}" if _finite(v) else _NOT_ESTIMATED


def _money(currency: str):
    def fmt(v) -> str:
        return f"{float(v):,.0f} {currency}" if _finite(v) else "—"

    fmt.currency = currency
    return fmt


def _table(
    tid: str,
    title: str,
    frame: pd.DataFrame,
    spec: list[tuple[str, str, Any]],
    xlsx: dict[str, tuple[str, int]] | None = None,
) -> dict[str, Any]:
    """A table for every format: headers, display rows, the frame and the xlsx formats."""
    spec = [s for s in spec if s[0] in frame.columns]
    rows = [[fmt(r[key]) for key, _, fmt in spec] for _, r in frame.iterrows()]
    numeric = [fmt not in (str,) for _, _, fmt in spec]
    data = frame[[k for k, _, _ in spec]].copy()
    data.columns = [h for _, h, _ in spec]
    xf = {}
    for key, header, fmt in spec:
        kind = (xlsx or {}).get(key)
        if kind is None:
            kind = (
                ("usd", 16)
                if fmt is _usd
                else ("int", 10)
                if fmt is _int
                else ("year", 8)
                if fmt is _year
                else ("pct", 12)
                if fmt is _pct
                else ("cur", 16)
                if getattr(fmt, "currency", None)
                else ("num2", 12)
                if fmt is _num2
                else ("text", max(10, min(60, len(header) + 4)))
                if fmt is str
                else ("num", 14)
            )
        xf[header] = kind
    widths = [
        max(6, min(40, max([len(h)] + [len(r[i]) for r in rows])))
        for i, (_, h, _) in enumerate(spec)
    ]
    return {
        "id": tid,
        "title": title,
        "headers": [h for _, h, _ in spec],
        "rows": rows,
        "numeric": numeric,
        "frame": data,
        "xlsx": xf,
        "widths": widths,
    }


def _progress_table(progress: pd.DataFrame, title: str) -> dict[str, Any]:
    return _table(
        "progress",
        title,
        progress,
        [
            ("year", "Year", _year),
            ("released_m2", "Released m²", _num),
            ("cmr_m2", "CMR m²", _num),
            ("mine_m2", "Mines m²", _num),
            ("tasks_completed", "Tasks", _int),
            ("tasks", "Tasks", _int),
            ("cost_usd", "Cost, US$", _usd),
            ("progress_share", "Cumulative share", _pct),
            ("cumulative_share", "Cumulative share", _pct),
            ("cmr_remaining_m2", "CMR remaining m²", _num),
        ],
    )
