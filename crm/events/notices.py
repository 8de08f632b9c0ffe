"""Emails to participants: registration received, waitlisted, a place freed up.

Queued by the operation that made the change, in its transaction (`queue_mail`): the worker
sends them once it commits, so a refused or failed request tells nobody of a place it did not
give, and a slow or failing mail provider never undoes a registration.
"""

from __future__ import annotations

from crm.core.http import external_url
from crm.core.mail import MailMessage, queue_mail
from crm.events.models import Event, Participation, ParticipationStatus


def _when(event: Event) -> str:
    start = event.local_start
    return f"{start:%A %d %B %Y, %H:%M} ({event.timezone})"


def _where(event: Event, *, with_link: bool) -> str:
    """The online link only for someone with a place: a waitlist must not let people in."""
    online = event.online_url if with_link else ("online" if event.online_url else None)
    return ", ".join(part for part in (event.venue, online) if part) or "to be announced"


def message_for(participation: Participation) -> MailMessage | None:
    event = participation.event
    contact = participation.contact
    if not contact.email:
        return None
    status = participation.status
    if status is ParticipationStatus.REGISTERED:
        subject = f"You are registered: {event.name}"
        opening = "Your place is confirmed."
    elif status is ParticipationStatus.WAITLISTED:
        subject = f"You are on the waitlist: {event.name}"
        opening = (
            "The event is full, so you are on the waitlist. If a place frees up, it is yours "
            "in the order people registered, and we will email you straight away."
        )
    else:
        return None
    calendar = external_url("public_events.calendar", event_id=event.id) if event.is_public else ""
    lines = [
        f"Dear {contact.first_name},",
        "",
        opening,
        "",
        f"{event.name}",
        f"When: {_when(event)}",
        f"Where: {_where(event, with_link=status is ParticipationStatus.REGISTERED)}",
    ]
    if calendar and status is ParticipationStatus.REGISTERED:
        lines += ["", f"Add it to your calendar: {calendar}"]
    lines += ["", "The WEST Principles community"]
    return MailMessage(to=contact.email, subject=subject, text="\n".join(lines))


def promotion_message(participation: Participation) -> MailMessage | None:
    message = message_for(participation)
    if message is not None:
        message.subject = f"A place is yours: {participation.event.name}"
        message.text = message.text.replace(
            "Your place is confirmed.",
            "Good news: a place freed up and it is now yours. We look forward to seeing you.",
        )
    return message


def queue_notice(participation: Participation, *, promoted: bool = False) -> bool:
    """Queue their email (registered, waitlisted, or given a place from the waitlist) in this
    transaction. False when there is nobody to email (no address)."""
    message = promotion_message(participation) if promoted else message_for(participation)
    if message is None:
        return False
    queue_mail(message)
    return True
