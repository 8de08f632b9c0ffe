"""Countries (ISO 3166-1 alpha-2) and languages (ISO 639) from pycountry."""

from __future__ import annotations

import unicodedata
from functools import cache

import pycountry


def _sort_key(name: str) -> str:
    # Côte d'Ivoire sorts with C, Réunion with R: compare without accents.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


@cache
def country_choices() -> list[tuple[str, str]]:
    return sorted(
        ((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: _sort_key(pair[1])
    )


@cache
def _country_names() -> dict[str, str]:
    return dict(country_choices())


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return _country_names().get(code.upper(), code)


def normalize_country(value: str | None) -> str | None:
    """A code ('KE', 'ken') or a name ('Kenya') as the alpha-2 code; None if unknown."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        return None


@cache
def language_choices() -> list[tuple[str, str]]:
    langs = [(lang.alpha_2, lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")]
    return sorted(langs, key=lambda pair: _sort_key(pair[1]))


@cache
def _language_names() -> dict[str, str]:
    return dict(language_choices())


def language_name(code: str) -> str:
    return _language_names().get(code, code)


def normalize_language(value: str) -> str | None:
    """'English', 'en' or 'eng' -> 'en'; None if unknown or without a two-letter code."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 2 and value.lower() in _language_names():
        return value.lower()  # a code first: "en" is also the name of a language in Vietnam
    try:
        language = pycountry.languages.lookup(value)
    except LookupError:
        return None
    return getattr(language, "alpha_2", None)


@cache
def _country_options_html() -> str:
    from markupsafe import escape

    return "".join(
        f'<option value="{code}">{escape(name)}</option>' for code, name in country_choices()
    )


def country_options(selected: str | None = None):
    """The <option>s of a country filter, built once: 250 options per render add up."""
    from markupsafe import Markup

    html = _country_options_html()
    if selected:
        html = html.replace(f'value="{selected}"', f'value="{selected}" selected', 1)
    return Markup(html)  # noqa: S704 -- built from escaped names and fixed codes
