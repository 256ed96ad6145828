"""PostGIS: the demo register read from a real server, a run published back, all or nothing.

The server is a throw-away cluster (``pg_cluster.py``) started once per test session on a free
loopback port and stopped at its end; the tests skip, saying why, when none can be started
(``make postgis-deps`` installs Debian's postgresql and postgis when we are root).
"""

from __future__ import annotations

import hashlib
import json
import tomllib

import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from ccm_geo.cli import app
from ccm_geo.config import config_from_dict
from ccm_geo.errors import ConfigError, DatabaseError, InputError
from conftest import ROOT, UTM, register

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 not installed (extra [postgis])")

import pg_cluster  # noqa: E402
from ccm_geo import postgis  # noqa: E402
from pg_cluster import upload  # noqa: E402

DEMO = ROOT / "data" / "demo"
PASSWORD_ENV = "CCM_TEST_PGPASSWORD"
runner = CliRunner()


@pytest.fixture(scope="session")
def cluster():
    try:
        server = pg_cluster.start()
    except pg_cluster.ClusterUnavailableError as exc:
        pytest.skip(f"no PostgreSQL/PostGIS server can be started here: {exc}")
    yield server
    server.stop()


@pytest.fixture
def password(cluster, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, cluster.password)
    return cluster.password


@pytest.fixture
def db(cluster, password):
    """A connection as the planner, for the tests' own checks; drops the schema ``scratch``
    that a test may create."""
    with psycopg.connect(cluster.url, password=password, autocommit=True) as conn:
        yield conn
        conn.execute("DROP SCHEMA IF EXISTS scratch CASCADE")


def demo_config(cluster, *, hazards_from_db: bool, publish: dict | None = None):
    raw = tomllib.loads((DEMO / "project.toml").read_text("utf-8"))
    raw["donors"] = []
    if hazards_from_db:  # the register from a table, the accidents from a query
        spec = raw["inputs"]["hazards"]
        del spec["path"], spec["layer"]
        spec["postgis"] = {
            "url": cluster.url,
            "table": "register.hazards",
            "password_env": PASSWORD_ENV,
        }
        spec = raw["inputs"]["accidents"]
        del spec["path"]
        spec["postgis"] = {
            "url": cluster.url,
            "query": "SELECT * FROM register.accidents ORDER BY id",
            "password_env": PASSWORD_ENV,
        }
    if publish is not None:
        raw["publish"] = {"postgis": {"url": cluster.url, "password_env": PASSWORD_ENV, **publish}}
    return config_from_dict(raw, base=DEMO)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Without a server: names and passwords are checked when the config is read


@pytest.mark.parametrize("table", ["x; DROP TABLE y", 'x"; DROP TABLE y; --', "a.b.c", "1x"])
def test_a_table_name_that_is_not_a_plain_name_is_rejected(table):
    raw = {
        "inputs": {
            "hazards": {"postgis": {"url": "postgresql://planner@127.0.0.1/ccm", "table": table}}
        }
    }
    with pytest.raises(ConfigError, match="not a plain SQL name|more than one"):
        config_from_dict(raw)
    with pytest.raises(ConfigError):
        postgis.split_table_name(table)


def test_a_schema_name_to_publish_to_is_checked():
    raw = {
        "inputs": {"hazards": {"path": "h.gpkg"}},
        "publish": {"postgis": {"url": "postgresql://u@h/db", "schema": "ccm; DROP SCHEMA public"}},
    }
    with pytest.raises(ConfigError, match=r"publish\.postgis\.schema.*not a plain SQL name"):
        config_from_dict(raw)


def test_a_password_in_the_url_is_refused():
    raw = {
        "inputs": {
            "hazards": {
                "postgis": {"url": "postgresql://planner:s3cret@db/ccm", "table": "hazards"}
            }
        }
    }
    with pytest.raises(ConfigError, match="password in clear") as err:
        config_from_dict(raw)
    assert "s3cret" not in str(err.value)


def test_an_input_is_a_file_or_a_table_not_both():
    raw = {
        "inputs": {
            "hazards": {
                "path": "h.gpkg",
                "postgis": {"url": "postgresql://planner@db/ccm", "table": "hazards"},
            }
        }
    }
    with pytest.raises(ConfigError, match="exactly one of `path`"):
        config_from_dict(raw)


# --------------------------------------------------------------------------------------------
# Against the server


def test_a_wrong_password_is_one_line_naming_host_and_user(cluster, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    source = postgis.PostgisSource(url=cluster.url, table="hazards", password_env=PASSWORD_ENV)
    with pytest.raises(DatabaseError) as err:
        postgis.read_postgis(source)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"127.0.0.1:{cluster.port}" in msg and "'planner'" in msg
    assert "password authentication failed" in msg
    assert "not-the-password" not in msg and cluster.password not in msg


def test_the_cli_prints_a_connection_failure_in_one_line(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    project = tmp_path / "p.toml"
    project.write_text(
        f'[inputs.hazards.postgis]\nurl = "{cluster.url}"\ntable = "register.hazards"\n'
        f'password_env = "{PASSWORD_ENV}"\n'
    )
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to PostgreSQL")
    assert "'planner'" in lines[0] and "wrong" not in lines[0].replace("wrong password", "")


def test_a_missing_table_and_a_failing_query_are_named(cluster, password):
    source = postgis.PostgisSource(url=cluster.url, table="nowhere", password_env=PASSWORD_ENV)
    with pytest.raises(InputError, match="table nowhere.*table not found"):
        postgis.read_postgis(source)
    source = postgis.PostgisSource(
        url=cluster.url, query="SELECT 1 AS x; DROP TABLE y", password_env=PASSWORD_ENV
    )
    with pytest.raises(InputError, match="the query failed"):
        postgis.read_postgis(source)


def test_a_query_runs_read_only(cluster, db):
    db.execute("CREATE SCHEMA scratch")
    db.execute("CREATE TABLE scratch.t (id int, geom geometry(Point, 32648))")
    db.execute("INSERT INTO scratch.t VALUES (1, 'SRID=32648;POINT(600000 1650000)')")
    db.execute(
        "CREATE FUNCTION scratch.wipe() RETURNS bigint LANGUAGE sql AS "
        "'WITH d AS (DELETE FROM scratch.t RETURNING 1) SELECT count(*) FROM d'"
    )
    source = postgis.PostgisSource(
        url=cluster.url,
        query="SELECT t.*, scratch.wipe() AS n FROM scratch.t",
        password_env=PASSWORD_ENV,
    )
    with pytest.raises(InputError, match="cannot execute .* in a read-only transaction"):
        postgis.read_postgis(source)
    assert db.execute("SELECT count(*) FROM scratch.t").fetchone()[0] == 1


def test_a_register_reads_the_same_from_postgis_as_from_a_file(cluster, db, tmp_path):
    from ccm_geo.io import load_hazards
    from conftest import hazard_spec

    gdf = register(6, DEVICES=[0, 1, None, 3, 4, 5])
    path = tmp_path / "h.gpkg"
    gdf.to_file(path)
    upload(db, gdf, "hazards", schema="scratch")
    from_file, _ = load_hazards(hazard_spec(path), project_crs=UTM)
    spec = hazard_spec(path).model_copy(
        update={
            "path": None,
            "postgis": postgis.PostgisSource(
                url=cluster.url, table="scratch.hazards", password_env=PASSWORD_ENV
            ),
        }
    )
    from_db, report = load_hazards(spec, project_crs=UTM)
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_db.drop(columns="geometry")),
        pd.DataFrame(from_file.drop(columns="geometry")),
    )
    assert from_db.geometry.geom_equals_exact(from_file.geometry, 0).all()
    assert "scratch.hazards" in report.source and cluster.password not in report.source


@pytest.fixture(scope="module")
def demo_runs(cluster, tmp_path_factory):
    """The demo up to the plan with hazards from the GeoPackage; the whole demo with hazards
    from PostGIS, published back at the end of the run."""
    from ccm_geo.pipeline import run

    mp = pytest.MonkeyPatch()
    mp.setenv(PASSWORD_ENV, cluster.password)
    try:
        with psycopg.connect(cluster.url, password=cluster.password, autocommit=True) as conn:
            upload(conn, pyogrio.read_dataframe(DEMO / "hazards.gpkg"), "hazards")
            upload(conn, pyogrio.read_dataframe(DEMO / "accidents.gpkg"), "accidents")
        stages = ["load", "criteria", "score", "prioritise"]
        base = tmp_path_factory.mktemp("pg_demo")
        run(demo_config(cluster, hazards_from_db=False), base / "file", stages=stages)
        config = demo_config(cluster, hazards_from_db=True, publish={"schema": "results"})
        log = run(config, base / "db")  # every stage; [publish.postgis] publishes at the end
        yield base / "file", base / "db", log, config
        with psycopg.connect(cluster.url, password=cluster.password, autocommit=True) as conn:
            conn.execute("DROP SCHEMA register CASCADE")
            conn.execute("DROP SCHEMA IF EXISTS results CASCADE")
            conn.execute("DROP TABLE IF EXISTS layer_styles")
    finally:
        mp.undo()


def test_the_demo_from_postgis_gives_the_same_results_as_from_the_geopackage(demo_runs):
    file_out, db_out, log, _ = demo_runs
    for name in ("hazards.gpkg", "criteria.csv", "scores.csv", "plan/tasks.csv"):
        assert _digest(db_out / name) == _digest(file_out / name), name
    assert "register.hazards" in log.reports[0].source
    assert log.reports[0].rows_read == 450
    assert "(query) (accidents)" in log.reports[1].source
    assert log.reports[1].rows_read == 110


def test_a_published_run_reads_back_the_same(demo_runs, cluster, db):
    _, out, log, config = demo_runs
    run_id = _digest(out / "manifest.json")
    assert set(log.tables["published"]["table"]) == {"areas", "tasks", "plan", "milestones"}
    scored = pyogrio.read_dataframe(out / "scored.gpkg", layer="areas")
    back = postgis.read_postgis(
        postgis.PostgisSource(
            url=cluster.url,
            query=f"SELECT * FROM results.areas WHERE run_id = '{run_id}' ORDER BY fid",
            password_env=PASSWORD_ENV,
        )
    )
    assert back.crs == scored.crs == "EPSG:32648"
    assert set(back["run_id"]) == {run_id}
    back = back.drop(columns=["fid", "run_id"])
    assert list(back.columns[:-1]) == list(scored.columns[:-1])
    assert back.geometry.geom_equals(scored.geometry).all()
    assert (back.geometry.area == scored.geometry.area).all()
    for col in ("hazard_id", "score", "rank", "priority_class", "area_m2", "contamination"):
        pd.testing.assert_series_equal(back[col], scored[col], check_dtype=False)
    tasks = pd.read_csv(out / "plan" / "tasks.csv")
    n_tasks = db.execute(
        "SELECT count(*), count(DISTINCT task_id) FROM results.tasks WHERE run_id = %s", (run_id,)
    ).fetchone()
    assert n_tasks == (len(tasks), len(tasks))
    runs = db.execute("SELECT run_id, project, manifest FROM results.runs").fetchall()
    assert [r[0] for r in runs] == [run_id]
    assert runs[0][1] == config.project.name
    assert runs[0][2] == json.loads((out / "manifest.json").read_text("utf-8"))


def test_published_tables_have_srid_and_spatial_indexes_and_qgis_styles(demo_runs, db):
    geoms = db.execute(
        "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = 'results' "
        "ORDER BY 1"
    ).fetchall()
    names = ["areas", "areas_latest", "plan", "plan_latest", "tasks", "tasks_latest"]
    assert geoms == [(name, 32648) for name in names]
    gist = db.execute(
        "SELECT tablename FROM pg_indexes WHERE schemaname = 'results' "
        "AND indexdef LIKE '%USING gist%' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in gist] == ["areas", "plan", "tasks"]
    styles = db.execute(
        "SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, useasdefault, "
        "xpath('/qgis/renderer-v2/@attr', styleqml)::text[] FROM layer_styles ORDER BY 3"
    ).fetchall()
    assert styles == [("ccm", "results", name, "geom", True, ["priority_class"]) for name in names]


def test_earlier_runs_stay_and_a_failed_publication_writes_nothing(
    demo_runs, cluster, db, monkeypatch
):
    from ccm_geo.pipeline import publish_postgis

    _, out, _, config = demo_runs

    def counts():
        return db.execute(
            "SELECT (SELECT count(*) FROM results.runs), (SELECT count(*) FROM results.areas), "
            "(SELECT count(*) FROM results.tasks), (SELECT count(*) FROM layer_styles)"
        ).fetchone()

    before = counts()
    # A second run (another manifest) appends; the first stays queryable.
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    second = out.parent / "second"
    second.mkdir(exist_ok=True)
    for name in ("scored.gpkg", "plan"):
        src = out / name
        dst = second / name
        if src.is_dir():
            dst.mkdir(exist_ok=True)
            for f in src.iterdir():
                (dst / f.name).write_bytes(f.read_bytes())
        else:
            dst.write_bytes(src.read_bytes())
    manifest["project"] = "second run"
    (second / "manifest.json").write_text(json.dumps(manifest))
    result = publish_postgis(config, second)
    after = counts()
    assert after[0] == before[0] + 1 and after[1] == 2 * before[1] and after[2] == 2 * before[2]
    assert after[3] == before[3]  # one default style per table, replaced
    latest = db.execute(
        "SELECT count(*), min(r.project), max(r.project) FROM results.areas_latest a "
        "JOIN results.runs r USING (run_id)"
    ).fetchone()
    assert latest == (before[1], "second run", "second run")
    # Publishing fails after the areas and tasks are written: nothing of it remains.
    from ccm_geo.postgis import publish as publishing

    real = publishing._write_table

    def failing(cur, schema, name, frame, run_id):
        if name == "plan":
            raise psycopg.errors.DiskFull("could not extend file: No space left on device")
        return real(cur, schema, name, frame, run_id)

    monkeypatch.setattr(publishing, "_write_table", failing)
    manifest["project"] = "third run"
    (second / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatabaseError, match="nothing was written.*No space left"):
        publish_postgis(config, second)
    assert counts() == after
    projects = {r[0] for r in db.execute("SELECT project FROM results.runs").fetchall()}
    assert projects == {config.project.name, "second run"}
    assert result.rows["areas"] == before[1]


def test_a_run_that_fails_midway_leaves_the_database_as_it_was(
    demo_runs, cluster, db, monkeypatch, tmp_path
):
    from ccm_geo import pipeline

    *_, config = demo_runs
    state = db.execute("SELECT run_id FROM results.runs ORDER BY run_id").fetchall()

    def broken(*_args):
        raise RuntimeError("the planner crashed")

    monkeypatch.setitem(pipeline.STAGES, "prioritise", broken)
    with pytest.raises(RuntimeError, match="planner crashed"):
        pipeline.run(config, tmp_path / "broken", stages=["load", "criteria", "prioritise"])
    assert db.execute("SELECT run_id FROM results.runs ORDER BY run_id").fetchall() == state


def test_run_publish_postgis_needs_the_section(tmp_path):
    project = tmp_path / "p.toml"
    project.write_text(f'[inputs.hazards]\npath = "{DEMO / "hazards.gpkg"}"\n')
    result = runner.invoke(
        app, ["run", str(project), "--out", str(tmp_path), "--publish", "postgis"]
    )
    assert result.exit_code == 1
    assert "no [publish.postgis] section" in result.output


def test_publishing_a_run_again_replaces_it(demo_runs, cluster, db, tmp_path):
    _, out, _, _ = demo_runs
    project = tmp_path / "p.toml"
    project.write_text(
        f'[inputs.hazards]\npath = "{DEMO / "hazards.gpkg"}"\n\n[publish.postgis]\n'
        f'url = "{cluster.url}"\npassword_env = "{PASSWORD_ENV}"\nschema = "results"\n'
    )
    query = "SELECT (SELECT count(*) FROM results.runs), (SELECT count(*) FROM results.areas)"
    before = db.execute(query).fetchone()
    result = runner.invoke(app, ["publish", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    run_id = _digest(out / "manifest.json")
    assert f"published run {run_id[:12]} to schema results: areas 450, tasks" in result.output
    assert db.execute(query).fetchone() == before


def test_a_later_run_may_bring_columns_and_fractions_but_not_another_crs(cluster, db):
    target = postgis.PostgisTarget(url=cluster.url, schema="scratch", password_env=PASSWORD_ENV)
    first = register(3)[["HAZ_ID", "DEVICES", "geometry"]]
    postgis.publish_layers(target, {"t": first}, run_id="r1", manifest={"project": "a"})
    second = first.assign(DEVICES=[0.5, 1.0, 2.0], NOTE=["x", None, "z"])
    postgis.publish_layers(target, {"t": second}, run_id="r2", manifest={"project": "b"})
    rows = db.execute('SELECT run_id, "DEVICES", "NOTE" FROM scratch.t ORDER BY fid').fetchall()
    assert rows == [
        ("r1", 0.0, None),
        ("r1", 1.0, None),
        ("r1", 2.0, None),
        ("r2", 0.5, "x"),
        ("r2", 1.0, None),
        ("r2", 2.0, "z"),
    ]
    words = first.assign(DEVICES=["many", "few", "none"])
    with pytest.raises(DatabaseError, match="column DEVICES is double precision in the database"):
        postgis.publish_layers(target, {"t": words}, run_id="r3", manifest={})
    with pytest.raises(DatabaseError, match="SRID 32648, this run's CRS is EPSG:4326"):
        postgis.publish_layers(target, {"t": first.to_crs(4326)}, run_id="r4", manifest={})
    assert db.execute("SELECT count(*) FROM scratch.runs").fetchone()[0] == 2


def test_a_server_that_does_not_answer_is_one_line_naming_host_and_port():
    port = pg_cluster._free_port()  # nothing listens there
    source = postgis.PostgisSource(url=f"postgresql://planner@127.0.0.1:{port}/ccm", table="h")
    with pytest.raises(DatabaseError) as err:
        postgis.read_postgis(source)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"user 'planner' at 127.0.0.1:{port}, database 'ccm': Connection refused" in msg


QGIS_PYTHON = "/usr/bin/python3"  # Debian's python3-qgis installs QGIS's bindings for it


def test_qgis_opens_the_published_layers_with_their_style(demo_runs, cluster, tmp_path):
    import subprocess

    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            "QGIS's Python bindings are not installed (apt-get install python3-qgis "
            "qgis-providers to open the published layers in QGIS itself)"
        )
    from ccm_geo.publish.styles import PRIORITY_PALETTE

    script = ROOT / "tests" / "qgis_open_layer.py"
    env = {"PGPASSWORD": cluster.password, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for table in ("areas", "areas_latest", "plan_latest"):
        args = [QGIS_PYTHON, str(script), "127.0.0.1", str(cluster.port), "ccm", "planner"]
        done = subprocess.run(
            [*args, "results", table], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert seen["valid"] and seen["crs"] == "EPSG:32648"
        assert seen["features"] >= 450
        assert seen["renderer"] == "categorizedSymbol"
        assert seen["attribute"] == "priority_class"
        assert seen["categories"] == ["high", "medium", "low"]
        assert seen["colours"] == [PRIORITY_PALETTE[k] for k in ("high", "medium", "low")]


def test_validate_reads_a_postgis_register(demo_runs, cluster, password, tmp_path):
    raw = tomllib.loads((DEMO / "project.toml").read_text("utf-8"))
    mapping = raw["inputs"]["hazards"]
    project = tmp_path / "p.toml"
    project.write_text(
        f"[inputs.hazards]\ncolumns = {_toml_table(mapping['columns'])}\n"
        f"codes.status = {_toml_table(mapping['codes']['status'])}\n"
        f"codes.evidence = {_toml_table(mapping['codes']['evidence'])}\n\n"
        f'[inputs.hazards.postgis]\nurl = "{cluster.url}"\ntable = "register.hazards"\n'
        f'password_env = "{PASSWORD_ENV}"\n'
    )
    result = runner.invoke(app, ["validate", str(project)])
    assert result.exit_code == 0, result.output
    assert "(table register.hazards)" in result.output and "450" in result.output
    assert password not in result.output


def _toml_table(d: dict) -> str:
    return "{ " + ", ".join(f'{k} = "{v}"' for k, v in d.items()) + " }"


def test_init_guesses_a_project_from_a_postgis_table_that_validate_accepts(
    demo_runs, cluster, password, tmp_path
):
    from test_init import apply_edits

    project = tmp_path / "proj" / "project.toml"
    args = ["init", cluster.url, "--layer", "register.hazards", "--password-env", PASSWORD_ENV]
    result = runner.invoke(app, [*args, "--out", str(project)])
    assert result.exit_code == 0, result.output
    assert "450 rows read" in result.output and password not in result.output
    text = project.read_text(encoding="utf-8")
    source = tomllib.loads(text)["inputs"]["hazards"]
    assert "path" not in source
    assert source["postgis"] == {
        "url": cluster.url,
        "table": "register.hazards",
        "password_env": PASSWORD_ENV,
    }
    assert password not in text
    project.write_text(apply_edits(text), encoding="utf-8")
    checked = runner.invoke(app, ["validate", str(project)])
    assert checked.exit_code == 0, checked.output
    assert "(table register.hazards)" in checked.output


def test_init_on_a_database_needs_a_table_and_never_echoes_a_password(tmp_path):
    out = tmp_path / "p.toml"
    result = runner.invoke(app, ["init", "postgresql://planner@127.0.0.1/ccm", "--out", str(out)])
    assert result.exit_code == 1 and "--layer schema.table" in result.output
    url = "postgresql://planner:s3cret@127.0.0.1/ccm"
    result = runner.invoke(app, ["init", url, "--layer", "register.hazards", "--out", str(out)])
    assert result.exit_code == 1 and "password in clear" in result.output
    assert "s3cret" not in result.output and not out.exists()
