"""The project configuration: one TOML file, validated on load, frozen, passed down explicitly.

Paths in the file are relative to the file's folder. Unknown keys are an error naming the key
path. Each stage's settings live beside the stage (``criteria.settings``, ``scoring``,
``planning.settings``, ``publish.settings``) and are composed here, so a stage can be read and
tested alone; every default there carries its source (see ``../shared/DOMAIN.md``).
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.engine.settings import EngineSettings
from ccm_geo.errors import ConfigError, InputFileNotFoundError
from ccm_geo.model import LANDCOVER_CLASSES
from ccm_geo.planning.settings import PlanningSettings
from ccm_geo.postgis import PostgisSource, PostgisTarget, redact_url, source_label
from ccm_geo.publish.settings import DonorProfile, MapSettings
from ccm_geo.scoring import ScoringSettings
from ccm_geo.scoring.backtest import BacktestSettings

__all__ = [
    "Frozen",
    "LayerInput",
    "HazardInput",
    "RasterInput",
    "Inputs",
    "ProjectInfo",
    "PublishSection",
    "ProjectConfig",
    "load_config",
]


class LayerInput(Frozen):
    """A vector input (a file or a PostGIS table/query) and how its fields map onto the
    data contract."""

    path: Path | None = Field(
        None,
        description="File path (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, "
        "GeoParquet, or CSV with WKT or lon/lat columns); relative to the TOML.",
    )
    postgis: PostgisSource | None = Field(
        None,
        description="Read from PostGIS instead of a file: {url, table or query, password_env}.",
    )
    layer: str | None = Field(None, description="Layer name for multi-layer files (GeoPackage).")
    crs: str | None = Field(
        None,
        description="CRS to assume when the file declares none (e.g. 'EPSG:4326'). "
        "A file that declares a CRS is never overridden.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column name -> the file's column name, e.g. {hazard_id = 'HAZ_ID'}.",
    )
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per contract column, the file's codes -> contract codes, "
        "e.g. {status = {Confirmed = 'CHA'}}.",
    )
    x: str | None = Field(None, description="CSV only: longitude/easting column.")
    y: str | None = Field(None, description="CSV only: latitude/northing column.")
    wkt: str | None = Field(None, description="CSV only: column holding WKT geometries.")
    where: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Keep only rows whose (file) column value is in the list, e.g. "
        "{TIPO_EVENTO = ['8']}. Rows left out are counted in the report.",
    )
    date_format: str | None = Field(
        None,
        description="How dates are written, as a strftime pattern (e.g. '%d/%m/%Y'). Default: "
        "ISO 8601 only (2026-01-05), so that 05/01/2026 is never guessed month-first or "
        "day-first; a bare year (2004) is read as 1 July of that year, and reported.",
    )

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, v: str | None) -> str | None:
        return _check_crs(v)

    @field_validator("date_format")
    @classmethod
    def _strftime_pattern(cls, v: str | None) -> str | None:
        if v is not None and "%" not in v:
            msg = (
                f"date_format {v!r} is not a strftime pattern; write it with % codes, e.g. "
                "'%d/%m/%Y' for 05/01/2026 meaning 5 January"
            )
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _path_or_postgis(self):
        if (self.path is None) == (self.postgis is None):
            msg = "give exactly one of `path` (a file) or `postgis` (a database table or query)"
            raise ValueError(msg)
        return self

    @property
    def label(self) -> str:
        """How this input is named in reports: the file path, or the database and table."""
        return str(self.path) if self.postgis is None else source_label(self.postgis)


class HazardInput(LayerInput):
    """The hazard register: polygons (or points that become estimated areas)."""

    point_area_m2: float = Field(
        10_000.0,
        gt=0,
        description="Estimated area given to a point hazard (a circle of this area). Default "
        "1 ha: a typical recorded CMR strike footprint is 0.5-10 ha (DOMAIN.md); set your own.",
    )
    default_status: str | None = Field(
        None, description="Status for rows without one (e.g. 'SHA' for suspected minefields)."
    )
    default_evidence: str | None = Field(None, description="Evidence for rows without one.")
    default_contamination: str | None = Field(
        None, description="Contamination for rows without one (';'-joined codes)."
    )
    min_area_m2: float = Field(
        10.0,
        ge=0,
        description="Smallest area (m², after repair) scored as a hazardous area; smaller "
        "polygons (slivers of digitising or of overlap removal) are excluded and reported. "
        "Default 10 m²: below a single deminer's daily manual output (10-50 m², HALO Trust, "
        "DOMAIN.md), so no real survey polygon is that small.",
    )
    overlaps: Literal["clip", "keep"] = Field(
        "clip",
        description="Land shared by two areas: 'clip' (default) keeps it in one area only (CHA "
        "before SHA before released, then by hazard_id), so every area figure counts land "
        "once; identical geometries are excluded as duplicates of the area kept. 'keep' "
        "leaves the polygons as they are (shared land then counts in each). Both report "
        "every overlap with its area.",
    )


class RasterInput(Frozen):
    """A categorical land-cover raster."""

    path: Path
    classes: dict[int, str] = Field(
        default_factory=lambda: dict(LANDCOVER_CLASSES),
        description="Raster value -> land-cover class name (lower_snake_case), or the name of "
        "a standard product's table: 'worldcover', 'modis_igbp', 'copernicus', 'standard'.",
    )

    @field_validator("classes", mode="before")
    @classmethod
    def _named_table(cls, v: Any) -> Any:
        if isinstance(v, str):
            from ccm_geo.landcover_tables import landcover_table

            return landcover_table(v)
        return v

    @field_validator("classes")
    @classmethod
    def _snake_names(cls, v: dict[int, str]) -> dict[int, str]:
        for code, name in v.items():
            if not name.replace("_", "").isalnum() or name.lower() != name:
                msg = (
                    f"inputs.landcover.classes: class name {name!r} for value {code} must be "
                    "lower_snake_case (letters, digits, '_'), e.g. 'cropland'"
                )
                raise ValueError(msg)
        return v


class Inputs(Frozen):
    """Every input of a project. Only ``hazards`` is required."""

    hazards: HazardInput
    accidents: LayerInput | None = None
    settlements: LayerInput | None = None
    health: LayerInput | None = None
    roads: LayerInput | None = None
    admin: LayerInput | None = None
    landcover: RasterInput | None = None


class ProjectInfo(Frozen):
    """Who and where: name, metric CRS, plan start and the treaty deadline."""

    name: str = "ccm_geo project"
    crs: str | None = Field(
        None,
        description="The project's metric CRS (e.g. 'EPSG:32648'). Default: the UTM zone "
        "of the hazards (geopandas' estimate_utm_crs()).",
    )

    @field_validator("crs")
    @classmethod
    def _metric_crs(cls, v: str | None) -> str | None:
        v = _check_crs(v)
        if v is not None:
            from pyproj import CRS

            if not CRS.from_user_input(v).is_projected:
                msg = (
                    f"{v!r} is not a metric (projected) CRS; areas need metres. Use the "
                    "projected CRS of the region (e.g. its UTM zone 'EPSG:326NN'), or leave "
                    "project.crs out to use the UTM zone of the hazards"
                )
                raise ValueError(msg)
        return v

    start_date: date = Field(date(2027, 1, 1), description="First day of the work plan.")
    deadline: date | None = Field(
        None,
        description="Article 4 (CCM) clearance deadline: 10 years after entry into force "
        "for the State, plus any extension granted (CCM Art. 4).",
    )
    mine_ban_deadline: date | None = Field(
        None,
        description="Article 5 (Mine Ban Convention) clearance deadline for mined areas, as "
        "extended; the requests judge mined land against it (never against Article 4).",
    )
    contact: str = Field(
        "",
        description="Who donors write to about the requests (office, name, e-mail), shown "
        "in each request's contact section.",
    )
    seed: int = Field(20171005, description="Seed of every random draw (sensitivity, demo).")
    language: Literal["en", "fr", "es", "ar"] = Field(
        "en",
        description="Language of the programme view (requests/programme.html), as a donor's "
        "`language` is of its request.",
    )


class PublishSection(Frozen):
    """Where a run is published besides its folder (``[publish.postgis]``)."""

    postgis: PostgisTarget | None = None


class ProjectConfig(Frozen):
    """The whole project configuration, as loaded from one TOML file."""

    project: ProjectInfo = Field(default_factory=ProjectInfo)
    inputs: Inputs
    criteria: CriteriaSettings = Field(default_factory=CriteriaSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    maps: MapSettings = Field(default_factory=MapSettings)
    donors: list[DonorProfile] = Field(default_factory=list)
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    publish: PublishSection = Field(default_factory=PublishSection)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    source: Path | None = Field(None, description="The TOML file this was read from (set on load).")

    @model_validator(mode="after")
    def _meaningful(self) -> ProjectConfig:
        """Settings that would make the result empty or meaningless fail before any work."""
        problems = settings_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def plan_years(config: ProjectConfig) -> list[int]:
    """The calendar years of the plan: ``planning.years`` from the start date's year, extended
    to the deadline's year when that is later (as the planner does)."""
    first = config.project.start_date.year
    last = first + config.planning.years - 1
    if config.project.deadline is not None:
        last = max(last, config.project.deadline.year)
    return list(range(first, last + 1))


def settings_problems(config: ProjectConfig) -> list[str]:
    """Settings that make the result empty or meaningless, each as ``key: what; fix``."""
    out = []
    p = config.project
    if p.deadline is not None and p.deadline <= p.start_date:
        out.append(
            f"project.deadline {p.deadline} is not after project.start_date {p.start_date}: "
            "no plan can meet it; check both dates"
        )
    teams = config.planning.teams
    if teams and all(t.count == 0 for t in teams.values()):
        out.append(
            f"planning.teams: every team count is 0 ({', '.join(sorted(teams))}): nothing can "
            "be planned; give at least one team type a count"
        )
    years = plan_years(config)
    budgets = config.planning.budget_for(years)
    if all(b == 0 for b in budgets):
        out.append(
            "planning.budget_usd is 0 in every plan year: nothing can be funded; set the "
            "yearly budget in US$"
        )
    for i, d in enumerate(config.donors):
        table = set(d.budget_usd) if isinstance(d.budget_usd, dict) else set()
        given = sorted(set(d.years) | table)
        if given and not set(given) & set(years):
            out.append(
                f"donors[{i}] ({d.name}): years {given} are all outside the plan's years "
                f"{years[0]}-{years[-1]}: this donor can fund nothing; fix its years or "
                "planning.years"
            )
        total = sum(d.budget_usd.values()) if isinstance(d.budget_usd, dict) else d.budget_usd
        if total == 0:
            out.append(
                f"donors[{i}] ({d.name}): budget_usd is 0: this donor can fund nothing; set "
                "its envelope or remove it"
            )
    return out


def _check_crs(v: str | None) -> str | None:
    """A CRS string pyproj knows, or a one-line error naming it."""
    if v is None:
        return v
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(v)
    except CRSError:
        msg = (
            f"{v!r} is not a coordinate reference system pyproj knows; write it as "
            "'EPSG:<code>' (e.g. 'EPSG:4326' for longitude/latitude, 'EPSG:32648' for UTM 48N)"
        )
        raise ValueError(msg) from None
    return v


def load_config(path: str | Path) -> ProjectConfig:
    """Read, validate and resolve a project TOML file.

    Parameters
    ----------
    path
        The project file. Relative input paths inside it are resolved against its folder.

    Returns
    -------
    ProjectConfig
        Frozen configuration with absolute input paths.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    ConfigError
        The file is not valid TOML, or a key is unknown, missing or of the wrong form; the
        message names the key path.
    """
    path = Path(path)
    if not path.is_file():
        msg = (
            f"{path}: project file not found. Give the path of a TOML project file "
            "(see data/demo/project.toml for an example)."
        )
        raise InputFileNotFoundError(msg)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML ({exc}). Fix the syntax at the line given."
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"{path}: not a UTF-8 text file ({exc.reason}); save the project file as UTF-8."
        raise ConfigError(msg) from exc
    return config_from_dict(raw, base=path.parent, source=path)


def config_from_dict(
    raw: dict[str, Any], *, base: Path = Path("."), source: Path | None = None
) -> ProjectConfig:
    """Validate a configuration given as a dict (as read from TOML); paths resolved on ``base``."""
    raw = _resolve_paths(raw, base.resolve())
    if source is not None:
        raw["source"] = source.resolve()
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        where = source if source is not None else "config"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {_explain(err)}"
            for err in exc.errors()
        )
        msg = f"{where}: {exc.error_count()} problem(s) in the project configuration: {problems}"
        raise ConfigError(msg) from None


def _explain(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key; remove it or check its spelling against the README's config table"
    if kind == "missing":
        return "required key is missing"
    found = err.get("input")
    if err.get("loc") and err["loc"][-1] == "url" and isinstance(found, str):
        found = redact_url(found)  # never echo a password written into a URL
    shown = repr(found) if not isinstance(found, dict) else "a table"
    return f"{err['msg']} (found {shown})"


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Return a copy of ``raw`` whose ``inputs.*.path`` entries are absolute."""
    raw = dict(raw)
    inputs = raw.get("inputs")
    if isinstance(inputs, dict):
        resolved = {}
        for name, entry in inputs.items():
            if isinstance(entry, dict) and isinstance(entry.get("path"), str):
                entry = dict(entry)
                p = Path(entry["path"]).expanduser()
                entry["path"] = p if p.is_absolute() else base / p
            resolved[name] = entry
        raw["inputs"] = resolved
    return raw
