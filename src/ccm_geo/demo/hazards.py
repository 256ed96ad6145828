"""Hazardous areas (strikes, minefields, UXO spots) and accidents.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ccm_geo.demo.constants import (
    _ACCIDENTS_PER_SCALE,
    _BOWTIE_INDEX,
    _CORRIDORS_PER_SCALE,
    _FRONTS_PER_SCALE,
    _HAZARDS_PER_SCALE,
    DEMO_CRS,
    REFERENCE_DATE,
)
from ccm_geo.demo.province import _cut, _meander, _Province
from ccm_geo.demo.settlements import _district_of, _Districts, _Settlements

logger = logging.getLogger("ccm_geo.demo")


@dataclass(frozen=True)
class _Hazards:
    frame: object  # GeoDataFrame with the user-style fields
    centroid: np.ndarray
    area_ha: np.ndarray
    kind: np.ndarray  # "CMR", "MIN" or "UXO"


def _hazards(
    prov: _Province, st: _Settlements, districts: _Districts, rng: np.random.Generator
) -> _Hazards:
    """Cluster munition strikes along bombing corridors, mine belts along former front lines,
    and UXO spots; overlaps removed; two bow-ties added on purpose."""
    import geopandas as gpd
    import shapely

    n_total = prov.count(_HAZARDS_PER_SCALE, 20)
    n_mine = max(3, round(0.12 * n_total))
    n_uxo = max(2, round(0.10 * n_total))
    n_cmr = n_total - n_mine - n_uxo
    fronts = _fronts(prov, rng)
    wanted = {"CMR": n_cmr, "MIN": n_mine, "UXO": n_uxo}
    for attempt in range(6):  # more candidates until every kind has enough
        factor = 1.8 * 2**attempt
        geoms, kind, keep = _candidates(
            prov, st, fronts, {k: round(factor * v) + 5 for k, v in wanted.items()}, rng
        )
        if all((keep & (kind == k)).sum() >= v for k, v in wanted.items()):
            break
    chosen = []
    for k, want in wanted.items():
        idx = np.flatnonzero(keep & (kind == k))
        if len(idx) < want:  # pragma: no cover - only in a province too small for its hazards
            logger.warning("demo: %d %s hazards placed of %d asked", len(idx), k, want)
        chosen.append(np.sort(rng.choice(idx, size=min(want, len(idx)), replace=False)))
    idx = np.concatenate(chosen)
    geoms, kind = geoms[idx], kind[idx]
    n = len(geoms)
    centroid = shapely.get_coordinates(shapely.centroid(geoms))
    area_ha = shapely.area(geoms) / 1e4

    # Contamination, status, evidence, devices, survey date.
    contam = np.where(kind == "CMR", "CMR", "UXO").astype(object)
    is_mine = kind == "MIN"
    contam[is_mine] = rng.choice(["AP", "AP;AT", "AT"], size=is_mine.sum(), p=[0.55, 0.3, 0.15])
    front_xy, front_line = shapely.get_coordinates(fronts, return_index=True)
    front_pieces, _ = _cut(front_xy, front_line, np.arange(len(fronts)), steps=20)
    near = shapely.STRtree(front_pieces).query(
        shapely.points(centroid), predicate="dwithin", distance=2500.0
    )[0]
    near_front = np.zeros(n, bool)
    near_front[near] = kind[near] == "CMR"
    mixed = near_front & (rng.random(n) < 0.25)
    contam[mixed] = np.where(rng.random(mixed.sum()) < 0.8, "CMR;AP", "CMR;AP;AT")
    p_cha = np.select([kind == "CMR", kind == "MIN"], [0.25, 0.4], 0.35)
    cha = rng.random(n) < p_cha
    u = rng.random(n)
    evidence = np.where(
        cha, "Direct", np.where(u < 0.06, "Direct", np.where(u < 0.16, "None", "Indirect"))
    )
    lam = np.select([kind == "CMR", kind == "MIN"], [3 + 6 * area_ha, 2 + 15 * area_ha], 1.5)
    devices = np.where(cha, 1 + rng.poisson(lam), 0)
    seen = ~cha & (evidence == "Direct")
    devices[seen] = rng.integers(1, 3, seen.sum())
    start = np.where(
        cha, (date(2015, 1, 1) - date(1970, 1, 1)).days, (date(2008, 1, 1) - date(1970, 1, 1)).days
    )
    stop = np.where(
        cha, (date(2026, 12, 1) - date(1970, 1, 1)).days, (date(2019, 1, 1) - date(1970, 1, 1)).days
    )
    day = start + (rng.random(n) * (stop - start)).astype(np.int64)
    survey = np.datetime_as_string(day.astype("datetime64[D]"))

    # Ids numbered per kind in order; the 7th strike and 3rd belt become bow-ties.
    ids = np.empty(n, object)
    geoms = geoms.copy()
    for k in ("CMR", "MIN", "UXO"):
        sel = np.flatnonzero(kind == k)
        width = max(4, len(str(len(sel))))
        ids[sel] = [f"DP-{k}-{i + 1:0{width}d}" for i in range(len(sel))]
        if k in _BOWTIE_INDEX and len(sel) > _BOWTIE_INDEX[k]:
            bow = sel[_BOWTIE_INDEX[k]]
            geoms[bow] = _bowtie(geoms[bow])

    # Names: nearest village, then a running number per village and kind.
    from scipy.spatial import cKDTree

    _, near = cKDTree(st.xy).query(centroid)
    label = {"CMR": "strike", "MIN": "minefield", "UXO": "UXO spot"}
    counter: dict[tuple[str, str], int] = {}
    names = []
    for k, v in zip(kind.tolist(), st.names[near].tolist(), strict=True):
        counter[(k, v)] = counter.get((k, v), 0) + 1
        names.append(f"{v} {label[k]} {counter[(k, v)]}")
    frame = gpd.GeoDataFrame(
        {
            "HAZ_ID": ids.astype(str),
            "NAME": names,
            "STATUS": np.where(cha, "Confirmed", "Suspected"),
            "CONTAM": contam.astype(str),
            "EVIDENCE": evidence,
            "DEVICES": devices.astype(np.int64),
            "DISTRICT": _district_of(districts, centroid),
            "SURVEY_DATE": survey,
        },
        geometry=geoms,
        crs=DEMO_CRS,
    )
    return _Hazards(frame, centroid, area_ha, kind)


def _candidates(
    prov: _Province,
    st: _Settlements,
    fronts: np.ndarray,
    n: dict[str, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate hazards and which to keep: inside the province, overlapping no earlier one
    (mine belts first, then UXO spots, then strikes)."""
    import shapely

    mines = _belts(prov, fronts, n["MIN"], rng)
    uxo = _uxo_spots(prov, st, n["UXO"], rng)
    cmr = _strikes(prov, n["CMR"], rng)
    geoms = np.concatenate([mines, uxo, cmr])
    kind = np.concatenate(
        [np.full(len(mines), "MIN"), np.full(len(uxo), "UXO"), np.full(len(cmr), "CMR")]
    )
    keep = shapely.within(geoms, shapely.box(prov.x0, prov.y0, prov.x1, prov.y1))
    src, dst = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = np.column_stack([np.minimum(src, dst), np.maximum(src, dst)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
    for i, j in pairs.tolist():
        if keep[i] and keep[j]:
            keep[j] = False
    return geoms, kind, keep


def _ellipses(
    centre: np.ndarray, a: np.ndarray, b: np.ndarray, theta: np.ndarray, n_vertices: int = 32
) -> np.ndarray:
    import shapely

    phi = np.linspace(0, 2 * np.pi, n_vertices, endpoint=False)
    ex = a[:, None] * np.cos(phi)
    ey = b[:, None] * np.sin(phi)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    ring = np.stack([centre[:, :1] + ex * c - ey * s, centre[:, 1:] + ex * s + ey * c], axis=-1)
    ring = np.round(np.concatenate([ring, ring[:, :1]], axis=1), 2)
    return shapely.polygons(ring)


def _strikes(prov: _Province, n: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster munition footprints (ellipses, 0.5-10 ha) in groups along bombing corridors."""
    n_corr = prov.count(_CORRIDORS_PER_SCALE, 3)
    centre = prov.uniform(rng, n_corr, margin=0.1 * min(prov.width, prov.height))
    bearing = rng.uniform(0, np.pi, n_corr)
    reach = min(math.hypot(prov.width, prov.height), 50_000.0)
    half = rng.uniform(0.35, 0.55, n_corr) * reach
    n_groups = max(1, round(n / 3.5))
    corr = rng.integers(0, n_corr, n_groups)
    along = rng.uniform(-1, 1, n_groups) * half[corr]
    across = rng.normal(0, 900.0, n_groups)
    d = np.column_stack([np.cos(bearing), np.sin(bearing)])[corr]
    gcentre = (
        centre[corr] + d * along[:, None] + np.column_stack([-d[:, 1], d[:, 0]]) * across[:, None]
    )
    size = 1 + rng.poisson(2.5, n_groups)
    group = np.repeat(np.arange(n_groups), size)[:n]
    fc = gcentre[group] + rng.normal(0, 280.0, (len(group), 2))
    area = np.clip(np.exp(rng.normal(np.log(2.2e4), 0.8, len(group))), 0.5e4, 10e4)
    aspect = rng.uniform(1.4, 3.0, len(group))
    a = np.sqrt(area * aspect / np.pi)
    b = area / (np.pi * a)
    theta = bearing[corr][group] + rng.normal(0, 0.35, len(group))
    return _ellipses(fc, a, b, theta)


def _fronts(prov: _Province, rng: np.random.Generator) -> np.ndarray:
    """Former front lines: wiggly lines ~30 km long across the province."""
    import shapely

    n = prov.count(_FRONTS_PER_SCALE, 1)
    centre = prov.uniform(rng, n, margin=0.2 * min(prov.width, prov.height))
    bearing = rng.uniform(-0.6, 0.6, n)  # roughly east-west
    half = rng.uniform(0.25, 0.4, n) * min(math.hypot(prov.width, prov.height), 45_000.0)
    d = np.column_stack([np.cos(bearing), np.sin(bearing)])
    xy, line, _ = _meander(
        centre - d * half[:, None],
        centre + d * half[:, None],
        0.05 * half,
        rng,
        step=50.0,
        harmonics=6,
    )
    return shapely.linestrings(xy, indices=line)


def _belts(prov: _Province, fronts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Mine belts: 150-1500 m long, 20-60 m wide strips along the front lines."""
    import shapely

    which = rng.integers(0, len(fronts), n)
    pos = rng.random(n) * shapely.length(fronts)[which]
    p = shapely.get_coordinates(shapely.line_interpolate_point(fronts[which], pos))
    q = shapely.get_coordinates(shapely.line_interpolate_point(fronts[which], pos + 20.0))
    d = q - p
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-d[:, 1], d[:, 0]])
    centre = p + normal * rng.normal(0, 150.0, n)[:, None]
    half = rng.uniform(75.0, 750.0, n)
    xy, line, _ = _meander(
        centre - d * half[:, None],
        centre + d * half[:, None],
        0.03 * half,
        rng,
        step=50.0,
        harmonics=3,
    )
    axes = shapely.linestrings(xy, indices=line)
    width = rng.uniform(20.0, 60.0, n)
    belts = shapely.buffer(axes, width / 2, cap_style="flat", join_style="mitre", quad_segs=2)
    return shapely.set_precision(belts, 0.01)


def _uxo_spots(prov: _Province, st: _Settlements, n: int, rng: np.random.Generator) -> np.ndarray:
    """Small UXO spots (10-40 m radius): near villages (old positions) or anywhere."""

    near = rng.random(n) < 0.6
    xy = prov.uniform(rng, n, margin=200.0)
    home = rng.integers(0, len(st.xy), n)
    xy[near] = st.xy[home[near]] + rng.normal(0, 1500.0, (near.sum(), 2))
    xy = prov.clamp(xy, margin=100.0)
    radius = rng.uniform(10.0, 40.0, n)
    return _ellipses(xy, radius, radius * rng.uniform(0.6, 1.0, n), rng.uniform(0, np.pi, n), 16)


def _bowtie(geom):
    """A self-intersecting quadrilateral over ``geom``'s oriented envelope (a digitising error:
    two corners entered in the wrong order)."""
    import shapely

    rect = shapely.oriented_envelope(geom)
    c = shapely.get_coordinates(rect)[:4]
    return shapely.Polygon([c[0], c[1], c[3], c[2], c[0]])


def _accidents(prov: _Province, hz: _Hazards, st: _Settlements, rng: np.random.Generator):
    """Accidents of the last ten years, near hazards (more near CMR), with the victims' village."""
    import geopandas as gpd
    from scipy.spatial import cKDTree

    n = prov.count(_ACCIDENTS_PER_SCALE, 5)
    frame = hz.frame
    contam = frame["CONTAM"].to_numpy(dtype=str)
    weight = np.select(
        [
            np.char.find(contam, "CMR") >= 0,
            np.char.find(contam, "AP") >= 0,
            np.char.find(contam, "AT") >= 0,
        ],
        [3.0, 2.5, 1.5],
        1.0,
    )
    weight *= np.where(frame["STATUS"].to_numpy() == "Confirmed", 1.5, 1.0)
    hz_idx = rng.choice(len(frame), size=n, p=weight / weight.sum())
    spread = 0.5 * np.sqrt(hz.area_ha[hz_idx] * 1e4) + 100.0
    xy = prov.clamp(np.round(hz.centroid[hz_idx] + rng.normal(0, 1, (n, 2)) * spread[:, None], 2))
    device = np.array([rng.choice(c.split(";")) for c in contam[hz_idx]])
    cmr_uxo = (device == "CMR") & (rng.random(n) < 0.1)
    device[cmr_uxo] = "UXO"
    # Dates: ten years before REFERENCE_DATE, fewer in recent years (density 1 -> 0.5).
    u = rng.random(n)
    t = 2.0 * (1.0 - np.sqrt(1.0 - 0.75 * u))
    first = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 10)
    span = (REFERENCE_DATE - first).days
    days = np.minimum((t * span).astype(np.int64), span - 1)
    order = np.lexsort((np.arange(n), days))
    xy, device, days = xy[order], device[order], days[order]
    dates = [(first + timedelta(days=int(d))).isoformat() for d in days]
    at = device == "AT"
    killed = np.where(at, rng.poisson(1.2, n), (rng.random(n) < 0.35) + rng.poisson(0.1, n))
    injured = np.where(at, rng.poisson(1.5, n), rng.poisson(1.2, n))
    injured = np.where(killed + injured == 0, 1, injured)
    _, near = cKDTree(st.xy).query(xy, k=min(5, len(st.xy)))
    pick = np.where(rng.random(n) < 0.75, 0, rng.integers(0, near.shape[1], n))
    home = st.ids[near[np.arange(n), pick]].astype(object)
    home[rng.random(n) < 0.06] = None
    width = max(4, len(str(n)))
    return gpd.GeoDataFrame(
        {
            "ACC_ID": [f"ACC-{i + 1:0{width}d}" for i in range(n)],
            "DATE": dates,
            "KILLED": killed.astype(np.int64),
            "INJURED": injured.astype(np.int64),
            "DEVICE": device,
            "HOME_VIL": home,
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=DEMO_CRS,
    )
