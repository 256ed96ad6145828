"""An offline basemap from a local MBTiles or PMTiles file: the tiles over the map, inlined.

A browser will not read a local file by range request, and a page opened from ``file://``
should fetch nothing. So the raster tiles that cover the map's extent are read here (MBTiles
is SQLite; PMTiles v3 is a header, compressed directories and the tile data), zoom level by
zoom level, until the next level would pass the size cap, and are inlined into the page as
``data:`` URIs. Deeper zooms enlarge the deepest inlined tiles (Leaflet's ``maxNativeZoom``).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import sqlite3
import struct
from pathlib import Path

from ccm_geo.errors import InputError

__all__ = ["is_local_tiles", "extract_tiles", "zxy_to_tileid", "TILE_SUFFIXES"]

#: File suffixes read as local tile archives.
TILE_SUFFIXES = (".mbtiles", ".pmtiles")
_MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
_PMTILES_TYPE = {1: "pbf", 2: "png", 3: "jpg", 4: "webp", 5: "avif"}
_MAX_TILES_PER_ZOOM = 4096


def is_local_tiles(tiles: str | None) -> bool:
    """True when ``tiles`` names a local MBTiles/PMTiles file rather than a URL template."""
    if not tiles or "{z}" in tiles or tiles.startswith(("http:", "https:")):
        return False
    return Path(tiles).suffix.lower() in TILE_SUFFIXES


def extract_tiles(
    path: str | Path, bounds: list[list[float]] | None, *, max_mb: float = 8.0
) -> dict:
    """The tiles of a local archive that cover ``bounds``, as ``data:`` URIs, under a cap.

    Parameters
    ----------
    path
        An ``.mbtiles`` (SQLite, TMS rows) or ``.pmtiles`` (v3) file of raster tiles (PNG,
        JPEG or WebP).
    bounds
        ``[[south, west], [north, east]]`` in degrees: the map's extent (None: the archive's).
    max_mb
        Cap on the inlined tiles (MB, after base64). Zoom levels are added from the archive's
        lowest while the total stays under it.

    Returns
    -------
    dict
        ``tiles`` ("z/x/y" -> data URI), ``minZoom``, ``maxNativeZoom``, ``attribution``,
        ``mb`` (inlined size) and ``count``.

    Raises
    ------
    InputError
        When the file is missing, not a tile archive, holds vector tiles, or its lowest zoom
        alone passes the cap.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"tiles file {path} not found; give the path of a local .mbtiles or .pmtiles file"
        raise InputError(msg)
    reader = _PMTiles(path) if path.suffix.lower() == ".pmtiles" else _MBTiles(path)
    try:
        fmt = reader.format
        if fmt not in _MIME:
            msg = (
                f"tiles file {path} holds {fmt!r} tiles; the offline basemap needs raster "
                "tiles (png, jpg or webp): export a raster MBTiles/PMTiles"
            )
            raise InputError(msg)
        if bounds is None:
            bounds = reader.bounds
        cap = max_mb * 1e6
        tiles: dict[str, str] = {}
        total = 0
        zooms: list[int] = []
        for z in range(reader.minzoom, reader.maxzoom + 1):
            cells = _cover(bounds, z)
            if len(cells) > _MAX_TILES_PER_ZOOM:
                break
            level = {}
            size = 0
            for x, y in cells:
                data = reader.tile(z, x, y)
                if data is None:
                    continue
                uri = f"data:{_MIME[fmt]};base64,{base64.b64encode(data).decode('ascii')}"
                level[f"{z}/{x}/{y}"] = uri
                size += len(uri)
            if total + size > cap:
                if not zooms:
                    msg = (
                        f"tiles file {path}: zoom {z}, its lowest, already needs "
                        f"{size / 1e6:.1f} MB over the map's extent, above tiles_max_mb = "
                        f"{max_mb:g}; raise [maps] tiles_max_mb"
                    )
                    raise InputError(msg)
                break
            tiles.update(level)
            total += size
            zooms.append(z)
        if not tiles:
            msg = f"tiles file {path} has no tile over the map's extent {bounds}"
            raise InputError(msg)
        return {
            "tiles": tiles,
            "minZoom": 0,
            "minNativeZoom": zooms[0],
            "maxNativeZoom": zooms[-1],
            "attribution": reader.attribution,
            "mb": round(total / 1e6, 2),
            "count": len(tiles),
        }
    finally:
        reader.close()


def zxy_to_tileid(z: int, x: int, y: int) -> int:
    """The PMTiles v3 tile id: tiles of lower zooms first, then the Hilbert index in zoom z."""
    acc = ((1 << (2 * z)) - 1) // 3
    a = z - 1
    while a >= 0:
        s = 1 << a
        rx, ry = s & x, s & y
        acc += ((3 * rx) ^ ry) << a
        if ry == 0:
            if rx != 0:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        a -= 1
    return acc


# --------------------------------------------------------------------------------- helpers


def _cover(bounds: list[list[float]], z: int) -> list[tuple[int, int]]:
    """XYZ tiles of zoom ``z`` covering [[s, w], [n, e]] (web mercator)."""
    (s, w), (n, e) = bounds
    n_tiles = 1 << z

    def tx(lon: float) -> int:
        return min(n_tiles - 1, max(0, int((lon + 180.0) / 360.0 * n_tiles)))

    def ty(lat: float) -> int:
        lat = max(-85.0511, min(85.0511, lat))
        r = math.radians(lat)
        v = (1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n_tiles
        return min(n_tiles - 1, max(0, int(v)))

    return [(x, y) for x in range(tx(w), tx(e) + 1) for y in range(ty(n), ty(s) + 1)]


class _MBTiles:
    def __init__(self, path: Path) -> None:
        try:
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            meta = dict(self.db.execute("SELECT name, value FROM metadata").fetchall())
            zooms = self.db.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        except sqlite3.DatabaseError as exc:
            msg = f"tiles file {path} is not an MBTiles database ({exc}); give a .mbtiles file"
            raise InputError(msg) from exc
        if zooms[0] is None:
            msg = f"tiles file {path} holds no tiles"
            raise InputError(msg)
        self.format = str(meta.get("format", "png")).lower()
        self.minzoom, self.maxzoom = int(zooms[0]), int(zooms[1])
        self.attribution = meta.get("attribution", "") or ""
        b = [float(v) for v in str(meta.get("bounds", "-180,-85,180,85")).split(",")]
        self.bounds = [[b[1], b[0]], [b[3], b[2]]]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        row = self.db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),  # MBTiles rows count from the south (TMS)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self.db.close()


class _PMTiles:
    def __init__(self, path: Path) -> None:
        self.f = path.open("rb")
        head = self.f.read(127)
        if len(head) < 127 or head[:7] != b"PMTiles" or head[7] != 3:
            self.f.close()
            msg = f"tiles file {path} is not a PMTiles v3 archive; give a .pmtiles (v3) file"
            raise InputError(msg)
        (root_off, root_len, meta_off, meta_len, leaf_off, _leaf_len, data_off, _data_len) = (
            struct.unpack_from("<8Q", head, 8)
        )
        self.internal, self.tile_comp, ttype = head[97], head[98], head[99]
        self.minzoom, self.maxzoom = head[100], head[101]
        w, s, e, n = (v / 1e7 for v in struct.unpack_from("<4i", head, 102))
        self.bounds = [[s, w], [n, e]]
        self.format = _PMTILES_TYPE.get(ttype, "unknown")
        self.leaf_off, self.data_off = leaf_off, data_off
        self.root = self._directory(root_off, root_len)
        self.attribution = ""
        if meta_len:
            try:
                meta = json.loads(self._read(meta_off, meta_len, self.internal))
                self.attribution = str(meta.get("attribution", ""))
            except (ValueError, AttributeError):
                self.attribution = ""

    def _read(self, offset: int, length: int, compression: int) -> bytes:
        self.f.seek(offset)
        data = self.f.read(length)
        if compression == 2:
            return gzip.decompress(data)
        if compression in (0, 1):
            return data
        msg = f"PMTiles compression {compression} (brotli/zstd) is not supported; use gzip"
        raise InputError(msg)

    def _directory(self, offset: int, length: int) -> list[tuple[int, int, int, int]]:
        buf = self._read(offset, length, self.internal)
        pos = 0

        def varint() -> int:
            nonlocal pos
            shift = value = 0
            while True:
                b = buf[pos]
                pos += 1
                value |= (b & 0x7F) << shift
                if b < 0x80:
                    return value
                shift += 7

        n = varint()
        ids, last = [], 0
        for _ in range(n):
            last += varint()
            ids.append(last)
        runs = [varint() for _ in range(n)]
        lengths = [varint() for _ in range(n)]
        offsets: list[int] = []
        for i in range(n):
            v = varint()
            offsets.append(offsets[i - 1] + lengths[i - 1] if v == 0 and i > 0 else v - 1)
        return list(zip(ids, offsets, lengths, runs, strict=True))

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        tid = zxy_to_tileid(z, x, y)
        entries = self.root
        for _depth in range(4):
            e = _find(entries, tid)
            if e is None:
                return None
            _id, off, length, run = e
            if run > 0:
                return self._read(self.data_off + off, length, self.tile_comp)
            entries = self._directory(self.leaf_off + off, length)
        return None

    def close(self) -> None:
        self.f.close()


def _find(entries, tid: int):
    """The entry holding tile ``tid`` (a run of tiles or a leaf directory), or None."""
    lo, hi = 0, len(entries) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if entries[mid][0] < tid:
            lo = mid + 1
        elif entries[mid][0] > tid:
            hi = mid - 1
        else:
            return entries[mid]
    if hi >= 0:
        e = entries[hi]
        if e[3] == 0 or tid - e[0] < e[3]:
            return e
    return None
