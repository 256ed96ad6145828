"""Constants of the demo province: its CRS, place, seed, classes and feature densities.

Part of the demo generator (see ``ccm_geo.demo``).
"""

from __future__ import annotations

from datetime import date

from ccm_geo.model import LANDCOVER_CLASSES as MODEL_LANDCOVER_CLASSES

#: The demo's CRS: WGS 84 / UTM zone 48N.
DEMO_CRS = "EPSG:32648"
#: South-west corner of the province (m, EPSG:32648).
DEMO_ORIGIN = (600_000.0, 1_650_000.0)
#: Width and height (m) of the province at ``scale=1``.
DEMO_SIZE_M = (30_000.0, 40_000.0)
#: Seed of the committed demo (the date of the 2017 CCM cooperation meeting).
DEMO_SEED = 20171005
#: Accidents fall in the ten years before this date.
REFERENCE_DATE = date(2027, 1, 1)
#: Land-cover codes of ``landcover.tif`` (0 is nodata).
LANDCOVER_CLASSES = MODEL_LANDCOVER_CLASSES  # the standard classes of the data contract
#: The two hazards written as self-intersecting "bow-tie" polygons, whatever the seed: the 7th
#: strike and the 3rd minefield (ids have more digits above 9,999 of a kind, scale > ~28).
BOWTIE_IDS = ("DP-CMR-0007", "DP-MIN-0003")
_BOWTIE_INDEX = {"CMR": 6, "MIN": 2}

# Numbers of features per unit of scale (the province at scale 1 is 30 km x 40 km).
_HAZARDS_PER_SCALE = 450
_SETTLEMENTS_PER_SCALE = 60
_TOWNS_PER_SCALE = 2
_HEALTH_PER_SCALE = 5
_ACCIDENTS_PER_SCALE = 110
_CORRIDORS_PER_SCALE = 4  # bombing corridors (3-5 at scale 1)
_FRONTS_PER_SCALE = 1  # former front lines, along which mine belts lie
_RIVERS_PER_SCALE = 1  # main rivers; tributaries are 5 per main river

_CELL_M = 250.0  # cell of the coarse terrain grid (elevation, distances)
_ROAD_STEP_M = 100.0  # vertex spacing of roads and rivers
_ROAD_PIECE_STEPS = 4  # a road edge between graph nodes is cut into pieces of <= 4 steps
_BLOCK = 256  # raster tile size (pixels)
_LANDCOVER_COLOURS = {
    0: (0, 0, 0, 0),
    1: (38, 115, 0, 255),
    2: (255, 211, 127, 255),
    3: (163, 255, 115, 255),
    4: (230, 0, 0, 255),
    5: (0, 112, 255, 255),
    6: (170, 170, 0, 255),
    7: (204, 204, 204, 255),
}

_SYLLABLES = (
    "Na",
    "Kham",
    "Phon",
    "Xai",
    "Nong",
    "Houay",
    "Don",
    "Sang",
    "Thong",
    "Pak",
    "Vang",
    "Kang",
    "Phou",
    "Lak",
    "Sai",
    "Hin",
    "Boun",
    "Keo",
    "Sy",
    "Tha",
    "Dong",
    "Khoun",
    "Sava",
    "Nam",
    "Hat",
    "Khong",
    "Sen",
    "Pha",
    "Bo",
    "Kou",
    "Phiang",
    "Xieng",
    "Vieng",
    "Sone",
    "Chan",
    "Phet",
    "Kasy",
    "Lath",
    "Phak",
    "Hom",
    "Soung",
    "Ngeun",
    "Kheua",
    "Xang",
    "Dok",
    "Hai",
    "Lom",
    "Savang",
    "Nakhon",
    "Meung",
)
_SUFFIXES = ("Neua", "Tai", "Noy", "Yai", "Mai", "Kao")  # north, south, small, big, new, old
