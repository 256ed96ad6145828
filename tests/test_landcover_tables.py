"""Land-cover class tables by name: a WorldCover raster works with the default criteria."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.config import RasterInput
from ccm_geo.landcover_tables import LANDCOVER_TABLES, landcover_table
from conftest import X0, Y0, register, write_raster

runner = CliRunner()


def test_named_tables_and_aliases():
    assert RasterInput(path="x.tif", classes="WorldCover").classes[40] == "cropland"
    assert landcover_table("IGBP")[12] == "cropland"
    assert landcover_table("cgls-lc100")[111] == "forest"
    for table in LANDCOVER_TABLES.values():
        assert "cropland" in table.values() and "paddy" in table.values()
    with pytest.raises(ValueError, match="'nlcd': not a known class table; use one of"):
        RasterInput(path="x.tif", classes="nlcd")


def test_worldcover_raster_runs_the_default_scoring(tmp_path):
    register(3).to_file(tmp_path / "hazards.gpkg")
    grid = np.full((10, 10), 10, dtype="uint8")  # tree cover
    grid[:, :5] = 40  # cropland on the western half of the first square
    write_raster(tmp_path / "wc.tif", grid, Affine(10, 0, X0, 0, -10, Y0 + 100))
    (tmp_path / "p.toml").write_text(
        """
[project]
crs = "EPSG:32648"
[inputs.hazards]
path = "hazards.gpkg"
columns = { hazard_id = "HAZ_ID", status = "STATUS", contamination = "CONTAM" }
codes = { status = { Confirmed = "CHA", Suspected = "SHA" } }
[inputs.landcover]
path = "wc.tif"
classes = "worldcover"
""",
        encoding="utf-8",
    )
    out = tmp_path / "o"
    stages = ["--stage", "load", "--stage", "criteria", "--stage", "score"]
    result = runner.invoke(app, ["-q", "run", str(tmp_path / "p.toml"), "--out", str(out), *stages])
    assert result.exit_code == 0, result.output + result.stderr
    crit = pd.read_csv(out / "criteria.csv", encoding="utf-8-sig").set_index("hazard_id")
    assert crit.loc["H000", "landuse_frac_cropland"] == pytest.approx(0.5)
    assert crit.loc["H000", "landuse_frac_forest"] == pytest.approx(0.5)
    assert crit.loc["H000", "landuse_frac_paddy"] == 0  # WorldCover's paddies are cropland
    assert np.isnan(crit.loc["H001", "landuse_frac_cropland"])  # off the raster: no data
    assert (out / "scored.gpkg").is_file()
