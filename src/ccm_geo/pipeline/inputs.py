"""The inputs of a run: hazards and context layers loaded and validated, or read back."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ccm_geo.config import ProjectConfig
from ccm_geo.model import CONTEXT_COLUMNS, Context, ValidationReport
from ccm_geo.pipeline.runlog import Progress

logger = logging.getLogger(__name__)


def load_inputs(
    config: ProjectConfig,
    *,
    progress: Progress | None = None,
) -> tuple[gpd.GeoDataFrame, Context, list[ValidationReport]]:
    """Load the hazards and every context layer into the project's metric CRS.

    Hazards without a region get the admin unit holding their representative point.
    """
    from ccm_geo.io import load_hazards, load_layer
    from ccm_geo.io.validate import check_donor_regions, check_raster, note_casualty_convention

    say = progress or (lambda _t: None)
    say(f"loading hazards from {_short_label(config.inputs.hazards)}")
    hazards, report = load_hazards(config.inputs.hazards, project_crs=config.project.crs)
    reports = [report]
    crs = hazards.crs.to_string()
    layers: dict[str, gpd.GeoDataFrame | None] = {}
    for name in CONTEXT_COLUMNS:
        spec = getattr(config.inputs, name)
        if spec is None:
            layers[name] = None
            continue
        say(f"loading {name} from {_short_label(spec)}")
        layers[name], rep = load_layer(
            spec, name, crs=crs, hazards=hazards, reference_date=config.project.start_date
        )
        reports.append(rep)
        if name == "accidents":
            note_casualty_convention(
                layers[name], rep, config.criteria.contamination.unknown_casualties
            )
    if layers.get("admin") is not None:
        hazards = _regions_from_admin(hazards, layers["admin"])
    lc = config.inputs.landcover
    if lc is not None:
        check_raster(lc.path, hazards)
    check_donor_regions(config.donors, hazards, config.source or "config")
    context = Context(crs=crs, **layers, **_landcover(config))
    return hazards, context, reports


def read_context(config: ProjectConfig, out_dir: Path, crs: str) -> Context:
    """The context layers as the load stage wrote them into ``out_dir/context.gpkg``."""
    import pyogrio

    from ccm_geo.io import read_gpkg

    path = Path(out_dir) / "context.gpkg"
    present = {name for name, _ in pyogrio.list_layers(path)} if path.is_file() else set()
    layers = {}
    for name, cols in CONTEXT_COLUMNS.items():
        if name not in present:
            layers[name] = None
            continue
        gdf = read_gpkg(path, name)
        for col, kind in cols.items():
            if kind.startswith("datetime"):
                gdf[col] = pd.to_datetime(gdf[col]).astype("datetime64[ns]")
        layers[name] = gdf
    return Context(crs=crs, **layers, **_landcover(config))


# --------------------------------------------------------------------------------------------
# Helpers


def _landcover(config: ProjectConfig) -> dict[str, Any]:
    """The land-cover part of the context. Without a raster, the standard class table is kept,
    so the ``landuse_frac_<class>`` columns exist (as NaN, "no data") and the default scoring
    still runs; the criteria stage warns that land cover is missing."""
    from ccm_geo.model import LANDCOVER_CLASSES

    lc = config.inputs.landcover
    if lc is None:
        return {"landcover_path": None, "landcover_classes": dict(LANDCOVER_CLASSES)}
    return {"landcover_path": lc.path, "landcover_classes": dict(lc.classes)}


def _regions_from_admin(hazards: gpd.GeoDataFrame, admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    unknown = hazards["region"].eq("unknown")
    if not unknown.any():
        return hazards
    pts = gpd.GeoDataFrame(
        {"i": hazards.index[unknown]},
        geometry=hazards.geometry[unknown].representative_point(),
        crs=hazards.crs,
    )
    joined = gpd.sjoin(pts, admin[["region", "geometry"]], how="left", predicate="within")
    joined = joined.drop_duplicates("i").set_index("i")
    hazards = hazards.copy()
    hazards.loc[joined.index, "region"] = joined["region"].fillna("unknown").to_numpy()
    return hazards


def _short_label(spec) -> str:
    """An input as progress names it: the file's name, or the database and table."""
    return spec.path.name if spec.path is not None else spec.label


def _input_files(config: ProjectConfig) -> list[Path]:
    inputs = []
    for name in type(config.inputs).model_fields:
        spec = getattr(config.inputs, name)
        if spec is None or getattr(spec, "postgis", None) is not None:
            continue  # a database table has no file to hash; its source is in the config
        if any(ch in spec.path.name for ch in "*?["):  # a glob: every file it reads
            inputs.extend(sorted(spec.path.parent.glob(spec.path.name)))
        else:
            inputs.append(spec.path)
    return inputs
