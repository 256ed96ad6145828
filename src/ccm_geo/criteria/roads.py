"""Travel over the road network: the graph built once from the roads layer, and travel times
from areas to places (bounded, local shortest-path searches with scipy's csgraph), shared by
the remoteness criteria and the planner's schedule."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import CRS
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from ccm_geo.criteria._common import (
    id_list,
    warn,
)
from ccm_geo.criteria.settings import CriteriaSettings
from ccm_geo.errors import InputError

__all__ = ["RoadGraph", "build_road_graph", "area_travel"]

#: Smallest edge weight (minutes): csgraph would treat an explicit 0 as a missing edge.
_EPS_MIN = 1e-9
#: ``area_travel(...).nearest``: the first search limit, as a multiple of the lower bound of
#: the road time (fastest speed, straight line), and the factor between successive limits
_DEEPEN_START = 2.0
_DEEPEN_STEP = 2.0
_DEEPEN_MIN = 1.0  # minutes: searches this short cost next to nothing


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """The road network as a travel-time graph.

    Attributes
    ----------
    csr : scipy.sparse.csr_array
        Symmetric ``n_nodes × n_nodes`` matrix of edge travel times in minutes (both
        directions stored, so shortest paths run with ``directed=True``).
    xy : numpy.ndarray
        ``(n_nodes, 2)`` node coordinates in ``crs`` (metres).
    tree : scipy.spatial.cKDTree
        KD-tree over ``xy``, to attach points to their nearest node.
    crs : str
        The metric CRS of ``xy`` (the project's).
    """

    csr: sp.csr_array
    xy: np.ndarray
    tree: cKDTree
    crs: str | None

    @property
    def n_nodes(self) -> int:
        """Number of nodes (road ends and junctions)."""
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.csr.nnz // 2)

    def to_networkx(self):
        """The same graph as a ``networkx.Graph`` (edge weight ``minutes``; node ``x``, ``y``)."""
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from((i, {"x": x, "y": y}) for i, (x, y) in enumerate(self.xy.tolist()))
        coo = sp.triu(self.csr, format="coo")
        g.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True),
            weight="minutes",
        )
        return g


def build_road_graph(
    roads: gpd.GeoDataFrame, settings: CriteriaSettings | None = None
) -> RoadGraph:
    """Build the travel-time graph of a road layer, once per run.

    Nodes are the ends of each line and every vertex that two or more lines share, after
    snapping coordinates to a ``snap_m`` grid (default 1 cm); a line is split into one edge
    per stretch between nodes, weighted by its length (m) divided by its class's speed, in
    minutes. Roads that cross without a shared vertex are not connected (as bridges and
    flyovers); note the network at junctions first if the data needs it.

    Parameters
    ----------
    roads : geopandas.GeoDataFrame
        (Multi)LineStrings in a metric CRS with a ``road_class`` column.
    settings : CriteriaSettings, optional
        ``settings.remoteness.road_speeds_kmh`` (km/h per class), ``default_speed_kmh`` (for
        classes not in the table, with a DataWarning naming them) and ``snap_m``.

    Returns
    -------
    RoadGraph
        The CSR travel-time matrix, node coordinates and a KD-tree over them. Duplicate
        edges between two nodes keep the fastest; zero-length loops are dropped.

    Notes
    -----
    networkx's ``Graph`` was the first design, but building 200k nodes through it and
    converting to CSR takes seconds; numpy builds the same CSR directly (a fraction of a
    second) and :meth:`RoadGraph.to_networkx` still gives a networkx graph when wanted.
    """
    settings = settings or CriteriaSettings()
    rs = settings.remoteness
    if roads.crs is not None and not CRS(roads.crs).is_projected:
        msg = (
            f"criteria: the roads layer is in {roads.crs}, not a metric CRS; reproject it "
            "to the project's CRS with to_crs()"
        )
        raise InputError(msg)
    crs = CRS(roads.crs).to_string() if roads.crs is not None else None
    speed = _line_speeds(roads, rs.road_speeds_kmh, rs.default_speed_kmh)
    geoms = roads.geometry.to_numpy()
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    parts_ok = shapely.get_type_id(parts) == 1  # LineString
    parts, part_speed = parts[parts_ok], speed[part_of[parts_ok]]
    coords, line = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return RoadGraph(sp.csr_array((0, 0)), np.zeros((0, 2)), cKDTree(np.zeros((0, 2))), crs)

    vertex, vertex_xy = _snap(coords, rs.snap_m)
    is_node = _node_vertices(vertex, line, len(vertex_xy))

    # cumulative length along each line, restarting at each line's first coordinate
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[line[1:] != line[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.flatnonzero(is_node[vertex])
    a, b = at[:-1], at[1:]
    same = line[a] == line[b]
    a, b = a[same], b[same]
    length = cum[b] - cum[a]
    minutes = length / (part_speed[line[a]] * 1000.0 / 60.0)

    node_of_vertex = np.cumsum(is_node) - 1
    u, v = node_of_vertex[vertex[a]], node_of_vertex[vertex[b]]
    n = int(is_node.sum())
    # scipy's Dijkstra takes 32-bit indices: cast once here, not a copy per search
    csr = _int32_graph(_symmetric_csr(u, v, minutes, n))
    xy = vertex_xy[is_node]
    return RoadGraph(csr, xy, cKDTree(xy), crs)


def area_travel(
    hazards: gpd.GeoDataFrame,
    graph: RoadGraph,
    settings: CriteriaSettings | None = None,
    *,
    limit_min: float = 480.0,
):
    """Travel time between hazardous areas over the road network, as a function.

    Returns ``f(from_id, to_ids) -> minutes`` (an array, one per ``to_ids``), the form the
    planner's team schedule takes (``planning.make_plan(travel_minutes=...)``): walk from the
    area's surface point to its nearest road node, the fastest route, walk to the other area;
    a straight walk at ``offroad_speed_kmh`` when that is quicker or when no route within
    ``limit_min`` exists (so the answer is always finite). One bounded Dijkstra per origin,
    cached, so a team's day-by-day sequencing costs one search per area it leaves.
    ``f.nearest(from_id, to_ids) -> (position, minutes)`` gives the quickest destination
    only (what the schedule asks), from searches deepened up to the shortest straight walk
    (see its docstring): the same answer as the ``argmin`` of ``f``, at the cost of a search
    about as far as that destination.
    """
    settings = settings or CriteriaSettings()
    rs = settings.remoteness
    walk = rs.offroad_speed_kmh * 1000.0 / 60.0  # m per minute
    ids = hazards["hazard_id"].astype(str).to_numpy()
    xy = shapely.get_coordinates(shapely.point_on_surface(hazards.geometry.to_numpy()))
    node, off = _attach(graph, xy, walk)
    if graph.n_nodes == 0:
        msg = "area_travel: the road graph has no nodes; give roads with usable lines"
        raise InputError(msg)
    pos = {h: i for i, h in enumerate(ids)}
    csr = graph.csr
    node_xy = graph.xy[node]
    fastest = _fastest_edge(graph)  # m per minute: no road route is quicker than this
    longest = _longest_edge(csr)  # minutes, per node
    part = connected_components(csr, directed=False)[1]  # the road network's parts, per node
    landmarks = _Landmarks(csr, graph.xy, part)  # lower bounds for long moves, made when asked
    cache: dict[int, tuple[np.ndarray, float]] = {}  # node -> distances, the limit searched
    max_cached = max(8, int(2e8 // (8 * graph.n_nodes)))  # about 200 MB of distances at most

    def index(h) -> int:
        try:
            return pos[str(h)]
        except KeyError:
            msg = f"area_travel: hazard_id {str(h)!r} is not one of the areas it was built on"
            raise InputError(msg) from None

    def indices(to_ids) -> np.ndarray:
        keys = np.atleast_1d(to_ids).tolist()
        return np.fromiter(
            (pos[k] if k in pos else index(k) for k in keys), dtype=np.int64, count=len(keys)
        )

    def distances(i: int, limit: float) -> np.ndarray:
        """Road minutes from area i's node, exact up to ``limit`` (inf beyond)."""
        return from_node(int(node[i]), limit)[0]

    def from_node(v: int, limit: float) -> tuple[np.ndarray, float]:
        """Road minutes from node v, exact up to the limit returned (>= ``limit``, inf
        beyond), cached by node."""
        hit = cache.get(v)
        if hit is not None and hit[1] >= limit:
            return hit
        if len(cache) >= max_cached:
            cache.clear()
        dist = dijkstra(csr, directed=True, indices=v, limit=limit)
        cache[v] = (dist, limit)
        return dist, limit

    def walking(i: int, js: np.ndarray) -> np.ndarray:
        return np.hypot(*(xy[js] - xy[i]).T) / walk

    def minutes(i: int, js: np.ndarray, limit: float, on_foot: np.ndarray) -> np.ndarray:
        by_road = off[i] + distances(i, limit)[node[js]] + off[js]
        return np.fmin(by_road, on_foot)

    def travel(from_id, to_ids) -> np.ndarray:
        i, js = index(from_id), indices(to_ids)
        return minutes(i, js, limit_min, walking(i, js))

    def nearest(from_id, to_ids) -> tuple[int, float]:
        """Position in ``to_ids`` of the quickest to reach, and its minutes.

        The same answer as ``argmin(travel(from_id, to_ids))`` (first of ties, the same
        minutes to the last bit; for a single destination the two-ended search's minutes,
        which may differ from them in the last bits), from searches of increasing limit:
        the first limit is
        ``_DEEPEN_START`` times a lower bound of the road time to the closest destination
        (straight distance between road nodes at the fastest edge's speed), each next one
        ``_DEEPEN_STEP`` times the last, up to the shortest straight walk (minus the walk to
        the road; no destination further by road can be the quickest) or ``limit_min``. A
        search of limit ``L`` knows every road time up to the walk to the road plus ``L``;
        when the quickest it finds is below that, no destination it did not reach can be as
        quick, and its answer is the full search's. A far destination (a team moving to
        another region) thus costs a search about as far as it, not one of the whole graph.
        Destinations no road route can reach within the limit (another part of the network,
        or a lower bound of the road time above it) are the walk, with no search; on a large
        network a single destination's lower bound also comes from landmarks (see
        :class:`_Landmarks`), which both skips the searches of a move with no route within the
        bound and starts the two-ended search nearer the route. A single destination's
        minutes come from the two-ended search itself (:func:`meet`), with no final search
        from one end of twice its radius.
        """
        i, js = index(from_id), indices(to_ids)
        on_foot = walking(i, js)
        linked = part[node[js]] == part[node[i]]  # some road route joins them
        bound = min(limit_min, max(float(on_foot.min()) - off[i], _EPS_MIN))
        lower = 0.0
        if linked.any() and fastest > 0:
            lower = float(np.hypot(*(node_xy[js[linked]] - node_xy[i]).T).min()) / fastest
        if not linked.any() or lower * (1 - 1e-9) > bound:
            # no road route, or none within the bound: every search would give the walk
            k = int(np.argmin(on_foot))
            return k, float(on_foot[k])
        if fastest <= 0:  # no speed to bound the search by: one search of the whole bound
            return quickest(i, js, bound, on_foot)
        if len(js) == 1:
            return 0, one(i, int(js[0]), lower, bound, float(on_foot[0]))
        reach = max(lower * _DEEPEN_START, _DEEPEN_MIN)
        while reach < bound:
            k, t = quickest(i, js, reach, on_foot)
            if t < off[i] + reach:  # every destination not reached is slower
                return k, t
            reach *= _DEEPEN_STEP
        return quickest(i, js, bound, on_foot)

    def quickest(i: int, js: np.ndarray, limit: float, on_foot: np.ndarray) -> tuple[int, float]:
        """Position and minutes of the quickest of ``js`` by a search of ``limit``."""
        t = minutes(i, js, limit, on_foot)
        k = int(np.argmin(t))
        return k, float(t[k])

    def one(i: int, j: int, lower: float, bound: float, on_foot: float) -> float:
        """Minutes from area i to area j: the two-ended search's route, else the walk."""
        a, b = int(node[i]), int(node[j])
        if landmarks.useful:  # a large network: the landmarks' bound is tighter
            lower = max(lower, landmarks.lower(a, b))
            if lower * (1 - 1e-9) - 1e-9 > bound:  # no route within the bound
                return on_foot
        route = meet(a, b, lower, bound)
        if route > bound:  # no route of at most `bound` minutes: the walk
            return on_foot
        return float(np.fmin(off[i] + route + off[j], on_foot))

    def meet(a: int, b: int, lower: float, bound: float) -> float:
        """Road minutes from node a to node b, from searches from both ends; inf when no
        route of at most ``bound`` minutes exists.

        Searches of radius ``r`` from ``a`` and (the graph is symmetric) from ``b`` know every
        road time up to ``2 r``: the shortest route either has a node within ``r`` of both
        ends or crosses an edge from one ball to the other. Radii grow by ``_DEEPEN_STEP``
        from half the lower bound; each costs two searches of about a quarter of the area
        one search of ``2 r`` covers. The minutes are the shortest route's, summed from both
        ends (equal to a one-ended search's up to rounding in the last bits).
        """
        r = max(0.5 * lower * _DEEPEN_START, _DEEPEN_MIN)
        top = 0.5 * bound * (1 + 1e-9) + 1e-9  # both balls together cover the bound
        while True:
            r = min(r, top)
            route = _meeting(csr, longest, *from_node(a, r), from_node(b, r)[0])
            if route <= 2 * r:
                return route
            if r >= top:
                return float("inf")
            r *= _DEEPEN_STEP

    travel.nearest = nearest
    return travel


# --------------------------------------------------------------------------------- helpers


def _line_speeds(roads: gpd.GeoDataFrame, speeds: dict[str, float], default: float) -> np.ndarray:
    """Speed (km/h) of each road row; unknown classes get ``default`` with a warning."""
    if "road_class" not in roads.columns:
        warn(
            f"criteria: the roads layer has no 'road_class' column; every road gets the "
            f"default speed {default:g} km/h"
        )
        return np.full(len(roads), float(default))
    cls = roads["road_class"].astype("string").fillna("")
    speed = cls.map(speeds).astype(float)
    unknown = cls[speed.isna()]
    if len(unknown):
        counts = unknown.value_counts().sort_index()
        listed = ", ".join(f"{k!r} ({v})" for k, v in counts.items())
        warn(
            f"criteria: road classes not in criteria.remoteness.road_speeds_kmh: {listed}; "
            f"they get the default speed {default:g} km/h; add them to the table"
        )
    return speed.fillna(float(default)).to_numpy()


def _snap(coords: np.ndarray, snap: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex id of each coordinate after snapping to a ``snap`` grid, and the vertices' xy."""
    k = np.round(coords / snap).astype(np.int64)
    k -= k.min(axis=0)
    span = k.max(axis=0) + 1
    if span[0] * float(span[1]) < 2**62:
        key = k[:, 0] * span[1] + k[:, 1]
        uniq, first, vertex = np.unique(key, return_index=True, return_inverse=True)
    else:  # too wide an extent for one int64 key
        _, first, vertex = np.unique(k, axis=0, return_index=True, return_inverse=True)
    return vertex.ravel(), coords[first]


def _node_vertices(vertex: np.ndarray, line: np.ndarray, n_vertices: int) -> np.ndarray:
    """Vertices that are line ends or shared by two or more lines."""
    is_node = np.zeros(n_vertices, dtype=bool)
    start = np.concatenate([[True], line[1:] != line[:-1]])
    end = np.concatenate([line[1:] != line[:-1], [True]])
    is_node[vertex[start | end]] = True
    pair = np.unique(line.astype(np.int64) * n_vertices + vertex)
    lines_per_vertex = np.bincount(pair % n_vertices, minlength=n_vertices)
    is_node |= lines_per_vertex >= 2
    return is_node


def _symmetric_csr(u: np.ndarray, v: np.ndarray, w: np.ndarray, n: int) -> sp.csr_array:
    """Symmetric CSR of the fastest edge between each node pair, loops dropped."""
    keep = u != v
    u, v, w = u[keep], v[keep], np.maximum(w[keep], _EPS_MIN)
    rows, cols, wts = np.concatenate([u, v]), np.concatenate([v, u]), np.concatenate([w, w])
    order = np.lexsort((wts, cols, rows))
    rows, cols, wts = rows[order], cols[order], wts[order]
    first = np.concatenate([[True], (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])])
    return sp.csr_array((wts[first], (rows[first], cols[first])), shape=(n, n))


def _attach(graph: RoadGraph, xy: np.ndarray, walk: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest road node of each point and the walk to it (minutes)."""
    d, node = graph.tree.query(xy)
    return node.astype(np.int64), d / walk


def _with_sources(graph: RoadGraph, node: np.ndarray, off: np.ndarray) -> sp.csr_array:
    """The graph plus one virtual node per source, joined to its road node by its walk."""
    n, k = graph.n_nodes, len(node)
    csr = graph.csr
    indptr = np.concatenate([csr.indptr, csr.indptr[-1] + np.arange(1, k + 1)])
    indices = np.concatenate([csr.indices, node]).astype(csr.indices.dtype, copy=False)
    data = np.concatenate([csr.data, np.maximum(off, _EPS_MIN)])
    return sp.csr_array((data, indices, indptr), shape=(n + k, n + k))


def _travel(graph, area_node, area_off, area_xy, dest_xy, walk, rs):
    """Quickest travel (min) from each area to any destination, and that destination's index.

    One multi-source Dijkstra from all destinations (``min_only=True`` gives each node its
    nearest source). Unreachable: ``inf`` and index -1.
    """
    n = graph.n_nodes
    node, off = _attach(graph, dest_xy, walk)
    aug = _with_sources(graph, node, off)
    dist, _, src = dijkstra(
        aug,
        directed=True,
        indices=np.arange(n, n + len(node)),
        min_only=True,
        return_predecessors=True,
    )
    t = area_off + dist[area_node]
    near = np.where(np.isfinite(t), src[area_node] - n, -1)
    walk_m = rs.direct_walk_max_min * walk
    d, direct = cKDTree(dest_xy).query(area_xy, distance_upper_bound=walk_m * (1 + 1e-12))
    t_walk = d / walk  # inf where no destination is within the walking limit
    use = (t_walk <= rs.direct_walk_max_min) & (t_walk < t)
    t = np.where(use, t_walk, t)
    near = np.where(use, direct, near)
    return t, near


def _penalised(
    t: np.ndarray, ids: pd.Index, rs, what: str, who: str = "areas", id_name: str = "hazard_id"
) -> np.ndarray:
    """Replace unreachable travel times by the penalty, naming the places in a warning."""
    bad = ~np.isfinite(t)
    if bad.any():
        warn(
            f"criteria: {int(bad.sum())} {who} have no road route to any {what} (disconnected "
            f"network parts): {id_name} {id_list(ids[bad])}; their travel time is set to "
            f"unreachable_penalty_min = {rs.unreachable_penalty_min:g}"
        )
    return np.where(bad, rs.unreachable_penalty_min, t)


def _within_travel(
    graph, area_node, area_off, area_xy, src_xy, weights, walk, limit, rs, reduce=None
):
    """Per area, the sum of ``weights`` (sources × k) over sources reachable within ``limit``.

    Travel from a source to an area is its walk to its road node, the fastest route, and the
    area's walk from its node (``T = D[s, node(a)] + walk(a)``), or a straight walk of at
    most ``min(limit, direct_walk_max_min)`` when quicker. ``reduce(src, area)`` receives each
    block's reachable pairs (index arrays) to collect more.

    Notes
    -----
    No route of at most ``limit`` minutes leaves the disc of radius ``R = limit × v`` around
    its source, where ``v`` is the fastest speed of any edge (straight distance between its
    nodes over its minutes) or of the walk. Sources are grouped in square cells of side
    ``>= R``; each cell's bounded Dijkstra runs on the road nodes of its 3 × 3 cells only and
    is compared with the areas there, so the work grows with sources × the nodes and areas
    near them (near-linear in the register), not sources × all nodes × all areas, and the
    answer is the same as on the whole graph.
    """
    n_areas, k_src = len(area_node), len(src_xy)
    acc = np.zeros((n_areas, weights.shape[1]))
    if k_src == 0 or n_areas == 0:
        return acc
    src_node, src_off = _attach(graph, src_xy, walk)
    walk_lim = min(limit, rs.direct_walk_max_min) * walk
    if walk_lim > 0:
        near = [
            np.asarray(p, dtype=np.int64)
            for p in cKDTree(src_xy).query_ball_tree(cKDTree(area_xy), r=walk_lim)
        ]
    else:
        near = [np.zeros(0, dtype=np.int64)] * k_src

    radius = limit * max(walk, _fastest_edge(graph)) * (1 + 1e-9) + 1e-6
    everything = np.vstack([graph.xy, area_xy, src_xy])
    lo, hi = everything.min(axis=0), everything.max(axis=0)
    cell = max(radius, float((hi - lo).max()) / 4096.0, 1e-3)
    ncol = int((hi[1] - lo[1]) // cell) + 3

    def key(xy):
        ij = ((xy - lo) // cell).astype(np.int64) + 1
        return ij[:, 0] * ncol + ij[:, 1]

    def nine(k: int) -> np.ndarray:
        return (k + np.array([-ncol, 0, ncol])[:, None] + np.array([-1, 0, 1])).ravel()

    node_cells = _Buckets(key(graph.xy))
    area_cells = _Buckets(np.concatenate([key(graph.xy[area_node]), key(area_xy)]))
    src_cells = _Buckets(key(src_xy))
    for c, srcs in src_cells.groups():
        around = nine(c)
        nodes = np.sort(node_cells.members(around))
        areas = np.unique(area_cells.members(around) % n_areas)
        sub = graph.csr[nodes][:, nodes]
        m, k = len(nodes), len(srcs)
        at, linked = _positions(nodes, src_node[srcs])
        idx = sub.indices.dtype  # the graph's (32-bit): no copy per search
        indptr = np.concatenate([sub.indptr, sub.indptr[-1] + np.cumsum(linked)]).astype(idx)
        aug = sp.csr_array(
            (
                np.concatenate([sub.data, np.maximum(src_off[srcs][linked], _EPS_MIN)]),
                np.concatenate([sub.indices, at[linked]]).astype(idx),
                indptr,
            ),
            shape=(m + k, m + k),
        )
        a_at, a_road = _positions(nodes, area_node[areas])
        block = max(1, int(rs.chunk_bytes // (8 * max(m + k + len(areas), 1))))
        for b0 in range(0, k, block):
            rows = np.arange(b0, min(k, b0 + block))
            dist = dijkstra(aug, directed=True, indices=m + rows, limit=limit)
            # reached: by road or on foot within the limit (min(road, walk) <= limit)
            reached = np.zeros((len(rows), len(areas)), dtype=bool)
            reached[:, a_road] = dist[:, a_at[a_road]] + area_off[areas[a_road]][None, :] <= limit
            del dist
            s = srcs[rows]
            cnt = np.array([len(near[x]) for x in s], dtype=np.int64)
            if cnt.sum():
                i = np.repeat(np.arange(len(rows)), cnt)
                a = np.concatenate([near[x] for x in s])
                tw = np.hypot(*(area_xy[a] - src_xy[s[i]]).T) / walk
                j = np.searchsorted(areas, a)
                on_foot = tw <= limit
                reached[i[on_foot], j[on_foot]] = True
            i, j = np.nonzero(reached)
            del reached
            if len(i) == 0:
                continue
            w = weights[s[i]]  # summed per area in pair order, as np.add.at would
            local = np.column_stack(
                [np.bincount(j, weights=w[:, c], minlength=len(areas)) for c in range(w.shape[1])]
            )
            acc[areas] += local
            if reduce is not None:
                reduce(s[i], areas[j])
    return acc


class _Buckets:
    """Indices grouped by an integer key, to fetch the members of a few keys quickly."""

    def __init__(self, keys: np.ndarray):
        self.order = np.argsort(keys, kind="stable")
        self.keys, self.start, counts = np.unique(
            keys[self.order], return_index=True, return_counts=True
        )
        self.end = self.start + counts

    def groups(self):
        """``(key, members)`` for every key present."""
        for k, a, b in zip(self.keys.tolist(), self.start, self.end, strict=True):
            yield k, self.order[a:b]

    def members(self, keys: np.ndarray) -> np.ndarray:
        """Members of any of ``keys`` (absent keys give none)."""
        pos, found = _positions(self.keys, keys)
        parts = [self.order[self.start[p] : self.end[p]] for p in pos[found]]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _positions(sorted_values: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each of ``values`` in ``sorted_values`` and whether it is there."""
    if len(sorted_values) == 0:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return pos, sorted_values[pos] == values


class _Landmarks:
    """Lower bounds of road minutes between two nodes, from a few landmark nodes.

    With ``d_L`` the road minutes from landmark ``L`` to every node, the triangle inequality
    gives ``d(a, b) >= |d_L(a) - d_L(b)|`` on a symmetric network (the "ALT" bound of
    Goldberg and Harrelson, 2005). Landmarks at the rim of the largest part of the network
    (the nodes furthest in eight compass directions) bound long moves far more tightly than
    the straight line at the fastest edge's speed, which a single fast road makes weak. The
    searches from the landmarks (one full Dijkstra each) run at the first call, and only on
    a network of at least ``MIN_NODES`` nodes (``useful``): below that a search costs little.
    """

    MIN_NODES = 50_000
    DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))

    def __init__(self, csr: sp.csr_array, xy: np.ndarray, part: np.ndarray):
        self.csr, self.xy, self.part = csr, xy, part
        self.useful = csr.shape[0] >= self.MIN_NODES
        self.dist: np.ndarray | None = None

    def _prepare(self) -> np.ndarray:
        big = np.flatnonzero(self.part == np.bincount(self.part).argmax())
        xy = self.xy[big]
        picks = {int(big[np.argmax(xy @ np.array(d, dtype=float))]) for d in self.DIRECTIONS}
        return dijkstra(self.csr, directed=True, indices=sorted(picks))

    def lower(self, a: int, b: int) -> float:
        """A lower bound of the road minutes between nodes ``a`` and ``b`` (0 when the
        landmarks know neither)."""
        if self.dist is None:
            self.dist = self._prepare()
        da, db = self.dist[:, a], self.dist[:, b]
        ok = np.isfinite(da) & np.isfinite(db)
        return float(np.abs(da[ok] - db[ok]).max()) if ok.any() else 0.0


def _longest_edge(csr: sp.csr_array) -> np.ndarray:
    """Per node, the minutes of its longest edge (0 without edges)."""
    out = np.zeros(csr.shape[0])
    has = np.diff(csr.indptr) > 0
    if has.any():
        out[has] = np.maximum.reduceat(csr.data, csr.indptr[:-1][has])
    return out


def _meeting(
    csr: sp.csr_array, longest: np.ndarray, da: np.ndarray, limit_a: float, db: np.ndarray
) -> float:
    """Shortest route through the two balls of a two-ended search: ``min(da[v] + db[v])``
    over nodes and ``min(da[u] + w(u, v) + db[v])`` over edges (inf when they do not meet).

    ``da`` is exact up to ``limit_a``; an edge matters only from a node of its ball's rim
    (``da[u] + longest[u] > limit_a``): the other nodes' neighbours are all in the ball,
    where the node term already counts them.
    """
    u = np.flatnonzero(np.isfinite(da))
    if len(u) == 0:
        return float("inf")
    best = float(np.min(da[u] + db[u]))
    u = u[da[u] + longest[u] > limit_a]
    start, stop = csr.indptr[u], csr.indptr[u + 1]
    count = stop - start
    at = np.repeat(start - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    if len(at):
        best = min(
            best, float(np.min(np.repeat(da[u], count) + csr.data[at] + db[csr.indices[at]]))
        )
    return best


def _int32_graph(csr: sp.csr_array) -> sp.csr_array:
    """The same CSR with 32-bit index arrays when they fit (scipy's csgraph casts otherwise)."""
    if csr.indices.dtype == np.int32 or max(csr.shape[0], csr.nnz) >= 2**31:
        return csr
    return sp.csr_array(
        (csr.data, csr.indices.astype(np.int32), csr.indptr.astype(np.int32)), shape=csr.shape
    )


def _fastest_edge(graph: RoadGraph) -> float:
    """Fastest straight-line speed (m per minute) of any road edge, between its two nodes."""
    coo = graph.csr.tocoo()
    if coo.nnz == 0:
        return 0.0
    d = np.hypot(*(graph.xy[coo.row] - graph.xy[coo.col]).T)
    return float((d / coo.data).max())
