"""JSON from outside (a webhook's body, an API request) parsed with limits.

Python's parser recurses once per level of nesting: a body of 50,000 opening brackets raises
RecursionError, which nothing expects (a 500). Here that, an over-deep document and an
over-long body are all a `ValueError` with a message, which callers answer with 400.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64  # far beyond any document we read (a webhook event is 2 deep)


class JSONRefused(ValueError):
    """The text is not JSON we accept: the message says why."""


def loads(text: str | bytes, *, max_length: int | None = None) -> Any:
    if max_length is not None and len(text) > max_length:
        raise JSONRefused(f"The body is larger than {max_length:,} bytes.")
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONRefused(f"The JSON is nested more than {MAX_DEPTH} levels deep.") from None
    except ValueError:
        raise JSONRefused("The body is not JSON.") from None
    if depth(value) > MAX_DEPTH:
        raise JSONRefused(f"The JSON is nested more than {MAX_DEPTH} levels deep.")
    return value


def depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level) for child in children if isinstance(child, (dict, list)))
    return deepest
