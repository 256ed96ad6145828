"""The data contract: codes, required columns, context layers, and the validation report."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "Status",
    "Contamination",
    "Evidence",
    "CMR_TYPES",
    "MINE_TYPES",
    "HAZARD_COLUMNS",
    "CONTEXT_COLUMNS",
    "CONTEXT_GEOMETRY",
    "LANDCOVER_CLASSES",
    "Context",
    "Issue",
    "ValidationReport",
    "split_contamination",
    "join_contamination",
    "area_summary",
]


class Status(StrEnum):
    """Survey status of a hazardous area (IMAS 07.11)."""

    SHA = "SHA"  # suspected hazardous area: indirect evidence
    CHA = "CHA"  # confirmed hazardous area: direct evidence
    RELEASED = "released"


class Contamination(StrEnum):
    """Contamination types. CMR serves the CCM; AP (and AT) the Mine Ban Convention."""

    CMR = "CMR"
    AP = "AP"
    AT = "AT"
    UXO = "UXO"
    IED = "IED"


class Evidence(StrEnum):
    """IMSMA's 'Evidence of Contamination'."""

    DIRECT = "direct"
    INDIRECT = "indirect"
    NONE = "none"


#: Types reported under the Convention on Cluster Munitions (Article 4 / Article 7 Form F).
CMR_TYPES = frozenset({Contamination.CMR})
#: Types reported under the Mine Ban Convention (APMBC Article 5) and mine action generally.
MINE_TYPES = frozenset({Contamination.AP, Contamination.AT})

#: The standard land-cover classes (raster value -> class name): the default class table of
#: ``[inputs.landcover]``, the demo's raster, and the names the default scoring reads.
LANDCOVER_CLASSES: dict[int, str] = {
    1: "forest",
    2: "cropland",
    3: "paddy",
    4: "settlement",
    5: "water",
    6: "shrub",
    7: "bare",
}

#: Hazard columns after loading: name -> (dtype kind, required in the input after mapping).
HAZARD_COLUMNS: dict[str, tuple[str, bool]] = {
    "hazard_id": ("str", True),
    "status": ("str", True),
    "contamination": ("str", True),  # ';'-joined sorted codes, e.g. "AP;CMR"
    "evidence": ("str", False),  # when not given: direct for CHA, indirect for SHA (reported)
    "devices_found": ("float", False),  # NaN where the register gives no count (no data)
    "region": ("str", False),  # default: from admin boundaries, else "unknown"
    "name": ("str", False),
    "area_m2": ("float", False),  # always recomputed in the metric CRS
    "area_estimated": ("bool", False),  # True where a point became an estimated-area circle
}

#: Context layers after loading: layer -> columns (besides geometry). A ``count`` is a
#: non-negative whole number stored as float, NaN where the input gives none (no data).
CONTEXT_COLUMNS: dict[str, dict[str, str]] = {
    # points; date is a calendar date; device_type a Contamination code;
    # survivor_settlement_id: the settlement_id of the survivors' home village (may be null)
    "accidents": {
        "accident_id": "str",
        "date": "datetime64[ns]",
        "killed": "count",
        "injured": "count",
        "device_type": "str",
        "survivor_settlement_id": "str",
    },
    "settlements": {"settlement_id": "str", "name": "str", "population": "count"},  # points
    "health": {"facility_id": "str", "name": "str"},  # points
    "roads": {"road_id": "str", "road_class": "str"},  # lines
    "admin": {"region": "str"},  # polygons
}


#: The geometry each context layer must have (its family: multi-part forms are accepted).
CONTEXT_GEOMETRY: dict[str, str] = {
    "accidents": "Point",
    "settlements": "Point",
    "health": "Point",
    "roads": "LineString",
    "admin": "Polygon",
}


@dataclass(frozen=True)
class Context:
    """Context layers in the project's metric CRS; any may be absent (None).

    Criteria take what they need from here; the land-cover raster is passed as a path and its
    class table, and opened (by window) by the criterion that reads it.
    """

    crs: str
    accidents: gpd.GeoDataFrame | None = None
    settlements: gpd.GeoDataFrame | None = None
    health: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    admin: gpd.GeoDataFrame | None = None
    landcover_path: Path | None = None
    landcover_classes: dict[int, str] = field(default_factory=dict)


Level = Literal["error", "warning", "repair", "excluded"]


@dataclass(frozen=True)
class Issue:
    """One finding of validation, about one row (or the whole file when row is None)."""

    level: Level
    code: str  # short machine-readable kind, e.g. "invalid_geometry"
    message: str  # what was found and what to do
    hazard_id: str | None = None
    row: int | None = None  # 1-based row (feature) number in the source file
    column: str | None = None
    value: str | None = None


@dataclass
class ValidationReport:
    """What validation found: errors (fatal), warnings, repairs made, rows excluded."""

    source: str
    rows_read: int = 0
    rows_kept: int = 0
    rows_filtered: int = 0  # left out on purpose by the input's `where` filter
    issues: list[Issue] = field(default_factory=list)
    #: Per contract column: how many kept rows give no value, of how many, and what stands in
    #: for the missing values ("no data" unless a documented convention applies).
    missing: dict[str, dict] = field(default_factory=dict)

    def add(self, level: Level, code: str, message: str, **where) -> None:
        self.issues.append(Issue(level, code, message, **where))

    def count_missing(
        self,
        column: str,
        n_missing: int,
        n_rows: int,
        *,
        noun: str = "rows",
        assumed: str = "no data (NaN): each criterion's `missing` policy decides",
        source_column: str | None = None,
    ) -> None:
        """Record that ``n_missing`` of ``n_rows`` rows give no ``column`` value (reported as a
        ``missing_values`` warning when any does, and in :meth:`missing_lines`)."""
        self.missing[column] = {
            "missing": int(n_missing),
            "rows": int(n_rows),
            "noun": noun,
            "assumed": assumed,
        }
        if n_missing:
            self.add(
                "warning",
                "missing_values",
                f"{column}: {n_missing:,} of {n_rows:,} {noun} have none; taken as {assumed}",
                column=source_column or column,
                value=str(int(n_missing)),
            )

    def missing_lines(self) -> list[str]:
        """One line per column with missing values, e.g. ``population: 7,886 of 8,277
        settlements have none (no data ...)``."""
        return [
            f"{col}: {m['missing']:,} of {m['rows']:,} {m['noun']} have none; {m['assumed']}"
            for col, m in self.missing.items()
            if m["missing"]
        ]

    def of(self, level: Level) -> list[Issue]:
        return [i for i in self.issues if i.level == level]

    @property
    def ok(self) -> bool:
        """True when nothing fatal was found."""
        return not self.of("error")

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.issues:
            out[f"{i.level}:{i.code}"] = out.get(f"{i.level}:{i.code}", 0) + 1
        return dict(sorted(out.items()))

    def to_records(self) -> list[dict]:
        return [
            {
                "level": i.level,
                "code": i.code,
                "hazard_id": i.hazard_id,
                "row": i.row,
                "column": i.column,
                "value": i.value,
                "message": i.message,
            }
            for i in self.issues
        ]

    def summary(self) -> str:
        """A short text: rows read and kept, then one line per issue."""
        lines = [
            f"{self.source}: {self.rows_read} rows read, "
            f"{self.rows_filtered} left out by `where`, {self.rows_kept} kept; "
            f"{len(self.of('error'))} errors, {len(self.of('warning'))} warnings, "
            f"{len(self.of('repair'))} repairs, {len(self.of('excluded'))} excluded"
        ]
        lines += [f"  missing  {line}" for line in self.missing_lines()]
        for i in self.issues:
            where = ", ".join(
                f"{k}={v}"
                for k, v in (
                    ("row", i.row),
                    ("hazard_id", i.hazard_id),
                    ("column", i.column),
                    ("value", i.value),
                )
                if v is not None
            )
            tail = f" [{where}]" if where else ""
            lines.append(f"  {i.level.upper():8s} {i.code}: {i.message}{tail}")
        return "\n".join(lines)


def population_reach(pop_col: str | None) -> tuple[float, str] | None:
    """The reach of a ``population_within_<R>km`` or ``population_within_<T>min`` column as
    ``(number, "km" or "min")`` (``2_5`` is 2.5, as the criteria name their columns), else None."""
    m = re.fullmatch(r"population_within_(\d+(?:[_.]\d+)?)(km|min)", pop_col or "")
    return (float(m.group(1).replace("_", ".")), m.group(2)) if m else None


def split_contamination(text: str | None) -> frozenset[str]:
    """``"CMR;AP"`` -> ``{"AP", "CMR"}``; empty or None -> empty set. Each distinct text is
    split once (a national register repeats a handful of texts over 100,000 rows)."""
    if isinstance(text, str):
        return _split_text(text)
    if text is None or text != text:  # None or NaN
        return frozenset()
    return _split_text(str(text))


@functools.lru_cache(maxsize=4096)
def _split_text(text: str) -> frozenset[str]:
    return frozenset(p.strip() for p in text.split(";") if p.strip())


def join_contamination(codes) -> str:
    """Sorted ';'-joined text of contamination codes, as stored in files."""
    return ";".join(sorted(set(codes)))


def area_summary(hazards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Area by region and status, CMR separated from mines (Article 7 Form F style).

    An area holding both CMR and mines counts in both ``cmr_*`` and ``mine_*`` columns (and in
    ``mixed_*``); ``total_*`` counts it once. Areas in m² and ha. Rows: each region and
    status, then each region's ``all``, then ``all``/``all``.
    """
    import numpy as np
    import pandas as pd

    # a register repeats a handful of contamination texts: each is split once
    text_codes, uniq = pd.factorize(hazards["contamination"], use_na_sentinel=False)
    sets = [split_contamination(t) for t in uniq]
    cmr = np.array([bool(c & CMR_TYPES) for c in sets], dtype=bool)[text_codes]
    mine = np.array([bool(c & MINE_TYPES) for c in sets], dtype=bool)[text_codes]
    area = hazards["area_m2"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "region": hazards["region"].to_numpy(),
            "status": hazards["status"].to_numpy(),
            "areas": np.ones(len(area), dtype=np.int64),
            "total_m2": area,
        }
    )
    for kind, sel in (("cmr", cmr), ("mine", mine), ("mixed", cmr & mine), ("other", ~cmr & ~mine)):
        frame[f"{kind}_areas"] = sel.astype(np.int64)
        frame[f"{kind}_m2"] = np.where(sel, area, 0.0)  # + 0.0 leaves a sum as it was
    cols = [c for c in frame.columns if c not in ("region", "status")]
    by_status = frame.groupby(["region", "status"], sort=True)[cols].sum().reset_index()
    by_region = frame.groupby("region", sort=True)[cols].sum().reset_index()
    by_region.insert(1, "status", "all")
    # the whole register (zeros when empty), each column in its own type: counts stay integers
    whole = frame[cols].sum().to_frame().T.astype(frame[cols].dtypes.to_dict())
    whole.insert(0, "status", "all")
    whole.insert(0, "region", "all")
    out = pd.concat([by_status, by_region, whole], ignore_index=True)
    order = ["region", "status", "areas", "total_m2"]
    for kind in ("cmr", "mine", "mixed", "other"):
        order += [f"{kind}_areas", f"{kind}_m2"]
    out = out[order]
    for col in [c for c in out.columns if c.endswith("_m2")]:
        out[col] = out[col].round(1)
        out[col.replace("_m2", "_ha")] = (out[col] / 10_000).round(2)
    return out
