"""Tags named in an import, linked to the contacts or organizations the rows wrote."""

from __future__ import annotations

import sqlalchemy as sa

from crm.core.bulk import among, insert_rows
from crm.extensions import db
from crm.imports.rows import SKIP, UPDATE, Row
from crm.tags.models import Tag
from crm.tags.operations import tags_from_names


def link_tags(ctx, rows: list[Row], links: sa.Table, owner: str, record_type: str) -> None:
    """Link each row's tags to its record (`links.c[owner]` holds the record's id), once.

    A row that updates a record and adds no value and no tag becomes a skip; tags added to an
    updated record are kept with its changes so that undoing the run takes them off again, and
    go on its audit trail as an edit records them (the tags before → after).
    """
    owner_column = links.c[owner]
    tags = tags_from_names(sorted({name for row in rows for name in row.cleaned["tags"]}))
    db.session.flush()
    tag_ids = {tag.name: tag.id for tag in tags}
    # Records this run created have no tags yet; only updated ones need looking up.
    updated = [row.target_id for row in rows if row.action == UPDATE]
    existing: set[tuple[int, int]] = set()
    names_before: dict[int, list[str]] = {}
    if updated:
        for record_id, tag_id, name in db.session.execute(
            sa.select(owner_column, links.c.tag_id, Tag.name)
            .join(Tag, Tag.id == links.c.tag_id)
            .where(among(owner_column, updated))
        ):
            existing.add((record_id, tag_id))
            names_before.setdefault(record_id, []).append(name)
    new_links = []
    for row in rows:
        added, added_names = [], []
        for name in row.cleaned["tags"]:
            pair = (row.target_id, tag_ids[name])
            if pair not in existing:
                existing.add(pair)
                new_links.append({owner: row.target_id, "tag_id": tag_ids[name]})
                added.append(tag_ids[name])
                added_names.append(name)
        if row.action == UPDATE and not added and not row.changes:
            row.action = SKIP  # the record already had every value and tag
            row.note += "; nothing to change"
        elif row.action == UPDATE and added:
            if row.changes:
                row.changes["_added_tags"] = added
            else:
                ctx.updated(record_type, row.target_id, {"_added_tags": added})
            before = sorted(names_before.get(row.target_id, []))
            after = sorted([*before, *added_names])
            row.audit = {**(row.audit or {}), "tags": [", ".join(before), ", ".join(after)]}
    insert_rows(links, new_links)
