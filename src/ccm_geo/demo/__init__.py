"""Builds the embedded demo region: a fictional province for clearance planning, deterministically.

The province is invented. It is placed in EPSG:32648 (UTM 48N, somewhere like the Lao PDR
uplands) so that every distance and area is metric, and it holds what a planner's register and
context layers hold: hazardous areas with IMSMA-like, *user-style* field names (a project config
maps them onto the data contract), villages, health facilities, a road network, districts,
accidents and a categorical land-cover raster.

Everything is drawn from one seeded :class:`numpy.random.Generator` tree (no global random
state): the same ``seed`` and ``scale`` give byte-identical files. ``scale`` multiplies the
number of features and the area of the province (side lengths grow with ``sqrt(scale)``), so the
national benchmark uses the same generator: ``scale=220`` gives about 100,000 hazard polygons
(see ``data/demo/README.md`` for the counts). The land-cover raster is written block by block,
so memory does not grow with the raster's size.

The generator is a package, a module per concern: ``constants`` (CRS, place, seed, classes,
feature densities), ``province`` (frame, rivers, terrain), ``settlements`` (villages and their
names, districts, health facilities), ``roads``, ``hazards`` (hazardous areas and accidents),
``files`` (vector files and the land-cover raster) and ``region`` (``generate_region`` and the
command line, ``python -m ccm_geo.demo``).
"""

from __future__ import annotations

from ccm_geo.demo.constants import (
    BOWTIE_IDS,
    DEMO_CRS,
    DEMO_ORIGIN,
    DEMO_SEED,
    DEMO_SIZE_M,
    LANDCOVER_CLASSES,
    REFERENCE_DATE,
)
from ccm_geo.demo.region import generate_region, main

__all__ = [
    "DEMO_CRS",
    "DEMO_ORIGIN",
    "DEMO_SEED",
    "DEMO_SIZE_M",
    "LANDCOVER_CLASSES",
    "REFERENCE_DATE",
    "BOWTIE_IDS",
    "generate_region",
    "main",
]
