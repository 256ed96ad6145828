"""Reading: vector and raster formats, and the mapping of a user's columns and codes.

Nothing here decides whether a row is usable: the checks live in :mod:`ccm_geo.io.validate`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from ccm_geo.config import HazardInput, LayerInput
from ccm_geo.errors import InputError, InputFileNotFoundError
from ccm_geo.io.osm import is_osm, read_osm
from ccm_geo.io.tables import TABLE_SUFFIXES, read_table
from ccm_geo.model import Contamination, Evidence, Status, ValidationReport, join_contamination

__all__ = ["read_vector", "read_input", "read_gpkg", "polygonal_parts"]

logger = logging.getLogger(__name__)

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
    ".gdb",  # Esri File Geodatabase (a folder), GDAL's OpenFileGDB driver
    ".osm.pbf",  # OpenStreetMap extract: roads, places, health (ccm_geo.io.osm)
    *TABLE_SUFFIXES,
}
# How far (degrees) a geometry may lie outside the CRS's published area of use before it is


# --------------------------------------------------------------------------------------------
# Public: reading


def read_input(spec: LayerInput) -> gpd.GeoDataFrame:
    """An input as read: from its file, or from PostGIS (``ccm_geo.postgis``)."""
    if spec.postgis is not None:
        from ccm_geo.postgis import read_postgis

        return read_postgis(spec.postgis, crs=spec.crs)
    return read_vector(spec.path, layer=spec.layer, crs=spec.crs, x=spec.x, y=spec.y, wkt=spec.wkt)


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
    if is_osm(path):  # an OpenStreetMap extract: roads, places or health sites
        gdf = read_osm(path, layer)
    elif path.suffix.lower() in TABLE_SUFFIXES:  # spreadsheets and delimited text
        gdf = _read_csv(path, x=x, y=y, wkt=wkt, sheet=layer)
    elif path.suffix.lower() in {".parquet", ".geoparquet"}:
        try:
            gdf = gpd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many kinds
            msg = f"{path}: not a readable GeoParquet file ({exc}). Export it again as GeoParquet."
            raise InputError(msg) from exc
    else:
        try:
            # a GeoPackage through Arrow: a few times faster, the same frame
            arrow = path.suffix.lower() == ".gpkg"
            gdf = pyogrio.read_dataframe(path, layer=layer, use_arrow=arrow)
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


def read_gpkg(path: str | Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage this tool wrote (a previous stage's output)."""
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: not found; run the previous stage first (or `ccm-geo run`)."
        raise InputFileNotFoundError(msg)
    # through Arrow: the same frame as feature by feature, a few times faster at 10^5 rows
    return pyogrio.read_dataframe(path, layer=layer, use_arrow=True)


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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_csv(
    path: Path, *, x: str | None, y: str | None, wkt: str | None, sheet: str | None = None
) -> gpd.GeoDataFrame:
    df = read_table(path, sheet=sheet)
    if wkt is None and x is None:
        x, y, wkt = geometry_columns(df.columns)
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
        gdf = gpd.GeoDataFrame(df.drop(columns=[wkt]), geometry=geoms)
        gdf.attrs["geometry_from"] = {"wkt": wkt}
        return gdf
    if x is None or y is None or x not in df or y not in df:
        msg = (
            f"{path}: a table needs a WKT column or two coordinate columns; none found "
            f'(columns: {", ".join(df.columns)}). Set `wkt = "..."` or `x`/`y` for this '
            "input in the project file."
        )
        raise InputError(msg)
    xs = pd.to_numeric(df[x], errors="coerce")
    ys = pd.to_numeric(df[y], errors="coerce")
    geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
    geoms[xs.isna().to_numpy() | ys.isna().to_numpy()] = None
    gdf = gpd.GeoDataFrame(df, geometry=geoms)
    gdf.attrs["geometry_from"] = {"x": x, "y": y}
    return gdf


#: Column names (lower case, accents removed) taken for a table's geometry, best first.
_WKT_NAMES = ("wkt", "geometry", "geom", "geometria", "geometrie", "shape", "the_geom")
_X_NAMES = ("lon", "longitude", "long", "lng", "longitud", "x", "easting", "este", "x_coord",
            "coord_x", "utm_x", "xcoord", "point_x")  # fmt: skip
_Y_NAMES = ("lat", "latitude", "latitud", "y", "northing", "norte", "y_coord", "coord_y",
            "utm_y", "ycoord", "point_y")  # fmt: skip


def geometry_columns(columns) -> tuple[str | None, str | None, str | None]:
    """The (x, y, wkt) columns of a table, guessed from their names in English, French,
    Spanish and Portuguese; ``(None, None, None)`` when none fit."""
    import re
    import unicodedata

    def norm(c) -> str:
        text = unicodedata.normalize("NFKD", str(c)).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")

    names = {norm(c): c for c in reversed(list(columns))}
    wkt = next((names[n] for n in _WKT_NAMES if n in names), None)
    if wkt is None:
        wkt = next((c for n, c in names.items() if "wkt" in n.split("_")), None)
    if wkt is not None:
        return None, None, wkt
    x = next((names[n] for n in _X_NAMES if n in names), None)
    y = next((names[n] for n in _Y_NAMES if n in names), None)
    return (x, y, None) if x is not None and y is not None else (None, None, None)


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
            spec.label,
            keep.sum(),
            len(raw),
            col,
            allowed,
        )
        raw = raw.loc[keep]
    report.rows_filtered = report.rows_read - len(raw)
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
            stem = Path(spec.path).stem if spec.path else spec.postgis.table or "query"
            made = [f"{stem}-{r}" for r in df["_row"]]
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
    for table, allowed, multi in (
        (status_map, {s.value for s in Status}, False),
        (evidence_map, {e.value for e in Evidence}, False),
        (contam_map, {c.value for c in Contamination}, True),
    ):
        for key, value in table.items():
            parts = [p.strip() for p in str(value).split(";")] if multi else [value]
            if not all(p in allowed for p in parts) or not parts:
                report.add(
                    "error",
                    "bad_code_mapping",
                    f"codes maps {key!r} to {value!r}, which is not one of "
                    f"{', '.join(sorted(allowed))}",
                    value=str(value),
                )
    n = len(df)
    rows, hids = df["_row"].to_numpy(), df["hazard_id"].to_numpy()
    # Each distinct code text is looked up once (a register has a handful of them), then
    # spread over its rows; `places` lists, per unknown code, the rows that hold it (a row
    # once per time it holds it), reported in row order.
    places: dict[tuple[str, str], list[np.ndarray]] = {}
    filled = {"status": 0, "evidence": 0, "contamination": 0}

    def distinct(col: str) -> tuple[np.ndarray, list[str]]:
        """Index of each row's text in a table of texts; a blank cell takes the column's
        default (counted in ``filled``); -1 where neither gives one."""
        index, texts = _distinct_texts(df.get(col), n)
        default = getattr(spec, f"default_{col}")
        blank = index < 0
        if default is not None and blank.any():
            filled[col] += int(blank.sum())
            texts.append(str(default))
            index[blank] = len(texts) - 1
        return index, texts

    def spread(col: str, index: np.ndarray, texts: list, table: dict[str, str]) -> np.ndarray:
        """Each row's mapped code (None where unknown, noted in ``places``)."""
        mapped = [table.get(t.strip().lower()) for t in texts]
        at = None  # each text's rows, found once when a text is unknown
        for k, (t, m) in enumerate(zip(texts, mapped, strict=True)):
            if m is None:
                at = _rows_by_code(index, len(texts)) if at is None else at
                places.setdefault((col, t), []).append(at[k])
        return np.array([*mapped, None], dtype=object)[index]  # -1: the trailing None

    s_index, s_texts = distinct("status")
    status = spread("status", s_index, s_texts, status_map)
    if (s_index < 0).any():
        places.setdefault(("status", "<empty>"), []).append(np.flatnonzero(s_index < 0))
    e_index, e_texts = distinct("evidence")
    evidence = spread("evidence", e_index, e_texts, evidence_map)
    by_status = e_index < 0
    from_status = int(by_status.sum())
    evidence[by_status] = [
        {"CHA": "direct", "SHA": "indirect"}.get(v, "none") for v in status[by_status]
    ]
    c_index, c_texts = distinct("contamination")
    c_codes = []
    c_at = None  # each text's rows, found once when a part is unknown
    for k, text in enumerate(c_texts):
        codes = []
        for part in _contamination_parts(text, contam_map):
            code = contam_map.get(str(part).strip().lower())
            if code is None:
                c_at = _rows_by_code(c_index, len(c_texts)) if c_at is None else c_at
                places.setdefault(("contamination", str(part)), []).append(c_at[k])
            codes.append(code)
        # a code may map onto several types ("Suspected Minefield" = "AP;AT")
        c_codes.append(join_contamination(p for c in codes if c for p in c.split(";") if p))
    contamination = np.array([*c_codes, None], dtype=object)[c_index]
    if (c_index < 0).any():
        places.setdefault(("contamination", "<empty>"), []).append(np.flatnonzero(c_index < 0))
    unknown: dict[tuple[str, str], list[tuple[int, str | None]]] = {}
    for key, parts in places.items():
        at = np.sort(np.concatenate(parts), kind="stable")
        if len(at) == 0:  # a blank text: its rows took the default (or "<empty>")
            continue
        unknown[key] = [(int(rows[i]), hids[i]) for i in at]
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
    df["status"] = status.tolist()
    df["evidence"] = evidence.tolist()
    df["contamination"] = contamination.tolist()
    for col, n_filled in filled.items():
        if n_filled:
            report.add(
                "warning",
                f"default_{col}",
                f"{col}: {n_filled:,} row(s) give none; set to default_{col} = "
                f"{getattr(spec, 'default_' + col)!r} (inputs.hazards.default_{col})",
                column=spec.columns.get(col, col),
                value=str(n_filled),
            )
    if from_status:
        report.add(
            "warning",
            "evidence_from_status",
            f"evidence: {from_status:,} row(s) give none; assumed from the status (CHA: "
            "direct, SHA: indirect, released: none). Map columns.evidence, or set "
            "default_evidence, to say what the register knows",
            column=spec.columns.get("evidence", "evidence"),
            value=str(from_status),
        )
    if "devices_found" in df:
        n, bad = parse_counts(df["devices_found"])
        for row, hid, value in zip(
            df["_row"][bad], df["hazard_id"][bad], df["devices_found"][bad], strict=True
        ):
            report.add(
                "error",
                "bad_devices_found",
                f"devices_found {value!r} is not a non-negative whole number; fix it, or "
                "leave it empty when the count is unknown (no data)",
                row=int(row),
                hazard_id=hid,
                column=spec.columns.get("devices_found", "devices_found"),
                value=str(value),
            )
        df["devices_found"] = n.where(~bad)
    else:
        df["devices_found"] = np.nan
    for col, default in (("region", "unknown"), ("name", "")):
        if col in df and len(df):  # the texts as map() would give them, once per distinct one
            df[col] = pd.Series(stripped_texts(df[col], default), index=df.index)
        elif col in df:
            df[col] = df[col].map(lambda v, d=default: d if pd.isna(v) else str(v).strip() or d)
        else:
            df[col] = default
    return df


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


def parse_counts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Counts as float (NaN where empty) and a mask of values that are not a count.

    A count is a finite, non-negative whole number: ``"many"``, ``-1``, ``2.5`` and ``inf`` are
    not (nothing is rounded or clipped). Empty cells are no data, not 0.
    """
    blank = np.fromiter((_is_blank(v) for v in values), dtype=bool, count=len(values))
    text = pd.Series(values.to_numpy(dtype=object), index=values.index)
    n = pd.to_numeric(text.where(~blank), errors="coerce").astype("float64")
    arr = n.to_numpy()
    with np.errstate(invalid="ignore"):
        good = np.isfinite(arr) & (arr >= 0) & (np.floor(arr) == arr)
    bad = ~blank & ~good
    return pd.Series(np.where(good, arr, np.nan), index=values.index), bad


def parse_dates(
    values: pd.Series, date_format: str | None
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Calendar dates, a mask of values that are not dates, and a mask of bare years.

    ISO 8601 only (``2026-01-05``, with or without a time) unless ``date_format`` gives a
    strftime pattern: ``05/01/2026`` is never guessed. A bare year (``2004``: registers that
    record only the year) is read as 1 July of that year, the middle of the year, and marked.
    """
    text = values.map(
        lambda v: (
            None
            if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v))
            else (v.isoformat() if hasattr(v, "isoformat") else str(v).strip()) or None
        )
    )
    blank = text.isna().to_numpy()
    year = text.str.fullmatch(r"\d{4}").fillna(False).to_numpy(dtype=bool)
    parse = text.where(~year)
    if date_format is None:
        d = pd.to_datetime(parse, errors="coerce", format="ISO8601", utc=True)
    else:
        d = pd.to_datetime(parse, errors="coerce", format=date_format, utc=True)
    d = d.dt.tz_localize(None).dt.normalize()
    if year.any():
        d[year] = pd.to_datetime(text[year] + "-07-01", format="%Y-%m-%d")
    bad = ~blank & d.isna().to_numpy()
    return d.astype("datetime64[ns]"), bad, year


def read_raster(path: str | Path) -> dict:
    """Open a raster (land cover) and return its CRS and bounds; one-line errors otherwise.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    InputError
        The file is not a raster GDAL can read, or it declares no CRS.
    """
    import rasterio
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: land cover raster not found (inputs.landcover.path)."
        raise InputFileNotFoundError(msg)
    try:
        with rasterio.open(path) as ds:
            info = {"crs": ds.crs, "bounds": tuple(ds.bounds), "count": ds.count}
    except RasterioIOError as exc:
        msg = (
            f"{path}: not a raster GDAL can read ({_first_line(exc)}). Give a GeoTIFF (or "
            "another raster format) of land-cover class codes (inputs.landcover.path)."
        )
        raise InputError(msg) from exc
    if info["crs"] is None:
        msg = (
            f"{path}: the raster declares no coordinate reference system; assign it in your "
            "GIS (e.g. gdal_edit.py -a_srs EPSG:...) and export it again."
        )
        raise InputError(msg)
    return info


def str_cells(cells: np.ndarray, dtype) -> np.ndarray:
    """``str(v)`` of each cell (an object array without missing values); the cells as they
    are when ``dtype`` (the column's) is pandas' text dtype, whose cells are ``str`` already."""
    if isinstance(dtype, pd.StringDtype):
        return cells
    return np.array([str(v) for v in cells], dtype=object)


def _rows_by_code(index: np.ndarray, size: int) -> list[np.ndarray]:
    """The rows (ascending) of each code ``0 .. size - 1`` in ``index`` (-1: none), in one sort:
    a register whose column is free text has as many codes as rows."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(size + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(size)]


def _distinct_texts(values: pd.Series | None, n: int) -> tuple[np.ndarray, list[str]]:
    """The distinct texts (``str(value)``) of a column and each row's index among them; -1
    for a blank cell (null, NaN, NA, or only spaces), as :func:`_is_blank` says."""
    index = np.full(n, -1, dtype=np.int64)
    if values is None:
        return index, []
    cells = values.to_numpy(dtype=object)
    given = ~pd.isna(cells)
    codes, texts = pd.factorize(str_cells(cells[given], values.dtype))
    texts = [str(t) for t in texts]
    keep = np.array([bool(t.strip()) for t in texts] + [False], dtype=bool)
    index[given] = np.where(keep[codes], codes, -1)
    return index, texts


def stripped_texts(values: pd.Series, default=None) -> list:
    """``default if pd.isna(v) else str(v).strip() or default`` for each value, computed once
    per distinct text."""
    index, texts = _distinct_texts(values, len(values))
    return np.array([t.strip() for t in texts] + [default], dtype=object)[index].tolist()


def _is_blank(value) -> bool:
    """A cell that gives no value: null, NaN, NA, NaT, or only spaces."""
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _contamination_parts(value, table: dict[str, str]) -> list[str]:
    """Split a contamination cell into codes: the whole cell when it is a known code (so a
    mapped label may hold ``;`` or ``,``), else its parts separated by ``;``, ``,`` or ``+``."""
    text = str(value).strip()
    if text.lower() in table:
        return [text]
    return [p for p in text.replace(",", ";").replace("+", ";").split(";") if p.strip()]
