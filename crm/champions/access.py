"""Object-level rules: a champion sees and edits only their own profile and endorsements."""

from __future__ import annotations

import sqlalchemy as sa

from crm.auth.models import User
from crm.champions.models import Champion, Endorsement
from crm.extensions import db


def own_champion(user: User) -> Champion | None:
    """The champion record of a signed-in champion (through their linked contact)."""
    if user.contact_id is None:
        return None
    return db.session.scalar(sa.select(Champion).where(Champion.contact_id == user.contact_id))


def is_own_endorsement(user: User, endorsement: Endorsement) -> bool:
    champion = own_champion(user)
    return champion is not None and endorsement.champion_id == champion.id
