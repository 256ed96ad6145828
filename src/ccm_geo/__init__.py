"""ccm_geo: plan the clearance of cluster munition remnants and landmines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccm-geo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
