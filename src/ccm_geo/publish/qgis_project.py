"""A QGIS project per run (``ccm_geo.qgz``): every layer the run wrote, styled, grouped by
stage, the priority layer on top.

The project refers to the run's GeoPackages by paths relative to itself, so the run folder can
be moved or zipped whole. Hazard and priority layers carry the same categorised styles that are
stored in their GeoPackages (:mod:`ccm_geo.publish.styles`). The file is deterministic: the same
run folder gives the same bytes.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyogrio

from ccm_geo.publish.styles import hazard_style

__all__ = ["PROJECT_NAME", "GROUPS", "project_layers", "qgis_project_xml", "write_qgis_project"]

PROJECT_NAME = "ccm_geo.qgz"

#: Groups, top to bottom, and the layers of each: (file, layer, title, style field or None).
GROUPS: list[tuple[str, list[tuple[str, str | None, str, str | None]]]] = [
    ("Priorities", [("scored.gpkg", "areas", "Priority areas", "priority_class")]),
    ("Plan", [("plan/tasks.gpkg", "tasks", "Planned tasks", None)]),
    (
        "Criteria",
        [
            ("criteria.gpkg", "areas", "Areas with indicators", None),
            ("criteria.gpkg", "settlements", "Settlements: travel to care", None),
        ],
    ),
    (
        "Inputs",
        [
            ("hazards.gpkg", "hazards", "Hazardous areas (validated)", "status"),
            ("context.gpkg", None, "", None),  # every context layer, by its name
        ],
    ),
]

_QGIS_VERSION = "3.22.0"  # the oldest we checked it loads in (Debian 12's QGIS)


def project_layers(out_dir: str | Path) -> list[tuple[str, list[dict[str, str]]]]:
    """The groups and layers present in a run folder (missing files are left out)."""
    out_dir = Path(out_dir)
    groups = []
    for group, entries in GROUPS:
        layers = []
        for file, layer, title, style in entries:
            path = out_dir / file
            if not path.is_file():
                continue
            present = [str(name) for name, _ in pyogrio.list_layers(path)]
            names = present if layer is None else [layer] if layer in present else []
            for name in names:
                info = pyogrio.read_info(path, layer=name)
                layers.append(
                    {
                        "file": file,
                        "layer": name,
                        "title": title or name.capitalize(),
                        "style": style or "",
                        "geometry": _geometry_family(info.get("geometry_type") or ""),
                        "wkb": str(info.get("geometry_type") or "Unknown"),
                        "crs": str(info.get("crs") or ""),
                    }
                )
        if layers:
            groups.append((group, layers))
    return groups


def qgis_project_xml(out_dir: str | Path, *, title: str) -> str:
    """The ``.qgs`` XML of the run folder's layers."""
    groups = project_layers(out_dir)
    crs = next((lyr["crs"] for _, layers in groups for lyr in layers if lyr["crs"]), "")
    tree, maplayers, order = [], [], []
    for group, layers in groups:
        items = []
        for lyr in layers:
            lid = _layer_id(lyr)
            source = f"./{lyr['file']}|layername={lyr['layer']}"
            items.append(
                f'    <layer-tree-layer id="{lid}" name={quoteattr(lyr["title"])} '
                f'source={quoteattr(source)} providerKey="ogr" checked="Qt::Checked" '
                f'expanded="1"/>'
            )
            order.append(f'    <layer id="{lid}"/>')
            maplayers.append(_maplayer(lid, lyr, source))
        tree.append(
            f'  <layer-tree-group name={quoteattr(group)} checked="Qt::Checked" expanded="1">\n'
            + "\n".join(items)
            + "\n  </layer-tree-group>"
        )
    return f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis projectname={quoteattr(title)} version="{_QGIS_VERSION}">
  <homePath path=""/>
  <title>{escape(title)}</title>
  <projectCrs>
{_srs(crs)}
  </projectCrs>
  <layer-tree-group>
    <customproperties/>
{chr(10).join(tree)}
  </layer-tree-group>
  <projectlayers>
{chr(10).join(maplayers)}
  </projectlayers>
  <layerorder>
{chr(10).join(order)}
  </layerorder>
  <properties>
    <Paths>
      <Absolute type="bool">false</Absolute>
    </Paths>
    <SpatialRefSys>
      <ProjectionsEnabled type="int">1</ProjectionsEnabled>
    </SpatialRefSys>
  </properties>
</qgis>
"""


def write_qgis_project(out_dir: str | Path, *, title: str) -> Path | None:
    """Write ``ccm_geo.qgz`` (a zip holding ``ccm_geo.qgs``) into the run folder, atomically;
    None when the folder holds no layer yet."""
    from ccm_geo.io import atomic_output

    out_dir = Path(out_dir)
    if not project_layers(out_dir):
        return None
    xml = qgis_project_xml(out_dir, title=title)
    path = out_dir / PROJECT_NAME
    with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("ccm_geo.qgs", date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, xml.encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------
# Helpers


def _maplayer(lid: str, lyr: dict[str, str], source: str) -> str:
    renderer = ""
    if lyr["style"]:
        qml = hazard_style(lyr["style"])
        match = re.search(r"<renderer-v2.*</renderer-v2>", qml, flags=re.S)
        renderer = match.group(0) if match else ""
    kind = f'geometry="{lyr["geometry"]}" wkbType={quoteattr(lyr["wkb"])}'
    return f"""    <maplayer type="vector" {kind}>
      <id>{lid}</id>
      <datasource>{escape(source)}</datasource>
      <layername>{escape(lyr["title"])}</layername>
      <srs>
{_srs(lyr["crs"])}
      </srs>
      <provider encoding="UTF-8">ogr</provider>
      {renderer}
    </maplayer>"""


def _srs(crs: str) -> str:
    if not crs:
        return "    <spatialrefsys/>"
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    epsg = c.to_epsg()
    authid = f"EPSG:{epsg}" if epsg else ""
    return (
        "    <spatialrefsys>\n"
        f"      <wkt>{escape(c.to_wkt())}</wkt>\n"
        f"      <srid>{epsg or 0}</srid>\n"
        f"      <authid>{authid}</authid>\n"
        f"      <description>{escape(c.name)}</description>\n"
        "    </spatialrefsys>"
    )


def _layer_id(lyr: dict[str, str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{lyr['file']}_{lyr['layer']}").strip("_")
    return f"ccm_{stem}"


def _geometry_family(kind: str) -> str:
    k = kind.replace("Multi", "").replace(" Z", "").replace(" M", "")
    if "Polygon" in k:
        return "Polygon"
    if "Line" in k:
        return "Line"
    if "Point" in k:
        return "Point"
    return "Unknown"
