"""The Excel package of a request (``tasks.xlsx``): a workbook that calculates.

Sheets (none empty):

- ``Assumptions``: every unit figure as a numeric cell (per method: m² per team-day, US$ per
  team-day, US$ per m²; working days per year, exchange rate, indirect cost share; victim
  assistance and risk education unit costs), with its source;
- ``Tasks``: an Excel table of the donor's tasks; team-days, cost, cost in the donor's currency
  and team-months are formulas of the area worked and the assumption cells; a totals row;
- ``Budget``: direct cost by activity and year (``SUMIFS`` over the tasks), the indirect cost
  line and the total asked (formulas);
- ``Summary``: the key figures as formulas of the other sheets;
- ``Priority`` (scores as 0.00), ``Victim assistance`` / ``Risk education`` when funded.

Every formula carries its computed value, so a reader that does not recalculate (or openpyxl)
shows the same numbers; LibreOffice or Excel recalculating gives them again (tested).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ccm_geo.io import atomic_output
from ccm_geo.publish.requests.common import _finite
from ccm_geo.publish.requests.content import RequestContent
from ccm_geo.publish.requests.words import _method, translations, unit_cost_source

__all__ = ["write_request_xlsx"]

_MONEY = '#,##0 "US$"'
_MONEY2 = '#,##0.00 "US$"'


def write_request_xlsx(content: RequestContent, path: str | Path) -> Path:
    """Write the request's workbook (formulas, tables, number formats, print setup), atomically.

    Parameters
    ----------
    content
        The request.
    path
        The ``.xlsx`` to write.

    Returns
    -------
    Path
        ``path``.
    """
    import xlsxwriter

    path = Path(path)
    _ = translations(content.donor.language).gettext
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"nan_inf_to_errors": True})
        wb.set_properties(
            {
                "title": f"{_('Funding request')}: {content.donor.name}",
                "created": dt.datetime(2000, 1, 1),
            }
        )
        f = _formats(wb, content.donor.currency)
        # sheets in reading order; the summary and budget refer to the others by address
        summary, tasks, budget = _sheet(wb, _("Summary")), _sheet(wb, _("Tasks")), None
        budget = _sheet(wb, _("Budget"))
        priority = _sheet(wb, _("Priority")) if len(content.priority) else None
        va = content.victim_assistance
        va_ws = _sheet(wb, _("Victim assistance")) if va is not None and len(va) else None
        ra = content.risk_education
        re_ws = _sheet(wb, _("Risk education")) if ra is not None and len(ra) else None
        refs = _assumptions_sheet(_sheet(wb, _("Assumptions")), f, content, _)
        tasks_ref = _tasks_sheet(tasks, f, content, refs, _)
        budget_ref = _budget_sheet(budget, f, content, refs, tasks_ref, _)
        _summary_sheet(summary, f, content, refs, tasks_ref, budget_ref, _)
        if priority is not None:
            _priority_sheet(priority, f, content, _)
        if va_ws is not None:
            _va_sheet(va_ws, f, content, _)
        if re_ws is not None:
            _re_sheet(re_ws, f, content, _)
        wb.close()
    return path


def _formats(wb, currency: str) -> dict[str, Any]:
    base = {"valign": "top"}
    return {
        "head": wb.add_format({**base, "bold": True, "bg_color": "#dddddd", "text_wrap": True}),
        "text": wb.add_format(base),
        "wrap": wb.add_format({**base, "text_wrap": True}),
        "bold": wb.add_format({**base, "bold": True}),
        "input": wb.add_format({**base, "bg_color": "#fff2cc", "num_format": "#,##0.00"}),
        "input_pct": wb.add_format({**base, "bg_color": "#fff2cc", "num_format": "0.0%"}),
        "input_money": wb.add_format({**base, "bg_color": "#fff2cc", "num_format": _MONEY2}),
        "int": wb.add_format({**base, "num_format": "#,##0"}),
        "num": wb.add_format({**base, "num_format": "#,##0"}),
        "num2": wb.add_format({**base, "num_format": "#,##0.00"}),
        "score": wb.add_format({**base, "num_format": "0.00"}),
        "pct": wb.add_format({**base, "num_format": "0.0%"}),
        "money": wb.add_format({**base, "num_format": _MONEY}),
        "money_bold": wb.add_format({**base, "bold": True, "num_format": _MONEY}),
        "cur": wb.add_format({**base, "num_format": f'#,##0 "{currency}"'}),
        "year": wb.add_format({**base, "num_format": "0"}),
    }


def _sheet(wb, name: str):
    ws = wb.add_worksheet(name[:31])
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # fit to width
    ws.repeat_rows(0)
    ws.freeze_panes(1, 0)
    ws.set_footer("&C&P / &N")
    return ws


def _assumptions_sheet(ws, f, c: RequestContent, _) -> dict[str, Any]:
    """Numeric assumption cells; returns their absolute references."""
    ws.set_landscape()
    heads = [
        _("Method"),
        _("m² per team-day"),
        _("Cost per team-day"),
        _("Cost per m²"),
        _("Source"),
    ]
    for j, h in enumerate(heads):
        ws.write_string(0, j, h, f["head"])
    ws.set_column(0, 0, 34)
    ws.set_column(1, 3, 16)
    ws.set_column(4, 4, 80)
    m = c.methods
    methods: dict[str, int] = {}
    for i, r in enumerate(m.itertuples(index=False), start=1):
        ws.write_string(i, 0, str(r.method), f["text"])
        _number_or_no_data(ws, f, i, 1, r.productivity_m2_per_team_day, "input", _)
        _number_or_no_data(ws, f, i, 2, r.cost_usd_per_team_day, "input_money", _)
        _number_or_no_data(ws, f, i, 3, r.cost_usd_per_m2, "input_money", _)
        ws.write_string(i, 4, f"{_method(str(r.method), _)}. {r.source}".strip(), f["wrap"])
        methods[str(r.method)] = i + 1
    last = max(len(m), 1)
    if len(m):
        ws.add_table(
            0,
            0,
            last,
            4,
            {
                "name": "Methods",
                "style": "Table Style Light 1",
                "autofilter": False,
                "columns": [{"header": h} for h in heads],
            },
        )
    row = last + 2
    a = c.assumptions
    cells = {}
    items = [
        ("wdays", _("Working days per team and year"), a["working_days"], f["input"], ""),
        (
            "rate",
            _("Exchange rate (%(currency)s per US$)") % {"currency": a["currency"]},
            a["exchange_rate"],
            f["input"],
            a["exchange_rate_source"],
        ),
        (
            "indirect",
            _("Indirect costs"),
            a["indirect_cost_share"],
            f["input_pct"],
            _("share of the direct cost, set per donor"),
        ),
    ]
    for pk in c.packages:
        items.append(
            (
                pk["key"],
                _("%(package)s: cost per person") % {"package": _pkg(pk["key"], _)},
                pk["unit_usd"],
                f["input_money"],
                unit_cost_source(pk, _),
            )
        )
    ws.write_string(row, 0, _("Item"), f["head"])
    ws.write_string(row, 1, _("Value"), f["head"])
    ws.write_string(row, 4, _("Source"), f["head"])
    for k, (key, label, value, fmt, source) in enumerate(items, start=row + 1):
        ws.write_string(k, 0, label, f["text"])
        ws.write_number(k, 1, float(value), fmt)
        ws.write_string(k, 4, str(source or ""), f["wrap"])
        cells[key] = f"{_ref(ws)}$B${k + 1}"
    # a method without its own cost per m² costs its (all-in) team-days only
    all_in = {str(r.method) for r in m.itertuples(index=False) if _missing(r.cost_usd_per_m2)}
    return {
        "methods": methods,
        "method_rows": (2, last + 1),
        "A": _ref(ws),
        "all_in": all_in,
        **cells,
    }


def _tasks_sheet(ws, f, c: RequestContent, refs: dict[str, Any], _) -> dict[str, Any]:
    ws.set_landscape()
    t = c.tasks
    show_cur = c.donor.currency != "USD"
    heads = [
        _("Task"),
        _("Place"),
        _("Region"),
        _("Method"),
        _("Activity"),
        _("Year"),
        _("Area worked, m²"),
        _("Released, m²"),
        _("Cluster munitions, m²"),
        _("Mines, m²"),
        _("Team-days"),
        _("Cost, US$"),
        _("Team-months"),
    ]
    if show_cur:
        heads.append(_("Cost, %(currency)s") % {"currency": c.donor.currency})
    widths = [18, 26, 14, 20, 11, 7, 14, 14, 14, 12, 11, 14, 12, 16]
    for j, w in enumerate(widths[: len(heads)]):
        ws.set_column(j, j, w)
    lo, hi = refs["method_rows"]
    mrange = f"{refs['A']}$A${lo}:$D${hi}"
    wd = refs["wdays"]
    n = len(t)
    for i, r in enumerate(t.itertuples(index=False), start=1):
        x = i + 1  # Excel row
        ws.write_string(i, 0, str(r.task_id), f["text"])
        ws.write_string(i, 1, str(getattr(r, "name", "") or ""), f["text"])
        ws.write_string(i, 2, str(r.region), f["text"])
        ws.write_string(i, 3, str(r.method), f["text"])
        ws.write_string(i, 4, _("survey") if r.activity == "survey" else _("clearance"), f["text"])
        ws.write_number(i, 5, int(r.year), f["year"])
        _number_or_no_data(ws, f, i, 6, r.area_m2, "num", _)
        _number_or_no_data(ws, f, i, 7, r.released_m2, "num", _)
        _number_or_no_data(ws, f, i, 8, r.cmr_m2, "num", _)
        _number_or_no_data(ws, f, i, 9, r.mine_m2, "num", _)
        days = _cached(getattr(r, "team_days", float("nan")))
        ws.write_formula(i, 10, f"=G{x}/VLOOKUP(D{x},{mrange},2,FALSE)", f["num2"], days)
        cost = f"=K{x}*VLOOKUP(D{x},{mrange},3,FALSE)"
        if str(r.method) not in refs["all_in"]:
            cost += f"+G{x}*VLOOKUP(D{x},{mrange},4,FALSE)"
        ws.write_formula(i, 11, cost, f["money"], _cached(r.cost_usd))
        ws.write_formula(i, 12, f"=K{x}/({wd}/12)", f["num2"], _cached(r.team_months))
        if show_cur:
            ws.write_formula(i, 13, f"=L{x}*{refs['rate']}", f["cur"], _cached(r.cost_currency))
    cols = []
    for j, h in enumerate(heads):
        col: dict[str, Any] = {"header": h}
        if j == 0:
            col["total_string"] = _("Total")
        elif j in (6, 7, 8, 9, 10, 11, 12, 13):
            # a plain range (structured references differ between spreadsheet programs)
            col["total_function"] = f"=SUBTOTAL(109,{_col(j)}2:{_col(j)}{max(n, 1) + 1})"
            total = {
                6: "area_m2",
                7: "released_m2",
                8: "cmr_m2",
                9: "mine_m2",
                10: "team_days",
                11: "cost_usd",
                12: "team_months",
                13: "cost_currency",
            }[j]
            vals = (
                pd.to_numeric(t[total], errors="coerce") if total in t else pd.Series(dtype=float)
            )
            col["total_value"] = float(vals.sum())
            if vals.isna().any():  # a total over a missing value is no data, not the others' sum
                rows = f"{_col(j)}2:{_col(j)}{max(n, 1) + 1}"
                no_data = _("no data").replace('"', '""')
                col["total_function"] = (
                    f'=IF(COUNT({rows})<ROWS({rows}),"{no_data}",SUBTOTAL(109,{rows}))'
                )
                col["total_value"] = _("no data")
            col["format"] = {11: f["money"], 13: f["cur"], 10: f["num2"], 12: f["num2"]}.get(
                j, f["num"]
            )
        cols.append(col)
    ws.add_table(
        0,
        0,
        max(n, 1) + 1,
        len(heads) - 1,
        {"name": "Tasks", "total_row": True, "columns": cols, "style": "Table Style Light 9"},
    )
    if n == 0:  # a table needs a data row: say why it is empty
        ws.write_string(1, 0, _("No task in this request"), f["text"])
    return {"first": 2, "last": max(n, 1) + 1, "total_row": max(n, 1) + 2, "T": _ref(ws)}


def _budget_sheet(ws, f, c: RequestContent, refs, tasks_ref, _) -> dict[str, Any]:
    years = sorted(int(y) for y in c.tasks["year"].unique()) if len(c.tasks) else []
    ws.write_string(0, 0, _("Activity"), f["head"])
    ws.set_column(0, 0, 34)
    ws.set_column(1, len(years) + 1, 15)
    for j, y in enumerate(years, start=1):
        ws.write_number(0, j, y, f["head"])
    tot_col = len(years) + 1
    ws.write_string(0, tot_col, _("Total"), f["head"])
    lo, hi = tasks_ref["first"], tasks_ref["last"]
    T = tasks_ref["T"]
    row = 1
    direct_rows = []
    budget = c.budget
    for act in ("survey", "clearance"):
        if act not in budget.index:
            continue
        label = _("survey") if act == "survey" else _("clearance")
        ws.write_string(row, 0, label, f["text"])
        for j, y in enumerate(years, start=1):
            val = float(budget.loc[act].get(y, 0.0))
            ws.write_formula(
                row,
                j,
                f"=SUMIFS({T}$L${lo}:$L${hi},{T}$E${lo}:$E${hi},$A{row + 1},"
                f"{T}$F${lo}:$F${hi},{_col(j)}$1)",
                f["money"],
                val,
            )
        ws.write_formula(
            row,
            tot_col,
            f"=SUM({_col(1)}{row + 1}:{_col(tot_col - 1)}{row + 1})",
            f["money"],
            float(budget.loc[act].sum()),
        )
        direct_rows.append(row + 1)
        row += 1
    for pk in c.packages:
        ws.write_string(row, 0, _pkg(pk["key"], _), f["text"])
        share = pk.get("share_funded", 1.0)
        if _finite(pk["people"]):
            people = pk["people"] * share
            ws.write_formula(
                row, tot_col, f"={people!r}*{refs[pk['key']]}", f["money"], float(pk["cost_usd"])
            )
        else:  # people unknown: not costed (SUM skips the text), never a 0
            ws.write_string(row, tot_col, _("no data"), f["text"])
        direct_rows.append(row + 1)
        row += 1
    # direct, indirect, total
    direct = c.ask_usd - c.indirect_usd
    by_year = budget.sum() if len(budget) else pd.Series(dtype=float)
    ws.write_string(row, 0, _("Direct costs"), f["bold"])
    for j in range(1, tot_col + 1):
        col = _col(j)
        cells = ",".join(f"{col}{r}" for r in direct_rows) or "0"
        value = direct if j == tot_col else float(by_year.get(years[j - 1], 0.0))
        ws.write_formula(row, j, f"=SUM({cells})", f["money_bold"], value)
    direct_row = row + 1
    row += 1
    ws.write_string(row, 0, _("Indirect costs"), f["text"])
    for j in range(1, tot_col + 1):
        value = direct if j == tot_col else float(by_year.get(years[j - 1], 0.0))
        ws.write_formula(
            row,
            j,
            f"={_col(j)}{direct_row}*{refs['indirect']}",
            f["money"],
            value * c.donor.indirect_cost_share,
        )
    row += 1
    ws.write_string(row, 0, _("Total requested"), f["bold"])
    for j in range(1, tot_col + 1):
        value = direct if j == tot_col else float(by_year.get(years[j - 1], 0.0))
        ws.write_formula(
            row,
            j,
            f"={_col(j)}{direct_row}+{_col(j)}{direct_row + 1}",
            f["money_bold"],
            value * (1 + c.donor.indirect_cost_share),
        )
    B = _ref(ws)
    return {
        "total": f"{B}${_col(tot_col)}${row + 1}",
        "direct": f"{B}${_col(tot_col)}${direct_row}",
    }


def _summary_sheet(ws, f, c: RequestContent, refs, tasks_ref, budget_ref, _) -> None:
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 20)
    ws.write_string(0, 0, _("Item"), f["head"])
    ws.write_string(0, 1, _("Value"), f["head"])
    t, p = c.totals, c.programme
    tr = tasks_ref["total_row"]
    T = tasks_ref["T"]
    rows = [
        (_("Donor"), c.donor.name, None, f["text"]),
        (_("Programme"), c.project_name, None, f["text"]),
        (_("Amount requested"), f"={budget_ref['total']}", c.ask_usd, f["money_bold"]),
        (_("Direct cost"), f"={budget_ref['direct']}", c.ask_usd - c.indirect_usd, f["money"]),
        (
            _("Tasks"),
            f"=COUNTA({T}$A${tasks_ref['first']}:$A${tasks_ref['last']})" if t["tasks"] else 0,
            t["tasks"],
            f["int"],
        ),
        (_("Land released, ha"), f"={T}$H${tr}/10000", t["released_m2"] / 1e4, f["num2"]),
        (_("Cluster munitions, m²"), f"={T}$I${tr}", t["cmr_m2"], f["num"]),
        (_("Mines, m²"), f"={T}$J${tr}", t["mine_m2"], f["num"]),
        (_("Team-months"), f"={T}$M${tr}", t["team_months"], f["num2"]),
        (_("Plan cost"), None, p["planned_usd"], f["money"]),
        (_("Asked of all donors"), None, p["proposed_usd"], f["money"]),
        (_("Remaining gap"), None, p["gap_usd"], f["money"]),
        (
            _("Share of the plan"),
            f"={T}$L${tr}/B11" if p["planned_usd"] else None,
            p["share_of_plan"],
            f["pct"],
        ),
    ]
    if t["beneficiaries"] is not None and t["beneficiaries"] == t["beneficiaries"]:  # not NaN
        rows.append((_("People living nearby"), None, t["beneficiaries"], f["int"]))
    no_data = _("no data").replace('"', '""')
    for i, (label, formula, value, fmt) in enumerate(rows, start=1):
        ws.write_string(i, 0, label, f["text"])
        if formula is None:
            _number_or_no_data(ws, f, i, 1, value, fmt, _)
        elif isinstance(formula, str) and formula.startswith("="):
            # a total that is "no data" (a task's value missing) gives "no data" here too
            # after recalculation, not #VALUE! from the arithmetic on it
            ws.write_formula(
                i, 1, f'=IFERROR({formula[1:]},"{no_data}")', fmt, _cached(value, _("no data"))
            )
        elif isinstance(formula, str):
            ws.write_string(i, 1, formula, fmt)
        else:
            ws.write_number(i, 1, float(formula), fmt)


def _priority_sheet(ws, f, c: RequestContent, _) -> None:
    ws.set_landscape()
    heads = [_("Task"), _("Place"), _("Rank"), _("Score"), _("Why")]
    _head_row(ws, f, heads, (18, 28, 8, 8, 90))
    for i, r in enumerate(c.priority.itertuples(index=False), start=1):
        ws.write_string(i, 0, str(r.task_id), f["text"])
        ws.write_string(i, 1, str(r.name or ""), f["text"])
        _number_or_no_data(ws, f, i, 2, r.rank, "int", _)
        _number_or_no_data(ws, f, i, 3, r.score, "score", _)
        ws.write_string(i, 4, str(r.explanation or ""), f["wrap"])
    ws.autofilter(0, 0, len(c.priority), len(heads) - 1)


def _va_sheet(ws, f, c: RequestContent, _) -> None:
    heads = [
        _("Village"),
        _("Region"),
        _("Survivors"),
        _("Killed"),
        _("Minutes to care"),
        _("Far from care"),
    ]
    _head_row(ws, f, heads, [18] * len(heads))
    for i, r in enumerate(c.victim_assistance.itertuples(index=False), start=1):
        ws.write_string(i, 0, str(r.name), f["text"])
        ws.write_string(i, 1, str(r.region), f["text"])
        _number_or_no_data(ws, f, i, 2, r.survivors, "int", _)
        _number_or_no_data(ws, f, i, 3, r.killed, "int", _)
        _number_or_no_data(ws, f, i, 4, r.travel_min_health, "num", _)
        ws.write_string(i, 5, _("yes") if bool(r.remote) else _("no"), f["text"])
    ws.autofilter(0, 0, len(c.victim_assistance), len(heads) - 1)


def _re_sheet(ws, f, c: RequestContent, _) -> None:
    heads = [
        _("Region"),
        _("Areas left after the first year"),
        _("Area, m²"),
        _("With cluster munitions"),
        _("People nearby"),
    ]
    _head_row(ws, f, heads, [20] * len(heads))
    for i, r in enumerate(c.risk_education.itertuples(index=False), start=1):
        ws.write_string(i, 0, str(r.region), f["text"])
        _number_or_no_data(ws, f, i, 1, r.areas, "int", _)
        _number_or_no_data(ws, f, i, 2, r.area_m2, "num", _)
        _number_or_no_data(ws, f, i, 3, r.cmr_areas, "int", _)
        _number_or_no_data(ws, f, i, 4, r.population_nearby, "int", _)
    ws.autofilter(0, 0, len(c.risk_education), len(heads) - 1)


def _head_row(ws, f, heads: list[str], widths) -> None:
    """The header row, each column at its width."""
    for j, (h, w) in enumerate(zip(heads, widths, strict=True)):
        ws.write_string(0, j, h, f["head"])
        ws.set_column(j, j, w)


def _number_or_no_data(ws, f, i: int, j: int, value, fmt, _) -> None:
    """A number, or the words "no data" where the value is missing (never a 0). ``fmt``: a
    format or its name in ``f``."""
    x = _num(value)
    if math.isfinite(x):
        ws.write_number(i, j, x, f[fmt] if isinstance(fmt, str) else fmt)
    else:
        ws.write_string(i, j, _("no data"), f["text"])


def _ref(ws) -> str:
    """The sheet prefix of a cell reference (quoted: names may hold spaces or accents)."""
    return "'" + ws.name.replace("'", "''") + "'!"


def _pkg(key: str, _) -> str:
    return _("Victim assistance") if key == "victim_assistance" else _("Risk education")


def _col(j: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(j)


def _num(v) -> float:
    """``v`` as a float; NaN where it is missing or not a number (never 0)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _missing(v) -> bool:
    return not math.isfinite(_num(v))


def _cached(v, missing: str = "") -> float | str:
    """The value stored with a formula: the number, or ``missing`` where it is not one (none
    by default, so a reader that does not recalculate shows an empty cell rather than a 0;
    the summary's totals store the words "no data")."""
    x = _num(v)
    return x if math.isfinite(x) else missing
