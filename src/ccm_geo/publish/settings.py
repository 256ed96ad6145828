"""Settings of the publishing stage ([maps] and [[donors]] in the project TOML)."""

import re
from typing import Literal

from pydantic import Field, field_validator

from ccm_geo._base import Frozen

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
        2.0, ge=0,
        description="Tolerance (m, in the metric CRS) of the topology-preserving simplification "
        "of hazard polygons drawn in the HTML map. 0 keeps every vertex. The stored geometries "
        "are never changed; only the drawing is simplified.")
    context_simplify_m: float = Field(
        10.0, ge=0,
        description="Simplification tolerance (m) for roads and admin boundaries in the HTML map.")
    precision: int = Field(
        5, ge=3, le=8,
        description="Decimal places of the longitude/latitude written to the HTML. 5 decimals "
        "is about 1.1 m at the equator, finer than the simplification.")
    max_detailed_areas: int = Field(
        20_000, ge=1,
        description="Most hazardous areas drawn one by one. Beyond it the top areas by rank are "
        "drawn and the rest are aggregated into grid cells (count and area), and the map says so. "
        "20,000 areas make an HTML of about 5 MB that Chromium draws in about a second.")
    aggregate_cell_m: float = Field(
        5_000.0, gt=0,
        description="Side (m) of the square grid cells that aggregate the areas beyond "
        "max_detailed_areas.")
    palette: dict[str, str] = Field(
        default_factory=lambda: {"high": "#bd0026", "medium": "#fd8d3c", "low": "#ffeda0"},
        description="Fill colour per priority class. Default: ColorBrewer YlOrRd (3 classes), a "
        "sequential palette safe for colour-blind readers and ordered in greyscale.")
    value_palette: list[str] = Field(
        default_factory=lambda: ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"],
        min_length=2,
        description="Sequential colours (low to high) for the criterion layers: the criterion's "
        "0-1 value is cut into as many equal bins. Default: viridis, 5 bins.")
    plan_palette: list[str] = Field(
        default_factory=lambda: ["#08519c", "#3182bd", "#6baed6", "#9ecae1", "#c6dbef"],
        min_length=1,
        description="Colours of the work-plan years (first year first; repeated when there are "
        "more years). Default: ColorBrewer Blues, dark to light.")
    context_layers: list[ContextLayer] = Field(
        default_factory=lambda: ["admin", "roads", "settlements", "health", "accidents"],
        description="Context layers included (when the context has them).")
    context_on: list[ContextLayer] = Field(
        default_factory=lambda: ["admin", "roads", "accidents"],
        description="Context layers switched on when the HTML map opens; the others are in "
        "the layer control, off.")
    show_criteria: bool = Field(
        True, description="Add one switchable layer per criterion (the value_<criterion> columns).")
    show_plan: bool = Field(
        True, description="Add one switchable layer per work-plan year when the areas have `year`.")
    popup_explanation: bool = Field(
        True, description="Show the scoring explanation text in the popup.")
    popup_indicators: list[str] = Field(
        default_factory=lambda: ["accidents_24m", "devices_per_ha", "travel_min_settlement",
                                 "travel_min_health"],
        description="Indicator columns shown in the popup, when present.")
    tiles: str | None = Field(
        None,
        description="Tile URL template (e.g. 'https://tile.openstreetmap.org/{z}/{x}/{y}.png') "
        "for a background. Off by default: a map with tiles needs the network.")
    tiles_attribution: str = Field(
        "", description="Attribution text shown with the tiles (required by most providers).")
    label_top_n: int = Field(
        10, ge=0, description="Print map: how many of the top-ranked areas are labelled by id.")
    print_size_in: tuple[float, float] = Field(
        (11.69, 8.27), description="Print map: figure size in inches (default A4 landscape).")
    print_dpi: int = Field(200, ge=50, le=1200, description="Print map: PNG resolution (dpi).")

    @field_validator("palette")
    @classmethod
    def _palette_classes(cls, v: dict[str, str]) -> dict[str, str]:
        missing = sorted({"high", "medium", "low"} - set(v))
        if missing:
            msg = (f"maps.palette lacks colours for {missing}; give one '#rrggbb' per priority "
                   "class: high, medium, low")
            raise ValueError(msg)
        return _check_colours("maps.palette", v)

    @field_validator("value_palette", "plan_palette")
    @classmethod
    def _palette_list(cls, v: list[str]) -> list[str]:
        _check_colours("maps palette", dict(enumerate(v)))
        return v


class DonorProfile(Frozen):
    """One [[donors]] entry. Filled in by the donor request stage."""

    name: str

