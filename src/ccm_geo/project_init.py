"""A first project file from a hazard register: what ``ccm-geo init`` writes.

The register's columns are matched against the field names that IMSMA exports and national
registers use (English, French, Spanish, Portuguese), and the distinct values of its status and
contamination columns against the codes of the data contract. Nothing is decided silently:
every guess is written with a ``# CHECK:`` comment saying what was guessed from what, and every
contract field that could not be mapped with a ``# EDIT:`` comment saying what to do (the line
is written commented out, ready to be uncommented). ``ccm-geo validate`` then says whether the
file is usable.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ccm_geo.io.read import _code_text
from ccm_geo.model import Contamination, Status

__all__ = [
    "ColumnGuess",
    "ProjectGuess",
    "guess_project",
    "project_text",
    "init_project",
    "is_postgis_url",
]

logger = logging.getLogger(__name__)

#: Field names (normalised: lower case, no accents, ``_`` between words) per contract field,
#: best first. An exact match is a guess; a name that only contains one of these is a weaker one.
# fmt: off
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "hazard_id": (
        "hazard_id", "haz_id", "hazardid", "hazard_ref", "hazard_reference", "hazreference",
        "hazard_localid", "localid", "local_id", "hazard_code", "id_hazard",
        "id_zone", "code_zone", "identifiant", "id_zd", "ref_zone", "reference",
        "id_area", "id_zona", "codigo_area", "cod_area", "id_peligro", "codigo",
        "id_area_perigosa", "codigo_area_perigosa", "id_perigo", "id", "ref", "code",
    ),
    "status": (
        "status", "hazard_status", "haz_status", "area_status", "hazard_type", "statut",
        "statut_zone", "type_zone", "estado", "estado_area", "estatus", "tipo_zona",
        "clasificacion", "situacao", "estado_da_area", "tipo_area_perigosa", "classification",
        "category", "categorie", "categoria",
    ),
    "contamination": (
        "contamination", "contam", "contamination_type", "contamination_types", "device_type",
        "devices_type", "ordnance_type", "munition_type", "threat", "threat_type",
        "type_contamination", "type_de_contamination", "type_engins", "type_engin",
        "contaminacion", "tipo_contaminacion", "tipo_de_contaminacion", "tipo_artefacto",
        "contaminacao", "tipo_contaminacao", "tipo_de_contaminacao", "tipo_engenho",
    ),
    "evidence": (
        "evidence", "evidence_type", "evidence_level", "preuve", "type_preuve", "evidencia",
        "tipo_evidencia", "evidencia_tipo",
    ),
    "devices_found": (
        "devices_found", "devices", "num_devices", "number_of_devices", "devices_count",
        "items_found", "device_count", "nb_engins", "nombre_engins", "engins_trouves",
        "nombre_d_engins", "artefactos", "num_artefactos", "artefactos_encontrados",
        "dispositivos", "artefatos", "engenhos", "numero_engenhos", "engenhos_encontrados",
    ),
    "region": (
        "region", "province", "district", "admin1", "adm1", "adm1_name", "admin1_name",
        "department", "state", "departement", "prefecture", "departamento", "provincia",
        "distrito", "regiao", "admin2", "adm2_name", "municipality", "commune", "municipio",
        "municipio_name",
    ),
    "name": (
        "name", "hazard_name", "haz_name", "site_name", "area_name", "nom", "nom_zone",
        "nom_site", "nombre", "nombre_area", "nome", "nome_area", "locality", "localite",
        "localidad", "localidade", "village", "vereda", "municipio", "commune",
    ),
}

#: Status values (normalised) and the contract code each means.
STATUS_VALUES: dict[str, str] = {
    **{v: "SHA" for v in (
        "sha", "suspected", "suspect", "suspected_hazardous_area", "suspected_area",
        "suspected_minefield", "zone_suspecte", "zone_dangereuse_suspectee", "zds", "suspecte",
        "suspectee", "sospechosa", "sospechoso", "zona_sospechosa", "area_sospechosa",
        "area_peligrosa_sospechosa", "campo_minado_sospechoso", "suspeita", "suspeito",
        "area_suspeita", "area_perigosa_suspeita", "aps",
    )},
    **{v: "CHA" for v in (
        "cha", "confirmed", "confirmed_hazardous_area", "confirmed_area", "dangerous_area",
        "minefield", "zone_confirmee", "zone_dangereuse_confirmee", "zdc", "confirmee",
        "confirme", "confirmada", "confirmado", "zona_confirmada", "area_confirmada",
        "area_peligrosa_confirmada", "campo_minado", "area_perigosa_confirmada", "apc",
    )},
    **{v: "released" for v in (
        "released", "cleared", "closed", "cancelled", "canceled", "completed", "complete",
        "land_released", "libere", "liberee", "deminee", "depolluee", "annulee", "fermee",
        "liberada", "liberado", "despejada", "despejado", "cancelada", "cerrada",
        "limpia", "limpa", "desminada", "concluida", "fechada", "cancelado",
    )},
}

#: Contamination words (normalised) and the contract codes each means.
CONTAMINATION_VALUES: dict[str, str] = {
    **{v: "CMR" for v in (
        "cmr", "cm", "cluster", "cluster_munition", "cluster_munitions",
        "cluster_munition_remnants", "submunition", "submunitions", "bomblet", "bomblets",
        "bombies", "sous_munition", "sous_munitions", "armes_a_sous_munitions",
        "restes_d_armes_a_sous_munitions", "municiones_en_racimo", "submunicion",
        "submuniciones", "bombas_de_racimo", "municoes_cluster", "submunicao", "submunicoes",
        "bombas_de_fragmentacao", "municoes_de_fragmentacao",
    )},
    **{v: "AP" for v in (
        "ap", "apm", "ap_mine", "ap_mines", "anti_personnel", "antipersonnel",
        "anti_personnel_mine", "anti_personnel_mines", "mine", "mines", "landmine",
        "landmines", "mines_ap", "mine_ap", "mine_antipersonnel", "mines_antipersonnel",
        "map", "mina", "minas", "mina_antipersonal", "minas_antipersonal", "mina_ap",
        "minas_ap", "mina_antipessoal", "minas_antipessoal", "minas_antipessoais",
    )},
    **{v: "AT" for v in (
        "at", "atm", "at_mine", "at_mines", "anti_tank", "antitank", "anti_tank_mine",
        "anti_tank_mines", "anti_vehicle", "mine_antichar", "mines_antichar", "antichar",
        "mine_at", "mines_at", "mina_antitanque", "minas_antitanque", "antitanque",
        "mina_anticarro", "minas_anticarro", "anticarro",
    )},
    **{v: "UXO" for v in (
        "uxo", "erw", "axo", "uxo_axo", "unexploded_ordnance", "abandoned_ordnance",
        "explosive_remnants_of_war", "bombing", "ordnance", "ene", "reg", "engins_non_explose",
        "engins_non_exploses", "restes_explosifs_de_guerre", "muse", "municion_sin_explotar",
        "municiones_sin_explotar", "restos_explosivos_de_guerra", "reg_muse", "uxo_reg",
        "engenhos_nao_explodidos", "restos_explosivos_de_guerra", "munições_nao_explodidas",
        "municoes_nao_explodidas",
    )},
    **{v: "IED" for v in (
        "ied", "ieds", "improvised_explosive_device", "improvised", "eei",
        "engin_explosif_improvise", "engins_explosifs_improvises", "aei",
        "artefacto_explosivo_improvisado", "artefactos_explosivos_improvisados",
        "artefato_explosivo_improvisado", "engenho_explosivo_improvisado",
    )},
    **{v: "AP;AT" for v in ("mixed_minefield", "mines_ap_at", "ap_at", "mixto", "mixte")},
}

#: Evidence values (normalised).
EVIDENCE_VALUES: dict[str, str] = {
    **{v: "direct" for v in ("direct", "directe", "directa", "directo", "direta", "direto")},
    **{v: "indirect" for v in (
        "indirect", "indirecte", "indirecta", "indirecto", "indireta", "indireto",
    )},
    **{v: "none" for v in ("none", "aucune", "ninguna", "ninguno", "nenhuma", "nenhum")},
}

# fmt: on

#: What each contract field is, for the comments of the project file.
FIELD_HELP: dict[str, str] = {
    "hazard_id": "unique id of each area; when unmapped, ids are made as '<file>-<row>'",
    "status": "SHA (suspected), CHA (confirmed) or released; required (a column or a constant)",
    "contamination": "CMR, AP, AT, UXO, IED (several joined by ';'); required (a column or "
    "a constant). CMR is judged against the CCM deadline, AP/AT against the Mine Ban "
    "Convention's",
    "evidence": "direct, indirect or none; when unmapped, taken from the status (CHA: direct, "
    "SHA: indirect) and reported",
    "devices_found": "devices found so far (a whole number); when unmapped, no data (never 0)",
    "region": "admin unit of the area; when unmapped, the admin layer's unit holding it "
    "(with [inputs.admin]), else 'unknown'",
    "name": "a name shown on maps and in requests; optional",
}

_MAX_VALUES = 40  # distinct values listed for a code column


@dataclass
class ColumnGuess:
    """One contract field: the register column guessed for it, and how sure the guess is."""

    field: str
    column: str | None
    how: str  # "exact name", "name contains ...", or why nothing was found


@dataclass
class ProjectGuess:
    """Everything ``init`` found in a register and guessed from it."""

    path: Path
    layer: str | None
    rows: int
    crs: str | None
    crs_guessed: bool
    geometry_types: dict[str, int]
    columns: dict[str, list[str]]  # every column with sample values
    guesses: dict[str, ColumnGuess]
    codes: dict[str, dict[str, str | None]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    x: str | None = None
    y: str | None = None
    wkt: str | None = None
    utm: str | None = None
    notes: list[str] = field(default_factory=list)
    #: The register's database source when it was read from PostGIS (``path`` is then unused).
    postgis: Any = None

    def unmapped(self) -> dict[str, list[str]]:
        """Per code column, the distinct values no code was found for."""
        return {
            col: [v for v, code in table.items() if code is None]
            for col, table in self.codes.items()
        }


def guess_project(
    path: str | Path, *, layer: str | None = None, password_env: str | None = None
) -> ProjectGuess:
    """Read a register and guess its mapping onto the data contract.

    Parameters
    ----------
    path
        The register: any format :func:`ccm_geo.io.read_vector` reads (a glob pattern reads
        several files as one register).
    layer
        Layer of a multi-layer file; default: the first. For a PostGIS URL
        (``postgresql://user@host:port/database``): the table, ``schema.table``.
    password_env
        For a PostGIS URL: the environment variable holding the password (default: libpq's
        PGPASSWORD or ~/.pgpass). Never a password itself.

    Returns
    -------
    ProjectGuess
        The columns with sample values, the guessed column per contract field, the distinct
        status/contamination/evidence values with the code guessed for each (None: unknown).
    """
    from ccm_geo.errors import InputError
    from ccm_geo.io import read_vector

    crs_guessed = False
    db_source = None
    if is_postgis_url(path):
        db_source, gdf = _read_postgis_register(str(path), layer, password_env)
        path = Path(db_source.table)
    else:
        path = Path(path)
        try:
            gdf = read_vector(path, layer=layer)
        except InputError as exc:
            if "declares no coordinate reference system" not in str(exc):
                raise
            gdf = read_vector(path, layer=layer, crs="EPSG:4326")
            crs_guessed = True
    x = y = wkt = None
    source = gdf.attrs.get("geometry_from") or {}
    x, y, wkt = source.get("x"), source.get("y"), source.get("wkt")
    if crs_guessed and not _looks_like_degrees(gdf):
        crs_guessed = False
        gdf = gdf.set_crs(None, allow_override=True)
    attrs = [c for c in gdf.columns if c != gdf.geometry.name and not str(c).startswith("_")]
    if x or y or wkt:
        attrs = [c for c in attrs if c not in {x, y, wkt}]
    samples = {c: _samples(gdf[c]) for c in attrs}
    guesses = _guess_columns(attrs, gdf)
    guess = ProjectGuess(
        path=path,
        layer=None if db_source is not None else layer,
        rows=len(gdf),
        crs=None if gdf.crs is None else _crs_text(gdf.crs),
        crs_guessed=crs_guessed,
        geometry_types={
            str(k): int(v) for k, v in gdf.geometry.geom_type.fillna("none").value_counts().items()
        },
        columns=samples,
        guesses=guesses,
        x=x,
        y=y,
        wkt=wkt,
        postgis=db_source,
    )
    for name, table in (
        ("status", STATUS_VALUES),
        ("contamination", CONTAMINATION_VALUES),
        ("evidence", EVIDENCE_VALUES),
    ):
        col = guesses[name].column
        if col is None:
            continue
        counts = gdf[col].map(_cell_text).value_counts()
        counts = counts[counts.index != ""]
        values = list(counts.index[:_MAX_VALUES])
        guess.counts[name] = {str(v): int(n) for v, n in counts.items()}
        guess.codes[name] = {
            v: (_contamination_code(v) if name == "contamination" else table.get(_norm(v)))
            for v in values
        }
        if len(counts) > _MAX_VALUES:
            guess.notes.append(
                f"{name}: {len(counts)} distinct values in column {col!r}; only the "
                f"{_MAX_VALUES} most frequent are listed. A column with that many values may "
                "not be a code column: check it"
            )
    guess.utm = _utm_of_median(gdf)
    return guess


def project_text(guess: ProjectGuess, *, project_dir: Path) -> str:
    """The commented project file for a guess, with paths relative to ``project_dir``."""
    g = guess.guesses
    if guess.postgis is not None:
        src = guess.postgis
        name = src.table.split(".")[-1]
        source_line = (
            "postgis = { "
            + ", ".join(
                f"{k} = {_toml_str(v)}"
                for k, v in (
                    ("url", src.url),
                    ("table", src.table),
                    ("password_env", src.password_env),
                )
                if v is not None
            )
            + " }  # CHECK: the register's table (no password here: see password_env)"
        )
        origin = f"{src.url} --layer {src.table}"
    else:
        rel = Path(os.path.relpath(guess.path.absolute(), project_dir.absolute()))
        if rel.parts[:3] == ("..", "..", ".."):  # far away: the absolute path reads better
            rel = guess.path.absolute()
        name = guess.path.stem if "*" not in guess.path.name else guess.path.parent.name
        source_line = f"path = {_toml_str(rel.as_posix())}"
        origin = str(guess.path)
    lines = [
        f"# Project file written by `ccm-geo init {origin}`.",
        "# Lines marked CHECK are guesses: read them. Lines marked EDIT are needed for a",
        "# usable project: they are written commented out; uncomment them and set the value.",
        "# Then run `ccm-geo validate <this file>` and fix what it reports.",
        "#",
        f"# The register: {guess.rows:,} rows; geometries: "
        + ", ".join(f"{k} {v:,}" for k, v in guess.geometry_types.items())
        + ".",
        "# Its columns, with sample values:",
    ]
    for col, vals in guess.columns.items():
        used = [f for f, cg in g.items() if cg.column == col]
        tag = f"  -> {', '.join(used)}" if used else ""
        lines.append(f"#   {col}: {', '.join(vals) if vals else '(empty)'}{tag}")
    lines += ["", "[project]", f"name = {_toml_str(name)}  # CHECK: shown on maps and requests"]
    if guess.utm:
        lines.append(
            f"# crs = {_toml_str(guess.utm)}  # the metric CRS (UTM zone of the areas); this is "
            "the default when left out. Set your national metric CRS if you have one"
        )
    lines += [
        "start_date = 2027-01-01  # CHECK: first day of the work plan",
        "# deadline = 2030-08-01  # the Article 4 (CCM) or Article 5 (APMBC) deadline",
        "",
        "[inputs.hazards]",
        source_line,
    ]
    if guess.layer:
        lines.append(f"layer = {_toml_str(guess.layer)}")
    if guess.wkt:
        lines.append(f"wkt = {_toml_str(guess.wkt)}  # CHECK: the geometry column (WKT)")
    elif guess.x and guess.y:
        lines.append(f"x = {_toml_str(guess.x)}  # CHECK: longitude / easting column")
        lines.append(f"y = {_toml_str(guess.y)}  # CHECK: latitude / northing column")
    if guess.crs_guessed:
        lines.append(
            'crs = "EPSG:4326"  # CHECK: the file declares no CRS; its coordinates look like '
            "longitude/latitude"
        )
    elif guess.crs is None:
        lines.append(
            '# crs = "EPSG:4326"  # EDIT: the file declares no CRS and its coordinates are not '
            "longitude/latitude; give its CRS (e.g. the national grid's EPSG code)"
        )
    if "Point" in guess.geometry_types or "MultiPoint" in guess.geometry_types:
        lines.append(
            "point_area_m2 = 10000  # CHECK: points become circles of this area (1 ha); "
            "set your programme's usual footprint"
        )
    unused = [c for c in guess.columns if c not in {cg.column for cg in g.values()}]
    if unused:
        lines.append(
            f'# where = {{ {_toml_key(unused[0])} = ["..."] }}  # keep only the rows whose '
            f"value is listed (columns not mapped: {', '.join(unused)})"
        )
    lines.append("")
    lines.append("# Contract field = register column")
    lines.append("[inputs.hazards.columns]")
    for name, cg in g.items():
        if cg.column is not None:
            lines.append(f"{name} = {_toml_str(cg.column)}  # CHECK: {cg.how}. {FIELD_HELP[name]}")
        else:
            lines.append(f'# {name} = "..."  # not found ({cg.how}). {FIELD_HELP[name]}')
    constants = _constants(guess)
    for name, codes in guess.codes.items():
        lines += ["", f"[inputs.hazards.codes.{name}]  # register value = contract code"]
        counts = guess.counts.get(name, {})
        allowed = _allowed(name)
        for value, code in codes.items():
            n = counts.get(value, 0)
            if code is not None:
                lines.append(f"{_toml_str(value)} = {_toml_str(code)}  # CHECK: {n:,} rows")
            else:
                example = {"status": "SHA", "contamination": "UXO", "evidence": "indirect"}[name]
                lines.append(
                    f"# {_toml_str(value)} = {_toml_str(example)}  # EDIT: {n:,} rows; no code "
                    f"known for this value: one of {allowed}"
                )
    text = "\n".join(lines) + "\n"
    if constants:  # constants belong to [inputs.hazards]: insert before its sub-tables
        marker = "\n# Contract field = register column\n"
        block = "# Constants for fields the register has no column for (one line each)\n"
        text = text.replace(marker, "\n" + block + "\n".join(constants) + "\n" + marker, 1)
    for note in guess.notes:
        text += f"# NOTE: {note}\n"
    text += _DONOR_BLOCK
    return text


_DONOR_BLOCK = """
# A yearly budget for the plan (US$); the default is in docs/planning.md.
# [planning]
# budget_usd = 1_000_000

# To write a funding request (requests/<donor>/request.html with its map), describe each
# donor: uncomment these lines and set your own (every key is in docs/requests.md).
# [[donors]]
# name = "Donor name"
# budget_usd = 500000
# thematic = ["clearance", "survey"]
"""


def init_project(
    register: str | Path,
    out: str | Path | None = None,
    *,
    layer: str | None = None,
    password_env: str | None = None,
) -> tuple[Path, ProjectGuess]:
    """Guess a project from a register and write it (default: ``project.toml`` beside the
    current folder); never overwrites an existing file.

    Returns
    -------
    (Path, ProjectGuess)
        The file written and what was guessed.

    Raises
    ------
    ConfigError
        ``out`` exists already.
    """
    from ccm_geo.errors import ConfigError
    from ccm_geo.io import write_text

    out = Path(out) if out is not None else Path("project.toml")
    if out.exists():
        msg = (
            f"{out}: exists already; init never overwrites a project file. Give another "
            "name with --out, or remove the file"
        )
        raise ConfigError(msg)
    guess = guess_project(register, layer=layer, password_env=password_env)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(project_text(guess, project_dir=out.parent), out)
    return out, guess


# --------------------------------------------------------------------------------------------
# Helpers


def is_postgis_url(register) -> bool:
    """True when ``register`` names a PostgreSQL database (``postgresql://...``)."""
    return isinstance(register, str) and register.startswith(("postgresql://", "postgres://"))


def _read_postgis_register(url: str, table: str | None, password_env: str | None):
    """The register's source and rows, read from a PostGIS table."""
    from pydantic import ValidationError

    from ccm_geo.errors import ConfigError
    from ccm_geo.postgis import PostgisSource, read_postgis, redact_url

    where = redact_url(url)  # never echo a password, even one given by mistake
    if not table:
        msg = (
            f"{where}: name the register's table with --layer schema.table (init reads a "
            "table; a query can be set in the project file afterwards)"
        )
        raise ConfigError(msg)
    try:
        source = PostgisSource(url=url, table=table, password_env=password_env)
    except ValidationError as exc:  # the URL, the table name or the variable name
        msg = f"{where}: {'; '.join(e['msg'] for e in exc.errors())}"
        raise ConfigError(msg) from None
    return source, read_postgis(source)


def _norm(text) -> str:
    """Lower case, accents removed, runs of other characters as one ``_``."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return _code_text(value)


def _samples(values: pd.Series, k: int = 4) -> list[str]:
    seen: list[str] = []
    for v in values:
        t = _cell_text(v)
        if t and t not in seen:
            seen.append(t[:30])
            if len(seen) == k:
                break
    return seen


def _guess_columns(columns: list[str], gdf: gpd.GeoDataFrame) -> dict[str, ColumnGuess]:
    """Exact names first (over every field), then names containing a known word."""
    norm = {c: _norm(c) for c in columns}
    taken: set[str] = set()
    out: dict[str, ColumnGuess] = {}
    for field_name, names in FIELD_NAMES.items():
        for name in names:
            hit = next((c for c in columns if norm[c] == name and c not in taken), None)
            if hit is not None and _plausible(field_name, gdf[hit]):
                out[field_name] = ColumnGuess(field_name, hit, f"column name {hit!r}")
                taken.add(hit)
                break
    for field_name, names in FIELD_NAMES.items():
        if field_name in out:
            continue
        for name in names:
            if len(name) < 4:
                continue
            hit = next(
                (
                    c
                    for c in columns
                    if c not in taken
                    and name in norm[c].split("_")
                    or (c not in taken and norm[c].startswith(name + "_"))
                ),
                None,
            )
            if hit is not None and _plausible(field_name, gdf[hit]):
                out[field_name] = ColumnGuess(
                    field_name, hit, f"column name {hit!r} contains {name!r}"
                )
                taken.add(hit)
                break
        if field_name not in out:
            out[field_name] = ColumnGuess(field_name, None, "no column with a known name")
    return {f: out[f] for f in FIELD_NAMES}


def _plausible(field_name: str, values: pd.Series) -> bool:
    """A column's values fit the field (a count column holds numbers; a code column has few
    distinct values or known ones; an id column is mostly unique)."""
    text = values.map(_cell_text)
    text = text[text != ""]
    if len(text) == 0:
        return False
    if field_name == "devices_found":
        return bool(pd.to_numeric(text, errors="coerce").notna().mean() > 0.8)
    if field_name == "hazard_id":
        return text.nunique() >= 0.9 * len(text)
    if field_name in ("status", "evidence"):
        table = STATUS_VALUES if field_name == "status" else EVIDENCE_VALUES
        known = text.map(lambda v: _norm(v) in table).mean()
        return bool(known > 0 or text.nunique() <= 12)
    if field_name == "contamination":
        known = text.map(lambda v: _contamination_code(v) is not None).mean()
        return bool(known > 0 or text.nunique() <= 20)
    return True


def _contamination_code(value: str) -> str | None:
    """The contract codes of a contamination value, also when it lists several types."""
    whole = CONTAMINATION_VALUES.get(_norm(value))
    if whole is not None:
        return whole
    parts = re.split(
        r"\s*(?:[;,/+&|]|\band\b|\bet\b|\by\b|\be\b)\s*", str(value).strip(), flags=re.I
    )
    codes = [CONTAMINATION_VALUES.get(_norm(p)) for p in parts if p.strip()]
    if not codes or any(c is None for c in codes):
        return None
    return ";".join(sorted({part for c in codes for part in c.split(";")}))


def _constants(guess: ProjectGuess) -> list[str]:
    """One line per required code field the register has no column for."""
    out = []
    if guess.guesses["status"].column is None:
        out.append(
            'default_status = "SHA"  # CHECK: no status column: every area is taken as '
            'suspected (SHA). Write "CHA" if the register holds confirmed areas only'
        )
    if guess.guesses["contamination"].column is None:
        out.append(
            '# default_contamination = "AP"  # EDIT: no contamination column: say what every '
            "area holds (CMR, AP, AT, UXO, IED; several joined by ';'). It decides which "
            "treaty's deadline applies"
        )
    return out


def _allowed(name: str) -> str:
    if name == "status":
        return ", ".join(s.value for s in Status)
    if name == "contamination":
        return ", ".join(c.value for c in Contamination) + " (several joined by ';')"
    return "direct, indirect, none"


def _looks_like_degrees(gdf: gpd.GeoDataFrame) -> bool:
    b = gdf.geometry.dropna()
    if len(b) == 0:
        return False
    x0, y0, x1, y1 = b.total_bounds
    return bool(x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90)


def _utm_of_median(gdf: gpd.GeoDataFrame) -> str | None:
    """The UTM zone of the rows' median position (a few misplaced rows do not move it)."""
    if gdf.crs is None:
        return None
    pts = gdf.geometry.dropna()
    pts = pts[~pts.is_empty]
    if len(pts) == 0:
        return None
    try:
        ll = pts.representative_point().to_crs("EPSG:4326")
    except Exception:  # noqa: BLE001 - a guess for a comment only
        return None
    lon, lat = float(ll.x.median()), float(ll.y.median())
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _crs_text(crs) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def _toml_key(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else _toml_str(text)


def _toml_str(text: str) -> str:
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
