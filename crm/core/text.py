"""Text folding for search, sorting and duplicate checks: case and accents do not matter."""

from __future__ import annotations

import unicodedata

# Letters NFKD does not decompose into a base letter plus an accent.
_SPECIAL = str.maketrans(
    {
        "ı": "i",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ħ": "h",
    }
)


def fold(text: str | None) -> str:
    """'  Yılmaz  Ramírez ' -> 'yilmaz ramirez'."""
    if not text:
        return ""
    if text.isascii():  # most names and every address: nothing to translate or decompose
        return " ".join(text.lower().split())
    lowered = text.lower().translate(_SPECIAL)
    decomposed = unicodedata.normalize("NFKD", lowered)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.split())
