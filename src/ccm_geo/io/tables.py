"""Tables: registers kept as spreadsheets (.xlsx, .ods) or delimited text (any delimiter).

Every cell is read as text (codes such as ``08`` keep their leading zero; blank cells are
missing, never 0); :func:`ccm_geo.io.read.read_vector` then builds the geometry from a WKT
column or from coordinate columns.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ccm_geo.errors import InputError

__all__ = ["TABLE_SUFFIXES", "read_table", "sniff_delimiter"]

#: File suffixes read as tables (then given a geometry from their columns).
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".ods"})

_DELIMITERS = ",;\t|"


def read_table(path: str | Path, *, sheet: str | None = None) -> pd.DataFrame:
    """Read a delimited text file or a spreadsheet's sheet, every cell as text.

    Parameters
    ----------
    path
        ``.csv``/``.tsv``/``.txt`` (UTF-8; the delimiter, one of ``, ; tab |``, is detected
        from the header), ``.xlsx``/``.xlsm`` (openpyxl) or ``.ods`` (odfpy).
    sheet
        A spreadsheet's sheet; default: the first.

    Raises
    ------
    InputError
        The file cannot be read as a table; the message says why and what to do.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in {".xlsx", ".xlsm", ".ods"}:
        return _read_sheet(path, sheet)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            head = fh.read(64_000)
        sep = sniff_delimiter(head)
        df = pd.read_csv(
            path,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
        )
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        msg = f"{path}: cannot be read as a UTF-8 CSV table ({_first_line(exc)})."
        raise InputError(msg) from exc
    except pd.errors.EmptyDataError as exc:
        msg = f"{path}: the CSV file has no header and no rows."
        raise InputError(msg) from exc
    df.columns = [str(c).strip() for c in df.columns]
    return df


def sniff_delimiter(head: str) -> str:
    """The delimiter of a delimited text: the one of ``, ; tab |`` that splits the header into
    the most fields and the next lines into as many (``,`` when none does)."""
    lines = [ln for ln in head.splitlines() if ln.strip()][:20]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    best, fields = ",", 1
    for d in _DELIMITERS:
        n = len(next(csv.reader([lines[0]], delimiter=d)))
        if n > fields:
            best, fields = d, n
    return best


def _read_sheet(path: Path, sheet: str | None) -> pd.DataFrame:
    engine = "odf" if path.suffix.lower() == ".ods" else "openpyxl"
    try:
        df = pd.read_excel(
            path,
            sheet_name=sheet or 0,
            dtype=object,
            engine=engine,
            keep_default_na=False,  # "None", "NA" and "null" are values (codes), not blanks
            na_values=[""],
        )
    except ImportError as exc:
        package = "odfpy" if engine == "odf" else "openpyxl"
        msg = (
            f"{path}: reading {path.suffix} needs the package {package}; install it with "
            f"`pip install {package}` (it comes with `pip install ccm-geo`)."
        )
        raise InputError(msg) from exc
    except ValueError as exc:  # unknown sheet
        msg = f"{path}: {_first_line(exc)}. Give the sheet's name as `layer` for this input."
        raise InputError(msg) from exc
    except Exception as exc:  # noqa: BLE001 - zip/xml errors of many kinds
        msg = f"{path}: not a readable spreadsheet ({_first_line(exc)}). Save it again."
        raise InputError(msg) from exc
    df.columns = [str(c).strip() for c in df.columns]
    df = df.dropna(how="all")
    return df.map(_cell).astype(object)


def _cell(value):
    """A spreadsheet cell as text (None when blank); whole floats without their ``.0``, dates
    in ISO 8601."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:10] if text.endswith("T00:00:00") else text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
