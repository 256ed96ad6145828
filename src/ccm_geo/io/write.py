"""Writing: every output is written atomically, reproducibly, and safe to open in a spreadsheet.

A write goes to a temporary file beside its target (named ``.ccm-tmp-*``) and is renamed onto
the target only when complete; :func:`remove_temporaries` clears what a killed run left behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

__all__ = [
    "FIXED_TIMESTAMP",
    "TEMP_PREFIX",
    "atomic_output",
    "write_gpkg",
    "write_csv",
    "write_text",
    "remove_temporaries",
]

#: Timestamp written into GeoPackage metadata so that identical runs give identical files.
FIXED_TIMESTAMP = "2000-01-01T00:00:00.000Z"
#: Name prefix of every temporary file or folder this tool creates in an output folder.
TEMP_PREFIX = ".ccm-tmp-"


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    A failed write leaves no half-written file and never replaces a good output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{os.getpid()}-{path.stem}.", suffix=path.suffix, dir=path.parent
    )
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
            out, arrow = _for_file(gdf)
            pyogrio.write_dataframe(
                out, tmp, layer=name, driver="GPKG", SPATIAL_INDEX="YES", use_arrow=arrow
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
        if not _write_csv_rows(out, tmp):
            out.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


def _write_csv_rows(df: pd.DataFrame, path: Path) -> bool:
    """Write ``df`` as ``df.to_csv(path, index=False, encoding="utf-8-sig",
    lineterminator="\\n")`` does, byte for byte, several times faster; False (nothing
    written) for a frame it does not handle (fewer than two columns, labels that are not
    unique text), which then goes through ``to_csv``.

    pandas turns each block of rows into text cells (``_get_values_for_csv``, the very call
    ``to_csv`` makes, on the same blocks) and hands them to the ``csv`` module one row at a
    time. Here the rows are joined with ``","`` instead; only the rare cells holding a
    character the ``csv`` module quotes or escapes (``,``, ``"``, a line break, NUL) are
    formatted by the ``csv`` module itself, as a field of a row, so quoting is its own.
    """
    import csv
    import io

    from pandas._libs import lib
    from pandas.io.formats import csvs

    labels = list(df.columns)
    chunk_cells = getattr(csvs, "_DEFAULT_CHUNKSIZE_CELLS", None)
    if (
        len(labels) < 2  # the csv module writes a row of one empty field as ""
        or not all(isinstance(c, str) for c in labels)
        or len(set(labels)) != len(labels)
        or chunk_cells is None
        or not hasattr(df, "_get_values_for_csv")
        or not hasattr(lib, "is_string_array")
    ):
        return False
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)

    def quoted(cell: str) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell, ""])
        return buffer.getvalue()[:-2]  # without the second, empty field's "," and the "\n"

    def texts(values) -> list[str]:
        values = np.asarray(values, dtype=object)
        if lib.is_string_array(values, skipna=False):  # all text already (most columns)
            cells = values.tolist()
        else:  # as the csv module writes other objects: None empty, the rest str()
            cells = [v if type(v) is str else "" if v is None else str(v) for v in values]
        joined = "".join(cells)
        if any(ch in joined for ch in _CSV_SPECIAL):
            cells = [
                quote(c) if "," in c or '"' in c or "\n" in c or "\r" in c or "\x00" in c else c
                for c in cells
            ]
        return cells

    def quote(cell: str) -> str:
        # a "," or '"' only: the csv module's own quoting (wrapped, quotes doubled) at once;
        # line breaks and NUL through the module itself (a plan's assumption texts all hold
        # a ",": 230,000 cells at national scale)
        if "\n" in cell or "\r" in cell or "\x00" in cell:
            return quoted(cell)
        return '"' + cell.replace('"', '""') + '"'

    rows = (chunk_cells // len(labels)) or 1  # pandas' blocks: a cell's text may depend on them
    number_format = {
        "float_format": None,
        "date_format": None,
        "decimal": ".",
        "na_rep": "",
        "quoting": csv.QUOTE_MINIMAL,
    }
    # float64 columns: pandas writes str() of each value (the shortest text that reads back
    # the same, as Python's repr), empty for NaN; computed once per distinct value here
    floats = {
        j: _float_texts(df.iloc[:, j].to_numpy())
        for j, dtype in enumerate(df.dtypes)
        if isinstance(dtype, np.dtype) and dtype == np.float64
    }
    others = [j for j in range(len(labels)) if j not in floats]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        f.write(",".join(texts(labels)) + "\n")
        for start in range(0, len(df), rows):
            end = min(len(df), start + rows)
            columns: list = [None] * len(labels)
            if others:
                part = df.iloc[start:end, others]._get_values_for_csv(**number_format)
                for j, values in zip(others, part._iter_column_arrays(), strict=True):
                    columns[j] = texts(values)
            for j, (uniq, inverse) in floats.items():
                columns[j] = uniq[inverse[start:end]].tolist()
            f.write("".join(f"{line}\n" for line in map(",".join, zip(*columns, strict=True))))
    return True


def _float_texts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CSV text of each distinct float64 (by bit pattern, so -0.0 stays "-0.0"): ``repr``,
    what numpy's ``astype(str)`` gives (pandas' own route), "" for NaN; and each row's index."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    inverse, bits = pd.factorize(values.view(np.int64))  # hashed: no sort
    uniq = np.array(
        ["" if v != v else repr(v) for v in bits.view(np.float64).tolist()] or [""],
        dtype=object,
    )
    return uniq, inverse.reshape(-1)


#: Characters that make the ``csv`` module quote (or refuse) a field, and a few more.
_CSV_SPECIAL = (",", '"', "\n", "\r", "\x00")


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Remove every temporary file or folder (``.ccm-tmp-*``) an earlier, killed run left in
    ``folder`` or below it; return what was removed.

    Only names this tool creates are touched: :data:`TEMP_PREFIX` is not a name a user gives.
    Each name carries the id of the process that made it; those of a process still running
    (another run writing into the same folder) are left alone.
    """
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = sorted(folder.rglob(f"{TEMP_PREFIX}*"), key=lambda p: len(p.parts))
    removed = []
    for p in found:
        if not p.exists() and not p.is_symlink():
            continue  # inside a temporary folder removed just before
        if _owner_running(p.name):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _owner_running(name: str) -> bool:
    """True when the temporary ``name`` was made by another process that is still running."""
    import re

    m = re.match(rf"^{re.escape(TEMP_PREFIX)}(?:[a-z]+-)?(\d+)(?:-|$)", name)
    if m is None:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    return True


def _csv_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe, the
    spreadsheet convention for 'this is text': text starting with ``=``, ``+``, ``@``, a tab or
    a carriage return, and text starting with ``-`` that is not a plain number (``-12.5``
    stays a number; ``-2+3`` or ``-cmd|...`` is escaped)."""
    if not isinstance(value, str) or not value:
        return value
    first = value[0]
    if first in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    if first == "-" and len(value) > 1 and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text.lower().lstrip("-+") not in ("inf", "nan", "infinity")


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


def _for_file(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, bool]:
    """A copy fit for a file (categoricals, and objects that are not text or numbers, as
    text), and whether GDAL can take it through Arrow (several times faster for 10^5 rows,
    and the same file byte for byte): every attribute column a number, a boolean, a
    datetime, or text (object columns only of text and None); others go row by row. A column
    is looked at once, a converted one again."""
    out = gdf.copy()
    arrow = True
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = s.astype(str)  # text only: Arrow takes it
            continue
        kind = _text_kind(s) if s.dtype == object else None
        if kind == "other":
            s = out[col] = s.map(
                lambda v: v if v is None or isinstance(v, str | int | float) else str(v)
            )
            kind = _text_kind(s) if s.dtype == object else None  # may be numbers now
        if kind is not None:
            arrow = arrow and kind == "text"
        elif not _arrow_dtype(s.dtype):
            arrow = False
    return out, arrow


def _arrow_dtype(dtype) -> bool:
    """A non-object column GDAL takes through Arrow: text, boolean, number or datetime."""
    return (
        pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_dtype(dtype)
    )


def _text_kind(s: pd.Series) -> str:
    """What an object column holds, checked without a Python call per cell: ``"text"`` (text
    and None only), ``"text_nan"`` (text, None and float NaN: kept as they are, but not for
    Arrow) or ``"other"``."""
    values = s.to_numpy()
    missing = pd.isna(values)
    if pd.api.types.infer_dtype(values[~missing], skipna=False) not in ("string", "empty"):
        return "other"
    rest = values[missing]
    if all(v is None for v in rest):
        return "text"
    return "text_nan" if all(v is None or isinstance(v, float) for v in rest) else "other"


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
