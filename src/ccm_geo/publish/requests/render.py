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
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ccm_geo.io import atomic_output
from ccm_geo.publish.requests.content import RequestContent
from ccm_geo.publish.requests.document import _document
from ccm_geo.publish.requests.words import (  # the words' public names, as before the split
    LANGUAGES,
    RTL_LANGUAGES,
    Numbers,
    _Labelled,
    translations,
)

__all__ = [
    "render_request_html",
    "render_request_documents",
    "write_request_pdf",
    "print_pdf",
    "request_resources",
    "translations",
    "Numbers",
    "LANGUAGES",
    "RTL_LANGUAGES",
    "pdf_engine_available",
]


_PUBLISH = Path(__file__).resolve().parent.parent


_FONT_DIR = _PUBLISH / "vendor" / "fonts"


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
    if html is None:
        html = render_request_html(content, for_print=True)
    return print_pdf(html, request_resources(content), path)


def request_resources(content: RequestContent) -> dict[str, bytes]:
    """The images a request's printable HTML refers to (``ccm:img/...``), by URL."""
    resources = {"ccm:img/map": content.static_map_png or b""}
    for i, png in enumerate(content.region_maps.values()):
        resources[f"ccm:img/sheet-{i}"] = png
    return resources


def print_pdf(html: str, resources: Mapping[str, bytes], path: str | Path) -> Path:
    """Print a request's HTML to PDF with WeasyPrint, atomically: its images from
    ``resources`` (``ccm:img/...`` URL -> PNG bytes), its fonts from the package, nothing
    else. Takes and returns plain values, so it runs in a worker process as well."""
    import weasyprint

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
