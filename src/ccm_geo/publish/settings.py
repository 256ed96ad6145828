"""Settings of the publishing stage ([maps] and [[donors]] in the project TOML)."""

import re
import unicodedata
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ccm_geo._base import Frozen
from ccm_geo.publish import styles

#: Context layers a map can show, in drawing order (bottom first).
ContextLayer = Literal["admin", "roads", "settlements", "health", "accidents"]


def _check_colours(key: str, colours: dict) -> dict:
    """Raise naming the key and value when a colour is not '#rrggbb'."""
    bad = {k: c for k, c in colours.items() if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(c))}
    if bad:
        msg = f"{key} has colours that are not '#rrggbb': {bad}; write them like '#bd0026'"
        raise ValueError(msg)
    return colours


class MapSettings(Frozen):
    """[maps]: what the interactive (HTML) and print (PNG/PDF) maps show and how.

    Every key is optional; the defaults give an offline map of all areas coloured by priority
    class, with the criteria and the work plan as switchable layers.
    """

    simplify_m: float = Field(
        2.0,
        ge=0,
        description="Tolerance (m, in the metric CRS) of the topology-preserving simplification "
        "of hazard polygons drawn in the HTML map. 0 keeps every vertex. The stored geometries "
        "are never changed; only the drawing is simplified.",
    )
    context_simplify_m: float = Field(
        10.0,
        ge=0,
        description="Simplification tolerance (m) for roads and admin boundaries in the HTML map.",
    )
    precision: int = Field(
        5,
        ge=3,
        le=8,
        description="Decimal places of the longitude/latitude written to the HTML. 5 decimals "
        "is about 1.1 m at the equator, finer than the simplification.",
    )
    max_detailed_areas: int = Field(
        20_000,
        ge=1,
        description="Most hazardous areas drawn one by one. Beyond it the top areas by rank are "
        "drawn and the rest are aggregated into grid cells (count and area), and the map says so. "
        "20,000 areas make an HTML of about 5 MB that Chromium draws in about a second.",
    )
    aggregate_cell_m: float = Field(
        5_000.0,
        gt=0,
        description="Side (m) of the square grid cells that aggregate the areas beyond "
        "max_detailed_areas.",
    )
    palette: dict[str, str] = Field(
        default_factory=lambda: dict(styles.PRIORITY_PALETTE),
        description="Fill colour per priority class. Default: ColorBrewer YlOrRd (3 classes), a "
        "sequential palette safe for colour-blind readers and ordered in greyscale.",
    )
    value_palette: list[str] = Field(
        default_factory=lambda: list(styles.VALUE_PALETTE),
        min_length=2,
        description="Sequential colours (low to high) for the criterion layers: the criterion's "
        "0-1 value is cut into as many equal bins. Default: viridis, 5 bins.",
    )
    plan_palette: list[str] = Field(
        default_factory=lambda: list(styles.PLAN_PALETTE),
        min_length=1,
        description="Colours of the work-plan years (first year first; repeated when there are "
        "more years). Default: ColorBrewer Blues, dark to light.",
    )
    context_layers: list[ContextLayer] = Field(
        default_factory=lambda: ["admin", "roads", "settlements", "health", "accidents"],
        description="Context layers included (when the context has them).",
    )
    context_on: list[ContextLayer] = Field(
        default_factory=lambda: ["admin", "roads", "accidents"],
        description="Context layers switched on when the HTML map opens; the others are in "
        "the layer control, off. Every context layer is drawn beneath the hazardous areas, so "
        "none hides them; settlements (thousands of markers nationally) are off by default "
        "and their names show as labels from `village_label_zoom`.",
    )
    village_label_zoom: int | None = Field(
        11,
        ge=0,
        le=19,
        description="HTML map: settlement names are shown as labels from this zoom level "
        "(11 is about 1:250,000), the most populous first, at most 150 in view. None: no labels.",
    )
    tiles_max_mb: float = Field(
        8.0,
        gt=0,
        description="HTML map with a local MBTiles/PMTiles basemap (`tiles`): the tiles covering "
        "the map's extent are inlined up to the deepest zoom that keeps them under this size "
        "(MB); deeper zooms enlarge the deepest tiles.",
    )
    print_sheet_areas: int = Field(
        1500,
        ge=1,
        description="Print map: above this many areas one page cannot show them legibly, and "
        "the print map adds one sheet per region (`print_sheets`).",
    )
    print_max_sheets: int = Field(
        24,
        ge=1,
        description="Print map: most region sheets. A register with more regions (a national "
        "one has hundreds of districts) gets this many sheets, each holding neighbouring "
        "regions (grouped along a space-filling curve, about as many areas on each sheet), so "
        "the atlas stays a readable size and is drawn in seconds.",
    )
    print_villages: int = Field(
        25,
        ge=0,
        description="Print map: how many settlement names (most populous first) are placed "
        "after the hazard labels, where they fit.",
    )
    show_criteria: bool = Field(
        True, description="Add one switchable layer per criterion (the value_<criterion> columns)."
    )
    show_plan: bool = Field(
        True, description="Add one switchable layer per work-plan year when the areas have `year`."
    )
    popup_explanation: bool = Field(
        True, description="Show the scoring explanation text in the popup."
    )
    popup_indicators: list[str] = Field(
        default_factory=lambda: [
            "accidents_24m",
            "devices_per_ha",
            "travel_min_settlement",
            "travel_min_health",
        ],
        description="Indicator columns shown in the popup, when present.",
    )
    tiles: str | None = Field(
        None,
        description="A local MBTiles or PMTiles file of raster tiles (e.g. an OSM extract kept "
        "offline): its tiles over the map's extent are inlined, no network needed. Or a tile "
        "URL template (e.g. 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'), which needs the "
        "network. Off by default.",
    )
    tiles_attribution: str = Field(
        "", description="Attribution text shown with the tiles (required by most providers)."
    )
    label_top_n: int = Field(
        10, ge=0, description="Print map: how many of the top-ranked areas are labelled by id."
    )
    print_size_in: tuple[float, float] = Field(
        (11.69, 8.27), description="Print map: figure size in inches (default A4 landscape)."
    )
    print_dpi: int = Field(200, ge=50, le=1200, description="Print map: PNG resolution (dpi).")

    @field_validator("palette")
    @classmethod
    def _palette_classes(cls, v: dict[str, str]) -> dict[str, str]:
        missing = sorted({"high", "medium", "low"} - set(v))
        if missing:
            msg = (
                f"maps.palette lacks colours for {missing}; give one '#rrggbb' per priority "
                "class: high, medium, low"
            )
            raise ValueError(msg)
        return _check_colours("maps.palette", v)

    @field_validator("value_palette", "plan_palette")
    @classmethod
    def _palette_list(cls, v: list[str]) -> list[str]:
        _check_colours("maps palette", dict(enumerate(v)))
        return v


class DonorProfile(Frozen):
    """One [[donors]] entry: what a donor funds, where, through whom, and how much.

    The donor request stage (``publish.donors.match_donors``) proposes to each donor a package
    of planned tasks that fits every constraint here; see docs/requests.md. Amounts are US$;
    ``currency`` and ``exchange_rate`` only change how amounts are shown to the donor.
    """

    #: Label keys a request uses, with their English text; ``labels`` may override any of them.
    LABEL_KEYS: ClassVar[dict[str, str]] = {
        "title": "Funding request",
        "summary": "Summary",
        "map": "Map of the proposed areas",
        "tasks": "Annex A. Areas and tasks",
        "milestones": "Work plan",
        "deadline": "Treaty deadlines",
        "gap": "The whole picture",
        "priority": "Why these areas first",
        "victim_assistance": "Victim assistance",
        "risk_education": "Risk education",
        "assumptions": "Annex C. Figures and sources",
        "task_id": "Task",
        "region": "Region",
        "area": "Area",
        "method": "Method",
        "cost": "Cost, US$",
        "team_months": "Team-months",
        "beneficiaries": "Beneficiaries",
        "year": "Year",
        "cmr": "Cluster munitions",
        "mines": "Mines",
    }

    name: str = Field(min_length=1, description="The donor's name as shown in its request.")
    slug: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Folder name of the donor's package (default: from the name, lower case, "
        "letters and digits joined by '-').",
    )
    thematic: list[Literal["clearance", "survey", "victim_assistance", "risk_education"]] = Field(
        default_factory=lambda: ["clearance", "survey"],
        min_length=1,
        description="What the donor funds: 'clearance' (clearance tasks), 'survey' (non-technical "
        "and technical survey tasks), 'victim_assistance' and 'risk_education' (needs tables "
        "in the request; no tasks are allocated for them).",
    )
    contamination: Literal["cmr", "mines", "any"] = Field(
        "any",
        description="'cmr': only tasks on land holding cluster munition remnants (CCM); "
        "'mines': only tasks on land holding AP/AT mines (Mine Ban Convention); 'any'. A mixed "
        "area is eligible under either focus; the request shows its CMR and mine m² apart.",
    )
    regions: list[str] = Field(
        default_factory=list, description="Regions (admin units) the donor funds; empty: all."
    )
    channels_allowed: list[str] = Field(
        default_factory=list,
        description="Implementing channels the donor funds through, e.g. ['ngo', 'commercial']; "
        "empty: any. A task's channel is its `channel` column, else the default channel.",
    )
    excludes_military: bool = Field(
        False,
        description="Never fund tasks whose channel is 'military' (some donors' laws "
        "forbid funding military authorities; CCM cooperation meeting 2017).",
    )
    budget_usd: float | dict[int, float] = Field(
        description="Envelope, US$: one total over the donor's years, or a table calendar year "
        "-> amount (a year not in the table gets nothing)."
    )
    years: list[int] = Field(
        default_factory=list,
        description="Calendar years the donor funds; empty: all plan "
        "years (with a per-year budget: the years of the table).",
    )
    currency: str = Field(
        "USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code amounts are also shown in."
    )
    exchange_rate: float = Field(
        1.0,
        gt=0,
        description="Units of `currency` per US$, fixed in the config (never "
        "fetched), e.g. 0.92 for EUR. Say in `exchange_rate_source` where it comes from.",
    )
    exchange_rate_source: str = Field(
        "", description="Where the exchange rate comes from (shown in the assumptions)."
    )
    min_grant_usd: float = Field(
        0.0, ge=0, description="Smallest package the donor funds, US$ (else it gets none)."
    )
    max_grant_usd: float | None = Field(
        None, gt=0, description="Largest package, US$ (default: the envelope)."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Label overrides for the request, e.g. {tasks = 'Tâches'}; keys: LABEL_KEYS.",
    )
    language: Literal["en", "fr", "es", "ar"] = Field(
        "en",
        description="Language of the donor's request: 'en', 'fr', 'es' (translated text and "
        "numbers), 'ar' (right-to-left layout and Arabic number formats; the text stays "
        "English until a catalogue is added).",
    )
    indirect_cost_share: float = Field(
        0.07,
        ge=0,
        le=0.5,
        description="Indirect (support) costs as a share of the direct cost, shown as its own "
        "budget line and added to the ask. Default 7%: the ceiling of indirect costs in "
        "European Union humanitarian grants and UN multi-partner trust funds.",
    )
    victim_assistance_usd_per_survivor: float = Field(
        400.0,
        gt=0,
        description="Cost of assisting one survivor over the grant, US$. Default: the price "
        "of one above-knee prosthesis (US$400) from the ICRC-supported component factory in "
        "Phnom Penh as published by Mine-Ex Switzerland: the device only, a lower bound "
        "(docs/requests.md); set your operator's figure and `victim_assistance_cost_source`.",
    )
    victim_assistance_cost_source: str = Field(
        "",
        description="Where `victim_assistance_usd_per_survivor` comes from (shown in the "
        "request's cost basis); empty: the default's source, or 'set in the project settings' "
        "when the figure was changed.",
    )
    risk_education_usd_per_person: float = Field(
        4.0,
        gt=0,
        description="Cost of reaching one person with risk education sessions, US$. Default: "
        "one published project (UNICEF-funded, South Sudan: US$54,450 for 15,000 people "
        "reached, about US$3.6 each), rounded up (docs/requests.md); set your operator's "
        "figure and `risk_education_cost_source`.",
    )
    risk_education_cost_source: str = Field(
        "",
        description="Where `risk_education_usd_per_person` comes from (shown in the request's "
        "cost basis); empty: the default's source, or 'set in the project settings' when the "
        "figure was changed.",
    )

    annex_rows_max: int = Field(
        150,
        ge=1,
        description="Annex A lists one row per area up to this many areas; a larger package "
        "is summarised there by region and year (the workbook and the GIS layer keep every "
        "area and task, and the annex says so). Keeps a national-scale request a document.",
    )
    table_rows_max: int = Field(
        40,
        ge=2,
        description="Longest table of the proposal's body (context and risk education by "
        "region, survivors' villages, work plan rows): beyond it the largest rows are shown "
        "and the rest summed in one row.",
    )
    map_sheets_max: int = Field(
        6,
        ge=0,
        description="Most map sheets in Annex B: the regions with the largest share of the "
        "package's cost; the annex names the other regions.",
    )

    @field_validator("budget_usd")
    @classmethod
    def _budget_non_negative(cls, v: float | dict[int, float]) -> float | dict[int, float]:
        values = list(v.values()) if isinstance(v, dict) else [v]
        if (isinstance(v, dict) and not v) or any(x < 0 for x in values):
            msg = (
                f"donors.budget_usd must be a non-negative amount or a non-empty table "
                f"year -> amount (found {v!r})"
            )
            raise ValueError(msg)
        return v

    @field_validator("labels")
    @classmethod
    def _known_labels(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(cls.LABEL_KEYS))
        if unknown:
            msg = f"donors.labels has unknown keys {unknown}; known keys: {sorted(cls.LABEL_KEYS)}"
            raise ValueError(msg)
        return v

    @model_validator(mode="after")
    def _grants_fit(self) -> "DonorProfile":
        if self.max_grant_usd is not None and self.max_grant_usd < self.min_grant_usd:
            msg = (
                f"donor {self.name!r}: max_grant_usd={self.max_grant_usd:,.0f} is below "
                f"min_grant_usd={self.min_grant_usd:,.0f}; raise max or lower min"
            )
            raise ValueError(msg)
        if isinstance(self.budget_usd, dict) and self.years:
            missing = sorted(set(self.years) - set(self.budget_usd))
            if missing:
                msg = (
                    f"donor {self.name!r}: years {missing} have no amount in budget_usd "
                    f"(years in the table: {sorted(self.budget_usd)}); add them or drop them"
                )
                raise ValueError(msg)
        return self

    @property
    def key(self) -> str:
        """The folder name of the donor's package: ``slug``, else made from the name."""
        if self.slug:
            return self.slug
        text = unicodedata.normalize("NFKD", self.name).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "donor"

    def label(self, key: str) -> str:
        """The label ``key``: the donor's override, else its English text (which the request
        translates into the donor's ``language``)."""
        return self.labels.get(key, self.LABEL_KEYS[key])

    def envelope(self) -> dict[int, float] | float:
        """The envelope, US$: per calendar year (a table, limited to ``years``) or one total."""
        if isinstance(self.budget_usd, dict):
            return {
                int(y): float(a)
                for y, a in self.budget_usd.items()
                if not self.years or int(y) in self.years
            }
        return float(self.budget_usd)

    def funds_year(self, year: int) -> bool:
        """True when the donor funds work budgeted in calendar ``year``."""
        if self.years and year not in self.years:
            return False
        return not isinstance(self.budget_usd, dict) or year in self.budget_usd
