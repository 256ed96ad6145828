"""The request's content laid out for the template: every section's rows and sentences in the
donor's words and numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ccm_geo.publish.requests.common import _finite, population_radius_km
from ccm_geo.publish.requests.content import RequestContent
from ccm_geo.publish.requests.words import (
    Numbers,
    _criterion,
    _method,
    _pkg_label,
    _team,
    unit_cost_source,
)


def _document(c: RequestContent, gettext: Callable[[str], str], n: Numbers) -> dict[str, Any]:
    """Every table and figure of the request, worded and formatted for the template."""
    _ = gettext  # noqa: F811 - the document's catalogue from here on
    d, t, p, w = c.donor, c.totals, c.programme, c.picture
    show_cur = d.currency != "USD"
    regions = t["regions"] or sorted(c.context_regions["region"].astype(str).tolist())
    years = t["years"]
    radius = population_radius_km(c.assumptions.get("population_column"))
    key_figures = [
        ("ask_usd", _("Amount requested"), c.ask_usd, n.usd(c.ask_usd)),
        ("cost_usd", _("Direct cost of the tasks"), t["cost_usd"], n.usd(t["cost_usd"])),
        ("released_m2", _("Land released"), t["released_m2"], n.ha(t["released_m2"])),
        ("cmr_m2", _("Cluster munition land"), t["cmr_m2"], n.ha(t["cmr_m2"])),
        ("mine_m2", _("Mined land"), t["mine_m2"], n.ha(t["mine_m2"])),
        ("tasks", _("Tasks"), t["tasks"], n.int(t["tasks"])),
    ]
    key_figures = [
        k for k in key_figures if k[0] not in ("cmr_m2", "mine_m2") or k[2] > 0 or not t["tasks"]
    ]
    if not t["tasks"]:
        key_figures = key_figures[:1] + [
            (
                f"{pk['key']}_people",
                _pkg_label(pk["key"], _),
                pk["people"] * pk["share_funded"],
                n.int(pk["people"] * pk["share_funded"]) if _finite(pk["people"]) else _("no data"),
            )
            for pk in c.packages
        ]
    task_heads, rows, widths, task_text_cols, task_summary = _task_annex(c, _, n, show_cur)
    # a package without mined (or CMR) land has no column for it
    cmr_j = task_heads.index(_("Cluster munitions, m²"))
    mine_j = task_heads.index(_("Mines, m²"))
    keep = [
        j
        for j in range(len(task_heads))
        if not (j == cmr_j and t["cmr_m2"] <= 0) and not (j == mine_j and t["mine_m2"] <= 0)
    ]
    task_heads = [task_heads[j] for j in keep]
    rows = [[r[j] for j in keep] for r in rows]
    widths = [widths[j] for j in keep]
    task_widths = [round(w * 100 / sum(widths), 1) for w in widths]
    priority = []
    budget_years = [int(y) for y in c.budget.columns] if len(c.budget) else []
    budget_rows = []
    for act, row in c.budget.iterrows():
        budget_rows.append(
            [_("Survey") if act == "survey" else _("Clearance")]
            + [n.usd(row[y]) for y in budget_years]
            + [n.usd(row.sum())]
        )
    for pk in c.packages:
        budget_rows.append(
            [
                _pkg_label(pk["key"], _),
                *([""] * len(budget_years)),
                n.usd(pk["cost_usd"]) if _finite(pk["cost_usd"]) else _("no data"),
            ]
        )
    direct = c.ask_usd - c.indirect_usd
    by_year = c.budget.sum() if len(c.budget) else pd.Series(dtype=float)
    budget_rows.append(
        [_("Indirect costs (%(share)s)") % {"share": n.pct(d.indirect_cost_share, 0)}]
        + [n.usd(by_year[y] * d.indirect_cost_share) for y in budget_years]
        + [n.usd(c.indirect_usd)]
    )
    budget_total = (
        [_("Total")]
        + [n.usd(by_year[y] * (1 + d.indirect_cost_share)) for y in budget_years]
        + [n.usd(c.ask_usd)]
    )
    gantt_cols = [col for col in c.gantt.columns if col not in ("region", "activity")]
    gantt = [
        {
            "label": r["region"]
            + ": "
            + (_("survey") if r["activity"] == "survey" else _("clearance")),
            "cells": [int(r[q]) for q in gantt_cols],
        }
        for _i, r in _gantt_rows(c.gantt, gantt_cols, d.table_rows_max, _).iterrows()
    ]
    indicator_words = {
        "released_ha": _("Land released (hectares)"),
        "cmr_ha": _("Land released from cluster munition remnants (hectares)"),
        "mine_ha": _("Land released from mines (hectares)"),
        "tasks": _("Survey and clearance tasks completed"),
        "people": _("People living near the released land"),
        "survivors": _("Survivors assisted"),
        "re_people": _("People reached by risk education"),
    }
    output_words = {
        "land": _("Land released and handed back for use"),
        "tasks": _("Work completed to national standards"),
        "people": _("Communities safer"),
        "victim_assistance": _("Survivors assisted"),
        "risk_education": _("Risk education delivered"),
    }
    result_years = [y for y in c.results.columns if y not in ("output", "indicator")]
    results = [
        [
            output_words.get(r["output"], r["output"]),
            indicator_words.get(r["indicator"], r["indicator"]),
            *[
                n.num(r[y], 1 if r["indicator"].endswith("_ha") else 0) if _finite(r[y]) else "—"
                for y in result_years
            ],
        ]
        for _i, r in c.results.iterrows()
    ]
    result_heads = [_("Output"), _("Indicator")] + [
        str(y) if y else _("Grant period") for y in result_years
    ]
    methods = [
        [
            _method(str(m["method"]), _),
            n.int(m["tasks"]),
            n.ha(m["area_m2"]),
            n.num(m["team_days"], 0),
            n.num(m["productivity_m2_per_team_day"]),
            n.usd(m["cost_usd_per_team_day"]),
            # all in: the method's cost over the area it works (team-days and per-m² parts; the
            # two unit figures are in the cost basis annex)
            n.money(
                m["cost_usd"] / m["area_m2"] if m["area_m2"] > 0 else m["cost_usd_per_m2"],
                "USD",
                2,
            ),
        ]
        for _i, m in c.methods.iterrows()
    ]
    ctx_rows = [
        [
            str(r["region"]),
            n.int(r["areas"]),
            n.ha(r["cmr_ha"] * 1e4),
            n.ha(r["mine_ha"] * 1e4),
            n.int(r["accidents"]) if _finite(r["accidents"]) else _("no data"),
            n.int(r["casualties"]) if _finite(r["casualties"]) else _("no data"),
            n.int(r["people"]) if _finite(r["people"]) else _("no data"),
        ]
        for _i, r in _top_rows(
            c.context_regions,
            d.table_rows_max,
            rank="areas",
            label_col="region",
            other=_("Other regions (%(n)s)"),
            sums=["areas", "cmr_ha", "mine_ha", "accidents", "casualties", "people"],
        ).iterrows()
    ]
    ctx_heads = [
        _("Region"),
        _("Hazardous areas"),
        _("Cluster munitions"),
        _("Mines"),
        _("Accidents"),
        _("Casualties"),
        _("People living nearby"),
    ]
    # a programme without cluster munition (or mined) land has no column for it
    treaties = {tr["treaty"] for tr in c.treaties}
    ctx_keep = [
        j for j in range(7) if (j != 2 or "ccm" in treaties) and (j != 3 or "apmbc" in treaties)
    ]
    ctx_heads = [ctx_heads[j] for j in ctx_keep]
    ctx_rows = [[row[j] for j in ctx_keep] for row in ctx_rows]
    va_rows = []
    if c.victim_assistance is not None:
        va = c.victim_assistance
        limit = d.table_rows_max
        for r in va.iloc[: limit - 1 if len(va) > limit else len(va)].itertuples(index=False):
            va_rows.append(
                [
                    str(r.name),
                    str(r.region),
                    n.int(r.survivors),
                    n.int(r.killed),
                    n.num(r.travel_min_health) if _finite(r.travel_min_health) else _("no data"),
                    _("yes") if bool(r.remote) else _("no"),
                ]
            )
        if len(va) > limit:  # the villages with most survivors first; the rest in one row
            rest = va.iloc[limit - 1 :]
            va_rows.append(
                [
                    _("Other villages (%(n)s)") % {"n": n.int(len(rest))},
                    "",
                    n.int(pd.to_numeric(rest["survivors"], errors="coerce").sum()),
                    n.int(pd.to_numeric(rest["killed"], errors="coerce").sum()),
                    "",
                    n.int(int(rest["remote"].astype(bool).sum())),
                ]
            )
    re_rows = []
    if c.risk_education is not None:
        re_table = _top_rows(
            c.risk_education,
            d.table_rows_max,
            rank="areas",
            label_col="region",
            other=_("Other regions (%(n)s)"),
            sums=["areas", "area_m2", "cmr_areas", "population_nearby"],
        )
        for r in re_table.itertuples(index=False):
            re_rows.append(
                [
                    str(r.region),
                    n.int(r.areas),
                    n.ha(r.area_m2),
                    n.int(r.cmr_areas),
                    n.int(r.population_nearby) if _finite(r.population_nearby) else _("no data"),
                ]
            )
    a = c.assumptions
    assumptions = [
        (
            _("Team-month"),
            _("%(days)s working days") % {"days": n.num(a["working_days"] / 12, 1)},
            _("%(days)s working days per team and year, divided by 12")
            % {"days": n.num(a["working_days"])},
        ),
        (
            _("Indirect costs"),
            n.pct(a["indirect_cost_share"], 0),
            _("share of the direct cost, set per donor"),
        ),
    ]
    if show_cur:
        assumptions.append(
            (
                _("Exchange rate"),
                f"1 US$ = {n.num(a['exchange_rate'], 4)} {a['currency']}",
                a["exchange_rate_source"] or _("fixed in the project settings"),
            )
        )
    for m in c.methods.itertuples(index=False):
        assumptions.append(
            (
                _method(str(m.method), _),
                _("%(m2)s m² per team-day; %(day)s per team-day; %(per_m2)s US$ per m²")
                % {
                    "m2": n.num(m.productivity_m2_per_team_day),
                    "day": n.usd(m.cost_usd_per_team_day),
                    "per_m2": n.num(m.cost_usd_per_m2, 2),
                },
                str(m.source) or _("planning settings of the programme"),
            )
        )
    for pk in c.packages:
        assumptions.append(
            (
                _pkg_label(pk["key"], _),
                _("%(cost)s per person") % {"cost": n.usd(pk["unit_usd"])},
                unit_cost_source(pk, _),
            )
        )
    if radius is not None:
        assumptions.append(
            (
                _("People living nearby"),
                _("within %(km)s km") % {"km": n.num(radius, 0)},
                _("villages of the settlements register within this distance of a hazardous area"),
            )
        )
    if c.victim_assistance is not None:
        assumptions.append(
            (
                _("Remote village"),
                _("more than %(min)s minutes from care") % {"min": n.num(a["remote_min"])},
                _("travel time over the road network")
                if a["travel_from_roads"]
                else _("straight line to the nearest health facility at %(kmh)s km/h")
                % {"kmh": n.num(a["speed_kmh"])},
            )
        )
    evidence = _evidence(c)
    return {
        "key_figures": key_figures,
        "regions": n.join(regions),
        "years": n.join([str(y) for y in years]),
        "radius": radius,
        "reasons": [(_criterion(k, _), n.pct(v, 0)) for k, v in c.reasons],
        "evidence": evidence,
        "direct_usd": direct,
        "task_heads": task_heads,
        "task_text_cols": task_text_cols,
        "task_summary": task_summary,
        "task_areas": int(c.tasks["hazard_id"].nunique()) if len(c.tasks) else 0,
        "sheets_left_out": sorted(set(t["regions"]) - set(c.region_maps)),
        "task_widths": task_widths,
        "task_rows": rows,
        "priority_rows": priority,
        "budget_years": budget_years,
        "budget_rows": budget_rows,
        "budget_total": budget_total,
        "gantt_cols": gantt_cols,
        "gantt": gantt,
        "result_heads": result_heads,
        "results": results,
        "methods": methods,
        "ctx_rows": ctx_rows,
        "ctx_heads": ctx_heads,
        "va_rows": va_rows,
        "re_rows": re_rows,
        "assumptions": assumptions,
        "method_names": n.join([_method(str(m), _) for m in c.methods["method"]]),
        "teams": n.join([f"{_team(k, _)} ({v})" for k, v in w["teams"].items()]),
        "packages": [
            {**pk, "label": _pkg_label(pk["key"], _), "basis": unit_cost_source(pk, _)}
            for pk in c.packages
        ],
        "programme": p,
    }


def _task_annex(
    c: RequestContent, _: Callable[[str], str], n: Numbers, show_cur: bool
) -> tuple[list[str], list[list[str]], list[int], int, str | None]:
    """Annex A: heads, rows, column weights, the number of text columns, and the summary kind.

    One row per area (its survey and clearance tasks together, with its rank and score) up
    to ``donor.annex_rows_max`` areas; beyond it one row per region and year (``"year"``), or
    per region (``"region"``) when that is still too long. The workbook and the GIS layer keep
    every area and task.
    """
    d, pkg = c.donor, c.tasks
    cost_cur = [_("Cost, %(currency)s") % {"currency": d.currency}] if show_cur else []
    n_areas = int(pkg["hazard_id"].nunique()) if len(pkg) else 0
    if n_areas > d.annex_rows_max:
        by = ["region", "year"]
        kind = "year"
        if pkg.groupby(by).ngroups > d.annex_rows_max:
            by, kind = ["region"], "region"
        p = pkg.assign(
            region=pkg["region"].astype(str),
            team_months=pd.to_numeric(pkg["team_months"], errors="coerce"),
        )
        g = p.groupby(by, sort=True)
        agg = g.agg(
            areas=("hazard_id", "nunique"),
            tasks=("task_id", "size"),
            first=("year", "min"),
            last=("year", "max"),
            released_m2=("released_m2", "sum"),
            cmr_m2=("cmr_m2", "sum"),
            mine_m2=("mine_m2", "sum"),
            team_months=("team_months", "sum"),
            cost_usd=("cost_usd", "sum"),
            cost_currency=("cost_currency", "sum"),
        ).reset_index()
        rows = [
            [
                str(r.region),
                str(int(r.first)) if r.first == r.last else f"{int(r.first)}–{int(r.last)}",
                n.int(r.areas),
                n.int(r.tasks),
                n.num(r.released_m2),
                n.num(r.cmr_m2),
                n.num(r.mine_m2),
                n.num(r.team_months, 1),
                n.usd(r.cost_usd),
                *([n.cur(r.cost_currency)] if show_cur else []),
            ]
            for r in agg.itertuples(index=False)
        ]
        heads = [
            _("Region"),
            _("Year"),
            _("Areas"),
            _("Tasks"),
            _("Released, m²"),
            _("Cluster munitions, m²"),
            _("Mines, m²"),
            _("Team-months"),
            _("Cost, US$"),
            *cost_cur,
        ]
        widths = [14, 8, 6, 6, 9, 9, 9, 7, 10, *([10] if show_cur else [])]
        return heads, rows, widths, 2, kind
    rows = []
    score = c.priority.drop_duplicates("hazard_id").set_index("hazard_id")
    for hid, g in pkg.groupby("hazard_id", sort=False):
        first = g.iloc[0]
        ys = sorted({int(y) for y in g["year"]})
        rows.append(
            [
                str(hid),
                str(first.get("name", "") or ""),
                str(first["region"]),
                " + ".join(_method(str(m), _) for m in g["method"]),
                "–".join(str(y) for y in (ys[0], ys[-1])) if len(ys) > 1 else str(ys[0]),
                n.num(g["released_m2"].sum()),
                n.num(g["cmr_m2"].sum()),
                n.num(g["mine_m2"].sum()),
                n.num(pd.to_numeric(g["team_months"], errors="coerce").sum(), 1),
                n.usd(g["cost_usd"].sum()),
                *([n.cur(g["cost_currency"].sum())] if show_cur else []),
                n.int(score["rank"].get(hid)) if hid in score.index else "—",
                n.num(score["score"].get(hid), 2) if hid in score.index else "—",
            ]
        )
    heads = [
        _("Area"),
        _("Place"),
        _("Region"),
        _("Work"),
        _("Year"),
        _("Released, m²"),
        _("Cluster munitions, m²"),
        _("Mines, m²"),
        _("Team-months"),
        _("Cost, US$"),
        *cost_cur,
        _("Rank"),
        _("Score"),
    ]
    widths = [11, 12, 9, 12, 7, 7, 7, 6, 6, 9, *([9] if show_cur else []), 5, 5]
    return heads, rows, widths, 4, None


def _top_rows(
    frame: pd.DataFrame,
    limit: int,
    *,
    rank: str,
    label_col: str,
    other: str,
    sums: list[str],
) -> pd.DataFrame:
    """``frame`` when it has at most ``limit`` rows; else its ``limit - 1`` largest rows by
    ``rank`` (in their order in ``frame``) and one row summing the others (``other`` names
    it, with their count; a column unknown in any of them stays unknown)."""
    if len(frame) <= limit:
        return frame
    order = frame[rank].rank(method="first", ascending=False)
    top = frame[(order <= limit - 1).to_numpy()]
    rest = frame[(order > limit - 1).to_numpy()]
    row: dict[str, Any] = {c: np.nan for c in frame.columns}
    for col in sums:
        v = pd.to_numeric(rest[col], errors="coerce")
        row[col] = float(v.sum()) if v.notna().all() else np.nan
    row[label_col] = other % {"n": len(rest)}
    return pd.concat([top, pd.DataFrame([row])], ignore_index=True)


def _gantt_rows(
    gantt: pd.DataFrame, cols: list[str], limit: int, _: Callable[[str], str]
) -> pd.DataFrame:
    """The work plan's rows, at most ``limit``: the regions with most task-quarters, the
    others summed per activity under one label."""
    if len(gantt) <= limit:
        return gantt
    load = gantt.groupby("region")[cols].sum().sum(axis=1)
    ranked = sorted(load.index, key=lambda r: (-float(load[r]), r))
    keep: list[str] = []
    for r in ranked:  # whole regions (survey and clearance rows) while they fit
        if (gantt["region"].isin([*keep, r])).sum() > limit - 2:
            break
        keep.append(r)
    top = gantt[gantt["region"].isin(keep)]
    rest = gantt[~gantt["region"].isin(keep)]
    label = _("Other regions (%(n)s)") % {"n": rest["region"].nunique()}
    other = rest.groupby("activity", sort=False)[cols].sum().reset_index()
    other.insert(0, "region", label)
    return pd.concat([top, other], ignore_index=True)


def _evidence(c: RequestContent) -> dict[str, int]:
    """How many of the package's areas are confirmed (CHA) and suspected (SHA)."""
    if not len(c.priority):
        return {"areas": 0, "confirmed": 0}
    classes = c.tasks.drop_duplicates("hazard_id")
    status = classes["status"].astype(str) if "status" in classes else pd.Series(dtype=str)
    return {"areas": len(classes), "confirmed": int((status == "CHA").sum())}


# ---- maps ----------------------------------------------------------------------------------
