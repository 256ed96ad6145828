"""Donor-targeted funding requests: one document per donor, in its language, and the programme view.

For each donor the matching (:func:`ccm_geo.publish.donors.match_donors`) proposes a package of
planned tasks; :func:`write_requests` writes, into ``<out>/requests/<donor-key>/``:

- ``request.html``: the proposal (summary with the ask, the deadline answer under the right
  convention, the whole picture and a labelled map; context, results framework, methods, work
  plan, budget, beneficiaries, monitoring, risks, contact; annexes), one self-contained file
  with its fonts, in the donor's language (``content`` computes it, ``document`` lays it out
  in the words and numbers of ``words``, ``render`` prints it);
- ``request.pdf``: that HTML printed by WeasyPrint (A4, running header and footer, linked table
  of contents, fonts embedded);
- ``tasks.xlsx``: a workbook whose costs are formulas of its assumption cells (``workbook``);
- ``tasks.gpkg``: the task areas for the donor's GIS staff;

and ``<out>/requests/programme.html``: the whole plan, the allocation per donor, the remaining
funding gap and Article 7 Form F-style area figures (``programme``). At national scale the PDFs
print in a worker process while the next donor's package is made (:mod:`ccm_geo.background`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ccm_geo import background
from ccm_geo.errors import DataWarning
from ccm_geo.io import write_gpkg, write_text
from ccm_geo.publish.donors import DEFAULT_CHANNEL, Allocation, match_donors
from ccm_geo.publish.requests.content import (
    WORKING_DAYS_PER_YEAR,
    RequestContent,
    _with_note,
    request_content,
)
from ccm_geo.publish.requests.figures import (
    needs_map,
    package_bounds,
    region_maps,
    request_map_fragment,
    static_map,
)
from ccm_geo.publish.requests.needs import (
    HEALTH_SPEED_KMH,
    REMOTE_MIN,
    _risk_education,
    _unique_beneficiaries,
    victim_assistance_needs,
)
from ccm_geo.publish.requests.programme import render_programme_html
from ccm_geo.publish.requests.render import (
    pdf_engine_available,
    print_pdf,
    render_request_documents,
    render_request_html,
    request_resources,
    write_request_pdf,
)
from ccm_geo.publish.requests.workbook import write_request_xlsx
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
    "request_map_fragment",
    "victim_assistance_needs",
    "pdf_engine_available",
    "REMOTE_MIN",
    "HEALTH_SPEED_KMH",
    "WORKING_DAYS_PER_YEAR",
    "_risk_education",
    "_unique_beneficiaries",
]


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
    plan_summary: Mapping[str, Any] | None = None,
    mine_ban_deadline: dt.date | str | None = None,
    contact: str = "",
    programme_language: str = "en",
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
        False leaves out the embedded interactive map, or the PDF. The PDF also needs
        WeasyPrint's system libraries (Pango); without them it is left out with a warning.
    plan_summary
        The planning stage's summary (years, budget per year): tells whether teams or money
        bind the plan.
    mine_ban_deadline
        The Mine Ban Convention Article 5 deadline: mined land is judged against it.
    contact
        Who donors write to (the contact section).
    remote_min
        A survivors' village further than this from care (minutes) is remote; the pipeline
        passes ``criteria.remoteness.remote_threshold_min`` so both stages agree.
    programme_language
        Language of the programme view (``en``, ``fr``, ``es``, ``ar``).

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
    pdf_missing = pdf_engine_available() if pdf else None
    if pdf_missing:
        warnings.warn(f"request PDFs not written: {pdf_missing}", DataWarning, stacklevel=2)
    written: dict[str, list[Path]] = {}
    printing = bool(pdf and not pdf_missing)
    # a national plan's PDFs print in a worker while the next donor's package is made
    parallel = printing and len(chosen) >= 2 and len(tasks) >= background.PARALLEL_MIN_TASKS
    with background.Background(parallel) as printer:
        for d in chosen:
            written[d.key] = _write_request(
                d,
                allocation,
                areas,
                tasks,
                milestones,
                deadline,
                context,
                out / d.key,
                settings=settings,
                printer=printer if printing else None,
                interactive_map=interactive_map,
                project_name=project_name,
                planning=planning,
                plan_summary=plan_summary,
                mine_ban_deadline=mine_ban_deadline,
                contact=contact,
                remote_min=remote_min,
            )
        programme = render_programme_html(
            areas,
            allocation,
            milestones,
            deadline,
            project_name=project_name,
            map_settings=settings,
            language=programme_language,
        )
        written["programme"] = [write_text(programme, out / "programme.html")]
    return written


def _write_request(
    d: DonorProfile,
    allocation: Allocation,
    areas: gpd.GeoDataFrame,
    tasks: gpd.GeoDataFrame,
    milestones: pd.DataFrame,
    deadline: Mapping[str, Any] | None,
    context: Context | None,
    folder: Path,
    *,
    settings: MapSettings,
    printer: background.Background | None,
    interactive_map: bool,
    **content_options: Any,
) -> list[Path]:
    """One donor's package: the HTML, the PDF (handed to ``printer``; None: no PDF), the
    workbook and the GeoPackage, in that order."""
    content = request_content(
        d, allocation, areas, tasks, milestones, deadline, context, **content_options
    )
    png = (
        static_map(content.tasks, areas, settings, title=d.name, bounds=package_bounds(content))
        if len(content.tasks)
        else needs_map(content, areas, context, settings)
    )
    content = dataclasses.replace(
        content, static_map_png=png, region_maps=region_maps(content, areas, settings)
    )
    fragment = None
    if interactive_map and len(content.tasks):
        fragment, note = request_map_fragment(d, content, areas, context, settings)
        if note:
            content = _with_note(content, note)
    html, printed = render_request_documents(
        content, map_fragment=fragment, prints=printer is not None
    )
    paths = [write_text(html, folder / "request.html")]
    if printer is not None and printed is not None:
        # the same document (the interactive map is for screens: print CSS hides it),
        # with its images and fonts handed to the printer from memory
        printer.submit(print_pdf, printed, request_resources(content), folder / "request.pdf")
        paths.append(folder / "request.pdf")
    paths.append(write_request_xlsx(content, folder / "tasks.xlsx"))
    paths.append(write_gpkg({"tasks": _gpkg_frame(content)}, folder / "tasks.gpkg"))
    return paths


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
