"""The road network: a spanning tree of the settlements, primary to tertiary roads.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

import math

import numpy as np

from ccm_geo.demo.constants import _ROAD_PIECE_STEPS, DEMO_CRS
from ccm_geo.demo.province import _cut, _meander, _Province, _Terrain
from ccm_geo.demo.settlements import _Settlements


def _roads(
    prov: _Province,
    st: _Settlements,
    terrain: _Terrain,
    rng: np.random.Generator,
    *,
    piece_steps: int = _ROAD_PIECE_STEPS,
):
    """A road network on the settlements' Delaunay graph, cut into edges at shared nodes.

    Primary roads join the towns and the province's gates; secondaries join district capitals
    to the nearest town; the rest of a spanning tree is tertiary (between big villages) or
    track, with a few loops; dead-end farm tracks leave the villages. The most isolated
    village(s) get only their own farm tracks: a small cluster not joined to the network.
    """
    import geopandas as gpd
    import shapely
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
    from scipy.spatial import Delaunay, cKDTree

    n_set = len(st.xy)
    # The isolated village(s): the most remote ordinary villages.
    nn_dist, _ = cKDTree(st.xy).query(st.xy, k=2)
    remote = np.where(st.is_capital, -1.0, nn_dist[:, 1])
    n_iso = max(1, round(prov.scale))
    isolated = np.sort(np.argsort(-remote, kind="stable")[:n_iso])
    n_gates = max(2, round(2 * math.sqrt(prov.scale)))
    gates = _gates(prov, n_gates, rng)
    connected = np.setdiff1d(np.arange(n_set), isolated)
    node_xy = np.concatenate([st.xy[connected], gates])
    n_nodes = len(node_xy)
    pop = np.concatenate([st.pop[connected], np.zeros(n_gates, np.int64)])
    key = np.concatenate(
        [np.flatnonzero(st.is_town[connected]), n_nodes - n_gates + np.arange(n_gates)]
    )
    capital = np.flatnonzero(st.is_capital[connected] & ~st.is_town[connected])

    tri = Delaunay(node_xy)
    s = tri.simplices
    edges = np.unique(
        np.sort(np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]), axis=1), axis=0
    )
    a, b = edges[:, 0], edges[:, 1]
    length = np.hypot(*(node_xy[a] - node_xy[b]).T)
    mid = (node_xy[a] + node_xy[b]) / 2
    cost = length * (1.0 + 2.0 * terrain.sample(terrain.elevation, mid[:, 0], mid[:, 1]))
    graph = coo_matrix(
        (np.concatenate([cost, cost]), (np.concatenate([a, b]), np.concatenate([b, a]))),
        shape=(n_nodes, n_nodes),
    ).tocsr()
    edge_of = {(int(i), int(j)): e for e, (i, j) in enumerate(edges.tolist())}
    rank = np.full(len(edges), 9)  # 0 primary, 1 secondary, 2 tertiary, 3 track, 9 unused

    # Primary: a spanning tree over towns and gates, each link routed on the graph.
    key_xy = node_xy[key]
    dkey = np.hypot(*(key_xy[:, None, :] - key_xy[None, :, :]).transpose(2, 0, 1))
    links = np.argwhere(minimum_spanning_tree(dkey).toarray() > 0)
    _, pred = dijkstra(graph, indices=key, return_predecessors=True)
    for i, j in links.tolist():
        for e in _path_edges(pred[i], key[i], key[j], edge_of):
            rank[e] = 0
    # Secondary: each district capital to its nearest town (or gate).
    _, pred1, src = dijkstra(graph, indices=key, min_only=True, return_predecessors=True)
    for c in capital.tolist():
        for e in _path_edges(pred1, src[c], c, edge_of):
            rank[e] = min(rank[e], 1)
    # Spanning tree over all nodes (favouring roads already chosen), then loops.
    favoured = np.where(rank < 9, cost * 1e-3, cost)
    tree = minimum_spanning_tree(coo_matrix((favoured, (a, b)), shape=(n_nodes, n_nodes)))
    for i, j in zip(*tree.nonzero(), strict=True):
        e = edge_of[(min(i, j), max(i, j))]
        if rank[e] == 9:
            rank[e] = 2 if min(pop[i], pop[j]) >= 700 else 3
    spare = np.flatnonzero((rank == 9) & (length < 1.2 * np.median(length[rank < 9])))
    rank[rng.choice(spare, size=round(0.15 * len(spare)), replace=False)] = 3
    # Gates: drop edges running along the border between two gates.
    gate_gate = (a >= n_nodes - n_gates) & (b >= n_nodes - n_gates)
    rank[gate_gate] = 9
    used = np.flatnonzero(rank < 9)
    starts, ends, klass = node_xy[a[used]], node_xy[b[used]], rank[used]
    amp = np.array([0.015, 0.025, 0.035, 0.05])[klass] * length[used]

    # Farm tracks: dead ends from every village (three or more from isolated ones).
    n_spur = rng.poisson(1.3, n_set)
    n_spur[isolated] = np.maximum(n_spur[isolated], 3) + 1
    owner = np.repeat(np.arange(n_set), n_spur)
    bearing = rng.uniform(0, 2 * np.pi, owner.size)
    reach = rng.uniform(700.0, 2500.0, owner.size)
    s_start = st.xy[owner]
    s_end = np.round(
        prov.clamp(
            s_start + np.column_stack([np.cos(bearing), np.sin(bearing)]) * reach[:, None],
            margin=50.0,
        ),
        2,
    )

    xy, line, local = _meander(
        np.concatenate([starts, s_start]),
        np.concatenate([ends, s_end]),
        np.concatenate([amp, 0.06 * reach]),
        rng,
    )
    xy = prov.clamp(xy)
    lines = shapely.linestrings(xy, indices=line)
    n_main = len(used)
    # Keep farm tracks that cross no other road (their first vertex, the village, aside); the
    # isolated cluster must also stay apart from the network.
    body = shapely.linestrings(xy[local > 0], indices=line[local > 0])
    keep = np.ones(len(lines), bool)
    hit_i, hit_j = shapely.STRtree(lines).query(body[n_main:], predicate="intersects")
    hit_i = hit_i + n_main
    for i, j in sorted(zip(hit_i.tolist(), hit_j.tolist(), strict=True)):
        if j != i and (j < n_main or (j < i and keep[j])):
            keep[i] = False
    iso_spur = np.isin(owner, isolated)
    if not keep[n_main:][iso_spur].any():  # pragma: no cover - keep the documented defect
        keep[n_main + np.flatnonzero(iso_spur)[0]] = True
    klass_all = np.concatenate([klass, np.full(owner.size, 3)])
    kept = np.flatnonzero(keep)
    # Cut each kept line into pieces of <= _ROAD_PIECE_STEPS steps, sharing end vertices.
    pieces_xy, piece_line = _cut(xy, line, kept, steps=piece_steps)
    classes = np.array(["primary", "secondary", "tertiary", "track"])
    width = max(5, len(str(len(piece_line))))
    order = np.arange(len(piece_line))
    return gpd.GeoDataFrame(
        {
            "ROAD_ID": [f"RD-{i + 1:0{width}d}" for i in order],
            "CLASS": classes[klass_all[piece_line]],
        },
        geometry=pieces_xy,
        crs=DEMO_CRS,
    )


def _gates(prov: _Province, n: int, rng: np.random.Generator) -> np.ndarray:
    """Points where primary roads leave the province: one on the south and north edges, then
    anywhere on the border."""
    t = rng.uniform(0.25, 0.75, n)
    side = np.concatenate([[0, 2], rng.integers(0, 4, n - 2)])
    x = np.select(
        [side == 0, side == 1, side == 2],
        [prov.x0 + t * prov.width, prov.x1, prov.x1 - t * prov.width],
        prov.x0,
    )
    y = np.select(
        [side == 0, side == 1, side == 2],
        [prov.y0, prov.y0 + t * prov.height, prov.y1],
        prov.y1 - t * prov.height,
    )
    return np.round(np.column_stack([x, y]), 2)


def _path_edges(pred: np.ndarray, source: int, target: int, edge_of: dict) -> list[int]:
    """Edge indices on the shortest path from ``source`` to ``target`` (predecessor row)."""
    out = []
    node = int(target)
    while node != source and pred[node] >= 0:
        prev = int(pred[node])
        out.append(edge_of[(min(prev, node), max(prev, node))])
        node = prev
    return out
