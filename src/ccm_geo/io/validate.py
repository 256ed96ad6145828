"""Validation: the checks of every row and layer, and the report of what was found.

Rows that cannot be used are excluded *and reported* with their row number, id and value;
problems that make a layer unusable (duplicate ids, unknown codes, missing columns) are collected
and raised once as a :class:`~ccm_geo.errors.ValidationError` carrying the report.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ccm_geo.config import HazardInput, LayerInput
from ccm_geo.errors import ValidationError
from ccm_geo.io.geometry import (
    check_coordinates,
    check_geometry,
    check_min_area,
    points_to_areas,
    project_crs_for,
    resolve_overlaps,
)
from ccm_geo.io.read import (
    _HAZARD_FIELDS,
    _filter_where,
    _hazard_ids,
    _map_codes,
    _map_columns,
    parse_counts,
    parse_dates,
    read_input,
    str_cells,
    stripped_texts,
)
from ccm_geo.model import CONTEXT_COLUMNS, CONTEXT_GEOMETRY, ValidationReport

__all__ = [
    "load_hazards",
    "load_layer",
    "check_extent",
    "check_raster",
    "check_donor_regions",
    "note_casualty_convention",
    "write_report",
]

logger = logging.getLogger(__name__)

# Context layers whose ids other layers refer to, so they must be unique.
_UNIQUE_ID_LAYERS = frozenset({"accidents", "settlements", "health"})
# A context layer must lie within this distance (m) of the hazards' extent.
_EXTENT_MARGIN_M = 50_000.0


def load_hazards(
    spec: HazardInput,
    *,
    project_crs: str | None = None,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Load the hazard register onto the data contract, in the project's metric CRS.

    Columns and codes are mapped by ``spec.columns`` and ``spec.codes``; invalid polygons are
    repaired (``make_valid``); points become polygons of exactly ``spec.point_area_m2``
    (flagged in ``area_estimated``); null, empty, non-areal, misplaced and too small
    (``spec.min_area_m2``) geometries are excluded and reported; land shared by several areas
    is reported and, with ``spec.overlaps = "clip"``, kept in one of them; ``area_m2`` is
    computed in the metric CRS. Values the register does not give stay NaN and are counted
    per column in the report.

    Parameters
    ----------
    spec
        The ``[inputs.hazards]`` section of the project.
    project_crs
        The project's metric CRS; default: the UTM zone of the hazards' median position.

    Returns
    -------
    (GeoDataFrame, ValidationReport)
        The usable hazards (sorted by ``hazard_id``) and the report of everything found:
        ``rows_read == rows_filtered + rows_kept + len(report.of("excluded"))``.

    Raises
    ------
    ValidationError
        Problems that make the register unusable (duplicate ids, unknown codes, missing mapped
        columns, coordinates that are not what the CRS says); the message lists them all, with
        rows and values, and carries the report.
    """
    raw = read_input(spec)
    report = ValidationReport(source=spec.label, rows_read=len(raw))
    raw = raw.reset_index(drop=True)
    raw["_row"] = np.arange(1, len(raw) + 1)
    raw = _filter_where(raw, spec, report)
    _raise_if_errors(report)
    df = _map_columns(raw, spec, report, contract=list(_HAZARD_FIELDS))
    missing_region = _blank(df["region"]) if "region" in df else np.ones(len(df), dtype=bool)
    ids = _hazard_ids(df, spec, report)
    df["hazard_id"] = ids
    df = _map_codes(df, spec, report)
    df["_missing_region"] = missing_region
    df = _check_ids(df, spec, report)
    df = check_geometry(df, spec, report)
    _raise_if_errors(report)
    if len(df) == 0:
        _raise_empty(report)
    df = check_coordinates(df, report, user_crs=project_crs is not None)
    if len(df) == 0:
        _raise_empty(report)
    crs = project_crs_for(df, project_crs)
    df = df.to_crs(crs)
    df = points_to_areas(df, spec, report)
    df = resolve_overlaps(df, spec, report)
    area = df.geometry.area.to_numpy(dtype="float64")
    exact = df["area_estimated"].to_numpy(dtype=bool) & ~df["_clipped"].to_numpy(dtype=bool)
    df["area_m2"] = np.where(exact, spec.point_area_m2, area)  # what the user asked for
    df = check_min_area(df, spec, report)
    if len(df) == 0:
        _raise_empty(report)
    n = len(df)
    report.count_missing(
        "devices_found",
        int(df["devices_found"].isna().sum()),
        n,
        noun="areas",
        source_column=spec.columns.get("devices_found", "devices_found"),
    )
    report.count_missing(
        "region",
        int(df["_missing_region"].sum()),
        n,
        noun="areas",
        assumed="the admin unit holding the area when an admin layer is given, else 'unknown'",
        source_column=spec.columns.get("region", "region"),
    )
    df = _finish(df)
    report.rows_kept = len(df)
    _warn_summary(report)
    return df, report


def load_layer(
    spec: LayerInput,
    name: str,
    *,
    crs: str,
    hazards: gpd.GeoDataFrame | None = None,
    reference_date: dt.date | None = None,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Load a context layer (accidents, settlements, health, roads, admin) onto the contract.

    Parameters
    ----------
    spec
        The layer's ``[inputs.<name>]`` section.
    name
        The layer: a key of :data:`~ccm_geo.model.CONTEXT_COLUMNS`.
    crs
        The project's metric CRS.
    hazards
        The loaded hazards: a layer whose extent does not come within 50 km of theirs is an
        error naming both extents (a wrong CRS label puts a layer hundreds of km away).
    reference_date
        The plan's start, the day every accident window counts back from: later accident
        dates are reported (they count in no window).

    Rows with null or empty geometry, or with values that cannot be read (a date that is not
    ISO 8601 nor in ``spec.date_format``, a count that is not a whole number >= 0) are
    excluded and reported. Values the layer does not give stay no data (NaN, None) and are
    counted per column; undated accidents are reported row by row.

    Raises
    ------
    ValidationError
        Duplicate ids, a mapped column that is absent, geometries of the wrong type, dates
        that are mostly in another format than the one expected, or a layer far away from the
        hazards.
    """
    raw = read_input(spec)
    report = ValidationReport(source=f"{spec.label} ({name})", rows_read=len(raw))
    raw = raw.reset_index(drop=True)
    raw["_row"] = np.arange(1, len(raw) + 1)
    raw = _filter_where(raw, spec, report)
    _raise_if_errors(report)
    wanted = CONTEXT_COLUMNS[name]
    df = _map_columns(raw, spec, report, contract=list(wanted))
    _raise_if_errors(report)
    id_col = next(iter(wanted))
    if id_col not in df:
        df[id_col] = [f"{name}-{r}" for r in df["_row"]]
    _check_layer_ids(df, spec, name, id_col, report)
    _raise_if_errors(report)
    keep = np.ones(len(df), dtype=bool)
    geom = df.geometry
    bad_geom = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    for row in df["_row"].to_numpy()[bad_geom]:
        report.add(
            "excluded", "null_geometry", "no geometry; the feature cannot be placed", row=int(row)
        )
    keep &= ~bad_geom
    keep &= _check_geometry_type(df, keep, spec, name, report)
    _raise_if_errors(report)
    for col, kind in wanted.items():
        if col == id_col:
            df[col] = _as_text(df[col], strip=False)
            continue
        if col not in df:
            if kind.startswith("datetime"):
                df[col] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
            else:
                df[col] = np.nan if kind == "count" else None
            continue
        source = "_source_" + col if "_source_" + col in df else col
        if kind == "count":
            values, bad = parse_counts(df[col])
            what = "a whole number >= 0 (leave it empty when unknown)"
        elif kind.startswith("datetime"):
            values, bad, year = parse_dates(df[col], spec.date_format)
            _check_date_format(df, bad & keep, spec, name, col, report)
            _raise_if_errors(report)
            what = (
                f"a date in the form {spec.date_format!r} (inputs.{name}.date_format)"
                if spec.date_format
                else f"an ISO 8601 date (2026-01-05); set inputs.{name}.date_format if the "
                "file writes dates another way"
            )
            _report_years(df, year & keep & ~bad, spec, col, report)
        else:
            values, bad = _as_text(df[col], strip=True), np.zeros(len(df), dtype=bool)
        bad = bad & keep
        for row, value in zip(df["_row"].to_numpy()[bad], df.loc[bad, source], strict=True):
            report.add(
                "excluded",
                f"bad_{col}",
                f"{col} value {value!r} cannot be read as {what}; fix it in the source",
                row=int(row),
                column=spec.columns.get(col, col),
                value=str(value),
            )
        df[col] = values
        keep &= ~bad
    df = df.loc[keep].to_crs(crs)
    if "date" in wanted:
        _report_dates(df, spec, id_col, reference_date, report)
    if hazards is not None and len(df):
        check_extent(df, hazards, f"{spec.label} ({name})")
    for col, kind in wanted.items():
        if kind == "str":  # names and references: None is their "no value", nothing is summed
            continue
        present = col in spec.columns or col in raw.columns
        assumed = "no data (NaN)" if present else "no data (NaN): the layer has no such column"
        report.count_missing(
            col,
            int(pd.isna(df[col]).sum()),
            len(df),
            noun=name,
            assumed=assumed,
            source_column=spec.columns.get(col, col),
        )
    df = df[[*wanted, "geometry"]].sort_values(id_col, kind="stable").reset_index(drop=True)
    report.rows_kept = len(df)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=crs), report


def check_extent(layer: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame, source: str) -> None:
    """Raise when ``layer``'s extent does not come within 50 km of the hazards' extent.

    Both are in the project's CRS. A layer labelled with the wrong CRS (a neighbouring UTM
    zone puts it some 650 km away) would otherwise make every distance meaningless.
    """
    lb = np.asarray(layer.total_bounds, dtype=float)
    hb = np.asarray(hazards.total_bounds, dtype=float)
    if not (np.isfinite(lb).all() and np.isfinite(hb).all()):
        return
    m = _EXTENT_MARGIN_M
    meets = lb[0] <= hb[2] + m and lb[2] >= hb[0] - m and lb[1] <= hb[3] + m and lb[3] >= hb[1] - m
    if not meets:
        gap_x = max(hb[0] - lb[2], lb[0] - hb[2], 0.0)
        gap_y = max(hb[1] - lb[3], lb[1] - hb[3], 0.0)
        gap_km = float(np.hypot(gap_x, gap_y)) / 1000.0
        crs = CRS.from_user_input(hazards.crs).to_string()
        msg = (
            f"{source}: the layer lies {gap_km:,.0f} km from the hazards: its extent "
            f"{_bounds_text(lb)} does not meet the hazards' extent {_bounds_text(hb)} (both in "
            f"{crs}). Check the CRS the layer declares (or `crs` for this input): a neighbouring "
            "UTM zone moves a layer hundreds of km"
        )
        raise ValidationError(msg)


def _as_text(values: pd.Series, *, strip: bool) -> pd.Series:
    """Each value as text (object dtype; missing, and blank when ``strip``, as NaN): what
    ``values.map(lambda v: None if pd.isna(v) else str(v)[.strip() or None]).astype(object)``
    gives, computed once per distinct value."""
    if strip:
        texts = stripped_texts(values)
    else:
        cells = values.to_numpy(dtype=object)
        given = ~pd.isna(cells)
        out = np.full(len(cells), None, dtype=object)
        out[given] = str_cells(cells[given], values.dtype)
        texts = out.tolist()
    if len(values) == 0:
        return values.map(str).astype(object)
    return pd.Series(texts, index=values.index).astype(object)


def _check_ids(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    missing = df["hazard_id"].isna()
    for row in df.loc[missing, "_row"]:
        report.add(
            "excluded",
            "missing_id",
            "no hazard id; the row cannot be tracked. Give it an id in the register",
            row=int(row),
            column=spec.columns.get("hazard_id", "hazard_id"),
        )
    df = df.loc[~missing]
    dup = df["hazard_id"].duplicated(keep=False)
    for hid, group in df.loc[dup].groupby("hazard_id", sort=True):
        rows = ", ".join(str(r) for r in group["_row"])
        report.add(
            "error",
            "duplicate_id",
            f"hazard id {hid!r} appears on rows {rows}; ids must be unique. Merge the "
            "rows or give each its own id",
            hazard_id=str(hid),
            row=int(group["_row"].iloc[0]),
            column=spec.columns.get("hazard_id", "hazard_id"),
            value=str(hid),
        )
    return df


def _check_layer_ids(
    df: gpd.GeoDataFrame, spec: LayerInput, name: str, id_col: str, report: ValidationReport
) -> None:
    ids = df[id_col].astype("string")
    dup = ids.duplicated(keep=False).fillna(False).to_numpy() & ids.notna().to_numpy()
    if name not in _UNIQUE_ID_LAYERS:  # a region in several parts, a road in segments
        return
    for value, group in df.loc[dup].groupby(id_col, sort=True):
        rows = ", ".join(str(r) for r in group["_row"])
        report.add(
            "error",
            "duplicate_id",
            f"{id_col} {value!r} appears on rows {rows}; ids must be unique (other layers "
            "refer to them). Merge the rows or give each its own id",
            row=int(group["_row"].iloc[0]),
            column=spec.columns.get(id_col, id_col),
            value=str(value),
        )


_GEOMETRY_FAMILY = {
    "Point": {"Point", "MultiPoint"},
    "LineString": {"LineString", "MultiLineString"},
    "Polygon": {"Polygon", "MultiPolygon"},
}


def _check_geometry_type(
    df: gpd.GeoDataFrame, keep: np.ndarray, spec: LayerInput, name: str, report: ValidationReport
) -> np.ndarray:
    """Rows whose geometry has the layer's type; an error when none has (the wrong layer, or
    polygons where points are needed), else the odd rows are excluded and reported."""
    want = CONTEXT_GEOMETRY[name]
    types = df.geometry.geom_type.to_numpy(dtype=object)
    ok = np.array([t in _GEOMETRY_FAMILY[want] for t in types], dtype=bool)
    wrong = keep & ~ok
    if not wrong.any():
        return np.ones(len(df), dtype=bool)
    found = pd.Series(types[wrong]).value_counts()
    found_text = ", ".join(f"{k} ({v})" for k, v in found.items())
    if wrong.sum() == keep.sum():
        fix = {
            "Point": "convert them to points (centroids) in your GIS",
            "LineString": "give the road lines",
            "Polygon": "give the boundary polygons",
        }[want]
        report.add(
            "error",
            "wrong_geometry_type",
            f"the {name} layer holds {found_text}, but {name} must be {want} geometries; "
            f"{fix}, or check that inputs.{name}.path names the right file",
            value=found_text,
        )
        return ~wrong
    for row, t in zip(df["_row"].to_numpy()[wrong], types[wrong], strict=True):
        report.add(
            "excluded",
            "wrong_geometry_type",
            f"a {t} in a layer of {want} geometries; fix or remove it in the source",
            row=int(row),
            value=str(t),
        )
    return ~wrong


def _check_date_format(
    df: gpd.GeoDataFrame,
    bad: np.ndarray,
    spec: LayerInput,
    name: str,
    col: str,
    report: ValidationReport,
) -> None:
    """Most dates unreadable: the file writes dates another way than expected (one error)."""
    filled = (~_blank(df[col])).sum()
    if filled == 0 or bad.sum() < max(1, 0.5 * filled):
        return
    source = "_source_" + col if "_source_" + col in df else col
    examples = ", ".join(repr(str(v)) for v in df.loc[bad, source].head(3))
    if spec.date_format:
        fix = f"they do not match date_format = {spec.date_format!r}; correct the pattern"
    else:
        fix = (
            "dates are read as ISO 8601 (2026-01-05) unless the input says otherwise: set "
            f"inputs.{name}.date_format, e.g. '%d/%m/%Y' when 05/01/2026 means 5 January or "
            "'%m/%d/%Y' when it means 1 May"
        )
    report.add(
        "error",
        f"bad_{col}",
        f"{int(bad.sum())} of {int(filled)} {col} values cannot be read (e.g. {examples}); {fix}",
        column=spec.columns.get(col, col),
        value=str(df.loc[bad, source].iloc[0]),
    )


def _report_years(
    df: gpd.GeoDataFrame, year: np.ndarray, spec: LayerInput, col: str, report: ValidationReport
) -> None:
    if year.any():
        report.add(
            "warning",
            "year_only",
            f"{col}: {int(year.sum()):,} row(s) give only a year; each is taken as 1 July of "
            "that year (the middle of the year), so an accident window may count it a few "
            "months early or late",
            column=spec.columns.get(col, col),
            value=str(int(year.sum())),
        )


def _report_dates(
    df: gpd.GeoDataFrame,
    spec: LayerInput,
    id_col: str,
    reference_date: dt.date | None,
    report: ValidationReport,
) -> None:
    """Report undated rows and rows dated after the reference date, one line each."""
    col = spec.columns.get("date", "date")
    dates = df["date"]
    for row, ident in zip(df["_row"][dates.isna()], df[id_col][dates.isna()], strict=True):
        report.add(
            "warning",
            "no_date",
            f"{ident}: no date; it counts in no accident window (criteria leave it out). Fill "
            "in the date, even approximately (a year is enough)",
            row=int(row),
            column=col,
        )
    if reference_date is None:
        return
    ref = pd.Timestamp(reference_date)
    late = (dates > ref).fillna(False).to_numpy(dtype=bool)
    for row, ident, day in zip(df["_row"][late], df[id_col][late], dates[late], strict=True):
        report.add(
            "warning",
            "future_date",
            f"{ident}: dated {day.date()}, after project.start_date {ref.date()} (the day "
            "every accident window counts back from): it counts in no window. A typo in the "
            "year?",
            row=int(row),
            column=col,
            value=str(day.date()),
        )


def _blank(values: pd.Series) -> np.ndarray:
    """Cells that give no value: null, NaN, or only spaces."""
    return values.map(
        lambda v: (
            v is None
            or v is pd.NaT
            or (isinstance(v, float) and np.isnan(v))
            or (isinstance(v, str) and not v.strip())
        )
    ).to_numpy(dtype=bool)


def _bounds_text(b: np.ndarray) -> str:
    return f"x {b[0]:,.0f}..{b[2]:,.0f}, y {b[1]:,.0f}..{b[3]:,.0f}"


def _finish(df: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    cols = [
        "hazard_id",
        "name",
        "status",
        "contamination",
        "evidence",
        "devices_found",
        "region",
        "area_m2",
        "area_estimated",
        "source_row",
    ]
    df = df.rename(columns={"_row": "source_row"})
    df["source_row"] = df["source_row"].astype("int64")
    df["hazard_id"] = df["hazard_id"].astype(str)
    df["devices_found"] = df["devices_found"].astype("float64")
    df = df[[*cols, "geometry"]].sort_values("hazard_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=df.crs)


def _raise_empty(report: ValidationReport) -> None:
    excluded = report.of("excluded")
    reasons = pd.Series([i.code for i in excluded]).value_counts().sort_index()
    why = ", ".join(f"{code}: {n}" for code, n in reasons.items())
    msg = (
        f"{report.source}: no usable rows: {report.rows_read} read, {report.rows_filtered} "
        f"left out by the `where` filter, {len(excluded)} excluded"
        + (f" ({why})" if why else "")
        + ". Check the filter values and the geometries (`ccm-geo validate` lists every row)."
    )
    raise ValidationError(msg, report)


def _raise_if_errors(report: ValidationReport) -> None:
    errors = report.of("error")
    if errors:
        shown = "; ".join(_one_line(i) for i in errors[:8])
        more = f"; and {len(errors) - 8} more" if len(errors) > 8 else ""
        msg = f"{report.source}: {len(errors)} problem(s) make this input unusable: {shown}{more}"
        raise ValidationError(msg, report)


def _one_line(issue) -> str:
    where = []
    if issue.row is not None:
        where.append(f"row {issue.row}")
    if issue.hazard_id is not None:
        where.append(f"id {issue.hazard_id}")
    return (", ".join(where) + ": " if where else "") + issue.message


def _warn_summary(report: ValidationReport) -> None:
    excluded = report.of("excluded")
    repaired = report.of("repair")
    if excluded or repaired:
        from ccm_geo.errors import DataWarning

        parts = []
        if excluded:
            ids = ", ".join(str(i.hazard_id or f"row {i.row}") for i in excluded[:5])
            more = " ..." if len(excluded) > 5 else ""
            parts.append(f"{len(excluded)} row(s) excluded ({ids}{more})")
        if repaired:
            parts.append(f"{len(repaired)} geometry repair(s)")
        warnings.warn(
            f"{report.source}: {'; '.join(parts)}; see the validation report",
            DataWarning,
            stacklevel=3,
        )


def note_casualty_convention(
    accidents: gpd.GeoDataFrame, report: ValidationReport, rule: str
) -> None:
    """Say in the accidents' report how many accidents the casualty convention applies to
    (``criteria.contamination.unknown_casualties``: ``"one_event"`` or ``"no_data"``)."""
    neither = int((accidents["killed"].isna() & accidents["injured"].isna()).sum())
    if not neither:
        return
    what = (
        "each counts as one casualty event in casualties_<N>m"
        if rule == "one_event"
        else "the casualty indicators of the areas they count for are no data (NaN)"
    )
    report.add(
        "warning",
        "casualty_convention",
        f"{neither:,} of {len(accidents):,} accidents give neither killed nor injured; {what} "
        f"(criteria.contamination.unknown_casualties = {rule!r}; 'one_event' or 'no_data')",
        value=str(neither),
    )


def check_raster(path, hazards: gpd.GeoDataFrame) -> None:
    """The land-cover raster opens, declares a CRS and covers ground near the hazards."""
    from pyproj import Transformer

    from ccm_geo.io.read import read_raster

    info = read_raster(path)
    w, s, e, n = info["bounds"]
    tr = Transformer.from_crs(info["crs"], hazards.crs, always_xy=True)
    xs, ys = tr.transform([w, e, e, w], [s, s, n, n])
    extent = shapely.box(min(xs), min(ys), max(xs), max(ys))
    frame = gpd.GeoDataFrame(geometry=[extent], crs=hazards.crs)
    check_extent(frame, hazards, f"{path} (landcover)")


def check_donor_regions(donors, hazards: gpd.GeoDataFrame, source) -> None:
    """A donor region that no hazard lies in is a typo: nothing there could be funded.

    Raises
    ------
    ConfigError
        Naming each donor, its unknown regions and the regions the hazards have.
    """
    from ccm_geo.errors import ConfigError

    known = set(hazards["region"].astype(str))
    shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
    problems = []
    for i, d in enumerate(donors):
        missing = sorted(set(d.regions) - known)
        if missing:
            problems.append(
                f"donors[{i}] ({d.name}): regions {missing} hold no hazardous area "
                f"(regions: {shown})"
            )
    if problems:
        msg = f"{source}: {'; '.join(problems)}; correct the spelling or remove the region"
        raise ConfigError(msg)


def write_report(reports: list[ValidationReport], path) -> Path:
    """Write the validation report: every finding of every input, one row each (CSV)."""
    from ccm_geo.io.write import write_csv

    records = [dict(r, source=rep.source) for rep in reports for r in rep.to_records()]
    cols = ["source", "level", "code", "row", "hazard_id", "column", "value", "message"]
    table = pd.DataFrame(records, columns=cols)
    table["row"] = table["row"].astype("Int64")
    return write_csv(table, path)
