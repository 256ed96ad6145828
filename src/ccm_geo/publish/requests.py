"""Donor-targeted funding requests: one offline package per donor, and the programme view.

For each donor the matching (:func:`ccm_geo.publish.donors.match_donors`) proposes a package of
planned tasks; this module writes, into ``<out>/requests/<donor-key>/``:

- ``request.html``: one self-contained document (inline CSS and print CSS, the interactive map
  embedded as an ``<iframe srcdoc>``, a static PNG map as a data URI for print), text from input
  data escaped (jinja2 autoescape);
- ``request.pdf``: the same content as a multi-page PDF drawn by matplotlib (no browser, no
  network; byte-identical between identical runs);
- ``tasks.xlsx``: summary, tasks, milestones, priority, needs and assumptions sheets;
- ``tasks.gpkg``: the task areas for the donor's GIS staff;

and ``<out>/requests/programme.html``: the whole plan, the allocation per donor, the remaining
funding gap by year and region and Article 7 Form F-style area figures (CMR apart from mines).

Every table is computed once (:func:`request_content`) and written to each format from the
same numbers, so the totals of the HTML, XLSX and GPKG agree to the dollar and the m².
"""

from __future__ import annotations

import base64
import io
import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.errors import DataWarning, InputError
from ccm_geo.io import atomic_output, write_gpkg, write_text
from ccm_geo.model import CMR_TYPES, area_summary, split_contamination
from ccm_geo.publish.donors import DEFAULT_CHANNEL, Allocation, match_donors
from ccm_geo.publish.settings import DonorProfile, MapSettings

if TYPE_CHECKING:
    import geopandas as gpd

    from ccm_geo.model import Context
    from ccm_geo.planning.settings import PlanningSettings

__all__ = [
    "RequestContent",
    "write_requests",
    "request_content",
    "render_request_html",
    "render_programme_html",
    "write_request_xlsx",
    "write_request_pdf",
    "victim_assistance_needs",
    "REMOTE_MIN",
    "HEALTH_SPEED_KMH",
    "WORKING_DAYS_PER_YEAR",
]

logger = logging.getLogger(__name__)

#: A survivor's village is remote when care is more than this far away, minutes (assumed: one
#: hour, the threshold of the WHO's emergency-care access indicators).
REMOTE_MIN = 60.0
#: Speed on the straight line to the nearest health facility when the criteria stage gave no
#: ``travel_min_health`` for settlements, km/h (assumed: rural tracks, as the planner's
#: ``travel_speed_kmh``). Straight lines underestimate the time: the table says so.
HEALTH_SPEED_KMH = 20.0
#: Working days of a team per year when the planning settings are not given (Lao PDR planning
#: figure, DOMAIN.md); a team-month is a twelfth of it.
WORKING_DAYS_PER_YEAR = 220.0

_NOT_ESTIMATED = "not estimated"


@dataclass(frozen=True)
class RequestContent:
    """Everything one donor's request shows; every output format is written from this.

    Attributes
    ----------
    donor
        The donor's profile.
    project_name
        The programme's name.
    tasks
        The package: one row per task with the display columns and the geometry.
    milestones
        The package by year: tasks, area (m²), CMR and mine m², cost (US$ and the donor's
        currency), cumulative share of the package cost.
    totals
        Package totals: ``tasks``, ``cost_usd``, ``cost_currency``, ``area_m2``, ``cmr_m2``,
        ``mine_m2``, ``team_months``, ``beneficiaries`` (None: not estimated).
    programme
        Programme figures: plan cost, cost proposed to all donors, gap, this donor's share.
    deadline
        The Article 4 answer of the planning stage, with this package's CMR share.
    progress
        The programme's yearly milestones (``region == "all"``), possibly empty.
    priority
        Per task: score, rank, class, explanation and the contributions, largest first.
    victim_assistance
        Survivors' villages and their travel time to care (donors funding victim assistance).
    risk_education
        Areas left for later years, by region (donors funding risk education).
    assumptions
        Every figure used, with its source: ``item``, ``value``, ``source``.
    static_map_png
        The package map as PNG bytes (print and PDF).
    notes
        Remarks shown in the request (map not drawn, matching status, ...).
    """

    donor: DonorProfile
    project_name: str
    tasks: gpd.GeoDataFrame
    milestones: pd.DataFrame
    totals: dict[str, Any]
    programme: dict[str, Any]
    deadline: dict[str, Any]
    progress: pd.DataFrame
    priority: pd.DataFrame
    victim_assistance: pd.DataFrame | None
    risk_education: pd.DataFrame | None
    assumptions: pd.DataFrame
    static_map_png: bytes | None = None
    notes: tuple[str, ...] = field(default=())


def write_requests(
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    milestones: pd.DataFrame,
    deadline: Mapping[str, Any] | None,
    context: Context | None,
    donors: Sequence[DonorProfile],
    out_dir: str | Path,
    *,
    project_name: str,
    map_settings: MapSettings | None = None,
    donor: str | None = None,
    planning: PlanningSettings | None = None,
    allocation: Allocation | None = None,
    default_channel: str = DEFAULT_CHANNEL,
    seed: int = 20171005,
    interactive_map: bool = True,
    pdf: bool = True,
    remote_min: float = REMOTE_MIN,
) -> dict[str, list[Path]]:
    """Write one request package per donor and the programme view, atomically.

    Parameters
    ----------
    areas
        Scored hazardous areas (metric CRS): ``hazard_id``, ``region``, ``status``,
        ``contamination``, ``area_m2``, ``score``, ``rank``, ``priority_class``,
        ``explanation``, ``contrib_<criterion>`` and, when present, ``name`` and
        ``population_within_<n>km``.
    tasks
        The planning stage's tasks (see :func:`~ccm_geo.publish.donors.match_donors`).
    milestones
        The planning stage's yearly milestones (``year``, ``region``, ...).
    deadline
        The planning stage's Article 4 answer (``meets``, ``cmr_remaining_m2``,
        ``budget_needed_per_year``, ``funding_gap`` ...), or None.
    context
        Context layers (accidents with ``survivor_settlement_id``, settlements, health, admin).
    donors
        The [[donors]] profiles.
    out_dir
        Output folder; packages go to ``out_dir/requests/<donor-key>/``.
    project_name
        The programme's name, shown in every document.
    map_settings
        The [maps] settings of the embedded interactive map (default settings when None).
    donor
        Write only this donor's package (key or name); the matching still considers every
        donor, so the package is the one a full run proposes.
    planning
        The planning settings: the method figures (productivity, cost, sources) listed in the
        assumptions and the working days per year behind team-months.
    allocation
        A matching already made (else :func:`match_donors` runs here with ``seed``).
    default_channel
        Implementing channel of tasks without a ``channel`` value.
    interactive_map, pdf
        False leaves out the embedded interactive map, or the PDF.
    remote_min
        A survivors' village further than this from care (minutes) is remote; the pipeline
        passes ``criteria.remoteness.remote_threshold_min`` so both stages agree.

    Returns
    -------
    dict
        Donor key -> the paths written for it; ``"programme"`` -> ``[programme.html]``.

    Raises
    ------
    ConfigError
        ``donor`` names no configured donor, or two donors share a key.
    """
    out = Path(out_dir) / "requests"
    settings = map_settings or MapSettings()
    if allocation is None:
        allocation = match_donors(tasks, donors, seed=seed, default_channel=default_channel)
    chosen = list(allocation.donors) if donor is None else [allocation.donor(donor)]
    written: dict[str, list[Path]] = {}
    for d in chosen:
        content = request_content(
            d,
            allocation,
            areas,
            tasks,
            milestones,
            deadline,
            context,
            project_name=project_name,
            planning=planning,
            map_settings=settings,
            remote_min=remote_min,
        )
        fragment = None
        if interactive_map and len(content.tasks):
            fragment, note = _map_fragment(d, content, areas, context, settings)
            if note:
                content = _with_note(content, note)
        folder = out / d.key
        paths = [
            write_text(render_request_html(content, map_fragment=fragment), folder / "request.html")
        ]
        if pdf:
            paths.append(write_request_pdf(content, folder / "request.pdf"))
        paths.append(write_request_xlsx(content, folder / "tasks.xlsx"))
        paths.append(write_gpkg({"tasks": _gpkg_frame(content)}, folder / "tasks.gpkg"))
        written[d.key] = paths
    programme = render_programme_html(
        areas, allocation, milestones, deadline, project_name=project_name, map_settings=settings
    )
    written["programme"] = [write_text(programme, out / "programme.html")]
    return written


def request_content(
    donor: DonorProfile,
    allocation: Allocation,
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    milestones: pd.DataFrame | None,
    deadline: Mapping[str, Any] | None,
    context: Context | None,
    *,
    project_name: str,
    planning: PlanningSettings | None = None,
    map_settings: MapSettings | None = None,
    remote_min: float = REMOTE_MIN,
    speed_kmh: float = HEALTH_SPEED_KMH,
) -> RequestContent:
    """Compute every table and total of one donor's request.

    Parameters
    ----------
    donor
        The donor (one of ``allocation.donors``).
    allocation
        The matching of tasks to donors.
    areas, tasks, milestones, deadline, context
        As for :func:`write_requests`.
    project_name
        The programme's name.
    planning
        Planning settings (method figures and working days); optional.
    map_settings
        Colours of the static map (plan palette).
    remote_min, speed_kmh
        Victim assistance: the remoteness threshold (minutes) and the straight-line speed to
        care (km/h) used when settlements carry no ``travel_min_health``.

    Returns
    -------
    RequestContent
    """
    _check_areas(areas)
    donor = allocation.donor(donor.key)
    settings = map_settings or MapSettings()
    wdays = planning.working_days_per_year if planning is not None else WORKING_DAYS_PER_YEAR
    package = _package_frame(allocation, donor, areas, tasks, wdays)
    pop_col = _population_column(areas)
    totals = _totals(package, pop_col)
    unique = _unique_beneficiaries(package, context, pop_col)
    if unique is not None:
        totals["beneficiaries"] = unique
        totals["beneficiaries_column"] = f"{pop_col}, each village counted once"
    content_notes = list(allocation.notes)
    va = ra = None
    if "victim_assistance" in donor.thematic:
        va = victim_assistance_needs(context, remote_min=remote_min, speed_kmh=speed_kmh)
        if donor.regions:
            va = va[va["region"].isin(donor.regions)].reset_index(drop=True)
    if "risk_education" in donor.thematic:
        ra = _risk_education(areas, tasks, allocation, donor, pop_col)
    return RequestContent(
        donor=donor,
        project_name=project_name,
        tasks=package,
        milestones=_package_milestones(package, donor),
        totals=totals,
        programme=_programme_figures(allocation, donor),
        deadline=_deadline_figures(deadline, totals),
        progress=_progress(milestones),
        priority=_priority(package, areas),
        victim_assistance=va,
        risk_education=ra,
        assumptions=_assumptions(
            donor, allocation, package, planning, wdays, pop_col, remote_min, speed_kmh, context
        ),
        static_map_png=_static_map(package, areas, settings, title=donor.name),
        notes=tuple(content_notes),
    )


def render_request_html(content: RequestContent, *, map_fragment: str | None = None) -> str:
    """Render one donor's request as a self-contained HTML document.

    Parameters
    ----------
    content
        From :func:`request_content`.
    map_fragment
        The interactive map, as returned by ``ccm_geo.publish.maps.embed_fragment`` (trusted:
        that function escapes the map document into ``srcdoc``). Without it only the static
        map is shown.

    Returns
    -------
    str
        HTML with inline CSS, no external reference; text from input data escaped.
    """
    from markupsafe import Markup

    d = content.donor
    tables = _request_tables(content)
    png = (
        base64.b64encode(content.static_map_png).decode("ascii") if content.static_map_png else None
    )
    return (
        _env()
        .get_template("request.html.j2")
        .render(
            c=content,
            d=d,
            L=d.label,
            tables=tables,
            totals=_totals_display(content),
            png=png,
            map_fragment=Markup(map_fragment) if map_fragment else None,
            summary=_summary_lines(content),
            achieve=_achieve_lines(content),
            deadline_lines=_deadline_lines(content),
        )
    )


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
    png = _static_map(
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
            status=f"{allocation.status}, relative gap {_pct(allocation.gap)}, "
            f"{allocation.seconds:.2f} s",
            notes=list(allocation.notes),
        )
    )


def write_request_xlsx(content: RequestContent, path: str | Path) -> Path:
    """Write the request's tables as an Excel workbook, atomically.

    Sheets: ``summary``, ``tasks``, ``milestones``, ``priority``, ``victim_assistance`` and
    ``risk_education`` (when the donor funds them) and ``assumptions``. Numbers are numbers
    (thousands separators, US$ and the donor's currency as number formats), headers frozen,
    columns sized, filters on.
    """
    import datetime as dt

    import xlsxwriter

    path = Path(path)
    with atomic_output(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"nan_inf_to_errors": True})
        wb.set_properties(
            {
                "title": f"{content.donor.label('title')}: {content.project_name}",
                "created": dt.datetime(2000, 1, 1),
            }
        )
        fmt = _xlsx_formats(wb, content.donor.currency)
        _xlsx_sheet(
            wb,
            fmt,
            "summary",
            _summary_frame(content),
            {"item": ("text", 44), "value": ("num2", 18), "unit": ("text", 14)},
        )
        for t in _request_tables(content):
            if t["id"] in (
                "tasks",
                "milestones",
                "priority",
                "victim_assistance",
                "risk_education",
            ):
                _xlsx_sheet(wb, fmt, t["id"], t["frame"], t["xlsx"])
        _xlsx_sheet(
            wb,
            fmt,
            "assumptions",
            content.assumptions,
            {"item": ("text", 40), "value": ("text", 40), "source": ("wrap", 90)},
        )
        wb.close()
    return path


def write_request_pdf(content: RequestContent, path: str | Path) -> Path:
    """Write the request as a multi-page PDF (matplotlib), atomically and reproducibly.

    Page 1: title, summary, what the contribution achieves, the static map; then the tables
    (tasks, milestones, priority, needs, assumptions), as many pages as they need. Drawn by
    matplotlib's PDF backend: no browser and no network, and no creation date, so identical
    runs give identical files.
    """
    import logging

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    path = Path(path)
    d = content.donor
    meta = {"Title": f"{d.label('title')}: {d.name}", "Creator": "ccm_geo", "CreationDate": None}
    tables = [*_request_tables(content)]
    # The PDF's 14 standard fonts need no embedding, which makes text drawing ~6x faster; they
    # only cover Western European characters, so any other script (Lao, Khmer, Arabic...)
    # keeps the embedded DejaVu fonts.
    core = _latin1_only(content, tables)
    rc = {"pdf.use14corefonts": True, "font.family": "sans-serif"} if core else {}
    fonts_log = logging.getLogger("matplotlib.font_manager")
    level = fonts_log.level
    fonts_log.setLevel(logging.ERROR)  # core fonts: "weight normal not found, using medium"
    try:
        with (
            matplotlib.rc_context(rc),
            atomic_output(path) as tmp,
            PdfPages(tmp, metadata=meta) as pdf,
        ):
            fig = Figure(figsize=(8.27, 11.69))
            fig.text(
                0.06,
                0.96,
                f"{d.label('title')} — {d.name}",
                fontsize=15,
                weight="bold",
                va="top",
                usetex=False,
                parse_math=False,
            )
            fig.text(0.06, 0.935, content.project_name, fontsize=11, va="top", parse_math=False)
            lines = [f"{a}: {b}" for a, b in _summary_lines(content)]
            lines += [""] + _achieve_lines(content) + [""] + _deadline_lines(content)
            text = "\n".join(textwrap.fill(s, 100) if s else "" for s in lines)
            fig.text(0.06, 0.91, text, fontsize=8, va="top", parse_math=False)
            if content.static_map_png:
                import matplotlib.image as mpimg

                ax = fig.add_axes((0.06, 0.04, 0.88, 0.48))
                ax.imshow(mpimg.imread(io.BytesIO(content.static_map_png), format="png"))
                ax.set_axis_off()
            pdf.savefig(fig)
            for t in tables:
                _pdf_table(pdf, t)
            _pdf_table(
                pdf,
                {
                    "title": d.label("assumptions"),
                    "headers": ["Item", "Value", "Source"],
                    "rows": content.assumptions.astype(str).to_numpy().tolist(),
                    "widths": [28, 30, 70],
                },
            )
    finally:
        fonts_log.setLevel(level)
    return path


def _latin1_only(content: RequestContent, tables: list[dict[str, Any]]) -> bool:
    """True when every text of the PDF can be set in the standard PDF fonts (cp1252)."""
    texts = [content.project_name, content.donor.name, content.donor.label("title")]
    texts += [f"{a} {b}" for a, b in _summary_lines(content)]
    texts += _achieve_lines(content) + _deadline_lines(content)
    texts += [content.donor.label("assumptions")]
    texts += [str(v) for row in content.assumptions.astype(str).to_numpy() for v in row]
    for t in tables:
        texts += [str(t["title"]), *map(str, t["headers"])]
        texts += [str(v) for row in t["rows"] for v in row]
    try:
        "\n".join(texts).encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def victim_assistance_needs(
    context: Context | None,
    *,
    remote_min: float = REMOTE_MIN,
    speed_kmh: float = HEALTH_SPEED_KMH,
) -> pd.DataFrame:
    """Survivors by home village, with the village's travel time to medical care.

    Parameters
    ----------
    context
        ``accidents`` (``killed``, ``injured``, ``survivor_settlement_id``), ``settlements``
        (``settlement_id``, ``name``, optionally ``region`` and ``travel_min_health`` from the
        criteria stage) and ``health`` facilities (points); ``admin`` gives the region when
        settlements carry none.
    remote_min
        Villages further than this from care (minutes) are flagged ``remote``.
    speed_kmh
        Straight-line speed to the nearest health facility, km/h, used when settlements carry
        no ``travel_min_health`` (an underestimate of the true time: roads are longer).

    Returns
    -------
    pandas.DataFrame
        One row per village with recorded survivors, most survivors first (``settlement_id``
        as tie-break): ``settlement_id``, ``name``, ``region``, ``accidents``, ``survivors``
        (injured), ``killed``, ``travel_min_health``, ``travel_source``, ``remote``. Empty when
        the accidents carry no survivor village.
    """
    cols = [
        "settlement_id",
        "name",
        "region",
        "accidents",
        "survivors",
        "killed",
        "travel_min_health",
        "travel_source",
        "remote",
    ]
    acc = None if context is None else context.accidents
    if acc is None or "survivor_settlement_id" not in acc.columns:
        return pd.DataFrame(columns=cols)
    a = pd.DataFrame(
        {
            "settlement_id": acc["survivor_settlement_id"],
            "survivors": pd.to_numeric(acc.get("injured", 0), errors="coerce"),
            "killed": pd.to_numeric(acc.get("killed", 0), errors="coerce"),
        }
    )
    a = a[a["settlement_id"].notna() & (a["settlement_id"].astype(str) != "")]
    if not len(a):
        return pd.DataFrame(columns=cols)
    a["settlement_id"] = a["settlement_id"].astype(str)
    g = (
        a.groupby("settlement_id", sort=True)
        .agg(
            accidents=("survivors", "size"),
            survivors=("survivors", "sum"),
            killed=("killed", "sum"),
        )
        .reset_index()
    )
    g[["survivors", "killed"]] = g[["survivors", "killed"]].fillna(0).astype(int)
    s = context.settlements
    if s is None or not len(s):
        g["name"], g["region"] = "unknown settlement", "unknown"
        g["travel_min_health"], g["travel_source"] = np.nan, "no settlements layer"
    else:
        info = _settlement_travel(context, speed_kmh)
        g = g.merge(info, on="settlement_id", how="left")
        g["name"] = g["name"].fillna("unknown settlement")
        g["region"] = g["region"].fillna("unknown")
        g["travel_source"] = g["travel_source"].fillna("settlement not in the settlements layer")
    g["remote"] = pd.to_numeric(g["travel_min_health"], errors="coerce") > remote_min
    g = g.sort_values(["survivors", "settlement_id"], ascending=[False, True], kind="stable")
    return g[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------- helpers


def _env():
    """The jinja2 environment of the package templates, autoescape on."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("ccm_geo.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _with_note(content: RequestContent, note: str) -> RequestContent:
    import dataclasses

    return dataclasses.replace(content, notes=(*content.notes, note))


def _check_areas(areas: gpd.GeoDataFrame) -> None:
    missing = [c for c in ("hazard_id", "region") if c not in areas.columns]
    if missing:
        msg = (
            f"donor requests: the areas lack columns {missing} (found {list(areas.columns)}); "
            "pass the scored areas of the scoring stage"
        )
        raise InputError(msg)


def _population_column(areas: pd.DataFrame) -> str | None:
    """``population_within_5km`` when present, else the nearest other radius, else None."""
    cols = [c for c in areas.columns if c.startswith("population_within_")]
    if not cols:
        return None
    if "population_within_5km" in cols:
        return "population_within_5km"

    def radius(c: str) -> float:
        try:
            return abs(float(c[len("population_within_") :].removesuffix("km")) - 5.0)
        except ValueError:
            return math.inf

    return sorted(cols, key=lambda c: (radius(c), c))[0]


def _package_frame(
    allocation: Allocation,
    donor: DonorProfile,
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    working_days: float,
) -> gpd.GeoDataFrame:
    """The donor's tasks with every display column, in candidate order, with geometry."""
    import geopandas as gpd

    pkg = allocation.package(donor.key).copy()
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name)).drop_duplicates("hazard_id")
    a["hazard_id"] = a["hazard_id"].astype(str)
    a = a.set_index("hazard_id")
    hid = pkg["hazard_id"].astype(str) if "hazard_id" in pkg else pd.Series("", index=pkg.index)
    pkg["hazard_id"] = hid
    pkg["name"] = hid.map(a["name"]) if "name" in a else ""
    pkg["name"] = pkg["name"].fillna("").astype(str)
    if "area_m2" not in pkg:
        pkg["area_m2"] = hid.map(a["area_m2"]) if "area_m2" in a else np.nan
    pkg["area_m2"] = pd.to_numeric(pkg["area_m2"], errors="coerce").fillna(0.0)
    pkg["area_ha"] = pkg["area_m2"] / 1e4
    # area_m2 is the area a task works on (survey, then what survey leaves, then what technical
    # survey leaves): the same land appears in each step. Totals sum what each task releases.
    released = pkg["released_m2"] if "released_m2" in pkg else pkg["area_m2"]
    pkg["released_m2"] = pd.to_numeric(released, errors="coerce").fillna(0.0)
    pkg["cost_currency"] = pkg["cost_usd"] * donor.exchange_rate
    days = pd.to_numeric(pkg.get("team_days", np.nan), errors="coerce")
    pkg["team_months"] = days / (working_days / 12.0)
    pop_col = _population_column(areas)
    pkg["beneficiaries"] = (
        pd.to_numeric(hid.map(a[pop_col]), errors="coerce") if pop_col else np.nan
    )
    pkg["donor"] = donor.key
    pkg["currency"] = donor.currency
    # geometry: the task's own, else its area's
    geom = None
    if isinstance(tasks, gpd.GeoDataFrame) and len(pkg):
        g = tasks.set_index(tasks["task_id"].astype(str)).geometry
        g = g[~g.index.duplicated()]
        geom = g.reindex(pkg["task_id"]).to_numpy()
    if geom is None or pd.isna(pd.Series(geom, dtype=object)).any():
        ag = areas.set_index(areas["hazard_id"].astype(str)).geometry
        ag = ag[~ag.index.duplicated()]
        fallback = ag.reindex(hid).to_numpy()
        geom = (
            fallback
            if geom is None
            else np.where(pd.isna(pd.Series(geom, dtype=object)), fallback, geom)
        )
    return gpd.GeoDataFrame(
        pkg.reset_index(drop=True), geometry=list(geom) if len(pkg) else [], crs=areas.crs
    )


def _unique_beneficiaries(
    pkg: gpd.GeoDataFrame, context: Context | None, pop_col: str | None
) -> float | None:
    """People in the villages within the radius of ``pop_col`` of *any* package area, each
    village counted once (the per-area column counts a village once per nearby area).

    None when there are no settlements or no radius in the column name (``..._<r>km``).
    """
    import re

    if pop_col is None or context is None or context.settlements is None or not len(pkg):
        return None
    m = re.fullmatch(r"population_within_(\d+(?:_\d+)?)km", pop_col)
    s = context.settlements
    if m is None or "population" not in s.columns:
        return None
    radius_m = float(m.group(1).replace("_", ".")) * 1000.0
    # as the criteria measure it: the village's point, straight-line to the area
    points = s.to_crs(pkg.crs).geometry.representative_point()
    near = points.dwithin(pkg.geometry.union_all(), radius_m)
    pop = pd.to_numeric(s.loc[near.to_numpy(), "population"], errors="coerce")
    return float(pop.sum())


def _totals(pkg: pd.DataFrame, pop_col: str | None) -> dict[str, Any]:
    ben = None
    if pop_col is not None:
        per_area = pkg.drop_duplicates("hazard_id")["beneficiaries"]
        ben = float(per_area.sum()) if per_area.notna().any() else None
    return {
        "tasks": len(pkg),
        "cost_usd": float(pkg["cost_usd"].sum()),
        "cost_currency": float(pkg["cost_currency"].sum()),
        "area_m2": float(pkg["area_m2"].sum()),
        "released_m2": float(pkg["released_m2"].sum()),
        "cmr_m2": float(pkg["cmr_m2"].sum()),
        "mine_m2": float(pkg["mine_m2"].sum()),
        "team_months": float(pd.to_numeric(pkg["team_months"], errors="coerce").sum()),
        "beneficiaries": ben,
        "beneficiaries_column": None
        if pop_col is None
        else f"{pop_col}, summed over areas: a village near several areas counts more than once",
        "regions": sorted(pkg["region"].astype(str).unique().tolist()),
        "years": sorted(int(y) for y in pkg["year"].unique()),
    }


def _package_milestones(pkg: pd.DataFrame, donor: DonorProfile) -> pd.DataFrame:
    cols = [
        "year",
        "tasks",
        "released_m2",
        "cmr_m2",
        "mine_m2",
        "cost_usd",
        "cost_currency",
        "cum_cost_share",
    ]
    if not len(pkg):
        return pd.DataFrame(columns=cols)
    m = (
        pkg.assign(tasks=1)
        .groupby("year", sort=True)[
            ["tasks", "released_m2", "cmr_m2", "mine_m2", "cost_usd", "cost_currency"]
        ]
        .sum()
    )
    m = m.reset_index()
    total = m["cost_usd"].sum()
    m["cum_cost_share"] = m["cost_usd"].cumsum() / total if total > 0 else 0.0
    return m[cols]


def _programme_figures(allocation: Allocation, donor: DonorProfile) -> dict[str, Any]:
    cand = allocation.candidates
    funded = allocation.funded_by.notna().to_numpy()
    planned = float(cand["cost_usd"].sum())
    proposed = float(cand.loc[funded, "cost_usd"].sum())
    mine = float(allocation.package(donor.key)["cost_usd"].sum())
    gap_after = planned - proposed
    gap_without = gap_after + mine
    return {
        "planned_usd": planned,
        "proposed_usd": proposed,
        "gap_usd": gap_after,
        "gap_without_usd": gap_without,
        "donor_usd": mine,
        "share_of_plan": mine / planned if planned > 0 else float("nan"),
        "share_of_gap": mine / gap_without if gap_without > 0 else float("nan"),
        "tasks_planned": len(cand),
        "tasks_unfunded": int((~funded).sum()),
    }


def _deadline_figures(deadline: Mapping[str, Any] | None, totals: dict) -> dict[str, Any]:
    out = dict(deadline or {})
    total = out.get("cmr_total_m2")
    if isinstance(total, int | float) and total > 0:
        out["package_cmr_share"] = totals["cmr_m2"] / float(total)
    return out


def _progress(milestones: pd.DataFrame | None) -> pd.DataFrame:
    if milestones is None or not len(milestones) or "year" not in milestones:
        return pd.DataFrame()
    m = milestones
    if "region" in m.columns:
        m = m[m["region"].astype(str) == "all"]
        if not len(m):  # no whole-plan rows: sum the regions
            m = milestones.groupby("year").sum(numeric_only=True).reset_index()
    return m.drop(columns=[c for c in ("region",) if c in m.columns]).reset_index(drop=True)


def _priority(pkg: pd.DataFrame, areas: pd.DataFrame) -> pd.DataFrame:
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name)).drop_duplicates("hazard_id")
    a["hazard_id"] = a["hazard_id"].astype(str)
    a = a.set_index("hazard_id")
    contrib = [c for c in a.columns if c.startswith("contrib_")]
    rows = []
    for _, t in pkg.iterrows():
        h = t["hazard_id"]
        row = a.loc[h] if h in a.index else pd.Series(dtype=object)
        parts = sorted(
            (
                (c[len("contrib_") :], float(row[c]))
                for c in contrib
                if c in row and pd.notna(row[c])
            ),
            key=lambda p: (-p[1], p[0]),
        )
        rows.append(
            {
                "task_id": t["task_id"],
                "hazard_id": h,
                "name": t.get("name", ""),
                "score": _float(row.get("score")),
                "rank": _float(row.get("rank")),
                "priority_class": str(row.get("priority_class", "") or ""),
                "explanation": str(row.get("explanation", "") or ""),
                "contributions": "; ".join(f"{k} {v:.3f}" for k, v in parts if v != 0) or "—",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "task_id",
            "hazard_id",
            "name",
            "score",
            "rank",
            "priority_class",
            "explanation",
            "contributions",
        ],
    )


def _risk_education(
    areas: pd.DataFrame,
    tasks: pd.DataFrame,
    allocation: Allocation,
    donor: DonorProfile,
    pop_col: str | None,
) -> pd.DataFrame:
    """Hazards not released in the plan's first year, by region: where people need RE.

    An area counts as released in the plan year of its last task; an area with any task the
    plan leaves out is not released at all.
    """
    cand = allocation.candidates
    first = int(cand["year"].min()) if len(cand) else None
    if "hazard_id" in tasks and len(tasks):
        year = pd.to_numeric(tasks["year"], errors="coerce")
        if "selected" in tasks:
            year = year.where(tasks["selected"].astype(bool))
        by_area = pd.DataFrame({"hazard_id": tasks["hazard_id"].astype(str), "year": year})
        grouped = by_area.groupby("hazard_id")["year"]
        last_year = grouped.max().where(~grouped.apply(lambda y: y.isna().any()))
    else:
        last_year = pd.Series(dtype=float)
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name))
    if "status" in a:
        a = a[a["status"].astype(str) != "released"]
    a["hazard_id"] = a["hazard_id"].astype(str)
    done = a["hazard_id"].map(last_year)
    a = a[done.isna() | (done > first if first is not None else True)]
    if donor.regions:
        a = a[a["region"].astype(str).isin(donor.regions)]
    a = a.assign(
        cmr=a.get("contamination", "").map(lambda s: bool(split_contamination(s) & CMR_TYPES)),
        area_m2=pd.to_numeric(a.get("area_m2", 0.0), errors="coerce"),
        population=pd.to_numeric(a[pop_col], errors="coerce") if pop_col else np.nan,
    )
    g = (
        a.groupby(a["region"].astype(str), sort=True)
        .agg(
            areas=("hazard_id", "size"),
            area_m2=("area_m2", "sum"),
            cmr_areas=("cmr", "sum"),
            population_nearby=("population", "sum"),
        )
        .reset_index()
    )
    if pop_col is None:
        g["population_nearby"] = np.nan
    return g


def _assumptions(
    donor: DonorProfile,
    allocation: Allocation,
    pkg: pd.DataFrame,
    planning: PlanningSettings | None,
    wdays: float,
    pop_col: str | None,
    remote_min: float,
    speed_kmh: float,
    context: Context | None,
) -> pd.DataFrame:
    rows: list[tuple[str, str, str]] = []
    methods = sorted(pkg["method"].astype(str).unique()) if len(pkg) else []
    if planning is not None:
        for name in methods:
            m = planning.methods.get(name)
            if m is None:
                continue
            rows += [
                (
                    f"{name}: productivity",
                    f"{m.productivity_m2_per_team_day:,.0f} m²/team-day",
                    m.source or "planning settings",
                ),
                (
                    f"{name}: cost per team-day",
                    f"US${m.cost_usd_per_team_day:,.2f}",
                    m.source or "planning settings",
                ),
                (
                    f"{name}: cost per m²",
                    f"US${m.cost_usd_per_m2:,.2f}",
                    m.source or "planning settings",
                ),
            ]
            if m.cancel_share or m.reduce_share:
                rows.append(
                    (
                        f"{name}: share released by survey",
                        f"{max(m.cancel_share, m.reduce_share):.0%}",
                        m.source,
                    )
                )
    if "assumptions" in pkg.columns:
        for name in methods:
            texts = pkg.loc[pkg["method"].astype(str) == name, "assumptions"].dropna()
            if len(texts):
                rows.append(
                    (
                        f"{name}: figures of the planning stage",
                        str(texts.iloc[0]),
                        "task table (planning stage), first task of this method",
                    )
                )
    rows += [
        (
            "Team-month",
            f"{wdays / 12:.2f} team-days",
            f"{wdays:g} working days per team-year / 12 (planning settings; default: Lao PDR "
            "planning figure, DOMAIN.md)",
        ),
        (
            "Exchange rate",
            f"1 US$ = {donor.exchange_rate:g} {donor.currency}",
            donor.exchange_rate_source or "fixed in the project configuration (not fetched)",
        ),
        (
            "Implementing channel of tasks without one",
            allocation.default_channel,
            "default channel of the donor matching (docs/requests.md)",
        ),
        (
            "Beneficiaries",
            pop_col or _NOT_ESTIMATED,
            "people living within the radius of the hazardous area (criteria stage); the sum "
            "over areas counts people near several areas more than once",
        ),
        (
            "CMR and mine area of a mixed area",
            "counted under each convention",
            "as in the planning stage (rules.mixed_split) and in Article 7 reports",
        ),
        (
            "Donor matching",
            f"{allocation.status}, relative gap {_pct(allocation.gap)}",
            f"HiGHS MILP; region penalty {allocation.region_penalty:,.1f} benefit units per "
            "region in a package (5% of the median task benefit)",
        ),
    ]
    if "victim_assistance" in donor.thematic:
        has_col = (
            context is not None
            and context.settlements is not None
            and "travel_min_health" in context.settlements.columns
        )
        rows += [
            (
                "Remote village",
                f"> {remote_min:g} min to the nearest health facility",
                "assumed: one hour to care",
            ),
            (
                "Travel time to care",
                "travel_min_health of the criteria stage"
                if has_col
                else f"straight line at {speed_kmh:g} km/h",
                "criteria stage (road network)"
                if has_col
                else "assumed rural-track speed; straight lines underestimate the time",
            ),
        ]
    return pd.DataFrame(rows, columns=["item", "value", "source"])


def _settlement_travel(context: Context, speed_kmh: float) -> pd.DataFrame:
    s = context.settlements
    out = pd.DataFrame(
        {
            "settlement_id": s["settlement_id"].astype(str),
            "name": s["name"].astype(str) if "name" in s else "",
        }
    )
    if "region" in s.columns:
        out["region"] = s["region"].astype(str).to_numpy()
    elif context.admin is not None and "region" in context.admin.columns:
        import geopandas as gpd

        j = gpd.sjoin(
            s[["geometry"]],
            context.admin[["region", "geometry"]].to_crs(s.crs),
            how="left",
            predicate="within",
        )
        j = j[~j.index.duplicated()]
        out["region"] = j["region"].reindex(s.index).fillna("unknown").astype(str).to_numpy()
    else:
        out["region"] = "unknown"
    road_times = (
        pd.to_numeric(s["travel_min_health"], errors="coerce")
        if "travel_min_health" in s.columns
        else None
    )
    if road_times is not None and road_times.notna().any():
        out["travel_min_health"] = road_times
        out["travel_source"] = "road network (criteria stage)"
    elif context.health is not None and len(context.health):
        import shapely

        tree = shapely.STRtree(context.health.to_crs(s.crs).geometry.to_numpy())
        pts = s.geometry.to_numpy()
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        out["travel_min_health"] = dist / 1000.0 / speed_kmh * 60.0
        out["travel_source"] = f"straight line at {speed_kmh:g} km/h"
    else:
        out["travel_min_health"] = np.nan
        out["travel_source"] = "no health facilities layer"
    return out.drop_duplicates("settlement_id")


def _form_f(areas: pd.DataFrame) -> pd.DataFrame:
    """Area by region and status, CMR apart from mines (a mixed area counts under each): the
    load stage's summary (:func:`ccm_geo.model.area_summary`), in the request's columns."""
    a = pd.DataFrame(areas.drop(columns=areas.geometry.name))
    if "area_m2" not in a:
        a["area_m2"] = areas.geometry.area.to_numpy()
    for col, default in (("contamination", ""), ("status", "unknown"), ("region", "unknown")):
        if col not in a:
            a[col] = default
    summary = area_summary(a).rename(columns={"total_m2": "area_m2"})
    return summary[["region", "status", "areas", "area_m2", "cmr_m2", "mine_m2"]]


# ---- formatting ------------------------------------------------------------------------


def _float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _finite(v) -> bool:
    return v is not None and isinstance(v, int | float | np.number) and math.isfinite(float(v))


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


def _request_tables(c: RequestContent) -> list[dict[str, Any]]:
    d = c.donor
    L = d.label
    cur = _money(d.currency)
    t = c.tasks
    tables = [
        _table(
            "tasks",
            L("tasks"),
            t,
            [
                ("task_id", L("task_id"), str),
                ("hazard_id", "Hazard", str),
                ("name", "Name", str),
                ("region", L("region"), str),
                ("area_m2", f"{L('area')} worked m²", _num),
                ("released_m2", "Released m²", _num),
                ("cmr_m2", "CMR m²", _num),
                ("mine_m2", "Mines m²", _num),
                ("method", L("method"), str),
                ("channel", "Channel", str),
                ("cost_usd", f"{L('cost')} US$", _usd),
                *(
                    [("cost_currency", f"{L('cost')} {d.currency}", cur)]
                    if d.currency != "USD"
                    else []
                ),
                ("team_months", L("team_months"), _num2),
                ("beneficiaries", L("beneficiaries"), _ben),
                ("year", L("year"), _year),
            ],
        ),
        _table(
            "milestones",
            L("milestones"),
            c.milestones,
            [
                ("year", L("year"), _year),
                ("tasks", "Tasks", _int),
                ("released_m2", "Released m²", _num),
                ("cmr_m2", "CMR m²", _num),
                ("mine_m2", "Mines m²", _num),
                ("cost_usd", f"{L('cost')} US$", _usd),
                *(
                    [("cost_currency", f"{L('cost')} {d.currency}", cur)]
                    if d.currency != "USD"
                    else []
                ),
                ("cum_cost_share", "Cumulative share of cost", _pct),
            ],
        ),
    ]
    if len(c.progress):
        tables.append(_progress_table(c.progress, f"{L('deadline')}: programme milestones"))
    tables.append(
        _table(
            "priority",
            L("priority"),
            c.priority,
            [
                ("task_id", L("task_id"), str),
                ("hazard_id", "Hazard", str),
                ("name", "Name", str),
                ("rank", "Rank", _int),
                ("score", "Score", lambda v: f"{v:.3f}" if _finite(v) else "—"),
                ("priority_class", "Class", str),
                ("explanation", "Explanation", str),
                ("contributions", "Contributions (weight × value)", str),
            ],
            xlsx={"explanation": ("wrap", 60), "contributions": ("wrap", 50)},
        )
    )
    if c.victim_assistance is not None:
        tables.append(
            _table(
                "victim_assistance",
                L("victim_assistance"),
                c.victim_assistance,
                [
                    ("settlement_id", "Village id", str),
                    ("name", "Village", str),
                    ("region", L("region"), str),
                    ("accidents", "Accidents", _int),
                    ("survivors", "Survivors (injured)", _int),
                    ("killed", "Killed", _int),
                    ("travel_min_health", "Minutes to care", _num),
                    ("remote", "Remote", lambda v: "yes" if bool(v) else "no"),
                    ("travel_source", "Travel time from", str),
                ],
            )
        )
    if c.risk_education is not None:
        tables.append(
            _table(
                "risk_education",
                L("risk_education"),
                c.risk_education,
                [
                    ("region", L("region"), str),
                    ("areas", "Areas left after year 1", _int),
                    ("area_m2", "Area m²", _num),
                    ("cmr_areas", "Areas with CMR", _int),
                    ("population_nearby", "People nearby (overlapping)", _ben),
                ],
            )
        )
    return tables


def _summary_lines(c: RequestContent) -> list[tuple[str, str]]:
    t, d = c.totals, c.donor
    cost = _usd(t["cost_usd"])
    if d.currency != "USD":
        cost += f" ({_money(d.currency)(t['cost_currency'])} at {d.exchange_rate:g}/US$)"
    ben = t["beneficiaries"]
    return [
        ("Donor", d.name),
        ("Tasks proposed", _int(t["tasks"])),
        ("Cost", cost),
        ("Area released", f"{_num(t['released_m2'])} m² ({_num2(t['released_m2'] / 1e4)} ha)"),
        ("Cluster munition remnants (CCM)", f"{_num(t['cmr_m2'])} m²"),
        ("Mines (Mine Ban Convention)", f"{_num(t['mine_m2'])} m²"),
        ("Team-months", _num2(t["team_months"])),
        (
            "Beneficiaries",
            _NOT_ESTIMATED if ben is None else f"{_num(ben)} people ({t['beneficiaries_column']})",
        ),
        ("Regions", ", ".join(t["regions"]) or "—"),
        ("Years", ", ".join(str(y) for y in t["years"]) or "—"),
    ]


def _achieve_lines(c: RequestContent) -> list[str]:
    p, t = c.programme, c.totals
    if not t["tasks"]:
        return [
            "No planned task fits this donor's constraints and envelope in this plan; the "
            "programme's funding gap below shows what remains to be funded."
        ]
    return [
        f"The plan costs {_usd(p['planned_usd'])} for {p['tasks_planned']:,d} tasks; donors "
        f"are asked for {_usd(p['proposed_usd'])} in all.",
        f"This contribution of {_usd(p['donor_usd'])} is {_pct(p['share_of_plan'])} of the "
        f"plan and closes {_pct(p['share_of_gap'])} of the gap that would remain without it "
        f"({_usd(p['gap_without_usd'])}).",
        f"It releases {_num2(t['released_m2'] / 1e4)} ha: {_num(t['cmr_m2'])} m² holding cluster "
        f"munition remnants (CCM Article 4) and {_num(t['mine_m2'])} m² holding mines (Mine "
        "Ban Convention Article 5).",
        f"After all proposed contributions the programme still lacks {_usd(p['gap_usd'])} "
        f"({p['tasks_unfunded']:,d} tasks unfunded).",
    ]


def _deadline_lines(c: RequestContent) -> list[str]:
    lines = _deadline_lines_raw(c.deadline)
    share = c.deadline.get("package_cmr_share")
    if _finite(share):
        lines.append(
            f"This package releases {_pct(share)} of the programme's CMR-contaminated area."
        )
    return lines


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


def _totals_display(c: RequestContent) -> list[dict[str, Any]]:
    t = c.totals
    return [
        {"key": k, "label": label, "value": float(t[k]), "text": fmt(t[k])}
        for k, label, fmt in (
            ("cost_usd", "Cost, US$", _usd),
            ("released_m2", "Released, m²", _num),
            ("cmr_m2", "CMR, m²", _num),
            ("mine_m2", "Mines, m²", _num),
            ("tasks", "Tasks", _int),
        )
    ]


def _summary_frame(c: RequestContent) -> pd.DataFrame:
    t, p = c.totals, c.programme
    rows = [
        ("Donor", c.donor.name, ""),
        ("Programme", c.project_name, ""),
        ("Tasks", t["tasks"], "tasks"),
        ("Cost", t["cost_usd"], "US$"),
        (f"Cost in {c.donor.currency}", t["cost_currency"], c.donor.currency),
        ("Area released", t["released_m2"], "m²"),
        ("Area released", t["released_m2"] / 1e4, "ha"),
        ("CMR area (CCM)", t["cmr_m2"], "m²"),
        ("Mine area (Mine Ban Convention)", t["mine_m2"], "m²"),
        ("Team-months", t["team_months"], "team-months"),
        (
            "Beneficiaries",
            t["beneficiaries"] if t["beneficiaries"] is not None else _NOT_ESTIMATED,
            "people",
        ),
        ("Programme plan cost", p["planned_usd"], "US$"),
        ("Proposed to all donors", p["proposed_usd"], "US$"),
        ("Programme gap after all proposals", p["gap_usd"], "US$"),
        ("Share of the plan", p["share_of_plan"], "share"),
        ("Share of the gap without this contribution", p["share_of_gap"], "share"),
    ]
    return pd.DataFrame(rows, columns=["item", "value", "unit"])


def _xlsx_formats(wb, currency: str) -> dict[str, Any]:
    return {
        "header": wb.add_format(
            {"bold": True, "bg_color": "#dddddd", "border": 1, "text_wrap": True, "valign": "top"}
        ),
        "text": wb.add_format({"valign": "top"}),
        "wrap": wb.add_format({"text_wrap": True, "valign": "top"}),
        "num": wb.add_format({"num_format": "#,##0", "valign": "top"}),
        "num2": wb.add_format({"num_format": "#,##0.00", "valign": "top"}),
        "int": wb.add_format({"num_format": "#,##0", "valign": "top"}),
        "usd": wb.add_format({"num_format": '"US$"#,##0', "valign": "top"}),
        "cur": wb.add_format({"num_format": f'#,##0 "{currency}"', "valign": "top"}),
        "pct": wb.add_format({"num_format": "0.0%", "valign": "top"}),
        "year": wb.add_format({"num_format": "0", "valign": "top"}),
    }


def _xlsx_sheet(
    wb, fmt: dict, name: str, frame: pd.DataFrame, kinds: dict[str, tuple[str, int]]
) -> None:
    ws = wb.add_worksheet(name[:31])
    ws.freeze_panes(1, 0)
    for j, col in enumerate(frame.columns):
        kind, width = kinds.get(col, ("text", 14))
        ws.write_string(0, j, str(col), fmt["header"])
        ws.set_column(j, j, width)
        for i, v in enumerate(frame[col].tolist(), start=1):
            if isinstance(v, bool | np.bool_):
                ws.write_string(i, j, "yes" if v else "no", fmt["text"])
            elif isinstance(v, int | float | np.number) and not isinstance(v, bool):
                if math.isfinite(float(v)):
                    f = fmt["cur"] if kind == "cur" else fmt.get(kind, fmt["num2"])
                    ws.write_number(i, j, float(v), f)
                else:
                    ws.write_blank(i, j, None)
            elif v is None or (isinstance(v, float) and math.isnan(v)):
                ws.write_blank(i, j, None)
            else:
                ws.write_string(i, j, str(v), fmt["wrap" if kind == "wrap" else "text"])
    if len(frame.columns):
        ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)


def _pdf_table(pdf, t: dict[str, Any], lines_per_page: int = 60) -> None:
    """Draw a table over as many A4 landscape pages as it needs (text wrapped per column).

    Each column of a page is one multi-line text (cells padded to their row's height, a blank
    line between rows), so a page costs a dozen text draws rather than one per cell: the
    request PDFs of a few hundred tasks take seconds, not minutes.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    widths = t.get("widths") or [14] * len(t["headers"])
    scale = 150.0 / max(sum(widths), 1)
    widths = [max(6, int(w * min(scale, 1.5))) for w in widths]
    chars = [int(w * 1.4) for w in widths]  # a 6-pt character is ~0.7 of a width unit
    rows = [
        [textwrap.fill(str(v), w) for v, w in zip(r, chars, strict=False)] for r in t["rows"]
    ] or [["—"] + [""] * (len(t["headers"]) - 1)]
    heads = [textwrap.fill(str(h), w) for h, w in zip(t["headers"], chars, strict=False)]
    head_lines = max(h.count("\n") + 1 for h in heads)
    pages: list[list[list[str]]] = [[]]
    used = 0
    for r in rows:
        need = max(c.count("\n") + 1 for c in r) + 1  # + the blank line between rows
        if pages[-1] and used + need > lines_per_page:
            pages.append([])
            used = 0
        pages[-1].append(r)
        used += need
    xs = np.concatenate([[0.0], np.cumsum(widths)[:-1]]) / sum(widths) * 0.94 + 0.03
    line_h = 6 * 1.35 / 72 / 8.27  # one 6-pt line (with its spacing) as a share of the page
    for p, chunk in enumerate(pages, start=1):
        fig = Figure(figsize=(11.69, 8.27))
        suffix = f" ({p}/{len(pages)})" if len(pages) > 1 else ""
        fig.text(
            0.04,
            0.96,
            f"{t['title']}{suffix}",
            fontsize=12,
            weight="bold",
            va="top",
            parse_math=False,
        )
        top = 0.90
        body_top = top - (head_lines + 0.6) * line_h
        fig.add_artist(
            Line2D(
                [0.03, 0.97],
                [body_top + 0.3 * line_h] * 2,
                lw=0.5,
                color="#555555",
                transform=fig.transFigure,
            )
        )
        for c, x in enumerate(xs):
            fig.text(
                x,
                top,
                heads[c],
                fontsize=6,
                weight="bold",
                va="top",
                parse_math=False,
                linespacing=1.35,
            )
            cells = []
            for r in chunk:
                height = max(v.count("\n") + 1 for v in r)
                v = r[c] if c < len(r) else ""
                cells.append(v + "\n" * (height - v.count("\n") - 1) + "\n")
            fig.text(
                x,
                body_top,
                "\n".join(cells),
                fontsize=6,
                va="top",
                parse_math=False,
                linespacing=1.35,
            )
        pdf.savefig(fig)


def _static_map(
    rows: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    settings: MapSettings,
    *,
    title: str,
    by: str = "year",
) -> bytes | None:
    """PNG of every area (grey) with the rows' areas coloured by ``by`` (year or donor)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if areas.crs is None or not len(areas):
        return None
    geoms = areas.set_index(areas["hazard_id"].astype(str)).geometry
    geoms = geoms[~geoms.index.duplicated()]
    fig = Figure(figsize=(8.0, 6.0))
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.9))
    geoms.plot(ax=ax, color="#eeeeee", edgecolor="#999999", linewidth=0.3)
    handles = []
    if len(rows) and "hazard_id" in rows:
        r = rows.drop_duplicates("hazard_id")
        keys = sorted(r[by].astype(str).unique())
        palette = (
            list(settings.plan_palette)
            if by == "year"
            else ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]
        )
        for i, k in enumerate(keys):
            colour = "#bdbdbd" if k == "unfunded" else palette[i % len(palette)]
            ids = r.loc[r[by].astype(str) == k, "hazard_id"].astype(str)
            g = geoms.reindex(ids).dropna()
            if len(g):
                g.plot(ax=ax, color=colour, edgecolor="#333333", linewidth=0.5)
                handles.append(Patch(facecolor=colour, edgecolor="#333333", label=k))
        if by == "year" and len(r) <= 40:
            for hid, g in geoms.reindex(r["hazard_id"].astype(str)).dropna().items():
                p = g.representative_point()
                ax.annotate(
                    str(hid), (p.x, p.y), fontsize=6, ha="center", va="center", parse_math=False
                )
    if len(rows) and "hazard_id" in rows:  # zoom to the rows' regions, neighbours around
        from ccm_geo.publish.maps.views import region_views, show_views

        focus = areas[areas["hazard_id"].astype(str).isin(rows["hazard_id"].astype(str))]
        show_views(ax, region_views(focus))
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=7, frameon=True)
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.text(0.02, 0.97, title, fontsize=11, va="top", parse_math=False)
    x0, x1 = ax.get_xlim()
    span = (x1 - x0) / 5
    step = 10 ** math.floor(math.log10(span)) if span > 0 else 1
    bar = max(step, round(span / step) * step)
    y0 = ax.get_ylim()[0]
    ax.plot([x0 + bar * 0.1, x0 + bar * 1.1], [y0, y0], color="black", lw=2)
    ax.text(
        x0 + bar * 0.6,
        y0,
        f"{bar / 1000:g} km" if bar >= 1000 else f"{bar:g} m",
        ha="center",
        va="bottom",
        fontsize=7,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _map_fragment(
    donor: DonorProfile,
    content: RequestContent,
    areas: gpd.GeoDataFrame,
    context: Context | None,
    settings: MapSettings,
) -> tuple[str | None, str | None]:
    """The interactive map of the package's areas, embedded; or None and the reason."""
    try:
        from ccm_geo.publish.maps import embed_fragment, priority_map
    except ImportError as exc:
        return None, f"interactive map not included ({exc}); the static map is shown"
    pkg = content.tasks
    per_area = pkg.groupby("hazard_id", sort=False).agg(
        method=("method", lambda s: " → ".join(s.astype(str))),
        cost_usd=("cost_usd", "sum"),
        year=("year", "min"),
    )
    sub = areas[areas["hazard_id"].astype(str).isin(per_area.index)].copy()
    sub = sub.drop(
        columns=[
            c for c in ("method", "cost_usd", "year", "team", "start", "end") if c in sub.columns
        ]
    )
    hid = sub["hazard_id"].astype(str)
    for col in per_area.columns:
        sub[col] = hid.map(per_area[col]).to_numpy()
    from ccm_geo.publish.maps.views import region_views

    views = region_views(sub, context)  # the donor's region(s), with their neighbourhood
    view = views[0].bounds if len(views) == 1 else None  # far-apart regions: all in view
    try:
        doc = priority_map(
            sub, context, settings, title=f"{donor.name}: {content.project_name}", view=view
        )
    except InputError as exc:
        return None, f"interactive map not included: {exc}"
    return embed_fragment(doc, height="520px", title=donor.label("map")), None


def _gpkg_frame(c: RequestContent) -> gpd.GeoDataFrame:
    cols = [
        "task_id",
        "hazard_id",
        "name",
        "region",
        "method",
        "activity",
        "channel",
        "year",
        "area_m2",
        "area_ha",
        "released_m2",
        "cmr_m2",
        "mine_m2",
        "cost_usd",
        "currency",
        "cost_currency",
        "team_months",
        "beneficiaries",
        "score",
        "rank",
        "donor",
    ]
    g = c.tasks[[k for k in cols if k in c.tasks.columns] + [c.tasks.geometry.name]].copy()
    for k in ("team_months", "beneficiaries", "score", "rank"):
        if k in g:
            g[k] = pd.to_numeric(g[k], errors="coerce").astype(float)
    if g.geometry.isna().any():
        bad = g.loc[g.geometry.isna(), "task_id"].tolist()
        import warnings

        warnings.warn(
            f"donor {c.donor.name!r}: tasks {bad} have no geometry (neither in the "
            "task table nor in the areas); they are in the GeoPackage without one",
            DataWarning,
            stacklevel=3,
        )
    return g
