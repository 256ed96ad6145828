"""Reading and writing: hazard registers, context layers and tables; every write is atomic.

Loading maps a user's columns and codes onto the data contract (``model.py``), validates every
row in one pass and returns the layer with a :class:`~ccm_geo.model.ValidationReport`. Rows that
cannot be used are excluded *and reported* with their row number, id and value; problems that
make the layer unusable (duplicate ids, unknown codes, missing columns) are collected and raised
once as a :class:`~ccm_geo.errors.ValidationError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from ccm_geo.config import HazardInput, LayerInput
from ccm_geo.errors import InputError, InputFileNotFoundError, ValidationError
from ccm_geo.model import (
    CONTEXT_COLUMNS,
    Contamination,
    Evidence,
    Status,
    ValidationReport,
    join_contamination,
)

__all__ = [
    "atomic_output",
    "read_vector",
    "load_hazards",
    "load_layer",
    "write_gpkg",
    "write_csv",
    "write_text",
    "polygonal_parts",
    "read_gpkg",
    "FIXED_TIMESTAMP",
]

logger = logging.getLogger(__name__)

#: Timestamp written into GeoPackage metadata so that identical runs give identical files.
FIXED_TIMESTAMP = "2000-01-01T00:00:00.000Z"

_VECTOR_SUFFIXES = {
    ".gpkg",
    ".geojson",
    ".json",
    ".shp",
    ".fgb",
    ".parquet",
    ".geoparquet",
    ".csv",
    ".zip",
    ".gml",
    ".kml",
    ".sqlite",
}
# How far (degrees) a geometry may lie outside the CRS's published area of use before it is
# taken for a coordinate error (a flipped sign, swapped lat/lon) rather than an edge case.
_AREA_OF_USE_MARGIN_DEG = 1.0
# Without a configured project CRS, a hazard this far (degrees of longitude or latitude) from
# the register's median position is taken for a coordinate error (a flipped sign moves a point
# by twice its longitude); no national register spans this much.
_FAR_FROM_MEDIAN_DEG = 15.0
# ... unless more than this share of rows is that far: then the register spans regions far
# apart, and the user must choose the CRS (an error, not a silent exclusion of many rows).
_FAR_SHARE_MAX = 0.05
# Context layers whose ids other layers refer to, so they must be unique.
_UNIQUE_ID_LAYERS = frozenset({"accidents", "settlements", "health"})


# --------------------------------------------------------------------------------------------
# Public: reading


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    x: str | None = None,
    y: str | None = None,
    wkt: str | None = None,
) -> gpd.GeoDataFrame:
    """Read any supported vector file into a GeoDataFrame with every attribute as read.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet, or CSV (with ``wkt`` or ``x``
        and ``y`` columns; when none are given, columns named WKT/geometry or lon/lat, x/y are
        looked for).
    layer
        Layer of a multi-layer file.
    crs
        CRS to assume when the file declares none. A declared CRS is never overridden.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    InputError
        The file is empty, not geospatial, or has no CRS and none was given.
    """
    path = Path(path)
    if any(ch in path.name for ch in "*?["):
        return _read_many(path, layer=layer, crs=crs, x=x, y=y, wkt=wkt)
    if not path.exists():
        msg = (
            f"{path}: file not found. Check the path in the project file (paths are relative "
            "to the project file's folder)."
        )
        raise InputFileNotFoundError(msg)
    if path.is_file() and path.stat().st_size == 0:
        msg = f"{path}: the file is empty (0 bytes). Export the layer again."
        raise InputError(msg)
    if path.suffix.lower() == ".csv":
        gdf = _read_csv(path, x=x, y=y, wkt=wkt)
    elif path.suffix.lower() in {".parquet", ".geoparquet"}:
        try:
            gdf = gpd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many kinds
            msg = f"{path}: not a readable GeoParquet file ({exc}). Export it again as GeoParquet."
            raise InputError(msg) from exc
    else:
        try:
            gdf = pyogrio.read_dataframe(path, layer=layer)
        except pyogrio.errors.DataSourceError as exc:
            msg = (
                f"{path}: not a readable geospatial file ({_first_line(exc)}). Supported: "
                f"{', '.join(sorted(_VECTOR_SUFFIXES))}."
            )
            raise InputError(msg) from exc
        except pyogrio.errors.DataLayerError as exc:
            layers = ", ".join(str(name) for name, _ in pyogrio.list_layers(path))
            msg = f"{path}: layer {layer!r} not found ({_first_line(exc)}). Layers: {layers}."
            raise InputError(msg) from exc
        if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
            msg = f"{path}: the file has no geometry column; it is a table, not a map layer."
            raise InputError(msg)
    if len(gdf) == 0:
        msg = f"{path}: the layer has no rows. Check that the right file/layer was exported."
        raise InputError(msg)
    if gdf.crs is None:
        if crs is None:
            msg = (
                f"{path}: the file declares no coordinate reference system. Set it in the "
                'project file, e.g. `crs = "EPSG:4326"` under this input, if the '
                "coordinates are longitude/latitude."
            )
            raise InputError(msg)
        gdf = gdf.set_crs(crs)
    return gdf


def load_hazards(
    spec: HazardInput,
    *,
    project_crs: str | None = None,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Load the hazard register onto the data contract, in the project's metric CRS.

    Columns and codes are mapped by ``spec.columns`` and ``spec.codes``; invalid polygons are
    repaired (``make_valid``); points become circles of ``spec.point_area_m2`` (flagged in
    ``area_estimated``); null, empty, non-areal and out-of-area geometries are excluded and
    reported; ``area_m2`` is computed in the metric CRS.

    Parameters
    ----------
    spec
        The ``[inputs.hazards]`` section of the project.
    project_crs
        The project's metric CRS; default: the UTM zone of the hazards' median position.

    Returns
    -------
    (GeoDataFrame, ValidationReport)
        The usable hazards (sorted by ``hazard_id``) and the report of everything found.

    Raises
    ------
    ValidationError
        Problems that make the register unusable (duplicate ids, unknown codes, missing mapped
        columns); the message lists them all, with rows and values, and carries the report.
    """
    raw = read_vector(spec.path, layer=spec.layer, crs=spec.crs, x=spec.x, y=spec.y, wkt=spec.wkt)
    report = ValidationReport(source=str(spec.path), rows_read=len(raw))
    raw = raw.reset_index(drop=True)
    raw["_row"] = np.arange(1, len(raw) + 1)
    raw = _filter_where(raw, spec, report)
    df = _map_columns(raw, spec, report, contract=list(_HAZARD_FIELDS))
    ids = _hazard_ids(df, spec, report)
    df["hazard_id"] = ids
    df = _map_codes(df, spec, report)
    df = _check_ids(df, spec, report)
    df = _check_geometry(df, spec, report)
    _raise_if_errors(report)
    if len(df) == 0:
        _raise_empty(report)
    crs = _project_crs(df, project_crs)
    # The project CRS's area of use only when the user chose it: an estimated UTM zone is a
    # 6-degree band, and a national register may well extend beyond it.
    df = _check_area_of_use(
        df,
        [df.crs] + ([crs] if project_crs else []),
        report,
        far_from_median_deg=None if project_crs else _FAR_FROM_MEDIAN_DEG,
    )
    if len(df) == 0:
        _raise_empty(report)
    df = df.to_crs(crs)
    df = _points_to_areas(df, spec, report)
    df["area_m2"] = df.geometry.area.astype("float64")
    df = _finish(df)
    report.rows_kept = len(df)
    _warn_summary(report)
    return df, report


def load_layer(
    spec: LayerInput,
    name: str,
    *,
    crs: str,
) -> tuple[gpd.GeoDataFrame, ValidationReport]:
    """Load a context layer (accidents, settlements, health, roads, admin) onto the contract.

    Rows with null or empty geometry, or with values that cannot be read (a date that is not a
    date, a population that is not a number) are excluded and reported.
    """
    raw = read_vector(spec.path, layer=spec.layer, crs=spec.crs, x=spec.x, y=spec.y, wkt=spec.wkt)
    report = ValidationReport(source=f"{spec.path} ({name})", rows_read=len(raw))
    raw = raw.reset_index(drop=True)
    raw["_row"] = np.arange(1, len(raw) + 1)
    raw = _filter_where(raw, spec, report)
    wanted = CONTEXT_COLUMNS[name]
    df = _map_columns(raw, spec, report, contract=list(wanted))
    _raise_if_errors(report)
    id_col = next(iter(wanted))
    if id_col not in df:
        df[id_col] = [f"{name}-{r}" for r in df["_row"]]
    ids = df[id_col].astype("string")
    dup = ids.duplicated(keep=False).fillna(False).to_numpy() & ids.notna().to_numpy()
    if name not in _UNIQUE_ID_LAYERS:  # a region in several parts, a road in segments
        dup[:] = False
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
    _raise_if_errors(report)
    keep = np.ones(len(df), dtype=bool)
    geom = df.geometry
    bad_geom = geom.isna().to_numpy() | geom.is_empty.to_numpy()
    for row in df["_row"].to_numpy()[bad_geom]:
        report.add(
            "excluded", "null_geometry", "no geometry; the feature cannot be placed", row=int(row)
        )
    keep &= ~bad_geom
    for col, kind in wanted.items():
        if col == id_col:
            df[col] = df[col].astype("string").astype(object)
            continue
        if col not in df:
            df[col] = _default_context(col, kind)
            continue
        df[col], bad = _coerce(df[col], kind)
        bad = bad & keep
        for row, value in zip(
            df["_row"].to_numpy()[bad],
            df.loc[bad, "_source_" + col] if "_source_" + col in df else df.loc[bad, col],
            strict=False,
        ):
            report.add(
                "excluded",
                f"bad_{col}",
                f"{col} value {value!r} cannot be read as {kind}; fix it in the source",
                row=int(row),
                column=spec.columns.get(col, col),
                value=str(value),
            )
        keep &= ~bad
    df = df.loc[keep].to_crs(crs)
    df = df[[*wanted, "geometry"]].sort_values(id_col, kind="stable").reset_index(drop=True)
    report.rows_kept = len(df)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=crs), report


def read_gpkg(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage this tool wrote (a previous stage's output)."""
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: not found; run the previous stage first (or `ccm-geo run`)."
        raise InputFileNotFoundError(msg)
    return pyogrio.read_dataframe(path, layer=layer)


# --------------------------------------------------------------------------------------------
# Public: writing


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A failed write leaves no half-written file and never replaces a good output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers (GDAL, xlsxwriter) want to create the file themselves
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_gpkg(
    layers: dict[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    styles: dict[str, str] | None = None,
    default_styles: bool = True,
) -> Path:
    """Write one or more layers into a new GeoPackage, atomically and reproducibly.

    Parameters
    ----------
    layers
        Layer name -> GeoDataFrame. Set-valued or list-valued cells are not allowed: store
        contamination as ``;``-joined text.
    styles
        Layer name -> QGIS QML text, stored in the ``layer_styles`` table as the layer's
        default style, so QGIS opens the layer already coloured. A layer without one gets
        ``publish.styles.layer_style`` (colours and labels from the one map palette).
    default_styles
        False: store only ``styles`` (a file meant as plain input, e.g. the demo's; the style
        table shows as a second layer to readers that do not name one).
    """
    path = Path(path)
    with atomic_output(path) as tmp, _fixed_gpkg_time():
        for name, gdf in layers.items():
            pyogrio.write_dataframe(
                _for_file(gdf), tmp, layer=name, driver="GPKG", SPATIAL_INDEX="YES"
            )
        if default_styles:  # every layer opens styled and labelled in QGIS
            from ccm_geo.publish.styles import default_styles as _defaults

            styles = {**_defaults(layers), **(styles or {})}
        if styles:
            _write_layer_styles(tmp, layers, styles)
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file (UTF-8: HTML, JSON) atomically and return its path."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV (with BOM, so Excel shows accents), atomically.

    Geometry, if any, is written as WKT in a ``geometry`` column. Floats are rounded for
    reading: m² and US$ columns to 0.01, others to 6 decimals (the GeoPackages keep full
    precision).
    """
    path = Path(path)
    out = pd.DataFrame(df).copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(_csv_safe)
        if pd.api.types.is_float_dtype(out[col]):
            digits = 2 if col.endswith(("_m2", "_usd")) else 6
            out[col] = out[col].round(digits)
    if isinstance(df, gpd.GeoDataFrame):
        out[df.geometry.name] = shapely.to_wkt(df.geometry.values, rounding_precision=3)
    with atomic_output(path) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


# --------------------------------------------------------------------------------------------
# Helpers: reading

_HAZARD_FIELDS = (
    "hazard_id",
    "status",
    "contamination",
    "evidence",
    "devices_found",
    "region",
    "name",
)


def _read_many(pattern: Path, **kwargs) -> gpd.GeoDataFrame:
    """Read every file matching a glob pattern (sorted) into one frame.

    Adds ``_file`` (the file's stem) and ``_file_row`` (1-based row in that file) so that every
    reported row can be traced back to its file.
    """
    files = sorted(pattern.parent.glob(pattern.name))
    if not files:
        msg = f"{pattern}: no file matches this pattern. Check the folder and the pattern."
        raise InputFileNotFoundError(msg)
    frames = []
    for f in files:
        gdf = read_vector(f, **kwargs)
        gdf = gdf.to_crs(frames[0].crs) if frames else gdf
        gdf["_file"] = f.stem
        gdf["_file_row"] = np.arange(1, len(gdf) + 1)
        frames.append(gdf)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def _csv_safe(value):
    """Text that a spreadsheet would run as a formula (``=``, ``+``, ``@`` first) gets a
    leading apostrophe, the spreadsheet convention for 'this is text'."""
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    return value


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_csv(path: Path, *, x: str | None, y: str | None, wkt: str | None) -> gpd.GeoDataFrame:
    try:
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
        )
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        msg = f"{path}: cannot be read as a UTF-8 CSV table ({_first_line(exc)})."
        raise InputError(msg) from exc
    except pd.errors.EmptyDataError as exc:
        msg = f"{path}: the CSV file has no header and no rows."
        raise InputError(msg) from exc
    lower = {c.lower(): c for c in df.columns}
    if wkt is None and x is None:
        wkt = next((lower[c] for c in ("wkt", "geometry", "geom") if c in lower), None)
        if wkt is None:
            x = next((lower[c] for c in ("lon", "longitude", "x", "easting") if c in lower), None)
            y = next((lower[c] for c in ("lat", "latitude", "y", "northing") if c in lower), None)
    if wkt is not None:
        if wkt not in df:
            msg = f"{path}: WKT column {wkt!r} not found. Columns: {', '.join(df.columns)}."
            raise InputError(msg)
        geoms = []
        for i, text in enumerate(df[wkt], start=1):
            try:
                geoms.append(None if pd.isna(text) else shapely.from_wkt(text))
            except shapely.errors.GEOSException as exc:
                msg = (
                    f"{path}: row {i}: column {wkt!r} value {str(text)[:60]!r} is not WKT "
                    f"({_first_line(exc)}). Fix the geometry text or leave it empty."
                )
                raise InputError(msg) from exc
        return gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms)
    if x is None or y is None or x not in df or y not in df:
        msg = (
            f"{path}: a CSV needs a WKT column or two coordinate columns; none found "
            f'(columns: {", ".join(df.columns)}). Set `wkt = "..."` or `x`/`y` for this '
            "input in the project file."
        )
        raise InputError(msg)
    xs = pd.to_numeric(df[x], errors="coerce")
    ys = pd.to_numeric(df[y], errors="coerce")
    geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
    geoms[xs.isna().to_numpy() | ys.isna().to_numpy()] = None
    return gpd.GeoDataFrame(df, geometry=geoms)


def _filter_where(
    raw: gpd.GeoDataFrame, spec: LayerInput, report: ValidationReport
) -> gpd.GeoDataFrame:
    for col, allowed in spec.where.items():
        if col not in raw:
            report.add(
                "error",
                "missing_column",
                f"`where` names column {col!r}, which the file does not have; columns: "
                f"{', '.join(c for c in raw.columns if not c.startswith('_'))}",
                column=col,
            )
            continue
        keep = raw[col].map(_code_text).isin([_code_text(a) for a in allowed])
        logger.info(
            "%s: %d of %d rows kept by where %s in %s",
            spec.path,
            keep.sum(),
            len(raw),
            col,
            allowed,
        )
        raw = raw.loc[keep]
    report.rows_filtered = report.rows_read - len(raw)
    _raise_if_errors(report)
    return raw


def _code_text(value) -> str:
    """A code as text, so that 8, 8.0, "8" and "8.0" compare equal (files store codes either
    way)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _map_columns(
    raw: gpd.GeoDataFrame, spec: LayerInput, report: ValidationReport, *, contract: list[str]
) -> gpd.GeoDataFrame:
    """Rename the user's columns to contract names; keep the raw values as ``_source_<col>``."""
    df = gpd.GeoDataFrame(
        {"_row": raw["_row"].to_numpy()}, geometry=raw.geometry.values, crs=raw.crs, index=raw.index
    )
    for col in ("_file", "_file_row"):
        if col in raw:
            df[col] = raw[col].to_numpy()
    present = [c for c in raw.columns if not c.startswith("_") and c != raw.geometry.name]
    for target in contract:
        source = spec.columns.get(target)
        if source is None and target in raw.columns:
            source = target
        if source is None:
            continue
        if source not in raw.columns:
            report.add(
                "error",
                "missing_column",
                f"columns.{target} = {source!r}, but the file has no such column; "
                f"columns present: {', '.join(present)}",
                column=source,
            )
            continue
        df[target] = raw[source].to_numpy()
        df["_source_" + target] = raw[source].to_numpy()
    unknown = sorted(set(spec.columns) - set(contract))
    for key in unknown:
        report.add(
            "error",
            "unknown_mapping",
            f"columns.{key}: {key!r} is not a field of this layer; allowed: {', '.join(contract)}",
            column=key,
        )
    return df


def _hazard_ids(df: gpd.GeoDataFrame, spec: HazardInput, report: ValidationReport) -> pd.Series:
    if "hazard_id" not in df:
        report.add(
            "warning",
            "generated_ids",
            "no hazard_id column mapped; ids made from the file name and row number "
            "('<file name>-<row in the file>'). Map `columns.hazard_id` to keep the "
            "register's own ids.",
        )
        if "_file" in df:  # several files: <file>-<row in that file>
            made = [f"{f}-{r}" for f, r in zip(df["_file"], df["_file_row"], strict=True)]
        else:
            made = [f"{Path(spec.path).stem}-{r}" for r in df["_row"]]
        return pd.Series(made, index=df.index, dtype=object)
    ids = df["hazard_id"].map(lambda v: None if pd.isna(v) else str(v).strip() or None)
    return ids.astype(object)


_STATUS_ALIASES = {
    "sha": "SHA",
    "cha": "CHA",
    "released": "released",
    "suspected": "SHA",
    "confirmed": "CHA",
}
_EVIDENCE_ALIASES = {e.value: e.value for e in Evidence}


def _map_codes(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    """Map status, evidence and contamination codes; collect every unknown code."""
    status_map = {k.lower(): v for k, v in _STATUS_ALIASES.items()}
    status_map.update({str(k).strip().lower(): v for k, v in spec.codes.get("status", {}).items()})
    evidence_map = dict(_EVIDENCE_ALIASES)
    evidence_map.update(
        {str(k).strip().lower(): v for k, v in spec.codes.get("evidence", {}).items()}
    )
    contam_map = {c.value.lower(): c.value for c in Contamination}
    contam_map.update({"erw": "UXO", "mine": "AP", "cm": "CMR", "cmr/ux0": "CMR"})
    contam_map.update(
        {str(k).strip().lower(): v for k, v in spec.codes.get("contamination", {}).items()}
    )
    for table, allowed in (
        (status_map, {s.value for s in Status}),
        (evidence_map, {e.value for e in Evidence}),
        (contam_map, {c.value for c in Contamination}),
    ):
        for key, value in table.items():
            if value not in allowed:
                report.add(
                    "error",
                    "bad_code_mapping",
                    f"codes maps {key!r} to {value!r}, which is not one of "
                    f"{', '.join(sorted(allowed))}",
                    value=str(value),
                )
    unknown: dict[tuple[str, str], list[tuple[int, str | None]]] = {}

    def lookup(col: str, table: dict[str, str], value, row: int, hid) -> str | None:
        key = str(value).strip().lower()
        if key in table:
            return table[key]
        unknown.setdefault((col, str(value)), []).append((row, hid))
        return None

    status, evidence, contamination = [], [], []
    has = {c: c in df for c in ("status", "evidence", "contamination")}
    for row, hid, st, ev, co in zip(
        df["_row"],
        df["hazard_id"],
        df["status"] if has["status"] else [None] * len(df),
        df["evidence"] if has["evidence"] else [None] * len(df),
        df["contamination"] if has["contamination"] else [None] * len(df),
        strict=True,
    ):
        if st is None or pd.isna(st) or str(st).strip() == "":
            st = spec.default_status
        s = None if st is None else lookup("status", status_map, st, row, hid)
        if st is None:
            unknown.setdefault(("status", "<empty>"), []).append((row, hid))
        status.append(s)
        if ev is None or pd.isna(ev) or str(ev).strip() == "":
            ev = spec.default_evidence
        if ev is None:
            evidence.append({"CHA": "direct", "SHA": "indirect"}.get(s, "none"))
        else:
            evidence.append(lookup("evidence", evidence_map, ev, row, hid))
        if co is None or pd.isna(co) or str(co).strip() == "":
            co = spec.default_contamination
        if co is None:
            unknown.setdefault(("contamination", "<empty>"), []).append((row, hid))
            contamination.append(None)
            continue
        parts = [p for p in str(co).replace(",", ";").replace("+", ";").split(";") if p.strip()]
        codes = [lookup("contamination", contam_map, p, row, hid) for p in parts]
        contamination.append(join_contamination(c for c in codes if c))
    for (col, value), where in sorted(unknown.items()):
        rows = ", ".join(str(r) for r, _ in where[:10]) + (" ..." if len(where) > 10 else "")
        source = spec.columns.get(col, col)
        if value == "<empty>":
            fix = f"fill it in, or set default_{col} for this input"
        else:
            fix = f'add it under [inputs.hazards.codes.{col}], e.g. "{value}" = "..."'
        report.add(
            "error",
            f"unknown_{col}",
            f"{len(where)} row(s) have {col} {value!r}, which is not a known code "
            f"(rows {rows}); {fix}",
            column=source,
            value=value,
            hazard_id=None if where[0][1] is None else str(where[0][1]),
            row=where[0][0],
        )
    df["status"] = status
    df["evidence"] = evidence
    df["contamination"] = contamination
    if "devices_found" in df:
        n = pd.to_numeric(df["devices_found"], errors="coerce")
        bad = n.isna() & df["devices_found"].notna() | (n < 0)
        for row, hid, value in zip(
            df["_row"][bad], df["hazard_id"][bad], df["devices_found"][bad], strict=True
        ):
            report.add(
                "error",
                "bad_devices_found",
                f"devices_found {value!r} is not a non-negative whole number; fix it or "
                "leave it empty (taken as 0)",
                row=int(row),
                hazard_id=hid,
                column=spec.columns.get("devices_found", "devices_found"),
                value=str(value),
            )
        df["devices_found"] = n.fillna(0).clip(lower=0).round().astype("int64")
    else:
        df["devices_found"] = 0
    for col, default in (("region", "unknown"), ("name", "")):
        if col in df:
            df[col] = df[col].map(lambda v, d=default: d if pd.isna(v) else str(v).strip() or d)
        else:
            df[col] = default
    return df


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


def _check_geometry(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    """Exclude null/empty/non-areal/out-of-area geometries, repair invalid polygons."""
    geoms = df.geometry.values.copy()
    keep = np.ones(len(df), dtype=bool)
    rows = df["_row"].to_numpy()
    ids = df["hazard_id"].to_numpy()
    null = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(null):
        report.add(
            "excluded",
            "null_geometry",
            "no geometry (null or empty); the area cannot be mapped. Digitise it or "
            "give its coordinates",
            row=int(rows[i]),
            hazard_id=ids[i],
        )
    keep &= ~null
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, [3, 6])
    pointlike = np.isin(kinds, [0, 4])
    for i in np.flatnonzero(keep & ~polygonal & ~pointlike):
        g = geoms[i]
        parts = polygonal_parts(g)
        if parts is not None and not parts.is_empty:
            geoms[i] = parts
            report.add(
                "repair",
                "polygon_parts_kept",
                f"{g.geom_type} holds lines or points besides polygons; only the polygon "
                "parts were kept",
                row=int(rows[i]),
                hazard_id=ids[i],
                value=g.geom_type,
            )
            continue
        keep[i] = False
        report.add(
            "excluded",
            "not_an_area",
            f"geometry is a {g.geom_type}, not a polygon or point; a hazardous area needs "
            "a polygon (buffer lines in your GIS to the surveyed width)",
            row=int(rows[i]),
            hazard_id=ids[i],
            value=g.geom_type,
        )
    invalid = keep & polygonal & ~shapely.is_valid(geoms)
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = polygonal_parts(shapely.make_valid(geoms[i]))
        if fixed is None or fixed.is_empty:
            keep[i] = False
            report.add(
                "excluded",
                "invalid_geometry",
                f"invalid polygon ({reason}) that cannot be repaired; redraw it",
                row=int(rows[i]),
                hazard_id=ids[i],
                value=reason,
            )
            continue
        geoms[i] = fixed
        report.add(
            "repair",
            "invalid_geometry",
            f"invalid polygon ({reason}) repaired with make_valid; check its outline",
            row=int(rows[i]),
            hazard_id=ids[i],
            value=reason,
        )
    df = df.copy()
    df.geometry.values[:] = geoms  # noqa: PD011 - a GeometryArray, not a numpy view
    return df.loc[keep]


def _check_area_of_use(
    df: gpd.GeoDataFrame,
    crss: list,
    report: ValidationReport,
    *,
    far_from_median_deg: float | None = None,
) -> gpd.GeoDataFrame:
    """Exclude rows lying outside the area of use of the source or the project CRS."""
    keep = np.ones(len(df), dtype=bool)
    geoms = df.geometry.values
    for crs in crss:
        if len(df) == 0:
            break
        out_of_area = _outside_area_of_use(geoms, df.crs, keep, against=CRS.from_user_input(crs))
        for i, (lon, lat, where) in out_of_area.items():
            keep[i] = False
            report.add(
                "excluded",
                "outside_area_of_use",
                f"coordinates (lon {lon:.4f}, lat {lat:.4f}) lie outside {where}; a "
                "flipped sign or swapped longitude/latitude? Fix the coordinates in the "
                "source, or set project.crs if the region really extends there",
                row=int(df["_row"].iloc[i]),
                hazard_id=df["hazard_id"].iloc[i],
                value=f"{lon:.5f},{lat:.5f}",
            )
    if far_from_median_deg is not None and keep.sum() > 2:
        far = _far_from_median(geoms, df.crs, keep, far_from_median_deg)
        if len(far) > max(1, _FAR_SHARE_MAX * keep.sum()):
            msg = (
                f"{report.source}: {len(far)} of {int(keep.sum())} rows lie more than "
                f"{far_from_median_deg:g} degrees from the register's median position: the "
                "register spans regions far apart (or many coordinates are wrong). Set "
                "project.crs to a CRS that covers the whole register."
            )
            raise ValidationError(msg, report)
        for i, (lon, lat, where) in far.items():
            keep[i] = False
            report.add(
                "excluded",
                "outside_area_of_use",
                f"coordinates (lon {lon:.4f}, lat {lat:.4f}) lie {where}; a flipped sign or "
                "swapped longitude/latitude? Fix the coordinates in the source, or set "
                "project.crs to a CRS covering the whole region",
                row=int(df["_row"].iloc[i]),
                hazard_id=df["hazard_id"].iloc[i],
                value=f"{lon:.5f},{lat:.5f}",
            )
    return df.loc[keep]


def _far_from_median(
    geoms: np.ndarray, crs, keep: np.ndarray, limit: float
) -> dict[int, tuple[float, float, str]]:
    """Rows whose representative point is more than ``limit`` degrees from the median one."""
    idx = np.flatnonzero(keep)
    pts = gpd.GeoSeries(shapely.point_on_surface(geoms[idx]), crs=crs).to_crs(4326)
    lon, lat = pts.x.to_numpy(), pts.y.to_numpy()
    mlon, mlat = float(np.median(lon)), float(np.median(lat))
    dlon = np.abs((lon - mlon + 180.0) % 360.0 - 180.0)
    far = (dlon > limit) | (np.abs(lat - mlat) > limit)
    where = (
        f"more than {limit:g} degrees from the register's median position "
        f"(lon {mlon:.2f}, lat {mlat:.2f})"
    )
    return {int(idx[j]): (float(lon[j]), float(lat[j]), where) for j in np.flatnonzero(far)}


def polygonal_parts(geom) -> shapely.Geometry | None:
    """The (multi)polygon made of a geometry's polygonal parts, or None if it has none."""
    if geom is None:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    if geom.geom_type == "GeometryCollection":
        polys = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
        if polys:
            return shapely.union_all(polys)
    return None


def _outside_area_of_use(
    geoms: np.ndarray,
    crs,
    keep: np.ndarray,
    *,
    against: CRS,
) -> dict[int, tuple[float, float, str]]:
    """Rows whose representative point lies outside ``against``'s area of use (+ a margin).

    ``geoms`` are in ``crs``; positions are compared in longitude/latitude.
    """
    crs = CRS.from_user_input(crs)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return {}
    pts = shapely.point_on_surface(geoms[idx])
    xs, ys = shapely.get_x(pts), shapely.get_y(pts)
    if crs.is_geographic:
        lon, lat = xs, ys
    else:
        lon, lat = (
            gpd.GeoSeries(pts, crs=crs)
            .to_crs(4326)
            .pipe(lambda s: (s.x.to_numpy(), s.y.to_numpy()))
        )
    out: dict[int, tuple[float, float, str]] = {}
    bad = ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lon) > 180) | (np.abs(lat) > 90)
    aou = against.area_of_use
    if aou is not None:
        m = _AREA_OF_USE_MARGIN_DEG
        w, s, e, n = aou.west - m, aou.south - m, aou.east + m, aou.north + m
        if aou.west > aou.east:  # crosses the antimeridian
            inside_lon = (lon >= w) | (lon <= e)
        else:
            inside_lon = (lon >= w) & (lon <= e)
        bad |= ~inside_lon | (lat < s) | (lat > n)
        where = (
            f"the area of use of {against.to_string()} ({aou.name.split('.')[0]}: lon "
            f"{aou.west}..{aou.east}, lat {aou.south}..{aou.north})"
        )
    else:
        where = "valid longitude/latitude"
    for j in np.flatnonzero(bad):
        out[int(idx[j])] = (float(lon[j]), float(lat[j]), where)
    return out


def _project_crs(df: gpd.GeoDataFrame, project_crs: str | None) -> CRS:
    if project_crs is not None:
        crs = CRS.from_user_input(project_crs)
        if crs.is_geographic:
            msg = (
                f"project.crs = {project_crs!r} is geographic (degrees); areas need a metric "
                "CRS. Use a projected CRS, e.g. the UTM zone of the region, or leave it out."
            )
            raise InputError(msg)
        return crs
    # The UTM zone of the median position: robust to a few stray coordinates.
    pts = gpd.GeoSeries(shapely.point_on_surface(df.geometry.values), crs=df.crs).to_crs(4326)
    lon, lat = float(np.median(pts.x)), float(np.median(pts.y))
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _points_to_areas(
    df: gpd.GeoDataFrame,
    spec: HazardInput,
    report: ValidationReport,
) -> gpd.GeoDataFrame:
    kinds = shapely.get_type_id(df.geometry.values)
    is_point = np.isin(kinds, [0, 4])
    df = df.copy()
    df["area_estimated"] = is_point
    if is_point.any():
        radius = float(np.sqrt(spec.point_area_m2 / np.pi))
        geoms = df.geometry.values.copy()
        # 32 segments per quarter: the circle's area is within 0.1 % of pi r^2.
        circles = shapely.buffer(shapely.centroid(geoms[is_point]), radius, quad_segs=32)
        geoms[is_point] = circles
        df.geometry.values[:] = geoms  # noqa: PD011
        report.add(
            "warning",
            "point_to_area",
            f"{int(is_point.sum())} point hazard(s) became circles of "
            f"{spec.point_area_m2:,.0f} m2 (inputs.hazards.point_area_m2); flagged in "
            "column area_estimated. Replace them by surveyed polygons when you have them",
            value=str(int(is_point.sum())),
        )
    return df


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
    df = df[[*cols, "geometry"]].sort_values("hazard_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=df.crs)


def _raise_empty(report: ValidationReport) -> None:
    excluded = len(report.of("excluded"))
    msg = (
        f"{report.source}: no usable rows: {report.rows_read} read, {report.rows_filtered} "
        f"left out by the `where` filter, {excluded} excluded (see the report). Check the "
        "filter values and the geometries."
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


def _default_context(col: str, kind: str):
    return {"int": 0, "str": None, "datetime64[ns]": pd.NaT}.get(kind)


def _coerce(values: pd.Series, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Convert a column to its contract type; return the values and a mask of bad ones."""
    present = values.notna().to_numpy()
    if kind == "int":
        n = pd.to_numeric(values, errors="coerce")
        bad = present & (n.isna().to_numpy() | (n.fillna(0) < 0).to_numpy())
        return n.fillna(0).clip(lower=0).round().astype("int64"), bad
    if kind.startswith("datetime"):
        d = pd.to_datetime(values.astype("string"), errors="coerce", format="mixed")
        blank = values.astype("string").str.strip().fillna("").eq("").to_numpy()
        bad = present & ~blank & d.isna().to_numpy()  # empty stays unknown; unreadable is bad
        return d.astype("datetime64[ns]"), bad
    s = values.map(lambda v: None if pd.isna(v) else str(v).strip() or None).astype(object)
    return s, np.zeros(len(values), dtype=bool)


# --------------------------------------------------------------------------------------------
# Helpers: writing


@contextlib.contextmanager
def _fixed_gpkg_time() -> Iterator[None]:
    """Make GDAL stamp GeoPackage metadata with a fixed time (reproducible files)."""
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def _for_file(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy fit for a file: categoricals and objects that are not text/numbers as text."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(str)
        elif s.dtype == object:
            out[col] = s.map(
                lambda v: v if v is None or isinstance(v, str | int | float) else str(v)
            )
    return out


def _write_layer_styles(
    path: Path, layers: dict[str, gpd.GeoDataFrame], styles: dict[str, str]
) -> None:
    """Store QML styles in the GeoPackage's ``layer_styles`` table (QGIS's own convention)."""
    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
            "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
            "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
            "update_time DATETIME)"
        )
        con.execute(
            "INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, "
            "description, last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'QGIS layer styles', ?)",
            (FIXED_TIMESTAMP,),
        )
        for name, qml in styles.items():
            geom_col = layers[name].geometry.name if name in layers else "geom"
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
                "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'ccm_geo', '', ?)",
                (
                    name,
                    "geom" if geom_col == "geometry" else geom_col,
                    name,
                    qml,
                    "written by ccm_geo",
                    FIXED_TIMESTAMP,
                ),
            )
        con.commit()
    finally:
        con.close()
