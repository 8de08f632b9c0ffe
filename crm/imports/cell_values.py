"""Turning spreadsheet cells into values, with the same rules the forms apply.

Lookups (countries, languages, addresses) are cached: a file repeats the same few countries
thousands of times.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

import email_validator

from crm.contacts.operations import clean_languages
from crm.core.errors import OperationError
from crm.core.text import fold
from crm.core.validation import clean_country, clean_website, normalize_email
from crm.imports.rows import Row
from crm.tags.operations import MAX_TAG_LENGTH, parse_tags

YES = {"yes", "y", "true", "1", "x", "granted", "agreed", "opt in", "opted in", "subscribed"}
UNKNOWN = {"unknown", "not asked", "n/a", "na", "-", "?"}
NO = {"no", "n", "false", "0", "withdrawn", "opt out", "opted out", "unsubscribed", "declined"}


# Names people write that ISO 3166 spells otherwise (compared folded, without punctuation).
COUNTRY_ALIASES = {
    "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "ivory coast": "CI",
    "cote d ivoire": "CI", "cote divoire": "CI", "south korea": "KR", "korea": "KR",
    "north korea": "KP", "russia": "RU", "iran": "IR", "laos": "LA", "vietnam": "VN",
    "czech republic": "CZ", "holland": "NL", "the netherlands": "NL", "usa": "US",
    "u s": "US", "u s a": "US", "united states of america": "US", "america": "US",
    "tanzania": "TZ", "syria": "SY", "moldova": "MD", "venezuela": "VE", "taiwan": "TW",
    "palestine": "PS", "macedonia": "MK", "swaziland": "SZ", "burma": "MM", "drc": "CD",
    "dr congo": "CD", "dr c": "CD", "congo kinshasa": "CD", "congo brazzaville": "CG",
    "uae": "AE", "emirates": "AE",
    # As people write them in their own language (exports from CRMs kept in that language).
    "deutschland": "DE", "espana": "ES", "brasil": "BR", "mexico": "MX", "italia": "IT",
    "nederland": "NL", "osterreich": "AT", "schweiz": "CH", "suisse": "CH", "svizzera": "CH",
    "belgique": "BE", "belgie": "BE", "polska": "PL", "turkiye": "TR", "sverige": "SE",
    "norge": "NO", "danmark": "DK", "suomi": "FI", "eire": "IE", "magyarorszag": "HU",
    "cesko": "CZ", "ceska republika": "CZ", "hrvatska": "HR", "romania": "RO", "peru": "PE",
    "maroc": "MA", "algerie": "DZ", "tunisie": "TN", "cameroun": "CM", "guinee": "GN",
    "benin": "BJ", "tchad": "TD", "mauritanie": "MR", "egypte": "EG", "misr": "EG",
    "kampuchea": "KH", "pilipinas": "PH", "prathet thai": "TH", "lietuva": "LT",
    "latvija": "LV", "eesti": "EE", "slovensko": "SK", "slovenija": "SI", "srbija": "RS",
    "shqiperia": "AL", "bharat": "IN", "nippon": "JP", "nihon": "JP", "zhongguo": "CN",
    "hellas": "GR", "ellada": "GR", "rossiya": "RU", "ukraina": "UA",
    "viet nam": "VN", "republique democratique du congo": "CD",
    # Common names in other languages; pycountry's translations (below) have these and many
    # more, and this keeps them when a pycountry without its translations is installed.
    "frankreich": "FR", "allemagne": "DE", "alemania": "DE", "alemanha": "DE",
    "espagne": "ES", "spanien": "ES", "espanha": "ES", "royaume uni": "GB", "reino unido": "GB",
    "grossbritannien": "GB", "vereinigtes konigreich": "GB", "etats unis": "US",
    "estados unidos": "US", "vereinigte staaten": "US", "inde": "IN", "indien": "IN",
    "bresil": "BR", "brasilien": "BR", "chine": "CN", "japon": "JP",
    "italie": "IT", "italien": "IT", "pays bas": "NL", "paises bajos": "NL",
    "niederlande": "NL", "belgica": "BE", "belgien": "BE", "suiza": "CH", "suica": "CH",
    "marruecos": "MA", "marrocos": "MA", "sudafrica": "ZA", "afrique du sud": "ZA",
    "cambodge": "KH", "camboya": "KH",
}  # fmt: skip

# The languages whose country names pycountry's translations (gettext catalogues in
# pycountry.LOCALES_DIR) are read in: those of most of the files the community sends.
COUNTRY_NAME_LANGUAGES = ("fr", "es", "de", "pt", "pt_BR", "it", "nl")


@lru_cache(maxsize=1)
def translated_countries() -> dict[str, str]:
    """{country name in another language, compared folded: alpha-2 code}, from pycountry's
    translations of each country's name, official name and common name; a name that two
    countries share in different languages is left out. Empty if pycountry has none."""
    import gettext

    import pycountry

    folder = getattr(pycountry, "LOCALES_DIR", None)
    names: dict[str, str] = {}
    shared: set[str] = set()
    for language in COUNTRY_NAME_LANGUAGES:
        try:
            catalogue = gettext.translation("iso3166-1", folder, languages=[language])
        except (OSError, TypeError):  # no such catalogue, or no folder at all
            continue
        for found in pycountry.countries:
            for attribute in ("name", "official_name", "common_name"):
                english = getattr(found, attribute, None)
                local = catalogue.gettext(english) if english else None
                if not local or local == english:
                    continue
                key = _plain(local)
                if names.setdefault(key, found.alpha_2) != found.alpha_2:
                    shared.add(key)
    for key in shared:
        del names[key]
    return names


def _plain(value: str) -> str:
    """'Royaume-Uni' -> 'royaume uni': folded, punctuation as spaces."""
    return " ".join(re.sub(r"[^\w]+", " ", fold(value)).split())


@lru_cache(maxsize=4096)
def country(value: str) -> str | None:
    """As the form reads it, and also without accents ("Sénégal"), in another language
    ("Allemagne", "Estados Unidos") or by a close name ("Viet Nam"), when only one country
    fits."""
    try:
        return clean_country(value)
    except OperationError:
        import pycountry

        plain = _plain(value)
        if plain in COUNTRY_ALIASES:
            return COUNTRY_ALIASES[plain]
        if plain in translated_countries():
            return translated_countries()[plain]
        for attempt in (plain, plain.title()):
            try:
                return clean_country(attempt)
            except OperationError:
                pass
        try:
            found = pycountry.countries.search_fuzzy(plain)
        except LookupError:
            found = []
        if len(found) == 1:
            return found[0].alpha_2
        raise


@lru_cache(maxsize=1024)
def languages(value: str) -> str | None:
    return clean_languages(value.replace(";", ",").split(","))


# A plain ASCII dot-atom local part: what email-validator accepts as it is, checked here
# without its per-address cost (its Unicode and IDNA checks run once per domain instead).
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


# A plain ASCII host name: labels of letters, digits and inner hyphens, the last ending in a
# letter (as every top-level domain does). email-validator accepts such a name as it is, in
# lower case, unless it is a special-use name; its per-character Unicode checks cost 30 µs a
# domain, and a list of corporate addresses has a domain for every few rows.
_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z0-9][a-z0-9-]{0,61})?[a-z]")


@lru_cache(maxsize=65536)
def _domain(domain: str) -> str:
    plain = domain.lower()
    if (
        len(plain) <= 253
        and "--" not in plain  # Punycode and other reserved forms: the full check
        and _HOST.fullmatch(plain)
        and not any(
            plain == special or plain.endswith("." + special)
            for special in email_validator.SPECIAL_USE_DOMAIN_NAMES
        )
    ):
        return plain
    return normalize_email(f"a@{domain}").partition("@")[2]


def email(value: str) -> str:
    """The address as `normalize_email` gives it (the forms' rule), fast for plain ones."""
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and len(value) <= 254 and _LOCAL.fullmatch(local):
        return f"{local.lower()}@{_domain(domain)}"
    return normalize_email(value)


@lru_cache(maxsize=65536)
def website(value: str) -> str | None:
    return clean_website(value)


def name(value: str) -> str:
    """A name on one line with single spaces: "Ana   María  López" -> "Ana María López"
    (spreadsheets keep the extra spaces, tabs and line breaks people type)."""
    if "  " in value or not value.isprintable():
        return " ".join(value.split())
    return value


def text(row: Row, key: str, label: str, max_length: int, *, required: bool = False) -> str | None:
    value = row.values.get(key, "")
    if not value:
        if required:
            row.fail(key, f"{label} is empty")
        return None
    if len(value) > max_length:
        row.fail(key, f"{label} is too long ({len(value)} characters; at most {max_length})")
        return None
    return value


def checked(row: Row, key: str, func, *args):
    """func(value) or None, recording its refusal against the row."""
    value = row.values.get(key, "")
    if not value:
        return None
    try:
        return func(value, *args)
    except OperationError as error:
        row.fail(key, error.message.rstrip("."))
        return None


def yes_no(row: Row, key: str) -> bool | None:
    value = row.values.get(key)
    if not value:
        return None
    answer = _yes_no(value)
    if isinstance(answer, str):  # "?": neither
        row.fail(key, f"“{value}” is not yes or no")
        return None
    return answer


@lru_cache(maxsize=1024)
def _yes_no(value: str) -> bool | None | str:
    value = fold(value)
    if not value or value in UNKNOWN:
        return None
    if value in YES:
        return True
    if value in NO:
        return False
    return "?"


@lru_cache(maxsize=4096)
def tags(value: str) -> tuple[str, ...]:
    """The tag names in a cell (a file repeats the same few cells)."""
    names = parse_tags(value.replace(";", ","))
    too_long = [n for n in names if len(n) > MAX_TAG_LENGTH]
    if too_long:
        raise OperationError(
            f"the tag “{too_long[0][:60]}” is longer than {MAX_TAG_LENGTH} characters"
        )
    return tuple(names)


DATE_FORMATS = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)


def a_date(row: Row, key: str, label: str) -> date | None:
    """ISO dates, day-first dates (the community is international: 03/04/2026 is 3 April) and
    written months."""
    value = row.values.get(key, "")
    if not value:
        return None
    value = value[:10] if len(value) >= 10 and value[4] == "-" else value
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    row.fail(key, f"{label} “{value}” is not a date (use YYYY-MM-DD)")
    return None


_THOUSANDS = str.maketrans("", "", ", '\u00a0\u202f")


def whole_number(row: Row, key: str, label: str, most: int = 10**10) -> int | None:
    """A count as people write it: "1200", "1,200", "1 200"; not "1e3", "12.5" or "-4"."""
    raw = row.values.get(key, "")
    value = raw.translate(_THOUSANDS)
    if not value:
        return None
    if not value.isdigit() or not value.isascii():
        row.fail(key, f"{label} “{raw}” is not a whole number (0 or more)")
        return None
    number = int(value)
    if number > most:
        row.fail(key, f"{label} {number:,} is more than {most:,}")
        return None
    return number


def choice(row: Row, key: str, label: str, enum_cls, aliases: dict[str, str] | None = None):
    """An enum member from its value, its label or an alias, in any case."""
    value = row.values.get(key, "")
    if not value:
        return None
    wanted = fold(value).replace("-", " ").replace("_", " ")
    for member in enum_cls:
        names = {member.value.replace("_", " "), fold(getattr(member, "label", member.value))}
        if wanted in names:
            return member
    if aliases and wanted in aliases:
        return enum_cls(aliases[wanted])
    # As the forms show them, not the codes they are stored as.
    allowed = ", ".join(getattr(m, "label", m.value) for m in enum_cls)
    row.fail(key, f"{label} “{value}” is not one of: {allowed}")
    return None
