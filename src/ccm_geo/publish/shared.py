"""What the map and request stages prepare once per run and reuse.

A national road layer has hundreds of thousands of edges; joining them into lines, packing
them for the web page and building the areas' drawing paths take seconds each. The print
map, the web map and every donor's request maps draw the same layers, so each is prepared
once per frame and kept while that frame lives: the pipeline's map and request stages share
one context (``ccm-geo run``), and the request stage's donors share it among themselves.

The memo is keyed on the frame's identity (and length): a frame handed to the maps is
treated as read-only, as the pipeline's stages do. An entry goes when its frame is
garbage-collected.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import weakref
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import shapely

__all__ = ["memo", "road_lines", "run_cache", "cached_text", "frame_key", "clear"]

T = TypeVar("T")

_MEMO: dict[tuple, tuple[weakref.ref, Any, tuple]] = {}


def memo(obj: Any, key: tuple[Hashable, ...], make: Callable[[], T], *, also: tuple = ()) -> T:
    """``make()``, computed once per live ``obj`` (and ``also``) and ``key``.

    Parameters
    ----------
    obj
        The frame the value is derived from (held by a weak reference only).
    key
        What else the value depends on (settings, a kind name).
    make
        Computes the value.
    also
        Further frames (or None) the value depends on: a kept value is used only while each is
        the very object it was computed from.
    """
    k = (id(obj), len(obj) if hasattr(obj, "__len__") else None, *key)
    hit = _MEMO.get(k)
    if hit is not None and hit[0]() is obj and _same(hit[2], also):
        return hit[1]
    value = make()
    try:
        ref = weakref.ref(obj, lambda _r, k=k: _MEMO.pop(k, None))
        others = tuple(None if o is None else weakref.ref(o) for o in also)
    except TypeError:  # not weak-referenceable: not kept
        return value
    _MEMO[k] = (ref, value, others)
    return value


def _same(refs: tuple, objs: tuple) -> bool:
    if len(refs) != len(objs):
        return False
    pairs = zip(refs, objs, strict=True)
    return all((r is None and o is None) or (r is not None and r() is o) for r, o in pairs)


#: The folder of the run's prepared files (see :func:`run_cache`); None: kept in memory only
_FOLDER: list[Path] = []


@contextlib.contextmanager
def run_cache(folder: str | Path) -> Iterator[Path]:
    """Keep what :func:`cached_text` prepares in ``folder`` as well, for the next process.

    The pipeline's map and request stages run in one process (``ccm-geo run``) or each in its
    own (``ccm-geo map``, then ``ccm-geo request``); the second then reads the packed road
    layer the first wrote instead of joining and packing it again. Files are named by the
    sha256 of their content's inputs, so a changed input is a new name, never a stale file.
    """
    folder = Path(folder)
    _FOLDER.append(folder)
    try:
        yield folder
    finally:
        _FOLDER.pop()


def cached_text(kind: str, key: Callable[[], str], make: Callable[[], str]) -> str:
    """``make()``, read from the run's cache folder when it holds ``kind`` for ``key()``.

    Without a :func:`run_cache` folder this is ``make()``. A file of ``kind`` with another key
    is removed when the new one is written (one per kind is kept).
    """
    if not _FOLDER:
        return make()
    import pyproj

    from ccm_geo import __version__

    # what packs the text beyond its key: the tool (its packing code), GEOS and PROJ
    versions = f"{__version__}\0{shapely.geos_version_string}\0{pyproj.__version__}"
    digest = hashlib.sha256(f"{kind}\0{key()}\0{versions}".encode()).hexdigest()
    folder = _FOLDER[-1]
    path = folder / f"{kind}-{digest}.json"
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    text = make()
    try:
        from ccm_geo.io import write_text

        write_text(text, path)  # atomic: a killed run leaves a temporary the next one removes
        for old in folder.glob(f"{kind}-*.json"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:  # a read-only folder: the run goes on without keeping it
        pass
    return text


def frame_key(gdf, columns: tuple[str, ...] = ()) -> str:
    """A sha256 of a frame's geometry (types, coordinates, their counts), CRS and
    ``columns``: what a prepared layer depends on."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    h = hashlib.sha256()
    h.update(str(gdf.crs.to_wkt() if gdf.crs is not None else None).encode())
    h.update(np.asarray(shapely.get_type_id(geoms), dtype=np.int64).tobytes())
    h.update(np.asarray(shapely.get_num_coordinates(geoms), dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(shapely.get_coordinates(geoms)).tobytes())
    for col in columns:
        values = gdf[col].tolist() if col in gdf.columns else None
        h.update(json.dumps([col, values], default=str).encode())
    return h.hexdigest()


def clear() -> None:
    """Forget every prepared value (tests; or to free memory before a long step)."""
    _MEMO.clear()


def road_lines(roads) -> tuple[np.ndarray, list[str | None]]:
    """Roads joined into as few lines as possible, per road class, with each line's class.

    A road network read from a graph has one feature per edge (hundreds of thousands
    nationally); drawn one by one, each is its own polyline on the web page and its own
    subpath in a PDF. Segments of one class that meet end to end are one line on the map
    (``shapely.line_merge``). Classes in name order, then the roads without a class.
    Computed once per roads frame (:func:`memo`).
    """
    return memo(roads, ("road_lines",), lambda: _road_lines(roads))


def _road_lines(roads) -> tuple[np.ndarray, list[str | None]]:
    from ccm_geo.publish.maps.encode import texts

    cls = np.array(texts(roads, "road_class"), dtype=object)
    geoms, labels = [], []
    keys = sorted({c for c in cls if c is not None})
    groups = [(k, cls == k) for k in keys]
    groups.append((None, np.array([c is None for c in cls], dtype=bool)))
    for key, sel in groups:
        if not sel.any():
            continue
        lines = shapely.get_parts(np.asarray(roads.geometry.values[sel], dtype=object))
        lines = lines[np.isin(shapely.get_type_id(lines), (1, 2))]  # LineString, LinearRing
        lines = lines[shapely.get_num_coordinates(lines) >= 2]
        if not len(lines):
            continue
        xy, idx = shapely.get_coordinates(lines, return_index=True)  # rings as lines too
        merged = shapely.line_merge(shapely.multilinestrings(shapely.linestrings(xy, indices=idx)))
        parts = shapely.get_parts(merged)
        geoms.append(parts)
        labels += [key] * len(parts)
    if not geoms:
        return np.empty(0, dtype=object), []
    return np.concatenate(geoms), labels
