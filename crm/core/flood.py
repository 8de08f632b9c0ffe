"""Flood protection for the public forms: a cap on submissions per network address.

Each accepted public submission (an event registration, a pledge, a consultation answer) leaves
a row; a form refuses an address that has sent too many in the last hour. The rows hold no
personal data beyond the address; the hourly housekeeping job deletes them after a day.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from crm.core.db import rows_touched, utcnow
from crm.core.errors import OperationError
from crm.core.locks import serialize_on
from crm.extensions import Model, db

WINDOW = timedelta(hours=1)
KEEP = timedelta(days=1)  # then housekeeping deletes them


class PublicSubmission(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    form: Mapped[str] = mapped_column(sa.String(40))  # "event-registration"
    address: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.Index("ix_public_submission_address", "address", "form", "at"),)


def bucket(address: str) -> str:
    """IPv6 clients get a whole /64 each, so they are counted by network, not by address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def check_and_record(form: str, address: str, limit: int) -> None:
    """Refuse when `address` already sent `limit` submissions of `form` within the hour.
    Submissions from one address count one at a time, so a burst cannot pass the cap."""
    address = bucket(address)
    serialize_on(f"flood:{form}:{address}")
    now = utcnow()
    since = now - WINDOW
    recent = db.session.execute(
        sa.select(sa.func.count())
        .select_from(PublicSubmission)
        .where(
            PublicSubmission.address == address,
            PublicSubmission.form == form,
            PublicSubmission.at >= since,
        )
    ).scalar_one()
    if recent >= limit:
        raise OperationError(
            "Too many submissions from your network in the last hour. Please try again later."
        )
    db.session.add(PublicSubmission(form=form, address=address[:64], at=now))
    db.session.flush()


def forget_old_submissions(now: datetime) -> int:
    """Delete the rows older than `KEEP` (the cap counts only the last hour's)."""
    return rows_touched(
        db.session.execute(sa.delete(PublicSubmission).where(PublicSubmission.at < now - KEEP))
    )
