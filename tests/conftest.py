"""Shared fixtures: tiny hazard registers in a metric CRS whose answers are known exactly."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
#: Debian's Chromium, and how the browser tests start it: as root (no sandbox), with nothing
#: that calls the network, and with no throttling of timers or animation frames, which would
#: stall pages on a loaded CI machine.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
SHARED_DATA = ROOT.parent / "shared" / "data"
UTM = "EPSG:32648"
X0, Y0 = 600_000.0, 1_650_000.0


def square(i: int, side: float = 100.0):
    """A ``side`` × ``side`` m square, the i-th along a row (exact area side²)."""
    x = X0 + i * 1_000.0
    return box(x, Y0, x + side, Y0 + side)


def register(n: int = 4, **overrides) -> gpd.GeoDataFrame:
    """A clean register in the user's own field names (mapped by ``MAPPING``)."""
    data = {
        "HAZ_ID": [f"H{i:03d}" for i in range(n)],
        "STATUS": ["Confirmed" if i % 2 else "Suspected" for i in range(n)],
        "CONTAM": ["CMR" if i % 3 else "AP;CMR" for i in range(n)],
        "EVIDENCE": ["Direct" if i % 2 else "Indirect" for i in range(n)],
        "DEVICES": [i for i in range(n)],
        "DISTRICT": ["North" if i < n / 2 else "South" for i in range(n)],
    }
    data.update(overrides)
    return gpd.GeoDataFrame(data, geometry=[square(i) for i in range(n)], crs=UTM)


MAPPING = {
    "columns": {
        "hazard_id": "HAZ_ID",
        "status": "STATUS",
        "contamination": "CONTAM",
        "evidence": "EVIDENCE",
        "devices_found": "DEVICES",
        "region": "DISTRICT",
    },
    "codes": {"status": {"Confirmed": "CHA", "Suspected": "SHA"}},
}


#: ``MAPPING`` as project-file lines, to follow ``path = ...`` under ``[inputs.hazards]``
MAPPING_TOML = (
    'codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }\n\n[inputs.hazards.columns]\n'
    + "".join(f'{k} = "{v}"\n' for k, v in MAPPING["columns"].items())
)


def hazard_spec(path: Path, **extra):
    from ccm_geo.config import HazardInput

    return HazardInput(path=path, **{**MAPPING, **extra})


@pytest.fixture
def write_register(tmp_path):
    """Write a register GeoDataFrame to a file and return its path."""

    def _write(gdf: gpd.GeoDataFrame, name: str = "hazards.gpkg", **kwargs) -> Path:
        path = tmp_path / name
        gdf.to_file(path, **kwargs)
        return path

    return _write


def write_raster(path: Path, grid, transform, crs: str = UTM) -> Path:
    """A single-band uint8 GeoTIFF (0 = nodata) of ``grid`` at ``transform``."""
    import numpy as np
    import rasterio

    grid = np.asarray(grid, dtype="uint8")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=grid.shape[1],
        height=grid.shape[0],
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        nodata=0,
    ) as ds:
        ds.write(grid, 1)
    return path
