"""Reading, validating and writing: hazard registers, context layers and tables.

One concern per module: :mod:`~ccm_geo.io.read` (formats, and the mapping of a user's columns
and codes onto the data contract), :mod:`~ccm_geo.io.validate` (the checks of every row and
layer, and the :class:`~ccm_geo.model.ValidationReport`), :mod:`~ccm_geo.io.geometry` (the
geometric checks of hazardous areas it calls: repair, position, point areas, shared land,
minimum area), :mod:`~ccm_geo.io.write` (atomic, reproducible writers and QGIS styles). Every
name is importable from ``ccm_geo.io``.
"""

from ccm_geo.io.read import polygonal_parts, read_gpkg, read_raster, read_vector
from ccm_geo.io.validate import check_extent, load_hazards, load_layer
from ccm_geo.io.write import (
    FIXED_TIMESTAMP,
    TEMP_PREFIX,
    atomic_output,
    remove_temporaries,
    write_csv,
    write_gpkg,
    write_text,
)

__all__ = [
    "atomic_output",
    "read_vector",
    "read_raster",
    "load_hazards",
    "load_layer",
    "check_extent",
    "write_gpkg",
    "write_csv",
    "write_text",
    "remove_temporaries",
    "polygonal_parts",
    "read_gpkg",
    "FIXED_TIMESTAMP",
    "TEMP_PREFIX",
]
