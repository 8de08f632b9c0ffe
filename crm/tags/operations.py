"""Turning what a user typed into Tag rows."""

from __future__ import annotations

import re

import sqlalchemy as sa

from crm.extensions import db
from crm.tags.models import Tag

MAX_TAG_LENGTH = 50


def parse_tags(text: str | None) -> list[str]:
    """'Supplier, Asia ,supplier' -> ['asia', 'supplier']: trimmed, lower-case, unique, sorted."""
    names = {re.sub(r"\s+", " ", part).strip().lower() for part in (text or "").split(",")}
    return sorted(name for name in names if name)


def tags_from_names(names: list[str]) -> list[Tag]:
    if not names:
        return []
    existing = {t.name: t for t in db.session.scalars(sa.select(Tag).where(Tag.name.in_(names)))}
    tags = []
    for name in names:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            db.session.add(tag)
        tags.append(tag)
    return tags


def all_tag_names() -> list[str]:
    return list(db.session.scalars(sa.select(Tag.name).order_by(Tag.name)))
