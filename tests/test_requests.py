"""Donor request packages: totals agree across formats, offline, escaped, in the browser."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from ccm_geo.errors import ConfigError
from ccm_geo.io import read_gpkg
from ccm_geo.model import Context
from ccm_geo.publish.donors import match_donors
from ccm_geo.publish.requests import (
    render_request_html,
    request_content,
    victim_assistance_needs,
    write_requests,
)
from ccm_geo.publish.settings import DonorProfile
from conftest import CHROMIUM, CHROMIUM_ARGS

CRS = "EPSG:32648"
X0, Y0 = 600_000.0, 1_650_000.0
EVIL = "<script>alert(1)</script>"

# --------------------------------------------------------------------------- fixtures


def make_areas() -> gpd.GeoDataFrame:
    """8 scored areas: sides 100..170 m (exact areas), three regions, CMR / mines / mixed."""
    n = 8
    sides = [100.0 + 10 * i for i in range(n)]
    geoms = [box(X0 + i * 1000, Y0, X0 + i * 1000 + s, Y0 + s) for i, s in enumerate(sides)]
    contam = ["CMR", "AP;CMR", "AP", "CMR", "CMR", "AT", "CMR", "AP;CMR"]
    region = ["North", "North", "South", "South", "East", "East", "North", "South"]
    c1 = np.linspace(0.5, 0.1, n)
    c2 = np.linspace(0.05, 0.3, n)
    score = c1 + c2
    rank = pd.Series(-score).rank(method="first").astype(int).to_numpy()
    df = gpd.GeoDataFrame(
        {
            "hazard_id": [f"HZ-{i}" for i in range(n)],
            "name": [EVIL if i == 0 else f"Ban Na & field {i}" for i in range(n)],
            "status": ["CHA" if i % 2 else "SHA" for i in range(n)],
            "contamination": contam,
            "region": region,
            "contrib_accidents": c1,
            "contrib_landuse": c2,
            "score": score,
            "rank": rank,
            "priority_class": np.where(rank <= 3, "high", np.where(rank <= 6, "medium", "low")),
            "explanation": [f"accidents near <b>{i}</b>" for i in range(n)],
            "population_within_5km": [1000 + 100 * i for i in range(n)],
        },
        geometry=geoms,
        crs=CRS,
    )
    df["area_m2"] = df.geometry.area
    return df


def make_tasks(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One clearance task per area, plus an NTS task for the first two; one left unplanned."""
    rows = []
    for i, a in areas.reset_index(drop=True).iterrows():
        mixed = "AP" in a["contamination"] or "AT" in a["contamination"]
        cmr = a["area_m2"] if "CMR" in a["contamination"] else 0.0
        mine = a["area_m2"] if mixed else 0.0
        base = {
            "hazard_id": a["hazard_id"],
            "region": a["region"],
            "area_m2": a["area_m2"],
            "cmr_m2": cmr,
            "mine_m2": mine,
            "score": a["score"],
            "rank": a["rank"],
            "geometry": a.geometry,
        }
        if i < 2:
            rows.append(
                {
                    **base,
                    "task_id": f"{a['hazard_id']}-nts",
                    "method": "nts",
                    "kind": "nts",
                    "team_type": "nts",
                    "cost_usd": 1_000.0 + i,
                    "team_days": 2.0,
                    "year": 2027,
                }
            )
        rows.append(
            {
                **base,
                "task_id": f"{a['hazard_id']}-clr",
                "method": "clearance_manual",
                "kind": "clearance",
                "team_type": "manual",
                "cost_usd": round(a["area_m2"] * 2.16, 2),
                "team_days": a["area_m2"] / 1850,
                "year": 2027 if i % 2 else 2028,
            }
        )
    t = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    t.loc[t["task_id"] == "HZ-7-clr", "year"] = np.nan  # not selected by the plan
    t["selected"] = t["year"].notna()
    # An NTS task cancels 30 % of its area; the clearance after it works on and releases the
    # rest (so the same land is "worked" twice, but released once).
    has_nts = t["hazard_id"].isin(t.loc[t["method"] == "nts", "hazard_id"])
    share = np.where(t["method"] == "nts", 0.3, np.where(has_nts, 0.7, 1.0))
    t["released_m2"] = t["area_m2"] * share
    t.loc[(t["method"] != "nts") & has_nts, "area_m2"] *= 0.7
    t["cmr_m2"] = np.where(t["cmr_m2"] > 0, t["released_m2"], 0.0)
    t["mine_m2"] = np.where(t["mine_m2"] > 0, t["released_m2"], 0.0)
    t["expected_clear_m2"] = np.where(t["method"] == "nts", 0.0, t["released_m2"])
    t["benefit"] = t["area_m2"] * (0.05 + 0.95 * t["score"])
    t["channel"] = None
    t.loc[t["task_id"] == "HZ-3-clr", "channel"] = "military"
    t["assumptions"] = "1,850 m²/team-day; US$400/team-day"
    t["team"] = "manual-1"
    return t


def make_milestones(tasks: pd.DataFrame) -> pd.DataFrame:
    t = tasks[tasks["selected"]]
    g = (
        t.groupby("year")
        .agg(
            released_m2=("released_m2", "sum"),
            cmr_m2=("cmr_m2", "sum"),
            mine_m2=("mine_m2", "sum"),
            tasks_completed=("task_id", "size"),
            cost_usd=("cost_usd", "sum"),
        )
        .reset_index()
    )
    g["region"] = "all"
    g["progress_share"] = g["released_m2"].cumsum() / tasks["area_m2"].sum()
    return g


def make_context() -> Context:
    settlements = gpd.GeoDataFrame(
        {
            "settlement_id": ["S1", "S2", "S3"],
            "name": ["Ban Phon", EVIL, "Ban Kham"],
            "population": [500, 300, 200],
            "region": ["North", "South", "East"],
        },
        geometry=[Point(X0, Y0 - 1000), Point(X0 + 30_000, Y0), Point(X0 + 2000, Y0 + 500)],
        crs=CRS,
    )
    health = gpd.GeoDataFrame(
        {"facility_id": ["H1"], "name": ["District hospital"]}, geometry=[Point(X0, Y0)], crs=CRS
    )
    accidents = gpd.GeoDataFrame(
        {
            "accident_id": ["A1", "A2", "A3", "A4"],
            "date": pd.to_datetime(["2020-01-01", "2021-05-01", "2022-03-01", "2023-01-01"]),
            "killed": [1, 0, 0, 2],
            "injured": [2, 1, 3, 0],
            "device_type": ["CMR"] * 4,
            "survivor_settlement_id": ["S1", "S1", "S2", None],
        },
        geometry=[Point(X0 + i * 100, Y0 + 50) for i in range(4)],
        crs=CRS,
    )
    return Context(crs=CRS, accidents=accidents, settlements=settlements, health=health)


def make_donors() -> list[DonorProfile]:
    return [
        DonorProfile(
            name="Northern Clearance Fund",
            contamination="cmr",
            thematic=["clearance"],
            regions=["North", "South"],
            budget_usd=60_000,
            min_grant_usd=20_000,
            currency="EUR",
            exchange_rate=0.92,
            exchange_rate_source="fixed, test",
            labels={"tasks": "Tâches"},
            excludes_military=True,
        ),
        DonorProfile(
            name="Mine Action NGO Trust",
            thematic=["clearance", "survey"],
            channels_allowed=["ngo"],
            budget_usd={2027: 30_000, 2028: 30_000},
            max_grant_usd=50_000,
        ),
        DonorProfile(
            name="Survivors & Schools Initiative",
            thematic=["victim_assistance", "risk_education"],
            budget_usd=100_000,
        ),
    ]


DEADLINE = {
    "meets": False,
    "deadline": "2030-08-01",
    "cmr_total_m2": 100_000.0,
    "cmr_released_m2": 60_000.0,
    "cmr_remaining_m2": 40_000.0,
    "budget_needed_per_year": 250_000.0,
    "funding_gap": {2027: 50_000.0, 2028: 0.0},
}


@pytest.fixture(scope="module")
def inputs():
    areas = make_areas()
    tasks = make_tasks(areas)
    return areas, tasks, make_milestones(tasks), DEADLINE, make_context(), make_donors()


@pytest.fixture(scope="module")
def written(inputs, tmp_path_factory):
    _areas, tasks, _milestones, _deadline, _context, donors = inputs
    out = tmp_path_factory.mktemp("out")
    alloc = match_donors(tasks, donors, seed=1)
    paths = write_requests(
        *inputs,  # areas, tasks, milestones, deadline, context, donors
        out,
        project_name="Province & <Test>",
        allocation=alloc,
    )
    return out, paths, alloc


# --------------------------------------------------------------------------- tests


def test_layout(written):
    out, paths, alloc = written
    for d in alloc.donors:
        names = sorted(p.name for p in paths[d.key])
        assert names == ["request.html", "request.pdf", "tasks.gpkg", "tasks.xlsx"]
        assert all(
            p.parent == out / "requests" / d.key and p.stat().st_size > 0 for p in paths[d.key]
        )
    assert paths["programme"] == [out / "requests" / "programme.html"]
    assert not list((out / "requests").rglob(".*")), "temporary files left behind"
    assert (out / "requests" / "programme.html").read_bytes()[:15] == b"<!DOCTYPE html>"


def _html_totals(text: str) -> dict[str, float]:
    return {
        k: float(v) for k, v in re.findall(r'data-key="([a-z_0-9]+)" data-value="([-0-9.]+)"', text)
    }


def test_totals_agree_html_xlsx_gpkg(written):
    import openpyxl

    out, paths, alloc = written
    totals = alloc.totals().set_index("donor")
    assert totals["tasks"].sum() > 0
    for d in alloc.donors:
        folder = out / "requests" / d.key
        pkg = alloc.package(d.key)
        cost, cmr, mine = (round(float(pkg[c].sum()), 2) for c in ("cost_usd", "cmr_m2", "mine_m2"))
        assert round(totals.loc[d.key, "cost_usd"], 2) == cost
        html_t = _html_totals((folder / "request.html").read_text(encoding="utf-8"))
        if len(pkg):
            assert round(html_t["cost_usd"], 2) == cost
            assert round(html_t.get("cmr_m2", 0.0), 2) == cmr
            assert round(html_t.get("mine_m2", 0.0), 2) == mine
            assert int(html_t["tasks"]) == len(pkg)
            # land released once, though survey and clearance both work on it
            released = round(float(pkg["released_m2"].sum()), 2)
            assert round(html_t["released_m2"], 2) == released
            assert released <= round(float(pkg["area_m2"].sum()), 2)
            # the ask adds the donor's indirect cost line to the direct cost
            assert html_t["ask_usd"] == pytest.approx(cost * (1 + d.indirect_cost_share), abs=0.01)
        else:
            assert html_t["ask_usd"] > 0  # costed needs packages, never US$0
        gpkg = read_gpkg(folder / "tasks.gpkg", layer="tasks")
        assert sorted(gpkg["task_id"]) == sorted(pkg["task_id"])
        assert round(float(gpkg["cost_usd"].sum()), 2) == cost
        assert round(float(gpkg["cmr_m2"].sum()), 2) == cmr
        assert round(float(gpkg["mine_m2"].sum()), 2) == mine
        if len(gpkg):
            assert gpkg.crs.to_epsg() == 32648
            assert (gpkg["area_m2"] <= gpkg.geometry.area + 0.01).all()  # area worked
        wb = openpyxl.load_workbook(folder / "tasks.xlsx")
        values = openpyxl.load_workbook(folder / "tasks.xlsx", data_only=True)
        assert wb.sheetnames[0] == "Summary" and "Assumptions" in wb.sheetnames
        assert all(ws.max_row > 1 for ws in wb.worksheets), "no empty sheet"
        ws, wv = wb["Tasks"], values["Tasks"]
        header = [c.value for c in ws[1]]
        col = header.index("Cost, US$")
        costs = [r[col] for r in wv.iter_rows(min_row=2, max_row=ws.max_row - 1, values_only=True)]
        assert round(sum(v for v in costs if isinstance(v, float)), 2) == cost
        assert ws.freeze_panes == "A2"
        assert ws.tables["Tasks"].totalsRowCount == 1
        if len(pkg):
            f = ws.cell(row=2, column=col + 1)
            assert f.value.startswith("=") and "VLOOKUP" in f.value and "US$" in f.number_format
            # the totals row sums the column
            total = wv.cell(row=ws.max_row, column=col + 1).value
            assert total == pytest.approx(cost, abs=0.01)
        budget = values["Budget"]
        rows = {r[0]: r[-1] for r in budget.iter_rows(min_row=2, values_only=True)}
        assert rows["Total requested"] == pytest.approx(html_t["ask_usd"], abs=0.01)
        assumptions = list(wb["Assumptions"].iter_rows(min_row=2, values_only=True))
        assert any(r[0] == "Indirect costs" and isinstance(r[1], float) for r in assumptions)


def test_programme_totals_and_form_f(written):
    out, paths, alloc = written
    text = paths["programme"][0].read_text(encoding="utf-8")
    t = _html_totals(text)
    gap = alloc.funding_gap()
    overall = gap[(gap["year"] == "all") & (gap["region"] == "all")].iloc[0]
    assert round(t["planned_usd"], 2) == round(overall["planned_usd"], 2)
    assert round(t["funded_usd"], 2) == round(float(alloc.totals()["cost_usd"].sum()), 2)
    assert round(t["gap_usd"], 2) == round(overall["planned_usd"] - t["funded_usd"], 2)
    assert 'id="table-form_f"' in text and "Mines m² (Mine Ban Convention)" in text
    # the gap table's per-year rows add up to the whole
    per_year = gap[(gap["region"] == "all") & (gap["year"] != "all")]
    assert per_year["gap_usd"].sum() == pytest.approx(overall["gap_usd"])


class _Refs(HTMLParser):
    """Collect src/href attribute values, and the documents of iframe srcdoc attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.docs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)
            if name == "srcdoc" and value:
                self.docs.append(value)


def _external_refs(text: str) -> list[str]:
    """src/href values pointing at http(s), also inside embedded srcdoc documents."""
    parser = _Refs()
    parser.feed(text)
    found = [r for r in parser.refs if re.match(r"(?i)\s*https?:", r)]
    found += re.findall(r"""url\(\s*["']?(https?://[^)"']*)""", text, flags=re.IGNORECASE)
    for doc in parser.docs:
        found += _external_refs(doc)
    return found


def test_offline_and_escaped(written):
    out, paths, alloc = written
    pages = [p for ps in paths.values() for p in ps if p.suffix == ".html"]
    assert len(pages) == 4
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert _external_refs(text) == [], page
        assert EVIL not in text, page
        parser = _Refs()
        parser.feed(text)
        assert all(EVIL not in doc for doc in parser.docs), page
        assert "Province &amp; &lt;Test&gt;" in text
    # the evil hazard name is in a package and shown as text
    holders = [d.key for d in alloc.donors if "HZ-0" in set(alloc.package(d.key)["hazard_id"])]
    assert holders, "fixture: HZ-0 should be proposed to someone"
    text = (out / "requests" / holders[0] / "request.html").read_text(encoding="utf-8")
    outside = re.sub(r'srcdoc="[^"]*"', "", text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outside


def test_labels_currency_and_sections(written):
    out, paths, alloc = written
    text = (out / "requests" / "northern-clearance-fund" / "request.html").read_text("utf-8")
    assert ">Tâches</h2>" in text  # the donor's label for the task annex
    assert "EUR" in text and "0.92" in text
    for section in (
        "summary",
        "map",
        "deadline",
        "gap",
        "context",
        "results",
        "activities",
        "workplan",
        "budget",
        "beneficiaries",
        "monitoring",
        "risks",
        "contact",
        "tasks",
        "assumptions",
    ):
        assert f'id="{section}"' in text, section
    assert "people live within 5" in text
    assert "accidents" in text  # why these areas first: the criteria that weigh most
    assert "August 1, 2030" in text and "The deadline is not met" in text
    # a CMR-only package is judged under the CCM only
    assert "Article 4" in text and "Article 5" not in text and "Mine Ban" not in text
    va = (out / "requests" / "survivors-schools-initiative" / "request.html").read_text("utf-8")
    assert 'id="table-victim_assistance"' in va and 'id="table-risk_education"' in va
    assert "Ban Phon" in va
    assert "US$0" not in va and "Victim assistance" in va


def test_donor_constraints_respected(written):
    out, paths, alloc = written
    by_key = {d.key: d for d in alloc.donors}
    cand = alloc.candidates.set_index("task_id")
    for key, d in by_key.items():
        pkg = alloc.package(key)
        total = pkg["cost_usd"].sum()
        assert total == 0 or d.min_grant_usd <= total + 1e-6
        if d.contamination == "cmr":
            assert (pkg["cmr_m2"] > 0).all()
        if d.regions:
            assert set(pkg["region"]) <= set(d.regions)
        if d.excludes_military:
            assert "military" not in set(pkg["channel"])
    assert alloc.package("survivors-schools-initiative").empty
    assert "HZ-7-clr" not in cand.index  # unplanned task is not offered


def test_one_donor_only_still_matches_all(inputs, written, tmp_path):
    _out, _paths, alloc = written
    got = write_requests(
        *inputs,  # areas, tasks, milestones, deadline, context, donors
        tmp_path,
        project_name="P",
        donor="Mine Action NGO Trust",
        pdf=False,
        interactive_map=False,
        allocation=None,
        seed=1,
    )
    assert set(got) == {"mine-action-ngo-trust", "programme"}
    gpkg = read_gpkg(got["mine-action-ngo-trust"][-1], layer="tasks")
    assert sorted(gpkg["task_id"]) == sorted(alloc.package("mine-action-ngo-trust")["task_id"])
    with pytest.raises(ConfigError, match="not in the project's"):
        write_requests(
            *inputs,  # areas, tasks, milestones, deadline, context, donors
            tmp_path,
            project_name="P",
            donor="Nobody",
        )


def test_a_second_run_writes_identical_files(inputs, written, tmp_path):
    out, paths, alloc = written
    pdf = next(p for p in paths["northern-clearance-fund"] if p.suffix == ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.read_bytes().rstrip().endswith(b"%%EOF")
    write_requests(
        *inputs,  # areas, tasks, milestones, deadline, context, donors
        tmp_path,
        project_name="Province & <Test>",
        allocation=alloc,
        donor="northern-clearance-fund",
    )
    for name in ("tasks.gpkg", "request.html", "request.pdf"):
        a = out / "requests" / "northern-clearance-fund" / name
        b = tmp_path / "requests" / "northern-clearance-fund" / name
        assert a.read_bytes() == b.read_bytes(), name
    con = sqlite3.connect(out / "requests" / "northern-clearance-fund" / "tasks.gpkg")
    assert con.execute("select count(*) from tasks").fetchone()[0] == len(
        alloc.package("northern-clearance-fund")
    )
    con.close()


def test_pdfs_printed_by_a_worker_process_are_the_same_bytes(
    inputs, written, tmp_path, monkeypatch
):
    """A national-scale run prints the PDFs in a worker process (here forced by a threshold of
    0 tasks): every donor's PDF is the one printed in the process itself, and a print that
    fails raises its error from the stage and leaves no PDF."""
    from ccm_geo import background
    from ccm_geo.publish.requests.render import print_pdf

    out, paths, alloc = written
    monkeypatch.setattr(background, "PARALLEL_MIN_TASKS", 0)
    used = []
    real = background.Background.__init__

    def spy(self, enabled):
        real(self, enabled)
        used.append(self.parallel)

    monkeypatch.setattr(background.Background, "__init__", spy)
    got = write_requests(
        *inputs,  # areas, tasks, milestones, deadline, context, donors
        tmp_path,
        project_name="Province & <Test>",
        allocation=alloc,
    )
    pdfs = [q for key in got if key != "programme" for q in got[key] if q.suffix == ".pdf"]
    assert len(pdfs) == 3 and used == [True]  # the worker printed them
    for pdf in pdfs:
        same = out / "requests" / pdf.parent.name / "request.pdf"
        assert pdf.read_bytes() == same.read_bytes(), pdf.parent.name
    # a print that fails in the worker: its error, raised when the printer closes
    bad = tmp_path / "bad" / "request.pdf"
    bad.parent.mkdir()
    html = '<html><body><img src="ccm:img/missing"></body></html>'
    # WeasyPrint says it with an error that is not an Exception (it must stop the layout)
    with pytest.raises(BaseException, match="ccm:img/missing"), background.Background(True) as p:
        p.submit(print_pdf, html, {}, bad)
    assert not list(bad.parent.iterdir())  # no PDF, no temporary file


def test_victim_assistance_needs():
    va = victim_assistance_needs(make_context(), remote_min=60.0, speed_kmh=20.0)
    assert list(va["settlement_id"]) == ["S1", "S2"]  # most survivors first; None dropped
    s1 = va.iloc[0]
    assert (s1["survivors"], s1["killed"], s1["accidents"]) == (3, 1, 2)
    assert s1["travel_min_health"] == pytest.approx(1.0 / 20 * 60)  # 1 km at 20 km/h
    assert not s1["remote"]
    s2 = va.iloc[1]
    assert s2["travel_min_health"] == pytest.approx(30.0 / 20 * 60) and s2["remote"]
    assert s2["name"] == EVIL and "straight line" in s2["travel_source"]
    ctx = make_context()
    ctx.settlements["travel_min_health"] = [75.0, 10.0, 5.0]
    va2 = victim_assistance_needs(ctx)
    assert list(va2["remote"]) == [True, False]
    assert victim_assistance_needs(None).empty


def test_request_without_map_or_tasks(inputs):
    areas, tasks, milestones, deadline, context, donors = inputs
    alloc = match_donors(tasks, donors, seed=1)
    d = donors[2]
    content = request_content(
        d, alloc, areas, tasks, milestones, deadline, context, project_name="P"
    )
    text = render_request_html(content)
    # S1: 2 + 1 injured, S2: 3; costed at US$400 each, plus 7% indirect costs
    assert "for US$2,568 to assist 6 survivors" in text
    assert "<iframe" not in text

    nobody = DonorProfile(
        name="Nobody's fund", contamination="cmr", regions=["Nowhere"], budget_usd=1
    )
    alloc = match_donors(tasks, [*donors, nobody], seed=1)
    content = request_content(
        nobody, alloc, areas, tasks, milestones, deadline, context, project_name="P"
    )
    assert "No planned task fits" in render_request_html(content)


@pytest.mark.browser
def test_request_renders_offline_in_chromium(written):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    out, paths, alloc = written
    key = max(alloc.donors, key=lambda d: len(alloc.package(d.key))).key
    pages = [out / "requests" / key / "request.html", out / "requests" / "programme.html"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            for path in pages:
                page = browser.new_page()
                blocked, errors = [], []

                def route(r, blocked=blocked):
                    if r.request.url.startswith(("file:", "data:", "about:")):
                        r.continue_()
                    else:
                        blocked.append(r.request.url)
                        r.abort()

                page.route("**/*", route)
                page.on(
                    "console",
                    lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None,
                )
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(path.as_uri(), timeout=60_000)
                page.wait_for_load_state("load", timeout=60_000)
                assert page.locator("h1").count() == 1
                assert page.locator("table").count() >= 3
                if path.name == "request.html":
                    assert page.locator("iframe.ccm-map").count() == 1
                    page.locator("iframe.ccm-map").scroll_into_view_if_needed(timeout=60_000)
                    frame = next(f for f in page.frames if f != page.main_frame)
                    # Leaflet's layers exist once the map object does (counted below, as layer
                    # objects); not ccmReady, which waits for animation frames that Chromium may
                    # throttle in a sandboxed frame. Generous: CI machines are shared.
                    frame.wait_for_function("() => window.ccm && window.ccm.map", timeout=60_000)
                    drawn = frame.evaluate(
                        "() => { let n = 0; window.ccm.map.eachLayer(l => "
                        "{ if (l instanceof L.Path) n++; }); return n; }"
                    )
                    assert drawn >= len(set(alloc.package(key)["hazard_id"]))
                    dialogs = page.evaluate("() => document.body.innerText")
                    assert EVIL in dialogs or key != "northern-clearance-fund"
                assert blocked == [], blocked
                assert errors == [], errors
                page.close()
        finally:
            browser.close()


def test_risk_education_keeps_areas_the_plan_does_not_finish():
    from ccm_geo.publish.requests import _risk_education

    areas = make_areas()
    tasks = make_tasks(areas)
    # HZ-0: its survey is planned in the first year, its clearance is not planned at all
    tasks.loc[tasks["task_id"] == "HZ-0-clr", ["year", "selected"]] = [np.nan, False]
    alloc = match_donors(tasks, make_donors())
    donor = DonorProfile(name="RE", thematic=["risk_education"], budget_usd=1)
    re_table = _risk_education(areas, tasks, alloc, donor, None)
    by_area = tasks.groupby("hazard_id")["year"]
    unfinished = by_area.agg(lambda y: y.isna().any())
    assert set(unfinished[unfinished].index) == {"HZ-0", "HZ-7"}
    # expected, by hand: areas finished after the first plan year, or not finished at all
    first = tasks["year"].min()
    left = unfinished | (by_area.max() > first)
    region = areas.set_index("hazard_id")["region"]
    expected = left[left].index.map(region).value_counts().sort_index()
    got = re_table.set_index("region")["areas"]
    assert got.to_dict() == expected.to_dict()
    assert got[region["HZ-0"]] == expected[region["HZ-0"]]


def test_beneficiaries_count_each_village_once():
    from ccm_geo.publish.requests import _unique_beneficiaries

    pkg = gpd.GeoDataFrame(
        {"hazard_id": ["A", "B"]},
        geometry=[box(0, 0, 100, 100), box(300, 0, 400, 100)],
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {"settlement_id": ["V1", "V2"], "name": ["near both", "far"], "population": [500, 900]},
        geometry=[Point(200, 50), Point(20_000, 0)],
        crs=CRS,
    )
    ctx = Context(crs=CRS, settlements=villages)
    assert _unique_beneficiaries(pkg, ctx, "population_within_5km") == 500.0
    assert _unique_beneficiaries(pkg, ctx, "population_within_30min") is None


def _script_inputs():
    """The fixture with Khmer, Lao and Arabic place names."""
    areas = make_areas()
    areas.loc[1, "name"] = "ភូមិថ្មី"  # Khmer: "new village"
    areas.loc[2, "name"] = "ບ້ານນາ"  # Lao: "Ban Na"
    areas.loc[3, "name"] = "قرية النخيل"  # Arabic: "palm village"
    tasks = make_tasks(areas)
    return areas, tasks, make_milestones(tasks)


def test_khmer_lao_arabic_names_render_with_embedded_fonts(tmp_path):
    import pdfcheck
    from ccm_geo.publish.requests import pdf_engine_available

    if pdf_engine_available():
        pytest.skip(pdf_engine_available())
    if not pdfcheck.POPPLER:
        pytest.skip(pdfcheck.POPPLER_MISSING)
    areas, tasks, milestones = _script_inputs()
    donor = DonorProfile(name="Any Fund", budget_usd=1_000_000, language="ar")
    write_requests(
        areas,
        tasks,
        milestones,
        DEADLINE,
        make_context(),
        [donor],
        tmp_path,
        project_name="P",
        interactive_map=False,
    )
    folder = tmp_path / "requests" / "any-fund"
    html = (folder / "request.html").read_text("utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    pdf = folder / "request.pdf"
    names = {f["name"].split("+")[-1] for f in pdfcheck.fonts(pdf)}
    assert all(f["emb"] == "yes" for f in pdfcheck.fonts(pdf))
    for family in ("Khmer", "Lao", "Arabic"):
        assert any(family in name for name in names), (family, names)
    text = pdfcheck.text(pdf)
    assert "ភូមិ" in text and "ບ້ານນາ" in text
    # right-to-left text comes out of the PDF reordered, and the positional forms of a few
    # letters map back imperfectly (a known limit of text extraction), but the script is there
    assert len(set("قرية النخيل") & set(text)) >= 5
    assert "\ufffd" not in text  # no missing glyph


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Demande de financement", "Nous demandons", "1 août 2030", "Annexe C"]),
        ("es", ["Solicitud de financiación", "Solicitamos", "1 de agosto de 2030", "Anexo C"]),
    ],
)
def test_request_in_the_donors_language(inputs, language, words):
    areas, tasks, milestones, deadline, context, donors = inputs
    donor = donors[0].model_copy(update={"language": language, "labels": {}})
    alloc = match_donors(tasks, [donor, *donors[1:]], seed=1)
    content = request_content(
        donor, alloc, areas, tasks, milestones, deadline, context, project_name="P"
    )
    text = render_request_html(content)
    assert f'<html lang="{language}" dir="ltr">' in text
    flat = " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())
    for w in words:
        assert w in flat, w
    assert "We ask" not in text and "Summary" not in text


def test_catalogues_translate_every_message():
    """Every message of the request templates and modules has a French and Spanish text."""
    from pathlib import Path

    from babel.messages.extract import extract_from_file
    from babel.messages.pofile import read_po

    import ccm_geo.publish as publish

    root = Path(publish.__file__).parent
    ids = set()
    for f in [root / "templates" / "request.html.j2", root / "templates" / "programme.html.j2"]:
        for _, msg, _, _ in extract_from_file(
            "jinja2.ext:babel_extract",
            str(f),
            keywords={"_": None},
            options={"extensions": "jinja2.ext.i18n"},
        ):
            ids.add(msg)
    for f in ("render.py", "words.py", "document.py", "workbook.py", "programme.py"):
        f = root / "requests" / f
        for _, msg, _, _ in extract_from_file("python", str(f), keywords={"_": None}):
            ids.add(msg)
    assert len(ids) > 150
    for lang in ("fr", "es"):
        with (root / "locale" / lang / "LC_MESSAGES" / "ccm_geo.po").open("rb") as fh:
            catalog = read_po(fh)
        missing = sorted(i for i in ids if not (catalog.get(i) and catalog.get(i).string))
        assert not missing, (lang, missing[:5])


def test_a_mines_only_programme_never_mentions_the_cluster_munition_deadline(tmp_path):
    """Mined land is judged against the Mine Ban Convention's Article 5 deadline only."""
    import datetime as dt

    areas = make_areas()
    areas["contamination"] = "AP"
    tasks = make_tasks(areas)
    tasks["mine_m2"] = tasks["released_m2"]
    tasks["cmr_m2"] = 0.0
    donor = DonorProfile(name="Landmine Fund", budget_usd=1_000_000)
    alloc = match_donors(tasks, [donor], seed=1)
    content = request_content(
        donor,
        alloc,
        areas,
        tasks,
        make_milestones(tasks),
        DEADLINE,
        make_context(),
        project_name="P",
        mine_ban_deadline=dt.date(2028, 3, 1),
    )
    assert [t["treaty"] for t in content.treaties] == ["apmbc"]
    text = render_request_html(content)
    assert "Mine Ban Convention, Article 5 deadline March 1, 2028" in text
    for word in ("Article 4", "Cluster Munitions", "cluster munition remnants is released"):
        assert word not in text, word
    # the share released by the deadline: tasks ending by then, over the mined land
    tr = content.treaties[0]
    assert tr["total_m2"] == pytest.approx(areas["area_m2"].sum())
    assert 0 < tr["share"] <= 1


def test_static_map_marks_areas_too_small_to_see_with_a_dot():
    # a 10 m square beside a 60 km one: at page scale it is a speck, so a dot of its plan
    # colour marks it (without the dot its few pixels vanish in the grey)
    import io as _io

    from PIL import Image

    from ccm_geo.publish.requests.figures import static_map
    from ccm_geo.publish.settings import MapSettings

    settings = MapSettings()
    areas = gpd.GeoDataFrame(
        {"hazard_id": ["tiny", "big"]},
        geometry=[
            box(500_000, 1_500_000, 500_010, 1_500_010),
            box(520_000, 1_480_000, 580_000, 1_540_000),
        ],
        crs="EPSG:32648",
    )
    rows = pd.DataFrame({"hazard_id": ["tiny"], "year": [2027]})
    png = static_map(rows, areas, settings, title="t", labels=False)
    img = np.asarray(Image.open(_io.BytesIO(png)).convert("RGB")).astype(int)
    colour = np.array([int(settings.plan_palette[0][i : i + 2], 16) for i in (1, 3, 5)])
    left = img[:, : img.shape[1] // 3]  # the tiny area's side of the map (legend: lower right)
    near = (np.abs(left - colour).sum(axis=2) < 40).sum()
    assert near >= 5  # a visible dot (without it: no pixel of the colour at all)


def test_a_large_package_stays_a_document(inputs):
    """Beyond the row limits the annex sums areas by region and year (and says where every
    area is listed), body tables end with an 'Other regions' row and map sheets are bounded."""
    import re as _re

    from ccm_geo.publish.requests.figures import region_maps
    from ccm_geo.publish.settings import MapSettings

    areas, tasks, milestones, deadline, context, donors = inputs
    small = DonorProfile(
        name="Whole programme fund",
        thematic=["clearance", "survey"],
        budget_usd=10_000_000,
        annex_rows_max=2,
        table_rows_max=2,
        map_sheets_max=1,
    )
    alloc = match_donors(tasks, [small], seed=1)
    content = request_content(
        small, alloc, areas, tasks, milestones, deadline, context, project_name="P"
    )
    pkg = content.tasks
    assert pkg["hazard_id"].nunique() > 2 and pkg["region"].nunique() > 2
    text = render_request_html(content)
    annex = text[text.index('id="table-tasks"') :]
    annex = annex[: annex.index("</table>")]
    assert "summed by region" in text and "list every area and task" in text
    assert not any(str(h) in annex for h in pkg["hazard_id"])  # no per-area rows
    body = annex[annex.index("<tbody>") :]
    rows = _re.findall(r"<tr>(.*?)</tr>", body, flags=_re.S)
    cells = [_re.findall(r"<td[^>]*>(.*?)</td>", r) for r in rows]
    # by region only (region x year is longer than the limit): one row per region, and the
    # rows add up to the package (areas, tasks, cost)
    assert [c[0] for c in cells] == sorted(pkg["region"].astype(str).unique())
    assert sum(int(c[2]) for c in cells) == pkg["hazard_id"].nunique()
    assert sum(int(c[3]) for c in cells) == len(pkg)
    cost = sum(float(c[-1].replace("US$", "").replace(",", "")) for c in cells)
    assert cost == pytest.approx(pkg["cost_usd"].sum(), abs=len(cells))
    # the context table: at most two rows, the last one summing the other regions
    ctx = text[text.index('id="table-context"') :]
    ctx = ctx[ctx.index("<tbody>") : ctx.index("</table>")]
    ctx_rows = _re.findall(r"<tr>(.*?)</tr>", ctx, flags=_re.S)
    assert len(ctx_rows) == 2 and "Other regions (" in ctx_rows[-1]
    # one map sheet, and the annex says how many regions have none
    sheets = region_maps(content, areas, MapSettings())
    assert len(sheets) == 1
    import dataclasses

    text = render_request_html(dataclasses.replace(content, region_maps=sheets))
    n_other = pkg["region"].nunique() - 1
    assert f"the areas of the other {n_other} regions are in the GIS layer" in text


def test_unit_costs_say_where_they_come_from(inputs):
    """The default unit costs cite their published figure in the cost basis; a changed
    figure shows the donor's source, or says that none was given."""
    areas, tasks, milestones, deadline, context, donors = inputs

    def text_for(**update) -> str:
        d = donors[2].model_copy(update=update)
        alloc = match_donors(tasks, [donors[0], donors[1], d], seed=1)
        c = request_content(d, alloc, areas, tasks, milestones, deadline, context, project_name="P")
        html = render_request_html(c)
        return html[html.index('id="cost-basis"') : html.index('id="map"')]

    default = text_for()
    assert "Victim assistance is costed at US$400 per survivor" in default
    assert "Mine-Ex" in default and "device only" in default
    assert "Save Lives Initiative" in default and "US$54,450" in default
    changed = text_for(
        victim_assistance_usd_per_survivor=950.0,
        victim_assistance_cost_source="Operator budget 2026, survivor case management",
    )
    assert "US$950 per survivor" in changed and "Operator budget 2026" in changed
    assert "Mine-Ex" not in changed and "Save Lives Initiative" in changed
    unsourced = text_for(risk_education_usd_per_person=6.5)
    assert "set in the project settings; no source given" in unsourced
    assert "Save Lives Initiative" not in unsourced


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", ["Répartition par donateur", "Financement du programme", "Échéance de l’article 4"]),
        ("es", ["Asignación por donante", "Financiación del programa", "Plazo del artículo 4"]),
    ],
)
def test_programme_view_in_the_programmes_language(inputs, language, words):
    from ccm_geo.publish.requests import render_programme_html

    areas, tasks, milestones, deadline, context, donors = inputs
    alloc = match_donors(tasks, donors, seed=1)
    text = render_programme_html(
        areas, alloc, milestones, deadline, project_name="P", language=language
    )
    assert f'<html lang="{language}" dir="ltr">' in text
    for w in words:
        assert w in text, w
    assert "Allocation per donor" not in text
    # money in the locale: "1 234 US$" in French and Spanish, never "US$1,234"
    planned = alloc.funding_gap().query("year == 'all' and region == 'all'")["planned_usd"]
    from ccm_geo.publish.requests.render import Numbers

    assert Numbers(language).usd(float(planned.iloc[0])) in text
    english = render_programme_html(areas, alloc, milestones, deadline, project_name="P")
    assert '<html lang="en" dir="ltr">' in english and "Allocation per donor" in english


def test_methods_table_gives_the_all_in_cost_per_m2(written):
    """A method whose tasks cost money never shows US$0.00 per m² (the team-day part counts)."""
    import re

    out, paths, alloc = written
    checked = 0
    for folder in (out / "requests").iterdir():
        page = folder / "request.html"
        if not page.exists():
            continue
        table = re.search(r'<table id="table-methods">(.*?)</table>', page.read_text("utf-8"), re.S)
        if table is None:
            continue
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]:
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            per_m2 = float(re.sub(r"[^0-9.]", "", cells[-1]))
            assert per_m2 > 0, (folder.name, cells)
            checked += 1
    assert checked > 0


def test_static_map_draws_specks_as_squares_with_the_same_ink_and_extent(monkeypatch):
    """A national map's areas are specks: drawn as squares of their own area, the map keeps
    its extent (to the pixel) and about the same grey; the coloured areas are untouched."""
    from io import BytesIO

    from PIL import Image

    from ccm_geo.publish.requests import figures
    from ccm_geo.publish.settings import MapSettings

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 400_000, (3_000, 2))
    # irregular 20-gons of 100-400 m: far below a pixel (~450 m) of a 400 km map
    angles = np.linspace(0, 2 * np.pi, 21)[:-1]
    polys = []
    for (x, y), r in zip(xy, rng.uniform(50, 200, len(xy)), strict=True):
        radius = r * rng.uniform(0.6, 1.0, len(angles))
        polys.append(
            gpd.GeoSeries.from_xy(x + radius * np.cos(angles), y + radius * np.sin(angles))
            .union_all()
            .convex_hull
        )
    # a register's odd rows first: no geometry, an empty one (they must not shift the others)
    polys = [None, Polygon(), *polys]
    areas = gpd.GeoDataFrame(
        {"hazard_id": [f"H{i}" for i in range(len(polys))]}, geometry=polys, crs="EPSG:32648"
    )
    rows = pd.DataFrame({"hazard_id": ["H0", "H3", "H4"], "year": [2027, 2027, 2028]})

    def image(speck_px: float) -> np.ndarray:
        monkeypatch.setattr(figures, "_SPECK_PX", speck_px)
        png = figures.static_map(rows, areas.copy(), MapSettings(), title="t", labels=False)
        return np.asarray(Image.open(BytesIO(png)).convert("L")).astype(float)

    squares, outlines = image(1.0), image(0.0)

    def extent(img):
        ys, xs = np.nonzero(img[80:] < 250)  # below the title
        return xs.min(), xs.max(), ys.min(), ys.max()

    assert np.abs(np.subtract(extent(squares), extent(outlines))).max() <= 1
    ink_squares, ink_outlines = (255 - squares).sum(), (255 - outlines).sum()
    assert ink_squares == pytest.approx(ink_outlines, rel=0.15)
    assert (np.abs(squares - outlines) > 30).mean() < 0.02


def test_risk_education_with_unknown_people_is_no_data_not_zero(inputs, tmp_path):
    """No population anywhere: risk education is not costed (no data, a DataWarning), left
    out of the ask, and every output says so instead of US$0 or 0 people."""
    import openpyxl

    from ccm_geo.errors import DataWarning
    from ccm_geo.publish.requests.workbook import write_request_xlsx

    areas, tasks, milestones, deadline, context, donors = inputs
    areas = areas.drop(columns=["population_within_5km"])
    context = Context(
        crs=CRS,
        accidents=context.accidents,
        settlements=context.settlements.drop(columns=["population"]),
        health=context.health,
    )
    d = donors[2]  # victim assistance and risk education
    alloc = match_donors(tasks, donors, seed=1)
    with pytest.warns(DataWarning, match="risk education is not costed"):
        content = request_content(
            d, alloc, areas, tasks, milestones, deadline, context, project_name="P"
        )
    re_pkg = next(p for p in content.packages if p["key"] == "risk_education")
    va_pkg = next(p for p in content.packages if p["key"] == "victim_assistance")
    assert np.isnan(re_pkg["cost_usd"]) and np.isnan(re_pkg["people"])
    # the ask: victim assistance (6 survivors at US$400) and indirect costs, no RE
    assert content.ask_usd == pytest.approx(va_pkg["cost_usd"] * (1 + d.indirect_cost_share))
    text = render_request_html(content)
    assert "Risk education is not costed in this request" in text
    assert "US$0" not in text and "NaN" not in text and ">nan<" not in text
    path = write_request_xlsx(content, tmp_path / "re.xlsx")
    wb = openpyxl.load_workbook(path)
    cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert "no data" in cells
    assert not any(isinstance(v, str) and v.startswith("=0.0*") for v in cells)


def test_context_regions_say_no_data_where_a_village_has_no_population():
    """Villages near a region's areas, one or all without a population: no data, not 0
    people nor the others' sum; a region with no village within the radius: 0 people."""
    from ccm_geo.publish.requests.regions import _context_regions

    areas = make_areas()
    ctx = make_context()
    donor = DonorProfile(name="All", thematic=["risk_education"], budget_usd=1)
    known = _context_regions(areas, ctx, donor, areas.iloc[:0], "population_within_5km")
    known = known.set_index("region")["people"]
    # S1 (500) and S3 (200) are within 5 km of the areas; S2 is 30 km away
    assert known["North"] == 700 and known["East"] == 700 and known["South"] == 700
    # one of the two nearby villages without a population: no data, not the other's 500
    ctx.settlements.loc[ctx.settlements["population"] == 200, "population"] = np.nan
    partial = _context_regions(areas.copy(), ctx, donor, areas.iloc[:0], "population_within_5km")
    assert partial["people"].isna().all()
    ctx.settlements["population"] = np.nan
    unknown = _context_regions(areas.copy(), ctx, donor, areas.iloc[:0], "population_within_5km")
    assert unknown["people"].isna().all()
    far = make_context()
    far.settlements["geometry"] = far.settlements.geometry.translate(200_000, 0)
    nobody = _context_regions(areas.copy(), far, donor, areas.iloc[:0], "population_within_5km")
    assert (nobody["people"] == 0).all()


def test_risk_education_costs_the_known_regions_and_says_which_are_left_out(inputs):
    """Some regions' people unknown: risk education is costed for the others (never their
    0 people), a DataWarning names the regions left out, and the document says how many."""
    from ccm_geo.errors import DataWarning
    from ccm_geo.publish.requests.needs import _costed_packages

    donor = DonorProfile(name="D", thematic=["risk_education"], budget_usd=1)
    ra = pd.DataFrame(
        {
            "region": ["North", "South", "East"],
            "areas": [3, 2, 4],
            "population_nearby": [1000.0, np.nan, 500.0],
        }
    )
    with pytest.warns(DataWarning, match=r"2 of 3 region\(s\).*unknown and not costed \(South\)"):
        (pkg,) = _costed_packages(donor, None, ra)
    assert pkg["people"] == 1500.0 and pkg["unknown_regions"] == 1
    assert pkg["cost_usd"] == pytest.approx(1500.0 * donor.risk_education_usd_per_person)

    areas, tasks, milestones, deadline, context, donors = inputs
    alloc = match_donors(tasks, donors, seed=1)
    content = request_content(
        donors[2], alloc, areas, tasks, milestones, deadline, context, project_name="P"
    )
    re_pkg = next(p for p in content.packages if p["key"] == "risk_education")
    assert re_pkg["unknown_regions"] == 0
    sentence = "region(s) are not counted: their population is unknown"
    assert sentence not in render_request_html(content)
    re_pkg["unknown_regions"] = 2
    assert f"The people near the areas of 2 {sentence}." in render_request_html(content)
