"""The event row held until commit, so capacity checks do not race: editing an event's
capacity and taking a place both lock it first (PostgreSQL: SELECT … FOR UPDATE; SQLite writes
one transaction at a time), so two people can never both take the last place.
"""

from __future__ import annotations

import sqlalchemy as sa

from crm.events.models import Event
from crm.extensions import db


def lock(event: Event) -> None:
    """Hold the event row until commit, so capacity checks do not race."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Reloads the row too: its capacity may have changed since it was read.
        db.session.execute(
            sa.select(Event)
            .where(Event.id == event.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
