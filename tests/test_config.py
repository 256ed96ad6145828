"""The project file: paths resolved, unknown keys and wrong forms named by their key path."""

from __future__ import annotations

import pytest

from ccm_geo.config import load_config
from ccm_geo.errors import ConfigError, InputFileNotFoundError


def _write(tmp_path, text: str):
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_project_resolves_paths(tmp_path):
    cfg = load_config(_write(tmp_path, '[inputs.hazards]\npath = "data/h.gpkg"\n'))
    assert cfg.inputs.hazards.path == (tmp_path / "data" / "h.gpkg").resolve()
    assert cfg.inputs.hazards.point_area_m2 == 10_000
    assert cfg.source == (tmp_path / "project.toml").resolve()


def test_unknown_key_is_named_with_its_path(tmp_path):
    path = _write(tmp_path, '[inputs.hazards]\npath = "h.gpkg"\npoint_area = 5\n')
    with pytest.raises(
        ConfigError,
        match=r"project\.toml: .*inputs\.hazards\.point_area: "
        r"unknown key",
    ):
        load_config(path)


def test_wrong_form_names_key_and_value(tmp_path):
    path = _write(tmp_path, '[inputs.hazards]\npath = "h.gpkg"\npoint_area_m2 = -3\n')
    with pytest.raises(
        ConfigError,
        match=r"inputs\.hazards\.point_area_m2: .*greater than 0 "
        r"\(found -3\)",
    ):
        load_config(path)


def test_missing_section_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"inputs: required key is missing"):
        load_config(_write(tmp_path, '[project]\nname = "x"\n'))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[inputs\n"))
    with pytest.raises(InputFileNotFoundError, match="project file not found"):
        load_config(tmp_path / "nope.toml")


def test_landcover_class_names_must_be_snake_case(tmp_path):
    text = (
        '[inputs.hazards]\npath = "h.gpkg"\n[inputs.landcover]\npath = "lc.tif"\n'
        '[inputs.landcover.classes]\n1 = "Crop Land"\n'
    )
    with pytest.raises(ConfigError, match=r"inputs\.landcover\.classes.*'Crop Land'"):
        load_config(_write(tmp_path, text))
