"""The document's words: gettext catalogues, plain names for criteria, methods and team types,
and numbers, money and dates in the donor's locale (Babel)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccm_geo.publish.requests.common import _finite
from ccm_geo.publish.settings import DonorProfile

_PUBLISH = Path(__file__).resolve().parent.parent
_LOCALE_DIR = _PUBLISH / "locale"


#: Languages with a catalogue (English is the source language).
LANGUAGES = ("en", "fr", "es")
#: Languages written right to left.
RTL_LANGUAGES = frozenset({"ar"})


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


def _criterion(key: str, gettext: Callable[[str], str]) -> str:
    text = _CRITERIA.get(key)
    return gettext(text) if text else key.replace("_", " ")


def _method(key: str, gettext: Callable[[str], str]) -> str:
    text = _METHODS.get(key)
    if text:
        return gettext(text)
    return key.replace("_", " ")


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
