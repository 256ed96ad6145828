"""Open a PostGIS layer in QGIS (headless) and print what a QGIS user would see, as JSON.

Run by ``test_postgis.py`` with the system Python that has QGIS's bindings (Debian's
``python3-qgis``): ``python3 qgis_open_layer.py HOST PORT DB USER SCHEMA TABLE``; the password
comes from ``PGPASSWORD``.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsDataSourceUri, QgsVectorLayer  # noqa: E402


def main() -> None:
    host, port, db, user, schema, table = sys.argv[1:7]
    app = QgsApplication([], False)
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setConnection(host, port, db, user, os.environ["PGPASSWORD"])
    uri.setDataSource(schema, table, "geom", "", "fid")
    layer = QgsVectorLayer(uri.uri(False), table, "postgres")
    renderer = layer.renderer() if layer.isValid() else None
    categories = renderer.categories() if hasattr(renderer, "categories") else []
    attribute = renderer.classAttribute() if hasattr(renderer, "classAttribute") else None
    print(
        json.dumps(
            {
                "valid": layer.isValid(),
                "features": layer.featureCount() if layer.isValid() else None,
                "crs": layer.crs().authid() if layer.isValid() else None,
                "renderer": renderer.type() if renderer else None,
                "attribute": attribute,
                "categories": [str(c.value()) for c in categories],
                "colours": [c.symbol().color().name() for c in categories],
            }
        )
    )
    app.exitQgis()


if __name__ == "__main__":
    main()
