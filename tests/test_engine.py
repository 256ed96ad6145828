"""The Dask engine gives the same outputs as the in-process run, and fails in one line."""

from __future__ import annotations

import dataclasses
import hashlib
import warnings

import pandas as pd
import pytest
from benchmarks.bench_criteria import make_inputs

from ccm_geo.config import load_config
from ccm_geo.criteria import compute_criteria
from ccm_geo.engine import open_engine
from ccm_geo.engine.criteria import hilbert_order, partitioned_criteria
from ccm_geo.errors import EngineError
from ccm_geo.pipeline import run
from ccm_geo.scoring import ScoringSettings, sensitivity
from conftest import ROOT

PROJECT = ROOT / "data" / "demo" / "project.toml"
REF = pd.Timestamp("2025-01-01").date()


@pytest.fixture(scope="module")
def engine():
    with open_engine("dask", workers=2) as eng:
        yield eng


def _digests(folder):
    skip = {"manifest.json"}  # holds run times and the host
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def test_demo_outputs_are_byte_identical_in_process_and_on_two_workers(engine, tmp_path):
    config = load_config(PROJECT)
    stages = ["load", "criteria", "score", "prioritise"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = run(config, tmp_path / "inproc", stages=stages)
        b = run(config, tmp_path / "dask", stages=stages, engine=engine)
    da, db = _digests(tmp_path / "inproc"), _digests(tmp_path / "dask")
    assert "criteria.gpkg" in da and "scores.csv" in da
    assert da == db
    assert [w["message"] for w in a.warnings] == [w["message"] for w in b.warnings]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    return make_inputs(folder, 3_000, 3_000, 3_000, n_settlements=200, n_health=20, n_accidents=300)


def test_synthetic_register_in_partitions_equals_in_process(engine, synthetic):
    hazards, context = synthetic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = compute_criteria(hazards, context, reference_date=REF)
        b = partitioned_criteria(hazards, context, reference_date=REF, client=engine.client)
        c = partitioned_criteria(
            hazards, context, reference_date=REF, client=engine.client, partitions=7
        )
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, c, check_exact=True)


def test_hilbert_order_keeps_neighbours_together(synthetic):
    hazards, _ = synthetic
    order = hilbert_order(hazards.geometry)
    assert sorted(order) == list(range(len(hazards)))
    c = hazards.geometry.centroid.iloc[order]
    step = c.distance(c.shift(-1)).median()
    shuffled = hazards.geometry.centroid.sample(frac=1.0, random_state=0)
    assert step < shuffled.distance(shuffled.shift(-1)).median() / 5


def test_sensitivity_blocks_do_not_depend_on_where_they_run(engine):
    from benchmarks.bench_scoring import synthetic_areas

    areas = synthetic_areas(400, seed=3)
    settings = ScoringSettings(top_n=20)
    a = sensitivity(areas, settings, seed=5, draws=600)
    b = sensitivity(areas, settings, seed=5, draws=600, client=engine.client)
    pd.testing.assert_frame_equal(a.areas, b.areas, check_exact=True)
    assert a.summary == b.summary
    c = sensitivity(areas, settings, seed=6, draws=600)
    assert not a.areas["p_top_n"].equals(c.areas["p_top_n"])


def test_a_raster_a_worker_cannot_read_is_one_line_naming_worker_and_path(engine, synthetic):
    hazards, context = synthetic
    bad = dataclasses.replace(context, landcover_path=context.landcover_path.parent / "gone.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EngineError) as err:
            partitioned_criteria(hazards.iloc[:200], bad, reference_date=REF, client=engine.client)
    msg = str(err.value)
    assert "\n" not in msg
    assert "gone.tif" in msg
    worker_addrs = list(engine.client.scheduler_info()["workers"])
    assert any(addr in msg for addr in worker_addrs)


def test_unknown_engine_and_inprocess_with_scheduler_are_one_line_errors():
    with pytest.raises(EngineError, match="unknown engine 'spark'"):
        open_engine("spark")
    with pytest.raises(EngineError, match="needs --engine dask"):
        open_engine("inprocess", scheduler="tcp://127.0.0.1:1")


def test_missing_dask_extra_is_one_line_with_the_install_hint(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(EngineError) as err:
        open_engine("dask")
    msg = str(err.value)
    assert "\n" not in msg and "pip install 'ccm-geo[dask]'" in msg
