"""Settlements and their names, districts and health facilities.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ccm_geo.demo.constants import (
    _HEALTH_PER_SCALE,
    _SETTLEMENTS_PER_SCALE,
    _SUFFIXES,
    _SYLLABLES,
    _TOWNS_PER_SCALE,
    DEMO_CRS,
)
from ccm_geo.demo.province import _Province, _Rivers, _Terrain

logger = logging.getLogger("ccm_geo.demo")


@dataclass(frozen=True)
class _Settlements:
    xy: np.ndarray
    ids: np.ndarray
    names: np.ndarray  # "Ban Na Kham" (villages) or "Phonxai" (towns)
    bases: np.ndarray  # name without "Ban": used for districts and facilities
    pop: np.ndarray
    is_town: np.ndarray
    is_capital: np.ndarray  # district capital (towns included)

    def frame(self):
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"VIL_ID": self.ids, "VIL_NAME": self.names, "POP": self.pop.astype(np.int64)},
            geometry=gpd.points_from_xy(self.xy[:, 0], self.xy[:, 1]),
            crs=DEMO_CRS,
        )


def _names(n: int, rng: np.random.Generator) -> list[tuple[str, ...]]:
    """``n`` distinct fictional Lao-style name parts (two syllables, then a suffix, then three)."""
    syl = _SYLLABLES
    pool: list[tuple[str, ...]] = [(a, b) for a in syl for b in syl if a != b]
    if n > len(pool):
        pool += [(a, b, s) for a in syl for b in syl if a != b for s in _SUFFIXES]
    if n > len(pool):
        pool += [(a, b, c) for a in syl for b in syl for c in syl if len({a, b, c}) == 3]
    if n > len(pool):
        msg = f"cannot make {n} distinct names (at most {len(pool)}); use a smaller scale"
        raise ValueError(msg)
    pick = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in pick]


def _settlements(
    prov: _Province, rivers: _Rivers, terrain: _Terrain, rng: np.random.Generator
) -> _Settlements:
    """Villages (mostly in valleys, not on rivers, >= 1 km apart), towns and district capitals."""
    import shapely

    n = prov.count(_SETTLEMENTS_PER_SCALE, 8)
    n_towns = prov.count(_TOWNS_PER_SCALE, 1)
    n_capitals = max(3, round(4 * prov.scale**0.75), n_towns)
    cand = prov.uniform(rng, 6 * n, margin=min(800.0, 0.1 * prov.width))
    elev = terrain.sample(terrain.elevation, cand[:, 0], cand[:, 1])
    on_river = shapely.STRtree(rivers.pieces).query(
        shapely.points(cand), predicate="dwithin", distance=250.0
    )[0]
    weight = (1.0 - elev) ** 3 + 0.02
    weight[on_river] = 0.0
    # A weighted random order (Efraimidis-Spirakis keys); zero weight never drawn.
    key = rng.exponential(size=len(cand)) / np.maximum(weight, 1e-12)
    order = np.argsort(key, kind="stable")
    order = order[weight[order] > 0]
    keep = _thin(cand[order], min(1000.0, 0.03 * prov.width))
    xy = np.round(cand[order][keep][:n], 2)
    if len(xy) < n:  # pragma: no cover - only for absurdly small provinces
        logger.warning("demo: placed %d settlements of %d asked", len(xy), n)
        n = len(xy)

    # Capitals: the village nearest each k-means centre of the settlements; towns: the capitals
    # of the most populous clusters.
    pop = np.clip(np.round(np.exp(rng.normal(6.2, 0.7, n)) / 10) * 10, 100, 5000).astype(np.int64)
    capitals, members = _capitals(xy, n_capitals, rng)
    towns = capitals[np.argsort(-members, kind="stable")[:n_towns]]
    is_town = np.zeros(n, bool)
    is_town[towns] = True
    pop[towns] = np.round(rng.uniform(8000, 25000, len(towns)), -1).astype(np.int64)
    is_capital = np.zeros(n, bool)
    is_capital[capitals] = True
    big = is_capital & ~is_town
    pop[big] = np.maximum(pop[big], np.round(rng.uniform(2500, 5000, big.sum()), -1))

    parts = _names(n, rng)
    bases = np.array(
        [_joined(p) if t else " ".join(p) for p, t in zip(parts, is_town, strict=True)]
    )
    names = np.array([b if t else f"Ban {b}" for b, t in zip(bases, is_town, strict=True)])
    width = max(4, len(str(n)))
    ids = np.array([f"VIL-{i + 1:0{width}d}" for i in range(n)])
    return _Settlements(xy, ids, names, bases, pop, is_town, is_capital)


def _joined(parts: tuple[str, ...]) -> str:
    return parts[0] + "".join(p.lower() for p in parts[1:])


def _thin(xy: np.ndarray, min_dist: float) -> np.ndarray:
    """Indices of points kept, in order, so that no two kept points are closer than min_dist."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(min_dist, output_type="ndarray")
    keep = np.ones(len(xy), bool)
    if len(pairs):
        pairs = np.sort(pairs, axis=1)
        pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
        for i, j in pairs.tolist():
            if keep[i] and keep[j]:
                keep[j] = False
    return np.flatnonzero(keep)


def _capitals(xy: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``k`` (or fewer) district capitals and the number of settlements nearest each."""
    import warnings

    from scipy.cluster.vq import kmeans2
    from scipy.spatial import cKDTree

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty cluster only means one district fewer
        centres, _ = kmeans2(xy, min(k, len(xy)), minit="points", seed=rng)
    _, nearest = cKDTree(xy).query(centres)
    capitals = np.unique(nearest)
    _, owner = cKDTree(xy[capitals]).query(xy)
    return capitals, np.bincount(owner, minlength=len(capitals))


@dataclass(frozen=True)
class _Districts:
    frame: object  # GeoDataFrame
    capital_xy: np.ndarray
    names: np.ndarray


def _districts(prov: _Province, st: _Settlements) -> _Districts:
    """Districts: the Voronoi cells of the district capitals, clipped to the province."""
    import geopandas as gpd
    import shapely

    cap = np.flatnonzero(st.is_capital)
    box = shapely.box(prov.x0, prov.y0, prov.x1, prov.y1)
    cells = shapely.voronoi_polygons(shapely.multipoints(st.xy[cap]), extend_to=box, ordered=True)
    polys = shapely.intersection(shapely.get_parts(cells), box)
    names: list[str] = []
    for base in st.bases[cap].tolist():
        name = _joined(tuple(base.split()))
        while name in names:
            name += " Neua"
        names.append(name)
    frame = gpd.GeoDataFrame({"DISTRICT": names}, geometry=polys, crs=DEMO_CRS)
    return _Districts(frame, st.xy[cap], np.array(names))


def _district_of(districts: _Districts, xy: np.ndarray) -> np.ndarray:
    """District name of points: the nearest capital (the Voronoi cell holding the point)."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(districts.capital_xy).query(xy)
    return districts.names[idx]


def _health(st: _Settlements, rng: np.random.Generator):
    """District hospitals in towns, health centres in capitals and then the largest villages."""
    import geopandas as gpd

    n = max(2, round(_HEALTH_PER_SCALE * st.pop.size / _SETTLEMENTS_PER_SCALE))
    rank = np.lexsort((np.arange(st.pop.size), -st.pop, ~st.is_capital, ~st.is_town))[:n]
    angle = rng.uniform(0, 2 * np.pi, n)
    dist = rng.uniform(150.0, 400.0, n)
    xy = np.round(st.xy[rank] + np.column_stack([np.cos(angle), np.sin(angle)]) * dist[:, None], 2)
    level = np.where(st.is_town[rank], "district hospital", "health centre")
    names = [
        f"{b} District Hospital" if t else f"{b} Health Centre"
        for b, t in zip(st.bases[rank], st.is_town[rank], strict=True)
    ]
    width = max(3, len(str(n)))
    return gpd.GeoDataFrame(
        {"HF_ID": [f"HF-{i + 1:0{width}d}" for i in range(n)], "HF_NAME": names, "LEVEL": level},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=DEMO_CRS,
    )
