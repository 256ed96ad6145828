"""Templates to HTML and PDF: one donor's request in the donor's language.

The HTML (jinja2, autoescaped) is the document; the PDF is that HTML printed by WeasyPrint with
the print CSS of the template (A4, running header and footer with page numbers, a linked table
of contents, table headers repeated on every page). Words come from the gettext catalogues in
``ccm_geo/publish/locale`` (English, French, Spanish), numbers, money and dates from Babel in the
donor's locale, and the fonts (Noto Sans for Latin, Cyrillic, Arabic, Khmer and Lao, OFL) from
``publish/vendor/fonts``, embedded in the HTML and in every PDF, so no page depends on the fonts
of the machine that opens or prints it.
"""

from __future__ import annotations

import base64
import functools
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ccm_geo.io import atomic_output
from ccm_geo.publish.requests.common import _finite
from ccm_geo.publish.requests.content import RequestContent
from ccm_geo.publish.settings import DonorProfile

if TYPE_CHECKING:
    pass

__all__ = [
    "render_request_html",
    "render_request_documents",
    "write_request_pdf",
    "translations",
    "Numbers",
    "LANGUAGES",
    "RTL_LANGUAGES",
    "pdf_engine_available",
]

_PUBLISH = Path(__file__).resolve().parent.parent
_LOCALE_DIR = _PUBLISH / "locale"
_FONT_DIR = _PUBLISH / "vendor" / "fonts"
#: Languages with a catalogue (English is the source language).
LANGUAGES = ("en", "fr", "es")
#: Languages written right to left.
RTL_LANGUAGES = frozenset({"ar"})

#: Font files (vendored from the npm packages @fontsource/noto-sans*, OFL) and the scripts
#: they cover: (family, file stem, regex of the characters that need it; None: always).
_FONTS = (
    ("Noto Sans", "noto-sans-latin", None),
    ("Noto Sans LatinExt", "noto-sans-latin-ext", r"[\u0100-\u024f\u1e00-\u1eff]"),
    ("Noto Sans Cyrillic", "noto-sans-cyrillic", r"[\u0400-\u04ff]"),
    ("Noto Sans Arabic", "noto-sans-arabic-arabic", r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufeff]"),
    ("Noto Sans Khmer", "noto-sans-khmer-khmer", r"[\u1780-\u17ff\u19e0-\u19ff]"),
    ("Noto Sans Lao", "noto-sans-lao-lao", r"[\u0e80-\u0eff]"),
)
_FONT_STACK = ", ".join(f'"{f}"' for f, _, _ in _FONTS) + ", sans-serif"


def _(message: str) -> str:
    """Mark a message for extraction; the catalogue of the document translates it."""
    return message


#: Plain words for the default criteria (scoring keys); other keys are shown with spaces.
_CRITERIA = {
    "casualties": _("recent accidents and casualties nearby"),
    "status": _("confirmed contamination (direct evidence)"),
    "device_density": _("devices found per hectare"),
    "cmr": _("cluster munition remnants"),
    "productive_share": _("farmland and other productive land blocked"),
    "productive_area": _("productive land blocked"),
    "roads": _("roads and paths blocked"),
    "population": _("people living nearby"),
    "settlement_access": _("close to villages"),
    "remote_survivors": _("survivors living far from care"),
}

_METHODS = {
    "nts": _("non-technical survey"),
    "ts": _("technical survey"),
    "clearance_manual": _("manual clearance"),
    "clearance_mechanical": _("mechanical clearance"),
    "clearance_dog": _("clearance with mine detection dogs"),
    "clearance_bac": _("battle area clearance"),
    "mine_clearance_manual": _("manual mine clearance"),
}


def render_request_html(
    content: RequestContent, *, map_fragment: str | None = None, for_print: bool = False
) -> str:
    """Render one donor's request as a self-contained HTML document, in the donor's language.

    Parameters
    ----------
    content
        From :func:`~ccm_geo.publish.requests.content.request_content` (with its maps drawn).
    map_fragment
        The interactive map (:func:`request_map_fragment`; trusted: that function escapes the
        map document into ``srcdoc``). On paper the static map replaces it.
    for_print
        The document WeasyPrint prints (:func:`write_request_pdf`): the same, but images and
        fonts referenced as ``ccm:`` resources that the printer reads from memory, rather than
        inlined (the HTML parser would otherwise tokenize a megabyte of base64 per request).

    Returns
    -------
    str
        HTML with inline CSS and fonts, no external reference; text from input data escaped;
        ``lang`` (and ``dir="rtl"`` for Arabic) on the root element.
    """
    screen, printed = render_request_documents(content, map_fragment=map_fragment, prints=for_print)
    return printed if for_print else screen


def render_request_documents(
    content: RequestContent, *, map_fragment: str | None = None, prints: bool = True
) -> tuple[str, str | None]:
    """The screen HTML and the HTML WeasyPrint prints (None when ``prints`` is False), worded
    once: see :func:`render_request_html`."""
    from markupsafe import Markup

    d = content.donor
    lang = d.language
    tr = _Labelled(translations(lang), d)
    n = Numbers(lang, d.currency)
    env = _env(tr, trim_blocks=False)  # keeps the spaces between sentences joined by blocks
    ctx = _document(content, tr.gettext, n)
    template = env.get_template("request.html.j2")
    out = []
    for for_print in (False, True) if prints else (False,):
        html = template.render(
            c=content,
            d=d,
            n=n,
            lang=lang,
            dir="rtl" if lang in RTL_LANGUAGES else "ltr",
            map_fragment=Markup(map_fragment) if map_fragment and not for_print else None,
            png=_src(content.static_map_png, "map", for_print),
            region_pngs={
                k: _src(v, f"sheet-{i}", for_print)
                for i, (k, v) in enumerate(content.region_maps.items())
            },
            **ctx,
        )
        out.append(html.replace("/*@fonts@*/", font_css(html, inline=not for_print), 1))
    return out[0], (out[1] if prints else None)


def write_request_pdf(
    content: RequestContent, path: str | Path, *, html: str | None = None
) -> Path:
    """Print the request's HTML to PDF with WeasyPrint, atomically.

    Parameters
    ----------
    content
        The request.
    path
        The PDF to write.
    html
        The printable HTML (``render_request_documents(content)[1]``, or
        ``render_request_html(content, for_print=True)``); rendered here when None.

    Returns
    -------
    Path
        ``path``. Identical inputs give identical bytes (no creation date; fonts embedded as
        subsets named from their content).
    """
    import weasyprint

    if html is None:
        html = render_request_html(content, for_print=True)
    resources = {"ccm:img/map": content.static_map_png or b""}
    for i, png in enumerate(content.region_maps.values()):
        resources[f"ccm:img/sheet-{i}"] = png

    def resource(url: str) -> tuple[bytes, str]:
        if url.startswith("ccm:font/"):
            data = (_FONT_DIR / f"{url[len('ccm:font/') :]}.woff2").read_bytes()
            return data, "font/woff2"
        if url in resources:
            return resources[url], "image/png"
        msg = f"request PDF: no resource {url!r} (the document refers only to its own)"
        raise ValueError(msg)

    fetch = _fetcher(weasyprint, resource)
    path = Path(path)
    doc = weasyprint.HTML(string=html, base_url=str(_PUBLISH), url_fetcher=fetch).render()
    with atomic_output(path) as tmp:
        doc.write_pdf(tmp, uncompressed_pdf=False)
    return path


def _fetcher(weasyprint, resource: Callable[[str], tuple[bytes, str]]):
    """A WeasyPrint URL fetcher serving the document's own resources (and nothing else)."""
    urls = weasyprint.urls
    if hasattr(urls, "URLFetcherResponse"):  # WeasyPrint >= 68: fetcher objects

        class _Fetcher(urls.URLFetcher):
            def fetch(self, url, headers=None):
                data, mime = resource(url)
                return urls.URLFetcherResponse(url, data, {"Content-Type": mime})

        return _Fetcher(fail_on_errors=True)

    def fetch(url: str) -> dict[str, Any]:  # older WeasyPrint: a function returning a dict
        data, mime = resource(url)
        return {"string": data, "mime_type": mime}

    return fetch


def pdf_engine_available() -> str | None:
    """None when WeasyPrint and its system libraries load; else the reason they do not."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # OSError: Pango or HarfBuzz missing
        return f"WeasyPrint cannot load ({exc}); install the pdf-deps of the Makefile"
    return None


# ---- words and numbers ---------------------------------------------------------------------


@functools.cache
def translations(language: str):
    """The gettext translations of ``language`` (English: the messages themselves).

    Read from ``publish/locale/<language>/LC_MESSAGES/ccm_geo.po`` with Babel and compiled in
    memory, so the package ships only the editable catalogues.
    """
    import gettext

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    po = _LOCALE_DIR / language / "LC_MESSAGES" / "ccm_geo.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


class _Labelled:
    """A donor's ``labels`` over the catalogue: a label replaces the translation of its text."""

    def __init__(self, base, donor: DonorProfile) -> None:
        self._base = base
        self._labels = {donor.LABEL_KEYS[k]: v for k, v in donor.labels.items()}

    def gettext(self, message: str) -> str:
        return self._labels.get(message) or self._base.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._base.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self._base.pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        return self._base.npgettext(context, singular, plural, n)


class Numbers:
    """Numbers, money, shares and dates in a locale (Babel), each with its unit."""

    def __init__(self, locale: str, currency: str = "USD") -> None:
        from babel import Locale

        self.locale = locale
        self.currency = currency
        pattern = Locale.parse(locale).currency_formats["standard"].pattern
        self._money_after = not pattern.split(";")[0].strip().startswith("¤")

    def num(self, v, digits: int = 0) -> str:
        from babel.numbers import format_decimal

        if not _finite(v):
            return "—"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(float(v), format=fmt, locale=self.locale)

    def int(self, v) -> str:
        return self.num(v, 0)

    def ha(self, m2, digits: int = 1) -> str:
        return f"{self.num(float(m2) / 1e4, digits)}\u00a0ha" if _finite(m2) else "—"

    def money(self, v, currency: str = "USD", digits: int = 0) -> str:
        from babel.numbers import get_currency_symbol

        if not _finite(v):
            return "—"
        symbol = "US$" if currency == "USD" else get_currency_symbol(currency, self.locale)
        amount = self.num(round(float(v), digits), digits)
        return f"{amount}\u00a0{symbol}" if self._money_after else f"{symbol}{amount}"

    def usd(self, v) -> str:
        return self.money(v, "USD")

    def cur(self, v) -> str:
        return self.money(v, self.currency)

    def pct(self, v, digits: int = 1) -> str:
        from babel import Locale
        from babel.numbers import format_percent

        if not _finite(v):
            return "—"
        pattern = Locale.parse(self.locale).percent_formats[None].pattern.split(";")[0]
        if digits:  # the locale's pattern (spacing, sign), with decimals
            pattern = re.sub(r"0(?!.*0)", "0." + "0" * digits, pattern, count=1)
        return format_percent(float(v), format=pattern, locale=self.locale)

    def date(self, d) -> str:
        from babel.dates import format_date

        return format_date(d, "long", locale=self.locale) if d is not None else "—"

    def join(self, items: list[str]) -> str:
        from babel.lists import format_list

        return format_list([str(i) for i in items], locale=self.locale) if items else "—"


def font_css(text: str, *, inline: bool = True) -> str:
    """``@font-face`` rules for Latin and every other script used in ``text``: data URIs, or
    (``inline=False``) ``ccm:font/<file>`` resources that :func:`write_request_pdf` serves."""
    rules = []
    for family, stem, pattern in _FONTS:
        if pattern is not None and not re.search(pattern, text):
            continue
        for weight in (400, 700):
            if inline:
                data = (_FONT_DIR / f"{stem}-{weight}-normal.woff2").read_bytes()
                uri = "data:font/woff2;base64," + base64.b64encode(data).decode("ascii")
            else:
                uri = f"ccm:font/{stem}-{weight}-normal"
            rules.append(
                f'@font-face {{ font-family: "{family}"; font-style: normal; '
                f'font-weight: {weight}; src: url({uri}) format("woff2"); }}'
            )
    return "\n".join(rules)


def _env(tr=None, *, trim_blocks: bool = True):
    """The jinja2 environment of the package templates: autoescape, i18n (new style)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ccm_geo.publish", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=trim_blocks,
        lstrip_blocks=trim_blocks,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    import gettext

    env.install_gettext_translations(tr or gettext.NullTranslations(), newstyle=True)
    env.globals["font_stack"] = _FONT_STACK
    return env


def _src(png: bytes | None, name: str, for_print: bool) -> str | None:
    """An image's ``src``: a data URI, or the ``ccm:img/<name>`` resource of the printer."""
    if not png:
        return None
    if for_print:
        return f"ccm:img/{name}"
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _criterion(key: str, gettext: Callable[[str], str]) -> str:
    text = _CRITERIA.get(key)
    return gettext(text) if text else key.replace("_", " ")


def _method(key: str, gettext: Callable[[str], str]) -> str:
    text = _METHODS.get(key)
    if text:
        return gettext(text)
    return key.replace("_", " ")


def _document(c: RequestContent, gettext: Callable[[str], str], n: Numbers) -> dict[str, Any]:
    """Every table and figure of the request, worded and formatted for the template."""
    _ = gettext  # noqa: F811 - the document's catalogue from here on
    d, t, p, w = c.donor, c.totals, c.programme, c.picture
    show_cur = d.currency != "USD"
    regions = t["regions"] or sorted(c.context_regions["region"].astype(str).tolist())
    years = t["years"]
    radius = _radius(c.assumptions.get("population_column"))
    key_figures = [
        ("ask_usd", _("Amount requested"), c.ask_usd, n.usd(c.ask_usd)),
        ("cost_usd", _("Direct cost of the tasks"), t["cost_usd"], n.usd(t["cost_usd"])),
        ("released_m2", _("Land released"), t["released_m2"], n.ha(t["released_m2"])),
        ("cmr_m2", _("Cluster munition land"), t["cmr_m2"], n.ha(t["cmr_m2"])),
        ("mine_m2", _("Mined land"), t["mine_m2"], n.ha(t["mine_m2"])),
        ("tasks", _("Tasks"), t["tasks"], n.int(t["tasks"])),
    ]
    key_figures = [
        k for k in key_figures if k[0] not in ("cmr_m2", "mine_m2") or k[2] > 0 or not t["tasks"]
    ]
    if not t["tasks"]:
        key_figures = key_figures[:1] + [
            (
                f"{pk['key']}_people",
                _pkg_label(pk["key"], _),
                pk["people"] * pk["share_funded"],
                n.int(pk["people"] * pk["share_funded"]),
            )
            for pk in c.packages
        ]
    task_heads, rows, widths, task_text_cols, task_summary = _task_annex(c, _, n, show_cur)
    # a package without mined (or CMR) land has no column for it
    cmr_j = task_heads.index(_("Cluster munitions, m²"))
    mine_j = task_heads.index(_("Mines, m²"))
    keep = [
        j
        for j in range(len(task_heads))
        if not (j == cmr_j and t["cmr_m2"] <= 0) and not (j == mine_j and t["mine_m2"] <= 0)
    ]
    task_heads = [task_heads[j] for j in keep]
    rows = [[r[j] for j in keep] for r in rows]
    widths = [widths[j] for j in keep]
    task_widths = [round(w * 100 / sum(widths), 1) for w in widths]
    priority = []
    budget_years = [int(y) for y in c.budget.columns] if len(c.budget) else []
    budget_rows = []
    for act, row in c.budget.iterrows():
        budget_rows.append(
            [_("Survey") if act == "survey" else _("Clearance")]
            + [n.usd(row[y]) for y in budget_years]
            + [n.usd(row.sum())]
        )
    for pk in c.packages:
        budget_rows.append(
            [_pkg_label(pk["key"], _), *([""] * len(budget_years)), n.usd(pk["cost_usd"])]
        )
    direct = c.ask_usd - c.indirect_usd
    by_year = c.budget.sum() if len(c.budget) else pd.Series(dtype=float)
    budget_rows.append(
        [_("Indirect costs (%(share)s)") % {"share": n.pct(d.indirect_cost_share, 0)}]
        + [n.usd(by_year[y] * d.indirect_cost_share) for y in budget_years]
        + [n.usd(c.indirect_usd)]
    )
    budget_total = (
        [_("Total")]
        + [n.usd(by_year[y] * (1 + d.indirect_cost_share)) for y in budget_years]
        + [n.usd(c.ask_usd)]
    )
    gantt_cols = [col for col in c.gantt.columns if col not in ("region", "activity")]
    gantt = [
        {
            "label": r["region"]
            + ": "
            + (_("survey") if r["activity"] == "survey" else _("clearance")),
            "cells": [int(r[q]) for q in gantt_cols],
        }
        for _i, r in _gantt_rows(c.gantt, gantt_cols, d.table_rows_max, _).iterrows()
    ]
    indicator_words = {
        "released_ha": _("Land released (hectares)"),
        "cmr_ha": _("Land released from cluster munition remnants (hectares)"),
        "mine_ha": _("Land released from mines (hectares)"),
        "tasks": _("Survey and clearance tasks completed"),
        "people": _("People living near the released land"),
        "survivors": _("Survivors assisted"),
        "re_people": _("People reached by risk education"),
    }
    output_words = {
        "land": _("Land released and handed back for use"),
        "tasks": _("Work completed to national standards"),
        "people": _("Communities safer"),
        "victim_assistance": _("Survivors assisted"),
        "risk_education": _("Risk education delivered"),
    }
    result_years = [y for y in c.results.columns if y not in ("output", "indicator")]
    results = [
        [
            output_words.get(r["output"], r["output"]),
            indicator_words.get(r["indicator"], r["indicator"]),
            *[
                n.num(r[y], 1 if r["indicator"].endswith("_ha") else 0) if _finite(r[y]) else "—"
                for y in result_years
            ],
        ]
        for _i, r in c.results.iterrows()
    ]
    result_heads = [_("Output"), _("Indicator")] + [
        str(y) if y else _("Grant period") for y in result_years
    ]
    methods = [
        [
            _method(str(m["method"]), _),
            n.int(m["tasks"]),
            n.ha(m["area_m2"]),
            n.num(m["team_days"], 0),
            n.num(m["productivity_m2_per_team_day"]),
            n.usd(m["cost_usd_per_team_day"]),
            # all in: the method's cost over the area it works (team-days and per-m² parts; the
            # two unit figures are in the cost basis annex)
            n.money(
                m["cost_usd"] / m["area_m2"] if m["area_m2"] > 0 else m["cost_usd_per_m2"],
                "USD",
                2,
            ),
        ]
        for _i, m in c.methods.iterrows()
    ]
    ctx_rows = [
        [
            str(r["region"]),
            n.int(r["areas"]),
            n.ha(r["cmr_ha"] * 1e4),
            n.ha(r["mine_ha"] * 1e4),
            n.int(r["accidents"]) if _finite(r["accidents"]) else _("no data"),
            n.int(r["casualties"]) if _finite(r["casualties"]) else _("no data"),
            n.int(r["people"]) if _finite(r["people"]) else _("no data"),
        ]
        for _i, r in _top_rows(
            c.context_regions,
            d.table_rows_max,
            rank="areas",
            label_col="region",
            other=_("Other regions (%(n)s)"),
            sums=["areas", "cmr_ha", "mine_ha", "accidents", "casualties", "people"],
        ).iterrows()
    ]
    ctx_heads = [
        _("Region"),
        _("Hazardous areas"),
        _("Cluster munitions"),
        _("Mines"),
        _("Accidents"),
        _("Casualties"),
        _("People living nearby"),
    ]
    # a programme without cluster munition (or mined) land has no column for it
    treaties = {tr["treaty"] for tr in c.treaties}
    ctx_keep = [
        j for j in range(7) if (j != 2 or "ccm" in treaties) and (j != 3 or "apmbc" in treaties)
    ]
    ctx_heads = [ctx_heads[j] for j in ctx_keep]
    ctx_rows = [[row[j] for j in ctx_keep] for row in ctx_rows]
    va_rows = []
    if c.victim_assistance is not None:
        va = c.victim_assistance
        limit = d.table_rows_max
        for r in va.iloc[: limit - 1 if len(va) > limit else len(va)].itertuples(index=False):
            va_rows.append(
                [
                    str(r.name),
                    str(r.region),
                    n.int(r.survivors),
                    n.int(r.killed),
                    n.num(r.travel_min_health) if _finite(r.travel_min_health) else _("no data"),
                    _("yes") if bool(r.remote) else _("no"),
                ]
            )
        if len(va) > limit:  # the villages with most survivors first; the rest in one row
            rest = va.iloc[limit - 1 :]
            va_rows.append(
                [
                    _("Other villages (%(n)s)") % {"n": n.int(len(rest))},
                    "",
                    n.int(pd.to_numeric(rest["survivors"], errors="coerce").sum()),
                    n.int(pd.to_numeric(rest["killed"], errors="coerce").sum()),
                    "",
                    n.int(int(rest["remote"].astype(bool).sum())),
                ]
            )
    re_rows = []
    if c.risk_education is not None:
        re_table = _top_rows(
            c.risk_education,
            d.table_rows_max,
            rank="areas",
            label_col="region",
            other=_("Other regions (%(n)s)"),
            sums=["areas", "area_m2", "cmr_areas", "population_nearby"],
        )
        for r in re_table.itertuples(index=False):
            re_rows.append(
                [
                    str(r.region),
                    n.int(r.areas),
                    n.ha(r.area_m2),
                    n.int(r.cmr_areas),
                    n.int(r.population_nearby) if _finite(r.population_nearby) else _("no data"),
                ]
            )
    a = c.assumptions
    assumptions = [
        (
            _("Team-month"),
            _("%(days)s working days") % {"days": n.num(a["working_days"] / 12, 1)},
            _("%(days)s working days per team and year, divided by 12")
            % {"days": n.num(a["working_days"])},
        ),
        (
            _("Indirect costs"),
            n.pct(a["indirect_cost_share"], 0),
            _("share of the direct cost, set per donor"),
        ),
    ]
    if show_cur:
        assumptions.append(
            (
                _("Exchange rate"),
                f"1 US$ = {n.num(a['exchange_rate'], 4)} {a['currency']}",
                a["exchange_rate_source"] or _("fixed in the project settings"),
            )
        )
    for m in c.methods.itertuples(index=False):
        assumptions.append(
            (
                _method(str(m.method), _),
                _("%(m2)s m² per team-day; %(day)s per team-day; %(per_m2)s US$ per m²")
                % {
                    "m2": n.num(m.productivity_m2_per_team_day),
                    "day": n.usd(m.cost_usd_per_team_day),
                    "per_m2": n.num(m.cost_usd_per_m2, 2),
                },
                str(m.source) or _("planning settings of the programme"),
            )
        )
    for pk in c.packages:
        assumptions.append(
            (
                _pkg_label(pk["key"], _),
                _("%(cost)s per person") % {"cost": n.usd(pk["unit_usd"])},
                unit_cost_source(pk, _),
            )
        )
    if radius is not None:
        assumptions.append(
            (
                _("People living nearby"),
                _("within %(km)s km") % {"km": n.num(radius, 0)},
                _("villages of the settlements register within this distance of a hazardous area"),
            )
        )
    if c.victim_assistance is not None:
        assumptions.append(
            (
                _("Remote village"),
                _("more than %(min)s minutes from care") % {"min": n.num(a["remote_min"])},
                _("travel time over the road network")
                if a["travel_from_roads"]
                else _("straight line to the nearest health facility at %(kmh)s km/h")
                % {"kmh": n.num(a["speed_kmh"])},
            )
        )
    evidence = _evidence(c)
    return {
        "key_figures": key_figures,
        "regions": n.join(regions),
        "years": n.join([str(y) for y in years]),
        "radius": radius,
        "reasons": [(_criterion(k, _), n.pct(v, 0)) for k, v in c.reasons],
        "evidence": evidence,
        "direct_usd": direct,
        "task_heads": task_heads,
        "task_text_cols": task_text_cols,
        "task_summary": task_summary,
        "task_areas": int(c.tasks["hazard_id"].nunique()) if len(c.tasks) else 0,
        "sheets_left_out": sorted(set(t["regions"]) - set(c.region_maps)),
        "task_widths": task_widths,
        "task_rows": rows,
        "priority_rows": priority,
        "budget_years": budget_years,
        "budget_rows": budget_rows,
        "budget_total": budget_total,
        "gantt_cols": gantt_cols,
        "gantt": gantt,
        "result_heads": result_heads,
        "results": results,
        "methods": methods,
        "ctx_rows": ctx_rows,
        "ctx_heads": ctx_heads,
        "va_rows": va_rows,
        "re_rows": re_rows,
        "assumptions": assumptions,
        "method_names": n.join([_method(str(m), _) for m in c.methods["method"]]),
        "teams": n.join([f"{_team(k, _)} ({v})" for k, v in w["teams"].items()]),
        "packages": [
            {**pk, "label": _pkg_label(pk["key"], _), "basis": unit_cost_source(pk, _)}
            for pk in c.packages
        ],
        "programme": p,
    }


def _task_annex(
    c: RequestContent, _: Callable[[str], str], n: Numbers, show_cur: bool
) -> tuple[list[str], list[list[str]], list[int], int, str | None]:
    """Annex A: heads, rows, column weights, the number of text columns, and the summary kind.

    One row per area (its survey and clearance tasks together, with its rank and score) up
    to ``donor.annex_rows_max`` areas; beyond it one row per region and year (``"year"``), or
    per region (``"region"``) when that is still too long. The workbook and the GIS layer keep
    every area and task.
    """
    d, pkg = c.donor, c.tasks
    cost_cur = [_("Cost, %(currency)s") % {"currency": d.currency}] if show_cur else []
    n_areas = int(pkg["hazard_id"].nunique()) if len(pkg) else 0
    if n_areas > d.annex_rows_max:
        by = ["region", "year"]
        kind = "year"
        if pkg.groupby(by).ngroups > d.annex_rows_max:
            by, kind = ["region"], "region"
        p = pkg.assign(
            region=pkg["region"].astype(str),
            team_months=pd.to_numeric(pkg["team_months"], errors="coerce"),
        )
        g = p.groupby(by, sort=True)
        agg = g.agg(
            areas=("hazard_id", "nunique"),
            tasks=("task_id", "size"),
            first=("year", "min"),
            last=("year", "max"),
            released_m2=("released_m2", "sum"),
            cmr_m2=("cmr_m2", "sum"),
            mine_m2=("mine_m2", "sum"),
            team_months=("team_months", "sum"),
            cost_usd=("cost_usd", "sum"),
            cost_currency=("cost_currency", "sum"),
        ).reset_index()
        rows = [
            [
                str(r.region),
                str(int(r.first)) if r.first == r.last else f"{int(r.first)}–{int(r.last)}",
                n.int(r.areas),
                n.int(r.tasks),
                n.num(r.released_m2),
                n.num(r.cmr_m2),
                n.num(r.mine_m2),
                n.num(r.team_months, 1),
                n.usd(r.cost_usd),
                *([n.cur(r.cost_currency)] if show_cur else []),
            ]
            for r in agg.itertuples(index=False)
        ]
        heads = [
            _("Region"),
            _("Year"),
            _("Areas"),
            _("Tasks"),
            _("Released, m²"),
            _("Cluster munitions, m²"),
            _("Mines, m²"),
            _("Team-months"),
            _("Cost, US$"),
            *cost_cur,
        ]
        widths = [14, 8, 6, 6, 9, 9, 9, 7, 10, *([10] if show_cur else [])]
        return heads, rows, widths, 2, kind
    rows = []
    score = c.priority.drop_duplicates("hazard_id").set_index("hazard_id")
    for hid, g in pkg.groupby("hazard_id", sort=False):
        first = g.iloc[0]
        ys = sorted({int(y) for y in g["year"]})
        rows.append(
            [
                str(hid),
                str(first.get("name", "") or ""),
                str(first["region"]),
                " + ".join(_method(str(m), _) for m in g["method"]),
                "–".join(str(y) for y in (ys[0], ys[-1])) if len(ys) > 1 else str(ys[0]),
                n.num(g["released_m2"].sum()),
                n.num(g["cmr_m2"].sum()),
                n.num(g["mine_m2"].sum()),
                n.num(pd.to_numeric(g["team_months"], errors="coerce").sum(), 1),
                n.usd(g["cost_usd"].sum()),
                *([n.cur(g["cost_currency"].sum())] if show_cur else []),
                n.int(score["rank"].get(hid)) if hid in score.index else "—",
                n.num(score["score"].get(hid), 2) if hid in score.index else "—",
            ]
        )
    heads = [
        _("Area"),
        _("Place"),
        _("Region"),
        _("Work"),
        _("Year"),
        _("Released, m²"),
        _("Cluster munitions, m²"),
        _("Mines, m²"),
        _("Team-months"),
        _("Cost, US$"),
        *cost_cur,
        _("Rank"),
        _("Score"),
    ]
    widths = [11, 12, 9, 12, 7, 7, 7, 6, 6, 9, *([9] if show_cur else []), 5, 5]
    return heads, rows, widths, 4, None


def _top_rows(
    frame: pd.DataFrame,
    limit: int,
    *,
    rank: str,
    label_col: str,
    other: str,
    sums: list[str],
) -> pd.DataFrame:
    """``frame`` when it has at most ``limit`` rows; else its ``limit - 1`` largest rows by
    ``rank`` (in their order in ``frame``) and one row summing the others (``other`` names
    it, with their count; a column unknown in any of them stays unknown)."""
    if len(frame) <= limit:
        return frame
    order = frame[rank].rank(method="first", ascending=False)
    top = frame[(order <= limit - 1).to_numpy()]
    rest = frame[(order > limit - 1).to_numpy()]
    row: dict[str, Any] = {c: np.nan for c in frame.columns}
    for col in sums:
        v = pd.to_numeric(rest[col], errors="coerce")
        row[col] = float(v.sum()) if v.notna().all() else np.nan
    row[label_col] = other % {"n": len(rest)}
    return pd.concat([top, pd.DataFrame([row])], ignore_index=True)


def _gantt_rows(
    gantt: pd.DataFrame, cols: list[str], limit: int, _: Callable[[str], str]
) -> pd.DataFrame:
    """The work plan's rows, at most ``limit``: the regions with most task-quarters, the
    others summed per activity under one label."""
    if len(gantt) <= limit:
        return gantt
    load = gantt.groupby("region")[cols].sum().sum(axis=1)
    ranked = sorted(load.index, key=lambda r: (-float(load[r]), r))
    keep: list[str] = []
    for r in ranked:  # whole regions (survey and clearance rows) while they fit
        if (gantt["region"].isin([*keep, r])).sum() > limit - 2:
            break
        keep.append(r)
    top = gantt[gantt["region"].isin(keep)]
    rest = gantt[~gantt["region"].isin(keep)]
    label = _("Other regions (%(n)s)") % {"n": rest["region"].nunique()}
    other = rest.groupby("activity", sort=False)[cols].sum().reset_index()
    other.insert(0, "region", label)
    return pd.concat([top, other], ignore_index=True)


def _pkg_label(key: str, _: Callable[[str], str]) -> str:
    return _("Victim assistance") if key == "victim_assistance" else _("Risk education")


def unit_cost_source(pk: dict[str, Any], _: Callable[[str], str]) -> str:
    """Where a costed package's unit cost comes from, in plain words (docs/requests.md).

    The donor's own ``*_cost_source`` when given; else the published figure behind the tool's
    default (said to be a lower bound or a single project); else, for a changed figure without
    a source, that it was set in the project settings.
    """
    if pk.get("unit_source"):
        return str(pk["unit_source"])
    if not pk.get("unit_is_default", False):
        return _("set in the project settings; no source given")
    if pk["key"] == "victim_assistance":
        return _(
            "A lower bound: the price of one above-knee prosthesis (US$400; a below-knee one "
            "costs US$250, crutches US$20) at the ICRC-supported component factory in Phnom "
            "Penh, as published by the Swiss charity Mine-Ex (undated web page). It covers the "
            "device only, not medical care, physiotherapy, psychosocial support or economic "
            "inclusion; the operator's budget should replace it."
        )
    return _(
        "One published project: a UNICEF-funded risk education project in South Sudan (Save "
        "Lives Initiative) reached 15,000 people in direct sessions and trained 200 teachers for "
        "US$54,450 plus a part in local currency, about US$3.6 per person, rounded up to US$4 "
        "(undated web page). A single project, not an average; the operator's budget should "
        "replace it."
    )


def _team(key: str, _: Callable[[str], str]) -> str:
    words = {
        "manual": _("manual clearance teams"),
        "mechanical": _("mechanical teams"),
        "dog": _("mine detection dog teams"),
        "nts": _("survey teams"),
    }
    return words.get(key, key.replace("_", " "))


def _radius(pop_col: str | None) -> float | None:
    m = re.fullmatch(r"population_within_(\d+(?:_\d+)?)km", pop_col or "")
    return float(m.group(1).replace("_", ".")) if m else None


def _evidence(c: RequestContent) -> dict[str, int]:
    """How many of the package's areas are confirmed (CHA) and suspected (SHA)."""
    if not len(c.priority):
        return {"areas": 0, "confirmed": 0}
    classes = c.tasks.drop_duplicates("hazard_id")
    status = classes["status"].astype(str) if "status" in classes else pd.Series(dtype=str)
    return {"areas": len(classes), "confirmed": int((status == "CHA").sum())}


# ---- maps ----------------------------------------------------------------------------------
